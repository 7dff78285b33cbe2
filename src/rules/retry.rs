//! Retries by outcome: which ended calls a campaign tries again, after how long, and how many
//! times in all. Pure: parsing, validation and the decision, no I/O.
//!
//! A retry is a new attempt of the same dial request, never a new request: the request goes
//! back to `pending` with `not_before` at the retry time, so its next claim applies every
//! calling rule again (expiry, calling hours, do-not-call) in the statement that takes it,
//! and its next contact is created by a new batch with a new ClientToken. A retry that
//! would come at or after the request's expiration is not scheduled: the request completes
//! with the outcome it has.
//!
//! Where a campaign's policy comes from, first found wins: the one set through the API
//! (`PUT /campaigns/{id}/retry-policy`, stored with the campaign), then `[retries.campaigns]`
//! in the config file (by campaign id, then by name), then `[retries.default]`. The decision
//! is made in SQL when a contact's end is written ([`crate::queue::store`]), from the
//! policy's [`RetryPolicy::to_sql`] form; [`RetryPolicy::retry_at`] is the same rule here,
//! for the what-if simulator and the tests.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contacts::Outcome;

/// Outcomes a policy may retry: those where nobody (or only a machine, or nobody in time)
/// took the call. A connected, answered or invalid call is never retried, nor a lost one:
/// its end is written by the reconciler, which does not know whether a call took place.
pub const RETRYABLE: [Outcome; 4] = [
    Outcome::NoAnswer,
    Outcome::Busy,
    Outcome::Machine,
    Outcome::Abandoned,
];

/// Most attempts a rule may allow: beyond this a number is being harassed, not reached.
pub const MAX_ATTEMPTS_MAX: u32 = 20;
/// Longest wait before a retry: 30 days, longer than any sensible expiration.
pub const AFTER_SECS_MAX: f64 = 30.0 * 86_400.0;

/// How one outcome is retried, as written in the config file (`after_secs`, `max_attempts`)
/// and in the API (`afterSeconds`, `maxAttempts`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Wait from the end of the call to the next attempt.
    #[serde(alias = "afterSeconds")]
    pub after_secs: f64,
    /// Attempts in all, the first call included (1: never retried).
    #[serde(alias = "maxAttempts")]
    pub max_attempts: u32,
}

/// A campaign's retry policy as written: the rule of each retried outcome, keyed by the
/// outcome's spelling (`no_answer`, `busy`, `machine`, `abandoned`). Outcomes left
/// out are not retried.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicySpec {
    /// Rules by outcome.
    pub outcomes: BTreeMap<String, RetryRule>,
}

/// A validated retry policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicy {
    rules: BTreeMap<Outcome, RetryRule>,
}

impl RetryPolicy {
    /// The policy `spec` describes, or every problem with it, each naming its key under
    /// `path` (e.g. `retries.default`).
    pub fn parse(path: &str, spec: &RetryPolicySpec) -> Result<RetryPolicy, Vec<String>> {
        let mut problems = Vec::new();
        let mut rules = BTreeMap::new();
        for (name, rule) in &spec.outcomes {
            let key = format!("{path}.outcomes.{name}");
            let Some(outcome) = Outcome::parse(name).filter(|o| RETRYABLE.contains(o)) else {
                let names: Vec<&str> = RETRYABLE.iter().map(|o| o.as_str()).collect();
                problems.push(format!(
                    "{key}: not a retryable outcome; use one of {}",
                    names.join(", ")
                ));
                continue;
            };
            if !(0.0..=AFTER_SECS_MAX).contains(&rule.after_secs) {
                problems.push(format!(
                    "{key}.after_secs must be between 0 and {AFTER_SECS_MAX}, got {}",
                    rule.after_secs
                ));
            }
            if !(1..=MAX_ATTEMPTS_MAX).contains(&rule.max_attempts) {
                problems.push(format!(
                    "{key}.max_attempts must be between 1 and {MAX_ATTEMPTS_MAX}, got {}",
                    rule.max_attempts
                ));
            }
            rules.insert(outcome, *rule);
        }
        if problems.is_empty() {
            Ok(RetryPolicy { rules })
        } else {
            Err(problems)
        }
    }

    /// The rule for `outcome`, if it is retried.
    pub fn rule(&self, outcome: Outcome) -> Option<&RetryRule> {
        self.rules.get(&outcome)
    }

    /// When the next attempt of a request is due, if there is one: its call (attempt number
    /// `attempt`, counted from 1) ended at `ended_at` with `outcome`; the request expires at
    /// `expires_at`. None when the outcome is not retried, the attempts are used up, or the
    /// retry would not come before the expiration.
    pub fn retry_at(
        &self,
        outcome: Outcome,
        attempt: u32,
        ended_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let rule = self.rule(outcome)?;
        if attempt >= rule.max_attempts {
            return None;
        }
        let after = chrono::Duration::milliseconds((rule.after_secs * 1000.0).round() as i64);
        let at = ended_at + after;
        (at < expires_at).then_some(at)
    }

    /// The form the SQL decision reads: `{"outcomes": {"no_answer": {"after_secs": 1800.0,
    /// "max_attempts": 3}, ...}}`, outcomes by their stored spelling.
    pub fn to_sql(&self) -> serde_json::Value {
        serde_json::json!({ "outcomes": self.spec().outcomes })
    }

    /// The policy as written, for the API's answers.
    pub fn spec(&self) -> RetryPolicySpec {
        RetryPolicySpec {
            outcomes: self
                .rules
                .iter()
                .map(|(o, r)| (o.as_str().to_string(), *r))
                .collect(),
        }
    }
}

