//! Estimators behind pacing: the regulatory abandonment counts, the short-memory outcome
//! delay histograms (answer rate and time to answer), the handle-time mean, and the small
//! probability helpers (Wilson bounds, binomial tails) the pacers share.
//!
//! Invariants:
//! - Everything here is updated only from observations, so a state rebuilt by replaying the
//!   same observations in the same order is identical.
//! - The regulatory counts are raw integers per hour bucket (never a rate), so any window can
//!   be recomputed; buckets older than [`EVALUATION_WINDOW_SECS_MAX`] are dropped.
//! - The short-memory estimators weight recent outcomes exponentially, so a changed answer
//!   rate shows within a few hundred dials, while the long counts stay exact.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::EVALUATION_WINDOW_SECS_MAX;

/// Width of one regulatory count bucket.
pub const BUCKET_SECS: f64 = 3600.0;

/// Outcome delays are binned per second up to this many seconds; later outcomes land in the
/// last bin. Ring timeouts above 60 s are unusual (AWS allows 15-60 s), so 120 s is ample.
pub const DELAY_BINS: usize = 121;

/// Half-life, in resolved dials, of the answer-rate and time-to-answer estimates. 300 dials is
/// under two minutes of dialing for 50 agents at a 25% answer rate, short enough to follow a
/// shift in the answer rate, and still about 430 effective samples, so the rate's standard
/// error is about 2 points at 25%.
pub const ANSWER_HALF_LIFE_DIALS: f64 = 300.0;

/// Half-life, in finished contacts, of the mean handle time. Handle times are noisy
/// (exponential-like) and drift slowly, and the censoring correction (see
/// [`HandleEstimate`]) is biased by busy agents / effective samples, so the memory is long:
/// about 40 minutes of contacts for 100 agents.
pub const HANDLE_HALF_LIFE_CONTACTS: f64 = 2000.0;

/// Lazy exponential weights grow by this factor per sample; rescale before they overflow.
const RESCALE_AT: f64 = 1e150;

/// Raw counts for one hour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HourCounts {
    /// Bucket index: `floor(at_secs / 3600)`.
    pub hour: i64,
    /// Dials placed.
    pub dials: u64,
    /// Calls answered by a person (or by a machine that reached the agent queue because AMD
    /// was off): the denominator of the abandonment rate.
    pub person_answers: u64,
    /// Answered persons connected to an agent.
    pub connected: u64,
    /// Answered persons not connected in time: the numerator.
    pub abandons: u64,
}

/// Totals of the hour buckets inside an evaluation window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowTotals {
    /// Start of the first bucket counted (the window is rounded out to whole hours).
    pub from_secs: f64,
    /// Length of the window asked for.
    pub window_secs: u64,
    /// Dials placed in the window.
    pub dials: u64,
    /// Person-answered calls in the window.
    pub person_answers: u64,
    /// Connected persons in the window.
    pub connected: u64,
    /// Abandoned persons in the window.
    pub abandons: u64,
}

impl WindowTotals {
    /// Abandons over person-answers; 0 with no answers.
    pub fn rate(&self) -> f64 {
        if self.person_answers == 0 {
            0.0
        } else {
            self.abandons as f64 / self.person_answers as f64
        }
    }
}

/// Counts over a window that slides smoothly (see [`WindowCounts::sliding`]): fractional,
/// because the oldest hour counts pro rata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SlidingTotals {
    /// Length of the window.
    pub window_secs: u64,
    /// Person-answered calls in the window.
    pub person_answers: f64,
    /// Abandoned persons in the window.
    pub abandons: f64,
}

impl SlidingTotals {
    /// Abandons over person-answers; 0 with no answers.
    pub fn rate(&self) -> f64 {
        if self.person_answers <= 0.0 {
            0.0
        } else {
            self.abandons / self.person_answers
        }
    }
}

/// The regulatory counts, one bucket per hour, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowCounts {
    buckets: VecDeque<HourCounts>,
}

