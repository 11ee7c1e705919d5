use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::*;
use crate::fhir::gpconnect::{self as gpc, extensions, lists};
use crate::provider::test_world::{PATIENT2, TRACE_ID, default_world};
use crate::scenario::World;

fn bundle_for(world: &World, nhs: &str, include_sensitive: bool) -> Value {
    let patient = world.patient(nhs).unwrap();
    let practice = world.practice(patient.record_at.as_str()).unwrap();
    bundle(&BundleRequest {
        world,
        practice,
        patient,
        include_sensitive,
        trace_id: TRACE_ID,
        documents_base: "http://sandbox.test/B82617/STU3/1/gpconnect/documents/fhir",
    })
}

fn resources(b: &Value) -> Vec<&Value> {
    b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect()
}

/// Every `reference` anywhere in `v`.
fn references<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "reference"
                    && let Some(s) = x.as_str()
                {
                    out.push(s);
                } else {
                    references(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn list<'b>(b: &'b Value, title: &str) -> Vec<&'b Value> {
    resources(b)
        .into_iter()
        .filter(|r| r["resourceType"] == "List" && r["title"] == title)
        .collect()
}

#[test]
fn resource_type_comes_first_in_every_resource() {
    let world = default_world();
    let patient = world.patient(PATIENT2).unwrap();
    let bytes = bundle_bytes(&BundleRequest {
        world: &world,
        practice: world.practice("B82617").unwrap(),
        patient,
        include_sensitive: true,
        trace_id: TRACE_ID,
        documents_base: "http://sandbox.test/B82617/STU3/1/gpconnect/documents/fhir",
    });
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with(&format!(r#"{{"resourceType":"Bundle","id":"{TRACE_ID}","#)));
    let entries = text.matches(r#"{"resource":"#).count();
    assert_eq!(
        entries,
        text.matches(r#"{"resource":{"resourceType":"#).count()
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["entry"].as_array().unwrap().len(), entries);
}

#[test]
fn ids_are_stable_and_distinct() {
    assert_eq!(stable_id(&["a", "b"]), stable_id(&["a", "b"]));
    assert_ne!(stable_id(&["a", "b"]), stable_id(&["ab"]));
    assert_ne!(stable_id(&["a", "b"]), stable_id(&["b", "a"]));
    let id = stable_id(&["Patient", PATIENT2]);
    assert!(uuid::Uuid::try_parse(&id).is_ok());
}

/// The resource of `resource_type` whose identifier is `{nhs}/{suffix}` (e.g. `m3/plan`).
fn item<'b>(b: &'b Value, resource_type: &str, suffix: &str) -> &'b Value {
    let mut found = resources(b).into_iter().chain(
        resources(b)
            .into_iter()
            .flat_map(|r| r["contained"].as_array().into_iter().flatten()),
    );
    found
        .find(|r| {
            r["resourceType"] == resource_type
                && r["identifier"][0]["value"]
                    .as_str()
                    .is_some_and(|v| v.ends_with(&format!("/{suffix}")))
        })
        .unwrap_or_else(|| panic!("no {resource_type} {suffix}"))
}

fn extension<'v>(r: &'v Value, url: &str) -> Option<&'v Value> {
    r["extension"].as_array()?.iter().find(|e| e["url"] == url)
}

/// `{url: value}` of a complex extension's parts.
fn parts(e: &Value) -> BTreeMap<String, Value> {
    e["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (k, v) = p
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("value"))
                .unwrap();
            (format!("{}:{k}", p["url"].as_str().unwrap()), v.clone())
        })
        .collect()
}

fn key_of(r: &Value) -> String {
    format!(
        "{}/{}",
        r["resourceType"].as_str().unwrap(),
        r["id"].as_str().unwrap()
    )
}

fn encounter_of(consultation: &str) -> String {
    format!(
        "Encounter/{}",
        stable_id(&["Encounter", PATIENT2, consultation])
    )
}

fn practitioner_ref(id: &str) -> String {
    format!("Practitioner/{}", stable_id(&["Practitioner", id]))
}

