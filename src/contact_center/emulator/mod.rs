//! `dialer connect-emulator`: a stand-in for one Amazon Connect instance, over HTTP, on top
//! of the simulated contact center model.
//!
//! It owns: the HTTP surface of `BatchPutContact`, `GetCurrentMetricData`, `DescribeContact`
//! and `StartOutboundChatContact` (restJson1, SigV4 with signing name `connect`, Connect's
//! error shape: `x-amzn-ErrorType` and `{"Message": …}` with the model's status codes); the
//! request validation the model asks for ([`validate`]); the contact events it posts to
//! webhooks as EventBridge would ([`webhook`]); and switchable API faults (latency,
//! throttling at Connect's default quotas, internal errors).
//!
//! It does not own the calls: the [`SimContactCenter`] places and runs them, with its
//! `ClientToken` ledger in PostgreSQL ([`PgSimLedger`]), so a `BatchPutContact` replayed
//! after the emulator restarts returns the same contacts and places no call. Calls die with
//! the process: `DescribeContact` of a contact an earlier run placed answers from the ledger,
//! ended with `DisconnectReason` [`REASON_LOST`].
//!
//! Invariants: phone numbers, attribute values and messages are never logged nor echoed in
//! errors; a chat's `ClientToken` is recorded before the answer, so a retry sends nothing new.

pub mod validate;
pub mod webhook;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use governor::DefaultDirectRateLimiter;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use self::webhook::{DeliveryFaults, Webhooks};
use super::connect::wire::{
    self, ContactEventEnvelope, ContactFacts, ContactTimeline, CurrentMetric, CurrentMetricData,
    CurrentMetricResult, DescribeContactResponse, Dimensions, GetCurrentMetricDataRequest,
    GetCurrentMetricDataResponse, QueueReference, StartOutboundChatContactRequest,
    StartOutboundChatContactResponse, REASON_LOST,
};
use super::sim::store::PgSimLedger;
use super::sim::SimContactCenter;
use super::{
    BatchPutContactRequest, ContactCenter, ContactCenterError, ContactEvent, ContactRef,
    ContactState, FatalError, QueueMetrics, RetryableError, AMD_ATTRIBUTE_KEY,
};
use crate::accounts::KeyStore;
use crate::api::sigv4;
use crate::clock::Clock;

/// The signing name of Amazon Connect.
pub const SIGNING_NAME: &str = "connect";
/// The instance served when `--instance-id` is not given (the one the README's examples use).
pub const INSTANCE_ID_DEFAULT: &str = "inst-1";

/// `dialer connect-emulator` options.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Listen address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Config file: `[contact_center.sim]` (agents, queues, customers, faults, time scale),
    /// `[aws]`, `[auth]`, `[database]`, `[log]`, as the daemon reads them.
    #[arg(long, default_value = "config/dialer.toml")]
    pub config: PathBuf,
    /// The instance id served; any other answers ResourceNotFoundException.
    #[arg(long, default_value = INSTANCE_ID_DEFAULT)]
    pub instance_id: String,
    /// Where contact events are posted (repeatable).
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,
    /// A header sent with every event, e.g. `x-dialer-events-key: SECRET` (repeatable).
    #[arg(long = "webhook-header", value_name = "NAME: VALUE", value_parser = webhook::parse_header)]
    pub webhook_headers: Vec<(String, String)>,
    /// How long an event is retried before it is given up, seconds (EventBridge: 24 h).
    #[arg(long, default_value_t = 86_400)]
    pub max_event_age_secs: u64,
    /// Share of events delivered twice (same id).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub duplicate_rate: f64,
    /// Share of events held back by `--reorder-delay-ms`, so later ones overtake them.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub reorder: f64,
    /// How long a reordered event is held back.
    #[arg(long, default_value_t = 2_000)]
    pub reorder_delay_ms: u64,
    /// Share of events never delivered (events are best effort).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub drop_rate: f64,
    /// Added to every API response.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Throttle at Amazon Connect's default quotas (GetCurrentMetricData 5 req/s, burst 8;
    /// the other operations 2 req/s, burst 5), or at `--throttle-rate`.
    #[arg(long)]
    pub throttle: bool,
    /// `PER_SECOND/BURST` for every operation, instead of the defaults (implies --throttle).
    #[arg(long, value_name = "PER_SECOND/BURST", value_parser = parse_rate)]
    pub throttle_rate: Option<(f64, u32)>,
    /// Share of API calls answered 500 InternalServiceException (before any effect).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub internal_error_rate: f64,
}

fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text.parse().map_err(|_| "not a number".to_string())?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err("must be between 0 and 1".to_string())
    }
}

fn parse_rate(text: &str) -> Result<(f64, u32), String> {
    let (rate, burst) = text
        .split_once('/')
        .ok_or_else(|| "expected PER_SECOND/BURST".to_string())?;
    let rate: f64 = rate.parse().map_err(|_| "PER_SECOND is not a number")?;
    let burst: u32 = burst.parse().map_err(|_| "BURST is not a whole number")?;
    if !(rate > 0.0 && rate.is_finite()) || burst == 0 {
        return Err("PER_SECOND and BURST must be positive".to_string());
    }
    Ok((rate, burst))
}

/// The operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    BatchPutContact,
    GetCurrentMetricData,
    DescribeContact,
    StartOutboundChatContact,
}

impl Op {
    const ALL: [Op; 4] = [
        Op::BatchPutContact,
        Op::GetCurrentMetricData,
        Op::DescribeContact,
        Op::StartOutboundChatContact,
    ];

    /// Amazon Connect's default quota for the operation: (requests per second, burst).
    fn default_quota(self) -> (f64, u32) {
        match self {
            Op::GetCurrentMetricData => (5.0, 8),
            _ => (2.0, 5),
        }
    }

    /// What a throttled call answers: `BatchPutContact` models `LimitExceededException`
    /// only, the others `ThrottlingException`.
    fn throttled(self) -> ConnectError {
        match self {
            Op::BatchPutContact => ConnectError::LimitExceeded("Rate exceeded".to_string()),
            _ => ConnectError::Throttling("Rate exceeded".to_string()),
        }
    }

    /// What a member that breaks the model answers: the operations that model
    /// `InvalidParameterException` use it; the others only have `InvalidRequestException`.
    fn invalid_parameter(self, message: String) -> ConnectError {
        match self {
            Op::GetCurrentMetricData | Op::DescribeContact => {
                ConnectError::InvalidParameter(message)
            }
            Op::BatchPutContact | Op::StartOutboundChatContact => {
                ConnectError::InvalidRequest(message)
            }
        }
    }
}

/// A Connect API failure, one variant per modelled exception.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// 400.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400.
    #[error("{0}")]
    InvalidParameter(String),
    /// 404.
    #[error("{0}")]
    ResourceNotFound(String),
    /// 403; the type is the one AWS front ends send for the SigV4 failure.
    #[error("{message}")]
    Unauthorized {
        /// `x-amzn-ErrorType`.
        error_type: &'static str,
        /// Why.
        message: String,
    },
    /// 429.
    #[error("{0}")]
    Throttling(String),
    /// 429.
    #[error("{0}")]
    LimitExceeded(String),
    /// 409.
    #[error("{0}")]
    Idempotency(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 404: nothing is served at this method and path.
    #[error("{0}")]
    UnknownOperation(String),
    /// 500; the cause is logged, not sent.
    #[error("{0}")]
    InternalService(String),
}

impl ConnectError {
    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "InvalidRequestException"),
            Self::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "InvalidParameterException"),
            Self::ResourceNotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            Self::Unauthorized { error_type, .. } => (StatusCode::FORBIDDEN, error_type),
            Self::Throttling(_) => (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
            Self::LimitExceeded(_) => (StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
            Self::Idempotency(_) => (StatusCode::CONFLICT, "IdempotencyException"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "ConflictException"),
            Self::UnknownOperation(_) => (StatusCode::NOT_FOUND, "UnknownOperationException"),
            Self::InternalService(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServiceException",
            ),
        }
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        let (status, error_type) = self.status_and_type();
        let message = match &self {
            Self::InternalService(cause) => {
                tracing::warn!(%cause, "internal service error");
                "Request processing failed because of an error or failure with the service."
                    .to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, axum::Json(json!({ "Message": message }))).into_response();
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(error_type));
        response
    }
}

