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

/// Adds the demo municipality unless it exists; whether it was added.
pub async fn ensure(db: &Db) -> Result<bool> {
    if db.municipality_by_slug(SLUG).await?.is_some() {
        return Ok(false);
    }
    seed(db).await?;
    Ok(true)
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
    seed_parking(db, municipality, &orgs, &users).await
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
    ("光明寺", "03-0000-1001", NotifyBy::Phone),
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
/// them whatever day the demo is made; none is for a patient: bookings never are.)
async fn seed_parking(
    db: &Db,
    municipality: renraku_sync::MunicipalityId,
    orgs: &[renraku_sync::OrganizationId],
    users: &HashMap<&str, UserId>,
) -> Result<()> {
    use crate::domain::parking::{day_start, jst_day, HOUR_MS};
    let today = day_start(jst_day(now_ms()));
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
        for update in updates {
            db.append_updates(&key, &[update]).await?;
        }
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
