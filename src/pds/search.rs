//! `GET /Patient?...` (`docs/pds.md`): PDS's search parameters, their checks in
//! the official mock's order, matching with wildcards or fuzzily, and PDS-style scores.
//!
//! Scores approximate PDS's (its algorithm is not public): the mean over the criteria given of
//! how well each matched, 1.0 when all match exactly. A wildcard name match counts
//! [`WILDCARD_NAME`] and a wildcard postcode [`WILDCARD_POSTCODE`], figures chosen so that the
//! official sandbox's examples come out as PDS shows them (`family=Sm*&gender=...&birthdate=...`
//! scores 0.8343; `family=Smith&gender&birthdate&address-postalcode=DN17*` 0.965). Fuzzy names
//! score by edit distance. In a fuzzy search `death-date` and `general-practitioner` only lower
//! the score when they differ, as PDS documents; otherwise every criterion must match.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::history::History;
use super::patient;
use crate::fhir::{FhirError, SpineCode};

/// PDS's upper bound on `_max-results` (healthcare-worker access mode).
pub(crate) const MAX_RESULTS: usize = 50;

const KNOWN_PARAMETERS: [&str; 15] = [
    "family",
    "given",
    "gender",
    "birthdate",
    "death-date",
    "address-postalcode",
    "address-postcode",
    "general-practitioner",
    "email",
    "phone",
    "_fuzzy-match",
    "_exact-match",
    "_history",
    "_max-results",
    "history",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ge,
    Le,
}

/// One `birthdate` or `death-date` value: `[eq|ge|le]YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateBound {
    prefix: Prefix,
    date: NaiveDate,
}

impl DateBound {
    fn parse(s: &str) -> Option<Self> {
        let (prefix, rest) = match s.get(..2) {
            Some("eq") => (Prefix::Eq, &s[2..]),
            Some("ge") => (Prefix::Ge, &s[2..]),
            Some("le") => (Prefix::Le, &s[2..]),
            _ => (Prefix::Eq, s),
        };
        let well_formed = rest.len() == 10
            && rest.chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !well_formed {
            return None;
        }
        NaiveDate::parse_from_str(rest, "%Y-%m-%d")
            .ok()
            .map(|date| Self { prefix, date })
    }

    fn admits(self, date: NaiveDate) -> bool {
        match self.prefix {
            Prefix::Eq => date == self.date,
            Prefix::Ge => date >= self.date,
            Prefix::Le => date <= self.date,
        }
    }
}

/// A checked search.
#[derive(Debug, Clone, Default)]
pub(crate) struct Search {
    family: Option<String>,
    given: Vec<String>,
    gender: Option<String>,
    birthdate: Vec<DateBound>,
    death_date: Vec<DateBound>,
    postcode: Option<String>,
    general_practitioner: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    fuzzy: bool,
    exact: bool,
    history: bool,
    pub max_results: usize,
}

fn invalid_value(value: &str, field: &str) -> FhirError {
    FhirError::new(
        SpineCode::InvalidValue,
        format!("Invalid value - '{value}' in field '{field}'"),
    )
}

fn invalid_search_data(detail: impl std::fmt::Display) -> FhirError {
    FhirError::new(
        SpineCode::InvalidSearchData,
        format!("Invalid search data provided - {detail}"),
    )
}

/// PDS's boolean query parameters take `true` or `false` in any letter case (`True`, as
/// Python's `requests` writes it, included); anything else is refused.
fn boolean(value: &str, field: &str) -> Result<bool, FhirError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(FhirError::new(
            SpineCode::InvalidValue,
            format!("Invalid value - '{value}' in field '{field}' (true or false)"),
        ))
    }
}

/// What a wildcard match of a name counts for in the score (see the module docs).
pub(crate) const WILDCARD_NAME: f64 = 0.5029;
/// What a wildcard match of a postcode counts for.
pub(crate) const WILDCARD_POSTCODE: f64 = 0.86;

