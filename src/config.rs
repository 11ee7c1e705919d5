//! The `serve` options (README.md, "Commands and options"), layered with figment:
//! flag > `SANDBOX_*` environment > TOML file (`--config`, `SANDBOX_CONFIG`) > defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every option the sandbox runs with. Keys are the TOML file's keys and, upper-cased with a
/// `SANDBOX_` prefix, the environment variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Scenario files or folders merged into one world.
    pub scenario: Vec<PathBuf>,
    /// Plain-HTTP listener: PDS, SDS, providers, admin, web page.
    pub http_addr: SocketAddr,
    /// SSP listener (TLS with mutual authentication).
    pub ssp_addr: SocketAddr,
    /// Base URL advertised in SDS endpoint addresses and Binary URLs; `http://localhost:<http port>`
    /// when absent.
    pub public_url: Option<String>,
    /// PKI folder; missing files are generated at start, existing ones never overwritten.
    pub certs_dir: PathBuf,
    /// When set, SDS requires this value in the `apikey` header, as the real API platform does.
    pub sds_api_key: Option<String>,
    /// Largest request body accepted, in bytes (413 beyond it).
    pub max_body_bytes: usize,
    /// Seconds a client may take to send the request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a request may take end to end before it is answered with a timeout.
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send the request body once the headers are in (408 after).
    pub body_read_timeout_secs: u64,
    /// Seconds SSP waits for a provider before answering 504.
    pub forward_timeout_secs: u64,
    /// Entries the journal keeps before the oldest fall off.
    pub journal_capacity: usize,
    /// Bytes the journal's entries may hold before the oldest fall off.
    pub journal_max_bytes: usize,
    /// YAML nodes (mappings, lists, values) one scenario file may hold; a bigger file is refused
    /// with a message saying to split it or raise this.
    pub scenario_max_yaml_nodes: usize,
    /// Bytes of serialised migrate Bundles the providers keep for repeated requests, least
    /// recently used out first; 0 builds every Bundle afresh.
    pub migrate_cache_max_bytes: u64,
    /// `off` (the default, like the PDS sandbox) or `required`: PDS wants a token from
    /// `POST /oauth2/token` and SDS a registered application's `apikey`. A scenario's `auth:`
    /// overrides it.
    pub auth: AuthMode,
    /// Key the admin API (`/_admin/...` and the web page) asks for, in an `X-Sandbox-Key` header
    /// or the cookie `/?key=KEY` sets. With a non-loopback `http_addr` and none given, one is
    /// generated at start and logged.
    pub admin_key: Option<String>,
    /// Connections each listener serves at once; past it a connection is answered 503 with
    /// `Retry-After` and closed.
    pub max_connections: usize,
    /// Bytes of request bodies all requests together may hold while they arrive; past it a
    /// request is answered 503 with `Retry-After`.
    pub max_body_bytes_in_flight: usize,
    /// Seconds a client may leave an answer unread (nothing written) before its connection is
    /// closed.
    pub write_stall_timeout_secs: u64,
    /// Authorization codes (`GET /oauth2/authorize`) kept before the oldest are dropped.
    pub oauth_max_codes: usize,
    /// Access tokens kept before the oldest are dropped (expired ones go first).
    pub oauth_max_tokens: usize,
    /// PDS FHIR base URL (`http://front:8080/personal-demographics/FHIR/R4`) the built-in
    /// providers read registrations from, instead of this sandbox's own PDS: for running this
    /// sandbox as the external provider behind another (`docs/provider-assurance.md`).
    #[serde(default)]
    pub provider_pds_url: Option<String>,
    /// Folder where the sandbox keeps what teams change (PDS records, journal, faults, tokens,
    /// delivered records, consumer marks, the clock) and reads it back at start, so a restart
    /// loses nothing (`docs/scaling.md`, "State dir"). None: all of it lives in memory only.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Base URL advertised for SSP (a world's `urls.ssp`), when consumers reach SSP by another
    /// name than the public URL's host, e.g. `https://s1.ssp.example.org:8443` behind a router
    /// that picks the shard by TLS server name (`docs/scaling.md`); its host is also put in the
    /// SSP certificate made at start. Default: `https://<public host>:<SSP port>`.
    #[serde(default)]
    pub ssp_public_url: Option<String>,
    /// This sandbox's name among several behind one router: new worlds are named
    /// `{shard}-{random}`, so the router can send `/worlds/{shard}-*` here (docs/worlds.md).
    #[serde(default)]
    pub shard: Option<String>,
    /// How many worlds besides the default one the sandbox holds at most.
    #[serde(default = "default_max_worlds")]
    pub max_worlds: usize,
    /// Worlds unused this long are removed; 0 keeps them until deleted.
    #[serde(default)]
    pub world_idle_timeout_secs: u64,
    /// The most patients a world's scenario (shipped or uploaded) may hold.
    #[serde(default = "default_world_max_patients")]
    pub world_max_patients: usize,
    /// The largest uploaded scenario file a world may be made from, in bytes.
    #[serde(default = "default_world_max_scenario_bytes")]
    pub world_max_scenario_bytes: usize,
}

