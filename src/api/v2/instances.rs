//! v2 Connect-instance operations. The config and onboarding operations are v1's on the same
//! records (their shapes did not change), re-exported here for the v2 routes; deleting a
//! config takes v2's campaign deletion policy. Integrations and instance communication
//! limits are v2's own, stored per onboarded instance as sent.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::model;
use super::schema::{check_text, decode_as, Shape};
use crate::accounts::AccountId;
use crate::api::campaigns::query_values;
use crate::api::error::ApiError;
use crate::api::wire::Violations;
use crate::api::AppState;
use crate::instances::{store, Integration};

pub use crate::api::instances::{config, delete_onboarding, onboarding_status, start_onboarding};

fn checked_instance(id: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    check_text(&mut v, "connectInstanceId", id, &model::INSTANCE_ID);
    v.finish()
}

/// The optional query parameter `name`, validated against `shape`.
fn optional_param(
    v: &mut Violations,
    query: Option<&str>,
    name: &str,
    shape: &Shape,
) -> Option<String> {
    let value = query_values(query, name).into_iter().next();
    if let Some(value) = &value {
        check_text(v, name, value, shape);
    }
    value
}

/// DeleteConnectInstanceConfig: `DELETE /v2/connect-instance/{id}/config`. With
/// `campaignDeletionPolicy=DELETE_ALL` the instance's campaigns are deleted with it; with
/// `RETAIN_ALL` (the default) it is refused while active campaigns use the instance.
pub async fn delete_config(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut v = Violations::default();
    check_text(
        &mut v,
        "connectInstanceId",
        &instance_id,
        &model::INSTANCE_ID,
    );
    let policy = optional_param(
        &mut v,
        query.as_deref(),
        "campaignDeletionPolicy",
        &model::CAMPAIGN_DELETION_POLICY,
    );
    v.finish()?;
    let delete_campaigns = policy.as_deref() == Some("DELETE_ALL");
    store::instance_config_delete(&app.pool, &account, &instance_id, delete_campaigns).await?;
    Ok(Json(json!({})))
}

/// The identifying ARN of each integration kind.
const IDENTIFIERS: [(&str, &str); 3] = [
    ("customerProfiles", "domainArn"),
    ("qConnect", "knowledgeBaseArn"),
    ("lambda", "functionArn"),
];

/// The kind and identifying ARN of a validated `IntegrationConfig` or
/// `IntegrationIdentifier` union.
fn kind_and_identifier(union: &Map<String, Value>) -> Result<(String, String, Value), ApiError> {
    IDENTIFIERS
        .iter()
        .find_map(|(kind, arn)| {
            let member = union.get(*kind)?;
            let identifier = member.get(*arn)?.as_str()?;
            Some((kind.to_string(), identifier.to_string(), member.clone()))
        })
        .ok_or_else(|| ApiError::Validation("The integration names no known kind".into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutIntegrationRequest {
    integration_config: Map<String, Value>,
}

/// PutConnectInstanceIntegration: `PUT /v2/connect-instance/{id}/integrations`.
pub async fn put_integration(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    let req: PutIntegrationRequest =
        decode_as(&body, &model::PUT_CONNECT_INSTANCE_INTEGRATION_REQUEST)?;
    let (kind, identifier, config) = kind_and_identifier(&req.integration_config)?;
    let integration = Integration {
        kind,
        identifier,
        config,
    };
    store::integration_put(&app.pool, &account, &instance_id, &integration).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteIntegrationRequest {
    integration_identifier: Map<String, Value>,
}

/// DeleteConnectInstanceIntegration: `POST /v2/connect-instance/{id}/integrations/delete`.
pub async fn delete_integration(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    let req: DeleteIntegrationRequest =
        decode_as(&body, &model::DELETE_CONNECT_INSTANCE_INTEGRATION_REQUEST)?;
    let (kind, identifier, _) = kind_and_identifier(&req.integration_identifier)?;
    store::integration_delete(&app.pool, &account, &instance_id, &kind, &identifier).await?;
    Ok(Json(json!({})))
}

const PAGE_DEFAULT: i64 = 50;
const TOKEN_PREFIX: &str = "integrations-after:";

/// ListConnectInstanceIntegrations: `GET /v2/connect-instance/{id}/integrations`.
pub async fn list_integrations(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut v = Violations::default();
    check_text(
        &mut v,
        "connectInstanceId",
        &instance_id,
        &model::INSTANCE_ID,
    );
    let max = query_values(query.as_deref(), "maxResults")
        .into_iter()
        .next();
    let limit = match max.as_deref().map(str::parse::<i64>) {
        None => PAGE_DEFAULT,
        Some(Ok(n)) => {
            v.range("maxResults", n as f64, 1.0, 50.0);
            n
        }
        Some(Err(_)) => {
            v.other(
                "maxResults",
                "Member must be of the right type (expected an integer)",
            );
            PAGE_DEFAULT
        }
    };
    let token = optional_param(&mut v, query.as_deref(), "nextToken", &model::NEXT_TOKEN);
    let offset = match token.as_deref() {
        None => 0,
        Some(token) => decode_token(token).unwrap_or_else(|| {
            v.other(
                "nextToken",
                "Member must be a token returned by ListConnectInstanceIntegrations",
            );
            0
        }),
    };
    v.finish()?;
    let mut rows =
        store::integration_list(&app.pool, &account, &instance_id, offset, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let summaries: Vec<Value> = rows
        .into_iter()
        .map(|i| json!({ i.kind: i.config }))
        .collect();
    let mut out = json!({ "integrationSummaryList": summaries });
    if more {
        out["nextToken"] = Value::String(encode_token(offset + limit));
    }
    Ok(Json(out))
}

fn encode_token(offset: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{offset}"))
}

fn decode_token(token: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix(TOKEN_PREFIX)?
        .parse()
        .ok()
        .filter(|offset: &i64| *offset >= 0)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutLimitsRequest {
    communication_limits_config: Value,
}

/// PutInstanceCommunicationLimits: `PUT /v2/connect-instance/{id}/communication-limits`.
pub async fn put_communication_limits(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    let req: PutLimitsRequest =
        decode_as(&body, &model::PUT_INSTANCE_COMMUNICATION_LIMITS_REQUEST)?;
    store::communication_limits_put(
        &app.pool,
        &account,
        &instance_id,
        &req.communication_limits_config,
    )
    .await?;
    Ok(Json(json!({})))
}

/// GetInstanceCommunicationLimits: `GET /v2/connect-instance/{id}/communication-limits`.
pub async fn communication_limits(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(instance_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_instance(&instance_id)?;
    let limits = store::communication_limits_get(&app.pool, &account, &instance_id).await?;
    Ok(Json(match limits {
        Some(limits) => json!({ "communicationLimitsConfig": limits }),
        None => json!({}),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_token(&encode_token(50)), Some(50));
        assert_eq!(decode_token("nope"), None);
        assert_eq!(decode_token(&encode_token(-1)), None);
    }

    #[test]
    fn integrations_are_named_by_their_arn() {
        let union =
            json!({"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}});
        let (kind, identifier, _) = kind_and_identifier(union.as_object().unwrap()).unwrap();
        assert_eq!(
            (kind.as_str(), identifier.as_str()),
            ("lambda", "arn:aws:lambda:us-east-1:123456789012:function:f")
        );
    }
}
