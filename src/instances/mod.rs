//! Amazon Connect instances onboarded for campaigns: the onboarding job and the instance
//! config it leaves behind (service-linked role, encryption settings), and v2's records of an
//! onboarded instance: its communication limits and its integrations, kept as sent (the
//! engine does not act on them yet).
//!
//! There is no remote work to do when the engine drives its own contact center, so an
//! onboarding job succeeds as soon as it is stored; the records keep the wire shapes so
//! scripts written for Amazon Connect run unchanged.

pub mod store;

use serde::{Deserialize, Serialize};

use crate::accounts::AccountId;

/// How campaign data is encrypted at rest (stored and reported, as AWS does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfig {
    /// Whether a customer key is used.
    pub enabled: bool,
    /// `KMS` when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<String>,
    /// The KMS key ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<String>,
}

/// The config of an onboarded instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceConfig {
    /// Instance id.
    pub connect_instance_id: String,
    /// The role campaigns use in the instance.
    pub service_linked_role_arn: String,
    /// Encryption settings.
    pub encryption_config: EncryptionConfig,
}

/// The status of an instance's onboarding job.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingJobStatus {
    /// Instance id.
    pub connect_instance_id: String,
    /// `IN_PROGRESS`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// Set when the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
}

/// An integration of an instance: a member of v2's `IntegrationConfig` union.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Integration {
    /// `customerProfiles`, `qConnect` or `lambda`.
    pub kind: String,
    /// The ARN naming it within its kind (domain, knowledge base, function).
    pub identifier: String,
    /// The member's value, as sent.
    pub config: serde_json::Value,
}

/// The role ARN AWS creates for campaigns in an account.
pub fn service_linked_role_arn(account_id: &AccountId) -> String {
    format!(
        "arn:aws:iam::{account_id}:role/aws-service-role/connect-campaigns.amazonaws.com/AWSServiceRoleForConnectCampaigns"
    )
}

/// Failures of instance operations.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The instance has no campaign config.
    #[error("no config for instance {0}")]
    ConfigNotFound(String),
    /// The instance has no onboarding job.
    #[error("no onboarding job for instance {0}")]
    JobNotFound(String),
    /// The instance has no such integration.
    #[error("no such integration of instance {0}")]
    IntegrationNotFound(String),
    /// Active campaigns still use the instance.
    #[error("instance {0} is in use")]
    InUse(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored document could not be read back.
    #[error("stored instance record is unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
}
