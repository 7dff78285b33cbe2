//! Contact-center events into contact lifecycles, outcome counts and pacing observations.
//!
//! One task takes the contact center's events as they come, tells the scheduler at once
//! about freed agents, and deals the events out to a few writers by contact, so that each
//! contact's events stay in one writer, in order. A writer takes what queued up while it
//! wrote its previous batch and writes it in one statement: each contact's new events go
//! into its timeline, with its new status and the hour's outcome counts, against the status
//! the writer believes its row holds (the one it last wrote, or the claim's for a contact it
//! has not seen). A row that holds something else (another daemon's writer got there, a
//! duplicate delivery, a restart) is left alone by that statement; the writer then reads it,
//! drops the events its timeline already has, and writes again. Any daemon may apply any
//! event: they are facts, not owned work, and [`ContactStatus::apply`] makes the order
//! irrelevant.
//!
//! No event is dropped while the database is away: a writer keeps its batch and retries it,
//! with a capped backoff, until it is written (or the daemon stops). Events that arrive
//! meanwhile wait in the writer's lane, which is bounded: when a lane is full the sink stops
//! taking events from the contact center, whose own feed buffers them (the simulated
//! center's broadcast channel, `contact_center.sim.event_buffer`; EventBridge's retries for
//! Amazon Connect).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken as Abandon;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::scheduler::Signals;
use super::store::contact_rows;
use super::EngineError;
use crate::contact_center::{ContactEvent, ContactEventKind};
use crate::contacts::{event_name, ContactStatus, Phase, TimelineEntry};
use crate::metrics as m;
use crate::pacing::{Observation, ObservedEvent};
use crate::queue::lifecycle::Transition;
use crate::queue::store::{contact_update_many, StatusUpdate, StoredStatus, WrittenContact};
use crate::queue::DialRequestState;
use crate::rules::retry::RetriesConfig;
use crate::supervisor::{ServiceError, ServiceResult};

/// Most events written per transaction.
const MAX_EVENTS_PER_BATCH: usize = 2000;
/// Writers applying events side by side.
const WRITERS: usize = 2;
/// First pause between attempts at writing a batch (a deadlock with a concurrent batch
/// resolution, another writer at the same contacts, the database away); doubles.
const WRITE_RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between attempts: a database back from an outage is written to within it.
const WRITE_RETRY_PAUSE_MAX: Duration = Duration::from_secs(1);
/// Events waiting for each writer. A few minutes of a busy engine's events; past it the
/// sink waits rather than drops.
const LANE_CAPACITY: usize = 50_000;
/// How long writers may go on writing what they hold after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Contacts in progress a writer remembers the status of; past it, it starts over.
const MAX_KNOWN_CONTACTS: usize = 100_000;

/// A pacing observation for one campaign.
pub type CampaignObservation = (String, Observation);

/// Applies events as they come.
pub struct EventSink {
    /// The database.
    pub pool: PgPool,
    /// Wakes the scheduler (an outcome or a freed agent changes what pacing allows) and
    /// carries the pacing observations to it.
    pub signals: Arc<Signals>,
    /// Zero of the pacing clock (seconds since it).
    pub epoch: DateTime<Utc>,
    /// The config file's retry policies (`[retries]`), read at every write.
    pub retries: Arc<RwLock<Arc<RetriesConfig>>>,
}

