//! Dial-request SQL. This store owns every write to `dial_request`, to its pending counter
//! (`campaign_pending`) and to the hourly outcome counts (`campaign_hourly`): admission,
//! sweeping, contact updates and ends here, and the request side of the engine's claim and
//! batch resolution as CTEs ([`claim_ctes`], [`resolve_ctes`]) that the engine's store
//! splices into its statements, so that each stays one round trip. Every state change is a
//! [`Transition`] whose guard comes from the lifecycle. Also: queue-depth and status reads,
//! and how a request's contact phase and outcome are stored.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool, Postgres};
use uuid::Uuid;

use super::lifecycle::{FailureReason, Transition};
use super::{BatchOutcome, Channel, DialRequestState, ItemOutcome, NewDialRequest, QueueError};
use crate::accounts::AccountId;
use crate::campaigns::CampaignState;
use crate::contacts::{Outcome, Phase, TimelineEntry};

/// Reads and writes an enum as its `as_str` spelling in a `text` column, refusing a
/// spelling it does not know (the column's CHECK constraint keeps such values out).
macro_rules! stored_as_text {
    ($ty:ty, $what:literal) => {
        impl sqlx::Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as sqlx::Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl PgHasArrayType for $ty {
            fn array_type_info() -> PgTypeInfo {
                <&str as PgHasArrayType>::array_type_info()
            }
        }

        impl sqlx::Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as sqlx::Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as sqlx::Decode<Postgres>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| format!("unknown {} {text:?}", $what).into())
            }
        }
    };
}

stored_as_text!(Phase, "contact phase");
stored_as_text!(Outcome, "call outcome");

/// Shards of the per-campaign pending counter (see the migration): enough that concurrent
/// ingest transactions rarely meet on one row.
pub const PENDING_SHARDS: i16 = 16;

#[derive(sqlx::FromRow)]
struct AdmitRow {
    campaign_state: Option<CampaignState>,
    client_token: String,
    id: Option<Uuid>,
    stored_digest: Option<Vec<u8>>,
}

/// Admits a batch into a campaign's queue in one statement (one round trip, one
/// transaction): reads the campaign's state, inserts new requests up to the pending cap and
/// bumps one shard of the pending counter; replayed tokens are then looked up.
///
/// The campaign row is not locked, so that concurrent batches never queue on it: a batch
/// that races a StopCampaign may land just after the stop, and the sweeper then cancels its
/// requests like any other pending request of a stopped campaign. Nothing is ever dialed for
/// a stopped campaign.
///
/// `requests` must not repeat a clientToken; the caller resolves repeats within a batch. A
/// campaign of another account than `account` is not found.
pub async fn dial_request_admit_many(
    pool: &PgPool,
    account: &AccountId,
    campaign_id: &str,
    requests: &[NewDialRequest],
    max_pending: i64,
) -> Result<BatchOutcome, QueueError> {
    let tokens: Vec<&str> = requests.iter().map(|r| r.client_token.as_str()).collect();
    let phones: Vec<&str> = requests.iter().map(|r| r.phone_number.as_str()).collect();
    let expirations: Vec<DateTime<Utc>> = requests.iter().map(|r| r.expires_at).collect();
    let attributes: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| {
            serde_json::Value::Object(
                r.attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        })
        .collect();
    let digests: Vec<Vec<u8>> = requests.iter().map(NewDialRequest::digest).collect();
    let channels: Vec<&str> = requests.iter().map(|r| r.channel.as_sql()).collect();
    let parameters: Vec<Option<&serde_json::Value>> = requests
        .iter()
        .map(|r| r.channel_parameters.as_ref())
        .collect();
    let new_ids: Vec<Uuid> = requests.iter().map(|_| super::new_id()).collect();
    let shard = rand::random_range(0..PENDING_SHARDS);

    static ADMIT: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"
        with camp as (
            select state from campaign where id = $1 and account_id = $10
        ),
        input as (
            select * from unnest($2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::bytea[], $7::uuid[], $11::text[], $12::jsonb[])
                with ordinality as t(client_token, phone_number, expires_at, attributes, digest, new_id, channel, channel_parameters, ord)
        ),
        depth as (
            select coalesce(sum(n), 0) as pending from campaign_pending where campaign_id = $1
        ),
        inserted as (
            insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest, channel, channel_parameters)
            select i.new_id, $1, i.client_token, i.phone_number, i.expires_at, i.attributes, i.digest, i.channel, i.channel_parameters
            from input i, camp, depth
            where camp.state not in {ended} and depth.pending + i.ord <= $8
            on conflict (campaign_id, client_token) do nothing
            returning id, client_token, digest
        ),
        bump as ({bump})
        select (select state from camp) as campaign_state,
               i.client_token,
               ins.id,
               ins.digest as stored_digest
        from input i
        left join inserted ins on ins.client_token = i.client_token
        order by i.ord
        "#,
            bump = pending_add("select $1, $9, count(*) from inserted having count(*) > 0"),
            ended = CampaignState::ended_sql(),
        )
    });
    let mut rows: Vec<AdmitRow> = sqlx::query_as(&ADMIT)
        .bind(campaign_id)
        .bind(&tokens)
        .bind(&phones)
        .bind(&expirations)
        .bind(&attributes)
        .bind(&digests)
        .bind(&new_ids)
        .bind(max_pending)
        .bind(shard)
        .bind(account.as_str())
        .bind(&channels)
        .bind(&parameters)
        .fetch_all(pool)
        .await?;

    let state = rows
        .first()
        .and_then(|row| row.campaign_state)
        .ok_or_else(|| QueueError::CampaignNotFound(campaign_id.to_string()))?;
    if !state.accepts_dial_requests() {
        return Ok(BatchOutcome::CampaignEnded(state));
    }
    // Not inserted: a replay, a token a concurrent batch just stored, or over the cap. A
    // second statement (rare: only when a batch repeats tokens or the queue is full) finds
    // the stored ones; what it does not find was throttled. Items of a full queue are offered
    // in order, so replays near the cap may take a slot that a new item could have used;
    // they are answered from the table all the same.
    let missing: Vec<&str> = rows
        .iter()
        .filter(|row| row.id.is_none())
        .map(|row| row.client_token.as_str())
        .collect();
    if !missing.is_empty() {
        let found: Vec<(String, Uuid, Vec<u8>)> = sqlx::query_as(
            "select client_token, id, digest from dial_request where campaign_id = $1 and client_token = any($2)",
        )
        .bind(campaign_id)
        .bind(&missing)
        .fetch_all(pool)
        .await?;
        for row in rows.iter_mut() {
            if let Some((_, id, digest)) = found.iter().find(|(t, _, _)| *t == row.client_token) {
                row.id = Some(*id);
                row.stored_digest = Some(digest.clone());
            }
        }
    }
    let digest_of: HashMap<&str, &[u8]> = requests
        .iter()
        .zip(&digests)
        .map(|(r, d)| (r.client_token.as_str(), d.as_slice()))
        .collect();
    let outcomes = rows
        .into_iter()
        .map(|row| match (row.id, row.stored_digest) {
            (Some(id), Some(stored))
                if digest_of.get(row.client_token.as_str()) == Some(&stored.as_slice()) =>
            {
                ItemOutcome::Accepted { id: id.to_string() }
            }
            (Some(_), _) => ItemOutcome::TokenReused,
            (None, _) => ItemOutcome::Throttled,
        })
        .collect();
    Ok(BatchOutcome::Admitted(outcomes))
}

