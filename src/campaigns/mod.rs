//! Campaigns: their configuration, their lifecycle state machine, and their ARNs.
//!
//! A campaign is created `Initialized`; `Start` makes it `Running`; `Pause`/`Resume` move it
//! between `Running` and `Paused`; `Stop` ends it (`Stopped` is terminal, as is `Failed`).
//! The transition rules live in [`CampaignState::apply`] and nowhere else; the store applies
//! them under a row lock so concurrent commands cannot race past each other. A v2 campaign
//! with a schedule becomes `Completed` (terminal) once its end time passes while it runs or
//! is paused; the queue's sweeper does it ([`store::campaign_complete_due`]).
//!
//! The settings are the v2 ones ([`channels`]); the v1 dialerConfig/outboundCallConfig are a
//! view of the telephony channel ([`Campaign::dialer_config`]).

pub mod channels;
pub mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::AccountId;
use crate::queue::Channel;

/// Lifecycle state of a campaign, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "campaign_state")]
pub enum CampaignState {
    /// Created, not yet started.
    Initialized,
    /// Dialing.
    Running,
    /// No new dials; calls in progress finish.
    Paused,
    /// Ended by the user; pending requests are cancelled.
    Stopped,
    /// Ended by the system.
    Failed,
    /// Ended by its schedule (v2). v1 has no such state and reads it as `Stopped`.
    Completed,
}

/// A state-changing command on a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// StartCampaign.
    Start,
    /// PauseCampaign.
    Pause,
    /// ResumeCampaign.
    Resume,
    /// StopCampaign.
    Stop,
}

/// A command that the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {command:?} a campaign in state {state:?}")]
pub struct IllegalTransition {
    /// The state the campaign is in.
    pub state: CampaignState,
    /// The refused command.
    pub command: Command,
}

impl CampaignState {
    /// The state after `command`, or why it is not allowed.
    pub fn apply(self, command: Command) -> Result<CampaignState, IllegalTransition> {
        use CampaignState::*;
        match (self, command) {
            (Initialized, Command::Start) => Ok(Running),
            (Running, Command::Pause) => Ok(Paused),
            (Paused, Command::Resume) => Ok(Running),
            (Initialized | Running | Paused, Command::Stop) => Ok(Stopped),
            (state, command) => Err(IllegalTransition { state, command }),
        }
    }

    /// The states a campaign never leaves, in which it takes no requests and dials nothing.
    pub const ENDED: [CampaignState; 3] = [
        CampaignState::Stopped,
        CampaignState::Failed,
        CampaignState::Completed,
    ];

    /// Whether the campaign still takes dial requests.
    pub fn accepts_dial_requests(self) -> bool {
        !Self::ENDED.contains(&self)
    }

    /// [`Self::ENDED`] as an SQL list, `('Stopped', ...)`, for the store's guards.
    pub fn ended_sql() -> String {
        let states: Vec<String> = Self::ENDED
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", states.join(", "))
    }

    /// The state as v1 tells it: v1's enum has no `Completed`, which is an ended campaign
    /// there like a stopped one.
    pub fn in_v1(self) -> CampaignState {
        match self {
            CampaignState::Completed => CampaignState::Stopped,
            other => other,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Initialized => "Initialized",
            CampaignState::Running => "Running",
            CampaignState::Paused => "Paused",
            CampaignState::Stopped => "Stopped",
            CampaignState::Failed => "Failed",
            CampaignState::Completed => "Completed",
        }
    }
}

/// How a campaign paces its dials: exactly one of the three modes of the wire union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DialerConfig {
    /// One dial per free agent (times the bandwidth share).
    ProgressiveDialerConfig(AgentDialerConfig),
    /// Dials ahead of free agents from measured answer rates.
    PredictiveDialerConfig(AgentDialerConfig),
    /// No agents; bounded by line capacity.
    AgentlessDialerConfig(AgentlessDialerConfig),
}

/// Settings of the agent-based modes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentDialerConfig {
    /// Share of the queue's agents this campaign may use, 0..=1.
    pub bandwidth_allocation: f64,
    /// Share of the dialer's lines this campaign may use, 0.01..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialing_capacity: Option<f64>,
}

/// Settings of the agentless mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentlessDialerConfig {
    /// Share of the dialer's lines this campaign may use, 0.01..=1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialing_capacity: Option<f64>,
}

/// Answering-machine detection for a campaign's calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerMachineDetectionConfig {
    /// Machines are detected and never reach agents.
    pub enable_answer_machine_detection: bool,
    /// Wait for the machine's prompt before playing the flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub await_answer_machine_prompt: Option<bool>,
}

