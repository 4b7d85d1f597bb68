//! The mappings embedded in the binary, from `presets/ocsf/*.toml`.

use std::sync::{Arc, OnceLock};

use super::spec::MappingFile;
use super::Mapping;

/// Every mapping file, by preset name. A preset without one fails the OCSF test.
const FILES: &[(&str, &str)] = &[
    ("asana", include_str!("../../../presets/ocsf/asana.toml")),
    (
        "atlassian",
        include_str!("../../../presets/ocsf/atlassian.toml"),
    ),
    ("auth0", include_str!("../../../presets/ocsf/auth0.toml")),
    ("box", include_str!("../../../presets/ocsf/box.toml")),
    (
        "cloudflare",
        include_str!("../../../presets/ocsf/cloudflare.toml"),
    ),
    (
        "dropbox",
        include_str!("../../../presets/ocsf/dropbox.toml"),
    ),
    ("duo", include_str!("../../../presets/ocsf/duo.toml")),
    ("entra", include_str!("../../../presets/ocsf/entra.toml")),
    ("github", include_str!("../../../presets/ocsf/github.toml")),
    (
        "github_enterprise",
        include_str!("../../../presets/ocsf/github_enterprise.toml"),
    ),
    (
        "google_workspace",
        include_str!("../../../presets/ocsf/google_workspace.toml"),
    ),
    ("jira", include_str!("../../../presets/ocsf/jira.toml")),
    ("kandji", include_str!("../../../presets/ocsf/kandji.toml")),
    (
        "launchdarkly",
        include_str!("../../../presets/ocsf/launchdarkly.toml"),
    ),
    ("okta", include_str!("../../../presets/ocsf/okta.toml")),
    (
        "onepassword",
        include_str!("../../../presets/ocsf/onepassword.toml"),
    ),
    (
        "pagerduty",
        include_str!("../../../presets/ocsf/pagerduty.toml"),
    ),
    (
        "sentinelone",
        include_str!("../../../presets/ocsf/sentinelone.toml"),
    ),
    ("slack", include_str!("../../../presets/ocsf/slack.toml")),
    ("snyk", include_str!("../../../presets/ocsf/snyk.toml")),
    // Group-level audit logs: the same items as an organization's.
    (
        "snyk_group",
        include_str!("../../../presets/ocsf/snyk.toml"),
    ),
    ("stripe", include_str!("../../../presets/ocsf/stripe.toml")),
    (
        "tailscale",
        include_str!("../../../presets/ocsf/tailscale.toml"),
    ),
    ("tfc", include_str!("../../../presets/ocsf/tfc.toml")),
    ("tines", include_str!("../../../presets/ocsf/tines.toml")),
    (
        "salesforce",
        include_str!("../../../presets/ocsf/salesforce.toml"),
    ),
    (
        "salesforce_event_log",
        include_str!("../../../presets/ocsf/salesforce_event_log.toml"),
    ),
    (
        "lastpass",
        include_str!("../../../presets/ocsf/lastpass.toml"),
    ),
    (
        "vicarius",
        include_str!("../../../presets/ocsf/vicarius.toml"),
    ),
    (
        "workday",
        include_str!("../../../presets/ocsf/workday.toml"),
    ),
    (
        "zendesk",
        include_str!("../../../presets/ocsf/zendesk.toml"),
    ),
    ("zoom", include_str!("../../../presets/ocsf/zoom.toml")),
];

type Parsed = Vec<(&'static str, Result<Arc<MappingFile>, toml::de::Error>)>;

fn parsed() -> &'static Parsed {
    static PARSED: OnceLock<Parsed> = OnceLock::new();
    PARSED.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, text)| {
                let file = toml::from_str::<MappingFile>(text).map(Arc::new);
                (*name, file)
            })
            .collect()
    })
}

pub(super) fn get(name: &str) -> Option<Mapping> {
    parsed().iter().find_map(|(preset, file)| match file {
        Ok(file) if *preset == name => Some(Mapping {
            preset,
            file: file.clone(),
        }),
        _ => None,
    })
}

pub(super) fn names() -> Vec<&'static str> {
    let mut names: Vec<_> = FILES.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names
}

pub(super) fn broken() -> Vec<(&'static str, String)> {
    parsed()
        .iter()
        .filter_map(|(name, file)| file.as_ref().err().map(|e| (*name, e.to_string())))
        .collect()
}
