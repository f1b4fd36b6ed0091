//! Sharing, the recipient's side (`coffer::share`, docs/FORMAT.md §9): the inbox, verified
//! shares, the book of accepted shares and the reader of what a share grants. The owner's side
//! (share, shares, revoke, rotate) is on [`Vault`](crate::vault::Vault).

use std::rc::Rc;
use std::sync::Arc;

use futures_util::lock::Mutex;
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use coffer::share::{self as core_share, Accepted, Scope, ShareId};

use crate::Identity;
use crate::convert::{absent, bytes_arg, key_arg, num, obj, prop, str_arg, text_or_null, u64_arg};
use crate::error::{bad_input, from_share};
use crate::store::JsStore;
use crate::vault::{list_page_js, list_request};

/// A key or prefix as JS: its text when UTF-8, else its bytes.
fn key_js(bytes: &[u8]) -> JsValue {
    match std::str::from_utf8(bytes) {
        Ok(s) => JsValue::from_str(s),
        Err(_) => Uint8Array::from(bytes).into(),
    }
}

/// A scope as a plain object: `{ kind: "prefix", prefix }`, `{ kind: "object", key }` or
/// `{ kind: "version", key, version }` (the same shape [`scope_arg`] reads back).
pub(crate) fn scope_js(scope: &Scope) -> JsValue {
    match scope {
        Scope::Prefix(p) => obj(&[("kind", "prefix".into()), ("prefix", key_js(p))]),
        Scope::Object(k) => obj(&[("kind", "object".into()), ("key", key_js(k))]),
        Scope::Version { key, version } => obj(&[
            ("kind", "version".into()),
            ("key", key_js(key)),
            ("version", JsValue::from_str(version)),
        ]),
    }
}

/// A scope from `{ prefix }`, `{ key }` or `{ key, version }` (an optional `kind` must agree).
pub(crate) fn scope_arg(v: &JsValue) -> Result<Scope, JsValue> {
    const WHAT: &str = "a scope is { prefix } (a prefix share), { key } (an object share) or \
                        { key, version } (one version)";
    if !v.is_object() {
        return Err(bad_input(WHAT));
    }
    let (prefix, key, version) = (prop(v, "prefix")?, prop(v, "key")?, prop(v, "version")?);
    let scope = match (absent(&prefix), absent(&key), absent(&version)) {
        (false, true, true) => Scope::Prefix(key_arg(&prefix, "prefix")?),
        (true, false, true) => Scope::Object(key_arg(&key, "key")?),
        (true, false, false) => Scope::Version {
            key: key_arg(&key, "key")?,
            version: str_arg(&version, "version")?,
        },
        _ => return Err(bad_input(WHAT)),
    };
    let kind = prop(v, "kind")?;
    if !absent(&kind) {
        let expected = match scope {
            Scope::Prefix(_) => "prefix",
            Scope::Object(_) => "object",
            Scope::Version { .. } => "version",
        };
        if kind.as_string().as_deref() != Some(expected) {
            return Err(bad_input(format!(
                "scope kind {kind:?} does not match its fields (a {expected} scope)"
            )));
        }
    }
    Ok(scope)
}

/// A share id from its 32 hex digits.
pub(crate) fn share_id_arg(v: &JsValue) -> Result<ShareId, JsValue> {
    let s = str_arg(v, "share id")?;
    s.parse::<ShareId>()
        .map_err(|_| bad_input(format!("{s:?} is not a share id (32 hex digits)")))
}

/// A time in ms since the Unix epoch, or now when absent.
pub(crate) fn now_or(v: &JsValue, what: &str) -> Result<u64, JsValue> {
    if absent(v) {
        Ok(coffer::vault::now_ms())
    } else {
        u64_arg(v, what)
    }
}

/// A verified capability addressed to this identity: who shares what, until when. Holds the keys
/// it grants (never shown); the clock is checked when it is accepted and on every read.
#[wasm_bindgen]
pub struct Share(pub(crate) core_share::Share);

