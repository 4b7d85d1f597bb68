//! Static vocabulary of the simulated Okta org: event types with their outcomes, places,
//! user agents, people and apps. Kept apart from the generator so the tables can grow
//! without touching any logic.

/// One possible outcome of an event type.
pub(super) struct OutcomeSpec {
    pub(super) result: &'static str,
    pub(super) reason: Option<&'static str>,
    pub(super) severity: &'static str,
    /// Replaces the event type's legacy type (Okta uses distinct ones for failures).
    pub(super) legacy: Option<&'static str>,
    pub(super) weight: u32,
}

pub(super) const fn outcome(
    result: &'static str,
    reason: Option<&'static str>,
    severity: &'static str,
    weight: u32,
) -> OutcomeSpec {
    OutcomeSpec {
        result,
        reason,
        severity,
        legacy: None,
        weight,
    }
}

pub(super) const SUCCESS: OutcomeSpec = outcome("SUCCESS", None, "INFO", 1);

/// Which objects an event type acts upon.
#[derive(Clone, Copy)]
pub(super) enum Targets {
    Password,
    App,
    AuthServer,
    Policy,
    Authenticator,
    Membership,
    SelfUser,
    OtherUser,
    Token,
}

pub(super) struct EventKind {
    pub(super) event_type: &'static str,
    pub(super) legacy: Option<&'static str>,
    pub(super) message: &'static str,
    pub(super) weight: u32,
    pub(super) request_uri: &'static str,
    pub(super) url: &'static str,
    pub(super) admin_only: bool,
    pub(super) targets: Targets,
    pub(super) outcomes: &'static [OutcomeSpec],
}

