//! Contact batches: one BatchPutContact call's worth of claimed dial requests, as the
//! dispatcher sends them and the what-if simulator imitates them, or one SMS request, as
//! the SMS path ([`super::sms`]) sends it. Plain data; the engine's store reads and writes
//! them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a campaign's contacts need from the contact center, fixed when a batch is claimed so
/// that every re-send of the batch is the same call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchTemplate {
    /// Amazon Connect instance.
    pub instance_id: String,
    /// Queue whose agents take the calls; none for an agentless campaign.
    pub queue_id: Option<String>,
    /// Contact flow.
    pub contact_flow_id: String,
    /// Caller id.
    pub source_phone_number: Option<String>,
    /// Answering-machine detection on.
    pub answer_machine_detection: bool,
    /// For an SMS batch (one request, one `StartOutboundChatContact`): the campaign's SMS
    /// defaults. None for calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsTemplate>,
}

/// A campaign's SMS defaults (`channelSubtypeConfig.sms.defaultOutboundConfig`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmsTemplate {
    /// ARN of the instance's number the messages come from.
    pub source_phone_number_arn: String,
    /// ARN of the message template ([`crate::sms::template`]).
    pub template_arn: String,
}

/// A request's own channel settings over its campaign's (`dial_request.channel_parameters`,
/// the v2 API's per-request `connectSourcePhoneNumberArn` and `templateArn`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelParameters {
    /// Source number ARN instead of the campaign's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_source_phone_number_arn: Option<String>,
    /// Template ARN instead of the campaign's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_arn: Option<String>,
}

/// A dial request inside a contact batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// Dial request id (the item's RequestIdentifier).
    pub id: Uuid,
    /// Number to call.
    pub phone_number: String,
    /// Contact attributes.
    pub attributes: BTreeMap<String, String>,
    /// Expiration.
    pub expires_at: DateTime<Utc>,
    /// When it must be dialed by, as its claim found it: its expiration, or earlier the close
    /// of its calling hours or the end of its campaign's schedule.
    pub dial_by: DateTime<Utc>,
    /// Times the request was claimed, this claim included.
    pub attempts: i32,
    /// Its own channel settings.
    pub parameters: ChannelParameters,
}

/// A claimed batch, written before the contact center is called.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Batch id.
    pub id: Uuid,
    /// Campaign.
    pub campaign_id: String,
    /// The BatchPutContact ClientToken.
    pub client_token: String,
    /// The call's fixed parts.
    pub template: BatchTemplate,
    /// Items in RequestIdentifier order.
    pub items: Vec<BatchItem>,
    /// Times the call was made before.
    pub attempts: i32,
}
