//! Campaign SQL. Every state change goes through [`campaign_command`], which locks the row,
//! applies [`CampaignState::apply`] and writes the result in one short transaction.
//!
//! The functions the API calls take the caller's account and see only its campaigns: another
//! account's campaign is `NotFound`. [`campaign_get_many`] serves the engine, which dials
//! every account's campaigns.

use std::collections::BTreeMap;

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use crate::accounts::AccountId;

use super::{
    Campaign, CampaignError, CampaignState, Command, DialerConfig, NewCampaign, OutboundCallConfig,
};

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: String,
    arn: String,
    name: String,
    connect_instance_id: String,
    dialer_config: serde_json::Value,
    outbound_call_config: serde_json::Value,
    tags: Json<BTreeMap<String, String>>,
    state: CampaignState,
}

const CAMPAIGN_COLUMNS: &str =
    "id, arn, name, connect_instance_id, dialer_config, outbound_call_config, tags, state";

impl TryFrom<CampaignRow> for Campaign {
    type Error = CampaignError;

    fn try_from(row: CampaignRow) -> Result<Self, Self::Error> {
        let corrupt = |source| CampaignError::Corrupt {
            id: row.id.clone(),
            source,
        };
        Ok(Campaign {
            dialer_config: serde_json::from_value(row.dialer_config.clone()).map_err(corrupt)?,
            outbound_call_config: serde_json::from_value(row.outbound_call_config.clone())
                .map_err(corrupt)?,
            id: row.id,
            arn: row.arn,
            name: row.name,
            connect_instance_id: row.connect_instance_id,
            tags: row.tags.0,
            state: row.state,
        })
    }
}

/// One row of ListCampaigns, with its paging position.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignSummary {
    /// Paging position (insertion order).
    pub seq: i64,
    /// Campaign id.
    pub id: String,
    /// Campaign ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Instance id.
    pub connect_instance_id: String,
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    // Serializing these plain structs cannot fail: they hold only strings, numbers and maps.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// `NotFound` when a statement keyed by `key` touched no row.
fn found(rows: u64, key: &str) -> Result<(), CampaignError> {
    if rows == 0 {
        return Err(CampaignError::NotFound(key.to_string()));
    }
    Ok(())
}

/// Stores a new campaign of `account` in state `Initialized`.
pub async fn campaign_insert(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    id: &str,
    arn: &str,
    new: &NewCampaign,
) -> Result<Campaign, CampaignError> {
    let row: CampaignRow = sqlx::query_as(&format!(
        "insert into campaign (account_id, id, arn, name, connect_instance_id, dialer_config, outbound_call_config, tags)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning {CAMPAIGN_COLUMNS}"
    ))
    .bind(account.as_str())
    .bind(id)
    .bind(arn)
    .bind(&new.name)
    .bind(&new.connect_instance_id)
    .bind(to_json(&new.dialer_config))
    .bind(to_json(&new.outbound_call_config))
    .bind(Json(&new.tags))
    .fetch_one(db)
    .await?;
    row.try_into()
}

/// The campaign of `account` with this id.
pub async fn campaign_get(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    id: &str,
) -> Result<Campaign, CampaignError> {
    let row: Option<CampaignRow> = sqlx::query_as(&format!(
        "select {CAMPAIGN_COLUMNS} from campaign where id = $1 and account_id = $2"
    ))
    .bind(id)
    .bind(account.as_str())
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| CampaignError::NotFound(id.to_string()))?
        .try_into()
}

/// The campaigns with these ids, of any account (absent ids are skipped).
pub async fn campaign_get_many(
    db: impl PgExecutor<'_>,
    ids: &[String],
) -> Result<Vec<Campaign>, CampaignError> {
    let rows: Vec<CampaignRow> = sqlx::query_as(&format!(
        "select {CAMPAIGN_COLUMNS} from campaign where id = any($1) order by seq"
    ))
    .bind(ids)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Campaign::try_from).collect()
}

