//! Accounts: who owns what.
//!
//! As in AWS, every access key belongs to an account, and every resource (a campaign with its
//! dial requests and tags, an instance's onboarding job and config) belongs to the account of
//! the key that created it. The API edge finds the caller's account from the key that signed
//! the request (or takes the default account, `aws.account_id`, when auth is off) and hands
//! it to the handlers; every store function that serves the API takes it and reads or writes
//! only that account's rows. Another account's resources do not exist for a caller, except
//! that an ARN naming another account is refused as access denied, as AWS does.
//!
//! The engine is the exception: it dials the campaigns of every account (campaign ids are
//! globally unique).

use std::collections::BTreeMap;
use std::fmt;

/// A twelve-digit AWS account id. One that exists has been checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

/// Why a string is not an account id. The value is not repeated: it may come from a
/// malformed access key entry, next to a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an account id must be 12 digits")]
pub struct AccountIdError;

impl AccountId {
    /// Checks that `id` is twelve ASCII digits.
    pub fn parse(id: &str) -> Result<AccountId, AccountIdError> {
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(id.to_string()))
        } else {
            Err(AccountIdError)
        }
    }

    /// The id, as in ARNs and in the database.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A configured access key: its secret and the account it acts for.
#[derive(Clone, PartialEq)]
pub struct AccessKey {
    secret: String,
    /// The account whose resources requests signed with this key see and create.
    pub account: AccountId,
}

impl AccessKey {
    /// A key signing with `secret` for `account`.
    pub fn new(secret: String, account: AccountId) -> Self {
        Self { secret, account }
    }

    /// The secret requests are signed with.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AccessKey {
    // Secrets must never reach a log line, even through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// The access keys the API accepts, by key id, and the account of unsigned callers when auth
/// is off.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyStore {
    keys: BTreeMap<String, AccessKey>,
    default_account: AccountId,
}

impl KeyStore {
    /// A store of `keys`; `default_account` is the account of callers when auth is off.
    pub fn new(keys: BTreeMap<String, AccessKey>, default_account: AccountId) -> Self {
        Self {
            keys,
            default_account,
        }
    }

    /// The key with this id.
    pub fn get(&self, key_id: &str) -> Option<&AccessKey> {
        self.keys.get(key_id)
    }

    /// Key ids, in order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// `aws.account_id`: the account of keys configured without one, and of every caller
    /// when auth is off.
    pub fn default_account(&self) -> &AccountId {
        &self.default_account
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert_eq!(
            AccountId::parse("210987654321").map(|a| a.to_string()),
            Ok("210987654321".to_string())
        );
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "١٢٣٤٥٦٧٨٩٠١٢",
        ] {
            assert_eq!(AccountId::parse(bad), Err(AccountIdError), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = AccessKey::new(
            "supersecret".into(),
            AccountId::parse("123456789012").unwrap(),
        );
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("supersecret") && shown.contains("123456789012"),
            "{shown}"
        );
    }
}
