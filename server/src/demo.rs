//! The demo municipality 「デモ市」 (`/demo/`): facilities, professionals, patients with their
//! care teams, a project, message rooms, and a few conversations, so a newcomer (`renraku demo`,
//! `renraku serve --demo`, `cargo xtask run`) and every test has something real to show. Never
//! added unasked: its password is published. Every name is fictional.

use crate::auth::hash_password;
use crate::db::municipalities::OrganizationKind as Org;
use crate::db::parking::{DemoParking, DemoSpace};
use crate::db::patients::NewPatient;
use crate::db::users::{NewUser, Profession, Role};
use crate::db::{now_ms, Db};
use crate::error::{Error, Result};
use renraku_contract::{NotifyBy, ParkingLimit, Weekday};
use renraku_sync::{DocId, PostId, Reaction, RoomDoc, RoomId, RoomKind, UserId};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

pub const SLUG: &str = "demo";
pub const NAME: &str = "デモ市";
/// Shared by every demo account. Demo data is for trying Renraku out, never for real patients.
pub const DEMO_PASSWORD: &str = "renraku-demo";

/// A demo account, as printed by `renraku serve` and the README.
#[derive(Clone, Copy, Debug)]
pub struct DemoLogin {
    pub login_id: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
}

struct Person {
    login: DemoLogin,
    kana: &'static str,
    profession: Profession,
    role: Role,
    /// Index into [`ORGANIZATIONS`].
    org: usize,
}

const ORGANIZATIONS: [(&str, Org); 7] = [
    ("みなみ在宅クリニック", Org::Clinic),
    ("デモ市民病院", Org::Hospital),
    ("ひかり訪問看護ステーション", Org::NursingStation),
    ("さくら居宅介護支援事業所", Org::CareOffice),
    ("あおば薬局", Org::Pharmacy),
    ("デモ市役所 地域包括支援センター", Org::City),
    ("ひまわりヘルパーステーション", Org::Other),
];

macro_rules! person {
    ($login:literal, $name:literal, $kana:literal, $desc:literal, $prof:ident, $role:ident, $org:literal) => {
        Person {
            login: DemoLogin {
                login_id: $login,
                display_name: $name,
                description: $desc,
            },
            kana: $kana,
            profession: Profession::$prof,
            role: Role::$role,
            org: $org,
        }
    };
}

const PEOPLE: [Person; 10] = [
    person!(
        "doctor1",
        "南 健一",
        "みなみ けんいち",
        "医師・みなみ在宅クリニック",
        Doctor,
        Member,
        0
    ),
    person!(
        "doctor2",
        "北川 由美",
        "きたがわ ゆみ",
        "医師・デモ市民病院",
        Doctor,
        Member,
        1
    ),
    person!(
        "nurse1",
        "佐藤 花子",
        "さとう はなこ",
        "看護師・ひかり訪問看護",
        Nurse,
        Member,
        2
    ),
    person!(
        "nurse2",
        "鈴木 美咲",
        "すずき みさき",
        "看護師・ひかり訪問看護",
        Nurse,
        Member,
        2
    ),
    person!(
        "therapist1",
        "伊藤 愛",
        "いとう あい",
        "理学療法士・ひかり訪問看護",
        Therapist,
        Member,
        2
    ),
    person!(
        "caremgr1",
        "高橋 誠",
        "たかはし まこと",
        "ケアマネジャー・さくら居宅",
        CareManager,
        Member,
        3
    ),
    person!(
        "pharmacist1",
        "田中 翔太",
        "たなか しょうた",
        "薬剤師・あおば薬局",
        Pharmacist,
        Member,
        4
    ),
    person!(
        "city1",
        "山本 剛",
        "やまもと つよし",
        "市職員・管理者",
        CityStaff,
        MunicipalityAdmin,
        5
    ),
    person!(
        "city2",
        "中村 さゆり",
        "なかむら さゆり",
        "保健師・地域包括支援センター",
        CityStaff,
        Member,
        5
    ),
    person!(
        "helper1",
        "渡辺 洋子",
        "わたなべ ようこ",
        "ホームヘルパー・ひまわり",
        Helper,
        Member,
        6
    ),
];

/// The demo accounts (password [`DEMO_PASSWORD`]).
pub const DEMO_LOGINS: [DemoLogin; 10] = {
    let mut out = [PEOPLE[0].login; 10];
    let mut i = 0;
    while i < PEOPLE.len() {
        out[i] = PEOPLE[i].login;
        i += 1;
    }
    out
};

/// The demo's lender with an account (貸主 of 光明寺's four spaces): signs in to see their
/// spaces' bookings and pause one. No organisation: a lender is not staff.
pub const DEMO_LENDER: DemoLogin = DemoLogin {
    login_id: "lender1",
    display_name: "小川 道隆",
    description: "貸主・光明寺（駐車場）",
};
const DEMO_LENDER_KANA: &str = "おがわ どうりゅう";

struct DemoPatient {
    patient: NewPatient<'static>,
    /// Care team by login id; the first is the room's owner.
    team: &'static [&'static str],
}

