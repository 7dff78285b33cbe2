//! Test harness shared by the integration test binaries: a daemon on a fresh database (from
//! `#[sqlx::test]`), served on a free port, and a SigV4-signing client that can talk to it or
//! to any other daemon (e.g. a real `dialer serve` process).

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use chrono::Utc;
use dialer::api::sigv4::{self, SigningParams};
use dialer::config::{Config, Rate};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const KEY_ID: &str = "AKIDTEST";
pub const SECRET: &str = "test-secret";
/// The region of the test daemons (`aws.region`'s default), which requests are signed for.
pub const REGION: &str = "us-east-1";

/// A signing client for one daemon's endpoint, signing with one access key.
#[derive(Clone)]
pub struct Client {
    pub endpoint: String,
    pub http: reqwest::Client,
    pub key_id: String,
    pub secret: String,
}

/// A daemon running in-process on the test's database.
pub struct TestApp {
    pub client: Client,
    pub pool: PgPool,
    cancel: CancellationToken,
    server: Option<tokio::task::JoinHandle<Result<(), dialer::app::AppError>>>,
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// A response: status, `x-amzn-ErrorType`, JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub error_type: Option<String>,
    pub request_id: Option<String>,
    pub body: Value,
}

impl Answer {
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        &self.body
    }

    #[track_caller]
    pub fn error(&self, status: u16, error_type: &str) -> &str {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.error_type.as_deref(),
            Some(error_type),
            "body: {}",
            self.body
        );
        self.body["message"]
            .as_str()
            .expect("error body has a message")
    }
}

pub fn test_config() -> Config {
    let mut config = Config::default();
    config.auth.access_keys = vec![format!("{KEY_ID}:{SECRET}")];
    config.server.listen = "127.0.0.1:0".into();
    config.throttling.default = Rate {
        per_second: 10_000.0,
        burst: 10_000,
    };
    config
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> TestApp {
        TestApp::spawn_with(pool, test_config()).await
    }

    pub async fn spawn_with(pool: PgPool, config: Config) -> TestApp {
        TestApp::spawn_with_hooks(pool, config, dialer::app::Hooks::default()).await
    }

    /// A daemon with hooks, e.g. a contact center of the test's own.
    pub async fn spawn_with_hooks(
        pool: PgPool,
        config: Config,
        hooks: dialer::app::Hooks,
    ) -> TestApp {
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let cancel = CancellationToken::new();
        let server = tokio::spawn(dialer::app::run_with(
            Arc::new(config),
            pool.clone(),
            listener,
            cancel.clone(),
            hooks,
        ));
        TestApp {
            client: Client::new(endpoint),
            pool,
            cancel,
            server: Some(server),
        }
    }

    /// Stops the daemon gracefully and returns how the server ended.
    pub async fn shutdown(mut self) -> Result<(), dialer::app::AppError> {
        self.cancel.cancel();
        self.server.take().unwrap().await.unwrap()
    }
}

impl Drop for TestApp {
    // A test that fails midway must not leave a daemon dialing on a database being dropped.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Client {
    pub fn new(endpoint: String) -> Client {
        Client {
            endpoint,
            http: reqwest::Client::new(),
            key_id: KEY_ID.to_string(),
            secret: SECRET.to_string(),
        }
    }

    /// A client of the same endpoint that signs with another key.
    pub fn with_key(&self, key_id: &str, secret: &str) -> Client {
        Client {
            key_id: key_id.to_string(),
            secret: secret.to_string(),
            ..self.clone()
        }
    }

