//! Wire shapes of the connectcampaigns API and their validation against the service model.
//!
//! Requests are decoded into structs whose members are all optional, so that a missing
//! required member is reported like any other constraint, with the member's path, in the
//! AWS message format: `1 validation error detected: Value at 'name' failed to satisfy
//! constraint: Member must not be null`. Values are never echoed: some are personal data.
//!
//! Two limits of the storage apply to every member, whatever the model says, so they are
//! checked here once rather than in each handler: PostgreSQL stores no U+0000 in `text` or
//! `jsonb` ([`is_storable`]; bodies in [`decode`], path labels and query strings in
//! [`validate_uri`]), and timestamps are kept to years 0001-9999 ([`WireTimestamp`]). Either
//! would otherwise reach the database and fail there as an internal error.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

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

/// The constraint every string member meets, names of map entries included.
const STORABLE: &str = "Member must not contain the character U+0000";

/// Whether PostgreSQL can store `text`: it refuses U+0000 in `text` and `jsonb` and takes
/// every other character.
pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Decodes a JSON body; an empty body is an empty object (operations without a payload).
/// Type errors name the member's path, and so does a string that is not [storable]
/// (`is_storable`) anywhere in the body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    decode_except(body, |_| false)
}

/// [`decode`], except that unstorable strings at paths `item_scoped` accepts are let through
/// for the handler to fail per item (PutDialRequestBatch's attributes).
pub fn decode_except<T: DeserializeOwned>(
    body: &[u8],
    item_scoped: impl Fn(&str) -> bool,
) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    // JSON can carry U+0000 only as the escape `\u0000` (a raw control byte is a syntax
    // error), so bodies without it, nearly all of them, skip the second parse.
    if body.windows(6).any(|w| w == br"\u0000") {
        if let Ok(tree) = serde_json::from_slice::<Value>(body) {
            let mut paths = Vec::new();
            unstorable_members(&tree, "", &mut paths);
            let mut v = Violations::default();
            for path in paths.iter().filter(|p| !item_scoped(p)) {
                v.push(path, STORABLE);
            }
            v.finish()?;
        }
    }
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

/// Collects the paths of strings in `value` that PostgreSQL cannot store, in the AWS path
/// format (`dialRequests.1.member.attributes.name`). A name that is itself unstorable is
/// reported as its map's `key`, so the message never carries the character.
fn unstorable_members(value: &Value, path: &str, out: &mut Vec<String>) {
    let join = |segment: &str| {
        if path.is_empty() {
            segment.to_string()
        } else {
            format!("{path}.{segment}")
        }
    };
    match value {
        Value::String(text) if !is_storable(text) => out.push(path.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                unstorable_members(item, &join(&format!("{}.member", i + 1)), out);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                if is_storable(name) {
                    unstorable_members(member, &join(name), out);
                } else {
                    out.push(join("key"));
                }
            }
        }
        _ => {}
    }
}

/// Checks the path labels and query string of a request as received (still
/// percent-encoded): each must decode to UTF-8 text PostgreSQL can store. `route` is the
/// matched route (`/campaigns/{id}`), whose `{label}` segments name the members.
pub fn validate_uri(v: &mut Violations, route: &str, path: &str, query: Option<&str>) {
    let decoded = |raw: &str| {
        percent_decode_str(raw)
            .decode_utf8()
            .map(|t| t.into_owned())
    };
    let mut check = |member: &str, raw: &str| match decoded(raw) {
        Ok(text) if is_storable(&text) => {}
        Ok(_) => v.push(member, STORABLE),
        Err(_) => v.push(member, "Member must be percent-encoded UTF-8"),
    };
    for (pattern, raw) in route.split('/').zip(path.split('/')) {
        if let Some(label) = pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            check(label, raw);
        }
    }
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.replace('+', " ");
        match decoded(&name) {
            Ok(member) if is_storable(&member) => check(&member, &value.replace('+', " ")),
            _ => check("queryString", &name),
        }
    }
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
///
/// A well-formed timestamp outside years 0001-9999 decodes to [`WireTimestamp::OutOfRange`]
/// rather than failing the body, so that the handler decides what it fails (one item of a
/// batch). The range is what four-digit ISO 8601 years write, well inside PostgreSQL's
/// (4713 BC to 294276 AD) and chrono's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireTimestamp {
    /// A time within the range.
    At(DateTime<Utc>),
    /// A time before 0001-01-01 or after 9999-12-31 (UTC).
    OutOfRange,
}

/// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch seconds: the accepted range.
const EPOCH_SECS_MIN: f64 = -62_135_596_800.0;
const EPOCH_SECS_END: f64 = 253_402_300_800.0;

impl WireTimestamp {
    fn within(secs: f64) -> bool {
        (EPOCH_SECS_MIN..EPOCH_SECS_END).contains(&secs)
    }

    fn checked(at: DateTime<Utc>) -> Self {
        if Self::within(at.timestamp() as f64) {
            WireTimestamp::At(at)
        } else {
            WireTimestamp::OutOfRange
        }
    }

    fn from_epoch(secs: f64) -> Self {
        if !Self::within(secs) {
            return WireTimestamp::OutOfRange;
        }
        let whole = secs.floor();
        let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
        DateTime::from_timestamp(whole as i64, nanos).map_or(WireTimestamp::OutOfRange, Self::At)
    }

    /// The time, when it is within the range.
    pub fn in_range(self) -> Option<DateTime<Utc>> {
        match self {
            WireTimestamp::At(at) => Some(at),
            WireTimestamp::OutOfRange => None,
        }
    }
}

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
            Raw::Text(text) => parse_iso8601(&text)
                .map(WireTimestamp::checked)
                .ok_or_else(invalid),
            Raw::Epoch(secs) if secs.is_finite() => Ok(WireTimestamp::from_epoch(secs)),
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
            assert_eq!(parsed, WireTimestamp::At(expected), "{text}");
        }
        assert!(serde_json::from_str::<WireTimestamp>("\"tomorrow\"").is_err());
        assert!(serde_json::from_str::<WireTimestamp>("true").is_err());
    }

    #[test]
    fn timestamps_outside_years_1_to_9999_are_out_of_range() {
        for text in [
            "-3e11",
            "3e11",
            "1e300",
            "-62135596801",
            "253402300800",
            "\"0000-12-31T23:59:59Z\"",
            "\"9999-12-31T23:00:00-05:00\"",
        ] {
            let parsed: WireTimestamp = serde_json::from_str(text).unwrap();
            assert_eq!(parsed, WireTimestamp::OutOfRange, "{text}");
        }
        for text in ["-62135596800", "253402300799.5", "\"9999-12-31T23:59:59Z\""] {
            let parsed: WireTimestamp = serde_json::from_str(text).unwrap();
            assert!(parsed.in_range().is_some(), "{text}");
        }
    }

    #[test]
    fn nul_anywhere_in_a_body_names_the_member_not_the_value() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Body {
            name: Option<String>,
            tags: Option<BTreeMap<String, String>>,
            ids: Option<Vec<String>>,
        }
        let body =
            br#"{"name":"a\u0000b","tags":{"k\u0000":"v","t":"x\u0000"},"ids":["ok","\u0000"]}"#;
        let message = decode::<Body>(body).unwrap_err().to_string();
        assert!(
            message.starts_with("4 validation errors detected"),
            "{message}"
        );
        for path in ["'name'", "'tags.key'", "'tags.t'", "'ids.2.member'"] {
            assert!(message.contains(path), "{path} in {message}");
        }
        assert!(
            !message.contains('\0') && !message.contains("a\\u0000b"),
            "{message}"
        );
        // An escaped backslash followed by "u0000" is not a NUL.
        assert!(decode::<Body>(br#"{"name":"\\u0000"}"#).is_ok());
        let scoped =
            decode_except::<Body>(br#"{"tags":{"t":"\u0000"}}"#, |p| p.starts_with("tags."));
        assert!(scoped.is_ok());
    }

    #[test]
    fn uri_labels_and_query_must_be_storable_utf8() {
        let check = |path: &str, query: Option<&str>| {
            let mut v = Violations::default();
            validate_uri(
                &mut v,
                "/campaigns/{id}/dial-requests/{dialRequestId}",
                path,
                query,
            );
            v.0
        };
        assert!(check("/campaigns/abc/dial-requests/d-1", Some("a=%C3%A9&b")).is_empty());
        let bad = check("/campaigns/%FF/dial-requests/%00", None);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(
            bad[0].contains("'id'") && bad[0].contains("UTF-8"),
            "{bad:?}"
        );
        assert!(
            bad[1].contains("'dialRequestId'") && bad[1].contains("U+0000"),
            "{bad:?}"
        );
        let bad = check(
            "/campaigns/a/dial-requests/b",
            Some("tagKeys=%00&tagKeys=ok&%FF=1"),
        );
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("'tagKeys'"), "{bad:?}");
        assert!(bad[1].contains("'queryString'"), "{bad:?}");
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