impl EventSink {
    /// Consumes events until `cancel` fires, then lets the writers finish what they hold
    /// (for up to [`SHUTDOWN_GRACE`]). Fails if the contact center's feed closes, or a
    /// writer fails.
    pub async fn run(
        self,
        mut events: broadcast::Receiver<ContactEvent>,
        cancel: CancellationToken,
    ) -> ServiceResult {
        let mut writers = JoinSet::new();
        let mut lanes = Vec::with_capacity(WRITERS);
        let abandon = Abandon::new();
        for _ in 0..WRITERS {
            let (lane, queue) = mpsc::channel(LANE_CAPACITY);
            lanes.push(lane);
            let writer = EventWriter {
                pool: self.pool.clone(),
                signals: self.signals.clone(),
                epoch: self.epoch,
                retries: self.retries.clone(),
                known: HashMap::new(),
                answered_at: HashMap::new(),
                connected_at: HashMap::new(),
            };
            writers.spawn(writer.run(queue, abandon.clone()));
        }
        let hasher = RandomState::new();
        let mut failure = None;
        loop {
            let received = tokio::select! {
                _ = cancel.cancelled() => break,
                received = events.recv() => received,
                Some(Err(error)) = writers.join_next() => {
                    failure = Some(ServiceError::from_error("an event writer failed", error));
                    break;
                }
            };
            let event = match received {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "fell behind the contact center's events; the contacts concerned are looked up in the contact center after the contact timeout");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    failure = Some(ServiceError(
                        "the contact center's event feed closed".into(),
                    ));
                    break;
                }
            };
            if event.kind == ContactEventKind::Completed {
                // A freed agent is planned for at once, before its events are written: free
                // agents come from the contact center's live metrics, and the events not yet
                // written can only make the database over-count dials in flight, so the pass
                // may under-dial, never over-dial.
                self.signals.agents_freed(1);
            }
            let lane = hasher.hash_one(&event.contact_id) as usize % lanes.len();
            // Waits while the lane is full; a writer only stops when its lane closes.
            let _ = lanes[lane].send(event).await;
        }
        drop(lanes);
        let drained = async { while writers.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            abandon.cancel();
            while writers.join_next().await.is_some() {}
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Writes the events of its share of the contacts.
struct EventWriter {
    pool: PgPool,
    signals: Arc<Signals>,
    epoch: DateTime<Utc>,
    retries: Arc<RwLock<Arc<RetriesConfig>>>,
    /// What this writer last wrote of each contact still in progress: what its next events
    /// are written against, without reading its row first.
    known: HashMap<Uuid, StoredStatus>,
    // When each contact this writer saw answered or connected, for waits and handle times.
    answered_at: HashMap<Uuid, DateTime<Utc>>,
    connected_at: HashMap<Uuid, DateTime<Utc>>,
}

/// A contact's update, with what the writer needs after it applied.
struct Prepared<'a> {
    update: StatusUpdate,
    before: ContactStatus,
    after: ContactStatus,
    events: Vec<&'a ContactEvent>,
}

