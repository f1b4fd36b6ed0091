//! Share links: a URL whose path fetches the sealed bytes (an S3 presigned GET, honoured by the
//! server only until it expires, or an IPFS trustless-gateway URL answering a CAR file, which
//! does not expire) and whose fragment carries what opens and verifies them. A
//! recipient needs no identity and no store credentials; browsers never send the fragment to the
//! server.
//!
//! Fragment: `coffer-link-2.` followed by the unpadded base64url of the DAG-CBOR map
//! `{v: 2, k: bytes(32) file key, b: bytes(32) BLAKE3 root, n: sealed length, p: plaintext length,
//! i: bytes(64) the owner's recipient, name: text, ct?: text, exp: uint, s: bytes(64)}`, where `s`
//! is the owner's Ed25519 signature of `"coffer/v2/link\0"` and the map without `s`
//! (`docs/FORMAT.md` §9). The signature is what makes the link the owner's: anyone who holds the
//! file key could otherwise mint a link to other content under the owner's name. Links of
//! format 1 (`coffer-link-1.`, unsigned) are refused.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;

use super::{ShareError, ShareResult};
use crate::block::{from_dag_cbor, to_dag_cbor};
use crate::keys::Recipient;
use crate::seal::{self, FileKey};

const PREFIX: &str = "coffer-link-2.";
const V1_PREFIX: &str = "coffer-link-1.";
const CONTEXT: &[u8] = b"coffer/v2/link\0";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkSecret {
    pub v: u8,
    pub k: ByteArray<32>,
    pub b: ByteArray<32>,
    pub n: u64,
    pub p: u64,
    #[serde(with = "serde_bytes")]
    pub i: Vec<u8>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct: Option<String>,
    pub exp: u64,
    /// The owner's signature (absent while signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<ByteArray<64>>,
}

impl Drop for LinkSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.k.as_mut_slice());
    }
}

