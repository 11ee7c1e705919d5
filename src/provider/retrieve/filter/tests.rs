//! Each area's filter at its boundaries, on a small record with fixed dates.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::*;
use crate::provider::retrieve::params::{Immunisations, Medication as MedQ, Period, Problems};
use crate::scenario::ProblemStatus;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const WORLD: &str = r#"
practices:
  - { ods: B82617, name: Old Street Surgery, asid: "918999198738", party_key: B82617-806568 }
practitioners:
  - { id: G1, name: { given: [Jane], family: Carter }, practice: B82617 }
patients:
  - nhs_number: "9690937286"
    name: { given: [Margaret], family: Whitfield }
    gender: female
    birth_date: 1958-07-23
    registered_with: B82617
    record_at: B82617
    record:
      problems:
        - { id: p1, code: { snomed: "59621000", display: Essential hypertension }, related: [m1, p2] }
        - { id: p2, code: { snomed: "44054006", display: Type 2 diabetes mellitus }, related: [m2] }
        - { id: p3, code: { snomed: "233604007", display: Pneumonia }, status: inactive, end: 2020-01-01, related: [o1] }
      allergies:
        - { id: a1, code: { snomed: "91936005", display: Allergy to penicillin } }
        - { id: a2, code: { snomed: "418689008", display: Allergy to grass pollen }, status: resolved, end: 2010-01-01 }
      medications:
        - { id: m1, code: { snomed: "319283006", display: Amlodipine 5mg tablets }, start: 2020-01-01, type: repeat }
        - { id: m2, code: { snomed: "325278007", display: Metformin 500mg tablets }, start: 2020-01-01, end: 2025-05-09, type: repeat }
        - { id: m3, code: { snomed: "320000009", display: Simvastatin 40mg tablets }, start: 2020-01-01, end: 2025-05-10, type: repeat }
        - { id: m4, code: { snomed: "322236009", display: Paracetamol 500mg tablets }, start: 2025-05-09, type: acute }
        - { id: m5, code: { snomed: "322236009", display: Paracetamol 500mg tablets }, start: 2025-05-10, type: acute }
      observations:
        - { id: o1, code: { snomed: "27113001", display: Body weight }, date: 2024-12-31, value: 78.4, unit: kg }
        - { id: o2, code: { snomed: "27113001", display: Body weight }, date: 2025-01-01, value: 78.0, unit: kg }
        - { id: o3, code: { snomed: "27113001", display: Body weight }, date: 2025-01-31, value: 77.0, unit: kg }
        - { id: o4, code: { snomed: "27113001", display: Body weight }, date: 2025-02-01, value: 76.0, unit: kg }
      investigations:
        - { id: inv1, code: { snomed: "26604007", display: Full blood count }, date: 2025-01-01 }
        - { id: inv2, code: { snomed: "26604007", display: Full blood count }, date: 2025-02-01 }
      consultations:
        - { id: c1, date: 2025-03-01, type: Surgery consultation, entries: [o4] }
        - { id: c2, date: 2025-03-01, type: Surgery consultation }
        - { id: c3, date: 2025-01-31, type: Surgery consultation }
        - { id: c4, date: 2024-12-31, type: Surgery consultation }
      referrals:
        - { id: r1, date: 2025-01-31, to: Cardiology }
        - { id: r2, date: 2025-02-01, to: Cardiology }
      diary:
        - { id: d1, date: 2025-06-01, text: Review }
        - { id: d2, date: 2025-06-02, text: Review }
"#;

fn record() -> crate::scenario::Record {
    let world = crate::scenario::load::load_str("filter.yaml", WORLD, day("2025-06-01")).unwrap();
    world.patients[0].record.clone()
}

