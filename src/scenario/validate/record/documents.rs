//! Documents: title, type, date and their content, written inline or read from a file.

use std::io::Read as _;
use std::path::Path;

use serde_saphyr::Spanned;

use crate::scenario::validate::{Documents, MAX_DOCUMENT_BYTES};

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Document, Record};

impl RecordChecker<'_> {
    pub(super) fn documents(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, doc) in r.documents.iter().flatten().enumerate() {
            let e = &doc.value;
            let item = ItemFields {
                at: doc.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Document, &item);
            let title = self
                .required_of(Area::Document, &item, e.title.as_ref(), "title")
                .and_then(|t| self.text(t, "document title"));
            let kind = self.required_of(Area::Document, &item, e.kind.as_ref(), "type");
            let kind = kind.and_then(|k| self.code(k));
            let date = self.date_of(Area::Document, &item, e.date.as_ref(), "date");
            let (content, guessed) = match (&e.text, &e.file) {
                (Some(t), None) => (
                    Some(bytes::Bytes::from(t.value.clone().into_bytes())),
                    Some("text/plain"),
                ),
                (None, Some(path)) => (self.document_file(path), content_type_for(&path.value)),
                (Some(_), Some(path)) => {
                    self.fail_at(
                        path,
                        format!(
                            "document {} has both text and file; give exactly one",
                            meta.id
                        ),
                    );
                    (None, None)
                }
                (None, None) if e.size.is_some() => (
                    Some(bytes::Bytes::from_static(
                        crate::scenario::validate::supplier::FILLER,
                    )),
                    Some("text/plain"),
                ),
                (None, None) => {
                    self.fail(
                        doc.referenced,
                        format!(
                            "document {} has neither text nor file; give exactly one",
                            meta.id
                        ),
                    );
                    (None, None)
                }
            };
            let content_type = match &e.content_type {
                Some(ct) => self.content_type(ct),
                None => {
                    if guessed.is_none()
                        && e.text.is_none()
                        && let Some(path) = &e.file
                    {
                        self.fail_at(
                            path,
                            format!(
                                "cannot tell the content type of '{}' from its extension; add content_type",
                                path.value
                            ),
                        );
                    }
                    guessed.map(str::to_owned)
                }
            };
            let generated_size = match &e.size {
                Some(s) => match crate::scenario::validate::supplier::document_size(&s.value) {
                    Ok(n) => Some(n),
                    Err(m) => {
                        self.fail_at(s, m);
                        None
                    }
                },
                None => None,
            };
            if content.as_ref().is_some_and(bytes::Bytes::is_empty) && generated_size.is_some() {
                self.fail(
                    doc.referenced,
                    format!("document {} has size but an empty text to repeat", meta.id),
                );
            }
            if let (Some(title), Some(kind), Some(date), Some(content), Some(content_type)) =
                (title, kind, date, content, content_type)
            {
                record.documents.push(Document {
                    meta,
                    title,
                    kind,
                    date,
                    generated_size,
                    content_type,
                    content,
                });
            }
        }
    }

    pub(super) fn content_type(&mut self, ct: &Spanned<String>) -> Option<String> {
        let v = ct.value.trim();
        let ok = v.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty() && !s.is_empty() && !v.chars().any(|c| c.is_whitespace() && c != ' ')
        });
        if ok {
            Some(v.to_owned())
        } else {
            self.fail_at(
                ct,
                format!(
                    "content_type '{}' is not a media type such as text/plain or application/pdf",
                    ct.value
                ),
            );
            None
        }
    }

    /// A document of the built-in scenario, found by the path it names.
    fn embedded_file(
        &mut self,
        files: &[(&str, &'static [u8])],
        path: &Spanned<String>,
    ) -> Option<bytes::Bytes> {
        let found = files.iter().find(|(name, _)| *name == path.value);
        if found.is_none() {
            self.fail_at(
                path,
                format!(
                    "document file '{}' is not among the built-in scenario's documents",
                    path.value
                ),
            );
        }
        found.map(|(_, content)| bytes::Bytes::from_static(content))
    }

    pub(super) fn document_file(&mut self, path: &Spanned<String>) -> Option<bytes::Bytes> {
        let dir = match self.dir {
            Documents::Folder(dir) => dir,
            Documents::Embedded(files) => return self.embedded_file(files, path),
        };
        let full = dir.join(&path.value);
        // Only regular files: reading a FIFO or a device such as /dev/stdin would block the load.
        if std::fs::metadata(&full).is_ok_and(|m| !m.is_file()) {
            self.fail_at(
                path,
                format!(
                    "document file '{}' ({}) is not a regular file",
                    path.value,
                    full.display()
                ),
            );
            return None;
        }
        let read = std::fs::File::open(&full).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(MAX_DOCUMENT_BYTES + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        });
        match read {
            Ok(bytes) if bytes.len() as u64 > MAX_DOCUMENT_BYTES => {
                self.fail_at(
                    path,
                    format!(
                        "document file '{}' is larger than {} MiB",
                        path.value,
                        MAX_DOCUMENT_BYTES / 1024 / 1024
                    ),
                );
                None
            }
            Ok(bytes) => Some(bytes::Bytes::from(bytes)),
            Err(e) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_owned(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                    _ => e.to_string(),
                };
                self.fail_at(
                    path,
                    format!(
                        "cannot read document file '{}' (looked for {}): {reason}",
                        path.value,
                        full.display()
                    ),
                );
                None
            }
        }
    }
}

/// The media type a document file's extension implies, when it is one we know.
fn content_type_for(path: &str) -> Option<&'static str> {
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)?;
    Some(match extension.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "xml" => "text/xml",
        "rtf" => "text/rtf",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        _ => return None,
    })
}
