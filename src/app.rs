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
use crate::db::Pools;
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

/// The environment variable that lets [`refuse_example_key_in_public`] pass (as
/// `--allow-example-key` does).
pub const ALLOW_EXAMPLE_KEY_ENV: &str = "DIALER_ALLOW_EXAMPLE_KEY";

/// Serving the well-known example key on an address others can reach: its secret is in the
/// README and the shipped config, so anyone there could use the API.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to serve on {listen}: it is not a loopback address, and the configured access \
     keys include the well-known example key {key} (its secret is published in the README and \
     config/dialer.toml), so anyone who can reach this address could use the API. Set your own \
     keys in DIALER_ACCESS_KEYS=id:secret[:account][,...] or auth.access_keys, or listen on \
     127.0.0.1 (--listen 127.0.0.1:8080), or, if this is a test, pass --allow-example-key (or \
     set {ALLOW_EXAMPLE_KEY_ENV}=1).",
    key = LOCAL_ACCESS_KEY.0
)]
pub struct ExampleKeyInPublic {
    /// The listen address as configured.
    pub listen: String,
}

/// Refuses a config that serves the example key (id and secret both) with authentication on
/// a non-loopback address, unless `allowed` (`--allow-example-key`). With authentication off
/// the key grants nothing more than any caller has.
pub fn refuse_example_key_in_public(
    config: &Config,
    allowed: bool,
) -> Result<(), ExampleKeyInPublic> {
    if allowed
        || !config.auth.enabled
        || !serves_example_key(config)
        || crate::config::is_loopback_listen(&config.server.listen)
    {
        return Ok(());
    }
    Err(ExampleKeyInPublic {
        listen: config.server.listen.trim().to_string(),
    })
}

/// Whether the configured keys include the example pair; a config whose keys do not parse
/// is refused elsewhere.
fn serves_example_key(config: &Config) -> bool {
    config.key_store().is_ok_and(|keys| {
        keys.get(LOCAL_ACCESS_KEY.0)
            .is_some_and(|key| key.secret() == LOCAL_ACCESS_KEY.1)
    })
}

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
    let activity = Arc::new(crate::engine::activity::DialingActivity::default());
    Ok(AppState {
        arns: ArnScheme::new(&config.aws.region),
        keys: Arc::new(keys),
        throttle: reloadable.throttle.clone(),
        pacing: reloadable.pacing.clone(),
        metrics: m::install(),
        engine_wake: Arc::new(Notify::new()),
        connect_event_stored: Arc::new(Notify::new()),
        health: Arc::new(Health::default()),
        ingest: Arc::new(crate::api::throttle::IngestGate::new(
            (
                config.queue.ingest_max_concurrent_batches,
                config.queue.ingest_max_concurrent_batches_idle.min(
                    usize::try_from(config.database.max_connections)
                        .unwrap_or(usize::MAX)
                        .saturating_sub(1),
                ),
            ),
            config.queue.ingest_max_waiting_batches,
            activity.clone(),
        )),
        dialing: activity,
        pool,
        config,
        clock,
    })
}

