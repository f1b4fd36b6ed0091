//! Checked conversions of values coming from JavaScript. Nothing here panics: a value of the
//! wrong type or out of range becomes a `BadInput` error.

use js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use zerocopy::IntoBytes;
use zeroize::Zeroizing;

use crate::error::bad_input;

/// The largest byte array accepted in one call: wasm32 has at most 4 GiB of memory and a put
/// holds the input, the sealed copy, its outboard and the store's copy at once; an allocation
/// failure would abort the module, so larger inputs are refused up front.
pub(crate) const MAX_BYTES: u32 = 256 << 20;

/// The largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

fn type_name(v: &JsValue) -> String {
    v.js_typeof().as_string().unwrap_or_else(|| "?".into())
}

/// A `Uint8Array` (or `ArrayBuffer`, as a view) no larger than [`MAX_BYTES`].
fn uint8_arg(v: &JsValue, what: &str) -> Result<Uint8Array, JsValue> {
    let arr = if let Some(a) = v.dyn_ref::<Uint8Array>() {
        a.clone()
    } else if let Some(b) = v.dyn_ref::<ArrayBuffer>() {
        Uint8Array::new(b)
    } else {
        return Err(bad_input(format!(
            "{what} must be a Uint8Array, got {}",
            type_name(v)
        )));
    };
    if arr.length() > MAX_BYTES {
        return Err(bad_input(format!(
            "{what} of {} bytes is larger than the {} bytes one call accepts",
            arr.length(),
            MAX_BYTES
        )));
    }
    Ok(arr)
}

/// A `Uint8Array` (or `ArrayBuffer`) copied into wasm memory.
pub(crate) fn bytes_arg(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    Ok(uint8_arg(v, what)?.to_vec())
}

/// A `Uint8Array` of secret bytes (a plaintext) copied into wasm memory, held in `u64` words that
/// are zeroized on drop: `zeroize` writes one volatile store per element, so words clear 64 MiB
/// with 8 M stores instead of 64 M (in wasm that was about a tenth of `sealAsync`'s time).
pub(crate) struct SecretBytes {
    words: Zeroizing<Vec<u64>>,
    len: usize,
}

impl SecretBytes {
    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.words.as_bytes()[..self.len]
    }
}

/// [`bytes_arg`], into a [`SecretBytes`].
pub(crate) fn secret_bytes_arg(v: &JsValue, what: &str) -> Result<SecretBytes, JsValue> {
    let arr = uint8_arg(v, what)?;
    let len = arr.length() as usize;
    let mut words = Zeroizing::new(vec![0u64; len.div_ceil(8)]);
    arr.copy_to(&mut words.as_mut_bytes()[..len]);
    Ok(SecretBytes { words, len })
}

/// A string.
pub(crate) fn str_arg(v: &JsValue, what: &str) -> Result<String, JsValue> {
    v.as_string()
        .ok_or_else(|| bad_input(format!("{what} must be a string, got {}", type_name(v))))
}

/// An object key: a string (its UTF-8 bytes) or a `Uint8Array`.
pub(crate) fn key_arg(v: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = v.as_string() {
        return Ok(s.into_bytes());
    }
    if v.is_instance_of::<Uint8Array>() {
        return bytes_arg(v, what);
    }
    Err(bad_input(format!(
        "{what} must be a string or a Uint8Array, got {}",
        type_name(v)
    )))
}

/// A non-negative integer: a number that is an exact integer, or a bigint.
pub(crate) fn u64_arg(v: &JsValue, what: &str) -> Result<u64, JsValue> {
    if let Some(f) = v.as_f64() {
        if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= MAX_SAFE {
            return Ok(f as u64);
        }
        return Err(bad_input(format!(
            "{what} must be a non-negative integer up to 2^53-1, got {f}"
        )));
    }
    if v.is_bigint() {
        return u64::try_from(v.clone())
            .map_err(|_| bad_input(format!("{what} must fit in an unsigned 64-bit integer")));
    }
    Err(bad_input(format!(
        "{what} must be a number, got {}",
        type_name(v)
    )))
}

/// An optional small integer (`undefined`/`null` = none).
pub(crate) fn opt_u8_arg(v: &JsValue, what: &str) -> Result<Option<u8>, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let n = u64_arg(v, what)?;
    u8::try_from(n)
        .map(Some)
        .map_err(|_| bad_input(format!("{what} is out of range: {n}")))
}

/// Property `name` of `v` (`undefined` when missing). `v` must be an object.
pub(crate) fn prop(v: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    if !v.is_object() {
        return Err(bad_input(format!(
            "expected an object with {name}, got {}",
            type_name(v)
        )));
    }
    Reflect::get(v, &JsValue::from_str(name))
        .map_err(|_| bad_input(format!("property {name} cannot be read")))
}

/// Whether `v` is `undefined` or `null`.
pub(crate) fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// A plain object from `(name, value)` pairs.
pub(crate) fn obj(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        // Defining a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// A number from a `u64` (exact up to 2^53).
pub(crate) fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// Text when `bytes` are UTF-8, else `null`.
pub(crate) fn text_or_null(bytes: &[u8]) -> JsValue {
    match std::str::from_utf8(bytes) {
        Ok(s) => JsValue::from_str(s),
        Err(_) => JsValue::NULL,
    }
}
