//! The checklist's vocabulary: a check's id and area as types, a rule declared as one item, and
//! the verdict a rule's evaluation gives, built from what it found.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Grader;
use crate::conformance::Status;

/// Declares the areas and the ids of their checks in one place: each id knows its area and its
/// stable name (what the JSON, text and JUnit reports show).
macro_rules! checklist {
    ($($area:ident = $area_name:literal { $($id:ident = $name:literal,)+ })+) => {
        /// The part of the specifications a check grades.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) enum Area {
            $($area,)+
        }

        impl Area {
            pub(crate) const ALL: &[Area] = &[$(Area::$area,)+];

            pub(crate) const fn as_str(self) -> &'static str {
                match self {
                    $(Area::$area => $area_name,)+
                }
            }
        }

        /// A check's stable name, e.g. `pds.trace-before-change`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) enum CheckId {
            $($($id,)+)+
        }

        impl CheckId {
            pub(crate) const ALL: &[CheckId] = &[$($(CheckId::$id,)+)+];

            pub(crate) const fn as_str(self) -> &'static str {
                match self {
                    $($(CheckId::$id => $name,)+)+
                }
            }

            pub(crate) const fn area(self) -> Area {
                match self {
                    $($(CheckId::$id => Area::$area,)+)+
                }
            }
        }
    };
}

checklist! {
    Pds = "PDS" {
        PdsTraceBeforeChange = "pds.trace-before-change",
        PdsTraceFresh = "pds.trace-fresh",
        PdsRequestId = "pds.x-request-id",
        PdsIfMatch = "pds.if-match-version-read",
        PdsRetryAfterConflict = "pds.retry-after-409",
    }
    Sds = "SDS" {
        SdsEndpointMigrate = "sds.endpoint-migrate",
        SdsDeviceAsid = "sds.device-asid",
        SdsEndpointDocuments = "sds.endpoint-documents",
    }
    Ssp = "SSP" {
        SspViaProxy = "ssp.via-proxy",
        SspHeaders = "ssp.headers",
        SspFreshTraceId = "ssp.fresh-trace-id",
        SspTargetFromSds = "ssp.target-from-sds",
    }
    Jwt = "JWT" {
        JwtClaims = "jwt.claims",
        JwtReason = "jwt.reason-migration",
        JwtScope = "jwt.scope-sensitivity",
        JwtFreshPerRetry = "jwt.fresh-per-retry",
        JwtIdentity = "jwt.requesting-identity",
    }
    Migrate = "migrate" {
        MigrateParameters = "migrate.parameters",
        MigrateAfterRegistration = "migrate.after-registration",
        MigrateFromPreviousPractice = "migrate.from-previous-practice",
    }
    Retrieve = "retrieve" {
        RetrieveTracedFirst = "retrieve.traced-first",
        RetrieveEndpoint = "retrieve.endpoint",
        RetrieveParameters = "retrieve.parameters",
    }
    Documents = "documents" {
        DocumentsAllFetched = "documents.all-fetched",
        DocumentsInteraction = "documents.interaction",
        DocumentsScope = "documents.scope",
    }
    Refusals = "refusals" {
        RefusalsRetries = "refusals.retries",
    }
}

impl CheckId {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|id| id.as_str() == s)
    }
}

impl Area {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Area {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown conformance check '{s}' (is the sandbox newer than this binary?)"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Area {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown conformance area '{s}' (is the sandbox newer than this binary?)"
            ))
        })
    }
}

/// A public consumer test script that covers a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestScript {
    /// NHS's test-script ids, e.g. `GPC-MIG-TST-GEN-06`.
    pub ids: &'static str,
    /// The requirement ids the script names (may be empty).
    pub requirement: &'static str,
    /// Where the script is published.
    pub url: &'static str,
}

/// One rule of the checklist, declared: adding a check is adding one of these to its area's
/// `RULES`, and its id to [`CheckId`].
pub(crate) struct Rule {
    /// Its id, which names its area.
    pub id: CheckId,
    pub title: &'static str,
    /// The rule, in our words.
    pub rule: &'static str,
    /// The NHS page that states it.
    pub source: &'static str,
    /// The public consumer test script that covers it, if any.
    pub script: Option<TestScript>,
    /// The check grades the start of a journey: when the journal dropped that start, a failure
    /// cannot be judged and becomes a warning.
    pub about_start: bool,
    /// The evaluation, reading only the journal.
    pub grade: fn(&Grader<'_>) -> Verdict,
}

/// How one journey fared against one rule, and the journal entries that prove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub status: Status,
    pub detail: String,
    pub entries: Vec<u64>,
}

impl Verdict {
    fn new(
        status: Status,
        detail: impl Into<String>,
        entries: impl IntoIterator<Item = u64>,
    ) -> Self {
        let mut entries: Vec<u64> = entries.into_iter().collect();
        entries.sort_unstable();
        entries.dedup();
        Verdict {
            status,
            detail: detail.into(),
            entries,
        }
    }

