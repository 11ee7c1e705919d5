//! Entry points for the fuzz targets in `fuzz/` and for the test that replays their corpus: each
//! takes arbitrary bytes and drives one parser of untrusted input the way a request or a scenario
//! file would. None may panic, hang or allocate without bound; errors are the expected outcome.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::jwt;
use crate::pds::patch::{self, UpdateRules};
use crate::scenario::{self, World};
use crate::sds::SdsDirectory;
use crate::ssp::checks;

/// The day scenarios are resolved against and tokens are checked at: fixed, so a corpus file
/// behaves the same every day.
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 15).unwrap_or_default()
}

fn now() -> DateTime<Utc> {
    day().and_hms_opt(12, 0, 0).unwrap_or_default().and_utc()
}

/// A small world for the checks that need one: a provider and a consumer practice, one patient.
const WORLD: &str = r#"
practices:
  - { ods: B82617, name: Old Street Surgery, asid: "918999198738", party_key: B82617-806568 }
  - { ods: A20047, name: New Road Medical Practice, asid: "200000001012" }
  - { ods: C81616, name: Millbrook, asid: "200000001129", provider: false, interactions: [] }
patients:
  - nhs_number: "9434761018"
    name: { prefix: Miss, given: [Priya], family: Sharma }
    gender: female
    birth_date: 1990-05-14
    address: { lines: ["19 Station Parade"], city: Harrogate, postcode: HG1 1TT }
    registered_with: B82617
"#;

fn world() -> Option<&'static World> {
    static WORLD_CELL: OnceLock<Option<World>> = OnceLock::new();
    WORLD_CELL
        .get_or_init(|| scenario::load::load_str("fuzz.yaml", WORLD, day()).ok())
        .as_ref()
}

fn sds() -> Option<&'static SdsDirectory> {
    static SDS: OnceLock<Option<SdsDirectory>> = OnceLock::new();
    SDS.get_or_init(|| world().map(|w| SdsDirectory::new(w, "http://localhost:8080")))
        .as_ref()
}

/// Scenario loader: bytes as one scenario file, parsed and validated. Document `file:` paths are
/// looked up under a folder that does not exist, so no input reads the disk.
pub fn scenario_loader(data: &[u8]) {
    let _ = scenario::load::load_bytes("/nonexistent-fuzz/fuzz.yaml", data, day());
    // A folder's JSON files are read by the JSON parser first.
    let _ = scenario::load::parse_json(data);
}

/// JWT decoder: the bytes as an `Authorization` header value and as a bare token, decoded and
/// validated against each interaction's rules.
pub fn jwt_decoder(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let token = jwt::bearer_token(&text).unwrap_or(&text);
    let _ = jwt::decode(token);
    for rules in [
        jwt::Rules::MIGRATE,
        jwt::Rules::MIGRATE_DOCUMENT,
        jwt::Rules::METADATA,
    ] {
        let _ = jwt::validate(token, now(), &rules);
    }
    let _ = jwt::parse_scope(&text);
}

/// The migrate `Parameters` reader: body bytes to the parameters it asks for.
pub fn migrate_parameters(data: &[u8]) {
    if let Ok(resource) = crate::provider::migrate::parse_parameters_resource(data) {
        let _ = crate::provider::migrate::read_parameters(&resource);
    }
}

/// PDS patch engine: a PATCH body read, parsed and applied to a registered patient.
pub fn pds_patch(data: &[u8]) {
    let Some(world) = world() else { return };
    let Some(patient) = world.patients.first() else {
        return;
    };
    let current = crate::pds::patient::from_scenario(patient);
    let Ok(patches) = patch::read_patches(data) else {
        return;
    };
    let Ok(ops) = patch::parse_ops(&patches) else {
        return;
    };
    let rules = UpdateRules {
        world,
        today: day(),
    };
    let _ = patch::apply(&current, &ops, &rules);
}

/// SSP header checks. The first line is `METHOD target`; each further line is a header
/// `name: value` (lines that are not valid headers are skipped, as hyper would refuse them).
pub fn ssp_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or((first, ""));
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    let _ = checks::trace_id(&headers);
    let from = checks::asid_header(&headers, crate::ssp::headers::FROM);
    let to = checks::asid_header(&headers, crate::ssp::headers::TO);
    let _ = checks::media_type(&method, &headers);
    let Ok(interaction) = checks::interaction_id(&headers) else {
        return;
    };
    let Some(sds) = sds() else { return };
    if let Ok(from) = from {
        let _ = checks::sender_may_send(sds, &from, &interaction);
    }
    if let Ok(to) = to
        && let Ok(endpoint) = checks::receiver_registered(sds, &to, &interaction)
        && let Ok(rest) = checks::target_is_endpoint(target, endpoint)
    {
        let _ = checks::interaction_matches(&interaction, &method, &rest);
    }
    let _ = checks::interaction_matches(&interaction, &method, target);
}

/// Every target by the name of its `fuzz/corpus/<name>` folder.
/// A target: bytes in, nothing out (a panic is the failure).
pub type Target = fn(&[u8]);

pub const TARGETS: [(&str, Target); 5] = [
    ("scenario_loader", scenario_loader),
    ("jwt_decoder", jwt_decoder),
    ("migrate_parameters", migrate_parameters),
    ("pds_patch", pds_patch),
    ("ssp_headers", ssp_headers),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn the_fixed_world_loads() {
        assert!(world().is_some());
        assert!(sds().is_some_and(|s| !s.endpoints().is_empty()));
    }
}
