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
