//! The dialing engine: for every running campaign this daemon holds the lease of, it asks
//! pacing how many calls to place, claims that many dial requests into contact batches, has
//! the contact center create the contacts, and follows every contact to its end.
//!
//! - [`activity`]: whether the engine dials, for the API's ingest gate.
//! - [`batch`]: what a contact batch and its items are.
//! - [`scheduler`]: the planning loop (leases, pacing inputs, claims).
//! - [`dispatch`]: one BatchPutContact call per batch, its retries and its results.
//! - [`events`]: contact-center events into contact lifecycles and pacing observations.
//! - [`planner`]: the pure step from campaign, agents and calls to the pacing input.
//! - [`sms`]: one StartOutboundChatContact per claimed SMS request, its retries and its end.
//! - [`reconcile`]: contacts whose events may never come, settled with the contact center.
//! - [`store`]: the SQL of leases and batches, and the reads; requests are written by
//!   [`crate::queue::store`].
//!
//! Invariants (each has an integration test):
//! 1. at most one contact per dial request: a batch is written before its call, and every
//!    re-send uses its ClientToken, so the contact center answers replays with the same
//!    contacts;
//! 2. no contact is created after its request's expiration (see [`dispatch`] for the retry
//!    protocol that keeps this true when a call's outcome is unknown);
//! 3. every claimed request reaches a terminal state (batches are retried by whoever holds
//!    the lease; contacts that cannot report any more end as `lost` on the contact center's
//!    word, see [`reconcile`]);
//! 4. one daemon paces a campaign at a time (a lease with a fence guards every write);
//! 5. a dead daemon's leases lapse after `engine.lease_ttl_secs` and are taken over.

pub mod activity;
pub mod batch;
pub mod dispatch;
pub mod events;
pub mod planner;
pub mod reconcile;
pub mod scheduler;
pub mod sms;
pub mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::contact_center::ContactCenter;
use crate::supervisor::Service;

/// Default seconds between planning passes.
pub const TICK_SECS_DEFAULT: f64 = 0.25;
/// Default campaign lease time-to-live.
pub const LEASE_TTL_SECS_DEFAULT: f64 = 5.0;

/// Default SMS messages per second: conservative, the rate of the account's default quota
/// for Amazon Connect's contact-creating calls; raise it to what the numbers may send.
pub const SMS_MESSAGES_PER_SECOND_DEFAULT: f64 = 2.0;

/// Smallest claim expiry margin: the time between the last expiry check and the contact's
/// creation (two database round trips in the simulated center) must fit in it.
pub const CLAIM_EXPIRY_MARGIN_SECS_MIN: f64 = 0.1;

/// Default abandoned-call quiet period: the UK's (Ofcom) 72 hours.
pub const ABANDONED_QUIET_HOURS_DEFAULT: f64 = 72.0;

/// Engine settings (`[engine]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Whether this daemon dials at all (an API-only daemon sets false).
    pub enabled: bool,
    /// Seconds between planning passes when nothing wakes the scheduler earlier.
    pub tick_secs: f64,
    /// A campaign lease not renewed for this long is taken over by another daemon.
    pub lease_ttl_secs: f64,
    /// Lines (concurrent calls) the dialer may use in all; `dialingCapacity` shares them.
    pub total_lines: u32,
    /// Requests expiring sooner than this are not claimed: the contact would come too late.
    pub claim_expiry_margin_secs: f64,
    /// A BatchPutContact call not answered within this is abandoned and re-sent later.
    pub call_timeout_secs: f64,
    /// First retry delay after a failed call or a throttled item; doubles per attempt.
    pub retry_base_secs: f64,
    /// Longest retry delay.
    pub retry_max_secs: f64,
    /// Contacts with no news (no event) for this long, on the database clock, are looked up
    /// in the contact center, and ended as `lost` if it no longer runs them.
    pub contact_timeout_secs: f64,
    /// BatchPutContact calls this daemon makes at once.
    pub max_concurrent_calls: usize,
    /// SMS messages per second this daemon may send; a campaign gets its SMS `capacity`
    /// share of it.
    pub sms_messages_per_second: f64,
    /// The dial-request attribute that may name the recipient's IANA time zone, for
    /// campaigns with calling hours (`communicationTimeConfig`); requests without it use the
    /// campaign's `defaultTimeZone`.
    pub time_zone_attribute: String,
    /// Hours during which no call goes to a number after a call to it was abandoned
    /// (answered, no agent free), whatever request or campaign of the account makes it: the
    /// UK's 72 h. 0 turns the rule off.
    pub abandoned_quiet_hours: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tick_secs: TICK_SECS_DEFAULT,
            lease_ttl_secs: LEASE_TTL_SECS_DEFAULT,
            total_lines: 200,
            claim_expiry_margin_secs: 1.0,
            call_timeout_secs: 10.0,
            retry_base_secs: 0.5,
            retry_max_secs: 30.0,
            contact_timeout_secs: 3600.0,
            max_concurrent_calls: 8,
            sms_messages_per_second: SMS_MESSAGES_PER_SECOND_DEFAULT,
            time_zone_attribute: "timeZone".to_string(),
            abandoned_quiet_hours: ABANDONED_QUIET_HOURS_DEFAULT,
        }
    }
}

