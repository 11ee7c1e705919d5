//! The token endpoint's state as the state dir keeps it: access tokens, authorization codes not
//! yet exchanged, and the `jti`s seen (so a replayed assertion is still refused after a restart).
//! Rate-limit windows last a second and are not kept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Code, Grant, OAuth};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOAuth {
    #[serde(default)]
    pub tokens: Vec<SavedToken>,
    #[serde(default)]
    pub codes: Vec<SavedCode>,
    /// API key, `jti`, the assertion's `exp` (seconds since 1970).
    #[serde(default)]
    pub jtis: Vec<(String, String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedToken {
    pub token: String,
    pub api_key: String,
    pub app_name: String,
    pub expires: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedCode {
    pub code: String,
    pub api_key: String,
    pub redirect_uri: String,
    pub role: String,
    pub expires: DateTime<Utc>,
}

impl OAuth {
    /// What the endpoint holds now, oldest first.
    pub fn saved(&self) -> SavedOAuth {
        let tokens = {
            let inner = self.tokens.lock();
            inner
                .order
                .iter()
                .filter_map(|key| inner.values.get(key).map(|v| (key, v)))
                .map(|(token, (grant, expires))| SavedToken {
                    token: token.clone(),
                    api_key: grant.api_key.clone(),
                    app_name: grant.app_name.clone(),
                    expires: *expires,
                    role: grant.role.clone(),
                })
                .collect()
        };
        let codes = {
            let inner = self.codes.lock();
            inner
                .order
                .iter()
                .filter_map(|key| inner.values.get(key).map(|v| (key, v)))
                .map(|(code, (c, expires))| SavedCode {
                    code: code.clone(),
                    api_key: c.api_key.clone(),
                    redirect_uri: c.redirect_uri.clone(),
                    role: c.role.clone(),
                    expires: *expires,
                })
                .collect()
        };
        let jtis = self
            .jtis
            .iter()
            .map(|e| (e.key().0.clone(), e.key().1.clone(), *e.value()))
            .collect();
        SavedOAuth {
            tokens,
            codes,
            jtis,
        }
    }

    /// Puts back what [`OAuth::saved`] gave, in place of what the endpoint holds; tokens of an
    /// application the scenario no longer registers are dropped, and the bounds still apply.
    pub fn restore(&self, saved: SavedOAuth, now: DateTime<Utc>) {
        self.reset();
        for t in saved.tokens {
            if !self.is_api_key(&t.api_key) {
                continue;
            }
            let grant = Grant {
                api_key: t.api_key,
                app_name: t.app_name,
                expires: t.expires,
                role: t.role,
            };
            self.tokens.insert(t.token, grant, t.expires, now);
        }
        for c in saved.codes {
            if !self.is_api_key(&c.api_key) {
                continue;
            }
            let code = Code {
                api_key: c.api_key,
                redirect_uri: c.redirect_uri,
                role: c.role,
            };
            self.codes.insert(c.code, code, c.expires, now);
        }
        for (api_key, jti, exp) in saved.jtis {
            self.jtis.insert((api_key, jti), exp);
        }
    }
}
