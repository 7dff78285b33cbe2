//! Pacing: how many dials a campaign should place right now.
//!
//! Pure logic: no I/O, no clock reads, no async. The engine (and the what-if simulator, on
//! a virtual clock) feeds [`Observation`]s into a [`PacerState`] as contacts progress and
//! calls [`PacerState::decide`] once per campaign per planning cycle (every second and on
//! events). Given the same observations and inputs in the same order, the decisions are the
//! same: that is what lets the simulator run the daemon's pacing.
//!
//! Modes ([`PacingMode`]):
//! - **Progressive**: one dial per free agent (scaled by the bandwidth allocation), never
//!   more dials in flight than free agents; it cannot abandon a call by construction.
//! - **Agentless**: fill the line limit.
//! - **Predictive** ([`predictive`]): dials ahead of free agents from the measured answer
//!   rate, time to answer and handle time, keeping the marginal risk of each dial being
//!   abandoned under a threshold set by two budgets, one over the regulatory window and one
//!   over the last few hours; falls back to progressive while warming up and when the
//!   regulatory budget is spent (a spent recent budget only slows it down).
//! - **Vicidial** ([`vicidial`]): a reimplementation of VICIdial's adaptive dial level, as
//!   the baseline to compare against.
//!
//! Invariants:
//! - Dials in flight plus new dials never exceed `line_limit`, and in the agent modes never
//!   exceed `max_lines_per_agent` x staffed agents x bandwidth allocation.
//! - Progressive never has more dials in flight (plus answered persons waiting) than free
//!   agents allow.
//! - [`PacerState`] is a cache: every estimate in it is built from observations (and, for
//!   the VICIdial level and its one-minute averages, from the inputs of past decisions), so
//!   it can be persisted with serde or rebuilt by replaying observations.
//! - Abandonment is measured the way regulators do (design note 6): abandons over
//!   person-answered calls, raw counts per hour, over a rolling window that each
//!   [`Explanation`] reports.

pub mod estimate;
pub mod predictive;
pub mod progressive;
pub mod vicidial;

use serde::{Deserialize, Serialize};

use estimate::{
    HandleEstimate, OutcomeClass, OutcomeDelays, SlidingTotals, WindowCounts, WindowTotals,
};

/// Regulatory cap on abandoned / person-answered calls (US FTC/FCC: 3%).
pub const ABANDONMENT_TARGET_DEFAULT: f64 = 0.03;
/// Highest accepted target; beyond 20% pacing is not "predictive" any more but reckless.
pub const ABANDONMENT_TARGET_MAX: f64 = 0.2;
/// US rules measure per campaign over 30 days.
pub const EVALUATION_WINDOW_SECS_DEFAULT: u64 = 30 * 86_400;
/// Shortest window: one hour (AWS v2's shortest).
pub const EVALUATION_WINDOW_SECS_MIN: u64 = 3_600;
/// Longest window, and how long hourly counts are kept.
pub const EVALUATION_WINDOW_SECS_MAX: u64 = 30 * 86_400;
/// US rule: a person not connected to an agent within 2 s of the greeting is abandoned.
pub const ABANDON_THRESHOLD_SECS_DEFAULT: f64 = 2.0;
/// Upper end of the accepted abandon threshold.
pub const ABANDON_THRESHOLD_SECS_MAX: f64 = 60.0;
/// Cisco UCCX's `maxLinesPerAgent` default and VICIdial's `adaptive_maximum_level`.
pub const MAX_LINES_PER_AGENT_DEFAULT: f64 = 3.0;
/// Accepted upper end of `max_lines_per_agent`.
pub const MAX_LINES_PER_AGENT_MAX: f64 = 20.0;
/// One-sided 95% confidence for the abandonment guard.
pub const ABANDONMENT_CONFIDENCE_Z_DEFAULT: f64 = 1.645;
/// Shortest horizon, in future person-answers, over which the predictive pacer spreads its
/// abandonment budget (it grows with the window, see [`predictive`]). With 300 a fresh
/// window may spend about 4 abandons at first, and a one-shift campaign of about 1,000
/// answers ends at or under the target even when it used its whole budget.
pub const BUDGET_HORIZON_ANSWERS_DEFAULT: f64 = 300.0;
/// Ratio of the marginal risk a single dial may carry to the average abandonment rate the
/// budget allows. The budget's catch-up corrects any ratio in the long run; the ratio sets
/// how hard each abandon moves the threshold. In simulations of the reference model (see
/// the module docs of [`predictive`]) 2, 3 and 4 gave the same occupancy within a point,
/// 2 the best for 20 agents.
pub const RISK_GAIN_DEFAULT: f64 = 2.0;
/// Standard errors added to the answer rate and handle time while data is scarce.
pub const ESTIMATE_CONFIDENCE_Z_DEFAULT: f64 = 1.0;
/// Rolling window of the predictive pacer's second, recent abandonment budget: 2 hours. The
/// evaluation-window budget lets the newest answers run close to the target (see
/// [`predictive`]); this one keeps every few hours of a shift under it as well. Over seeds
/// 1-40 of the 8-hour, 50-agent mid-shift scenarios of BENCHMARKS.md it took the
/// second half from 2.85-2.91% on average (4 and 12 seeds over 3%) to 2.72-2.73% (none
/// over, worst half 2.93%) for 0.002 occupancy.
pub const RECENT_WINDOW_SECS_DEFAULT: u64 = 2 * 3_600;
/// One standard deviation: the recent window holds few answers, so a wider margin would
/// cost occupancy, and its budget only has to keep the realised rate of a few hours under
/// the target, not prove it.
pub const RECENT_CONFIDENCE_Z_DEFAULT: f64 = 1.0;
/// Lowest allowed rate the recent budget imposes, as a share of the target: a burst of
/// abandons the pacer cannot prevent (agents logging out, a falling answer rate) then slows
/// it down instead of sending it back to progressive for most of an hour. In the same
/// simulations 0 held each half as well but cost 0.005-0.007 occupancy, 0.25 0.002.
pub const RECENT_RATE_FLOOR_DEFAULT: f64 = 0.25;
/// Resolved dials needed before predictive pacing leaves its progressive warm-up.
pub const WARMUP_OUTCOMES_DEFAULT: u64 = 50;
/// VICIdial's adapt loop runs every 15 s.
pub const VICIDIAL_ADAPT_INTERVAL_SECS_DEFAULT: f64 = 15.0;
/// VICIdial's `adaptive_maximum_level` default.
pub const VICIDIAL_MAX_LEVEL_DEFAULT: f64 = 3.0;

