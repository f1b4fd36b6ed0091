//! How an S3 object's attributes live in a vault version: `Content-Type` is the version's content
//! type; `x-amz-meta-*` are its metadata; the other stored headers (`Cache-Control`,
//! `Content-Disposition`, `Content-Encoding`, `Content-Language`, `Expires`,
//! `x-amz-website-redirect-location`) are metadata entries under names starting `s3:` (a colon
//! cannot appear in an HTTP header name, so they never meet user metadata); the ETag is the
//! version's S3 ETag, or its version id for objects written without one (by the SDK or the CLI).

use std::collections::{BTreeMap, HashMap};

use s3s::S3Result;
use s3s::dto::{ETag, ETagCondition, Metadata, Timestamp};

use super::buckets::timestamp;
use super::error::{invalid_argument, s3};
use crate::vault::ObjectInfo;

/// Prefix of the stored headers kept in a version's metadata.
const SYSTEM: &str = "s3:";

/// S3's limit on user metadata (names and values, in bytes).
const MAX_USER_METADATA: usize = 2048;

/// The stored headers other than `Content-Type`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoredHeaders {
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    /// `Expires` as sent (an HTTP date).
    pub expires: Option<String>,
    pub website_redirect_location: Option<String>,
}

impl StoredHeaders {
    fn fields(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("cache-control", &self.cache_control),
            ("content-disposition", &self.content_disposition),
            ("content-encoding", &self.content_encoding),
            ("content-language", &self.content_language),
            ("expires", &self.expires),
            ("website-redirect-location", &self.website_redirect_location),
        ]
    }

    /// Reads them back from a version's metadata.
    pub(crate) fn from_metadata(m: &BTreeMap<String, String>) -> Self {
        let get = |name: &str| m.get(&format!("{SYSTEM}{name}")).cloned();
        Self {
            cache_control: get("cache-control"),
            content_disposition: get("content-disposition"),
            content_encoding: get("content-encoding"),
            content_language: get("content-language"),
            expires: get("expires"),
            website_redirect_location: get("website-redirect-location"),
        }
    }

    /// `Expires` as a timestamp, when it parses.
    pub(crate) fn expires_timestamp(&self) -> Option<Timestamp> {
        self.expires
            .as_deref()
            .and_then(|s| Timestamp::parse(s3s::dto::TimestampFormat::HttpDate, s).ok())
    }
}

/// The version metadata of an object: user metadata plus the stored headers. Refuses user
/// metadata over S3's 2 KiB limit (`MetadataTooLarge`).
pub(crate) fn version_metadata(
    user: Option<Metadata>,
    stored: &StoredHeaders,
) -> S3Result<BTreeMap<String, String>> {
    let user = user.unwrap_or_default();
    let size: usize = user.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(s3(
            s3s::S3ErrorCode::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    let mut out: BTreeMap<String, String> = user
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    for (name, value) in stored.fields() {
        if let Some(v) = value {
            out.insert(format!("{SYSTEM}{name}"), v.clone());
        }
    }
    Ok(out)
}

/// The user metadata of a version (`x-amz-meta-*`), without the stored headers.
pub(crate) fn user_metadata(info: &ObjectInfo) -> Option<Metadata> {
    let m: HashMap<String, String> = info
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with(SYSTEM))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!m.is_empty()).then_some(m)
}

/// The ETag of a version, as the gateway answers it (without quotes).
pub(crate) fn etag_value(info: &ObjectInfo) -> String {
    info.s3_etag.clone().unwrap_or_else(|| info.version.clone())
}

/// The ETag of a version.
pub(crate) fn etag(info: &ObjectInfo) -> ETag {
    ETag::Strong(etag_value(info))
}

/// Whether a condition's ETag names this version (`*` matches any).
pub(crate) fn etag_matches(cond: &ETagCondition, info: &ObjectInfo) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == etag_value(info),
    }
}

/// Last-Modified of a version, at whole seconds (what HTTP dates carry, so comparisons with
/// `If-Modified-Since` are exact).
pub(crate) fn last_modified(info: &ObjectInfo) -> Timestamp {
    timestamp(info.created_ms / 1000 * 1000)
}

/// Parses an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
pub(crate) fn parse_tagging(header: Option<&str>) -> S3Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    let Some(h) = header.filter(|h| !h.is_empty()) else {
        return Ok(tags);
    };
    for pair in h.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k)?;
        let v = percent_decode(v)?;
        if tags.insert(k, v).is_some() {
            return Err(s3(
                s3s::S3ErrorCode::InvalidTag,
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(tags)
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn percent_decode(s: &str) -> S3Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| invalid_argument("The header 'x-amz-tagging' is malformed"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| invalid_argument("The header 'x-amz-tagging' is malformed"))
}

/// Percent-encodes a key or prefix for listings with `encoding-type=url`: everything but
/// unreserved characters and `/`.
pub(crate) fn url_encode(s: &str) -> String {
    crate::percent::percent_encode(s, b"/")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stored_headers_round_trip_apart_from_user_metadata() {
        let stored = StoredHeaders {
            cache_control: Some("no-cache".into()),
            expires: Some("Thu, 01 Dec 2094 16:00:00 GMT".into()),
            ..Default::default()
        };
        let user = HashMap::from([("Colour".to_string(), "blue".to_string())]);
        let m = version_metadata(Some(user), &stored).unwrap();
        assert_eq!(StoredHeaders::from_metadata(&m), stored);
        assert!(stored.expires_timestamp().is_some());
        let big = HashMap::from([("k".to_string(), "v".repeat(2048))]);
        assert!(version_metadata(Some(big), &stored).is_err());
    }

    #[test]
    fn tagging_and_url_encoding() {
        let t = parse_tagging(Some("a=1&b%20c=x+y&empty=")).unwrap();
        assert_eq!(t["b c"], "x y");
        assert_eq!(t["empty"], "");
        assert!(parse_tagging(Some("a=1&a=2")).is_err());
        assert_eq!(url_encode("a b+c/é"), "a%20b%2Bc/%C3%A9");
    }
}
