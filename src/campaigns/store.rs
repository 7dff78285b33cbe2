//! Campaign SQL. Every state change goes through [`campaign_command`], which locks the row,
//! applies [`CampaignState::apply`] and writes the result in one short transaction.
//!
//! The functions the API calls take the caller's account and see only its campaigns: another
//! account's campaign is `NotFound`. [`campaign_get_many`] serves the engine, which dials
//! every account's campaigns.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use sqlx::types::Json;
use std::sync::LazyLock;

use sqlx::{FromRow, PgExecutor, PgPool};

use crate::accounts::AccountId;

use super::{
    Campaign, CampaignError, CampaignSettings, CampaignState, CampaignUpdate, Command, NewCampaign,
    UpdateRefused,
};

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: String,
    arn: String,
    name: String,
    connect_instance_id: String,
    #[sqlx(flatten)]
    settings: SettingsDocs,
    tags: Json<BTreeMap<String, String>>,
    state: CampaignState,
    updated_at: DateTime<Utc>,
}

const CAMPAIGN_COLUMNS: &str =
    "id, arn, name, connect_instance_id, channel_subtype_config, campaign_type, source, \
     connect_campaign_flow_arn, schedule, entry_limits_config, communication_time_config, \
     communication_limits_override, tags, state, updated_at";

/// A stored optional document, decoded.
fn optional<T: serde::de::DeserializeOwned>(
    value: Option<serde_json::Value>,
) -> Result<Option<T>, serde_json::Error> {
    value.map(serde_json::from_value).transpose()
}

impl TryFrom<CampaignRow> for Campaign {
    type Error = CampaignError;

    fn try_from(row: CampaignRow) -> Result<Self, Self::Error> {
        let corrupt = |source| CampaignError::Corrupt {
            id: row.id.clone(),
            source,
        };
        let docs = row.settings;
        let settings = CampaignSettings {
            channel_subtype_config: serde_json::from_value(docs.channel_subtype_config)
                .map_err(corrupt)?,
            campaign_type: docs.campaign_type,
            source: optional(docs.source).map_err(corrupt)?,
            connect_campaign_flow_arn: docs.connect_campaign_flow_arn,
            schedule: optional(docs.schedule).map_err(corrupt)?,
            entry_limits_config: optional(docs.entry_limits_config).map_err(corrupt)?,
            communication_time_config: optional(docs.communication_time_config).map_err(corrupt)?,
            communication_limits_override: optional(docs.communication_limits_override)
                .map_err(corrupt)?,
        };
        Ok(Campaign {
            settings,
            id: row.id,
            arn: row.arn,
            name: row.name,
            connect_instance_id: row.connect_instance_id,
            tags: row.tags.0,
            state: row.state,
            last_modified_time: row.updated_at,
        })
    }
}

/// The settings as stored, one field per column, in the order of [`SETTINGS_COLUMNS`].
#[derive(sqlx::FromRow)]
struct SettingsDocs {
    channel_subtype_config: serde_json::Value,
    campaign_type: Option<String>,
    source: Option<serde_json::Value>,
    connect_campaign_flow_arn: Option<String>,
    schedule: Option<serde_json::Value>,
    entry_limits_config: Option<serde_json::Value>,
    communication_time_config: Option<serde_json::Value>,
    communication_limits_override: Option<serde_json::Value>,
}

/// The settings columns, bound from `$first` on in [`SettingsDocs`] order.
const SETTINGS_COLUMNS: [&str; 8] = [
    "channel_subtype_config",
    "campaign_type",
    "source",
    "connect_campaign_flow_arn",
    "schedule",
    "entry_limits_config",
    "communication_time_config",
    "communication_limits_override",
];

impl SettingsDocs {
    fn of(settings: &CampaignSettings) -> Self {
        Self {
            channel_subtype_config: to_json(&settings.channel_subtype_config),
            campaign_type: settings.campaign_type.clone(),
            source: settings.source.as_ref().map(to_json),
            connect_campaign_flow_arn: settings.connect_campaign_flow_arn.clone(),
            schedule: settings.schedule.as_ref().map(to_json),
            entry_limits_config: settings.entry_limits_config.as_ref().map(to_json),
            communication_time_config: settings.communication_time_config.as_ref().map(to_json),
            communication_limits_override: settings
                .communication_limits_override
                .as_ref()
                .map(to_json),
        }
    }

