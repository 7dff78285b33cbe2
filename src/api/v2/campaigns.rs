//! v2 campaign operations: create, describe, list, lifecycle, the settings' updates and
//! deletions, tags. Paging, lifecycle commands, state batches and tag storage are v1's
//! ([`crate::api::campaigns`]); only the shapes differ.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{self, MethodRouter};
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::model;
use super::schema::{check_text, decode_as, Shape};
use crate::accounts::AccountId;
use crate::api::campaigns::{
    apply_command, decode_next_token, list_page, owned_arn, query_values, remove, states_answer,
    ListCampaignsRequest,
};
use crate::api::error::ApiError;
use crate::api::wire::Violations;
use crate::api::AppState;
use crate::campaigns::channels::{
    ChannelSubtypeConfig, CommunicationLimitsConfig, CommunicationTimeConfig, EntryLimitsConfig,
    Schedule, Source,
};
use crate::campaigns::store::{self, UpdateError};
use crate::campaigns::{Campaign, CampaignSettings, CampaignUpdate, Command, NewCampaign};
use crate::queue::Channel;

/// Validates the campaign id of the path.
pub(crate) fn checked_id(id: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    check_text(&mut v, "id", id, &model::CAMPAIGN_ID);
    v.finish()
}

/// The v2 `Campaign`.
fn campaign_json(c: &Campaign) -> Value {
    let s = &c.settings;
    let mut out = json!({
        "id": c.id,
        "arn": c.arn,
        "name": c.name,
        "connectInstanceId": c.connect_instance_id,
        "channelSubtypeConfig": s.channel_subtype_config,
        "type": s.campaign_type,
        "source": s.source,
        "connectCampaignFlowArn": s.connect_campaign_flow_arn,
        "schedule": s.schedule,
        "entryLimitsConfig": s.entry_limits_config,
        "communicationTimeConfig": s.communication_time_config,
        "communicationLimitsOverride": s.communication_limits_override,
        "lastModifiedTime": c.last_modified_time,
        "tags": c.tags,
    });
    if let Value::Object(members) = &mut out {
        members.retain(|_, value| !value.is_null());
    }
    out
}

/// The channels a campaign has, as `ChannelSubtype` values.
fn channel_subtypes(channels: &ChannelSubtypeConfig) -> Vec<&'static str> {
    Channel::ALL
        .into_iter()
        .filter(|c| channels.has(*c))
        .map(subtype_name)
        .collect()
}

/// The `ChannelSubtype` spelling of a channel.
pub(crate) fn subtype_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Telephony => "TELEPHONY",
        Channel::Sms => "SMS",
        Channel::Email => "EMAIL",
        Channel::WhatsApp => "WHATSAPP",
    }
}

fn subtype(name: &str) -> Option<Channel> {
    Channel::ALL.into_iter().find(|c| subtype_name(*c) == name)
}

