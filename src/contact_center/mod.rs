//! The dialer's boundary to the contact center that places calls and owns the agents.
//!
//! The engine talks to a contact center only through [`ContactCenter`]: create contacts with
//! [`ContactCenter::batch_put_contact`] (Amazon Connect `BatchPutContact`), read agent and queue
//! state with [`ContactCenter::queue_metrics`] (a subset of `GetCurrentMetricData`), and follow
//! each contact through [`ContactCenter::subscribe`]; send an SMS with
//! [`ContactCenter::start_outbound_chat_contact`]. Backends: [`sim`] (a seeded, simulated
//! center) and, later, a remote Amazon Connect backend speaking HTTP.
//!
//! Invariants:
//! - The request and response types are wire-shaped: serde names are the AWS PascalCase
//!   member names, so an HTTP backend can send and parse them unchanged. `InstanceId` travels
//!   in the URI (`PUT /contact/batch/{InstanceId}`), never in the body.
//! - `ClientToken` makes `StartOutboundChatContact` idempotent the same way: a retried token
//!   returns the same contact and sends no second message.
//! - `ClientToken` makes `BatchPutContact` idempotent: replaying a token with the same items
//!   returns the same contact ids and places no new call. This is the only thing that keeps
//!   "at most one call per dial request" true across crashes, so every backend must honour it.
//! - Phone numbers and attribute values are personal data: no type here prints them in an
//!   error, and backends must not log them.

pub mod connect;
pub mod emulator;
pub mod sim;

pub use connect::wire::{
    ChatEndpoint, ChatMessage, SegmentAttributeValue, StartOutboundChatContactRequest,
    StartOutboundChatContactResponse, SEGMENT_SUBTYPE, SUBTYPE_SMS,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The contact center a daemon dials through, with its clock.
#[derive(Clone)]
pub struct Backend {
    /// Where contacts are created and followed.
    pub center: Arc<dyn ContactCenter>,
    /// The center's clock: call timing (a simulated center may run faster than the wall).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// The simulated center, when that is the backend (the demo reads its counters).
    pub sim: Option<Arc<sim::SimContactCenter>>,
    /// The Amazon Connect backend, when that is the backend (its background work runs
    /// beside the engine's).
    pub connect: Option<Arc<connect::AmazonConnect>>,
}

/// Which contact center `[contact_center] backend` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// The built-in simulated center (`[contact_center.sim]`), in this process.
    #[default]
    Simulated,
    /// An Amazon Connect instance, or its emulator (`[contact_center.amazon_connect]`).
    AmazonConnect,
}

