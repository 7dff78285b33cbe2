//! Campaign operations: create, describe, list, delete, lifecycle commands, settings updates
//! and tags.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::Extension;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::wire::{
    decode, validate_call_members, validate_campaign_id, validate_tags, Violations, WireAmdConfig,
    WireDialerConfig, WireOutboundCallConfig, MAX_BATCH,
};
use super::AppState;
use crate::accounts::AccountId;
use crate::campaigns::store;
use crate::campaigns::CampaignUpdate;
use crate::campaigns::{Campaign, CampaignSettings, CampaignState, Command, NewCampaign};

/// The v1 `Campaign`: the telephony channel seen as dialerConfig and outboundCallConfig,
/// both required by v1. A campaign without telephony (made through v2) has nothing v1 can
/// describe: it is not found here, with a message saying why.
fn campaign_json(c: &Campaign) -> Result<Value, ApiError> {
    let (Some(dialer), Some(call)) = (c.dialer_config(), c.outbound_call_config()) else {
        return Err(ApiError::ResourceNotFound(format!(
            "Campaign {} has no telephony channel, which is all this API describes; use the v2 API (/v2/campaigns/{})",
            c.id, c.id
        )));
    };
    Ok(json!({
        "id": c.id,
        "arn": c.arn,
        "name": c.name,
        "connectInstanceId": c.connect_instance_id,
        "dialerConfig": dialer,
        "outboundCallConfig": call,
        "tags": c.tags,
    }))
}

fn checked_id(id: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", id);
    v.finish()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateCampaignRequest {
    name: Option<String>,
    connect_instance_id: Option<String>,
    dialer_config: Option<WireDialerConfig>,
    outbound_call_config: Option<WireOutboundCallConfig>,
    tags: Option<BTreeMap<String, String>>,
}

/// CreateCampaign: `PUT /campaigns`.
pub async fn create(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: CreateCampaignRequest = decode(&body)?;
    let mut v = Violations::default();
    v.required("name", &req.name);
    v.required("connectInstanceId", &req.connect_instance_id);
    v.required("dialerConfig", &req.dialer_config);
    v.required("outboundCallConfig", &req.outbound_call_config);
    if let Some(name) = &req.name {
        v.length("name", name, 1, 127);
    }
    if let Some(instance) = &req.connect_instance_id {
        super::wire::validate_instance_id(&mut v, "connectInstanceId", instance);
    }
    let dialer_config = req
        .dialer_config
        .as_ref()
        .and_then(|c| c.validate(&mut v, "dialerConfig"));
    let outbound_call_config = req
        .outbound_call_config
        .as_ref()
        .map(|c| c.validate(&mut v, "outboundCallConfig"));
    let tags = req.tags.unwrap_or_default();
    validate_tags(&mut v, "tags", &tags);
    v.finish()?;
    let (Some(name), Some(connect_instance_id), Some(dialer_config), Some(outbound_call_config)) = (
        req.name,
        req.connect_instance_id,
        dialer_config,
        outbound_call_config,
    ) else {
        return Err(ApiError::Validation(
            "1 validation error detected: dialerConfig is invalid".into(),
        ));
    };
    let id = uuid::Uuid::new_v4().to_string();
    let arn = app.arns.campaign_arn(&account, &id);
    let new = NewCampaign {
        name,
        connect_instance_id,
        settings: CampaignSettings::v1(&dialer_config, &outbound_call_config),
        tags,
    };
    let campaign = store::campaign_insert(&app.pool, &account, &id, &arn, &new).await?;
    tracing::info!(campaign_id = %campaign.id, "campaign created");
    Ok(Json(
        json!({ "id": campaign.id, "arn": campaign.arn, "tags": campaign.tags }),
    ))
}

/// DescribeCampaign: `GET /campaigns/{id}`.
pub async fn describe(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    let campaign = store::campaign_get(&app.pool, &account, &id).await?;
    Ok(Json(json!({ "campaign": campaign_json(&campaign)? })))
}

/// DeleteCampaign: `DELETE /campaigns/{id}`.
pub async fn delete(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    remove(&app, &account, &id).await
}

/// Deletes a campaign (both versions).
pub(crate) async fn remove(
    app: &AppState,
    account: &AccountId,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    store::campaign_delete(&app.pool, account, id).await?;
    tracing::info!(campaign_id = %id, "campaign deleted");
    Ok(Json(json!({})))
}

/// ListCampaigns' body (both versions).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListCampaignsRequest {
    pub(crate) max_results: Option<i64>,
    pub(crate) next_token: Option<String>,
    pub(crate) filters: Option<CampaignFilters>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CampaignFilters {
    pub(crate) instance_id_filter: Option<InstanceIdFilter>,
}

#[derive(Deserialize)]
pub(crate) struct InstanceIdFilter {
    pub(crate) value: Option<String>,
    operator: Option<String>,
}

/// Largest page ListCampaigns returns, and its default.
const LIST_MAX_RESULTS: i64 = 50;
const NEXT_TOKEN_PREFIX: &str = "campaigns-after:";

fn encode_next_token(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{NEXT_TOKEN_PREFIX}{seq}"))
}

/// One page of ListCampaigns (both versions): up to `max_results` campaigns of `account` after
/// paging position `after`, and the token of the next page if there is one.
pub(crate) async fn list_page(
    app: &AppState,
    account: &AccountId,
    instance: Option<&str>,
    after: i64,
    max_results: Option<i64>,
) -> Result<(Vec<store::CampaignSummary>, Option<String>), ApiError> {
    let limit = max_results.unwrap_or(LIST_MAX_RESULTS);
    // One extra row tells whether another page exists without a second query.
    let mut rows = store::campaign_list(&app.pool, account, instance, after, limit + 1).await?;
    let next_token = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_next_token(r.seq))
    } else {
        None
    };
    Ok((rows, next_token))
}

