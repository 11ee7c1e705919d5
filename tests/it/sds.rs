//! SDS FHIR R4 through the plain-HTTP listener (`docs/sds.md`).

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use spine_sandbox::{Asid, OdsCode, PartyKey, interactions};
use spine_sandbox::{Practice, World};

use crate::support::{TestSandbox, diagnostics, spine_code};

const BASE: &str = "/spine-directory/FHIR/R4";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const INTERACTION: &str = "https://fhir.nhs.uk/Id/nhsServiceInteractionId";
const PARTY_KEY: &str = "https://fhir.nhs.uk/Id/nhsMhsPartyKey";
const CORRELATION_ID: &str = "3b0c6a2e-8d1f-4f0e-9a55-0d8f2d7c1a90";
const SDS_ERRORS: &str = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1";

fn practice(ods: &str, asid: &str, party_key: Option<&str>, provider: bool) -> Practice {
    let practice = Practice::new(
        OdsCode::parse(ods).unwrap(),
        Asid::parse(asid).unwrap(),
        "Practice",
    );
    Practice {
        party_key: party_key.map_or(practice.party_key.clone(), |k| PartyKey::parse(k).unwrap()),
        provider,
        ..practice
    }
}

/// Two providers (one with an explicit party key) and a consumer-only practice.
fn world() -> World {
    World {
        practices: vec![
            practice("B82617", "918999198738", Some("B82617-806568"), true),
            practice("GPCA0001", "200000000115", None, true),
            practice("A20047", "200000000359", None, false),
        ],
        ..World::empty(chrono::Local::now().date_naive())
    }
}

async fn start() -> TestSandbox {
    TestSandbox::start_world(world()).await
}

fn get(sandbox: &TestSandbox, path_and_query: &str) -> RequestBuilder {
    sandbox
        .http
        .get(sandbox.url(&format!("{BASE}{path_and_query}")))
}

async fn send(req: RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

fn endpoint_query(ods: &str, interaction: &str) -> String {
    format!("/Endpoint?organization={ODS}|{ods}&identifier={INTERACTION}|{interaction}")
}

fn device_query(ods: &str, interaction: &str) -> String {
    format!("/Device?organization={ODS}|{ods}&identifier={INTERACTION}|{interaction}")
}

fn identifier<'a>(resource: &'a Value, system: &str) -> Option<&'a str> {
    resource["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == system)?["value"]
        .as_str()
}

fn assert_sds_error(body: &Value, headers: &reqwest::header::HeaderMap, code: &str) {
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["severity"], "error");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["system"],
        SDS_ERRORS
    );
    assert_eq!(spine_code(body), code, "{body}");
    let correlation = headers["x-correlation-id"].to_str().unwrap();
    assert_eq!(
        body["id"], correlation,
        "OperationOutcome.id is the correlation id"
    );
}

#[tokio::test]
async fn the_migrate_endpoint_is_the_providers_structured_service_root() {
    let sandbox = start().await;
    let query = endpoint_query("B82617", interactions::MIGRATE_STRUCTURED);
    let (status, headers, b) =
        send(get(&sandbox, &query).header("X-Correlation-Id", CORRELATION_ID)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(headers["x-correlation-id"], CORRELATION_ID);
    assert_eq!(headers["content-type"], "application/fhir+json");
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 1);
    assert!(b["id"].is_string());
    let public = sandbox.base.replace("127.0.0.1", "localhost");
    assert_eq!(b["link"][0]["relation"], "self");
    assert_eq!(b["link"][0]["url"], format!("{public}{BASE}{query}"));
    let entry = &b["entry"][0];
    assert_eq!(entry["search"]["mode"], "match");
    let e = &entry["resource"];
    assert_eq!(
        entry["fullUrl"],
        format!("{public}{BASE}/Endpoint/{}", e["id"].as_str().unwrap())
    );
    assert_eq!(e["resourceType"], "Endpoint");
    assert_eq!(e["status"], "active");
    assert_eq!(e["connectionType"]["code"], "hl7-fhir-msg");
    assert_eq!(e["payloadType"][0]["coding"][0]["code"], "any");
    assert_eq!(
        e["address"],
        format!("{public}/B82617/STU3/1/gpconnect/structured/fhir")
    );
    assert_eq!(e["managingOrganization"]["identifier"]["system"], ODS);
    assert_eq!(e["managingOrganization"]["identifier"]["value"], "B82617");
    assert_eq!(identifier(e, PARTY_KEY), Some("B82617-806568"));
    assert_eq!(
        identifier(e, "https://fhir.nhs.uk/Id/nhsMHSId").map(str::len),
        Some(20)
    );
    assert_eq!(
        identifier(e, "https://fhir.nhs.uk/Id/nhsMhsFQDN"),
        Some("localhost")
    );
    let ext = &e["extension"][0];
    assert_eq!(
        ext["url"],
        "https://fhir.nhs.uk/StructureDefinition/Extension-SDS-NhsServiceInteractionId"
    );
    assert_eq!(ext["valueReference"]["identifier"]["system"], INTERACTION);
    assert_eq!(
        ext["valueReference"]["identifier"]["value"],
        interactions::MIGRATE_STRUCTURED
    );
    assert!(
        e.get("address").is_some()
            && identifier(e, "https://fhir.nhs.uk/Id/nhsSpineASID").is_none()
    );
}

