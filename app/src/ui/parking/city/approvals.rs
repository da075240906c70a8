//! 事業所の承認: which organisations' staff may book. The organisations of the municipality
//! (and of those in an agreement it opened its parking into) with whether each is approved;
//! approving is one tap, withdrawing asks again (bookings already made stay).

use super::City;
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{OrganizationChoice, OrganizationKind};
use renraku_sync::OrganizationId;

fn kind_label(kind: OrganizationKind) -> &'static str {
    match kind {
        OrganizationKind::Clinic => tr("診療所", "Clinic"),
        OrganizationKind::Hospital => tr("病院", "Hospital"),
        OrganizationKind::NursingStation => tr("訪問看護", "Home nursing"),
        OrganizationKind::CareOffice => tr("居宅介護支援", "Care management"),
        OrganizationKind::Pharmacy => tr("薬局", "Pharmacy"),
        OrganizationKind::City => tr("市役所", "City"),
        OrganizationKind::Other => tr("その他", "Other"),
    }
}

#[component]
pub(super) fn ApprovalsSection() -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let mut list = use_signal(|| None::<Vec<OrganizationChoice>>);
    let mut error = use_signal(|| None::<String>);
    let mut confirm = use_signal(|| None::<OrganizationId>);
    let mut reload = use_signal(|| 0u64);
    let s = session.clone();
    use_effect(move || {
        let _ = reload();
        let s = s.clone();
        spawn(async move {
            match api::get::<Vec<OrganizationChoice>>(&city.url("/organization-choices")).await {
                Ok(l) => list.set(Some(l)),
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });
    let set = move |org: OrganizationId, on: bool| {
        let s = session.clone();
        spawn(async move {
            let url = city.url(&format!("/organizations/{org}"));
            let answer = if on {
                api::send::<_, ()>("PUT", &url, &serde_json::json!({})).await
            } else {
                api::delete(&url).await
            };
            match answer {
                Ok(()) => {
                    confirm.set(None);
                    error.set(None);
                    reload += 1;
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    let Some(orgs) = list() else {
        return rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } };
    };
    let approved = orgs.iter().filter(|o| o.approved).count();
    let home = orgs.first().map(|o| o.municipality);
    rsx! {
        section { class: "parking-section",
            h2 { {tr("事業所の承認", "Approved organisations")} }
            p { class: "muted",
                {tr_string(format!("承認した事業所の職員だけが予約できます（{} / {} 事業所）。", approved, orgs.len()),
                    format!("Only staff of approved organisations may book ({} of {}).", approved, orgs.len()))}
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            ul { class: "parking-list",
                for o in orgs {
                    li { key: "{o.organization}", class: if o.approved { "parking-item approved" } else { "parking-item" },
                        div { class: "item-head",
                            strong { "{o.name}" }
                            if o.approved {
                                span { class: "tag open", {tr("承認済み", "Approved")} }
                            } else {
                                span { class: "tag", {tr("未承認", "Not approved")} }
                            }
                        }
                        p { class: "muted",
                            "{kind_label(o.kind)}"
                            if Some(o.municipality) != home {
                                " · {o.municipality_name}"
                            }
                        }
                        div { class: "row",
                            if !o.approved {
                                button {
                                    r#type: "button",
                                    class: "primary",
                                    aria_label: tr_string(format!("{} を承認する", o.name), format!("Approve {}", o.name)),
                                    onclick: {
                                        let set = set.clone();
                                        move |_| set(o.organization, true)
                                    },
                                    {tr("承認する", "Approve")}
                                }
                            } else if confirm() == Some(o.organization) {
                                p { {tr("承認を取り消すと、この事業所の職員は新しく予約できなくなります（予約済みの分は残ります）。", "Staff of this organisation will not be able to book any more (bookings made stay).")} }
                                button {
                                    r#type: "button",
                                    class: "primary danger-fill",
                                    onclick: {
                                        let set = set.clone();
                                        move |_| set(o.organization, false)
                                    },
                                    {tr("取り消す", "Withdraw")}
                                }
                                button { r#type: "button", class: "secondary", onclick: move |_| confirm.set(None), {tr("やめる", "Cancel")} }
                            } else {
                                button {
                                    r#type: "button",
                                    class: "secondary danger",
                                    aria_label: tr_string(format!("{} の承認を取り消す", o.name), format!("Withdraw {}", o.name)),
                                    onclick: move |_| confirm.set(Some(o.organization)),
                                    {tr("承認を取り消す…", "Withdraw…")}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
