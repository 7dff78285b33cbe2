//! `POST /events/amazon-connect`: Amazon Connect contact events, as an EventBridge API
//! destination delivers them (one event per request, an API-key header for auth).
//!
//! An event is acknowledged (2xx) only once it is stored, so EventBridge retries the rest;
//! a redelivered event is acknowledged again and stored once. Events that are not contact
//! events (a rule may route more to the same target) are acknowledged and dropped. The
//! engine takes stored events from the database ([`crate::contact_center::connect::inbox`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::contact_center::connect::inbox::{self, StoredEvent};
use crate::contact_center::connect::wire::{ContactEventEnvelope, DETAIL_TYPE, EVENT_SOURCE};
use crate::metrics as m;

/// What became of a delivered event (the `result` label of the received-events counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    Stored,
    Duplicate,
    Ignored,
    Rejected,
}

impl Received {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Rejected => "rejected",
        }
    }
}

/// Receives one event.
pub async fn amazon_connect(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = &app.config.contact_center.amazon_connect;
    if config.events_key.is_empty() {
        return answer(
            Received::Rejected,
            StatusCode::NOT_FOUND,
            "Amazon Connect events are not accepted here: set DIALER_CONNECT_EVENTS_KEY (contact_center.amazon_connect.events_key)",
        );
    }
    let given = headers
        .get(config.events_header.as_str())
        .map(|value| value.as_bytes())
        .unwrap_or_default();
    // Comparing digests keeps the comparison's time independent of where the keys differ.
    if Sha256::digest(given) != Sha256::digest(config.events_key.as_bytes()) {
        return answer(
            Received::Rejected,
            StatusCode::UNAUTHORIZED,
            &format!(
                "missing or wrong API key in the {} header",
                config.events_header
            ),
        );
    }
    let event = match parse(&body) {
        Ok(Some(event)) => event,
        Ok(None) => return answer(Received::Ignored, StatusCode::OK, "not a contact event"),
        Err(problem) => return answer(Received::Rejected, StatusCode::BAD_REQUEST, &problem),
    };
    match inbox::store(&app.pool, &event).await {
        Ok(true) => {
            app.connect_event_stored.notify_one();
            answer(Received::Stored, StatusCode::OK, "stored")
        }
        Ok(false) => answer(Received::Duplicate, StatusCode::OK, "already stored"),
        Err(error) => {
            tracing::warn!(%error, "could not store an Amazon Connect event; EventBridge will retry it");
            // 5xx: EventBridge retries it.
            answer(
                Received::Rejected,
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; retry",
            )
        }
    }
}

/// The event to store, `None` for an event that is not a contact event, or what is wrong.
fn parse(body: &[u8]) -> Result<Option<StoredEvent>, String> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let is_contact_event = raw.get("source").and_then(Value::as_str) == Some(EVENT_SOURCE)
        && raw.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE);
    if !is_contact_event {
        return Ok(None);
    }
    let envelope: ContactEventEnvelope = serde_path_to_error::deserialize(&raw).map_err(|e| {
        format!(
            "not an Amazon Connect contact event: {}: {}",
            e.path(),
            e.inner()
        )
    })?;
    if envelope.id.is_empty() || envelope.detail.contact_id.is_empty() {
        return Err(
            "an Amazon Connect contact event needs its id and detail.contactId".to_string(),
        );
    }
    Ok(Some(StoredEvent {
        event_id: envelope.id,
        campaign_id: envelope.detail.campaign.and_then(|c| c.campaign_id),
        contact_id: envelope.detail.contact_id,
        event_time: envelope.time,
        body: raw,
    }))
}

fn answer(received: Received, status: StatusCode, message: &str) -> Response {
    metrics::counter!(m::CONNECT_EVENTS_RECEIVED, m::RESULT => received.as_str()).increment(1);
    (status, Json(json!({ "message": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(detail_type: &str) -> Value {
        json!({
            "version": "0",
            "id": "e-1",
            "detail-type": detail_type,
            "source": "aws.connect",
            "account": "111122223333",
            "time": "2026-12-05T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "eventType": "QUEUED",
                "contactId": "c-1",
                "campaign": {"campaignId": "camp-1"},
                "someFieldOfTomorrow": {"x": 1}
            }
        })
    }

    #[test]
    fn a_contact_event_is_stored_by_its_routing_keys() {
        let raw = event(DETAIL_TYPE);
        let stored = parse(raw.to_string().as_bytes()).unwrap().unwrap();
        assert_eq!(stored.event_id, "e-1");
        assert_eq!(stored.contact_id, "c-1");
        assert_eq!(stored.campaign_id.as_deref(), Some("camp-1"));
        assert_eq!(stored.body, raw);
    }

    #[test]
    fn other_events_are_ignored_and_broken_ones_rejected() {
        let other = event("Contact Lens Analysis State Change");
        assert_eq!(parse(other.to_string().as_bytes()), Ok(None));
        assert!(parse(b"{not json").is_err());
        let mut no_contact = event(DETAIL_TYPE);
        no_contact["detail"]
            .as_object_mut()
            .unwrap()
            .remove("contactId");
        let problem = parse(no_contact.to_string().as_bytes()).unwrap_err();
        assert!(problem.contains("contactId"), "{problem}");
    }
}