#[test]
fn repeat_plans_carry_repeat_information_and_acutes_and_orders_do_not() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, true);
    let m1 = item(&b, "MedicationRequest", "m1/plan");
    let repeat = extension(m1, extensions::MEDICATION_REPEAT_INFORMATION).unwrap();
    assert_eq!(
        parts(repeat),
        BTreeMap::from([
            (
                "numberOfRepeatPrescriptionsAllowed:valueUnsignedInt".to_owned(),
                json!(12)
            ),
            (
                "numberOfRepeatPrescriptionsIssued:valueUnsignedInt".to_owned(),
                json!(1)
            ),
        ])
    );
    let m4 = item(&b, "MedicationRequest", "m4/plan");
    assert!(extension(m4, extensions::MEDICATION_REPEAT_INFORMATION).is_some());
    let m6 = item(&b, "MedicationRequest", "m6/plan");
    assert!(extension(m6, extensions::MEDICATION_REPEAT_INFORMATION).is_none());
    // Every order is valid for exactly its supply; plans have a start only.
    for order in ["m6/issue-1", "m1/issue-1"] {
        let o = item(&b, "MedicationRequest", order);
        let validity = &o["dispenseRequest"]["validityPeriod"];
        let day = |v: &Value| NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
        let days = o["dispenseRequest"]["expectedSupplyDuration"]["value"]
            .as_i64()
            .unwrap();
        assert_eq!(
            (day(&validity["end"]) - day(&validity["start"])).num_days(),
            days
        );
    }
    assert!(m6["dispenseRequest"]["validityPeriod"].get("end").is_none());
    for r in resources(&b)
        .into_iter()
        .filter(|r| r["resourceType"] == "MedicationRequest")
    {
        // Only an issue belongs to a prescription (groupIdentifier).
        assert_eq!(r.get("groupIdentifier").is_some(), r["intent"] == "order");
        assert!(r["dosageInstruction"][0]["text"].is_string());
        if r["intent"] == "order" {
            assert_eq!(r["extension"].as_array().unwrap().len(), 1, "{r}");
            assert_eq!(r["status"], "completed");
            assert!(r["dispenseRequest"]["validityPeriod"]["end"].is_string());
        }
    }
    // Recorded in c1 by Dr Carter: context and requester on plan, order and statement.
    let c1 = encounter_of("c1");
    for r in [
        m1,
        item(&b, "MedicationRequest", "m1/issue-1"),
        item(&b, "MedicationStatement", "m1"),
    ] {
        assert_eq!(r["context"]["reference"], c1.as_str(), "{r}");
    }
    assert_eq!(
        m1["requester"]["agent"]["reference"],
        practitioner_ref("G8133438").as_str()
    );
    assert!(
        item(&b, "MedicationRequest", "m2/plan")
            .get("context")
            .is_none()
    );
    // dm+d term only, no repeated text.
    let medication = resources(&b)
        .into_iter()
        .find(|r| {
            r["resourceType"] == "Medication"
                && m1["medicationReference"]["reference"] == key_of(r).as_str()
        })
        .unwrap();
    assert_eq!(medication["code"]["coding"][0]["code"], "319283006");
    assert!(medication["code"].get("text").is_none());
}

#[test]
fn a_stopped_medication_has_a_status_reason_on_its_plan() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    let end = world.patient(PATIENT2).unwrap().record.medications[2]
        .end
        .unwrap()
        .to_string();
    let plan = item(&b, "MedicationRequest", "m3/plan");
    assert_eq!(plan["status"], "stopped");
    let reason = extension(plan, extensions::MEDICATION_STATUS_REASON).unwrap();
    assert_eq!(
        parts(reason),
        BTreeMap::from([
            (
                "statusReason:valueCodeableConcept".to_owned(),
                json!({ "text": "Muscle aches; changed to atorvastatin" })
            ),
            ("statusChangeDate:valueDateTime".to_owned(), json!(end)),
        ])
    );
    let repeat = extension(plan, extensions::MEDICATION_REPEAT_INFORMATION).unwrap();
    assert_eq!(
        parts(repeat)["authorisationExpiryDate:valueDateTime"],
        json!(end)
    );
    assert_eq!(
        plan["note"][0]["text"],
        "Prescriber Notes: Stopped because of muscle aches; changed to atorvastatin."
    );
    let statement = item(&b, "MedicationStatement", "m3");
    assert_eq!(statement["status"], "stopped");
    assert!(
        statement["note"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Prescriber Notes: ")
    );
    assert_eq!(
        item(&b, "MedicationRequest", "m3/issue-1")["status"],
        "completed"
    );
    // Only the stopped plan has a reason; a plan that ran its course is `completed`.
    let m6 = item(&b, "MedicationRequest", "m6/plan");
    assert_eq!(m6["status"], "completed");
    assert!(extension(m6, extensions::MEDICATION_STATUS_REASON).is_none());
    // The last issue date, except for repeat dispensing.
    let m1 = item(&b, "MedicationStatement", "m1");
    assert_eq!(
        extension(m1, extensions::MEDICATION_STATEMENT_LAST_ISSUE_DATE).unwrap()["valueDateTime"],
        m1["effectivePeriod"]["start"]
    );
    let m4 = item(&b, "MedicationStatement", "m4");
    assert!(extension(m4, extensions::MEDICATION_STATEMENT_LAST_ISSUE_DATE).is_none());
}

