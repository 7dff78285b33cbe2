//! The durable dial-request queue: what a dial request is, how a batch is admitted
//! (idempotently, under the per-campaign cap), and the sweeper that ends requests nobody may
//! dial any more (passed expiration, or their campaign stopped). [`lifecycle`] says which
//! moves between a request's states are legal and why a request ends without a contact;
//! [`store`] is the only writer of requests and their counters, the engine's claims and
//! contact updates included.
//!
//! Invariants:
//! - an id returned as accepted is committed before the API answers;
//! - `(campaign, clientToken)` names one request forever: a replay returns the same id and
//!   changes nothing, a reuse with other content is refused for that item;
//! - a request whose expiration time has passed is never handed out.

pub mod lifecycle;
pub mod phone;
pub mod store;
pub mod sweeper;

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};

pub use phone::PhoneNumber;

/// A random (v4) UUID from the thread's CSPRNG, which is seeded once from the OS: no system
/// call per id, which matters at 25 ids per batch.
pub fn new_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// The public state of a dial request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, sqlx::Type)]
#[sqlx(type_name = "dial_request_state", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DialRequestState {
    /// Queued, waiting for pacing to claim it.
    Pending,
    /// Claimed; a contact is being created or is in its call.
    InProgress,
    /// Its contact ended.
    Completed,
    /// Its expiration time passed before it was dialed.
    Expired,
    /// The contact center refused it.
    Failed,
    /// Its campaign was stopped before it was dialed.
    Cancelled,
}

impl DialRequestState {
    /// Every state, for metrics that report zeros too.
    pub const ALL: [DialRequestState; 6] = [
        DialRequestState::Pending,
        DialRequestState::InProgress,
        DialRequestState::Completed,
        DialRequestState::Expired,
        DialRequestState::Failed,
        DialRequestState::Cancelled,
    ];

    /// The states a request never leaves (but for a late contact completing an expired
    /// one): the only ones retention deletes.
    pub const FINISHED: [DialRequestState; 4] = [
        DialRequestState::Completed,
        DialRequestState::Expired,
        DialRequestState::Failed,
        DialRequestState::Cancelled,
    ];

    /// The lowercase spelling used in metrics and the status API.
    pub fn as_str(self) -> &'static str {
        match self {
            DialRequestState::Pending => "pending",
            DialRequestState::InProgress => "in_progress",
            DialRequestState::Completed => "completed",
            DialRequestState::Expired => "expired",
            DialRequestState::Failed => "failed",
            DialRequestState::Cancelled => "cancelled",
        }
    }
}

/// The channel a request is sent on. The engine dials only telephony requests; each other
/// channel has its own sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    /// A call.
    Telephony,
    /// A text message.
    Sms,
    /// An email.
    Email,
    /// A WhatsApp message.
    WhatsApp,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 4] = [
        Channel::Telephony,
        Channel::Sms,
        Channel::Email,
        Channel::WhatsApp,
    ];

    /// The spelling in `dial_request.channel`.
    pub fn as_sql(self) -> &'static str {
        match self {
            Channel::Telephony => "telephony",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::WhatsApp => "whatsapp",
        }
    }

    /// The channel stored as `text`.
    pub fn from_sql(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_sql() == text)
    }
}

/// A validated dial request, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewDialRequest {
    /// Client idempotency token, unique per campaign.
    pub client_token: String,
    /// The number to call.
    pub phone_number: PhoneNumber,
    /// After this instant the request must not be dialed. Microsecond precision, as stored.
    pub expires_at: DateTime<Utc>,
    /// Contact attributes passed to the contact flow (template parameters of a message).
    pub attributes: BTreeMap<String, String>,
    /// The channel; telephony unless [`Self::on_channel`] says otherwise.
    pub channel: Channel,
    /// Per-request overrides of the campaign's channel defaults, as on the wire (SMS:
    /// `connectSourcePhoneNumberArn`, `templateArn`).
    pub channel_parameters: Option<serde_json::Value>,
}

