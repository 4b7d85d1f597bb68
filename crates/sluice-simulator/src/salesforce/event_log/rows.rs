//! The rows of event log files: each a pure function of `(seed, index)` and the event's time.
//!
//! Five event types, each with a subset of the columns the Object Reference's "EventLogFile
//! Supported Event Types" lists for it, in a fixed order (the real files' column order is
//! given by `LogFileFieldNames`, which the simulator also serves). Every type carries the
//! common columns: `EVENT_TYPE`, `TIMESTAMP` (`yyyyMMddHHmmss.SSS`), `REQUEST_ID`,
//! `ORGANIZATION_ID`, `USER_ID` (15 characters), `TIMESTAMP_DERIVED` (ISO 8601, UTC,
//! milliseconds), `USER_ID_DERIVED` (18 characters) and `CLIENT_IP`.

use chrono::{DateTime, Utc};

use crate::rng::{domain, hash3, SplitMix64};

/// (EventType, weight, the columns after the common ones).
pub(super) const KINDS: &[(&str, u32, &[&str])] = &[
    (
        "Login",
        3,
        &[
            "USER_NAME",
            "LOGIN_STATUS",
            "SOURCE_IP",
            "BROWSER_TYPE",
            "API_TYPE",
            "API_VERSION",
            "TLS_PROTOCOL",
            "CIPHER_SUITE",
            "RUN_TIME",
            "CPU_TIME",
            "URI",
        ],
    ),
    (
        "Logout",
        2,
        &["USER_TYPE", "SESSION_KEY", "SESSION_LEVEL", "APP_TYPE"],
    ),
    (
        "API",
        6,
        &[
            "METHOD_NAME",
            "API_TYPE",
            "API_VERSION",
            "ENTITY_NAME",
            "ROWS_PROCESSED",
            "REQUEST_STATUS",
            "RUN_TIME",
            "CPU_TIME",
            "CLIENT_NAME",
            "URI",
        ],
    ),
    (
        "URI",
        6,
        &[
            "URI",
            "REFERRER_URI",
            "REQUEST_STATUS",
            "RUN_TIME",
            "CPU_TIME",
            "DB_TOTAL_TIME",
            "SESSION_KEY",
        ],
    ),
    (
        "Report",
        2,
        &[
            "REPORT_ID",
            "ROW_COUNT",
            "NUMBER_COLUMNS",
            "DISPLAY_TYPE",
            "RENDERING_TYPE",
            "ENTITY_NAME",
            "RUN_TIME",
            "CPU_TIME",
            "URI",
        ],
    ),
];

/// The columns every type starts with.
pub(super) const COMMON: &[&str] = &[
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
];

/// The org's id, 15 characters as the files write it.
const ORG_ID15: &str = "00D8c000000SiMu";

/// (15-character id, user name): the org's users.
const USERS: &[(&str, &str)] = &[
    ("0058c00000A1xQb", "ada@acme.example"),
    ("0058c00000A1xQc", "grace@acme.example"),
    ("0058c00000A1xQd", "alan@acme.example"),
    ("0058c00000B7kLm", "jdoe@acme.example"),
    ("0058c00000B7kLn", "integration@acme.example"),
];

/// The kind (index into [`KINDS`]) of event `index`.
pub(super) fn kind_of(seed: u64, index: u64) -> usize {
    let mut rng = SplitMix64::new(hash3(seed, domain::OBJECT, index));
    let total: u32 = KINDS.iter().map(|k| k.1).sum();
    let mut pick = rng.below(u64::from(total)) as u32;
    for (i, kind) in KINDS.iter().enumerate() {
        if pick < kind.1 {
            return i;
        }
        pick -= kind.1;
    }
    0
}

/// The column names of files of `kind`.
pub(super) fn columns(kind: usize) -> Vec<&'static str> {
    COMMON.iter().chain(KINDS[kind].2).copied().collect()
}

/// The values of event `index` (of `kind`, at `ms`), in [`columns`] order.
pub(super) fn values(seed: u64, index: u64, kind: usize, ms: i64) -> Vec<String> {
    let mut rng = SplitMix64::new(hash3(seed, domain::EVENT, index));
    let time = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let (user_id, user_name) = *rng.pick(USERS);
    let ip = format!("203.0.113.{}", 1 + rng.below(254));
    let request_id = format!("4{}", rng.string(crate::rng::ALNUM, 14));
    let session = rng.string(crate::rng::ALNUM, 16);
    let run_time = (5 + rng.below(900)).to_string();
    let cpu_time = (1 + rng.below(200)).to_string();
    let mut out = vec![
        KINDS[kind].0.to_string(),
        time.format("%Y%m%d%H%M%S%.3f").to_string(),
        request_id,
        ORG_ID15.to_string(),
        user_id.to_string(),
        time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        format!("{user_id}AAJ"),
        ip.clone(),
    ];
    let extra: Vec<String> = match KINDS[kind].0 {
        "Login" => {
            let failed = rng.percent(12);
            vec![
                user_name.to_string(),
                if failed {
                    "LOGIN_ERROR_INVALID_PASSWORD"
                } else {
                    "LOGIN_NO_ERROR"
                }
                .to_string(),
                ip,
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36".to_string(),
                String::new(),
                String::new(),
                "TLSv1.3".to_string(),
                "TLS_AES_256_GCM_SHA384".to_string(),
                run_time,
                cpu_time,
                "/index.jsp".to_string(),
            ]
        }
        "Logout" => vec![
            "Standard".to_string(),
            session,
            "1".to_string(),
            "1000".to_string(),
        ],
        "API" => {
            let (method, entity) = *rng.pick(&[
                ("query", "Account"),
                ("retrieve", "Contact"),
                ("update", "Opportunity"),
                ("create", "Case"),
                ("describeSObject", "Lead"),
            ]);
            vec![
                method.to_string(),
                "P".to_string(),
                "64.0".to_string(),
                entity.to_string(),
                rng.below(2000).to_string(),
                if rng.percent(4) { "F" } else { "S" }.to_string(),
                run_time,
                cpu_time,
                "DataLoader".to_string(),
                "/services/Soap/u/64.0".to_string(),
            ]
        }
        "URI" => {
            let page = *rng.pick(&["/001/o", "/006/o", "/home/home.jsp", "/00O8c00000AbCdE"]);
            vec![
                page.to_string(),
                "https://acme.my.salesforce.com/home/home.jsp".to_string(),
                if rng.percent(3) { "F" } else { "S" }.to_string(),
                run_time,
                cpu_time,
                (rng.below(50_000_000)).to_string(),
                session,
            ]
        }
        _ => vec![
            format!("00O8c00000{}", rng.string(crate::rng::ALNUM, 5)),
            rng.below(5000).to_string(),
            (3 + rng.below(20)).to_string(),
            "D".to_string(),
            if rng.percent(20) { "W" } else { "H" }.to_string(),
            "Opportunity".to_string(),
            run_time,
            cpu_time,
            "/00O8c00000AbCdE".to_string(),
        ],
    };
    out.extend(extra);
    out
}
