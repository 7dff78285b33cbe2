//! The Amazon Connect backend: the engine drives a real Amazon Connect instance (or the
//! emulator, `dialer connect-emulator`) over its HTTP API, as the Outbound Campaigns service
//! does.
//!
//! - Contacts: `BatchPutContact`, the batch's `ClientToken` on every re-send (see
//!   [`client`] for signing, quotas and throttling).
//! - Agents: one `GetCurrentMetricData` poll of every queue the campaigns use, every
//!   `metrics_interval_secs`, shared by all campaigns of the instance ([`metrics`]).
//! - Lifecycle: EventBridge delivers "Amazon Connect Contact Event"s to
//!   `POST /events/amazon-connect` on any daemon; they are stored ([`inbox`]) and the daemon
//!   holding each event's campaign turns them into engine events ([`wire`]).
//! - Reconciliation: contacts the engine doubts are looked up with `DescribeContact` in the
//!   background, at the API rate ([`lookup`]); a finished contact's events are rebuilt from
//!   its timestamps, and only a contact Connect no longer knows ends `lost`.

pub mod client;
pub mod config;
pub mod inbox;
pub mod lookup;
pub mod metrics;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use self::client::{Call, ConnectClient};
pub use self::config::AmazonConnectConfig;
use super::{
    BatchPutContactRequest, BatchPutContactResponse, ContactCenter, ContactCenterError,
    ContactEvent, ContactRef, ContactState, FatalError, QueueMetrics,
    StartOutboundChatContactRequest, StartOutboundChatContactResponse,
};
use crate::supervisor::{FailureStreak, Service, ServiceResult};

/// Capacity of the channel events reach the engine through. The inbox holds the rest:
/// the feed waits while the channel is half full rather than let the engine lag.
const EVENT_CHANNEL: usize = 65_536;
/// Most events taken from the inbox at once.
const TAKE_BATCH: i64 = 1000;
/// Pause between inbox polls when it had nothing for this daemon.
const FEED_IDLE: Duration = Duration::from_millis(100);
/// How often delivered events past their keeping time are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A contact center reached over the Amazon Connect API.
pub struct AmazonConnect {
    config: AmazonConnectConfig,
    client: Arc<ConnectClient>,
    api_limiter: Arc<governor::DefaultDirectRateLimiter>,
    events: broadcast::Sender<ContactEvent>,
    metrics: Arc<metrics::MetricsCache>,
    lookups: Arc<lookup::Lookups>,
    pool: sqlx::PgPool,
    /// Notified by this process's events endpoint when it stores an event.
    stored: Arc<tokio::sync::Notify>,
}