impl From<ContactCenterError> for ConnectError {
    fn from(error: ContactCenterError) -> Self {
        match error {
            ContactCenterError::Retryable(RetryableError::Throttled) => {
                ConnectError::LimitExceeded("Rate exceeded".to_string())
            }
            ContactCenterError::Retryable(other) => {
                ConnectError::InternalService(other.to_string())
            }
            ContactCenterError::Fatal(FatalError::InvalidRequest(m)) => {
                ConnectError::InvalidRequest(m)
            }
            ContactCenterError::Fatal(FatalError::AccessDenied(m)) => ConnectError::Unauthorized {
                error_type: "AccessDeniedException",
                message: m,
            },
            ContactCenterError::Fatal(FatalError::ResourceNotFound(m)) => {
                ConnectError::ResourceNotFound(m)
            }
            ContactCenterError::Fatal(FatalError::Idempotency(m)) => ConnectError::Idempotency(m),
        }
    }
}

/// What the emulator knows of a contact before its first event: fixed at `BatchPutContact`.
#[derive(Debug, Clone)]
struct Pending {
    campaign_id: Option<String>,
    queue_id: Option<String>,
    amd: bool,
    /// When the batch came: facts nobody claimed (failed items, replays) are dropped after
    /// [`PENDING_TTL`].
    at: std::time::Instant,
}

/// How long facts of a contact being placed wait for its first event. The simulated center
/// publishes it while `BatchPutContact` commits, so seconds would do; minutes leave room for
/// a stalled event pump.
const PENDING_TTL: Duration = Duration::from_secs(600);

struct Emulator {
    sim: Arc<SimContactCenter>,
    ledger: PgSimLedger,
    pool: PgPool,
    keys: KeyStore,
    auth_enabled: bool,
    max_skew: chrono::Duration,
    region: String,
    account: String,
    instance_id: String,
    instance_arn: String,
    queues: Vec<String>,
    /// Contacts this run placed, by id.
    contacts: Mutex<HashMap<String, ContactTimeline>>,
    /// Facts of contacts being placed, by `RequestIdentifier`: their first events may come
    /// before `BatchPutContact` returns their ids.
    pending: Mutex<HashMap<String, Pending>>,
    limiters: Option<HashMap<Op, Arc<DefaultDirectRateLimiter>>>,
    latency: Duration,
    internal_error_rate: f64,
    rng: Mutex<StdRng>,
    webhooks: Arc<Webhooks>,
}

/// Contacts whose timelines the emulator keeps. Past it, ended contacts are forgotten
/// (`DescribeContact` then answers for them from the ledger, without their details), so a
/// long run does not grow without bound.
const CONTACTS_MAX: usize = 200_000;

/// Forgets contacts that are over until a tenth of [`CONTACTS_MAX`] is free again (or none is left
/// to forget: running contacts are kept whatever their number).
fn forget_ended(contacts: &mut HashMap<String, ContactTimeline>) {
    let target = CONTACTS_MAX - CONTACTS_MAX / 10;
    let excess = contacts.len().saturating_sub(target);
    let ended: Vec<String> = contacts
        .iter()
        .filter(|(_, t)| t.is_over())
        .map(|(id, _)| id.clone())
        .take(excess)
        .collect();
    for id in ended {
        contacts.remove(&id);
    }
}

/// A poisoned lock only means a panic elsewhere; the maps are still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the emulator until SIGINT/SIGTERM.
pub async fn run(args: EmulatorArgs, config: crate::config::Config) -> anyhow::Result<()> {
    let db = crate::db::Database::open(&config.database).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let cancel = CancellationToken::new();
    tokio::spawn(crate::cli::shutdown_on_signal(cancel.clone()));
    let served = serve(args, config, db.pool.clone(), listener, cancel).await;
    db.close().await;
    tracing::info!("Connect emulator stopped");
    served
}

