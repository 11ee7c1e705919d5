//! `spine-sandbox generate`: a believable scenario world of any size, the same for the same seed.
//!
//! The world has several GP Connect provider practices (each with a few practitioners), one
//! consumer-only practice, and one practice without GP Connect. Patients take every path of the
//! migration journey, in roughly these shares: registered where the record is (most), registration
//! already changed to another practice, sensitive, deceased, dissent, NHS number not verified,
//! registered at the practice without GP Connect, and nothing recorded. Records are built from
//! long-term conditions (each bringing its problem, medicines, observations, tests, referrals and
//! reviews) plus allergies, immunisations, consultations linking what they recorded, diary
//! entries, confidential items and letters, all with real SNOMED CT codes and relative dates.
//!
//! Patients are split into files of at most [`PATIENTS_PER_FILE`], beside one file of practices
//! and practitioners, so the folder loads under the default parser budget. The patients' files
//! are written as JSON by default ([`as_json`]): JSON is YAML too, and the loader reads it several
//! times faster, which is most of the start-up time of a world of 100,000 patients.

use std::fmt::Write as _;
use std::path::Path;

use crate::nhs_number;

/// Patients per generated file: far below the default node budget of one file.
pub const PATIENTS_PER_FILE: usize = 2_000;

/// One file of the generated world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name, without folder.
    pub name: String,
    pub text: String,
}

/// splitmix64: tiny, fast, and good enough to pick names and codes reproducibly.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `percent` in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Callers pass non-empty constant tables.
        &items[self.below(items.len() as u64) as usize % items.len().max(1)]
    }
}

/// The `index`-th valid NHS number of the generated range (test numbers starting 96, so they
/// stay clear of the shipped scenarios' 969093... and 943476... patients).
pub fn nhs_number(index: u64) -> String {
    // Two stems per patient: when the first has no check digit (remainder 10), the second,
    // whose weighted sum differs by 2 (or by a carry), has one.
    let first = 961_000_000 + index * 2;
    for stem in [first, first + 1] {
        let digits: Vec<u32> = stem
            .to_string()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        if let Some(check) = nhs_number::check_digit(&digits) {
            return format!("{stem}{check}");
        }
    }
    // Unreachable for the stems above; a distinct valid test number all the same.
    format!("{first}0")
}

/// The journey path a patient exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Journey {
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

fn path_for(index: usize, rng: &mut SplitMix64) -> Journey {
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

struct Town {
    city: &'static str,
    district: &'static str,
    postcode: &'static str,
}

const TOWNS: [Town; 8] = [
    Town {
        city: "Harrogate",
        district: "North Yorkshire",
        postcode: "HG1",
    },
    Town {
        city: "Ripon",
        district: "North Yorkshire",
        postcode: "HG4",
    },
    Town {
        city: "Knaresborough",
        district: "North Yorkshire",
        postcode: "HG5",
    },
    Town {
        city: "Leeds",
        district: "West Yorkshire",
        postcode: "LS6",
    },
    Town {
        city: "York",
        district: "North Yorkshire",
        postcode: "YO10",
    },
    Town {
        city: "Skipton",
        district: "North Yorkshire",
        postcode: "BD23",
    },
    Town {
        city: "Otley",
        district: "West Yorkshire",
        postcode: "LS21",
    },
    Town {
        city: "Thirsk",
        district: "North Yorkshire",
        postcode: "YO7",
    },
];

const STREETS: [&str; 16] = [
    "Station Road",
    "Church Lane",
    "High Street",
    "Mill Lane",
    "Park Avenue",
    "Victoria Road",
    "Kings Road",
    "Queens Drive",
    "Valley Drive",
    "Leeds Road",
    "Skipton Road",
    "Bond End",
    "Beech Grove",
    "Chapel Street",
    "North Park Road",
    "Westgate",
];

const FEMALE: [&str; 20] = [
    "Margaret", "Susan", "Priya", "Hannah", "Emily", "Sarah", "Fatima", "Joanne", "Aisha",
    "Claire", "Grace", "Olivia", "Mary", "Helen", "Zara", "Chloe", "Ruth", "Amelia", "Nadia",
    "Edith",
];

const MALE: [&str; 20] = [
    "Daniel", "Oliver", "George", "Liam", "Arthur", "James", "Mohammed", "Thomas", "Rajesh",
    "Kieran", "Harry", "Jack", "David", "Samuel", "Imran", "Peter", "Joseph", "William", "Adam",
    "Michael",
];

const FAMILY: [&str; 32] = [
    "Whitfield",
    "Ashworth",
    "Sharma",
    "Doyle",
    "Barraclough",
    "O'Connor",
    "Greenwood",
    "Pemberton",
    "Lockwood",
    "Finch",
    "Bentley",
    "Carter",
    "Patel",
    "Naylor",
    "Hassan",
    "Wright",
    "Khan",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Thompson",
    "Robinson",
    "Walker",
    "Hughes",
    "Ahmed",
    "Clarke",
    "Begum",
    "Murphy",
    "Kowalski",
    "Nguyen",
];

const PRACTICE_NAMES: [&str; 8] = [
    "Riverside Surgery",
    "Castle Medical Centre",
    "Parkview Health Centre",
    "Moorland Practice",
    "Abbey Lane Surgery",
    "Bridge Street Medical Practice",
    "Orchard Family Practice",
    "Hillside Surgery",
];

/// A SNOMED CT concept and its term, as the shipped default scenario uses them.
type Concept = (&'static str, &'static str);

/// A medicine of a condition: concept, dosage, quantity.
type Medicine = (Concept, &'static str, &'static str);

/// A long-term condition and what a GP record shows of it.
struct Condition {
    problem: Concept,
    major: bool,
    medicines: &'static [Medicine],
    /// Observations recorded at each review: concept, low, high, unit.
    observations: &'static [(Concept, f64, f64, &'static str)],
    /// A test taken at reviews, with its results.
    investigation: Option<Investigation>,
    referral: Option<(&'static str, &'static str)>,
    /// The earliest age at onset, in years.
    min_age: u64,
}

