//! The planning loop of one daemon: every `engine.tick_secs`, and whenever an API call wakes
//! it, it renews its campaign leases, re-sends due batches, asks pacing how many calls each
//! running campaign may place now, claims that many requests and hands the batches to the
//! dispatcher. An event (a freed agent, an outcome, a failed item) wakes it for the planning
//! alone: those passes make no write but the claim, so a freed agent gets its next contact
//! after a few reads and one statement.
//!
//! Pacing inputs come from the database (calls in progress, derived from contact states, so
//! they are right whichever daemon placed the calls) and from the contact center (agents).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::activity::DialingActivity;
use super::batch::{Batch, BatchTemplate, SmsTemplate};
use super::dispatch::Dispatcher;
use super::planner::{agent_queue, pacing_input, ActiveCalls};
use super::reconcile::Reconciler;
use super::sms::sms_batch_template;
use super::store::{
    active_calls_many, batch_claim, batch_due_many, batch_inherit_many, contact_suspects,
    lease_acquire_many, lease_release_all, lease_save_pacer, sms_claim, ClaimScope, Claimed,
    Suspect, SuspectFilter,
};
use super::{secs_to_duration, EngineConfig, EngineError};
use crate::campaigns::{Campaign, CampaignState};
use crate::clock::Clock;
use crate::contact_center::{ContactCenter, QueueMetrics, BATCH_MAX_CONTACTS};
use crate::metrics as m;
use crate::pacing::{Observation, ObservedEvent, PacerState, PacingConfig};
use crate::queue::Channel;
use crate::rules::window::{CommunicationTime, WindowError};
use crate::sms::pace::SmsPace;
use crate::sms::template::Templates;
use crate::supervisor::{FailureStreak, ServiceError, ServiceResult};

/// Ticks a pass with running campaigns keeps the engine marked as dialing.
const DIALING_MARK_TICKS: f64 = 4.0;

