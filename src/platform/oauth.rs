//! The NHS API platform's OAuth 2.0 token endpoint, as PDS consumers meet it.
//!
//! - **Application-restricted, signed JWT**: `POST /oauth2/token` with
//!   `grant_type=client_credentials`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//!   and a client assertion signed RS512 (the only algorithm the platform accepts) with a `kid`
//!   header, `iss` = `sub` = the API key, `aud` = the token URL, a unique `jti` and an `exp` at most
//!   five minutes ahead. Refusals carry the platform's `error` / `error_description` pairs and
//!   statuses, in the platform's check order.
//! - **User-restricted (healthcare worker), simulated login**: the platform's test environments
//!   let a developer log in as a test user instead of with a smartcard. Here
//!   `GET /oauth2/authorize?response_type=code&client_id=KEY&redirect_uri=URI&state=S[&role=ID]`
//!   logs in at once and redirects with a code; `POST /oauth2/token` with
//!   `grant_type=authorization_code`, the code, the same `redirect_uri`, `client_id` and (when the
//!   application has one) `client_secret` returns a token for that role.
//!
//! Access tokens live 599 seconds, measured on the injected clock.
//!
//! What a client can make the endpoint hold is bounded: authorization codes (minted by an
//! unauthenticated `GET /oauth2/authorize`) and tokens are kept up to `oauth_max_codes` and
//! `oauth_max_tokens`, expired ones dropped first, then the oldest. The authorize endpoint
//! redirects only to the application's registered `redirect_uri` (scenario `applications:`;
//! by default the sandbox's own `{public_url}/callback`, or `/callback` on a loopback address),
//! so it is no open redirect.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{Application, faults};
use crate::fhir::FhirError;

mod saved;
pub(crate) use saved::SavedOAuth;

pub(crate) const CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Seconds an access token lives (the platform answers `"expires_in": "599"`).
pub(crate) const TOKEN_LIFETIME_SECS: i64 = 599;
/// The role a simulated login gets when none is asked for.
pub(crate) const DEFAULT_ROLE: &str = "555254240100";

/// Who a token was issued to.
#[derive(Debug, Clone)]
pub struct Grant {
    pub api_key: String,
    pub app_name: String,
    pub expires: DateTime<Utc>,
    /// The healthcare worker's role (`NHSD-Session-URID`) for a user-restricted token.
    pub role: Option<String>,
}

impl Grant {
    /// `Application-Restricted` or `User-Restricted`, as PDS names the access mode.
    pub fn access_mode(&self) -> &'static str {
        if self.role.is_some() {
            "User-Restricted"
        } else {
            "Application-Restricted"
        }
    }
}

#[derive(Clone)]
struct Code {
    api_key: String,
    redirect_uri: String,
    role: String,
}

/// Requests an application made in one second, for its rate limit.
#[derive(Clone, Copy)]
struct Window {
    second: i64,
    count: u32,
}

/// How much the endpoint keeps, and where it redirects by default.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// `oauth_max_codes`.
    pub max_codes: usize,
    /// `oauth_max_tokens`.
    pub max_tokens: usize,
    /// The `redirect_uri` of an application that registers none: `{public_url}/callback`.
    pub default_redirect: String,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_codes: 10_000,
            max_tokens: 10_000,
            default_redirect: "http://localhost:8080/callback".into(),
        }
    }
}

/// Values that expire, at most `cap` of them: past it the expired go, then the oldest.
struct Expiring<V> {
    cap: usize,
    inner: std::sync::Mutex<ExpiringInner<V>>,
}

struct ExpiringInner<V> {
    values: HashMap<String, (V, DateTime<Utc>)>,
    /// Keys in insertion order; keys already taken out are skipped (and compacted away).
    order: std::collections::VecDeque<String>,
}

