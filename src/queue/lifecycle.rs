//! The dial-request lifecycle: which moves between [`DialRequestState`]s are legal, why a
//! request ended without a contact, and what a batch's answer does to each of its requests.
//!
//! ```text
//! admit ─▶ pending ──claim──▶ in_progress ──complete──▶ completed
//!            ▲  │                │  │  │                  ▲
//!            │  │                │  │  └──fail──▶ failed  │
//!            └──┼─────retry──────┘  └──expire──┐          │
//!               ├──expire─────────────────────▶ expired ──┘ complete: a late contact
//!               ├──cancel──▶ cancelled                      event proves a contact
//!               └──refuse──▶ failed   (a calling rule forbids the call, at the claim)
//! ```
//!
//! `retry` is taken when a batch did not create the request's contact, and when its contact
//! ended with an outcome its campaign's retry policy tries again ([`crate::rules::retry`]):
//! the next claim is the request's next attempt.
//!
//! The queue's store applies these moves in SQL, set-based, with the target state of each
//! from [`Transition::target`] and its `where state …` guard from [`Transition::sql_guard`]
//! (or, where one statement makes a move from one of its sources only, such as the
//! sweeper's expiry of pending requests, that source). [`transition`] is the same rule for
//! one request. Pure: no I/O, no clock.

use chrono::{DateTime, Utc};

use super::DialRequestState;
use crate::contact_center::FailureReasonCode;
use crate::contacts::Outcome;
use crate::sms::template::MessageFailure;

/// A move of a dial request from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Taken into a contact batch.
    Claim,
    /// Its contact was not created, but may be in a later batch; or its contact ended with
    /// an outcome its campaign retries, and a later batch makes its next attempt.
    Retry,
    /// Its contact ended.
    Complete,
    /// The contact center refused it for good.
    Fail,
    /// Its expiration passed before a contact was made.
    Expire,
    /// Its campaign stopped before it was dialed.
    Cancel,
    /// A calling rule forbids the call (e.g. do-not-call), found when it was to be claimed.
    Refuse,
}

/// A move the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a dial request cannot {transition:?} from {from:?}")]
pub struct TransitionError {
    /// The state the request was in.
    pub from: DialRequestState,
    /// The move asked for.
    pub transition: Transition,
}

impl Transition {
    /// The states the move applies to.
    pub fn sources(self) -> &'static [DialRequestState] {
        use DialRequestState as S;
        match self {
            Transition::Claim | Transition::Cancel | Transition::Refuse => &[S::Pending],
            Transition::Retry | Transition::Fail => &[S::InProgress],
            Transition::Expire => &[S::Pending, S::InProgress],
            // An expired request whose contact reports an end had a contact after all (made
            // before the expiration by a call whose answer was lost): it completes.
            Transition::Complete => &[S::InProgress, S::Expired],
        }
    }

    /// The state the move leads to.
    pub fn target(self) -> DialRequestState {
        match self {
            Transition::Claim => DialRequestState::InProgress,
            Transition::Retry => DialRequestState::Pending,
            Transition::Complete => DialRequestState::Completed,
            Transition::Fail | Transition::Refuse => DialRequestState::Failed,
            Transition::Expire => DialRequestState::Expired,
            Transition::Cancel => DialRequestState::Cancelled,
        }
    }

    /// Whether the move applies to a request in `from`.
    pub fn applies_to(self, from: DialRequestState) -> bool {
        self.sources().contains(&from)
    }

    /// The SQL condition that `column` (a `dial_request_state`) holds a state the move
    /// applies to, for the guards of the store's statements.
    pub fn sql_guard(self, column: &str) -> String {
        let states: Vec<String> = self
            .sources()
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("{column} in ({})", states.join(", "))
    }
}

/// The state a request in `from` is in after `transition`.
pub fn transition(
    from: DialRequestState,
    transition: Transition,
) -> Result<DialRequestState, TransitionError> {
    if transition.applies_to(from) {
        Ok(transition.target())
    } else {
        Err(TransitionError { from, transition })
    }
}

