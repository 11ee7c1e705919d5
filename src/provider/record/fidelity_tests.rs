//! Each flavour's Bundles read as real exports of that flavour (`docs/suppliers.md`): checked on
//! every record of the default world and of a generated world, each practice sending as each
//! flavour in turn. `cargo test --lib fidelity -- --nocapture` prints the shares.

use chrono::NaiveDate;
use serde_json::Value;

use super::*;
use crate::fhir::gpconnect::{code_systems, extensions};
use crate::fhir::systems;
use crate::provider::test_world::{TRACE_ID, default_world};
use crate::scenario::{Supplier, World};

const FLAVOURS: [Supplier; 3] = [Supplier::Emis, Supplier::Tpp, Supplier::Generic];

/// Every patient's Bundle (with sensitive items), every practice sending as `flavour`.
fn bundles(world: &World, flavour: Supplier) -> Vec<Value> {
    let mut world = world.clone();
    for p in &mut world.practices {
        p.supplier = flavour;
    }
    world
        .patients
        .iter()
        .filter_map(|patient| {
            let practice = world.practice(patient.record_at.as_str())?;
            Some(bundle(&BundleRequest {
                world: &world,
                practice,
                patient,
                include_sensitive: true,
                trace_id: TRACE_ID,
                documents_base: "http://sandbox.test/X/STU3/1/gpconnect/documents/fhir",
            }))
        })
        .collect()
}

fn generated_world() -> World {
    let files = crate::scenario::generate::generate(120, 11)
        .files(crate::scenario::generate::Format::Yaml)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("fidelity-generated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::scenario::generate::write(&dir, &files).unwrap();
    let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let world = crate::scenario::load::load_paths(std::slice::from_ref(&dir), start);
    let _ = std::fs::remove_dir_all(&dir);
    world.unwrap_or_else(|e| panic!("{e:?}"))
}

fn resources(b: &Value) -> impl Iterator<Item = &Value> {
    b["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        // Ended allergies are contained in Lists.
        .flat_map(|r| std::iter::once(r).chain(r["contained"].as_array().into_iter().flatten()))
}

fn of_type<'b>(b: &'b Value, t: &str) -> Vec<&'b Value> {
    resources(b).filter(|r| r["resourceType"] == t).collect()
}

/// Every CodeableConcept (an object with a `coding` array) anywhere in `v`.
fn concepts<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(o) => {
            if o.get("coding").is_some_and(Value::is_array) {
                out.push(v);
            }
            o.values().for_each(|x| concepts(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| concepts(x, out)),
        _ => {}
    }
}

fn codings<'v>(c: &'v Value, system: &str) -> Vec<&'v Value> {
    c["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["system"] == system)
        .collect()
}

fn day(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap()
}

/// What the closing note of the issue reports, per flavour.
#[derive(Default, Debug)]
struct Shares {
    snomed: usize,
    with_description_id: usize,
    with_translation: usize,
    /// The same, for the codes of clinical items only: not the fixed codes of Lists, comment
    /// notes and report headers, which real exports send without either.
    clinical: usize,
    clinical_with_description_id: usize,
    clinical_with_translation: usize,
    issues: usize,
    issues_matching_supply: usize,
}

fn shares(bundles: &[Value], local: &str) -> Shares {
    let mut s = Shares::default();
    for b in bundles {
        for r in resources(b) {
            let mut all = Vec::new();
            concepts(r, &mut all);
            let clinical = r["resourceType"] != "List";
            for c in all {
                let snomed = codings(c, systems::SNOMED);
                let fixed = snomed.iter().any(|x| {
                    ["37331000000100", "721981007"].contains(&x["code"].as_str().unwrap())
                });
                let described = snomed
                    .iter()
                    .filter(|x| x.to_string().contains(extensions::CODING_SCTDESCID))
                    .count();
                let translated = usize::from(!snomed.is_empty() && !codings(c, local).is_empty());
                s.snomed += snomed.len();
                s.with_description_id += described;
                s.with_translation += translated;
                if clinical && !fixed {
                    s.clinical += snomed.len();
                    s.clinical_with_description_id += described;
                    s.clinical_with_translation += translated;
                }
            }
        }
        for m in of_type(b, "MedicationRequest") {
            if m["intent"] != "order" {
                continue;
            }
            s.issues += 1;
            let d = &m["dispenseRequest"];
            let v = &d["validityPeriod"];
            if v["end"].is_string()
                && (day(&v["end"]) - day(&v["start"])).num_days()
                    == d["expectedSupplyDuration"]["value"].as_i64().unwrap_or(-1)
            {
                s.issues_matching_supply += 1;
            }
        }
    }
    s
}

