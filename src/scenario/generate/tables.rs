//! The generator's raw material: towns, names, and the clinical content of long-term conditions,
//! with real SNOMED CT codes and terms as the shipped default scenario uses them.

pub(super) struct Town {
    pub(super) city: &'static str,
    pub(super) district: &'static str,
    pub(super) postcode: &'static str,
}

pub(super) const TOWNS: [Town; 8] = [
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

pub(super) const STREETS: [&str; 16] = [
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

pub(super) const FEMALE: [&str; 20] = [
    "Margaret", "Susan", "Priya", "Hannah", "Emily", "Sarah", "Fatima", "Joanne", "Aisha",
    "Claire", "Grace", "Olivia", "Mary", "Helen", "Zara", "Chloe", "Ruth", "Amelia", "Nadia",
    "Edith",
];

pub(super) const MALE: [&str; 20] = [
    "Daniel", "Oliver", "George", "Liam", "Arthur", "James", "Mohammed", "Thomas", "Rajesh",
    "Kieran", "Harry", "Jack", "David", "Samuel", "Imran", "Peter", "Joseph", "William", "Adam",
    "Michael",
];

pub(super) const FAMILY: [&str; 32] = [
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

pub(super) const PRACTICE_NAMES: [&str; 8] = [
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
pub(super) type Concept = (&'static str, &'static str);

/// A medicine of a condition: concept, dosage, quantity.
pub(super) type Medicine = (Concept, &'static str, &'static str);

/// A long-term condition and what a GP record shows of it.
pub(super) struct Condition {
    pub(super) problem: Concept,
    pub(super) major: bool,
    pub(super) medicines: &'static [Medicine],
    /// Observations recorded at each review: concept, low, high, unit.
    pub(super) observations: &'static [(Concept, f64, f64, &'static str)],
    /// A test taken at reviews, with its results.
    pub(super) investigation: Option<Investigation>,
    pub(super) referral: Option<(&'static str, &'static str)>,
    /// The earliest age at onset, in years.
    pub(super) min_age: u64,
}

pub(super) struct Investigation {
    pub(super) test: Concept,
    pub(super) specimen: &'static str,
    pub(super) results: &'static [(Concept, f64, f64, &'static str, &'static str)],
}

pub(super) const HYPERTENSION: Concept = ("59621000", "Essential hypertension");
pub(super) const SYSTOLIC: Concept = ("72313002", "Systolic arterial pressure");
pub(super) const DIASTOLIC: Concept = ("1091811000000102", "Diastolic arterial pressure");
pub(super) const WEIGHT: Concept = ("27113001", "Body weight");
pub(super) const BMI: Concept = ("60621009", "Body mass index");
pub(super) const CHOLESTEROL: Concept = ("1005671000000105", "Serum cholesterol level");
pub(super) const CREATININE: Concept = ("1000731000000107", "Serum creatinine level");
pub(super) const HBA1C: Concept = (
    "999791000000106",
    "Haemoglobin A1c level - International Federation of Clinical Chemistry and Laboratory Medicine standardised",
);
pub(super) const FBC: Concept = ("26604007", "Full blood count");
pub(super) const CLINICAL_LETTER: Concept = ("823691000000103", "Clinical letter");
pub(super) const DISCHARGE_SUMMARY: Concept = ("373942005", "Discharge summary");
pub(super) const MEDICATION_REVIEW: Concept = ("314529007", "Medication review due");
pub(super) const FLU: Concept = ("822851000000102", "Seasonal influenza vaccination");

pub(super) const CONDITIONS: [Condition; 9] = [
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
pub(super) const PAST_PROBLEMS: [Concept; 6] = [
    ("233604007", "Pneumonia"),
    ("37796009", "Migraine"),
    ("16114001", "Fracture of ankle"),
    ("90560007", "Gout"),
    ("279039007", "Low back pain"),
    ("24079001", "Atopic dermatitis"),
];

pub(super) const ALLERGIES: [(Concept, &str); 3] = [
    (("91936005", "Allergy to penicillin"), "Urticaria"),
    (("91935009", "Allergy to peanut"), "Lip swelling and wheeze"),
    (
        ("418689008", "Allergy to grass pollen"),
        "Sneezing and itchy eyes each summer",
    ),
];

pub(super) const ACUTE: [Medicine; 3] = [
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
pub(super) const CONFIDENTIAL: [Concept; 2] = [
    ("197480006", "Anxiety disorder"),
    ("35489007", "Depressive disorder"),
];

/// Consultation types as EMIS Web exports title them (the commonest real ones).
pub(super) const CONSULTATION_KINDS: [&str; 3] = ["GP Surgery", "Other", "Administration note"];
