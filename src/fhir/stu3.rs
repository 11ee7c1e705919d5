//! Typed FHIR STU3 datatypes and the clinical resources of the migrate Bundle.
//!
//! A record of thousands of items is serialised straight from these borrowing structs: a
//! `serde_json::Value` tree per resource first cost more than the serialisation itself. Fields
//! are declared in FHIR element order, the order they appear in the JSON; absent and empty
//! elements are left out, as FHIR requires.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// One resource of a Bundle entry, written with `resourceType` first.
#[derive(Serialize)]
#[serde(tag = "resourceType")]
pub(crate) enum Resource<'a> {
    AllergyIntolerance(AllergyIntolerance<'a>),
    Condition(Condition<'a>),
    DiagnosticReport(DiagnosticReport<'a>),
    DocumentReference(DocumentReference<'a>),
    Encounter(Encounter<'a>),
    Immunization(Immunization<'a>),
    List(List<'a>),
    Medication(Medication<'a>),
    MedicationRequest(MedicationRequest<'a>),
    MedicationStatement(MedicationStatement<'a>),
    Observation(Observation<'a>),
    ProcedureRequest(ProcedureRequest<'a>),
    ReferralRequest(ReferralRequest<'a>),
    Specimen(Specimen<'a>),
}

// ---- Primitive types ----

/// A FHIR `date` (`2024-03-01`), written without an intermediate `String`.
#[derive(Clone, Copy)]
pub(crate) struct Date(pub NaiveDate);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A FHIR `instant` at midnight UTC of a day (`2024-03-01T00:00:00+00:00`).
#[derive(Clone, Copy)]
pub(crate) struct Instant(pub NaiveDate);

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}T00:00:00+00:00", self.0))
    }
}

/// A resource already serialised: ended allergies, kept until the Lists that contain them are
/// written.
pub(crate) type Raw = Box<RawValue>;

/// Serialises a resource on its own. Serialising these types cannot fail (string keys, finite
/// numbers), so `None` is never seen in practice.
pub(crate) fn raw(resource: &Resource<'_>) -> Option<Raw> {
    serde_json::value::to_raw_value(resource).ok()
}

// ---- General-purpose datatypes ----

#[derive(Serialize, Clone, Copy)]
pub(crate) struct Coding<'a> {
    pub system: &'a str,
    pub code: &'a str,
    pub display: &'a str,
}

#[derive(Clone, Default)]
pub(crate) struct CodeableConcept<'a> {
    pub coding: Option<[Coding<'a>; 1]>,
    pub text: Option<Cow<'a, str>>,
    /// What a GP system adds to the coding it picked: a translation, the SNOMED description id.
    pub detail: Option<CodingDetail<'a>>,
}

/// A GP system's additions to a coded concept (GP Connect `Extension-coding-sctdescid`,
/// `userSelected`, local-code translations).
#[derive(Clone, Copy, Default)]
pub(crate) struct CodingDetail<'a> {
    /// The practice system's own coding (Read v2, CTV3, a drug code).
    pub translation: Option<Coding<'a>>,
    /// The translation comes before the SNOMED coding and is the one picked (EMIS's order);
    /// otherwise the SNOMED coding is first and picked.
    pub translation_first: bool,
    pub description_id: Option<&'a str>,
    /// The term of that description (`descriptionDisplay`), when it is known.
    pub description_display: Option<&'a str>,
}

impl Serialize for CodeableConcept<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match (&self.coding, &self.detail) {
            (Some(c), None) => map.serialize_entry("coding", c)?,
            (Some([c]), Some(d)) => {
                let main = DetailedCoding {
                    extension: d.description_id.map(|id| {
                        let mut extension = Vec::with_capacity(2);
                        extension.push(IdValue {
                            url: "descriptionId",
                            value_id: Some(id),
                            value_string: None,
                        });
                        if let Some(term) = d.description_display {
                            extension.push(IdValue {
                                url: "descriptionDisplay",
                                value_id: None,
                                value_string: Some(term),
                            });
                        }
                        [SctDescId {
                            url: crate::fhir::gpconnect::extensions::CODING_SCTDESCID,
                            extension,
                        }]
                    }),
                    coding: *c,
                    user_selected: (d.translation.is_none() || !d.translation_first)
                        .then_some(true),
                };
                let local = d.translation.map(|t| DetailedCoding {
                    extension: None,
                    coding: t,
                    user_selected: d.translation_first.then_some(true),
                });
                let codings: Vec<&DetailedCoding<'_>> = match (&local, d.translation_first) {
                    (Some(l), true) => vec![l, &main],
                    (Some(l), false) => vec![&main, l],
                    (None, _) => vec![&main],
                };
                map.serialize_entry("coding", &codings)?;
            }
            (None, _) => {}
        }
        if let Some(t) = &self.text {
            map.serialize_entry("text", t)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailedCoding<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<[SctDescId<'a>; 1]>,
    #[serde(flatten)]
    coding: Coding<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_selected: Option<bool>,
}

#[derive(Serialize)]
struct SctDescId<'a> {
    url: &'a str,
    extension: Vec<IdValue<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdValue<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_string: Option<&'a str>,
}

impl<'a> CodeableConcept<'a> {
    /// One coding, no text.
    pub(crate) fn coded(system: &'a str, code: &'a str, display: &'a str) -> Self {
        Self {
            coding: Some([Coding {
                system,
                code,
                display,
            }]),
            text: None,
            detail: None,
        }
    }

    /// Free text only.
    pub(crate) fn text(text: impl Into<Cow<'a, str>>) -> Self {
        Self {
            coding: None,
            text: Some(text.into()),
            detail: None,
        }
    }

    pub(crate) fn with_text(mut self, text: impl Into<Cow<'a, str>>) -> Self {
        self.text = Some(text.into());
        self
    }
}

#[derive(Serialize, Clone, Copy)]
pub(crate) struct Reference<'a> {
    pub reference: &'a str,
}

/// `Reference(x)`.
pub(crate) fn reference(r: &str) -> Reference<'_> {
    Reference { reference: r }
}

#[derive(Serialize)]
pub(crate) struct Identifier<'a> {
    pub system: &'a str,
    pub value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<&'a str>,
    pub profile: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<[Coding<'a>; 1]>,
}

/// An element that is only its `text`: Annotation, Dosage, a reference range.
#[derive(Serialize)]
pub(crate) struct Text<'a> {
    pub text: Cow<'a, str>,
}

/// `[{ "text": ... }]` when there is a text.
pub(crate) fn texts<'a>(text: Option<impl Into<Cow<'a, str>>>) -> Option<[Text<'a>; 1]> {
    text.map(|t| [Text { text: t.into() }])
}

#[derive(Serialize)]
pub(crate) struct Quantity<'a> {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'a str>,
}

/// A `SimpleQuantity` with its UCUM code: the bounds of a reference range.
#[derive(Serialize)]
pub(crate) struct SimpleQuantity<'a> {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
}

/// `Observation.referenceRange`: numeric bounds, or text when the range is not numeric.
#[derive(Serialize)]
pub(crate) struct ReferenceRange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<SimpleQuantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<SimpleQuantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct Period {
    pub start: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Date>,
}

/// An extension: a `url` and one value, or nested extensions.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extension<'a> {
    pub url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_unsigned_int: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_date_time: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_reference: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension<'a>>,
}

