//! Communication time windows: whether a recipient may be contacted at an instant, in the
//! recipient's local time, and when that next changes. Pure (no I/O, no clock); the
//! campaign's `communicationTimeConfig` (v2 wire shapes in [`crate::campaigns::channels`])
//! is compiled once into a [`Window`].
//!
//! Semantics, where the v2 model leaves them open:
//! - open hours are wall-clock ranges `[startTime, endTime)` per day of the week, `T24:00`
//!   allowed as an end; a range that does not end after it starts is refused (no overnight
//!   ranges: split them over two days);
//! - a restricted period closes whole local days, `startDate` to `endDate` **inclusive** (a
//!   one-day holiday is `startDate = endDate`; an exclusive end would make it close nothing,
//!   and a compliance rule that errs must err towards not calling);
//! - an instant is open when the recipient's wall clock then reads a time inside a range of
//!   that day and the day is not restricted. So on a spring-forward day a range inside the
//!   skipped hour never opens, and on a fall-back day a range inside the repeated hour is
//!   open on both passes.
//!
//! [`Window::next_change`] finds when the state flips. The state can only change where the
//! wall clock crosses a range boundary or midnight, or jumps (a UTC-offset change), so those
//! instants are the candidates, tried in order; a boundary in a skipped hour maps to the
//! jump, and one in a repeated hour to both of its instants.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::number_zone::zone_of_number;
use crate::campaigns::channels::{
    CommunicationTimeConfig, OpenHours, RestrictedPeriods, TimeWindow,
};

/// The days of the week as the v2 model names them, Monday first.
pub const DAYS: [&str; 7] = [
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];

/// Minutes in a day, the largest range end (`T24:00`).
const DAY_MINUTES: u32 = 24 * 60;

/// How far ahead [`Window::next_change`] looks: past the longest restricted period anyone
/// should configure (a year and a bit), and bounded so that a window that never opens is
/// answered in bounded time.
pub const HORIZON_DAYS: i64 = 400;

/// A window configuration that cannot be evaluated; each names the member at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A `dailyHours` key that is not a day of the week.
    #[error("openHours.dailyHours: {0:?} is not a day of the week (MONDAY..SUNDAY)")]
    UnknownDay(String),
    /// A time that is not `THH:MM` within a day.
    #[error("openHours.dailyHours.{day}: {time:?} is not a time THH:MM from T00:00 to T24:00")]
    BadTime {
        /// The day.
        day: String,
        /// The text.
        time: String,
    },
    /// A range that ends at or before its start.
    #[error("openHours.dailyHours.{0}: a range must end after it starts (split overnight ranges over two days)")]
    EmptyRange(String),
    /// A date that is not `YYYY-MM-DD`, or a period ending before it starts.
    #[error("restrictedPeriods: {0}")]
    BadPeriod(String),
}

/// Whether contact is allowed at an instant, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Open; it closes at `closes_at` (`None`: not within [`HORIZON_DAYS`]).
    Open {
        /// When it closes.
        closes_at: Option<DateTime<Utc>>,
    },
    /// Closed; it opens at `opens_at` (`None`: not within [`HORIZON_DAYS`]).
    Closed {
        /// When it opens.
        opens_at: Option<DateTime<Utc>>,
    },
}

/// A compiled time window of one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Open ranges per weekday (Monday first), in minutes after local midnight, `[start, end)`.
    hours: [Vec<(u32, u32)>; 7],
    /// Closed local days, inclusive.
    closed: Vec<(NaiveDate, NaiveDate)>,
}

fn minutes(day: &str, text: &str) -> Result<u32, WindowError> {
    let bad = || WindowError::BadTime {
        day: day.to_string(),
        time: text.to_string(),
    };
    let (h, m) = text
        .strip_prefix('T')
        .and_then(|t| t.split_once(':'))
        .ok_or_else(bad)?;
    let all_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(h) || !all_digits(m) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let total = h * 60 + m;
    if m >= 60 || total > DAY_MINUTES {
        return Err(bad());
    }
    Ok(total)
}

