//! The HTTP edge: the connectcampaigns 2021-01-30 restJson1 API, plus `/metrics`,
//! `/healthz` and `/readyz`.
//!
//! Every API route passes through [`edge`], which in order: bounds and buffers the body
//! (within `server.body_read_timeout_secs`), verifies the SigV4 signature (the whole body is
//! part of it) and its scope (this endpoint's region and service), applies the per-operation
//! rate limit of the caller, checks that path labels and query decode to storable text, puts
//! the caller's [`AccountId`] (that of the signing key, or the default account when auth is
//! off) in the request's extensions, then runs the handler; it stamps `x-amzn-RequestId` and
//! records the request's metrics. Handlers pass the account to every store call, so a caller
//! sees only its own account's resources. Handlers stay thin: decode and validate ([`wire`]),
//! call a store, shape the answer. Domain errors become AWS errors in one place ([`error`]).

pub mod campaigns;
pub mod dial_requests;
pub mod dnc;
pub mod error;
pub mod events;
pub mod instances;
pub mod retries;
pub mod sigv4;
pub mod status;
pub mod throttle;
pub mod v2;
pub mod wire;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::accounts::{AccountId, KeyStore};
use crate::campaigns::ArnScheme;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics as m;
use error::ApiError;
use throttle::Throttle;

/// Every operation of the API, by its model name.
pub const OPERATIONS: &[&str] = &[
    "CreateCampaign",
    "DeleteCampaign",
    "DeleteConnectInstanceConfig",
    "DeleteInstanceOnboardingJob",
    "DescribeCampaign",
    "GetCampaignState",
    "GetCampaignStateBatch",
    "GetConnectInstanceConfig",
    "GetInstanceOnboardingJobStatus",
    "ListCampaigns",
    "ListTagsForResource",
    "PauseCampaign",
    "PutDialRequestBatch",
    "ResumeCampaign",
    "StartCampaign",
    "StartInstanceOnboardingJob",
    "StopCampaign",
    "TagResource",
    "UntagResource",
    "UpdateCampaignDialerConfig",
    "UpdateCampaignName",
    "UpdateCampaignOutboundCallConfig",
    // Extensions of this engine, signed like the rest.
    "DescribeDialRequest",
    "GetCampaignProgress",
    "AddDoNotCallNumbers",
    "RemoveDoNotCallNumbers",
    "CheckDoNotCallNumbers",
];

/// Every operation of both API versions: v1's and those only v2 has.
pub fn all_operations() -> impl Iterator<Item = &'static str> {
    OPERATIONS.iter().chain(v2::OPERATIONS).copied()
}

/// The SigV4 signing name of the service (`signingName` in the model).
pub const SIGNING_NAME: &str = "connect-campaigns";

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// The configuration at start; the reloadable parts are read from `throttle` and
    /// `pacing`.
    pub config: Arc<Config>,
    /// Campaign ARN format.
    pub arns: ArnScheme,
    /// Access keys by id (secret and account), and the default account.
    pub keys: Arc<KeyStore>,
    /// Rate limiters (swapped by a config reload).
    pub throttle: Arc<std::sync::RwLock<Arc<Throttle>>>,
    /// Pacing settings (swapped by a config reload): the progress answer reports the target
    /// and window pacing works to now.
    pub pacing: Arc<std::sync::RwLock<Arc<crate::pacing::PacingConfig>>>,
    /// Source of "now" (signature freshness).
    pub clock: Arc<dyn Clock>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Wakes this process's scheduler when new work or a state change arrives, so it need not
    /// wait for its next tick.
    pub engine_wake: Arc<Notify>,
    /// Wakes this process's Amazon Connect event feed when an event is stored here, so it
    /// need not wait for its next inbox poll.
    pub connect_event_stored: Arc<Notify>,
    /// Which background services run; `/readyz` is unready while one is down.
    pub health: Arc<crate::supervisor::Health>,
    /// Bounds the PutDialRequestBatch calls worked on at once.
    pub ingest: Arc<throttle::IngestGate>,
    /// Marked by this daemon's engine while it dials; the ingest gate reads it.
    pub dialing: Arc<crate::engine::activity::DialingActivity>,
}

impl AppState {
    /// Tells the local scheduler to re-plan now.
    pub fn wake_engine(&self) {
        self.engine_wake.notify_one();
    }
}

