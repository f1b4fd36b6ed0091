//! A coffer store implemented in JavaScript: any object with these async methods (see
//! `packages-npm/src/index.d.ts`, `BlockStore` and `HeadStore`):
//!
//! ```text
//! put(cid: string, bytes: Uint8Array): Promise<void>
//! get(cid: string): Promise<Uint8Array | null>            // null/undefined: not found
//! getRange?(cid, start, end): Promise<Uint8Array | null>   // optional; else get + slice
//! getMax?(cid, maxLen): Promise<Uint8Array | null>         // optional; else get + length check
//! has(cid): Promise<boolean>
//! delete(cid): Promise<void>
//! list(): Promise<string[]>
//! readHeads(vault): Promise<{ writer: string, bytes: Uint8Array, version: string }[]>
//! writeHead(vault, writer, bytes, condition): Promise<string>   // the new version
//!     condition: { type: "absent" } | { type: "matches", version } | { type: "any" }
//! conditionalWrites?: "enforced" | "bestEffort"              // default "bestEffort"
//! ```
//!
//! Methods may return values or Promises. A thrown error or rejected Promise becomes a
//! [`StoreError`]: by its `code` property when it is one of `NotFound`, `PreconditionFailed`,
//! `AccessDenied`, `Throttled`, `Timeout`, `TooLarge`, otherwise `Unavailable` with its message.
//! Every returned value is type-checked; nothing a JS store does can trap the module.
//!
//! Answers are bounded as the native stores' are: a `getMax` or `get` answer over the caller's
//! limit is `TooLarge`; a `getRange` answer longer than asked is `TooLarge`, a shorter one
//! `RangeOutOfBounds` (`Uint8Array.slice` shortens past the end); `readHeads` may return at
//! most `MAX_HEADS` (10,000) heads of at most `MAX_HEAD_BYTES` (1 MiB) each. A JS store cannot
//! stop a `fetch` from buffering: the package's own stores (`S3Store`, `IpfsStore`) read their
//! HTTP bodies with the same caps.

use std::ops::Range;

use bytes::Bytes;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use coffer::block::Cid;
use coffer::store::{
    BlockStore, ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, MAX_HEAD_BYTES,
    MAX_HEADS, StoreError, StoreResult,
};

use crate::convert::{MAX_BYTES, obj, prop};

/// A store whose operations are a JS object's async methods.
pub struct JsStore {
    obj: JsValue,
    conditional: ConditionalWrites,
}

impl std::fmt::Debug for JsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsStore").finish_non_exhaustive()
    }
}

const METHODS: [&str; 9] = [
    "put",
    "get",
    "has",
    "delete",
    "list",
    "readHeads",
    "writeHead",
    "getRange",
    "getMax",
];

impl JsStore {
    /// Wraps `obj`, checking that it has the required methods.
    pub fn new(obj: JsValue) -> Result<Self, String> {
        if !obj.is_object() {
            return Err("the store must be an object with async methods put, get, has, delete, list, readHeads, writeHead".into());
        }
        for m in &METHODS[..7] {
            let f = Reflect::get(&obj, &JsValue::from_str(m)).unwrap_or(JsValue::UNDEFINED);
            if !f.is_function() {
                return Err(format!("the store has no {m}() method"));
            }
        }
        let cw = Reflect::get(&obj, &JsValue::from_str("conditionalWrites"))
            .ok()
            .and_then(|v| v.as_string());
        let conditional = match cw.as_deref() {
            Some("enforced") => ConditionalWrites::Enforced,
            None | Some("bestEffort") => ConditionalWrites::BestEffort,
            Some(other) => {
                return Err(format!(
                    "store.conditionalWrites must be \"enforced\" or \"bestEffort\", got {other:?}"
                ));
            }
        };
        Ok(Self { obj, conditional })
    }

    fn method(&self, name: &str) -> Option<Function> {
        Reflect::get(&self.obj, &JsValue::from_str(name))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
    }