/// Checks the query in the official mock's order: something given, no unknown parameter, dates
/// well formed, then the other values, a birth date, and a combination PDS will search on.
pub(crate) fn parse(pairs: &[(String, String)]) -> Result<Search, FhirError> {
    // A bare `=` or `&&` (left by some clients and by the official collection) names nothing.
    let named: Vec<(String, String)>;
    let pairs = if pairs.iter().any(|(k, v)| k.is_empty() && v.is_empty()) {
        named = pairs
            .iter()
            .filter(|(k, v)| !(k.is_empty() && v.is_empty()))
            .cloned()
            .collect();
        named.as_slice()
    } else {
        pairs
    };
    if pairs.is_empty() {
        return Err(FhirError::new(
            SpineCode::UnsupportedService,
            "Invalid request with error - no search parameters given; a search needs at least 'family' and 'birthdate'",
        ));
    }
    let mut unexpected: Vec<&str> = Vec::new();
    for (key, _) in pairs {
        if !KNOWN_PARAMETERS.contains(&key.as_str()) && !unexpected.contains(&key.as_str()) {
            unexpected.push(key);
        }
    }
    if !unexpected.is_empty() {
        let names = unexpected
            .iter()
            .map(|u| format!("'{u}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let verb = if unexpected.len() == 1 { "was" } else { "were" };
        return Err(FhirError::new(
            SpineCode::AdditionalProperties,
            format!(
                "Invalid request with error - Additional properties are not allowed ({names} {verb} unexpected)"
            ),
        ));
    }
    fn values<'a>(
        pairs: &'a [(String, String)],
        name: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    let all = |name: &'static str| values(pairs, name);
    let mut search = Search {
        max_results: MAX_RESULTS,
        ..Search::default()
    };
    for (field, bounds) in [
        ("birthdate", &mut search.birthdate),
        ("death-date", &mut search.death_date),
    ] {
        for value in all(field) {
            bounds.push(DateBound::parse(value).ok_or_else(|| invalid_value(value, field))?);
        }
        if bounds.len() > 2 {
            return Err(invalid_search_data(format_args!(
                "'{field}' may be given at most twice (a 'ge' and an 'le' bound)"
            )));
        }
    }
    let single = |name: &'static str| -> Result<Option<String>, FhirError> {
        let mut values = all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(invalid_search_data(format_args!(
                "'{name}' may be given only once"
            )));
        }
        match first {
            Some("") => Err(invalid_value("", name)),
            Some(v) => Ok(Some(v.to_owned())),
            None => Ok(None),
        }
    };
    search.family = single("family")?;
    search.given = all("given").map(str::to_owned).collect();
    if let Some(empty) = search.given.iter().find(|g| g.is_empty()) {
        return Err(invalid_value(empty, "given"));
    }
    search.gender = single("gender")?;
    if let Some(g) = &search.gender
        && !matches!(g.as_str(), "male" | "female" | "other" | "unknown")
    {
        return Err(invalid_value(g, "gender"));
    }
    let postalcode = single("address-postalcode")?;
    let postcode = single("address-postcode")?;
    if postalcode.is_some() && postcode.is_some() {
        return Err(invalid_search_data(
            "give 'address-postalcode' or the deprecated 'address-postcode', not both",
        ));
    }
    search.postcode = postalcode.or(postcode);
    search.general_practitioner = single("general-practitioner")?;
    search.email = single("email")?;
    search.phone = single("phone")?;
    search.fuzzy = single("_fuzzy-match")?
        .map(|v| boolean(&v, "_fuzzy-match"))
        .transpose()?
        .unwrap_or(false);
    search.exact = single("_exact-match")?
        .map(|v| boolean(&v, "_exact-match"))
        .transpose()?
        .unwrap_or(false);
    let history = single("_history")?.or(single("history")?);
    search.history = history
        .map(|v| boolean(&v, "_history"))
        .transpose()?
        .unwrap_or(false);
    if let Some(max) = single("_max-results")? {
        search.max_results = match max.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
            _ => return Err(invalid_value(&max, "_max-results")),
        };
    }
    if search.birthdate.is_empty() {
        return Err(FhirError::new(
            SpineCode::MissingValue,
            "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'",
        ));
    }
    check_minimum(&search)?;
    check_wildcards(&search)?;
    Ok(search)
}

/// Non-fuzzy: family and birth date. Fuzzy: given + family + birth date, family + birth date +
/// gender + postcode, or given + birth date + gender + postcode (`docs/pds.md`).
fn check_minimum(s: &Search) -> Result<(), FhirError> {
    let given = !s.given.is_empty();
    let family = s.family.is_some();
    let gender_postcode = s.gender.is_some() && s.postcode.is_some();
    let enough = if s.fuzzy {
        // any two of: given, family, gender + postcode
        [given, family, gender_postcode]
            .iter()
            .filter(|x| **x)
            .count()
            >= 2
    } else {
        family
    };
    if enough {
        return Ok(());
    }
    let needed = if s.fuzzy {
        "a fuzzy search needs given+family+birthdate, family+birthdate+gender+address-postalcode or given+birthdate+gender+address-postalcode"
    } else {
        "a search needs at least 'family' and 'birthdate'"
    };
    Err(invalid_search_data(format_args!(
        "'No searches were performed as the search criteria did not meet the minimum requirements' ({needed})"
    )))
}

