//! Attachments in the app: the attach buttons in the composer, thumbnails and files in a
//! post, a full-size view, and the outbox of files waiting to upload.
//!
//! A picked file gets a ULID at once and goes into its own IndexedDB database (the blob
//! itself, with its room and name) before the post that names it is written, so a photo
//! taken with no signal is neither lost nor blocking: the post shows it as 送信待ち, and the
//! uploader sends it when the network returns (on `online`, after every pick, and every few
//! seconds while something waits). An upload is a `PUT` of the raw file under that id, which
//! the server treats as idempotent, so a retry after a lost answer is harmless.

use crate::i18n::{tr, tr_string};
use crate::ui::session::Session;
use dioxus::prelude::*;
use js_sys::{Array, Object, Promise, Reflect};
use renraku_sync::RoomId;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, File, HtmlInputElement, IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode,
    ProgressEvent, XmlHttpRequest,
};

/// What the server says about an uploaded attachment (`GET /api/rooms/{id}/attachments`).
pub use renraku_contract::AttachmentMeta as Meta;

/// A file on this device that has not reached the server.
#[derive(Clone, Debug, PartialEq)]
struct Waiting {
    name: String,
    /// Set when the server refused it for good (too large, wrong type…).
    refused: Option<String>,
    /// The part of it the server has received while it is being sent, 0.0–1.0.
    sent: Option<f64>,
}

/// A file picked into the post being written: what its chip shows until the post is sent
/// or the file removed. (`WAITING` forgets a file once uploaded; the chip must not go empty.)
#[derive(Clone, Debug, PartialEq)]
struct Picked {
    name: String,
    /// An object URL of the picked photo itself, so its thumbnail shows offline and before
    /// the server has made one.
    preview: Option<String>,
}

/// Per room: the uploaded attachments known here, and when they were last asked for.
static KNOWN: GlobalSignal<HashMap<RoomId, (Vec<Meta>, f64)>> = Signal::global(HashMap::new);
/// Files of this device still waiting, by id.
static WAITING: GlobalSignal<HashMap<String, Waiting>> = Signal::global(HashMap::new);
/// Files picked into a composer, by id.
static PICKED: GlobalSignal<HashMap<String, Picked>> = Signal::global(HashMap::new);
/// The full-size view: (attachment id, name).
static VIEWING: GlobalSignal<Option<(String, String)>> = Signal::global(|| None);

const FILES: &str = "files";
/// What the file button offers (the server decides by the bytes; this only filters the
/// picker).
const DOCUMENT_TYPES: &str = "image/jpeg,image/png,image/webp,application/pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.txt,.csv,text/plain";
/// Re-ask the server for a room's attachments at most this often while a post names one it
/// does not know yet (its author's upload is still on the way).
const REFRESH_MS: f64 = 3_000.0;

