//! Share links, the recipient's side (`coffer::share::Link`, docs/FORMAT.md §9 "Share links"): a
//! URL whose path fetches the sealed bytes (an S3 presigned GET, or an IPFS trustless-gateway CAR)
//! and whose fragment holds what opens and verifies them. The fetch itself is the package's
//! (`openLink` in packages-npm); this only parses, checks the clock and opens what was fetched.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use coffer::share::Link as CoreLink;

use crate::convert::{bytes_arg, str_arg};
use crate::error::from_share;
use crate::share::now_or;

/// A parsed share link. Holds the file key from the fragment (never shown); `free()` zeroizes it.
#[wasm_bindgen]
pub struct Link(CoreLink);

#[wasm_bindgen]
impl Link {
    /// Parses `<fetch URL>#coffer-link-2.…`: a CofferError "Corrupt" when it is not a link.
    pub fn parse(url: JsValue) -> Result<Link, JsValue> {
        let url = Zeroizing::new(str_arg(&url, "link")?);
        CoreLink::parse(&url).map(Link).map_err(from_share)
    }

    /// The URL to GET (without the fragment: the key never goes to the server).
    #[wasm_bindgen(getter, js_name = fetchUrl)]
    pub fn fetch_url(&self) -> String {
        self.0.fetch_url().to_string()
    }

    /// The object's key in the owner's vault (a name to save it under).
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.0.name().to_string()
    }

    /// The content type given at put, or `null`.
    #[wasm_bindgen(getter, js_name = contentType)]
    pub fn content_type(&self) -> Option<String> {
        self.0.content_type().map(str::to_string)
    }

    /// Plaintext length in bytes.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> f64 {
        self.0.size() as f64
    }

    /// The sealed length the fetch must return (the blob's, inside a CAR).
    #[wasm_bindgen(getter, js_name = sealedLen)]
    pub fn sealed_len(&self) -> f64 {
        self.0.sealed_len() as f64
    }

    /// The owner's recipient (`coffer1…`): the object must be signed by it.
    #[wasm_bindgen(getter)]
    pub fn owner(&self) -> String {
        self.0.owner().to_string()
    }

    /// When the link expires (ms since the Unix epoch), as the owner asked.
    #[wasm_bindgen(getter, js_name = expiresMs)]
    pub fn expires_ms(&self) -> f64 {
        self.0.expires_ms() as f64
    }

    /// Whether `fetchUrl` answers a CAR file (IPFS trustless gateway) rather than the sealed
    /// bytes (S3).
    #[wasm_bindgen(getter, js_name = fetchesCar)]
    pub fn fetches_car(&self) -> bool {
        self.0.fetches_car()
    }

    /// "ShareNotValid" from the expiry on, at `now_ms` (default now). Check before fetching.
    #[wasm_bindgen(js_name = checkTime)]
    pub fn check_time(&self, now_ms: JsValue) -> Result<(), JsValue> {
        let now = now_or(&now_ms, "nowMs")?;
        self.0.check_time(now).map_err(from_share)
    }

    /// Opens what a GET of `fetchUrl` answered, at `now_ms` (default now): refuses an expired
    /// link, takes the blob out of a CAR (every block checked), checks length and BLAKE3 root,
    /// decrypts and requires the owner's signature. The plaintext, or "Corrupt" / "Integrity" /
    /// "ShareNotValid".
    #[wasm_bindgen(js_name = openResponse)]
    pub fn open_response(&self, body: JsValue, now_ms: JsValue) -> Result<Uint8Array, JsValue> {
        let now = now_or(&now_ms, "nowMs")?;
        let body = bytes_arg(&body, "body")?;
        let plaintext = Zeroizing::new(self.0.open_response(&body, now).map_err(from_share)?);
        Ok(Uint8Array::from(plaintext.as_slice()))
    }
}