const PATIENTS: [DemoPatient; 5] = [
    DemoPatient {
        patient: NewPatient {
            name: "山田 太郎",
            name_kana: "やまだ たろう",
            birth_date: "1938-04-12",
            address: "デモ市南町1-2-3",
            care_level: "要介護3",
            disaster_flag: true,
            triage: Some("yellow"),
        },
        team: &[
            "caremgr1",
            "doctor1",
            "nurse1",
            "nurse2",
            "pharmacist1",
            "helper1",
        ],
    },
    DemoPatient {
        patient: NewPatient {
            name: "小林 キヨ",
            name_kana: "こばやし きよ",
            birth_date: "1931-11-03",
            address: "デモ市北町4-5-6",
            care_level: "要介護5",
            disaster_flag: true,
            triage: Some("red"),
        },
        team: &["caremgr1", "doctor1", "nurse1", "pharmacist1", "therapist1"],
    },
    DemoPatient {
        patient: NewPatient {
            name: "加藤 正男",
            name_kana: "かとう まさお",
            birth_date: "1945-07-21",
            address: "デモ市東町7-8",
            care_level: "要介護2",
            disaster_flag: false,
            triage: None,
        },
        team: &["caremgr1", "doctor2", "nurse2", "therapist1"],
    },
    DemoPatient {
        patient: NewPatient {
            name: "吉田 トミ",
            name_kana: "よしだ とみ",
            birth_date: "1935-02-28",
            address: "デモ市西町9-10-11",
            care_level: "要支援2",
            disaster_flag: false,
            triage: None,
        },
        team: &["city2", "caremgr1", "helper1"],
    },
    DemoPatient {
        patient: NewPatient {
            name: "松本 茂",
            name_kana: "まつもと しげる",
            birth_date: "1950-09-09",
            address: "デモ市中央1-1",
            care_level: "要介護1",
            disaster_flag: false,
            triage: None,
        },
        team: &["caremgr1", "doctor2", "nurse1", "pharmacist1"],
    },
];

/// Staff pins on patients' homes: (index in [`PATIENTS`], latitude, longitude, who set it).
/// 松本 and 加藤 live near 光明寺, whose spaces are then a few minutes' walk away; 吉田 has
/// none (the screen offers to set it).
const HOME_PINS: [(usize, f64, f64, &str); 2] = [
    (4, 35.703, 139.6972, "nurse1"),
    (2, 35.704, 139.7, "nurse2"),
];

/// Other rooms: (kind, title, members; the first is the owner).
const OTHER_ROOMS: [(RoomKind, &str, &[&str]); 3] = [
    (
        RoomKind::Project,
        "認知症初期集中支援チーム",
        &[
            "city1",
            "city2",
            "doctor1",
            "nurse1",
            "caremgr1",
            "therapist1",
        ],
    ),
    (
        RoomKind::Message,
        "ひかり訪問看護 スタッフ連絡",
        &["nurse1", "nurse2", "therapist1"],
    ),
    (
        RoomKind::Message,
        "南 医師・佐藤 看護師",
        &["doctor1", "nurse1"],
    ),
];

