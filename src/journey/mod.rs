//! The built-in consumer: the new practice's side of the migration journey
//! (README.md, "Play the journey", `docs/README.md`, "The flow"), or a direct-care retrieve of
//! chosen clinical areas (`docs/getstructuredrecord.md`, "Play a retrieve").
//!
//! It talks to a running sandbox over the network exactly as a GP system would: HTTP to PDS and
//! SDS, mutual TLS to SSP with the client certificate of its own ASID. The CLI (`spine-sandbox
//! journey`) and the web page's buttons both run [`run`]; they differ only in how they show steps.

mod auth;
pub(crate) mod client;
mod query;
mod report;
mod steps;

use std::path::PathBuf;

pub use auth::JourneyAuth;
pub(crate) use query::RetrieveQuery;
pub use query::{Area, Operation};
pub(crate) use report::StepReport;
pub use report::{JourneyOutcome, JourneyReport};

/// What the consumer is asked to do.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct JourneyOptions {
    /// NHS number of the patient moving practice.
    pub patient: String,
    /// ODS code of the new practice (the consumer).
    #[serde(rename = "as")]
    pub as_ods: String,
    /// Leave PDS alone (the migrate is then refused with NO_RELATIONSHIP).
    #[serde(default)]
    pub skip_registration_change: bool,
    /// Ask for sensitive information (`conf/R`, `includeSensitiveInformation: true`).
    #[serde(default)]
    pub sensitive: bool,
    /// The practice holding the record; by default the registered practice PDS shows at the
    /// trace (a restricted patient's is hidden, so it must be named).
    #[serde(default)]
    pub from: Option<String>,
    /// Plain-HTTP base URL of the sandbox (PDS, SDS).
    pub sandbox_url: String,
    /// SSP base URL.
    pub ssp_url: String,
    /// Folder with `ca.pem` and `clients/<ASID>.pem`.
    pub certs_dir: PathBuf,
    /// Authenticate with the API platform first (needed when the sandbox runs `auth: required`).
    #[serde(default)]
    pub auth: Option<JourneyAuth>,
    /// Migrate (the default) or retrieve for direct care.
    #[serde(default)]
    pub operation: Operation,
    /// The clinical areas and filters of a retrieve.
    #[serde(default)]
    pub retrieve: RetrieveQuery,
}

/// Runs the journey, calling `on_step` as each step ends (the CLI prints it at once).
pub async fn run(options: &JourneyOptions, on_step: impl FnMut(&StepReport)) -> JourneyReport {
    steps::Journey::new(options, on_step).run().await
}
