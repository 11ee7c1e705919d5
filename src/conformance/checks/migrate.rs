//! Migrate: the Parameters body, the registration before it, and the practice asked.

use super::*;

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::MigrateParameters,
        title: "A well-formed Parameters body",
        rule: "The body is a Parameters resource with exactly patientNHSNumber (valueIdentifier, \
               system https://fhir.nhs.uk/Id/nhs-number) and includeFullRecord with its part \
               includeSensitiveInformation (valueBoolean); nothing else.",
        source: MIGRATE_URL,
        script: None,
        about_start: false,
        grade: parameters,
    },
    Rule {
        id: CheckId::MigrateAfterRegistration,
        title: "Migrated only once PDS named the new practice",
        rule: "The old practice releases the record only to the practice PDS shows as registered: \
               change the registration first, then migrate. A 403 NO_RELATIONSHIP is handled by \
               changing the registration and retrying once, not by calling again and again.",
        source: MIGRATE_URL,
        script: Some(TestScript {
            ids: "GPC-MIG-TST-GEN-08",
            requirement: "",
            url: CONSUMER_SCRIPTS_URL,
        }),
        about_start: false,
        grade: after_registration,
    },
    Rule {
        id: CheckId::MigrateFromPreviousPractice,
        title: "Asked the practice PDS named before the registration change",
        rule: "The record is at the practice PDS named when the patient was first traced: note it \
               before changing the registration, and send the migrate to that practice. After the \
               change PDS names the new practice itself, which holds no record to migrate.",
        source: MIGRATE_URL,
        script: None,
        about_start: false,
        grade: from_previous_practice,
    },
];

fn parameters(g: &Grader<'_>) -> Verdict {
    let seen = g.of(&[Kind::ProviderMigrate]);
    if seen.is_empty() {
        return Verdict::not_reached("no migrate reached a provider");
    }
    let mut found = Findings::default();
    for e in &seen {
        let refused = matches!(
            refusal_code(e),
            "INVALID_RESOURCE" | "INVALID_PARAMETER" | "INVALID_NHS_NUMBER"
        );
        if refused || e.sensitive.is_none() {
            let why = e.entry.refusal.clone().unwrap_or_else(|| {
                "includeFullRecord.includeSensitiveInformation missing".to_owned()
            });
            found.fail(format!("#{}: {why}", e.seq()), [e.seq()]);
        }
    }
    found.or_pass(
        format!("{} well-formed Parameters", seen.len()),
        seqs(&seen),
    )
}

fn after_registration(g: &Grader<'_>) -> Verdict {
    let attempts = g.migrates();
    if attempts.is_empty() {
        return Verdict::not_reached("no migrate was sent");
    }
    let pds = g.of(&[Kind::PdsRead, Kind::PdsPatch]);
    let registered = pds.iter().find(|e| {
        e.ok()
            && (e.kind == Kind::PdsPatch
                || gp_of(e).is_some_and(|gp| gp.eq_ignore_ascii_case(&g.consumer.ods)))
    });
    let early: Vec<&Event> = attempts
        .iter()
        .copied()
        .filter(|m| registered.is_none_or(|r| m.seq() < r.seq()))
        .collect();
    match (registered, early.len()) {
        (Some(r), 0) => Verdict::pass(
            format!(
                "registration changed (or already right) at #{}, first migrate at #{}",
                r.seq(),
                attempts[0].seq()
            ),
            [r.seq(), attempts[0].seq()],
        ),
        (None, _) => Verdict::fail(
            format!(
                "{} migrate(s) sent, but PDS never named {} in this journey",
                attempts.len(),
                g.consumer.ods
            ),
            seqs(&attempts),
        ),
        (Some(r), 1) if attempts.len() > 1 => Verdict::warning(
            format!(
                "migrate at #{} came before the registration change; handled by changing it at #{} and retrying",
                early[0].seq(),
                r.seq()
            ),
            [early[0].seq(), r.seq()],
        ),
        (Some(r), n) => Verdict::fail(
            format!(
                "{n} migrate(s) before the registration change at #{}",
                r.seq()
            ),
            seqs(&early).into_iter().chain([r.seq()]),
        ),
    }
}

fn from_previous_practice(g: &Grader<'_>) -> Verdict {
    let Some(first) = g.migrates().first().copied() else {
        return Verdict::not_reached("no migrate was sent");
    };
    let Some(asked) = provider_ods(first.target()) else {
        return Verdict::not_reached_at(
            format!(
                "the migrate at #{} names no practice in its URL",
                first.seq()
            ),
            [first.seq()],
        );
    };
    let before = g
        .of(&[Kind::PdsRead])
        .into_iter()
        .filter(|e| e.ok() && e.seq() < first.seq())
        .find_map(|e| gp_of(e).map(|gp| (e.seq(), gp)));
    let ours = &g.consumer.ods;
    let own = asked.eq_ignore_ascii_case(ours);
    match before {
        Some((_, gp)) if gp.eq_ignore_ascii_case(&asked) && !own => Verdict::pass(
            format!("asked {asked}, the practice PDS named at the first trace"),
            [first.seq()],
        ),
        Some((at, gp)) if own && !gp.eq_ignore_ascii_case(ours) => Verdict::fail(
            format!(
                "#{} asked your own practice ({asked}) for the record; PDS named {gp} at the trace #{at}, before the registration change: ask {gp}",
                first.seq()
            ),
            [at, first.seq()],
        ),
        Some((_, _)) if own => Verdict::fail(
            format!(
                "#{} asked your own practice ({asked}) for the record: PDS already named you when traced, so there is no previous practice to migrate from",
                first.seq()
            ),
            [first.seq()],
        ),
        Some((at, gp)) if gp.eq_ignore_ascii_case(ours) => Verdict::warning(
            format!(
                "#{} asked {asked}; PDS already named you ({gp}) at the trace #{at}, so the journal cannot tell which practice held the record before",
                first.seq()
            ),
            [at, first.seq()],
        ),
        Some((at, gp)) => Verdict::fail(
            format!(
                "#{} asked {asked}, but PDS named {gp} at the trace #{at}",
                first.seq()
            ),
            [at, first.seq()],
        ),
        None if own => Verdict::fail(
            format!(
                "#{} asked your own practice ({asked}) for the record",
                first.seq()
            ),
            [first.seq()],
        ),
        None => Verdict::not_reached_at(
            "no PDS trace named a practice before the migrate (see pds.trace-before-change)",
            [first.seq()],
        ),
    }
}
