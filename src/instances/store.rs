//! Instance SQL: onboarding jobs and instance configs. Both are kept per (account, instance):
//! two accounts may onboard the same instance id, and see only their own records.

use sqlx::{PgExecutor, PgPool};

use crate::accounts::AccountId;

use super::{EncryptionConfig, InstanceConfig, InstanceError, Integration, OnboardingJobStatus};
use crate::campaigns::CampaignState;

const SUCCEEDED: &str = "SUCCEEDED";

/// Records a (re)started onboarding job of `account` and the config it produces, in one
/// transaction.
pub async fn onboarding_job_start(
    pool: &PgPool,
    account: &AccountId,
    instance_id: &str,
    encryption: &EncryptionConfig,
    role_arn: &str,
) -> Result<OnboardingJobStatus, InstanceError> {
    let encryption = serde_json::to_value(encryption)?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into instance_onboarding_job (account_id, instance_id, status, encryption_config) values ($4, $1, $2, $3)
         on conflict (account_id, instance_id) do update
         set status = excluded.status, failure_code = null, encryption_config = excluded.encryption_config, updated_at = now()",
    )
    .bind(instance_id)
    .bind(SUCCEEDED)
    .bind(&encryption)
    .bind(account.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into connect_instance_config (account_id, instance_id, service_linked_role_arn, encryption_config) values ($4, $1, $2, $3)
         on conflict (account_id, instance_id) do update
         set service_linked_role_arn = excluded.service_linked_role_arn, encryption_config = excluded.encryption_config, updated_at = now()",
    )
    .bind(instance_id)
    .bind(role_arn)
    .bind(&encryption)
    .bind(account.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(OnboardingJobStatus {
        connect_instance_id: instance_id.to_string(),
        status: SUCCEEDED.to_string(),
        failure_code: None,
    })
}

/// The onboarding job of an instance of `account`.
pub async fn onboarding_job_get(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
) -> Result<OnboardingJobStatus, InstanceError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "select status, failure_code from instance_onboarding_job where instance_id = $1 and account_id = $2",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .fetch_optional(db)
    .await?;
    let (status, failure_code) =
        row.ok_or_else(|| InstanceError::JobNotFound(instance_id.to_string()))?;
    Ok(OnboardingJobStatus {
        connect_instance_id: instance_id.to_string(),
        status,
        failure_code,
    })
}

/// Deletes the onboarding job record of an instance of `account`.
pub async fn onboarding_job_delete(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
) -> Result<(), InstanceError> {
    let deleted = sqlx::query(
        "delete from instance_onboarding_job where instance_id = $1 and account_id = $2",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .execute(db)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(InstanceError::JobNotFound(instance_id.to_string()));
    }
    Ok(())
}

/// The config of an instance `account` onboarded.
pub async fn instance_config_get(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
) -> Result<InstanceConfig, InstanceError> {
    let row: Option<(String, serde_json::Value)> = sqlx::query_as(
        "select service_linked_role_arn, encryption_config from connect_instance_config where instance_id = $1 and account_id = $2",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .fetch_optional(db)
    .await?;
    let (service_linked_role_arn, encryption) =
        row.ok_or_else(|| InstanceError::ConfigNotFound(instance_id.to_string()))?;
    Ok(InstanceConfig {
        connect_instance_id: instance_id.to_string(),
        service_linked_role_arn,
        encryption_config: serde_json::from_value(encryption)?,
    })
}

/// Deletes the config of an instance of `account` (with its integrations and limits). With
/// `delete_campaigns` (v2's `DELETE_ALL`), the account's campaigns of the instance go with
/// it, in the same transaction; otherwise it is refused while active campaigns of that
/// account still use the instance (other accounts' campaigns do not depend on this config).
pub async fn instance_config_delete(
    pool: &PgPool,
    account: &AccountId,
    instance_id: &str,
    delete_campaigns: bool,
) -> Result<(), InstanceError> {
    let mut tx = pool.begin().await?;
    if delete_campaigns {
        sqlx::query("delete from campaign where connect_instance_id = $1 and account_id = $2")
            .bind(instance_id)
            .bind(account.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let in_use: bool = sqlx::query_scalar(&format!(
        "select exists (select 1 from campaign
                        where connect_instance_id = $1 and account_id = $2 and state not in {})",
        CampaignState::ended_sql()
    ))
    .bind(instance_id)
    .bind(account.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if in_use {
        return Err(InstanceError::InUse(instance_id.to_string()));
    }
    let deleted = sqlx::query(
        "delete from connect_instance_config where instance_id = $1 and account_id = $2",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(InstanceError::ConfigNotFound(instance_id.to_string()));
    }
    tx.commit().await?;
    Ok(())
}

/// `ConfigNotFound` unless `account` onboarded the instance.
fn onboarded(rows: u64, instance_id: &str) -> Result<(), InstanceError> {
    if rows == 0 {
        return Err(InstanceError::ConfigNotFound(instance_id.to_string()));
    }
    Ok(())
}

/// Stores the communication limits of an instance `account` onboarded, as sent.
pub async fn communication_limits_put(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
    limits: &serde_json::Value,
) -> Result<(), InstanceError> {
    let updated = sqlx::query(
        "update connect_instance_config set communication_limits = $3, updated_at = now()
         where instance_id = $1 and account_id = $2",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .bind(limits)
    .execute(db)
    .await?
    .rows_affected();
    onboarded(updated, instance_id)
}

/// The communication limits of an instance `account` onboarded, if any were put.
pub async fn communication_limits_get(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
) -> Result<Option<serde_json::Value>, InstanceError> {
    let row: Option<Option<serde_json::Value>> = sqlx::query_scalar(
        "select communication_limits from connect_instance_config where instance_id = $1 and account_id = $2",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| InstanceError::ConfigNotFound(instance_id.to_string()))
}

/// Adds or replaces an integration of an instance `account` onboarded.
pub async fn integration_put(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
    integration: &Integration,
) -> Result<(), InstanceError> {
    let stored = sqlx::query(
        "insert into connect_instance_integration (account_id, instance_id, kind, identifier, config)
         select account_id, instance_id, $3, $4, $5 from connect_instance_config
         where instance_id = $1 and account_id = $2
         on conflict (account_id, instance_id, kind, identifier) do update
         set config = excluded.config, updated_at = now()",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .bind(&integration.kind)
    .bind(&integration.identifier)
    .bind(&integration.config)
    .execute(db)
    .await?
    .rows_affected();
    onboarded(stored, instance_id)
}

/// Removes an integration; `IntegrationNotFound` when the instance has none such.
pub async fn integration_delete(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    instance_id: &str,
    kind: &str,
    identifier: &str,
) -> Result<(), InstanceError> {
    let deleted = sqlx::query(
        "delete from connect_instance_integration
         where instance_id = $1 and account_id = $2 and kind = $3 and identifier = $4",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .bind(kind)
    .bind(identifier)
    .execute(db)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(InstanceError::IntegrationNotFound(instance_id.to_string()));
    }
    Ok(())
}

/// Up to `limit` integrations of an instance `account` onboarded, skipping the first
/// `offset`, in a stable order.
pub async fn integration_list(
    pool: &PgPool,
    account: &AccountId,
    instance_id: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Integration>, InstanceError> {
    instance_config_get(pool, account, instance_id).await?;
    Ok(sqlx::query_as(
        "select kind, identifier, config from connect_instance_integration
         where instance_id = $1 and account_id = $2
         order by kind, identifier offset $3 limit $4",
    )
    .bind(instance_id)
    .bind(account.as_str())
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
