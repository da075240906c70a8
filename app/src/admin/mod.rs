//! Administration (`/{m}/admin/…`): the screens of municipality administrators (accounts,
//! organizations, patients, rooms and members, audit log, statistics, お知らせ, 定型文) and of system
//! administrators (maintenance, municipalities, agreements), over `/api/admin/…`.
//!
//! The server decides who may do what; these screens only hide what a role cannot use. Each
//! screen is a module; this one holds the shell (top bar, section strip) and the small form
//! pieces they share. Admin data is never kept in IndexedDB: it is only shown online.

mod agreements;
mod announcements;
mod app;
mod audit;
mod maintenance;
mod municipalities;
mod organizations;
mod patients;
mod rooms;
mod statistics;
mod templates;
mod users;

use crate::api::{self, ApiResult};
use crate::i18n::tr;
use crate::route::{self, Route};
use crate::ui::widgets::TopBar;
use dioxus::prelude::*;

pub use app::{AdminApp, Session};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Users,
    Organizations,
    Patients,
    Rooms,
    Audit,
    Statistics,
    Announcements,
    Templates,
    Maintenance,
    Municipalities,
    Agreements,
}

impl Section {
    const ALL: [Section; 11] = [
        Section::Users,
        Section::Organizations,
        Section::Patients,
        Section::Rooms,
        Section::Audit,
        Section::Statistics,
        Section::Announcements,
        Section::Templates,
        Section::Maintenance,
        Section::Municipalities,
        Section::Agreements,
    ];

    fn path(self) -> &'static str {
        match self {
            Section::Users => "users",
            Section::Organizations => "organizations",
            Section::Patients => "patients",
            Section::Rooms => "rooms",
            Section::Audit => "audit",
            Section::Statistics => "statistics",
            Section::Announcements => "announcements",
            Section::Templates => "templates",
            Section::Maintenance => "maintenance",
            Section::Municipalities => "municipalities",
            Section::Agreements => "agreements",
        }
    }

    fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|x| x.path() == s)
    }

    fn label(self) -> &'static str {
        match self {
            Section::Users => tr("アカウント", "Accounts"),
            Section::Organizations => tr("事業所", "Organizations"),
            Section::Patients => tr("患者", "Patients"),
            Section::Rooms => tr("ルームとメンバー", "Rooms and members"),
            Section::Audit => tr("監査ログ", "Audit log"),
            Section::Statistics => tr("利用統計", "Statistics"),
            Section::Announcements => tr("お知らせ", "Announcements"),
            Section::Templates => tr("定型文", "Templates"),
            Section::Maintenance => tr("メンテナンス", "Maintenance"),
            Section::Municipalities => tr("自治体", "Municipalities"),
            Section::Agreements => tr("広域連携", "Agreements"),
        }
    }

    fn description(self) -> &'static str {
        match self {
            Section::Users => tr(
                "作成・編集・無効化・パスワード再設定",
                "Create, edit, disable, reset passwords",
            ),
            Section::Organizations => tr("医療機関・事業所の登録", "Clinics, stations, offices"),
            Section::Patients => tr("登録・編集・アーカイブ", "Register, edit, archive"),
            Section::Rooms => tr("患者・プロジェクトのメンバー管理", "Who is in which room"),
            Section::Audit => tr("操作の記録と CSV 出力", "What was done, CSV export"),
            Section::Statistics => tr("月ごとの投稿数・利用者数", "Posts and users per month"),
            Section::Announcements => tr("ポータルに表示するお知らせ", "Notices on the portal"),
            Section::Templates => tr("全員が使える投稿の定型文", "Shared post templates"),
            Section::Maintenance => tr("メンテナンス時間帯の予約", "Schedule maintenance"),
            Section::Municipalities => tr("自治体の追加と設定", "Add and configure"),
            Section::Agreements => tr("自治体間の連携協定", "Wide-area collaboration"),
        }
    }

    /// The server lets only system administrators use these (OpenAPI tag `admin_system`).
    fn system_only(self) -> bool {
        matches!(
            self,
            Section::Maintenance | Section::Municipalities | Section::Agreements
        )
    }
}

/// Navigates inside the admin screens.
fn go(path: impl Into<String>) {
    route::go(Route::Admin { path: path.into() });
}

/// `/api/admin/municipalities/{slug}/{rest}`: the municipality in the URL, which for a
/// municipality administrator is always their own.
fn murl(slug: &str, rest: &str) -> String {
    format!("/api/admin/municipalities/{slug}/{rest}")
}

