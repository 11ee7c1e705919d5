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
use serde_json::{Map, Value, json};

use super::{extensions, patient};
use crate::fhir::systems;
use crate::fhir::{FhirError, SpineCode};
use crate::scenario::World;

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
pub fn read_patches(body: &[u8]) -> Result<Vec<Value>, FhirError> {
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
pub fn parse_ops(patches: &[Value]) -> Result<Vec<PatchOp>, FhirError> {
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
pub fn apply(current: &Value, ops: &[PatchOp], rules: &UpdateRules) -> Result<Value, FhirError> {
    let mut working = current.clone();
    let mut identified = Identified::default();
    for (n, op) in ops.iter().enumerate() {
        check_element(op)?;
        let previous = n.checked_sub(1).and_then(|p| ops.get(p));
        check_list_rules(&working, op, previous, &mut identified)?;
        apply_one(&mut working, op)?;
    }
    assign_new_ids(&mut working);
    check_business_rules(current, &mut working, rules)?;
    Ok(working)
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
fn assign_new_ids(doc: &mut Value) {
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

/// The business rules of `docs/pds.md` and the patch guide, checked on elements the patch
/// changed (legacy data that already breaks a rule is left alone).
fn check_business_rules(
    before: &Value,
    after: &mut Value,
    rules: &UpdateRules,
) -> Result<(), FhirError> {
    let changed = |element: &str| before.get(element) != after.get(element);
    if changed("gender") {
        check_gender(after.get("gender"))?;
    }
    if changed("birthDate") {
        check_birth_date(after, rules)?;
    }
    if changed("multipleBirthInteger") {
        match after.get("multipleBirthInteger") {
            None => {}
            Some(v) if v.as_u64().is_some_and(|n| (1..=9).contains(&n)) => {}
            Some(v) => return Err(invalid_value(&quoted(v), "multipleBirthInteger")),
        }
    }
    if changed("name") {
        check_names(before, after)?;
    }
    if changed("address") {
        check_addresses(after)?;
    }
    if changed("telecom") {
        check_telecom(after)?;
    }
    if changed("contact") {
        check_contacts(after)?;
    }
    if changed("extension") {
        extensions::check_extensions(before, after)?;
    }
    if changed("extension") || changed("deceasedDateTime") {
        extensions::check_death(before, after, rules.today)?;
    }
    if changed("generalPractitioner") {
        check_general_practitioner(before, after, rules)?;
    }
    Ok(())
}

fn check_gender(gender: Option<&Value>) -> Result<(), FhirError> {
    match gender.map(|g| (g, g.as_str())) {
        None => Err(invalid_update("gender cannot be removed")),
        Some((_, Some("male" | "female" | "unknown"))) => Ok(()),
        Some((_, Some("other"))) => Err(invalid_update(
            "gender cannot be set to 'other' (use male, female or unknown)",
        )),
        Some((g, _)) => Err(invalid_value(&quoted(g), "gender")),
    }
}

fn parse_date(value: &Value) -> Option<NaiveDate> {
    value
        .as_str()
        .filter(|s| s.len() == 10)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn check_birth_date(after: &Value, rules: &UpdateRules) -> Result<(), FhirError> {
    let Some(value) = after.get("birthDate") else {
        return Err(invalid_update("birthDate cannot be removed"));
    };
    let date = parse_date(value).ok_or_else(|| invalid_value(&quoted(value), "birthDate"))?;
    if date > rules.today {
        return Err(invalid_update(format_args!(
            "birthDate {date} cannot be in the future"
        )));
    }
    let died = after["deceasedDateTime"]
        .as_str()
        .and_then(|s| s.get(..10))
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
    if let Some(died) = died
        && date > died
    {
        return Err(invalid_update(format_args!(
            "birthDate {date} cannot be after the date of death {died}"
        )));
    }
    Ok(())
}

fn items<'v>(doc: &'v Value, list: &str) -> Result<&'v [Value], FhirError> {
    match doc.get(list) {
        None => Ok(&[]),
        Some(Value::Array(items)) => {
            if let Some((i, bad)) = items.iter().enumerate().find(|(_, v)| !v.is_object()) {
                return Err(invalid_value(&quoted(bad), &format!("{list}/{i}")));
            }
            Ok(items)
        }
        Some(other) => Err(invalid_value(&quoted(other), list)),
    }
}

fn check_names(before: &Value, after: &Value) -> Result<(), FhirError> {
    let names = items(after, "name")?;
    let usual = names.iter().filter(|n| n["use"] == "usual").count();
    if usual > 1 {
        return Err(forbidden_update("multiple usual names cannot be added"));
    }
    if usual == 0 {
        return Err(forbidden_update("the usual name cannot be removed"));
    }
    if names.iter().filter(|n| n["use"] == "nickname").count() > 1 {
        return Err(invalid_update("cannot add more than one nickname"));
    }
    for (i, name) in names.iter().enumerate() {
        let old = before["name"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o.get("id").is_some() && o.get("id") == name.get("id"));
        if let Some(old) = old
            && old.get("use") != name.get("use")
        {
            return Err(invalid_update(format_args!(
                "cannot replace the use type on an existing name ('name/{i}/use'); remove the name and add a new one"
            )));
        }
        if let Some(family) = name.get("family")
            && !family.is_string()
        {
            return Err(invalid_value(&quoted(family), &format!("name/{i}/family")));
        }
    }
    Ok(())
}

fn check_addresses(after: &Value) -> Result<(), FhirError> {
    let addresses = items(after, "address")?;
    let mut seen: Vec<&str> = Vec::new();
    for (i, address) in addresses.iter().enumerate() {
        let use_ = address["use"].as_str().unwrap_or("home");
        if !matches!(use_, "home" | "temp" | "billing" | "work") {
            return Err(invalid_value(use_, &format!("address/{i}/use")));
        }
        if seen.contains(&use_) {
            return Err(invalid_update(format_args!(
                "cannot add more than one '{use_}' address"
            )));
        }
        seen.push(use_);
        if matches!(use_, "temp" | "billing") {
            for bound in ["start", "end"] {
                if address["period"].get(bound).is_none() {
                    return Err(missing_value(&format!("address/{i}/period/{bound}")));
                }
            }
        }
    }
    Ok(())
}

/// PDS holds only emergency contacts (v2-0131 `C`), each with a way to reach them.
fn check_contacts(after: &Value) -> Result<(), FhirError> {
    for (i, contact) in items(after, "contact")?.iter().enumerate() {
        let code = &contact["relationship"][0]["coding"][0]["code"];
        if code.is_null() {
            return Err(missing_value(&format!(
                "contact/{i}/relationship/0/coding/0/code"
            )));
        }
        if code != "C" {
            return Err(invalid_update(format_args!(
                "contact/{i} has relationship {}; only emergency contacts (C) are held in 'contact' (relatives go in RelatedPerson)",
                quoted(code)
            )));
        }
        check_telecom_items(contact, "telecom", &format!("contact/{i}/telecom"))?;
    }
    Ok(())
}

fn check_telecom(after: &Value) -> Result<(), FhirError> {
    check_telecom_items(after, "telecom", "telecom")
}

/// The `key` list of `holder` as telecom items; `field` names it in diagnostics.
fn check_telecom_items(holder: &Value, key: &str, field: &str) -> Result<(), FhirError> {
    let entries = match holder.get(key) {
        None => &[][..],
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(other) => return Err(invalid_value(&quoted(other), field)),
    };
    for (i, telecom) in entries.iter().enumerate() {
        let at = format!("{field}/{i}");
        match telecom["system"].as_str() {
            None => return Err(missing_value(&format!("{at}/system"))),
            Some("phone" | "email" | "fax" | "pager" | "url" | "sms" | "other") => {}
            Some(other) => return Err(invalid_value(other, &format!("{at}/system"))),
        }
        if !telecom["value"].is_string() {
            return Err(missing_value(&format!("{at}/value")));
        }
    }
    Ok(())
}

/// The registered practice (`docs/pds.md` "General practice"): one practice, a real one (a
/// practice of the scenario here), an ODS identifier, no `period.end`; removal is NHAIS's job.
fn check_general_practitioner(
    before: &Value,
    after: &mut Value,
    rules: &UpdateRules,
) -> Result<(), FhirError> {
    let count = items(after, "generalPractitioner")?.len();
    let had = before["generalPractitioner"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if count == 0 && had {
        return Err(forbidden_update(
            "the registered general practice can only be removed by NHAIS or the National Back Office; replace '/generalPractitioner/0' to change it",
        ));
    }
    if count > 1 {
        return Err(invalid_update(format_args!(
            "only a single general practice is supported, but the patch leaves {count} in 'generalPractitioner'; replace '/generalPractitioner/0' instead of adding"
        )));
    }
    let Some(gp) = after
        .get_mut("generalPractitioner")
        .and_then(|g| g.get_mut(0))
        .and_then(Value::as_object_mut)
    else {
        if count == 0 && after.get("generalPractitioner").is_some() {
            // an empty list where there was none: drop it rather than keep `[]`
            if let Some(fields) = after.as_object_mut() {
                fields.remove("generalPractitioner");
            }
        }
        return Ok(());
    };
    match gp.get("type") {
        None => {
            gp.insert("type".into(), json!("Organization"));
        }
        Some(t) if t == "Organization" => {}
        Some(t) => return Err(invalid_value(&quoted(t), "generalPractitioner/0/type")),
    }
    if let Some(reference) = gp.get("reference") {
        return Err(invalid_update(format_args!(
            "generalPractitioner/0 holds the practice as an identifier only; remove 'reference' ({})",
            quoted(reference)
        )));
    }
    let identifier = gp
        .get_mut("identifier")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| missing_value("generalPractitioner/0/identifier"))?;
    match identifier.get("system") {
        None => return Err(missing_value("generalPractitioner/0/identifier/system")),
        Some(s) if s == systems::ODS_ORGANIZATION_CODE => {}
        Some(s) => {
            return Err(invalid_value(
                &quoted(s),
                "generalPractitioner/0/identifier/system",
            ));
        }
    }
    let ods = match identifier.get("value") {
        None => return Err(missing_value("generalPractitioner/0/identifier/value")),
        Some(Value::String(ods)) => ods.clone(),
        Some(v) => {
            return Err(invalid_value(
                &quoted(v),
                "generalPractitioner/0/identifier/value",
            ));
        }
    };
    if rules.world.practice(&ods).is_none() {
        let known: Vec<&str> = rules
            .world
            .practices
            .iter()
            .map(|p| p.ods.as_str())
            .collect();
        return Err(FhirError::new(
            SpineCode::InvalidValue,
            format!(
                "Invalid value - '{ods}' in field 'generalPractitioner/0/identifier/value': not a GP practice ODS code known to this sandbox (its scenario has {})",
                known.join(", ")
            ),
        ));
    }
    check_period(identifier, before, &ods, rules)
}

fn check_period(
    identifier: &mut Map<String, Value>,
    before: &Value,
    ods: &str,
    rules: &UpdateRules,
) -> Result<(), FhirError> {
    const FIELD: &str = "generalPractitioner/0/identifier/period";
    let Some(period) = identifier.get("period") else {
        // PDS dates a new registration today when no period is given.
        if patient::registered_practice(before) != Some(ods) {
            identifier.insert(
                "period".into(),
                json!({ "start": rules.today.format("%Y-%m-%d").to_string() }),
            );
        }
        return Ok(());
    };
    if period.get("end").is_some() {
        return Err(invalid_update(format_args!(
            "do not send '{FIELD}/end': a registration has no end date while it is current"
        )));
    }
    let start = period
        .get("start")
        .ok_or_else(|| missing_value(&format!("{FIELD}/start")))?;
    let date = parse_date(start)
        .ok_or_else(|| invalid_value(&quoted(start), &format!("{FIELD}/start")))?;
    if date > rules.today {
        return Err(invalid_update(format_args!(
            "'{FIELD}/start' {date} must not be in the future"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
