//! Home's way into the register: a line for those who see one, and while 災害モード is in
//! force a banner that cannot be missed. Follows 災害モード live (`Frame::RegisterChanged`) and
//! works offline from the kept list of registers.

use crate::i18n::{tr, tr_string};
use crate::register as kept;
use crate::route::{self, Route};
use crate::sync::RegisterNews;
use crate::ui::session::Session;
use dioxus::prelude::*;
use renraku_contract::RegisterLink;
use std::rc::Rc;

fn route_of(link: &RegisterLink, home: &str) -> Route {
    Route::Register {
        of: (link.slug != home).then(|| link.slug.clone()),
    }
}

#[component]
pub fn RegisterEntry() -> Element {
    let session = use_context::<Session>();
    let mut links = use_signal(Vec::<RegisterLink>::new);
    let reload = use_signal(|| 0u64);
    let s = session.clone();
    use_effect(move || {
        let _ = reload();
        let s = s.clone();
        spawn(async move {
            if let Ok(list) = kept::registers(&s.store).await {
                links.set(list);
            }
        });
    });
    let engine = session.engine.clone();
    use_hook(move || {
        Rc::new(engine.on_register_news(move |news| {
            if let RegisterNews::Changed { .. } = news {
                let mut reload = reload;
                reload += 1;
            }
        }))
    });
    let home = session.slug.clone();
    let list = links();
    rsx! {
        // An alert region around the link (a role on the link itself would hide that it is one).
        div { role: "alert",
        for link in list.iter().filter(|l| l.disaster) {
            a {
                key: "d{link.municipality}",
                class: "disaster-banner entry",
                href: "{route_of(link, &home).href()}",
                onclick: {
                    let r = route_of(link, &home);
                    move |e: MouseEvent| { e.prevent_default(); route::go(r.clone()); }
                },
                strong { {tr_string(format!("⚠ 災害モード発令中：{}", link.name), format!("⚠ Disaster mode: {}", link.name))} }
                span { {tr("要援護者名簿・安否確認を開く ›", "Open the assistance register ›")} }
            }
        }
        }
        for link in list.iter().filter(|l| !l.disaster) {
            a {
                key: "n{link.municipality}",
                class: "register-entry",
                href: "{route_of(link, &home).href()}",
                onclick: {
                    let r = route_of(link, &home);
                    move |e: MouseEvent| { e.prevent_default(); route::go(r.clone()); }
                },
                {tr_string(format!("🗺 要援護者名簿（{}）", link.name), format!("🗺 Assistance register ({})", link.name))}
            }
        }
    }
}

/// Sends the safety marks made offline as soon as the network returns, whatever screen is
/// open (the register screen also sends them when it opens). Renders nothing.
#[component]
pub fn MarkSender() -> Element {
    let session = use_context::<Session>();
    let status = session.engine.status();
    let was_online = use_hook(|| Rc::new(std::cell::Cell::new(false)));
    use_effect(move || {
        let online = status() == crate::sync::ConnState::Online;
        if was_online.replace(online) || !online {
            return;
        }
        let s = session.clone();
        spawn(async move {
            let Some(links) =
                crate::api::cached_only::<Vec<RegisterLink>>(&s.store, kept::REGISTERS_URL).await
            else {
                return;
            };
            for link in links {
                if kept::pending(&s.store, &link.slug)
                    .await
                    .iter()
                    .any(|p| p.refused.is_none())
                {
                    let flushed = kept::flush(&s.store, &link.slug).await;
                    if flushed.unauthorized {
                        s.expired();
                        return;
                    }
                }
            }
        });
    });
    rsx! {}
}
