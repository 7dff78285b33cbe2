//! A recipient's time zone from the phone number alone: the longest prefix of its E.164
//! digits in a table generated from libphonenumber's time-zone data
//! ([`number_zones_data`](super::number_zones_data), by `scripts/gen-number-zones`). A
//! number maps to a zone only where every number under its prefix is in that one zone: the
//! country for a one-zone country, the area code for most of NANP. A number of a country or
//! area spanning several zones (a Russian mobile, an Australian mobile, area code 907 in
//! Alaska) maps to none, so that the caller falls back to the campaign's zone instead of
//! guessing. Pure.

use chrono_tz::Tz;

use super::number_zones_data::{AMBIGUOUS, PREFIXES, ZONES};
use super::window::zone;

/// The longest prefix in the table.
const LONGEST: usize = 15;

/// The time zone of an E.164 number (`+` and digits), if its prefix names exactly one.
pub fn zone_of_number(e164: &str) -> Option<Tz> {
    let digits = e164.strip_prefix('+')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (1..=digits.len().min(LONGEST)).rev().find_map(|len| {
        let prefix = &digits[..len];
        PREFIXES
            .binary_search_by(|(p, _)| (*p).cmp(prefix))
            .ok()
            .map(|at| {
                let index = PREFIXES[at].1;
                (index != AMBIGUOUS)
                    .then(|| ZONES.get(usize::from(index)).copied().and_then(zone))
                    .flatten()
            })
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Europe, Pacific};

    #[test]
    fn every_zone_of_the_table_is_one_chrono_tz_knows() {
        for name in ZONES {
            assert!(zone(name).is_some(), "{name}");
        }
        assert!(
            PREFIXES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, no repeats"
        );
        assert!(PREFIXES
            .iter()
            .all(|(_, i)| *i == AMBIGUOUS || usize::from(*i) < ZONES.len()));
    }

    #[test]
    fn nanp_area_codes_on_both_sides_of_a_zone_border() {
        // Indiana and Illinois: 812 (Evansville, Eastern) and 618 (southern Illinois, Central).
        assert_eq!(zone_of_number("+18125550123"), Some(America::New_York));
        assert_eq!(zone_of_number("+16185550123"), Some(America::Chicago));
        // West Texas: 915 (El Paso, Mountain) and 432 (Midland, Central).
        assert_eq!(zone_of_number("+19155550123"), Some(America::Denver));
        assert_eq!(zone_of_number("+14325550123"), Some(America::Chicago));
        // Idaho's one area code is split by exchange: Boise (Mountain), Coeur d'Alene (Pacific).
        assert_eq!(zone_of_number("+12083451234"), Some(America::Denver));
        assert_eq!(zone_of_number("+12086671234"), Some(America::Los_Angeles));
        // Arizona keeps standard time all year; Denver does not.
        assert_eq!(zone_of_number("+16025550123"), Some(America::Phoenix));
        assert_eq!(zone_of_number("+13035550123"), Some(America::Denver));
        // Alaska's area code spans two zones: no guess.
        assert_eq!(zone_of_number("+19075550123"), None);
    }

    #[test]
    fn a_one_zone_country_maps_whole_and_a_multi_zone_country_falls_through() {
        assert_eq!(zone_of_number("+33612345678"), Some(Europe::Paris));
        assert_eq!(zone_of_number("+4915123456789"), Some(Europe::Berlin));
        // Russian and Australian mobiles carry no region.
        assert_eq!(zone_of_number("+79123456789"), None);
        assert_eq!(zone_of_number("+61412345678"), None);
        // Not a number at all, or a country code nobody has.
        assert_eq!(zone_of_number("14155550123"), None);
        assert_eq!(zone_of_number("+1415555x123"), None);
        assert_eq!(zone_of_number("+"), None);
    }

    #[test]
    fn date_line_countries_get_their_side() {
        // Samoa (+685) is UTC+13, Kiribati (+686) spans three zones up to UTC+14, and
        // Hawaii (NANP 808), on the other side of the line, is UTC-10.
        assert_eq!(zone_of_number("+6857212345"), Some(Pacific::Apia));
        assert_eq!(zone_of_number("+68672012345"), None);
        assert_eq!(zone_of_number("+18085550123"), Some(Pacific::Honolulu));
    }
}
