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
//!
//! Calling hours and the campaign's schedule are decided at the claim, which records each
//! item's dial-by time: the earliest of its expiration, the close of its hours in the
//! recipient's zone and the schedule's end. No call starts after it: an item past it is left
//! out of a call as an expired one is (shed before the first call, or left out of a re-send
//! with the probe above), but instead of expiring it goes back to the queue, where the next
//! claim finds its hours closed and has it wait for them to open.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::batch::{Batch, BatchItem};
use super::store::{batch_postpone, batch_resolve, batch_shed};
use super::{secs_to_duration, EngineConfig, EngineError};
use crate::clock::Clock;
use crate::contact_center::{
    BatchPutContactRequest, BatchPutContactResponse, ContactCenter, ContactCenterError,
    ContactDataRequest, Endpoint, FailureReasonCode, FatalError, AMD_ATTRIBUTE_KEY,
};
use crate::metrics as m;
use crate::queue::lifecycle::{FailureReason, ItemResult};

/// What a dispatch did, for metrics and pacing.
#[derive(Debug, Default, Clone)]
pub struct DispatchReport {
    /// Contacts created, with their dial request ids.
    pub created: Vec<(Uuid, String)>,
    /// Items that failed for good, by reason.
    pub failed: Vec<FailureReason>,
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
                let mut attributes = item.attributes.clone();
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
        let is_live = |item: &BatchItem| standing(item, now, margin) == Standing::Live;
        let shed;
        let batch = if batch.attempts == 0
            && batch.items.iter().any(is_live)
            && !batch.items.iter().all(is_live)
        {
            // Never sent, partly past dialing: the batch becomes what its first call sends.
            let (live, gone): (Vec<BatchItem>, Vec<BatchItem>) =
                batch.items.iter().cloned().partition(is_live);
            let results: Vec<(Uuid, ItemResult)> = gone
                .iter()
                .map(|item| (item.id, unsent(item, now, margin)))
                .collect();
            batch_shed(&self.pool, batch, &self.owner, fence, now, &results).await?;
            // Those back in the queue count as waits when the claim finds their hours closed.
            let expired = results
                .iter()
                .filter(|(_, result)| *result == ItemResult::Expired)
                .count();
            metrics::counter!(m::DIAL_REQUESTS_EXPIRED, m::CAMPAIGN_ID => batch.campaign_id.clone())
                .increment(expired as u64);
            shed = Batch {
                items: live,
                ..batch.clone()
            };
            &shed
        } else {
            batch
        };
        let (live, gone): (Vec<&BatchItem>, Vec<&BatchItem>) =
            batch.items.iter().partition(|item| is_live(item));
        let first = if batch.attempts == 0 || gone.is_empty() {
            if live.is_empty() {
                // Never sent: nothing was dialed, so each simply expired or waits again.
                return self.resolve_unsent(batch, fence, now, &[]).await;
            }
            self.call(render(batch, &live)).await
        } else {
            // An earlier call may have taken effect, and some items expired or passed their
            // dial-by time since (their calling hours or the schedule closed). Ask under
            // the same token with content no contact center can dial (one item without a
            // customer endpoint): one that took the earlier call answers with an idempotency
            // conflict, and only then is that call replayed, to learn the contacts it made.
            // One that did not has now recorded this probe under the token, which can carry
            // nothing else: the live items wait for a new batch. Only these two contents
            // ever go under a token, so a replay always matches what took effect.
            let answer = self.call(undialable(batch)).await;
            if is_idempotency_conflict(&answer) {
                let full: Vec<&BatchItem> = batch.items.iter().collect();
                self.call(render(batch, &full)).await
            } else if answer.is_ok() {
                return self.resolve_unsent(batch, fence, now, &live).await;
            } else {
                answer
            }
        };
        drop(call_slot);
        let answered = std::time::Instant::now();
        let sent_now = self.clock.now();
        match first {
            Ok(response) => {
                let results = item_results(&batch.items, &response, sent_now, &self.config);
                batch_resolve(&self.pool, batch, &self.owner, fence, sent_now, &results).await?;
                Ok(DispatchReport {
                    answered: Some(answered),
                    ..self.report(batch, &results)
                })
            }
            Err(error) if error.is_retryable() => {
                let next = sent_now + self.config.backoff(batch.attempts + 1);
                tracing::warn!(batch_id = %batch.id, campaign_id = %batch.campaign_id, %error, "BatchPutContact failed; will re-send with the same token");
                metrics::counter!(m::CONTACT_CREATION_FAILURES, m::CAMPAIGN_ID => batch.campaign_id.clone(), m::REASON => call_error_reason(&error).as_str())
                    .increment(1);
                batch_postpone(&self.pool, batch, &self.owner, fence, next).await?;
                Ok(DispatchReport {
                    postponed: true,
                    ..DispatchReport::default()
                })
            }
            Err(error) => {
                tracing::error!(batch_id = %batch.id, campaign_id = %batch.campaign_id, %error, "BatchPutContact refused; failing the batch's requests");
                let reason = call_error_reason(&error);
                let results: Vec<(Uuid, ItemResult)> = batch
                    .items
                    .iter()
                    .map(|i| (i.id, ItemResult::Failed { reason }))
                    .collect();
                batch_resolve(&self.pool, batch, &self.owner, fence, sent_now, &results).await?;
                Ok(self.report(batch, &results))
            }
        }
    }

    /// Closes a batch of which no call took effect: the `live` items go back to the queue,
    /// the others expired, or back to the queue until their hours open ([`unsent`]).
    async fn resolve_unsent(
        &self,
        batch: &Batch,
        fence: i64,
        now: DateTime<Utc>,
        live: &[&BatchItem],
    ) -> Result<DispatchReport, EngineError> {
        let margin = secs_to_duration(self.config.claim_expiry_margin_secs);
        let results: Vec<(Uuid, ItemResult)> = batch
            .items
            .iter()
            .map(|item| {
                let result = if live.iter().any(|l| l.id == item.id) {
                    ItemResult::Retry {
                        reason: FailureReason::CallNotMade,
                        not_before: now,
                    }
                } else {
                    unsent(item, now, margin)
                };
                (item.id, result)
            })
            .collect();
        batch_resolve(&self.pool, batch, &self.owner, fence, now, &results).await?;
        Ok(self.report(batch, &results))
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
                    metrics::counter!(m::CONTACT_CREATION_FAILURES, m::CAMPAIGN_ID => batch.campaign_id.clone(), m::REASON => reason.as_str())
                        .increment(1);
                }
                ItemResult::Failed { reason } => {
                    report.failed.push(*reason);
                    metrics::counter!(m::CONTACT_CREATION_FAILURES, m::CAMPAIGN_ID => batch.campaign_id.clone(), m::REASON => reason.as_str())
                        .increment(1);
                }
                ItemResult::Expired => report.expired += 1,
                // Only SMS batches send, and the SMS path reports them itself.
                ItemResult::Sent { .. } => {}
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