impl WindowCounts {
    /// Adds to the bucket holding `at_secs`, creating it in order if needed.
    pub fn record(&mut self, at_secs: f64, add: impl FnOnce(&mut HourCounts)) {
        let hour = (at_secs / BUCKET_SECS).floor() as i64;
        // Observations arrive nearly in order, so search from the newest bucket.
        let pos = self.buckets.iter().rposition(|b| b.hour <= hour);
        let index = match pos {
            Some(i) if self.buckets[i].hour == hour => i,
            Some(i) => {
                self.buckets.insert(
                    i + 1,
                    HourCounts {
                        hour,
                        ..HourCounts::default()
                    },
                );
                i + 1
            }
            None => {
                self.buckets.push_front(HourCounts {
                    hour,
                    ..HourCounts::default()
                });
                0
            }
        };
        add(&mut self.buckets[index]);
    }

    /// Drops buckets no window can reach any more.
    pub fn prune(&mut self, now_secs: f64) {
        let oldest = ((now_secs - EVALUATION_WINDOW_SECS_MAX as f64) / BUCKET_SECS).floor() as i64;
        while self.buckets.front().is_some_and(|b| b.hour < oldest) {
            self.buckets.pop_front();
        }
    }

    /// Totals over the `window_secs` ending at `now_secs`, rounded out to whole buckets.
    pub fn totals(&self, now_secs: f64, window_secs: u64) -> WindowTotals {
        let first = ((now_secs - window_secs as f64) / BUCKET_SECS).floor() as i64;
        let mut totals = WindowTotals {
            from_secs: first as f64 * BUCKET_SECS,
            window_secs,
            ..WindowTotals::default()
        };
        for b in self.buckets.iter().filter(|b| b.hour >= first) {
            totals.dials += b.dials;
            totals.person_answers += b.person_answers;
            totals.connected += b.connected;
            totals.abandons += b.abandons;
        }
        totals
    }

    /// Person-answers and abandons over exactly the `window_secs` ending at `now_secs`. The
    /// oldest hour the window reaches into counts pro rata, its counts taken as spread evenly
    /// over the hour, so the totals slide smoothly instead of dropping an hour at a time
    /// (a budget kept over them would otherwise jump at every hour boundary).
    pub fn sliding(&self, now_secs: f64, window_secs: u64) -> SlidingTotals {
        let from = now_secs - window_secs as f64;
        let mut totals = SlidingTotals {
            window_secs,
            ..SlidingTotals::default()
        };
        for b in self.buckets.iter().rev() {
            let end = (b.hour + 1) as f64 * BUCKET_SECS;
            let share = ((end - from) / BUCKET_SECS).clamp(0.0, 1.0);
            if share <= 0.0 {
                break;
            }
            totals.person_answers += share * b.person_answers as f64;
            totals.abandons += share * b.abandons as f64;
        }
        totals
    }

    /// The buckets, oldest first (for export and tests).
    pub fn buckets(&self) -> impl Iterator<Item = &HourCounts> {
        self.buckets.iter()
    }
}

/// How one dial ended, as far as the time-to-outcome histograms care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeClass {
    /// A person (or an undetected machine) answered: it will need an agent.
    Person,
    /// Anything else: machine detected, no answer, busy, invalid.
    Other,
}

/// Exponentially weighted histograms of the time from dial to outcome, split into person
/// answers and everything else. Together they give the probability that a dial still
/// ringing after `a` seconds is answered by a person within the next `t` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeDelays {
    person: Vec<f64>,
    other: Vec<f64>,
    /// Weight the next sample gets; grows by `1 / decay` per sample instead of shrinking
    /// every bin, and everything is rescaled before it overflows.
    unit: f64,
    /// Outcomes seen in all (not decayed).
    count: u64,
    /// Person answers seen in all (not decayed).
    person_count: u64,
}

impl Default for OutcomeDelays {
    fn default() -> Self {
        Self {
            person: vec![0.0; DELAY_BINS],
            other: vec![0.0; DELAY_BINS],
            unit: 1.0,
            count: 0,
            person_count: 0,
        }
    }
}

