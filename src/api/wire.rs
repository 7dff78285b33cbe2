//! Wire shapes of the connectcampaigns API and their validation against the service model.
//!
//! Requests are decoded into structs whose members are all optional, so that a missing
//! required member is reported like any other constraint, with the member's path, in the
//! AWS message format: `1 validation error detected: Value at 'name' failed to satisfy
//! constraint: Member must not be null`. Values are never echoed: some are personal data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::ApiError;
use crate::campaigns::{
    AgentDialerConfig, AgentlessDialerConfig, AnswerMachineDetectionConfig, DialerConfig,
    OutboundCallConfig,
};

/// Most items PutDialRequestBatch and GetCampaignStateBatch take.
pub const MAX_BATCH: usize = 25;

/// Constraint violations collected while validating one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    fn push(&mut self, path: &str, constraint: impl std::fmt::Display) {
        self.0.push(format!(
            "Value at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// A required member that is absent.
    pub fn required<T>(&mut self, path: &str, value: &Option<T>) {
        if value.is_none() {
            self.push(path, "Member must not be null");
        }
    }

    /// A string's length in characters.
    pub fn length(&mut self, path: &str, value: &str, min: usize, max: usize) {
        self.count(path, value.chars().count(), min, max);
    }

    /// A string made only of allowed characters (the model's character-class patterns).
    pub fn pattern(
        &mut self,
        path: &str,
        value: &str,
        pattern: &str,
        allowed: impl Fn(char) -> bool,
    ) {
        if !value.chars().all(allowed) {
            self.push(
                path,
                format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// A number within an inclusive range.
    pub fn range(&mut self, path: &str, value: f64, min: f64, max: f64) {
        if !value.is_finite() || value < min {
            self.push(
                path,
                format!("Member must have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.push(
                path,
                format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// A list's item count (or a string's length).
    pub fn count(&mut self, path: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.push(
                path,
                format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.push(
                path,
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A free-form violation.
    pub fn other(&mut self, path: &str, constraint: &str) {
        self.push(path, constraint);
    }

    /// `Ok` when nothing was violated, else a ValidationException listing every violation.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(ApiError::Validation(format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                self.0.join("; ")
            ))),
        }
    }
}

/// Decodes a JSON body; an empty body is an empty object (operations without a payload).
/// Type errors name the member's path.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ApiError::Validation(format!("Request body is not valid JSON: {inner}"))
        } else {
            ApiError::Validation(format!(
                "1 validation error detected: Value at '{path}' failed to satisfy constraint: {}",
                type_message(&inner)
            ))
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::Validation(format!("Request body is not valid JSON: {e}")))?;
    Ok(value)
}

fn type_message(error: &serde_json::Error) -> String {
    // serde's message quotes the offending value; keep only the expectation.
    let text = error.to_string();
    match text.find("expected") {
        Some(at) => {
            let expectation = &text[at..];
            let end = expectation.find(" at line").unwrap_or(expectation.len());
            format!("Member must be of the right type ({})", &expectation[..end])
        }
        None => "Member must be of the right type".to_string(),
    }
}

/// `[a-zA-Z0-9_\-.]*`: client tokens, instance ids, dial request ids.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// `[a-zA-Z0-9\-_]+`: attribute names.
pub fn is_attribute_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// `(?!aws:)[a-zA-Z+-=._:/]+`: tag keys. The class's `+-=` is a range from `+` to `=`,
/// which takes in `,`, `-`, `.`, `/`, digits, `:`, `;` and `<`.
pub fn is_tag_key_char(c: char) -> bool {
    c.is_ascii_alphabetic() || ('+'..='=').contains(&c) || matches!(c, '.' | '_' | ':' | '/')
}

/// Validates a campaign id path parameter (`CampaignId`: 0..256 non-space characters).
pub fn validate_campaign_id(v: &mut Violations, path: &str, id: &str) {
    v.length(path, id, 0, 256);
    v.pattern(path, id, "[\\S]*", |c| !c.is_whitespace());
}

/// Validates an instance id (`InstanceId`).
pub fn validate_instance_id(v: &mut Violations, path: &str, id: &str) {
    v.length(path, id, 0, 256);
    v.pattern(path, id, "[a-zA-Z0-9_\\-.]*", is_token_char);
}

/// Validates a tag map (`TagMap`).
pub fn validate_tags(v: &mut Violations, path: &str, tags: &BTreeMap<String, String>) {
    for (key, value) in tags {
        let key_path = format!("{path}.{key}");
        v.length(&format!("{path}.key"), key, 1, 128);
        v.pattern(
            &format!("{path}.key"),
            key,
            "(?!aws:)[a-zA-Z+-=._:/]+",
            is_tag_key_char,
        );
        if key.starts_with("aws:") {
            v.other(
                &format!("{path}.key"),
                "Member must not start with the reserved prefix aws:",
            );
        }
        v.length(&key_path, value, 0, 256);
    }
}

/// A timestamp as boto3 and the AWS CLI send it: ISO 8601 text (the model's format), or
/// epoch seconds as a number, which other SDKs use for restJson1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WireTimestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for WireTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Epoch(f64),
        }
        let invalid = || {
            serde::de::Error::custom(
                "expected an ISO 8601 timestamp such as 2026-01-01T00:00:00Z, or epoch seconds",
            )
        };
        match Raw::deserialize(deserializer).map_err(|_| invalid())? {
            Raw::Text(text) => parse_iso8601(&text).map(WireTimestamp).ok_or_else(invalid),
            Raw::Epoch(secs) if secs.is_finite() => {
                let whole = secs.floor();
                let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
                DateTime::from_timestamp(whole as i64, nanos)
                    .map(WireTimestamp)
                    .ok_or_else(invalid)
            }
            Raw::Epoch(_) => Err(invalid()),
        }
    }
}

fn parse_iso8601(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // "Timestamp with no UTC offset or timezone" per the docs: read it as UTC.
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| naive.and_utc())
}

