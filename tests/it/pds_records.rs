//! What a PDS record holds beyond the basics, on the official PDS sandbox's patients
//! (`scenarios/pds-sandbox.yaml`): telecom and object ids, the starting version, extensions and
//! their PATCH rules, the date of death, related people, boolean search parameters, scores, and
//! CORS on every plain-HTTP service.

use reqwest::StatusCode;
use serde_json::{Value, json};
use spine_sandbox::load_paths;

use crate::support::{TestSandbox, diagnostics, spine_code, start_day, temp_dir};

const BASE: &str = "/personal-demographics/FHIR/R4";
const JANE: &str = "9000000009";
const JAYNE: &str = "9000000017";
const JANET_RESTRICTED: &str = "9000000025";
const MINIMAL: &str = "9000000033";
const KATHY: &str = "9736363120";
const REQUEST_ID: &str = "0d6c2f6e-9b1a-4c77-a0f5-5a3b2c1d0e9f";
const COMMUNICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication";
const CONTACT_PREFERENCE: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference";
const DEATH: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";

async fn sandbox() -> TestSandbox {
    TestSandbox::start("scenarios/pds-sandbox.yaml").await
}

async fn get(sb: &TestSandbox, path: &str) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let resp = sb
        .http
        .get(sb.url(&format!("{BASE}{path}")))
        .header("X-Request-ID", REQUEST_ID)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

