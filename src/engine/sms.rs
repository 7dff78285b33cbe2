//! SMS requests: one `StartOutboundChatContact` per claimed request, its retries and its end.
//!
//! An SMS request is claimed like a call's (earliest expiration first, never one expiring
//! within the claim margin, under the campaign's lease) into a batch of its own, written
//! before the send with the ClientToken `dialer-sms-{request id}-{claim number}`. Every send
//! of that claim (after a timeout, a crash, a lease takeover) carries the same token, so the
//! contact center answers a retry with the first send's contact and sends nothing: no
//! request ever gets two messages. The message is filled from the template again for each
//! send; if the template changed in between, the center refuses the token's new content,
//! which says the first send went out.
//!
//! Per request: sent → `completed` with outcome `sent`; a template that is missing or
//! cannot be filled → `failed` with its reason (nothing sent); a refused call → `failed`
//! with the call's reason; a call that failed as a whole and may be retried → the batch is
//! sent again later, same token. Expiry is checked before every send: a request that
//! expired is never sent. When an earlier send's outcome is unknown, a re-send after the
//! expiration could send for the first time, so none is made and the request ends
//! `expired` (if that earlier send went out, it did so before the expiration). A request
//! past its dial-by time ([`super::dispatch`]: its hours or the schedule closed since the
//! claim) before its first send goes back to the queue unsent; a re-send is made whatever
//! the hours, since only it tells whether the first went out.

use chrono::{DateTime, Utc};

use super::batch::{Batch, BatchItem, BatchTemplate, SmsTemplate};
use super::dispatch::{call_error_reason, standing, unsent, Dispatcher, Standing};
use super::store::{batch_postpone, batch_resolve};
use super::{secs_to_duration, EngineError};
use crate::campaigns::Campaign;
use crate::contact_center::{
    ChatEndpoint, ChatMessage, ContactCenterError, FatalError, RetryableError,
    SegmentAttributeValue, StartOutboundChatContactRequest, SEGMENT_SUBTYPE, SUBTYPE_SMS,
};
use crate::metrics as m;
use crate::queue::lifecycle::{FailureReason, ItemResult};
use crate::sms::template::{FillError, MessageFailure, Templates};

/// The content type of the messages.
const CONTENT_TYPE: &str = "text/plain";

/// The SMS channel of `campaign`: its capacity (1 when unset) and the fixed parts of its
/// batches. The contact flow is the campaign's flow (the id that ends
/// `connectCampaignFlowArn`), else its telephony channel's; an empty one fails each request
/// rather than the claim.
pub fn sms_batch_template(campaign: &Campaign) -> Option<(f64, BatchTemplate)> {
    let sms = campaign.settings.channel_subtype_config.sms.as_ref()?;
    let flow = match &campaign.settings.connect_campaign_flow_arn {
        Some(arn) => arn.rsplit('/').next().unwrap_or(arn).to_string(),
        None => campaign
            .telephony()
            .map(|t| t.default_outbound_config.connect_contact_flow_id.clone())
            .unwrap_or_default(),
    };
    let defaults = &sms.default_outbound_config;
    Some((
        sms.capacity.unwrap_or(1.0),
        BatchTemplate {
            instance_id: campaign.connect_instance_id.clone(),
            queue_id: None,
            contact_flow_id: flow,
            source_phone_number: None,
            answer_machine_detection: false,
            sms: Some(SmsTemplate {
                source_phone_number_arn: defaults.connect_source_phone_number_arn.clone(),
                template_arn: defaults.wisdom_template_arn.clone(),
            }),
        },
    ))
}

/// The `StartOutboundChatContact` request of an SMS batch's request: the request's own
/// source number and template over the campaign's, the template filled from its attributes.
pub fn render_sms(
    batch: &Batch,
    sms: &SmsTemplate,
    item: &BatchItem,
    templates: &Templates,
) -> Result<StartOutboundChatContactRequest, FillError> {
    let parameters = &item.parameters;
    let template_arn = parameters
        .template_arn
        .as_deref()
        .unwrap_or(&sms.template_arn);
    let source = parameters
        .connect_source_phone_number_arn
        .as_deref()
        .unwrap_or(&sms.source_phone_number_arn);
    let flow = &batch.template.contact_flow_id;
    if flow.is_empty() || source.is_empty() {
        return Err(FillError {
            failure: MessageFailure::ConfigMissing,
            detail:
                "the campaign names no contact flow (connectCampaignFlowArn) or no source number"
                    .to_string(),
        });
    }
    let message = templates.fill(template_arn, &item.attributes)?;
    Ok(StartOutboundChatContactRequest {
        source_endpoint: Some(ChatEndpoint {
            endpoint_type: Some("CONNECT_PHONENUMBER_ARN".to_string()),
            address: Some(source.to_string()),
        }),
        destination_endpoint: Some(ChatEndpoint {
            endpoint_type: Some("TELEPHONE_NUMBER".to_string()),
            address: Some(item.phone_number.clone()),
        }),
        instance_id: Some(batch.template.instance_id.clone()),
        segment_attributes: Some(
            [(
                SEGMENT_SUBTYPE.to_string(),
                SegmentAttributeValue::string(SUBTYPE_SMS),
            )]
            .into(),
        ),
        attributes: (!item.attributes.is_empty()).then(|| item.attributes.clone()),
        contact_flow_id: Some(flow.clone()),
        initial_system_message: Some(ChatMessage {
            content_type: Some(CONTENT_TYPE.to_string()),
            content: Some(message),
        }),
        client_token: Some(batch.client_token.clone()),
        ..StartOutboundChatContactRequest::default()
    })
}

