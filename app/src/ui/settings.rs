//! Settings: a list of sections. Other modules mount their own section here with one line
//! (see the marked block), wrapped in `Section` for the common look.

use crate::i18n::{self, tr, Lang};
use crate::route::{self, Route, Tab};
use crate::text_size::TextSize;
use crate::ui::session::Session;
use crate::ui::widgets::TopBar;
use dioxus::prelude::*;

/// One settings section: a titled card.
#[component]
pub fn Section(title: String, children: Element) -> Element {
    rsx! {
        section { class: "card settings-section", aria_label: "{title}",
            h2 { "{title}" }
            {children}
        }
    }
}

#[component]
pub fn Settings() -> Element {
    let session = use_context::<Session>();
    let me = session.me.user.clone();
    let lang = i18n::lang();
    let text_size = crate::text_size::current();
    let org = me.organization_name.clone().unwrap_or_default();
    let admin_href = Route::Admin {
        path: String::new(),
    }
    .href();
    rsx! {
        TopBar {
            title: tr("設定", "Settings").to_owned(),
            on_back: move |_| route::back(Route::Home(Tab::Patients)),
        }
        main { class: "settings",
            Section { title: tr("アカウント", "Account").to_owned(),
                p { strong { "{me.display_name}" } " " span { class: "muted", "{me.display_name_kana}" } }
                p { class: "muted", "{crate::api::profession_label(me.profession)} · {org}" }
                p { class: "muted", "{session.me.municipality.name}" }
            }
            Section { title: tr("言語 / Language", "Language / 言語").to_owned(),
                div { class: "segmented", role: "radiogroup", aria_label: tr("言語", "Language"),
                    button {
                        r#type: "button",
                        role: "radio",
                        aria_checked: if lang == Lang::Ja { "true" } else { "false" },
                        class: if lang == Lang::Ja { "on" } else { "" },
                        onclick: move |_| i18n::set_lang(Lang::Ja),
                        "日本語"
                    }
                    button {
                        r#type: "button",
                        role: "radio",
                        aria_checked: if lang == Lang::En { "true" } else { "false" },
                        class: if lang == Lang::En { "on" } else { "" },
                        onclick: move |_| i18n::set_lang(Lang::En),
                        "English"
                    }
                }
            }
            Section { title: tr("文字の大きさ", "Text size").to_owned(),
                div { class: "segmented", role: "radiogroup", aria_label: tr("文字の大きさ", "Text size"),
                    for (size, label) in [(TextSize::Standard, tr("標準", "Standard")), (TextSize::Large, tr("大きい", "Large"))] {
                        button {
                            key: "{label}",
                            r#type: "button",
                            role: "radio",
                            aria_checked: if text_size == size { "true" } else { "false" },
                            class: if text_size == size { "on" } else { "" },
                            onclick: move |_| crate::text_size::set(size),
                            "{label}"
                        }
                    }
                }
                p { class: "hint", {tr("この端末のすべての画面の文字が大きくなります。", "Makes the text larger on every screen of this device.")} }
            }
            // ---- sections mounted by other modules ----
            crate::push::NotificationSettings {}
            crate::ui::passkeys::PasskeySettings {}
            // ---- end of mounted sections ----
            if me.is_admin() {
                Section { title: tr("管理", "Administration").to_owned(),
                    a {
                        class: "button secondary",
                        href: "{admin_href}",
                        onclick: move |e| {
                            e.prevent_default();
                            route::go(Route::Admin { path: String::new() });
                        },
                        {tr("管理画面を開く", "Open administration")}
                    }
                }
            }
            crate::ui::signout::SignOutSection {}
        }
    }
}
