//! 定型文 (templates), issue 15 §4: who sees which (the municipality's shared ones and one's
//! own, never another user's or another municipality's), who may change which (one's own
//! through `/api/templates`, shared ones only by that municipality's administrators, audited),
//! the text bounds, and the demo's 訪問報告. Runs on SQLite and PostgreSQL.

use renraku_contract::{AuditQuery, ErrorCode, NewTemplate, Template, TEMPLATE_BODY_MAX};
use renraku_server::db::users::Role;
use renraku_tests::api::{Api, ApiError};
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::TestServer;
use reqwest::StatusCode;

fn two_towns() -> Fixture {
    Fixture::new()
        .municipality("m")
        .municipality("n")
        .user("m", "nurse", Role::Member)
        .user("m", "doctor", Role::Member)
        .user("m", "madmin", Role::MunicipalityAdmin)
        .user("n", "nadmin", Role::MunicipalityAdmin)
        .user("n", "nnurse", Role::Member)
}

async fn api(server: &TestServer, f: &Built, login: &str) -> Api {
    Api::new(&server.base_url(), &f.signin(server, login).await)
}

fn new(title: &str, body: &str) -> NewTemplate {
    NewTemplate {
        title: title.into(),
        body: body.into(),
        sort_order: 0,
    }
}

fn titles(list: &[Template]) -> Vec<(&str, bool)> {
    list.iter().map(|t| (t.title.as_str(), t.shared)).collect()
}

fn status(e: ApiError) -> StatusCode {
    e.status().unwrap_or_else(|| panic!("no answer: {e}"))
}

test_both_dbs!(a_user_sees_shared_and_own_but_not_others);
async fn a_user_sees_shared_and_own_but_not_others() {
    let (server, f) = two_towns().start().await;
    let madmin = api(&server, &f, "madmin").await;
    let nadmin = api(&server, &f, "nadmin").await;
    let nurse = api(&server, &f, "nurse").await;
    let doctor = api(&server, &f, "doctor").await;
    let nnurse = api(&server, &f, "nnurse").await;

    let mut second = new("服薬確認", "服薬状況：\n残薬：");
    second.sort_order = 20;
    madmin.admin_create_template("m", &second).await.unwrap();
    let mut first = new("訪問報告", "体温：　℃\n血圧：　/　mmHg");
    first.sort_order = 10;
    let visit = madmin.admin_create_template("m", &first).await.unwrap();
    assert!(visit.shared);
    nadmin
        .admin_create_template("n", &new("よその定型文", "本文"))
        .await
        .unwrap();
    let mine = nurse
        .create_template(&new("私のメモ", "申し送り：\n"))
        .await
        .unwrap();
    assert!(!mine.shared);
    assert_eq!(mine.body, "申し送り：", "trimmed like every paragraph");
    doctor
        .create_template(&new("医師のメモ", "処方変更："))
        .await
        .unwrap();

    // Shared ones first, in their order, then my own; nobody else's.
    let seen = nurse.templates().await.unwrap();
    assert_eq!(
        titles(&seen),
        [("訪問報告", true), ("服薬確認", true), ("私のメモ", false)]
    );
    assert_eq!(seen[0].body, "体温：　℃\n血圧：　/　mmHg");
    assert_eq!(
        titles(&doctor.templates().await.unwrap()),
        [
            ("訪問報告", true),
            ("服薬確認", true),
            ("医師のメモ", false)
        ]
    );
    assert_eq!(
        titles(&nnurse.templates().await.unwrap()),
        [("よその定型文", true)]
    );

    // My own: edit and delete. Another user's is not found, as if it did not exist.
    let mut edited = new("私のメモ", "申し送り：\n次回：");
    edited.sort_order = 3;
    let changed = nurse.update_template(mine.id, &edited).await.unwrap();
    assert_eq!(changed.body, "申し送り：\n次回：");
    assert_eq!(
        status(doctor.update_template(mine.id, &edited).await.unwrap_err()),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(doctor.delete_template(mine.id).await.unwrap_err()),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(nnurse.delete_template(visit.id).await.unwrap_err()),
        StatusCode::NOT_FOUND,
        "another municipality's shared template"
    );
    nurse.delete_template(mine.id).await.unwrap();
    assert_eq!(
        titles(&nurse.templates().await.unwrap()),
        [("訪問報告", true), ("服薬確認", true)]
    );
    // Administrators do not reach users' own templates through the admin API.
    let docs = doctor.templates().await.unwrap();
    let doctors = docs.iter().find(|t| !t.shared).unwrap();
    assert_eq!(
        status(madmin.admin_delete_template(doctors.id).await.unwrap_err()),
        StatusCode::NOT_FOUND
    );
}