/// The states of these campaigns of `account`; ids that it has no campaign with are absent
/// from the map.
pub async fn campaign_state_many(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    ids: &[String],
) -> Result<BTreeMap<String, CampaignState>, CampaignError> {
    let rows: Vec<(String, CampaignState)> =
        sqlx::query_as("select id, state from campaign where id = any($1) and account_id = $2")
            .bind(ids)
            .bind(account.as_str())
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Up to `limit` campaigns of `account` after paging position `after`, optionally of one
/// instance.
pub async fn campaign_list(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<CampaignSummary>, CampaignError> {
    Ok(sqlx::query_as(
        "select seq, id, arn, name, connect_instance_id from campaign
         where account_id = $4 and seq > $1 and ($2::text is null or connect_instance_id = $2)
         order by seq
         limit $3",
    )
    .bind(after)
    .bind(instance_id)
    .bind(limit)
    .bind(account.as_str())
    .fetch_all(db)
    .await?)
}

/// Deletes a campaign of `account` and, by cascade, its dial requests.
pub async fn campaign_delete(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    id: &str,
) -> Result<(), CampaignError> {
    let deleted = sqlx::query("delete from campaign where id = $1 and account_id = $2")
        .bind(id)
        .bind(account.as_str())
        .execute(db)
        .await?
        .rows_affected();
    found(deleted, id)
}

/// Applies a lifecycle command to a campaign of `account` under a row lock and returns the
/// new state.
///
/// Stopping does not cancel the pending requests here: a campaign may hold a million of
/// them, and the sweeper cancels them in short batches instead (it never hands out requests
/// of a stopped campaign in the meantime).
pub async fn campaign_command(
    pool: &PgPool,
    account: &AccountId,
    id: &str,
    command: Command,
) -> Result<CampaignState, CampaignError> {
    let mut tx = pool.begin().await?;
    let current: Option<CampaignState> = sqlx::query_scalar(
        "select state from campaign where id = $1 and account_id = $2 for update",
    )
    .bind(id)
    .bind(account.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let current = current.ok_or_else(|| CampaignError::NotFound(id.to_string()))?;
    let next = current.apply(command)?;
    sqlx::query("update campaign set state = $2, updated_at = now() where id = $1")
        .bind(id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(next)
}

/// A change to a campaign's settings.
#[derive(Debug, Clone)]
pub enum CampaignUpdate {
    /// UpdateCampaignName.
    Name(String),
    /// UpdateCampaignDialerConfig.
    DialerConfig(DialerConfig),
    /// UpdateCampaignOutboundCallConfig: only the members given change.
    OutboundCallConfig {
        /// New contact flow.
        connect_contact_flow_id: Option<String>,
        /// New caller id.
        connect_source_phone_number: Option<String>,
        /// New AMD setting.
        answer_machine_detection_config: Option<super::AnswerMachineDetectionConfig>,
    },
}

/// Why an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The campaign has ended; its settings are frozen.
    #[error("campaign {id} is {state:?} and can no longer be changed")]
    Ended {
        /// Campaign id.
        id: String,
        /// Its state.
        state: CampaignState,
    },
    /// Lookup or storage failed.
    #[error(transparent)]
    Campaign(#[from] CampaignError),
}

impl From<sqlx::Error> for UpdateError {
    fn from(e: sqlx::Error) -> Self {
        UpdateError::Campaign(e.into())
    }
}

/// Applies a settings change to a campaign of `account` that has not ended.
pub async fn campaign_update(
    pool: &PgPool,
    account: &AccountId,
    id: &str,
    update: CampaignUpdate,
) -> Result<(), UpdateError> {
    let mut tx = pool.begin().await?;
    let row: Option<CampaignRow> = sqlx::query_as(&format!(
        "select {CAMPAIGN_COLUMNS} from campaign where id = $1 and account_id = $2 for update"
    ))
    .bind(id)
    .bind(account.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let mut campaign: Campaign = row
        .ok_or_else(|| CampaignError::NotFound(id.to_string()))?
        .try_into()?;
    if !campaign.state.accepts_dial_requests() {
        return Err(UpdateError::Ended {
            id: id.to_string(),
            state: campaign.state,
        });
    }
    match update {
        CampaignUpdate::Name(name) => campaign.name = name,
        CampaignUpdate::DialerConfig(config) => campaign.dialer_config = config,
        CampaignUpdate::OutboundCallConfig {
            connect_contact_flow_id,
            connect_source_phone_number,
            answer_machine_detection_config,
        } => {
            let call: &mut OutboundCallConfig = &mut campaign.outbound_call_config;
            if let Some(flow) = connect_contact_flow_id {
                call.connect_contact_flow_id = flow;
            }
            if let Some(number) = connect_source_phone_number {
                call.connect_source_phone_number = Some(number);
            }
            if let Some(amd) = answer_machine_detection_config {
                call.answer_machine_detection_config = Some(amd);
            }
        }
    }
    sqlx::query(
        "update campaign set name = $2, dialer_config = $3, outbound_call_config = $4, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&campaign.name)
    .bind(to_json(&campaign.dialer_config))
    .bind(to_json(&campaign.outbound_call_config))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The tags of the campaign of `account` with this ARN.
pub async fn campaign_tags(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    arn: &str,
) -> Result<BTreeMap<String, String>, CampaignError> {
    let tags: Option<Json<BTreeMap<String, String>>> =
        sqlx::query_scalar("select tags from campaign where arn = $1 and account_id = $2")
            .bind(arn)
            .bind(account.as_str())
            .fetch_optional(db)
            .await?;
    tags.map(|t| t.0)
        .ok_or_else(|| CampaignError::NotFound(arn.to_string()))
}

/// Adds or replaces tags on the campaign of `account` with this ARN.
pub async fn campaign_tag(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), CampaignError> {
    let updated = sqlx::query(
        "update campaign set tags = tags || $2, updated_at = now() where arn = $1 and account_id = $3",
    )
    .bind(arn)
    .bind(Json(tags))
    .bind(account.as_str())
    .execute(db)
            .await?
            .rows_affected();
    found(updated, arn)
}

/// Removes tags from the campaign of `account` with this ARN; absent keys are ignored.
pub async fn campaign_untag(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    arn: &str,
    keys: &[String],
) -> Result<(), CampaignError> {
    let updated = sqlx::query(
        "update campaign set tags = tags - $2::text[], updated_at = now() where arn = $1 and account_id = $3",
    )
    .bind(arn)
    .bind(keys)
    .bind(account.as_str())
    .execute(db)
    .await?
    .rows_affected();
    found(updated, arn)
}
