//! PDS's EHIC `Coverage` (read and replace) and patient creation (`POST /Patient`), on the
//! official PDS sandbox's patients (`scenarios/pds-sandbox.yaml`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestSandbox, diagnostics, spine_code};

const BASE: &str = "/personal-demographics/FHIR/R4";
const JANE: &str = "9000000009";
const MINIMAL: &str = "9000000033";
const REQUEST_ID: &str = "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f";

async fn sandbox() -> TestSandbox {
    TestSandbox::start("scenarios/pds-sandbox.yaml").await
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

async fn coverage_of(
    sb: &TestSandbox,
    nhs: &str,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    send(
        sb.http
            .get(sb.url(&format!("{BASE}/Coverage?subscriber:identifier={nhs}")))
            .header("X-Request-ID", REQUEST_ID),
    )
    .await
}

fn card(nhs: &str, number: &str) -> Value {
    json!({
        "resourceType": "Coverage",
        "identifier": [{ "value": number,
            "assigner": { "identifier": { "system": "urn:iso:std:iso:3166", "value": "DEU" } } }],
        "status": "active",
        "beneficiary": { "identifier": { "value": "9876543218" } },
        "period": { "end": "2030-08-20" },
        "payor": [{ "identifier": { "value": "DE98735" } }],
        "subscriber": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs } },
    })
}

async fn post_coverage(
    sb: &TestSandbox,
    if_match: Option<&str>,
    body: &Value,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = sb
        .http
        .post(sb.url(&format!("{BASE}/Coverage")))
        .header("X-Request-ID", REQUEST_ID)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    send(req).await
}

#[tokio::test]
async fn coverage_is_read_by_subscriber_and_replaced_under_the_patients_version() {
    let sb = sandbox().await;
    let (status, bundle, headers) = coverage_of(&sb, JANE).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(
        (bundle["type"].as_str(), bundle["total"].as_u64()),
        (Some("searchset"), Some(1))
    );
    let held = &bundle["entry"][0]["resource"];
    assert_eq!(held["resourceType"], "Coverage");
    assert_eq!(held["subscriber"]["identifier"]["value"], JANE);
    assert_eq!(held["identifier"][0]["value"], "ES456789012345");
    assert_eq!(
        held["identifier"][0]["assigner"]["identifier"]["value"],
        "FRA"
    );

    // None held: an empty searchset.
    let (status, none, _) = coverage_of(&sb, MINIMAL).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["total"], 0);
    assert!(none.get("entry").is_none());

    // Replacing it bumps the patient's version, which a PATCH then has to use.
    let (status, created, headers) =
        post_coverage(&sb, Some("W/\"2\""), &card(JANE, "DE1234")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(headers["etag"], "W/\"3\"");
    assert_eq!(
        created["entry"][0]["resource"]["identifier"][0]["value"],
        "DE1234"
    );
    let (_, again, _) = coverage_of(&sb, JANE).await;
    assert_eq!(
        again["entry"][0]["resource"]["identifier"][0]["value"],
        "DE1234"
    );
    let read = sb
        .http
        .get(sb.url(&format!("{BASE}/Patient/{JANE}")))
        .header("X-Request-ID", REQUEST_ID)
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["etag"], "W/\"3\"");

    // The old version is now stale.
    let (status, stale, _) = post_coverage(&sb, Some("W/\"2\""), &card(JANE, "DE9")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(spine_code(&stale), "RESOURCE_VERSION_MISMATCH");

    // A patient without a card gets one.
    let (status, _, headers) = post_coverage(&sb, Some("W/\"2\""), &card(MINIMAL, "AT55")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["etag"], "W/\"3\"");
    assert_eq!(coverage_of(&sb, MINIMAL).await.1["total"], 1);
}