pub(super) const EVENT_KINDS: &[EventKind] = &[
    EventKind {
        event_type: "user.session.start",
        legacy: Some("core.user_auth.login_success"),
        message: "User login to Okta",
        weight: 20,
        request_uri: "/idp/idx/identify",
        url: "/idp/idx/identify?",
        admin_only: false,
        targets: Targets::Password,
        outcomes: &[
            outcome("SUCCESS", None, "INFO", 85),
            OutcomeSpec {
                legacy: Some("core.user_auth.login_failed"),
                ..outcome("FAILURE", Some("INVALID_CREDENTIALS"), "WARN", 12)
            },
            OutcomeSpec {
                legacy: Some("core.user_auth.login_failed"),
                ..outcome("FAILURE", Some("VERIFICATION_ERROR"), "WARN", 3)
            },
        ],
    },
    EventKind {
        event_type: "user.authentication.sso",
        legacy: Some("app.auth.sso"),
        message: "User single sign on to app",
        weight: 22,
        request_uri: "/app/salesforce/exk1a2b3c4d5e6f7g8h9/sso/saml",
        url: "/app/salesforce/exk1a2b3c4d5e6f7g8h9/sso/saml?SAMLRequest=",
        admin_only: false,
        targets: Targets::App,
        outcomes: &[
            outcome("SUCCESS", None, "INFO", 96),
            outcome("FAILURE", Some("Access denied by application policy"), "WARN", 4),
        ],
    },
    EventKind {
        event_type: "policy.evaluate_sign_on",
        legacy: None,
        message: "Evaluation of sign-on policy",
        weight: 18,
        request_uri: "/idp/idx/introspect",
        url: "/idp/idx/introspect?",
        admin_only: false,
        targets: Targets::Policy,
        outcomes: &[
            outcome("ALLOW", Some("Sign-on policy evaluation resulted in ALLOW"), "INFO", 80),
            outcome("CHALLENGE", Some("Sign-on policy evaluation resulted in CHALLENGE"), "INFO", 15),
            outcome("DENY", Some("Sign-on policy evaluation resulted in DENY"), "WARN", 5),
        ],
    },
    EventKind {
        event_type: "user.mfa.factor.verify",
        legacy: Some("core.user.factor.attempt_success"),
        message: "Verify user identity with MFA",
        weight: 12,
        request_uri: "/idp/idx/challenge/answer",
        url: "/idp/idx/challenge/answer?",
        admin_only: false,
        targets: Targets::Authenticator,
        outcomes: &[
            outcome("SUCCESS", None, "INFO", 90),
            OutcomeSpec {
                legacy: Some("core.user.factor.attempt_fail"),
                ..outcome("FAILURE", Some("INVALID_CREDENTIALS"), "WARN", 8)
            },
            OutcomeSpec {
                legacy: Some("core.user.factor.attempt_fail"),
                ..outcome("FAILURE", Some("Push rejected by user"), "WARN", 2)
            },
        ],
    },
    EventKind {
        event_type: "app.oauth2.as.authorize",
        legacy: None,
        message: "OAuth2 authorization request",
        weight: 10,
        request_uri: "/oauth2/default/v1/authorize",
        url: "/oauth2/default/v1/authorize?client_id=0oa1b2c3d4e5f6g7h8i9&response_type=code&scope=openid+profile",
        admin_only: false,
        targets: Targets::AuthServer,
        outcomes: &[
            outcome("SUCCESS", None, "INFO", 97),
            outcome("FAILURE", Some("invalid_scope"), "WARN", 2),
            outcome("FAILURE", Some("server_error"), "ERROR", 1),
        ],
    },
    EventKind {
        event_type: "app.oauth2.as.token.grant.access_token",
        legacy: None,
        message: "OAuth2 access token is granted",
        weight: 8,
        request_uri: "/oauth2/default/v1/token",
        url: "/oauth2/default/v1/token?",
        admin_only: false,
        targets: Targets::AuthServer,
        outcomes: &[SUCCESS],
    },
    EventKind {
        event_type: "user.session.end",
        legacy: Some("core.user_auth.logout_success"),
        message: "User logout from Okta",
        weight: 5,
        request_uri: "/login/signout",
        url: "/login/signout?",
        admin_only: false,
        targets: Targets::SelfUser,
        outcomes: &[SUCCESS],
    },
    EventKind {
        event_type: "user.account.lock",
        legacy: Some("core.user_auth.account_locked"),
        message: "Max sign in attempts exceeded",
        weight: 1,
        request_uri: "/idp/idx/challenge/answer",
        url: "/idp/idx/challenge/answer?",
        admin_only: false,
        targets: Targets::SelfUser,
        outcomes: &[outcome("FAILURE", Some("LOCKED_OUT"), "WARN", 1)],
    },
    EventKind {
        event_type: "user.account.update_password",
        legacy: Some("core.user.config.password_update.success"),
        message: "User update password for Okta",
        weight: 1,
        request_uri: "/idp/idx/challenge/answer",
        url: "/idp/idx/challenge/answer?",
        admin_only: false,
        targets: Targets::SelfUser,
        outcomes: &[
            outcome("SUCCESS", None, "INFO", 95),
            OutcomeSpec {
                legacy: Some("core.user.config.password_update.failure"),
                ..outcome("FAILURE", Some("Password requirements were not met"), "WARN", 5)
            },
        ],
    },
    EventKind {
        event_type: "group.user_membership.add",
        legacy: Some("core.user_group_member.user_add"),
        message: "Add user to group membership",
        weight: 2,
        request_uri: "/api/v1/groups/00g1a2b3c4d5e6f7g8h9/users/00u1a2b3c4d5e6f7g8h9",
        url: "/api/v1/groups/00g1a2b3c4d5e6f7g8h9/users/00u1a2b3c4d5e6f7g8h9?",
        admin_only: true,
        targets: Targets::Membership,
        outcomes: &[SUCCESS],
    },
    EventKind {
        event_type: "user.lifecycle.deactivate",
        legacy: Some("core.user.config.user_deactivated"),
        message: "Deactivate Okta user",
        weight: 1,
        request_uri: "/api/v1/users/00u1a2b3c4d5e6f7g8h9/lifecycle/deactivate",
        url: "/api/v1/users/00u1a2b3c4d5e6f7g8h9/lifecycle/deactivate?",
        admin_only: true,
        targets: Targets::OtherUser,
        outcomes: &[outcome("SUCCESS", None, "WARN", 1)],
    },
    EventKind {
        event_type: "system.api_token.create",
        legacy: Some("api.token.create"),
        message: "Create API token",
        weight: 1,
        request_uri: "/api/internal/tokens",
        url: "/api/internal/tokens?",
        admin_only: true,
        targets: Targets::Token,
        outcomes: &[SUCCESS],
    },
];

