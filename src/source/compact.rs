//! One pass over a record's bytes: does it hold whitespace between tokens (to remove), and
//! anything the quick parse of a page lets through that a full parse refuses.
//!
//! The page parse ([`super::page`]) finds each record's extent with serde_json's skipping
//! parser, which checks syntax but not three things a full parse refuses: a `\u` escape of
//! an unpaired UTF-16 surrogate, a number too large for a double (`1e400`), and nesting
//! deeper than 128. This scan flags records that might hold one (never missing one; a flag
//! that is wrong only costs a full parse), so pages are refused exactly as before.

use memchr::memchr2;

/// Containers nested this deep (counted from the top of the page) are checked by a full
/// parse; serde_json refuses the 128th level.
const DEEP: usize = 100;

/// What the scan of one record found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Whitespace between tokens.
    pub spaced: bool,
    /// Something a full parse may refuse.
    pub doubtful: bool,
}

/// Scans `json`, a syntactically valid JSON value that starts `depth` containers deep.
pub(crate) fn scan(json: &[u8], depth: usize) -> Scan {
    let mut found = Scan::default();
    let mut depth = depth;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i = skip_string(json, i + 1, &mut found);
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth >= DEEP {
                    found.doubtful = true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b' ' | b'\t' | b'\n' | b'\r' => found.spaced = true,
            b'-' | b'0'..=b'9' => {
                let end = json[i..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(json.len(), |n| i + n);
                if number_may_overflow(&json[i..end]) {
                    found.doubtful = true;
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Past the string whose contents start at `i`: the index after its closing quote.
fn skip_string(json: &[u8], mut i: usize, found: &mut Scan) -> usize {
    while let Some(n) = memchr2(b'"', b'\\', &json[i..]) {
        i += n;
        if json[i] == b'"' {
            return i + 1;
        }
        // An escape: `\u` needs a look at surrogates, any other is two bytes.
        if json.get(i + 1) == Some(&b'u') {
            match hex4(json, i + 2) {
                Some(0xD800..=0xDBFF) => {
                    let paired = json.get(i + 6) == Some(&b'\\')
                        && json.get(i + 7) == Some(&b'u')
                        && matches!(hex4(json, i + 8), Some(0xDC00..=0xDFFF));
                    if paired {
                        i += 12;
                        continue;
                    }
                    found.doubtful = true;
                }
                Some(0xDC00..=0xDFFF) | None => found.doubtful = true,
                Some(_) => {}
            }
            i += 6;
        } else {
            i += 2;
        }
    }
    json.len()
}

fn hex4(json: &[u8], at: usize) -> Option<u16> {
    let digits = std::str::from_utf8(json.get(at..at + 4)?).ok()?;
    u16::from_str_radix(digits, 16).ok()
}

/// Whether a number token may be out of a double's range: only long ones and ones with an
/// exponent can be, and those are parsed.
fn number_may_overflow(token: &[u8]) -> bool {
    if token.len() < 300 && !token.iter().any(|b| matches!(b, b'e' | b'E')) {
        return false;
    }
    std::str::from_utf8(token)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .is_none_or(|n| !n.is_finite() || n.abs() > 1e300)
}

/// `json` without whitespace between tokens, or `None` when it has none. `json` is valid
/// JSON, so whitespace inside strings is only ever a literal space (other whitespace
/// characters must be escaped there).
pub(crate) fn without_whitespace(json: &str) -> Option<String> {
    if !scan(json.as_bytes(), 0).spaced {
        return None;
    }
    let bytes = json.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let mut ignore = Scan::default();
                let end = skip_string(bytes, i + 1, &mut ignore);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    // Only ASCII whitespace outside strings was removed, so the rest is still UTF-8.
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_between_tokens_is_found_and_removed_but_not_inside_strings() {
        assert_eq!(scan(br#"{"a b":"c\" d","e":[1,2]}"#, 0), Scan::default());
        assert!(scan(b"{\"a\": 1}", 0).spaced);
        assert!(scan(b"[1,\n2]", 0).spaced);
        assert_eq!(
            without_whitespace("{ \"a b\" :\t[1 ,\r\n \"c\\\" d \"] }").as_deref(),
            Some(r#"{"a b":[1,"c\" d "]}"#)
        );
        assert_eq!(without_whitespace(r#"{"a":"x y"}"#), None);
    }

    #[test]
    fn what_only_a_full_parse_refuses_is_flagged() {
        for doubtful in [
            r#"["\ud800"]"#,
            r#"["\ud800x"]"#,
            r#"["\udc00"]"#,
            r#"["\ud800\u0041"]"#,
            "[1e400]",
            "[-1E+309]",
            &format!("[{}]", "9".repeat(400)),
        ] {
            assert!(scan(doubtful.as_bytes(), 0).doubtful, "{doubtful}");
        }
        for fine in [
            r#"["\ud83d\ude00","\u00e9\n"]"#,
            "[1e300,-2.5E-7,12345678901234567890123]",
            "[true,false,null]",
        ] {
            assert!(!scan(fine.as_bytes(), 0).doubtful, "{fine}");
        }
        let nested = format!("{}{}", "[".repeat(5), "]".repeat(5));
        assert!(!scan(nested.as_bytes(), 90).doubtful);
        assert!(scan(nested.as_bytes(), 96).doubtful);
    }
}