/// Serves the emulator on `listener`, its ledger in `pool`, until `cancel` fires (the
/// dispatch benchmark runs one in-process this way).
pub async fn serve(
    args: EmulatorArgs,
    config: crate::config::Config,
    pool: sqlx::PgPool,
    listener: tokio::net::TcpListener,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    serve_with(args, config, pool, listener, cancel, None).await
}

/// [`serve`], handing the simulated center behind it to `center` once it is up: a
/// rehearsal in the same process reads its counters and runs the engine on its clock, so
/// that both sides see one time at any `time_scale`.
pub async fn serve_with(
    args: EmulatorArgs,
    config: crate::config::Config,
    pool: sqlx::PgPool,
    listener: tokio::net::TcpListener,
    cancel: CancellationToken,
    center: Option<tokio::sync::oneshot::Sender<Arc<SimContactCenter>>>,
) -> anyhow::Result<()> {
    let keys = config
        .key_store()
        .map_err(|p| anyhow::anyhow!(p.join("; ")))?;
    validate::instance_id(&args.instance_id).map_err(|m| anyhow::anyhow!("--instance-id: {m}"))?;
    let ledger = PgSimLedger::new(pool.clone());
    let sim = Arc::new(
        SimContactCenter::new(
            config.contact_center.sim.clone(),
            Arc::new(ledger.clone()),
            cancel.clone(),
        )
        .map_err(|e| anyhow::anyhow!("[contact_center.sim]: {}", e.0.join("; ")))?,
    );
    let events = sim.subscribe();
    if let Some(center) = center {
        // The receiver may have gone; then nobody wanted it.
        let _ = center.send(sim.clone());
    }
    let limiters = (args.throttle || args.throttle_rate.is_some()).then(|| {
        Op::ALL
            .into_iter()
            .map(|op| {
                (op, {
                    let (per_second, burst) = args.throttle_rate.unwrap_or(op.default_quota());
                    crate::contact_center::connect::client::limiter(per_second, burst)
                })
            })
            .collect()
    });
    let seed = config.contact_center.sim.seed;
    let webhooks = Arc::new(
        Webhooks::new(
            args.webhooks.clone(),
            args.webhook_headers.clone(),
            DeliveryFaults {
                duplicate_rate: args.duplicate_rate,
                reorder_rate: args.reorder,
                reorder_delay: Duration::from_millis(args.reorder_delay_ms),
                drop_rate: args.drop_rate,
            },
            Duration::from_secs(args.max_event_age_secs),
            seed,
            cancel.clone(),
        )
        .context("cannot build the webhook client")?,
    );
    let emulator = Arc::new(Emulator {
        sim,
        ledger,
        pool: pool.clone(),
        keys,
        auth_enabled: config.auth.enabled,
        max_skew: chrono::Duration::seconds(config.auth.max_clock_skew_secs as i64),
        instance_arn: wire::instance_arn(
            &config.aws.region,
            &config.aws.account_id,
            &args.instance_id,
        ),
        region: config.aws.region.clone(),
        account: config.aws.account_id.clone(),
        instance_id: args.instance_id.clone(),
        queues: config
            .contact_center
            .sim
            .queues
            .iter()
            .map(|q| q.queue_id.clone())
            .collect(),
        contacts: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        limiters,
        latency: Duration::from_millis(args.latency_ms),
        internal_error_rate: args.internal_error_rate,
        rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed)),
        webhooks,
    });
    let emulator_sim = Arc::clone(&emulator.sim);
    tokio::spawn(pump(Arc::clone(&emulator), events, cancel.clone()));

    let endpoint = format!("http://{}", listener.local_addr()?);
    tracing::info!(%endpoint, instance = %args.instance_id, webhooks = args.webhooks.len(), "Connect emulator listening");
    let shutdown = cancel.clone();
    axum::serve(listener, router(emulator))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("the Connect emulator's server failed")?;
    cancel.cancel();
    // Its calls died with it: a successor on the same database reports them ended at once.
    if let Err(error) = emulator_sim.retire().await {
        tracing::warn!(%error, "simulated center not retired; its calls look alive until its heartbeat lapses");
    }
    Ok(())
}

