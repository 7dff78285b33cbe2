//! The simulated contact center as a pure discrete-event model: agents, customers, queues.
//!
//! Shared by the daemon's embedded simulator ([`super::SimContactCenter`], which drives it from
//! the wall clock) and the what-if simulator (which drives it from a virtual clock). No I/O, no
//! tokio, no wall clock: time is an input (`now` / `until`), held inside as seconds since the
//! model's epoch.
//!
//! Invariants:
//! - Model time never goes backwards; an earlier `now` is taken as the current model time.
//! - Every random draw comes from the seed. Each contact has its own stream, derived from the
//!   seed and the contact's sequence number, so its fate does not depend on fault draws,
//!   metric reads or timing; fault injection has a stream of its own.
//! - A contact is dialed only by [`SimModel::commit`]; a replayed `ClientToken`
//!   ([`SimModel::replay`]) never dials. The caller keeps the token memory ([`LedgerEntry`])
//!   so it can outlive the model; see [`super::SimLedger`].
//! - Agents take waiting contacts first in, first out; the longest-idle agent goes first.

use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contact_center::{
    BatchPutContactRequest, BatchPutContactResponse, ContactDataRequest, ContactEvent,
    ContactEventKind, Endpoint, EndpointType, FailedRequest, FailureReasonCode, QueueMetrics,
    SuccessfulRequest, AMD_ATTRIBUTE_KEY, BATCH_MAX_CONTACTS, CLIENT_TOKEN_MAX_LEN,
    REQUEST_IDENTIFIER_MAX_LEN,
};

/// Where these settings live in the daemon's configuration; validation messages name it.
pub const CONFIG_KEY: &str = "contact_center.sim";

/// Default seed.
pub const SEED_DEFAULT: u64 = 1;
/// Default time scale: real time.
pub const TIME_SCALE_DEFAULT: f64 = 1.0;
/// Largest time scale; beyond it the driver's sleeps fall below timer resolution.
pub const TIME_SCALE_MAX: f64 = 100_000.0;
/// Default capacity of the event channel; at a few hundred events a second it absorbs a
/// subscriber stalled for minutes.
pub const EVENT_BUFFER_DEFAULT: usize = 65_536;
/// Largest event channel capacity accepted.
pub const EVENT_BUFFER_MAX: usize = 1 << 24;
/// Id of the queue in the default configuration.
pub const QUEUE_ID_DEFAULT: &str = "sim-queue";
/// Agents logged in at the start, per queue.
pub const AGENTS_DEFAULT: u32 = 10;
/// Reference model: mean handle time (talk + after-contact work).
pub const HANDLE_MEAN_SECS_DEFAULT: f64 = 120.0;
/// Share of handle time spent in after-contact work. An assumption, not from a source; it
/// leaves the reference results unchanged because an agent in wrap-up is as unavailable as
/// one talking.
pub const WRAP_SHARE_DEFAULT: f64 = 0.2;
/// Reference model: probability that a person answers a dial.
pub const ANSWER_PROBABILITY_DEFAULT: f64 = 0.25;
/// Reference model: earliest answer after the dial starts.
pub const ANSWER_DELAY_MIN_SECS_DEFAULT: f64 = 6.0;
/// Reference model: latest answer after the dial starts.
pub const ANSWER_DELAY_MAX_SECS_DEFAULT: f64 = 24.0;
/// Reference model: no answering machines (it assumes perfect AMD).
pub const MACHINE_PROBABILITY_DEFAULT: f64 = 0.0;
/// Agent time on an undetected machine (AMD off): listening to the greeting and hanging up.
pub const MACHINE_HANDLE_SECS_DEFAULT: f64 = 15.0;
/// Reference model: share of dials that fail fast (busy or special information tone).
pub const FAIL_FAST_PROBABILITY_DEFAULT: f64 = 0.15;
/// Reference model: when a fast failure is known.
pub const FAIL_FAST_SECS_DEFAULT: f64 = 3.0;
/// Share of fast failures that are busy rather than invalid (SIT). An assumption.
pub const FAIL_FAST_BUSY_SHARE_DEFAULT: f64 = 0.5;
/// Reference model: unanswered dials ring out after this long.
pub const RING_TIMEOUT_SECS_DEFAULT: f64 = 25.0;
/// US rule: a person not connected to an agent within 2 s of answering is abandoned.
pub const ABANDON_THRESHOLD_SECS_DEFAULT: f64 = 2.0;
/// How long a faulted `BatchPutContact` hangs before timing out, in model seconds.
pub const TIMEOUT_SECS_DEFAULT: f64 = 10.0;
/// Longest duration any distribution yields; keeps every simulated time finite.
pub const SAMPLE_SECS_MAX: f64 = 7.0 * 86_400.0;
/// Largest log-normal sigma accepted; beyond it samples hit [`SAMPLE_SECS_MAX`] too often to
/// mean anything.
pub const LOG_NORMAL_SIGMA_MAX: f64 = 4.0;

/// Settings of the simulated contact center (`[contact_center.sim]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random draw ([`SEED_DEFAULT`]).
    pub seed: u64,
    /// Model seconds per wall second in the daemon: 1.0 is real time, 60.0 a minute per
    /// second ([`TIME_SCALE_DEFAULT`]). The what-if simulator ignores it.
    pub time_scale: f64,
    /// Capacity of the daemon's event channel ([`EVENT_BUFFER_DEFAULT`]).
    pub event_buffer: usize,
    /// The queues and their agents; one queue [`QUEUE_ID_DEFAULT`] by default.
    pub queues: Vec<QueueConfig>,
    /// How customers respond to dials.
    pub customers: CustomerConfig,
    /// Injected failures.
    pub faults: FaultConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: SEED_DEFAULT,
            time_scale: TIME_SCALE_DEFAULT,
            event_buffer: EVENT_BUFFER_DEFAULT,
            queues: vec![QueueConfig::new(QUEUE_ID_DEFAULT, AGENTS_DEFAULT)],
            customers: CustomerConfig::default(),
            faults: FaultConfig::default(),
        }
    }
}

/// A queue and the agents who serve it (`[[contact_center.sim.queues]]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The `QueueId` contacts name.
    pub queue_id: String,
    /// Agents logged in at the start ([`AGENTS_DEFAULT`]).
    #[serde(default = "agents_default")]
    pub agents: u32,
    /// Log-ins and log-outs during the shift. An agent told to log out while busy finishes
    /// the contact (and its wrap-up) first.
    #[serde(default)]
    pub staffing: Vec<StaffingChange>,
    /// Agent time per contact ([`HandleTime::default`]).
    #[serde(default)]
    pub handle_time: HandleTime,
}

fn agents_default() -> u32 {
    AGENTS_DEFAULT
}

impl QueueConfig {
    /// A queue with `agents` logged in all shift and the default handle time.
    pub fn new(queue_id: impl Into<String>, agents: u32) -> Self {
        Self {
            queue_id: queue_id.into(),
            agents,
            staffing: Vec::new(),
            handle_time: HandleTime::default(),
        }
    }
}

/// A change in the number of logged-in agents.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaffingChange {
    /// Seconds after the model's epoch.
    pub at_secs: f64,
    /// Agents logging in (positive) or out (negative).
    pub delta: i32,
}

/// How long an agent spends on a contact.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum HandleTime {
    /// One draw of the whole handle time, split at a fixed share. Keeps the total's
    /// distribution, which is how the reference model states it (exponential, mean 120 s).
    Split {
        /// Talk plus after-contact work.
        total: Dist,
        /// Share of `total` spent in after-contact work, 0 to 1.
        wrap_share: f64,
    },
    /// Independent draws of talk and after-contact work.
    Separate {
        /// Connected to the customer.
        talk: Dist,
        /// After-contact work.
        wrap: Dist,
    },
}

impl Default for HandleTime {
    /// The reference model: exponential, mean [`HANDLE_MEAN_SECS_DEFAULT`], with
    /// [`WRAP_SHARE_DEFAULT`] of it in wrap-up.
    fn default() -> Self {
        Self::Split {
            total: Dist::Exponential {
                mean_secs: HANDLE_MEAN_SECS_DEFAULT,
            },
            wrap_share: WRAP_SHARE_DEFAULT,
        }
    }
}

impl HandleTime {
    /// A fixed handle time, all talk.
    pub fn fixed(secs: f64) -> Self {
        Self::Split {
            total: Dist::Fixed { secs },
            wrap_share: 0.0,
        }
    }

    /// Mean talk plus wrap-up.
    pub fn mean_secs(&self) -> f64 {
        match self {
            Self::Split { total, .. } => total.mean_secs(),
            Self::Separate { talk, wrap } => talk.mean_secs() + wrap.mean_secs(),
        }
    }

    /// (talk, wrap-up) seconds.
    fn sample(&self, rng: &mut StdRng) -> (f64, f64) {
        match self {
            Self::Split { total, wrap_share } => {
                let total = total.sample(rng);
                (total * (1.0 - wrap_share), total * wrap_share)
            }
            Self::Separate { talk, wrap } => (talk.sample(rng), wrap.sample(rng)),
        }
    }

    fn validate(&self, key: &str, errors: &mut Vec<String>) {
        match self {
            Self::Split { total, wrap_share } => {
                total.validate(&format!("{key}.total"), errors);
                check_probability(&format!("{key}.wrap_share"), *wrap_share, errors);
            }
            Self::Separate { talk, wrap } => {
                talk.validate(&format!("{key}.talk"), errors);
                wrap.validate(&format!("{key}.wrap"), errors);
            }
        }
    }
}

/// A distribution of durations, in seconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    /// Always `secs`.
    Fixed {
        /// The duration.
        secs: f64,
    },
    /// Uniform between the bounds.
    Uniform {
        /// Lower bound.
        min_secs: f64,
        /// Upper bound.
        max_secs: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean.
        mean_secs: f64,
    },
    /// Log-normal with the given mean; `sigma` is the standard deviation of the logarithm.
    LogNormal {
        /// The mean (not the median).
        mean_secs: f64,
        /// Spread of the logarithm, 0 to [`LOG_NORMAL_SIGMA_MAX`].
        sigma: f64,
    },
}

impl Dist {
    /// The distribution's mean.
    pub fn mean_secs(&self) -> f64 {
        match self {
            Self::Fixed { secs } => *secs,
            Self::Uniform { min_secs, max_secs } => (min_secs + max_secs) / 2.0,
            Self::Exponential { mean_secs } | Self::LogNormal { mean_secs, .. } => *mean_secs,
        }
    }