/// How often pacing estimates are saved with the lease for a successor.
const PACER_SAVE_INTERVAL: Duration = Duration::from_secs(5);
/// Batches claimed and not yet done, per call slot: enough that the next batches are claimed
/// while the calls of the previous ones run, in claims large enough to cost little per row.
const CLAIMED_BATCHES_PER_CALL_SLOT: usize = 8;
/// How often contacts silent for the contact timeout are looked for.
const SILENCE_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How often the contact center is asked about contacts inherited with a campaign, until
/// they end: often enough that a dead daemon's calls free their lines within a second or
/// two of its center being known gone.
const INHERITED_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Most freed-agent times kept between passes; older ones are dropped (nothing was dialed
/// for them).
const MAX_FREED_AGENTS: usize = 10_000;
/// Most pacing observations kept between passes (a pass takes them all); past it the oldest
/// go, which only makes the pacer's estimates rest on fewer calls.
const MAX_OBSERVATIONS: usize = 100_000;

/// What the event sink and the dispatcher tell the scheduler between passes.
#[derive(Debug, Default)]
pub struct Signals {
    /// Wakes the scheduler for a planning pass: an agent freed or an outcome came in.
    pub replan: Notify,
    /// When each agent became free since the last pass, oldest first: the starts of the
    /// agent-free to contact-created latency.
    freed_agents: Mutex<VecDeque<Instant>>,
    /// Pacing observations since the last pass, by campaign, for the pacers. Kept here
    /// rather than in a channel owned by one scheduler, so a restarted scheduler reads on.
    observations: Mutex<VecDeque<(String, Observation)>>,
}

impl Signals {
    /// Records `n` agents freed now and wakes the scheduler.
    pub fn agents_freed(&self, n: usize) {
        if let Ok(mut freed) = self.freed_agents.lock() {
            let now = Instant::now();
            freed.extend(std::iter::repeat_n(now, n));
            let excess = freed.len().saturating_sub(MAX_FREED_AGENTS);
            freed.drain(..excess);
        }
        self.replan.notify_one();
    }

    /// Queues a pacing observation of `campaign` for the next pass.
    pub fn observe(&self, campaign: &str, observation: Observation) {
        if let Ok(mut queued) = self.observations.lock() {
            if queued.len() >= MAX_OBSERVATIONS {
                queued.pop_front();
            }
            queued.push_back((campaign.to_string(), observation));
        }
    }

    fn take_observations(&self) -> VecDeque<(String, Observation)> {
        self.observations
            .lock()
            .map(|mut queued| std::mem::take(&mut *queued))
            .unwrap_or_default()
    }

    fn take_freed_agents(&self) -> VecDeque<Instant> {
        self.freed_agents
            .lock()
            .map(|mut freed| std::mem::take(&mut *freed))
            .unwrap_or_default()
    }
}

/// How many requests to claim for `dials` calls with `free_places` places for claimed
/// batches: only what fits in those places, in batches of at most [`BATCH_MAX_CONTACTS`].
/// The rest stays in the queue for the next pass, which an ending call wakes.
pub fn claim_rows(dials: u32, free_places: usize) -> usize {
    let dials = usize::try_from(dials).unwrap_or(usize::MAX);
    let batches = dials.div_ceil(BATCH_MAX_CONTACTS).min(free_places);
    dials.min(batches.saturating_mul(BATCH_MAX_CONTACTS))
}

/// Counts the requests of `campaign` a claim refused, by reason.
fn count_refusals(campaign_id: &str, claimed: &Claimed) {
    for (reason, n) in &claimed.refused {
        let labels = [
            (m::CAMPAIGN_ID, campaign_id.to_string()),
            (m::REASON, reason.clone()),
        ];
        metrics::counter!(m::DIAL_REQUESTS_REFUSED, &labels).increment(*n);
    }
}

/// The campaign's hours for `channel`, if it has any (`communicationTimeConfig` with a
/// window for the channel), compiled, with the zone attribute of `engine`.
fn communication_time(
    campaign: &Campaign,
    engine: &EngineConfig,
    channel: Channel,
) -> Result<Option<Arc<CommunicationTime>>, WindowError> {
    let Some(config) = &campaign.settings.communication_time_config else {
        return Ok(None);
    };
    let window = match channel {
        Channel::Telephony => &config.telephony,
        Channel::Sms => &config.sms,
        Channel::Email => &config.email,
        Channel::WhatsApp => &config.whats_app,
    };
    let Some(window) = window else {
        return Ok(None);
    };
    Ok(Some(Arc::new(CommunicationTime::compile(
        config,
        window,
        &engine.time_zone_attribute,
    )?)))
}

/// [`communication_time`] for a claim: hours that cannot be evaluated must not be taken for
/// "always open", so they stop the channel's claims (`None`), with a warning.
fn claim_hours(
    campaign: &Campaign,
    engine: &EngineConfig,
    channel: Channel,
) -> Option<Option<Arc<CommunicationTime>>> {
    communication_time(campaign, engine, channel)
        .inspect_err(|error| {
            tracing::warn!(campaign_id = %campaign.id, channel = channel.as_sql(), %error, "the campaign's hours cannot be evaluated; not contacting it on this channel");
        })
        .ok()
}

/// Whether the engine dials for `campaign` at `now`: it runs, and its schedule, if any, is
/// open. The claim checks the same in SQL, so a pass that straddles the end dials nothing
/// past it.
pub fn dials_at(campaign: &Campaign, now: DateTime<Utc>) -> bool {
    campaign.state == CampaignState::Running
        && campaign
            .settings
            .schedule
            .as_ref()
            .is_none_or(|schedule| schedule.open_at(now))
}

/// What a pass does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Leases, due batches, planning and housekeeping: on the tick and on API calls.
    Whole,
    /// Planning alone, with the leases held: on events.
    Planning,
}

struct Owned {
    fence: i64,
    pacer: PacerState,
    /// The campaign's SMS allowance.
    sms: SmsPace,
    /// Contacts of a previous owner may still be in flight: ask the contact center about
    /// them until none is left.
    inherited: bool,
}

