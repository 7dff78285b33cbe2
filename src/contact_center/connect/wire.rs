//! Amazon Connect wire types beyond `BatchPutContact` (which lives in the parent module), and
//! the pure mapping between the simulated contact lifecycle ([`ContactEventKind`]) and
//! Amazon Connect contact events.
//!
//! Sources, restated here so nothing reads them at build time:
//! - REST operations: the botocore model of `connect` 2017-08-08 (restJson1). Member names
//!   are PascalCase; timestamps are **epoch seconds** as JSON numbers (restJson1's default
//!   format), possibly fractional.
//! - Contact events: the Amazon Connect Administrator Guide page "Amazon Connect contact
//!   events" (data model and the samples "voice call is connected to an agent" and "voice
//!   call is disconnected"). EventBridge wraps each in its envelope (`version`, `id`,
//!   `detail-type` = `Amazon Connect Contact Event`, `source` = `aws.connect`, `account`,
//!   `time`, `region`, `resources`, `detail`). Detail members are camelCase and detail
//!   timestamps are **ISO-8601 strings** (`2021-08-04T17:17:53.000Z`); the envelope `time`
//!   has whole seconds. The guide's own samples spell a few members differently
//!   (`instanceARN`, `AgentInfo.AgentArn`), so those spellings are accepted on input.
//!   The guide asks consumers to ignore unknown fields and event types: every type here
//!   ignores unknown members, and an unknown `eventType` maps to no engine event.
//!
//! Mapping, emulator side ([`ContactTimeline`]): each sim event of a contact updates what is
//! known of it and may emit one Connect event carrying every timestamp known so far, as
//! Connect does:
//!
//! | sim kinds                            | Connect events                                   |
//! |--------------------------------------|--------------------------------------------------|
//! | `Initiated`                          | `INITIATED`                                      |
//! | `NoAnswer`/`Busy`/`Invalid`, `Disconnected` | `DISCONNECTED` (AMD status `AMD_UNANSWERED`/`SIT_TONE_BUSY`/`SIT_TONE_INVALID_NUMBER`, reason [`REASON_TELECOM`]) |
//! | `MachineAnswered`, `Disconnected`    | `CONNECTED_TO_SYSTEM` (`VOICEMAIL_BEEP`), `DISCONNECTED` ([`REASON_FLOW`]) |
//! | `PersonAnswered`                     | `CONNECTED_TO_SYSTEM` (`HUMAN_ANSWERED` with AMD on, `ANSWERED` with it off) |
//! | `Queued`                             | `QUEUED` (`queueInfo.enqueueTimestamp`)          |
//! | `ConnectedToAgent`                   | `CONNECTED_TO_AGENT` (`agentInfo`)               |
//! | `Abandoned`, `Disconnected`          | `DISCONNECTED` without agent ([`REASON_FLOW`])   |
//! | `Disconnected` after an agent        | `DISCONNECTED` ([`REASON_CUSTOMER`])             |
//! | `Completed`                          | `COMPLETED` (after-contact-work timestamps)      |
//!
//! Busy, invalid and unanswered dials carry their AMD status whether AMD is on or not: call
//! progress (ring-out, SIT tones) is told by the network, not by the answering-machine
//! detector, and without it nobody could tell the three apart.
//!
//! Mapping, engine side ([`engine_events`]): stateless, one event at a time, so duplicates,
//! reordering and loss do not matter. An event implies every step its timestamps show
//! (an event is cumulative), so a late or lost earlier event costs nothing; the engine drops
//! the steps its timeline already has. How each `AnsweringMachineDetectionStatus` reads is
//! [`AnswerClass::of`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::contact_center::{ContactEvent, ContactEventKind, ContactState, QueueMetrics};

/// `detail-type` of a contact event.
pub const DETAIL_TYPE: &str = "Amazon Connect Contact Event";
/// `source` of a contact event.
pub const EVENT_SOURCE: &str = "aws.connect";
/// `Channel` of a voice contact.
pub const CHANNEL_VOICE: &str = "VOICE";
/// `InitiationMethod` of a contact created by `BatchPutContact` (an API call).
pub const INITIATION_API: &str = "API";

/// `DisconnectReason` of a dial the network ended: ring-out, busy, SIT tone. The AMD status
/// says which.
pub const REASON_TELECOM: &str = "TELECOM_PROBLEM";
/// `DisconnectReason` of a contact the system dropped without an agent: a detected machine,
/// an agentless contact after its answer, an abandoned one.
pub const REASON_FLOW: &str = "CONTACT_FLOW_DISCONNECT";
/// `DisconnectReason` of a conversation that ended (the emulator does not model who hung up).
pub const REASON_CUSTOMER: &str = "CUSTOMER_DISCONNECT";
/// `DisconnectReason` the emulator reports for a contact it lost: it was running when the
/// emulator stopped, and calls die with the process. The engine reads it as
/// [`ContactState::Gone`].
pub const REASON_LOST: &str = "OTHER";

/// Most queues `GetCurrentMetricData`'s `Filters.Queues` may name.
pub const FILTER_QUEUES_MAX: usize = 100;
/// Longest `InstanceId`.
pub const INSTANCE_ID_MAX_LEN: usize = 100;
/// Longest `ContactId`.
pub const CONTACT_ID_MAX_LEN: usize = 256;
/// `ChatDurationInMinutes` range.
pub const CHAT_DURATION_MINUTES: std::ops::RangeInclusive<i64> = 60..=10_080;
/// Segment attribute naming a chat contact's subtype.
pub const SEGMENT_SUBTYPE: &str = "connect:Subtype";
/// The subtype of an SMS chat.
pub const SUBTYPE_SMS: &str = "connect:SMS";

// ---------------------------------------------------------------------------------------
// Timestamps.

/// restJson1 timestamps: epoch seconds as a JSON number, milliseconds kept.
pub mod epoch_seconds {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Seconds since the epoch, milliseconds as the fraction.
    pub fn to_f64(at: &DateTime<Utc>) -> f64 {
        at.timestamp_millis() as f64 / 1000.0
    }

    /// The instant `secs` after the epoch, `None` out of range or not finite.
    pub fn from_f64(secs: f64) -> Option<DateTime<Utc>> {
        if !secs.is_finite() {
            return None;
        }
        let millis = (secs * 1000.0).round();
        if millis.abs() > i64::MAX as f64 {
            return None;
        }
        DateTime::from_timestamp_millis(millis as i64)
    }

    /// Serializes an optional timestamp (use with `skip_serializing_if = "Option::is_none"`).
    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_f64(to_f64(at)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes an optional timestamp from a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<f64>::deserialize(deserializer)? {
            None => Ok(None),
            Some(secs) => from_f64(secs)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("timestamp out of range")),
        }
    }
}

/// EventBridge detail timestamps: ISO-8601 with milliseconds and `Z`, as Connect writes
/// them; any RFC 3339 instant is read.
pub mod iso8601 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes an optional timestamp (use with `skip_serializing_if = "Option::is_none"`).
    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes an optional RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map(|at| Some(at.with_timezone(&Utc)))
                .map_err(|_| serde::de::Error::custom("timestamp is not RFC 3339")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Shared enums.

/// `AnsweringMachineDetectionStatus`. A value this build does not know reads as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AmdStatus {
    /// Answered; AMD did not classify it (AMD off).
    Answered,
    /// AMD could not tell.
    Undetected,
    /// AMD failed.
    Error,
    /// A person answered.
    HumanAnswered,
    /// A special information tone.
    SitToneDetected,
    /// Busy tone.
    SitToneBusy,
    /// The number is invalid or out of service.
    SitToneInvalidNumber,
    /// A fax answered.
    FaxMachineDetected,
    /// Voicemail, with a beep.
    VoicemailBeep,
    /// Voicemail, no beep heard.
    VoicemailNoBeep,
    /// AMD could not resolve the answer.
    AmdUnresolved,
    /// Nobody answered.
    AmdUnanswered,
    /// AMD failed.
    AmdError,
    /// AMD does not apply to the contact.
    AmdNotApplicable,
    /// A value added to Connect after this build.
    #[serde(other)]
    Unknown,
}