/// What sending an SMS batch did.
#[derive(Debug, Clone, PartialEq)]
pub enum SmsReport {
    /// The request ended (sent, failed or expired).
    Resolved(ItemResult),
    /// The call failed as a whole; the batch is sent again later with the same token.
    Postponed,
}

impl Dispatcher {
    /// Sends the SMS of `batch` (claimed with the campaign's `sms` defaults) and records
    /// what came of it under the lease `fence`.
    pub async fn send_sms(
        &self,
        batch: &Batch,
        sms: &SmsTemplate,
        fence: i64,
        templates: &Templates,
    ) -> Result<SmsReport, EngineError> {
        let Some(item) = batch.items.first() else {
            return Ok(SmsReport::Postponed);
        };
        // As for calls: the slot first, so that no wait falls between the expiry check and
        // the send.
        let call_slot = self.calls.acquire().await.ok();
        let now = self.clock.now();
        let margin = secs_to_duration(self.config.claim_expiry_margin_secs);
        let result = match standing(item, now, margin) {
            Standing::Expired => ItemResult::Expired,
            // Never sent, and its hours or the schedule closed since the claim: back to the
            // queue. Once a send was made its outcome may be unknown, and only a re-send
            // under the same token tells, so a re-send is made whatever the hours.
            Standing::PastDialBy if batch.attempts == 0 => unsent(item, now, margin),
            Standing::PastDialBy | Standing::Live => {
                match render_sms(batch, sms, item, templates) {
                    Err(error) => {
                        tracing::warn!(dial_request_id = %item.id, campaign_id = %batch.campaign_id, %error, "SMS not sent");
                        ItemResult::Failed {
                            reason: FailureReason::Message(error.failure),
                        }
                    }
                    Ok(request) => match self.send(request).await {
                        Ok(contact_id) => ItemResult::Sent {
                            contact_id: Some(contact_id),
                        },
                        // Only a token used before refuses a re-send's content: the first
                        // send went out.
                        Err(ContactCenterError::Fatal(FatalError::Idempotency(_)))
                            if batch.attempts > 0 =>
                        {
                            ItemResult::Sent { contact_id: None }
                        }
                        Err(error) if error.is_retryable() => {
                            drop(call_slot);
                            return self.postpone(batch, fence, &error).await;
                        }
                        Err(error) => {
                            tracing::error!(batch_id = %batch.id, campaign_id = %batch.campaign_id, %error, "StartOutboundChatContact refused; failing the request");
                            ItemResult::Failed {
                                reason: call_error_reason(&error),
                            }
                        }
                    },
                }
            }
        };
        drop(call_slot);
        let resolved_at = self.clock.now();
        batch_resolve(
            &self.pool,
            batch,
            &self.owner,
            fence,
            resolved_at,
            &[(item.id, result.clone())],
        )
        .await?;
        count(&batch.campaign_id, &result);
        Ok(SmsReport::Resolved(result))
    }

    async fn send(
        &self,
        request: StartOutboundChatContactRequest,
    ) -> Result<String, ContactCenterError> {
        let timeout = std::time::Duration::from_secs_f64(self.config.call_timeout_secs);
        match tokio::time::timeout(timeout, self.center.start_outbound_chat_contact(request)).await
        {
            Ok(answer) => answer.map(|response| response.contact_id),
            Err(_) => Err(ContactCenterError::Retryable(RetryableError::Timeout)),
        }
    }

    async fn postpone(
        &self,
        batch: &Batch,
        fence: i64,
        error: &ContactCenterError,
    ) -> Result<SmsReport, EngineError> {
        let next: DateTime<Utc> = self.clock.now() + self.config.backoff(batch.attempts + 1);
        tracing::warn!(batch_id = %batch.id, campaign_id = %batch.campaign_id, %error, "StartOutboundChatContact failed; will re-send with the same token");
        batch_postpone(&self.pool, batch, &self.owner, fence, next).await?;
        Ok(SmsReport::Postponed)
    }
}

