//! The evidence pack (`spine-sandbox conformance --evidence DIR`): what a consumer team hands
//! to NHS assurance. Per journey, every hop's request and response as the journal holds them
//! (headers, bodies, the JWT decoded), the record received as an HTML page, and the report;
//! at the top, an index mapping each check to NHS's consumer test-script ids and requirements
//! where public sources give them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::checks::{self, CheckId};
use super::{Report, Status};

/// A check's NHS consumer test-script ids, the requirement ids they name, and where both are
/// published, as its rule declares them; `None` when no public test script covers the check.
pub(crate) fn scripts_for(check: CheckId) -> Option<(&'static str, &'static str, &'static str)> {
    let script = checks::rule(check)?.script?;
    Some((script.ids, script.requirement, script.url))
}

fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn headers_text(headers: &Value, prefix: &str) -> String {
    headers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            let name = pair.get(0)?.as_str()?;
            let value = pair.get(1)?.as_str()?;
            Some(format!("{prefix}{name}: {value}\n"))
        })
        .collect()
}

fn body_text(body: &Value) -> String {
    match body.as_str() {
        None => String::from("(no body)\n"),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(json) => {
                serde_json::to_string_pretty(&json).unwrap_or_else(|_| text.to_owned()) + "\n"
            }
            Err(_) => format!("{text}\n"),
        },
    }
}

/// One hop as a readable exchange: request line, headers and body; the JWT decoded; the
/// response status, headers and body.
pub(crate) fn hop_text(entry: &Value) -> String {
    let mut out = String::new();
    let s = |k: &str| entry[k].as_str().unwrap_or("").to_owned();
    let _ = writeln!(
        out,
        "Journal #{} at {} ({}, {} ms)",
        entry["sequence"],
        s("time"),
        s("service").to_uppercase(),
        entry["duration_ms"]
    );
    if let Some(t) = entry["target"].as_str() {
        let _ = writeln!(out, "Forwarded to: {t}");
    }
    if let Some(r) = entry["refusal"].as_str() {
        let _ = writeln!(out, "Refused: {r}");
    }
    if let Some(f) = entry["fault"].as_str() {
        let _ = writeln!(out, "Injected fault: {f}");
    }
    let _ = writeln!(out, "\n=== Request\n{} {}", s("method"), s("path"));
    out.push_str(&headers_text(&entry["request_headers"], ""));
    out.push('\n');
    out.push_str(&body_text(&entry["request_body"]));
    if !entry["jwt"].is_null() {
        let _ = writeln!(
            out,
            "\n=== JWT (decoded)\n{}",
            serde_json::to_string_pretty(&entry["jwt"]).unwrap_or_default()
        );
    }
    let _ = writeln!(out, "\n=== Response\n{}", entry["status"]);
    out.push_str(&headers_text(&entry["response_headers"], ""));
    out.push('\n');
    out.push_str(&body_text(&entry["response_body"]));
    out
}

/// A short label for a resource in the record page.
fn label(r: &Value) -> String {
    let code = &r["code"];
    let text = code["text"]
        .as_str()
        .or_else(|| code["coding"][0]["display"].as_str())
        .or_else(|| r["medicationReference"]["display"].as_str())
        .or_else(|| r["vaccineCode"]["coding"][0]["display"].as_str())
        .or_else(|| r["type"]["coding"][0]["display"].as_str())
        .or_else(|| r["type"]["text"].as_str())
        .or_else(|| r["title"].as_str())
        .or_else(|| r["description"].as_str())
        .or_else(|| r["name"].as_str())
        .map(str::to_owned);
    let name = || {
        let n = &r["name"][0];
        let given: Vec<&str> = n["given"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let family = n["family"].as_str()?;
        Some(format!("{} {family}", given.join(" ")).trim().to_owned())
    };
    text.or_else(name).unwrap_or_default()
}

fn date(r: &Value) -> String {
    [
        "effectiveDateTime",
        "onsetDateTime",
        "assertedDate",
        "authoredOn",
        "date",
        "issued",
        "indexed",
        "birthDate",
    ]
    .iter()
    .find_map(|k| r[*k].as_str())
    .or_else(|| r["effectivePeriod"]["start"].as_str())
    .or_else(|| r["period"]["start"].as_str())
    .unwrap_or("")
    .to_owned()
}

/// The record received, as a page: each resource type with its resources, label and date.
pub(crate) fn record_html(title: &str, bundle: &Value) -> String {
    let mut by_type: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in bundle["entry"].as_array().into_iter().flatten() {
        let r = &e["resource"];
        let t = r["resourceType"].as_str().unwrap_or("?").to_owned();
        by_type.entry(t).or_default().push(r);
    }
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}</style></head><body>\n\
         <h1>{0}</h1>\n<p>Bundle {1}, {2} resources.</p>\n",
        html(title),
        html(bundle["id"].as_str().unwrap_or("")),
        by_type.values().map(Vec::len).sum::<usize>()
    );
    for (t, resources) in &by_type {
        let _ = writeln!(
            out,
            "<h2>{} ({})</h2>\n<table><tr><th>id</th><th>what</th><th>date</th></tr>",
            html(t),
            resources.len()
        );
        for r in resources {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                html(r["id"].as_str().unwrap_or("")),
                html(&label(r)),
                html(&date(r))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Warning => "warning",
        Status::NotReached => "not reached",
    }
}

