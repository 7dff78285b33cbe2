//! Engine SQL: campaign leases, contact batches (claimed, re-sent, resolved), and the reads
//! behind pacing, contact events and reconciliation.
//!
//! Dial requests, their pending counter and the hourly counts are written by the queue's
//! store alone ([`crate::queue::store`]). The claim and a batch's resolution change requests
//! and their batch in one statement (one round trip on the dialing path): the request side
//! of each is the queue store's CTEs, spliced in here.
//!
//! Every write the engine makes for a campaign is guarded by the campaign's lease (owner and
//! fence): a daemon that lost its lease changes nothing, and learns so from a
//! [`EngineError::StaleLease`].

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::batch::{Batch, BatchItem, BatchTemplate, ChannelParameters};
use super::planner::ActiveCalls;
use super::EngineError;
use crate::contact_center::BATCH_MAX_CONTACTS;
use crate::contacts::{Outcome, Phase};
use crate::queue::lifecycle::{FailureReason, ItemResult, Transition};
use crate::queue::store::{
    claim_ctes, dial_request_ready_many, resolve_ctes, StoredStatus, PENDING_SHARDS,
};
use crate::queue::{Channel, DialRequestState};
use crate::rules::ledger::Rule;
use crate::rules::store::{abandon_quiet_cte, dnc_check_cte, ledger_cte, limit_check_ctes};
use crate::rules::window::{CommunicationTime, Gate};

/// A campaign this daemon holds the lease of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Lease {
    /// Campaign id.
    pub campaign_id: String,
    /// The fence of this tenure.
    pub fence: i64,
    /// Pacing estimates left by the previous owner, if any.
    pub pacer_state: Option<serde_json::Value>,
}

/// Renews this daemon's leases and takes every lapsed or free one of campaigns that need an
/// owner (running or paused, or with unresolved contact batches). A takeover bumps the fence.
/// Lease times are on the database's clock, which every daemon shares.
pub async fn lease_acquire_many(
    db: impl PgExecutor<'_>,
    owner: &str,
    ttl: chrono::Duration,
) -> Result<Vec<Lease>, EngineError> {
    Ok(sqlx::query_as(
        r#"
        with candidates as (
            select c.id from campaign c
            where c.state in ('Running', 'Paused')
               or exists (select 1 from contact_batch b where b.campaign_id = c.id and b.resolved_at is null)
               or exists (select 1 from dial_request d where d.campaign_id = c.id and d.state = 'in_progress')
        )
        insert into campaign_lease (campaign_id, owner, fence, expires_at)
        select id, $1, 1, now() + $2 from candidates
        on conflict (campaign_id) do update
            set fence = case when campaign_lease.owner = excluded.owner
                             then campaign_lease.fence else campaign_lease.fence + 1 end,
                owner = excluded.owner,
                expires_at = excluded.expires_at
            where campaign_lease.owner = excluded.owner or campaign_lease.expires_at < now()
        returning campaign_id, fence, pacer_state
        "#,
    )
    .bind(owner)
    .bind(ttl)
    .fetch_all(db)
    .await?)
}

/// Saves the owner's pacing estimates with its lease.
pub async fn lease_save_pacer(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
    owner: &str,
    fence: i64,
    state: &serde_json::Value,
) -> Result<(), EngineError> {
    sqlx::query(
        "update campaign_lease set pacer_state = $4 where campaign_id = $1 and owner = $2 and fence = $3",
    )
    .bind(campaign_id)
    .bind(owner)
    .bind(fence)
    .bind(state)
    .execute(db)
    .await?;
    Ok(())
}

/// Gives up this daemon's leases (on shutdown) so others take over at once. The rows stay,
/// expired, so the next owner's fence is still higher than this one's.
pub async fn lease_release_all(db: impl PgExecutor<'_>, owner: &str) -> Result<(), EngineError> {
    sqlx::query("update campaign_lease set expires_at = '-infinity' where owner = $1")
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

/// A [`BatchItem`] as the claim and the re-send read it.
#[derive(sqlx::FromRow)]
struct BatchItemRow {
    id: Uuid,
    phone_number: String,
    attributes: Json<std::collections::BTreeMap<String, String>>,
    expires_at: DateTime<Utc>,
    /// Null for a request claimed before dial-by times were recorded, and for a refusal.
    dial_by: Option<DateTime<Utc>>,
    attempts: i32,
    /// Read by the SMS claim and the re-send; a call's claim leaves it out.
    #[sqlx(default)]
    channel_parameters: Option<Json<ChannelParameters>>,
}

impl From<BatchItemRow> for BatchItem {
    fn from(row: BatchItemRow) -> Self {
        BatchItem {
            id: row.id,
            phone_number: row.phone_number,
            attributes: row.attributes.0,
            expires_at: row.expires_at,
            dial_by: row.dial_by.unwrap_or(row.expires_at),
            attempts: row.attempts,
            parameters: row.channel_parameters.map(|p| p.0).unwrap_or_default(),
        }
    }
}

/// What a claim is for: one campaign, under one lease tenure, at one moment.
#[derive(Debug, Clone)]
pub struct ClaimScope {
    /// Campaign.
    pub campaign_id: String,
    /// Lease owner.
    pub owner: std::sync::Arc<str>,
    /// Lease fence.
    pub fence: i64,
    /// Now, on the wall clock.
    pub now: DateTime<Utc>,
    /// When the calls are placed, on the contact center's clock.
    pub dialed_at: DateTime<Utc>,
    /// Requests expiring before `now + margin` are not claimed.
    pub margin: chrono::Duration,
    /// The batches count as in flight until `now + call_timeout`.
    pub call_timeout: chrono::Duration,
    /// The calls' fixed parts.
    pub template: BatchTemplate,
    /// The campaign's calling hours, if it has any.
    pub communication_time: Option<std::sync::Arc<CommunicationTime>>,
    /// How long no call goes to a number after an abandoned call to it (zero: the rule is
    /// off). Calls only: the rule is about repeat calls, and a message is not one.
    pub abandoned_quiet: chrono::Duration,
}

/// What a claim took.
#[derive(Debug, Default)]
pub struct Claimed {
    /// The new contact batches.
    pub batches: Vec<Batch>,
    /// Requests a calling rule forbade, ended failed, not dialed: how many per reason
    /// (`DO_NOT_CALL`, `MISSING_TIME_ZONE`, `LIMIT_EXCEEDED`).
    pub refused: std::collections::BTreeMap<String, u64>,
    /// Requests outside their calling hours, left pending until the hours open.
    pub waiting: u64,
    /// Requests whose number had a call abandoned within the quiet period, left pending
    /// until it ends.
    pub quiet_waits: u64,
}

/// The pending requests a claim may take, in expiration order: `$1` campaign, `$2`..`$4`
/// owner, fence and now, `$5` the earliest acceptable expiration; the caller adds the limit.
const CLAIMABLE: &str = "
        with lease as (
            select 1 from campaign_lease
            where campaign_id = $1 and owner = $2 and fence = $3 and expires_at > now()
              and exists (select 1 from campaign where id = $1 and state = 'Running'
                          and (schedule is null
                               or ((schedule ->> 'startTime')::timestamptz <= $4
                                   and $4 < (schedule ->> 'endTime')::timestamptz)))
            for share
        )";

/// The claimable requests' filter on `channel`, after [`CLAIMABLE`]'s `lease`: never one
/// expiring before `$5` (now plus the margin), and only ready ones (not waiting for calling
/// hours or a backoff): [`claim_ready`] makes ready those whose time has come, so that the
/// walk in expiration order never passes over waiting ones.
fn claimable_filter(channel: Channel) -> String {
    format!(
        "campaign_id = $1 and channel = '{channel}' and state = '{pending}' and expires_at > $5
              and not_before is null
              and exists (select 1 from lease)",
        channel = channel.as_sql(),
        pending = DialRequestState::Pending.as_str(),
    )
}

/// The calling rules' part of a claim on `channel`, after [`CLAIMABLE`]'s `lease`: `picked`
/// (at most `$6`, earliest expiration first, only the ids of the SQL array `restrict` unless
/// it is null), `checked` (the do-not-call lists), with the SQL interval `quiet` the
/// abandoned-call quiet period's `quiet (id, until)` (the requests that wait for it), the
/// communication limits' CTEs, whose `allowed` are the requests to claim, and `refusals
/// (id, reason)`: the listed, those in the SQL array `no_zone` (calling hours and no time
/// zone), and those over a limit. A refusal is final, so it goes before a wait, and a
/// waiting request is no contact for the limits to count.
fn ruled_picks(channel: Channel, restrict: &str, no_zone: &str, quiet: Option<&str>) -> String {
    let passed = format!("not do_not_call and id <> all({no_zone})");
    let (quiet, eligible) = match quiet {
        Some(quiet) => (
            format!("{},", abandon_quiet_cte(&passed, "$1", "$4", quiet)),
            format!("{passed} and id not in (select id from quiet)"),
        ),
        None => (String::new(), passed),
    };
    format!(
        "picked as (
            select id, expires_at, phone_number from dial_request
            where {filter} and ({restrict}::uuid[] is null or id = any({restrict}))
            order by expires_at
            limit $6
            for update skip locked
        ),
        {checked},
        {quiet}
        {limits},
        refusals as (
            select id, case when do_not_call then '{dnc}' else '{missing_zone}' end as reason
            from checked where do_not_call or id = any({no_zone})
            union all
            select id, '{limit}' from limited
        )",
        filter = claimable_filter(channel),
        checked = dnc_check_cte("picked", "$1"),
        limits = limit_check_ctes(
            &format!("select id, expires_at, number_hash from checked where {eligible}"),
            "$1",
            "$4"
        ),
        dnc = FailureReason::DoNotCall.as_str(),
        missing_zone = FailureReason::MissingTimeZone.as_str(),
        limit = FailureReason::LimitExceeded.as_str(),
    )
}

