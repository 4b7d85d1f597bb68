//! `google_service_account` against a token endpoint that verifies the JWT assertion with the
//! account's public key, as Google does.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use super::idp::{field, refuse, Idp};
use super::{authenticator, client, config, get, keys};
use crate::source::auth::Authenticator;
use crate::source::SourceError;

const EMAIL: &str = "sluice-reader@acme-logs.iam.gserviceaccount.com";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const SCOPE: &str = "https://www.googleapis.com/auth/admin.reports.audit.readonly";

/// Verifies the assertion's signature, header and claims; `subject` is the `sub` it wants.
fn verify(form: &[(String, String)], subject: Option<&str>) -> Result<(), String> {
    if field(form, "grant_type") != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return Err("grant_type".into());
    }
    let assertion = field(form, "assertion").ok_or("no assertion")?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    if header.kid.as_deref() != Some("test-key-id-1") {
        return Err(format!("kid {:?}", header.kid));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[GOOGLE_TOKEN_URI]);
    validation.set_issuer(&[EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let key = DecodingKey::from_rsa_pem(keys::PUBLIC_KEY.as_bytes()).map_err(|e| e.to_string())?;
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| format!("Invalid JWT: {e}"))?
        .claims;
    if claims["scope"] != SCOPE {
        return Err(format!("scope {}", claims["scope"]));
    }
    if claims.get("sub").and_then(Value::as_str) != subject {
        return Err(format!("sub {:?}", claims.get("sub")));
    }
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    if lifetime != 3600 {
        return Err(format!("exp - iat = {lifetime}"));
    }
    Ok(())
}

async fn start(subject: Option<&'static str>) -> (Arc<Idp>, String) {
    Idp::start(3600, move |_, form| {
        verify(form, subject).map_err(|why| refuse(StatusCode::BAD_REQUEST, "invalid_grant", &why))
    })
    .await
}

/// Writes a JSON key like the ones Google issues and returns the `auth` table using it.
fn config_text(
    dir: &tempfile::TempDir,
    private_key: &str,
    base: &str,
    subject: Option<&str>,
) -> String {
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "acme-logs",
        "private_key_id": "test-key-id-1",
        "private_key": private_key,
        "client_email": EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": GOOGLE_TOKEN_URI,
    });
    let path = dir.path().join("key.json");
    std::fs::write(&path, key.to_string()).unwrap();
    let subject = subject.map_or(String::new(), |s| format!("subject = \"{s}\"\n"));
    format!(
        "kind = \"google_service_account\"\ncredentials = \"${{file:{}}}\"\nscopes = [\"{SCOPE}\"]\n{subject}token_url = \"{base}/token\"\n",
        path.display()
    )
}

#[tokio::test]
async fn a_signed_assertion_with_subject_gets_a_token_that_is_reused() {
    let (idp, base) = start(Some("admin@acme.example")).await;
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(&config_text(
        &dir,
        keys::PRIVATE_KEY,
        &base,
        Some("admin@acme.example"),
    ));
    let url = format!("{base}/api");
    for _ in 0..3 {
        assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    }
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn without_subject_there_is_no_sub_claim() {
    let (_idp, base) = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(&config_text(&dir, keys::PRIVATE_KEY, &base, None));
    assert_eq!(
        get(&auth, &format!("{base}/api")).await.unwrap(),
        StatusCode::OK
    );
    // And a server that wants a subject refuses it.
    let (_idp, base) = start(Some("admin@acme.example")).await;
    let auth = authenticator(&config_text(&dir, keys::PRIVATE_KEY, &base, None));
    assert!(get(&auth, &format!("{base}/api")).await.is_err());
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_clearly() {
    let (_idp, base) = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(&config_text(&dir, keys::OTHER_PRIVATE_KEY, &base, None));
    let err = get(&auth, &format!("{base}/api")).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SourceError::Setup(_)), "{text}");
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(text.contains(&format!("{base}/token")), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[tokio::test]
async fn a_revoked_token_costs_exactly_one_refresh() {
    let (idp, base) = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(&config_text(&dir, keys::PRIVATE_KEY, &base, None));
    let url = format!("{base}/api");
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    idp.revoke();
    assert_eq!(get(&auth, &url).await.unwrap(), StatusCode::OK);
    assert_eq!(idp.token_requests(), 2);
    assert_eq!(idp.api_rejections(), 1);
}

#[test]
fn bad_credentials_are_setup_errors_naming_the_field_without_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        format!(
            "kind = \"google_service_account\"\ncredentials = \"${{file:{}}}\"\nscopes = [\"{SCOPE}\"]\n",
            path.display()
        )
    };
    let key_json = |private_key: &str| {
        serde_json::json!({
            "type": "service_account",
            "private_key": private_key,
            "client_email": EMAIL,
            "token_uri": GOOGLE_TOKEN_URI,
        })
        .to_string()
    };
    let cases = [
        (write("a.json", "not json MIIEsecret"), "not JSON"),
        (
            write(
                "b.json",
                &key_json("-----BEGIN PRIVATE KEY-----\nMIIEsecret\n-----END PRIVATE KEY-----\n"),
            ),
            "private_key",
        ),
        (
            write(
                "c.json",
                r#"{"type":"authorized_user","client_secret":"MIIEsecret"}"#,
            ),
            "authorized_user",
        ),
        (
            write(
                "d.json",
                r#"{"type":"service_account","private_key":"MIIEsecret","token_uri":"x"}"#,
            ),
            "client_email",
        ),
    ];
    for (text, expected) in cases {
        let err = Authenticator::new(&config(&text), client())
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.credentials"), "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("hint"), "{err}");
        assert!(!err.contains("MIIEsecret"), "{err}");
    }
    let no_scopes = write("e.json", &key_json(keys::PRIVATE_KEY))
        .replace(&format!("scopes = [\"{SCOPE}\"]"), "scopes = []");
    let err = Authenticator::new(&config(&no_scopes), client())
        .unwrap_err()
        .to_string();
    assert!(err.contains("auth.scopes"), "{err}");
}
