//! Every structural problem of a scenario file at once: unknown fields and values of the wrong
//! type. serde-saphyr stops at the first; when it does, the file is read again into a tree of
//! nodes with their positions, and deserialized from that tree with each refused entry removed
//! and the deserialization repeated, until what is left deserializes. The problems found are
//! reported together, and the pruned file still goes through the semantic checks, so one run of
//! `check` shows every problem of every kind.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

use super::file::ScenarioFile;

/// Deeper than any scenario; beyond it the tree is not built (the parser's budget refuses it).
const MAX_DEPTH: usize = 48;
/// Nodes read at most; past it the second pass gives up and the first error stands alone.
const MAX_NODES: usize = 1_000_000;
/// Problems reported per file at most.
const MAX_PROBLEMS: usize = 200;

/// A YAML node with the 1-based line and column where it starts.
#[derive(Debug, Clone)]
struct Node {
    line: u64,
    column: u64,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// The text, and whether it was plain (unquoted), where `~`, `null` and nothing mean null.
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, true) if matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// One structural problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Reads `text` again as a tree and returns every structural problem, with the file that is left
/// once the entries holding them are removed. `None` when the text cannot be read as one YAML
/// document (a syntax error: the parser's own error is then the only one).
pub(crate) fn every_problem(text: &str) -> Option<(ScenarioFile, Vec<Problem>)> {
    let mut root = tree(text)?;
    let mut problems = Vec::new();
    // Entries removed for a problem of their own, by the path of their mapping: a mapping that
    // then misses that field has no second problem.
    let mut removed: Vec<(Vec<usize>, String)> = Vec::new();
    loop {
        match <ScenarioFile as de::Deserialize>::deserialize(NodeDe {
            node: &root,
            path: Vec::new(),
        }) {
            Ok(file) => return Some((file, problems)),
            Err(e) => {
                let (Some(at), false) = (e.at, problems.len() >= MAX_PROBLEMS) else {
                    return None;
                };
                let consequence = removed.iter().any(|(mapping, key)| {
                    *mapping == at.path && e.message.starts_with(&format!("missing field `{key}`"))
                });
                if !consequence {
                    problems.push(Problem {
                        line: at.line,
                        column: at.column,
                        message: e.message,
                    });
                }
                match remove(&mut root, &at.path) {
                    Some(Some(key)) => {
                        let mapping = at.path[..at.path.len().saturating_sub(1)].to_vec();
                        removed.push((mapping, key));
                    }
                    Some(None) => {}
                    None => return None,
                }
            }
        }
    }
}

/// Removes the entry or element at `path`, giving the key of a removed mapping entry when it is
/// plain text; `None` when there is nothing to remove (the root).
fn remove(root: &mut Node, path: &[usize]) -> Option<Option<String>> {
    let (last, parents) = path.split_last()?;
    let mut node = root;
    for &i in parents {
        node = match &mut node.kind {
            Kind::Seq(items) => items.get_mut(i)?,
            Kind::Map(entries) => &mut entries.get_mut(i)?.1,
            Kind::Scalar(..) => return None,
        };
    }
    match &mut node.kind {
        Kind::Seq(items) if *last < items.len() => {
            items.remove(*last);
            Some(None)
        }
        Kind::Map(entries) if *last < entries.len() => {
            let (key, _) = entries.remove(*last);
            Some(match key.kind {
                Kind::Scalar(text, _) => Some(text),
                _ => None,
            })
        }
        _ => None,
    }
}

/// The single document of `text` as a tree; `None` on a syntax error, more than one document, or
/// past the depth and size limits. Aliases are read as null: they are not expanded.
fn tree(text: &str) -> Option<Node> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
    let mut root = None;
    let mut documents = 0;
    let mut nodes = 0usize;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.ok()?;
        let at = |kind| Node {
            line: span.start.line() as u64,
            column: span.start.col() as u64 + 1,
            kind,
        };
        let node = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
                continue;
            }
            Event::Scalar(value, style, ..) => at(Kind::Scalar(
                value.into_owned(),
                style == ScalarStyle::Plain,
            )),
            Event::Alias(..) | Event::UnresolvedAlias(..) => at(Kind::Scalar(String::new(), true)),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push((at(kind), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop()?.0,
            _ => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return None;
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some((parent, pending_key)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Kind::Scalar(..) => return None,
            },
        }
    }
    // An empty file is an empty map, as for the parser.
    Some(root.unwrap_or(Node {
        line: 1,
        column: 1,
        kind: Kind::Map(Vec::new()),
    }))
}

