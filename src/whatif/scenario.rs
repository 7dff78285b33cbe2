//! What to simulate: the shift, the pacing mode and settings, and the contact center.
//!
//! A scenario file is TOML whose `[contact_center.sim]`, `[pacing]` and `[retries]` tables
//! are the daemon's own (same keys, same validation, same messages), whose
//! `[communication_time]` and `[communication_limits]` are the campaign's v2
//! `communicationTimeConfig` and `communicationLimitsOverride` (the API's camelCase
//! members), plus a few top-level keys for the shift and `[recipients]` for who the requests
//! are for. Unknown keys are errors that name the key. Command-line flags override the file
//! ([`Scenario::apply`]).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SimulateError;
use crate::campaigns::channels::{CommunicationLimitsConfig, CommunicationTimeConfig};
use crate::config::ContactCenterConfig;
use crate::contact_center::sim::model::{Dist, HandleTime, SimConfig, WRAP_SHARE_DEFAULT};
use crate::engine::EngineConfig;
use crate::pacing::{PacingConfig, PacingMode};
use crate::rules::limits::{limits_of, Limit};
use crate::rules::retry::{RetriesConfig, RetryPolicy};
use crate::rules::window::{zone, CommunicationTime};

/// Default shift length.
pub const HOURS_DEFAULT: f64 = 8.0;
/// Longest shift accepted: a week, the simulated contact center's longest duration.
pub const HOURS_MAX: f64 = 168.0;
/// Default planning interval between events. The daemon's `engine.tick_secs` defaults to
/// less ([`crate::engine::TICK_SECS_DEFAULT`]), but it also re-plans on every event as the
/// simulator does, so between events only the ages of calls in flight change; 1 s keeps
/// long runs fast and moves the reference results by less than their seed-to-seed spread.
pub const TICK_SECS_DEFAULT: f64 = 1.0;
/// Shortest planning interval accepted.
pub const TICK_SECS_MIN: f64 = 0.01;
/// Default dialer lines: more than any agent count here can use, so lines never bind
/// unless a scenario sets the real count.
pub const TOTAL_LINES_DEFAULT: u32 = 100_000;

/// The pacing modes compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One dial per free agent.
    Progressive,
    /// Dial ahead of free agents within the abandonment target.
    #[default]
    Predictive,
    /// VICIdial's adaptive dial level (the baseline).
    Vicidial,
}

impl Mode {
    /// The mode's name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Progressive => "progressive",
            Mode::Predictive => "predictive",
            Mode::Vicidial => "vicidial",
        }
    }

    /// The pacing mode it runs.
    pub fn pacing_mode(self) -> PacingMode {
        match self {
            Mode::Progressive => PacingMode::Progressive,
            Mode::Predictive => PacingMode::Predictive,
            Mode::Vicidial => PacingMode::Vicidial,
        }
    }
}

/// One simulated shift of one campaign dialing into one queue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Length of the shift; dialing stops at its end and calls in progress then play out.
    pub hours: f64,
    /// How the campaign paces its dials.
    pub mode: Mode,
    /// Seconds between planning passes when no event comes sooner.
    pub tick_secs: f64,
    /// Lines the dialer has (`engine.total_lines`).
    pub total_lines: u32,
    /// Whether calls ask for answering-machine detection (machines AMD catches never reach
    /// an agent; without it they do, and count as person answers).
    pub answer_machine_detection: bool,
    /// Dial requests available; `None` (the default): the shift never runs out of numbers.
    pub backlog: Option<u64>,
    /// The simulated contact center: the daemon's `[contact_center.sim]`, with exactly one
    /// queue (the campaign's). Its `time_scale` and `event_buffer` do not apply here.
    pub contact_center: ContactCenterConfig,
    /// Pacing settings: the daemon's `[pacing]`.
    pub pacing: PacingConfig,
    /// Retries by outcome: the daemon's `[retries]`, whose `[retries.default]` is the
    /// campaign's policy. Retries take the campaign's lines and agents like first calls,
    /// ahead of the backlog once due.
    pub retries: RetriesConfig,
    /// When the shift starts (RFC 3339); calling hours are read against it in each
    /// recipient's zone, so it is required with `communication_time`. Without it the shift
    /// starts at the Unix epoch, which nothing else depends on.
    pub start: Option<DateTime<Utc>>,
    /// The campaign's calling hours: the v2 `communicationTimeConfig`, whose `telephony`
    /// window governs the calls. Requests whose recipient's window is closed wait until it
    /// opens, as the engine's claim makes them.
    pub communication_time: Option<CommunicationTimeConfig>,
    /// The campaign's communication limits: the v2 `communicationLimitsOverride`.
    pub communication_limits: Option<CommunicationLimitsConfig>,
    /// Who the requests are for.
    pub recipients: Recipients,
}

