//! `spine-sandbox provider-check --practice ODS` (`docs/provider-assurance.md`): plays, as a
//! consumer of a running sandbox and through its SSP, what NHS's provider assurance suite asks
//! of a migrate provider, plus what only a tool that sees PDS can grade: whether the answer
//! follows the registration PDS holds at that moment. Works on a built-in or an external
//! provider alike: it finds the provider as a consumer does, in SDS.

pub(crate) mod admin;
pub(crate) mod bundle;
pub(crate) mod cli;
pub(crate) mod confidential;
pub(crate) mod pds_read;
pub(crate) mod profiles;
pub(crate) mod report;
mod requests;

use std::path::PathBuf;

use http::Method;
use serde_json::{Value, json};

use self::report::{Check, Report, Status};
use crate::identifiers::interactions;
use crate::journey::client::{Answer, ConsumerClient};
use crate::pki::Layout;

const PDS: &str = "/personal-demographics/FHIR/R4";
const SDS: &str = "/spine-directory/FHIR/R4";
const FHIR_JSON: &str = "application/fhir+json";

/// NHS sources the checks cite.
const SRC_MIGRATE: &str = "https://github.com/nhsconnect/gpconnect/blob/develop/pages/accessrecord_structured/accessrecord_structured_development_migrate_patient_record.md";
const SRC_ERRORS: &str = "https://github.com/nhsconnect/gpconnect/blob/develop/pages/accessrecord_structured/accessrecord_structured_development_errors.md";
const SRC_SUITE: &str =
    "https://github.com/nhsconnect/gpconnect-provider-testing (StructuredMigrate.feature)";
const SRC_JWT: &str = "https://github.com/nhsconnect/gpconnect-provider-testing (JWT.feature); https://github.com/nhsconnect/gpconnect/blob/develop/pages/integration/integration_cross_organisation_audit_and_provenance.md";
const SRC_DOCUMENTS: &str = "https://github.com/nhsconnect/gpconnect/blob/develop/pages/documents/documents_migrate_document.md";
const SRC_FOUNDATIONS: &str =
    "https://github.com/nhsconnect/gpconnect-provider-testing (FHIR.feature)";

/// Where the sandbox is and who asks.
#[derive(Debug, Clone)]
pub struct Options {
    /// The practice whose provider is checked.
    pub practice: String,
    /// The sandbox's HTTP base (PDS, SDS, admin API).
    pub sandbox_url: String,
    /// The sandbox's SSP base.
    pub ssp_url: String,
    /// The certificates folder (`ca.pem`, `clients/<ASID>.pem`).
    pub certs_dir: PathBuf,
    /// The consumer practice to ask as; default the first other practice allowed to migrate.
    pub as_ods: Option<String>,
    /// The sandbox's admin key, when it has one (`X-Sandbox-Key` on `/_admin/...` calls).
    pub admin_key: Option<String>,
}

