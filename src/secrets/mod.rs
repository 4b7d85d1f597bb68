//! Secrets kept in secret managers: `${aws-sm:NAME#KEY}`, `${gcp-sm:projects/P/secrets/S/
//! versions/V}` and `${vault:PATH#KEY}` in the config.
//!
//! They are fetched while the config is loaded (at start, and again on every reload, which
//! goes through the same load), so a rotated secret is picked up by a reload. Config parsing
//! is synchronous and may run inside the async runtime (`sluice check` and the daemon load
//! from async code), so the requests run on a dedicated thread with its own small runtime
//! ([`worker`]); the parsing thread waits for the answer. Nothing blocks inside an async
//! context of the caller's runtime, and no runtime is ever started inside another.
//!
//! One [`Session`] covers one load: each secret (an AWS secret, a GCP secret version, a Vault
//! path) is fetched at most once per load however many references name it or its keys.

mod aws;
mod gcp;
mod http;
pub(crate) mod sigv4;
mod vault;
mod worker;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use crate::model::Secret;

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
    pub(crate) fn parse(scheme: &str, body: &str) -> Option<Result<Reference, String>> {
        let (target, key) = match body.split_once('#') {
            Some((target, key)) => (target, Some(key)),
            None => (body, None),
        };
        let key = match key {
            Some("") => {
                return Some(Err(format!(
                    "`#` is not followed by a key (hint: write ${{{scheme}:{target}#KEY}}, or drop the `#` to use the whole secret)"
                )))
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

fn parse_aws(target: &str) -> Result<Location, String> {
    if target.trim().is_empty() {
        return Err("no secret name (hint: write ${aws-sm:NAME} or ${aws-sm:NAME#KEY}; NAME may be the secret's ARN)".into());
    }
    Ok(Location::Aws {
        secret_id: target.to_string(),
    })
}

fn parse_gcp(target: &str) -> Result<Location, String> {
    let parts: Vec<&str> = target.split('/').collect();
    let well_formed = match parts.as_slice() {
        ["projects", p, "secrets", s, "versions", v] => [p, s, v].iter().all(|x| !x.is_empty()),
        ["projects", p, "locations", l, "secrets", s, "versions", v] => {
            [p, l, s, v].iter().all(|x| !x.is_empty())
        }
        _ => false,
    };
    if !well_formed {
        return Err(format!(
            "`{target}` is not a secret version name (hint: write ${{gcp-sm:projects/PROJECT/secrets/SECRET/versions/VERSION}}, VERSION being a number or `latest`)"
        ));
    }
    Ok(Location::Gcp {
        name: target.to_string(),
    })
}

fn parse_vault(target: &str, has_key: bool) -> Result<Location, String> {
    let (mount, path) = match target.trim_matches('/').split_once('/') {
        Some((mount, path)) if !mount.is_empty() && !path.is_empty() => (mount, path),
        _ => {
            return Err(format!(
                "`{target}` does not name a mount and a secret (hint: write ${{vault:MOUNT/PATH#KEY}} as for `vault kv get`, e.g. ${{vault:secret/sluice/okta#token}})"
            ))
        }
    };
    if !has_key {
        return Err(format!(
            "no key (hint: a Vault secret holds several keys; write ${{vault:{target}#KEY}})"
        ));
    }
    Ok(Location::Vault {
        mount: mount.to_string(),
        path: path.to_string(),
    })
}

/// The secrets fetched during one config load.
pub(crate) struct Session {
    /// Each secret's whole value (a Vault secret's `data` as JSON), or why it could not be
    /// had. Failures are kept too: one load asks each manager once.
    fetched: RefCell<HashMap<Location, Result<Secret, String>>>,
    /// Started on the first reference to a manager; stopped when the session is dropped.
    worker: RefCell<Option<worker::Worker>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are secrets.
        let fetched: Vec<String> = self
            .fetched
            .borrow()
            .keys()
            .map(|l| format!("{l:?}"))
            .collect();
        f.debug_struct("Session")
            .field("fetched", &fetched)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that has fetched nothing yet.
    pub(crate) fn new() -> Self {
        Session {
            fetched: RefCell::new(HashMap::new()),
            worker: RefCell::new(None),
        }
    }

    /// The value `reference` names, fetching its secret unless this session already has.
    pub(crate) fn resolve(&self, reference: &Reference) -> Result<String, String> {
        let whole = self.fetch(&reference.location)?;
        select(
            &reference.location,
            whole.expose(),
            reference.key.as_deref(),
        )
    }

    fn fetch(&self, location: &Location) -> Result<Secret, String> {
        if let Some(known) = self.fetched.borrow().get(location) {
            return known.clone();
        }
        let result = self.fetch_now(location);
        self.fetched
            .borrow_mut()
            .insert(location.clone(), result.clone());
        result
    }

    fn fetch_now(&self, location: &Location) -> Result<Secret, String> {
        let mut worker = self.worker.borrow_mut();
        if worker.is_none() {
            *worker = Some(worker::Worker::start()?);
        }
        match worker.as_ref() {
            Some(worker) => worker.fetch(location.clone()),
            None => Err("the secret fetching thread did not start".into()),
        }
    }
}

/// Picks `key` out of a secret's value, or the whole value without a key.
fn select(location: &Location, whole: &str, key: Option<&str>) -> Result<String, String> {
    let Some(key) = key else {
        return Ok(whole.to_string());
    };
    // Error messages name keys, never values, and never quote the parser's complaint (it
    // may point into the value).
    let object = match serde_json::from_str::<serde_json::Value>(whole) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => {
            return Err(format!(
                "the secret is not a JSON object, so it has no key `{key}` (hint: drop `#{key}` to use the whole value, or store the secret as JSON key/value pairs)"
            ))
        }
    };
    match object.get(key) {
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            Ok(value.to_string())
        }
        Some(_) => Err(format!(
            "key `{key}` holds a JSON object, array or null, not text (hint: point at a key whose value is a string)"
        )),
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
            Err(format!("the secret has no key `{key}`; {shown} (hint: {hint})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(scheme: &str, body: &str) -> Result<Reference, String> {
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
        assert!(
            err.contains("`pasword`") && err.contains("password, port, user"),
            "{err}"
        );
        assert!(!err.contains("hunter2") && !err.contains("u1"), "{err}");
        let err = select(&aws, "hunter2-not-json", Some("password")).unwrap_err();
        assert!(
            err.contains("not a JSON object") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