/// How the engine reads an AMD status (with the contact's timestamps, see [`AnswerClass::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerClass {
    /// Someone to put through to an agent.
    Person,
    /// An answering machine or fax: dropped without an agent.
    Machine,
    /// Busy.
    Busy,
    /// SIT tone: invalid or out of service.
    Invalid,
    /// Rang out.
    NoAnswer,
    /// The status says nothing about the outcome; the timestamps decide.
    Unclassified,
}

impl AnswerClass {
    /// The engine's reading of each status, on purpose:
    ///
    /// - `HUMAN_ANSWERED`, `ANSWERED` (AMD off): a person. With AMD off nobody can tell, and
    ///   such an answer is treated (and counted by regulators) as a person's.
    /// - `UNDETECTED`, `AMD_UNRESOLVED`: a person. Campaigns put undecided answers through
    ///   to an agent; dropping them would abandon real people.
    /// - `VOICEMAIL_BEEP`, `VOICEMAIL_NO_BEEP`, `FAX_MACHINE_DETECTED`: a machine.
    /// - `SIT_TONE_BUSY`: busy. `SIT_TONE_INVALID_NUMBER`, `SIT_TONE_DETECTED`: invalid.
    /// - `AMD_UNANSWERED`: no answer.
    /// - `ERROR`, `AMD_ERROR`, `AMD_NOT_APPLICABLE`, no status, and values this build does
    ///   not know: unclassified. The timestamps decide: connected to the system, it is a
    ///   person (an answer an agent must take); never connected, nobody answered. A status
    ///   that classifies an answer (person or machine) is believed without the timestamp.
    pub fn of(status: Option<AmdStatus>) -> AnswerClass {
        use AmdStatus as S;
        match status {
            Some(S::HumanAnswered | S::Answered | S::Undetected | S::AmdUnresolved) => {
                AnswerClass::Person
            }
            Some(S::VoicemailBeep | S::VoicemailNoBeep | S::FaxMachineDetected) => {
                AnswerClass::Machine
            }
            Some(S::SitToneBusy) => AnswerClass::Busy,
            Some(S::SitToneInvalidNumber | S::SitToneDetected) => AnswerClass::Invalid,
            Some(S::AmdUnanswered) => AnswerClass::NoAnswer,
            Some(S::Error | S::AmdError | S::AmdNotApplicable | S::Unknown) | None => {
                AnswerClass::Unclassified
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// GetCurrentMetricData: POST /metrics/current/{InstanceId}.

/// `CurrentMetricName`. A value this build does not know reads as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CurrentMetricName {
    /// Agents logged in.
    AgentsOnline,
    /// Agents ready for a contact.
    AgentsAvailable,
    /// Agents on a contact (the older name of `AGENTS_ON_CONTACT`).
    AgentsOnCall,
    /// Agents in a custom non-productive status.
    AgentsNonProductive,
    /// Agents in after-contact work.
    AgentsAfterContactWork,
    /// Agents in an error state.
    AgentsError,
    /// Agents staffed.
    AgentsStaffed,
    /// Contacts waiting in the queue.
    ContactsInQueue,
    /// Age of the oldest waiting contact, seconds.
    OldestContactAge,
    /// Scheduled callbacks.
    ContactsScheduled,
    /// Agents on a contact, after-contact work included.
    AgentsOnContact,
    /// Contact slots in use.
    SlotsActive,
    /// Contact slots free.
    SlotsAvailable,
    /// Estimated wait, seconds.
    EstimatedWaitTime,
    /// A value added to Connect after this build.
    #[serde(other)]
    Unknown,
}

/// `Unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Unit {
    /// Seconds.
    Seconds,
    /// A count.
    Count,
    /// A percentage.
    Percent,
    /// A value added to Connect after this build.
    #[serde(other)]
    Unknown,
}

/// `Grouping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Grouping {
    /// By queue.
    Queue,
    /// By channel.
    Channel,
    /// By routing profile.
    RoutingProfile,
    /// By routing step expression.
    RoutingStepExpression,
    /// By agent status.
    AgentStatus,
    /// By subtype.
    Subtype,
    /// By validation test type.
    ValidationTestType,
    /// A value added to Connect after this build.
    #[serde(other)]
    Unknown,
}

/// `CurrentMetric`: a metric asked for, echoed with each value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CurrentMetric {
    /// The metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CurrentMetricName>,
    /// Its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

impl CurrentMetric {
    /// The unit Connect reports `name` in.
    pub fn of(name: CurrentMetricName) -> Self {
        let unit = match name {
            CurrentMetricName::OldestContactAge | CurrentMetricName::EstimatedWaitTime => {
                Unit::Seconds
            }
            _ => Unit::Count,
        };
        Self {
            name: Some(name),
            unit: Some(unit),
        }
    }
}

/// `Filters`. Only queues matter to the dialer; the other filters are kept as the model
/// types them so that they can be validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filters {
    /// Queue ids, 1 to [`FILTER_QUEUES_MAX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    /// `VOICE`, `CHAT`, `TASK`, `EMAIL`; at most 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Routing profile ids, 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_profiles: Option<Vec<String>>,
    /// Routing step expressions, at most 50, each 1-3000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_step_expressions: Option<Vec<String>>,
    /// Agent status ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_statuses: Option<Vec<String>>,
    /// Subtypes, at most 10, each 1-100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtypes: Option<Vec<String>>,
    /// Validation test types, at most 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_test_types: Option<Vec<String>>,
}

/// `GetCurrentMetricData` input. `InstanceId` travels in the URI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCurrentMetricDataRequest {
    /// Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
    /// At most 2; the dialer groups by `QUEUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groupings: Option<Vec<Grouping>>,
    /// Required: the metrics to report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_metrics: Option<Vec<CurrentMetric>>,
    /// From a previous response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// 1-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
}

/// `QueueReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueReference {
    /// Queue id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Queue ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// `Dimensions` of a result row; the dialer reads only the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimensions {
    /// The queue of the row, when grouped by queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueReference>,
    /// The channel of the row, when grouped by channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// `CurrentMetricData`: one metric's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CurrentMetricData {
    /// The metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<CurrentMetric>,
    /// Its value (a double on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// `CurrentMetricResult`: one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CurrentMetricResult {
    /// What the row is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    /// The values.
    #[serde(default)]
    pub collections: Vec<CurrentMetricData>,
}

/// `GetCurrentMetricData` output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCurrentMetricDataResponse {
    /// Set when more rows follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// One row per queue (grouped by queue).
    #[serde(default)]
    pub metric_results: Vec<CurrentMetricResult>,
    /// When the data was taken (epoch seconds).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub data_snapshot_time: Option<DateTime<Utc>>,
    /// Rows in all pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_total_count: Option<i64>,
}

/// The value Connect would report for `name` of a queue in `metrics`, `None` for metrics the
/// simulated center has no notion of. Connect's `AGENTS_ON_CONTACT` (and its older name
/// `AGENTS_ON_CALL`) count agents in after-contact work too; [`QueueMetrics`] keeps them apart.
pub fn metric_value(metrics: &QueueMetrics, name: CurrentMetricName) -> Option<f64> {
    use CurrentMetricName as N;
    let busy = metrics.agents_on_contact + metrics.agents_after_contact_work;
    let value = match name {
        N::AgentsOnline | N::AgentsStaffed => metrics.agents_online,
        N::AgentsAvailable | N::SlotsAvailable => metrics.agents_available,
        N::AgentsOnCall | N::AgentsOnContact | N::SlotsActive => busy,
        N::AgentsAfterContactWork => metrics.agents_after_contact_work,
        N::ContactsInQueue => metrics.contacts_in_queue,
        N::AgentsNonProductive | N::AgentsError | N::ContactsScheduled => 0,
        N::OldestContactAge | N::EstimatedWaitTime | N::Unknown => return None,
    };
    Some(f64::from(value))
}

