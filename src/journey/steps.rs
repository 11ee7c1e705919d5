//! The journey's steps, one method each, in the order a receiving GP system performs them.

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use super::client::{Answer, ConsumerClient};
use super::report::{
    JourneyOutcome, JourneyReport, RecordSummary, StepReport, resources, summarise,
};
use super::{JourneyOptions, Operation};
use crate::fhir::gpconnect::migrate_parameters;
use crate::fhir::systems;
use crate::identifiers::interactions;
use crate::jwt::{Confidentiality, DirectCareTokenRequest, MigrateTokenRequest, PractitionerClaim};

mod retrieve;

const PDS: &str = "/personal-demographics/FHIR/R4";
const SDS: &str = "/spine-directory/FHIR/R4";
const FHIR_JSON: &str = "application/fhir+json;charset=utf-8";

/// Ends the journey early with this outcome.
type Stop = JourneyOutcome;

pub(super) struct Journey<'a, F: FnMut(&StepReport)> {
    options: &'a JourneyOptions,
    on_step: F,
    steps: Vec<StepReport>,
    client: Option<ConsumerClient>,
    /// The user-restricted access token, when the journey authenticates.
    token: Option<String>,
}

/// What the trace told us.
struct Trace {
    registered: Option<String>,
    gp_entry_id: Option<String>,
    etag: Option<String>,
}

/// Where the previous practice's provider lives, per SDS.
struct ProviderAddress {
    address: String,
    asid: String,
}

impl ProviderAddress {
    /// The operation's URL through SSP: the provider's address after SSP's own.
    fn through_ssp(&self, ssp_url: &str, operation: &str) -> String {
        format!(
            "{}/{}/Patient/{operation}",
            base(ssp_url),
            self.address.trim_end_matches('/')
        )
    }

    /// The headers of a FHIR POST of `interaction` to this provider through SSP, with a new
    /// trace id (returned beside them).
    fn ssp_headers(
        &self,
        own_asid: &str,
        interaction: &str,
        token: &str,
    ) -> (String, Vec<(&'static str, String)>) {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let headers = vec![
            ("ssp-traceid", trace_id.clone()),
            ("ssp-from", own_asid.to_owned()),
            ("ssp-to", self.asid.clone()),
            ("ssp-interactionid", interaction.to_owned()),
            ("authorization", format!("Bearer {token}")),
            ("accept", FHIR_JSON.into()),
            ("content-type", FHIR_JSON.into()),
        ];
        (trace_id, headers)
    }
}

impl<'a, F: FnMut(&StepReport)> Journey<'a, F> {
    pub(super) fn new(options: &'a JourneyOptions, on_step: F) -> Self {
        Self {
            options,
            on_step,
            steps: Vec::new(),
            client: None,
            token: None,
        }
    }

    pub(super) async fn run(mut self) -> JourneyReport {
        let (outcome, record) = match self.play().await {
            Ok(record) => (JourneyOutcome::Received, Some(record)),
            Err(stop) => (stop, None),
        };
        JourneyReport {
            patient: self.options.patient.clone(),
            as_ods: self.options.as_ods.clone(),
            steps: self.steps,
            outcome,
            record,
        }
    }

    async fn play(&mut self) -> Result<RecordSummary, Stop> {
        let retrieve = match self.options.operation {
            Operation::Migrate => None,
            Operation::Retrieve => Some(self.retrieve_body()?),
        };
        if let Some(auth) = self.options.auth.clone() {
            self.authenticate(&auth).await?;
        }
        // Our own ASID first: it picks the client certificate for SSP.
        let own_asid = self
            .device_asid(&self.options.as_ods.clone(), "SDS own device")
            .await?;
        self.client = Some(self.make_client(&own_asid)?);
        let trace = self.trace().await?;
        let Some(previous) = self.options.from.clone().or(trace.registered.clone()) else {
            return Err(Stop::Failed {
                reason: format!(
                    "PDS shows no registered practice for {} (a restricted record hides it): \
                     name the practice holding the record with --from ODS",
                    self.options.patient
                ),
            });
        };
        if let Some(body) = retrieve {
            return self.retrieve(&own_asid, &previous, body).await;
        }
        if self.options.skip_registration_change {
            // A restricted record hides its practice: PDS names nobody, rather than the old one.
            let why = match &trace.registered {
                Some(ods) => format!("skipped (--skip-registration-change): PDS still names {ods}"),
                None => "skipped (--skip-registration-change): PDS names no practice for this \
                         patient (a restricted record hides it); asking the practice holding the \
                         record directly"
                    .to_owned(),
            };
            self.note("PDS registration change", &why);
        } else {
            self.change_registration(&trace).await?;
        }
        let provider = self
            .provider_address(&previous, interactions::MIGRATE_STRUCTURED, "structured")
            .await?;
        let (bundle, bytes) = self.migrate(&own_asid, &provider).await?;
        let mut summary = summarise(&bundle, bytes);
        self.documents(&own_asid, &previous, &bundle, &mut summary)
            .await?;
        Ok(summary)
    }