    /// The daemon's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.endpoint))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The sum of a metric's series whose line starts with `series` (name and labels).
    pub async fn metric_sum(&self, series: &str) -> f64 {
        self.metrics_text()
            .await
            .lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub async fn call(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Answer {
        let body = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        self.call_raw(method, path_and_query, body, &self.secret)
            .await
    }

    pub async fn call_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
        secret: &str,
    ) -> Answer {
        self.call_scoped(method, path_and_query, body, secret, REGION)
            .await
    }

    /// A request signed for `region` (the daemon serves [`REGION`]).
    pub async fn call_scoped(
        &self,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
        secret: &str,
        region: &str,
    ) -> Answer {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut headers = vec![
            (
                "host".to_string(),
                self.endpoint.trim_start_matches("http://").to_string(),
            ),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let params = SigningParams {
            access_key_id: &self.key_id,
            secret_access_key: secret,
            region,
            service: "connect-campaigns",
            now: Utc::now(),
        };
        sigv4::sign(method, path, query, &mut headers, &body, &params).unwrap();
        let mut request = self.http.request(
            method.parse().unwrap(),
            format!("{}{path_and_query}", self.endpoint),
        );
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            request = request.header(name, value);
        }
        answer(request.body(body).send().await.unwrap()).await
    }

    pub async fn create_campaign(&self, dialer_config: Value) -> String {
        self.create_campaign_with(
            dialer_config,
            json!({"connectContactFlowId": "flow-1", "connectQueueId": "queue-1"}),
        )
        .await
    }

    pub async fn create_campaign_with(
        &self,
        dialer_config: Value,
        outbound_call_config: Value,
    ) -> String {
        let answer = self
            .call(
                "PUT",
                "/campaigns",
                Some(json!({
                    "name": "test campaign",
                    "connectInstanceId": "instance-1",
                    "dialerConfig": dialer_config,
                    "outboundCallConfig": outbound_call_config,
                })),
            )
            .await;
        answer.ok()["id"].as_str().unwrap().to_string()
    }

    pub async fn progressive_campaign(&self) -> String {
        self.create_campaign(json!({"progressiveDialerConfig": {"bandwidthAllocation": 1.0}}))
            .await
    }

    /// The status API's answer for dial request `id` of `campaign`.
    pub async fn dial_request_status(&self, campaign: &str, id: impl std::fmt::Display) -> Answer {
        self.call(
            "GET",
            &format!("/campaigns/{campaign}/dial-requests/{id}"),
            None,
        )
        .await
    }

    pub async fn put_dial_requests(&self, campaign: &str, requests: Value) -> Answer {
        self.call(
            "PUT",
            &format!("/campaigns/{campaign}/dial-requests"),
            Some(json!({ "dialRequests": requests })),
        )
        .await
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let error_type = header("x-amzn-errortype");
    let request_id = header("x-amzn-requestid");
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        error_type,
        request_id,
        body,
    }
}

/// `text` as one path segment (an ARN in `/tags/{arn}`).
pub fn url_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One expiration time for the whole test run, so that equal requests are equal.
static EXPIRATION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| (Utc::now() + chrono::Duration::hours(1)).to_rfc3339());

/// A dial request expiring in an hour.
pub fn dial_request(token: &str, phone: &str) -> Value {
    json!({
        "clientToken": token,
        "phoneNumber": phone,
        "expirationTime": *EXPIRATION,
        "attributes": {"customerId": token},
    })
}

/// The event kinds of a status answer's timeline, in the order given.
pub fn timeline_events(status: &Value) -> Vec<&str> {
    status["timeline"]
        .as_array()
        .map(|t| t.iter().filter_map(|e| e["event"].as_str()).collect())
        .unwrap_or_default()
}

/// The timeline of a call an agent took, in lifecycle order.
pub const CONNECTED_TIMELINE: [&str; 6] = [
    "initiated",
    "person_answered",
    "queued",
    "connected_to_agent",
    "disconnected",
    "completed",
];

/// `DATABASE_URL` with its database replaced by `name`.
pub fn database_url(name: &str) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for sqlx::test");
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let (without_query, query) = match base.find('?') {
        Some(i) => (&base[..i], &base[i..]),
        None => (base.as_str(), ""),
    };
    let authority_end = without_query[scheme_end..]
        .find('/')
        .map_or(without_query.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &without_query[..authority_end])
}