/// The paging position a ListCampaigns token stands for.
pub(crate) fn decode_next_token(token: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix(NEXT_TOKEN_PREFIX)?
        .parse()
        .ok()
}

/// ListCampaigns: `POST /campaigns-summary`.
pub async fn list(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: ListCampaignsRequest = decode(&body)?;
    let mut v = Violations::default();
    if let Some(max) = req.max_results {
        v.range("maxResults", max as f64, 1.0, LIST_MAX_RESULTS as f64);
    }
    let mut after = 0;
    if let Some(token) = &req.next_token {
        v.length("nextToken", token, 0, 1000);
        match decode_next_token(token) {
            Some(seq) => after = seq,
            None => v.other(
                "nextToken",
                "Member must be a token returned by ListCampaigns",
            ),
        }
    }
    let mut instance = None;
    if let Some(filter) = req.filters.and_then(|f| f.instance_id_filter) {
        v.required("filters.instanceIdFilter.value", &filter.value);
        v.required("filters.instanceIdFilter.operator", &filter.operator);
        if let Some(op) = &filter.operator {
            if op != "Eq" {
                v.other(
                    "filters.instanceIdFilter.operator",
                    "Member must satisfy enum value set: [Eq]",
                );
            }
        }
        if let Some(value) = &filter.value {
            super::wire::validate_instance_id(&mut v, "filters.instanceIdFilter.value", value);
        }
        instance = filter.value;
    }
    v.finish()?;
    let (rows, next_token) =
        list_page(&app, &account, instance.as_deref(), after, req.max_results).await?;
    let summaries: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "arn": r.arn,
                "name": r.name,
                "connectInstanceId": r.connect_instance_id,
            })
        })
        .collect();
    let mut out = json!({ "campaignSummaryList": summaries });
    if let Some(token) = next_token {
        out["nextToken"] = Value::String(token);
    }
    Ok(Json(out))
}

async fn command(
    app: &AppState,
    account: &AccountId,
    id: &str,
    command: Command,
) -> Result<Json<Value>, ApiError> {
    checked_id(id)?;
    apply_command(app, account, id, command)
        .await
        .map_err(ApiError::in_v1)?;
    Ok(Json(json!({})))
}

