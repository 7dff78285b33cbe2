//! Validation of a request body against the model's shapes ([`super::model`]), reporting
//! every violation with its member's path in the AWS format (see [`Violations`]): type,
//! required members, unions (exactly one member set), lengths, counts, patterns (matched as
//! a whole), enums and ranges. Timestamps are rewritten as RFC 3339 text on the way, so the
//! typed decoding that follows reads every format clients send.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::wire::{decode, Violations, WireTimestamp};

/// A shape of the model, with its constraints.
#[derive(Debug)]
pub enum Shape {
    /// A string.
    Str {
        /// Least length.
        min: Option<usize>,
        /// Most length.
        max: Option<usize>,
        /// A regular expression the whole string must match.
        pattern: Option<&'static str>,
    },
    /// A string from a fixed set.
    Enum(&'static [&'static str]),
    /// An integer.
    Int {
        /// Least value.
        min: Option<i64>,
        /// Most value.
        max: Option<i64>,
    },
    /// A double.
    Double {
        /// Least value.
        min: f64,
        /// Most value.
        max: f64,
    },
    /// A boolean.
    Bool,
    /// A timestamp.
    Timestamp,
    /// A structure, or a union when exactly one member must be set.
    Struct {
        /// Whether it is a union.
        union: bool,
        /// Its members carried in the body.
        members: &'static [Member],
    },
    /// A list.
    List {
        /// Item shape.
        member: &'static Shape,
        /// Least items.
        min: Option<usize>,
        /// Most items.
        max: Option<usize>,
    },
    /// A map.
    Map {
        /// Key shape.
        key: &'static Shape,
        /// Value shape.
        value: &'static Shape,
        /// Least entries.
        min: Option<usize>,
        /// Most entries.
        max: Option<usize>,
    },
}

/// A member of a structure.
#[derive(Debug)]
pub struct Member {
    /// Wire name.
    pub name: &'static str,
    /// Its shape.
    pub shape: &'static Shape,
    /// Whether it must be set.
    pub required: bool,
}

/// A member that must be set.
pub const fn required(name: &'static str, shape: &'static Shape) -> Member {
    Member {
        name,
        shape,
        required: true,
    }
}

/// A member that may be absent.
pub const fn optional(name: &'static str, shape: &'static Shape) -> Member {
    Member {
        name,
        shape,
        required: false,
    }
}

/// Decodes a body, validates it against `shape` and reads it as `T`.
pub fn decode_as<T: DeserializeOwned>(body: &[u8], shape: &Shape) -> Result<T, ApiError> {
    validated(decode(body)?, shape)
}

/// Validates a decoded body against `shape` and reads it as `T`.
pub fn validated<T: DeserializeOwned>(mut value: Value, shape: &Shape) -> Result<T, ApiError> {
    let mut v = Violations::default();
    check(&mut v, "", &mut value, shape);
    v.finish()?;
    // The shapes and the types agree, so this fails only where the model leaves something
    // to the type (a number too large for it).
    serde_json::from_value(value)
        .map_err(|e| ApiError::Validation(format!("1 validation error detected: {e}")))
}

/// Validates a path label or query parameter, a string, against `shape`.
pub fn check_text(v: &mut Violations, path: &str, text: &str, shape: &Shape) {
    check(v, path, &mut Value::String(text.to_string()), shape);
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_string()
    } else {
        format!("{path}.{segment}")
    }
}