/// Why the backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// `[contact_center.sim]` does not hold.
    #[error(transparent)]
    Sim(#[from] sim::model::InvalidSimConfig),
    /// The Amazon Connect backend could not start.
    #[error("Amazon Connect: {0}")]
    Connect(#[from] FatalError),
}

impl Backend {
    /// The backend `[contact_center]` names, on the daemon's database; `default_region` is
    /// `aws.region`. It stops when `cancel` fires.
    pub async fn from_config(
        config: &crate::config::ContactCenterConfig,
        default_region: &str,
        pool: sqlx::PgPool,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<Backend, BackendError> {
        match config.backend {
            BackendKind::Simulated => {
                let ledger = Arc::new(sim::store::PgSimLedger::new(pool));
                let sim = Arc::new(sim::SimContactCenter::new(
                    config.sim.clone(),
                    ledger,
                    cancel,
                )?);
                Ok(Backend {
                    center: sim.clone(),
                    clock: sim.clone(),
                    sim: Some(sim),
                    connect: None,
                })
            }
            BackendKind::AmazonConnect => {
                let connect =
                    connect::AmazonConnect::new(&config.amazon_connect, default_region, pool)
                        .await?;
                Ok(Backend::amazon_connect(
                    connect,
                    Arc::new(crate::clock::WallClock),
                ))
            }
        }
    }

    /// The Amazon Connect backend `connect`, timing calls on `clock`: the wall for a real
    /// instance; the emulator's simulated center when one runs in this process faster than
    /// the wall, as its events are stamped with its model time.
    pub fn amazon_connect(
        connect: Arc<connect::AmazonConnect>,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Backend {
        Backend {
            center: connect.clone(),
            clock,
            sim: None,
            connect: Some(connect),
        }
    }

    /// The backend's own background work, to run beside the engine whose lease owner name
    /// is `owner`.
    pub fn services(&self, owner: Arc<str>) -> Vec<crate::supervisor::Service> {
        self.connect
            .as_ref()
            .map(|connect| connect.services(owner))
            .unwrap_or_default()
    }
}

/// Most contacts one `BatchPutContact` call may carry (`ContactDataRequestList` max).
pub const BATCH_MAX_CONTACTS: usize = 25;

/// Longest `RequestIdentifier` Amazon Connect accepts.
pub const REQUEST_IDENTIFIER_MAX_LEN: usize = 80;

/// Longest `ClientToken` Amazon Connect accepts.
pub const CLIENT_TOKEN_MAX_LEN: usize = 500;

/// Most queues one `GetCurrentMetricData` call may filter on.
pub const METRICS_MAX_QUEUES: usize = 100;

/// Reserved contact attribute carrying the campaign's answering-machine-detection setting.
///
/// `BatchPutContact` has no AMD member (Amazon Connect takes it from the campaign), so the
/// engine states it per contact in this attribute: `"true"` turns AMD on, any other value or
/// no attribute leaves it off. A real Amazon Connect instance stores it as an ordinary contact
/// attribute, where flows may read it.
pub const AMD_ATTRIBUTE_KEY: &str = "dialer_amd";

/// `BatchPutContact` input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchPutContactRequest {
    /// Idempotency token: the same token with the same contacts must never place a second
    /// call. Up to [`CLIENT_TOKEN_MAX_LEN`] characters.
    pub client_token: String,
    /// Amazon Connect instance id; a URI parameter, so it is not part of the JSON body.
    #[serde(skip)]
    pub instance_id: String,
    /// The contacts to create, 1 to [`BATCH_MAX_CONTACTS`].
    #[serde(rename = "ContactDataRequestList")]
    pub contacts: Vec<ContactDataRequest>,
}

/// One contact to create (`ContactDataRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContactDataRequest {
    /// Caller's id for this item, unique within the batch; the dialer uses the dial request id.
    pub request_identifier: String,
    /// Who to call. Personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_endpoint: Option<Endpoint>,
    /// The instance's number the call comes from; with no queue it makes the contact agentless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_endpoint: Option<Endpoint>,
    /// Queue whose agents take the contact once a person answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Contact attributes; keys must match `[a-zA-Z0-9_-]+`. Values are personal data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Campaign the contact belongs to, on the wire as `"Campaign": {"CampaignId": …}`.
    #[serde(
        rename = "Campaign",
        default,
        skip_serializing_if = "Option::is_none",
        with = "campaign_wire"
    )]
    pub campaign_id: Option<String>,
}

/// `{"CampaignId": …}`: the wire wraps the id in an object, the engine only needs the id.
mod campaign_wire {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Campaign {
        #[serde(
            rename = "CampaignId",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        campaign_id: Option<String>,
    }

    pub fn serialize<S: Serializer>(id: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
        id.as_ref()
            .map(|id| Campaign {
                campaign_id: Some(id.clone()),
            })
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<String>, D::Error> {
        Ok(Option::<Campaign>::deserialize(deserializer)?.and_then(|c| c.campaign_id))
    }
}

/// A call endpoint (`Endpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    /// How to read `address`.
    #[serde(rename = "Type")]
    pub endpoint_type: EndpointType,
    /// E.164 number, ARN, … depending on `endpoint_type`. Personal data for customers.
    pub address: String,
}

impl Endpoint {
    /// A `TELEPHONE_NUMBER` endpoint.
    pub fn telephone(address: impl Into<String>) -> Self {
        Self {
            endpoint_type: EndpointType::TelephoneNumber,
            address: address.into(),
        }
    }
}

/// `EndpointType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointType {
    /// An E.164 telephone number.
    TelephoneNumber,
    /// A VoIP address.
    Voip,
    /// A contact flow.
    ContactFlow,
    /// The ARN of a phone number claimed by the instance.
    ConnectPhonenumberArn,
    /// An email address.
    EmailAddress,
}

/// `BatchPutContact` output: every input item lands in exactly one of the two lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPutContactResponse {
    /// Items for which a contact was created.
    #[serde(rename = "SuccessfulRequestList", default)]
    pub successful: Vec<SuccessfulRequest>,
    /// Items for which no contact was created.
    #[serde(rename = "FailedRequestList", default)]
    pub failed: Vec<FailedRequest>,
}

/// A created contact (`SuccessfulRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SuccessfulRequest {
    /// The item's `RequestIdentifier`.
    pub request_identifier: String,
    /// Id of the created contact; contact events carry it.
    pub contact_id: String,
}

