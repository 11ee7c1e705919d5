//! `spine-sandbox provider-check`: the command line of [`super::run`].

use std::path::PathBuf;

use super::report::{EXIT_NOT_RUN, Report};

#[derive(Debug, Clone, clap::Args)]
pub struct ProviderCheckArgs {
    /// ODS code of the practice whose GP Connect provider is checked (built-in or external).
    #[arg(long, value_name = "ODS")]
    pub practice: String,
    /// Plain-HTTP base URL of the sandbox (PDS, SDS, admin API).
    #[arg(long, default_value = "http://localhost:8080")]
    pub sandbox: String,
    /// Base URL of the sandbox's SSP.
    #[arg(long, default_value = "https://localhost:8443")]
    pub ssp: String,
    /// The sandbox's certificates folder (ca.pem and the consumer's clients/<ASID>.pem).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub certs_dir: PathBuf,
    /// ODS code of the consumer practice to ask as [default: the first other practice allowed
    /// to migrate].
    #[arg(long = "as", value_name = "ODS")]
    pub as_ods: Option<String>,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The sandbox's admin key, when it has one.
    #[arg(long, env = "SANDBOX_ADMIN_KEY", value_name = "KEY")]
    pub admin_key: Option<String>,
}

/// Runs the check; returns the exit code, what goes to stdout and what goes to stderr.
pub(crate) async fn run(args: &ProviderCheckArgs) -> (u8, String, String) {
    let options = super::Options {
        practice: args.practice.clone(),
        sandbox_url: args.sandbox.clone(),
        ssp_url: args.ssp.clone(),
        certs_dir: args.certs_dir.clone(),
        as_ods: args.as_ods.clone(),
        admin_key: args.admin_key.clone(),
    };
    let report: Report = match super::run(&options).await {
        Ok(r) => r,
        Err(e) => return (EXIT_NOT_RUN, String::new(), format!("error: {e}\n")),
    };
    let out = if args.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        report.text()
    };
    if let Some(path) = &args.junit
        && let Err(e) = std::fs::write(path, report.junit())
    {
        return (
            EXIT_NOT_RUN,
            out,
            format!(
                "error: cannot write the JUnit file {}: {e}\n",
                path.display()
            ),
        );
    }
    (report.exit_code(), out, String::new())
}
