//! 要援護者名簿 (issue 16): the people of a municipality who need help in a disaster, as a list
//! and on a map, for the responders the city designated — and, in 災害モード, the 安否確認.
//!
//! Both views work from the last known register kept on the device (`crate::register`): in
//! a disaster the network goes first. Marks made offline wait in the mark outbox and are sent
//! when the network returns; marks by other responders arrive live over the sync socket
//! (`Frame::RegisterMarked`) and re-sort the list at once. The list's filter and order are
//! the server's own rule (`RegisterQuery::keeps`, `sort_register` in `renraku-contract`).

mod card;
mod edit;
mod entry;
mod labels;
mod list;
mod manage;
mod map_view;

use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::register::{self as kept, PendingMark};
use crate::route::{self, Route, Tab};
use crate::sync::{ConnState, RegisterNews};
use crate::ui::session::Session;
use crate::ui::widgets::TopBar;
use dioxus::prelude::*;
pub use entry::{MarkSender, RegisterEntry};
use renraku_contract::{
    apply_mark, sort_register, LabelColour, OfflineTiles, RegisterOverview, RegisterPerson,
    RegisterPersonId, RegisterQuery, RegisterScope, SafetyStatus, TileSet,
};
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    List,
    Map,
    /// Administrators' and editors' tools.
    Manage,
}

/// Everything the views and the card share.
#[derive(Clone, Copy, PartialEq)]
struct Screen {
    slug: Signal<String>,
    overview: Signal<Option<RegisterOverview>>,
    people: Signal<Option<Vec<RegisterPerson>>>,
    pending: Signal<Vec<PendingMark>>,
    query: Signal<RegisterQuery>,
    selected: Signal<Option<RegisterPersonId>>,
    /// A person whose pin the next tap on the map places.
    placing: Signal<Option<RegisterPersonId>>,
    view: Signal<View>,
    tiles: Signal<Option<TileSet>>,
    /// Shown at the top: what happened to the marks sent, or why something failed.
    notice: Signal<Option<String>>,
    /// Bumped to read the register again.
    reload: Signal<u64>,
    /// The entry form is open: `Some(None)` for a new entry.
    editing: Signal<Option<Option<RegisterPersonId>>>,
}

impl Screen {
    fn disaster(&self) -> bool {
        self.overview
            .read()
            .as_ref()
            .is_some_and(|o| o.disaster.is_some())
    }

    /// May record safety marks: a responder, in 災害モード, seeing the register.
    fn marks(&self) -> bool {
        self.overview.read().as_ref().is_some_and(|o| {
            o.responder && o.disaster.is_some() && o.scope != RegisterScope::Nothing
        })
    }

    fn manages(&self) -> bool {
        self.overview
            .read()
            .as_ref()
            .is_some_and(|o| o.scope == RegisterScope::Manage)
    }

    /// The list as filtered, in the register's order.
    fn shown(&self) -> Vec<RegisterPerson> {
        let q = self.query.read();
        self.people
            .read()
            .iter()
            .flatten()
            .filter(|p| q.keeps(p))
            .cloned()
            .collect()
    }

    fn person(&self, id: RegisterPersonId) -> Option<RegisterPerson> {
        self.people
            .read()
            .as_ref()?
            .iter()
            .find(|p| p.id == id)
            .cloned()
    }
}

/// Sorts after a change of status, applying the marks still waiting here.
fn settle(
    people: &mut [RegisterPerson],
    pending: &[PendingMark],
    me: renraku_sync::UserId,
    name: &str,
) {
    kept::with_pending(people, pending, me, name);
    sort_register(people);
}

