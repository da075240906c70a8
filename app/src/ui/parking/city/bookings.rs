//! 予約: the bookings of one space, or of every space, over a few days: when, which space,
//! which organisation, which plate — all a booking holds (never a patient). The city may
//! cancel one that is still ahead (asked again first).

use super::{date_string, day_of, day_start, go, jst_day, status_label, when, City, Section};
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use dioxus::prelude::*;
use renraku_contract::{Booking, BookingId, BookingStatus, SpaceId};

#[component]
pub(super) fn BookingsSection(space: Option<SpaceId>) -> Element {
    let city = use_context::<City>();
    let session = use_context::<Session>();
    let today = jst_day(crate::clock::server_now_ms());
    let mut from = use_signal(|| date_string(today));
    let mut to = use_signal(|| date_string(today + 6));
    let mut list = use_signal(|| None::<Vec<Booking>>);
    let mut error = use_signal(|| None::<String>);
    let mut confirm = use_signal(|| None::<BookingId>);
    let mut reload = use_signal(|| 0u64);
    let spaces = city.spaces.read().clone().unwrap_or_default();
    let ids: Vec<SpaceId> = match space {
        Some(id) => vec![id],
        None => spaces.iter().map(|s| s.id).collect(),
    };
    let s = session.clone();
    use_effect(use_reactive!(|ids| {
        let _ = reload();
        let (f, t) = (day_of(&from()), day_of(&to()));
        let s = s.clone();
        let ids = ids.clone();
        spawn(async move {
            let (Some(f), Some(t)) = (f, t) else {
                return error.set(Some(
                    tr("期間を選んでください。", "Choose the dates.").into(),
                ));
            };
            let (a, b) = (day_start(f), day_start(t.max(f) + 1));
            let mut all = Vec::new();
            for id in ids {
                match api::get::<Vec<Booking>>(
                    &city.url(&format!("/spaces/{id}/bookings?from={a}&to={b}")),
                )
                .await
                {
                    Ok(mut l) => all.append(&mut l),
                    Err(e) if e.is_unauthorized() => return s.expired(),
                    Err(e) => return error.set(Some(e.message())),
                }
            }
            all.sort_by_key(|b| (b.start, b.space));
            error.set(None);
            list.set(Some(all));
        });
    }));
    let cancel = move |id: BookingId| {
        let s = session.clone();
        spawn(async move {
            match api::post::<_, Booking>(
                &city.url(&format!("/bookings/{id}/cancel")),
                &serde_json::json!({}),
            )
            .await
            {
                Ok(_) => {
                    confirm.set(None);
                    reload += 1;
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    let now = crate::clock::server_now_ms();
    let shown = list();
    rsx! {
        section { class: "parking-section",
            h2 { {tr("予約", "Bookings")} }
            label { class: "field",
                {tr("駐車場", "Space")}
                select {
                    name: "bookings-space",
                    onchange: move |e| go(Section::Bookings(e.value().parse().ok().map(SpaceId))),
                    option { value: "", selected: space.is_none(), {tr("すべての駐車場", "Every space")} }
                    for sp in spaces.iter() {
                        option { key: "{sp.id}", value: "{sp.id}", selected: Some(sp.id) == space, "{sp.fields.name}" }
                    }
                }
            }
            div { class: "two",
                label { class: "field",
                    {tr("いつから", "From")}
                    input { r#type: "date", name: "bookings-from", value: "{from}", oninput: move |e| from.set(e.value()) }
                }
                label { class: "field",
                    {tr("いつまで", "To")}
                    input { r#type: "date", name: "bookings-to", value: "{to}", oninput: move |e| to.set(e.value()) }
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            match shown {
                None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                Some(l) if l.is_empty() => rsx! { p { class: "muted", {tr("この期間の予約はありません。", "No bookings in these dates.")} } },
                Some(l) => rsx! {
                    p { class: "muted", {tr_string(format!("{} 件", l.len()), format!("{} bookings", l.len()))} }
                    ul { class: "parking-list bookings",
                        for b in l {
                            li { key: "{b.id}", class: if b.status == BookingStatus::Cancelled { "parking-item booking cancelled" } else { "parking-item booking" },
                                div { class: "item-head",
                                    strong { "{when(b.start, b.end)}" }
                                    span { class: "tag", "{status_label(&b)}" }
                                }
                                p { "{b.space_name}" }
                                p { class: "booking-who",
                                    span { "{b.organization_name}" }
                                    span { class: "plate", "{b.plate}" }
                                }
                                if b.status == BookingStatus::Booked && b.end > now {
                                    if confirm() == Some(b.id) {
                                        div { class: "row",
                                            button {
                                                r#type: "button",
                                                class: "primary danger-fill",
                                                onclick: {
                                                    let cancel = cancel.clone();
                                                    move |_| cancel(b.id)
                                                },
                                                {tr("予約を取り消す", "Cancel the booking")}
                                            }
                                            button { r#type: "button", class: "secondary", onclick: move |_| confirm.set(None), {tr("やめる", "Keep it")} }
                                        }
                                    } else {
                                        div { class: "row",
                                            button {
                                                r#type: "button",
                                                class: "secondary danger",
                                                onclick: move |_| confirm.set(Some(b.id)),
                                                {tr("取り消す…", "Cancel…")}
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                },
            }
        }
    }
}