    /// A draw, always finite and within 0..=[`SAMPLE_SECS_MAX`].
    fn sample(&self, rng: &mut StdRng) -> f64 {
        let secs = match self {
            Self::Fixed { secs } => *secs,
            Self::Uniform { min_secs, max_secs } => {
                min_secs + rng.random::<f64>() * (max_secs - min_secs)
            }
            Self::Exponential { mean_secs } => -mean_secs * (1.0 - rng.random::<f64>()).ln(),
            Self::LogNormal { mean_secs, sigma } => {
                // Box-Muller; 1 - u lies in (0, 1], so the logarithm is finite.
                let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
                let normal = radius * (std::f64::consts::TAU * rng.random::<f64>()).cos();
                let mu = mean_secs.ln() - sigma * sigma / 2.0;
                (mu + sigma * normal).exp()
            }
        };
        if secs.is_finite() {
            secs.clamp(0.0, SAMPLE_SECS_MAX)
        } else {
            SAMPLE_SECS_MAX
        }
    }

    fn validate(&self, key: &str, errors: &mut Vec<String>) {
        match self {
            Self::Fixed { secs } => check_secs(&format!("{key}.secs"), *secs, errors),
            Self::Uniform { min_secs, max_secs } => {
                check_secs(&format!("{key}.min_secs"), *min_secs, errors);
                check_secs(&format!("{key}.max_secs"), *max_secs, errors);
                if min_secs > max_secs {
                    errors.push(format!(
                        "{key}.min_secs must not exceed {key}.max_secs, got {min_secs} > {max_secs}"
                    ));
                }
            }
            Self::Exponential { mean_secs } => {
                check_positive_secs(&format!("{key}.mean_secs"), *mean_secs, errors)
            }
            Self::LogNormal { mean_secs, sigma } => {
                check_positive_secs(&format!("{key}.mean_secs"), *mean_secs, errors);
                if !(0.0..=LOG_NORMAL_SIGMA_MAX).contains(sigma) {
                    errors.push(format!(
                        "{key}.sigma must be within [0, {LOG_NORMAL_SIGMA_MAX}], got {sigma}"
                    ));
                }
            }
        }
    }
}

/// How customers respond to dials (`[contact_center.sim.customers]`). Outcome shares are of
/// all dials: fail fast, else person, else machine, else no answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerConfig {
    /// Probability that a person answers ([`ANSWER_PROBABILITY_DEFAULT`]).
    pub answer_probability: f64,
    /// Changes of `answer_probability` during the shift; a dial uses the rate in force when
    /// it starts.
    pub answer_rate_changes: Vec<AnswerRateChange>,
    /// Time from dial to answer, for people and machines alike (uniform
    /// [`ANSWER_DELAY_MIN_SECS_DEFAULT`]–[`ANSWER_DELAY_MAX_SECS_DEFAULT`]). A draw past the
    /// ring timeout rings out instead.
    pub answer_delay: Dist,
    /// Probability that an answering machine answers ([`MACHINE_PROBABILITY_DEFAULT`]).
    pub machine_probability: f64,
    /// Agent time on a machine that AMD did not catch ([`MACHINE_HANDLE_SECS_DEFAULT`]).
    pub machine_handle_time: HandleTime,
    /// Probability that a dial fails fast ([`FAIL_FAST_PROBABILITY_DEFAULT`]).
    pub fail_fast_probability: f64,
    /// When a fast failure is known ([`FAIL_FAST_SECS_DEFAULT`]).
    pub fail_fast_secs: f64,
    /// Share of fast failures that are busy, the rest invalid ([`FAIL_FAST_BUSY_SHARE_DEFAULT`]).
    pub fail_fast_busy_share: f64,
    /// When an unanswered dial gives up ([`RING_TIMEOUT_SECS_DEFAULT`]).
    pub ring_timeout_secs: f64,
    /// Longest wait from answer to agent before the contact is abandoned
    /// ([`ABANDON_THRESHOLD_SECS_DEFAULT`]). The answer is taken as the end of the greeting.
    pub abandon_threshold_secs: f64,
}

impl Default for CustomerConfig {
    fn default() -> Self {
        Self {
            answer_probability: ANSWER_PROBABILITY_DEFAULT,
            answer_rate_changes: Vec::new(),
            answer_delay: Dist::Uniform {
                min_secs: ANSWER_DELAY_MIN_SECS_DEFAULT,
                max_secs: ANSWER_DELAY_MAX_SECS_DEFAULT,
            },
            machine_probability: MACHINE_PROBABILITY_DEFAULT,
            machine_handle_time: HandleTime::fixed(MACHINE_HANDLE_SECS_DEFAULT),
            fail_fast_probability: FAIL_FAST_PROBABILITY_DEFAULT,
            fail_fast_secs: FAIL_FAST_SECS_DEFAULT,
            fail_fast_busy_share: FAIL_FAST_BUSY_SHARE_DEFAULT,
            ring_timeout_secs: RING_TIMEOUT_SECS_DEFAULT,
            abandon_threshold_secs: ABANDON_THRESHOLD_SECS_DEFAULT,
        }
    }
}

/// A new person-answer probability from `at_secs` on.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRateChange {
    /// Seconds after the model's epoch.
    pub at_secs: f64,
    /// The new probability.
    pub probability: f64,
}

/// Injected failures (`[contact_center.sim.faults]`); all off by default.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Per `BatchPutContact` call: the whole call is throttled, nothing happens.
    pub throttle_probability: f64,
    /// Per `BatchPutContact` call: the whole call fails with a server error, nothing happens.
    pub internal_error_probability: f64,
    /// Per `BatchPutContact` call: the batch takes effect but the caller gets a timeout after
    /// `timeout_secs` — the ambiguous case that only a replay with the same token resolves.
    pub timeout_probability: f64,
    /// How long a timed-out call hangs, in model seconds ([`TIMEOUT_SECS_DEFAULT`]).
    pub timeout_secs: f64,
    /// Per item: `REQUEST_THROTTLED`.
    pub item_throttle_probability: f64,
    /// Per item: `INTERNAL_ERROR`.
    pub item_internal_error_probability: f64,
    /// Per `GetCurrentMetricData` call: throttled.
    pub metrics_throttle_probability: f64,
    /// Per SMS accepted by `StartOutboundChatContact`: the message is not delivered (the
    /// center records it undelivered; the sender learns nothing of it, as with a carrier).
    pub sms_undelivered_probability: f64,
}

impl SimConfig {
    /// Every problem with the settings, each naming its key under `contact_center.sim.`;
    /// empty when the settings are usable.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let key = |name: &str| format!("{CONFIG_KEY}.{name}");
        if !(self.time_scale.is_finite()
            && self.time_scale > 0.0
            && self.time_scale <= TIME_SCALE_MAX)
        {
            errors.push(format!(
                "{} must be > 0 and at most {TIME_SCALE_MAX}, got {}",
                key("time_scale"),
                self.time_scale
            ));
        }
        if !(1..=EVENT_BUFFER_MAX).contains(&self.event_buffer) {
            errors.push(format!(
                "{} must be within [1, {EVENT_BUFFER_MAX}], got {}",
                key("event_buffer"),
                self.event_buffer
            ));
        }
        let mut seen = HashSet::new();
        for (i, queue) in self.queues.iter().enumerate() {
            let q = key(&format!("queues[{i}]"));
            if queue.queue_id.is_empty() {
                errors.push(format!("{q}.queue_id must not be empty"));
            } else if !seen.insert(queue.queue_id.as_str()) {
                errors.push(format!("{q}.queue_id repeats an earlier queue's id"));
            }
            let mut changes: Vec<&StaffingChange> = queue.staffing.iter().collect();
            changes.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
            let mut agents = i64::from(queue.agents);
            for (j, change) in queue.staffing.iter().enumerate() {
                check_secs(
                    &format!("{q}.staffing[{j}].at_secs"),
                    change.at_secs,
                    &mut errors,
                );
            }
            for change in changes {
                agents += i64::from(change.delta);
                if agents < 0 {
                    errors.push(format!(
                        "{q}.staffing logs out more agents than are logged in at {} s",
                        change.at_secs
                    ));
                    break;
                }
            }
            queue
                .handle_time
                .validate(&format!("{q}.handle_time"), &mut errors);
        }

        let c = &self.customers;
        let ck = |name: &str| key(&format!("customers.{name}"));
        check_probability(&ck("answer_probability"), c.answer_probability, &mut errors);
        check_probability(
            &ck("machine_probability"),
            c.machine_probability,
            &mut errors,
        );
        check_probability(
            &ck("fail_fast_probability"),
            c.fail_fast_probability,
            &mut errors,
        );
        check_probability(
            &ck("fail_fast_busy_share"),
            c.fail_fast_busy_share,
            &mut errors,
        );
        let mut rates = vec![(ck("answer_probability"), c.answer_probability)];
        for (j, change) in c.answer_rate_changes.iter().enumerate() {
            let k = ck(&format!("answer_rate_changes[{j}]"));
            check_secs(&format!("{k}.at_secs"), change.at_secs, &mut errors);
            check_probability(&format!("{k}.probability"), change.probability, &mut errors);
            rates.push((format!("{k}.probability"), change.probability));
        }
        for (k, rate) in rates {
            let total = c.fail_fast_probability + rate + c.machine_probability;
            if total > 1.0 + 1e-9 {
                errors.push(format!(
                    "{k} + {} + {} must not exceed 1, got {total}",
                    ck("fail_fast_probability"),
                    ck("machine_probability")
                ));
            }
        }
        c.answer_delay.validate(&ck("answer_delay"), &mut errors);
        c.machine_handle_time
            .validate(&ck("machine_handle_time"), &mut errors);
        check_secs(&ck("fail_fast_secs"), c.fail_fast_secs, &mut errors);
        check_positive_secs(&ck("ring_timeout_secs"), c.ring_timeout_secs, &mut errors);
        check_secs(
            &ck("abandon_threshold_secs"),
            c.abandon_threshold_secs,
            &mut errors,
        );

        let f = &self.faults;
        let fk = |name: &str| key(&format!("faults.{name}"));
        let call = [
            ("throttle_probability", f.throttle_probability),
            ("internal_error_probability", f.internal_error_probability),
            ("timeout_probability", f.timeout_probability),
        ];
        let item = [
            ("item_throttle_probability", f.item_throttle_probability),
            (
                "item_internal_error_probability",
                f.item_internal_error_probability,
            ),
        ];
        for group in [&call[..], &item[..]] {
            for (name, p) in group {
                check_probability(&fk(name), *p, &mut errors);
            }
            let total: f64 = group.iter().map(|(_, p)| p).sum();
            if total > 1.0 + 1e-9 {
                let names: Vec<String> = group.iter().map(|(name, _)| fk(name)).collect();
                errors.push(format!(
                    "{} must not add up to more than 1, got {total}",
                    names.join(" + ")
                ));
            }
        }
        check_probability(
            &fk("metrics_throttle_probability"),
            f.metrics_throttle_probability,
            &mut errors,
        );
        check_probability(
            &fk("sms_undelivered_probability"),
            f.sms_undelivered_probability,
            &mut errors,
        );
        check_positive_secs(&fk("timeout_secs"), f.timeout_secs, &mut errors);
        errors
    }
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            throttle_probability: 0.0,
            internal_error_probability: 0.0,
            timeout_probability: 0.0,
            timeout_secs: TIMEOUT_SECS_DEFAULT,
            item_throttle_probability: 0.0,
            item_internal_error_probability: 0.0,
            metrics_throttle_probability: 0.0,
            sms_undelivered_probability: 0.0,
        }
    }
}

