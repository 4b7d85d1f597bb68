//! `private_key_jwt` client authentication against a token endpoint that verifies the client
//! assertion with the client's public key, as Okta and Microsoft Entra do; and token caches
//! shared between the sources that use one credential.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;

use super::idp::{field, refuse, Idp};
use super::keys;
use super::{client, config, get, Authenticator};

const CLIENT_ID: &str = "0oa-service-app";

/// An IdP that accepts only assertions signed by `public_pem` (`algorithm`), issued by our
/// client, for its own token URL, each `jti` once.
async fn start(algorithm: Algorithm, public_pem: &'static str) -> (Arc<Idp>, String) {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let token_url = Arc::new(Mutex::new(String::new()));
    let audience = token_url.clone();
    let (idp, base) = Idp::start(3600, move |headers, form| {
        let invalid = |why: &str| refuse(StatusCode::UNAUTHORIZED, "invalid_client", why);
        if headers.contains_key("authorization") || field(form, "client_secret").is_some() {
            return Err(invalid("a secret was sent"));
        }
        if field(form, "client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(invalid("no client assertion"));
        }
        let assertion = field(form, "client_assertion").ok_or_else(|| invalid("no assertion"))?;
        let key = match algorithm {
            Algorithm::ES256 => DecodingKey::from_ec_pem(public_pem.as_bytes()),
            _ => DecodingKey::from_rsa_pem(public_pem.as_bytes()),
        }
        .map_err(|_| invalid("bad test key"))?;
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&[audience.lock().unwrap().as_str()]);
        validation.set_issuer(&[CLIENT_ID]);
        validation.sub = Some(CLIENT_ID.to_string());
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation)
            .map_err(|e| invalid(&format!("assertion refused: {e}")))?
            .claims;
        let jti = claims["jti"].as_str().unwrap_or_default().to_string();
        if jti.is_empty() || !seen.lock().unwrap().insert(jti) {
            return Err(invalid("assertion replayed"));
        }
        if field(form, "client_id") != Some(CLIENT_ID) {
            return Err(invalid("wrong client_id"));
        }
        Ok(())
    })
    .await;
    *token_url.lock().unwrap() = format!("{base}/token");
    (idp, base)
}

fn key_config(base: &str, private_pem: &str, extra: &str) -> String {
    format!(
        "kind = \"oauth2_client_credentials\"\ntoken_url = \"{base}/token\"\nclient_id = \"{CLIENT_ID}\"\nclient_auth = \"private_key_jwt\"\nprivate_key = '''{private_pem}'''\n{extra}"
    )
}

#[tokio::test]
async fn an_rs256_assertion_gets_a_token_and_a_fresh_one_is_signed_each_time() {
    let (idp, base) = start(Algorithm::RS256, keys::PUBLIC_KEY).await;
    let auth =
        Authenticator::new(&config(&key_config(&base, keys::PRIVATE_KEY, "")), client()).unwrap();
    assert_eq!(
        get(&auth, &format!("{base}/api")).await.unwrap(),
        StatusCode::OK
    );
    // A revoked token is replaced with a new assertion (a replayed jti would be refused).
    idp.revoke();
    assert_eq!(
        get(&auth, &format!("{base}/api")).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn an_es256_assertion_gets_a_token() {
    let (idp, base) = start(Algorithm::ES256, keys::EC_PUBLIC_KEY).await;
    let auth = Authenticator::new(
        &config(&key_config(&base, keys::EC_PRIVATE_KEY, "")),
        client(),
    )
    .unwrap();
    assert_eq!(
        get(&auth, &format!("{base}/api")).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn a_ps256_assertion_with_certificate_thumbprints_gets_a_token() {
    // Microsoft Entra certificate credentials: PS256, and the certificate's thumbprint.
    let (idp, base) = start(Algorithm::PS256, keys::PUBLIC_KEY).await;
    let extra = format!(
        "algorithm = \"PS256\"\ncertificate = '''{}'''",
        keys::CERTIFICATE
    );
    let auth = Authenticator::new(
        &config(&key_config(&base, keys::PRIVATE_KEY, &extra)),
        client(),
    )
    .unwrap();
    assert_eq!(
        get(&auth, &format!("{base}/api")).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_with_a_hint_about_the_key() {
    let (_idp, base) = start(Algorithm::RS256, keys::PUBLIC_KEY).await;
    let auth = Authenticator::new(
        &config(&key_config(&base, keys::OTHER_PRIVATE_KEY, "")),
        client(),
    )
    .unwrap();
    let err = get(&auth, &format!("{base}/api"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("public key"), "{err}");
    assert!(!err.contains("BEGIN"), "{err}");
}

#[tokio::test]
async fn sources_sharing_a_credential_share_its_token() {
    let (idp, base) = start(Algorithm::RS256, keys::PUBLIC_KEY).await;
    let text = key_config(&base, keys::PRIVATE_KEY, "scopes = [\"logs.read\"]");
    let url = format!("{base}/api");
    let shared: Vec<Authenticator> = (0..3)
        .map(|_| Authenticator::shared(&config(&text), client(), "t1").unwrap())
        .collect();
    for _ in 0..3 {
        for auth in &shared {
            assert_eq!(get(auth, &url).await.unwrap(), StatusCode::OK);
        }
    }
    assert_eq!(idp.token_requests(), 1, "one token for three sources");
    // Built again (a new run, a reload): still the same token.
    let later = Authenticator::shared(&config(&text), client(), "t1").unwrap();
    assert_eq!(get(&later, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 1);
    // Other scopes, another transport, or an unshared authenticator: a token of their own.
    let other_scopes = key_config(&base, keys::PRIVATE_KEY, "scopes = [\"users.read\"]");
    for auth in [
        Authenticator::shared(&config(&other_scopes), client(), "t1").unwrap(),
        Authenticator::shared(&config(&text), client(), "t2").unwrap(),
        Authenticator::new(&config(&text), client()).unwrap(),
    ] {
        let before = idp.token_requests();
        assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
        assert_eq!(idp.token_requests(), before + 1);
    }
}
