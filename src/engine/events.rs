//! Contact-center events into contact lifecycles, outcome counts and pacing observations.
//!
//! One task takes the contact center's events as they come, tells the scheduler at once
//! about freed agents, and deals the events out to a few writers by contact, so that each
//! contact's events stay in one writer, in order. A writer takes what queued up while it
//! wrote its previous batch and applies it in one transaction: look the contacts up, add the
//! events new to each contact's timeline (a kind already there is a duplicate; a write that
//! finds one added meanwhile is redone), write the new statuses and the hour's outcome
//! counts. Any daemon may apply any event: they are facts, not owned work, and
//! [`ContactStatus::apply`] makes the order irrelevant.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::scheduler::Signals;
use super::store::{contact_rows, contact_update_many, hourly_add, StatusUpdate};
use super::EngineError;
use crate::contact_center::{ContactEvent, ContactEventKind};
use crate::contacts::{event_name, ContactStatus, Outcome, Phase, TimelineEntry};
use crate::metrics as m;
use crate::pacing::{Observation, ObservedEvent};
use crate::queue::DialRequestState;

/// Most events written per transaction.
const MAX_EVENTS_PER_BATCH: usize = 2000;
/// Writers applying events side by side.
const WRITERS: usize = 2;
/// Attempts at writing one batch: a deadlock with a concurrent batch resolution, or another
/// writer recording events of the same contact, is retried.
const WRITE_ATTEMPTS: u32 = 5;
/// First pause between attempts; doubles.
const WRITE_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A pacing observation for one campaign.
pub type CampaignObservation = (String, Observation);

/// Applies events as they come.
pub struct EventSink {
    /// The database.
    pub pool: PgPool,
    /// Observations for the scheduler's pacers.
    pub observations: mpsc::UnboundedSender<CampaignObservation>,
    /// Wakes the scheduler: an outcome or a freed agent changes what pacing allows.
    pub signals: Arc<Signals>,
    /// Zero of the pacing clock (seconds since it).
    pub epoch: DateTime<Utc>,
}

impl EventSink {
    /// Consumes events until `cancel` fires, then lets the writers finish what they hold.
    pub async fn run(
        self,
        mut events: broadcast::Receiver<ContactEvent>,
        cancel: CancellationToken,
    ) {
        let mut writers = JoinSet::new();
        let mut lanes = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            // Unbounded: the broadcast channel in front is the one that drops events when a
            // reader lags, so events leave it at once and wait here for their writer.
            let (lane, queue) = mpsc::unbounded_channel();
            lanes.push(lane);
            let writer = EventWriter {
                pool: self.pool.clone(),
                observations: self.observations.clone(),
                signals: self.signals.clone(),
                epoch: self.epoch,
                answered_at: HashMap::new(),
                connected_at: HashMap::new(),
            };
            writers.spawn(writer.run(queue));
        }
        let hasher = RandomState::new();
        loop {
            let received = tokio::select! {
                _ = cancel.cancelled() => break,
                received = events.recv() => received,
            };
            let event = match received {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "fell behind the contact center's events; the contacts concerned end as lost after the contact timeout");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if event.kind == ContactEventKind::Completed {
                // A freed agent is planned for at once, before its events are written: free
                // agents come from the contact center's live metrics, and the events not yet
                // written can only make the database over-count dials in flight, so the pass
                // may under-dial, never over-dial.
                self.signals.agents_freed(1);
            }
            let lane = hasher.hash_one(&event.contact_id) as usize % lanes.len();
            // A writer only stops when its lane closes.
            let _ = lanes[lane].send(event);
        }
        drop(lanes);
        while writers.join_next().await.is_some() {}
    }
}

/// What a batch of events does to one contact.
struct Change {
    before: ContactStatus,
    after: ContactStatus,
    /// The contact the events are about.
    contact_id: String,
    /// Its new timeline entries by event kind.
    events: BTreeMap<&'static str, TimelineEntry>,
}

/// Writes the events of its share of the contacts.
struct EventWriter {
    pool: PgPool,
    observations: mpsc::UnboundedSender<CampaignObservation>,
    signals: Arc<Signals>,
    epoch: DateTime<Utc>,
    // When each contact this writer saw answered or connected, for waits and handle times.
    answered_at: HashMap<Uuid, DateTime<Utc>>,
    connected_at: HashMap<Uuid, DateTime<Utc>>,
}

impl EventWriter {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<ContactEvent>) {
        while let Some(first) = queue.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_EVENTS_PER_BATCH {
                match queue.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            let mut pause = WRITE_RETRY_PAUSE;
            for attempt in 1..=WRITE_ATTEMPTS {
                match self.apply(&batch).await {
                    Ok(()) => break,
                    Err(error) if attempt < WRITE_ATTEMPTS => {
                        tracing::debug!(%error, attempt, "writing contact events failed; retrying");
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                    Err(error) => {
                        tracing::warn!(%error, events = batch.len(), "could not record contact events; the contacts concerned end as lost after the contact timeout");
                    }
                }
            }
        }
    }

