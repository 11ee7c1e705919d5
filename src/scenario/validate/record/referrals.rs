//! Referrals: date, where to, priority and code.

use super::{Area, ItemFields, RecordChecker};
use crate::scenario::file::RecordEntry;
use crate::scenario::{Record, Referral};

impl RecordChecker<'_> {
    pub(super) fn referrals(&mut self, r: &RecordEntry, record: &mut Record) {
        for (n, re) in r.referrals.iter().flatten().enumerate() {
            let e = &re.value;
            let item = ItemFields {
                at: re.referenced,
                n,
                id: e.id.as_ref(),
                confidential: e.confidential,
            };
            let meta = self.meta(Area::Referral, &item);
            let date = self.date_of(Area::Referral, &item, e.date.as_ref(), "date");
            let to = self
                .required_of(Area::Referral, &item, e.to.as_ref(), "to")
                .and_then(|t| self.text(t, "referral to"));
            let priority = match &e.priority {
                Some(p) => self
                    .choice(
                        Some(p),
                        "referral priority",
                        &[
                            ("routine", "routine"),
                            ("urgent", "urgent"),
                            ("asap", "asap"),
                            ("stat", "stat"),
                        ],
                        "routine",
                    )
                    .map(|p| Some(p.to_owned())),
                None => Some(None),
            };
            let code = self.optional_code(e.code.as_ref());
            if let (Some(date), Some(to), Some(priority), Some(code)) = (date, to, priority, code) {
                record.referrals.push(Referral {
                    meta,
                    date,
                    to,
                    reason: e.reason.clone(),
                    priority,
                    code,
                });
            }
        }
    }
}