fn percent(n: usize, of: usize) -> String {
    format!("{n} of {of} ({:.0}%)", 100.0 * n as f64 / of.max(1) as f64)
}

/// The points a real export of every flavour shows.
fn assert_reads_as_real_export(bundles: &[Value], flavour: Supplier, world: &str) {
    let local = match flavour {
        Supplier::Tpp => code_systems::CTV3,
        _ => code_systems::READ_V2,
    };
    let at = |what: &str| format!("{world}, {flavour:?}: {what}");
    let mut gp_surgery = false;
    for b in bundles {
        // Medication: issues valid for exactly their supply, plans from a start only, and a
        // prescriber on every request.
        for m in of_type(b, "MedicationRequest") {
            let v = &m["dispenseRequest"]["validityPeriod"];
            assert!(v["start"].is_string(), "{}", at("validityPeriod.start"));
            if m["intent"] == "plan" {
                assert!(v.get("end").is_none(), "{}", at("plan validity end"));
            }
            // Who prescribed it, apart from who recorded it (none only when nobody is known).
            assert_eq!(
                m["requester"]["agent"]["reference"].is_string(),
                m["recorder"]["reference"].is_string(),
                "{}",
                at("requester")
            );
        }
        // ActualProblem: the flavour's URL, never both.
        for c in of_type(b, "Condition") {
            let text = c.to_string();
            let (ours, other) = match flavour {
                Supplier::Emis => (extensions::ACTUAL_PROBLEM_HL7, extensions::ACTUAL_PROBLEM),
                _ => (extensions::ACTUAL_PROBLEM, extensions::ACTUAL_PROBLEM_HL7),
            };
            assert!(!text.contains(&format!("\"{other}\"")), "{}", at("URL"));
            if text.contains("ActualProblem") {
                assert!(text.contains(ours), "{}", at("ActualProblem URL"));
            }
            assert!(c["code"].get("text").is_none(), "{}", at("Condition text"));
        }
        // Encounters start only.
        for e in of_type(b, "Encounter") {
            assert!(e["period"]["start"].is_string());
            assert!(e["period"].get("end").is_none(), "{}", at("Encounter end"));
            gp_surgery |= e["type"][0]["text"] == "GP Surgery";
        }
        // No code.text repeating a coding; translations carry their own term.
        let mut all = Vec::new();
        concepts(b, &mut all);
        for c in all {
            if let Some(t) = c["text"].as_str() {
                assert!(
                    !c["coding"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["display"] == t),
                    "{}: {c}",
                    at("code.text repeats a display")
                );
            }
            for r in codings(c, local) {
                // (Re-flavoured to TPP, the default world's Read v2 codes have no CTV3 term.)
                if r["code"] == "22A..00" && flavour != Supplier::Tpp {
                    assert_eq!(r["display"], "O/E - weight", "{}", at("Read term"));
                }
            }
        }
        // Ranges as values, with H/L when outside.
        for o in of_type(b, "Observation") {
            if let Some(r) = o["referenceRange"].get(0) {
                assert!(
                    r["low"]["value"].is_number() || r["high"]["value"].is_number(),
                    "{}: {r}",
                    at("numeric range")
                );
                assert!(r.get("text").is_none(), "{}", at("range text"));
            }
            if let Some(i) = o["interpretation"]["coding"].get(0) {
                assert!(i["code"] == "H" || i["code"] == "L");
            }
        }
        for l in of_type(b, "List") {
            let order = &l["orderedBy"]["coding"][0]["code"];
            assert!(l["date"].is_string(), "{}", at("List.date"));
            if l.get("encounter").is_some() {
                assert_eq!(order, "system", "{}", at("structure List order"));
            } else {
                assert_eq!(order, "event-date", "{}", at("primary List order"));
            }
        }
        for r in of_type(b, "Organization")
            .into_iter()
            .chain(of_type(b, "Location"))
        {
            for t in r["telecom"].as_array().into_iter().flatten() {
                assert_eq!(t["rank"], 1, "{}", at("telecom.rank"));
                assert!(t["system"].is_string() && t["use"].is_string());
            }
        }
        for r in of_type(b, "PractitionerRole") {
            assert_eq!(
                r["code"][0]["coding"][0]["system"],
                "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
            );
        }
        for a in of_type(b, "AllergyIntolerance") {
            // EMIS Web has no `reaction`: its reactions are in the note.
            if flavour == Supplier::Emis {
                assert!(a.get("reaction").is_none(), "{}", at("reaction"));
            }
        }
        for i in of_type(b, "Immunization") {
            assert!(i["site"].get("text").is_none(), "{}", at("site text"));
        }
    }
    assert!(gp_surgery, "{}", at("no GP Surgery consultation"));
    let s = shares(bundles, local);
    eprintln!(
        "{world}, {flavour:?}: SNOMED codings with a description id {}, with a translation {} (clinical items' codes: {} and {}); issues whose validity matches their supply {}",
        percent(s.with_description_id, s.snomed),
        percent(s.with_translation, s.snomed),
        percent(s.clinical_with_description_id, s.clinical),
        percent(s.clinical_with_translation, s.clinical),
        percent(s.issues_matching_supply, s.issues),
    );
    assert_eq!(
        s.issues_matching_supply,
        s.issues,
        "{}",
        at("issue validity")
    );
    assert!(s.issues > 0);
    // Most coded items of these worlds are concepts the terminology table knows.
    assert!(
        s.clinical_with_description_id * 2 > s.clinical,
        "{}",
        at(&format!("description ids {s:?}"))
    );
    if flavour != Supplier::Tpp {
        assert!(
            s.clinical_with_translation * 3 > s.clinical,
            "{}",
            at(&format!("translations {s:?}"))
        );
    }
}

