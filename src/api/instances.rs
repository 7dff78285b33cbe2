//! Connect-instance operations: onboarding jobs and instance configs.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::wire::{decode, validate_instance_id, Violations};
use super::AppState;
use crate::accounts::AccountId;
use crate::instances::{self, store, EncryptionConfig};

fn checked_instance(id: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    validate_instance_id(&mut v, "connectInstanceId", id);
    v.finish()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartOnboardingRequest {
    encryption_config: Option<WireEncryptionConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEncryptionConfig {
    enabled: Option<bool>,
    encryption_type: Option<String>,
    key_arn: Option<String>,
}

/// StartInstanceOnboardingJob: `PUT /connect-instance/{connectInstanceId}/onboarding`.
pub async fn start_onboarding(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: StartOnboardingRequest = decode(&body)?;
    let mut v = Violations::default();
    validate_instance_id(&mut v, "connectInstanceId", &instance_id);
    v.required("encryptionConfig", &req.encryption_config);
    let mut encryption = None;
    if let Some(config) = req.encryption_config {
        v.required("encryptionConfig.enabled", &config.enabled);
        if let Some(kind) = &config.encryption_type {
            if kind != "KMS" {
                v.other(
                    "encryptionConfig.encryptionType",
                    "Member must satisfy enum value set: [KMS]",
                );
            }
        }
        if let Some(key) = &config.key_arn {
            v.length("encryptionConfig.keyArn", key, 0, 500);
        }
        if config.enabled == Some(true) && config.key_arn.is_none() {
            v.other(
                "encryptionConfig.keyArn",
                "Member must be set when encryption is enabled",
            );
        }
        encryption = Some(EncryptionConfig {
            enabled: config.enabled.unwrap_or(false),
            encryption_type: config.encryption_type,
            key_arn: config.key_arn,
        });
    }
    v.finish()?;
    let Some(encryption) = encryption else {
        return Err(ApiError::Validation("encryptionConfig is required".into()));
    };
    let role = instances::service_linked_role_arn(&account);
    let status =
        store::onboarding_job_start(&app.pool, &account, &instance_id, &encryption, &role).await?;
    Ok(Json(
        json!({ "connectInstanceOnboardingJobStatus": status }),
    ))
}

/// GetInstanceOnboardingJobStatus: `GET /connect-instance/{connectInstanceId}/onboarding`.
pub async fn onboarding_status(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    let status = store::onboarding_job_get(&app.pool, &account, &instance_id).await?;
    Ok(Json(
        json!({ "connectInstanceOnboardingJobStatus": status }),
    ))
}

/// DeleteInstanceOnboardingJob: `DELETE /connect-instance/{connectInstanceId}/onboarding`.
pub async fn delete_onboarding(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    store::onboarding_job_delete(&app.pool, &account, &instance_id).await?;
    Ok(Json(json!({})))
}

/// GetConnectInstanceConfig: `GET /connect-instance/{connectInstanceId}/config`.
pub async fn config(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    let config = store::instance_config_get(&app.pool, &account, &instance_id).await?;
    Ok(Json(json!({ "connectInstanceConfig": config })))
}

/// DeleteConnectInstanceConfig: `DELETE /connect-instance/{connectInstanceId}/config`.
pub async fn delete_config(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    store::instance_config_delete(&app.pool, &account, &instance_id, false).await?;
    Ok(Json(json!({})))
}