/// Per-request decisions of the calling hours, for the claim statement: which requests it may
/// take (all, when the campaign has no hours), which wait and until when, which have no time
/// zone, each one's zone and local time for the ledger, and when the hours of those taken
/// close (before their expiration).
#[derive(Default)]
struct Gates {
    restrict: Option<Vec<Uuid>>,
    close_ids: Vec<Uuid>,
    closes_at: Vec<DateTime<Utc>>,
    wait_ids: Vec<Uuid>,
    wait_until: Vec<DateTime<Utc>>,
    zone_ids: Vec<Uuid>,
    zones: Vec<&'static str>,
    zone_sources: Vec<&'static str>,
    local_times: Vec<chrono::NaiveDateTime>,
    no_zone: Vec<Uuid>,
}

impl Gates {
    fn add(&mut self, id: Uuid, gate: Gate) {
        let restrict = self.restrict.get_or_insert_with(Vec::new);
        let (zone, local) = match gate {
            Gate::Open {
                zone,
                local,
                closes_at,
            } => {
                restrict.push(id);
                if let Some(closes_at) = closes_at {
                    self.close_ids.push(id);
                    self.closes_at.push(closes_at);
                }
                (zone, local)
            }
            Gate::Wait { zone, local, until } => {
                self.wait_ids.push(id);
                self.wait_until.push(until);
                (zone, local)
            }
            Gate::NoZone => {
                restrict.push(id);
                self.no_zone.push(id);
                return;
            }
        };
        self.zone_ids.push(id);
        self.zones.push(zone.tz.name());
        self.zone_sources.push(zone.source.as_str());
        self.local_times.push(local);
    }

    /// Binds the decisions as the claim statements take them, after their own parameters:
    /// the requests it may take, those that wait and until when, each one's zone, its source
    /// and local time, those without a zone, and the closes of those taken.
    fn bind<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(&self.restrict)
            .bind(&self.wait_ids)
            .bind(&self.wait_until)
            .bind(&self.zone_ids)
            .bind(&self.zones)
            .bind(&self.local_times)
            .bind(&self.no_zone)
            .bind(&self.zone_sources)
            .bind(&self.close_ids)
            .bind(&self.closes_at)
    }

    /// Locks the ready requests a claim of `channel` would take (as its statement picks
    /// them) and decides each one's gate under `time`. Run in the claim's transaction.
    async fn pick(
        db: &mut sqlx::PgConnection,
        scope: &ClaimScope,
        n: i64,
        channel: Channel,
        time: &CommunicationTime,
    ) -> Result<Gates, EngineError> {
        let pick = format!(
            "{CLAIMABLE}
            select id, expires_at, phone_number, attributes ->> $7 from dial_request
            where {filter}
            order by expires_at
            limit $6
            for update skip locked",
            filter = claimable_filter(channel),
        );
        let picked: Vec<(Uuid, DateTime<Utc>, String, Option<String>)> = sqlx::query_as(&pick)
            .bind(&scope.campaign_id)
            .bind(&*scope.owner)
            .bind(scope.fence)
            .bind(scope.now)
            .bind(scope.now + scope.margin)
            .bind(n.saturating_mul(PICK_AHEAD))
            .bind(&time.zone_attribute)
            .fetch_all(&mut *db)
            .await?;
        let mut gates = Gates {
            restrict: Some(Vec::with_capacity(picked.len())),
            ..Gates::default()
        };
        let wanted = usize::try_from(n).unwrap_or(0);
        for (id, expires_at, phone_number, zone) in picked {
            let gate = match time.gate(zone.as_deref(), &phone_number, scope.now, expires_at) {
                // Closing before the call could be made (the claim's margin): dispatch would
                // only send it back, so it waits for its next opening now.
                Gate::Open {
                    zone,
                    local,
                    closes_at: Some(closes),
                } if closes <= scope.now + scope.margin => Gate::Wait {
                    zone,
                    local,
                    until: time
                        .window
                        .next_change(zone.tz, closes, true)
                        .map_or(expires_at, |opens| opens.min(expires_at)),
                },
                gate => gate,
            };
            // Every closed one waits; the open ones past the first `n` stay as they were,
            // for the next claim.
            if matches!(gate, Gate::Wait { .. })
                || gates.restrict.as_ref().map_or(0, Vec::len) < wanted
            {
                gates.add(id, gate);
            }
        }
        Ok(gates)
    }
}

/// The claim's CTE `dialable (id, expires_at, dial_by)`: the requests of `allowed` with the
/// time by which they must be dialed, the earliest of their expiration, the close of their
/// calling hours (the SQL arrays `close_ids` and `closes_at`, from [`Gates`]) and the end of
/// the campaign `$1`'s schedule. A re-send of their batch after it leaves them out
/// ([`super::dispatch`]).
fn dialable(close_ids: &str, closes_at: &str) -> String {
    format!(
        "dialable as (
            select a.id, a.expires_at,
                   least(a.expires_at, c.closes_at,
                         (select (schedule ->> 'endTime')::timestamptz from campaign where id = $1))
                       as dial_by
            from allowed a
            left join unnest({close_ids}::uuid[], {closes_at}::timestamptz[]) as c(id, closes_at)
                on c.id = a.id
        )"
    )
}

/// The waits the calling hours decided ([`Gates`]: the SQL arrays `ids` and `until`), as a
/// query of `(id, until, rule)` for the claim's `waited`.
fn hours_waits(ids: &str, until: &str) -> String {
    format!(
        "select id, until, '{rule}' as rule from unnest({ids}::uuid[], {until}::timestamptz[]) as g(id, until)",
        rule = Rule::CommunicationTime.as_str(),
    )
}

/// How many requests a claim with hours looks at per request it may dial: the closed ones
/// it parks take no place in its batches, so a claim that looked at only as many as it may
/// dial would fill its batches by half when half its recipients' hours are closed (`dialer
/// bench dispatch --windows`), and the engine's places with them.
const PICK_AHEAD: i64 = 2;

/// How many waiting requests one claim makes ready at most: enough for every claim of a
/// busy campaign, and bounded so that a window opening for a large backlog is spread over
/// a few claims (each takes those that opened first) instead of stalling one.
const READY_PER_CLAIM: i64 = 5_000;

/// Makes ready the requests of the scope's campaign and `channel` whose waiting time has
/// come, before a claim walks the ready ones.
async fn claim_ready(
    db: impl PgExecutor<'_>,
    scope: &ClaimScope,
    channel: Channel,
) -> Result<(), EngineError> {
    dial_request_ready_many(db, &scope.campaign_id, channel, scope.now, READY_PER_CLAIM).await?;
    Ok(())
}

/// Claims up to `n` pending requests of a campaign into new contact batches of at most
/// [`BATCH_MAX_CONTACTS`]: earliest expiration first, skipping rows other claimers hold,
/// never a request expiring before `now + margin`, only while the campaign runs and the
/// scope's owner holds the lease with its fence (the lease row is share-locked, so a
/// concurrent takeover waits for the claim or makes it find nothing). The batches are marked
/// in flight until `now + call_timeout`.
///
/// The calling rules are applied to the requests taken, in the same statement: one whose
/// number is on a do-not-call list ends failed (`DO_NOT_CALL`) instead, one whose recipient
/// had its share of contacts under a communication limit ends failed (`LIMIT_EXCEEDED`),
/// every contact enters its recipient's history, a call to a number that had a call
/// abandoned within the scope's quiet period waits (pending) until the period ends, and
/// every request taken gets its decision in the ledger, at `now`. A campaign with calling
/// hours takes its requests in a transaction of two statements: the first locks them and
/// reads their time zones, the hours are evaluated here, and the second claims the open
/// ones, leaves the others pending until their hours open (`not_before`), and refuses those
/// without a time zone (`MISSING_TIME_ZONE`).
pub async fn batch_claim(
    pool: &PgPool,
    scope: &ClaimScope,
    n: i64,
) -> Result<Claimed, EngineError> {
    claim_channel(pool, scope, n, Channel::Telephony).await
}

