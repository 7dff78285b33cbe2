//! The simulated contact center as a [`ContactCenter`] for the daemon.
//!
//! [`SimContactCenter`] runs the pure [`model::SimModel`] against the wall clock, sped up by
//! `time_scale` (model time = epoch + wall time elapsed × `time_scale`): a background task
//! sleeps until the next model event, advances the model and publishes the events.
//!
//! Invariants:
//! - A `ClientToken` is recorded in the [`SimLedger`] *before* its contacts are dialed, and a
//!   token found there is answered from the ledger without dialing. With a ledger that
//!   outlives the daemon (the Postgres one) no dial request is called twice, across crashes
//!   and across daemons sharing the ledger; a crash between record and dial loses calls
//!   instead, which the engine must reconcile like any contact that never reports.
//! - Events are published while the model lock is held, so each contact's events reach
//!   subscribers in order.
//! - After cancellation no new contact is dialed and no event is published.
//! - Calls live in the daemon that placed them: each simulated center has an id, recorded
//!   with the tokens it dialed, and keeps a heartbeat in its ledger. A center that stopped
//!   (shut down, or its heartbeat lapsed: its daemon died) takes its calls with it, and
//!   every center then answers [`ContactCenter::describe_contacts`] with
//!   [`ContactState::Gone`] for them, so the engine ends them at once instead of waiting
//!   for events that cannot come.

pub mod model;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::model::{
    BatchError, CallFault, InvalidSimConfig, LedgerEntry, SimConfig, SimCounters, SimModel,
};
use super::{
    BatchPutContactRequest, BatchPutContactResponse, ContactCenter, ContactCenterError,
    ContactEvent, ContactRef, ContactState, FatalError, QueueMetrics, RetryableError,
    StartOutboundChatContactRequest, StartOutboundChatContactResponse, METRICS_MAX_QUEUES,
};

/// How often a simulated center renews its heartbeat in the ledger.
pub const CENTER_HEARTBEAT: Duration = Duration::from_secs(1);
/// A center whose heartbeat is this old is gone with its daemon. Three beats, so a slow
/// statement or two never makes a live center look dead.
pub const CENTER_LAPSE: Duration = Duration::from_secs(3);

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The storage behind the ledger failed.
    #[error("simulator ledger storage failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The simulator's memory of `ClientToken`s, kept apart from the model so that it can outlive
/// a daemon (a Postgres-backed implementation) and be shared by several.
#[async_trait]
pub trait SimLedger: Send + Sync {
    /// Records `entry` under `client_token`, dialed by `center`, unless something is recorded
    /// there already, in one atomic step. Returns `None` if `entry` was recorded, or the entry
    /// that was there (a concurrent caller won), in which case the caller must not dial.
    async fn record(
        &self,
        client_token: &str,
        entry: &LedgerEntry,
        center: Uuid,
    ) -> Result<Option<LedgerEntry>, LedgerError>;

    /// Marks `center` alive now.
    async fn heartbeat(&self, center: Uuid) -> Result<(), LedgerError>;

    /// Marks `center` stopped: its calls ended with it.
    async fn retire(&self, center: Uuid) -> Result<(), LedgerError>;

    /// The center that dialed each of `client_tokens` the ledger knows, and whether it is
    /// still alive (not retired, and its heartbeat not older than [`CENTER_LAPSE`]).
    async fn hosts(&self, client_tokens: &[String]) -> Result<HashMap<String, Host>, LedgerError>;

    /// Records an SMS under its `client_token` unless one is recorded there already, in one
    /// atomic step, as [`SimLedger::record`] does for batches: `None` if `message` was
    /// recorded (send it), or the message that was there (send nothing).
    async fn record_message(
        &self,
        client_token: &str,
        message: &SentMessage,
    ) -> Result<Option<SentMessage>, LedgerError>;
}

/// What the simulated center remembers of an SMS it took: enough to answer a retry, and
/// its delivery. Not the message (personal data): its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The chat contact.
    pub contact_id: String,
    /// [`StartOutboundChatContactRequest::fingerprint`]: what a retry must match.
    pub fingerprint: String,
    /// Whether the message reached the phone (`sms_undelivered_probability`).
    pub delivered: bool,
    /// Characters sent.
    pub content_length: usize,
}

/// The center that dialed a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Its id.
    pub center: Uuid,
    /// Whether it still runs its calls.
    pub alive: bool,
}