/// Where a problem is, and the path to the entry to remove for it.
#[derive(Debug, Clone)]
struct At {
    line: u64,
    column: u64,
    path: Vec<usize>,
}

#[derive(Debug)]
struct Error {
    message: String,
    at: Option<At>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            at: None,
        }
    }

    /// Like the parser's message: the expected names without quotes.
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::custom(format_args!(
            "unknown field `{field}`, expected one of {}",
            expected.join(", ")
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::custom(format_args!(
            "unknown variant `{variant}`, expected one of {}",
            expected.join(", ")
        ))
    }
}

impl Error {
    /// Places an error that has no place yet at `node`, to be removed with the entry at `path`.
    fn at(mut self, node: &Node, path: &[usize]) -> Self {
        if self.at.is_none() {
            self.at = Some(At {
                line: node.line,
                column: node.column,
                path: path.to_vec(),
            });
        }
        self
    }
}

/// Deserializes the value of one node; `path` leads to the entry that holds it.
struct NodeDe<'a> {
    node: &'a Node,
    path: Vec<usize>,
}

impl NodeDe<'_> {
    fn scalar(&self) -> Result<&str, Error> {
        match &self.node.kind {
            Kind::Scalar(s, _) => Ok(s),
            Kind::Seq(_) => Err(de::Error::custom("expected a single value, found a list")),
            Kind::Map(_) => Err(de::Error::custom(
                "expected a single value, found a mapping",
            )),
        }
    }

    fn place<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        result.map_err(|e| e.at(self.node, &self.path))
    }

    fn number<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        let s = self.scalar()?;
        s.trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("invalid value '{s}': expected {what}")))
    }

    fn float(&self) -> Result<f64, Error> {
        let s = self.scalar()?;
        match s.trim() {
            ".nan" | ".NaN" | ".NAN" => Ok(f64::NAN),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Ok(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Ok(f64::NEG_INFINITY),
            t => t
                .parse()
                .map_err(|_| de::Error::custom(format!("invalid value '{s}': expected a number"))),
        }
    }
}

macro_rules! integer {
    ($($method:ident $visit:ident $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let n = self.number::<$t>("a whole number");
            self.place(n.and_then(|n| visitor.$visit(n)))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            Kind::Scalar(..) if self.node.is_null() => visitor.visit_unit(),
            Kind::Scalar(s, _) => visitor.visit_str(s),
            Kind::Seq(_) => self.visit_seq(visitor),
            Kind::Map(_) => self.visit_map(visitor),
        };
        self.place(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = self.scalar().and_then(|s| match s {
            "true" | "True" | "TRUE" => visitor.visit_bool(true),
            "false" | "False" | "FALSE" => visitor.visit_bool(false),
            _ => Err(de::Error::custom(format!(
                "invalid value '{s}': expected true or false"
            ))),
        });
        self.place(result)
    }

    integer!(
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = self.float().and_then(|f| visitor.visit_f64(f));
        self.place(result)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = self.scalar().and_then(|s| visitor.visit_str(s));
        self.place(result)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            let result = visitor.visit_none();
            self.place(result)
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            Kind::Seq(_) => self.visit_seq(visitor),
            _ => Err(de::Error::custom("expected a list")),
        };
        self.place(result)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            Kind::Map(_) => self.visit_map(visitor),
            _ => Err(de::Error::custom("expected a mapping of fields")),
        };
        self.place(result)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == "__yaml_spanned" {
            let node = self.node;
            let path = self.path.clone();
            let result = visitor.visit_newtype_struct(SpannedDe { node, path });
            return result.map_err(|e| e.at(node, &self.path));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    /// A unit variant written as its name, as the parser reads it (`service: pds`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = self
            .scalar()
            .and_then(|s| visitor.visit_enum(s.into_deserializer()));
        self.place(result)
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

impl<'de> NodeDe<'_> {
    fn visit_seq<V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        let Kind::Seq(items) = &self.node.kind else {
            return Err(de::Error::custom("expected a list"));
        };
        visitor.visit_seq(Items {
            items,
            next: 0,
            path: &self.path,
        })
    }

    fn visit_map<V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        let Kind::Map(entries) = &self.node.kind else {
            return Err(de::Error::custom("expected a mapping of fields"));
        };
        visitor.visit_map(Entries {
            entries,
            next: 0,
            path: &self.path,
        })
    }
}

struct Items<'a> {
    items: &'a [Node],
    next: usize,
    path: &'a [usize],
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(node) = self.items.get(self.next) else {
            return Ok(None);
        };
        let mut path = self.path.to_vec();
        path.push(self.next);
        self.next += 1;
        let de = NodeDe {
            node,
            path: path.clone(),
        };
        seed.deserialize(de)
            .map(Some)
            .map_err(|e| e.at(node, &path))
    }
}