/// How the campaign's calls are placed in the contact center.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundCallConfig {
    /// The contact flow that runs the call.
    pub connect_contact_flow_id: String,
    /// Caller id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_source_phone_number: Option<String>,
    /// The queue whose agents take the calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_queue_id: Option<String>,
    /// Answering-machine detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_machine_detection_config: Option<AnswerMachineDetectionConfig>,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// Campaign id (a UUID).
    pub id: String,
    /// `arn:aws:connect-campaigns:REGION:ACCOUNT:campaign/ID`.
    pub arn: String,
    /// Display name.
    pub name: String,
    /// The Amazon Connect instance the campaign dials through.
    pub connect_instance_id: String,
    /// Channels, schedule, limits: the v2 settings.
    pub settings: CampaignSettings,
    /// Resource tags.
    pub tags: BTreeMap<String, String>,
    /// Lifecycle state.
    pub state: CampaignState,
    /// When the campaign last changed.
    pub last_modified_time: DateTime<Utc>,
}

impl Campaign {
    /// The v1 pacing mode, `None` when the campaign has no telephony channel.
    pub fn dialer_config(&self) -> Option<DialerConfig> {
        self.telephony()
            .map(channels::TelephonyChannelSubtypeConfig::dialer_config)
    }

    /// The v1 call placement, `None` when the campaign has no telephony channel.
    pub fn outbound_call_config(&self) -> Option<OutboundCallConfig> {
        self.telephony()
            .map(channels::TelephonyChannelSubtypeConfig::outbound_call_config)
    }

    /// The telephony channel.
    pub fn telephony(&self) -> Option<&channels::TelephonyChannelSubtypeConfig> {
        self.settings.channel_subtype_config.telephony.as_ref()
    }
}

/// The v2 settings of a campaign, each as on the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignSettings {
    /// Channels.
    pub channel_subtype_config: channels::ChannelSubtypeConfig,
    /// `MANAGED` or `JOURNEY`.
    pub campaign_type: Option<String>,
    /// Where recipients come from.
    pub source: Option<channels::Source>,
    /// The campaign's flow.
    pub connect_campaign_flow_arn: Option<String>,
    /// When it may dial.
    pub schedule: Option<channels::Schedule>,
    /// How often one recipient may enter.
    pub entry_limits_config: Option<channels::EntryLimitsConfig>,
    /// When recipients may be contacted.
    pub communication_time_config: Option<channels::CommunicationTimeConfig>,
    /// How often recipients may be contacted.
    pub communication_limits_override: Option<channels::CommunicationLimitsConfig>,
}