fn date(text: &str) -> Result<NaiveDate, WindowError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| WindowError::BadPeriod(format!("{text:?} is not a date YYYY-MM-DD")))
}

/// The IANA time zone of that name (`America/New_York`), if chrono-tz knows it.
pub fn zone(name: &str) -> Option<Tz> {
    Tz::from_str(name).ok()
}

/// The recipient's wall-clock time at `at`, as the ledger records it.
pub fn local_time(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

impl Window {
    /// Compiles a channel's window, refusing what cannot be evaluated.
    pub fn compile(config: &TimeWindow) -> Result<Window, WindowError> {
        let OpenHours::DailyHours(daily) = &config.open_hours;
        let mut hours: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, ranges) in daily {
            let index = DAYS
                .iter()
                .position(|d| d == day)
                .ok_or_else(|| WindowError::UnknownDay(day.clone()))?;
            for range in ranges {
                let (start, end) = (
                    minutes(day, &range.start_time)?,
                    minutes(day, &range.end_time)?,
                );
                if end <= start {
                    return Err(WindowError::EmptyRange(day.clone()));
                }
                hours[index].push((start, end));
            }
        }
        let mut closed = Vec::new();
        if let Some(RestrictedPeriods::RestrictedPeriodList(periods)) = &config.restricted_periods {
            for period in periods {
                let (start, end) = (date(&period.start_date)?, date(&period.end_date)?);
                if end < start {
                    return Err(WindowError::BadPeriod(format!(
                        "{} ends before it starts",
                        period.name.as_deref().unwrap_or("a period")
                    )));
                }
                closed.push((start, end));
            }
        }
        Ok(Window { hours, closed })
    }

    /// Whether a recipient in `tz` may be contacted at `at`.
    pub fn is_open(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        let local = local_time(tz, at);
        let day = local.date();
        if self.closed.iter().any(|(s, e)| (*s..=*e).contains(&day)) {
            return false;
        }
        let minute = local
            .time()
            .signed_duration_since(NaiveTime::MIN)
            .num_minutes() as u32;
        let weekday = day.weekday().num_days_from_monday() as usize;
        self.hours[weekday]
            .iter()
            .any(|(start, end)| (*start..*end).contains(&minute))
    }

    /// The state at `at`, with the next change.
    pub fn state(&self, tz: Tz, at: DateTime<Utc>) -> WindowState {
        if self.is_open(tz, at) {
            WindowState::Open {
                closes_at: self.next_change(tz, at, false),
            }
        } else {
            WindowState::Closed {
                opens_at: self.next_change(tz, at, true),
            }
        }
    }

    /// The first instant after `at` at which the window is open (`open`) or closed (not
    /// `open`), within [`HORIZON_DAYS`].
    pub fn next_change(&self, tz: Tz, at: DateTime<Utc>, open: bool) -> Option<DateTime<Utc>> {
        self.change_within(tz, at, open, HORIZON_DAYS)
    }

    /// [`Window::next_change`], if it comes no later than `by`. Only the local days up to
    /// `by` are searched: a claim asks this of every open request, and a window open around
    /// the clock would otherwise be searched to the horizon each time.
    pub fn next_change_by(
        &self,
        tz: Tz,
        at: DateTime<Utc>,
        open: bool,
        by: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // Capped first: a far `by` (the simulator's never-expiring requests) has no local
        // time east of UTC.
        let horizon = at + Duration::days(HORIZON_DAYS + 1);
        let days = (local_time(tz, by.min(horizon)).date() - local_time(tz, at).date()).num_days();
        self.change_within(tz, at, open, days.min(HORIZON_DAYS))
            .filter(|change| *change <= by)
    }

    /// The first change after `at` found in the `days` local days after `at`'s.
    fn change_within(
        &self,
        tz: Tz,
        at: DateTime<Utc>,
        open: bool,
        days: i64,
    ) -> Option<DateTime<Utc>> {
        let first_day = local_time(tz, at).date();
        for offset in 0..=days {
            let day = first_day + Duration::days(offset);
            let weekday = day.weekday().num_days_from_monday() as usize;
            let mut candidates: Vec<DateTime<Utc>> = std::iter::once(0)
                .chain(self.hours[weekday].iter().flat_map(|(s, e)| [*s, *e]))
                .flat_map(|minute| instants(tz, day, minute))
                .chain(offset_change(tz, day))
                .filter(|c| *c > at)
                .collect();
            candidates.sort_unstable();
            if let Some(found) = candidates
                .into_iter()
                .find(|c| self.is_open(tz, *c) == open)
            {
                return Some(found);
            }
        }
        None
    }
}