impl OutcomeDelays {
    /// Records one resolved dial.
    pub fn record(&mut self, class: OutcomeClass, after_secs: f64) {
        if self.person.len() != DELAY_BINS || self.other.len() != DELAY_BINS {
            // A deserialized state from another build: start the histograms afresh.
            *self = Self::default();
        }
        let bin = (after_secs.max(0.0).floor() as usize).min(DELAY_BINS - 1);
        let bins = match class {
            OutcomeClass::Person => {
                self.person_count += 1;
                &mut self.person
            }
            OutcomeClass::Other => &mut self.other,
        };
        bins[bin] += self.unit;
        self.count += 1;
        self.unit /= 0.5f64.powf(1.0 / ANSWER_HALF_LIFE_DIALS);
        if self.unit > RESCALE_AT {
            let scale = 1.0 / self.unit;
            for w in self.person.iter_mut().chain(self.other.iter_mut()) {
                *w *= scale;
            }
            self.unit = 1.0;
        }
    }

    /// Resolved dials seen in all.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Person answers seen in all.
    pub fn person_count(&self) -> u64 {
        self.person_count
    }

    /// Cumulative view for fast repeated lookups during one decision.
    pub fn cdf(&self) -> DelayCdf {
        let mut person = Vec::with_capacity(DELAY_BINS + 1);
        let mut all = Vec::with_capacity(DELAY_BINS + 1);
        let (mut p, mut a) = (0.0, 0.0);
        person.push(0.0);
        all.push(0.0);
        for (wp, wo) in self.person.iter().zip(&self.other) {
            p += wp / self.unit;
            a += (wp + wo) / self.unit;
            person.push(p);
            all.push(a);
        }
        DelayCdf { person, all }
    }
}

/// Cumulative weights of [`OutcomeDelays`], in units of "the latest sample weighs 1", so the
/// total is the effective sample size.
#[derive(Debug, Clone)]
pub struct DelayCdf {
    person: Vec<f64>,
    all: Vec<f64>,
}

impl DelayCdf {
    fn at(cum: &[f64], secs: f64) -> f64 {
        let last = cum.len() - 1;
        if secs <= 0.0 {
            return 0.0;
        }
        let whole = secs.floor() as usize;
        if whole >= last {
            return cum[last];
        }
        // Outcomes are spread uniformly inside their one-second bin.
        let frac = secs - whole as f64;
        cum[whole] + frac * (cum[whole + 1] - cum[whole])
    }

    /// Effective number of resolved dials behind the estimate.
    pub fn effective_samples(&self) -> f64 {
        self.all.last().copied().unwrap_or(0.0)
    }

    /// Share of resolved dials answered by a person.
    pub fn answer_rate(&self) -> f64 {
        let total = self.effective_samples();
        if total <= 0.0 {
            0.0
        } else {
            self.person.last().copied().unwrap_or(0.0) / total
        }
    }

    /// P(person answer within `secs` of dialing), unconditionally.
    pub fn person_by(&self, secs: f64) -> f64 {
        let total = self.effective_samples();
        if total <= 0.0 {
            0.0
        } else {
            Self::at(&self.person, secs) / total
        }
    }

    /// P(person answer in `(age, age + horizon]` | not resolved by `age`).
    pub fn person_within(&self, age: f64, horizon: f64) -> f64 {
        let total = self.effective_samples();
        let unresolved = total - Self::at(&self.all, age);
        // A dial older than nearly every outcome seen will almost surely not be answered.
        if unresolved <= total * 1e-6 {
            return 0.0;
        }
        let p = (Self::at(&self.person, age + horizon) - Self::at(&self.person, age)) / unresolved;
        p.clamp(0.0, 1.0)
    }

    /// Quantile of the time to a person answer (conditional on one happening).
    pub fn person_quantile(&self, q: f64) -> f64 {
        let total = self.person.last().copied().unwrap_or(0.0);
        if total <= 0.0 {
            return 0.0;
        }
        let target = q.clamp(0.0, 1.0) * total;
        for i in 1..self.person.len() {
            if self.person[i] >= target {
                let lo = self.person[i - 1];
                let width = self.person[i] - lo;
                let frac = if width > 0.0 {
                    (target - lo) / width
                } else {
                    0.0
                };
                return (i - 1) as f64 + frac;
            }
        }
        (self.person.len() - 1) as f64
    }
}

