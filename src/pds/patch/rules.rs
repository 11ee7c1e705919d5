//! PDS's business rules on a changed record (`docs/pds.md` and PDS's patch guide): gender,
//! birth date, multiple birth, names, addresses, telecom, contacts, extensions, death and the
//! registered practice. A PATCH checks them on what it changed; a patient creation on the new
//! record as a whole.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::{UpdateRules, forbidden_update, invalid_update, invalid_value, missing_value, quoted};
use crate::fhir::systems;
use crate::fhir::{FhirError, SpineCode};
use crate::pds::{extensions, patient};

/// The business rules of `docs/pds.md` and the patch guide, checked on elements the patch
/// changed (legacy data that already breaks a rule is left alone).
pub(crate) fn check_business_rules(
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