/// The planning loop.
pub struct Scheduler {
    /// The database.
    pub pool: PgPool,
    /// The contact center.
    pub center: Arc<dyn ContactCenter>,
    /// The wall clock: leases, expiry, retries.
    pub clock: Arc<dyn Clock>,
    /// The contact center's clock: call timing and pacing.
    pub center_clock: Arc<dyn Clock>,
    /// Engine settings.
    pub engine: Arc<EngineConfig>,
    /// Pacing settings (swapped by a config reload).
    pub pacing: Arc<std::sync::RwLock<Arc<PacingConfig>>>,
    /// SMS templates (swapped by a config reload).
    pub templates: Arc<std::sync::RwLock<Arc<Templates>>>,
    /// This daemon's name as a lease owner.
    pub owner: Arc<str>,
    /// Wakes the loop for a whole pass before its tick (the API: campaigns changed, requests
    /// arrived).
    pub wake: Arc<Notify>,
    /// Marked while this daemon owns running campaigns: uploads then take their bounded
    /// share of the machine.
    pub activity: Arc<DialingActivity>,
    /// Wakes the loop for planning only (events), and carries pacing observations from the
    /// event sink and the dispatcher.
    pub signals: Arc<Signals>,
    /// Zero of the pacing clock.
    pub epoch: DateTime<Utc>,
    campaigns: HashMap<String, Owned>,
    calls: Arc<Semaphore>,
    /// Places for batches claimed and not yet done; bounds what a pass claims.
    claimed: Arc<Semaphore>,
    tasks: JoinSet<()>,
    last_save: Instant,
    last_silence_check: Instant,
    last_inherited_check: Instant,
}

