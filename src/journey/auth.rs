//! Authentication with the API platform, when the journey is given a key (`--client-key`,
//! `--kid`, `--api-key`): a signed-JWT application token, then the simulated healthcare-worker
//! login for the user-restricted token PDS wants for the registration change.

use std::path::PathBuf;

use bytes::Bytes;
use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey};

use super::client::ConsumerClient;

/// The application's credentials.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct JourneyAuth {
    /// RSA private key (PEM) whose public half the scenario registers for the application.
    pub client_key: PathBuf,
    pub kid: String,
    pub api_key: String,
    /// The application's client secret, for an application registered with one: the token
    /// endpoint refuses its authorization-code exchange without it.
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// A signed client assertion for `token_url`, valid for four minutes.
pub(super) fn client_assertion(auth: &JourneyAuth, token_url: &str) -> Result<String, String> {
    let pem = std::fs::read(&auth.client_key).map_err(|e| {
        format!(
            "cannot read --client-key {}: {e}",
            auth.client_key.display()
        )
    })?;
    let key = EncodingKey::from_rsa_pem(&pem).map_err(|e| {
        format!(
            "--client-key {} is not an RSA private key in PEM: {e}",
            auth.client_key.display()
        )
    })?;
    let mut header = jsonwebtoken::Header::new(Algorithm::RS512);
    header.kid = Some(auth.kid.clone());
    let claims = serde_json::json!({
        "iss": auth.api_key,
        "sub": auth.api_key,
        "aud": token_url,
        "jti": uuid::Uuid::new_v4().to_string(),
        "exp": chrono::Utc::now().timestamp() + 240,
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| format!("cannot sign: {e}"))
}

/// Posts a form to the token endpoint; the access token or a sentence saying why not.
pub(super) async fn token(
    client: &ConsumerClient,
    token_url: &str,
    form: &[(&str, &str)],
) -> Result<String, String> {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::platform::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let answer = client
        .send(
            Method::POST,
            token_url,
            &[(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            Some(Bytes::from(body)),
        )
        .await?;
    let json = answer.json().unwrap_or_default();
    match json["access_token"].as_str() {
        Some(t) if answer.status == 200 => Ok(t.to_owned()),
        _ => Err(format!(
            "{} {}: {}",
            answer.status,
            json["error"].as_str().unwrap_or("error"),
            json["error_description"].as_str().unwrap_or("no token")
        )),
    }
}

/// The simulated login: the code from the authorize redirect.
pub(super) async fn login_code(
    client: &ConsumerClient,
    base: &str,
    api_key: &str,
    redirect: &str,
) -> Result<String, String> {
    let url = format!(
        "{base}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&state={}",
        crate::platform::form_encode(api_key),
        crate::platform::form_encode(redirect),
        uuid::Uuid::new_v4().simple()
    );
    let answer = client.send(Method::GET, &url, &[], None).await?;
    let location = answer
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .map(str::to_owned)
        .ok_or_else(|| {
            let json = answer.json().unwrap_or_default();
            format!(
                "{} {}",
                answer.status,
                json["error_description"]
                    .as_str()
                    .unwrap_or("no code in the redirect")
            )
        })
}
