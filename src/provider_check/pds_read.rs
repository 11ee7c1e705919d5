//! Did the provider read PDS before releasing the record? Only the sandbox sees both sides: the
//! SSP hop that carried the migrate, and the PDS reads that arrived while it was open.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::report::{Check, Status};

pub(crate) const ID: &str = "provider-read-pds";
pub(crate) const RULE: &str = "Before releasing the record, the provider reads the patient's registered practice on PDS (and compares it with the JWT's requesting_organization).";
pub(crate) const SOURCE: &str = "https://github.com/nhsconnect/gpconnect/blob/develop/pages/integration/integration_personal_demographics_service.md";

/// The check, from the journal `entries`, for the migrate sent with `trace_id` for `nhs`. The
/// check's own PDS requests (made as `consumer`) do not count.
pub(crate) fn check(entries: &[Value], trace_id: &str, nhs: &str, consumer: &str) -> Check {
    let verdict = |status, detail: String, hops| Check {
        id: ID,
        rule: RULE,
        source: SOURCE,
        status,
        detail,
        hops,
    };
    let of_trace = |service: &str| {
        entries
            .iter()
            .find(|e| e["trace_id"] == trace_id && e["service"] == service)
    };
    let Some(hop) = of_trace("ssp") else {
        return verdict(
            Status::NotReached,
            "the released migrate is not in the journal".into(),
            Vec::new(),
        );
    };
    if of_trace("provider").is_some() {
        return verdict(
            Status::NotReached,
            "the built-in provider reads this sandbox's PDS in memory, with no hop to see; run it as an external provider (provider_pds_url) to grade this".into(),
            Vec::new(),
        );
    }
    let (Some(start), Some(took)) = (time(hop), hop["duration_ms"].as_f64()) else {
        return verdict(
            Status::NotReached,
            "the SSP hop has no time".into(),
            Vec::new(),
        );
    };
    // A millisecond after: the journal's times are to the millisecond.
    let from = start;
    let until = start + Duration::milliseconds(took.ceil() as i64 + 1);
    let reads: Vec<String> = entries
        .iter()
        .filter(|e| e["service"] == "pds" && e["method"] == "GET")
        .filter(|e| {
            e["path"].as_str().is_some_and(|p| {
                p.split('?')
                    .next()
                    .is_some_and(|p| p.ends_with(&format!("/Patient/{nhs}")))
            })
        })
        .filter(|e| time(e).is_some_and(|t| t >= from && t <= until))
        .filter(|e| reader(e) != consumer)
        .map(|e| {
            format!(
                "pds GET {} -> {} at {} (read by {})",
                e["path"].as_str().unwrap_or("?"),
                e["status"],
                e["time"].as_str().unwrap_or("?"),
                reader(e)
            )
        })
        .collect();
    if reads.is_empty() {
        verdict(
            Status::Fail,
            format!(
                "the record of {nhs} was released with no PDS read of the patient while the request was open"
            ),
            Vec::new(),
        )
    } else {
        verdict(
            Status::Pass,
            format!(
                "PDS read {} time(s) while the migrate was open",
                reads.len()
            ),
            reads,
        )
    }
}

fn time(entry: &Value) -> Option<DateTime<Utc>> {
    entry["time"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Who the PDS request says it is: `NHSD-End-User-Organisation-ODS`, else unknown.
fn reader(entry: &Value) -> String {
    entry["request_headers"]
        .as_array()
        .and_then(|headers| {
            headers.iter().find_map(|h| {
                let pair = h.as_array()?;
                (pair
                    .first()?
                    .as_str()?
                    .eq_ignore_ascii_case("nhsd-end-user-organisation-ods"))
                .then(|| pair.get(1)?.as_str().map(str::to_owned))
                .flatten()
            })
        })
        .unwrap_or_else(|| "an unnamed client".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ssp(time: &str) -> Value {
        json!({"service": "ssp", "trace_id": "t", "time": time, "duration_ms": 50.0})
    }

    #[test]
    fn a_pds_read_inside_the_hop_passes_and_one_outside_fails() {
        let read = |time: &str| {
            json!({"service": "pds", "method": "GET", "time": time,
            "path": "/personal-demographics/FHIR/R4/Patient/9690937286", "status": 200,
            "request_headers": [["nhsd-end-user-organisation-ods", "B82617"]]})
        };
        let inside = [
            ssp("2026-01-01T10:00:00.000Z"),
            read("2026-01-01T10:00:00.020Z"),
        ];
        let c = check(&inside, "t", "9690937286", "A20047");
        assert_eq!(c.status, Status::Pass);
        assert!(c.hops[0].contains("read by B82617"));
        let outside = [
            ssp("2026-01-01T10:00:00.000Z"),
            read("2026-01-01T10:00:01.000Z"),
        ];
        assert_eq!(
            check(&outside, "t", "9690937286", "A20047").status,
            Status::Fail
        );
        // The check's own read, as the consumer, does not count.
        assert_eq!(
            check(&inside, "t", "9690937286", "B82617").status,
            Status::Fail
        );
        let built_in = [
            ssp("2026-01-01T10:00:00.000Z"),
            json!({"service": "provider", "trace_id": "t"}),
        ];
        assert_eq!(
            check(&built_in, "t", "9690937286", "A20047").status,
            Status::NotReached
        );
    }
}
