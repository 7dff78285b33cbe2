//! The decision ledger: one append-only row per decision a rule made about a request at the
//! claim (dial, wait, refuse) or when its call ended (retry), with the attempt, the rule,
//! the recipient's local time when a rule used it, and the campaign configuration's version.
//! Here: what a row is and how an export renders it (CSV or JSON), pure. The claim's rows
//! are written by its statement ([`super::store::ledger_cte`]), the retries by the
//! statement that writes a contact's end ([`crate::queue::store::contact_update_many`]);
//! [`super::store::ledger_page`] reads them.

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

/// What the claim decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "rule_verdict", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The request was dialed.
    Dial,
    /// The request waits (its window is closed, or its number's quiet period runs).
    Wait,
    /// The request ended without a call.
    Refuse,
    /// The request is tried again later.
    Retry,
}

impl Verdict {
    /// The stored spelling, as in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Dial => "dial",
            Verdict::Wait => "wait",
            Verdict::Refuse => "refuse",
            Verdict::Retry => "retry",
        }
    }
}

/// The rule a decision names: the one that refused or delayed the request, or, for a dial,
/// [`Rule::AllPassed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every rule let the request through.
    AllPassed,
    /// The number is on a do-not-call list.
    DoNotCall,
    /// The recipient's communication time window (closed, or no time zone to tell).
    CommunicationTime,
    /// The campaign's retry policy tries the request again after its call's outcome.
    RetryPolicy,
    /// A communication limit: the recipient had its share of contacts (the decision's
    /// `detail` names the limit).
    CommunicationLimits,
    /// The number had an abandoned call (answered, no agent free) within the quiet period
    /// (`engine.abandoned_quiet_hours`): the request waits for its end.
    AbandonedQuiet,
}

impl Rule {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::AllPassed => "all_passed",
            Rule::DoNotCall => "do_not_call",
            Rule::CommunicationTime => "communication_time",
            Rule::RetryPolicy => "retry_policy",
            Rule::CommunicationLimits => "communication_limits",
            Rule::AbandonedQuiet => "abandoned_quiet",
        }
    }
}

/// One row of the ledger, as exported. `number` is the number's hash (hex), or the number
/// itself in a clear export (empty once retention deleted the request).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Order of writing.
    pub seq: i64,
    /// When the claim decided.
    pub decided_at: DateTime<Utc>,
    /// Campaign.
    pub campaign_id: String,
    /// Dial request.
    pub request_id: Uuid,
    /// The attempt the decision was about (1 for the first call).
    pub attempt: i32,
    /// The rule.
    pub rule: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What the rule found, when it says more than its name: the limit a
    /// `communication_limits` refusal met, as `scope:contacts/daysd` (e.g. `instance:3/7d`).
    pub detail: Option<String>,
    /// The recipient's time zone, when a rule used it.
    pub time_zone: Option<String>,
    /// Where that zone came from: `attribute`, `phone_number` or `campaign`.
    pub time_zone_source: Option<String>,
    /// The recipient's local time, when a rule used it.
    pub local_time: Option<NaiveDateTime>,
    /// The campaign configuration's version.
    pub config_version: String,
    /// Hash (hex) or clear number.
    pub number: String,
}

/// The CSV header, naming the number column by what it holds.
pub fn csv_header(clear_numbers: bool) -> String {
    let number = if clear_numbers {
        "phone_number"
    } else {
        "number_hash"
    };
    format!("seq,decided_at,campaign_id,request_id,attempt,rule,verdict,detail,time_zone,time_zone_source,local_time,config_version,{number}")
}

/// One decision as a CSV line (RFC 4180 quoting where a field needs it).
pub fn csv_line(d: &Decision) -> String {
    let fields = [
        d.seq.to_string(),
        d.decided_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        d.campaign_id.clone(),
        d.request_id.to_string(),
        d.attempt.to_string(),
        d.rule.clone(),
        d.verdict.as_str().to_string(),
        d.detail.clone().unwrap_or_default(),
        d.time_zone.clone().unwrap_or_default(),
        d.time_zone_source.clone().unwrap_or_default(),
        d.local_time
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default(),
        d.config_version.clone(),
        d.number.clone(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Decision {
        Decision {
            seq: 7,
            decided_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            campaign_id: "c,1".into(),
            request_id: Uuid::nil(),
            attempt: 1,
            rule: Rule::DoNotCall.as_str().into(),
            verdict: Verdict::Refuse,
            detail: None,
            time_zone: None,
            time_zone_source: None,
            local_time: None,
            config_version: "0123456789abcdef".into(),
            number: "ab".into(),
        }
    }

    #[test]
    fn a_csv_line_has_a_field_per_header_column_and_quotes_commas() {
        let line = csv_line(&decision());
        assert_eq!(
            line,
            "7,2027-01-15T08:00:00.000000Z,\"c,1\",00000000-0000-0000-0000-000000000000,1,do_not_call,refuse,,,,,0123456789abcdef,ab"
        );
        assert_eq!(csv_header(false).split(',').count(), 13);
        assert!(csv_header(true).ends_with(",phone_number"));
    }

    #[test]
    fn json_names_the_verdict_as_csv_does() {
        let json = serde_json::to_value(decision()).unwrap();
        assert_eq!(json["verdict"], "refuse");
        assert_eq!(json["rule"], "do_not_call");
        assert_eq!(json["number"], "ab");
    }
}