/// Where an item of a batch stands at a call made at `now`, `margin` before its contact is
/// created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It may be dialed.
    Live,
    /// Not expired, but its dial-by time passed: its calling hours or its campaign's
    /// schedule closed since its claim.
    PastDialBy,
    /// Expired.
    Expired,
}

/// Where `item` stands at `now` (see [`Standing`]).
pub fn standing(item: &BatchItem, now: DateTime<Utc>, margin: chrono::Duration) -> Standing {
    if item.expires_at <= now + margin {
        Standing::Expired
    } else if item.dial_by <= now + margin {
        Standing::PastDialBy
    } else {
        Standing::Live
    }
}

/// What an item left out of its batch's call becomes: expired if it expired; otherwise its
/// dial-by time passed, and it goes back to the queue, not to be claimed before that time,
/// when the claim finds its hours closed and has it wait for them to open (a schedule that
/// ended leaves its campaign nothing to claim, and completes it).
pub(super) fn unsent(item: &BatchItem, now: DateTime<Utc>, margin: chrono::Duration) -> ItemResult {
    match standing(item, now, margin) {
        Standing::Expired => ItemResult::Expired,
        Standing::PastDialBy | Standing::Live => ItemResult::Retry {
            reason: FailureReason::DialByPassed,
            not_before: item.dial_by.max(now),
        },
    }
}

