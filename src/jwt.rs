//! The GP Connect audit JWT (`docs/jwt.md`): unsigned (`alg: none`), three base64url parts
//! with an empty signature. This file holds the decoding shared by the provider and the journal,
//! the claim rules the provider applies ([`validate`], `docs/jwt.md`), and the minting the
//! journey uses ([`MigrateTokenRequest`], [`DirectCareTokenRequest`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::fhir::{FhirError, systems};

/// A token split into its decoded header and claims, and its (raw) signature part.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    pub header: Value,
    pub claims: Value,
    pub signature: String,
}

/// Splits and decodes a token without judging it; the message names the part that is wrong.
pub fn decode(token: &str) -> Result<DecodedToken, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "JWT must have three dot-separated parts (header.claims.signature); found {}",
            parts.len()
        ));
    }
    let header = decode_part(parts[0], "header")?;
    let claims = decode_part(parts[1], "claims")?;
    Ok(DecodedToken {
        header,
        claims,
        signature: parts[2].to_owned(),
    })
}

/// How many recently decoded tokens are kept, and the longest token kept.
const RECENT_SLOTS: usize = 64;
const RECENT_MAX_TOKEN: usize = 4096;

/// Recently decoded tokens, one per slot chosen by the token's hash. A consumer may send one
/// token with every request of its five minutes (a load test always does), and decoding is most
/// of the cost of judging a token; it depends on nothing but the token's text, so it is kept.
/// Only the decoding: every check against the clock and the rules runs on every request.
#[allow(clippy::type_complexity)]
static RECENT: [std::sync::Mutex<Option<(Box<str>, std::sync::Arc<DecodedToken>)>>; RECENT_SLOTS] =
    [const { std::sync::Mutex::new(None) }; RECENT_SLOTS];

/// [`decode`], kept for the next request with the same token.
pub(crate) fn decode_recent(token: &str) -> Result<std::sync::Arc<DecodedToken>, String> {
    if token.len() > RECENT_MAX_TOKEN {
        return decode(token).map(std::sync::Arc::new);
    }
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::hash::DefaultHasher::new();
    token.hash(&mut hasher);
    let slot = &RECENT[(hasher.finish() % RECENT_SLOTS as u64) as usize];
    if let Ok(kept) = slot.lock()
        && let Some((text, decoded)) = kept.as_ref()
        && **text == *token
    {
        return Ok(decoded.clone());
    }
    let decoded = std::sync::Arc::new(decode(token)?);
    if let Ok(mut kept) = slot.lock() {
        *kept = Some((token.into(), decoded.clone()));
    }
    Ok(decoded)
}

fn decode_part(part: &str, name: &str) -> Result<Value, String> {
    // Tolerate padding, which some consumers add.
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("JWT {name} is not base64url: {e}"))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("JWT {name} is not JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("JWT {name} must be a JSON object"));
    }
    Ok(value)
}

/// The token from an `Authorization: Bearer <token>` header value.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Encodes an unsigned token (header `{"alg":"none","typ":"JWT"}`, empty signature, trailing `.`).
pub fn encode_unsigned(claims: &Value) -> String {
    let header = serde_json::json!({ "alg": "none", "typ": "JWT" });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `exp` must be exactly `iat` + this many seconds (`docs/jwt.md`: 299 and 301 both fail).
pub(crate) const LIFETIME_SECS: i64 = 300;
/// How far in the future `iat` may be. The suite sends `iat` 200 s ahead and expects success
/// (`docs/jwt.md`); nothing bounds it, so the sandbox allows one token lifetime of skew.
pub(crate) const IAT_FUTURE_TOLERANCE_SECS: i64 = 300;

/// `reason_for_request` values (`docs/jwt.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    DirectCare,
    Migration,
}

impl Reason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::DirectCare => "directcare",
            Reason::Migration => "migration",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "directcare" => Some(Reason::DirectCare),
            "migration" => Some(Reason::Migration),
            _ => None,
        }
    }
}

/// The `conf/...` token of `requested_scope` (`docs/jwt.md`); absent means `conf/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confidentiality {
    /// `conf/N`, or no conf token.
    Normal,
    /// `conf/R`: confidential and sensitive data may be returned.
    Restricted,
}

impl Confidentiality {
    pub(crate) fn token(self) -> &'static str {
        match self {
            Confidentiality::Normal => "conf/N",
            Confidentiality::Restricted => "conf/R",
        }
    }
}

/// The base access tokens of `docs/jwt.md`.
pub(crate) const BASE_SCOPES: [&str; 4] = [
    "patient/*.read",
    "patient/*.write",
    "organization/*.read",
    "organization/*.write",
];