/// Every channel's spelling as an SQL array literal.
fn channel_array() -> String {
    let channels: Vec<String> = Channel::ALL
        .iter()
        .map(|c| format!("'{}'", c.as_sql()))
        .collect();
    format!("array[{}]", channels.join(", "))
}

/// Requests the sweeper ended in one pass, per campaign and final state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// (campaign id, requests) that passed their expiration time.
    pub expired: Vec<(String, i64)>,
    /// (campaign id, requests) whose campaign was stopped or failed.
    pub cancelled: Vec<(String, i64)>,
}

/// The sweeper's lapsed requests of one part of the pending queue (`part`, a condition on
/// `not_before`), campaign by campaign and channel by channel on that part's index (in
/// `order`), at most `$2`, expired by `$1`, locked.
fn lapsed_part(part: &str, order: &str) -> String {
    format!(
        "select l.id
         from campaign c
         cross join unnest({channels}::text[]) as ch(channel)
         cross join lateral (
             select id from dial_request
             where campaign_id = c.id and channel = ch.channel and state = '{pending}'
               and {part} and expires_at <= $1
             order by {order}
             limit $2
             for update skip locked
         ) l
         limit $2",
        channels = channel_array(),
        pending = DialRequestState::Pending.as_str(),
    )
}

/// Ends up to `limit` pending requests that can never be dialed: those of stopped campaigns
/// (cancelled) and those past their expiration at `now` (expired). Rows locked by a claimer
/// are skipped; every ended row leaves the pending counter in the same statement.
pub async fn dial_request_sweep_many(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<SweepReport, QueueError> {
    let shard = rand::random_range(0..PENDING_SHARDS);
    static SWEEP: LazyLock<String> = LazyLock::new(|| {
        format!(
            r#"
        with stopped as (
            select d.id
            from dial_request d join campaign c on c.id = d.campaign_id
            where d.state = '{pending}' and c.state in {ended}
            limit $2
            for update of d skip locked
        ),
        lapsed as (
            -- Campaign by campaign, on each one's pending index (the claim's): an index
            -- over every campaign's expirations would also be the claim's, and lead it
            -- through the other campaigns' requests.
            -- Channel by channel too: the index orders expirations within a channel.
            -- Ready requests on the index's ready part; waiting ones on the waiting index,
            -- by their time: a request never waits past its expiration (calling hours wait
            -- until the opening or the expiration, a backoff ends before it), so a lapsed
            -- one's time has come.
            select id from (
                ({ready})
                union all
                ({waiting})
            ) ready_or_waiting
            limit $2
        ),
        verdicts as (
            -- A request both lapsed and of a stopped campaign counts as cancelled. The sweeper
            -- ends pending requests only: an expiry in progress is the engine's, when its
            -- batch resolves.
            select id, '{cancelled}'::dial_request_state as verdict, '{stopped}' as reason from stopped
            union all
            select id, '{expired}', '{expired_reason}' from lapsed where id not in (select id from stopped)
        ),
        ended as (
            update dial_request d
            set state = v.verdict, reason = v.reason, updated_at = now()
            from verdicts v
            where d.id = v.id and d.state = '{pending}'
            returning d.campaign_id, d.state
        ),
        per_campaign as (
            select campaign_id, state, count(*) as n from ended group by campaign_id, state
        ),
        counted as ({counted})
        select campaign_id, state, n from per_campaign
        "#,
            ready = lapsed_part("not_before is null", "expires_at"),
            waiting = lapsed_part("not_before is not null and not_before <= $1", "not_before"),
            pending = DialRequestState::Pending.as_str(),
            cancelled = Transition::Cancel.target().as_str(),
            stopped = FailureReason::CampaignStopped.as_str(),
            expired = Transition::Expire.target().as_str(),
            expired_reason = FailureReason::Expired.as_str(),
            ended = CampaignState::ended_sql(),
            counted = pending_add(
                "select campaign_id, $3, -sum(n) from per_campaign group by campaign_id"
            ),
        )
    });
    let rows: Vec<(String, DialRequestState, i64)> = sqlx::query_as(&SWEEP)
        .bind(now)
        .bind(limit)
        .bind(shard)
        .fetch_all(db)
        .await?;
    let mut report = SweepReport::default();
    for (campaign_id, state, n) in rows {
        match state {
            DialRequestState::Expired => report.expired.push((campaign_id, n)),
            _ => report.cancelled.push((campaign_id, n)),
        }
    }
    Ok(report)
}

/// Deletes up to `limit` finished requests (completed, expired, failed, cancelled) that last
/// changed before `before`, oldest first, with their timelines (the contact events live in
/// the row). Returns the number deleted per campaign. Pending and in-progress requests are
/// never deleted, whatever their age: the state is checked again on the row being deleted,
/// and rows another sweeper or a late contact's update holds are skipped. The pending counter
/// and the hourly counts are untouched: finished rows are in neither's pending share, and
/// the abandonment window outlives the rows.
pub async fn dial_request_purge_many(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(String, i64)>, QueueError> {
    static PURGE: LazyLock<String> = LazyLock::new(|| {
        let finished = DialRequestState::FINISHED.map(|s| format!("'{}'", s.as_str()));
        let finished = format!("({})", finished.join(", "));
        // The state list is the predicate of the index `dial_request_finished`, spelled the
        // same so that the planner uses it.
        format!(
            "with old as (
                 select id from dial_request
                 where state in {finished} and updated_at < $1
                 order by updated_at
                 limit $2
                 for update skip locked
             ),
             deleted as (
                 delete from dial_request d using old
                 where d.id = old.id and d.state in {finished}
                 returning d.campaign_id
             )
             select campaign_id, count(*) from deleted group by campaign_id"
        )
    });
    Ok(sqlx::query_as(&PURGE)
        .bind(before)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// Makes ready up to `limit` waiting requests of a campaign's `channel` whose time (calling
/// hours, backoff) has come at `now`, earliest first, by clearing their `not_before`: the
/// claim walks ready requests alone, so that a backlog of waiting ones never slows it.
/// Rows a claimer holds are skipped. Returns how many it made ready. (The ids go through an
/// array so that the update finds them by primary key: a join with the subquery may be
/// planned as a scan of the whole table.)
pub async fn dial_request_ready_many(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
    channel: Channel,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<u64, QueueError> {
    static READY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "update dial_request set not_before = null
             where state = '{pending}' and id = any(array(
                 select id from dial_request
                 where campaign_id = $1 and channel = $2 and state = '{pending}'
                   and not_before is not null and not_before <= $3
                 order by not_before
                 limit $4
                 for update skip locked))",
            pending = DialRequestState::Pending.as_str(),
        )
    });
    Ok(sqlx::query(&READY)
        .bind(campaign_id)
        .bind(channel.as_sql())
        .bind(now)
        .bind(limit)
        .execute(db)
        .await?
        .rows_affected())
}

