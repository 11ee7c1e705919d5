//! The ORDER of the migrate ladder: each test breaks two rungs and expects the earlier one.

use serde_json::json;

use super::*;
use crate::fhir::{SpineCode, systems};
use crate::provider::test_world::{
    MigrateCall, PATIENT2, PATIENT18, TRACE_ID, default_world, provider,
};
use crate::scenario::World;

fn refusal(call: &MigrateCall) -> FhirError {
    refusal_in(default_world(), call)
}

fn refusal_in(world: World, call: &MigrateCall) -> FhirError {
    let provider = provider(world);
    let practice = provider.world.practice("B82617").unwrap().clone();
    match ladder(&provider, &practice, &call.build()) {
        Ok(_) => panic!("the request was accepted"),
        Err(e) => e,
    }
}

fn assert_refused(e: &FhirError, code: SpineCode, needle: &str) {
    let (c, _, status, _) = code.parts();
    assert_eq!((e.code.as_str(), e.status), (c, status), "{e}");
    assert!(e.diagnostics.contains(needle), "{needle:?} not in {e}");
}

#[test]
fn the_suite_request_climbs_every_rung() {
    let provider = provider(default_world());
    let practice = provider.world.practice("B82617").unwrap().clone();
    for sensitive in [false, true] {
        let call = MigrateCall::suite(PATIENT2, sensitive);
        let ok = ladder(&provider, &practice, &call.build()).unwrap();
        assert_eq!(ok.ssp.trace_id, TRACE_ID);
        assert_eq!(ok.include_sensitive, sensitive);
        assert_eq!(ok.patient.nhs_number.as_str(), PATIENT2);
    }
}

#[test]
fn ssp_headers_come_before_the_jwt() {
    let mut call = MigrateCall::suite(PATIENT2, false).without_header("Ssp-From");
    call.claims["reason_for_request"] = json!("badReason");
    assert_refused(&refusal(&call), SpineCode::BadRequest, "Ssp-From");
}

#[test]
fn interaction_id_comes_before_media_types_and_the_jwt() {
    let mut call = MigrateCall::suite(PATIENT2, false)
        .header(
            "Ssp-InteractionID",
            "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1",
        )
        .header("Content-Type", "application/fhir+xml");
    call.claims = json!({});
    assert_refused(&refusal(&call), SpineCode::BadRequest, "Ssp-InteractionID");
}

#[test]
fn ssp_to_must_be_this_provider() {
    let call = MigrateCall::suite(PATIENT2, false).header("Ssp-To", "200000001012");
    assert_refused(&refusal(&call), SpineCode::BadRequest, "Ssp-To");
}

#[test]
fn media_types_come_before_the_jwt() {
    let mut call = MigrateCall::suite(PATIENT2, false).header("Accept", "application/fhir+xml");
    call.claims = json!({});
    assert_refused(&refusal(&call), SpineCode::UnsupportedMediaType, "Accept");
    let mut call =
        MigrateCall::suite(PATIENT2, false).header("Content-Type", "application/fhir+xml");
    call.claims = json!({});
    assert_refused(
        &refusal(&call),
        SpineCode::UnsupportedMediaType,
        "Content-Type",
    );
}

#[test]
fn the_jwt_comes_before_the_body() {
    let mut call = MigrateCall::suite(PATIENT2, false);
    call.claims["reason_for_request"] = json!("badReason");
    call.raw_body = Some(b"not json".to_vec());
    assert_refused(&refusal(&call), SpineCode::BadRequest, "reason_for_request");
    let call = MigrateCall::suite(PATIENT2, false).without_header("Authorization");
    let mut call = call;
    call.raw_body = Some(b"not json".to_vec());
    // build() always adds Authorization; a bad device is a 422 that still precedes the body.
    call.claims["requesting_device"]["resourceType"] = json!("Patient");
    assert_refused(
        &refusal(&call),
        SpineCode::InvalidResource,
        "requesting_device",
    );
}

#[test]
fn the_resource_comes_before_its_parameters() {
    let mut call = MigrateCall::suite("123", false);
    call.body["resourceType"] = json!("Patient");
    assert_refused(&refusal(&call), SpineCode::InvalidResource, "Patient");
    let mut call = MigrateCall::suite(PATIENT2, false);
    call.raw_body = Some(b"{\"resourceType\": \"Parameters\", ".to_vec());
    assert_refused(&refusal(&call), SpineCode::InvalidResource, "not a JSON");
    let mut call = MigrateCall::suite(PATIENT2, false);
    call.raw_body = Some(Vec::new());
    assert_refused(&refusal(&call), SpineCode::InvalidResource, "empty");
}

#[test]
fn parameters_come_before_the_nhs_number() {
    let mut call = MigrateCall::suite("1234567890", false);
    call.body["parameter"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "includeImmunisations" }));
    assert_refused(
        &refusal(&call),
        SpineCode::InvalidParameter,
        "Unrecognised parameter: includeImmunisations",
    );
}

#[test]
fn the_nhs_number_comes_before_the_sensitivity_check() {
    let mut call = MigrateCall::suite("9000000000", false);
    call.claims["requested_scope"] = json!("patient/*.read conf/R");
    assert_refused(
        &refusal(&call),
        SpineCode::InvalidNhsNumber,
        "patientNHSNumber",
    );
}

#[test]
fn the_sensitivity_check_comes_before_the_patient() {
    let mut call = MigrateCall::suite("9999999999", true);
    call.claims["requested_scope"] = json!("patient/*.read conf/N");
    assert_refused(
        &refusal(&call),
        SpineCode::ConflictingValues,
        "includeSensitiveInformation",
    );
    let call = MigrateCall::suite("9999999999", false);
    assert_refused(&refusal(&call), SpineCode::PatientNotFound, "9999999999");
}