/// An item for which no contact was created (`FailedRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedRequest {
    /// The item's `RequestIdentifier`.
    pub request_identifier: String,
    /// Why, as a code the engine acts on.
    pub failure_reason_code: FailureReasonCode,
    /// Why, for humans. Never contains personal data.
    #[serde(default)]
    pub failure_reason_message: String,
}

/// `FailureReasonCode`: why one item of a batch was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReasonCode {
    /// An attribute key does not match `[a-zA-Z0-9_-]+`.
    InvalidAttributeKey,
    /// The customer endpoint is not a callable E.164 telephone number.
    InvalidCustomerEndpoint,
    /// The system endpoint is not usable.
    InvalidSystemEndpoint,
    /// The queue does not exist in the instance.
    InvalidQueue,
    /// The campaign's outbound strategy does not allow the contact (newer Connect API).
    InvalidOutboundStrategy,
    /// No campaign id.
    MissingCampaign,
    /// No customer endpoint.
    MissingCustomerEndpoint,
    /// Neither a queue nor a system endpoint.
    MissingQueueIdAndSystemEndpoint,
    /// Rate-limited; safe to retry in a new batch with a new token.
    RequestThrottled,
    /// The token was used before with different content.
    IdempotencyException,
    /// Server fault; safe to retry in a new batch with a new token.
    InternalError,
}

impl FailureReasonCode {
    /// Whether the item may succeed if sent again (in a new batch, under a new token).
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RequestThrottled | Self::InternalError)
    }

    /// The wire name, e.g. for storing the outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidAttributeKey => "INVALID_ATTRIBUTE_KEY",
            Self::InvalidCustomerEndpoint => "INVALID_CUSTOMER_ENDPOINT",
            Self::InvalidSystemEndpoint => "INVALID_SYSTEM_ENDPOINT",
            Self::InvalidQueue => "INVALID_QUEUE",
            Self::InvalidOutboundStrategy => "INVALID_OUTBOUND_STRATEGY",
            Self::MissingCampaign => "MISSING_CAMPAIGN",
            Self::MissingCustomerEndpoint => "MISSING_CUSTOMER_ENDPOINT",
            Self::MissingQueueIdAndSystemEndpoint => "MISSING_QUEUE_ID_AND_SYSTEM_ENDPOINT",
            Self::RequestThrottled => "REQUEST_THROTTLED",
            Self::IdempotencyException => "IDEMPOTENCY_EXCEPTION",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// A queue's real-time state, as `GetCurrentMetricData` reports it per queue.
///
/// The agent counts are disjoint: `agents_online = agents_available + agents_on_contact +
/// agents_after_contact_work` (Amazon Connect's own `AGENTS_ON_CONTACT` also counts agents in
/// after-contact work; a remote backend must subtract them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMetrics {
    /// The queue.
    pub queue_id: String,
    /// Agents logged in (`AGENTS_ONLINE`).
    pub agents_online: u32,
    /// Agents idle and ready for a contact (`AGENTS_AVAILABLE`).
    pub agents_available: u32,
    /// Agents connected to a customer.
    pub agents_on_contact: u32,
    /// Agents in wrap-up (`AGENTS_AFTER_CONTACT_WORK`).
    pub agents_after_contact_work: u32,
    /// Answered contacts waiting for an agent (`CONTACTS_IN_QUEUE`).
    pub contacts_in_queue: u32,
}

/// Something that happened to a contact, modelled on Amazon Connect contact events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEvent {
    /// The contact, as returned by `BatchPutContact`.
    pub contact_id: String,
    /// The item's `RequestIdentifier` (the dial request id), when the backend knows it.
    pub request_identifier: Option<String>,
    /// When it happened, on the contact center's clock.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: ContactEventKind,
}