    fn bind<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(self.channel_subtype_config)
            .bind(self.campaign_type)
            .bind(self.source)
            .bind(self.connect_campaign_flow_arn)
            .bind(self.schedule)
            .bind(self.entry_limits_config)
            .bind(self.communication_time_config)
            .bind(self.communication_limits_override)
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
    // Serializing these plain structs cannot fail: they hold only strings, numbers, times and
    // maps with string keys.
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
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "insert into campaign (account_id, id, arn, name, connect_instance_id, tags, {settings})
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             returning {CAMPAIGN_COLUMNS}",
            settings = SETTINGS_COLUMNS.join(", ")
        )
    });
    let query = sqlx::query(&INSERT)
        .bind(account.as_str())
        .bind(id)
        .bind(arn)
        .bind(&new.name)
        .bind(&new.connect_instance_id)
        .bind(Json(&new.tags));
    let row = SettingsDocs::of(&new.settings)
        .bind(query)
        .fetch_one(db)
        .await?;
    CampaignRow::from_row(&row)?.try_into()
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

/// Completes every running or paused campaign whose schedule has ended at `now`; returns
/// their ids. Their pending requests are then cancelled by the sweeper like a stopped
/// campaign's, and the claim already stops at the end time.
pub async fn campaign_complete_due(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, CampaignError> {
    Ok(sqlx::query_scalar(
        "update campaign set state = 'Completed', updated_at = now()
         where state in ('Running', 'Paused') and schedule is not null
           and (schedule ->> 'endTime')::timestamptz <= $1
         returning id",
    )
    .bind(now)
    .fetch_all(db)
    .await?)
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
    /// The change does not apply to this campaign.
    #[error("campaign {id}: {refused}")]
    Refused {
        /// Campaign id.
        id: String,
        /// Why.
        refused: UpdateRefused,
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
    update
        .apply(&mut campaign)
        .map_err(|refused| UpdateError::Refused {
            id: id.to_string(),
            refused,
        })?;
    static UPDATE: LazyLock<String> = LazyLock::new(|| {
        let settings: Vec<String> = SETTINGS_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, column)| format!("{column} = ${}", i + 3))
            .collect();
        format!(
            "update campaign set name = $2, {}, updated_at = now() where id = $1",
            settings.join(", ")
        )
    });
    let query = sqlx::query(&UPDATE).bind(id).bind(&campaign.name);
    SettingsDocs::of(&campaign.settings)
        .bind(query)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::{AgentDialerConfig, DialerConfig};

    #[sqlx::test]
    async fn a_campaign_inserted_the_v1_way_reads_as_telephony(pool: PgPool) {
        sqlx::query(
            r#"insert into campaign (id, arn, name, connect_instance_id, dialer_config, outbound_call_config, account_id)
               values ('c', 'arn:aws:connect-campaigns:us-east-1:123456789012:campaign/c', 'c', 'i',
                       '{"predictiveDialerConfig": {"bandwidthAllocation": 0.5, "dialingCapacity": 0.2}}',
                       '{"connectContactFlowId": "flow", "connectQueueId": "q"}', '123456789012')"#,
        )
        .execute(&pool)
        .await
        .unwrap();
        let account = AccountId::parse("123456789012").unwrap();
        let campaign = campaign_get(&pool, &account, "c").await.unwrap();
        assert_eq!(
            campaign.dialer_config(),
            Some(DialerConfig::PredictiveDialerConfig(AgentDialerConfig {
                bandwidth_allocation: 0.5,
                dialing_capacity: Some(0.2),
            }))
        );
        let call = campaign.outbound_call_config().unwrap();
        assert_eq!(
            (
                call.connect_contact_flow_id.as_str(),
                call.connect_queue_id.as_deref()
            ),
            ("flow", Some("q"))
        );
        let legacy: (Option<serde_json::Value>, Option<serde_json::Value>) = sqlx::query_as(
            "select dialer_config, outbound_call_config from campaign where id = 'c'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(legacy, (None, None), "the v1 columns are cleared");
    }
}