#[test]
fn immunizations_have_a_recorded_date_an_unknown_product_and_a_practitioner() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    let i4 = item(&b, "Immunization", "i4");
    assert_eq!(
        extension(i4, extensions::DATE_RECORDED).unwrap()["valueDateTime"],
        i4["date"]
    );
    assert_eq!(
        i4["vaccineCode"],
        json!({ "coding": [{ "system": "http://hl7.org/fhir/v3/NullFlavor", "code": "UNK", "display": "Unknown" }] })
    );
    assert_eq!(
        extension(i4, extensions::VACCINATION_PROCEDURE).unwrap()["valueCodeableConcept"]["coding"]
            [0]["code"],
        "12866006"
    );
    // Not recorded in a consultation: the usual GP, and no encounter.
    assert_eq!(
        i4["practitioner"][0]["actor"]["reference"],
        practitioner_ref("G8133438").as_str()
    );
    assert!(i4.get("encounter").is_none());
}

#[test]
fn ended_allergies_keep_their_code_and_reactions_are_free_text() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    let a2 = item(&b, "AllergyIntolerance", "a2");
    assert_eq!(a2["clinicalStatus"], "resolved");
    assert_eq!(a2["code"]["coding"][0]["code"], "418689008");
    assert_eq!(
        a2["code"]["coding"][0]["display"],
        "Allergy to grass pollen"
    );
    let end = extension(a2, extensions::ALLERGY_INTOLERANCE_END).unwrap();
    let end = parts(end);
    assert_eq!(
        end["reasonEnded:valueString"],
        json!("No information available")
    );
    assert!(end.contains_key("endDate:valueDateTime"));
    let a1 = item(&b, "AllergyIntolerance", "a1");
    // No onset in the scenario: the asserted day, as GP systems default it.
    assert_eq!(a1["onsetDateTime"], a1["assertedDate"]);
    // B82617 is EMIS-style: the reaction is in the note, as EMIS Web sends it.
    assert!(a1.get("reaction").is_none());
    assert_eq!(
        a1["note"][0]["text"],
        "Widespread hives within an hour of the first dose. Reaction: Urticaria"
    );
    // A contained ended allergy carries its coding only.
    assert!(a2["code"].get("text").is_none());
}

#[test]
fn problems_link_problems_as_related_problem_headers() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    let p4 = item(&b, "Condition", "p4");
    let headers: Vec<_> = p4["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"] == extensions::RELATED_PROBLEM_HEADER)
        .map(parts)
        .collect();
    let target = |p: &str| {
        json!(format!(
            "Condition/{}",
            stable_id(&["Condition", PATIENT2, p])
        ))
    };
    assert_eq!(
        headers,
        [
            BTreeMap::from([
                ("type:valueCode".to_owned(), json!("sibling")),
                (
                    "target:valueReference".to_owned(),
                    json!({ "reference": target("p1") })
                ),
            ]),
            BTreeMap::from([
                ("type:valueCode".to_owned(), json!("sibling")),
                (
                    "target:valueReference".to_owned(),
                    json!({ "reference": target("p2") })
                ),
            ]),
        ]
    );
    for e in p4["extension"].as_array().unwrap() {
        if e["url"] == extensions::RELATED_CLINICAL_CONTENT {
            assert!(!e.to_string().contains("Condition/"), "{e}");
        }
    }
    assert_eq!(
        p4["category"][0]["coding"][0]["system"],
        "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-ConditionCategory-1"
    );
    // p6 was recorded in the home visit c4.
    let p6 = item(&b, "Condition", "p6");
    assert_eq!(p6["context"]["reference"], encounter_of("c4").as_str());
    assert!(p4.get("context").is_none());
}