/// `DialerConfig` as sent: a union, so exactly one member must be set.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireDialerConfig {
    progressive_dialer_config: Option<WireAgentDialerConfig>,
    predictive_dialer_config: Option<WireAgentDialerConfig>,
    agentless_dialer_config: Option<WireAgentlessDialerConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAgentDialerConfig {
    bandwidth_allocation: Option<f64>,
    dialing_capacity: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAgentlessDialerConfig {
    dialing_capacity: Option<f64>,
}

impl WireDialerConfig {
    /// Validates the union and its ranges; `None` when violations were recorded.
    pub fn validate(&self, v: &mut Violations, path: &str) -> Option<DialerConfig> {
        let set = [
            self.progressive_dialer_config.is_some(),
            self.predictive_dialer_config.is_some(),
            self.agentless_dialer_config.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            v.other(
                path,
                "Member is a union: exactly one of progressiveDialerConfig, predictiveDialerConfig, agentlessDialerConfig must be set",
            );
            return None;
        }
        let capacity = |v: &mut Violations, member: &str, value: Option<f64>| {
            if let Some(c) = value {
                v.range(&format!("{path}.{member}.dialingCapacity"), c, 0.01, 1.0);
            }
            value
        };
        let agent = |v: &mut Violations, member: &str, c: &WireAgentDialerConfig| {
            let bandwidth_path = format!("{path}.{member}.bandwidthAllocation");
            v.required(&bandwidth_path, &c.bandwidth_allocation);
            if let Some(b) = c.bandwidth_allocation {
                v.range(&bandwidth_path, b, 0.0, 1.0);
            }
            AgentDialerConfig {
                bandwidth_allocation: c.bandwidth_allocation.unwrap_or_default(),
                dialing_capacity: capacity(v, member, c.dialing_capacity),
            }
        };
        let before = v.0.len();
        let config = if let Some(c) = &self.progressive_dialer_config {
            DialerConfig::ProgressiveDialerConfig(agent(v, "progressiveDialerConfig", c))
        } else if let Some(c) = &self.predictive_dialer_config {
            DialerConfig::PredictiveDialerConfig(agent(v, "predictiveDialerConfig", c))
        } else {
            let c = self.agentless_dialer_config.as_ref()?;
            DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
                dialing_capacity: capacity(v, "agentlessDialerConfig", c.dialing_capacity),
            })
        };
        (v.0.len() == before).then_some(config)
    }
}

/// `AnswerMachineDetectionConfig` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAmdConfig {
    enable_answer_machine_detection: Option<bool>,
    await_answer_machine_prompt: Option<bool>,
}

impl WireAmdConfig {
    /// Validates the required flag.
    pub fn validate(&self, v: &mut Violations, path: &str) -> AnswerMachineDetectionConfig {
        v.required(
            &format!("{path}.enableAnswerMachineDetection"),
            &self.enable_answer_machine_detection,
        );
        AnswerMachineDetectionConfig {
            enable_answer_machine_detection: self.enable_answer_machine_detection.unwrap_or(false),
            await_answer_machine_prompt: self.await_answer_machine_prompt,
        }
    }
}

