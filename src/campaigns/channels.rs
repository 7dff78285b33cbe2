//! The v2 (connectcampaignsv2) settings of a campaign, in their wire shapes: the channels it
//! reaches people on ([`ChannelSubtypeConfig`]), its schedule, its communication windows and
//! limits, its entry limits and its source. They are stored as sent and answered as stored;
//! the API edge has validated them against the model before they get here.
//!
//! A v1 campaign is a campaign with a telephony channel: [`TelephonyChannelSubtypeConfig`]
//! converts to and from the v1 `dialerConfig`/`outboundCallConfig` pair, losslessly for what
//! v1 can express. What it cannot (the preview mode, pacing strategies, ring timeout) is kept
//! when v1 changes the rest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentDialerConfig, AgentlessDialerConfig, DialerConfig, OutboundCallConfig};

/// The channels of a campaign, each with its pacing and defaults. Any subset may be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSubtypeConfig {
    /// Calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephony: Option<TelephonyChannelSubtypeConfig>,
    /// Text messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsChannelSubtypeConfig>,
    /// Emails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailChannelSubtypeConfig>,
    /// WhatsApp messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whats_app: Option<WhatsAppChannelSubtypeConfig>,
}

impl ChannelSubtypeConfig {
    /// Whether the campaign has a configuration for `channel`.
    pub fn has(&self, channel: crate::queue::Channel) -> bool {
        use crate::queue::Channel;
        match channel {
            Channel::Telephony => self.telephony.is_some(),
            Channel::Sms => self.sms.is_some(),
            Channel::Email => self.email.is_some(),
            Channel::WhatsApp => self.whats_app.is_some(),
        }
    }
}

/// The telephony channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonyChannelSubtypeConfig {
    /// Share of the dialer's lines, 0.01..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// The queue whose agents take the calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_queue_id: Option<String>,
    /// Pacing.
    pub outbound_mode: TelephonyOutboundMode,
    /// How calls are placed unless a request overrides it.
    pub default_outbound_config: TelephonyOutboundConfig,
}

/// How telephony is paced: exactly one mode of the wire union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TelephonyOutboundMode {
    /// One call per free agent.
    Progressive(ProgressiveConfig),
    /// Ahead of free agents, from measured answer rates.
    Predictive(PredictiveConfig),
    /// No agents.
    Agentless(AgentlessConfig),
    /// An agent previews the contact before the call; paced as progressive here.
    Preview(PreviewConfig),
}

/// Progressive pacing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressiveConfig {
    /// Share of the queue's agents, 0..=2.
    pub bandwidth_allocation: f64,
}

/// Predictive pacing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictiveConfig {
    /// Share of the queue's agents, 0..=2.
    pub bandwidth_allocation: f64,
    /// One strategy at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacing_strategies: Option<Vec<PacingStrategy>>,
}

/// A pacing strategy: a union of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PacingStrategy {
    /// Pace to an abandonment-rate target.
    AbandonmentRate(AbandonmentRatePacingConfig),
}

/// The abandonment-rate strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbandonmentRatePacingConfig {
    /// Target, 0..=1.
    pub target_rate: f64,
    /// `CONNECTED_TO_SYSTEM`, `GREETING_START` or `GREETING_END`.
    pub connection_start_point: String,
    /// At least 1.
    pub connection_threshold_seconds: i64,
    /// `PT<n>H`, 1 to 24 hours.
    pub evaluation_window: String,
}

/// The agentless mode: no settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentlessConfig {}

/// Preview pacing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewConfig {
    /// Share of the queue's agents, 0..=2.
    pub bandwidth_allocation: f64,
    /// How long the agent previews.
    pub timeout_config: TimeoutConfig,
    /// What the agent may do (`DISCARD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_actions: Option<Vec<String>>,
}

/// The preview time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutConfig {
    /// 1..=300 seconds.
    pub duration_in_seconds: i64,
}

/// How a campaign's calls are placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelephonyOutboundConfig {
    /// The contact flow that runs the call.
    pub connect_contact_flow_id: String,
    /// Caller id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_source_phone_number: Option<String>,
    /// Answering-machine detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_machine_detection_config: Option<super::AnswerMachineDetectionConfig>,
    /// Seconds to ring, 15..=60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_timeout: Option<i64>,
}

