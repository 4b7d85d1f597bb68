//! Where a key path is in the config text, for error positions (file:line:column).

use std::ops::Range;

/// Finds where keys are in the original text, for error positions.
pub(super) struct Locator<'a> {
    text: &'a str,
    doc: Option<toml_edit::ImDocument<&'a str>>,
}

impl<'a> Locator<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: toml_edit::ImDocument::parse(text).ok(),
        }
    }

    /// 1-based line and column of a byte offset.
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// Position of the secret reference quoted in an error message (`${env:X}`), with the
    /// key it is assigned to when the line reads `key = "..."`.
    pub(super) fn find_secret_reference(
        &self,
        message: &str,
    ) -> Option<((usize, usize), Option<String>)> {
        let start = message.find("`${")? + 1;
        let len = message[start..].find("}`")? + 1;
        let offset = self.text.find(&message[start..start + len])?;
        Some(self.value_at(offset))
    }

    /// Position and key of the malformed path a [`crate::source::path::JsonPath`] error
    /// quotes (`path `a..b`: ...`), when the file holds it as a quoted value of a `*path` key.
    pub(super) fn find_json_path(&self, message: &str) -> Option<((usize, usize), Option<String>)> {
        let rest = message.strip_prefix("path `")?;
        let path = &rest[..rest.find("`: ")?];
        [format!("\"{path}\""), format!("'{path}'")]
            .iter()
            .flat_map(|quoted| self.text.match_indices(quoted.as_str()))
            .map(|(offset, _)| self.value_at(offset + 1))
            .find(|(_, key)| key.as_deref().is_some_and(|k| k.ends_with("path")))
    }

    /// Line and column of the value at `offset`, with the key it is assigned to.
    fn value_at(&self, offset: usize) -> ((usize, usize), Option<String>) {
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        // `key = "${...}"`, possibly inside an inline table: the key is the last word
        // before the `=` that precedes the value.
        let before = self.text[line_start..offset]
            .trim_end()
            .trim_end_matches(['"', '\'']);
        let key = before
            .trim_end()
            .strip_suffix('=')
            .and_then(|b| b.trim_end().rsplit([',', '{', ' ', '\t']).next())
            .map(|k| k.trim_matches('"').to_string())
            .filter(|k| !k.is_empty());
        (self.line_col(offset), key)
    }

    /// Position of `key` (like `state.pathh`) when every part of it exists in the file.
    pub(super) fn find_exact_key(&self, key: &str) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let mut node = Some(Node::Table(doc.as_table()));
        let mut at = None;
        for segment in parse_key_path(key) {
            // A value (the last segment's) has no children: any segment after it is missing.
            let current = node.take()?;
            at = None;
            node = match (&current, &segment) {
                (Node::Table(t), Segment::Key(k)) => {
                    at = t.key(k).and_then(|k| k.span());
                    t.get(k).and_then(Node::from_item)
                }
                (Node::Inline(t), Segment::Key(k)) => {
                    at = t.key(k).and_then(|k| k.span());
                    t.get(k).and_then(Node::from_value)
                }
                (Node::Tables(a), Segment::Index(i)) => a.get(*i).map(Node::Table),
                (Node::Array(a), Segment::Index(i)) => a.get(*i).and_then(Node::from_value),
                _ => None,
            };
        }
        at.map(|span| self.line_col(span.start))
    }

    /// Position in the file of line `line`, column `column` (1-based, in characters) of the
    /// text of the string at `key` (an inline program), when the file holds that text as it
    /// is: a literal string, or a basic one without escapes. `None` otherwise.
    pub(super) fn find_in_string(
        &self,
        key: &str,
        line: usize,
        column: usize,
    ) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Table(doc.as_table());
        for segment in parse_key_path(key) {
            node = match (&node, &segment) {
                (Node::Table(t), Segment::Key(k)) => t.get(k).and_then(Node::from_item),
                (Node::Inline(t), Segment::Key(k)) => t.get(k).and_then(Node::from_value),
                (Node::Tables(a), Segment::Index(i)) => a.get(*i).map(Node::Table),
                (Node::Array(a), Segment::Index(i)) => a.get(*i).and_then(Node::from_value),
                _ => None,
            }?;
        }
        let Node::Scalar(value) = node else {
            return None;
        };
        let (text, span) = (value.as_str()?, value.span()?);
        let raw = self.text.get(span.clone())?;
        let quotes = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
            3
        } else {
            1
        };
        let mut start = span.start + quotes;
        let mut inner = self.text.get(start..span.end.checked_sub(quotes)?)?;
        // A newline right after a multi-line string's opening quotes is not part of it.
        if quotes == 3 {
            for newline in ["\r\n", "\n"] {
                if let Some(rest) = inner.strip_prefix(newline) {
                    start += newline.len();
                    inner = rest;
                    break;
                }
            }
        }
        if inner != text {
            return None;
        }
        let line_start = match line {
            0 => return None,
            1 => 0,
            n => text.match_indices('\n').nth(n - 2)?.0 + 1,
        };
        let in_line = text[line_start..]
            .char_indices()
            .nth(column.checked_sub(1)?)
            .map_or(text.len() - line_start, |(offset, _)| offset);
        Some(self.line_col(start + line_start + in_line))
    }

    /// Position of the deepest part of `key` (like `sources[1].auth.token`) that exists.
    pub(super) fn find_key(&self, key: &str) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let mut best: Option<Range<usize>> = doc.as_table().span();
        let mut node = Node::Table(doc.as_table());
        for segment in parse_key_path(key) {
            let next = match (&node, &segment) {
                (Node::Table(t), Segment::Key(k)) => {
                    if let Some(span) = t.key(k).and_then(|k| k.span()) {
                        best = Some(span);
                    }
                    t.get(k).and_then(Node::from_item)
                }
                (Node::Inline(t), Segment::Key(k)) => {
                    if let Some(span) = t.key(k).and_then(|k| k.span()) {
                        best = Some(span);
                    }
                    t.get(k).and_then(Node::from_value)
                }
                (Node::Tables(a), Segment::Index(i)) => a.get(*i).map(Node::Table),
                (Node::Array(a), Segment::Index(i)) => a.get(*i).and_then(Node::from_value),
                _ => None,
            };
            let Some(next) = next else { break };
            if let Some(span) = next.span() {
                best = Some(span);
            }
            node = next;
        }
        best.map(|span| self.line_col(span.start))
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

