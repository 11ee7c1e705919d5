//! PDS's Patient extensions (communication, contact preferences, pharmacies, death notification)
//! and the date of death: how a scenario's values are written as FHIR, and the rules PDS applies
//! when a PATCH changes them (PDS OAS, "Update a patient's record": Communication, Contact
//! preferences, Date of death, Death notification, Pharmacy).

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::fhir::{FhirError, SpineCode, systems};
use crate::scenario::demographics::{
    CONTACT_METHODS, Communication, ContactPreferences, DeathNotification, PharmacyKind,
    WRITTEN_FORMATS, language_accepted,
};

pub(crate) const NOMINATED_PHARMACY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
pub(crate) const PREFERRED_DISPENSER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization";
pub(crate) const MEDICAL_APPLIANCE_SUPPLIER: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier";
pub(crate) const COMMUNICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication";
pub(crate) const CONTACT_PREFERENCE: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference";
pub(crate) const HUMAN_LANGUAGE: &str = "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage";
pub(crate) const CONTACT_METHOD_CODES: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod";
pub(crate) const WRITTEN_FORMAT_CODES: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat";
pub(crate) const CONTACT_RANK: &str =
    "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactRank";
pub(crate) const COPY_CORRESPONDENCE: &str =
    "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-CopyCorrespondenceIndicator";

/// Extensions a GP system may add, change or remove with a PATCH (and at most one of each).
const UPDATABLE: [&str; 6] = [
    NOMINATED_PHARMACY,
    PREFERRED_DISPENSER,
    MEDICAL_APPLIANCE_SUPPLIER,
    systems::DEATH_NOTIFICATION_STATUS,
    COMMUNICATION,
    CONTACT_PREFERENCE,
];

pub(crate) fn pharmacy(kind: PharmacyKind, ods: &str) -> Value {
    let url = match kind {
        PharmacyKind::Nominated => NOMINATED_PHARMACY,
        PharmacyKind::PreferredDispenser => PREFERRED_DISPENSER,
        PharmacyKind::MedicalApplianceSupplier => MEDICAL_APPLIANCE_SUPPLIER,
    };
    json!({ "url": url, "valueReference": { "identifier": {
        "system": systems::ODS_ORGANIZATION_CODE, "value": ods } } })
}

pub(crate) fn death_notification(status: DeathNotification, effective: &str) -> Value {
    let (code, display) = match status {
        DeathNotification::Formal => (
            "2",
            "Formal - death notice received from Registrar of Deaths",
        ),
        DeathNotification::Informal => (
            "1",
            "Informal - death notice received via an update from a local NHS Organisation such as GP or Trust",
        ),
    };
    json!({
        "url": systems::DEATH_NOTIFICATION_STATUS,
        "extension": [
            { "url": "deathNotificationStatus", "valueCodeableConcept": { "coding": [{
                "system": systems::DEATH_NOTIFICATION_STATUS_CODES,
                "version": "1.0.0", "code": code, "display": display }] } },
            { "url": "systemEffectiveDate", "valueDateTime": effective },
        ],
    })
}

pub(crate) fn communication(c: &Communication) -> Value {
    let mut parts = vec![
        json!({ "url": "language", "valueCodeableConcept": { "coding": [{
        "system": HUMAN_LANGUAGE, "version": "1.0.0", "code": c.language, "display": c.display }] } }),
    ];
    if let Some(required) = c.interpreter_required {
        parts.push(json!({ "url": "interpreterRequired", "valueBoolean": required }));
    }
    json!({ "url": COMMUNICATION, "extension": parts })
}

