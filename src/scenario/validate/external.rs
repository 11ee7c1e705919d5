//! `external_provider:` of a practice (the world's `ExternalProvider`).

use serde_saphyr::Spanned;

use super::{Checker, Documents};
use crate::scenario::ExternalProvider;
use crate::scenario::file::external::ExternalProviderEntry;

impl Checker {
    /// The external provider a practice names, with each problem reported at its field.
    pub(super) fn external_provider(
        &mut self,
        f: usize,
        documents: &Documents,
        provider: bool,
        entry: &Spanned<ExternalProviderEntry>,
    ) -> Option<ExternalProvider> {
        let e = &entry.value;
        if !provider {
            self.report_at(
                f,
                entry,
                "external_provider is set but provider is false: only a provider practice can name one",
            );
            return None;
        }
        let mut url = |value: &Spanned<String>| match url_problem(&value.value) {
            Some(problem) => {
                self.report_at(f, value, format!("external_provider: {problem}"));
                None
            }
            None => Some(value.value.clone()),
        };
        let structured = e.structured.as_ref().map(&mut url);
        let documents_url = e.documents.as_ref().map(&mut url);
        if e.structured.is_none() {
            self.report_at(
                f,
                entry,
                "external_provider has no structured base URL (https://.../STU3/1/gpconnect/structured/fhir)",
            );
        }
        let ca = match &e.ca {
            None => Some(None),
            Some(path) => {
                let resolved = documents.resolve(&path.value).and_then(|resolved| {
                    match std::fs::metadata(&resolved) {
                        Ok(m) if m.is_file() => Ok(resolved),
                        _ => Err(format!(
                            "'{}' is not a readable file (looked at {})",
                            path.value,
                            resolved.display()
                        )),
                    }
                });
                match resolved {
                    Ok(resolved) => Some(Some(resolved)),
                    Err(m) => {
                        self.report_at(f, path, format!("external_provider ca {m}"));
                        None
                    }
                }
            }
        };
        Some(ExternalProvider {
            structured: structured??,
            documents: match documents_url {
                Some(u) => Some(u?),
                None => None,
            },
            ca: ca?,
        })
    }
}

/// Why a base URL cannot be an external provider's, or `None` when it can.
pub(crate) fn url_problem(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Some(format!(
            "'{url}' must start with https://: SSP reaches external providers over TLS only"
        ));
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Some(format!("'{url}' has no host"));
    }
    if url.ends_with('/') {
        return Some(format!(
            "'{url}' ends with '/': give the FHIR base URL without it, as SDS holds it"
        ));
    }
    if url.contains(['?', '#', ' ']) {
        return Some(format!(
            "'{url}' is a base URL: no query, fragment or spaces"
        ));
    }
    if url.parse::<http::Uri>().is_err() {
        return Some(format!("'{url}' is not a valid URL"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_https_base_urls_are_accepted() {
        assert_eq!(
            url_problem("https://gp.example:9443/B82617/STU3/1/gpconnect/structured/fhir"),
            None
        );
        assert!(
            url_problem("http://gp.example/fhir")
                .unwrap()
                .contains("https://")
        );
        assert!(
            url_problem("https://gp.example/fhir/")
                .unwrap()
                .contains("ends with")
        );
        assert!(url_problem("https:///fhir").unwrap().contains("no host"));
        assert!(url_problem("https://gp.example/fhir?x=1").is_some());
    }
}
