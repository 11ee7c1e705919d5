//! `external_provider:` of a practice (`super::super::external`).

use serde_saphyr::Spanned;

use super::{Checker, Documents};
use crate::scenario::external::{ExternalProvider, ExternalProviderEntry, url_problem};

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
                let resolved = documents.resolve(&path.value);
                match std::fs::metadata(&resolved) {
                    Ok(m) if m.is_file() => Some(Some(resolved)),
                    _ => {
                        self.report_at(
                            f,
                            path,
                            format!(
                                "external_provider ca '{}' is not a readable file (looked at {})",
                                path.value,
                                resolved.display()
                            ),
                        );
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
