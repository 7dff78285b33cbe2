//! The do-not-call API (an extension of the AWS API, signed the same way): add, remove and
//! check numbers on the caller's account-wide list or, with `campaignId`, on one of its
//! campaigns' suppression lists. Numbers are hashed before they reach the store
//! ([`crate::rules::number_hash`]); answers never echo them.
//!
//! - `PUT /do-not-call` (AddDoNotCallNumbers) → `{"added", "alreadyListed"}`
//! - `POST /do-not-call/remove` (RemoveDoNotCallNumbers) → `{"removed", "notListed"}`
//! - `POST /do-not-call/check` (CheckDoNotCallNumbers) → `{"results": [{"listed",
//!   "accountList", "campaignList"}]}` in input order.
//!
//! Every call takes `{"phoneNumbers": [...], "campaignId"?}`, 1 to [`MAX_NUMBERS`] numbers in
//! E.164 (spaces, dashes, dots, parentheses and a `00` prefix are dropped first).

use axum::body::Bytes;
use axum::extract::State;
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::wire::{decode, validate_campaign_id, Violations};
use super::AppState;
use crate::accounts::AccountId;
use crate::queue::PhoneNumber;
use crate::rules::dnc::DncList;
use crate::rules::number_hash::NumberHash;
use crate::rules::store::{dnc_add_many, dnc_check_many, dnc_remove_many, number_hasher};

/// Most numbers per call; `dialer dnc import` is the way to load large lists.
pub const MAX_NUMBERS: usize = 1000;

/// Longest accepted written number: E.164's 15 digits with room for separators.
const MAX_NUMBER_CHARS: usize = 32;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DncRequest {
    phone_numbers: Option<Vec<String>>,
    campaign_id: Option<String>,
}

/// The list and the numbers' hashes of a valid request.
async fn read(app: &AppState, body: &[u8]) -> Result<(DncList, Vec<NumberHash>), ApiError> {
    let req: DncRequest = decode(body)?;
    let mut v = Violations::default();
    if let Some(id) = &req.campaign_id {
        validate_campaign_id(&mut v, "campaignId", id);
    }
    v.required("phoneNumbers", &req.phone_numbers);
    let written = req.phone_numbers.unwrap_or_default();
    v.count("phoneNumbers", written.len(), 1, MAX_NUMBERS);
    let mut numbers = Vec::with_capacity(written.len());
    for (i, number) in written.iter().enumerate() {
        let path = format!("phoneNumbers.{}.member", i + 1);
        v.length(&path, number, 1, MAX_NUMBER_CHARS);
        match PhoneNumber::parse_written(number) {
            Ok(number) => numbers.push(number),
            Err(error) => v.other(&path, &format!("Member must be an E.164 number: {error}")),
        }
    }
    v.finish()?;
    let hasher = number_hasher(&app.pool).await?;
    let hashes = numbers.iter().map(|n| hasher.hash(n)).collect();
    Ok((DncList::of(req.campaign_id), hashes))
}

/// AddDoNotCallNumbers: `PUT /do-not-call`.
pub async fn add(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (list, hashes) = read(&app, &body).await?;
    let added = dnc_add_many(&app.pool, &account, &list, &hashes).await?;
    Ok(Json(
        json!({ "added": added, "alreadyListed": hashes.len() as u64 - added }),
    ))
}

/// RemoveDoNotCallNumbers: `POST /do-not-call/remove`.
pub async fn remove(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (list, hashes) = read(&app, &body).await?;
    let removed = dnc_remove_many(&app.pool, &account, &list, &hashes).await?;
    Ok(Json(
        json!({ "removed": removed, "notListed": hashes.len() as u64 - removed }),
    ))
}

/// CheckDoNotCallNumbers: `POST /do-not-call/check`.
pub async fn check(
    State(app): State<AppState>,
    Extension(account): Extension<AccountId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (list, hashes) = read(&app, &body).await?;
    let listed = dnc_check_many(&app.pool, &account, &list, &hashes).await?;
    let results: Vec<Value> = listed
        .into_iter()
        .map(|l| json!({ "listed": l.any(), "accountList": l.account, "campaignList": l.campaign }))
        .collect();
    Ok(Json(json!({ "results": results })))
}
