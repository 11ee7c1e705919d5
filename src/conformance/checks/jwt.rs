//! JWT: the audit and provenance token on every GP Connect request: its claims, its reason and
//! scope, fresh for every retry, naming this consumer.

use super::*;
use crate::fhir::systems;

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: CheckId::JwtClaims,
        title: "Every JWT claim right",
        rule: "Each request carries a fresh unsigned JWT (alg none, trailing dot) with iss, sub, aud, \
               iat, exp = iat + 300, reason_for_request, requested_scope, requesting_device, \
               requesting_organization (the new practice's ODS code) and, for documents, \
               requesting_practitioner.",
        source: JWT_URL,
        script: None,
        about_start: false,
        grade: claims,
    },
    Rule {
        id: CheckId::JwtReason,
        title: "reason_for_request is migration",
        rule: "A migrate request's JWT says reason_for_request \"migration\" (a document fetch may say \
               migration or directcare).",
        source: MIGRATE_URL,
        script: None,
        about_start: false,
        grade: reason,
    },
    Rule {
        id: CheckId::JwtScope,
        title: "conf/N or conf/R agrees with includeSensitiveInformation",
        rule: "requested_scope ends conf/R exactly when includeSensitiveInformation is true, conf/N \
               (or no conf token) when it is false; a mismatch is refused 400 CONFLICTING_VALUES.",
        source: MIGRATE_URL,
        script: None,
        about_start: false,
        grade: scope,
    },
    Rule {
        id: CheckId::JwtFreshPerRetry,
        title: "A fresh JWT for every request, retries included",
        rule: "Mint a new JWT for every request, and again for each retry: a token lives 5 minutes \
               from its iat, so one reused across retries expires (NHS England's GP2GP adaptor had to \
               fix exactly this in its 2.0.4 release).",
        source: JWT_URL,
        script: None,
        about_start: false,
        grade: fresh_per_retry,
    },
    Rule {
        id: CheckId::JwtIdentity,
        title: "requesting_organization and requesting_device name this consumer",
        rule: "requesting_organization carries the consumer's own ODS code under \
               https://fhir.nhs.uk/Id/ods-organization-code (a code that is not the patient's new \
               practice is refused: GPC-MIG-TST-GEN-08); requesting_device identifies the sending \
               system, best by its ASID under https://fhir.nhs.uk/Id/nhsSpineASID, which must then \
               be the ASID of its client certificate and Ssp-From.",
        source: JWT_URL,
        script: Some(TestScript {
            ids: "GPC-MIG-TST-GEN-08",
            requirement: "",
            url: CONSUMER_SCRIPTS_URL,
        }),
        about_start: false,
        grade: identity,
    },
];

fn claims(g: &Grader<'_>) -> Verdict {
    let sent: Vec<&Event> = g
        .migrates()
        .into_iter()
        .chain(g.retrieves())
        .chain(g.document_fetches())
        .collect();
    if sent.is_empty() {
        return Verdict::not_reached("nothing was sent to a provider");
    }
    let mut found = Findings::default();
    for e in &sent {
        let rules = match e.kind {
            Kind::SspMigrate | Kind::ProviderMigrate => &Rules::MIGRATE,
            Kind::SspRetrieve | Kind::ProviderRetrieve => &Rules::GET_STRUCTURED,
            _ => &Rules::MIGRATE_DOCUMENT,
        };
        let at = e.time.unwrap_or_else(Utc::now);
        let verdict = match e.header("authorization").and_then(crate::jwt::bearer_token) {
            None => Err("no Authorization: Bearer token".to_owned()),
            Some(token) => crate::jwt::validate(token, at, rules)
                .map_err(|err| err.diagnostics)
                .and_then(|claims| {
                    if claims.requesting_ods.eq_ignore_ascii_case(&g.consumer.ods) {
                        Ok(())
                    } else {
                        Err(format!(
                            "requesting_organization {} is not the consumer {}",
                            claims.requesting_ods, g.consumer.ods
                        ))
                    }
                }),
        };
        if let Err(why) = verdict {
            found.fail(format!("#{}: {why}", e.seq()), [e.seq()]);
        }
    }
    found.or_pass(
        format!("{} token(s), every claim valid", sent.len()),
        seqs(&sent),
    )
}

fn reason(g: &Grader<'_>) -> Verdict {
    let sent = g.migrates();
    if sent.is_empty() {
        return Verdict::not_reached("no migrate was sent");
    }
    let mut found = Findings::default();
    for e in &sent {
        let claims = e.claims();
        if claims
            .as_ref()
            .is_none_or(|cl| cl["reason_for_request"] != "migration")
        {
            let said = claims.map_or("absent".to_owned(), |c| c["reason_for_request"].to_string());
            found.fail(
                format!("#{}: reason_for_request {said}", e.seq()),
                [e.seq()],
            );
        }
    }
    found.or_pass("migration on every migrate", seqs(&sent))
}

