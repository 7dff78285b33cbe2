//! E.164 phone numbers: the only form in which a number enters the queue.
//!
//! Invariants of a [`PhoneNumber`]:
//! - it is `+` followed by 7 to 15 ASCII digits, the first not `0`;
//! - it starts with a country calling code that ITU-T has assigned (E.164 country codes are
//!   prefix-free, so the code is found unambiguously);
//! - under `+1` (the North American Numbering Plan) it is `NXX NXX XXXX` with no `N11` area code.
//!
//! A phone number is personal data: neither `Debug` nor any error shows more than the country
//! calling code, and there is deliberately no `Display`.

use std::fmt;
use std::str::FromStr;

/// E.164 caps a number at 15 digits, country code included.
const MAX_DIGITS: usize = 15;
/// E.164 sets no minimum; the shortest numbers in service are 4-digit subscriber numbers under
/// 3-digit country codes (Niue +683, Tokelau +690), so 7 digits. Anything shorter is a short
/// code or a truncated number, neither of which can be dialed internationally.
const MIN_DIGITS: usize = 7;

/// Two-digit country calling codes assigned in the ITU-T list of E.164 country codes (the
/// Complement to Recommendation E.164); 1 and 7 are the only one-digit codes. Codes absent
/// here are spare or withdrawn.
const TWO_DIGIT_CODES: &[u16] = &[
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// Three-digit country calling codes, geographic and global services (800 freephone, 808
/// shared cost, 870 Inmarsat, 878 UPT, 881 satellite, 882/883 international networks, 888
/// OCHA, 979 premium rate). Left out as spare or withdrawn: 210, 214, 215, 217, 219, 259,
/// 280-289, 292-296, 384, 388 (ETNS, withdrawn), 422, 424-429, 671 and 684 (Guam and American
/// Samoa moved to +1), 693-699, 801-807, 809, 851, 854, 857-859, 871-874 (old Inmarsat ocean
/// regions), 875-877, 879, 884, 885, 887, 889, 969, 978, 990, 991, 997, 999.
const THREE_DIGIT_CODES: &[u16] = &[
    211, 212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233,
    234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252,
    253, 254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297,
    298, 299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376,
    377, 378, 379, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504,
    505, 506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674,
    675, 676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808,
    850, 852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965,
    966, 967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// A validated E.164 number, e.g. `+14155550123`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

/// Why a string is not an acceptable E.164 number. Messages never contain the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was given.
    #[error("phone number is empty")]
    Empty,
    /// The first character is not `+`.
    #[error("phone number must be in E.164 format: '+' followed by the country calling code")]
    MissingPlus,
    /// Something other than a digit follows the `+` (space, dash, letter, second `+`...).
    #[error("phone number may contain only digits after the leading '+'")]
    InvalidCharacter,
    /// The first digit is `0`, which no country calling code starts with.
    #[error("phone number cannot start with +0: no country calling code begins with 0")]
    LeadingZero,
    /// Fewer digits than any number in service.
    #[error("phone number has {digits} digits; at least {MIN_DIGITS} are needed")]
    TooShort {
        /// How many digits were given.
        digits: usize,
    },
    /// More digits than E.164 allows.
    #[error("phone number has {digits} digits; E.164 allows at most {MAX_DIGITS}")]
    TooLong {
        /// How many digits were given.
        digits: usize,
    },
    /// The leading digits are not an assigned country calling code.
    #[error("phone number does not start with an assigned ITU-T E.164 country calling code")]
    UnknownCountryCode,
    /// A `+1` number that breaks the North American Numbering Plan; the text says which rule.
    #[error("{0}")]
    InvalidNanp(&'static str),
}

impl PhoneNumber {
    /// Parses and validates a number in E.164 form. No whitespace, punctuation or national
    /// prefixes are tolerated: the API contract is E.164, and guessing would dial wrong numbers.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        if input.is_empty() {
            return Err(PhoneError::Empty);
        }
        let digits = input.strip_prefix('+').ok_or(PhoneError::MissingPlus)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::InvalidCharacter);
        }
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        let count = digits.len();
        if count < MIN_DIGITS {
            return Err(PhoneError::TooShort { digits: count });
        }
        if count > MAX_DIGITS {
            return Err(PhoneError::TooLong { digits: count });
        }
        let (country_code, national) =
            split_country_code(digits).ok_or(PhoneError::UnknownCountryCode)?;
        if country_code == 1 {
            check_nanp(national)?;
        }
        Ok(Self {
            e164: input.to_owned(),
            country_code,
        })
    }

    /// Parses a number as people write one in lists: spaces, dashes, dots and parentheses
    /// are dropped and a `00` international prefix becomes `+`; what remains must be E.164.
    /// For do-not-call entries, where a number written `+1 (415) 555-0123` must match the
    /// request for `+14155550123`. National forms (no country code) are still refused: the
    /// country cannot be guessed.
    pub fn parse_written(input: &str) -> Result<Self, PhoneError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\t'))
            .collect();
        match compact.strip_prefix("00") {
            Some(rest) => Self::parse(&format!("+{rest}")),
            None => Self::parse(&compact),
        }
    }

    /// The number in E.164 form, for dialing and storage only; never log it.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The ITU-T country calling code, e.g. `44` for `+442079460000`.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber(+{}…)", self.country_code)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits off the country calling code. Zone 1 and 7 codes are the single digit; elsewhere
