//! The direct-care journey (`docs/getstructuredrecord.md`, "Play a retrieve"): after the trace,
//! SDS for the retrieve interaction, then `$gpc.getstructuredrecord` through SSP with the chosen
//! areas and filters. The registration stays where it is and no document is fetched.

use bytes::Bytes;
use http::Method;
use serde_json::Value;

use super::{Journey, Stop, journey_user, organisation_name};
use crate::identifiers::interactions;
use crate::journey::Operation;
use crate::journey::report::{RecordSummary, StepReport, resources, summarise};
use crate::jwt::DirectCareTokenRequest;

impl<F: FnMut(&StepReport)> Journey<'_, F> {
    /// The interaction the practices' SDS devices are looked up by.
    pub(super) fn structured_interaction(&self) -> &'static str {
        match self.options.operation {
            Operation::Migrate => interactions::MIGRATE_STRUCTURED,
            Operation::Retrieve => interactions::GET_STRUCTURED,
        }
    }

    /// The retrieve's `Parameters`, judged before anything is sent.
    pub(super) fn retrieve_body(&self) -> Result<Value, Stop> {
        if self.options.sensitive {
            return Err(Stop::Failed {
                reason: "sensitive information is for a migrate only: a direct-care retrieve \
                         never receives confidential items"
                    .into(),
            });
        }
        self.options
            .retrieve
            .parameters(&self.options.patient)
            .map_err(|reason| Stop::Failed { reason })
    }

    pub(super) async fn retrieve(
        &mut self,
        own_asid: &str,
        previous: &str,
        body: Value,
    ) -> Result<RecordSummary, Stop> {
        let provider = self
            .provider_address(previous, interactions::GET_STRUCTURED, "structured")
            .await?;
        let url = provider.through_ssp(&self.options.ssp_url, "$gpc.getstructuredrecord");
        let token = DirectCareTokenRequest {
            requesting_ods: self.options.as_ods.clone(),
            requesting_name: organisation_name(&self.options.as_ods),
            requesting_asid: own_asid.to_owned(),
            audience: provider.address.clone(),
            practitioner: journey_user(),
            requested_scope: "patient/*.read".into(),
            now: chrono::Utc::now(),
        }
        .mint();
        let (trace_id, headers) =
            provider.ssp_headers(own_asid, interactions::GET_STRUCTURED, &token);
        let asked = self.options.retrieve.parameter_names().unwrap_or_default();
        let areas = asked.join(", ");
        let answer = self
            .exchange(
                "Retrieve structured record",
                Method::POST,
                url,
                headers,
                Some(Bytes::from(body.to_string())),
                |a| {
                    let bundle = a.json().unwrap_or_default();
                    let warnings = warnings(&bundle).len();
                    format!(
                        "Bundle of {} resources, {} bytes, for {areas}{}",
                        bundle["entry"].as_array().map_or(0, Vec::len),
                        a.body.len(),
                        match warnings {
                            0 => String::new(),
                            1 => "; 1 provider warning".into(),
                            n => format!("; {n} provider warnings"),
                        }
                    )
                },
            )
            .await?;
        let bundle = answer.json().ok_or_else(|| Stop::Failed {
            reason: "the retrieve response is not JSON".into(),
        })?;
        if bundle["id"].as_str() != Some(trace_id.as_str()) {
            return Err(Stop::Failed {
                reason: format!(
                    "Bundle.id {} does not echo the Ssp-TraceID {trace_id}",
                    bundle["id"]
                ),
            });
        }
        let mut summary = summarise(&bundle, answer.body.len());
        summary.documents_referenced = resources(&bundle, "DocumentReference").count();
        summary.areas_requested = asked;
        summary.warnings = warnings(&bundle);
        Ok(summary)
    }
}

/// The issues of the Bundle's OperationOutcome (a successful retrieve's warnings).
fn warnings(bundle: &Value) -> Vec<String> {
    resources(bundle, "OperationOutcome")
        .flat_map(|o| o["issue"].as_array().into_iter().flatten())
        .map(|i| {
            i["details"]["text"]
                .as_str()
                .or(i["diagnostics"].as_str())
                .unwrap_or("a warning without text")
                .to_owned()
        })
        .collect()
}