/// Who the requests are for: their time zones and how often one recipient comes back.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recipients {
    /// Shares of recipients by time zone, as the request's zone attribute names it; the
    /// share left over has no zone attribute and gets the campaign's `defaultTimeZone` (a
    /// request with neither is refused `MISSING_TIME_ZONE`, as the engine refuses it).
    pub zones: Vec<ZoneShare>,
    /// Share of requests for a recipient who had a request earlier in the backlog (drawn
    /// uniformly among them): what communication limits count.
    pub repeat_rate: f64,
}

/// Recipients in one time zone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneShare {
    /// IANA name (`America/New_York`).
    pub zone: String,
    /// Share of recipients, 0 to 1.
    pub share: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            hours: HOURS_DEFAULT,
            mode: Mode::default(),
            tick_secs: TICK_SECS_DEFAULT,
            total_lines: TOTAL_LINES_DEFAULT,
            answer_machine_detection: true,
            backlog: None,
            contact_center: ContactCenterConfig::default(),
            pacing: PacingConfig::default(),
            retries: RetriesConfig::default(),
            start: None,
            communication_time: None,
            communication_limits: None,
            recipients: Recipients::default(),
        }
    }
}

/// Flag values that override a scenario; `None` leaves the scenario's value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    /// Agents logged in at the start.
    pub agents: Option<u32>,
    /// Person-answer probability at the start.
    pub answer_rate: Option<f64>,
    /// Mean handle time; the handle time becomes exponential with this mean.
    pub handle_secs: Option<f64>,
    /// Shift length.
    pub hours: Option<f64>,
    /// Pacing mode.
    pub mode: Option<Mode>,
    /// Seed of the contact center's draws.
    pub seed: Option<u64>,
}

impl Scenario {
    /// The reference model (person answers with probability `answer_rate` after 6-24 s, 15%
    /// fast failures, ring-out at 25 s, 2 s abandon threshold, exponential handle time with
    /// mean `handle_secs`) with `agents` logged in all shift.
    pub fn reference(
        agents: u32,
        answer_rate: f64,
        handle_secs: f64,
        hours: f64,
        mode: Mode,
        seed: u64,
    ) -> Self {
        let mut scenario = Scenario::default();
        scenario.apply(&Overrides {
            agents: Some(agents),
            answer_rate: Some(answer_rate),
            handle_secs: Some(handle_secs),
            hours: Some(hours),
            mode: Some(mode),
            seed: Some(seed),
        });
        scenario
    }

