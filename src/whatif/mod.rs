//! The what-if simulator: `dialer simulate` runs a campaign's shift against the simulated
//! contact center on a virtual clock, so an 8-hour shift of 100 agents takes seconds.
//!
//! It is the engine, not a model of it (design note 5): planning goes through
//! [`crate::engine::planner::pacing_input`] and [`crate::pacing::PacerState`], requests are
//! rendered by [`crate::engine::dispatch::render`], events are followed with
//! [`crate::contacts::ContactStatus::apply`] and turned into pacing observations by
//! [`crate::engine::events::observation`], and the contact center is the pure
//! [`crate::contact_center::sim::model::SimModel`] the daemon's simulated center drives.
//! Only the database and the wall clock are swapped out: requests come from an in-memory
//! backlog, time from a [`crate::clock::VirtualClock`].
//!
//! - [`scenario`]: what to simulate (a TOML file using the daemon's own tables, and flags).
//! - [`shift`]: the discrete-event loop and its [`Report`].
//! - [`render`]: the interval table, the summary line and the SVG chart.
//!
//! Invariants: a run reads no wall clock and draws only from the scenario's seed, so the
//! same scenario gives the same report; abandonment is abandons over person-answered calls
//! (design note 6); occupancy is agent time on contacts over logged-in agent time.

pub mod render;
pub mod scenario;
pub mod shift;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::contact_center::sim::model::BatchError;
pub use scenario::{Mode, Overrides, Scenario};
pub use shift::{simulate, simulate_with_progress, Minute, Report};

/// Chart file written unless `--no-chart`.
pub const CHART_DEFAULT: &str = "simulate.svg";
/// Default minutes per table row.
pub const TABLE_EVERY_DEFAULT: u32 = 30;

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The scenario file could not be read (the I/O error follows as the cause).
    #[error("cannot read scenario file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The scenario file is not valid TOML or has unknown keys or wrong types.
    #[error("invalid scenario file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the key.
        message: String,
    },
    /// Settings that parse but cannot run.
    #[error("invalid scenario:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
    /// The simulated contact center refused a batch as a whole: a bug in the simulator.
    #[error("the simulated contact center refused a batch: {0}")]
    Batch(#[from] BatchError),
    /// The simulated contact center refused a dial: a bug in the simulator.
    #[error("the simulated contact center refused a dial: {0}")]
    Refused(String),
}

/// `dialer simulate`: a what-if shift on the simulated contact center.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Agents logged in at the start [default: 10, or the scenario's]
    #[arg(long, value_name = "N")]
    pub agents: Option<u32>,
    /// Probability that a person answers a dial [default: 0.25, or the scenario's]
    #[arg(long, value_name = "P")]
    pub answer_rate: Option<f64>,
    /// Mean handle time (talk and wrap-up), exponentially distributed [default: 120, or the
    /// scenario's handle-time model]
    #[arg(long, value_name = "SECS")]
    pub handle_time: Option<f64>,
    /// Shift length [default: 8, or the scenario's]
    #[arg(long, value_name = "H")]
    pub hours: Option<f64>,
    /// Pacing mode [default: predictive, or the scenario's]
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Seed of the contact center's draws [default: 1, or the scenario's]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Scenario file (TOML): `[contact_center.sim]` and `[pacing]` as in the daemon's
    /// config, plus `hours`, `mode`, `tick_secs`, `total_lines`, `answer_machine_detection`,
    /// `backlog` and `start`; `[retries]` as in the daemon's config; the calling rules
    /// `[communication_time]` and `[communication_limits]` (the campaign's v2 shapes) and
    /// `[recipients]` (`zones`, `repeat_rate`). Flags override it.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Where to write the SVG chart.
    #[arg(long, value_name = "FILE.svg", default_value = CHART_DEFAULT)]
    pub chart: PathBuf,
    /// Write no chart.
    #[arg(long)]
    pub no_chart: bool,
    /// Minutes per table row.
    #[arg(long, value_name = "MINUTES", default_value_t = TABLE_EVERY_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub table_every: u32,
}

impl SimulateArgs {
    /// The flag values that override the scenario.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            agents: self.agents,
            answer_rate: self.answer_rate,
            handle_secs: self.handle_time,
            hours: self.hours,
            mode: self.mode,
            seed: self.seed,
        }
    }
}

/// The `--json` output: the report and its intervals.
#[derive(Serialize)]
struct JsonOutput<'a> {
    #[serde(flatten)]
    report: &'a Report,
    table_every_minutes: u32,
    intervals: Vec<render::Interval>,
    /// The same shift without the calling rules, when the scenario has some.
    #[serde(skip_serializing_if = "Option::is_none")]
    without_rules: Option<Baseline>,
}

