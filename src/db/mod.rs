//! The database connection: an external Postgres named by URL, or an embedded cluster the
//! daemon starts and owns; migrations are applied on connect.

pub mod embedded;
pub mod scratch;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgConnection;
use sqlx::{Connection, PgPool};

use crate::config::DatabaseConfig;
use embedded::{EmbeddedError, EmbeddedPostgres};

/// The migrations in `migrations/`, compiled in.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Failures to reach or prepare the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The embedded cluster could not start.
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    /// The URL does not parse.
    #[error("invalid database URL: {0}")]
    Url(sqlx::Error),
    /// The server did not accept a connection.
    #[error("cannot connect to the database at {target}: {cause}")]
    Connect {
        /// Host (or socket directory), port and database; never the password.
        target: String,
        /// What went wrong, in the driver's or the server's words.
        cause: String,
    },
    /// A migration failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The daemon's connection pools. The engine (claims, BatchPutContact's bookkeeping, event
/// writes) has a pool of its own, so that a burst of API calls (a list uploading) never
/// leaves it waiting for a connection.
#[derive(Clone, Debug)]
pub struct Pools {
    /// The API's pool (and housekeeping: the sweeper, the queue-depth gauge).
    pub api: PgPool,
    /// The engine's pool.
    pub engine: PgPool,
}

impl From<PgPool> for Pools {
    /// One pool for everything (tests, tools).
    fn from(pool: PgPool) -> Self {
        Pools {
            api: pool.clone(),
            engine: pool,
        }
    }
}

/// An open pool, and the embedded cluster behind it if the daemon started one.
pub struct Database {
    /// The API's pool (`database.max_connections`); migrations, tools and benchmarks use it
    /// too.
    pub pool: PgPool,
    /// The engine's pool (`database.engine_max_connections`).
    pub engine_pool: PgPool,
    /// Set when the daemon owns the cluster; stop it after the pool is closed.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the embedded cluster when no URL is configured) and migrates.
    pub async fn open(config: &DatabaseConfig) -> Result<Database, DbError> {
        let (url, embedded) = if config.url.is_empty() {
            let cluster = start_embedded(&config.embedded_data_dir).await?;
            (cluster.url(), Some(cluster))
        } else {
            (config.url.clone(), None)
        };
        let pool = connect(&url, config.max_connections).await?;
        MIGRATOR.run(&pool).await?;
        // Connections are opened as needed (sqlx keeps no minimum), so a daemon that does not
        // dial holds none here.
        let engine_pool = connect(&url, config.engine_max_connections).await?;
        Ok(Database {
            pool,
            engine_pool,
            embedded,
        })
    }

    /// The pools of the daemon.
    pub fn pools(&self) -> Pools {
        Pools {
            api: self.pool.clone(),
            engine: self.engine_pool.clone(),
        }
    }

    /// Closes the pools, then stops the embedded cluster if there is one.
    pub async fn close(self) {
        self.engine_pool.close().await;
        self.pool.close().await;
        if let Some(cluster) = self.embedded {
            if let Err(error) = cluster.stop().await {
                tracing::warn!(%error, "embedded PostgreSQL did not stop cleanly");
            }
        }
    }
}

/// Where the embedded cluster goes when the configured directory is under a path the
/// `postgres` user cannot enter (a checkout in /root, run as root).
const EMBEDDED_FALLBACK_ROOT: &str = "/var/tmp/dialer-embedded";

/// Starts the embedded cluster in `data_dir`, or, when running as root in a directory the
/// `postgres` user cannot reach, in a directory of its own named after `data_dir`, so that
/// the default setup works from any checkout.
async fn start_embedded(data_dir: &std::path::Path) -> Result<EmbeddedPostgres, DbError> {
    match EmbeddedPostgres::start(data_dir).await {
        Err(EmbeddedError::NotReachableByPostgres { path }) => {
            let absolute = std::path::absolute(&path).unwrap_or(path.clone());
            let name: String = absolute
                .to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let fallback =
                std::path::Path::new(EMBEDDED_FALLBACK_ROOT).join(name.trim_matches('_'));
            tracing::warn!(
                configured = %path.display(),
                using = %fallback.display(),
                "the postgres user cannot reach database.embedded_data_dir; using a directory it can reach instead (set database.embedded_data_dir to choose)"
            );
            Ok(EmbeddedPostgres::start(&fallback).await?)
        }
        other => Ok(other?),
    }
}