    /// Parses a scenario file's text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Scenario, SimulateError> {
        let parse_error = |message: String| SimulateError::Parse {
            path: origin.to_path_buf(),
            message,
        };
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| parse_error(e.to_string().trim_end().to_string()))?;
        // The v2 types let unknown members through, as the API does; a scenario names them,
        // since a misspelt window or limit would silently simulate none.
        let table: toml::Table =
            toml::from_str(text).map_err(|e| parse_error(e.to_string().trim_end().to_string()))?;
        let mut unknown = Vec::new();
        for (key, typed) in [
            (
                "communication_time",
                toml::Value::try_from(&scenario.communication_time),
            ),
            (
                "communication_limits",
                toml::Value::try_from(&scenario.communication_limits),
            ),
        ] {
            if let (Some(given), Ok(known)) = (table.get(key), typed) {
                unknown_keys(key, given, &known, &mut unknown);
            }
        }
        match unknown.first() {
            None => Ok(scenario),
            Some(_) => Err(parse_error(format!("unknown key {}", unknown.join(", ")))),
        }
    }

    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, SimulateError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimulateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::from_toml(&text, path)
    }

    /// The simulated contact center's settings.
    pub fn sim(&self) -> &SimConfig {
        &self.contact_center.sim
    }

    /// Applies flag values. Agents and handle time go to the campaign's (first) queue.
    pub fn apply(&mut self, overrides: &Overrides) {
        let sim = &mut self.contact_center.sim;
        if let Some(queue) = sim.queues.first_mut() {
            if let Some(agents) = overrides.agents {
                queue.agents = agents;
            }
            if let Some(mean_secs) = overrides.handle_secs {
                queue.handle_time = HandleTime::Split {
                    total: Dist::Exponential { mean_secs },
                    wrap_share: WRAP_SHARE_DEFAULT,
                };
            }
        }
        if let Some(p) = overrides.answer_rate {
            sim.customers.answer_probability = p;
        }
        if let Some(seed) = overrides.seed {
            sim.seed = seed;
        }
        if let Some(hours) = overrides.hours {
            self.hours = hours;
        }
        if let Some(mode) = overrides.mode {
            self.mode = mode;
        }
    }

    /// Every problem, each naming its key; empty when the scenario can run.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(self.hours > 0.0 && self.hours <= HOURS_MAX) {
            errors.push(format!(
                "hours must be > 0 and at most {HOURS_MAX}, got {}",
                self.hours
            ));
        }
        if !(self.tick_secs >= TICK_SECS_MIN && self.tick_secs <= 60.0) {
            errors.push(format!(
                "tick_secs must be within [{TICK_SECS_MIN}, 60], got {}",
                self.tick_secs
            ));
        }
        if self.total_lines == 0 {
            errors.push("total_lines must be at least 1".to_string());
        }
        let sim = self.sim();
        if sim.queues.len() != 1 {
            errors.push(format!(
                "contact_center.sim.queues must hold exactly one queue (the campaign's), got {}",
                sim.queues.len()
            ));
        }
        // The simulator measures pacing; the dispatcher's retries, which faults exercise,
        // are the daemon's and are not replayed here.
        if sim.faults != Default::default() {
            errors.push(
                "contact_center.sim.faults: injected faults are not simulated by `dialer simulate`; remove the table"
                    .to_string(),
            );
        }
        errors.extend(sim.validate());
        errors.extend(self.pacing.validate());
        errors.extend(self.retries.validate());
        errors.extend(self.validate_rules());
        errors
    }

    /// The problems of the calling rules and the recipients.
    fn validate_rules(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(config) = &self.communication_time {
            if self.start.is_none() {
                errors.push(
                    "start: the shift's start (RFC 3339, e.g. \"2026-06-15T13:00:00Z\") is \
                     required with communication_time: hours are read in each recipient's zone"
                        .to_string(),
                );
            }
            if let Some(name) = &config.local_time_zone_config.default_time_zone {
                if zone(name).is_none() {
                    errors.push(format!(
                        "communication_time.localTimeZoneConfig.defaultTimeZone: {name:?} is \
                         not an IANA time zone"
                    ));
                }
            }
            match &config.telephony {
                None => errors.push(
                    "communication_time.telephony: missing; the simulator places calls, which \
                     only the telephony window governs"
                        .to_string(),
                ),
                Some(window) => {
                    if let Err(e) = CommunicationTime::compile(config, window, "") {
                        errors.push(format!("communication_time.telephony.{e}"));
                    }
                }
            }
        }
        if let Some(config) = &self.communication_limits {
            if config.instance_limits_handling.is_some() {
                errors.push(
                    "communication_limits.instanceLimitsHandling: the simulator has one \
                     campaign and no instance limits; remove it"
                        .to_string(),
                );
            }
            if let Err(limit_errors) = limits_of("communication_limits", config) {
                errors.extend(limit_errors);
            }
        }
        let recipients = &self.recipients;
        for (i, share) in recipients.zones.iter().enumerate() {
            if zone(&share.zone).is_none() {
                errors.push(format!(
                    "recipients.zones[{i}].zone: {:?} is not an IANA time zone",
                    share.zone
                ));
            }
            if !(0.0..=1.0).contains(&share.share) {
                errors.push(format!(
                    "recipients.zones[{i}].share must be within [0, 1], got {}",
                    share.share
                ));
            }
        }
        let total: f64 = recipients.zones.iter().map(|z| z.share).sum();
        if total > 1.0 + 1e-9 {
            errors.push(format!(
                "recipients.zones: the shares add up to {total}, more than 1"
            ));
        }
        if !(0.0..1.0).contains(&recipients.repeat_rate) {
            errors.push(format!(
                "recipients.repeat_rate must be within [0, 1), got {}",
                recipients.repeat_rate
            ));
        }
        errors
    }

    /// The campaign's calling hours for calls (valid after [`Scenario::validate`]), zones
    /// read from the engine's default zone attribute.
    pub fn communication_time(&self) -> Option<CommunicationTime> {
        let config = self.communication_time.as_ref()?;
        let attribute = EngineConfig::default().time_zone_attribute;
        CommunicationTime::compile(config, config.telephony.as_ref()?, &attribute).ok()
    }

    /// The campaign's communication limits (valid after [`Scenario::validate`]).
    pub fn limits(&self) -> Vec<Limit> {
        self.communication_limits
            .as_ref()
            .and_then(|config| limits_of("communication_limits", config).ok())
            .unwrap_or_default()
    }

    /// Whether the scenario has calling rules whose effect a run without them shows.
    pub fn has_rules(&self) -> bool {
        self.communication_time.is_some() || !self.limits().is_empty()
    }

    /// The same scenario without its calling hours and limits.
    pub fn without_rules(&self) -> Scenario {
        Scenario {
            communication_time: None,
            communication_limits: None,
            ..self.clone()
        }
    }

    /// The campaign's retry policy (valid after [`Scenario::validate`]).
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::parse("retries.default", &self.retries.default).unwrap_or_default()
    }
}

