//! Migrate a document (`docs/documents.md`): the Binary behind each DocumentReference of a
//! migrate Bundle, its refusals, and no size limit.

use base64::Engine;
use serde_json::{Value, json};

use crate::support::*;

const DEFAULT: &str = "scenarios/default.yaml";

/// Patient2's migrate Bundle (with sensitive information when asked).
async fn patient2_bundle(s: &TestSandbox, sensitive: bool) -> Value {
    let (status, bundle) = ProviderCall::migrate(PATIENT2, sensitive).send(s).await;
    assert_eq!(status, 200, "{bundle:#}");
    bundle
}

fn binary_urls(bundle: &Value) -> Vec<(String, String)> {
    of_type(bundle, "DocumentReference")
        .iter()
        .map(|d| {
            (
                d["description"].as_str().unwrap().to_owned(),
                d["content"][0]["attachment"]["url"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn id_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[tokio::test]
async fn every_document_url_is_absolute_on_the_documents_service_and_serves_its_content() {
    let s = TestSandbox::start(DEFAULT).await;
    let bundle = patient2_bundle(&s, true).await;
    let urls = binary_urls(&bundle);
    assert_eq!(urls.len(), 3);
    let world = &s.running.shared.world;
    let patient = world.patient(PATIENT2).unwrap();
    for (title, url) in urls {
        let prefix = format!(
            "{}/B82617/STU3/1/gpconnect/documents/fhir/Binary/",
            s.running.shared.public_url
        );
        assert!(url.starts_with(&prefix), "{url}");
        let doc = patient
            .record
            .documents
            .iter()
            .find(|d| d.title == title)
            .unwrap();
        let call = ProviderCall::document(OLD_PRACTICE, id_of(&url))
            .claim("requested_scope", json!("patient/*.read conf/R"));
        let (status, binary) = call.send_to(&s, &url).await;
        assert_eq!(status, 200, "{binary:#}");
        assert_eq!(binary["id"], id_of(&url));
        assert_eq!(binary["contentType"], doc.content_type.as_str());
        let content = base64::engine::general_purpose::STANDARD
            .decode(binary["content"].as_str().unwrap())
            .unwrap();
        assert_eq!(content, doc.content.as_ref());
        // The size the DocumentReference announced is the size served.
        let announced = of_type(&bundle, "DocumentReference")
            .into_iter()
            .find(|d| d["description"] == title.as_str())
            .unwrap()["content"][0]["attachment"]["size"]
            .as_u64()
            .unwrap();
        assert_eq!(announced as usize, content.len());
    }
}

#[tokio::test]
async fn a_file_document_is_read_relative_to_the_scenario() {
    let s = TestSandbox::start(DEFAULT).await;
    let bundle = patient2_bundle(&s, false).await;
    let (_, url) = binary_urls(&bundle)
        .into_iter()
        .find(|(t, _)| t.starts_with("Discharge summary"))
        .unwrap();
    let (status, binary) = ProviderCall::document(OLD_PRACTICE, id_of(&url))
        .send_to(&s, &url)
        .await;
    assert_eq!(status, 200);
    let text = base64::engine::general_purpose::STANDARD
        .decode(binary["content"].as_str().unwrap())
        .unwrap();
    let on_disk = std::fs::read(repo_path("scenarios/documents/discharge-summary.txt")).unwrap();
    assert_eq!(text, on_disk);
}

#[tokio::test]
async fn an_unknown_binary_is_404_no_record_found() {
    let s = TestSandbox::start(DEFAULT).await;
    let (status, body) =
        ProviderCall::document(OLD_PRACTICE, "00000000-0000-0000-0000-000000000000")
            .send(&s)
            .await;
    assert_outcome(status, &body, 404, "NO_RECORD_FOUND");
    assert!(diagnostics(&body).contains("Binary/00000000-0000-0000-0000-000000000000"));
}

#[tokio::test]
async fn a_confidential_document_needs_conf_r() {
    let s = TestSandbox::start(DEFAULT).await;
    let with = patient2_bundle(&s, true).await;
    let without = patient2_bundle(&s, false).await;
    let hidden: Vec<_> = binary_urls(&with)
        .into_iter()
        .filter(|u| !binary_urls(&without).contains(u))
        .collect();
    assert_eq!(
        hidden.len(),
        1,
        "one confidential document in patient2's record"
    );
    let (_, url) = &hidden[0];
    let (status, body) = ProviderCall::document(OLD_PRACTICE, id_of(url))
        .send_to(&s, url)
        .await;
    assert_outcome(status, &body, 403, "NOT_AUTHORISED");
    assert!(diagnostics(&body).contains("conf/R"));
    let (status, _) = ProviderCall::document(OLD_PRACTICE, id_of(url))
        .claim("requested_scope", json!("patient/*.read conf/R"))
        .send_to(&s, url)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn documents_follow_the_same_header_and_jwt_rules() {
    let s = TestSandbox::start(DEFAULT).await;
    let bundle = patient2_bundle(&s, false).await;
    let (_, url) = binary_urls(&bundle).remove(0);
    let id = id_of(&url).to_owned();
    let cases = [
        (
            ProviderCall::document(OLD_PRACTICE, &id).header(
                "Ssp-InteractionID",
                "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1",
            ),
            400,
            "BAD_REQUEST",
            "Ssp-InteractionID",
        ),
        (
            ProviderCall::document(OLD_PRACTICE, &id).without_claim("requesting_practitioner"),
            400,
            "BAD_REQUEST",
            "requesting_practitioner",
        ),
        (
            ProviderCall::document(OLD_PRACTICE, &id)
                .claim("requested_scope", json!("organization/*.read")),
            400,
            "BAD_REQUEST",
            "requested_scope",
        ),
        (
            ProviderCall::document(OLD_PRACTICE, &id).claim(
                "requesting_organization",
                json!({ "resourceType": "Organization", "identifier": [
                    { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A20047" } ] }),
            ),
            403,
            "NOT_AUTHORISED",
            "A20047",
        ),
    ];
    for (call, expected, code, needle) in cases {
        let (status, body) = call.send_to(&s, &url).await;
        assert_outcome(status, &body, expected, code);
        assert!(diagnostics(&body).contains(needle), "{needle}: {body}");
    }
    // GP2GP's token shape (migration + conf/R, no practitioner) is accepted too.
    let (status, _) = ProviderCall::document(OLD_PRACTICE, &id)
        .claim("reason_for_request", json!("migration"))
        .claim("requested_scope", json!("patient/*.read conf/R"))
        .without_claim("requesting_practitioner")
        .send_to(&s, &url)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_large_document_has_no_size_limit() {
    // 12 MB, well past the retrieve-a-document 5 MB limit, in a world built for the test.
    let dir = temp_dir("large-document");
    let content: Vec<u8> = (0..12 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("scan.bin"), &content).unwrap();
    let yaml = std::fs::read_to_string(repo_path(DEFAULT))
        .unwrap()
        .replace(
            "file: documents/discharge-summary.txt",
            "file: scan.bin\n          content_type: application/octet-stream",
        );
    let scenario = dir.join("large.yaml");
    std::fs::write(&scenario, yaml).unwrap();
    std::fs::copy(
        repo_path("scenarios/documents/respiratory-clinic-letter.txt"),
        dir.join("respiratory-clinic-letter.txt"),
    )
    .unwrap();
    let yaml = std::fs::read_to_string(&scenario)
        .unwrap()
        .replace("file: documents/", "file: ");
    std::fs::write(&scenario, yaml).unwrap();
    let s = TestSandbox::start(scenario.to_str().unwrap()).await;
    let bundle = patient2_bundle(&s, false).await;
    let (_, url) = binary_urls(&bundle)
        .into_iter()
        .find(|(t, _)| t.starts_with("Discharge summary"))
        .unwrap();
    let size = of_type(&bundle, "DocumentReference")
        .into_iter()
        .find(|d| d["content"][0]["attachment"]["url"] == url.as_str())
        .unwrap()["content"][0]["attachment"]["size"]
        .as_u64()
        .unwrap();
    assert_eq!(size as usize, content.len());
    let (status, binary) = ProviderCall::document(OLD_PRACTICE, id_of(&url))
        .send_to(&s, &url)
        .await;
    assert_eq!(status, 200);
    assert_eq!(binary["contentType"], "application/octet-stream");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(binary["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, content);
}

/// A generated document (scenario `size:`) is announced at its size and served whole, made as it
/// is sent.
#[tokio::test]
async fn a_generated_document_of_a_given_size_is_served_whole() {
    let mut world = spine_sandbox::load_paths(&[repo_path(DEFAULT)], start_day()).unwrap();
    const SIZE: usize = 3 * 1024 * 1024 + 1;
    let patient = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == PATIENT2)
        .unwrap();
    patient.record.documents[0].generated_size = Some(SIZE);
    let pattern = patient.record.documents[0].content.clone();
    let s = TestSandbox::start_world(world).await;
    let bundle = patient2_bundle(&s, true).await;
    let reference = of_type(&bundle, "DocumentReference")[0];
    let attachment = &reference["content"][0]["attachment"];
    assert_eq!(attachment["size"].as_u64().unwrap() as usize, SIZE);
    let url = attachment["url"].as_str().unwrap();
    let call = ProviderCall::document(OLD_PRACTICE, id_of(url))
        .claim("requested_scope", json!("patient/*.read conf/R"));
    let (status, binary) = call.send_to(&s, url).await;
    assert_eq!(status, 200, "{binary:#}");
    let content = base64::engine::general_purpose::STANDARD
        .decode(binary["content"].as_str().unwrap())
        .unwrap();
    assert_eq!(content.len(), SIZE);
    let expected: Vec<u8> = pattern.iter().copied().cycle().take(SIZE).collect();
    assert!(content == expected);
}

#[test]
fn a_document_size_is_checked() {
    let text = |size: &str| {
        format!(
            "practices:\n  - {{ ods: Y11111, name: P, asid: \"200000009991\" }}\npatients:\n  - nhs_number: \"9434761158\"\n    name: {{ family: Whitaker }}\n    gender: male\n    birth_date: 1957-02-11\n    registered_with: Y11111\n    record:\n      documents:\n        - {{ title: Scan, type: {{ snomed: \"823691000000103\", display: Clinical letter }}, date: -1m, content_type: application/pdf, size: {size} }}\n"
        )
    };
    let load = |size: &str| spine_sandbox::load_str("t.yaml", &text(size), start_day());
    let world = load("250MB").unwrap();
    let doc = &world.patients[0].record.documents[0];
    assert_eq!(doc.generated_size, Some(250 * 1024 * 1024));
    let errors = format!("{:?}", load("lots").unwrap_err());
    assert!(
        errors.contains("'lots' is not a size such as 250MB"),
        "{errors}"
    );
    let errors = format!("{:?}", load("2GB").unwrap_err());
    assert!(errors.contains("between 1 byte and 1GB"), "{errors}");
}