/// A [`SimLedger`] in memory: forgets on restart, so it suits tests and single-process runs,
/// not crash tests.
#[derive(Debug, Default)]
pub struct InMemorySimLedger {
    // A std Mutex: held only for a map operation, never across an await.
    entries: Mutex<HashMap<String, LedgerEntry>>,
    messages: Mutex<HashMap<String, SentMessage>>,
    /// The center that dialed each token. One process, so a center is alive until retired.
    hosts: Mutex<HashMap<String, Uuid>>,
    retired: Mutex<HashSet<Uuid>>,
}

impl InMemorySimLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many tokens are recorded.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether no token is recorded.
    pub fn is_empty(&self) -> bool {
        lock(&self.entries).is_empty()
    }
}

#[async_trait]
impl SimLedger for InMemorySimLedger {
    async fn record(
        &self,
        client_token: &str,
        entry: &LedgerEntry,
        center: Uuid,
    ) -> Result<Option<LedgerEntry>, LedgerError> {
        let mut entries = lock(&self.entries);
        if let Some(existing) = entries.get(client_token) {
            return Ok(Some(existing.clone()));
        }
        entries.insert(client_token.to_string(), entry.clone());
        lock(&self.hosts).insert(client_token.to_string(), center);
        Ok(None)
    }

    async fn heartbeat(&self, _center: Uuid) -> Result<(), LedgerError> {
        Ok(())
    }

    async fn retire(&self, center: Uuid) -> Result<(), LedgerError> {
        lock(&self.retired).insert(center);
        Ok(())
    }

    async fn record_message(
        &self,
        client_token: &str,
        message: &SentMessage,
    ) -> Result<Option<SentMessage>, LedgerError> {
        let mut messages = lock(&self.messages);
        if let Some(existing) = messages.get(client_token) {
            return Ok(Some(existing.clone()));
        }
        messages.insert(client_token.to_string(), message.clone());
        Ok(None)
    }

    async fn hosts(&self, client_tokens: &[String]) -> Result<HashMap<String, Host>, LedgerError> {
        let hosts = lock(&self.hosts);
        let retired = lock(&self.retired);
        Ok(client_tokens
            .iter()
            .filter_map(|token| {
                let center = *hosts.get(token)?;
                let alive = !retired.contains(&center);
                Some((token.clone(), Host { center, alive }))
            })
            .collect())
    }
}

/// A poisoned lock only means another thread panicked mid-update; the model's state is still
/// the best there is, and refusing every later call would turn one bug into an outage.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Maps wall time to model time.
#[derive(Debug)]
struct SimClock {
    started: Instant,
    epoch: DateTime<Utc>,
    time_scale: f64,
}

impl SimClock {
    fn now(&self) -> DateTime<Utc> {
        let model_secs = self.started.elapsed().as_secs_f64() * self.time_scale;
        let micros = chrono::Duration::microseconds((model_secs * 1e6) as i64);
        self.epoch
            .checked_add_signed(micros)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The wall instant at which model time reaches `at`.
    fn wall_deadline(&self, at: DateTime<Utc>) -> Instant {
        let model_micros = (at - self.epoch).num_microseconds().unwrap_or(i64::MAX);
        let wall_secs = (model_micros as f64 / 1e6 / self.time_scale).max(0.0);
        // Past the representable range the event is a week or more away: sleeping a day and
        // looking again is as good.
        Duration::try_from_secs_f64(wall_secs)
            .ok()
            .and_then(|wait| self.started.checked_add(wait))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
    }

    /// `secs` of model time as wall time.
    fn wall_duration(&self, secs: f64) -> Duration {
        Duration::try_from_secs_f64(secs / self.time_scale).unwrap_or(Duration::from_secs(86_400))
    }
}

struct Shared {
    // A std Mutex: every model operation is short and synchronous, and holding the lock
    // while publishing keeps each contact's events in order.
    model: Mutex<SimModel>,
    ledger: Arc<dyn SimLedger>,
    /// Subscribers' feed; see [`ContactCenter`] for why it is a broadcast channel.
    events: broadcast::Sender<ContactEvent>,
    /// Wakes the driver when a new contact may have an event due before its current sleep
    /// ends. `notify_one` keeps a permit, so a wake-up between the driver's look at the agenda
    /// and its sleep is not lost.
    wake: Notify,
    clock: SimClock,
    cancel: CancellationToken,
    /// This center's id in the ledger.
    center: Uuid,
}

impl Shared {
    /// Runs the model up to the current time, publishes what happened, then applies `f`.
    fn with_model_now<R>(&self, f: impl FnOnce(&mut SimModel, DateTime<Utc>) -> R) -> R {
        let mut model = lock(&self.model);
        let now = self.clock.now();
        self.publish(model.advance(now));
        let result = f(&mut model, now);
        self.publish(model.advance(now));
        result
    }