impl EngineConfig {
    /// Every problem, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |key: &str, value: f64, min: f64| {
            if !(value.is_finite() && value >= min) {
                problems.push(format!("engine.{key} must be at least {min}, got {value}"));
            }
        };
        positive("tick_secs", self.tick_secs, 0.01);
        positive("lease_ttl_secs", self.lease_ttl_secs, 0.5);
        positive(
            "claim_expiry_margin_secs",
            self.claim_expiry_margin_secs,
            0.0,
        );
        positive("call_timeout_secs", self.call_timeout_secs, 0.1);
        positive("retry_base_secs", self.retry_base_secs, 0.01);
        positive(
            "retry_max_secs",
            self.retry_max_secs,
            self.retry_base_secs.max(0.01),
        );
        positive("contact_timeout_secs", self.contact_timeout_secs, 1.0);
        positive(
            "sms_messages_per_second",
            self.sms_messages_per_second,
            0.01,
        );
        positive("abandoned_quiet_hours", self.abandoned_quiet_hours, 0.0);
        if self.lease_ttl_secs.is_finite() && self.lease_ttl_secs < 2.0 * self.tick_secs {
            problems.push(format!(
                "engine.lease_ttl_secs ({}) must be at least twice engine.tick_secs ({}) or leases lapse between renewals",
                self.lease_ttl_secs, self.tick_secs
            ));
        }
        if self.total_lines == 0 {
            problems.push("engine.total_lines must be at least 1".to_string());
        }
        if self.max_concurrent_calls == 0 {
            problems.push("engine.max_concurrent_calls must be at least 1".to_string());
        }
        if self.time_zone_attribute.is_empty() {
            problems.push("engine.time_zone_attribute must name an attribute".to_string());
        }
        problems
    }

    /// The abandoned-call quiet period (zero: none).
    pub fn abandoned_quiet(&self) -> chrono::Duration {
        secs_to_duration(self.abandoned_quiet_hours * 3600.0)
    }

    /// Retry delay after `attempts` failures.
    pub fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = attempts.clamp(1, 20) - 1;
        let secs = (self.retry_base_secs * 2f64.powi(exponent)).min(self.retry_max_secs);
        secs_to_duration(secs)
    }
}

/// Seconds as a chrono duration (millisecond precision).
pub fn secs_to_duration(secs: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((secs * 1000.0).round() as i64)
}

/// The engine's parts, shared by every start of its two services: the scheduler and the
/// event sink. A service that failed is started again from these (see
/// [`crate::supervisor`]); what a scheduler knew in memory (its leases, its pacers) it reads
/// back from the database.
///
/// What the engine shares with its daemon's API.
#[derive(Debug, Clone, Default)]
pub struct ApiLinks {
    /// Notified when campaigns change or requests arrive, so new work is planned at once.
    pub wake: Arc<tokio::sync::Notify>,
    /// Marked while the engine dials; the ingest gate reads it.
    pub activity: Arc<activity::DialingActivity>,
}

/// Two clocks: `clock` (the wall) for everything compared with the database and the
/// requests' expiration times; the contact center's clock for call timing (event times,
/// ring and handle times, pacing), which a sped-up simulator runs faster.
pub struct Engine {
    pool: sqlx::PgPool,
    center: Arc<dyn ContactCenter>,
    center_clock: Arc<dyn Clock>,
    clock: Arc<dyn Clock>,
    config: Arc<EngineConfig>,
    pacing: Arc<std::sync::RwLock<Arc<crate::pacing::PacingConfig>>>,
    templates: Arc<std::sync::RwLock<Arc<crate::sms::template::Templates>>>,
    retries: Arc<std::sync::RwLock<Arc<crate::rules::retry::RetriesConfig>>>,
    /// Shared with the API, so new work is planned at once.
    wake: Arc<tokio::sync::Notify>,
    /// Shared with the API's ingest gate: marked while this engine dials.
    activity: Arc<activity::DialingActivity>,
    signals: Arc<scheduler::Signals>,
    /// This daemon's name as a lease owner: the same across restarts of the scheduler, so
    /// its leases stay its own.
    owner: Arc<str>,
    /// Zero of the pacing clock.
    epoch: chrono::DateTime<chrono::Utc>,
}

