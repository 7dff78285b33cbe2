//! `dialer bench ingest`: accepted dial requests per second through the whole API (signed
//! HTTP, validation, idempotent admission) against plain sqlx inserting the same rows into
//! the same schema with the same concurrency. The ratio says what the engine's guarantees
//! cost over the bare database.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use sqlx::PgPool;
use tokio::task::JoinSet;

use super::{percentiles_ms, InProcessDaemon};
use crate::client::{ApiClient, ClientError};
use crate::config::{Config, EnvOverrides, Rate};
use crate::db::Database;
use crate::queue::store::campaign_pending_add;

/// Options of `dialer bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients in each phase.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Config file of the self-started daemon (database settings are taken from it).
    #[arg(long, default_value = "config/dialer.toml")]
    config: std::path::PathBuf,
}

const BATCH: usize = 25;
/// Alternating rounds per phase.
const ROUNDS: u32 = 4;
const BENCH_KEY: (&str, &str) = ("AKIDBENCH", "bench-secret");

/// Sets up `config` for a daemon the benchmark starts in its own process: on any free port,
/// the benchmark's key, and no rate limit or pending cap (the benchmarks measure the ingest
/// path, not the limiter).
pub(super) fn bench_daemon(config: &mut Config) {
    config.server.listen = "127.0.0.1:0".to_string();
    config.auth.enabled = true;
    config.auth.access_keys = vec![format!("{}:{}", BENCH_KEY.0, BENCH_KEY.1)];
    config.throttling.operations.insert(
        "PutDialRequestBatch".into(),
        Rate {
            per_second: 1e9,
            burst: u32::MAX,
        },
    );
    config.throttling.default = Rate {
        per_second: 1e9,
        burst: u32::MAX,
    };
    config.queue.max_pending_per_campaign = i64::MAX;
}

/// Requests accepted by a load, and each batch's latency.
#[derive(Default)]
pub(super) struct Phase {
    /// Requests accepted.
    pub accepted: u64,
    /// Batches refused whole with ThrottlingException (429), to be sent again.
    pub throttled: u64,
    /// How long the load ran.
    pub elapsed: Duration,
    /// Seconds each accepted batch took.
    pub latencies: Vec<f64>,
}

impl Phase {
    /// Adds a load that ran at the same time as this one.
    pub(super) fn absorb_concurrent(&mut self, other: Phase) {
        self.accepted += other.accepted;
        self.throttled += other.throttled;
        self.elapsed = self.elapsed.max(other.elapsed);
        self.latencies.extend(other.latencies);
    }

    pub(super) fn absorb(&mut self, other: Phase) {
        self.accepted += other.accepted;
        self.throttled += other.throttled;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    pub(super) fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(super) fn report(&mut self, name: &str) -> f64 {
        let rate = self.rate();
        let (p50, p99) = percentiles_ms(&mut self.latencies);
        println!(
            "{name:<10} {:>10} requests in {:>5.1}s  {:>9.0} req/s  batch p50 {:>6.2} ms  p99 {:>6.2} ms{}",
            self.accepted,
            self.elapsed.as_secs_f64(),
            rate,
            p50,
            p99,
            if self.throttled > 0 {
                format!("  ({} batches refused with ThrottlingException)", self.throttled)
            } else {
                String::new()
            }
        );
        rate
    }
}

/// Runs both phases and prints the ratio.
pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.seconds == 0 {
        bail!("--clients and --seconds must be at least 1");
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let mut config = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    bench_daemon(&mut config);
    config.database.max_connections = config.database.max_connections.max(args.clients as u32 + 4);

    let db = Database::open(&config.database).await?;
    let daemon = InProcessDaemon::start(config, db.pools()).await?;
    let (endpoint, config) = (daemon.endpoint.clone(), daemon.config.clone());

    println!(
        "ingest: {} clients, {}s per phase, batches of {BATCH}, engine at {endpoint}",
        args.clients, args.seconds
    );
    let client = Client::new(&endpoint, &config.aws.region);
    // The phases alternate in short rounds so that a noisy neighbour on the machine weighs
    // on both alike.
    let engine_campaign = client.create_campaign().await?;
    let baseline_campaign = client.create_campaign().await?;
    let round_secs = (args.seconds as f64 / ROUNDS as f64).max(1.0);
    let mut engine = Phase::default();
    let mut baseline = Phase::default();
    for n in 0..ROUNDS {
        engine.absorb(
            client
                .drive(&engine_campaign, args.clients, round_secs, n)
                .await?,
        );
        baseline.absorb(raw_sql(&db.pool, &baseline_campaign, args.clients, round_secs, n).await?);
    }

    let e = engine.report("engine");
    let b = baseline.report("raw sql");
    // The figures are printed; how the daemon ends does not change them.
    let _ = daemon.stop().await;
    db.close().await;
    println!(
        "ingest ratio {:.2} ({e:.0}/s engine vs {b:.0}/s raw sql)",
        e / b.max(1e-9)
    );
    Ok(())
}

/// The benchmarks' API client: signs with the benchmark's key.
#[derive(Clone)]
pub(super) struct Client {
    api: ApiClient,
}

impl Client {
    /// A client of the daemon at `endpoint`.
    pub(super) fn new(endpoint: &str, region: &str) -> Self {
        Self {
            api: ApiClient::new(endpoint, region, BENCH_KEY.0, BENCH_KEY.1),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<serde_json::Value> {
        Ok(self.api.call_bytes(method, path, body).await?)
    }

    /// Creates a progressive campaign (not started) and returns its id.
    pub(super) async fn create_campaign(&self) -> anyhow::Result<String> {
        let body = serde_json::json!({
            "name": "bench-ingest",
            "connectInstanceId": "bench",
            "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": 1.0}},
            "outboundCallConfig": {"connectContactFlowId": "flow"},
        });
        let created = self
            .call("PUT", "/campaigns", serde_json::to_vec(&body)?)
            .await?;
        created["id"]
            .as_str()
            .map(str::to_string)
            .context("CreateCampaign returned no id")
    }