#[component]
pub fn RegisterScreen(of: String) -> Element {
    let session = use_context::<Session>();
    let screen = Screen {
        slug: use_signal(|| of.clone()),
        overview: use_signal(|| None),
        people: use_signal(|| None),
        pending: use_signal(Vec::new),
        query: use_signal(RegisterQuery::default),
        selected: use_signal(|| None),
        placing: use_signal(|| None),
        view: use_signal(|| View::List),
        tiles: use_signal(|| None),
        notice: use_signal(|| None),
        reload: use_signal(|| 0),
        editing: use_signal(|| None),
    };
    use_context_provider(|| screen);
    let mut error = use_signal(|| None::<String>);
    // Showing the copy kept on the device (the server could not be reached).
    let mut offline_copy = use_signal(|| false);
    let mut reload = screen.reload;
    let kept_map = use_hook(|| Rc::new(std::cell::Cell::new(false)));
    let me = session.me.user.id;
    let my_name = session.me.user.display_name.clone();

    // Load: the kept copy at once, then the marks waiting here go out, then the server's.
    let s = session.clone();
    let name = my_name.clone();
    use_effect(move || {
        let _ = reload();
        let (s, name, kept_map) = (s.clone(), name.clone(), kept_map.clone());
        let slug = screen.slug.peek().clone();
        let mut sc = screen;
        spawn(async move {
            let store = &s.store;
            let pending = kept::pending(store, &slug).await;
            sc.pending.set(pending.clone());
            if sc.people.peek().is_none() {
                if let (Some(o), Some(mut p)) = (
                    api::cached_only::<RegisterOverview>(store, &kept::overview_url(&slug)).await,
                    api::cached_only::<Vec<RegisterPerson>>(store, &kept::people_url(&slug)).await,
                ) {
                    settle(&mut p, &pending, me, &name);
                    sc.overview.set(Some(o));
                    sc.people.set(Some(p));
                }
            }
            if pending.iter().any(|p| p.refused.is_none()) {
                let flushed = kept::flush(store, &slug).await;
                if flushed.unauthorized {
                    s.expired();
                    return;
                }
                report(sc, &flushed);
                sc.pending.set(kept::pending(store, &slug).await);
            }
            if sc.tiles.peek().is_none() {
                if let Ok(t) = api::cached_get::<TileSet>(store, kept::TILES_URL).await {
                    sc.tiles.set(Some(t));
                }
            }
            let overview =
                api::cached_get_telling::<RegisterOverview>(store, &kept::overview_url(&slug))
                    .await;
            let people =
                api::cached_get_telling::<Vec<RegisterPerson>>(store, &kept::people_url(&slug))
                    .await;
            match (overview, people) {
                (Ok((o, off1)), Ok((mut p, off2))) => {
                    let pending = sc.pending.peek().clone();
                    settle(&mut p, &pending, me, &name);
                    offline_copy.set(off1 || off2);
                    sc.overview.set(Some(o));
                    sc.people.set(Some(p.clone()));
                    error.set(None);
                    let online = !(off1 || off2);
                    if online && !kept_map.replace(true) {
                        keep_map_offline(store, &p).await;
                    }
                }
                (Err(e), _) | (_, Err(e)) if e.is_unauthorized() => s.expired(),
                (Err(ApiError::Offline), _) | (_, Err(ApiError::Offline)) => {
                    offline_copy.set(true);
                    if sc.people.peek().is_none() {
                        error.set(Some(
                            tr(
                                "オフラインです。この端末にはまだ名簿が保存されていません。電波のある場所で一度開いてください。",
                                "Offline, and this device has not kept the register yet. Open it once where there is a signal.",
                            )
                            .to_owned(),
                        ));
                    }
                }
                (Err(e), _) | (_, Err(e)) => error.set(Some(e.message())),
            }
        });
    });

    // Marks by other responders, live; anything else: read again.
    let name = my_name.clone();
    let store = session.store.clone();
    let engine = session.engine.clone();
    use_hook(move || {
        let name = name.clone();
        Rc::new(engine.on_register_news(move |news| {
            let (mut sc, mut reload) = (screen, reload);
            let ours = sc.overview.peek().as_ref().map(|o| o.municipality);
            match news {
                RegisterNews::Marked { municipality, mark } if Some(*municipality) == ours => {
                    // One of mine, sent from here (or by `MarkSender`): stored now.
                    if sc.pending.peek().iter().any(|p| p.mark.id == mark.id) {
                        sc.pending.with_mut(|p| p.retain(|p| p.mark.id != mark.id));
                    }
                    let mut changed = false;
                    sc.people.with_mut(|list| {
                        if let Some(list) = list.as_mut() {
                            if let Some(p) = list.iter_mut().find(|p| p.id == mark.person) {
                                changed = p.safety.is_some() && apply_mark(p, mark.clone());
                            }
                            if changed {
                                settle(list, &sc.pending.peek(), me, &name);
                            }
                        }
                    });
                    if changed {
                        let list = sc.people.peek().clone().unwrap_or_default();
                        let (store, slug) = (store.clone(), sc.slug.peek().clone());
                        wasm_bindgen_futures::spawn_local(async move {
                            kept::keep_people(&store, &slug, &list).await;
                        });
                    }
                }
                RegisterNews::Changed { municipality } if Some(*municipality) == ours => {
                    reload += 1;
                }
                _ => {}
            }
        }))
    });

    // Back online: what waited goes out, and the list is read again.
    let status = session.engine.status();
    let was_online = use_hook(|| Rc::new(std::cell::Cell::new(None::<bool>)));
    use_effect(move || {
        let online = status() == ConnState::Online;
        if was_online.replace(Some(online)) == Some(false) && online {
            reload += 1;
        }
    });

    // No kept copy of this screen is painted before the wasm (`kept_screen`): it holds
    // people's data, and the register keeps its own copy.
    crate::ui::kept_screen::reveal();
    let overview = screen.overview.read().clone();
    let title = overview
        .as_ref()
        .map(|o| o.municipality_name.clone())
        .unwrap_or_default();
    let view = (screen.view)();
    let shown = screen.shown();
    let total = screen.people.read().as_ref().map_or(0, Vec::len);
    let slug = screen.slug.read().clone();
    let export = export_url(&slug, &screen.query.read());
    rsx! {
        TopBar {
            title: tr("要援護者名簿", "Assistance register").to_owned(),
            subtitle: Some(title),
            on_back: move |_| route::back(Route::Home(Tab::Patients)),
        }
        main { class: "register",
            if let Some(d) = overview.as_ref().and_then(|o| o.disaster.as_ref()) {
                div { class: "disaster-banner", role: "alert",
                    strong { {tr("災害モード発令中", "Disaster mode")} }
                    span { " {d.reason}" }
                    span { class: "muted", {tr_string(format!(" （{} から）", crate::util::short_time(d.started_at)), format!(" (since {})", crate::util::short_time(d.started_at)))} }
                }
            }
            if offline_copy() {
                p { class: "offline-copy", role: "status",
                    {tr("オフライン：端末に保存された名簿を表示しています。", "Offline: showing the register kept on this device.")}
                }
            }
            if let Some(n) = (screen.notice)() {
                p { class: "notice", role: "status", "{n}" }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            nav { class: "tabs register-tabs", role: "tablist",
                button {
                    role: "tab",
                    r#type: "button",
                    aria_selected: if view == View::List { "true" } else { "false" },
                    class: if view == View::List { "tab active" } else { "tab" },
                    onclick: move |_| { let mut v = screen.view; v.set(View::List) },
                    {tr("一覧", "List")}
                }
                button {
                    role: "tab",
                    r#type: "button",
                    aria_selected: if view == View::Map { "true" } else { "false" },
                    class: if view == View::Map { "tab active" } else { "tab" },
                    onclick: move |_| { let mut v = screen.view; v.set(View::Map) },
                    {tr("地図", "Map")}
                }
                if screen.manages() {
                    button {
                        role: "tab",
                        r#type: "button",
                        aria_selected: if view == View::Manage { "true" } else { "false" },
                        class: if view == View::Manage { "tab active" } else { "tab" },
                        onclick: move |_| { let mut v = screen.view; v.set(View::Manage) },
                        {tr("管理", "Manage")}
                    }
                }
            }
            if screen.disaster() {
                Summary {}
            }
            if view == View::Manage {
                manage::ManagePanel {}
            } else if view == View::List {
                list::Filters {}
            } else {
                details { class: "map-filters",
                    summary { {tr("絞り込み", "Filters")} }
                    list::Filters {}
                }
            }
            p { class: "muted count", role: "status",
                {tr_string(format!("{} 人中 {} 人を表示", total, shown.len()), format!("Showing {} of {}", shown.len(), total))}
                if screen.people.read().is_some() && !offline_copy() {
                    " · "
                    button {
                        class: "link",
                        r#type: "button",
                        onclick: move |_| {
                            let export = export.clone();
                            let mut notice = screen.notice;
                            spawn(async move {
                                if let Err(e) = crate::api::download(&export).await {
                                    notice.set(Some(e.message()));
                                }
                            });
                        },
                        {tr("CSV出力", "Export CSV")}
                    }
                }
            }
            match view {
                View::List | View::Manage => rsx! { list::PeopleList { people: shown } },
                View::Map => rsx! { map_view::MapPanel {} },
            }
            Legend {}
        }
        if let Some(id) = (screen.selected)() {
            card::PersonCard { key: "{id}", id }
        }
        if let Some(id) = (screen.editing)() {
            edit::EditSheet { key: "{id:?}", id }
        }
    }
}

/// Says what sending the waiting marks did.
fn report(mut sc: Screen, flushed: &kept::Flushed) {
    if !flushed.refused.is_empty() {
        let why = flushed
            .refused
            .iter()
            .map(|(_, w)| w.as_str())
            .collect::<Vec<_>>()
            .join(" / ");
        sc.notice.set(Some(tr_string(
            format!("送信できなかった安否記録があります: {why}"),
            format!("Some safety marks were refused: {why}"),
        )));
    } else if !flushed.stored.is_empty() && flushed.waiting == 0 {
        let n = flushed.stored.len();
        sc.notice.set(Some(tr_string(
            format!("保存していた安否記録 {n} 件を送信しました。"),
            format!("Sent {n} safety marks kept on this device."),
        )));
    }
}

/// Asks the server which tiles cover the people (within its budget) and the service worker
/// to keep them, with the map library.
async fn keep_map_offline(store: &crate::store::Store, people: &[RegisterPerson]) {
    let located: Vec<_> = people
        .iter()
        .filter_map(|p| p.fields.location.as_ref())
        .collect();
    if located.is_empty() {
        return;
    }
    let tiles = api::cached_only::<TileSet>(store, kept::TILES_URL).await;
    if !tiles.is_some_and(|t| t.configured) {
        return;
    }
    let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for l in located {
        w = w.min(l.longitude);
        e = e.max(l.longitude);
        s = s.min(l.latitude);
        n = n.max(l.latitude);
    }
    // About a kilometre around: the roads to the furthest person.
    let pad = 0.01;
    let url = format!(
        "/api/tiles/offline?bbox={:.5},{:.5},{:.5},{:.5}",
        w - pad,
        s - pad,
        e + pad,
        n + pad
    );
    if let Ok(list) = api::get::<OfflineTiles>(&url).await {
        crate::map::keep_offline(&list);
    }
}

fn export_url(slug: &str, q: &RegisterQuery) -> String {
    let mut url = format!("/api/register/{slug}/export?");
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    if let Some(l) = q.label {
        url.push_str(&format!("label={}&", l.as_str()));
    }
    if let Some(s) = q.status {
        url.push_str(&format!("status={}&", s.as_str()));
    }
    if let Some(a) = &q.area {
        url.push_str(&format!("area={}&", enc(a)));
    }
    if let Some(r) = q.reason {
        url.push_str(&format!("reason={}&", r.as_str()));
    }
    if let Some(t) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        url.push_str(&format!("q={}&", enc(t)));
    }
    url.trim_end_matches(['&', '?']).to_owned()
}

