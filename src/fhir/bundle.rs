//! The R4 `searchset` Bundle (PDS, SDS) and the JSON response helper. The migrate `collection`
//! Bundle is streamed by `provider::record`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use super::FHIR_JSON;

/// One search match: the resource, its `fullUrl`, and an optional PDS-style score.
pub struct SearchEntry {
    pub full_url: String,
    pub resource: Value,
    pub score: Option<f64>,
}

/// An R4 `searchset` Bundle with a `self` link, a random id and a timestamp.
pub fn searchset(self_url: &str, entries: Vec<SearchEntry>) -> Value {
    let total = entries.len();
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let mut search = json!({ "mode": "match" });
            if let Some(score) = e.score {
                search["score"] = json!(score);
            }
            json!({ "fullUrl": e.full_url, "resource": e.resource, "search": search })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": { "lastUpdated": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true) },
        "type": "searchset",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "total": total,
        "link": [{ "relation": "self", "url": self_url }],
    });
    if !entry.is_empty() {
        bundle["entry"] = Value::Array(entry);
    }
    bundle
}

/// A JSON FHIR response with `Cache-Control: no-store`.
pub fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