/// A schedule must end after it starts (the model cannot say so).
fn check_schedule(schedule: Option<&Schedule>, path: &str) -> Result<(), ApiError> {
    match schedule {
        Some(s) if s.end_time <= s.start_time => Err(ApiError::Validation(format!(
            "1 validation error detected: Value at '{path}.endTime' failed to satisfy constraint: Member must be after {path}.startTime"
        ))),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateCampaignRequest {
    name: String,
    connect_instance_id: String,
    #[serde(default)]
    channel_subtype_config: ChannelSubtypeConfig,
    #[serde(rename = "type")]
    campaign_type: Option<String>,
    source: Option<Source>,
    connect_campaign_flow_arn: Option<String>,
    schedule: Option<Schedule>,
    entry_limits_config: Option<EntryLimitsConfig>,
    communication_time_config: Option<CommunicationTimeConfig>,
    communication_limits_override: Option<CommunicationLimitsConfig>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// CreateCampaign: `PUT /v2/campaigns`.
pub async fn create(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: CreateCampaignRequest = decode_as(&body, &model::CREATE_CAMPAIGN_REQUEST)?;
    check_schedule(req.schedule.as_ref(), "schedule")?;
    let id = uuid::Uuid::new_v4().to_string();
    let arn = app.arns.campaign_arn(&account, &id);
    let new = NewCampaign {
        name: req.name,
        connect_instance_id: req.connect_instance_id,
        settings: CampaignSettings {
            channel_subtype_config: req.channel_subtype_config,
            campaign_type: req.campaign_type,
            source: req.source,
            connect_campaign_flow_arn: req.connect_campaign_flow_arn,
            schedule: req.schedule,
            entry_limits_config: req.entry_limits_config,
            communication_time_config: req.communication_time_config,
            communication_limits_override: req.communication_limits_override,
        },
        tags: req.tags,
    };
    let campaign = store::campaign_insert(&app.pool, &account, &id, &arn, &new).await?;
    tracing::info!(campaign_id = %campaign.id, "campaign created (v2)");
    Ok(Json(
        json!({ "id": campaign.id, "arn": campaign.arn, "tags": campaign.tags }),
    ))
}

/// DescribeCampaign: `GET /v2/campaigns/{id}`.
pub async fn describe(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    let campaign = store::campaign_get(&app.pool, &account, &id).await?;
    Ok(Json(json!({ "campaign": campaign_json(&campaign) })))
}

/// DeleteCampaign: `DELETE /v2/campaigns/{id}`.
pub async fn delete(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    remove(&app, &account, &id).await
}

/// ListCampaigns: `POST /v2/campaigns-summary`.
pub async fn list(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: ListCampaignsRequest = decode_as(&body, &model::LIST_CAMPAIGNS_REQUEST)?;
    let after = match req.next_token.as_deref() {
        None => 0,
        Some(token) => decode_next_token(token).ok_or_else(|| {
            ApiError::Validation(
                "1 validation error detected: Value at 'nextToken' failed to satisfy constraint: Member must be a token returned by ListCampaigns".into(),
            )
        })?,
    };
    let instance = req
        .filters
        .and_then(|f| f.instance_id_filter)
        .and_then(|f| f.value);
    let (rows, next_token) =
        list_page(&app, &account, instance.as_deref(), after, req.max_results).await?;
    let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    let campaigns = store::campaign_get_many(&app.pool, &ids).await?;
    let summaries: Vec<Value> = campaigns
        .iter()
        .map(|c| {
            let mut summary = campaign_json(c);
            if let Value::Object(members) = &mut summary {
                for dropped in [
                    "channelSubtypeConfig",
                    "source",
                    "communicationTimeConfig",
                    "communicationLimitsOverride",
                    "tags",
                ] {
                    members.remove(dropped);
                }
                members.insert(
                    "channelSubtypes".into(),
                    json!(channel_subtypes(&c.settings.channel_subtype_config)),
                );
            }
            summary
        })
        .collect();
    let mut out = json!({ "campaignSummaryList": summaries });
    if let Some(token) = next_token {
        out["nextToken"] = Value::String(token);
    }
    Ok(Json(out))
}

/// GetCampaignState: `GET /v2/campaigns/{id}/state`.
pub async fn state(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    let campaign = store::campaign_get(&app.pool, &account, &id).await?;
    Ok(Json(json!({ "state": campaign.state.as_str() })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateBatchRequest {
    campaign_ids: Vec<String>,
}

/// GetCampaignStateBatch: `POST /v2/campaigns-state`.
pub async fn state_batch(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: StateBatchRequest = decode_as(&body, &model::GET_CAMPAIGN_STATE_BATCH_REQUEST)?;
    states_answer(&app, &account, &req.campaign_ids, |state| state).await
}

/// The POST route of a lifecycle command (StartCampaign, PauseCampaign, ResumeCampaign,
/// StopCampaign).
pub fn post_command(command: Command) -> MethodRouter<AppState> {
    routing::post(
        move |State(app): State<AppState>,
              Extension(account): Extension<AccountId>,
              Path(id): Path<String>| async move {
            checked_id(&id)?;
            apply_command(&app, &account, &id, command).await?;
            Ok::<_, ApiError>(Json(json!({})))
        },
    )
}

/// How an update to an ended campaign is refused: operations whose model lists
/// InvalidCampaignStateException answer that, with the state; the others ConflictException.
#[derive(Clone, Copy)]
enum Ended {
    Conflict,
    InvalidState,
}

async fn update(
    app: &AppState,
    account: &AccountId,
    id: &str,
    change: CampaignUpdate,
    ended: Ended,
) -> Result<Json<Value>, ApiError> {
    match store::campaign_update(&app.pool, account, id, change).await {
        Ok(()) => {
            app.wake_engine();
            Ok(Json(json!({})))
        }
        Err(UpdateError::Ended { id, state }) if matches!(ended, Ended::InvalidState) => {
            Err(ApiError::InvalidCampaignState {
                state,
                message: format!(
                    "Campaign {id} is {} and can no longer be changed",
                    state.as_str()
                ),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// The body of every settings update: each operation sets the one member its model
/// requires (which the schema has checked), the others are absent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    name: Option<String>,
    channel_subtype_config: Option<ChannelSubtypeConfig>,
    communication_limits_override: Option<CommunicationLimitsConfig>,
    communication_time_config: Option<CommunicationTimeConfig>,
    entry_limits_config: Option<EntryLimitsConfig>,
    connect_campaign_flow_arn: Option<String>,
    schedule: Option<Schedule>,
    source: Option<Source>,
}

/// A settings update whose change the body carries.
pub struct BodyUpdate {
    /// The operation's request shape.
    shape: &'static Shape,
    /// How an ended campaign refuses it.
    ended: Ended,
    /// The change the validated body asks for.
    change: fn(UpdateBody) -> Option<CampaignUpdate>,
}

/// A settings deletion named by a required query parameter.
pub struct QueryUpdate {
    /// The parameter.
    name: &'static str,
    /// Its shape.
    shape: &'static Shape,
    /// How an ended campaign refuses it.
    ended: Ended,
    /// The change the parameter's value asks for.
    change: fn(&str) -> Option<CampaignUpdate>,
}

/// UpdateCampaignName: `POST /v2/campaigns/{id}/name`.
pub static UPDATE_NAME: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_NAME_REQUEST,
    ended: Ended::Conflict,
    change: |b| b.name.map(CampaignUpdate::Name),
};

/// UpdateCampaignChannelSubtypeConfig: `POST /v2/campaigns/{id}/channel-subtype-config`.
/// Each channel given replaces the campaign's; the others stay.
pub static UPDATE_CHANNELS: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_CHANNEL_SUBTYPE_CONFIG_REQUEST,
    ended: Ended::Conflict,
    change: |b| b.channel_subtype_config.map(CampaignUpdate::Channels),
};

/// DeleteCampaignChannelSubtypeConfig: `DELETE /v2/campaigns/{id}/channel-subtype-config`.
pub static DELETE_CHANNEL: QueryUpdate = QueryUpdate {
    name: "channelSubtype",
    shape: &model::CHANNEL_SUBTYPE,
    ended: Ended::Conflict,
    change: |name| subtype(name).map(CampaignUpdate::RemoveChannel),
};

/// UpdateCampaignCommunicationLimits: `POST /v2/campaigns/{id}/communication-limits`.
pub static UPDATE_COMMUNICATION_LIMITS: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_COMMUNICATION_LIMITS_REQUEST,
    ended: Ended::InvalidState,
    change: |b| {
        b.communication_limits_override
            .map(CampaignUpdate::CommunicationLimits)
    },
};

/// DeleteCampaignCommunicationLimits: `DELETE /v2/campaigns/{id}/communication-limits`
/// (`config=ALL_CHANNEL_SUBTYPES`, the only kind).
pub static DELETE_COMMUNICATION_LIMITS: QueryUpdate = QueryUpdate {
    name: "config",
    shape: &model::COMMUNICATION_LIMITS_CONFIG_TYPE,
    ended: Ended::InvalidState,
    change: |_| Some(CampaignUpdate::RemoveCommunicationLimits),
};

/// UpdateCampaignCommunicationTime: `POST /v2/campaigns/{id}/communication-time`.
pub static UPDATE_COMMUNICATION_TIME: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_COMMUNICATION_TIME_REQUEST,
    ended: Ended::InvalidState,
    change: |b| {
        b.communication_time_config
            .map(CampaignUpdate::CommunicationTime)
    },
};

/// DeleteCampaignCommunicationTime: `DELETE /v2/campaigns/{id}/communication-time`: one
/// channel's window.
pub static DELETE_COMMUNICATION_TIME: QueryUpdate = QueryUpdate {
    name: "config",
    shape: &model::COMMUNICATION_TIME_CONFIG_TYPE,
    ended: Ended::InvalidState,
    change: |name| subtype(name).map(CampaignUpdate::RemoveCommunicationTime),
};

/// UpdateCampaignEntryLimits: `POST /v2/campaigns/{id}/entry-limits`.
pub static UPDATE_ENTRY_LIMITS: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_ENTRY_LIMITS_REQUEST,
    ended: Ended::InvalidState,
    change: |b| b.entry_limits_config.map(CampaignUpdate::EntryLimits),
};

/// UpdateCampaignFlowAssociation: `POST /v2/campaigns/{id}/flow`.
pub static UPDATE_FLOW: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_FLOW_ASSOCIATION_REQUEST,
    ended: Ended::InvalidState,
    change: |b| {
        b.connect_campaign_flow_arn
            .map(CampaignUpdate::FlowAssociation)
    },
};

/// UpdateCampaignSchedule: `POST /v2/campaigns/{id}/schedule`.
pub static UPDATE_SCHEDULE: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_SCHEDULE_REQUEST,
    ended: Ended::InvalidState,
    change: |b| b.schedule.map(CampaignUpdate::Schedule),
};

/// UpdateCampaignSource: `POST /v2/campaigns/{id}/source`.
pub static UPDATE_SOURCE: BodyUpdate = BodyUpdate {
    shape: &model::UPDATE_CAMPAIGN_SOURCE_REQUEST,
    ended: Ended::InvalidState,
    change: |b| b.source.map(CampaignUpdate::Source),
};

/// The POST route of a body update.
pub fn post_update(spec: &'static BodyUpdate) -> MethodRouter<AppState> {
    routing::post(
        move |State(app): State<AppState>,
              Extension(account): Extension<AccountId>,
              Path(id): Path<String>,
              body: Bytes| async move {
            checked_id(&id)?;
            let body: UpdateBody = decode_as(&body, spec.shape)?;
            check_schedule(body.schedule.as_ref(), "schedule")?;
            let change = (spec.change)(body).ok_or_else(|| {
                ApiError::Validation("1 validation error detected: the update is missing".into())
            })?;
            update(&app, &account, &id, change, spec.ended).await
        },
    )
}

/// The DELETE route of a query-named deletion.
pub fn delete_by_query(spec: &'static QueryUpdate) -> MethodRouter<AppState> {
    routing::delete(
        move |State(app): State<AppState>,
              Extension(account): Extension<AccountId>,
              Path(id): Path<String>,
              RawQuery(query): RawQuery| async move {
            checked_id(&id)?;
            let mut v = Violations::default();
            let value = query_values(query.as_deref(), spec.name).into_iter().next();
            v.required(spec.name, &value);
            if let Some(value) = &value {
                check_text(&mut v, spec.name, value, spec.shape);
            }
            v.finish()?;
            let change = (spec.change)(value.as_deref().unwrap_or_default()).ok_or_else(|| {
                ApiError::Validation(format!("1 validation error detected: {}", spec.name))
            })?;
            update(&app, &account, &id, change, spec.ended).await
        },
    )
}

/// DeleteCampaignEntryLimits: `DELETE /v2/campaigns/{id}/entry-limits`.
pub async fn delete_entry_limits(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    let change = CampaignUpdate::RemoveEntryLimits;
    update(&app, &account, &id, change, Ended::InvalidState).await
}

/// Validates the ARN of the path and that it names a campaign of the caller.
fn checked_arn(app: &AppState, account: &AccountId, arn: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    check_text(&mut v, "arn", arn, &model::ARN);
    v.finish()?;
    owned_arn(app, account, arn)
}

/// ListTagsForResource: `GET /v2/tags/{arn}`.
pub async fn list_tags(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(arn): Path<String>,
) -> Result<Json<Value>, ApiError> {
    checked_arn(&app, &account, &arn)?;
    let tags = store::campaign_tags(&app.pool, &account, &arn).await?;
    Ok(Json(json!({ "tags": tags })))
}

#[derive(Deserialize)]
struct TagRequest {
    tags: BTreeMap<String, String>,
}

/// TagResource: `POST /v2/tags/{arn}`.
pub async fn tag(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: TagRequest = decode_as(&body, &model::TAG_RESOURCE_REQUEST)?;
    checked_arn(&app, &account, &arn)?;
    store::campaign_tag(&app.pool, &account, &arn, &req.tags).await?;
    Ok(Json(json!({})))
}

/// UntagResource: `DELETE /v2/tags/{arn}?tagKeys=k1&tagKeys=k2`.
pub async fn untag(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let keys = query_values(query.as_deref(), "tagKeys");
    let mut v = Violations::default();
    check_text(&mut v, "arn", &arn, &model::ARN);
    if keys.is_empty() {
        v.required::<()>("tagKeys", &None);
    }
    super::schema::check(&mut v, "tagKeys", &mut json!(keys), &model::TAG_KEY_LIST);
    v.finish()?;
    owned_arn(&app, &account, &arn)?;
    store::campaign_untag(&app.pool, &account, &arn, &keys).await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::CampaignState;

    #[test]
    fn channel_subtypes_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(subtype(subtype_name(channel)), Some(channel));
        }
        assert_eq!(subtype("FAX"), None);
    }

    #[test]
    fn a_campaign_answers_only_what_it_has() {
        let campaign = Campaign {
            id: "c".into(),
            arn: "arn".into(),
            name: "n".into(),
            connect_instance_id: "i".into(),
            settings: CampaignSettings::default(),
            tags: BTreeMap::new(),
            state: CampaignState::Initialized,
            last_modified_time: chrono::DateTime::UNIX_EPOCH,
        };
        let json = campaign_json(&campaign);
        assert!(json.get("schedule").is_none());
        assert_eq!(json["channelSubtypeConfig"], json!({}));
        assert_eq!(json["lastModifiedTime"], "1970-01-01T00:00:00Z");
    }
}