impl NewDialRequest {
    /// Builds a request, truncating the expiration to the microseconds Postgres keeps so
    /// that a replay compares equal to what was stored.
    pub fn new(
        client_token: String,
        phone_number: PhoneNumber,
        expires_at: DateTime<Utc>,
        attributes: BTreeMap<String, String>,
    ) -> Self {
        Self {
            client_token,
            phone_number,
            expires_at: expires_at.trunc_subsecs(6),
            attributes,
            channel: Channel::Telephony,
            channel_parameters: None,
        }
    }

    /// The same request on another channel, with its overrides.
    pub fn on_channel(mut self, channel: Channel, parameters: Option<serde_json::Value>) -> Self {
        self.channel = channel;
        self.channel_parameters = parameters;
        self
    }

    /// A fingerprint of the content a clientToken stands for: a replay must match it.
    pub fn digest(&self) -> Vec<u8> {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            // Length-prefixed so that no two different contents hash the same stream.
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        field(self.phone_number.as_str().as_bytes());
        field(&self.expires_at.timestamp_micros().to_be_bytes());
        for (key, value) in &self.attributes {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        // Telephony requests without overrides hash as before the channels existed, so
        // requests stored then still match their replays.
        if self.channel != Channel::Telephony || self.channel_parameters.is_some() {
            field(self.channel.as_sql().as_bytes());
            let parameters = self
                .channel_parameters
                .as_ref()
                .map(serde_json::Value::to_string)
                .unwrap_or_default();
            field(parameters.as_bytes());
        }
        hasher.finalize().to_vec()
    }
}

/// The outcome of one item of an admitted batch, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Stored (now or by an earlier call with the same token and content).
    Accepted {
        /// The dial request id.
        id: String,
    },
    /// The clientToken already names a request with different content.
    TokenReused,
    /// The campaign's pending cap is reached.
    Throttled,
}

/// The outcome of a whole batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The campaign took the batch; per-item outcomes in input order.
    Admitted(Vec<ItemOutcome>),
    /// The campaign has ended and takes no requests.
    CampaignEnded(crate::campaigns::CampaignState),
}

/// Failures of queue operations.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No campaign has that id.
    #[error("campaign {0} not found")]
    CampaignNotFound(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Completing campaigns whose schedule ended failed.
    #[error(transparent)]
    Campaign(#[from] crate::campaigns::CampaignError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str, attrs: &[(&str, &str)]) -> NewDialRequest {
        NewDialRequest::new(
            token.to_string(),
            PhoneNumber::parse("+14155550123").unwrap(),
            DateTime::from_timestamp(1_900_000_000, 123_456_789).unwrap(),
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn finished_states_are_all_but_pending_and_in_progress() {
        for state in DialRequestState::ALL {
            let live = matches!(
                state,
                DialRequestState::Pending | DialRequestState::InProgress
            );
            assert_eq!(
                DialRequestState::FINISHED.contains(&state),
                !live,
                "{state:?}"
            );
        }
    }

    #[test]
    fn new_ids_are_random_v4() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
    }

    #[test]
    fn expiration_is_kept_to_the_microsecond() {
        assert_eq!(
            request("a", &[]).expires_at.timestamp_subsec_nanos(),
            123_456_000
        );
    }

    #[test]
    fn digest_covers_content_not_token() {
        let base = request("a", &[("k", "v")]);
        assert_eq!(base.digest(), request("b", &[("k", "v")]).digest());
        assert_ne!(base.digest(), request("a", &[("k", "w")]).digest());
        assert_ne!(base.digest(), request("a", &[("kv", "")]).digest());
        let mut later = base.clone();
        later.expires_at += chrono::Duration::microseconds(1);
        assert_ne!(base.digest(), later.digest());
        let sms = base.clone().on_channel(Channel::Sms, None);
        assert_ne!(base.digest(), sms.digest());
        let overridden = sms
            .clone()
            .on_channel(Channel::Sms, Some(serde_json::json!({"templateArn": "t"})));
        assert_ne!(sms.digest(), overridden.digest());
    }

    #[test]
    fn channels_round_trip_their_sql_spelling() {
        for channel in Channel::ALL {
            assert_eq!(Channel::from_sql(channel.as_sql()), Some(channel));
        }
        assert_eq!(Channel::from_sql("fax"), None);
    }
}