/// The claim of `channel`, as [`batch_claim`] describes it.
async fn claim_channel(
    pool: &PgPool,
    scope: &ClaimScope,
    n: i64,
    channel: Channel,
) -> Result<Claimed, EngineError> {
    let n = n.max(0);
    claim_ready(pool, scope, channel).await?;
    // With hours, the claim takes the ids the first statement picked: a plan made for them
    // finds them by id, where the generic plan, which must also serve a claim without
    // hours, walks the pending index filtering on the list (a second per claim measured).
    let (mut tx, gates) = match &scope.communication_time {
        Some(time) => {
            let mut tx = crate::db::begin_with(pool, crate::db::Plans::Custom).await?;
            let gates = Gates::pick(&mut tx, scope, n, channel, time).await?;
            (tx, gates)
        }
        None => (
            crate::db::begin_with(pool, crate::db::Plans::Generic).await?,
            Gates::default(),
        ),
    };
    let claimed = claim_statement(&mut *tx, scope, n, channel, &gates).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The claim statement of `channel`: calls in batches, each message in a batch of its own.
async fn claim_statement(
    db: impl PgExecutor<'_>,
    scope: &ClaimScope,
    n: i64,
    channel: Channel,
    gates: &Gates,
) -> Result<Claimed, EngineError> {
    match channel {
        Channel::Telephony => claim_gated(db, scope, n, gates).await,
        _ => sms_claim_gated(db, scope, n, gates).await,
    }
}

/// The claim statement, with the calling hours' decisions made.
async fn claim_gated(
    db: impl PgExecutor<'_>,
    scope: &ClaimScope,
    n: i64,
    gates: &Gates,
) -> Result<Claimed, EngineError> {
    let ClaimScope {
        campaign_id,
        owner,
        fence,
        now,
        dialed_at,
        margin,
        call_timeout,
        template,
        communication_time: _,
        abandoned_quiet,
    } = scope;
    let slots = usize::try_from(n).unwrap_or(0).div_ceil(BATCH_MAX_CONTACTS);
    let batch_ids: Vec<Uuid> = (0..slots).map(|_| Uuid::new_v4()).collect();
    let tokens: Vec<String> = batch_ids.iter().copied().map(client_token).collect();
    let shard = rand::random_range(0..PENDING_SHARDS);
    static CLAIM: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"{CLAIMABLE},
        {ruled},
        {dialable},
        slotted as (
            select id, dial_by,
                   ($7::uuid[])[((row_number() over (order by expires_at, id) - 1) / $13 + 1)::int] as batch_id
            from dialable
        ),
        {claimed},
        {decided},
        batches as (
            insert into contact_batch (id, campaign_id, client_token, fence, request, request_ids, attempts, next_attempt_at)
            select c.batch_id, $1, t.token, $3, $9, array_agg(c.id order by c.id), 1, $10
            from claimed c join unnest($7::uuid[], $8::text[]) as t(batch_id, token) on t.batch_id = c.batch_id
            group by c.batch_id, t.token
        )
        select batch_id, id, phone_number, attributes, expires_at, dial_by, attempts,
               null as reason, false as quiet
        from claimed
        union all
        select null, id, '', '{{}}', expires_at, null, attempt, reason, false from refused
        union all
        select null, id, '', '{{}}', expires_at, null, attempt, null, true from waited
        where rule = '{quiet_rule}'
        order by batch_id, id
        "#,
            ruled = ruled_picks(Channel::Telephony, "$14", "$20", Some("$24::interval")),
            dialable = dialable("$22", "$23"),
            claimed = claim_ctes(
                "$1",
                "$11",
                "$12",
                Some(Phase::Creating),
                &format!(
                    "({hours} union all select id, until, '{quiet_rule}' from quiet) as w",
                    hours = hours_waits("$15", "$16"),
                    quiet_rule = Rule::AbandonedQuiet.as_str(),
                )
            ),
            decided = ledger_cte(
                "$1",
                "$4",
                "unnest($17::uuid[], $18::text[], $21::text[], $19::timestamp[]) as z(id, zone, source, local_time)"
            ),
            quiet_rule = Rule::AbandonedQuiet.as_str(),
        )
    });
    let query = sqlx::query_as(&CLAIM)
        .bind(campaign_id)
        .bind(&**owner)
        .bind(fence)
        .bind(now)
        .bind(*now + *margin)
        .bind(n)
        .bind(&batch_ids)
        .bind(&tokens)
        .bind(Json(template))
        .bind(*now + *call_timeout)
        .bind(shard)
        .bind(dialed_at)
        .bind(BATCH_MAX_CONTACTS as i64);
    let rows: Vec<ClaimedRow> = gates
        .bind(query)
        .bind(abandoned_quiet)
        .fetch_all(db)
        .await?;
    let mut batches: Vec<Batch> = Vec::with_capacity(slots);
    let mut refused = std::collections::BTreeMap::new();
    let mut quiet_waits = 0;
    for row in rows {
        if row.quiet {
            quiet_waits += 1;
            continue;
        }
        // A row without a batch is a refused request.
        let Some(batch_id) = row.batch_id else {
            *refused.entry(row.reason.unwrap_or_default()).or_default() += 1;
            continue;
        };
        if batches.last().is_none_or(|b| b.id != batch_id) {
            batches.push(Batch {
                id: batch_id,
                campaign_id: campaign_id.clone(),
                client_token: client_token(batch_id),
                template: template.clone(),
                items: Vec::with_capacity(BATCH_MAX_CONTACTS),
                attempts: 0,
            });
        }
        if let Some(batch) = batches.last_mut() {
            batch.items.push(row.item.into());
        }
    }
    Ok(Claimed {
        batches,
        refused,
        waiting: gates.wait_ids.len() as u64,
        quiet_waits,
    })
}

/// Claims up to `n` pending SMS requests of a campaign, as [`batch_claim`] claims calls
/// (same order, margin, backoff, lease, do-not-call rules and time window, here the
/// campaign's `sms` one, communication limits, which count calls and messages alike, the
/// same ledger), each into a batch of its own whose ClientToken names the request and the
/// claim:
/// `dialer-sms-{id}-{attempts}`. Every send of one claim carries it, so the contact center
/// never sends that claim's message twice; a later claim (after a retryable failure put the
/// request back) is a new send.
pub async fn sms_claim(pool: &PgPool, scope: &ClaimScope, n: i64) -> Result<Claimed, EngineError> {
    claim_channel(pool, scope, n, Channel::Sms).await
}

/// The SMS claim statement, with the time window's decisions made.
async fn sms_claim_gated(
    db: impl PgExecutor<'_>,
    scope: &ClaimScope,
    n: i64,
    gates: &Gates,
) -> Result<Claimed, EngineError> {
    static CLAIM: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"{CLAIMABLE},
        {ruled},
        {dialable},
        slotted as (select id, dial_by, gen_random_uuid() as batch_id from dialable),
        {claimed},
        {decided},
        tokened as (
            select c.*, 'dialer-sms-' || c.id || '-' || c.attempts as client_token from claimed c
        ),
        batches as (
            insert into contact_batch (id, campaign_id, client_token, fence, request, request_ids, attempts, next_attempt_at)
            select t.batch_id, $1, t.client_token, $3, $7, array[t.id], 1, $8 from tokened t
        )
        select batch_id, client_token, id, phone_number, attributes, expires_at, dial_by,
               attempts, channel_parameters, null as reason
        from tokened
        union all
        select null, null, id, '', '{{}}', expires_at, null, attempt, null, reason from refused
        order by expires_at, id
        "#,
            ruled = ruled_picks(Channel::Sms, "$11", "$17", None),
            dialable = dialable("$19", "$20"),
            claimed = claim_ctes(
                "$1",
                "$9",
                "$10",
                None,
                &format!("({}) as w", hours_waits("$12", "$13"))
            ),
            decided = ledger_cte(
                "$1",
                "$4",
                "unnest($14::uuid[], $15::text[], $18::text[], $16::timestamp[]) as z(id, zone, source, local_time)"
            ),
        )
    });
    let query = sqlx::query_as(&CLAIM)
        .bind(&scope.campaign_id)
        .bind(&*scope.owner)
        .bind(scope.fence)
        .bind(scope.now)
        .bind(scope.now + scope.margin)
        .bind(n)
        .bind(Json(&scope.template))
        .bind(scope.now + scope.call_timeout)
        .bind(rand::random_range(0..PENDING_SHARDS))
        .bind(scope.dialed_at);
    let rows: Vec<SmsClaimedRow> = gates.bind(query).fetch_all(db).await?;
    let mut claimed = Claimed {
        waiting: gates.wait_ids.len() as u64,
        ..Claimed::default()
    };
    for row in rows {
        // A row without a batch is a refused request.
        let (Some(batch_id), Some(client_token)) = (row.batch_id, row.client_token) else {
            *claimed
                .refused
                .entry(row.reason.unwrap_or_default())
                .or_default() += 1;
            continue;
        };
        claimed.batches.push(Batch {
            id: batch_id,
            campaign_id: scope.campaign_id.clone(),
            client_token,
            template: scope.template.clone(),
            items: vec![row.item.into()],
            attempts: 0,
        });
    }
    Ok(claimed)
}

#[derive(sqlx::FromRow)]
struct SmsClaimedRow {
    batch_id: Option<Uuid>,
    client_token: Option<String>,
    reason: Option<String>,
    #[sqlx(flatten)]
    item: BatchItemRow,
}

/// The BatchPutContact ClientToken of a batch: derived from its id, so that a re-send of the
/// batch is the same call.
fn client_token(batch_id: Uuid) -> String {
    format!("dialer-{batch_id}")
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    batch_id: Option<Uuid>,
    reason: Option<String>,
    /// A request the quiet period after an abandoned call holds back.
    quiet: bool,
    #[sqlx(flatten)]
    item: BatchItemRow,
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: Uuid,
    campaign_id: String,
    client_token: String,
    request: Json<BatchTemplate>,
    attempts: i32,
}

/// Unresolved batches of a campaign whose retry time has come, marked in flight again until
/// `now + call_timeout` (guarded by the lease).
pub async fn batch_due_many(
    pool: &PgPool,
    campaign_id: &str,
    owner: &str,
    fence: i64,
    now: DateTime<Utc>,
    call_timeout: chrono::Duration,
) -> Result<Vec<Batch>, EngineError> {
    let rows: Vec<BatchRow> = sqlx::query_as(
        r#"
        update contact_batch b
        set next_attempt_at = $5, attempts = b.attempts + 1
        where b.campaign_id = $1 and b.resolved_at is null and b.next_attempt_at <= $4
          and exists (select 1 from campaign_lease l
                      where l.campaign_id = $1 and l.owner = $2 and l.fence = $3 and l.expires_at > now())
        returning b.id, b.campaign_id, b.client_token, b.request, b.attempts - 1 as attempts
        "#,
    )
    .bind(campaign_id)
    .bind(owner)
    .bind(fence)
    .bind(now)
    .bind(now + call_timeout)
    .fetch_all(pool)
    .await?;
    let mut batches = Vec::with_capacity(rows.len());
    for row in rows {
        // The original items: every request the batch was claimed with, whatever happened
        // to them since, so a re-send is the same call.
        let items: Vec<BatchItemRow> = sqlx::query_as(
            r#"
            select d.id, d.phone_number, d.attributes, d.expires_at, d.dial_by, d.attempts,
                   d.channel_parameters
            from contact_batch b cross join unnest(b.request_ids) as r(id)
            join dial_request d on d.id = r.id
            where b.id = $1
            order by d.id
            "#,
        )
        .bind(row.id)
        .fetch_all(pool)
        .await?;
        batches.push(Batch {
            id: row.id,
            campaign_id: row.campaign_id,
            client_token: row.client_token,
            template: row.request.0,
            items: items.into_iter().map(BatchItem::from).collect(),
            attempts: row.attempts,
        });
    }
    Ok(batches)
}

/// Item results as the resolution's statements take them: one array per column.
struct ResultColumns<'a> {
    ids: Vec<Uuid>,
    states: Vec<DialRequestState>,
    contact_ids: Vec<Option<&'a str>>,
    reasons: Vec<Option<&'static str>>,
    not_before: Vec<Option<DateTime<Utc>>>,
    outcomes: Vec<Option<&'static str>>,
}

