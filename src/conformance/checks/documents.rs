//! Documents: every document the record lists, fetched as it should be.

use super::*;

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::DocumentsAllFetched,
        title: "Fetched every document the record lists",
        rule: "Each DocumentReference in the migrate Bundle points at a Binary \
               (content.attachment.url); the new practice fetches every one through SSP.",
        source: DOCUMENTS_URL,
        script: None,
        about_start: false,
        grade: all_fetched,
    },
    Rule {
        id: CheckId::DocumentsInteraction,
        title: "Documents fetched with the migrate-document interaction",
        rule: "A document of a migrated record is fetched with Ssp-InteractionID \
               urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1.",
        source: DOCUMENTS_URL,
        script: None,
        about_start: false,
        grade: interaction,
    },
    Rule {
        id: CheckId::DocumentsScope,
        title: "Documents fetched with the migrate's sensitivity scope",
        rule: "Confidential documents need conf/R; fetch the documents with the same conf/N or \
               conf/R as the migrate that listed them.",
        source: DOCUMENTS_URL,
        script: None,
        about_start: false,
        grade: scope,
    },
];

fn all_fetched(g: &Grader<'_>) -> Verdict {
    let Some(delivered) = g.delivered() else {
        return Verdict::not_reached("no record was delivered");
    };
    let Some(listed) = &delivered.entry.documents else {
        return Verdict::warning(
            "the journal did not record which documents the Bundle listed",
            [delivered.seq()],
        );
    };
    if listed.is_empty() {
        return Verdict::not_reached_at(
            "the record listed no documents, so there was nothing to fetch",
            [delivered.seq()],
        );
    }
    let fetched = g.of(&[Kind::SspDocument]);
    let mut proof = vec![delivered.seq()];
    let mut missing = Vec::new();
    for url in listed.iter() {
        match fetched
            .iter()
            .find(|f| f.ok() && f.target() == url && f.seq() > delivered.seq())
        {
            Some(f) => proof.push(f.seq()),
            None => missing.push(url.clone()),
        }
    }
    if missing.is_empty() {
        return Verdict::pass(format!("all {} document(s) fetched", listed.len()), proof);
    }
    Verdict::fail(
        format!(
            "{} of {} not fetched through SSP: {}",
            missing.len(),
            listed.len(),
            missing.join(", ")
        ),
        proof,
    )
}

fn interaction(g: &Grader<'_>) -> Verdict {
    let fetched = g.document_fetches();
    if fetched.is_empty() {
        return Verdict::not_reached("no document was fetched");
    }
    let mut found = Findings::default();
    for e in &fetched {
        let sent = e.header("ssp-interactionid");
        if sent != Some(interactions::MIGRATE_DOCUMENT) {
            found.fail(
                format!("#{}: {}", e.seq(), sent.unwrap_or("no Ssp-InteractionID")),
                [e.seq()],
            );
        }
    }
    found.or_pass(format!("{} fetch(es)", fetched.len()), seqs(&fetched))
}

fn scope(g: &Grader<'_>) -> Verdict {
    let fetched = g.document_fetches();
    let migrate = g
        .migrates()
        .into_iter()
        .rev()
        .find(|m| m.ok())
        .and_then(conf_of);
    let (Some(want), false) = (migrate, fetched.is_empty()) else {
        return Verdict::not_reached("no document was fetched after a migrate");
    };
    let wrong: Vec<&Event> = fetched
        .iter()
        .copied()
        .filter(|e| conf_of(e) != Some(want))
        .collect();
    if wrong.is_empty() {
        return Verdict::pass(
            format!("{want} on the migrate and every fetch"),
            seqs(&fetched),
        );
    }
    Verdict::fail(
        format!(
            "the migrate used {want}; {}",
            wrong
                .iter()
                .map(|e| format!(
                    "#{} used {}",
                    e.seq(),
                    conf_of(e).unwrap_or("no readable token")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        seqs(&wrong),
    )
}