/// Serves the API on `listener` and runs the background services until `cancel` fires.
pub async fn run(
    config: Arc<Config>,
    pools: impl Into<Pools>,
    listener: TcpListener,
    cancel: CancellationToken,
) -> Result<(), AppError> {
    run_with(config, pools, listener, cancel, Hooks::default()).await
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
    pools: impl Into<Pools>,
    listener: TcpListener,
    cancel: CancellationToken,
    hooks: Hooks,
) -> Result<(), AppError> {
    let Pools {
        api: pool,
        engine: engine_pool,
    } = pools.into();
    let clock: Arc<dyn Clock> = Arc::new(WallClock);
    let reloadable = Reloadable::new(&config);
    let mut app = state(config.clone(), pool.clone(), clock.clone(), &reloadable)?;
    let mut supervisor = Supervisor::new(app.health.clone(), RestartPolicy::default());
    if config.engine.enabled {
        let backend = match hooks.backend {
            Some(backend) => backend,
            None => Backend::from_config(
                &config.contact_center,
                &config.aws.region,
                engine_pool.clone(),
                cancel.child_token(),
            )
            .await
            .map_err(|e| AppError::ContactCenter(e.to_string()))?,
        };
        if let Some(connect) = &backend.connect {
            app.connect_event_stored = connect.event_stored();
        }
        if let (Some(receiver), Some(sim)) = (hooks.center, backend.sim.clone()) {
            // The receiver may have gone; then nobody wanted it.
            let _ = receiver.send(sim);
        }
        let engine = Engine::new(
            engine_pool.clone(),
            backend.center.clone(),
            backend.clock.clone(),
            clock.clone(),
            &config.engine,
            &reloadable,
            crate::engine::ApiLinks {
                wake: app.engine_wake.clone(),
                activity: app.dialing.clone(),
            },
        );
        for service in engine
            .services()
            .into_iter()
            .chain(backend.services(engine.owner()))
        {
            supervisor.spawn(service, cancel.child_token());
        }
    }
    let sweeper = Sweeper {
        pool: pool.clone(),
        clock,
        interval: Duration::from_secs_f64(config.queue.sweep_interval_secs),
        batch: config.queue.sweep_batch,
        retention: reloadable.retention.clone(),
        abandon_keep: crate::queue::sweeper::abandon_keep(config.engine.abandoned_quiet()),
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
        if serves_example_key(config) {
            format!(
                "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                LOCAL_ACCESS_KEY.0, LOCAL_ACCESS_KEY.1
            )
        } else {
            let keys = config.key_store().ok();
            let id = keys
                .as_ref()
                .and_then(|k| k.key_ids().next())
                .unwrap_or("YOUR_KEY_ID");
            format!("AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY=<its secret>")
        }
    };
    format!(
        "{credentials} aws connectcampaigns list-campaigns --endpoint-url {endpoint} --region {}",
        config.aws.region
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, keys: &[&str]) -> Config {
        let mut config = Config::default();
        config.server.listen = listen.to_string();
        config.auth.access_keys = keys.iter().map(|k| k.to_string()).collect();
        config
    }

    const EXAMPLE: &str = "AKIDLOCALDIALER:local-dialer-secret";

    #[test]
    fn the_example_key_is_refused_only_in_public_and_unless_allowed() {
        let public = config("0.0.0.0:8080", &["AKIDMINE:s3cret", EXAMPLE]);
        let refused = refuse_example_key_in_public(&public, false).unwrap_err();
        let said = refused.to_string();
        for part in [
            "0.0.0.0:8080",
            "AKIDLOCALDIALER",
            "DIALER_ACCESS_KEYS",
            "auth.access_keys",
            "127.0.0.1",
            "--allow-example-key",
            "DIALER_ALLOW_EXAMPLE_KEY=1",
        ] {
            assert!(said.contains(part), "{part:?} not in {said}");
        }
        assert!(!said.contains('\n'), "one paragraph: {said}");
        assert!(refuse_example_key_in_public(&public, true).is_ok());
        let with_account = config(
            ":8080",
            &["AKIDLOCALDIALER:local-dialer-secret:210987654321"],
        );
        assert!(refuse_example_key_in_public(&with_account, false).is_err());

        for fine in [
            config("127.0.0.1:8080", &[EXAMPLE]),
            config("localhost:8080", &[EXAMPLE]),
            config("[::1]:8080", &[EXAMPLE]),
            config("0.0.0.0:8080", &["AKIDMINE:s3cret"]),
            // The example id with a secret of one's own is not the published pair.
            config("0.0.0.0:8080", &["AKIDLOCALDIALER:my-own-secret"]),
        ] {
            assert!(
                refuse_example_key_in_public(&fine, false).is_ok(),
                "{} {:?}",
                fine.server.listen,
                fine.auth.access_keys
            );
        }
        let mut open = config("0.0.0.0:8080", &[EXAMPLE]);
        open.auth.enabled = false;
        assert!(refuse_example_key_in_public(&open, false).is_ok());
    }
}
