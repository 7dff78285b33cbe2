//! Message templates: the bodies SMS requests are filled from, by template ARN.
//!
//! A campaign's SMS config names a template by ARN (`wisdomTemplateArn`, or a request's own
//! `templateArn`); the daemon holds the templates of its config file (`[[templates]]`),
//! swapped on reload. A body is text with `{{name}}` placeholders, each filled with the
//! request's attribute `name` (the v2 API's `templateParameters`). Filling is all or
//! nothing: a placeholder without its attribute, or a message longer than
//! `StartOutboundChatContact` takes, fails that request and sends nothing.
//!
//! Attribute values are personal data: no error here carries one, only attribute names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Longest message content `StartOutboundChatContact` takes (`ChatContent` max), counted in
/// UTF-8 bytes as its documentation says, which also bounds the characters.
pub const MESSAGE_MAX_BYTES: usize = 16_384;

/// Longest template ARN (the v2 model's `Arn`).
pub const ARN_MAX_LEN: usize = 500;

/// A template as the config file gives it (`[[templates]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// The ARN campaigns and requests name it by.
    pub arn: String,
    /// The message, with `{{attribute}}` placeholders.
    pub body: String,
}

/// A piece of a parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Attribute(String),
}

/// A parsed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Why a body cannot be a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without its `}}`.
    #[error("a '{{{{' at byte {0} has no closing '}}}}'")]
    Unclosed(usize),
    /// A placeholder whose name is not an attribute name (`[a-zA-Z0-9_-]+`).
    #[error("placeholder '{{{{{0}}}}}' is not an attribute name (letters, digits, '-', '_')")]
    BadName(String),
    /// Nothing to send.
    #[error("the body is empty")]
    Empty,
}

/// Why a request's message could not be made: the code stored as its failure reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageFailure {
    /// No template is registered under the ARN (`TEMPLATE_NOT_FOUND`).
    TemplateNotFound,
    /// A placeholder has no attribute (`TEMPLATE_ATTRIBUTE_MISSING`).
    AttributeMissing,
    /// The filled message is longer than [`MESSAGE_MAX_BYTES`] (`MESSAGE_TOO_LONG`).
    TooLong,
    /// The filled message is empty (`MESSAGE_EMPTY`).
    Empty,
    /// Neither the request nor the campaign names a source number or a template
    /// (`SMS_CONFIG_MISSING`).
    ConfigMissing,
}

impl MessageFailure {
    /// The stored spelling, also the metrics' `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageFailure::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            MessageFailure::AttributeMissing => "TEMPLATE_ATTRIBUTE_MISSING",
            MessageFailure::TooLong => "MESSAGE_TOO_LONG",
            MessageFailure::Empty => "MESSAGE_EMPTY",
            MessageFailure::ConfigMissing => "SMS_CONFIG_MISSING",
        }
    }
}

/// A message that could not be filled, with the detail for the log (never a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", .failure.as_str())]
pub struct FillError {
    /// The code.
    pub failure: MessageFailure,
    /// What is wrong, naming the attribute or the length, never a value.
    pub detail: String,
}

fn is_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Template {
    /// Parses a body: `{{name}}` (spaces inside the braces allowed) is a placeholder.
    pub fn parse(body: &str) -> Result<Template, TemplateError> {
        if body.is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut pieces = Vec::new();
        let mut rest = body;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or(TemplateError::Unclosed(offset + open))?;
            let name = after[..close].trim();
            if !is_attribute_name(name) {
                return Err(TemplateError::BadName(name.to_string()));
            }
            pieces.push(Piece::Attribute(name.to_string()));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// The attribute names the body uses, in order of first use.
    pub fn attributes(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Attribute(name) = piece {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The message for `attributes`: every placeholder filled, within the length limit.
    pub fn fill(&self, attributes: &BTreeMap<String, String>) -> Result<String, FillError> {
        let missing: Vec<&str> = self
            .attributes()
            .into_iter()
            .filter(|name| !attributes.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            return Err(FillError {
                failure: MessageFailure::AttributeMissing,
                detail: format!("no attribute {}", missing.join(", ")),
            });
        }
        let mut message = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => message.push_str(text),
                Piece::Attribute(name) => {
                    message.push_str(attributes.get(name).map_or("", String::as_str))
                }
            }
            if message.len() > MESSAGE_MAX_BYTES {
                break;
            }
        }
        if message.len() > MESSAGE_MAX_BYTES {
            return Err(FillError {
                failure: MessageFailure::TooLong,
                detail: format!("the message exceeds {MESSAGE_MAX_BYTES} bytes"),
            });
        }
        if message.is_empty() {
            return Err(FillError {
                failure: MessageFailure::Empty,
                detail: "the filled message is empty".to_string(),
            });
        }
        Ok(message)
    }
}

/// The daemon's templates by ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    by_arn: BTreeMap<String, Template>,
}

