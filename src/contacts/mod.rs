//! The contact lifecycle: how contact-center events move a dial request's call from
//! creation to its end, and what its outcome is.
//!
//! Events may arrive twice or out of order; [`ContactStatus::apply`] is monotonic (the
//! phase only moves forward, the outcome only to a more decisive one, a terminal contact
//! stays terminal), so any order of the same events gives the same end state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact_center::ContactEventKind;

/// How far a call has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Claimed; BatchPutContact not answered yet.
    Creating,
    /// The contact exists; the call is being placed or rings.
    Initiated,
    /// Someone or something answered.
    Answered,
    /// The answered person waits for an agent.
    Queued,
    /// An agent talks to the person.
    Connected,
    /// The call ended (the agent may still be in wrap-up).
    Disconnected,
    /// Nothing more will happen.
    Completed,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 7] = [
        Phase::Creating,
        Phase::Initiated,
        Phase::Answered,
        Phase::Queued,
        Phase::Connected,
        Phase::Disconnected,
        Phase::Completed,
    ];

    /// The spelling stored in `dial_request.contact_phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Creating => "creating",
            Phase::Initiated => "initiated",
            Phase::Answered => "answered",
            Phase::Queued => "queued",
            Phase::Connected => "connected",
            Phase::Disconnected => "disconnected",
            Phase::Completed => "completed",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Whether the call's outcome is not known yet: one of the pacer's dials in flight.
    pub fn in_flight(self) -> bool {
        matches!(self, Phase::Creating | Phase::Initiated)
    }

    /// Whether the call holds a line (placed and not yet hung up).
    pub fn holds_line(self) -> bool {
        self < Phase::Disconnected
    }
}

/// How a call ended, from least to most decisive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No terminal event came within the contact timeout (e.g. the contact center lost it).
    Lost,
    /// Nobody answered.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The number is invalid or out of service.
    Invalid,
    /// A person answered (agentless calls end here).
    Answered,
    /// An answering machine, detected by AMD.
    Machine,
    /// A person answered and no agent took them in time.
    Abandoned,
    /// A person talked to an agent.
    Connected,
    /// An SMS went out: the contact center took the message (SMS requests only).
    Sent,
}

impl Outcome {
    /// Every outcome, for reports that list zeros too.
    pub const ALL: [Outcome; 9] = [
        Outcome::Connected,
        Outcome::Abandoned,
        Outcome::Machine,
        Outcome::Answered,
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Invalid,
        Outcome::Lost,
        Outcome::Sent,
    ];

    /// The spelling stored in `dial_request.outcome` and used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Lost => "lost",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Invalid => "invalid",
            Outcome::Answered => "answered",
            Outcome::Machine => "machine",
            Outcome::Abandoned => "abandoned",
            Outcome::Connected => "connected",
            Outcome::Sent => "sent",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// Where a contact stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactStatus {
    /// Furthest phase reached.
    pub phase: Phase,
    /// Most decisive outcome so far.
    pub outcome: Option<Outcome>,
    /// Whether nothing more is expected.
    pub terminal: bool,
}

impl ContactStatus {
    /// A contact just created.
    pub const INITIATED: ContactStatus = ContactStatus {
        phase: Phase::Initiated,
        outcome: None,
        terminal: false,
    };

    /// The status after `event`.
    pub fn apply(self, event: &ContactEventKind) -> ContactStatus {
        let (phase, outcome) = match event {
            ContactEventKind::Initiated => (Phase::Initiated, None),
            ContactEventKind::PersonAnswered => (Phase::Answered, Some(Outcome::Answered)),
            ContactEventKind::MachineAnswered => (Phase::Answered, Some(Outcome::Machine)),
            ContactEventKind::NoAnswer => (Phase::Initiated, Some(Outcome::NoAnswer)),
            ContactEventKind::Busy => (Phase::Initiated, Some(Outcome::Busy)),
            ContactEventKind::Invalid => (Phase::Initiated, Some(Outcome::Invalid)),
            ContactEventKind::Queued => (Phase::Queued, None),
            ContactEventKind::ConnectedToAgent { .. } => {
                (Phase::Connected, Some(Outcome::Connected))
            }
            ContactEventKind::Abandoned => (Phase::Queued, Some(Outcome::Abandoned)),
            ContactEventKind::Disconnected => (Phase::Disconnected, None),
            ContactEventKind::Completed => (Phase::Completed, None),
        };
        let phase = self.phase.max(phase);
        let outcome = self.outcome.max(outcome);
        // A contact an agent took ends when the agent finishes wrap-up; any other ends when
        // the call does.
        let terminal = self.terminal
            || phase == Phase::Completed
            || (phase == Phase::Disconnected && outcome != Some(Outcome::Connected));
        ContactStatus {
            phase,
            outcome,
            terminal,
        }
    }

    /// The outcome to record when the contact ends.
    pub fn final_outcome(&self) -> Outcome {
        self.outcome.unwrap_or(Outcome::Lost)
    }
}

/// One entry of a contact's timeline, which is keyed by [`event_name`] (a kind already there
/// makes a later copy of the event a duplicate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Agent id for connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The spelling of an event kind in the timeline.
pub fn event_name(kind: &ContactEventKind) -> &'static str {
    match kind {
        ContactEventKind::Initiated => "initiated",
        ContactEventKind::PersonAnswered => "person_answered",
        ContactEventKind::MachineAnswered => "machine_answered",
        ContactEventKind::NoAnswer => "no_answer",
        ContactEventKind::Busy => "busy",
        ContactEventKind::Invalid => "invalid",
        ContactEventKind::Queued => "queued",
        ContactEventKind::ConnectedToAgent { .. } => "connected_to_agent",
        ContactEventKind::Abandoned => "abandoned",
        ContactEventKind::Disconnected => "disconnected",
        ContactEventKind::Completed => "completed",
    }
}

