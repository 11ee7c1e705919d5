//! PDS history (kept on every change, searched by fuzzy and history searches), resetting one
//! patient (admin route and `X-Sandbox-Reset`), the PATCH content type, and the record details a
//! scenario can hold (suffix, periods, temporary address, textphone, birth place, history).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestSandbox, diagnostics, spine_code, start_day, temp_dir};

const BASE: &str = "/personal-demographics/FHIR/R4";
const JANE: &str = "9000000009";
const JAYNE: &str = "9000000017";
const SAM: &str = "5900020584";
const REQUEST_ID: &str = "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f";

async fn sandbox() -> TestSandbox {
    TestSandbox::start("scenarios/pds-sandbox.yaml").await
}

async fn get(sb: &TestSandbox, path: &str) -> (StatusCode, Value) {
    let resp = sb
        .http
        .get(sb.url(&format!("{BASE}{path}")))
        .header("X-Request-ID", REQUEST_ID)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

fn patch_request(
    sb: &TestSandbox,
    nhs: &str,
    version: u64,
    patches: &Value,
) -> reqwest::RequestBuilder {
    patch_as(sb, nhs, version, patches, "application/json-patch+json")
}

fn patch_as(
    sb: &TestSandbox,
    nhs: &str,
    version: u64,
    patches: &Value,
    content_type: &str,
) -> reqwest::RequestBuilder {
    sb.http
        .patch(sb.url(&format!("{BASE}/Patient/{nhs}")))
        .header("X-Request-ID", REQUEST_ID)
        .header("Content-Type", content_type)
        .header("If-Match", format!("W/\"{version}\""))
        .body(json!({ "patches": patches }).to_string())
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

fn rename(family: &str) -> Value {
    json!([
        { "op": "test", "path": "/name/0/id", "value": "123" },
        { "op": "replace", "path": "/name/0/family", "value": family },
    ])
}

fn ids(bundle: &Value) -> Vec<&str> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["resource"]["id"].as_str())
        .collect()
}

#[tokio::test]
async fn a_replaced_name_is_history_that_fuzzy_and_history_searches_find() {
    let sb = sandbox().await;
    let (status, renamed) = send(patch_request(&sb, JANE, 2, &rename("Jones"))).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        renamed["name"].as_array().unwrap().len(),
        1,
        "a read shows no history"
    );
    assert_eq!(renamed["name"][0]["family"], "Jones");

    let by_old_name = "/Patient?family=Smith&given=Jane&gender=female&birthdate=eq2010-10-22";
    let (_, current_only) = get(&sb, by_old_name).await;
    assert!(!ids(&current_only).contains(&JANE), "{current_only}");
    let (_, history) = get(&sb, &format!("{by_old_name}&_history=true")).await;
    assert_eq!(ids(&history), vec![JANE]);
    let found = &history["entry"][0]["resource"];
    assert_eq!(
        found["name"][0]["family"], "Jones",
        "the current record is returned"
    );
    // A fuzzy search always includes history, without being asked.
    let (_, fuzzy) = get(
        &sb,
        "/Patient?family=Smith&given=Jane&gender=female&birthdate=2010-10-22&_fuzzy-match=true",
    )
    .await;
    assert!(ids(&fuzzy).contains(&JANE), "{fuzzy}");

    // The new name is found as usual.
    let (_, by_new) = get(
        &sb,
        "/Patient?family=Jones&gender=female&birthdate=eq2010-10-22",
    )
    .await;
    assert_eq!(ids(&by_new), vec![JANE]);
}

#[tokio::test]
async fn a_historic_email_from_the_scenario_is_found_only_with_history() {
    let sb = sandbox().await;
    let search =
        "/Patient?family=Smith&gender=male&birthdate=2000-05-05&email=Historic@historic.com";
    let (status, without) = get(&sb, search).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(without["total"], 0);
    let (_, with) = get(&sb, &format!("{search}&_history=true")).await;
    assert_eq!(ids(&with), vec![SAM]);
    let telecom = with["entry"][0]["resource"]["telecom"].to_string();
    assert!(
        !telecom.contains("Historic@"),
        "history is searched, never shown"
    );
    // The current email needs no history.
    let (_, current) = get(
        &sb,
        "/Patient?family=Smith&gender=male&birthdate=2000-05-05&email=New@new.com",
    )
    .await;
    assert_eq!(ids(&current), vec![SAM]);
}

