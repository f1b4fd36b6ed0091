//! Percent-encoding (RFC 3986), shared by the IPFS and pinning-service HTTP clients and the S3
//! gateway's listings.

/// Percent-encodes `s`: the unreserved characters (ASCII letters, digits, `-._~`) and the bytes
/// in `keep` stay as they are; every other byte of the UTF-8 text becomes `%XX` (upper case).
#[cfg_attr(not(any(feature = "ipfs", feature = "gateway")), allow(dead_code))]
pub(crate) fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || keep.contains(&b)
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn unreserved_and_kept_bytes_stay() {
        assert_eq!(percent_encode("aZ09-_.~", b""), "aZ09-_.~");
        assert_eq!(percent_encode("/a b&c", b"/"), "/a%20b%26c");
        assert_eq!(percent_encode("/a b&c", b""), "%2Fa%20b%26c");
        assert_eq!(percent_encode("é+", b"/"), "%C3%A9%2B");
    }
}
