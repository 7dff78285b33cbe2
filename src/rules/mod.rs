//! Calling rules: what may stop or delay a dial request at the moment it would be dialed.
//!
//! Enforced now: do-not-call lists ([`dnc`]), an account-wide list and one suppression list
//! per campaign, checked by the engine's claim in the statement that takes requests, so that
//! a number listed after its request was queued is never called (the request ends `failed`
//! with reason `DO_NOT_CALL`). Every decision of the claim (dial or refuse) is appended to
//! the ledger ([`ledger`]) in that same statement. Communication limits ([`limits`]) are
//! counted and enforced there too: a recipient who had its share of contacts ends `failed`
//! with reason `LIMIT_EXCEEDED`. A call to a number that had a call abandoned within
//! `engine.abandoned_quiet_hours` waits there until the quiet period ends
//! ([`store::abandon_quiet_cte`]; the abandon is recorded by the statement that writes it,
//! [`store::abandon_record_cte`]). Numbers are kept and exported only as keyed hashes
//! ([`number_hash`]).
//!
//! [`store`] holds the SQL of the lists and the ledger; the claim's side of both is spliced
//! into the engine's claim statement as CTEs.

pub mod cli;
pub mod dnc;
pub mod ledger;
pub mod limits;
pub mod number_hash;
pub mod number_zone;
#[rustfmt::skip]
pub mod number_zones_data;
pub mod retry;
pub mod store;
pub mod window;

use crate::queue::phone::PhoneError;

/// Failures of the rules' operations.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A number that is not E.164 (also after dropping separators), named by its place in
    /// the input (counted from 1 in the message), never by the number itself.
    #[error("phone number #{}: {error}", .index + 1)]
    InvalidNumber {
        /// Zero-based position in the input.
        index: usize,
        /// What is wrong with it.
        error: PhoneError,
    },
    /// The campaign named for a suppression list is not one of the account's.
    #[error("campaign {0} not found")]
    CampaignNotFound(String),
    /// The database has no number-hashing key: its migrations were not applied.
    #[error("the database has no number_hash_key row; run `dialer migrate`")]
    NoHashKey,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}