/// How a campaign paces its dials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacingMode {
    /// One dial per free agent.
    #[default]
    Progressive,
    /// Dial ahead of free agents within the abandonment target.
    Predictive,
    /// No agents: fill the line limit.
    Agentless,
    /// VICIdial's adaptive dial level (baseline).
    Vicidial,
}

/// What VICIdial does to the dial level when the day's drop rate is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VicidialDropAction {
    /// `ADAPT_AVERAGE`: halve the level (never below 1).
    #[default]
    Halve,
    /// `ADAPT_HARD_LIMIT`: drop the level to 1.
    HardLimit,
}

/// Pacing settings (the `[pacing]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Highest allowed abandoned / person-answered share over the evaluation window.
    pub abandonment_target: f64,
    /// Rolling window over which abandonment is measured, in seconds (1 h to 30 days).
    pub evaluation_window_secs: u64,
    /// A person not connected to an agent within this many seconds is abandoned; the
    /// predictive forecast counts agents freed up to this long after an answer.
    pub abandon_threshold_secs: f64,
    /// Hard cap on dials in flight per staffed agent (predictive and VICIdial modes).
    pub max_lines_per_agent: f64,
    /// Standard deviations of the one-sided bound on abandonment the predictive pacer keeps
    /// under the target.
    pub abandonment_confidence_z: f64,
    /// Shortest horizon, in future person-answers, over which the predictive pacer spreads
    /// its abandonment budget.
    pub budget_horizon_answers: f64,
    /// Rolling window, in seconds, of a second abandonment budget that the predictive pacer
    /// also keeps (the lower allowed rate wins); it slides smoothly, the oldest hour of the
    /// counts taken pro rata. 0 turns it off; else 1 hour to 30 days.
    pub recent_window_secs: u64,
    /// Standard deviations of the one-sided bound on the recent window's abandonment kept
    /// under the target.
    pub recent_confidence_z: f64,
    /// Lowest allowed rate the recent budget imposes, as a share of `abandonment_target`
    /// (0 to 1); at 0 an exhausted recent budget sends the pacer back to progressive.
    pub recent_rate_floor: f64,
    /// Marginal risk allowed per dial, as a multiple of the budgeted average rate.
    pub risk_gain: f64,
    /// Standard errors by which the answer rate is raised and the handle time lengthened
    /// in the forecast (conservative while samples are few).
    pub estimate_confidence_z: f64,
    /// Resolved dials before predictive pacing stops dialing progressively.
    pub warmup_outcomes: u64,
    /// Seconds between VICIdial dial-level adjustments.
    pub vicidial_adapt_interval_secs: f64,
    /// VICIdial's highest dial level (the lowest is 1).
    pub vicidial_max_level: f64,
    /// VICIdial `available_only_ratio_tally`: multiply the level by ready agents only
    /// instead of ready plus in-call agents.
    pub vicidial_available_only: bool,
    /// What VICIdial does when the day's drop rate exceeds the target.
    pub vicidial_drop_action: VicidialDropAction,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            abandonment_target: ABANDONMENT_TARGET_DEFAULT,
            evaluation_window_secs: EVALUATION_WINDOW_SECS_DEFAULT,
            abandon_threshold_secs: ABANDON_THRESHOLD_SECS_DEFAULT,
            max_lines_per_agent: MAX_LINES_PER_AGENT_DEFAULT,
            abandonment_confidence_z: ABANDONMENT_CONFIDENCE_Z_DEFAULT,
            budget_horizon_answers: BUDGET_HORIZON_ANSWERS_DEFAULT,
            recent_window_secs: RECENT_WINDOW_SECS_DEFAULT,
            recent_confidence_z: RECENT_CONFIDENCE_Z_DEFAULT,
            recent_rate_floor: RECENT_RATE_FLOOR_DEFAULT,
            risk_gain: RISK_GAIN_DEFAULT,
            estimate_confidence_z: ESTIMATE_CONFIDENCE_Z_DEFAULT,
            warmup_outcomes: WARMUP_OUTCOMES_DEFAULT,
            vicidial_adapt_interval_secs: VICIDIAL_ADAPT_INTERVAL_SECS_DEFAULT,
            vicidial_max_level: VICIDIAL_MAX_LEVEL_DEFAULT,
            vicidial_available_only: false,
            vicidial_drop_action: VicidialDropAction::Halve,
        }
    }
}