impl<V: Clone> Expiring<V> {
    fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            inner: std::sync::Mutex::new(ExpiringInner {
                values: HashMap::new(),
                order: std::collections::VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExpiringInner<V>> {
        // A panic while holding it leaves plain data behind: carry on with it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, key: String, value: V, expires: DateTime<Utc>, now: DateTime<Utc>) {
        let mut inner = self.lock();
        if inner.values.len() >= self.cap {
            inner.values.retain(|_, (_, exp)| *exp > now);
        }
        while inner.values.len() >= self.cap {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.values.remove(&oldest);
        }
        if inner.order.len() >= self.cap.saturating_mul(2) {
            let ExpiringInner { values, order } = &mut *inner;
            order.retain(|k| values.contains_key(k));
        }
        inner.order.push_back(key.clone());
        inner.values.insert(key, (value, expires));
    }

    fn take(&self, key: &str) -> Option<(V, DateTime<Utc>)> {
        self.lock().values.remove(key)
    }

    fn get(&self, key: &str) -> Option<(V, DateTime<Utc>)> {
        self.lock().values.get(key).cloned()
    }

    fn clear(&self) {
        let mut inner = self.lock();
        inner.values.clear();
        inner.order.clear();
    }

    fn len(&self) -> usize {
        self.lock().values.len()
    }
}

/// The token endpoint's state: the registered applications, tokens issued, `jti`s seen.
pub struct OAuth {
    apps: HashMap<String, Arc<Application>>,
    tokens: Expiring<Grant>,
    codes: Expiring<Code>,
    default_redirect: String,
    /// `api key` + `jti` -> the assertion's `exp`, to refuse a replay.
    jtis: DashMap<(String, String), i64>,
    windows: DashMap<String, Window>,
}

/// An error as the token endpoint answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

/// 302 to `redirect` with `params` added to its query.
fn redirect_to(redirect: &str, params: &[(&str, &str)]) -> Response<Bytes> {
    let mut location = redirect.to_owned();
    for (n, (name, value)) in params.iter().enumerate() {
        let sep = if n == 0 && !redirect.contains('?') {
            '?'
        } else {
            '&'
        };
        location.push(sep);
        location.push_str(name);
        location.push('=');
        location.push_str(&crate::platform::form_encode(value));
    }
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn refuse(status: u16, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        error: "invalid_request",
        description: description.into(),
    }
}

impl OAuthError {
    pub(crate) fn to_response(&self) -> Response<Bytes> {
        json_response(
            self.status,
            &json!({
                "error": self.error,
                "error_description": self.description,
                "message_id": format!("rrt-{}", uuid::Uuid::new_v4().simple()),
            }),
        )
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// 28 random letters and digits, like the platform's opaque tokens.
fn opaque() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{a}{b}"))
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(28)
        .collect()
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.is_object().then_some(value)
}

impl OAuth {
    pub fn new(apps: &[Application], bounds: Bounds) -> Self {
        Self {
            apps: apps
                .iter()
                .map(|a| (a.api_key.clone(), Arc::new(a.clone())))
                .collect(),
            tokens: Expiring::new(bounds.max_tokens),
            codes: Expiring::new(bounds.max_codes),
            default_redirect: bounds.default_redirect,
            jtis: DashMap::new(),
            windows: DashMap::new(),
        }
    }

    /// Forgets every token, code and `jti` (admin reset).
    pub fn reset(&self) {
        self.tokens.clear();
        self.codes.clear();
        self.jtis.clear();
        self.windows.clear();
    }

    pub fn is_api_key(&self, key: &str) -> bool {
        self.apps.contains_key(key)
    }

    /// Authorization codes and access tokens held now.
    pub fn held(&self) -> (usize, usize) {
        (self.codes.len(), self.tokens.len())
    }

    /// The `redirect_uri` registered for `app`.
    fn registered_redirect<'a>(&'a self, app: &'a Application) -> &'a str {
        app.redirect_uri
            .as_deref()
            .unwrap_or(&self.default_redirect)
    }

    /// `POST /oauth2/token`. `token_urls` are the `aud` values accepted (the public URL's and
    /// the one the request was addressed to).
    pub fn token(
        &self,
        form: &[(String, String)],
        token_urls: &[String],
        now: DateTime<Utc>,
    ) -> Response<Bytes> {
        let get = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let result = match get("grant_type") {
            None | Some("") => Err(refuse(400, "grant_type is missing")),
            Some("client_credentials") => self.client_credentials(&get, token_urls, now),
            Some("authorization_code") => self.authorization_code(&get, now),
            Some(_) => Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: "grant_type is invalid".into(),
            }),
        };
        result.unwrap_or_else(|e| e.to_response())
    }

    fn issue(
        &self,
        app: &Application,
        role: Option<String>,
        now: DateTime<Utc>,
    ) -> Response<Bytes> {
        let token = opaque();
        let user = role.is_some();
        let expires = now + chrono::Duration::seconds(TOKEN_LIFETIME_SECS);
        self.tokens.insert(
            token.clone(),
            Grant {
                api_key: app.api_key.clone(),
                app_name: app.name.clone(),
                expires,
                role,
            },
            expires,
            now,
        );
        let mut body = json!({
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECS.to_string(),
            "token_type": "Bearer",
            "issued_at": now.timestamp_millis().to_string(),
        });
        if user {
            body["refresh_count"] = json!("0");
            body["refresh_token"] = json!(opaque());
            body["refresh_token_expires_in"] = json!("43199");
        }
        json_response(StatusCode::OK, &body)
    }

    fn client_credentials<'a>(
        &self,
        get: &dyn Fn(&str) -> Option<&'a str>,
        token_urls: &[String],
        now: DateTime<Utc>,
    ) -> Result<Response<Bytes>, OAuthError> {
        if get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) {
            return Err(refuse(
                400,
                format!(
                    "Missing or invalid client_assertion_type - must be '{CLIENT_ASSERTION_TYPE}'"
                ),
            ));
        }
        let assertion = match get("client_assertion") {
            None | Some("") => return Err(refuse(400, "Missing client_assertion")),
            Some(a) => a,
        };
        let parts: Vec<&str> = assertion.split('.').collect();
        let (Some(head), Some(claims)) = (
            parts.first().and_then(|p| decode_part(p)),
            parts.get(1).and_then(|p| decode_part(p)),
        ) else {
            return Err(refuse(400, "Malformed JWT in client_assertion"));
        };
        if parts.len() != 3 {
            return Err(refuse(400, "Malformed JWT in client_assertion"));
        }
        let kid = match head.get("kid") {
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            _ => return Err(refuse(400, "Missing 'kid' header in client_assertion JWT")),
        };
        if let Some(typ) = head.get("typ")
            && typ.as_str().is_none_or(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(refuse(
                400,
                "Invalid 'typ' header in client_assertion JWT - must be 'JWT'",
            ));
        }
        match head.get("alg") {
            None => return Err(refuse(400, "Missing 'alg' header in client_assertion JWT")),
            Some(Value::String(a)) if a == "RS512" => {}
            Some(_) => {
                return Err(refuse(
                    400,
                    "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'",
                ));
            }
        }
        let iss = claims.get("iss").and_then(Value::as_str);
        let sub = claims.get("sub").and_then(Value::as_str);
        let api_key = match (iss, sub) {
            (Some(i), Some(s)) if i == s && !i.is_empty() => i,
            _ => {
                return Err(refuse(
                    400,
                    "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
                ));
            }
        };
        let Some(app) = self.apps.get(api_key) else {
            return Err(refuse(
                401,
                "Invalid 'iss'/'sub' claims in client_assertion JWT",
            ));
        };
        let jti = match claims.get("jti") {
            None => return Err(refuse(400, "Missing 'jti' claim in client_assertion JWT")),
            Some(Value::String(j)) if !j.is_empty() => j.clone(),
            Some(_) => {
                return Err(refuse(
                    400,
                    "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID",
                ));
            }
        };
        match claims.get("aud").and_then(Value::as_str) {
            Some(aud) if token_urls.iter().any(|u| u == aud) => {}
            _ => {
                return Err(refuse(
                    401,
                    "Missing or invalid 'aud' claim in client_assertion JWT",
                ));
            }
        }
        let exp = match claims.get("exp") {
            None => return Err(refuse(400, "Missing 'exp' claim in client_assertion JWT")),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
            Some(_) => {
                return Err(refuse(
                    400,
                    "Invalid 'exp' claim in client_assertion JWT - must be an integer",
                ));
            }
        };
        let now_secs = now.timestamp();
        if exp < now_secs {
            return Err(refuse(
                400,
                "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
            ));
        }
        if exp > now_secs + 300 {
            return Err(refuse(
                400,
                "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
            ));
        }
        if app.keys.is_empty() {
            return Err(OAuthError {
                status: StatusCode::FORBIDDEN,
                error: "public_key error",
                description: "You need to register a public key to use this authentication method - please contact support to configure".into(),
            });
        }
        let Some(key) = app.keys.iter().find(|k| k.kid == kid) else {
            return Err(refuse(
                401,
                "Invalid 'kid' header in client_assertion JWT - no matching public key",
            ));
        };
        let mut validation = Validation::new(Algorithm::RS512);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        if jsonwebtoken::decode::<Value>(assertion, &key.key, &validation).is_err() {
            return Err(OAuthError {
                status: StatusCode::UNAUTHORIZED,
                error: "public_key error",
                description: "JWT signature verification failed".into(),
            });
        }
        self.jtis.retain(|_, seen_exp| *seen_exp >= now_secs);
        if self.jtis.insert((app.api_key.clone(), jti), exp).is_some() {
            return Err(refuse(
                400,
                "Non-unique 'jti' claim in client_assertion JWT",
            ));
        }
        Ok(self.issue(&app.clone(), None, now))
    }

    /// `GET /oauth2/authorize`: the simulated login. Logs in at once as a test healthcare worker
    /// with the role asked for and redirects back with a code.
    pub fn authorize(&self, query: &[(String, String)], now: DateTime<Utc>) -> Response<Bytes> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        // The identity service's order and answers (its e2e tests and proxy policies): a bad
        // client or redirect URI is answered here, in JSON, since there is nowhere trusted to
        // send the browser; a bad response_type or missing state goes back to the redirect URI.
        let result = (|| {
            let client_id = get("client_id").ok_or_else(|| refuse(401, "client_id is missing"))?;
            let Some(app) = self.apps.get(client_id) else {
                return Err(refuse(401, "client_id is invalid"));
            };
            let redirect =
                get("redirect_uri").ok_or_else(|| refuse(400, "redirect_uri is missing"))?;
            if !(redirect.starts_with("http://") || redirect.starts_with("https://")) {
                return Err(refuse(400, "redirect_uri is invalid"));
            }
            let registered = self.registered_redirect(app);
            // Without a registration, the sandbox's own callback is accepted on loopback too:
            // the page's journeys reach the sandbox there whatever the public URL.
            let own =
                app.redirect_uri.is_none() && same_redirect(redirect, "http://localhost/callback");
            if !(own || same_redirect(redirect, registered)) {
                return Err(refuse(
                    400,
                    format!(
                        "redirect_uri is invalid: {redirect} is not the one registered for this application ({registered}; scenario applications: redirect_uri)"
                    ),
                ));
            }
            let back = |error: &str, description: &str| {
                let mut params = vec![("error", error), ("error_description", description)];
                if let Some(state) = get("state") {
                    params.push(("state", state));
                }
                Ok(redirect_to(redirect, &params))
            };
            match get("response_type") {
                None => return back("invalid_request", "response_type is missing"),
                Some("code") => {}
                Some(_) => return back("unsupported_response_type", "response_type is invalid"),
            }
            if get("state").is_none() {
                return back("invalid_request", "state is missing");
            }
            let role = get("role").unwrap_or(DEFAULT_ROLE);
            if role.is_empty() || !role.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refuse(
                    400,
                    "role must be a user role id (digits, e.g. 555254240100)",
                ));
            }
            let code = opaque();
            self.codes.insert(
                code.clone(),
                Code {
                    api_key: client_id.to_owned(),
                    redirect_uri: redirect.to_owned(),
                    role: role.to_owned(),
                },
                now + chrono::Duration::seconds(600),
                now,
            );
            let mut params = vec![("code", code.as_str())];
            if let Some(state) = get("state") {
                params.push(("state", state));
            }
            Ok(redirect_to(redirect, &params))
        })();
        result.unwrap_or_else(|e| e.to_response())
    }

    fn authorization_code<'a>(
        &self,
        get: &dyn Fn(&str) -> Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Result<Response<Bytes>, OAuthError> {
        let client_id = get("client_id")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refuse(401, "client_id is missing"))?;
        let Some(app) = self.apps.get(client_id) else {
            return Err(OAuthError {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                description: "client_id or client_secret is invalid".into(),
            });
        };
        if let Some(secret) = &app.secret {
            match get("client_secret").filter(|v| !v.is_empty()) {
                None => return Err(refuse(401, "client_secret is missing")),
                Some(given) if given == secret.as_str() => {}
                Some(_) => {
                    return Err(OAuthError {
                        status: StatusCode::UNAUTHORIZED,
                        error: "invalid_client",
                        description: "client_id or client_secret is invalid".into(),
                    });
                }
            }
        }
        let code = get("code")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refuse(400, "authorization_code is missing"))?;
        let Some((granted, expires)) = self.codes.take(code) else {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_grant",
                description: "authorization_code is invalid".into(),
            });
        };
        if granted.api_key != app.api_key || expires < now {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_grant",
                description: "authorization_code is invalid".into(),
            });
        }
        match get("redirect_uri").filter(|v| !v.is_empty()) {
            None => return Err(refuse(400, "redirect_uri is missing")),
            Some(given) if given == granted.redirect_uri => {}
            Some(_) => return Err(refuse(400, "redirect_uri is invalid")),
        }
        Ok(self.issue(&app.clone(), Some(granted.role), now))
    }

    /// The bearer token a request carries, checked as the platform's proxy in front of PDS
    /// checks it: 401 `ACCESS_DENIED` with the platform's fault string as the display.
    pub fn check_bearer(
        &self,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<Grant, FhirError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let token = value
            .as_deref()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let denied = |display: &str, diagnostics: &str| {
            faults::r4_error(
                StatusCode::UNAUTHORIZED,
                "forbidden",
                "ACCESS_DENIED",
                display,
                diagnostics,
            )
        };
        let Some(token) = token else {
            return Err(denied(
                "Invalid access token",
                "no 'Authorization: Bearer <token>' header; this sandbox requires a token from POST /oauth2/token (auth: required)",
            ));
        };
        let Some((grant, _)) = self.tokens.get(token) else {
            return Err(denied(
                "Invalid access token",
                "the access token is not one this sandbox issued (or the sandbox was reset since)",
            ));
        };
        if grant.expires <= now {
            return Err(denied(
                "Access Token expired",
                "the access token has expired (tokens live 599 seconds); get a new one from POST /oauth2/token",
            ));
        }
        Ok(grant)
    }

    /// The application's request rate, counted per second; the 429 when it is over.
    pub fn rate_limit(&self, grant: &Grant, now: DateTime<Utc>) -> Result<(), FhirError> {
        let Some(limit) = self.apps.get(&grant.api_key).and_then(|a| a.rate_limit) else {
            return Ok(());
        };
        let second = now.timestamp();
        let mut window = self
            .windows
            .entry(grant.api_key.clone())
            .or_insert(Window { second, count: 0 });
        if window.second != second {
            *window = Window { second, count: 0 };
        }
        window.count += 1;
        if window.count > limit {
            return Err(faults::platform_spike_arrest(Some(&grant.app_name)));
        }
        Ok(())
    }
}

