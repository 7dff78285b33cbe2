//! Contact-center events into contact lifecycles, outcome counts and pacing observations.
//!
//! Events are taken in batches (whatever arrived while the previous batch was written) and
//! applied in three statements: look the contacts up, store the events (duplicates dropped by
//! key), write the new statuses. Any daemon may apply any event: they are facts, not owned
//! work, and [`ContactStatus::apply`] makes the order irrelevant.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::store::{
    contact_rows, contact_update_many, event_insert_many, hourly_add, EventRecord, StatusUpdate,
};
use super::EngineError;
use crate::contact_center::{ContactEvent, ContactEventKind};
use crate::contacts::{event_name, ContactStatus, Outcome, Phase};
use crate::metrics as m;
use crate::pacing::{Observation, ObservedEvent};
use crate::queue::DialRequestState;

/// Most events written per batch.
const MAX_EVENTS_PER_BATCH: usize = 1000;

/// A pacing observation for one campaign.
pub type CampaignObservation = (String, Observation);

/// Applies events as they come.
pub struct EventSink {
    /// The database.
    pub pool: PgPool,
    /// Observations for the scheduler's pacers.
    pub observations: mpsc::UnboundedSender<CampaignObservation>,
    /// Wakes the scheduler: an outcome or a freed agent changes what pacing allows.
    pub wake: Arc<Notify>,
    /// Zero of the pacing clock (seconds since it).
    pub epoch: DateTime<Utc>,
    /// Set when an agent finishes a contact, for the agent-free to contact latency.
    pub agent_freed_at: super::scheduler::AgentFreedAt,
    // When each contact this daemon saw answered or connected, for waits and handle times.
    answered_at: HashMap<Uuid, DateTime<Utc>>,
    connected_at: HashMap<Uuid, DateTime<Utc>>,
}

impl EventSink {
    /// A sink writing to `pool`.
    pub fn new(
        pool: PgPool,
        observations: mpsc::UnboundedSender<CampaignObservation>,
        wake: Arc<Notify>,
        epoch: DateTime<Utc>,
        agent_freed_at: super::scheduler::AgentFreedAt,
    ) -> Self {
        Self {
            pool,
            observations,
            wake,
            epoch,
            agent_freed_at,
            answered_at: HashMap::new(),
            connected_at: HashMap::new(),
        }
    }

    /// Consumes events until `cancel` fires.
    pub async fn run(
        mut self,
        mut events: broadcast::Receiver<ContactEvent>,
        cancel: CancellationToken,
    ) {
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => return,
                received = events.recv() => received,
            };
            let mut batch = Vec::new();
            match first {
                Ok(event) => batch.push(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "fell behind the contact center's events; the contacts concerned end as lost after the contact timeout");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
            while batch.len() < MAX_EVENTS_PER_BATCH {
                match events.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            if let Err(error) = self.apply(&batch).await {
                tracing::warn!(%error, events = batch.len(), "could not record contact events");
            }
        }
    }

