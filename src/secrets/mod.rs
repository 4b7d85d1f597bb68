//! Secrets kept in secret managers: `${aws-sm:NAME#KEY}`, `${gcp-sm:projects/P/secrets/S/
//! versions/V}` and `${vault:PATH#KEY}` in the config.
//!
//! The config loader collects every reference of a file, then asks [`fetch_all`] for the
//! secrets they name, in one pass: each secret (an AWS secret, a GCP secret version, a Vault
//! path) is fetched once however many references name it or its keys, by one client per
//! manager (built only when a reference needs it), with at most [`CONCURRENCY`] requests in
//! flight. Every load (a reload too) fetches afresh, so a rotated secret is picked up.
//! [`fetch_all_blocking`] runs the same pass on a thread of its own for the synchronous
//! loader, so that it never nests runtimes when called from async code.

mod aws;
mod error;
mod gcp;
mod http;
pub(crate) mod sigv4;
mod vault;
mod worker;

use std::collections::HashMap;

use futures_util::StreamExt as _;

use crate::model::Secret;

pub(crate) use error::SecretError;
pub(crate) use worker::fetch_all_blocking;

/// Requests in flight at once during a load: enough for a config's handful of secrets to
/// arrive together, few enough not to trip a manager's rate limits.
pub(crate) const CONCURRENCY: usize = 8;

/// One secret as a manager stores it: what is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Location {
    /// An AWS Secrets Manager secret, by name or ARN.
    Aws { secret_id: String },
    /// A Google Secret Manager secret version, `projects/P/secrets/S/versions/V` (or the
    /// regional `projects/P/locations/L/secrets/S/versions/V`).
    Gcp { name: String },
    /// A HashiCorp Vault KV version 2 secret: the mount and the path inside it.
    Vault { mount: String, path: String },
}

/// A parsed `${scheme:...}` reference to a manager: the secret, and which key of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub location: Location,
    /// `#KEY`: a key of the secret's JSON object. Without it, the whole value.
    pub key: Option<String>,
}

impl Reference {
    /// Parses the part after `scheme:`. `None` when `scheme` is not a manager's.
    pub(crate) fn parse(scheme: &str, body: &str) -> Option<Result<Reference, SecretError>> {
        let (target, key) = match body.split_once('#') {
            Some((target, key)) => (target, Some(key)),
            None => (body, None),
        };
        let key = match key {
            Some("") => {
                return Some(Err(SecretError::Malformed(format!(
                    "`#` is not followed by a key (hint: write ${{{scheme}:{target}#KEY}}, or drop the `#` to use the whole secret)"
                ))))
            }
            other => other.map(str::to_string),
        };
        let location = match scheme {
            "aws-sm" => parse_aws(target),
            "gcp-sm" => parse_gcp(target),
            "vault" => parse_vault(target, key.is_some()),
            _ => return None,
        };
        Some(location.map(|location| Reference { location, key }))
    }
}

fn parse_aws(target: &str) -> Result<Location, SecretError> {
    if target.trim().is_empty() {
        return Err(SecretError::Malformed("no secret name (hint: write ${aws-sm:NAME} or ${aws-sm:NAME#KEY}; NAME may be the secret's ARN)".into()));
    }
    Ok(Location::Aws {
        secret_id: target.to_string(),
    })
}

fn parse_gcp(target: &str) -> Result<Location, SecretError> {
    let parts: Vec<&str> = target.split('/').collect();
    let well_formed = match parts.as_slice() {
        ["projects", p, "secrets", s, "versions", v] => [p, s, v].iter().all(|x| !x.is_empty()),
        ["projects", p, "locations", l, "secrets", s, "versions", v] => {
            [p, l, s, v].iter().all(|x| !x.is_empty())
        }
        _ => false,
    };
    if !well_formed {
        return Err(SecretError::Malformed(format!(
            "`{target}` is not a secret version name (hint: write ${{gcp-sm:projects/PROJECT/secrets/SECRET/versions/VERSION}}, VERSION being a number or `latest`)"
        )));
    }
    Ok(Location::Gcp {
        name: target.to_string(),
    })
}