impl EventWriter {
    /// Writes batches from its lane until it closes. A batch that fails is kept and written
    /// again until it succeeds, unless `abandon` fires (a shutdown that cannot wait).
    async fn run(mut self, mut queue: mpsc::Receiver<ContactEvent>, abandon: Abandon) {
        while let Some(first) = queue.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_EVENTS_PER_BATCH {
                match queue.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            let mut pause = WRITE_RETRY_PAUSE;
            let mut failing_since = None;
            loop {
                let error = match self.apply(&batch).await {
                    Ok(()) => break,
                    Err(error) => error,
                };
                if failing_since.is_none() && pause >= WRITE_RETRY_PAUSE_MAX {
                    tracing::warn!(%error, events = batch.len(), "cannot record contact events; keeping them and retrying");
                    failing_since = Some(std::time::Instant::now());
                } else {
                    tracing::debug!(%error, "writing contact events failed; retrying");
                }
                tokio::select! {
                    () = abandon.cancelled() => {
                        tracing::error!(events = batch.len() + queue.len(), "stopped with contact events not recorded; their contacts are looked up in the contact center after the contact timeout");
                        return;
                    }
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(WRITE_RETRY_PAUSE_MAX);
            }
            if let Some(since) = failing_since {
                tracing::info!(after = ?since.elapsed(), "contact events recorded again");
            }
        }
    }

    /// Applies one batch of events. Each contact's new events are written against what the
    /// writer believes its row holds (as claimed, for a contact it has not written before);
    /// the contacts whose rows hold something else, and events that name only a contact, are
    /// read and written again. Metrics and pacing observations follow each write.
    async fn apply(&mut self, events: &[ContactEvent]) -> Result<(), EngineError> {
        let mut sorted: Vec<&ContactEvent> = events.iter().collect();
        sorted.sort_by_key(|e| e.at);
        let mut by_request: BTreeMap<Uuid, Vec<&ContactEvent>> = BTreeMap::new();
        let mut unnamed: Vec<&ContactEvent> = Vec::new();
        for event in sorted {
            match request_id(event) {
                Some(id) => by_request.entry(id).or_default().push(event),
                None => unnamed.push(event),
            }
        }
        let mut expected: HashMap<Uuid, (StoredStatus, Vec<String>)> = by_request
            .keys()
            .map(|id| {
                let known = self.known.get(id).cloned();
                (
                    *id,
                    (known.unwrap_or_else(StoredStatus::claimed), Vec::new()),
                )
            })
            .collect();
        let mut read = false;
        loop {
            if read || !unnamed.is_empty() {
                self.read(&mut by_request, &mut unnamed, &mut expected)
                    .await?;
            }
            let prepared = prepare(&mut by_request, &expected);
            let updates: Vec<&StatusUpdate> = prepared.iter().map(|p| &p.update).collect();
            let written = if updates.is_empty() {
                Vec::new()
            } else {
                let retries = crate::reload::current(&self.retries).to_sql();
                contact_update_many(&self.pool, &updates, &retries).await?
            };
            self.written(&prepared, &written);
            for contact in &written {
                by_request.remove(&contact.id);
            }
            if by_request.is_empty() {
                return Ok(());
            }
            if read {
                // Read and still changed since: another writer is at these contacts now.
                return Err(EngineError::ConcurrentEvents);
            }
            read = true;
        }
    }

    /// Reads the rows of the contacts still to write, and of events naming only a contact:
    /// their status and the event kinds they already hold become what the events are
    /// written against. Events of contacts nobody knows are dropped.
    async fn read<'a>(
        &self,
        by_request: &mut BTreeMap<Uuid, Vec<&'a ContactEvent>>,
        unnamed: &mut Vec<&'a ContactEvent>,
        expected: &mut HashMap<Uuid, (StoredStatus, Vec<String>)>,
    ) -> Result<(), EngineError> {
        let ids: Vec<Uuid> = by_request.keys().copied().collect();
        let contact_ids: Vec<String> = unnamed.iter().map(|e| e.contact_id.clone()).collect();
        let rows = contact_rows(&self.pool, &ids, &contact_ids).await?;
        let by_contact: HashMap<&str, Uuid> = rows
            .iter()
            .filter_map(|row| Some((row.contact_id.as_deref()?, row.id)))
            .collect();
        for event in unnamed.drain(..) {
            match by_contact.get(event.contact_id.as_str()) {
                Some(id) => {
                    let events = by_request.entry(*id).or_default();
                    events.push(event);
                    events.sort_by_key(|e| e.at);
                }
                None => {
                    tracing::debug!(contact_id = %event.contact_id, "event for an unknown contact ignored");
                }
            }
        }
        expected.clear();
        for row in &rows {
            // A request waiting for its next attempt has no contact: events for it are an
            // earlier attempt's, as are those naming an earlier attempt's contact.
            if row.state == DialRequestState::Pending {
                by_request.remove(&row.id);
                continue;
            }
            if let Some(events) = by_request.get_mut(&row.id) {
                events.retain(|e| !row.past_contacts.contains(&e.contact_id));
                if events.is_empty() {
                    by_request.remove(&row.id);
                    continue;
                }
            }
            expected.insert(row.id, (StoredStatus::from(row), row.recorded.clone()));
        }
        by_request.retain(|id, events| {
            let known = expected.contains_key(id);
            if !known {
                tracing::debug!(contact_id = %events[0].contact_id, "event for an unknown contact ignored");
            }
            known
        });
        Ok(())
    }

