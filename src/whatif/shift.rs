//! One shift as a discrete-event loop over the daemon's own pieces, on a virtual clock.
//!
//! Each step moves the clock to the earliest of: the contact center's next event, the next
//! planning tick, the next sampling mark (minute ends, mid-shift, the end). Events go
//! through [`ContactStatus::apply`] and [`crate::engine::events::observation`] exactly as
//! the daemon's event sink applies them; after any events, and at every tick, the campaign
//! is planned as the daemon's scheduler plans it: [`pacing_input`] from the queue's agents
//! and the calls in progress, [`PacerState::decide`], then a claim of that many requests in
//! batches of at most [`BATCH_MAX_CONTACTS`], rendered by [`crate::engine::dispatch::render`]
//! and put into the model, each created contact observed as `DialPlaced`.
//!
//! The claim applies the campaign's calling rules as the engine's claim does: each request
//! taken is gated by the calling hours in its recipient's zone ([`CommunicationTime::gate`]);
//! one whose window is closed waits (like a retry, with a not-before time: the opening) and
//! is taken ahead of the backlog once it opens, one without a zone is refused
//! `MISSING_TIME_ZONE`; of the rest, each recipient gets as many contacts as its
//! communication limits have room for ([`admitted`]) and the others are refused
//! `LIMIT_EXCEEDED`. Requests never expire here, so the engine's earliest-expiration-first
//! order is request order: the oldest first.
//!
//! Invariants:
//! - Deterministic: the same scenario gives the same report (the model draws from its seed,
//!   contacts are kept in request order, nothing reads the wall clock).
//! - Dialing stops at the end of the shift; calls placed before play out, and their
//!   answers and abandons count (in the last minute). Agent time counts up to the end.
//! - A contact is tracked from its claim until its status is terminal, so calls in
//!   progress are derived from contact states as the daemon derives them from the database.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use uuid::Uuid;

use super::scenario::{Mode, Scenario};
use super::SimulateError;
use crate::campaigns::{AgentDialerConfig, DialerConfig};
use crate::clock::{Clock, VirtualClock};
use crate::contact_center::sim::model::SimModel;
use crate::contact_center::{ContactEvent, ContactEventKind, BATCH_MAX_CONTACTS};
use crate::contacts::{ContactStatus, Phase};
use crate::engine::batch::{Batch, BatchItem, BatchTemplate};
use crate::engine::dispatch::render;
use crate::engine::events::{observation, ContactTimes};
use crate::engine::planner::{pacing_input, ActiveCalls};
use crate::pacing::{Observation, ObservedEvent, PacerState};
use crate::queue::lifecycle::FailureReason;
use crate::rules::limits::{admitted, Limit};
use crate::rules::retry::RetryPolicy;
use crate::rules::window::{CommunicationTime, Gate};

/// Campaign id on the simulated contacts.
const CAMPAIGN_ID: &str = "whatif";
/// Upper halves of the simulated request and batch ids (UUIDs, like the daemon's); the
/// lower half is the sequence number.
const REQUEST_ID_HIGH: u64 = 0x7768_6174_6966_0001;
const BATCH_ID_HIGH: u64 = 0x7768_6174_6966_0002;
/// Mixed into the seed of the recipients' draws, so that they never repeat the contact
/// center's.
const RECIPIENT_SEED: u64 = 0x7265_6369_7069_656e;

/// Figures of one minute of the shift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Minute {
    /// Contacts created.
    pub dials: u64,
    /// Person answers (by answer time).
    pub answers: u64,
    /// Abandons, counted in the minute their person answered.
    pub abandons: u64,
    /// Contacts agents took.
    pub connects: u64,
    /// Agent-seconds on contacts (talk and wrap-up).
    pub busy_secs: f64,
    /// Agent-seconds logged in.
    pub online_secs: f64,
    /// Sum of the dial ratio after each planning tick.
    pub dial_ratio_sum: f64,
    /// Planning ticks.
    pub ticks: u32,
    /// Agents logged in at the minute's end.
    pub agents: u32,
}

