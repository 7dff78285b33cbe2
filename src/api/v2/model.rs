//! The connectcampaignsv2 request shapes: every constraint the service model puts on an
//! operation's input (required members, unions, lengths, patterns, enums, ranges), as data
//! for [`super::schema`]. Written from the 2024-04-23 model, a statement per shape named
//! after it; shapes the model repeats under another name are that name for the first.
//! Members bound to the path or query string are validated by their handlers.

#![allow(missing_docs)]

use super::schema::{optional, required, Shape};

pub static ABANDONMENT_RATE_PACING_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("targetRate", &TARGET_RATE),
        required("connectionStartPoint", &CONNECTION_START_POINT),
        required("connectionThresholdSeconds", &ABANDONMENT_RATE_PACING_CONFIG_CONNECTION_THRESHOLD_SECONDS_INTEGER),
        required("evaluationWindow", &EVALUATION_WINDOW),
    ] };
pub static ABANDONMENT_RATE_PACING_CONFIG_CONNECTION_THRESHOLD_SECONDS_INTEGER: Shape = Shape::Int { min: Some(1), max: None };
pub static AGENTLESS_CONFIG: Shape = Shape::Struct { union: false, members: &[

    ] };
pub static AGENT_ACTION: Shape = Shape::Enum(&["DISCARD"]);
pub static AGENT_ACTIONS: Shape = Shape::List { member: &AGENT_ACTION, min: None, max: None };
pub static ANSWER_MACHINE_DETECTION_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("enableAnswerMachineDetection", &BOOLEAN),
        optional("awaitAnswerMachinePrompt", &BOOLEAN),
    ] };