#[tokio::test]
async fn one_patient_is_reset_by_the_admin_route_or_a_header() {
    let sb = sandbox().await;
    assert_eq!(
        send(patch_request(&sb, JANE, 2, &rename("Jones"))).await.0,
        StatusCode::OK
    );
    let jayne_patch = json!([
        { "op": "test", "path": "/name/0/id", "value": "123" },
        { "op": "replace", "path": "/name/0/family", "value": "Smythe-Jones" },
    ]);
    assert_eq!(
        send(patch_request(&sb, JAYNE, 2, &jayne_patch)).await.0,
        StatusCode::OK
    );

    let reset = sb
        .http
        .post(sb.url(&format!("/_admin/pds/patients/{JANE}/reset")))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let (_, jane) = get(&sb, &format!("/Patient/{JANE}")).await;
    assert_eq!(
        (
            jane["meta"]["versionId"].as_str(),
            jane["name"][0]["family"].as_str()
        ),
        (Some("2"), Some("Smith"))
    );
    let (_, history) = get(
        &sb,
        "/Patient?family=Jones&gender=female&birthdate=eq2010-10-22&_history=true",
    )
    .await;
    assert_eq!(
        history["total"], 0,
        "the reset forgets the history the change made"
    );
    let (_, jayne) = get(&sb, &format!("/Patient/{JAYNE}")).await;
    assert_eq!(
        jayne["name"][0]["family"], "Smythe-Jones",
        "other patients keep their changes"
    );

    let unknown = sb
        .http
        .post(sb.url("/_admin/pds/patients/9111231130/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // With the header every request starts from the scenario's record: the same If-Match works
    // twice, as against a stateless sandbox.
    for _ in 0..2 {
        let (status, body) =
            send(patch_request(&sb, JAYNE, 2, &jayne_patch).header("X-Sandbox-Reset", "patient"))
                .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["meta"]["versionId"], "3");
    }
    let (status, outcome) = send(
        sb.http
            .get(sb.url(&format!("{BASE}/Patient/{JANE}")))
            .header("X-Request-ID", REQUEST_ID)
            .header("X-Sandbox-Reset", "everything"),
    )
    .await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (StatusCode::BAD_REQUEST, "INVALID_VALUE")
    );
    assert!(diagnostics(&outcome).contains("X-Sandbox-Reset"));
}

#[tokio::test]
async fn a_patch_must_be_sent_as_json_patch() {
    let sb = sandbox().await;
    let add_nickname = json!([{ "op": "add", "path": "/name/-",
        "value": { "use": "nickname", "given": ["Janey"], "family": "Smith", "period": { "start": "2020-01-01" } } }]);
    for refused in ["application/json", "application/fhir+json", "text/plain"] {
        let (status, outcome) = send(patch_as(&sb, JANE, 2, &add_nickname, refused)).await;
        assert_eq!(
            (status, spine_code(&outcome)),
            (StatusCode::BAD_REQUEST, "UNSUPPORTED_SERVICE"),
            "{refused}"
        );
        assert!(diagnostics(&outcome).contains("application/json-patch+json"));
    }
    let (status, body) = send(patch_as(
        &sb,
        JANE,
        2,
        &add_nickname,
        "application/json-patch+json; charset=utf-8",
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn extension<'v>(patient: &'v Value, url_end: &str) -> Option<&'v Value> {
    patient["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"].as_str().is_some_and(|u| u.ends_with(url_end)))
}