impl PacingConfig {
    /// Every invalid setting, each message naming its key (`pacing.<key>`); empty if valid.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut range = |key: &str, value: f64, ok: bool, what: &str| {
            if !ok || !value.is_finite() {
                errors.push(format!("pacing.{key} must be {what}, got {value}"));
            }
        };
        let t = self.abandonment_target;
        range(
            "abandonment_target",
            t,
            t > 0.0 && t <= ABANDONMENT_TARGET_MAX,
            "in (0, 0.2]",
        );
        let w = self.evaluation_window_secs;
        range(
            "evaluation_window_secs",
            w as f64,
            (EVALUATION_WINDOW_SECS_MIN..=EVALUATION_WINDOW_SECS_MAX).contains(&w),
            "in [3600, 2592000] (1 hour to 30 days)",
        );
        let a = self.abandon_threshold_secs;
        range(
            "abandon_threshold_secs",
            a,
            a > 0.0 && a <= ABANDON_THRESHOLD_SECS_MAX,
            "in (0, 60]",
        );
        let m = self.max_lines_per_agent;
        range(
            "max_lines_per_agent",
            m,
            (1.0..=MAX_LINES_PER_AGENT_MAX).contains(&m),
            "in [1, 20]",
        );
        let z = self.abandonment_confidence_z;
        range(
            "abandonment_confidence_z",
            z,
            (0.0..=5.0).contains(&z),
            "in [0, 5]",
        );
        let h = self.budget_horizon_answers;
        range(
            "budget_horizon_answers",
            h,
            (1.0..=1e6).contains(&h),
            "in [1, 1000000]",
        );
        let r = self.recent_window_secs;
        range(
            "recent_window_secs",
            r as f64,
            r == 0 || (EVALUATION_WINDOW_SECS_MIN..=EVALUATION_WINDOW_SECS_MAX).contains(&r),
            "0 (off) or in [3600, 2592000] (1 hour to 30 days)",
        );
        let rz = self.recent_confidence_z;
        range(
            "recent_confidence_z",
            rz,
            (0.0..=5.0).contains(&rz),
            "in [0, 5]",
        );
        let f = self.recent_rate_floor;
        range(
            "recent_rate_floor",
            f,
            (0.0..=1.0).contains(&f),
            "in [0, 1]",
        );
        let g = self.risk_gain;
        range("risk_gain", g, g > 0.0 && g <= 100.0, "in (0, 100]");
        let e = self.estimate_confidence_z;
        range(
            "estimate_confidence_z",
            e,
            (0.0..=5.0).contains(&e),
            "in [0, 5]",
        );
        let i = self.vicidial_adapt_interval_secs;
        range(
            "vicidial_adapt_interval_secs",
            i,
            i > 0.0 && i <= 3600.0,
            "in (0, 3600]",
        );
        let l = self.vicidial_max_level;
        range(
            "vicidial_max_level",
            l,
            (1.0..=MAX_LINES_PER_AGENT_MAX).contains(&l),
            "in [1, 20]",
        );
        errors
    }
}

