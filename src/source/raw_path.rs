//! Following [`JsonPath`]s through JSON text without building a tree: one pass over the text
//! finds several paths at once (a record's event time and id), skipping what no path enters
//! and borrowing what is found.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::path::{JsonPath, Segment};

/// The raw value at each of `paths` in `json` (`None` where a path leads nowhere). As in a
/// parsed tree, when an object repeats a key the last occurrence counts. `json` is valid
/// JSON; text that is not finds nothing.
pub(crate) fn find<'a>(json: &'a str, paths: &[&JsonPath]) -> Vec<Option<&'a RawValue>> {
    let wanted: Vec<Want<'_>> = paths
        .iter()
        .enumerate()
        .map(|(slot, path)| Want {
            slot,
            steps: path.segments(),
        })
        .collect();
    let mut found = vec![None; paths.len()];
    let mut de = serde_json::Deserializer::from_str(json);
    let seek = Seek {
        wanted: &wanted,
        found: &mut found,
    };
    if seek.deserialize(&mut de).is_err() {
        return vec![None; paths.len()];
    }
    found
}

/// One path still being followed: its slot in the answer and the steps left.
#[derive(Clone, Copy)]
struct Want<'p> {
    slot: usize,
    steps: &'p [Segment],
}

/// Looks for `wanted` in the value about to be read.
struct Seek<'w, 'p, 'f, 'a> {
    wanted: &'w [Want<'p>],
    found: &'f mut [Option<&'a RawValue>],
}

impl<'de> DeserializeSeed<'de> for Seek<'_, '_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if !self.wanted.iter().any(|w| w.steps.is_empty()) {
            return deserializer.deserialize_any(self);
        }
        // A path ends here: this whole value is an answer.
        let raw = <&RawValue>::deserialize(deserializer)?;
        let deeper: Vec<Want<'_>> = self
            .wanted
            .iter()
            .filter(|w| {
                if w.steps.is_empty() {
                    self.found[w.slot] = Some(raw);
                }
                !w.steps.is_empty()
            })
            .copied()
            .collect();
        if deeper.is_empty() {
            return Ok(());
        }
        // Another path goes on inside it (rare: `a` and `a.b` both asked).
        let mut inner = serde_json::Deserializer::from_str(raw.get());
        Seek {
            wanted: &deeper,
            found: self.found,
        }
        .deserialize(&mut inner)
        .map_err(de::Error::custom)
    }
}

impl<'de> Visitor<'de> for Seek<'_, '_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key()? {
            let next: Vec<Want<'_>> = self
                .wanted
                .iter()
                .filter(|w| w.steps[0].key == *key)
                .map(|w| Want {
                    slot: w.slot,
                    steps: &w.steps[1..],
                })
                .collect();
            if next.is_empty() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            // A repeated key replaces what its first occurrence held.
            for w in &next {
                self.found[w.slot] = None;
            }
            map.next_value_seed(Seek {
                wanted: &next,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let next: Vec<Want<'_>> = self
                .wanted
                .iter()
                .filter(|w| w.steps[0].index == Some(index))
                .map(|w| Want {
                    slot: w.slot,
                    steps: &w.steps[1..],
                })
                .collect();
            let more = if next.is_empty() {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                seq.next_element_seed(Seek {
                    wanted: &next,
                    found: &mut *self.found,
                })?
                .is_some()
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }
}

/// An object key, borrowed from the text unless it holds escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn path(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap()
    }

    /// Every path finds what a lookup in the parsed tree finds.
    #[test]
    fn finds_what_a_tree_lookup_finds() {
        let text = r#"{"a":{"b":[1,{"c":"x"}],"e\"q":2},"7":[true],"d":{"z":1},"d":{"y":3},"":{"k":null}}"#;
        let tree: Value = serde_json::from_str(text).unwrap();
        let texts = [
            "a",
            "a.b",
            "a.b.1.c",
            "a.b.0",
            "a.b.2",
            "\"e\\\"q\"",
            "a.\"e\\\"q\"",
            "7.0",
            "d.y",
            "d.z",
            "/",
            "/~1",
            "x.y",
            "a.b.1.c.d",
        ];
        let paths: Vec<JsonPath> = texts.iter().map(|t| path(t)).collect();
        let refs: Vec<&JsonPath> = paths.iter().collect();
        let found = find(text, &refs);
        for (n, p) in paths.iter().enumerate() {
            let expected = p.lookup(&tree);
            let got = found[n].map(|raw| serde_json::from_str::<Value>(raw.get()).unwrap());
            assert_eq!(got.as_ref(), expected, "{}", texts[n]);
        }
        assert_eq!(found[7].unwrap().get(), "true");
        assert!(find("{", &refs).iter().all(Option::is_none));
        assert_eq!(
            find("[1,2]", &[&path("")])[0].unwrap().get(),
            json!([1, 2]).to_string()
        );
    }
}
