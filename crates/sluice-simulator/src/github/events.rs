//! Deterministic GitHub audit-log events: every field is a pure function of `(seed, index)`.
//!
//! The shape follows GitHub's documented audit-log entries: `@timestamp` and `created_at` in
//! epoch milliseconds, a unique `_document_id`, a dotted `action` (`repo.create`,
//! `org.add_member`, `git.clone`, ...), the acting user (`actor`, `actor_id`,
//! `actor_location`), the organization (`org`, `org_id`), and, depending on the action, the
//! repository, the affected user, the token used, or the Git transport.

use base64::Engine as _;
use serde::Serialize;

use crate::rng::{domain, hash3, unique_uuid, SplitMix64, HEX};
use crate::timeline::Timeline;
use crate::SimulatorConfig;

/// The one organization the profile serves.
pub(crate) const ORG: &str = "acme";
/// Its numeric id.
const ORG_ID: u64 = 1_337_000;

/// What one kind of action carries besides the common fields.
struct ActionKind {
    action: &'static str,
    operation_type: &'static str,
    /// Names a repository.
    repo: bool,
    /// Names an affected user.
    user: bool,
    /// A Git event (served only with `include=git` or `all`).
    git: bool,
    /// Relative frequency.
    weight: u32,
}

const ACTIONS: &[ActionKind] = &[
    kind("git.clone", "access", true, false, true, 30),
    kind("git.fetch", "access", true, false, true, 20),
    kind("git.push", "modify", true, false, true, 10),
    kind("repo.access", "access", true, false, false, 8),
    kind("repo.create", "create", true, false, false, 3),
    kind("repo.destroy", "remove", true, false, false, 1),
    kind("repo.download_zip", "access", true, false, false, 4),
    kind("protected_branch.update", "modify", true, false, false, 2),
    kind("org.add_member", "create", false, true, false, 2),
    kind("org.remove_member", "remove", false, true, false, 1),
    kind("org.update_member", "modify", false, true, false, 1),
    kind("team.add_member", "create", false, true, false, 3),
    kind(
        "personal_access_token.request_created",
        "create",
        false,
        false,
        false,
        2,
    ),
    kind(
        "oauth_authorization.create",
        "create",
        false,
        false,
        false,
        2,
    ),
    kind(
        "workflows.completed_workflow_run",
        "modify",
        true,
        false,
        false,
        10,
    ),
];

const fn kind(
    action: &'static str,
    operation_type: &'static str,
    repo: bool,
    user: bool,
    git: bool,
    weight: u32,
) -> ActionKind {
    ActionKind {
        action,
        operation_type,
        repo,
        user,
        git,
        weight,
    }
}

const USERS: &[&str] = &[
    "octo-admin",
    "mona",
    "hubot",
    "jdoe",
    "asmith",
    "lchen",
    "rpatel",
    "kmuller",
    "dependabot[bot]",
    "ci-deployer",
];

const REPOS: &[&str] = &[
    "api",
    "web",
    "infra",
    "payments",
    "docs",
    "mobile",
    "terraform",
    "sdk",
];

const COUNTRIES: &[&str] = &["US", "DE", "GB", "IN", "BR", "JP", "FR", "CA"];

const USER_AGENTS: &[&str] = &[
    "git/2.43.0",
    "git/2.39.3 (Apple Git-146)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "GitHub-Actions/runner",
    "Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-github/6.0.0",
];

#[derive(Serialize)]
struct AuditEvent {
    #[serde(rename = "@timestamp")]
    timestamp: i64,
    #[serde(rename = "_document_id")]
    document_id: String,
    action: &'static str,
    actor: &'static str,
    actor_id: u64,
    actor_is_bot: bool,
    actor_location: Location,
    created_at: i64,
    operation_type: &'static str,
    org: &'static str,
    org_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository_public: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport_protocol_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    programmatic_access_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hashed_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_scopes: Option<&'static str>,
    request_id: String,
    user_agent: &'static str,
}

#[derive(Serialize)]
struct Location {
    country_code: &'static str,
}