/// `[retries]` of the config file: the policy of campaigns without their own, and policies
/// for campaigns named by id or name. Reloadable.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetriesConfig {
    /// Every campaign's policy, unless it has its own.
    pub default: RetryPolicySpec,
    /// Policies by campaign id or name.
    pub campaigns: BTreeMap<String, RetryPolicySpec>,
}

impl RetriesConfig {
    /// Every problem with the policies, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(found) = RetryPolicy::parse("retries.default", &self.default) {
            problems.extend(found);
        }
        for (campaign, spec) in &self.campaigns {
            let path = format!("retries.campaigns.\"{campaign}\"");
            if let Err(found) = RetryPolicy::parse(&path, spec) {
                problems.extend(found);
            }
        }
        problems
    }

    /// The policies as the SQL decision reads them: `{"default": <policy>, "campaigns":
    /// {"<id or name>": <policy>}}` (see [`RetryPolicy::to_sql`]). Policies that do not
    /// validate (never, after [`crate::config::Config::validate`]) are left out.
    pub fn to_sql(&self) -> serde_json::Value {
        let sql = |path: &str, spec: &RetryPolicySpec| {
            RetryPolicy::parse(path, spec).ok().map(|p| p.to_sql())
        };
        let campaigns: serde_json::Map<String, serde_json::Value> = self
            .campaigns
            .iter()
            .filter_map(|(name, spec)| Some((name.clone(), sql(name, spec)?)))
            .collect();
        serde_json::json!({
            "default": sql("default", &self.default).unwrap_or_else(|| RetryPolicy::default().to_sql()),
            "campaigns": campaigns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rules: &[(&str, f64, u32)]) -> RetryPolicySpec {
        RetryPolicySpec {
            outcomes: rules
                .iter()
                .map(|(o, after_secs, max_attempts)| {
                    (
                        o.to_string(),
                        RetryRule {
                            after_secs: *after_secs,
                            max_attempts: *max_attempts,
                        },
                    )
                })
                .collect(),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(secs)
    }

    #[test]
    fn no_answer_is_retried_after_its_wait_until_the_attempts_are_used_up() {
        let policy = RetryPolicy::parse("p", &spec(&[("no_answer", 1800.0, 3)])).unwrap();
        let expires = at(86_400);
        assert_eq!(
            policy.retry_at(Outcome::NoAnswer, 1, at(100), expires),
            Some(at(1900))
        );
        assert_eq!(
            policy.retry_at(Outcome::NoAnswer, 2, at(100), expires),
            Some(at(1900))
        );
        assert_eq!(
            policy.retry_at(Outcome::NoAnswer, 3, at(100), expires),
            None
        );
        // Outcomes without a rule are never retried.
        assert_eq!(policy.retry_at(Outcome::Busy, 1, at(100), expires), None);
        assert_eq!(
            policy.retry_at(Outcome::Connected, 1, at(100), expires),
            None
        );
    }

    #[test]
    fn a_retry_that_would_come_at_or_after_the_expiration_is_not_scheduled() {
        let policy = RetryPolicy::parse("p", &spec(&[("busy", 300.0, 5)])).unwrap();
        assert_eq!(policy.retry_at(Outcome::Busy, 1, at(0), at(300)), None);
        assert_eq!(
            policy.retry_at(Outcome::Busy, 1, at(0), at(301)),
            Some(at(300))
        );
    }

    #[test]
    fn every_bad_rule_is_named_by_its_key() {
        let problems = RetryPolicy::parse(
            "retries.default",
            &spec(&[
                ("connected", 10.0, 2),
                ("busy", -1.0, 2),
                ("machine", 10.0, 0),
                ("no_answer", 10.0, 21),
            ]),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        for key in [
            "retries.default.outcomes.connected: not a retryable outcome",
            "retries.default.outcomes.busy.after_secs",
            "retries.default.outcomes.machine.max_attempts",
            "retries.default.outcomes.no_answer.max_attempts",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(key)),
                "{key} not in {problems:?}"
            );
        }
    }

    #[test]
    fn the_config_validates_every_policy_and_gives_sql_the_stored_spellings() {
        let config: RetriesConfig = toml::from_str(
            "[default.outcomes]\nno_answer = { after_secs = 1800, max_attempts = 3 }\n\
             [campaigns.sales.outcomes]\nbusy = { after_secs = 300, max_attempts = 2 }\n",
        )
        .unwrap();
        assert!(config.validate().is_empty());
        let sql = config.to_sql();
        assert_eq!(sql["default"]["outcomes"]["no_answer"]["max_attempts"], 3);
        assert_eq!(
            sql["campaigns"]["sales"]["outcomes"]["busy"]["after_secs"],
            300.0
        );

        let bad: RetriesConfig = toml::from_str(
            "[campaigns.x.outcomes]\ninvalid = { after_secs = 1, max_attempts = 2 }\n",
        )
        .unwrap();
        assert_eq!(bad.validate().len(), 1);
        assert!(bad.validate()[0].starts_with("retries.campaigns.\"x\".outcomes.invalid"));
    }

    #[test]
    fn the_api_spelling_reads_as_the_config_spelling() {
        let from_api: RetryPolicySpec = serde_json::from_value(serde_json::json!({
            "outcomes": { "machine": { "afterSeconds": 60, "maxAttempts": 2 } }
        }))
        .unwrap();
        assert_eq!(from_api, spec(&[("machine", 60.0, 2)]));
    }
}