impl Engine {
    /// An engine dialing through `center`, whose clock is `center_clock`, with the pacing,
    /// SMS templates and retry policies `reloadable` holds.
    pub fn new(
        pool: sqlx::PgPool,
        center: Arc<dyn ContactCenter>,
        center_clock: Arc<dyn Clock>,
        clock: Arc<dyn Clock>,
        config: &EngineConfig,
        reloadable: &crate::reload::Reloadable,
        api: ApiLinks,
    ) -> Arc<Self> {
        let owner: Arc<str> = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
        .into();
        tracing::info!(owner = %owner, "dialing engine started");
        Arc::new(Self {
            pool,
            epoch: center_clock.now(),
            center,
            center_clock,
            clock,
            config: Arc::new(config.clone()),
            pacing: reloadable.pacing.clone(),
            templates: reloadable.templates.clone(),
            retries: reloadable.retries.clone(),
            wake: api.wake,
            activity: api.activity,
            signals: Arc::new(scheduler::Signals::default()),
            owner,
        })
    }

    /// This daemon's name as a lease owner.
    pub fn owner(&self) -> Arc<str> {
        self.owner.clone()
    }

    /// The scheduler and the event sink, to run under a supervisor.
    pub fn services(self: &Arc<Self>) -> [Service; 2] {
        let engine = self.clone();
        let scheduler = Service::new(SCHEDULER_SERVICE, move |cancel| {
            let scheduler = scheduler::Scheduler::new(
                engine.pool.clone(),
                engine.center.clone(),
                engine.clock.clone(),
                engine.center_clock.clone(),
                engine.config.clone(),
                engine.pacing.clone(),
                engine.templates.clone(),
                engine.owner.clone(),
                engine.wake.clone(),
                engine.activity.clone(),
                engine.signals.clone(),
                engine.epoch,
            );
            scheduler.run(cancel)
        });
        let engine = self.clone();
        let sink = Service::new(EVENT_SINK_SERVICE, move |cancel| {
            let sink = events::EventSink {
                pool: engine.pool.clone(),
                signals: engine.signals.clone(),
                epoch: engine.epoch,
                retries: engine.retries.clone(),
            };
            sink.run(engine.center.subscribe(), cancel)
        });
        [scheduler, sink]
    }
}

/// The scheduler's name among the supervised services.
pub const SCHEDULER_SERVICE: &str = "scheduler";
/// The event sink's name among the supervised services.
pub const EVENT_SINK_SERVICE: &str = "event_sink";

/// Failures of the engine's own operations.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// This daemon no longer holds the campaign's lease; its write was refused.
    #[error("lease of campaign {0} was lost to another daemon")]
    StaleLease(String),
    /// Another writer recorded some of the same contact events first; read them again.
    #[error("contact events were recorded concurrently")]
    ConcurrentEvents,
}

impl From<crate::queue::QueueError> for EngineError {
    fn from(error: crate::queue::QueueError) -> Self {
        match error {
            crate::queue::QueueError::Database(e) => EngineError::Database(e),
            // The request transitions the engine asks of the queue look no campaign up.
            other => EngineError::Database(sqlx::Error::Protocol(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = EngineConfig::default();
        assert_eq!(config.backoff(1), chrono::Duration::milliseconds(500));
        assert_eq!(config.backoff(2), chrono::Duration::seconds(1));
        assert_eq!(config.backoff(4), chrono::Duration::seconds(4));
        assert_eq!(config.backoff(30), chrono::Duration::seconds(30));
    }

    #[test]
    fn validation_names_keys() {
        let config = EngineConfig {
            tick_secs: 2.0,
            lease_ttl_secs: 1.0,
            total_lines: 0,
            ..EngineConfig::default()
        };
        let problems = config.validate().join("\n");
        assert!(problems.contains("engine.lease_ttl_secs"), "{problems}");
        assert!(problems.contains("engine.total_lines"), "{problems}");
    }

    #[test]
    fn the_abandoned_quiet_period_is_non_negative_and_finite() {
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let config = EngineConfig {
                abandoned_quiet_hours: bad,
                ..EngineConfig::default()
            };
            let problems = config.validate().join("\n");
            assert!(
                problems.contains("engine.abandoned_quiet_hours"),
                "{bad}: {problems}"
            );
        }
        for good in [0.0, 72.0, 0.5] {
            let config = EngineConfig {
                abandoned_quiet_hours: good,
                ..EngineConfig::default()
            };
            assert!(config.validate().is_empty(), "{good}");
        }
        assert_eq!(
            EngineConfig::default().abandoned_quiet(),
            chrono::Duration::hours(72)
        );
    }
}
