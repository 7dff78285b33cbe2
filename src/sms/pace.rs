//! How many messages a campaign may send now: a token bucket filled at the campaign's share
//! of the daemon's messages-per-second limit (`engine.sms_messages_per_second` times the
//! campaign's SMS `capacity`), holding at most one second's worth (at least one message).
//! Agents play no part: SMS campaigns are agentless. Pure: time is an argument.

use chrono::{DateTime, Utc};

/// A campaign's SMS allowance.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsPace {
    tokens: f64,
    last: Option<DateTime<Utc>>,
}

impl Default for SmsPace {
    fn default() -> Self {
        Self::new()
    }
}

impl SmsPace {
    /// A bucket that starts empty: the first second's messages are earned, so a lease that
    /// moves between daemons never sends a second burst.
    pub fn new() -> Self {
        Self {
            tokens: 0.0,
            last: None,
        }
    }

    /// Most messages per second for `limit` (the daemon's) and `capacity` (the campaign's
    /// share, 0.01 to 1).
    pub fn rate(limit: f64, capacity: f64) -> f64 {
        (limit * capacity.clamp(0.0, 1.0)).max(0.0)
    }

    /// Takes up to `wanted` messages at `now`, at `rate` per second; returns how many.
    pub fn take(&mut self, now: DateTime<Utc>, rate: f64, wanted: usize) -> usize {
        let burst = rate.max(1.0);
        let elapsed = self.last.map_or(0.0, |last| {
            (now - last).num_microseconds().unwrap_or(0) as f64 / 1e6
        });
        if self.last.is_none_or(|last| now > last) {
            self.last = Some(now);
        }
        self.tokens = (self.tokens + elapsed.max(0.0) * rate).min(burst);
        let granted = (self.tokens.floor() as usize).min(wanted);
        self.tokens -= granted as f64;
        granted
    }

    /// Gives back `n` messages taken but not sent (nothing was claimable).
    pub fn refund(&mut self, n: usize) {
        self.tokens += n as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(millis)
    }

    #[test]
    fn a_campaign_never_sends_more_than_its_rate_allows() {
        let rate = SmsPace::rate(10.0, 0.5);
        assert_eq!(rate, 5.0);
        let mut pace = SmsPace::new();
        assert_eq!(pace.take(at(0), rate, 100), 0, "starts empty");
        let mut sent = 0;
        // Ten seconds in steps of 50 ms: 5/s for 10 s is 50, never more.
        for step in 1..=200 {
            sent += pace.take(at(step * 50), rate, 100);
        }
        assert_eq!(sent, 50);
        // Idle for a minute: at most a second's worth waits.
        assert_eq!(pace.take(at(70_000), rate, 100), 5);
    }

    #[test]
    fn slow_rates_still_send_and_refunds_come_back() {
        let rate = SmsPace::rate(1.0, 0.25);
        let mut pace = SmsPace::new();
        assert_eq!(pace.take(at(0), rate, 10), 0);
        assert_eq!(pace.take(at(3_999), rate, 10), 0);
        assert_eq!(pace.take(at(4_000), rate, 10), 1);
        pace.refund(1);
        assert_eq!(pace.take(at(4_000), rate, 10), 1);
        assert_eq!(pace.take(at(4_000), rate, 10), 0);
        // A clock that steps back grants nothing extra.
        assert_eq!(pace.take(at(1_000), rate, 10), 0);
    }
}