/// A channel without agents (SMS, email, WhatsApp): capacity, its one mode, its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentlessChannelConfig<D> {
    /// Share of the channel's sending capacity, 0.01..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// The mode (agentless is the only one).
    pub outbound_mode: AgentlessOutboundMode,
    /// Sender and template unless a request overrides them.
    pub default_outbound_config: D,
}

/// The outbound mode of the channels without agents: a union of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AgentlessOutboundMode {
    /// Sent without agents.
    Agentless(AgentlessConfig),
}

/// The SMS channel.
pub type SmsChannelSubtypeConfig = AgentlessChannelConfig<SmsOutboundConfig>;
/// The email channel.
pub type EmailChannelSubtypeConfig = AgentlessChannelConfig<EmailOutboundConfig>;
/// The WhatsApp channel.
pub type WhatsAppChannelSubtypeConfig = AgentlessChannelConfig<WhatsAppOutboundConfig>;

/// Sender and template of SMS (and WhatsApp) messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsOutboundConfig {
    /// ARN of the Amazon Connect phone number that sends.
    pub connect_source_phone_number_arn: String,
    /// ARN of the message template.
    pub wisdom_template_arn: String,
}

/// WhatsApp's defaults have SMS's shape.
pub type WhatsAppOutboundConfig = SmsOutboundConfig;

/// Sender and template of emails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailOutboundConfig {
    /// The sending address.
    pub connect_source_email_address: String,
    /// Its display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_email_address_display_name: Option<String>,
    /// ARN of the message template.
    pub wisdom_template_arn: String,
}

/// When the campaign runs: nothing is dialed before `start_time`; at `end_time` a running
/// campaign completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Start.
    pub start_time: DateTime<Utc>,
    /// End.
    pub end_time: DateTime<Utc>,
    /// ISO 8601 duration between refreshes of a segment source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_frequency: Option<String>,
}

impl Schedule {
    /// Whether `now` is within the schedule (start inclusive, end exclusive).
    pub fn open_at(&self, now: DateTime<Utc>) -> bool {
        self.start_time <= now && now < self.end_time
    }
}

/// Where a campaign's recipients come from: a union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// A Customer Profiles segment.
    CustomerProfilesSegmentArn(String),
    /// Customer Profiles events.
    EventTrigger(EventTrigger),
}

/// An event-triggered source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTrigger {
    /// The Customer Profiles domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_profiles_domain_arn: Option<String>,
}

/// How often one recipient may enter the campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryLimitsConfig {
    /// At least 0.
    pub max_entry_count: i64,
    /// ISO 8601 duration.
    pub min_entry_interval: String,
}

/// When recipients may be contacted, per channel, in their local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationTimeConfig {
    /// Whose local time.
    pub local_time_zone_config: LocalTimeZoneConfig,
    /// Call windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephony: Option<TimeWindow>,
    /// SMS windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<TimeWindow>,
    /// Email windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<TimeWindow>,
    /// WhatsApp windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whats_app: Option<TimeWindow>,
}

/// The recipient's time zone: a default and how to detect it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalTimeZoneConfig {
    /// IANA name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_time_zone: Option<String>,
    /// `ZIP_CODE`, `AREA_CODE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_time_zone_detection: Option<Vec<String>>,
    /// `PRIMARY_ONLY`, `ALL_AVAILABLE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_time_zone_detection_scope: Option<String>,
}

/// Open hours and closed periods of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    /// When contact is allowed.
    pub open_hours: OpenHours,
    /// Dates when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restricted_periods: Option<RestrictedPeriods>,
}

/// Open hours: a union of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OpenHours {
    /// Ranges per day of the week (`MONDAY`..`SUNDAY`).
    DailyHours(BTreeMap<String, Vec<TimeRange>>),
}

/// A time range within a day, `THH:MM`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange {
    /// Start.
    pub start_time: String,
    /// End.
    pub end_time: String,
}

