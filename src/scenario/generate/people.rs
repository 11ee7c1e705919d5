//! The generated world's practices, practitioners and patients, and the journey path each
//! patient takes.

use serde_saphyr::{FlowMap, FlowSeq};

use super::entries::{
    Address, Name, PatientEntry, PracticeEntry, PracticesFile, PractitionerEntry, Record,
};
use super::random::{SplitMix64, nhs_number};
use super::tables::{FAMILY, FEMALE, MALE, PRACTICE_NAMES, STREETS, TOWNS, Town};

/// The journey path a patient exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Journey {
    Happy,
    AlreadyChanged,
    Sensitive,
    Deceased,
    Dissent,
    Unverified,
    NoGpConnect,
    Empty,
}

/// Every journey path, so even a tiny world has each once (the first patients take them in order).
const PATHS: [Journey; 8] = [
    Journey::Happy,
    Journey::AlreadyChanged,
    Journey::Sensitive,
    Journey::Deceased,
    Journey::Dissent,
    Journey::Unverified,
    Journey::NoGpConnect,
    Journey::Empty,
];

pub(super) fn path_for(index: usize, rng: &mut SplitMix64) -> Journey {
    if let Some(p) = PATHS.get(index) {
        return *p;
    }
    match rng.below(100) {
        0..=64 => Journey::Happy,
        65..=71 => Journey::AlreadyChanged,
        72..=76 => Journey::Sensitive,
        77..=81 => Journey::Deceased,
        82..=85 => Journey::Dissent,
        86..=89 => Journey::Unverified,
        90..=94 => Journey::NoGpConnect,
        _ => Journey::Empty,
    }
}

/// A practice as the generator plans it, before it is written.
pub(super) struct PracticeSpec {
    pub(super) ods: String,
    name: String,
    asid: String,
    pub(super) provider: bool,
    pub(super) gp_connect: bool,
    pub(super) practitioners: Vec<String>,
    town: usize,
}

pub(super) fn practices(patients: usize, rng: &mut SplitMix64) -> Vec<PracticeSpec> {
    // One provider per 2,500 patients, between 3 and 8.
    let providers = (patients / 2_500).clamp(3, PRACTICE_NAMES.len());
    let mut list = Vec::new();
    for i in 0..providers + 2 {
        let provider = i < providers;
        let gp_connect = i != providers + 1;
        let name = if provider {
            PRACTICE_NAMES
                .get(i)
                .map_or_else(|| format!("Practice {i}"), |n| (*n).to_owned())
        } else if gp_connect {
            "Regional Record Transfer Service".to_owned()
        } else {
            "Dale End Surgery".to_owned()
        };
        let gps = if provider { 3 + rng.below(3) } else { 1 };
        let practitioners = (0..gps)
            .map(|g| format!("G9{:02}{:04}", i, g * 37 + rng.below(30)))
            .collect();
        list.push(PracticeSpec {
            ods: format!("Y9{:04}", 1_000 + i * 11),
            name,
            asid: format!("9{:011}", 20_000_000 + i as u64 * 1_013),
            provider,
            gp_connect,
            practitioners,
            town: i % TOWNS.len(),
        });
    }
    list
}

fn town(index: usize) -> &'static Town {
    &TOWNS[index % TOWNS.len()]
}

fn address(lines: String, town: &Town, postcode: String) -> FlowMap<Address> {
    FlowMap(Address {
        lines: FlowSeq(vec![lines]),
        city: town.city,
        district: town.district,
        postcode,
    })
}

fn gender(female: bool) -> &'static str {
    if female { "female" } else { "male" }
}

pub(super) fn practices_file(
    patients: usize,
    seed: u64,
    practices: &[PracticeSpec],
) -> PracticesFile {
    let entries = practices
        .iter()
        .map(|p| {
            let town = town(p.town);
            PracticeEntry {
                ods: p.ods.clone(),
                name: p.name.clone(),
                asid: p.asid.clone(),
                provider: p.provider,
                interactions: (!p.gp_connect).then(|| FlowSeq(Vec::new())),
                address: address(p.name.clone(), town, format!("{} 1AA", town.postcode)),
            }
        })
        .collect();
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    let mut practitioners = Vec::new();
    for p in practices {
        for id in &p.practitioners {
            let female = rng.chance(50);
            let given = *rng.pick(if female { &FEMALE } else { &MALE });
            let family = *rng.pick(&FAMILY);
            practitioners.push(FlowMap(PractitionerEntry {
                id: id.clone(),
                name: FlowMap(Name {
                    prefix: "Dr",
                    given: FlowSeq(vec![given]),
                    family,
                }),
                gender: gender(female),
                practice: p.ods.clone(),
            }));
        }
    }
    PracticesFile {
        name: format!("Generated world of {patients} patients (seed {seed})"),
        description: "Several GP Connect providers, a consumer-only practice and a practice \
                      without GP Connect; patients on every path of the migration journey."
            .to_owned(),
        practices: entries,
        practitioners,
    }
}

/// One patient on `path`, registered at `registered`, with the record held by `record_at`;
/// `make_record` writes the record (from the patient's age), drawing on the same generator.
pub(super) fn patient(
    index: u64,
    path: Journey,
    registered: &PracticeSpec,
    record_at: &PracticeSpec,
    rng: &mut SplitMix64,
    make_record: impl FnOnce(u64, &mut SplitMix64) -> Record,
) -> PatientEntry {
    let female = rng.chance(50);
    let (given, prefix) = if female {
        (*rng.pick(&FEMALE), *rng.pick(&["Mrs", "Ms", "Miss"]))
    } else {
        (*rng.pick(&MALE), "Mr")
    };
    let family = *rng.pick(&FAMILY);
    let birth_year = if path == Journey::Deceased {
        rng.between(1925, 1960)
    } else {
        rng.between(1935, 2004)
    };
    // Generated worlds are loaded from 2026 on: ages are at least this.
    let age = 2025 - birth_year;
    let birth_month = rng.between(1, 12);
    let birth_day = rng.between(1, 28);
    let house = rng.between(1, 120);
    let street = *rng.pick(&STREETS);
    let town = town(registered.town);
    let district = rng.between(1, 9);
    let unit = [rng.below(26), rng.below(26)].map(|n| char::from(b'A' + n as u8));
    let usual_gp = rng.pick(&record_at.practitioners).clone();
    let deceased = (path == Journey::Deceased).then(|| format!("-{}m", rng.between(1, 11)));
    let record = if path == Journey::Empty {
        Record::default()
    } else {
        make_record(age, rng)
    };
    PatientEntry {
        nhs_number: nhs_number(index),
        name: FlowMap(Name {
            prefix,
            given: FlowSeq(vec![given]),
            family,
        }),
        gender: gender(female),
        birth_date: format!("{birth_year}-{birth_month:02}-{birth_day:02}"),
        address: address(
            format!("{house} {street}"),
            town,
            format!("{} {district}{}{}", town.postcode, unit[0], unit[1]),
        ),
        registered_with: registered.ods.clone(),
        record_at: record_at.ods.clone(),
        usual_gp,
        sensitive: (path == Journey::Sensitive).then_some(true),
        dissent: (path == Journey::Dissent).then_some(true),
        nhs_number_verified: (path == Journey::Unverified).then_some(false),
        deceased,
        record,
    }
}
