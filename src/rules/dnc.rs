//! Do-not-call lists: which list an entry is on, and how a list file is read. Pure; the
//! SQL is in [`super::store`], and the check at dial time in the engine's claim.
//!
//! An account has one account-wide list, which applies to all its campaigns, and each
//! campaign may have its own suppression list. A request is refused if its number is on
//! either.

use crate::queue::phone::PhoneError;
use crate::queue::PhoneNumber;

/// Which list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DncList {
    /// The account-wide list.
    Account,
    /// A campaign's suppression list.
    Campaign(String),
}

impl DncList {
    /// The `list` column's value: empty for the account-wide list, else the campaign id.
    pub fn stored(&self) -> &str {
        match self {
            DncList::Account => "",
            DncList::Campaign(id) => id,
        }
    }

    /// The list for an optional campaign.
    pub fn of(campaign: Option<String>) -> Self {
        campaign.map_or(DncList::Account, DncList::Campaign)
    }
}

/// Whether a number is on the account's list and on the campaign's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    /// On the account-wide list.
    pub account: bool,
    /// On the campaign's suppression list (false when no campaign was asked about).
    pub campaign: bool,
}

impl Listed {
    /// Whether a request for the number would be refused.
    pub fn any(self) -> bool {
        self.account || self.campaign
    }
}

/// The numbers of a list file, one a line as [`PhoneNumber::parse_written`] reads them;
/// blank lines and lines starting with `#` are skipped. Returns the numbers and the bad
/// lines (1-based line number and what is wrong, never the line's text).
pub fn read_list(text: &str) -> (Vec<PhoneNumber>, Vec<(usize, PhoneError)>) {
    let mut numbers = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match PhoneNumber::parse_written(line) {
            Ok(number) => numbers.push(number),
            Err(error) => bad.push((i + 1, error)),
        }
    }
    (numbers, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_file_skips_comments_and_reports_bad_lines_by_number() {
        let (numbers, bad) = read_list("# opted out\n+14155550123\n\n+44 20 7946 0000\n12345\n");
        let numbers: Vec<&str> = numbers.iter().map(PhoneNumber::as_str).collect();
        assert_eq!(numbers, ["+14155550123", "+442079460000"]);
        assert_eq!(bad, [(5, PhoneError::MissingPlus)]);
    }

    #[test]
    fn the_account_list_is_stored_as_the_empty_name() {
        assert_eq!(DncList::of(None).stored(), "");
        assert_eq!(DncList::of(Some("c1".into())).stored(), "c1");
        assert!(Listed {
            account: false,
            campaign: true
        }
        .any());
        assert!(!Listed::default().any());
    }
}
