//! Wiring: builds the shared state, runs the HTTP server and the background services, and
//! shuts everything down in order on cancellation (stop accepting, finish in-flight
//! requests, stop services, close the pool, stop the embedded cluster).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::throttle::Throttle;
use crate::api::{self, AppState};
use crate::campaigns::ArnScheme;
use crate::clock::{Clock, WallClock};
use crate::config::Config;
use crate::contact_center::sim::SimContactCenter;
use crate::metrics as m;
use crate::queue::store::dial_request_depth;
use crate::queue::sweeper::Sweeper;
use crate::queue::DialRequestState;
use crate::reload::{ConfigSource, Reloadable, Reloader};

/// The access key shipped in `config/dialer.toml` for local use. Only this well-known pair
/// is ever printed in full (in the startup hint); real secrets never are.
pub const LOCAL_ACCESS_KEY: (&str, &str) = ("AKIDLOCALDIALER", "local-dialer-secret");

/// How often the queue-depth gauge is refreshed: a grouped count over the queue, cheap at
/// this interval even with millions of rows.
const DEPTH_REFRESH: Duration = Duration::from_secs(10);

/// Failures that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The contact center could not be set up.
    #[error("contact center: {0}")]
    ContactCenter(String),
}

/// Builds the state every handler shares.
pub fn state(
    config: Arc<Config>,
    pool: PgPool,
    clock: Arc<dyn Clock>,
    throttle: Arc<std::sync::RwLock<Arc<Throttle>>>,
) -> AppState {
    AppState {
        arns: ArnScheme::new(&config.aws.region, &config.aws.account_id),
        keys: Arc::new(config.auth.key_pairs()),
        throttle,
        metrics: m::install(),
        engine_wake: Arc::new(Notify::new()),
        pool,
        config,
        clock,
    }
}

/// Serves the API on `listener` and runs the background services until `cancel` fires.
pub async fn run(
    config: Arc<Config>,
    pool: PgPool,
    listener: TcpListener,
    cancel: CancellationToken,
) -> Result<(), AppError> {
    run_with(config, pool, listener, cancel, Hooks::default()).await
}

/// Optional extras of [`run_with`].
#[derive(Default)]
pub struct Hooks {
    /// Receives the simulated contact center once it is up (the demo reads its occupancy).
    pub center: Option<tokio::sync::oneshot::Sender<Arc<SimContactCenter>>>,
    /// The config file to watch for reloads (SIGHUP or a change on disk).
    pub config_source: Option<ConfigSource>,
}

/// [`run`] with hooks.
pub async fn run_with(
    config: Arc<Config>,
    pool: PgPool,
    listener: TcpListener,
    cancel: CancellationToken,
    hooks: Hooks,
) -> Result<(), AppError> {
    let clock: Arc<dyn Clock> = Arc::new(WallClock);
    let reloadable = Reloadable::new(&config);
    let app = state(
        config.clone(),
        pool.clone(),
        clock.clone(),
        reloadable.throttle.clone(),
    );
    let mut services = JoinSet::new();
    if config.engine.enabled {
        let sim = crate::engine::spawn(
            &mut services,
            pool.clone(),
            &config,
            clock.clone(),
            reloadable.pacing.clone(),
            app.engine_wake.clone(),
            &cancel,
        )
        .map_err(|e| AppError::ContactCenter(e.to_string()))?;
        if let Some(center) = hooks.center {
            // The receiver may have gone; then nobody wanted it.
            let _ = center.send(sim);
        }
    }
    let sweeper = Sweeper {
        pool: pool.clone(),
        clock,
        interval: Duration::from_secs_f64(config.queue.sweep_interval_secs),
        batch: config.queue.sweep_batch,
    };
    services.spawn(sweeper.run(cancel.child_token()));
    services.spawn(report_depth(pool.clone(), cancel.child_token()));
    if let Some(source) = hooks.config_source {
        let reloader = Reloader {
            source,
            current: (*config).clone(),
            targets: reloadable,
        };
        services.spawn(reloader.run(cancel.child_token()));
    }

    crate::server::serve(listener, api::router(app), &config.server, cancel.clone()).await;
    // The server returns after in-flight requests finish; then the services stop.
    cancel.cancel();
    while services.join_next().await.is_some() {}
    Ok(())
}

/// Keeps the queue-depth gauge current, with zeros for states a campaign has none in.
async fn report_depth(pool: PgPool, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(DEPTH_REFRESH);
    let mut known: BTreeSet<String> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let rows = match dial_request_depth(&pool).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "queue depth refresh failed");
                continue;
            }
        };
        known.extend(rows.iter().map(|(campaign, _, _)| campaign.clone()));
        for campaign in &known {
            for state in DialRequestState::ALL {
                let n = rows
                    .iter()
                    .find(|(c, s, _)| c == campaign && *s == state)
                    .map_or(0, |(_, _, n)| *n);
                metrics::gauge!(m::QUEUE_DEPTH, m::CAMPAIGN_ID => campaign.clone(), m::STATE => state.as_str())
                    .set(n as f64);
            }
        }
    }
}

/// The hint logged at startup: an AWS CLI command that works against this endpoint.
pub fn cli_hint(config: &Config, endpoint: &str) -> String {
    let credentials = if !config.auth.enabled {
        "AWS_ACCESS_KEY_ID=any AWS_SECRET_ACCESS_KEY=any".to_string()
    } else {
        let keys = config.auth.key_pairs();
        match keys.get(LOCAL_ACCESS_KEY.0) {
            Some(secret) if secret == LOCAL_ACCESS_KEY.1 => format!(
                "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                LOCAL_ACCESS_KEY.0, LOCAL_ACCESS_KEY.1
            ),
            _ => {
                let id = keys.keys().next().map_or("YOUR_KEY_ID", String::as_str);
                format!("AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY=<its secret>")
            }
        }
    };
    format!(
        "{credentials} aws connectcampaigns list-campaigns --endpoint-url {endpoint} --region {}",
        config.aws.region
    )
}