#[test]
fn mandatory_elements_have_fallbacks_when_the_scenario_lacks_them() {
    let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let world = crate::scenario::load::load_str(
        "t.yaml",
        r#"
practices:
  - { ods: B82617, name: Old Street Surgery, asid: "918999198738" }
practitioners:
  - { id: G8521704, name: { family: Patel }, practice: B82617 }
patients:
  - nhs_number: "9690937286"
    name: { family: Whitfield }
    gender: female
    birth_date: 1958-07-23
    registered_with: B82617
    record:
      problems:
        - { id: p1, code: { snomed: "38341003", display: Hypertension } }
      allergies:
        - { id: a1, code: { snomed: "418689008", display: Allergy to grass pollen }, status: resolved }
        - { id: a2, code: { snomed: "91936005", display: Allergy to penicillin } }
      medications:
        - { id: m1, code: { snomed: "322236009", display: Paracetamol 500mg tablets }, start: -1m, type: acute }
      immunisations:
        - { id: i1, code: { snomed: "12866006", display: Pneumococcal vaccination }, date: -1y }
      consultations:
        - { id: c1, date: -2m, type: Surgery consultation, practitioner: G8521704, entries: [p1, a1, i1] }
"#,
        start,
    )
    .unwrap();
    let b = bundle_for(&world, PATIENT2, false);
    let patel = practitioner_ref("G8521704");
    let c1 = encounter_of("c1");
    // No usual GP: the consultation's practitioner records, and its day is the asserted one.
    let p1 = item(&b, "Condition", "p1");
    assert_eq!(p1["asserter"]["reference"], patel.as_str());
    assert_eq!(p1["assertedDate"], "2025-11-15");
    assert_eq!(p1["context"]["reference"], c1.as_str());
    let a1 = item(&b, "AllergyIntolerance", "a1");
    assert_eq!(a1["recorder"]["reference"], patel.as_str());
    assert_eq!(a1["assertedDate"], "2025-11-15");
    let a1_end = parts(extension(a1, extensions::ALLERGY_INTOLERANCE_END).unwrap());
    assert_eq!(a1_end["endDate:valueDateTime"], json!("2025-11-15"));
    assert_eq!(
        extension(a1, extensions::ASSOCIATED_ENCOUNTER).unwrap()["valueReference"]["reference"],
        c1.as_str()
    );
    let i1 = item(&b, "Immunization", "i1");
    assert_eq!(i1["practitioner"][0]["actor"]["reference"], patel.as_str());
    assert_eq!(i1["encounter"]["reference"], c1.as_str());
    // Neither a usual GP nor a consultation: no recorder (GP Connect offers no placeholder),
    // the start day as the asserted date.
    let a2 = item(&b, "AllergyIntolerance", "a2");
    assert!(a2.get("recorder").is_none());
    assert_eq!(a2["assertedDate"], "2026-01-15");
    for (t, s) in [
        ("MedicationRequest", "m1/plan"),
        ("MedicationRequest", "m1/issue-1"),
    ] {
        assert_eq!(
            item(&b, t, s)["dosageInstruction"][0]["text"],
            "No information available"
        );
    }
    assert_eq!(
        item(&b, "MedicationStatement", "m1")["dosage"][0]["text"],
        "No information available"
    );
}

/// Every scenario file shipped in `scenarios/`, each loaded on its own.
fn shipped_worlds() -> Vec<(String, World)> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            let world =
                crate::scenario::load_paths(&[f], crate::provider::test_world::now().date_naive())
                    .unwrap();
            (name, world)
        })
        .collect()
}