    /// `clients` workers sending batches of 25 into `campaign` for `seconds`; `round` keeps
    /// the client tokens of successive calls apart.
    pub(super) async fn drive(
        &self,
        campaign: &str,
        clients: usize,
        seconds: f64,
        round: u32,
    ) -> anyhow::Result<Phase> {
        let path = format!("/campaigns/{campaign}/dial-requests");
        let client = self.clone();
        load(clients, seconds, move |worker, first| {
            let (client, path) = (client.clone(), path.clone());
            async move {
                let expiration = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
                let requests: Vec<serde_json::Value> = (first..first + BATCH as u64)
                    .map(|seq| {
                        serde_json::json!({
                            "clientToken": format!("r{round}-w{worker}-{seq}"),
                            "phoneNumber": phone(worker, seq),
                            "expirationTime": expiration,
                            "attributes": {"customer": format!("c{seq}")},
                        })
                    })
                    .collect();
                let body = serde_json::to_vec(&serde_json::json!({ "dialRequests": requests }))?;
                match client.api.call_bytes("PUT", &path, body).await {
                    Ok(answer) => Ok(Some(
                        answer["successfulRequests"].as_array().map_or(0, Vec::len) as u64,
                    )),
                    // The daemon is busy with as many batches as it takes at once: back
                    // off as an SDK does, then send the next batch.
                    Err(ClientError::Api {
                        status: 429,
                        error_type: Some(error_type),
                        ..
                    }) if error_type == "ThrottlingException" => {
                        tokio::time::sleep(THROTTLED_BACKOFF).await;
                        Ok(None)
                    }
                    Err(error) => Err(error.into()),
                }
            }
        })
        .await
    }
}

/// How long a client waits after a batch refused with ThrottlingException. Short: the
/// benchmark measures how much the daemon takes, and a refusal is answered at once.
const THROTTLED_BACKOFF: Duration = Duration::from_millis(5);

/// Runs `clients` workers for `seconds`; each repeatedly sends one batch with
/// `send(worker, first request number)` and counts the requests accepted (`None`: the batch
/// was refused whole, to be sent again).
async fn load<F, Fut>(clients: usize, seconds: f64, send: F) -> anyhow::Result<Phase>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Option<u64>>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..clients {
        let send = send.clone();
        tasks.spawn(async move {
            let (mut accepted, mut throttled, mut latencies, mut next) =
                (0u64, 0u64, Vec::new(), 0u64);
            while Instant::now() < deadline {
                let sent = Instant::now();
                match send(worker, next).await? {
                    Some(n) => {
                        accepted += n;
                        latencies.push(sent.elapsed().as_secs_f64());
                        next += BATCH as u64;
                    }
                    None => throttled += 1,
                }
            }
            anyhow::Ok((accepted, throttled, latencies))
        });
    }
    collect(tasks, started).await
}

fn phone(worker: usize, seq: u64) -> String {
    format!("+1415555{:04}", (worker as u64 * 7919 + seq) % 10_000)
}

async fn collect(
    mut tasks: JoinSet<anyhow::Result<(u64, u64, Vec<f64>)>>,
    started: Instant,
) -> anyhow::Result<Phase> {
    let mut phase = Phase::default();
    while let Some(joined) = tasks.join_next().await {
        let (accepted, throttled, latencies) = joined??;
        phase.accepted += accepted;
        phase.throttled += throttled;
        phase.latencies.extend(latencies);
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

/// The baseline: the same rows, one multi-row UNNEST insert per batch, no API, no checks.
async fn raw_sql(
    pool: &PgPool,
    campaign: &str,
    clients: usize,
    seconds: f64,
    round: u32,
) -> anyhow::Result<Phase> {
    let (pool_for_load, campaign_for_load) = (pool.clone(), campaign.to_string());
    let phase = load(clients, seconds, move |worker, first| {
        let (pool, campaign) = (pool_for_load.clone(), campaign_for_load.clone());
        async move {
            let seqs = first..first + BATCH as u64;
            let tokens: Vec<String> = seqs.clone().map(|seq| format!("raw-r{round}-w{worker}-{seq}")).collect();
            let phones: Vec<String> = seqs.clone().map(|seq| phone(worker, seq)).collect();
            let attributes: Vec<serde_json::Value> = seqs
                .map(|seq| serde_json::json!({"customer": format!("c{seq}")}))
                .collect();
            let expires = Utc::now() + chrono::Duration::hours(1);
            let inserted = sqlx::query(
                "insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest)
                 select gen_random_uuid(), $1, t, p, $4, a, '\\x00'::bytea
                 from unnest($2::text[], $3::text[], $5::jsonb[]) as u(t, p, a)",
            )
            .bind(&campaign)
            .bind(&tokens)
            .bind(&phones)
            .bind(expires)
            .bind(&attributes)
            .execute(&pool)
            .await?
            .rows_affected();
            Ok(Some(inserted))
        }
    })
    .await?;

    // Keep the pending counter true for the rows the baseline added behind its back.
    campaign_pending_add(pool, campaign, phase.accepted as i64).await?;
    Ok(phase)
}