/// State of the edge middleware of one route: the app and the operation's name.
#[derive(Clone)]
struct Edge {
    app: AppState,
    operation: &'static str,
}

/// Builds the router.
pub fn router(app: AppState) -> Router {
    let op = |operation: &'static str, route: MethodRouter<AppState>| {
        route.layer(middleware::from_fn_with_state(
            Edge {
                app: app.clone(),
                operation,
            },
            edge,
        ))
    };
    let router = Router::new()
        .route("/campaigns", op("CreateCampaign", put(campaigns::create)))
        .route(
            "/campaigns/{id}",
            op("DescribeCampaign", get(campaigns::describe))
                .merge(op("DeleteCampaign", delete(campaigns::delete))),
        )
        .route(
            "/campaigns-summary",
            op("ListCampaigns", post(campaigns::list)),
        )
        .route(
            "/campaigns-state",
            op("GetCampaignStateBatch", post(campaigns::state_batch)),
        )
        .route(
            "/campaigns/{id}/state",
            op("GetCampaignState", get(campaigns::state)),
        )
        .route(
            "/campaigns/{id}/start",
            op("StartCampaign", post(campaigns::start)),
        )
        .route(
            "/campaigns/{id}/pause",
            op("PauseCampaign", post(campaigns::pause)),
        )
        .route(
            "/campaigns/{id}/resume",
            op("ResumeCampaign", post(campaigns::resume)),
        )
        .route(
            "/campaigns/{id}/stop",
            op("StopCampaign", post(campaigns::stop)),
        )
        .route(
            "/campaigns/{id}/dialer-config",
            op(
                "UpdateCampaignDialerConfig",
                post(campaigns::update_dialer_config),
            ),
        )
        .route(
            "/campaigns/{id}/name",
            op("UpdateCampaignName", post(campaigns::update_name)),
        )
        .route(
            "/campaigns/{id}/outbound-call-config",
            op(
                "UpdateCampaignOutboundCallConfig",
                post(campaigns::update_outbound_call_config),
            ),
        )
        .route(
            "/campaigns/{id}/dial-requests",
            op("PutDialRequestBatch", put(dial_requests::put_batch)),
        )
        .route(
            "/campaigns/{id}/dial-requests/{dialRequestId}",
            op("DescribeDialRequest", get(status::dial_request)),
        )
        .route(
            "/campaigns/{id}/progress",
            op("GetCampaignProgress", get(status::progress)),
        )
        .route(
            "/campaigns/{id}/retry-policy",
            op("PutCampaignRetryPolicy", put(retries::put))
                .merge(op("GetCampaignRetryPolicy", get(retries::get)))
                .merge(op("DeleteCampaignRetryPolicy", delete(retries::delete))),
        )
        .route("/do-not-call", op("AddDoNotCallNumbers", put(dnc::add)))
        .route(
            "/do-not-call/remove",
            op("RemoveDoNotCallNumbers", post(dnc::remove)),
        )
        .route(
            "/do-not-call/check",
            op("CheckDoNotCallNumbers", post(dnc::check)),
        )
        .route(
            "/tags/{arn}",
            op("ListTagsForResource", get(campaigns::list_tags))
                .merge(op("TagResource", post(campaigns::tag)))
                .merge(op("UntagResource", delete(campaigns::untag))),
        )
        .route(
            "/connect-instance/{connectInstanceId}/config",
            op("GetConnectInstanceConfig", get(instances::config)).merge(op(
                "DeleteConnectInstanceConfig",
                delete(instances::delete_config),
            )),
        )
        .route(
            "/connect-instance/{connectInstanceId}/onboarding",
            op(
                "StartInstanceOnboardingJob",
                put(instances::start_onboarding),
            )
            .merge(op(
                "GetInstanceOnboardingJobStatus",
                get(instances::onboarding_status),
            ))
            .merge(op(
                "DeleteInstanceOnboardingJob",
                delete(instances::delete_onboarding),
            )),
        );
    v2::routes(router, &op)
        .route("/events/amazon-connect", post(events::amazon_connect))
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
        .layer(middleware::map_response(ensure_request_id))
        .with_state(app)
}

/// Responses that did not pass through [`edge`] (unknown routes) get a request id too.
async fn ensure_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key("x-amzn-RequestId") {
        if let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            response.headers_mut().insert("x-amzn-RequestId", value);
        }
    }
    response
}