impl Templates {
    /// The templates of `[[templates]]`, or every problem, each naming its entry.
    pub fn from_config(entries: &[TemplateConfig]) -> Result<Templates, Vec<String>> {
        let mut by_arn = BTreeMap::new();
        let mut problems = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let key = format!("templates[{i}]");
            if entry.arn.is_empty() || entry.arn.len() > ARN_MAX_LEN {
                problems.push(format!("{key}.arn must be 1 to {ARN_MAX_LEN} characters"));
                continue;
            }
            match Template::parse(&entry.body) {
                Ok(template) => {
                    if by_arn.insert(entry.arn.clone(), template).is_some() {
                        problems.push(format!("{key}.arn repeats an earlier template's arn"));
                    }
                }
                Err(error) => problems.push(format!("{key}.body: {error}")),
            }
        }
        if problems.is_empty() {
            Ok(Templates { by_arn })
        } else {
            Err(problems)
        }
    }

    /// The message of template `arn` for `attributes`.
    pub fn fill(
        &self,
        arn: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, FillError> {
        self.by_arn
            .get(arn)
            .ok_or_else(|| FillError {
                failure: MessageFailure::TemplateNotFound,
                detail: format!("no template is registered under {arn}"),
            })?
            .fill(attributes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_filled_from_attributes() {
        let template = Template::parse("Hi {{firstName}}, your code is {{ code }}.").unwrap();
        assert_eq!(template.attributes(), ["firstName", "code"]);
        assert_eq!(
            template
                .fill(&attrs(&[("firstName", "Ada"), ("code", "42"), ("x", "y")]))
                .unwrap(),
            "Hi Ada, your code is 42."
        );
        let plain = Template::parse("No placeholders } { here").unwrap();
        assert_eq!(plain.fill(&attrs(&[])).unwrap(), "No placeholders } { here");
    }

    #[test]
    fn a_missing_attribute_fails_naming_it_but_no_value() {
        let template = Template::parse("{{a}} and {{b}} and {{c}}").unwrap();
        let error = template.fill(&attrs(&[("b", "secret-value")])).unwrap_err();
        assert_eq!(error.failure, MessageFailure::AttributeMissing);
        assert_eq!(error.detail, "no attribute a, c");
        assert!(!error.to_string().contains("secret-value"));
    }

    #[test]
    fn messages_over_the_model_limit_fail() {
        let template = Template::parse("{{a}}{{a}}").unwrap();
        let half = "x".repeat(MESSAGE_MAX_BYTES / 2);
        assert_eq!(
            template.fill(&attrs(&[("a", &half)])).unwrap().len(),
            MESSAGE_MAX_BYTES
        );
        let over = format!("{half}é");
        assert_eq!(
            template.fill(&attrs(&[("a", &over)])).unwrap_err().failure,
            MessageFailure::TooLong
        );
        let empty = Template::parse("{{a}}").unwrap();
        assert_eq!(
            empty.fill(&attrs(&[("a", "")])).unwrap_err().failure,
            MessageFailure::Empty
        );
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert_eq!(
            Template::parse("Hi {{name"),
            Err(TemplateError::Unclosed(3))
        );
        assert_eq!(
            Template::parse("Hi {{first name}}"),
            Err(TemplateError::BadName("first name".into()))
        );
        assert_eq!(
            Template::parse("{{}}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(Template::parse(""), Err(TemplateError::Empty));
    }

    #[test]
    fn the_registry_names_every_bad_entry_and_unknown_arns() {
        let entry = |arn: &str, body: &str| TemplateConfig {
            arn: arn.into(),
            body: body.into(),
        };
        let problems = Templates::from_config(&[
            entry("arn:t/1", "ok"),
            entry("arn:t/1", "again"),
            entry("", "x"),
            entry("arn:t/2", "{{"),
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("templates[1].arn"), "{problems:?}");
        assert!(problems[1].starts_with("templates[2].arn"), "{problems:?}");
        assert!(problems[2].starts_with("templates[3].body"), "{problems:?}");
        let templates = Templates::from_config(&[entry("arn:t/1", "Hi {{n}}")]).unwrap();
        assert_eq!(
            templates.fill("arn:t/1", &attrs(&[("n", "Bo")])).unwrap(),
            "Hi Bo"
        );
        assert_eq!(
            templates.fill("arn:t/9", &attrs(&[])).unwrap_err().failure,
            MessageFailure::TemplateNotFound
        );
    }
}