/// Requests per campaign and state, for the queue-depth gauge.
pub async fn dial_request_depth(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(String, DialRequestState, i64)>, QueueError> {
    Ok(sqlx::query_as(
        "select campaign_id, state, count(*) from dial_request group by campaign_id, state",
    )
    .fetch_all(db)
    .await?)
}

/// Adds `n` to a campaign's pending counter, for requests inserted outside
/// [`dial_request_admit_many`] (the benchmarks' bulk loads).
pub async fn campaign_pending_add(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
    n: i64,
) -> Result<(), QueueError> {
    static ADD: LazyLock<String> = LazyLock::new(|| pending_add("values ($1, $2, $3)"));
    sqlx::query(&ADD)
        .bind(campaign_id)
        .bind(rand::random_range(0..PENDING_SHARDS))
        .bind(n)
        .execute(db)
        .await?;
    Ok(())
}

/// Pending requests of one campaign, from the sharded counter.
pub async fn campaign_pending_count(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
) -> Result<i64, QueueError> {
    Ok(sqlx::query_scalar(
        "select coalesce(sum(n), 0)::bigint from campaign_pending where campaign_id = $1",
    )
    .bind(campaign_id)
    .fetch_one(db)
    .await?)
}

/// The pending counter's one upsert: adds the `(campaign_id, shard, n)` rows that `rows`
/// selects (or lists as `values`), each to its shard. Every statement that moves requests
/// into or out of `pending` includes it, so the counter changes in the same transaction as
/// the rows.
fn pending_add(rows: &str) -> String {
    format!(
        "insert into campaign_pending (campaign_id, shard, n) {rows}
         on conflict (campaign_id, shard) do update set n = campaign_pending.n + excluded.n"
    )
}

/// Shards of the hourly outcome counts (see the migration): enough that concurrent batch
/// resolutions and event writes rarely meet on one row.
const HOURLY_SHARDS: i16 = PENDING_SHARDS;

/// The hourly counts' one upsert: adds the rows that `rows` selects, as `(campaign_id, hour,
/// shard, <counts>…)`, to the named `counts` columns of their shard.
fn hourly_add(rows: &str, counts: &[&str]) -> String {
    let added: Vec<String> = counts
        .iter()
        .map(|c| format!("{c} = campaign_hourly.{c} + excluded.{c}"))
        .collect();
    format!(
        "insert into campaign_hourly (campaign_id, hour, shard, {columns}) {rows}
         on conflict (campaign_id, hour, shard) do update set {added}",
        columns = counts.join(", "),
        added = added.join(", "),
    )
}

/// The request side of the engine's claim, as CTEs for its statement: `claimed` takes the
/// requests of the caller's CTE `slotted (id, batch_id, dial_by)`, which it selected pending
/// and locked, into their batches, each to be dialed by its `dial_by` (no call of the batch
/// may start later), placed at the SQL expression `dialed_at`, in contact phase
/// `phase` (a call's `creating`; none for a message, which no pacing counts as a call);
/// `refused` ends the requests of the caller's CTE `refusals (id, reason)` (selected and
/// locked likewise), which a calling rule forbids, as failed with their reason; `waited`
/// leaves the requests of the SQL from-item `waits (id, until, rule)` (locked by the caller's
/// transaction) pending, not to be claimed before `until`, for the rule that holds them;
/// `counted` takes the claimed and
/// refused off the pending counter of `campaign`, on shard `shard`. `claimed` returns each
/// request's `batch_id, id, phone_number, attributes, expires_at, dial_by, attempts,
/// channel_parameters`; `refused` its `id, expires_at, phone_number, reason` and the
/// `attempt` it would have been; `waited` its `id, expires_at, phone_number, attempt, rule`.
pub fn claim_ctes(
    campaign: &str,
    shard: &str,
    dialed_at: &str,
    phase: Option<Phase>,
    waits: &str,
) -> String {
    format!(
        "claimed as (
            update dial_request d
            set state = '{in_progress}', batch_id = s.batch_id, attempts = d.attempts + 1,
                contact_phase = {phase}, not_before = null, reason = null,
                dialed_at = {dialed_at}, dial_by = s.dial_by, updated_at = now()
            from slotted s where d.id = s.id and {guard}
            returning d.batch_id, d.id, d.phone_number, d.attributes, d.expires_at, d.dial_by,
                      d.attempts, d.channel_parameters
        ),
        refused as (
            update dial_request d
            set state = '{failed}', reason = r.reason, not_before = null, updated_at = now()
            from refusals r where d.id = r.id and {refuse_guard}
            returning d.id, d.expires_at, d.phone_number, d.reason, d.attempts + 1 as attempt
        ),
        waited as (
            update dial_request d
            set not_before = w.until, updated_at = now()
            from {waits} where d.id = w.id and d.state = '{pending}'
            returning d.id, d.expires_at, d.phone_number, d.attempts + 1 as attempt, w.rule
        ),
        counted as ({counted})",
        in_progress = Transition::Claim.target().as_str(),
        phase = phase.map_or("null".to_string(), |p| format!("'{}'", p.as_str())),
        guard = Transition::Claim.sql_guard("d.state"),
        failed = Transition::Refuse.target().as_str(),
        refuse_guard = Transition::Refuse.sql_guard("d.state"),
        pending = DialRequestState::Pending.as_str(),
        counted = pending_add(&format!(
            "select {campaign}, {shard}, -((select count(*) from claimed) + (select count(*) from refused))
             having (select count(*) from claimed) + (select count(*) from refused) > 0"
        )),
    )
}