/// Exponentially weighted mean handle time (talk + wrap-up), corrected for the contacts
/// still in progress.
///
/// Early in a shift only the short contacts have finished, so a plain mean of finished
/// contacts is far too short and the pacer would overdial. The exponential maximum
/// likelihood estimate with censoring fixes that: (time of finished contacts + time spent
/// so far on ongoing ones) / finished contacts. The ongoing time weighs as much as the
/// newest finished contact, which biases the mean up by about (busy agents / effective
/// samples) in steady state: under 4% for 100 agents with the 2,000-contact half-life.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HandleEstimate {
    weight: f64,
    weighted_sum: f64,
    count: u64,
}

impl HandleEstimate {
    /// Records one finished contact.
    pub fn record(&mut self, handle_secs: f64) {
        let decay = 0.5f64.powf(1.0 / HANDLE_HALF_LIFE_CONTACTS);
        self.weight = self.weight * decay + 1.0;
        self.weighted_sum = self.weighted_sum * decay + handle_secs.max(0.0);
        self.count += 1;
    }

    /// Mean handle time given the elapsed times of the contacts in progress; `None` until
    /// a contact finished.
    pub fn mean(&self, ongoing_elapsed: &[f64]) -> Option<f64> {
        let ongoing: f64 = ongoing_elapsed
            .iter()
            .filter(|e| e.is_finite())
            .map(|e| e.max(0.0))
            .sum();
        (self.weight > 0.0).then(|| (self.weighted_sum + ongoing) / self.weight)
    }

    /// An upper confidence bound on the mean: `z` standard errors longer, taking the
    /// coefficient of variation as 1 (exponential). Longer handle times mean fewer agents
    /// freed, hence fewer dials: the safe side while data is scarce.
    pub fn mean_upper(&self, ongoing_elapsed: &[f64], z: f64) -> Option<f64> {
        self.mean(ongoing_elapsed)
            .map(|m| m * (1.0 + z / self.weight.max(1.0).sqrt()))
    }

    /// Finished contacts seen in all.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Upper end of the Wilson score interval for `k` successes in `n` trials at `z` standard
/// deviations; 1 with no trials.
pub fn wilson_upper(k: f64, n: f64, z: f64) -> f64 {
    if n <= 0.0 {
        return 1.0;
    }
    let phat = (k / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let centre = phat + z2 / (2.0 * n);
    let spread = z * (phat * (1.0 - phat) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + z2 / n)).clamp(0.0, 1.0)
}

/// The largest success count out of `n` whose Wilson upper bound at `z` stays at or below
/// `p`: the Wilson bound equals `p` exactly when the observed share is
/// `p - z * sqrt(p (1 - p) / n)`.
pub fn wilson_max_successes(p: f64, n: f64, z: f64) -> f64 {
    n * p - z * (n * p * (1.0 - p)).sqrt()
}

/// A count distribution given by its probability mass from 0 upwards, truncated where the
/// remaining mass is negligible.
#[derive(Debug, Clone)]
pub struct Pmf {
    mass: Vec<f64>,
}

/// Mass below which a binomial tail is cut off.
const TAIL_EPS: f64 = 1e-12;

impl Pmf {
    /// A point mass at zero.
    pub fn zero() -> Self {
        Self { mass: vec![1.0] }
    }

    /// Binomial(`n`, `p`), by the product recurrence from its mode outwards (no underflow
    /// for large `n`), truncated at mass below 1e-12.
    pub fn binomial(n: u64, p: f64) -> Self {
        let p = p.clamp(0.0, 1.0);
        if n == 0 || p <= 0.0 {
            return Self::zero();
        }
        if p >= 1.0 {
            let mut mass = vec![0.0; n as usize + 1];
            mass[n as usize] = 1.0;
            return Self { mass };
        }
        let mode = (((n + 1) as f64) * p).floor().min(n as f64) as u64;
        let ratio = p / (1.0 - p);
        // Unnormalised weights relative to the mode, then normalised.
        let mut up = Vec::new();
        let mut w = 1.0;
        let mut k = mode;
        while k < n {
            w *= (n - k) as f64 / (k + 1) as f64 * ratio;
            if w < TAIL_EPS {
                break;
            }
            up.push(w);
            k += 1;
        }
        let mut down = Vec::new();
        let mut w = 1.0;
        let mut k = mode;
        while k > 0 {
            w *= k as f64 / (n - k + 1) as f64 / ratio;
            if w < TAIL_EPS {
                break;
            }
            down.push(w);
            k -= 1;
        }
        let lowest = mode - down.len() as u64;
        let mut mass = vec![0.0; lowest as usize];
        mass.extend(down.iter().rev());
        mass.push(1.0);
        mass.extend(up);
        let total: f64 = mass.iter().sum();
        for m in &mut mass {
            *m /= total;
        }
        Self { mass }
    }

