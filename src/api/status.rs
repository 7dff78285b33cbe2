//! The engine's status API (an extension of the AWS API, signed the same way): one dial
//! request's state, contact and timeline, and a campaign's progress.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Extension;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::wire::{validate_campaign_id, Violations};
use super::AppState;
use crate::accounts::AccountId;
use crate::campaigns::store::campaign_get;
use crate::queue::store::{campaign_abandonment, campaign_progress, dial_request_status, Timeline};
use crate::queue::DialRequestState;

/// DescribeDialRequest: `GET /campaigns/{id}/dial-requests/{dialRequestId}`.
pub async fn dial_request(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path((campaign_id, request_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", &campaign_id);
    let parsed = uuid::Uuid::parse_str(&request_id);
    if parsed.is_err() {
        v.other(
            "dialRequestId",
            "Member must be a dial request id returned by PutDialRequestBatch",
        );
    }
    v.finish()?;
    let Ok(id) = parsed else {
        return Err(ApiError::Validation("dialRequestId is invalid".into()));
    };
    let (status, timeline, past) = dial_request_status(&app.pool, &account, &campaign_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::ResourceNotFound(format!(
                "Dial request {request_id} not found in campaign {campaign_id}"
            ))
        })?;
    // Every attempt, oldest first: the earlier ones as the retry left them, then the
    // current one (if it was dialed) as the request's own fields say.
    let mut attempts: Vec<Value> = past
        .into_iter()
        .map(|(attempt, timeline)| {
            json!({
                "attempt": attempt.attempt,
                "contactId": attempt.contact_id,
                "outcome": attempt.outcome,
                "dialedAt": attempt.dialed_at.map(|t| t.to_rfc3339()),
                "endedAt": attempt.ended_at.to_rfc3339(),
                "retryAt": attempt.retry_at.to_rfc3339(),
                "timeline": timeline_json(timeline),
            })
        })
        .collect();
    if status.attempts as usize > attempts.len() {
        attempts.push(json!({
            "attempt": status.attempts,
            "contactId": status.contact_id,
            "outcome": status.outcome,
            "dialedAt": status.dialed_at.map(|t| t.to_rfc3339()),
            "timeline": timeline_json(timeline.clone()),
        }));
    }
    let timeline = timeline_json(timeline);
    Ok(Json(json!({
        "id": status.id.to_string(),
        "campaignId": campaign_id,
        "clientToken": status.client_token,
        "state": status.state.as_str(),
        "channel": status.channel,
        "reason": status.reason,
        "outcome": status.outcome,
        "contactId": status.contact_id,
        "attempts": status.attempts,
        "expirationTime": status.expires_at.to_rfc3339(),
        "createdAt": status.created_at.to_rfc3339(),
        "updatedAt": status.updated_at.to_rfc3339(),
        "timeline": timeline,
        "attemptHistory": attempts,
    })))
}

/// A contact's events as the status API shows them.
fn timeline_json(timeline: Timeline) -> Vec<Value> {
    timeline
        .into_iter()
        .map(|(event, at, detail)| {
            let mut entry = json!({ "event": event, "at": at.to_rfc3339() });
            if let Some(detail) = detail {
                entry["agentId"] = Value::String(detail);
            }
            entry
        })
        .collect()
}

/// GetCampaignProgress: `GET /campaigns/{id}/progress`.
pub async fn progress(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(campaign_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", &campaign_id);
    v.finish()?;
    let campaign = campaign_get(&app.pool, &account, &campaign_id).await?;
    let rows = campaign_progress(&app.pool, &campaign_id).await?;
    let mut states: BTreeMap<&str, i64> = DialRequestState::ALL
        .iter()
        .map(|s| (s.as_str(), 0))
        .collect();
    let mut outcomes: BTreeMap<String, i64> = BTreeMap::new();
    let mut failures: BTreeMap<String, i64> = BTreeMap::new();
    for (state, outcome, reason, n) in rows {
        *states.entry(state.as_str()).or_default() += n;
        if let Some(outcome) = outcome {
            if state == DialRequestState::Completed {
                *outcomes.entry(outcome).or_default() += n;
            }
        }
        if state == DialRequestState::Failed {
            *failures
                .entry(reason.unwrap_or_else(|| "UNKNOWN".into()))
                .or_default() += n;
        }
    }
    // The live settings: a reload changes what pacing works to, and the answer says so.
    let pacing = crate::reload::current(&app.pacing);
    let window_secs = pacing.evaluation_window_secs;
    let since = app.clock.now() - chrono::Duration::seconds(window_secs as i64);
    let (dials, answers, abandons) = campaign_abandonment(&app.pool, &campaign_id, since).await?;
    let rate = if answers > 0 {
        abandons as f64 / answers as f64
    } else {
        0.0
    };
    Ok(Json(json!({
        "campaignId": campaign_id,
        "state": campaign.state.as_str(),
        "requests": states,
        "outcomes": outcomes,
        "failures": failures,
        "abandonment": {
            "windowSeconds": window_secs,
            "dials": dials,
            "personAnswers": answers,
            "abandons": abandons,
            "rate": rate,
            "target": pacing.abandonment_target,
        },
    })))
}