pub(super) struct City {
    pub(super) city: &'static str,
    pub(super) state: &'static str,
    pub(super) country: &'static str,
    pub(super) postal_code: &'static str,
    pub(super) lat: f64,
    pub(super) lon: f64,
    pub(super) as_number: u32,
    pub(super) as_org: &'static str,
    pub(super) isp: &'static str,
    pub(super) domain: &'static str,
    pub(super) ip_prefix: [u8; 2],
}

pub(super) const fn city(
    (city, state, country, postal_code): (&'static str, &'static str, &'static str, &'static str),
    (lat, lon): (f64, f64),
    (as_number, as_org, isp, domain): (u32, &'static str, &'static str, &'static str),
    ip_prefix: [u8; 2],
) -> City {
    City {
        city,
        state,
        country,
        postal_code,
        lat,
        lon,
        as_number,
        as_org,
        isp,
        domain,
        ip_prefix,
    }
}

#[rustfmt::skip]
pub(super) const CITIES: &[City] = &[
    city(("San Francisco", "California", "United States", "94107"), (37.7697, -122.3933), (7922, "comcast", "Comcast Cable Communications, LLC", "comcast.net"), [73, 70]),
    city(("New York", "New York", "United States", "10013"), (40.7201, -74.005), (701, "verizon business", "Verizon Business", "verizon.net"), [108, 41]),
    city(("Austin", "Texas", "United States", "78701"), (30.2711, -97.7437), (11427, "charter communications inc", "Charter Communications", "rr.com"), [70, 112]),
    city(("Seattle", "Washington", "United States", "98101"), (47.6114, -122.3305), (20115, "charter communications", "Charter Communications", "charter.com"), [97, 113]),
    city(("Chicago", "Illinois", "United States", "60601"), (41.8858, -87.6181), (7018, "at&t services inc.", "AT&T Services, Inc.", "att.net"), [99, 23]),
    city(("Toronto", "Ontario", "Canada", "M5H 2N2"), (43.6511, -79.3832), (812, "rogers communications canada inc.", "Rogers Communications", "rogers.com"), [99, 224]),
    city(("London", "England", "United Kingdom", "EC2V 7HH"), (51.5164, -0.093), (2856, "british telecommunications plc", "BT", "bt.com"), [81, 2]),
    city(("Dublin", "Leinster", "Ireland", "D02 X285"), (53.3382, -6.2591), (5466, "eircom limited", "Eir", "eir.ie"), [86, 40]),
    city(("Berlin", "Land Berlin", "Germany", "10117"), (52.517, 13.3889), (3320, "deutsche telekom ag", "Deutsche Telekom AG", "telekom.de"), [91, 64]),
    city(("Paris", "Île-de-France", "France", "75002"), (48.8687, 2.3431), (3215, "orange s.a.", "Orange S.A.", "orange.fr"), [90, 84]),
    city(("Bengaluru", "Karnataka", "India", "560001"), (12.9719, 77.5937), (24560, "bharti airtel ltd.", "Bharti Airtel", "airtel.in"), [122, 171]),
    city(("Singapore", "Central Singapore", "Singapore", "048583"), (1.2868, 103.8545), (9506, "singtel fibre broadband", "Singtel Fibre Broadband", "singnet.com.sg"), [116, 86]),
    city(("Sydney", "New South Wales", "Australia", "2000"), (-33.8688, 151.2093), (1221, "telstra corporation", "Telstra", "bigpond.net.au"), [101, 186]),
    city(("São Paulo", "Sao Paulo", "Brazil", "01310-100"), (-23.5614, -46.6559), (28573, "claro nxt telecomunicacoes ltda", "Claro NXT", "claro.net.br"), [177, 95]),
];

/// Where automation (API tokens, SDK clients) runs from: a cloud region.
#[rustfmt::skip]
pub(super) const DATACENTER: City = city(("Ashburn", "Virginia", "United States", "20149"), (39.0469, -77.4903), (14618, "amazon.com inc.", "Amazon.com, Inc.", "amazonaws.com"), [3, 92]);

/// (raw user agent, os, browser, device)
#[rustfmt::skip]
pub(super) const USER_AGENTS: &[(&str, &str, &str, &str)] = &[
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Mac OS X", "CHROME", "Computer"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Windows 10", "EDGE_CHROMIUM", "Computer"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Mac OS X", "SAFARI", "Computer"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "Linux", "FIREFOX", "Computer"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "iOS", "MOBILE_SAFARI", "Mobile"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36", "Android", "CHROME", "Mobile"),
    ("OktaVerify/9.21.0 (iOS 17.5; iPhone15,2)", "iOS", "UNKNOWN", "Mobile"),
];