/// Why a request was retried or ended without a contact: the code stored in
/// `dial_request.reason`.
///
/// `reason` stays free text in the database: a contact the reconciler ends also gets a
/// reason there, in words (e.g. the contact center that placed it stopped), which is not a
/// code. Every code the engine and the sweeper write comes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// BatchPutContact refused the item with this code.
    Item(FailureReasonCode),
    /// Its expiration passed before a contact was made (`EXPIRED`).
    Expired,
    /// Its campaign stopped before it was dialed (`CAMPAIGN_STOPPED`).
    CampaignStopped,
    /// The whole call was throttled (`CALL_THROTTLED`).
    CallThrottled,
    /// The whole call timed out (`CALL_TIMEOUT`).
    CallTimeout,
    /// The whole call failed on the server (`CALL_SERVER_ERROR`).
    CallServerError,
    /// The whole call was refused as invalid (`CALL_INVALID_REQUEST`).
    CallInvalidRequest,
    /// The whole call was refused for lack of access (`CALL_ACCESS_DENIED`).
    CallAccessDenied,
    /// The whole call named an instance or resource that does not exist
    /// (`CALL_RESOURCE_NOT_FOUND`).
    CallResourceNotFound,
    /// Its batch's earlier call did not take effect, and other requests of the batch expired
    /// since: it waits for a new batch (`CALL_NOT_MADE`).
    CallNotMade,
    /// Its calling hours or its campaign's schedule closed after its claim and before its
    /// batch's call: it waits in the queue until they open (`DIAL_BY_PASSED`).
    DialByPassed,
    /// An SMS request's message could not be made (its template, its attributes).
    Message(MessageFailure),
    /// The number is on a do-not-call list (`DO_NOT_CALL`).
    DoNotCall,
    /// The campaign has calling hours but neither the request nor the campaign names the
    /// recipient's time zone (`MISSING_TIME_ZONE`).
    MissingTimeZone,
    /// Its call ended with this outcome and its campaign's retry policy tries it again
    /// (`NO_ANSWER`, `BUSY`, `MACHINE`, `ABANDONED`: the outcome in capitals, as the
    /// SQL that retries it writes it).
    RetriedAfter(Outcome),
    /// The recipient has had as many contacts as a communication limit allows in its window
    /// (`LIMIT_EXCEEDED`); the ledger names the limit.
    LimitExceeded,
}

impl FailureReason {
    /// The stored spelling, also the metrics' `reason` label. A whole call refused as an
    /// idempotency conflict is stored as the item code `IDEMPOTENCY_EXCEPTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Item(code) => code.as_str(),
            FailureReason::Expired => "EXPIRED",
            FailureReason::CampaignStopped => "CAMPAIGN_STOPPED",
            FailureReason::CallThrottled => "CALL_THROTTLED",
            FailureReason::CallTimeout => "CALL_TIMEOUT",
            FailureReason::CallServerError => "CALL_SERVER_ERROR",
            FailureReason::CallInvalidRequest => "CALL_INVALID_REQUEST",
            FailureReason::CallAccessDenied => "CALL_ACCESS_DENIED",
            FailureReason::CallResourceNotFound => "CALL_RESOURCE_NOT_FOUND",
            FailureReason::CallNotMade => "CALL_NOT_MADE",
            FailureReason::DialByPassed => "DIAL_BY_PASSED",
            FailureReason::Message(failure) => failure.as_str(),
            FailureReason::DoNotCall => "DO_NOT_CALL",
            FailureReason::MissingTimeZone => "MISSING_TIME_ZONE",
            FailureReason::RetriedAfter(outcome) => match outcome {
                Outcome::NoAnswer => "NO_ANSWER",
                Outcome::Busy => "BUSY",
                Outcome::Machine => "MACHINE",
                Outcome::Abandoned => "ABANDONED",
                Outcome::Lost => "LOST",
                Outcome::Invalid => "INVALID",
                Outcome::Answered => "ANSWERED",
                Outcome::Connected => "CONNECTED",
                Outcome::Sent => "SENT",
            },
            FailureReason::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }
}

/// What a batch's answer did to one of its requests.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemResult {
    /// The contact exists; the request stays in progress until the contact ends.
    Created {
        /// Contact id from the contact center.
        contact_id: String,
    },
    /// The SMS went out: the request completes with outcome `sent`.
    Sent {
        /// The chat contact, unless only a refused retry of the token said it was sent.
        contact_id: Option<String>,
    },
    /// Back to the queue, for a new batch not before the given time.
    Retry {
        /// Why this batch did not create it.
        reason: FailureReason,
        /// Backoff end.
        not_before: DateTime<Utc>,
    },
    /// Ended without a contact.
    Failed {
        /// Why.
        reason: FailureReason,
    },
    /// Its expiration passed before a contact was made.
    Expired,
}

impl ItemResult {
    /// The move the result makes from `in_progress`; none for a created contact.
    pub fn transition(&self) -> Option<Transition> {
        match self {
            ItemResult::Created { .. } => None,
            ItemResult::Sent { .. } => Some(Transition::Complete),
            ItemResult::Retry { .. } => Some(Transition::Retry),
            ItemResult::Failed { .. } => Some(Transition::Fail),
            ItemResult::Expired => Some(Transition::Expire),
        }
    }

