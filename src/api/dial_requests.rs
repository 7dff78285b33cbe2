//! PutDialRequestBatch: validates a batch, admits it into the queue in one transaction, and
//! answers per item. Whole-request problems (model constraints) are a ValidationException;
//! a number that is not real E.164, attributes PostgreSQL cannot store (U+0000), an
//! expiration time outside years 0001-9999, a reused token or a full queue fail only their
//! item, so that an SDK retrying the batch does not loop on one bad request.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::wire::{
    decode_except, is_attribute_name_char, is_storable, is_token_char, validate_campaign_id,
    Violations, WireTimestamp, MAX_BATCH,
};
use super::AppState;
use crate::accounts::AccountId;
use crate::metrics as m;
use crate::queue::store::dial_request_admit_many;
use crate::queue::{BatchOutcome, ItemOutcome, NewDialRequest, PhoneNumber};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutDialRequestBatchRequest {
    dial_requests: Option<Vec<WireDialRequest>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDialRequest {
    client_token: Option<String>,
    phone_number: Option<String>,
    expiration_time: Option<WireTimestamp>,
    attributes: Option<BTreeMap<String, String>>,
}

/// The per-item failure codes of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum FailureCode {
    InvalidInput,
    RequestThrottled,
}

impl FailureCode {
    fn as_str(self) -> &'static str {
        match self {
            FailureCode::InvalidInput => "InvalidInput",
            FailureCode::RequestThrottled => "RequestThrottled",
        }
    }
}

/// Why one item of a batch was not stored; each API version has its failure code for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The item is invalid (content, or a clientToken reused with other content).
    Invalid,
    /// The campaign's pending cap is reached.
    QueueFull,
}

/// Where each input item's answer comes from.
enum Slot {
    /// Index into the batch sent to the store.
    Stored(usize),
    /// Decided before the store.
    Failed(Refusal),
}

/// Admits a batch's items (both versions): each is a request to store or an item already
/// refused. A clientToken repeated within the batch answers like a replay: the same id if
/// the content matches, else invalid. Answers are in input order. A campaign that has ended
/// is an InvalidCampaignStateException with its state.
pub(crate) async fn admit(
    app: &AppState,
    account: &AccountId,
    campaign_id: &str,
    items: Vec<Result<NewDialRequest, Refusal>>,
) -> Result<Vec<Result<String, Refusal>>, ApiError> {
    // Items the store sees: one per distinct clientToken.
    let mut batch: Vec<NewDialRequest> = Vec::with_capacity(items.len());
    let mut by_token: HashMap<String, usize> = HashMap::new();
    let mut slots = Vec::with_capacity(items.len());
    for item in items {
        let request = match item {
            Ok(request) => request,
            Err(refusal) => {
                slots.push(Slot::Failed(refusal));
                continue;
            }
        };
        match by_token.get(&request.client_token) {
            Some(&first) if batch[first].digest() == request.digest() => {
                slots.push(Slot::Stored(first))
            }
            Some(_) => slots.push(Slot::Failed(Refusal::Invalid)),
            None => {
                by_token.insert(request.client_token.clone(), batch.len());
                slots.push(Slot::Stored(batch.len()));
                batch.push(request);
            }
        }
    }
    let outcomes = if batch.is_empty() {
        // Nothing to store, but the campaign must still exist and take requests.
        let campaign =
            crate::campaigns::store::campaign_get(&app.pool, account, campaign_id).await?;
        if !campaign.state.accepts_dial_requests() {
            return Err(ended(campaign.state));
        }
        Vec::new()
    } else {
        match dial_request_admit_many(
            &app.pool,
            account,
            campaign_id,
            &batch,
            app.config.queue.max_pending_per_campaign,
        )
        .await?
        {
            BatchOutcome::Admitted(outcomes) => outcomes,
            BatchOutcome::CampaignEnded(state) => return Err(ended(state)),
        }
    };
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        answers.push(match slot {
            Slot::Stored(index) => match outcomes.get(index) {
                Some(ItemOutcome::Accepted { id }) => Ok(id.clone()),
                Some(ItemOutcome::TokenReused) => Err(Refusal::Invalid),
                Some(ItemOutcome::Throttled) => Err(Refusal::QueueFull),
                None => {
                    return Err(ApiError::Internal(
                        "store answered fewer items than it was sent".into(),
                    ))
                }
            },
            Slot::Failed(refusal) => Err(refusal),
        });
    }
    if answers.iter().any(Result::is_ok) {
        app.wake_engine();
    }
    Ok(answers)
}

impl WireDialRequest {
    /// Whether every attribute name and value can be stored; if not, the item fails alone.
    fn attributes_storable(&self) -> bool {
        self.attributes
            .iter()
            .flatten()
            .all(|(name, value)| is_storable(name) && is_storable(value))
    }
}

/// Whether a body path lies in one item's attributes (`dialRequests.N.member.attributes…`).
fn in_item_attributes(path: &str) -> bool {
    let mut segments = path.split('.');
    segments.next() == Some("dialRequests") && segments.nth(2) == Some("attributes")
}

