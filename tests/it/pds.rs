//! PDS FHIR R4 through the plain-HTTP listener: read, search, PATCH, headers and errors
//! (`docs/pds.md`).

use std::sync::Arc;

use chrono::NaiveDate;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use spine_sandbox::NhsNumber;
use spine_sandbox::{Address, Gender, HumanName, Patient, Practice, Record, World};
use spine_sandbox::{Asid, OdsCode};

use crate::support::{TestSandbox, diagnostics, spine_code};

const BASE: &str = "/personal-demographics/FHIR/R4";
const ADA: &str = "9690937286";
const JANE: &str = "9000000009";
const JANET_RESTRICTED: &str = "9000000025";
const JOHN_DECEASED: &str = "9000000033";
const JOAN: &str = "9690938681";
const REQUEST_ID: &str = "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f";
const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const R4_ERRORS: &str = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode";

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn practice(ods: &str, asid: &str, provider: bool) -> Practice {
    Practice {
        provider,
        interactions: vec![],
        ..Practice::new(
            OdsCode::parse(ods).unwrap(),
            Asid::parse(asid).unwrap(),
            "Test Practice",
        )
    }
}

fn patient(nhs: &str, given: &str, family: &str, gender: Gender, born: &str, gp: &str) -> Patient {
    Patient {
        registration: Default::default(),
        nhs_number: NhsNumber::parse(nhs).unwrap(),
        name: HumanName {
            prefix: None,
            given: vec![given.into()],
            family: family.into(),
        },
        gender,
        birth_date: date(born),
        address: None,
        registered_with: OdsCode::parse(gp).unwrap(),
        record_at: OdsCode::parse(gp).unwrap(),
        usual_gp: None,
        sensitive: false,
        nhs_number_verified: true,
        deceased: None,
        dissent: false,
        record: Record::default(),
        demographics: Default::default(),
    }
}

fn address(postcode: &str) -> Option<Address> {
    Some(Address {
        lines: vec!["1 High Street".into()],
        city: Some("Leeds".into()),
        district: None,
        postcode: Some(postcode.into()),
    })
}

/// Practices B82617 and GPCA0001 (providers), A20047 (a consumer); five patients covering the
/// normal, restricted, deceased/unverified and look-alike cases.
fn world() -> World {
    let mut ada = patient(
        ADA,
        "Ada",
        "Lovelace",
        Gender::Female,
        "1985-03-12",
        "GPCA0001",
    );
    ada.name.prefix = Some("Mrs".into());
    ada.address = address("LS1 1AA");
    ada.record_at = OdsCode::parse("B82617").unwrap();
    let mut jane = patient(
        JANE,
        "Jane",
        "Smith",
        Gender::Female,
        "2010-10-22",
        "B82617",
    );
    jane.address = address("LS1 6AE");
    let mut janet = patient(
        JANET_RESTRICTED,
        "Janet",
        "Smythe",
        Gender::Female,
        "2010-10-22",
        "B82617",
    );
    janet.sensitive = true;
    janet.address = address("LS1 6AE");
    let mut john = patient(
        JOHN_DECEASED,
        "John",
        "Smith",
        Gender::Male,
        "2000-05-05",
        "B82617",
    );
    john.deceased = Some(date("2024-01-01"));
    john.nhs_number_verified = false;
    let joan = patient(
        JOAN,
        "Joan",
        "Smithson",
        Gender::Female,
        "2010-10-22",
        "A20047",
    );
    World {
        name: Some("pds tests".into()),
        practices: vec![
            practice("B82617", "918999198738", true),
            practice("GPCA0001", "200000000115", true),
            practice("A20047", "200000000359", false),
        ],
        patients: vec![ada, jane, janet, john, joan],
        ..World::empty(chrono::Local::now().date_naive())
    }
}

async fn start() -> TestSandbox {
    TestSandbox::start_world(world()).await
}

fn get(sandbox: &TestSandbox, path: &str) -> RequestBuilder {
    sandbox
        .http
        .get(sandbox.url(&format!("{BASE}{path}")))
        .header("X-Request-ID", REQUEST_ID)
}