/// Closed periods: a union of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RestrictedPeriods {
    /// Periods of whole days.
    RestrictedPeriodList(Vec<RestrictedPeriod>),
}

/// A closed period, `YYYY-MM-DD` to `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestrictedPeriod {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First day.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
}

/// How often one recipient may be contacted (a campaign's override, or an instance's limits).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationLimitsConfig {
    /// Limits over all channels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_channel_subtypes: Option<CommunicationLimits>,
    /// `OPT_IN` or `OPT_OUT` of the instance's limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_limits_handling: Option<String>,
}

/// Limits: a union of one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CommunicationLimits {
    /// Up to two limits.
    CommunicationLimitsList(Vec<CommunicationLimit>),
}

/// At most `max_count_per_recipient` contacts per `frequency` `unit`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationLimit {
    /// At least 1.
    pub max_count_per_recipient: i64,
    /// 1..=30.
    pub frequency: i64,
    /// `DAY`.
    pub unit: String,
}

impl TelephonyChannelSubtypeConfig {
    /// The telephony channel of a v1 campaign.
    pub fn from_v1(dialer: &DialerConfig, call: &OutboundCallConfig) -> Self {
        let (outbound_mode, capacity) = match dialer {
            DialerConfig::ProgressiveDialerConfig(c) => (
                TelephonyOutboundMode::Progressive(ProgressiveConfig {
                    bandwidth_allocation: c.bandwidth_allocation,
                }),
                c.dialing_capacity,
            ),
            DialerConfig::PredictiveDialerConfig(c) => (
                TelephonyOutboundMode::Predictive(PredictiveConfig {
                    bandwidth_allocation: c.bandwidth_allocation,
                    pacing_strategies: None,
                }),
                c.dialing_capacity,
            ),
            DialerConfig::AgentlessDialerConfig(c) => (
                TelephonyOutboundMode::Agentless(AgentlessConfig {}),
                c.dialing_capacity,
            ),
        };
        Self {
            capacity,
            connect_queue_id: call.connect_queue_id.clone(),
            outbound_mode,
            default_outbound_config: TelephonyOutboundConfig {
                connect_contact_flow_id: call.connect_contact_flow_id.clone(),
                connect_source_phone_number: call.connect_source_phone_number.clone(),
                answer_machine_detection_config: call.answer_machine_detection_config.clone(),
                ring_timeout: None,
            },
        }
    }

