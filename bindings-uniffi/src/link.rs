//! Share links (`coffer::share::Link`, docs/FORMAT.md §9 "Share links"): the owner makes one with
//! [`Vault::share_link`]; anyone opens it with [`Link`]. The fetch is the app's (one HTTP GET of
//! [`Link::fetch_url`], which never includes the fragment holding the key).

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::crypto::Recipient;
use crate::error::{CofferError, guard, guard_async};
use crate::vault::Vault;

#[uniffi::export(async_runtime = "tokio")]
impl Vault {
    /// A share link to the current version of `key`, valid until `expires_ms` (ms since the Unix
    /// epoch; at most 7 days on S3). On S3 the URL is presigned and the server refuses it after
    /// the expiry; on IPFS it is a gateway URL that the gateway never expires (only a coffer
    /// opener refuses it). Anyone holding the link can read that version: treat it like the file.
    /// `InvalidInput` when the store cannot make links (a directory, a transport) or the expiry
    /// is not in the future.
    pub async fn share_link(
        self: Arc<Self>,
        key: Vec<u8>,
        expires_ms: u64,
    ) -> Result<String, CofferError> {
        guard_async(async move { Ok(self.inner.lock().await.share_link(&key, expires_ms).await?) })
            .await
    }
}

/// A parsed share link. It holds the object's file key (never shown in its text form).
#[derive(uniffi::Object)]
pub struct Link {
    inner: coffer::share::Link,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl Link {
    /// Parses `<fetch URL>#coffer-link-2.…`: `Corrupt` when it is not a coffer link.
    #[uniffi::constructor]
    pub fn parse(url: String) -> Result<Arc<Self>, CofferError> {
        let url = Zeroizing::new(url);
        guard(|| {
            Ok(Arc::new(Self {
                inner: coffer::share::Link::parse(&url)?,
            }))
        })
    }

    /// The URL to GET (without the fragment: the key never goes to the server).
    pub fn fetch_url(&self) -> String {
        self.inner.fetch_url().to_string()
    }

    /// The object's key in the owner's vault (a name to save it under).
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// The content type given at put.
    pub fn content_type(&self) -> Option<String> {
        self.inner.content_type().map(str::to_string)
    }

    /// Plaintext length in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size()
    }

    /// Who sealed the object (its signature is checked by `open_response`).
    pub fn owner(&self) -> Arc<Recipient> {
        Arc::new(Recipient {
            inner: self.inner.owner().clone(),
        })
    }

    /// When the link expires (ms since the Unix epoch).
    pub fn expires_ms(&self) -> u64 {
        self.inner.expires_ms()
    }

    /// Whether `fetch_url` answers a CAR file (an IPFS gateway) rather than the sealed bytes (S3).
    pub fn fetches_car(&self) -> bool {
        self.inner.fetches_car()
    }

    /// `PreconditionFailed` from the expiry on: call it before fetching.
    pub fn check_time(&self, now_ms: u64) -> Result<(), CofferError> {
        guard(|| Ok(self.inner.check_time(now_ms)?))
    }

    /// Opens what a GET of `fetch_url` answered at `now_ms`: `PreconditionFailed` once expired,
    /// `Corrupt` when the bytes are not the linked object (length, BLAKE3, every CAR block, the
    /// owner's signature), else the plaintext.
    pub fn open_response(&self, body: Vec<u8>, now_ms: u64) -> Result<Vec<u8>, CofferError> {
        guard(|| Ok(self.inner.open_response(&body, now_ms)?))
    }
}