impl<'a> ResultColumns<'a> {
    fn of(results: &'a [(Uuid, ItemResult)]) -> Self {
        let mut columns = ResultColumns {
            ids: Vec::with_capacity(results.len()),
            states: Vec::with_capacity(results.len()),
            contact_ids: Vec::with_capacity(results.len()),
            reasons: Vec::with_capacity(results.len()),
            not_before: Vec::with_capacity(results.len()),
            outcomes: Vec::with_capacity(results.len()),
        };
        for (id, result) in results {
            columns.ids.push(*id);
            // A created contact leaves its request in progress, as claimed.
            columns.states.push(
                result
                    .transition()
                    .map_or(DialRequestState::InProgress, Transition::target),
            );
            let (contact, after) = match result {
                ItemResult::Created { contact_id } => (Some(contact_id.as_str()), None),
                ItemResult::Sent { contact_id } => (contact_id.as_deref(), None),
                ItemResult::Retry { not_before, .. } => (None, Some(*not_before)),
                ItemResult::Failed { .. } | ItemResult::Expired => (None, None),
            };
            columns.contact_ids.push(contact);
            columns.not_before.push(after);
            columns
                .reasons
                .push(result.reason().map(FailureReason::as_str));
            columns
                .outcomes
                .push(matches!(result, ItemResult::Sent { .. }).then_some(Outcome::Sent.as_str()));
        }
        columns
    }
}

/// Records a resolved batch: the batch is closed with the contact created for each of its
/// requests (the SQL function `dial_request_contact_id` reads it from there until the
/// contact's events record it on the request), each call's contact is entered in
/// `contact_batch_contact` (where events naming only a contact find its request; a sent
/// message's chat contact is not, so its events change nothing), and the requests without
/// one are retried, failed, expired or, for a sent message, completed. One statement,
/// guarded by the lease.
pub async fn batch_resolve(
    pool: &PgPool,
    batch: &Batch,
    owner: &str,
    fence: i64,
    now: DateTime<Utc>,
    results: &[(Uuid, ItemResult)],
) -> Result<(), EngineError> {
    let ResultColumns {
        ids,
        states,
        contact_ids,
        reasons,
        not_before,
        outcomes,
    } = ResultColumns::of(results);
    let shard = rand::random_range(0..PENDING_SHARDS);
    static RESOLVE: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"
        with guard as (
            select 1 from campaign_lease
            where campaign_id = $2 and owner = $3 and fence = $4
        ),
        results as (
            select * from unnest($5::uuid[], $6::dial_request_state[], $7::text[], $8::text[], $9::timestamptz[], $12::text[])
                as r(id, state, contact_id, reason, not_before, outcome)
        ),
        closed as (
            update contact_batch b
            set resolved_at = $10,
                contact_ids = array(select r.contact_id
                                    from unnest(b.request_ids) with ordinality as q(id, i)
                                    left join results r on r.id = q.id
                                    order by q.i)
            where b.id = $1 and exists (select 1 from guard)
            returning 1
        ),
        looked_up as (
            insert into contact_batch_contact (contact_id, batch_id, request_id)
            select r.contact_id, $1, r.id from results r
            where r.contact_id is not null and r.state = '{in_progress}' and exists (select 1 from closed)
            on conflict (contact_id) do nothing
        ),
        {requests}
        select count(*) from closed
        "#,
            requests = resolve_ctes("$1", "$2", "$10", "$11"),
            in_progress = DialRequestState::InProgress.as_str(),
        )
    });
    let query = sqlx::query_scalar(&RESOLVE)
        .bind(batch.id)
        .bind(&batch.campaign_id)
        .bind(owner)
        .bind(fence)
        .bind(&ids)
        .bind(&states)
        .bind(&contact_ids)
        .bind(&reasons)
        .bind(&not_before)
        .bind(now)
        .bind(shard)
        .bind(&outcomes);
    let mut tx = crate::db::begin_with(pool, crate::db::Plans::Generic).await?;
    let closed: Option<i64> = query.fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    if closed.unwrap_or(0) == 0 {
        return Err(EngineError::StaleLease(batch.campaign_id.clone()));
    }
    Ok(())
}

/// Takes requests of a batch never sent out of it, with their `results`: expired, or back
/// to the queue when their dial-by time passed (their calling hours or the campaign's
/// schedule closed since the claim). What the batch's first call sends must be what every
/// re-send of the batch reproduces ([`batch_due_many`] reads the batch's `request_ids`), and
/// a request that cannot be dialed at the first call is left out of it. Without this, a
/// re-send after later expirations could match neither the first call nor the full batch,
/// and the contacts the first call made would be taken for an idempotency conflict. One
/// statement, guarded by the lease.
pub async fn batch_shed(
    db: impl PgExecutor<'_>,
    batch: &Batch,
    owner: &str,
    fence: i64,
    now: DateTime<Utc>,
    results: &[(Uuid, ItemResult)],
) -> Result<(), EngineError> {
    static SHED: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"
        with guard as (
            select 1 from campaign_lease
            where campaign_id = $2 and owner = $3 and fence = $4
        ),
        results as (
            select id, state, null::text as contact_id, reason, not_before, null::text as outcome
            from unnest($5::uuid[], $8::dial_request_state[], $9::text[], $10::timestamptz[])
                as r(id, state, reason, not_before)
        ),
        -- The resolution's request side runs once the batch is changed: here, shrunk.
        closed as (
            update contact_batch b
            set request_ids = array(select q.id from unnest(b.request_ids) with ordinality as q(id, i)
                                    where q.id <> all($5) order by q.i)
            where b.id = $1 and b.resolved_at is null and exists (select 1 from guard)
            returning 1
        ),
        {requests}
        select count(*) from closed
        "#,
            requests = resolve_ctes("$1", "$2", "$6", "$7"),
        )
    });
    let columns = ResultColumns::of(results);
    let shrunk: i64 = sqlx::query_scalar(&SHED)
        .bind(batch.id)
        .bind(&batch.campaign_id)
        .bind(owner)
        .bind(fence)
        .bind(&columns.ids)
        .bind(now)
        .bind(rand::random_range(0..PENDING_SHARDS))
        .bind(&columns.states)
        .bind(&columns.reasons)
        .bind(&columns.not_before)
        .fetch_one(db)
        .await?;
    if shrunk == 0 {
        return Err(EngineError::StaleLease(batch.campaign_id.clone()));
    }
    Ok(())
}

/// Deletes up to `limit` resolved contact batches created before `before` of which no
/// request is left: none of its requests still names it (deleted by retention, or put back
/// in the queue for a later batch). Oldest first; returns how many were deleted. An
/// unresolved batch may be re-sent and is never deleted; a resolved one is never sent again,
/// and once its requests are gone nothing reads it (their contacts' events find no request).
/// A trigger deletes its contacts' `contact_batch_contact` rows in the same statement.
pub async fn batch_purge_many(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, EngineError> {
    // The limit applies after the filter, so batches whose requests are kept are walked past
    // (on the `contact_batch_resolved` index), not returned again and again.
    Ok(sqlx::query(
        "with gone as (
             select b.id from contact_batch b
             where b.resolved_at is not null and b.created_at < $1
               and not exists (select 1 from dial_request d
                               where d.id = any(b.request_ids) and d.batch_id = b.id)
             order by b.created_at
             limit $2
             for update skip locked
         )
         delete from contact_batch b using gone where b.id = gone.id",
    )
    .bind(before)
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}

/// Postpones a batch whose call failed as a whole (same ClientToken next time).
pub async fn batch_postpone(
    db: impl PgExecutor<'_>,
    batch: &Batch,
    owner: &str,
    fence: i64,
    next_attempt_at: DateTime<Utc>,
) -> Result<(), EngineError> {
    let updated = sqlx::query(
        r#"
        update contact_batch b set next_attempt_at = $4
        where b.id = $1 and b.resolved_at is null
          and exists (select 1 from campaign_lease l where l.campaign_id = b.campaign_id and l.owner = $2 and l.fence = $3)
        "#,
    )
    .bind(batch.id)
    .bind(owner)
    .bind(fence)
    .bind(next_attempt_at)
    .execute(db)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(EngineError::StaleLease(batch.campaign_id.clone()));
    }
    Ok(())
}

/// A campaign's calls in one phase: when each was placed and connected to an agent.
#[derive(sqlx::FromRow)]
struct ActiveGroup {
    campaign_id: String,
    contact_phase: Option<Phase>,
    dialed_at: Vec<Option<DateTime<Utc>>>,
    connected_at: Vec<Option<DateTime<Utc>>>,
}

/// The calls in progress of the given campaigns (read as one row per campaign and phase).
pub async fn active_calls_many(
    db: impl PgExecutor<'_>,
    campaign_ids: &[String],
) -> Result<std::collections::HashMap<String, ActiveCalls>, EngineError> {
    let groups: Vec<ActiveGroup> = sqlx::query_as(
        "select d.campaign_id, d.contact_phase, array_agg(d.dialed_at) as dialed_at,
                array_agg((d.timeline->'connected_to_agent'->>'at')::timestamptz) as connected_at
         from dial_request d
         where d.state = 'in_progress' and d.campaign_id = any($1)
         group by d.campaign_id, d.contact_phase",
    )
    .bind(campaign_ids)
    .fetch_all(db)
    .await?;
    let mut calls: std::collections::HashMap<String, ActiveCalls> =
        std::collections::HashMap::new();
    for group in groups {
        // A request in progress without a phase is a message being sent, which holds no
        // line (or an odd row, which must not stop the planning).
        let Some(phase) = group.contact_phase else {
            continue;
        };
        let campaign = calls.entry(group.campaign_id).or_default();
        for (dialed_at, connected_at) in group.dialed_at.into_iter().zip(group.connected_at) {
            campaign.add(phase, dialed_at, connected_at);
        }
    }
    Ok(calls)
}

/// The current status of dial requests named by id (for applying events).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    /// Dial request id.
    pub id: Uuid,
    /// Contact id, once recorded.
    pub contact_id: Option<String>,
    /// Stored phase.
    pub contact_phase: Option<Phase>,
    /// Stored outcome.
    pub outcome: Option<Outcome>,
    /// Request state.
    pub state: DialRequestState,
    /// Event kinds already in the timeline.
    pub recorded: Vec<String>,
    /// The contacts of its earlier attempts, whose late events change nothing.
    pub past_contacts: Vec<String>,
}