#[wasm_bindgen]
impl Share {
    /// The share id (32 hex digits; the same for every grant of one share).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.0.id().to_string()
    }

    /// The grant number: 1, then one more each time the owner re-grants after a rotation.
    #[wasm_bindgen(getter)]
    pub fn grant(&self) -> f64 {
        self.0.grant() as f64
    }

    /// The issuer's recipient (the vault owner).
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.0.issuer().to_string()
    }

    /// The recipient it is for.
    #[wasm_bindgen(getter)]
    pub fn audience(&self) -> String {
        self.0.audience().to_string()
    }

    /// The vault it reads from.
    #[wasm_bindgen(getter)]
    pub fn vault(&self) -> String {
        self.0.vault().to_string()
    }

    /// What it covers: `{ kind, prefix }`, `{ kind, key }` or `{ kind, key, version }`.
    #[wasm_bindgen(getter)]
    pub fn scope(&self) -> JsValue {
        scope_js(&self.0.scope())
    }

    /// Valid from (ms since the Unix epoch).
    #[wasm_bindgen(getter, js_name = notBeforeMs)]
    pub fn not_before_ms(&self) -> f64 {
        self.0.not_before_ms() as f64
    }

    /// Valid until, exclusive (ms since the Unix epoch).
    #[wasm_bindgen(getter, js_name = expiresMs)]
    pub fn expires_ms(&self) -> f64 {
        self.0.expires_ms() as f64
    }

    /// When it was issued (ms since the Unix epoch).
    #[wasm_bindgen(getter, js_name = issuedMs)]
    pub fn issued_ms(&self) -> f64 {
        self.0.issued_ms() as f64
    }

    /// The rights granted: `["read"]`, or `["read", "write"]` for a read-write share.
    #[wasm_bindgen(getter)]
    pub fn rights(&self) -> Array {
        self.0
            .rights()
            .iter()
            .map(|r| JsValue::from_str(r))
            .collect()
    }

    /// Whether it grants `write` (open a [`SharedWriter`] with it).
    #[wasm_bindgen(getter, js_name = canWrite)]
    pub fn can_write(&self) -> bool {
        self.0.can_write()
    }
}

/// One inbox entry as JS: `{ name, share }` or `{ name, error }`.
fn inbox_entry_js(e: core_share::InboxEntry) -> JsValue {
    match e.share {
        Ok(s) => obj(&[
            ("name", JsValue::from_str(&e.name)),
            ("share", Share(s).into()),
        ]),
        Err(err) => obj(&[
            ("name", JsValue::from_str(&e.name)),
            ("error", from_share(err)),
        ]),
    }
}

/// Every share waiting in `identity`'s inbox on `store`: `[{ name, share } | { name, error }]`.
/// Each entry is verified on its own; a bad entry never hides the others.
#[wasm_bindgen(js_name = readInbox)]
pub fn read_inbox(store: JsValue, identity: &Identity) -> Promise {
    let identity = identity.0.clone();
    future_to_promise(async move {
        let store = JsStore::new(store).map_err(bad_input)?;
        let entries = core_share::read_inbox(&store, &identity)
            .await
            .map_err(from_share)?;
        Ok(entries
            .into_iter()
            .map(inbox_entry_js)
            .collect::<Array>()
            .into())
    })
}

/// Parses a duration such as `30s`, `15m`, `1h`, `7d` or `2w` into milliseconds.
#[wasm_bindgen(js_name = parseDuration)]
pub fn parse_duration(text: JsValue) -> Result<f64, JsValue> {
    let text = str_arg(&text, "duration")?;
    let ms = core_share::parse_duration_ms(&text).map_err(from_share)?;
    if ms > (1u64 << 53) - 1 {
        return Err(bad_input(format!("{text:?} is too long")));
    }
    Ok(ms as f64)
}