/// Records in `unknown` the keys of `given` (at `path`) that `known`, the same value read
/// into its type and written back, lost.
fn unknown_keys(path: &str, given: &toml::Value, known: &toml::Value, unknown: &mut Vec<String>) {
    match (given, known) {
        (toml::Value::Table(given), toml::Value::Table(known)) => {
            for (key, value) in given {
                let at = format!("{path}.{key}");
                match known.get(key) {
                    Some(inner) => unknown_keys(&at, value, inner, unknown),
                    None => unknown.push(format!("`{at}`")),
                }
            }
        }
        (toml::Value::Array(given), toml::Value::Array(known)) => {
            for (i, (value, inner)) in given.iter().zip(known).enumerate() {
                unknown_keys(&format!("{path}[{i}]"), value, inner, unknown);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact_center::sim::model::{AnswerRateChange, StaffingChange};

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::from_toml(text, Path::new("s.toml")).map_err(|e| e.to_string())
    }

    /// Asserts that the scenario's validation names each of `needles`.
    fn assert_names(scenario: &Scenario, needles: &[&str]) {
        let errors = scenario.validate().join("\n");
        for needle in needles {
            assert!(errors.contains(needle), "{needle} missing in:\n{errors}");
        }
    }

    #[test]
    fn a_file_sets_the_daemon_tables_and_flags_override_it() {
        let mut scenario = parse(
            r#"
            hours = 4
            mode = "vicidial"
            [contact_center.sim]
            seed = 9
            [[contact_center.sim.queues]]
            queue_id = "q"
            agents = 50
            staffing = [{ at_secs = 7200, delta = -20 }]
            handle_time = { model = "separate", talk = { dist = "fixed", secs = 60 }, wrap = { dist = "fixed", secs = 10 } }
            [contact_center.sim.customers]
            answer_probability = 0.3
            answer_rate_changes = [{ at_secs = 7200, probability = 0.15 }]
            machine_probability = 0.1
            [pacing]
            abandonment_target = 0.02
            "#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(scenario.validate().is_empty(), "{:?}", scenario.validate());
        assert_eq!((scenario.hours, scenario.mode), (4.0, Mode::Vicidial));
        assert_eq!(scenario.pacing.abandonment_target, 0.02);
        let sim = scenario.sim();
        assert_eq!(
            sim.queues[0].staffing,
            vec![StaffingChange {
                at_secs: 7200.0,
                delta: -20
            }]
        );
        assert_eq!(
            sim.customers.answer_rate_changes,
            vec![AnswerRateChange {
                at_secs: 7200.0,
                probability: 0.15
            }]
        );
        assert_eq!(sim.queues[0].handle_time.mean_secs(), 70.0);

        scenario.apply(&Overrides {
            agents: Some(20),
            handle_secs: Some(90.0),
            seed: Some(3),
            mode: Some(Mode::Predictive),
            ..Overrides::default()
        });
        let sim = scenario.sim();
        assert_eq!((sim.queues[0].agents, sim.seed), (20, 3));
        assert_eq!(sim.queues[0].handle_time.mean_secs(), 90.0);
        assert_eq!(sim.customers.answer_probability, 0.3, "not overridden");
        assert_eq!(sim.queues[0].staffing.len(), 1, "kept");
        assert_eq!(scenario.mode, Mode::Predictive);
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, key) in [
            ("hour = 3", "hour"),
            ("[pacing]\nabandon_target = 0.01", "abandon_target"),
            (
                "[contact_center.sim.customers]\nanswer_rate = 0.2",
                "answer_rate",
            ),
        ] {
            let error = parse(text).err().unwrap_or_default();
            assert!(error.contains(key), "{text}: {error}");
            assert!(error.contains("s.toml"), "{error}");
        }
    }

    #[test]
    fn validation_names_each_bad_value() {
        let mut scenario = Scenario::reference(10, 1.5, 120.0, 0.0, Mode::Progressive, 1);
        scenario.pacing.abandonment_target = 0.5;
        scenario.contact_center.sim.faults.throttle_probability = 0.1;
        assert_names(
            &scenario,
            &[
                "hours",
                "contact_center.sim.customers.answer_probability",
                "contact_center.sim.faults",
                "pacing.abandonment_target",
            ],
        );
        scenario.contact_center.sim.queues.clear();
        assert!(scenario.validate().join("\n").contains("exactly one queue"));
    }

    const RULES: &str = r#"
        start = "2026-06-15T12:00:00Z"
        [communication_time.localTimeZoneConfig]
        defaultTimeZone = "America/New_York"
        [communication_time.telephony.openHours.dailyHours]
        MONDAY = [{ startTime = "T08:00", endTime = "T21:00" }]
        [communication_limits.allChannelSubtypes]
        communicationLimitsList = [{ maxCountPerRecipient = 2, frequency = 7, unit = "DAY" }]
        [recipients]
        repeat_rate = 0.2
        zones = [{ zone = "America/Chicago", share = 0.3 }, { zone = "America/Denver", share = 0.2 }]
    "#;

    #[test]
    fn a_file_sets_the_calling_rules_in_the_v2_shapes_and_the_recipients() {
        let scenario = parse(RULES).unwrap_or_else(|e| panic!("{e}"));
        assert!(scenario.validate().is_empty(), "{:?}", scenario.validate());
        assert!(scenario.has_rules());
        assert_eq!(
            scenario.start.map(|t| t.to_rfc3339()),
            Some("2026-06-15T12:00:00+00:00".to_string())
        );
        let hours = scenario
            .communication_time()
            .unwrap_or_else(|| panic!("no hours"));
        assert_eq!(hours.default_zone, Some(chrono_tz::America::New_York));
        assert_eq!(hours.zone_attribute, "timeZone", "the engine's default");
        assert_eq!(
            scenario.limits(),
            vec![Limit {
                max_count: 2,
                days: 7
            }]
        );
        assert_eq!(scenario.recipients.zones[1].zone, "America/Denver");
        assert_eq!(scenario.recipients.repeat_rate, 0.2);
        let without = scenario.without_rules();
        assert!(!without.has_rules() && without.validate().is_empty());
        assert_eq!(without.recipients, scenario.recipients);
    }

    #[test]
    fn unknown_members_of_the_v2_tables_are_named() {
        for (from, to, key) in [
            (
                "defaultTimeZone",
                "defaultTimezone",
                "unknown key `communication_time.localTimeZoneConfig.defaultTimezone`",
            ),
            (
                "maxCountPerRecipient = 2,",
                "maxCountPerRecipient = 2, maxCount = 1,",
                "`communication_limits.allChannelSubtypes.communicationLimitsList[0].maxCount`",
            ),
            (
                "zone = \"America/Chicago\"",
                "zon = \"America/Chicago\"",
                "`zon`",
            ),
        ] {
            let error = parse(&RULES.replacen(from, to, 1))
                .err()
                .unwrap_or_default();
            assert!(error.contains(key), "{key} missing in: {error}");
            assert!(error.contains("s.toml"), "{error}");
        }
    }

    #[test]
    fn bad_calling_rules_are_named_by_key() {
        let mut scenario = parse(RULES).unwrap_or_else(|e| panic!("{e}"));
        scenario.start = None;
        if let Some(hours) = &mut scenario.communication_time {
            hours.local_time_zone_config.default_time_zone = Some("Mars/Olympus".into());
        }
        scenario.recipients.repeat_rate = 1.0;
        scenario.recipients.zones[0].zone = "Europe/Atlantis".into();
        scenario.recipients.zones[1].share = 0.8;
        if let Some(limits) = &mut scenario.communication_limits {
            limits.instance_limits_handling = Some("OPT_OUT".into());
        }
        assert_names(
            &scenario,
            &[
                "start: the shift's start",
                "communication_time.localTimeZoneConfig.defaultTimeZone: \"Mars/Olympus\"",
                "recipients.repeat_rate must be within [0, 1), got 1",
                "recipients.zones[0].zone: \"Europe/Atlantis\"",
                "recipients.zones: the shares add up to 1.1",
                "communication_limits.instanceLimitsHandling",
            ],
        );

        let text = RULES
            .replace("T21:00", "T25:00")
            .replace("frequency = 7", "frequency = 31");
        let parsed = |text: &str| parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_names(
            &parsed(&text),
            &[
                "communication_time.telephony.openHours.dailyHours.MONDAY: \"T25:00\"",
                "communication_limits.allChannelSubtypes.communicationLimitsList[0].frequency must be within [1, 30]",
            ],
        );
        let sms_only = RULES.replace("communication_time.telephony", "communication_time.sms");
        assert_names(
            &parsed(&sms_only),
            &["communication_time.telephony: missing"],
        );
    }

    #[test]
    fn the_reference_scenario_is_valid() {
        let scenario = Scenario::reference(50, 0.25, 120.0, 8.0, Mode::Predictive, 2);
        assert!(scenario.validate().is_empty(), "{:?}", scenario.validate());
        assert_eq!(scenario.sim().queues[0].agents, 50);
        assert_eq!(scenario.sim().seed, 2);
    }
}