/// Adds the demo municipality unless it exists; whether it was added. Several nodes
/// starting at once on an empty database all find it missing: the first to create the
/// municipality (its slug is unique) seeds it, and the others start without waiting.
pub async fn ensure(db: &Db) -> Result<bool> {
    if db.municipality_by_slug(SLUG).await?.is_some() {
        return Ok(false);
    }
    match seed(db).await {
        Ok(()) => Ok(true),
        Err(Error::Conflict) if db.municipality_by_slug(SLUG).await?.is_some() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates the demo municipality with everything in it. Fails with `Conflict` if it exists.
pub async fn seed(db: &Db) -> Result<()> {
    let municipality = db.create_municipality(SLUG, NAME).await?;
    let mut orgs = Vec::with_capacity(ORGANIZATIONS.len());
    for (name, kind) in ORGANIZATIONS {
        orgs.push(db.create_organization(municipality, name, kind).await?);
    }

    // One hash for all: hashing ten times would only slow down every test server's start.
    let hash = hash_password(DEMO_PASSWORD.to_owned()).await?;
    let mut users = HashMap::new();
    for p in &PEOPLE {
        let id = db
            .create_user(&NewUser {
                municipality,
                organization: Some(orgs[p.org]),
                login_id: p.login.login_id,
                password_hash: &hash,
                display_name: p.login.display_name,
                display_name_kana: p.kana,
                profession: p.profession,
                role: p.role,
            })
            .await?;
        users.insert(p.login.login_id, id);
    }

    let mut rooms = Vec::new();
    for p in &PATIENTS {
        let patient = db.create_patient(municipality, &p.patient).await?;
        let room = db
            .create_room(
                municipality,
                RoomKind::Patient,
                p.patient.name,
                Some(patient),
            )
            .await?;
        add_members(db, room, p.team, &users).await?;
        rooms.push(room);
    }
    let staff: Vec<(UserId, bool, bool)> = REGISTER_STAFF
        .iter()
        .map(|&(login, editor, responder)| (users[login], editor, responder))
        .collect();
    db.seed_register(municipality, &staff, &register_people(&rooms))
        .await?;
    // 山田 and 小林 are on the register, which places their homes; the staff pinned these
    // two for finding parking nearby (docs/parking.md, "The patient's home").
    for (k, latitude, longitude, by) in HOME_PINS {
        let at = renraku_contract::Location {
            latitude,
            longitude,
        };
        db.seed_room_home_pin(rooms[k], at, users[by]).await?;
    }
    for (kind, title, members) in OTHER_ROOMS {
        let room = db.create_room(municipality, kind, title, None).await?;
        add_members(db, room, members, &users).await?;
        rooms.push(room);
    }

    for (order, (title, body)) in (0i64..).zip(TEMPLATES) {
        db.create_template(municipality, None, title, body, order * 10)
            .await?;
    }

    seed_conversations(db, &rooms, &users).await?;
    seed_parking(db, municipality, &orgs, &users, &hash).await
}

/// Mon–Fri 9:00–17:00, as most lenders offer.
const OFFICE_HOURS: [(Weekday, i64, i64); 5] = [
    (Weekday::Mon, 540, 1020),
    (Weekday::Tue, 540, 1020),
    (Weekday::Wed, 540, 1020),
    (Weekday::Thu, 540, 1020),
    (Weekday::Fri, 540, 1020),
];

/// Every day, all day (a temple's spare space).
const ALL_WEEK: [(Weekday, i64, i64); 7] = [
    (Weekday::Mon, 0, 1440),
    (Weekday::Tue, 0, 1440),
    (Weekday::Wed, 0, 1440),
    (Weekday::Thu, 0, 1440),
    (Weekday::Fri, 0, 1440),
    (Weekday::Sat, 0, 1440),
    (Weekday::Sun, 0, 1440),
];

/// Mornings and evenings, the night past midnight on Fridays (a shop's own car is out).
const SHOP_HOURS: [(Weekday, i64, i64); 4] = [
    (Weekday::Mon, 480, 720),
    (Weekday::Wed, 480, 720),
    (Weekday::Fri, 480, 720),
    (Weekday::Fri, 1260, 360),
];

const LENDERS: [(&str, &str, NotifyBy); 6] = [
    ("光明寺", "03-0000-1001", NotifyBy::App),
    ("山田酒店", "FAX 03-0000-1002", NotifyBy::Fax),
    ("鈴木 一郎", "suzuki@example.jp", NotifyBy::Mail),
    ("田中 和子", "03-0000-1004", NotifyBy::Phone),
    ("デモ市 西町会", "03-0000-1005", NotifyBy::Phone),
    ("あさひ薬局", "asahi@example.jp", NotifyBy::Mail),
];

macro_rules! space {
    ($name:literal, $address:literal, $lender:literal, $lat:literal, $lon:literal, $limits:expr, $note:literal, $directions:literal, $weekly:expr) => {
        DemoSpace {
            name: $name,
            address: $address,
            lender: $lender,
            latitude: $lat,
            longitude: $lon,
            limits: $limits,
            limits_note: $note,
            directions: $directions,
            weekly: $weekly,
        }
    };
}

/// Fifteen spaces in the demo's map area (a 6 × 6 km box around 35.70, 139.70), every
/// name and address fictional.
const SPACES: [DemoSpace; 15] = [
    space!(
        "光明寺 境内駐車場 1番",
        "デモ市本町1-2-3",
        0,
        35.7021,
        139.6987,
        &[],
        "",
        "山門の右手、白線の1番に。",
        &ALL_WEEK
    ),
    space!(
        "光明寺 境内駐車場 2番",
        "デモ市本町1-2-3",
        0,
        35.7022,
        139.6989,
        &[ParkingLimit::KeiOnly],
        "軽自動車のみ",
        "山門の右手、白線の2番（幅が狭い）。",
        &ALL_WEEK
    ),
    space!(
        "山田酒店 店裏",
        "デモ市栄町2-5-8",
        1,
        35.6968,
        139.7042,
        &[ParkingLimit::Height],
        "高さ制限 2.0m",
        "店の裏の路地から。シャッター前に。",
        &SHOP_HOURS
    ),
    space!(
        "鈴木様宅 車庫",
        "デモ市緑町3-1-14",
        2,
        35.7105,
        139.6903,
        &[ParkingLimit::KeiOnly, ParkingLimit::Width],
        "車幅1.5mまで",
        "青い門の車庫。門は開けたままで。",
        &OFFICE_HOURS
    ),
    space!(
        "田中様宅 前",
        "デモ市緑町4-7-2",
        3,
        35.7131,
        139.6951,
        &[],
        "",
        "玄関前のコンクリート部分。",
        &OFFICE_HOURS
    ),
    space!(
        "西町会 集会所 駐車場",
        "デモ市西町1-10-1",
        4,
        35.6922,
        139.6834,
        &[ParkingLimit::NoLargeVehicles],
        "ワゴン車不可",
        "集会所の左、「訪問車両」の札の区画。",
        &OFFICE_HOURS
    ),
    space!(
        "あさひ薬局 第2駐車場",
        "デモ市中央3-3-3",
        5,
        35.6989,
        139.7125,
        &[],
        "",
        "薬局向かいの月極の奥、5番。",
        &OFFICE_HOURS
    ),
    space!(
        "光明寺 墓苑入口",
        "デモ市本町1-4-1",
        0,
        35.7049,
        139.7010,
        &[ParkingLimit::Length],
        "全長4.4mまで",
        "墓苑入口の横。法要の日は閉まる。",
        &OFFICE_HOURS
    ),
    space!(
        "山田酒店 倉庫前",
        "デモ市栄町2-9-1",
        1,
        35.6951,
        139.7073,
        &[],
        "",
        "倉庫のシャッターの右。",
        &SHOP_HOURS
    ),
    space!(
        "西町会 防災倉庫横",
        "デモ市西町2-3-5",
        4,
        35.6889,
        139.6878,
        &[ParkingLimit::KeiOnly],
        "軽自動車のみ",
        "防災倉庫の横、砂利の区画。",
        &ALL_WEEK
    ),
    space!(
        "鈴木様宅 庭先",
        "デモ市緑町3-2-1",
        2,
        35.7088,
        139.6921,
        &[],
        "",
        "庭の手前。犬がいますが吠えるだけです。",
        &OFFICE_HOURS
    ),
    space!(
        "あさひ薬局 店前",
        "デモ市中央3-3-3",
        5,
        35.6992,
        139.7119,
        &[ParkingLimit::Height],
        "高さ制限 2.1m（庇）",
        "店の前、左端の区画。",
        &OFFICE_HOURS
    ),
    space!(
        "田中様宅 裏",
        "デモ市東町5-6-7",
        3,
        35.7163,
        139.7186,
        &[],
        "",
        "裏口側の空き地。",
        &ALL_WEEK
    ),
    space!(
        "西町会 公園脇",
        "デモ市西町3-8-2",
        4,
        35.6859,
        139.6942,
        &[ParkingLimit::NoLargeVehicles],
        "",
        "公園の北側。町会の看板の前。",
        &OFFICE_HOURS
    ),
    space!(
        "光明寺 東門",
        "デモ市東町1-1-1",
        0,
        35.7074,
        139.7158,
        &[ParkingLimit::Height, ParkingLimit::Width],
        "高さ1.9m・幅1.7mまで",
        "東門を入ってすぐ右。",
        &ALL_WEEK
    ),
];

/// The parking scheme: the lenders and spaces above, the clinic, the nursing station, the
/// care office and the helper station approved, 中村 (city2) a parking manager, and a few
/// bookings today and tomorrow by the nursing station's nurses. (The all-week spaces take
/// them whatever day the demo is made; none is for a patient: bookings never are.) 光明寺
/// has an account, [`DEMO_LENDER`].
async fn seed_parking(
    db: &Db,
    municipality: renraku_sync::MunicipalityId,
    orgs: &[renraku_sync::OrganizationId],
    users: &HashMap<&str, UserId>,
    password_hash: &str,
) -> Result<()> {
    use crate::domain::parking::{day_start, jst_day, HOUR_MS};
    let today = day_start(jst_day(now_ms()));
    let lender = db
        .create_user(&NewUser {
            municipality,
            organization: None,
            login_id: DEMO_LENDER.login_id,
            password_hash,
            display_name: DEMO_LENDER.display_name,
            display_name_kana: DEMO_LENDER_KANA,
            profession: Profession::Other,
            role: Role::Member,
        })
        .await?;
    let (nurse1, nurse2) = (users["nurse1"], users["nurse2"]);
    let station = orgs[2];
    let bookings = [
        (
            0,
            nurse1,
            station,
            today + 10 * HOUR_MS,
            today + 11 * HOUR_MS,
            "デモ 500 さ 10-01",
        ),
        (
            0,
            nurse2,
            station,
            today + 14 * HOUR_MS,
            today + 15 * HOUR_MS,
            "デモ 500 さ 10-02",
        ),
        (
            9,
            nurse1,
            station,
            today + 13 * HOUR_MS,
            today + 14 * HOUR_MS,
            "デモ 500 さ 10-01",
        ),
        (
            12,
            nurse2,
            station,
            today + 34 * HOUR_MS,
            today + 35 * HOUR_MS,
            "デモ 500 さ 10-02",
        ),
    ];
    db.seed_demo_parking(&DemoParking {
        municipality,
        lenders: &LENDERS,
        spaces: &SPACES,
        approved: &[orgs[0], orgs[2], orgs[3], orgs[6]],
        approved_by: users["city1"],
        managers: &[users["city2"]],
        lender_accounts: &[(0, lender)],
        bookings: &bookings,
    })
    .await
}

/// The municipality's shared 定型文 (templates): title and body, blanks after 「：」.
const TEMPLATES: [(&str, &str); 3] = [
    (
        "訪問報告",
        "体温：　℃\n血圧：　/　mmHg\n脈拍：　回/分\nSpO2：　%\n食事：\n排泄：\n様子：",
    ),
    (
        "服薬確認",
        "服薬状況：　（飲み忘れ なし / あり）\n残薬：\n副作用・気になる症状：\n次回処方までの日数：",
    ),
    (
        "退院前カンファレンス 日程調整",
        "退院前カンファレンスの日程調整をお願いします。\n候補日時：\n場所：\n参加予定：\nご都合の良い日時をお知らせください。",
    ),
];

async fn add_members(
    db: &Db,
    room: RoomId,
    logins: &[&str],
    users: &HashMap<&str, UserId>,
) -> Result<()> {
    let owner = users[logins[0]];
    for (i, login) in logins.iter().enumerate() {
        let (role, by) = if i == 0 {
            ("owner", None)
        } else {
            ("member", Some(owner))
        };
        db.add_member(room, users[login], role, by).await?;
    }
    Ok(())
}

/// What happens in a demo room, oldest first. Replies and reactions name their target by
/// its index in the room's list of posts.
enum Act {
    Thread(&'static str, u32, &'static str),
    Reply(&'static str, u32, usize, &'static str),
    React(&'static str, usize, Reaction),
    Pin(&'static str, usize),
    Read(&'static str, usize),
}

use Act::{Pin, React, Read, Reply, Thread};

/// Per room, in the order rooms are created: hours ago, author, text.
fn scripts() -> [Vec<Act>; 8] {
    [
        vec![
            Thread("nurse1", 26, "本日訪問しました。BP 138/82、SpO2 96%。仙骨部の発赤が2cm大に広がっています。体位変換の回数を増やしてください。"),
            Reply("helper1", 25, 0, "了解しました。午後の訪問から2時間ごとの体位変換を行います。"),
            Reply("doctor1", 24, 0, "ご報告ありがとうございます。明日の往診で確認します。それまで除圧とワセリン塗布で様子をみてください。"),
            React("caremgr1", 0, Reaction::Ack),
            React("helper1", 0, Reaction::Ack),
            React("doctor1", 0, Reaction::Checked),
            Thread("caremgr1", 20, "来週月曜のサービス担当者会議は14時からご自宅で行います。ご都合の悪い方はお知らせください。"),
            Reply("pharmacist1", 19, 3, "参加します。残薬の状況も確認しておきます。"),
            React("nurse1", 3, Reaction::Ack),
            React("doctor1", 3, Reaction::Ack),
            Pin("caremgr1", 3),
            Thread("pharmacist1", 5, "本日お薬をお届けしました。眠前薬の飲み忘れが3日分ありました。服薬カレンダーをベッドサイドに移しています。"),
            React("nurse2", 5, Reaction::Like),
            Read("nurse1", 5),
        ],
        vec![
            Thread("doctor1", 30, "昨夜から37.8℃の発熱、右下肺に雑音あり。抗菌薬を処方しました。明日も訪問看護で状態の確認をお願いします。"),
            Reply("nurse1", 22, 0, "本日訪問。37.2℃と解熱傾向です。食事は半量摂取、水分摂取を促しています。"),
            React("caremgr1", 0, Reaction::Ack),
            React("pharmacist1", 0, Reaction::Ack),
            Thread("therapist1", 8, "体調を考慮し、本日のリハビリは座位訓練のみ実施しました。"),
            React("nurse1", 2, Reaction::Checked),
        ],
        vec![
            Thread("nurse2", 40, "退院後の初回訪問でした。自宅内の段差が多く、転倒のリスクが高いです。手すりの設置をご検討ください。"),
            Reply("caremgr1", 38, 0, "福祉用具の事業所に連絡しました。今週中に見積もりに伺います。"),
            React("therapist1", 0, Reaction::Checked),
            Pin("caremgr1", 0),
        ],
        vec![
            Thread("helper1", 12, "本日の買い物代行の際、冷蔵庫に賞味期限切れの食品が多くありました。物忘れが進んでいる印象です。"),
            Reply("city2", 10, 0, "ありがとうございます。地域包括でも見守りを強化し、来週訪問します。"),
            React("caremgr1", 0, Reaction::Ack),
        ],
        vec![],
        vec![
            Thread("city1", 48, "今月のチーム員会議は第3水曜15時、市役所2階の会議室です。新規ケース2件を検討します。"),
            Reply("doctor1", 47, 0, "参加します。"),
            React("doctor1", 0, Reaction::Ack),
            React("nurse1", 0, Reaction::Ack),
            React("caremgr1", 0, Reaction::Ack),
            Pin("city1", 0),
        ],
        vec![
            Thread("nurse2", 15, "明日の午前、車が1台点検で使えません。訪問ルートの調整をお願いします。"),
            Reply("nurse1", 14, 0, "了解です。午前は私が自転車で回ります。"),
            React("therapist1", 0, Reaction::Like),
        ],
        vec![
            Thread("doctor1", 9, "山田さんの褥瘡、明日の往診のときに一緒に見られますか？"),
            Reply("nurse1", 8, 0, "はい、10時に伺います。"),
            React("doctor1", 1, Reaction::Like),
        ],
    ]
}

/// Writes each room's conversation the way clients would: every author through a yrs
/// client id bound to them, every update appended to the room's log.
async fn seed_conversations(
    db: &Db,
    rooms: &[RoomId],
    users: &HashMap<&str, UserId>,
) -> Result<()> {
    let now = now_ms();
    for (room, script) in rooms.iter().zip(scripts()) {
        // Built before any await: yrs documents are not `Send`.
        let (clients, updates) = write_script(script, users, now)?;
        for (user, client) in clients {
            if let Err(taken) = db.bind_clients(user, &[client]).await? {
                return Err(Error::internal(format!(
                    "demo client id {taken} already bound"
                )));
            }
        }
        let key = DocId::Room(*room).storage_key();
        // One commit per room: another node starting meanwhile projects a room whole or
        // not at all (`Db::backfill_projection`).
        db.append_updates(&key, &updates).await?;
    }
    Ok(())
}

/// Plays a script on one replica per author, each kept up to date with the others' updates;
/// returns the authors' client ids and the updates in order.
#[allow(clippy::type_complexity)]
fn write_script(
    script: Vec<Act>,
    users: &HashMap<&str, UserId>,
    now: i64,
) -> Result<(Vec<(UserId, u64)>, Vec<(UserId, Vec<u8>)>)> {
    let mut replicas: HashMap<UserId, RoomDoc> = HashMap::new();
    let mut log: Vec<(UserId, Vec<u8>)> = Vec::new();
    let mut posts: Vec<PostId> = Vec::new();
    let replay = |e: renraku_sync::Error| Error::internal(format!("demo script: {e}"));
    for act in script {
        let login = match &act {
            Thread(l, ..) | Reply(l, ..) | React(l, ..) | Pin(l, ..) | Read(l, ..) => *l,
        };
        let user = users[login];
        if let Entry::Vacant(slot) = replicas.entry(user) {
            // Yjs client ids are 53 bits; random ones do not collide in practice.
            let doc = RoomDoc::new(rand::random::<u64>() & ((1 << 53) - 1));
            for (_, update) in &log {
                doc.apply_update(update).map_err(replay)?;
            }
            slot.insert(doc);
        }
        let doc = &replicas[&user];
        let update = match act {
            Thread(_, hours, text) => {
                let at = now - i64::from(hours) * 3_600_000;
                let id = post_id(at);
                posts.push(id.clone());
                doc.start_thread(user, id, text, at)
            }
            Reply(_, hours, parent, text) => {
                let at = now - i64::from(hours) * 3_600_000;
                let id = post_id(at);
                posts.push(id.clone());
                doc.reply(user, id, &posts[parent], text, at)
                    .map_err(replay)?
            }
            React(_, post, kind) => doc.react(user, &posts[post], kind),
            Pin(_, post) => doc.pin(user, &posts[post], now),
            Read(_, post) => doc.mark_read(user, &posts[post], now),
        };
        for (other, replica) in &replicas {
            if *other != user {
                replica.apply_update(&update).map_err(replay)?;
            }
        }
        log.push((user, update));
    }
    let clients = replicas
        .iter()
        .map(|(user, doc)| (*user, doc.client_id()))
        .collect();
    Ok((clients, log))
}

/// A post id for a post written at `at_ms` (ULIDs sort by time, as the app expects).
fn post_id(at_ms: i64) -> PostId {
    let ulid = ulid::Ulid::from_parts(u64::try_from(at_ms).unwrap_or(0), rand::random());
    PostId::parse(&ulid.to_string()).expect("a ULID is a post id")
}

/// The demo register's 町丁目: name, and the address before the block and house numbers.
const AREAS: [(&str, &str); 5] = [
    ("南町一丁目", "デモ市南町1-"),
    ("北町四丁目", "デモ市北町4-"),
    ("中央一丁目", "デモ市中央1-"),
    ("東町二丁目", "デモ市東町2-"),
    ("川沿町三丁目", "デモ市川沿町3-"),
];
/// The 川沿町 area lies along the river: its people's `north` is metres from the river.
const RIVERSIDE: usize = 4;

/// One person of the demo register.
struct DemoEntry {
    name: &'static str,
    kana: &'static str,
    birth: &'static str,
    female: bool,
    area: usize,
    /// Block and house number: `2-3`.
    house: &'static str,
    household: Household,
    reasons: &'static [(ReasonKind, &'static str)],
    label: LabelColour,
    consent: bool,
    /// Metres east and north of the demo map's south-west corner (`tiles::demo::at`).
    at: (f64, f64),
    /// The emergency contact's given name and relation (the surname is the person's).
    contact: (&'static str, &'static str),
    notes: &'static str,
    /// Index into [`PATIENTS`]: the person is also that patient.
    patient: Option<usize>,
}

use renraku_contract::{
    Household, LabelColour, Location, NewRegisterPerson, Reason, ReasonKind, RegisterContact, Sex,
};
use Household::{Alone, AloneDaytime, ElderlyOnly, WithFamily};
use LabelColour::{Blue, Red, Yellow};
use ReasonKind as K;

macro_rules! entry {
    ($name:literal, $kana:literal, $birth:literal, $f:literal, $area:literal, $house:literal,
     $hh:ident, [$(($k:ident, $d:literal)),*], $label:ident, $consent:literal, ($e:literal, $n:literal),
     ($cg:literal, $cr:literal), $notes:literal, $patient:expr) => {
        DemoEntry {
            name: $name,
            kana: $kana,
            birth: $birth,
            female: $f,
            area: $area,
            house: $house,
            household: $hh,
            reasons: &[$((K::$k, $d)),*],
            label: $label,
            consent: $consent,
            at: ($e, $n),
            contact: ($cg, $cr),
            notes: $notes,
            patient: $patient,
        }
    };
}

/// Thirty people in five areas, all three colours, five without consent, two who are also
/// demo patients (山田 太郎 and 小林 キヨ, in their rooms' municipality and at their
/// addresses). Every name is fictional. One line a person: a table, not formatted.
#[rustfmt::skip]
const REGISTER: [DemoEntry; 30] = [
    entry!("山田 太郎", "やまだ たろう", "1938-04-12", false, 0, "2-3", ElderlyOnly, [(CareLevel, "要介護3"), (Dementia, "軽度")], Yellow, true, (1250.0, 980.0), ("花子", "妻"), "妻（82歳）と二人暮らし。仙骨部に褥瘡あり。", Some(0)),
    entry!("小林 キヨ", "こばやし きよ", "1931-11-03", true, 1, "5-6", ElderlyOnly, [(CareLevel, "要介護5"), (Bedridden, ""), (Suction, "1日6回")], Red, true, (1900.0, 5150.0), ("修", "長男"), "吸引器はバッテリー内蔵（約2時間）。停電時は長男が迎えに来る予定。", Some(1)),
    entry!("佐々木 ハル", "ささき はる", "1934-06-18", true, 0, "4-12", Alone, [(HomeOxygen, "酸素2L/分"), (LivesAlone, "")], Red, true, (760.0, 620.0), ("和子", "長女"), "酸素濃縮器。予備ボンベ2本（約6時間）。", None),
    entry!("井口 正", "いぐち ただし", "1946-09-02", false, 0, "7-3", WithFamily, [(Dialysis, "週3回（月水金） デモ市民病院")], Red, true, (1630.0, 1380.0), ("恵子", "妻"), "", None),
    entry!("森田 フミ", "もりた ふみ", "1929-01-25", true, 0, "9-21", ElderlyOnly, [(CareLevel, "要介護4"), (Bedridden, "")], Yellow, false, (2150.0, 760.0), ("博", "長男"), "", None),
    entry!("清水 勝", "しみず まさる", "1940-12-08", false, 0, "11-5", Alone, [(Dementia, "中等度"), (LivesAlone, "")], Blue, true, (940.0, 1180.0), ("直美", "姪"), "夜間の徘徊歴あり。", None),
    entry!("平野 サダ", "ひらの さだ", "1930-12-01", true, 0, "13-2", ElderlyOnly, [(Dementia, "重度"), (CareLevel, "要介護3")], Yellow, true, (2320.0, 1460.0), ("進", "次男"), "", None),
    entry!("石川 ヨシ子", "いしかわ よしこ", "1937-03-30", true, 1, "2-8", Alone, [(SensoryImpairment, "視覚障害（全盲）"), (Disability, "身体障害者手帳1級")], Yellow, true, (950.0, 4920.0), ("聡", "甥"), "盲導犬なし。防災無線が聞き取りにくい地域。", None),
    entry!("前田 浩二", "まえだ こうじ", "1958-07-14", false, 1, "8-15", WithFamily, [(Ventilator, "NPPV（夜間のみ）"), (IntractableDisease, "ALS")], Red, true, (2580.0, 5380.0), ("由美", "妻"), "外部バッテリー約8時間。停電時は市民病院へ搬送の取り決めあり。", None),
    entry!("藤井 トシ", "ふじい とし", "1932-10-10", true, 1, "10-2", ElderlyOnly, [(CareLevel, "要介護2")], Blue, true, (3150.0, 4880.0), ("和夫", "長男"), "", None),
    entry!("岡田 光子", "おかだ みつこ", "1944-05-05", true, 1, "12-7", AloneDaytime, [(Dementia, "軽度"), (CareLevel, "要支援2")], Blue, false, (3620.0, 5610.0), ("大介", "長男"), "", None),
    entry!("長谷川 清", "はせがわ きよし", "1936-08-21", false, 1, "14-1", Alone, [(HomeOxygen, "酸素1L/分"), (LivesAlone, "")], Red, true, (1420.0, 5700.0), ("美和", "長女"), "位置は住所からの概略。", None),
    entry!("村上 ミツ", "むらかみ みつ", "1930-02-14", true, 2, "3-5", ElderlyOnly, [(CareLevel, "要介護3"), (Bedridden, "")], Yellow, true, (2050.0, 3120.0), ("誠", "長男"), "", None),
    entry!("近藤 大輔", "こんどう だいすけ", "1975-11-11", false, 2, "5-9", WithFamily, [(Disability, "車いす（脊髄損傷）")], Yellow, true, (2440.0, 3560.0), ("真理", "妻"), "エレベーターのない集合住宅の2階。", None),
    entry!("坂本 千代", "さかもと ちよ", "1933-04-01", true, 2, "6-2", Alone, [(Dementia, ""), (LivesAlone, "")], Blue, true, (2760.0, 3920.0), ("浩", "長男"), "", None),
    entry!("遠藤 恵美", "えんどう えみ", "1990-09-19", true, 2, "8-4", WithFamily, [(InfantOrPregnant, "妊娠34週・2歳児あり")], Blue, true, (3320.0, 3180.0), ("拓也", "夫"), "", None),
    entry!("青山 ナミ", "あおやま なみ", "1928-12-24", true, 2, "9-11", Alone, [(CareLevel, "要介護5"), (Suction, "")], Red, false, (3580.0, 4380.0), ("隆", "甥"), "", None),
    entry!("グエン・ティ・ラン", "ぐえん てぃ らん", "1985-03-03", true, 2, "12-6", WithFamily, [(LanguageBarrier, "ベトナム語")], Blue, true, (1880.0, 4220.0), ("ミン", "夫"), "日本語は簡単な会話のみ。夫は日本語可。", None),
    entry!("原田 茂", "はらだ しげる", "1942-06-06", false, 3, "1-9", ElderlyOnly, [(Dialysis, "週3回（火木土）")], Red, true, (4480.0, 3050.0), ("幸子", "妻"), "", None),
    entry!("小野 スミ", "おの すみ", "1935-09-09", true, 3, "3-14", Alone, [(CareLevel, "要介護1"), (LivesAlone, "")], Blue, true, (5120.0, 3420.0), ("健一", "長男"), "", None),
    entry!("中島 健", "なかじま けん", "1966-01-20", false, 3, "5-3", WithFamily, [(Disability, "知的障害（療育手帳A）")], Yellow, true, (5560.0, 3880.0), ("節子", "母"), "", None),
    entry!("松田 キミ", "まつだ きみ", "1931-07-07", true, 3, "7-10", ElderlyOnly, [(SensoryImpairment, "聴覚障害")], Yellow, false, (4950.0, 4620.0), ("洋子", "長女"), "", None),
    entry!("宮本 武", "みやもと たけし", "1939-03-17", false, 3, "9-1", Alone, [(HomeOxygen, "酸素3L/分")], Red, true, (5420.0, 4900.0), ("明美", "長女"), "", None),
    entry!("菅原 誠司", "すがわら せいじ", "1952-08-15", false, 3, "11-6", Alone, [(Dialysis, "週3回"), (Disability, "下肢切断")], Red, true, (4620.0, 4980.0), ("弘", "兄"), "位置は住所からの概略。", None),
    entry!("西村 ハナ", "にしむら はな", "1938-08-08", true, 4, "2-4", Alone, [(CareLevel, "要介護2"), (LivesAlone, "")], Yellow, true, (620.0, 180.0), ("孝", "長男"), "", None),
    entry!("岩崎 正一", "いわさき しょういち", "1934-11-29", false, 4, "4-7", ElderlyOnly, [(Bedridden, ""), (CareLevel, "要介護4")], Yellow, true, (1580.0, -220.0), ("文子", "妻"), "", None),
    entry!("山口 トメ", "やまぐち とめ", "1927-05-16", true, 4, "6-1", Alone, [(CareLevel, "要介護5"), (Suction, "")], Red, true, (2480.0, 160.0), ("正樹", "甥"), "浸水想定区域（3m）。早めの避難が必要。", None),
    entry!("福田 由紀", "ふくだ ゆき", "1980-02-02", true, 4, "8-12", WithFamily, [(IntractableDisease, "筋ジストロフィー"), (Disability, "電動車いす")], Red, true, (3560.0, -180.0), ("昭", "父"), "", None),
    entry!("太田 久子", "おおた ひさこ", "1941-10-30", true, 4, "10-5", AloneDaytime, [(Dementia, "中等度")], Yellow, false, (4420.0, 200.0), ("学", "長男"), "", None),
    entry!("野口 義男", "のぐち よしお", "1937-04-22", false, 4, "12-8", Alone, [(LivesAlone, ""), (CareLevel, "要支援1")], Blue, true, (5300.0, -160.0), ("悦子", "妹"), "", None),
];

/// Named helpers (支援者) some of the demo's people have.
const HELPERS: [(&str, &str); 4] = [
    ("田村 信夫", "民生委員"),
    ("大野 和子", "近隣住民"),
    ("竹内 剛", "自治会"),
    ("松井 恵", "民生委員"),
];

/// The demo's register roles: (login, editor, responder). 市職員 山本 (city1) administers
/// the municipality, so manages the register; he also responds. 保健師 中村 (city2) edits
/// and responds; the visiting nurses and the care manager respond. The doctors, the
/// pharmacist, the therapist and the helper have no register role (the doctor of 山田 and 小林
/// sees those two, who consented, through their patient rooms).
pub const REGISTER_STAFF: [(&str, bool, bool); 5] = [
    ("city1", false, true),
    ("city2", true, true),
    ("nurse1", false, true),
    ("nurse2", false, true),
    ("caremgr1", false, true),
];

/// The demo register's entries, placed on the demo map; `rooms` are the patients' rooms in
/// [`PATIENTS`] order.
fn register_people(rooms: &[RoomId]) -> Vec<NewRegisterPerson> {
    REGISTER
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (area, address) = AREAS[p.area];
            let (e, n) = p.at;
            let n = if p.area == RIVERSIDE {
                // Beside the river, not in it: at least 150 m from its centre line.
                let off = if n < 0.0 { n.min(-150.0) } else { n.max(150.0) };
                crate::tiles::demo::river_north(e) + off
            } else {
                n
            };
            let (latitude, longitude) = crate::tiles::demo::at(e, n);
            let surname = p.name.split(' ').next().unwrap_or(p.name);
            NewRegisterPerson {
                external_id: Some(format!("D-{:04}", i + 1)),
                name: p.name.into(),
                kana: p.kana.into(),
                birth_date: Some(p.birth.into()),
                sex: if p.female { Sex::Female } else { Sex::Male },
                address: format!("{address}{}", p.house),
                area: area.into(),
                phone: format!("03-0000-{:04}", 2001 + i),
                household: p.household,
                reasons: p
                    .reasons
                    .iter()
                    .map(|&(kind, detail)| Reason {
                        kind,
                        detail: detail.into(),
                    })
                    .collect(),
                emergency_contacts: vec![RegisterContact {
                    name: format!("{surname} {}", p.contact.0),
                    relation: p.contact.1.into(),
                    phone: format!("090-0000-{:04}", 3001 + i),
                }],
                helpers: if i % 3 == 0 {
                    let (name, relation) = HELPERS[(i / 3) % HELPERS.len()];
                    vec![RegisterContact {
                        name: name.into(),
                        relation: relation.into(),
                        phone: format!("090-0000-{:04}", 4001 + i),
                    }]
                } else {
                    vec![]
                },
                consent: p.consent,
                location: Some(Location {
                    latitude: (latitude * 1e7).round() / 1e7,
                    longitude: (longitude * 1e7).round() / 1e7,
                }),
                label: p.label,
                room: p.patient.map(|k| rooms[k]),
                notes: p.notes.into(),
            }
        })
        .collect()
}
