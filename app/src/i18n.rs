//! Japanese first, English on request: every user-facing text is written as a pair at its
//! one use (`tr("保存", "Save")`), so a screen reads naturally in code and no key table
//! drifts out of date. The choice is kept on the device and `<html lang>` follows it.

use dioxus::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

const KEY: &str = "renraku.lang";

/// The current language; components that call `tr` re-render when it changes.
pub static LANG: GlobalSignal<Lang> = Signal::global(|| {
    let lang = match crate::util::local_get(KEY).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Ja,
    };
    set_html_lang(lang);
    lang
});

/// The text in the current language.
pub fn tr(ja: &'static str, en: &'static str) -> &'static str {
    match *LANG.read() {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// Like `tr`, for texts built at run time.
pub fn tr_string(ja: String, en: String) -> String {
    match *LANG.read() {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

pub fn lang() -> Lang {
    *LANG.read()
}

pub fn set_lang(lang: Lang) {
    crate::util::local_set(KEY, lang.code());
    set_html_lang(lang);
    *LANG.write() = lang;
}

fn set_html_lang(lang: Lang) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang.code());
    }
}
