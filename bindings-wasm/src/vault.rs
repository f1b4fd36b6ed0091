//! The Vault over a JS store. Every method returns a Promise; calls on one `Vault` run one at a
//! time (an async lock), in the order they were made.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::lock::Mutex;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use coffer::share::Scope;
use coffer::vault::{
    self as core_vault, ListPage, ListRequest, ObjectInfo, PutOptions, RotationReport, ShareInfo,
    ShareOptions,
};

use crate::Identity;
use crate::convert::{absent, bytes_arg, key_arg, num, obj, prop, str_arg, text_or_null, u64_arg};
use crate::error::{bad_input, from_key, from_vault};
use crate::share::{scope_arg, scope_js, share_id_arg};
use crate::store::JsStore;
use crate::trust::trust_option;

type CoreVault = core_vault::Vault<JsStore>;

/// A vault opened on one device over a JS store (see `coffer::vault`).
#[wasm_bindgen]
pub struct Vault {
    inner: Rc<Mutex<CoreVault>>,
    name: String,
}

#[derive(Clone, Copy)]
enum Mode {
    Create,
    Open,
    OpenOrCreate,
}

fn open_with(
    store: JsValue,
    identity: &Identity,
    name: JsValue,
    device: JsValue,
    options: JsValue,
    mode: Mode,
) -> Promise {
    let identity = identity.0.clone();
    future_to_promise(async move {
        let name = str_arg(&name, "vault name")?;
        let device = str_arg(&device, "device")?;
        let store = Arc::new(JsStore::new(store).map_err(bad_input)?);
        let trust = trust_option(&options)?;
        let create = match mode {
            Mode::Open => None,
            Mode::Create => Some(true),
            Mode::OpenOrCreate => Some(false),
        };
        let post_quantum = post_quantum_option(&options)?;
        let options = core_vault::VaultOptions {
            trust: trust.map(|t| Arc::new(t) as Arc<dyn coffer::trust::TrustStore>),
            post_quantum,
        };
        let v = CoreVault::open_with_options(store, identity, &name, &device, create, options)
            .await
            .map_err(from_vault)?;
        Ok(Vault {
            inner: Rc::new(Mutex::new(v)),
            name,
        }
        .into())
    })
}

/// `options.postQuantum`: `true` wraps a new vault's key with X-Wing; absent or `false`: no.
fn post_quantum_option(options: &JsValue) -> Result<bool, JsValue> {
    if options.is_undefined() || options.is_null() || !options.is_object() {
        return Ok(false);
    }
    let v = js_sys::Reflect::get(options, &JsValue::from_str("postQuantum"))?;
    if v.is_undefined() || v.is_null() {
        return Ok(false);
    }
    v.as_bool()
        .ok_or_else(|| crate::error::bad_input("options.postQuantum must be a boolean"))
}

fn info_js(i: &ObjectInfo) -> JsValue {
    obj(&[
        ("key", text_or_null(&i.key)),
        ("keyBytes", Uint8Array::from(i.key.as_slice()).into()),
        ("version", JsValue::from_str(&i.version)),
        ("etag", JsValue::from_str(i.etag())),
        ("size", num(i.size)),
        ("sealedSize", num(i.sealed_len)),
        (
            "contentType",
            i.content_type
                .as_deref()
                .map(JsValue::from_str)
                .unwrap_or(JsValue::NULL),
        ),
        ("metadata", metadata_js(&i.metadata)),
        ("createdMs", num(i.created_ms)),
        ("data", JsValue::from_str(&i.data)),
    ])
}