#[test]
fn fidelity_every_flavour_of_the_default_world_reads_as_a_real_export() {
    let world = default_world();
    for flavour in FLAVOURS {
        assert_reads_as_real_export(&bundles(&world, flavour), flavour, "default");
    }
}

#[test]
fn fidelity_every_flavour_of_a_generated_world_reads_as_a_real_export() {
    let world = generated_world();
    for flavour in FLAVOURS {
        assert_reads_as_real_export(&bundles(&world, flavour), flavour, "generated");
    }
}

#[test]
fn fidelity_the_shipped_flavours_as_the_default_scenario_sets_them() {
    let world = default_world();
    let of = |nhs: &str| {
        let patient = world.patient(nhs).unwrap();
        bundle(&BundleRequest {
            world: &world,
            practice: world.practice(patient.record_at.as_str()).unwrap(),
            patient,
            include_sensitive: true,
            trace_id: TRACE_ID,
            documents_base: "http://sandbox.test/X/STU3/1/gpconnect/documents/fhir",
        })
    };
    // EMIS-style B82617: the body weight's Read v2 coding first, with its Read term; SNOMED CT
    // with the description id the table gives.
    let emis = of("9434761158");
    let weight = of_type(&emis, "Observation")
        .into_iter()
        .find(|o| o.to_string().contains("27113001"))
        .unwrap();
    let coding = &weight["code"]["coding"];
    assert_eq!(coding[0]["code"], "22A..00");
    assert_eq!(coding[0]["display"], "O/E - weight");
    assert_eq!(coding[1]["code"], "27113001");
    assert_eq!(coding[1]["display"], "Body weight");
    assert!(coding[1].to_string().contains("45352010"));
    // The allergy's reaction is in its note.
    let allergy = of_type(&emis, "AllergyIntolerance")[0];
    assert_eq!(allergy["note"][0]["text"], "Reaction: Rash");
    // The description id's own term, where it differs from the display.
    assert!(
        allergy
            .to_string()
            .contains(r#"{"url":"descriptionDisplay","valueString":"Warfarin allergy"}"#)
    );
    // Generic: the reaction stays a reaction; SNOMED CT first.
    let generic = of("9434761174");
    let allergy = of_type(&generic, "AllergyIntolerance")[0];
    assert_eq!(allergy["reaction"][0]["manifestation"][0]["text"], "Rash");
    assert_eq!(allergy["code"]["coding"][0]["system"], systems::SNOMED);
    // TPP: the scenario's CTV3 code, labelled CTV3.
    let tpp = of("9434761166");
    let problem = &of_type(&tpp, "Condition")[0]["code"];
    assert_eq!(codings(problem, code_systems::CTV3)[0]["code"], "XE0Ub");
    assert!(!tpp.to_string().contains(code_systems::READ_V2));
}

#[test]
fn fidelity_what_the_patient_says_is_history_and_measurements_examination() {
    let text = r#"
practices:
  - { ods: Y11111, name: P, asid: "200000009991", supplier: emis }
practitioners:
  - { id: G1, name: { family: Smith }, practice: Y11111 }
patients:
  - nhs_number: "9434761158"
    name: { family: Whitaker }
    gender: male
    birth_date: 1957-02-11
    registered_with: Y11111
    record:
      observations:
        - { id: o1, code: { snomed: "8517006", display: Ex-smoker }, date: -1m }
        - { id: o2, code: { snomed: "27113001", display: Body weight }, date: -1m, value: 80, unit: kg }
      consultations:
        - { id: c1, date: -1m, type: GP Surgery, practitioner: G1, entries: [o1, o2] }
"#;
    let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let world = crate::scenario::load::load_str("t.yaml", text, start).unwrap();
    let b = &bundles(&world, Supplier::Emis)[0];
    let heading = |title: &str| {
        of_type(b, "List")
            .into_iter()
            .find(|l| l["title"] == title)
            .map(|l| l["entry"].as_array().unwrap().len())
    };
    assert_eq!(heading("History"), Some(1));
    assert_eq!(heading("Examination"), Some(1));
    // The table's Read v2 code and description id, though the scenario gave neither.
    let smoker = of_type(b, "Observation")
        .into_iter()
        .find(|o| o.to_string().contains("8517006"))
        .unwrap();
    assert_eq!(smoker["code"]["coding"][0]["code"], "137S.00");
    assert_eq!(smoker["code"]["coding"][0]["display"], "Ex smoker");
    assert!(smoker["code"]["coding"][1].to_string().contains("15047015"));
}

#[test]
fn fidelity_a_read_code_must_fit_the_practices_code_system() {
    let scenario = |supplier: &str, read: &str| {
        format!(
            "practices:\n  - {{ ods: Y11111, name: P, asid: \"200000009991\", supplier: {supplier} }}\n\
             practitioners:\n  - {{ id: G1, name: {{ family: Smith }}, practice: Y11111 }}\n\
             patients:\n  - nhs_number: \"9434761158\"\n    name: {{ family: Whitaker }}\n    gender: male\n    birth_date: 1957-02-11\n    registered_with: Y11111\n\
             \x20   record:\n      observations:\n        - {{ code: {{ snomed: \"27113001\", display: Body weight, read_code: \"{read}\" }}, date: -1m }}\n"
        )
    };
    let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let load = |s: String| crate::scenario::load::load_str("t.yaml", &s, start);
    assert!(load(scenario("tpp", "22A..")).is_ok());
    assert!(load(scenario("emis", "22A..00")).is_ok());
    let errors = load(scenario("tpp", "22A..00")).unwrap_err();
    let text = format!("{errors:?}");
    assert!(
        text.contains("is a Read v2 code") && text.contains("CTV3"),
        "{text}"
    );
    let errors = load(scenario("generic", "XE0Ub")).unwrap_err();
    assert!(format!("{errors:?}").contains("7 characters"));
}

#[test]
fn fidelity_the_quirks_practice_sends_what_real_providers_leave_out() {
    let world = default_world();
    let patient = world.patient("9434761204").unwrap();
    let b = bundle(&BundleRequest {
        world: &world,
        practice: world.practice("B86033").unwrap(),
        patient,
        include_sensitive: true,
        trace_id: TRACE_ID,
        documents_base: "http://sandbox.test/B86033/STU3/1/gpconnect/documents/fhir",
    });
    let condition = of_type(&b, "Condition")[0];
    assert!(condition.get("asserter").is_none());
    for m in of_type(&b, "MedicationRequest") {
        assert!(m.get("requester").is_none() && m.get("recorder").is_none());
    }
    let encounter = of_type(&b, "Encounter")[0];
    let roles: Vec<_> = encounter["participant"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"][0]["coding"][0]["code"].clone())
        .collect();
    assert_eq!(roles, ["PPRF"]);
    // A flat consultation: consultation -> topic -> the items, no heading Lists.
    let structure: Vec<_> = of_type(&b, "List")
        .into_iter()
        .filter(|l| l.get("encounter").is_some())
        .collect();
    assert_eq!(structure.len(), 2, "consultation and topic only");
    let topic = structure
        .iter()
        .find(|l| l["code"]["coding"][0]["code"] == "25851000000105")
        .unwrap();
    assert!(topic["entry"].as_array().unwrap().len() >= 5);
    assert!(of_type(&b, "Specimen").is_empty());
    assert!(!b.to_string().contains("\"specimen\""));
    // Every other record keeps all of it.
    let other = bundle(&BundleRequest {
        world: &world,
        practice: world.practice("B82617").unwrap(),
        patient: world.patient("9434761158").unwrap(),
        include_sensitive: true,
        trace_id: TRACE_ID,
        documents_base: "http://sandbox.test/B82617/STU3/1/gpconnect/documents/fhir",
    });
    assert!(of_type(&other, "Condition")[0]["asserter"].is_object());
}

#[test]
fn fidelity_an_unknown_quirk_is_named() {
    let text = r#"
practices:
  - { ods: Y11111, name: P, asid: "200000009991" }
patients:
  - nhs_number: "9434761158"
    name: { family: Whitaker }
    gender: male
    birth_date: 1957-02-11
    registered_with: Y11111
    record:
      quirks: [no-asserter, no-sense]
"#;
    let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let errors = crate::scenario::load::load_str("t.yaml", text, start).unwrap_err();
    let text = format!("{errors:?}");
    assert!(text.contains("unknown quirk 'no-sense'"), "{text}");
    assert!(text.contains("no-specimens"), "{text}");
}

#[test]
fn fidelity_placeholder_documents_have_a_title_and_no_url() {
    let mut world = default_world();
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == crate::provider::test_world::PATIENT2)
        .unwrap();
    patient.record.quirks.placeholder_documents = true;
    let patient = world
        .patient(crate::provider::test_world::PATIENT2)
        .unwrap();
    let b = bundle(&BundleRequest {
        world: &world,
        practice: world.practice(patient.record_at.as_str()).unwrap(),
        patient,
        include_sensitive: true,
        trace_id: TRACE_ID,
        documents_base: "http://sandbox.test/B82617/STU3/1/gpconnect/documents/fhir",
    });
    let documents = of_type(&b, "DocumentReference");
    assert!(!documents.is_empty());
    for d in documents {
        let a = &d["content"][0]["attachment"];
        assert!(a.get("url").is_none() && a.get("size").is_none());
        assert!(a["title"].as_str().unwrap().contains("placeholder"));
        assert!(a["contentType"].is_string());
    }
}
