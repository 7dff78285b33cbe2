//! A small SigV4-signing client of this API, used by `dialer demo`, the benchmarks and the
//! operator commands (`dialer campaigns`, `progress`, `request`); scripts use boto3 or the
//! AWS CLI instead.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::api::sigv4::{self, SigningParams};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request could not be sent or its answer read.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The request could not be signed.
    #[error("signing: {0}")]
    Sign(#[from] sigv4::SigV4Error),
    /// The API answered with an error.
    #[error("{path} answered {status}: {body}")]
    Api {
        /// Request path.
        path: String,
        /// HTTP status.
        status: u16,
        /// The exception named in `x-amzn-ErrorType`, if the answer has one.
        error_type: Option<String>,
        /// Error body.
        body: Value,
    },
}

/// A signed client of one endpoint.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    endpoint: String,
    region: String,
    key_id: String,
    secret: String,
    /// Bound on each call, if any: the demo and benchmarks talk to a daemon they started,
    /// an operator's command to one that may hang.
    timeout: Option<Duration>,
}

impl ApiClient {
    /// A client of `endpoint` (`http://host:port`) signing with this key.
    pub fn new(endpoint: &str, region: &str, key_id: &str, secret: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            key_id: key_id.to_string(),
            secret: secret.to_string(),
            timeout: None,
        }
    }

    /// The same client, giving up on a call (connecting included) after `timeout`.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }

    /// The endpoint called, as given (without a trailing `/`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends a signed request with a JSON body (or none) and returns the JSON answer of a
    /// 2xx response.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let body = body
            .map(|value| value.to_string().into_bytes())
            .unwrap_or_default();
        self.call_bytes(method, path, body).await
    }

    /// Like [`ApiClient::call`] with an already serialized body.
    pub async fn call_bytes(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Value, ClientError> {
        let host = self.endpoint.trim_start_matches("http://").to_string();
        let mut headers = vec![
            ("host".to_string(), host),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let params = SigningParams {
            access_key_id: &self.key_id,
            secret_access_key: &self.secret,
            region: &self.region,
            service: crate::api::SIGNING_NAME,
            now: Utc::now(),
        };
        let (raw_path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        sigv4::sign(method, raw_path, query, &mut headers, &body, &params)?;
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.endpoint));
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            request = request.header(name, value);
        }
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        let response = request.body(body).send().await?;
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let json: Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            return Err(ClientError::Api {
                path: path.to_string(),
                status: status.as_u16(),
                error_type,
                body: json,
            });
        }
        Ok(json)
    }
}