/// The steps of a contact's life.
///
/// ```text
/// Initiated ─┬─ Busy | Invalid | NoAnswer ─────────────────────── Disconnected
///            ├─ MachineAnswered (AMD on) ───────────────────────── Disconnected
///            └─ PersonAnswered ── Queued ─┬─ ConnectedToAgent ── Disconnected ── Completed
///                                         └─ Abandoned ───────── Disconnected
/// ```
///
/// - `Disconnected` is the last event of a contact that never reached an agent; a contact
///   that did ends with `Completed`, when the agent finishes after-contact work.
/// - Answering-machine detection (AMD) is what tells a machine from a person. With AMD off
///   nobody can, so a machine answer is reported as `PersonAnswered` and queues, is
///   connected or abandoned like a person — which is also how regulators count it.
/// - A contact with no queue (agentless, system endpoint only) is `Disconnected` right after
///   the answer event.
/// - Events of one contact are published in order; events of different contacts interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactEventKind {
    /// The call is being placed.
    Initiated,
    /// A person answered (or, with AMD off, anything that answered).
    PersonAnswered,
    /// AMD detected an answering machine; the contact is dropped without an agent.
    MachineAnswered,
    /// Nobody answered before the ring timeout.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// Special information tone: the number is invalid or out of service.
    Invalid,
    /// The answered contact waits in its queue for an agent.
    Queued,
    /// An agent took the contact.
    ConnectedToAgent {
        /// The agent.
        agent_id: String,
    },
    /// No agent took the answered contact within the abandon threshold; the call was dropped.
    Abandoned,
    /// The call ended.
    Disconnected,
    /// The agent finished after-contact work; nothing more will happen to this contact.
    Completed,
}

/// What a contact center knows of a contact the engine has no end for (Amazon Connect
/// `DescribeContact`): the engine asks when a contact's own events may never come (its
/// campaign was taken over from a daemon that died, its batch's answer came from a replay,
/// it has been silent for the contact timeout) and ends it only on the center's word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactState {
    /// The center is running the contact; its events will come.
    Running,
    /// The center's answer is on its way (a remote center looks contacts up in the
    /// background, at its API's rate): ask again later.
    Pending,
    /// The center ran the contact to its end and published its events: any the engine has
    /// not recorded by now were lost on the way.
    Ended,
    /// The contact no longer exists anywhere (the center that ran it is gone, or it never
    /// existed); the reason says which, for the request's record.
    Gone(String),
}

/// A contact the engine asks about ([`ContactCenter::describe_contacts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRef {
    /// The contact.
    pub contact_id: String,
    /// The `ClientToken` of the `BatchPutContact` that created it. Amazon Connect's
    /// `DescribeContact` needs only the contact id; a backend that keeps its record by token
    /// (the simulated center's ledger) finds the contact by it.
    pub client_token: String,
}

/// Why a whole contact-center call failed.
#[derive(Debug, thiserror::Error)]
pub enum ContactCenterError {
    /// Transient: the same call may succeed later (with the same `ClientToken`).
    #[error("contact center call failed, retryable: {0}")]
    Retryable(RetryableError),
    /// Permanent: the same call will fail again.
    #[error("contact center call failed: {0}")]
    Fatal(FatalError),
}

impl ContactCenterError {
    /// Whether the same call may succeed if made again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// Transient failures of a whole call.
#[derive(Debug, thiserror::Error)]
pub enum RetryableError {
    /// Rate-limited (HTTP 429, `LimitExceededException`, `ThrottlingException`).
    #[error("throttled")]
    Throttled,
    /// No answer in time. The call may or may not have taken effect, so a `BatchPutContact`
    /// must be replayed with the same `ClientToken`.
    #[error("timed out")]
    Timeout,
    /// Server or transport fault (HTTP 5xx, `InternalServiceException`, connection reset).
    #[error("server error: {0}")]
    Server(String),
}

/// Permanent failures of a whole call.
#[derive(Debug, thiserror::Error)]
pub enum FatalError {
    /// The request breaks the API contract (HTTP 400, `InvalidRequestException`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Credentials or permissions are wrong (HTTP 403).
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The instance or another named resource does not exist (HTTP 404).
    #[error("resource not found: {0}")]
    ResourceNotFound(String),
    /// The token was used before for a different request (HTTP 409).
    #[error("idempotency conflict: {0}")]
    Idempotency(String),
}

/// A contact center the dialer can place calls through.
///
/// Events come through a [`broadcast`] channel rather than an `mpsc` one: `subscribe` takes
/// `&self` and may be called by several consumers (the engine, metrics, tests), which an
/// `mpsc` receiver, owned by exactly one taker, cannot serve without a take-once `Option`.
/// The price is that a subscriber that falls more than the channel's capacity behind gets
/// `RecvError::Lagged` and loses the oldest events. Event delivery from Amazon Connect
/// (EventBridge to SQS) is lossy and reordering in its own ways anyway, so consumers must
/// already reconcile contacts that never report an outcome; a lag is one more such case.
#[async_trait]
pub trait ContactCenter: Send + Sync {
    /// Creates up to [`BATCH_MAX_CONTACTS`] contacts (`BatchPutContact`). Per-item failures
    /// come back in the response; `Err` means the call as a whole failed and, if retryable,
    /// must be retried with the same request (same `ClientToken`).
    async fn batch_put_contact(
        &self,
        req: BatchPutContactRequest,
    ) -> Result<BatchPutContactResponse, ContactCenterError>;

