//! `PATCH /Patient/{nhsNumber}` bodies: PDS's JSON Patch dialect (`docs/pds.md`)
//! and the business rules PDS applies to the result.
//!
//! A PDS patch is an object `{"patches": [...]}` of RFC 6902 operations limited to `add`,
//! `replace`, `remove` and `test`. On top of RFC 6902, PDS insists that items of top-level lists
//! are added at `-`, that a removal of a list item is immediately preceded by a `test` of it, and
//! that a change to an existing list item names its object `id`. Everything here is pure: the store
//! runs [`apply`] on a copy of the record inside its lock and keeps the copy only when it succeeds,
//! so a patch applies entirely or not at all.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::patient;

mod rules;
use crate::fhir::{FhirError, SpineCode};
use crate::scenario::World;
pub(crate) use rules::check_business_rules;

/// The four operations PDS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
    Test,
}

impl OpKind {
    fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
            OpKind::Test => "test",
        }
    }
}

/// One well-formed patch operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub kind: OpKind,
    /// The path as sent, for diagnostics.
    pub path: String,
    /// The path's JSON Pointer reference tokens, unescaped.
    pub tokens: Vec<String>,
    /// Absent only for `remove`.
    pub value: Option<Value>,
}

/// What a PATCH may change, and what it is checked against.
pub struct UpdateRules<'a> {
    /// Registered practices must be practices of this world.
    pub world: &'a World,
    /// Default `period.start` of what a patch adds; no start may be later.
    pub today: NaiveDate,
}

fn invalid_update(detail: impl std::fmt::Display) -> FhirError {
    FhirError::new(
        SpineCode::InvalidUpdate,
        format!("Invalid update with error - {detail}"),
    )
}

fn invalid_value(value: &str, field: &str) -> FhirError {
    FhirError::new(
        SpineCode::InvalidValue,
        format!("Invalid value - '{value}' in field '{field}'"),
    )
}

fn missing_value(field: &str) -> FhirError {
    FhirError::new(
        SpineCode::MissingValue,
        format!("Missing value - '{field}'"),
    )
}

fn forbidden_update(detail: impl std::fmt::Display) -> FhirError {
    FhirError::new(
        SpineCode::ForbiddenUpdate,
        format!("Forbidden update with error - {detail}"),
    )
    .with_severity("information")
}

/// A value as PDS quotes it in a diagnostic: strings bare, anything else as JSON.
fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The body's shape: an object with a non-empty `patches` array. Checked before the version
/// (the official mock's order), so a body without patches is a 400 even with a stale `If-Match`.
pub(crate) fn read_patches(body: &[u8]) -> Result<Vec<Value>, FhirError> {
    let document: Value = serde_json::from_slice(body).map_err(|e| {
        invalid_update(format_args!(
            "the body is not JSON ({e}); send {{\"patches\": [...]}}"
        ))
    })?;
    match document.get("patches") {
        Some(Value::Array(patches)) if !patches.is_empty() => Ok(patches.clone()),
        _ if document.is_array() => Err(invalid_update(
            "No patches found (PDS wants an object {\"patches\": [...]}, not a bare JSON Patch array)",
        )),
        _ => Err(invalid_update("No patches found")),
    }
}

/// Every patch operation well formed: a known `op`, a JSON Pointer `path`, a `value` where the
/// operation needs one. Fields are named by their index in `patches` (`0/op`), as PDS does.
pub(crate) fn parse_ops(patches: &[Value]) -> Result<Vec<PatchOp>, FhirError> {
    patches
        .iter()
        .enumerate()
        .map(|(i, patch)| parse_op(i, patch))
        .collect()
}