fn router(emulator: Arc<Emulator>) -> Router {
    Router::new()
        .route("/contact/batch/{instance}", put(batch_put_contact))
        .route("/metrics/current/{instance}", post(get_current_metric_data))
        .route("/contacts/{instance}/{contact}", get(describe_contact))
        .route("/contact/outbound-chat", put(start_outbound_chat_contact))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async {
            ConnectError::UnknownOperation("No operation at this method and path".to_string())
        })
        .with_state(emulator)
}

async fn readyz(State(e): State<Arc<Emulator>>) -> Response {
    match sqlx::query("select 1").execute(&e.pool).await {
        Ok(_) => "ready".into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response(),
    }
}

/// Every event of the simulated center becomes the Connect event it implies, to every
/// webhook.
async fn pump(
    e: Arc<Emulator>,
    mut events: tokio::sync::broadcast::Receiver<ContactEvent>,
    cancel: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = cancel.cancelled() => return,
            event = events.recv() => event,
        };
        match event {
            Ok(event) => {
                if let Some(envelope) = e.connect_event(&event) {
                    e.webhooks.send(&envelope);
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    lost = n,
                    "contact events lost: the webhook pump fell behind the simulated center"
                );
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

impl Emulator {
    fn connect_event(&self, event: &ContactEvent) -> Option<ContactEventEnvelope> {
        let mut contacts = lock(&self.contacts);
        if !contacts.contains_key(&event.contact_id) {
            // The event pump runs beside the call that placed the contact, so it claims the
            // facts itself: the call cannot know when its events have been seen.
            let pending = event
                .request_identifier
                .as_ref()
                .and_then(|ri| lock(&self.pending).remove(ri))?;
            let facts = ContactFacts {
                contact_id: event.contact_id.clone(),
                instance_arn: self.instance_arn.clone(),
                campaign_id: pending.campaign_id,
                queue_id: pending.queue_id,
                amd: pending.amd,
            };
            if contacts.len() >= CONTACTS_MAX {
                forget_ended(&mut contacts);
            }
            contacts.insert(event.contact_id.clone(), ContactTimeline::new(facts));
        }
        let timeline = contacts.get_mut(&event.contact_id)?;
        let detail = timeline.apply(&event.kind, event.at)?;
        Some(ContactEventEnvelope::new(
            Uuid::new_v4().to_string(),
            event.at,
            &self.account,
            &self.region,
            detail,
        ))
    }

    /// Latency, signature, throttle and injected errors, in the order a caller meets them.
    async fn admit(&self, op: Op, request: Request) -> Result<Bytes, ConnectError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|_| ConnectError::InvalidRequest("Request body too large".to_string()))?;
        if self.auth_enabled {
            let headers = sigv4::header_pairs(&parts.headers);
            let signed = sigv4::SignedRequest {
                method: parts.method.as_str(),
                raw_path: parts.uri.path(),
                raw_query: parts.uri.query(),
                headers: &headers,
                body: &bytes,
            };
            let unauthorized = |e: sigv4::SigV4Error| ConnectError::Unauthorized {
                error_type: e.error_type(),
                message: e.to_string(),
            };
            let caller = sigv4::verify(&signed, chrono::Utc::now(), self.max_skew, |id| {
                self.keys.get(id).map(|key| key.secret().to_string())
            })
            .map_err(unauthorized)?;
            caller
                .check_scope(&self.region, SIGNING_NAME)
                .map_err(unauthorized)?;
        }
        if let Some(limiter) = self.limiters.as_ref().and_then(|l| l.get(&op)) {
            if limiter.check().is_err() {
                return Err(op.throttled());
            }
        }
        let fail = lock(&self.rng).random_bool(self.internal_error_rate.clamp(0.0, 1.0));
        if fail {
            return Err(ConnectError::InternalService(
                "injected internal error (--internal-error-rate)".to_string(),
            ));
        }
        Ok(bytes)
    }

    fn check_instance(&self, op: Op, instance: &str) -> Result<(), ConnectError> {
        validate::instance_id(instance).map_err(|m| op.invalid_parameter(m))?;
        if instance != self.instance_id {
            return Err(ConnectError::ResourceNotFound(
                "Instance not found".to_string(),
            ));
        }
        Ok(())
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConnectError> {
    let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    // The path names the member; serde's own message may quote the value, so it is dropped.
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        ConnectError::InvalidRequest(format!(
            "The request body is not valid: member {} has the wrong type or value",
            e.path()
        ))
    })
}