/// The request side of a batch's resolution, as CTEs for the engine's statement. Once the
/// caller's CTE `closed` has closed batch `batch`, `ended` moves each of its requests that
/// the caller's CTE `results (id, state, contact_id, reason, not_before, outcome)` moves out
/// of progress to its result's state (an [`ItemResult`]'s transition: back to the queue,
/// failed, expired, or completed for a sent SMS, with its contact and outcome); a request
/// given a call's contact stays in progress, untouched, for its contact's events to write
/// next. `requeued` puts the retried ones back on the pending counter of `campaign` (shard
/// `shard`), and `dialed` counts the calls' contacts created as dials in the hour of `now`.
///
/// [`ItemResult`]: super::lifecycle::ItemResult
pub fn resolve_ctes(batch: &str, campaign: &str, now: &str, shard: &str) -> String {
    let pending = Transition::Retry.target().as_str();
    let in_progress = DialRequestState::InProgress.as_str();
    format!(
        "ended as (
            update dial_request d
            set state = r.state, contact_phase = null, reason = r.reason,
                not_before = r.not_before,
                contact_id = coalesce(r.contact_id, d.contact_id),
                outcome = coalesce(r.outcome, d.outcome),
                batch_id = case when r.state = '{pending}' then null else d.batch_id end,
                updated_at = now()
            from results r
            where d.id = r.id and r.state <> '{in_progress}' and d.batch_id = {batch}
              and d.state = '{in_progress}' and exists (select 1 from closed)
            returning d.state
        ),
        requeued as ({requeued}),
        dialed as ({dialed})",
        requeued = pending_add(&format!(
            "select {campaign}, {shard}, count(*) from ended where state = '{pending}' having count(*) > 0"
        )),
        dialed = hourly_add(
            &format!(
                "select {campaign}, date_trunc('hour', {now}::timestamptz), {shard}, count(*) from results
                 where contact_id is not null and state = '{in_progress}'
                   and exists (select 1 from closed) having count(*) > 0"
            ),
            &["dials"],
        ),
    )
}

/// The status columns of a contact's request row, as a writer believes them to be: its
/// write takes effect only if the row still holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatus {
    /// `contact_phase`.
    pub phase: Option<Phase>,
    /// `outcome`.
    pub outcome: Option<Outcome>,
    /// `state`.
    pub state: DialRequestState,
}

impl StoredStatus {
    /// As the claim leaves a request whose contact is being created, and as its row stays
    /// until the contact's first event is written.
    pub fn claimed() -> Self {
        Self {
            phase: Some(Phase::Creating),
            outcome: None,
            state: DialRequestState::InProgress,
        }
    }
}

/// A contact's new status and the events it adds to its timeline.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    /// Dial request.
    pub id: Uuid,
    /// What its row must still hold for this update to apply.
    pub expected: StoredStatus,
    /// The contact the events are about (recorded if the batch's answer never was).
    pub contact_id: String,
    /// New phase.
    pub phase: Phase,
    /// New outcome.
    pub outcome: Option<Outcome>,
    /// Whether the request is now completed.
    pub terminal: bool,
    /// New timeline entries by event kind.
    pub events: std::collections::BTreeMap<&'static str, TimelineEntry>,
    /// Person answers, abandons and machines among the events, for the hourly counts.
    pub counts: [i32; 3],
    /// When the events happened (the hour they count in).
    pub at: DateTime<Utc>,
    /// When the last of them happened: a terminal contact's end, which a retry counts from.
    pub ended_at: DateTime<Utc>,
}

/// A contact whose update applied.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WrittenContact {
    /// Dial request.
    pub id: Uuid,
    /// Its campaign.
    pub campaign_id: String,
    /// When its call was placed.
    pub dialed_at: Option<DateTime<Utc>>,
    /// When its next attempt is due, if its call's outcome is retried.
    pub retry_at: Option<DateTime<Utc>>,
}

