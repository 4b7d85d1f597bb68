//! The presets embedded in the binary, from `presets/*.toml`.

use std::sync::OnceLock;

use super::Preset;

/// Every preset file, by name. Adding a vendor is adding its file here (and its docs page,
/// simulator profile and test; see docs/contributing.md).
const FILES: &[(&str, &str)] = &[
    ("asana", include_str!("../../presets/asana.toml")),
    ("atlassian", include_str!("../../presets/atlassian.toml")),
    ("auth0", include_str!("../../presets/auth0.toml")),
    ("box", include_str!("../../presets/box.toml")),
    ("cloudflare", include_str!("../../presets/cloudflare.toml")),
    ("dropbox", include_str!("../../presets/dropbox.toml")),
    ("duo", include_str!("../../presets/duo.toml")),
    ("entra", include_str!("../../presets/entra.toml")),
    ("github", include_str!("../../presets/github.toml")),
    (
        "github_enterprise",
        include_str!("../../presets/github_enterprise.toml"),
    ),
    (
        "google_workspace",
        include_str!("../../presets/google_workspace.toml"),
    ),
    ("jira", include_str!("../../presets/jira.toml")),
    ("kandji", include_str!("../../presets/kandji.toml")),
    (
        "launchdarkly",
        include_str!("../../presets/launchdarkly.toml"),
    ),
    ("okta", include_str!("../../presets/okta.toml")),
    (
        "onepassword",
        include_str!("../../presets/onepassword.toml"),
    ),
    ("pagerduty", include_str!("../../presets/pagerduty.toml")),
    (
        "sentinelone",
        include_str!("../../presets/sentinelone.toml"),
    ),
    ("slack", include_str!("../../presets/slack.toml")),
    ("snyk", include_str!("../../presets/snyk.toml")),
    ("snyk_group", include_str!("../../presets/snyk_group.toml")),
    ("stripe", include_str!("../../presets/stripe.toml")),
    ("tailscale", include_str!("../../presets/tailscale.toml")),
    ("tfc", include_str!("../../presets/tfc.toml")),
    ("tines", include_str!("../../presets/tines.toml")),
    ("salesforce", include_str!("../../presets/salesforce.toml")),
    (
        "salesforce_event_log",
        include_str!("../../presets/salesforce_event_log.toml"),
    ),
    ("lastpass", include_str!("../../presets/lastpass.toml")),
    ("vicarius", include_str!("../../presets/vicarius.toml")),
    ("zendesk", include_str!("../../presets/zendesk.toml")),
    ("workday", include_str!("../../presets/workday.toml")),
    ("zoom", include_str!("../../presets/zoom.toml")),
];

/// The parsed presets.
#[derive(Debug)]
pub struct Catalog {
    /// Presets that parsed, in name order.
    pub presets: Vec<Preset>,
    /// Files that did not parse (a build defect the catalog test catches), with the error.
    pub broken: Vec<(&'static str, String)>,
}

/// The catalog, parsed once per process.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut presets = Vec::new();
        let mut broken = Vec::new();
        for (name, text) in FILES {
            match toml::from_str::<Preset>(text) {
                Ok(mut preset) => {
                    preset.text = text;
                    presets.push(preset);
                }
                Err(err) => broken.push((*name, err.to_string())),
            }
        }
        presets.sort_by(|a, b| a.preset.name.cmp(&b.preset.name));
        Catalog { presets, broken }
    })
}

/// The built-in preset called `name`.
pub fn builtin(name: &str) -> Option<&'static Preset> {
    catalog().presets.iter().find(|p| p.preset.name == name)
}

/// Names of every built-in preset.
pub fn names() -> Vec<&'static str> {
    catalog()
        .presets
        .iter()
        .map(|p| p.preset.name.as_str())
        .collect()
}

/// Up to three names closest to `wanted` among `candidates`, closest first (for "did you
/// mean" hints); names sharing a prefix with it count as close.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| {
            let lower = c.to_ascii_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if !wanted.is_empty() && (lower.starts_with(&wanted) || wanted.starts_with(&lower)) {
                score += 0.2;
            }
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_preset_parses_and_is_named_after_its_file() {
        let catalog = catalog();
        assert!(
            catalog.broken.is_empty(),
            "broken presets: {:?}",
            catalog.broken
        );
        assert_eq!(catalog.presets.len(), FILES.len());
        for (name, _) in FILES {
            assert!(
                builtin(name).is_some(),
                "presets/{name}.toml must declare name = \"{name}\""
            );
        }
    }

    #[test]
    fn closest_names_catch_typos_and_prefixes() {
        let names = ["okta", "github", "google-workspace", "slack"];
        assert_eq!(closest("otka", names), vec!["okta"]);
        assert_eq!(closest("google", names).first(), Some(&"google-workspace"));
        assert!(closest("zzzzzz", names).is_empty());
    }
}