/// What a shift came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Pacing mode.
    pub mode: Mode,
    /// Seed of the contact center's draws.
    pub seed: u64,
    /// Shift length.
    pub hours: f64,
    /// Agents logged in at the start.
    pub agents: u32,
    /// Person-answer probability at the start.
    pub answer_rate: f64,
    /// Mean handle time configured.
    pub mean_handle_secs: f64,
    /// The abandonment cap pacing aims for.
    pub abandonment_target: f64,
    /// Contacts created.
    pub dials: u64,
    /// Retries scheduled (calls whose outcome the retry policy tries again), whether or not
    /// they came due within the shift.
    pub retries: u64,
    /// Requests taken from the backlog.
    pub requests: u64,
    /// Distinct recipients of those requests.
    pub recipients: u64,
    /// Times a request was taken while its recipient's window was closed and made to wait
    /// for its opening (the daemon's `dialer_dial_requests_window_waits_total`).
    pub window_waits: u64,
    /// Requests still waiting for their window when the shift ended.
    pub waiting_at_end: u64,
    /// Requests the calling rules refused, by reason (`LIMIT_EXCEEDED`, `MISSING_TIME_ZONE`).
    pub refused: BTreeMap<String, u64>,
    /// Person-answered calls (with AMD off, machines too: they reach agents).
    pub human_answers: u64,
    /// Machines AMD detected.
    pub machine_answers: u64,
    /// Calls an agent took.
    pub connected: u64,
    /// Person-answered calls no agent took within the abandon threshold.
    pub abandons: u64,
    /// `abandons / human_answers`.
    pub abandonment_rate: f64,
    /// Abandonment of calls answered in the first half of the shift.
    pub first_half_abandonment_rate: f64,
    /// Abandonment of calls answered in the second half.
    pub second_half_abandonment_rate: f64,
    /// Agent time on contacts over logged-in agent time.
    pub occupancy: f64,
    /// Occupancy in the first half.
    pub first_half_occupancy: f64,
    /// Occupancy in the second half.
    pub second_half_occupancy: f64,
    /// Logged-in agent time not on a contact, per contact taken in the shift: how long an
    /// agent waits for the next call.
    pub mean_agent_idle_secs: f64,
    /// Logged-in agent-seconds over the shift's seconds.
    pub mean_agents_logged_in: f64,
    /// Lines dialing per agent after each planning tick, averaged.
    pub mean_dial_ratio: f64,
    /// Most dials in flight plus persons waiting beyond the free agents after any planning
    /// pass; never above 0 in progressive mode while agents stay logged in.
    pub peak_excess_dials: i64,
    /// Minute-by-minute figures, for tables and charts.
    #[serde(skip)]
    pub minutes: Vec<Minute>,
}

/// Runs a shift; see [`simulate_with_progress`].
pub fn simulate(scenario: &Scenario) -> Result<Report, SimulateError> {
    simulate_with_progress(scenario, &mut |_| {})
}

/// Runs a shift, telling `progress` the share of it done (0 to 1) once a simulated minute.
pub fn simulate_with_progress(
    scenario: &Scenario,
    progress: &mut dyn FnMut(f64),
) -> Result<Report, SimulateError> {
    let errors = scenario.validate();
    if !errors.is_empty() {
        return Err(SimulateError::Invalid(errors));
    }
    let mut shift = Shift::new(scenario)?;
    shift.run(progress)?;
    Ok(shift.report())
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    status: ContactStatus,
    times: ContactTimes,
    /// Which attempt of its request the contact is (1 for the first call).
    attempt: u32,
}

/// A request put back with a not-before time, as the daemon's claim leaves it `pending`.
#[derive(Debug, Clone, Copy)]
struct Due {
    /// The attempt it is due for.
    attempt: u32,
    /// Whether it waits for its window to open (else for a retry).
    window: bool,
}

/// Who the requests are for, drawn as the backlog is taken.
struct Recipients {
    rng: StdRng,
    /// Zone names with their cumulative shares.
    zones: Vec<(String, f64)>,
    repeat_rate: f64,
    /// Each recipient's zone (an index in `zones`; `None`: no zone attribute).
    zone_of: Vec<Option<usize>>,
    /// Each request's recipient, by sequence number.
    recipient_of: Vec<u64>,
    /// Each recipient's contacts, for the limits (kept only when there are limits).
    contacts: Vec<Vec<DateTime<Utc>>>,
}

impl Recipients {
    fn new(scenario: &Scenario) -> Self {
        let mut cumulative = 0.0;
        let zones = scenario
            .recipients
            .zones
            .iter()
            .map(|z| {
                cumulative += z.share;
                (z.zone.clone(), cumulative)
            })
            .collect();
        Self {
            rng: StdRng::seed_from_u64(scenario.sim().seed ^ RECIPIENT_SEED),
            zones,
            repeat_rate: scenario.recipients.repeat_rate,
            zone_of: Vec::new(),
            recipient_of: Vec::new(),
            contacts: Vec::new(),
        }
    }

    /// Draws the recipient of the next request of the backlog: an earlier one with the
    /// repeat rate, else a new one in a zone drawn by the shares.
    fn draw(&mut self) {
        let known = self.zone_of.len() as u64;
        let recipient = if known > 0 && self.rng.random::<f64>() < self.repeat_rate {
            self.rng.random_range(0..known)
        } else {
            let u = self.rng.random::<f64>();
            self.zone_of
                .push(self.zones.iter().position(|(_, upto)| u < *upto));
            known
        };
        self.recipient_of.push(recipient);
    }

    fn recipient(&self, seq: u64) -> u64 {
        self.recipient_of.get(seq as usize).copied().unwrap_or(seq)
    }

    /// The zone attribute of request `seq`, if its recipient has one.
    fn zone(&self, seq: u64) -> Option<usize> {
        self.zone_of
            .get(self.recipient(seq) as usize)
            .copied()
            .flatten()
    }

    /// The request's made-up number: one per recipient, in a fictional range, so there is
    /// no personal data here (and no zone in its prefix).
    fn phone_number(&self, seq: u64) -> String {
        format!("+1555{:07}", self.recipient(seq) % 10_000_000)
    }
}