/// Whether `given` is the registered redirect URI. A loopback one (`localhost`, `127.0.0.1`,
/// `[::1]`) matches on any port and under any loopback name, as RFC 8252 (section 7.3) asks of
/// an authorization server for native apps; anything else must be the same string.
fn same_redirect(given: &str, registered: &str) -> bool {
    if given == registered {
        return true;
    }
    let (Ok(g), Ok(r)) = (given.parse::<http::Uri>(), registered.parse::<http::Uri>()) else {
        return false;
    };
    let loopback = |u: &http::Uri| {
        u.host().is_some_and(|h| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    };
    let path = |u: &http::Uri| u.path_and_query().map(|p| p.as_str().to_owned());
    loopback(&g) && loopback(&r) && g.scheme() == r.scheme() && path(&g) == path(&r)
}

/// A registered public key.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: String,
    pub key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.kid)
    }
}

/// Reads a JWKS document's RSA keys (each needs a `kid`), or says what is wrong.
pub(crate) fn keys_from_jwks(text: &str) -> Result<Vec<PublicKey>, String> {
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    if set.keys.is_empty() {
        return Err("the JWKS holds no keys".into());
    }
    set.keys
        .iter()
        .map(|jwk| {
            let kid = jwk
                .common
                .key_id
                .clone()
                .filter(|k| !k.is_empty())
                .ok_or("a key in the JWKS has no 'kid'")?;
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key '{kid}': {e}"))?;
            Ok(PublicKey { kid, key })
        })
        .collect()
}