    /// Current state of the given queues (1 to [`METRICS_MAX_QUEUES`]), in request order;
    /// queues the instance does not know are left out, as `GetCurrentMetricData` does.
    async fn queue_metrics(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueMetrics>, ContactCenterError>;

    /// A new receiver of every contact event published from now on.
    fn subscribe(&self) -> broadcast::Receiver<ContactEvent>;

    /// What the center knows now of each of `contacts` (contacts of `instance_id`), keyed by
    /// contact id; every contact asked about is answered.
    async fn describe_contacts(
        &self,
        instance_id: &str,
        contacts: &[ContactRef],
    ) -> Result<BTreeMap<String, ContactState>, ContactCenterError>;

    /// Sends one SMS (`StartOutboundChatContact`, `connect:Subtype` = `connect:SMS`). `Err`
    /// means no contact id came back: if retryable, the message may have gone out, and the
    /// call must be retried with the same request (same `ClientToken`); a token reused with
    /// other content is refused as [`FatalError::Idempotency`] and sends nothing.
    async fn start_outbound_chat_contact(
        &self,
        req: StartOutboundChatContactRequest,
    ) -> Result<StartOutboundChatContactResponse, ContactCenterError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_serializes_with_aws_member_names_and_without_instance_id() {
        let req = BatchPutContactRequest {
            client_token: "tok".into(),
            instance_id: "inst".into(),
            contacts: vec![ContactDataRequest {
                request_identifier: "dr-1".into(),
                customer_endpoint: Some(Endpoint::telephone("+15550100")),
                system_endpoint: None,
                queue_id: Some("q1".into()),
                attributes: BTreeMap::from([("k".to_string(), "v".to_string())]),
                campaign_id: Some("camp".into()),
            }],
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ClientToken": "tok",
                "ContactDataRequestList": [{
                    "RequestIdentifier": "dr-1",
                    "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+15550100"},
                    "QueueId": "q1",
                    "Attributes": {"k": "v"},
                    "Campaign": {"CampaignId": "camp"}
                }]
            })
        );
        let back: BatchPutContactRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.contacts, req.contacts);
        assert_eq!(back.instance_id, "");
    }

    #[test]
    fn response_parses_the_aws_shape() {
        let resp: BatchPutContactResponse = serde_json::from_value(serde_json::json!({
            "SuccessfulRequestList": [{"RequestIdentifier": "a", "ContactId": "c-1"}],
            "FailedRequestList": [{
                "RequestIdentifier": "b",
                "FailureReasonCode": "MISSING_QUEUE_ID_AND_SYSTEM_ENDPOINT",
                "FailureReasonMessage": "no queue"
            }]
        }))
        .unwrap();
        assert_eq!(resp.successful[0].contact_id, "c-1");
        assert_eq!(
            resp.failed[0].failure_reason_code,
            FailureReasonCode::MissingQueueIdAndSystemEndpoint
        );
        let empty: BatchPutContactResponse = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, BatchPutContactResponse::default());
    }

    #[test]
    fn campaign_without_id_reads_as_missing() {
        let item: ContactDataRequest =
            serde_json::from_str(r#"{"RequestIdentifier":"a","Campaign":{}}"#).unwrap();
        assert_eq!(item.campaign_id, None);
    }

    #[test]
    fn only_throttling_and_internal_errors_are_retryable() {
        use FailureReasonCode::*;
        let all = [
            InvalidAttributeKey,
            InvalidCustomerEndpoint,
            InvalidSystemEndpoint,
            InvalidQueue,
            InvalidOutboundStrategy,
            MissingCampaign,
            MissingCustomerEndpoint,
            MissingQueueIdAndSystemEndpoint,
            RequestThrottled,
            IdempotencyException,
            InternalError,
        ];
        let retryable: Vec<_> = all.iter().filter(|c| c.is_retryable()).collect();
        assert_eq!(retryable, [&RequestThrottled, &InternalError]);
        for code in all {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.as_str().to_string())
            );
        }
    }

    #[test]
    fn error_retryability_follows_the_variant() {
        assert!(ContactCenterError::Retryable(RetryableError::Timeout).is_retryable());
        assert!(!ContactCenterError::Fatal(FatalError::InvalidRequest("x".into())).is_retryable());
    }
}
