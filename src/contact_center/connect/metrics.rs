//! Agent and queue state from `GetCurrentMetricData`, polled for every campaign at once.
//!
//! The scheduler asks for its campaigns' queues on every planning pass (several times a
//! second); Amazon Connect allows a few metric calls per second per account. So the
//! backend answers from a snapshot that one poller refreshes every `metrics_interval_secs`
//! for the union of the queues asked about lately, one call per 100 queues. A queue asked
//! about for the first time is polled at once. A snapshot older than [`STALE_AFTER`]
//! intervals is an error, not an answer: the engine places no call on agent counts it
//! cannot trust.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{self, Call, ConnectClient};
use super::wire;
use super::AmazonConnectConfig;
use crate::contact_center::{ContactCenterError, QueueMetrics, RetryableError, METRICS_MAX_QUEUES};
use crate::supervisor::{FailureStreak, ServiceResult};

/// Polls a snapshot may be late by before it is refused.
const STALE_AFTER: u32 = 5;
/// A queue not asked about for this long is no longer polled.
const FORGET_AFTER: Duration = Duration::from_secs(300);
/// How long a first ask waits for the poll it triggered: short, as the planning pass that
/// asks also renews the campaign leases.
const FIRST_POLL_WAIT: Duration = Duration::from_secs(1);

/// The latest agent counts, by Connect queue id, and what to poll.
pub struct MetricsCache {
    instance_id: String,
    interval: Duration,
    limiter: Arc<governor::DefaultDirectRateLimiter>,
    /// Campaign queue id -> Connect queue id, and back.
    to_connect: BTreeMap<String, String>,
    state: Mutex<Snapshot>,
    /// Wakes the poller for a queue asked about for the first time.
    new_queue: Notify,
    /// Tells waiting askers a poll finished.
    polled: Notify,
}

#[derive(Default)]
struct Snapshot {
    /// Connect queue id -> when it was last asked about.
    watched: BTreeMap<String, Instant>,
    /// Connect queue id -> its counts at the last poll that included it.
    latest: BTreeMap<String, QueueMetrics>,
    /// Queues a poll was attempted for (known or not to the instance).
    polled: BTreeSet<String>,
    /// When the last poll succeeded.
    fresh_at: Option<Instant>,
}

impl MetricsCache {
    /// An empty cache for the instance `config` names.
    pub fn new(config: &AmazonConnectConfig) -> Self {
        Self {
            instance_id: config.instance_id.clone(),
            interval: Duration::from_secs_f64(config.metrics_interval_secs),
            limiter: client::limiter(config.metrics_rate_per_sec, 1),
            to_connect: config.queues.clone(),
            state: Mutex::new(Snapshot::default()),
            new_queue: Notify::new(),
            polled: Notify::new(),
        }
    }

    fn connect_queue<'a>(&'a self, queue: &'a str) -> &'a str {
        self.to_connect.get(queue).map_or(queue, String::as_str)
    }

    /// The counts of `queue_ids` (campaign queue ids), in order; queues the instance does
    /// not know are left out.
    pub async fn get(&self, queue_ids: &[String]) -> Result<Vec<QueueMetrics>, ContactCenterError> {
        let deadline = Instant::now() + FIRST_POLL_WAIT;
        loop {
            let polled = self.polled.notified();
            {
                let mut state = self.lock();
                let now = Instant::now();
                let mut unpolled = false;
                for queue in queue_ids {
                    let connect = self.connect_queue(queue).to_string();
                    unpolled |= !state.polled.contains(&connect);
                    state.watched.insert(connect, now);
                }
                if !unpolled {
                    return self.answer(&state, queue_ids);
                }
            }
            self.new_queue.notify_one();
            if tokio::time::timeout_at(deadline, polled).await.is_err() {
                return Err(ContactCenterError::Retryable(RetryableError::Server(
                    "no GetCurrentMetricData answer yet for the campaign's queues".into(),
                )));
            }
        }
    }