/// Writes contact statuses, adds the events to the timelines (requests whose contact ended
/// become `completed`) and the outcomes to the hourly counts, in one statement. Events are
/// the contact center's own account: they also record a contact id the batch's answer never
/// delivered (a call whose outcome was unknown when its requests expired).
///
/// A call that ends with an outcome its campaign's retry policy tries again (see
/// [`crate::rules::retry`]; `retries` is the config file's policies, in
/// [`RetriesConfig::to_sql`] form) does not complete its request: the ended attempt moves to
/// the request's `attempt_history`, the request goes back to `pending` (and onto the pending
/// counter) not before its retry time, with the outcome in capitals as its reason, and the
/// ledger gets a `retry` decision for the next attempt.
///
/// A call whose events include an abandon records its number's abandon for the account
/// (see [`crate::rules::store::abandon_record_cte`]), which holds back every request for the
/// number during the quiet period.
///
/// An update applies only where the row still holds its expected status and has none of its
/// events yet (optimistic concurrency: another writer, or a duplicate delivery, got there
/// first), and never with a contact of an earlier attempt or to a request waiting for its
/// next one; each row is written whole or not at all, and the counts follow the rows
/// written. Returns the contacts written; the caller reads the others again.
///
/// [`RetriesConfig::to_sql`]: crate::rules::retry::RetriesConfig::to_sql
pub async fn contact_update_many(
    pool: &PgPool,
    updates: &[&StatusUpdate],
    retries: &serde_json::Value,
) -> Result<Vec<WrittenContact>, QueueError> {
    let ids: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
    let was_phase: Vec<Option<Phase>> = updates.iter().map(|u| u.expected.phase).collect();
    let was_outcome: Vec<Option<Outcome>> = updates.iter().map(|u| u.expected.outcome).collect();
    let was_state: Vec<DialRequestState> = updates.iter().map(|u| u.expected.state).collect();
    let contacts: Vec<&str> = updates.iter().map(|u| u.contact_id.as_str()).collect();
    let phases: Vec<Phase> = updates.iter().map(|u| u.phase).collect();
    let outcomes: Vec<Option<Outcome>> = updates.iter().map(|u| u.outcome).collect();
    let terminal: Vec<bool> = updates.iter().map(|u| u.terminal).collect();
    let events: Vec<Json<&std::collections::BTreeMap<&str, TimelineEntry>>> =
        updates.iter().map(|u| Json(&u.events)).collect();
    // Event kinds are snake_case words: a comma-joined list is split back in SQL, where an
    // array per row cannot be passed.
    let kinds: Vec<String> = updates
        .iter()
        .map(|u| u.events.keys().copied().collect::<Vec<_>>().join(","))
        .collect();
    let [answers, abandons, machines] =
        [0, 1, 2].map(|i| updates.iter().map(|u| u.counts[i]).collect::<Vec<i32>>());
    let at: Vec<DateTime<Utc>> = updates.iter().map(|u| u.at).collect();
    let ended_at: Vec<DateTime<Utc>> = updates.iter().map(|u| u.ended_at).collect();
    static UPDATE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "with u as (
             select u.*, string_to_array(u.kind_list, ',') as kinds
             from unnest($1::uuid[], $2::text[], $3::text[], $4::dial_request_state[],
                         $5::text[], $6::text[], $7::text[], $8::bool[], $9::jsonb[], $10::text[],
                         $11::int[], $12::int[], $13::int[], $14::timestamptz[], $17::timestamptz[])
                 as u(id, was_phase, was_outcome, was_state, contact_id, phase, outcome, terminal,
                      events, kind_list, answers, abandons, machines, at, ended_at)
         ),
         {retried},
         written as (
             update dial_request d
             set contact_phase = case when rt.id is null then u.phase end,
                 outcome = case when rt.id is null then u.outcome end,
                 contact_id = case when rt.id is null then coalesce(d.contact_id, u.contact_id) end,
                 state = case when rt.id is not null then '{pending}'::dial_request_state
                              when u.terminal and {complete} then '{completed}'::dial_request_state
                              else d.state end,
                 reason = case when rt.id is not null then upper(u.outcome)
                               when u.terminal and d.state = '{expired}' then null
                               else d.reason end,
                 not_before = case when rt.id is not null then rt.retry_at else d.not_before end,
                 batch_id = case when rt.id is not null then null else d.batch_id end,
                 timeline = case when rt.id is null then u.events || d.timeline else '{{}}' end,
                 attempt_history = case when rt.id is null then d.attempt_history
                     else d.attempt_history || jsonb_build_array(jsonb_build_object(
                         'attempt', d.attempts, 'contactId', coalesce(d.contact_id, u.contact_id),
                         'outcome', u.outcome, 'dialedAt', d.dialed_at, 'endedAt', u.ended_at,
                         'retryAt', rt.retry_at, 'timeline', u.events || d.timeline)) end,
                 updated_at = now()
             from u left join retried rt on rt.id = u.id
             where d.id = u.id
               and d.contact_phase is not distinct from u.was_phase
               and d.outcome is not distinct from u.was_outcome
               and d.state = u.was_state
               and d.state <> '{pending}'
               and not d.timeline ?| u.kinds
               and not d.attempt_history @> jsonb_build_array(jsonb_build_object('contactId', u.contact_id))
             returning d.id, d.campaign_id, d.dialed_at, d.attempts, d.phone_number, u.answers,
                       u.abandons, u.machines, u.at, u.ended_at, rt.retry_at, rt.policy as retry_policy
         ),
         counted as ({counted}),
         requeued as ({requeued}),
         retry_decided as (
             insert into rule_decision (decided_at, campaign_id, request_id, attempt, rule, verdict,
                                        config_version, number_hash)
             select w.ended_at, w.campaign_id, w.id, w.attempts + 1, '{retry_rule}', '{retry}',
                    decision_config_version(c, i.communication_limits, w.retry_policy),
                    number_hash_with(k.inner_pad, k.outer_pad, w.phone_number)
             from written w join campaign c on c.id = w.campaign_id cross join number_hash_key k
             left join connect_instance_config i on i.account_id = c.account_id and i.instance_id = c.connect_instance_id
             where w.retry_at is not null
         ),
         {abandoned}
         select id, campaign_id, dialed_at, retry_at from written",
            retried = retried_cte(),
            complete = Transition::Complete.sql_guard("d.state"),
            completed = Transition::Complete.target().as_str(),
            pending = Transition::Retry.target().as_str(),
            // A late contact's end clears the expiry's reason.
            expired = DialRequestState::Expired.as_str(),
            counted = hourly_add(
                "select campaign_id, date_trunc('hour', at), $15, sum(answers), sum(abandons), sum(machines)
                 from written
                 group by campaign_id, date_trunc('hour', at)
                 having sum(answers + abandons + machines) > 0",
                &["person_answers", "abandons", "machines"],
            ),
            requeued = pending_add(
                "select campaign_id, $15, count(*) from written where retry_at is not null
                 group by campaign_id"
            ),
            abandoned = crate::rules::store::abandon_record_cte("written"),
            retry_rule = crate::rules::ledger::Rule::RetryPolicy.as_str(),
            retry = crate::rules::ledger::Verdict::Retry.as_str(),
        )
    });
    let query = sqlx::query_as(&UPDATE)
        .bind(&ids)
        .bind(&was_phase)
        .bind(&was_outcome)
        .bind(&was_state)
        .bind(&contacts)
        .bind(&phases)
        .bind(&outcomes)
        .bind(&terminal)
        .bind(&events)
        .bind(&kinds)
        .bind(&answers)
        .bind(&abandons)
        .bind(&machines)
        .bind(&at)
        .bind(rand::random_range(0..HOURLY_SHARDS))
        .bind(Json(retries))
        .bind(&ended_at);
    let mut tx = crate::db::begin_with(pool, crate::db::Plans::Generic).await?;
    let written = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(written)
}

/// The retry decision of [`contact_update_many`], as a CTE `retried (id, retry_at, policy)` over its
/// CTE `u`: the calls that end (`terminal`) in progress with an outcome their campaign's
/// policy retries, attempts left, and a retry time before the request's expiration. The
/// policy is the campaign's own (`campaign_retry_policy`), else the config file's (`$16`)
/// for its id, then its name, then the default; [`RetryPolicy::retry_at`] is the same rule.
/// Only calls are retried: a message is sent or not. Materialized: inlined, the planner
/// estimated it at one row and evaluated it once per written row (quadratic in the batch).
///
/// [`RetryPolicy::retry_at`]: crate::rules::retry::RetryPolicy::retry_at
fn retried_cte() -> String {
    format!(
        "retried as materialized (
             select u.id, u.ended_at + make_interval(secs => (r.rule ->> 'after_secs')::float8) as retry_at,
                    r.policy
             from u
             join dial_request d on d.id = u.id
             join campaign c on c.id = d.campaign_id
             left join campaign_retry_policy p on p.campaign_id = c.id
             cross join lateral (
                 select q.policy, q.policy -> 'outcomes' -> u.outcome as rule
                 from (select coalesce(p.policy, $16 -> 'campaigns' -> c.id, $16 -> 'campaigns' -> c.name,
                                       $16 -> 'default') as policy) q
             ) r
             where u.terminal and d.state = '{in_progress}' and d.channel = '{telephony}'
               and r.rule is not null
               and d.attempts < (r.rule ->> 'max_attempts')::int
               and u.ended_at + make_interval(secs => (r.rule ->> 'after_secs')::float8) < d.expires_at
         )",
        in_progress = Transition::Retry.sources()[0].as_str(),
        telephony = Channel::Telephony.as_sql(),
    )
}

