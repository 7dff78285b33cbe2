//! Contacts whose events may never come, settled with the contact center's word.
//!
//! A contact is in flight until its events end it. Some never will: the daemon whose
//! in-process simulated center ran it died, or its events were lost on the way. Rather than
//! hold a line until a timeout, the engine asks the contact center
//! ([`ContactCenter::describe_contacts`]) about the contacts it has reason to doubt, and acts
//! on the answer ([`verdict`]), never on a guess:
//! - contacts inherited with a campaign taken over from another daemon, until they end;
//! - contacts a re-sent batch's answer named (the first call may have been another daemon's);
//! - contacts silent (no event, no check) for `engine.contact_timeout_secs` of database time;
//! - on shutdown, every contact of the campaigns this daemon holds (an in-process center
//!   ends with the daemon).

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::store::Suspect;
use super::EngineError;
use crate::contact_center::{ContactCenter, ContactRef, ContactState};
use crate::metrics as m;
use crate::queue::store::{contact_end_many, contact_touch_many};

/// Most contacts asked about in one call.
const DESCRIBE_CHUNK: usize = 100;

/// Why a contact the center ended without its end reaching the dialer is over.
const END_NEVER_ARRIVED: &str =
    "the contact center ended the call; its end never reached the dialer";

/// What to do with a contact the center described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// End it now, for this reason.
    End(String),
    /// It is alive and was silent: restart its silence timer.
    Touch,
    /// Wait for its events.
    Wait,
}

/// The action for a contact in `state`; `silent` says it had no news for the contact timeout.
/// A contact the center ended is given time for its events unless it has been silent that
/// long.
pub fn verdict(state: &ContactState, silent: bool) -> Verdict {
    match state {
        ContactState::Gone(reason) => Verdict::End(reason.clone()),
        ContactState::Ended if silent => Verdict::End(END_NEVER_ARRIVED.to_string()),
        ContactState::Running if silent => Verdict::Touch,
        ContactState::Ended | ContactState::Running | ContactState::Pending => Verdict::Wait,
    }
}

/// Asks the contact center about suspects and ends those it says are over.
#[derive(Clone)]
pub struct Reconciler {
    /// The database.
    pub pool: sqlx::PgPool,
    /// The contact center that created the contacts.
    pub center: Arc<dyn ContactCenter>,
}

impl Reconciler {
    /// Settles `suspects`; `silent` says they had no news for the contact timeout. Returns
    /// how many ended. A center that cannot answer leaves its contacts as they are.
    pub async fn settle(&self, suspects: &[Suspect], silent: bool) -> Result<usize, EngineError> {
        let mut by_instance: BTreeMap<&str, Vec<&Suspect>> = BTreeMap::new();
        for suspect in suspects {
            by_instance
                .entry(suspect.instance_id.as_str())
                .or_default()
                .push(suspect);
        }
        let mut ended: Vec<(Uuid, String)> = Vec::new();
        let mut touched: Vec<Uuid> = Vec::new();
        for (instance, suspects) in by_instance {
            for chunk in suspects.chunks(DESCRIBE_CHUNK) {
                let contacts: Vec<ContactRef> = chunk
                    .iter()
                    .map(|s| ContactRef {
                        contact_id: s.contact_id.clone(),
                        client_token: s.client_token.clone(),
                    })
                    .collect();
                let states = match self.center.describe_contacts(instance, &contacts).await {
                    Ok(states) => states,
                    Err(error) => {
                        tracing::warn!(instance_id = %instance, %error, contacts = contacts.len(), "could not ask the contact center about contacts without an end; asking again later");
                        continue;
                    }
                };
                for suspect in chunk {
                    let Some(state) = states.get(&suspect.contact_id) else {
                        continue;
                    };
                    match verdict(state, silent) {
                        Verdict::End(reason) => ended.push((suspect.id, reason)),
                        Verdict::Touch => touched.push(suspect.id),
                        Verdict::Wait => {}
                    }
                }
            }
        }
        if !touched.is_empty() {
            contact_touch_many(&self.pool, &touched).await?;
        }
        if ended.is_empty() {
            return Ok(0);
        }
        let mut total = 0;
        for (campaign, outcome, n) in contact_end_many(&self.pool, &ended).await? {
            tracing::warn!(campaign_id = %campaign, outcome = outcome.as_str(), contacts = n, "ended contacts whose events cannot come, on the contact center's word");
            metrics::counter!(m::CONTACTS_COMPLETED, m::CAMPAIGN_ID => campaign, m::OUTCOME_LABEL => outcome.as_str())
                .increment(n as u64);
            total += n as usize;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_contacts_end_at_once_with_the_centers_reason() {
        let gone = ContactState::Gone("center stopped".to_string());
        for silent in [false, true] {
            assert_eq!(
                verdict(&gone, silent),
                Verdict::End("center stopped".to_string())
            );
        }
    }

    #[test]
    fn running_contacts_are_never_ended() {
        for silent in [false, true] {
            assert_eq!(verdict(&ContactState::Pending, silent), Verdict::Wait);
        }
        assert_eq!(verdict(&ContactState::Running, false), Verdict::Wait);
        assert_eq!(verdict(&ContactState::Running, true), Verdict::Touch);
    }

    #[test]
    fn ended_contacts_wait_for_their_events_until_silent() {
        assert_eq!(verdict(&ContactState::Ended, false), Verdict::Wait);
        assert!(matches!(
            verdict(&ContactState::Ended, true),
            Verdict::End(_)
        ));
    }
}