/// the two-digit table is tried before the three-digit one, which is unambiguous because
/// E.164 codes are prefix-free.
fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    if let Some(national) = digits.strip_prefix('1') {
        return Some((1, national));
    }
    if let Some(national) = digits.strip_prefix('7') {
        return Some((7, national));
    }
    for len in [2, 3] {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        let table = if len == 2 {
            TWO_DIGIT_CODES
        } else {
            THREE_DIGIT_CODES
        };
        if table.binary_search(&code).is_ok() {
            return Some((code, &digits[len..]));
        }
    }
    None
}

/// NANP national numbers are `NPA NXX XXXX` with `N` = 2-9; `N11` are service codes
/// (211, 411, 911...), never area codes.
fn check_nanp(national: &str) -> Result<(), PhoneError> {
    let b = national.as_bytes();
    if b.len() != 10 {
        return Err(PhoneError::InvalidNanp(
            "+1 (NANP) numbers have exactly 10 digits after the country code",
        ));
    }
    if b[0] < b'2' {
        return Err(PhoneError::InvalidNanp(
            "+1 (NANP) area codes cannot start with 0 or 1",
        ));
    }
    if b[1] == b'1' && b[2] == b'1' {
        return Err(PhoneError::InvalidNanp(
            "+1 (NANP) area codes cannot be N11 service codes",
        ));
    }
    if b[3] < b'2' {
        return Err(PhoneError::InvalidNanp(
            "+1 (NANP) exchange codes cannot start with 0 or 1",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_numbers_lose_their_separators_but_keep_their_country() {
        for written in [
            "+1 (415) 555-0123",
            " +1.415.555.0123 ",
            "0014155550123",
            "+1\t415 555 0123",
        ] {
            assert_eq!(
                PhoneNumber::parse_written(written).map(|p| p.as_str().to_string()),
                Ok("+14155550123".to_string()),
                "{written:?}"
            );
        }
        assert_eq!(
            PhoneNumber::parse_written("(415) 555-0123"),
            Err(PhoneError::MissingPlus)
        );
        assert_eq!(
            PhoneNumber::parse_written("+1 415 555 O123"),
            Err(PhoneError::InvalidCharacter)
        );
    }

    #[test]
    fn accepts_numbers_from_many_countries() {
        let cases = [
            ("+14155550123", 1),     // US
            ("+16135550123", 1),     // Canada
            ("+18765550123", 1),     // Jamaica, NANP
            ("+74951234567", 7),     // Russia
            ("+201001234567", 20),   // Egypt
            ("+442079460000", 44),   // UK
            ("+4915123456789", 49),  // Germany mobile
            ("+33612345678", 33),    // France
            ("+61412345678", 61),    // Australia
            ("+819012345678", 81),   // Japan
            ("+8613812345678", 86),  // China
            ("+919876543210", 91),   // India
            ("+5511987654321", 55),  // Brazil
            ("+2348031234567", 234), // Nigeria
            ("+35312345678", 353),   // Ireland
            ("+38344123456", 383),   // Kosovo
            ("+85291234567", 852),   // Hong Kong
            ("+97150123456", 971),   // UAE
            ("+6834002", 683),       // Niue, 4-digit subscriber number
            ("+80012345678", 800),   // UIFN freephone
            ("+881612345678", 881),  // Iridium
        ];
        for (input, code) in cases {
            let number = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(number.as_str(), input);
            assert_eq!(number.country_code(), code, "{input}");
        }
        let longest = PhoneNumber::parse("+491234567890123").unwrap();
        assert_eq!(longest.as_str().len(), 1 + MAX_DIGITS);
    }

    #[test]
    fn rejects_empty_and_missing_plus() {
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Empty));
        for input in [
            "14155550123",
            "004414155550",
            "-14155550123",
            " +14155550123",
        ] {
            assert_eq!(
                PhoneNumber::parse(input),
                Err(PhoneError::MissingPlus),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_anything_but_digits_after_plus() {
        for input in [
            "++14155550123",
            "+-14155550123",
            "+1 415 555 0123",
            "+1-415-555-0123",
            "+1(415)5550123",
            "+1415555012a",
            "+14155550123 ",
            "+1415555\u{0663}123",
        ] {
            assert_eq!(
                PhoneNumber::parse(input),
                Err(PhoneError::InvalidCharacter),
                "{input:?}"
            );
        }
    }

    #[test]
    fn rejects_leading_zero() {
        assert_eq!(
            PhoneNumber::parse("+0441234567890"),
            Err(PhoneError::LeadingZero)
        );
    }

    #[test]
    fn rejects_wrong_lengths() {
        assert_eq!(
            PhoneNumber::parse("+"),
            Err(PhoneError::TooShort { digits: 0 })
        );
        assert_eq!(
            PhoneNumber::parse("+683400"),
            Err(PhoneError::TooShort { digits: 6 })
        );
        assert!(PhoneNumber::parse("+6834002").is_ok());
        assert_eq!(
            PhoneNumber::parse("+4912345678901234"),
            Err(PhoneError::TooLong { digits: 16 })
        );
    }

    #[test]
    fn rejects_spare_country_codes() {
        for input in [
            "+2812345678", // 28x spare
            "+2101234567", // 210 spare
            "+3841234567", // 384 spare
            "+4221234567", // 422 spare
            "+6711234567", // Guam is +1 671 now
            "+8011234567", // 80x other than 800/808
            "+8541234567", // 854 spare
            "+9691234567", // former South Yemen
            "+9781234567", // former Dubai
            "+9901234567", // spare
            "+9971234567", // spare
            "+9991234567", // reserved
        ] {
            assert_eq!(
                PhoneNumber::parse(input),
                Err(PhoneError::UnknownCountryCode),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_invalid_nanp_numbers() {
        let cases = [
            ("+1415555012", "exactly 10 digits"),
            ("+141555501234", "exactly 10 digits"),
            ("+10155550123", "area codes cannot start with 0 or 1"),
            ("+11155550123", "area codes cannot start with 0 or 1"),
            ("+19115550123", "N11"),
            ("+14150550123", "exchange codes cannot start with 0 or 1"),
            ("+14151550123", "exchange codes cannot start with 0 or 1"),
        ];
        for (input, reason) in cases {
            let err = PhoneNumber::parse(input).unwrap_err();
            assert!(
                matches!(err, PhoneError::InvalidNanp(text) if text.contains(reason)),
                "{input}: {err}"
            );
        }
    }

    #[test]
    fn country_code_tables_are_sorted_and_prefix_free() {
        assert!(TWO_DIGIT_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(THREE_DIGIT_CODES.windows(2).all(|w| w[0] < w[1]));
        for code in THREE_DIGIT_CODES {
            assert!(
                TWO_DIGIT_CODES.binary_search(&(code / 10)).is_err(),
                "{code}"
            );
            assert!(![1, 7].contains(&(code / 100)), "{code}");
        }
        for code in TWO_DIGIT_CODES {
            assert!(![1, 7].contains(&(code / 10)), "{code}");
        }
    }

    #[test]
    fn debug_and_errors_do_not_reveal_the_number() {
        let number = PhoneNumber::parse("+442079460000").unwrap();
        assert_eq!(format!("{number:?}"), "PhoneNumber(+44…)");
        for input in [
            "+44207946000x",
            "+44207946000012345",
            "+2812345678",
            "+1415055501",
        ] {
            let message = PhoneNumber::parse(input).unwrap_err().to_string();
            assert!(!message.contains("2079"), "{message}");
            assert!(!message.contains("5550"), "{message}");
            assert!(!message.contains("12345"), "{message}");
        }
    }

    #[test]
    fn from_str_is_parse() {
        let number: PhoneNumber = "+33612345678".parse().unwrap();
        assert_eq!(number.country_code(), 33);
        assert_eq!("+0".parse::<PhoneNumber>(), Err(PhoneError::LeadingZero));
    }
}
