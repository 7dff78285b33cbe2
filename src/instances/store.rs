//! Instance SQL: onboarding jobs and instance configs. Both are kept per (account, instance):
//! two accounts may onboard the same instance id, and see only their own records.

use sqlx::{PgExecutor, PgPool};

use crate::accounts::AccountId;

use super::{EncryptionConfig, InstanceConfig, InstanceError, OnboardingJobStatus};

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

/// Deletes the config of an instance of `account`, unless active campaigns of that account
/// still use the instance (other accounts' campaigns do not depend on this config).
pub async fn instance_config_delete(
    pool: &PgPool,
    account: &AccountId,
    instance_id: &str,
) -> Result<(), InstanceError> {
    let mut tx = pool.begin().await?;
    let in_use: bool = sqlx::query_scalar(
        "select exists (select 1 from campaign
                        where connect_instance_id = $1 and account_id = $2 and state not in ('Stopped', 'Failed'))",
    )
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