fn check_probability(key: &str, p: f64, errors: &mut Vec<String>) {
    if !(0.0..=1.0).contains(&p) {
        errors.push(format!("{key} must be within [0, 1], got {p}"));
    }
}

fn check_secs(key: &str, secs: f64, errors: &mut Vec<String>) {
    if !(0.0..=SAMPLE_SECS_MAX).contains(&secs) {
        errors.push(format!(
            "{key} must be within [0, {SAMPLE_SECS_MAX}] seconds, got {secs}"
        ));
    }
}

fn check_positive_secs(key: &str, secs: f64, errors: &mut Vec<String>) {
    if !(secs > 0.0 && secs <= SAMPLE_SECS_MAX) {
        errors.push(format!(
            "{key} must be > 0 and at most {SAMPLE_SECS_MAX} seconds, got {secs}"
        ));
    }
}

/// The settings failed [`SimConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid contact-center simulator settings: {}", .0.join("; "))]
pub struct InvalidSimConfig(pub Vec<String>);

/// A `BatchPutContact` request that breaks the API contract as a whole
/// (`InvalidRequestException`); no item is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// `ContactDataRequestList` holds no or too many items.
    #[error("ContactDataRequestList must hold 1 to {BATCH_MAX_CONTACTS} items, got {0}")]
    BatchSize(usize),
    /// `InstanceId` is empty.
    #[error("InstanceId must not be empty")]
    InstanceId,
    /// `ClientToken` is empty or too long. The simulator insists on one: without it
    /// a retried batch would dial twice.
    #[error("ClientToken must be 1 to {CLIENT_TOKEN_MAX_LEN} characters")]
    ClientToken,
    /// An item's `RequestIdentifier` is empty or too long.
    #[error(
        "RequestIdentifier of item {index} must be 1 to {REQUEST_IDENTIFIER_MAX_LEN} characters"
    )]
    RequestIdentifier {
        /// Position of the item in the batch.
        index: usize,
    },
    /// Two items share a `RequestIdentifier`.
    #[error("RequestIdentifier {0:?} appears more than once in the batch")]
    DuplicateRequestIdentifier(String),
}

/// What the simulator remembers about a `ClientToken`: enough to answer a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// SHA-256 (hex) of the instance id and the items, insensitive to item order, so a
    /// recovered batch re-read from a database in another order still replays.
    pub fingerprint: String,
    /// The answer given the first time, returned verbatim to every replay.
    pub response: BatchPutContactResponse,
}

/// A whole-call failure drawn for one `BatchPutContact` ([`SimModel::draw_call_fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFault {
    /// Fail at once as throttled; nothing happens.
    Throttled,
    /// Fail at once with a server error; nothing happens.
    InternalError,
    /// Take effect, then fail with a timeout after [`FaultConfig::timeout_secs`].
    Timeout,
}

/// A validated batch, ready to be recorded under its token and then committed.
#[derive(Debug, Clone)]
pub struct PreparedBatch {
    entry: LedgerEntry,
    new_contacts: Vec<NewContact>,
}

impl PreparedBatch {
    /// What to record under the batch's `ClientToken` before committing it.
    pub fn ledger_entry(&self) -> &LedgerEntry {
        &self.entry
    }
}

#[derive(Debug, Clone)]
struct NewContact {
    contact_id: String,
    request_identifier: String,
    /// Index into the queues; `None` for an agentless contact.
    queue: Option<usize>,
    amd: bool,
}

/// Result of [`SimModel::put_contacts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// The `BatchPutContact` response.
    pub response: BatchPutContactResponse,
    /// When the batch was new: what the caller must remember under its `ClientToken`.
    /// `None` for a replay.
    pub new_entry: Option<LedgerEntry>,
}

/// Totals since the model started, for reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimCounters {
    /// Contacts created, i.e. calls placed.
    pub dials: u64,
    /// Calls a person answered.
    pub person_answers: u64,
    /// Calls a machine answered, detected or not.
    pub machine_answers: u64,
    /// Machine answers AMD detected (reported as `MachineAnswered`).
    pub machines_detected: u64,
    /// Calls that rang out.
    pub no_answers: u64,
    /// Calls that found the line busy.
    pub busy: u64,
    /// Calls to invalid numbers (SIT).
    pub invalid: u64,
    /// Contacts connected to an agent.
    pub connected: u64,
    /// Contacts abandoned: answered (by a person, or by a machine AMD did not catch) and not
    /// connected within the threshold.
    pub abandons: u64,
    /// Contacts that completed after-contact work.
    pub completed: u64,
    /// Agent-seconds spent on contacts (talk and wrap-up), for occupancy.
    pub agent_busy_secs: f64,
    /// Agent-seconds logged in.
    pub agent_online_secs: f64,
    /// Batches answered from a recorded `ClientToken`.
    pub replayed_batches: u64,
    /// Batches whose `ClientToken` was recorded for different content.
    pub idempotency_conflicts: u64,
    /// Items of committed batches that were not created.
    pub failed_items: u64,
    /// SMS delivered (each token once).
    pub sms_delivered: u64,
    /// SMS accepted and not delivered (`sms_undelivered_probability`).
    pub sms_undelivered: u64,
}

impl SimCounters {
    /// Agent busy time over logged-in time; `None` before any agent was logged in.
    pub fn occupancy(&self) -> Option<f64> {
        (self.agent_online_secs > 0.0).then(|| self.agent_busy_secs / self.agent_online_secs)
    }

    /// Agent busy time over logged-in time between `earlier` and these counters (a run's
    /// dialing period, leaving out the agents' idle time before it); `None` when no agent
    /// time passed between them.
    pub fn occupancy_since(&self, earlier: &SimCounters) -> Option<f64> {
        let online = self.agent_online_secs - earlier.agent_online_secs;
        (online > 0.0).then(|| (self.agent_busy_secs - earlier.agent_busy_secs) / online)
    }
}

/// The simulated contact center.
#[derive(Debug)]
pub struct SimModel {
    config: SimConfig,
    epoch: DateTime<Utc>,
    /// Model time: microseconds since `epoch`. Integers, so that a time handed out by
    /// `next_event_time` and passed back to `advance` compares equal to the event's own.
    now: Micros,
    /// Answer-rate schedule sorted by time.
    answer_rates: Vec<(Micros, f64)>,
    queues: Vec<QueueState>,
    contacts: HashMap<u64, Contact>,
    next_contact: u64,
    agenda: BinaryHeap<Scheduled>,
    next_scheduled: u64,
    fault_rng: StdRng,
    counters: SimCounters,
    /// Up to when the agent-time counters have been accrued.
    accrued_to: Micros,
}

/// Microseconds since the model's epoch.
type Micros = i64;

/// Seconds as [`Micros`]; `as` saturates, and durations are finite and bounded anyway.
fn micros(secs: f64) -> Micros {
    (secs * 1e6).round() as Micros
}

#[derive(Debug)]
struct QueueState {
    id: String,
    handle_time: HandleTime,
    /// Idle agents by number, longest idle first.
    available: VecDeque<u32>,
    on_contact: u32,
    after_contact_work: u32,
    /// Busy agents told to log out when they finish.
    pending_logouts: u32,
    /// Answered contacts waiting for an agent, first come first served.
    waiting: VecDeque<u64>,
    next_agent: u32,
}

impl QueueState {
    fn busy(&self) -> u32 {
        self.on_contact + self.after_contact_work
    }

    fn online(&self) -> u32 {
        self.available.len() as u32 + self.busy()
    }

    fn log_in(&mut self) {
        self.next_agent += 1;
        self.available.push_back(self.next_agent);
    }

    fn agent_id(&self, agent: u32) -> String {
        format!("{}/agent-{agent}", self.id)
    }
}

#[derive(Debug)]
struct Contact {
    contact_id: String,
    request_identifier: String,
    queue: Option<usize>,
    outcome: Outcome,
    talk: Micros,
    wrap: Micros,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Person,
    Machine { detected: bool },
    NoAnswer,
    Busy,
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Waiting,
    Talking(u32),
    Wrapping(u32),
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Initiate(u64),
    RingEnd(u64),
    AbandonCheck(u64),
    TalkEnd(u64),
    WrapEnd(u64),
    Staffing { queue: usize, delta: i32 },
}

impl Job {
    /// Order among jobs due at the same instant: agents are freed before answers look for
    /// one, and abandon checks run last, so an agent free exactly at the threshold counts
    /// as in time.
    fn rank(self) -> u8 {
        match self {
            Self::WrapEnd(_) | Self::Staffing { .. } => 0,
            Self::Initiate(_) | Self::RingEnd(_) | Self::TalkEnd(_) => 1,
            Self::AbandonCheck(_) => 2,
        }
    }
}

#[derive(Debug)]
struct Scheduled {
    at: Micros,
    rank: u8,
    seq: u64,
    job: Job,
}

impl Ord for Scheduled {
    // Reversed: `BinaryHeap` is a max-heap and the agenda pops the earliest job first;
    // `seq` breaks ties in scheduling order, which keeps runs reproducible.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then(other.rank.cmp(&self.rank))
            .then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scheduled {}

/// Tags keep the contact and fault streams apart even for equal seeds and sequence numbers.
const CONTACT_STREAM: &[u8; 16] = b"sim-contact-draw";
const FAULT_STREAM: &[u8; 16] = b"sim-fault-draws!";

fn stream_rng(seed: u64, index: u64, tag: &[u8; 16]) -> StdRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&index.to_le_bytes());
    bytes[16..].copy_from_slice(tag);
    StdRng::from_seed(bytes)
}

