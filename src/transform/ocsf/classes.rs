//! OCSF 1.7.0 class names by uid, for what reads the mapped events without the schema (the
//! lake's `{class}` partitions and its `class_name` column).

/// `(class_uid, name)` as the schema names each class the presets map to, and their
/// neighbours in the same categories.
const CLASSES: &[(i64, &str)] = &[
    (0, "base_event"),
    (1001, "file_activity"),
    (1007, "process_activity"),
    (2001, "security_finding"),
    (2004, "detection_finding"),
    (3001, "account_change"),
    (3002, "authentication"),
    (3003, "authorize_session"),
    (3004, "entity_management"),
    (3005, "user_access"),
    (3006, "group_management"),
    (4001, "network_activity"),
    (4002, "http_activity"),
    (4003, "dns_activity"),
    (5001, "inventory_info"),
    (6001, "web_resources_activity"),
    (6002, "application_lifecycle"),
    (6003, "api_activity"),
    (6005, "datastore_activity"),
    (6006, "file_hosting"),
];

/// The schema's name of class `uid` (`3002` → `authentication`), or `class_<uid>` for a class
/// this table does not list.
pub fn class_name(uid: i64) -> std::borrow::Cow<'static, str> {
    match CLASSES.binary_search_by_key(&uid, |(u, _)| *u) {
        Ok(at) => std::borrow::Cow::Borrowed(CLASSES[at].1),
        Err(_) => std::borrow::Cow::Owned(format!("class_{uid}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_sorted_and_named() {
        assert!(CLASSES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(class_name(3002), "authentication");
        assert_eq!(class_name(6003), "api_activity");
        assert_eq!(class_name(9999), "class_9999");
    }

    /// Every name agrees with the compiled schema, when it is at hand (`tests/it/ocsf.rs` says
    /// when it is not).
    #[test]
    fn names_are_the_schemas() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/ocsf/ocsf-1.7.0-schema.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let classes = schema["classes"].as_object().unwrap();
        for (uid, name) in CLASSES {
            let found = classes
                .values()
                .find(|c| c["uid"].as_i64() == Some(*uid))
                .unwrap_or_else(|| panic!("class {uid} is not in the schema"));
            assert_eq!(found["name"], *name, "class {uid}");
        }
    }
}
