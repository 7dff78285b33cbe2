//! The AWS restJson1 error shape, and the one place where domain errors become HTTP.
//!
//! Every error answers with the modelled status, an `x-amzn-ErrorType` header naming the
//! exception (botocore reads the code from it) and a JSON body with `message` (plus `state`
//! for `InvalidCampaignStateException`). Internal causes are logged here, once, and never
//! sent to the client.

use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::campaigns::store::UpdateError;
use crate::campaigns::{CampaignError, CampaignState};
use crate::instances::InstanceError;
use crate::queue::QueueError;
use crate::rules::RulesError;

/// An API failure, one variant per modelled exception.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the input breaks the model's constraints.
    #[error("{0}")]
    Validation(String),
    /// 403: missing, stale or wrong signature.
    #[error("{0}")]
    AccessDenied(String),
    /// 403: a valid signature scoped to another region or service than this endpoint's.
    #[error("{0}")]
    InvalidSignature(String),
    /// 404: no such resource.
    #[error("{0}")]
    ResourceNotFound(String),
    /// 409: conflicts with the resource's current state.
    #[error("{0}")]
    Conflict(String),
    /// 409: the campaign's state does not allow the operation.
    #[error("{message}")]
    InvalidCampaignState {
        /// The campaign's state.
        state: CampaignState,
        /// Explanation.
        message: String,
    },
    /// 409: the instance's state does not allow the operation.
    #[error("{0}")]
    InvalidState(String),
    /// 429: rate limit exceeded.
    #[error("{0}")]
    Throttling(String),
    /// 413: the body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 408: the body did not arrive within the configured time; the connection is closed.
    #[error("{0}")]
    RequestTimeout(String),
    /// 404: no operation at this method and path.
    #[error("{0}")]
    UnknownOperation(String),
    /// 500: our fault; the cause is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation(_) => (StatusCode::BAD_REQUEST, "ValidationException"),
            ApiError::AccessDenied(_) => (StatusCode::FORBIDDEN, "AccessDeniedException"),
            ApiError::InvalidSignature(_) => (StatusCode::FORBIDDEN, "InvalidSignatureException"),
            ApiError::ResourceNotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "ConflictException"),
            ApiError::InvalidCampaignState { .. } => {
                (StatusCode::CONFLICT, "InvalidCampaignStateException")
            }
            ApiError::InvalidState(_) => (StatusCode::CONFLICT, "InvalidStateException"),
            ApiError::Throttling(_) => (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "ValidationException"),
            // botocore retries this code as transient.
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException"),
            ApiError::UnknownOperation(_) => (StatusCode::NOT_FOUND, "UnknownOperationException"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException"),
        }
    }

    /// The error as the v1 API tells it: a campaign state in v1's enum.
    pub fn in_v1(self) -> Self {
        match self {
            ApiError::InvalidCampaignState { state, message } => ApiError::InvalidCampaignState {
                state: state.in_v1(),
                message,
            },
            other => other,
        }
    }

    /// The exception name sent in `x-amzn-ErrorType`.
    pub fn error_type(&self) -> &'static str {
        self.status_and_type().1
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error_type) = self.status_and_type();
        let body = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                json!({ "message": "An internal error occurred; it has been logged." })
            }
            ApiError::InvalidCampaignState { state, message } => {
                json!({ "message": message, "state": state.as_str() })
            }
            other => json!({ "message": other.to_string() }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(error_type));
        if let ApiError::RequestTimeout(_) = self {
            // The rest of the body may still be on its way; the connection cannot be reused.
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> Self {
        match e {
            CampaignError::NotFound(id) => {
                ApiError::ResourceNotFound(format!("Campaign {id} not found"))
            }
            CampaignError::IllegalTransition(t) => ApiError::InvalidCampaignState {
                state: t.state,
                message: format!(
                    "Cannot {:?} a campaign that is {}",
                    t.command,
                    t.state.as_str()
                ),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<UpdateError> for ApiError {
    fn from(e: UpdateError) -> Self {
        match e {
            UpdateError::Ended { id, state } => ApiError::Conflict(format!(
                "Campaign {id} is {} and can no longer be changed",
                state.as_str()
            )),
            UpdateError::Refused { id, refused } => {
                ApiError::Conflict(format!("Campaign {id} cannot take this change: {refused}"))
            }
            UpdateError::Campaign(e) => e.into(),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::CampaignNotFound(id) => {
                ApiError::ResourceNotFound(format!("Campaign {id} not found"))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<InstanceError> for ApiError {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::ConfigNotFound(id) => ApiError::ResourceNotFound(format!(
                "No campaign configuration for Amazon Connect instance {id}; start an onboarding job first"
            )),
            InstanceError::JobNotFound(id) => ApiError::ResourceNotFound(format!(
                "No onboarding job for Amazon Connect instance {id}"
            )),
            InstanceError::IntegrationNotFound(id) => ApiError::ResourceNotFound(format!(
                "Amazon Connect instance {id} has no such integration"
            )),
            InstanceError::InUse(id) => ApiError::InvalidState(format!(
                "Amazon Connect instance {id} still has active campaigns; stop or delete them first"
            )),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<RulesError> for ApiError {
    fn from(e: RulesError) -> Self {
        match e {
            RulesError::CampaignNotFound(id) => {
                ApiError::ResourceNotFound(format!("Campaign {id} not found"))
            }
            RulesError::InvalidNumber { .. } => ApiError::Validation(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
