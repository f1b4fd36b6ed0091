//! Printing text that came from someone else (object keys, vault and scope names, link names,
//! reasons a store gave) without letting it drive the terminal: control characters, and the
//! Unicode controls that reorder or hide text (bidi overrides, zero-width characters), are shown
//! as `\u{…}` escapes. A sender cannot make `coffer inbox` print a line that looks like another.

/// `s` with every control or invisible formatting character escaped.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if dangerous(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Bytes as text (invalid UTF-8 replaced), escaped like [`text`].
pub fn bytes(b: &[u8]) -> String {
    text(&String::from_utf8_lossy(b))
}

fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{061C}' // Arabic letter mark
            | '\u{FEFF}' // zero-width no-break space
            | '\u{00AD}' // soft hyphen
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_the_rest_kept() {
        assert_eq!(text("photos/été.jpg"), "photos/été.jpg");
        assert_eq!(text("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(text("x\ny"), "x\\u{a}y");
        assert_eq!(text("evil\u{202E}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(bytes(b"a\xffb"), "a\u{FFFD}b");
    }
}
