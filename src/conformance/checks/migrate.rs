//! Migrate: the Parameters body and the registration before it.

use super::*;

impl Grader<'_> {
    pub(super) fn migrate_parameters(&self) -> Check {
        let c = check(
            "migrate.parameters",
            "migrate",
            "A well-formed Parameters body",
            "The body is a Parameters resource with exactly patientNHSNumber (valueIdentifier, \
             system https://fhir.nhs.uk/Id/nhs-number) and includeFullRecord with its part \
             includeSensitiveInformation (valueBoolean); nothing else.",
            MIGRATE_URL,
        );
        let seen = self.of(&[Kind::ProviderMigrate]);
        if seen.is_empty() {
            return c.with(Status::NotReached, "no migrate reached a provider", vec![]);
        }
        let bad: Vec<&Event> = seen
            .iter()
            .copied()
            .filter(|e| {
                matches!(
                    refusal_code(e),
                    "INVALID_RESOURCE" | "INVALID_PARAMETER" | "INVALID_NHS_NUMBER"
                ) || e.sensitive.is_none()
            })
            .collect();
        if bad.is_empty() {
            c.with(
                Status::Pass,
                format!("{} well-formed Parameters", seen.len()),
                seqs(&seen),
            )
        } else {
            c.with(
                Status::Fail,
                bad.iter()
                    .map(|e| {
                        format!(
                            "#{}: {}",
                            e.seq(),
                            e.entry.refusal.clone().unwrap_or_else(|| {
                                "includeFullRecord.includeSensitiveInformation missing".to_owned()
                            })
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                seqs(&bad),
            )
        }
    }

    pub(super) fn migrate_after_registration(&self) -> Check {
        let c = check(
            "migrate.after-registration",
            "migrate",
            "Migrated only once PDS named the new practice",
            "The old practice releases the record only to the practice PDS shows as registered: \
             change the registration first, then migrate. A 403 NO_RELATIONSHIP is handled by \
             changing the registration and retrying once, not by calling again and again.",
            MIGRATE_URL,
        );
        let attempts = self.migrates();
        if attempts.is_empty() {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        }
        let pds = self.of(&[Kind::PdsRead, Kind::PdsPatch]);
        let registered = pds.iter().find(|e| {
            e.ok()
                && (e.kind == Kind::PdsPatch
                    || gp_of(e).is_some_and(|g| g.eq_ignore_ascii_case(&self.consumer.ods)))
        });
        let early: Vec<&Event> = attempts
            .iter()
            .copied()
            .filter(|m| registered.is_none_or(|r| m.seq() < r.seq()))
            .collect();
        match (registered, early.len()) {
            (Some(r), 0) => c.with(
                Status::Pass,
                format!("registration changed (or already right) at #{}, first migrate at #{}", r.seq(), attempts[0].seq()),
                vec![r.seq(), attempts[0].seq()],
            ),
            (None, _) => c.with(
                Status::Fail,
                format!(
                    "{} migrate(s) sent, but PDS never named {} in this journey",
                    attempts.len(),
                    self.consumer.ods
                ),
                seqs(&attempts),
            ),
            (Some(r), 1) if attempts.len() > 1 => c.with(
                Status::Warning,
                format!(
                    "migrate at #{} came before the registration change; handled by changing it at #{} and retrying",
                    early[0].seq(),
                    r.seq()
                ),
                vec![early[0].seq(), r.seq()],
            ),
            (Some(r), n) => c.with(
                Status::Fail,
                format!("{n} migrate(s) before the registration change at #{}", r.seq()),
                seqs(&early).into_iter().chain([r.seq()]).collect(),
            ),
        }
    }
}