/// Runs every check; `Err` when no report can be made (sandbox unreachable, unknown practice).
pub async fn run(options: &Options) -> Result<Report, String> {
    let sandbox = options.sandbox_url.trim_end_matches('/').to_owned();
    let plain = ConsumerClient::plain();
    let admin: Vec<(&str, String)> = options
        .admin_key
        .iter()
        .map(|k| (crate::admin::guard::KEY_HEADER, k.clone()))
        .collect();
    let scenario = get_json(&plain, &format!("{sandbox}/_admin/scenario"), &admin).await?;
    let practices = scenario["practices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let practice = practices
        .iter()
        .find(|p| p["ods"] == options.practice.as_str())
        .ok_or_else(|| {
            format!(
                "the sandbox's scenario has no practice {}",
                options.practice
            )
        })?;
    let consumer = match &options.as_ods {
        Some(ods) => practices.iter().find(|p| p["ods"] == ods.as_str()),
        None => practices.iter().find(|p| {
            p["ods"] != options.practice.as_str()
                && p["interactions"]
                    .as_array()
                    .is_some_and(|i| i.iter().any(|i| i == interactions::MIGRATE_STRUCTURED))
        }),
    }
    .ok_or("no consumer practice to ask as (give --as ODS)")?;
    let consumer_ods = consumer["ods"].as_str().unwrap_or_default().to_owned();
    let consumer_asid = consumer["asid"].as_str().unwrap_or_default().to_owned();
    let layout = Layout::new(&options.certs_dir);
    let tls = crate::tls::client_config(
        &layout.ca_cert(),
        &layout.client_cert(&consumer_asid),
        &layout.client_key(&consumer_asid),
    )
    .map_err(|e| format!("cannot load the consumer's client certificate: {e}"))?;
    let mut run = Run {
        client: ConsumerClient::with_tls(tls),
        sandbox,
        ssp: options.ssp_url.trim_end_matches('/').to_owned(),
        practice: options.practice.clone(),
        provider_asid: practice["asid"].as_str().unwrap_or_default().to_owned(),
        consumer_ods: consumer_ods.clone(),
        consumer_asid,
        checks: Vec::new(),
        released: None,
        admin: admin.clone(),
    };
    let patients = scenario["patients"].as_array().cloned().unwrap_or_default();
    run.all(&patients).await;
    let mut report = Report {
        practice: options.practice.clone(),
        consumer: consumer_ods,
        checks: run.checks,
    };
    let entries = match get_json(&plain, &format!("{}/_admin/journal", run.sandbox), &admin).await {
        Ok(journal) => journal.as_array().cloned().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    attach_hops(&entries, &mut report);
    report.checks.push(match &run.released {
        Some((trace_id, nhs)) => pds_read::check(&entries, trace_id, nhs, &report.consumer),
        None => Check {
            id: pds_read::ID,
            rule: pds_read::RULE,
            source: pds_read::SOURCE,
            status: Status::NotReached,
            detail: "no record was released to look behind".into(),
            hops: Vec::new(),
        },
    });
    Ok(report)
}

struct Run {
    client: ConsumerClient,
    sandbox: String,
    ssp: String,
    practice: String,
    provider_asid: String,
    consumer_ods: String,
    consumer_asid: String,
    checks: Vec<Check>,
    /// The trace id and patient of the first record released (for [`pds_read`]).
    released: Option<(String, String)>,
    /// The admin key header, if any.
    admin: Vec<(&'static str, String)>,
}

/// One request's answer and the trace id it went with.
struct Sent {
    answer: Result<Answer, String>,
    trace_id: String,
}

impl Sent {
    fn status(&self) -> u16 {
        self.answer.as_ref().map_or(0, |a| a.status)
    }
    fn json(&self) -> Value {
        self.answer
            .as_ref()
            .ok()
            .and_then(Answer::json)
            .unwrap_or(Value::Null)
    }
    /// `403 NO_RELATIONSHIP`, `200 Bundle`, or why nothing came back.
    fn seen(&self) -> String {
        match &self.answer {
            Err(e) => e.clone(),
            Ok(a) => {
                let body = a.json().unwrap_or(Value::Null);
                let code = spine_code(&body);
                let kind = body["resourceType"].as_str().unwrap_or("non-FHIR body");
                if code.is_empty() {
                    format!("{} {kind}", a.status)
                } else {
                    format!("{} {code}", a.status)
                }
            }
        }
    }
}

fn spine_code(outcome: &Value) -> String {
    outcome["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

impl Run {
    fn record(
        &mut self,
        id: &'static str,
        rule: &'static str,
        source: &'static str,
        status: Status,
        detail: String,
        traces: Vec<String>,
    ) {
        self.checks.push(Check {
            id,
            rule,
            source,
            status,
            detail,
            hops: traces,
        });
    }

    /// An expected refusal: `status` and `code`.
    fn expect_refusal(
        &mut self,
        id: &'static str,
        rule: &'static str,
        source: &'static str,
        sent: &Sent,
        (status, code): (u16, &str),
    ) {
        let ok = sent.status() == status && spine_code(&sent.json()) == code;
        let verdict = if ok { Status::Pass } else { Status::Fail };
        let detail = format!("expected {status} {code}, got {}", sent.seen());
        self.record(
            id,
            rule,
            source,
            verdict,
            detail,
            vec![sent.trace_id.clone()],
        );
    }

    fn not_reached(
        &mut self,
        id: &'static str,
        rule: &'static str,
        source: &'static str,
        why: &str,
    ) {
        self.record(
            id,
            rule,
            source,
            Status::NotReached,
            why.to_owned(),
            Vec::new(),
        );
    }

    async fn all(&mut self, patients: &[Value]) {
        let structured = self.endpoint(interactions::MIGRATE_STRUCTURED).await;
        let documents = self.endpoint(interactions::MIGRATE_DOCUMENT).await;
        let Some(structured) = structured else {
            self.not_reached(
                "sds-endpoint",
                "SDS advertises the provider's migrate structured record endpoint.",
                SRC_MIGRATE,
                "SDS holds no migrate endpoint for the practice: nothing else can be checked",
            );
            return;
        };
        let of_practice = |p: &&Value| p["record_at"] == self.practice.as_str();
        let ordinary = patients.iter().filter(of_practice).find(|p| {
            p["sensitive"] == false
                && p["deceased"] == false
                && p["dissent"] == false
                && p["nhs_number_verified"] == true
        });
        let deceased = patients
            .iter()
            .filter(of_practice)
            .find(|p| p["deceased"] == true && p["sensitive"] == false);
        let sensitive = patients
            .iter()
            .filter(of_practice)
            .find(|p| p["sensitive"] == true && p["deceased"] == false);

        self.metadata(&structured).await;
        match ordinary.and_then(|p| p["nhs_number"].as_str()) {
            Some(nhs) => {
                self.record_checks(&structured, documents.as_deref(), nhs)
                    .await
            }
            None => {
                for (id, rule) in RECORD_CHECKS {
                    self.not_reached(id, rule, SRC_MIGRATE, "the scenario has no living, non-sensitive patient with a record at this practice");
                }
            }
        }
        let rule = "A deceased patient's record is not released: 404 PATIENT_NOT_FOUND.";
        match deceased.and_then(|p| p["nhs_number"].as_str()) {
            Some(nhs) => {
                self.registered_at(nhs, &self.consumer_ods.clone()).await;
                let sent = self.migrate(&structured, nhs, false, |_| {}).await;
                self.expect_refusal(
                    "deceased-patient",
                    rule,
                    SRC_SUITE,
                    &sent,
                    (404, "PATIENT_NOT_FOUND"),
                );
                self.reset(nhs).await;
            }
            None => self.not_reached(
                "deceased-patient",
                rule,
                SRC_SUITE,
                "the scenario has no deceased patient with a record at this practice",
            ),
        }
        let rule = "A patient flagged sensitive on PDS is not found: 404 PATIENT_NOT_FOUND.";
        match sensitive.and_then(|p| p["nhs_number"].as_str()) {
            Some(nhs) => {
                let sent = self.migrate(&structured, nhs, false, |_| {}).await;
                self.expect_refusal(
                    "sensitive-patient",
                    rule,
                    SRC_ERRORS,
                    &sent,
                    (404, "PATIENT_NOT_FOUND"),
                );
            }
            None => self.not_reached(
                "sensitive-patient",
                rule,
                SRC_ERRORS,
                "the scenario has no sensitive patient with a record at this practice",
            ),
        }
    }

    async fn metadata(&mut self, structured: &str) {
        let rule = "The structured FHIR base answers metadata with its CapabilityStatement.";
        let token = self.direct_care_token(structured, "organization/*.read");
        let sent = self
            .send(
                Method::GET,
                &format!("{structured}/metadata"),
                interactions::STRUCTURED_METADATA,
                &token,
                None,
            )
            .await;
        let ok = sent.status() == 200 && sent.json()["resourceType"] == "CapabilityStatement";
        let status = if ok { Status::Pass } else { Status::Fail };
        let detail = format!("expected 200 CapabilityStatement, got {}", sent.seen());
        self.record(
            "structured-metadata",
            rule,
            SRC_FOUNDATIONS,
            status,
            detail,
            vec![sent.trace_id],
        );
    }

    /// The checks on an ordinary patient: the relationship before and after PDS changes, the
    /// record with and without sensitive information, its documents, bad parameters and claims.
    async fn record_checks(&mut self, structured: &str, documents: Option<&str>, nhs: &str) {
        let [
            (no_rel, no_rel_rule),
            (without, without_rule),
            (with, with_rule),
            (follows, follows_rule),
            (docs, docs_rule),
            (param, param_rule),
            (claim, claim_rule),
        ] = RECORD_CHECKS;
        // 1. PDS names another practice: the provider must refuse.
        self.registered_at(nhs, &self.practice.clone()).await;
        let sent = self.migrate(structured, nhs, false, |_| {}).await;
        self.expect_refusal(
            no_rel,
            no_rel_rule,
            SRC_MIGRATE,
            &sent,
            (403, "NO_RELATIONSHIP"),
        );
        // 2. PDS now names the consumer: the record, without and with sensitive information,
        // each judged on its own and the first against the second (what was withheld).
        self.registered_at(nhs, &self.consumer_ods.clone()).await;
        let sent_without = self.migrate(structured, nhs, false, |_| {}).await;
        let sent_with = self.migrate(structured, nhs, true, |_| {}).await;
        let with_bundle = (sent_with.status() == 200).then(|| sent_with.json());
        let without_bundle = self.expect_bundle(
            (without, without_rule),
            &sent_without,
            nhs,
            Some(with_bundle.as_ref()),
        );
        if without_bundle.is_some() {
            self.released = Some((sent_without.trace_id.clone(), nhs.to_owned()));
        }
        self.expect_bundle((with, with_rule), &sent_with, nhs, None);
        // 3. Bad parameter and bad claim, while the relationship holds.
        let sent = self
            .migrate(structured, nhs, false, |body| {
                if let Some(list) = body["parameter"].as_array_mut() {
                    list.push(json!({"name": "includeUnknownThing", "valueBoolean": true}));
                }
            })
            .await;
        self.expect_refusal(
            param,
            param_rule,
            SRC_SUITE,
            &sent,
            (422, "INVALID_PARAMETER"),
        );
        let sent = self
            .migrate_with_claims(structured, nhs, |claims| {
                if let Some(map) = claims.as_object_mut() {
                    map.remove("reason_for_request");
                }
            })
            .await;
        self.expect_refusal(claim, claim_rule, SRC_JWT, &sent, (400, "BAD_REQUEST"));
        // 4. Every document of the record: the full one when it came, else the one without
        // sensitive information.
        match (with_bundle.or(without_bundle), documents) {
            (Some(bundle), Some(_)) => self.documents(&bundle).await,
            (None, _) => self.not_reached(
                docs,
                docs_rule,
                SRC_DOCUMENTS,
                "no record was released, so no document to fetch",
            ),
            (Some(_), None) => self.not_reached(
                docs,
                docs_rule,
                SRC_DOCUMENTS,
                "SDS holds no migrate document endpoint for the practice",
            ),
        }
        // 5. PDS moves the patient back: the next answer must follow.
        self.registered_at(nhs, &self.practice.clone()).await;
        let sent = self.migrate(structured, nhs, false, |_| {}).await;
        self.expect_refusal(
            follows,
            follows_rule,
            SRC_MIGRATE,
            &sent,
            (403, "NO_RELATIONSHIP"),
        );
        self.reset(nhs).await;
    }

    /// The check of a released record; `against` is, for the record without sensitive
    /// information, the record with it (`None` inside when that was not released).
    fn expect_bundle(
        &mut self,
        (id, rule): (&'static str, &'static str),
        sent: &Sent,
        nhs: &str,
        against: Option<Option<&Value>>,
    ) -> Option<Value> {
        let body = sent.json();
        let mut problems = if sent.status() == 200 {
            let mut found = bundle::problems(&body);
            if found.len() != 1 || !found[0].starts_with("the answer is") {
                found.extend(profiles::problems(&body, nhs));
                if let Some(with) = against {
                    found.extend(confidential::problems(&body, with));
                }
            }
            found
        } else {
            vec![format!("expected 200 Bundle, got {}", sent.seen())]
        };
        const SHOWN: usize = 6;
        if problems.len() > SHOWN {
            let more = problems.len() - SHOWN;
            problems.truncate(SHOWN);
            problems.push(format!("and {more} more"));
        }
        let ok = problems.is_empty();
        let detail = if ok {
            let marked = body["entry"].as_array().map_or(0, |e| {
                e.iter()
                    .filter(|e| confidential::nopat(&e["resource"]))
                    .count()
            });
            format!(
                "200 Bundle of {} resources ({marked} labelled NOPAT), every reference resolving, every clinical area's List, each resource's profile declared",
                body["entry"].as_array().map_or(0, Vec::len)
            )
        } else {
            problems.join("; ")
        };
        let status = if ok { Status::Pass } else { Status::Fail };
        self.record(
            id,
            rule,
            SRC_SUITE,
            status,
            detail,
            vec![sent.trace_id.clone()],
        );
        (sent.status() == 200).then_some(body)
    }

    async fn documents(&mut self, bundle: &Value) {
        let (id, rule) = RECORD_CHECKS[4];
        let urls = bundle::documents(bundle);
        if urls.is_empty() {
            self.not_reached(
                id,
                rule,
                SRC_DOCUMENTS,
                "the record has no DocumentReference",
            );
            return;
        }
        let mut traces = Vec::new();
        let mut failures = Vec::new();
        for (url, confidential) in &urls {
            // A document labelled NOPAT is asked for as sensitive information (conf/R).
            let scope = if *confidential {
                "patient/*.read conf/R"
            } else {
                "patient/*.read"
            };
            let token = self.direct_care_token(url, scope);
            let sent = self
                .send(
                    Method::GET,
                    url,
                    interactions::MIGRATE_DOCUMENT,
                    &token,
                    None,
                )
                .await;
            let body = sent.json();
            if !(sent.status() == 200
                && body["resourceType"] == "Binary"
                && body["content"].is_string()
                && body["contentType"].as_str().is_some_and(|t| !t.is_empty()))
            {
                failures.push(format!(
                    "{url}: expected 200 Binary with contentType and content, got {}",
                    sent.seen()
                ));
            }
            traces.push(sent.trace_id);
        }
        let (status, detail) = if failures.is_empty() {
            (
                Status::Pass,
                format!("{} document(s), each a Binary", urls.len()),
            )
        } else {
            (Status::Fail, failures.join("; "))
        };
        self.record(id, rule, SRC_DOCUMENTS, status, detail, traces);
    }
}

/// The checks made on an ordinary patient, in the order [`Run::record_checks`] unpacks them.
const RECORD_CHECKS: [(&str, &str); 7] = [
    (
        "no-relationship",
        "While PDS names another practice, migrate is refused: 403 NO_RELATIONSHIP.",
    ),
    (
        "record-without-sensitive",
        "With includeSensitiveInformation false (conf/N): 200, a collection Bundle valid against STU3 and the GP Connect profiles, each resource once, every reference resolving, every clinical area's List; no item labelled NOPAT, every item the full record labels NOPAT left out, and each List that lost one carrying the confidential-items warning and note.",
    ),
    (
        "record-with-sensitive",
        "With includeSensitiveInformation true (conf/R): 200, a Bundle as above, confidential items included and labelled NOPAT.",
    ),
    (
        "relationship-follows-pds",
        "When PDS moves the patient away again, the very next migrate is refused: 403 NO_RELATIONSHIP.",
    ),
    (
        "migrate-documents",
        "Every DocumentReference's attachment URL answers migrate a document with a Binary (contentType and content); a document labelled NOPAT is asked for with conf/R.",
    ),
    (
        "extra-parameter",
        "An unknown parameter in the request is refused: 422 INVALID_PARAMETER.",
    ),
    (
        "jwt-missing-reason",
        "A JWT without reason_for_request is refused: 400 BAD_REQUEST.",
    ),
];

async fn get_json(
    client: &ConsumerClient,
    url: &str,
    headers: &[(&str, String)],
) -> Result<Value, String> {
    let answer = client.send(Method::GET, url, headers, None).await?;
    if answer.status != 200 {
        return Err(format!("{url} answered {}", answer.status));
    }
    answer
        .json()
        .ok_or_else(|| format!("{url} did not answer JSON"))
}

/// Adds to each check the journal entries of its trace ids (SSP's hop and the provider's).
fn attach_hops(entries: &[Value], report: &mut Report) {
    for check in &mut report.checks {
        let traces = std::mem::take(&mut check.hops);
        for trace in traces {
            let hops: Vec<String> = entries
                .iter()
                .filter(|e| e["trace_id"] == trace.as_str())
                .map(|e| {
                    format!(
                        "{} {} {} -> {}{}",
                        e["service"].as_str().unwrap_or("?"),
                        e["method"].as_str().unwrap_or("?"),
                        e["target"].as_str().or(e["path"].as_str()).unwrap_or("?"),
                        e["status"],
                        e["refusal"]
                            .as_str()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            if hops.is_empty() {
                check
                    .hops
                    .push(format!("Ssp-TraceID {trace}: not in the journal"));
            } else {
                check.hops.extend(hops);
            }
        }
    }
}
