//! The directory of colleagues, for choosing whom to message: the professionals of the
//! user's own municipality (wide-area agreements extend it later).

use super::ApiQuery;
use crate::auth::CurrentUser;
use crate::db::users::{Colleague, Profession};
use crate::error::Result;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

/// At most this many colleagues per answer: enough to scroll, small enough for a phone.
const MAX_RESULTS: usize = 500;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Part of a name, kana, organization or profession (日本語 or English); empty: everyone.
    #[serde(default)]
    pub q: String,
}

/// How people name a profession, in both languages, for searching.
fn profession_words(p: Profession) -> &'static str {
    match p {
        Profession::Doctor => "医師 doctor",
        Profession::Nurse => "看護師 nurse",
        Profession::CareManager => "ケアマネジャー ケアマネ 介護支援専門員 care manager",
        Profession::Pharmacist => "薬剤師 pharmacist",
        Profession::Therapist => "リハビリ 理学療法士 作業療法士 言語聴覚士 therapist",
        Profession::Helper => "ヘルパー 介護職 helper care worker",
        Profession::CityStaff => "市職員 行政 city staff",
        Profession::Other => "その他 other",
    }
}

/// Hiragana and katakana match each other, case and spaces do not matter.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn matches(c: &Colleague, needle: &str) -> bool {
    [
        c.display_name.as_str(),
        &c.display_name_kana,
        c.organization_name.as_deref().unwrap_or(""),
        profession_words(c.profession),
    ]
    .iter()
    .any(|field| fold(field).contains(needle))
}

/// Colleagues I can start a message with (not myself, no disabled accounts).
#[utoipa::path(get, path = "/api/directory", tag = "rooms",
    params(DirectoryQuery),
    responses((status = 200, body = Vec<Colleague>),
              (status = 401, body = crate::error::ErrorBody)),
    security(("session" = []), ("cookie" = [])))]
pub async fn directory(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<DirectoryQuery>,
) -> Result<Json<Vec<Colleague>>> {
    let needle = fold(query.q.trim());
    // The own municipality first, then those sharing a wide-area agreement with it.
    // (Those the tenancy rule lets into a message room the user starts.)
    let mut everyone = Vec::new();
    for m in state
        .db
        .agreements_in_force()
        .await?
        .reach(&user.municipality)
    {
        everyone.extend(state.db.colleagues(m).await?);
    }
    let found = everyone
        .into_iter()
        .filter(|c| c.id != user.id && (needle.is_empty() || matches(c, &needle)))
        .take(MAX_RESULTS)
        .collect();
    Ok(Json(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use renraku_sync::UserId;

    fn colleague(name: &str, kana: &str, org: &str, profession: Profession) -> Colleague {
        Colleague {
            id: UserId::new(1),
            display_name: name.into(),
            display_name_kana: kana.into(),
            profession,
            organization_name: Some(org.into()),
        }
    }

    #[test]
    fn finds_by_kana_in_either_script_and_by_profession_in_either_language() {
        let c = colleague(
            "佐藤 花子",
            "さとう はなこ",
            "ひかり訪問看護ステーション",
            Profession::Nurse,
        );
        assert!(matches(&c, &fold("サトウ")));
        assert!(matches(&c, &fold("さとう はな")));
        assert!(matches(&c, &fold("看護師")));
        assert!(matches(&c, &fold("Nurse")));
        assert!(matches(&c, &fold("ひかり")));
        assert!(!matches(&c, &fold("薬剤師")));
    }
}