pub static ARN: Shape = Shape::Str { min: Some(20), max: Some(500), pattern: Some(r#"arn:[a-zA-Z0-9-]+:[a-zA-Z0-9-]+:[a-z]{2}-[a-z]+-\d{1,2}:[a-zA-Z0-9-]+:[^:]+(?:/[^:]+)*(?:/[^:]+)?(?:\:[^:]+)?"#) };
pub static ATTRIBUTES: Shape = Shape::Map { key: &ATTRIBUTE_NAME, value: &ATTRIBUTE_VALUE, min: None, max: None };
pub static ATTRIBUTE_NAME: Shape = Shape::Str { min: Some(0), max: Some(32767), pattern: Some(r#"[a-zA-Z0-9\-_]+"#) };
pub static ATTRIBUTE_VALUE: Shape = Shape::Str { min: Some(0), max: Some(32767), pattern: Some(r#".*"#) };
pub static BANDWIDTH_ALLOCATION: Shape = Shape::Double { min: 0.0, max: 2.0 };
pub static BOOLEAN: Shape = Shape::Bool;
pub static BROWSER_ID: Shape = Shape::Str { min: Some(1), max: Some(36), pattern: None };
pub static CAMPAIGN_DELETION_POLICY: Shape = Shape::Enum(&["RETAIN_ALL", "DELETE_ALL"]);
pub static CAMPAIGN_FILTERS: Shape = Shape::Struct { union: false, members: &[
        optional("instanceIdFilter", &INSTANCE_ID_FILTER),
    ] };
pub static CAMPAIGN_ID: Shape = Shape::Str { min: Some(1), max: Some(256), pattern: Some(r#"[-:/a-zA-Z0-9]+"#) };
pub static CAMPAIGN_NAME: Shape = Shape::Str { min: Some(1), max: Some(127), pattern: None };
pub static CAPACITY: Shape = Shape::Double { min: 0.01, max: 1.0 };
pub static CHANNEL_CONTEXT: Shape = Shape::Struct { union: false, members: &[
        optional("webNotificationContext", &WEB_NOTIFICATION_CONTEXT),
    ] };
pub static CHANNEL_SUBTYPE: Shape = Shape::Enum(&["TELEPHONY", "SMS", "EMAIL", "WHATSAPP"]);
pub static CHANNEL_SUBTYPE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("telephony", &TELEPHONY_CHANNEL_SUBTYPE_CONFIG),
        optional("sms", &SMS_CHANNEL_SUBTYPE_CONFIG),
        optional("email", &EMAIL_CHANNEL_SUBTYPE_CONFIG),
        optional("whatsApp", &WHATS_APP_CHANNEL_SUBTYPE_CONFIG),
    ] };
pub static CHANNEL_SUBTYPE_PARAMETERS: Shape = Shape::Struct { union: true, members: &[
        optional("telephony", &TELEPHONY_CHANNEL_SUBTYPE_PARAMETERS),
        optional("sms", &SMS_CHANNEL_SUBTYPE_PARAMETERS),
        optional("email", &EMAIL_CHANNEL_SUBTYPE_PARAMETERS),
        optional("whatsApp", &WHATS_APP_CHANNEL_SUBTYPE_PARAMETERS),
    ] };
pub static CLIENT_TOKEN: Shape = Shape::Str { min: Some(0), max: Some(200), pattern: Some(r#"[a-zA-Z0-9_\-.]*"#) };
pub static COMMUNICATION_LIMIT: Shape = Shape::Struct { union: false, members: &[
        required("maxCountPerRecipient", &COMMUNICATION_LIMIT_MAX_COUNT_PER_RECIPIENT_INTEGER),
        required("frequency", &COMMUNICATION_LIMIT_FREQUENCY_INTEGER),
        required("unit", &COMMUNICATION_LIMIT_TIME_UNIT),
    ] };
pub static COMMUNICATION_LIMITS: Shape = Shape::Struct { union: true, members: &[
        optional("communicationLimitsList", &COMMUNICATION_LIMIT_LIST),
    ] };
pub static COMMUNICATION_LIMITS_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("allChannelSubtypes", &COMMUNICATION_LIMITS),
        optional("instanceLimitsHandling", &INSTANCE_LIMITS_HANDLING),
    ] };
pub static COMMUNICATION_LIMITS_CONFIG_TYPE: Shape = Shape::Enum(&["ALL_CHANNEL_SUBTYPES"]);
pub static COMMUNICATION_LIMIT_FREQUENCY_INTEGER: Shape = Shape::Int { min: Some(1), max: Some(30) };
pub static COMMUNICATION_LIMIT_LIST: Shape = Shape::List { member: &COMMUNICATION_LIMIT, min: Some(0), max: Some(2) };
pub static COMMUNICATION_LIMIT_TIME_UNIT: Shape = Shape::Enum(&["DAY"]);
pub static COMMUNICATION_TIME_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("localTimeZoneConfig", &LOCAL_TIME_ZONE_CONFIG),
        optional("telephony", &TIME_WINDOW),
        optional("sms", &TIME_WINDOW),
        optional("email", &TIME_WINDOW),
        optional("whatsApp", &TIME_WINDOW),
    ] };
pub static CONNECTION_START_POINT: Shape = Shape::Enum(&["CONNECTED_TO_SYSTEM", "GREETING_START", "GREETING_END"]);
pub static CONTACT_FLOW_ID: Shape = Shape::Str { min: Some(0), max: Some(500), pattern: None };
pub static CREATE_CAMPAIGN_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("name", &CAMPAIGN_NAME),
        required("connectInstanceId", &INSTANCE_ID),
        optional("channelSubtypeConfig", &CHANNEL_SUBTYPE_CONFIG),
        optional("type", &EXTERNAL_CAMPAIGN_TYPE),
        optional("source", &SOURCE),
        optional("connectCampaignFlowArn", &ARN),
        optional("schedule", &SCHEDULE),
        optional("entryLimitsConfig", &ENTRY_LIMITS_CONFIG),
        optional("communicationTimeConfig", &COMMUNICATION_TIME_CONFIG),
        optional("communicationLimitsOverride", &COMMUNICATION_LIMITS_CONFIG),
        optional("tags", &TAG_MAP),
    ] };
pub static CUSTOMER_PROFILES_INTEGRATION_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("domainArn", &ARN),
        required("objectTypeNames", &OBJECT_TYPE_NAMES_MAP),
    ] };
pub static CUSTOMER_PROFILES_INTEGRATION_IDENTIFIER: Shape = Shape::Struct { union: false, members: &[
        required("domainArn", &ARN),
    ] };
