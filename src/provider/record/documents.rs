//! Documents: DocumentReferences pointing at the documents service Binary.

use super::*;
use crate::fhir::gpconnect::profiles;
use crate::fhir::stu3::{
    Attachment, Date, DocumentContent, DocumentReference, Instant, Meta, Resource,
};

impl<'a> Builder<'a> {
    // ---- Documents (no primary List, `docs/migrate.md`) ----

    pub(super) fn documents(&mut self) {
        let cx = &self.cx;
        let placeholders = cx.req.patient.record.quirks.placeholder_documents;
        for d in &cx.req.patient.record.documents {
            if cx.absent(&d.meta) {
                continue;
            }
            let url = format!(
                "{}/Binary/{}",
                cx.req.documents_base,
                binary_id(cx.req.patient, d)
            );
            let document = DocumentReference {
                id: cx.id("DocumentReference", &d.meta.id),
                meta: Meta {
                    version_id: Some("1"),
                    ..cx.meta(profiles::DOCUMENT_REFERENCE, &d.meta)
                },
                identifier: cx.identifier(&d.meta.id, ""),
                status: "current",
                type_: snomed(&d.kind),
                subject: cx.patient(),
                created: Date(d.date),
                indexed: Instant(d.date),
                author: [cx.organization()],
                custodian: cx.organization(),
                description: &d.title,
                content: [DocumentContent {
                    attachment: if placeholders {
                        // The quirk: a placeholder, titled, with no url to fetch.
                        Attachment {
                            content_type: &d.content_type,
                            url: None,
                            size: None,
                            title: Some(format!(
                                "{}: placeholder, the original document is not available",
                                d.title
                            )),
                        }
                    } else {
                        Attachment {
                            content_type: &d.content_type,
                            url: Some(url),
                            size: Some(d.size()),
                            title: None,
                        }
                    },
                }],
            };
            write_entry(&mut self.out, &Resource::DocumentReference(document));
        }
    }
}
