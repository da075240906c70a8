//! IndexedDB, through web-sys directly (a wrapper crate would add more wasm than these few
//! calls). One database per signed-in user, so a shared device never mixes two people's
//! data; sign-out deletes it. Three object stores:
//! - `docs`: document key (`room/5`, `user/3`) → the whole yrs state (v1 update bytes);
//! - `outbox`: auto-increment id → a postcard `OutboxEntry`: every local update, written
//!   before it is sent and deleted only when the server says `Saved`;
//! - `cache`: API URL → JSON body, so the app opens with no network.
//!
//! Without IndexedDB (some private modes) the store is inert and the app works online only.

use js_sys::{Promise, Uint8Array};
use renraku_sync::DocId;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbObjectStoreParameters, IdbRequest, IdbTransaction, IdbTransactionMode,
};

const VERSION: u32 = 1;
const DOCS: &str = "docs";
const OUTBOX: &str = "outbox";
const CACHE: &str = "cache";

/// One local update waiting for the server's `Saved`: the sync session's own entry type,
/// stored as postcard.
pub use renraku_sync::OutboxEntry;

#[derive(Clone, Default)]
pub struct Store {
    db: Option<IdbDatabase>,
}

impl PartialEq for Store {
    fn eq(&self, other: &Self) -> bool {
        self.db.is_some() == other.db.is_some()
    }
}

pub fn db_name(slug: &str, user: renraku_sync::UserId) -> String {
    format!("renraku-{slug}-{user}")
}

/// Resolves when `request` succeeds, with its result. The handlers are attached at once (not
/// when the future is first polled), so no event can fire before they listen.
fn done(request: &IdbRequest) -> JsFuture {
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
    JsFuture::from(promise)
}

/// Resolves when `tx` has committed: only then is a write durable. Call it before awaiting
/// anything else in the transaction (see `done`).
fn committed(tx: &IdbTransaction) -> JsFuture {
    let promise = Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        });
        let reject2 = reject.clone();
        let on_error = Closure::once_into_js(move || {
            let _ = reject.call1(
                &JsValue::UNDEFINED,
                &JsValue::from_str("indexeddb transaction failed"),
            );
        });
        let on_abort = Closure::once_into_js(move || {
            let _ = reject2.call1(
                &JsValue::UNDEFINED,
                &JsValue::from_str("indexeddb transaction aborted"),
            );
        });
        tx.set_oncomplete(Some(on_complete.unchecked_ref()));
        tx.set_onerror(Some(on_error.unchecked_ref()));
        tx.set_onabort(Some(on_abort.unchecked_ref()));
    });
    JsFuture::from(promise)
}

fn factory() -> Option<web_sys::IdbFactory> {
    web_sys::window()?.indexed_db().ok()?
}

impl Store {
    pub async fn open(name: &str) -> Store {
        if let Some(db) = Self::early(name).await {
            return Store { db: Some(db) };
        }
        let db = Self::try_open(name).await.ok();
        Store { db }
    }

    /// The connection `app/early.js` began opening while the page loaded, if it is this
    /// database at this version (taken once: a later open asks IndexedDB itself).
    async fn early(name: &str) -> Option<IdbDatabase> {
        let window = web_sys::window()?;
        let key = JsValue::from_str("renrakuEarlyStore");
        let pending = js_sys::Reflect::get(&window, &key).ok()?;
        let _ = js_sys::Reflect::delete_property(&window, &key);
        let pending: Promise = pending.dyn_into().ok()?;
        let db: IdbDatabase = JsFuture::from(pending).await.ok()?.dyn_into().ok()?;
        if db.name() == name && db.version() == f64::from(VERSION) {
            Some(db)
        } else {
            db.close();
            None
        }
    }