struct Entries<'a> {
    entries: &'a [(Node, Node)],
    /// The entry whose key was read last is `next - 1`.
    next: usize,
    path: &'a [usize],
}

impl Entries<'_> {
    fn entry_path(&self) -> Vec<usize> {
        let mut path = self.path.to_vec();
        path.push(self.next.saturating_sub(1));
        path
    }
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, _)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let path = self.entry_path();
        let de = NodeDe {
            node: key,
            path: path.clone(),
        };
        seed.deserialize(de).map(Some).map_err(|e| e.at(key, &path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let path = self.entry_path();
        let Some((_, value)) = self.entries.get(self.next.saturating_sub(1)) else {
            return Err(de::Error::custom("a value without a key"));
        };
        let de = NodeDe {
            node: value,
            path: path.clone(),
        };
        seed.deserialize(de).map_err(|e| e.at(value, &path))
    }
}

/// Gives serde-saphyr's `Spanned` what its own deserializer gives: the marker, the value and the
/// node's position.
struct SpannedDe<'a> {
    node: &'a Node,
    path: Vec<usize>,
}

impl<'de> de::Deserializer<'de> for SpannedDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(SpannedFields {
            node: self.node,
            path: self.path,
            next: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct SpannedFields<'a> {
    node: &'a Node,
    path: Vec<usize>,
    next: usize,
}

const SPANNED_KEYS: [&str; 4] = [
    "__serde_saphyr_private_spanned",
    "value",
    "referenced",
    "defined",
];

impl<'de> MapAccess<'de> for SpannedFields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(key) = SPANNED_KEYS.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.next {
            2 => seed.deserialize(NodeDe {
                node: self.node,
                path: self.path.clone(),
            }),
            3 | 4 => {
                let position = [("line", self.node.line), ("column", self.node.column)];
                seed.deserialize(de::value::MapDeserializer::new(position.into_iter()))
            }
            _ => seed.deserialize(().into_deserializer()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        every_problem(text)
            .unwrap()
            .1
            .into_iter()
            .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
            .collect()
    }

    #[test]
    fn a_valid_file_has_no_problems_and_keeps_its_positions() {
        let (file, found) =
            every_problem("practices:\n  - ods: B82617\n    provider: false\n").unwrap();
        assert!(found.is_empty());
        let practice = &file.practices.unwrap()[0];
        assert_eq!(practice.referenced.line(), 2);
        let ods = practice.value.ods.as_ref().unwrap();
        assert_eq!((ods.referenced.line(), ods.referenced.column()), (2, 10));
        assert_eq!(practice.value.provider, Some(false));
    }

    #[test]
    fn every_unknown_field_and_wrong_type_is_found() {
        let text = "\
practices:
  - ods: B82617
    nmae: x
    provider: maybe
  - { ods: A20047, asid: \"1\", telcom: x }
patients:
  - nhs_number: \"9690937286\"
    record:
      problems:
        - { code: { snomed: \"1\", dispaly: x } }
      observations:
        - { value: high }
";
        assert_eq!(
            problems(text),
            [
                "3:5: unknown field `nmae`, expected one of ods, name, asid, party_key, provider, interactions, address, telecom, supplier, branches, external_provider, quirks, structured_enabled, disabled_areas",
                "4:15: invalid value 'maybe': expected true or false",
                "5:31: unknown field `telcom`, expected one of ods, name, asid, party_key, provider, interactions, address, telecom, supplier, branches, external_provider, quirks, structured_enabled, disabled_areas",
                "10:34: unknown field `dispaly`, expected one of snomed, display, read_code, description_id",
                "12:20: invalid value 'high': expected a number",
            ]
        );
    }

    #[test]
    fn a_valid_fault_rule_beside_a_misspelt_one_has_no_problem() {
        let text = "\
faults:
  - service: pds
    status: 503
  - service: mainframe
    status: abc
";
        assert_eq!(
            problems(text),
            [
                "4:14: unknown variant `mainframe`, expected one of pds, sds, ssp, provider",
                "5:13: invalid value 'abc': expected a whole number",
            ]
        );
    }

    #[test]
    fn syntax_errors_and_deep_nesting_give_up() {
        assert!(every_problem("a: [\n").is_none());
        let deep = format!("name: {}{}\n", "[".repeat(100), "]".repeat(100));
        assert!(every_problem(&deep).is_none());
    }
}
