//! Predictive pacing: dial ahead of free agents while keeping abandonment under the target.
//!
//! Each decision answers "how many more dials can start now?" in three steps.
//!
//! 1. **Budget.** From the evaluation window's `n` person-answers and `a` abandons, the
//!    abandons the campaign can still afford over the next `M` answers while the Wilson
//!    upper bound (at `abandonment_confidence_z`) of the window's rate stays at the target:
//!    `x = k_max(n + M) - a`, where `k_max(N)` is the largest count whose bound is the
//!    target. `allowed_rate = x / M`. Abandons below budget raise it (the catch-up is an
//!    integral action on the realised rate), a run of abandons lowers it, and when `x <= 0`
//!    the cap is at risk: fall back to progressive. `M` is `budget_horizon_answers` (300)
//!    early in a window and grows as `z sqrt(n (1 - target) / target)`, the longest horizon
//!    for which a window that spent its whole budget still sits at or under the target (see
//!    `budget_horizon`); the realised rate therefore settles near
//!    `target - z sqrt(target (1 - target) / (n + M))`, closer to the target as `n` grows.
//!    That is the window's average: the rate of the newest answers, the derivative of
//!    `k_max`, runs closer still, `target - z sqrt(target (1 - target) / n) / 2`, about 2.9%
//!    after a shift of 50 agents and nearer the target every day, so a few hours of it drift
//!    over the target by chance. So the same budget is also kept over the last
//!    `recent_window_secs` (2 hours) at `recent_confidence_z` (1) and the lower allowed
//!    rate wins. That window is short, so its margin does not shrink as the evaluation
//!    window fills: it holds every few hours near
//!    `target - z sqrt(target (1 - target) / n_recent)`, about 2.7% for 50 agents. It slides
//!    smoothly (its oldest hour counts pro rata), since a budget that lost an hour of answers
//!    at once would swing at every hour boundary. It spreads abandons over the shift, it is
//!    not the regulatory cap, so it never lowers the allowed rate under `recent_rate_floor`
//!    x target (a quarter) and only the evaluation window's budget falls back to
//!    progressive: a burst the pacer could not prevent (agents logging out, the answer rate
//!    falling) is repaid over the next hour or so at a slower pace instead of by most of an
//!    hour of progressive dialing. Early in a shift both windows hold the same answers and
//!    the recent budget, with the smaller `z`, is the looser.
//! 2. **Risk threshold.** A dial may carry a marginal risk of abandonment, given that a
//!    person answers it, of at most `risk_gain x allowed_rate`: equalising marginal risks
//!    is what trades abandons for occupancy best, and only the last dials of each plan carry
//!    the full marginal risk, so the average stays well below the threshold.
//! 3. **Forecast.** For a new dial answered `tau` seconds from now (`tau` at four quantiles
//!    of the measured time to answer), its person is abandoned if the answers ahead of it,
//!    `W + R(tau)`, take all agents free by `tau + abandon_threshold_secs`,
//!    `A + Binomial(B, 1 - exp(-(tau + threshold) / H))`, where `W` is answered persons
//!    waiting, `R(tau)` the person-answers by `tau` from dials in flight (each conditioned
//!    on how long it has rung already) and from the other new dials, `A` the free agents
//!    and `B` the busy ones with mean handle time `H` (exponential, so time already spent on
//!    a contact does not matter; `H` is the censored estimate of
//!    [`super::estimate::HandleEstimate`], which counts the time busy agents have spent so
//!    far, so it is not too short early in a shift). `R` is a sum of independent Bernoulli trials, computed as
//!    the binomial with the same mean and variance. The plan is the largest number of new
//!    dials whose last one stays under the threshold, never fewer than progressive.
//!
//! Estimates are conservative while samples are few: the answer rate is raised to its
//! Wilson upper bound and the handle time lengthened by `estimate_confidence_z` standard
//! errors; until `warmup_outcomes` dials resolved the pacer dials progressively. The answer
//! estimates weigh recent dials most (half-life [`super::estimate::ANSWER_HALF_LIFE_DIALS`]),
//! so a falling answer rate shows within a couple of minutes, and dials still ringing are
//! re-forecast from their age at every decision, so agent changes count at once.
//!
//! Tuning and results: a discrete-event simulation of the reference model (person answers
//! with probability 0.25 after 6-24 s, 15% fast failures at 3 s, the rest ring out at
//! 25 s, 2 s abandon threshold, exponential 120 s handle time, 8-hour shift, re-planning
//! every second and on every event) gave, over seeds 1-3, occupancy 0.72-0.74 (5 agents),
//! 0.77-0.78 (10), 0.84-0.85 (20), 0.91 (50) and 0.943-0.946 (100) at 2.1-2.8%
//! abandonment, against 0.61 for progressive; with the answer rate falling from 0.30 to
//! 0.15 at mid-shift (50 agents), 0.91 with each half at or under 2.8%, and over seeds 1-40
//! no half over 2.84% (see BENCHMARKS.md).