/// The default of `scenario_max_yaml_nodes`.
pub(crate) const DEFAULT_MAX_YAML_NODES: usize = 5_000_000;

/// The default of `migrate_cache_max_bytes` (256 MiB).
pub(crate) const DEFAULT_MIGRATE_CACHE_MAX_BYTES: u64 = 256 * 1024 * 1024;

fn default_max_worlds() -> usize {
    1000
}

fn default_world_max_patients() -> usize {
    1000
}

fn default_world_max_scenario_bytes() -> usize {
    4 * 1024 * 1024
}

/// Whether the platform's authentication is enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    Off,
    Required,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            scenario: vec![PathBuf::from("scenarios/default.yaml")],
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            ssp_addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_url: None,
            certs_dir: PathBuf::from("certs"),
            sds_api_key: None,
            max_body_bytes: 1024 * 1024,
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            body_read_timeout_secs: 30,
            forward_timeout_secs: 20,
            journal_capacity: 2000,
            journal_max_bytes: 64 * 1024 * 1024,
            scenario_max_yaml_nodes: DEFAULT_MAX_YAML_NODES,
            migrate_cache_max_bytes: DEFAULT_MIGRATE_CACHE_MAX_BYTES,
            auth: AuthMode::Off,
            admin_key: None,
            max_connections: 1024,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            write_stall_timeout_secs: 30,
            oauth_max_codes: 10_000,
            oauth_max_tokens: 10_000,
            provider_pds_url: None,
            state_dir: None,
            ssp_public_url: None,
            shard: None,
            max_worlds: default_max_worlds(),
            world_idle_timeout_secs: 0,
            world_max_patients: default_world_max_patients(),
            world_max_scenario_bytes: default_world_max_scenario_bytes(),
        }
    }
}

/// The options given on the command line, each `None` when the flag was not used.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scenario: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssp_addr: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certs_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrate_cache_max_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_worlds: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub world_idle_timeout_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Where the environment comes from; a map in tests, the process environment otherwise.
pub(crate) type EnvSource = Vec<(String, String)>;

impl Config {
    /// Builds the configuration from defaults, the TOML file, the environment and the flags.
    /// `config_file` is `--config`, falling back to `SANDBOX_CONFIG` in `env`.
    pub fn load(
        config_file: Option<PathBuf>,
        env: &EnvSource,
        flags: &Overrides,
    ) -> Result<Self, ConfigError> {
        let lookup = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = config_file.or_else(|| lookup("SANDBOX_CONFIG").map(PathBuf::from)) {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // figment's Env reads the process environment; we feed it our own list so tests can
        // run in parallel without touching the process environment.
        let mut env_values = serde_json::Map::new();
        for (key, value) in env {
            let Some(name) = key.strip_prefix("SANDBOX_") else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                "config" | "log" => {}
                // Other SANDBOX_* variables belong to other tools (docker compose's
                // SANDBOX_UID, SANDBOX_BIND, ...).
                other if !KEYS.contains(&other) => {}
                // Compose passes an unset variable on as empty: no key given.
                "admin_key" if value.trim().is_empty() => {}
                "admin_key" => {
                    env_values.insert(name, serde_json::Value::String(value.clone()));
                }
                "scenario" => {
                    let list: Vec<serde_json::Value> = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| serde_json::Value::String(s.to_owned()))
                        .collect();
                    env_values.insert(name, serde_json::Value::Array(list));
                }
                _ => {
                    env_values.insert(name, parse_env_value(value));
                }
            }
        }
        figment = figment
            .merge(Serialized::defaults(serde_json::Value::Object(env_values)))
            .merge(Serialized::defaults(flags));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Figment(Box::new(e)))?;
        config.check()?;
        Ok(config)
    }

    /// Reads the process environment (the only place that does).
    pub fn process_env() -> EnvSource {
        std::env::vars()
            .filter(|(k, _)| k.starts_with("SANDBOX_"))
            .collect()
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.scenario.is_empty() {
            return Err(ConfigError::Invalid("no scenario given".into()));
        }
        if let Some(url) = &self.ssp_public_url {
            let ok = url.starts_with("https://")
                && url.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "ssp_public_url '{url}' must be an absolute https:// URL"
                )));
            }
        }
        if let Some(url) = &self.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && url.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "public_url '{url}' must be an absolute http:// or https:// URL"
                )));
            }
        }
        if self.scenario_max_yaml_nodes == 0 {
            return Err(ConfigError::Invalid(
                "scenario_max_yaml_nodes must be above 0".into(),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be above 0".into(),
            ));
        }
        for (name, value) in [
            ("max_connections", self.max_connections),
            ("max_body_bytes_in_flight", self.max_body_bytes_in_flight),
            ("oauth_max_codes", self.oauth_max_codes),
            ("oauth_max_tokens", self.oauth_max_tokens),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be above 0")));
            }
        }
        if self
            .admin_key
            .as_deref()
            .is_some_and(|k| k.len() < 16 || !k.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid(
                "admin_key must be at least 16 printable characters without spaces".into(),
            ));
        }
        if let Some(shard) = &self.shard {
            let ok = (1..=20).contains(&shard.len())
                && shard
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(ConfigError::Invalid(format!(
                    "shard '{shard}' must be 1 to 20 of a-z, 0-9 and '-' (it starts world ids)"
                )));
            }
        }
        if self.journal_max_bytes < 64 * 1024 {
            return Err(ConfigError::Invalid(format!(
                "journal_max_bytes must be at least 65536 (one entry holds up to about 40 KiB), \
                 not {}",
                self.journal_max_bytes
            )));
        }
        Ok(())
    }

    /// The base URL advertised to consumers, without a trailing slash.
    pub fn public_url_for(&self, http_port: u16) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://localhost:{http_port}"),
        }
    }
}