impl CampaignSettings {
    /// The settings of a v1 campaign: a telephony channel and nothing else.
    pub fn v1(dialer: &DialerConfig, call: &OutboundCallConfig) -> Self {
        Self {
            channel_subtype_config: channels::ChannelSubtypeConfig {
                telephony: Some(channels::TelephonyChannelSubtypeConfig::from_v1(
                    dialer, call,
                )),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// What CreateCampaign stores.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// Display name.
    pub name: String,
    /// Instance id.
    pub connect_instance_id: String,
    /// Channels and the rest.
    pub settings: CampaignSettings,
    /// Resource tags.
    pub tags: BTreeMap<String, String>,
}

/// A change to a campaign's settings.
#[derive(Debug, Clone)]
pub enum CampaignUpdate {
    /// UpdateCampaignName.
    Name(String),
    /// v1 UpdateCampaignDialerConfig: the telephony channel's mode and capacity.
    DialerConfig(DialerConfig),
    /// v1 UpdateCampaignOutboundCallConfig: only the members given change.
    OutboundCallConfig {
        /// New contact flow.
        connect_contact_flow_id: Option<String>,
        /// New caller id.
        connect_source_phone_number: Option<String>,
        /// New AMD setting.
        answer_machine_detection_config: Option<AnswerMachineDetectionConfig>,
    },
    /// UpdateCampaignChannelSubtypeConfig: each channel given replaces the stored one; the
    /// others stay.
    Channels(channels::ChannelSubtypeConfig),
    /// DeleteCampaignChannelSubtypeConfig.
    RemoveChannel(Channel),
    /// UpdateCampaignCommunicationLimits.
    CommunicationLimits(channels::CommunicationLimitsConfig),
    /// DeleteCampaignCommunicationLimits (`ALL_CHANNEL_SUBTYPES`, the only kind).
    RemoveCommunicationLimits,
    /// UpdateCampaignCommunicationTime.
    CommunicationTime(channels::CommunicationTimeConfig),
    /// DeleteCampaignCommunicationTime: one channel's window.
    RemoveCommunicationTime(Channel),
    /// UpdateCampaignEntryLimits.
    EntryLimits(channels::EntryLimitsConfig),
    /// DeleteCampaignEntryLimits.
    RemoveEntryLimits,
    /// UpdateCampaignFlowAssociation.
    FlowAssociation(String),
    /// UpdateCampaignSchedule.
    Schedule(channels::Schedule),
    /// UpdateCampaignSource.
    Source(channels::Source),
}

/// Why an update does not apply to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpdateRefused {
    /// A v1 call setting on a campaign without a telephony channel.
    #[error("it has no telephony channel; configure one with UpdateCampaignChannelSubtypeConfig")]
    NoTelephony,
}

impl CampaignUpdate {
    /// Applies the change to `campaign`.
    pub fn apply(self, campaign: &mut Campaign) -> Result<(), UpdateRefused> {
        let settings = &mut campaign.settings;
        let channels = &mut settings.channel_subtype_config;
        match self {
            CampaignUpdate::Name(name) => campaign.name = name,
            CampaignUpdate::DialerConfig(config) => channels
                .telephony
                .as_mut()
                .ok_or(UpdateRefused::NoTelephony)?
                .set_dialer_config(&config),
            CampaignUpdate::OutboundCallConfig {
                connect_contact_flow_id,
                connect_source_phone_number,
                answer_machine_detection_config,
            } => {
                let call = &mut channels
                    .telephony
                    .as_mut()
                    .ok_or(UpdateRefused::NoTelephony)?
                    .default_outbound_config;
                if let Some(flow) = connect_contact_flow_id {
                    call.connect_contact_flow_id = flow;
                }
                if let Some(number) = connect_source_phone_number {
                    call.connect_source_phone_number = Some(number);
                }
                if let Some(amd) = answer_machine_detection_config {
                    call.answer_machine_detection_config = Some(amd);
                }
            }
            CampaignUpdate::Channels(given) => {
                let channels::ChannelSubtypeConfig {
                    telephony,
                    sms,
                    email,
                    whats_app,
                } = given;
                channels.telephony = telephony.or(channels.telephony.take());
                channels.sms = sms.or(channels.sms.take());
                channels.email = email.or(channels.email.take());
                channels.whats_app = whats_app.or(channels.whats_app.take());
            }
            CampaignUpdate::RemoveChannel(channel) => match channel {
                Channel::Telephony => channels.telephony = None,
                Channel::Sms => channels.sms = None,
                Channel::Email => channels.email = None,
                Channel::WhatsApp => channels.whats_app = None,
            },
            CampaignUpdate::CommunicationLimits(limits) => {
                settings.communication_limits_override = Some(limits)
            }
            CampaignUpdate::RemoveCommunicationLimits => {
                settings.communication_limits_override = None
            }
            CampaignUpdate::CommunicationTime(time) => {
                settings.communication_time_config = Some(time)
            }
            CampaignUpdate::RemoveCommunicationTime(channel) => {
                if let Some(time) = &mut settings.communication_time_config {
                    match channel {
                        Channel::Telephony => time.telephony = None,
                        Channel::Sms => time.sms = None,
                        Channel::Email => time.email = None,
                        Channel::WhatsApp => time.whats_app = None,
                    }
                }
            }
            CampaignUpdate::EntryLimits(limits) => settings.entry_limits_config = Some(limits),
            CampaignUpdate::RemoveEntryLimits => settings.entry_limits_config = None,
            CampaignUpdate::FlowAssociation(arn) => settings.connect_campaign_flow_arn = Some(arn),
            CampaignUpdate::Schedule(schedule) => settings.schedule = Some(schedule),
            CampaignUpdate::Source(source) => settings.source = Some(source),
        }
        Ok(())
    }
}

/// Builds and reads campaign ARNs of one region: `arn:aws:connect-campaigns:REGION:ACCOUNT:campaign/ID`,
/// where ACCOUNT is the account that owns the campaign.
#[derive(Debug, Clone)]
pub struct ArnScheme {
    /// Everything before the account.
    prefix: String,
}

/// The separator between the account and the campaign id.
const ARN_RESOURCE: &str = ":campaign/";

impl ArnScheme {
    /// ARNs in `region`.
    pub fn new(region: &str) -> Self {
        Self {
            prefix: format!("arn:aws:connect-campaigns:{region}:"),
        }
    }

    /// The ARN of campaign `id` of `account`.
    pub fn campaign_arn(&self, account: &AccountId, id: &str) -> String {
        format!("{}{account}{ARN_RESOURCE}{id}", self.prefix)
    }

    /// The owning account named by a campaign ARN of this scheme; `None` when `arn` is not
    /// one (another service, region or resource type, or no valid account or id).
    pub fn campaign_account(&self, arn: &str) -> Option<AccountId> {
        let (account, id) = arn
            .strip_prefix(self.prefix.as_str())?
            .split_once(ARN_RESOURCE)?;
        if id.is_empty() {
            return None;
        }
        AccountId::parse(account).ok()
    }
}

/// Failures of campaign operations.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// No campaign has that id.
    #[error("campaign {0} not found")]
    NotFound(String),
    /// The command is not allowed in the campaign's state.
    #[error("{0}")]
    IllegalTransition(#[from] IllegalTransition),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored document could not be read back.
    #[error("stored campaign {id} is unreadable: {source}")]
    Corrupt {
        /// Campaign id.
        id: String,
        /// Decoding error.
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use CampaignState::*;

    #[test]
    fn lifecycle_follows_the_documented_machine() {
        assert_eq!(Initialized.apply(Command::Start), Ok(Running));
        assert_eq!(Running.apply(Command::Pause), Ok(Paused));
        assert_eq!(Paused.apply(Command::Resume), Ok(Running));
        for state in [Initialized, Running, Paused] {
            assert_eq!(state.apply(Command::Stop), Ok(Stopped));
        }
    }

    #[test]
    fn illegal_transitions_name_the_state() {
        let refused = [
            (Initialized, Command::Pause),
            (Initialized, Command::Resume),
            (Running, Command::Start),
            (Running, Command::Resume),
            (Paused, Command::Start),
            (Paused, Command::Pause),
            (Stopped, Command::Start),
            (Stopped, Command::Stop),
            (Failed, Command::Resume),
            (Failed, Command::Stop),
        ];
        for (state, command) in refused {
            let err = state.apply(command).unwrap_err();
            assert_eq!(err.state, state);
        }
    }

    #[test]
    fn only_ended_campaigns_refuse_dial_requests() {
        assert!(Initialized.accepts_dial_requests());
        assert!(Paused.accepts_dial_requests());
        assert!(!Stopped.accepts_dial_requests());
        assert!(!Failed.accepts_dial_requests());
        assert!(!Completed.accepts_dial_requests());
    }

    #[test]
    fn completed_is_terminal_and_stopped_in_v1() {
        for command in [
            Command::Start,
            Command::Pause,
            Command::Resume,
            Command::Stop,
        ] {
            assert!(Completed.apply(command).is_err());
        }
        assert_eq!(Completed.in_v1(), Stopped);
        assert_eq!(Running.in_v1(), Running);
        assert_eq!(
            CampaignState::ended_sql(),
            "('Stopped', 'Failed', 'Completed')"
        );
    }

    #[test]
    fn dialer_config_is_the_wire_union() {
        let config = DialerConfig::PredictiveDialerConfig(AgentDialerConfig {
            bandwidth_allocation: 0.5,
            dialing_capacity: None,
        });
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"predictiveDialerConfig": {"bandwidthAllocation": 0.5}})
        );
        assert_eq!(
            serde_json::from_value::<DialerConfig>(json).unwrap(),
            config
        );
    }

    #[test]
    fn arn_names_the_owning_account() {
        let scheme = ArnScheme::new("eu-west-1");
        let owner = AccountId::parse("111122223333").unwrap();
        let arn = scheme.campaign_arn(&owner, "abc");
        assert_eq!(
            arn,
            "arn:aws:connect-campaigns:eu-west-1:111122223333:campaign/abc"
        );
        assert_eq!(scheme.campaign_account(&arn), Some(owner));
        for foreign in [
            "arn:aws:connect-campaigns:eu-west-1:1:campaign/abc",
            "arn:aws:connect-campaigns:us-east-1:111122223333:campaign/abc",
            "arn:aws:connect-campaigns:eu-west-1:111122223333:campaign/",
            "arn:aws:connect-campaigns:eu-west-1:111122223333:queue/abc",
            "arn:aws:connect:eu-west-1:111122223333:campaign/abc",
        ] {
            assert_eq!(scheme.campaign_account(foreign), None, "{foreign}");
        }
    }
}
