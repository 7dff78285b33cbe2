//! Contact batches: one BatchPutContact call's worth of claimed dial requests, as the
//! dispatcher sends them and the what-if simulator imitates them. Plain data; the engine's
//! store reads and writes them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a campaign's contacts need from the contact center, fixed when a batch is claimed so
/// that every re-send of the batch is the same call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchTemplate {
    /// Amazon Connect instance.
    pub instance_id: String,
    /// Queue whose agents take the calls; none for an agentless campaign.
    pub queue_id: Option<String>,
    /// Contact flow.
    pub contact_flow_id: String,
    /// Caller id.
    pub source_phone_number: Option<String>,
    /// Answering-machine detection on.
    pub answer_machine_detection: bool,
}

/// A dial request inside a contact batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// Dial request id (the item's RequestIdentifier).
    pub id: Uuid,
    /// Number to call.
    pub phone_number: String,
    /// Contact attributes.
    pub attributes: BTreeMap<String, String>,
    /// Expiration.
    pub expires_at: DateTime<Utc>,
    /// Times the request was claimed, this claim included.
    pub attempts: i32,
}

/// A claimed batch, written before the contact center is called.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Batch id.
    pub id: Uuid,
    /// Campaign.
    pub campaign_id: String,
    /// The BatchPutContact ClientToken.
    pub client_token: String,
    /// The call's fixed parts.
    pub template: BatchTemplate,
    /// Items in RequestIdentifier order.
    pub items: Vec<BatchItem>,
    /// Times the call was made before.
    pub attempts: i32,
}