async fn read(sandbox: &TestSandbox, nhs: &str) -> (StatusCode, Option<String>, Value) {
    let resp = get(sandbox, &format!("/Patient/{nhs}"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, resp.json().await.unwrap())
}

fn patch(sandbox: &TestSandbox, nhs: &str, if_match: Option<&str>, body: &Value) -> RequestBuilder {
    let mut req = sandbox
        .http
        .patch(sandbox.url(&format!("{BASE}/Patient/{nhs}")))
        .header("X-Request-ID", REQUEST_ID)
        .header("Content-Type", "application/json-patch+json")
        .body(body.to_string());
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    req
}

async fn send(req: RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

fn gp_of(patient: &Value) -> Option<&str> {
    patient["generalPractitioner"][0]["identifier"]["value"].as_str()
}

/// The specification's GP change: test the object id, replace the practice keeping the id.
fn change_practice(current: &Value, ods: &str) -> Value {
    let id = current["generalPractitioner"][0]["id"].as_str().unwrap();
    json!({ "patches": [
        { "op": "test", "path": "/generalPractitioner/0/id", "value": id },
        { "op": "replace", "path": "/generalPractitioner/0", "value": {
            "id": id, "type": "Organization",
            "identifier": { "system": ODS_SYSTEM, "value": ods } } }
    ] })
}

fn assert_pds_outcome(body: &Value, code: &str) {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    let coding = &body["issue"][0]["details"]["coding"][0];
    assert_eq!(coding["system"], R4_ERRORS, "{body}");
    assert_eq!(coding["version"], "1", "{body}");
    assert_eq!(spine_code(body), code, "{body}");
}

// ---------------------------------------------------------------- read

#[tokio::test]
async fn read_returns_the_patient_as_pds_does_with_an_etag() {
    let sandbox = start().await;
    let resp = get(&sandbox, &format!("/Patient/{ADA}"))
        .header("X-Correlation-ID", "journey-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "W/\"1\"");
    assert_eq!(resp.headers()["x-request-id"], REQUEST_ID);
    assert_eq!(resp.headers()["x-correlation-id"], "journey-1");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json")
    );
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["resourceType"], "Patient");
    assert_eq!(p["id"], ADA);
    assert_eq!(p["meta"]["versionId"], "1");
    assert_eq!(p["meta"]["security"][0]["code"], "U");
    let id = &p["identifier"][0];
    assert_eq!(id["system"], "https://fhir.nhs.uk/Id/nhs-number");
    assert_eq!(id["value"], ADA);
    let verification = &id["extension"][0];
    assert_eq!(
        verification["url"],
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
    );
    let coding = &verification["valueCodeableConcept"]["coding"][0];
    assert_eq!(
        coding["system"],
        "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus"
    );
    assert_eq!(coding["code"], "01");
    assert_eq!(coding["display"], "Number present and verified");
    assert_eq!(p["name"][0]["family"], "Lovelace");
    assert_eq!(p["name"][0]["given"][0], "Ada");
    assert_eq!(p["name"][0]["prefix"][0], "Mrs");
    assert_eq!(p["name"][0]["use"], "usual");
    assert_eq!(p["gender"], "female");
    assert_eq!(p["birthDate"], "1985-03-12");
    assert_eq!(p["address"][0]["postalCode"], "LS1 1AA");
    assert_eq!(p["address"][0]["line"], json!(["1 High Street", "Leeds"]));
    let gp = &p["generalPractitioner"][0];
    assert_eq!(gp["type"], "Organization");
    assert_eq!(gp["identifier"]["system"], ODS_SYSTEM);
    assert_eq!(gp["identifier"]["value"], "GPCA0001");
    assert!(gp.get("reference").is_none());
    assert_eq!(gp["id"].as_str().unwrap().len(), 8);
    assert!(p.get("deceasedDateTime").is_none());
}

#[tokio::test]
async fn a_restricted_patient_is_labelled_and_has_no_address_or_practice() {
    let sandbox = start().await;
    let (status, etag, p) = read(&sandbox, JANET_RESTRICTED).await;
    assert_eq!(status, 200);
    assert_eq!(etag.as_deref(), Some("W/\"1\""));
    assert_eq!(p["meta"]["security"][0]["code"], "R");
    assert_eq!(p["meta"]["security"][0]["display"], "restricted");
    assert_eq!(
        p["meta"]["security"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    );
    assert!(p.get("address").is_none());
    assert!(p.get("telecom").is_none());
    assert!(p.get("generalPractitioner").is_none());
    assert_eq!(p["name"][0]["family"], "Smythe");
    // PDS still holds the registration; only the read hides it.
    assert_eq!(
        sandbox
            .running
            .shared
            .pds
            .registered_practice(JANET_RESTRICTED)
            .as_deref(),
        Some("B82617")
    );
    assert_eq!(
        sandbox.running.shared.pds.is_restricted(JANET_RESTRICTED),
        Some(true)
    );
}

#[tokio::test]
async fn deceased_and_unverified_patients_say_so() {
    let sandbox = start().await;
    let (_, _, p) = read(&sandbox, JOHN_DECEASED).await;
    assert_eq!(p["deceasedDateTime"], "2024-01-01T00:00:00+00:00");
    let coding = &p["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0];
    assert_eq!(coding["code"], "02");
    assert_eq!(
        p["extension"][0]["url"],
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus"
    );
}

#[tokio::test]
async fn an_invalid_nhs_number_is_invalid_resource_id() {
    let sandbox = start().await;
    let resp = get(&sandbox, "/Patient/9000000000")
        .header("X-Correlation-ID", "c-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-request-id"], REQUEST_ID);
    assert_eq!(resp.headers()["x-correlation-id"], "c-1");
    let body: Value = resp.json().await.unwrap();
    assert_pds_outcome(&body, "INVALID_RESOURCE_ID");
    assert_eq!(body["issue"][0]["code"], "value");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Resource Id is invalid"
    );
    assert!(diagnostics(&body).contains("9000000000"));
    let (status, _, body) = read(&sandbox, "96909372").await;
    assert_eq!(status, 400);
    assert!(diagnostics(&body).contains("10 digits"), "{body}");
}