impl AmazonConnect {
    /// The backend `config` describes, with credentials from the standard AWS chain;
    /// `default_region` is `aws.region`.
    pub async fn new(
        config: &AmazonConnectConfig,
        default_region: &str,
        pool: sqlx::PgPool,
    ) -> Result<Arc<Self>, FatalError> {
        let region = config.region(default_region).to_string();
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region))
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https(),
            )
            .load()
            .await;
        let credentials = shared.credentials_provider().ok_or_else(|| {
            FatalError::AccessDenied(
                "no AWS credentials source: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role".into(),
            )
        })?;
        Self::with_credentials(config, default_region, pool, credentials)
    }

    /// The backend with credentials of the caller's choosing (a benchmark signing for an
    /// emulator it runs itself).
    pub fn with_credentials(
        config: &AmazonConnectConfig,
        default_region: &str,
        pool: sqlx::PgPool,
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Result<Arc<Self>, FatalError> {
        let region = config.region(default_region);
        let client = Arc::new(ConnectClient::new(
            &config.endpoint(default_region),
            region,
            credentials,
            Duration::from_secs_f64(config.request_timeout_secs),
        )?);
        let api_limiter = client::limiter(config.api_rate_per_sec, config.api_burst);
        let (events, _) = broadcast::channel(EVENT_CHANNEL);
        let metrics = Arc::new(metrics::MetricsCache::new(config));
        let lookups = Arc::new(lookup::Lookups::new(
            client.clone(),
            client::limiter(config.api_rate_per_sec, config.api_burst),
            config.abandon_threshold_secs,
            events.clone(),
        ));
        Ok(Arc::new(Self {
            config: config.clone(),
            client,
            api_limiter,
            events,
            metrics,
            lookups,
            pool,
            stored: Arc::new(tokio::sync::Notify::new()),
        }))
    }

    /// The background work of the backend, to run under a supervisor: the metrics poll, the
    /// `DescribeContact` lookups and the feed of stored events for the campaigns `owner` (the
    /// engine's lease owner name) holds.
    pub fn services(self: &Arc<Self>, owner: Arc<str>) -> Vec<Service> {
        let poll = {
            let this = self.clone();
            Service::new("connect_metrics", move |cancel| {
                this.metrics.clone().run(this.client.clone(), cancel)
            })
        };
        let lookups = {
            let this = self.clone();
            Service::new("connect_lookups", move |cancel| {
                this.lookups.clone().run(cancel)
            })
        };
        let feed = {
            let this = self.clone();
            Service::new("connect_events", move |cancel| {
                this.clone().feed(owner.clone(), cancel)
            })
        };
        vec![poll, lookups, feed]
    }

    /// What this process's events endpoint notifies when it stores an event: the feed then
    /// takes it at once instead of at its next idle poll (100 ms, which is seconds of model
    /// time for an emulator running faster than the wall).
    pub fn event_stored(&self) -> Arc<tokio::sync::Notify> {
        self.stored.clone()
    }

    /// Takes the stored events of this daemon's campaigns and hands them to the engine.
    async fn feed(self: Arc<Self>, owner: Arc<str>, cancel: CancellationToken) -> ServiceResult {
        let mut takes = FailureStreak::default();
        let mut purges = FailureStreak::default();
        let mut last_purge = tokio::time::Instant::now();
        let threshold =
            chrono::Duration::milliseconds((self.config.abandon_threshold_secs * 1000.0) as i64);
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            if self.events.len() > EVENT_CHANNEL / 2 {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(FEED_IDLE) => continue,
                }
            }
            let taken = inbox::take(&self.pool, &owner, TAKE_BATCH).await;
            let idle = match taken {
                Ok(bodies) => {
                    takes.record("taking Amazon Connect events", Ok::<(), sqlx::Error>(()));
                    let taken = bodies.len() as i64;
                    for body in bodies {
                        for event in engine_events_of(body, threshold) {
                            // No receiver means no engine yet; the stored event is gone
                            // then, and the contact is reconciled when the engine doubts it.
                            let _ = self.events.send(event);
                        }
                    }
                    taken < TAKE_BATCH
                }
                Err(error) => {
                    takes.record("taking Amazon Connect events", Err(error));
                    true
                }
            };
            if last_purge.elapsed() >= PURGE_INTERVAL {
                last_purge = tokio::time::Instant::now();
                purges.record(
                    "deleting old Amazon Connect events",
                    inbox::purge(&self.pool, 10_000).await.map(|_| ()),
                );
            }
            if idle {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = self.stored.notified() => {}
                    _ = tokio::time::sleep(FEED_IDLE) => {}
                }
            }
        }
    }

    fn check_instance(&self, instance_id: &str) -> Result<(), ContactCenterError> {
        if instance_id == self.config.instance_id {
            return Ok(());
        }
        Err(ContactCenterError::Fatal(FatalError::ResourceNotFound(
            format!(
                "the campaign names Amazon Connect instance {instance_id}, this daemon drives {} (contact_center.amazon_connect.instance_id)",
                self.config.instance_id
            ),
        )))
    }
}

#[async_trait]
impl ContactCenter for AmazonConnect {
    async fn batch_put_contact(
        &self,
        mut req: BatchPutContactRequest,
    ) -> Result<BatchPutContactResponse, ContactCenterError> {
        self.check_instance(&req.instance_id)?;
        for contact in &mut req.contacts {
            if let Some(queue) = contact.queue_id.as_mut() {
                *queue = self.config.connect_queue(queue).to_string();
            }
        }
        self.client
            .send(Call {
                method: "PUT",
                path: format!("/contact/batch/{}", client::label(&req.instance_id)),
                body: Some(&req),
                limiter: &self.api_limiter,
            })
            .await
    }

    async fn start_outbound_chat_contact(
        &self,
        req: StartOutboundChatContactRequest,
    ) -> Result<StartOutboundChatContactResponse, ContactCenterError> {
        self.check_instance(req.instance_id.as_deref().unwrap_or_default())?;
        // Paced with BatchPutContact: both create contacts, under the same account quota
        // share (`api_rate_per_sec`), and a 429 is retried inside the call the same way.
        self.client
            .send(Call {
                method: "PUT",
                path: "/contact/outbound-chat".to_string(),
                body: Some(&req),
                limiter: &self.api_limiter,
            })
            .await
    }

    async fn queue_metrics(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueMetrics>, ContactCenterError> {
        self.check_instance(instance_id)?;
        self.metrics.get(queue_ids).await
    }

    fn subscribe(&self) -> broadcast::Receiver<ContactEvent> {
        self.events.subscribe()
    }

    async fn describe_contacts(
        &self,
        instance_id: &str,
        contacts: &[ContactRef],
    ) -> Result<BTreeMap<String, ContactState>, ContactCenterError> {
        self.check_instance(instance_id)?;
        Ok(self.lookups.states(instance_id, contacts))
    }
}

/// The engine events of a stored event body; one that no longer parses (stored by another
/// version) implies none.
fn engine_events_of(
    body: serde_json::Value,
    abandon_threshold: chrono::Duration,
) -> Vec<ContactEvent> {
    match serde_json::from_value::<wire::ContactEventEnvelope>(body) {
        Ok(envelope) => wire::engine_events(&envelope, abandon_threshold),
        Err(error) => {
            tracing::warn!(%error, "a stored Amazon Connect event does not parse; skipped");
            Vec::new()
        }
    }
}