/// Something that happened to one of the campaign's contacts, at `at_secs` on the same
/// monotonic clock as [`PacingInput::now_secs`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When it happened.
    pub at_secs: f64,
    /// What happened.
    pub event: ObservedEvent,
}

/// The events pacing learns from. Machines detected by AMD are `MachineAnswered`; with AMD
/// off the engine reports them as `PersonAnswered` (they do reach the agent queue).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObservedEvent {
    /// A dial was placed.
    DialPlaced,
    /// A person answered `after_secs` after the dial; they now need an agent.
    PersonAnswered {
        /// Ring time.
        after_secs: f64,
    },
    /// AMD detected a machine `after_secs` after the dial.
    MachineAnswered {
        /// Time from dial to detection.
        after_secs: f64,
    },
    /// Nobody answered; the dial gave up after `after_secs`.
    NoAnswer {
        /// Ring time.
        after_secs: f64,
    },
    /// Busy, invalid number or another fast failure `after_secs` after the dial.
    Failed {
        /// Time from dial to failure.
        after_secs: f64,
    },
    /// An answered person reached an agent after waiting `waited_secs`.
    Connected {
        /// Wait after the answer.
        waited_secs: f64,
    },
    /// An answered person was abandoned (not connected within the threshold).
    Abandoned {
        /// Wait after the answer until it was given up.
        waited_secs: f64,
    },
    /// An agent finished a contact: talk plus wrap-up took `handle_secs`.
    ContactFinished {
        /// Talk plus wrap-up.
        handle_secs: f64,
    },
}

/// What the engine knows about the campaign at the moment of a decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PacingInput {
    /// Monotonic seconds, same clock as the observations.
    pub now_secs: f64,
    /// The campaign's pacing mode.
    pub mode: PacingMode,
    /// Share of the agents this campaign may use, 0..=1.
    pub bandwidth_allocation: f64,
    /// Agents free for a call now.
    pub agents_available: u32,
    /// Agents on a contact (talking or in wrap-up).
    pub agents_busy: u32,
    /// How long each busy agent has been on its current contact. Optional, but without it
    /// the handle time is underestimated early in a shift, when only short contacts have
    /// finished yet.
    pub busy_elapsed_secs: Vec<f64>,
    /// Dials placed and not resolved yet (ringing).
    pub dials_in_flight: u32,
    /// Time since each in-flight dial was placed; missing entries count as just placed.
    pub in_flight_elapsed_secs: Vec<f64>,
    /// Answered persons waiting for an agent.
    pub customers_waiting: u32,
    /// Most dials that may be in flight at once for this campaign now (its share of the
    /// dialing capacity, less any lines the engine counts as held by answered calls).
    pub line_limit: u32,
}

/// How many dials to place now, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// New dials to place now.
    pub dials: u32,
    /// Inputs, estimates and the reason, for debug logs and metrics.
    pub explanation: Explanation,
}

/// The scalar inputs a decision used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct InputSummary {
    /// See [`PacingInput::now_secs`].
    pub now_secs: f64,
    /// Bandwidth allocation after clamping to 0..=1.
    pub bandwidth_allocation: f64,
    /// See [`PacingInput::agents_available`].
    pub agents_available: u32,
    /// See [`PacingInput::agents_busy`].
    pub agents_busy: u32,
    /// See [`PacingInput::dials_in_flight`].
    pub dials_in_flight: u32,
    /// See [`PacingInput::customers_waiting`].
    pub customers_waiting: u32,
    /// See [`PacingInput::line_limit`].
    pub line_limit: u32,
}