/// Every configuration key (the TOML keys; `SANDBOX_<KEY>` in the environment).
pub(crate) const KEYS: [&str; 30] = [
    "scenario",
    "http_addr",
    "ssp_addr",
    "public_url",
    "certs_dir",
    "sds_api_key",
    "max_body_bytes",
    "header_read_timeout_secs",
    "request_timeout_secs",
    "body_read_timeout_secs",
    "forward_timeout_secs",
    "journal_capacity",
    "journal_max_bytes",
    "scenario_max_yaml_nodes",
    "migrate_cache_max_bytes",
    "auth",
    "admin_key",
    "max_connections",
    "max_body_bytes_in_flight",
    "write_stall_timeout_secs",
    "oauth_max_codes",
    "oauth_max_tokens",
    "provider_pds_url",
    "state_dir",
    "ssp_public_url",
    "shard",
    "max_worlds",
    "world_idle_timeout_secs",
    "world_max_patients",
    "world_max_scenario_bytes",
];

/// Environment values are strings; numbers are passed on as numbers so numeric keys extract.
fn parse_env_value(value: &str) -> serde_json::Value {
    match value.parse::<u64>() {
        Ok(n) => serde_json::Value::from(n),
        Err(_) => serde_json::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSource {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.ssp_addr.to_string(), "127.0.0.1:8443");
        assert_eq!(c.scenario, vec![PathBuf::from("scenarios/default.yaml")]);
        assert_eq!(c.certs_dir, PathBuf::from("certs"));
        assert_eq!(c.public_url_for(8080), "http://localhost:8080");
    }

    #[test]
    fn flag_beats_env_beats_file() {
        let dir = std::env::temp_dir().join(format!("sandbox-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "http_addr = \"127.0.0.1:1001\"\nssp_addr = \"127.0.0.1:1002\"\ncerts_dir = \"file-certs\"\n",
        )
        .unwrap();
        let e = env(&[
            ("SANDBOX_SSP_ADDR", "127.0.0.1:2002"),
            ("SANDBOX_CERTS_DIR", "env-certs"),
            ("SANDBOX_SCENARIO", "a.yaml, b.yaml"),
        ]);
        let flags = Overrides {
            certs_dir: Some(PathBuf::from("flag-certs")),
            ..Default::default()
        };
        let c = Config::load(Some(file), &e, &flags).unwrap();
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:1001");
        assert_eq!(c.ssp_addr.to_string(), "127.0.0.1:2002");
        assert_eq!(c.certs_dir, PathBuf::from("flag-certs"));
        assert_eq!(
            c.scenario,
            vec![PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::load(
            None,
            &env(&[("SANDBOX_HTTP_ADDR", "nonsense")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("http_addr"), "{err}");
        let err = Config::load(
            None,
            &env(&[("SANDBOX_PUBLIC_URL", "localhost")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("public_url"), "{err}");
        let err = Config::load(
            None,
            &env(&[("SANDBOX_JOURNAL_MAX_BYTES", "1000")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("journal_max_bytes must be at least"), "{err}");
        let c = Config::load(
            None,
            &env(&[("SANDBOX_BODY_READ_TIMEOUT_SECS", "5")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.body_read_timeout_secs, 5);
        assert_eq!(c.journal_max_bytes, 64 * 1024 * 1024);
    }
}
