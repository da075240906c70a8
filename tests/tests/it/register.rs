//! 要援護者名簿 (issue 16): who sees which entry in normal times and in 災害モード (a
//! responder sees consenting entries, then all; a non-responder, another municipality's user
//! and an ungranted partner nothing; a member of a person's patient room that person), who
//! may change what (editors yes, plain members 403), the audit rows, and the 安否確認 marks
//! (sent again stored once, concurrent ones both kept, the latest current). Runs on SQLite
//! and PostgreSQL.

use crate::push::{outbox_drained, subscribe, Device, PushService};
use renraku_contract::{
    Household, LabelColour, LegendEntry, NewRegisterPerson, NewSafetyMark, ReasonKind,
    RegisterLink, RegisterPerson, RegisterPersonId, RegisterQuery, RegisterScope, SafetyMark,
    SafetyStatus, Sex,
};
use renraku_server::db::audit::{AuditFilter, AuditRow};
use renraku_server::db::users::Role;
use renraku_sync::{Frame, RoomKind};
use renraku_tests::api::{Api, ApiError};
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::helpers::now_ms;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::TestServer;
use reqwest::StatusCode;
use std::time::Duration;

fn towns() -> Fixture {
    Fixture::new()
        .municipality("m")
        .municipality("n")
        .municipality("x")
        .user("m", "madmin", Role::MunicipalityAdmin)
        .user("m", "editor", Role::Member)
        .user("m", "resp", Role::Member)
        .user("m", "resp2", Role::Member)
        .user("m", "nurse", Role::Member)
        .user("n", "nresp", Role::Member)
        .user("x", "xresp", Role::Member)
}

async fn api(server: &TestServer, f: &Built, login: &str) -> Api {
    Api::new(&server.base_url(), &f.signin(server, login).await)
}

fn status(e: ApiError) -> StatusCode {
    e.status().unwrap_or_else(|| panic!("no answer: {e}"))
}

fn person(name: &str, kana: &str, label: LabelColour, consent: bool) -> NewRegisterPerson {
    NewRegisterPerson {
        external_id: None,
        name: name.into(),
        kana: kana.into(),
        birth_date: Some("1938-04-01".into()),
        sex: Sex::Female,
        address: "川沿町1-2-3".into(),
        area: "川沿町一丁目".into(),
        phone: "0120-000-000".into(),
        household: Household::Alone,
        reasons: vec![renraku_contract::Reason {
            kind: ReasonKind::HomeOxygen,
            detail: "2L/分".into(),
        }],
        emergency_contacts: vec![],
        helpers: vec![],
        consent,
        location: None,
        label,
        room: None,
        notes: String::new(),
    }
}

fn names(list: &[RegisterPerson]) -> Vec<&str> {
    list.iter().map(|p| p.fields.name.as_str()).collect()
}

