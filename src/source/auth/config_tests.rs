//! Tests of `auth` parsing and validation.

use super::super::client_key::ClientProof;
use super::*;

fn parse(text: &str) -> Result<AuthConfig, String> {
    toml::from_str::<AuthConfig>(text).map_err(|err| err.to_string())
}

#[test]
fn every_kind_parses_with_its_defaults() {
    let cases = [
        "kind = \"none\"",
        "kind = \"bearer\"\ntoken = \"t\"",
        "kind = \"api_key\"\nkey = \"k\"\nheader = \"X-API-Key\"",
        "kind = \"api_key\"\nkey = \"k\"\nquery = \"api_key\"",
        "kind = \"basic\"\nusername = \"u\"\npassword = \"p\"",
        "kind = \"oauth2_client_credentials\"\ntoken_url = \"https://idp.example/token\"\nclient_id = \"c\"\nclient_secret = \"s\"",
        "kind = \"duo_hmac\"\nintegration_key = \"DI\"\nsecret_key = \"s\"",
    ];
    for text in cases {
        let config = parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        config
            .validate()
            .unwrap_or_else(|err| panic!("{text}: {err}"));
    }
    match parse("kind = \"bearer\"\ntoken = \"t\"").unwrap() {
        AuthConfig::Bearer { prefix, .. } => assert_eq!(prefix, "Bearer"),
        other => panic!("{other:?}"),
    }
    match parse(cases[5]).unwrap() {
        AuthConfig::Oauth2ClientCredentials {
            scopes,
            audience,
            client_auth,
            ..
        } => {
            assert!(scopes.is_empty());
            assert_eq!(audience, None);
            assert_eq!(client_auth, ClientAuth::Basic);
            assert!(!client_auth.in_body());
        }
        other => panic!("{other:?}"),
    }
    match parse(cases[6]).unwrap() {
        AuthConfig::DuoHmac {
            signature_version, ..
        } => assert_eq!(signature_version.number(), 5),
        other => panic!("{other:?}"),
    }
}

#[test]
fn api_key_takes_exactly_one_place() {
    let both = parse("kind = \"api_key\"\nkey = \"k\"\nheader = \"X\"\nquery = \"q\"").unwrap_err();
    assert!(
        both.contains("either `header` or `query`, not both"),
        "{both}"
    );
    let neither = parse("kind = \"api_key\"\nkey = \"k\"").unwrap_err();
    assert!(neither.contains("`header`, `query` or `body`"), "{neither}");
    let several =
        parse("kind = \"api_key\"\nkey = \"k\"\nheader = \"X\"\nbody = \"provhash\"").unwrap_err();
    assert!(several.contains("not several"), "{several}");
    let prefixed =
        parse("kind = \"api_key\"\nkey = \"k\"\nbody = \"provhash\"\nprefix = \"T\"").unwrap_err();
    assert!(prefixed.contains("prefix"), "{prefixed}");
    let body = parse("kind = \"api_key\"\nkey = \"k\"\nbody = \"provhash\"").unwrap();
    let AuthConfig::ApiKey(body) = body else {
        panic!("not an api_key")
    };
    assert_eq!(body.body_field(), Some("provhash"));
    assert!(neither.contains("hint"), "{neither}");
    let prefix =
        parse("kind = \"api_key\"\nkey = \"k\"\nquery = \"q\"\nprefix = \"Token\"").unwrap_err();
    assert!(prefix.contains("`prefix`"), "{prefix}");

    let header =
        parse("kind = \"api_key\"\nkey = \"k\"\nheader = \"X-Key\"\nprefix = \"Token\"").unwrap();
    let AuthConfig::ApiKey(api_key) = header else {
        panic!("{header:?}")
    };
    assert_eq!(api_key.header(), Some(("X-Key", Some("Token"))));
    assert_eq!(api_key.query(), None);
}

#[test]
fn unknown_keys_are_refused_in_every_kind() {
    for text in [
        "kind = \"api_key\"\nkey = \"k\"\nheader = \"X\"\nheadr = \"Y\"",
        "kind = \"basic\"\nusername = \"u\"\npassword = \"p\"\nrealm = \"r\"",
        "kind = \"oauth2_client_credentials\"\ntoken_url = \"https://i/t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nscope = \"a\"",
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains("unknown field"), "{text}: {err}");
    }
    let err = parse("kind = \"oauth2_client_credentials\"\ntoken_url = \"https://i/t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nclient_auth = \"post\"").unwrap_err();
    assert!(err.contains("basic") && err.contains("body"), "{err}");
    let err = parse("kind = \"kerberos\"").unwrap_err();
    assert!(err.contains("unknown variant"), "{err}");
}