/// The shares a recipient accepted, by id: refuses replays and capabilities outside their
/// validity window; persists sealed to its owner.
#[wasm_bindgen]
#[derive(Default)]
pub struct ShareBook(core_share::ShareBook);

#[wasm_bindgen]
impl ShareBook {
    /// An empty book.
    #[wasm_bindgen(constructor)]
    pub fn new() -> ShareBook {
        ShareBook::default()
    }

    /// Accepts `share` at `now_ms` (default now): `"new"` or `"updated"` (a newer grant).
    pub fn accept(&mut self, share: &Share, now_ms: JsValue) -> Result<String, JsValue> {
        let now = now_or(&now_ms, "nowMs")?;
        match self.0.accept(share.0.clone(), now).map_err(from_share)? {
            Accepted::New => Ok("new".into()),
            Accepted::Updated => Ok("updated".into()),
        }
    }

    /// Every accepted share, by id.
    pub fn shares(&self) -> Array {
        self.0
            .iter()
            .map(|s| JsValue::from(Share(s.clone())))
            .collect()
    }

    /// The share with this id, or `undefined`.
    pub fn get(&self, id: JsValue) -> Result<Option<Share>, JsValue> {
        let id = share_id_arg(&id)?;
        Ok(self.0.get(&id).cloned().map(Share))
    }

    /// The share whose id starts with `id_prefix` (at least 4 hex digits).
    pub fn find(&self, id_prefix: JsValue) -> Result<Share, JsValue> {
        let p = str_arg(&id_prefix, "share id prefix")?;
        self.0.find(&p).cloned().map(Share).map_err(from_share)
    }

    /// Forgets a share; whether it was there.
    pub fn remove(&mut self, id: JsValue) -> Result<bool, JsValue> {
        let id = share_id_arg(&id)?;
        Ok(self.0.remove(&id).is_some())
    }

    /// Number of shares.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }

    /// The book sealed to `identity` and signed by it: safe to keep anywhere.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self, identity: &Identity) -> Result<Vec<u8>, JsValue> {
        self.0.to_bytes(&identity.0).map_err(from_share)
    }

    /// Reads a book written by [`ShareBook::to_bytes`]; every share in it is verified again.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(identity: &Identity, bytes: JsValue) -> Result<ShareBook, JsValue> {
        let bytes = bytes_arg(&bytes, "bytes")?;
        core_share::ShareBook::from_bytes(&identity.0, &bytes)
            .map(ShareBook)
            .map_err(from_share)
    }
}

/// Reads what one accepted share grants, from the owner's store; every read checks the clock and
/// the scope and verifies every block.
#[wasm_bindgen]
pub struct SharedReader {
    inner: Rc<core_share::SharedReader<JsStore>>,
}

#[wasm_bindgen]
impl SharedReader {
    /// Opens `share` on `store` (the owner's store).
    pub fn open(store: JsValue, share: &Share) -> Promise {
        let share = share.0.clone();
        future_to_promise(async move {
            let store = Arc::new(JsStore::new(store).map_err(bad_input)?);
            let r = core_share::SharedReader::open(store, share)
                .await
                .map_err(from_share)?;
            Ok(SharedReader { inner: Rc::new(r) }.into())
        })
    }

    /// The share being read.
    #[wasm_bindgen(getter)]
    pub fn share(&self) -> Share {
        Share(self.inner.share().clone())
    }

