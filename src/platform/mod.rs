//! What the NHS API platform and Spine do around the services: OAuth 2.0 in front of PDS
//! ([`oauth`]; off unless `auth: required`), per-application rate limits, and faults injected on
//! demand ([`faults`]).

pub(crate) mod faults;
pub(crate) mod keys;
pub(crate) mod oauth;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};

use crate::fhir::FhirError;
use crate::http::query_pairs;

pub(crate) use faults::{FaultSpec, Faults};
pub(crate) use oauth::OAuth;

/// A consumer application registered with the platform (scenario `applications:`).
#[derive(Debug, Clone)]
pub struct Application {
    pub name: String,
    /// The API key (the platform's client id); `iss` and `sub` of its client assertions.
    pub api_key: String,
    /// For the user-restricted token exchange; none means any secret is accepted.
    pub secret: Option<String>,
    pub keys: Vec<oauth::PublicKey>,
    /// Requests per second the application may make to PDS before 429.
    pub rate_limit: Option<u32>,
    /// Where the simulated login may send the browser back; none means the sandbox's own
    /// `{public_url}/callback` (what the built-in journey uses).
    pub redirect_uri: Option<String>,
}

/// The platform part of a scenario.
#[derive(Debug, Clone, Default)]
pub struct PlatformScenario {
    /// `auth: required` (true) or `auth: off` (false); absent leaves the config's choice.
    pub auth_required: Option<bool>,
    pub applications: Vec<Application>,
    pub faults: Vec<FaultSpec>,
}

/// The platform's state, shared by every listener.
pub struct Platform {
    pub auth_required: bool,
    pub oauth: OAuth,
    pub faults: Faults,
}

impl Platform {
    pub fn new(
        scenario: &PlatformScenario,
        config_auth_required: bool,
        bounds: oauth::Bounds,
    ) -> Self {
        Self {
            auth_required: scenario.auth_required.unwrap_or(config_auth_required),
            oauth: OAuth::new(&scenario.applications, bounds),
            faults: Faults::new(scenario.faults.clone()),
        }
    }

    /// Back to the scenario: its fault rules, no tokens.
    pub fn reset(&self) {
        self.faults.reset();
        self.oauth.reset();
    }

    /// The platform's checks in front of PDS when authentication is required: a valid token,
    /// then the application's rate, then (for an update) a user-restricted token.
    pub fn check_pds(
        &self,
        clock: &crate::clock::Clock,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<(), FhirError> {
        if !self.auth_required {
            return Ok(());
        }
        let now = clock.now();
        let grant = self.oauth.check_bearer(headers, now)?;
        self.oauth.rate_limit(&grant, now)?;
        if method == Method::PATCH && grant.role.is_none() {
            return Err(faults::r4_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "INVALID_METHOD",
                "Cannot update resource with Application-Restricted access token",
                "Your app has insufficient permissions to use this method. Please contact support.",
            ));
        }
        Ok(())
    }
}

/// True for the paths the platform's OAuth endpoints live at.
pub(crate) fn is_oauth_path(path: &str) -> bool {
    path.starts_with("/oauth2/")
}

/// `POST /oauth2/token`, `GET /oauth2/authorize`; `public_url` is the world's base URL (the
/// token endpoint's address, the audience of client assertions).
pub(crate) fn handle_oauth(
    platform: &Platform,
    now: chrono::DateTime<chrono::Utc>,
    public_url: &str,
    req: &Request<Bytes>,
) -> Response<Bytes> {
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/oauth2/token") => {
            let form = query_pairs(Some(&String::from_utf8_lossy(req.body())));
            let mut urls = vec![format!("{public_url}/oauth2/token")];
            if let Some(host) = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
            {
                urls.push(format!("http://{host}/oauth2/token"));
                urls.push(format!("https://{host}/oauth2/token"));
            }
            platform.oauth.token(&form, &urls, now)
        }
        (&Method::GET, "/oauth2/authorize") => {
            platform.oauth.authorize(&query_pairs(req.uri().query()), now)
        }
        (_, "/oauth2/token" | "/oauth2/authorize") => {
            let mut resp = Response::new(Bytes::from_static(b""));
            *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            resp
        }
        (_, path) => oauth::OAuthError {
            status: StatusCode::NOT_FOUND,
            error: "invalid_request",
            description: format!(
                "no OAuth endpoint at {path}; this sandbox serves POST /oauth2/token and GET /oauth2/authorize"
            ),
        }
        .to_response(),
    }
}

/// Percent-encodes a value for a query string.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