#[tokio::test]
async fn an_unknown_patient_is_resource_not_found() {
    let sandbox = start().await;
    let (status, etag, body) = read(&sandbox, "9111231130").await;
    assert_eq!(status, 404);
    assert!(etag.is_none());
    assert_pds_outcome(&body, "RESOURCE_NOT_FOUND");
    assert_eq!(body["issue"][0]["code"], "not-found");
    assert_eq!(body["issue"][0]["severity"], "information");
}

#[tokio::test]
async fn x_request_id_is_required_and_must_be_a_uuid() {
    let sandbox = start().await;
    let url = sandbox.url(&format!("{BASE}/Patient/{ADA}"));
    let (status, headers, body) =
        send(sandbox.http.get(&url).header("X-Correlation-ID", "c-2")).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&body, "MISSING_VALUE");
    assert!(diagnostics(&body).contains("X-Request-ID"), "{body}");
    assert_eq!(headers["x-correlation-id"], "c-2");

    let (status, headers, body) = send(sandbox.http.get(&url).header("X-Request-ID", "1234")).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&body, "INVALID_VALUE");
    assert!(
        diagnostics(&body).starts_with("Invalid value - '1234' in header 'X-Request-ID'"),
        "{body}"
    );
    assert_eq!(headers["x-request-id"], "1234");
}

#[tokio::test]
async fn headers_are_checked_before_the_nhs_number_on_read() {
    let sandbox = start().await;
    let url = sandbox.url(&format!("{BASE}/Patient/9000000000"));
    let (status, _, body) = send(sandbox.http.get(&url)).await;
    assert_eq!(status, 400);
    assert_eq!(spine_code(&body), "MISSING_VALUE");
}

