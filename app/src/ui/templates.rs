//! 定型文 (templates) in the composer: a button beside the composer's others opens a sheet
//! of the municipality's shared templates and the user's own (`GET /api/templates`, kept in
//! IndexedDB so the list opens offline too). Tapping one puts its text into the composer at
//! the cursor (or as the whole text when the composer is empty) and selects its first blank
//! — the place after the first 「：」 — so the user types the value straight away. The
//! sheet also keeps the user's own: the composer's text saved under a title, and deleting.
//!
//! The composer mounts the button with one line, `TemplatePicker { on_pick }`; the picker
//! finds the composer's text field itself (the `textarea` of the form it sits in) and hands
//! back the composer's new text.

use crate::api::{self, ApiError};
use crate::i18n::{tr, tr_string};
use crate::ui::session::Session;
use crate::ui::widgets::Sheet;
use dioxus::prelude::*;
use renraku_contract::{NewTemplate, Template, TemplateId, TEMPLATE_BODY_MAX, TEMPLATE_TITLE_MAX};
use wasm_bindgen::JsCast;

pub const TEMPLATES_URL: &str = "/api/templates";

/// Where the composer's cursor was when the sheet opened (UTF-16 offsets, as the DOM counts).
#[derive(Clone, Debug, Default, PartialEq)]
struct Caret {
    text: String,
    start: u32,
    end: u32,
}

/// The 定型文 button and its sheet. `on_pick` receives the composer's whole new text.
#[component]
pub fn TemplatePicker(on_pick: EventHandler<String>) -> Element {
    // Ties this button to its composer's field (there is one composer per open reply too).
    let id = use_hook(|| format!("tpl-{}", crate::util::random_u64()));
    let mut open = use_signal(|| None::<Caret>);
    let field_of = id.clone();
    let pick = move |t: Template| {
        let Some(caret) = open.peek().clone() else {
            return;
        };
        open.set(None);
        let (text, at) = insert(&caret.text, caret.start, caret.end, &t.body);
        let (from, to) = first_blank(&t.body);
        // The line the blank is on, and how many there are: to scroll it into the field.
        let line = text
            .encode_utf16()
            .take((at + from) as usize)
            .filter(|&u| u == u16::from(b'\n'))
            .count() as i32;
        let lines = text.lines().count().max(1) as i32;
        on_pick.call(text);
        let field = field_of.clone();
        spawn(async move {
            // The composer renders its new value first; then the cursor goes to the blank.
            crate::util::after_next_paint().await;
            if let Some(area) = textarea(&field) {
                let _ = area.focus();
                let _ = area.set_selection_range(at + from, at + to);
                // Setting the value left the field scrolled to its end: show the blank's
                // line, a little below the top.
                let per_line = area.scroll_height() / lines;
                area.set_scroll_top((line * per_line - area.client_height() / 3).max(0));
            }
        });
    };
    let field_of = id.clone();
    rsx! {
        button {
            id: "{id}",
            class: "template-button",
            r#type: "button",
            title: tr("定型文を挿入", "Insert a template"),
            aria_haspopup: "dialog",
            onclick: move |_| {
                let caret = textarea(&field_of)
                    .map(|a| Caret {
                        text: a.value(),
                        start: a.selection_start().ok().flatten().unwrap_or(0),
                        end: a.selection_end().ok().flatten().unwrap_or(0),
                    })
                    .unwrap_or_default();
                open.set(Some(caret));
            },
            "📝 " {tr("定型文", "Templates")}
        }
        if let Some(caret) = open() {
            TemplateSheet {
                composer_text: caret.text.clone(),
                on_pick: pick,
                on_close: move |_| open.set(None),
            }
        }
    }
}

/// The composer's text field: the `textarea` of the form the button `id` is in.
fn textarea(id: &str) -> Option<web_sys::HtmlTextAreaElement> {
    let button = web_sys::window()?.document()?.get_element_by_id(id)?;
    let form = button.closest("form").ok()??;
    form.query_selector("textarea").ok()??.dyn_into().ok()
}

/// The composer's text with `body` put in place of the selection `start..end` (UTF-16
/// offsets), on lines of its own; and where `body` starts in it (UTF-16).
fn insert(text: &str, start: u32, end: u32, body: &str) -> (String, u32) {
    if text.trim().is_empty() {
        return (body.to_owned(), 0);
    }
    let byte = |utf16: u32| {
        let mut seen = 0u32;
        for (i, c) in text.char_indices() {
            if seen >= utf16 {
                return i;
            }
            seen += c.len_utf16() as u32;
        }
        text.len()
    };
    let (a, b) = (byte(start.min(end)), byte(start.max(end)));
    let (before, after) = (&text[..a], &text[b..]);
    let mut out = String::with_capacity(text.len() + body.len() + 2);
    out.push_str(before);
    if !before.is_empty() && !before.ends_with('\n') {
        out.push('\n');
    }
    let at = out.encode_utf16().count() as u32;
    out.push_str(body);
    if !after.is_empty() && !after.starts_with('\n') {
        out.push('\n');
    }
    out.push_str(after);
    (out, at)
}