pub(crate) fn contact_preferences(c: &ContactPreferences) -> Value {
    let mut parts = Vec::new();
    if let Some((code, display)) = c.written_format {
        parts.push(
            json!({ "url": "PreferredWrittenCommunicationFormat", "valueCodeableConcept": {
            "coding": [{ "system": WRITTEN_FORMAT_CODES, "code": code, "display": display }] } }),
        );
    }
    if let Some((code, display)) = c.method {
        parts.push(
            json!({ "url": "PreferredContactMethod", "valueCodeableConcept": {
            "coding": [{ "system": CONTACT_METHOD_CODES, "code": code, "display": display }] } }),
        );
    }
    if let Some(times) = &c.times {
        parts.push(json!({ "url": "PreferredContactTimes", "valueString": times }));
    }
    json!({ "url": CONTACT_PREFERENCE, "extension": parts })
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

fn invalid_update(detail: impl std::fmt::Display) -> FhirError {
    FhirError::new(
        SpineCode::InvalidUpdate,
        format!("Invalid update with error - {detail}"),
    )
}

fn forbidden_update(detail: impl std::fmt::Display) -> FhirError {
    FhirError::new(
        SpineCode::ForbiddenUpdate,
        format!("Forbidden update with error - {detail}"),
    )
    .with_severity("information")
}

fn hint(mut e: FhirError, more: &str) -> FhirError {
    e.diagnostics.push_str(more);
    e
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn extensions(doc: &Value) -> &[Value] {
    doc["extension"].as_array().map_or(&[], Vec::as_slice)
}

/// The death notification status code held (`1`, `2`, `U`), if any.
pub(crate) fn death_status(doc: &Value) -> Option<&str> {
    extensions(doc)
        .iter()
        .find(|e| e["url"] == systems::DEATH_NOTIFICATION_STATUS)
        .and_then(|e| e["extension"].as_array())
        .and_then(|parts| parts.iter().find(|p| p["url"] == "deathNotificationStatus"))
        .and_then(|p| p["valueCodeableConcept"]["coding"][0]["code"].as_str())
}

fn formal_death(doc: &Value) -> bool {
    death_status(doc) == Some("2")
}

/// `yyyy-mm-dd` or `yyyy-mm-ddTHH:MM:SS+00:00` (PDS wants UTC with a zero offset); its date.
fn death_date(value: &Value) -> Option<NaiveDate> {
    let s = value.as_str()?;
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    match s.get(10..) {
        Some("") => Some(date),
        Some(rest) => chrono::NaiveTime::parse_from_str(rest.strip_suffix("+00:00")?, "T%H:%M:%S")
            .ok()
            .map(|_| date),
        None => None,
    }
}

/// The rules on `deceasedDateTime` and the death notification, checked when either changed.
pub(crate) fn check_death(
    before: &Value,
    after: &Value,
    today: NaiveDate,
) -> Result<(), FhirError> {
    let date_changed = before.get("deceasedDateTime") != after.get("deceasedDateTime");
    let status_before = death_status(before);
    let status_after = death_status(after);
    let notification_changed = extensions(before)
        .iter()
        .find(|e| e["url"] == systems::DEATH_NOTIFICATION_STATUS)
        != extensions(after)
            .iter()
            .find(|e| e["url"] == systems::DEATH_NOTIFICATION_STATUS);
    if !date_changed && !notification_changed {
        return Ok(());
    }
    if formal_death(before) {
        return Err(forbidden_update(
            "the date of death and death notification cannot be changed once a formal death (death notification status 2) is recorded",
        ));
    }
    if date_changed {
        let Some(value) = after.get("deceasedDateTime") else {
            return Err(forbidden_update("the date of death cannot be removed"));
        };
        let date = death_date(value).ok_or_else(|| {
            FhirError::new(
                SpineCode::InvalidValue,
                format!(
                    "Invalid value - '{}' in field 'deceasedDateTime' (send yyyy-mm-ddTHH:MM:SS+00:00, UTC)",
                    text(value)
                ),
            )
        })?;
        if date > today {
            return Err(invalid_update(format_args!(
                "the date of death {date} cannot be in the future"
            )));
        }
        let born = after["birthDate"]
            .as_str()
            .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
        if let Some(born) = born
            && date < born
        {
            return Err(invalid_update(format_args!(
                "the date of death {date} cannot be before the birth date {born}"
            )));
        }
        if status_after.is_none() {
            return Err(invalid_update(format_args!(
                "when adding a date of death a death notification status must also be added ('/extension/-' with url {})",
                systems::DEATH_NOTIFICATION_STATUS
            )));
        }
    }
    if notification_changed {
        match status_after {
            None if status_before.is_some() => {
                return Err(forbidden_update("the death notification cannot be removed"));
            }
            None => {}
            Some("1") => {}
            Some("2") => {
                return Err(forbidden_update(
                    "only the National Back Office, ONS and maternity sites may record a formal death (status 2); a GP system records informal (1)",
                ));
            }
            Some("U") => {
                return Err(FhirError::new(
                    SpineCode::UnsupportedValue,
                    "Unsupported value - death notification status 'U' (Removed) cannot be set by an update",
                ));
            }
            Some(other) => return Err(invalid_value(other, "deathNotificationStatus")),
        }
        if status_after.is_some() && after.get("deceasedDateTime").is_none() {
            return Err(invalid_update(
                "when adding a death notification a date of death (deceasedDateTime) must also be added",
            ));
        }
    }
    Ok(())
}

/// Each extension item the PATCH added or changed must be one a GP system may update and be
/// well formed; those it removed must be removable; at most one of each kind.
pub(crate) fn check_extensions(before: &Value, after: &Value) -> Result<(), FhirError> {
    let items = match after.get("extension") {
        None => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(other) => return Err(invalid_value(&text(other), "extension")),
    };
    let old = extensions(before);
    for (i, item) in items.iter().enumerate() {
        let field = format!("extension/{i}");
        let url = match item.get("url") {
            None => return Err(missing_value(&format!("{field}/url"))),
            Some(Value::String(url)) => url.as_str(),
            Some(other) => return Err(invalid_value(&text(other), &format!("{field}/url"))),
        };
        if items[..i].iter().any(|e| e["url"] == url) && UPDATABLE.contains(&url) {
            return Err(invalid_update(format_args!(
                "only one extension with url {url} is allowed"
            )));
        }
        if old.contains(item) {
            continue; // unchanged
        }
        if !UPDATABLE.contains(&url) {
            let known = old.iter().any(|e| e["url"] == url);
            return Err(if known {
                forbidden_update(format_args!(
                    "the extension {url} cannot be changed by this user or system"
                ))
            } else {
                hint(invalid_value(url, &format!("{field}/url")), &url_hint(url))
            });
        }
        match url {
            COMMUNICATION => check_communication(item, &field)?,
            CONTACT_PREFERENCE => check_contact_preference(item, &field)?,
            NOMINATED_PHARMACY | PREFERRED_DISPENSER | MEDICAL_APPLIANCE_SUPPLIER => {
                check_pharmacy(item, &field)?;
            }
            _ => check_death_notification(item, &field)?,
        }
    }
    for gone in old
        .iter()
        .filter(|e| !items.iter().any(|i| i["url"] == e["url"]))
    {
        let url = gone["url"].as_str().unwrap_or_default();
        if !UPDATABLE.contains(&url) {
            return Err(forbidden_update(format_args!(
                "the extension {url} cannot be removed by this user or system"
            )));
        }
    }
    Ok(())
}

/// Points a retired or misspelt URL at the current one with the same name, if there is one.
fn url_hint(url: &str) -> String {
    let name = url.rsplit('/').next().unwrap_or(url);
    match UPDATABLE
        .iter()
        .find(|u| u.rsplit('/').next() == Some(name))
    {
        Some(current) => format!(" (PDS names this extension {current})"),
        None => format!(" (a GP system may update {})", UPDATABLE.join(", ")),
    }
}

fn parts<'v>(item: &'v Value, field: &str) -> Result<&'v [Value], FhirError> {
    match item.get("extension") {
        Some(Value::Array(parts)) if !parts.is_empty() => Ok(parts),
        Some(other) => Err(invalid_value(&text(other), &format!("{field}/extension"))),
        None => Err(missing_value(&format!("{field}/extension"))),
    }
}

