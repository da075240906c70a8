//! The app lock: after the server's idle time without a touch or key on this device, patient
//! data leaves the screen (and the DOM) behind ロック中, until the password is given again
//! (`POST /api/me/unlock`). A phone left on a desk in a patient's home shows nothing.

use crate::api::ErrorCode;
use crate::i18n::tr;
use crate::ui::session::Session;
use crate::util::{local_get, local_remove, local_set, now_ms, sleep_ms, use_window_event};
use dioxus::prelude::*;
use renraku_sync::UserId;

/// How often the idle time is checked. Timers of a hidden page are throttled, but the check
/// compares clock times, so a phone taken out of a pocket locks at once.
const CHECK_EVERY_MS: i32 = 1000;

/// Where the lock state outlives the page: a reload, or the phone discarding the tab, must
/// not be a way around the lock. `app/early.js` reads the same keys before it shows the kept
/// first screen (see `ui::snapshot`).
fn active_key(user: UserId) -> String {
    format!("renraku.active.{user}")
}
fn locked_key(user: UserId) -> String {
    format!("renraku.locked.{user}")
}

/// Forgets the lock state (signing out).
pub fn forget(user: UserId) {
    local_remove(&active_key(user));
    local_remove(&locked_key(user));
}

/// Whether the device's remembered state says `user` is locked now: locked when the page
/// closed, or idle past `lock_after_secs` since the last input on any page.
fn locked_at_start(user: UserId, lock_after_secs: u64) -> bool {
    if local_get(&locked_key(user)).is_some() {
        return true;
    }
    let last = local_get(&active_key(user)).and_then(|v| v.parse::<i64>().ok());
    match (lock_after_secs, last) {
        (0, _) | (_, None) => false,
        (secs, Some(last)) => now_ms() - last >= limit_ms(secs),
    }
}

fn limit_ms(lock_after_secs: u64) -> i64 {
    i64::try_from(lock_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Whether the app is locked; locks after `lock_after_secs` of no input (0: never).
pub fn use_idle_lock(user: UserId, lock_after_secs: u64) -> Signal<bool> {
    let mut locked = use_signal(|| locked_at_start(user, lock_after_secs));
    // Not read in any render: writing it re-renders nothing.
    let mut last_input = use_signal(now_ms);
    let mut last_kept = use_signal(|| 0i64);
    for name in ["pointerdown", "keydown", "touchstart", "wheel"] {
        use_window_event(name, move || {
            if !*locked.peek() {
                let now = now_ms();
                last_input.set(now);
                // At most once a second: scrolling fires many events.
                if now - *last_kept.peek() >= 1000 {
                    last_kept.set(now);
                    local_set(&active_key(user), &now.to_string());
                }
            }
        });
    }
    use_future(move || async move {
        if lock_after_secs == 0 {
            return;
        }
        let limit = limit_ms(lock_after_secs);
        loop {
            sleep_ms(CHECK_EVERY_MS).await;
            if !*locked.peek() && now_ms() - *last_input.peek() >= limit {
                locked.set(true);
            }
        }
    });
    // Kept on the device both ways; a fresh start of the idle time after unlocking.
    use_effect(move || {
        if locked() {
            local_set(&locked_key(user), "1");
        } else {
            local_remove(&locked_key(user));
            let now = now_ms();
            last_input.set(now);
            local_set(&active_key(user), &now.to_string());
        }
    });
    locked
}

#[component]
pub fn LockScreen(locked: Signal<bool>) -> Element {
    let session = use_context::<Session>();
    let mut password = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    // Offer the passkey when I have one and this browser can use it.
    let mut has_passkey = use_signal(|| false);
    use_hook(move || {
        if crate::passkey::supported() {
            spawn(async move {
                if let Ok(keys) = crate::passkey::list().await {
                    has_passkey.set(!keys.is_empty());
                }
            });
        }
    });
    let with_passkey = move |_| {
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn(async move {
            let result = crate::passkey::unlock().await;
            busy.set(false);
            match result {
                Ok(()) => {
                    password.set(String::new());
                    locked.set(false);
                }
                Err(msg) => error.set(Some(msg)),
            }
        });
    };
    let name = session.me.user.display_name.clone();
    let login = session.me.user.login_id.clone();
    let s = session.clone();

    let unlock = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let s = s.clone();
        spawn(async move {
            let body = renraku_contract::Unlock {
                password: password.peek().clone(),
            };
            let result = crate::api::post::<_, serde_json::Value>("/api/me/unlock", &body).await;
            busy.set(false);
            match result {
                Ok(_) => {
                    password.set(String::new());
                    locked.set(false);
                }
                Err(e) if e.code() == Some(ErrorCode::BadCredentials) => {
                    error.set(Some(tr("パスワードが違います。", "Wrong password.").into()))
                }
                // The session itself ended meanwhile: sign in again.
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let out = session.clone();

    rsx! {
        header { class: "topbar",
            h1 { class: "brand", "Renraku 連絡" }
        }
        main { class: "portal",
            section { class: "card lock", aria_label: tr("ロック中", "Locked"),
                h2 { {tr("ロック中", "Locked")} }
                p { {tr("しばらく操作がなかったため、患者さんの情報を隠しています。続けるにはパスワードを入力してください。",
                        "Patient information is hidden after a while without use. Enter your password to continue.")} }
                p { class: "muted", "{name} ({login})" }
                form { onsubmit: unlock,
                    // For password managers: the account this password belongs to.
                    input { r#type: "hidden", name: "username", autocomplete: "username", value: "{login}" }
                    label { r#for: "unlock-password", {tr("パスワード", "Password")} }
                    input {
                        id: "unlock-password",
                        r#type: "password",
                        autocomplete: "current-password",
                        required: true,
                        value: "{password}",
                        oninput: move |e| password.set(e.value()),
                    }
                    if let Some(msg) = error() {
                        p { class: "error", role: "alert", "{msg}" }
                    }
                    button { class: "primary", r#type: "submit", disabled: busy(),
                        {tr("ロック解除", "Unlock")}
                    }
                }
                if has_passkey() {
                    button { class: "secondary", r#type: "button", disabled: busy(), onclick: with_passkey,
                        {tr("パスキーで解除", "Unlock with a passkey")}
                    }
                }
                button {
                    class: "secondary",
                    r#type: "button",
                    onclick: move |_| {
                        let out = out.clone();
                        spawn(async move {
                            let _ = out.sign_out().await;
                        });
                    },
                    {tr("サインアウト", "Sign out")}
                }
            }
        }
    }
}