    async fn try_open(name: &str) -> Result<IdbDatabase, JsValue> {
        let factory = factory().ok_or(JsValue::NULL)?;
        let request = factory.open_with_u32(name, VERSION)?;
        let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let Some(db) = e
                .target()
                .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
            else {
                return;
            };
            let names = db.object_store_names();
            if !names.contains(DOCS) {
                let _ = db.create_object_store(DOCS);
            }
            if !names.contains(CACHE) {
                let _ = db.create_object_store(CACHE);
            }
            if !names.contains(OUTBOX) {
                let params = IdbObjectStoreParameters::new();
                params.set_auto_increment(true);
                let _ = db.create_object_store_with_optional_parameters(OUTBOX, &params);
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let result = done(&request).await;
        drop(upgrade);
        result?.dyn_into::<IdbDatabase>()
    }

    /// Deletes a user's database (sign-out).
    pub async fn delete(name: &str) {
        if let Some(f) = factory() {
            if let Ok(request) = f.delete_database(name) {
                let _ = done(&request).await;
            }
        }
    }

    pub fn close(&self) {
        if let Some(db) = &self.db {
            db.close();
        }
    }

    fn tx(
        &self,
        store: &str,
        mode: IdbTransactionMode,
    ) -> Option<(IdbTransaction, web_sys::IdbObjectStore)> {
        let db = self.db.as_ref()?;
        let tx = db.transaction_with_str_and_mode(store, mode).ok()?;
        let os = tx.object_store(store).ok()?;
        Some((tx, os))
    }

    async fn get(&self, store: &str, key: &str) -> Option<JsValue> {
        let (_tx, os) = self.tx(store, IdbTransactionMode::Readonly)?;
        let value = done(&os.get(&JsValue::from_str(key)).ok()?).await.ok()?;
        (!value.is_undefined()).then_some(value)
    }

    async fn put(&self, store: &str, key: &str, value: &JsValue) -> bool {
        let Some((tx, os)) = self.tx(store, IdbTransactionMode::Readwrite) else {
            return false;
        };
        let complete = committed(&tx);
        if os.put_with_key(value, &JsValue::from_str(key)).is_err() {
            return false;
        }
        complete.await.is_ok()
    }

    async fn delete_key(&self, store: &str, key: &str) {
        let Some((tx, os)) = self.tx(store, IdbTransactionMode::Readwrite) else {
            return;
        };
        let complete = committed(&tx);
        if os.delete(&JsValue::from_str(key)).is_ok() {
            let _ = complete.await;
        }
    }

    /// Forgets a document's state (the user is no longer a member of its room).
    pub async fn delete_doc(&self, doc: DocId) {
        self.delete_key(DOCS, &doc.storage_key()).await;
    }

    pub async fn delete_cache(&self, url: &str) {
        self.delete_key(CACHE, url).await;
    }

    pub async fn get_doc(&self, doc: DocId) -> Option<Vec<u8>> {
        let value = self.get(DOCS, &doc.storage_key()).await?;
        Some(value.dyn_into::<Uint8Array>().ok()?.to_vec())
    }

    pub async fn put_doc(&self, doc: DocId, state: &[u8]) {
        self.put(DOCS, &doc.storage_key(), &Uint8Array::from(state).into())
            .await;
    }

    pub async fn get_cache(&self, url: &str) -> Option<String> {
        self.get(CACHE, url).await?.as_string()
    }

    pub async fn put_cache(&self, url: &str, body: &str) {
        self.put(CACHE, url, &JsValue::from_str(body)).await;
    }

    /// Appends to the outbox and returns the entry's id once it is durably stored; `None`
    /// when there is no IndexedDB (the update is then sent without a safety net).
    pub async fn outbox_add(&self, entry: &OutboxEntry) -> Option<u64> {
        let (tx, os) = self.tx(OUTBOX, IdbTransactionMode::Readwrite)?;
        let bytes = postcard::to_stdvec(entry).ok()?;
        let complete = committed(&tx);
        let request = os.add(&Uint8Array::from(bytes.as_slice()).into()).ok()?;
        let added = done(&request);
        let key = added.await.ok()?;
        complete.await.ok()?;
        key.as_f64().map(|k| k as u64)
    }

    /// Every waiting update, oldest first.
    pub async fn outbox_all(&self) -> Vec<(u64, OutboxEntry)> {
        let Some((_tx, os)) = self.tx(OUTBOX, IdbTransactionMode::Readonly) else {
            return vec![];
        };
        let (Ok(keys), Ok(values)) = (os.get_all_keys(), os.get_all()) else {
            return vec![];
        };
        let (keys, values) = (done(&keys), done(&values));
        let (Ok(keys), Ok(values)) = (keys.await, values.await) else {
            return vec![];
        };
        let keys: js_sys::Array = keys.unchecked_into();
        let values: js_sys::Array = values.unchecked_into();
        keys.iter()
            .zip(values.iter())
            .filter_map(|(k, v)| {
                let bytes = v.dyn_into::<Uint8Array>().ok()?.to_vec();
                Some((k.as_f64()? as u64, postcard::from_bytes(&bytes).ok()?))
            })
            .collect()
    }

    pub async fn outbox_delete(&self, ids: &[u64]) {
        let Some((tx, os)) = self.tx(OUTBOX, IdbTransactionMode::Readwrite) else {
            return;
        };
        let complete = committed(&tx);
        for id in ids {
            let _ = os.delete(&JsValue::from_f64(*id as f64));
        }
        let _ = complete.await;
    }
}