thread_local! {
    /// The uploader's wake-up call; set once the uploader runs.
    static KICK: RefCell<Option<futures_channel::mpsc::UnboundedSender<()>>> = const { RefCell::new(None) };
    /// The outbox database's name, for the signed-in user.
    static OUTBOX: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn outbox_name(session: &Session) -> String {
    format!(
        "{}-attachments",
        crate::store::db_name(&session.slug, session.me.user.id)
    )
}

/// Deletes the signed-in user's waiting files (call on sign-out with the user's
/// `store::db_name`, like the main store).
pub async fn forget(db_name: &str) {
    if let Some(factory) = web_sys::window().and_then(|w| w.indexed_db().ok().flatten()) {
        if let Ok(request) = factory.delete_database(&format!("{db_name}-attachments")) {
            let _ = done(&request).await;
        }
    }
}

/// How many of the signed-in user's files wait to be uploaded (sign-out asks first).
pub async fn waiting_count(session: &Session) -> usize {
    outbox_all(&outbox_name(session))
        .await
        .map_or(0, |files| files.len())
}

// ---- components ----

/// The composer's attach buttons: a photo (the phone's camera) and a file.
/// Stores the files picked in the input `element_id` in the outbox (each under a new id,
/// uploaded by the uploader) and reports each id.
async fn store_picked(
    element_id: &str,
    outbox: &str,
    room: RoomId,
    on_attached: EventHandler<String>,
) {
    let Some(input) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(element_id))
        .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
    else {
        return;
    };
    let Some(files) = input.files() else { return };
    let picked: Vec<File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    // The same file may be picked again later.
    input.set_value("");
    for file in picked {
        let id = crate::util::new_post_id().to_string();
        let name = file.name();
        if outbox_put(outbox, &id, room, &name, &file).await.is_err() {
            // No IndexedDB (some private modes): upload directly, online only.
            upload(room, &id, &name, &file).await.ok();
        }
        let preview = file
            .type_()
            .starts_with("image/")
            .then(|| web_sys::Url::create_object_url_with_blob(&file).ok())
            .flatten();
        PICKED.write().insert(
            id.clone(),
            Picked {
                name: name.clone(),
                preview,
            },
        );
        WAITING.write().insert(
            id.clone(),
            Waiting {
                name,
                refused: None,
                sent: None,
            },
        );
        on_attached.call(id);
    }
}

#[component]
pub fn AttachButton(
    room: RoomId,
    on_attached: EventHandler<String>,
    /// `true` while picked files are being stored (a post sent meanwhile would go without
    /// them), then `false`.
    on_busy: Option<EventHandler<bool>>,
) -> Element {
    let session = use_context::<Session>();
    use_uploader(&session);
    let input_id = use_hook(|| format!("attach-{}", crate::util::random_u64()));
    let photo_id = format!("{input_id}-photo");
    let file_id = format!("{input_id}-file");
    let pick = move |element_id: String| {
        let outbox = outbox_name(&session);
        async move {
            if let Some(busy) = on_busy {
                busy.call(true);
            }
            store_picked(&element_id, &outbox, room, on_attached).await;
            if let Some(busy) = on_busy {
                busy.call(false);
            }
            kick();
        }
    };
    let pick_photo = pick.clone();
    let photo_input = photo_id.clone();
    let file_input = file_id.clone();
    rsx! {
        span { class: "attach",
            label { class: "attach-button", r#for: "{photo_id}", title: tr("写真を添付", "Attach a photo"),
                span { aria_hidden: "true", "📷" }
                span { class: "visually-hidden", {tr("写真を添付", "Attach a photo")} }
            }
            input {
                id: "{photo_id}",
                class: "visually-hidden",
                r#type: "file",
                accept: "image/*",
                "capture": "environment",
                onchange: move |_| {
                    spawn(pick_photo(photo_input.clone()));
                },
            }
            label { class: "attach-button", r#for: "{file_id}", title: tr("ファイルを添付", "Attach a file"),
                span { aria_hidden: "true", "📎" }
                span { class: "visually-hidden", {tr("ファイルを添付", "Attach a file")} }
            }
            input {
                id: "{file_id}",
                class: "visually-hidden",
                r#type: "file",
                accept: DOCUMENT_TYPES,
                multiple: true,
                onchange: move |_| {
                    spawn(pick(file_input.clone()));
                },
            }
        }
    }
}

/// The files picked into the post being written, as chips.
#[component]
pub fn PickedChips(ids: Vec<String>, on_removed: EventHandler<String>) -> Element {
    if ids.is_empty() {
        return rsx! {};
    }
    rsx! {
        ul { class: "attach-chips", aria_label: tr("添付するファイル", "Files to attach"),
            for id in ids {
                PickedChip { key: "{id}", id: id.clone(), on_removed }
            }
        }
    }
}

