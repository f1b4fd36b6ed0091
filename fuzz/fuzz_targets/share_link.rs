//! Share links (v2, signed): any fragment bytes parse to a typed error or a link whose owner
//! signature verified; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let b64 = data_encoding_base64url(data);
    let _ = coffer::share::Link::parse(&format!("https://x.invalid/o#coffer-link-2.{b64}"));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = coffer::share::Link::parse(text);
    }
});

/// Unpadded base64url without a dependency.
fn data_encoding_base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
