//! `dialer bench soak`: ingest, dialing and retention at once, for minutes, with the
//! retention shortened to minutes, watching whether the tables that grow with traffic level
//! off.
//!
//! A daemon built as `serve` builds it (API, engine, sweeper) runs on a scratch database with
//! the simulated center (short calls, many agents) and a progressive campaign. A client feeds
//! it signed PutDialRequestBatch calls at a steady rate; the engine dials them; the sweeper
//! deletes what is older than `--retention-minutes`. The rows and on-disk size
//! (`pg_total_relation_size`, indexes and TOAST included) of each table are printed at the
//! start, every `--report-secs` and at the end. The last line compares each retained table's
//! growth over the second half of the run with its growth over the first: without retention
//! both halves grow alike (ratio 1); a table that has levelled off grows by little or nothing
//! in the second half.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::InProcessDaemon;
use crate::client::ApiClient;
use crate::config::{Config, EnvOverrides, Rate};
use crate::contact_center::sim::model::{CustomerConfig, Dist, HandleTime, QueueConfig, SimConfig};
use crate::contact_center::BATCH_MAX_CONTACTS;
use crate::db::scratch::ScratchDatabase;
use crate::metrics as m;

/// Options of `dialer bench soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// How long the soak runs, in minutes (fractions allowed).
    #[arg(long, default_value_t = 7.0)]
    pub minutes: f64,
    /// `queue.retention_days` of the daemon, in minutes.
    #[arg(long, default_value_t = 2.0)]
    pub retention_minutes: f64,
    /// Dial requests offered per second (in batches of 25).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Agents of the simulated center's queue (calls last one to three seconds).
    #[arg(long, default_value_t = 300)]
    pub agents: u32,
    /// Seconds between table-size reports.
    #[arg(long, default_value_t = 30.0)]
    pub report_secs: f64,
    /// Config file; database settings are taken from it.
    #[arg(long, default_value = "config/dialer.toml")]
    pub config: PathBuf,
}

const BENCH_KEY: (&str, &str) = ("AKIDBENCH", "bench-secret");
const SOAK_QUEUE: &str = "soak";
/// The tables whose rows retention deletes, and (last) the hourly counts it keeps.
const TABLES: [&str; 5] = [
    "dial_request",
    "contact_batch",
    "contact_batch_contact",
    "sim_ledger",
    "campaign_hourly",
];
/// The retained tables: each must grow in the run's second half by at most this share of
/// its first half's growth to count as levelled off.
const LEVEL_SHARE: f64 = 0.25;

/// One table's size at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct TableSize {
    rows: i64,
    bytes: i64,
}

/// Every table's size, and the traffic so far, at one moment.
#[derive(Debug, Clone)]
struct Sample {
    at: Duration,
    tables: Vec<TableSize>,
    accepted: u64,
    dials: i64,
    deleted: f64,
    live: i64,
}

/// What the soak found (for the tests).
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Requests the API accepted.
    pub accepted: u64,
    /// Contacts the engine created.
    pub dials: i64,
    /// Requests retention deleted.
    pub deleted: f64,
    /// Whether every retained table levelled off.
    pub levelled: bool,
}

/// Runs the soak and prints its figures.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    soak(args).await.map(|_| ())
}