#[tokio::test]
async fn coverage_refusals_name_the_field() {
    let sb = sandbox().await;
    let cases: Vec<(Option<&str>, Value, StatusCode, &str, &str)> = vec![
        (
            None,
            card(JANE, "X1"),
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
            "If-Match",
        ),
        (
            Some("W/\"2\""),
            {
                let mut c = card(JANE, "X1");
                c["identifier"][0].as_object_mut().unwrap().remove("value");
                c
            },
            StatusCode::BAD_REQUEST,
            "MISSING_VALUE",
            "Missing value - 'identifier/0/value'",
        ),
        (
            Some("W/\"2\""),
            {
                let mut c = card(JANE, "X1");
                c["status"] = json!("Expired");
                c
            },
            StatusCode::BAD_REQUEST,
            "INVALID_VALUE",
            "Invalid value - 'Expired' in field 'status'",
        ),
        (
            Some("W/\"2\""),
            card("9000000000", "X1"),
            StatusCode::BAD_REQUEST,
            "INVALID_RESOURCE_ID",
            "9000000000",
        ),
        (
            Some("W/\"1\""),
            card("9111231130", "X1"),
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            "9111231130",
        ),
        (
            Some("W/\"2\""),
            card("9000000025", "X1"),
            StatusCode::FORBIDDEN,
            "FORBIDDEN_UPDATE",
            "restricted",
        ),
    ];
    for (if_match, body, status, code, says) in cases {
        let (got, outcome, _) = post_coverage(&sb, if_match, &body).await;
        assert_eq!((got, spine_code(&outcome)), (status, code), "{outcome}");
        assert!(diagnostics(&outcome).contains(says), "{outcome}");
    }
    // The search takes one parameter, subscriber:identifier.
    let (status, outcome, _) = send(
        sb.http
            .get(sb.url(&format!(
                "{BASE}/Coverage?subscriber:identifier={JANE}&year=2003"
            )))
            .header("X-Request-ID", REQUEST_ID),
    )
    .await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "INVALID_SEARCH_DATA")
    );
    assert!(diagnostics(&outcome).contains("subscriber:identifier=NHS_NUMBER"));
    let (status, outcome, _) = send(
        sb.http
            .get(sb.url(&format!("{BASE}/Coverage?subscriber:identifier={JANE}"))),
    )
    .await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "MISSING_VALUE")
    );
    let (status, outcome, _) = coverage_of(&sb, "9111231130").await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND")
    );
}

fn new_patient(family: &str, given: &str, postcode: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "name": [{ "use": "usual", "given": [given], "family": family, "prefix": ["Mrs"],
                   "period": { "start": "1986-07-01" } }],
        "address": [{ "line": ["1 Trevelyan Square", "", "Boar Lane", "Leeds"], "postalCode": postcode,
                      "use": "home", "period": { "start": "2020-01-01" } }],
        "gender": "female",
        "birthDate": "1982-07-10",
        "telecom": [{ "system": "phone", "value": "01632960587", "use": "home" }],
        "extension": [{
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-RegisteringAuthority",
            "extension": [
                { "url": "registeringAuthorityType", "valueCodeableConcept": { "coding": [{
                    "system": "https://fhir.nhs.uk/CodeSystem/UKCore-RegisteringAuthorityType", "code": "x" }] } },
                { "url": "organisationIdentifier", "valueString": "RGS" }
            ]
        }],
    })
}

async fn create(sb: &TestSandbox, body: &Value) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    send(
        sb.http
            .post(sb.url(&format!("{BASE}/Patient")))
            .header("X-Request-ID", REQUEST_ID)
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn a_created_patient_gets_the_next_number_of_the_range_and_can_be_read_and_found() {
    let sb = sandbox().await;
    let (status, created, headers) = create(&sb, &new_patient("Edwards", "Jane", "LS1 6AE")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["id"], "5182663366",
        "the first valid number of the declared range"
    );
    assert_eq!(created["identifier"][0]["value"], "5182663366");
    assert_eq!(created["meta"]["versionId"], "1");
    assert_eq!(headers["etag"], "W/\"1\"");
    assert!(
        headers["content-location"]
            .to_str()
            .unwrap()
            .ends_with("/Patient/5182663366")
    );
    assert_eq!(
        created["address"][0]["line"],
        json!(["1 Trevelyan Square", "Boar Lane", "Leeds"])
    );
    assert_eq!(created["name"][0]["id"].as_str().map(str::len), Some(8));
    assert!(
        created.get("extension").is_none(),
        "the registering authority is not kept"
    );

    let read = send(
        sb.http
            .get(sb.url(&format!("{BASE}/Patient/5182663366")))
            .header("X-Request-ID", REQUEST_ID),
    )
    .await;
    assert_eq!(read.0, StatusCode::OK);
    assert_eq!(read.1["name"][0]["family"], "Edwards");

    // The same person again is found, not created twice.
    let (status, outcome, _) = create(&sb, &new_patient("Edwards", "Jane", "LS1 6AE")).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::OK, "SINGLE_MATCH")
    );
    assert!(diagnostics(&outcome).contains("5182663366"));

    // Someone else gets the next valid number (numbers failing Modulus 11 are skipped).
    let (status, second, _) = create(&sb, &new_patient("Okafor", "Ada", "LS2 7AA")).await;
    assert_eq!(status, StatusCode::CREATED);
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert!(
        second_id.as_str() > "5182663366" && second_id.starts_with("51826"),
        "{second_id}"
    );

    // A reset forgets both and gives the numbers back.
    assert_eq!(sb.reset().await, StatusCode::NO_CONTENT);
    let (status, _, _) = send(
        sb.http
            .get(sb.url(&format!("{BASE}/Patient/5182663366")))
            .header("X-Request-ID", REQUEST_ID),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, again, _) = create(&sb, &new_patient("Okafor", "Ada", "LS2 7AA")).await;
    assert_eq!(again["id"], "5182663366");
}