/// The action of event `index`: chosen from its own hash, so [`is_git`] needs nothing else.
fn action_of(seed: u64, index: u64) -> &'static ActionKind {
    SplitMix64::new(hash3(seed, domain::EVENT, index)).pick_weighted(ACTIONS, |a| a.weight)
}

/// Whether event `index` is a Git event (`git.*`).
pub(crate) fn is_git(seed: u64, index: u64) -> bool {
    action_of(seed, index).git
}

fn user_id(name_index: usize) -> u64 {
    583_231 + name_index as u64 * 7_919
}

fn build_event(seed: u64, timeline: &Timeline, index: u64) -> AuditEvent {
    let kind = action_of(seed, index);
    let mut rng = SplitMix64::new(hash3(seed, domain::USER, index));
    let actor_index = rng.below(USERS.len() as u64) as usize;
    let actor = USERS[actor_index];
    let repo_index = rng.below(REPOS.len() as u64) as usize;
    let target_index = rng.below(USERS.len() as u64) as usize;
    let token = rng.percent(40);
    let ms = timeline.published_ms(index);
    AuditEvent {
        timestamp: ms,
        document_id: document_id(seed, index),
        action: kind.action,
        actor,
        actor_id: user_id(actor_index),
        actor_is_bot: actor.ends_with("[bot]"),
        actor_location: Location {
            country_code: COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize],
        },
        created_at: ms,
        operation_type: kind.operation_type,
        org: ORG,
        org_id: ORG_ID,
        repo: kind.repo.then(|| format!("{ORG}/{}", REPOS[repo_index])),
        repo_id: kind.repo.then(|| 70_000_000 + repo_index as u64),
        repository_public: kind.git.then_some(repo_index == 4),
        user: kind.user.then_some(USERS[target_index]),
        user_id: kind.user.then(|| user_id(target_index)),
        transport_protocol_name: kind
            .git
            .then(|| if rng.percent(70) { "ssh" } else { "http" }),
        programmatic_access_type: token.then_some("Fine-grained personal access token"),
        hashed_token: token.then(|| {
            base64::engine::general_purpose::STANDARD.encode(rng.string(HEX, 32).as_bytes())
        }),
        token_scopes: token.then_some("contents:read,metadata:read"),
        request_id: format!(
            "{}:{}:{}:{}:{}",
            rng.string(HEX, 4).to_uppercase(),
            rng.string(HEX, 4).to_uppercase(),
            rng.string(HEX, 6).to_uppercase(),
            rng.string(HEX, 7).to_uppercase(),
            rng.string(HEX, 8).to_uppercase()
        ),
        user_agent: USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize],
    }
}

/// The `_document_id` of event `index`: 22 base64url characters of a unique UUID, like
/// GitHub's ids, unique by construction.
fn document_id(seed: u64, index: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(unique_uuid(seed, index).as_bytes())
}

/// Event `index` as a JSON value (see [`crate::event`]).
pub(crate) fn event(config: &SimulatorConfig, index: u64) -> serde_json::Value {
    let timeline = crate::timeline_of(config);
    // AuditEvent holds only strings, numbers, bools and nested structs: it always
    // serializes.
    serde_json::to_value(build_event(config.seed, &timeline, index))
        .expect("AuditEvent always serializes")
}

/// The `_document_id` of event `index`, without building the rest of the event.
pub(crate) fn event_id(config: &SimulatorConfig, index: u64) -> String {
    document_id(config.seed, index)
}

/// The events at `indices`, in that order, as one JSON array.
pub(super) fn render_page(
    seed: u64,
    timeline: &Timeline,
    indices: impl Iterator<Item = u64>,
) -> Vec<u8> {
    let mut body = b"[".to_vec();
    for (n, index) in indices.enumerate() {
        if n > 0 {
            body.push(b',');
        }
        // Writing into a Vec cannot fail and AuditEvent always serializes.
        serde_json::to_writer(&mut body, &build_event(seed, timeline, index))
            .expect("AuditEvent always serializes into a Vec");
    }
    body.push(b']');
    body
}