use serde::{Deserialize, Serialize};

use super::estimate::{wilson_max_successes, wilson_upper, DelayCdf, Pmf};
use super::{
    progressive, AbandonmentWindow, Clean, Estimates, PacerState, PacingConfig, PacingInput,
    RecentAbandonment,
};

/// The abandonment counts the budgets are kept over.
#[derive(Clone, Copy)]
pub(crate) struct Budgets<'a> {
    /// The evaluation window, at `abandonment_confidence_z`.
    pub window: &'a AbandonmentWindow,
    /// The recent window, at `recent_confidence_z`; `None` when it is off.
    pub recent: Option<&'a RecentAbandonment>,
}

/// Points of the time-to-answer distribution at which the forecast is evaluated.
const TAU_QUANTILES: [f64; 4] = [0.125, 0.375, 0.625, 0.875];

/// Numbers behind a predictive decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanDetail {
    /// Abandons per future person-answer the budgets allow: the lower of the evaluation
    /// window's and the recent window's, the latter no lower than `recent_rate_floor` x
    /// target (negative when over budget).
    pub allowed_rate: f64,
    /// What the recent window's budget alone allows, before its floor; `None` when it is
    /// off.
    #[serde(default)]
    pub recent_allowed_rate: Option<f64>,
    /// Wilson upper bound of the window's rate if the next `budget_horizon_answers` answers
    /// had no abandon; at or over the target means the cap is at risk.
    pub projected_rate_upper: f64,
    /// Highest marginal abandonment risk a new dial may carry.
    pub risk_threshold: f64,
    /// Marginal risk of the last dial planned (0 when none).
    pub marginal_risk: f64,
    /// Median time from dial to a person answer.
    pub answer_delay_secs: f64,
    /// Persons expected to want an agent by the latest forecast point: waiting plus
    /// answers from dials in flight.
    pub expected_answers: f64,
    /// Agents expected free by the latest forecast point plus the abandon threshold.
    pub expected_free_agents: f64,
}

/// A predictive decision before the common caps.
pub(crate) struct Plan {
    pub dials: u32,
    pub fallback: bool,
    pub reason: String,
    pub detail: PlanDetail,
}

/// One forecast point: everything about `tau` that does not depend on the new dials.
struct Point {
    /// Mean and variance of person-answers by `tau` from dials in flight.
    mean: f64,
    var: f64,
    /// Answer probability by `tau` of a dial placed now.
    p_new: f64,
    /// Distribution of busy agents freed by `tau + threshold`.
    freed: Pmf,
}

/// The forecast for one decision.
struct Forecast {
    points: Vec<Point>,
    /// Free agents minus answered persons already waiting for them.
    free_minus_waiting: i64,
}

