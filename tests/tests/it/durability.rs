//! Nothing acknowledged is lost: kill -9 of the server during a stream of updates, restart
//! on the same storage, and every update that was acknowledged with `saved` is there.

use renraku_sync::RoomDoc;
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{flood_args, signin_at, team_at, TestStorage};

use crate::BIN;

test_both_dbs!(every_saved_update_survives_kill_9);
async fn every_saved_update_survives_kill_9() {
    let storage = TestStorage::new().await;
    let server = ServerProcess::spawn(BIN, &flood_args(&storage))
        .await
        .unwrap();
    let t = team_at(&server.base_url, &storage).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 7007)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();

    // Kill the server in the middle of a stream of posts sent without waiting.
    let streamed = a
        .stream_then_kill_9(server, t.room, t.a.id, 400, 100)
        .await
        .unwrap();
    assert!(streamed.saved.len() >= 100);

    let server = ServerProcess::spawn(BIN, &flood_args(&storage))
        .await
        .unwrap();
    let token = signin_at(&server.base_url, &t.a.login).await;
    let mut fresh = SyncClient::connect(&server.ws_url(), &token, 8008)
        .await
        .unwrap();
    fresh.open(t.room).await.unwrap();
    let stored: &RoomDoc = fresh.doc(t.room);
    let missing: Vec<u64> = streamed
        .acknowledged()
        .filter(|(_, id)| stored.post(id).is_none())
        .map(|(ack, _)| ack)
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    server.kill_9().await.unwrap();
}
