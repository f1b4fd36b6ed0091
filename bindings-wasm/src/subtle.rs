//! Seal and open with WebCrypto's AES-GCM (`crypto.subtle`, hardware AES in browsers and Node)
//! behind the core's [`BatchCipher`]: the core keeps the format (header, nonces, hashing,
//! signature) and hands over batches of segments; `docs/decisions.md`, "WebCrypto segments".

use futures_util::future::LocalBoxFuture;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use coffer::seal::{
    BatchBytes, BatchCipher, BatchOutput, CoreBatch, SealError, SealOptions, Unlock,
    open_batched_with_root, seal_batched, seal_batched_with_outboard,
};

use crate::Identity;
use crate::convert::{bytes_arg, obj, secret_bytes_arg};
use crate::error::{bad_input, from_seal};

#[wasm_bindgen(inline_js = r#"
export function subtleAvailable() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  return !!s && typeof s.encrypt === 'function' && typeof s.importKey === 'function';
}
export async function subtleImportKey(raw) {
  try {
    return await globalThis.crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  } finally {
    raw.fill(0);
  }
}
// One batch: segment i is data[i*stride ..][..stride], nonce i is nonces[12i .. 12i+12], both
// views into wasm memory. encrypt() and decrypt() copy their data and IV before they return (the
// WebCrypto spec: "get a copy of the bytes held by the data parameter", and normalizing the
// algorithm copies its BufferSource members), so the views are used only during this call.
// Resolves to the outputs (ArrayBuffers, in order, copied into wasm memory by the caller), or
// (decrypt) to the index of the first segment whose tag failed.
export function subtleBatch(encrypt, key, nonces, data, stride) {
  const s = globalThis.crypto.subtle;
  const n = nonces.length / 12;
  const jobs = new Array(n);
  for (let i = 0; i < n; i++) {
    const alg = { name: 'AES-GCM', iv: nonces.subarray(12 * i, 12 * i + 12), tagLength: 128 };
    const seg = data.subarray(i * stride, Math.min((i + 1) * stride, data.length));
    jobs[i] = encrypt ? s.encrypt(alg, key, seg) : s.decrypt(alg, key, seg);
  }
  return Promise.allSettled(jobs).then((rs) => {
    for (let i = 0; i < n; i++) {
      const r = rs[i];
      if (r.status === 'rejected') {
        if (!encrypt && r.reason && r.reason.name === 'OperationError') return i;
        throw r.reason;
      }
    }
    return rs.map((r) => r.value);
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = subtleAvailable)]
    fn subtle_available() -> bool;
    #[wasm_bindgen(js_name = subtleImportKey)]
    fn subtle_import_key(raw: Uint8Array) -> Promise;
    #[wasm_bindgen(js_name = subtleBatch, catch)]
    fn subtle_batch(
        encrypt: bool,
        key: &JsValue,
        nonces: &[u8],
        data: &[u8],
        stride: usize,
    ) -> Result<Promise, JsValue>;
}

/// A WebCrypto failure that is not a bad tag (no `crypto.subtle`, a refused key), as a
/// [`SealError::Cipher`] naming it.
fn cipher_error(e: JsValue) -> SealError {
    let text = match e.dyn_ref::<js_sys::Error>() {
        Some(err) => format!(
            "{}: {}",
            String::from(err.name()),
            String::from(err.message())
        ),
        None => e
            .as_string()
            .unwrap_or_else(|| "a non-Error value was thrown".into()),
    };
    SealError::Cipher(format!("WebCrypto: {text}"))
}

/// WebCrypto's AES-256-GCM (`crypto.subtle`), one call into JavaScript per batch of segments.
struct Subtle;

/// A batch's output as WebCrypto returns it: one `ArrayBuffer` per segment, copied into wasm
/// memory once, where the core wants it.
struct Parts {
    parts: Vec<Uint8Array>,
    len: usize,
}

impl BatchBytes for Parts {
    fn byte_len(&self) -> usize {
        self.len
    }

    fn copy_to(&self, dst: &mut [u8]) {
        let mut at = 0;
        for p in &self.parts {
            let n = p.length() as usize;
            p.copy_to(&mut dst[at..at + n]);
            at += n;
        }
    }
}

type Pending = LocalBoxFuture<'static, Result<BatchOutput<Parts>, SealError>>;

