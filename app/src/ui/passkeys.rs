//! Settings section: my passkeys — register this device's, list and remove them.

use crate::i18n::tr;
use crate::passkey::{self, PasskeyInfo};
use crate::ui::settings::Section;
use dioxus::prelude::*;

#[component]
pub fn PasskeySettings() -> Element {
    let mut keys = use_signal(|| None::<Vec<PasskeyInfo>>);
    let mut message = use_signal(|| None::<String>);
    let mut notice = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let mut name = use_signal(String::new);
    let reload = move || {
        spawn(async move {
            match passkey::list().await {
                Ok(list) => keys.set(Some(list)),
                Err(e) => message.set(Some(e)),
            }
        });
    };
    use_hook(reload);
    let supported = passkey::supported();

    let register = move |e: FormEvent| {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        message.set(None);
        notice.set(None);
        spawn(async move {
            let label = name.peek().trim().to_owned();
            match passkey::register(&label).await {
                Ok(()) => {
                    name.set(String::new());
                    notice.set(Some(
                        tr("パスキーを登録しました。", "Passkey registered.").into(),
                    ));
                    reload();
                }
                Err(e) => message.set(Some(e)),
            }
            busy.set(false);
        });
    };

    rsx! {
        Section { title: tr("パスキー", "Passkeys").to_owned(),
            p { class: "muted",
                {tr("パスキーを登録すると、サインイン時にこの端末の指紋・顔認証や画面ロックで本人確認できます（二段階認証）。",
                    "With a passkey, you confirm sign-in with this device's fingerprint, face or screen lock (two-step sign-in).")}
            }
            match keys() {
                None => rsx! { p { class: "muted", {tr("読み込み中…", "Loading…")} } },
                Some(list) if list.is_empty() => rsx! {
                    p { class: "muted", {tr("登録済みのパスキーはありません。", "No passkeys yet.")} }
                },
                Some(list) => rsx! {
                    ul { class: "passkeys", aria_label: tr("登録済みのパスキー", "Registered passkeys"),
                        for key in list {
                            li { key: "{key.id}", class: "setting-row",
                                span {
                                    strong { "{key.name}" }
                                    " "
                                    span { class: "muted",
                                        {tr("登録", "added")} " {crate::util::short_time(key.created_at)}"
                                    }
                                }
                                button {
                                    class: "secondary danger",
                                    r#type: "button",
                                    disabled: busy(),
                                    aria_label: crate::i18n::tr_string(format!("{} を削除", key.name), format!("Remove {}", key.name)),
                                    onclick: move |_| {
                                        let id = key.id;
                                        spawn(async move {
                                            busy.set(true);
                                            match passkey::remove(id).await {
                                                Ok(()) => {
                                                    notice.set(Some(tr("パスキーを削除しました。", "Passkey removed.").into()));
                                                    reload();
                                                }
                                                Err(e) => message.set(Some(e)),
                                            }
                                            busy.set(false);
                                        });
                                    },
                                    {tr("削除", "Remove")}
                                }
                            }
                        }
                    }
                },
            }
            if supported {
                form { onsubmit: register,
                    label { r#for: "passkey-name", {tr("パスキーの名前（任意）", "Name for the passkey (optional)")} }
                    input {
                        id: "passkey-name",
                        maxlength: "60",
                        placeholder: tr("例: 仕事用スマホ", "e.g. work phone"),
                        value: "{name}",
                        oninput: move |e| name.set(e.value()),
                    }
                    button { class: "primary", r#type: "submit", disabled: busy(),
                        {tr("パスキーを登録", "Register a passkey")}
                    }
                }
            } else {
                p { class: "hint",
                    {tr("このブラウザではパスキーを使えません。", "This browser cannot use passkeys here.")}
                }
            }
            if let Some(msg) = notice() {
                p { class: "notice", role: "status", "{msg}" }
            }
            if let Some(msg) = message() {
                p { class: "error", role: "alert", "{msg}" }
            }
        }
    }
}