    /// Applies one batch of events.
    pub async fn apply(&mut self, events: &[ContactEvent]) -> Result<(), EngineError> {
        // A freed agent is planned for at once, before this batch is written: free agents
        // come from the contact center's live metrics, and the events not yet written can
        // only make the database over-count dials in flight, so this pass may under-dial,
        // never over-dial.
        if events.iter().any(|e| e.kind == ContactEventKind::Completed) {
            if let Ok(mut freed) = self.agent_freed_at.lock() {
                freed.get_or_insert_with(std::time::Instant::now);
            }
            self.wake.notify_one();
        }
        let ids: Vec<Uuid> = events
            .iter()
            .filter_map(|e| {
                e.request_identifier
                    .as_deref()
                    .and_then(|r| Uuid::parse_str(r).ok())
            })
            .collect();
        let contact_ids: Vec<String> = events.iter().map(|e| e.contact_id.clone()).collect();
        let rows = contact_rows(&self.pool, &ids, &contact_ids).await?;
        let mut by_id = HashMap::new();
        let mut by_contact = HashMap::new();
        for row in rows {
            if let Some(contact_id) = &row.contact_id {
                by_contact.insert(contact_id.clone(), row.id);
            }
            by_id.insert(row.id, row);
        }

        let mut matched: Vec<(Uuid, &ContactEvent)> = Vec::new();
        let mut records = Vec::new();
        for event in events {
            let id = event
                .request_identifier
                .as_deref()
                .and_then(|r| Uuid::parse_str(r).ok())
                .filter(|id| by_id.contains_key(id))
                .or_else(|| by_contact.get(&event.contact_id).copied());
            let Some(id) = id else {
                tracing::debug!(contact_id = %event.contact_id, "event for an unknown contact ignored");
                continue;
            };
            matched.push((id, event));
            records.push(EventRecord {
                dial_request_id: id,
                contact_id: event.contact_id.clone(),
                kind: event_name(&event.kind),
                at: event.at,
                detail: match &event.kind {
                    ContactEventKind::ConnectedToAgent { agent_id } => Some(agent_id.clone()),
                    _ => None,
                },
            });
        }
        if records.is_empty() {
            return Ok(());
        }
        let fresh: HashSet<(Uuid, String)> = event_insert_many(&self.pool, &records)
            .await?
            .into_iter()
            .collect();
        matched.sort_by_key(|(_, e)| e.at);

        let mut statuses: BTreeMap<Uuid, (ContactStatus, ContactStatus, String)> = BTreeMap::new();
        let mut hourly: BTreeMap<String, (DateTime<Utc>, i64, i64, i64)> = BTreeMap::new();
        for (id, event) in &matched {
            if !fresh.contains(&(*id, event_name(&event.kind).to_string())) {
                continue;
            }
            let Some(row) = by_id.get(id) else { continue };
            let campaign = row.campaign_id.clone();
            metrics::counter!(m::CONTACT_EVENTS, m::CAMPAIGN_ID => campaign.clone(), "kind" => event_name(&event.kind))
                .increment(1);
            let stored = stored_status(row);
            let entry = statuses
                .entry(*id)
                .or_insert((stored, stored, event.contact_id.clone()));
            entry.1 = entry.1.apply(&event.kind);
            let counts = hourly
                .entry(campaign.clone())
                .or_insert((event.at, 0, 0, 0));
            match &event.kind {
                ContactEventKind::PersonAnswered => {
                    counts.1 += 1;
                    metrics::counter!(m::PERSON_ANSWERS, m::CAMPAIGN_ID => campaign.clone())
                        .increment(1);
                }
                ContactEventKind::Abandoned => {
                    counts.2 += 1;
                    metrics::counter!(m::ABANDONS, m::CAMPAIGN_ID => campaign.clone()).increment(1);
                }
                ContactEventKind::MachineAnswered => counts.3 += 1,
                _ => {}
            }
            if let Some(observation) = self.observe(*id, row.dialed_at, event) {
                // The scheduler may have stopped; then nobody needs the observation.
                let _ = self.observations.send((campaign, observation));
            }
        }

        let mut updates = Vec::new();
        for (id, (before, after, contact_id)) in &statuses {
            if before == after {
                continue;
            }
            if after.terminal && !before.terminal {
                self.answered_at.remove(id);
                self.connected_at.remove(id);
                if let Some(row) = by_id.get(id) {
                    metrics::counter!(m::CONTACTS_COMPLETED, m::CAMPAIGN_ID => row.campaign_id.clone(), m::OUTCOME_LABEL => after.final_outcome().as_str())
                        .increment(1);
                }
            }
            updates.push(StatusUpdate {
                id: *id,
                contact_id: contact_id.clone(),
                phase: after.phase.as_str(),
                outcome: after.outcome.map(Outcome::as_str),
                terminal: after.terminal,
            });
        }
        contact_update_many(&self.pool, &updates).await?;
        for (campaign, (at, answers, abandons, machines)) in hourly {
            if answers + abandons + machines > 0 {
                hourly_add(&self.pool, &campaign, at, answers, abandons, machines).await?;
            }
        }
        self.wake.notify_one();
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