#[test]
fn validate_names_the_field_and_gives_a_hint() {
    let cases = [
        ("kind = \"oauth2_client_credentials\"\ntoken_url = \"idp.example/token\"\nclient_id = \"c\"\nclient_secret = \"s\"", "auth.token_url"),
        ("kind = \"oauth2_client_credentials\"\ntoken_url = \"ftp://idp.example/token\"\nclient_id = \"c\"\nclient_secret = \"s\"", "auth.token_url"),
        ("kind = \"oauth2_client_credentials\"\ntoken_url = \"https://idp.example/token\"\nclient_id = \"\"\nclient_secret = \"s\"", "auth.client_id"),
        ("kind = \"oauth2_client_credentials\"\ntoken_url = \"https://idp.example/token\"\nclient_id = \"c\"\nclient_secret = \"s\"\nscopes = [\"\"]", "auth.scopes"),
        ("kind = \"basic\"\nusername = \"a:b\"\npassword = \"p\"", "auth.username"),
        ("kind = \"basic\"\nusername = \"u\"\npassword = \"\"", "auth.password"),
        ("kind = \"bearer\"\ntoken = \"\"", "auth.token"),
        ("kind = \"api_key\"\nkey = \"k\"\nheader = \"X API Key\"", "auth.header"),
        ("kind = \"api_key\"\nkey = \"k\"\nquery = \"\"", "auth.query"),
        ("kind = \"duo_hmac\"\nintegration_key = \"DI\"\nsecret_key = \" \"", "auth.secret_key"),
        ("kind = \"google_service_account\"\ncredentials = \"{}\"\nscopes = [\"s\"]", "auth.credentials"),
    ];
    for (text, field) in cases {
        let err = parse(text).unwrap().validate().unwrap_err().to_string();
        assert!(err.starts_with(field), "{text}: {err}");
        assert!(err.contains("hint:"), "{text}: {err}");
    }
}

#[test]
fn secrets_stay_out_of_debug_and_validation_messages() {
    let cases = [
        "kind = \"bearer\"\ntoken = \"s3cr3t\\n\"",
        "kind = \"api_key\"\nkey = \"s3cr3t\\r\"\nheader = \"X-API-Key\"",
        "kind = \"basic\"\nusername = \"u\"\npassword = \"s3cr3t\"",
        "kind = \"oauth2_client_credentials\"\ntoken_url = \"https://i/t\"\nclient_id = \"c\"\nclient_secret = \"s3cr3t\"",
        "kind = \"google_service_account\"\ncredentials = \"{\\\"private_key\\\": \\\"s3cr3t\\\"}\"\nscopes = [\"x\"]",
        "kind = \"duo_hmac\"\nintegration_key = \"DI\"\nsecret_key = \"s3cr3t\"",
    ];
    for text in cases {
        let config = parse(text).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"), "{text}");
        if let Err(err) = config.validate() {
            let err = err.to_string();
            assert!(!err.contains("s3cr3t"), "{text}: {err}");
        }
    }
}