/// Occupancy of the shift without the calling rules: what they cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Baseline {
    occupancy: f64,
    first_half_occupancy: f64,
    second_half_occupancy: f64,
    dials: u64,
}

impl Baseline {
    fn of(report: &Report) -> Self {
        Self {
            occupancy: report.occupancy,
            first_half_occupancy: report.first_half_occupancy,
            second_half_occupancy: report.second_half_occupancy,
            dials: report.dials,
        }
    }
}

/// Runs `dialer simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    scenario.apply(&args.overrides());

    let mut progress = Progress::new(std::io::stderr().is_terminal());
    // With calling rules, the same shift also runs without them (the second half of the
    // bar), so the report shows what they cost.
    let runs = if scenario.has_rules() { 2.0 } else { 1.0 };
    let report = simulate_with_progress(&scenario, &mut |done| progress.show(done / runs))?;
    let baseline = if scenario.has_rules() {
        let without = scenario.without_rules();
        Some(simulate_with_progress(&without, &mut |done| {
            progress.show(0.5 + done / 2.0)
        })?)
    } else {
        None
    };
    progress.clear();

    let intervals = render::intervals(&report.minutes, args.table_every as usize);
    if args.json {
        let output = JsonOutput {
            report: &report,
            table_every_minutes: args.table_every,
            intervals,
            without_rules: baseline.as_ref().map(Baseline::of),
        };
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print!("{}", render::table(&intervals));
        println!("{}", render::summary(&report));
        if let Some(baseline) = &baseline {
            println!("{}", render::without_rules(baseline));
        }
        print!("{}", render::notes(&report, &scenario.pacing));
    }
    if !args.no_chart {
        std::fs::write(&args.chart, render::chart(&report))
            .with_context(|| format!("cannot write the chart to {}", args.chart.display()))?;
        eprintln!("chart: {}", args.chart.display());
    }
    Ok(())
}

/// A one-line progress bar on stderr, redrawn in place; silent when stderr is not a
/// terminal, so piped and redirected output stays clean.
struct Progress {
    enabled: bool,
    shown: Option<usize>,
}

/// Width of the bar in characters.
const BAR: usize = 40;

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            shown: None,
        }
    }

    fn show(&mut self, done: f64) {
        let percent = (done.clamp(0.0, 1.0) * 100.0) as usize;
        if !self.enabled || self.shown == Some(percent) {
            return;
        }
        self.shown = Some(percent);
        let filled = percent * BAR / 100;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\rsimulating [{}{}] {percent:>3}%",
            "#".repeat(filled),
            "-".repeat(BAR - filled)
        );
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.enabled && self.shown.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\r", " ".repeat(BAR + 20));
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn parse(args: &[&str]) -> Result<SimulateArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("simulate").chain(args.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn flags_parse_into_overrides() {
        let args = parse(&[
            "--agents",
            "50",
            "--answer-rate",
            "0.3",
            "--handle-time",
            "90",
            "--hours",
            "4",
            "--mode",
            "vicidial",
            "--seed",
            "3",
            "--table-every",
            "15",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            args.overrides(),
            Overrides {
                agents: Some(50),
                answer_rate: Some(0.3),
                handle_secs: Some(90.0),
                hours: Some(4.0),
                mode: Some(Mode::Vicidial),
                seed: Some(3),
            }
        );
        assert_eq!(args.table_every, 15);
        assert_eq!(args.chart, PathBuf::from(CHART_DEFAULT));
        assert!(!args.json && !args.no_chart);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(parse(&["--mode", "agentless"]).is_err());
        assert!(parse(&["--table-every", "0"]).is_err());
        assert!(parse(&["--agents", "-1"]).is_err());
    }

    #[test]
    fn json_output_carries_the_report_and_intervals() {
        let scenario = Scenario::reference(5, 0.25, 120.0, 0.5, Mode::Predictive, 1);
        let report = simulate(&scenario).unwrap_or_else(|e| panic!("{e}"));
        let output = JsonOutput {
            report: &report,
            table_every_minutes: 10,
            intervals: render::intervals(&report.minutes, 10),
            without_rules: None,
        };
        let json = serde_json::to_value(&output).unwrap_or_else(|e| panic!("{e}"));
        for key in [
            "dials",
            "human_answers",
            "abandons",
            "abandonment_rate",
            "occupancy",
            "mean_agent_idle_secs",
            "agents",
            "mode",
            "seed",
            "hours",
            "answer_rate",
            "first_half_abandonment_rate",
            "second_half_abandonment_rate",
            "window_waits",
            "refused",
        ] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert_eq!(json["mode"], "predictive");
        assert_eq!(json["intervals"].as_array().map(Vec::len), Some(3));
        assert!(json.get("minutes").is_none());
        assert!(json.get("without_rules").is_none());
    }
}