impl SimModel {
    /// A model whose time 0 is `epoch`, with the configured agents logged in.
    pub fn new(config: SimConfig, epoch: DateTime<Utc>) -> Result<Self, InvalidSimConfig> {
        let errors = config.validate();
        if !errors.is_empty() {
            return Err(InvalidSimConfig(errors));
        }
        let mut answer_rates: Vec<(Micros, f64)> = config
            .customers
            .answer_rate_changes
            .iter()
            .map(|c| (micros(c.at_secs), c.probability))
            .collect();
        answer_rates.sort_by_key(|&(at, _)| at);
        let mut model = Self {
            fault_rng: stream_rng(config.seed, 0, FAULT_STREAM),
            queues: Vec::with_capacity(config.queues.len()),
            config,
            epoch,
            now: 0,
            answer_rates,
            contacts: HashMap::new(),
            next_contact: 0,
            agenda: BinaryHeap::new(),
            next_scheduled: 0,
            counters: SimCounters::default(),
            accrued_to: 0,
        };
        let mut staffing = Vec::new();
        for (index, queue) in model.config.queues.iter().enumerate() {
            let mut state = QueueState {
                id: queue.queue_id.clone(),
                handle_time: queue.handle_time.clone(),
                available: VecDeque::new(),
                on_contact: 0,
                after_contact_work: 0,
                pending_logouts: 0,
                waiting: VecDeque::new(),
                next_agent: 0,
            };
            for _ in 0..queue.agents {
                state.log_in();
            }
            model.queues.push(state);
            staffing.extend(
                queue
                    .staffing
                    .iter()
                    .map(|c| (micros(c.at_secs), index, c.delta)),
            );
        }
        for (at, queue, delta) in staffing {
            model.schedule(at, Job::Staffing { queue, delta });
        }
        Ok(model)
    }

    /// The settings in force.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Model time 0.
    pub fn epoch(&self) -> DateTime<Utc> {
        self.epoch
    }

    /// Current model time.
    pub fn now(&self) -> DateTime<Utc> {
        self.to_time(self.now)
    }

    /// Totals up to the current model time.
    pub fn counters(&self) -> &SimCounters {
        &self.counters
    }

    /// Whether a `BatchPutContact` call fails as a whole; the daemon draws this once per call.
    pub fn draw_call_fault(&mut self) -> Option<CallFault> {
        let f = &self.config.faults;
        let u = self.fault_rng.random::<f64>();
        if u < f.throttle_probability {
            Some(CallFault::Throttled)
        } else if u < f.throttle_probability + f.internal_error_probability {
            Some(CallFault::InternalError)
        } else if u < f.throttle_probability + f.internal_error_probability + f.timeout_probability
        {
            Some(CallFault::Timeout)
        } else {
            None
        }
    }

    /// Counts an SMS taken under a new token.
    pub fn count_sms(&mut self, delivered: bool) {
        if delivered {
            self.counters.sms_delivered += 1;
        } else {
            self.counters.sms_undelivered += 1;
        }
    }

    /// Whether an accepted SMS is delivered.
    pub fn draw_sms_delivered(&mut self) -> bool {
        self.fault_rng.random::<f64>() >= self.config.faults.sms_undelivered_probability
    }

    /// Whether a `GetCurrentMetricData` call is throttled.
    pub fn draw_metrics_fault(&mut self) -> bool {
        self.fault_rng.random::<f64>() < self.config.faults.metrics_throttle_probability
    }

    /// One-step `BatchPutContact` for a caller that owns the token memory and has no
    /// concurrent callers (the what-if simulator): replays `ledger_hit` if given, else
    /// prepares and commits the batch at `now`. The caller must record `new_entry`.
    pub fn put_contacts(
        &mut self,
        now: DateTime<Utc>,
        req: &BatchPutContactRequest,
        ledger_hit: Option<&LedgerEntry>,
    ) -> Result<PutOutcome, BatchError> {
        if let Some(entry) = ledger_hit {
            return Ok(PutOutcome {
                response: self.replay(req, entry)?,
                new_entry: None,
            });
        }
        let prepared = self.prepare(req)?;
        let entry = prepared.entry.clone();
        let response = self.commit(now, prepared);
        Ok(PutOutcome {
            response,
            new_entry: Some(entry),
        })
    }

    /// Validates a batch whose token is not recorded yet and assigns contact ids, without
    /// dialing. Per-item injected faults are drawn here. Record
    /// [`PreparedBatch::ledger_entry`] under the token, then [`SimModel::commit`] — in that
    /// order, so a crash in between can lose calls but never place one twice.
    pub fn prepare(&mut self, req: &BatchPutContactRequest) -> Result<PreparedBatch, BatchError> {
        check_request(req)?;
        let mut response = BatchPutContactResponse::default();
        let mut new_contacts = Vec::new();
        for item in &req.contacts {
            let verdict = self.validate_item(item).or_else(|| self.draw_item_fault());
            match verdict {
                Some((code, message)) => response.failed.push(FailedRequest {
                    request_identifier: item.request_identifier.clone(),
                    failure_reason_code: code,
                    failure_reason_message: message.to_string(),
                }),
                None => {
                    let contact_id = contact_id(
                        self.config.seed,
                        &req.client_token,
                        &item.request_identifier,
                    );
                    response.successful.push(SuccessfulRequest {
                        request_identifier: item.request_identifier.clone(),
                        contact_id: contact_id.clone(),
                    });
                    new_contacts.push(NewContact {
                        contact_id,
                        request_identifier: item.request_identifier.clone(),
                        queue: item.queue_id.as_ref().and_then(|q| self.queue_index(q)),
                        amd: item.attributes.get(AMD_ATTRIBUTE_KEY).map(String::as_str)
                            == Some("true"),
                    });
                }
            }
        }
        Ok(PreparedBatch {
            entry: LedgerEntry {
                fingerprint: fingerprint(req),
                response,
            },
            new_contacts,
        })
    }

    /// Dials the contacts of a prepared batch at `now` and returns its response. Their
    /// `Initiated` events come out of the next [`SimModel::advance`].
    pub fn commit(
        &mut self,
        now: DateTime<Utc>,
        prepared: PreparedBatch,
    ) -> BatchPutContactResponse {
        let now = self.to_micros(now);
        self.counters.failed_items += prepared.entry.response.failed.len() as u64;
        for new in prepared.new_contacts {
            self.dial(now, new);
        }
        prepared.entry.response
    }

    /// Answers a batch whose token is recorded: the recorded response if the content is the
    /// same, else `IDEMPOTENCY_EXCEPTION` for every item. Never dials.
    pub fn replay(
        &mut self,
        req: &BatchPutContactRequest,
        entry: &LedgerEntry,
    ) -> Result<BatchPutContactResponse, BatchError> {
        check_request(req)?;
        if fingerprint(req) == entry.fingerprint {
            self.counters.replayed_batches += 1;
            return Ok(entry.response.clone());
        }
        self.counters.idempotency_conflicts += 1;
        Ok(BatchPutContactResponse {
            successful: Vec::new(),
            failed: req
                .contacts
                .iter()
                .map(|item| FailedRequest {
                    request_identifier: item.request_identifier.clone(),
                    failure_reason_code: FailureReasonCode::IdempotencyException,
                    failure_reason_message: "ClientToken was already used for a different batch"
                        .to_string(),
                })
                .collect(),
        })
    }

    /// Which of `contact_ids` this model is running (dialed and not yet over).
    pub fn running(&self, contact_ids: &[String]) -> HashSet<String> {
        let wanted: HashSet<&str> = contact_ids.iter().map(String::as_str).collect();
        self.contacts
            .values()
            .filter(|c| wanted.contains(c.contact_id.as_str()))
            .map(|c| c.contact_id.clone())
            .collect()
    }

    /// When the next event is due; `None` when nothing is pending.
    pub fn next_event_time(&self) -> Option<DateTime<Utc>> {
        self.agenda.peek().map(|s| self.to_time(s.at))
    }

    /// Runs every event due up to and including `until` and moves model time there.
    pub fn advance(&mut self, until: DateTime<Utc>) -> Vec<ContactEvent> {
        let until = self.to_micros(until);
        let mut events = Vec::new();
        loop {
            let due = match self.agenda.peek_mut() {
                Some(top) if top.at <= until => PeekMut::pop(top),
                _ => break,
            };
            self.accrue(due.at);
            self.now = self.now.max(due.at);
            self.run(due.job, &mut events);
        }
        self.accrue(until);
        self.now = until;
        events
    }

    /// State of the given queues at the current model time, in the order asked; unknown
    /// queues are left out.
    pub fn queue_metrics(&self, queue_ids: &[String]) -> Vec<QueueMetrics> {
        queue_ids
            .iter()
            .filter_map(|id| self.queue_index(id))
            .map(|index| {
                let q = &self.queues[index];
                QueueMetrics {
                    queue_id: q.id.clone(),
                    agents_online: q.online(),
                    agents_available: q.available.len() as u32,
                    agents_on_contact: q.on_contact,
                    agents_after_contact_work: q.after_contact_work,
                    contacts_in_queue: q.waiting.len() as u32,
                }
            })
            .collect()
    }

    fn queue_index(&self, queue_id: &str) -> Option<usize> {
        self.queues.iter().position(|q| q.id == queue_id)
    }

    fn validate_item(
        &self,
        item: &ContactDataRequest,
    ) -> Option<(FailureReasonCode, &'static str)> {
        use FailureReasonCode::*;
        let Some(customer) = &item.customer_endpoint else {
            return Some((MissingCustomerEndpoint, "CustomerEndpoint is required"));
        };
        if customer.endpoint_type != EndpointType::TelephoneNumber || !is_e164(&customer.address) {
            return Some((
                InvalidCustomerEndpoint,
                "CustomerEndpoint must be a TELEPHONE_NUMBER in E.164 format",
            ));
        }
        if let Some(system) = &item.system_endpoint {
            if !is_valid_system_endpoint(system) {
                return Some((
                    InvalidSystemEndpoint,
                    "SystemEndpoint must be an E.164 TELEPHONE_NUMBER or a CONNECT_PHONENUMBER_ARN",
                ));
            }
        }
        match &item.queue_id {
            None if item.system_endpoint.is_none() => {
                return Some((
                    MissingQueueIdAndSystemEndpoint,
                    "either QueueId or SystemEndpoint is required",
                ))
            }
            Some(queue) if self.queue_index(queue).is_none() => {
                return Some((InvalidQueue, "QueueId names no queue of this instance"))
            }
            _ => {}
        }
        if item.campaign_id.as_deref().is_none_or(str::is_empty) {
            return Some((MissingCampaign, "Campaign.CampaignId is required"));
        }
        if !item.attributes.keys().all(|k| is_attribute_key(k)) {
            return Some((
                InvalidAttributeKey,
                "attribute keys may contain only letters, digits, '-' and '_'",
            ));
        }
        None
    }

