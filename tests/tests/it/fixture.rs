//! The fixture builder (`renraku_tests::fixture`): what it makes, without the demo data.

use renraku_server::db::users::Role;
use renraku_server::Error;
use renraku_tests::fixture::Fixture;

test_both_dbs!(a_fixture_makes_municipalities_users_and_rooms_without_the_demo);
async fn a_fixture_makes_municipalities_users_and_rooms_without_the_demo() {
    let (server, f) = Fixture::new()
        .municipality("a")
        .municipality("b")
        .user("a", "nurse", Role::Member)
        .user("a", "doctor", Role::Member)
        .user("b", "clerk", Role::MunicipalityAdmin)
        .room("a", "care", &["nurse", "doctor"])
        .start()
        .await;
    let db = server.db();
    assert!(db.municipality_by_slug("demo").await.unwrap().is_none());
    let care = f.room("care");
    assert!(db.is_member(care, f.user("nurse")).await.unwrap());
    assert!(db.is_member(care, f.user("doctor")).await.unwrap());
    assert!(!db.is_member(care, f.user("clerk")).await.unwrap());
    // Members are added as the server adds them: the tenancy rule keeps b's people out.
    assert!(matches!(
        db.add_member(care, f.user("clerk"), "member", None).await,
        Err(Error::Forbidden)
    ));
    // Every fixture user signs in at their own municipality.
    for login in ["nurse", "doctor", "clerk"] {
        let token = f.signin(&server, login).await;
        let me = server.get_json(&token, "/api/me").await;
        assert_eq!(me["user"]["login_id"], login, "{me}");
    }
}
