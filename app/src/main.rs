//! Renraku web app (minimal first version): sign in to a municipality and list my rooms.
//!
//! Served by the server at `/{municipality}/`; it talks to the same origin's JSON API with
//! the session cookie (`credentials: same-origin`). The room view and sync come later.

mod api;

use api::{MunicipalityInfo, RoomSummary};
use dioxus::prelude::*;

fn main() {
    dioxus::launch(App);
}

/// What the main area shows.
#[derive(Clone, PartialEq)]
enum Screen {
    /// Asking the server whether a session already exists.
    Checking,
    SignIn,
    Rooms(Vec<RoomSummary>),
}

#[component]
fn App() -> Element {
    let Some(slug) = api::municipality_slug() else {
        // At `/` (e.g. the installed app's start page): go back to the last municipality.
        if let Some(last) = api::last_municipality() {
            api::go_to(&format!("/{last}/"));
            return rsx! {};
        }
        return rsx! {
            main { class: "card",
                h1 { "Renraku 連絡" }
                p { "URL に自治体を含めて開いてください（例: " code { "/demo/" } "）。" }
            }
        };
    };
    rsx! { Municipality { slug } }
}

#[component]
fn Municipality(slug: String) -> Element {
    let mut info = use_signal(|| None::<Result<MunicipalityInfo, String>>);
    let mut screen = use_signal(|| Screen::Checking);

    // Municipality name, and whether a session cookie is already valid.
    let s = slug.clone();
    use_hook(move || {
        spawn(async move {
            let result = api::municipality(&s).await;
            if result.is_ok() {
                api::remember_municipality(&s);
            }
            info.set(Some(result));
        });
        spawn(async move {
            screen.set(match api::my_rooms().await {
                Ok(Some(rooms)) => Screen::Rooms(rooms),
                // Not signed in, or the list could not be read: sign in (again).
                Ok(None) | Err(_) => Screen::SignIn,
            });
        });
    });

    let heading = match &*info.read() {
        Some(Ok(m)) => m.name.clone(),
        Some(Err(_)) | None => String::new(),
    };
    if let Some(Err(e)) = &*info.read() {
        return rsx! {
            main { class: "card",
                h1 { "Renraku 連絡" }
                p { class: "error", "{e}" }
            }
        };
    }

    rsx! {
        header {
            span { class: "brand", "Renraku 連絡" }
            span { class: "muni", "{heading}" }
        }
        match screen() {
            Screen::Checking => rsx! { main { class: "card", p { class: "muted", "読み込み中…" } } },
            Screen::SignIn => rsx! {
                SignIn {
                    slug: slug.clone(),
                    on_signed_in: move |rooms| screen.set(Screen::Rooms(rooms)),
                }
            },
            Screen::Rooms(rooms) => rsx! {
                RoomList { rooms, on_signed_out: move |_| screen.set(Screen::SignIn) }
            },
        }
    }
}

#[component]
fn SignIn(slug: String, on_signed_in: EventHandler<Vec<RoomSummary>>) -> Element {
    let mut login_id = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let submit = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        let slug = slug.clone();
        busy.set(true);
        error.set(None);
        spawn(async move {
            let result = async {
                api::sign_in(&slug, &login_id.peek(), &password.peek()).await?;
                api::my_rooms().await?.ok_or_else(|| {
                    "サインインできませんでした。もう一度お試しください。".to_owned()
                })
            }
            .await;
            busy.set(false);
            match result {
                Ok(rooms) => {
                    password.set(String::new());
                    on_signed_in.call(rooms);
                }
                Err(msg) => error.set(Some(msg)),
            }
        });
    };

    rsx! {
        main { class: "card",
            h1 { "サインイン" }
            form { onsubmit: submit,
                label { r#for: "login-id", "ログイン ID" }
                input {
                    id: "login-id",
                    name: "login_id",
                    autocomplete: "username",
                    autocapitalize: "none",
                    required: true,
                    value: "{login_id}",
                    oninput: move |e| login_id.set(e.value()),
                }
                label { r#for: "password", "パスワード" }
                input {
                    id: "password",
                    name: "password",
                    r#type: "password",
                    autocomplete: "current-password",
                    required: true,
                    value: "{password}",
                    oninput: move |e| password.set(e.value()),
                }
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                }
                button { r#type: "submit", disabled: busy(),
                    if busy() { "サインイン中…" } else { "サインイン" }
                }
            }
        }
    }
}

#[component]
fn RoomList(rooms: Vec<RoomSummary>, on_signed_out: EventHandler<()>) -> Element {
    let mut error = use_signal(|| None::<String>);
    let sign_out = move |_| {
        spawn(async move {
            match api::sign_out().await {
                Ok(()) => on_signed_out.call(()),
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    rsx! {
        main { class: "card",
            h1 { "ルーム" }
            if rooms.is_empty() {
                p { class: "muted", "参加しているルームはまだありません。" }
            }
            ul { class: "rooms",
                for room in rooms {
                    li { key: "{room.id}",
                        span { class: "kind kind-{room.kind}", "{room.kind_label()}" }
                        span { class: "title", "{room.title}" }
                        if let Some(p) = room.patient.as_ref().filter(|p| p.name != room.title) {
                            span { class: "patient", "{p.name} 様" }
                        }
                        span { class: "muted members", "{room.member_count} 人" }
                        if room.archived {
                            span { class: "muted", "アーカイブ済み" }
                        }
                    }
                }
            }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            button { class: "secondary", r#type: "button", onclick: sign_out, "サインアウト" }
        }
    }
}
