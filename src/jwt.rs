//! The GP Connect audit JWT (`shared/spec/jwt.md`): unsigned (`alg: none`), three base64url parts
//! with an empty signature. This file holds the decoding shared by the provider and the journal.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
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

    proptest! {
        #[test]
        fn decode_never_panics(s in ".*") {
            let _ = decode(&s);
        }
    }
}
