//! How an OAuth 2.0 client proves itself to the token endpoint: a client secret (HTTP Basic
//! or form fields) or, with `client_auth = "private_key_jwt"`, a private key that signs a
//! client assertion (RFC 7523 section 2.2). Checked when the config is loaded, so a key that
//! cannot sign is a config error naming `auth.private_key`, not a failure at the first token
//! request. Errors never quote key material.

use std::fmt;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::config::{check_not_empty, AssertionAlgorithm, AuthConfig, ClientAuth};
use crate::model::{Problem, Secret};

/// A checked client credential.
#[derive(Debug, Clone)]
pub enum ClientProof {
    /// `client_secret_basic`: HTTP Basic with the client id and this secret.
    Basic(Secret),
    /// `client_secret_post`: `client_id` and `client_secret` form fields.
    Body(Secret),
    /// `private_key_jwt`: a client assertion signed with this key.
    PrivateKeyJwt(ClientKey),
}

/// A `private_key_jwt` signing key and what its assertions carry besides the claims.
#[derive(Clone)]
pub struct ClientKey {
    /// The private key.
    pub key: EncodingKey,
    /// The signing algorithm.
    pub algorithm: Algorithm,
    /// `kid` header.
    pub key_id: Option<String>,
    /// `x5t` header: base64url SHA-1 thumbprint of the certificate.
    pub x5t: Option<String>,
    /// `x5t#S256` header: base64url SHA-256 thumbprint of the certificate.
    pub x5t_s256: Option<String>,
    /// The `aud` claim; the token URL when `None`.
    pub audience: Option<String>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs; the rest names which key it is.
        f.debug_struct("ClientKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("x5t_s256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A JWT header for an assertion signed with this key.
    pub fn header(&self) -> Header {
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        header.x5t = self.x5t.clone();
        header.x5t_s256 = self.x5t_s256.clone();
        header
    }
}

impl AuthConfig {
    /// For `oauth2_client_credentials`, its checked client credential; `None` for other
    /// kinds.
    pub fn client_proof(&self) -> Option<Result<ClientProof, Problem>> {
        match self {
            AuthConfig::Oauth2ClientCredentials {
                client_secret,
                private_key,
                key_id,
                certificate,
                algorithm,
                assertion_audience,
                client_auth,
                ..
            } => Some(proof(
                *client_auth,
                client_secret.as_ref(),
                JwtSettings {
                    private_key: private_key.as_ref(),
                    key_id: key_id.as_deref(),
                    certificate: certificate.as_ref(),
                    algorithm: *algorithm,
                    audience: assertion_audience.as_deref(),
                },
            )),
            _ => None,
        }
    }
}

/// Checks the client credential of an `oauth2_client_credentials` config.
pub(super) fn check_client_proof(config: &AuthConfig) -> Result<(), Problem> {
    config.client_proof().transpose().map(|_| ())
}

/// The `private_key_jwt` keys as written.
struct JwtSettings<'a> {
    private_key: Option<&'a Secret>,
    key_id: Option<&'a str>,
    certificate: Option<&'a Secret>,
    algorithm: Option<AssertionAlgorithm>,
    audience: Option<&'a str>,
}

fn problem(field: &'static str, message: impl Into<String>, hint: &str) -> Problem {
    Problem {
        path: field.into(),
        message: message.into(),
        hint: hint.to_string(),
    }
}