/// A campaign's window for one channel, with how a request's time zone is found: the
/// request's attribute `zone_attribute` if it names an IANA zone, else the zone of its phone
/// number if its prefix names exactly one ([`zone_of_number`]), else the campaign's default.
#[derive(Debug, Clone)]
pub struct CommunicationTime {
    /// The window.
    pub window: Window,
    /// `localTimeZoneConfig.defaultTimeZone`, if it names a zone.
    pub default_zone: Option<Tz>,
    /// The request attribute that may name the recipient's zone.
    pub zone_attribute: String,
}

/// Where a request's time zone came from, as the ledger records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// The request's zone attribute.
    Attribute,
    /// The phone number's prefix.
    PhoneNumber,
    /// The campaign's `defaultTimeZone`.
    Campaign,
}

impl ZoneSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Attribute => "attribute",
            ZoneSource::PhoneNumber => "phone_number",
            ZoneSource::Campaign => "campaign",
        }
    }
}

/// A recipient's time zone and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    /// The zone.
    pub tz: Tz,
    /// Its source.
    pub source: ZoneSource,
}

/// What the window says of one request at the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Contact it now.
    Open {
        /// The recipient's zone.
        zone: Zone,
        /// Its local time.
        local: NaiveDateTime,
        /// When the hours close, if before the request's expiration: no call may start
        /// after, whatever happens to the batch in between (a re-send after a failed call).
        closes_at: Option<DateTime<Utc>>,
    },
    /// Not now: it waits until `until` (the opening, or its expiration if the window does
    /// not open before, when the sweeper expires it).
    Wait {
        /// The recipient's zone.
        zone: Zone,
        /// Its local time.
        local: NaiveDateTime,
        /// When to look again.
        until: DateTime<Utc>,
    },
    /// No zone: neither the attribute, nor the number, nor the campaign names one, so no
    /// local time can be known, and the request is refused (`MISSING_TIME_ZONE`), as AWS
    /// drops such recipients.
    NoZone,
}

impl CommunicationTime {
    /// The hours `window` (one channel's of `config`), compiled, with the campaign's default
    /// zone from `config` and zones read from the request attribute `zone_attribute`.
    pub fn compile(
        config: &CommunicationTimeConfig,
        window: &TimeWindow,
        zone_attribute: &str,
    ) -> Result<Self, WindowError> {
        Ok(CommunicationTime {
            window: Window::compile(window)?,
            default_zone: config
                .local_time_zone_config
                .default_time_zone
                .as_deref()
                .and_then(zone),
            zone_attribute: zone_attribute.to_string(),
        })
    }

    /// The zone of a request whose zone attribute is `zone_name` and number `phone_number`.
    pub fn zone(&self, zone_name: Option<&str>, phone_number: &str) -> Option<Zone> {
        let found = |source| move |tz| Zone { tz, source };
        zone_name
            .and_then(zone)
            .map(found(ZoneSource::Attribute))
            .or_else(|| zone_of_number(phone_number).map(found(ZoneSource::PhoneNumber)))
            .or_else(|| self.default_zone.map(found(ZoneSource::Campaign)))
    }