/// Event kinds in the order a call goes through them. The answer and the three endings of an
/// unanswered call exclude one another, so their relative order never shows.
const LIFECYCLE_ORDER: [&str; 11] = [
    "initiated",
    "person_answered",
    "machine_answered",
    "no_answer",
    "busy",
    "invalid",
    "queued",
    "connected_to_agent",
    "abandoned",
    "disconnected",
    "completed",
];

/// Puts timeline entries (event kind, time, detail) in the order they happened: by time,
/// then by lifecycle position. Contact centers stamp events with a coarse clock, so several
/// may share one time (a person answering and being connected within one millisecond);
/// the lifecycle then says which came first. A kind this version does not know sorts after
/// the known ones of its time, by name, so the order stays total.
pub fn timeline_sort<D>(timeline: &mut [(String, DateTime<Utc>, D)]) {
    let position = |kind: &str| {
        LIFECYCLE_ORDER
            .iter()
            .position(|known| *known == kind)
            .unwrap_or(LIFECYCLE_ORDER.len())
    };
    timeline.sort_by(|a, b| (a.1, position(&a.0), &a.0).cmp(&(b.1, position(&b.0), &b.0)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContactEventKind as E;

    fn run(events: &[ContactEventKind]) -> ContactStatus {
        events
            .iter()
            .fold(ContactStatus::INITIATED, |s, e| s.apply(e))
    }

    fn agent() -> ContactEventKind {
        E::ConnectedToAgent {
            agent_id: "a1".into(),
        }
    }

    #[test]
    fn a_connected_call_ends_after_wrap_up() {
        let talking = run(&[E::Initiated, E::PersonAnswered, E::Queued, agent()]);
        assert_eq!(talking.phase, Phase::Connected);
        let hung_up = talking.apply(&E::Disconnected);
        assert!(!hung_up.terminal, "the agent is still in wrap-up");
        let done = hung_up.apply(&E::Completed);
        assert!(done.terminal);
        assert_eq!(done.final_outcome(), Outcome::Connected);
    }

    #[test]
    fn calls_without_agents_end_at_disconnect() {
        for (events, outcome) in [
            (vec![E::NoAnswer, E::Disconnected], Outcome::NoAnswer),
            (vec![E::Busy, E::Disconnected], Outcome::Busy),
            (vec![E::Invalid, E::Disconnected], Outcome::Invalid),
            (vec![E::MachineAnswered, E::Disconnected], Outcome::Machine),
            (
                vec![E::PersonAnswered, E::Queued, E::Abandoned, E::Disconnected],
                Outcome::Abandoned,
            ),
            (vec![E::PersonAnswered, E::Disconnected], Outcome::Answered),
        ] {
            let status = run(&events);
            assert!(status.terminal, "{events:?}");
            assert_eq!(status.final_outcome(), outcome, "{events:?}");
        }
    }

    #[test]
    fn duplicates_and_reordering_give_the_same_end() {
        let ordered = run(&[
            E::PersonAnswered,
            E::Queued,
            agent(),
            E::Disconnected,
            E::Completed,
        ]);
        let shuffled = run(&[
            E::Completed,
            E::Queued,
            agent(),
            E::PersonAnswered,
            E::Disconnected,
            E::Queued,
            E::Completed,
        ]);
        assert_eq!(ordered, shuffled);
        let abandoned = run(&[
            E::Disconnected,
            E::Abandoned,
            E::PersonAnswered,
            E::Abandoned,
        ]);
        assert_eq!(abandoned.final_outcome(), Outcome::Abandoned);
        assert!(abandoned.terminal);
    }

    #[test]
    fn timeline_sorts_by_time_then_lifecycle() {
        let at = |ms: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(ms);
        // Named so that sorting by name alone would put the agent before the answer.
        let mut timeline = vec![
            ("completed".to_string(), at(9), ()),
            ("disconnected".to_string(), at(5), ()),
            ("connected_to_agent".to_string(), at(5), ()),
            ("queued".to_string(), at(5), ()),
            ("person_answered".to_string(), at(5), ()),
            ("from_a_newer_version".to_string(), at(5), ()),
            ("initiated".to_string(), at(1), ()),
        ];
        timeline_sort(&mut timeline);
        let kinds: Vec<&str> = timeline.iter().map(|(kind, _, _)| kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "initiated",
                "person_answered",
                "queued",
                "connected_to_agent",
                "disconnected",
                "from_a_newer_version",
                "completed",
            ]
        );
    }

    #[test]
    fn every_event_kind_has_a_lifecycle_position() {
        let kinds = [
            E::Initiated,
            E::PersonAnswered,
            E::MachineAnswered,
            E::NoAnswer,
            E::Busy,
            E::Invalid,
            E::Queued,
            agent(),
            E::Abandoned,
            E::Disconnected,
            E::Completed,
        ];
        let names: Vec<&str> = kinds.iter().map(event_name).collect();
        assert_eq!(names, LIFECYCLE_ORDER);
    }

    #[test]
    fn stored_spellings_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        for phase in [
            "creating",
            "initiated",
            "answered",
            "queued",
            "connected",
            "disconnected",
            "completed",
        ] {
            assert_eq!(Phase::parse(phase).map(Phase::as_str), Some(phase));
        }
    }
}
