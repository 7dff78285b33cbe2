//! The simulator's ClientToken ledger in Postgres, shared by every daemon on the database
//! and kept across daemon crashes.
//!
//! The ledger stands for a contact center's own record of the tokens it has seen, which a
//! real one keeps on its own machines: here it shares the dialer's database, so its writes
//! are committed without waiting for the WAL to reach the disk. The commit is visible to
//! every session at once, and a daemon killed at any moment loses nothing (the crash tests
//! count contacts per request with it). What the relaxed commit gives up is the last
//! fraction of a second of tokens when the database server itself crashes; the simulated
//! center could then dial a re-sent batch again. The engine's own writes wait for the disk.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::model::LedgerEntry;
use super::{Host, LedgerError, SentMessage, SimLedger, CENTER_LAPSE};

/// A [`SimLedger`] in the `sim_ledger` table.
#[derive(Debug, Clone)]
pub struct PgSimLedger {
    pool: PgPool,
}

impl PgSimLedger {
    /// A ledger on this pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// What is recorded under `client_token`, if anything.
    async fn lookup(&self, client_token: &str) -> Result<Option<LedgerEntry>, LedgerError> {
        let entry: Option<Json<LedgerEntry>> =
            sqlx::query_scalar("select entry from sim_ledger where client_token = $1")
                .bind(client_token)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(entry.map(|e| e.0))
    }
}

impl PgSimLedger {
    /// The `ClientToken` of the batch that created `contact_id`, if the ledger has it.
    ///
    /// Amazon Connect's `DescribeContact` names a contact by its id alone; the Connect
    /// emulator answers for contacts of its earlier runs from here. The ledger keeps the
    /// answer it gave each token, so the contact ids sit in that JSON: a scan, acceptable for
    /// an emulator's ledger, not for a daemon's hot path.
    pub async fn client_token_of(&self, contact_id: &str) -> Result<Option<String>, LedgerError> {
        sqlx::query_scalar(
            "select client_token from sim_ledger
             where entry -> 'response' -> 'SuccessfulRequestList'
                   @> jsonb_build_array(jsonb_build_object('ContactId', $1::text))
             limit 1",
        )
        .bind(contact_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)
    }
}

/// Deletes up to `limit` ledger rows recorded before `before` whose batch is gone, in each
/// of the ledger's tables (`sim_ledger`, `sim_sms`): no `contact_batch` carries the token
/// any more (retention deleted it). A batch that still exists may be re-sent, and its
/// replay must be answered from here, so its row is kept whatever its age. Oldest first;
/// returns how many were deleted.
pub async fn ledger_purge_many(
    pool: &PgPool,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<u64, LedgerError> {
    let mut deleted = 0;
    for table in ["sim_ledger", "sim_sms"] {
        deleted += sqlx::query(&format!(
            "with gone as (
                 select l.client_token from {table} l
                 where l.created_at < $1
                   and not exists (select 1 from contact_batch b where b.client_token = l.client_token)
                 order by l.created_at
                 limit $2
                 for update skip locked
             )
             delete from {table} l using gone where l.client_token = gone.client_token"
        ))
        .bind(before)
        .bind(limit)
        .execute(pool)
        .await
        .map_err(backend)?
        .rows_affected();
    }
    Ok(deleted)
}

fn backend(e: sqlx::Error) -> LedgerError {
    LedgerError::Backend(Box::new(e))
}

#[async_trait]
impl SimLedger for PgSimLedger {
    async fn record(
        &self,
        client_token: &str,
        entry: &LedgerEntry,
        center: Uuid,
    ) -> Result<Option<LedgerEntry>, LedgerError> {
        // Insert, or read back the row a concurrent recorder won with, in one statement,
        // whose commit does not wait for the disk (see the module's doc). An entry this call
        // recorded is not sent back.
        let stored: Option<(Option<Json<LedgerEntry>>, bool)> = sqlx::query_as(
            "with relaxed as (select set_config('synchronous_commit', 'off', true)),
             ins as (
                 insert into sim_ledger (client_token, entry, center_id)
                 select $1, $2, $3 from relaxed
                 on conflict (client_token) do nothing
                 returning 1
             )
             select null::jsonb, true from ins
             union all
             select entry, false from sim_ledger where client_token = $1 and not exists (select 1 from ins)",
        )
        .bind(client_token)
        .bind(Json(entry))
        .bind(center)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match stored {
            Some((_, true)) => Ok(None),
            Some((Some(existing), false)) => Ok(Some(existing.0)),
            // A concurrent recorder committed after this statement's snapshot was taken:
            // its row is visible to a fresh read.
            Some((None, false)) | None => self.lookup(client_token).await,
        }
    }

    async fn record_message(
        &self,
        client_token: &str,
        message: &SentMessage,
    ) -> Result<Option<SentMessage>, LedgerError> {
        // As `record`: insert, or read the row a concurrent recorder won with.
        type Row = (String, String, bool, i32, bool);
        let length = i32::try_from(message.content_length).unwrap_or(i32::MAX);
        let stored: Option<Row> = sqlx::query_as(
            "with relaxed as (select set_config('synchronous_commit', 'off', true)),
             ins as (
                 insert into sim_sms (client_token, contact_id, fingerprint, delivered, content_length)
                 select $1, $2, $3, $4, $5 from relaxed
                 on conflict (client_token) do nothing
                 returning 1
             )
             select $2, $3, $4, $5, true from ins
             union all
             select contact_id, fingerprint, delivered, content_length, false from sim_sms
             where client_token = $1 and not exists (select 1 from ins)",
        )
        .bind(client_token)
        .bind(&message.contact_id)
        .bind(&message.fingerprint)
        .bind(message.delivered)
        .bind(length)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let row = match stored {
            Some(row) => Some(row),
            // A concurrent recorder committed after this statement's snapshot was taken.
            None => sqlx::query_as(
                "select contact_id, fingerprint, delivered, content_length, false
                 from sim_sms where client_token = $1",
            )
            .bind(client_token)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?,
        };
        Ok(match row {
            Some((_, _, _, _, true)) | None => None,
            Some((contact_id, fingerprint, delivered, length, false)) => Some(SentMessage {
                contact_id,
                fingerprint,
                delivered,
                content_length: usize::try_from(length).unwrap_or(0),
            }),
        })
    }

    async fn heartbeat(&self, center: Uuid) -> Result<(), LedgerError> {
        sqlx::query(
            "insert into sim_center (id, heartbeat_at) values ($1, now())
             on conflict (id) do update set heartbeat_at = now()",
        )
        .bind(center)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn retire(&self, center: Uuid) -> Result<(), LedgerError> {
        sqlx::query(
            "insert into sim_center (id, heartbeat_at, retired_at) values ($1, now(), now())
             on conflict (id) do update set retired_at = now()",
        )
        .bind(center)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn hosts(&self, client_tokens: &[String]) -> Result<HashMap<String, Host>, LedgerError> {
        // A restarted database server ended every session, heartbeats included: a center
        // is judged only once it has had the lapse since the server started to beat again.
        let rows: Vec<(String, Uuid, bool)> = sqlx::query_as(
            "select l.client_token, l.center_id,
                    coalesce(s.retired_at is null
                             and (s.heartbeat_at > now() - $2
                                  or pg_postmaster_start_time() > now() - $2), false)
             from sim_ledger l
             left join sim_center s on s.id = l.center_id
             where l.client_token = any($1) and l.center_id is not null",
        )
        .bind(client_tokens)
        .bind(CENTER_LAPSE)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(token, center, alive)| (token, Host { center, alive }))
            .collect())
    }
}