struct Investigation {
    test: Concept,
    specimen: &'static str,
    results: &'static [(Concept, f64, f64, &'static str, &'static str)],
}

const HYPERTENSION: Concept = ("59621000", "Essential hypertension");
const SYSTOLIC: Concept = ("72313002", "Systolic arterial pressure");
const DIASTOLIC: Concept = ("1091811000000102", "Diastolic arterial pressure");
const WEIGHT: Concept = ("27113001", "Body weight");
const BMI: Concept = ("60621009", "Body mass index");
const CHOLESTEROL: Concept = ("1005671000000105", "Serum cholesterol level");
const CREATININE: Concept = ("1000731000000107", "Serum creatinine level");
const HBA1C: Concept = (
    "999791000000106",
    "Haemoglobin A1c level - International Federation of Clinical Chemistry and Laboratory Medicine standardised",
);
const FBC: Concept = ("26604007", "Full blood count");
const CLINICAL_LETTER: Concept = ("823691000000103", "Clinical letter");
const DISCHARGE_SUMMARY: Concept = ("373942005", "Discharge summary");
const MEDICATION_REVIEW: Concept = ("314529007", "Medication review due");
const FLU: Concept = ("822851000000102", "Seasonal influenza vaccination");

const CONDITIONS: [Condition; 9] = [
    Condition {
        problem: HYPERTENSION,
        major: true,
        medicines: &[(
            ("319283006", "Amlodipine 5mg tablets"),
            "One tablet once daily",
            "28 tablet",
        )],
        observations: &[
            (SYSTOLIC, 118.0, 162.0, "mm[Hg]"),
            (DIASTOLIC, 68.0, 96.0, "mm[Hg]"),
            (CHOLESTEROL, 3.5, 6.5, "mmol/L"),
        ],
        investigation: Some(Investigation {
            test: CREATININE,
            specimen: "Serum",
            results: &[
                (CREATININE, 60.0, 130.0, "umol/L", "45-84"),
                (
                    ("1000661000000107", "Serum sodium level"),
                    134.0,
                    145.0,
                    "mmol/L",
                    "133-146",
                ),
                (
                    ("1000651000000109", "Serum potassium level"),
                    3.6,
                    5.2,
                    "mmol/L",
                    "3.5-5.3",
                ),
            ],
        }),
        referral: None,
        min_age: 30,
    },
    Condition {
        problem: ("44054006", "Type 2 diabetes mellitus"),
        major: true,
        medicines: &[(
            ("325278007", "Metformin 500mg tablets"),
            "One tablet twice daily with food",
            "56 tablet",
        )],
        observations: &[(WEIGHT, 60.0, 115.0, "kg"), (BMI, 22.0, 38.0, "kg/m2")],
        investigation: Some(Investigation {
            test: HBA1C,
            specimen: "Blood",
            results: &[(HBA1C, 42.0, 75.0, "mmol/mol", "20-41")],
        }),
        referral: Some(("Diabetic eye screening service", "Annual retinal screening")),
        min_age: 30,
    },
    Condition {
        problem: ("195967001", "Asthma"),
        major: true,
        medicines: &[
            (
                (
                    "39113611000001102",
                    "Salbutamol 100micrograms/dose inhaler CFC free",
                ),
                "Two puffs when required",
                "200 dose",
            ),
            (
                (
                    "408063002",
                    "Beclometasone 100micrograms/dose inhaler CFC free",
                ),
                "Two puffs twice daily",
                "200 dose",
            ),
        ],
        observations: &[(BMI, 19.0, 32.0, "kg/m2")],
        investigation: None,
        referral: None,
        min_age: 3,
    },
    Condition {
        problem: ("40930008", "Hypothyroidism"),
        major: false,
        medicines: &[(
            ("374296008", "Levothyroxine sodium 100microgram tablets"),
            "One tablet each morning",
            "28 tablet",
        )],
        observations: &[(WEIGHT, 50.0, 100.0, "kg")],
        investigation: None,
        referral: None,
        min_age: 20,
    },
    Condition {
        problem: ("35489007", "Depressive disorder"),
        major: false,
        medicines: &[(
            ("321987003", "Citalopram 20mg tablets"),
            "One tablet once daily",
            "28 tablet",
        )],
        observations: &[],
        investigation: None,
        referral: None,
        min_age: 16,
    },
    Condition {
        problem: ("239873007", "Osteoarthritis of knee"),
        major: false,
        medicines: &[
            (
                ("322236009", "Paracetamol 500mg tablets"),
                "One or two tablets up to four times a day",
                "100 tablet",
            ),
            (
                ("330202001", "Ibuprofen 5% gel"),
                "Apply thinly three times a day",
                "100 gram",
            ),
        ],
        observations: &[],
        investigation: None,
        referral: Some(("Trauma and orthopaedics", "Knee pain despite analgesia")),
        min_age: 45,
    },
    Condition {
        problem: ("49436004", "Atrial fibrillation"),
        major: true,
        medicines: &[(
            ("319773006", "Aspirin 75mg dispersible tablets"),
            "One tablet once daily",
            "28 tablet",
        )],
        observations: &[],
        investigation: Some(Investigation {
            test: FBC,
            specimen: "Blood",
            results: &[
                (
                    ("1022431000000105", "Haemoglobin estimation"),
                    115.0,
                    165.0,
                    "g/L",
                    "115-165",
                ),
                (
                    ("1022541000000102", "Total white cell count"),
                    4.0,
                    11.0,
                    "10*9/L",
                    "4.0-11.0",
                ),
                (
                    ("1022651000000100", "Platelet count"),
                    150.0,
                    400.0,
                    "10*9/L",
                    "150-400",
                ),
            ],
        }),
        referral: Some(("Cardiology", "Newly found atrial fibrillation")),
        min_age: 50,
    },
    Condition {
        problem: ("433144002", "Chronic kidney disease stage 3"),
        major: true,
        medicines: &[(
            ("317972000", "Furosemide 40mg tablets"),
            "One tablet each morning",
            "28 tablet",
        )],
        observations: &[],
        investigation: Some(Investigation {
            test: CREATININE,
            specimen: "Serum",
            results: &[(CREATININE, 90.0, 160.0, "umol/L", "45-84")],
        }),
        referral: Some(("Renal medicine", "Declining eGFR")),
        min_age: 50,
    },
    Condition {
        problem: ("414916001", "Obesity"),
        major: false,
        medicines: &[],
        observations: &[(BMI, 30.5, 42.0, "kg/m2"), (WEIGHT, 88.0, 140.0, "kg")],
        investigation: None,
        referral: Some((
            "Tier 3 weight management service",
            "BMI above 30 despite lifestyle advice",
        )),
        min_age: 18,
    },
];

