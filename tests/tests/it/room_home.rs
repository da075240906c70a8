//! The patient's home for 駐車場 (issue 17): `GET/PUT/DELETE /api/rooms/{id}/home`. Members
//! of the patient room only (others 403, whether or not the room exists); a room of another
//! kind is 400; the register's location of the consenting, current entry linked to the room;
//! a staff pin wins over it and clearing the pin falls back to it; every read, pin and unpin
//! audited. Runs on SQLite and PostgreSQL.

use renraku_contract::{
    HomeSource, Household, LabelColour, Location, NewRegisterPerson, RoomHome, Sex,
};
use renraku_server::db::audit::{AuditFilter, AuditRow};
use renraku_server::db::users::Role;
use renraku_sync::{RoomId, RoomKind};
use renraku_tests::api::{Api, ApiError};
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::TestServer;
use reqwest::StatusCode;

fn status(e: ApiError) -> StatusCode {
    e.status().unwrap_or_else(|| panic!("no answer: {e}"))
}

fn entry(name: &str, room: RoomId, consent: bool, at: Location) -> NewRegisterPerson {
    NewRegisterPerson {
        external_id: None,
        name: name.into(),
        kana: "かな".into(),
        birth_date: None,
        sex: Sex::Female,
        address: "川沿町1-2-3".into(),
        area: String::new(),
        phone: String::new(),
        household: Household::Alone,
        reasons: vec![],
        emergency_contacts: vec![],
        helpers: vec![],
        consent,
        location: Some(at),
        label: LabelColour::Blue,
        room: Some(room),
        notes: String::new(),
    }
}