#[tokio::test]
async fn a_malformed_authorization_is_access_denied() {
    let sandbox = start().await;
    let (status, _, body) =
        send(get(&sandbox, &format!("/Patient/{ADA}")).header("Authorization", "Token abc")).await;
    assert_eq!(status, 401);
    assert_pds_outcome(&body, "ACCESS_DENIED");
    let (status, _, _) =
        send(get(&sandbox, &format!("/Patient/{ADA}")).header("Authorization", "Bearer abc123"))
            .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_missing_nhs_number_and_wrong_verbs_are_refused() {
    let sandbox = start().await;
    let (status, _, body) = send(get(&sandbox, "/Patient/")).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&body, "UNSUPPORTED_SERVICE");
    let resp = sandbox
        .http
        .delete(sandbox.url(&format!("{BASE}/Patient/{ADA}")))
        .header("X-Request-ID", REQUEST_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, PATCH");
    assert_eq!(resp.headers()["x-request-id"], REQUEST_ID);
}

// ---------------------------------------------------------------- search

async fn search(sandbox: &TestSandbox, query: &str) -> (StatusCode, Value) {
    let resp = get(sandbox, &format!("/Patient?{query}"))
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

fn ids(bundle: &Value) -> Vec<&str> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["resource"]["id"].as_str().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn search_by_family_and_birth_date_scores_an_exact_match_1() {
    let sandbox = start().await;
    let (status, b) = search(
        &sandbox,
        "family=Smith&given=Jane&gender=female&birthdate=eq2010-10-22",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "searchset");
    assert!(b["timestamp"].is_string());
    assert_eq!(b["total"], 1);
    let entry = &b["entry"][0];
    assert_eq!(entry["search"]["score"], 1.0);
    assert_eq!(
        entry["fullUrl"],
        format!(
            "{}{BASE}/Patient/{JANE}",
            sandbox.base.replace("127.0.0.1", "localhost")
        )
    );
    assert_eq!(
        entry["resource"]["generalPractitioner"][0]["identifier"]["value"],
        "B82617"
    );
    // case-insensitive, as PDS is
    let (_, b) = search(&sandbox, "family=smith&birthdate=2010-10-22").await;
    assert_eq!(ids(&b), vec![JANE]);
}

#[tokio::test]
async fn search_takes_birth_date_ranges() {
    let sandbox = start().await;
    let (_, b) = search(
        &sandbox,
        "family=Smith&birthdate=ge2000-01-01&birthdate=le2005-12-31",
    )
    .await;
    assert_eq!(ids(&b), vec![JOHN_DECEASED]);
    let (_, b) = search(&sandbox, "family=Smith&birthdate=ge2001-01-01").await;
    assert_eq!(ids(&b), vec![JANE]);
    let (_, b) = search(&sandbox, "family=Smith&birthdate=le2001-01-01&gender=male").await;
    assert_eq!(ids(&b), vec![JOHN_DECEASED]);
}

#[tokio::test]
async fn wildcards_match_more_with_lower_scores_best_first() {
    let sandbox = start().await;
    let (_, b) = search(&sandbox, "family=Smi*&birthdate=eq2010-10-22").await;
    assert_eq!(b["total"], 2, "{b}");
    let scores: Vec<f64> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["search"]["score"].as_f64().unwrap())
        .collect();
    assert!(scores.iter().all(|s| *s < 1.0 && *s > 0.5), "{scores:?}");
    assert!(scores[0] >= scores[1]);
    assert_eq!(ids(&b)[0], JANE, "Smith is closer to Smi* than Smithson");
}

#[tokio::test]
async fn restricted_patients_are_found_by_name_redacted_but_never_by_postcode_or_practice() {
    let sandbox = start().await;
    let (_, b) = search(&sandbox, "family=Smythe&birthdate=eq2010-10-22").await;
    assert_eq!(ids(&b), vec![JANET_RESTRICTED]);
    let r = &b["entry"][0]["resource"];
    assert_eq!(r["meta"]["security"][0]["code"], "R");
    assert!(r.get("address").is_none() && r.get("generalPractitioner").is_none());

    let (_, b) = search(
        &sandbox,
        "family=Sm*&birthdate=eq2010-10-22&address-postalcode=LS1%206AE",
    )
    .await;
    assert_eq!(ids(&b), vec![JANE]);
    let (_, b) = search(
        &sandbox,
        "family=Sm*&birthdate=eq2010-10-22&general-practitioner=B82617",
    )
    .await;
    assert_eq!(ids(&b), vec![JANE]);
    let (_, b) = search(
        &sandbox,
        "family=Sm*&birthdate=eq2010-10-22&address-postcode=ls16ae",
    )
    .await;
    assert_eq!(
        ids(&b),
        vec![JANE],
        "postcodes compare without case or spaces"
    );
}

#[tokio::test]
async fn fuzzy_search_finds_a_misspelt_name_with_a_partial_score() {
    let sandbox = start().await;
    let (_, b) = search(
        &sandbox,
        "family=Smyth&given=Jane&birthdate=eq2010-10-22&_fuzzy-match=true",
    )
    .await;
    // Jane Smith first; Janet Smythe is a looser match, still above the threshold.
    assert_eq!(ids(&b), vec![JANE, JANET_RESTRICTED], "{b}");
    let score = b["entry"][0]["search"]["score"].as_f64().unwrap();
    assert!(score < 1.0 && score > 0.6, "{score}");
    let (_, b) = search(
        &sandbox,
        "family=Lovelace&given=Adah&birthdate=eq1985-12-03&_fuzzy-match=true",
    )
    .await;
    assert_eq!(ids(&b), vec![ADA], "day and month transposed: {b}");
    let (_, b) = search(&sandbox, "family=Smyth&birthdate=eq2010-10-22").await;
    assert_eq!(b["total"], 0);
    assert!(b.get("entry").is_none());
}

#[tokio::test]
async fn exact_match_drops_partial_scores() {
    let sandbox = start().await;
    let (_, b) = search(
        &sandbox,
        "family=Smi*&birthdate=eq2010-10-22&_exact-match=true",
    )
    .await;
    assert_eq!(b["total"], 0);
}

#[tokio::test]
async fn too_many_matches_is_a_200_operation_outcome() {
    let sandbox = start().await;
    let (status, b) = search(
        &sandbox,
        "family=Smi*&birthdate=eq2010-10-22&_max-results=1",
    )
    .await;
    assert_eq!(status, 200);
    assert_pds_outcome(&b, "TOO_MANY_MATCHES");
    assert_eq!(b["issue"][0]["code"], "multiple-matches");
    assert_eq!(b["issue"][0]["severity"], "information");
}

#[tokio::test]
async fn search_parameter_errors_are_pds_s() {
    let sandbox = start().await;
    let (status, b) = search(&sandbox, "").await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "UNSUPPORTED_SERVICE");
    let (status, b) = search(&sandbox, "family=Smith").await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "MISSING_VALUE");
    assert_eq!(
        diagnostics(&b),
        "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'"
    );
    let (status, b) = search(&sandbox, "given=Jane&birthdate=eq2010-10-22").await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_SEARCH_DATA");
    let (status, b) = search(&sandbox, "family=Smith&birthdate=eq2010-10-22&colour=red").await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "ADDITIONAL_PROPERTIES");
    assert!(diagnostics(&b).contains("'colour' was unexpected"));
    let (status, b) = search(&sandbox, "family=Smith&birthdate=22-10-2010").await;
    assert_eq!(status, 400);
    assert_eq!(
        diagnostics(&b),
        "Invalid value - '22-10-2010' in field 'birthdate'"
    );
    let (status, b) = search(&sandbox, "family=Smith&birthdate=eq2010-10-22&gender=f").await;
    assert_eq!(status, 400);
    assert_eq!(diagnostics(&b), "Invalid value - 'f' in field 'gender'");
    let (status, b) = search(
        &sandbox,
        "family=Smith&birthdate=eq2010-10-22&address-postcode=LS1&address-postalcode=LS1",
    )
    .await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_SEARCH_DATA");
    let resp = sandbox
        .http
        .get(sandbox.url(&format!(
            "{BASE}/Patient?family=Smith&birthdate=eq2010-10-22"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "search needs X-Request-ID too");
}

// ---------------------------------------------------------------- PATCH

#[tokio::test]
async fn changing_the_registered_practice_bumps_the_version_and_is_seen_at_once() {
    let sandbox = start().await;
    let (_, etag, before) = read(&sandbox, ADA).await;
    assert_eq!(
        sandbox
            .running
            .shared
            .pds
            .registered_practice(ADA)
            .as_deref(),
        Some("GPCA0001")
    );
    let (status, headers, after) = send(
        patch(
            &sandbox,
            ADA,
            etag.as_deref(),
            &change_practice(&before, "B82617"),
        )
        .header("X-Correlation-ID", "move-1"),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(headers["x-request-id"], REQUEST_ID);
    assert_eq!(headers["x-correlation-id"], "move-1");
    assert_eq!(after["meta"]["versionId"], "2");
    assert_eq!(gp_of(&after), Some("B82617"));
    assert_eq!(
        after["generalPractitioner"][0]["id"],
        before["generalPractitioner"][0]["id"]
    );
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        after["generalPractitioner"][0]["identifier"]["period"]["start"],
        today
    );
    // The provider's NO_RELATIONSHIP check reads this.
    assert_eq!(
        sandbox
            .running
            .shared
            .pds
            .registered_practice(ADA)
            .as_deref(),
        Some("B82617")
    );
    let (_, etag, reread) = read(&sandbox, ADA).await;
    assert_eq!(etag.as_deref(), Some("W/\"2\""));
    assert_eq!(reread, after);
    let (_, b) = search(
        &sandbox,
        "family=Lovelace&birthdate=1985-03-12&general-practitioner=B82617",
    )
    .await;
    assert_eq!(ids(&b), vec![ADA]);
}

#[tokio::test]
async fn patching_other_fields_works_too() {
    let sandbox = start().await;
    let body = json!({ "patches": [
        { "op": "replace", "path": "/gender", "value": "unknown" },
        { "op": "add", "path": "/telecom/-", "value": { "system": "phone", "value": "01632960587", "use": "home" } }
    ] });
    let (status, headers, after) = send(patch(&sandbox, JANE, Some("W/\"1\""), &body)).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(after["gender"], "unknown");
    assert_eq!(after["telecom"][0]["value"], "01632960587");
    let (_, b) = search(
        &sandbox,
        "family=Smith&birthdate=eq2010-10-22&phone=01632%20960587",
    )
    .await;
    assert_eq!(ids(&b), vec![JANE]);
}

#[tokio::test]
async fn a_missing_or_malformed_if_match_is_412() {
    let sandbox = start().await;
    let (_, _, current) = read(&sandbox, ADA).await;
    let body = change_practice(&current, "B82617");
    let (status, headers, b) = send(patch(&sandbox, ADA, None, &body)).await;
    assert_eq!(status, 412);
    assert_pds_outcome(&b, "PRECONDITION_FAILED");
    assert_eq!(
        diagnostics(&b),
        "Invalid request with error - If-Match header must be supplied to update this resource"
    );
    assert_eq!(headers["x-request-id"], REQUEST_ID);
    let (status, _, b) = send(patch(&sandbox, ADA, Some("1"), &body)).await;
    assert_eq!(status, 412);
    assert!(diagnostics(&b).contains("If-Match header '1'"), "{b}");
}

#[tokio::test]
async fn a_stale_if_match_is_409_and_changes_nothing() {
    let sandbox = start().await;
    let (_, _, current) = read(&sandbox, ADA).await;
    let (status, _, _) = send(patch(
        &sandbox,
        ADA,
        Some("W/\"1\""),
        &change_practice(&current, "B82617"),
    ))
    .await;
    assert_eq!(status, 200);
    let (status, _, b) = send(patch(
        &sandbox,
        ADA,
        Some("W/\"1\""),
        &change_practice(&current, "A20047"),
    ))
    .await;
    assert_eq!(status, 409);
    assert_pds_outcome(&b, "RESOURCE_VERSION_MISMATCH");
    assert_eq!(b["issue"][0]["code"], "conflict");
    assert!(diagnostics(&b).contains("W/\"2\""), "{b}");
    let (_, etag, now) = read(&sandbox, ADA).await;
    assert_eq!(etag.as_deref(), Some("W/\"2\""));
    assert_eq!(gp_of(&now), Some("B82617"));
}

#[tokio::test]
async fn a_patch_must_be_json_patch_in_a_patches_object() {
    let sandbox = start().await;
    let (_, _, current) = read(&sandbox, ADA).await;
    let (status, _, b) = send(
        sandbox
            .http
            .patch(sandbox.url(&format!("{BASE}/Patient/{ADA}")))
            .header("X-Request-ID", REQUEST_ID)
            .header("If-Match", "W/\"1\"")
            .header("Content-Type", "text/plain")
            .body(change_practice(&current, "B82617").to_string()),
    )
    .await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "UNSUPPORTED_SERVICE");
    assert!(diagnostics(&b).contains("Content-Type"));

    let bare = json!([{ "op": "replace", "path": "/gender", "value": "male" }]);
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &bare)).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_UPDATE");
    assert!(diagnostics(&b).starts_with("Invalid update with error - No patches found"));

    let moved = json!({ "patches": [{ "op": "move", "from": "/gender", "path": "/x" }] });
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &moved)).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_VALUE");
    assert_eq!(diagnostics(&b), "Invalid value - 'move' in field '0/op'");
    let (_, etag, _) = read(&sandbox, ADA).await;
    assert_eq!(etag.as_deref(), Some("W/\"1\""), "nothing was applied");
}

