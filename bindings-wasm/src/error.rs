//! Errors crossing into JavaScript: a `CofferError` (an `Error` subclass registered by the
//! package with [`set_error_class`]; a plain `Error` named `CofferError` until then) with a
//! stable string `code` and a readable message. Messages come from the core, which never puts key
//! material or plaintext in them.

use std::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

use coffer::keys::KeyError;
use coffer::seal::SealError;
use coffer::store::StoreError;
use coffer::vault::VaultError;
use coffer::verify::VerifyError;

thread_local! {
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Marker type for documentation: errors are JS values built by [`error`].
pub struct CofferError;

/// Registers the JS class errors are built with: `new cls(code, message)`.
#[wasm_bindgen(js_name = setErrorClass)]
pub fn set_error_class(cls: JsValue) -> Result<(), JsValue> {
    let f = cls
        .dyn_into::<Function>()
        .map_err(|_| bad_input("setErrorClass needs a class (constructor function)"))?;
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(f));
    Ok(())
}

/// A CofferError with `code` and `message`.
pub(crate) fn error(code: &str, message: &str) -> JsValue {
    let registered = ERROR_CLASS.with(|c| c.borrow().clone());
    if let Some(cls) = registered {
        let args = Array::of2(&JsValue::from_str(code), &JsValue::from_str(message));
        if let Ok(e) = Reflect::construct(&cls, &args) {
            return e;
        }
    }
    let e = js_sys::Error::new(message);
    e.set_name("CofferError");
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

pub(crate) fn bad_input(message: impl AsRef<str>) -> JsValue {
    error("BadInput", message.as_ref())
}

pub(crate) fn from_key(e: KeyError) -> JsValue {
    error("BadKey", &e.to_string())
}

pub(crate) fn seal_code(e: &SealError) -> &'static str {
    match e {
        SealError::NoMatchingRecipient => "NotRecipient",
        SealError::NotSealed
        | SealError::UnsupportedVersion(_)
        | SealError::InvalidHeader(_)
        | SealError::InvalidSegmentSize(_)
        | SealError::TruncatedHeader { .. } => "Corrupt",
        SealError::RangeOutOfBounds { .. }
        | SealError::NoRecipients
        | SealError::TooManyRecipients(_)
        | SealError::InvalidRecipient => "BadInput",
        SealError::Io(_) => "Store",
        SealError::Internal(_) | SealError::Cipher(_) => "Internal",
        // Authentication failures: the bytes were modified, truncated or forged.
        _ => "Integrity",
    }
}

pub(crate) fn from_seal(e: SealError) -> JsValue {
    error(seal_code(&e), &e.to_string())
}

pub(crate) fn from_verify(e: VerifyError) -> JsValue {
    let code = match e {
        VerifyError::RootMismatch
        | VerifyError::CorruptData { .. }
        | VerifyError::CorruptOutboard { .. }
        | VerifyError::CorruptProof { .. } => "Integrity",
        _ => "BadInput",
    };
    error(code, &e.to_string())
}

pub(crate) fn store_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound(_) => "NotFound",
        StoreError::PreconditionFailed(_) => "PreconditionFailed",
        // A store that answers other bytes than asked, or more than can be right.
        StoreError::Corrupt { .. } | StoreError::TooLarge { .. } => "Integrity",
        StoreError::InvalidName(_) => "BadInput",
        _ => "Store",
    }
}