/// Looks up requests by id or, for events that carry only a contact id, through the batch
/// that created the contact.
pub async fn contact_rows(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    contact_ids: &[String],
) -> Result<Vec<ContactRow>, EngineError> {
    Ok(sqlx::query_as(
        "with by_contact as (
             select m.request_id as id, m.contact_id
             from contact_batch_contact m
             where m.contact_id = any($2)
         ),
         wanted as (
             select unnest($1::uuid[]) as id union select id from by_contact
         )
         select d.id, coalesce(d.contact_id, c.contact_id) as contact_id,
                d.contact_phase, d.outcome, d.state,
                array(select jsonb_object_keys(d.timeline)) as recorded,
                array(select h ->> 'contactId' from jsonb_array_elements(d.attempt_history) h
                      where h ->> 'contactId' is not null) as past_contacts
         from wanted w join dial_request d on d.id = w.id
         left join by_contact c on c.id = d.id",
    )
    .bind(ids)
    .bind(contact_ids)
    .fetch_all(db)
    .await?)
}

impl From<&ContactRow> for StoredStatus {
    fn from(row: &ContactRow) -> Self {
        Self {
            phase: row.contact_phase,
            outcome: row.outcome,
            state: row.state,
        }
    }
}

/// Which in-flight contacts [`contact_suspects`] returns.
#[derive(Debug, Clone, Copy)]
pub enum SuspectFilter {
    /// Every one.
    All,
    /// Those created by batches claimed under a fence below this one: a previous owner's.
    InheritedBefore(i64),
    /// Those with no news (no event, no check) for this long, on the database clock.
    SilentFor(chrono::Duration),
}

/// An in-flight contact whose events may never come.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Suspect {
    /// Dial request.
    pub id: Uuid,
    /// Its campaign.
    pub campaign_id: String,
    /// The contact-center instance the campaign dials through.
    pub instance_id: String,
    /// The contact.
    pub contact_id: String,
    /// The `ClientToken` of the batch that created it.
    pub client_token: String,
}

/// In-flight contacts (the contact exists: its batch's answer or an event named it) of the
/// given campaigns, as `filter` selects.
pub async fn contact_suspects(
    db: impl PgExecutor<'_>,
    campaign_ids: &[String],
    filter: SuspectFilter,
) -> Result<Vec<Suspect>, EngineError> {
    let (fence, silence) = match filter {
        SuspectFilter::All => (None, None),
        SuspectFilter::InheritedBefore(fence) => (Some(fence), None),
        SuspectFilter::SilentFor(silence) => (None, Some(silence)),
    };
    Ok(sqlx::query_as(
        "select d.id, d.campaign_id, c.connect_instance_id as instance_id,
                dial_request_contact_id(d) as contact_id, b.client_token
         from dial_request d
         join contact_batch b on b.id = d.batch_id
         join campaign c on c.id = d.campaign_id
         where d.state = 'in_progress' and d.campaign_id = any($1)
           and dial_request_contact_id(d) is not null
           and ($2::bigint is null or b.fence < $2)
           and ($3::interval is null or d.updated_at < now() - $3)",
    )
    .bind(campaign_ids)
    .bind(fence)
    .bind(silence)
    .fetch_all(db)
    .await?)
}