pub static DAILY_HOURS: Shape = Shape::Map { key: &DAY_OF_WEEK, value: &TIME_RANGE_LIST, min: None, max: None };
pub static DAY_OF_WEEK: Shape = Shape::Enum(&["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]);
pub static DELETE_CONNECT_INSTANCE_INTEGRATION_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("integrationIdentifier", &INTEGRATION_IDENTIFIER),
    ] };
pub static DESTINATION_PHONE_NUMBER: Shape = Shape::Str { min: Some(0), max: Some(20), pattern: Some(r#"[\d\-+]*"#) };
pub static EMAIL_ADDRESS: Shape = Shape::Str { min: Some(1), max: Some(255), pattern: Some(r#".*[^\s@]+@[^\s@]+\.[^\s@]+.*"#) };
pub static EMAIL_CHANNEL_SUBTYPE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("capacity", &CAPACITY),
        required("outboundMode", &EMAIL_OUTBOUND_MODE),
        required("defaultOutboundConfig", &EMAIL_OUTBOUND_CONFIG),
    ] };
pub static EMAIL_CHANNEL_SUBTYPE_PARAMETERS: Shape = Shape::Struct { union: false, members: &[
        required("destinationEmailAddress", &EMAIL_ADDRESS),
        optional("connectSourceEmailAddress", &EMAIL_ADDRESS),
        optional("templateArn", &ARN),
        required("templateParameters", &ATTRIBUTES),
    ] };
pub static EMAIL_DISPLAY_NAME: Shape = Shape::Str { min: Some(0), max: Some(256), pattern: None };
pub static EMAIL_OUTBOUND_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("connectSourceEmailAddress", &EMAIL_ADDRESS),
        optional("sourceEmailAddressDisplayName", &EMAIL_DISPLAY_NAME),
        required("wisdomTemplateArn", &ARN),
    ] };
pub static EMAIL_OUTBOUND_MODE: Shape = Shape::Struct { union: true, members: &[
        optional("agentless", &AGENTLESS_CONFIG),
    ] };
pub static ENTRY_LIMITS_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("maxEntryCount", &ENTRY_LIMITS_CONFIG_MAX_ENTRY_COUNT_INTEGER),
        required("minEntryInterval", &ISO8601_DURATION),
    ] };
pub static ENTRY_LIMITS_CONFIG_MAX_ENTRY_COUNT_INTEGER: Shape = Shape::Int { min: Some(0), max: None };
pub static EVALUATION_WINDOW: Shape = Shape::Str { min: Some(0), max: Some(5), pattern: Some(r#"PT([1-9]|1[0-9]|2[0-4])H"#) };
pub static EVENT_TRIGGER: Shape = Shape::Struct { union: false, members: &[
        optional("customerProfilesDomainArn", &ARN),
    ] };
pub static EVENT_TRIGGER_CONTEXT: Shape = Shape::Struct { union: false, members: &[
        optional("sourceEvent", &SOURCE_EVENT),
        optional("channelContext", &CHANNEL_CONTEXT),
    ] };
pub static EVENT_TYPE: Shape = Shape::Enum(&["Campaign-Email", "Campaign-SMS", "Campaign-Telephony", "Campaign-Orchestration", "Campaign-WhatsApp", "Campaign-WebNotification"]);
pub static EXTERNAL_CAMPAIGN_TYPE: Shape = Shape::Enum(&["MANAGED", "JOURNEY"]);
pub static GET_CAMPAIGN_STATE_BATCH_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("campaignIds", &GET_CAMPAIGN_STATE_BATCH_REQUEST_CAMPAIGN_IDS_LIST),
    ] };
pub static GET_CAMPAIGN_STATE_BATCH_REQUEST_CAMPAIGN_IDS_LIST: Shape = Shape::List { member: &CAMPAIGN_ID, min: Some(1), max: Some(25) };
pub static INSTANCE_COMMUNICATION_LIMITS_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("allChannelSubtypes", &COMMUNICATION_LIMITS),
    ] };