/// One picked file in the composer: the photo's thumbnail (or the file's name), how far its
/// upload is, and a button that takes it out of the post.
#[component]
fn PickedChip(id: String, on_removed: EventHandler<String>) -> Element {
    let picked = PICKED.read().get(&id).cloned();
    let waiting = WAITING.read().get(&id).cloned();
    let name = picked
        .as_ref()
        .map(|p| p.name.clone())
        .or_else(|| waiting.as_ref().map(|w| w.name.clone()))
        .unwrap_or_default();
    let (state, class) = match &waiting {
        Some(Waiting {
            refused: Some(why), ..
        }) => (
            tr_string(format!("送信できません: {why}"), format!("Refused: {why}")),
            "refused",
        ),
        Some(Waiting {
            sent: Some(part), ..
        }) => {
            let pct = (part * 100.0).round() as i64;
            (
                tr_string(format!("送信中 {pct}%"), format!("Sending {pct}%")),
                "sending",
            )
        }
        Some(_) => (tr("送信待ち", "Waiting to send").to_owned(), "waiting"),
        None => (tr("送信済み", "Sent").to_owned(), "sent"),
    };
    let progress = waiting.as_ref().and_then(|w| w.sent);
    let remove_id = id.clone();
    rsx! {
        li { class: "attach-chip {class}",
            if let Some(url) = picked.as_ref().and_then(|p| p.preview.clone()) {
                img { class: "attach-preview", src: "{url}", alt: "{name}" }
            } else {
                span { class: "attach-file-icon", aria_hidden: "true", "📄" }
            }
            span { class: "attach-meta",
                span { class: "attach-name", "{name}" }
                span { class: "attach-state", role: "status", "{state}" }
                if let Some(part) = progress {
                    progress { max: "1", value: "{part}", aria_label: "{name}" }
                }
            }
            button {
                class: "icon attach-remove",
                r#type: "button",
                aria_label: tr_string(format!("{name} を外す"), format!("Remove {name}")),
                onclick: move |_| {
                    let id = remove_id.clone();
                    forget_picked(std::slice::from_ref(&id));
                    on_removed.call(id.clone());
                    // Not sent yet: it no longer goes anywhere.
                    if WAITING.write().remove(&id).is_some() {
                        if let Some(outbox) = OUTBOX.with(|o| o.borrow().clone()) {
                            spawn(async move {
                                let _ = outbox_delete(&outbox, &id).await;
                            });
                        }
                    }
                },
                "×"
            }
        }
    }
}

