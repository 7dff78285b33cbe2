//! Communication limits: at most N contacts of one recipient per D days, a campaign's own
//! (`communicationLimitsOverride`) and its Connect instance's (PutInstanceCommunicationLimits)
//! unless the campaign opts out of those (`instanceLimitsHandling = OPT_OUT`). The v2 model
//! has limits for all channel subtypes only, so calls and text messages count alike, and
//! every limit applies to both.
//!
//! As Amazon Connect does, a recipient who had as many contacts as a limit allows in the
//! last D days (a sliding window of D × 24 h before the claim) is not contacted: the request
//! ends `failed` with reason `LIMIT_EXCEEDED`, and the ledger names the limit. A campaign
//! limit counts the campaign's contacts of the recipient; an instance limit counts the
//! contacts of every campaign of the account on that instance, including campaigns that
//! opted out (opting out exempts a campaign's contacts from the limit, not from the count).
//!
//! The history is one row per recipient (account, number hash): the contacts of its last
//! [`HISTORY_DAYS`] days. The claim counts and appends in one upsert of that row, which
//! reads the row as the last committed claim left it and keeps it locked until the claim
//! commits; so two daemons claiming requests of one recipient take turns and each sees the
//! other's contact. A history of rows per contact could not be counted so: a claim's
//! statement sees the table as it was when the statement began, before a concurrent claim
//! committed.
//!
//! Histories are written only for campaigns some limit concerns (their own or their
//! instance's): the upsert was a fifth of every claim's time, limits or not. A limit set
//! where there was none counts the contacts from then on.
//!
//! The claim's arithmetic is SQL ([`crate::rules::store::limit_check_ctes`]); [`admitted`]
//! is the same for one recipient in Rust, for the what-if simulator, which has no database.

use chrono::{DateTime, Duration, Utc};

use crate::campaigns::channels::{CommunicationLimits, CommunicationLimitsConfig};

/// Days of contacts a recipient's history keeps: the longest window the v2 model allows
/// (`CommunicationLimit.frequency` is at most 30 days). Older contacts can count towards no
/// limit, and retention deletes the histories with none newer.
pub const HISTORY_DAYS: i64 = 30;

/// Limits one scope may have (`CommunicationLimitList` has at most two): the instance's
/// limits are ordered after the campaign's by this much, so that a refusal names the
/// campaign's limit when both are reached.
pub const MAX_LIMITS_PER_SCOPE: i64 = 2;

/// Whose contacts a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The campaign's own contacts.
    Campaign,
    /// The contacts of every campaign of the account on the campaign's instance.
    Instance,
}

impl LimitScope {
    /// The spelling in the ledger's `detail`.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Campaign => "campaign",
            LimitScope::Instance => "instance",
        }
    }
}

/// Whether a campaign is held to its instance's limits (`instanceLimitsHandling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceLimitsHandling {
    /// Held to them: also the default when the campaign says nothing.
    OptIn,
    /// Exempt from them.
    OptOut,
}

impl InstanceLimitsHandling {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceLimitsHandling::OptIn => "OPT_IN",
            InstanceLimitsHandling::OptOut => "OPT_OUT",
        }
    }
}

/// One limit as the claim applies it: at most `max_count` contacts per `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Contacts allowed in the window.
    pub max_count: u32,
    /// The window's length in days.
    pub days: u32,
}

/// The limits of a `communicationLimitsOverride` (or an instance's limits), in order, each
/// checked as the v2 model constrains it; every problem names its member under `key`.
pub fn limits_of(key: &str, config: &CommunicationLimitsConfig) -> Result<Vec<Limit>, Vec<String>> {
    let Some(CommunicationLimits::CommunicationLimitsList(list)) = &config.all_channel_subtypes
    else {
        return Ok(Vec::new());
    };
    let list_key = format!("{key}.allChannelSubtypes.communicationLimitsList");
    let mut errors = Vec::new();
    if list.len() > MAX_LIMITS_PER_SCOPE as usize {
        errors.push(format!(
            "{list_key}: at most {MAX_LIMITS_PER_SCOPE} limits, got {}",
            list.len()
        ));
    }
    let mut limits = Vec::new();
    for (i, limit) in list.iter().enumerate() {
        let at = format!("{list_key}[{i}]");
        let max_count = u32::try_from(limit.max_count_per_recipient)
            .ok()
            .filter(|n| *n >= 1);
        if max_count.is_none() {
            errors.push(format!(
                "{at}.maxCountPerRecipient must be at least 1, got {}",
                limit.max_count_per_recipient
            ));
        }
        let days = u32::try_from(limit.frequency)
            .ok()
            .filter(|d| (1..=HISTORY_DAYS as u32).contains(d));
        if days.is_none() {
            errors.push(format!(
                "{at}.frequency must be within [1, {HISTORY_DAYS}] days, got {}",
                limit.frequency
            ));
        }
        if limit.unit != "DAY" {
            errors.push(format!("{at}.unit must be \"DAY\", got {:?}", limit.unit));
        }
        if let (Some(max_count), Some(days)) = (max_count, days) {
            limits.push(Limit { max_count, days });
        }
    }
    if errors.is_empty() {
        Ok(limits)
    } else {
        Err(errors)
    }
}

