//! One BatchPutContact call per claimed batch, and what its answer does to each request.
//!
//! A batch is written (with its ClientToken) before the call, and the call runs outside any
//! transaction. Per item: a contact id means created; REQUEST_THROTTLED and INTERNAL_ERROR
//! go back to the queue with backoff (a new batch and token later, since this batch's answer
//! for them is known); INVALID_* and MISSING_* end the request as failed with that reason.
//! A call that fails as a whole is re-sent later with the same token.
//!
//! Expiry when a call's outcome is unknown (a timeout, or a crash after the call): re-sending
//! the same items could create a contact for a request that has expired since. So a re-send
//! carries only the items still valid, under the same token. If the contact center took the
//! first call, it refuses the changed content as an idempotency conflict; the full original
//! is then re-sent to learn the contacts it created back then (a replay dials nobody). If it
//! did not, only valid items are dialed and the expired ones end as expired.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::store::{batch_postpone, batch_resolve, Batch, BatchItem, ItemResult};
use super::{secs_to_duration, EngineConfig, EngineError};
use crate::clock::Clock;
use crate::contact_center::{
    BatchPutContactRequest, BatchPutContactResponse, ContactCenter, ContactCenterError,
    ContactDataRequest, Endpoint, FailureReasonCode, FatalError, AMD_ATTRIBUTE_KEY,
};
use crate::metrics as m;

/// What a dispatch did, for metrics and pacing.
#[derive(Debug, Default, Clone)]
pub struct DispatchReport {
    /// Contacts created, with their dial request ids.
    pub created: Vec<(Uuid, String)>,
    /// Items that failed for good, by reason.
    pub failed: Vec<String>,
    /// Items sent back to the queue.
    pub retried: usize,
    /// Items that expired before a contact was made.
    pub expired: usize,
    /// The call failed as a whole and the batch will be re-sent.
    pub postponed: bool,
    /// When the contact center's answer came back.
    pub answered: Option<std::time::Instant>,
}

/// Sends batches for one daemon.
#[derive(Clone)]
pub struct Dispatcher {
    /// The database.
    pub pool: sqlx::PgPool,
    /// Where contacts are created.
    pub center: Arc<dyn ContactCenter>,
    /// The wall clock: expiry and retries.
    pub clock: Arc<dyn Clock>,
    /// The contact center's clock: when calls happen.
    pub center_clock: Arc<dyn Clock>,
    /// Engine settings.
    pub config: Arc<EngineConfig>,
    /// This daemon's lease owner name.
    pub owner: Arc<str>,
    /// Calls this daemon may have in flight (`engine.max_concurrent_calls`): taken for the
    /// calls of a dispatch, so that recording one batch's answer overlaps the next batch's
    /// call.
    pub calls: Arc<tokio::sync::Semaphore>,
}

/// The BatchPutContact request for some items of a batch.
pub fn render(batch: &Batch, items: &[&BatchItem]) -> BatchPutContactRequest {
    let template = &batch.template;
    BatchPutContactRequest {
        client_token: batch.client_token.clone(),
        instance_id: template.instance_id.clone(),
        contacts: items
            .iter()
            .map(|item| {
                let mut attributes = item.attributes.0.clone();
                if template.answer_machine_detection {
                    attributes.insert(AMD_ATTRIBUTE_KEY.to_string(), "true".to_string());
                }
                ContactDataRequest {
                    request_identifier: item.id.to_string(),
                    customer_endpoint: Some(Endpoint::telephone(item.phone_number.clone())),
                    system_endpoint: template
                        .source_phone_number
                        .as_ref()
                        .map(|n| Endpoint::telephone(n.clone())),
                    queue_id: template.queue_id.clone(),
                    attributes,
                    campaign_id: Some(batch.campaign_id.clone()),
                }
            })
            .collect(),
    }
}

/// A request under the batch's token that no contact center can dial: one item, without a
/// customer endpoint.
fn undialable(batch: &Batch) -> BatchPutContactRequest {
    let mut request = render(batch, &batch.items.iter().take(1).collect::<Vec<_>>());
    for contact in &mut request.contacts {
        contact.customer_endpoint = None;
        contact.attributes.clear();
    }
    request
}

/// Whether an answer says the token was used before with other content.
fn is_idempotency_conflict(answer: &Result<BatchPutContactResponse, ContactCenterError>) -> bool {
    match answer {
        Err(ContactCenterError::Fatal(FatalError::Idempotency(_))) => true,
        Ok(response) => {
            !response.failed.is_empty()
                && response.successful.is_empty()
                && response
                    .failed
                    .iter()
                    .all(|f| f.failure_reason_code == FailureReasonCode::IdempotencyException)
        }
        Err(_) => false,
    }
}