    /// Applies one batch of events in one transaction; metrics and pacing observations
    /// follow its commit.
    async fn apply(&mut self, events: &[ContactEvent]) -> Result<(), EngineError> {
        let ids: Vec<Uuid> = events.iter().filter_map(request_id).collect();
        let contact_ids: Vec<String> = events
            .iter()
            .filter(|e| request_id(e).is_none())
            .map(|e| e.contact_id.clone())
            .collect();
        let mut tx = self.pool.begin().await?;
        let rows = contact_rows(&mut *tx, &ids, &contact_ids).await?;
        let mut by_id = HashMap::new();
        let mut by_contact = HashMap::new();
        for row in rows {
            if let Some(contact_id) = &row.contact_id {
                by_contact.insert(contact_id.clone(), row.id);
            }
            by_id.insert(row.id, row);
        }

        // Only the first of each kind per contact counts: the rest are duplicates.
        let mut matched: Vec<(Uuid, &ContactEvent)> = Vec::new();
        let mut seen: HashSet<(Uuid, &'static str)> = HashSet::new();
        let mut sorted: Vec<&ContactEvent> = events.iter().collect();
        sorted.sort_by_key(|e| e.at);
        for event in sorted {
            let id = request_id(event).or_else(|| by_contact.get(&event.contact_id).copied());
            let Some(row) = id.and_then(|id| by_id.get(&id)) else {
                tracing::debug!(contact_id = %event.contact_id, "event for an unknown contact ignored");
                continue;
            };
            let kind = event_name(&event.kind);
            if row.recorded.iter().any(|k| k == kind) || !seen.insert((row.id, kind)) {
                continue;
            }
            matched.push((row.id, event));
        }
        if matched.is_empty() {
            return Ok(());
        }

        let mut changes: BTreeMap<Uuid, Change> = BTreeMap::new();
        let mut hourly: BTreeMap<&str, (DateTime<Utc>, i64, i64, i64)> = BTreeMap::new();
        for (id, event) in &matched {
            let Some(row) = by_id.get(id) else { continue };
            let change = changes.entry(*id).or_insert_with(|| {
                let stored = stored_status(row);
                Change {
                    before: stored,
                    after: stored,
                    contact_id: event.contact_id.clone(),
                    events: BTreeMap::new(),
                }
            });
            change.after = change.after.apply(&event.kind);
            change.events.insert(
                event_name(&event.kind),
                TimelineEntry {
                    at: event.at,
                    detail: match &event.kind {
                        ContactEventKind::ConnectedToAgent { agent_id } => Some(agent_id.clone()),
                        _ => None,
                    },
                },
            );
            let counts = hourly
                .entry(row.campaign_id.as_str())
                .or_insert((event.at, 0, 0, 0));
            match &event.kind {
                ContactEventKind::PersonAnswered => counts.1 += 1,
                ContactEventKind::Abandoned => counts.2 += 1,
                ContactEventKind::MachineAnswered => counts.3 += 1,
                _ => {}
            }
        }
        let updates: Vec<StatusUpdate> = changes
            .iter_mut()
            .map(|(id, change)| StatusUpdate {
                id: *id,
                contact_id: change.contact_id.clone(),
                phase: change.after.phase.as_str(),
                outcome: change.after.outcome.map(Outcome::as_str),
                terminal: change.after.terminal,
                events: std::mem::take(&mut change.events),
            })
            .collect();
        contact_update_many(&mut *tx, &updates).await?;
        for (campaign, (at, answers, abandons, machines)) in &hourly {
            if answers + abandons + machines > 0 {
                hourly_add(&mut *tx, campaign, *at, *answers, *abandons, *machines).await?;
            }
        }
        tx.commit().await?;

        for (id, event) in &matched {
            let Some(row) = by_id.get(id) else { continue };
            let campaign = row.campaign_id.clone();
            metrics::counter!(m::CONTACT_EVENTS, m::CAMPAIGN_ID => campaign.clone(), "kind" => event_name(&event.kind))
                .increment(1);
            match &event.kind {
                ContactEventKind::PersonAnswered => {
                    metrics::counter!(m::PERSON_ANSWERS, m::CAMPAIGN_ID => campaign.clone())
                        .increment(1);
                }
                ContactEventKind::Abandoned => {
                    metrics::counter!(m::ABANDONS, m::CAMPAIGN_ID => campaign.clone()).increment(1);
                }
                _ => {}
            }
            if let Some(observation) = self.observe(*id, row.dialed_at, event) {
                // The scheduler may have stopped; then nobody needs the observation.
                let _ = self.observations.send((campaign, observation));
            }
        }
        for (id, Change { before, after, .. }) in &changes {
            if after.terminal && !before.terminal {
                self.answered_at.remove(id);
                self.connected_at.remove(id);
                if let Some(row) = by_id.get(id) {
                    metrics::counter!(m::CONTACTS_COMPLETED, m::CAMPAIGN_ID => row.campaign_id.clone(), m::OUTCOME_LABEL => after.final_outcome().as_str())
                        .increment(1);
                }
            }
        }
        self.signals.replan.notify_one();
        Ok(())
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

fn stored_status(row: &super::store::ContactRow) -> ContactStatus {
    ContactStatus {
        phase: row
            .contact_phase
            .as_deref()
            .and_then(Phase::parse)
            .unwrap_or(Phase::Initiated),
        outcome: row.outcome.as_deref().and_then(Outcome::parse),
        // An expired request that gets events had a contact after all (made before the
        // expiration by a call whose answer was lost): it follows that contact to its end.
        terminal: !matches!(
            row.state,
            DialRequestState::InProgress | DialRequestState::Expired
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