fn ids(set: &HashSet<String>) -> Vec<&str> {
    let mut v: Vec<&str> = set.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

fn query() -> Query {
    Query::default()
}

const JANUARY: Period = Period {
    start: Some(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
    end: Some(NaiveDate::from_ymd_opt(2025, 1, 31).unwrap()),
};

#[test]
fn allergies_with_and_without_resolved() {
    let rec = record();
    let p = select(
        &Query {
            allergies: Some(false),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["a1"]);
    assert!(!p.areas.contains(&Area::EndedAllergies));
    let p = select(
        &Query {
            allergies: Some(true),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["a1", "a2"]);
    assert!(p.areas.contains(&Area::EndedAllergies));
}

#[test]
fn medication_from_a_date_keeps_plans_active_on_or_after_it() {
    let rec = record();
    let from = Some(day("2025-05-10"));
    let p = select(
        &Query {
            medication: Some(MedQ { issues: true, from }),
            ..query()
        },
        &rec,
    );
    // m2 ended the day before; m4, an acute with no end, was issued the day before.
    assert_eq!(ids(&p.primary), ["m1", "m3", "m5"]);
    assert!(p.prescription_issues);
    let p = select(
        &Query {
            medication: Some(MedQ {
                issues: false,
                from: None,
            }),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["m1", "m2", "m3", "m4", "m5"]);
    assert!(!p.prescription_issues);
}

#[test]
fn consultations_by_period_and_most_recent_with_ties() {
    let rec = record();
    let p = select(
        &Query {
            consultations: Some(Consultations::Period(JANUARY)),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["c3"]);
    let p = select(
        &Query {
            consultations: Some(Consultations::MostRecent(2)),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["c1", "c2"]);
    // Two on the newest day: the one recorded later counts as more recent.
    let p = select(
        &Query {
            consultations: Some(Consultations::MostRecent(1)),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["c2"]);
    let p = select(
        &Query {
            consultations: Some(Consultations::MostRecent(9)),
            ..query()
        },
        &rec,
    );
    assert_eq!(p.primary.len(), 4);
    // A consultation brings what was recorded in it.
    let p = select(
        &Query {
            consultations: Some(Consultations::All),
            ..query()
        },
        &rec,
    );
    assert!(p.linked.contains("o4"));
}

#[test]
fn problems_by_status_bring_their_links_and_related_problems_alone() {
    let rec = record();
    let active = Problems {
        status: Some(ProblemStatus::Active),
        significance: None,
    };
    let p = select(
        &Query {
            problems: vec![active],
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["p1", "p2"]);
    assert_eq!(ids(&p.linked), ["m1", "m2"]);
    let inactive = Problems {
        status: Some(ProblemStatus::Inactive),
        significance: None,
    };
    let p = select(
        &Query {
            problems: vec![inactive],
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["p3"]);
    assert_eq!(ids(&p.linked), ["o1"]);
    // p1 matches a filter on m1's problem; p2 is related to p1 only through p1's link, so with
    // p1 alone p2 comes as a linked problem and m2 (p2's own link) does not.
    let mut rec2 = rec.clone();
    rec2.problems[1].status = ProblemStatus::Inactive;
    let p = select(
        &Query {
            problems: vec![active],
            ..query()
        },
        &rec2,
    );
    assert_eq!(ids(&p.primary), ["p1"]);
    assert_eq!(ids(&p.linked), ["m1", "p2"]);
}

#[test]
fn items_of_other_areas_bring_the_problems_naming_them_as_linked() {
    let rec = record();
    let p = select(
        &Query {
            uncategorised: Some(Period::default()),
            ..query()
        },
        &rec,
    );
    assert!(p.linked.contains("p3"), "{:?}", p.linked);
    assert!(!p.primary.contains("p3"));
}

#[test]
fn periods_include_their_first_and_last_day() {
    let rec = record();
    let p = select(
        &Query {
            uncategorised: Some(JANUARY),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["o2", "o3"]);
    let p = select(
        &Query {
            investigations: Some(JANUARY),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["inv1"]);
    let p = select(
        &Query {
            referrals: Some(JANUARY),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["r1"]);
    let start_only = Period {
        start: Some(day("2025-02-01")),
        end: None,
    };
    let p = select(
        &Query {
            referrals: Some(start_only),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["r2"]);
    let end_only = Period {
        start: None,
        end: Some(day("2024-12-31")),
    };
    let p = select(
        &Query {
            uncategorised: Some(end_only),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["o1"]);
}

#[test]
fn diary_entries_on_or_before_the_search_date() {
    let rec = record();
    let p = select(
        &Query {
            diary: Some(Some(day("2025-06-01"))),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["d1"]);
    let p = select(
        &Query {
            diary: Some(None),
            ..query()
        },
        &rec,
    );
    assert_eq!(ids(&p.primary), ["d1", "d2"]);
}

#[test]
fn immunisations_are_all_given() {
    let rec = record();
    let q = Query {
        immunisations: Some(Immunisations {
            not_given: true,
            status: false,
        }),
        ..query()
    };
    let p = select(&q, &rec);
    assert!(p.areas.contains(&Area::Immunisations));
    assert!(p.primary.is_empty());
}