async fn patch(sb: &TestSandbox, nhs: &str, version: u64, patches: Value) -> (StatusCode, Value) {
    let resp = sb
        .http
        .patch(sb.url(&format!("{BASE}/Patient/{nhs}")))
        .header("X-Request-ID", REQUEST_ID)
        .header("Content-Type", "application/json-patch+json")
        .header("If-Match", format!("W/\"{version}\""))
        .json(&json!({ "patches": patches }))
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

fn extension<'v>(patient: &'v Value, url: &str) -> Option<&'v Value> {
    patient["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url)
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
async fn a_read_carries_what_the_scenario_gives() {
    let sb = sandbox().await;
    let (status, jane, headers) = get(&sb, &format!("/Patient/{JANE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(jane["meta"]["versionId"], "2");
    assert_eq!(jane["name"][0]["id"], "123");
    assert_eq!(jane["address"][0]["id"], "456");
    assert_eq!(
        jane["telecom"],
        json!([
            { "id": "789", "system": "phone", "value": "01632960587", "use": "home",
              "period": { "start": "2024-01-01", "end": "2025-12-31" } },
            { "id": "790", "system": "email", "value": "jane.smith@example.com", "use": "home",
              "period": { "start": "2019-01-01", "end": "2022-12-31" } },
            { "id": "OC789", "system": "other", "value": "01632960587", "use": "home",
              "period": { "start": "2024-01-01", "end": "2025-12-31" },
              "extension": [{
                  "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem",
                  "valueCoding": {
                      "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem",
                      "code": "textphone", "display": "Minicom (Textphone)" } }] },
        ])
    );
    assert_eq!(jane["contact"][0]["id"], "C123");
    assert_eq!(
        jane["contact"][0]["relationship"][0]["coding"][0]["code"],
        "C"
    );
    assert_eq!(jane["multipleBirthInteger"], 1);
    assert_eq!(
        jane["managingOrganization"]["identifier"]["value"],
        "Y12345"
    );
    // PDS's own order: pharmacies, death, communication, contact preferences.
    let urls: Vec<&str> = jane["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap().rsplit('-').next().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "NominatedPharmacy",
            "PreferredDispenserOrganization",
            "MedicalApplianceSupplier",
            "DeathNotificationStatus",
            "NHSCommunication",
            "ContactPreference",
            "birthPlace",
            "RemovalFromRegistration"
        ]
    );
    let communication = extension(&jane, COMMUNICATION).unwrap();
    assert_eq!(
        communication["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "fr"
    );
    assert_eq!(communication["extension"][1]["valueBoolean"], true);
}

#[tokio::test]
async fn related_people_are_served_as_a_searchset() {
    let sb = sandbox().await;
    let (status, one, _) = get(&sb, &format!("/Patient/{JAYNE}/RelatedPerson")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["resourceType"], "Bundle");
    assert_eq!(one["type"], "searchset");
    assert_eq!(one["total"], 1);
    let person = &one["entry"][0]["resource"];
    assert_eq!(person["resourceType"], "RelatedPerson");
    assert_eq!(person["id"], "F4CF8B96");
    assert!(
        one["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Patient/{JAYNE}/RelatedPerson/F4CF8B96"))
    );
    // Details held here, no record of their own: no `patient` at all (an empty object, as
    // PDS's example shows, is not valid FHIR).
    assert!(person.get("patient").is_none(), "{person}");
    assert_eq!(person["name"][0]["family"], "Smith");
    assert_eq!(person["relationship"][0]["coding"][0]["code"], "Guardian");
    assert_eq!(person["address"][0]["postalCode"], "LS1 6AE");
    let rank = person["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().ends_with("ContactRank"))
        .unwrap();
    assert_eq!(rank["valuePositiveInt"], 1);

    let (_, none, _) = get(&sb, &format!("/Patient/{JANET_RESTRICTED}/RelatedPerson")).await;
    assert_eq!(none["total"], 0);
    assert!(none.get("entry").is_none());

    let (_, two, _) = get(&sb, &format!("/Patient/{JANE}/RelatedPerson")).await;
    assert_eq!(two["total"], 2);
    let referenced = &two["entry"][1]["resource"];
    assert_eq!(referenced["patient"]["identifier"]["value"], JANE);
    assert!(referenced.get("name").is_none());

    let (status, single, _) = get(&sb, &format!("/Patient/{JANE}/RelatedPerson/B3380E98")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(single["id"], "B3380E98");
    let (status, missing, _) = get(&sb, &format!("/Patient/{JANE}/RelatedPerson/NOPE")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(diagnostics(&missing).contains("NOPE"));
    let (status, body, _) = get(&sb, "/Patient/9111231130/RelatedPerson").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(spine_code(&body), "RESOURCE_NOT_FOUND");
    let (status, body, _) = get(&sb, "/Patient/9000000000/RelatedPerson").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(spine_code(&body), "INVALID_RESOURCE_ID");
}

#[tokio::test]
async fn phone_and_email_searches_find_patients() {
    let sb = sandbox().await;
    let (_, by_email, _) = get(
        &sb,
        "/Patient?family=Smith&gender=female&birthdate=eq2010-10-22&email=jane.smith@example.com",
    )
    .await;
    assert_eq!(ids(&by_email), [JANE]);
    let (_, by_phone, _) = get(
        &sb,
        "/Patient?family=Smith&gender=female&birthdate=eq2010-10-22&phone=01632%20960587",
    )
    .await;
    assert_eq!(ids(&by_phone), [JANE]);
    let (_, neither, _) = get(
        &sb,
        "/Patient?family=Smith&gender=female&birthdate=eq2010-10-22&phone=0121111111",
    )
    .await;
    assert_eq!(neither["total"], 0);
}

#[tokio::test]
async fn boolean_parameters_take_any_letter_case() {
    let sb = sandbox().await;
    for value in ["true", "True", "TRUE"] {
        let (status, bundle, _) = get(
            &sb,
            &format!(
                "/Patient?family=Smith&given=Jane&gender=female&birthdate=2010-10-22&_fuzzy-match={value}"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{value}: {bundle}");
        assert!(ids(&bundle).contains(&JAYNE), "fuzzy finds Jayne Smyth");
    }
    let (status, bundle, _) = get(
        &sb,
        "/Patient?family=KNAPP&gender=female&birthdate=1943-07-03&_exact-match=True&_history=False",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&bundle), [KATHY]);
    let (status, body, _) = get(
        &sb,
        "/Patient?family=Smith&birthdate=2010-10-22&_fuzzy-match=yes",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    assert!(diagnostics(&body).contains("'yes' in field '_fuzzy-match'"));
}

#[tokio::test]
async fn scores_come_close_to_pds() {
    let sb = sandbox().await;
    let (_, wildcard, _) = get(
        &sb,
        "/Patient?family=Sm*&gender=female&birthdate=eq2010-10-22",
    )
    .await;
    let scores: Vec<f64> = wildcard["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["search"]["score"].as_f64().unwrap())
        .collect();
    assert!(scores.iter().all(|s| *s == 0.8343), "{scores:?}");
    // Fuzzy: a death date that differs lowers the score instead of excluding the patient.
    let (_, fuzzy, _) = get(
        &sb,
        "/Patient?family=Smith&given=Jane&birthdate=2010-10-22&death-date=eq2011-01-01&_fuzzy-match=true",
    )
    .await;
    let jane = fuzzy["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["id"] == JANE)
        .unwrap();
    assert!(jane["search"]["score"].as_f64().unwrap() < 1.0);
    let (_, plain, _) = get(
        &sb,
        "/Patient?family=Smith&given=Jane&birthdate=2010-10-22&death-date=eq2011-01-01",
    )
    .await;
    assert_eq!(plain["total"], 0, "not fuzzy: the death date must match");
}

#[tokio::test]
async fn communication_and_contact_preferences_can_be_patched() {
    let sb = sandbox().await;
    let (status, body) = patch(
        &sb,
        MINIMAL,
        2,
        json!([{ "op": "add", "path": "/extension/-", "value": {
            "url": COMMUNICATION,
            "extension": [
                { "url": "language", "valueCodeableConcept": { "coding": [{
                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                    "code": "q4", "display": "British Sign Language" }] } },
                { "url": "interpreterRequired", "valueBoolean": true },
            ] } }]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["versionId"], "3");
    let (_, read, headers) = get(&sb, &format!("/Patient/{MINIMAL}")).await;
    assert_eq!(headers["etag"], "W/\"3\"");
    assert_eq!(
        extension(&read, COMMUNICATION).unwrap()["extension"][0]["valueCodeableConcept"]["coding"]
            [0]["code"],
        "q4"
    );
    // The old version is now stale.
    let (status, body) = patch(
        &sb,
        MINIMAL,
        2,
        json!([{ "op": "remove", "path": "/extension/0" }]),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(spine_code(&body), "RESOURCE_VERSION_MISMATCH");

    // Jane's contact preference is /extension/5: change the method, keep the rest.
    let (status, body) = patch(
        &sb,
        JANE,
        2,
        json!([{ "op": "replace", "path": "/extension/5/extension/1", "value": {
            "url": "PreferredContactMethod", "valueCodeableConcept": { "coding": [{
                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod",
                "code": "3", "display": "Telephone" }] } } }]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let preference = extension(&body, CONTACT_PREFERENCE).unwrap();
    assert_eq!(
        preference["extension"][1]["valueCodeableConcept"]["coding"][0]["code"],
        "3"
    );
    // Nominated pharmacy (/extension/0) replaced.
    let (status, body) = patch(
        &sb,
        JANE,
        3,
        json!([{ "op": "replace", "path": "/extension/0/valueReference/identifier/value", "value": "FA565" }]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["extension"][0]["valueReference"]["identifier"]["value"],
        "FA565"
    );
}

#[tokio::test]
async fn extension_patches_are_checked() {
    let sb = sandbox().await;
    let language = |code: &str| {
        json!([{ "op": "replace", "path": "/extension/4/extension/0", "value": {
            "url": "language", "valueCodeableConcept": { "coding": [{
                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage", "code": code }] } } }])
    };
    let (status, body) = patch(&sb, JANE, 2, language("en")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(diagnostics(&body).contains("English"), "{body}");
    let (status, body) = patch(&sb, JANE, 2, language("qa")).await;
    assert_eq!(spine_code(&body), "INVALID_VALUE", "{status} {body}");
    assert!(diagnostics(&body).contains("'qa'"));

    // Contact times without a method.
    let (status, body) = patch(
        &sb,
        JANE,
        2,
        json!([{ "op": "replace", "path": "/extension/5", "value": {
            "url": CONTACT_PREFERENCE,
            "extension": [{ "url": "PreferredContactTimes", "valueString": "after 6pm" }] } }]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(diagnostics(&body).contains("contact method"), "{body}");

    // The retired fhir.nhs.uk URL is refused with the current one named.
    let (status, body) = patch(
        &sb,
        JANE,
        2,
        json!([{ "op": "replace", "path": "/extension/4/url",
                 "value": "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NHSCommunication" }]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(diagnostics(&body).contains(COMMUNICATION), "{body}");

    // Nothing above was kept.
    let (_, read, _) = get(&sb, &format!("/Patient/{JANE}")).await;
    assert_eq!(read["meta"]["versionId"], "2");
}

#[tokio::test]
async fn the_date_of_death_follows_pds_rules() {
    let sb = sandbox().await;
    let informal = json!({
        "url": DEATH,
        "extension": [{ "url": "deathNotificationStatus", "valueCodeableConcept": { "coding": [{
            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
            "code": "1" }] } }],
    });
    let (status, body) = patch(
        &sb,
        MINIMAL,
        2,
        json!([{ "op": "add", "path": "/deceasedDateTime", "value": "2020-01-01T00:00:00+00:00" }]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(diagnostics(&body).contains("death notification"), "{body}");

    let mut formal = informal.clone();
    formal["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = json!("2");
    let (status, body) = patch(
        &sb,
        MINIMAL,
        2,
        json!([{ "op": "add", "path": "/deceasedDateTime", "value": "2020-01-01T00:00:00+00:00" },
               { "op": "add", "path": "/extension/-", "value": formal }]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(spine_code(&body), "FORBIDDEN_UPDATE");

    let (status, body) = patch(
        &sb,
        MINIMAL,
        2,
        json!([{ "op": "add", "path": "/deceasedDateTime", "value": "2020-01-01T00:00:00+00:00" },
               { "op": "add", "path": "/extension/-", "value": informal }]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deceasedDateTime"], "2020-01-01T00:00:00+00:00");
    // The new death shows in a death-date search.
    let (_, found, _) = get(
        &sb,
        "/Patient?family=Minimal&birthdate=eq2000-01-01&death-date=eq2020-01-01",
    )
    .await;
    assert_eq!(ids(&found), [MINIMAL]);

    // A formal death (Jane's) is final.
    let (status, body) = patch(
        &sb,
        JANE,
        2,
        json!([{ "op": "replace", "path": "/deceasedDateTime", "value": "2010-10-23T00:00:00+00:00" }]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(diagnostics(&body).contains("formal"));
}

#[tokio::test]
async fn a_patched_phone_number_is_found_by_search() {
    let sb = sandbox().await;
    let search = "/Patient?family=KNAPP&birthdate=eq1943-07-03&phone=07700900123";
    assert_eq!(get(&sb, search).await.1["total"], 0);
    let (status, body) = patch(
        &sb,
        KATHY,
        1,
        json!([{ "op": "add", "path": "/telecom/-",
                 "value": { "system": "phone", "value": "07700900123", "use": "mobile" } }]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["telecom"][0]["id"].as_str().map(str::len), Some(8));
    let (_, found, _) = get(&sb, search).await;
    assert_eq!(ids(&found), [KATHY]);
    assert_eq!(found["entry"][0]["resource"]["telecom"][0]["use"], "mobile");
}

#[tokio::test]
async fn cors_is_answered_on_every_plain_http_service() {
    let sb = sandbox().await;
    for path in [
        format!("{BASE}/Patient/{JANE}"),
        "/spine-directory/FHIR/R4/Endpoint".to_owned(),
        "/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord".to_owned(),
    ] {
        let resp = sb
            .http
            .request(reqwest::Method::OPTIONS, sb.url(&path))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "PATCH")
            .header("Access-Control-Request-Headers", "if-match, x-request-id")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert!(
            h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("PATCH")
        );
        assert!(
            h["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("if-match")
        );
        assert_eq!(h["access-control-max-age"], "3628800");
    }
    let resp = sb
        .http
        .get(sb.url(&format!("{BASE}/Patient/{JANE}")))
        .header("X-Request-ID", REQUEST_ID)
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        resp.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
    let plain = sb.get("/_admin/health").await;
    assert!(plain.headers().get("access-control-allow-origin").is_none());
    // Without Origin an OPTIONS is just an unsupported method.
    let resp = sb
        .http
        .request(
            reqwest::Method::OPTIONS,
            sb.url(&format!("{BASE}/Patient/{JANE}")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn scenario_record_details_are_checked_at_their_position() {
    let dir = temp_dir("pds-details");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        r#"practices:
  - { ods: Y12345, name: P, asid: "900000012345", provider: false }
patients:
  - nhs_number: "9000000009"
    name: { family: Smith }
    gender: female
    birth_date: 2010-10-22
    registered_with: Y12345
    version: 0
    telecom:
      - { system: pager, value: "123" }
      - { system: email, value: not-an-email, id: "7" }
      - { system: phone, value: "01632960587", id: "7" }
    death_notification: formal
    communication: { language: en }
    contact_preferences: { times: after 6pm }
    contact: [{ relationship: N, telecom: [{ system: phone, value: "01632960587" }] }]
    multiple_birth: 12
    related_people:
      - { relationship: [Cousin], name: { family: Smith } }
"#,
    )
    .unwrap();
    let errors: Vec<String> = load_paths(&[path], start_day())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let all = errors.join("\n");
    for expected in [
        "bad.yaml:9:14: version must be 1 or more",
        "bad.yaml:11:19: telecom system 'pager' must be phone, email, fax or textphone",
        "bad.yaml:12:33: email address 'not-an-email' is not an email address",
        "bad.yaml:13:52: duplicate object id '7' in this patient (first at line 12, column 51)",
        "bad.yaml:14:25: death_notification needs a date of death",
        "bad.yaml:15:32: language 'en' is not accepted",
        "bad.yaml:16:35: contact times need a contact method",
        "bad.yaml:17:31: contact relationship 'N' is not accepted",
        "bad.yaml:18:21: multiple_birth 12 must be 1 to 9",
        "bad.yaml:20:26: relationship 'Cousin' is not one PDS accepts",
        "bad.yaml:20:9: related person needs the nhs_number of their own PDS record, or else a name and an address",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}