/// Lets go of picked files' previews (the post holding them was sent, or they were removed).
pub fn forget_picked(ids: &[String]) {
    let mut picked = PICKED.write();
    for id in ids {
        if let Some(Picked {
            preview: Some(url), ..
        }) = picked.remove(id)
        {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
    }
}

/// A post's attachments: thumbnails for photos (tap for full size), links for files (they
/// download under their original name), and 送信待ち for what has not arrived yet.
#[component]
pub fn AttachmentThumbs(room: RoomId, ids: Vec<String>) -> Element {
    let session = use_context::<Session>();
    use_uploader(&session);
    let known = KNOWN
        .read()
        .get(&room)
        .map(|(list, _)| list.clone())
        .unwrap_or_default();
    let waiting = WAITING.read().clone();
    // Ask the server while a post names something it does not list yet: a post arrives
    // before its photo when the author was offline.
    let watched = ids.clone();
    use_future(move || {
        let ids = watched.clone();
        async move {
            if ids.is_empty() {
                return;
            }
            loop {
                let stale = KNOWN
                    .peek()
                    .get(&room)
                    .is_none_or(|(_, at)| js_sys::Date::now() - at > REFRESH_MS);
                if stale {
                    refresh(room).await;
                }
                let all_known = {
                    let known = KNOWN.peek();
                    let list = known.get(&room).map(|(l, _)| l.as_slice()).unwrap_or(&[]);
                    ids.iter().all(|id| list.iter().any(|m| &m.id == id))
                };
                if all_known {
                    break;
                }
                crate::util::sleep_ms(REFRESH_MS as i32).await;
            }
        }
    });
    if ids.is_empty() {
        return rsx! {};
    }
    let viewing = VIEWING.read().clone().filter(|(v, _)| ids.contains(v));
    rsx! {
        div { class: "attachments", style: "display:flex;flex-wrap:wrap;gap:8px;margin:6px 0",
            for id in ids {
                {
                    let meta = known.iter().find(|m| m.id == id).cloned();
                    match meta {
                        Some(meta) if meta.has_thumbnail => {
                            let open = (meta.id.clone(), meta.name.clone());
                            rsx! {
                                button {
                                    key: "{id}",
                                    class: "attachment-thumb",
                                    r#type: "button",
                                    style: "padding:0;border:1px solid #ccd;border-radius:6px;background:none;cursor:zoom-in",
                                    title: "{meta.name}",
                                    onclick: move |_| *VIEWING.write() = Some(open.clone()),
                                    img {
                                        src: "/api/attachments/{meta.id}/thumbnail",
                                        alt: "{meta.name}",
                                        loading: "lazy",
                                        style: "display:block;max-width:160px;max-height:160px;border-radius:6px",
                                    }
                                }
                            }
                        }
                        Some(meta) => {
                            let size = human_size(meta.size);
                            rsx! {
                                a {
                                    key: "{id}",
                                    class: "attachment-file",
                                    href: "/api/attachments/{meta.id}",
                                    download: "{meta.name}",
                                    "📄 {meta.name} ({size})"
                                }
                            }
                        }
                        None => {
                            let local = waiting.get(&id).cloned();
                            let label = match &local {
                                Some(Waiting { refused: Some(why), name, .. }) => tr_string(
                                    format!("添付できませんでした（{name}）: {why}"),
                                    format!("Could not attach {name}: {why}"),
                                ),
                                Some(Waiting { name, .. }) => tr_string(
                                    format!("送信待ち: {name}"),
                                    format!("Waiting to send: {name}"),
                                ),
                                None => tr("添付ファイルの到着待ち", "Attachment on its way").to_owned(),
                            };
                            rsx! {
                                span { key: "{id}", class: "attachment-pending pending", "📎 {label}" }
                            }
                        }
                    }
                }
            }
        }
        if let Some((id, name)) = viewing {
            div {
                class: "attachment-viewer",
                role: "dialog",
                aria_label: "{name}",
                style: "position:fixed;inset:0;background:rgba(0,0,0,.85);display:flex;flex-direction:column;align-items:center;justify-content:center;z-index:100",
                onclick: move |_| *VIEWING.write() = None,
                img {
                    src: "/api/attachments/{id}",
                    alt: "{name}",
                    style: "max-width:100%;max-height:85vh;image-orientation:from-image",
                }
                div { style: "margin-top:8px;display:flex;gap:12px",
                    a {
                        href: "/api/attachments/{id}",
                        download: "{name}",
                        style: "color:#fff",
                        onclick: move |e| e.stop_propagation(),
                        {tr("ダウンロード", "Download")}
                    }
                    button { r#type: "button", onclick: move |_| *VIEWING.write() = None, {tr("閉じる", "Close")} }
                }
            }
        }
    }
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1_000_000.0),
        b if b >= 1_000 => format!("{} KB", b / 1_000),
        b => format!("{b} B"),
    }
}

async fn refresh(room: RoomId) {
    if let Ok(list) = crate::api::get::<Vec<Meta>>(&format!("/api/rooms/{room}/attachments")).await
    {
        KNOWN.write().insert(room, (list, js_sys::Date::now()));
    } else {
        // Offline or refused: try again later, not at every render.
        let mut known = KNOWN.write();
        let entry = known.entry(room).or_insert_with(|| (Vec::new(), 0.0));
        entry.1 = js_sys::Date::now();
    }
}

// ---- the uploader ----

pub(crate) fn kick() {
    KICK.with(|k| {
        if let Some(tx) = k.borrow().as_ref() {
            let _ = tx.unbounded_send(());
        }
    });
}