/// A `requested_scope` claim, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub base: String,
    pub confidentiality: Confidentiality,
    /// Whether a `conf/...` token was present (absent is read as `conf/N`).
    pub explicit_confidentiality: bool,
}

/// What an interaction demands of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Accepted `reason_for_request` values, the first being the one to name in diagnostics.
    pub reasons: &'static [Reason],
    /// The base scope token the interaction needs.
    pub base_scope: &'static str,
    /// Named in diagnostics ("... for migrate structured record").
    pub interaction: &'static str,
}

impl Rules {
    /// `$gpc.migratestructuredrecord`: `migration`, `patient/*.read`, practitioner optional.
    pub(crate) const MIGRATE: Rules = Rules {
        reasons: &[Reason::Migration],
        base_scope: "patient/*.read",
        interaction: "migrate structured record",
    };
    /// `$gpc.getstructuredrecord`: direct care, `patient/*.read`, a requesting practitioner.
    pub(crate) const GET_STRUCTURED: Rules = Rules {
        reasons: &[Reason::DirectCare],
        base_scope: "patient/*.read",
        interaction: "get structured record",
    };
    /// Migrate a document: the suite sends `directcare` + `patient/*.read`, GP2GP `migration` +
    /// `patient/*.read conf/R` (`docs/documents.md`); both are accepted.
    pub(crate) const MIGRATE_DOCUMENT: Rules = Rules {
        reasons: &[Reason::Migration, Reason::DirectCare],
        base_scope: "patient/*.read",
        interaction: "migrate a document",
    };
    /// `GET metadata`: `organization/*.read` (`docs/jwt.md`).
    pub(crate) const METADATA: Rules = Rules {
        reasons: &[Reason::DirectCare, Reason::Migration],
        base_scope: "organization/*.read",
        interaction: "read metadata",
    };
}

/// The claims of a token that passed [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub reason: Reason,
    pub scope: Scope,
    /// `requesting_organization.identifier` with the ODS system: the requesting practice.
    pub requesting_ods: String,
    pub requesting_organization_name: Option<String>,
    /// `requesting_practitioner.id`, when the claim was sent.
    pub practitioner_id: Option<String>,
    /// The whole token as decoded (its claims object), for audit.
    pub decoded: std::sync::Arc<DecodedToken>,
}

fn bad(diagnostics: impl Into<String>) -> FhirError {
    FhirError::bad_request(diagnostics)
}

/// Decodes and checks a token against every rule of `docs/jwt.md` for one interaction. Claim problems
/// are 400 `BAD_REQUEST`; a claim holding the wrong or an invalid FHIR resource is 422
/// `INVALID_RESOURCE` (`docs/jwt.md`). Every diagnostic names the claim.
pub(crate) fn validate(
    token: &str,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Result<Claims, FhirError> {
    let decoded = decode_recent(token).map_err(|e| {
        bad(format!(
            "Authorization: the bearer token is not a JWT: {e}. GP Connect sends an unsigned JWT: base64url(header).base64url(claims). (note the trailing dot)"
        ))
    })?;
    check_header(&decoded)?;
    let c = decoded
        .claims
        .as_object()
        .ok_or_else(|| bad("JWT claims must be a JSON object"))?;
    let iss = required_string(c, "iss")?;
    let sub = required_string(c, "sub")?;
    let aud = required_string(c, "aud")?;
    let (iat, exp) = check_times(c, now)?;
    let reason = check_reason(c, rules)?;
    let scope = check_scope(c, rules)?;
    check_device(c)?;
    let (requesting_ods, requesting_organization_name) = check_organization(c)?;
    let practitioner_id = check_practitioner(c, &sub, reason)?;
    Ok(Claims {
        iss,
        sub,
        aud,
        iat,
        exp,
        reason,
        scope,
        requesting_ods,
        requesting_organization_name,
        practitioner_id,
        decoded,
    })
}

fn check_header(decoded: &DecodedToken) -> Result<(), FhirError> {
    match decoded.header.get("alg").and_then(Value::as_str) {
        Some("none") => {}
        Some(other) => {
            return Err(bad(format!(
                "JWT header alg is '{other}'; GP Connect tokens are unsigned: alg must be 'none'"
            )));
        }
        None => return Err(bad("JWT header has no alg; it must be 'none'")),
    }
    if let Some(typ) = decoded.header.get("typ")
        && typ.as_str() != Some("JWT")
    {
        return Err(bad(format!("JWT header typ is {typ}; it must be 'JWT'")));
    }
    if !decoded.signature.is_empty() {
        return Err(bad(
            "JWT signature part must be empty (alg 'none'): the token ends with a '.' and nothing after it",
        ));
    }
    Ok(())
}

fn claim<'a>(c: &'a Map<String, Value>, name: &str) -> Result<&'a Value, FhirError> {
    match c.get(name) {
        None | Some(Value::Null) => Err(bad(format!("JWT claim '{name}' is missing"))),
        Some(v) => Ok(v),
    }
}

