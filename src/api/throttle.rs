//! API rate limits: one token bucket per (operation, caller), sized from the config.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{Rate, ThrottlingConfig};

/// The limiters of every operation.
pub struct Throttle {
    per_operation: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
}

fn quota(rate: Rate) -> Quota {
    // Validated config guarantees a positive rate and burst; the fallbacks only keep this
    // total for hand-built values.
    let period = Duration::from_secs_f64(1.0 / rate.per_second.max(1e-6));
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Throttle {
    /// Limiters for every operation of the API.
    pub fn new(config: &ThrottlingConfig) -> Self {
        let per_operation = super::OPERATIONS
            .iter()
            .map(|&operation| {
                let rate = config
                    .operations
                    .get(operation)
                    .copied()
                    .unwrap_or(config.default);
                (operation, RateLimiter::keyed(quota(rate)))
            })
            .collect();
        Self { per_operation }
    }

    /// Whether `caller` may call `operation` now (taking a token if so).
    pub fn allow(&self, operation: &str, caller: &str) -> bool {
        match self.per_operation.get(operation) {
            Some(limiter) => limiter.check_key(&caller.to_string()).is_ok(),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_per_caller_and_operation() {
        let config = ThrottlingConfig {
            default: Rate {
                per_second: 0.001,
                burst: 2,
            },
            operations: Default::default(),
        };
        let throttle = Throttle::new(&config);
        assert!(throttle.allow("ListCampaigns", "a"));
        assert!(throttle.allow("ListCampaigns", "a"));
        assert!(!throttle.allow("ListCampaigns", "a"));
        assert!(
            throttle.allow("ListCampaigns", "b"),
            "callers have their own bucket"
        );
        assert!(
            throttle.allow("CreateCampaign", "a"),
            "operations have their own bucket"
        );
    }
}