/// `coding[0]` of a part's `valueCodeableConcept`: its system (checked) and code.
fn coding<'v>(part: &'v Value, field: &str, system: &str) -> Result<&'v str, FhirError> {
    let coding = &part["valueCodeableConcept"]["coding"][0];
    if coding.is_null() {
        return Err(missing_value(&format!(
            "{field}/valueCodeableConcept/coding/0"
        )));
    }
    if let Some(s) = coding.get("system")
        && s != system
    {
        return Err(hint(
            invalid_value(
                &text(s),
                &format!("{field}/valueCodeableConcept/coding/0/system"),
            ),
            &format!(" (expected {system})"),
        ));
    }
    coding["code"]
        .as_str()
        .ok_or_else(|| missing_value(&format!("{field}/valueCodeableConcept/coding/0/code")))
}

fn check_communication(item: &Value, field: &str) -> Result<(), FhirError> {
    let mut language = false;
    for (j, part) in parts(item, field)?.iter().enumerate() {
        let at = format!("{field}/extension/{j}");
        match part["url"].as_str() {
            Some("language") => {
                let code = coding(part, &at, HUMAN_LANGUAGE)?;
                if code == "en" {
                    return Err(invalid_update(
                        "preferred language must not be English ('en'); leave communication out instead",
                    ));
                }
                if !language_accepted(code) {
                    return Err(invalid_value(
                        code,
                        &format!("{at}/valueCodeableConcept/coding/0/code"),
                    ));
                }
                language = true;
            }
            Some("interpreterRequired") => {
                if !part["valueBoolean"].is_boolean() {
                    return Err(invalid_value(
                        &text(&part["valueBoolean"]),
                        &format!("{at}/valueBoolean"),
                    ));
                }
            }
            _ => return Err(invalid_value(&text(&part["url"]), &format!("{at}/url"))),
        }
    }
    if !language {
        return Err(missing_value(&format!("{field}/extension (language)")));
    }
    Ok(())
}