fn required_string(c: &Map<String, Value>, name: &str) -> Result<String, FhirError> {
    match claim(c, name)? {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::String(_) => Err(bad(format!("JWT claim '{name}' is empty"))),
        other => Err(bad(format!(
            "JWT claim '{name}' must be a string, not {}",
            json_kind(other)
        ))),
    }
}

fn required_seconds(c: &Map<String, Value>, name: &str) -> Result<i64, FhirError> {
    let v = claim(c, name)?;
    v.as_i64().ok_or_else(|| {
        bad(format!(
            "JWT claim '{name}' must be an integer number of seconds since 1970 (UTC), not {v}"
        ))
    })
}

fn check_times(c: &Map<String, Value>, now: DateTime<Utc>) -> Result<(i64, i64), FhirError> {
    let exp = required_seconds(c, "exp")?;
    let iat = required_seconds(c, "iat")?;
    if exp - iat != LIFETIME_SECS {
        return Err(bad(format!(
            "JWT claim 'exp' ({exp}) must be exactly 'iat' ({iat}) + {LIFETIME_SECS} seconds; it is iat {:+}",
            exp - iat
        )));
    }
    let now = now.timestamp();
    if now >= exp {
        return Err(bad(format!(
            "JWT has expired: 'exp' {exp} is {} s before the provider's time {now}; mint a fresh token per request",
            now - exp
        )));
    }
    if iat - now > IAT_FUTURE_TOLERANCE_SECS {
        return Err(bad(format!(
            "JWT claim 'iat' {iat} is {} s in the future (the provider's time is {now}); check the consumer's clock",
            iat - now
        )));
    }
    Ok((iat, exp))
}

fn check_reason(c: &Map<String, Value>, rules: &Rules) -> Result<Reason, FhirError> {
    let value = required_string(c, "reason_for_request")?;
    let expected = rules
        .reasons
        .iter()
        .map(|r| format!("'{}'", r.as_str()))
        .collect::<Vec<_>>()
        .join(" or ");
    match Reason::parse(&value) {
        Some(r) if rules.reasons.contains(&r) => Ok(r),
        _ => Err(bad(format!(
            "JWT claim 'reason_for_request' is '{value}'; {} needs {expected}",
            rules.interaction
        ))),
    }
}

/// Parses `requested_scope` on its own (also used by tests and the journey).
pub(crate) fn parse_scope(value: &str) -> Result<Scope, String> {
    let mut base: Option<&str> = None;
    let mut conf: Option<Confidentiality> = None;
    for token in value.split_whitespace() {
        if BASE_SCOPES.contains(&token) {
            if let Some(previous) = base {
                return Err(format!(
                    "has two access tokens ('{previous}' and '{token}'); send exactly one"
                ));
            }
            base = Some(token);
        } else if token == "conf/N" || token == "conf/R" {
            if conf.is_some() {
                return Err("has more than one conf/ token".to_owned());
            }
            conf = Some(if token == "conf/R" {
                Confidentiality::Restricted
            } else {
                Confidentiality::Normal
            });
        } else {
            return Err(format!(
                "has an unknown token '{token}' (expected one of {} and optionally conf/N or conf/R)",
                BASE_SCOPES.join(", ")
            ));
        }
    }
    let base = base.ok_or_else(|| {
        format!(
            "has no access token (expected one of {})",
            BASE_SCOPES.join(", ")
        )
    })?;
    Ok(Scope {
        base: base.to_owned(),
        confidentiality: conf.unwrap_or(Confidentiality::Normal),
        explicit_confidentiality: conf.is_some(),
    })
}

fn check_scope(c: &Map<String, Value>, rules: &Rules) -> Result<Scope, FhirError> {
    let value = required_string(c, "requested_scope")?;
    let scope = parse_scope(&value)
        .map_err(|e| bad(format!("JWT claim 'requested_scope' '{value}' {e}")))?;
    if scope.base != rules.base_scope {
        return Err(bad(format!(
            "JWT claim 'requested_scope' is '{value}'; {} needs '{}'",
            rules.interaction, rules.base_scope
        )));
    }
    Ok(scope)
}