async fn register_audit(server: &TestServer, action: &str) -> Vec<AuditRow> {
    server
        .db()
        .audit_rows(&AuditFilter {
            action: Some(action.into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// m with an editor and two responders designated, and three people: 青木 (consent, red),
/// 井上 (no consent, yellow), 上田 (consent, blue, linked to a patient room `nurse` is in).
struct Town {
    server: TestServer,
    f: Built,
    madmin: Api,
    editor: Api,
    resp: Api,
    resp2: Api,
    nurse: Api,
    nresp: Api,
    xresp: Api,
    aoki: RegisterPersonId,
    inoue: RegisterPersonId,
    ueda: RegisterPersonId,
}

async fn town() -> Town {
    town_with(false).await
}

/// [`town`] on a server that may push over plain HTTP (to the tests' push service) or not.
async fn town_with(push_allow_http: bool) -> Town {
    let server = TestServer::start_with(|c| {
        c.demo = false;
        c.push_allow_http = push_allow_http;
    })
    .await;
    let f = towns().build(server.db()).await;
    let madmin = api(&server, &f, "madmin").await;
    let editor = api(&server, &f, "editor").await;
    madmin
        .register_set_staff("m", f.user("editor"), true, false)
        .await
        .unwrap();
    for r in ["resp", "resp2"] {
        editor
            .register_set_staff("m", f.user(r), false, true)
            .await
            .unwrap();
    }
    // n's and x's responders are designated by their own municipalities (here directly in
    // storage).
    for (login, home) in [("nresp", "n"), ("xresp", "x")] {
        let u = f.user(login);
        server
            .db()
            .set_register_roles(
                u,
                false,
                true,
                &renraku_server::db::audit::AuditEntry::new(
                    renraku_server::domain::audit::AuditAction::RegisterStaff,
                    format!("user/{u}"),
                )
                .in_municipality(f.municipality(home)),
            )
            .await
            .unwrap();
    }
    let room = server
        .db()
        .create_room(f.municipality("m"), RoomKind::Patient, "上田さん", None)
        .await
        .unwrap();
    server
        .db()
        .add_member(room, f.user("nurse"), "member", None)
        .await
        .unwrap();
    let aoki = editor
        .register_create(
            "m",
            &person("青木 花子", "あおき はなこ", LabelColour::Red, true),
        )
        .await
        .unwrap()
        .id;
    let inoue = editor
        .register_create(
            "m",
            &person("井上 太郎", "いのうえ たろう", LabelColour::Yellow, false),
        )
        .await
        .unwrap()
        .id;
    let mut u = person("上田 次郎", "うえだ じろう", LabelColour::Blue, true);
    u.room = Some(room);
    let ueda = editor.register_create("m", &u).await.unwrap().id;
    Town {
        resp: api(&server, &f, "resp").await,
        resp2: api(&server, &f, "resp2").await,
        nurse: api(&server, &f, "nurse").await,
        nresp: api(&server, &f, "nresp").await,
        xresp: api(&server, &f, "xresp").await,
        server,
        f,
        madmin,
        editor,
        aoki,
        inoue,
        ueda,
    }
}

async fn list(api: &Api) -> Result<Vec<String>, StatusCode> {
    api.register_people("m", &RegisterQuery::default())
        .await
        .map(|l| names(&l).into_iter().map(str::to_owned).collect())
        .map_err(status)
}

test_both_dbs!(who_sees_what_in_normal_times_and_in_a_disaster);
async fn who_sees_what_in_normal_times_and_in_a_disaster() {
    let t = town().await;
    let all = ["青木 花子", "井上 太郎", "上田 次郎"];
    // Normal times: responders see the consenting entries (red before blue); the nurse the
    // person of her patient room; the editor all; other municipalities nothing.
    assert_eq!(list(&t.resp).await.unwrap(), ["青木 花子", "上田 次郎"]);
    assert_eq!(list(&t.nurse).await.unwrap(), ["上田 次郎"]);
    assert_eq!(
        list(&t.editor).await.unwrap(),
        ["青木 花子", "井上 太郎", "上田 次郎"]
    );
    assert_eq!(list(&t.nresp).await, Err(StatusCode::NOT_FOUND));
    assert_eq!(list(&t.xresp).await, Err(StatusCode::NOT_FOUND));
    assert_eq!(
        status(t.resp.register_person("m", t.inoue).await.unwrap_err()),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(t.nurse.register_person("m", t.aoki).await.unwrap_err()),
        StatusCode::NOT_FOUND
    );
    t.nurse.register_person("m", t.ueda).await.unwrap();
    let seen = t.resp.register("m").await.unwrap();
    assert_eq!(seen.scope, RegisterScope::Consented);
    assert!(seen.responder && !seen.editor && seen.disaster.is_none());
    assert_eq!(
        t.nurse.register("m").await.unwrap().scope,
        RegisterScope::Nothing
    );

    // 災害モード: every entry to m's responders; a partner only once granted, and only with
    // an agreement.
    let d = t
        .madmin
        .register_declare("m", "大雨による浸水")
        .await
        .unwrap();
    assert_eq!(d.reason, "大雨による浸水");
    assert_eq!(
        status(t.madmin.register_declare("m", "二度目").await.unwrap_err()),
        StatusCode::CONFLICT
    );
    let mut listed = list(&t.resp).await.unwrap();
    listed.sort();
    let mut expected = all.map(str::to_owned).to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(list(&t.nurse).await.unwrap(), ["上田 次郎"]);
    assert_eq!(list(&t.nresp).await, Err(StatusCode::NOT_FOUND));
    assert_eq!(
        status(t.madmin.register_grant("m", "n").await.unwrap_err()),
        StatusCode::FORBIDDEN,
        "no wide-area agreement with n yet"
    );
    let db = t.server.db();
    let agreement = db.create_agreement("流域連携").await.unwrap();
    db.join_agreement(agreement, t.f.municipality("m"))
        .await
        .unwrap();
    db.join_agreement(agreement, t.f.municipality("n"))
        .await
        .unwrap();
    let offered = t.madmin.register_partners("m").await.unwrap();
    assert_eq!(
        offered
            .iter()
            .map(|p| (p.slug.as_str(), p.granted))
            .collect::<Vec<_>>(),
        [("n", false)],
        "the partners an administrator may grant: those sharing an agreement"
    );
    assert_eq!(
        status(t.resp.register_partners("m").await.unwrap_err()),
        StatusCode::FORBIDDEN
    );
    let d = t.madmin.register_grant("m", "n").await.unwrap();
    assert_eq!(d.partners, [t.f.municipality("n")]);
    assert!(t.madmin.register_partners("m").await.unwrap()[0].granted);
    assert_eq!(list(&t.nresp).await.unwrap().len(), 3);
    t.nresp.register_person("m", t.inoue).await.unwrap();
    assert_eq!(
        status(t.madmin.register_grant("m", "x").await.unwrap_err()),
        StatusCode::FORBIDDEN
    );
    assert_eq!(list(&t.xresp).await, Err(StatusCode::NOT_FOUND));
    // Only an administrator declares, ends and grants.
    assert_eq!(
        status(t.editor.register_end("m").await.unwrap_err()),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(t.resp.register_grant("m", "n").await.unwrap_err()),
        StatusCode::FORBIDDEN
    );

    // The end: back to consent only, and the partner's grant ends with it.
    t.madmin.register_end("m").await.unwrap();
    assert_eq!(list(&t.resp).await.unwrap(), ["青木 花子", "上田 次郎"]);
    assert_eq!(list(&t.nresp).await, Err(StatusCode::NOT_FOUND));
    t.madmin.register_declare("m", "再び").await.unwrap();
    assert_eq!(
        list(&t.nresp).await,
        Err(StatusCode::NOT_FOUND),
        "a grant is for one disaster"
    );

    // Audited: every list with its count, every view by id (never the name), the
    // declarations, ends and grants.
    let m = t.f.municipality("m").get();
    let lists = register_audit(&t.server, "register.list").await;
    assert!(lists.iter().all(|r| r.municipality_id == Some(m)));
    let resp = t.f.user("resp").get();
    let counts: Vec<&str> = lists
        .iter()
        .filter(|r| r.user_id == Some(resp))
        .map(|r| r.detail.as_str())
        .collect();
    assert_eq!(counts, ["count=2", "count=3", "count=2"]);
    let views = register_audit(&t.server, "register.person.view").await;
    assert!(views
        .iter()
        .any(|r| r.target == format!("register_person/{}", t.inoue)
            && r.user_id == Some(t.f.user("nresp").get())));
    for row in views.iter().chain(&lists) {
        assert!(!row.detail.contains("井上") && !row.target.contains("井上"));
    }
    assert_eq!(
        register_audit(&t.server, "register.disaster.declare")
            .await
            .len(),
        2
    );
    assert_eq!(
        register_audit(&t.server, "register.disaster.end")
            .await
            .len(),
        1
    );
    assert_eq!(
        register_audit(&t.server, "register.disaster.grant")
            .await
            .len(),
        1
    );
}

test_both_dbs!(editors_change_the_register_and_members_do_not);
async fn editors_change_the_register_and_members_do_not() {
    let t = town().await;
    let mut change = person("青木 花子", "あおき はなこ", LabelColour::Red, true);
    // A plain member (who sees 上田 through the room) and a responder: 403; one who does not
    // see the entry: 404.
    let refused = [
        t.nurse.register_create("m", &change).await.map(|_| ()),
        t.resp.register_create("m", &change).await.map(|_| ()),
        t.nurse
            .register_update("m", t.ueda, &change)
            .await
            .map(|_| ()),
        t.resp
            .register_update("m", t.aoki, &change)
            .await
            .map(|_| ()),
        t.resp.register_retire("m", t.aoki, true).await.map(|_| ()),
        t.resp.register_staff("m").await.map(|_| ()),
        t.nurse
            .register_set_staff("m", t.f.user("nurse"), false, true)
            .await
            .map(|_| ()),
        t.resp
            .register_set_legend(
                "m",
                &[LegendEntry {
                    label: LabelColour::Red,
                    meaning: "x".into(),
                }],
            )
            .await
            .map(|_| ()),
        t.resp.register_declare("m", "x").await.map(|_| ()),
    ];
    for (i, r) in refused.into_iter().enumerate() {
        let e = r.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::FORBIDDEN), "call {i}: {e}");
    }
    assert_eq!(
        status(
            t.nurse
                .register_update("m", t.aoki, &change)
                .await
                .unwrap_err()
        ),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(t.xresp.register_create("m", &change).await.unwrap_err()),
        StatusCode::NOT_FOUND
    );
    // An editor designates responders, not editors.
    assert_eq!(
        status(
            t.editor
                .register_set_staff("m", t.f.user("nurse"), true, false)
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    // Another municipality's user is not staff here.
    assert_eq!(
        status(
            t.madmin
                .register_set_staff("m", t.f.user("nresp"), false, true)
                .await
                .unwrap_err()
        ),
        StatusCode::NOT_FOUND
    );
    let staff = t.editor.register_staff("m").await.unwrap();
    let flags: Vec<(&str, bool, bool)> = staff
        .iter()
        .map(|s| (s.display_name.as_str(), s.editor, s.responder))
        .collect();
    assert!(flags.contains(&("editor", true, false)));
    assert!(flags.contains(&("resp", false, true)));
    assert!(flags.contains(&("nurse", false, false)));

    // The editor edits: every problem at once, then a good change, audited by field name.
    let mut bad = change.clone();
    bad.name = " ".into();
    bad.birth_date = Some("1941-02-29".into());
    bad.location = Some(renraku_contract::Location {
        latitude: 95.0,
        longitude: 135.0,
    });
    let e = t
        .editor
        .register_update("m", t.aoki, &bad)
        .await
        .unwrap_err();
    assert_eq!(status(e), StatusCode::BAD_REQUEST);
    change.consent = false;
    change.phone = "090-1111-2222".into();
    change.location = Some(renraku_contract::Location {
        latitude: 35.681_236_7,
        longitude: 139.767_125_1,
    });
    let updated = t
        .editor
        .register_update("m", t.aoki, &change)
        .await
        .unwrap();
    assert_eq!(updated.fields.location, change.location);
    assert_eq!(
        list(&t.resp).await.unwrap(),
        ["上田 次郎"],
        "consent withdrawn"
    );
    let updates = register_audit(&t.server, "register.person.update").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].detail, "phone,consent,location");
    assert_eq!(updates[0].target, format!("register_person/{}", t.aoki));

    // The municipality's own person id is unique in it.
    let mut first = person("江藤", "えとう", LabelColour::Blue, true);
    first.external_id = Some("A-001".into());
    t.editor.register_create("m", &first).await.unwrap();
    assert_eq!(
        status(t.editor.register_create("m", &first).await.unwrap_err()),
        StatusCode::CONFLICT
    );

    // Retired, not deleted: only managers see it, among the retired.
    t.editor.register_retire("m", t.ueda, true).await.unwrap();
    assert!(!list(&t.nurse)
        .await
        .unwrap()
        .contains(&"上田 次郎".to_owned()));
    let retired = t
        .editor
        .register_people(
            "m",
            &RegisterQuery {
                retired: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&retired), ["上田 次郎"]);
    assert_eq!(
        status(
            t.resp
                .register_people(
                    "m",
                    &RegisterQuery {
                        retired: Some(true),
                        ..Default::default()
                    }
                )
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    t.madmin.register_retire("m", t.ueda, false).await.unwrap();

    // The legend: defaults, then the municipality's own meaning.
    let legend = t.resp.register("m").await.unwrap().legend;
    assert_eq!(legend.len(), 3);
    t.editor
        .register_set_legend(
            "m",
            &[LegendEntry {
                label: LabelColour::Red,
                meaning: "医療依存度が高い".into(),
            }],
        )
        .await
        .unwrap();
    let legend = t.resp.register("m").await.unwrap().legend;
    assert_eq!(legend[0].meaning, "医療依存度が高い");
    assert_eq!(legend[1].label, LabelColour::Yellow);

    // Filters: colour, reason, area, name or kana.
    let q = |q: RegisterQuery| count(&t.editor, q);
    assert_eq!(
        q(RegisterQuery {
            label: Some(LabelColour::Yellow),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        q(RegisterQuery {
            q: Some("イノウエ".into()),
            ..Default::default()
        })
        .await,
        0,
        "kana is matched as written"
    );
    assert_eq!(
        q(RegisterQuery {
            q: Some("いのうえ".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        q(RegisterQuery {
            reason: Some(ReasonKind::Dialysis),
            ..Default::default()
        })
        .await,
        0
    );

    for (action, n) in [
        ("register.person.create", 4),
        ("register.person.retire", 1),
        ("register.person.restore", 1),
        ("register.legend.update", 1),
        ("register.staff", 5),
    ] {
        assert_eq!(register_audit(&t.server, action).await.len(), n, "{action}");
    }
}

async fn count(api: &Api, q: RegisterQuery) -> usize {
    api.register_people("m", &q).await.unwrap().len()
}

fn mark(id: &str, status: SafetyStatus, at: i64) -> NewSafetyMark {
    NewSafetyMark {
        id: id.into(),
        status,
        note: "訪問して確認".into(),
        marked_at: at,
    }
}

test_both_dbs!(safety_marks_are_stored_once_and_the_latest_is_current);
async fn safety_marks_are_stored_once_and_the_latest_is_current() {
    let t = town().await;
    let now = now_ms();
    // Not outside a disaster.
    assert_eq!(
        status(
            t.resp
                .register_mark("m", t.aoki, &mark("a-0", SafetyStatus::Safe, now))
                .await
                .unwrap_err()
        ),
        StatusCode::CONFLICT
    );
    t.madmin.register_declare("m", "地震").await.unwrap();

    // Made offline, sent twice: stored once.
    let first = mark("a-1", SafetyStatus::NeedsSupport, now - 60_000);
    let (s1, m1) = t.resp.register_mark("m", t.inoue, &first).await.unwrap();
    let (s2, m2) = t.resp.register_mark("m", t.inoue, &first).await.unwrap();
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(m1, m2);
    // The same id for another mark is refused.
    assert_eq!(
        status(
            t.resp
                .register_mark("m", t.inoue, &mark("a-1", SafetyStatus::Safe, now))
                .await
                .unwrap_err()
        ),
        StatusCode::CONFLICT
    );

    // Two responders at once: both stay; the later made is current, whatever arrived last.
    let early = mark("b-early", SafetyStatus::Safe, now - 120_000);
    let late = mark("c-late", SafetyStatus::Evacuated, now - 30_000);
    let (a, b) = tokio::join!(
        t.resp2.register_mark("m", t.inoue, &late),
        t.resp.register_mark("m", t.inoue, &early)
    );
    assert_eq!(a.unwrap().0, StatusCode::CREATED);
    assert_eq!(b.unwrap().0, StatusCode::CREATED);
    let detail = t.resp.register_person("m", t.inoue).await.unwrap();
    let ids: Vec<&str> = detail.marks.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["c-late", "a-1", "b-early"]);
    let current = detail.person.safety.unwrap();
    assert_eq!(current.status, SafetyStatus::Evacuated);
    assert_eq!(current.mark.unwrap().by, t.f.user("resp2"));
    // The same time: the id decides.
    t.resp
        .register_mark(
            "m",
            t.inoue,
            &mark("d-same", SafetyStatus::NeedsSupport, now - 30_000),
        )
        .await
        .unwrap();
    let detail = t.resp.register_person("m", t.inoue).await.unwrap();
    assert_eq!(
        detail.person.safety.unwrap().status,
        SafetyStatus::NeedsSupport
    );

    // Who may mark: not the nurse of the room (not a responder), not the editor, not
    // another municipality; a time far in the future is refused.
    assert_eq!(
        status(
            t.nurse
                .register_mark("m", t.ueda, &mark("n-1", SafetyStatus::Safe, now))
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            t.editor
                .register_mark("m", t.ueda, &mark("e-1", SafetyStatus::Safe, now))
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            t.xresp
                .register_mark("m", t.ueda, &mark("x-1", SafetyStatus::Safe, now))
                .await
                .unwrap_err()
        ),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(
            t.resp
                .register_mark(
                    "m",
                    t.ueda,
                    &mark("f-1", SafetyStatus::Safe, now + 3_600_000)
                )
                .await
                .unwrap_err()
        ),
        StatusCode::BAD_REQUEST
    );
    t.resp
        .register_mark("m", t.aoki, &mark("g-1", SafetyStatus::Safe, now))
        .await
        .unwrap();

    // The list puts who needs someone first, and filters by status; the summary counts.
    let listed = t
        .resp
        .register_people("m", &RegisterQuery::default())
        .await
        .unwrap();
    assert_eq!(names(&listed), ["井上 太郎", "上田 次郎", "青木 花子"]);
    let needing = t
        .resp
        .register_people(
            "m",
            &RegisterQuery {
                status: Some(SafetyStatus::Unconfirmed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&needing), ["上田 次郎"]);
    let summary = t.resp.register_summary("m").await.unwrap();
    assert_eq!(summary.total, 3);
    assert_eq!(summary.cells.len(), 12);
    let count = |s, l| {
        summary
            .cells
            .iter()
            .find(|c| c.status == s && c.label == l)
            .unwrap()
            .count
    };
    assert_eq!(count(SafetyStatus::NeedsSupport, LabelColour::Yellow), 1);
    assert_eq!(count(SafetyStatus::Unconfirmed, LabelColour::Blue), 1);
    assert_eq!(count(SafetyStatus::Safe, LabelColour::Red), 1);
    assert_eq!(count(SafetyStatus::Safe, LabelColour::Yellow), 0);

    // A mark stored during the disaster, sent again after it ended, is still answered.
    t.madmin.register_end("m").await.unwrap();
    assert_eq!(
        t.resp.register_mark("m", t.inoue, &first).await.unwrap().0,
        StatusCode::OK
    );
    assert_eq!(
        register_audit(&t.server, "register.safety.mark")
            .await
            .len(),
        5
    );
}

test_both_dbs!(declaring_and_ending_a_disaster_is_pushed_to_the_responders);
async fn declaring_and_ending_a_disaster_is_pushed_to_the_responders() {
    let t = town_with(true).await;
    let service = PushService::start().await;
    let base = t.server.base_url();
    let resp_phone = Device::new(&service, "resp");
    let nurse_phone = Device::new(&service, "nurse");
    subscribe(&base, t.resp.token().unwrap(), &resp_phone).await;
    subscribe(&base, t.nurse.token().unwrap(), &nurse_phone).await;

    t.madmin.register_declare("m", "洪水").await.unwrap();
    service
        .wait_until("the declaration", |r| r.iter().any(|x| x.device == "resp"))
        .await;
    t.madmin.register_end("m").await.unwrap();
    service
        .wait_until("the end", |r| {
            r.iter().filter(|x| x.device == "resp").count() == 2
        })
        .await;
    outbox_drained(t.server.db()).await;
    let got = service.delivered_to("resp");
    let first = resp_phone.decrypt(&got[0].body);
    assert_eq!(first["title"], "【災害モード】m");
    assert_eq!(first["url"], "/m/register");
    assert!(first["body"]
        .as_str()
        .unwrap()
        .contains("災害モードになりました"));
    let second = resp_phone.decrypt(&got[1].body);
    assert!(second["body"].as_str().unwrap().contains("終了"));
    // Not a responder: nothing.
    assert!(service.delivered_to("nurse").is_empty());
}

const HEADER: &str = "宛名番号,氏名,ふりがな,生年月日,性別,住所,町丁目,電話,世帯,理由,緊急連絡先,支援者,同意,緯度,経度,ラベル,備考,除外";

test_both_dbs!(a_csv_import_is_checked_first_and_committed_all_or_nothing);
async fn a_csv_import_is_checked_first_and_committed_all_or_nothing() {
    let t = town().await;
    // Every problem, by row and column; nothing imported.
    let bad = format!(
        "{HEADER}\n\
         A-1,山田 一郎,やまだ いちろう,1940-01-01,男,本町1-1,本町一丁目,,独居,在宅酸素:2L/分;透析,長男/長男/090-0000-0000,,あり,35.1,139.1,赤,,\n\
         A-2,,やまだ じろう,1941-02-30,男,,,,独居,空を飛ぶ,,,たぶん,,,紫,,\n\
         A-1,山田 三郎,やまだ さぶろう,,,,,,,,,,なし,,,青,,\n"
    );
    let (code, report) = t
        .editor
        .register_import("m", bad.as_bytes(), false)
        .await
        .unwrap();
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let found: Vec<(usize, &str)> = report
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (3, "同意"),
            (3, "ラベル"),
            (3, "理由"),
            (3, "氏名"),
            (3, "生年月日"),
            (4, "宛名番号"),
        ],
        "{:?}",
        report.problems
    );
    assert_eq!(
        list(&t.editor).await.unwrap().len(),
        3,
        "nothing was imported"
    );
    // A missing column is a problem of the header.
    let (code, report) = t
        .editor
        .register_import("m", "宛名番号,氏名\nA-1,山田\n".as_bytes(), false)
        .await
        .unwrap();
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(report.problems.iter().all(|p| p.row == 1));
    assert_eq!(report.problems.len(), 3, "ふりがな, 同意, ラベル");

    // Shift_JIS, as Excel saves it: imported; then a re-import reports what changed.
    let good = format!(
        "{HEADER}\r\n\
         A-1,山田 一郎,やまだ いちろう,1940/01/01,男,本町1-1,本町一丁目,,独居,在宅酸素:2L/分;透析,長男/長男/090-0000-0000,,あり,35.1,139.1,赤,,\r\n\
         A-2,山田 次郎,やまだ じろう,,男,,本町二丁目,,家族同居,認知症,,民生委員 佐藤/民生委員/,なし,,,黄,夜間は施錠,\r\n"
    );
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&good);
    assert!(!unmappable);
    let (code, report) = t.editor.register_import("m", &sjis, false).await.unwrap();
    assert_eq!(code, StatusCode::OK, "{:?}", report.problems);
    assert_eq!(report.created.len(), 2);
    let everyone = list(&t.editor).await.unwrap();
    assert!(everyone.contains(&"山田 次郎".to_owned()));
    let people = t
        .editor
        .register_people(
            "m",
            &RegisterQuery {
                q: Some("やまだ いちろう".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ichiro = &people[0].fields;
    assert_eq!(ichiro.birth_date.as_deref(), Some("1940-01-01"));
    assert_eq!(ichiro.reasons.len(), 2);
    assert_eq!(ichiro.reasons[0].kind, ReasonKind::HomeOxygen);
    assert_eq!(ichiro.emergency_contacts[0].phone, "090-0000-0000");

    // Moved, consent withdrawn, retired: a re-import in UTF-8 updates by 宛名番号.
    let again = format!(
        "\u{feff}{HEADER}\n\
         A-1,山田 一郎,やまだ いちろう,1940-01-01,男,新町5-5,新町一丁目,,独居,在宅酸素:2L/分;透析,長男/長男/090-0000-0000,,なし,35.1,139.1,赤,,\n\
         A-2,山田 次郎,やまだ じろう,,男,,本町二丁目,,家族同居,認知症,,民生委員 佐藤/民生委員/,なし,,,黄,夜間は施錠,除外\n"
    );
    let (code, dry) = t
        .editor
        .register_import("m", again.as_bytes(), true)
        .await
        .unwrap();
    assert_eq!(code, StatusCode::OK);
    assert!(dry.dry_run);
    assert_eq!(dry.updated.len(), 2);
    assert!(
        list(&t.editor)
            .await
            .unwrap()
            .contains(&"山田 次郎".to_owned()),
        "a dry run writes nothing"
    );
    let (_, report) = t
        .editor
        .register_import("m", again.as_bytes(), false)
        .await
        .unwrap();
    assert!(report.created.is_empty());
    let changes: Vec<(&str, Vec<&str>)> = report
        .updated
        .iter()
        .map(|u| {
            (
                u.external_id.as_str(),
                u.changed.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("A-1", vec!["address", "area", "consent"]),
            ("A-2", vec!["retired"])
        ]
    );
    assert!(!list(&t.editor)
        .await
        .unwrap()
        .contains(&"山田 次郎".to_owned()));
    // The same file again changes nothing.
    let (_, report) = t
        .editor
        .register_import("m", again.as_bytes(), false)
        .await
        .unwrap();
    assert_eq!((report.updated.len(), report.unchanged), (0, 2));

    // Not for responders or members.
    assert_eq!(
        status(
            t.resp
                .register_import("m", good.as_bytes(), false)
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(register_audit(&t.server, "register.import").await.len(), 6);

    // The export: what the reader sees, as filtered, and it reads back in.
    let csv = t
        .resp
        .register_export(
            "m",
            &RegisterQuery {
                label: Some(LabelColour::Red),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(csv.clone()).unwrap();
    assert!(text.contains("青木 花子"));
    assert!(!text.contains("井上"), "not consented, not red");
    assert!(!text.contains("山田 一郎"), "consent withdrawn");
    let exports = register_audit(&t.server, "register.export").await;
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].detail, "count=1 label=red");
    // What the export writes, the import reads back unchanged.
    let yamada = t
        .editor
        .register_export(
            "m",
            &RegisterQuery {
                q: Some("やまだ".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (code, report) = t.editor.register_import("m", &yamada, true).await.unwrap();
    assert_eq!(code, StatusCode::OK, "{:?}", report.problems);
    assert_eq!(
        (report.created.len(), report.updated.len(), report.unchanged),
        (0, 0, 1)
    );
}

/// A `/ws` client of `api`'s user, registered on the server (a frame answered) before it
/// is returned, so news sent after this reaches it.
async fn live(t: &Town, api: &Api, client_id: u64) -> SyncClient {
    let mut c = SyncClient::connect(&t.server.ws_url(), api.token().unwrap(), client_id)
        .await
        .unwrap();
    c.send_frame(&Frame::Saved {
        doc: renraku_sync::DocId::Personal(renraku_sync::UserId::new(0)),
        ack: 0,
    })
    .await
    .unwrap();
    c.wait_event(|f| matches!(f, Frame::Malformed { .. }))
        .await
        .unwrap();
    c
}

fn register_news(f: &Frame) -> bool {
    matches!(
        f,
        Frame::RegisterMarked { .. } | Frame::RegisterChanged { .. }
    )
}

test_both_dbs!(marks_and_changes_reach_those_who_see_them_live);
async fn marks_and_changes_reach_those_who_see_them_live() {
    let t = town().await;
    let m = t.f.municipality("m");
    let mut resp2 = live(&t, &t.resp2, 11).await;
    let mut nurse = live(&t, &t.nurse, 12).await;
    let mut xresp = live(&t, &t.xresp, 13).await;
    let changed =
        move |f: &Frame| matches!(f, Frame::RegisterChanged { municipality } if *municipality == m);
    let marked = |f: &Frame| matches!(f, Frame::RegisterMarked { .. });

    // 災害モード declared: the register screens reload.
    t.madmin.register_declare("m", "地震").await.unwrap();
    resp2.wait_event(changed).await.unwrap();
    // The nurse sees 上田 (consent, her patient room): she is told too.
    nurse.wait_event(changed).await.unwrap();

    // A mark by one responder reaches the other with the mark itself.
    let now = now_ms();
    let (_, stored) = t
        .resp
        .register_mark(
            "m",
            t.inoue,
            &mark("live-1", SafetyStatus::NeedsSupport, now),
        )
        .await
        .unwrap();
    let Frame::RegisterMarked {
        municipality,
        mark: json,
    } = resp2.wait_event(marked).await.unwrap()
    else {
        unreachable!()
    };
    assert_eq!(municipality, m);
    assert_eq!(serde_json::from_str::<SafetyMark>(&json).unwrap(), stored);
    // Sent again (a device back online): stored once, told once.
    let (again, _) = t
        .resp
        .register_mark(
            "m",
            t.inoue,
            &mark("live-1", SafetyStatus::NeedsSupport, now),
        )
        .await
        .unwrap();
    assert_eq!(again, StatusCode::OK);
    // 上田's mark reaches the nurse of his room; 井上's did not (no consent, not hers).
    let (_, ueda) = t
        .resp
        .register_mark("m", t.ueda, &mark("live-2", SafetyStatus::Safe, now))
        .await
        .unwrap();
    let Frame::RegisterMarked { mark: json, .. } = nurse.wait_event(marked).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(serde_json::from_str::<SafetyMark>(&json).unwrap(), ueda);
    resp2.wait_event(marked).await.unwrap();

    resp2.drain(Duration::from_millis(300)).await;
    nurse.drain(Duration::from_millis(300)).await;
    xresp.drain(Duration::from_millis(300)).await;
    assert!(
        !resp2.events.iter().any(marked),
        "the resent mark was told again: {:?}",
        resp2.events
    );
    assert!(
        !nurse.events.iter().any(marked),
        "the nurse heard of 井上: {:?}",
        nurse.events
    );
    // Another municipality's responder hears nothing of m's register.
    assert!(
        !xresp.events.iter().any(register_news),
        "{:?}",
        xresp.events
    );

    // An edit and the end of the disaster are told too; the outsider still hears nothing.
    let mut p = person("井上 太郎", "いのうえ たろう", LabelColour::Red, false);
    p.phone = "0120-111-111".into();
    t.editor.register_update("m", t.inoue, &p).await.unwrap();
    resp2.wait_event(changed).await.unwrap();
    t.madmin.register_end("m").await.unwrap();
    resp2.wait_event(changed).await.unwrap();
    xresp.drain(Duration::from_millis(300)).await;
    assert!(!xresp.events.iter().any(register_news));
}

test_both_dbs!(a_mark_made_offline_during_a_disaster_counts_after_it_ended);
async fn a_mark_made_offline_during_a_disaster_counts_after_it_ended() {
    let t = town().await;
    let d = t.madmin.register_declare("m", "台風").await.unwrap();
    t.madmin.register_end("m").await.unwrap();
    // Made while it was in force (its first moment), synced after it ended: stored under
    // that disaster, for 井上 too, whom the responder sees only in a disaster.
    let late = mark("late-1", SafetyStatus::Evacuated, d.started_at);
    let (code, stored) = t.resp.register_mark("m", t.inoue, &late).await.unwrap();
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(stored.marked_at, d.started_at);
    let audit = register_audit(&t.server, "register.safety.mark").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail, format!("evacuated late disaster={}", d.id));
    // Made before any disaster: refused; by someone who was no responder: refused.
    assert_eq!(
        status(
            t.resp
                .register_mark(
                    "m",
                    t.aoki,
                    &mark("late-2", SafetyStatus::Safe, d.started_at - 1)
                )
                .await
                .unwrap_err()
        ),
        StatusCode::CONFLICT
    );
    assert_eq!(
        status(
            t.xresp
                .register_mark(
                    "m",
                    t.inoue,
                    &mark("late-3", SafetyStatus::Safe, d.started_at)
                )
                .await
                .unwrap_err()
        ),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(
            t.nurse
                .register_mark(
                    "m",
                    t.ueda,
                    &mark("late-4", SafetyStatus::Safe, d.started_at)
                )
                .await
                .unwrap_err()
        ),
        StatusCode::FORBIDDEN
    );
    // The next disaster starts everyone at 未確認: the late mark stays with its own.
    t.madmin.register_declare("m", "再び").await.unwrap();
    let detail = t.resp.register_person("m", t.inoue).await.unwrap();
    assert!(detail.marks.is_empty());
    assert_eq!(
        detail.person.safety.unwrap().status,
        SafetyStatus::Unconfirmed
    );
}

test_both_dbs!(registers_lists_what_i_see_now);
async fn registers_lists_what_i_see_now() {
    let t = town().await;
    let m = t.f.municipality("m");
    let link = |scope, disaster| RegisterLink {
        municipality: m,
        slug: "m".into(),
        name: "m".into(),
        scope,
        disaster,
    };
    assert_eq!(
        t.resp.registers().await.unwrap(),
        [link(RegisterScope::Consented, false)]
    );
    assert_eq!(
        t.editor.registers().await.unwrap(),
        [link(RegisterScope::Manage, false)]
    );
    // The nurse sees one person through her room, not the register: no entry point.
    assert!(t.nurse.registers().await.unwrap().is_empty());
    // n's responder sees n's own register, not m's.
    let slugs =
        |links: Vec<RegisterLink>| -> Vec<String> { links.into_iter().map(|l| l.slug).collect() };
    assert_eq!(slugs(t.nresp.registers().await.unwrap()), ["n"]);

    // 災害モード, and n granted access: n's responder sees m's register too.
    let db = t.server.db();
    let agreement = db.create_agreement("流域連携").await.unwrap();
    db.join_agreement(agreement, m).await.unwrap();
    db.join_agreement(agreement, t.f.municipality("n"))
        .await
        .unwrap();
    t.madmin.register_declare("m", "大雨").await.unwrap();
    t.madmin.register_grant("m", "n").await.unwrap();
    assert_eq!(
        t.resp.registers().await.unwrap(),
        [link(RegisterScope::Everyone, true)]
    );
    let nresp = t.nresp.registers().await.unwrap();
    assert_eq!(nresp.len(), 2);
    assert_eq!(nresp[0].slug, "n");
    assert_eq!(nresp[1], link(RegisterScope::Everyone, true));
    assert_eq!(slugs(t.xresp.registers().await.unwrap()), ["x"]);
    t.madmin.register_end("m").await.unwrap();
    assert_eq!(slugs(t.nresp.registers().await.unwrap()), ["n"]);
}

test_both_dbs!(the_demo_has_a_register_on_its_map);
async fn the_demo_has_a_register_on_its_map() {
    use renraku_server::tiles::demo::BOUNDS;
    let server = TestServer::start().await;
    let base = server.base_url();
    let city2 = Api::demo(&base, "city2").await.unwrap();
    let all = city2
        .register_people("demo", &RegisterQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 30);
    for p in &all {
        let l = p.fields.location.expect("every demo person is on the map");
        assert!(
            (BOUNDS[0]..=BOUNDS[2]).contains(&l.longitude)
                && (BOUNDS[1]..=BOUNDS[3]).contains(&l.latitude),
            "{} at {l:?}",
            p.fields.name
        );
        assert!(!p.fields.reasons.is_empty() && !p.fields.emergency_contacts.is_empty());
    }
    for label in [LabelColour::Red, LabelColour::Yellow, LabelColour::Blue] {
        assert!(all.iter().filter(|p| p.fields.label == label).count() >= 5);
    }
    let mut areas: Vec<&str> = all.iter().map(|p| p.fields.area.as_str()).collect();
    areas.sort();
    areas.dedup();
    assert!((3..=5).contains(&areas.len()), "{areas:?}");
    let consenting = all.iter().filter(|p| p.fields.consent).count();
    assert!((3..=27).contains(&(all.len() - consenting)));
    let mut linked: Vec<&str> = all
        .iter()
        .filter(|p| p.fields.room.is_some())
        .map(|p| p.fields.name.as_str())
        .collect();
    linked.sort();
    assert_eq!(linked, ["小林 キヨ", "山田 太郎"]);

    // The roles the demo's logins have: city2 edits and responds, nurse1 responds, and
    // doctor1 has no role but sees his two patients who consented.
    let overview = city2.register("demo").await.unwrap();
    assert!(overview.editor && overview.responder && overview.disaster.is_none());
    let nurse = Api::demo(&base, "nurse1").await.unwrap();
    let overview = nurse.register("demo").await.unwrap();
    assert!(overview.responder && !overview.editor);
    assert_eq!(overview.scope, RegisterScope::Consented);
    assert_eq!(
        nurse
            .register_people("demo", &RegisterQuery::default())
            .await
            .unwrap()
            .len(),
        consenting
    );
    let links = nurse.registers().await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].slug, "demo");
    let doctor = Api::demo(&base, "doctor1").await.unwrap();
    assert!(doctor.registers().await.unwrap().is_empty());
    let theirs = doctor
        .register_people("demo", &RegisterQuery::default())
        .await
        .unwrap();
    let mut seen = names(&theirs);
    seen.sort();
    assert_eq!(seen, ["小林 キヨ", "山田 太郎"]);
}