/// The SMS metrics of a request's end.
fn count(campaign_id: &str, result: &ItemResult) {
    match result {
        ItemResult::Sent { .. } => {
            metrics::counter!(m::SMS_SENT, m::CAMPAIGN_ID => campaign_id.to_string()).increment(1)
        }
        other => {
            if let Some(reason) = other.reason() {
                metrics::counter!(m::SMS_FAILED, m::CAMPAIGN_ID => campaign_id.to_string(), m::REASON => reason.as_str())
                    .increment(1);
            }
            if *other == ItemResult::Expired {
                metrics::counter!(m::DIAL_REQUESTS_EXPIRED, m::CAMPAIGN_ID => campaign_id.to_string())
                    .increment(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::batch::{BatchTemplate, ChannelParameters};
    use crate::sms::template::TemplateConfig;
    use uuid::Uuid;

    fn batch(parameters: ChannelParameters, attributes: &[(&str, &str)]) -> (Batch, SmsTemplate) {
        let sms = SmsTemplate {
            source_phone_number_arn: "arn:aws:connect:us-east-1:111122223333:phone-number/campaign"
                .into(),
            template_arn: "arn:t/campaign".into(),
        };
        let batch = Batch {
            id: Uuid::nil(),
            campaign_id: "c".into(),
            client_token: "dialer-sms-r-1".into(),
            template: BatchTemplate {
                instance_id: "inst".into(),
                queue_id: None,
                contact_flow_id: "flow".into(),
                source_phone_number: None,
                answer_machine_detection: false,
                sms: Some(sms.clone()),
            },
            items: vec![BatchItem {
                id: Uuid::nil(),
                phone_number: "+14155550123".into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                expires_at: DateTime::<Utc>::MAX_UTC,
                dial_by: DateTime::<Utc>::MAX_UTC,
                attempts: 1,
                parameters,
            }],
            attempts: 0,
        };
        (batch, sms)
    }

    fn templates() -> Templates {
        Templates::from_config(&[
            TemplateConfig {
                arn: "arn:t/campaign".into(),
                body: "Hi {{firstName}}".into(),
            },
            TemplateConfig {
                arn: "arn:t/own".into(),
                body: "Code {{code}}".into(),
            },
        ])
        .unwrap()
    }

    #[test]
    fn an_sms_goes_from_the_campaign_number_to_the_customer_under_the_batch_token() {
        let (batch, sms) = batch(ChannelParameters::default(), &[("firstName", "Ada")]);
        let request = render_sms(&batch, &sms, &batch.items[0], &templates()).unwrap();
        assert_eq!(
            crate::contact_center::emulator::validate::start_outbound_chat_contact(&request),
            Ok(())
        );
        let address = |e: Option<ChatEndpoint>| e.and_then(|e| e.address);
        assert_eq!(
            address(request.source_endpoint),
            Some(sms.source_phone_number_arn)
        );
        assert_eq!(
            address(request.destination_endpoint).as_deref(),
            Some("+14155550123")
        );
        let subtype = request
            .segment_attributes
            .and_then(|mut s| s.remove(SEGMENT_SUBTYPE))
            .and_then(|v| v.value_string);
        assert_eq!(subtype.as_deref(), Some(SUBTYPE_SMS));
        let message = request.initial_system_message.unwrap();
        assert_eq!(
            (message.content_type.as_deref(), message.content.as_deref()),
            (Some("text/plain"), Some("Hi Ada"))
        );
        assert_eq!(request.contact_flow_id.as_deref(), Some("flow"));
        assert_eq!(request.client_token.as_deref(), Some("dialer-sms-r-1"));
    }

    #[test]
    fn a_request_may_name_its_own_number_and_template() {
        let own = ChannelParameters {
            connect_source_phone_number_arn: Some("arn:own-number".into()),
            template_arn: Some("arn:t/own".into()),
        };
        let (batch, sms) = batch(own, &[("code", "42")]);
        let request = render_sms(&batch, &sms, &batch.items[0], &templates()).unwrap();
        assert_eq!(
            request.source_endpoint.unwrap().address.as_deref(),
            Some("arn:own-number")
        );
        assert_eq!(
            request.initial_system_message.unwrap().content.as_deref(),
            Some("Code 42")
        );
    }

    #[test]
    fn unfillable_messages_fail_with_their_reason() {
        let (batch_, sms) = batch(ChannelParameters::default(), &[("other", "x")]);
        let error = render_sms(&batch_, &sms, &batch_.items[0], &templates()).unwrap_err();
        assert_eq!(error.failure, MessageFailure::AttributeMissing);
        let unknown = ChannelParameters {
            template_arn: Some("arn:t/unknown".into()),
            ..ChannelParameters::default()
        };
        let (batch_, sms) = batch(unknown, &[]);
        let error = render_sms(&batch_, &sms, &batch_.items[0], &templates()).unwrap_err();
        assert_eq!(error.failure, MessageFailure::TemplateNotFound);
        let (mut batch_, sms) = batch(ChannelParameters::default(), &[("firstName", "Ada")]);
        batch_.template.contact_flow_id.clear();
        let error = render_sms(&batch_, &sms, &batch_.items[0], &templates()).unwrap_err();
        assert_eq!(error.failure, MessageFailure::ConfigMissing);
    }
}
