//! SDS FHIR API query parameters (`docs/sds.md`): `system|value` tokens, checked
//! the way the SDS adaptor behind the API checks them (`docs/sds.md` source D3), with its messages.

use crate::fhir::{FhirError, systems};

pub(crate) const ORGANIZATION: &str = "organization";
pub(crate) const IDENTIFIER: &str = "identifier";
pub(crate) const MANUFACTURING_ORGANIZATION: &str = "manufacturing-organization";

/// Which resource is being searched: they allow different parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Endpoint,
    Device,
}

/// The values of a checked query, each the last well-formed one given (as the adaptor takes it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub ods: Option<String>,
    pub interaction: Option<String>,
    pub party_key: Option<String>,
    pub manufacturer: Option<String>,
}

/// SDS's 400: `BAD_REQUEST` with issue type `required`, as the adaptor answers.
pub(crate) fn bad_request(diagnostics: impl Into<String>) -> FhirError {
    FhirError {
        issue_type: "required",
        ..FhirError::bad_request(diagnostics)
    }
}

fn invalid_parameter(name: &str, system: &str) -> FhirError {
    bad_request(format!(
        "Missing or invalid '{name}' query parameter. Should be '{name}={system}|value'"
    ))
}

fn invalid_identifier() -> FhirError {
    bad_request(format!(
        "Missing or invalid '{IDENTIFIER}' query parameter. Should be one or both of: ['{IDENTIFIER}={}|value', '{IDENTIFIER}={}|value']",
        systems::SERVICE_INTERACTION_ID,
        systems::MHS_PARTY_KEY
    ))
}

/// The value of the last `name` token with `system` and a non-blank value.
fn token<'a>(pairs: &'a [(String, String)], name: &str, system: &str) -> Option<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .filter_map(|(_, v)| v.split_once('|'))
        .filter(|(s, v)| *s == system && !v.trim().is_empty())
        .map(|(_, v)| v)
        .next_back()
}