#[test]
fn the_patient_comes_before_consent_and_relationship() {
    let mut world = default_world();
    let p18 = world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == PATIENT18)
        .unwrap();
    p18.dissent = true;
    p18.registered_with = crate::identifiers::OdsCode::parse("C81616").unwrap();
    let call = MigrateCall::suite(PATIENT18, false);
    assert_refused(
        &refusal_in(world, &call),
        SpineCode::PatientNotFound,
        "deceased",
    );
}

#[test]
fn consent_comes_before_the_relationship() {
    // 9434761050 dissents and is registered at B82617, not at the suite's GPCA0001.
    let call = MigrateCall::suite("9434761050", false);
    assert_refused(&refusal(&call), SpineCode::NoPatientConsent, "dissented");
}

#[test]
fn the_relationship_is_the_last_rung() {
    let mut call = MigrateCall::suite(PATIENT2, false);
    call.claims["requesting_organization"]["identifier"][0]["value"] = json!("A20047");
    assert_refused(&refusal(&call), SpineCode::NoRelationship, "GPCA0001");
}

#[test]
fn the_relationship_is_judged_on_what_pds_holds() {
    // 9434761018 is registered at B82617 on PDS: A20047 has no relationship yet...
    let mut call = MigrateCall::suite("9434761018", false);
    call.claims["requesting_organization"]["identifier"][0]["value"] = json!("A20047");
    assert_refused(
        &refusal(&call),
        SpineCode::NoRelationship,
        "registered at B82617",
    );
    // ...and has one once PDS says A20047 (the store is seeded from the world).
    let mut world = default_world();
    world
        .patients
        .iter_mut()
        .find(|p| p.nhs_number.as_str() == "9434761018")
        .unwrap()
        .registered_with = crate::identifiers::OdsCode::parse("A20047").unwrap();
    let provider = provider(world);
    let practice = provider.world.practice("B82617").unwrap().clone();
    assert!(ladder(&provider, &practice, &call.build()).is_ok());
}

#[test]
fn patient_checks_name_the_reason() {
    for (nhs, needle) in [
        ("9999999999", "no such patient"),
        (PATIENT18, "deceased"),
        ("9434761026", "sensitive"),
        ("9434761034", "deceased"),
        ("9434761042", "verification status 01"),
        ("9434761085", "held at C81616"),
    ] {
        let mut call = MigrateCall::suite(nhs, false);
        call.claims["requesting_organization"]["identifier"][0]["value"] = json!("B82617");
        assert_refused(&refusal(&call), SpineCode::PatientNotFound, needle);
    }
}

#[test]
fn parameter_rules_name_the_parameter() {
    let cases: Vec<(serde_json::Value, SpineCode, &str)> = vec![
        (
            json!({"resourceType": "Parameters"}),
            SpineCode::InvalidParameter,
            "No recognised parameters",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": []}),
            SpineCode::InvalidParameter,
            "No recognised parameters",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": {}}),
            SpineCode::InvalidResource,
            "must be an array",
        ),
        (
            json!({"resourceType": "Parameters", "foo": 1, "parameter": []}),
            SpineCode::InvalidResource,
            "'foo'",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [{"valueBoolean": true}]}),
            SpineCode::InvalidResource,
            "has no name",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": false}]}]}),
            SpineCode::InvalidParameter,
            "patientNHSNumber is missing",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER, "value": PATIENT2}}]}),
            SpineCode::InvalidParameter,
            "includeFullRecord is missing",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER, "value": PATIENT2}},
            {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation"}]}]}),
            SpineCode::InvalidParameter,
            "includeFullRecord.includeSensitiveInformation has no value",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER, "value": PATIENT2}},
            {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueString": "false"}]}]}),
            SpineCode::InvalidParameter,
            "must be a valueBoolean",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER, "value": PATIENT2}},
            {"name": "includeFullRecord"}]}),
            SpineCode::InvalidParameter,
            "includeFullRecord.includeSensitiveInformation is missing",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER, "value": PATIENT2}},
            {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": false},
                                                    {"name": "includePrescriptionIssues", "valueBoolean": false}]}]}),
            SpineCode::InvalidParameter,
            "includeFullRecord.includePrescriptionIssues",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueString": PATIENT2}]}),
            SpineCode::InvalidParameter,
            "patientNHSNumber must be a valueIdentifier",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber"}]}),
            SpineCode::InvalidParameter,
            "patientNHSNumber has no value",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER}}]}),
            SpineCode::InvalidParameter,
            "patientNHSNumber.valueIdentifier has no value",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "includeSensitiveInformation", "valueBoolean": true}]}),
            SpineCode::InvalidParameter,
            "part of includeFullRecord",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": "https://example.org/nhs", "value": PATIENT2}},
            {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": false}]}]}),
            SpineCode::InvalidIdentifierSystem,
            "patientNHSNumber.valueIdentifier.system",
        ),
        (
            json!({"resourceType": "Parameters", "parameter": [
            {"name": "patientNHSNumber", "valueIdentifier": {"system": systems::NHS_NUMBER, "value": "969093728"}},
            {"name": "includeFullRecord", "part": [{"name": "includeSensitiveInformation", "valueBoolean": false}]}]}),
            SpineCode::InvalidNhsNumber,
            "10 digits",
        ),
    ];
    for (body, code, needle) in cases {
        let mut call = MigrateCall::suite(PATIENT2, false);
        call.body = body;
        assert_refused(&refusal(&call), code, needle);
    }
}