    /// Calls `name(args…)` and awaits its result (value or Promise).
    async fn call(&self, name: &str, args: &[JsValue]) -> StoreResult<JsValue> {
        let f = self
            .method(name)
            .ok_or_else(|| StoreError::Config(format!("the store has no {name}() method")))?;
        let args: Array = args.iter().collect();
        let r = f
            .apply(&self.obj, &args)
            .map_err(|e| js_to_store(name, &e))?;
        // Promise.resolve adopts thenables and wraps plain values; awaiting it handles rejection.
        JsFuture::from(Promise::resolve(&r))
            .await
            .map_err(|e| js_to_store(name, &e))
    }

    async fn call_bytes(&self, name: &str, args: &[JsValue]) -> StoreResult<Option<Bytes>> {
        let v = self.call(name, args).await?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        let arr = if let Some(a) = v.dyn_ref::<Uint8Array>() {
            a.clone()
        } else if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
            Uint8Array::new(b)
        } else {
            return Err(StoreError::Other(format!(
                "store.{name}() returned something other than a Uint8Array"
            )));
        };
        if arr.length() > MAX_BYTES {
            return Err(StoreError::Unsupported(format!(
                "store.{name}() returned {} bytes, more than one call handles",
                arr.length()
            )));
        }
        Ok(Some(Bytes::from(arr.to_vec())))
    }
}

/// A thrown value or rejection reason as a [`StoreError`].
fn js_to_store(method: &str, e: &JsValue) -> StoreError {
    let get = |k: &str| {
        if e.is_object() {
            Reflect::get(e, &JsValue::from_str(k))
                .ok()
                .and_then(|v| v.as_string())
        } else {
            None
        }
    };
    let message = get("message")
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the store's transport failed".into());
    let message: String = message.chars().take(500).collect();
    let what = format!("store.{method}(): {message}");
    match get("code").as_deref() {
        Some("NotFound") => StoreError::NotFound(what),
        Some("PreconditionFailed") => StoreError::PreconditionFailed(what),
        Some("AccessDenied") => StoreError::AccessDenied(what),
        Some("Throttled") => StoreError::Throttled(what),
        Some("Timeout") => StoreError::Timeout(what),
        Some("TooLarge") => StoreError::TooLarge {
            what,
            limit: if e.is_object() {
                Reflect::get(e, &JsValue::from_str("limit"))
                    .ok()
                    .and_then(|v| v.as_f64())
                    .map_or(0, |l| l as u64)
            } else {
                0
            },
        },
        _ => StoreError::Unavailable(what),
    }
}

fn cid_js(cid: &Cid) -> JsValue {
    JsValue::from_str(&cid.to_string())
}