/// What each item of a batch becomes by the contact center's `response`, at `now`: created
/// with its contact; retried for a retryable code or when the answer left it out, unless the
/// retry would come too late ([`retry_or_expire`]); failed for any other code; expired when
/// it was left out after its expiration (a reduced re-send leaves out the expired items).
pub fn item_results(
    items: &[BatchItem],
    response: &BatchPutContactResponse,
    now: DateTime<Utc>,
    config: &EngineConfig,
) -> Vec<(Uuid, ItemResult)> {
    items
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
                None => retry_or_expire(
                    item,
                    now,
                    FailureReason::Item(FailureReasonCode::InternalError),
                    config,
                ),
                Some(f) if f.failure_reason_code.is_retryable() => retry_or_expire(
                    item,
                    now,
                    FailureReason::Item(f.failure_reason_code),
                    config,
                ),
                Some(f) => ItemResult::Failed {
                    reason: FailureReason::Item(f.failure_reason_code),
                },
            };
            (item.id, result)
        })
        .collect()
}

/// A retry of `item` after the engine's backoff, or its expiry when the retry could only be
/// claimed after its expiration (less the claim margin): such a request can no longer be
/// dialed.
pub fn retry_or_expire(
    item: &BatchItem,
    now: DateTime<Utc>,
    reason: FailureReason,
    config: &EngineConfig,
) -> ItemResult {
    let not_before = now + config.backoff(item.attempts);
    let margin = secs_to_duration(config.claim_expiry_margin_secs);
    if not_before + margin >= item.expires_at {
        ItemResult::Expired
    } else {
        ItemResult::Retry { reason, not_before }
    }
}

