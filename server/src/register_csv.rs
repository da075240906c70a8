//! The 名簿 as CSV (issue 16): the import's reading (UTF-8, with or without a byte-order
//! mark, or Shift_JIS; a header row naming the columns; every problem by row and column) and
//! the export's writing (UTF-8 with a byte-order mark for Excel, CRLF, formula-like cells
//! neutralised). The columns are documented in `docs/assistance-register.md`; an entry's
//! fields are checked by the one rule, [`crate::domain::register::check_person`].

use crate::domain::register::{check_person, FieldProblem};
use renraku_contract::{
    Household, ImportProblem, LabelColour, Location, NewRegisterPerson, Reason, ReasonKind,
    RegisterContact, RegisterPerson, Sex,
};

/// The columns, as the header row names them, in the export's order.
pub const COLUMNS: [&str; 18] = [
    "宛名番号",
    "氏名",
    "ふりがな",
    "生年月日",
    "性別",
    "住所",
    "町丁目",
    "電話",
    "世帯",
    "理由",
    "緊急連絡先",
    "支援者",
    "同意",
    "緯度",
    "経度",
    "ラベル",
    "備考",
    "除外",
];

/// Columns an import must have; the others may be left out (empty).
const REQUIRED: [&str; 5] = ["宛名番号", "氏名", "ふりがな", "同意", "ラベル"];

/// Most data rows one import may hold.
pub const MAX_ROWS: usize = 20_000;

/// One data row, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The line's number in the file (the header is 1).
    pub row: usize,
    pub person: NewRegisterPerson,
    pub retired: bool,
}

/// The file's text: UTF-8 (a byte-order mark is dropped), else Shift_JIS; neither is a
/// problem of row 0.
pub fn decode(bytes: &[u8]) -> Result<String, ImportProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|t| t.into_owned())
        .ok_or_else(|| {
            problem(
                0,
                "",
                "ファイルの文字コードが UTF-8 でも Shift_JIS でもありません",
            )
        })
}

fn problem(row: usize, column: &str, message: impl Into<String>) -> ImportProblem {
    ImportProblem {
        row,
        column: column.to_owned(),
        problem: message.into(),
    }
}