/// The STU3 elements of the resources carried in claims: anything else is a resource that fails
/// to validate (422, `docs/jwt.md`).
const DOMAIN_RESOURCE: [&str; 9] = [
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
];
const DEVICE_ELEMENTS: [&str; 16] = [
    "identifier",
    "udi",
    "status",
    "type",
    "lot",
    "manufacturer",
    "manufactureDate",
    "expirationDate",
    "model",
    "version",
    "patient",
    "owner",
    "contact",
    "location",
    "url",
    "note",
];
const ORGANIZATION_ELEMENTS: [&str; 9] = [
    "identifier",
    "active",
    "type",
    "name",
    "alias",
    "telecom",
    "address",
    "partOf",
    "endpoint",
];
const PRACTITIONER_ELEMENTS: [&str; 10] = [
    "identifier",
    "active",
    "name",
    "telecom",
    "address",
    "gender",
    "birthDate",
    "photo",
    "qualification",
    "communication",
];

/// Checks the claim holds an object of `resource_type` with only known elements and returns it.
fn claim_resource<'a>(
    c: &'a Map<String, Value>,
    name: &str,
    resource_type: &str,
    elements: &[&str],
) -> Result<&'a Map<String, Value>, FhirError> {
    let obj = match claim(c, name)? {
        Value::Object(o) => o,
        other => {
            return Err(bad(format!(
                "JWT claim '{name}' must be a FHIR {resource_type} resource (a JSON object), not {}",
                json_kind(other)
            )));
        }
    };
    match obj.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == resource_type => {}
        Some(t) => {
            return Err(FhirError::invalid_resource(format!(
                "JWT claim '{name}' holds a {t}; it must be a {resource_type}"
            )));
        }
        None => {
            return Err(FhirError::invalid_resource(format!(
                "JWT claim '{name}' has no resourceType; it must be a {resource_type}"
            )));
        }
    }
    for key in obj.keys() {
        let known = DOMAIN_RESOURCE.contains(&key.as_str())
            || elements.contains(&key.as_str())
            || (resource_type == "Device" && key == "safety")
            || (resource_type == "Organization" && key == "contact");
        if !known {
            return Err(FhirError::invalid_resource(format!(
                "JWT claim '{name}': '{key}' is not an element of an STU3 {resource_type}"
            )));
        }
    }
    if let Some(identifiers) = obj.get("identifier") {
        let ok = identifiers
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_object));
        if !ok {
            return Err(FhirError::invalid_resource(format!(
                "JWT claim '{name}': 'identifier' must be an array of Identifier objects"
            )));
        }
    }
    Ok(obj)
}

fn identifiers(obj: &Map<String, Value>) -> impl Iterator<Item = (&str, &str)> {
    obj.get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i.get("system").and_then(Value::as_str).unwrap_or_default(),
                i.get("value").and_then(Value::as_str).unwrap_or_default(),
            )
        })
}

fn check_device(c: &Map<String, Value>) -> Result<(), FhirError> {
    let device = claim_resource(c, "requesting_device", "Device", &DEVICE_ELEMENTS)?;
    // The system is consumer-defined and the suite's is not even a URL (`docs/migrate.md`).
    if !identifiers(device).any(|(s, v)| !s.is_empty() && !v.is_empty()) {
        return Err(FhirError::invalid_resource(
            "JWT claim 'requesting_device' needs an identifier with a system and a value",
        ));
    }
    for element in ["model", "version"] {
        match device.get(element) {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => {
                return Err(FhirError::invalid_resource(format!(
                    "JWT claim 'requesting_device' needs a '{element}' string"
                )));
            }
        }
    }
    Ok(())
}

fn check_organization(c: &Map<String, Value>) -> Result<(String, Option<String>), FhirError> {
    let org = claim_resource(
        c,
        "requesting_organization",
        "Organization",
        &ORGANIZATION_ELEMENTS,
    )?;
    let ods = identifiers(org)
        .find(|(s, _)| *s == systems::ODS_ORGANIZATION_CODE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            bad(format!(
                "JWT claim 'requesting_organization' has no identifier with system '{}' and the requesting practice's ODS code as value",
                systems::ODS_ORGANIZATION_CODE
            ))
        })?;
    let name = org.get("name").and_then(Value::as_str).map(str::to_owned);
    Ok((ods, name))
}