fn check_wildcards(s: &Search) -> Result<(), FhirError> {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    fields.extend(s.family.as_deref().map(|v| ("family", v)));
    fields.extend(s.given.iter().map(|v| ("given", v.as_str())));
    fields.extend(s.postcode.as_deref().map(|v| ("address-postalcode", v)));
    for (field, value) in fields {
        if !value.contains('*') {
            continue;
        }
        if s.fuzzy {
            return Err(invalid_search_data(format_args!(
                "wildcards cannot be used in a fuzzy search ('{field}' is '{value}')"
            )));
        }
        if value.chars().take(2).any(|c| c == '*') {
            return Err(invalid_search_data(format_args!(
                "a wildcard cannot be in the first two characters of '{field}' ('{value}')"
            )));
        }
    }
    Ok(())
}

/// A patient that matched, with its score.
pub(crate) struct Match {
    pub patient: Value,
    pub score: f64,
}

impl Search {
    /// Whether restricted patients take part: not when searching by postcode or practice.
    pub(crate) fn admits_restricted(&self) -> bool {
        self.postcode.is_none() && self.general_practitioner.is_none()
    }

    /// Whether history takes part: always in a fuzzy search, on request (`_history`) otherwise.
    fn with_history(&self) -> bool {
        self.history || self.fuzzy
    }

    /// The score of `patient` (a full record, with its `history`) for this search, or `None` if
    /// it does not match.
    pub(crate) fn score(&self, patient: &Value, history: &History) -> Option<f64> {
        if patient::is_restricted(patient) && !self.admits_restricted() {
            return None;
        }
        let mut scores: Vec<f64> = Vec::new();
        // Each name part given (family, every given name) is a criterion of its own.
        let name = self.score_name(patient, history)?;
        let parts = (usize::from(self.family.is_some()) + self.given.len()).max(1);
        scores.extend(std::iter::repeat_n(name, parts));
        if let Some(gender) = &self.gender {
            if patient["gender"].as_str() != Some(gender.as_str()) {
                return None;
            }
            scores.push(1.0);
        }
        scores.push(self.score_birth_date(patient)?);
        // Fuzzy: death date and practice are not used to match, only to score (PDS OAS).
        let scored_only = |matched: bool| match (matched, self.fuzzy) {
            (true, _) => Some(1.0),
            (false, true) => Some(0.0),
            (false, false) => None,
        };
        if !self.death_date.is_empty() {
            let died = patient["deceasedDateTime"]
                .as_str()
                .and_then(|d| d.get(..10))
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            let matched = died.is_some_and(|d| self.death_date.iter().all(|b| b.admits(d)));
            scores.push(scored_only(matched)?);
        }
        if let Some(postcode) = &self.postcode {
            scores.push(self.score_postcode(patient, history, postcode)?);
        }
        if let Some(ods) = &self.general_practitioner {
            let matched = patient::registered_practice(patient)
                .is_some_and(|registered| registered.eq_ignore_ascii_case(ods));
            scores.push(scored_only(matched)?);
        }
        for (system, wanted) in [("email", &self.email), ("phone", &self.phone)] {
            if let Some(wanted) = wanted {
                let held = self.items(patient, history, "telecom").any(|t| {
                    t["system"] == system
                        && t["value"]
                            .as_str()
                            .is_some_and(|v| same_contact(system, v, wanted))
                });
                if !held {
                    return None;
                }
                scores.push(1.0);
            }
        }
        let score = scores.iter().sum::<f64>() / scores.len() as f64;
        let score = (score * 10_000.0).round() / 10_000.0;
        if self.exact && score < 1.0 {
            return None;
        }
        Some(score)
    }