/// Every data row as an entry, or every problem of the file (not just the first).
pub fn read(text: &str) -> Result<Vec<Row>, Vec<ImportProblem>> {
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(vec![problem(1, "", format!("読み取れません: {e}"))]),
        None => return Err(vec![problem(1, "", "1 行目（列名の行）がありません")]),
    };
    // Which column of the file holds each of ours.
    let mut at = [None::<usize>; COLUMNS.len()];
    for (i, name) in header.iter().enumerate() {
        let name = name.trim();
        match COLUMNS.iter().position(|c| *c == name) {
            Some(k) if at[k].is_some() => {
                problems.push(problem(1, name, "同じ列名が 2 回あります"))
            }
            Some(k) => at[k] = Some(i),
            None if name.is_empty() => {}
            None => problems.push(problem(1, name, "名簿の列名ではありません")),
        }
    }
    for name in REQUIRED {
        let k = COLUMNS.iter().position(|c| *c == name).unwrap_or(0);
        if at[k].is_none() {
            problems.push(problem(1, name, "必須の列がありません"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, record) in records.enumerate() {
        let line = i + 2;
        if rows.len() + problems.len() > MAX_ROWS {
            problems.push(problem(line, "", format!("{MAX_ROWS} 行を超えています")));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(problem(line, "", format!("読み取れません: {e}")));
                continue;
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |name: &str| {
            let k = COLUMNS.iter().position(|c| *c == name).unwrap_or(0);
            let v = at[k].and_then(|i| record.get(i)).unwrap_or("").trim();
            // The export's neutralised formula-like cell reads back as written.
            v.strip_prefix('\'')
                .filter(|rest| rest.starts_with(['=', '+', '-', '@']))
                .unwrap_or(v)
        };
        match row(line, &get) {
            Ok(r) => {
                let id = r.person.external_id.clone().unwrap_or_default();
                if let Some(first) = seen.insert(id, line) {
                    problems.push(problem(
                        line,
                        "宛名番号",
                        format!("{first} 行目と同じ宛名番号です"),
                    ));
                } else {
                    rows.push(r);
                }
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// One data row: its cells read into an entry, then the entry checked.
fn row<'a>(line: usize, get: &dyn Fn(&str) -> &'a str) -> Result<Row, Vec<ImportProblem>> {
    let mut problems = Vec::new();
    let mut bad = |column: &str, message: String| problems.push(problem(line, column, message));
    if get("宛名番号").is_empty() {
        bad("宛名番号", "空欄にできません".into());
    }
    let sex = match get("性別") {
        "" | "不明" | "unknown" => Sex::Unknown,
        "女" | "女性" | "female" => Sex::Female,
        "男" | "男性" | "male" => Sex::Male,
        "その他" | "other" => Sex::Other,
        v => {
            bad(
                "性別",
                format!("「{v}」は 女・男・その他・不明 のいずれでもありません"),
            );
            Sex::Unknown
        }
    };
    let household = match get("世帯") {
        "" | "その他" | "other" => Household::Other,
        "独居" | "alone" => Household::Alone,
        "高齢者のみ" | "高齢者世帯" | "elderly_only" => Household::ElderlyOnly,
        "日中独居" | "alone_daytime" => Household::AloneDaytime,
        "家族同居" | "同居" | "with_family" => Household::WithFamily,
        v => {
            bad(
                "世帯",
                format!(
                    "「{v}」は 独居・高齢者のみ・日中独居・家族同居・その他 のいずれでもありません"
                ),
            );
            Household::Other
        }
    };
    let consent = match get("同意") {
        "あり" | "有" | "はい" | "同意" | "1" | "true" => true,
        "なし" | "無" | "いいえ" | "不同意" | "0" | "false" => false,
        v => {
            bad(
                "同意",
                format!("「{v}」は あり・なし のどちらでもありません"),
            );
            false
        }
    };
    let label = match get("ラベル") {
        "赤" | "red" => LabelColour::Red,
        "黄" | "yellow" => LabelColour::Yellow,
        "青" | "blue" => LabelColour::Blue,
        v => {
            bad(
                "ラベル",
                format!("「{v}」は 赤・黄・青 のいずれでもありません"),
            );
            LabelColour::Blue
        }
    };
    let retired = match get("除外") {
        "" | "0" | "いいえ" => false,
        "除外" | "1" | "はい" => true,
        v => {
            bad("除外", format!("「{v}」は 除外 でも空欄でもありません"));
            false
        }
    };
    let mut reasons = Vec::new();
    for item in items(get("理由")) {
        let (kind, detail) = item.split_once([':', '：']).unwrap_or((item, ""));
        match reason_kind(kind.trim()) {
            Some(kind) => reasons.push(Reason {
                kind,
                detail: detail.trim().to_owned(),
            }),
            None => bad(
                "理由",
                format!("「{}」は理由の一覧にありません", kind.trim()),
            ),
        }
    }
    let contacts = |column: &str| -> Vec<RegisterContact> {
        items(get(column))
            .map(|item| {
                let mut parts = item.split(['/', '／']).map(str::trim);
                RegisterContact {
                    name: parts.next().unwrap_or("").to_owned(),
                    relation: parts.next().unwrap_or("").to_owned(),
                    phone: parts.next().unwrap_or("").to_owned(),
                }
            })
            .collect()
    };
    let emergency_contacts = contacts("緊急連絡先");
    let helpers = contacts("支援者");
    let mut degrees = |column: &str| -> Option<f64> {
        let v = get(column);
        if v.is_empty() {
            return None;
        }
        match v.parse::<f64>() {
            Ok(d) if d.is_finite() => Some(d),
            _ => {
                bad(column, format!("「{v}」は数値ではありません"));
                None
            }
        }
    };
    let (lat, lon) = (degrees("緯度"), degrees("経度"));
    let location = match (lat, lon, get("緯度").is_empty() == get("経度").is_empty()) {
        (Some(latitude), Some(longitude), _) => Some(Location {
            latitude,
            longitude,
        }),
        (_, _, false) => {
            bad(
                "緯度",
                "緯度と経度は両方とも入力するか、両方とも空欄にしてください".into(),
            );
            None
        }
        _ => None,
    };
    let birth_date = match get("生年月日") {
        "" => None,
        v => Some(v.replace('/', "-")),
    };
    let person = NewRegisterPerson {
        external_id: Some(get("宛名番号").to_owned()),
        name: get("氏名").to_owned(),
        kana: get("ふりがな").to_owned(),
        birth_date,
        sex,
        address: get("住所").to_owned(),
        area: get("町丁目").to_owned(),
        phone: get("電話").to_owned(),
        household,
        reasons,
        emergency_contacts,
        helpers,
        consent,
        location,
        label,
        room: None,
        notes: get("備考").replace("\r\n", "\n"),
    };
    let checked = check_person(&person).map_err(|found| {
        found
            .into_iter()
            .map(|p| problem(line, column_of(&p), p.problem))
            .collect::<Vec<_>>()
    });
    match checked {
        Ok(person) if problems.is_empty() => Ok(Row {
            row: line,
            person,
            retired,
        }),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

/// The items of a list cell: separated by `;` or `；`, blanks dropped.
fn items(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '；'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The CSV column of an entry field's problem.
fn column_of(p: &FieldProblem) -> &'static str {
    let field = p.field.split(['[', '.']).next().unwrap_or("");
    match field {
        "external_id" => "宛名番号",
        "name" => "氏名",
        "kana" => "ふりがな",
        "birth_date" => "生年月日",
        "address" => "住所",
        "area" => "町丁目",
        "phone" => "電話",
        "reasons" => "理由",
        "emergency_contacts" => "緊急連絡先",
        "helpers" => "支援者",
        "location" if p.field.ends_with("longitude") => "経度",
        "location" => "緯度",
        "notes" => "備考",
        _ => "",
    }
}

/// A reason as the CSV names it: the Japanese word or the API's code.
fn reason_kind(word: &str) -> Option<ReasonKind> {
    ReasonKind::parse(word).or(Some(match word {
        "要介護度" | "要介護" | "要支援" => ReasonKind::CareLevel,
        "障害" => ReasonKind::Disability,
        "人工呼吸器" => ReasonKind::Ventilator,
        "在宅酸素" => ReasonKind::HomeOxygen,
        "透析" => ReasonKind::Dialysis,
        "たん吸引" | "吸引" => ReasonKind::Suction,
        "認知症" => ReasonKind::Dementia,
        "寝たきり" => ReasonKind::Bedridden,
        "独居" => ReasonKind::LivesAlone,
        "難病" => ReasonKind::IntractableDisease,
        "視覚・聴覚" | "視覚障害" | "聴覚障害" => ReasonKind::SensoryImpairment,
        "乳幼児・妊産婦" | "乳幼児" | "妊産婦" => ReasonKind::InfantOrPregnant,
        "日本語" | "外国人" => ReasonKind::LanguageBarrier,
        "その他" => ReasonKind::Other,
        _ => return None,
    }))
}

fn reason_word(kind: ReasonKind) -> &'static str {
    match kind {
        ReasonKind::CareLevel => "要介護度",
        ReasonKind::Disability => "障害",
        ReasonKind::Ventilator => "人工呼吸器",
        ReasonKind::HomeOxygen => "在宅酸素",
        ReasonKind::Dialysis => "透析",
        ReasonKind::Suction => "たん吸引",
        ReasonKind::Dementia => "認知症",
        ReasonKind::Bedridden => "寝たきり",
        ReasonKind::LivesAlone => "独居",
        ReasonKind::IntractableDisease => "難病",
        ReasonKind::SensoryImpairment => "視覚・聴覚",
        ReasonKind::InfantOrPregnant => "乳幼児・妊産婦",
        ReasonKind::LanguageBarrier => "日本語",
        ReasonKind::Other => "その他",
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The listed entries as the import reads them back: UTF-8 with a byte-order mark, CRLF.
pub fn write(people: &[RegisterPerson]) -> Result<Vec<u8>, csv::Error> {
    let mut out = BOM.to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(COLUMNS)?;
        for p in people {
            let f = &p.fields;
            let contacts = |list: &[RegisterContact]| {
                list.iter()
                    .map(|c| format!("{}/{}/{}", c.name, c.relation, c.phone))
                    .collect::<Vec<_>>()
                    .join(";")
            };
            let record: [String; 18] = [
                f.external_id.clone().unwrap_or_default(),
                f.name.clone(),
                f.kana.clone(),
                f.birth_date.clone().unwrap_or_default(),
                match f.sex {
                    Sex::Female => "女",
                    Sex::Male => "男",
                    Sex::Other => "その他",
                    Sex::Unknown => "不明",
                }
                .into(),
                f.address.clone(),
                f.area.clone(),
                f.phone.clone(),
                match f.household {
                    Household::Alone => "独居",
                    Household::ElderlyOnly => "高齢者のみ",
                    Household::AloneDaytime => "日中独居",
                    Household::WithFamily => "家族同居",
                    Household::Other => "その他",
                }
                .into(),
                f.reasons
                    .iter()
                    .map(|r| {
                        if r.detail.is_empty() {
                            reason_word(r.kind).to_owned()
                        } else {
                            format!("{}:{}", reason_word(r.kind), r.detail)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(";"),
                contacts(&f.emergency_contacts),
                contacts(&f.helpers),
                if f.consent { "あり" } else { "なし" }.into(),
                f.location
                    .map(|l| l.latitude.to_string())
                    .unwrap_or_default(),
                f.location
                    .map(|l| l.longitude.to_string())
                    .unwrap_or_default(),
                match f.label {
                    LabelColour::Red => "赤",
                    LabelColour::Yellow => "黄",
                    LabelColour::Blue => "青",
                }
                .into(),
                f.notes.clone(),
                if p.retired { "除外" } else { "" }.into(),
            ];
            w.write_record(record.iter().map(|c| cell(c)))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// A cell Excel shows and never evaluates (as `record/csv.rs` does): one starting like a
/// formula gets a leading `'`. A phone number `+81…` reads back with it; the import drops it.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}
