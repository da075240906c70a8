//! 駐車場 (issue 17): availability edges (touching windows, midnight, exceptions, outside
//! the hours), permissions (an unapproved organisation cannot book, a lender sees only their
//! spaces and no patient data, another municipality's staff see nothing unless the
//! municipality opened its parking into an agreement), cancel and left-early freeing the
//! window, trouble reports, statistics and the audit, and the promise the database keeps: 50
//! concurrent requests for overlapping windows of one space → exactly one 201, 49 × 409
//! naming the booking that won. Runs on SQLite and PostgreSQL, with a manual clock.

use crate::push::{subscribe, Device, PushService};
use renraku_contract::{
    Availability, AvailabilityException, Booking, ExceptionKind, FreeWindows, NearbySpace,
    NewBooking, NewLender, NewSpace, NotifyBy, OrganizationChoice, OrganizationKind, ParkingLimit,
    ParkingOverview, ParkingPoint, Space, SpaceMonth, Trouble, Weekday, WeeklyWindow,
};
use renraku_server::clock::Clock;
use renraku_server::db::users::Role;
use renraku_sync::OrganizationId;
use renraku_tests::fixture::{Built, Fixture};
use renraku_tests::TestServer;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::time::Duration;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2036-12-01 00:00 Japan time (a Monday), as unix ms: 2036-11-30 15:00 UTC. Years ahead,
/// so the reminders queued for it stay in the future of the push worker's (system) clock.
const MONDAY: i64 = 2_111_670_000_000;

/// Monday 2036-12-01 (plus `days`) at `h:m` Japan time.
fn at(days: i64, h: i64, m: i64) -> i64 {
    MONDAY + days * DAY + h * HOUR + m * MINUTE
}