fn validate_item(v: &mut Violations, index: usize, item: &WireDialRequest) {
    let path = format!("dialRequests.{}.member", index + 1);
    v.required(&format!("{path}.clientToken"), &item.client_token);
    v.required(&format!("{path}.phoneNumber"), &item.phone_number);
    v.required(&format!("{path}.expirationTime"), &item.expiration_time);
    v.required(&format!("{path}.attributes"), &item.attributes);
    if let Some(token) = &item.client_token {
        v.length(&format!("{path}.clientToken"), token, 0, 200);
        v.pattern(
            &format!("{path}.clientToken"),
            token,
            "[a-zA-Z0-9_\\-.]*",
            is_token_char,
        );
    }
    if let Some(phone) = &item.phone_number {
        v.length(&format!("{path}.phoneNumber"), phone, 0, 20);
        v.pattern(&format!("{path}.phoneNumber"), phone, "[\\d\\-+]*", |c| {
            c.is_ascii_digit() || c == '-' || c == '+'
        });
    }
    // Unstorable attributes fail the item in `put_batch`; a NUL must not also read as a
    // pattern violation of the whole batch.
    if !item.attributes_storable() {
        return;
    }
    for (name, value) in item.attributes.iter().flatten() {
        v.length(&format!("{path}.attributes.key"), name, 1, 32767);
        v.pattern(
            &format!("{path}.attributes.key"),
            name,
            "[a-zA-Z0-9\\-_]+",
            is_attribute_name_char,
        );
        v.length(&format!("{path}.attributes.{name}"), value, 0, 32767);
    }
}

/// PutDialRequestBatch: `PUT /campaigns/{id}/dial-requests`.
pub async fn put_batch(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Decoding, checking and storing a batch all wait for a turn: uploads must not crowd
    // out dialing, on the cores or in the database.
    let Some(_turn) = app.ingest.enter().await else {
        return Err(busy("PutDialRequestBatch"));
    };
    let req: PutDialRequestBatchRequest = decode_except(&body, in_item_attributes)?;
    let mut v = Violations::default();
    validate_campaign_id(&mut v, "id", &id);
    v.required("dialRequests", &req.dial_requests);
    if let Some(items) = &req.dial_requests {
        v.count("dialRequests", items.len(), 1, MAX_BATCH);
    }
    let items = req.dial_requests.unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        validate_item(&mut v, i, item);
    }
    v.finish()?;

    let prepared: Vec<Result<NewDialRequest, Refusal>> = items
        .iter()
        .map(|item| {
            let (Some(token), Some(phone), Some(expiration), Some(attributes)) = (
                &item.client_token,
                &item.phone_number,
                item.expiration_time.and_then(WireTimestamp::in_range),
                &item.attributes,
            ) else {
                return Err(Refusal::Invalid);
            };
            if !item.attributes_storable() {
                return Err(Refusal::Invalid);
            }
            let phone = PhoneNumber::parse(phone).map_err(|_| Refusal::Invalid)?;
            Ok(NewDialRequest::new(
                token.clone(),
                phone,
                expiration,
                attributes.clone(),
            ))
        })
        .collect();
    let answers = admit(&app, &account, &id, prepared)
        .await
        .map_err(ApiError::in_v1)?;

    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (item, answer) in items.iter().zip(&answers) {
        let token = item.client_token.as_deref().unwrap_or_default();
        match answer {
            Ok(id) => successful.push(Successful {
                client_token: token,
                id,
            }),
            Err(refusal) => failed.push(Failed {
                client_token: token,
                failure_code: match refusal {
                    Refusal::Invalid => FailureCode::InvalidInput,
                    Refusal::QueueFull => FailureCode::RequestThrottled,
                },
            }),
        }
    }
    record_metrics(&id, successful.len(), &failed);
    // Typed rather than built as a JSON tree: this is the hot path of ingestion.
    Ok(Json(Answer {
        successful_requests: successful,
        failed_requests: failed,
    })
    .into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    successful_requests: Vec<Successful<'a>>,
    failed_requests: Vec<Failed<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Successful<'a> {
    client_token: &'a str,
    id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failed<'a> {
    client_token: &'a str,
    failure_code: FailureCode,
}

/// The refusal of a batch when the ingest gate is full.
pub(crate) fn busy(operation: &str) -> ApiError {
    ApiError::Throttling(format!(
        "Too many {operation} calls in progress; retry with backoff"
    ))
}

fn ended(state: crate::campaigns::CampaignState) -> ApiError {
    ApiError::InvalidCampaignState {
        state,
        message: format!(
            "Campaign is {} and does not accept dial requests",
            state.as_str()
        ),
    }
}

fn record_metrics(campaign_id: &str, accepted: usize, failed: &[Failed<'_>]) {
    if accepted > 0 {
        metrics::counter!(m::DIAL_REQUESTS_RECEIVED,
            m::CAMPAIGN_ID => campaign_id.to_string(), m::OUTCOME => "accepted", m::CODE => "")
        .increment(accepted as u64);
    }
    for code in [FailureCode::InvalidInput, FailureCode::RequestThrottled] {
        let n = failed.iter().filter(|f| f.failure_code == code).count();
        if n > 0 {
            metrics::counter!(m::DIAL_REQUESTS_RECEIVED,
                m::CAMPAIGN_ID => campaign_id.to_string(), m::OUTCOME => "refused", m::CODE => code.as_str())
            .increment(n as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_attribute_paths_are_item_scoped() {
        assert!(in_item_attributes("dialRequests.3.member.attributes.key"));
        assert!(in_item_attributes(
            "dialRequests.1.member.attributes.customerId"
        ));
        assert!(!in_item_attributes("dialRequests.1.member.clientToken"));
        assert!(!in_item_attributes("attributes"));
        assert!(!in_item_attributes("other.1.member.attributes"));
    }
}