    /// After a write: what the writer now knows of the contacts written, their metrics and
    /// pacing observations.
    fn written(&mut self, prepared: &[Prepared<'_>], written: &[WrittenContact]) {
        if written.is_empty() {
            return;
        }
        let by_id: HashMap<Uuid, &Prepared<'_>> =
            prepared.iter().map(|p| (p.update.id, p)).collect();
        let mut counted: HashMap<(&str, &'static str), u64> = HashMap::new();
        for contact in written {
            let Some(p) = by_id.get(&contact.id) else {
                continue;
            };
            let campaign = contact.campaign_id.as_str();
            for event in &p.events {
                *counted
                    .entry((campaign, event_name(&event.kind)))
                    .or_default() += 1;
                if let Some(observation) = self.observe(contact.id, contact.dialed_at, event) {
                    self.signals.observe(campaign, observation);
                }
            }
            if let Some(retry_at) = contact.retry_at {
                tracing::debug!(request_id = %contact.id, %retry_at, outcome = p.after.final_outcome().as_str(), "call retried");
                metrics::counter!(m::DIAL_REQUEST_RETRIES, m::CAMPAIGN_ID => campaign.to_string(), m::OUTCOME_LABEL => p.after.final_outcome().as_str())
                    .increment(1);
            }
            if p.after.terminal {
                self.known.remove(&contact.id);
                self.answered_at.remove(&contact.id);
                self.connected_at.remove(&contact.id);
                if !p.before.terminal {
                    metrics::counter!(m::CONTACTS_COMPLETED, m::CAMPAIGN_ID => campaign.to_string(), m::OUTCOME_LABEL => p.after.final_outcome().as_str())
                        .increment(1);
                }
            } else {
                if self.known.len() >= MAX_KNOWN_CONTACTS {
                    // Contacts whose end never came (lost); forgetting costs a read later.
                    self.known.clear();
                    self.answered_at.clear();
                    self.connected_at.clear();
                }
                self.known.insert(
                    contact.id,
                    StoredStatus {
                        phase: Some(p.update.phase),
                        outcome: p.update.outcome,
                        state: p.update.expected.state,
                    },
                );
            }
        }
        for ((campaign, kind), n) in counted {
            metrics::counter!(m::CONTACT_EVENTS, m::CAMPAIGN_ID => campaign.to_string(), "kind" => kind)
                .increment(n);
            let total = match kind {
                "person_answered" => Some(m::PERSON_ANSWERS),
                "abandoned" => Some(m::ABANDONS),
                _ => None,
            };
            if let Some(total) = total {
                metrics::counter!(total, m::CAMPAIGN_ID => campaign.to_string()).increment(n);
            }
        }
        self.signals.replan.notify_one();
    }

    fn observe(
        &mut self,
        id: Uuid,
        dialed_at: Option<DateTime<Utc>>,
        event: &ContactEvent,
    ) -> Option<Observation> {
        let mut times = ContactTimes {
            dialed_at,
            answered_at: self.answered_at.get(&id).copied(),
            connected_at: self.connected_at.get(&id).copied(),
        };
        let observed = observation(&mut times, event, self.epoch);
        if let Some(at) = times.answered_at {
            self.answered_at.insert(id, at);
        }
        if let Some(at) = times.connected_at {
            self.connected_at.insert(id, at);
        }
        observed
    }
}

/// When a contact reached the steps its observations are timed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContactTimes {
    /// When it was claimed for dialing.
    pub dialed_at: Option<DateTime<Utc>>,
    /// When a person answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When an agent took it.
    pub connected_at: Option<DateTime<Utc>>,
}

/// The pacing observation `event` makes, on the pacing clock whose zero is `epoch`: ring
/// times count from the dial, waits from the answer, the handle time from the connection to
/// `Completed`. Records the answer and connection times in `times` first, so they are kept
/// even when the event itself cannot be timed. The daemon's event sink and the what-if
/// simulator both use it.
pub fn observation(
    times: &mut ContactTimes,
    event: &ContactEvent,
    epoch: DateTime<Utc>,
) -> Option<Observation> {
    let since = |from: Option<DateTime<Utc>>| {
        from.map(|f| ((event.at - f).num_milliseconds() as f64 / 1000.0).max(0.0))
    };
    let ring = since(times.dialed_at);
    let observed = match &event.kind {
        ContactEventKind::PersonAnswered => {
            times.answered_at = Some(event.at);
            ObservedEvent::PersonAnswered { after_secs: ring? }
        }
        ContactEventKind::MachineAnswered => ObservedEvent::MachineAnswered { after_secs: ring? },
        ContactEventKind::NoAnswer => ObservedEvent::NoAnswer { after_secs: ring? },
        ContactEventKind::Busy | ContactEventKind::Invalid => {
            ObservedEvent::Failed { after_secs: ring? }
        }
        ContactEventKind::ConnectedToAgent { .. } => {
            times.connected_at = Some(event.at);
            ObservedEvent::Connected {
                waited_secs: since(times.answered_at)?,
            }
        }
        ContactEventKind::Abandoned => ObservedEvent::Abandoned {
            waited_secs: since(times.answered_at)?,
        },
        ContactEventKind::Completed => ObservedEvent::ContactFinished {
            handle_secs: since(times.connected_at)?,
        },
        _ => return None,
    };
    Some(Observation {
        at_secs: (event.at - epoch).num_milliseconds() as f64 / 1000.0,
        event: observed,
    })
}

/// The dial request an event names, if it names one (as the simulated center's do).
fn request_id(event: &ContactEvent) -> Option<Uuid> {
    event
        .request_identifier
        .as_deref()
        .and_then(|r| Uuid::parse_str(r).ok())
}

/// The updates of the contacts in `by_request`: each one's events not yet in its row (the
/// first of each kind), applied to the status its row is expected to hold. Contacts left
/// with nothing new are dropped.
fn prepare<'a>(
    by_request: &mut BTreeMap<Uuid, Vec<&'a ContactEvent>>,
    expected: &HashMap<Uuid, (StoredStatus, Vec<String>)>,
) -> Vec<Prepared<'a>> {
    let mut prepared = Vec::with_capacity(by_request.len());
    by_request.retain(|id, events| {
        let Some((stored, recorded)) = expected.get(id) else {
            return false;
        };
        let mut kinds: HashSet<&'static str> = recorded
            .iter()
            .filter_map(|k| events.iter().map(|e| event_name(&e.kind)).find(|n| n == k))
            .collect();
        let new: Vec<&ContactEvent> = events
            .iter()
            .copied()
            .filter(|e| kinds.insert(event_name(&e.kind)))
            .collect();
        let Some(first) = new.first() else {
            return false;
        };
        let before = status_of(stored);
        let after = new.iter().fold(before, |status, e| status.apply(&e.kind));
        let mut counts = [0; 3];
        let mut timeline = BTreeMap::new();
        for event in &new {
            match &event.kind {
                ContactEventKind::PersonAnswered => counts[0] += 1,
                ContactEventKind::Abandoned => counts[1] += 1,
                ContactEventKind::MachineAnswered => counts[2] += 1,
                _ => {}
            }
            timeline.insert(
                event_name(&event.kind),
                TimelineEntry {
                    at: event.at,
                    detail: match &event.kind {
                        ContactEventKind::ConnectedToAgent { agent_id } => Some(agent_id.clone()),
                        _ => None,
                    },
                },
            );
        }
        prepared.push(Prepared {
            update: StatusUpdate {
                id: *id,
                expected: stored.clone(),
                contact_id: first.contact_id.clone(),
                phase: after.phase,
                outcome: after.outcome,
                terminal: after.terminal,
                events: timeline,
                counts,
                at: first.at,
                ended_at: new.last().map_or(first.at, |e| e.at),
            },
            before,
            after,
            events: new,
        });
        true
    });
    prepared
}

