//! A generated patient's record: long-term conditions with everything they bring, then the
//! allergies, immunisations, observations, diary entries and letters of an ordinary record.

use serde_saphyr::{FlowMap, FlowSeq};

use super::entries::{
    Allergy, Code, Consultation, Diary, Document, Immunisation, Investigation, Medication,
    Observation, Problem, Record, Referral, TestResult,
};
use super::people::{Journey, PracticeSpec};
use super::random::SplitMix64;
use super::tables::{
    ACUTE, ALLERGIES, CLINICAL_LETTER, CONDITIONS, CONFIDENTIAL, CONSULTATION_KINDS, Concept,
    Condition, DISCHARGE_SUMMARY, FLU, MEDICATION_REVIEW, PAST_PROBLEMS,
};

/// A relative date `years` and `months` ago (at least one month ago).
fn ago(years: u64, months: u64) -> String {
    match (years, months) {
        (0, 0) => "-1m".to_owned(),
        (0, m) => format!("-{m}m"),
        (y, 0) => format!("-{y}y"),
        (y, m) => format!("-{y}y{m}m"),
    }
}

/// A value with one decimal between `lo` and `hi`.
fn value(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    let tenths = rng.below(((hi - lo) * 10.0).max(1.0) as u64);
    ((lo + tenths as f64 / 10.0) * 10.0).round() / 10.0
}

fn code(c: Concept) -> FlowMap<Code> {
    FlowMap(Code::from(c))
}

/// Makers of the vaccines the generator gives (UK suppliers of seasonal influenza and of
/// pneumococcal polysaccharide vaccine).
const FLU_MAKERS: &[&str] = &[
    "Seqirus UK Ltd",
    "Sanofi Pasteur",
    "Viatris UK Healthcare Ltd",
];
const PNEUMOCOCCAL_MAKERS: &[&str] = &["Merck Sharp & Dohme (UK) Ltd"];
/// Where an injection is usually given.
const UPPER_ARM: [Concept; 2] = [
    ("368208006", "Left upper arm structure"),
    ("368209003", "Right upper arm structure"),
];