#[tokio::test]
async fn forbidden_and_unknown_paths_are_refused() {
    let sandbox = start().await;
    let id = json!({ "patches": [{ "op": "replace", "path": "/id", "value": JANE }] });
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &id)).await;
    assert_eq!(status, 403);
    assert_pds_outcome(&b, "FORBIDDEN_UPDATE");
    assert!(diagnostics(&b).contains("'id'"));
    let unknown = json!({ "patches": [{ "op": "add", "path": "/shoeSize", "value": 9 }] });
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &unknown)).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_UPDATE");
    assert!(diagnostics(&b).contains("'/shoeSize'"));
    let removal = json!({ "patches": [
        { "op": "test", "path": "/generalPractitioner/0/id", "value": gp_id(&sandbox, ADA).await },
        { "op": "remove", "path": "/generalPractitioner/0" }
    ] });
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &removal)).await;
    assert_eq!(status, 403);
    assert_pds_outcome(&b, "FORBIDDEN_UPDATE");
    assert!(diagnostics(&b).contains("NHAIS"), "{b}");
}

async fn gp_id(sandbox: &TestSandbox, nhs: &str) -> String {
    let p = sandbox.running.shared.pds.patient(nhs).unwrap();
    p["generalPractitioner"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_unknown_practice_or_an_end_date_is_refused_naming_it() {
    let sandbox = start().await;
    let (_, _, current) = read(&sandbox, ADA).await;
    let (status, _, b) = send(patch(
        &sandbox,
        ADA,
        Some("W/\"1\""),
        &change_practice(&current, "Y12345"),
    ))
    .await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_VALUE");
    assert!(diagnostics(&b).contains("'Y12345'"), "{b}");
    assert!(
        diagnostics(&b).contains("B82617"),
        "lists the known practices: {b}"
    );
    let mut body = change_practice(&current, "B82617");
    body["patches"][1]["value"]["identifier"]["period"] =
        json!({ "start": "2024-05-01", "end": "2025-05-01" });
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &body)).await;
    assert_eq!(status, 400);
    assert_pds_outcome(&b, "INVALID_UPDATE");
    assert!(diagnostics(&b).contains("period/end"), "{b}");
}