    /// An application token (signed JWT), then the simulated login's user-restricted token.
    async fn authenticate(&mut self, auth: &super::JourneyAuth) -> Result<(), Stop> {
        let base = base(&self.options.sandbox_url).to_owned();
        let token_url = format!("{base}/oauth2/token");
        let client = ConsumerClient::plain();
        let started = std::time::Instant::now();
        let app = match super::auth::client_assertion(auth, &token_url) {
            Ok(jwt) => {
                super::auth::token(
                    &client,
                    &token_url,
                    &[
                        ("grant_type", "client_credentials"),
                        (
                            "client_assertion_type",
                            crate::platform::oauth::CLIENT_ASSERTION_TYPE,
                        ),
                        ("client_assertion", &jwt),
                    ],
                )
                .await
            }
            Err(e) => Err(e),
        };
        self.auth_step("Platform token (signed JWT)", &token_url, started, &app)?;
        let started = std::time::Instant::now();
        let redirect = format!("{base}/callback");
        let user = match super::auth::login_code(&client, &base, &auth.api_key, &redirect).await {
            Ok(code) => {
                let mut form = vec![
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect.as_str()),
                    ("client_id", auth.api_key.as_str()),
                ];
                if let Some(secret) = &auth.client_secret {
                    form.push(("client_secret", secret.as_str()));
                }
                super::auth::token(&client, &token_url, &form).await
            }
            Err(e) => Err(e),
        };
        self.auth_step(
            "Platform login (healthcare worker)",
            &token_url,
            started,
            &user,
        )?;
        self.token = user.ok();
        Ok(())
    }

    fn auth_step(
        &mut self,
        step: &str,
        url: &str,
        started: std::time::Instant,
        result: &Result<String, String>,
    ) -> Result<(), Stop> {
        self.push(StepReport {
            step: step.into(),
            request: format!("POST {url}"),
            status: None,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            spine_code: None,
            outcome: match result {
                Ok(_) => "access token received".into(),
                Err(e) => e.clone(),
            },
            ok: result.is_ok(),
            trace_id: None,
        });
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(Stop::Failed {
                reason: format!("{step}: {e}"),
            }),
        }
    }

    /// SDS's headers: the application's API key when the journey authenticates.
    fn sds_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("x-correlation-id", uuid::Uuid::new_v4().to_string()),
            ("accept", "application/fhir+json".into()),
        ];
        if let Some(auth) = &self.options.auth {
            headers.push(("apikey", auth.api_key.clone()));
        }
        headers
    }

    fn make_client(&mut self, asid: &str) -> Result<ConsumerClient, Stop> {
        let started = std::time::Instant::now();
        let dir = &self.options.certs_dir;
        let result = crate::tls::client_config(
            &dir.join("ca.pem"),
            &dir.join("clients").join(format!("{asid}.pem")),
            &dir.join("clients").join(format!("{asid}-key.pem")),
        );
        let report = StepReport {
            step: "Client certificate".into(),
            request: format!("load {}/clients/{asid}.pem", dir.display()),
            status: None,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            spine_code: None,
            outcome: match &result {
                Ok(_) => format!("using the client certificate of ASID {asid}"),
                Err(e) => e.to_string(),
            },
            ok: result.is_ok(),
            trace_id: None,
        };
        self.push(report);
        result
            .map(ConsumerClient::with_tls)
            .map_err(|e| Stop::Failed {
                reason: e.to_string(),
            })
    }

    fn client(&self) -> ConsumerClient {
        self.client.clone().unwrap_or_else(ConsumerClient::plain)
    }

    fn push(&mut self, report: StepReport) {
        (self.on_step)(&report);
        self.steps.push(report);
    }

    fn note(&mut self, step: &str, outcome: &str) {
        self.push(StepReport {
            step: step.into(),
            request: "-".into(),
            status: None,
            duration_ms: 0.0,
            spine_code: None,
            outcome: outcome.into(),
            ok: true,
            trace_id: None,
        });
    }

    /// Sends one request and records it as a step; a refusal or failure ends the journey.
    async fn exchange(
        &mut self,
        step: &str,
        method: Method,
        url: String,
        headers: Vec<(&str, String)>,
        body: Option<Bytes>,
        describe: impl FnOnce(&Answer) -> String,
    ) -> Result<Answer, Stop> {
        let trace_id = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("ssp-traceid"))
            .map(|(_, v)| v.clone());
        let request = format!("{method} {url}");
        let client = self.client();
        match client.send(method, &url, &headers, body).await {
            Err(reason) => {
                self.push(StepReport {
                    step: step.into(),
                    request,
                    status: None,
                    duration_ms: 0.0,
                    spine_code: None,
                    outcome: reason.clone(),
                    ok: false,
                    trace_id,
                });
                Err(Stop::Failed { reason })
            }
            Ok(answer) if (200..300).contains(&answer.status) => {
                let outcome = describe(&answer);
                self.push(StepReport {
                    step: step.into(),
                    request,
                    status: Some(answer.status),
                    duration_ms: answer.duration_ms,
                    spine_code: None,
                    outcome,
                    ok: true,
                    trace_id,
                });
                Ok(answer)
            }
            Ok(answer) => {
                let (code, diagnostics) = refusal(&answer);
                let outcome = format!("{} {code}: {diagnostics}", answer.status);
                self.push(StepReport {
                    step: step.into(),
                    request,
                    status: Some(answer.status),
                    duration_ms: answer.duration_ms,
                    spine_code: Some(code.clone()),
                    outcome,
                    ok: false,
                    trace_id,
                });
                if answer.status >= 500 {
                    Err(Stop::Failed {
                        reason: format!("{step}: {} {code}: {diagnostics}", answer.status),
                    })
                } else {
                    Err(Stop::Refused {
                        spine_code: code,
                        reason: diagnostics,
                    })
                }
            }
        }
    }

    fn pds_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("x-request-id", uuid::Uuid::new_v4().to_string()),
            ("x-correlation-id", uuid::Uuid::new_v4().to_string()),
            ("accept", "application/fhir+json".into()),
            (
                "nhsd-end-user-organisation-ods",
                self.options.as_ods.clone(),
            ),
        ];
        if let Some(token) = &self.token {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        headers
    }

    async fn trace(&mut self) -> Result<Trace, Stop> {
        let url = format!(
            "{}{PDS}/Patient/{}",
            base(&self.options.sandbox_url),
            self.options.patient
        );
        let headers = self.pds_headers();
        let answer = self
            .exchange("PDS trace", Method::GET, url, headers, None, |a| {
                let p = a.json().unwrap_or_default();
                match gp_of(&p) {
                    Some(ods) => format!(
                        "registered with {ods}; version {}",
                        etag_of(a).unwrap_or_else(|| "?".into())
                    ),
                    None => "no registered practice on PDS".into(),
                }
            })
            .await?;
        let patient = answer.json().unwrap_or_default();
        Ok(Trace {
            registered: gp_of(&patient),
            gp_entry_id: patient["generalPractitioner"][0]["id"]
                .as_str()
                .map(str::to_owned),
            etag: answer
                .headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }

    async fn change_registration(&mut self, trace: &Trace) -> Result<(), Stop> {
        let ods = self.options.as_ods.clone();
        if trace.registered.as_deref() == Some(ods.as_str()) {
            self.note(
                "PDS registration change",
                &format!("already registered with {ods} on PDS; nothing to change"),
            );
            return Ok(());
        }
        let today = chrono::Utc::now().date_naive().to_string();
        let mut gp = json!({
            "type": "Organization",
            "identifier": {
                "system": systems::ODS_ORGANIZATION_CODE,
                "value": ods,
                "period": { "start": today }
            }
        });
        let patches = match &trace.gp_entry_id {
            Some(id) => {
                gp["id"] = json!(id);
                json!([
                    { "op": "test", "path": "/generalPractitioner/0/id", "value": id },
                    { "op": "replace", "path": "/generalPractitioner/0", "value": gp }
                ])
            }
            None => json!([{ "op": "add", "path": "/generalPractitioner/-", "value": gp }]),
        };
        let body = json!({ "patches": patches }).to_string();
        let url = format!(
            "{}{PDS}/Patient/{}",
            base(&self.options.sandbox_url),
            self.options.patient
        );
        let mut headers = self.pds_headers();
        headers.push(("content-type", "application/json-patch+json".into()));
        if let Some(etag) = &trace.etag {
            headers.push(("if-match", etag.clone()));
        }
        let previous = trace.registered.clone().unwrap_or_default();
        self.exchange(
            "PDS registration change",
            Method::PATCH,
            url,
            headers,
            Some(Bytes::from(body)),
            |a| {
                format!(
                    "registration moved from {previous} to {ods}; now version {}",
                    etag_of(a).unwrap_or_else(|| "?".into())
                )
            },
        )
        .await?;
        Ok(())
    }

    /// `GET /Device` for a practice: its ASID (SDS `/Endpoint` does not carry it).
    async fn device_asid(&mut self, ods: &str, step: &str) -> Result<String, Stop> {
        let url = format!(
            "{}{SDS}/Device?organization={}%7C{ods}&identifier={}%7C{}",
            base(&self.options.sandbox_url),
            systems::ODS_ORGANIZATION_CODE,
            systems::SERVICE_INTERACTION_ID,
            self.structured_interaction(),
        );
        let headers = self.sds_headers();
        let answer = self
            .exchange(step, Method::GET, url, headers, None, |a| {
                match asid_of(&a.json().unwrap_or_default()) {
                    Some(asid) => format!("{ods} is ASID {asid}"),
                    None => format!("no device registered for {ods}"),
                }
            })
            .await?;
        asid_of(&answer.json().unwrap_or_default()).ok_or_else(|| Stop::Refused {
            spine_code: "NO_RECORD_FOUND".into(),
            reason: format!("SDS holds no GP Connect device for practice {ods}"),
        })
    }

    async fn provider_address(
        &mut self,
        ods: &str,
        interaction: &str,
        capability: &str,
    ) -> Result<ProviderAddress, Stop> {
        let url = format!(
            "{}{SDS}/Endpoint?organization={}%7C{ods}&identifier={}%7C{interaction}",
            base(&self.options.sandbox_url),
            systems::ODS_ORGANIZATION_CODE,
            systems::SERVICE_INTERACTION_ID,
        );
        let headers = self.sds_headers();
        let step = format!("SDS {capability} endpoint");
        let answer = self
            .exchange(&step, Method::GET, url, headers, None, |a| {
                match a.json().as_ref().and_then(address_of) {
                    Some(address) => format!("{ods} serves {capability} at {address}"),
                    None => format!("{ods} has no {capability} endpoint in SDS"),
                }
            })
            .await?;
        let Some(address) = answer.json().as_ref().and_then(address_of) else {
            return Err(Stop::Refused {
                spine_code: "NO_RECORD_FOUND".into(),
                reason: format!(
                    "SDS has no endpoint for {ods} and {interaction}: the practice does not offer GP Connect"
                ),
            });
        };
        let asid = self
            .device_asid(ods, &format!("SDS {capability} device"))
            .await?;
        Ok(ProviderAddress { address, asid })
    }

    async fn migrate(
        &mut self,
        own_asid: &str,
        provider: &ProviderAddress,
    ) -> Result<(Value, usize), Stop> {
        let url = provider.through_ssp(&self.options.ssp_url, "$gpc.migratestructuredrecord");
        let token = MigrateTokenRequest {
            requesting_ods: self.options.as_ods.clone(),
            requesting_name: organisation_name(&self.options.as_ods),
            requesting_asid: own_asid.to_owned(),
            audience: provider.address.clone(),
            practitioner: Some(journey_user()),
            sensitive: self.options.sensitive,
            now: chrono::Utc::now(),
        }
        .mint();
        let body = migrate_parameters(&self.options.patient, self.options.sensitive).to_string();
        let (trace_id, headers) =
            provider.ssp_headers(own_asid, interactions::MIGRATE_STRUCTURED, &token);
        let sensitive = self.options.sensitive;
        let answer = self
            .exchange(
                "Migrate structured record",
                Method::POST,
                url,
                headers,
                Some(Bytes::from(body)),
                |a| {
                    let entries = a
                        .json()
                        .map(|b| b["entry"].as_array().map_or(0, Vec::len))
                        .unwrap_or(0);
                    format!(
                        "Bundle of {entries} resources, {} bytes{}",
                        a.body.len(),
                        if sensitive {
                            " (sensitive information included)"
                        } else {
                            ""
                        }
                    )
                },
            )
            .await?;
        let bundle = answer.json().ok_or_else(|| Stop::Failed {
            reason: "the migrate response is not JSON".into(),
        })?;
        if bundle["id"].as_str() != Some(trace_id.as_str()) {
            return Err(Stop::Failed {
                reason: format!(
                    "Bundle.id {} does not echo the Ssp-TraceID {trace_id}",
                    bundle["id"]
                ),
            });
        }
        Ok((bundle, answer.body.len()))
    }

    async fn documents(
        &mut self,
        own_asid: &str,
        previous: &str,
        bundle: &Value,
        summary: &mut RecordSummary,
    ) -> Result<(), Stop> {
        let urls: Vec<String> = resources(bundle, "DocumentReference")
            .filter_map(|d| d["content"][0]["attachment"]["url"].as_str())
            .map(str::to_owned)
            .collect();
        summary.documents_referenced = urls.len();
        if urls.is_empty() {
            return Ok(());
        }
        let provider = self
            .provider_address(previous, interactions::MIGRATE_DOCUMENT, "documents")
            .await?;
        for url in urls {
            // The provider suite fetches documents with a direct-care token; so do we, with the
            // same confidentiality as the migrate: a confidential letter needs `conf/R`.
            let token = DirectCareTokenRequest {
                requesting_ods: self.options.as_ods.clone(),
                requesting_name: organisation_name(&self.options.as_ods),
                requesting_asid: own_asid.to_owned(),
                audience: provider.address.clone(),
                practitioner: journey_user(),
                requested_scope: document_scope(self.options.sensitive),
                now: chrono::Utc::now(),
            }
            .mint();
            let headers = vec![
                ("ssp-traceid", uuid::Uuid::new_v4().to_string()),
                ("ssp-from", own_asid.to_owned()),
                ("ssp-to", provider.asid.clone()),
                (
                    "ssp-interactionid",
                    interactions::MIGRATE_DOCUMENT.to_owned(),
                ),
                ("authorization", format!("Bearer {token}")),
                ("accept", FHIR_JSON.into()),
            ];
            let target = format!("{}/{url}", base(&self.options.ssp_url));
            let answer = self
                .exchange(
                    "Migrate document",
                    Method::GET,
                    target,
                    headers,
                    None,
                    |a| {
                        let b = a.json().unwrap_or_default();
                        format!(
                            "Binary {}, {} ({} bytes of content)",
                            b["id"].as_str().unwrap_or("?"),
                            b["contentType"].as_str().unwrap_or("?"),
                            binary_size(&b)
                        )
                    },
                )
                .await?;
            summary.documents_fetched += 1;
            summary.document_bytes += binary_size(&answer.json().unwrap_or_default());
        }
        Ok(())
    }
}

/// The `requested_scope` of a document fetch: the confidentiality the migrate asked for.
fn document_scope(sensitive: bool) -> String {
    let conf = if sensitive {
        Confidentiality::Restricted
    } else {
        Confidentiality::Normal
    };
    format!("patient/*.read {}", conf.token())
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The person the journey acts for: a clinician at the new practice. SDS ids are `UNK`, as
/// GP Connect allows when a consumer has none to give.
fn journey_user() -> PractitionerClaim {
    PractitionerClaim {
        id: "journey-user".into(),
        sds_user_id: "UNK".into(),
        sds_role_profile_id: "UNK".into(),
        family: "Journey".into(),
        given: vec!["Sandbox".into()],
        prefix: Some("Dr".into()),
    }
}

fn organisation_name(ods: &str) -> String {
    format!("Practice {ods}")
}

fn gp_of(patient: &Value) -> Option<String> {
    patient["generalPractitioner"][0]["identifier"]["value"]
        .as_str()
        .map(str::to_owned)
}

fn etag_of(a: &Answer) -> Option<String> {
    a.headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn asid_of(bundle: &Value) -> Option<String> {
    bundle["entry"].as_array()?.iter().find_map(|e| {
        e["resource"]["identifier"]
            .as_array()?
            .iter()
            .find_map(|i| {
                (i["system"] == systems::SPINE_ASID)
                    .then(|| i["value"].as_str().map(str::to_owned))
                    .flatten()
            })
    })
}

fn address_of(bundle: &Value) -> Option<String> {
    bundle["entry"][0]["resource"]["address"]
        .as_str()
        .map(str::to_owned)
}

/// The Spine code and diagnostics of an OperationOutcome answer, whatever its dialect.
fn refusal(answer: &Answer) -> (String, String) {
    let body = answer.json().unwrap_or_default();
    let issue = &body["issue"][0];
    let coding = &issue["details"]["coding"][0];
    let code = coding["code"].as_str().unwrap_or("");
    let display = coding["display"].as_str().unwrap_or("");
    // SSP puts the HTTP status in `code` and its token in `display`.
    let code = if code.chars().all(|c| c.is_ascii_digit()) && !display.is_empty() {
        display
    } else {
        code
    };
    let code = if code.is_empty() {
        format!("HTTP_{}", answer.status)
    } else {
        code.to_owned()
    };
    let diagnostics = issue["diagnostics"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect()
        });
    (code, diagnostics)
}

fn binary_size(binary: &Value) -> usize {
    use base64::Engine;
    binary["content"]
        .as_str()
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
        .map_or(0, |b| b.len())
}