impl Scheduler {
    /// A scheduler that has not run yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: PgPool,
        center: Arc<dyn ContactCenter>,
        clock: Arc<dyn Clock>,
        center_clock: Arc<dyn Clock>,
        engine: Arc<EngineConfig>,
        pacing: Arc<std::sync::RwLock<Arc<PacingConfig>>>,
        templates: Arc<std::sync::RwLock<Arc<Templates>>>,
        owner: Arc<str>,
        wake: Arc<Notify>,
        activity: Arc<DialingActivity>,
        signals: Arc<Signals>,
        epoch: DateTime<Utc>,
    ) -> Self {
        let calls = Arc::new(Semaphore::new(engine.max_concurrent_calls));
        let claimed = Arc::new(Semaphore::new(
            engine.max_concurrent_calls * CLAIMED_BATCHES_PER_CALL_SLOT,
        ));
        Self {
            pool,
            center,
            clock,
            center_clock,
            engine,
            pacing,
            templates,
            owner,
            wake,
            activity,
            signals,
            epoch,
            campaigns: HashMap::new(),
            calls,
            claimed,
            tasks: JoinSet::new(),
            last_save: Instant::now(),
            last_silence_check: Instant::now(),
            last_inherited_check: Instant::now(),
        }
    }

    /// Plans until `cancel` fires, then lets in-flight calls finish and gives up the leases.
    /// A pass that fails (the database away) is retried on the next tick; a dispatch task
    /// that panicked fails the run, so that the scheduler starts again from the database.
    pub async fn run(mut self, cancel: CancellationToken) -> ServiceResult {
        let mut failure = None;
        let mut planning = FailureStreak::default();
        let tick = Duration::from_secs_f64(self.engine.tick_secs);
        let mut next_tick = tokio::time::Instant::now() + tick;
        while failure.is_none() {
            let pass = tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep_until(next_tick) => Pass::Whole,
                _ = self.wake.notified() => Pass::Whole,
                _ = self.signals.replan.notified() => Pass::Planning,
            };
            if pass == Pass::Whole {
                next_tick = tokio::time::Instant::now() + tick;
            }
            let stepped = self.step(pass).await;
            planning.record("planning pass", stepped);
            while let Some(done) = self.tasks.try_join_next() {
                if let Err(error) = done {
                    failure = Some(ServiceError::from_error("a dispatch task failed", error));
                }
            }
        }
        while self.tasks.join_next().await.is_some() {}
        // The contacts of an in-process center end with this daemon: end them now rather
        // than leave the successor to find out.
        let held: Vec<String> = self.campaigns.keys().cloned().collect();
        if let Err(error) = self.settle(&held, SuspectFilter::All).await {
            tracing::warn!(%error, "could not settle contacts in flight at shutdown; the successor asks the contact center about them");
        }
        self.save_pacers().await;
        if let Err(error) = lease_release_all(&self.pool, &self.owner).await {
            tracing::warn!(%error, "could not release campaign leases; they lapse after the lease TTL");
        }
        failure.map_or(Ok(()), Err)
    }

    /// How long a batch counts as in flight before it may be re-sent.
    fn in_flight_mark(&self) -> chrono::Duration {
        secs_to_duration(self.engine.call_timeout_secs)
    }

    /// One pass.
    pub async fn step(&mut self, pass: Pass) -> Result<(), EngineError> {
        let now = self.clock.now();
        if pass == Pass::Whole {
            self.renew_leases().await?;
        }
        for (campaign, observation) in self.signals.take_observations() {
            if let Some(owned) = self.campaigns.get_mut(&campaign) {
                owned.pacer.observe(&observation);
            }
        }
        // With (nearly) every place taken there is little to claim; a batch done wakes a
        // pass, which waits for a few more places to make its reads worth a larger claim.
        if self.campaigns.is_empty()
            || (pass == Pass::Planning
                && self.claimed.available_permits() < self.engine.max_concurrent_calls)
        {
            return Ok(());
        }

        let ids: Vec<String> = self.campaigns.keys().cloned().collect();
        let campaigns = crate::campaigns::store::campaign_get_many(&self.pool, &ids)
            .await
            .map_err(|e| match e {
                crate::campaigns::CampaignError::Database(e) => EngineError::Database(e),
                other => EngineError::Database(sqlx::Error::Protocol(other.to_string())),
            })?;
        if pass == Pass::Whole {
            self.resend_due(&campaigns, now).await?;
        }

        let running: Vec<&Campaign> = campaigns.iter().filter(|c| dials_at(c, now)).collect();
        if !running.is_empty() {
            // Whole passes come every tick: the mark lapses a few ticks after the last
            // running campaign stops.
            self.activity.dialing_for(Duration::from_secs_f64(
                self.engine.tick_secs * DIALING_MARK_TICKS,
            ));
            let running_ids: Vec<String> = running.iter().map(|c| c.id.clone()).collect();
            let active = active_calls_many(&self.pool, &running_ids).await?;
            let agents = self.agents(&running).await;
            let mut freed = self.signals.take_freed_agents();
            for campaign in running {
                let calls = active.get(&campaign.id).cloned().unwrap_or_default();
                self.plan(campaign, &calls, &agents, now, &mut freed)
                    .await?;
                self.plan_sms(campaign, now).await?;
            }
        }

        if pass == Pass::Whole {
            self.housekeeping().await?;
        }
        Ok(())
    }

    /// Renews this daemon's leases and takes free ones.
    async fn renew_leases(&mut self) -> Result<(), EngineError> {
        let leases = lease_acquire_many(
            &self.pool,
            &self.owner,
            secs_to_duration(self.engine.lease_ttl_secs),
        )
        .await?;
        let mut kept = HashMap::with_capacity(leases.len());
        for lease in leases {
            let owned = match self.campaigns.remove(&lease.campaign_id) {
                Some(mut owned) => {
                    owned.fence = lease.fence;
                    owned
                }
                None => {
                    tracing::info!(campaign_id = %lease.campaign_id, fence = lease.fence, "took campaign lease");
                    batch_inherit_many(&self.pool, &lease.campaign_id, &self.owner, lease.fence)
                        .await?;
                    let pacer = lease
                        .pacer_state
                        .and_then(|state| serde_json::from_value(state).ok())
                        .unwrap_or_default();
                    Owned {
                        fence: lease.fence,
                        pacer,
                        sms: SmsPace::new(),
                        inherited: true,
                    }
                }
            };
            kept.insert(lease.campaign_id, owned);
        }
        for lost in self.campaigns.keys() {
            tracing::info!(campaign_id = %lost, "campaign lease gone");
        }
        self.campaigns = kept;
        Ok(())
    }

    /// Re-sends the batches whose retry time has come.
    async fn resend_due(
        &mut self,
        campaigns: &[Campaign],
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        for campaign in campaigns {
            let Some(fence) = self.campaigns.get(&campaign.id).map(|o| o.fence) else {
                continue;
            };
            let due = batch_due_many(
                &self.pool,
                &campaign.id,
                &self.owner,
                fence,
                now,
                self.in_flight_mark(),
            )
            .await?;
            for batch in due {
                self.spawn_dispatch(batch, fence, Vec::new()).await;
            }
        }
        Ok(())
    }

    /// Saves pacing estimates and settles doubtful contacts, each at its own interval.
    async fn housekeeping(&mut self) -> Result<(), EngineError> {
        if self.last_save.elapsed() >= PACER_SAVE_INTERVAL {
            self.save_pacers().await;
            self.last_save = Instant::now();
        }
        if self.last_inherited_check.elapsed() >= INHERITED_CHECK_INTERVAL {
            self.last_inherited_check = Instant::now();
            let inherited: Vec<(String, i64)> = self
                .campaigns
                .iter()
                .filter(|(_, owned)| owned.inherited)
                .map(|(id, owned)| (id.clone(), owned.fence))
                .collect();
            for (campaign, fence) in inherited {
                let left = self
                    .settle(
                        std::slice::from_ref(&campaign),
                        SuspectFilter::InheritedBefore(fence),
                    )
                    .await?;
                if left == 0 {
                    if let Some(owned) = self.campaigns.get_mut(&campaign) {
                        owned.inherited = false;
                    }
                }
            }
        }
        if self.last_silence_check.elapsed() >= SILENCE_CHECK_INTERVAL {
            self.last_silence_check = Instant::now();
            let held: Vec<String> = self.campaigns.keys().cloned().collect();
            let silence = secs_to_duration(self.engine.contact_timeout_secs);
            self.settle(&held, SuspectFilter::SilentFor(silence))
                .await?;
        }
        Ok(())
    }

    /// Asks the contact center about the contacts of `campaigns` that `filter` selects and
    /// ends those it says are over. Returns how many stay in flight.
    async fn settle(
        &self,
        campaigns: &[String],
        filter: SuspectFilter,
    ) -> Result<usize, EngineError> {
        if campaigns.is_empty() {
            return Ok(0);
        }
        let suspects = contact_suspects(&self.pool, campaigns, filter).await?;
        if suspects.is_empty() {
            return Ok(0);
        }
        let silent = matches!(filter, SuspectFilter::SilentFor(_));
        let ended = self.reconciler().settle(&suspects, silent).await?;
        Ok(suspects.len() - ended)
    }

    fn reconciler(&self) -> Reconciler {
        Reconciler {
            pool: self.pool.clone(),
            center: self.center.clone(),
        }
    }

    /// Agent counts of every queue the running campaigns use, by (instance, queue).
    async fn agents(&self, running: &[&Campaign]) -> HashMap<(String, String), QueueMetrics> {
        let mut queues: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for campaign in running {
            let (Some(dialer), Some(call)) =
                (campaign.dialer_config(), campaign.outbound_call_config())
            else {
                continue;
            };
            if let Some(queue) = agent_queue(&dialer, &call) {
                let list = queues
                    .entry(campaign.connect_instance_id.clone())
                    .or_default();
                if !list.iter().any(|q| q == queue) {
                    list.push(queue.to_string());
                }
            }
        }
        let mut agents = HashMap::new();
        for (instance, queue_ids) in queues {
            match self.center.queue_metrics(&instance, &queue_ids).await {
                Ok(metrics) => {
                    for q in metrics {
                        for (state, n) in [
                            ("online", q.agents_online),
                            ("available", q.agents_available),
                            ("on_contact", q.agents_on_contact),
                            ("after_contact_work", q.agents_after_contact_work),
                        ] {
                            metrics::gauge!(m::AGENTS, m::QUEUE_ID => q.queue_id.clone(), m::AGENT_STATE => state)
                                .set(n as f64);
                        }
                        agents.insert((instance.clone(), q.queue_id.clone()), q);
                    }
                }
                Err(error) => {
                    tracing::warn!(instance_id = %instance, %error, "agent metrics unavailable; agent campaigns of this instance wait");
                }
            }
        }
        agents
    }

    async fn plan(
        &mut self,
        campaign: &Campaign,
        calls: &ActiveCalls,
        agents: &HashMap<(String, String), QueueMetrics>,
        now: DateTime<Utc>,
        freed: &mut VecDeque<Instant>,
    ) -> Result<(), EngineError> {
        // A campaign without a telephony channel has nothing to dial.
        let (Some(dialer), Some(call)) =
            (campaign.dialer_config(), campaign.outbound_call_config())
        else {
            return Ok(());
        };
        let agent_queue = agent_queue(&dialer, &call);
        let queue = agent_queue
            .and_then(|q| agents.get(&(campaign.connect_instance_id.clone(), q.to_string())));
        let center_now = self.center_clock.now();
        let Some(input) = pacing_input(
            &dialer,
            queue,
            calls,
            self.engine.total_lines,
            center_now,
            self.epoch,
        ) else {
            return Ok(());
        };
        let Some(owned) = self.campaigns.get_mut(&campaign.id) else {
            return Ok(());
        };
        let fence = owned.fence;
        let pacing = crate::reload::current(&self.pacing);
        let decision = owned.pacer.decide(&input, &pacing);
        let labels = [(m::CAMPAIGN_ID, campaign.id.clone())];
        metrics::gauge!(m::DIAL_RATIO, &labels).set(owned.pacer.dial_ratio());
        metrics::gauge!(m::ABANDONMENT_RATE, &labels).set(decision.explanation.abandonment.rate);
        metrics::gauge!(m::DIALS_IN_FLIGHT, &labels).set(f64::from(input.dials_in_flight));
        metrics::gauge!(m::LINES_IN_USE, &labels).set(f64::from(calls.on_line));
        if decision.dials > 0 {
            tracing::debug!(campaign_id = %campaign.id, dials = decision.dials, explanation = ?decision.explanation, "pacing decision");
        }
        let rows = claim_rows(decision.dials, self.claimed.available_permits());
        if rows == 0 {
            return Ok(());
        }
        let Some(communication_time) = claim_hours(campaign, &self.engine, Channel::Telephony)
        else {
            return Ok(());
        };
        let scope = ClaimScope {
            campaign_id: campaign.id.clone(),
            owner: self.owner.clone(),
            fence,
            now,
            dialed_at: center_now,
            margin: secs_to_duration(self.engine.claim_expiry_margin_secs),
            call_timeout: self.in_flight_mark(),
            communication_time,
            abandoned_quiet: self.engine.abandoned_quiet(),
            template: BatchTemplate {
                instance_id: campaign.connect_instance_id.clone(),
                queue_id: agent_queue.map(str::to_string),
                contact_flow_id: call.connect_contact_flow_id.clone(),
                source_phone_number: call.connect_source_phone_number.clone(),
                answer_machine_detection: call
                    .answer_machine_detection_config
                    .as_ref()
                    .is_some_and(|c| c.enable_answer_machine_detection),
                sms: None,
            },
        };
        // One statement for all the batches: concurrent claims of one campaign would skip
        // each other's rows, which costs more than it saves.
        let started = Instant::now();
        let claimed = batch_claim(&self.pool, &scope, rows as i64).await?;
        metrics::histogram!(m::CLAIM_DURATION).record(started.elapsed().as_secs_f64());
        if claimed.waiting > 0 {
            metrics::counter!(m::DIAL_REQUESTS_WAITING, &labels).increment(claimed.waiting);
        }
        if claimed.quiet_waits > 0 {
            metrics::counter!(m::DIAL_REQUESTS_QUIET_WAITS, &labels).increment(claimed.quiet_waits);
        }
        count_refusals(&campaign.id, &claimed);
        for batch in claimed.batches {
            // The agents freed first get the first contacts.
            let agents = freed.len().min(batch.items.len());
            let freed_for_batch = freed.drain(..agents).collect();
            self.spawn_dispatch(batch, fence, freed_for_batch).await;
        }
        Ok(())
    }

    /// Claims what the SMS allowance of `campaign` permits now, if it has an SMS channel, and
    /// sends it.
    async fn plan_sms(
        &mut self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Some((capacity, template)) = sms_batch_template(campaign) else {
            return Ok(());
        };
        let rate = SmsPace::rate(self.engine.sms_messages_per_second, capacity);
        let places = self.claimed.available_permits();
        let Some(owned) = self.campaigns.get_mut(&campaign.id) else {
            return Ok(());
        };
        let allowed = owned.sms.take(now, rate, places);
        if allowed == 0 {
            return Ok(());
        }
        let Some(communication_time) = claim_hours(campaign, &self.engine, Channel::Sms) else {
            owned.sms.refund(allowed);
            return Ok(());
        };
        let fence = owned.fence;
        let scope = ClaimScope {
            campaign_id: campaign.id.clone(),
            owner: self.owner.clone(),
            fence,
            now,
            dialed_at: self.center_clock.now(),
            margin: secs_to_duration(self.engine.claim_expiry_margin_secs),
            call_timeout: self.in_flight_mark(),
            communication_time,
            // Text messages are no repeat calls.
            abandoned_quiet: chrono::Duration::zero(),
            template,
        };
        let claimed = sms_claim(&self.pool, &scope, allowed as i64).await?;
        count_refusals(&campaign.id, &claimed);
        if claimed.waiting > 0 {
            let labels = [(m::CAMPAIGN_ID, campaign.id.clone())];
            metrics::counter!(m::DIAL_REQUESTS_WAITING, &labels).increment(claimed.waiting);
        }
        // What sent no message is not spent: it is there when requests arrive.
        if let Some(owned) = self.campaigns.get_mut(&campaign.id) {
            owned.sms.refund(allowed - claimed.batches.len());
        }
        for batch in claimed.batches {
            self.spawn_dispatch(batch, scope.fence, Vec::new()).await;
        }
        Ok(())
    }

    /// Sends a batch once a call slot is free. `freed` are the times the agents this batch
    /// dials for became free.
    async fn spawn_dispatch(&mut self, batch: Batch, fence: i64, freed: Vec<Instant>) {
        // Claims are sized to the free places, so only a re-sent batch may wait here.
        let Ok(place) = self.claimed.clone().acquire_owned().await else {
            return;
        };
        if let Some(sms) = batch.template.sms.clone() {
            self.spawn_sms(batch, sms, fence, place);
            return;
        }
        let dispatcher = self.dispatcher();
        let epoch = self.epoch;
        let signals = self.signals.clone();
        let reconciler = self.reconciler();
        self.tasks.spawn(async move {
            match dispatcher.dispatch(&batch, fence).await {
                Ok(report) => {
                    if batch.attempts > 0 && !report.created.is_empty() {
                        // A re-sent batch's answer may come from a ledger of calls another
                        // daemon placed: ask whether they still run.
                        let suspects: Vec<Suspect> = report
                            .created
                            .iter()
                            .map(|(id, contact_id)| Suspect {
                                id: *id,
                                campaign_id: batch.campaign_id.clone(),
                                instance_id: batch.template.instance_id.clone(),
                                contact_id: contact_id.clone(),
                                client_token: batch.client_token.clone(),
                            })
                            .collect();
                        if let Err(error) = reconciler.settle(&suspects, false).await {
                            tracing::warn!(batch_id = %batch.id, %error, "could not settle the contacts of a re-sent batch; they are asked about when silent");
                        }
                    }
                    if let Some(answered) = report.answered {
                        for freed in freed.iter().take(report.created.len()) {
                            metrics::histogram!(m::AGENT_FREE_TO_CONTACT)
                                .record(answered.duration_since(*freed).as_secs_f64());
                        }
                    }
                    if !report.created.is_empty() {
                        let at_secs = (dispatcher.center_clock.now() - epoch).num_milliseconds() as f64 / 1000.0;
                        for _ in &report.created {
                            signals.observe(
                                &batch.campaign_id,
                                Observation { at_secs, event: ObservedEvent::DialPlaced },
                            );
                        }
                    }
                }
                Err(error) => unrecorded(&batch, error),
            }
            // The place is free for the next claim, and failed or expired items gave capacity
            // back: plan again rather than wait for the tick.
            drop(place);
            signals.replan.notify_one();
        });
    }

    /// Sends an SMS batch, holding `place` until its request is resolved or postponed.
    fn spawn_sms(
        &mut self,
        batch: Batch,
        sms: SmsTemplate,
        fence: i64,
        place: tokio::sync::OwnedSemaphorePermit,
    ) {
        let dispatcher = self.dispatcher();
        let templates = crate::reload::current(&self.templates);
        let signals = self.signals.clone();
        self.tasks.spawn(async move {
            if let Err(error) = dispatcher.send_sms(&batch, &sms, fence, &templates).await {
                unrecorded(&batch, error);
            }
            drop(place);
            signals.replan.notify_one();
        });
    }

    fn dispatcher(&self) -> Dispatcher {
        Dispatcher {
            pool: self.pool.clone(),
            center: self.center.clone(),
            clock: self.clock.clone(),
            center_clock: self.center_clock.clone(),
            config: self.engine.clone(),
            owner: self.owner.clone(),
            calls: self.calls.clone(),
        }
    }

    async fn save_pacers(&self) {
        for (campaign, owned) in &self.campaigns {
            let Ok(state) = serde_json::to_value(&owned.pacer) else {
                continue;
            };
            if let Err(error) =
                lease_save_pacer(&self.pool, campaign, &self.owner, owned.fence, &state).await
            {
                tracing::debug!(campaign_id = %campaign, %error, "pacer state not saved");
            }
        }
    }
}