fn is_system(session: &Session) -> bool {
    session.me.user.role == renraku_contract::Role::SystemAdmin
}

/// An API result as a screen shows it; a session that ended sends the user to sign-in.
fn check<T>(session: &Session, result: ApiResult<T>) -> Result<T, String> {
    match result {
        Ok(v) => Ok(v),
        Err(e) if e.is_unauthorized() => {
            session.expired();
            Err(e.message())
        }
        Err(e) => Err(e.explain()),
    }
}

/// A GET for a screen's data.
async fn load<T: serde::de::DeserializeOwned>(session: &Session, url: &str) -> Result<T, String> {
    check(session, api::get(url).await)
}

/// `/{m}/admin/{path}`.
#[component]
pub fn AdminScreen(path: String) -> Element {
    let session = use_context::<Session>();
    if !session.me.user.is_admin() {
        return rsx! {
            TopBar {
                title: tr("管理", "Administration").to_owned(),
                on_back: move |_| route::back(Route::Settings),
            }
            main { class: "card",
                p { class: "error", role: "alert", {tr("管理者のみが使えます。", "For administrators only.")} }
            }
        };
    }
    let system = is_system(&session);
    let mut parts = path.split('/').filter(|s| !s.is_empty());
    let section = parts.next().and_then(Section::parse);
    let rest = parts.next().map(str::to_owned);
    let Some(section) = section.filter(|s| system || !s.system_only()) else {
        return rsx! { Index { system } };
    };
    let screen = match section {
        Section::Users => rsx! { users::Users {} },
        Section::Organizations => rsx! { organizations::Organizations {} },
        Section::Patients => rsx! { patients::Patients {} },
        Section::Rooms => match rest.and_then(|r| r.parse::<i64>().ok()) {
            Some(id) => rsx! { rooms::RoomMembers { key: "{id}", room: id } },
            None => rsx! { rooms::Rooms {} },
        },
        Section::Audit => rsx! { audit::Audit {} },
        Section::Statistics => rsx! { statistics::Statistics {} },
        Section::Announcements => rsx! { announcements::Announcements {} },
        Section::Templates => rsx! { templates::Templates {} },
        Section::Maintenance => rsx! { maintenance::Maintenance {} },
        Section::Municipalities => rsx! { municipalities::Municipalities {} },
        Section::Agreements => rsx! { agreements::Agreements {} },
    };
    rsx! {
        TopBar {
            title: section.label().to_owned(),
            subtitle: Some(format!("{} · {}", tr("管理", "Administration"), session.me.municipality.name)),
            on_back: move |_| route::back(Route::Admin { path: String::new() }),
        }
        SectionStrip { current: section, system }
        main { class: "admin", {screen} }
    }
}

/// The sections this administrator may use, with their URLs.
fn sections(system: bool) -> Vec<(Section, String)> {
    Section::ALL
        .into_iter()
        .filter(|s| system || !s.system_only())
        .map(|s| {
            let href = Route::Admin {
                path: s.path().into(),
            }
            .href();
            (s, href)
        })
        .collect()
}

/// The admin home: one large button per section.
#[component]
fn Index(system: bool) -> Element {
    let session = use_context::<Session>();
    rsx! {
        TopBar {
            title: tr("管理", "Administration").to_owned(),
            subtitle: Some(session.me.municipality.name.clone()),
            on_back: move |_| route::back(Route::Settings),
        }
        main { class: "admin",
            nav { aria_label: tr("管理メニュー", "Administration menu"),
                ul { class: "admin-menu",
                    for (s, href) in sections(system) {
                        li { key: "{s.path()}",
                            a {
                                href: "{href}",
                                onclick: move |e| {
                                    e.prevent_default();
                                    go(s.path());
                                },
                                span { class: "name", "{s.label()}" }
                                span { class: "meta", "{s.description()}" }
                            }
                        }
                    }
                }
            }
            if !system {
                p { class: "muted pad",
                    {tr(
                        "メンテナンス・自治体・広域連携の設定はシステム管理者が行います。",
                        "Maintenance, municipalities and agreements are set by system administrators.",
                    )}
                }
            }
        }
    }
}