    fn publish(&self, events: Vec<ContactEvent>) {
        if self.cancel.is_cancelled() {
            return;
        }
        for event in events {
            // Err only means nobody is subscribed right now; such events are meant to be lost.
            let _ = self.events.send(event);
        }
    }
}

/// The simulated contact center, running in the daemon. Cheap to share behind an `Arc`.
pub struct SimContactCenter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimContactCenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimContactCenter").finish_non_exhaustive()
    }
}

impl SimContactCenter {
    /// Validates `config`, starts the model at the current wall time and spawns its driver
    /// task, which stops when `cancel` fires. Must be called inside a Tokio runtime.
    pub fn new(
        config: SimConfig,
        ledger: Arc<dyn SimLedger>,
        cancel: CancellationToken,
    ) -> Result<Self, InvalidSimConfig> {
        let time_scale = config.time_scale;
        let (events, _) = broadcast::channel(config.event_buffer.max(1));
        let epoch = Utc::now();
        let model = SimModel::new(config, epoch)?;
        let shared = Arc::new(Shared {
            model: Mutex::new(model),
            ledger,
            events,
            wake: Notify::new(),
            clock: SimClock {
                started: Instant::now(),
                epoch,
                time_scale,
            },
            cancel,
            center: Uuid::new_v4(),
        });
        tokio::spawn(drive(Arc::clone(&shared)));
        tokio::spawn(keep_alive(Arc::clone(&shared)));
        Ok(Self { shared })
    }

    /// Records in the ledger that this center stopped, and waits for it: its calls are then
    /// reported gone at once. The heartbeat task does the same on cancellation, but a process
    /// about to exit cannot count on a background task finishing.
    pub async fn retire(&self) -> Result<(), LedgerError> {
        self.shared.ledger.retire(self.shared.center).await
    }

    /// Totals so far, e.g. dials per run for crash tests and occupancy for reports.
    pub fn counters(&self) -> SimCounters {
        self.shared
            .with_model_now(|model, _| model.counters().clone())
    }

    async fn put(
        &self,
        req: &BatchPutContactRequest,
    ) -> Result<BatchPutContactResponse, ContactCenterError> {
        let shared = &self.shared;
        // Prepared before the ledger is asked: recording is the one round trip a new token
        // needs, and it returns what a replayed token holds. A replay's prepared batch (and
        // the faults drawn for it) is discarded; its request was checked as a replay's is.
        let prepared = lock(&shared.model).prepare(req).map_err(invalid_request)?;
        let raced = shared
            .ledger
            .record(&req.client_token, prepared.ledger_entry(), shared.center)
            .await
            .map_err(ledger_failed)?;
        if let Some(entry) = raced {
            return lock(&shared.model)
                .replay(req, &entry)
                .map_err(invalid_request);
        }
        if shared.cancel.is_cancelled() {
            // Recorded but not dialed: the same outcome as a crash between the two steps.
            return Err(shut_down());
        }
        let response = shared.with_model_now(|model, now| model.commit(now, prepared));
        shared.wake.notify_one();
        Ok(response)
    }
}

impl SimContactCenter {
    /// Runs `call` under the whole-call fault drawn for it: throttled or a server error
    /// before any effect, or a timeout after the effect (the case only a replay of the
    /// token resolves).
    async fn with_call_fault<R>(
        &self,
        call: impl std::future::Future<Output = Result<R, ContactCenterError>>,
    ) -> Result<R, ContactCenterError> {
        let shared = &self.shared;
        if shared.cancel.is_cancelled() {
            return Err(shut_down());
        }
        let fault = lock(&shared.model).draw_call_fault();
        match fault {
            Some(CallFault::Throttled) => {
                return Err(ContactCenterError::Retryable(RetryableError::Throttled))
            }
            Some(CallFault::InternalError) => {
                return Err(ContactCenterError::Retryable(RetryableError::Server(
                    "injected internal error".to_string(),
                )))
            }
            Some(CallFault::Timeout) | None => {}
        }
        let response = call.await?;
        if fault == Some(CallFault::Timeout) {
            let secs = lock(&shared.model).config().faults.timeout_secs;
            tokio::select! {
                () = tokio::time::sleep(shared.clock.wall_duration(secs)) => {}
                () = shared.cancel.cancelled() => {}
            }
            return Err(ContactCenterError::Retryable(RetryableError::Timeout));
        }
        Ok(response)
    }

