//! Log output through `tracing`: text or JSON lines, with a filter that a config reload can
//! change in place.
//!
//! Personal data never reaches a log line: handlers and the engine log ids (campaign, dial
//! request, contact, batch), never phone numbers or attribute values.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::{LogConfig, LogFormat};

type FilterHandle = reload::Handle<EnvFilter, Registry>;

// The subscriber is process-global, and so is the handle that changes its filter.
static FILTER: OnceLock<FilterHandle> = OnceLock::new();

/// PostgreSQL's notices (`relation "_sqlx_migrations" already exists, skipping` on every
/// start) are the server talking to itself: shown only as warnings, unless the level names
/// them.
const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

/// `level` with [`QUIET_NOTICES`], unless it says something of its own about them.
fn filter_for(level: &str) -> Result<EnvFilter, String> {
    let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
    if level.contains("sqlx") {
        return Ok(filter);
    }
    Ok(match QUIET_NOTICES.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    })
}

/// Installs the global subscriber: `RUST_LOG` if set, else `log.level`. Text has colours
/// only on a terminal (and never with `NO_COLOR` set), so files and log shippers get plain
/// lines.
pub fn init(config: &LogConfig) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| config.level.clone());
    let filter = filter_for(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests) fails harmlessly and keeps the first subscriber.
    let installed = match config.format {
        LogFormat::Text => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            registry
                .with(tracing_subscriber::fmt::layer().with_ansi(colour))
                .try_init()
        }
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json())
            .try_init(),
    };
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// Replaces the log filter (config reload).
pub fn set_level(level: &str) -> Result<(), String> {
    let filter = filter_for(level)?;
    match FILTER.get() {
        Some(handle) => handle.reload(filter).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}