/// A strip of the sections under the top bar, scrolled sideways on a phone.
#[component]
fn SectionStrip(current: Section, system: bool) -> Element {
    rsx! {
        nav { class: "admin-strip", aria_label: tr("管理メニュー", "Administration menu"),
            for (s, href) in sections(system) {
                a {
                    key: "{s.path()}",
                    class: if s == current { "chip on" } else { "chip" },
                    aria_current: if s == current { "page" } else { "false" },
                    href: "{href}",
                    onclick: move |e| {
                        e.prevent_default();
                        // Sideways moves replace the entry: back leaves the admin screens.
                        route::replace(Route::Admin { path: s.path().into() });
                    },
                    "{s.label()}"
                }
            }
        }
    }
}

// ---- shared form pieces ----

/// A labelled text input bound to a signal.
#[component]
fn Field(
    id: String,
    label: String,
    value: Signal<String>,
    #[props(default = "text".to_string())] kind: String,
    #[props(default)] required: bool,
    hint: Option<String>,
    autocomplete: Option<String>,
) -> Element {
    let mut value = value;
    let hint_id = format!("{id}-hint");
    let described = hint.as_ref().map(|_| hint_id.clone()).unwrap_or_default();
    rsx! {
        div { class: "admin-field",
            label { r#for: "{id}", "{label}" }
            input {
                id: "{id}",
                r#type: "{kind}",
                required,
                autocomplete: autocomplete.unwrap_or_else(|| "off".into()),
                aria_describedby: "{described}",
                value: "{value}",
                oninput: move |e| value.set(e.value()),
            }
            if let Some(h) = hint {
                small { id: "{hint_id}", class: "muted", "{h}" }
            }
        }
    }
}

/// A labelled multi-line input.
#[component]
fn TextArea(
    id: String,
    label: String,
    value: Signal<String>,
    #[props(default)] required: bool,
) -> Element {
    let mut value = value;
    rsx! {
        div { class: "admin-field",
            label { r#for: "{id}", "{label}" }
            textarea {
                id: "{id}",
                rows: 4,
                required,
                value: "{value}",
                oninput: move |e| value.set(e.value()),
            }
        }
    }
}

/// A labelled select; `options` are (value, label).
#[component]
fn Choice(
    id: String,
    label: String,
    value: Signal<String>,
    options: Vec<(String, String)>,
) -> Element {
    let mut value = value;
    let current = value();
    rsx! {
        div { class: "admin-field",
            label { r#for: "{id}", "{label}" }
            select {
                id: "{id}",
                onchange: move |e| value.set(e.value()),
                for (v, l) in options {
                    option { key: "{v}", value: "{v}", selected: v == current, "{l}" }
                }
            }
        }
    }
}

/// A labelled checkbox.
#[component]
fn Check(id: String, label: String, value: Signal<bool>) -> Element {
    let mut value = value;
    rsx! {
        div { class: "admin-check",
            input {
                id: "{id}",
                r#type: "checkbox",
                checked: value(),
                onchange: move |e| value.set(e.checked()),
            }
            label { r#for: "{id}", "{label}" }
        }
    }
}

/// A form's error, read out when it appears.
#[component]
fn FormError(error: Option<String>) -> Element {
    rsx! {
        if let Some(msg) = error {
            p { class: "error", role: "alert", "{msg}" }
        }
    }
}

/// The body of a list while it loads, or its error.
#[component]
fn LoadState(error: Option<String>) -> Element {
    rsx! {
        if let Some(msg) = error {
            p { class: "error", role: "alert", "{msg}" }
        } else {
            p { class: "muted pad", aria_busy: "true", {tr("読み込み中…", "Loading…")} }
        }
    }
}

/// The professions the server knows, for selects.
fn profession_options() -> Vec<(String, String)> {
    renraku_contract::Profession::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), api::profession_label(*p).to_owned()))
        .collect()
}

// ---- time ----

/// `2026/11/24 09:05` in the device's time zone.
fn date_time(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!(
        "{}/{:02}/{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// The value of a `date` (`YYYY-MM-DD`, start of that day) or `datetime-local` input as unix
/// ms in the device's time zone; `None` when empty or invalid. A bare date would be read as
/// UTC by `Date`, so it gets a local midnight appended.
fn input_ms(value: &str) -> Option<i64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let text = if value.len() == 10 {
        format!("{value}T00:00")
    } else {
        value.to_owned()
    };
    let t = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&text)).get_time();
    (!t.is_nan()).then_some(t as i64)
}

/// The current time as a `datetime-local` value.
fn now_input() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// An error that is not the server's: for checks made before sending.
fn local_error(ja: &'static str, en: &'static str) -> String {
    tr(ja, en).to_owned()
}
