//! The command line: `serve`, `migrate`, `check-config`, `demo`, `simulate`, `bench`,
//! `connect-emulator`, the operator's look at a running daemon (`campaigns`, `progress`,
//! `request`), and the calling rules' `dnc` and `audit`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, EnvOverrides};
use crate::db::Database;

const CONFIG_DEFAULT: &str = "config/dialer.toml";

/// Outbound campaign dialer engine, wire-compatible with Amazon Connect Outbound Campaigns.
#[derive(Debug, Parser)]
#[command(name = "dialer", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The `--config` argument of the commands that read the config file.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Config file (TOML). Missing at the default path means built-in defaults.
    #[arg(long, default_value = CONFIG_DEFAULT)]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: the API, the queue services, /metrics.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Listen address, overriding `server.listen`.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
        /// Serve the well-known example key (AKIDLOCALDIALER) on a non-loopback address
        /// anyway, e.g. in a test container; refused otherwise.
        #[arg(
            long,
            env = crate::app::ALLOW_EXAMPLE_KEY_ENV,
            value_parser = clap::builder::FalseyValueParser::new()
        )]
        allow_example_key: bool,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Validate a config file; exits non-zero listing every problem.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Run a campaign end to end on the embedded defaults, with live progress.
    Demo(crate::demo::DemoArgs),
    /// What-if simulation of a shift: the engine's pacing against the simulated contact
    /// center on a virtual clock.
    Simulate(crate::whatif::SimulateArgs),
    /// Benchmarks that print their figures.
    Bench {
        #[command(subcommand)]
        bench: crate::bench::BenchCommand,
    },
    /// Serve an emulated Amazon Connect instance (BatchPutContact, GetCurrentMetricData,
    /// DescribeContact, StartOutboundChatContact) on the simulated contact center, posting
    /// contact events to webhooks as EventBridge would.
    ConnectEmulator(crate::contact_center::emulator::EmulatorArgs),
    #[command(flatten)]
    Inspect(crate::inspect::InspectCommand),
    /// Do-not-call lists: the account's, or a campaign's with --campaign. Works on the
    /// database of the config file (or DATABASE_URL).
    Dnc(crate::rules::cli::DncArgs),
    /// Export the decision ledger of a campaign: every dial and refusal the calling rules
    /// made, with numbers hashed unless --clear-numbers.
    Audit(crate::rules::cli::AuditArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn config_arg_is_default(path: &std::path::Path) -> bool {
    path.as_os_str() == CONFIG_DEFAULT
}

fn load(arg: &ConfigArg) -> anyhow::Result<Config> {
    let is_default = config_arg_is_default(&arg.config);
    Ok(Config::load(
        &arg.config,
        is_default,
        &EnvOverrides::from_env(),
    )?)
}

fn init_logging(config: &Config) {
    crate::logging::init(&config.log);
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve {
            config,
            listen,
            allow_example_key,
        } => {
            let config_path = config.config.clone();
            let mut config = load(&config)?;
            if let Some(listen) = listen.clone() {
                config.server.listen = listen;
                let problems = config.validate();
                if !problems.is_empty() {
                    anyhow::bail!("--listen: {}", problems.join("; "));
                }
            }
            // Before the database is touched: nothing should start on such a config.
            crate::app::refuse_example_key_in_public(&config, allow_example_key)?;
            init_logging(&config);
            let source = crate::reload::ConfigSource {
                is_default: config_arg_is_default(&config_path),
                path: config_path,
                listen_override: listen,
            };
            runtime.block_on(serve(config, source))
        }
        Command::Migrate { config } => {
            let config = load(&config)?;
            init_logging(&config);
            runtime.block_on(async {
                let db = Database::open(&config.database).await?;
                tracing::info!("migrations applied");
                db.close().await;
                Ok(())
            })
        }
        Command::CheckConfig { file } => {
            Config::load(&file, false, &EnvOverrides::default())?;
            println!("{}: ok", file.display());
            Ok(())
        }
        Command::Bench { bench } => runtime.block_on(crate::bench::run(bench)),
        Command::Simulate(args) => crate::whatif::run(args),
        Command::ConnectEmulator(args) => {
            let config = load(&ConfigArg {
                config: args.config.clone(),
            })?;
            init_logging(&config);
            runtime.block_on(crate::contact_center::emulator::run(args, config))
        }
        Command::Inspect(command) => runtime.block_on(crate::inspect::run(command)),
        Command::Dnc(args) => runtime.block_on(crate::rules::cli::run_dnc(args)),
        Command::Audit(args) => runtime.block_on(crate::rules::cli::run_audit(args)),
        Command::Demo(args) => {
            let quiet = Config {
                log: crate::config::LogConfig {
                    level: "warn".to_string(),
                    ..Default::default()
                },
                ..Default::default()
            };
            init_logging(&quiet);
            runtime.block_on(crate::demo::run(args))
        }
    }
}

async fn serve(config: Config, source: crate::reload::ConfigSource) -> anyhow::Result<()> {
    if !config.auth.enabled {
        tracing::warn!("auth.enabled = false: API requests are NOT authenticated; use this only on a trusted network");
    }
    let db = Database::open(&config.database).await?;
    let addr = config.listen_addr().map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (server.listen)"))?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    tracing::info!(%endpoint, "dialer listening; metrics at {endpoint}/metrics");
    tracing::info!("try: {}", crate::app::cli_hint(&config, &endpoint));

    let cancel = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(cancel.clone()));
    let hooks = crate::app::Hooks {
        config_source: Some(source),
        ..Default::default()
    };
    let result = crate::app::run_with(Arc::new(config), db.pools(), listener, cancel, hooks).await;
    db.close().await;
    tracing::info!("dialer stopped");
    Ok(result?)
}

pub(crate) async fn shutdown_on_signal(cancel: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
    cancel.cancel();
}