    /// One SMS: checked as the Connect emulator checks it, recorded under its token before
    /// it counts as sent, and answered from the record on a retry.
    async fn send_sms(
        &self,
        req: &StartOutboundChatContactRequest,
    ) -> Result<StartOutboundChatContactResponse, ContactCenterError> {
        crate::contact_center::emulator::validate::start_outbound_chat_contact(req)
            .map_err(|m| ContactCenterError::Fatal(FatalError::InvalidRequest(m)))?;
        let shared = &self.shared;
        let token = req.client_token.clone().ok_or_else(|| {
            ContactCenterError::Fatal(FatalError::InvalidRequest(
                "the simulated center needs a ClientToken on every SMS".to_string(),
            ))
        })?;
        let message = SentMessage {
            contact_id: Uuid::new_v4().to_string(),
            fingerprint: req.fingerprint(),
            delivered: lock(&shared.model).draw_sms_delivered(),
            content_length: req.content_length(),
        };
        let raced = shared
            .ledger
            .record_message(&token, &message)
            .await
            .map_err(ledger_failed)?;
        let kept = match raced {
            Some(earlier) if earlier.fingerprint != message.fingerprint => {
                return Err(ContactCenterError::Fatal(FatalError::Idempotency(
                    "ClientToken was already used for a different request".to_string(),
                )))
            }
            Some(earlier) => earlier,
            None => {
                lock(&shared.model).count_sms(message.delivered);
                message
            }
        };
        Ok(StartOutboundChatContactResponse {
            contact_id: kept.contact_id,
        })
    }
}

#[async_trait]
impl ContactCenter for SimContactCenter {
    async fn batch_put_contact(
        &self,
        req: BatchPutContactRequest,
    ) -> Result<BatchPutContactResponse, ContactCenterError> {
        self.with_call_fault(self.put(&req)).await
    }

    async fn start_outbound_chat_contact(
        &self,
        req: StartOutboundChatContactRequest,
    ) -> Result<StartOutboundChatContactResponse, ContactCenterError> {
        self.with_call_fault(self.send_sms(&req)).await
    }