impl Forecast {
    /// P(the `n`-th new dial, once answered, finds no agent), averaged over the points.
    fn marginal_risk(&self, n: u32) -> f64 {
        let others = n.saturating_sub(1) as f64;
        let mut total = 0.0;
        for point in &self.points {
            let mean = point.mean + others * point.p_new;
            let var = point.var + others * point.p_new * (1.0 - point.p_new);
            let ahead = Pmf::matched(mean, var);
            let risk: f64 = point
                .freed
                .masses()
                .iter()
                .enumerate()
                .map(|(freed, mass)| mass * ahead.tail(self.free_minus_waiting + freed as i64))
                .sum();
            total += risk;
        }
        total / self.points.len() as f64
    }
}

fn build_forecast(
    cdf: &DelayCdf,
    input: &PacingInput,
    clean: &Clean,
    cfg: &PacingConfig,
    est: &Estimates,
) -> Forecast {
    // Raise every answer probability to the answer rate's upper bound.
    let scale = if est.answer_rate > 0.0 {
        (est.answer_rate_upper / est.answer_rate).max(1.0)
    } else {
        1.0
    };
    let free = progressive::usable_free_agents(clean) as i64;
    let busy = (clean.busy as f64 * clean.bw).round() as u64;
    let points = TAU_QUANTILES
        .iter()
        .map(|&q| {
            let tau = cdf.person_quantile(q);
            let (mut mean, mut var) = (0.0, 0.0);
            for i in 0..clean.in_flight as usize {
                let age = input
                    .in_flight_elapsed_secs
                    .get(i)
                    .copied()
                    .filter(|a| a.is_finite())
                    .unwrap_or(0.0)
                    .max(0.0);
                let p = (scale * cdf.person_within(age, tau)).min(1.0);
                mean += p;
                var += p * (1.0 - p);
            }
            let freed_by = tau + cfg.abandon_threshold_secs;
            let q_free = match est.handle_secs_upper {
                Some(h) if h > 0.0 => 1.0 - (-freed_by / h).exp(),
                // No contact finished yet: count on nobody coming free.
                _ => 0.0,
            };
            Point {
                mean,
                var,
                p_new: (scale * cdf.person_by(tau)).min(1.0),
                freed: Pmf::binomial(busy, q_free),
            }
        })
        .collect();
    Forecast {
        points,
        free_minus_waiting: free - clean.waiting as i64,
    }
}

/// Future person-answers an abandonment budget at `z` is spread over: at least
/// `budget_horizon_answers`, growing as `z * sqrt(n (1 - target) / target)` with the
/// window's `n` answers. A longer horizon smooths the budget (each abandon moves the
/// allowed rate by `1 / horizon`), and this growth is the longest for which a window that
/// has used up its whole budget still has a realised rate at or under the target:
/// `target x horizon <= z x sqrt(target (1 - target) (n + horizon))`.
fn budget_horizon(answers: f64, z: f64, cfg: &PacingConfig) -> f64 {
    let t = cfg.abandonment_target;
    let grown = z * (answers * (1.0 - t) / t).sqrt();
    cfg.budget_horizon_answers.max(grown)
}

/// One window's budget.
struct Budget {
    /// Abandons per future person-answer it allows (negative when over budget).
    allowed_rate: f64,
    /// Wilson upper bound of the window's rate if the next horizon of answers had no
    /// abandon.
    projected_rate_upper: f64,
}

/// The budget over a window's `answers` and `abandons` that keeps their Wilson upper bound
/// at `z` at the target.
fn budget(answers: f64, abandons: f64, z: f64, cfg: &PacingConfig) -> Budget {
    let horizon = budget_horizon(answers, z, cfg);
    let affordable = wilson_max_successes(cfg.abandonment_target, answers + horizon, z) - abandons;
    Budget {
        allowed_rate: affordable / horizon,
        projected_rate_upper: wilson_upper(abandons, answers + horizon, z),
    }
}

