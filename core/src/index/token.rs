//! Continuation tokens: the position a listing stopped at, sealed so that only this vault's
//! index key can open it and only for the same prefix and delimiter.
//!
//! ```text
//! token = base64url-nopad( 0x01 || AES-256-SIV(token key,
//!                                   headers = ["coffer/index/v1/list-token", prefix, delimiter],
//!                                   plaintext = position) )
//! ```
//!
//! `position` is the last key or common prefix returned. SIV is deterministic, so the same
//! position in the same listing always gives the same token (stable), and the key never shows.

use data_encoding::BASE64URL_NOPAD;

use super::MAX_KEY_LEN;
use super::error::{IndexError, IndexResult};
use super::keys::{IndexKey, IndexSecrets, TOKEN_AD};

const TOKEN_VERSION: u8 = 1;
/// Longest token text accepted (a 1024-byte position seals to about 1.4 KB of text).
const MAX_TOKEN_CHARS: usize = 2048;

pub(crate) fn seal_token(
    secrets: &IndexSecrets,
    prefix: &[u8],
    delimiter: &[u8],
    position: &[u8],
) -> String {
    let mut raw = vec![TOKEN_VERSION];
    raw.extend(secrets.seal_token(&[TOKEN_AD, prefix, delimiter], position));
    BASE64URL_NOPAD.encode(&raw)
}

pub(crate) fn open_token(
    secrets: &IndexSecrets,
    token: &str,
    prefix: &[u8],
    delimiter: &[u8],
) -> IndexResult<Vec<u8>> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(IndexError::InvalidToken("too long"));
    }
    let raw = BASE64URL_NOPAD
        .decode(token.as_bytes())
        .map_err(|_| IndexError::InvalidToken("not base64url"))?;
    let (&version, body) = raw.split_first().ok_or(IndexError::InvalidToken("empty"))?;
    if version != TOKEN_VERSION {
        return Err(IndexError::InvalidToken("unknown version"));
    }
    let position = secrets
        .open_token(&[TOKEN_AD, prefix, delimiter], body)
        .ok_or(IndexError::InvalidToken("does not authenticate"))?;
    if position.is_empty() || position.len() > MAX_KEY_LEN {
        return Err(IndexError::InvalidToken("bad position"));
    }
    Ok(position)
}

/// Opens a continuation token issued by [`ProllyTree::list`](super::ProllyTree::list) for
/// `prefix` and `delimiter` (empty: none) under `key`, returning the position it encodes.
pub fn decode_list_token(
    key: &IndexKey,
    token: &str,
    prefix: &[u8],
    delimiter: &[u8],
) -> IndexResult<Vec<u8>> {
    open_token(&IndexSecrets::derive(key), token, prefix, delimiter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_bound_and_unforgeable() {
        let s = IndexSecrets::derive(&IndexKey::from_bytes([3; 32]));
        let other = IndexSecrets::derive(&IndexKey::from_bytes([4; 32]));
        let t = seal_token(&s, b"photos/", b"/", b"photos/2024/");
        assert_eq!(t, seal_token(&s, b"photos/", b"/", b"photos/2024/"));
        assert!(!t.contains("photos"));
        assert_eq!(
            open_token(&s, &t, b"photos/", b"/").unwrap(),
            b"photos/2024/"
        );
        for bad in [
            open_token(&s, &t, b"photos", b"/"),
            open_token(&s, &t, b"photos/", b""),
            open_token(&other, &t, b"photos/", b"/"),
            open_token(&s, "!!", b"photos/", b"/"),
            open_token(&s, "", b"photos/", b"/"),
            open_token(&s, &format!("{t}A"), b"photos/", b"/"),
            open_token(&s, &"A".repeat(5000), b"photos/", b"/"),
        ] {
            assert!(matches!(bad, Err(IndexError::InvalidToken(_))), "{bad:?}");
        }
        let mut raw = BASE64URL_NOPAD.decode(t.as_bytes()).unwrap();
        raw[5] ^= 1;
        let forged = BASE64URL_NOPAD.encode(&raw);
        assert!(matches!(
            open_token(&s, &forged, b"photos/", b"/"),
            Err(IndexError::InvalidToken(_))
        ));
    }
}