/// The lifecycle status a row's status columns stand for.
fn status_of(stored: &StoredStatus) -> ContactStatus {
    ContactStatus {
        // Only a request whose claim was undone before its contact was known (expired
        // while the call's answer was lost) has no phase; its events prove the contact
        // exists, so it is at least initiated.
        phase: stored.phase.unwrap_or(Phase::Initiated),
        outcome: stored.outcome,
        // An expired request that gets events had a contact after all: it follows that
        // contact to its end (the lifecycle lets it complete).
        terminal: !Transition::Complete.applies_to(stored.state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::Outcome;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(secs)
    }

    fn event(secs: i64, kind: ContactEventKind) -> ContactEvent {
        ContactEvent {
            contact_id: "c".into(),
            request_identifier: None,
            at: at(secs),
            kind,
        }
    }

    #[test]
    fn updates_carry_only_new_kinds_applied_to_the_expected_status() {
        let (fresh, recorded, unknown) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let events = [
            event(1, ContactEventKind::Initiated),
            event(2, ContactEventKind::PersonAnswered),
            event(3, ContactEventKind::PersonAnswered),
            event(4, ContactEventKind::Queued),
        ];
        let mut by_request: BTreeMap<Uuid, Vec<&ContactEvent>> = [fresh, recorded, unknown]
            .into_iter()
            .map(|id| (id, events.iter().collect()))
            .collect();
        let initiated = StoredStatus {
            phase: Some(Phase::Initiated),
            outcome: None,
            state: DialRequestState::InProgress,
        };
        let every_kind = ["initiated", "person_answered", "queued"].map(String::from);
        let expected = HashMap::from([
            (fresh, (initiated.clone(), vec!["initiated".to_string()])),
            (recorded, (initiated.clone(), every_kind.to_vec())),
        ]);

        let prepared = prepare(&mut by_request, &expected);

        assert_eq!(
            by_request.keys().copied().collect::<Vec<_>>(),
            [fresh],
            "contacts with nothing new, or unknown, are dropped"
        );
        let [only] = prepared.as_slice() else {
            panic!("one update expected");
        };
        let update = &only.update;
        assert_eq!(update.id, fresh);
        assert_eq!(
            update.expected, initiated,
            "written against what the row holds"
        );
        assert_eq!(
            update.events.keys().copied().collect::<Vec<_>>(),
            ["person_answered", "queued"],
            "the recorded kind and the second answer are left out"
        );
        assert_eq!(update.counts, [1, 0, 0], "one answer, counted once");
        assert_eq!(update.at, at(2));
        assert_eq!(
            (update.phase, update.outcome),
            (Phase::Queued, Some(Outcome::Answered))
        );
        assert!(!update.terminal && !only.before.terminal);
        assert_eq!(only.events.len(), 2);
    }

    #[test]
    fn only_in_progress_and_expired_rows_take_events_and_no_phase_means_initiated() {
        let row = |phase, state| StoredStatus {
            phase,
            outcome: None,
            state,
        };
        // Expired while the call's answer was lost: the events prove a contact.
        let late = status_of(&row(None, DialRequestState::Expired));
        assert_eq!(late, ContactStatus::INITIATED);
        let queued = status_of(&row(Some(Phase::Queued), DialRequestState::InProgress));
        assert_eq!((queued.phase, queued.terminal), (Phase::Queued, false));
        for state in [
            DialRequestState::Completed,
            DialRequestState::Failed,
            DialRequestState::Cancelled,
            DialRequestState::Pending,
        ] {
            assert!(status_of(&row(None, state)).terminal, "{state:?}");
        }
    }

    #[test]
    fn observations_time_ring_wait_and_handle_from_their_steps() {
        let mut times = ContactTimes {
            dialed_at: Some(at(100)),
            ..ContactTimes::default()
        };
        let seen = |times: &mut ContactTimes, secs, kind| {
            observation(times, &event(secs, kind), at(0)).map(|o| (o.at_secs, o.event))
        };
        assert_eq!(
            seen(&mut times, 112, ContactEventKind::PersonAnswered),
            Some((112.0, ObservedEvent::PersonAnswered { after_secs: 12.0 }))
        );
        let agent = ContactEventKind::ConnectedToAgent {
            agent_id: "a".into(),
        };
        assert_eq!(
            seen(&mut times, 113, agent),
            Some((113.0, ObservedEvent::Connected { waited_secs: 1.0 }))
        );
        assert_eq!(seen(&mut times, 150, ContactEventKind::Disconnected), None);
        assert_eq!(
            seen(&mut times, 213, ContactEventKind::Completed),
            Some((213.0, ObservedEvent::ContactFinished { handle_secs: 100.0 }))
        );
    }

    #[test]
    fn an_untimed_answer_still_times_the_wait_after_it() {
        let mut times = ContactTimes::default();
        let answered = event(10, ContactEventKind::PersonAnswered);
        assert_eq!(observation(&mut times, &answered, at(0)), None);
        assert_eq!(times.answered_at, Some(at(10)));
        let abandoned = event(12, ContactEventKind::Abandoned);
        assert_eq!(
            observation(&mut times, &abandoned, at(0)).map(|o| o.event),
            Some(ObservedEvent::Abandoned { waited_secs: 2.0 })
        );
    }
}