    /// The best-matching name: exact or wildcard matching, or similarity when fuzzy (which also
    /// tries given and family the other way round). History searches look at every name.
    fn score_name(&self, patient: &Value, history: &History) -> Option<f64> {
        self.items(patient, history, "name")
            .filter(|n| {
                self.with_history()
                    || matches!(n["use"].as_str(), Some("usual" | "nickname" | "temp"))
            })
            .filter_map(|name| {
                let family = name["family"].as_str().unwrap_or_default();
                let given: Vec<&str> = name["given"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if self.fuzzy {
                    let straight = self.fuzzy_name(family, &given);
                    let swapped = given
                        .first()
                        .and_then(|g| self.fuzzy_name(g, &[family]))
                        .map(|s| s * 0.9);
                    straight.into_iter().chain(swapped).reduce(f64::max)
                } else {
                    self.exact_name(family, &given)
                }
            })
            .reduce(f64::max)
    }

    fn exact_name(&self, family: &str, given: &[&str]) -> Option<f64> {
        let mut scores = Vec::new();
        let name_score = |wanted: &str, held: &str| {
            wildcard_score(wanted, held).map(|s| if s < 1.0 { WILDCARD_NAME } else { s })
        };
        if let Some(wanted) = &self.family {
            scores.push(name_score(wanted, family)?);
        }
        for (i, wanted) in self.given.iter().enumerate() {
            scores.push(name_score(wanted, given.get(i)?)?);
        }
        Some(scores.iter().sum::<f64>() / scores.len().max(1) as f64)
    }

    fn fuzzy_name(&self, family: &str, given: &[&str]) -> Option<f64> {
        const THRESHOLD: f64 = 0.6;
        let mut scores = Vec::new();
        if let Some(wanted) = &self.family {
            scores.push(similarity(wanted, family));
        }
        for (i, wanted) in self.given.iter().enumerate() {
            scores.push(given.get(i).map_or(0.0, |g| similarity(wanted, g)));
        }
        if scores.iter().any(|s| *s < THRESHOLD) {
            return None;
        }
        Some(scores.iter().sum::<f64>() / scores.len().max(1) as f64)
    }

    /// Within every bound; a fuzzy search also accepts day and month transposed.
    fn score_birth_date(&self, patient: &Value) -> Option<f64> {
        let born = patient["birthDate"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
        if self.birthdate.iter().all(|b| b.admits(born)) {
            return Some(1.0);
        }
        let transposed = NaiveDate::from_ymd_opt(
            chrono::Datelike::year(&born),
            chrono::Datelike::day(&born),
            chrono::Datelike::month(&born),
        );
        match (self.fuzzy, self.birthdate.as_slice(), transposed) {
            (true, [b], Some(t)) if b.prefix == Prefix::Eq && b.admits(t) => Some(0.8),
            _ => None,
        }
    }

    /// The items of `element` the search looks at: the current ones, and the historic ones too
    /// when history takes part.
    fn items<'v>(
        &self,
        patient: &'v Value,
        history: &'v History,
        element: &str,
    ) -> impl Iterator<Item = &'v Value> {
        let past: &[Value] = if self.with_history() {
            history.items(element)
        } else {
            &[]
        };
        patient[element]
            .as_array()
            .into_iter()
            .flatten()
            .chain(past)
    }

    fn score_postcode(&self, patient: &Value, history: &History, wanted: &str) -> Option<f64> {
        let wanted = normalise_postcode(wanted);
        self.items(patient, history, "address")
            .filter(|a| self.with_history() || a["use"] == "home" || a.get("use").is_none())
            .filter_map(|a| a["postalCode"].as_str())
            .filter_map(|held| {
                let held = normalise_postcode(held);
                match wildcard_score(&wanted, &held) {
                    Some(s) if s < 1.0 => Some(WILDCARD_POSTCODE),
                    Some(s) => Some(s),
                    // fuzzy: the same outward code (the district) is a partial match
                    None if self.fuzzy && outward(&wanted) == outward(&held) => Some(0.7),
                    None => None,
                }
            })
            .reduce(f64::max)
    }
}

pub(crate) fn normalise_postcode(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The outward code of a space-free postcode: all but the last three characters.
fn outward(p: &str) -> &str {
    p.get(..p.len().saturating_sub(3)).unwrap_or(p)
}

fn same_contact(system: &str, held: &str, wanted: &str) -> bool {
    if system == "phone" {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        digits(held) == digits(wanted)
    } else {
        held.eq_ignore_ascii_case(wanted)
    }
}

/// 1.0 for a case-insensitive exact match; for a wildcard pattern that matches, a score that
/// grows with how much of the value the pattern spelt out; `None` when it does not match.
fn wildcard_score(pattern: &str, value: &str) -> Option<f64> {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let value: Vec<char> = value.to_lowercase().chars().collect();
    if !pattern.contains(&'*') {
        return (pattern == value).then_some(1.0);
    }
    if !glob(&pattern, &value) {
        return None;
    }
    let literal = pattern.iter().filter(|c| **c != '*').count() as f64;
    Some(0.5 + 0.5 * literal / value.len().max(1) as f64)
}

/// `*` matches any run of characters (iterative, with backtracking to the last star).
fn glob(pattern: &[char], value: &[char]) -> bool {
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, v));
            p += 1;
        } else if p < pattern.len() && pattern[p] == value[v] {
            p += 1;
            v += 1;
        } else if let Some((sp, sv)) = star {
            p = sp + 1;
            v = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// 1 − normalised edit distance, case-insensitive: `Smith`/`Smythe` ≈ 0.67.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    1.0 - row[b.len()] as f64 / longest as f64
}