impl Dispatcher {
    async fn call(
        &self,
        request: BatchPutContactRequest,
    ) -> Result<BatchPutContactResponse, ContactCenterError> {
        let started = std::time::Instant::now();
        let timeout = std::time::Duration::from_secs_f64(self.config.call_timeout_secs);
        let answer =
            match tokio::time::timeout(timeout, self.center.batch_put_contact(request)).await {
                Ok(answer) => answer,
                Err(_) => Err(ContactCenterError::Retryable(
                    crate::contact_center::RetryableError::Timeout,
                )),
            };
        metrics::histogram!(m::CONTACT_CREATION_DURATION).record(started.elapsed().as_secs_f64());
        answer
    }

    /// Makes the batch's call and records its outcome under the lease `fence`.
    pub async fn dispatch(&self, batch: &Batch, fence: i64) -> Result<DispatchReport, EngineError> {
        // The call slot comes before the expiry check, so that no wait falls between the
        // check and the call; it is given back before the answer is recorded.
        let call_slot = self.calls.acquire().await.ok();
        let now = self.clock.now();
        // The contact is created a moment after this check; the margin covers that moment.
        let margin = secs_to_duration(self.config.claim_expiry_margin_secs);
        let (live, expired): (Vec<&BatchItem>, Vec<&BatchItem>) = batch
            .items
            .iter()
            .partition(|item| item.expires_at > now + margin);
        let first = if batch.attempts == 0 || expired.is_empty() {
            if live.is_empty() {
                // Never sent: nothing was dialed, so everything simply expired.
                return self.resolve_expired(batch, fence, now).await;
            }
            self.call(render(batch, &live)).await
        } else {
            // An earlier call may have taken effect. Ask under the same token with content
            // that differs from the original (only the valid items, or, when none is left, an
            // item without a customer endpoint, which can never be dialed): a contact center
            // that took the first call answers with an idempotency conflict, and only then is
            // the original replayed, to learn the contacts it made back then.
            let probe = if live.is_empty() {
                undialable(batch)
            } else {
                render(batch, &live)
            };
            let answer = self.call(probe).await;
            if is_idempotency_conflict(&answer) {
                let full: Vec<&BatchItem> = batch.items.iter().collect();
                self.call(render(batch, &full)).await
            } else if live.is_empty() && answer.is_ok() {
                return self.resolve_expired(batch, fence, now).await;
            } else {
                answer
            }
        };
        drop(call_slot);
        let answered = std::time::Instant::now();
        let sent_now = self.clock.now();
        match first {
            Ok(response) => {
                let results = self.results(batch, &response, sent_now);
                batch_resolve(&self.pool, batch, &self.owner, fence, sent_now, &results).await?;
                Ok(DispatchReport {
                    answered: Some(answered),
                    ..self.report(batch, &results)
                })
            }
            Err(error) if error.is_retryable() => {
                let next = sent_now + self.config.backoff(batch.attempts + 1);
                tracing::warn!(batch_id = %batch.id, campaign_id = %batch.campaign_id, %error, "BatchPutContact failed; will re-send with the same token");
                metrics::counter!(m::CONTACT_CREATION_FAILURES, m::CAMPAIGN_ID => batch.campaign_id.clone(), m::REASON => call_error_reason(&error))
                    .increment(1);
                batch_postpone(&self.pool, batch, &self.owner, fence, next).await?;
                Ok(DispatchReport {
                    postponed: true,
                    ..DispatchReport::default()
                })
            }
            Err(error) => {
                tracing::error!(batch_id = %batch.id, campaign_id = %batch.campaign_id, %error, "BatchPutContact refused; failing the batch's requests");
                let reason = call_error_reason(&error).to_string();
                let results: Vec<(Uuid, ItemResult)> = batch
                    .items
                    .iter()
                    .map(|i| {
                        (
                            i.id,
                            ItemResult::Failed {
                                reason: reason.clone(),
                            },
                        )
                    })
                    .collect();
                batch_resolve(&self.pool, batch, &self.owner, fence, sent_now, &results).await?;
                Ok(self.report(batch, &results))
            }
        }
    }

