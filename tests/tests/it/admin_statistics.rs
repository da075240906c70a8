//! Statistics: posts and active users per month, by room kind, counted from the posts the
//! server stored.

use crate::admin_common::cast;
use renraku_contract::{RoomKind, Statistics};
use renraku_sync::PostId;
use renraku_tests::api::Api;
use renraku_tests::sync_client::{SyncClient, PATIENCE};
use renraku_tests::{team, TestServer};

async fn stats(server: &TestServer, who: &crate::admin_common::Person) -> Statistics {
    Api::new(&server.base_url(), &who.token)
        .admin_statistics("demo", Some(3))
        .await
        .unwrap()
}

fn kind_posts(stats: &Statistics, kind: RoomKind) -> i64 {
    stats
        .by_kind
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.posts)
        .sum()
}

test_both_dbs!(new_posts_are_counted_by_month_and_room_kind);
async fn new_posts_are_counted_by_month_and_room_kind() {
    let server = TestServer::start().await;
    let cast = cast(&server).await;
    let team = team(&server).await;
    let before = stats(&server, &cast.admin).await;
    let patient_before = kind_posts(&before, RoomKind::Patient);

    let mut a = SyncClient::connect(&server.ws_url(), &team.a.token, 5151)
        .await
        .unwrap();
    a.open(team.room).await.unwrap();
    let now = renraku_server::db::now_ms();
    for text in ["朝の訪問で血圧 128/76", "夕方も問題なし"] {
        let id = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
        let update = a.doc(team.room).start_thread(team.a.id, id, text, now);
        a.write(team.room, update).await.unwrap();
    }
    // The projection may trail the commit slightly: wait for it, within the usual patience.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let after = loop {
        let s = stats(&server, &cast.admin).await;
        if kind_posts(&s, RoomKind::Patient) >= patient_before + 2
            || tokio::time::Instant::now() > deadline
        {
            break s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        kind_posts(&after, RoomKind::Patient),
        patient_before + 2,
        "{after:?}"
    );
    let months = &after.months;
    let latest = months.last().unwrap();
    assert!(latest.month.len() == 7, "{latest:?}");
    assert!(latest.active_users >= 1);
    let total: i64 = months.iter().map(|m| m.posts).sum();
    let by_kind: i64 = [RoomKind::Patient, RoomKind::Project, RoomKind::Message]
        .into_iter()
        .map(|k| kind_posts(&after, k))
        .sum();
    assert_eq!(total, by_kind, "the kinds add up to the total");
}
