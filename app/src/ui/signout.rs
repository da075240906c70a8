//! Signing out: the settings section with its button, and the question it asks first when
//! posts or files still wait to be sent. They exist only on this device and signing out
//! deletes the device's data, so they are never dropped without the user choosing to: wait
//! (stay signed in; online, sign out by itself once they are sent) or discard them.
//!
//! With no network the device is signed out at once (its data deleted) and the server is
//! told as soon as it can be (`owed_signout`); the sign-in screen says so (`OwedNote`).

use crate::i18n::{tr, tr_string};
use crate::sync::ConnState;
use crate::ui::session::Session;
use crate::ui::settings::Section;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_sync::DocId;
use std::collections::HashSet;

/// What waits to be sent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Unsent {
    posts: usize,
    files: usize,
}

impl Unsent {
    /// Read from IndexedDB rather than the engine's copy, which a freshly opened app may not
    /// have loaded yet: a tap in that moment must not find "nothing waiting".
    async fn now(session: &Session) -> Unsent {
        let posts: HashSet<(DocId, String)> = session
            .store
            .outbox_all()
            .await
            .into_iter()
            .filter_map(|(_, e)| Some((e.doc, e.post?)))
            .collect();
        Unsent {
            posts: posts.len(),
            files: crate::attachments::waiting_count(session).await,
        }
    }

    fn is_empty(&self) -> bool {
        self.posts == 0 && self.files == 0
    }