/// Logs why the outcome of a batch's call was not recorded; the batch is re-sent with its
/// token, by the lease's new owner or by this daemon after the call timeout.
fn unrecorded(batch: &Batch, error: EngineError) {
    match error {
        EngineError::StaleLease(campaign) => {
            tracing::warn!(campaign_id = %campaign, batch_id = %batch.id, "lease lost during a call; the new owner re-sends the batch");
        }
        error => {
            tracing::warn!(batch_id = %batch.id, %error, "could not record a batch's outcome; it is re-sent after the call timeout");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_fill_the_free_places_in_whole_batches() {
        let batch = BATCH_MAX_CONTACTS as u32;
        assert_eq!(claim_rows(0, 8), 0, "no dials, no claim");
        assert_eq!(claim_rows(batch * 3, 0), 0, "no place, no claim");
        assert_eq!(claim_rows(7, 8), 7, "a part batch is claimed as is");
        assert_eq!(claim_rows(batch + 5, 8), BATCH_MAX_CONTACTS + 5);
        assert_eq!(
            claim_rows(batch * 10 + 1, 2),
            2 * BATCH_MAX_CONTACTS,
            "two places take two full batches"
        );
        assert_eq!(claim_rows(u32::MAX, usize::MAX), u32::MAX as usize);
    }
}