/// An immunisation given `(years, months)` ago. Real exports carry batch, manufacturer, site
/// and expiry on over 90% of immunisations; so do generated ones (92%). The vaccine expires
/// six months after it was given.
fn immunisation(
    id: String,
    vaccine: Concept,
    (years, months): (u64, u64),
    makers: &[&'static str],
    rng: &mut SplitMix64,
) -> Immunisation {
    let mut item = Immunisation {
        id,
        code: code(vaccine),
        date: ago(years, months),
        batch: None,
        manufacturer: None,
        site: None,
        expiry: None,
    };
    if rng.chance(92) {
        let letter = char::from(b'A' + rng.below(26) as u8);
        let prefix: String = vaccine.1.chars().take(2).collect::<String>().to_uppercase();
        item.batch = Some(format!("{prefix}{:04}{letter}", rng.below(10_000)));
        item.manufacturer = Some(*rng.pick(makers));
        item.site = Some(code(*rng.pick(&UPPER_ARM)));
        let given = years * 12 + months;
        item.expiry = Some(if given > 6 {
            ago((given - 6) / 12, (given - 6) % 12)
        } else {
            format!("+{}m", (6 - given).max(1))
        });
    }
    item
}

pub(super) fn record(path: Journey, age: u64, at: &PracticeSpec, rng: &mut SplitMix64) -> Record {
    let mut l = Record::default();
    // Items before a death: a deceased patient's record ends more than a year ago.
    let floor = u64::from(path == Journey::Deceased) + 1;
    let span = age.saturating_sub(2).clamp(floor + 1, 40);
    let conditions = rng.below(4);
    let mut used = Vec::new();
    for _ in 0..conditions {
        let c = rng.below(CONDITIONS.len() as u64) as usize;
        if used.contains(&c) || CONDITIONS[c].min_age + 1 >= age {
            continue;
        }
        used.push(c);
        let years = span.min(age - CONDITIONS[c].min_age);
        condition(&mut l, &CONDITIONS[c], years, floor, at, rng);
    }
    if rng.chance(30) {
        let p = rng.pick(&PAST_PROBLEMS);
        let start = rng.between(floor + 1, span);
        l.problems.push(FlowMap(Problem {
            id: "pp1".to_owned(),
            code: code(*p),
            onset: ago(start, 0),
            end: Some(ago(start - 1, rng.between(1, 11))),
            status: Some("inactive"),
            significance: None,
            related: None,
            confidential: None,
            note: None,
        }));
    }
    if rng.chance(25) {
        let (c, reaction) = *rng.pick(&ALLERGIES);
        let allergy = if rng.chance(20) {
            Allergy {
                id: "a1".to_owned(),
                code: code(c),
                asserted: ago(span, 0),
                status: Some("resolved"),
                end: Some(ago(floor, 0)),
                reaction,
            }
        } else {
            Allergy {
                id: "a1".to_owned(),
                code: code(c),
                asserted: ago(rng.between(floor, span), 0),
                status: None,
                end: None,
                reaction,
            }
        };
        l.allergies.push(FlowMap(allergy));
    }
    if rng.chance(20) {
        let (c, dosage, quantity) = *rng.pick(&ACUTE);
        let y = rng.between(floor, span);
        l.medications.push(FlowMap(Medication {
            id: "ma1".to_owned(),
            code: code(c),
            start: ago(y, 2),
            end: Some(ago(y, 1)),
            kind: "acute",
            dosage,
            quantity,
            repeats_allowed: None,
            stopped: None,
            confidential: None,
        }));
    }
    if age >= 50 || rng.chance(20) {
        for y in floor..(floor + rng.below(4)) {
            let months = rng.between(2, 4);
            l.immunisations.push(FlowMap(immunisation(
                format!("i{y}"),
                FLU,
                (y, months),
                FLU_MAKERS,
                rng,
            )));
        }
    }
    if age >= 65 && rng.chance(50) {
        l.immunisations.push(FlowMap(immunisation(
            "ipn".to_owned(),
            ("12866006", "Pneumococcal vaccination"),
            (floor + 1, 0),
            PNEUMOCOCCAL_MAKERS,
            rng,
        )));
    }
    let smoking = if rng.chance(70) {
        ("266919005", "Never smoked tobacco")
    } else {
        ("8517006", "Ex-smoker")
    };
    l.observations.push(FlowMap(Observation {
        id: "os".to_owned(),
        code: code(smoking),
        date: ago(rng.between(floor, span), 0),
        value: None,
        unit: None,
    }));
    if path == Journey::Happy && rng.chance(15) {
        let c = rng.pick(&CONFIDENTIAL);
        l.problems.push(FlowMap(Problem {
            id: "pc".to_owned(),
            code: code(*c),
            onset: ago(rng.between(floor, span), 0),
            end: None,
            status: None,
            significance: None,
            related: None,
            confidential: Some(true),
            note: Some("Patient asked for this to be kept confidential."),
        }));
    }
    if path != Journey::Deceased && rng.chance(40) {
        l.diary.push(FlowMap(Diary {
            id: "dy1".to_owned(),
            date: format!("+{}m", rng.between(1, 11)),
            text: "Medication review",
            code: code(MEDICATION_REVIEW),
            entered: "-1m",
        }));
    }
    if rng.chance(25) {
        let confidential = path == Journey::Happy && rng.chance(20);
        let (kind, title) = if rng.chance(70) {
            (CLINICAL_LETTER, "Letter from the outpatient clinic")
        } else {
            (DISCHARGE_SUMMARY, "Discharge summary")
        };
        l.documents.push(FlowMap(Document {
            id: "d1".to_owned(),
            title,
            kind: code(kind),
            date: ago(rng.between(floor, span), 0),
            confidential,
            text: "Seen in clinic today. Examination unremarkable; no change to treatment. \
                   Discharged back to the care of the practice.",
        }));
    }
    l
}

/// A condition with its problem, medicines, yearly reviews (observations and tests recorded in
/// a consultation) and possibly a referral. `years` is how long ago it started.
fn condition(
    l: &mut Record,
    c: &Condition,
    years: u64,
    floor: u64,
    at: &PracticeSpec,
    rng: &mut SplitMix64,
) {
    let n = l.problems.len() + 1;
    let onset = rng.between(floor + 1, years.max(floor + 1));
    let mut related = Vec::new();
    for (m, (medicine, dosage, quantity)) in c.medicines.iter().enumerate() {
        let id = format!("m{n}x{m}");
        let kind = if rng.chance(20) {
            "repeat-dispensing"
        } else {
            "repeat"
        };
        let confidential = c.problem.0 == "35489007" && rng.chance(50);
        let died = floor > 1;
        l.medications.push(FlowMap(Medication {
            id: id.clone(),
            code: code(*medicine),
            start: ago(onset, 0),
            end: died.then(|| "-1y".to_owned()),
            kind,
            dosage,
            quantity,
            repeats_allowed: Some(rng.between(3, 12)),
            stopped: died.then_some("Patient died"),
            confidential: confidential.then_some(true),
        }));
        related.push(id);
    }
    // One review a year for the last few years.
    let reviews = onset.saturating_sub(floor).min(3);
    for r in 0..reviews {
        let year = floor + r;
        let date = ago(year, rng.between(1, 11));
        let mut entries = Vec::new();
        for (o, (concept, lo, hi, unit)) in c.observations.iter().enumerate() {
            let id = format!("o{n}x{r}x{o}");
            l.observations.push(FlowMap(Observation {
                id: id.clone(),
                code: code(*concept),
                date: date.clone(),
                value: Some(value(rng, *lo, *hi)),
                unit: Some(unit),
            }));
            entries.push(id.clone());
            if r == 0 {
                related.push(id);
            }
        }
        if let Some(inv) = &c.investigation {
            let id = format!("inv{n}x{r}");
            let results = inv
                .results
                .iter()
                .map(|(concept, lo, hi, unit, range)| {
                    FlowMap(TestResult {
                        code: code(*concept),
                        value: value(rng, *lo, *hi),
                        unit,
                        range,
                    })
                })
                .collect();
            l.investigations.push(FlowMap(Investigation {
                id: id.clone(),
                code: code(inv.test),
                date: date.clone(),
                specimen: inv.specimen,
                results: FlowSeq(results),
            }));
            entries.push(id.clone());
            if r == 0 {
                related.push(id);
            }
        }
        entries.push(format!("p{n}"));
        let kind = *rng.pick(&CONSULTATION_KINDS);
        let practitioner = rng.pick(&at.practitioners).clone();
        l.consultations.push(FlowMap(Consultation {
            id: format!("c{n}x{r}"),
            date,
            kind,
            practitioner,
            entries: FlowSeq(entries),
            note: format!("{} review.", c.problem.1),
        }));
    }
    if let Some((to, reason)) = c.referral
        && rng.chance(40)
    {
        let id = format!("r{n}");
        l.referrals.push(FlowMap(Referral {
            id: id.clone(),
            date: ago(rng.between(floor, onset), 0),
            to,
            reason,
            priority: "routine",
        }));
        related.push(id);
    }
    l.problems.push(FlowMap(Problem {
        id: format!("p{n}"),
        code: code(c.problem),
        onset: ago(onset, 0),
        end: None,
        status: None,
        significance: Some(if c.major { "major" } else { "minor" }),
        related: (!related.is_empty()).then_some(FlowSeq(related)),
        confidential: None,
        note: None,
    }));
}
