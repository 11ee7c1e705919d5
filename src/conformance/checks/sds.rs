//! SDS: the provider's endpoints and ASID looked up before their use, never hard-coded.

use super::*;

const SDS_ENDPOINT_SCRIPT: TestScript = TestScript {
    ids: "CONS-SDSTEST03",
    requirement: "SSP-04",
    url: SPINE_SCRIPTS_URL,
};

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::SdsEndpointMigrate,
        title: "Looked up the old practice's migrate endpoint in SDS",
        rule: "Find the provider's Access Record Structured service root with an SDS Endpoint search \
               for the old practice's ODS code and the migrate interaction; never hard-code it.",
        source: SDS_URL,
        script: Some(SDS_ENDPOINT_SCRIPT),
        about_start: true,
        grade: |g| {
            let migrates = g.migrates();
            let Some(first) = migrates.first() else {
                return Verdict::not_reached("no migrate was sent");
            };
            endpoint_before_use(g, interactions::MIGRATE_STRUCTURED, first, "the migrate")
        },
    },
    Rule {
        id: CheckId::SdsDeviceAsid,
        title: "Took the provider's ASID (Ssp-To) from an SDS Device lookup",
        rule: "SDS Endpoint does not carry the ASID: a Device search for the old practice and the \
               interaction gives it, and that ASID goes in Ssp-To.",
        source: SDS_URL,
        script: Some(TestScript {
            ids: "CONS-SDSTEST01",
            requirement: "SSP-04",
            url: SPINE_SCRIPTS_URL,
        }),
        about_start: true,
        grade: device_asid,
    },
    Rule {
        id: CheckId::SdsEndpointDocuments,
        title: "Looked up the documents endpoint before fetching documents",
        rule: "Documents are served by the Access Document capability: look up its endpoint in SDS \
               with the migrate-document interaction before fetching a Binary.",
        source: DOCUMENTS_URL,
        script: Some(SDS_ENDPOINT_SCRIPT),
        about_start: false,
        grade: |g| {
            let fetches = g.document_fetches();
            let Some(first) = fetches.first() else {
                return match g.delivered() {
                    Some(d) if d.entry.documents.as_ref().is_some_and(|x| !x.is_empty()) => {
                        Verdict::not_reached_at("no document was fetched", [d.seq()])
                    }
                    Some(d) => Verdict::not_reached_at(
                        "the record listed no documents, so none was looked up",
                        [d.seq()],
                    ),
                    None => Verdict::not_reached("no record was delivered"),
                };
            };
            endpoint_before_use(
                g,
                interactions::MIGRATE_DOCUMENT,
                first,
                "the first document fetch",
            )
        },
    },
];

/// The SDS Endpoint look-up check, for any interaction: a successful look-up for the previous
/// practice and `interaction` came before `first`, its first use (`what`).
pub(super) fn endpoint_before_use(
    g: &Grader<'_>,
    interaction: &str,
    first: &Event,
    what: &str,
) -> Verdict {
    let org = g.previous_practice().unwrap_or_default();
    match g.looked_up_before(Kind::SdsEndpoint, interaction, first.seq()) {
        Some(l) => Verdict::pass(
            format!(
                "Endpoint lookup for {org} at #{} before {what} at #{}",
                l.seq(),
                first.seq()
            ),
            [l.seq(), first.seq()],
        ),
        None => Verdict::fail(
            format!(
                "no SDS Endpoint lookup for {org} and {interaction} before {what} at #{}",
                first.seq()
            ),
            [first.seq()],
        ),
    }
}

fn device_asid(g: &Grader<'_>) -> Verdict {
    let sent: Vec<&Event> = g
        .migrates()
        .into_iter()
        .chain(g.retrieves())
        .chain(g.document_fetches())
        .collect();
    let Some(first) = sent.first() else {
        return Verdict::not_reached("nothing was sent to a provider");
    };
    let org = g.previous_practice().unwrap_or_default();
    let lookups = g.sds_lookups(Kind::SdsDevice, "", u64::MAX);
    let before: Vec<&Event> = lookups
        .iter()
        .copied()
        .filter(|l| l.seq() < first.seq())
        .collect();
    if before.is_empty() {
        return Verdict::fail(
            format!("no SDS Device lookup for {org} before #{}", first.seq()),
            [first.seq()],
        );
    }
    let mut found = Findings::default();
    found.prove(seqs(&before));
    for e in &sent {
        let to = e.header("ssp-to").unwrap_or("");
        let known = lookups
            .iter()
            .any(|l| l.seq() < e.seq() && l.sds_results.iter().any(|a| a == to));
        if known {
            continue;
        }
        // Say what the journal does show: a lookup for another practice that returned this
        // ASID, and whether it is the consumer's own.
        let elsewhere = g
            .sds(Kind::SdsDevice)
            .into_iter()
            .find(|l| l.ok() && l.seq() < e.seq() && l.sds_results.iter().any(|a| a == to));
        let own = e.entry.client_asid.as_deref() == Some(to) || e.header("ssp-from") == Some(to);
        let mut why = match elsewhere {
            Some(l) => format!(
                "#{} sent Ssp-To '{to}', which the Device lookup #{} returned for {}, not for {org}",
                e.seq(),
                l.seq(),
                l.sds_org.as_deref().unwrap_or("another practice")
            ),
            None => format!(
                "#{} sent Ssp-To '{to}', which no Device lookup for {org} returned",
                e.seq()
            ),
        };
        if own {
            why.push_str(" (it is your own ASID: you asked your own practice)");
        }
        found.fail(why, [e.seq()]);
    }
    found.or_pass_proved(format!("Device lookup for {org} at #{}", before[0].seq()))
}