fn bytes_js(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

#[async_trait::async_trait(?Send)]
impl BlockStore for JsStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.call("put", &[cid_js(cid), bytes_js(&bytes)]).await?;
        Ok(())
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.call_bytes("get", &[cid_js(cid)])
            .await?
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let b = if self.method("getMax").is_some() {
            self.call_bytes("getMax", &[cid_js(cid), JsValue::from_f64(max_len as f64)])
                .await?
        } else {
            self.call_bytes("get", &[cid_js(cid)]).await?
        }
        .ok_or_else(|| StoreError::NotFound(cid.to_string()))?;
        if b.len() as u64 > max_len {
            return Err(StoreError::TooLarge {
                what: format!("block {cid} ({} bytes) from the JS store", b.len()),
                limit: max_len,
            });
        }
        Ok(b)
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let out_of_bounds = |len: u64| StoreError::RangeOutOfBounds {
            cid: cid.to_string(),
            start: range.start,
            end: range.end,
            len,
        };
        if self.method("getRange").is_some() {
            let b = self
                .call_bytes(
                    "getRange",
                    &[
                        cid_js(cid),
                        JsValue::from_f64(range.start as f64),
                        JsValue::from_f64(range.end as f64),
                    ],
                )
                .await?
                .ok_or_else(|| StoreError::NotFound(cid.to_string()))?;
            if range.start > range.end {
                return Err(out_of_bounds(b.len() as u64));
            }
            let want = range.end - range.start;
            if b.len() as u64 > want {
                return Err(StoreError::TooLarge {
                    what: format!(
                        "the answer to range {}..{} of {cid} ({} bytes) from the JS store",
                        range.start,
                        range.end,
                        b.len()
                    ),
                    limit: want,
                });
            }
            if (b.len() as u64) < want {
                return Err(out_of_bounds(b.len() as u64));
            }
            return Ok(b);
        }
        let b = BlockStore::get(self, cid).await?;
        let len = b.len() as u64;
        if range.start > range.end || range.end > len {
            return Err(out_of_bounds(len));
        }
        Ok(b.slice(range.start as usize..range.end as usize))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        let v = self.call("has", &[cid_js(cid)]).await?;
        v.as_bool()
            .ok_or_else(|| StoreError::Other("store.has() did not return a boolean".into()))
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.call("delete", &[cid_js(cid)]).await?;
        Ok(())
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let v = self.call("list", &[]).await?;
        let arr = v
            .dyn_into::<Array>()
            .map_err(|_| StoreError::Other("store.list() did not return an array".into()))?;
        arr.iter()
            .map(|s| {
                let s = s.as_string().ok_or_else(|| {
                    StoreError::Other("store.list() returned a non-string".into())
                })?;
                Cid::try_from(s.as_str()).map_err(|e| StoreError::Corrupt {
                    cid: s.chars().take(100).collect(),
                    detail: format!("store.list() returned something that is not a CID: {e}"),
                })
            })
            .collect()
    }
}

#[async_trait::async_trait(?Send)]
impl HeadStore for JsStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        coffer::store::validate_name(vault)?;
        let v = self.call("readHeads", &[JsValue::from_str(vault)]).await?;
        let bad = |what: &str| StoreError::Other(format!("store.readHeads() returned {what}"));
        let arr = v
            .dyn_into::<Array>()
            .map_err(|_| bad("something other than an array"))?;
        if arr.length() as usize > MAX_HEADS {
            return Err(StoreError::TooLarge {
                what: format!("store.readHeads({vault}) ({} heads)", arr.length()),
                limit: MAX_HEADS as u64,
            });
        }
        let mut heads = Vec::with_capacity(arr.length() as usize);
        for h in arr.iter() {
            let field = |k: &str| prop(&h, k).map_err(|_| bad("an entry that is not an object"));
            let writer = field("writer")?
                .as_string()
                .ok_or_else(|| bad("an entry without a string writer"))?;
            let version = field("version")?
                .as_string()
                .ok_or_else(|| bad("an entry without a string version"))?;
            let bytes = field("bytes")?
                .dyn_into::<Uint8Array>()
                .map_err(|_| bad("an entry whose bytes are not a Uint8Array"))?;
            if u64::from(bytes.length()) > MAX_HEAD_BYTES {
                return Err(StoreError::TooLarge {
                    what: format!("head {vault}/{writer} ({} bytes)", bytes.length()),
                    limit: MAX_HEAD_BYTES,
                });
            }
            heads.push(Head {
                writer,
                bytes: Bytes::from(bytes.to_vec()),
                version: HeadVersion(version),
            });
        }
        Ok(heads)
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        coffer::store::validate_name(vault)?;
        coffer::store::validate_name(writer)?;
        let cond = match &condition {
            HeadCondition::Absent => obj(&[("type", "absent".into())]),
            HeadCondition::Matches(v) => obj(&[
                ("type", "matches".into()),
                ("version", JsValue::from_str(&v.0)),
            ]),
            HeadCondition::Any => obj(&[("type", "any".into())]),
        };
        let v = self
            .call(
                "writeHead",
                &[vault.into(), writer.into(), bytes_js(&bytes), cond],
            )
            .await?;
        v.as_string().map(HeadVersion).ok_or_else(|| {
            StoreError::Other("store.writeHead() did not return the new version string".into())
        })
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        self.conditional
    }
}