#[tokio::test]
async fn the_scenario_holds_suffix_periods_temporary_address_textphone_and_birth_place() {
    let sb = sandbox().await;
    let (_, jane) = get(&sb, &format!("/Patient/{JANE}")).await;
    let name = &jane["name"][0];
    assert_eq!(name["suffix"], json!(["MBE"]));
    assert_eq!(
        name["period"],
        json!({ "start": "2024-01-01", "end": "2025-12-31" })
    );
    let addresses = jane["address"].as_array().unwrap();
    assert_eq!(addresses[0]["use"], "home");
    assert_eq!(addresses[0]["period"]["start"], "2024-01-01");
    let temp = &addresses[1];
    assert_eq!(
        (temp["use"].as_str(), temp["id"].as_str()),
        (Some("temp"), Some("T456"))
    );
    assert_eq!(temp["text"], "Student Accommodation");
    assert_eq!(temp["period"]["end"], "2025-12-31");
    let textphone = jane["telecom"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "OC789")
        .unwrap();
    assert_eq!(textphone["system"], "other");
    assert_eq!(
        textphone["extension"][0]["valueCoding"]["code"],
        "textphone"
    );
    assert_eq!(jane["telecom"][1]["period"]["end"], "2022-12-31");
    let birth = extension(&jane, "patient-birthPlace").unwrap();
    assert_eq!(
        birth["valueAddress"],
        json!({ "city": "Manchester", "district": "Greater Manchester", "country": "GBR" })
    );
    assert_eq!(
        addresses[0]["extension"][0]["extension"][0]["valueCoding"]["code"],
        "PAF"
    );
    assert_eq!(
        addresses[0]["extension"][1]["extension"][1]["valueString"],
        "123456789012"
    );
    assert_eq!(temp["extension"].as_array().map(Vec::len), Some(2));
    let gp = &jane["generalPractitioner"][0];
    assert_eq!(gp["id"], "254406A3");
    assert_eq!(gp["identifier"]["period"]["start"], "2024-01-01");
    assert_eq!(
        jane["managingOrganization"]["identifier"]["period"]["end"],
        "2025-12-31"
    );
    assert_eq!(jane["contact"][0]["period"]["start"], "2024-01-01");
    let removal = extension(&jane, "RemovalFromRegistration").unwrap();
    assert_eq!(
        removal["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "SCT"
    );
    assert_eq!(
        removal["extension"][1]["valuePeriod"]["start"],
        "2020-01-01T00:00:00+00:00"
    );
    let (_, related) = get(&sb, &format!("/Patient/{JANE}/RelatedPerson/507B7621")).await;
    assert_eq!(related["period"]["end"], "2025-12-31");
    assert_eq!(related["name"][0]["suffix"], json!(["MBE"]));
    assert_eq!(related["name"][0]["period"]["start"], "2024-01-01");
    assert_eq!(related["address"][0]["period"]["start"], "2024-01-01");
    assert_eq!(
        related["address"][0]["extension"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(related["telecom"][0]["period"]["end"], "2025-12-31");

    // A search returns the home address only.
    let (_, found) = get(
        &sb,
        "/Patient?family=Smith&given=Jane&gender=female&birthdate=eq2010-10-22",
    )
    .await;
    let resource = &found["entry"][0]["resource"];
    assert_eq!(resource["address"].as_array().map(Vec::len), Some(1));
    assert_eq!(resource["name"][0]["suffix"], json!(["MBE"]));
    assert!(
        resource.get("managingOrganization").is_none(),
        "PDS's search result has no managing organisation"
    );

    // An address change keeps the temporary address's rules (its period) and the record valid.
    let (status, moved) = send(patch_request(
        &sb,
        JANE,
        2,
        &json!([
            { "op": "replace", "path": "/address/0/id", "value": "456" },
            { "op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU" },
        ]),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (_, by_old_postcode) = get(
        &sb,
        "/Patient?family=Smith&gender=female&birthdate=eq2010-10-22&address-postalcode=LS1%206AE&_history=true",
    )
    .await;
    assert!(ids(&by_old_postcode).contains(&JANE), "{by_old_postcode}");
}

#[tokio::test]
async fn a_patch_leaves_no_empty_list_behind() {
    let sb = sandbox().await;
    let (status, patched) = send(patch_request(
        &sb,
        JANE,
        2,
        &json!([
            { "op": "test", "path": "/name/0/id", "value": "123" },
            { "op": "remove", "path": "/name/0/suffix/0" },
        ]),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert!(
        patched["name"][0].get("suffix").is_none(),
        "no empty suffix list: {}",
        patched["name"][0]
    );
}

#[test]
fn scenario_details_are_checked_with_their_place() {
    let dir = temp_dir("pds-details");
    let file = dir.join("details.yaml");
    std::fs::write(
        &file,
        r#"practices:
  - { ods: Y12345, name: Practice, asid: "900000012345", provider: false }
patients:
  - nhs_number: "9000000009"
    name: { given: [Jane], family: Smith, suffix: [MBE] }
    gender: female
    birth_date: 2010-10-22
    registered_with: Y12345
    name_period: { start: 2025-01-01, end: 2024-01-01 }
    temporary_address: { lines: [1 Road], postcode: LS1 6AE }
    birth_place: { country: England }
    historic_names: [{ given: [Jane] }]
    telecom: [{ system: textphone, value: "not a number" }]
    coverage: { card_number: "bad!", country: FRA, institution: X1, personal_id: P1, expires: soon }
    address_keys: { paf: "12x" }
    removal_from_registration: { code: XYZ }
pds:
  nhs_number_allocation: { first: "9000000000", last: "12" }
"#,
    )
    .unwrap();
    let errors = spine_sandbox::load_paths(&[file], start_day()).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    for expected in [
        "details.yaml:10:",
        "period starts (2025-01-01) after it ends (2024-01-01)",
        "temporary_address needs a period with a start and an end",
        "birth_place country 'England' must be an ISO 3166 alpha-3 code",
        "historic name has no family name",
        "textphone number 'not a number'",
        "coverage card_number 'bad!'",
        "coverage expires 'soon' must be a date",
        "nhs_number_allocation last '12' must be 10 digits",
        "address key paf '12x' must be 1 to 8 digits",
        "removal_from_registration code 'XYZ' must be DEA, EMB, SCT, NIT, TRA or ORR",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

#[test]
fn only_one_file_may_declare_the_allocation_range() {
    let dir = temp_dir("pds-two-ranges");
    let range = "pds:\n  nhs_number_allocation: { first: \"5182663366\", last: \"5182669999\" }\n";
    std::fs::write(dir.join("a.yaml"), range).unwrap();
    std::fs::write(dir.join("b.yaml"), range).unwrap();
    let errors = spine_sandbox::load_paths(&[dir], start_day()).unwrap_err();
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        all.iter()
            .any(|e| e.contains("b.yaml:2:") && e.contains("already declared in")),
        "{all:?}"
    );
}