    fn draw_item_fault(&mut self) -> Option<(FailureReasonCode, &'static str)> {
        let f = &self.config.faults;
        let u = self.fault_rng.random::<f64>();
        if u < f.item_throttle_probability {
            Some((FailureReasonCode::RequestThrottled, "request throttled"))
        } else if u < f.item_throttle_probability + f.item_internal_error_probability {
            Some((FailureReasonCode::InternalError, "internal error"))
        } else {
            None
        }
    }

    fn answer_probability_at(&self, now: Micros) -> f64 {
        self.answer_rates
            .iter()
            .take_while(|(at, _)| *at <= now)
            .last()
            .map_or(self.config.customers.answer_probability, |(_, p)| *p)
    }

    fn dial(&mut self, now: Micros, new: NewContact) {
        let seq = self.next_contact;
        self.next_contact += 1;
        let mut rng = stream_rng(self.config.seed, seq, CONTACT_STREAM);
        let c = &self.config.customers;
        let person = self.answer_probability_at(now);
        let u = rng.random::<f64>();
        let (mut outcome, mut delay) = if u < c.fail_fast_probability {
            let busy = rng.random::<f64>() < c.fail_fast_busy_share;
            let outcome = if busy {
                Outcome::Busy
            } else {
                Outcome::Invalid
            };
            (outcome, c.fail_fast_secs)
        } else if u < c.fail_fast_probability + person {
            (Outcome::Person, c.answer_delay.sample(&mut rng))
        } else if u < c.fail_fast_probability + person + c.machine_probability {
            let machine = Outcome::Machine { detected: new.amd };
            (machine, c.answer_delay.sample(&mut rng))
        } else {
            (Outcome::NoAnswer, c.ring_timeout_secs)
        };
        if matches!(outcome, Outcome::Person | Outcome::Machine { .. })
            && delay >= c.ring_timeout_secs
        {
            outcome = Outcome::NoAnswer;
            delay = c.ring_timeout_secs;
        }
        let (talk, wrap) = match (outcome, new.queue) {
            (Outcome::Person, Some(q)) => self.queues[q].handle_time.sample(&mut rng),
            (Outcome::Machine { detected: false }, Some(_)) => {
                c.machine_handle_time.sample(&mut rng)
            }
            _ => (0.0, 0.0),
        };
        self.contacts.insert(
            seq,
            Contact {
                contact_id: new.contact_id,
                request_identifier: new.request_identifier,
                queue: new.queue,
                outcome,
                talk: micros(talk),
                wrap: micros(wrap),
                phase: Phase::Ringing,
            },
        );
        self.counters.dials += 1;
        self.schedule(now, Job::Initiate(seq));
        self.schedule(now.saturating_add(micros(delay)), Job::RingEnd(seq));
    }

    fn schedule(&mut self, at: Micros, job: Job) {
        self.agenda.push(Scheduled {
            at,
            rank: job.rank(),
            seq: self.next_scheduled,
            job,
        });
        self.next_scheduled += 1;
    }

    fn accrue(&mut self, to: Micros) {
        if to > self.accrued_to {
            let span = (to - self.accrued_to) as f64 / 1e6;
            let busy: u32 = self.queues.iter().map(QueueState::busy).sum();
            let online: u32 = self.queues.iter().map(QueueState::online).sum();
            self.counters.agent_busy_secs += span * f64::from(busy);
            self.counters.agent_online_secs += span * f64::from(online);
            self.accrued_to = to;
        }
    }

    fn run(&mut self, job: Job, events: &mut Vec<ContactEvent>) {
        let at = self.now;
        match job {
            Job::Initiate(seq) => {
                if let Some(contact) = self.contacts.get(&seq) {
                    events.push(self.event(contact, at, ContactEventKind::Initiated));
                }
            }
            Job::RingEnd(seq) => self.ring_end(seq, at, events),
            Job::AbandonCheck(seq) => self.abandon_check(seq, at, events),
            Job::TalkEnd(seq) => self.talk_end(seq, at, events),
            Job::WrapEnd(seq) => self.wrap_end(seq, at, events),
            Job::Staffing { queue, delta } => self.staff(queue, delta, at, events),
        }
    }

    fn ring_end(&mut self, seq: u64, at: Micros, events: &mut Vec<ContactEvent>) {
        let Some(mut contact) = self.contacts.remove(&seq) else {
            return;
        };
        let terminal = match contact.outcome {
            Outcome::Busy => {
                self.counters.busy += 1;
                Some(ContactEventKind::Busy)
            }
            Outcome::Invalid => {
                self.counters.invalid += 1;
                Some(ContactEventKind::Invalid)
            }
            Outcome::NoAnswer => {
                self.counters.no_answers += 1;
                Some(ContactEventKind::NoAnswer)
            }
            Outcome::Machine { detected: true } => {
                self.counters.machine_answers += 1;
                self.counters.machines_detected += 1;
                Some(ContactEventKind::MachineAnswered)
            }
            Outcome::Machine { detected: false } => {
                self.counters.machine_answers += 1;
                None
            }
            Outcome::Person => {
                self.counters.person_answers += 1;
                None
            }
        };
        if let Some(kind) = terminal {
            events.push(self.event(&contact, at, kind));
            events.push(self.event(&contact, at, ContactEventKind::Disconnected));
            return;
        }
        events.push(self.event(&contact, at, ContactEventKind::PersonAnswered));
        let Some(queue) = contact.queue else {
            events.push(self.event(&contact, at, ContactEventKind::Disconnected));
            return;
        };
        events.push(self.event(&contact, at, ContactEventKind::Queued));
        contact.phase = Phase::Waiting;
        self.contacts.insert(seq, contact);
        self.queues[queue].waiting.push_back(seq);
        let threshold = micros(self.config.customers.abandon_threshold_secs);
        self.schedule(at.saturating_add(threshold), Job::AbandonCheck(seq));
        self.dispatch(queue, at, events);
    }

    fn abandon_check(&mut self, seq: u64, at: Micros, events: &mut Vec<ContactEvent>) {
        let still_waiting = self
            .contacts
            .get(&seq)
            .is_some_and(|c| c.phase == Phase::Waiting);
        if !still_waiting {
            return;
        }
        let Some(contact) = self.contacts.remove(&seq) else {
            return;
        };
        if let Some(queue) = contact.queue {
            self.queues[queue].waiting.retain(|&waiting| waiting != seq);
        }
        self.counters.abandons += 1;
        events.push(self.event(&contact, at, ContactEventKind::Abandoned));
        events.push(self.event(&contact, at, ContactEventKind::Disconnected));
    }

    /// Hands waiting contacts to idle agents until one side runs out.
    fn dispatch(&mut self, queue: usize, at: Micros, events: &mut Vec<ContactEvent>) {
        loop {
            let q = &mut self.queues[queue];
            if q.available.is_empty() {
                return;
            }
            let Some(seq) = q.waiting.pop_front() else {
                return;
            };
            let Some(contact) = self.contacts.get_mut(&seq) else {
                continue;
            };
            let Some(agent) = q.available.pop_front() else {
                return;
            };
            q.on_contact += 1;
            contact.phase = Phase::Talking(agent);
            let agent_id = q.agent_id(agent);
            let talk = contact.talk;
            self.counters.connected += 1;
            if let Some(contact) = self.contacts.get(&seq) {
                let kind = ContactEventKind::ConnectedToAgent { agent_id };
                events.push(self.event(contact, at, kind));
            }
            self.schedule(at.saturating_add(talk), Job::TalkEnd(seq));
        }
    }

    fn talk_end(&mut self, seq: u64, at: Micros, events: &mut Vec<ContactEvent>) {
        let Some(contact) = self.contacts.get_mut(&seq) else {
            return;
        };
        let (Phase::Talking(agent), Some(queue)) = (contact.phase, contact.queue) else {
            return;
        };
        contact.phase = Phase::Wrapping(agent);
        let wrap = contact.wrap;
        let q = &mut self.queues[queue];
        q.on_contact -= 1;
        q.after_contact_work += 1;
        if let Some(contact) = self.contacts.get(&seq) {
            events.push(self.event(contact, at, ContactEventKind::Disconnected));
        }
        self.schedule(at.saturating_add(wrap), Job::WrapEnd(seq));
    }

    fn wrap_end(&mut self, seq: u64, at: Micros, events: &mut Vec<ContactEvent>) {
        let Some(contact) = self.contacts.remove(&seq) else {
            return;
        };
        let (Phase::Wrapping(agent), Some(queue)) = (contact.phase, contact.queue) else {
            return;
        };
        let q = &mut self.queues[queue];
        q.after_contact_work -= 1;
        if q.pending_logouts > 0 {
            q.pending_logouts -= 1;
        } else {
            q.available.push_back(agent);
        }
        self.counters.completed += 1;
        events.push(self.event(&contact, at, ContactEventKind::Completed));
        self.dispatch(queue, at, events);
    }

    fn staff(&mut self, queue: usize, delta: i32, at: Micros, events: &mut Vec<ContactEvent>) {
        let q = &mut self.queues[queue];
        let mut change = delta.unsigned_abs();
        if delta > 0 {
            let cancelled = change.min(q.pending_logouts);
            q.pending_logouts -= cancelled;
            change -= cancelled;
            for _ in 0..change {
                q.log_in();
            }
            self.dispatch(queue, at, events);
        } else {
            while change > 0 && q.available.pop_back().is_some() {
                change -= 1;
            }
            q.pending_logouts = (q.pending_logouts + change).min(q.busy());
        }
    }

    fn event(&self, contact: &Contact, at: Micros, kind: ContactEventKind) -> ContactEvent {
        ContactEvent {
            contact_id: contact.contact_id.clone(),
            request_identifier: Some(contact.request_identifier.clone()),
            at: self.to_time(at),
            kind,
        }
    }