/// Every migrate Bundle of every shipped scenario (both sensitivity choices): no duplicate
/// resource, every reference resolves, and the bytes are the same when built twice. With
/// `SANDBOX_DUMP_BUNDLES=<dir>` each Bundle is also written there, so that a refactoring can be
/// checked byte for byte (dump before, dump after, `diff -r`).
#[test]
fn no_duplicates_and_every_reference_resolves() {
    let dump = std::env::var("SANDBOX_DUMP_BUNDLES").ok();
    for (name, world) in shipped_worlds() {
        for p in &world.patients {
            let Some(practice) = world.practice(p.record_at.as_str()) else {
                continue;
            };
            for sensitive in [false, true] {
                let req = BundleRequest {
                    world: &world,
                    practice,
                    patient: p,
                    include_sensitive: sensitive,
                    trace_id: TRACE_ID,
                    documents_base: "http://sandbox.test/X/STU3/1/gpconnect/documents/fhir",
                };
                let bytes = bundle_bytes(&req);
                assert_eq!(
                    bytes,
                    bundle_bytes(&req),
                    "{name} {} not deterministic",
                    p.nhs_number
                );
                if let Some(dir) = &dump {
                    let file = format!("{dir}/{name}-{}-{sensitive}.json", p.nhs_number.as_str());
                    std::fs::write(file, &bytes).unwrap();
                }
                let b: Value = serde_json::from_slice(&bytes).unwrap();
                let mut keys = HashSet::new();
                for r in resources(&b) {
                    if let Some(id) = r["id"].as_str() {
                        let key = format!("{}/{id}", r["resourceType"].as_str().unwrap());
                        assert!(keys.insert(key.clone()), "duplicate {key} in {name}");
                    }
                }
                for r in resources(&b) {
                    let contained: HashSet<String> = r["contained"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| format!("#{}", c["id"].as_str().unwrap()))
                        .collect();
                    let mut refs = Vec::new();
                    references(r, &mut refs);
                    for reference in refs {
                        assert!(
                            keys.contains(reference) || contained.contains(reference),
                            "{} {reference} does not resolve in {name} {}",
                            r["resourceType"],
                            p.nhs_number
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn withheld_items_mark_every_list_that_lost_one() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    for title in [
        "Medications and medical devices",
        "Uncategorised data",
        "Problems - medications related to problems",
    ] {
        let l = list(&b, title);
        assert_eq!(l.len(), 1, "{title}");
        let warnings: Vec<_> = l[0]["extension"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["url"] == extensions::LIST_WARNING_CODE)
            .collect();
        assert_eq!(warnings.len(), 1, "{title}");
        assert_eq!(warnings[0]["valueCode"], "confidential-items");
        let notes: Vec<_> = l[0]["note"].as_array().unwrap().iter().collect();
        assert_eq!(notes.len(), 1, "{title}");
        assert_eq!(notes[0]["text"], gpc::CONFIDENTIAL_ITEMS_NOTE);
    }
    // Nothing of a withheld item is anywhere in the Bundle, in any letter case: not its
    // term, nor its notes, nor the drug's name in a consultation's narrative (m5).
    let text = b.to_string().to_lowercase();
    let record = &world.patient(PATIENT2).unwrap().record;
    let (withheld, shown): (Vec<_>, Vec<_>) = items(record)
        .into_iter()
        .partition(|i| i.meta().confidential);
    assert!(withheld.len() >= 3, "m5, o7 and d3 are confidential");
    let shown: HashSet<String> = shown.iter().flat_map(item_texts).collect();
    for item in &withheld {
        for t in item_texts(item) {
            if !shown.contains(&t) {
                assert!(!text.contains(&t), "{} leaks {t:?}", item.meta().id);
            }
        }
    }
    assert!(!text.contains("citalopram"), "m5 is withheld");
    assert!(!text.contains("anxiety disorder"), "o7 is withheld");
    assert!(!text.contains("nopat"));
}

fn items(r: &crate::scenario::Record) -> Vec<Item<'_>> {
    Item::all(r).collect()
}

/// The words that identify an item: its terms and free texts, lower-cased. The first word
/// of a drug's name is what a narrative would name.
fn item_texts(item: &Item<'_>) -> Vec<String> {
    let mut t: Vec<&str> = Vec::new();
    // A coded item's term and its free-text note.
    fn coded<'t>(t: &mut Vec<&'t str>, display: &'t str, note: Option<&'t str>) {
        t.push(display);
        t.extend(note);
    }
    match item {
        Item::Problem(x) => coded(&mut t, &x.code.display, x.note.as_deref()),
        Item::Allergy(x) => {
            coded(&mut t, &x.code.display, x.note.as_deref());
            t.extend(x.reaction.as_deref());
        }
        Item::Medication(x) => {
            coded(&mut t, &x.code.display, x.note.as_deref());
            t.extend(x.code.display.split_whitespace().next());
        }
        Item::Immunisation(x) => coded(&mut t, &x.code.display, x.note.as_deref()),
        Item::Observation(x) => coded(&mut t, &x.code.display, x.note.as_deref()),
        Item::Investigation(x) => {
            coded(&mut t, &x.code.display, x.note.as_deref());
            t.extend(x.results.iter().map(|r| &*r.code.display));
        }
        Item::Consultation(x) => t.extend(x.note.as_deref()),
        Item::Referral(x) => {
            t.push(&x.to);
            t.extend(x.reason.as_deref());
        }
        Item::Diary(x) => t.push(&x.text),
        Item::Document(x) => t.push(&x.title),
    }
    t.into_iter().map(str::to_lowercase).collect()
}

fn of_type<'b>(b: &'b Value, t: &str) -> Vec<&'b Value> {
    resources(b)
        .into_iter()
        .filter(|r| r["resourceType"] == t)
        .collect()
}

fn with_identifier<'b>(b: &'b Value, value: &str) -> &'b Value {
    let found: Vec<_> = resources(b)
        .into_iter()
        .filter(|r| r["identifier"][0]["value"] == value)
        .collect();
    assert_eq!(found.len(), 1, "{value}");
    found[0]
}

fn key(r: &Value) -> String {
    format!(
        "{}/{}",
        r["resourceType"].as_str().unwrap(),
        r["id"].as_str().unwrap()
    )
}