async fn unknown_operation(req: Request) -> Response {
    ApiError::UnknownOperation(format!(
        "No operation matches {} {}",
        req.method(),
        req.uri().path()
    ))
    .into_response()
}

async fn render_metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m::render(&app.metrics),
    )
}

/// How long `/readyz` waits for the database: a probe must answer well within an
/// orchestrator's timeout, outage or not.
const READY_DATABASE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Ready when the database answers and every background service runs; otherwise 503 with
/// what is wrong.
async fn ready(State(app): State<AppState>) -> Response {
    let probe = sqlx::query("select 1").execute(&app.pool);
    let database = match tokio::time::timeout(READY_DATABASE_TIMEOUT, probe).await {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("no answer in time".to_string()),
    };
    let down = app.health.down();
    if database.is_none() && down.is_empty() {
        return "ready".into_response();
    }
    let mut problems = Vec::new();
    if let Some(error) = database {
        tracing::warn!(%error, "readiness check: database unreachable");
        problems.push("database unreachable".to_string());
    }
    if !down.is_empty() {
        problems.push(format!("services not running: {}", down.join(", ")));
    }
    (StatusCode::SERVICE_UNAVAILABLE, problems.join("; ")).into_response()
}

async fn edge(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = crate::queue::new_id().to_string();
    let span = tracing::info_span!("api", operation = edge.operation, request_id = %request_id);
    let mut response = async {
        let response = match admit(&edge, req).await {
            Ok(req) => next.run(req).await,
            Err(error) => {
                tracing::info!(error_type = error.error_type(), %error, "request refused");
                error.into_response()
            }
        };
        tracing::debug!(status = response.status().as_u16(), "request done");
        response
    }
    .instrument(span)
    .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", value);
    }
    let status = response.status().as_u16().to_string();
    metrics::counter!(m::API_REQUESTS, m::OPERATION => edge.operation, m::STATUS => status)
        .increment(1);
    metrics::histogram!(m::API_REQUEST_DURATION, m::OPERATION => edge.operation)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Buffers the body within the limit, authenticates and rate-limits the request.
async fn admit(edge: &Edge, req: Request) -> Result<Request, ApiError> {
    let app = &edge.app;
    let limit = app.config.server.max_body_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "Request body is larger than the limit of {limit} bytes"
        ))
    };
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let timeout = app.config.server.body_read_timeout();
    let bytes = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            ApiError::RequestTimeout(format!(
                "Request body not received within {} s",
                timeout.as_secs_f64()
            ))
        })?
        .map_err(|_| too_large())?;

    let (caller, account) = if app.config.auth.enabled {
        let headers = sigv4::header_pairs(&parts.headers);
        let signed = sigv4::SignedRequest {
            method: parts.method.as_str(),
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query(),
            headers: &headers,
            body: &bytes,
        };
        let max_skew = chrono::Duration::seconds(app.config.auth.max_clock_skew_secs as i64);
        let caller = sigv4::verify(&signed, app.clock.now(), max_skew, |id| {
            app.keys.get(id).map(|key| key.secret())
        })
        .map_err(|e| ApiError::AccessDenied(e.to_string()))?;
        caller
            .check_scope(&app.config.aws.region, SIGNING_NAME)
            .map_err(|e| ApiError::InvalidSignature(e.to_string()))?;
        let account = app
            .keys
            .get(&caller.access_key_id)
            .map(|key| key.account.clone())
            .ok_or_else(|| {
                ApiError::AccessDenied(sigv4::SigV4Error::UnknownAccessKey.to_string())
            })?;
        (caller.access_key_id, account)
    } else {
        ("anonymous".to_string(), app.keys.default_account().clone())
    };
    if !crate::reload::current(&app.throttle).allow(edge.operation, &caller) {
        return Err(ApiError::Throttling(format!(
            "Rate exceeded for {} by {caller}",
            edge.operation
        )));
    }
    if let Some(route) = parts.extensions.get::<MatchedPath>() {
        let mut v = wire::Violations::default();
        wire::validate_uri(&mut v, route.as_str(), parts.uri.path(), parts.uri.query());
        v.finish()?;
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert::<AccountId>(account);
    Ok(req)
}