/// Applies a lifecycle command (both versions) and wakes the engine.
pub(crate) async fn apply_command(
    app: &AppState,
    account: &AccountId,
    id: &str,
    command: Command,
) -> Result<(), ApiError> {
    let state = store::campaign_command(&app.pool, account, id, command).await?;
    tracing::info!(campaign_id = %id, ?command, state = state.as_str(), "campaign state changed");
    app.wake_engine();
    Ok(())
}

/// StartCampaign: `POST /campaigns/{id}/start`.
pub async fn start(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    command(&app, &account, &id, Command::Start).await
}

/// PauseCampaign: `POST /campaigns/{id}/pause`.
pub async fn pause(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    command(&app, &account, &id, Command::Pause).await
}

/// ResumeCampaign: `POST /campaigns/{id}/resume`.
pub async fn resume(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    command(&app, &account, &id, Command::Resume).await
}

/// StopCampaign: `POST /campaigns/{id}/stop`.
pub async fn stop(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    command(&app, &account, &id, Command::Stop).await
}

/// GetCampaignState: `GET /campaigns/{id}/state`.
pub async fn state(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    let campaign = store::campaign_get(&app.pool, &account, &id).await?;
    Ok(Json(json!({ "state": campaign.state.in_v1().as_str() })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateBatchRequest {
    campaign_ids: Option<Vec<String>>,
}

/// GetCampaignStateBatch: `POST /campaigns-state`.
pub async fn state_batch(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: StateBatchRequest = decode(&body)?;
    let mut v = Violations::default();
    v.required("campaignIds", &req.campaign_ids);
    let ids = req.campaign_ids.unwrap_or_default();
    v.count("campaignIds", ids.len(), 1, MAX_BATCH);
    for (i, id) in ids.iter().enumerate() {
        validate_campaign_id(&mut v, &format!("campaignIds.{}.member", i + 1), id);
    }
    v.finish()?;
    states_answer(&app, &account, &ids, CampaignState::in_v1).await
}

/// The GetCampaignStateBatch answer (both versions), each state spelled by `spell`.
pub(crate) async fn states_answer(
    app: &AppState,
    account: &AccountId,
    ids: &[String],
    spell: fn(CampaignState) -> CampaignState,
) -> Result<Json<Value>, ApiError> {
    let states = store::campaign_state_many(&app.pool, account, ids).await?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        match states.get(id) {
            Some(state) => {
                successful.push(json!({ "campaignId": id, "state": spell(*state).as_str() }))
            }
            None => failed.push(json!({ "campaignId": id, "failureCode": "ResourceNotFound" })),
        }
    }
    Ok(Json(
        json!({ "successfulRequests": successful, "failedRequests": failed }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateDialerConfigRequest {
    dialer_config: Option<WireDialerConfig>,
}

/// UpdateCampaignDialerConfig: `POST /campaigns/{id}/dialer-config`.
pub async fn update_dialer_config(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: UpdateDialerConfigRequest = decode(&body)?;
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", &id);
    v.required("dialerConfig", &req.dialer_config);
    let config = req
        .dialer_config
        .as_ref()
        .and_then(|c| c.validate(&mut v, "dialerConfig"));
    v.finish()?;
    let Some(config) = config else {
        return Err(ApiError::Validation("dialerConfig is invalid".into()));
    };
    store::campaign_update(
        &app.pool,
        &account,
        &id,
        CampaignUpdate::DialerConfig(config),
    )
    .await?;
    app.wake_engine();
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct UpdateNameRequest {
    name: Option<String>,
}

/// UpdateCampaignName: `POST /campaigns/{id}/name`.
pub async fn update_name(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: UpdateNameRequest = decode(&body)?;
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", &id);
    v.required("name", &req.name);
    if let Some(name) = &req.name {
        v.length("name", name, 1, 127);
    }
    v.finish()?;
    let name = req.name.unwrap_or_default();
    store::campaign_update(&app.pool, &account, &id, CampaignUpdate::Name(name)).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateOutboundCallConfigRequest {
    connect_contact_flow_id: Option<String>,
    connect_source_phone_number: Option<String>,
    answer_machine_detection_config: Option<WireAmdConfig>,
}

/// UpdateCampaignOutboundCallConfig: `POST /campaigns/{id}/outbound-call-config`.
pub async fn update_outbound_call_config(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: UpdateOutboundCallConfigRequest = decode(&body)?;
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", &id);
    validate_call_members(
        &mut v,
        req.connect_contact_flow_id.as_deref(),
        req.connect_source_phone_number.as_deref(),
        "connectContactFlowId",
        "connectSourcePhoneNumber",
    );
    let amd = req
        .answer_machine_detection_config
        .as_ref()
        .map(|amd| amd.validate(&mut v, "answerMachineDetectionConfig"));
    v.finish()?;
    let update = CampaignUpdate::OutboundCallConfig {
        connect_contact_flow_id: req.connect_contact_flow_id,
        connect_source_phone_number: req.connect_source_phone_number,
        answer_machine_detection_config: amd,
    };
    store::campaign_update(&app.pool, &account, &id, update).await?;
    Ok(Json(json!({})))
}

fn checked_arn(arn: &str, v: &mut Violations) {
    v.length("arn", arn, 20, 500);
    if !arn.starts_with("arn:") {
        v.other(
            "arn",
            "Member must satisfy regular expression pattern: arn:.*",
        );
    }
}

/// Refuses an ARN that is not a campaign ARN of this endpoint (not found) or that names
/// another account than the caller's (access denied, as AWS answers for a resource of an
/// account the caller has no rights in).
pub(crate) fn owned_arn(app: &AppState, account: &AccountId, arn: &str) -> Result<(), ApiError> {
    match app.arns.campaign_account(arn) {
        None => Err(ApiError::ResourceNotFound(format!(
            "Resource {arn} is not a campaign of this endpoint"
        ))),
        Some(owner) if owner != *account => Err(ApiError::AccessDenied(format!(
            "Account {account} is not authorized to access resource {arn}"
        ))),
        Some(_) => Ok(()),
    }
}

/// ListTagsForResource: `GET /tags/{arn}`.
pub async fn list_tags(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(arn): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut v = Violations::default();
    checked_arn(&arn, &mut v);
    v.finish()?;
    owned_arn(&app, &account, &arn)?;
    let tags = store::campaign_tags(&app.pool, &account, &arn).await?;
    Ok(Json(json!({ "tags": tags })))
}

#[derive(Deserialize)]
struct TagRequest {
    tags: Option<BTreeMap<String, String>>,
}

/// TagResource: `POST /tags/{arn}`.
pub async fn tag(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: TagRequest = decode(&body)?;
    let mut v = Violations::default();
    checked_arn(&arn, &mut v);
    v.required("tags", &req.tags);
    let tags = req.tags.unwrap_or_default();
    validate_tags(&mut v, "tags", &tags);
    v.finish()?;
    owned_arn(&app, &account, &arn)?;
    store::campaign_tag(&app.pool, &account, &arn, &tags).await?;
    Ok(Json(json!({})))
}

/// UntagResource: `DELETE /tags/{arn}?tagKeys=k1&tagKeys=k2`.
pub async fn untag(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut v = Violations::default();
    checked_arn(&arn, &mut v);
    let keys = query_values(query.as_deref(), "tagKeys");
    if keys.is_empty() {
        v.other("tagKeys", "Member must not be null");
    }
    v.count("tagKeys", keys.len(), 0, 50);
    for key in &keys {
        v.length("tagKeys.member", key, 1, 128);
    }
    v.finish()?;
    owned_arn(&app, &account, &arn)?;
    store::campaign_untag(&app.pool, &account, &arn, &keys).await?;
    Ok(Json(json!({})))
}

/// The values of query parameter `name`, decoded.
pub(crate) fn query_values(query: Option<&str>, name: &str) -> Vec<String> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_token_round_trip_and_garbage() {
        assert_eq!(decode_next_token(&encode_next_token(42)), Some(42));
        assert_eq!(decode_next_token("not-a-token"), None);
        assert_eq!(decode_next_token(""), None);
    }
}