#[tokio::test]
async fn documents_and_metadata_interactions_have_their_own_roots() {
    let sandbox = start().await;
    let public = sandbox.base.replace("127.0.0.1", "localhost");
    for (interaction, root) in [
        (interactions::MIGRATE_DOCUMENT, "documents"),
        (interactions::DOCUMENTS_METADATA, "documents"),
        (interactions::STRUCTURED_METADATA, "structured"),
    ] {
        let (status, _, b) = send(get(&sandbox, &endpoint_query("GPCA0001", interaction))).await;
        assert_eq!(status, 200);
        assert_eq!(b["total"], 1, "{interaction}");
        assert_eq!(
            b["entry"][0]["resource"]["address"],
            format!("{public}/GPCA0001/STU3/1/gpconnect/{root}/fhir")
        );
    }
}

#[tokio::test]
async fn a_non_provider_or_unknown_practice_yields_an_empty_bundle() {
    let sandbox = start().await;
    for ods in ["A20047", "Z99999"] {
        let (status, _, b) = send(get(
            &sandbox,
            &endpoint_query(ods, interactions::MIGRATE_STRUCTURED),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(b["total"], 0, "{ods}");
        assert_eq!(b["entry"], serde_json::json!([]));
    }
}

#[tokio::test]
async fn party_key_combinations_find_the_endpoint() {
    let sandbox = start().await;
    let query = format!(
        "/Endpoint?identifier={INTERACTION}|{}&identifier={PARTY_KEY}|B82617-806568",
        interactions::MIGRATE_STRUCTURED
    );
    let (_, _, b) = send(get(&sandbox, &query)).await;
    assert_eq!(b["total"], 1, "{b}");
    let query = format!("/Endpoint?organization={ODS}|B82617&identifier={PARTY_KEY}|B82617-806568");
    let (_, _, b) = send(get(&sandbox, &query)).await;
    assert_eq!(b["total"], 5, "every interaction of the MHS: {b}");
}

#[tokio::test]
async fn the_device_gives_the_providers_asid() {
    let sandbox = start().await;
    let (status, headers, b) = send(get(
        &sandbox,
        &device_query("B82617", interactions::MIGRATE_STRUCTURED),
    ))
    .await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-correlation-id"));
    assert_eq!(b["total"], 1);
    let d = &b["entry"][0]["resource"];
    assert_eq!(d["resourceType"], "Device");
    assert_eq!(
        identifier(d, "https://fhir.nhs.uk/Id/nhsSpineASID"),
        Some("918999198738")
    );
    assert_eq!(identifier(d, PARTY_KEY), Some("B82617-806568"));
    assert_eq!(d["owner"]["identifier"]["value"], "B82617");
    let interactions_held: Vec<&str> = d["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["valueReference"]["identifier"]["value"].as_str().unwrap())
        .collect();
    assert!(interactions_held.contains(&interactions::MIGRATE_STRUCTURED));
    assert!(interactions_held.contains(&interactions::MIGRATE_DOCUMENT));
    // with the party key, as LDAP step 2 does
    let query = format!(
        "{}&identifier={PARTY_KEY}|B82617-806568",
        device_query("B82617", interactions::MIGRATE_STRUCTURED)
    );
    let (_, _, b) = send(get(&sandbox, &query)).await;
    assert_eq!(b["total"], 1);
    let query = format!(
        "{}&identifier={PARTY_KEY}|B82617-000000",
        device_query("B82617", interactions::MIGRATE_STRUCTURED)
    );
    let (_, _, b) = send(get(&sandbox, &query)).await;
    assert_eq!(b["total"], 0);
    // a consumer's own ASID, supplier given
    let query = format!(
        "{}&manufacturing-organization={ODS}|YGM24",
        device_query("A20047", interactions::MIGRATE_STRUCTURED)
    );
    let (status, _, b) = send(get(&sandbox, &query)).await;
    assert_eq!(status, 200);
    assert_eq!(
        identifier(
            &b["entry"][0]["resource"],
            "https://fhir.nhs.uk/Id/nhsSpineASID"
        ),
        Some("200000000359")
    );
}

#[tokio::test]
async fn missing_or_invalid_query_parameters_are_400_naming_them() {
    let sandbox = start().await;
    let cases = [
        (
            format!("/Endpoint?organization={ODS}|B82617"),
            "Missing or invalid query parameters",
        ),
        (
            "/Endpoint?organization=B82617".to_owned(),
            "'organization' query parameter",
        ),
        (
            format!("/Endpoint?organization={ODS}|B82617&identifier=urn:x"),
            "'identifier' query parameter",
        ),
        (
            format!("/Endpoint?organisation={ODS}|B82617"),
            "Illegal query parameter 'organisation'",
        ),
        (
            format!(
                "/Device?identifier={INTERACTION}|{}",
                interactions::MIGRATE_STRUCTURED
            ),
            "'organization' query parameter",
        ),
        (
            format!("/Device?organization={ODS}|B82617"),
            "'identifier' query parameter",
        ),
        (
            "/Endpoint".to_owned(),
            "Missing or invalid query parameters",
        ),
    ];
    for (query, named) in cases {
        let (status, headers, b) = send(get(&sandbox, &query)).await;
        assert_eq!(status, 400, "{query}");
        assert_sds_error(&b, &headers, "BAD_REQUEST");
        assert_eq!(b["issue"][0]["code"], "required");
        assert!(diagnostics(&b).contains(named), "{query}: {b}");
    }
}

#[tokio::test]
async fn correlation_id_must_be_a_uuid_and_is_echoed() {
    let sandbox = start().await;
    let query = endpoint_query("B82617", interactions::MIGRATE_STRUCTURED);
    let (status, headers, b) =
        send(get(&sandbox, &query).header("X-Correlation-Id", "not-a-uuid")).await;
    assert_eq!(status, 400);
    assert_sds_error(&b, &headers, "BAD_REQUEST");
    assert!(diagnostics(&b).contains("X-Correlation-ID"));
    assert_ne!(headers["x-correlation-id"], "not-a-uuid");
    let (status, headers, b) = send(
        get(&sandbox, &format!("/Endpoint?organization={ODS}|B82617"))
            .header("X-Correlation-Id", CORRELATION_ID),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(headers["x-correlation-id"], CORRELATION_ID);
    assert_eq!(b["id"], CORRELATION_ID);
}

#[tokio::test]
async fn accept_must_be_json() {
    let sandbox = start().await;
    let query = endpoint_query("B82617", interactions::MIGRATE_STRUCTURED);
    let (status, headers, b) =
        send(get(&sandbox, &query).header("Accept", "application/xml")).await;
    assert_eq!(status, 406);
    assert_sds_error(&b, &headers, "MISSING_OR_INVALID_HEADER");
    let resp = get(&sandbox, &query)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let resp = get(&sandbox, &query)
        .header("Accept", "*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/fhir+json");
}

#[tokio::test]
async fn only_get_on_endpoint_and_device() {
    let sandbox = start().await;
    let resp = sandbox
        .http
        .post(sandbox.url(&format!("{BASE}/Endpoint")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET");
    let headers = resp.headers().clone();
    let b: Value = resp.json().await.unwrap();
    assert_sds_error(&b, &headers, "NOT_IMPLEMENTED");
    let (status, headers, b) = send(get(&sandbox, "/Organization?x=1")).await;
    assert_eq!(status, 404);
    assert_sds_error(&b, &headers, "NO_RECORD_FOUND");
}

#[tokio::test]
async fn an_api_key_is_required_when_configured() {
    let sandbox = TestSandbox::start_world_with(world(), spine_sandbox::Clock::system(), |c| {
        c.sds_api_key = Some("s3cret".into())
    })
    .await;
    let query = endpoint_query("B82617", interactions::MIGRATE_STRUCTURED);
    let (status, _, b) = send(get(&sandbox, &query)).await;
    assert_eq!(status, 401);
    let coding = &b["issue"][0]["details"]["coding"][0];
    assert_eq!(coding["code"], "ACCESS_DENIED");
    assert_eq!(
        coding["system"],
        "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
    );
    assert!(diagnostics(&b).contains("apikey"));
    let (status, _, b) = send(get(&sandbox, &query).header("apikey", "wrong")).await;
    assert_eq!(status, 401);
    assert_eq!(
        b["issue"][0]["details"]["coding"][0]["display"],
        "Invalid ApiKey"
    );
    let (status, _, _) = send(get(&sandbox, &query).header("apikey", "s3cret")).await;
    assert_eq!(status, 200);
    // without the setting, no key is needed
    let open = start().await;
    let (status, _, _) = send(get(&open, &query)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sds_lookups_are_journalled() {
    let sandbox = start().await;
    let _ = send(get(
        &sandbox,
        &endpoint_query("B82617", interactions::MIGRATE_STRUCTURED),
    ))
    .await;
    let _ = send(get(&sandbox, "/Endpoint")).await;
    let journal = sandbox.journal().await;
    let sds: Vec<&Value> = journal.iter().filter(|e| e["service"] == "sds").collect();
    assert_eq!(sds.len(), 2);
    assert_eq!(sds[0]["status"], 200);
    assert!(
        sds[1]["refusal"]
            .as_str()
            .unwrap()
            .starts_with("BAD_REQUEST")
    );
}

#[tokio::test]
async fn the_shipped_scenario_lists_providers_only() {
    let sandbox = TestSandbox::start("scenarios/default.yaml").await;
    let (_, _, b) = send(get(
        &sandbox,
        &endpoint_query("B82617", interactions::MIGRATE_STRUCTURED),
    ))
    .await;
    assert_eq!(b["total"], 1);
    let (_, _, b) = send(get(
        &sandbox,
        &endpoint_query("GPCA0001", interactions::MIGRATE_STRUCTURED),
    ))
    .await;
    assert_eq!(
        b["total"], 0,
        "GPCA0001 is not a provider in the shipped scenario"
    );
}