    /// The reason stored with the result.
    pub fn reason(&self) -> Option<FailureReason> {
        match self {
            ItemResult::Created { .. } | ItemResult::Sent { .. } => None,
            ItemResult::Retry { reason, .. } | ItemResult::Failed { reason } => Some(*reason),
            ItemResult::Expired => Some(FailureReason::Expired),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DialRequestState as S;
    use Transition as T;

    const ALL_TRANSITIONS: [Transition; 7] = [
        T::Claim,
        T::Retry,
        T::Complete,
        T::Fail,
        T::Expire,
        T::Cancel,
        T::Refuse,
    ];

    #[test]
    fn the_legal_moves_are_exactly_the_diagrams() {
        let legal = [
            (S::Pending, T::Claim, S::InProgress),
            (S::InProgress, T::Retry, S::Pending),
            (S::InProgress, T::Complete, S::Completed),
            (S::InProgress, T::Fail, S::Failed),
            (S::InProgress, T::Expire, S::Expired),
            (S::Pending, T::Expire, S::Expired),
            (S::Pending, T::Cancel, S::Cancelled),
            (S::Pending, T::Refuse, S::Failed),
            (S::Expired, T::Complete, S::Completed),
        ];
        for from in S::ALL {
            for t in ALL_TRANSITIONS {
                let expected = legal
                    .iter()
                    .find(|(f, m, _)| *f == from && *m == t)
                    .map(|(_, _, to)| *to);
                assert_eq!(transition(from, t).ok(), expected, "{t:?} from {from:?}");
            }
        }
    }

    #[test]
    fn final_states_stay_final() {
        for from in [S::Completed, S::Failed, S::Cancelled] {
            for t in ALL_TRANSITIONS {
                assert_eq!(
                    transition(from, t),
                    Err(TransitionError {
                        from,
                        transition: t
                    })
                );
            }
        }
    }

    #[test]
    fn guards_list_the_source_states() {
        assert_eq!(
            T::Complete.sql_guard("d.state"),
            "d.state in ('in_progress', 'expired')"
        );
        assert_eq!(T::Claim.sql_guard("state"), "state in ('pending')");
    }

    #[test]
    fn reasons_keep_their_stored_spellings() {
        let idempotency = FailureReason::Item(FailureReasonCode::IdempotencyException);
        assert_eq!(idempotency.as_str(), "IDEMPOTENCY_EXCEPTION");
        assert_eq!(FailureReason::Expired.as_str(), "EXPIRED");
        assert_eq!(FailureReason::CampaignStopped.as_str(), "CAMPAIGN_STOPPED");
        assert_eq!(FailureReason::DoNotCall.as_str(), "DO_NOT_CALL");
        assert_eq!(
            FailureReason::CallResourceNotFound.as_str(),
            "CALL_RESOURCE_NOT_FOUND"
        );
        assert_eq!(
            FailureReason::Message(MessageFailure::AttributeMissing).as_str(),
            "TEMPLATE_ATTRIBUTE_MISSING"
        );
    }

    #[test]
    fn a_retried_outcome_is_stored_as_its_spelling_in_capitals() {
        // The SQL that retries a request writes `upper(outcome)`.
        for outcome in Outcome::ALL {
            assert_eq!(
                FailureReason::RetriedAfter(outcome).as_str(),
                outcome.as_str().to_uppercase()
            );
        }
    }

    #[test]
    fn item_results_move_from_in_progress() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let throttled = FailureReason::Item(FailureReasonCode::RequestThrottled);
        for (result, to, reason) in [
            (
                ItemResult::Created {
                    contact_id: "c".into(),
                },
                None,
                None,
            ),
            (
                ItemResult::Retry {
                    reason: throttled,
                    not_before: at,
                },
                Some(S::Pending),
                Some(throttled),
            ),
            (
                ItemResult::Failed {
                    reason: FailureReason::CallAccessDenied,
                },
                Some(S::Failed),
                Some(FailureReason::CallAccessDenied),
            ),
            (
                ItemResult::Expired,
                Some(S::Expired),
                Some(FailureReason::Expired),
            ),
            (
                ItemResult::Sent { contact_id: None },
                Some(S::Completed),
                None,
            ),
        ] {
            let moved = result
                .transition()
                .map(|t| transition(S::InProgress, t).ok());
            assert_eq!(moved.flatten(), to, "{result:?}");
            assert_eq!(result.reason(), reason, "{result:?}");
        }
    }
}