/// Makes a previous owner's unresolved batches of a campaign due now: the daemon that was
/// calling them is gone, so no call of theirs is in flight, and the ClientToken makes the
/// re-send safe. Guarded by the lease.
pub async fn batch_inherit_many(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
    owner: &str,
    fence: i64,
) -> Result<(), EngineError> {
    sqlx::query(
        "update contact_batch b set next_attempt_at = now()
         where b.campaign_id = $1 and b.resolved_at is null and b.fence < $3
           and exists (select 1 from campaign_lease l
                       where l.campaign_id = $1 and l.owner = $2 and l.fence = $3)",
    )
    .bind(campaign_id)
    .bind(owner)
    .bind(fence)
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact_center::FailureReasonCode;
    use crate::queue::store::{campaign_pending_add, campaign_pending_count};

    /// A running campaign `c` leased to `me` under fence 1, with `n` pending requests.
    async fn running_campaign(pool: &PgPool, n: i64) {
        sqlx::query(
            "insert into campaign (id, arn, name, connect_instance_id, dialer_config, outbound_call_config, account_id, state)
             values ('c', 'arn:aws:connect-campaigns:us-east-1:123456789012:campaign/c', 'c', 'i', '{}', '{}', '123456789012', 'Running')",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into campaign_lease (campaign_id, owner, fence, expires_at)
             values ('c', 'me', 1, now() + interval '1 hour')",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest)
             select gen_random_uuid(), 'c', 't' || i, '+14155550123', now() + interval '1 hour', '{}', ''
             from generate_series(1, $1) as i",
        )
        .bind(n)
        .execute(pool)
        .await
        .unwrap();
        campaign_pending_add(pool, "c", n).await.unwrap();
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// Hours 08:00-21:00 on Mondays and Tuesdays, zones from the attribute `timeZone`.
    fn monday_and_tuesday_hours(
        default_zone: Option<chrono_tz::Tz>,
    ) -> Option<std::sync::Arc<CommunicationTime>> {
        let hours = crate::campaigns::channels::TimeWindow {
            open_hours: crate::campaigns::channels::OpenHours::DailyHours(
                ["MONDAY", "TUESDAY"]
                    .map(|d| {
                        let range = crate::campaigns::channels::TimeRange {
                            start_time: "T08:00".into(),
                            end_time: "T21:00".into(),
                        };
                        (d.to_string(), vec![range])
                    })
                    .into(),
            ),
            restricted_periods: None,
        };
        Some(std::sync::Arc::new(CommunicationTime {
            window: crate::rules::window::Window::compile(&hours).unwrap(),
            default_zone,
            zone_attribute: "timeZone".into(),
        }))
    }

    /// A claim on Monday 2026-06-15 at 13:30 UTC, with [`monday_and_tuesday_hours`] and New
    /// York as the campaign's zone.
    fn monday_1330_utc_with_hours() -> ClaimScope {
        ClaimScope {
            now: at("2026-06-15T13:30:00Z"),
            dialed_at: at("2026-06-15T13:30:00Z"),
            communication_time: monday_and_tuesday_hours(Some(chrono_tz::America::New_York)),
            ..scope()
        }
    }

    /// The client tokens of the requests of `claimed`'s batches, sorted.
    async fn claimed_tokens(pool: &PgPool, claimed: &Claimed) -> Vec<String> {
        let ids: Vec<Uuid> = claimed
            .batches
            .iter()
            .flat_map(|b| b.items.iter().map(|i| i.id))
            .collect();
        sqlx::query_scalar("select client_token from dial_request where id = any($1) order by 1")
            .bind(&ids)
            .fetch_all(pool)
            .await
            .unwrap()
    }

    fn scope() -> ClaimScope {
        ClaimScope {
            campaign_id: "c".into(),
            owner: "me".into(),
            fence: 1,
            now: Utc::now(),
            dialed_at: Utc::now(),
            margin: chrono::Duration::seconds(1),
            call_timeout: chrono::Duration::seconds(10),
            template: BatchTemplate {
                instance_id: "i".into(),
                queue_id: None,
                contact_flow_id: "f".into(),
                source_phone_number: None,
                answer_machine_detection: false,
                sms: None,
            },
            communication_time: None,
            abandoned_quiet: chrono::Duration::zero(),
        }
    }

    #[sqlx::test]
    async fn a_batch_sheds_what_it_cannot_dial_before_its_first_call_and_resends_the_rest(
        pool: PgPool,
    ) {
        running_campaign(&pool, 4).await;
        let scope = scope();
        let batch = batch_claim(&pool, &scope, 4)
            .await
            .unwrap()
            .batches
            .remove(0);
        // One expired, one whose hours closed: it waits in the queue until they open.
        let (expired, closed) = (batch.items[1].id, batch.items[2].id);
        let opens = at("2026-06-16T12:00:00Z");
        let results = [
            (expired, ItemResult::Expired),
            (
                closed,
                ItemResult::Retry {
                    reason: FailureReason::DialByPassed,
                    not_before: opens,
                },
            ),
        ];

        let stale = batch_shed(&pool, &batch, "me", 2, scope.now, &results).await;
        assert!(
            matches!(stale, Err(EngineError::StaleLease(_))),
            "{stale:?}"
        );
        batch_shed(&pool, &batch, "me", 1, scope.now, &results)
            .await
            .unwrap();

        type Row = (
            DialRequestState,
            Option<String>,
            Option<DateTime<Utc>>,
            bool,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "select state, reason, not_before, batch_id is not null
             from dial_request join unnest($1::uuid[]) with ordinality as q(id, i) using (id)
             order by q.i",
        )
        .bind([expired, closed])
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                (
                    DialRequestState::Expired,
                    Some("EXPIRED".into()),
                    None,
                    true
                ),
                (
                    DialRequestState::Pending,
                    Some("DIAL_BY_PASSED".into()),
                    Some(opens),
                    false
                ),
            ]
        );
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 1);
        // A re-send is the call the first one was: the batch without the shed requests.
        let later = scope.now + chrono::Duration::minutes(1);
        let resent = batch_due_many(&pool, "c", "me", 1, later, scope.call_timeout)
            .await
            .unwrap();
        let kept: Vec<Uuid> = resent[0].items.iter().map(|item| item.id).collect();
        let mut expected: Vec<Uuid> = batch
            .items
            .iter()
            .map(|item| item.id)
            .filter(|id| *id != expired && *id != closed)
            .collect();
        expected.sort();
        assert_eq!(kept, expected);
    }

    #[sqlx::test]
    async fn a_claim_records_when_each_request_must_be_dialed_by(pool: PgPool) {
        running_campaign(&pool, 3).await;
        // At Monday 13:30 UTC the hours (08:00-21:00) are open in New York (t1, t2) and
        // Chicago (t3), closing at 21:00 there: 01:00 and 02:00 UTC. t1 expires before; the
        // schedule ends at 01:30 UTC, between the two closes.
        sqlx::query(
            "update dial_request set
                 expires_at = case client_token when 't1' then timestamptz '2026-06-15T14:00:00Z'
                                                else timestamptz '2026-06-20T00:00:00Z' end,
                 attributes = case client_token when 't3' then '{\"timeZone\": \"America/Chicago\"}'::jsonb
                                                else '{\"timeZone\": \"America/New_York\"}'::jsonb end",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "update campaign set schedule = '{\"startTime\": \"2026-06-15T00:00:00Z\",
                                              \"endTime\": \"2026-06-16T01:30:00Z\"}'",
        )
        .execute(&pool)
        .await
        .unwrap();
        let claimed = batch_claim(&pool, &monday_1330_utc_with_hours(), 3)
            .await
            .unwrap();
        let in_batch: Vec<DateTime<Utc>> = claimed.batches[0]
            .items
            .iter()
            .map(|item| item.dial_by)
            .collect();
        let stored: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "select client_token, dial_by from dial_request where id = any($1) order by id",
        )
        .bind(
            claimed.batches[0]
                .items
                .iter()
                .map(|i| i.id)
                .collect::<Vec<_>>(),
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            in_batch,
            stored.iter().map(|(_, at)| *at).collect::<Vec<_>>()
        );
        let mut stored = stored;
        stored.sort();
        assert_eq!(
            stored,
            [
                ("t1".to_string(), at("2026-06-15T14:00:00Z")),
                ("t2".to_string(), at("2026-06-16T01:00:00Z")),
                ("t3".to_string(), at("2026-06-16T01:30:00Z")),
            ]
        );
        // A re-send reads them back.
        let later = at("2026-06-15T13:31:00Z");
        let resent = batch_due_many(&pool, "c", "me", 1, later, chrono::Duration::seconds(10))
            .await
            .unwrap();
        assert_eq!(
            resent[0]
                .items
                .iter()
                .map(|item| item.dial_by)
                .collect::<Vec<_>>(),
            in_batch
        );
    }

    #[sqlx::test]
    async fn a_listed_number_is_refused_by_the_claim_and_the_ledger_says_why(pool: PgPool) {
        running_campaign(&pool, 3).await;
        // One request for another number; the others' number is listed after they queued.
        sqlx::query(
            "update dial_request set phone_number = '+14155550199' where client_token = 't1'",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into do_not_call (account_id, list, number_hash)
             values ('123456789012', '', number_hash('+14155550123'))",
        )
        .execute(&pool)
        .await
        .unwrap();
        let claimed = batch_claim(&pool, &scope(), 3).await.unwrap();
        assert_eq!(
            claimed.refused,
            std::collections::BTreeMap::from([("DO_NOT_CALL".to_string(), 2)])
        );
        let [batch] = claimed.batches.as_slice() else {
            panic!("one batch expected, got {}", claimed.batches.len());
        };
        assert_eq!(batch.items.len(), 1);
        assert_eq!(batch.items[0].phone_number, "+14155550199");
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 0);
        let states: Vec<(DialRequestState, Option<String>)> =
            sqlx::query_as("select state, reason from dial_request order by state, reason")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            states,
            [
                (DialRequestState::InProgress, None),
                (DialRequestState::Failed, Some("DO_NOT_CALL".into())),
                (DialRequestState::Failed, Some("DO_NOT_CALL".into())),
            ]
        );
        let ledger: Vec<(String, String, i32, bool)> = sqlx::query_as(
            "select verdict::text, rule, attempt, number_hash = number_hash(d.phone_number)
             from rule_decision r join dial_request d on d.id = r.request_id
             order by verdict, rule",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            ledger,
            [
                ("dial".into(), "all_passed".into(), 1, true),
                ("refuse".into(), "do_not_call".into(), 1, true),
                ("refuse".into(), "do_not_call".into(), 1, true),
            ]
        );
        // The ledger cannot be rewritten.
        assert!(sqlx::query("delete from rule_decision")
            .execute(&pool)
            .await
            .is_err());
        assert!(sqlx::query("update rule_decision set verdict = 'dial'")
            .execute(&pool)
            .await
            .is_err());
    }

    #[sqlx::test]
    async fn closed_hours_park_a_request_until_they_open_and_the_ledger_says_where(pool: PgPool) {
        running_campaign(&pool, 3).await;
        // t1 is in Tokyo, t2 names no zone the campaign could use, t3 names none, and their
        // number (Alaska's area code, two zones) names none either: New York.
        sqlx::query(
            "update dial_request set phone_number = '+19075550123', attributes = case client_token
                 when 't1' then '{\"timeZone\": \"Asia/Tokyo\"}'::jsonb
                 when 't2' then '{\"timeZone\": \"Nowhere/Special\"}'::jsonb
                 else '{}'::jsonb end,
                 expires_at = '2026-06-20T00:00:00Z'",
        )
        .execute(&pool)
        .await
        .unwrap();
        // Monday 2026-06-15 13:30 UTC: 09:30 in New York, 22:30 in Tokyo.
        let mut scope = monday_1330_utc_with_hours();
        let claimed = batch_claim(&pool, &scope, 3).await.unwrap();
        assert_eq!(claimed.waiting, 1);
        assert!(claimed.refused.is_empty());
        let tokens: Vec<String> = sqlx::query_scalar(
            "select client_token from dial_request where state = 'in_progress' order by 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(tokens, ["t2", "t3"]);
        let parked: (DialRequestState, Option<DateTime<Utc>>) =
            sqlx::query_as("select state, not_before from dial_request where client_token = 't1'")
                .fetch_one(&pool)
                .await
                .unwrap();
        // Tuesday 08:00 in Tokyo is Monday 23:00 UTC.
        let opens = at("2026-06-15T23:00:00Z");
        assert_eq!(parked, (DialRequestState::Pending, Some(opens)));
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 1);

        // Before the opening the claim finds nothing; at it, t1 is dialed.
        scope.now = opens - chrono::Duration::minutes(1);
        assert!(batch_claim(&pool, &scope, 3)
            .await
            .unwrap()
            .batches
            .is_empty());
        scope.now = opens;
        let claimed = batch_claim(&pool, &scope, 3).await.unwrap();
        assert_eq!(claimed.batches.len(), 1);
        assert_eq!(claimed.waiting, 0);

        type Row = (String, String, String, Option<String>, Option<String>);
        let ledger: Vec<Row> = sqlx::query_as(
            "select d.client_token, r.verdict::text, r.rule,
                    r.time_zone || ' from ' || r.time_zone_source, r.local_time::text
             from rule_decision r join dial_request d on d.id = r.request_id order by r.seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let row = |t: &str, v: &str, r: &str, z: &str, l: &str| {
            (t.into(), v.into(), r.into(), Some(z.into()), Some(l.into()))
        };
        let mut first: Vec<Row> = ledger[..3].to_vec();
        first.sort();
        assert_eq!(
            first,
            [
                row(
                    "t1",
                    "wait",
                    "communication_time",
                    "Asia/Tokyo from attribute",
                    "2026-06-15 22:30:00"
                ),
                row(
                    "t2",
                    "dial",
                    "all_passed",
                    "America/New_York from campaign",
                    "2026-06-15 09:30:00"
                ),
                row(
                    "t3",
                    "dial",
                    "all_passed",
                    "America/New_York from campaign",
                    "2026-06-15 09:30:00"
                ),
            ]
        );
        assert_eq!(
            ledger[3],
            row(
                "t1",
                "dial",
                "all_passed",
                "Asia/Tokyo from attribute",
                "2026-06-16 08:00:00"
            )
        );
    }

    #[sqlx::test]
    async fn a_number_abandoned_within_the_quiet_period_waits_whichever_request_calls_it(
        pool: PgPool,
    ) {
        use chrono::SubsecRound;
        running_campaign(&pool, 4).await;
        // t1 and t2 call a number abandoned an hour ago (by some campaign of the account),
        // t3 one abandoned 73 h ago, t4 one never abandoned. t2 expires within the period.
        let now = Utc::now().trunc_subsecs(0);
        sqlx::query(
            "update dial_request d set phone_number = v.number, expires_at = $1 + v.expires
             from (values ('t1', '+14155550101', interval '10 days'),
                          ('t2', '+14155550101', interval '2 hours'),
                          ('t3', '+14155550103', interval '10 days'),
                          ('t4', '+14155550104', interval '10 days')) as v(token, number, expires)
             where d.client_token = v.token",
        )
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into abandoned_number (account_id, number_hash, abandoned_at)
             values ('123456789012', number_hash('+14155550101'), $1 - interval '1 hour'),
                    ('123456789012', number_hash('+14155550103'), $1 - interval '73 hours'),
                    ('999999999999', number_hash('+14155550104'), $1 - interval '1 hour')",
        )
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        let quiet = ClaimScope {
            now,
            dialed_at: now,
            abandoned_quiet: chrono::Duration::hours(72),
            ..scope()
        };
        let claimed = batch_claim(&pool, &quiet, 4).await.unwrap();
        assert_eq!((claimed.quiet_waits, claimed.waiting), (2, 0));
        assert!(claimed.refused.is_empty());
        let mut dialed: Vec<&str> = claimed
            .batches
            .iter()
            .flat_map(|b| b.items.iter().map(|i| i.phone_number.as_str()))
            .collect();
        dialed.sort_unstable();
        assert_eq!(dialed, ["+14155550103", "+14155550104"]);
        let states: Vec<(String, DialRequestState, Option<DateTime<Utc>>)> = sqlx::query_as(
            "select client_token, state, not_before from dial_request order by client_token",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let abandoned_at = now - chrono::Duration::hours(1);
        assert_eq!(
            states[..2],
            [
                (
                    "t1".to_string(),
                    DialRequestState::Pending,
                    Some(abandoned_at + chrono::Duration::hours(72))
                ),
                // Not past its expiration: the sweeper expires it then.
                (
                    "t2".to_string(),
                    DialRequestState::Pending,
                    Some(now + chrono::Duration::hours(2))
                ),
            ]
        );
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 2);
        let ledger: Vec<(String, String, String)> = sqlx::query_as(
            "select d.client_token, r.verdict::text, r.rule
             from rule_decision r join dial_request d on d.id = r.request_id
             order by d.client_token",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            ledger,
            [
                ("t1", "wait", "abandoned_quiet"),
                ("t2", "wait", "abandoned_quiet"),
                ("t3", "dial", "all_passed"),
                ("t4", "dial", "all_passed"),
            ]
            .map(|(t, v, r)| (t.to_string(), v.to_string(), r.to_string()))
        );
        // With the rule off, the number abandoned an hour ago is dialed.
        sqlx::query("update dial_request set not_before = null where state = 'pending'")
            .execute(&pool)
            .await
            .unwrap();
        let off = ClaimScope {
            abandoned_quiet: chrono::Duration::zero(),
            ..quiet
        };
        let claimed = batch_claim(&pool, &off, 4).await.unwrap();
        assert_eq!(claimed.quiet_waits, 0);
        assert_eq!(
            claimed.batches.iter().map(|b| b.items.len()).sum::<usize>(),
            2
        );
    }

    #[sqlx::test]
    async fn a_claim_with_hours_fills_its_batches_past_the_closed_ones_and_parks_them(
        pool: PgPool,
    ) {
        running_campaign(&pool, 6).await;
        // In expiration order: Tokyo (closed), New York (open), in turn.
        sqlx::query(
            "update dial_request set phone_number = '+19075550123',
                 attributes = case when substr(client_token, 2)::int % 2 = 1
                                   then '{\"timeZone\": \"Asia/Tokyo\"}'::jsonb else '{}'::jsonb end,
                 expires_at = '2026-06-20T00:00:00Z'::timestamptz + substr(client_token, 2)::int * interval '1 minute'",
        )
        .execute(&pool)
        .await
        .unwrap();
        let claimed = batch_claim(&pool, &monday_1330_utc_with_hours(), 2)
            .await
            .unwrap();
        let dialed: usize = claimed.batches.iter().map(|b| b.items.len()).sum();
        assert_eq!((dialed, claimed.waiting), (2, 2));
        let states: Vec<(String, DialRequestState, bool)> = sqlx::query_as(
            "select client_token, state, not_before is not null from dial_request order by expires_at",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let (pending, in_progress) = (DialRequestState::Pending, DialRequestState::InProgress);
        assert_eq!(
            states,
            [
                ("t1".into(), pending, true),
                ("t2".into(), in_progress, false),
                ("t3".into(), pending, true),
                ("t4".into(), in_progress, false),
                // Beyond the twice two it looked at: left as they were.
                ("t5".into(), pending, false),
                ("t6".into(), pending, false),
            ]
        );
    }

    /// The `not_before` of the only request.
    async fn only_not_before(pool: &PgPool) -> Option<DateTime<Utc>> {
        sqlx::query_scalar("select not_before from dial_request")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[sqlx::test]
    async fn a_request_whose_hours_close_within_the_margin_waits_for_them(pool: PgPool) {
        running_campaign(&pool, 1).await;
        sqlx::query("update dial_request set phone_number = '+19075550123', expires_at = '2026-06-20T00:00:00Z'")
            .execute(&pool)
            .await
            .unwrap();
        // Monday 20:59:59 in New York: the hours close at 21:00, within the margin.
        let scope = ClaimScope {
            now: at("2026-06-16T00:59:59Z"),
            ..monday_1330_utc_with_hours()
        };
        let claimed = batch_claim(&pool, &scope, 1).await.unwrap();
        assert!(claimed.batches.is_empty());
        assert_eq!(claimed.waiting, 1);
        let not_before = only_not_before(&pool).await;
        // Tuesday 08:00 in New York.
        assert_eq!(not_before, Some(at("2026-06-16T12:00:00Z")));
    }

    #[sqlx::test]
    async fn without_a_time_zone_a_request_is_refused(pool: PgPool) {
        running_campaign(&pool, 1).await;
        // Alaska's area code spans two zones: the number names none.
        sqlx::query("update dial_request set phone_number = '+19075550123'")
            .execute(&pool)
            .await
            .unwrap();
        let hours = crate::campaigns::channels::TimeWindow {
            open_hours: crate::campaigns::channels::OpenHours::DailyHours(Default::default()),
            restricted_periods: None,
        };
        let scope = ClaimScope {
            communication_time: Some(std::sync::Arc::new(CommunicationTime {
                window: crate::rules::window::Window::compile(&hours).unwrap(),
                default_zone: None,
                zone_attribute: "timeZone".into(),
            })),
            ..scope()
        };
        let claimed = batch_claim(&pool, &scope, 1).await.unwrap();
        assert_eq!(
            claimed.refused,
            std::collections::BTreeMap::from([("MISSING_TIME_ZONE".to_string(), 1)])
        );
        let row: (DialRequestState, Option<String>) =
            sqlx::query_as("select state, reason from dial_request")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            row,
            (DialRequestState::Failed, Some("MISSING_TIME_ZONE".into()))
        );
        let ledger: (String, String) =
            sqlx::query_as("select verdict::text, rule from rule_decision")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(ledger, ("refuse".into(), "communication_time".into()));
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 0);
    }

    #[sqlx::test]
    async fn a_claim_and_its_resolution_move_requests_and_their_counters_together(pool: PgPool) {
        running_campaign(&pool, 4).await;
        let batches = batch_claim(&pool, &scope(), 4).await.unwrap().batches;
        let [batch] = batches.as_slice() else {
            panic!("one batch expected, got {}", batches.len());
        };
        assert_eq!(batch.items.len(), 4);
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 0);

        let now = Utc::now();
        let retry_at = now + chrono::Duration::seconds(5);
        let ids: Vec<Uuid> = batch.items.iter().map(|i| i.id).collect();
        let results = [
            ItemResult::Created {
                contact_id: "contact".into(),
            },
            ItemResult::Retry {
                reason: FailureReason::Item(FailureReasonCode::RequestThrottled),
                not_before: retry_at,
            },
            ItemResult::Failed {
                reason: FailureReason::Item(FailureReasonCode::InvalidCustomerEndpoint),
            },
            ItemResult::Expired,
        ];
        let results: Vec<(Uuid, ItemResult)> = ids.iter().copied().zip(results).collect();
        batch_resolve(&pool, batch, "me", 1, now, &results)
            .await
            .unwrap();

        // State, phase, reason, whether it waits for a backoff, whether it keeps its batch.
        type Row = (DialRequestState, Option<Phase>, Option<String>, bool, bool);
        let rows: Vec<Row> = sqlx::query_as(
            "select state, contact_phase, reason, not_before is not null, batch_id is not null
                 from dial_request join unnest($1::uuid[]) with ordinality as q(id, i) using (id)
                 order by q.i",
        )
        .bind(&ids)
        .fetch_all(&pool)
        .await
        .unwrap();
        use DialRequestState as S;
        assert_eq!(
            rows,
            [
                (S::InProgress, Some(Phase::Creating), None, false, true),
                (
                    S::Pending,
                    None,
                    Some("REQUEST_THROTTLED".into()),
                    true,
                    false
                ),
                (
                    S::Failed,
                    None,
                    Some("INVALID_CUSTOMER_ENDPOINT".into()),
                    false,
                    true
                ),
                (S::Expired, None, Some("EXPIRED".into()), false, true),
            ]
        );
        assert_eq!(
            campaign_pending_count(&pool, "c").await.unwrap(),
            1,
            "the retried request is pending again"
        );
        let dials: i64 = sqlx::query_scalar(
            "select coalesce(sum(dials), 0)::bigint from campaign_hourly where campaign_id = 'c'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(dials, 1, "one contact created");

        // A daemon without the lease cannot resolve the batch, and changes nothing.
        assert!(
            batch_resolve(&pool, batch, "someone else", 2, now, &results)
                .await
                .is_err()
        );
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 1);
    }

    #[sqlx::test]
    async fn waiting_requests_join_the_claim_when_their_time_comes_earliest_deadline_first(
        pool: PgPool,
    ) {
        running_campaign(&pool, 4).await;
        let now = Utc::now();
        let minutes = |m: i64| now + chrono::Duration::minutes(m);
        // t1 waits 5 more minutes; t2 waited, and its time has come; t3 and t4 are ready.
        for (token, expires, not_before) in [
            ("t1", minutes(10), Some(minutes(5))),
            ("t2", minutes(20), Some(minutes(-1))),
            ("t3", minutes(30), None),
            ("t4", minutes(40), None),
        ] {
            sqlx::query(
                "update dial_request set expires_at = $2, not_before = $3 where client_token = $1",
            )
            .bind(token)
            .bind(expires)
            .bind(not_before)
            .execute(&pool)
            .await
            .unwrap();
        }
        let mut scope = ClaimScope { now, ..scope() };
        let claimed = batch_claim(&pool, &scope, 2).await.unwrap();
        assert_eq!(claimed_tokens(&pool, &claimed).await, ["t2", "t3"]);
        scope.now = minutes(6);
        let claimed = batch_claim(&pool, &scope, 2).await.unwrap();
        assert_eq!(claimed_tokens(&pool, &claimed).await, ["t1", "t4"]);
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 0);
    }

    #[sqlx::test]
    async fn the_sweeper_expires_waiting_requests_too(pool: PgPool) {
        running_campaign(&pool, 2).await;
        // t1 waited for hours that open after its expiration, which has passed; t2 waits.
        sqlx::query(
            "update dial_request set
                 expires_at = case client_token when 't1' then now() - interval '1 minute'
                                                else now() + interval '1 hour' end,
                 not_before = case client_token when 't1' then now() - interval '1 minute'
                                                else now() + interval '30 minutes' end",
        )
        .execute(&pool)
        .await
        .unwrap();
        let report = crate::queue::store::dial_request_sweep_many(&pool, Utc::now(), 100)
            .await
            .unwrap();
        assert_eq!(report.expired, [("c".to_string(), 1)]);
        let states: Vec<(String, DialRequestState)> =
            sqlx::query_as("select client_token, state from dial_request order by 1")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            states,
            [
                ("t1".into(), DialRequestState::Expired),
                ("t2".into(), DialRequestState::Pending)
            ]
        );
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 1);
    }

    #[sqlx::test]
    async fn the_sms_window_holds_a_message_until_it_opens_in_the_numbers_zone(pool: PgPool) {
        running_campaign(&pool, 1).await;
        sqlx::query("update dial_request set channel = 'sms', expires_at = '2026-06-20T00:00:00Z'")
            .execute(&pool)
            .await
            .unwrap();
        // Monday 13:30 UTC is 06:30 in San Francisco (415), whose window opens at 08:00
        // there, 15:00 UTC; the campaign's own zone (New York) would be open.
        let mut scope = monday_1330_utc_with_hours();
        let claimed = sms_claim(&pool, &scope, 1).await.unwrap();
        assert!(claimed.batches.is_empty());
        assert_eq!(claimed.waiting, 1);
        let not_before = only_not_before(&pool).await;
        assert_eq!(not_before, Some(at("2026-06-15T15:00:00Z")));
        scope.now = at("2026-06-15T14:59:00Z");
        assert!(sms_claim(&pool, &scope, 1)
            .await
            .unwrap()
            .batches
            .is_empty());
        scope.now = at("2026-06-15T15:00:00Z");
        assert_eq!(sms_claim(&pool, &scope, 1).await.unwrap().batches.len(), 1);
        let ledger: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "select verdict::text, time_zone, time_zone_source from rule_decision order by seq",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let la = (
            Some("America/Los_Angeles".into()),
            Some("phone_number".into()),
        );
        assert_eq!(
            ledger,
            [
                ("wait".into(), la.0.clone(), la.1.clone()),
                ("dial".into(), la.0, la.1)
            ]
        );
    }

    /// Gives campaign `c` (see [`running_campaign`]) the communication limits `limits`.
    async fn limit_campaign(pool: &PgPool, limits: serde_json::Value) {
        sqlx::query("update campaign set communication_limits_override = $1 where id = 'c'")
            .bind(serde_json::json!({ "allChannelSubtypes": limits }))
            .execute(pool)
            .await
            .unwrap();
    }

    /// Gives instance `i` of campaign `c` the communication limits `limits`.
    async fn limit_instance(pool: &PgPool, limits: serde_json::Value) {
        sqlx::query(
            "insert into connect_instance_config (account_id, instance_id, service_linked_role_arn, encryption_config, communication_limits)
             values ('123456789012', 'i', 'arn:role', '{}', $1)",
        )
        .bind(serde_json::json!({ "allChannelSubtypes": limits }))
        .execute(pool)
        .await
        .unwrap();
    }

    fn per_days(max: i64, days: i64) -> serde_json::Value {
        serde_json::json!({"communicationLimitsList": [
            {"maxCountPerRecipient": max, "frequency": days, "unit": "DAY"}
        ]})
    }

    /// Requests per state and reason, and the ledger's (verdict, rule, detail) in order.
    async fn limit_outcome(
        pool: &PgPool,
    ) -> (
        Vec<(DialRequestState, Option<String>, i64)>,
        Vec<(String, String, Option<String>)>,
    ) {
        let states = sqlx::query_as(
            "select state, reason, count(*) from dial_request group by 1, 2 order by 1, 2",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let ledger =
            sqlx::query_as("select verdict::text, rule, detail from rule_decision order by seq")
                .fetch_all(pool)
                .await
                .unwrap();
        (states, ledger)
    }

    #[sqlx::test]
    async fn a_campaign_limit_refuses_the_contacts_over_it_and_the_ledger_names_it(pool: PgPool) {
        running_campaign(&pool, 3).await;
        limit_campaign(&pool, per_days(2, 1)).await;
        let claimed = batch_claim(&pool, &scope(), 3).await.unwrap();
        assert_eq!(
            claimed.batches.iter().map(|b| b.items.len()).sum::<usize>(),
            2
        );
        assert_eq!(
            claimed.refused,
            std::collections::BTreeMap::from([("LIMIT_EXCEEDED".to_string(), 1)])
        );
        let (states, ledger) = limit_outcome(&pool).await;
        assert_eq!(
            states,
            [
                (DialRequestState::InProgress, None, 2),
                (DialRequestState::Failed, Some("LIMIT_EXCEEDED".into()), 1)
            ]
        );
        let dial = ("dial".to_string(), "all_passed".to_string(), None);
        let refuse = (
            "refuse".to_string(),
            "communication_limits".to_string(),
            Some("campaign:2/1d".to_string()),
        );
        assert_eq!(ledger.iter().filter(|d| **d == dial).count(), 2);
        assert_eq!(ledger.iter().filter(|d| **d == refuse).count(), 1);
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 0);
    }

    #[sqlx::test]
    async fn a_window_counts_only_its_days(pool: PgPool) {
        running_campaign(&pool, 3).await;
        sqlx::query("update dial_request set expires_at = now() + interval '5 days'")
            .execute(&pool)
            .await
            .unwrap();
        limit_campaign(&pool, per_days(1, 1)).await;
        let start = scope();
        let at = |hours| ClaimScope {
            now: start.now + chrono::Duration::hours(hours),
            ..scope()
        };
        assert_eq!(
            batch_claim(&pool, &at(0), 1).await.unwrap().batches.len(),
            1
        );
        // 23 hours later the contact still counts; 25 hours later it no longer does.
        let refused = batch_claim(&pool, &at(23), 1).await.unwrap();
        assert!(refused.batches.is_empty());
        assert_eq!(refused.refused.get("LIMIT_EXCEEDED"), Some(&1));
        assert_eq!(
            batch_claim(&pool, &at(25), 1).await.unwrap().batches.len(),
            1
        );
    }

    #[sqlx::test]
    async fn instance_limits_count_every_campaign_of_the_instance_unless_opted_out(pool: PgPool) {
        running_campaign(&pool, 1).await;
        limit_instance(&pool, per_days(1, 7)).await;
        // Campaign c contacts the number; campaigns d (held to the instance's limits) and e
        // (opted out) then have a request for it each.
        assert_eq!(
            batch_claim(&pool, &scope(), 1).await.unwrap().batches.len(),
            1
        );
        for (id, handling) in [("d", "OPT_IN"), ("e", "OPT_OUT")] {
            sqlx::query(
                "insert into campaign (id, arn, name, connect_instance_id, dialer_config, outbound_call_config, account_id, state, communication_limits_override)
                 select $1, arn || $1, $1, connect_instance_id, dialer_config, outbound_call_config, account_id, state, $2
                 from campaign where id = 'c'",
            )
            .bind(id)
            .bind(serde_json::json!({"instanceLimitsHandling": handling}))
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "with lease as (
                     insert into campaign_lease (campaign_id, owner, fence, expires_at)
                     values ($1, 'me', 1, now() + interval '1 hour')
                 )
                 insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest)
                 values (gen_random_uuid(), $1, 't', '+14155550123', now() + interval '1 hour', '{}', '')",
            )
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        }
        let of = |campaign: &str| ClaimScope {
            campaign_id: campaign.into(),
            ..scope()
        };
        let held = batch_claim(&pool, &of("d"), 1).await.unwrap();
        assert!(held.batches.is_empty());
        let detail: Option<String> =
            sqlx::query_scalar("select detail from rule_decision where campaign_id = 'd'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(detail.as_deref(), Some("instance:1/7d"));
        assert_eq!(
            batch_claim(&pool, &of("e"), 1).await.unwrap().batches.len(),
            1
        );
    }

    #[sqlx::test]
    async fn messages_and_calls_count_towards_the_same_limits(pool: PgPool) {
        running_campaign(&pool, 2).await;
        limit_campaign(&pool, per_days(1, 1)).await;
        sqlx::query("update dial_request set channel = 'sms' where client_token = 't1'")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            sms_claim(&pool, &scope(), 1).await.unwrap().batches.len(),
            1
        );
        let call = batch_claim(&pool, &scope(), 1).await.unwrap();
        assert!(call.batches.is_empty());
        assert_eq!(call.refused.get("LIMIT_EXCEEDED"), Some(&1));
    }

    /// Contacts in the recipient's history.
    async fn history_len(pool: &PgPool) -> Option<i32> {
        sqlx::query_scalar("select cardinality(contacts) from recipient_contact")
            .fetch_optional(pool)
            .await
            .unwrap()
    }

    #[sqlx::test]
    async fn a_decisions_config_version_names_the_instance_limits_that_apply(pool: PgPool) {
        running_campaign(&pool, 3).await;
        let claim_version = || async {
            batch_claim(&pool, &scope(), 1).await.unwrap();
            sqlx::query_as::<_, (String, String)>(
                "select r.config_version, campaign_config_version(c)
                 from rule_decision r join campaign c on c.id = r.campaign_id
                 order by r.seq desc limit 1",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        let (alone, campaigns) = claim_version().await;
        assert_eq!(alone, campaigns);
        limit_instance(&pool, per_days(5, 7)).await;
        let (held, campaigns) = claim_version().await;
        assert_ne!(held, campaigns);
        // Opted out, the instance's limits decide nothing: the campaign's own version.
        sqlx::query("update campaign set communication_limits_override = '{\"instanceLimitsHandling\": \"OPT_OUT\"}'")
            .execute(&pool)
            .await
            .unwrap();
        let (opted_out, campaigns) = claim_version().await;
        assert_eq!(opted_out, campaigns);
    }

    #[sqlx::test]
    async fn histories_are_kept_where_a_campaign_or_instance_limit_counts_them(pool: PgPool) {
        running_campaign(&pool, 3).await;
        sqlx::query("update campaign set communication_limits_override = '{\"instanceLimitsHandling\": \"OPT_OUT\"}'")
            .execute(&pool)
            .await
            .unwrap();
        // No limit anywhere: no history to write on every claim.
        assert_eq!(
            batch_claim(&pool, &scope(), 1).await.unwrap().batches.len(),
            1
        );
        assert_eq!(history_len(&pool).await, None);
        // The instance has limits: an opted-out campaign's contacts count towards them.
        limit_instance(&pool, per_days(5, 7)).await;
        assert_eq!(
            batch_claim(&pool, &scope(), 2).await.unwrap().batches[0]
                .items
                .len(),
            2
        );
        assert_eq!(history_len(&pool).await, Some(2));
    }
}