fn scope(g: &Grader<'_>) -> Verdict {
    let seen = g.of(&[Kind::ProviderMigrate]);
    if seen.is_empty() {
        return Verdict::not_reached("no migrate reached a provider");
    }
    let mut found = Findings::default();
    found.prove(seqs(&seen));
    for e in &seen {
        let conf = conf_of(e);
        let want = e.sensitive.map(|s| if s { "conf/R" } else { "conf/N" });
        if let (Some(conf), Some(want)) = (conf, want) {
            if conf != want {
                found.fail(
                    format!(
                        "#{}: includeSensitiveInformation {} with {conf}",
                        e.seq(),
                        want == "conf/R"
                    ),
                    [],
                );
            }
        } else if refusal_code(e) == "CONFLICTING_VALUES" {
            found.fail(format!("#{}: refused CONFLICTING_VALUES", e.seq()), []);
        }
    }
    found.or_pass_proved("scope and sensitivity agree")
}

fn fresh_per_retry(g: &Grader<'_>) -> Verdict {
    let sent = g.gp_connect_requests();
    let token = |e: &Event| {
        e.header("authorization")
            .and_then(crate::jwt::bearer_token)
            .map(str::to_owned)
    };
    let mut found = Findings::default();
    for (n, e) in sent.iter().enumerate() {
        let Some(t) = token(e) else { continue };
        // Two tokens minted in the same second for the same request are byte for byte the
        // same: only one sent again in a later second is certainly a reused token.
        let later_second = |o: &&&Event| match (o.time, e.time) {
            (Some(a), Some(b)) => b.timestamp() > a.timestamp(),
            _ => false,
        };
        if let Some(earlier) = sent[..n]
            .iter()
            .filter(later_second)
            .find(|o| token(o).as_deref() == Some(&t))
        {
            let iat = e
                .claims()
                .and_then(|c| c["iat"].as_i64())
                .map_or(String::new(), |i| format!(" (iat {i})"));
            found.fail(
                format!("#{} resends the JWT of #{}{iat}", e.seq(), earlier.seq()),
                [earlier.seq(), e.seq()],
            );
        }
    }
    found.or_else(|_| {
        // Requests sent again after a refusal: the retries this check is about.
        let retries: Vec<&Event> = sent
            .windows(2)
            .filter(|w| !w[0].ok() && w[0].kind == w[1].kind)
            .map(|w| w[1])
            .collect();
        if retries.is_empty() {
            Verdict::not_reached("no GP Connect request was retried")
        } else {
            Verdict::pass(
                format!("{} retry(ies), each with a token of its own", retries.len()),
                seqs(&retries),
            )
        }
    })
}

/// A claim's `identifier` list (empty when it has none).
fn identifiers(claim: &serde_json::Value) -> Vec<serde_json::Value> {
    claim["identifier"].as_array().cloned().unwrap_or_default()
}

fn identity(g: &Grader<'_>) -> Verdict {
    let sent = g.gp_connect_requests();
    if sent.is_empty() {
        return Verdict::not_reached("nothing was sent to a provider");
    }
    let mut found = Findings::default();
    for e in &sent {
        let Some(claims) = e.claims() else {
            continue;
        };
        let org_ids = identifiers(&claims["requesting_organization"]);
        let ods = org_ids
            .iter()
            .find(|i| i["system"] == systems::ODS_ORGANIZATION_CODE)
            .and_then(|i| i["value"].as_str());
        match ods {
            None => {
                let systems_sent: Vec<String> = org_ids
                    .iter()
                    .map(|i| i["system"].as_str().unwrap_or("(none)").to_owned())
                    .collect();
                found.fail(
                    format!(
                        "#{}: requesting_organization has no identifier with system {} (sent: {})",
                        e.seq(),
                        systems::ODS_ORGANIZATION_CODE,
                        if systems_sent.is_empty() {
                            "none".to_owned()
                        } else {
                            systems_sent.join(", ")
                        }
                    ),
                    [e.seq()],
                );
            }
            Some(o) if !o.eq_ignore_ascii_case(&g.consumer.ods) => found.fail(
                format!(
                    "#{}: requesting_organization names {o}, not this consumer {}",
                    e.seq(),
                    g.consumer.ods
                ),
                [e.seq()],
            ),
            Some(_) => {}
        }
        let own_asid = e
            .entry
            .client_asid
            .as_deref()
            .or_else(|| e.header("ssp-from"));
        let device_ids = identifiers(&claims["requesting_device"]);
        let device_asid = device_ids
            .iter()
            .find(|i| i["system"] == systems::SPINE_ASID)
            .and_then(|i| i["value"].as_str());
        match (device_asid, own_asid) {
            (Some(d), Some(own)) if d != own => found.fail(
                format!(
                    "#{}: requesting_device names ASID {d}, but this consumer's certificate and Ssp-From are {own}",
                    e.seq()
                ),
                [e.seq()],
            ),
            (Some(_), _) => {}
            (None, _) => {
                let shown: Vec<String> = device_ids
                    .iter()
                    .map(|i| {
                        format!(
                            "{}|{}",
                            i["system"].as_str().unwrap_or(""),
                            i["value"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                found.warn(
                    format!(
                        "#{}: requesting_device identifies the system as {} rather than by its ASID ({}|{})",
                        e.seq(),
                        if shown.is_empty() {
                            "nothing".to_owned()
                        } else {
                            shown.join(", ")
                        },
                        systems::SPINE_ASID,
                        own_asid.unwrap_or("your ASID")
                    ),
                    [e.seq()],
                );
            }
        }
    }
    found.or_pass(
        format!(
            "{} token(s) name {} and its ASID",
            sent.len(),
            g.consumer.ods
        ),
        seqs(&sent),
    )
}
