//! wasm-bindgen tests (Node runner): the JS store adapter under the Vault, typed errors from bad
//! JS values and rejecting transports. Run: `cargo test -p coffer-wasm --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use coffer::store::StoreError;
use coffer::vault::{PutOptions, Vault, VaultError};
use coffer_wasm::{Identity, JsStore};

/// An in-memory store written in JS; `failPuts` makes every put reject like a dropped connection.
fn js_memory_store() -> JsValue {
    let make = Function::new_no_args(
        r#"
        const blocks = new Map(), heads = new Map();
        let n = 0;
        return {
          failPuts: false,
          conditionalWrites: 'enforced',
          async put(c, b) { if (this.failPuts) throw new TypeError('Failed to fetch'); blocks.set(c, b.slice()); },
          async get(c) { return blocks.get(c) ?? null; },
          has: (c) => blocks.has(c),
          delete: (c) => { blocks.delete(c); },
          list: () => [...blocks.keys()],
          async readHeads(v) {
            return [...heads].filter(([k]) => k.startsWith(v + '/'))
              .map(([k, h]) => ({ writer: k.slice(v.length + 1), bytes: h.bytes, version: h.version }));
          },
          async writeHead(v, w, bytes, cond) {
            const k = v + '/' + w, cur = heads.get(k);
            const ok = cond.type === 'any' || (cond.type === 'absent' && !cur) ||
              (cond.type === 'matches' && cur && cur.version === cond.version);
            if (!ok) throw Object.assign(new Error('changed'), { code: 'PreconditionFailed' });
            const version = 'v' + (++n);
            heads.set(k, { bytes: bytes.slice(), version });
            return version;
          },
        };
        "#,
    );
    make.call0(&JsValue::NULL).unwrap()
}

fn code(e: &JsValue) -> String {
    Reflect::get(e, &"code".into())
        .unwrap()
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
async fn vault_over_a_js_store() {
    let obj = js_memory_store();
    let store = Arc::new(JsStore::new(obj.clone()).unwrap());
    let me = coffer::Identity::generate();
    let mut v = Vault::create(store.clone(), me.clone(), "v", "d")
        .await
        .unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    v.put(b"k", data.clone(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(v.get(b"k").await.unwrap(), data);
    assert_eq!(
        v.get_range(b"k", 70_000..70_010).await.unwrap(),
        &data[70_000..70_010]
    );

    // Puts reject: a Store error, nothing committed.
    Reflect::set(&obj, &"failPuts".into(), &JsValue::TRUE).unwrap();
    let e = v
        .put(b"k", b"new".to_vec(), PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, VaultError::Store(StoreError::Unavailable(ref m)) if m.contains("Failed to fetch")),
        "{e:?}"
    );
    Reflect::set(&obj, &"failPuts".into(), &JsValue::FALSE).unwrap();
    let reopened = Vault::open(store, me, "v", "d").await.unwrap();
    assert_eq!(reopened.get(b"k").await.unwrap(), data);
}

#[wasm_bindgen_test]
fn store_objects_are_checked() {
    assert!(JsStore::new(JsValue::from_str("store")).is_err());
    assert!(JsStore::new(js_sys::Object::new().into()).is_err());
    let obj = js_memory_store();
    Reflect::set(&obj, &"conditionalWrites".into(), &"maybe".into()).unwrap();
    assert!(JsStore::new(obj).is_err());
}

#[wasm_bindgen_test]
fn bad_values_are_typed_errors() {
    let id = Identity::generate();
    let rs: JsValue = js_sys::Array::of1(&id.recipient().into()).into();
    let e = coffer_wasm::seal("text".into(), rs.clone(), JsValue::UNDEFINED).unwrap_err();
    assert_eq!(code(&e), "BadInput");
    let e = coffer_wasm::seal(Uint8Array::new_with_length(3).into(), rs.clone(), 99.into())
        .unwrap_err();
    assert_eq!(code(&e), "BadInput");
    let e = coffer_wasm::seal(
        Uint8Array::new_with_length(3).into(),
        "coffer1x".into(),
        JsValue::NULL,
    )
    .unwrap_err();
    assert_eq!(code(&e), "BadInput");
    let sealed = coffer_wasm::seal(Uint8Array::from(&b"hi"[..]).into(), rs, JsValue::NULL).unwrap();
    let opened = coffer_wasm::open(&id, Uint8Array::from(sealed.as_slice()).into()).unwrap();
    let pt: Uint8Array = Reflect::get(&opened, &"plaintext".into()).unwrap().into();
    assert_eq!(pt.to_vec(), b"hi");
    let e = coffer_wasm::open(
        &Identity::generate(),
        Uint8Array::from(sealed.as_slice()).into(),
    )
    .unwrap_err();
    assert_eq!(code(&e), "NotRecipient");
    let e = coffer_wasm::verify_range(
        "zz".into(),
        1.into(),
        0.into(),
        1.into(),
        JsValue::NULL,
        JsValue::NULL,
    )
    .unwrap_err();
    assert_eq!(code(&e), "BadInput");
    let e = coffer_wasm::covering_range_js((-1.0).into(), 0.into(), 1.into()).unwrap_err();
    assert_eq!(code(&e), "BadInput");
    let e = Identity::from_seed(Uint8Array::new_with_length(5).into())
        .err()
        .unwrap();
    assert_eq!(code(&e), "BadInput");
}
