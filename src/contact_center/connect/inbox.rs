//! Contact events that EventBridge delivered over HTTP, kept in PostgreSQL until the daemon
//! holding their campaign takes them.
//!
//! Any daemon may receive any event (the API destination points at a load balancer), but the
//! engine that paces a campaign wants its contacts' events: they free lines and feed the
//! pacing estimates. So an event is stored first (and only then acknowledged, so
//! EventBridge retries what was not stored), and each daemon takes the events of the
//! campaigns whose lease it holds. Events of a campaign nobody holds (stopped, or its holder
//! dead and not yet replaced) are taken by any daemon after [`ORPHAN_AFTER`]: they are facts
//! about contacts, which any daemon may record. The event id is the primary key, so
//! EventBridge's duplicates are turned away for as long as the row is kept ([`KEEP`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// How long an event of a campaign no daemon holds waits for a holder.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(10);

/// How long an event of a contact whose creation is not recorded yet waits for it. A fast
/// contact's events can come before the `BatchPutContact` answer that names it is stored,
/// and the engine cannot place them until it is; past this the contact is not one of ours.
pub const UNKNOWN_CONTACT_AFTER: Duration = Duration::from_secs(60);

/// How long a delivered event is kept to turn duplicates away: EventBridge retries a
/// delivery for up to 24 hours.
pub const KEEP: Duration = Duration::from_secs(25 * 3600);

/// An event as it is stored: the keys it is routed by, and the body as received.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// EventBridge's event id (the envelope's `id`); a retry keeps it.
    pub event_id: String,
    /// The campaign the contact belongs to, if the event names one.
    pub campaign_id: Option<String>,
    /// The contact.
    pub contact_id: String,
    /// When it happened.
    pub event_time: DateTime<Utc>,
    /// The whole event.
    pub body: serde_json::Value,
}

/// Stores `event`; false if it was stored before (a duplicate).
pub async fn store(pool: &PgPool, event: &StoredEvent) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into connect_event (event_id, campaign_id, contact_id, event_time, body)
         values ($1, $2, $3, $4, $5)
         on conflict (event_id) do nothing",
    )
    .bind(&event.event_id)
    .bind(&event.campaign_id)
    .bind(&event.contact_id)
    .bind(event.event_time)
    .bind(&event.body)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Takes up to `limit` waiting events for the daemon `owner`: those of campaigns whose live
/// lease it holds, and those nobody has held for [`ORPHAN_AFTER`]; each only once its
/// contact's creation is recorded (or after [`UNKNOWN_CONTACT_AFTER`]). Oldest first, so each
/// contact's events come in the order they arrived (the engine copes with any order).
pub async fn take(
    pool: &PgPool,
    owner: &str,
    limit: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "with picked as (
             select e.event_id
             from connect_event e
             left join campaign_lease l
               on l.campaign_id = e.campaign_id and l.expires_at > now()
             where e.delivered_at is null
               and (l.owner = $1
                    or (l.owner is null and e.received_at < now() - make_interval(secs => $2)))
               and (exists (select 1 from contact_batch_contact m
                            where m.contact_id = e.contact_id)
                    or e.received_at < now() - make_interval(secs => $4))
             order by e.received_at
             limit $3
             for update of e skip locked
         )
         update connect_event e set delivered_at = now()
         from picked where e.event_id = picked.event_id
         returning e.body",
    )
    .bind(owner)
    .bind(ORPHAN_AFTER.as_secs_f64())
    .bind(limit)
    .bind(UNKNOWN_CONTACT_AFTER.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// Deletes up to `limit` events delivered more than [`KEEP`] ago; returns how many.
pub async fn purge(pool: &PgPool, limit: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "delete from connect_event where event_id in (
             select event_id from connect_event
             where delivered_at < now() - make_interval(secs => $1)
             limit $2)",
    )
    .bind(KEEP.as_secs_f64())
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected())
}
