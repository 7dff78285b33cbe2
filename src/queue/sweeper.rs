//! The sweeper: completes the campaigns whose schedule has ended, ends pending requests
//! that can never be dialed (expired, or of an ended campaign) in short batches, and applies retention (`queue.retention_days`): finished
//! requests older than that are deleted, then the contact batches none of whose requests is
//! left, then the simulated center's ledger rows of batches that are gone; and recipients'
//! contact histories whose last contact is older than the longest communication limit's
//! window (30 days), and recorded abandons older than the abandoned-call quiet period. Every
//! daemon runs one; `SKIP LOCKED` keeps them apart.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::store::{dial_request_purge_many, dial_request_sweep_many};
use crate::campaigns::store::campaign_complete_due;
use crate::clock::Clock;
use crate::metrics as m;
use crate::rules::store::{number_rows_purge_many, NumberRows};

/// Statements of each kind one retention pass makes at most: with the default 1000 rows per
/// statement, 50,000 rows per table per pass, far above what a daemon finishes per second;
/// a backlog (retention just shortened) is worked off over the next passes, and the expiry
/// sweep between them is not held up.
const MAX_PURGE_ROUNDS: u32 = 50;

/// Sweeps every `interval` until cancelled.
#[derive(Clone)]
pub struct Sweeper {
    /// The database.
    pub pool: PgPool,
    /// Source of "now" for the expiry comparison and the retention cutoff.
    pub clock: Arc<dyn Clock>,
    /// Time between passes.
    pub interval: Duration,
    /// Rows per statement.
    pub batch: i64,
    /// How long finished requests are kept; read at every pass, so a reload applies at once.
    pub retention: Arc<RwLock<Arc<Duration>>>,
    /// How long recorded abandons are kept: see [`abandon_keep`].
    pub abandon_keep: chrono::Duration,
}

/// How long a daemon whose abandoned-call quiet period is `quiet` keeps recorded abandons:
/// the period, and at least the default (the UK's 72 h) even when it is shorter or off, so
/// that a daemon with the rule off does not delete what another daemon's rule needs, and
/// turning the rule on finds the recent abandons.
pub fn abandon_keep(quiet: chrono::Duration) -> chrono::Duration {
    quiet.max(crate::engine::EngineConfig::default().abandoned_quiet())
}

/// Why a retention pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// Deleting dial requests failed.
    #[error("deleting finished dial requests: {0}")]
    Queue(#[from] super::QueueError),
    /// Deleting contact batches failed.
    #[error("deleting contact batches: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// Deleting the simulated center's ledger rows failed.
    #[error("deleting simulator ledger rows: {0}")]
    Ledger(#[from] crate::contact_center::sim::LedgerError),
    /// Deleting recipients' contact histories failed.
    #[error("deleting contact histories: {0}")]
    Rules(#[from] crate::rules::RulesError),
}

/// Rows one retention pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    /// Finished dial requests (with their timelines).
    pub requests: u64,
    /// Contact batches.
    pub batches: u64,
    /// Simulated center ledger rows.
    pub ledger: u64,
    /// Recipients' contact histories with no contact a communication limit can count.
    pub contact_histories: u64,
    /// Recorded abandons older than the quiet period.
    pub abandons: u64,
}

impl Sweeper {
    /// Runs until `cancel` fires. Database errors are logged and retried next pass: the
    /// sweeper is an optimisation of the queue, claims check expiry themselves, and
    /// retention only needs to keep up on average.
    pub async fn run(self, cancel: CancellationToken) -> crate::supervisor::ServiceResult {
        let mut ticker = tokio::time::interval(self.interval);
        let mut sweeps = crate::supervisor::FailureStreak::default();
        let mut purges = crate::supervisor::FailureStreak::default();
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = ticker.tick() => {}
            }
            sweeps.record("sweep", self.pass().await);
            purges.record("retention", self.purge().await.map(|_| ()));
        }
    }

    /// Completes the campaigns whose schedule ended, then sweeps until a batch comes back
    /// short.
    pub async fn pass(&self) -> Result<(), super::QueueError> {
        for campaign_id in campaign_complete_due(&self.pool, self.clock.now()).await? {
            tracing::info!(%campaign_id, "campaign completed: its schedule ended");
        }
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

    /// One retention pass: deletes what is older than the retention, in statements of
    /// `batch` rows, each its own short transaction, yielding between them. Requests go
    /// first, so that their batches and then the batches' ledger rows become deletable in
    /// the same pass.
    pub async fn purge(&self) -> Result<RetentionReport, RetentionError> {
        let retention = crate::reload::current(&self.retention);
        let Some(before) = chrono::Duration::from_std(*retention)
            .ok()
            .and_then(|kept| self.clock.now().checked_sub_signed(kept))
        else {
            // A retention reaching before the calendar's start keeps everything.
            return Ok(RetentionReport::default());
        };
        let requests = self
            .rounds(|| async {
                let deleted = dial_request_purge_many(&self.pool, before, self.batch).await?;
                let mut n = 0;
                for (campaign_id, count) in deleted {
                    ::metrics::counter!(m::DIAL_REQUESTS_DELETED, m::CAMPAIGN_ID => campaign_id)
                        .increment(count as u64);
                    n += count as u64;
                }
                Ok(n)
            })
            .await?;
        let batches = self
            .rounds(|| async {
                Ok(crate::engine::store::batch_purge_many(&self.pool, before, self.batch).await?)
            })
            .await?;
        let ledger = self
            .rounds(|| async {
                Ok(crate::contact_center::sim::store::ledger_purge_many(
                    &self.pool, before, self.batch,
                )
                .await?)
            })
            .await?;
        // Contact histories follow the longest communication limit's window, not the
        // retention: a limit must count every contact of its window, however short the
        // retention, and a contact older than every window counts for nothing. Recorded
        // abandons follow the quiet period likewise.
        let history_start =
            self.clock.now() - chrono::Duration::days(crate::rules::limits::HISTORY_DAYS);
        let contact_histories = self
            .number_rows(NumberRows::ContactHistories, history_start)
            .await?;
        let abandons = self
            .number_rows(NumberRows::Abandons, self.clock.now() - self.abandon_keep)
            .await?;
        let report = RetentionReport {
            requests,
            batches,
            ledger,
            contact_histories,
            abandons,
        };
        if report != RetentionReport::default() {
            tracing::debug!(
                requests = report.requests,
                batches = report.batches,
                ledger = report.ledger,
                contact_histories = report.contact_histories,
                abandons = report.abandons,
                "retention deleted old rows"
            );
        }
        Ok(report)
    }

    /// Deletes the `rows` older than `before`, as [`Self::rounds`] does.
    async fn number_rows(
        &self,
        rows: NumberRows,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, RetentionError> {
        self.rounds(|| async {
            Ok(number_rows_purge_many(&self.pool, rows, before, self.batch).await?)
        })
        .await
    }

    /// Runs `purge` (one statement deleting up to `batch` rows, answering how many) until a
    /// statement comes back short, at most [`MAX_PURGE_ROUNDS`] times, yielding between
    /// them; returns the rows deleted.
    async fn rounds<Fut>(&self, mut purge: impl FnMut() -> Fut) -> Result<u64, RetentionError>
    where
        Fut: std::future::Future<Output = Result<u64, RetentionError>>,
    {
        let mut total = 0;
        for _ in 0..MAX_PURGE_ROUNDS {
            let n = purge().await?;
            total += n;
            if n < self.batch as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(total)
    }
}