fn ok_json<T: serde::Serialize>(value: &T) -> Response {
    axum::Json(value).into_response()
}

async fn batch_put_contact(
    State(e): State<Arc<Emulator>>,
    Path(instance): Path<String>,
    request: Request,
) -> Result<Response, ConnectError> {
    let op = Op::BatchPutContact;
    let bytes = e.admit(op, request).await?;
    e.check_instance(op, &instance)?;
    let mut req: BatchPutContactRequest = parse(&bytes)?;
    validate::batch_put_contact(&req).map_err(|m| op.invalid_parameter(m))?;
    req.instance_id = instance;
    {
        let mut pending = lock(&e.pending);
        let now = std::time::Instant::now();
        pending.retain(|_, p| now.duration_since(p.at) < PENDING_TTL);
        for item in &req.contacts {
            pending.insert(
                item.request_identifier.clone(),
                Pending {
                    campaign_id: item.campaign_id.clone(),
                    queue_id: item.queue_id.clone(),
                    amd: item.attributes.get(AMD_ATTRIBUTE_KEY).map(String::as_str) == Some("true"),
                    at: now,
                },
            );
        }
    }
    Ok(ok_json(&e.sim.batch_put_contact(req).await?))
}

async fn get_current_metric_data(
    State(e): State<Arc<Emulator>>,
    Path(instance): Path<String>,
    request: Request,
) -> Result<Response, ConnectError> {
    let op = Op::GetCurrentMetricData;
    let bytes = e.admit(op, request).await?;
    e.check_instance(op, &instance)?;
    let req: GetCurrentMetricDataRequest = parse(&bytes)?;
    validate::get_current_metric_data(&req).map_err(|m| op.invalid_parameter(m))?;
    let asked: Vec<String> = req
        .filters
        .as_ref()
        .and_then(|f| f.queues.clone())
        .unwrap_or_default();
    let known: Vec<String> = asked.into_iter().filter(|q| e.queues.contains(q)).collect();
    let metrics = if known.is_empty() {
        Vec::new()
    } else {
        e.sim.queue_metrics(&e.instance_id, &known).await?
    };
    let wanted = req.current_metrics.unwrap_or_default();
    let by_queue = req
        .groupings
        .as_ref()
        .is_some_and(|g| g.contains(&wire::Grouping::Queue));
    let rows: Vec<QueueMetrics> = if by_queue {
        metrics
    } else if metrics.is_empty() {
        Vec::new()
    } else {
        vec![sum(&metrics)]
    };
    let row = |m: &QueueMetrics| CurrentMetricResult {
        dimensions: by_queue.then(|| Dimensions {
            queue: Some(QueueReference {
                id: Some(m.queue_id.clone()),
                arn: Some(format!("{}/queue/{}", e.instance_arn, m.queue_id)),
            }),
            channel: None,
        }),
        collections: wanted
            .iter()
            .filter_map(|metric| {
                let name = metric.name?;
                Some(CurrentMetricData {
                    metric: Some(CurrentMetric::of(name)),
                    value: wire::metric_value(m, name),
                })
            })
            .collect(),
    };
    let start: usize = match &req.next_token {
        None => 0,
        Some(token) => token
            .parse()
            .ok()
            .filter(|&n: &usize| n <= rows.len())
            .ok_or_else(|| op.invalid_parameter("NextToken is not valid".to_string()))?,
    };
    let page = req.max_results.map_or(100, |m| m as usize);
    let end = (start + page).min(rows.len());
    let response = GetCurrentMetricDataResponse {
        next_token: (end < rows.len()).then(|| end.to_string()),
        metric_results: rows[start..end].iter().map(row).collect(),
        data_snapshot_time: Some(e.sim.now()),
        approximate_total_count: Some(rows.len() as i64),
    };
    Ok(ok_json(&response))
}