pub(crate) fn vault_code(e: &VaultError) -> &'static str {
    match e {
        VaultError::NotFound => "NotFound",
        VaultError::PreconditionFailed(_) => "PreconditionFailed",
        VaultError::KeyTooLong { .. }
        | VaultError::InvalidKey(_)
        | VaultError::InvalidVersion(_)
        | VaultError::InvalidTags(_)
        | VaultError::Source(_)
        | VaultError::SourceChanged
        | VaultError::Output(_) => "BadInput",
        VaultError::Corrupt { .. } | VaultError::BadHead { .. } | VaultError::Block(_) => "Corrupt",
        VaultError::BadHeadSignature { .. } | VaultError::UnknownWriter { .. } => "Integrity",
        VaultError::ConflictingVaultKeys { .. } => "Conflict",
        VaultError::WrongIdentity => "WrongIdentity",
        VaultError::NoSuchVault { .. } => "NoSuchVault",
        VaultError::AlreadyExists { .. } => "AlreadyExists",
        VaultError::Store(s) => store_code(s),
        VaultError::Seal(s) => seal_code(s),
        VaultError::Share(s) => share_code(s),
        VaultError::Verify(_) => "Integrity",
        VaultError::Index(i) => index_code(i),
        // The store rolled back, forked or hid what this device saw: its state is not trusted.
        VaultError::Trust(
            coffer::trust::TrustError::RolledBack { .. }
            | coffer::trust::TrustError::Forked { .. }
            | coffer::trust::TrustError::MissingHead { .. },
        ) => "Untrusted",
        // The trust memory (options.trust) failed, answered the wrong type, or is damaged.
        VaultError::Trust(_) => "TrustStorage",
        VaultError::InvalidPolicy(_) => "BadInput",
        VaultError::Handover(h) => handover_code(h),
        // Garbage collection (GcBusy, GcInterrupted, UploadCollected) and variants to come: as
        // the Kotlin/Swift bindings, a store-level failure to retry.
        #[allow(unreachable_patterns)]
        _ => "Store",
    }
}

fn index_code(e: &coffer::index::IndexError) -> &'static str {
    use coffer::index::IndexError;
    match e {
        IndexError::Store(s) => store_code(s),
        IndexError::EmptyKey
        | IndexError::KeyTooLong { .. }
        | IndexError::ValueTooLarge { .. }
        | IndexError::InvalidToken(_) => "BadInput",
        IndexError::Decrypt { .. } => "Integrity",
        _ => "Corrupt",
    }
}

/// Identity rotation: `HandedOver` when this identity handed the vault over (open it with the
/// new one), `BadInput` for a rotation the rules refuse, `Untrusted` for two competing handovers.
fn handover_code(e: &coffer::vault::HandoverError) -> &'static str {
    use coffer::vault::HandoverError as H;
    match e {
        H::HandedOver { .. } => "HandedOver",
        H::Refused(_) | H::V1Vault { .. } => "BadInput",
        H::Competing { .. } => "Untrusted",
        // Malformed, forged, another vault's, a broken chain (and variants to come).
        _ => "Integrity",
    }
}

fn share_code(e: &coffer::share::ShareError) -> &'static str {
    use coffer::share::ShareError as E;
    match e {
        E::Expired { .. } | E::NotYetValid { .. } | E::Revoked => "ShareNotValid",
        E::NotForMe => "WrongIdentity",
        E::NotFound => "NotFound",
        E::OutOfScope | E::Invalid(_) => "BadInput",
        E::NotWriter => "NotWriter",
        E::WriteOutsideScope { .. } => "WriteOutsideScope",
        E::Store(s) => store_code(s),
        E::Forged(_) | E::Replayed { .. } | E::ForgedWriterHead(_) => "Integrity",
        E::Index(i) => index_code(i),
        _ => "Corrupt",
    }
}

/// A sharing error (from the recipient's side: inbox, book, reader, link).
pub(crate) fn from_share(e: coffer::share::ShareError) -> JsValue {
    error(share_code(&e), &e.to_string())
}

/// A derivation error: a bad passphrase, account or parameters is `BadInput`, a malformed
/// wallet signature `BadKey`.
pub(crate) fn from_derive(e: KeyError) -> JsValue {
    let code = match e {
        KeyError::EmptyPassphrase
        | KeyError::EmptyAccount
        | KeyError::WeakPassphraseParams { .. }
        | KeyError::InvalidPassphraseParams { .. } => "BadInput",
        _ => "BadKey",
    };
    error(code, &e.to_string())
}

pub(crate) fn from_vault(e: VaultError) -> JsValue {
    error(vault_code(&e), &e.to_string())
}