/// Current estimates behind a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimates {
    /// Person answers per resolved dial, recent dials weighted most.
    pub answer_rate: f64,
    /// Upper confidence bound of `answer_rate` used when forecasting.
    pub answer_rate_upper: f64,
    /// Effective number of dials behind the answer rate.
    pub answer_samples: f64,
    /// Mean handle time (talk + wrap-up), if any contact finished.
    pub mean_handle_secs: Option<f64>,
    /// Upper confidence bound of the handle time used when forecasting.
    pub handle_secs_upper: Option<f64>,
    /// Finished contacts seen.
    pub handle_samples: u64,
}

/// Abandonment over the evaluation window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AbandonmentWindow {
    /// Counts in the window (rounded out to whole hours).
    pub totals: WindowTotals,
    /// Abandons / person-answers.
    pub rate: f64,
    /// Wilson upper confidence bound of the rate at `abandonment_confidence_z`.
    pub rate_upper: f64,
}

/// Abandonment over the recent window (`recent_window_secs`, sliding smoothly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentAbandonment {
    /// Counts in the window, the oldest hour pro rata.
    pub totals: SlidingTotals,
    /// Abandons / person-answers.
    pub rate: f64,
    /// Wilson upper confidence bound of the rate at `recent_confidence_z`.
    pub rate_upper: f64,
}

/// What bounded the number of dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The mode's own plan.
    Plan,
    /// `line_limit`.
    LineLimit,
    /// `max_lines_per_agent`.
    LinesPerAgent,
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Mode the decision was made in.
    pub mode: PacingMode,
    /// Scalar inputs used.
    pub inputs: InputSummary,
    /// Answer rate and handle time estimates.
    pub estimates: Estimates,
    /// Abandonment over the evaluation window.
    pub abandonment: AbandonmentWindow,
    /// Abandonment over the recent window; `None` when `recent_window_secs` is 0.
    #[serde(default)]
    pub recent_abandonment: Option<RecentAbandonment>,
    /// Predictive planning details (predictive mode only).
    pub predictive: Option<predictive::PlanDetail>,
    /// VICIdial dial level (VICIdial mode only).
    pub vicidial_level: Option<f64>,
    /// Lines dialing (in flight plus new) per agent this campaign may use.
    pub dial_ratio: f64,
    /// What bounded the dials.
    pub limit: Limit,
    /// True when predictive pacing fell back to progressive.
    pub fallback: bool,
    /// One line for humans.
    pub reason: String,
}

/// Per-campaign pacing memory: estimates built from observations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PacerState {
    /// Regulatory counts per hour.
    pub window: WindowCounts,
    /// Time-to-outcome histograms (answer rate, time to answer).
    pub delays: OutcomeDelays,
    /// Handle time.
    pub handle: HandleEstimate,
    /// VICIdial's level and its one-minute statistics.
    pub vicidial: vicidial::VicidialState,
    last_dial_ratio: f64,
}

/// Inputs cleaned of values the engine should not send but that must not upset pacing.
pub(crate) struct Clean {
    pub bw: f64,
    pub in_flight: u32,
    pub waiting: u32,
    pub available: u32,
    pub busy: u32,
    pub line_limit: u32,
}

impl Clean {
    fn new(input: &PacingInput) -> Self {
        let bw = if input.bandwidth_allocation.is_finite() {
            input.bandwidth_allocation.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Self {
            bw,
            in_flight: input.dials_in_flight,
            waiting: input.customers_waiting,
            available: input.agents_available,
            busy: input.agents_busy,
            line_limit: input.line_limit,
        }
    }

    /// Agents this campaign may use (free plus busy), scaled by the allocation.
    pub fn staffed(&self) -> f64 {
        (self.available as f64 + self.busy as f64) * self.bw
    }
}

impl PacerState {
    /// A state with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns from one event. Events with a non-finite time or duration are ignored.
    pub fn observe(&mut self, obs: &Observation) {
        let at = obs.at_secs;
        if !at.is_finite() {
            return;
        }
        match obs.event {
            ObservedEvent::DialPlaced => {
                self.window.record(at, |b| b.dials += 1);
                self.vicidial.note_dial(at);
            }
            ObservedEvent::PersonAnswered { after_secs } if after_secs.is_finite() => {
                self.window.record(at, |b| b.person_answers += 1);
                self.delays.record(OutcomeClass::Person, after_secs);
                self.vicidial.note_answer(at);
            }
            ObservedEvent::MachineAnswered { after_secs }
            | ObservedEvent::NoAnswer { after_secs }
            | ObservedEvent::Failed { after_secs }
                if after_secs.is_finite() =>
            {
                self.delays.record(OutcomeClass::Other, after_secs);
            }
            ObservedEvent::Connected { .. } => {
                self.window.record(at, |b| b.connected += 1);
            }
            ObservedEvent::Abandoned { .. } => {
                self.window.record(at, |b| b.abandons += 1);
                self.vicidial.note_drop(at);
            }
            ObservedEvent::ContactFinished { handle_secs } if handle_secs.is_finite() => {
                self.handle.record(handle_secs);
            }
            _ => {}
        }
    }

