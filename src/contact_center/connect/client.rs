//! Signed HTTP calls to the Amazon Connect API (restJson1), and their errors.
//!
//! Credentials come from the standard AWS chain (`aws-config`: environment, shared profile,
//! web identity, container and instance roles) and every request is signed by the official
//! `aws-sigv4` signer with the `connect` signing name. Calls are paced under the account's
//! quota by a local rate limiter, and a throttled call (429) is retried with a capped,
//! jittered backoff inside the call, so a burst the quota absorbs never surfaces as an
//! error; one still throttled after [`THROTTLE_PATIENCE`] comes back retryable.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use governor::{DefaultDirectRateLimiter, Quota};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

use super::super::{ContactCenterError, FatalError, RetryableError};

/// The signing name of Amazon Connect.
pub const SIGNING_NAME: &str = "connect";

/// How long a throttled call keeps trying before it reports the throttling.
pub const THROTTLE_PATIENCE: Duration = Duration::from_secs(10);

/// Credentials are fetched again this long before they expire.
const CREDENTIALS_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// First pause after a 429; doubles up to [`THROTTLE_PAUSE_MAX`].
const THROTTLE_PAUSE: Duration = Duration::from_millis(100);
const THROTTLE_PAUSE_MAX: Duration = Duration::from_secs(2);

/// A signed client of one Amazon Connect endpoint.
pub struct ConnectClient {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    /// The last credentials the chain gave, until they near their expiry: the chain's
    /// providers (instance metadata, STS) are network calls, and nothing else caches them.
    cached: Mutex<Option<Credentials>>,
}

/// A call to make: method, path (already percent-encoded) and JSON body, if any.
pub struct Call<'a, B: Serialize> {
    /// HTTP method.
    pub method: &'static str,
    /// Path with its labels filled in and encoded.
    pub path: String,
    /// The body; `None` sends no body (GET).
    pub body: Option<&'a B>,
    /// The limiter of the operation's quota.
    pub limiter: &'a DefaultDirectRateLimiter,
}

impl ConnectClient {
    /// A client of `endpoint` (`https://connect.us-east-1.amazonaws.com`, or an emulator's
    /// `http://…`) in `region`, timing out each attempt after `timeout`.
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: SharedCredentialsProvider,
        timeout: Duration,
    ) -> Result<Self, FatalError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| FatalError::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            credentials,
            cached: Mutex::new(None),
        })
    }

    /// Makes `call` and parses a 2xx answer as `R`.
    pub async fn send<B: Serialize, R: DeserializeOwned>(
        &self,
        call: Call<'_, B>,
    ) -> Result<R, ContactCenterError> {
        let body = match call.body {
            Some(body) => serde_json::to_vec(body).map_err(|e| {
                ContactCenterError::Fatal(FatalError::InvalidRequest(e.to_string()))
            })?,
            None => Vec::new(),
        };
        let started = tokio::time::Instant::now();
        let mut pause = THROTTLE_PAUSE;
        loop {
            call.limiter.until_ready().await;
            match self.attempt(call.method, &call.path, &body).await {
                Err(ContactCenterError::Retryable(RetryableError::Throttled))
                    if started.elapsed() + pause < THROTTLE_PATIENCE =>
                {
                    let jitter = pause.mul_f64(rand::random::<f64>() * 0.5);
                    tokio::time::sleep(pause + jitter).await;
                    pause = (pause * 2).min(THROTTLE_PAUSE_MAX);
                }
                Err(error) => return Err(error),
                Ok(bytes) => {
                    let bytes = if bytes.is_empty() {
                        b"{}".to_vec()
                    } else {
                        bytes
                    };
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        ContactCenterError::Retryable(RetryableError::Server(format!(
                            "{} {}: answer does not parse: {e}",
                            call.method,
                            operation_path(&call.path)
                        )))
                    });
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: &'static str,
        path: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, ContactCenterError> {
        let url = format!("{}{path}", self.endpoint);
        let credentials = self.credentials().await?;
        let host = host_of(&self.endpoint);
        let mut headers: Vec<(String, String)> = vec![("host".to_string(), host.to_string())];
        if !body.is_empty() {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| ContactCenterError::Fatal(FatalError::AccessDenied(e.to_string())))?
            .into();
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| ContactCenterError::Fatal(FatalError::InvalidRequest(e.to_string())))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| ContactCenterError::Fatal(FatalError::AccessDenied(e.to_string())))?
            .into_parts();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| ContactCenterError::Fatal(FatalError::InvalidRequest(e.to_string())))?;
        let mut request = self.http.request(method, &url);
        for (name, value) in headers.iter().filter(|(name, _)| name != "host") {
            request = request.header(name, value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.body(body.to_vec()).send().await.map_err(|e| {
            let what = if e.is_timeout() {
                RetryableError::Timeout
            } else {
                RetryableError::Server(format!("{}: {}", operation_path(path), root_cause(&e)))
            };
            ContactCenterError::Retryable(what)
        })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        let bytes = response.bytes().await.map_err(|e| {
            ContactCenterError::Retryable(if e.is_timeout() {
                RetryableError::Timeout
            } else {
                RetryableError::Server(root_cause(&e))
            })
        })?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        Err(error_of(status, error_type.as_deref(), &bytes))
    }

    async fn credentials(&self) -> Result<Credentials, ContactCenterError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| match c.expiry() {
            None => true,
            Some(expiry) => expiry
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > CREDENTIALS_REFRESH_MARGIN),
        });
        if !fresh {
            let credentials = self.credentials.provide_credentials().await.map_err(|e| {
                // A chain that finds nothing is a setup problem; one whose source failed
                // (metadata service slow, STS down) may answer next time.
                let message = format!("AWS credentials: {}", root_cause(&e));
                match e {
                    aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_) => {
                        ContactCenterError::Fatal(FatalError::AccessDenied(message))
                    }
                    _ => ContactCenterError::Retryable(RetryableError::Server(message)),
                }
            })?;
            *cached = Some(credentials);
        }
        cached.clone().ok_or_else(|| {
            ContactCenterError::Fatal(FatalError::AccessDenied("no AWS credentials".into()))
        })
    }
}