#[test]
fn service_account_key_parses_and_hides_its_key_from_debug() {
    // A syntactically valid key file whose PEM is not a key: refused, naming the field.
    let json = r#"{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n","token_uri":"https://oauth2.googleapis.com/token"}"#;
    let problem = ServiceAccountKey::parse(json).unwrap_err();
    assert_eq!(problem.path, "credentials");
    assert!(problem.message.contains("private_key"), "{problem}");
    let missing =
        ServiceAccountKey::parse(r#"{"type":"service_account","client_email":"a@b"}"#).unwrap_err();
    assert!(missing.message.contains("private_key"), "{missing}");
    let user = ServiceAccountKey::parse(r#"{"type":"authorized_user"}"#).unwrap_err();
    assert!(user.message.contains("authorized_user"), "{user}");
}

#[test]
fn duo_signature_version_is_2_or_5() {
    assert_eq!(
        DuoSignatureVersion::try_from(2),
        Ok(DuoSignatureVersion::V2)
    );
    assert_eq!(
        DuoSignatureVersion::try_from(5),
        Ok(DuoSignatureVersion::V5)
    );
    let err = DuoSignatureVersion::try_from(4).unwrap_err();
    assert!(err.contains("hint"), "{err}");
}

fn jwt_config(extra: &str) -> String {
    format!(
        "kind = \"oauth2_client_credentials\"\ntoken_url = \"https://idp.example/token\"\nclient_id = \"c\"\n{extra}"
    )
}

#[test]
fn private_key_jwt_needs_a_usable_key_and_no_secret() {
    use crate::source::auth::tests::keys;
    let key = |pem: &str| format!("private_key = '''{pem}'''");
    let ok = [
        format!(
            "client_auth = \"private_key_jwt\"\n{}",
            key(keys::PRIVATE_KEY)
        ),
        format!(
            "client_auth = \"private_key_jwt\"\nalgorithm = \"PS256\"\n{}",
            key(keys::PRIVATE_KEY)
        ),
        format!(
            "client_auth = \"private_key_jwt\"\n{}",
            key(keys::EC_PRIVATE_KEY)
        ),
        format!(
            "client_auth = \"private_key_jwt\"\nkey_id = \"k\"\ncertificate = '''{}'''\n{}",
            keys::CERTIFICATE,
            key(keys::PRIVATE_KEY)
        ),
    ];
    for extra in &ok {
        let config = parse(&jwt_config(extra)).unwrap();
        config.validate().unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert!(!format!("{config:?}").contains("BEGIN"), "{config:?}");
        let Some(Ok(ClientProof::PrivateKeyJwt(client_key))) = config.client_proof() else {
            panic!("{extra}")
        };
        assert!(!format!("{client_key:?}").contains("BEGIN"));
    }
    let bad = [
        ("client_auth = \"private_key_jwt\"".to_string(), "auth.private_key", "missing"),
        (
            format!("client_auth = \"private_key_jwt\"\nclient_secret = \"s\"\n{}", key(keys::PRIVATE_KEY)),
            "auth.client_secret",
            "not used",
        ),
        (
            format!("client_secret = \"s\"\n{}", key(keys::PRIVATE_KEY)),
            "auth.private_key",
            "only used with",
        ),
        ("client_auth = \"body\"".to_string(), "auth.client_secret", "missing"),
        (
            "client_auth = \"private_key_jwt\"\nprivate_key = \"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\"".to_string(),
            "auth.private_key",
            "not a PEM private key",
        ),
        (
            format!("client_auth = \"private_key_jwt\"\nalgorithm = \"ES256\"\n{}", key(keys::PRIVATE_KEY)),
            "auth.algorithm",
            "EC key",
        ),
        (
            format!("client_auth = \"private_key_jwt\"\nalgorithm = \"RS256\"\n{}", key(keys::EC_PRIVATE_KEY)),
            "auth.algorithm",
            "RSA key",
        ),
        (
            format!("client_auth = \"private_key_jwt\"\ncertificate = \"nope\"\n{}", key(keys::PRIVATE_KEY)),
            "auth.certificate",
            "PEM",
        ),
    ];
    for (extra, field, needle) in bad {
        let err = parse(&jwt_config(&extra))
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(field), "{extra}: {err}");
        assert!(err.contains(needle), "{extra}: {err}");
        assert!(err.contains("hint:"), "{extra}: {err}");
        assert!(!err.contains("MII"), "{extra}: {err}");
    }
}

#[test]
fn token_params_may_not_repeat_the_standard_fields() {
    let base = "kind = \"oauth2_client_credentials\"\ntoken_url = \"https://zoom.example/oauth/token\"\nclient_id = \"c\"\nclient_secret = \"s\"\ngrant_type = \"account_credentials\"\n";
    let ok = parse(&format!("{base}token_params = {{ account_id = \"A1\" }}")).unwrap();
    ok.validate().unwrap();
    match ok {
        AuthConfig::Oauth2ClientCredentials {
            grant_type,
            token_params,
            ..
        } => {
            assert_eq!(grant_type, "account_credentials");
            assert_eq!(token_params["account_id"], "A1");
        }
        other => panic!("{other:?}"),
    }
    let err = parse(&format!("{base}token_params = {{ client_secret = \"x\" }}"))
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token_params") && err.contains("client_secret"),
        "{err}"
    );
    let empty = base.replace("account_credentials", " ");
    let err = parse(&empty).unwrap().validate().unwrap_err().to_string();
    assert!(err.contains("grant_type"), "{err}");
}