    /// Lines dialing per usable agent at the last decision (0 before any).
    pub fn dial_ratio(&self) -> f64 {
        self.last_dial_ratio
    }

    /// Current answer-rate and handle-time estimates; `busy_elapsed_secs` are the times
    /// busy agents have spent on their current contacts so far (may be empty).
    pub fn estimates(&self, busy_elapsed_secs: &[f64], cfg: &PacingConfig) -> Estimates {
        let cdf = self.delays.cdf();
        let samples = cdf.effective_samples();
        let rate = cdf.answer_rate();
        Estimates {
            answer_rate: rate,
            answer_rate_upper: estimate::wilson_upper(
                rate * samples,
                samples,
                cfg.estimate_confidence_z,
            ),
            answer_samples: samples,
            mean_handle_secs: self.handle.mean(busy_elapsed_secs),
            handle_secs_upper: self
                .handle
                .mean_upper(busy_elapsed_secs, cfg.estimate_confidence_z),
            handle_samples: self.handle.count(),
        }
    }

    /// Abandonment over the evaluation window ending at `now_secs`.
    pub fn abandonment(&self, now_secs: f64, cfg: &PacingConfig) -> AbandonmentWindow {
        let totals = self.window.totals(now_secs, cfg.evaluation_window_secs);
        AbandonmentWindow {
            totals,
            rate: totals.rate(),
            rate_upper: estimate::wilson_upper(
                totals.abandons as f64,
                totals.person_answers as f64,
                cfg.abandonment_confidence_z,
            ),
        }
    }

    /// Abandonment over the recent window ending at `now_secs`; `None` when it is off.
    pub fn recent_abandonment(
        &self,
        now_secs: f64,
        cfg: &PacingConfig,
    ) -> Option<RecentAbandonment> {
        (cfg.recent_window_secs > 0).then(|| {
            let totals = self.window.sliding(now_secs, cfg.recent_window_secs);
            RecentAbandonment {
                totals,
                rate: totals.rate(),
                rate_upper: estimate::wilson_upper(
                    totals.abandons,
                    totals.person_answers,
                    cfg.recent_confidence_z,
                ),
            }
        })
    }