    /// The journey stopped before the step the rule grades.
    pub(crate) fn not_reached(detail: impl Into<String>) -> Self {
        Self::new(Status::NotReached, detail, [])
    }

    /// Not reached, pointing at the entries that show why.
    pub(crate) fn not_reached_at(
        detail: impl Into<String>,
        entries: impl IntoIterator<Item = u64>,
    ) -> Self {
        Self::new(Status::NotReached, detail, entries)
    }

    pub(crate) fn pass(detail: impl Into<String>, entries: impl IntoIterator<Item = u64>) -> Self {
        Self::new(Status::Pass, detail, entries)
    }

    pub(crate) fn warning(
        detail: impl Into<String>,
        entries: impl IntoIterator<Item = u64>,
    ) -> Self {
        Self::new(Status::Warning, detail, entries)
    }

    pub(crate) fn fail(detail: impl Into<String>, entries: impl IntoIterator<Item = u64>) -> Self {
        Self::new(Status::Fail, detail, entries)
    }
}

/// What a rule found, request by request: failures, warnings and the entries that prove them.
/// Its verdict is the worst finding with every finding told (failures first), or a pass.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    fails: Vec<String>,
    warnings: Vec<String>,
    proof: Vec<u64>,
}

impl Findings {
    pub(crate) fn fail(&mut self, why: impl Into<String>, entries: impl IntoIterator<Item = u64>) {
        self.fails.push(why.into());
        self.proof.extend(entries);
    }

    pub(crate) fn warn(&mut self, why: impl Into<String>, entries: impl IntoIterator<Item = u64>) {
        self.warnings.push(why.into());
        self.proof.extend(entries);
    }

    /// Entries that prove the verdict either way.
    pub(crate) fn prove(&mut self, entries: impl IntoIterator<Item = u64>) {
        self.proof.extend(entries);
    }

    pub(crate) fn failed(&self) -> bool {
        !self.fails.is_empty()
    }

    /// The verdict; when nothing wrong was found, `otherwise` given the entries gathered.
    pub(crate) fn or_else(self, otherwise: impl FnOnce(Vec<u64>) -> Verdict) -> Verdict {
        let status = if self.failed() {
            Status::Fail
        } else if !self.warnings.is_empty() {
            Status::Warning
        } else {
            return otherwise(self.proof);
        };
        let mut told = self.fails;
        told.extend(self.warnings);
        Verdict::new(status, told.join("; "), self.proof)
    }

    /// The verdict, or a pass with `detail` proved by `entries`.
    pub(crate) fn or_pass(
        self,
        detail: impl Into<String>,
        entries: impl IntoIterator<Item = u64>,
    ) -> Verdict {
        self.or_else(|_| Verdict::pass(detail, entries))
    }

    /// The verdict, or a pass with `detail` proved by the entries gathered along the way.
    pub(crate) fn or_pass_proved(self, detail: impl Into<String>) -> Verdict {
        self.or_else(|proof| Verdict::pass(detail, proof))
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules;
    use super::*;

    #[test]
    fn every_id_is_declared_by_exactly_one_rule_in_the_checklist_order_of_its_areas() {
        let declared: Vec<CheckId> = rules().map(|r| r.id).collect();
        assert_eq!(declared, CheckId::ALL, "declared out of order or twice");
        let areas: Vec<Area> = declared.iter().map(|id| id.area()).collect();
        let mut sorted = areas.clone();
        sorted.sort();
        assert_eq!(areas, sorted, "a rule sits in another area's list");
    }

    #[test]
    fn an_id_names_its_area_and_reads_back() {
        for &id in CheckId::ALL {
            let prefix = id.area().as_str().to_ascii_lowercase();
            assert!(id.as_str().starts_with(&format!("{prefix}.")), "{id}");
            let json = serde_json::to_string(&id).unwrap_or_default();
            assert_eq!(json, format!("\"{id}\""));
            assert_eq!(serde_json::from_str::<CheckId>(&json).ok(), Some(id));
        }
        let unknown = serde_json::from_str::<CheckId>("\"pds.nothing\"")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            unknown.contains("unknown conformance check 'pds.nothing'"),
            "{unknown}"
        );
    }

    #[test]
    fn findings_tell_failures_before_warnings_and_keep_every_proof() {
        let mut found = Findings::default();
        found.warn("slow", [3]);
        found.fail("wrong", [2, 3]);
        found.prove([1]);
        let v = found.or_pass("fine", [9]);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.detail, "wrong; slow");
        assert_eq!(v.entries, vec![1, 2, 3]);

        let mut clean = Findings::default();
        clean.prove([5, 4]);
        assert_eq!(clean.or_pass_proved("fine"), Verdict::pass("fine", [4, 5]));
        assert_eq!(Findings::default().or_pass("fine", [7]).entries, vec![7]);
    }
}
