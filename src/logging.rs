//! Log output through `tracing`: text or JSON lines, with a filter that a config reload can
//! change in place.
//!
//! Personal data never reaches a log line: handlers and the engine log ids (campaign, dial
//! request, contact, batch), never phone numbers or attribute values.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::{LogConfig, LogFormat};

type FilterHandle = reload::Handle<EnvFilter, Registry>;

// The subscriber is process-global, and so is the handle that changes its filter.
static FILTER: OnceLock<FilterHandle> = OnceLock::new();

/// Installs the global subscriber: `RUST_LOG` if set, else `log.level`.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests) fails harmlessly and keeps the first subscriber.
    let installed = match config.format {
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init(),
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
    let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
    match FILTER.get() {
        Some(handle) => handle.reload(filter).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}