/// Validates `value` at `path` against `shape`, recording what it breaks.
pub fn check(v: &mut Violations, path: &str, value: &mut Value, shape: &Shape) {
    let at = if path.is_empty() { "body" } else { path };
    match (shape, value) {
        (Shape::Str { min, max, pattern }, Value::String(text)) => {
            v.length(at, text, min.unwrap_or(0), max.unwrap_or(usize::MAX));
            if let Some(pattern) = pattern {
                if !matches(pattern, text) {
                    v.other(
                        at,
                        &format!("Member must satisfy regular expression pattern: {pattern}"),
                    );
                }
            }
        }
        (Shape::Enum(values), Value::String(text)) => {
            if !values.contains(&text.as_str()) {
                v.other(
                    at,
                    &format!("Member must satisfy enum value set: [{}]", values.join(", ")),
                );
            }
        }
        (Shape::Int { min, max }, Value::Number(n)) => match n.as_i64() {
            Some(i) => v.range(
                at,
                i as f64,
                min.map_or(f64::MIN, |m| m as f64),
                max.map_or(f64::MAX, |m| m as f64),
            ),
            None => v.other(at, "Member must be of the right type (expected an integer)"),
        },
        (Shape::Double { min, max }, Value::Number(n)) => {
            v.range(at, n.as_f64().unwrap_or(f64::NAN), *min, *max)
        }
        (Shape::Bool, Value::Bool(_)) => {}
        (Shape::Timestamp, value @ (Value::String(_) | Value::Number(_))) => {
            match serde_json::from_value::<WireTimestamp>(value.clone()) {
                Ok(WireTimestamp::At(at_time)) => {
                    *value = Value::String(at_time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                }
                Ok(WireTimestamp::OutOfRange) => {
                    v.other(at, "Member must be a time within years 0001-9999")
                }
                Err(_) => v.other(
                    at,
                    "Member must be of the right type (expected an ISO 8601 timestamp or epoch seconds)",
                ),
            }
        }
        (Shape::Struct { union, members }, Value::Object(object)) => {
            for member in members.iter() {
                let member_path = join(path, member.name);
                match object.get_mut(member.name) {
                    Some(Value::Null) | None => {
                        if member.required {
                            v.required::<()>(&member_path, &None);
                        }
                    }
                    Some(inner) => check(v, &member_path, inner, member.shape),
                }
            }
            if *union {
                let set = members
                    .iter()
                    .filter(|m| object.get(m.name).is_some_and(|x| !x.is_null()))
                    .count();
                if set != 1 {
                    let names: Vec<&str> = members.iter().map(|m| m.name).collect();
                    v.other(
                        at,
                        &format!(
                            "Member is a union: exactly one of {} must be set",
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        (Shape::List { member, min, max }, Value::Array(items)) => {
            v.count(at, items.len(), min.unwrap_or(0), max.unwrap_or(usize::MAX));
            for (i, item) in items.iter_mut().enumerate() {
                check(v, &join(path, &format!("{}.member", i + 1)), item, member);
            }
        }
        (
            Shape::Map {
                key,
                value: value_shape,
                min,
                max,
            },
            Value::Object(entries),
        ) => {
            v.count(at, entries.len(), min.unwrap_or(0), max.unwrap_or(usize::MAX));
            for (name, entry) in entries.iter_mut() {
                check_text(v, &join(path, "key"), name, key);
                check(v, &join(path, name), entry, value_shape);
            }
        }
        (shape, _) => v.other(
            at,
            &format!("Member must be of the right type (expected {})", kind(shape)),
        ),
    }
}

fn kind(shape: &Shape) -> &'static str {
    match shape {
        Shape::Str { .. } | Shape::Enum(_) => "a string",
        Shape::Int { .. } => "an integer",
        Shape::Double { .. } => "a number",
        Shape::Bool => "a boolean",
        Shape::Timestamp => "a timestamp",
        Shape::Struct { .. } | Shape::Map { .. } => "an object",
        Shape::List { .. } => "a list",
    }
}

/// Whether `text` matches `pattern` as a whole. A leading negative lookahead `(?!x)`, which
/// the regex engine lacks, is checked as "does not start with x".
fn matches(pattern: &'static str, text: &str) -> bool {
    static COMPILED: LazyLock<RwLock<HashMap<&'static str, regex_lite::Regex>>> =
        LazyLock::new(Default::default);
    let (forbidden, rest) = match pattern.strip_prefix("(?!").and_then(|p| p.split_once(')')) {
        Some((prefix, rest)) => (Some(prefix), rest),
        None => (None, pattern),
    };
    if forbidden.is_some_and(|prefix| text.starts_with(prefix)) {
        return false;
    }
    if let Some(re) = COMPILED.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return re.is_match(text);
    }
    match regex_lite::Regex::new(&format!("^(?:{rest})$")) {
        Ok(re) => {
            let found = re.is_match(text);
            if let Ok(mut compiled) = COMPILED.write() {
                compiled.insert(pattern, re);
            }
            found
        }
        // Every pattern of the model compiles (a test proves it); were one not to, the
        // constraint is not enforced rather than every request refused.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::model;
    use super::*;
    use serde_json::json;

    fn violations(value: Value, shape: &Shape) -> Vec<String> {
        let mut v = Violations::default();
        check(&mut v, "", &mut value.clone(), shape);
        match v.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.to_string().split("; ").map(str::to_string).collect(),
        }
    }

    #[test]
    fn every_pattern_of_the_model_compiles() {
        for pattern in model::PATTERNS {
            let rest = pattern
                .strip_prefix("(?!")
                .and_then(|p| p.split_once(')'))
                .map_or(*pattern, |(_, rest)| rest);
            assert!(
                regex_lite::Regex::new(&format!("^(?:{rest})$")).is_ok(),
                "{pattern}"
            );
        }
    }

    #[test]
    fn patterns_match_whole_strings() {
        assert!(matches(r"[a-f0-9]{32}", "0123456789abcdef0123456789abcdef"));
        assert!(!matches(
            r"[a-f0-9]{32}",
            "x0123456789abcdef0123456789abcdef"
        ));
        assert!(matches(r"(?!aws:)[a-zA-Z+-=._:/]+", "team"));
        assert!(!matches(r"(?!aws:)[a-zA-Z+-=._:/]+", "aws:x"));
        let arn = "arn:aws:connect-campaigns:us-east-1:123456789012:campaign/abc";
        let Shape::Str {
            pattern: Some(p), ..
        } = &model::ARN
        else {
            panic!("Arn is a string")
        };
        assert!(matches(p, arn));
        assert!(!matches(p, "not-an-arn"));
    }

    #[test]
    fn required_union_enum_and_range_are_reported_with_paths() {
        let errors = violations(
            json!({
                "name": "",
                "channelSubtypeConfig": {"telephony": {
                    "outboundMode": {"progressive": {"bandwidthAllocation": 3}, "agentless": {}},
                    "defaultOutboundConfig": {}
                }},
                "type": "OTHER"
            }),
            &model::CREATE_CAMPAIGN_REQUEST,
        );
        let text = errors.join("\n");
        for expected in [
            "'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
            "'connectInstanceId' failed to satisfy constraint: Member must not be null",
            "'channelSubtypeConfig.telephony.outboundMode.progressive.bandwidthAllocation'",
            "'channelSubtypeConfig.telephony.outboundMode' failed to satisfy constraint: Member is a union",
            "'channelSubtypeConfig.telephony.defaultOutboundConfig.connectContactFlowId' failed to satisfy constraint: Member must not be null",
            "'type' failed to satisfy constraint: Member must satisfy enum value set: [MANAGED, JOURNEY]",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert_eq!(errors.len(), 6, "{text}");
    }

    #[test]
    fn types_lists_and_timestamps() {
        let errors = violations(
            json!({"outboundRequests": [{"clientToken": 5, "expirationTime": "soon",
                    "channelSubtypeParameters": {"sms": {"destinationPhoneNumber": "+1", "templateParameters": {"bad key": "v"}}}}]}),
            &model::PUT_OUTBOUND_REQUEST_BATCH_REQUEST,
        );
        let text = errors.join("\n");
        assert!(text.contains("'outboundRequests.1.member.clientToken' failed to satisfy constraint: Member must be of the right type (expected a string)"), "{text}");
        assert!(
            text.contains("'outboundRequests.1.member.expirationTime'"),
            "{text}"
        );
        assert!(
            text.contains(
                "'outboundRequests.1.member.channelSubtypeParameters.sms.templateParameters.key'"
            ),
            "{text}"
        );
        let mut value = json!({"startTime": 1_800_000_000, "endTime": "2027-01-15T10:00:00"});
        let mut v = Violations::default();
        check(&mut v, "", &mut value, &model::SCHEDULE);
        assert!(v.finish().is_ok());
        assert_eq!(value["startTime"], "2027-01-15T08:00:00Z");
        assert_eq!(value["endTime"], "2027-01-15T10:00:00Z");
    }
}