    /// 「送信待ちの投稿が N 件あります」 (or the files, when no post waits).
    fn title(&self) -> String {
        if self.posts > 0 {
            tr_string(
                format!("送信待ちの投稿が {} 件あります", self.posts),
                format!(
                    "{} post{} not sent yet",
                    self.posts,
                    if self.posts == 1 { " is" } else { "s are" }
                ),
            )
        } else {
            tr_string(
                format!("送信待ちの写真・ファイルが {} 件あります", self.files),
                format!("{} photo(s) or file(s) not sent yet", self.files),
            )
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Idle,
    /// Something waits: wait, discard, or cancel?
    Asking(Unsent),
    /// Waiting (online) for everything to be sent, then signing out.
    Sending,
    /// Chose to wait while offline: stay signed in.
    Kept,
}

#[component]
pub fn SignOutSection() -> Element {
    let session = use_context::<Session>();
    // Waiting files are sent from here too (the uploader may not have started on this page).
    crate::attachments::use_uploader(&session);
    let mut step = use_signal(|| Step::Idle);
    let mut error = use_signal(|| None::<String>);
    let busy = use_signal(|| false);
    // In the Sending step: how many posts and files are still on their way.
    let mut left = use_signal(|| 0usize);
    let status = session.engine.status();
    let online = status() == ConnState::Online;

    let s = session.clone();
    let ask = move |_| {
        let s = s.clone();
        error.set(None);
        spawn(async move {
            let unsent = Unsent::now(&s).await;
            if unsent.is_empty() {
                sign_out(s, busy, error).await;
            } else {
                left.set(unsent.posts + unsent.files);
                step.set(Step::Asking(unsent));
            }
        });
    };
    let s = session.clone();
    let wait = move |_| {
        if !online {
            step.set(Step::Kept);
            return;
        }
        step.set(Step::Sending);
        crate::attachments::kick();
        let s = s.clone();
        spawn(async move {
            // Sent means `Saved` by the server; re-checked a few times a second until then.
            while *step.peek() == Step::Sending {
                let unsent = Unsent::now(&s).await;
                if unsent.is_empty() {
                    step.set(Step::Idle);
                    sign_out(s, busy, error).await;
                    return;
                }
                left.set(unsent.posts + unsent.files);
                crate::util::sleep_ms(300).await;
            }
        });
    };
    let s = session.clone();
    let discard = move |_| {
        step.set(Step::Idle);
        spawn(sign_out(s.clone(), busy, error));
    };

    rsx! {
        Section { title: tr("サインアウト", "Sign out").to_owned(),
            p { class: "muted", {tr("この端末に保存されたデータも削除されます。", "Data kept on this device is deleted too.")} }
            if let Some(msg) = error() {
                p { class: "error", role: "alert", "{msg}" }
            }
            if step() == Step::Kept {
                p { class: "notice", role: "status",
                    {tr(
                        "サインインしたままにしました。送信待ちの投稿は、電波が戻ると自動で送信されます。送信が終わってからサインアウトしてください。",
                        "You are still signed in. Waiting posts are sent when the connection returns; sign out after that.",
                    )}
                }
            }
            button { class: "secondary danger", r#type: "button", disabled: busy(), onclick: ask,
                {tr("サインアウト", "Sign out")}
            }
        }
        match step() {
            Step::Asking(unsent) => rsx! {
                Sheet { title: unsent.title(), on_close: move |_| step.set(Step::Idle),
                    div { class: "signout-ask",
                        if unsent.posts > 0 && unsent.files > 0 {
                            p {
                                {tr_string(
                                    format!("写真・ファイル {} 件も送信待ちです。", unsent.files),
                                    format!("{} photo(s) or file(s) are waiting too.", unsent.files),
                                )}
                            }
                        }
                        p {
                            if online {
                                {tr("まだサーバーに届いていません。", "They have not reached the server yet.")}
                            } else {
                                {tr(
                                    "オフラインのため、まだ送信できません。電波が戻ると自動で送信されます。",
                                    "You are offline, so they cannot be sent yet. They are sent when the connection returns.",
                                )}
                            }
                        }
                        p { strong {
                            {tr(
                                "いまサインアウトすると、この端末から削除され、相手には届きません。元に戻せません。",
                                "Signing out now deletes them from this device; no one will receive them. This cannot be undone.",
                            )}
                        } }
                        button { class: "primary", r#type: "button", onclick: wait,
                            {tr("送信を待つ", "Wait until sent")}
                        }
                        button { class: "primary danger-fill", r#type: "button", onclick: discard,
                            {tr("破棄してサインアウト", "Discard and sign out")}
                        }
                        button { class: "secondary", r#type: "button", onclick: move |_| step.set(Step::Idle),
                            {tr("キャンセル", "Cancel")}
                        }
                    }
                }
            },
            Step::Sending => rsx! {
                Sheet { title: tr("送信しています…", "Sending…").to_owned(), on_close: move |_| step.set(Step::Idle),
                    div { class: "signout-ask", aria_busy: "true",
                        p { role: "status",
                            if left() > 0 {
                                {tr_string(format!("残り {} 件。", left()), format!("{} left.", left()))}
                            }
                            {tr("送信が終わると自動でサインアウトします。", "You are signed out as soon as everything is sent.")}
                        }
                        if !online {
                            p { {tr("接続が切れました。戻ると送信を続けます。", "The connection dropped; sending resumes when it returns.")} }
                        }
                        button { class: "secondary", r#type: "button", onclick: move |_| step.set(Step::Idle),
                            {tr("サインアウトをやめる", "Stay signed in")}
                        }
                    }
                }
            },
            _ => rsx! {},
        }
    }
}

async fn sign_out(session: Session, mut busy: Signal<bool>, mut error: Signal<Option<String>>) {
    busy.set(true);
    if let Err(msg) = session.sign_out().await {
        error.set(Some(msg));
    }
    busy.set(false);
}

/// On the sign-in screen after a sign-out made offline: says the server is told later, and
/// tells it as soon as the network returns.
#[component]
pub fn OwedNote() -> Element {
    let mut owed = use_signal(crate::owed_signout::is_owed);
    use_hook(move || {
        spawn(async move {
            // `online` is the usual sign; the timer covers a network that was up all along
            // while the server could not be reached. The first request after `online` often
            // fails (the radio is back before the route is, and the service worker hears of
            // it after the page): so after an `online` the app asks again soon, backing off
            // to the slow timer, rather than leaving the old session alive for 30 s.
            const SLOW_MS: i32 = 30_000;
            let mut retry_ms = SLOW_MS;
            while crate::owed_signout::is_owed() {
                let online = Box::pin(crate::owed_signout::next_online());
                let later = Box::pin(crate::util::sleep_ms(retry_ms));
                if let futures_util::future::Either::Left(_) =
                    futures_util::future::select(online, later).await
                {
                    retry_ms = 500;
                }
                let _ = crate::owed_signout::settle().await;
                owed.set(crate::owed_signout::is_owed());
                retry_ms = (retry_ms * 2).min(SLOW_MS);
            }
        });
    });
    if !owed() {
        return rsx! {};
    }
    rsx! {
        p { class: "card session-ended", role: "status",
            {tr(
                "この端末からサインアウトしました（端末内のデータは削除済み）。オフラインだったため、サーバー側のサインアウトは通信が戻ったときに自動で完了します。",
                "Signed out on this device (its data is deleted). You were offline: the server is told automatically when the connection returns.",
            )}
        }
    }
}