fn parse_op(i: usize, patch: &Value) -> Result<PatchOp, FhirError> {
    let Some(fields) = patch.as_object() else {
        return Err(invalid_value(&quoted(patch), &i.to_string()));
    };
    let op = fields
        .get("op")
        .ok_or_else(|| missing_value(&format!("{i}/op")))?;
    let kind = match op.as_str() {
        Some("add") => OpKind::Add,
        Some("remove") => OpKind::Remove,
        Some("replace") => OpKind::Replace,
        Some("test") => OpKind::Test,
        _ => return Err(invalid_value(&quoted(op), &format!("{i}/op"))),
    };
    let path_value = fields
        .get("path")
        .ok_or_else(|| missing_value(&format!("{i}/path")))?;
    let path = match path_value.as_str() {
        Some(p) if p.starts_with('/') => p.to_owned(),
        _ => return Err(invalid_value(&quoted(path_value), &format!("{i}/path"))),
    };
    let tokens = path[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let value = fields.get("value").cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(missing_value(&format!("{i}/value")));
    }
    Ok(PatchOp {
        kind,
        path,
        tokens,
        value,
    })
}

/// Top-level Patient lists whose items carry an object `id` and obey PDS's list rules.
const LISTS: [&str; 5] = [
    "name",
    "address",
    "telecom",
    "generalPractitioner",
    "contact",
];

/// Elements this sandbox lets a GP system update.
const UPDATABLE: [&str; 10] = [
    "name",
    "gender",
    "birthDate",
    "address",
    "telecom",
    "generalPractitioner",
    "multipleBirthInteger",
    "deceasedDateTime",
    "extension",
    "contact",
];

/// Checks that `op` may touch its element at all.
fn check_element(op: &PatchOp) -> Result<(), FhirError> {
    let element = op.tokens.first().map(String::as_str).unwrap_or_default();
    match element {
        e if UPDATABLE.contains(&e) => Ok(()),
        "resourceType" | "id" | "identifier" | "meta" => Err(forbidden_update(format_args!(
            "'{element}' cannot be updated ('{}')",
            op.path
        ))),
        "managingOrganization" => Err(forbidden_update(format_args!(
            "'managingOrganization' is for PDS internal use and cannot be updated ('{}')",
            op.path
        ))),
        "multipleBirthBoolean"
        | "active"
        | "communication"
        | "maritalStatus"
        | "deceasedBoolean"
        | "photo"
        | "link" => Err(invalid_update(format_args!(
            "Invalid patch - PDS does not hold '{element}' ('{}'); {}",
            op.path,
            match element {
                "communication" =>
                    "the preferred language is the NHSCommunication extension ('/extension/-')",
                "deceasedBoolean" =>
                    "a death is recorded as 'deceasedDateTime' with a death notification extension",
                "multipleBirthBoolean" => "use 'multipleBirthInteger'",
                _ => "it is not part of a PDS record",
            }
        ))),
        _ => Err(invalid_update(format_args!(
            "Invalid patch - '{}' is not an element of Patient",
            op.path
        ))),
    }
}

/// Which items of which lists a patch has proved it knows, by `id`, before changing them.
#[derive(Default)]
struct Identified(Vec<(String, usize)>);

impl Identified {
    fn has(&self, list: &str, index: usize) -> bool {
        self.0.iter().any(|(l, i)| l == list && *i == index)
    }
    fn mark(&mut self, list: &str, index: usize) {
        if !self.has(list, index) {
            self.0.push((list.to_owned(), index));
        }
    }
    /// Adding or removing an item shifts the indexes after it: forget what was proved.
    fn forget(&mut self, list: &str) {
        self.0.retain(|(l, _)| l != list);
    }
}

/// Applies `ops` to a copy of `current` and checks PDS's rules on the result; `current` itself is
/// never touched. The result still has the old `meta.versionId`: the store bumps it.
pub(crate) fn apply(
    current: &Value,
    ops: &[PatchOp],
    rules: &UpdateRules,
) -> Result<Value, FhirError> {
    let mut working = current.clone();
    let mut identified = Identified::default();
    for (n, op) in ops.iter().enumerate() {
        check_element(op)?;
        let previous = n.checked_sub(1).and_then(|p| ops.get(p));
        check_list_rules(&working, op, previous, &mut identified)?;
        apply_one(&mut working, op)?;
    }
    assign_new_ids(&mut working);
    prune_empty(&mut working);
    check_business_rules(current, &mut working, rules)?;
    Ok(working)
}

