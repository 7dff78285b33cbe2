//! Wiring: builds the shared state, runs the HTTP server and the background services, and
//! shuts everything down in order on cancellation (stop accepting, finish in-flight
//! requests, stop services, close the pool, stop the embedded cluster).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::campaigns::ArnScheme;
use crate::clock::{Clock, WallClock};
use crate::config::Config;
use crate::contact_center::sim::SimContactCenter;
use crate::contact_center::Backend;
use crate::engine::Engine;
use crate::metrics as m;
use crate::queue::store::dial_request_depth;
use crate::queue::sweeper::Sweeper;
use crate::queue::{DialRequestState, QueueError};
use crate::reload::{ConfigSource, Reloadable, Reloader};
use crate::supervisor::{
    FailureStreak, GaveUp, Health, RestartPolicy, Service, ServiceResult, Supervisor,
};

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
    /// The configuration was not validated and does not hold.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// A background service kept failing.
    #[error(transparent)]
    Service(#[from] GaveUp),
}

/// Builds the state every handler shares; refuses a config whose keys or default account
/// do not parse (one that passed [`Config::validate`] always does).
pub fn state(
    config: Arc<Config>,
    pool: PgPool,
    clock: Arc<dyn Clock>,
    reloadable: &Reloadable,
) -> Result<AppState, AppError> {
    let keys = config.key_store().map_err(AppError::Config)?;
    Ok(AppState {
        arns: ArnScheme::new(&config.aws.region),
        keys: Arc::new(keys),
        throttle: reloadable.throttle.clone(),
        pacing: reloadable.pacing.clone(),
        metrics: m::install(),
        engine_wake: Arc::new(Notify::new()),
        health: Arc::new(Health::default()),
        pool,
        config,
        clock,
    })
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
    /// The contact center to dial through instead of the one `[contact_center]` names.
    pub backend: Option<Backend>,
}

/// [`run`] with hooks. Returns an error if the server fails or a background service keeps
/// failing (see [`crate::supervisor`]); the caller then exits non-zero.
pub async fn run_with(
    config: Arc<Config>,
    pool: PgPool,
    listener: TcpListener,
    cancel: CancellationToken,
    hooks: Hooks,
) -> Result<(), AppError> {
    let clock: Arc<dyn Clock> = Arc::new(WallClock);
    let reloadable = Reloadable::new(&config);
    let app = state(config.clone(), pool.clone(), clock.clone(), &reloadable)?;
    let mut supervisor = Supervisor::new(app.health.clone(), RestartPolicy::default());
    if config.engine.enabled {
        let backend = match hooks.backend {
            Some(backend) => backend,
            None => {
                Backend::from_config(&config.contact_center, pool.clone(), cancel.child_token())
                    .map_err(|e| AppError::ContactCenter(e.to_string()))?
            }
        };
        if let (Some(receiver), Some(sim)) = (hooks.center, backend.sim.clone()) {
            // The receiver may have gone; then nobody wanted it.
            let _ = receiver.send(sim);
        }
        let engine = Engine::new(
            pool.clone(),
            backend.center,
            backend.clock,
            clock.clone(),
            &config.engine,
            reloadable.pacing.clone(),
            app.engine_wake.clone(),
        );
        for service in engine.services() {
            supervisor.spawn(service, cancel.child_token());
        }
    }
    let sweeper = Sweeper {
        pool: pool.clone(),
        clock,
        interval: Duration::from_secs_f64(config.queue.sweep_interval_secs),
        batch: config.queue.sweep_batch,
        retention: reloadable.retention.clone(),
    };
    supervisor.spawn(
        Service::new("sweeper", move |cancel| sweeper.clone().run(cancel)),
        cancel.child_token(),
    );
    let depth_pool = pool.clone();
    supervisor.spawn(
        Service::new("queue_depth", move |cancel| {
            report_depth(depth_pool.clone(), cancel)
        }),
        cancel.child_token(),
    );
    if let Some(source) = hooks.config_source {
        let reloader = Reloader::new(source, (*config).clone(), reloadable);
        supervisor.spawn(
            Service::new("reloader", move |cancel| reloader.clone().run(cancel)),
            cancel.child_token(),
        );
    }

    let server = crate::server::serve(listener, api::router(app), &config.server, cancel.clone());
    tokio::pin!(server);
    let gave_up = tokio::select! {
        () = &mut server => None,
        // Before shutdown, only a service given up on ends the wait.
        supervised = supervisor.wait() => Some(supervised),
    };
    // Stop accepting and let in-flight requests finish; then the services stop.
    cancel.cancel();
    let supervised = match gave_up {
        Some(supervised) => {
            server.await;
            supervised
        }
        None => supervisor.wait().await,
    };
    supervised.map_err(AppError::Service)
}

/// Keeps the queue-depth gauge current, with zeros for states a campaign has none in.
async fn report_depth(pool: PgPool, cancel: CancellationToken) -> ServiceResult {
    let mut ticker = tokio::time::interval(DEPTH_REFRESH);
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut refreshes = FailureStreak::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let rows = match dial_request_depth(&pool).await {
            Ok(rows) => {
                refreshes.record("queue depth refresh", Ok::<(), QueueError>(()));
                rows
            }
            Err(error) => {
                refreshes.record("queue depth refresh", Err(error));
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
        let keys = config.key_store().ok();
        let keys = keys.as_ref();
        match keys.and_then(|k| k.get(LOCAL_ACCESS_KEY.0)) {
            Some(key) if key.secret() == LOCAL_ACCESS_KEY.1 => format!(
                "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                LOCAL_ACCESS_KEY.0, LOCAL_ACCESS_KEY.1
            ),
            _ => {
                let id = keys
                    .and_then(|k| k.key_ids().next())
                    .unwrap_or("YOUR_KEY_ID");
                format!("AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY=<its secret>")
            }
        }
    };
    format!(
        "{credentials} aws connectcampaigns list-campaigns --endpoint-url {endpoint} --region {}",
        config.aws.region
    )
}