/// The reason stored for the items of a call that failed as a whole.
pub(super) fn call_error_reason(error: &ContactCenterError) -> FailureReason {
    use crate::contact_center::RetryableError;
    match error {
        ContactCenterError::Retryable(RetryableError::Throttled) => FailureReason::CallThrottled,
        ContactCenterError::Retryable(RetryableError::Timeout) => FailureReason::CallTimeout,
        ContactCenterError::Retryable(RetryableError::Server(_)) => FailureReason::CallServerError,
        ContactCenterError::Fatal(FatalError::InvalidRequest(_)) => {
            FailureReason::CallInvalidRequest
        }
        ContactCenterError::Fatal(FatalError::AccessDenied(_)) => FailureReason::CallAccessDenied,
        ContactCenterError::Fatal(FatalError::ResourceNotFound(_)) => {
            FailureReason::CallResourceNotFound
        }
        ContactCenterError::Fatal(FatalError::Idempotency(_)) => {
            FailureReason::Item(FailureReasonCode::IdempotencyException)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact_center::{FailedRequest, SuccessfulRequest};

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(millis)
    }

    fn item(n: u64, expires_at: DateTime<Utc>, attempts: i32) -> BatchItem {
        BatchItem {
            id: Uuid::from_u64_pair(0, n),
            phone_number: "+14155550123".into(),
            attributes: Default::default(),
            expires_at,
            dial_by: expires_at,
            attempts,
            parameters: Default::default(),
        }
    }

    fn failed(item: &BatchItem, code: FailureReasonCode) -> FailedRequest {
        FailedRequest {
            request_identifier: item.id.to_string(),
            failure_reason_code: code,
            failure_reason_message: String::new(),
        }
    }

    /// Defaults: a first retry waits 0.5 s, and a claim needs 1 s before the expiration.
    fn config() -> EngineConfig {
        EngineConfig::default()
    }

    #[test]
    fn a_retry_that_could_only_come_after_expiration_less_margin_expires() {
        let now = at(10_000);
        let reason = FailureReason::Item(FailureReasonCode::RequestThrottled);
        // Claimable after now + 0.5 s backoff, and only until expiration - 1 s margin.
        let on_the_edge = item(1, at(11_500), 1);
        assert_eq!(
            retry_or_expire(&on_the_edge, now, reason, &config()),
            ItemResult::Expired
        );
        let just_in_time = item(2, at(11_501), 1);
        assert_eq!(
            retry_or_expire(&just_in_time, now, reason, &config()),
            ItemResult::Retry {
                reason,
                not_before: at(10_500)
            }
        );
        // The backoff grows with the attempts: the third waits 2 s.
        let third = item(3, at(12_999), 3);
        assert_eq!(
            retry_or_expire(&third, now, reason, &config()),
            ItemResult::Expired
        );
    }

    #[test]
    fn answers_make_items_created_retried_failed_or_expired() {
        let now = at(10_000);
        let later = at(100_000);
        let items = [
            item(1, later, 1),      // created
            item(2, later, 1),      // throttled: retried
            item(3, later, 1),      // invalid number: failed for good
            item(4, at(9_000), 1),  // left out, expired already
            item(5, later, 1),      // left out, still valid: retried
            item(6, at(11_000), 1), // server error, too close to expiry to retry
            item(7, later, 1),      // idempotency conflict on the item: final
        ];
        let response = BatchPutContactResponse {
            successful: vec![SuccessfulRequest {
                request_identifier: items[0].id.to_string(),
                contact_id: "contact-1".into(),
            }],
            failed: vec![
                failed(&items[1], FailureReasonCode::RequestThrottled),
                failed(&items[2], FailureReasonCode::InvalidCustomerEndpoint),
                failed(&items[5], FailureReasonCode::InternalError),
                failed(&items[6], FailureReasonCode::IdempotencyException),
            ],
        };
        let results: Vec<ItemResult> = item_results(&items, &response, now, &config())
            .into_iter()
            .zip(&items)
            .map(|((id, result), item)| {
                assert_eq!(id, item.id, "results keep the items' order");
                result
            })
            .collect();
        let retry = |code| ItemResult::Retry {
            reason: FailureReason::Item(code),
            not_before: at(10_500),
        };
        assert_eq!(
            results,
            [
                ItemResult::Created {
                    contact_id: "contact-1".into()
                },
                retry(FailureReasonCode::RequestThrottled),
                ItemResult::Failed {
                    reason: FailureReason::Item(FailureReasonCode::InvalidCustomerEndpoint)
                },
                ItemResult::Expired,
                retry(FailureReasonCode::InternalError),
                ItemResult::Expired,
                ItemResult::Failed {
                    reason: FailureReason::Item(FailureReasonCode::IdempotencyException)
                },
            ]
        );
    }

    #[test]
    fn an_item_past_its_dial_by_time_goes_back_to_the_queue_until_then_unless_expired() {
        let margin = chrono::Duration::seconds(1);
        let close = at(20_000);
        let closing = BatchItem {
            dial_by: close,
            ..item(1, at(100_000), 1)
        };
        assert_eq!(standing(&closing, at(18_999), margin), Standing::Live);
        // Within the margin of the close, a contact could be created after it.
        assert_eq!(standing(&closing, at(19_000), margin), Standing::PastDialBy);
        assert_eq!(
            unsent(&closing, at(19_000), margin),
            ItemResult::Retry {
                reason: FailureReason::DialByPassed,
                not_before: close,
            }
        );
        assert_eq!(
            unsent(&closing, at(30_000), margin),
            ItemResult::Retry {
                reason: FailureReason::DialByPassed,
                not_before: at(30_000),
            }
        );
        // Expiry comes first: an expired item ends expired, as before dial-by times.
        let expiring = BatchItem {
            dial_by: at(15_000),
            ..item(2, at(15_000), 1)
        };
        assert_eq!(standing(&expiring, at(14_000), margin), Standing::Expired);
        assert_eq!(unsent(&expiring, at(14_000), margin), ItemResult::Expired);
    }

    #[test]
    fn calls_failing_as_a_whole_store_their_own_codes() {
        use crate::contact_center::RetryableError;
        assert_eq!(
            call_error_reason(&ContactCenterError::Retryable(RetryableError::Timeout)).as_str(),
            "CALL_TIMEOUT"
        );
        assert_eq!(
            call_error_reason(&ContactCenterError::Fatal(FatalError::Idempotency(
                "reused".into()
            )))
            .as_str(),
            "IDEMPOTENCY_EXCEPTION"
        );
    }
}