/// Reads [`QueueMetrics`] out of a response grouped by queue, undoing Connect's counting of
/// after-contact work in `AGENTS_ON_CONTACT`. Rows without a queue id are skipped; metrics
/// not in the row read as 0.
pub fn queue_metrics_from(response: &GetCurrentMetricDataResponse) -> Vec<QueueMetrics> {
    response
        .metric_results
        .iter()
        .filter_map(|row| {
            let queue_id = row.dimensions.as_ref()?.queue.as_ref()?.id.clone()?;
            let value = |wanted: CurrentMetricName| -> u32 {
                row.collections
                    .iter()
                    .find(|c| c.metric.as_ref().and_then(|m| m.name) == Some(wanted))
                    .and_then(|c| c.value)
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map_or(0, |v| v.round().min(f64::from(u32::MAX)) as u32)
            };
            let after_contact_work = value(CurrentMetricName::AgentsAfterContactWork);
            Some(QueueMetrics {
                queue_id,
                agents_online: value(CurrentMetricName::AgentsOnline),
                agents_available: value(CurrentMetricName::AgentsAvailable),
                agents_on_contact: value(CurrentMetricName::AgentsOnContact)
                    .saturating_sub(after_contact_work),
                agents_after_contact_work: after_contact_work,
                contacts_in_queue: value(CurrentMetricName::ContactsInQueue),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// DescribeContact: GET /contacts/{InstanceId}/{ContactId}.

/// `Campaign` (of a contact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CampaignRef {
    /// The campaign id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
}

/// `QueueInfo` of `DescribeContact`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueInfo {
    /// Queue id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the contact was queued.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub enqueue_timestamp: Option<DateTime<Utc>>,
}

/// `AgentInfo` of `DescribeContact` (the members the dialer uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentInfo {
    /// Agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the agent was connected.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub connected_to_agent_timestamp: Option<DateTime<Utc>>,
    /// When after-contact work began.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub after_contact_work_start_timestamp: Option<DateTime<Utc>>,
    /// When after-contact work ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub after_contact_work_end_timestamp: Option<DateTime<Utc>>,
}

/// `Contact` of `DescribeContact`: the members the dialer reads and the emulator returns.
/// Endpoints are left out: they are personal data and the dialer has them already.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    /// Contact ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Contact id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// First contact of a transfer chain; the contact itself here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_contact_id: Option<String>,
    /// `API` for campaign contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiation_method: Option<String>,
    /// `VOICE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Set once queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_info: Option<QueueInfo>,
    /// Set once an agent took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_info: Option<AgentInfo>,
    /// When dialing began.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub initiation_timestamp: Option<DateTime<Utc>>,
    /// When the call was answered (media established).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub connected_to_system_timestamp: Option<DateTime<Utc>>,
    /// When the call ended; set means ended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub disconnect_timestamp: Option<DateTime<Utc>>,
    /// Last change.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "epoch_seconds"
    )]
    pub last_update_timestamp: Option<DateTime<Utc>>,
    /// The campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignRef>,
    /// How the answer was classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answering_machine_detection_status: Option<AmdStatus>,
    /// Why it ended (a string in the model; values in the contact record data model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
}

/// `DescribeContact` output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeContactResponse {
    /// The contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// What the engine makes of a described contact: ended once it has a disconnect timestamp
/// (or has completed), gone when the emulator reports it lost ([`REASON_LOST`]), running
/// otherwise.
pub fn contact_state(contact: &Contact) -> ContactState {
    if contact.disconnect_reason.as_deref() == Some(REASON_LOST) {
        return ContactState::Gone(
            "the contact center lost the call (it was running when the center stopped)".to_string(),
        );
    }
    if contact.disconnect_timestamp.is_some() {
        ContactState::Ended
    } else {
        ContactState::Running
    }
}

// ---------------------------------------------------------------------------------------
// StartOutboundChatContact: PUT /contact/outbound-chat.

/// `Endpoint` as `StartOutboundChatContact` takes it: both members optional in the model,
/// so a missing one is a validation error rather than a parse error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChatEndpoint {
    /// `CONNECT_PHONENUMBER_ARN` for the source, `TELEPHONE_NUMBER` for the destination
    /// (SMS). Kept a string so that an unknown type is a validation error.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
    /// 0-256 characters. Personal data for the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `SegmentAttributeValue`: a small tagged value, possibly nested.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SegmentAttributeValue {
    /// A string, 0-1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    /// A map of further values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_map: Option<BTreeMap<String, SegmentAttributeValue>>,
    /// An integer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_integer: Option<i64>,
    /// A list of further values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_list: Option<Vec<SegmentAttributeValue>>,
    /// An ARN, 0-1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_arn: Option<String>,
}

impl SegmentAttributeValue {
    /// A `ValueString`.
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            value_string: Some(value.into()),
            ..Self::default()
        }
    }
}

/// `ParticipantDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParticipantDetails {
    /// Required, 1-256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `ChatMessage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChatMessage {
    /// Required, 1-100 characters, e.g. `text/plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Required, 1-16384 characters. Personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `StartOutboundChatContact` input. Every member is optional here so that the emulator
/// can name a missing required one; the model requires `SourceEndpoint`,
/// `DestinationEndpoint`, `InstanceId` (in the body for this operation), `SegmentAttributes`
/// and `ContactFlowId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartOutboundChatContactRequest {
    /// The instance's number the message comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<ChatEndpoint>,
    /// The customer's number. Personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_endpoint: Option<ChatEndpoint>,
    /// 1-100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `connect:Subtype` = `connect:SMS` for an SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_attributes: Option<BTreeMap<String, SegmentAttributeValue>>,
    /// Contact attributes. Values are personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    /// At most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_flow_id: Option<String>,
    /// 60-10080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_duration_in_minutes: Option<i64>,
    /// Who the customer sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_details: Option<ParticipantDetails>,
    /// The message to send. Personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_system_message: Option<ChatMessage>,
    /// A related contact id, 1-256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_contact_id: Option<String>,
    /// Content types the sender supports, each 1-100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_messaging_content_types: Option<Vec<String>>,
    /// Idempotency token, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl StartOutboundChatContactRequest {
    /// SHA-256 (hex) of the request without its token: what a replay of the token must match.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut canonical = self.clone();
        canonical.client_token = None;
        // BTreeMaps serialize in key order, so equal requests give equal bytes.
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// The message's length in characters (the message itself is personal data).
    pub fn content_length(&self) -> usize {
        self.initial_system_message
            .as_ref()
            .and_then(|m| m.content.as_ref())
            .map_or(0, |c| c.chars().count())
    }
}

/// `StartOutboundChatContact` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartOutboundChatContactResponse {
    /// The chat contact.
    pub contact_id: String,
}

// ---------------------------------------------------------------------------------------
// Contact events (EventBridge).

/// `eventType`. Types this build does not know read as `Unknown` and are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContactEventType {
    /// Dialing began.
    Initiated,
    /// Media established (answered).
    ConnectedToSystem,
    /// Queued for an agent.
    Queued,
    /// An agent took it.
    ConnectedToAgent,
    /// The call ended.
    Disconnected,
    /// After-contact work ended; the contact is over.
    Completed,
    /// Answering machine detection is off for the contact.
    AmdDisabled,
    /// Contact properties changed.
    ContactDataUpdated,
    /// Any other type.
    #[serde(other)]
    Unknown,
}

/// `queueInfo` of a contact event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventQueueInfo {
    /// Queue ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<String>,
    /// Queue type (`STANDARD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_type: Option<String>,
    /// When queued.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub enqueue_timestamp: Option<DateTime<Utc>>,
}

/// `agentInfo` of a contact event (`AgentInfo`/`AgentArn` in some of the guide's samples).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAgentInfo {
    /// Agent ARN; the agent id is its last path segment.
    #[serde(
        default,
        alias = "AgentArn",
        alias = "AgentARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_arn: Option<String>,
    /// When the agent was connected.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub connected_to_agent_timestamp: Option<DateTime<Utc>>,
    /// When after-contact work began (on `COMPLETED`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub after_contact_work_start_timestamp: Option<DateTime<Utc>>,
    /// When after-contact work ended (on `COMPLETED`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub after_contact_work_end_timestamp: Option<DateTime<Utc>>,
}

/// `campaign` of a contact event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCampaign {
    /// The campaign id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
}