/// Sampling points that do not plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    MinuteEnd,
    Half,
}

struct Shift<'a> {
    scenario: &'a Scenario,
    epoch: DateTime<Utc>,
    end: DateTime<Utc>,
    half: DateTime<Utc>,
    tick: Duration,
    clock: VirtualClock,
    model: SimModel,
    pacer: PacerState,
    dialer: DialerConfig,
    template: BatchTemplate,
    queue_ids: Vec<String>,
    /// Contacts not ended yet, by request sequence number: ordered, so pacing inputs come
    /// out in the same order every run.
    contacts: BTreeMap<u64, Tracked>,
    next_request: u64,
    next_batch: u64,
    backlog_left: Option<u64>,
    retry_policy: RetryPolicy,
    /// Requests put back with a not-before time, those whose call ended with an outcome the
    /// policy retries and those waiting for their window: (due time, request sequence
    /// number), claimed first once due as the daemon's claim takes them when their
    /// `not_before` passes.
    not_before: BTreeMap<(DateTime<Utc>, u64), Due>,
    retries: u64,
    hours: Option<CommunicationTime>,
    limits: Vec<Limit>,
    recipients: Recipients,
    window_waits: u64,
    refused: BTreeMap<String, u64>,
    minutes: Vec<Minute>,
    /// Agent-seconds (busy, online) accrued up to the last mark, and at mid-shift.
    accrued: (f64, f64),
    at_half: (f64, f64),
    answers: [u64; 2],
    abandons: [u64; 2],
    machine_answers: u64,
    connected: u64,
    peak_excess: i64,
}