/// The first blank of a template (UTF-16 offsets in `body`): right after its first 「：」
/// (or `:`), taking in the full-width space that stands for the value, so typing replaces
/// it; the end of the text when there is no blank.
fn first_blank(body: &str) -> (u32, u32) {
    let mut at = 0u32;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        at += c.len_utf16() as u32;
        if c == '：' || c == ':' {
            let hole = if chars.peek() == Some(&'\u{3000}') {
                1
            } else {
                0
            };
            return (at, at + hole);
        }
    }
    (at, at)
}

/// The sheet: shared templates, mine, and saving the composer's text as one of mine.
#[component]
fn TemplateSheet(
    composer_text: String,
    on_pick: EventHandler<Template>,
    on_close: EventHandler<()>,
) -> Element {
    let session = use_context::<Session>();
    let mut list = use_signal(|| None::<Result<Vec<Template>, String>>);
    let mut reload = use_signal(|| 0u32);
    let s = session.clone();
    use_effect(move || {
        let _ = reload();
        let s = s.clone();
        spawn(async move {
            if list.peek().is_none() {
                if let Some(kept) = api::cached_only::<Vec<Template>>(&s.store, TEMPLATES_URL).await
                {
                    list.set(Some(Ok(kept)));
                }
            }
            match api::cached_get::<Vec<Template>>(&s.store, TEMPLATES_URL).await {
                Ok(fresh) => list.set(Some(Ok(fresh))),
                Err(e) if e.is_unauthorized() => s.expired(),
                // Offline with a kept list: it stays.
                Err(e) => {
                    if !matches!(&*list.peek(), Some(Ok(_))) {
                        list.set(Some(Err(e.message())));
                    }
                }
            }
        });
    });
    let mut deleting = use_signal(|| None::<TemplateId>);
    let mut error = use_signal(|| None::<String>);
    let s = session.clone();
    let delete = move |id: TemplateId| {
        let s = s.clone();
        spawn(async move {
            let result = api::delete(&format!("{TEMPLATES_URL}/{id}")).await;
            deleting.set(None);
            match result {
                Ok(()) => {
                    if let Some(Ok(items)) = list.write().as_mut() {
                        items.retain(|t| t.id != id);
                    }
                    reload += 1;
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(e) => error.set(Some(e.explain())),
            }
        });
    };
    let municipality = session.me.municipality.name.clone();
    let items = list().map(|r| r.map(|all| all.into_iter().partition::<Vec<_>, _>(|t| t.shared)));
    rsx! {
        Sheet { title: tr("定型文", "Templates").to_owned(), on_close: move |_| on_close.call(()),
            div { class: "templates",
                if let Some(msg) = error() {
                    p { class: "error", role: "alert", "{msg}" }
                }
                match items {
                    None => rsx! { p { class: "muted", aria_busy: "true", {tr("読み込み中…", "Loading…")} } },
                    Some(Err(msg)) => rsx! { p { class: "error", role: "alert", "{msg}" } },
                    Some(Ok((shared, mine))) => rsx! {
                            section { aria_label: tr("共有の定型文", "Shared templates"),
                                h3 { {tr_string(format!("共有（{municipality}）"), format!("Shared ({municipality})"))} }
                                if shared.is_empty() {
                                    p { class: "muted", {tr("共有の定型文はまだありません。", "No shared templates yet.")} }
                                }
                                ul { class: "template-list",
                                    for t in shared {
                                        TemplateRow { key: "{t.id}", template: t, on_pick }
                                    }
                                }
                            }
                            section { aria_label: tr("自分の定型文", "My templates"),
                                h3 { {tr("自分の定型文", "My templates")} }
                                if mine.is_empty() {
                                    p { class: "muted", {tr("入力中の文章を下で保存すると、ここに出ます。", "Save what you are writing below to keep it here.")} }
                                }
                                ul { class: "template-list",
                                    for t in mine {
                                        li { key: "{t.id}", class: "template-row mine",
                                            TemplatePickButton { template: t.clone(), on_pick }
                                            if deleting() == Some(t.id) {
                                                button {
                                                    class: "secondary small danger",
                                                    r#type: "button",
                                                    onclick: {
                                                        let delete = delete.clone();
                                                        move |_| delete(t.id)
                                                    },
                                                    {tr("削除する", "Delete")}
                                                }
                                            } else {
                                                button {
                                                    class: "icon template-delete",
                                                    r#type: "button",
                                                    aria_label: tr_string(format!("「{}」を削除", t.title), format!("Delete “{}”", t.title)),
                                                    onclick: move |_| deleting.set(Some(t.id)),
                                                    "🗑"
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                    },
                }
                SaveMine {
                    composer_text,
                    on_saved: move |t: Template| {
                        if let Some(Ok(items)) = list.write().as_mut() {
                            items.push(t);
                        }
                        reload += 1;
                    },
                }
            }
        }
    }
}

#[component]
fn TemplateRow(template: Template, on_pick: EventHandler<Template>) -> Element {
    rsx! {
        li { class: "template-row",
            TemplatePickButton { template, on_pick }
        }
    }
}

/// One template as a big button: its title and the start of its text.
#[component]
fn TemplatePickButton(template: Template, on_pick: EventHandler<Template>) -> Element {
    let preview: String = template
        .body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" / ");
    rsx! {
        button {
            class: "template-pick",
            r#type: "button",
            onclick: move |_| on_pick.call(template.clone()),
            span { class: "name", "{template.title}" }
            span { class: "meta", "{preview}" }
        }
    }
}

/// Saves the composer's text as a template of my own, under a title (the text's first
/// line unless changed).
#[component]
fn SaveMine(composer_text: String, on_saved: EventHandler<Template>) -> Element {
    let session = use_context::<Session>();
    let text = composer_text.trim().to_owned();
    let first_line: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(30)
        .collect();
    let mut title = use_signal(move || first_line);
    let mut busy = use_signal(|| false);
    let mut message = use_signal(|| None::<String>);
    let mut saved = use_signal(|| false);
    if saved() {
        return rsx! {
            p { class: "muted template-save-hint", role: "status", {tr("保存しました。", "Saved.")} }
        };
    }
    if text.is_empty() {
        return rsx! {
            p { class: "muted template-save-hint",
                {tr("入力中の文章を定型文として保存できます（いまは空です）。", "You can save what you are writing as a template (it is empty now).")}
            }
        };
    }
    let body = text.clone();
    let mut save = move || {
        if *busy.peek() || title.peek().trim().is_empty() {
            return;
        }
        busy.set(true);
        message.set(None);
        let s = session.clone();
        let new = NewTemplate {
            title: title.peek().trim().to_owned(),
            body: body.clone(),
            sort_order: 0,
        };
        spawn(async move {
            let result = api::post::<_, Template>(TEMPLATES_URL, &new).await;
            busy.set(false);
            match result {
                Ok(t) => {
                    saved.set(true);
                    on_saved.call(t);
                }
                Err(e) if e.is_unauthorized() => s.expired(),
                Err(ApiError::Offline) => message.set(Some(
                    tr(
                        "オフラインのため保存できません。接続してからもう一度お試しください。",
                        "Offline: cannot save now. Try again when connected.",
                    )
                    .to_owned(),
                )),
                Err(e) => message.set(Some(e.explain())),
            }
        });
    };
    let mut save_on_enter = save.clone();
    let too_long = text.chars().count() > TEMPLATE_BODY_MAX;
    rsx! {
        // Not a form: the sheet sits inside the composer's form (in the DOM), and a nested
        // form's submit, or Enter in this field, would send the post.
        div { class: "template-save",
            h3 { {tr("入力中の文章を自分の定型文として保存", "Save what you are writing as my template")} }
            label { r#for: "template-title", {tr("タイトル", "Title")} }
            input {
                id: "template-title",
                r#type: "text",
                maxlength: "{TEMPLATE_TITLE_MAX}",
                autocomplete: "off",
                value: "{title}",
                oninput: move |e| title.set(e.value()),
                onkeydown: move |e| {
                    if e.key() == Key::Enter {
                        e.prevent_default();
                        save_on_enter();
                    }
                },
            }
            if too_long {
                p { class: "error",
                    {tr_string(
                        format!("定型文は {TEMPLATE_BODY_MAX} 文字までです。"),
                        format!("A template holds at most {TEMPLATE_BODY_MAX} characters."),
                    )}
                }
            }
            if let Some(msg) = message() {
                p { class: "error", role: "alert", "{msg}" }
            }
            button {
                class: "secondary",
                r#type: "button",
                disabled: busy() || too_long || title().trim().is_empty(),
                onclick: move |_| save(),
                {tr("保存する", "Save")}
            }
        }
    }
}