/// A user's session and HTTP client.
struct As {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl As {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn get_ok<T: DeserializeOwned>(&self, path: &str) -> T {
        let (status, v) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
        serde_json::from_value(v).unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// A raw body (a photo), with the Content-Type the client claims.
    async fn put_bytes(&self, path: &str, claimed: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let res = self
            .client
            .put(format!("{}{path}", self.base))
            .header("content-type", claimed)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn book(&self, space: &Space, start: i64, end: i64) -> (StatusCode, Value) {
        let b = NewBooking {
            space: space.id,
            start,
            end,
            plate: "品川 300 あ 12-34".into(),
        };
        self.post("/api/parking/m/bookings", serde_json::to_value(b).unwrap())
            .await
    }
}

struct Town {
    server: TestServer,
    f: Built,
    madmin: As,
    /// A lender with an account (貸主 of 青空寺).
    lender: As,
    /// 訪問看護ステーションA, approved.
    nurse: As,
    /// ケアプランB, approved.
    carer: As,
    /// クリニックC, not approved.
    clerk: As,
    /// Of municipality n, in an agreement with m; its organisation approved once m shares.
    nnurse: As,
    /// Of municipality x, in an agreement with m that does not include parking.
    xnurse: As,
    temple: Space,
    shop: Space,
    orgs: Vec<OrganizationId>,
}

async fn town() -> Town {
    let server = TestServer::start_with_clock(Clock::manual(at(0, 8, 0)), |c| {
        c.demo = false;
        // The clock moves by hours in these tests; sessions must outlive it.
        c.session_idle_minutes = 24 * 60;
        // To the tests' push service.
        c.push_allow_http = true;
        // Space photos: the smaller of this and their own 10 MB.
        c.attachment_max_bytes = 50_000;
    })
    .await;
    let f = Fixture::new()
        .municipality("m")
        .municipality("n")
        .municipality("x")
        .user("m", "madmin", Role::MunicipalityAdmin)
        .user("m", "lender", Role::Member)
        .user("m", "nurse", Role::Member)
        .user("m", "carer", Role::Member)
        .user("m", "clerk", Role::Member)
        .user("n", "nnurse", Role::Member)
        .user("x", "xnurse", Role::Member)
        .build(server.db())
        .await;
    let db = server.db();
    let mut orgs = Vec::new();
    for (slug, name, login) in [
        ("m", "訪問看護ステーションA", "nurse"),
        ("m", "ケアプランB", "carer"),
        ("m", "クリニックC", "clerk"),
        ("n", "n訪問看護", "nnurse"),
        ("x", "x訪問看護", "xnurse"),
    ] {
        let org = db
            .create_organization(f.municipality(slug), name, OrganizationKind::NursingStation)
            .await
            .unwrap();
        sqlx::query("UPDATE users SET organization_id = $1 WHERE id = $2")
            .bind(org.get())
            .bind(f.user(login).get())
            .execute(db.pool())
            .await
            .unwrap();
        orgs.push(org);
    }
    for (name, members) in [("mn", ["m", "n"]), ("mx", ["m", "x"])] {
        let a = db.create_agreement(name).await.unwrap();
        for slug in members {
            db.join_agreement(a, f.municipality(slug)).await.unwrap();
        }
    }
    let who = |login: &'static str| {
        let (server, f) = (&server, &f);
        async move {
            let token = f.signin(server, login).await;
            As {
                client: server.client(&token),
                base: server.base_url(),
                token,
            }
        }
    };
    let madmin = who("madmin").await;
    let lender = who("lender").await;
    let nurse = who("nurse").await;
    let carer = who("carer").await;
    let clerk = who("clerk").await;
    let nnurse = who("nnurse").await;
    let xnurse = who("xnurse").await;
    for org in &orgs[..2] {
        let (s, v) = madmin
            .put(&format!("/api/parking/m/organizations/{org}"), json!({}))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let lender_with_account = NewLender {
        name: "青空寺".into(),
        contact: "03-0000-0000".into(),
        notify_by: NotifyBy::App,
        user: Some(f.user("lender")),
    };
    let (s, temple_lender) = madmin
        .post(
            "/api/parking/m/lenders",
            serde_json::to_value(&lender_with_account).unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{temple_lender}");
    let (s, shop_lender) = madmin
        .post(
            "/api/parking/m/lenders",
            json!({"name": "山田商店", "contact": "FAX 03-1111-1111", "notify_by": "fax"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{shop_lender}");
    let space = |lender: &Value, name: &str, lat: f64| NewSpace {
        lender: serde_json::from_value(lender["id"].clone()).unwrap(),
        name: name.into(),
        address: "新宿区西新宿1-1".into(),
        location: ParkingPoint {
            latitude: lat,
            longitude: 139.70,
        },
        limits: vec![ParkingLimit::Height],
        limits_note: "高さ制限 2.0m".into(),
        directions: "山門を入って左奥、白線の1番に".into(),
    };
    let mut made = Vec::new();
    for (l, name, lat) in [
        (&temple_lender, "青空寺 駐車場", 35.7036),
        (&shop_lender, "山田商店 裏", 35.7009),
    ] {
        let (s, v) = madmin
            .post(
                "/api/parking/m/spaces",
                serde_json::to_value(space(l, name, lat)).unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_i64().unwrap();
        // Mondays 9–17 and 22:00–06:00 (past midnight into Tuesday); the next Monday
        // closed; extra hours on Tuesday 13–15.
        let availability = Availability {
            weekly: vec![
                WeeklyWindow {
                    weekday: Weekday::Mon,
                    start_min: 9 * 60,
                    end_min: 17 * 60,
                },
                WeeklyWindow {
                    weekday: Weekday::Mon,
                    start_min: 22 * 60,
                    end_min: 6 * 60,
                },
            ],
            exceptions: vec![
                AvailabilityException {
                    date: "2036-12-08".into(),
                    kind: ExceptionKind::Closed,
                    start_min: None,
                    end_min: None,
                },
                AvailabilityException {
                    date: "2036-12-02".into(),
                    kind: ExceptionKind::Open,
                    start_min: Some(13 * 60),
                    end_min: Some(15 * 60),
                },
            ],
        };
        let (s, v) = madmin
            .put(
                &format!("/api/parking/m/spaces/{id}/availability"),
                serde_json::to_value(&availability).unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        made.push(serde_json::from_value::<Space>(v).unwrap());
    }
    let shop = made.pop().unwrap();
    let temple = made.pop().unwrap();
    Town {
        server,
        f,
        madmin,
        lender,
        nurse,
        carer,
        clerk,
        nnurse,
        xnurse,
        temple,
        shop,
        orgs,
    }
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

async fn availability_edges() {
    let t = town().await;
    let s = &t.temple;
    // Windows that touch: 9–10 and 10–11 both fit.
    let (st, a) = t.nurse.book(s, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let (st, v) = t.carer.book(s, at(0, 10, 0), at(0, 11, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // An overlap is a 409 naming the booking in the way: its time and organisation.
    let (st, v) = t.carer.book(s, at(0, 9, 30), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(code(&v), "booking_conflict");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("2036-12-01 09:00–10:00"), "{message}");
    assert!(message.contains("訪問看護ステーションA"), "{message}");
    // Outside the hours: a clear 422.
    let (st, v) = t.nurse.book(s, at(0, 16, 0), at(0, 17, 30)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(code(&v), "outside_availability");
    assert!(v["message"].as_str().unwrap().contains("貸出時間外"), "{v}");
    // Across midnight, inside Monday's 22:00–06:00.
    let (st, v) = t.nurse.book(s, at(0, 23, 0), at(1, 1, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _) = t.nurse.book(s, at(1, 5, 0), at(1, 7, 0)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // The next Monday is closed; Tuesday has extra hours 13–15 only.
    let (st, _) = t.nurse.book(s, at(7, 10, 0), at(7, 11, 0)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, v) = t.nurse.book(s, at(1, 13, 0), at(1, 14, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, _) = t.nurse.book(s, at(1, 12, 0), at(1, 13, 0)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // Other refusals: backwards, no plate.
    let (st, v) = t
        .nurse
        .post(
            "/api/parking/m/bookings",
            json!({"space": s.id, "start": at(0, 12, 0), "end": at(0, 11, 0), "plate": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, _) = t
        .nurse
        .post(
            "/api/parking/m/bookings",
            json!({"space": s.id, "start": at(0, 12, 0), "end": at(0, 13, 0), "plate": " "}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Monday's free windows: 11–17 and 22–23 (23–24 is booked).
    let free: FreeWindows = t
        .nurse
        .get_ok(&format!(
            "/api/parking/m/spaces/{}/free?date=2036-12-01",
            s.id
        ))
        .await;
    let free: Vec<(i64, i64)> = free.free.iter().map(|w| (w.start, w.end)).collect();
    assert_eq!(
        free,
        vec![(at(0, 11, 0), at(0, 17, 0)), (at(0, 22, 0), at(0, 23, 0))]
    );
    // Tuesday: 01:00–06:00 of the night window, and 13:00 is booked till 14:00.
    let free: FreeWindows = t
        .nurse
        .get_ok(&format!(
            "/api/parking/m/spaces/{}/free?date=2036-12-02",
            s.id
        ))
        .await;
    let free: Vec<(i64, i64)> = free.free.iter().map(|w| (w.start, w.end)).collect();
    assert_eq!(
        free,
        vec![(at(1, 1, 0), at(1, 6, 0)), (at(1, 14, 0), at(1, 15, 0))]
    );
    // My bookings today (Monday, by the server's clock): 9–10 and the night one.
    let mine: Vec<Booking> = t.nurse.get_ok("/api/parking/m/bookings/mine").await;
    assert_eq!(
        mine.iter().map(|b| (b.start, b.end)).collect::<Vec<_>>(),
        vec![(at(0, 9, 0), at(0, 10, 0)), (at(0, 23, 0), at(1, 1, 0))]
    );
    assert!(mine.iter().all(|b| b.user == Some(t.f.user("nurse"))));
    t.server.shutdown().await;
}
test_both_dbs!(availability_edges);

async fn cancel_and_left_early_free_the_window() {
    let t = town().await;
    let s = &t.shop;
    let (st, v) = t.nurse.book(s, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let first: Booking = serde_json::from_value(v).unwrap();
    let (st, _) = t.carer.book(s, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CONFLICT);
    // Someone else's booking: not theirs to cancel, nor to see.
    let (st, _) = t
        .carer
        .post(
            &format!("/api/parking/m/bookings/{}/cancel", first.id),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, v) = t
        .nurse
        .post(
            &format!("/api/parking/m/bookings/{}/cancel", first.id),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "cancelled");
    let (st, v) = t.carer.book(s, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Left early: booked 11–13, leaves at 11:40; 11:40–13 is free again, 11–11:40 is not.
    let (st, v) = t.nurse.book(s, at(0, 11, 0), at(0, 13, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let long: Booking = serde_json::from_value(v).unwrap();
    let (st, _) = t
        .nurse
        .post(
            &format!("/api/parking/m/bookings/{}/left-early", long.id),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "not under way yet at 08:00");
    t.server
        .clock()
        .advance(Duration::from_secs(3 * 3600 + 40 * 60));
    let (st, v) = t
        .nurse
        .post(
            &format!("/api/parking/m/bookings/{}/left-early", long.id),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let left: Booking = serde_json::from_value(v).unwrap();
    assert_eq!(left.end, at(0, 11, 40));
    assert_eq!(left.released_end, Some(at(0, 13, 0)));
    let (st, v) = t.carer.book(s, at(0, 11, 40), at(0, 13, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = t.carer.book(s, at(0, 11, 30), at(0, 11, 45)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    // A window already over is refused.
    let (st, _) = t.carer.book(s, at(0, 9, 0), at(0, 9, 30)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Audited, each change once.
    let db = t.server.db();
    assert_eq!(db.audit_count("parking.booking.create").await.unwrap(), 4);
    assert_eq!(db.audit_count("parking.booking.cancel").await.unwrap(), 1);
    assert_eq!(
        db.audit_count("parking.booking.left_early").await.unwrap(),
        1
    );
    t.server.shutdown().await;
}
test_both_dbs!(cancel_and_left_early_free_the_window);

async fn permissions() {
    let t = town().await;
    // Overview: what each one is.
    let o: ParkingOverview = t.madmin.get_ok("/api/parking/m").await;
    assert!(o.manager && o.admin && !o.booker);
    let o: ParkingOverview = t.lender.get_ok("/api/parking/m").await;
    assert!(!o.manager && !o.booker && o.lender_of == vec![t.temple.fields.lender]);
    let o: ParkingOverview = t.clerk.get_ok("/api/parking/m").await;
    assert!(!o.booker);
    // An unapproved organisation cannot book or search.
    let (st, _) = t.clerk.book(&t.temple, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = t
        .clerk
        .get("/api/parking/m/spaces/nearby?lat=35.70&lon=139.70")
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Approved staff search near a point: nearest first, distance and walk.
    let near: Vec<NearbySpace> = t
        .nurse
        .get_ok("/api/parking/m/spaces/nearby?lat=35.70&lon=139.70&radius_m=500")
        .await;
    assert_eq!(
        near.iter()
            .map(|n| n.space.fields.name.as_str())
            .collect::<Vec<_>>(),
        vec!["山田商店 裏", "青空寺 駐車場"]
    );
    assert!(
        (near[1].distance_m - 400.0).abs() < 2.0,
        "{}",
        near[1].distance_m
    );
    assert_eq!(near[1].walk_min, 7);
    let near: Vec<NearbySpace> = t
        .nurse
        .get_ok("/api/parking/m/spaces/nearby?lat=35.70&lon=139.70&radius_m=200")
        .await;
    assert_eq!(near.len(), 1);
    // Another municipality's staff see nothing; in an agreement without parking too.
    for path in [
        "/api/parking/m".to_owned(),
        format!("/api/parking/m/spaces/{}", t.temple.id),
        "/api/parking/m/spaces/nearby?lat=35.70&lon=139.70".to_owned(),
    ] {
        assert_eq!(t.xnurse.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(t.nnurse.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    // n's organisation cannot be approved before m opens its parking into the agreement.
    let (n_org, x_org) = (t.orgs[3], t.orgs[4]);
    let (st, _) = t
        .madmin
        .put(&format!("/api/parking/m/organizations/{n_org}"), json!({}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let agreements = t.server.db().agreements().await.unwrap();
    let mn = agreements.iter().find(|a| a.name == "mn").unwrap().id;
    let (st, v) = t
        .madmin
        .put(
            &format!("/api/parking/m/agreements/{mn}"),
            json!({"on": true}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
    let (st, _) = t
        .madmin
        .put(&format!("/api/parking/m/organizations/{n_org}"), json!({}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = t
        .madmin
        .put(&format!("/api/parking/m/organizations/{x_org}"), json!({}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "x shares no parking with m");
    let (st, v) = t.nnurse.book(&t.temple, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(
        t.xnurse.get("/api/parking/m").await.0,
        StatusCode::NOT_FOUND
    );
    // Only the city manages: a plain member, a lender and a booker may not.
    let lender_body = json!({"name": "誰か", "notify_by": "phone"});
    for who in [&t.clerk, &t.lender, &t.nurse] {
        let (st, _) = who
            .post("/api/parking/m/lenders", lender_body.clone())
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        assert_eq!(
            who.get("/api/parking/m/statistics").await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            who.get("/api/parking/m/troubles").await.0,
            StatusCode::FORBIDDEN
        );
    }
    // The lender: only their spaces, their bookings — organisation, plate, time; no
    // patient, no room, not even who booked.
    let (st, v) = t.nurse.book(&t.shop, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let spaces: Vec<Space> = t.lender.get_ok("/api/parking/m/spaces").await;
    assert_eq!(
        spaces.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![t.temple.id]
    );
    let (st, raw) = t
        .lender
        .get(&format!("/api/parking/m/spaces/{}/bookings", t.temple.id))
        .await;
    assert_eq!(st, StatusCode::OK, "{raw}");
    let text = raw.to_string();
    for word in ["patient", "room"] {
        assert!(!text.contains(word), "{word} in {text}");
    }
    let seen: Vec<Booking> = serde_json::from_value(raw).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].organization_name, "n訪問看護");
    assert_eq!(seen[0].plate, "品川 300 あ 12-34");
    assert_eq!(seen[0].user, None);
    assert_eq!(
        t.lender
            .get(&format!("/api/parking/m/spaces/{}/bookings", t.shop.id))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // The lender pauses their space (not the other); a paused space takes no bookings and
    // leaves the search.
    let (st, _) = t
        .lender
        .put(
            &format!("/api/parking/m/spaces/{}/paused", t.shop.id),
            json!({"paused": true}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, v) = t
        .lender
        .put(
            &format!("/api/parking/m/spaces/{}/paused", t.temple.id),
            json!({"paused": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["paused"], true);
    let (st, v) = t.nurse.book(&t.temple, at(0, 13, 0), at(0, 14, 0)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let near: Vec<NearbySpace> = t
        .nurse
        .get_ok("/api/parking/m/spaces/nearby?lat=35.70&lon=139.70")
        .await;
    assert_eq!(near.len(), 1);
    // Trouble reports from both sides reach the city.
    let (st, v) = t
        .lender
        .post(
            "/api/parking/m/troubles",
            json!({"space": t.temple.id, "body": "予約時間を過ぎても車が停まっていた"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["side"], "lender");
    let (st, v) = t
        .nurse
        .post(
            "/api/parking/m/troubles",
            json!({"space": t.shop.id, "body": "別の車が停まっていた"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["side"], "booker");
    let troubles: Vec<Trouble> = t.madmin.get_ok("/api/parking/m/troubles").await;
    assert_eq!(troubles.len(), 2);
    // Statistics: bookings per space per month.
    let stats: Vec<SpaceMonth> = t.madmin.get_ok("/api/parking/m/statistics").await;
    let mut stats: Vec<(String, String, i64)> = stats
        .into_iter()
        .map(|s| (s.space_name, s.month, s.bookings))
        .collect();
    stats.sort();
    assert_eq!(
        stats,
        vec![
            ("山田商店 裏".into(), "2036-12".into(), 1),
            ("青空寺 駐車場".into(), "2036-12".into(), 1),
        ]
    );
    let db = t.server.db();
    for (action, n) in [
        ("parking.organization.approve", 3),
        ("parking.agreement.share", 1),
        ("parking.lender.create", 2),
        ("parking.space.create", 2),
        ("parking.space.availability", 2),
        ("parking.space.pause", 1),
        ("parking.trouble.report", 2),
    ] {
        assert_eq!(db.audit_count(action).await.unwrap(), n, "{action}");
    }
    t.server.shutdown().await;
}
test_both_dbs!(permissions);

/// Exactly one of 50 concurrent overlapping requests wins; the 49 others are told which
/// booking is in the way. Real concurrency: 50 tasks on a multi-threaded runtime against
/// the in-process server, two users of two approved organisations.
async fn fifty_concurrent_requests_one_booking() {
    let t = town().await;
    let space = t.temple.clone();
    let nurse = std::sync::Arc::new(t.nurse);
    let carer = std::sync::Arc::new(t.carer);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50_i64 {
        let who = if i % 2 == 0 {
            nurse.clone()
        } else {
            carer.clone()
        };
        let space = space.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            // Every window overlaps every other: starts a minute apart, an hour long.
            let (start, end) = (at(0, 12, 0) + i * MINUTE, at(0, 13, 0) + i * MINUTE);
            barrier.wait().await;
            let (status, body) = who.book(&space, start, end).await;
            (status, body)
        }));
    }
    let mut won = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => won.push(body),
            StatusCode::CONFLICT => refused.push(body),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(refused.len(), 49);
    let winner: Booking = serde_json::from_value(won.remove(0)).unwrap();
    let window = format!("2036-12-01 {}", {
        let m = |t: i64| {
            let min = (t - MONDAY) / MINUTE;
            format!("{:02}:{:02}", min / 60, min % 60)
        };
        format!("{}–{}", m(winner.start), m(winner.end))
    });
    for body in &refused {
        assert_eq!(code(body), "booking_conflict", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&window), "{message} should name {window}");
        assert!(message.contains(&winner.organization_name), "{message}");
    }
    let bookings: Vec<Booking> = t
        .madmin
        .get_ok(&format!("/api/parking/m/spaces/{}/bookings", space.id))
        .await;
    assert_eq!(bookings.len(), 1);
    assert_eq!(
        t.server
            .db()
            .audit_count("parking.booking.create")
            .await
            .unwrap(),
        1
    );
    // On PostgreSQL the database itself refuses an overlap, whoever writes it: a raw insert
    // that bypasses the server's look for a clash fails with the exclusion violation.
    if renraku_tests::backend() == renraku_tests::Backend::Postgres {
        let err = sqlx::query(
            "INSERT INTO parking_bookings (space_id, user_id, organization_id, start_ms, \
                 end_ms, plate, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'x', 'booked', 0, 0)",
        )
        .bind(space.id.0)
        .bind(t.f.user("nurse").get())
        .bind(t.orgs[0].get())
        .bind(winner.start + 30 * MINUTE)
        .bind(winner.end + 30 * MINUTE)
        .execute(t.server.db().pool())
        .await
        .unwrap_err();
        let code = err.as_database_error().and_then(|e| e.code()).unwrap();
        assert_eq!(code, "23P01", "{err}");
    }
    t.server.shutdown().await;
}
test_both_dbs!(
    fifty_concurrent_requests_one_booking,
    flavor = "multi_thread",
    worker_threads = 4
);

/// A booking queues its reminder 15 minutes before it starts; cancelling drops it; pausing
/// a space tells the bookers of the bookings ahead at once. No text names a patient.
async fn pushes_remind_the_booker_and_tell_of_a_pause() {
    let t = town().await;
    let service = PushService::start().await;
    let phone = Device::new(&service, "nurse");
    subscribe(&t.server.base_url(), &t.nurse.token, &phone).await;
    let db = t.server.db();
    let queued = || async {
        let rows = sqlx::query("SELECT topic, next_attempt_at FROM push_outbox ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                use sqlx::Row;
                (
                    r.get::<String, _>("topic"),
                    r.get::<i64, _>("next_attempt_at"),
                )
            })
            .collect::<Vec<_>>()
    };
    let (st, v) = t.nurse.book(&t.temple, at(0, 9, 0), at(0, 10, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let early: Booking = serde_json::from_value(v).unwrap();
    let (st, v) = t.nurse.book(&t.shop, at(0, 13, 0), at(0, 14, 0)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let later: Booking = serde_json::from_value(v).unwrap();
    assert_eq!(
        queued().await,
        vec![
            (format!("parking-{}", early.id), at(0, 8, 45)),
            (format!("parking-{}", later.id), at(0, 12, 45)),
        ]
    );
    let (st, _) = t
        .nurse
        .post(
            &format!("/api/parking/m/bookings/{}/cancel", early.id),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        queued().await,
        vec![(format!("parking-{}", later.id), at(0, 12, 45))]
    );
    let (st, v) = t
        .madmin
        .put(
            &format!("/api/parking/m/spaces/{}/paused", t.shop.id),
            json!({"paused": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    service
        .wait_until("the pause notice", |r| {
            r.iter().any(|x| x.device == "nurse")
        })
        .await;
    let got = service.delivered_to("nurse");
    let notice = phone.decrypt(&got[0].body);
    assert_eq!(notice["title"], "駐車場の休止");
    assert_eq!(notice["url"], "/m/parking");
    let body = notice["body"].as_str().unwrap();
    assert!(
        body.contains("山田商店 裏") && body.contains("13:00–14:00"),
        "{body}"
    );
    t.server.shutdown().await;
}
test_both_dbs!(pushes_remind_the_booker_and_tell_of_a_pause);

/// The demo: fifteen spaces in its map area, the nursing station approved, and today's
/// bookings for 佐藤 (nurse1); 中村 (city2) manages.
async fn the_demo_has_spaces_and_bookings() {
    let server = TestServer::start().await;
    let as_ = |token: String| As {
        client: server.client(&token),
        base: server.base_url(),
        token,
    };
    let nurse = as_(server.signin("nurse1").await);
    let near: Vec<NearbySpace> = nurse
        .get_ok("/api/parking/demo/spaces/nearby?lat=35.70&lon=139.70&radius_m=5000")
        .await;
    assert_eq!(near.len(), 15);
    assert!(near.iter().all(|n| {
        let p = n.space.fields.location;
        (35.673..=35.727).contains(&p.latitude) && (139.667..=139.733).contains(&p.longitude)
    }));
    let mine: Vec<Booking> = nurse.get_ok("/api/parking/demo/bookings/mine").await;
    assert_eq!(mine.len(), 2, "{mine:?}");
    let city = as_(server.signin("city2").await);
    let o: ParkingOverview = city.get_ok("/api/parking/demo").await;
    assert!(o.manager && !o.admin);
    // The demo lender (光明寺) sees their four spaces and today's booking on the first,
    // and cannot book.
    let lender = as_(server.signin("lender1").await);
    let o: ParkingOverview = lender.get_ok("/api/parking/demo").await;
    assert!(!o.manager && !o.booker && o.lender_of.len() == 1, "{o:?}");
    let spaces: Vec<Space> = lender.get_ok("/api/parking/demo/spaces").await;
    assert_eq!(spaces.len(), 4);
    assert!(spaces.iter().all(|s| s.lender_name == "光明寺"));
    let first = spaces
        .iter()
        .find(|s| s.fields.name == "光明寺 境内駐車場 1番")
        .unwrap();
    let ahead: Vec<Booking> = lender
        .get_ok(&format!("/api/parking/demo/spaces/{}/bookings", first.id))
        .await;
    assert!(!ahead.is_empty());
    assert!(ahead.iter().all(|b| b.user.is_none()));
    server.shutdown().await;
}
test_both_dbs!(the_demo_has_spaces_and_bookings);

/// A JPEG that decodes, `width` × `height`.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 3) as u8, 90])
    });
    let mut out = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    out
}

/// Space photos: the city uploads, replaces and removes one; the city, the space's lender
/// and bookers see it (with its type, kept privately); nobody else does, not even as a
/// refusal that tells it exists; bytes that are no photo, a damaged photo, and one over the
/// limit are refused with their own error, whatever the request claims; a change of the
/// space's fields keeps its photo. Audited.
async fn space_photos() {
    let t = town().await;
    let id = t.temple.id;
    let url = format!("/api/parking/m/spaces/{id}/photo");
    assert!(t.temple.photo.is_none());

    // Nothing yet: 404 for those who see the space.
    assert_eq!(t.nurse.get_raw(&url).await.status(), StatusCode::NOT_FOUND);

    // Only the city uploads.
    for who in [&t.lender, &t.nurse] {
        let (s, v) = who.put_bytes(&url, "image/jpeg", jpeg(64, 48)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    }
    for who in [&t.clerk, &t.xnurse, &t.nnurse] {
        let (s, v) = who.put_bytes(&url, "image/jpeg", jpeg(64, 48)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    }

    // Bytes decide, not the header: a PDF, an SVG and text called image/jpeg are refused.
    for bytes in [
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec(),
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
        b"GIF89a\x01\x00\x01\x00".to_vec(),
        "駐車場の写真です".as_bytes().to_vec(),
    ] {
        let (s, v) = t.madmin.put_bytes(&url, "image/jpeg", bytes).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");
        assert_eq!(code(&v), "unsupported_type");
        assert!(v["message"].as_str().unwrap().contains("JPEG"), "{v}");
    }
    // A JPEG's first bytes and then garbage: it does not decode.
    let mut damaged = vec![0xFF, 0xD8, 0xFF, 0xE0];
    damaged.resize(4004, 0x42);
    let (s, v) = t.madmin.put_bytes(&url, "image/jpeg", damaged).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{v}");
    // Empty.
    let (s, v) = t.madmin.put_bytes(&url, "image/jpeg", vec![]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(code(&v), "empty_file");
    // Over the limit (the server's attachment limit here, 50 000 bytes, is below 10 MB).
    let mut big = jpeg(64, 48);
    big.resize(50_001, 0);
    let (s, v) = t.madmin.put_bytes(&url, "image/jpeg", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(code(&v), "too_large");
    assert!(
        v["message"].as_str().unwrap().contains("大きすぎます"),
        "{v}"
    );
    let db = t.server.db();
    assert_eq!(db.audit_count("parking.space.photo").await.unwrap(), 0);

    // The city uploads one; the content type it claims does not matter.
    let (s, v) = t
        .madmin
        .put_bytes(&url, "application/octet-stream", jpeg(64, 48))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let space: Space = serde_json::from_value(v).unwrap();
    let photo = space.photo.clone().expect("a photo");
    assert_eq!(photo.mime, "image/jpeg");
    assert_eq!((photo.width, photo.height), (64, 48));
    assert_eq!(db.audit_count("parking.space.photo").await.unwrap(), 1);

    // The city, the lender and a booker (also one from the agreement once m opened its
    // parking to it) see it; the clerk of an unapproved organisation and another
    // municipality's staff get 404.
    for who in [&t.madmin, &t.lender, &t.nurse, &t.carer] {
        let res = who.get_raw(&format!("{url}?v={}", photo.version)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
        assert!(cache.starts_with("private"), "{cache}");
        let bytes = res.bytes().await.unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }
    let thumb = t.nurse.get_raw(&format!("{url}?thumb=true")).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    for who in [&t.clerk, &t.xnurse, &t.nnurse] {
        assert_eq!(who.get_raw(&url).await.status(), StatusCode::NOT_FOUND);
    }
    // The space as read says it has one.
    let read: Space = t.nurse.get_ok(&format!("/api/parking/m/spaces/{id}")).await;
    assert_eq!(read.photo.as_ref(), Some(&photo));

    // Changing the space's fields keeps its photo.
    let (s, v) = t
        .madmin
        .put(
            &format!("/api/parking/m/spaces/{id}"),
            serde_json::to_value(&t.temple.fields).unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        serde_json::from_value::<Space>(v).unwrap().photo,
        Some(photo.clone())
    );

    // A replacement has a new version.
    let (s, v) = t.madmin.put_bytes(&url, "image/jpeg", jpeg(32, 32)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let replaced = serde_json::from_value::<Space>(v).unwrap().photo.unwrap();
    assert_ne!(replaced.version, photo.version);
    assert_eq!((replaced.width, replaced.height), (32, 32));

    // Only the city removes it.
    let del = |who: &As| {
        let (client, u) = (who.client.clone(), format!("{}{url}", who.base));
        async move { client.delete(u).send().await.unwrap().status() }
    };
    assert_eq!(del(&t.lender).await, StatusCode::FORBIDDEN);
    assert_eq!(del(&t.xnurse).await, StatusCode::NOT_FOUND);
    assert_eq!(del(&t.madmin).await, StatusCode::NO_CONTENT);
    assert_eq!(t.nurse.get_raw(&url).await.status(), StatusCode::NOT_FOUND);
    let read: Space = t
        .madmin
        .get_ok(&format!("/api/parking/m/spaces/{id}"))
        .await;
    assert!(read.photo.is_none());
    assert_eq!(db.audit_count("parking.space.photo").await.unwrap(), 2);
    assert_eq!(
        db.audit_count("parking.space.photo.delete").await.unwrap(),
        1
    );
    t.server.shutdown().await;
}
test_both_dbs!(space_photos);

/// The organisations the city may approve: its own, with whether each is approved, and
/// those of an agreement's other members once it opened its parking into that agreement;
/// not for staff.
async fn organization_choices() {
    let t = town().await;
    let url = "/api/parking/m/organization-choices";
    let list: Vec<OrganizationChoice> = t.madmin.get_ok(url).await;
    let names: Vec<(&str, bool)> = list.iter().map(|o| (o.name.as_str(), o.approved)).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for (name, approved) in [
        ("訪問看護ステーションA", true),
        ("ケアプランB", true),
        ("クリニックC", false),
    ] {
        assert!(names.contains(&(name, approved)), "{names:?}");
    }
    assert_eq!(t.nurse.get(url).await.0, StatusCode::FORBIDDEN);
    assert_eq!(t.lender.get(url).await.0, StatusCode::FORBIDDEN);
    assert_eq!(t.xnurse.get(url).await.0, StatusCode::NOT_FOUND);
    let agreements = t.server.db().agreements().await.unwrap();
    let mn = agreements.iter().find(|a| a.name == "mn").unwrap().id;
    let (s, v) = t
        .madmin
        .put(
            &format!("/api/parking/m/agreements/{mn}"),
            json!({"on": true}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let list: Vec<OrganizationChoice> = t.madmin.get_ok(url).await;
    assert_eq!(list.len(), 4);
    assert!(list
        .iter()
        .any(|o| o.name == "n訪問看護" && !o.approved && o.municipality == t.f.municipality("n")));
    t.server.shutdown().await;
}
test_both_dbs!(organization_choices);