/// `detail` of an "Amazon Connect Contact Event".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactEventDetail {
    /// What happened.
    pub event_type: ContactEventType,
    /// The contact.
    pub contact_id: String,
    /// First contact of a transfer chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_contact_id: Option<String>,
    /// `VOICE` (the guide's older sample says `Voice`; any string is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Instance ARN.
    #[serde(
        default,
        alias = "instanceARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_arn: Option<String>,
    /// `API` for campaign contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiation_method: Option<String>,
    /// When dialing began.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub initiation_timestamp: Option<DateTime<Utc>>,
    /// When answered.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub connected_to_system_timestamp: Option<DateTime<Utc>>,
    /// When the call ended.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso8601")]
    pub disconnect_timestamp: Option<DateTime<Utc>>,
    /// Set once queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_info: Option<EventQueueInfo>,
    /// Set once an agent took it.
    #[serde(default, alias = "AgentInfo", skip_serializing_if = "Option::is_none")]
    pub agent_info: Option<EventAgentInfo>,
    /// The campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<EventCampaign>,
    /// How the answer (or its absence) was classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answering_machine_detection_status: Option<AmdStatus>,
    /// Why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
}

/// An EventBridge event whose `detail` is a contact event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEventEnvelope {
    /// `"0"`.
    #[serde(default)]
    pub version: String,
    /// Unique per event; a redelivery keeps it.
    pub id: String,
    /// [`DETAIL_TYPE`].
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// [`EVENT_SOURCE`].
    pub source: String,
    /// Twelve-digit account.
    #[serde(default)]
    pub account: String,
    /// When the event was emitted, whole seconds.
    pub time: DateTime<Utc>,
    /// The region.
    #[serde(default)]
    pub region: String,
    /// ARNs the event is about: the contact's and the instance's.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The contact event.
    pub detail: ContactEventDetail,
}

impl ContactEventEnvelope {
    /// Wraps `detail` as EventBridge delivers it.
    pub fn new(
        id: String,
        time: DateTime<Utc>,
        account: &str,
        region: &str,
        detail: ContactEventDetail,
    ) -> Self {
        let mut resources = Vec::new();
        if let Some(instance) = &detail.instance_arn {
            resources.push(format!("{instance}/contact/{}", detail.contact_id));
            resources.push(instance.clone());
        }
        Self {
            version: "0".to_string(),
            id,
            detail_type: DETAIL_TYPE.to_string(),
            source: EVENT_SOURCE.to_string(),
            account: account.to_string(),
            // EventBridge's `time` has whole seconds.
            time: time
                .to_rfc3339_opts(SecondsFormat::Secs, true)
                .parse()
                .unwrap_or(time),
            region: region.to_string(),
            resources,
            detail,
        }
    }

    /// Whether this is a contact event at all (a rule may route others to the same target).
    pub fn is_contact_event(&self) -> bool {
        self.source == EVENT_SOURCE && self.detail_type == DETAIL_TYPE
    }
}

/// `arn:aws:connect:REGION:ACCOUNT:instance/ID`.
pub fn instance_arn(region: &str, account: &str, instance_id: &str) -> String {
    format!("arn:aws:connect:{region}:{account}:instance/{instance_id}")
}

/// The last path segment of an ARN: the id of an agent, queue or contact ARN.
pub fn arn_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The agent id of an agent ARN (`…/agent/ID`): everything after `/agent/`, so that an id
/// holding a slash (the simulated center's `queue/agent-n`) survives; the last segment of
/// any other ARN.
pub fn agent_id(arn: &str) -> &str {
    match arn.split_once("/agent/") {
        Some((_, id)) if !id.is_empty() => id,
        _ => arn_id(arn),
    }
}

// ---------------------------------------------------------------------------------------
// Emulator side: sim lifecycle → Connect events.

/// What is fixed about a contact when it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFacts {
    /// The contact id.
    pub contact_id: String,
    /// The instance ARN.
    pub instance_arn: String,
    /// The campaign, from `BatchPutContact`'s `Campaign.CampaignId`.
    pub campaign_id: Option<String>,
    /// The queue; `None` for an agentless contact.
    pub queue_id: Option<String>,
    /// Whether answering-machine detection is on for the contact.
    pub amd: bool,
}

/// Everything known of one contact so far, built from its sim events; emits the Connect
/// event each step implies and answers `DescribeContact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactTimeline {
    facts: ContactFacts,
    initiated: Option<DateTime<Utc>>,
    connected_to_system: Option<DateTime<Utc>>,
    amd_status: Option<AmdStatus>,
    enqueued: Option<DateTime<Utc>>,
    agent: Option<(String, DateTime<Utc>)>,
    disconnected: Option<DateTime<Utc>>,
    disconnect_reason: Option<&'static str>,
    completed: Option<DateTime<Utc>>,
    last_update: Option<DateTime<Utc>>,
}

impl ContactTimeline {
    /// A contact nothing has happened to yet.
    pub fn new(facts: ContactFacts) -> Self {
        Self {
            facts,
            initiated: None,
            connected_to_system: None,
            amd_status: None,
            enqueued: None,
            agent: None,
            disconnected: None,
            disconnect_reason: None,
            completed: None,
            last_update: None,
        }
    }

    /// The contact's facts.
    pub fn facts(&self) -> &ContactFacts {
        &self.facts
    }

    /// Whether the contact is over (disconnected; completion may follow after wrap-up).
    pub fn is_disconnected(&self) -> bool {
        self.disconnected.is_some()
    }

    /// Whether nothing more will happen to the contact: completed, or disconnected without
    /// an agent (only a contact an agent took has wrap-up, and `COMPLETED`, to come).
    pub fn is_over(&self) -> bool {
        self.completed.is_some() || (self.disconnected.is_some() && self.agent.is_none())
    }

    /// Applies one sim event; returns the Connect event it emits, if any. Outcome kinds that
    /// Connect reports only with the disconnect (`Busy`, `Invalid`, `NoAnswer`, `Abandoned`)
    /// emit nothing themselves.
    pub fn apply(
        &mut self,
        kind: &ContactEventKind,
        at: DateTime<Utc>,
    ) -> Option<ContactEventDetail> {
        use ContactEventKind as K;
        self.last_update = Some(at);
        let event_type = match kind {
            K::Initiated => {
                self.initiated = Some(at);
                ContactEventType::Initiated
            }
            K::PersonAnswered => {
                self.connected_to_system = Some(at);
                self.amd_status = Some(if self.facts.amd {
                    AmdStatus::HumanAnswered
                } else {
                    AmdStatus::Answered
                });
                ContactEventType::ConnectedToSystem
            }
            K::MachineAnswered => {
                self.connected_to_system = Some(at);
                self.amd_status = Some(AmdStatus::VoicemailBeep);
                self.disconnect_reason = Some(REASON_FLOW);
                ContactEventType::ConnectedToSystem
            }
            K::NoAnswer | K::Busy | K::Invalid => {
                self.amd_status = Some(match kind {
                    K::Busy => AmdStatus::SitToneBusy,
                    K::Invalid => AmdStatus::SitToneInvalidNumber,
                    _ => AmdStatus::AmdUnanswered,
                });
                self.disconnect_reason = Some(REASON_TELECOM);
                return None;
            }
            K::Queued => {
                self.enqueued = Some(at);
                ContactEventType::Queued
            }
            K::ConnectedToAgent { agent_id } => {
                self.agent = Some((agent_id.clone(), at));
                ContactEventType::ConnectedToAgent
            }
            K::Abandoned => {
                self.disconnect_reason = Some(REASON_FLOW);
                return None;
            }
            K::Disconnected => {
                self.disconnected = Some(at);
                if self.disconnect_reason.is_none() {
                    self.disconnect_reason = Some(if self.agent.is_some() {
                        REASON_CUSTOMER
                    } else {
                        REASON_FLOW
                    });
                }
                ContactEventType::Disconnected
            }
            K::Completed => {
                self.completed = Some(at);
                ContactEventType::Completed
            }
        };
        Some(self.detail(event_type))
    }