impl Subtle {
    fn batch(
        encrypt: bool,
        key: &JsValue,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Pending {
        // Called now, so WebCrypto starts on this batch while the core awaits an earlier one.
        let started = subtle_batch(encrypt, key, nonces.as_flattened(), data, stride);
        Box::pin(async move {
            let v = JsFuture::from(started.map_err(cipher_error)?)
                .await
                .map_err(cipher_error)?;
            if let Some(i) = v.as_f64() {
                return Ok(BatchOutput::Rejected(i as usize));
            }
            let parts: js_sys::Array = v
                .dyn_into()
                .map_err(|_| SealError::Internal("WebCrypto returned no bytes"))?;
            let parts: Vec<Uint8Array> = parts.iter().map(|b| Uint8Array::new(&b)).collect();
            let len = parts.iter().map(|p| p.length() as usize).sum();
            Ok(BatchOutput::Done(Parts { parts, len }))
        })
    }
}

impl BatchCipher for Subtle {
    type Key = JsValue;
    type Output = Parts;
    type Pending = Pending;

    fn import_key(
        &self,
        key: &[u8; 32],
    ) -> impl std::future::Future<Output = Result<JsValue, SealError>> {
        // The JS copy of the key is zeroed by subtleImportKey once imported (non-extractable).
        let imported = subtle_import_key(Uint8Array::from(&key[..]));
        async move { JsFuture::from(imported).await.map_err(cipher_error) }
    }

