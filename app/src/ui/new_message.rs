//! New message: choose colleagues (search by name, kana, organization, profession), then
//! open a 1:1 room (the existing one if there is one) or a 1:many message room.

use crate::api::{self, Colleague, CreatedRoom, NewMessageRoom};
use crate::i18n::{tr, tr_string};
use crate::route::{self, Route, Tab};
use crate::ui::session::Session;
use crate::ui::widgets::{PersonLine, TopBar};
use crate::util;
use dioxus::prelude::*;
use renraku_sync::UserId;

pub const DIRECTORY_URL: &str = "/api/directory";

#[component]
pub fn NewMessage() -> Element {
    let session = use_context::<Session>();
    let mut people = use_signal(|| None::<Vec<Colleague>>);
    let mut query = use_signal(String::new);
    let mut chosen = use_signal(Vec::<Colleague>::new);
    let mut title = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let s = session.clone();
    use_hook(move || {
        spawn(async move {
            match api::cached_get::<Vec<Colleague>>(&s.store, DIRECTORY_URL).await {
                Ok(list) => people.set(Some(list)),
                Err(e) => error.set(Some(e.message())),
            }
        });
    });

    let chosen_ids: Vec<UserId> = chosen.read().iter().map(|c| c.id).collect();
    let matches: Vec<Colleague> = people()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !chosen_ids.contains(&c.id))
        .filter(|c| {
            util::matches_filter(
                &query(),
                &[
                    &c.display_name,
                    &c.display_name_kana,
                    c.organization_name.as_deref().unwrap_or(""),
                    api::profession_label(c.profession),
                ],
            )
        })
        .take(50)
        .collect();

    let create = move |_| {
        if busy() || chosen.read().is_empty() {
            return;
        }
        busy.set(true);
        error.set(None);
        let members: Vec<UserId> = chosen.read().iter().map(|c| c.id).collect();
        let t = title.peek().trim().to_owned();
        spawn(async move {
            let body = NewMessageRoom {
                title: (!t.is_empty() && members.len() > 1).then_some(t),
                members,
            };
            let result = api::post::<_, CreatedRoom>("/api/rooms/messages", &body).await;
            busy.set(false);
            match result {
                Ok(room) => route::replace(Route::Room(room.id)),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    let n = chosen.read().len();
    rsx! {
        TopBar {
            title: tr("新規メッセージ", "New message").to_owned(),
            on_back: move |_| route::back(Route::Home(Tab::Messages)),
        }
        main { class: "new-message",
            if n > 0 {
                ul { class: "chosen", aria_label: tr("宛先", "To"),
                    for c in chosen.read().iter().cloned() {
                        li { key: "{c.id}",
                            button {
                                class: "chip on",
                                r#type: "button",
                                aria_label: tr_string(format!("{} を宛先から外す", c.display_name), format!("Remove {}", c.display_name)),
                                onclick: move |_| chosen.write().retain(|x| x.id != c.id),
                                "{c.display_name} ×"
                            }
                        }
                    }
                }
            }
            if n > 1 {
                label { class: "field",
                    span { {tr("ルーム名（任意）", "Room name (optional)")} }
                    input { value: "{title}", oninput: move |e| title.set(e.value()) }
                }
            }
            div { class: "filter",
                input {
                    r#type: "search",
                    aria_label: tr("名前・かな・所属・職種で検索", "Search name, kana, organization, profession"),
                    placeholder: tr("名前・かな・所属・職種で検索", "Search name, kana, organization, profession"),
                    value: "{query}",
                    oninput: move |e| query.set(e.value()),
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if people().is_none() && error().is_none() {
                p { class: "muted pad", {tr("読み込み中…", "Loading…")} }
            }
            ul { class: "people pick", aria_label: tr("同僚", "Colleagues"),
                for c in matches {
                    li { key: "{c.id}",
                        button {
                            class: "pick-person",
                            r#type: "button",
                            onclick: {
                                let c = c.clone();
                                move |_| {
                                    chosen.write().push(c.clone());
                                    query.set(String::new());
                                }
                            },
                            PersonLine { name: c.display_name.clone(), profession: c.profession, organization: c.organization_name.clone(), extra: Some(c.display_name_kana.clone()) }
                        }
                    }
                }
            }
            button { class: "primary sticky", r#type: "button", disabled: n == 0 || busy(), onclick: create,
                if n <= 1 { {tr("1対1で送る", "Message one to one")} } else { {tr_string(format!("{n} 人とグループを作成"), format!("Start a group with {n}"))} }
            }
        }
    }
}
