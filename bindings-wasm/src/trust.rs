//! Trust memory kept by JavaScript (`coffer::trust`): any object with
//!
//! ```text
//! load(name: string): Promise<Uint8Array | null>   // null/undefined: nothing saved yet
//! save(name: string, bytes: Uint8Array): Promise<void>
//! ```
//!
//! (the package ships `indexedDbTrust` for browsers and `fileTrust` for Node). Methods may return
//! values or Promises. A thrown error, a rejected Promise, or an answer of the wrong type becomes
//! [`TrustError::Storage`] (code `TrustStorage` in JS); nothing a JS trust store does can trap the
//! module.

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use coffer::trust::{TrustError, TrustResult, TrustStore};

use crate::convert::{absent, prop};
use crate::error::bad_input;

/// The largest trust document accepted from JS (a document is a few KiB per writer).
const MAX_TRUST_BYTES: u32 = 16 << 20;

/// A trust store whose `load` and `save` are a JS object's methods.
pub struct JsTrust {
    obj: JsValue,
}

impl std::fmt::Debug for JsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsTrust").finish_non_exhaustive()
    }
}

impl JsTrust {
    /// Wraps `obj`, checking that it has `load` and `save` methods.
    pub fn new(obj: JsValue) -> Result<Self, String> {
        if !obj.is_object() {
            return Err(
                "trust must be an object with async methods load(name) and save(name, bytes)"
                    .into(),
            );
        }
        for m in ["load", "save"] {
            let f = Reflect::get(&obj, &JsValue::from_str(m)).unwrap_or(JsValue::UNDEFINED);
            if !f.is_function() {
                return Err(format!("trust has no {m}() method"));
            }
        }
        Ok(Self { obj })
    }

    /// Calls `name(args…)` and awaits its result (value or Promise).
    async fn call(&self, name: &str, args: &[JsValue]) -> TrustResult<JsValue> {
        let f = Reflect::get(&self.obj, &JsValue::from_str(name))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| TrustError::Storage(format!("trust has no {name}() method")))?;
        let args: Array = args.iter().collect();
        let r = f
            .apply(&self.obj, &args)
            .map_err(|e| js_to_trust(name, &e))?;
        JsFuture::from(Promise::resolve(&r))
            .await
            .map_err(|e| js_to_trust(name, &e))
    }
}

/// A thrown value or rejection reason as [`TrustError::Storage`] (its message, at most 500
/// characters).
fn js_to_trust(method: &str, e: &JsValue) -> TrustError {
    let message = if e.is_object() {
        Reflect::get(e, &JsValue::from_str("message"))
            .ok()
            .and_then(|v| v.as_string())
    } else {
        e.as_string()
    }
    .unwrap_or_else(|| "it failed".into());
    let message: String = message.chars().take(500).collect();
    TrustError::Storage(format!("trust.{method}(): {message}"))
}

#[async_trait::async_trait(?Send)]
impl TrustStore for JsTrust {
    async fn load(&self, name: &str) -> TrustResult<Option<Vec<u8>>> {
        let v = self.call("load", &[JsValue::from_str(name)]).await?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        let arr = if let Some(a) = v.dyn_ref::<Uint8Array>() {
            a.clone()
        } else if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
            Uint8Array::new(b)
        } else {
            return Err(TrustError::Storage(format!(
                "trust.load() returned a {} instead of a Uint8Array or null",
                v.js_typeof().as_string().unwrap_or_else(|| "?".into())
            )));
        };
        if arr.length() > MAX_TRUST_BYTES {
            return Err(TrustError::Storage(format!(
                "trust.load() returned {} bytes, more than a trust document can be ({MAX_TRUST_BYTES})",
                arr.length()
            )));
        }
        Ok(Some(arr.to_vec()))
    }

    async fn save(&self, name: &str, bytes: Vec<u8>) -> TrustResult<()> {
        let arr: JsValue = Uint8Array::from(bytes.as_slice()).into();
        self.call("save", &[JsValue::from_str(name), arr]).await?;
        Ok(())
    }
}

/// The trust store of an open call's `options` (`{ trust? }`), or `None`.
pub(crate) fn trust_option(options: &JsValue) -> Result<Option<JsTrust>, JsValue> {
    if absent(options) {
        return Ok(None);
    }
    if !options.is_object() {
        return Err(bad_input(
            "options must be an object ({ trust, postQuantum })",
        ));
    }
    let trust = prop(options, "trust")?;
    if absent(&trust) {
        return Ok(None);
    }
    JsTrust::new(trust).map(Some).map_err(bad_input)
}
