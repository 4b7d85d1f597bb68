//! `kind = "hash"`: replaces the values of fields with a keyed pseudonym.
//!
//! The pseudonym is HMAC-SHA256 of the value under a key from the config's secret
//! references: the same value gives the same token in every source, every sink and every run
//! that uses the same key (so events still join on it), and without the key a token cannot
//! be computed from a guessed value (as a plain hash of an email address could).

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::field::FieldPath;
use super::step::{field_paths, Problem, Step, Verdict};
use crate::model::Secret;

/// `{ kind = "hash", fields = ["actor.alternateId"], key = "${env:SLUICE_HASH_KEY}" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashConfig {
    /// The step's name in counts, metrics and dead letters; default `hash#<position>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The fields whose values are replaced; those an event does not have, or that hold
    /// null, are passed over.
    pub fields: Vec<String>,
    /// The HMAC key: a secret reference (`${env:NAME}`, `${file:PATH}`, a secret manager).
    pub key: Secret,
    /// Written before the hex digits, e.g. `"pii:"`, so a token reads as one.
    #[serde(default)]
    pub prefix: String,
    /// Lowercase a string before hashing, so `Alice@Example.com` and `alice@example.com`
    /// give one token.
    #[serde(default)]
    pub lowercase: bool,
}

/// Shortest key accepted: HMAC-SHA256's security rests on the key, and a short one can be
/// found by trying every value.
const MIN_KEY_BYTES: usize = 16;

impl HashConfig {
    /// The compiled step.
    pub fn build(&self) -> Result<Hash, Problem> {
        let fields = field_paths("fields", &self.fields)?;
        let key = self.key.expose().as_bytes();
        if key.len() < MIN_KEY_BYTES {
            return Err(Problem::new(
                "key",
                format!("is {} bytes long; the hash key needs at least {MIN_KEY_BYTES}", key.len()),
                "make a random key once (e.g. `openssl rand -hex 32`), keep it in a secret store and give it as ${env:NAME}, ${file:PATH} or a secret manager reference; the same key everywhere gives the same tokens",
            ));
        }
        // HMAC takes a key of any length, so this cannot fail.
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        Ok(Hash {
            fields,
            mac,
            prefix: self.prefix.clone(),
            lowercase: self.lowercase,
        })
    }
}

/// The compiled `hash` step.
pub struct Hash {
    fields: Vec<FieldPath>,
    /// Keyed once; each value is hashed on a clone of it.
    mac: Hmac<Sha256>,
    prefix: String,
    lowercase: bool,
}

impl Hash {
    /// The token of one value: `prefix` and 64 lowercase hex digits.
    fn token(&self, value: &Value) -> String {
        let mut mac = self.mac.clone();
        match value {
            Value::String(text) if self.lowercase => mac.update(text.to_lowercase().as_bytes()),
            Value::String(text) => mac.update(text.as_bytes()),
            // Numbers, bools, arrays and objects are hashed as their compact JSON text.
            other => mac.update(other.to_string().as_bytes()),
        }
        let digest = mac.finalize().into_bytes();
        let mut token = String::with_capacity(self.prefix.len() + 64);
        token.push_str(&self.prefix);
        for byte in digest {
            token.push_str(&format!("{byte:02x}"));
        }
        token
    }
}

impl Step for Hash {
    fn apply(&self, event: &mut Value) -> Verdict {
        let mut changed = false;
        for field in &self.fields {
            if let Some(value) = field.get_mut(event) {
                if !value.is_null() {
                    *value = Value::String(self.token(value));
                    changed = true;
                }
            }
        }
        if changed {
            Verdict::Changed
        } else {
            Verdict::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn step(key: &str, prefix: &str, lowercase: bool) -> Hash {
        HashConfig {
            name: None,
            fields: vec!["email".into(), "n".into(), "gone".into()],
            key: Secret::new(key),
            prefix: prefix.into(),
            lowercase,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn the_token_is_hmac_sha256_of_the_value_in_hex() {
        // RFC 4231, test case 1: key 0x0b x 20, data "Hi There".
        let mut event = json!({"email": "Hi There", "n": 42, "gone": null});
        let key = "\u{b}".repeat(20);
        assert_eq!(
            step(&key, "pii:", false).apply(&mut event),
            Verdict::Changed
        );
        assert_eq!(
            event["email"],
            json!("pii:b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(event["gone"], Value::Null, "null is left as it is");
        let n = event["n"].as_str().unwrap();
        assert_eq!(n.len(), "pii:".len() + 64);
        assert_ne!(n, event["email"].as_str().unwrap());
    }

    #[test]
    fn same_value_same_key_same_token_and_another_key_another() {
        let hash = |key: &str, email: &str, lowercase: bool| {
            let mut event = json!({"email": email});
            step(key, "", lowercase).apply(&mut event);
            event["email"].clone()
        };
        assert_eq!(hash(KEY, "a@x.com", false), hash(KEY, "a@x.com", false));
        assert_ne!(
            hash(KEY, "a@x.com", false),
            hash(&KEY.replace('0', "1"), "a@x.com", false)
        );
        assert_ne!(hash(KEY, "A@X.com", false), hash(KEY, "a@x.com", false));
        assert_eq!(hash(KEY, "A@X.com", true), hash(KEY, "a@x.com", true));
    }

    #[test]
    fn keeps_an_event_without_the_fields() {
        let mut event = json!({"other": "x"});
        assert_eq!(step(KEY, "", false).apply(&mut event), Verdict::Keep);
    }

    #[test]
    fn a_short_key_is_a_problem_at_its_key() {
        let problem = HashConfig {
            name: None,
            fields: vec!["email".into()],
            key: Secret::new("short"),
            prefix: String::new(),
            lowercase: false,
        }
        .build()
        .err()
        .unwrap();
        assert_eq!(problem.path, "key");
        assert!(
            !problem.message.contains("short"),
            "the key is never quoted"
        );
    }
}
