//! The text-size setting (標準 / 大きい) for older staff: one class on `<html>` that the whole
//! stylesheet follows (sizes are in rem). Kept in local storage, per device, because it is
//! about the eyes in front of this screen; `early.js` applies it before the first paint.

use dioxus::prelude::*;

const KEY: &str = "renraku.textSize";
const LARGE_CLASS: &str = "text-large";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextSize {
    Standard,
    Large,
}

static SIZE: GlobalSignal<TextSize> = Signal::global(stored);

fn stored() -> TextSize {
    match crate::util::local_get(KEY).as_deref() {
        Some("large") => TextSize::Large,
        _ => TextSize::Standard,
    }
}

pub fn current() -> TextSize {
    SIZE()
}

/// Puts the stored size on the page (the admin bundle has no early script).
pub fn apply_stored() {
    apply(stored());
}

pub fn set(size: TextSize) {
    match size {
        TextSize::Large => crate::util::local_set(KEY, "large"),
        TextSize::Standard => crate::util::local_remove(KEY),
    }
    apply(size);
    *SIZE.write() = size;
}

fn apply(size: TextSize) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let classes = root.class_list();
        let _ = match size {
            TextSize::Large => classes.add_1(LARGE_CLASS),
            TextSize::Standard => classes.remove_1(LARGE_CLASS),
        };
    }
}