/// Past, resolved problems: concept and the years they lasted.
const PAST_PROBLEMS: [Concept; 6] = [
    ("233604007", "Pneumonia"),
    ("37796009", "Migraine"),
    ("16114001", "Fracture of ankle"),
    ("90560007", "Gout"),
    ("279039007", "Low back pain"),
    ("24079001", "Atopic dermatitis"),
];

const ALLERGIES: [(Concept, &str); 3] = [
    (("91936005", "Allergy to penicillin"), "Urticaria"),
    (("91935009", "Allergy to peanut"), "Lip swelling and wheeze"),
    (
        ("418689008", "Allergy to grass pollen"),
        "Sneezing and itchy eyes each summer",
    ),
];

const ACUTE: [Medicine; 3] = [
    (
        ("323509004", "Amoxicillin 250mg capsules"),
        "One capsule three times a day",
        "21 capsule",
    ),
    (
        ("329807003", "Naproxen 500mg tablets"),
        "One tablet twice daily with food",
        "28 tablet",
    ),
    (
        ("322623000", "Tramadol 50mg capsules"),
        "One or two capsules up to four times a day",
        "30 capsule",
    ),
];

/// Items kept confidential at the patient's request.
const CONFIDENTIAL: [Concept; 2] = [
    ("197480006", "Anxiety disorder"),
    ("35489007", "Depressive disorder"),
];