/// A parsed share link.
pub struct Link {
    fetch_url: String,
    secret: LinkSecret,
    owner: Recipient,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("name", &self.secret.name)
            .field("size", &self.secret.p)
            .field("owner", &self.owner)
            .field("expires_ms", &self.secret.exp)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Builds a link, signed by `owner` (the owner's side). `secret.s` is filled in.
    pub(crate) fn build(
        fetch_url: &str,
        secret: &mut LinkSecret,
        owner: &crate::keys::Identity,
    ) -> ShareResult<String> {
        secret.v = 2;
        secret.s = None;
        let unsigned = zeroize::Zeroizing::new(to_dag_cbor(&*secret)?);
        let mut msg = CONTEXT.to_vec();
        msg.extend_from_slice(&unsigned);
        secret.s = Some(ByteArray::new(owner.sign(&msg)));
        zeroize::Zeroize::zeroize(&mut msg);
        let cbor = zeroize::Zeroizing::new(to_dag_cbor(&*secret)?);
        Ok(format!(
            "{fetch_url}#{PREFIX}{}",
            data_encoding::BASE64URL_NOPAD.encode(&cbor)
        ))
    }

    /// Parses a link: [`ShareError::Malformed`] when it is not one.
    pub fn parse(url: &str) -> ShareResult<Self> {
        let (fetch, fragment) = url
            .split_once('#')
            .ok_or_else(|| ShareError::Malformed("the link has no #fragment".into()))?;
        if fragment.starts_with(V1_PREFIX) {
            return Err(ShareError::Forged(
                "this is a format-1 coffer link, which is not signed: anyone holding its key \
                 could have made it; ask the owner for a new link"
                    .into(),
            ));
        }
        let b64 = fragment.strip_prefix(PREFIX).ok_or_else(|| {
            ShareError::Malformed("the fragment is not a coffer link (version 2)".into())
        })?;
        let cbor = zeroize::Zeroizing::new(
            data_encoding::BASE64URL_NOPAD
                .decode(b64.as_bytes())
                .map_err(|_| ShareError::Malformed("the fragment is not base64url".into()))?,
        );
        let mut secret: LinkSecret = from_dag_cbor(&cbor)?;
        if secret.v != 2 {
            return Err(ShareError::Malformed(format!(
                "unsupported link version {}",
                secret.v
            )));
        }
        let owner = Recipient::from_bytes(&secret.i)
            .map_err(|_| ShareError::Malformed("the owner is not a recipient".into()))?;
        let sig = secret
            .s
            .take()
            .ok_or_else(|| ShareError::Forged("the link is not signed".into()))?;
        let unsigned = zeroize::Zeroizing::new(to_dag_cbor(&secret)?);
        let mut msg = CONTEXT.to_vec();
        msg.extend_from_slice(&unsigned);
        let ok = owner.verify(&msg, &sig);
        zeroize::Zeroize::zeroize(&mut msg);
        if !ok {
            return Err(ShareError::Forged(
                "the link's signature does not verify with the owner it names".into(),
            ));
        }
        secret.s = Some(sig);
        if !(fetch.starts_with("https://") || fetch.starts_with("http://")) {
            return Err(ShareError::Malformed(
                "the link does not start with http:// or https://".into(),
            ));
        }
        Ok(Self {
            fetch_url: fetch.to_string(),
            secret,
            owner,
        })
    }

    /// The URL to GET the sealed bytes from (no fragment: the key never goes to the server).
    pub fn fetch_url(&self) -> &str {
        &self.fetch_url
    }

    /// The object's key in the owner's vault (a name to save it under).
    pub fn name(&self) -> &str {
        &self.secret.name
    }

    /// The content type given at put.
    pub fn content_type(&self) -> Option<&str> {
        self.secret.ct.as_deref()
    }

    /// Plaintext length.
    pub fn size(&self) -> u64 {
        self.secret.p
    }

    /// The sealed length the fetch must return.
    pub fn sealed_len(&self) -> u64 {
        self.secret.n
    }

    /// Who made the link (its signature was verified by [`Link::parse`]).
    pub fn owner(&self) -> &Recipient {
        &self.owner
    }

    /// When the URL stops working (ms since the Unix epoch), as the owner asked.
    pub fn expires_ms(&self) -> u64 {
        self.secret.exp
    }

    /// Whether [`Link::fetch_url`] answers a CAR file (a link to an object on IPFS, through a
    /// trustless gateway) rather than the sealed bytes themselves (S3).
    pub fn fetches_car(&self) -> bool {
        self.fetch_url
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|p| p == "format=car"))
    }

    /// [`ShareError::Expired`] from the link's expiry on (check before fetching).
    pub fn check_time(&self, now_ms: u64) -> ShareResult<()> {
        if now_ms >= self.secret.exp {
            return Err(ShareError::Expired {
                expired_ms: self.secret.exp,
            });
        }
        Ok(())
    }

    /// Opens what a GET of [`Link::fetch_url`] answered at `now_ms`: refuses an expired link
    /// ([`ShareError::Expired`]; an IPFS gateway serves content for as long as it is pinned, so
    /// on IPFS this is the only expiry), takes the blob out of a gateway's CAR file when
    /// [`Link::fetches_car`] (every block checked against its CID), then [`Link::open`].
    pub fn open_response(&self, body: &[u8], now_ms: u64) -> ShareResult<Vec<u8>> {
        self.check_time(now_ms)?;
        if !self.fetches_car() {
            return self.open(body);
        }
        let blob = crate::block::cid_from_blake3(crate::block::CODEC_RAW, &self.secret.b);
        let sealed = crate::store::blob_from_car(&blob, body).map_err(|e| match e {
            crate::store::StoreError::Corrupt { detail, .. } => ShareError::corrupt(&blob, detail),
            other => ShareError::corrupt(&blob, other),
        })?;
        self.open(&sealed)
    }

    /// Checks fetched bytes against the link (length, BLAKE3 root, both signed by the owner) and
    /// opens them: [`ShareError::Corrupt`] otherwise. Does not look at the time:
    /// [`Link::open_response`] does.
    pub fn open(&self, sealed: &[u8]) -> ShareResult<Vec<u8>> {
        let what = crate::block::raw_cid(sealed);
        if sealed.len() as u64 != self.secret.n
            || blake3::hash(sealed).as_bytes() != &*self.secret.b
        {
            return Err(ShareError::corrupt(
                &what,
                "the fetched bytes are not the linked object",
            ));
        }
        let key = FileKey::from_bytes(*self.secret.k);
        let opened =
            seal::open_to_vec_with_key(&key, sealed).map_err(|e| ShareError::corrupt(&what, e))?;
        if opened
            .signer
            .as_ref()
            .is_some_and(|s| !s.same_identity(&self.owner))
        {
            return Err(ShareError::Forged(
                "the object is signed by someone else than the link's owner".into(),
            ));
        }
        if opened.plaintext.len() as u64 != self.secret.p {
            return Err(ShareError::corrupt(&what, "plaintext length differs"));
        }
        Ok(opened.plaintext)
    }
}