pub static INSTANCE_ID: Shape = Shape::Str { min: Some(1), max: Some(256), pattern: Some(r#"[-_.a-zA-Z0-9]+"#) };
pub static INSTANCE_ID_FILTER: Shape = Shape::Struct { union: false, members: &[
        required("value", &INSTANCE_ID),
        required("operator", &INSTANCE_ID_FILTER_OPERATOR),
    ] };
pub static INSTANCE_ID_FILTER_OPERATOR: Shape = Shape::Enum(&["Eq"]);
pub static INSTANCE_LIMITS_HANDLING: Shape = Shape::Enum(&["OPT_IN", "OPT_OUT"]);
pub static INTEGRATION_CONFIG: Shape = Shape::Struct { union: true, members: &[
        optional("customerProfiles", &CUSTOMER_PROFILES_INTEGRATION_CONFIG),
        optional("qConnect", &QCONNECT_INTEGRATION_CONFIG),
        optional("lambda", &LAMBDA_INTEGRATION_CONFIG),
    ] };
pub static INTEGRATION_IDENTIFIER: Shape = Shape::Struct { union: true, members: &[
        optional("customerProfiles", &CUSTOMER_PROFILES_INTEGRATION_IDENTIFIER),
        optional("qConnect", &QCONNECT_INTEGRATION_IDENTIFIER),
        optional("lambda", &LAMBDA_INTEGRATION_IDENTIFIER),
    ] };
pub static ISO8601_DATE: Shape = Shape::Str { min: None, max: None, pattern: Some(r#"\d{4}-\d{2}-\d{2}"#) };
pub static ISO8601_DURATION: Shape = Shape::Str { min: Some(0), max: Some(50), pattern: Some(r#"P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?"#) };
pub static ISO8601_TIME: Shape = Shape::Str { min: None, max: None, pattern: Some(r#"T\d{2}:\d{2}"#) };
pub static LAMBDA_ARN: Shape = Shape::Str { min: Some(1), max: Some(140), pattern: Some(r#"arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:function:([a-zA-Z0-9-_]+)(:([a-zA-Z0-9-_]+))?"#) };
pub static LAMBDA_INTEGRATION_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("functionArn", &LAMBDA_ARN),
    ] };
pub static LIST_CAMPAIGNS_REQUEST: Shape = Shape::Struct { union: false, members: &[
        optional("maxResults", &MAX_RESULTS),
        optional("nextToken", &NEXT_TOKEN),
        optional("filters", &CAMPAIGN_FILTERS),
    ] };
pub static LOCAL_TIME_ZONE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("defaultTimeZone", &TIME_ZONE),
        optional("localTimeZoneDetection", &LOCAL_TIME_ZONE_DETECTION),
        optional("localTimeZoneDetectionScope", &LOCAL_TIME_ZONE_DETECTION_SCOPE),
    ] };
pub static LOCAL_TIME_ZONE_DETECTION: Shape = Shape::List { member: &LOCAL_TIME_ZONE_DETECTION_TYPE, min: None, max: None };
pub static LOCAL_TIME_ZONE_DETECTION_SCOPE: Shape = Shape::Enum(&["PRIMARY_ONLY", "ALL_AVAILABLE"]);
pub static LOCAL_TIME_ZONE_DETECTION_TYPE: Shape = Shape::Enum(&["ZIP_CODE", "AREA_CODE"]);
pub static MAX_RESULTS: Shape = Shape::Int { min: Some(1), max: Some(50) };
pub static NEXT_TOKEN: Shape = Shape::Str { min: Some(0), max: Some(1000), pattern: None };
pub static OBJECT_TYPE_NAME: Shape = Shape::Str { min: Some(1), max: Some(255), pattern: None };
pub static OBJECT_TYPE_NAMES_MAP: Shape = Shape::Map { key: &EVENT_TYPE, value: &OBJECT_TYPE_NAME, min: None, max: None };
pub static OPEN_HOURS: Shape = Shape::Struct { union: true, members: &[
        optional("dailyHours", &DAILY_HOURS),
    ] };
pub static OUTBOUND_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("clientToken", &CLIENT_TOKEN),
        required("expirationTime", &TIME_STAMP),
        required("channelSubtypeParameters", &CHANNEL_SUBTYPE_PARAMETERS),
    ] };
pub static OUTBOUND_REQUEST_LIST: Shape = Shape::List { member: &OUTBOUND_REQUEST, min: Some(1), max: Some(25) };
pub static PACING_STRATEGY: Shape = Shape::Struct { union: true, members: &[
        optional("abandonmentRate", &ABANDONMENT_RATE_PACING_CONFIG),
    ] };
pub static PACING_STRATEGY_LIST: Shape = Shape::List { member: &PACING_STRATEGY, min: Some(1), max: Some(1) };
pub static PREDICTIVE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("bandwidthAllocation", &BANDWIDTH_ALLOCATION),
        optional("pacingStrategies", &PACING_STRATEGY_LIST),
    ] };
pub static PREVIEW_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("bandwidthAllocation", &BANDWIDTH_ALLOCATION),
        required("timeoutConfig", &TIMEOUT_CONFIG),
        optional("agentActions", &AGENT_ACTIONS),
    ] };
