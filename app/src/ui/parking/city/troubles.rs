//! トラブル報告: what lenders, bookers and the city reported, newest first.

use super::{clock, jst_day, short_date, City};
use crate::admin::Session;
use crate::api;
use crate::i18n::tr;
use dioxus::prelude::*;
use renraku_contract::{Trouble, TroubleSide};

fn side_label(side: TroubleSide) -> &'static str {
    match side {
        TroubleSide::Lender => tr("貸主", "Lender"),
        TroubleSide::Booker => tr("予約者", "Booker"),
        TroubleSide::City => tr("市", "City"),
    }
}

#[component]
pub(super) fn TroublesSection() -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let mut list = use_signal(|| None::<Vec<Trouble>>);
    let mut error = use_signal(|| None::<String>);
    use_effect(move || {
        let s = session.clone();
        spawn(async move {
            match api::get::<Vec<Trouble>>(&city.url("/troubles")).await {
                Ok(l) => list.set(Some(l)),
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });
    rsx! {
        section { class: "parking-section",
            h2 { {tr("トラブル報告", "Trouble reports")} }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            match list() {
                None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                Some(l) if l.is_empty() => rsx! { p { class: "muted", {tr("報告はありません。", "No reports.")} } },
                Some(l) => rsx! {
                    ul { class: "parking-list",
                        for t in l {
                            li { key: "{t.id}", class: "parking-item",
                                div { class: "item-head",
                                    strong { "{short_date(jst_day(t.created_at))} {clock(t.created_at)}" }
                                    span { class: "tag", "{side_label(t.side)}" }
                                }
                                p { class: "muted",
                                    "{t.reporter_name}"
                                    if let Some(sp) = t.space {
                                        " · {city.space_name(sp)}"
                                    }
                                }
                                p { class: "trouble-body", "{t.body}" }
                            }
                        }
                    }
                },
            }
        }
    }
}