/// Ends contacts that will never report an end, each with its reason: the request is
/// completed with the outcome its events gave it so far, or `lost`. Requests no longer in
/// progress are left alone. Returns the number ended per campaign and outcome.
pub async fn contact_end_many(
    db: impl PgExecutor<'_>,
    ended: &[(Uuid, String)],
) -> Result<Vec<(String, Outcome, i64)>, QueueError> {
    let ids: Vec<Uuid> = ended.iter().map(|(id, _)| *id).collect();
    let reasons: Vec<&str> = ended.iter().map(|(_, reason)| reason.as_str()).collect();
    static END: LazyLock<String> = LazyLock::new(|| {
        format!(
            "with ended as (
             update dial_request d
             set state = '{completed}', outcome = coalesce(d.outcome, $3),
                 contact_phase = $4, contact_id = dial_request_contact_id(d),
                 reason = g.reason, updated_at = now()
             from unnest($1::uuid[], $2::text[]) as g(id, reason)
             where d.id = g.id and d.state = '{in_progress}'
             returning d.campaign_id, d.outcome
         )
         select campaign_id, outcome, count(*) from ended group by campaign_id, outcome",
            completed = Transition::Complete.target().as_str(),
            // Not an expired request: its contact, if any, was never seen to exist.
            in_progress = DialRequestState::InProgress.as_str(),
        )
    });
    Ok(sqlx::query_as(&END)
        .bind(&ids)
        .bind(&reasons)
        .bind(Outcome::Lost)
        .bind(Phase::Completed)
        .fetch_all(db)
        .await?)
}

/// Restarts the silence timer of contacts the contact center says are still running.
pub async fn contact_touch_many(db: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<(), QueueError> {
    static TOUCH: LazyLock<String> = LazyLock::new(|| {
        format!(
            "update dial_request set updated_at = now() where id = any($1) and state = '{}'",
            DialRequestState::InProgress.as_str()
        )
    });
    sqlx::query(&TOUCH).bind(ids).execute(db).await?;
    Ok(())
}

/// What the status API shows of one request (never the number or attributes).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestStatus {
    /// Request id.
    pub id: Uuid,
    /// Client token.
    pub client_token: String,
    /// State.
    pub state: DialRequestState,
    /// Channel, as stored (`telephony`, `sms`, ...).
    pub channel: String,
    /// Why it failed, expired or was retried.
    pub reason: Option<String>,
    /// Contact id, once created.
    pub contact_id: Option<String>,
    /// Call outcome.
    pub outcome: Option<String>,
    /// Times claimed.
    pub attempts: i32,
    /// Expiration.
    pub expires_at: DateTime<Utc>,
    /// Accepted at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When its current (latest) attempt was dialed.
    pub dialed_at: Option<DateTime<Utc>>,
}

/// An earlier attempt of a request, ended with an outcome its campaign retried, as kept in
/// `dial_request.attempt_history`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PastAttempt {
    /// Its number, counted from 1.
    pub attempt: i32,
    /// Its contact.
    pub contact_id: Option<String>,
    /// How its call ended.
    pub outcome: String,
    /// When its call was placed.
    pub dialed_at: Option<DateTime<Utc>>,
    /// When its call ended.
    pub ended_at: DateTime<Utc>,
    /// When the next attempt was due.
    pub retry_at: DateTime<Utc>,
    /// Its contact's events.
    pub timeline: BTreeMap<String, TimelineEntry>,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    #[sqlx(flatten)]
    status: RequestStatus,
    timeline: Json<BTreeMap<String, TimelineEntry>>,
    attempt_history: Json<Vec<PastAttempt>>,
}

/// A contact's events as (event kind, time, detail), in the order they happened, to the
/// microsecond as the database keeps its own times.
pub type Timeline = Vec<(String, DateTime<Utc>, Option<String>)>;

fn timeline_of(entries: BTreeMap<String, TimelineEntry>) -> Timeline {
    let mut timeline: Timeline = entries
        .into_iter()
        .map(|(kind, entry)| (kind, entry.at.round_subsecs(6), entry.detail))
        .collect();
    crate::contacts::timeline_sort(&mut timeline);
    timeline
}

/// What the status API shows of a request: its status, its current contact's timeline, and
/// its earlier attempts with theirs.
pub type RequestStatusView = (RequestStatus, Timeline, Vec<(PastAttempt, Timeline)>);

/// A request of a campaign of `account`, with its contact's timeline and its earlier
/// attempts.
pub async fn dial_request_status(
    pool: &PgPool,
    account: &AccountId,
    campaign_id: &str,
    id: Uuid,
) -> Result<Option<RequestStatusView>, QueueError> {
    let row: Option<StatusRow> = sqlx::query_as(
        "select d.id, client_token, d.state, d.channel, reason, dial_request_contact_id(d) as contact_id, outcome, attempts,
                expires_at, d.created_at, d.updated_at, d.dialed_at, timeline, attempt_history
         from dial_request d join campaign c on c.id = d.campaign_id
         where d.campaign_id = $1 and d.id = $2 and c.account_id = $3",
    )
    .bind(campaign_id)
    .bind(id)
    .bind(account.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| {
        let past = row
            .attempt_history
            .0
            .into_iter()
            .map(|mut attempt| {
                let timeline = timeline_of(std::mem::take(&mut attempt.timeline));
                (attempt, timeline)
            })
            .collect();
        (row.status, timeline_of(row.timeline.0), past)
    }))
}

/// Counts of a campaign's requests by state, outcome and reason.
pub async fn campaign_progress(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
) -> Result<Vec<(DialRequestState, Option<String>, Option<String>, i64)>, QueueError> {
    Ok(sqlx::query_as(
        "select state, outcome, reason, count(*) from dial_request where campaign_id = $1
         group by state, outcome, reason",
    )
    .bind(campaign_id)
    .fetch_all(db)
    .await?)
}

