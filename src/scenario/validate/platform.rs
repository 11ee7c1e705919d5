//! Checks the platform sections (`auth:`, `applications:`, `faults:`) and resolves them into
//! what the API platform runs on.

use super::Source;
use crate::platform::{Application, PlatformScenario, oauth};
use crate::scenario::error::ScenarioError;

/// Reads the platform sections of every file; problems at their positions.
pub(crate) fn build(sources: &[Source]) -> (PlatformScenario, Vec<ScenarioError>) {
    let mut out = PlatformScenario::default();
    let mut problems = Vec::new();
    for source in sources {
        let at = |line: u64, column: u64, message: String| ScenarioError {
            file: source.name.clone(),
            line: line.max(1),
            column: column.max(1),
            message,
        };
        let report = |problems: &mut Vec<ScenarioError>, loc: serde_saphyr::Location, m: String| {
            problems.push(at(loc.line(), loc.column(), m));
        };
        if let Some(auth) = &source.file.auth {
            match auth.value.as_str() {
                "required" => out.auth_required = Some(true),
                "off" => out.auth_required = Some(false),
                other => report(
                    &mut problems,
                    auth.referenced,
                    format!("auth: '{other}' is neither 'required' nor 'off'"),
                ),
            }
        }
        for entry in source.file.applications.iter().flatten() {
            let loc = entry.referenced;
            let e = &entry.value;
            let (Some(name), Some(api_key)) = (&e.name, &e.api_key) else {
                report(
                    &mut problems,
                    loc,
                    "an application needs a name and an api_key".into(),
                );
                continue;
            };
            if api_key.value.trim().is_empty() {
                report(
                    &mut problems,
                    api_key.referenced,
                    "api_key: must not be empty".into(),
                );
                continue;
            }
            if out.applications.iter().any(|a| a.api_key == api_key.value) {
                report(
                    &mut problems,
                    api_key.referenced,
                    format!("api_key: '{}' is given to two applications", api_key.value),
                );
                continue;
            }
            let mut keys = Vec::new();
            if let Some(jwks) = &e.jwks {
                let read = source.documents.resolve(&jwks.value).and_then(|path| {
                    std::fs::read_to_string(&path)
                        .map(|text| (path.clone(), text))
                        .map_err(|err| format!("cannot read {}: {err}", path.display()))
                });
                match read {
                    Err(err) => report(&mut problems, jwks.referenced, format!("jwks: {err}")),
                    Ok((path, text)) => match oauth::keys_from_jwks(&text) {
                        Ok(k) => keys.extend(k),
                        Err(m) => report(
                            &mut problems,
                            jwks.referenced,
                            format!("jwks: {}: {m}", path.display()),
                        ),
                    },
                }
            }
            match (&e.public_key, &e.kid) {
                (Some(pem), Some(kid)) => {
                    let read = source.documents.resolve(&pem.value).and_then(|path| {
                        std::fs::read(&path)
                            .map(|bytes| (path.clone(), bytes))
                            .map_err(|err| format!("cannot read {}: {err}", path.display()))
                    });
                    match read {
                        Err(err) => {
                            report(&mut problems, pem.referenced, format!("public_key: {err}"))
                        }
                        Ok((path, bytes)) => match oauth::key_from_pem(&kid.value, &bytes) {
                            Ok(k) => keys.push(k),
                            Err(m) => report(
                                &mut problems,
                                pem.referenced,
                                format!("public_key: {}: {m}", path.display()),
                            ),
                        },
                    }
                }
                (Some(pem), None) => report(
                    &mut problems,
                    pem.referenced,
                    "public_key: give the key's kid too (the kid header of the client assertions)"
                        .into(),
                ),
                (None, Some(kid)) => report(
                    &mut problems,
                    kid.referenced,
                    "kid: names the key in public_key, which is missing".into(),
                ),
                (None, None) => {}
            }
            if let Some(rate) = &e.rate_limit
                && rate.value == 0
            {
                report(
                    &mut problems,
                    rate.referenced,
                    "rate_limit: must be at least 1 request per second (leave it out for no limit)"
                        .into(),
                );
            }
            if let Some(uri) = &e.redirect_uri {
                let ok = (uri.value.starts_with("http://") || uri.value.starts_with("https://"))
                    && uri
                        .value
                        .parse::<http::Uri>()
                        .is_ok_and(|u| u.host().is_some());
                if !ok {
                    report(
                        &mut problems,
                        uri.referenced,
                        format!(
                            "redirect_uri: '{}' is not an absolute http:// or https:// URL",
                            uri.value
                        ),
                    );
                }
            }
            out.applications.push(Application {
                name: name.value.clone(),
                api_key: api_key.value.clone(),
                secret: e.secret.clone(),
                keys,
                rate_limit: e.rate_limit.as_ref().map(|r| r.value),
                redirect_uri: e.redirect_uri.as_ref().map(|r| r.value.clone()),
            });
        }
        for rule in source.file.faults.iter().flatten() {
            match rule.value.check() {
                Ok(()) => out.faults.push(rule.value.clone()),
                Err(m) => report(&mut problems, rule.referenced, format!("fault rule: {m}")),
            }
        }
    }
    (out, problems)
}