/// Checks names and systems first (any unknown parameter or wrong system is a 400), then the
/// combination the resource needs.
pub(crate) fn parse(resource: Resource, pairs: &[(String, String)]) -> Result<Query, FhirError> {
    let interaction_prefix = format!("{}|", systems::SERVICE_INTERACTION_ID);
    let party_key_prefix = format!("{}|", systems::MHS_PARTY_KEY);
    let ods_prefix = format!("{}|", systems::ODS_ORGANIZATION_CODE);
    for (name, value) in pairs {
        match name.as_str() {
            ORGANIZATION if !value.starts_with(&ods_prefix) => {
                return Err(invalid_parameter(
                    ORGANIZATION,
                    systems::ODS_ORGANIZATION_CODE,
                ));
            }
            IDENTIFIER
                if !value.starts_with(&interaction_prefix)
                    && !value.starts_with(&party_key_prefix) =>
            {
                return Err(invalid_identifier());
            }
            MANUFACTURING_ORGANIZATION if resource == Resource::Device => {
                if !value.starts_with(&ods_prefix) {
                    return Err(invalid_parameter(
                        MANUFACTURING_ORGANIZATION,
                        systems::ODS_ORGANIZATION_CODE,
                    ));
                }
            }
            ORGANIZATION | IDENTIFIER => {}
            other => {
                return Err(bad_request(format!("Illegal query parameter '{other}'")));
            }
        }
    }
    let query = Query {
        ods: token(pairs, ORGANIZATION, systems::ODS_ORGANIZATION_CODE).map(str::to_owned),
        interaction: token(pairs, IDENTIFIER, systems::SERVICE_INTERACTION_ID).map(str::to_owned),
        party_key: token(pairs, IDENTIFIER, systems::MHS_PARTY_KEY).map(str::to_owned),
        manufacturer: token(
            pairs,
            MANUFACTURING_ORGANIZATION,
            systems::ODS_ORGANIZATION_CODE,
        )
        .map(str::to_owned),
    };
    match resource {
        Resource::Endpoint => {
            let (o, i, p) = (
                query.ods.is_some(),
                query.interaction.is_some(),
                query.party_key.is_some(),
            );
            // any two of the three (the adaptor refuses ODS alone and a lone identifier)
            if [o, i, p].iter().filter(|x| **x).count() < 2 {
                let ods = format!("{ORGANIZATION}={}|value", systems::ODS_ORGANIZATION_CODE);
                let interaction = format!("{IDENTIFIER}={}|value", systems::SERVICE_INTERACTION_ID);
                let party_key = format!("{IDENTIFIER}={}|value", systems::MHS_PARTY_KEY);
                return Err(bad_request(format!(
                    "Missing or invalid query parameters. Should be one of the following combinations: ['{ods}&{interaction}&{party_key}', '{ods}&{interaction}', '{ods}&{party_key}', '{interaction}&{party_key}']"
                )));
            }
        }
        Resource::Device => {
            if query.ods.is_none() {
                return Err(invalid_parameter(
                    ORGANIZATION,
                    systems::ODS_ORGANIZATION_CODE,
                ));
            }
            if query.interaction.is_none() {
                return Err(invalid_parameter(
                    IDENTIFIER,
                    systems::SERVICE_INTERACTION_ID,
                ));
            }
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code|B82617";
    const MIGRATE: &str = "https://fhir.nhs.uk/Id/nhsServiceInteractionId|urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1";
    const PARTY: &str = "https://fhir.nhs.uk/Id/nhsMhsPartyKey|B82617-806568";

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn endpoint_combinations() {
        for ok in [
            q(&[("organization", ODS), ("identifier", MIGRATE)]),
            q(&[("organization", ODS), ("identifier", PARTY)]),
            q(&[("identifier", MIGRATE), ("identifier", PARTY)]),
            q(&[
                ("organization", ODS),
                ("identifier", MIGRATE),
                ("identifier", PARTY),
            ]),
        ] {
            assert!(parse(Resource::Endpoint, &ok).is_ok(), "{ok:?}");
        }
        for bad in [
            q(&[("organization", ODS)]),
            q(&[("identifier", MIGRATE)]),
            q(&[]),
        ] {
            let e = parse(Resource::Endpoint, &bad).unwrap_err();
            assert!(
                e.diagnostics
                    .starts_with("Missing or invalid query parameters"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn wrong_systems_and_unknown_names_are_named() {
        let e = parse(Resource::Endpoint, &q(&[("organization", "B82617")])).unwrap_err();
        assert_eq!(
            e.diagnostics,
            "Missing or invalid 'organization' query parameter. Should be 'organization=https://fhir.nhs.uk/Id/ods-organization-code|value'"
        );
        let e = parse(Resource::Endpoint, &q(&[("identifier", "urn:x|y")])).unwrap_err();
        assert!(e.diagnostics.contains("'identifier' query parameter"));
        let e = parse(Resource::Endpoint, &q(&[("org", ODS)])).unwrap_err();
        assert_eq!(e.diagnostics, "Illegal query parameter 'org'");
        let e = parse(
            Resource::Endpoint,
            &q(&[("organization", ODS), ("manufacturing-organization", ODS)]),
        )
        .unwrap_err();
        assert_eq!(
            e.diagnostics,
            "Illegal query parameter 'manufacturing-organization'"
        );
        assert_eq!(e.issue_type, "required");
    }

    #[test]
    fn device_needs_organization_and_interaction() {
        let e = parse(Resource::Device, &q(&[("identifier", MIGRATE)])).unwrap_err();
        assert!(e.diagnostics.contains("'organization'"));
        let e = parse(
            Resource::Device,
            &q(&[("organization", ODS), ("identifier", PARTY)]),
        )
        .unwrap_err();
        assert!(e.diagnostics.contains("nhsServiceInteractionId"));
        let ok = parse(
            Resource::Device,
            &q(&[
                ("organization", ODS),
                ("identifier", MIGRATE),
                ("manufacturing-organization", ODS),
            ]),
        )
        .unwrap();
        assert_eq!(ok.ods.as_deref(), Some("B82617"));
        assert_eq!(ok.manufacturer.as_deref(), Some("B82617"));
    }

    #[test]
    fn the_last_well_formed_value_wins() {
        let ok = parse(
            Resource::Endpoint,
            &q(&[
                ("organization", ODS),
                (
                    "organization",
                    "https://fhir.nhs.uk/Id/ods-organization-code|A20047",
                ),
                ("identifier", MIGRATE),
            ]),
        )
        .unwrap();
        assert_eq!(ok.ods.as_deref(), Some("A20047"));
    }
}
