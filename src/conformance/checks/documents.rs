//! Documents: every document the record lists, fetched as it should be.

use super::*;

impl Grader<'_> {
    pub(super) fn documents_fetched(&self) -> Check {
        let c = check(
            "documents.all-fetched",
            "documents",
            "Fetched every document the record lists",
            "Each DocumentReference in the migrate Bundle points at a Binary \
             (content.attachment.url); the new practice fetches every one through SSP.",
            DOCUMENTS_URL,
        );
        let Some(delivered) = self.delivered() else {
            return c.with(Status::NotReached, "no record was delivered", vec![]);
        };
        let Some(listed) = &delivered.entry.documents else {
            return c.with(
                Status::Warning,
                "the journal did not record which documents the Bundle listed",
                vec![delivered.seq()],
            );
        };
        if listed.is_empty() {
            return c.with(
                Status::NotReached,
                "the record listed no documents, so there was nothing to fetch",
                vec![delivered.seq()],
            );
        }
        let fetched = self.of(&[Kind::SspDocument]);
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
            c.with(
                Status::Pass,
                format!("all {} document(s) fetched", listed.len()),
                proof,
            )
        } else {
            c.with(
                Status::Fail,
                format!(
                    "{} of {} not fetched through SSP: {}",
                    missing.len(),
                    listed.len(),
                    missing.join(", ")
                ),
                proof,
            )
        }
    }

    pub(super) fn documents_interaction(&self) -> Check {
        let c = check(
            "documents.interaction",
            "documents",
            "Documents fetched with the migrate-document interaction",
            "A document of a migrated record is fetched with Ssp-InteractionID \
             urn:nhs:names:services:gpconnect:documents:fhir:rest:migrate:binary-1.",
            DOCUMENTS_URL,
        );
        let fetched = self.document_fetches();
        if fetched.is_empty() {
            return c.with(Status::NotReached, "no document was fetched", vec![]);
        }
        let wrong: Vec<&Event> = fetched
            .iter()
            .copied()
            .filter(|e| e.header("ssp-interactionid") != Some(interactions::MIGRATE_DOCUMENT))
            .collect();
        if wrong.is_empty() {
            c.with(
                Status::Pass,
                format!("{} fetch(es)", fetched.len()),
                seqs(&fetched),
            )
        } else {
            c.with(
                Status::Fail,
                wrong
                    .iter()
                    .map(|e| {
                        format!(
                            "#{}: {}",
                            e.seq(),
                            e.header("ssp-interactionid")
                                .unwrap_or("no Ssp-InteractionID")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                seqs(&wrong),
            )
        }
    }

    pub(super) fn documents_scope(&self) -> Check {
        let c = check(
            "documents.scope",
            "documents",
            "Documents fetched with the migrate's sensitivity scope",
            "Confidential documents need conf/R; fetch the documents with the same conf/N or \
             conf/R as the migrate that listed them.",
            DOCUMENTS_URL,
        );
        let fetched = self.document_fetches();
        let migrate = self
            .migrates()
            .into_iter()
            .rev()
            .find(|m| m.ok())
            .and_then(conf_of);
        let (Some(want), false) = (migrate, fetched.is_empty()) else {
            return c.with(
                Status::NotReached,
                "no document was fetched after a migrate",
                vec![],
            );
        };
        let wrong: Vec<&Event> = fetched
            .iter()
            .copied()
            .filter(|e| conf_of(e) != Some(want))
            .collect();
        if wrong.is_empty() {
            c.with(
                Status::Pass,
                format!("{want} on the migrate and every fetch"),
                seqs(&fetched),
            )
        } else {
            c.with(
                Status::Fail,
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
    }
}