fn proof(
    client_auth: ClientAuth,
    secret: Option<&Secret>,
    jwt: JwtSettings<'_>,
) -> Result<ClientProof, Problem> {
    if client_auth != ClientAuth::PrivateKeyJwt {
        let stray = [
            ("private_key", jwt.private_key.is_some()),
            ("key_id", jwt.key_id.is_some()),
            ("certificate", jwt.certificate.is_some()),
            ("algorithm", jwt.algorithm.is_some()),
            ("assertion_audience", jwt.audience.is_some()),
        ];
        if let Some((field, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(problem(
                field,
                "is only used with client_auth = \"private_key_jwt\"",
                "add client_auth = \"private_key_jwt\" to authenticate with the key, or remove the key",
            ));
        }
        let secret = secret.ok_or_else(|| {
            problem(
                "client_secret",
                "is missing",
                "set client_secret = \"${env:NAME}\", or authenticate with a key: client_auth = \"private_key_jwt\" and private_key",
            )
        })?;
        check_not_empty("client_secret", secret)?;
        return Ok(match client_auth {
            ClientAuth::Body => ClientProof::Body(secret.clone()),
            _ => ClientProof::Basic(secret.clone()),
        });
    }
    if secret.is_some() {
        return Err(problem(
            "client_secret",
            "is not used with client_auth = \"private_key_jwt\"",
            "remove client_secret: the signed assertion proves the client",
        ));
    }
    let pem = jwt.private_key.ok_or_else(|| {
        problem(
            "private_key",
            "is missing; client_auth = \"private_key_jwt\" signs with it",
            "set private_key = \"${file:/etc/sluice/client-key.pem}\" (PEM)",
        )
    })?;
    check_not_empty("private_key", pem)?;
    let (key, algorithm) = signing_key(pem, jwt.algorithm)?;
    let (x5t, x5t_s256) = match jwt.certificate {
        Some(certificate) => {
            let (sha1, sha256) = thumbprints(certificate)?;
            (Some(sha1), Some(sha256))
        }
        None => (None, None),
    };
    if let Some(audience) = jwt.audience {
        if audience.trim().is_empty() {
            return Err(problem(
                "assertion_audience",
                "is empty",
                "remove it to use the token URL, which most providers expect",
            ));
        }
    }
    let client_key = ClientKey {
        key,
        algorithm,
        key_id: jwt.key_id.map(str::to_string),
        x5t,
        x5t_s256,
        audience: jwt.audience.map(str::to_string),
    };
    // Sign once now: a key the crypto library cannot use fails here, at load.
    jsonwebtoken::encode(&client_key.header(), &serde_json::json!({}), &client_key.key).map_err(
        |_| {
            problem(
                "private_key",
                format!("cannot sign {algorithm:?} with this key"),
                "use an RSA key (2048 bits or more) for RS256/PS256, or an EC P-256 key in PKCS#8 form for ES256",
            )
        },
    )?;
    Ok(ClientProof::PrivateKeyJwt(client_key))
}

/// The key and its algorithm: the configured one, else RS256 for RSA and ES256 for EC.
fn signing_key(
    pem: &Secret,
    algorithm: Option<AssertionAlgorithm>,
) -> Result<(EncodingKey, Algorithm), Problem> {
    let bytes = pem.expose().as_bytes();
    let rsa = EncodingKey::from_rsa_pem(bytes).ok();
    let ec = EncodingKey::from_ec_pem(bytes).ok();
    let not_a_key = || {
        problem(
            "private_key",
            "is not a PEM private key Sluice can sign with",
            "give a PEM RSA key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) or an EC P-256 key in PKCS#8 form (BEGIN PRIVATE KEY; convert with openssl pkcs8 -topk8 -nocrypt)",
        )
    };
    match (algorithm, rsa, ec) {
        (None | Some(AssertionAlgorithm::RS256), Some(key), _) => Ok((key, Algorithm::RS256)),
        (Some(AssertionAlgorithm::PS256), Some(key), _) => Ok((key, Algorithm::PS256)),
        (None | Some(AssertionAlgorithm::ES256), None, Some(key)) => Ok((key, Algorithm::ES256)),
        (Some(wanted), None, Some(_)) => Err(problem(
            "algorithm",
            format!("{wanted:?} needs an RSA key, and private_key is an EC key"),
            "use algorithm = \"ES256\" for an EC key, or remove algorithm",
        )),
        (Some(AssertionAlgorithm::ES256), Some(_), _) => Err(problem(
            "algorithm",
            "ES256 needs an EC key, and private_key is an RSA key",
            "use algorithm = \"RS256\" or \"PS256\" for an RSA key, or remove algorithm",
        )),
        (_, None, None) => Err(not_a_key()),
    }
}

/// Base64url SHA-1 and SHA-256 thumbprints of the first certificate in a PEM text.
fn thumbprints(certificate: &Secret) -> Result<(String, String), Problem> {
    let parsed = pem::parse_many(certificate.expose()).map_err(|_| {
        problem(
            "certificate",
            "is not PEM",
            "give the certificate of the key as PEM (BEGIN CERTIFICATE), e.g. certificate = \"${file:/etc/sluice/client.crt}\"",
        )
    })?;
    let der = parsed
        .iter()
        .find(|block| block.tag() == "CERTIFICATE")
        .ok_or_else(|| {
            problem(
                "certificate",
                "holds no certificate (no BEGIN CERTIFICATE block)",
                "give the certificate of the key as PEM",
            )
        })?
        .contents();
    let encode = |digest: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    Ok((encode(&Sha1::digest(der)), encode(&Sha256::digest(der))))
}
