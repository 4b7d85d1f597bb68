//! The typed OCSF columns of Parquet lakes: the common attributes of every OCSF class, copied
//! out of each event's OCSF form so query engines filter on them without parsing JSON. The
//! writer (`parquet.rs`) and `sluice lake ddl` (`ddl.rs`) read this one list.

use serde_json::Value;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// OCSF `timestamp_t` (epoch milliseconds): Parquet `TIMESTAMP(MILLIS, UTC)`.
    TimeMillis,
    /// An OCSF integer (`class_uid`, `*_id`): Parquet `INT64`.
    Integer,
    /// Text: Parquet `STRING`.
    Text,
}

/// One typed column: its name and the OCSF attribute it holds.
#[derive(Debug, Clone, Copy)]
pub struct OcsfColumn {
    /// The column's name: the attribute's path with `_` for `.`.
    pub name: &'static str,
    /// The attribute's path in the OCSF event; empty for `class_name`, which is derived
    /// from `class_uid`.
    pub path: &'static [&'static str],
    /// Its type.
    pub ty: ColumnType,
}

const fn column(name: &'static str, path: &'static [&'static str], ty: ColumnType) -> OcsfColumn {
    OcsfColumn { name, path, ty }
}

/// Every typed column, in file order (after the envelope's columns and `ocsf`).
pub const COLUMNS: &[OcsfColumn] = &[
    column("time", &["time"], ColumnType::TimeMillis),
    column("class_uid", &["class_uid"], ColumnType::Integer),
    column("class_name", &[], ColumnType::Text),
    column("category_uid", &["category_uid"], ColumnType::Integer),
    column("activity_id", &["activity_id"], ColumnType::Integer),
    column("type_uid", &["type_uid"], ColumnType::Integer),
    column("status_id", &["status_id"], ColumnType::Integer),
    column("severity_id", &["severity_id"], ColumnType::Integer),
    column("metadata_uid", &["metadata", "uid"], ColumnType::Text),
    column(
        "metadata_product_name",
        &["metadata", "product", "name"],
        ColumnType::Text,
    ),
    column(
        "actor_user_uid",
        &["actor", "user", "uid"],
        ColumnType::Text,
    ),
    column(
        "actor_user_name",
        &["actor", "user", "name"],
        ColumnType::Text,
    ),
    column(
        "actor_user_email_addr",
        &["actor", "user", "email_addr"],
        ColumnType::Text,
    ),
    column("src_endpoint_ip", &["src_endpoint", "ip"], ColumnType::Text),
    column(
        "src_endpoint_location_country",
        &["src_endpoint", "location", "country"],
        ColumnType::Text,
    ),
    column("dst_endpoint_ip", &["dst_endpoint", "ip"], ColumnType::Text),
];

/// One column's value in one event: absent (null), a number, or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// The attribute is absent, null or of another type.
    Null,
    /// An integer (or a time in milliseconds).
    Integer(i64),
    /// Text.
    Text(String),
}

impl OcsfColumn {
    /// This column's value in `ocsf` (the event's OCSF form as a tree).
    pub fn cell(&self, ocsf: &Value) -> Cell {
        if self.name == "class_name" {
            return match ocsf.get("class_uid").and_then(Value::as_i64) {
                Some(uid) => Cell::Text(crate::transform::ocsf::class_name(uid).into_owned()),
                None => Cell::Null,
            };
        }
        let mut value = ocsf;
        for key in self.path {
            match value.get(key) {
                Some(inner) => value = inner,
                None => return Cell::Null,
            }
        }
        match (self.ty, value) {
            (ColumnType::Integer | ColumnType::TimeMillis, Value::Number(n)) => {
                // A float time (a mapping that kept fractions) is cut to the millisecond.
                n.as_i64()
                    .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                    .map_or(Cell::Null, Cell::Integer)
            }
            (ColumnType::Text, Value::String(s)) => Cell::Text(s.clone()),
            // A number where text is expected (an id written as a number) keeps its JSON.
            (ColumnType::Text, Value::Number(n)) => Cell::Text(n.to_string()),
            _ => Cell::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_come_from_their_paths_and_wrong_types_are_null() {
        let ocsf = serde_json::json!({
            "time": 1_700_000_000_123_i64, "class_uid": 3002, "activity_id": "1",
            "actor": {"user": {"email_addr": "a@example.com", "uid": 42}},
            "src_endpoint": {"location": {"country": "NL"}}
        });
        let cell = |name: &str| COLUMNS.iter().find(|c| c.name == name).unwrap().cell(&ocsf);
        assert_eq!(cell("time"), Cell::Integer(1_700_000_000_123));
        assert_eq!(cell("class_uid"), Cell::Integer(3002));
        assert_eq!(cell("class_name"), Cell::Text("authentication".into()));
        assert_eq!(cell("activity_id"), Cell::Null, "text where a number goes");
        assert_eq!(
            cell("actor_user_email_addr"),
            Cell::Text("a@example.com".into())
        );
        assert_eq!(cell("actor_user_uid"), Cell::Text("42".into()));
        assert_eq!(
            cell("src_endpoint_location_country"),
            Cell::Text("NL".into())
        );
        assert_eq!(cell("src_endpoint_ip"), Cell::Null);
        let names: std::collections::BTreeSet<_> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), COLUMNS.len(), "names are unique");
    }
}