/// Longest wait for a connection. While the database is away, new connections fail and are
/// retried until this passes: API calls then answer (with an error) within it rather than
/// hang, and a busy pool still has time to hand one over.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long the first connection may take: a server that is up answers in milliseconds, and
/// one behind a dropped packet would otherwise hang until the OS gives up.
const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections idle longer than this are checked before use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// The daemon's session settings on `options`. Sessions abort transactions left idle, so a
/// stuck client can never hold queue locks for long, and never JIT-compile: every statement
/// here is a short one, but the claim's chain of CTEs is estimated far above
/// `jit_above_cost`, and compiling it took 2.5 s of a 2.55 s claim (EXPLAIN ANALYZE), every
/// time, on a loaded machine.
pub fn session_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([
        ("idle_in_transaction_session_timeout", "30s"),
        ("jit", "off"),
    ])
}

/// Which plan a transaction's prepared statements run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// The generic plan, made once per connection. For the engine's hot statements (the
    /// claim, a batch's resolution, the contact events' write), long chains of CTEs, the
    /// planner otherwise keeps choosing a plan made for each execution's parameters, and
    /// making it took 4-7 ms a time: more than a small claim's execution, on the path from a
    /// free agent to its next contact, and a quarter of a core in a busy engine. Their
    /// generic plans are as fast (`dialer bench dispatch`).
    Generic,
    /// A plan made for each execution's parameters, always: for a statement whose text is
    /// shared with a generic run but whose parameters here need their own plan (a claim with
    /// calling hours finds its picked ids by id), so that the connection's cached generic
    /// plan is never chosen for it.
    Custom,
}

/// Begins a transaction whose prepared statements run on `plans`.
pub async fn begin_with(
    pool: &PgPool,
    plans: Plans,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mode = match plans {
        Plans::Generic => "set local plan_cache_mode = force_generic_plan",
        Plans::Custom => "set local plan_cache_mode = force_custom_plan",
    };
    sqlx::query(mode).execute(&mut *tx).await?;
    Ok(tx)
}

/// A pool on `url`, with the [`session_options`].
///
/// A connection that has been idle a while (the server may have restarted or a firewall
/// dropped it) is pinged before it is handed out; one in steady use is not: the ping is a
/// round trip, and a busy engine acquires a connection for every statement.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options: PgConnectOptions = url.parse().map_err(DbError::Url)?;
    let options = session_options(options);
    // One connection first, on its own: a pool that cannot connect only says it timed out,
    // while this says where it tried and what the server or the network answered.
    let failed = |cause: String| DbError::Connect {
        target: format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("(default database)")
        ),
        cause,
    };
    match tokio::time::timeout(FIRST_CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(first)) => {
            // Closing is a courtesy to the server; the pool opens its own.
            let _ = first.close().await;
        }
        Ok(Err(error)) => return Err(failed(error.to_string())),
        Err(_) => {
            return Err(failed(format!(
                "no answer within {} s",
                FIRST_CONNECT_TIMEOUT.as_secs()
            )))
        }
    }
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(|error| failed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::{Connection, PgConnection};

    #[sqlx::test]
    async fn daemon_sessions_never_jit_compile(_: PgPoolOptions, connect: PgConnectOptions) {
        let mut session = PgConnection::connect_with(&super::session_options(connect))
            .await
            .unwrap();
        let jit: String = sqlx::query_scalar("show jit")
            .fetch_one(&mut session)
            .await
            .unwrap();
        assert_eq!(jit, "off");
    }
}