impl<'a> Extension<'a> {
    pub(crate) fn code(url: &'a str, code: &'a str) -> Self {
        Self {
            url,
            value_code: Some(code),
            ..Self::default()
        }
    }

    pub(crate) fn string(url: &'a str, value: &'a str) -> Self {
        Self {
            url,
            value_string: Some(value),
            ..Self::default()
        }
    }

    pub(crate) fn unsigned_int(url: &'a str, value: u32) -> Self {
        Self {
            url,
            value_unsigned_int: Some(value),
            ..Self::default()
        }
    }

    pub(crate) fn date_time(url: &'a str, value: NaiveDate) -> Self {
        Self {
            url,
            value_date_time: Some(Date(value)),
            ..Self::default()
        }
    }

    pub(crate) fn concept(url: &'a str, value: CodeableConcept<'a>) -> Self {
        Self {
            url,
            value_codeable_concept: Some(value),
            ..Self::default()
        }
    }

    pub(crate) fn reference(url: &'a str, value: &'a str) -> Self {
        Self {
            url,
            value_reference: Some(reference(value)),
            ..Self::default()
        }
    }

    pub(crate) fn nested(url: &'a str, extension: Vec<Extension<'a>>) -> Self {
        Self {
            url,
            extension,
            ..Self::default()
        }
    }
}