    /// A distribution on the non-negative integers with the given mean and variance: a
    /// binomial with matched moments when the variance is below the mean (the sum of
    /// independent Bernoulli trials with different probabilities always is), else Poisson.
    pub fn matched(mean: f64, var: f64) -> Self {
        if mean <= 1e-12 {
            return Self::zero();
        }
        let gap = mean - var;
        if gap <= mean * 1e-3 {
            // Poisson: a binomial with many trials of tiny probability.
            let n = ((mean * 1e3).ceil() as u64).max(1000);
            return Self::binomial(n, mean / n as f64);
        }
        let n = ((mean * mean / gap).round() as u64).max(1);
        Self::binomial(n, (mean / n as f64).min(1.0))
    }

    /// P(X >= k).
    pub fn tail(&self, k: i64) -> f64 {
        if k <= 0 {
            return 1.0;
        }
        let k = k as usize;
        if k >= self.mass.len() {
            return 0.0;
        }
        let below: f64 = self.mass[..k].iter().sum();
        (1.0 - below).max(0.0)
    }

    /// The probability masses from 0 upwards.
    pub fn masses(&self) -> &[f64] {
        &self.mass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_sum_only_buckets_inside_the_window() {
        let mut w = WindowCounts::default();
        w.record(10.0, |b| b.person_answers += 10);
        w.record(3.0 * 3600.0 + 5.0, |b| {
            b.person_answers += 20;
            b.abandons += 1;
        });
        // Out of order: lands in the first bucket.
        w.record(100.0, |b| b.abandons += 1);
        let all = w.totals(3.0 * 3600.0 + 10.0, 30 * 86_400);
        assert_eq!((all.person_answers, all.abandons), (30, 2));
        let last_hour = w.totals(3.0 * 3600.0 + 10.0, 3600);
        assert_eq!((last_hour.person_answers, last_hour.abandons), (20, 1));
        assert_eq!(last_hour.from_secs, 2.0 * 3600.0);
        assert!((all.rate() - 2.0 / 30.0).abs() < 1e-12);
    }

    #[test]
    fn sliding_totals_take_the_oldest_hour_pro_rata() {
        let mut w = WindowCounts::default();
        w.record(100.0, |b| {
            b.person_answers += 100;
            b.abandons += 4;
        });
        w.record(3600.0 + 100.0, |b| b.person_answers += 50);
        w.record(2.0 * 3600.0 + 100.0, |b| {
            b.person_answers += 10;
            b.abandons += 1;
        });
        // At 2:15 a 2-hour window reaches back to 0:15: three quarters of the first hour.
        let t = w.sliding(2.25 * 3600.0, 7200);
        assert!(
            (t.person_answers - (75.0 + 50.0 + 10.0)).abs() < 1e-9,
            "{t:?}"
        );
        assert!((t.abandons - (3.0 + 1.0)).abs() < 1e-9, "{t:?}");
        assert!((t.rate() - 4.0 / 135.0).abs() < 1e-12);
        // A minute later a little less of it, not a whole hour less.
        let later = w.sliding(2.25 * 3600.0 + 60.0, 7200);
        assert!((t.person_answers - later.person_answers - 100.0 / 60.0).abs() < 1e-9);
        // The whole-hour totals drop the first hour only once the window has left it.
        assert_eq!(w.totals(2.25 * 3600.0, 7200).person_answers, 160);
        assert_eq!(w.sliding(3.0 * 3600.0, 7200).person_answers, 60.0);
        assert_eq!(SlidingTotals::default().rate(), 0.0);
    }

    #[test]
    fn prune_drops_buckets_older_than_thirty_days() {
        let mut w = WindowCounts::default();
        w.record(0.0, |b| b.dials += 1);
        w.record(40.0 * 86_400.0, |b| b.dials += 1);
        w.prune(40.0 * 86_400.0);
        assert_eq!(w.buckets().count(), 1);
    }

    #[test]
    fn conditional_answer_probability_follows_the_histogram() {
        let mut d = OutcomeDelays::default();
        // Half answered at 10 s, half rang out at 20 s.
        for _ in 0..100 {
            d.record(OutcomeClass::Person, 10.5);
            d.record(OutcomeClass::Other, 20.5);
        }
        let cdf = d.cdf();
        assert!((cdf.answer_rate() - 0.5).abs() < 0.02);
        assert!((cdf.person_within(0.0, 30.0) - cdf.answer_rate()).abs() < 1e-9);
        // Still ringing after 12 s: the person answers are behind it.
        assert!(cdf.person_within(12.0, 30.0) < 1e-9);
        assert!((cdf.person_quantile(0.5) - 10.5).abs() < 0.01);
    }

    #[test]
    fn recent_outcomes_outweigh_old_ones() {
        let mut d = OutcomeDelays::default();
        for _ in 0..3000 {
            d.record(OutcomeClass::Person, 5.0);
        }
        for _ in 0..3000 {
            d.record(OutcomeClass::Other, 5.0);
        }
        assert!(d.cdf().answer_rate() < 0.01);
        assert_eq!(d.count(), 6000);
    }

    #[test]
    fn handle_time_counts_contacts_still_in_progress() {
        let mut h = HandleEstimate::default();
        assert_eq!(h.mean(&[500.0]), None);
        // Early in a shift only the short contacts have finished.
        h.record(30.0);
        h.record(50.0);
        assert!((h.mean(&[]).unwrap_or(0.0) - 40.0).abs() < 0.1);
        let censored = h.mean(&[100.0, 200.0]).unwrap_or(0.0);
        assert!((censored - 190.0).abs() < 0.2, "{censored}");
        assert!(h.mean_upper(&[], 1.0).unwrap_or(0.0) > 40.0);
    }

    #[test]
    fn wilson_bound_and_its_inverse_agree() {
        let (p, n, z) = (0.03, 5000.0, 1.645);
        let k = wilson_max_successes(p, n, z);
        assert!((wilson_upper(k, n, z) - p).abs() < 1e-9);
        assert_eq!(wilson_upper(0.0, 0.0, z), 1.0);
        assert!(wilson_upper(0.0, 100.0, 1.0) > 0.0);
    }

    #[test]
    fn binomial_pmf_matches_closed_form() {
        let pmf = Pmf::binomial(4, 0.5);
        let expect = [1.0, 4.0, 6.0, 4.0, 1.0].map(|c| c / 16.0);
        for (a, b) in pmf.masses().iter().zip(expect) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!((pmf.tail(3) - 5.0 / 16.0).abs() < 1e-12);
        assert_eq!(pmf.tail(0), 1.0);
        assert_eq!(pmf.tail(5), 0.0);
        // Large n does not underflow.
        let big = Pmf::binomial(100_000, 0.5);
        assert!((big.masses().iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn matched_pmf_keeps_mean_and_variance() {
        let pmf = Pmf::matched(3.0, 2.0);
        let mean: f64 = pmf
            .masses()
            .iter()
            .enumerate()
            .map(|(k, m)| k as f64 * m)
            .sum();
        let var: f64 = pmf
            .masses()
            .iter()
            .enumerate()
            .map(|(k, m)| (k as f64 - mean).powi(2) * m)
            .sum();
        assert!((mean - 3.0).abs() < 1e-6);
        assert!((var - 2.0).abs() < 1e-6);
        assert!((Pmf::matched(2.0, 2.0).tail(1) - (1.0 - (-2.0f64).exp())).abs() < 1e-3);
    }
}