    /// One page of the shared keys (as `Vault.list`); the prefix must lie inside the scope.
    pub fn list(&self, request: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let req = list_request(&request)?;
            let page = inner.list(&req).await.map_err(from_share)?;
            Ok(list_page_js(&page))
        })
    }

    /// The object under `key`, verified and opened.
    pub fn get(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let b = inner.get(&key).await.map_err(from_share)?;
            Ok(Uint8Array::from(b.as_slice()).into())
        })
    }

    /// What the share holds under `key`: `{ key, keyBytes, version, size, contentType, createdMs }`.
    pub fn head(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let o = inner.head(&key).await.map_err(from_share)?;
            Ok(obj(&[
                ("key", text_or_null(&o.key)),
                ("keyBytes", Uint8Array::from(o.key.as_slice()).into()),
                ("version", JsValue::from_str(&o.version)),
                ("size", num(o.size)),
                (
                    "contentType",
                    o.content_type
                        .as_deref()
                        .map(JsValue::from_str)
                        .unwrap_or(JsValue::NULL),
                ),
                ("createdMs", num(o.created_ms)),
            ]))
        })
    }
}

/// Writes under a read-write share as its recipient: puts and deletes land in this co-writer's
/// own signed index and reach the owner's devices and the other recipients at `commit`. Every
/// call checks the clock ("ShareNotValid" once expired) and the scope ("WriteOutsideScope");
/// `commit` fails with "ShareNotValid" once the owner revoked the share or rotated its keys, and
/// with "NotWriter" when the owner no longer lists this identity. Calls run one at a time.
#[wasm_bindgen]
pub struct SharedWriter {
    inner: Rc<Mutex<core_share::SharedWriter<JsStore>>>,
    share: core_share::Share,
    writer_id: String,
}

#[wasm_bindgen]
impl SharedWriter {
    /// Opens `share` (a read-write share addressed to `identity`) for writing on `store` (the
    /// owner's store), continuing from this co-writer's last commit if any. "NotWriter" for a
    /// read-only share, "WrongIdentity" when it is for another identity.
    pub fn open(store: JsValue, identity: &Identity, share: &Share) -> Promise {
        let identity = identity.0.clone();
        let share = share.0.clone();
        future_to_promise(async move {
            let store = Arc::new(JsStore::new(store).map_err(bad_input)?);
            let w = core_share::SharedWriter::open(store, identity, share.clone())
                .await
                .map_err(from_share)?;
            let writer_id = w.writer_id().0.iter().map(|b| format!("{b:02x}")).collect();
            Ok(SharedWriter {
                inner: Rc::new(Mutex::new(w)),
                share,
                writer_id,
            }
            .into())
        })
    }

    /// The share written under.
    #[wasm_bindgen(getter)]
    pub fn share(&self) -> Share {
        Share(self.share.clone())
    }

    /// The writer id this co-writer's entries carry (32 hex digits, from its recipient).
    #[wasm_bindgen(getter, js_name = writerId)]
    pub fn writer_id(&self) -> String {
        self.writer_id.clone()
    }

    /// Puts `bytes` under `key` (inside the scope); visible to others after `commit`. `options`:
    /// `{ contentType? }`. Resolves to the new version id.
    pub fn put(&self, key: JsValue, bytes: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let bytes = bytes_arg(&bytes, "bytes")?;
            let content_type = if absent(&options) {
                None
            } else {
                let ct = prop(&options, "contentType")?;
                if absent(&ct) {
                    None
                } else {
                    Some(str_arg(&ct, "contentType")?)
                }
            };
            let mut w = inner.lock().await;
            let version = w
                .put(&key, &bytes, content_type)
                .await
                .map_err(from_share)?;
            Ok(JsValue::from_str(&version.to_string()))
        })
    }

    /// Deletes `key` (inside the scope); visible to others after `commit`.
    pub fn delete(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let mut w = inner.lock().await;
            w.delete(&key).await.map_err(from_share)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Publishes what was put and deleted since the last commit; resolves to the head's seq.
    pub fn commit(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut w = inner.lock().await;
            Ok(num(w.commit().await.map_err(from_share)?))
        })
    }

    /// A reader of the share as the store holds it now (the owner's view merged with every
    /// allowed co-writer's commits, this one's included).
    pub fn reader(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let w = inner.lock().await;
            let r = w.reader().await.map_err(from_share)?;
            Ok(SharedReader { inner: Rc::new(r) }.into())
        })
    }
}
