//! Nothing acknowledged is lost: kill -9 of the server during a stream of updates, restart
//! on the same storage, and every update that was acknowledged with `saved` is there.

use renraku_sync::{Frame, PostId, RoomDoc};
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{signin_at, storage_args, team_at, TestStorage};

const BIN: &str = env!("CARGO_BIN_EXE_renraku-test-server");

#[tokio::test]
async fn every_saved_update_survives_kill_9() {
    let storage = TestStorage::new().await;
    let server = ServerProcess::spawn(BIN, &storage_args(&storage))
        .await
        .unwrap();
    let t = team_at(&server.base_url, &storage).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 7007)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();

    // Stream posts without waiting, collect acknowledgements as they come, and kill the
    // server in the middle of the stream.
    let mut sent = Vec::new();
    for i in 0..400 {
        let id = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
        let u = a
            .doc(t.room)
            .start_thread(t.a.id, id.clone(), &format!("投稿 {i}"), i);
        let ack = a.send_update(t.room, u).await.unwrap();
        sent.push((ack, id));
    }
    let mut saved = Vec::new();
    while saved.len() < 100 {
        if let Frame::Saved { ack, .. } = a
            .wait_event(|f| matches!(f, Frame::Saved { .. }))
            .await
            .unwrap()
        {
            saved.push(ack);
        }
    }
    server.kill_9().await.unwrap();
    // Whatever else was acknowledged before the socket died counts too.
    a.drain(std::time::Duration::from_millis(200)).await;
    saved.extend(a.events.iter().filter_map(|f| match f {
        Frame::Saved { ack, .. } => Some(*ack),
        _ => None,
    }));
    assert!(saved.len() >= 100);

    let server = ServerProcess::spawn(BIN, &storage_args(&storage))
        .await
        .unwrap();
    let token = signin_at(&server.base_url, &t.a.login).await;
    let mut fresh = SyncClient::connect(&server.ws_url(), &token, 8008)
        .await
        .unwrap();
    fresh.open(t.room).await.unwrap();
    let stored: &RoomDoc = fresh.doc(t.room);
    let missing: Vec<u64> = sent
        .iter()
        .filter(|(ack, id)| saved.contains(ack) && stored.post(id).is_none())
        .map(|(ack, _)| *ack)
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    server.kill_9().await.unwrap();
}