fn check_practitioner(
    c: &Map<String, Value>,
    sub: &str,
    reason: Reason,
) -> Result<Option<String>, FhirError> {
    if matches!(c.get("requesting_practitioner"), None | Some(Value::Null)) {
        // SHOULD rather than SHALL for migrate (`docs/jwt.md`, suite scenarios 14 and 15).
        return if reason == Reason::Migration {
            Ok(None)
        } else {
            Err(bad(
                "JWT claim 'requesting_practitioner' is missing; only migration requests may leave it out",
            ))
        };
    }
    let p = claim_resource(
        c,
        "requesting_practitioner",
        "Practitioner",
        &PRACTITIONER_ELEMENTS,
    )?;
    let id = p
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad("JWT claim 'requesting_practitioner' has no id (it must equal 'sub')")
        })?;
    if id != sub {
        return Err(bad(format!(
            "JWT claim 'sub' ('{sub}') must equal requesting_practitioner.id ('{id}')"
        )));
    }
    if !identifiers(p).any(|(s, v)| s == systems::SDS_USER_ID && !v.is_empty()) {
        return Err(bad(format!(
            "JWT claim 'requesting_practitioner' needs an identifier with system '{}' (value the SDS user id, or UNK)",
            systems::SDS_USER_ID
        )));
    }
    Ok(Some(id.to_owned()))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The user behind a token, as `requesting_practitioner` describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerClaim {
    /// The consumer's local user id (also `sub`).
    pub id: String,
    /// SDS user id, or `UNK`.
    pub sds_user_id: String,
    /// SDS role profile id, or `UNK`.
    pub sds_role_profile_id: String,
    pub family: String,
    pub given: Vec<String>,
    pub prefix: Option<String>,
}

impl PractitionerClaim {
    /// The user the NHS provider assurance suite sends (`docs/migrate.md`); tests and
    /// benchmarks play the suite with it.
    pub fn assurance_suite() -> Self {
        Self {
            id: "1".into(),
            sds_user_id: "GCASDS0001".into(),
            sds_role_profile_id: "112233445566".into(),
            family: "AssurancePractitioner".into(),
            given: vec!["AssuranceTest".into()],
            prefix: Some("Mr".into()),
        }
    }

    fn to_claim(&self) -> Value {
        let mut name = json!({ "family": self.family, "given": self.given });
        if let Some(prefix) = &self.prefix {
            name["prefix"] = json!([prefix]);
        }
        json!({
            "resourceType": "Practitioner",
            "id": self.id,
            "identifier": [
                { "system": systems::SDS_USER_ID, "value": self.sds_user_id },
                { "system": systems::SDS_ROLE_PROFILE_ID, "value": self.sds_role_profile_id },
            ],
            "name": [name],
        })
    }
}

/// The fields both token kinds share.
// Eight plain inputs read better here than a one-use parameter struct.
#[allow(clippy::too_many_arguments)]
fn base_claims(
    requesting_ods: &str,
    requesting_name: &str,
    requesting_asid: &str,
    audience: &str,
    practitioner: Option<&PractitionerClaim>,
    reason: Reason,
    scope: &str,
    now: DateTime<Utc>,
) -> Value {
    let iat = now.timestamp();
    let mut claims = json!({
        "iss": format!("https://spine-sandbox.invalid/consumer/{requesting_ods}/"),
        "sub": practitioner.map_or("system", |p| p.id.as_str()),
        "aud": audience,
        "exp": iat + LIFETIME_SECS,
        "iat": iat,
        "reason_for_request": reason.as_str(),
        "requested_scope": scope,
        "requesting_device": {
            "resourceType": "Device",
            "identifier": [{ "system": systems::SPINE_ASID, "value": requesting_asid }],
            "model": "spine-sandbox journey",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "requesting_organization": {
            "resourceType": "Organization",
            "identifier": [{ "system": systems::ODS_ORGANIZATION_CODE, "value": requesting_ods }],
            "name": requesting_name,
        },
    });
    if let Some(p) = practitioner {
        claims["requesting_practitioner"] = p.to_claim();
    }
    claims
}

/// A migrate structured record token: `migration`, `patient/*.read conf/R` when sensitive data is
/// wanted and `conf/N` otherwise (`docs/migrate.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateTokenRequest {
    /// ODS code of the new practice (checked against PDS by the provider).
    pub requesting_ods: String,
    pub requesting_name: String,
    /// The consumer's ASID, used as the device identifier.
    pub requesting_asid: String,
    /// The provider's service root (`aud`); never checked for equality.
    pub audience: String,
    pub practitioner: Option<PractitionerClaim>,
    /// `includeSensitiveInformation`: chooses `conf/R` over `conf/N`.
    pub sensitive: bool,
    pub now: DateTime<Utc>,
}

impl MigrateTokenRequest {
    pub fn claims(&self) -> Value {
        let conf = if self.sensitive {
            Confidentiality::Restricted
        } else {
            Confidentiality::Normal
        };
        base_claims(
            &self.requesting_ods,
            &self.requesting_name,
            &self.requesting_asid,
            &self.audience,
            self.practitioner.as_ref(),
            Reason::Migration,
            &format!("patient/*.read {}", conf.token()),
            self.now,
        )
    }

