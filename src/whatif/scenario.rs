//! What to simulate: the shift, the pacing mode and settings, and the contact center.
//!
//! A scenario file is TOML whose `[contact_center.sim]` and `[pacing]` tables are the
//! daemon's own (same keys, same validation, same messages), plus a few top-level keys for
//! the shift. Unknown keys are errors that name the key. Command-line flags override the
//! file ([`Scenario::apply`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SimulateError;
use crate::config::ContactCenterConfig;
use crate::contact_center::sim::model::{Dist, HandleTime, SimConfig, WRAP_SHARE_DEFAULT};
use crate::pacing::{PacingConfig, PacingMode};
use crate::rules::retry::{RetriesConfig, RetryPolicy};

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
        toml::from_str(text).map_err(|e| SimulateError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
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
        errors
    }

    /// The campaign's retry policy (valid after [`Scenario::validate`]).
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::parse("retries.default", &self.retries.default).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact_center::sim::model::{AnswerRateChange, StaffingChange};

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::from_toml(text, Path::new("s.toml")).map_err(|e| e.to_string())
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
        let errors = scenario.validate().join("\n");
        for key in [
            "hours",
            "contact_center.sim.customers.answer_probability",
            "contact_center.sim.faults",
            "pacing.abandonment_target",
        ] {
            assert!(errors.contains(key), "{key} missing in:\n{errors}");
        }
        scenario.contact_center.sim.queues.clear();
        assert!(scenario.validate().join("\n").contains("exactly one queue"));
    }

    #[test]
    fn the_reference_scenario_is_valid() {
        let scenario = Scenario::reference(50, 0.25, 120.0, 8.0, Mode::Predictive, 2);
        assert!(scenario.validate().is_empty(), "{:?}", scenario.validate());
        assert_eq!(scenario.sim().queues[0].agents, 50);
        assert_eq!(scenario.sim().seed, 2);
    }
}
