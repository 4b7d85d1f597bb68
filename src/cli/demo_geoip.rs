//! `sluice demo --ocsf --geoip PATH`: a `geoip` step after the demo's `ocsf` step, locating
//! each OCSF event's `src_endpoint.ip` in a MaxMind database the user has (MaxMind's data
//! cannot ship with Sluice), and the count of events it located.

use std::path::{Path, PathBuf};

/// The database as the config names it: absolute (the config lives in the demo's
/// directory, not where the command was typed), and checked to be a file now rather than
/// when the config loads.
pub(super) fn database(path: &Path) -> Result<PathBuf, String> {
    let absolute = std::fs::canonicalize(path).map_err(|e| {
        format!(
            "--geoip {}: {e} (hint: give the path of a MaxMind GeoIP2 or GeoLite2 City or Country database, a .mmdb file)",
            path.display()
        )
    })?;
    if !absolute.is_file() {
        return Err(format!(
            "--geoip {}: not a file (hint: give the path of a MaxMind GeoIP2 or GeoLite2 City or Country database, a .mmdb file)",
            path.display()
        ));
    }
    Ok(absolute)
}

/// The `[[sources.transforms]]` table of the step, to follow the `ocsf` step.
pub(super) fn step(database: &Path) -> String {
    // A TOML string, quoted and escaped whatever the path holds.
    let city = toml::Value::String(database.display().to_string());
    format!(
        r#"
# Then each OCSF event's source address located in the MaxMind database given to --geoip:
# src_endpoint.location (country as ISO code, city, continent, coordinates).
[[sources.transforms]]
kind = "geoip"
fields = ["src_endpoint.ip"]
city = {city}
"#
    )
}

/// Whether the geoip step located this OCSF event: the mappings never set `continent`,
/// the step does for every address its database knows.
pub(super) fn located(ocsf: &serde_json::Value) -> bool {
    ocsf.pointer("/src_endpoint/location/continent").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_database_is_named_with_what_to_give() {
        let err = database(Path::new("/nonexistent/GeoLite2-City.mmdb")).unwrap_err();
        assert!(
            err.contains("--geoip /nonexistent/GeoLite2-City.mmdb") && err.contains(".mmdb file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = database(dir.path()).unwrap_err();
        assert!(err.contains("not a file"), "{err}");
    }

    #[test]
    fn located_means_the_database_added_a_continent() {
        assert!(located(
            &serde_json::json!({"src_endpoint": {"location": {"continent": "Europe"}}})
        ));
        assert!(!located(
            &serde_json::json!({"src_endpoint": {"location": {"country": "United States"}}})
        ));
    }
}