    /// The token, ready for `Authorization: Bearer <token>`.
    pub fn mint(&self) -> String {
        encode_unsigned(&self.claims())
    }
}

/// A `directcare` token, as the provider suite sends for migrate a document
/// (`patient/*.read`) and for metadata (`organization/*.read`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectCareTokenRequest {
    pub requesting_ods: String,
    pub requesting_name: String,
    pub requesting_asid: String,
    pub audience: String,
    /// Mandatory for direct care.
    pub practitioner: PractitionerClaim,
    /// e.g. `patient/*.read`, `patient/*.read conf/R`, `organization/*.read`.
    pub requested_scope: String,
    pub now: DateTime<Utc>,
}

impl DirectCareTokenRequest {
    pub fn claims(&self) -> Value {
        base_claims(
            &self.requesting_ods,
            &self.requesting_name,
            &self.requesting_asid,
            &self.audience,
            Some(&self.practitioner),
            Reason::DirectCare,
            &self.requested_scope,
            self.now,
        )
    }

    pub fn mint(&self) -> String {
        encode_unsigned(&self.claims())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::SpineCode;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let claims = serde_json::json!({"iss": "https://consumer", "iat": 1});
        let token = encode_unsigned(&claims);
        assert!(token.ends_with('.'));
        let d = decode(&token).unwrap();
        assert_eq!(d.claims, claims);
        assert_eq!(d.header["alg"], "none");
        assert_eq!(d.signature, "");
    }

