//! Dial-request SQL: batch admission, sweeping, and queue-depth reads.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{BatchOutcome, DialRequestState, ItemOutcome, NewDialRequest, QueueError};
use crate::accounts::AccountId;
use crate::campaigns::CampaignState;
use crate::contacts::TimelineEntry;

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
    let new_ids: Vec<Uuid> = requests.iter().map(|_| super::new_id()).collect();
    let shard = rand::random_range(0..PENDING_SHARDS);

    let mut rows: Vec<AdmitRow> = sqlx::query_as(
        r#"
        with camp as (
            select state from campaign where id = $1 and account_id = $10
        ),
        input as (
            select * from unnest($2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::bytea[], $7::uuid[])
                with ordinality as t(client_token, phone_number, expires_at, attributes, digest, new_id, ord)
        ),
        depth as (
            select coalesce(sum(n), 0) as pending from campaign_pending where campaign_id = $1
        ),
        inserted as (
            insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest)
            select i.new_id, $1, i.client_token, i.phone_number, i.expires_at, i.attributes, i.digest
            from input i, camp, depth
            where camp.state not in ('Stopped', 'Failed') and depth.pending + i.ord <= $8
            on conflict (campaign_id, client_token) do nothing
            returning id, client_token, digest
        ),
        bump as (
            insert into campaign_pending (campaign_id, shard, n)
            select $1, $9, count(*) from inserted having count(*) > 0
            on conflict (campaign_id, shard) do update set n = campaign_pending.n + excluded.n
        )
        select (select state from camp) as campaign_state,
               i.client_token,
               ins.id,
               ins.digest as stored_digest
        from input i
        left join inserted ins on ins.client_token = i.client_token
        order by i.ord
        "#,
    )
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

/// Requests the sweeper ended in one pass, per campaign and final state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// (campaign id, requests) that passed their expiration time.
    pub expired: Vec<(String, i64)>,
    /// (campaign id, requests) whose campaign was stopped or failed.
    pub cancelled: Vec<(String, i64)>,
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
    let rows: Vec<(String, DialRequestState, i64)> = sqlx::query_as(
        r#"
        with stopped as (
            select d.id
            from dial_request d join campaign c on c.id = d.campaign_id
            where d.state = 'pending' and c.state in ('Stopped', 'Failed')
            limit $2
            for update of d skip locked
        ),
        lapsed as (
            -- Campaign by campaign, on each one's pending index (the claim's): an index
            -- over every campaign's expirations would also be the claim's, and lead it
            -- through the other campaigns' requests.
            select l.id
            from campaign c
            cross join lateral (
                select id from dial_request
                where campaign_id = c.id and state = 'pending' and expires_at <= $1
                order by expires_at
                limit $2
                for update skip locked
            ) l
            limit $2
        ),
        verdicts as (
            -- A request both lapsed and of a stopped campaign counts as cancelled.
            select id, 'cancelled'::dial_request_state as verdict, 'CAMPAIGN_STOPPED' as reason from stopped
            union all
            select id, 'expired', 'EXPIRED' from lapsed where id not in (select id from stopped)
        ),
        ended as (
            update dial_request d
            set state = v.verdict, reason = v.reason, updated_at = now()
            from verdicts v
            where d.id = v.id and d.state = 'pending'
            returning d.campaign_id, d.state
        ),
        per_campaign as (
            select campaign_id, state, count(*) as n from ended group by campaign_id, state
        ),
        counted as (
            insert into campaign_pending (campaign_id, shard, n)
            select campaign_id, $3, -sum(n) from per_campaign group by campaign_id
            on conflict (campaign_id, shard) do update set n = campaign_pending.n + excluded.n
        )
        select campaign_id, state, n from per_campaign
        "#,
    )
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
    sqlx::query(
        "insert into campaign_pending (campaign_id, shard, n) values ($1, $2, $3)
         on conflict (campaign_id, shard) do update set n = campaign_pending.n + excluded.n",
    )
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

/// What the status API shows of one request (never the number or attributes).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestStatus {
    /// Request id.
    pub id: Uuid,
    /// Client token.
    pub client_token: String,
    /// State.
    pub state: DialRequestState,
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
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    #[sqlx(flatten)]
    status: RequestStatus,
    timeline: Json<BTreeMap<String, TimelineEntry>>,
}

/// A request of a campaign of `account`, with its contact's timeline (event kind, time,
/// detail) in the order the events happened.
pub async fn dial_request_status(
    pool: &PgPool,
    account: &AccountId,
    campaign_id: &str,
    id: Uuid,
) -> Result<Option<(RequestStatus, Vec<(String, DateTime<Utc>, Option<String>)>)>, QueueError> {
    let row: Option<StatusRow> = sqlx::query_as(
        "select d.id, client_token, d.state, reason, dial_request_contact_id(d) as contact_id, outcome, attempts,
                expires_at, d.created_at, d.updated_at, timeline
         from dial_request d join campaign c on c.id = d.campaign_id
         where d.campaign_id = $1 and d.id = $2 and c.account_id = $3",
    )
    .bind(campaign_id)
    .bind(id)
    .bind(account.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| {
        let mut timeline: Vec<_> = row
            .timeline
            .0
            .into_iter()
            // Microseconds, as the database keeps its own times.
            .map(|(kind, entry)| (kind, entry.at.round_subsecs(6), entry.detail))
            .collect();
        crate::contacts::timeline_sort(&mut timeline);
        (row.status, timeline)
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
