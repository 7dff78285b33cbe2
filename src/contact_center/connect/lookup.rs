//! `DescribeContact` lookups of the contacts the engine doubts, in the background.
//!
//! The engine asks about contacts whose events may never come (inherited with a campaign,
//! silent for the contact timeout) from its planning loop, and Amazon Connect answers
//! `DescribeContact` a couple of times per second per account: asking inline would stall
//! planning for minutes after a takeover. So [`Lookups::states`] answers at once from what
//! the lookups found so far, and queues the rest ([`ContactState::Pending`]); a worker
//! describes them oldest first, at the configured rate.
//!
//! A finished contact's events are rebuilt from its timestamps ([`wire`]) and handed to the
//! engine like delivered events (it ignores those it has); the contact stays `Pending`
//! until they end it. Only a contact Connect does not know is `Gone`, and so `lost`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{self, Call, ConnectClient};
use super::wire;
use crate::contact_center::{
    ContactCenterError, ContactEvent, ContactRef, ContactState, FatalError,
};
use crate::supervisor::{FailureStreak, ServiceResult};

/// How long an answer stands before the contact is described again.
const ANSWER_TTL: Duration = Duration::from_secs(30);
/// Lookups in flight at once (the rate limiter decides how many start per second).
const IN_FLIGHT: usize = 4;
/// Most answers remembered; past it the oldest are forgotten (and asked again if needed).
const MAX_ANSWERS: usize = 100_000;

#[derive(Debug, Clone)]
enum Answer {
    Running,
    /// It had ended; its events were rebuilt and handed to the engine.
    Rebuilt,
    Gone(String),
}

#[derive(Default)]
struct State {
    waiting: VecDeque<(String, String)>,
    queued: HashSet<String>,
    answers: HashMap<String, (Answer, Instant)>,
}

/// The lookups of one backend.
pub struct Lookups {
    client: Arc<ConnectClient>,
    limiter: Arc<governor::DefaultDirectRateLimiter>,
    abandon_threshold_secs: f64,
    events: broadcast::Sender<ContactEvent>,
    state: Mutex<State>,
    wake: Notify,
}