#[tokio::test]
async fn creating_someone_pds_already_holds_answers_the_match() {
    let sb = sandbox().await;
    let (status, single, _) = create(&sb, &new_patient("McMatch-Single", "Jane", "BAP 4WG")).await;
    assert_eq!(
        (status, spine_code(&single)),
        (StatusCode::OK, "SINGLE_MATCH")
    );
    assert_eq!(
        diagnostics(&single),
        "Unable to create new patient. NHS number 5900054586 found for supplied demographic data."
    );
    let (status, multiple, _) =
        create(&sb, &new_patient("McMatch-Multiple", "Louisa", "DN19 7UD")).await;
    assert_eq!(
        (status, spine_code(&multiple)),
        (StatusCode::OK, "MULTIPLE_MATCHES")
    );
}

#[tokio::test]
async fn a_create_request_is_checked_in_pds_order() {
    let sb = sandbox().await;
    let without = |field: &str| {
        let mut body = new_patient("Edwards", "Jane", "LS1 6AE");
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let (status, outcome, _) = create(&sb, &without("address")).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "MISSING_VALUE")
    );
    assert_eq!(diagnostics(&outcome), "Missing value - 'address'");
    let mut other = new_patient("Edwards", "Jane", "LS1 6AE");
    other["gender"] = json!("other");
    let (status, outcome, _) = create(&sb, &other).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "INVALID_VALUE")
    );
    assert_eq!(
        diagnostics(&outcome),
        "Invalid value - 'other' in field 'gender'"
    );
    let mut pets = new_patient("Edwards", "Jane", "LS1 6AE");
    pets["pets"] = json!(["cat"]);
    let (status, outcome, _) = create(&sb, &pets).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "ADDITIONAL_PROPERTIES")
    );
    let (status, outcome, _) = create(&sb, &without("extension")).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "MISSING_VALUE")
    );
    assert!(diagnostics(&outcome).contains("RegisteringAuthority"));
    let (status, outcome, _) = send(
        sb.http
            .post(sb.url(&format!("{BASE}/Patient")))
            .header("X-Request-ID", "123456")
            .header("Content-Type", "application/json")
            .body(new_patient("Edwards", "Jane", "LS1 6AE").to_string()),
    )
    .await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "INVALID_VALUE")
    );
    assert!(diagnostics(&outcome).contains("'123456' in header 'X-Request-ID'"));
}

#[tokio::test]
async fn allocation_stops_at_the_end_of_the_declared_range() {
    let mut world = spine_sandbox::load_paths(
        &[crate::support::repo_path("scenarios/pds-sandbox.yaml")],
        crate::support::start_day(),
    )
    .unwrap();
    assert_eq!(
        world.pds.nhs_number_allocation,
        (5_182_663_366, 5_182_669_999)
    );
    world.pds.nhs_number_allocation = (5_182_663_366, 5_182_663_366);
    let sb = TestSandbox::start_world(world).await;
    let (status, _, _) = create(&sb, &new_patient("Edwards", "Jane", "LS1 6AE")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, outcome, _) = create(&sb, &new_patient("Okafor", "Ada", "LS2 7AA")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        diagnostics(&outcome).contains("nhs_number_allocation"),
        "{outcome}"
    );
}