/// Writes the pack into `dir` (created when missing; refused when it already holds one).
/// `journal` is `GET /_admin/journal`; `records` the delivered Bundles by journal sequence.
pub(crate) fn write(
    dir: &Path,
    report: &Report,
    journal: &[Value],
    records: &BTreeMap<u64, Value>,
) -> Result<Vec<PathBuf>, String> {
    let index_path = dir.join("index.md");
    if index_path.exists() {
        return Err(format!(
            "{} already holds an evidence pack ({}); choose an empty folder",
            dir.display(),
            index_path.display()
        ));
    }
    let mkdir = |d: &Path| {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))
    };
    mkdir(dir)?;
    let mut written = Vec::new();
    let mut put = |path: PathBuf, text: &str| -> Result<(), String> {
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
        Ok(())
    };
    let by_sequence: BTreeMap<u64, &Value> = journal
        .iter()
        .filter_map(|e| Some((e["sequence"].as_u64()?, e)))
        .collect();
    let mut index = String::from("# Conformance evidence\n\n");
    let _ = writeln!(
        index,
        "Made by spine-sandbox from its journal (#{}..#{}). Each journey's folder holds every \
         hop's request and response (`hops/`, bodies as the journal keeps them: the first 16 KiB), \
         the record received (`record.html`, `record.json`) and its report (`report.txt`).\n",
        report.journal.first_sequence.unwrap_or(0),
        report.journal.last_sequence.unwrap_or(0)
    );
    let mut n = 0;
    for consumer in &report.consumers {
        for journey in &consumer.journeys {
            n += 1;
            let name = format!("{n:02}-{}-{}", consumer.ods, journey.patient);
            let folder = dir.join(&name);
            let hops = folder.join("hops");
            mkdir(&hops)?;
            let _ = writeln!(
                index,
                "## {name}: {} migrating patient {} {}: {}\n",
                consumer.ods,
                journey.patient,
                journey.previous_practice.as_deref().map_or_else(
                    || "(previous practice not known)".to_owned(),
                    |p| format!("from {p}")
                ),
                journey.verdict.as_str().to_uppercase()
            );
            let _ = writeln!(
                index,
                "| check | result | NHS test script | requirement | source |\n| --- | --- | --- | --- | --- |"
            );
            for c in &journey.checks {
                let (script, requirement, source) =
                    scripts_for(c.id).unwrap_or(("", "", c.url.as_str()));
                let _ = writeln!(
                    index,
                    "| `{}` {} | {} | {} | {} | {} |",
                    c.id,
                    c.title.replace('|', "/"),
                    mark(c.status),
                    script,
                    requirement,
                    source
                );
            }
            index.push('\n');
            let mut hop_list = String::new();
            for seq in &journey.hops {
                let Some(entry) = by_sequence.get(seq) else {
                    let _ = writeln!(
                        hop_list,
                        "- #{seq}: no longer in the journal (dropped to keep it bounded)"
                    );
                    continue;
                };
                let file = format!(
                    "{seq:06}-{}-{}.txt",
                    entry["service"].as_str().unwrap_or("hop"),
                    entry["method"].as_str().unwrap_or("")
                );
                put(hops.join(&file), &hop_text(entry))?;
                let _ = writeln!(
                    hop_list,
                    "- [#{seq} {} {} {} → {}](./{name}/hops/{file})",
                    entry["service"].as_str().unwrap_or("").to_uppercase(),
                    entry["method"].as_str().unwrap_or(""),
                    entry["target"]
                        .as_str()
                        .or_else(|| entry["path"].as_str())
                        .unwrap_or(""),
                    entry["status"]
                );
            }
            index.push_str("Hops:\n\n");
            index.push_str(&hop_list);
            index.push('\n');
            let one = Report {
                journal: report.journal.clone(),
                consumers: vec![super::Consumer {
                    ods: consumer.ods.clone(),
                    asids: consumer.asids.clone(),
                    verdict: journey.verdict,
                    journeys: vec![journey.clone()],
                }],
            };
            put(folder.join("report.txt"), &super::render::text(&one))?;
            match journey.record_sequence.and_then(|s| records.get(&s)) {
                Some(bundle) => {
                    let title = format!(
                        "Record of patient {} received by {}",
                        journey.patient, consumer.ods
                    );
                    put(folder.join("record.html"), &record_html(&title, bundle))?;
                    put(
                        folder.join("record.json"),
                        &serde_json::to_string_pretty(bundle).unwrap_or_default(),
                    )?;
                }
                None if journey.record_sequence.is_some() => {
                    let _ = writeln!(
                        index,
                        "The record delivered at #{} is no longer kept by the sandbox (it keeps the last {}).\n",
                        journey.record_sequence.unwrap_or(0),
                        super::deliveries::MAX_BUNDLES
                    );
                }
                None => {}
            }
        }
    }
    if n == 0 {
        index.push_str("No journey was found for this consumer.\n");
    }
    put(index_path, &index)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_hop_reads_as_an_exchange_with_its_jwt_decoded() {
        let entry = json!({
            "sequence": 7, "time": "2025-06-01T09:00:00.000Z", "service": "ssp", "method": "POST",
            "path": "/x", "status": 200, "duration_ms": 1.5,
            "target": "http://p/B82617/STU3/1/gpconnect/structured/fhir/Patient/$gpc.migratestructuredrecord",
            "request_headers": [["ssp-from", "200000001012"]],
            "request_body": "{\"resourceType\":\"Parameters\"}",
            "jwt": { "claims": { "reason_for_request": "migration" } },
            "response_headers": [["content-type", "application/fhir+json"]],
            "response_body": null
        });
        let t = hop_text(&entry);
        assert!(t.contains("Journal #7"), "{t}");
        assert!(t.contains("ssp-from: 200000001012"));
        assert!(t.contains("\"resourceType\": \"Parameters\""));
        assert!(t.contains("=== JWT (decoded)"));
        assert!(t.contains("\"reason_for_request\": \"migration\""));
        assert!(t.contains("(no body)"));
    }

    #[test]
    fn the_record_page_escapes_and_groups() {
        let bundle = json!({ "id": "t", "entry": [
            { "resource": { "resourceType": "Condition", "id": "c1",
                "code": { "coding": [{ "display": "Asthma <severe>" }] }, "onsetDateTime": "2020" } },
            { "resource": { "resourceType": "Patient", "id": "p",
                "name": [{ "given": ["Ada"], "family": "Lovelace" }], "birthDate": "1985-03-12" } }
        ]});
        let h = record_html("R", &bundle);
        assert!(h.contains("Asthma &lt;severe&gt;"), "{h}");
        assert!(h.contains("<h2>Condition (1)</h2>"));
        assert!(h.contains("Ada Lovelace"));
    }

    #[test]
    fn trace_freshness_maps_to_its_test_script() {
        assert_eq!(
            scripts_for(CheckId::PdsTraceFresh).map(|s| (s.0, s.1)),
            Some(("GPC-MIG-TST-GEN-06", "GPC-CORE01-01"))
        );
        assert!(scripts_for(CheckId::SspHeaders).is_none());
    }
}