pub static PROFILE_ID: Shape = Shape::Str { min: None, max: None, pattern: Some(r#"[a-f0-9]{32}"#) };
pub static PROFILE_OUTBOUND_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("clientToken", &CLIENT_TOKEN),
        required("profileId", &PROFILE_ID),
        optional("expirationTime", &TIME_STAMP),
        optional("eventTriggerContext", &EVENT_TRIGGER_CONTEXT),
    ] };
pub static PROFILE_OUTBOUND_REQUEST_LIST: Shape = Shape::List { member: &PROFILE_OUTBOUND_REQUEST, min: Some(1), max: Some(20) };
pub static PROGRESSIVE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("bandwidthAllocation", &BANDWIDTH_ALLOCATION),
    ] };
pub static PUT_CONNECT_INSTANCE_INTEGRATION_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("integrationConfig", &INTEGRATION_CONFIG),
    ] };
pub static PUT_INSTANCE_COMMUNICATION_LIMITS_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("communicationLimitsConfig", &INSTANCE_COMMUNICATION_LIMITS_CONFIG),
    ] };
pub static PUT_OUTBOUND_REQUEST_BATCH_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("outboundRequests", &OUTBOUND_REQUEST_LIST),
    ] };
pub static PUT_PROFILE_OUTBOUND_REQUEST_BATCH_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("profileOutboundRequests", &PROFILE_OUTBOUND_REQUEST_LIST),
    ] };
pub static QCONNECT_INTEGRATION_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("knowledgeBaseArn", &ARN),
    ] };
pub static RESTRICTED_PERIOD: Shape = Shape::Struct { union: false, members: &[
        optional("name", &RESTRICTED_PERIOD_NAME),
        required("startDate", &ISO8601_DATE),
        required("endDate", &ISO8601_DATE),
    ] };
pub static RESTRICTED_PERIODS: Shape = Shape::Struct { union: true, members: &[
        optional("restrictedPeriodList", &RESTRICTED_PERIOD_LIST),
    ] };
pub static RESTRICTED_PERIOD_LIST: Shape = Shape::List { member: &RESTRICTED_PERIOD, min: None, max: None };
pub static RING_TIMEOUT: Shape = Shape::Int { min: Some(15), max: Some(60) };
pub static SCHEDULE: Shape = Shape::Struct { union: false, members: &[
        required("startTime", &TIME_STAMP),
        required("endTime", &TIME_STAMP),
        optional("refreshFrequency", &ISO8601_DURATION),
    ] };
pub static SMS_CHANNEL_SUBTYPE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("capacity", &CAPACITY),
        required("outboundMode", &SMS_OUTBOUND_MODE),
        required("defaultOutboundConfig", &SMS_OUTBOUND_CONFIG),
    ] };
pub static SMS_CHANNEL_SUBTYPE_PARAMETERS: Shape = Shape::Struct { union: false, members: &[
        required("destinationPhoneNumber", &DESTINATION_PHONE_NUMBER),
        optional("connectSourcePhoneNumberArn", &ARN),
        optional("templateArn", &ARN),
        required("templateParameters", &ATTRIBUTES),
    ] };
pub static SMS_OUTBOUND_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("connectSourcePhoneNumberArn", &ARN),
        required("wisdomTemplateArn", &ARN),
    ] };
