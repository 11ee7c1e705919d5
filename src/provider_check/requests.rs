//! The requests a provider check makes: SDS look-ups, PDS registration changes (as a consumer
//! does them), tokens, and each request through SSP with its own `Ssp-TraceID`.

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use super::{FHIR_JSON, PDS, Run, SDS, Sent, get_json};
use crate::fhir::gpconnect::migrate_parameters;
use crate::fhir::systems;
use crate::identifiers::interactions;
use crate::jwt::{DirectCareTokenRequest, MigrateTokenRequest, PractitionerClaim};

impl Run {
    /// The base URL SDS holds for the practice and `interaction`.
    pub(super) async fn endpoint(&self, interaction: &str) -> Option<String> {
        let url = format!(
            "{}{SDS}/Endpoint?organization={}|{}&identifier={}|{interaction}",
            self.sandbox,
            systems::ODS_ORGANIZATION_CODE,
            self.practice,
            "https://fhir.nhs.uk/Id/nhsServiceInteractionId"
        );
        let body = get_json(&self.client, &url, &[]).await.ok()?;
        body["entry"][0]["resource"]["address"]
            .as_str()
            .map(str::to_owned)
    }

    /// Moves the patient's registration on PDS to `ods` (trace, then PATCH with `If-Match`), as
    /// a consumer does.
    pub(super) async fn registered_at(&self, nhs: &str, ods: &str) {
        let url = format!("{}{PDS}/Patient/{nhs}", self.sandbox);
        let headers = self.pds_headers();
        let Ok(trace) = self.client.send(Method::GET, &url, &headers, None).await else {
            return;
        };
        let patient = trace.json().unwrap_or_default();
        if patient["generalPractitioner"][0]["identifier"]["value"] == ods {
            return;
        }
        let mut gp = json!({"type": "Organization", "identifier": {
            "system": systems::ODS_ORGANIZATION_CODE, "value": ods,
            "period": {"start": chrono::Utc::now().date_naive().to_string()}}});
        let patches = match patient["generalPractitioner"][0]["id"].as_str() {
            Some(id) => {
                gp["id"] = json!(id);
                json!([{"op": "test", "path": "/generalPractitioner/0/id", "value": id},
                       {"op": "replace", "path": "/generalPractitioner/0", "value": gp}])
            }
            None => json!([{"op": "add", "path": "/generalPractitioner/-", "value": gp}]),
        };
        let mut headers = self.pds_headers();
        headers.push(("content-type", "application/json-patch+json".into()));
        if let Some(etag) = trace.headers.get("etag").and_then(|v| v.to_str().ok()) {
            headers.push(("if-match", etag.to_owned()));
        }
        let body = Bytes::from(json!({"patches": patches}).to_string());
        let _ = self
            .client
            .send(Method::PATCH, &url, &headers, Some(body))
            .await;
    }

    /// Puts the patient back as the scenario has them (`POST /_admin/pds/patients/{nhs}/reset`).
    pub(super) async fn reset(&self, nhs: &str) {
        let url = format!("{}/_admin/pds/patients/{nhs}/reset", self.sandbox);
        let _ = self
            .client
            .send(Method::POST, &url, &self.admin, None)
            .await;
    }

    pub(super) fn pds_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("x-request-id", uuid::Uuid::new_v4().to_string()),
            ("accept", "application/fhir+json".into()),
            ("nhsd-end-user-organisation-ods", self.consumer_ods.clone()),
        ]
    }

    pub(super) fn migrate_token(&self, audience: &str, sensitive: bool) -> MigrateTokenRequest {
        MigrateTokenRequest {
            requesting_ods: self.consumer_ods.clone(),
            requesting_name: format!("Practice {}", self.consumer_ods),
            requesting_asid: self.consumer_asid.clone(),
            audience: audience.to_owned(),
            practitioner: Some(PractitionerClaim::assurance_suite()),
            sensitive,
            now: chrono::Utc::now(),
        }
    }

    pub(super) fn direct_care_token(&self, audience: &str, scope: &str) -> String {
        DirectCareTokenRequest {
            requesting_ods: self.consumer_ods.clone(),
            requesting_name: format!("Practice {}", self.consumer_ods),
            requesting_asid: self.consumer_asid.clone(),
            audience: audience.to_owned(),
            practitioner: PractitionerClaim::assurance_suite(),
            requested_scope: scope.to_owned(),
            now: chrono::Utc::now(),
        }
        .mint()
    }

    pub(super) async fn migrate(
        &self,
        structured: &str,
        nhs: &str,
        sensitive: bool,
        alter: impl FnOnce(&mut Value),
    ) -> Sent {
        let token = self.migrate_token(structured, sensitive).mint();
        let mut body = migrate_parameters(nhs, sensitive);
        alter(&mut body);
        self.send_migrate(structured, &token, &body).await
    }

    pub(super) async fn migrate_with_claims(
        &self,
        structured: &str,
        nhs: &str,
        alter: impl FnOnce(&mut Value),
    ) -> Sent {
        let mut claims = self.migrate_token(structured, false).claims();
        alter(&mut claims);
        let token = crate::jwt::encode_unsigned(&claims);
        self.send_migrate(structured, &token, &migrate_parameters(nhs, false))
            .await
    }

    pub(super) async fn send_migrate(&self, structured: &str, token: &str, body: &Value) -> Sent {
        let url = format!("{structured}/Patient/$gpc.migratestructuredrecord");
        self.send(
            Method::POST,
            &url,
            interactions::MIGRATE_STRUCTURED,
            token,
            Some(Bytes::from(body.to_string())),
        )
        .await
    }

    /// One request through SSP to `target` (an absolute provider URL).
    pub(super) async fn send(
        &self,
        method: Method,
        target: &str,
        interaction: &str,
        token: &str,
        body: Option<Bytes>,
    ) -> Sent {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let mut headers = vec![
            ("ssp-traceid", trace_id.clone()),
            ("ssp-from", self.consumer_asid.clone()),
            ("ssp-to", self.provider_asid.clone()),
            ("ssp-interactionid", interaction.to_owned()),
            ("authorization", format!("Bearer {token}")),
            ("accept", FHIR_JSON.into()),
        ];
        if body.is_some() {
            headers.push(("content-type", FHIR_JSON.into()));
        }
        let url = format!("{}/{target}", self.ssp);
        let answer = self.client.send(method, &url, &headers, body).await;
        Sent { answer, trace_id }
    }
}
