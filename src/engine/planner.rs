//! The pure half of planning: from a campaign's settings, its queue's agents and its calls
//! in progress to the pacing input. The daemon's scheduler and the what-if simulator both
//! call [`pacing_input`], then [`crate::pacing::PacerState::decide`].

use chrono::{DateTime, Utc};

use crate::campaigns::{DialerConfig, OutboundCallConfig};
use crate::contact_center::QueueMetrics;
use crate::contacts::Phase;
use crate::pacing::{PacingInput, PacingMode};

/// A campaign's calls in progress, as pacing needs them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActiveCalls {
    /// When each call whose outcome is not known yet was placed (`None`: being created).
    pub in_flight: Vec<Option<DateTime<Utc>>>,
    /// When each call an agent holds (talking or in wrap-up) was connected.
    pub busy_since: Vec<DateTime<Utc>>,
    /// Answered persons waiting for an agent.
    pub waiting: u32,
    /// Calls holding a line.
    pub on_line: u32,
}

impl ActiveCalls {
    /// Counts one call in progress: its phase, when it was placed (`None` while its contact
    /// is being created) and when an agent took it.
    pub fn add(
        &mut self,
        phase: Phase,
        dialed_at: Option<DateTime<Utc>>,
        connected_at: Option<DateTime<Utc>>,
    ) {
        if phase.holds_line() {
            self.on_line += 1;
        }
        if phase.in_flight() {
            self.in_flight.push(dialed_at);
        } else if matches!(phase, Phase::Answered | Phase::Queued) {
            self.waiting += 1;
        }
        if let Some(at) = connected_at {
            self.busy_since.push(at);
        }
    }
}

/// The pacing mode, agent share and line share of a dialer config.
pub fn mode_of(config: &DialerConfig) -> (PacingMode, f64, Option<f64>) {
    match config {
        DialerConfig::ProgressiveDialerConfig(c) => (
            PacingMode::Progressive,
            c.bandwidth_allocation,
            c.dialing_capacity,
        ),
        DialerConfig::PredictiveDialerConfig(c) => (
            PacingMode::Predictive,
            c.bandwidth_allocation,
            c.dialing_capacity,
        ),
        DialerConfig::AgentlessDialerConfig(c) => (PacingMode::Agentless, 0.0, c.dialing_capacity),
    }
}

/// The queue whose agents take a campaign's calls. An agentless campaign has none even when
/// its outbound call config names one (the API accepts a queue in every mode): its contacts
/// must reach no agent, so they go out with no QueueId and pace on lines alone.
pub fn agent_queue<'a>(dialer: &DialerConfig, call: &'a OutboundCallConfig) -> Option<&'a str> {
    match dialer {
        DialerConfig::AgentlessDialerConfig(_) => None,
        DialerConfig::ProgressiveDialerConfig(_) | DialerConfig::PredictiveDialerConfig(_) => {
            call.connect_queue_id.as_deref()
        }
    }
}

fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// What pacing is told about a campaign now; `None` when an agent campaign has no queue
/// metrics (its queue is unknown or unreachable), so it must not dial.
pub fn pacing_input(
    config: &DialerConfig,
    queue: Option<&QueueMetrics>,
    calls: &ActiveCalls,
    total_lines: u32,
    now: DateTime<Utc>,
    epoch: DateTime<Utc>,
) -> Option<PacingInput> {
    let (mode, bandwidth, capacity) = mode_of(config);
    if mode != PacingMode::Agentless && queue.is_none() {
        return None;
    }
    let lines = (f64::from(total_lines) * capacity.unwrap_or(1.0)).floor() as u32;
    Some(PacingInput {
        now_secs: secs_between(epoch, now),
        mode,
        bandwidth_allocation: bandwidth,
        agents_available: queue.map_or(0, |q| q.agents_available),
        agents_busy: queue.map_or(0, |q| q.agents_on_contact + q.agents_after_contact_work),
        busy_elapsed_secs: calls
            .busy_since
            .iter()
            .map(|at| secs_between(*at, now))
            .collect(),
        dials_in_flight: calls.in_flight.len() as u32,
        in_flight_elapsed_secs: calls
            .in_flight
            .iter()
            .map(|at| at.map_or(0.0, |at| secs_between(at, now)))
            .collect(),
        customers_waiting: calls.waiting.max(queue.map_or(0, |q| q.contacts_in_queue)),
        // Pacing caps dials in flight plus new dials by this; answered calls hold lines too.
        line_limit: lines
            .saturating_sub(calls.on_line.saturating_sub(calls.in_flight.len() as u32)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::{AgentDialerConfig, AgentlessDialerConfig};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn queue(available: u32, busy: u32) -> QueueMetrics {
        QueueMetrics {
            queue_id: "q".into(),
            agents_online: available + busy,
            agents_available: available,
            agents_on_contact: busy,
            agents_after_contact_work: 0,
            contacts_in_queue: 0,
        }
    }

    #[test]
    fn agent_campaigns_without_queue_metrics_do_not_dial() {
        let config = DialerConfig::ProgressiveDialerConfig(AgentDialerConfig {
            bandwidth_allocation: 1.0,
            dialing_capacity: None,
        });
        assert!(pacing_input(&config, None, &ActiveCalls::default(), 10, at(5), at(0)).is_none());
    }

    #[test]
    fn inputs_carry_ages_lines_and_shares() {
        let config = DialerConfig::PredictiveDialerConfig(AgentDialerConfig {
            bandwidth_allocation: 0.5,
            dialing_capacity: Some(0.5),
        });
        let calls = ActiveCalls {
            in_flight: vec![Some(at(90)), None],
            busy_since: vec![at(40)],
            waiting: 1,
            on_line: 4,
        };
        let input = pacing_input(&config, Some(&queue(3, 1)), &calls, 100, at(100), at(0)).unwrap();
        assert_eq!(input.mode, PacingMode::Predictive);
        assert_eq!(input.now_secs, 100.0);
        assert_eq!(input.in_flight_elapsed_secs, vec![10.0, 0.0]);
        assert_eq!(input.busy_elapsed_secs, vec![60.0]);
        assert_eq!(
            input.line_limit,
            50 - 2,
            "lines held by answered calls are not available"
        );
        assert_eq!(input.customers_waiting, 1);
    }

    #[test]
    fn calls_count_by_phase() {
        let mut calls = ActiveCalls::default();
        calls.add(Phase::Creating, None, None);
        calls.add(Phase::Initiated, Some(at(1)), None);
        calls.add(Phase::Queued, Some(at(1)), None);
        calls.add(Phase::Connected, Some(at(1)), Some(at(20)));
        calls.add(Phase::Disconnected, Some(at(1)), Some(at(30)));
        assert_eq!(calls.in_flight, vec![None, Some(at(1))]);
        assert_eq!(calls.waiting, 1);
        assert_eq!(calls.on_line, 4, "a hung-up call in wrap-up frees its line");
        assert_eq!(
            calls.busy_since,
            vec![at(20), at(30)],
            "wrap-up keeps the agent busy"
        );
    }

    #[test]
    fn only_agent_campaigns_have_an_agent_queue() {
        let call = OutboundCallConfig {
            connect_contact_flow_id: "flow".into(),
            connect_source_phone_number: Some("+14155550100".into()),
            connect_queue_id: Some("q".into()),
            answer_machine_detection_config: None,
        };
        let agents = AgentDialerConfig {
            bandwidth_allocation: 1.0,
            dialing_capacity: None,
        };
        let agentless = DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
            dialing_capacity: None,
        });
        assert_eq!(agent_queue(&agentless, &call), None);
        for dialer in [
            DialerConfig::ProgressiveDialerConfig(agents.clone()),
            DialerConfig::PredictiveDialerConfig(agents),
        ] {
            assert_eq!(agent_queue(&dialer, &call), Some("q"));
        }
    }

    #[test]
    fn agentless_needs_no_queue() {
        let config = DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
            dialing_capacity: Some(0.1),
        });
        let input =
            pacing_input(&config, None, &ActiveCalls::default(), 200, at(1), at(0)).unwrap();
        assert_eq!((input.mode, input.line_limit), (PacingMode::Agentless, 20));
    }
}
