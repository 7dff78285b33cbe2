//! PutOutboundRequestBatch and PutProfileOutboundRequestBatch.
//!
//! Outbound requests enter the same queue as v1's dial requests, through the same admission
//! ([`crate::api::dial_requests::admit`]): idempotent by clientToken, bounded by the
//! campaign's pending cap, never dialed past their expiration. Each item names one channel:
//! - `telephony` becomes a telephony request (attributes as given); overrides of the
//!   campaign's call defaults are stored with it (`channel_parameters`) but calls are placed
//!   with the campaign's defaults for now;
//! - `sms` becomes an SMS request: the destination number, the template parameters as its
//!   attributes, the source number and template overrides in `channel_parameters`;
//! - `email` and `whatsApp` fail (`InvalidInput`): no sender exists for them yet, so a
//!   request would only wait to expire.
//!
//! An item for a channel the campaign has no configuration for fails `InvalidInput`, as does
//! a number that is not E.164 or a parameter PostgreSQL cannot store. A full queue fails the
//! item `BufferLimitExceeded`. The model's failed item has no message, so each refusal is
//! logged with its clientToken and reason (never the number or the parameters).
//!
//! No Customer Profiles domain is configured, so PutProfileOutboundRequestBatch has no
//! profile to reach: every item fails `ResourceNotFound`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::campaigns::checked_id;
use super::model;
use super::schema::{decode_as, validated};
use crate::accounts::AccountId;
use crate::api::dial_requests::{admit, busy, Refusal};
use crate::api::error::ApiError;
use crate::api::wire::{decode_except, is_storable};
use crate::api::AppState;
use crate::campaigns::channels::ChannelSubtypeConfig;
use crate::campaigns::store::campaign_get;
use crate::campaigns::CampaignState;
use crate::queue::{Channel, NewDialRequest, PhoneNumber};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutOutboundRequestBatchRequest {
    outbound_requests: Vec<OutboundRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutboundRequest {
    client_token: String,
    expiration_time: chrono::DateTime<chrono::Utc>,
    channel_subtype_parameters: BTreeMap<String, Map<String, Value>>,
}

/// Whether a body path lies in one item's attributes or template parameters, whose
/// unstorable text fails that item alone.
fn in_item_parameters(path: &str) -> bool {
    let segments: Vec<&str> = path.split('.').collect();
    segments.first() == Some(&"outboundRequests")
        && segments.get(3) == Some(&"channelSubtypeParameters")
        && matches!(
            segments.get(5),
            Some(&"attributes") | Some(&"templateParameters")
        )
}

/// Why an item was refused, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The campaign has no configuration for the item's channel.
    NoChannelConfig,
    /// No sender exists for the channel yet.
    NoSender,
    /// The destination is not an E.164 number.
    BadNumber,
    /// An attribute or parameter holds U+0000.
    Unstorable,
}

