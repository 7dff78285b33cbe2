//! The sweeper: ends pending requests that can never be dialed (expired, or of a stopped
//! campaign) in short batches. Every daemon runs one; `SKIP LOCKED` keeps them apart.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::store::dial_request_sweep_many;
use crate::clock::Clock;
use crate::metrics as m;

/// Sweeps every `interval` until cancelled.
#[derive(Clone)]
pub struct Sweeper {
    /// The database.
    pub pool: PgPool,
    /// Source of "now" for the expiry comparison.
    pub clock: Arc<dyn Clock>,
    /// Time between passes.
    pub interval: Duration,
    /// Rows per statement.
    pub batch: i64,
}

impl Sweeper {
    /// Runs until `cancel` fires. Database errors are logged and retried next pass: the
    /// sweeper is an optimisation of the queue, claims check expiry themselves.
    pub async fn run(self, cancel: CancellationToken) -> crate::supervisor::ServiceResult {
        let mut ticker = tokio::time::interval(self.interval);
        let mut sweeps = crate::supervisor::FailureStreak::default();
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = ticker.tick() => {}
            }
            sweeps.record("sweep", self.pass().await);
        }
    }

    /// Sweeps until a batch comes back short.
    pub async fn pass(&self) -> Result<(), super::QueueError> {
        loop {
            let report = dial_request_sweep_many(&self.pool, self.clock.now(), self.batch).await?;
            let mut ended = 0;
            for (campaign_id, n) in &report.expired {
                ::metrics::counter!(m::DIAL_REQUESTS_EXPIRED, m::CAMPAIGN_ID => campaign_id.clone())
                    .increment(*n as u64);
                ended += n;
            }
            for (campaign_id, n) in &report.cancelled {
                ::metrics::counter!(m::DIAL_REQUESTS_CANCELLED, m::CAMPAIGN_ID => campaign_id.clone())
                    .increment(*n as u64);
                ended += n;
            }
            if ended > 0 {
                tracing::debug!(
                    expired = ?report.expired,
                    cancelled = ?report.cancelled,
                    "swept dial requests"
                );
            }
            if ended < self.batch {
                return Ok(());
            }
        }
    }
}
