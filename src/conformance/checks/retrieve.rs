//! Retrieve: a direct-care `$gpc.getstructuredrecord` (`docs/getstructuredrecord.md`): the
//! patient traced first, the endpoint found in SDS for the retrieve interaction, and parameters
//! the provider accepts. SSP's and the JWT's rules apply to it as to any GP Connect request.

use super::*;

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::RetrieveTracedFirst,
        title: "Traced the patient on PDS before reading the record",
        rule: "Direct care asks for a record by a verified NHS number: trace the patient on PDS \
               (and see which practice holds the record) before $gpc.getstructuredrecord.",
        source: RETRIEVE_URL,
        script: None,
        about_start: true,
        grade: traced_first,
    },
    Rule {
        id: CheckId::RetrieveEndpoint,
        title: "Looked up the practice's endpoint for the retrieve interaction in SDS",
        rule: "Find the registered practice's Access Record Structured service root with an SDS \
               Endpoint search for its ODS code and the getstructuredrecord interaction, and send \
               that interaction id in Ssp-InteractionID.",
        source: SDS_URL,
        script: None,
        about_start: true,
        grade: |g| {
            let sent = g.retrieves();
            let Some(first) = sent.first() else {
                return Verdict::not_reached("no retrieve was sent");
            };
            sds::endpoint_before_use(g, interactions::GET_STRUCTURED, first, "the retrieve")
        },
    },
    Rule {
        id: CheckId::RetrieveParameters,
        title: "Parameters the provider accepts",
        rule: "The Parameters body names the patient and at least one clinical area, each part \
               with a value of its type, dates whole and not in the future (the diary's not in the \
               past), and no part the areas asked for may not be combined with; a parameter the \
               provider does not recognise is ignored with a warning.",
        source: RETRIEVE_URL,
        script: None,
        about_start: false,
        grade: parameters,
    },
];

fn traced_first(g: &Grader<'_>) -> Verdict {
    let sent = g.retrieves();
    let Some(first) = sent.first() else {
        return Verdict::not_reached("no retrieve was sent");
    };
    let trace = g
        .of(&[Kind::PdsRead])
        .into_iter()
        .find(|e| e.ok() && e.seq() < first.seq());
    match trace {
        Some(t) => Verdict::pass(
            format!(
                "traced at #{} before the retrieve at #{}",
                t.seq(),
                first.seq()
            ),
            [t.seq(), first.seq()],
        ),
        None => Verdict::fail(
            format!(
                "no successful PDS trace before the retrieve at #{}",
                first.seq()
            ),
            [first.seq()],
        ),
    }
}

fn parameters(g: &Grader<'_>) -> Verdict {
    let seen = g.of(&[Kind::ProviderRetrieve]);
    if seen.is_empty() {
        return Verdict::not_reached("no retrieve reached a provider");
    }
    let mut found = Findings::default();
    for e in &seen {
        let code = refusal_code(e);
        if matches!(
            code,
            "INVALID_RESOURCE"
                | "INVALID_PARAMETER"
                | "INVALID_NHS_NUMBER"
                | "INVALID_IDENTIFIER_SYSTEM"
        ) {
            let why = e.entry.refusal.clone().unwrap_or_else(|| code.to_owned());
            found.fail(format!("#{}: {why}", e.seq()), [e.seq()]);
            continue;
        }
        let unrecognised = unrecognised(e);
        if !unrecognised.is_empty() {
            found.warn(
                format!(
                    "#{}: the provider does not recognise {}",
                    e.seq(),
                    unrecognised.join(", ")
                ),
                [e.seq()],
            );
        }
    }
    found.or_pass(
        format!(
            "{} retrieve(s) with parameters the provider accepts",
            seen.len()
        ),
        seqs(&seen),
    )
}

/// The parameters and parts of a retrieve the provider does not recognise.
fn unrecognised(e: &Event) -> Vec<String> {
    let Some(body) = e.entry.request_body.as_ref().map(|b| b.text()) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(resource)) = serde_json::from_str(&body) else {
        return Vec::new();
    };
    let today = e.time.unwrap_or_else(Utc::now).date_naive();
    crate::provider::retrieve::params::read(&resource, today)
        .map(|q| q.unrecognised)
        .unwrap_or_default()
}