pub static SOURCE: Shape = Shape::Struct { union: true, members: &[
        optional("customerProfilesSegmentArn", &ARN),
        optional("eventTrigger", &EVENT_TRIGGER),
    ] };
pub static SOURCE_EVENT: Shape = Shape::Str { min: Some(1), max: None, pattern: None };
pub static SOURCE_PHONE_NUMBER: Shape = Shape::Str { min: Some(0), max: Some(100), pattern: None };
pub static TAG_KEY: Shape = Shape::Str { min: Some(1), max: Some(128), pattern: Some(r#"(?!aws:)[a-zA-Z+-=._:/]+"#) };
pub static TAG_KEY_LIST: Shape = Shape::List { member: &TAG_KEY, min: Some(0), max: Some(50) };
pub static TAG_MAP: Shape = Shape::Map { key: &TAG_KEY, value: &TAG_VALUE, min: None, max: None };
pub static TAG_RESOURCE_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("tags", &TAG_MAP),
    ] };
pub static TARGET_RATE: Shape = Shape::Double { min: 0.0, max: 1.0 };
pub static TELEPHONY_CHANNEL_SUBTYPE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("capacity", &CAPACITY),
        optional("connectQueueId", &QUEUE_ID),
        required("outboundMode", &TELEPHONY_OUTBOUND_MODE),
        required("defaultOutboundConfig", &TELEPHONY_OUTBOUND_CONFIG),
    ] };
pub static TELEPHONY_CHANNEL_SUBTYPE_PARAMETERS: Shape = Shape::Struct { union: false, members: &[
        required("destinationPhoneNumber", &DESTINATION_PHONE_NUMBER),
        required("attributes", &ATTRIBUTES),
        optional("connectSourcePhoneNumber", &SOURCE_PHONE_NUMBER),
        optional("answerMachineDetectionConfig", &ANSWER_MACHINE_DETECTION_CONFIG),
        optional("ringTimeout", &RING_TIMEOUT),
    ] };
pub static TELEPHONY_OUTBOUND_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("connectContactFlowId", &CONTACT_FLOW_ID),
        optional("connectSourcePhoneNumber", &SOURCE_PHONE_NUMBER),
        optional("answerMachineDetectionConfig", &ANSWER_MACHINE_DETECTION_CONFIG),
        optional("ringTimeout", &RING_TIMEOUT),
    ] };
pub static TELEPHONY_OUTBOUND_MODE: Shape = Shape::Struct { union: true, members: &[
        optional("progressive", &PROGRESSIVE_CONFIG),
        optional("predictive", &PREDICTIVE_CONFIG),
        optional("agentless", &AGENTLESS_CONFIG),
        optional("preview", &PREVIEW_CONFIG),
    ] };
pub static TIMEOUT_CONFIG: Shape = Shape::Struct { union: false, members: &[
        required("durationInSeconds", &TIMEOUT_DURATION),
    ] };
pub static TIMEOUT_DURATION: Shape = Shape::Int { min: Some(1), max: Some(300) };
pub static TIME_RANGE: Shape = Shape::Struct { union: false, members: &[
        required("startTime", &ISO8601_TIME),
        required("endTime", &ISO8601_TIME),
    ] };
pub static TIME_RANGE_LIST: Shape = Shape::List { member: &TIME_RANGE, min: None, max: None };
pub static TIME_STAMP: Shape = Shape::Timestamp;
pub static TIME_WINDOW: Shape = Shape::Struct { union: false, members: &[
        required("openHours", &OPEN_HOURS),
        optional("restrictedPeriods", &RESTRICTED_PERIODS),
    ] };
pub static TIME_ZONE: Shape = Shape::Str { min: Some(0), max: Some(50), pattern: Some(r#"[a-zA-Z0-9_\-/]*"#) };
pub static UPDATE_CAMPAIGN_CHANNEL_SUBTYPE_CONFIG_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("channelSubtypeConfig", &CHANNEL_SUBTYPE_CONFIG),
    ] };
pub static UPDATE_CAMPAIGN_COMMUNICATION_LIMITS_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("communicationLimitsOverride", &COMMUNICATION_LIMITS_CONFIG),
    ] };