test_both_dbs!(only_that_municipalitys_administrators_change_shared_templates);
async fn only_that_municipalitys_administrators_change_shared_templates() {
    let (server, f) = two_towns().start().await;
    let madmin = api(&server, &f, "madmin").await;
    let nadmin = api(&server, &f, "nadmin").await;
    let nurse = api(&server, &f, "nurse").await;
    let shared = madmin
        .admin_create_template("m", &new("訪問報告", "体温："))
        .await
        .unwrap();
    let change = new("訪問報告", "改ざん");

    // A member: 403 in the admin API and in their own.
    for refused in [
        nurse.admin_create_template("m", &change).await.map(|_| ()),
        nurse
            .admin_update_template(shared.id, &change)
            .await
            .map(|_| ()),
        nurse.admin_delete_template(shared.id).await,
        nurse.update_template(shared.id, &change).await.map(|_| ()),
        nurse.delete_template(shared.id).await,
        nurse.admin_templates("m").await.map(|_| ()),
    ] {
        let e = refused.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Forbidden), "{e}");
        assert_eq!(status(e), StatusCode::FORBIDDEN);
    }
    // Another municipality's administrator: 403 too.
    assert_eq!(
        status(
            nadmin
                .admin_update_template(shared.id, &change)
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(nadmin.admin_templates("m").await.unwrap_err()),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(nadmin.admin_delete_template(shared.id).await.unwrap_err()),
        StatusCode::FORBIDDEN
    );
    assert_eq!(nurse.templates().await.unwrap()[0].body, "体温：");

    // Its own administrator: edits and deletes, each audited under the municipality.
    let mut better = new("訪問報告", "体温：　℃\n脈拍：　回/分");
    better.sort_order = 1;
    let updated = madmin
        .admin_update_template(shared.id, &better)
        .await
        .unwrap();
    assert_eq!(updated.sort_order, 1);
    assert_eq!(nurse.templates().await.unwrap()[0].body, better.body);
    madmin.admin_delete_template(shared.id).await.unwrap();
    assert!(nurse.templates().await.unwrap().is_empty());
    assert!(madmin.admin_templates("m").await.unwrap().is_empty());
    let query = AuditQuery {
        action: Some("admin.template.".into()),
        ..Default::default()
    };
    let audit = madmin.admin_audit("m", &query).await.unwrap();
    let mut actions: Vec<String> = audit
        .iter()
        .map(|e| format!("{} {}", e.action, e.target))
        .collect();
    actions.sort();
    let id = shared.id;
    assert_eq!(
        actions,
        [
            format!("admin.template.create template/{id}"),
            format!("admin.template.delete template/{id}"),
            format!("admin.template.update template/{id}"),
        ]
    );
}

test_both_dbs!(over_long_or_empty_text_is_refused_with_a_clear_error);
async fn over_long_or_empty_text_is_refused_with_a_clear_error() {
    let (server, f) = two_towns().start().await;
    let nurse = api(&server, &f, "nurse").await;
    let madmin = api(&server, &f, "madmin").await;
    let long = "あ".repeat(TEMPLATE_BODY_MAX + 1);
    for e in [
        nurse
            .create_template(&new("長い", &long))
            .await
            .unwrap_err(),
        madmin
            .admin_create_template("m", &new("長い", &long))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "{e}");
        let ApiError::Status { body: Some(b), .. } = e else {
            panic!("no error body: {e}");
        };
        assert_eq!(b.error, ErrorCode::BadRequest);
        // The server's 「リクエストが正しくありません: 」 and the field's problem.
        assert!(
            b.message.ends_with(&format!(
                ": body is longer than {TEMPLATE_BODY_MAX} characters"
            )),
            "{}",
            b.message
        );
    }
    // Exactly at the bound is fine.
    let at = "あ".repeat(TEMPLATE_BODY_MAX);
    nurse.create_template(&new("ちょうど", &at)).await.unwrap();

    for (bad, field) in [
        (new("", "本文"), "title must not be empty"),
        (new("題", "  \n "), "body must not be empty"),
        (new("改\n行", "本文"), "title contains a control character"),
        (new("題", "本\0文"), "body contains a control character"),
        (new(&"題".repeat(101), "本文"), "title is longer than 100"),
    ] {
        let e = nurse.create_template(&bad).await.unwrap_err();
        let ApiError::Status { body: Some(b), .. } = &e else {
            panic!("no error body: {e}");
        };
        assert!(b.message.contains(field), "{field}: {}", b.message);
    }
    assert_eq!(
        titles(&nurse.templates().await.unwrap()),
        [("ちょうど", false)],
        "nothing refused was kept"
    );
}

test_both_dbs!(the_demo_shares_a_visit_report);
async fn the_demo_shares_a_visit_report() {
    let server = TestServer::start().await;
    let nurse = Api::demo(&server.base_url(), "nurse1").await.unwrap();
    let list = nurse.templates().await.unwrap();
    let visit = list
        .iter()
        .find(|t| t.title == "訪問報告")
        .expect("the demo's 訪問報告");
    assert!(visit.shared);
    for field in [
        "体温：",
        "血圧：",
        "脈拍：",
        "SpO2：",
        "食事：",
        "排泄：",
        "様子：",
    ] {
        assert!(visit.body.contains(field), "{field} in {:?}", visit.body);
    }
    assert!(list.len() >= 3, "{list:?}");
}
