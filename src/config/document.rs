//! The config document between parsing and deserializing: where the loader puts resolved
//! secrets before the settings are read from it as plain data.

use serde::de::DeserializeOwned;

use super::secret::Step;

/// A parsed config file.
pub(super) enum Document<'t> {
    /// The text does not parse: reading it gives toml's syntax error, with its position.
    Unparsed(&'t str),
    /// The file's own tree, which keeps toml's positions for errors, and the same tree as
    /// plain values (for finding the secret keys).
    Text {
        tree: toml_edit::Table,
        plain: toml::Table,
    },
    /// The document with connector specs merged into its sources: positions are found by
    /// key (see `Locator`).
    Merged(toml::Table),
}

/// A deserialization error of either tree, with what the loader needs of it.
pub(super) trait TomlError: std::error::Error {
    /// toml's message, without the source excerpt.
    fn message(&self) -> &str;
    /// Byte range in the text, when known.
    fn span(&self) -> Option<std::ops::Range<usize>>;
}

impl TomlError for toml::de::Error {
    fn message(&self) -> &str {
        toml::de::Error::message(self)
    }
    fn span(&self) -> Option<std::ops::Range<usize>> {
        toml::de::Error::span(self)
    }
}

impl TomlError for toml_edit::de::Error {
    fn message(&self) -> &str {
        toml_edit::de::Error::message(self)
    }
    fn span(&self) -> Option<std::ops::Range<usize>> {
        toml_edit::de::Error::span(self)
    }
}

/// A deserialization error, with the key path where it happened.
pub(super) type Failure = serde_path_to_error::Error<Box<dyn TomlError>>;

impl<'t> Document<'t> {
    /// The document as plain values, unless it does not parse.
    pub(super) fn plain(&self) -> Option<&toml::Table> {
        match self {
            Document::Unparsed(_) => None,
            Document::Text { plain, .. } => Some(plain),
            Document::Merged(plain) => Some(plain),
        }
    }

    /// Reads `T` from the document, as plain data.
    pub(super) fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        fn boxed<E: TomlError + 'static>(err: serde_path_to_error::Error<E>) -> Failure {
            let path = err.path().clone();
            serde_path_to_error::Error::new(path, Box::new(err.into_inner()))
        }
        match self {
            Document::Unparsed(text) => {
                serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(boxed)
            }
            Document::Text { tree, .. } => {
                let document = toml_edit::DocumentMut::from(tree.clone());
                serde_path_to_error::deserialize(toml_edit::de::Deserializer::from(document))
                    .map_err(boxed)
            }
            Document::Merged(plain) => {
                serde_path_to_error::deserialize(toml::Value::Table(plain.clone())).map_err(boxed)
            }
        }
    }

    /// Puts `value` (a string) at `steps`, in place of what the file has there.
    pub(super) fn set(&mut self, steps: &[Step], value: &str) {
        match self {
            Document::Unparsed(_) => {}
            Document::Text { tree, plain } => {
                if let Some(item) = edit_item(tree, steps) {
                    *item = toml_edit::value(value);
                }
                if let Some(slot) = plain_value(plain, steps) {
                    *slot = toml::Value::String(value.to_string());
                }
            }
            Document::Merged(plain) => {
                if let Some(slot) = plain_value(plain, steps) {
                    *slot = toml::Value::String(value.to_string());
                }
            }
        }
    }
}

fn edit_item<'a>(
    tree: &'a mut toml_edit::Table,
    steps: &[Step],
) -> Option<&'a mut toml_edit::Item> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    let mut item = tree.get_mut(first)?;
    for step in rest {
        item = match step {
            Step::Key(key) => item.get_mut(key.as_str())?,
            Step::Index(i) => item.get_mut(*i)?,
        };
    }
    Some(item)
}

fn plain_value<'a>(plain: &'a mut toml::Table, steps: &[Step]) -> Option<&'a mut toml::Value> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    let mut value = plain.get_mut(first)?;
    for step in rest {
        value = match step {
            Step::Key(key) => value.get_mut(key.as_str())?,
            Step::Index(i) => value.get_mut(*i)?,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_set_in_the_tree_keeps_the_other_positions() {
        let text = "[serve]\ntoken = \"${env:T}\"\nlisten = 5\n";
        let tree = toml_edit::ImDocument::parse(text.to_string()).unwrap();
        let mut document = Document::Text {
            tree: tree.into_table(),
            plain: text.parse().unwrap(),
        };
        document.set(
            &[Step::Key("serve".into()), Step::Key("token".into())],
            "resolved",
        );
        let plain = document.plain().unwrap();
        assert_eq!(plain["serve"]["token"].as_str(), Some("resolved"));
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)] // read by the assertion's Debug only
        struct Serve {
            token: String,
            listen: String,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Root {
            serve: Serve,
        }
        let err = document.deserialize::<Root>().unwrap_err();
        // `listen = 5` is on line 3: its span survives the substitution on line 2.
        let span = err.inner().span().expect("a position");
        assert_eq!(&text[span], "5");
    }
}