async fn audit(server: &TestServer, action: &str) -> Vec<AuditRow> {
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

async fn patient_room(server: &TestServer, f: &Built, title: &str, members: &[&str]) -> RoomId {
    let db = server.db();
    let room = db
        .create_room(f.municipality("m"), RoomKind::Patient, title, None)
        .await
        .unwrap();
    for m in members {
        db.add_member(room, f.user(m), "member", None)
            .await
            .unwrap();
    }
    room
}

const REGISTER_AT: Location = Location {
    latitude: 35.6818,
    longitude: 139.6838,
};
const PIN_AT: Location = Location {
    latitude: 35.703,
    longitude: 139.6972,
};

test_both_dbs!(members_read_the_register_location_and_a_pin_wins);
async fn members_read_the_register_location_and_a_pin_wins() {
    let server = TestServer::start_with(|c| c.demo = false).await;
    let f = Fixture::new()
        .municipality("m")
        .municipality("n")
        .user("m", "madmin", Role::MunicipalityAdmin)
        .user("m", "editor", Role::Member)
        .user("m", "nurse", Role::Member)
        .user("m", "nurse2", Role::Member)
        .user("m", "outsider", Role::Member)
        .user("n", "stranger", Role::Member)
        .room("m", "連絡会", &["nurse"])
        .build(server.db())
        .await;
    let api = |login: &'static str| {
        let (server, f) = (&server, &f);
        async move { Api::new(&server.base_url(), &f.signin(server, login).await) }
    };
    let (madmin, editor) = (api("madmin").await, api("editor").await);
    let (nurse, nurse2) = (api("nurse").await, api("nurse2").await);
    let (outsider, stranger) = (api("outsider").await, api("stranger").await);
    madmin
        .register_set_staff("m", f.user("editor"), true, false)
        .await
        .unwrap();
    let ueda = patient_room(&server, &f, "上田さん", &["nurse", "nurse2"]).await;
    let inoue = patient_room(&server, &f, "井上さん", &["nurse"]).await;
    let sato = patient_room(&server, &f, "佐藤さん", &["nurse"]).await;

    // Nothing knows where 上田 lives yet.
    let home = nurse.room_home(ueda).await.unwrap();
    assert_eq!(
        home,
        RoomHome {
            room: ueda,
            location: None,
            source: None,
            register: None,
            pin: None
        }
    );

    // The register entry linked to the room places it.
    editor
        .register_create("m", &entry("上田 次郎", ueda, true, REGISTER_AT))
        .await
        .unwrap();
    let home = nurse2.room_home(ueda).await.unwrap();
    assert_eq!(home.location, Some(REGISTER_AT));
    assert_eq!(home.source, Some(HomeSource::Register));
    assert_eq!(home.register, Some(REGISTER_AT));
    assert_eq!(home.pin, None);

    // An entry whose person did not consent is not shown to the room's members (as the
    // register does not show it to them), nor is a retired one.
    editor
        .register_create("m", &entry("井上 花子", inoue, false, REGISTER_AT))
        .await
        .unwrap();
    assert_eq!(nurse.room_home(inoue).await.unwrap().location, None);
    let sato_entry = editor
        .register_create("m", &entry("佐藤 一郎", sato, true, REGISTER_AT))
        .await
        .unwrap();
    assert_eq!(
        nurse.room_home(sato).await.unwrap().source,
        Some(HomeSource::Register)
    );
    editor
        .register_retire("m", sato_entry.id, true)
        .await
        .unwrap();
    assert_eq!(nurse.room_home(sato).await.unwrap().location, None);

    // A member's pin wins over the register; both are told.
    let home = nurse2.set_room_home(ueda, &PIN_AT).await.unwrap();
    assert_eq!(home.location, Some(PIN_AT));
    assert_eq!(home.source, Some(HomeSource::Pin));
    assert_eq!(home.register, Some(REGISTER_AT));
    let pin = home.pin.expect("the pin");
    assert_eq!(pin.set_by, f.user("nurse2"));
    assert_eq!(pin.set_by_name, "nurse2");
    assert_eq!(nurse.room_home(ueda).await.unwrap().location, Some(PIN_AT));
    // Kept to 10^-7 degree, as the register's.
    let fine = Location {
        latitude: 35.703_000_04,
        longitude: 139.697_200_04,
    };
    let home = nurse.set_room_home(ueda, &fine).await.unwrap();
    assert_eq!(home.location, Some(PIN_AT));
    assert_eq!(home.pin.unwrap().set_by, f.user("nurse"));

    // Clearing the pin falls back to the register.
    let home = nurse.clear_room_home(ueda).await.unwrap();
    assert_eq!(home.source, Some(HomeSource::Register));
    assert_eq!(home.location, Some(REGISTER_AT));
    assert_eq!(home.pin, None);

    // Not a member (of this municipality or another, an administrator too), or no such
    // room: 403, and nothing changes.
    for (who, api) in [
        ("outsider", &outsider),
        ("stranger", &stranger),
        ("madmin", &madmin),
    ] {
        assert_eq!(
            status(api.room_home(ueda).await.unwrap_err()),
            StatusCode::FORBIDDEN,
            "{who} reads"
        );
        assert_eq!(
            status(api.set_room_home(ueda, &PIN_AT).await.unwrap_err()),
            StatusCode::FORBIDDEN,
            "{who} pins"
        );
        assert_eq!(
            status(api.clear_room_home(ueda).await.unwrap_err()),
            StatusCode::FORBIDDEN,
            "{who} unpins"
        );
    }
    assert_eq!(
        status(nurse.room_home(RoomId::new(999_999)).await.unwrap_err()),
        StatusCode::FORBIDDEN
    );
    assert_eq!(nurse.room_home(ueda).await.unwrap().pin, None);

    // A room that is not a patient room has no home; a place off the Earth is refused.
    let meeting = f.room("連絡会");
    let e = nurse.room_home(meeting).await.unwrap_err();
    assert_eq!(status(e), StatusCode::BAD_REQUEST);
    let e = nurse.set_room_home(meeting, &PIN_AT).await.unwrap_err();
    assert_eq!(status(e), StatusCode::BAD_REQUEST);
    let bad = Location {
        latitude: 91.0,
        longitude: 139.0,
    };
    let e = nurse.set_room_home(ueda, &bad).await.unwrap_err();
    assert_eq!(status(e), StatusCode::BAD_REQUEST);

    // The audit: every read (with where the answer came from), each pin and unpin, by whom.
    let reads = audit(&server, "room.home.read").await;
    let target = format!("room/{ueda}");
    let ueda_reads: Vec<&AuditRow> = reads.iter().filter(|r| r.target == target).collect();
    // 2 plain reads, 2 pins and 1 unpin (each answers with a read), 1 final read.
    assert_eq!(ueda_reads.len(), 7, "{ueda_reads:?}");
    assert!(ueda_reads.iter().any(|r| r.detail == "source=none"));
    assert!(ueda_reads.iter().any(|r| r.detail == "source=register"));
    assert!(ueda_reads.iter().any(|r| r.detail == "source=pin"));
    let pins = audit(&server, "room.home.pin").await;
    assert_eq!(pins.len(), 2);
    assert!(pins.iter().all(|r| r.target == target));
    assert_eq!(pins[0].user_id, Some(f.user("nurse").get()));
    assert_eq!(pins[1].user_id, Some(f.user("nurse2").get()));
    let unpins = audit(&server, "room.home.unpin").await;
    assert_eq!(unpins.len(), 1);
    assert_eq!(unpins[0].user_id, Some(f.user("nurse").get()));
    assert_eq!(unpins[0].municipality_id, Some(f.municipality("m").get()));
}

test_both_dbs!(the_demo_patients_have_homes);
async fn the_demo_patients_have_homes() {
    let server = TestServer::start().await;
    let nurse1 = Api::demo(&server.base_url(), "nurse1").await.unwrap();
    let rooms = nurse1.rooms().await.unwrap();
    let room = |title: &str| {
        rooms
            .iter()
            .find(|r| r.title == title)
            .unwrap_or_else(|| panic!("nurse1 is in {title}"))
            .id
    };
    for title in ["山田 太郎", "小林 キヨ"] {
        let home = nurse1.room_home(room(title)).await.unwrap();
        assert_eq!(home.source, Some(HomeSource::Register), "{title}");
    }
    let home = nurse1.room_home(room("松本 茂")).await.unwrap();
    assert_eq!(home.source, Some(HomeSource::Pin));
    assert_eq!(home.pin.unwrap().set_by_name, "佐藤 花子");
}