    fn queue_arn(&self, queue_id: &str) -> String {
        format!("{}/queue/{queue_id}", self.facts.instance_arn)
    }

    fn agent_arn(&self, agent_id: &str) -> String {
        format!("{}/agent/{agent_id}", self.facts.instance_arn)
    }

    /// The contact event of type `event_type` with everything known so far.
    pub fn detail(&self, event_type: ContactEventType) -> ContactEventDetail {
        let queue_info = match (&self.facts.queue_id, self.enqueued) {
            (Some(queue), Some(at)) => Some(EventQueueInfo {
                queue_arn: Some(self.queue_arn(queue)),
                queue_type: Some("STANDARD".to_string()),
                enqueue_timestamp: Some(at),
            }),
            _ => None,
        };
        let agent_info = self.agent.as_ref().map(|(agent, at)| EventAgentInfo {
            agent_arn: Some(self.agent_arn(agent)),
            connected_to_agent_timestamp: Some(*at),
            after_contact_work_start_timestamp: self.completed.and(self.disconnected),
            after_contact_work_end_timestamp: self.completed,
        });
        ContactEventDetail {
            event_type,
            contact_id: self.facts.contact_id.clone(),
            initial_contact_id: Some(self.facts.contact_id.clone()),
            channel: Some(CHANNEL_VOICE.to_string()),
            instance_arn: Some(self.facts.instance_arn.clone()),
            initiation_method: Some(INITIATION_API.to_string()),
            initiation_timestamp: self.initiated,
            connected_to_system_timestamp: self.connected_to_system,
            disconnect_timestamp: self.disconnected,
            queue_info,
            agent_info,
            campaign: self.facts.campaign_id.as_ref().map(|id| EventCampaign {
                campaign_id: Some(id.clone()),
            }),
            answering_machine_detection_status: self.amd_status,
            disconnect_reason: self
                .disconnected
                .and(self.disconnect_reason)
                .map(str::to_string),
        }
    }