    /// The gate of a request whose zone attribute is `zone_name` and number `phone_number`,
    /// expiring at `expires_at`, at `now`.
    pub fn gate(
        &self,
        zone_name: Option<&str>,
        phone_number: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Gate {
        let Some(zone) = self.zone(zone_name, phone_number) else {
            return Gate::NoZone;
        };
        let local = local_time(zone.tz, now);
        if self.window.is_open(zone.tz, now) {
            Gate::Open {
                zone,
                local,
                closes_at: self.window.next_change_by(zone.tz, now, false, expires_at),
            }
        } else {
            let until = self
                .window
                .next_change(zone.tz, now, true)
                .map_or(expires_at, |opens| opens.min(expires_at));
            Gate::Wait { zone, local, until }
        }
    }
}

/// The instants at which the wall clock of `tz` reads `minute` after midnight of `day`: one
/// usually, two in a repeated hour, and in a skipped hour the jump over it (the first
/// instant whose wall clock reads later).
fn instants(tz: Tz, day: NaiveDate, minute: u32) -> Vec<DateTime<Utc>> {
    let local = day.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        chrono::LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        chrono::LocalResult::None => {
            // Skipped: the jump is where the offset changes, within the few hours around.
            let guess = local.and_utc() - Duration::hours(14);
            jump_between(tz, guess, guess + Duration::hours(28))
                .into_iter()
                .collect()
        }
    }
}

/// The instant during local `day` at which the UTC offset of `tz` changes, if it does: the
/// search spans every instant that can be in that local day, and keeps a change only if the
/// wall clock then reads a time of that day (else it belongs to a neighbour's candidates).
fn offset_change(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    let start = day.and_time(NaiveTime::MIN).and_utc() - Duration::hours(14);
    jump_between(tz, start, start + Duration::hours(50))
        .filter(|jump| local_time(tz, *jump).date() == day)
}