/// Consultation types as EMIS Web exports title them (the commonest real ones).
const CONSULTATION_KINDS: [&str; 3] = ["GP Surgery", "Other", "Administration note"];

struct PracticeSpec {
    ods: String,
    name: String,
    asid: String,
    provider: bool,
    gp_connect: bool,
    practitioners: Vec<String>,
    town: usize,
}

fn practices(patients: usize, rng: &mut SplitMix64) -> Vec<PracticeSpec> {
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

/// Generates a world of `patients` patients from `seed`.
pub fn generate(patients: usize, seed: u64) -> Vec<GeneratedFile> {
    let mut rng = SplitMix64::new(seed);
    let practices = practices(patients, &mut rng);
    let mut files = vec![GeneratedFile {
        name: "00-practices.yaml".to_owned(),
        text: practices_file(patients, seed, &practices),
    }];
    let providers: Vec<&PracticeSpec> = practices.iter().filter(|p| p.provider).collect();
    let no_gp_connect = practices.iter().find(|p| !p.gp_connect);
    let mut start = 0;
    while start < patients {
        let end = (start + PATIENTS_PER_FILE).min(patients);
        let mut text = String::with_capacity((end - start) * 3_000);
        text.push_str("patients:\n");
        for index in start..end {
            let path = path_for(index, &mut rng);
            let home = providers[rng.below(providers.len() as u64) as usize];
            let other = providers[(rng.below(providers.len() as u64 - 1) as usize
                + 1
                + providers
                    .iter()
                    .position(|p| p.ods == home.ods)
                    .unwrap_or(0))
                % providers.len()];
            let registered = match (path, no_gp_connect) {
                (Journey::NoGpConnect, Some(p)) => p,
                (Journey::AlreadyChanged, _) => other,
                _ => home,
            };
            let record_at = if path == Journey::NoGpConnect {
                registered
            } else {
                home
            };
            patient(
                &mut text,
                index as u64,
                path,
                registered,
                record_at,
                &mut rng,
            );
        }
        files.push(GeneratedFile {
            name: format!("patients-{:03}.yaml", files.len()),
            text,
        });
        start = end;
    }
    files
}

/// The patients' files of `files` rewritten as JSON (`patients-NNN.json`), keys in the same
/// order; the practices' file stays YAML, to be read and edited. Files are converted on every
/// core.
pub fn as_json(files: Vec<GeneratedFile>) -> Result<Vec<GeneratedFile>, String> {
    let convert = |file: GeneratedFile| -> Result<GeneratedFile, String> {
        let Some(stem) = file.name.strip_suffix(".yaml") else {
            return Ok(file);
        };
        if !stem.starts_with("patients-") {
            return Ok(file);
        }
        let node: Node = serde_saphyr::from_str_with_options(
            &file.text,
            serde_saphyr::options! {
                budget: serde_saphyr::budget! { max_nodes: usize::MAX, max_events: usize::MAX },
            },
        )
        .map_err(|e| format!("generated {} does not read back: {e}", file.name))?;
        let text = one_item_per_line(&node)
            .map_err(|e| format!("generated {} cannot be written as JSON: {e}", file.name))?;
        Ok(GeneratedFile {
            name: format!("{stem}.json"),
            text,
        })
    };
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut chunks: Vec<Vec<GeneratedFile>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, file) in files.into_iter().enumerate() {
        chunks[i % workers].push(file);
    }
    let done: Vec<Vec<(usize, Result<GeneratedFile, String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(w, chunk)| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .enumerate()
                        .map(|(k, f)| (k * workers + w, convert(f)))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(0, Err("the JSON conversion failed".to_owned()))])
            })
            .collect()
    });
    let mut done: Vec<_> = done.into_iter().flatten().collect();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, f)| f).collect()
}

/// JSON with each item of the top-level lists on its own line: a patient per line, compact to
/// load and still easy to search.
fn one_item_per_line(node: &Node) -> Result<String, serde_json::Error> {
    let Node::Map(entries) = node else {
        return serde_json::to_string(node);
    };
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('\n');
        out.push_str(&serde_json::to_string(key)?);
        out.push_str(": ");
        match value {
            Node::Seq(items) if !items.is_empty() => {
                out.push('[');
                for (j, item) in items.iter().enumerate() {
                    out.push_str(if j == 0 { "\n" } else { ",\n" });
                    out.push_str(&serde_json::to_string(item)?);
                }
                out.push_str("\n]");
            }
            other => out.push_str(&serde_json::to_string(other)?),
        }
    }
    out.push_str("\n}\n");
    Ok(out)
}