pub(super) const AUTOMATION_AGENT: (&str, &str, &str, &str) = (
    "okta-sdk-python/2.9.5 python/3.11.9 Linux/6.5.0-1022-aws",
    "Linux",
    "UNKNOWN",
    "Unknown",
);

pub(super) const FIRST_NAMES: &[&str] = &[
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Mateo", "Sofia", "Lucas", "Mia", "Ethan", "Amara",
    "Kenji", "Priya", "Diego", "Chloe", "Omar", "Hannah", "Ivan", "Leila", "Yuki", "Grace",
    "Samuel", "Zara", "Arjun", "Elena", "Tomas", "Nia", "Felix", "Ines", "Jonah", "Maya", "Ravi",
    "Clara", "Hugo", "Aisha", "Leo", "Freya", "Kofi", "Lina", "Marco",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Smith", "Garcia", "Chen", "Patel", "Nguyen", "Kim", "Johnson", "Williams", "Brown", "Jones",
    "Lopez", "Martin", "Rossi", "Tanaka", "Silva", "Kowalski", "Novak", "Okafor", "Haddad",
    "Larsen", "Dubois", "Schmidt", "Ivanova", "Sato", "Reyes", "Cohen", "Murphy", "Walsh",
    "Fischer", "Moreau", "Costa", "Singh", "Ali", "Yilmaz", "Andersen", "Park", "Mendes", "Bauer",
    "Hughes", "Fraser",
];

/// (display name, app name, sign-on mode)
pub(super) const APPS: &[(&str, &str, &str)] = &[
    ("Salesforce.com", "salesforce", "SAML_2_0"),
    ("Slack", "slack", "SAML_2_0"),
    (
        "GitHub Enterprise Cloud - Organization",
        "githubcloud",
        "SAML_2_0",
    ),
    ("AWS IAM Identity Center", "amazon_aws_sso", "SAML_2_0"),
    ("Google Workspace", "google", "SAML_2_0"),
    ("Zoom", "zoomus", "SAML_2_0"),
    ("Workday", "workday", "SAML_2_0"),
    ("Jira Software Cloud", "atlassian", "OPENID_CONNECT"),
    ("Internal Portal", "oidc_client", "OPENID_CONNECT"),
];

pub(super) const GROUPS: &[&str] = &[
    "Engineering",
    "Finance",
    "Sales",
    "Security",
    "Contractors",
    "Support",
    "AWS Admins",
];

/// (policy, rule)
pub(super) const POLICIES: &[(&str, &str)] = &[
    ("Default Policy", "Default Rule"),
    ("Okta Admin Console", "Require phishing-resistant MFA"),
    ("Contractor Access", "Block outside approved countries"),
    ("Any two factors", "Catch-all Rule"),
];

/// (authenticator, method type)
pub(super) const AUTHENTICATORS: &[(&str, &str)] = &[
    ("Okta Verify", "push"),
    ("Okta Verify", "signed_nonce"),
    ("Google Authenticator", "otp"),
    ("Security Key or Biometric", "webauthn"),
    ("Phone", "sms"),
];

pub(super) const BEHAVIORS: &str =
    "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE}";