fn parse_vault(target: &str, has_key: bool) -> Result<Location, SecretError> {
    let (mount, path) = match target.trim_matches('/').split_once('/') {
        Some((mount, path)) if !mount.is_empty() && !path.is_empty() => (mount, path),
        _ => {
            return Err(SecretError::Malformed(format!(
                "`{target}` does not name a mount and a secret (hint: write ${{vault:MOUNT/PATH#KEY}} as for `vault kv get`, e.g. ${{vault:secret/sluice/okta#token}})"
            )))
        }
    };
    if !has_key {
        return Err(SecretError::Malformed(format!(
            "no key (hint: a Vault secret holds several keys; write ${{vault:{target}#KEY}})"
        )));
    }
    Ok(Location::Vault {
        mount: mount.to_string(),
        path: path.to_string(),
    })
}

impl Reference {
    /// The value this reference names, out of its secret's `whole` value.
    pub(crate) fn pick(&self, whole: &Secret) -> Result<String, SecretError> {
        select(&self.location, whole.expose(), self.key.as_deref())
    }
}

/// What one load fetched: each secret's whole value (a Vault secret's `data` as JSON), or why
/// it could not be had.
pub(crate) type Fetched = HashMap<Location, Result<Secret, SecretError>>;

/// Fetches every secret in `locations` once, concurrently (see the module's doc).
pub(crate) async fn fetch_all(locations: Vec<Location>) -> Fetched {
    let mut unique: Vec<Location> = Vec::with_capacity(locations.len());
    for location in locations {
        if !unique.contains(&location) {
            unique.push(location);
        }
    }
    let clients = Clients::for_locations(&unique);
    let clients = &clients;
    futures_util::stream::iter(unique)
        .map(|location| async move {
            let result = clients.fetch(&location).await;
            (location, result)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// One client per manager, each built once from the environment, and only when a location
/// needs it (a config that names one manager needs only that manager's environment). A
/// client that cannot be built is the answer for each of its manager's secrets.
struct Clients {
    aws: Option<Result<aws::Client, SecretError>>,
    gcp: Option<Result<gcp::Client, SecretError>>,
    vault: Option<Result<vault::Client, SecretError>>,
}

impl Clients {
    fn for_locations(locations: &[Location]) -> Clients {
        let wants = |f: fn(&Location) -> bool| locations.iter().any(f);
        Clients {
            aws: wants(|l| matches!(l, Location::Aws { .. })).then(aws::Client::from_env),
            gcp: wants(|l| matches!(l, Location::Gcp { .. })).then(gcp::Client::from_env),
            vault: wants(|l| matches!(l, Location::Vault { .. })).then(vault::Client::from_env),
        }
    }

    async fn fetch(&self, location: &Location) -> Result<Secret, SecretError> {
        match location {
            Location::Aws { secret_id } => built(&self.aws)?.get_secret_value(secret_id).await,
            Location::Gcp { name } => built(&self.gcp)?.access(name).await,
            Location::Vault { mount, path } => built(&self.vault)?.read(mount, path).await,
        }
    }
}

/// The client `for_locations` built, or why it could not be.
fn built<T>(client: &Option<Result<T, SecretError>>) -> Result<&T, SecretError> {
    match client {
        Some(Ok(client)) => Ok(client),
        Some(Err(err)) => Err(err.clone()),
        // Cannot happen (a client is built for every manager a location names); an error
        // rather than a panic all the same.
        None => Err(SecretError::Internal(
            "internal error: the secret manager client was not built".into(),
        )),
    }
}

/// Picks `key` out of a secret's value, or the whole value without a key.
fn select(location: &Location, whole: &str, key: Option<&str>) -> Result<String, SecretError> {
    let Some(key) = key else {
        return Ok(whole.to_string());
    };
    // Error messages name keys, never values, and never quote the parser's complaint (it
    // may point into the value).
    let object = match serde_json::from_str::<serde_json::Value>(whole) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => {
            return Err(SecretError::Unusable(format!(
                "the secret is not a JSON object, so it has no key `{key}` (hint: drop `#{key}` to use the whole value, or store the secret as JSON key/value pairs)"
            )))
        }
    };
    match object.get(key) {
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            Ok(value.to_string())
        }
        Some(_) => Err(SecretError::Unusable(format!(
            "key `{key}` holds a JSON object, array or null, not text (hint: point at a key whose value is a string)"
        ))),
        None => {
            let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let shown = if keys.is_empty() {
                "it has no keys".to_string()
            } else {
                format!("its keys are {}", keys.join(", "))
            };
            let hint = match location {
                Location::Vault { .. } => "fix the key after `#` (keys are case-sensitive); `vault kv get` lists them",
                _ => "fix the key after `#` (keys are case-sensitive)",
            };
            Err(SecretError::NotFound(format!(
                "the secret has no key `{key}`; {shown} (hint: {hint})"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(scheme: &str, body: &str) -> Result<Reference, SecretError> {
        Reference::parse(scheme, body).expect("a manager scheme")
    }

    #[test]
    fn references_parse_into_secret_and_key() {
        assert_eq!(
            parse("aws-sm", "prod/okta#token").unwrap(),
            Reference {
                location: Location::Aws {
                    secret_id: "prod/okta".into()
                },
                key: Some("token".into())
            }
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:okta-AbCdEf";
        assert_eq!(
            parse("aws-sm", arn).unwrap().location,
            Location::Aws {
                secret_id: arn.into()
            }
        );
        assert_eq!(
            parse("gcp-sm", "projects/p1/secrets/okta/versions/latest")
                .unwrap()
                .key,
            None
        );
        assert!(parse("gcp-sm", "projects/p1/locations/eu/secrets/okta/versions/3").is_ok());
        assert_eq!(
            parse("vault", "secret/sluice/okta#token").unwrap().location,
            Location::Vault {
                mount: "secret".into(),
                path: "sluice/okta".into()
            }
        );
        assert!(Reference::parse("env", "X").is_none());
    }

    #[test]
    fn malformed_references_say_how_to_write_them() {
        for (scheme, body, needle) in [
            ("aws-sm", "", "${aws-sm:NAME}"),
            ("aws-sm", "db#", "#KEY"),
            ("gcp-sm", "projects/p/secrets/s", "versions/VERSION"),
            ("gcp-sm", "okta", "projects/PROJECT"),
            ("vault", "secret#token", "MOUNT/PATH"),
            ("vault", "secret/okta", "#KEY"),
        ] {
            let err = parse(scheme, body).unwrap_err();
            assert!(matches!(err, SecretError::Malformed(_)), "{body}: {err:?}");
            let err = err.to_string();
            assert!(
                err.contains("hint:") && err.contains(needle),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn keys_are_picked_from_json_and_missing_ones_are_named_without_values() {
        let aws = Location::Aws {
            secret_id: "x".into(),
        };
        let whole = r#"{"user":"u1","password":"hunter2","port":5432}"#;
        assert_eq!(select(&aws, whole, None).unwrap(), whole);
        assert_eq!(select(&aws, whole, Some("password")).unwrap(), "hunter2");
        assert_eq!(select(&aws, whole, Some("port")).unwrap(), "5432");
        let err = select(&aws, whole, Some("pasword")).unwrap_err();
        assert!(matches!(err, SecretError::NotFound(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains("`pasword`") && err.contains("password, port, user"),
            "{err}"
        );
        assert!(!err.contains("hunter2") && !err.contains("u1"), "{err}");
        let err = select(&aws, "hunter2-not-json", Some("password"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a JSON object") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
