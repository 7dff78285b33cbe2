//! Whether this daemon's engine is dialing: marked by the scheduler while it owns running
//! campaigns, read by the API's ingest gate, so that uploads take the whole machine only
//! while nothing here dials.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A mark that stays set for a while after each renewal.
#[derive(Debug)]
pub struct DialingActivity {
    origin: Instant,
    /// Milliseconds after `origin` until which the engine counts as dialing.
    until_ms: AtomicU64,
}

impl Default for DialingActivity {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            until_ms: AtomicU64::new(0),
        }
    }
}

impl DialingActivity {
    /// The engine dials, and counts as dialing for `span` from now unless marked again.
    pub fn dialing_for(&self, span: Duration) {
        let until = self.origin.elapsed() + span;
        self.until_ms
            .fetch_max(until.as_millis() as u64, Ordering::Relaxed);
    }

    /// Whether the last mark still holds.
    pub fn is_dialing(&self) -> bool {
        (self.origin.elapsed().as_millis() as u64) < self.until_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_holds_for_its_span_only() {
        let activity = DialingActivity::default();
        assert!(!activity.is_dialing(), "nothing marked yet");
        activity.dialing_for(Duration::from_secs(3600));
        assert!(activity.is_dialing());
        // A shorter mark does not cut a longer one short.
        activity.dialing_for(Duration::ZERO);
        assert!(activity.is_dialing());
        let lapsed = DialingActivity::default();
        lapsed.dialing_for(Duration::ZERO);
        assert!(!lapsed.is_dialing());
    }
}