    async fn queue_metrics(
        &self,
        _instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueMetrics>, ContactCenterError> {
        if !(1..=METRICS_MAX_QUEUES).contains(&queue_ids.len()) {
            return Err(ContactCenterError::Fatal(FatalError::InvalidRequest(
                format!(
                    "Filters.Queues must name 1 to {METRICS_MAX_QUEUES} queues, got {}",
                    queue_ids.len()
                ),
            )));
        }
        self.shared.with_model_now(|model, _| {
            if model.draw_metrics_fault() {
                Err(ContactCenterError::Retryable(RetryableError::Throttled))
            } else {
                Ok(model.queue_metrics(queue_ids))
            }
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<ContactEvent> {
        self.shared.events.subscribe()
    }

    async fn describe_contacts(
        &self,
        _instance_id: &str,
        contacts: &[ContactRef],
    ) -> Result<BTreeMap<String, ContactState>, ContactCenterError> {
        let shared = &self.shared;
        let stopped = shared.cancel.is_cancelled();
        let ids: Vec<String> = contacts.iter().map(|c| c.contact_id.clone()).collect();
        let running = lock(&shared.model).running(&ids);
        let tokens: Vec<String> = contacts
            .iter()
            .filter(|c| !running.contains(&c.contact_id))
            .map(|c| c.client_token.clone())
            .collect();
        let hosts = if tokens.is_empty() {
            HashMap::new()
        } else {
            shared.ledger.hosts(&tokens).await.map_err(ledger_failed)?
        };
        Ok(contacts
            .iter()
            .map(|contact| {
                let id = &contact.contact_id;
                let state = if running.contains(id) {
                    if stopped {
                        ContactState::Gone(CENTER_STOPPED.to_string())
                    } else {
                        ContactState::Running
                    }
                } else {
                    match hosts.get(&contact.client_token) {
                        Some(host) if host.center == shared.center => ContactState::Ended,
                        Some(host) if host.alive => ContactState::Running,
                        Some(_) => ContactState::Gone(CENTER_GONE.to_string()),
                        None => ContactState::Gone(UNKNOWN_CONTACT.to_string()),
                    }
                };
                (id.clone(), state)
            })
            .collect())
    }
}

/// Why a contact of this center ended without its events: the daemon is shutting down.
const CENTER_STOPPED: &str = "the daemon running its simulated contact center shut down";
/// Why a contact of another center ended without its events.
const CENTER_GONE: &str =
    "the simulated contact center that placed the call stopped with its daemon";
/// Why a contact unknown to every center is over.
const UNKNOWN_CONTACT: &str = "the contact center has no record of the contact";

/// Renews this center's heartbeat until cancellation, then retires it so that other
/// daemons end its calls at once rather than after [`CENTER_LAPSE`].
async fn keep_alive(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(CENTER_HEARTBEAT);
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if let Err(error) = shared.ledger.heartbeat(shared.center).await {
            tracing::debug!(%error, "simulated center heartbeat not recorded");
        }
    }
    if let Err(error) = shared.ledger.retire(shared.center).await {
        tracing::debug!(%error, "simulated center not retired; others see it gone after its heartbeat lapses");
    }
}

/// Sleeps until the next model event is due (or a new contact arrives), then runs the model
/// up to the current time and publishes what happened.
async fn drive(shared: Arc<Shared>) {
    loop {
        let next = lock(&shared.model).next_event_time();
        let deadline = next.map(|at| shared.clock.wall_deadline(at));
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            () = shared.wake.notified() => continue,
            () = sleep_until(deadline) => {}
        }
        let mut model = lock(&shared.model);
        // Float rounding can leave the wall clock a hair short of the event it woke for.
        let now = match next {
            Some(due) => shared.clock.now().max(due),
            None => shared.clock.now(),
        };
        let events = model.advance(now);
        shared.publish(events);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn invalid_request(err: BatchError) -> ContactCenterError {
    ContactCenterError::Fatal(FatalError::InvalidRequest(err.to_string()))
}

fn ledger_failed(err: LedgerError) -> ContactCenterError {
    ContactCenterError::Retryable(RetryableError::Server(err.to_string()))
}

fn shut_down() -> ContactCenterError {
    ContactCenterError::Retryable(RetryableError::Server(
        "contact-center simulator is shut down".to_string(),
    ))
}

/// Call timing (ring times, waits, handle times) is read on the contact center's clock: with
/// a `time_scale` above 1 the simulated center's model time runs ahead of the wall, and the
/// pacer must see calls in the time they take there.
impl crate::clock::Clock for SimContactCenter {
    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }
}

#[cfg(test)]
mod tests {

    use super::model::{CustomerConfig, Dist, HandleTime, QueueConfig, QUEUE_ID_DEFAULT};
    use super::*;
    use crate::contact_center::ContactEventKind as K;

    use super::model::tests::item;

    fn batch(token: &str, n: usize) -> BatchPutContactRequest {
        BatchPutContactRequest {
            client_token: token.to_string(),
            instance_id: "inst-1".to_string(),
            contacts: (0..n).map(|i| item(&format!("{token}-{i}"))).collect(),
        }
    }

    /// At 2000× a 6 s ring takes 3 ms of wall time and a 20 s call 10 ms.
    fn fast_config() -> SimConfig {
        SimConfig {
            time_scale: 2_000.0,
            queues: vec![QueueConfig {
                handle_time: HandleTime::Split {
                    total: Dist::Fixed { secs: 20.0 },
                    wrap_share: 0.25,
                },
                ..QueueConfig::new(QUEUE_ID_DEFAULT, 2)
            }],
            customers: CustomerConfig {
                answer_probability: 1.0,
                fail_fast_probability: 0.0,
                answer_delay: Dist::Fixed { secs: 6.0 },
                ..CustomerConfig::default()
            },
            ..SimConfig::default()
        }
    }

    fn start(
        config: SimConfig,
        ledger: Arc<dyn SimLedger>,
    ) -> (SimContactCenter, CancellationToken) {
        let cancel = CancellationToken::new();
        let sim = SimContactCenter::new(config, ledger, cancel.clone()).unwrap();
        (sim, cancel)
    }

    /// Collects events until `done` holds for the collection, or fails after 10 s of wall time.
    async fn collect_until(
        rx: &mut broadcast::Receiver<ContactEvent>,
        done: impl Fn(&[ContactEvent]) -> bool,
    ) -> Vec<ContactEvent> {
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(&events) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Ok(event)) => events.push(event),
                other => panic!("no further event: {other:?}; got {events:#?}"),
            }
        }
        events
    }