#[test]
fn consultations_have_a_recorder_and_ordered_structure_lists() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, true);
    for e in of_type(&b, "Encounter") {
        let p = e["participant"].as_array().unwrap();
        let rec = &p[0]["type"][0]["coding"][0];
        assert_eq!(
            rec["system"],
            "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-ParticipantType-1"
        );
        assert_eq!(
            (&rec["code"], &rec["display"]),
            (&json!("REC"), &json!("recorder"))
        );
        assert_eq!(p[1]["type"][0]["coding"][0]["code"], "PPRF");
        assert!(p[0]["individual"]["reference"].is_string());
    }
    let ordered = json!({"coding": [{"system": "http://hl7.org/fhir/list-order",
        "code": "system", "display": "Sorted by System"}]});
    let by_event = json!({"coding": [{"system": "http://hl7.org/fhir/list-order",
        "code": "event-date", "display": "Sorted by Event Date"}]});
    let mut structure = 0;
    for l in of_type(&b, "List") {
        if l.get("id").is_some() {
            structure += 1;
            assert_eq!(l["orderedBy"], ordered, "{}", l["title"]);
        } else {
            assert_eq!(l["orderedBy"], by_event, "{}", l["title"]);
        }
    }
    assert!(structure >= 15);
    // c1 holds no problem, but p1 names it: its topic links to p1, by target alone.
    let c1 = key(with_identifier(&b, "9690937286/c1"));
    let p1 = key(with_identifier(&b, "9690937286/p1"));
    let topic: Vec<_> = of_type(&b, "List")
        .into_iter()
        .filter(|l| {
            l["encounter"]["reference"] == c1.as_str()
                && l["code"]["coding"][0]["code"] == lists::TOPIC.0
        })
        .collect();
    assert_eq!(
        topic[0]["extension"],
        json!([{"url": extensions::RELATED_PROBLEM_HEADER,
                "extension": [{"url": "target", "valueReference": {"reference": p1}}]}])
    );
}

#[test]
fn a_consultation_without_practitioner_is_recorded_by_the_usual_gp() {
    let mut world = default_world();
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == PATIENT2)
        .unwrap();
    patient.record.consultations[0].practitioner = None;
    let b = bundle_for(&world, PATIENT2, false);
    let e = with_identifier(&b, "9690937286/c1");
    let p = e["participant"].as_array().unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["type"][0]["coding"][0]["code"], "REC");
    let gp = stable_id(&["Practitioner", "G8133438"]);
    assert_eq!(
        p[0]["individual"]["reference"],
        format!("Practitioner/{gp}")
    );
}

#[test]
fn investigations_follow_the_gp_connect_pathology_model() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    let reports = of_type(&b, "DiagnosticReport");
    assert_eq!(reports.len(), 4);
    for r in &reports {
        assert!(r.get("effectiveDateTime").is_none() && r.get("conclusion").is_none());
        assert_eq!(
            r["code"],
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "721981007",
                               "display": "Diagnostic studies report"}]})
        );
        assert_eq!(r["category"]["coding"][0]["code"], "LAB");
        assert_eq!(
            r["category"]["coding"][0]["system"],
            "http://hl7.org/fhir/v2/0074"
        );
        let results: Vec<&str> = r["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["reference"].as_str().unwrap())
            .collect();
        assert_eq!(results.len(), 2);
        let filing: Vec<_> = of_type(&b, "Observation")
            .into_iter()
            .filter(|o| results.contains(&key(o).as_str()) && o["status"] == "unknown")
            .collect();
        assert_eq!(filing.len(), 1);
        assert_eq!(filing[0]["code"]["coding"][0]["code"], "37331000000100");
        assert!(filing[0]["performer"][0]["reference"].is_string());
        assert!(filing[0].get("category").is_none());
    }
    // inv2 (in c2, by G3104567) has the practice's comment on its filing comment.
    let inv2 = with_identifier(&b, "9690937286/inv2");
    let c2 = key(with_identifier(&b, "9690937286/c2"));
    assert_eq!(inv2["context"]["reference"], c2.as_str());
    let filing = with_identifier(&b, "9690937286/inv2/filing");
    assert_eq!(
        filing["comment"],
        "Renal function stable compared with last year."
    );
    let naylor = format!("Practitioner/{}", stable_id(&["Practitioner", "G3104567"]));
    assert_eq!(filing["performer"][0]["reference"], naylor.as_str());
    // The group has no category; each result derives from its group.
    let group = with_identifier(&b, "9690937286/inv1/test-group");
    assert!(group.get("category").is_none());
    let result = with_identifier(&b, "9690937286/inv1/result-1");
    assert_eq!(
        result["related"],
        json!([{"type": "derived-from", "target": {"reference": key(group)}}])
    );
    let request = with_identifier(&b, "9690937286/inv1/request");
    assert_eq!(request["status"], "active");
    assert!(request.get("authoredOn").is_none());
    let specimen = with_identifier(&b, "9690937286/inv1/specimen");
    assert!(
        specimen["receivedTime"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00+00:00")
    );
}

