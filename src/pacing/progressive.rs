//! Progressive pacing: one dial per free agent, scaled by the campaign's bandwidth
//! allocation, less what is already on its way to those agents.
//!
//! Invariant: dials in flight plus answered persons waiting plus new dials never exceed the
//! free agents this campaign may use, so every answer finds an agent and progressive pacing
//! cannot abandon a call (as long as agents stay free). Predictive pacing falls back to this.

use super::Clean;

/// Free agents this campaign may use: `agents_available x bandwidth`, floored, but at least
/// one whenever an agent is free and the allocation is positive (a small allocation must
/// not starve a campaign of its only free agent).
pub(crate) fn usable_free_agents(clean: &Clean) -> u32 {
    if clean.available == 0 || clean.bw <= 0.0 {
        return 0;
    }
    ((clean.available as f64 * clean.bw + 1e-9).floor() as u32).max(1)
}

/// New dials for progressive pacing.
pub(crate) fn dials(clean: &Clean) -> u32 {
    usable_free_agents(clean)
        .saturating_sub(clean.in_flight)
        .saturating_sub(clean.waiting)
}

#[cfg(test)]
mod tests {
    use super::super::{PacerState, PacingConfig, PacingInput, PacingMode};

    fn decide(available: u32, busy: u32, in_flight: u32, waiting: u32, bw: f64) -> u32 {
        let input = PacingInput {
            now_secs: 10.0,
            mode: PacingMode::Progressive,
            bandwidth_allocation: bw,
            agents_available: available,
            agents_busy: busy,
            dials_in_flight: in_flight,
            customers_waiting: waiting,
            line_limit: 1000,
            ..PacingInput::default()
        };
        PacerState::new()
            .decide(&input, &PacingConfig::default())
            .dials
    }

    #[test]
    fn one_dial_per_free_agent_less_in_flight() {
        assert_eq!(decide(5, 10, 0, 0, 1.0), 5);
        assert_eq!(decide(5, 10, 3, 0, 1.0), 2);
        assert_eq!(decide(5, 10, 3, 1, 1.0), 1);
        assert_eq!(decide(0, 10, 0, 0, 1.0), 0);
    }

    #[test]
    fn never_exceeds_free_agents() {
        for available in 0..12 {
            for in_flight in 0..15 {
                for bw in [0.0, 0.1, 0.5, 0.99, 1.0] {
                    let dials = decide(available, 3, in_flight, 0, bw);
                    let allowed = if available > 0 && bw > 0.0 {
                        ((available as f64 * bw).floor() as u32).max(1)
                    } else {
                        0
                    };
                    assert!(
                        in_flight + dials <= allowed.max(in_flight),
                        "available {available} in flight {in_flight} bw {bw}: {dials}"
                    );
                    assert!(dials <= available);
                }
            }
        }
    }

    #[test]
    fn bandwidth_scales_but_keeps_one_agent() {
        assert_eq!(decide(10, 0, 0, 0, 0.5), 5);
        assert_eq!(decide(3, 0, 0, 0, 0.1), 1);
        assert_eq!(decide(3, 0, 0, 0, 0.0), 0);
        assert_eq!(decide(3, 0, 0, 0, f64::NAN), 0);
        assert_eq!(decide(3, 0, 0, 0, 7.0), 3);
    }
}