    fn count(events: &[ContactEvent], kind: &K) -> usize {
        events.iter().filter(|e| &e.kind == kind).count()
    }

    #[tokio::test]
    async fn contacts_run_their_lifecycle_on_the_scaled_clock() {
        let (sim, cancel) = start(fast_config(), Arc::new(InMemorySimLedger::new()));
        let mut rx = sim.subscribe();
        let resp = sim.batch_put_contact(batch("t", 3)).await.unwrap();
        assert_eq!(resp.successful.len(), 3);
        let events = collect_until(&mut rx, |e| {
            count(e, &K::Completed) + count(e, &K::Abandoned) == 3
        })
        .await;
        // Two agents for three simultaneous answers: one abandon.
        assert_eq!(count(&events, &K::Completed), 2);
        assert_eq!(count(&events, &K::Abandoned), 1);
        for s in &resp.successful {
            let mine: Vec<_> = events
                .iter()
                .filter(|e| e.contact_id == s.contact_id)
                .collect();
            assert_eq!(mine[0].kind, K::Initiated);
            assert_eq!(mine[1].kind, K::PersonAnswered);
            assert!(mine.windows(2).all(|w| w[0].at <= w[1].at));
            let answered = mine[1].at - mine[0].at;
            assert_eq!(answered, chrono::Duration::seconds(6));
        }
        let c = sim.counters();
        assert_eq!(
            (c.dials, c.connected, c.completed, c.abandons),
            (3, 2, 2, 1)
        );
        let metrics = sim
            .queue_metrics(
                "inst-1",
                &[QUEUE_ID_DEFAULT.to_string(), "other".to_string()],
            )
            .await
            .unwrap();
        assert_eq!(metrics.len(), 1);
        assert_eq!(
            (metrics[0].agents_online, metrics[0].agents_available),
            (2, 2)
        );
        cancel.cancel();
    }

    #[tokio::test]
    async fn a_replayed_token_returns_the_same_ids_even_from_a_restarted_simulator() {
        let ledger: Arc<dyn SimLedger> = Arc::new(InMemorySimLedger::new());
        let (first, cancel_first) = start(fast_config(), Arc::clone(&ledger));
        let original = first.batch_put_contact(batch("t", 2)).await.unwrap();
        let again = first.batch_put_contact(batch("t", 2)).await.unwrap();
        assert_eq!(again, original);
        assert_eq!(first.counters().dials, 2);
        cancel_first.cancel();

        let (second, cancel_second) = start(fast_config(), ledger);
        let replayed = second.batch_put_contact(batch("t", 2)).await.unwrap();
        assert_eq!(replayed, original);
        assert_eq!(second.counters().dials, 0);
        assert_eq!(second.counters().replayed_batches, 1);
        cancel_second.cancel();
    }

    #[tokio::test]
    async fn a_timed_out_batch_has_taken_effect_and_replays_without_dialing() {
        let ledger = Arc::new(InMemorySimLedger::new());
        let mut flaky = fast_config();
        flaky.faults.timeout_probability = 1.0;
        let (sim, cancel) = start(flaky, ledger.clone());
        let err = sim.batch_put_contact(batch("t", 2)).await.unwrap_err();
        assert!(matches!(
            err,
            ContactCenterError::Retryable(RetryableError::Timeout)
        ));
        assert_eq!(sim.counters().dials, 2);
        assert_eq!(ledger.len(), 1);
        cancel.cancel();

        let (healthy, cancel) = start(fast_config(), ledger);
        let resp = healthy.batch_put_contact(batch("t", 2)).await.unwrap();
        assert_eq!(resp.successful.len(), 2);
        assert_eq!(healthy.counters().dials, 0);
        cancel.cancel();
    }