/// `requester` of a request resource.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Requester<'a> {
    pub agent: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Reference<'a>>,
}

// ---- Resources (STU3 element order) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Condition<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub extension: Vec<Extension<'a>>,
    pub identifier: [Identifier<'a>; 1],
    pub clinical_status: &'a str,
    pub category: [CodeableConcept<'a>; 1],
    pub code: CodeableConcept<'a>,
    pub subject: Reference<'a>,
    /// The consultation the problem was recorded in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset_date_time: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abatement_date_time: Option<Date>,
    pub asserted_date: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asserter: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Text<'a>; 1]>,
}

#[derive(Serialize)]
pub(crate) struct Reaction<'a> {
    pub manifestation: [CodeableConcept<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AllergyIntolerance<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension<'a>>,
    pub identifier: [Identifier<'a>; 1],
    pub clinical_status: &'a str,
    pub verification_status: &'a str,
    pub category: [&'a str; 1],
    pub code: CodeableConcept<'a>,
    pub patient: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset_date_time: Option<Date>,
    pub asserted_date: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Text<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<[Reaction<'a>; 1]>,
}

#[derive(Serialize)]
pub(crate) struct Medication<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub code: CodeableConcept<'a>,
}

/// A number of days (UCUM `d`).
#[derive(Serialize)]
pub(crate) struct Duration {
    pub value: u32,
    pub unit: &'static str,
    pub system: &'static str,
    pub code: &'static str,
}

impl Duration {
    pub(crate) fn days(value: u32) -> Self {
        Self {
            value,
            unit: "day",
            system: "http://unitsofmeasure.org",
            code: "d",
        }
    }
}

/// An identifier that is only its value (`MedicationRequest.groupIdentifier`).
#[derive(Serialize)]
pub(crate) struct IdentifierValue {
    pub value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DispenseRequest<'a> {
    pub validity_period: Period,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_supply_duration: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MedicationRequest<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub extension: Vec<Extension<'a>>,
    pub identifier: [Identifier<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_identifier: Option<IdentifierValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub based_on: Option<[Reference<'a>; 1]>,
    pub status: &'a str,
    pub intent: &'a str,
    pub medication_reference: Reference<'a>,
    pub subject: Reference<'a>,
    /// The consultation the medication was authorised in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    pub authored_on: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Text<'a>; 1]>,
    pub dosage_instruction: [Text<'a>; 1],
    pub dispense_request: DispenseRequest<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MedicationStatement<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub extension: Vec<Extension<'a>>,
    pub identifier: [Identifier<'a>; 1],
    pub based_on: [Reference<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    pub status: &'a str,
    pub medication_reference: Reference<'a>,
    pub effective_period: Period,
    pub date_asserted: Date,
    pub subject: Reference<'a>,
    pub taken: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Text<'a>; 1]>,
    pub dosage: [Text<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Immunization<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub extension: Vec<Extension<'a>>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'a str,
    pub not_given: bool,
    pub vaccine_code: CodeableConcept<'a>,
    pub patient: Reference<'a>,
    /// The consultation the immunisation was recorded in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<Reference<'a>>,
    pub date: Date,
    pub primary_source: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<CodeableConcept<'a>>,
    /// Who recorded it (no `role`: whether they also administered it is not known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub practitioner: Option<[ImmunizationPractitioner<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Text<'a>; 1]>,
}

#[derive(Serialize)]
pub(crate) struct ImmunizationPractitioner<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<CodeableConcept<'a>>,
    pub actor: Reference<'a>,
}

#[derive(Serialize)]
pub(crate) struct ObservationRelated<'a> {
    #[serde(rename = "type")]
    pub type_: &'a str,
    pub target: Reference<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Observation<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<[CodeableConcept<'a>; 1]>,
    pub code: CodeableConcept<'a>,
    pub subject: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    pub effective_date_time: Date,
    pub issued: Instant,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performer: Option<[Reference<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity<'a>>,
    /// `H` or `L` (HL7 v2 table 0078) when the value is outside its reference range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specimen: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_range: Option<[ReferenceRange<'a>; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<ObservationRelated<'a>>,
    /// Values recorded together under one code, such as systolic and diastolic blood pressure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub component: Vec<ObservationComponent<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObservationComponent<'a> {
    pub code: CodeableConcept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcedureRequest<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'a str,
    pub intent: &'a str,
    pub code: CodeableConcept<'a>,
    pub subject: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence_date_time: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authored_on: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Text<'a>; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpecimenCollection {
    pub collected_date_time: Date,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Specimen<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<CodeableConcept<'a>>,
    pub subject: Reference<'a>,
    pub received_time: Instant,
    pub collection: SpecimenCollection,
}

#[derive(Serialize)]
pub(crate) struct Performer<'a> {
    pub actor: Reference<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiagnosticReport<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub based_on: [Reference<'a>; 1],
    pub status: &'a str,
    pub category: CodeableConcept<'a>,
    pub code: CodeableConcept<'a>,
    pub subject: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    pub issued: Instant,
    pub performer: [Performer<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specimen: Option<[Reference<'a>; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub result: Vec<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct Participant<'a> {
    #[serde(rename = "type")]
    pub type_: [CodeableConcept<'a>; 1],
    pub individual: Reference<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Encounter<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'a str,
    #[serde(rename = "type")]
    pub type_: [CodeableConcept<'a>; 1],
    pub subject: Reference<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participant: Vec<Participant<'a>>,
    pub period: Period,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<[EncounterLocation<'a>; 1]>,
    pub service_provider: Reference<'a>,
}

/// `Encounter.location`: where the consultation took place.
#[derive(Serialize)]
pub(crate) struct EncounterLocation<'a> {
    pub location: Reference<'a>,
}

#[derive(Serialize)]
pub(crate) struct ListEntry<'a> {
    pub item: Reference<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct List<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub meta: Meta<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub contained: &'a [Raw],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension<'a>>,
    pub status: &'a str,
    pub mode: &'a str,
    /// Absent only on a consultation topic that is about no problem (as GP systems send it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub code: CodeableConcept<'a>,
    pub subject: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<Reference<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// Consultation, topic and heading Lists only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordered_by: Option<CodeableConcept<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Text<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<ListEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_reason: Option<CodeableConcept<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReferralRequest<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'a str,
    pub intent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<&'a str>,
    pub subject: Reference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Reference<'a>>,
    pub authored_on: Date,
    pub requester: Requester<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<[CodeableConcept<'a>; 1]>,
    pub description: String,
    /// Key-value pairs (`Priority: ...`, `Recipient: ...`), one per line, in one annotation.
    pub note: [Text<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment<'a> {
    pub content_type: &'a str,
    /// None for a placeholder: a document the provider cannot send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct DocumentContent<'a> {
    pub attachment: Attachment<'a>,
}

#[derive(Serialize)]
pub(crate) struct DocumentReference<'a> {
    pub id: String,
    pub meta: Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'a str,
    #[serde(rename = "type")]
    pub type_: CodeableConcept<'a>,
    pub subject: Reference<'a>,
    pub created: Date,
    pub indexed: Instant,
    pub author: [Reference<'a>; 1],
    pub custodian: Reference<'a>,
    pub description: &'a str,
    pub content: [DocumentContent<'a>; 1],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants_are_fhir_strings() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(serde_json::to_string(&Date(d)).unwrap(), r#""2024-03-01""#);
        assert_eq!(
            serde_json::to_string(&Instant(d)).unwrap(),
            r#""2024-03-01T00:00:00+00:00""#
        );
    }

    #[test]
    fn resource_type_is_the_first_member_and_empty_elements_are_left_out() {
        let list = Resource::List(List {
            id: None,
            meta: Meta {
                version_id: None,
                profile: ["p"],
                security: None,
            },
            contained: &[],
            extension: vec![],
            status: "current",
            mode: "snapshot",
            title: Some("T"),
            code: CodeableConcept::text("c"),
            subject: reference("Patient/1"),
            encounter: None,
            date: None,
            ordered_by: None,
            note: vec![],
            entry: vec![],
            empty_reason: None,
        });
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"{"resourceType":"List","meta":{"profile":["p"]},"status":"current","mode":"snapshot","title":"T","code":{"text":"c"},"subject":{"reference":"Patient/1"}}"#
        );
    }
}