/// Drops lists and objects a patch left empty (`"suffix": []` after removing the last suffix):
/// FHIR allows no empty element, and PDS then holds none.
fn prune_empty(value: &mut Value) {
    let empty = |v: &Value| match v {
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    };
    match value {
        Value::Object(fields) => {
            for v in fields.values_mut() {
                prune_empty(v);
            }
            fields.retain(|_, v| !empty(v));
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                prune_empty(v);
            }
            items.retain(|v| !empty(v));
        }
        _ => {}
    }
}

/// PDS's list rules (`docs/pds.md` and the patch guide): add at `-`, test before remove, and
/// name the object `id` before changing an existing item.
fn check_list_rules(
    doc: &Value,
    op: &PatchOp,
    previous: Option<&PatchOp>,
    identified: &mut Identified,
) -> Result<(), FhirError> {
    let list = op.tokens[0].as_str();
    if !LISTS.contains(&list) || op.tokens.len() < 2 {
        return Ok(());
    }
    let position = op.tokens[1].as_str();
    if position == "-" {
        if op.kind == OpKind::Add && op.tokens.len() == 2 {
            identified.forget(list);
        }
        return Ok(());
    }
    let Ok(index) = position.parse::<usize>() else {
        return Ok(()); // the pointer itself fails when applied, with PDS's wording
    };
    if op.tokens.len() == 2 && op.kind == OpKind::Add {
        return Err(invalid_update(format_args!(
            "new '{list}' items must be added at '/{list}/-', not at '{}'",
            op.path
        )));
    }
    let current_id = doc[list][index]["id"].as_str().map(str::to_owned);
    let item_path = format!("/{list}/{index}");
    match (op.kind, op.tokens.len()) {
        (OpKind::Remove, 2) => {
            let tested = previous.is_some_and(|p| {
                p.kind == OpKind::Test
                    && (p.path == item_path
                        || p.path == format!("{item_path}/id")
                        || p.path == format!("{item_path}/url"))
            });
            if !tested {
                return Err(invalid_update(format_args!(
                    "removing '{item_path}' must be immediately preceded by a 'test' of '{item_path}/id'{}",
                    current_id
                        .as_deref()
                        .map(|id| format!(" (its id is '{id}')"))
                        .unwrap_or_default()
                )));
            }
            identified.forget(list);
        }
        (OpKind::Test, 2) => {
            if doc[list]
                .get(index)
                .is_some_and(|item| Some(item) == op.value.as_ref())
            {
                identified.mark(list, index);
            }
        }
        (OpKind::Replace, 2) => {
            let Some(current_id) = current_id else {
                return Ok(());
            };
            match op.value.as_ref().and_then(|v| v.get("id")) {
                Some(id) if id.as_str() == Some(current_id.as_str()) => {}
                Some(id) => {
                    return Err(invalid_update(format_args!(
                        "no '{list}' resources with object id {}",
                        quoted(id)
                    )));
                }
                None if identified.has(list, index) => {}
                None => {
                    return Err(invalid_update(format_args!(
                        "replacing '{item_path}' needs its object id: put \"id\": \"{current_id}\" in the value or 'test' '{item_path}/id' first"
                    )));
                }
            }
            identified.mark(list, index);
        }
        (kind, _) if op.tokens.get(2).is_some_and(|t| t == "id") && op.tokens.len() == 3 => {
            // A test, add or replace of the id itself names the object.
            let Some(current_id) = current_id else {
                return Ok(());
            };
            let value = op.value.as_ref().map(quoted).unwrap_or_default();
            if kind == OpKind::Remove {
                return Err(forbidden_update(format_args!(
                    "the object id '{item_path}/id' cannot be removed"
                )));
            }
            if value != current_id {
                if kind == OpKind::Test {
                    return Ok(()); // the test itself fails, with the values in the message
                }
                return Err(invalid_update(format_args!(
                    "no '{list}' resources with object id {value}"
                )));
            }
            identified.mark(list, index);
        }
        (_, _) if op.kind == OpKind::Test => {}
        (_, _) => {
            if let Some(current_id) = current_id
                && !identified.has(list, index)
            {
                return Err(invalid_update(format_args!(
                    "changing '{}' needs the object id of '{item_path}': 'test' (or 'replace') '{item_path}/id' with '{current_id}' first",
                    op.path
                )));
            }
        }
    }
    Ok(())
}