    #[tokio::test]
    async fn throttled_calls_record_and_dial_nothing() {
        let ledger = Arc::new(InMemorySimLedger::new());
        let mut config = fast_config();
        config.faults.throttle_probability = 1.0;
        config.faults.metrics_throttle_probability = 1.0;
        let (sim, cancel) = start(config, ledger.clone());
        let err = sim.batch_put_contact(batch("t", 2)).await.unwrap_err();
        assert!(err.is_retryable());
        assert!(ledger.is_empty());
        assert_eq!(sim.counters().dials, 0);
        let err = sim
            .queue_metrics("inst-1", &[QUEUE_ID_DEFAULT.to_string()])
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            ContactCenterError::Retryable(RetryableError::Throttled)
        ));
        cancel.cancel();
    }

    #[tokio::test]
    async fn contract_violations_are_fatal_and_leave_no_trace() {
        let ledger = Arc::new(InMemorySimLedger::new());
        let (sim, cancel) = start(fast_config(), ledger.clone());
        let err = sim.batch_put_contact(batch("t", 26)).await.unwrap_err();
        assert!(matches!(
            err,
            ContactCenterError::Fatal(FatalError::InvalidRequest(_))
        ));
        let err = sim.queue_metrics("inst-1", &[]).await.unwrap_err();
        assert!(!err.is_retryable());
        assert!(ledger.is_empty());
        cancel.cancel();
    }

    /// A ledger that loses every race, as when another daemon recorded the token first.
    struct RacedLedger(LedgerEntry);

    #[async_trait]
    impl SimLedger for RacedLedger {
        async fn record(
            &self,
            _: &str,
            _: &LedgerEntry,
            _: Uuid,
        ) -> Result<Option<LedgerEntry>, LedgerError> {
            Ok(Some(self.0.clone()))
        }

        async fn heartbeat(&self, _: Uuid) -> Result<(), LedgerError> {
            Ok(())
        }

        async fn retire(&self, _: Uuid) -> Result<(), LedgerError> {
            Ok(())
        }

        async fn hosts(&self, _: &[String]) -> Result<HashMap<String, Host>, LedgerError> {
            Ok(HashMap::new())
        }

        // Batches only: the SMS tests below use the in-memory ledger.
        async fn record_message(
            &self,
            _: &str,
            _: &SentMessage,
        ) -> Result<Option<SentMessage>, LedgerError> {
            Ok(None)
        }
    }

    fn sms(token: &str, content: &str) -> StartOutboundChatContactRequest {
        let mut request = crate::contact_center::connect::wire::sample_sms();
        request.client_token = Some(token.to_string());
        if let Some(message) = request.initial_system_message.as_mut() {
            message.content = Some(content.to_string());
        }
        request
    }

    #[tokio::test]
    async fn an_sms_token_sends_once_and_refuses_other_content() {
        let (sim, cancel) = start(fast_config(), Arc::new(InMemorySimLedger::new()));
        let first = sim
            .start_outbound_chat_contact(sms("t", "hi"))
            .await
            .unwrap();
        let again = sim
            .start_outbound_chat_contact(sms("t", "hi"))
            .await
            .unwrap();
        assert_eq!(first, again, "a retry is answered with the first contact");
        let other = sim
            .start_outbound_chat_contact(sms("t", "bye"))
            .await
            .unwrap_err();
        assert!(matches!(
            other,
            ContactCenterError::Fatal(FatalError::Idempotency(_))
        ));
        let mut invalid = sms("u", "hi");
        invalid.segment_attributes = None;
        let refused = sim.start_outbound_chat_contact(invalid).await.unwrap_err();
        assert!(matches!(
            refused,
            ContactCenterError::Fatal(FatalError::InvalidRequest(_))
        ));
        let counters = sim.counters();
        assert_eq!((counters.sms_delivered, counters.sms_undelivered), (1, 0));
        cancel.cancel();
    }

    #[tokio::test]
    async fn a_timed_out_sms_was_sent_and_its_retry_sends_nothing() {
        let mut config = fast_config();
        config.faults.timeout_probability = 1.0;
        config.faults.timeout_secs = 0.001;
        config.faults.sms_undelivered_probability = 1.0;
        let (sim, cancel) = start(config, Arc::new(InMemorySimLedger::new()));
        for _ in 0..3 {
            let error = sim
                .start_outbound_chat_contact(sms("t", "hi"))
                .await
                .unwrap_err();
            assert!(error.is_retryable(), "{error}");
        }
        let counters = sim.counters();
        assert_eq!(
            (counters.sms_delivered, counters.sms_undelivered),
            (0, 1),
            "one message, recorded undelivered"
        );
        cancel.cancel();
    }

    #[tokio::test]
    async fn losing_the_record_race_answers_from_the_winner_without_dialing() {
        let mut winner = SimModel::new(fast_config(), Utc::now()).unwrap();
        let entry = winner
            .put_contacts(Utc::now(), &batch("t", 2), None)
            .unwrap()
            .new_entry
            .unwrap();
        let (sim, cancel) = start(fast_config(), Arc::new(RacedLedger(entry.clone())));
        let resp = sim.batch_put_contact(batch("t", 2)).await.unwrap();
        assert_eq!(resp, entry.response);
        assert_eq!(sim.counters().dials, 0);
        cancel.cancel();
    }

    #[tokio::test]
    async fn after_cancellation_nothing_is_dialed() {
        let (sim, cancel) = start(fast_config(), Arc::new(InMemorySimLedger::new()));
        cancel.cancel();
        let err = sim.batch_put_contact(batch("t", 1)).await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(sim.counters().dials, 0);
    }

    #[tokio::test]
    async fn a_contact_is_described_by_the_center_that_runs_it_and_goes_with_it() {
        let ledger: Arc<dyn SimLedger> = Arc::new(InMemorySimLedger::new());
        // Wall-clock speed: the calls outlast the test.
        let slow = SimConfig {
            time_scale: 1.0,
            ..fast_config()
        };
        let (a, a_cancel) = start(slow.clone(), ledger.clone());
        let (b, b_cancel) = start(slow, ledger);
        let placed = a.batch_put_contact(batch("t", 2)).await.unwrap();
        let contact = placed.successful[0].contact_id.clone();
        let asked = [
            ContactRef {
                contact_id: contact.clone(),
                client_token: "t".to_string(),
            },
            ContactRef {
                contact_id: "no-such-contact".to_string(),
                client_token: "no-such-token".to_string(),
            },
        ];
        for sim in [&a, &b] {
            let states = sim.describe_contacts("inst-1", &asked).await.unwrap();
            assert_eq!(states[&contact], ContactState::Running);
            assert!(matches!(&states["no-such-contact"], ContactState::Gone(_)));
        }

        a_cancel.cancel();
        let states = a.describe_contacts("inst-1", &asked).await.unwrap();
        assert!(
            matches!(&states[&contact], ContactState::Gone(why) if why.contains("shut down")),
            "{states:?}"
        );
        // The stopped center retires itself; then every other center knows its calls gone.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let states = b.describe_contacts("inst-1", &asked).await.unwrap();
            if let ContactState::Gone(why) = &states[&contact] {
                assert!(why.contains("stopped with its daemon"), "{why}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{states:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        b_cancel.cancel();
    }

    #[tokio::test]
    async fn a_finished_contact_is_ended_for_the_center_that_ran_it() {
        let (sim, cancel) = start(fast_config(), Arc::new(InMemorySimLedger::new()));
        let mut rx = sim.subscribe();
        let placed = sim.batch_put_contact(batch("t", 1)).await.unwrap();
        collect_until(&mut rx, |events| count(events, &K::Completed) == 1).await;
        let contact = placed.successful[0].contact_id.clone();
        let asked = ContactRef {
            contact_id: contact.clone(),
            client_token: "t".to_string(),
        };
        let states = sim
            .describe_contacts("inst-1", std::slice::from_ref(&asked))
            .await
            .unwrap();
        assert_eq!(states[&contact], ContactState::Ended);
        cancel.cancel();
    }

    #[test]
    fn the_clock_scales_wall_time() {
        let clock = SimClock {
            started: Instant::now(),
            epoch: Utc::now(),
            time_scale: 60.0,
        };
        let deadline = clock.wall_deadline(clock.epoch + chrono::Duration::seconds(120));
        assert_eq!(deadline - clock.started, Duration::from_secs(2));
        assert_eq!(clock.wall_duration(30.0), Duration::from_millis(500));
        assert!(clock.now() >= clock.epoch);
    }
}