fn secs_since(epoch: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    (at - epoch).num_milliseconds() as f64 / 1000.0
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

impl<'a> Shift<'a> {
    fn new(scenario: &'a Scenario) -> Result<Self, SimulateError> {
        let epoch = scenario.start.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let micros = |secs: f64| Duration::microseconds((secs * 1e6).round() as i64);
        let shift_secs = scenario.hours * 3600.0;
        let model = SimModel::new(scenario.sim().clone(), epoch)
            .map_err(|e| SimulateError::Invalid(e.0))?;
        let queue_ids: Vec<String> = scenario
            .sim()
            .queues
            .iter()
            .map(|q| q.queue_id.clone())
            .collect();
        let minutes = (shift_secs / 60.0).ceil().max(1.0) as usize;
        let agent_config = AgentDialerConfig {
            bandwidth_allocation: 1.0,
            dialing_capacity: None,
        };
        // Campaigns have no VICIdial dialer config: VICIdial runs on a predictive campaign
        // and its mode is set on the pacing input.
        let dialer = match scenario.mode {
            Mode::Progressive => DialerConfig::ProgressiveDialerConfig(agent_config),
            Mode::Predictive | Mode::Vicidial => DialerConfig::PredictiveDialerConfig(agent_config),
        };
        Ok(Self {
            scenario,
            epoch,
            end: epoch + micros(shift_secs),
            half: epoch + micros(shift_secs / 2.0),
            tick: micros(scenario.tick_secs),
            clock: VirtualClock::new(epoch),
            model,
            pacer: PacerState::new(),
            dialer,
            template: BatchTemplate {
                instance_id: "whatif-instance".to_string(),
                queue_id: queue_ids.first().cloned(),
                contact_flow_id: "whatif-flow".to_string(),
                source_phone_number: None,
                answer_machine_detection: scenario.answer_machine_detection,
                sms: None,
            },
            queue_ids,
            contacts: BTreeMap::new(),
            next_request: 0,
            next_batch: 0,
            backlog_left: scenario.backlog,
            retry_policy: scenario.retry_policy(),
            not_before: BTreeMap::new(),
            retries: 0,
            hours: scenario.communication_time(),
            limits: scenario.limits(),
            recipients: Recipients::new(scenario),
            window_waits: 0,
            refused: BTreeMap::new(),
            minutes: vec![Minute::default(); minutes],
            accrued: (0.0, 0.0),
            at_half: (0.0, 0.0),
            answers: [0; 2],
            abandons: [0; 2],
            machine_answers: 0,
            connected: 0,
            peak_excess: i64::MIN,
        })
    }

    /// Sampling marks in time order: every minute's end, mid-shift, the end.
    fn marks(&self) -> Vec<(DateTime<Utc>, Mark)> {
        let mut marks: Vec<(DateTime<Utc>, Mark)> = (1..=self.minutes.len())
            .map(|m| {
                let at = self.epoch + Duration::seconds(60 * m as i64);
                (at.min(self.end), Mark::MinuteEnd)
            })
            .collect();
        marks.push((self.half, Mark::Half));
        marks.sort();
        marks
    }

    fn run(&mut self, progress: &mut dyn FnMut(f64)) -> Result<(), SimulateError> {
        let marks = self.marks();
        let mut next_mark = 0;
        let mut ticks: i32 = 0;
        loop {
            let tick_at = self.epoch + self.tick * ticks;
            let candidates = [
                self.model.next_event_time(),
                (tick_at < self.end).then_some(tick_at),
                marks.get(next_mark).map(|(at, _)| *at),
            ];
            let Some(at) = candidates.into_iter().flatten().min() else {
                break;
            };
            self.clock.advance_to(at);
            let now = self.clock.now();
            let events = self.model.advance(now);
            for event in &events {
                self.apply(event);
            }
            while let Some((_, mark)) = marks.get(next_mark).filter(|(at, _)| *at <= now) {
                self.close(*mark, now);
                next_mark += 1;
                progress(share(
                    secs_since(self.epoch, now),
                    secs_since(self.epoch, self.end),
                ));
            }
            let ticked = tick_at == now && now < self.end;
            if now < self.end && (ticked || !events.is_empty()) {
                self.plan(now)?;
            }
            if ticked {
                let ratio = self.pacer.dial_ratio();
                let minute = self.minute_mut(now);
                minute.dial_ratio_sum += ratio;
                minute.ticks += 1;
                ticks += 1;
            }
        }
        Ok(())
    }

    fn minute_mut(&mut self, at: DateTime<Utc>) -> &mut Minute {
        let index = (secs_since(self.epoch, at).max(0.0) / 60.0) as usize;
        let last = self.minutes.len() - 1;
        &mut self.minutes[index.min(last)]
    }

    fn close(&mut self, mark: Mark, now: DateTime<Utc>) {
        let counters = self.model.counters();
        let totals = (counters.agent_busy_secs, counters.agent_online_secs);
        match mark {
            Mark::Half => self.at_half = totals,
            Mark::MinuteEnd => {
                let agents = self
                    .model
                    .queue_metrics(&self.queue_ids)
                    .iter()
                    .map(|q| q.agents_online)
                    .sum();
                let (busy, online) = (totals.0 - self.accrued.0, totals.1 - self.accrued.1);
                self.accrued = totals;
                // A minute ends at its mark; look it up from just before.
                let minute = self.minute_mut(now - Duration::milliseconds(1));
                minute.busy_secs = busy;
                minute.online_secs = online;
                minute.agents = agents;
            }
        }
    }

    fn apply(&mut self, event: &ContactEvent) {
        let Some(seq) = event
            .request_identifier
            .as_deref()
            .and_then(|r| Uuid::parse_str(r).ok())
            .map(|id| id.as_u64_pair().1)
        else {
            return;
        };
        let Some(tracked) = self.contacts.get_mut(&seq) else {
            return;
        };
        tracked.status = tracked.status.apply(&event.kind);
        if let Some(observed) = observation(&mut tracked.times, event, self.epoch) {
            self.pacer.observe(&observed);
        }
        let answered_at = tracked.times.answered_at.unwrap_or(event.at);
        if tracked.status.terminal {
            let (outcome, attempt) = (tracked.status.final_outcome(), tracked.attempt);
            self.contacts.remove(&seq);
            // Requests never expire here, and a retry due after the shift is never claimed.
            let due =
                self.retry_policy
                    .retry_at(outcome, attempt, event.at, DateTime::<Utc>::MAX_UTC);
            if let Some(due) = due {
                let retry = Due {
                    attempt: attempt + 1,
                    window: false,
                };
                self.not_before.insert((due, seq), retry);
                self.retries += 1;
            }
        }
        let half = usize::from(answered_at >= self.half);
        match &event.kind {
            ContactEventKind::PersonAnswered => {
                self.answers[half] += 1;
                self.minute_mut(answered_at).answers += 1;
            }
            ContactEventKind::Abandoned => {
                self.abandons[half] += 1;
                self.minute_mut(answered_at).abandons += 1;
            }
            ContactEventKind::MachineAnswered => self.machine_answers += 1,
            ContactEventKind::ConnectedToAgent { .. } => {
                self.connected += 1;
                if event.at < self.end {
                    self.minute_mut(event.at).connects += 1;
                }
            }
            _ => {}
        }
    }

    /// Calls in progress as `engine::store::active_calls_many` derives them from the
    /// stored contact states.
    fn active_calls(&self) -> ActiveCalls {
        let mut calls = ActiveCalls::default();
        for tracked in self.contacts.values() {
            calls.add(
                tracked.status.phase,
                tracked.times.dialed_at,
                tracked.times.connected_at,
            );
        }
        calls
    }

    /// One planning pass of the campaign, as the daemon's scheduler makes it.
    fn plan(&mut self, now: DateTime<Utc>) -> Result<(), SimulateError> {
        let queues = self.model.queue_metrics(&self.queue_ids);
        let calls = self.active_calls();
        let Some(mut input) = pacing_input(
            &self.dialer,
            queues.first(),
            &calls,
            self.scenario.total_lines,
            now,
            self.epoch,
        ) else {
            return Ok(());
        };
        input.mode = self.scenario.mode.pacing_mode();
        let decision = self.pacer.decide(&input, &self.scenario.pacing);
        let placed = self.claim(decision.dials, now)?;
        let ahead = i64::from(input.dials_in_flight) + i64::from(input.customers_waiting);
        let excess = ahead + placed as i64 - i64::from(input.agents_available);
        self.peak_excess = self.peak_excess.max(excess);
        Ok(())
    }

    /// Takes up to `n` requests, those put back that are due first, then the backlog, and
    /// dials those the calling rules let through; returns how many.
    fn claim(&mut self, n: u32, now: DateTime<Utc>) -> Result<u64, SimulateError> {
        let mut picked: Vec<(u64, u32)> = Vec::new();
        while picked.len() < n as usize {
            match self.not_before.first_key_value() {
                Some((&(due, seq), &Due { attempt, .. })) if due <= now => {
                    self.not_before.remove(&(due, seq));
                    picked.push((seq, attempt));
                }
                _ => break,
            }
        }
        let fresh = (u64::from(n) - picked.len() as u64).min(self.backlog_left.unwrap_or(u64::MAX));
        if let Some(left) = &mut self.backlog_left {
            *left -= fresh;
        }
        picked.extend((self.next_request..self.next_request + fresh).map(|seq| (seq, 1)));
        self.next_request += fresh;
        for _ in 0..fresh {
            self.recipients.draw();
        }
        let open = self.gate(picked, now);
        let picked = self.limit(open, now);
        let mut placed = 0;
        for chunk in picked.chunks(BATCH_MAX_CONTACTS) {
            let items: Vec<BatchItem> = chunk
                .iter()
                .map(|&(seq, attempt)| BatchItem {
                    id: Uuid::from_u64_pair(REQUEST_ID_HIGH, seq),
                    phone_number: self.recipients.phone_number(seq),
                    attributes: self.attributes(seq),
                    expires_at: DateTime::<Utc>::MAX_UTC,
                    dial_by: DateTime::<Utc>::MAX_UTC,
                    attempts: attempt as i32,
                    parameters: Default::default(),
                })
                .collect();
            for &(seq, attempt) in chunk {
                let claimed = ContactStatus {
                    phase: Phase::Creating,
                    outcome: None,
                    terminal: false,
                };
                let times = ContactTimes {
                    dialed_at: Some(now),
                    ..ContactTimes::default()
                };
                self.contacts.insert(
                    seq,
                    Tracked {
                        status: claimed,
                        times,
                        attempt,
                    },
                );
            }
            let batch = Batch {
                id: Uuid::from_u64_pair(BATCH_ID_HIGH, self.next_batch),
                campaign_id: CAMPAIGN_ID.to_string(),
                client_token: format!("whatif-{}", self.next_batch),
                template: self.template.clone(),
                items,
                attempts: 0,
            };
            self.next_batch += 1;
            let request = render(&batch, &batch.items.iter().collect::<Vec<_>>());
            // No token is ever re-sent here (no faults, no crashes), so the ledger entry
            // that would answer a replay is not kept.
            let outcome = self.model.put_contacts(now, &request, None)?;
            if let Some(failed) = outcome.response.failed.first() {
                return Err(SimulateError::Refused(
                    failed.failure_reason_message.clone(),
                ));
            }
            for created in &outcome.response.successful {
                let seq = Uuid::parse_str(&created.request_identifier)
                    .map(|id| id.as_u64_pair().1)
                    .ok();
                if let Some(tracked) = seq.and_then(|seq| self.contacts.get_mut(&seq)) {
                    tracked.status = tracked.status.apply(&ContactEventKind::Initiated);
                }
                self.pacer.observe(&Observation {
                    at_secs: secs_since(self.epoch, now),
                    event: ObservedEvent::DialPlaced,
                });
                self.minute_mut(now).dials += 1;
                placed += 1;
            }
        }
        Ok(placed)
    }

    /// The requests whose recipient's window is open now; those whose window is closed
    /// wait for its opening, those without a zone are refused.
    fn gate(&mut self, picked: Vec<(u64, u32)>, now: DateTime<Utc>) -> Vec<(u64, u32)> {
        let Some(hours) = &self.hours else {
            return picked;
        };
        // The gate depends only on the zone attribute here (every number has the same
        // prefix, and requests never expire), so one evaluation per zone serves the claim.
        let mut gates: BTreeMap<Option<usize>, Gate> = BTreeMap::new();
        let decided: Vec<((u64, u32), Gate)> = picked
            .into_iter()
            .map(|(seq, attempt)| {
                let zone = self.recipients.zone(seq);
                let gate = *gates.entry(zone).or_insert_with(|| {
                    let name = zone.map(|z| self.recipients.zones[z].0.as_str());
                    let number = self.recipients.phone_number(seq);
                    hours.gate(name, &number, now, DateTime::<Utc>::MAX_UTC)
                });
                ((seq, attempt), gate)
            })
            .collect();
        let mut open = Vec::with_capacity(decided.len());
        for ((seq, attempt), gate) in decided {
            match gate {
                Gate::Open { .. } => open.push((seq, attempt)),
                Gate::Wait { until, .. } => {
                    let wait = Due {
                        attempt,
                        window: true,
                    };
                    self.not_before.insert((until, seq), wait);
                    self.window_waits += 1;
                }
                Gate::NoZone => self.refuse(FailureReason::MissingTimeZone),
            }
        }
        open
    }

    /// The requests the communication limits let through, each recipient's oldest first;
    /// their contacts enter the recipients' histories.
    fn limit(&mut self, picked: Vec<(u64, u32)>, now: DateTime<Utc>) -> Vec<(u64, u32)> {
        if self.limits.is_empty() {
            return picked;
        }
        let mut wanted: BTreeMap<u64, u32> = BTreeMap::new();
        for &(seq, _) in &picked {
            *wanted.entry(self.recipients.recipient(seq)).or_default() += 1;
        }
        let contacts = &mut self.recipients.contacts;
        contacts.resize(self.recipients.zone_of.len(), Vec::new());
        let mut room: BTreeMap<u64, u32> = BTreeMap::new();
        for (recipient, wanted) in wanted {
            let history = &mut contacts[recipient as usize];
            let taken = admitted(&self.limits, history, wanted, now);
            history.extend(std::iter::repeat_n(now, taken as usize));
            room.insert(recipient, taken);
        }
        let mut allowed = Vec::with_capacity(picked.len());
        for (seq, attempt) in picked {
            let left = room.entry(self.recipients.recipient(seq)).or_default();
            if *left > 0 {
                *left -= 1;
                allowed.push((seq, attempt));
            } else {
                self.refuse(FailureReason::LimitExceeded);
            }
        }
        allowed
    }

    fn refuse(&mut self, reason: FailureReason) {
        *self.refused.entry(reason.as_str().to_string()).or_default() += 1;
    }

    /// The request's attributes: its recipient's zone, if the scenario gives it one.
    fn attributes(&self, seq: u64) -> BTreeMap<String, String> {
        let mut attributes = BTreeMap::new();
        if let (Some(hours), Some(zone)) = (&self.hours, self.recipients.zone(seq)) {
            attributes.insert(
                hours.zone_attribute.clone(),
                self.recipients.zones[zone].0.clone(),
            );
        }
        attributes
    }

    fn report(&self) -> Report {
        let sim = self.scenario.sim();
        let sum = |f: fn(&Minute) -> f64| self.minutes.iter().map(f).sum::<f64>();
        let busy = sum(|m| m.busy_secs);
        let online = sum(|m| m.online_secs);
        let ratio_sum = sum(|m| m.dial_ratio_sum);
        let ticks: u64 = self.minutes.iter().map(|m| u64::from(m.ticks)).sum();
        let connects_in_shift: u64 = self.minutes.iter().map(|m| m.connects).sum();
        let dials = self.minutes.iter().map(|m| m.dials).sum();
        let answers = self.answers[0] + self.answers[1];
        let abandons = self.abandons[0] + self.abandons[1];
        let shift_secs = secs_since(self.epoch, self.end);
        Report {
            retries: self.retries,
            requests: self.next_request,
            recipients: self.recipients.zone_of.len() as u64,
            window_waits: self.window_waits,
            waiting_at_end: self.not_before.values().filter(|due| due.window).count() as u64,
            refused: self.refused.clone(),
            mode: self.scenario.mode,
            seed: sim.seed,
            hours: self.scenario.hours,
            agents: sim.queues.first().map_or(0, |q| q.agents),
            answer_rate: sim.customers.answer_probability,
            mean_handle_secs: sim
                .queues
                .first()
                .map_or(0.0, |q| q.handle_time.mean_secs()),
            abandonment_target: self.scenario.pacing.abandonment_target,
            dials,
            human_answers: answers,
            machine_answers: self.machine_answers,
            connected: self.connected,
            abandons,
            abandonment_rate: rate(abandons, answers),
            first_half_abandonment_rate: rate(self.abandons[0], self.answers[0]),
            second_half_abandonment_rate: rate(self.abandons[1], self.answers[1]),
            occupancy: share(busy, online),
            first_half_occupancy: share(self.at_half.0, self.at_half.1),
            second_half_occupancy: share(busy - self.at_half.0, online - self.at_half.1),
            mean_agent_idle_secs: share(online - busy, connects_in_shift as f64),
            mean_agents_logged_in: share(online, shift_secs),
            mean_dial_ratio: share(ratio_sum, ticks as f64),
            peak_excess_dials: self.peak_excess.max(0),
            minutes: self.minutes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact_center::sim::model::{AnswerRateChange, StaffingChange};

    fn reference(agents: u32, mode: Mode, hours: f64, seed: u64) -> Scenario {
        Scenario::reference(agents, 0.25, 120.0, hours, mode, seed)
    }

    fn run(scenario: &Scenario) -> Report {
        simulate(scenario).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn progressive_never_dials_ahead_of_free_agents_and_never_abandons() {
        let report = run(&reference(20, Mode::Progressive, 2.0, 1));
        assert_eq!(report.peak_excess_dials, 0);
        assert_eq!(report.abandons, 0);
        assert!(report.dials > 1000, "{report:?}");
        // One dial per free agent leaves agents idle while calls ring: about 0.6.
        assert!(
            (0.5..0.7).contains(&report.occupancy),
            "{}",
            report.occupancy
        );
    }

    #[test]
    fn figures_add_up() {
        let report = run(&reference(10, Mode::Predictive, 1.0, 4));
        let minutes = &report.minutes;
        assert_eq!(minutes.len(), 60);
        assert_eq!(minutes.iter().map(|m| m.dials).sum::<u64>(), report.dials);
        assert_eq!(
            minutes.iter().map(|m| m.answers).sum::<u64>(),
            report.human_answers
        );
        assert_eq!(
            minutes.iter().map(|m| m.abandons).sum::<u64>(),
            report.abandons
        );
        assert!(minutes.iter().all(|m| m.ticks == 60 && m.agents == 10));
        let online: f64 = minutes.iter().map(|m| m.online_secs).sum();
        assert!((online - 10.0 * 3600.0).abs() < 1e-6, "{online}");
        assert!((report.mean_agents_logged_in - 10.0).abs() < 1e-9);
        let idle = (1.0 - report.occupancy) * online;
        let connects: u64 = minutes.iter().map(|m| m.connects).sum();
        assert!((report.mean_agent_idle_secs - idle / connects as f64).abs() < 1e-6);
        assert!(report.connected + report.abandons <= report.human_answers);
        assert!(report.human_answers - report.connected - report.abandons <= 1);
    }

    #[test]
    fn retries_redial_the_backlog_the_policy_says_and_show_in_occupancy() {
        let mut scenario = reference(10, Mode::Predictive, 1.0, 1);
        scenario.backlog = Some(300);
        let without = run(&scenario);
        scenario.retries = toml::from_str(
            "[default.outcomes]\nno_answer = { after_secs = 60, max_attempts = 3 }\n\
             busy = { after_secs = 30, max_attempts = 2 }\n",
        )
        .unwrap();
        let with = run(&scenario);
        assert_eq!(without.retries, 0);
        assert!(with.retries > 0, "{with:?}");
        // Every retry due within the shift is dialed: the backlog's 300 and the retries.
        assert!(
            with.dials > 300 && with.dials <= 300 + with.retries,
            "{with:?}"
        );
        assert!(with.occupancy > without.occupancy, "{with:?}\n{without:?}");
    }

    #[test]
    fn a_finite_backlog_runs_dry() {
        let mut scenario = reference(10, Mode::Predictive, 1.0, 1);
        scenario.backlog = Some(300);
        let report = run(&scenario);
        assert_eq!(report.dials, 300);
        assert!(report.occupancy < 0.5, "{}", report.occupancy);
    }

    #[test]
    fn the_same_seed_gives_the_same_shift() {
        let scenario = reference(10, Mode::Predictive, 1.0, 7);
        assert_eq!(run(&scenario), run(&scenario));
        let other = reference(10, Mode::Predictive, 1.0, 8);
        assert_ne!(run(&scenario).dials, run(&other).dials);
    }

    #[test]
    fn staffing_changes_count_logged_in_time_only() {
        let mut scenario = reference(20, Mode::Progressive, 1.0, 1);
        scenario.contact_center.sim.queues[0].staffing = vec![StaffingChange {
            at_secs: 1800.0,
            delta: -10,
        }];
        let report = run(&scenario);
        assert_eq!(report.minutes[0].agents, 20);
        assert_eq!(report.minutes[59].agents, 10);
        // Agents busy at the change log out when they finish, so a little over 15.
        assert!(
            (15.0..16.0).contains(&report.mean_agents_logged_in),
            "{}",
            report.mean_agents_logged_in
        );
        assert!((0.5..0.7).contains(&report.second_half_occupancy));
    }

    #[test]
    fn answer_rate_changes_show_in_each_half() {
        let mut scenario = reference(20, Mode::Progressive, 1.0, 2);
        scenario.contact_center.sim.customers.answer_probability = 0.4;
        scenario.contact_center.sim.customers.answer_rate_changes = vec![AnswerRateChange {
            at_secs: 1800.0,
            probability: 0.1,
        }];
        let report = run(&scenario);
        let first: u64 = report.minutes[..30].iter().map(|m| m.answers).sum();
        let dials_first: u64 = report.minutes[..30].iter().map(|m| m.dials).sum();
        let second: u64 = report.minutes[31..].iter().map(|m| m.answers).sum();
        let dials_second: u64 = report.minutes[31..].iter().map(|m| m.dials).sum();
        assert!(rate(first, dials_first) > 0.3, "{first}/{dials_first}");
        assert!(rate(second, dials_second) < 0.15, "{second}/{dials_second}");
        assert!(report.second_half_occupancy < report.first_half_occupancy);
    }

    /// Calling hours 08:00-21:00 every day in the recipient's zone, New York the default.
    const HOURS: &str = r#"
        [localTimeZoneConfig]
        defaultTimeZone = "America/New_York"
        [telephony.openHours.dailyHours]
        MONDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        TUESDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        WEDNESDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        THURSDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        FRIDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        SATURDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        SUNDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
    "#;

    /// Monday 2026-06-15 12:00 UTC: 08:00 in New York, 05:00 in Los Angeles.
    fn monday_8am_in_new_york() -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
            .ok()
            .map(|t| t.to_utc())
    }

    fn zones(shares: &[(&str, f64)]) -> Vec<super::super::scenario::ZoneShare> {
        shares
            .iter()
            .map(|(zone, share)| super::super::scenario::ZoneShare {
                zone: zone.to_string(),
                share: *share,
            })
            .collect()
    }

    #[test]
    fn a_closed_window_makes_requests_wait_and_lowers_early_occupancy() {
        let mut scenario = reference(10, Mode::Predictive, 4.0, 1);
        scenario.backlog = Some(1200);
        scenario.start = monday_8am_in_new_york();
        scenario.recipients.zones =
            zones(&[("America/New_York", 0.5), ("America/Los_Angeles", 0.5)]);
        let without = run(&scenario);
        scenario.communication_time = Some(toml::from_str(HOURS).unwrap_or_else(|e| panic!("{e}")));
        let with = run(&scenario);
        assert_eq!(with, run(&scenario), "a seed fixes the run");
        assert_eq!((without.window_waits, without.dials), (0, 1200));
        // Los Angeles's half waits until 08:00 there, hour 3, then is dialed: all of it.
        assert!((500..700).contains(&with.window_waits), "{with:?}");
        assert_eq!((with.waiting_at_end, with.dials), (0, 1200), "{with:?}");
        assert!(with.refused.is_empty(), "{with:?}");
        let dials = |r: &Report, from: usize, to: usize| -> u64 {
            r.minutes[from..to].iter().map(|m| m.dials).sum()
        };
        assert_eq!(dials(&with, 120, 180), 0, "New York's half ran dry");
        assert_eq!(dials(&with, 180, 240), with.window_waits);
        assert!(
            with.first_half_occupancy < without.first_half_occupancy - 0.1,
            "{with:?}\n{without:?}"
        );
        assert!(with.second_half_occupancy > without.second_half_occupancy);
    }

    #[test]
    fn a_recipient_without_a_zone_is_refused() {
        let mut scenario = reference(10, Mode::Predictive, 0.5, 1);
        scenario.backlog = Some(200);
        scenario.start = monday_8am_in_new_york();
        let mut hours: crate::campaigns::channels::CommunicationTimeConfig =
            toml::from_str(HOURS).unwrap_or_else(|e| panic!("{e}"));
        hours.local_time_zone_config.default_time_zone = None;
        scenario.communication_time = Some(hours);
        scenario.recipients.zones = zones(&[("America/New_York", 0.5)]);
        let report = run(&scenario);
        let refused = report
            .refused
            .get("MISSING_TIME_ZONE")
            .copied()
            .unwrap_or(0);
        assert!((70..130).contains(&refused), "{report:?}");
        assert_eq!(report.dials + refused, 200);
    }

    #[test]
    fn a_limit_of_one_a_day_refuses_the_repeated_recipients() {
        let mut scenario = reference(10, Mode::Predictive, 1.0, 1);
        scenario.backlog = Some(300);
        scenario.recipients.repeat_rate = 0.3;
        let without = run(&scenario);
        let limits = |text: &str| Some(toml::from_str(text).unwrap_or_else(|e| panic!("{e}")));
        scenario.communication_limits = limits(
            "allChannelSubtypes = { communicationLimitsList = \
             [{ maxCountPerRecipient = 1, frequency = 1, unit = \"DAY\" }] }",
        );
        let with = run(&scenario);
        assert_eq!((without.dials, without.requests), (300, 300));
        assert!(without.refused.is_empty());
        assert_eq!(with.recipients, without.recipients, "the same draws");
        assert!((180..240).contains(&with.recipients), "{with:?}");
        // Every recipient's first request is dialed, and none of its repeats.
        assert_eq!(with.dials, with.recipients);
        assert_eq!(
            with.refused.get("LIMIT_EXCEEDED"),
            Some(&(300 - with.recipients))
        );
        assert!(with.occupancy < without.occupancy, "{with:?}\n{without:?}");
        // Room for three a day: the few recipients drawn four times or more lose the rest.
        scenario.communication_limits = limits(
            "allChannelSubtypes = { communicationLimitsList = \
             [{ maxCountPerRecipient = 3, frequency = 1, unit = \"DAY\" }] }",
        );
        let three = run(&scenario);
        let refused = three.refused.get("LIMIT_EXCEEDED").copied().unwrap_or(0);
        assert!(refused < 300 - with.recipients, "{three:?}");
        assert_eq!(three.dials + refused, 300);
    }

    #[test]
    fn invalid_scenarios_are_refused_before_running() {
        let scenario = reference(10, Mode::Predictive, -1.0, 1);
        match simulate(&scenario) {
            Err(SimulateError::Invalid(errors)) => assert!(errors[0].starts_with("hours")),
            other => panic!("{other:?}"),
        }
    }
}