/// The searchset Bundle as PDS returns it: no `id` or `link`, a `timestamp`, and entries with a
/// `score` (no `mode`), best first; no `entry` at all when nothing matched.
pub(crate) fn bundle(
    patient_base: &str,
    matches: Vec<Match>,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "total": matches.len(),
    });
    if !matches.is_empty() {
        bundle["entry"] = matches
            .into_iter()
            .map(|m| {
                let nhs = m.patient["id"].as_str().unwrap_or_default().to_owned();
                json!({
                    "fullUrl": format!("{patient_base}/{nhs}"),
                    "search": { "score": m.score },
                    "resource": patient::search_view(&m.patient),
                })
            })
            .collect();
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn code(e: &FhirError) -> &str {
        &e.code
    }

    #[test]
    fn checks_come_in_the_mocks_order() {
        let e = parse(&[]).unwrap_err();
        assert_eq!(code(&e), "UNSUPPORTED_SERVICE");
        let e = parse(&pairs(&[("colour", "red"), ("birthdate", "bad")])).unwrap_err();
        assert_eq!(code(&e), "ADDITIONAL_PROPERTIES");
        assert!(e.diagnostics.contains("('colour' was unexpected)"));
        let e = parse(&pairs(&[("family", "Smith"), ("birthdate", "2010-13-45")])).unwrap_err();
        assert_eq!(
            e.diagnostics,
            "Invalid value - '2010-13-45' in field 'birthdate'"
        );
        let e = parse(&pairs(&[("family", "Smith")])).unwrap_err();
        assert_eq!(code(&e), "MISSING_VALUE");
        let e = parse(&pairs(&[("given", "Jane"), ("birthdate", "eq2010-10-22")])).unwrap_err();
        assert_eq!(code(&e), "INVALID_SEARCH_DATA");
    }

    #[test]
    fn several_unknown_parameters_are_listed() {
        let e = parse(&pairs(&[("a", "1"), ("b", "2")])).unwrap_err();
        assert!(e.diagnostics.contains("('a', 'b' were unexpected)"), "{e}");
    }

    #[test]
    fn wildcards_follow_pds_rules() {
        let ok = parse(&pairs(&[("family", "Sm*"), ("birthdate", "eq2010-10-22")]));
        assert!(ok.is_ok());
        let e = parse(&pairs(&[("family", "S*"), ("birthdate", "eq2010-10-22")])).unwrap_err();
        assert_eq!(code(&e), "INVALID_SEARCH_DATA");
        let e = parse(&pairs(&[
            ("family", "Smi*"),
            ("given", "Jane"),
            ("birthdate", "eq2010-10-22"),
            ("_fuzzy-match", "true"),
        ]))
        .unwrap_err();
        assert!(e.diagnostics.contains("fuzzy"));
    }

    #[test]
    fn max_results_is_bounded() {
        for bad in ["0", "51", "x"] {
            let e = parse(&pairs(&[
                ("family", "Smith"),
                ("birthdate", "eq2010-10-22"),
                ("_max-results", bad),
            ]))
            .unwrap_err();
            assert_eq!(
                e.diagnostics,
                format!("Invalid value - '{bad}' in field '_max-results'")
            );
        }
    }

    #[test]
    fn glob_and_scores() {
        assert_eq!(wildcard_score("smith", "Smith"), Some(1.0));
        assert_eq!(wildcard_score("smith", "Smyth"), None);
        let s = wildcard_score("Sm*", "Smith").unwrap();
        assert!(s > 0.5 && s < 1.0);
        assert!(wildcard_score("Sm*th", "Smith").is_some());
        assert!(wildcard_score("Sm*x", "Smith").is_none());
        assert!((similarity("Smith", "Smythe") - 0.6667).abs() < 0.001);
        assert_eq!(similarity("Ada", "ada"), 1.0);
    }

    #[test]
    fn date_bounds() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(
            DateBound::parse("ge2010-10-22")
                .unwrap()
                .admits(d("2010-10-23"))
        );
        assert!(
            !DateBound::parse("le2010-10-22")
                .unwrap()
                .admits(d("2010-10-23"))
        );
        assert!(
            DateBound::parse("2010-10-22")
                .unwrap()
                .admits(d("2010-10-22"))
        );
        assert!(DateBound::parse("gt2010-10-22").is_none());
        assert!(DateBound::parse("eq2010-1-22").is_none());
    }
}