/// The predictive plan for one decision.
pub(crate) fn plan(
    state: &PacerState,
    input: &PacingInput,
    clean: &Clean,
    cfg: &PacingConfig,
    est: &Estimates,
    budgets: Budgets,
) -> Plan {
    let progressive = progressive::dials(clean);
    let mut detail = PlanDetail::default();
    let fallback = |dials, reason: String, detail| Plan {
        dials,
        fallback: true,
        reason,
        detail,
    };
    if clean.staffed() <= 0.0 {
        return fallback(0, "predictive: no agents".to_string(), detail);
    }
    if state.delays.count() < cfg.warmup_outcomes || state.delays.person_count() == 0 {
        let reason = format!(
            "progressive warm-up: {} of {} dial outcomes seen",
            state.delays.count(),
            cfg.warmup_outcomes
        );
        return fallback(progressive, reason, detail);
    }

    let target = cfg.abandonment_target;
    let window = budget(
        budgets.window.totals.person_answers as f64,
        budgets.window.totals.abandons as f64,
        cfg.abandonment_confidence_z,
        cfg,
    );
    let recent = budgets.recent.map(|r| {
        budget(
            r.totals.person_answers,
            r.totals.abandons,
            cfg.recent_confidence_z,
            cfg,
        )
    });
    detail.projected_rate_upper = window.projected_rate_upper;
    detail.recent_allowed_rate = recent.as_ref().map(|r| r.allowed_rate);
    detail.allowed_rate = window.allowed_rate;
    if window.allowed_rate <= 0.0 {
        let reason = format!(
            "progressive fallback: abandonment UCB {:.2}% >= target {:.2}%",
            window.projected_rate_upper * 100.0,
            target * 100.0
        );
        return fallback(progressive, reason, detail);
    }
    let mut recent_binds = false;
    if let Some(recent) = recent {
        // Not the regulatory budget: it slows dialing down to its floor rather than fall
        // back (see the module docs).
        let floored = recent.allowed_rate.max(cfg.recent_rate_floor * target);
        if floored <= 0.0 {
            let reason = format!(
                "progressive fallback: recent abandonment UCB {:.2}% >= target {:.2}%",
                recent.projected_rate_upper * 100.0,
                target * 100.0
            );
            return fallback(progressive, reason, detail);
        }
        if floored < detail.allowed_rate {
            detail.allowed_rate = floored;
            recent_binds = true;
        }
    }
    detail.risk_threshold = (cfg.risk_gain * detail.allowed_rate).min(1.0);

    let cdf = state.delays.cdf();
    detail.answer_delay_secs = cdf.person_quantile(0.5);
    let forecast = build_forecast(&cdf, input, clean, cfg, est);
    if let Some(last) = forecast.points.last() {
        detail.expected_answers = last.mean + clean.waiting as f64;
        let freed: f64 = last
            .freed
            .masses()
            .iter()
            .enumerate()
            .map(|(k, m)| k as f64 * m)
            .sum();
        detail.expected_free_agents = progressive::usable_free_agents(clean) as f64 + freed;
    }

    // The caps applied later bound the search; marginal risk grows with the dial count.
    let per_agent = (cfg.max_lines_per_agent * clean.staffed() + 1e-9).floor() as u32;
    let cap = per_agent
        .min(clean.line_limit)
        .saturating_sub(clean.in_flight);
    let (mut lo, mut hi) = (0u32, cap);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if forecast.marginal_risk(mid) <= detail.risk_threshold {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    detail.marginal_risk = if lo > 0 {
        forecast.marginal_risk(lo)
    } else {
        0.0
    };
    let dials = lo.max(progressive);
    let reason = format!(
        "predictive: {dials} dials, marginal abandon risk {:.2}% <= {:.2}% ({} budget {:.2}% per answer)",
        detail.marginal_risk * 100.0,
        detail.risk_threshold * 100.0,
        if recent_binds { "recent" } else { "window" },
        detail.allowed_rate * 100.0
    );
    Plan {
        dials,
        fallback: false,
        reason,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        Limit, Observation, ObservedEvent, PacerState, PacingConfig, PacingInput, PacingMode,
    };

    fn observe(state: &mut PacerState, at: f64, event: ObservedEvent) {
        state.observe(&Observation { at_secs: at, event });
    }

    /// Asserts that the pacer fell back to progressive dialing, saying why.
    #[track_caller]
    fn falls_back(d: &crate::pacing::Decision, reason: &str) {
        assert!(d.explanation.fallback);
        assert!(
            d.explanation.reason.starts_with(reason),
            "{}",
            d.explanation.reason
        );
    }

    /// A state that has seen `dials` dials at a 25% person-answer rate (answers after
    /// 6-24 s, the rest ringing out at 25 s), 2-minute handle times, and the given
    /// abandonment counts.
    fn trained(dials: u32, answers_abandoned: (u32, u32)) -> PacerState {
        let mut state = PacerState::new();
        let (answers, abandoned) = answers_abandoned;
        for i in 0..answers {
            observe(
                &mut state,
                0.0,
                ObservedEvent::PersonAnswered { after_secs: 10.0 },
            );
            let event = if i < abandoned {
                ObservedEvent::Abandoned { waited_secs: 2.0 }
            } else {
                ObservedEvent::Connected { waited_secs: 0.0 }
            };
            observe(&mut state, 0.0, event);
        }
        for i in 0..dials {
            let at = i as f64 * 0.5;
            observe(&mut state, at, ObservedEvent::DialPlaced);
            if i % 4 == 0 {
                let after_secs = 6.0 + (i % 19) as f64;
                observe(&mut state, at, ObservedEvent::PersonAnswered { after_secs });
                observe(
                    &mut state,
                    at,
                    ObservedEvent::Connected { waited_secs: 0.0 },
                );
            } else {
                observe(&mut state, at, ObservedEvent::NoAnswer { after_secs: 25.0 });
            }
            observe(
                &mut state,
                at,
                ObservedEvent::ContactFinished { handle_secs: 120.0 },
            );
        }
        state
    }

    fn input(available: u32, busy: u32, in_flight: u32) -> PacingInput {
        PacingInput {
            now_secs: 1000.0,
            mode: PacingMode::Predictive,
            bandwidth_allocation: 1.0,
            agents_available: available,
            agents_busy: busy,
            dials_in_flight: in_flight,
            in_flight_elapsed_secs: vec![3.0; in_flight as usize],
            line_limit: 10_000,
            ..PacingInput::default()
        }
    }

    #[test]
    fn warms_up_progressively() {
        let mut state = trained(10, (0, 0));
        let d = state.decide(&input(5, 45, 0), &PacingConfig::default());
        assert_eq!(d.dials, 5);
        assert!(d.explanation.fallback);
        assert!(
            d.explanation.reason.contains("warm-up"),
            "{}",
            d.explanation.reason
        );
    }

    #[test]
    fn dials_ahead_once_trained() {
        let mut state = trained(2000, (1000, 10));
        let d = state.decide(&input(5, 45, 0), &PacingConfig::default());
        assert!(!d.explanation.fallback, "{}", d.explanation.reason);
        // With a 25% answer rate, well over one dial per free agent.
        assert!(d.dials > 10, "{:?}", d);
        let detail = d.explanation.predictive.unwrap_or_default();
        assert!(detail.marginal_risk <= detail.risk_threshold);
        assert!(detail.allowed_rate > 0.0);
    }

    #[test]
    fn falls_back_to_progressive_when_the_abandonment_bound_is_over_target() {
        // 60 abandons in 1500 answers: 4% > 3%.
        let mut state = trained(2000, (1000, 60));
        let d = state.decide(&input(5, 45, 0), &PacingConfig::default());
        falls_back(&d, "progressive fallback: abandonment UCB");
        assert_eq!(d.dials, 5);
        // In-flight dials use up the free agents: nothing more.
        let d = state.decide(&input(5, 45, 5), &PacingConfig::default());
        assert_eq!(d.dials, 0);
    }

    /// 20,000 answers at 1% abandonment five days ago, then `answers` answers with
    /// `abandoned` abandons ten minutes ago, and a predictive input for now.
    fn recent_hours(answers: u32, abandoned: u32) -> (PacerState, PacingInput) {
        let mut state = trained(2000, (20_000, 200));
        let now = 5.0 * 86_400.0;
        for i in 0..answers {
            let at = now - 600.0;
            observe(
                &mut state,
                at,
                ObservedEvent::PersonAnswered { after_secs: 10.0 },
            );
            let event = if i < abandoned {
                ObservedEvent::Abandoned { waited_secs: 2.0 }
            } else {
                ObservedEvent::Connected { waited_secs: 0.0 }
            };
            observe(&mut state, at, event);
        }
        let mut inp = input(5, 45, 0);
        inp.now_secs = now;
        (state, inp)
    }

    #[test]
    fn early_in_a_shift_the_recent_budget_is_the_looser() {
        let mut state = trained(2000, (1000, 10));
        let d = state.decide(&input(5, 45, 0), &PacingConfig::default());
        let detail = d.explanation.predictive.unwrap_or_default();
        // Both windows hold the same answers; the recent one's margin is narrower.
        assert!(
            detail.recent_allowed_rate.unwrap_or(0.0) > detail.allowed_rate,
            "{detail:?}"
        );
        assert!(
            d.explanation.reason.contains("(window budget"),
            "{}",
            d.explanation.reason
        );
    }

    #[test]
    fn a_hot_recent_window_lowers_the_allowed_rate_the_month_would_give() {
        let cfg = PacingConfig::default();
        // 2% over the last hours: well under the target, yet the recent budget allows less
        // than the month's 1% would.
        let (mut state, inp) = recent_hours(1000, 20);
        let d = state.decide(&inp, &cfg);
        let detail = d.explanation.predictive.unwrap_or_default();
        let recent = detail.recent_allowed_rate.unwrap_or(f64::NAN);
        assert_eq!(detail.allowed_rate, recent, "{detail:?}");
        assert!(
            d.explanation.reason.contains("(recent budget"),
            "{}",
            d.explanation.reason
        );
        let off = PacingConfig {
            recent_window_secs: 0,
            ..cfg.clone()
        };
        let unbounded = state.decide(&inp, &off);
        let month = unbounded.explanation.predictive.unwrap_or_default();
        assert!(month.allowed_rate > recent, "{month:?}");
        assert_eq!(month.recent_allowed_rate, None);
        assert!(
            unbounded.dials > d.dials,
            "{} !> {}",
            unbounded.dials,
            d.dials
        );
    }

    #[test]
    fn an_exhausted_recent_budget_slows_down_to_its_floor_not_to_progressive() {
        let cfg = PacingConfig::default();
        // 5% over the last hours, 1.2% over the month.
        let (mut state, inp) = recent_hours(1000, 50);
        let d = state.decide(&inp, &cfg);
        let detail = d.explanation.predictive.unwrap_or_default();
        assert!(
            detail.recent_allowed_rate.unwrap_or(0.0) < 0.0,
            "{detail:?}"
        );
        assert!(!d.explanation.fallback, "{}", d.explanation.reason);
        let floor = cfg.recent_rate_floor * cfg.abandonment_target;
        assert!((detail.allowed_rate - floor).abs() < 1e-12, "{detail:?}");
        assert!(d.dials > 5, "{d:?}");
        // With no floor it falls back, naming the recent window.
        let no_floor = PacingConfig {
            recent_rate_floor: 0.0,
            ..cfg
        };
        let d = state.decide(&inp, &no_floor);
        falls_back(&d, "progressive fallback: recent abandonment UCB");
        assert_eq!(d.dials, 5);
    }

    #[test]
    fn the_recent_budget_never_lifts_the_evaluation_window_fallback() {
        // 4% over the month and the same lately: the regulatory budget is spent, and the
        // recent budget's floor does not override it.
        let mut state = trained(2000, (1000, 60));
        let d = state.decide(&input(5, 45, 0), &PacingConfig::default());
        falls_back(&d, "progressive fallback: abandonment UCB");
    }

    #[test]
    fn lines_per_agent_cap_holds() {
        let mut state = trained(2000, (1000, 0));
        let cfg = PacingConfig {
            max_lines_per_agent: 1.2,
            risk_gain: 100.0,
            ..PacingConfig::default()
        };
        // 10 staffed agents, 1.2 lines each: 12 lines, 4 already in flight.
        let d = state.decide(&input(10, 0, 4), &cfg);
        assert_eq!(d.dials, 8);
        assert_eq!(d.explanation.limit, Limit::LinesPerAgent);
        let mut half = input(10, 0, 4);
        half.bandwidth_allocation = 0.5;
        assert_eq!(state.decide(&half, &cfg).dials, 2);
    }

    #[test]
    fn more_busy_agents_or_more_in_flight_means_fewer_dials() {
        let cfg = PacingConfig::default();
        let mut state = trained(2000, (1000, 10));
        let base = state.decide(&input(10, 40, 5), &cfg).dials;
        let more_in_flight = state.decide(&input(10, 40, 20), &cfg).dials;
        let fewer_busy = state.decide(&input(10, 10, 5), &cfg).dials;
        assert!(more_in_flight < base, "{more_in_flight} !< {base}");
        assert!(fewer_busy < base, "{fewer_busy} !< {base}");
    }

    #[test]
    fn a_falling_answer_rate_raises_the_dial_count_within_a_few_hundred_dials() {
        let cfg = PacingConfig::default();
        let mut state = trained(2000, (1000, 10));
        let before = state.decide(&input(10, 40, 5), &cfg).dials;
        // 400 more dials (about two minutes for 50 agents) at a 5% answer rate.
        for i in 0..400 {
            let at = 2000.0 + i as f64 * 0.3;
            observe(&mut state, at, ObservedEvent::DialPlaced);
            let event = if i % 20 == 0 {
                ObservedEvent::PersonAnswered { after_secs: 12.0 }
            } else {
                ObservedEvent::NoAnswer { after_secs: 25.0 }
            };
            observe(&mut state, at, event);
        }
        let d = state.decide(&input(10, 40, 5), &cfg);
        assert!(
            d.explanation.estimates.answer_rate < 0.15,
            "{:?}",
            d.explanation.estimates
        );
        assert!(d.dials > before, "{} !> {before}", d.dials);
    }

    #[test]
    fn decide_is_deterministic() {
        let cfg = PacingConfig::default();
        let mut a = trained(2000, (1000, 10));
        let mut b = a.clone();
        let mut inp = input(3, 47, 12);
        inp.in_flight_elapsed_secs = (0..12).map(|i| i as f64 * 1.7).collect();
        let da = a.decide(&inp, &cfg);
        let db = b.decide(&inp, &cfg);
        assert_eq!(da, db);
        assert_eq!(a, b);
    }

    #[test]
    fn no_agents_means_no_dials() {
        let mut state = trained(2000, (1000, 10));
        assert_eq!(
            state
                .decide(&input(0, 0, 0), &PacingConfig::default())
                .dials,
            0
        );
        let mut zero_bw = input(5, 5, 0);
        zero_bw.bandwidth_allocation = 0.0;
        assert_eq!(state.decide(&zero_bw, &PacingConfig::default()).dials, 0);
    }
}