fn check_contact_preference(item: &Value, field: &str) -> Result<(), FhirError> {
    let (mut method, mut times) = (false, false);
    for (j, part) in parts(item, field)?.iter().enumerate() {
        let at = format!("{field}/extension/{j}");
        match part["url"].as_str() {
            Some("PreferredContactMethod") => {
                let code = coding(part, &at, CONTACT_METHOD_CODES)?;
                if !CONTACT_METHODS.iter().any(|(_, (c, _))| *c == code) {
                    return Err(invalid_value(
                        code,
                        &format!("{at}/valueCodeableConcept/coding/0/code"),
                    ));
                }
                method = true;
            }
            Some("PreferredWrittenCommunicationFormat") => {
                let code = coding(part, &at, WRITTEN_FORMAT_CODES)?;
                if !WRITTEN_FORMATS.iter().any(|(_, (c, _))| *c == code) {
                    return Err(invalid_value(
                        code,
                        &format!("{at}/valueCodeableConcept/coding/0/code"),
                    ));
                }
            }
            Some("PreferredContactTimes") => {
                match part["valueString"].as_str() {
                    Some(s) if s.chars().count() <= 40 => {}
                    _ => {
                        return Err(hint(
                            invalid_value(
                                &text(&part["valueString"]),
                                &format!("{at}/valueString"),
                            ),
                            " (free text of at most 40 characters)",
                        ));
                    }
                }
                times = true;
            }
            _ => return Err(invalid_value(&text(&part["url"]), &format!("{at}/url"))),
        }
    }
    if times && !method {
        return Err(invalid_update(
            "a preferred contact time needs a preferred contact method too",
        ));
    }
    Ok(())
}

fn check_pharmacy(item: &Value, field: &str) -> Result<(), FhirError> {
    let identifier = &item["valueReference"]["identifier"];
    if let Some(s) = identifier.get("system")
        && s != systems::ODS_ORGANIZATION_CODE
    {
        return Err(invalid_value(
            &text(s),
            &format!("{field}/valueReference/identifier/system"),
        ));
    }
    match identifier.get("value") {
        None => Err(missing_value(&format!(
            "{field}/valueReference/identifier/value"
        ))),
        Some(Value::String(ods))
            if (3..=10).contains(&ods.len()) && ods.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(())
        }
        Some(other) => Err(invalid_value(
            &text(other),
            &format!("{field}/valueReference/identifier/value"),
        )),
    }
}

fn check_death_notification(item: &Value, field: &str) -> Result<(), FhirError> {
    let mut status = false;
    for (j, part) in parts(item, field)?.iter().enumerate() {
        let at = format!("{field}/extension/{j}");
        match part["url"].as_str() {
            Some("deathNotificationStatus") => {
                coding(part, &at, systems::DEATH_NOTIFICATION_STATUS_CODES)?;
                status = true;
            }
            Some("systemEffectiveDate") => {
                if !part["valueDateTime"].is_string() {
                    return Err(invalid_value(
                        &text(&part["valueDateTime"]),
                        &format!("{at}/valueDateTime"),
                    ));
                }
            }
            _ => return Err(invalid_value(&text(&part["url"]), &format!("{at}/url"))),
        }
    }
    if !status {
        return Err(missing_value(&format!(
            "{field}/extension (deathNotificationStatus)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn death_dates_are_dates_or_utc_date_times() {
        assert_eq!(death_date(&json!("2020-01-01")), Some(day("2020-01-01")));
        assert_eq!(
            death_date(&json!("2020-01-01T10:00:00+00:00")),
            Some(day("2020-01-01"))
        );
        assert_eq!(death_date(&json!("2020-01-01T10:00:00+01:00")), None);
        assert_eq!(death_date(&json!("01/01/2020")), None);
    }

    #[test]
    fn a_formal_death_is_final() {
        let before = json!({ "deceasedDateTime": "2020-01-01",
            "extension": [death_notification(DeathNotification::Formal, "2020-01-01")] });
        let mut after = before.clone();
        after["deceasedDateTime"] = json!("2020-01-02");
        let e = check_death(&before, &after, day("2026-01-01")).unwrap_err();
        assert_eq!(e.code, "FORBIDDEN_UPDATE");
    }
}