#[tokio::test]
async fn a_restricted_patient_cannot_be_updated() {
    let sandbox = start().await;
    let body = json!({ "patches": [{ "op": "replace", "path": "/gender", "value": "unknown" }] });
    let (status, _, b) = send(patch(&sandbox, JANET_RESTRICTED, Some("W/\"1\""), &body)).await;
    assert_eq!(status, 403);
    assert_pds_outcome(&b, "FORBIDDEN_UPDATE");
    assert!(diagnostics(&b).contains("restricted"));
}

#[tokio::test]
async fn patch_checks_follow_the_official_mocks_order() {
    let sandbox = start().await;
    let url = |nhs: &str| sandbox.url(&format!("{BASE}/Patient/{nhs}"));
    // NHS number before If-Match
    let (status, _, b) = send(sandbox.http.patch(url("9000000000"))).await;
    assert_eq!(
        (status.as_u16(), spine_code(&b)),
        (400, "INVALID_RESOURCE_ID")
    );
    // If-Match before Content-Type and X-Request-ID
    let (status, _, b) = send(sandbox.http.patch(url(ADA))).await;
    assert_eq!(
        (status.as_u16(), spine_code(&b)),
        (412, "PRECONDITION_FAILED")
    );
    // Content-Type before X-Request-ID
    let (status, _, b) = send(sandbox.http.patch(url(ADA)).header("If-Match", "W/\"1\"")).await;
    assert_eq!(
        (status.as_u16(), spine_code(&b)),
        (400, "UNSUPPORTED_SERVICE")
    );
    let (status, _, b) = send(
        sandbox
            .http
            .patch(url(ADA))
            .header("If-Match", "W/\"1\"")
            .header("Content-Type", "application/json-patch+json"),
    )
    .await;
    assert_eq!((status.as_u16(), spine_code(&b)), (400, "MISSING_VALUE"));
    // the patient before the body, the body before the version
    let (status, _, b) = send(patch(&sandbox, "9111231130", Some("W/\"7\""), &json!({}))).await;
    assert_eq!(
        (status.as_u16(), spine_code(&b)),
        (404, "RESOURCE_NOT_FOUND")
    );
    let (status, _, b) = send(patch(
        &sandbox,
        ADA,
        Some("W/\"7\""),
        &json!({ "patches": [] }),
    ))
    .await;
    assert_eq!((status.as_u16(), spine_code(&b)), (400, "INVALID_UPDATE"));
    // the version before the operations
    let moved = json!({ "patches": [{ "op": "move", "path": "/x" }] });
    let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"7\""), &moved)).await;
    assert_eq!(
        (status.as_u16(), spine_code(&b)),
        (409, "RESOURCE_VERSION_MISMATCH")
    );
}

