//! Running a parsed command line: the body of every command. Writing answers (and `--json`
//! documents) to standard output is this module's job, so `clippy::print_stdout` is allowed
//! here (in `cli.rs`) and nowhere else in the library.

use std::process::ExitCode;

use crate::cli::{CertsArgs, Cli, Command, GenerateFormat, ScenarioArgs, ServeArgs};
use crate::config::Config;
use crate::{Clock, Sandbox, pki, scenario};

/// Exit code for a bad flag, config or scenario (README.md, "Commands and options"; sysexits EX_USAGE).
pub const EXIT_USAGE: u8 = 64;

/// Runs a parsed command line to its exit code: logging to stderr, the async runtime, then
/// the command.
pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        None => runtime.block_on(serve(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
        Some(Command::Check { files }) => check(&files),
        Some(Command::Generate {
            patients,
            seed,
            out,
            format,
        }) => generate(patients, seed, &out, format),
        Some(Command::Certs(args)) => match &args.from_sandbox {
            Some(url) => runtime.block_on(certs_from_sandbox(
                url,
                &args.out,
                args.admin_key.as_deref(),
            )),
            None => certs(&args),
        },
        Some(Command::Keys(args)) => keys(&args),
        Some(Command::Journey(args)) => runtime.block_on(journey(args)),
        Some(Command::Conformance(args)) => runtime.block_on(conformance(args)),
        Some(Command::ProviderCheck(args)) => {
            let (code, out, err) = runtime.block_on(crate::provider_check::cli::run(&args));
            print!("{out}");
            eprint!("{err}");
            ExitCode::from(code)
        }
        Some(Command::Scenario(args)) => scenario_command(&args),
        Some(Command::Healthcheck { url }) => runtime.block_on(healthcheck(&url)),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SANDBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: logs piped to a file or `docker logs` stay plain.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Plays the new practice's side; prints each step as it ends (or one JSON document).
async fn journey(args: crate::cli::JourneyArgs) -> ExitCode {
    let options = crate::journey::JourneyOptions {
        patient: args.patient,
        as_ods: args.as_ods,
        skip_registration_change: args.skip_registration_change,
        sensitive: args.sensitive,
        from: args.from,
        sandbox_url: crate::cli::world_url(&args.sandbox, args.world.as_deref()),
        ssp_url: args.ssp,
        certs_dir: args.certs_dir,
        auth: match (args.client_key, args.kid, args.api_key) {
            (Some(client_key), Some(kid), Some(api_key)) => Some(crate::journey::JourneyAuth {
                client_key,
                kid,
                api_key,
                client_secret: args.client_secret,
            }),
            _ => None,
        },
        operation: args.operation,
        retrieve: crate::journey::RetrieveQuery {
            include: args.include,
            parts: args.filters,
        },
    };
    let json = args.json;
    let report = crate::journey::run(&options, |step| {
        if !json {
            println!("{}", step.line());
        }
    })
    .await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!();
        print!("{}", report.summary_text());
    }
    ExitCode::from(report.outcome.exit_code())
}

/// Prints the consumer's conformance report; the exit code gates a CI pipeline.
async fn conformance(args: crate::cli::ConformanceArgs) -> ExitCode {
    let options = crate::conformance::remote::Options {
        sandbox: crate::cli::world_url(&args.sandbox, args.world.as_deref()),
        ods: args.as_ods,
        patient: args.patient,
        since: args.since,
        last: args.last,
        json: args.json,
        junit: args.junit,
        evidence: args.evidence,
        admin_key: args.admin_key,
    };
    let (code, out, err) = crate::conformance::remote::run(&options).await;
    print!("{out}");
    eprint!("{err}");
    ExitCode::from(code)
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// Loads the scenarios given, or the built-in default world when only the default was asked for
/// and there is no `scenarios/default.yaml` here (the sandbox then runs from any folder).
fn load_world(
    paths: &[std::path::PathBuf],
    limits: scenario::load::ParseLimits,
) -> Result<scenario::World, Vec<scenario::ScenarioError>> {
    if scenario::builtin::use_built_in(paths) {
        tracing::info!(
            "No {} here: using the built-in default scenario (`spine-sandbox scenario --write-default DIR` writes it out to edit).",
            scenario::builtin::DEFAULT_PATH
        );
        return scenario::builtin::default_world(today());
    }
    let default = [std::path::PathBuf::from(scenario::builtin::DEFAULT_PATH)];
    scenario::load::load_paths_with(
        if paths.is_empty() { &default } else { paths },
        today(),
        limits,
    )
}

/// `scenario --print-default` / `--write-default DIR`.
fn scenario_command(args: &ScenarioArgs) -> ExitCode {
    if args.print_default {
        // Written, not print!-ed: `scenario --print-default | head` closes the pipe early, and
        // that is no failure of ours.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return match out
            .write_all(scenario::builtin::DEFAULT_YAML.as_bytes())
            .and_then(|()| out.flush())
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write the default scenario: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(dir) = &args.write_default else {
        return ExitCode::from(EXIT_USAGE);
    };
    match scenario::builtin::write_default(dir) {
        Ok(files) => {
            for file in &files {
                println!("created {}", file.display());
            }
            println!(
                "Run it with: spine-sandbox serve --scenario {}",
                dir.join("default.yaml").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("error: cannot write into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn check(files: &[std::path::PathBuf]) -> ExitCode {
    match scenario::load::load_paths_with(files, today(), env_parse_limits()) {
        Ok(world) => {
            println!(
                "ok: {} practices, {} practitioners, {} patients",
                world.practices.len(),
                world.practitioners.len(),
                world.patients.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{} problem(s) found", errors.len());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `generate --patients N --seed S --out DIR`: writes the world and says how to use it.
fn generate(patients: usize, seed: u64, out: &std::path::Path, format: GenerateFormat) -> ExitCode {
    let format = match format {
        GenerateFormat::Yaml => scenario::generate::Format::Yaml,
        GenerateFormat::Json => scenario::generate::Format::Json,
    };
    let files = match scenario::generate::generate(patients, seed).files(format) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    match scenario::generate::write(out, &files) {
        Ok(()) => {
            println!(
                "wrote {patients} patients in {} files to {}; serve them with --scenario {}",
                files.len(),
                out.display(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The parser limits the environment or `SANDBOX_CONFIG` set, for the commands that take no
/// configuration flags (`check`, `certs`); the defaults when those do not parse.
fn env_parse_limits() -> scenario::load::ParseLimits {
    Config::load(
        None,
        &Config::process_env(),
        &crate::config::Overrides::default(),
    )
    .map(|c| scenario::load::ParseLimits::of(&c))
    .unwrap_or_default()
}

/// `certs --out DIR`: the development PKI for the scenarios' ASIDs, creating only what is
/// missing; lists what it wrote and kept.
/// Writes a test application's key pair and JWKS, then says how to use them.
fn keys(args: &crate::cli::KeysArgs) -> ExitCode {
    use crate::platform::keys;
    let files = match keys::write_key_pair(&args.out, &args.kid, args.bits) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let api_key = args.api_key.as_deref().unwrap_or("<your API key>");
    println!(
        "created {} (private: keep it to sign with)",
        files.private_key.display()
    );
    println!("created {}", files.public_key.display());
    println!("created {}", files.jwks.display());
    println!();
    println!("Register the public key in a scenario (paths are relative to the scenario file):");
    println!();
    println!("auth: required");
    println!("applications:");
    println!("  - name: My test application");
    println!("    api_key: {api_key}");
    println!("    jwks: {}", files.jwks.display());
    println!();
    println!(
        "then sign client assertions with the private key and kid '{}', e.g.",
        args.kid
    );
    println!(
        "spine-sandbox journey --client-key {} --kid {} --api-key {api_key} ...",
        files.private_key.display(),
        args.kid
    );
    ExitCode::SUCCESS
}

fn certs(args: &CertsArgs) -> ExitCode {
    let world = match load_world(&args.scenario, env_parse_limits()) {
        Ok(w) => w,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "error: the scenario has {} problem(s); no certificates written",
                errors.len()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let hosts = pki::ssp_hosts(None, &args.hosts);
    let ensured = pki::ensure(&args.out, &pki::client_systems(&world), &hosts).and_then(|mut r| {
        let providers = pki::provider::ensure_providers(&args.out, &args.provider_hosts)?;
        r.created.extend(providers.created);
        r.kept.extend(providers.kept);
        if args.negative_set {
            let negative = pki::negative::ensure_negative_set(&args.out)?;
            r.created.extend(negative.created);
            r.kept.extend(negative.kept);
        }
        Ok(r)
    });
    match ensured {
        Ok(report) => {
            for path in &report.created {
                println!("created {}", path.display());
            }
            for path in &report.kept {
                println!("kept    {}", path.display());
            }
            if !report.kept.is_empty() {
                println!(
                    "Existing files were kept; delete {} for a fresh PKI.",
                    args.out.display()
                );
            }
            println!(
                "SSP certificate names: {}. Trust {} (see certs/README.md).",
                hosts.join(", "),
                pki::Layout::new(&args.out).ca_cert().display()
            );
            if !args.provider_hosts.is_empty() {
                println!(
                    "Provider server certificates are in {}; the provider must trust {} for SSP's client certificate.",
                    args.out.join(pki::provider::PROVIDERS_DIR).display(),
                    pki::Layout::new(&args.out).ca_cert().display()
                );
            }
            let ca = pki::Layout::new(&args.out).ca_cert();
            if report.created.contains(&ca) {
                eprintln!(
                    "\nNOTE: {} is a NEW certificate authority. Only a sandbox started with \
                     --certs-dir {} trusts these certificates: one already running with another \
                     folder refuses them during the TLS handshake, before it can say why (your \
                     client reports a TLS error). For a running sandbox, use its folder, or copy \
                     its certificates: spine-sandbox certs --out {} --from-sandbox http://localhost:8080",
                    ca.display(),
                    args.out.display(),
                    args.out.display()
                );
            }
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(e @ pki::PkiError::Host { .. }) => {
            eprintln!("error: --host / --provider-host: {e}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `certs --out DIR --from-sandbox URL`: the running sandbox's CA and every practice's client
/// certificate and key, fetched over its admin API (nothing overwritten).
async fn certs_from_sandbox(url: &str, out: &std::path::Path, admin_key: Option<&str>) -> ExitCode {
    use crate::conformance::remote::get;
    let base = url.trim_end_matches('/');
    let scenario = match get(&format!("{base}/_admin/scenario"), admin_key).await {
        Ok(body) => body,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let asids: Vec<String> = serde_json::from_slice::<serde_json::Value>(&scenario)
        .ok()
        .and_then(|v| {
            v["practices"].as_array().map(|ps| {
                ps.iter()
                    .filter_map(|p| p["asid"].as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default();
    let layout = pki::Layout::new(out);
    if let Err(e) = std::fs::create_dir_all(layout.clients_dir()) {
        eprintln!(
            "error: cannot create {}: {e}",
            layout.clients_dir().display()
        );
        return ExitCode::FAILURE;
    }
    let mut files = vec![("ca.pem".to_owned(), layout.ca_cert())];
    for asid in &asids {
        files.push((format!("clients/{asid}.pem"), layout.client_cert(asid)));
        files.push((format!("clients/{asid}-key.pem"), layout.client_key(asid)));
    }
    for (remote, path) in files {
        if path.exists() {
            println!("kept    {}", path.display());
            continue;
        }
        let body = match get(&format!("{base}/_admin/certificates/{remote}"), admin_key).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &body));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("copied  {}", path.display());
    }
    println!(
        "These are the certificates the sandbox at {base} trusts ({} ASIDs). Trust {}.",
        asids.len(),
        layout.ca_cert().display()
    );
    ExitCode::SUCCESS
}

/// What a team needs first, on stderr: where the page and the certificates are, which ASID is
/// which practice's, and how to grade a consumer.
fn banner(running: &crate::sandbox::RunningSandbox) -> String {
    use std::fmt::Write as _;
    let shared = &running.shared;
    let local = |a: std::net::SocketAddr| {
        if a.ip().is_unspecified() {
            format!("localhost:{}", a.port())
        } else {
            a.to_string()
        }
    };
    let http = format!("http://{}", local(running.http_addr));
    let certs = std::fs::canonicalize(&shared.config.certs_dir)
        .unwrap_or_else(|_| shared.config.certs_dir.clone());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nspine-sandbox is ready{}",
        shared
            .world
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" ({n})"))
    );
    let _ = writeln!(out, "  web page      {http}/");
    let _ = writeln!(
        out,
        "  SSP           https://{} (mutual TLS)",
        local(running.ssp_addr)
    );
    let _ = writeln!(
        out,
        "  certificates  {} (trust ca.pem; present clients/<ASID>.pem with clients/<ASID>-key.pem; also at {http}/_admin/certificates/)",
        certs.display()
    );
    let _ = writeln!(out, "  practices     ODS       ASID          name");
    for p in &shared.world.practices {
        let _ = writeln!(
            out,
            "                {:<9} {:<13} {}{}",
            p.ods.to_string(),
            p.asid.to_string(),
            p.name,
            if p.provider { "" } else { " (consumer only)" }
        );
    }
    let _ = writeln!(
        out,
        "  grade a consumer: spine-sandbox conformance --as <ODS> --sandbox {http}"
    );
    out
}

async fn serve(args: ServeArgs) -> ExitCode {
    let config = match Config::load(
        args.config.clone(),
        &Config::process_env(),
        &args.overrides(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let world = match load_world(&config.scenario, scenario::load::ParseLimits::of(&config)) {
        Ok(w) => w,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "error: the scenario has {} problem(s); not starting",
                errors.len()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let running = match Sandbox::start(config, world, Clock::system()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = shutdown_signal();
    eprint!("{}", banner(&running));
    println!("{}", running.listening_line());
    stop.await;
    tracing::info!("Shutting down: draining open requests.");
    running.shutdown().await;
    ExitCode::SUCCESS
}

/// Registers the SIGTERM/SIGINT handlers now and returns a future that ends on the first
/// signal. Registering before the listening line is printed matters: a supervisor (or a test)
/// may send SIGTERM as soon as it reads that line, and an unregistered SIGTERM kills outright.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn healthcheck(url: &str) -> ExitCode {
    match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        crate::http::get_status(url),
    )
    .await
    {
        Ok(Ok(200)) => ExitCode::SUCCESS,
        Ok(Ok(status)) => {
            eprintln!("unhealthy: {url} answered {status}");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("unhealthy: {url} did not answer within 2 s");
            ExitCode::FAILURE
        }
    }
}
