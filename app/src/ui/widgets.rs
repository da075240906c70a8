//! Small shared pieces: the top bar, a modal sheet, a person's line.

use crate::api::profession_label;
use crate::i18n::tr;
use dioxus::prelude::*;

/// The bar at the top of a screen: an optional back button, a title, and actions.
#[component]
pub fn TopBar(
    title: String,
    subtitle: Option<String>,
    on_back: Option<EventHandler<()>>,
    children: Element,
) -> Element {
    rsx! {
        header { class: "topbar",
            if let Some(back) = on_back {
                button {
                    class: "icon",
                    r#type: "button",
                    aria_label: tr("戻る", "Back"),
                    onclick: move |_| back.call(()),
                    "‹"
                }
            }
            div { class: "titles",
                h1 { "{title}" }
                if let Some(sub) = subtitle {
                    p { class: "subtitle", "{sub}" }
                }
            }
            div { class: "actions", {children} }
        }
    }
}

/// A modal sheet from the bottom of the screen (thumb reach), closed by its button, the
/// backdrop, or Escape.
#[component]
pub fn Sheet(title: String, on_close: EventHandler<()>, children: Element) -> Element {
    rsx! {
        div { class: "backdrop", onclick: move |_| on_close.call(()),
            div {
                class: "sheet",
                role: "dialog",
                aria_modal: "true",
                aria_label: "{title}",
                onclick: move |e| e.stop_propagation(),
                onkeydown: move |e| {
                    if e.key() == Key::Escape {
                        on_close.call(());
                    }
                },
                div { class: "sheet-head",
                    h2 { "{title}" }
                    button {
                        class: "icon",
                        r#type: "button",
                        autofocus: true,
                        aria_label: tr("閉じる", "Close"),
                        onclick: move |_| on_close.call(()),
                        "×"
                    }
                }
                {children}
            }
        }
    }
}

/// Name, profession and organization, as every list of people shows them.
#[component]
pub fn PersonLine(
    name: String,
    profession: renraku_contract::Profession,
    organization: Option<String>,
    extra: Option<String>,
) -> Element {
    rsx! {
        div { class: "person",
            span { class: "name", "{name}" }
            span { class: "meta",
                "{profession_label(profession)}"
                if let Some(org) = organization {
                    " · {org}"
                }
            }
            if let Some(extra) = extra {
                span { class: "extra", "{extra}" }
            }
        }
    }
}