fn sum(rows: &[QueueMetrics]) -> QueueMetrics {
    rows.iter().fold(
        QueueMetrics {
            queue_id: String::new(),
            agents_online: 0,
            agents_available: 0,
            agents_on_contact: 0,
            agents_after_contact_work: 0,
            contacts_in_queue: 0,
        },
        |mut acc, m| {
            acc.agents_online += m.agents_online;
            acc.agents_available += m.agents_available;
            acc.agents_on_contact += m.agents_on_contact;
            acc.agents_after_contact_work += m.agents_after_contact_work;
            acc.contacts_in_queue += m.contacts_in_queue;
            acc
        },
    )
}

async fn describe_contact(
    State(e): State<Arc<Emulator>>,
    Path((instance, contact_id)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ConnectError> {
    let op = Op::DescribeContact;
    e.admit(op, request).await?;
    e.check_instance(op, &instance)?;
    validate::contact_id(&contact_id).map_err(|m| op.invalid_parameter(m))?;
    let known = lock(&e.contacts).get(&contact_id).map(|t| t.describe());
    let contact = match known {
        Some(contact) => contact,
        None => e.describe_from_ledger(&contact_id).await?,
    };
    Ok(ok_json(&DescribeContactResponse {
        contact: Some(contact),
    }))
}

impl Emulator {
    /// A contact this run did not place: an earlier run's (lost with it), another live
    /// emulator's on the same database (running), or none.
    async fn describe_from_ledger(&self, contact_id: &str) -> Result<wire::Contact, ConnectError> {
        let not_found = || ConnectError::ResourceNotFound("Contact not found".to_string());
        let token = self
            .ledger
            .client_token_of(contact_id)
            .await
            .map_err(|e| ConnectError::InternalService(e.to_string()))?
            .ok_or_else(not_found)?;
        let states = self
            .sim
            .describe_contacts(
                &self.instance_id,
                &[ContactRef {
                    contact_id: contact_id.to_string(),
                    client_token: token,
                }],
            )
            .await?;
        // The ledger keeps no call times: whether it ended is all that is known, as of now.
        // A contact this run forgot (see CONTACTS_MAX) ended here, for a reason no longer
        // known; one an earlier run placed was lost with it.
        let (ended, reason) = match states.get(contact_id) {
            // The simulated center answers at once; it never leaves an answer pending.
            Some(ContactState::Running | ContactState::Pending) => (false, None),
            Some(ContactState::Ended) => (true, None),
            Some(ContactState::Gone(_)) | None => (true, Some(REASON_LOST.to_string())),
        };
        Ok(wire::Contact {
            arn: Some(format!("{}/contact/{contact_id}", self.instance_arn)),
            id: Some(contact_id.to_string()),
            initial_contact_id: Some(contact_id.to_string()),
            initiation_method: Some(wire::INITIATION_API.to_string()),
            channel: Some(wire::CHANNEL_VOICE.to_string()),
            disconnect_timestamp: ended.then(|| self.sim.now()),
            disconnect_reason: reason,
            ..wire::Contact::default()
        })
    }
}

async fn start_outbound_chat_contact(
    State(e): State<Arc<Emulator>>,
    request: Request,
) -> Result<Response, ConnectError> {
    let op = Op::StartOutboundChatContact;
    let bytes = e.admit(op, request).await?;
    let req: StartOutboundChatContactRequest = parse(&bytes)?;
    validate::start_outbound_chat_contact(&req).map_err(|m| op.invalid_parameter(m))?;
    e.check_instance(op, req.instance_id.as_deref().unwrap_or_default())?;
    let token = req
        .client_token
        .clone()
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let fingerprint = req.fingerprint();
    let content_length = i32::try_from(req.content_length()).unwrap_or(i32::MAX);
    let contact_id = Uuid::new_v4().to_string();
    // Insert, or read what the token already holds, in one statement.
    let stored: (String, String, bool) = sqlx::query_as(
        "with ins as (
             insert into connect_emulator_chat
                 (client_token, contact_id, fingerprint, instance_id, content_length)
             values ($1, $2, $3, $4, $5)
             on conflict (client_token) do nothing
             returning contact_id, fingerprint
         )
         select contact_id, fingerprint, true from ins
         union all
         select contact_id, fingerprint, false from connect_emulator_chat
         where client_token = $1 and not exists (select 1 from ins)",
    )
    .bind(&token)
    .bind(&contact_id)
    .bind(&fingerprint)
    .bind(&e.instance_id)
    .bind(content_length)
    .fetch_one(&e.pool)
    .await
    .map_err(|err| ConnectError::InternalService(err.to_string()))?;
    let (stored_id, stored_fingerprint, inserted) = stored;
    if !inserted && stored_fingerprint != fingerprint {
        // The operation models no IdempotencyException; ConflictException is its 409.
        return Err(ConnectError::Conflict(
            "ClientToken was already used for a different request".to_string(),
        ));
    }
    if inserted {
        tracing::info!(contact_id = %stored_id, content_length, "outbound SMS recorded as sent");
    }
    Ok(ok_json(&StartOutboundChatContactResponse {
        contact_id: stored_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contacts_that_are_over_are_forgotten() {
        use crate::contact_center::ContactEventKind as K;
        let mut contacts = HashMap::new();
        for i in 0..CONTACTS_MAX {
            let mut timeline = ContactTimeline::new(ContactFacts {
                contact_id: i.to_string(),
                instance_arn: "arn".into(),
                campaign_id: None,
                queue_id: Some("q".into()),
                amd: false,
            });
            let at = chrono::Utc::now();
            timeline.apply(&K::Initiated, at);
            // Every other contact waits for its wrap-up: not over.
            let agent = K::ConnectedToAgent {
                agent_id: "a".into(),
            };
            let tail: &[K] = if i % 2 == 0 {
                &[K::NoAnswer, K::Disconnected]
            } else {
                &[K::PersonAnswered, K::Queued, agent, K::Disconnected]
            };
            for kind in tail {
                timeline.apply(kind, at);
            }
            contacts.insert(i.to_string(), timeline);
        }
        forget_ended(&mut contacts);
        assert_eq!(contacts.len(), CONTACTS_MAX - CONTACTS_MAX / 10);
        assert!(contacts.values().filter(|t| !t.is_over()).count() == CONTACTS_MAX / 2);
    }

    #[test]
    fn shares_and_rates_parse() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("1.5").is_err());
        assert!(parse_share("x").is_err());
        assert_eq!(parse_rate("5/8"), Ok((5.0, 8)));
        assert!(parse_rate("0/8").is_err());
        assert!(parse_rate("5").is_err());
    }

    #[test]
    fn errors_answer_with_the_models_status_and_type() {
        let cases = [
            (
                ConnectError::InvalidRequest("x".into()),
                400,
                "InvalidRequestException",
            ),
            (
                ConnectError::InvalidParameter("x".into()),
                400,
                "InvalidParameterException",
            ),
            (
                ConnectError::ResourceNotFound("x".into()),
                404,
                "ResourceNotFoundException",
            ),
            (
                ConnectError::Throttling("x".into()),
                429,
                "ThrottlingException",
            ),
            (
                ConnectError::LimitExceeded("x".into()),
                429,
                "LimitExceededException",
            ),
            (
                ConnectError::Idempotency("x".into()),
                409,
                "IdempotencyException",
            ),
            (ConnectError::Conflict("x".into()), 409, "ConflictException"),
            (
                ConnectError::InternalService("x".into()),
                500,
                "InternalServiceException",
            ),
        ];
        for (error, status, error_type) in cases {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()["x-amzn-ErrorType"], error_type);
        }
        assert_eq!(
            Op::BatchPutContact.throttled().status_and_type().1,
            "LimitExceededException"
        );
        assert_eq!(
            Op::DescribeContact.throttled().status_and_type().1,
            "ThrottlingException"
        );
    }

    #[test]
    fn chat_fingerprints_ignore_the_token_only() {
        let mut a = StartOutboundChatContactRequest {
            contact_flow_id: Some("f".into()),
            client_token: Some("1".into()),
            ..StartOutboundChatContactRequest::default()
        };
        let mut b = a.clone();
        b.client_token = Some("2".into());
        assert_eq!(a.fingerprint(), b.fingerprint());
        a.contact_flow_id = Some("g".into());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