/// Reads an RSA public key in PEM.
pub(crate) fn key_from_pem(kid: &str, pem: &[u8]) -> Result<PublicKey, String> {
    DecodingKey::from_rsa_pem(pem)
        .map(|key| PublicKey {
            kid: kid.to_owned(),
            key,
        })
        .map_err(|e| format!("not an RSA public key in PEM: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_store_drops_expired_values_first_then_the_oldest() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let later = now + chrono::Duration::seconds(600);
        let store: Expiring<u32> = Expiring::new(3);
        store.insert("a".into(), 1, later, now);
        store.insert("b".into(), 2, now, now); // expires at once
        store.insert("c".into(), 3, later, now);
        let after = now + chrono::Duration::seconds(1);
        store.insert("d".into(), 4, later, after);
        // "b" had expired: it went, not the oldest.
        assert!(store.get("b").is_none());
        assert_eq!(store.get("a").map(|v| v.0), Some(1));
        store.insert("e".into(), 5, later, after);
        // Full of live values: the oldest ("a") went.
        assert!(store.get("a").is_none());
        assert_eq!(store.len(), 3);
        // Taking and re-adding many keys keeps the order list bounded too.
        for n in 0..1_000 {
            let key = format!("k{n}");
            store.insert(key.clone(), n, later, after);
            store.take(&key);
        }
        assert!(store.lock().order.len() <= 6);
    }

    #[test]
    fn loopback_redirects_match_on_any_port_and_loopback_name() {
        let registered = "http://localhost:8080/callback";
        assert!(same_redirect("http://localhost:8080/callback", registered));
        assert!(same_redirect("http://127.0.0.1:9999/callback", registered));
        assert!(same_redirect("http://[::1]/callback", registered));
        assert!(!same_redirect("http://localhost:8080/other", registered));
        assert!(!same_redirect(
            "https://localhost:8080/callback",
            registered
        ));
        assert!(!same_redirect("http://evil.example/callback", registered));
        assert!(!same_redirect(
            "http://gp.example:8080/callback",
            "http://gp.example/callback"
        ));
        assert!(same_redirect(
            "https://gp.example/cb?x=1",
            "https://gp.example/cb?x=1"
        ));
    }
}