#[test]
fn referrals_and_diary_entries_carry_what_gp_connect_requires() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    for r in of_type(&b, "ReferralRequest") {
        assert_eq!(r["status"], "unknown");
        assert!(r.get("recipient").is_none());
        assert!(
            r["note"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Recipient: ")
        );
    }
    // r2 was made in c5 by G8521704.
    let r2 = with_identifier(&b, "9690937286/r2");
    let patel = format!("Practitioner/{}", stable_id(&["Practitioner", "G8521704"]));
    assert_eq!(r2["requester"]["agent"]["reference"], patel.as_str());
    let c5 = key(with_identifier(&b, "9690937286/c5"));
    assert_eq!(r2["context"]["reference"], c5.as_str());
    assert_eq!(
        r2["note"],
        json!([{"text": "Recipient: Trauma and orthopaedics"}])
    );
    // Diary: authoredOn always; dy2 is coded and says when it was entered.
    let start = world.start_day;
    let dy1 = with_identifier(&b, "9690937286/dy1");
    assert_eq!(dy1["authoredOn"], start.to_string());
    assert!(dy1["requester"]["agent"]["reference"].is_string());
    let dy2 = with_identifier(&b, "9690937286/dy2");
    assert_eq!(dy2["code"]["coding"][0]["code"], "314529007");
    assert_eq!(dy2["code"]["text"], "Medication review");
    assert!(dy2["authoredOn"].as_str().unwrap() < start.to_string().as_str());
}

#[test]
fn blood_pressure_taken_together_is_one_observation() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, false);
    let bp = with_identifier(&b, "9690937286/o1");
    assert_eq!(bp["code"]["coding"][0]["code"], "163020007");
    // B82617 is EMIS-style: each component's Read v2 coding comes first, SNOMED CT second.
    assert!(bp.get("valueQuantity").is_none());
    let components = bp["component"].as_array().unwrap();
    assert_eq!(components.len(), 2);
    assert_eq!(components[0]["code"]["coding"][1]["code"], "72313002");
    assert_eq!(components[0]["valueQuantity"]["value"], 138.0);
    assert_eq!(
        components[1]["code"]["coding"][1]["code"],
        "1091811000000102"
    );
    assert_eq!(components[1]["valueQuantity"]["value"], 84.0);
    assert!(!b.to_string().contains("9690937286/o2"));
    let bp_ref = key(bp);
    let mut holders = 0;
    for r in resources(&b) {
        let mut refs = Vec::new();
        references(r, &mut refs);
        // A problem names the reading it is about (ActualProblem) as well as linking it.
        let n = refs.iter().filter(|x| **x == bp_ref).count();
        let limit = if r["resourceType"] == "Condition" {
            2
        } else {
            1
        };
        assert!(n <= limit, "{r}");
        holders += n.min(1);
    }
    // Uncategorised data, the Examination heading, the consultation's secondary List, the
    // problems' secondary List and problem p1.
    assert_eq!(holders, 5);

    // Readings of different days, or of different consultations, stay apart.
    let mut world = default_world();
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == PATIENT2)
        .unwrap();
    patient.record.consultations[0]
        .entries
        .retain(|e| e != "o2");
    let b = bundle_for(&world, PATIENT2, false);
    assert!(
        with_identifier(&b, "9690937286/o1")
            .get("component")
            .is_none()
    );
    assert_eq!(
        with_identifier(&b, "9690937286/o2")["valueQuantity"]["value"],
        84.0
    );
}

#[test]
fn included_confidential_items_carry_nopat_and_no_warning() {
    let world = default_world();
    let b = bundle_for(&world, PATIENT2, true);
    assert!(!b.to_string().contains(gpc::CONFIDENTIAL_ITEMS_NOTE));
    let citalopram: Vec<_> = resources(&b)
        .into_iter()
        .filter(|r| r.to_string().contains("Citalopram"))
        .collect();
    assert!(!citalopram.is_empty());
    for r in citalopram.iter().filter(|r| r["resourceType"] != "List") {
        assert_eq!(r["meta"]["security"][0]["code"], "NOPAT", "{r}");
    }
}

#[test]
fn the_bundle_is_deterministic_apart_from_its_id() {
    let world = default_world();
    let a = bundle_for(&world, PATIENT2, false);
    let b = bundle_for(&world, PATIENT2, false);
    assert_eq!(a, b);
    assert_eq!(a["id"], TRACE_ID);
    assert_eq!(a["type"], "collection");
}

#[test]
fn empty_records_have_every_primary_list_empty() {
    let world = default_world();
    let b = bundle_for(&world, "9434761069", false);
    let lists: Vec<_> = resources(&b)
        .into_iter()
        .filter(|r| r["resourceType"] == "List")
        .collect();
    assert_eq!(lists.len(), 10);
    for l in lists {
        assert_eq!(l["emptyReason"]["coding"][0]["code"], "no-content-recorded");
        assert_eq!(l["note"][0]["text"], gpc::INFORMATION_NOT_AVAILABLE);
        assert!(l.get("entry").is_none() && l.get("id").is_none());
    }
}

