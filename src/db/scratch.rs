//! Scratch databases: one created for a single run (a benchmark, the demo) on the configured
//! server or the embedded cluster, migrated, and dropped at the end, so the run leaves
//! nothing behind and neither sees nor touches the campaigns of the main database.

use std::time::Duration;

use sqlx::PgPool;

use super::{start_embedded, Database, DbError};
use crate::config::DatabaseConfig;
use crate::db::embedded::EmbeddedPostgres;

/// How long [`ScratchDatabase::drop`] waits for connections still checked out.
const CHECKED_OUT_GRACE: Duration = Duration::from_secs(2);

/// Failures to create or drop a scratch database.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    /// The server (or the embedded cluster) could not be reached or migrated.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The server URL does not parse as a URL.
    #[error("database URL does not parse: {0}")]
    Url(String),
    /// `create database` failed (the role may lack CREATEDB).
    #[error("cannot create the scratch database {name}: {source}")]
    Create {
        /// The database's name.
        name: String,
        /// The server's answer.
        source: sqlx::Error,
    },
    /// `drop database` failed.
    #[error("cannot drop the scratch database {name}: {source}")]
    Drop {
        /// The database's name.
        name: String,
        /// The server's answer.
        source: sqlx::Error,
    },
}

/// A database created for one run on the configured server (or the embedded cluster,
/// started for the purpose), migrated, and dropped by [`ScratchDatabase::drop`].
pub struct ScratchDatabase {
    db: Database,
    name: String,
    server: PgPool,
    cluster: Option<EmbeddedPostgres>,
}

impl ScratchDatabase {
    /// Creates `dialer_<label>_<random>` and opens a pool of `config.max_connections` on it.
    /// `label` must be a plain SQL identifier part (letters, digits, `_`).
    pub async fn create(config: &DatabaseConfig, label: &str) -> Result<Self, ScratchError> {
        let (server_url, cluster) = if config.url.is_empty() {
            let cluster = start_embedded(&config.embedded_data_dir).await?;
            (cluster.url(), Some(cluster))
        } else {
            (config.url.clone(), None)
        };
        // The server's own database is only used to create and drop the scratch one, so it
        // is not migrated.
        let server = super::connect(&server_url, 2).await?;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("dialer_{label}_{}", &suffix[..12]);
        if let Err(source) = sqlx::raw_sql(&format!("create database {name}"))
            .execute(&server)
            .await
        {
            server.close().await;
            stop_cluster(cluster).await;
            return Err(ScratchError::Create { name, source });
        }
        let scratch = DatabaseConfig {
            url: with_database(&server_url, &name)?,
            ..config.clone()
        };
        match Database::open(&scratch).await {
            Ok(db) => Ok(Self {
                db,
                name,
                server,
                cluster,
            }),
            Err(error) => {
                // The open failure is what to report; a failed clean-up here leaves only an
                // empty database behind.
                let _ = sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
                    .execute(&server)
                    .await;
                server.close().await;
                stop_cluster(cluster).await;
                Err(error.into())
            }
        }
    }

    /// The pool on the scratch database.
    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// The daemon's pools on the scratch database.
    pub fn pools(&self) -> super::Pools {
        self.db.pools()
    }

    /// The scratch database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Closes the pool, drops the database, and stops the embedded cluster if this started it.
    pub async fn drop(self) -> Result<(), ScratchError> {
        let pools = self.db.pools();
        self.db.close().await;
        // sqlx 0.8's close can return while connections are still checked out (it waits for
        // free permits, not for every connection), e.g. by tasks of the daemon still winding
        // down; the forced drop would cut them mid-statement and sqlx warns about each. They
        // are given a moment to come back; after that the drop goes ahead regardless.
        let deadline = tokio::time::Instant::now() + CHECKED_OUT_GRACE;
        while pools.api.size() + pools.engine.size() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let dropped = sqlx::raw_sql(&format!(
            "drop database if exists {} with (force)",
            self.name
        ))
        .execute(&self.server)
        .await;
        self.server.close().await;
        stop_cluster(self.cluster).await;
        dropped.map_err(|source| ScratchError::Drop {
            name: self.name,
            source,
        })?;
        Ok(())
    }
}

async fn stop_cluster(cluster: Option<EmbeddedPostgres>) {
    if let Some(cluster) = cluster {
        if let Err(error) = cluster.stop().await {
            tracing::warn!(%error, "embedded PostgreSQL did not stop cleanly");
        }
    }
}

/// `url` naming database `name` instead of its own (query parameters such as the embedded
/// cluster's socket directory are kept).
fn with_database(url: &str, name: &str) -> Result<String, ScratchError> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| ScratchError::Url(e.to_string()))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_urls_keep_everything_but_the_database() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:55432/postgres", "b1").unwrap(),
            "postgres://u:p@127.0.0.1:55432/b1"
        );
        assert_eq!(
            with_database(
                "postgres://postgres@localhost/postgres?host=/tmp/x%20y&port=5432",
                "b2"
            )
            .unwrap(),
            "postgres://postgres@localhost/b2?host=/tmp/x%20y&port=5432"
        );
        assert_eq!(
            with_database("postgres://h:1", "b3").unwrap(),
            "postgres://h:1/b3"
        );
    }
}
