//! The VICIdial baseline: its adaptive dial level (`AST_VDadapt.pl`, `calculate_dial_level`,
//! methods ADAPT_AVERAGE / ADAPT_HARD_LIMIT with intensity 0 and no diff target) and its
//! dial loop (`AST_VDauto_dial.pl`), reimplemented to compare predictive pacing against.
//!
//! Adapt step, every `vicidial_adapt_interval_secs` (15 s):
//! - `diff` = one-minute time average of (ready agents - answered calls waiting),
//!   `m = diff / one-minute average of agents`, `level = level x (1 + m)`, clamped to
//!   `[1, vicidial_max_level]`;
//! - more than 20 dials in the last minute with more than half of its answers dropped:
//!   halve;
//! - more than 50 dials "today" with drops / answers over the target: halve (ADAPT_AVERAGE)
//!   or set to 1 (ADAPT_HARD_LIMIT); the level never goes below 1.
//!
//! Dial step, every decision: `round(level x counted agents)` minus the calls VICIdial counts
//! as in progress (ringing, answered and waiting, and, when in-call agents are counted, the
//! calls they are on), so level 1 is progressive.
//!
//! Deviations, documented: "today" is the last 24 hours (pacing has no calendar), and busy
//! agents (talk plus wrap-up) stand in for VICIdial's INCALL agents.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::estimate::WindowTotals;
use super::{Clean, PacingConfig, VicidialDropAction};

/// VICIdial averages agent statistics over one minute.
const MINUTE_SECS: f64 = 60.0;

/// VICIdial's level and the one-minute history it adapts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VicidialState {
    level: f64,
    last_adapt_secs: Option<f64>,
    /// `(at, ready - waiting, agents)` at each decision in the last minute.
    samples: VecDeque<(f64, f64, f64)>,
    recent_dials: VecDeque<f64>,
    recent_answers: VecDeque<f64>,
    recent_drops: VecDeque<f64>,
}

impl Default for VicidialState {
    fn default() -> Self {
        Self {
            level: 1.0,
            last_adapt_secs: None,
            samples: VecDeque::new(),
            recent_dials: VecDeque::new(),
            recent_answers: VecDeque::new(),
            recent_drops: VecDeque::new(),
        }
    }
}

fn push_recent(times: &mut VecDeque<f64>, at: f64) {
    times.push_back(at);
    prune(times, at);
}

fn prune(times: &mut VecDeque<f64>, now: f64) {
    while times.front().is_some_and(|&t| t < now - MINUTE_SECS) {
        times.pop_front();
    }
}

impl VicidialState {
    /// The current dial level.
    pub fn level(&self) -> f64 {
        self.level
    }

    pub(crate) fn note_dial(&mut self, at: f64) {
        push_recent(&mut self.recent_dials, at);
    }

    pub(crate) fn note_answer(&mut self, at: f64) {
        push_recent(&mut self.recent_answers, at);
    }

    pub(crate) fn note_drop(&mut self, at: f64) {
        push_recent(&mut self.recent_drops, at);
    }

    /// Time averages of `(ready - waiting, agents)` over the last minute.
    fn minute_averages(&self, now: f64) -> (f64, f64) {
        let from = now - MINUTE_SECS;
        let (mut diff, mut agents, mut span) = (0.0, 0.0, 0.0);
        let mut iter = self.samples.iter().peekable();
        while let Some(&(at, d, a)) = iter.next() {
            let end = iter.peek().map_or(now, |next| next.0);
            let width = end - at.max(from);
            if width > 0.0 {
                diff += d * width;
                agents += a * width;
                span += width;
            }
        }
        match self.samples.back() {
            _ if span > 0.0 => (diff / span, agents / span),
            Some(&(_, d, a)) => (d, a),
            None => (0.0, 0.0),
        }
    }

