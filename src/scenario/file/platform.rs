//! The scenario's platform sections as written: `auth:`, `applications:` and `faults:`.
//!
//! ```yaml
//! auth: required            # or off (the default; the config's `auth` when absent)
//! applications:
//!   - name: New Practice GP System
//!     api_key: new-practice-key
//!     jwks: keys/new-practice.jwks.json    # or public_key: keys/new-practice.pem with kid:
//!     rate_limit: 5                        # requests per second to PDS; 429 beyond
//!     secret: s3cret                       # for the user-restricted code exchange
//!     redirect_uri: https://gp.example/cb  # where the simulated login may redirect
//!                                          # (default: the sandbox's {public_url}/callback)
//! faults:
//!   - service: pds
//!     latency_ms: 2000
//!     label: PDS is slow
//! ```
//!
//! Key files are relative to the scenario file.

use serde::Deserialize;
use serde_saphyr::Spanned;

/// An application as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplicationEntry {
    /// Required.
    pub name: Option<Spanned<String>>,
    /// Required, unique.
    pub api_key: Option<Spanned<String>>,
    pub secret: Option<String>,
    /// A JWKS file: every key in it, each with its `kid`.
    pub jwks: Option<Spanned<String>>,
    /// An RSA public key in PEM; needs `kid`.
    pub public_key: Option<Spanned<String>>,
    pub kid: Option<Spanned<String>>,
    /// Requests per second to PDS.
    pub rate_limit: Option<Spanned<u32>>,
    /// Where `GET /oauth2/authorize` may send the browser back (an absolute http(s) URL).
    pub redirect_uri: Option<Spanned<String>>,
}
