//! The command line (README.md, "Commands and options"): parsing here, running each command in
//! `cli/run.rs`.

// Printing answers is what running a command is for; the rest of the library may not.
#[allow(clippy::print_stdout)]
mod run;

pub use run::{EXIT_USAGE, run};

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "spine-sandbox",
    version,
    about = "A local stand-in for the NHS Spine services behind GP Connect's migrate structured record"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for `serve`, also accepted without the word `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every emulated service on the scenario(s) given (the default command).
    Serve(ServeArgs),
    /// Validate scenario files; print every problem as FILE:LINE:COLUMN: message.
    Check {
        /// Scenario files or folders of *.yaml.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write a generated scenario world (valid NHS numbers, every clinical area and journey
    /// path) into a folder, in files of at most 2,000 patients; the same seed gives the same world.
    Generate {
        /// How many patients.
        #[arg(long, value_name = "N")]
        patients: usize,
        /// Seed of the generator.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// Folder to write into (created if missing; must hold no *.yaml or *.json yet).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// How the patients' files are written: `json` loads several times faster, `yaml`
        /// reads best. The practices' file is YAML either way.
        #[arg(long, value_enum, default_value_t = GenerateFormat::Json)]
        format: GenerateFormat,
    },
    /// Write a fresh development PKI (CA, SSP server and client certificates) into a folder.
    Certs(CertsArgs),
    /// Make an RSA key pair and its JWKS for a test application of the signed-JWT pattern
    /// (register it under the scenario's `applications:`; sign with `journey --client-key`).
    Keys(KeysArgs),
    /// Play the new practice's side of the migration journey against a running sandbox.
    Journey(JourneyArgs),
    /// Grade a consumer's migration journeys from the journal; exit 0 all pass, 2 a check
    /// failed, 1 no report (sandbox unreachable or no journey by this consumer).
    Conformance(ConformanceArgs),
    /// Grade a practice's GP Connect migrate provider (built-in or external) through the
    /// sandbox's SSP; exit 0 all pass, 2 a check failed, 1 no report.
    ProviderCheck(crate::provider_check::cli::ProviderCheckArgs),
    /// The built-in default scenario: print it, or write it out to start your own from.
    Scenario(ScenarioArgs),
    /// Exit 0 when the sandbox at URL answers 200 within 2 seconds (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// Scenario file or folder of *.yaml (repeatable) [env: SANDBOX_SCENARIO, comma-separated]
    #[arg(long, value_name = "PATH")]
    pub scenario: Vec<PathBuf>,
    /// Plain-HTTP listener: PDS, SDS, providers, admin, web page [env: SANDBOX_HTTP_ADDR]
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// SSP listener, TLS with mutual authentication [env: SANDBOX_SSP_ADDR]
    #[arg(long, value_name = "ADDR")]
    pub ssp_addr: Option<SocketAddr>,
    /// Base URL advertised in SDS addresses and Binary URLs [env: SANDBOX_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// PKI folder; missing files are generated, existing ones kept [env: SANDBOX_CERTS_DIR]
    #[arg(long, value_name = "DIR")]
    pub certs_dir: Option<PathBuf>,
    /// Bytes of migrate Bundles kept for repeated requests; 0 turns the cache off
    /// [env: SANDBOX_MIGRATE_CACHE_MAX_BYTES] [default: 268435456]
    #[arg(long, value_name = "BYTES")]
    pub migrate_cache_max_bytes: Option<u64>,
    /// Keep what teams change in this folder and read it back at start, so a restart loses
    /// nothing [env: SANDBOX_STATE_DIR]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// This sandbox's name behind a router: new worlds are named NAME-<random>
    /// [env: SANDBOX_SHARD]
    #[arg(long, value_name = "NAME")]
    pub shard: Option<String>,
    /// Most worlds held besides the default one [env: SANDBOX_MAX_WORLDS] [default: 1000]
    #[arg(long, value_name = "N")]
    pub max_worlds: Option<usize>,
    /// Remove worlds unused for this many seconds; 0 keeps them
    /// [env: SANDBOX_WORLD_IDLE_TIMEOUT_SECS] [default: 0]
    #[arg(long = "world-idle-timeout", value_name = "SECS")]
    pub world_idle_timeout_secs: Option<u64>,
    /// TOML configuration file [env: SANDBOX_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            scenario: self.scenario.clone(),
            http_addr: self.http_addr,
            ssp_addr: self.ssp_addr,
            public_url: self.public_url.clone(),
            certs_dir: self.certs_dir.clone(),
            migrate_cache_max_bytes: self.migrate_cache_max_bytes,
            state_dir: self.state_dir.clone(),
            shard: self.shard.clone(),
            max_worlds: self.max_worlds,
            world_idle_timeout_secs: self.world_idle_timeout_secs,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CertsArgs {
    /// Folder to write ca.pem, ssp.pem and clients/<ASID>.pem into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Extra host name or IP for the SSP server certificate (repeatable).
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Host name or IP of an external GP Connect provider: writes providers/<FQDN>.pem and
    /// providers/<FQDN>-key.pem, a server certificate from the sandbox CA (repeatable).
    #[arg(long = "provider-host", value_name = "FQDN")]
    pub provider_hosts: Vec<String>,
    /// Also write ssp-negative/: SSP client certificates that are valid, expired, for the wrong
    /// host, from another CA and revoked, and a CRL listing the revoked one (an external
    /// provider's negative tests).
    #[arg(long)]
    pub negative_set: bool,
    /// Scenario files whose ASIDs get client certificates [default: scenarios/default.yaml, or
    /// the built-in default scenario when there is none here].
    #[arg(long, value_name = "PATH")]
    pub scenario: Vec<PathBuf>,
    /// Make no new PKI: copy the CA and the client certificates and keys of the sandbox
    /// running at URL (its plain-HTTP address), the ones its SSP trusts.
    #[arg(long, value_name = "URL", conflicts_with_all = ["hosts", "scenario"])]
    pub from_sandbox: Option<String>,
    /// With --from-sandbox: the sandbox's admin key, when it asks for one.
    #[arg(
        long,
        value_name = "KEY",
        env = "SANDBOX_ADMIN_KEY",
        hide_env_values = true
    )]
    pub admin_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// The key's id: the `kid` header of the client assertions, and the files' names.
    #[arg(long, value_name = "KID")]
    pub kid: String,
    /// Folder to write <KID>.key.pem, <KID>.pub.pem and <KID>.jwks.json into (nothing is
    /// overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// RSA modulus size: 2048, 3072 or 4096 (the platform asks for 4096).
    #[arg(long, value_name = "BITS", default_value_t = 4096)]
    pub bits: usize,
    /// The application's API key, to print a ready scenario entry and journey command with.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ConformanceArgs {
    /// ODS code of the consumer (the new practice) to report on.
    #[arg(long = "as", value_name = "ODS")]
    pub as_ods: String,
    /// Plain-HTTP base URL of the sandbox.
    #[arg(long, default_value = "http://localhost:8080")]
    pub sandbox: String,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Only this patient's journeys.
    #[arg(long, value_name = "NHS")]
    pub patient: Option<String>,
    /// Only what happened after this journal sequence number (or at/after this RFC 3339 time):
    /// one run, for a CI pipeline.
    #[arg(long, value_name = "SEQ|TIME")]
    pub since: Option<String>,
    /// Only the consumer's last journey.
    #[arg(long)]
    pub last: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the evidence pack for NHS assurance into DIR: every hop's request and response,
    /// the record received, and an index of checks against NHS's test scripts.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// The sandbox's admin key, when it asks for one (bound beyond loopback).
    #[arg(
        long,
        value_name = "KEY",
        env = "SANDBOX_ADMIN_KEY",
        hide_env_values = true
    )]
    pub admin_key: Option<String>,
    /// A world on the sandbox (made with `POST /_admin/worlds`): its URLs are used instead of
    /// the default world's (docs/worlds.md).
    #[arg(long, value_name = "ID")]
    pub world: Option<String>,
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ScenarioArgs {
    /// Print the default scenario's YAML to stdout.
    #[arg(long)]
    pub print_default: bool,
    /// Write default.yaml and its documents/ into DIR (nothing is overwritten).
    #[arg(long, value_name = "DIR")]
    pub write_default: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct JourneyArgs {
    /// A world on the sandbox (made with `POST /_admin/worlds`): its URLs are used instead of
    /// the default world's (docs/worlds.md).
    #[arg(long, value_name = "ID")]
    pub world: Option<String>,
    /// NHS number of the patient to move.
    #[arg(long, value_name = "NHS")]
    pub patient: String,
    /// ODS code of the new practice (the consumer).
    #[arg(long = "as", value_name = "ODS")]
    pub as_ods: String,
    /// Do not change the registration on PDS first (expect NO_RELATIONSHIP).
    #[arg(long)]
    pub skip_registration_change: bool,
    /// Ask for sensitive information (includeSensitiveInformation true, conf/R).
    #[arg(long)]
    pub sensitive: bool,
    /// ODS code of the practice holding the record [default: the registered practice on PDS].
    #[arg(long, value_name = "ODS")]
    pub from: Option<String>,
    /// Plain-HTTP base URL of the sandbox (PDS, SDS).
    #[arg(long, default_value = "http://localhost:8080")]
    pub sandbox: String,
    /// SSP base URL.
    #[arg(long, default_value = "https://localhost:8443")]
    pub ssp: String,
    /// PKI folder holding ca.pem and clients/<ASID>.pem.
    #[arg(long, default_value = "certs")]
    pub certs_dir: PathBuf,
    /// Print the whole journey as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Authenticate with the platform first (for `auth: required`): the application's RSA
    /// private key in PEM; needs --kid and --api-key.
    #[arg(long, value_name = "PEM", requires_all = ["kid", "api_key"])]
    pub client_key: Option<PathBuf>,
    /// The `kid` of the client key, as registered in the scenario.
    #[arg(long, value_name = "KID", requires = "client_key")]
    pub kid: Option<String>,
    /// The application's API key (`iss` and `sub` of the client assertion).
    #[arg(long, value_name = "KEY", requires = "client_key")]
    pub api_key: Option<String>,
    /// The application's client secret, where the scenario registers one (`secret:`): sent
    /// with the login's authorization-code exchange.
    #[arg(long, value_name = "SECRET", requires = "client_key")]
    pub client_secret: Option<String>,
    /// `migrate` moves the patient and receives the whole record; `retrieve` reads chosen
    /// clinical areas for direct care ($gpc.getstructuredrecord), leaving the registration.
    #[arg(long, value_enum, default_value_t = crate::journey::Operation::Migrate)]
    pub operation: crate::journey::Operation,
    /// Retrieve: clinical areas to ask for, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "AREAS")]
    pub include: Vec<crate::journey::Area>,
    /// Retrieve: a filter as parameter.part=value (repeatable), e.g.
    /// includeConsultations.includeNumberOfMostRecent=3,
    /// includeReferrals.referralSearchPeriod=2020-01-01..2020-12-31; it asks for its area too.
    #[arg(long = "filter", value_name = "PARAM.PART=VALUE")]
    pub filters: Vec<String>,
}

/// `generate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenerateFormat {
    Json,
    Yaml,
}

/// The base URL of `world` on the sandbox at `sandbox` (the sandbox's own when none).
pub(crate) fn world_url(sandbox: &str, world: Option<&str>) -> String {
    let sandbox = sandbox.trim_end_matches('/');
    match world {
        Some(id) => format!("{sandbox}/worlds/{id}"),
        None => sandbox.to_owned(),
    }
}