#[tokio::test]
async fn reset_restores_versions_and_registrations() {
    let sandbox = start().await;
    let (_, etag, current) = read(&sandbox, ADA).await;
    let (status, _, _) = send(patch(
        &sandbox,
        ADA,
        etag.as_deref(),
        &change_practice(&current, "B82617"),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(sandbox.reset().await, 204);
    let (_, etag, p) = read(&sandbox, ADA).await;
    assert_eq!(etag.as_deref(), Some("W/\"1\""));
    assert_eq!(gp_of(&p), Some("GPCA0001"));
    assert_eq!(p, current, "object ids survive a reset");
    assert_eq!(
        sandbox
            .running
            .shared
            .pds
            .registered_practice(ADA)
            .as_deref(),
        Some("GPCA0001")
    );
}

#[tokio::test]
async fn every_pds_exchange_is_journalled_with_why_it_was_refused() {
    let sandbox = start().await;
    let _ = read(&sandbox, ADA).await;
    let _ = read(&sandbox, "9000000000").await;
    let _ = send(patch(&sandbox, ADA, None, &json!({}))).await;
    let journal = sandbox.journal().await;
    let pds: Vec<&Value> = journal.iter().filter(|e| e["service"] == "pds").collect();
    assert_eq!(pds.len(), 3, "{journal:?}");
    assert_eq!(pds[0]["status"], 200);
    assert_eq!(pds[1]["status"], 400);
    assert!(
        pds[1]["refusal"]
            .as_str()
            .unwrap()
            .starts_with("INVALID_RESOURCE_ID")
    );
    assert_eq!(pds[2]["method"], "PATCH");
    assert!(
        pds[2]["refusal"]
            .as_str()
            .unwrap()
            .starts_with("PRECONDITION_FAILED")
    );
}

// ---------------------------------------------------------------- concurrency and properties

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_200_concurrent_patches_with_one_if_match_exactly_one_wins() {
    let sandbox = Arc::new(start().await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let sandbox = sandbox.clone();
        tasks.spawn(async move {
            let body = json!({ "patches": [
                { "op": "add", "path": "/telecom/-",
                  "value": { "system": "phone", "value": format!("07700{i:06}") } }
            ] });
            let (status, _, b) = send(patch(&sandbox, ADA, Some("W/\"1\""), &body)).await;
            (status, b)
        });
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    while let Some(joined) = tasks.join_next().await {
        let (status, body) = joined.unwrap();
        match status.as_u16() {
            200 => winners.push(body),
            409 => {
                assert_eq!(spine_code(&body), "RESOURCE_VERSION_MISMATCH");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(conflicts, 199);
    let (_, etag, now) = read(&sandbox, ADA).await;
    assert_eq!(etag.as_deref(), Some("W/\"2\""));
    assert_eq!(now, winners[0]);
    assert_eq!(now["telecom"].as_array().unwrap().len(), 1);
}

mod stale_if_match {
    use proptest::prelude::*;

    use super::*;

    fn an_update() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec!["male", "female", "unknown"])
                .prop_map(|g| json!({ "op": "replace", "path": "/gender", "value": g })),
            "0[0-9]{10}".prop_map(|n| json!({ "op": "add", "path": "/telecom/-",
                "value": { "system": "phone", "value": n } })),
            Just(json!({ "op": "replace", "path": "/birthDate", "value": "1985-03-13" })),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever the patch and however stale (or garbled but well-formed) the version, a PATCH
        /// whose If-Match is not the current version never changes the record.
        #[test]
        fn a_patch_with_a_stale_if_match_never_changes_the_record(
            advance in 0u64..3,
            stale in prop_oneof![0u64..10, any::<u64>()],
            patches in prop::collection::vec(an_update(), 1..4),
        ) {
            let sandbox = shared_sandbox();
            runtime().block_on(async {
                let (_, etag, _) = read(sandbox, JANE).await;
                let mut version: u64 = etag.unwrap()[3..].trim_end_matches('"').parse().unwrap();
                for _ in 0..advance {
                    let body = json!({ "patches": [{ "op": "replace", "path": "/gender", "value": "female" }] });
                    let (status, _, _) = send(patch(sandbox, JANE, Some(&format!("W/\"{version}\"")), &body)).await;
                    assert_eq!(status, 200);
                    version += 1;
                }
                prop_assume!(stale != version);
                let (_, before_etag, before) = read(sandbox, JANE).await;
                let body = json!({ "patches": patches });
                let (status, _, b) = send(patch(sandbox, JANE, Some(&format!("W/\"{stale}\"")), &body)).await;
                prop_assert_eq!(status.as_u16(), 409, "{}", b);
                let (_, after_etag, after) = read(sandbox, JANE).await;
                prop_assert_eq!(before_etag, after_etag);
                prop_assert_eq!(before, after);
                Ok(())
            })?;
        }
    }

    /// One runtime and one sandbox for every case, so pooled connections stay alive.
    fn runtime() -> &'static tokio::runtime::Runtime {
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        })
    }

    fn shared_sandbox() -> &'static TestSandbox {
        static SANDBOX: std::sync::OnceLock<TestSandbox> = std::sync::OnceLock::new();
        SANDBOX.get_or_init(|| runtime().block_on(start()))
    }
}

// ---------------------------------------------------------------- the shipped scenario

#[tokio::test]
async fn the_shipped_scenario_supports_the_migration_journeys_pds_steps() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (_, b) = search(
        &sandbox,
        "family=Whitfield&given=Margaret&birthdate=eq1958-07-23",
    )
    .await;
    assert_eq!(ids(&b), vec![ADA]);
    let (status, etag, current) = read(&sandbox, ADA).await;
    assert_eq!(status, 200);
    assert_eq!(gp_of(&current), Some("GPCA0001"));
    let (status, _, after) = send(patch(
        &sandbox,
        ADA,
        etag.as_deref(),
        &change_practice(&current, "A20047"),
    ))
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        sandbox
            .running
            .shared
            .pds
            .registered_practice(ADA)
            .as_deref(),
        Some("A20047")
    );
    let (_, _, restricted) = read(&sandbox, "9434761026").await;
    assert_eq!(restricted["meta"]["security"][0]["code"], "R");
    assert!(restricted.get("generalPractitioner").is_none());
}
