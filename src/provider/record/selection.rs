//! Which part of the record a Bundle carries. Migrate asks for everything
//! ([`Selection::everything`]); `$gpc.getstructuredrecord` for some clinical areas, each
//! filtered (`docs/getstructuredrecord.md`). The operation decides which items match; the
//! builders only ask the selection whether an item is in the Bundle, whether it belongs on its
//! area's primary List, and which primary Lists to write.

use std::collections::{BTreeSet, HashSet};

/// A clinical area: one primary List (documents have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Area {
    Problems,
    Allergies,
    /// The "Ended allergies" List (`includeResolvedAllergies` true).
    EndedAllergies,
    Medication,
    Immunisations,
    Uncategorised,
    Investigations,
    Consultations,
    Referrals,
    Diary,
}

/// What a partial Bundle holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Partial {
    /// The areas asked for: each gets its primary List, empty or not.
    pub areas: BTreeSet<Area>,
    /// Items matching their own area's query: on that area's primary List.
    pub primary: HashSet<String>,
    /// Items in the Bundle only because a selected item links to them (a problem's or a
    /// consultation's content, a problem related to a matching one).
    pub linked: HashSet<String>,
    /// Medication issues (`intent` `order`) are sent with their plans.
    pub prescription_issues: bool,
}

/// The whole record, or part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    partial: Option<Partial>,
}

impl Selection {
    /// Every item, every List: migrate.
    pub(crate) fn everything() -> Self {
        Self { partial: None }
    }

    pub(crate) fn partial(partial: Partial) -> Self {
        Self {
            partial: Some(partial),
        }
    }

    /// The item is in the Bundle (as a resource of its own, or contained in a List).
    pub(crate) fn includes(&self, id: &str) -> bool {
        self.partial
            .as_ref()
            .is_none_or(|p| p.primary.contains(id) || p.linked.contains(id))
    }

    /// The item belongs on its area's primary List.
    pub(crate) fn in_primary(&self, id: &str) -> bool {
        self.partial.as_ref().is_none_or(|p| p.primary.contains(id))
    }

    /// Medication issues are sent.
    pub(crate) fn prescription_issues(&self) -> bool {
        self.partial.as_ref().is_none_or(|p| p.prescription_issues)
    }

    /// The area's primary List is written.
    pub(crate) fn lists(&self, area: Area) -> bool {
        self.partial
            .as_ref()
            .is_none_or(|p| p.areas.contains(&area))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_includes_all_and_partial_only_what_it_names() {
        let all = Selection::everything();
        assert!(all.includes("x") && all.in_primary("x") && all.lists(Area::Diary));
        let part = Selection::partial(Partial {
            areas: [Area::Problems].into(),
            primary: ["p1".to_owned()].into(),
            linked: ["m1".to_owned()].into(),
            prescription_issues: false,
        });
        assert!(part.includes("p1") && part.in_primary("p1"));
        assert!(part.includes("m1") && !part.in_primary("m1"));
        assert!(!part.includes("a1"));
        assert!(part.lists(Area::Problems) && !part.lists(Area::Allergies));
    }
}