/// A path label (instance id, contact id) percent-encoded as the URI needs it.
pub fn label(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, LABEL).to_string()
}

/// Everything but RFC 3986's unreserved characters is encoded in a label.
const LABEL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A rate limiter allowing `per_second` calls, in bursts of up to `burst`.
pub fn limiter(per_second: f64, burst: u32) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN))
        .allow_burst(std::num::NonZeroU32::new(burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN));
    Arc::new(DefaultDirectRateLimiter::direct(quota))
}

/// The error a non-2xx answer means: by `x-amzn-ErrorType` first (Connect names its
/// exceptions), by status otherwise. The message is Connect's, which names no personal data.
pub fn error_of(status: u16, error_type: Option<&str>, body: &[u8]) -> ContactCenterError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("Message")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let described = |name: &str| {
        if message.is_empty() {
            name.to_string()
        } else {
            format!("{name}: {message}")
        }
    };
    use ContactCenterError::{Fatal, Retryable};
    match (error_type, status) {
        (
            Some("ThrottlingException" | "LimitExceededException" | "TooManyRequestsException"),
            _,
        )
        | (_, 429) => Retryable(RetryableError::Throttled),
        // StartOutboundChatContact models no IdempotencyException: a token reused with other
        // content is its ConflictException.
        (Some("IdempotencyException" | "ConflictException"), _) | (None, 409) => {
            Fatal(FatalError::Idempotency(described("IdempotencyException")))
        }
        (Some("AccessDeniedException" | "UnrecognizedClientException"), _) | (None, 401 | 403) => {
            Fatal(FatalError::AccessDenied(described(
                error_type.unwrap_or("AccessDenied"),
            )))
        }
        (Some("ResourceNotFoundException" | "ContactNotFoundException"), _) | (None, 404) => {
            Fatal(FatalError::ResourceNotFound(described(
                error_type.unwrap_or("ResourceNotFoundException"),
            )))
        }
        (_, 500..) => Retryable(RetryableError::Server(described(
            error_type.unwrap_or("InternalServiceException"),
        ))),
        (Some(name), _) => Fatal(FatalError::InvalidRequest(described(name))),
        (None, status) => Fatal(FatalError::InvalidRequest(described(&format!(
            "HTTP {status}"
        )))),
    }
}

/// The operation part of a path, for messages: ids are cut off, as a contact id in a log
/// line says nothing to an operator and a path may grow long.
fn operation_path(path: &str) -> &str {
    path.split('/').nth(1).unwrap_or(path)
}

fn host_of(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// The innermost cause of an error: transport errors wrap it in layers that say little.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, error_type: Option<&str>) -> String {
        format!(
            "{:?}",
            error_of(status, error_type, br#"{"Message":"why"}"#)
        )
    }

    #[test]
    fn throttling_and_server_faults_are_retryable() {
        for (status, name) in [
            (429, Some("ThrottlingException")),
            (429, Some("LimitExceededException")),
            (429, None),
            (500, Some("InternalServiceException")),
            (503, None),
        ] {
            assert!(
                error_of(status, name, b"").is_retryable(),
                "{status} {name:?}"
            );
        }
    }

    #[test]
    fn client_errors_are_fatal_and_keep_the_message() {
        assert!(kind(400, Some("InvalidRequestException")).contains("InvalidRequest"));
        assert!(kind(400, Some("InvalidRequestException")).contains("why"));
        assert!(kind(404, Some("ResourceNotFoundException")).contains("ResourceNotFound"));
        assert!(kind(403, None).contains("AccessDenied"));
        assert!(kind(409, Some("IdempotencyException")).contains("Idempotency"));
        assert!(!error_of(400, None, b"not json").is_retryable());
    }

    #[test]
    fn hosts_come_without_scheme_or_path() {
        assert_eq!(
            host_of("https://connect.us-east-1.amazonaws.com"),
            "connect.us-east-1.amazonaws.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8081/"), "127.0.0.1:8081");
        assert_eq!(operation_path("/contacts/inst/c-1"), "contacts");
        assert_eq!(label("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(label("a/b c"), "a%2Fb%20c");
    }
}
