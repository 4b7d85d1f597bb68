//! Opaque page cursors the profiles hand out: numbers sealed with a check value bound to the
//! simulator's seed, so a cursor that was edited, cut or made up is refused as a vendor
//! refuses a bad cursor, and one that was handed out is read back exactly.
//!
//! The text is the numbers in hexadecimal joined by `.`, then the check, in base64. Vendors'
//! cursors differ in alphabet: some carry `+`, `/` and `=` (which a client must
//! percent-encode in a query), others are URL-safe; a profile picks the one its vendor's
//! cursors look like.

use base64::Engine as _;

use crate::rng::{domain, hash3, mix64};

/// Which base64 alphabet the cursor is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// `+`, `/` and `=` padding: a client must percent-encode it in a query.
    Standard,
    /// `-` and `_`, no padding.
    UrlSafe,
}

impl Alphabet {
    fn engine(self) -> &'static base64::engine::GeneralPurpose {
        match self {
            Alphabet::Standard => &base64::engine::general_purpose::STANDARD,
            Alphabet::UrlSafe => &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        }
    }
}

fn check(seed: u64, fields: &[u64]) -> u32 {
    let mixed = fields
        .iter()
        .rev()
        .fold(0u64, |acc, field| mix64(field ^ acc));
    hash3(seed, domain::CURSOR, mixed) as u32
}

/// The cursor holding `fields`.
pub(crate) fn seal(seed: u64, alphabet: Alphabet, fields: &[u64]) -> String {
    let mut text = String::new();
    for field in fields {
        text.push_str(&format!("{field:x}."));
    }
    text.push_str(&format!("{:08x}", check(seed, fields)));
    alphabet.engine().encode(text)
}

/// The `N` numbers `cursor` holds, if it is one [`seal`] wrote with this seed.
pub(crate) fn open<const N: usize>(
    seed: u64,
    alphabet: Alphabet,
    cursor: &str,
) -> Option<[u64; N]> {
    let bytes = alphabet.engine().decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('.');
    let mut fields = [0u64; N];
    for field in &mut fields {
        *field = u64::from_str_radix(parts.next()?, 16).ok()?;
    }
    let given = u32::from_str_radix(parts.next()?, 16).ok()?;
    (parts.next().is_none() && given == check(seed, &fields)).then_some(fields)
}

/// Where a time-ranged listing stands, as its cursor carries it: the next event's index, the
/// query's range of indices and its direction (the cursor of Cloudflare's and SentinelOne's
/// profiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) at: u64,
    pub(crate) lo: u64,
    pub(crate) hi: u64,
    pub(crate) ascending: bool,
}

impl Position {
    /// The cursor holding this position.
    pub(crate) fn seal(self, seed: u64, alphabet: Alphabet) -> String {
        let Position {
            at,
            lo,
            hi,
            ascending,
        } = self;
        seal(seed, alphabet, &[at, lo, hi, u64::from(ascending)])
    }

    /// The position `cursor` holds, if [`Position::seal`] wrote it with this seed.
    pub(crate) fn open(seed: u64, alphabet: Alphabet, cursor: &str) -> Option<Position> {
        let [at, lo, hi, ascending] = open(seed, alphabet, cursor)?;
        Some(Position {
            at,
            lo,
            hi,
            ascending: match ascending {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_cursor_opens_to_its_numbers_and_an_edited_one_does_not() {
        for alphabet in [Alphabet::Standard, Alphabet::UrlSafe] {
            let cursor = seal(7, alphabet, &[1, u64::MAX, 0]);
            assert_eq!(open::<3>(7, alphabet, &cursor), Some([1, u64::MAX, 0]));
            // Another seed, another count of numbers, or an edited number: refused.
            assert_eq!(open::<3>(8, alphabet, &cursor), None);
            assert_eq!(open::<2>(7, alphabet, &cursor), None);
            let forged = alphabet.engine().encode(format!(
                "2.{:x}.0.{:08x}",
                u64::MAX,
                check(8, &[2, u64::MAX, 0])
            ));
            assert_eq!(open::<3>(7, alphabet, &forged), None);
            assert_eq!(open::<3>(7, alphabet, "not a cursor"), None);
        }
    }
}
