//! Ed25519 signatures of manifest ledger records (`ledger_signing_key` on a lake sink), and
//! their check by `sluice lake verify` (`--public-key`, or `ledger_public_key`, or the
//! public half of the configured signing key).
//!
//! A record is signed over its own encoding with `signature` left out; the signature is
//! then put in as base64 (standard alphabet). The chain hashes the record as stored, the
//! signature included, so a record re-signed with another key breaks the chain as much as
//! an edited one. Whoever holds the lake but not the key can rewrite the chain (the hashes
//! are public) but cannot sign it: verify then reports every rewritten record.
//!
//! Keys are written as PKCS#8 PEM (`openssl genpkey -algorithm ed25519` for the private key,
//! `openssl pkey -pubout` for the public one), or as the base64 of the raw 32 bytes.

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::ledger::LedgerRecord;
use crate::sink::config::LakeConfig;
use crate::sink::SinkError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a ledger key cannot be read. Each says which forms are understood, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// PEM that is not an Ed25519 private key (the decoder's reason).
    #[error("not an Ed25519 private key in PKCS#8 PEM ({0}) (hint: make one with `openssl genpkey -algorithm ed25519`)")]
    PrivatePem(String),
    /// Neither PEM nor base64.
    #[error("neither PKCS#8 PEM nor base64 (hint: make a key with `openssl genpkey -algorithm ed25519`)")]
    PrivateText,
    /// Base64 of the wrong length (the number of bytes it holds).
    #[error("the base64 holds {0} bytes, and an Ed25519 private key is 32 (hint: or give the PKCS#8 PEM `openssl genpkey -algorithm ed25519` writes)")]
    PrivateLength(usize),
    /// PEM that is not an Ed25519 public key (the decoder's reason).
    #[error("not an Ed25519 public key in PEM ({0}) (hint: `openssl pkey -in private.pem -pubout` writes one)")]
    PublicPem(String),
    /// Neither PEM nor base64.
    #[error("neither a PEM public key nor base64 (hint: `openssl pkey -in private.pem -pubout` writes one)")]
    PublicText,
    /// Base64 of the wrong length (the number of bytes it holds).
    #[error("the base64 holds {0} bytes, and an Ed25519 public key is 32")]
    PublicLength(usize),
    /// 32 bytes that are not a point of the curve (the decoder's reason).
    #[error("not an Ed25519 public key: {0}")]
    NotPublicKey(String),
}

/// Reads a private key: PKCS#8 PEM, or base64 of the 32-byte seed. The error says which
/// forms are understood, never the key.
pub fn signing_key(text: &str) -> Result<SigningKey, KeyError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(text).map_err(|e| KeyError::PrivatePem(e.to_string()));
    }
    let bytes = B64.decode(text).map_err(|_| KeyError::PrivateText)?;
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::PrivateLength(bytes.len()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key: SPKI PEM (`-----BEGIN PUBLIC KEY-----`), or base64 of its 32 bytes.
pub fn verifying_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text)
            .map_err(|e| KeyError::PublicPem(e.to_string()));
    }
    let bytes = B64.decode(text).map_err(|_| KeyError::PublicText)?;
    let raw: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::PublicLength(bytes.len()))?;
    VerifyingKey::from_bytes(&raw).map_err(|e| KeyError::NotPublicKey(e.to_string()))
}

/// Signs `record` (replacing any signature it has).
pub fn sign(record: &mut LedgerRecord, key: &SigningKey) {
    record.signature = None;
    let signature = key.sign(&record.encode());
    record.signature = Some(B64.encode(signature.to_bytes()));
}

/// Signs `record` with lake `config`'s `ledger.signing_key`, when it has one.
pub fn sign_for(config: &LakeConfig, record: &mut LedgerRecord) -> Result<(), SinkError> {
    if let Some(key) = &config.ledger.signing_key {
        // The loader checked the key; this fails only for a config built otherwise.
        let key = signing_key(key.expose()).map_err(|e| SinkError {
            sink: config.name.clone(),
            detail: format!("ledger.signing_key: {e}"),
        })?;
        sign(record, &key);
    }
    Ok(())
}

/// The key `sluice lake verify` checks lake `config`'s signatures with when none is given:
/// `ledger.public_key`, else the public half of `ledger.signing_key`; `None` when neither
/// is set (signatures are then not checked).
pub fn configured_public_key(config: &LakeConfig) -> Result<Option<VerifyingKey>, KeyError> {
    if let Some(text) = &config.ledger.public_key {
        return verifying_key(text).map(Some);
    }
    match &config.ledger.signing_key {
        Some(key) => signing_key(key.expose()).map(|k| Some(k.verifying_key())),
        None => Ok(None),
    }
}

/// What checking a record's signature found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Signed by the key.
    Good,
    /// No signature.
    Missing,
    /// A signature that is not the key's over this record.
    Bad,
}

/// Checks `record`'s signature against `key`.
pub fn check(record: &LedgerRecord, key: &VerifyingKey) -> Checked {
    let Some(text) = &record.signature else {
        return Checked::Missing;
    };
    let Some(signature) = B64
        .decode(text)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
    else {
        return Checked::Bad;
    };
    let mut unsigned = record.clone();
    unsigned.signature = None;
    match key.verify(&unsigned.encode(), &signature) {
        Ok(()) => Checked::Good,
        Err(_) => Checked::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::lake::ledger::LEDGER_VERSION;

    fn record() -> LedgerRecord {
        LedgerRecord {
            version: LEDGER_VERSION,
            source: "okta".into(),
            scope: "okta".into(),
            batch: "0000000001-a-b".into(),
            commit: 1,
            prev: None,
            objects: Vec::new(),
            deleted: Vec::new(),
            signature: None,
        }
    }

    /// The seed of RFC 8032's first test key, base64.
    const SEED_B64: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

    #[test]
    fn a_signed_record_checks_and_any_change_breaks_it() {
        let key = signing_key(SEED_B64).unwrap();
        let public = key.verifying_key();
        let mut signed = record();
        assert_eq!(check(&signed, &public), Checked::Missing);
        sign(&mut signed, &key);
        assert_eq!(check(&signed, &public), Checked::Good);
        let mut edited = signed.clone();
        edited.commit = 2;
        assert_eq!(check(&edited, &public), Checked::Bad);
        let other = SigningKey::from_bytes(&[7u8; 32]);
        assert_eq!(check(&signed, &other.verifying_key()), Checked::Bad);
        let mut garbage = signed.clone();
        garbage.signature = Some("not base64!".into());
        assert_eq!(check(&garbage, &public), Checked::Bad);
    }

    #[test]
    fn keys_read_as_base64_and_bad_keys_say_what_is_expected() {
        let key = signing_key(SEED_B64).unwrap();
        let public = B64.encode(key.verifying_key().to_bytes());
        assert_eq!(verifying_key(&public).unwrap(), key.verifying_key());
        let short = signing_key("AAAA").unwrap_err().to_string();
        assert!(short.contains("32"), "{short}");
        let pem = signing_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
            .unwrap_err()
            .to_string();
        assert!(pem.contains("openssl genpkey"), "{pem}");
    }
}