pub static UPDATE_CAMPAIGN_COMMUNICATION_TIME_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("communicationTimeConfig", &COMMUNICATION_TIME_CONFIG),
    ] };
pub static UPDATE_CAMPAIGN_ENTRY_LIMITS_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("entryLimitsConfig", &ENTRY_LIMITS_CONFIG),
    ] };
pub static UPDATE_CAMPAIGN_FLOW_ASSOCIATION_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("connectCampaignFlowArn", &ARN),
    ] };
pub static UPDATE_CAMPAIGN_NAME_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("name", &CAMPAIGN_NAME),
    ] };
pub static UPDATE_CAMPAIGN_SCHEDULE_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("schedule", &SCHEDULE),
    ] };
pub static UPDATE_CAMPAIGN_SOURCE_REQUEST: Shape = Shape::Struct { union: false, members: &[
        required("source", &SOURCE),
    ] };
pub static WEB_NOTIFICATION_CONTEXT: Shape = Shape::Struct { union: false, members: &[
        optional("sessionId", &SESSION_ID),
        optional("browserId", &BROWSER_ID),
    ] };
pub static WHATS_APP_CHANNEL_SUBTYPE_CONFIG: Shape = Shape::Struct { union: false, members: &[
        optional("capacity", &CAPACITY),
        required("outboundMode", &WHATS_APP_OUTBOUND_MODE),
        required("defaultOutboundConfig", &WHATS_APP_OUTBOUND_CONFIG),
    ] };

pub use self::ABANDONMENT_RATE_PACING_CONFIG_CONNECTION_THRESHOLD_SECONDS_INTEGER as COMMUNICATION_LIMIT_MAX_COUNT_PER_RECIPIENT_INTEGER;
pub use self::CHANNEL_SUBTYPE as COMMUNICATION_TIME_CONFIG_TYPE;
pub use self::LAMBDA_INTEGRATION_CONFIG as LAMBDA_INTEGRATION_IDENTIFIER;
pub use self::QCONNECT_INTEGRATION_CONFIG as QCONNECT_INTEGRATION_IDENTIFIER;
pub use self::CONTACT_FLOW_ID as QUEUE_ID;
pub use self::CAMPAIGN_NAME as RESTRICTED_PERIOD_NAME;
pub use self::BROWSER_ID as SESSION_ID;
pub use self::EMAIL_OUTBOUND_MODE as SMS_OUTBOUND_MODE;
pub use self::EMAIL_DISPLAY_NAME as TAG_VALUE;
pub use self::SMS_CHANNEL_SUBTYPE_PARAMETERS as WHATS_APP_CHANNEL_SUBTYPE_PARAMETERS;
pub use self::SMS_OUTBOUND_CONFIG as WHATS_APP_OUTBOUND_CONFIG;
pub use self::EMAIL_OUTBOUND_MODE as WHATS_APP_OUTBOUND_MODE;

/// Every pattern above, so that a test proves each one compiles.
#[cfg(test)]
pub static PATTERNS: &[&str] = &[
    r#"arn:[a-zA-Z0-9-]+:[a-zA-Z0-9-]+:[a-z]{2}-[a-z]+-\d{1,2}:[a-zA-Z0-9-]+:[^:]+(?:/[^:]+)*(?:/[^:]+)?(?:\:[^:]+)?"#,
    r#"[a-zA-Z0-9\-_]+"#,
    r#".*"#,
    r#"[-:/a-zA-Z0-9]+"#,
    r#"[a-zA-Z0-9_\-.]*"#,
    r#"[\d\-+]*"#,
    r#".*[^\s@]+@[^\s@]+\.[^\s@]+.*"#,
    r#"PT([1-9]|1[0-9]|2[0-4])H"#,
    r#"[-_.a-zA-Z0-9]+"#,
    r#"\d{4}-\d{2}-\d{2}"#,
    r#"P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?"#,
    r#"T\d{2}:\d{2}"#,
    r#"arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:function:([a-zA-Z0-9-_]+)(:([a-zA-Z0-9-_]+))?"#,
    r#"[a-f0-9]{32}"#,
    r#"(?!aws:)[a-zA-Z+-=._:/]+"#,
    r#"[a-zA-Z0-9_\-/]*"#,
];