/// The first offset change of `tz` in `(from, to]`, to the second (offsets change on whole
/// seconds), if the offsets at the two ends differ (no zone changes offset twice within two
/// days).
fn jump_between(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let offset =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|t| t.with_timezone(&tz).offset().fix());
    let (mut lo, mut hi) = (from.timestamp(), to.timestamp());
    let before = offset(lo)?;
    if offset(hi)? == before {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset(mid)? == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::campaigns::channels::{RestrictedPeriod, TimeRange};

    fn window(days: &[&str], ranges: &[(&str, &str)], closed: &[(&str, &str)]) -> Window {
        let ranges: Vec<TimeRange> = ranges
            .iter()
            .map(|(s, e)| TimeRange {
                start_time: s.to_string(),
                end_time: e.to_string(),
            })
            .collect();
        let daily: BTreeMap<String, Vec<TimeRange>> = days
            .iter()
            .map(|d| (d.to_string(), ranges.clone()))
            .collect();
        let periods = closed
            .iter()
            .map(|(s, e)| RestrictedPeriod {
                name: None,
                start_date: s.to_string(),
                end_date: e.to_string(),
            })
            .collect();
        Window::compile(&TimeWindow {
            open_hours: OpenHours::DailyHours(daily),
            restricted_periods: Some(RestrictedPeriods::RestrictedPeriodList(periods)),
        })
        .unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn every_day(ranges: &[(&str, &str)]) -> Window {
        window(&DAYS, ranges, &[])
    }

    const NEW_YORK: Tz = chrono_tz::America::New_York;

    #[test]
    fn the_us_window_follows_new_york_across_spring_forward() {
        // 2026-03-08: New York goes from UTC-5 to UTC-4 at 02:00 local.
        let w = every_day(&[("T08:00", "T21:00")]);
        // 07:59 local the day before (UTC-5) is closed; 08:00 opens.
        assert!(!w.is_open(NEW_YORK, utc("2026-03-07T12:59:00Z")));
        assert!(w.is_open(NEW_YORK, utc("2026-03-07T13:00:00Z")));
        // On the day of the change 08:00 local is 12:00 UTC, an hour earlier in UTC.
        assert!(!w.is_open(NEW_YORK, utc("2026-03-08T11:59:00Z")));
        assert!(w.is_open(NEW_YORK, utc("2026-03-08T12:00:00Z")));
        assert_eq!(
            w.state(NEW_YORK, utc("2026-03-08T03:00:00Z")),
            WindowState::Closed {
                opens_at: Some(utc("2026-03-08T12:00:00Z"))
            }
        );
        assert_eq!(
            w.state(NEW_YORK, utc("2026-03-08T12:00:00Z")),
            WindowState::Open {
                closes_at: Some(utc("2026-03-09T01:00:00Z"))
            }
        );
    }

    #[test]
    fn a_request_that_never_expires_is_open_until_the_close_east_of_utc_too() {
        let window = every_day(&[("T09:00", "T17:00")]);
        let tokyo = chrono_tz::Asia::Tokyo;
        // 10:00 in Tokyo.
        let at = utc("2026-06-15T01:00:00Z");
        assert_eq!(
            window.next_change_by(tokyo, at, false, DateTime::<Utc>::MAX_UTC),
            Some(utc("2026-06-15T08:00:00Z"))
        );
    }

    #[test]
    fn a_range_in_the_skipped_hour_never_opens_and_one_across_it_closes_at_the_jump() {
        let sunday = ["SUNDAY"];
        let inside = window(&sunday, &[("T02:10", "T02:50")], &[]);
        // Opening looked for from Saturday: not that Sunday (02:xx does not exist), the next.
        assert_eq!(
            inside.next_change(NEW_YORK, utc("2026-03-07T12:00:00Z"), true),
            Some(utc("2026-03-15T06:10:00Z"))
        );
        let across = window(&sunday, &[("T01:00", "T02:30")], &[]);
        // Open at 01:30 EST; the clock jumps from 02:00 EST to 03:00 EDT (07:00 UTC).
        assert_eq!(
            across.state(NEW_YORK, utc("2026-03-08T06:30:00Z")),
            WindowState::Open {
                closes_at: Some(utc("2026-03-08T07:00:00Z"))
            }
        );
    }

    #[test]
    fn the_repeated_hour_of_fall_back_is_open_twice() {
        // 2026-11-01: New York goes from UTC-4 back to UTC-5 at 02:00 local.
        let w = window(&["SUNDAY"], &[("T01:00", "T01:45")], &[]);
        let first = utc("2026-11-01T05:10:00Z"); // 01:10 EDT
        assert_eq!(
            w.state(NEW_YORK, first),
            WindowState::Open {
                closes_at: Some(utc("2026-11-01T05:45:00Z"))
            }
        );
        // Closed at 01:50 EDT; at 02:00 EDT the clock reads 01:00 EST again.
        assert_eq!(
            w.state(NEW_YORK, utc("2026-11-01T05:50:00Z")),
            WindowState::Closed {
                opens_at: Some(utc("2026-11-01T06:00:00Z"))
            }
        );
        // A range that spans the change closes at its end on the second pass, not at the jump.
        let across = window(&["SUNDAY"], &[("T01:30", "T03:00")], &[]);
        assert!(across.is_open(NEW_YORK, utc("2026-11-01T05:45:00Z")));
        assert_eq!(
            across.next_change(NEW_YORK, utc("2026-11-01T05:45:00Z"), false),
            Some(utc("2026-11-01T06:00:00Z")),
            "at the jump the clock reads 01:00, before the range"
        );
        assert_eq!(
            across.next_change(NEW_YORK, utc("2026-11-01T06:00:00Z"), true),
            Some(utc("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn both_sides_of_the_date_line_see_their_own_day() {
        // At 2026-06-15T21:00Z it is Tuesday 11:00 in Kiritimati (UTC+14) and Monday 10:00
        // in Pago Pago (UTC-11).
        let at = utc("2026-06-15T21:00:00Z");
        let weekdays = window(&["MONDAY"], &[("T09:00", "T17:00")], &[]);
        assert!(!weekdays.is_open(chrono_tz::Pacific::Kiritimati, at));
        assert!(weekdays.is_open(chrono_tz::Pacific::Pago_Pago, at));
        assert_eq!(
            weekdays.next_change(chrono_tz::Pacific::Kiritimati, at, true),
            Some(utc("2026-06-21T19:00:00Z")),
            "next Monday 09:00 at UTC+14 is Sunday 19:00 UTC"
        );
        assert_eq!(
            local_time(chrono_tz::Pacific::Kiritimati, at).to_string(),
            "2026-06-16 11:00:00"
        );
    }

    #[test]
    fn restricted_days_close_whole_local_days_inclusive() {
        let w = window(
            &DAYS,
            &[("T08:00", "T21:00")],
            &[("2026-12-24", "2026-12-25")],
        );
        let paris = chrono_tz::Europe::Paris;
        assert!(w.is_open(paris, utc("2026-12-23T19:59:00Z")));
        assert!(!w.is_open(paris, utc("2026-12-24T10:00:00Z")));
        assert!(
            !w.is_open(paris, utc("2026-12-25T10:00:00Z")),
            "the end date is closed too"
        );
        assert_eq!(
            w.next_change(paris, utc("2026-12-24T10:00:00Z"), true),
            Some(utc("2026-12-26T07:00:00Z"))
        );
    }

    #[test]
    fn a_request_gets_its_attributes_zone_else_its_numbers_else_the_campaigns() {
        let time = CommunicationTime {
            window: every_day(&[("T08:00", "T21:00")]),
            default_zone: Some(NEW_YORK),
            zone_attribute: "timeZone".into(),
        };
        let now = utc("2026-06-15T13:30:00Z"); // 09:30 in New York, 22:30 in Tokyo
        let expires = utc("2026-06-20T00:00:00Z");
        let campaign = Zone {
            tz: NEW_YORK,
            source: ZoneSource::Campaign,
        };
        // Alaska's area code spans two zones: the campaign's.
        let alaska = "+19075550123";
        assert!(matches!(
            time.gate(None, alaska, now, expires),
            Gate::Open { zone, .. } if zone == campaign
        ));
        assert!(matches!(
            time.gate(Some("Not/A_Zone"), alaska, now, expires),
            Gate::Open { zone, .. } if zone == campaign
        ));
        let tokyo = chrono_tz::Asia::Tokyo;
        assert_eq!(
            time.gate(Some("Asia/Tokyo"), "+12125550123", now, expires),
            Gate::Wait {
                zone: Zone {
                    tz: tokyo,
                    source: ZoneSource::Attribute
                },
                local: local_time(tokyo, now),
                until: utc("2026-06-15T23:00:00Z"),
            }
        );
        // A Tokyo number without the attribute: its number's zone, 06:30 there.
        assert_eq!(
            time.gate(None, "+81312345678", utc("2026-06-15T21:30:00Z"), expires),
            Gate::Wait {
                zone: Zone {
                    tz: tokyo,
                    source: ZoneSource::PhoneNumber
                },
                local: local_time(tokyo, utc("2026-06-15T21:30:00Z")),
                until: utc("2026-06-15T23:00:00Z"),
            }
        );
        // Expiring before the opening: it waits for its expiration.
        let soon = utc("2026-06-15T20:00:00Z");
        assert!(
            matches!(time.gate(Some("Asia/Tokyo"), alaska, now, soon), Gate::Wait { until, .. } if until == soon)
        );
        let no_default = CommunicationTime {
            default_zone: None,
            ..time
        };
        assert_eq!(no_default.gate(None, alaska, now, expires), Gate::NoZone);
    }

    /// The close an open request's claim records, from a gate of `time` at `now`.
    fn closes_at(
        time: &CommunicationTime,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match time.gate(None, "+12125550123", now, expires) {
            Gate::Open { closes_at, .. } => closes_at,
            other => panic!("open expected at {now}: {other:?}"),
        }
    }

    #[test]
    fn an_open_request_is_dialable_until_its_hours_close_in_its_zone_or_it_expires() {
        let time = CommunicationTime {
            window: every_day(&[("T09:00", "T17:00")]),
            default_zone: None,
            zone_attribute: "timeZone".into(),
        };
        let (march, november) = (utc("2026-03-14T00:00:00Z"), utc("2026-11-08T00:00:00Z"));
        // 16:59 in New York (a 212 number) closes at 17:00 local: 22:00 UTC the day before
        // spring forward (UTC-5), 21:00 UTC on the day itself (UTC-4), and an hour later
        // again on fall-back day.
        for (now, expires, close) in [
            ("2026-03-07T21:59:00Z", march, "2026-03-07T22:00:00Z"),
            ("2026-03-08T20:59:00Z", march, "2026-03-08T21:00:00Z"),
            ("2026-10-31T20:59:00Z", november, "2026-10-31T21:00:00Z"),
            ("2026-11-01T21:59:00Z", november, "2026-11-01T22:00:00Z"),
        ] {
            assert_eq!(
                closes_at(&time, utc(now), expires),
                Some(utc(close)),
                "{now}"
            );
        }
        // Expiring before the close: the expiration alone bounds the call.
        assert_eq!(
            closes_at(
                &time,
                utc("2026-03-08T20:00:00Z"),
                utc("2026-03-08T20:30:00Z")
            ),
            None
        );
        // Hours around the clock never close before an expiration days away.
        let always = CommunicationTime {
            window: every_day(&[("T00:00", "T24:00")]),
            ..time
        };
        assert_eq!(closes_at(&always, utc("2026-03-07T21:59:00Z"), march), None);
    }

    #[test]
    fn a_window_that_never_opens_says_so() {
        let w = window(&[], &[], &[]);
        assert_eq!(
            w.state(NEW_YORK, utc("2026-01-01T00:00:00Z")),
            WindowState::Closed { opens_at: None }
        );
    }

    #[test]
    fn every_next_change_is_a_real_change_and_nothing_changes_before_it() {
        // A brute-force check over a year in minute steps would be slow; every 7 minutes
        // over the two DST weeks of New York and a plain one of Sydney covers the shapes.
        let w = window(
            &["MONDAY", "SATURDAY", "SUNDAY"],
            &[
                ("T00:00", "T01:30"),
                ("T01:45", "T02:15"),
                ("T08:00", "T24:00"),
            ],
            &[("2026-03-10", "2026-03-10")],
        );
        for (tz, from) in [
            (NEW_YORK, "2026-03-06T00:00:00Z"),
            (NEW_YORK, "2026-10-30T00:00:00Z"),
            (chrono_tz::Australia::Sydney, "2026-04-02T00:00:00Z"),
        ] {
            let mut at = utc(from);
            let end = at + Duration::days(7);
            while at < end {
                let open = w.is_open(tz, at);
                let change = w
                    .next_change(tz, at, !open)
                    .expect("this window changes every day");
                assert_ne!(w.is_open(tz, change), open, "{tz} {at}");
                let mut probe = at + Duration::minutes(1);
                while probe < change {
                    assert_eq!(
                        w.is_open(tz, probe),
                        open,
                        "{tz}: {at} -> {probe} before {change}"
                    );
                    probe += Duration::minutes(13);
                }
                at += Duration::minutes(7);
            }
        }
    }

    #[test]
    fn configurations_that_cannot_be_evaluated_are_refused_by_member() {
        let bad = |day: &str, s: &str, e: &str| {
            Window::compile(&TimeWindow {
                open_hours: OpenHours::DailyHours(BTreeMap::from([(
                    day.to_string(),
                    vec![TimeRange {
                        start_time: s.into(),
                        end_time: e.into(),
                    }],
                )])),
                restricted_periods: None,
            })
            .unwrap_err()
        };
        assert_eq!(
            bad("MONDAY", "T09:00", "T08:00"),
            WindowError::EmptyRange("MONDAY".into())
        );
        assert!(matches!(
            bad("MONDAY", "T25:00", "T26:00"),
            WindowError::BadTime { .. }
        ));
        assert!(matches!(
            bad("MONDAY", "9:00", "T10:00"),
            WindowError::BadTime { .. }
        ));
        assert_eq!(
            bad("Monday", "T09:00", "T10:00"),
            WindowError::UnknownDay("Monday".into())
        );
        assert_eq!(minutes("MONDAY", "T24:00"), Ok(DAY_MINUTES));
        assert!(zone("America/New_York").is_some());
        assert!(zone("Mars/Olympus_Mons").is_none());
    }
}
