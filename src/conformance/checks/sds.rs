//! SDS: the provider's endpoints and ASID looked up, never hard-coded.

use super::*;

impl Grader<'_> {
    pub(super) fn sds_endpoint(&self) -> Check {
        let c = check(
            "sds.endpoint-migrate",
            "SDS",
            "Looked up the old practice's migrate endpoint in SDS",
            "Find the provider's Access Record Structured service root with an SDS Endpoint search \
             for the old practice's ODS code and the migrate interaction; never hard-code it.",
            SDS_URL,
        );
        let Some(first) = self.migrates().first().copied() else {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        };
        let org = self.previous_practice().unwrap_or_default();
        let found = self.sds_lookups(
            Kind::SdsEndpoint,
            interactions::MIGRATE_STRUCTURED,
            first.seq(),
        );
        match found.last() {
            Some(l) => c.with(
                Status::Pass,
                format!(
                    "Endpoint lookup for {org} at #{} before the migrate at #{}",
                    l.seq(),
                    first.seq()
                ),
                vec![l.seq(), first.seq()],
            ),
            None => c.with(
                Status::Fail,
                format!(
                    "no SDS Endpoint lookup for {org} and {} before the migrate at #{}",
                    interactions::MIGRATE_STRUCTURED,
                    first.seq()
                ),
                vec![first.seq()],
            ),
        }
    }

    pub(super) fn sds_device(&self) -> Check {
        let c = check(
            "sds.device-asid",
            "SDS",
            "Took the provider's ASID (Ssp-To) from an SDS Device lookup",
            "SDS Endpoint does not carry the ASID: a Device search for the old practice and the \
             interaction gives it, and that ASID goes in Ssp-To.",
            SDS_URL,
        );
        let sent: Vec<&Event> = self
            .migrates()
            .into_iter()
            .chain(self.document_fetches())
            .collect();
        let Some(first) = sent.first() else {
            return c.with(Status::NotReached, "nothing was sent to a provider", vec![]);
        };
        let org = self.previous_practice().unwrap_or_default();
        let lookups = self.sds_lookups(Kind::SdsDevice, "", u64::MAX);
        let before: Vec<&Event> = lookups
            .iter()
            .copied()
            .filter(|l| l.seq() < first.seq())
            .collect();
        if before.is_empty() {
            return c.with(
                Status::Fail,
                format!("no SDS Device lookup for {org} before #{}", first.seq()),
                vec![first.seq()],
            );
        }
        let mut problems = Vec::new();
        let mut proof = seqs(&before);
        for e in &sent {
            let to = e.header("ssp-to").unwrap_or("");
            let known = lookups
                .iter()
                .any(|l| l.seq() < e.seq() && l.sds_results.iter().any(|a| a == to));
            if !known {
                // Say what the journal does show: a lookup for another practice that returned
                // this ASID, and whether it is the consumer's own.
                let elsewhere = self
                    .sds(Kind::SdsDevice)
                    .into_iter()
                    .find(|l| l.ok() && l.seq() < e.seq() && l.sds_results.iter().any(|a| a == to));
                let own =
                    e.entry.client_asid.as_deref() == Some(to) || e.header("ssp-from") == Some(to);
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
                problems.push(why);
                proof.push(e.seq());
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("Device lookup for {org} at #{}", before[0].seq()),
                proof,
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    pub(super) fn sds_documents(&self) -> Check {
        let c = check(
            "sds.endpoint-documents",
            "SDS",
            "Looked up the documents endpoint before fetching documents",
            "Documents are served by the Access Document capability: look up its endpoint in SDS \
             with the migrate-document interaction before fetching a Binary.",
            DOCUMENTS_URL,
        );
        let fetches = self.document_fetches();
        let Some(first) = fetches.first() else {
            return match self.delivered() {
                Some(d) if d.entry.documents.as_ref().is_some_and(|x| !x.is_empty()) => {
                    c.with(Status::NotReached, "no document was fetched", vec![d.seq()])
                }
                Some(d) => c.with(
                    Status::NotReached,
                    "the record listed no documents, so none was looked up",
                    vec![d.seq()],
                ),
                None => c.with(Status::NotReached, "no record was delivered", vec![]),
            };
        };
        let found = self.sds_lookups(
            Kind::SdsEndpoint,
            interactions::MIGRATE_DOCUMENT,
            first.seq(),
        );
        match found.last() {
            Some(l) => c.with(
                Status::Pass,
                format!(
                    "documents Endpoint lookup at #{} before the first fetch at #{}",
                    l.seq(),
                    first.seq()
                ),
                vec![l.seq(), first.seq()],
            ),
            None => c.with(
                Status::Fail,
                format!(
                    "no SDS Endpoint lookup for {} before the first document fetch at #{}",
                    interactions::MIGRATE_DOCUMENT,
                    first.seq()
                ),
                vec![first.seq()],
            ),
        }
    }
}
