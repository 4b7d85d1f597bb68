//! Deterministic hashing and pseudo-random helpers shared by every vendor profile.
//!
//! These are hand-rolled (SplitMix64) rather than taken from `rand` on purpose: the
//! simulator's output is a contract. Tests, the kill -9 exactness check and recorded
//! benchmarks all recompute ids from a seed, and `rand` does not promise that its
//! generators produce the same values across releases. SplitMix64 is tiny, fast and
//! frozen here forever.

/// Hash domains, one per independent use of randomness. Listed together so that no two
/// uses can accidentally share a domain (which would correlate them).
pub(crate) mod domain {
    pub(crate) const GROUP_END: u64 = 1;
    pub(crate) const UUID: u64 = 2;
    pub(crate) const EVENT: u64 = 3;
    pub(crate) const USER: u64 = 4;
    pub(crate) const OBJECT: u64 = 5;
    pub(crate) const SESSION: u64 = 6;
    pub(crate) const CURSOR: u64 = 7;
    pub(crate) const ERROR_ID: u64 = 8;
    pub(crate) const GENERIC_EVENT: u64 = 9;
    pub(crate) const LATE: u64 = 10;
    pub(crate) const LATE_DELAY: u64 = 11;
    pub(crate) const SUB_MILLI: u64 = 12;
    pub(crate) const GENERIC_CURSOR: u64 = 13;
    pub(crate) const TOKEN: u64 = 14;
    pub(crate) const GENERIC_SEED: u64 = 15;
}

/// Weyl increment of SplitMix64 (the golden ratio in 64-bit fixed point).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output finaliser: a bijective, well-avalanched 64-bit mix.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes `x` within an independent `domain` of a `seed`.
///
/// Domains keep unrelated decisions (grouping, event content, ids, ...) uncorrelated,
/// so changing how one of them consumes randomness never shifts the others.
pub(crate) fn hash3(seed: u64, domain: u64, x: u64) -> u64 {
    let base = mix64(seed ^ mix64(domain.wrapping_add(GOLDEN)));
    mix64(base.wrapping_add(x.wrapping_mul(GOLDEN)))
}

/// A SplitMix64 stream: the per-event (or per-request) source of pseudo-random choices.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// Uniform in `[0, n)`; returns 0 when `n == 0`.
    ///
    /// Multiply-shift instead of `%` avoids modulo bias without a rejection loop.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub(crate) fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `percent / 100`.
    pub(crate) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly chosen element. `items` must be non-empty; every caller passes a
    /// non-empty constant table.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An element chosen with probability proportional to `weight(item)`.
    /// `items` must be non-empty with a positive total weight (constant tables).
    pub(crate) fn pick_weighted<'a, T>(&mut self, items: &'a [T], weight: fn(&T) -> u32) -> &'a T {
        let total: u64 = items.iter().map(|it| u64::from(weight(it))).sum();
        let mut ticket = self.below(total);
        for item in items {
            let w = u64::from(weight(item));
            if ticket < w {
                return item;
            }
            ticket -= w;
        }
        // Only reachable if the table's weights sum to zero.
        &items[items.len() - 1]
    }

    /// `len` characters drawn from `alphabet` (ASCII only).
    pub(crate) fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}

/// Characters of Okta-style object ids (`00u...`, `0oa...`).
pub(crate) const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of base64url-looking request ids.
pub(crate) const B64URL: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub(crate) const HEX: &[u8] = b"0123456789abcdef";

const MASK60: u64 = (1 << 60) - 1;

/// A bijection on `[0, 2^60)` keyed by `key`.
///
/// Every step (add mod 2^60, xor-shift right, multiply by an odd constant mod 2^60) is
/// invertible, so distinct indices can never map to the same value. That is what makes
/// event ids unique by construction rather than merely "unlikely to collide".
fn permute60(x: u64, key: u64) -> u64 {
    let mut v = x.wrapping_add(key) & MASK60;
    v ^= v >> 31;
    v = v.wrapping_mul(0x7FB5_D329_728E_A185) & MASK60;
    v ^= v >> 27;
    v = v.wrapping_mul(0x81DA_DEF4_BC2D_D44D) & MASK60;
    v ^ (v >> 33)
}

/// A random-looking version-4 UUID, unique for every `index < 2^60` under one seed.
///
/// The low 60 bits (those not touched by the version/variant markers) hold a keyed
/// permutation of the index; the remaining bits are hash noise so ids look random.
pub(crate) fn unique_uuid(seed: u64, index: u64) -> uuid::Uuid {
    let unique = permute60(index, hash3(seed, domain::UUID, u64::MAX));
    let noise = hash3(seed, domain::UUID, index);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&noise.to_be_bytes());
    bytes[8..].copy_from_slice(&unique.to_be_bytes());
    // `unique < 2^60`, so byte 8's top nibble is free: put noise there, then the
    // RFC 4122 variant (10xx) in its top two bits. Byte 6 carries version 4.
    bytes[8] |= (noise as u8) & 0x30;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    uuid::Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn permute60_is_injective_on_a_sample() {
        let key = hash3(42, 1, 2);
        let seen: HashSet<u64> = (0..200_000).map(|i| permute60(i, key)).collect();
        assert_eq!(seen.len(), 200_000);
        assert!(seen.iter().all(|v| *v <= MASK60));
    }

    #[test]
    fn uuids_are_v4_and_deterministic() {
        let a = unique_uuid(7, 123);
        assert_eq!(a, unique_uuid(7, 123));
        assert_ne!(a, unique_uuid(8, 123));
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(rng.below(0), 0);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let f = rng.unit_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