/// Runs the soak; returns what it found.
pub async fn soak(args: SoakArgs) -> anyhow::Result<SoakReport> {
    if !(args.minutes > 0.0 && args.retention_minutes > 0.0 && args.rate > 0.0) {
        bail!("--minutes, --retention-minutes and --rate must be greater than 0");
    }
    if !(args.report_secs >= 1.0 && args.agents > 0) {
        bail!("--report-secs must be at least 1 and --agents at least 1");
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let mut config = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    configure(&mut config, &args);
    let problems = config.validate();
    if !problems.is_empty() {
        bail!("soak settings invalid: {}", problems.join("; "));
    }
    let scratch = ScratchDatabase::create(&config.database, "soak").await?;
    let outcome = drive(&args, config, scratch.pool()).await;
    scratch.drop().await?;
    outcome
}

/// The daemon's settings: the file's database, everything else the soak's.
fn configure(config: &mut Config, args: &SoakArgs) {
    config.server.listen = "127.0.0.1:0".to_string();
    config.auth.enabled = true;
    config.auth.access_keys = vec![format!("{}:{}", BENCH_KEY.0, BENCH_KEY.1)];
    let unlimited = Rate {
        per_second: 1e9,
        burst: u32::MAX,
    };
    config.throttling.default = unlimited;
    config
        .throttling
        .operations
        .insert("PutDialRequestBatch".into(), unlimited);
    config.queue.retention_days = args.retention_minutes / 1440.0;
    config.queue.sweep_interval_secs = 1.0;
    config.engine.enabled = true;
    config.engine.total_lines = args.agents.saturating_mul(2);
    config.database.max_connections = config.database.max_connections.max(24);
    // Calls of one to three seconds, half of them answered: the engine finishes requests as
    // fast as they arrive, so the tables' growth is retention's to stop, not a backlog's.
    config.contact_center.sim = SimConfig {
        time_scale: 1.0,
        queues: vec![QueueConfig {
            handle_time: HandleTime::Split {
                total: Dist::Uniform {
                    min_secs: 1.0,
                    max_secs: 3.0,
                },
                wrap_share: 0.2,
            },
            ..QueueConfig::new(SOAK_QUEUE, args.agents)
        }],
        customers: CustomerConfig {
            answer_probability: 0.5,
            answer_delay: Dist::Uniform {
                min_secs: 0.2,
                max_secs: 1.0,
            },
            machine_probability: 0.0,
            fail_fast_probability: 0.15,
            fail_fast_secs: 0.3,
            ring_timeout_secs: 2.0,
            ..CustomerConfig::default()
        },
        ..SimConfig::default()
    };
}

async fn drive(args: &SoakArgs, config: Config, pool: &PgPool) -> anyhow::Result<SoakReport> {
    let metrics = m::install();
    let daemon = InProcessDaemon::start(config, pool.clone()).await?;
    let (endpoint, config) = (daemon.endpoint.clone(), daemon.config.clone());
    let api = ApiClient::new(&endpoint, &config.aws.region, BENCH_KEY.0, BENCH_KEY.1);
    let campaign = start_campaign(&api).await?;
    println!(
        "soak: {:.1} min, {:.0} requests/s offered, retention {:.1} min ({} days), {} agents, engine at {endpoint}",
        args.minutes, args.rate, args.retention_minutes, config.queue.retention_days, args.agents
    );

    let accepted = Arc::new(AtomicU64::new(0));
    let feeding = CancellationToken::new();
    let feeder = tokio::spawn(feed(
        api.clone(),
        campaign.clone(),
        args.rate,
        accepted.clone(),
        feeding.clone(),
    ));
    let started = Instant::now();
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let every = Duration::from_secs_f64(args.report_secs);
    let mut samples = Vec::new();
    let mut reported = sample(pool, started, &accepted, &metrics).await?;
    print_sample("start", &reported);
    samples.push(reported.clone());
    while started.elapsed() < total {
        let next = (reported.at + every).min(total);
        tokio::time::sleep(next.saturating_sub(started.elapsed())).await;
        if feeder.is_finished() {
            break;
        }
        reported = sample(pool, started, &accepted, &metrics).await?;
        let label = if started.elapsed() >= total {
            "end"
        } else {
            "now"
        };
        print_sample(label, &reported);
        samples.push(reported.clone());
    }
    feeding.cancel();
    let fed = feeder.await.context("the feeder panicked")?;
    let served = daemon.stop().await;
    fed?;
    served?;

    let (levelled, verdict) = verdict(&samples, args);
    let last = samples.last().cloned().unwrap_or(reported);
    println!(
        "soak totals: {} accepted, {} dialed, {:.0} deleted by retention",
        last.accepted, last.dials, last.deleted
    );
    println!("{verdict}");
    Ok(SoakReport {
        accepted: last.accepted,
        dials: last.dials,
        deleted: last.deleted,
        levelled,
    })
}

/// Creates and starts a progressive campaign on the soak's queue.
async fn start_campaign(api: &ApiClient) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "name": "bench-soak",
        "connectInstanceId": "bench",
        "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": 1.0}},
        "outboundCallConfig": {"connectContactFlowId": "flow", "connectQueueId": SOAK_QUEUE},
    });
    let created = api.call("PUT", "/campaigns", Some(&body)).await?;
    let id = created["id"]
        .as_str()
        .map(str::to_string)
        .context("CreateCampaign returned no id")?;
    api.call("POST", &format!("/campaigns/{id}/start"), None)
        .await?;
    Ok(id)
}