    /// The contact as `DescribeContact` returns it.
    pub fn describe(&self) -> Contact {
        Contact {
            arn: Some(format!(
                "{}/contact/{}",
                self.facts.instance_arn, self.facts.contact_id
            )),
            id: Some(self.facts.contact_id.clone()),
            initial_contact_id: Some(self.facts.contact_id.clone()),
            initiation_method: Some(INITIATION_API.to_string()),
            channel: Some(CHANNEL_VOICE.to_string()),
            queue_info: self.facts.queue_id.as_ref().map(|queue| QueueInfo {
                id: Some(queue.clone()),
                enqueue_timestamp: self.enqueued,
            }),
            agent_info: self.agent.as_ref().map(|(agent, at)| AgentInfo {
                id: Some(agent.clone()),
                connected_to_agent_timestamp: Some(*at),
                after_contact_work_start_timestamp: self.completed.and(self.disconnected),
                after_contact_work_end_timestamp: self.completed,
            }),
            initiation_timestamp: self.initiated,
            connected_to_system_timestamp: self.connected_to_system,
            disconnect_timestamp: self.disconnected,
            last_update_timestamp: self.last_update,
            campaign: self.facts.campaign_id.as_ref().map(|id| CampaignRef {
                campaign_id: Some(id.clone()),
            }),
            answering_machine_detection_status: self.amd_status,
            disconnect_reason: self
                .disconnected
                .and(self.disconnect_reason)
                .map(str::to_string),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Engine side: a Connect event → the engine's contact events.

/// The engine events one contact event implies, oldest first, each at the time its own
/// timestamp gives (the envelope's `time` when the event lacks it). Stateless: every step
/// the event's timestamps show is returned, so the engine must (and does) drop steps its
/// timeline already has. Events that are not contact events, and unknown event types,
/// imply nothing.
///
/// A person answered (see [`AnswerClass::of`]), queued, and disconnected without an agent
/// at least `abandon_threshold` after the answer is `Abandoned` at the disconnect; one who
/// hung up sooner is not (nobody could have reached them in time).
pub fn engine_events(
    envelope: &ContactEventEnvelope,
    abandon_threshold: Duration,
) -> Vec<ContactEvent> {
    use ContactEventKind as K;
    if !envelope.is_contact_event() {
        return Vec::new();
    }
    let d = &envelope.detail;
    let fallback = envelope.time;
    let mut out = Vec::new();
    let mut push = |at: Option<DateTime<Utc>>, kind: ContactEventKind| {
        out.push(ContactEvent {
            contact_id: d.contact_id.clone(),
            request_identifier: None,
            at: at.unwrap_or(fallback),
            kind,
        });
    };
    let event_type = d.event_type;
    let reached = |wanted: ContactEventType| -> bool {
        use ContactEventType as T;
        let rank = |t: ContactEventType| match t {
            T::Initiated => 0,
            T::ConnectedToSystem => 1,
            T::Queued => 2,
            T::ConnectedToAgent => 3,
            T::Disconnected => 4,
            T::Completed => 5,
            T::AmdDisabled | T::ContactDataUpdated | T::Unknown => -1,
        };
        rank(event_type) >= rank(wanted) && rank(event_type) >= 0
    };
    if !reached(ContactEventType::Initiated) {
        return Vec::new();
    }
    push(d.initiation_timestamp, K::Initiated);

    let class = AnswerClass::of(d.answering_machine_detection_status);
    let queued = d
        .queue_info
        .as_ref()
        .and_then(|q| q.enqueue_timestamp)
        .filter(|_| reached(ContactEventType::Queued));
    let agent = d
        .agent_info
        .as_ref()
        .filter(|a| a.connected_to_agent_timestamp.is_some() || a.agent_arn.is_some())
        .filter(|_| reached(ContactEventType::ConnectedToAgent));
    let answered_at = d.connected_to_system_timestamp;
    // Media established: by its timestamp, by the event type, by later steps, or because
    // the status classifies an answer.
    let answered = answered_at.is_some()
        || event_type == ContactEventType::ConnectedToSystem
        || queued.is_some()
        || agent.is_some()
        || matches!(class, AnswerClass::Person | AnswerClass::Machine);
    let ended = reached(ContactEventType::Disconnected);

    let failure = match class {
        AnswerClass::Busy => Some(K::Busy),
        AnswerClass::Invalid => Some(K::Invalid),
        AnswerClass::NoAnswer => Some(K::NoAnswer),
        AnswerClass::Unclassified if !answered && ended => Some(K::NoAnswer),
        _ => None,
    };
    if let Some(kind) = failure {
        // Call progress ended the dial: the outcome is known only with the disconnect
        // (or, in a CONNECTED_TO_SYSTEM event for a SIT tone, at the answer).
        if ended {
            push(d.disconnect_timestamp, kind);
            push(d.disconnect_timestamp, K::Disconnected);
        } else {
            push(answered_at, kind);
        }
        return out;
    }
    if !answered {
        return out;
    }
    if class == AnswerClass::Machine {
        push(answered_at, K::MachineAnswered);
        if ended {
            push(d.disconnect_timestamp, K::Disconnected);
        }
        return out;
    }
    push(answered_at, K::PersonAnswered);
    if let Some(at) = queued {
        push(Some(at), K::Queued);
    }
    if let Some(agent) = agent {
        let agent_id = agent.agent_arn.as_deref().map(agent_id).unwrap_or_default();
        push(
            agent.connected_to_agent_timestamp,
            K::ConnectedToAgent {
                agent_id: agent_id.to_string(),
            },
        );
    }
    if !ended {
        return out;
    }
    let disconnected_at = d.disconnect_timestamp.unwrap_or(fallback);
    if agent.is_none() && queued.is_some() {
        let waited = answered_at.map(|answered| disconnected_at - answered);
        if waited.is_none_or(|waited| waited >= abandon_threshold) {
            push(Some(disconnected_at), K::Abandoned);
        }
    }
    push(Some(disconnected_at), K::Disconnected);
    if event_type == ContactEventType::Completed && agent.is_some() {
        let completed_at = agent
            .and_then(|a| a.after_contact_work_end_timestamp)
            .unwrap_or(fallback);
        push(Some(completed_at), K::Completed);
    }
    out
}

/// A valid SMS `StartOutboundChatContact` request, for tests here and in the emulator.
#[cfg(test)]
pub(crate) fn sample_sms() -> StartOutboundChatContactRequest {
    StartOutboundChatContactRequest {
        source_endpoint: Some(ChatEndpoint {
            endpoint_type: Some("CONNECT_PHONENUMBER_ARN".into()),
            address: Some("arn:aws:connect:us-east-1:111122223333:phone-number/p".into()),
        }),
        destination_endpoint: Some(ChatEndpoint {
            endpoint_type: Some("TELEPHONE_NUMBER".into()),
            address: Some("+14155550123".into()),
        }),
        instance_id: Some("inst-1".into()),
        segment_attributes: Some(BTreeMap::from([(
            SEGMENT_SUBTYPE.to_string(),
            SegmentAttributeValue::string(SUBTYPE_SMS),
        )])),
        contact_flow_id: Some("flow".into()),
        chat_duration_in_minutes: Some(60),
        participant_details: Some(ParticipantDetails {
            display_name: Some("Acme".into()),
        }),
        initial_system_message: Some(ChatMessage {
            content_type: Some("text/plain".into()),
            content: Some("hello".into()),
        }),
        client_token: Some("t".into()),
        ..StartOutboundChatContactRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ContactEventKind as K;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn facts(queue: bool, amd: bool) -> ContactFacts {
        ContactFacts {
            contact_id: "c-1".into(),
            instance_arn: instance_arn("us-east-1", "111122223333", "inst-1"),
            campaign_id: Some("camp-1".into()),
            queue_id: queue.then(|| "q-1".to_string()),
            amd,
        }
    }

    fn wrap(detail: ContactEventDetail, id: &str, at: DateTime<Utc>) -> ContactEventEnvelope {
        ContactEventEnvelope::new(id.into(), at, "111122223333", "us-east-1", detail)
    }

    /// A sim path: name, has a queue, AMD on, the events (times in seconds).
    type Path = (&'static str, bool, bool, Vec<(i64, ContactEventKind)>);

    /// Every sim path, as the sim emits it.
    fn paths() -> Vec<Path> {
        let agent = || K::ConnectedToAgent {
            agent_id: "q-1/agent-3".into(),
        };
        vec![
            (
                "no answer",
                true,
                true,
                vec![(0, K::Initiated), (25, K::NoAnswer), (25, K::Disconnected)],
            ),
            (
                "busy",
                true,
                false,
                vec![(0, K::Initiated), (3, K::Busy), (3, K::Disconnected)],
            ),
            (
                "invalid",
                true,
                true,
                vec![(0, K::Initiated), (3, K::Invalid), (3, K::Disconnected)],
            ),
            (
                "machine",
                true,
                true,
                vec![
                    (0, K::Initiated),
                    (6, K::MachineAnswered),
                    (6, K::Disconnected),
                ],
            ),
            (
                "person, agent, wrap-up",
                true,
                true,
                vec![
                    (0, K::Initiated),
                    (6, K::PersonAnswered),
                    (6, K::Queued),
                    (7, agent()),
                    (60, K::Disconnected),
                    (75, K::Completed),
                ],
            ),
            (
                "person with AMD off",
                true,
                false,
                vec![
                    (0, K::Initiated),
                    (6, K::PersonAnswered),
                    (6, K::Queued),
                    (6, agent()),
                    (60, K::Disconnected),
                    (75, K::Completed),
                ],
            ),
            (
                "abandoned",
                true,
                true,
                vec![
                    (0, K::Initiated),
                    (6, K::PersonAnswered),
                    (6, K::Queued),
                    (8, K::Abandoned),
                    (8, K::Disconnected),
                ],
            ),
            (
                "agentless",
                false,
                true,
                vec![
                    (0, K::Initiated),
                    (6, K::PersonAnswered),
                    (6, K::Disconnected),
                ],
            ),
        ]
    }

    fn emit(queue: bool, amd: bool, path: &[(i64, ContactEventKind)]) -> Vec<ContactEventEnvelope> {
        let mut timeline = ContactTimeline::new(facts(queue, amd));
        path.iter()
            .enumerate()
            .filter_map(|(i, (at, kind))| {
                timeline
                    .apply(kind, t(*at))
                    .map(|d| wrap(d, &format!("id-{i}"), t(*at)))
            })
            .collect()
    }

    fn dedup(
        events: impl IntoIterator<Item = ContactEvent>,
    ) -> Vec<(DateTime<Utc>, ContactEventKind)> {
        let mut seen: Vec<(DateTime<Utc>, ContactEventKind)> = Vec::new();
        for e in events {
            if !seen.iter().any(|(_, k)| *k == e.kind) {
                seen.push((e.at, e.kind));
            }
        }
        seen
    }

    #[test]
    fn every_sim_path_round_trips_through_connect_events() {
        for (name, queue, amd, path) in paths() {
            let envelopes = emit(queue, amd, &path);
            let expected: Vec<_> = path.iter().map(|(at, k)| (t(*at), k.clone())).collect();
            // In order.
            let got = dedup(
                envelopes
                    .iter()
                    .flat_map(|e| engine_events(e, Duration::seconds(2))),
            );
            assert_eq!(got, expected, "{name}");
            // The last event alone says it all (cumulative timestamps).
            let last = envelopes.last().unwrap();
            let alone: Vec<_> = engine_events(last, Duration::seconds(2))
                .into_iter()
                .map(|e| (e.at, e.kind))
                .collect();
            assert_eq!(alone, expected, "{name}, last event alone");
            // Reversed and duplicated: the same steps, once each.
            let mut shuffled: Vec<_> = envelopes.iter().rev().chain(envelopes.iter()).collect();
            shuffled.rotate_left(1);
            let mut got = dedup(
                shuffled
                    .into_iter()
                    .flat_map(|e| engine_events(e, Duration::seconds(2))),
            );
            got.sort_by_key(|(at, k)| (*at, expected.iter().position(|(_, e)| e == k)));
            assert_eq!(got, expected, "{name}, reordered");
            // Every event names the contact and the campaign.
            for e in &envelopes {
                assert_eq!(e.detail.contact_id, "c-1");
                assert_eq!(
                    e.detail
                        .campaign
                        .as_ref()
                        .and_then(|c| c.campaign_id.as_deref()),
                    Some("camp-1")
                );
            }
        }
    }

    #[test]
    fn the_emulator_emits_connect_event_types_and_statuses() {
        let types = |path: &[(i64, ContactEventKind)],
                     queue,
                     amd|
         -> Vec<(ContactEventType, Option<AmdStatus>, Option<String>)> {
            emit(queue, amd, path)
                .into_iter()
                .map(|e| {
                    (
                        e.detail.event_type,
                        e.detail.answering_machine_detection_status,
                        e.detail.disconnect_reason,
                    )
                })
                .collect()
        };
        use ContactEventType as T;
        let all = paths();
        assert_eq!(
            types(&all[1].3, true, false),
            [
                (T::Initiated, None, None),
                (
                    T::Disconnected,
                    Some(AmdStatus::SitToneBusy),
                    Some(REASON_TELECOM.into())
                )
            ]
        );
        assert_eq!(
            types(&all[0].3, true, true)[1].1,
            Some(AmdStatus::AmdUnanswered)
        );
        assert_eq!(
            types(&all[2].3, true, true)[1].1,
            Some(AmdStatus::SitToneInvalidNumber)
        );
        assert_eq!(
            types(&all[3].3, true, true),
            [
                (T::Initiated, None, None),
                (T::ConnectedToSystem, Some(AmdStatus::VoicemailBeep), None),
                (
                    T::Disconnected,
                    Some(AmdStatus::VoicemailBeep),
                    Some(REASON_FLOW.into())
                )
            ]
        );
        let person: Vec<_> = types(&all[4].3, true, true)
            .into_iter()
            .map(|(t, s, _)| (t, s))
            .collect();
        let human = Some(AmdStatus::HumanAnswered);
        assert_eq!(
            person,
            [
                (T::Initiated, None),
                (T::ConnectedToSystem, human),
                (T::Queued, human),
                (T::ConnectedToAgent, human),
                (T::Disconnected, human),
                (T::Completed, human)
            ]
        );
        assert_eq!(
            types(&all[5].3, true, false)[1].1,
            Some(AmdStatus::Answered)
        );
        assert_eq!(
            types(&all[6].3, true, true).last().unwrap().2.as_deref(),
            Some(REASON_FLOW)
        );
    }

    #[test]
    fn a_contact_is_over_when_no_event_can_follow() {
        for (name, queue, amd, path) in paths() {
            let mut timeline = ContactTimeline::new(facts(queue, amd));
            for (i, (at, kind)) in path.iter().enumerate() {
                assert!(!timeline.is_over(), "{name} before step {i}");
                timeline.apply(kind, t(*at));
            }
            assert!(timeline.is_over(), "{name}");
        }
    }

    #[test]
    fn event_json_has_the_documented_shape_and_iso_timestamps() {
        let path = &paths()[4].3;
        let events = emit(true, true, path);
        let completed = serde_json::to_value(events.last().unwrap()).unwrap();
        assert_eq!(
            completed,
            json!({
                "version": "0",
                "id": "id-5",
                "detail-type": "Amazon Connect Contact Event",
                "source": "aws.connect",
                "account": "111122223333",
                "time": "2023-11-14T22:14:35Z",
                "region": "us-east-1",
                "resources": [
                    "arn:aws:connect:us-east-1:111122223333:instance/inst-1/contact/c-1",
                    "arn:aws:connect:us-east-1:111122223333:instance/inst-1"
                ],
                "detail": {
                    "eventType": "COMPLETED",
                    "contactId": "c-1",
                    "initialContactId": "c-1",
                    "channel": "VOICE",
                    "instanceArn": "arn:aws:connect:us-east-1:111122223333:instance/inst-1",
                    "initiationMethod": "API",
                    "initiationTimestamp": "2023-11-14T22:13:20.000Z",
                    "connectedToSystemTimestamp": "2023-11-14T22:13:26.000Z",
                    "disconnectTimestamp": "2023-11-14T22:14:20.000Z",
                    "queueInfo": {
                        "queueArn": "arn:aws:connect:us-east-1:111122223333:instance/inst-1/queue/q-1",
                        "queueType": "STANDARD",
                        "enqueueTimestamp": "2023-11-14T22:13:26.000Z"
                    },
                    "agentInfo": {
                        "agentArn": "arn:aws:connect:us-east-1:111122223333:instance/inst-1/agent/q-1/agent-3",
                        "connectedToAgentTimestamp": "2023-11-14T22:13:27.000Z",
                        "afterContactWorkStartTimestamp": "2023-11-14T22:14:20.000Z",
                        "afterContactWorkEndTimestamp": "2023-11-14T22:14:35.000Z"
                    },
                    "campaign": {"campaignId": "camp-1"},
                    "answeringMachineDetectionStatus": "HUMAN_ANSWERED",
                    "disconnectReason": "CUSTOMER_DISCONNECT"
                }
            })
        );
    }

    #[test]
    fn the_guides_sample_parses_ignoring_unknown_members() {
        // The shape of the guide's "voice call is disconnected" sample, with its spellings
        // (`instanceARN`, `AgentInfo`/`AgentArn`, channel `Voice`) and members this build
        // does not know.
        let envelope: ContactEventEnvelope = serde_json::from_value(json!({
            "version": "0",
            "id": "abcabcab-abca-abca-abca-abcabcabcabc",
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": "111122223333",
            "time": "2021-08-04T17:43:48Z",
            "region": "us-west-1",
            "resources": ["arn:aws:...", "contactArn", "instanceArn"],
            "detail": {
                "eventType": "DISCONNECTED",
                "contactId": "11111111-1111-1111-1111-111111111111",
                "initialContactId": "11111111-2222-3333-4444-555555555555",
                "previousContactId": "11111111-2222-3333-4444-555555555555",
                "channel": "Voice",
                "instanceARN": "arn:aws:connect:us-west-2:123456789012:instance/x",
                "initiationMethod": "OUTBOUND",
                "initiationTimestamp": "2021-08-04T17:17:53.000Z",
                "connectedToSystemTimestamp": "2021-08-04T17:17:55.000Z",
                "disconnectTimestamp": "2021-08-04T17:18:37.000Z",
                "queueInfo": {"queueArn": "arn", "queueType": "type", "enqueueTimestamp": "2021-08-04T17:29:04.000Z"},
                "AgentInfo": {"AgentArn": "arn:x/agent/a-9", "connectedToAgentTimestamp": "2021-08-04T17:29:09.000Z"},
                "CustomerVoiceActivity": {"greetingStartTimestamp": "2021-08-04T17:29:20.000Z"},
                "somethingNew": [1, 2, 3]
            }
        }))
        .unwrap();
        assert_eq!(
            envelope.detail.instance_arn.as_deref(),
            Some("arn:aws:connect:us-west-2:123456789012:instance/x")
        );
        assert_eq!(
            envelope
                .detail
                .agent_info
                .as_ref()
                .unwrap()
                .agent_arn
                .as_deref(),
            Some("arn:x/agent/a-9")
        );
        let kinds: Vec<_> = engine_events(&envelope, Duration::seconds(2))
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                K::Initiated,
                K::PersonAnswered,
                K::Queued,
                K::ConnectedToAgent {
                    agent_id: "a-9".into()
                },
                K::Disconnected
            ]
        );
    }

    #[test]
    fn unknown_event_types_and_other_sources_imply_nothing() {
        let mut detail =
            ContactTimeline::new(facts(true, true)).detail(ContactEventType::Initiated);
        detail.initiation_timestamp = Some(t(0));
        let mut unknown = serde_json::to_value(wrap(detail.clone(), "x", t(0))).unwrap();
        unknown["detail"]["eventType"] = json!("SOMETHING_NEW");
        let unknown: ContactEventEnvelope = serde_json::from_value(unknown).unwrap();
        assert_eq!(unknown.detail.event_type, ContactEventType::Unknown);
        assert!(engine_events(&unknown, Duration::seconds(2)).is_empty());
        let mut other = wrap(detail.clone(), "y", t(0));
        other.source = "aws.s3".into();
        assert!(engine_events(&other, Duration::seconds(2)).is_empty());
        detail.event_type = ContactEventType::AmdDisabled;
        assert!(engine_events(&wrap(detail, "z", t(0)), Duration::seconds(2)).is_empty());
        let status: AmdStatus = serde_json::from_value(json!("BRAND_NEW_STATUS")).unwrap();
        assert_eq!(status, AmdStatus::Unknown);
    }

    fn disconnected(
        status: Option<AmdStatus>,
        answered: Option<i64>,
        queued: Option<i64>,
        agent: Option<i64>,
        end: i64,
    ) -> ContactEventEnvelope {
        let detail = ContactEventDetail {
            event_type: ContactEventType::Disconnected,
            contact_id: "c".into(),
            initial_contact_id: None,
            channel: Some("VOICE".into()),
            instance_arn: None,
            initiation_method: None,
            initiation_timestamp: Some(t(0)),
            connected_to_system_timestamp: answered.map(t),
            disconnect_timestamp: Some(t(end)),
            queue_info: queued.map(|q| EventQueueInfo {
                enqueue_timestamp: Some(t(q)),
                ..EventQueueInfo::default()
            }),
            agent_info: agent.map(|a| EventAgentInfo {
                agent_arn: Some("arn:aws:connect:r:a:instance/i/agent/ag".into()),
                connected_to_agent_timestamp: Some(t(a)),
                ..EventAgentInfo::default()
            }),
            campaign: Some(EventCampaign {
                campaign_id: Some("camp".into()),
            }),
            answering_machine_detection_status: status,
            disconnect_reason: None,
        };
        wrap(detail, "e", t(end))
    }

    fn kinds(e: &ContactEventEnvelope) -> Vec<ContactEventKind> {
        engine_events(e, Duration::seconds(2))
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn abandonment_is_derived_from_the_times() {
        use AmdStatus as S;
        let abandoned = [
            K::Initiated,
            K::PersonAnswered,
            K::Queued,
            K::Abandoned,
            K::Disconnected,
        ];
        let hung_up = [K::Initiated, K::PersonAnswered, K::Queued, K::Disconnected];
        for status in [
            None,
            Some(S::HumanAnswered),
            Some(S::Answered),
            Some(S::AmdNotApplicable),
            Some(S::Undetected),
        ] {
            assert_eq!(
                kinds(&disconnected(status, Some(6), Some(6), None, 8)),
                abandoned,
                "{status:?}"
            );
            assert_eq!(
                kinds(&disconnected(status, Some(6), Some(6), None, 20)),
                abandoned,
                "{status:?}"
            );
            assert_eq!(
                kinds(&disconnected(status, Some(6), Some(6), None, 7)),
                hung_up,
                "{status:?}"
            );
        }
        // Agentless: never queued, never abandoned.
        assert_eq!(
            kinds(&disconnected(None, Some(6), None, None, 30)),
            [K::Initiated, K::PersonAnswered, K::Disconnected]
        );
        // An agent, however late, is not an abandon.
        assert_eq!(
            kinds(&disconnected(
                Some(S::HumanAnswered),
                Some(6),
                Some(6),
                Some(30),
                60
            )),
            [
                K::Initiated,
                K::PersonAnswered,
                K::Queued,
                K::ConnectedToAgent {
                    agent_id: "ag".into()
                },
                K::Disconnected
            ]
        );
    }

    #[test]
    fn every_amd_status_maps_on_purpose() {
        use AmdStatus as S;
        let person = [K::Initiated, K::PersonAnswered, K::Disconnected];
        let machine = [K::Initiated, K::MachineAnswered, K::Disconnected];
        let failed = |k: K| vec![K::Initiated, k, K::Disconnected];
        let answered = |s| kinds(&disconnected(Some(s), Some(6), None, None, 9));
        let unanswered = |s| kinds(&disconnected(Some(s), None, None, None, 25));
        for s in [
            S::Answered,
            S::HumanAnswered,
            S::Undetected,
            S::AmdUnresolved,
            S::Error,
            S::AmdError,
            S::AmdNotApplicable,
            S::Unknown,
        ] {
            assert_eq!(answered(s), person, "{s:?}");
        }
        for s in [S::VoicemailBeep, S::VoicemailNoBeep, S::FaxMachineDetected] {
            assert_eq!(answered(s), machine, "{s:?}");
            assert_eq!(unanswered(s), machine, "{s:?} without an answer timestamp");
        }
        for (s, k) in [
            (S::SitToneBusy, K::Busy),
            (S::SitToneInvalidNumber, K::Invalid),
            (S::SitToneDetected, K::Invalid),
            (S::AmdUnanswered, K::NoAnswer),
        ] {
            assert_eq!(unanswered(s), failed(k.clone()), "{s:?}");
            assert_eq!(answered(s), failed(k), "{s:?} with an answer timestamp");
        }
        for s in [S::Error, S::AmdError, S::AmdNotApplicable, S::Unknown] {
            assert_eq!(unanswered(s), failed(K::NoAnswer), "{s:?} never answered");
        }
        // A status that says someone answered is believed without the answer timestamp.
        for s in [
            S::Answered,
            S::HumanAnswered,
            S::Undetected,
            S::AmdUnresolved,
        ] {
            assert_eq!(unanswered(s), person, "{s:?} without an answer timestamp");
        }
        assert_eq!(
            kinds(&disconnected(None, None, None, None, 25)),
            failed(K::NoAnswer)
        );
    }

    #[test]
    fn rest_timestamps_are_epoch_seconds() {
        let mut timeline = ContactTimeline::new(facts(true, true));
        timeline.apply(&K::Initiated, t(0) + Duration::milliseconds(250));
        let json = serde_json::to_value(DescribeContactResponse {
            contact: Some(timeline.describe()),
        })
        .unwrap();
        assert_eq!(
            json["Contact"]["InitiationTimestamp"],
            json!(1_700_000_000.25)
        );
        assert_eq!(json["Contact"]["Campaign"], json!({"CampaignId": "camp-1"}));
        assert_eq!(json["Contact"]["QueueInfo"], json!({"Id": "q-1"}));
        let back: DescribeContactResponse = serde_json::from_value(json!({
            "Contact": {"Id": "c", "InitiationTimestamp": 1_700_000_000, "DisconnectTimestamp": 1.7e9, "Unknown": 1}
        }))
        .unwrap();
        let contact = back.contact.unwrap();
        assert_eq!(contact.initiation_timestamp, Some(t(0)));
        assert_eq!(contact_state(&contact), ContactState::Ended);
        assert!(serde_json::from_value::<Contact>(
            json!({"InitiationTimestamp": "2021-01-01T00:00:00Z"})
        )
        .is_err());
        let lost = Contact {
            disconnect_reason: Some(REASON_LOST.into()),
            ..Contact::default()
        };
        assert!(matches!(contact_state(&lost), ContactState::Gone(_)));
        assert_eq!(contact_state(&Contact::default()), ContactState::Running);
    }

    #[test]
    fn metric_data_round_trips_and_undoes_after_contact_work() {
        let request: GetCurrentMetricDataRequest = serde_json::from_value(json!({
            "Filters": {"Queues": ["q-1"], "Channels": ["VOICE"]},
            "Groupings": ["QUEUE"],
            "CurrentMetrics": [{"Name": "AGENTS_ONLINE", "Unit": "COUNT"}, {"Name": "NEW_ONE", "Unit": "COUNT"}]
        }))
        .unwrap();
        assert_eq!(request.groupings, Some(vec![Grouping::Queue]));
        assert_eq!(
            request.current_metrics.as_ref().unwrap()[1].name,
            Some(CurrentMetricName::Unknown)
        );
        let queue = QueueMetrics {
            queue_id: "q-1".into(),
            agents_online: 10,
            agents_available: 3,
            agents_on_contact: 4,
            agents_after_contact_work: 2,
            contacts_in_queue: 1,
        };
        use CurrentMetricName as N;
        let names = [
            N::AgentsOnline,
            N::AgentsAvailable,
            N::AgentsOnContact,
            N::AgentsAfterContactWork,
            N::ContactsInQueue,
        ];
        let response = GetCurrentMetricDataResponse {
            metric_results: vec![CurrentMetricResult {
                dimensions: Some(Dimensions {
                    queue: Some(QueueReference {
                        id: Some("q-1".into()),
                        arn: None,
                    }),
                    channel: None,
                }),
                collections: names
                    .iter()
                    .map(|n| CurrentMetricData {
                        metric: Some(CurrentMetric::of(*n)),
                        value: metric_value(&queue, *n),
                    })
                    .collect(),
            }],
            data_snapshot_time: Some(t(0)),
            ..GetCurrentMetricDataResponse::default()
        };
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["DataSnapshotTime"], json!(1_700_000_000.0));
        assert_eq!(
            json["MetricResults"][0]["Collections"][2],
            json!({"Metric": {"Name": "AGENTS_ON_CONTACT", "Unit": "COUNT"}, "Value": 6.0})
        );
        let back: GetCurrentMetricDataResponse = serde_json::from_value(json).unwrap();
        assert_eq!(queue_metrics_from(&back), [queue]);
    }

    #[test]
    fn outbound_chat_request_uses_the_model_names() {
        let request = sample_sms();
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            json!({
                "SourceEndpoint": {
                    "Type": "CONNECT_PHONENUMBER_ARN",
                    "Address": "arn:aws:connect:us-east-1:111122223333:phone-number/p"
                },
                "DestinationEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+14155550123"},
                "InstanceId": "inst-1",
                "SegmentAttributes": {"connect:Subtype": {"ValueString": "connect:SMS"}},
                "ContactFlowId": "flow",
                "ChatDurationInMinutes": 60,
                "ParticipantDetails": {"DisplayName": "Acme"},
                "InitialSystemMessage": {"ContentType": "text/plain", "Content": "hello"},
                "ClientToken": "t"
            })
        );
        let response: StartOutboundChatContactResponse =
            serde_json::from_value(json!({"ContactId": "c-9"})).unwrap();
        assert_eq!(response.contact_id, "c-9");
    }
}
