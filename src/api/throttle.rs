//! API rate limits: one token bucket per (operation, caller), sized from the config; and
//! the ingest gate, which bounds the PutDialRequestBatch calls worked on at once.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{Rate, ThrottlingConfig};
use crate::engine::activity::DialingActivity;

/// The limiters of every operation.
pub struct Throttle {
    per_operation: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
}

fn quota(rate: Rate) -> Quota {
    // Validated config guarantees a positive rate and burst; the fallbacks only keep this
    // total for hand-built values.
    let period = Duration::from_secs_f64(1.0 / rate.per_second.max(1e-6));
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Throttle {
    /// Limiters for every operation of the API.
    pub fn new(config: &ThrottlingConfig) -> Self {
        let per_operation = super::all_operations()
            .map(|operation| {
                let rate = config
                    .operations
                    .get(operation)
                    .copied()
                    .unwrap_or(config.default);
                (operation, RateLimiter::keyed(quota(rate)))
            })
            .collect();
        Self { per_operation }
    }

    /// Whether `caller` may call `operation` now (taking a token if so).
    pub fn allow(&self, operation: &str, caller: &str) -> bool {
        match self.per_operation.get(operation) {
            Some(limiter) => limiter.check_key(&caller.to_string()).is_ok(),
            None => true,
        }
    }
}

/// Bounds the PutDialRequestBatch calls worked on at once, so that uploading a list takes
/// what dialing leaves of the machine and the database: a tight bound while this daemon's
/// engine dials, a wide one while it does not (a list loaded before the shift goes at full
/// speed). Calls beyond the bound wait their turn in arrival order; when `max_waiting`
/// already wait, a call is refused at once (429 `ThrottlingException`, which SDKs retry with
/// backoff) rather than left to time out.
pub struct IngestGate {
    while_dialing: Arc<Semaphore>,
    while_idle: Arc<Semaphore>,
    activity: Arc<DialingActivity>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Decrements the waiting count however the wait ends (the client may go away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl IngestGate {
    /// A gate letting `bounds.0` calls through at once while `activity` says the engine
    /// dials, `bounds.1` while it does not (each at least one), with up to `max_waiting`
    /// waiting.
    pub fn new(bounds: (usize, usize), max_waiting: usize, activity: Arc<DialingActivity>) -> Self {
        Self {
            while_dialing: Arc::new(Semaphore::new(bounds.0.max(1))),
            while_idle: Arc::new(Semaphore::new(bounds.1.max(1))),
            activity,
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// A turn to work on one batch, held until dropped; `None` if too many calls wait. The
    /// bound is chosen as the call arrives; calls let in under the wide bound just before
    /// dialing starts finish their batch (milliseconds) beside the tight bound's.
    pub async fn enter(&self) -> Option<OwnedSemaphorePermit> {
        let permits = if self.activity.is_dialing() {
            &self.while_dialing
        } else {
            &self.while_idle
        };
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let _waiting = Waiting(&self.waiting);
        // The semaphores are never closed.
        permits.clone().acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_is_tight_while_the_engine_dials_and_wide_otherwise() {
        let activity = Arc::new(DialingActivity::default());
        let gate = IngestGate::new((1, 3), 0, activity.clone());
        let idle: Vec<_> = [gate.enter().await, gate.enter().await, gate.enter().await]
            .into_iter()
            .collect::<Option<_>>()
            .expect("three turns while nothing dials");
        assert!(gate.enter().await.is_none(), "the wide bound is full");
        drop(idle);
        activity.dialing_for(std::time::Duration::from_secs(3600));
        let first = gate.enter().await.expect("one turn while dialing");
        assert!(gate.enter().await.is_none(), "the tight bound is full");
        drop(first);
        assert!(gate.enter().await.is_some());
    }

    #[tokio::test]
    async fn the_gate_queues_up_to_its_bound_then_refuses() {
        let gate = Arc::new(IngestGate::new((1, 1), 1, Arc::default()));
        let first = gate.enter().await.expect("a free turn");
        let queued = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter().await.is_some() }
        });
        while gate.waiting.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(gate.enter().await.is_none(), "one waits already: refused");
        drop(first);
        assert!(queued.await.unwrap(), "the waiting call gets its turn");
        assert_eq!(gate.waiting.load(Ordering::Relaxed), 0);
        assert!(gate.enter().await.is_some());
    }

    #[test]
    fn burst_then_refuse_per_caller_and_operation() {
        let config = ThrottlingConfig {
            default: Rate {
                per_second: 0.001,
                burst: 2,
            },
            operations: Default::default(),
        };
        let throttle = Throttle::new(&config);
        assert!(throttle.allow("ListCampaigns", "a"));
        assert!(throttle.allow("ListCampaigns", "a"));
        assert!(!throttle.allow("ListCampaigns", "a"));
        assert!(
            throttle.allow("ListCampaigns", "b"),
            "callers have their own bucket"
        );
        assert!(
            throttle.allow("CreateCampaign", "a"),
            "operations have their own bucket"
        );
    }
}