/// What nearly every real supplier export carries (the GP2GP adaptor's EMIS and TPP stubs and UAT
/// records), checked on the default scenario's record at each flavour's practice; and none of
/// the shapes no real export has.
#[test]
fn supplier_flavours_carry_the_real_world_features() {
    let world = default_world();
    for (nhs, local_system) in [
        ("9434761158", "http://read.info/readv2"), // B82617, EMIS-style
        ("9434761166", "http://read.info/ctv3"),   // Y06421, TPP-style
        ("9434761174", "http://read.info/readv2"), // A20047, generic
    ] {
        let b = bundle_for(&world, nhs, true);
        let text = b.to_string();
        let one = |t: &str| of_type(&b, t)[0];
        let patient = one("Patient");
        let reg = extension(patient, extensions::REGISTRATION_DETAILS).expect(nhs);
        let reg = parts(reg);
        assert!(reg.contains_key("registrationPeriod:valuePeriod"));
        assert!(reg.contains_key("registrationType:valueCodeableConcept"));
        assert!(
            reg.contains_key("preferredBranchSurgery:valueReference"),
            "{nhs}"
        );
        assert_eq!(patient["active"], true);
        assert!(!of_type(&b, "Location").is_empty(), "{nhs} Location");
        let org = one("Organization");
        assert_eq!(org["type"][0]["coding"][0]["code"], "gp-practice");
        assert!(extension(org, extensions::MAIN_LOCATION).is_some());
        assert!(
            of_type(&b, "Encounter")
                .iter()
                .all(|e| e["location"].is_array())
        );
        assert!(
            text.contains(extensions::CODING_SCTDESCID),
            "{nhs} sctdescid"
        );
        assert!(
            text.contains(r#""userSelected":true"#),
            "{nhs} userSelected"
        );
        assert!(text.contains(local_system), "{nhs} {local_system}");
        let plans: Vec<_> = of_type(&b, "MedicationRequest");
        assert!(
            plans
                .iter()
                .all(|m| m["dispenseRequest"]["expectedSupplyDuration"]["code"] == "d")
        );
        assert!(
            plans
                .iter()
                .any(|m| m["groupIdentifier"]["value"].is_string())
        );
        assert!(
            of_type(&b, "AllergyIntolerance")
                .iter()
                .all(|a| a["onsetDateTime"].is_string())
        );
        let diary = of_type(&b, "ProcedureRequest");
        assert!(
            diary
                .iter()
                .any(|p| p["note"].is_array() && p["context"].is_object())
        );
        assert!(
            of_type(&b, "ReferralRequest")
                .iter()
                .all(|r| r["reasonCode"].is_array())
        );
        let condition = one("Condition");
        let actual_problem = if local_system.ends_with("readv2") && text.contains("EMISWeb") {
            extensions::ACTUAL_PROBLEM_HL7
        } else {
            extensions::ACTUAL_PROBLEM
        };
        assert!(extension(condition, actual_problem).is_some(), "{nhs}");
        let imm = one("Immunization");
        for field in ["lotNumber", "manufacturer", "expirationDate", "site"] {
            assert!(!imm[field].is_null(), "{nhs} Immunization.{field}");
        }
        assert_eq!(imm["practitioner"][0]["role"]["coding"][0]["code"], "AP");
        assert!(
            !list(
                &b,
                "Consultations - diary entries contained in consultations"
            )
            .is_empty(),
            "{nhs} diary-entries secondary List"
        );
        // None of the inventions.
        assert!(!text.contains(r#""title":"Immunisation""#));
        assert!(!text.contains(r#""title":"Surgery consultation","code":{"coding":[{"system":"http://snomed.info/sct","code":"25851000000105""#));
        assert!(!text.contains("onBehalfOf"));
        assert!(!text.contains(r#""code":"UNC""#));
    }
    // EMIS-style: its own identifier system and drug codes, Read v2 coding first and picked.
    let emis = bundle_for(&world, "9434761158", true).to_string();
    assert!(emis.contains("https://EMISWeb/B82617"));
    assert!(emis.contains("https://fhir.hl7.org.uk/Id/emis-drug-codes"));
    assert!(emis.contains("AMTA10639NEMIS"));
    let b = bundle_for(&world, "9434761158", true);
    let allergy = of_type(&b, "AllergyIntolerance")[0];
    assert_eq!(
        allergy["code"]["coding"][0],
        json!({"system": "http://read.info/readv2", "code": "14LP.00",
               "display": "H/O: warfarin allergy", "userSelected": true})
    );
    let medication = of_type(&b, "Medication")[0];
    assert_eq!(medication["code"]["coding"][0]["code"], "AMTA10639NEMIS");
    // The others send no EMIS identifiers or drug codes.
    for nhs in ["9434761166", "9434761174"] {
        let other = bundle_for(&world, nhs, true).to_string();
        assert!(
            !other.contains("EMISWeb") && !other.contains("emis-drug-codes"),
            "{nhs}"
        );
    }
}
