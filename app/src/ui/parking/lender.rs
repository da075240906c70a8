//! A lender's own screen (`/{m}/parking/lender`): the spaces they lend, each with its
//! bookings ahead (organisation, plate, time — not even who booked), pausing and resuming
//! a space (asked again with how many bookings are ahead: those bookers get a push), and a
//! trouble report to the city.

use super::city::{bookings_ahead, photo_url, when_label, PauseControl};
use crate::admin::Session;
use crate::api;
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab};
use crate::ui::widgets::TopBar;
use dioxus::prelude::*;
use renraku_contract::{Booking, NewTrouble, ParkingOverview, Space, Trouble};

#[component]
pub fn LenderScreen() -> Element {
    let session = use_context::<Session>();
    let slug = session.slug.clone();
    let mut spaces = use_signal(|| None::<Vec<Space>>);
    let mut error = use_signal(|| None::<String>);
    let s = session.clone();
    let sl = slug.clone();
    use_effect(move || {
        let (s, slug) = (s.clone(), sl.clone());
        spawn(async move {
            let o = api::get::<ParkingOverview>(&format!("/api/parking/{slug}")).await;
            match o {
                Ok(o) if !o.lender_of.is_empty() => {}
                Ok(_) | Err(api::ApiError::Status { status: 404, .. }) => {
                    return spaces.set(Some(vec![]));
                }
                Err(e) if e.is_unauthorized() => return s.expired(),
                Err(e) => return error.set(Some(e.message())),
            }
            match api::get::<Vec<Space>>(&format!("/api/parking/{slug}/spaces")).await {
                Ok(l) => spaces.set(Some(l)),
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });
    rsx! {
        TopBar {
            title: tr("貸している駐車場", "My parking spaces").to_owned(),
            on_back: move |_| route::back(Route::Home(Tab::Patients)),
        }
        main { class: "parking-city parking-lender",
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            match spaces() {
                None => rsx! { p { class: "muted pad", {tr("読み込み中…", "Loading…")} } },
                Some(l) if l.is_empty() => rsx! {
                    p { class: "pad", {tr("貸している駐車場はありません。", "You lend no parking spaces.")} }
                },
                Some(l) => rsx! {
                    p { class: "muted pad-x",
                        {tr("予約には事業所名・ナンバー・時間だけが表示されます。休止すると新しい予約を受け付けません。", "Bookings show the organisation, the plate and the time. A paused space takes no new bookings.")}
                    }
                    ul { class: "parking-list",
                        for sp in l {
                            li { key: "{sp.id}", class: if sp.paused { "parking-item paused" } else { "parking-item" },
                                LenderSpace { slug: slug.clone(), space: sp.clone(), on_change: move |changed: Space| {
                                    spaces.with_mut(|list| {
                                        if let Some(s) = list.as_mut().and_then(|l| l.iter_mut().find(|s| s.id == changed.id)) {
                                            *s = changed;
                                        }
                                    });
                                } }
                            }
                        }
                    }
                },
            }
        }
    }
}

#[component]
fn LenderSpace(slug: String, space: Space, on_change: EventHandler<Space>) -> Element {
    let session = use_context::<Session>();
    let id = space.id;
    let mut ahead = use_signal(|| None::<Vec<Booking>>);
    let mut error = use_signal(|| None::<String>);
    let mut reporting = use_signal(|| false);
    let mut report = use_signal(String::new);
    let mut sent = use_signal(|| false);
    let mut reload = use_signal(|| 0u64);
    let sl = slug.clone();
    let s = session.clone();
    use_effect(move || {
        let _ = reload();
        let (slug, s) = (sl.clone(), s.clone());
        spawn(async move {
            match bookings_ahead(&slug, id).await {
                Ok(l) => ahead.set(Some(l)),
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });
    let send_report = {
        let (slug, s) = (slug.clone(), session.clone());
        move |e: FormEvent| {
            e.prevent_default();
            let body = report.peek().trim().to_owned();
            if body.is_empty() {
                return;
            }
            let (slug, s) = (slug.clone(), s.clone());
            spawn(async move {
                let t = NewTrouble {
                    space: Some(id),
                    booking: None,
                    body,
                };
                match api::post::<_, Trouble>(&format!("/api/parking/{slug}/troubles"), &t).await {
                    Ok(_) => {
                        report.set(String::new());
                        reporting.set(false);
                        sent.set(true);
                    }
                    Err(e) if e.is_unauthorized() => s.expired(),
                    Err(e) => error.set(Some(e.explain())),
                }
            });
        }
    };
    let thumb = photo_url(&slug, &space, true);
    rsx! {
        div { class: "item-head",
            strong { "{space.fields.name}" }
            if space.paused {
                span { class: "tag paused", {tr("休止中", "Paused")} }
            } else {
                span { class: "tag open", {tr("受付中", "Open")} }
            }
        }
        div { class: "item-body",
            if let Some(src) = thumb {
                img { class: "space-thumb", src: "{src}", alt: tr_string(format!("{} の写真", space.fields.name), format!("Photo of {}", space.fields.name)) }
            }
            p { class: "muted", "{space.fields.address}" }
        }
        h3 { class: "small-head", {tr("これからの予約", "Bookings ahead")} }
        match ahead() {
            None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
            Some(l) if l.is_empty() => rsx! { p { class: "muted", {tr("予約はありません。", "No bookings.")} } },
            Some(l) => rsx! {
                ul { class: "lender-bookings",
                    for b in l {
                        li { key: "{b.id}",
                            strong { "{when_label(b.start, b.end)}" }
                            span { "{b.organization_name}" }
                            span { class: "plate", "{b.plate}" }
                        }
                    }
                }
            },
        }
        div { class: "row",
            PauseControl {
                slug: slug.clone(),
                space: space.clone(),
                on_done: move |changed: Space| {
                    on_change.call(changed);
                    reload += 1;
                },
            }
            if !reporting() {
                button { r#type: "button", class: "secondary", onclick: move |_| { reporting.set(true); sent.set(false); }, {tr("トラブルを報告…", "Report a trouble…")} }
            }
        }
        if reporting() {
            form { class: "parking-form", onsubmit: send_report,
                label { class: "field",
                    {tr("市に伝えること（例: 予約のない車が停まっていた）", "What to tell the city (e.g. a car without a booking)")}
                    textarea { name: "trouble-body", rows: "3", maxlength: "2000", value: "{report}", oninput: move |e| report.set(e.value()) }
                }
                div { class: "row",
                    button { r#type: "submit", class: "primary", disabled: report().trim().is_empty(), {tr("市に送る", "Send to the city")} }
                    button { r#type: "button", class: "secondary", onclick: move |_| reporting.set(false), {tr("やめる", "Cancel")} }
                }
            }
        }
        if sent() {
            p { class: "notice", role: "status", {tr("市に報告しました。", "Reported to the city.")} }
        }
        if let Some(msg) = error() {
            p { class: "error", role: "alert", "{msg}" }
        }
    }
}