fn parse_key_path(key: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    for part in key.split('.') {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            segments.push(Segment::Key(name.to_string()));
        }
        for index in indexes.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                segments.push(Segment::Index(i));
            }
        }
    }
    segments
}

enum Node<'d> {
    Table(&'d toml_edit::Table),
    Tables(&'d toml_edit::ArrayOfTables),
    Inline(&'d toml_edit::InlineTable),
    Array(&'d toml_edit::Array),
    Scalar(&'d toml_edit::Value),
}

impl<'d> Node<'d> {
    fn from_item(item: &'d toml_edit::Item) -> Option<Self> {
        match item {
            toml_edit::Item::Table(t) => Some(Node::Table(t)),
            toml_edit::Item::ArrayOfTables(a) => Some(Node::Tables(a)),
            toml_edit::Item::Value(v) => Node::from_value(v),
            toml_edit::Item::None => None,
        }
    }

    fn from_value(value: &'d toml_edit::Value) -> Option<Self> {
        Some(match value {
            toml_edit::Value::InlineTable(t) => Node::Inline(t),
            toml_edit::Value::Array(a) => Node::Array(a),
            other => Node::Scalar(other),
        })
    }

    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Table(t) => t.span(),
            Node::Tables(a) => a.span(),
            Node::Inline(t) => t.span(),
            Node::Array(a) => a.span(),
            Node::Scalar(v) => v.span(),
        }
    }
}