/// Starts the one uploader of the page (the first component that needs it does).
pub(crate) fn use_uploader(session: &Session) {
    let name = outbox_name(session);
    use_hook(move || {
        let already = OUTBOX.with(|o| o.borrow().as_deref() == Some(name.as_str()));
        if already {
            return;
        }
        OUTBOX.with(|o| *o.borrow_mut() = Some(name.clone()));
        let (tx, mut rx) = futures_channel::mpsc::unbounded::<()>();
        KICK.with(|k| *k.borrow_mut() = Some(tx.clone()));
        let online = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(());
        });
        if let Some(w) = web_sys::window() {
            let _ = w.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
        }
        online.forget();
        dioxus::core::spawn_forever(async move {
            use futures_util::StreamExt;
            loop {
                let waiting = drain(&name).await;
                if waiting {
                    // Something is still waiting: try again soon even without an event.
                    let tick = Box::pin(crate::util::sleep_ms(5_000));
                    let _ = futures_util::future::select(tick, rx.next()).await;
                } else if rx.next().await.is_none() {
                    break;
                }
            }
        });
    });
}

/// Uploads every waiting file once; returns whether some still wait.
async fn drain(outbox: &str) -> bool {
    let Ok(entries) = outbox_all(outbox).await else {
        return false;
    };
    let mut left = false;
    let mut done_rooms = HashSet::new();
    for (id, room, name, blob) in entries {
        WAITING
            .write()
            .entry(id.clone())
            .or_insert_with(|| Waiting {
                name: name.clone(),
                refused: None,
                sent: None,
            });
        match upload(room, &id, &name, &blob).await {
            Ok(()) => {
                let _ = outbox_delete(outbox, &id).await;
                WAITING.write().remove(&id);
                done_rooms.insert(room);
            }
            Err(Some(why)) => {
                // Refused for good: keeping it would retry forever.
                let _ = outbox_delete(outbox, &id).await;
                if let Some(w) = WAITING.write().get_mut(&id) {
                    w.refused = Some(why);
                }
            }
            Err(None) => left = true,
        }
    }
    for room in done_rooms {
        refresh(room).await;
    }
    left
}

/// `PUT`s one file, reporting how much has gone in `WAITING` (an `XMLHttpRequest`: `fetch`
/// cannot tell upload progress). `Err(None)`: try again later (offline, server trouble);
/// `Err(Some(message))`: refused for good.
async fn upload(room: RoomId, id: &str, name: &str, blob: &Blob) -> Result<(), Option<String>> {
    let xhr = XmlHttpRequest::new().map_err(|_| None)?;
    let url = format!("/api/rooms/{room}/attachments/{id}");
    xhr.open_with_async("PUT", &url, true).map_err(|_| None)?;
    let encoded: String = js_sys::encode_uri_component(name).into();
    xhr.set_request_header("x-renraku-csrf", "1")
        .map_err(|_| None)?;
    xhr.set_request_header("x-renraku-file-name", &format!("UTF-8''{encoded}"))
        .map_err(|_| None)?;
    let progress_id = id.to_owned();
    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            if let Some(w) = WAITING.write().get_mut(&progress_id) {
                w.sent = Some((e.loaded() / e.total()).clamp(0.0, 1.0));
            }
        }
    });
    if let Ok(target) = xhr.upload() {
        target.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    // Settles on success, error, abort and timeout alike; the status tells which.
    let finished = Promise::new(&mut |resolve, _reject| {
        xhr.set_onloadend(Some(&resolve));
    });
    if xhr.send_with_opt_blob(Some(blob)).is_err() {
        return Err(None);
    }
    let _ = JsFuture::from(finished).await;
    drop(on_progress);
    let reset = |id: &str| {
        if let Some(w) = WAITING.write().get_mut(id) {
            w.sent = None;
        }
    };
    let status = xhr.status().unwrap_or(0);
    if (200..300).contains(&status) {
        return Ok(());
    }
    reset(id);
    // No answer (offline), signed out, throttled or a server error: later. Anything else
    // will not change.
    if status == 0 || matches!(status, 401 | 408 | 429) || status >= 500 {
        return Err(None);
    }
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    let message = serde_json::from_str::<renraku_contract::ErrorBody>(&text)
        .map(|body| body.message)
        .unwrap_or_else(|_| format!("HTTP {status}"));
    Err(Some(message))
}

