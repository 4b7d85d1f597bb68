//! Merging TOML tables key by key, shared by connector files and presets.

/// `over` wins, key by key; tables merge recursively.
pub fn merge_tables(mut base: toml::Table, over: toml::Table) -> toml::Table {
    for (key, value) in over {
        let merged = match (base.remove(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                toml::Value::Table(merge_tables(b, o))
            }
            (_, value) => value,
        };
        base.insert(key, merged);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_wins_and_tables_merge_recursively() {
        let base: toml::Table = "a = 1\n[t]\nx = 1\ny = 2".parse().unwrap();
        let over: toml::Table = "a = 2\n[t]\ny = 3".parse().unwrap();
        let merged = merge_tables(base, over);
        assert_eq!(merged["a"].as_integer(), Some(2));
        assert_eq!(merged["t"]["x"].as_integer(), Some(1));
        assert_eq!(merged["t"]["y"].as_integer(), Some(3));
    }
}
