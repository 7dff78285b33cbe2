//! The retry-policy API (an extension of the AWS API, signed the same way; the
//! connectcampaigns v2 model has no retry policy): a campaign's retries by outcome, which win
//! over the config file's `[retries]` for that campaign. See [`crate::rules::retry`].
//!
//! - `PUT /campaigns/{id}/retry-policy` (PutCampaignRetryPolicy), body
//!   `{"outcomes": {"no_answer": {"afterSeconds": 1800, "maxAttempts": 3}, ...}}` → the
//!   stored policy.
//! - `GET /campaigns/{id}/retry-policy` (GetCampaignRetryPolicy) → the policy in force and
//!   where it comes from (`api`, or `config` as the daemon started with it).
//! - `DELETE /campaigns/{id}/retry-policy` (DeleteCampaignRetryPolicy) → back to the config
//!   file's.
//!
//! Answers: `{"campaignId", "source", "retryPolicy": {"outcomes": {...}}}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Extension;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::wire::{decode, validate_campaign_id, Violations};
use super::AppState;
use crate::accounts::AccountId;
use crate::rules::retry::{RetryPolicy, RetryPolicySpec};
use crate::rules::store::{retry_policy_delete, retry_policy_get, retry_policy_put};

fn campaign_id_valid(campaign_id: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", campaign_id);
    v.finish()
}

/// The answer naming a campaign's policy and its source.
fn answer(campaign_id: &str, source: &str, policy: &RetryPolicySpec) -> Json<Value> {
    let outcomes: serde_json::Map<String, Value> = policy
        .outcomes
        .iter()
        .map(|(outcome, rule)| {
            (
                outcome.clone(),
                json!({ "afterSeconds": rule.after_secs, "maxAttempts": rule.max_attempts }),
            )
        })
        .collect();
    Json(json!({
        "campaignId": campaign_id,
        "source": source,
        "retryPolicy": { "outcomes": outcomes },
    }))
}

/// PutCampaignRetryPolicy: `PUT /campaigns/{id}/retry-policy`.
pub async fn put(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(campaign_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    campaign_id_valid(&campaign_id)?;
    let spec: RetryPolicySpec = decode(&body)?;
    let policy = RetryPolicy::parse("retryPolicy", &spec).map_err(|problems| {
        let api_names = problems
            .join("; ")
            .replace("after_secs", "afterSeconds")
            .replace("max_attempts", "maxAttempts");
        ApiError::Validation(api_names)
    })?;
    retry_policy_put(&app.pool, &account, &campaign_id, &policy).await?;
    Ok(answer(&campaign_id, "api", &policy.spec()))
}

/// GetCampaignRetryPolicy: `GET /campaigns/{id}/retry-policy`.
pub async fn get(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(campaign_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    campaign_id_valid(&campaign_id)?;
    let (name, stored) = retry_policy_get(&app.pool, &account, &campaign_id).await?;
    Ok(match stored {
        Some(policy) => answer(&campaign_id, "api", &policy),
        None => {
            let retries = &app.config.retries;
            let policy = retries
                .campaigns
                .get(&campaign_id)
                .or_else(|| retries.campaigns.get(&name))
                .unwrap_or(&retries.default);
            answer(&campaign_id, "config", policy)
        }
    })
}

/// DeleteCampaignRetryPolicy: `DELETE /campaigns/{id}/retry-policy`.
pub async fn delete(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(campaign_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    campaign_id_valid(&campaign_id)?;
    let removed = retry_policy_delete(&app.pool, &account, &campaign_id).await?;
    Ok(Json(
        json!({ "campaignId": campaign_id, "removed": removed }),
    ))
}