// ---- the outbox (IndexedDB) ----

async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = request.clone();
        let on_success = Closure::once_into_js(move || {
            let _ = resolve.call1(
                &JsValue::UNDEFINED,
                &ok.result().unwrap_or(JsValue::UNDEFINED),
            );
        });
        let on_error = Closure::once_into_js(move || {
            let _ = reject.call1(
                &JsValue::UNDEFINED,
                &JsValue::from_str("indexeddb request failed"),
            );
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await
}

async fn committed(tx: &IdbTransaction) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
        let on_error = Closure::once_into_js(move || {
            let _ = reject.call1(
                &JsValue::UNDEFINED,
                &JsValue::from_str("indexeddb transaction failed"),
            );
        });
        tx.set_oncomplete(Some(on_complete.unchecked_ref()));
        tx.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await.map(|_| ())
}

async fn open(name: &str) -> Result<IdbDatabase, JsValue> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or(JsValue::NULL)?;
    let request = factory.open_with_u32(name, 1)?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let db = e
            .target()
            .and_then(|t| t.dyn_into::<IdbRequest>().ok())
            .and_then(|r| r.result().ok())
            .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
        if let Some(db) = db {
            if !db.object_store_names().contains(FILES) {
                let _ = db.create_object_store(FILES);
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let result = done(&request).await;
    drop(upgrade);
    result?.dyn_into::<IdbDatabase>()
}

/// Keeps the file itself (IndexedDB stores blobs natively) until it has been uploaded.
async fn outbox_put(
    outbox: &str,
    id: &str,
    room: RoomId,
    name: &str,
    blob: &Blob,
) -> Result<(), JsValue> {
    let db = open(outbox).await?;
    let value = Object::new();
    Reflect::set(&value, &"id".into(), &id.into())?;
    Reflect::set(
        &value,
        &"room".into(),
        &JsValue::from_f64(room.get() as f64),
    )?;
    Reflect::set(&value, &"name".into(), &name.into())?;
    Reflect::set(&value, &"file".into(), blob)?;
    let tx = db.transaction_with_str_and_mode(FILES, IdbTransactionMode::Readwrite)?;
    tx.object_store(FILES)?
        .put_with_key(&value, &JsValue::from_str(id))?;
    let result = committed(&tx).await;
    db.close();
    result
}

async fn outbox_all(outbox: &str) -> Result<Vec<(String, RoomId, String, Blob)>, JsValue> {
    let db = open(outbox).await?;
    let tx = db.transaction_with_str(FILES)?;
    let all = done(&tx.object_store(FILES)?.get_all()?).await;
    db.close();
    let all: Array = all?.dyn_into()?;
    Ok(all
        .iter()
        .filter_map(|v| {
            let id = Reflect::get(&v, &"id".into()).ok()?.as_string()?;
            let room = Reflect::get(&v, &"room".into()).ok()?.as_f64()? as i64;
            let name = Reflect::get(&v, &"name".into()).ok()?.as_string()?;
            let blob = Reflect::get(&v, &"file".into())
                .ok()?
                .dyn_into::<Blob>()
                .ok()?;
            Some((id, RoomId::new(room), name, blob))
        })
        .collect())
}

async fn outbox_delete(outbox: &str, id: &str) -> Result<(), JsValue> {
    let db = open(outbox).await?;
    let tx = db.transaction_with_str_and_mode(FILES, IdbTransactionMode::Readwrite)?;
    tx.object_store(FILES)?.delete(&JsValue::from_str(id))?;
    let result = committed(&tx).await;
    db.close();
    result
}