/// Sends a batch of 25 every `25 / rate` seconds until `stop` fires, counting the requests
/// accepted. A batch the API refuses ends the soak: its figures would mean nothing.
async fn feed(
    api: ApiClient,
    campaign: String,
    rate: f64,
    accepted: Arc<AtomicU64>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let path = format!("/campaigns/{campaign}/dial-requests");
    let mut ticker =
        tokio::time::interval(Duration::from_secs_f64(BATCH_MAX_CONTACTS as f64 / rate));
    // Behind schedule (a slow answer), catch up at once rather than lose the offered rate.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut seq: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let expiration = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let requests: Vec<serde_json::Value> = (seq..seq + BATCH_MAX_CONTACTS as u64)
            .map(|n| {
                serde_json::json!({
                    "clientToken": format!("soak-{n}"),
                    "phoneNumber": format!("+1415555{:04}", n % 10_000),
                    "expirationTime": expiration,
                    "attributes": {"customer": format!("c{n}")},
                })
            })
            .collect();
        seq += BATCH_MAX_CONTACTS as u64;
        let body = serde_json::json!({ "dialRequests": requests });
        let answer = api.call("PUT", &path, Some(&body)).await?;
        let ok = answer["successfulRequests"].as_array().map_or(0, Vec::len);
        accepted.fetch_add(ok as u64, Ordering::Relaxed);
    }
}

async fn sample(
    pool: &PgPool,
    started: Instant,
    accepted: &AtomicU64,
    metrics: &metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<Sample> {
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        // Table names are the constants above, never input.
        let (rows, bytes): (i64, i64) = sqlx::query_as(&format!(
            "select count(*), pg_total_relation_size('{table}') from {table}"
        ))
        .fetch_one(pool)
        .await?;
        tables.push(TableSize { rows, bytes });
    }
    let (dials, live): (i64, i64) = sqlx::query_as(
        "select (select coalesce(sum(dials), 0)::bigint from campaign_hourly),
                (select count(*) from dial_request where state in ('pending', 'in_progress'))",
    )
    .fetch_one(pool)
    .await?;
    let deleted = m::render(metrics)
        .lines()
        .filter(|l| l.starts_with(m::DIAL_REQUESTS_DELETED) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        // Not `sum()`: an empty f64 sum is -0.
        .fold(0.0, |total, n| total + n);
    Ok(Sample {
        at: started.elapsed(),
        tables,
        accepted: accepted.load(Ordering::Relaxed),
        dials,
        deleted,
        live,
    })
}

fn print_sample(label: &str, s: &Sample) {
    let tables: Vec<String> = TABLES
        .iter()
        .zip(&s.tables)
        .map(|(name, t)| format!("{name} {} rows {}", t.rows, mib(t.bytes)))
        .collect();
    println!(
        "{label:<5} {:>5.0}s  accepted {:>7}  dialed {:>7}  deleted {:>7.0}  pending+in progress {:>5} | {}",
        s.at.as_secs_f64(),
        s.accepted,
        s.dials,
        s.deleted,
        s.live,
        tables.join(" | ")
    );
}

fn mib(bytes: i64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Compares each retained table's growth over the second half of the run (midpoint sample
/// to the last) with its growth over the first (first sample to the midpoint), in rows and
/// in bytes. Returns whether all levelled off, and the line that says so.
fn verdict(samples: &[Sample], args: &SoakArgs) -> (bool, String) {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return (false, "soak: no samples".to_string());
    };
    let half = last.at / 2;
    let Some(mid) = samples.iter().min_by_key(|s| s.at.abs_diff(half)) else {
        return (false, "soak: no samples".to_string());
    };
    let mut levelled = true;
    let mut parts = Vec::new();
    // campaign_hourly is kept by design (one row per campaign, hour and shard): left out.
    for (i, name) in TABLES.iter().enumerate().take(TABLES.len() - 1) {
        let share = |f: fn(&TableSize) -> i64| {
            let before = (f(&mid.tables[i]) - f(&first.tables[i])).max(1) as f64;
            let after = (f(&last.tables[i]) - f(&mid.tables[i])) as f64;
            after / before
        };
        let (rows, bytes) = (share(|t| t.rows), share(|t| t.bytes));
        levelled &= rows <= LEVEL_SHARE && bytes <= LEVEL_SHARE;
        parts.push(format!("{name} rows {rows:+.2} bytes {bytes:+.2}"));
    }
    let short = mid.at.as_secs_f64() < args.retention_minutes * 60.0 + 30.0;
    let note = if short {
        " (run shorter than twice the retention plus a minute: the first half is still filling)"
    } else {
        ""
    };
    let word = if levelled {
        "levelled off"
    } else {
        "did NOT level off"
    };
    (
        levelled,
        format!(
            "soak: tables {word}: second-half growth / first-half growth: {} (level: <= {LEVEL_SHARE}){note}",
            parts.join(", ")
        ),
    )
}