    /// How many dials to place now. Deterministic in the state, `input` and `cfg`; it
    /// mutates the state only to prune counts older than 30 days, to remember the dial
    /// ratio, and (VICIdial mode) to sample agents and advance the dial level.
    pub fn decide(&mut self, input: &PacingInput, cfg: &PacingConfig) -> Decision {
        let mode = input.mode;
        let now = if input.now_secs.is_finite() {
            input.now_secs
        } else {
            0.0
        };
        self.window.prune(now);
        let clean = Clean::new(input);
        let estimates = self.estimates(&input.busy_elapsed_secs, cfg);
        let abandonment = self.abandonment(now, cfg);
        let recent_abandonment = self.recent_abandonment(now, cfg);

        let mut predictive_detail = None;
        let mut vicidial_level = None;
        let mut fallback = false;
        let (planned, reason) = match mode {
            PacingMode::Progressive => (
                progressive::dials(&clean),
                "progressive: one dial per free agent".to_string(),
            ),
            PacingMode::Agentless => (
                clean.line_limit.saturating_sub(clean.in_flight),
                "agentless: fill the line limit".to_string(),
            ),
            PacingMode::Predictive => {
                let budgets = predictive::Budgets {
                    window: &abandonment,
                    recent: recent_abandonment.as_ref(),
                };
                let plan = predictive::plan(self, input, &clean, cfg, &estimates, budgets);
                fallback = plan.fallback;
                let reason = plan.reason.clone();
                let dials = plan.dials;
                predictive_detail = Some(plan.detail);
                (dials, reason)
            }
            PacingMode::Vicidial => {
                let (dials, level, reason) =
                    self.vicidial
                        .decide(now, &clean, cfg, &self.window.totals(now, 86_400));
                vicidial_level = Some(level);
                (dials, reason)
            }
        };

        // A plan that reaches a cap is reported as bounded by it.
        let line_room = clean.line_limit.saturating_sub(clean.in_flight);
        let mut dials = planned;
        let mut limit = Limit::Plan;
        if mode != PacingMode::Agentless && mode != PacingMode::Progressive {
            let per_agent = (cfg.max_lines_per_agent * clean.staffed() + 1e-9).floor() as u32;
            let agent_room = per_agent.saturating_sub(clean.in_flight);
            if dials > 0 && dials >= agent_room {
                dials = agent_room;
                limit = Limit::LinesPerAgent;
            }
        }
        if dials > 0 && dials >= line_room {
            dials = line_room;
            limit = Limit::LineLimit;
        }

        let usable = clean.staffed();
        let dial_ratio = if usable > 0.0 {
            (clean.in_flight + dials) as f64 / usable
        } else {
            0.0
        };
        self.last_dial_ratio = dial_ratio;
        Decision {
            dials,
            explanation: Explanation {
                mode,
                inputs: InputSummary {
                    now_secs: now,
                    bandwidth_allocation: clean.bw,
                    agents_available: clean.available,
                    agents_busy: clean.busy,
                    dials_in_flight: clean.in_flight,
                    customers_waiting: clean.waiting,
                    line_limit: clean.line_limit,
                },
                estimates,
                abandonment,
                recent_abandonment,
                predictive: predictive_detail,
                vicidial_level,
                dial_ratio,
                limit,
                fallback,
                reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn input(
        mode: PacingMode,
        available: u32,
        busy: u32,
        in_flight: u32,
    ) -> PacingInput {
        PacingInput {
            now_secs: 1000.0,
            mode,
            bandwidth_allocation: 1.0,
            agents_available: available,
            agents_busy: busy,
            dials_in_flight: in_flight,
            in_flight_elapsed_secs: vec![5.0; in_flight as usize],
            line_limit: 1000,
            ..PacingInput::default()
        }
    }

    #[test]
    fn default_config_is_valid() {
        assert!(PacingConfig::default().validate().is_empty());
    }

    #[test]
    fn validation_messages_name_the_key_and_value() {
        let cfg = PacingConfig {
            abandonment_target: 0.5,
            evaluation_window_secs: 60,
            max_lines_per_agent: 0.5,
            abandon_threshold_secs: f64::NAN,
            ..PacingConfig::default()
        };
        let errors = cfg.validate();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors.contains(&"pacing.abandonment_target must be in (0, 0.2], got 0.5".into()));
        assert!(errors[1].starts_with("pacing.evaluation_window_secs "));
        assert!(errors[1].ends_with("got 60"));
        assert!(errors[2].starts_with("pacing.abandon_threshold_secs "));
        assert!(errors[3].starts_with("pacing.max_lines_per_agent "));
    }

    #[test]
    fn recent_budget_settings_are_validated_by_name() {
        let cfg = PacingConfig {
            recent_window_secs: 600,
            recent_confidence_z: -1.0,
            recent_rate_floor: 1.5,
            ..PacingConfig::default()
        };
        let errors = cfg.validate();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(
            errors[0],
            "pacing.recent_window_secs must be 0 (off) or in [3600, 2592000] (1 hour to 30 days), got 600"
        );
        assert!(errors[1].starts_with("pacing.recent_confidence_z "));
        assert!(errors[2].starts_with("pacing.recent_rate_floor "));
        let off = PacingConfig {
            recent_window_secs: 0,
            ..PacingConfig::default()
        };
        assert!(off.validate().is_empty());
    }

    #[test]
    fn explanations_report_the_recent_window_unless_it_is_off() {
        let mut state = PacerState::new();
        for (at, event) in [
            (100.0, ObservedEvent::PersonAnswered { after_secs: 9.0 }),
            (100.0, ObservedEvent::Abandoned { waited_secs: 2.0 }),
            (5000.0, ObservedEvent::PersonAnswered { after_secs: 9.0 }),
            (5000.0, ObservedEvent::Connected { waited_secs: 0.0 }),
        ] {
            state.observe(&Observation { at_secs: at, event });
        }
        let mut inp = input(PacingMode::Predictive, 5, 0, 0);
        // 2:30: the 2-hour window reaches half of the first hour back.
        inp.now_secs = 9000.0;
        let cfg = PacingConfig::default();
        let d = state.decide(&inp, &cfg);
        let recent = d.explanation.recent_abandonment.unwrap_or_default();
        assert_eq!(recent.totals.window_secs, 7200);
        assert!(
            (recent.totals.person_answers - 1.5).abs() < 1e-9,
            "{recent:?}"
        );
        assert!((recent.rate - 1.0 / 3.0).abs() < 1e-9, "{recent:?}");
        assert!(recent.rate_upper > recent.rate);
        // The evaluation window counts whole hours.
        assert_eq!(d.explanation.abandonment.totals.person_answers, 2);
        let off = PacingConfig {
            recent_window_secs: 0,
            ..cfg
        };
        assert_eq!(
            state.decide(&inp, &off).explanation.recent_abandonment,
            None
        );
    }

    #[test]
    fn a_state_saved_before_the_recent_budget_still_loads() {
        let old = r#"{"window":{"buckets":[{"hour":0,"dials":3,"person_answers":2,"connected":1,"abandons":1}]},
            "delays":{"person":[],"other":[],"unit":1.0,"count":0,"person_count":0},
            "handle":{"weight":0.0,"weighted_sum":0.0,"count":0},
            "vicidial":{"level":1.0,"last_adapt_secs":null,"samples":[],"recent_dials":[],
                "recent_answers":[],"recent_drops":[]},
            "last_dial_ratio":0.0}"#;
        let state: PacerState = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        let recent = state
            .recent_abandonment(1800.0, &PacingConfig::default())
            .unwrap_or_default();
        assert_eq!(recent.totals.abandons, 1.0);
    }

    #[test]
    fn config_rejects_unknown_keys_and_fills_defaults() {
        let cfg: PacingConfig = serde_json::from_str(r#"{"abandonment_target":0.01}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.abandonment_target, 0.01);
        assert_eq!(cfg.evaluation_window_secs, EVALUATION_WINDOW_SECS_DEFAULT);
        assert_eq!(cfg.recent_window_secs, RECENT_WINDOW_SECS_DEFAULT);
        assert_eq!(cfg.recent_rate_floor, RECENT_RATE_FLOOR_DEFAULT);
        assert!(serde_json::from_str::<PacingConfig>(r#"{"abandon_target":0.01}"#).is_err());
    }

    #[test]
    fn agentless_fills_the_line_limit() {
        let mut state = PacerState::new();
        let mut inp = input(PacingMode::Agentless, 0, 0, 7);
        inp.line_limit = 10;
        let d = state.decide(&inp, &PacingConfig::default());
        assert_eq!(d.dials, 3);
        inp.dials_in_flight = 12;
        assert_eq!(state.decide(&inp, &PacingConfig::default()).dials, 0);
    }

    #[test]
    fn line_limit_caps_every_mode() {
        let cfg = PacingConfig::default();
        for mode in [
            PacingMode::Progressive,
            PacingMode::Predictive,
            PacingMode::Vicidial,
            PacingMode::Agentless,
        ] {
            let mut state = PacerState::new();
            let mut inp = input(mode, 10, 0, 2);
            inp.line_limit = 5;
            let d = state.decide(&inp, &cfg);
            assert_eq!(d.dials, 3, "{mode:?}");
            assert_eq!(d.explanation.limit, Limit::LineLimit, "{mode:?}");
        }
    }

    #[test]
    fn observations_with_bad_numbers_are_ignored() {
        let mut state = PacerState::new();
        state.observe(&Observation {
            at_secs: f64::NAN,
            event: ObservedEvent::DialPlaced,
        });
        state.observe(&Observation {
            at_secs: 1.0,
            event: ObservedEvent::ContactFinished {
                handle_secs: f64::INFINITY,
            },
        });
        assert_eq!(state, PacerState::new());
    }

    #[test]
    fn state_round_trips_through_serde() {
        let mut state = PacerState::new();
        for (i, event) in [
            ObservedEvent::DialPlaced,
            ObservedEvent::PersonAnswered { after_secs: 9.0 },
            ObservedEvent::Connected { waited_secs: 0.0 },
            ObservedEvent::ContactFinished { handle_secs: 100.0 },
        ]
        .into_iter()
        .enumerate()
        {
            state.observe(&Observation {
                at_secs: i as f64,
                event,
            });
        }
        let json = serde_json::to_string(&state).unwrap_or_else(|e| panic!("{e}"));
        let back: PacerState = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, state);
    }
}