impl Lookups {
    /// Lookups through `client` at `limiter`'s rate, rebuilt events sent to `events`.
    pub fn new(
        client: Arc<ConnectClient>,
        limiter: Arc<governor::DefaultDirectRateLimiter>,
        abandon_threshold_secs: f64,
        events: broadcast::Sender<ContactEvent>,
    ) -> Self {
        Self {
            client,
            limiter,
            abandon_threshold_secs,
            events,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is known of each of `contacts` now; those not looked up lately are queued.
    pub fn states(
        &self,
        instance_id: &str,
        contacts: &[ContactRef],
    ) -> BTreeMap<String, ContactState> {
        let mut state = self.lock();
        let mut queued_any = false;
        let states = contacts
            .iter()
            .map(|contact| {
                let id = &contact.contact_id;
                let known = state
                    .answers
                    .get(id)
                    .filter(|(_, at)| at.elapsed() < ANSWER_TTL)
                    .map(|(answer, _)| answer.clone());
                let answer = match known {
                    Some(Answer::Running) => ContactState::Running,
                    Some(Answer::Gone(reason)) => ContactState::Gone(reason),
                    // Its rebuilt events are on their way to the engine.
                    Some(Answer::Rebuilt) => ContactState::Pending,
                    // Not looked up lately: a finished contact whose rebuilt events did not
                    // end it (wrap-up was still running) is looked up again.
                    None => {
                        if state.queued.insert(id.clone()) {
                            state
                                .waiting
                                .push_back((instance_id.to_string(), id.clone()));
                            queued_any = true;
                        }
                        ContactState::Pending
                    }
                };
                (id.clone(), answer)
            })
            .collect();
        if queued_any {
            self.wake.notify_one();
        }
        states
    }

    /// Describes queued contacts until `cancel` fires.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) -> ServiceResult {
        let mut in_flight = JoinSet::new();
        let mut failures = FailureStreak::default();
        loop {
            while in_flight.len() < IN_FLIGHT {
                let next = self.lock().waiting.pop_front();
                let Some((instance, contact)) = next else {
                    break;
                };
                let this = self.clone();
                in_flight.spawn(async move {
                    this.limiter.until_ready().await;
                    let found = this.describe(&instance, &contact).await;
                    (contact, found)
                });
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = self.wake.notified() => {}
                Some(done) = in_flight.join_next() => {
                    let Ok((contact, found)) = done else { continue };
                    let mut state = self.lock();
                    state.queued.remove(&contact);
                    match found {
                        Ok(answer) => {
                            failures.record("DescribeContact", Ok::<(), ContactCenterError>(()));
                            if state.answers.len() >= MAX_ANSWERS {
                                state.answers.clear();
                            }
                            state.answers.insert(contact, (answer, Instant::now()));
                        }
                        // Asked again at the engine's next doubt.
                        Err(error) => failures.record("DescribeContact", Err(error)),
                    }
                }
            }
        }
    }

    async fn describe(
        &self,
        instance_id: &str,
        contact_id: &str,
    ) -> Result<Answer, ContactCenterError> {
        let described: Result<wire::DescribeContactResponse, _> = self
            .client
            .send(Call::<()> {
                method: "GET",
                path: format!(
                    "/contacts/{}/{}",
                    client::label(instance_id),
                    client::label(contact_id)
                ),
                body: None,
                limiter: &self.limiter,
            })
            .await;
        match described {
            Ok(wire::DescribeContactResponse {
                contact: Some(contact),
            }) => match wire::contact_state(&contact) {
                ContactState::Running | ContactState::Pending => Ok(Answer::Running),
                ContactState::Gone(reason) => Ok(Answer::Gone(reason)),
                ContactState::Ended => {
                    let threshold = chrono::Duration::milliseconds(
                        (self.abandon_threshold_secs * 1000.0) as i64,
                    );
                    for event in rebuilt_events(contact_id, &contact, threshold) {
                        // No receiver means no engine; it asks again when it runs.
                        let _ = self.events.send(event);
                    }
                    Ok(Answer::Rebuilt)
                }
            },
            Ok(wire::DescribeContactResponse { contact: None }) => Err(
                ContactCenterError::Retryable(crate::contact_center::RetryableError::Server(
                    "DescribeContact answered without a contact".into(),
                )),
            ),
            Err(ContactCenterError::Fatal(FatalError::ResourceNotFound(why))) => Ok(Answer::Gone(
                format!("Amazon Connect does not know this contact ({why})"),
            )),
            Err(error) => Err(error),
        }
    }
}

/// The engine events a finished contact's description implies: the description read as
/// the contact's last event would carry it.
fn rebuilt_events(
    contact_id: &str,
    contact: &wire::Contact,
    abandon_threshold: chrono::Duration,
) -> Vec<ContactEvent> {
    let agent = contact.agent_info.as_ref();
    let completed = agent.is_some_and(|a| a.after_contact_work_end_timestamp.is_some());
    let detail = wire::ContactEventDetail {
        event_type: if completed {
            wire::ContactEventType::Completed
        } else {
            wire::ContactEventType::Disconnected
        },
        contact_id: contact_id.to_string(),
        initial_contact_id: contact.initial_contact_id.clone(),
        channel: contact.channel.clone(),
        instance_arn: None,
        initiation_method: contact.initiation_method.clone(),
        initiation_timestamp: contact.initiation_timestamp,
        connected_to_system_timestamp: contact.connected_to_system_timestamp,
        disconnect_timestamp: contact.disconnect_timestamp,
        queue_info: contact.queue_info.as_ref().map(|q| wire::EventQueueInfo {
            queue_arn: q.id.clone(),
            queue_type: None,
            enqueue_timestamp: q.enqueue_timestamp,
        }),
        agent_info: agent.map(|a| wire::EventAgentInfo {
            agent_arn: a.id.clone(),
            connected_to_agent_timestamp: a.connected_to_agent_timestamp,
            after_contact_work_start_timestamp: a.after_contact_work_start_timestamp,
            after_contact_work_end_timestamp: a.after_contact_work_end_timestamp,
        }),
        campaign: contact.campaign.as_ref().map(|c| wire::EventCampaign {
            campaign_id: c.campaign_id.clone(),
        }),
        answering_machine_detection_status: contact.answering_machine_detection_status,
        disconnect_reason: contact.disconnect_reason.clone(),
    };
    let at = contact
        .disconnect_timestamp
        .unwrap_or_else(chrono::Utc::now);
    let envelope =
        wire::ContactEventEnvelope::new(format!("described-{contact_id}"), at, "", "", detail);
    wire::engine_events(&envelope, abandon_threshold)
}