    fn adapt(&mut self, now: f64, cfg: &PacingConfig, day: &WindowTotals) -> &'static str {
        let (diff, agents) = self.minute_averages(now);
        let m = if diff != 0.0 && agents != 0.0 {
            diff / agents
        } else {
            0.0
        };
        let mut level = (self.level * (1.0 + m)).clamp(1.0, cfg.vicidial_max_level);
        let mut why = "adapted to the agent/call differential";
        let answers = self.recent_answers.len() as f64;
        if self.recent_dials.len() > 20 && answers > 0.0 {
            let drops = self.recent_drops.len() as f64;
            if drops / answers > 0.5 {
                level /= 2.0;
                why = "over half of the last minute's answers dropped: halved";
            }
        }
        if day.dials > 50 && day.rate() > cfg.abandonment_target {
            match cfg.vicidial_drop_action {
                VicidialDropAction::Halve => {
                    level /= 2.0;
                    why = "day's drop rate over the limit: halved";
                }
                VicidialDropAction::HardLimit => {
                    level = 1.0;
                    why = "day's drop rate over the limit: level 1";
                }
            }
        }
        self.level = level.max(1.0);
        why
    }

    /// Samples the agents, adapts the level when due, and returns `(dials, level, reason)`.
    pub(crate) fn decide(
        &mut self,
        now: f64,
        clean: &Clean,
        cfg: &PacingConfig,
        day: &WindowTotals,
    ) -> (u32, f64, String) {
        let ready = clean.available as f64 * clean.bw;
        let incall = clean.busy as f64 * clean.bw;
        self.samples
            .push_back((now, ready - clean.waiting as f64, ready + incall));
        while self.samples.len() > 1 && self.samples[1].0 <= now - MINUTE_SECS {
            self.samples.pop_front();
        }
        for times in [
            &mut self.recent_dials,
            &mut self.recent_answers,
            &mut self.recent_drops,
        ] {
            prune(times, now);
        }

        let mut why = "level unchanged between adapt steps";
        match self.last_adapt_secs {
            None => self.last_adapt_secs = Some(now),
            Some(last) if now - last >= cfg.vicidial_adapt_interval_secs => {
                why = self.adapt(now, cfg, day);
                self.last_adapt_secs = Some(now);
            }
            Some(_) => {}
        }

        let (counted, in_progress) = if cfg.vicidial_available_only {
            (ready, clean.in_flight + clean.waiting)
        } else {
            (
                ready + incall,
                clean.in_flight + clean.waiting + incall.round() as u32,
            )
        };
        let goal = (self.level * counted).round() as u32;
        let dials = goal.saturating_sub(in_progress);
        let reason = format!(
            "vicidial: level {:.3} x {:.1} agents = {goal} lines ({why})",
            self.level, counted
        );
        (dials, self.level, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        Observation, ObservedEvent, PacerState, PacingConfig, PacingInput, PacingMode,
    };
    use super::*;

    fn input(now: f64, available: u32, busy: u32, in_flight: u32, waiting: u32) -> PacingInput {
        PacingInput {
            now_secs: now,
            mode: PacingMode::Vicidial,
            bandwidth_allocation: 1.0,
            agents_available: available,
            agents_busy: busy,
            dials_in_flight: in_flight,
            customers_waiting: waiting,
            line_limit: 10_000,
            ..PacingInput::default()
        }
    }

    fn observe(state: &mut PacerState, at: f64, event: ObservedEvent) {
        state.observe(&Observation { at_secs: at, event });
    }

    #[test]
    fn level_one_is_progressive() {
        let mut state = PacerState::new();
        let d = state.decide(&input(0.0, 4, 6, 1, 0), &PacingConfig::default());
        assert_eq!(d.explanation.vicidial_level, Some(1.0));
        assert_eq!(d.dials, 3);
    }

    #[test]
    fn idle_agents_raise_the_level_up_to_the_clamp() {
        let cfg = PacingConfig::default();
        let mut state = PacerState::new();
        let mut level = 1.0;
        for step in 0..20 {
            let d = state.decide(&input(step as f64 * 15.0, 10, 0, 0, 0), &cfg);
            let now_level = d.explanation.vicidial_level.unwrap_or(0.0);
            assert!(now_level >= level && now_level <= 3.0);
            level = now_level;
        }
        assert_eq!(level, 3.0);
        // Level 3 with 10 ready agents: 30 lines.
        let d = state.decide(&input(301.0, 10, 0, 4, 0), &cfg);
        assert_eq!(d.dials, 26);
    }

    #[test]
    fn waiting_calls_lower_the_level_but_not_below_one() {
        let cfg = PacingConfig::default();
        let mut state = PacerState::new();
        for step in 0..10 {
            state.decide(&input(step as f64 * 15.0, 10, 0, 0, 0), &cfg);
        }
        let high = state.vicidial.level();
        for step in 10..40 {
            state.decide(&input(step as f64 * 15.0, 0, 10, 0, 5), &cfg);
        }
        assert!(high > 1.0);
        assert_eq!(state.vicidial.level(), 1.0);
    }

    #[test]
    fn drops_over_the_limit_halve_the_level() {
        let cfg = PacingConfig::default();
        let mut state = PacerState::new();
        for step in 0..10 {
            state.decide(&input(step as f64 * 15.0, 10, 0, 0, 0), &cfg);
        }
        assert_eq!(state.vicidial.level(), 3.0);
        // 100 dials, 40 answers, 4 dropped today: 10% > 3%.
        for i in 0..100 {
            observe(&mut state, 150.0, ObservedEvent::DialPlaced);
            if i < 40 {
                observe(
                    &mut state,
                    150.0,
                    ObservedEvent::PersonAnswered { after_secs: 10.0 },
                );
            }
            if i < 4 {
                observe(
                    &mut state,
                    150.0,
                    ObservedEvent::Abandoned { waited_secs: 2.0 },
                );
            }
        }
        // Balanced agents (diff 0) so only the drop rule moves the level.
        let d = state.decide(&input(165.0, 0, 10, 0, 0), &cfg);
        assert_eq!(d.explanation.vicidial_level, Some(1.5));
        assert!(
            d.explanation.reason.contains("halved"),
            "{}",
            d.explanation.reason
        );
        let hard = PacingConfig {
            vicidial_drop_action: VicidialDropAction::HardLimit,
            ..cfg
        };
        let d = state.decide(&input(180.0, 0, 10, 0, 0), &hard);
        assert_eq!(d.explanation.vicidial_level, Some(1.0));
    }

    #[test]
    fn available_only_counts_ready_agents() {
        let cfg = PacingConfig {
            vicidial_available_only: true,
            ..PacingConfig::default()
        };
        let mut state = PacerState::new();
        let d = state.decide(&input(0.0, 2, 8, 0, 0), &cfg);
        assert_eq!(d.dials, 2);
    }
}