    /// The v1 pacing mode: preview, which v1 lacks, is progressive at its bandwidth.
    pub fn dialer_config(&self) -> DialerConfig {
        let agent = |bandwidth_allocation| AgentDialerConfig {
            bandwidth_allocation,
            dialing_capacity: self.capacity,
        };
        match &self.outbound_mode {
            TelephonyOutboundMode::Progressive(c) => {
                DialerConfig::ProgressiveDialerConfig(agent(c.bandwidth_allocation))
            }
            TelephonyOutboundMode::Preview(c) => {
                DialerConfig::ProgressiveDialerConfig(agent(c.bandwidth_allocation))
            }
            TelephonyOutboundMode::Predictive(c) => {
                DialerConfig::PredictiveDialerConfig(agent(c.bandwidth_allocation))
            }
            TelephonyOutboundMode::Agentless(_) => {
                DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
                    dialing_capacity: self.capacity,
                })
            }
        }
    }

    /// The v1 call placement.
    pub fn outbound_call_config(&self) -> OutboundCallConfig {
        let call = &self.default_outbound_config;
        OutboundCallConfig {
            connect_contact_flow_id: call.connect_contact_flow_id.clone(),
            connect_source_phone_number: call.connect_source_phone_number.clone(),
            connect_queue_id: self.connect_queue_id.clone(),
            answer_machine_detection_config: call.answer_machine_detection_config.clone(),
        }
    }

    /// Applies a v1 UpdateCampaignDialerConfig: mode and capacity change; the pacing
    /// strategies of a predictive mode that stays predictive are kept.
    pub fn set_dialer_config(&mut self, dialer: &DialerConfig) {
        let strategies = match &self.outbound_mode {
            TelephonyOutboundMode::Predictive(c) => c.pacing_strategies.clone(),
            _ => None,
        };
        let call = self.outbound_call_config();
        let ring_timeout = self.default_outbound_config.ring_timeout;
        *self = Self::from_v1(dialer, &call);
        self.default_outbound_config.ring_timeout = ring_timeout;
        if let TelephonyOutboundMode::Predictive(c) = &mut self.outbound_mode {
            c.pacing_strategies = strategies;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::AnswerMachineDetectionConfig;
    use serde_json::json;

    fn call() -> OutboundCallConfig {
        OutboundCallConfig {
            connect_contact_flow_id: "flow".into(),
            connect_source_phone_number: Some("+15550100".into()),
            connect_queue_id: Some("queue".into()),
            answer_machine_detection_config: Some(AnswerMachineDetectionConfig {
                enable_answer_machine_detection: true,
                await_answer_machine_prompt: None,
            }),
        }
    }

    #[test]
    fn v1_round_trips_through_telephony() {
        for dialer in [
            DialerConfig::ProgressiveDialerConfig(AgentDialerConfig {
                bandwidth_allocation: 0.5,
                dialing_capacity: Some(0.2),
            }),
            DialerConfig::PredictiveDialerConfig(AgentDialerConfig {
                bandwidth_allocation: 1.0,
                dialing_capacity: None,
            }),
            DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
                dialing_capacity: Some(0.3),
            }),
        ] {
            let telephony = TelephonyChannelSubtypeConfig::from_v1(&dialer, &call());
            assert_eq!(telephony.dialer_config(), dialer);
            assert_eq!(telephony.outbound_call_config(), call());
        }
    }

    #[test]
    fn telephony_is_the_wire_shape() {
        let dialer = DialerConfig::ProgressiveDialerConfig(AgentDialerConfig {
            bandwidth_allocation: 0.5,
            dialing_capacity: Some(0.2),
        });
        let telephony = TelephonyChannelSubtypeConfig::from_v1(&dialer, &call());
        assert_eq!(
            serde_json::to_value(&telephony).unwrap(),
            json!({
                "capacity": 0.2,
                "connectQueueId": "queue",
                "outboundMode": {"progressive": {"bandwidthAllocation": 0.5}},
                "defaultOutboundConfig": {
                    "connectContactFlowId": "flow",
                    "connectSourcePhoneNumber": "+15550100",
                    "answerMachineDetectionConfig": {"enableAnswerMachineDetection": true}
                }
            })
        );
        let sms: ChannelSubtypeConfig = serde_json::from_value(json!({"sms": {
            "outboundMode": {"agentless": {}},
            "defaultOutboundConfig": {"connectSourcePhoneNumberArn": "arn:a", "wisdomTemplateArn": "arn:t"}
        }}))
        .unwrap();
        assert!(sms.has(crate::queue::Channel::Sms));
        assert!(!sms.has(crate::queue::Channel::Telephony));
    }

    #[test]
    fn preview_is_paced_progressive_and_v1_updates_keep_what_v1_cannot_say() {
        let mut telephony = TelephonyChannelSubtypeConfig::from_v1(
            &DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
                dialing_capacity: None,
            }),
            &call(),
        );
        telephony.outbound_mode = TelephonyOutboundMode::Preview(PreviewConfig {
            bandwidth_allocation: 0.7,
            timeout_config: TimeoutConfig {
                duration_in_seconds: 30,
            },
            agent_actions: None,
        });
        telephony.default_outbound_config.ring_timeout = Some(20);
        assert!(matches!(
            telephony.dialer_config(),
            DialerConfig::ProgressiveDialerConfig(AgentDialerConfig {
                bandwidth_allocation: 0.7,
                ..
            })
        ));
        telephony.set_dialer_config(&DialerConfig::AgentlessDialerConfig(
            AgentlessDialerConfig {
                dialing_capacity: Some(0.5),
            },
        ));
        assert_eq!(telephony.capacity, Some(0.5));
        assert_eq!(telephony.default_outbound_config.ring_timeout, Some(20));
        assert_eq!(telephony.connect_queue_id.as_deref(), Some("queue"));
    }
}