/// The member of `parameters` holding the item's parameters map.
fn parameter_map(parameters: &Map<String, Value>, name: &str) -> BTreeMap<String, String> {
    parameters
        .get(name)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The members of `parameters` named in `overrides`, if any is set.
fn overrides(parameters: &Map<String, Value>, names: &[&str]) -> Option<Value> {
    let set: Map<String, Value> = names
        .iter()
        .filter_map(|name| Some((name.to_string(), parameters.get(*name)?.clone())))
        .collect();
    (!set.is_empty()).then_some(Value::Object(set))
}

/// The request an item stands for, or why it is refused.
fn prepare(
    item: &OutboundRequest,
    channels: &ChannelSubtypeConfig,
) -> Result<NewDialRequest, Reason> {
    // The schema let through exactly one channel member.
    let Some((name, parameters)) = item.channel_subtype_parameters.iter().next() else {
        return Err(Reason::NoChannelConfig);
    };
    let (channel, map_name, override_names): (Channel, &str, &[&str]) = match name.as_str() {
        "telephony" => (
            Channel::Telephony,
            "attributes",
            &[
                "connectSourcePhoneNumber",
                "answerMachineDetectionConfig",
                "ringTimeout",
            ],
        ),
        "sms" => (
            Channel::Sms,
            "templateParameters",
            &["connectSourcePhoneNumberArn", "templateArn"],
        ),
        "email" => (Channel::Email, "templateParameters", &[]),
        _ => (Channel::WhatsApp, "templateParameters", &[]),
    };
    if !channels.has(channel) {
        return Err(Reason::NoChannelConfig);
    }
    if matches!(channel, Channel::Email | Channel::WhatsApp) {
        return Err(Reason::NoSender);
    }
    let attributes = parameter_map(parameters, map_name);
    if !attributes
        .iter()
        .all(|(k, v)| is_storable(k) && is_storable(v))
    {
        return Err(Reason::Unstorable);
    }
    let number = parameters
        .get("destinationPhoneNumber")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let phone = PhoneNumber::parse(number).map_err(|_| Reason::BadNumber)?;
    Ok(NewDialRequest::new(
        item.client_token.clone(),
        phone,
        item.expiration_time,
        attributes,
    )
    .on_channel(channel, overrides(parameters, override_names)))
}

/// PutOutboundRequestBatch: `PUT /v2/campaigns/{id}/outbound-requests`.
pub async fn put_batch(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(_turn) = app.ingest.enter().await else {
        return Err(busy("PutOutboundRequestBatch"));
    };
    checked_id(&id)?;
    let body: Value = decode_except(&body, in_item_parameters)?;
    let req: PutOutboundRequestBatchRequest =
        validated(body, &model::PUT_OUTBOUND_REQUEST_BATCH_REQUEST)?;
    let campaign = campaign_get(&app.pool, &account, &id).await?;
    let channels = &campaign.settings.channel_subtype_config;
    let prepared: Vec<Result<NewDialRequest, Refusal>> = req
        .outbound_requests
        .iter()
        .map(|item| {
            prepare(item, channels).map_err(|reason| {
                tracing::info!(campaign_id = %id, client_token = %item.client_token, ?reason, "outbound request refused");
                Refusal::Invalid
            })
        })
        .collect();
    let answers = admit(&app, &account, &id, prepared).await?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (item, answer) in req.outbound_requests.iter().zip(answers) {
        match answer {
            Ok(request_id) => {
                successful.push(json!({ "clientToken": item.client_token, "id": request_id }))
            }
            Err(refusal) => failed.push(json!({
                "clientToken": item.client_token,
                "failureCode": match refusal {
                    Refusal::Invalid => "InvalidInput",
                    Refusal::QueueFull => "BufferLimitExceeded",
                },
            })),
        }
    }
    Ok(Json(
        json!({ "successfulRequests": successful, "failedRequests": failed }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutProfileOutboundRequestBatchRequest {
    profile_outbound_requests: Vec<ProfileOutboundRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileOutboundRequest {
    client_token: String,
}

/// PutProfileOutboundRequestBatch: `PUT /v2/campaigns/{id}/profile-outbound-requests`.
pub async fn put_profile_batch(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    checked_id(&id)?;
    let req: PutProfileOutboundRequestBatchRequest =
        decode_as(&body, &model::PUT_PROFILE_OUTBOUND_REQUEST_BATCH_REQUEST)?;
    let campaign = campaign_get(&app.pool, &account, &id).await?;
    if !campaign.state.accepts_dial_requests() {
        return Err(ended(campaign.state));
    }
    tracing::info!(campaign_id = %id, items = req.profile_outbound_requests.len(), "profile outbound requests refused: no Customer Profiles domain is configured");
    let failed: Vec<Value> = req
        .profile_outbound_requests
        .iter()
        .map(|item| json!({ "clientToken": item.client_token, "failureCode": "ResourceNotFound" }))
        .collect();
    Ok(Json(
        json!({ "successfulRequests": [], "failedRequests": failed }),
    ))
}

fn ended(state: CampaignState) -> ApiError {
    ApiError::InvalidCampaignState {
        state,
        message: format!(
            "Campaign is {} and does not accept outbound requests",
            state.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parameter_paths_are_item_scoped() {
        assert!(in_item_parameters(
            "outboundRequests.1.member.channelSubtypeParameters.sms.templateParameters.key"
        ));
        assert!(in_item_parameters(
            "outboundRequests.2.member.channelSubtypeParameters.telephony.attributes.x"
        ));
        assert!(!in_item_parameters("outboundRequests.1.member.clientToken"));
        assert!(!in_item_parameters(
            "outboundRequests.1.member.channelSubtypeParameters.sms.destinationPhoneNumber"
        ));
    }

    fn item(channel: &str, parameters: Value) -> OutboundRequest {
        serde_json::from_value(json!({
            "clientToken": "t",
            "expirationTime": "2030-01-01T00:00:00Z",
            "channelSubtypeParameters": { channel: parameters },
        }))
        .unwrap()
    }

    fn channels(value: Value) -> ChannelSubtypeConfig {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn sms_items_carry_parameters_and_overrides() {
        let sms = channels(json!({"sms": {
            "outboundMode": {"agentless": {}},
            "defaultOutboundConfig": {"connectSourcePhoneNumberArn": "arn:n", "wisdomTemplateArn": "arn:t"}
        }}));
        let request = prepare(
            &item(
                "sms",
                json!({"destinationPhoneNumber": "+14155550123", "templateParameters": {"name": "Ann"}, "templateArn": "arn:other"}),
            ),
            &sms,
        )
        .unwrap();
        assert_eq!(request.channel, Channel::Sms);
        assert_eq!(
            request.attributes.get("name").map(String::as_str),
            Some("Ann")
        );
        assert_eq!(
            request.channel_parameters,
            Some(json!({"templateArn": "arn:other"}))
        );
        let call = item(
            "telephony",
            json!({"destinationPhoneNumber": "+14155550123", "attributes": {}}),
        );
        assert_eq!(prepare(&call, &sms).unwrap_err(), Reason::NoChannelConfig);
        let bad = item(
            "sms",
            json!({"destinationPhoneNumber": "12", "templateParameters": {}}),
        );
        assert_eq!(prepare(&bad, &sms).unwrap_err(), Reason::BadNumber);
    }

    #[test]
    fn email_is_refused_even_when_configured() {
        let email = channels(json!({"email": {
            "outboundMode": {"agentless": {}},
            "defaultOutboundConfig": {"connectSourceEmailAddress": "a@b.co", "wisdomTemplateArn": "arn:t"}
        }}));
        let mail = item(
            "email",
            json!({"destinationEmailAddress": "x@y.co", "templateParameters": {}}),
        );
        assert_eq!(prepare(&mail, &email).unwrap_err(), Reason::NoSender);
    }
}