fn metadata_js(m: &BTreeMap<String, String>) -> JsValue {
    let o = Object::new();
    for (k, v) in m {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o.into()
}

fn put_options(v: &JsValue) -> Result<PutOptions, JsValue> {
    if absent(v) {
        return Ok(PutOptions::default());
    }
    let content_type = prop(v, "contentType")?;
    let content_type = if absent(&content_type) {
        None
    } else {
        Some(str_arg(&content_type, "contentType")?)
    };
    let md = prop(v, "metadata")?;
    let if_absent = prop(v, "ifAbsent")?;
    let if_absent = if absent(&if_absent) {
        false
    } else {
        if_absent
            .as_bool()
            .ok_or_else(|| bad_input("ifAbsent must be a boolean"))?
    };
    let if_match = prop(v, "ifMatch")?;
    let if_match = if absent(&if_match) {
        None
    } else {
        Some(str_arg(&if_match, "ifMatch")?)
    };
    Ok(PutOptions {
        content_type,
        metadata: string_map(&md, "metadata")?,
        if_absent,
        if_match,
        tags: string_map(&prop(v, "tags")?, "tags")?,
        s3_etag: None,
    })
}

/// An optional JS object of string values as a map.
fn string_map(v: &JsValue, what: &str) -> Result<BTreeMap<String, String>, JsValue> {
    let mut out = BTreeMap::new();
    if absent(v) {
        return Ok(out);
    }
    if !v.is_object() || Array::is_array(v) {
        return Err(bad_input(format!(
            "{what} must be an object of string values"
        )));
    }
    for entry in Object::entries(v.unchecked_ref::<Object>()).iter() {
        let pair: Array = entry.unchecked_into();
        let k = str_arg(&pair.get(0), &format!("{what} key"))?;
        let val = str_arg(&pair.get(1), &format!("{what}[{k:?}]"))?;
        out.insert(k, val);
    }
    Ok(out)
}

fn opt_bytes_prop(v: &JsValue, name: &str) -> Result<Option<Vec<u8>>, JsValue> {
    let p = prop(v, name)?;
    if absent(&p) {
        Ok(None)
    } else {
        key_arg(&p, name).map(Some)
    }
}

// `..Default::default()` on purpose: the core may add fields (with defaults) at any time.
#[allow(clippy::needless_update)]
pub(crate) fn list_request(v: &JsValue) -> Result<ListRequest, JsValue> {
    if absent(v) {
        return Ok(ListRequest::default());
    }
    let token = prop(v, "continuationToken")?;
    let max_keys = prop(v, "maxKeys")?;
    let max_keys = if absent(&max_keys) {
        None
    } else {
        let n = u64_arg(&max_keys, "maxKeys")?;
        Some(u32::try_from(n).map_err(|_| bad_input("maxKeys is too large"))?)
    };
    Ok(ListRequest {
        prefix: opt_bytes_prop(v, "prefix")?.unwrap_or_default(),
        delimiter: opt_bytes_prop(v, "delimiter")?,
        start_after: opt_bytes_prop(v, "startAfter")?,
        continuation_token: if absent(&token) {
            None
        } else {
            Some(str_arg(&token, "continuationToken")?)
        },
        max_keys,
        ..Default::default()
    })
}

/// A page of keys as JS (`Vault.list`, `SharedReader.list`).
pub(crate) fn list_page_js(page: &ListPage) -> JsValue {
    let contents: Array = page
        .contents
        .iter()
        .map(|o| {
            obj(&[
                ("key", text_or_null(&o.key)),
                ("keyBytes", Uint8Array::from(o.key.as_slice()).into()),
                ("size", num(o.size)),
                ("etag", JsValue::from_str(&o.etag)),
                ("lastModifiedMs", num(o.last_modified_ms)),
            ])
        })
        .collect();
    let prefixes: Array = page
        .common_prefixes
        .iter()
        .map(|p| text_or_null(p))
        .collect();
    obj(&[
        ("contents", contents.into()),
        ("commonPrefixes", prefixes.into()),
        ("keyCount", JsValue::from_f64(f64::from(page.key_count))),
        ("isTruncated", JsValue::from_bool(page.is_truncated)),
        (
            "nextContinuationToken",
            page.next_continuation_token
                .as_deref()
                .map(JsValue::from_str)
                .unwrap_or(JsValue::NULL),
        ),
    ])
}

fn share_info_js(i: &ShareInfo) -> JsValue {
    obj(&[
        ("id", JsValue::from_str(&i.id.to_string())),
        ("scope", scope_js(&i.scope)),
        ("to", JsValue::from_str(&i.to.to_string())),
        ("notBeforeMs", num(i.not_before_ms)),
        ("expiresMs", num(i.expires_ms)),
        ("issuedMs", num(i.issued_ms)),
        ("revokedMs", i.revoked_ms.map(num).unwrap_or(JsValue::NULL)),
        ("grant", num(i.grant)),
        ("write", JsValue::from_bool(i.write)),
        ("status", JsValue::from_str(&i.status.to_string())),
    ])
}

fn rotation_js(r: &RotationReport) -> JsValue {
    obj(&[
        ("epoch", num(r.epoch)),
        ("objects", num(r.objects)),
        ("keys", num(r.keys)),
        ("bytesWritten", num(r.bytes_written)),
        ("grants", num(r.grants)),
    ])
}

fn identity_rotation_js(r: &coffer::vault::IdentityRotation) -> JsValue {
    obj(&[
        ("handover", JsValue::from_str(&r.handover.to_string())),
        ("keyBlock", JsValue::from_str(&r.key_block.to_string())),
        ("from", JsValue::from_str(&r.from)),
        ("to", JsValue::from_str(&r.to)),
        ("finalHeads", num(r.final_heads as u64)),
        ("records", num(r.records as u64)),
        ("bytesWritten", num(r.bytes_written)),
        ("resumed", JsValue::from_bool(r.resumed)),
    ])
}

/// `{ to, expiresMs, notBeforeMs?, write? }` plus a scope (see [`scope_arg`]).
fn share_request(v: &JsValue) -> Result<(Scope, coffer::Recipient, ShareOptions), JsValue> {
    if !v.is_object() {
        return Err(bad_input(
            "share needs { prefix | key [, version], to, expiresMs [, notBeforeMs] [, write] }",
        ));
    }
    let scope = scope_arg(v)?;
    let to: coffer::Recipient = str_arg(&prop(v, "to")?, "to (a recipient, coffer1…)")?
        .parse()
        .map_err(from_key)?;
    let expires_ms = u64_arg(&prop(v, "expiresMs")?, "expiresMs")?;
    let nbf = prop(v, "notBeforeMs")?;
    let not_before_ms = if absent(&nbf) {
        None
    } else {
        Some(u64_arg(&nbf, "notBeforeMs")?)
    };
    let write = prop(v, "write")?;
    let write = if absent(&write) {
        false
    } else {
        write
            .as_bool()
            .ok_or_else(|| bad_input("write must be a boolean"))?
    };
    Ok((
        scope,
        to,
        ShareOptions {
            not_before_ms,
            expires_ms,
            presign: false,
            write,
        },
    ))
}

#[wasm_bindgen]
impl Vault {
    /// Creates vault `name` in `store` owned by `identity`, opened as `device`. `options`:
    /// `{ trust? }` (see [`crate::trust`]).
    pub fn create(
        store: JsValue,
        identity: &Identity,
        name: JsValue,
        device: JsValue,
        options: JsValue,
    ) -> Promise {
        open_with(store, identity, name, device, options, Mode::Create)
    }

    /// Opens the existing vault `name` (`NoSuchVault` when there is none).
    pub fn open(
        store: JsValue,
        identity: &Identity,
        name: JsValue,
        device: JsValue,
        options: JsValue,
    ) -> Promise {
        open_with(store, identity, name, device, options, Mode::Open)
    }

    /// Opens vault `name`, creating it when missing.
    #[wasm_bindgen(js_name = openOrCreate)]
    pub fn open_or_create(
        store: JsValue,
        identity: &Identity,
        name: JsValue,
        device: JsValue,
        options: JsValue,
    ) -> Promise {
        open_with(store, identity, name, device, options, Mode::OpenOrCreate)
    }

    /// Opens vault `name` as `device` with `old` and hands it over to `new`
    /// ([`Vault::rotate_identity`]); resumable: when an earlier run was interrupted after its
    /// commit point, it opens the vault with `new` and reports `resumed`. Resolves to
    /// `{ vault, rotation }`, the vault opened with `new`.
    #[wasm_bindgen(js_name = openAndRotateIdentity)]
    pub fn open_and_rotate_identity(
        store: JsValue,
        old: &Identity,
        new: &Identity,
        name: JsValue,
        device: JsValue,
        options: JsValue,
    ) -> Promise {
        let (old, new) = (old.0.clone(), new.0.clone());
        future_to_promise(async move {
            let name = str_arg(&name, "vault name")?;
            let device = str_arg(&device, "device")?;
            let store = Arc::new(JsStore::new(store).map_err(bad_input)?);
            let trust = trust_option(&options)?;
            let options = core_vault::VaultOptions {
                trust: trust.map(|t| Arc::new(t) as Arc<dyn coffer::trust::TrustStore>),
                post_quantum: post_quantum_option(&options)?,
            };
            let (v, r) =
                CoreVault::open_and_rotate_identity(store, old, new, &name, &device, options)
                    .await
                    .map_err(from_vault)?;
            let vault = Vault {
                inner: Rc::new(Mutex::new(v)),
                name,
            };
            Ok(obj(&[
                ("vault", vault.into()),
                ("rotation", identity_rotation_js(&r)),
            ]))
        })
    }

    /// The vault's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Seals and stores `bytes` under `key`; resolves to the new version's info.
    pub fn put(&self, key: JsValue, bytes: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let bytes = bytes_arg(&bytes, "bytes")?;
            let opts = put_options(&options)?;
            let mut v = inner.lock().await;
            let info = v.put(&key, bytes, opts).await.map_err(from_vault)?;
            Ok(info_js(&info))
        })
    }

    /// The current version of `key`, verified and opened.
    pub fn get(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let v = inner.lock().await;
            let b = v.get(&key).await.map_err(from_vault)?;
            Ok(Uint8Array::from(b.as_slice()).into())
        })
    }

    /// Bytes `start..end` of the current version of `key`, fetched and verified by range.
    #[wasm_bindgen(js_name = getRange)]
    pub fn get_range(&self, key: JsValue, start: JsValue, end: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let start = u64_arg(&start, "start")?;
            let end = u64_arg(&end, "end")?;
            if start > end {
                return Err(bad_input(format!(
                    "range start {start} is after its end {end}"
                )));
            }
            let v = inner.lock().await;
            let b = v.get_range(&key, start..end).await.map_err(from_vault)?;
            Ok(Uint8Array::from(b.as_slice()).into())
        })
    }

    /// The current version's info.
    pub fn head(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let v = inner.lock().await;
            Ok(info_js(&v.head(&key).await.map_err(from_vault)?))
        })
    }

    /// The tags of the current version of `key` (an object of strings; empty when none).
    pub fn tags(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let v = inner.lock().await;
            let tags = v.tags(&key).await.map_err(from_vault)?;
            let o = Object::new();
            for (k, val) in tags {
                Reflect::set(&o, &JsValue::from_str(&k), &JsValue::from_str(&val))?;
            }
            Ok(o.into())
        })
    }

    /// Replaces the tags of the current version of `key` (`{}` removes them); the version id
    /// does not change.
    #[wasm_bindgen(js_name = setTags)]
    pub fn set_tags(&self, key: JsValue, tags: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            if absent(&tags) {
                return Err(bad_input("tags must be an object of string values"));
            }
            let tags = string_map(&tags, "tags")?;
            let mut v = inner.lock().await;
            v.set_tags(&key, tags).await.map_err(from_vault)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Every version of `key`, newest first.
    pub fn versions(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let v = inner.lock().await;
            let vs = v.versions(&key).await.map_err(from_vault)?;
            Ok(vs.iter().map(info_js).collect::<Array>().into())
        })
    }

    /// One version of `key` by its id.
    #[wasm_bindgen(js_name = getVersion)]
    pub fn get_version(&self, key: JsValue, version: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let version = str_arg(&version, "version")?;
            let v = inner.lock().await;
            let b = v.get_version(&key, &version).await.map_err(from_vault)?;
            Ok(Uint8Array::from(b.as_slice()).into())
        })
    }

    /// Deletes `key` (`NotFound` when it holds no live object).
    pub fn delete(&self, key: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let key = key_arg(&key, "key")?;
            let mut v = inner.lock().await;
            v.delete(&key).await.map_err(from_vault)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Deletes several keys in one commit: `[{ key, error: CofferError | null }]`.
    #[wasm_bindgen(js_name = deleteMany)]
    pub fn delete_many(&self, keys: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let arr = keys
                .dyn_ref::<Array>()
                .ok_or_else(|| bad_input("keys must be an array"))?;
            let keys = arr
                .iter()
                .enumerate()
                .map(|(i, k)| key_arg(&k, &format!("keys[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let mut v = inner.lock().await;
            let results = v.delete_many(&refs).await.map_err(from_vault)?;
            Ok(results
                .into_iter()
                .map(|r| {
                    let err = match r.result {
                        Ok(()) => JsValue::NULL,
                        Err(e) => from_vault(e),
                    };
                    obj(&[("key", text_or_null(&r.key)), ("error", err)])
                })
                .collect::<Array>()
                .into())
        })
    }

    /// Copies the current version of `src` to `dst` (no re-upload of the data).
    pub fn copy(&self, src: JsValue, dst: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let src = key_arg(&src, "src")?;
            let dst = key_arg(&dst, "dst")?;
            let mut v = inner.lock().await;
            Ok(info_js(&v.copy(&src, &dst).await.map_err(from_vault)?))
        })
    }

    /// One page of keys, ListObjectsV2-style.
    pub fn list(&self, request: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let req = list_request(&request)?;
            let v = inner.lock().await;
            let page = v.list(&req).await.map_err(from_vault)?;
            Ok(list_page_js(&page))
        })
    }

    /// Takes in the other devices' changes: `{ merged: string[], rootBefore, rootAfter }`.
    pub fn sync(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut v = inner.lock().await;
            let r = v.sync().await.map_err(from_vault)?;
            Ok(obj(&[
                (
                    "merged",
                    r.merged
                        .iter()
                        .map(|s| JsValue::from_str(s))
                        .collect::<Array>()
                        .into(),
                ),
                ("rootBefore", JsValue::from_str(&r.root_before.to_string())),
                ("rootAfter", JsValue::from_str(&r.root_after.to_string())),
            ]))
        })
    }

    /// Shares a scope with a recipient until `expiresMs` (docs/FORMAT.md §9): a signed
    /// capability, sealed to them, dropped into their inbox on this store. Resolves to the share
    /// id (32 hex digits).
    pub fn share(&self, request: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let (scope, to, opts) = share_request(&request)?;
            let mut v = inner.lock().await;
            let id = v.share(scope, &to, opts).await.map_err(from_vault)?;
            Ok(JsValue::from_str(&id.to_string()))
        })
    }

    /// Every share this vault issued (as of the last open or sync), with its status now.
    pub fn shares(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            Ok(v.shares()
                .iter()
                .map(share_info_js)
                .collect::<Array>()
                .into())
        })
    }

    /// Revokes a share: its scope moves to a new epoch that only the remaining recipients get.
    pub fn revoke(&self, id: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let id = share_id_arg(&id)?;
            let mut v = inner.lock().await;
            Ok(rotation_js(&v.revoke(&id).await.map_err(from_vault)?))
        })
    }

    /// Rotates the keys of a shared scope (`{ prefix }` or `{ key }`): new grants for every live
    /// recipient, the old epoch retired.
    pub fn rotate(&self, scope: JsValue) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let scope = scope_arg(&scope)?;
            let mut v = inner.lock().await;
            Ok(rotation_js(&v.rotate(&scope).await.map_err(from_vault)?))
        })
    }

    /// Merges what the co-writers of this vault's read-write shares committed into this
    /// device's index and commits, without reading the other devices' heads (`sync` does it
    /// too). Entries outside a writer's scope, or from a writer revoked or expired, are not
    /// merged and are reported by `skippedHeads`.
    #[wasm_bindgen(js_name = mergeCowriters)]
    pub fn merge_cowriters(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut v = inner.lock().await;
            v.merge_cowriters().await.map_err(from_vault)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Hands the vault over from its owner identity to `new`: re-seals the vault key to it and
    /// writes a handover signed by both (nothing re-encrypted or re-uploaded); this vault then
    /// writes as `new`. Resolves to `{ handover, keyBlock, from, to, finalHeads, records,
    /// bytesWritten, resumed }`.
    #[wasm_bindgen(js_name = rotateIdentity)]
    pub fn rotate_identity(&self, new: &Identity) -> Promise {
        let inner = self.inner.clone();
        let new = new.0.clone();
        future_to_promise(async move {
            let mut v = inner.lock().await;
            let r = v.rotate_identity(new).await.map_err(from_vault)?;
            Ok(identity_rotation_js(&r))
        })
    }

    /// The vault's identity handovers, oldest first: `[{ n, cid, from, to, timeMs }]`.
    pub fn handovers(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            Ok(v.handovers()
                .iter()
                .map(|h| {
                    obj(&[
                        ("n", num(h.body.n)),
                        ("cid", JsValue::from_str(&h.cid.to_string())),
                        ("from", JsValue::from_str(&h.from.to_string())),
                        ("to", JsValue::from_str(&h.to.to_string())),
                        ("timeMs", num(h.body.time)),
                    ])
                })
                .collect::<Array>()
                .into())
        })
    }

    /// The current owner's recipient (the identity this vault writes as).
    pub fn owner(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            Ok(JsValue::from_str(&v.owner().to_string()))
        })
    }

    /// Why publishing the shared views failed after the last commit (`null` when it did not).
    #[wasm_bindgen(js_name = sharePublishError)]
    pub fn share_publish_error(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            Ok(v.share_publish_error()
                .map(JsValue::from_str)
                .unwrap_or(JsValue::NULL))
        })
    }

    /// This device's current index root CID (changes with every mutation and sync).
    pub fn root(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            Ok(JsValue::from_str(&v.root().to_string()))
        })
    }

    /// A short code of the vault state this device has seen (`XXXX-XXXX-XXXX-XXXX`), to compare
    /// with another device's out of band after both synced.
    #[wasm_bindgen(js_name = stateFingerprint)]
    pub fn state_fingerprint(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            Ok(JsValue::from_str(&v.state_fingerprint()))
        })
    }

    /// Heads skipped by the last open or sync: `[{ writer, reason }]`.
    #[wasm_bindgen(js_name = skippedHeads)]
    pub fn skipped_heads(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner.lock().await;
            let heads: Array = v
                .skipped_heads()
                .iter()
                .map(|h| {
                    obj(&[
                        ("writer", JsValue::from_str(&h.writer)),
                        ("reason", JsValue::from_str(&h.reason)),
                    ])
                })
                .collect();
            Ok(heads.into())
        })
    }
}