    #[test]
    fn names_the_broken_part() {
        assert!(decode("abc").unwrap_err().contains("three"));
        assert!(decode("!!.e30.").unwrap_err().contains("header"));
        assert!(decode("e30.!!.").unwrap_err().contains("claims"));
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn practitioner() -> PractitionerClaim {
        PractitionerClaim::assurance_suite()
    }

    fn migrate_claims() -> Value {
        MigrateTokenRequest {
            requesting_ods: "GPCA0001".into(),
            requesting_name: "GP Connect Assurance".into(),
            requesting_asid: "200000000359".into(),
            audience: "https://authorize.fhir.nhs.net/token/".into(),
            practitioner: Some(practitioner()),
            sensitive: false,
            now: now(),
        }
        .claims()
    }

    fn check(claims: &Value) -> Result<Claims, FhirError> {
        validate(&encode_unsigned(claims), now(), &Rules::MIGRATE)
    }

    /// Asserts the claims fail with `code` and a diagnostic mentioning `needle`.
    fn fails(claims: &Value, code: SpineCode, needle: &str) {
        let e = check(claims).unwrap_err();
        assert_eq!(e.code, code.parts().0, "{e}");
        assert!(e.diagnostics.contains(needle), "{needle:?} not in {e}");
    }

    fn without(claim: &str) -> Value {
        let mut c = migrate_claims();
        c.as_object_mut().unwrap().remove(claim);
        c
    }

    fn with(claim: &str, value: Value) -> Value {
        let mut c = migrate_claims();
        c[claim] = value;
        c
    }

    #[test]
    fn a_minted_migrate_token_passes() {
        let claims = check(&migrate_claims()).unwrap();
        assert_eq!(claims.requesting_ods, "GPCA0001");
        assert_eq!(claims.reason, Reason::Migration);
        assert_eq!(claims.scope.confidentiality, Confidentiality::Normal);
        assert_eq!(claims.practitioner_id.as_deref(), Some("1"));
        assert_eq!(claims.exp - claims.iat, 300);
    }

    #[test]
    fn sensitive_tokens_ask_for_conf_r() {
        let mut req = MigrateTokenRequest {
            requesting_ods: "A1".into(),
            requesting_name: "x".into(),
            requesting_asid: "200000000359".into(),
            audience: "https://aud".into(),
            practitioner: None,
            sensitive: true,
            now: now(),
        };
        assert_eq!(req.claims()["requested_scope"], "patient/*.read conf/R");
        let c = validate(&req.mint(), now(), &Rules::MIGRATE).unwrap();
        assert_eq!(c.scope.confidentiality, Confidentiality::Restricted);
        req.sensitive = false;
        assert_eq!(req.claims()["requested_scope"], "patient/*.read conf/N");
    }

    #[test]
    fn header_must_be_alg_none_with_empty_signature() {
        let claims = URL_SAFE_NO_PAD.encode(migrate_claims().to_string());
        let hs = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let bad_typ = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWS"}"#);
        for (token, needle) in [
            (format!("{hs}.{claims}."), "alg"),
            (format!("{none}.{claims}.c2ln"), "signature"),
            (format!("{bad_typ}.{claims}."), "typ"),
            (format!("{none}.{claims}"), "three"),
        ] {
            let e = validate(&token, now(), &Rules::MIGRATE).unwrap_err();
            assert_eq!(e.code, "BAD_REQUEST");
            assert!(e.diagnostics.contains(needle), "{e}");
        }
    }

    #[test]
    fn a_token_that_is_not_base64_is_400() {
        let raw = format!("{}.{}.", r#"{"alg":"none","typ":"JWT"}"#, migrate_claims());
        let e = validate(&raw, now(), &Rules::MIGRATE).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.diagnostics.contains("Authorization"));
    }

    #[test]
    fn every_string_claim_is_required_and_non_empty() {
        for name in ["iss", "sub", "aud", "reason_for_request", "requested_scope"] {
            fails(&without(name), SpineCode::BadRequest, name);
            fails(&with(name, json!("")), SpineCode::BadRequest, name);
            fails(&with(name, json!(5)), SpineCode::BadRequest, name);
        }
    }

    #[test]
    fn exp_must_be_exactly_iat_plus_300() {
        let iat = now().timestamp();
        fails(&without("exp"), SpineCode::BadRequest, "exp");
        fails(&without("iat"), SpineCode::BadRequest, "iat");
        for exp in [iat + 301, iat + 299, iat - 1] {
            let mut c = migrate_claims();
            c["exp"] = json!(exp);
            fails(&c, SpineCode::BadRequest, "exactly");
        }
        fails(
            &with("exp", json!("1700000300")),
            SpineCode::BadRequest,
            "integer",
        );
    }

    #[test]
    fn a_token_seen_before_is_still_judged_against_the_clock() {
        let token = encode_unsigned(&migrate_claims());
        assert!(validate(&token, now(), &Rules::MIGRATE).is_ok());
        // Decoded once, kept for the next request with the same token.
        assert!(std::sync::Arc::ptr_eq(
            &decode_recent(&token).unwrap(),
            &decode_recent(&token).unwrap()
        ));
        assert_eq!(*decode_recent(&token).unwrap(), decode(&token).unwrap());
        let later = now() + chrono::Duration::seconds(LIFETIME_SECS + 60);
        let e = validate(&token, later, &Rules::MIGRATE).unwrap_err();
        assert!(e.diagnostics.contains("expired"), "{}", e.diagnostics);
        // A bad token is not kept as good.
        assert!(decode_recent("e30.!!.").is_err());
        assert!(decode_recent("e30.!!.").is_err());
    }

    #[test]
    fn expired_tokens_are_refused_and_future_iat_tolerated() {
        let t = now().timestamp();
        let mut c = migrate_claims();
        c["iat"] = json!(t - 600);
        c["exp"] = json!(t - 300);
        fails(&c, SpineCode::BadRequest, "expired");
        c["iat"] = json!(t - 300);
        c["exp"] = json!(t);
        fails(&c, SpineCode::BadRequest, "expired");
        c["iat"] = json!(t + 200);
        c["exp"] = json!(t + 500);
        assert!(check(&c).is_ok(), "iat 200 s ahead is tolerated");
        c["iat"] = json!(t + 301);
        c["exp"] = json!(t + 601);
        fails(&c, SpineCode::BadRequest, "future");
    }

    #[test]
    fn reason_must_suit_the_interaction() {
        fails(
            &with("reason_for_request", json!("badReason")),
            SpineCode::BadRequest,
            "'badReason'",
        );
        fails(
            &with("reason_for_request", json!("directcare")),
            SpineCode::BadRequest,
            "'migration'",
        );
        let mut c = migrate_claims();
        c["reason_for_request"] = json!("directcare");
        assert!(validate(&encode_unsigned(&c), now(), &Rules::MIGRATE_DOCUMENT).is_ok());
    }

    #[test]
    fn scope_rules() {
        for (scope, needle) in [
            ("badScope", "unknown token 'badScope'"),
            ("conf/R", "no access token"),
            ("patient/*.read patient/*.write", "two access tokens"),
            ("patient/*.read conf/N conf/R", "more than one"),
            ("organization/*.read", "needs 'patient/*.read'"),
        ] {
            fails(
                &with("requested_scope", json!(scope)),
                SpineCode::BadRequest,
                needle,
            );
        }
        let c = check(&with("requested_scope", json!("patient/*.read"))).unwrap();
        assert_eq!(c.scope.confidentiality, Confidentiality::Normal);
        assert!(!c.scope.explicit_confidentiality);
        let mut m = migrate_claims();
        m["requested_scope"] = json!("organization/*.read");
        m["reason_for_request"] = json!("directcare");
        assert!(validate(&encode_unsigned(&m), now(), &Rules::METADATA).is_ok());
    }

    #[test]
    fn device_rules() {
        fails(
            &without("requesting_device"),
            SpineCode::BadRequest,
            "requesting_device",
        );
        fails(
            &with("requesting_device", json!("Device")),
            SpineCode::BadRequest,
            "requesting_device",
        );
        let mut c = migrate_claims();
        c["requesting_device"]["resourceType"] = json!("Patient");
        fails(&c, SpineCode::InvalidResource, "holds a Patient");
        let mut c = migrate_claims();
        c["requesting_device"]["colour"] = json!("red");
        fails(&c, SpineCode::InvalidResource, "'colour'");
        let mut c = migrate_claims();
        c["requesting_device"]["identifier"] = json!([]);
        fails(&c, SpineCode::InvalidResource, "identifier");
        let mut c = migrate_claims();
        c["requesting_device"]
            .as_object_mut()
            .unwrap()
            .remove("model");
        fails(&c, SpineCode::InvalidResource, "'model'");
        // The suite's device system is not a URL: accepted.
        let mut c = migrate_claims();
        c["requesting_device"]["identifier"] =
            json!([{"system": "GPConnectTestSystem", "value": "Client"}]);
        assert!(check(&c).is_ok());
    }

    #[test]
    fn organization_rules() {
        fails(
            &without("requesting_organization"),
            SpineCode::BadRequest,
            "requesting_organization",
        );
        let mut c = migrate_claims();
        c["requesting_organization"]["resourceType"] = json!("Practitioner");
        fails(&c, SpineCode::InvalidResource, "Organization");
        let mut c = migrate_claims();
        c["requesting_organization"]["identifier"] =
            json!([{"system": "https://example.org/ods", "value": "GPCA0001"}]);
        fails(&c, SpineCode::BadRequest, systems::ODS_ORGANIZATION_CODE);
        let mut c = migrate_claims();
        c["requesting_organization"]["identifier"] = json!("GPCA0001");
        fails(&c, SpineCode::InvalidResource, "identifier");
    }

    #[test]
    fn practitioner_is_optional_for_migration_only() {
        let c = check(&without("requesting_practitioner")).unwrap();
        assert_eq!(c.practitioner_id, None);
        let mut d = without("requesting_practitioner");
        d["reason_for_request"] = json!("directcare");
        let e = validate(&encode_unsigned(&d), now(), &Rules::MIGRATE_DOCUMENT).unwrap_err();
        assert!(e.diagnostics.contains("requesting_practitioner"));
    }

    #[test]
    fn practitioner_rules() {
        let mut c = migrate_claims();
        c["requesting_practitioner"]["resourceType"] = json!("Device");
        fails(&c, SpineCode::InvalidResource, "Practitioner");
        fails(&with("sub", json!("2")), SpineCode::BadRequest, "sub");
        let mut c = migrate_claims();
        c["requesting_practitioner"]["identifier"] =
            json!([{"system": systems::SDS_USER_ID, "value": "UNK"}]);
        assert!(check(&c).is_ok(), "UNK and no role profile are accepted");
        c["requesting_practitioner"]["identifier"] = json!([]);
        fails(&c, SpineCode::BadRequest, systems::SDS_USER_ID);
    }

    #[test]
    fn rules_are_checked_in_claim_order() {
        // Missing iss and a bad reason: iss is named first.
        let mut c = without("iss");
        c["reason_for_request"] = json!("badReason");
        fails(&c, SpineCode::BadRequest, "'iss'");
        // Bad times beat a bad scope.
        let mut c = with("requested_scope", json!("badScope"));
        c["exp"] = json!(0);
        fails(&c, SpineCode::BadRequest, "exp");
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in ".*") {
            let _ = decode(&s);
        }

        #[test]
        fn validate_never_panics(s in ".*") {
            let _ = validate(&s, now(), &Rules::MIGRATE);
        }

        #[test]
        fn validate_never_panics_on_arbitrary_claims(
            keys in proptest::collection::vec("[a-z_]{1,24}", 0..8),
            n in any::<i64>(),
            text in ".{0,20}",
        ) {
            let mut c = migrate_claims();
            for (i, k) in keys.iter().enumerate() {
                c[k] = match i % 4 {
                    0 => json!(n),
                    1 => json!(text),
                    2 => json!({ "resourceType": text }),
                    _ => Value::Null,
                };
            }
            let _ = check(&c);
        }
    }
}
