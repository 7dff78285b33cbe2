//! Delivery of contact events to webhooks, as an EventBridge API destination would: an HTTP
//! POST of the event JSON with an API-key header, retried until a 2xx or until the event is
//! older than the maximum age (EventBridge keeps trying for 24 hours by default).
//!
//! Switchable faults stand for what EventBridge does to consumers anyway: an event may be
//! delivered twice (same `id`), late (after events that followed it), or not at all.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::contact_center::connect::wire::ContactEventEnvelope;

/// First pause after a failed delivery; doubles up to [`RETRY_PAUSE_MAX`].
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Longest pause between delivery attempts.
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(30);
/// One attempt may take this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What can go wrong on the way, on purpose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFaults {
    /// Share of events sent twice, with the same id.
    pub duplicate_rate: f64,
    /// Share of events held back by `reorder_delay`, so later events overtake them.
    pub reorder_rate: f64,
    /// How long a reordered event is held back.
    pub reorder_delay: Duration,
    /// Share of events never sent.
    pub drop_rate: f64,
}

/// Posts events to every webhook.
pub struct Webhooks {
    client: reqwest::Client,
    urls: Vec<String>,
    headers: Vec<(String, String)>,
    faults: DeliveryFaults,
    max_age: Duration,
    rng: Mutex<StdRng>,
    cancel: CancellationToken,
}

impl Webhooks {
    /// Webhooks at `urls`, each request carrying `headers`.
    pub fn new(
        urls: Vec<String>,
        headers: Vec<(String, String)>,
        faults: DeliveryFaults,
        max_age: Duration,
        seed: u64,
        cancel: CancellationToken,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()?;
        Ok(Self {
            client,
            urls,
            headers,
            faults,
            max_age,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            cancel,
        })
    }

    /// Sends `event` to every webhook in the background, faults applied per webhook.
    pub fn send(self: &Arc<Self>, event: &ContactEventEnvelope) {
        let body = match serde_json::to_vec(event) {
            Ok(body) => Arc::new(body),
            Err(error) => {
                tracing::error!(%error, "contact event not serializable; not sent");
                return;
            }
        };
        let born = Instant::now();
        for url in &self.urls {
            let (drop, duplicate, delay) = {
                let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
                let drop = rng.random_bool(self.faults.drop_rate.clamp(0.0, 1.0));
                let duplicate = rng.random_bool(self.faults.duplicate_rate.clamp(0.0, 1.0));
                let reorder = rng.random_bool(self.faults.reorder_rate.clamp(0.0, 1.0));
                (
                    drop,
                    duplicate,
                    reorder.then_some(self.faults.reorder_delay),
                )
            };
            if drop {
                tracing::debug!(event_id = %event.id, "contact event dropped (--drop-rate)");
                continue;
            }
            let copies = if duplicate { 2 } else { 1 };
            for _ in 0..copies {
                let this = Arc::clone(self);
                let url = url.clone();
                let body = Arc::clone(&body);
                let id = event.id.clone();
                tokio::spawn(async move { this.deliver(url, body, id, born, delay).await });
            }
        }
    }

    async fn deliver(
        self: Arc<Self>,
        url: String,
        body: Arc<Vec<u8>>,
        id: String,
        born: Instant,
        delay: Option<Duration>,
    ) {
        if let Some(delay) = delay {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.cancel.cancelled() => return,
            }
        }
        let mut pause = RETRY_PAUSE;
        loop {
            let mut request = self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.as_ref().clone());
            for (name, value) in &self.headers {
                request = request.header(name, value);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => {
                    tracing::debug!(event_id = %id, status = %response.status(), "webhook refused a contact event; retrying")
                }
                Err(error) => {
                    tracing::debug!(event_id = %id, %error, "webhook unreachable; retrying")
                }
            }
            if born.elapsed() + pause > self.max_age {
                tracing::warn!(event_id = %id, "contact event older than the maximum age; given up");
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.cancel.cancelled() => return,
            }
            pause = (pause * 2).min(RETRY_PAUSE_MAX);
        }
    }
}

/// Parses `--webhook-header 'name: value'`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| "a header is NAME: VALUE".to_string())?;
    let name = name.trim();
    let value = value.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        return Err("the header name is not a valid HTTP token".to_string());
    }
    if value.bytes().any(|b| b.is_ascii_control()) {
        return Err("the header value holds control characters".to_string());
    }
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_as_name_colon_value() {
        assert_eq!(
            parse_header("x-dialer-events-key: s3cret:x"),
            Ok(("x-dialer-events-key".into(), "s3cret:x".into()))
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
        assert!(parse_header("k: a\nb").is_err());
    }
}