/// RFC 6902 for one operation, with PDS's wording for pointers that lead nowhere.
fn apply_one(doc: &mut Value, op: &PatchOp) -> Result<(), FhirError> {
    let (last, parents) = op
        .tokens
        .split_last()
        .ok_or_else(|| invalid_update("Invalid patch - the whole resource cannot be patched"))?;
    // `add /telecom/-` (or `/extension/-`) on a patient without that list yet starts it, as PDS does.
    if op.kind == OpKind::Add
        && last == "-"
        && let [list] = parents
        && (LISTS.contains(&list.as_str()) || list == "extension")
        && let Some(fields) = doc.as_object_mut()
    {
        fields.entry(list.clone()).or_insert_with(|| json!([]));
    }
    let mut parent = &mut *doc;
    for token in parents {
        parent = step(parent, token, op)?;
    }
    match op.kind {
        OpKind::Test => {
            let actual = lookup(parent, last);
            if actual != op.value.as_ref() {
                return Err(invalid_update(format_args!(
                    "Invalid patch - test failed at '{}': expected {}, found {}",
                    op.path,
                    op.value.as_ref().map(Value::to_string).unwrap_or_default(),
                    actual.map_or_else(|| "nothing".to_owned(), Value::to_string)
                )));
            }
        }
        OpKind::Add => {
            let value = op.value.clone().unwrap_or(Value::Null);
            match parent {
                Value::Object(fields) => {
                    fields.insert(last.clone(), value);
                }
                Value::Array(items) if last == "-" => items.push(value),
                Value::Array(items) => match last.parse::<usize>() {
                    Ok(i) if i <= items.len() => items.insert(i, value),
                    _ => return Err(out_of_bounds(last)),
                },
                _ => return Err(non_existent(op, last)),
            }
        }
        OpKind::Replace => {
            let value = op.value.clone().unwrap_or(Value::Null);
            match slot(parent, last) {
                Some(target) => *target = value,
                None => return Err(non_existent(op, last)),
            }
        }
        OpKind::Remove => {
            let removed = match parent {
                Value::Object(fields) => fields.remove(last).is_some(),
                Value::Array(items) => match last.parse::<usize>() {
                    Ok(i) if i < items.len() => {
                        items.remove(i);
                        true
                    }
                    _ => return Err(out_of_bounds(last)),
                },
                _ => false,
            };
            if !removed {
                return Err(non_existent(op, last));
            }
        }
    }
    Ok(())
}

fn out_of_bounds(index: &str) -> FhirError {
    invalid_update(format_args!(
        "Invalid patch - index '{index}' is out of bounds"
    ))
}

fn non_existent(op: &PatchOp, token: &str) -> FhirError {
    invalid_update(format_args!(
        "Invalid patch - can't {} non-existent object '{token}' (path '{}')",
        op.kind.as_str(),
        op.path
    ))
}

fn step<'v>(value: &'v mut Value, token: &str, op: &PatchOp) -> Result<&'v mut Value, FhirError> {
    let is_array = value.is_array();
    match slot(value, token) {
        Some(next) => Ok(next),
        None if is_array => Err(out_of_bounds(token)),
        None => Err(non_existent(op, token)),
    }
}

fn slot<'v>(value: &'v mut Value, token: &str) -> Option<&'v mut Value> {
    match value {
        Value::Object(fields) => fields.get_mut(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    }
}

fn lookup<'v>(value: &'v Value, token: &str) -> Option<&'v Value> {
    match value {
        Value::Object(fields) => fields.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

/// PDS assigns object ids itself; items a patch adds get one.
pub(crate) fn assign_new_ids(doc: &mut Value) {
    for list in LISTS {
        if let Some(items) = doc.get_mut(list).and_then(Value::as_array_mut) {
            for item in items.iter_mut() {
                if let Some(fields) = item.as_object_mut()
                    && !fields.contains_key("id")
                {
                    fields.insert("id".into(), json!(patient::new_object_id()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