/// A YAML document as written, to be written again as JSON with its keys in the same order
/// (`serde_json::Value` would sort them).
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> serde::de::Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Uint(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Node>()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(v) => s.serialize_bool(*v),
            Node::Int(v) => s.serialize_i64(*v),
            Node::Uint(v) => s.serialize_u64(*v),
            Node::Float(v) => s.serialize_f64(*v),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Writes the generated files into `dir` (created if missing). Refuses a folder that already
/// holds scenario files: loading it would mix two worlds.
pub fn write(dir: &Path, files: &[GeneratedFile]) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
    let existing = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list folder {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| {
            matches!(
                e.path().extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .count();
    if existing > 0 {
        return Err(format!(
            "{} already holds {existing} scenario file(s); generate into an empty or new folder, \
             as a folder loads all its *.yaml and *.json files together",
            dir.display()
        ));
    }
    for file in files {
        let path = dir.join(&file.name);
        std::fs::write(&path, &file.text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// A YAML double-quoted scalar.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn concept(c: Concept) -> String {
    format!("{{ snomed: {}, display: {} }}", q(c.0), q(c.1))
}

fn practices_file(patients: usize, seed: u64, practices: &[PracticeSpec]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Generated by `spine-sandbox generate --patients {patients} --seed {seed}`.\n\
         name: {}\ndescription: {}\n\npractices:",
        q(&format!(
            "Generated world of {patients} patients (seed {seed})"
        )),
        q(
            "Several GP Connect providers, a consumer-only practice and a practice without GP \
           Connect; patients on every path of the migration journey."
        ),
    );
    for p in practices {
        let town = &TOWNS[p.town];
        let _ = writeln!(
            t,
            "  - ods: {}\n    name: {}\n    asid: {}\n    provider: {}",
            p.ods,
            q(&p.name),
            q(&p.asid),
            p.provider
        );
        if !p.gp_connect {
            t.push_str("    interactions: []\n");
        }
        let _ = writeln!(
            t,
            "    address: {{ lines: [{}], city: {}, district: {}, postcode: {} }}",
            q(&p.name),
            town.city,
            town.district,
            q(&format!("{} 1AA", town.postcode))
        );
    }
    t.push_str("\npractitioners:\n");
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    for p in practices {
        for id in &p.practitioners {
            let female = rng.chance(50);
            let given = if female {
                rng.pick(&FEMALE)
            } else {
                rng.pick(&MALE)
            };
            let _ = writeln!(
                t,
                "  - {{ id: {id}, name: {{ prefix: Dr, given: [{}], family: {} }}, gender: {}, practice: {} }}",
                q(given),
                q(rng.pick::<&str>(&FAMILY)),
                if female { "female" } else { "male" },
                p.ods
            );
        }
    }
    t
}

/// Appends one patient (a YAML list entry under `patients:`).
fn patient(
    t: &mut String,
    index: u64,
    path: Journey,
    registered: &PracticeSpec,
    record_at: &PracticeSpec,
    rng: &mut SplitMix64,
) {
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
    let town = &TOWNS[registered.town];
    let _ = writeln!(
        t,
        "  - nhs_number: {}\n    name: {{ prefix: {prefix}, given: [{}], family: {} }}\n    \
         gender: {}\n    birth_date: {birth_year}-{:02}-{:02}\n    \
         address: {{ lines: [{}], city: {}, district: {}, postcode: {} }}\n    \
         registered_with: {}\n    record_at: {}",
        q(&nhs_number(index)),
        q(given),
        q(family),
        if female { "female" } else { "male" },
        rng.between(1, 12),
        rng.between(1, 28),
        q(&format!("{} {}", rng.between(1, 120), rng.pick(&STREETS))),
        town.city,
        town.district,
        q(&format!(
            "{} {}{}{}",
            town.postcode,
            rng.between(1, 9),
            (b'A' + rng.below(26) as u8) as char,
            (b'A' + rng.below(26) as u8) as char
        )),
        registered.ods,
        record_at.ods,
    );
    let _ = writeln!(t, "    usual_gp: {}", rng.pick(&record_at.practitioners));
    match path {
        Journey::Sensitive => t.push_str("    sensitive: true\n"),
        Journey::Dissent => t.push_str("    dissent: true\n"),
        Journey::Unverified => t.push_str("    nhs_number_verified: false\n"),
        Journey::Deceased => {
            let _ = writeln!(t, "    deceased: -{}m", rng.between(1, 11));
        }
        _ => {}
    }
    if path == Journey::Empty {
        t.push_str("    record: {}\n");
        return;
    }
    record(t, path, age, record_at, rng);
}

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
fn value(rng: &mut SplitMix64, lo: f64, hi: f64) -> String {
    let tenths = rng.below(((hi - lo) * 10.0).max(1.0) as u64);
    let v = lo + tenths as f64 / 10.0;
    format!("{v:.1}")
}

#[derive(Default)]
struct Lists {
    problems: Vec<String>,
    allergies: Vec<String>,
    medications: Vec<String>,
    immunisations: Vec<String>,
    observations: Vec<String>,
    investigations: Vec<String>,
    consultations: Vec<String>,
    referrals: Vec<String>,
    diary: Vec<String>,
    documents: Vec<String>,
}

fn record(t: &mut String, path: Journey, age: u64, at: &PracticeSpec, rng: &mut SplitMix64) {
    let mut l = Lists::default();
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
        condition(
            &mut l,
            &CONDITIONS[c],
            span.min(age - CONDITIONS[c].min_age),
            floor,
            at,
            rng,
        );
    }
    if rng.chance(30) {
        let p = rng.pick(&PAST_PROBLEMS);
        let start = rng.between(floor + 1, span);
        l.problems.push(format!(
            "{{ id: pp1, code: {}, onset: {}, end: {}, status: inactive }}",
            concept(*p),
            ago(start, 0),
            ago(start - 1, rng.between(1, 11))
        ));
    }
    if rng.chance(25) {
        let (c, reaction) = rng.pick(&ALLERGIES);
        if rng.chance(20) {
            l.allergies.push(format!(
                "{{ id: a1, code: {}, asserted: {}, status: resolved, end: {}, reaction: {} }}",
                concept(*c),
                ago(span, 0),
                ago(floor, 0),
                q(reaction)
            ));
        } else {
            l.allergies.push(format!(
                "{{ id: a1, code: {}, asserted: {}, reaction: {} }}",
                concept(*c),
                ago(rng.between(floor, span), 0),
                q(reaction)
            ));
        }
    }
    if rng.chance(20) {
        let (c, dosage, quantity) = rng.pick(&ACUTE);
        let y = rng.between(floor, span);
        l.medications.push(format!(
            "{{ id: ma1, code: {}, start: {}, end: {}, type: acute, dosage: {}, quantity: {} }}",
            concept(*c),
            ago(y, 2),
            ago(y, 1),
            q(dosage),
            q(quantity)
        ));
    }
    if age >= 50 || rng.chance(20) {
        for y in floor..(floor + rng.below(4)) {
            l.immunisations.push(format!(
                "{{ id: i{y}, code: {}, date: {} }}",
                concept(FLU),
                ago(y, rng.between(2, 4))
            ));
        }
    }
    if age >= 65 && rng.chance(50) {
        l.immunisations.push(format!(
            "{{ id: ipn, code: {}, date: {} }}",
            concept(("12866006", "Pneumococcal vaccination")),
            ago(floor + 1, 0)
        ));
    }
    let smoking = if rng.chance(70) {
        ("266919005", "Never smoked tobacco")
    } else {
        ("8517006", "Ex-smoker")
    };
    l.observations.push(format!(
        "{{ id: os, code: {}, date: {} }}",
        concept(smoking),
        ago(rng.between(floor, span), 0)
    ));
    if path == Journey::Happy && rng.chance(15) {
        let c = rng.pick(&CONFIDENTIAL);
        l.problems.push(format!(
            "{{ id: pc, code: {}, onset: {}, confidential: true, note: {} }}",
            concept(*c),
            ago(rng.between(floor, span), 0),
            q("Patient asked for this to be kept confidential.")
        ));
    }
    if path != Journey::Deceased && rng.chance(40) {
        l.diary.push(format!(
            "{{ id: dy1, date: +{}m, text: {}, code: {}, entered: -1m }}",
            rng.between(1, 11),
            q("Medication review"),
            concept(MEDICATION_REVIEW)
        ));
    }
    if rng.chance(25) {
        let confidential = path == Journey::Happy && rng.chance(20);
        let (kind, title) = if rng.chance(70) {
            (CLINICAL_LETTER, "Letter from the outpatient clinic")
        } else {
            (DISCHARGE_SUMMARY, "Discharge summary")
        };
        l.documents.push(format!(
            "{{ id: d1, title: {}, type: {}, date: {}, confidential: {confidential}, text: {} }}",
            q(title),
            concept(kind),
            ago(rng.between(floor, span), 0),
            q(
                "Seen in clinic today. Examination unremarkable; no change to treatment. \
               Discharged back to the care of the practice."
            )
        ));
    }
    let sections: [(&str, &[String]); 10] = [
        ("problems", &l.problems),
        ("allergies", &l.allergies),
        ("medications", &l.medications),
        ("immunisations", &l.immunisations),
        ("observations", &l.observations),
        ("investigations", &l.investigations),
        ("consultations", &l.consultations),
        ("referrals", &l.referrals),
        ("diary", &l.diary),
        ("documents", &l.documents),
    ];
    t.push_str("    record:\n");
    for (name, items) in sections {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(t, "      {name}:");
        for item in items {
            let _ = writeln!(t, "        - {item}");
        }
    }
}

/// A condition with its problem, medicines, yearly reviews (observations and tests recorded in
/// a consultation) and possibly a referral. `years` is how long ago it started.
fn condition(
    l: &mut Lists,
    c: &Condition,
    years: u64,
    floor: u64,
    at: &PracticeSpec,
    rng: &mut SplitMix64,
) {
    let n = l.problems.len() + 1;
    let onset = rng.between(floor + 1, years.max(floor + 1));
    let mut related = Vec::new();
    for (m, (code, dosage, quantity)) in c.medicines.iter().enumerate() {
        let id = format!("m{n}x{m}");
        let kind = if rng.chance(20) {
            "repeat-dispensing"
        } else {
            "repeat"
        };
        let confidential = c.problem.0 == "35489007" && rng.chance(50);
        let mut item = format!(
            "{{ id: {id}, code: {}, start: {}, type: {kind}, dosage: {}, quantity: {}, repeats_allowed: {}",
            concept(*code),
            ago(onset, 0),
            q(dosage),
            q(quantity),
            rng.between(3, 12)
        );
        if floor > 1 {
            item.push_str(", end: -1y, stopped: \"Patient died\"");
        }
        if confidential {
            item.push_str(", confidential: true");
        }
        item.push_str(" }");
        l.medications.push(item);
        related.push(id);
    }
    // One review a year for the last few years.
    let reviews = onset.saturating_sub(floor).min(3);
    for r in 0..reviews {
        let year = floor + r;
        let date = ago(year, rng.between(1, 11));
        let mut entries = Vec::new();
        for (o, (code, lo, hi, unit)) in c.observations.iter().enumerate() {
            let id = format!("o{n}x{r}x{o}");
            l.observations.push(format!(
                "{{ id: {id}, code: {}, date: {date}, value: {}, unit: {} }}",
                concept(*code),
                value(rng, *lo, *hi),
                q(unit)
            ));
            entries.push(id.clone());
            if r == 0 {
                related.push(id);
            }
        }
        if let Some(inv) = &c.investigation {
            let id = format!("inv{n}x{r}");
            let mut item = format!(
                "{{ id: {id}, code: {}, date: {date}, specimen: {}, results: [",
                concept(inv.test),
                q(inv.specimen)
            );
            for (i, (code, lo, hi, unit, range)) in inv.results.iter().enumerate() {
                if i > 0 {
                    item.push_str(", ");
                }
                let _ = write!(
                    item,
                    "{{ code: {}, value: {}, unit: {}, range: {} }}",
                    concept(*code),
                    value(rng, *lo, *hi),
                    q(unit),
                    q(range)
                );
            }
            item.push_str("] }");
            l.investigations.push(item);
            entries.push(id.clone());
            if r == 0 {
                related.push(id);
            }
        }
        let id = format!("c{n}x{r}");
        entries.push(format!("p{n}"));
        l.consultations.push(format!(
            "{{ id: {id}, date: {date}, type: {}, practitioner: {}, entries: [{}], note: {} }}",
            q(rng.pick::<&str>(&CONSULTATION_KINDS)),
            rng.pick(&at.practitioners),
            entries.join(", "),
            q(&format!("{} review.", c.problem.1))
        ));
    }
    if let Some((to, reason)) = c.referral
        && rng.chance(40)
    {
        let id = format!("r{n}");
        l.referrals.push(format!(
            "{{ id: {id}, date: {}, to: {}, reason: {}, priority: routine }}",
            ago(rng.between(floor, onset), 0),
            q(to),
            q(reason)
        ));
        related.push(id);
    }
    let mut problem = format!(
        "{{ id: p{n}, code: {}, onset: {}, significance: {}",
        concept(c.problem),
        ago(onset, 0),
        if c.major { "major" } else { "minor" }
    );
    if !related.is_empty() {
        let _ = write!(problem, ", related: [{}]", related.join(", "));
    }
    problem.push_str(" }");
    l.problems.push(problem);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;
    use crate::nhs_number::NhsNumber;
    use crate::scenario::load;
    use chrono::NaiveDate;

    fn load_generated(files: &[GeneratedFile]) -> crate::scenario::World {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "generate-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        write(&dir, files).unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        let world = load::load_paths(std::slice::from_ref(&dir), start);
        let _ = std::fs::remove_dir_all(&dir);
        match world {
            Ok(w) => w,
            Err(errors) => panic!(
                "{}",
                errors
                    .iter()
                    .take(20)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // The first outputs for seed 0 from the published splitmix64 reference.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn nhs_numbers_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..5_000 {
            let n = nhs_number(i);
            assert!(NhsNumber::parse(&n).is_ok(), "{n}");
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_world() {
        assert_eq!(generate(50, 7), generate(50, 7));
        assert_ne!(generate(50, 7), generate(50, 8));
    }

    #[test]
    fn patients_are_split_into_files() {
        let files = generate(PATIENTS_PER_FILE * 2 + 1, 1);
        assert_eq!(files.len(), 4);
        assert_eq!(files[0].name, "00-practices.yaml");
        assert_eq!(files[3].text.matches("\n  - nhs_number:").count(), 1);
    }

    #[test]
    fn a_generated_world_loads_and_has_every_path_and_area() {
        let world = load_generated(&generate(400, 3));
        assert_eq!(world.patients.len(), 400);
        let providers = world.practices.iter().filter(|p| p.provider).count();
        assert!(providers >= 3 && world.practices.len() > providers);
        assert!(world.practitioners.len() >= 9);
        let p = &world.patients;
        assert!(p.iter().any(|p| p.sensitive));
        assert!(p.iter().any(|p| p.deceased.is_some()));
        assert!(p.iter().any(|p| p.dissent));
        assert!(p.iter().any(|p| !p.nhs_number_verified));
        assert!(p.iter().any(|p| p.registered_with != p.record_at));
        assert!(p.iter().any(|p| p.record.item_count() == 0));
        let no_gp_connect = world
            .practices
            .iter()
            .find(|p| p.interactions.is_empty())
            .unwrap();
        assert!(p.iter().any(|p| p.registered_with == no_gp_connect.ods));
        let r = |f: fn(&crate::scenario::Record) -> usize| {
            p.iter().map(|p| f(&p.record)).sum::<usize>()
        };
        assert!(r(|r| r.problems.len()) > 0);
        assert!(r(|r| r.allergies.len()) > 0);
        assert!(r(|r| r.medications.len()) > 0);
        assert!(r(|r| r.immunisations.len()) > 0);
        assert!(r(|r| r.observations.len()) > 0);
        assert!(r(|r| r.investigations.len()) > 0);
        assert!(r(|r| r.consultations.len()) > 0);
        assert!(r(|r| r.referrals.len()) > 0);
        assert!(r(|r| r.diary.len()) > 0);
        assert!(r(|r| r.documents.len()) > 0);
        assert!(
            p.iter()
                .any(|p| p.record.problems.iter().any(|i| i.meta.confidential))
        );
        assert!(
            p.iter()
                .any(|p| p.record.documents.iter().any(|i| i.meta.confidential))
        );
    }

    #[test]
    fn the_json_form_is_the_same_world_and_takes_the_json_parser() {
        let yaml = generate(PATIENTS_PER_FILE + 300, 5);
        let json = as_json(yaml.clone()).unwrap();
        let names: Vec<&str> = json.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "00-practices.yaml",
                "patients-001.json",
                "patients-002.json"
            ]
        );
        for f in &json[1..] {
            assert!(
                load::parse_json(f.text.as_bytes()).is_some(),
                "{} is not read by the JSON parser",
                f.name
            );
            // One patient per line.
            assert_eq!(
                f.text
                    .lines()
                    .filter(|l| l.starts_with("{\"nhs_number\""))
                    .count(),
                f.text.matches("\"nhs_number\"").count()
            );
        }
        assert_eq!(
            format!("{:?}", load_generated(&yaml)),
            format!("{:?}", load_generated(&json))
        );
    }

    #[test]
    fn tiny_worlds_load_too() {
        for n in [0, 1, 8, 9] {
            assert_eq!(load_generated(&generate(n, n as u64)).patients.len(), n);
        }
    }

    #[test]
    fn a_folder_with_scenarios_is_refused() {
        let dir = std::env::temp_dir().join(format!("generate-refuse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("old.yaml"), "name: x\n").unwrap();
        let err = write(&dir, &generate(1, 1)).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(err.contains("already holds 1 scenario file"), "{err}");
    }
}
