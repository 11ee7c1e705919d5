//! Which request each GP Connect interaction id stands for (`docs/ssp.md`), so SSP can
//! refuse an `Ssp-InteractionID` that does not match the method and path it comes with.

use http::Method;

use crate::identifiers::interactions;

pub(crate) use crate::identifiers::interactions::GET_STRUCTURED;
pub(crate) const RETRIEVE_DOCUMENT: &str =
    "urn:nhs:names:services:gpconnect:documents:fhir:rest:read:binary-1";
pub(crate) const SEARCH_DOCUMENTS: &str =
    "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:documentreference-1";
pub(crate) const DOCUMENTS_PATIENT_SEARCH: &str =
    "urn:nhs:names:services:gpconnect:documents:fhir:rest:search:patient-1";
pub(crate) const FOUNDATIONS_METADATA: &str =
    "urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1";
pub(crate) const FOUNDATIONS_READ_PATIENT: &str =
    "urn:nhs:names:services:gpconnect:fhir:rest:read:patient-1";
pub(crate) const FOUNDATIONS_SEARCH_PATIENT: &str =
    "urn:nhs:names:services:gpconnect:fhir:rest:search:patient-1";

/// An interaction's HTTP method and path below the service root; `{id}` is any one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub interaction: &'static str,
    pub method: Method,
    pub path: &'static str,
}

/// Every interaction SSP knows the shape of. Others are passed on unchecked (SSP is
/// content-agnostic), though none is registered in the sandbox's SDS.
pub(crate) fn routes() -> [Route; 11] {
    let route = |interaction, method, path| Route {
        interaction,
        method,
        path,
    };
    [
        route(
            interactions::MIGRATE_STRUCTURED,
            Method::POST,
            "Patient/$gpc.migratestructuredrecord",
        ),
        route(
            GET_STRUCTURED,
            Method::POST,
            "Patient/$gpc.getstructuredrecord",
        ),
        route(interactions::MIGRATE_DOCUMENT, Method::GET, "Binary/{id}"),
        route(RETRIEVE_DOCUMENT, Method::GET, "Binary/{id}"),
        route(
            SEARCH_DOCUMENTS,
            Method::GET,
            "Patient/{id}/DocumentReference",
        ),
        route(DOCUMENTS_PATIENT_SEARCH, Method::GET, "Patient"),
        route(interactions::STRUCTURED_METADATA, Method::GET, "metadata"),
        route(interactions::DOCUMENTS_METADATA, Method::GET, "metadata"),
        route(FOUNDATIONS_METADATA, Method::GET, "metadata"),
        route(FOUNDATIONS_READ_PATIENT, Method::GET, "Patient/{id}"),
        route(FOUNDATIONS_SEARCH_PATIENT, Method::GET, "Patient"),
    ]
}

pub(crate) fn route_of(interaction: &str) -> Option<Route> {
    routes().into_iter().find(|r| r.interaction == interaction)
}

impl Route {
    /// Whether `path` (below the service root, no leading slash, no query, percent-decoded) has
    /// this shape.
    pub(crate) fn matches_path(&self, path: &str) -> bool {
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some("{id}"), Some(segment)) if !segment.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }

    /// `POST .../Patient/$gpc.migratestructuredrecord` for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} <service root>/{}", self.method, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_interaction_only() {
        let migrate = route_of(interactions::MIGRATE_STRUCTURED).unwrap();
        assert!(migrate.matches_path("Patient/$gpc.migratestructuredrecord"));
        assert!(!migrate.matches_path("Patient/$gpc.getstructuredrecord"));
        assert!(!migrate.matches_path("metadata"));
        let binary = route_of(interactions::MIGRATE_DOCUMENT).unwrap();
        assert!(binary.matches_path("Binary/07a6483f-732b-461e-86b6-edb665c45510"));
        assert!(!binary.matches_path("Binary/"));
        assert!(!binary.matches_path("Binary/a/b"));
        assert!(route_of("urn:nhs:names:services:other").is_none());
    }
}