/// 安否確認 at a glance: people by status (tap: only them), and by status × colour.
#[component]
fn Summary() -> Element {
    let screen = use_context::<Screen>();
    let people = screen.people.read().clone().unwrap_or_default();
    let count = |s: SafetyStatus, l: Option<LabelColour>| {
        people
            .iter()
            .filter(|p| p.safety.as_ref().is_some_and(|x| x.status == s))
            .filter(|p| l.is_none_or(|l| p.fields.label == l))
            .count()
    };
    let current = screen.query.read().status;
    rsx! {
        section { class: "summary", aria_label: tr("安否確認の集計", "Safety check summary"),
            div { class: "status-chips",
                for s in labels::STATUS_ORDER {
                    button {
                        key: "{s.as_str()}",
                        r#type: "button",
                        class: "chip status-{s.as_str()}",
                        aria_pressed: if current == Some(s) { "true" } else { "false" },
                        onclick: move |_| {
                            let mut q = screen.query;
                            q.with_mut(|q| q.status = if q.status == Some(s) { None } else { Some(s) });
                        },
                        span { class: "badge-glyph", "{labels::status_badge(s)}" }
                        " {labels::status(s)} "
                        strong { "{count(s, None)}" }
                    }
                }
            }
            details {
                summary { {tr("色別の内訳", "By colour")} }
                table { class: "summary-table",
                    thead {
                        tr {
                            th {}
                            for l in LabelColour::ALL {
                                th { key: "{l.as_str()}", "{labels::colour(*l)}" }
                            }
                        }
                    }
                    tbody {
                        for s in labels::STATUS_ORDER {
                            tr { key: "{s.as_str()}",
                                th { "{labels::status(s)}" }
                                for l in LabelColour::ALL {
                                    td { key: "{l.as_str()}", "{count(s, Some(*l))}" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What each colour means here, and what the status badges say.
#[component]
fn Legend() -> Element {
    let screen = use_context::<Screen>();
    let legend = screen
        .overview
        .read()
        .as_ref()
        .map(|o| o.legend.clone())
        .unwrap_or_default();
    rsx! {
        details { class: "legend", open: true,
            summary { {tr("凡例", "Legend")} }
            ul {
                for e in legend {
                    li { key: "{e.label.as_str()}",
                        span { class: "dot label-{e.label.as_str()}", aria_hidden: "true" }
                        strong { "{labels::colour(e.label)}" }
                        " {e.meaning}"
                    }
                }
                if screen.disaster() {
                    for s in labels::STATUS_ORDER {
                        li { key: "{s.as_str()}",
                            span { class: "badge-glyph status-{s.as_str()}", "{labels::status_badge(s)}" }
                            " {labels::status(s)}"
                        }
                    }
                }
            }
        }
    }
}
