//! JWT: the audit and provenance token on every GP Connect request.

use super::*;

impl Grader<'_> {
    pub(super) fn jwt_claims(&self) -> Check {
        let c = check(
            "jwt.claims",
            "JWT",
            "Every JWT claim right",
            "Each request carries a fresh unsigned JWT (alg none, trailing dot) with iss, sub, aud, \
             iat, exp = iat + 300, reason_for_request, requested_scope, requesting_device, \
             requesting_organization (the new practice's ODS code) and, for documents, \
             requesting_practitioner.",
            JWT_URL,
        );
        let sent: Vec<&Event> = self
            .migrates()
            .into_iter()
            .chain(self.document_fetches())
            .collect();
        if sent.is_empty() {
            return c.with(Status::NotReached, "nothing was sent to a provider", vec![]);
        }
        let mut problems = Vec::new();
        let mut proof = Vec::new();
        for e in &sent {
            let rules = if matches!(e.kind, Kind::SspMigrate | Kind::ProviderMigrate) {
                &Rules::MIGRATE
            } else {
                &Rules::MIGRATE_DOCUMENT
            };
            let at = e.time.unwrap_or_else(Utc::now);
            let verdict = match e.header("authorization").and_then(crate::jwt::bearer_token) {
                None => Err("no Authorization: Bearer token".to_owned()),
                Some(token) => crate::jwt::validate(token, at, rules)
                    .map_err(|err| err.diagnostics)
                    .and_then(|claims| {
                        if claims
                            .requesting_ods
                            .eq_ignore_ascii_case(&self.consumer.ods)
                        {
                            Ok(())
                        } else {
                            Err(format!(
                                "requesting_organization {} is not the consumer {}",
                                claims.requesting_ods, self.consumer.ods
                            ))
                        }
                    }),
            };
            if let Err(why) = verdict {
                problems.push(format!("#{}: {why}", e.seq()));
                proof.push(e.seq());
            }
        }
        if problems.is_empty() {
            c.with(
                Status::Pass,
                format!("{} token(s), every claim valid", sent.len()),
                seqs(&sent),
            )
        } else {
            c.with(Status::Fail, problems.join("; "), proof)
        }
    }

    pub(super) fn jwt_reason(&self) -> Check {
        let c = check(
            "jwt.reason-migration",
            "JWT",
            "reason_for_request is migration",
            "A migrate request's JWT says reason_for_request \"migration\" (a document fetch may say \
             migration or directcare).",
            MIGRATE_URL,
        );
        let sent = self.migrates();
        if sent.is_empty() {
            return c.with(Status::NotReached, "no migrate was sent", vec![]);
        }
        let wrong: Vec<&Event> = sent
            .iter()
            .copied()
            .filter(|e| {
                e.claims()
                    .is_none_or(|cl| cl["reason_for_request"] != "migration")
            })
            .collect();
        if wrong.is_empty() {
            c.with(Status::Pass, "migration on every migrate", seqs(&sent))
        } else {
            c.with(
                Status::Fail,
                wrong
                    .iter()
                    .map(|e| {
                        format!(
                            "#{}: reason_for_request {}",
                            e.seq(),
                            e.claims()
                                .map_or("absent".to_owned(), |c| c["reason_for_request"]
                                    .to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                seqs(&wrong),
            )
        }
    }

    pub(super) fn jwt_scope(&self) -> Check {
        let c = check(
            "jwt.scope-sensitivity",
            "JWT",
            "conf/N or conf/R agrees with includeSensitiveInformation",
            "requested_scope ends conf/R exactly when includeSensitiveInformation is true, conf/N \
             (or no conf token) when it is false; a mismatch is refused 400 CONFLICTING_VALUES.",
            MIGRATE_URL,
        );
        let seen = self.of(&[Kind::ProviderMigrate]);
        if seen.is_empty() {
            return c.with(Status::NotReached, "no migrate reached a provider", vec![]);
        }
        let mut problems = Vec::new();
        for e in &seen {
            let conf = conf_of(e);
            let want = e.sensitive.map(|s| if s { "conf/R" } else { "conf/N" });
            if let (Some(conf), Some(want)) = (conf, want) {
                if conf != want {
                    problems.push(format!(
                        "#{}: includeSensitiveInformation {} with {conf}",
                        e.seq(),
                        want == "conf/R"
                    ));
                }
            } else if refusal_code(e) == "CONFLICTING_VALUES" {
                problems.push(format!("#{}: refused CONFLICTING_VALUES", e.seq()));
            }
        }
        if problems.is_empty() {
            c.with(Status::Pass, "scope and sensitivity agree", seqs(&seen))
        } else {
            c.with(Status::Fail, problems.join("; "), seqs(&seen))
        }
    }
}