/// How many of `wanted` requests for one recipient a claim at `now` contacts, given the
/// instants of the recipient's earlier contacts that `limits` count: the claim's SQL
/// ([`crate::rules::store::limit_check_ctes`]) for one scope, kept pure for the what-if
/// simulator. No claim contacts a recipient more often than the smallest limit allows, and
/// every limit must have room in its window (contacts after `now - days`) for each contact.
pub fn admitted(
    limits: &[Limit],
    history: &[DateTime<Utc>],
    wanted: u32,
    now: DateTime<Utc>,
) -> u32 {
    limits.iter().fold(wanted, |admitted, limit| {
        let since = now - Duration::days(i64::from(limit.days));
        let counted = history.iter().filter(|at| **at > since).count();
        let room = (limit.max_count as usize).saturating_sub(counted);
        admitted.min(u32::try_from(room).unwrap_or(u32::MAX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::channels::CommunicationLimit;

    fn config(limits: &[(i64, i64, &str)]) -> CommunicationLimitsConfig {
        CommunicationLimitsConfig {
            all_channel_subtypes: Some(CommunicationLimits::CommunicationLimitsList(
                limits
                    .iter()
                    .map(|(max, days, unit)| CommunicationLimit {
                        max_count_per_recipient: *max,
                        frequency: *days,
                        unit: unit.to_string(),
                    })
                    .collect(),
            )),
            instance_limits_handling: None,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.to_utc())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn limits_are_read_in_order_and_bad_ones_named_by_member() {
        assert_eq!(
            limits_of("l", &config(&[(1, 1, "DAY"), (3, 7, "DAY")])),
            Ok(vec![
                Limit {
                    max_count: 1,
                    days: 1
                },
                Limit {
                    max_count: 3,
                    days: 7
                }
            ])
        );
        assert_eq!(
            limits_of("l", &CommunicationLimitsConfig::default()),
            Ok(vec![])
        );
        let errors = limits_of(
            "l",
            &config(&[(0, 31, "WEEK"), (1, 1, "DAY"), (1, 1, "DAY")]),
        )
        .err()
        .unwrap_or_default()
        .join("\n");
        for needle in [
            "l.allChannelSubtypes.communicationLimitsList: at most 2",
            "communicationLimitsList[0].maxCountPerRecipient must be at least 1",
            "communicationLimitsList[0].frequency must be within [1, 30]",
            "communicationLimitsList[0].unit must be \"DAY\"",
        ] {
            assert!(errors.contains(needle), "{needle} missing in:\n{errors}");
        }
    }

    #[test]
    fn a_claim_admits_what_the_tightest_window_has_room_for() {
        let now = at("2026-06-15T12:00:00Z");
        let one_a_day = Limit {
            max_count: 1,
            days: 1,
        };
        let three_a_week = Limit {
            max_count: 3,
            days: 7,
        };
        assert_eq!(admitted(&[], &[], 5, now), 5);
        assert_eq!(admitted(&[one_a_day], &[], 3, now), 1, "one per claim");
        // A contact exactly a day ago is out of the window (`contacted_at > now - days`).
        assert_eq!(
            admitted(&[one_a_day], &[at("2026-06-14T12:00:00Z")], 1, now),
            1
        );
        assert_eq!(
            admitted(&[one_a_day], &[at("2026-06-14T12:00:01Z")], 1, now),
            0
        );
        let week = [at("2026-06-09T13:00:00Z"), at("2026-06-12T13:00:00Z")];
        assert_eq!(admitted(&[one_a_day, three_a_week], &week, 2, now), 1);
        let full = [week[0], week[1], at("2026-06-13T13:00:00Z")];
        assert_eq!(admitted(&[one_a_day, three_a_week], &full, 1, now), 0);
    }
}