    fn seal(
        &self,
        key: &JsValue,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Self::Pending {
        Self::batch(true, key, nonces, data, stride)
    }

    fn open(
        &self,
        key: &JsValue,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Self::Pending {
        Self::batch(false, key, nonces, data, stride)
    }
}

/// Which AES-GCM the async functions use.
#[derive(Clone, Copy)]
enum Backend {
    WebCrypto,
    Portable,
}

fn backend_arg(v: &JsValue) -> Result<Backend, JsValue> {
    match v.as_string().as_deref() {
        None if v.is_undefined() || v.is_null() => Ok(if subtle_available() {
            Backend::WebCrypto
        } else {
            Backend::Portable
        }),
        Some("webcrypto") if subtle_available() => Ok(Backend::WebCrypto),
        Some("webcrypto") => Err(bad_input(
            "backend \"webcrypto\" needs globalThis.crypto.subtle (Node >= 19, or a browser page in a secure context)",
        )),
        Some("portable") => Ok(Backend::Portable),
        _ => Err(bad_input(
            "backend must be \"webcrypto\", \"portable\" or undefined (the best available)",
        )),
    }
}

/// Whether `sealAsync`/`openAsync` can use WebCrypto here (`globalThis.crypto.subtle`).
#[wasm_bindgen(js_name = webCryptoAvailable)]
pub fn webcrypto_available() -> bool {
    subtle_available()
}

fn seal_promise(
    opts: SealOptions,
    plaintext: JsValue,
    backend: JsValue,
    outboard: JsValue,
) -> Result<Promise, JsValue> {
    let backend = backend_arg(&backend)?;
    let outboard = outboard.is_truthy();
    // Copied now: the caller may reuse its array as soon as this returns.
    let plaintext = secret_bytes_arg(&plaintext, "plaintext")?;
    Ok(future_to_promise(async move {
        if outboard {
            let (sealed, ob) = match backend {
                Backend::WebCrypto => {
                    seal_batched_with_outboard(&Subtle, &opts, plaintext.as_slice()).await
                }
                Backend::Portable => {
                    seal_batched_with_outboard(&CoreBatch, &opts, plaintext.as_slice()).await
                }
            }
            .map_err(from_seal)?;
            return Ok(obj(&[
                ("sealed", Uint8Array::from(sealed.as_slice()).into()),
                ("root", JsValue::from_str(&ob.root().to_hex())),
                ("outboard", Uint8Array::from(ob.as_bytes()).into()),
            ]));
        }
        let sealed = match backend {
            Backend::WebCrypto => seal_batched(&Subtle, &opts, plaintext.as_slice()).await,
            Backend::Portable => seal_batched(&CoreBatch, &opts, plaintext.as_slice()).await,
        }
        .map_err(from_seal)?;
        Ok(Uint8Array::from(sealed.as_slice()).into())
    }))
}

/// `seal`, asynchronously, with WebCrypto's AES-GCM when available (`backend`: `"webcrypto"`,
/// `"portable"`, or undefined for the best available): a Promise of the same bytes, or with
/// `outboard` true of `{ sealed, root, outboard }` (the Bao outboard built while sealing).
#[wasm_bindgen(js_name = sealAsync)]
pub fn seal_async(
    plaintext: JsValue,
    recipients: JsValue,
    segment_size_log2: JsValue,
    backend: JsValue,
    outboard: JsValue,
) -> Result<Promise, JsValue> {
    let opts = crate::seal_options(&recipients, &segment_size_log2)?;
    seal_promise(opts, plaintext, backend, outboard)
}

/// `sealSigned`, asynchronously (see [`seal_async`]).
#[wasm_bindgen(js_name = sealSignedAsync)]
pub fn seal_signed_async(
    plaintext: JsValue,
    recipients: JsValue,
    signer: &Identity,
    segment_size_log2: JsValue,
    backend: JsValue,
    outboard: JsValue,
) -> Result<Promise, JsValue> {
    let opts = crate::seal_options(&recipients, &segment_size_log2)?.signed_by(&signer.0);
    seal_promise(opts, plaintext, backend, outboard)
}

/// `open`, asynchronously, with WebCrypto's AES-GCM when available: a Promise of
/// `{ plaintext, signer, headerOnly, root }` (`root`: the BLAKE3 root of `sealed`, its content id
/// digest, hashed while WebCrypto decrypts), or of the same error `open` gives.
#[wasm_bindgen(js_name = openAsync)]
pub fn open_async(
    identity: &Identity,
    sealed: JsValue,
    backend: JsValue,
) -> Result<Promise, JsValue> {
    let backend = backend_arg(&backend)?;
    let identity = identity.0.clone();
    let sealed = bytes_arg(&sealed, "sealed")?;
    Ok(future_to_promise(async move {
        let unlock = Unlock::Identity(&identity);
        let (opened, root) = match backend {
            Backend::WebCrypto => open_batched_with_root(&Subtle, unlock, &sealed).await,
            Backend::Portable => open_batched_with_root(&CoreBatch, unlock, &sealed).await,
        }
        .map_err(from_seal)?;
        let out = crate::opened_obj(&opened);
        js_sys::Reflect::set(
            &out,
            &"root".into(),
            &blake3::Hash::from_bytes(root).to_hex().as_str().into(),
        )?;
        Ok(out)
    }))
}

#[cfg(test)]
mod tests {
    use coffer::seal::{FixedRng, open_batched, seal_batched_with_rng, seal_to_vec_with_rng};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// WebCrypto seals exactly the bytes of the portable streaming sealer for the same
    /// randomness (1 KiB segments: 64 per batch, so 70,000 bytes are two batches), and its opener
    /// agrees with the portable one, also on a damaged copy.
    #[wasm_bindgen_test]
    async fn webcrypto_seals_the_portable_bytes() {
        assert!(
            subtle_available(),
            "the wasm-bindgen test runner's Node has crypto.subtle"
        );
        let me = coffer::Identity::from_seed(&[3; 32]);
        for len in [0usize, 1, 1023, 1024, 1025, 70_000] {
            for signed in [false, true] {
                let mut opts = SealOptions::new(vec![me.recipient().clone()]).segment_size_log2(10);
                if signed {
                    opts = opts.signed_by(&me);
                }
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let seed: Vec<u8> = (0..=255u8).collect();
                let portable =
                    seal_to_vec_with_rng(&opts, &data, &mut FixedRng::new(seed.clone())).unwrap();
                let web = seal_batched_with_rng(&Subtle, &opts, &data, &mut FixedRng::new(seed))
                    .await
                    .unwrap();
                assert!(portable == web, "len {len} signed {signed}");
                let opened = open_batched(&Subtle, Unlock::Identity(&me), &web)
                    .await
                    .unwrap();
                assert!(opened.plaintext == data);
                let mut bad = web.clone();
                let at = bad.len() - 20;
                bad[at] ^= 4;
                let want = coffer::seal::open_to_vec(&me, &bad)
                    .unwrap_err()
                    .to_string();
                let got = open_batched(&Subtle, Unlock::Identity(&me), &bad)
                    .await
                    .unwrap_err()
                    .to_string();
                assert_eq!(got, want);
            }
        }
    }
}