/// Person answers and abandons of a campaign since `since` (hourly buckets).
pub async fn campaign_abandonment(
    db: impl PgExecutor<'_>,
    campaign_id: &str,
    since: DateTime<Utc>,
) -> Result<(i64, i64, i64), QueueError> {
    Ok(sqlx::query_as(
        "select coalesce(sum(dials), 0)::bigint, coalesce(sum(person_answers), 0)::bigint, coalesce(sum(abandons), 0)::bigint
         from campaign_hourly where campaign_id = $1 and hour >= date_trunc('hour', $2::timestamptz)",
    )
    .bind(campaign_id)
    .bind(since)
    .fetch_one(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn one_request(pool: &PgPool) -> Uuid {
        sqlx::query(
            "insert into campaign (id, arn, name, connect_instance_id, dialer_config, outbound_call_config, account_id)
             values ('c', 'arn:aws:connect-campaigns:us-east-1:123456789012:campaign/c', 'c', 'i', '{}', '{}', '123456789012')",
        )
        .execute(pool)
        .await
        .unwrap();
        let id = super::super::new_id();
        sqlx::query(
            "insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest)
             values ($1, 'c', 't', '+14155550123', now(), '{}', '')",
        )
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
        id
    }

    #[sqlx::test]
    async fn a_late_contact_end_completes_an_expired_request(pool: PgPool) {
        let id = one_request(&pool).await;
        sqlx::query("update dial_request set state = 'expired', reason = 'EXPIRED' where id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        let at = Utc::now();
        let update = StatusUpdate {
            id,
            // As an expired row holds it: its claim undone, no phase.
            expected: StoredStatus {
                phase: None,
                outcome: None,
                state: DialRequestState::Expired,
            },
            contact_id: "late".into(),
            phase: Phase::Disconnected,
            outcome: Some(Outcome::Answered),
            terminal: true,
            events: BTreeMap::from([("person_answered", TimelineEntry { at, detail: None })]),
            counts: [1, 0, 0],
            at,
            ended_at: at,
        };
        let no_retries = crate::rules::retry::RetriesConfig::default().to_sql();
        let written = contact_update_many(&pool, &[&update], &no_retries)
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
        let row: (
            DialRequestState,
            Option<String>,
            Option<Outcome>,
            Option<String>,
        ) = sqlx::query_as(
            "select state, reason, outcome, contact_id from dial_request where id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            row,
            (
                DialRequestState::Completed,
                None,
                Some(Outcome::Answered),
                Some("late".into())
            )
        );
        let (_, answers, _) = campaign_abandonment(&pool, "c", at).await.unwrap();
        assert_eq!(answers, 1);
        // Written once: the same update again finds the row changed.
        assert!(contact_update_many(&pool, &[&update], &no_retries)
            .await
            .unwrap()
            .is_empty());
    }

    #[sqlx::test]
    async fn an_abandon_records_the_numbers_latest_abandon_for_the_account(pool: PgPool) {
        use chrono::SubsecRound;
        let id = one_request(&pool).await;
        claimed(&pool, id).await;
        let at = Utc::now().trunc_subsecs(0);
        // An older abandon of the number: the new one replaces it.
        sqlx::query(
            "insert into abandoned_number (account_id, number_hash, abandoned_at)
             values ('123456789012', number_hash('+14155550123'), $1)",
        )
        .bind(at - chrono::Duration::hours(100))
        .execute(&pool)
        .await
        .unwrap();
        let abandoned_at = at + chrono::Duration::seconds(2);
        let entry = |at| TimelineEntry { at, detail: None };
        let abandon = StatusUpdate {
            phase: Phase::Queued,
            outcome: Some(Outcome::Abandoned),
            terminal: false,
            events: BTreeMap::from([
                ("person_answered", entry(at)),
                ("abandoned", entry(abandoned_at)),
            ]),
            counts: [1, 1, 0],
            ended_at: abandoned_at,
            ..no_answer_end(id, "k", at)
        };
        let no_retries = crate::rules::retry::RetriesConfig::default().to_sql();
        let written = contact_update_many(&pool, &[&abandon], &no_retries)
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
        let recorded: Vec<(String, bool, DateTime<Utc>)> = sqlx::query_as(
            "select account_id, number_hash = number_hash('+14155550123'), abandoned_at
             from abandoned_number",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(recorded, [("123456789012".to_string(), true, abandoned_at)]);
        // An update without an abandon records nothing; retention deletes the old abandons.
        let end = StatusUpdate {
            expected: StoredStatus {
                phase: Some(Phase::Queued),
                outcome: Some(Outcome::Abandoned),
                state: DialRequestState::InProgress,
            },
            ..no_answer_end(id, "k", at + chrono::Duration::seconds(3))
        };
        assert_eq!(
            contact_update_many(&pool, &[&end], &no_retries)
                .await
                .unwrap()
                .len(),
            1
        );
        let purge = |before| {
            crate::rules::store::number_rows_purge_many(
                &pool,
                crate::rules::store::NumberRows::Abandons,
                before,
                10,
            )
        };
        assert_eq!(purge(at).await.unwrap(), 0);
        assert_eq!(purge(at + chrono::Duration::seconds(3)).await.unwrap(), 1);
    }

    /// The end of a call of request `id` by contact `contact`, as the event writer sends it
    /// for a row it believes claimed.
    fn no_answer_end(id: Uuid, contact: &str, at: DateTime<Utc>) -> StatusUpdate {
        StatusUpdate {
            id,
            expected: StoredStatus::claimed(),
            contact_id: contact.into(),
            phase: Phase::Completed,
            outcome: Some(Outcome::NoAnswer),
            terminal: true,
            events: BTreeMap::from([
                ("no_answer", TimelineEntry { at, detail: None }),
                (
                    "completed",
                    TimelineEntry {
                        at: at + chrono::Duration::seconds(1),
                        detail: None,
                    },
                ),
            ]),
            counts: [0, 0, 0],
            at,
            ended_at: at + chrono::Duration::seconds(1),
        }
    }

    /// Puts request `id` in progress as a claim does: its `attempts`-th call.
    async fn claimed(pool: &PgPool, id: Uuid) {
        sqlx::query(
            "update dial_request set state = 'in_progress', contact_phase = 'creating',
                 attempts = attempts + 1, batch_id = gen_random_uuid(), not_before = null,
                 reason = null, dialed_at = now()
             where id = $1",
        )
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    }

    #[sqlx::test]
    async fn a_retried_outcome_puts_the_request_back_as_the_policy_says_and_keeps_the_attempt(
        pool: PgPool,
    ) {
        use crate::rules::retry::{RetriesConfig, RetryPolicy, RetryPolicySpec, RetryRule};
        let id = one_request(&pool).await;
        let expires_at = Utc::now().round_subsecs(6) + chrono::Duration::hours(1);
        sqlx::query("update dial_request set expires_at = $2 where id = $1")
            .bind(id)
            .bind(expires_at)
            .execute(&pool)
            .await
            .unwrap();
        // The config file retries no answer twice after 10 min; the campaign's own policy
        // (as the API sets it) wins: once (two attempts in all), after 60 s.
        let rule = |after_secs, max_attempts| RetryPolicySpec {
            outcomes: [(
                "no_answer".to_string(),
                RetryRule {
                    after_secs,
                    max_attempts,
                },
            )]
            .into(),
        };
        let config = RetriesConfig {
            default: rule(600.0, 3),
            ..RetriesConfig::default()
        }
        .to_sql();
        let own = RetryPolicy::parse("p", &rule(60.0, 2)).unwrap();
        crate::rules::store::retry_policy_put(
            &pool,
            &AccountId::parse("123456789012").unwrap(),
            "c",
            &own,
        )
        .await
        .unwrap();

        claimed(&pool, id).await;
        let ended = Utc::now().round_subsecs(6);
        let first = no_answer_end(id, "first", ended - chrono::Duration::seconds(1));
        let written = contact_update_many(&pool, &[&first], &config)
            .await
            .unwrap();
        let retry_at = own.retry_at(Outcome::NoAnswer, 1, ended, expires_at);
        assert_eq!(retry_at, Some(ended + chrono::Duration::seconds(60)));
        assert_eq!(written[0].retry_at, retry_at, "SQL and Rust agree");
        type Row = (
            DialRequestState,
            Option<String>,
            Option<DateTime<Utc>>,
            Option<String>,
            serde_json::Value,
            i64,
        );
        let row = || {
            sqlx::query_as::<_, Row>(
                "select state, reason, not_before, outcome, timeline,
                        jsonb_array_length(attempt_history)::bigint
                 from dial_request where id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
        };
        assert_eq!(
            row().await.unwrap(),
            (
                DialRequestState::Pending,
                Some("NO_ANSWER".into()),
                retry_at,
                None,
                serde_json::json!({}),
                1
            )
        );
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 1);
        let ledger: (String, String, i32) =
            sqlx::query_as("select verdict::text, rule, attempt from rule_decision")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(ledger, ("retry".into(), "retry_policy".into(), 2));

        // The first contact's late events change nothing, waiting or in the next attempt.
        let mut late = no_answer_end(id, "first", ended);
        late.events = BTreeMap::from([(
            "busy",
            TimelineEntry {
                at: ended,
                detail: None,
            },
        )]);
        late.expected.state = DialRequestState::Pending;
        late.expected.phase = None;
        assert!(contact_update_many(&pool, &[&late], &config)
            .await
            .unwrap()
            .is_empty());
        claimed(&pool, id).await;
        // As the claim takes it off the counter.
        campaign_pending_add(&pool, "c", -1).await.unwrap();
        late.expected = StoredStatus::claimed();
        assert!(contact_update_many(&pool, &[&late], &config)
            .await
            .unwrap()
            .is_empty());

        // The second attempt is the last the policy allows: its no answer completes it.
        let second = no_answer_end(id, "second", Utc::now());
        let written = contact_update_many(&pool, &[&second], &config)
            .await
            .unwrap();
        assert_eq!(written[0].retry_at, None);
        let (state, _, _, outcome, _, past) = row().await.unwrap();
        assert_eq!(
            (state, outcome, past),
            (DialRequestState::Completed, Some("no_answer".into()), 1)
        );
        assert_eq!(campaign_pending_count(&pool, "c").await.unwrap(), 0);

        let account = AccountId::parse("123456789012").unwrap();
        let (status, _, attempts) = dial_request_status(&pool, &account, "c", id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.attempts, 2);
        assert_eq!(status.contact_id.as_deref(), Some("second"));
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].0.contact_id.as_deref(), Some("first"));
        assert_eq!(attempts[0].0.outcome, "no_answer");
        assert_eq!(
            attempts[0].1.len(),
            2,
            "the first contact's timeline is kept"
        );
    }

    #[sqlx::test]
    async fn no_retry_is_scheduled_at_or_after_the_expiration(pool: PgPool) {
        use crate::rules::retry::RetriesConfig;
        let id = one_request(&pool).await;
        sqlx::query(
            "update dial_request set expires_at = now() + interval '30 seconds' where id = $1",
        )
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
        let config: RetriesConfig = toml::from_str(
            "[default.outcomes]\nno_answer = { after_secs = 60, max_attempts = 3 }\n",
        )
        .unwrap();
        claimed(&pool, id).await;
        let end = no_answer_end(id, "only", Utc::now());
        let written = contact_update_many(&pool, &[&end], &config.to_sql())
            .await
            .unwrap();
        assert_eq!(written[0].retry_at, None);
        let state: DialRequestState =
            sqlx::query_scalar("select state from dial_request where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(state, DialRequestState::Completed);
    }

    #[sqlx::test]
    async fn retention_deletes_only_old_finished_requests(pool: PgPool) {
        one_request(&pool).await;
        // One request per state, each ten days old, and a recent completed one.
        sqlx::query(
            "insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest, state, updated_at)
             select gen_random_uuid(), 'c', s::text, '+14155550123', now(), '{}'::jsonb, ''::bytea, s, now() - interval '10 days'
             from unnest(enum_range(null::dial_request_state)) as s
             union all
             select gen_random_uuid(), 'c', 'recent', '+14155550123', now(), '{}'::jsonb, ''::bytea, 'completed'::dial_request_state, now()",
        )
        .execute(&pool)
        .await
        .unwrap();
        let before = Utc::now() - chrono::Duration::days(1);
        // Two rows per statement: the caller repeats while statements come back full.
        assert_eq!(
            dial_request_purge_many(&pool, before, 2).await.unwrap(),
            [("c".to_string(), 2)]
        );
        assert_eq!(
            dial_request_purge_many(&pool, before, 2).await.unwrap(),
            [("c".to_string(), 2)]
        );
        assert!(dial_request_purge_many(&pool, before, 2)
            .await
            .unwrap()
            .is_empty());
        let left: Vec<String> = sqlx::query_scalar(
            "select client_token from dial_request where client_token <> 't' order by client_token",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(left, ["in_progress", "pending", "recent"]);
    }

    #[sqlx::test]
    async fn every_phase_and_outcome_is_stored_and_read_back(pool: PgPool) {
        let id = one_request(&pool).await;
        let store = |phase: Phase, outcome: Outcome| {
            sqlx::query_as::<_, (Phase, Outcome)>(
                "update dial_request set contact_phase = $2, outcome = $3 where id = $1
                 returning contact_phase, outcome",
            )
            .bind(id)
            .bind(phase)
            .bind(outcome)
            .fetch_one(&pool)
        };
        for phase in Phase::ALL {
            assert_eq!(store(phase, Outcome::Lost).await.unwrap().0, phase);
        }
        for outcome in Outcome::ALL {
            assert_eq!(store(Phase::Completed, outcome).await.unwrap().1, outcome);
        }
    }

    #[sqlx::test]
    async fn unknown_phases_and_outcomes_are_refused_both_ways(pool: PgPool) {
        let id = one_request(&pool).await;
        for column in ["contact_phase", "outcome"] {
            let written = sqlx::query(&format!(
                "update dial_request set {column} = 'ringing' where id = $1"
            ))
            .bind(id)
            .execute(&pool)
            .await;
            assert!(written.is_err(), "the database takes any {column}");
        }
        let read = sqlx::query_scalar::<_, Phase>("select 'ringing'::text")
            .fetch_one(&pool)
            .await;
        assert!(read.is_err(), "an unknown phase must not decode");
    }
}