    fn answer(
        &self,
        state: &Snapshot,
        queue_ids: &[String],
    ) -> Result<Vec<QueueMetrics>, ContactCenterError> {
        let fresh = state
            .fresh_at
            .is_some_and(|at| at.elapsed() <= self.interval * STALE_AFTER);
        if !fresh {
            return Err(ContactCenterError::Retryable(RetryableError::Server(
                format!(
                    "agent counts are older than {} polls of GetCurrentMetricData",
                    STALE_AFTER
                ),
            )));
        }
        Ok(queue_ids
            .iter()
            .filter_map(|queue| {
                let counts = state.latest.get(self.connect_queue(queue))?;
                Some(QueueMetrics {
                    queue_id: queue.clone(),
                    ..counts.clone()
                })
            })
            .collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        // A panic while holding it left plain data behind; it is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls until `cancel` fires.
    pub async fn run(
        self: Arc<Self>,
        client: Arc<ConnectClient>,
        cancel: CancellationToken,
    ) -> ServiceResult {
        let mut polls = FailureStreak::default();
        loop {
            let queues: Vec<String> = {
                let mut state = self.lock();
                state
                    .watched
                    .retain(|_, asked| asked.elapsed() < FORGET_AFTER);
                state.watched.keys().cloned().collect()
            };
            if !queues.is_empty() {
                let polled = self.poll(&client, &queues).await;
                polls.record("polling GetCurrentMetricData", polled.as_ref().map(|_| ()));
                let mut state = self.lock();
                // Polled, well or not: an asker no longer waits for a first answer, it
                // gets the snapshot, or the error of a stale one, at once.
                state.polled.extend(queues.iter().cloned());
                if let Ok(counts) = polled {
                    state.latest = counts;
                    state.fresh_at = Some(Instant::now());
                }
                drop(state);
                self.polled.notify_waiters();
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.new_queue.notified() => {}
            }
        }
    }

    async fn poll(
        &self,
        client: &ConnectClient,
        queues: &[String],
    ) -> Result<BTreeMap<String, QueueMetrics>, ContactCenterError> {
        let mut counts = BTreeMap::new();
        for chunk in queues.chunks(METRICS_MAX_QUEUES) {
            let mut next_token = None;
            loop {
                let request = current_metrics_request(chunk, next_token.take());
                let response: wire::GetCurrentMetricDataResponse = client
                    .send(Call {
                        method: "POST",
                        path: format!("/metrics/current/{}", client::label(&self.instance_id)),
                        body: Some(&request),
                        limiter: &self.limiter,
                    })
                    .await?;
                for queue in wire::queue_metrics_from(&response) {
                    counts.insert(queue.queue_id.clone(), queue);
                }
                match response.next_token {
                    Some(token) if !token.is_empty() => next_token = Some(token),
                    _ => break,
                }
            }
        }
        Ok(counts)
    }
}

/// The agent and queue counts of `queues`, grouped by queue.
fn current_metrics_request(
    queues: &[String],
    next_token: Option<String>,
) -> wire::GetCurrentMetricDataRequest {
    use wire::CurrentMetricName as N;
    wire::GetCurrentMetricDataRequest {
        filters: Some(wire::Filters {
            queues: Some(queues.to_vec()),
            channels: Some(vec![wire::CHANNEL_VOICE.to_string()]),
            ..wire::Filters::default()
        }),
        groupings: Some(vec![wire::Grouping::Queue]),
        current_metrics: Some(
            [
                N::AgentsOnline,
                N::AgentsAvailable,
                N::AgentsOnContact,
                N::AgentsAfterContactWork,
                N::ContactsInQueue,
            ]
            .into_iter()
            .map(wire::CurrentMetric::of)
            .collect(),
        ),
        next_token,
        max_results: Some(METRICS_MAX_QUEUES as i64),
    }
}