    fn to_time(&self, at: Micros) -> DateTime<Utc> {
        self.epoch
            .checked_add_signed(chrono::Duration::microseconds(at))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Model time for `t`, never before the current model time.
    fn to_micros(&self, t: DateTime<Utc>) -> Micros {
        let since_epoch = (t - self.epoch).num_microseconds().unwrap_or(Micros::MAX);
        since_epoch.max(self.now)
    }
}

fn check_request(req: &BatchPutContactRequest) -> Result<(), BatchError> {
    if !(1..=BATCH_MAX_CONTACTS).contains(&req.contacts.len()) {
        return Err(BatchError::BatchSize(req.contacts.len()));
    }
    if req.instance_id.is_empty() {
        return Err(BatchError::InstanceId);
    }
    if req.client_token.is_empty() || req.client_token.chars().count() > CLIENT_TOKEN_MAX_LEN {
        return Err(BatchError::ClientToken);
    }
    let mut seen = HashSet::new();
    for (index, item) in req.contacts.iter().enumerate() {
        let id = &item.request_identifier;
        if id.is_empty() || id.chars().count() > REQUEST_IDENTIFIER_MAX_LEN {
            return Err(BatchError::RequestIdentifier { index });
        }
        if !seen.insert(id.as_str()) {
            return Err(BatchError::DuplicateRequestIdentifier(id.clone()));
        }
    }
    Ok(())
}

/// `+` then 2 to 15 digits, the first not 0.
fn is_e164(address: &str) -> bool {
    let Some(digits) = address.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_valid_system_endpoint(endpoint: &Endpoint) -> bool {
    match endpoint.endpoint_type {
        EndpointType::TelephoneNumber => is_e164(&endpoint.address),
        EndpointType::ConnectPhonenumberArn => endpoint.address.starts_with("arn:"),
        _ => false,
    }
}

fn is_attribute_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Length-prefixed so that no two different field sequences hash the same bytes.
fn hash_field(hasher: &mut Sha256, field: Option<&str>) {
    match field {
        None => hasher.update([0u8]),
        Some(value) => {
            hasher.update([1u8]);
            hasher.update((value.len() as u64).to_le_bytes());
            hasher.update(value.as_bytes());
        }
    }
}

fn endpoint_fields(endpoint: Option<&Endpoint>) -> [Option<&str>; 2] {
    match endpoint {
        None => [None, None],
        Some(e) => [
            Some(match e.endpoint_type {
                EndpointType::TelephoneNumber => "TELEPHONE_NUMBER",
                EndpointType::Voip => "VOIP",
                EndpointType::ContactFlow => "CONTACT_FLOW",
                EndpointType::ConnectPhonenumberArn => "CONNECT_PHONENUMBER_ARN",
                EndpointType::EmailAddress => "EMAIL_ADDRESS",
            }),
            Some(e.address.as_str()),
        ],
    }
}

fn fingerprint(req: &BatchPutContactRequest) -> String {
    let mut items: Vec<&ContactDataRequest> = req.contacts.iter().collect();
    items.sort_by(|a, b| a.request_identifier.cmp(&b.request_identifier));
    let mut hasher = Sha256::new();
    hash_field(&mut hasher, Some(&req.instance_id));
    for item in items {
        hash_field(&mut hasher, Some(&item.request_identifier));
        for field in endpoint_fields(item.customer_endpoint.as_ref())
            .into_iter()
            .chain(endpoint_fields(item.system_endpoint.as_ref()))
        {
            hash_field(&mut hasher, field);
        }
        hash_field(&mut hasher, item.queue_id.as_deref());
        hash_field(&mut hasher, item.campaign_id.as_deref());
        hasher.update((item.attributes.len() as u64).to_le_bytes());
        for (key, value) in &item.attributes {
            hash_field(&mut hasher, Some(key));
            hash_field(&mut hasher, Some(value));
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A UUID fixed by the seed, the token and the item: stable across restarts, so contact ids
/// never collide with ids a previous run recorded under other tokens.
fn contact_id(seed: u64, client_token: &str, request_identifier: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"dialer-sim-contact");
    hasher.update(seed.to_le_bytes());
    hash_field(&mut hasher, Some(client_token));
    hash_field(&mut hasher, Some(request_identifier));
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::contact_center::ContactEventKind as K;
    use std::collections::BTreeMap;

    fn epoch() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn at(secs: f64) -> DateTime<Utc> {
        epoch() + chrono::Duration::microseconds((secs * 1e6) as i64)
    }

    /// A valid contact for the default queue (also used by the wrapper's tests).
    pub(crate) fn item(id: &str) -> ContactDataRequest {
        ContactDataRequest {
            request_identifier: id.to_string(),
            customer_endpoint: Some(Endpoint::telephone("+15550100")),
            system_endpoint: None,
            queue_id: Some(QUEUE_ID_DEFAULT.to_string()),
            attributes: BTreeMap::new(),
            campaign_id: Some("camp-1".to_string()),
        }
    }

    fn batch(token: &str, items: Vec<ContactDataRequest>) -> BatchPutContactRequest {
        BatchPutContactRequest {
            client_token: token.to_string(),
            instance_id: "inst-1".to_string(),
            contacts: items,
        }
    }

    fn batch_of(token: &str, n: usize) -> BatchPutContactRequest {
        batch(
            token,
            (0..n).map(|i| item(&format!("{token}-{i}"))).collect(),
        )
    }

    /// Everyone answers at a fixed delay and talks for a fixed time: timings are exact.
    fn deterministic_config(agents: u32, answer_secs: f64, handle_secs: f64) -> SimConfig {
        SimConfig {
            queues: vec![QueueConfig {
                handle_time: HandleTime::fixed(handle_secs),
                ..QueueConfig::new(QUEUE_ID_DEFAULT, agents)
            }],
            customers: CustomerConfig {
                answer_probability: 1.0,
                fail_fast_probability: 0.0,
                answer_delay: Dist::Fixed { secs: answer_secs },
                ..CustomerConfig::default()
            },
            ..SimConfig::default()
        }
    }

    fn model(config: SimConfig) -> SimModel {
        SimModel::new(config, epoch()).unwrap()
    }

    fn put(m: &mut SimModel, secs: f64, req: &BatchPutContactRequest) -> BatchPutContactResponse {
        m.put_contacts(at(secs), req, None).unwrap().response
    }

    fn run_all(m: &mut SimModel) -> Vec<ContactEvent> {
        let mut events = Vec::new();
        while let Some(t) = m.next_event_time() {
            events.extend(m.advance(t));
        }
        events
    }

    fn kinds_of(events: &[ContactEvent], request: &str) -> Vec<(f64, K)> {
        events
            .iter()
            .filter(|e| e.request_identifier.as_deref() == Some(request))
            .map(|e| {
                let secs = (e.at - epoch()).num_microseconds().unwrap() as f64 / 1e6;
                (secs, e.kind.clone())
            })
            .collect()
    }

    fn failure(
        m: &mut SimModel,
        mutate: impl FnOnce(&mut ContactDataRequest),
    ) -> FailureReasonCode {
        let mut one = item("x");
        mutate(&mut one);
        let resp = put(m, 0.0, &batch("tok", vec![one]));
        assert!(resp.successful.is_empty(), "{resp:?}");
        resp.failed[0].failure_reason_code
    }

    #[test]
    fn defaults_are_the_reference_model_and_valid() {
        let config = SimConfig::default();
        assert_eq!(config.validate(), Vec::<String>::new());
        assert_eq!(config.customers.answer_probability, 0.25);
        assert_eq!(config.queues[0].handle_time.mean_secs(), 120.0);
        assert_eq!(config.customers.answer_delay.mean_secs(), 15.0);
    }

    #[test]
    fn config_parses_from_toml_and_rejects_unknown_keys() {
        let config: SimConfig = toml::from_str(
            r#"
            seed = 7
            time_scale = 60
            [[queues]]
            queue_id = "sales"
            agents = 5
            staffing = [{ at_secs = 3600, delta = -2 }]
            handle_time = { model = "separate", talk = { dist = "log_normal", mean_secs = 90, sigma = 0.5 }, wrap = { dist = "fixed", secs = 10 } }
            [customers]
            answer_probability = 0.3
            answer_rate_changes = [{ at_secs = 7200, probability = 0.15 }]
            [faults]
            item_throttle_probability = 0.01
            "#,
        )
        .unwrap();
        assert_eq!(config.validate(), Vec::<String>::new());
        assert_eq!(config.queues[0].staffing[0].delta, -2);
        assert_eq!(config.queues[0].handle_time.mean_secs(), 100.0);
        assert_eq!(config.customers.fail_fast_probability, 0.15);

        let typo = toml::from_str::<SimConfig>("[customers]\nanswer_probabilty = 0.3\n");
        assert!(typo.unwrap_err().to_string().contains("answer_probabilty"));
        let bad_dist = toml::from_str::<SimConfig>(
            "[customers]\nanswer_delay = { dist = \"fixed\", secs = 1, mean_secs = 2 }\n",
        );
        assert!(bad_dist.is_err());
    }

    #[test]
    fn validate_names_every_bad_key() {
        let mut config = SimConfig {
            time_scale: 0.0,
            event_buffer: 0,
            ..SimConfig::default()
        };
        config.customers.answer_probability = 0.9;
        config.customers.answer_delay = Dist::Uniform {
            min_secs: 10.0,
            max_secs: 5.0,
        };
        config.queues.push(QueueConfig {
            staffing: vec![StaffingChange {
                at_secs: 10.0,
                delta: -11,
            }],
            ..QueueConfig::new(QUEUE_ID_DEFAULT, 10)
        });
        config.faults.throttle_probability = 0.6;
        config.faults.timeout_probability = 0.6;
        let errors = config.validate();
        for key in [
            "contact_center.sim.time_scale",
            "contact_center.sim.event_buffer",
            "contact_center.sim.customers.answer_probability + contact_center.sim.customers.fail_fast_probability",
            "contact_center.sim.customers.answer_delay.min_secs",
            "contact_center.sim.queues[1].queue_id repeats",
            "contact_center.sim.queues[1].staffing logs out",
            "contact_center.sim.faults.throttle_probability + ",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(key)),
                "no error for {key} in {errors:#?}"
            );
        }
        assert_eq!(errors.len(), 7, "{errors:#?}");
        let err = SimModel::new(config, epoch()).unwrap_err();
        assert_eq!(err.0, errors);
    }

    #[test]
    fn each_contract_violation_fails_its_item_with_its_code() {
        use FailureReasonCode::*;
        let mut m = model(SimConfig::default());
        assert_eq!(
            failure(&mut m, |i| i.customer_endpoint = None),
            MissingCustomerEndpoint
        );
        for bad in [
            "5550100",
            "+0155501",
            "+1",
            "+1555010012345678",
            "+1555-0100",
        ] {
            assert_eq!(
                failure(&mut m, |i| i.customer_endpoint =
                    Some(Endpoint::telephone(bad))),
                InvalidCustomerEndpoint,
                "{bad}"
            );
        }
        assert_eq!(
            failure(&mut m, |i| {
                i.customer_endpoint = Some(Endpoint {
                    endpoint_type: EndpointType::Voip,
                    address: "+15550100".into(),
                })
            }),
            InvalidCustomerEndpoint
        );
        assert_eq!(
            failure(&mut m, |i| i.system_endpoint =
                Some(Endpoint::telephone("12"))),
            InvalidSystemEndpoint
        );
        assert_eq!(
            failure(&mut m, |i| i.queue_id = Some("nope".into())),
            InvalidQueue
        );
        assert_eq!(
            failure(&mut m, |i| i.queue_id = None),
            MissingQueueIdAndSystemEndpoint
        );
        assert_eq!(failure(&mut m, |i| i.campaign_id = None), MissingCampaign);
        assert_eq!(
            failure(&mut m, |i| i.campaign_id = Some(String::new())),
            MissingCampaign
        );
        for key in ["has space", "dot.key", "", "ü"] {
            assert_eq!(
                failure(&mut m, |i| {
                    i.attributes.insert(key.to_string(), "v".into());
                }),
                InvalidAttributeKey,
                "{key:?}"
            );
        }
        assert_eq!(m.counters().dials, 0);
        assert!(m.next_event_time().is_none());

        // The valid variants of the same fields pass.
        let mut ok = item("ok");
        ok.attributes.insert("Valid_key-1".into(), "v".into());
        ok.system_endpoint = Some(Endpoint {
            endpoint_type: EndpointType::ConnectPhonenumberArn,
            address: "arn:aws:connect:::phone-number/1".into(),
        });
        let mut agentless = item("agentless");
        agentless.queue_id = None;
        agentless.system_endpoint = Some(Endpoint::telephone("+15550199"));
        let resp = put(&mut m, 0.0, &batch("ok", vec![ok, agentless]));
        assert_eq!(resp.successful.len(), 2, "{resp:?}");
    }

    #[test]
    fn failed_and_successful_items_keep_request_order_and_messages_hold_no_numbers() {
        let mut m = model(SimConfig::default());
        let mut bad = item("b");
        bad.customer_endpoint = Some(Endpoint::telephone("+0999"));
        let resp = put(&mut m, 0.0, &batch("t", vec![item("a"), bad, item("c")]));
        let ok: Vec<_> = resp
            .successful
            .iter()
            .map(|s| s.request_identifier.as_str())
            .collect();
        assert_eq!(ok, ["a", "c"]);
        assert_eq!(resp.failed[0].request_identifier, "b");
        assert!(!resp.failed[0].failure_reason_message.contains("0999"));
        assert_eq!(m.counters().dials, 2);
        assert_eq!(m.counters().failed_items, 1);
    }

    #[test]
    fn whole_batch_contract_violations_are_errors() {
        let mut m = model(SimConfig::default());
        assert_eq!(
            m.put_contacts(at(0.0), &batch_of("t", 0), None),
            Err(BatchError::BatchSize(0))
        );
        assert_eq!(
            m.put_contacts(at(0.0), &batch_of("t", 26), None),
            Err(BatchError::BatchSize(26))
        );
        assert!(m.put_contacts(at(0.0), &batch_of("t", 25), None).is_ok());
        assert_eq!(
            m.put_contacts(at(0.0), &batch("u", vec![item("a"), item("a")]), None),
            Err(BatchError::DuplicateRequestIdentifier("a".into()))
        );
        assert_eq!(
            m.put_contacts(at(0.0), &batch("", vec![item("a")]), None),
            Err(BatchError::ClientToken)
        );
        assert_eq!(
            m.put_contacts(at(0.0), &batch("v", vec![item("")]), None),
            Err(BatchError::RequestIdentifier { index: 0 })
        );
        let mut no_instance = batch_of("w", 1);
        no_instance.instance_id.clear();
        assert_eq!(
            m.put_contacts(at(0.0), &no_instance, None),
            Err(BatchError::InstanceId)
        );
        assert_eq!(m.counters().dials, 25);
    }

    #[test]
    fn replaying_a_token_returns_the_same_ids_and_dials_nothing() {
        let mut m = model(SimConfig::default());
        let req = batch_of("tok", 3);
        let first = m.put_contacts(at(0.0), &req, None).unwrap();
        let entry = first.new_entry.clone().unwrap();
        let first_events = m.advance(at(0.0));
        assert_eq!(first_events.len(), 3);
        assert_eq!(m.counters().dials, 3);

        // Recovery re-reads the batch in another order: still the same batch.
        let mut reordered = req.clone();
        reordered.contacts.reverse();
        let again = m.put_contacts(at(5.0), &reordered, Some(&entry)).unwrap();
        assert_eq!(again.response, first.response);
        assert_eq!(again.new_entry, None);
        assert_eq!(m.counters().dials, 3);
        assert_eq!(m.counters().replayed_batches, 1);
        let later = run_all(&mut m);
        assert!(later.iter().all(|e| e.kind != K::Initiated));
        let ids: HashSet<_> = later.iter().map(|e| e.contact_id.as_str()).collect();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn the_same_token_with_other_content_fails_every_item() {
        let mut m = model(SimConfig::default());
        let entry = m
            .put_contacts(at(0.0), &batch_of("tok", 2), None)
            .unwrap()
            .new_entry
            .unwrap();
        let mut changed = batch_of("tok", 2);
        changed.contacts[1].customer_endpoint = Some(Endpoint::telephone("+15550101"));
        let resp = m
            .put_contacts(at(1.0), &changed, Some(&entry))
            .unwrap()
            .response;
        assert!(resp.successful.is_empty());
        assert_eq!(resp.failed.len(), 2);
        assert!(resp
            .failed
            .iter()
            .all(|f| f.failure_reason_code == FailureReasonCode::IdempotencyException));
        let grown = batch_of("tok", 3);
        let resp = m
            .put_contacts(at(1.0), &grown, Some(&entry))
            .unwrap()
            .response;
        assert_eq!(resp.failed.len(), 3);
        assert_eq!(m.counters().dials, 2);
        assert_eq!(m.counters().idempotency_conflicts, 2);
    }

    #[test]
    fn contact_ids_are_uuids_fixed_by_seed_token_and_item() {
        let mut a = model(SimConfig::default());
        let mut b = model(SimConfig::default());
        b.advance(at(100.0));
        let ra = put(&mut a, 0.0, &batch_of("t1", 2));
        let rb = put(&mut b, 100.0, &batch_of("t1", 2));
        assert_eq!(ra, rb);
        let other = put(&mut a, 0.0, &batch_of("t2", 2));
        assert_ne!(ra.successful[0].contact_id, other.successful[0].contact_id);
        let id = uuid::Uuid::parse_str(&ra.successful[0].contact_id).unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert_ne!(ra.successful[0].contact_id, ra.successful[1].contact_id);
    }

    #[test]
    fn lifecycle_of_a_connected_contact() {
        let mut m = model(deterministic_config(1, 6.0, 100.0));
        let contact_id = put(&mut m, 0.0, &batch_of("t", 1)).successful[0]
            .contact_id
            .clone();
        let events = run_all(&mut m);
        assert!(events.iter().all(|e| e.contact_id == contact_id));
        assert_eq!(
            kinds_of(&events, "t-0"),
            [
                (0.0, K::Initiated),
                (6.0, K::PersonAnswered),
                (6.0, K::Queued),
                (
                    6.0,
                    K::ConnectedToAgent {
                        agent_id: "sim-queue/agent-1".into()
                    }
                ),
                (106.0, K::Disconnected),
                (106.0, K::Completed),
            ]
        );
        let c = m.counters();
        assert_eq!(
            (c.person_answers, c.connected, c.completed, c.abandons),
            (1, 1, 1, 0)
        );
        assert!((c.agent_busy_secs - 100.0).abs() < 1e-9);
        assert!((c.agent_online_secs - 106.0).abs() < 1e-9);
    }

    #[test]
    fn wrap_up_keeps_the_agent_busy_until_completed() {
        let mut config = deterministic_config(1, 6.0, 0.0);
        config.queues[0].handle_time = HandleTime::Split {
            total: Dist::Fixed { secs: 100.0 },
            wrap_share: 0.25,
        };
        let mut m = model(config);
        put(&mut m, 0.0, &batch_of("t", 1));
        // Answered at 6 s, talks 75 s, wraps up 25 s.
        m.advance(at(90.0));
        let ids = [QUEUE_ID_DEFAULT.to_string()];
        let q = &m.queue_metrics(&ids)[0];
        assert_eq!((q.agents_on_contact, q.agents_after_contact_work), (0, 1));
        assert_eq!(q.agents_available, 0);
        let rest = m.advance(at(106.0));
        assert_eq!(rest.last().map(|e| &e.kind), Some(&K::Completed));
        assert_eq!(m.queue_metrics(&ids)[0].agents_available, 1);
    }

    #[test]
    fn a_person_without_a_free_agent_is_abandoned_after_the_threshold() {
        let mut m = model(deterministic_config(1, 6.0, 100.0));
        put(&mut m, 0.0, &batch_of("t", 2));
        let events = m.advance(at(7.0));
        assert_eq!(
            kinds_of(&events, "t-1"),
            [
                (0.0, K::Initiated),
                (6.0, K::PersonAnswered),
                (6.0, K::Queued)
            ]
        );
        let metrics = m.queue_metrics(&[QUEUE_ID_DEFAULT.to_string()]);
        assert_eq!(metrics[0].contacts_in_queue, 1);
        let events = m.advance(at(8.0));
        assert_eq!(
            kinds_of(&events, "t-1"),
            [(8.0, K::Abandoned), (8.0, K::Disconnected)]
        );
        assert_eq!(
            m.queue_metrics(&[QUEUE_ID_DEFAULT.to_string()])[0].contacts_in_queue,
            0
        );
        assert_eq!(m.counters().abandons, 1);
    }

    #[test]
    fn an_agent_freed_within_the_threshold_takes_the_waiting_person() {
        // A is answered at 6 s and handled for 7 s; B answers at 11 s and waits until 13 s.
        // C answers at 12 s, behind B: the agent is busy again at 13 s, so C is abandoned at 14 s.
        let mut m = model(deterministic_config(1, 6.0, 7.0));
        put(&mut m, 0.0, &batch("a", vec![item("A")]));
        m.advance(at(5.0));
        put(&mut m, 5.0, &batch("b", vec![item("B")]));
        m.advance(at(6.0));
        put(&mut m, 6.0, &batch("c", vec![item("C")]));
        let events = run_all(&mut m);
        let agent = K::ConnectedToAgent {
            agent_id: "sim-queue/agent-1".into(),
        };
        assert!(kinds_of(&events, "B").contains(&(13.0, agent)));
        assert!(kinds_of(&events, "C").contains(&(14.0, K::Abandoned)));
        assert_eq!(m.counters().abandons, 1);
        assert_eq!(m.counters().completed, 2);
    }

    #[test]
    fn an_agent_free_exactly_at_the_threshold_is_in_time() {
        let mut m = model(deterministic_config(1, 6.0, 8.0));
        put(&mut m, 0.0, &batch("a", vec![item("A")]));
        m.advance(at(6.0));
        put(&mut m, 6.0, &batch("b", vec![item("B")]));
        let events = run_all(&mut m);
        // B answers at 12 s; the agent frees at 14 s = 12 + threshold.
        assert!(kinds_of(&events, "B")
            .iter()
            .any(|(t, k)| *t == 14.0 && matches!(k, K::ConnectedToAgent { .. })));
        assert_eq!(m.counters().abandons, 0);
    }

    fn machines_only(amd: bool) -> (SimCounters, Vec<K>) {
        let mut config = deterministic_config(0, 6.0, 100.0);
        config.customers.answer_probability = 0.0;
        config.customers.machine_probability = 1.0;
        let mut m = model(config);
        let mut one = item("m");
        one.attributes
            .insert(AMD_ATTRIBUTE_KEY.into(), amd.to_string());
        put(&mut m, 0.0, &batch("t", vec![one]));
        let events = run_all(&mut m);
        let kinds = kinds_of(&events, "m").into_iter().map(|(_, k)| k).collect();
        (m.counters().clone(), kinds)
    }

    #[test]
    fn with_amd_on_machines_are_dropped_without_an_agent_or_an_abandon() {
        let (c, kinds) = machines_only(true);
        assert_eq!(kinds, [K::Initiated, K::MachineAnswered, K::Disconnected]);
        assert_eq!(
            (c.machine_answers, c.machines_detected, c.abandons),
            (1, 1, 0)
        );
    }

    #[test]
    fn with_amd_off_a_machine_is_treated_as_a_person() {
        // No agents: the undetected machine queues and is abandoned like a person.
        let (c, kinds) = machines_only(false);
        assert_eq!(
            kinds,
            [
                K::Initiated,
                K::PersonAnswered,
                K::Queued,
                K::Abandoned,
                K::Disconnected
            ]
        );
        assert_eq!(
            (c.machine_answers, c.machines_detected, c.abandons),
            (1, 0, 1)
        );
        assert_eq!(c.person_answers, 0);

        // With an agent it is connected and takes the short machine handle time.
        let mut config = deterministic_config(1, 6.0, 100.0);
        config.customers.answer_probability = 0.0;
        config.customers.machine_probability = 1.0;
        let mut m = model(config);
        put(&mut m, 0.0, &batch_of("t", 1));
        let events = run_all(&mut m);
        let done = kinds_of(&events, "t-0").last().cloned();
        assert_eq!(
            done,
            Some((6.0 + MACHINE_HANDLE_SECS_DEFAULT, K::Completed))
        );
    }

    #[test]
    fn agentless_contacts_end_at_the_answer() {
        let mut m = model(deterministic_config(0, 6.0, 100.0));
        let mut one = item("x");
        one.queue_id = None;
        one.system_endpoint = Some(Endpoint::telephone("+15550199"));
        put(&mut m, 0.0, &batch("t", vec![one]));
        let kinds: Vec<_> = kinds_of(&run_all(&mut m), "x")
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(kinds, [K::Initiated, K::PersonAnswered, K::Disconnected]);
        assert_eq!(m.counters().abandons, 0);
    }

    fn scripted_run(seed: u64, interleave_faults: bool) -> Vec<ContactEvent> {
        let mut m = model(SimConfig {
            seed,
            ..SimConfig::default()
        });
        let mut events = Vec::new();
        for round in 0..20 {
            let now = at(f64::from(round) * 10.0);
            events.extend(m.advance(now));
            if interleave_faults {
                m.draw_call_fault();
                m.draw_metrics_fault();
                m.queue_metrics(&[QUEUE_ID_DEFAULT.to_string()]);
            }
            m.put_contacts(now, &batch_of(&format!("r{round}"), 5), None)
                .unwrap();
        }
        events.extend(run_all(&mut m));
        events
    }

    #[test]
    fn a_seed_reproduces_the_run_whatever_else_is_drawn() {
        let base = scripted_run(42, false);
        assert!(base.len() > 300);
        assert_eq!(base, scripted_run(42, false));
        assert_eq!(base, scripted_run(42, true));
        assert_ne!(base, scripted_run(43, false));
    }

    #[test]
    fn the_reference_model_matches_its_stated_shares_and_timings() {
        let mut config = SimConfig::default();
        config.queues[0].agents = 10_000;
        let mut m = model(config);
        let n = 20_000;
        for b in 0..n / 25 {
            put(&mut m, 0.0, &batch_of(&format!("b{b}"), 25));
        }
        let events = run_all(&mut m);
        let outcome_times = |kind: K| -> Vec<f64> {
            events
                .iter()
                .filter(|e| e.kind == kind)
                .map(|e| (e.at - epoch()).num_microseconds().unwrap() as f64 / 1e6)
                .collect()
        };
        let answered = outcome_times(K::PersonAnswered);
        let busy = outcome_times(K::Busy);
        let invalid = outcome_times(K::Invalid);
        let no_answer = outcome_times(K::NoAnswer);
        let share = |v: &Vec<f64>| v.len() as f64 / n as f64;
        // Binomial standard errors at n = 20 000 are under 0.0035; allow about 4 of them.
        assert!(
            (share(&answered) - 0.25).abs() < 0.015,
            "{}",
            share(&answered)
        );
        let fast = share(&busy) + share(&invalid);
        assert!((fast - 0.15).abs() < 0.012, "{fast}");
        assert!((share(&busy) - 0.075).abs() < 0.01);
        assert!((share(&no_answer) - 0.60).abs() < 0.015);
        assert!(answered.iter().all(|t| (6.0..=24.0).contains(t)));
        let mean_answer = answered.iter().sum::<f64>() / answered.len() as f64;
        assert!((mean_answer - 15.0).abs() < 0.5, "{mean_answer}");
        assert!(busy.iter().chain(&invalid).all(|t| *t == 3.0));
        assert!(no_answer.iter().all(|t| *t == 25.0));
        let c = m.counters();
        assert_eq!(c.dials, n as u64);
        assert_eq!(c.abandons, 0);
        // Exponential handle time, mean 120 s: busy agent-seconds per connected contact.
        let mean_handle = c.agent_busy_secs / c.connected as f64;
        assert!((mean_handle - 120.0).abs() < 8.0, "{mean_handle}");
    }

    #[test]
    fn the_answer_rate_follows_its_schedule() {
        let mut config = SimConfig::default();
        config.queues[0].agents = 10_000;
        config.customers.answer_rate_changes = vec![AnswerRateChange {
            at_secs: 100.0,
            probability: 0.0,
        }];
        let mut m = model(config);
        for b in 0..40 {
            put(&mut m, 0.0, &batch_of(&format!("early{b}"), 25));
        }
        let mut events = m.advance(at(100.0));
        for b in 0..40 {
            put(&mut m, 100.0, &batch_of(&format!("late{b}"), 25));
        }
        events.extend(run_all(&mut m));
        let answered_early = events
            .iter()
            .filter(|e| e.kind == K::PersonAnswered && e.at < at(100.0))
            .count();
        let answered_late = events
            .iter()
            .filter(|e| e.kind == K::PersonAnswered && e.at >= at(100.0))
            .count();
        assert!(answered_early > 150, "{answered_early}");
        assert_eq!(answered_late, 0);
    }

    #[test]
    fn staffing_changes_log_agents_in_and_out_busy_ones_after_their_contact() {
        let mut config = deterministic_config(2, 6.0, 100.0);
        config.queues[0].staffing = vec![
            StaffingChange {
                at_secs: 50.0,
                delta: -2,
            },
            StaffingChange {
                at_secs: 200.0,
                delta: 3,
            },
        ];
        let mut m = model(config);
        let ids = [QUEUE_ID_DEFAULT.to_string()];
        put(&mut m, 0.0, &batch_of("t", 1));
        m.advance(at(50.0));
        let q = m.queue_metrics(&ids)[0].clone();
        assert_eq!(
            (q.agents_online, q.agents_available, q.agents_on_contact),
            (1, 0, 1)
        );
        m.advance(at(106.0));
        assert_eq!(m.queue_metrics(&ids)[0].agents_online, 0);
        m.advance(at(200.0));
        let q = m.queue_metrics(&ids)[0].clone();
        assert_eq!((q.agents_online, q.agents_available), (3, 3));
        // 2 agents for 50 s, 1 until 106 s, none until 200 s.
        assert!((m.counters().agent_online_secs - 156.0).abs() < 1e-9);
        assert_eq!(m.counters().occupancy(), Some(100.0 / 156.0));
    }

    #[test]
    fn queue_metrics_follow_the_request_and_skip_unknown_queues() {
        let mut config = SimConfig::default();
        config.queues.push(QueueConfig::new("other", 3));
        let m = model(config);
        let got = m.queue_metrics(&["other".into(), "nope".into(), QUEUE_ID_DEFAULT.into()]);
        let names: Vec<_> = got
            .iter()
            .map(|q| (q.queue_id.as_str(), q.agents_online))
            .collect();
        assert_eq!(names, [("other", 3), (QUEUE_ID_DEFAULT, 10)]);
    }

    #[test]
    fn injected_faults_follow_their_probabilities() {
        let mut config = SimConfig::default();
        config.faults.item_throttle_probability = 1.0;
        config.faults.throttle_probability = 1.0;
        let mut m = model(config);
        assert_eq!(m.draw_call_fault(), Some(CallFault::Throttled));
        let resp = put(&mut m, 0.0, &batch_of("t", 3));
        assert!(resp
            .failed
            .iter()
            .all(|f| f.failure_reason_code == FailureReasonCode::RequestThrottled));
        assert_eq!(m.counters().dials, 0);

        let mut config = SimConfig::default();
        config.faults.item_internal_error_probability = 0.5;
        config.faults.timeout_probability = 1.0;
        config.faults.metrics_throttle_probability = 1.0;
        let mut m = model(config);
        assert_eq!(m.draw_call_fault(), Some(CallFault::Timeout));
        assert!(m.draw_metrics_fault());
        let resp = put(&mut m, 0.0, &batch_of("t", 25));
        let internal = resp
            .failed
            .iter()
            .filter(|f| f.failure_reason_code == FailureReasonCode::InternalError)
            .count();
        assert!((3..=22).contains(&internal), "{internal}");
        assert_eq!(m.counters().dials, 25 - internal as u64);

        let mut m = model(SimConfig::default());
        assert_eq!(m.draw_call_fault(), None);
        assert!(!m.draw_metrics_fault());
    }

    #[test]
    fn time_never_goes_backwards() {
        let mut m = model(deterministic_config(1, 6.0, 100.0));
        m.advance(at(50.0));
        put(&mut m, 10.0, &batch_of("t", 1));
        let events = m.advance(at(20.0));
        assert_eq!(events[0].at, at(50.0));
        assert_eq!(m.now(), at(50.0));
        assert_eq!(m.next_event_time(), Some(at(56.0)));
    }
}