/// `OutboundCallConfig` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOutboundCallConfig {
    connect_contact_flow_id: Option<String>,
    connect_source_phone_number: Option<String>,
    connect_queue_id: Option<String>,
    answer_machine_detection_config: Option<WireAmdConfig>,
}

/// Validates the members shared by CreateCampaign and UpdateCampaignOutboundCallConfig.
pub fn validate_call_members(
    v: &mut Violations,
    flow: Option<&str>,
    source: Option<&str>,
    flow_path: &str,
    source_path: &str,
) {
    if let Some(flow) = flow {
        v.length(flow_path, flow, 0, 500);
    }
    if let Some(source) = source {
        v.length(source_path, source, 0, 100);
    }
}

impl WireOutboundCallConfig {
    /// Validates lengths and the required contact flow.
    pub fn validate(&self, v: &mut Violations, path: &str) -> OutboundCallConfig {
        let flow_path = format!("{path}.connectContactFlowId");
        v.required(&flow_path, &self.connect_contact_flow_id);
        validate_call_members(
            v,
            self.connect_contact_flow_id.as_deref(),
            self.connect_source_phone_number.as_deref(),
            &flow_path,
            &format!("{path}.connectSourcePhoneNumber"),
        );
        if let Some(queue) = &self.connect_queue_id {
            v.length(&format!("{path}.connectQueueId"), queue, 0, 500);
        }
        OutboundCallConfig {
            connect_contact_flow_id: self.connect_contact_flow_id.clone().unwrap_or_default(),
            connect_source_phone_number: self.connect_source_phone_number.clone(),
            connect_queue_id: self.connect_queue_id.clone(),
            answer_machine_detection_config: self
                .answer_machine_detection_config
                .as_ref()
                .map(|amd| amd.validate(v, &format!("{path}.answerMachineDetectionConfig"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_client_format() {
        let expected = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for text in [
            "\"2026-11-23T12:00:00Z\"",
            "\"2026-11-23T12:00:00+00:00\"",
            "\"2026-11-23T13:00:00+01:00\"",
            "\"2026-11-23T12:00:00\"",
            "\"2026-11-23T12:00:00.000000Z\"",
            "1795435200",
            "1795435200.0",
        ] {
            let parsed: WireTimestamp = serde_json::from_str(text).unwrap();
            assert_eq!(parsed.0, expected, "{text}");
        }
        assert!(serde_json::from_str::<WireTimestamp>("\"tomorrow\"").is_err());
        assert!(serde_json::from_str::<WireTimestamp>("true").is_err());
    }

    #[test]
    fn type_errors_name_the_member() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Vec<Inner>,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            count: Option<u32>,
        }
        let err = decode::<Outer>(br#"{"inner":[{"count":"x"}]}"#).unwrap_err();
        assert!(err.to_string().contains("'inner[0].count'"), "{err}");
        let err = decode::<Outer>(b"{not json").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn dialer_config_must_be_exactly_one_member() {
        let mut v = Violations::default();
        let both: WireDialerConfig = serde_json::from_str(
            r#"{"progressiveDialerConfig":{"bandwidthAllocation":1},"agentlessDialerConfig":{}}"#,
        )
        .unwrap();
        assert!(both.validate(&mut v, "dialerConfig").is_none());
        let none = WireDialerConfig::default();
        assert!(none.validate(&mut v, "dialerConfig").is_none());
        assert_eq!(v.0.len(), 2);
    }

    #[test]
    fn dialer_config_ranges_are_checked() {
        let mut v = Violations::default();
        let config: WireDialerConfig = serde_json::from_str(
            r#"{"predictiveDialerConfig":{"bandwidthAllocation":1.5,"dialingCapacity":0.001}}"#,
        )
        .unwrap();
        assert!(config.validate(&mut v, "dialerConfig").is_none());
        let message = v.finish().unwrap_err().to_string();
        assert!(message.contains("dialerConfig.predictiveDialerConfig.bandwidthAllocation"));
        assert!(message.contains("dialerConfig.predictiveDialerConfig.dialingCapacity"));
        assert!(message.starts_with("2 validation errors detected"));
    }

    #[test]
    fn tag_keys_follow_the_model() {
        let mut v = Violations::default();
        let tags: BTreeMap<String, String> = [
            ("team", "a"),
            ("cost-center/2", "b"),
            ("aws:reserved", "c"),
            ("bad key", "d"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        validate_tags(&mut v, "tags", &tags);
        assert_eq!(v.0.len(), 2, "{:?}", v.0);
    }
}