    async fn resolve_expired(
        &self,
        batch: &Batch,
        fence: i64,
        now: DateTime<Utc>,
    ) -> Result<DispatchReport, EngineError> {
        let results: Vec<(Uuid, ItemResult)> = batch
            .items
            .iter()
            .map(|i| (i.id, ItemResult::Expired))
            .collect();
        batch_resolve(&self.pool, batch, &self.owner, fence, now, &results).await?;
        Ok(self.report(batch, &results))
    }

    fn results(
        &self,
        batch: &Batch,
        response: &BatchPutContactResponse,
        now: DateTime<Utc>,
    ) -> Vec<(Uuid, ItemResult)> {
        batch
            .items
            .iter()
            .map(|item| {
                let key = item.id.to_string();
                if let Some(ok) = response
                    .successful
                    .iter()
                    .find(|s| s.request_identifier == key)
                {
                    return (
                        item.id,
                        ItemResult::Created {
                            contact_id: ok.contact_id.clone(),
                        },
                    );
                }
                let failure = response.failed.iter().find(|f| f.request_identifier == key);
                let result = match failure {
                    // Not in the answer: it was left out of a reduced re-send because it had
                    // expired, or the answer is incomplete.
                    None if item.expires_at <= now => ItemResult::Expired,
                    None => self.retry_or_expire(item, now, "INTERNAL_ERROR"),
                    Some(f) if f.failure_reason_code.is_retryable() => {
                        self.retry_or_expire(item, now, f.failure_reason_code.as_str())
                    }
                    Some(f) => ItemResult::Failed {
                        reason: f.failure_reason_code.as_str().to_string(),
                    },
                };
                (item.id, result)
            })
            .collect()
    }

    fn retry_or_expire(&self, item: &BatchItem, now: DateTime<Utc>, reason: &str) -> ItemResult {
        let not_before = now + self.config.backoff(item.attempts);
        // A retry that could only come after the expiration (plus the claim margin) is
        // pointless: the request can no longer be dialed.
        let margin = secs_to_duration(self.config.claim_expiry_margin_secs);
        if not_before + margin >= item.expires_at {
            ItemResult::Expired
        } else {
            ItemResult::Retry {
                reason: reason.to_string(),
                not_before,
            }
        }
    }

    fn report(&self, batch: &Batch, results: &[(Uuid, ItemResult)]) -> DispatchReport {
        let mut report = DispatchReport::default();
        for (id, result) in results {
            match result {
                ItemResult::Created { contact_id } => {
                    report.created.push((*id, contact_id.clone()))
                }
                ItemResult::Retry { reason, .. } => {
                    report.retried += 1;
                    metrics::counter!(m::CONTACT_CREATION_FAILURES, m::CAMPAIGN_ID => batch.campaign_id.clone(), m::REASON => reason.clone())
                        .increment(1);
                }
                ItemResult::Failed { reason } => {
                    report.failed.push(reason.clone());
                    metrics::counter!(m::CONTACT_CREATION_FAILURES, m::CAMPAIGN_ID => batch.campaign_id.clone(), m::REASON => reason.clone())
                        .increment(1);
                }
                ItemResult::Expired => report.expired += 1,
            }
        }
        if !report.created.is_empty() {
            metrics::counter!(m::DIALS, m::CAMPAIGN_ID => batch.campaign_id.clone())
                .increment(report.created.len() as u64);
        }
        if report.expired > 0 {
            metrics::counter!(m::DIAL_REQUESTS_EXPIRED, m::CAMPAIGN_ID => batch.campaign_id.clone())
                .increment(report.expired as u64);
        }
        report
    }
}

fn call_error_reason(error: &ContactCenterError) -> &'static str {
    use crate::contact_center::RetryableError;
    match error {
        ContactCenterError::Retryable(RetryableError::Throttled) => "CALL_THROTTLED",
        ContactCenterError::Retryable(RetryableError::Timeout) => "CALL_TIMEOUT",
        ContactCenterError::Retryable(RetryableError::Server(_)) => "CALL_SERVER_ERROR",
        ContactCenterError::Fatal(FatalError::InvalidRequest(_)) => "CALL_INVALID_REQUEST",
        ContactCenterError::Fatal(FatalError::AccessDenied(_)) => "CALL_ACCESS_DENIED",
        ContactCenterError::Fatal(FatalError::ResourceNotFound(_)) => "CALL_RESOURCE_NOT_FOUND",
        ContactCenterError::Fatal(FatalError::Idempotency(_)) => "IDEMPOTENCY_EXCEPTION",
    }
}
