//! # coffer
//!
//! A zero-trust storage SDK. Every byte is encrypted, signed and hashed on the client before it
//! leaves the device; storage servers only ever see opaque, content-addressed ciphertext.
//!
//! The layers, top to bottom:
//!
//! - [`keys`]: identities (X25519 + Ed25519 from one seed) and their text forms.
//! - [`seal`]: the sealed-object format v1: a fresh file key per object, STREAM segments of
//!   AES-256-GCM, HPKE key wraps per recipient, an authenticated (optionally signed) header.
//! - [`verify`]: BLAKE3 roots and Bao outboards of ciphertext, so any byte range read back from an
//!   untrusted server is verified before use.
//! - [`block`]: CIDv1 (blake3) naming and DAG-CBOR encoding of structured nodes.
//! - [`store`]: the async transport traits (blocks, writer heads) and the built-in stores.
//! - [`index`]: the encrypted Prolly-tree index.
//! - [`vault`]: the S3-style bucket of sealed, verified, versioned objects, synced between devices.
//! - `gateway` (feature `gateway`, native only): `coffer serve s3`, an S3 REST server in front of
//!   vaults, so S3 tools store sealed objects without linking the SDK.
//!
//! The byte formats are specified in `docs/FORMAT.md` and pinned by `test-vectors/`.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod block;
pub mod car;
pub mod cond_send;
#[cfg(all(feature = "gateway", not(target_arch = "wasm32")))]
pub mod gateway;
pub mod index;
pub mod keys;
pub mod pad;
mod percent;
pub mod seal;
pub mod share;
pub mod store;
pub mod trust;
pub mod vault;
pub mod verify;

#[cfg(test)]
mod vectors_tests;

pub use cond_send::{CondSend, CondSync};

pub use keys::{Identity, Recipient};

/// The README's Rust example, compiled and run as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
