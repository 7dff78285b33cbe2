//! `dialer bench dispatch`: how fast the engine turns a preloaded backlog into contacts,
//! against the bare claim SQL moving the same rows with the same concurrency, and how soon a
//! freed agent gets its next contact.
//!
//! Phases in one scratch database:
//! 1. latency: a progressive campaign, a few agents with short handle times, customers who
//!    answer at once. A subscriber of the simulated center times each agent's `Completed`
//!    event to the next contact's `Initiated` event (first freed, first served); the engine's
//!    own `dialer_agent_free_to_contact_seconds` histogram is read alongside.
//! 2. engine: a progressive campaign with the backlog, a center with unlimited agents, zero
//!    answer and handle times, and `engine.total_lines` high: contacts created per second
//!    (the `dials` column the engine adds to when it records created contacts).
//! 3. raw claim: another campaign with the same backlog, plain sqlx claiming 25 rows at a time
//!    (select for update skip locked, update to `in_progress`) from as many tasks as the
//!    engine makes calls at once: no contact center, no batches, no events.
//!
//! Phases 2 and 3 alternate in rounds (the engine's campaign paused between its rounds), so
//! that both meet the same moments of a machine whose commit latency changes by the minute.
//! The simulated center runs at `time_scale` 1.0: its durations are zero except the latency
//! phase's handle time, which is meant as wall time.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Expiry;
use super::{create_campaign, insert_pending, percentiles_ms, set_campaign_state, settle};
use crate::campaigns::{AgentDialerConfig, CampaignState, DialerConfig};
use crate::clock::WallClock;
use crate::config::{Config, EnvOverrides};
use crate::contact_center::connect::AmazonConnectConfig;
use crate::contact_center::sim::model::{CustomerConfig, Dist, HandleTime, QueueConfig, SimConfig};
use crate::contact_center::{Backend, ContactCenter, ContactEventKind, BATCH_MAX_CONTACTS};
use crate::db::scratch::ScratchDatabase;
use crate::metrics as m;
use crate::queue::store::campaign_pending_count;

/// Options of `dialer bench dispatch`.
#[derive(Debug, clap::Args)]
pub struct DispatchArgs {
    /// Seconds each phase measures.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Pending requests preloaded for the engine, and again for the raw claim.
    #[arg(long, default_value_t = 200_000)]
    backlog: i64,
    /// Agents in the latency phase.
    #[arg(long, default_value_t = 4)]
    agents: u32,
    /// Handle time of each contact in the latency phase, in milliseconds.
    #[arg(long, default_value_t = 100)]
    handle_ms: u64,
    /// Config file; database, engine and pacing settings are taken from it.
    #[arg(long, default_value = "config/dialer.toml")]
    config: PathBuf,
    /// Also measure the engine over the wire: the Amazon Connect backend against an
    /// emulator (in this process, over loopback HTTP) answering every call this many
    /// milliseconds late.
    #[arg(long, value_name = "MS")]
    wire_latency_ms: Option<u64>,
    /// Entries on the account's do-not-call list (none of them a benchmark number), so that
    /// every claimed request is looked up in a list of that size.
    #[arg(long, default_value_t = 0)]
    dnc_entries: i64,
    /// Give the campaigns two communication limits of their own and their instance two,
    /// none of which a recipient reaches, so that every claimed request is counted against
    /// all four.
    #[arg(long)]
    limits: bool,
    /// Give the engine's campaign calling hours (midnight to noon every day, local time)
    /// and each of its requests a time zone, every other one where the hours are closed
    /// now: half of what each claim takes waits for its hours instead of being dialed.
    #[arg(long)]
    windows: bool,
}

/// Lines the engine may use in the throughput phase: more than it can fill in a run, so
/// only the engine's own speed limits it.
const TOTAL_LINES: u32 = 100_000;
/// Agents of the throughput phase's queue: as good as unlimited.
const UNLIMITED_AGENTS: u32 = 100_000;
/// Requests preloaded for the latency phase; far more than a few agents use in a run.
const LATENCY_BACKLOG: i64 = 20_000;
const THROUGHPUT_QUEUE: &str = "bench-unlimited";
/// The instance the benchmark's campaigns name (see [`super::create_campaign`]).
const BENCH_INSTANCE: &str = "bench";
const LATENCY_QUEUE: &str = "bench-few";
/// Database connections of the benchmark's pool.
const BENCH_CONNECTIONS: u32 = 48;
/// Rounds of engine and raw claim in the throughput phases.
const ROUNDS: u32 = 4;
/// How often the throughput phase reads the engine's progress.
const POLL: Duration = Duration::from_millis(200);
/// Longest wait for the engine's first contact.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the three phases and prints the ratio.
pub async fn run(args: DispatchArgs) -> anyhow::Result<()> {
    if args.seconds == 0 || args.backlog < BATCH_MAX_CONTACTS as i64 || args.agents == 0 {
        bail!(
            "--seconds and --agents must be at least 1 and --backlog at least {BATCH_MAX_CONTACTS}"
        );
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let mut config = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    config.engine.enabled = true;
    config.engine.total_lines = TOTAL_LINES;
    let calls = config.engine.max_concurrent_calls;
    // Enough for every stage at once: the calls, the batches recording their answers (up to
    // eight per call slot), the event writers, the scheduler and the benchmark's own reads.
    config.database.max_connections = config.database.max_connections.max(BENCH_CONNECTIONS);
    let metrics = m::install();

    let scratch = ScratchDatabase::create(&config.database, "bench_dispatch").await?;
    println!(
        "dispatch: backlog {}, {}s per side in {ROUNDS} rounds, {calls} concurrent calls, raw claims of {BATCH_MAX_CONTACTS}, engine.total_lines {TOTAL_LINES}",
        args.backlog, args.seconds
    );
    let measured = phases(&args, &config, scratch.pool(), &metrics).await;
    let dropped = scratch.drop().await;
    let (engine, raw, wire) = measured?;
    dropped?;
    if let (Some(wire), Some(latency_ms)) = (wire, args.wire_latency_ms) {
        println!(
            "wire ratio {:.2} ({wire:.0}/s over the wire with {latency_ms} ms per call vs {engine:.0}/s in process)",
            wire / engine.max(1e-9)
        );
    }
    println!(
        "dispatch ratio {:.2} ({engine:.0}/s engine vs {raw:.0}/s raw claim)",
        engine / raw.max(1e-9)
    );
    Ok(())
}

/// Runs the phases; returns (engine contacts/s, raw claims/s, over-the-wire contacts/s).
async fn phases(
    args: &DispatchArgs,
    config: &Config,
    pool: &PgPool,
    metrics: &PrometheusHandle,
) -> anyhow::Result<(f64, f64, Option<f64>)> {
    let progressive = || {
        DialerConfig::ProgressiveDialerConfig(AgentDialerConfig {
            bandwidth_allocation: 1.0,
            dialing_capacity: None,
        })
    };
    let stopped = CampaignState::Stopped;
    let latency_campaign = create_campaign(
        pool,
        "bench-latency",
        progressive(),
        Some(LATENCY_QUEUE),
        stopped,
    )
    .await?;
    let engine_campaign = create_campaign(
        pool,
        "bench-engine",
        progressive(),
        Some(THROUGHPUT_QUEUE),
        stopped,
    )
    .await?;
    let raw_campaign = create_campaign(
        pool,
        "bench-raw",
        progressive(),
        None,
        CampaignState::Initialized,
    )
    .await?;
    let valid = Expiry::InOrder { after_secs: 7200.0 };
    insert_pending(pool, &latency_campaign, 0, LATENCY_BACKLOG, valid).await?;
    insert_pending(pool, &engine_campaign, 0, args.backlog, valid).await?;
    insert_pending(pool, &raw_campaign, 0, args.backlog, valid).await?;
    let wire_campaign = match args.wire_latency_ms {
        Some(_) => {
            let campaign = create_campaign(
                pool,
                "bench-wire",
                progressive(),
                Some(THROUGHPUT_QUEUE),
                stopped,
            )
            .await?;
            insert_pending(pool, &campaign, 0, args.backlog, valid).await?;
            Some(campaign)
        }
        None => None,
    };
    if args.dnc_entries > 0 {
        // Numbers under +1212 never match the benchmark's +1415 ones.
        sqlx::query(
            "insert into do_not_call (account_id, list, number_hash)
             select $1, '', number_hash('+1212' || lpad(i::text, 7, '0'))
             from generate_series(1, $2) as i",
        )
        .bind(crate::config::ACCOUNT_ID_DEFAULT)
        .bind(args.dnc_entries)
        .execute(pool)
        .await?;
        println!(
            "do-not-call: {} entries on the account's list",
            args.dnc_entries
        );
    }
    if args.limits {
        limit_everything(pool).await?;
    }
    if args.windows {
        half_closed_hours(pool, &engine_campaign, chrono::Utc::now()).await?;
    }
    settle(pool).await?;
    latency(args, config, pool, metrics, &latency_campaign).await?;
    let (engine, raw) =
        throughput(args, config, pool, metrics, &engine_campaign, &raw_campaign).await?;
    let wire = match (wire_campaign, args.wire_latency_ms) {
        (Some(campaign), Some(latency_ms)) => {
            Some(over_the_wire(args, config, pool, &campaign, latency_ms).await?)
        }
        _ => None,
    };
    Ok((engine, raw, wire))
}

/// Puts communication limits no recipient reaches on every campaign and on their instance
/// (the v2 model's maximum of two each, windows of 1 and 30 days).
async fn limit_everything(pool: &PgPool) -> anyhow::Result<()> {
    let limits = serde_json::json!({"communicationLimitsList": [
        {"maxCountPerRecipient": 1_000_000, "frequency": 1, "unit": "DAY"},
        {"maxCountPerRecipient": 1_000_000, "frequency": 30, "unit": "DAY"},
    ]});
    sqlx::query("update campaign set communication_limits_override = $1")
        .bind(serde_json::json!({"allChannelSubtypes": limits, "instanceLimitsHandling": "OPT_IN"}))
        .execute(pool)
        .await?;
    sqlx::query(
        "insert into connect_instance_config (account_id, instance_id, service_linked_role_arn, encryption_config, communication_limits)
         select distinct account_id, connect_instance_id, 'arn:aws:iam::' || account_id || ':role/bench', '{}'::jsonb, $1
         from campaign
         on conflict (account_id, instance_id) do update set communication_limits = excluded.communication_limits",
    )
    .bind(serde_json::json!({"allChannelSubtypes": limits}))
    .execute(pool)
    .await?;
    println!("limits: two per campaign and two on the instance, never reached");
    Ok(())
}

/// Gives `campaign` calling hours from midnight to noon every day and its requests, in
/// turn, a zone three hours past midnight and one three hours past noon at `now`
/// (`Etc/GMT` zones, by the default `engine.time_zone_attribute`): half of them can be
/// dialed, for nine hours, and half wait for their next midnight.
async fn half_closed_hours(
    pool: &PgPool,
    campaign: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let mornings: serde_json::Map<String, serde_json::Value> = crate::rules::window::DAYS
        .iter()
        .map(|day| {
            (
                day.to_string(),
                serde_json::json!([{"startTime": "T00:00", "endTime": "T12:00"}]),
            )
        })
        .collect();
    let hours = serde_json::json!({
        "localTimeZoneConfig": {},
        "telephony": {"openHours": {"dailyHours": mornings}},
    });
    let [open, closed] = [3, 15].map(|local_hour| etc_zone_at(local_hour, now));
    sqlx::query("update campaign set communication_time_config = $2 where id = $1")
        .bind(campaign)
        .bind(&hours)
        .execute(pool)
        .await?;
    sqlx::query(
        "update dial_request
         set attributes = attributes || jsonb_build_object('timeZone',
             case when substr(client_token, 7)::bigint % 2 = 0 then $2 else $3 end)
         where campaign_id = $1",
    )
    .bind(campaign)
    .bind(&open)
    .bind(&closed)
    .execute(pool)
    .await?;
    println!(
        "windows: hours 00:00-12:00, half the requests in {open} (open), half in {closed} (closed)"
    );
    Ok(())
}

/// The `Etc/GMT` zone whose local hour at `now` is `local_hour`, within a half-hour (the
/// zones are whole hours from UTC, -12 to +11 here).
fn etc_zone_at(local_hour: i64, now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let offset = (local_hour - i64::from(now.hour())).rem_euclid(24);
    let offset = if offset > 11 { offset - 24 } else { offset };
    // POSIX signs: Etc/GMT-3 is three hours east of UTC.
    match offset {
        0 => "Etc/GMT".to_string(),
        east if east > 0 => format!("Etc/GMT-{east}"),
        west => format!("Etc/GMT+{}", -west),
    }
}

/// The throughput phase's engine on the Amazon Connect backend, against an emulator that
/// answers each call `latency_ms` late: the engine must keep several calls in flight to
/// stay near its in-process rate. Returns contacts/s.
async fn over_the_wire(
    args: &DispatchArgs,
    config: &Config,
    pool: &PgPool,
    campaign: &str,
    latency_ms: u64,
) -> anyhow::Result<f64> {
    const KEY: (&str, &str) = ("AKIDBENCHWIRE", "bench-wire-secret");
    let mut emulated = config.clone();
    emulated.contact_center.sim = sim_config(THROUGHPUT_QUEUE, UNLIMITED_AGENTS, 0.0);
    emulated.auth.enabled = true;
    emulated.auth.access_keys = vec![format!("{}:{}", KEY.0, KEY.1)];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let emulator_args = EmulatorCli::try_parse_from([
        "connect-emulator",
        "--instance-id",
        BENCH_INSTANCE,
        "--latency-ms",
        &latency_ms.to_string(),
    ])?
    .args;
    let stop_emulator = CancellationToken::new();
    let emulator = tokio::spawn(crate::contact_center::emulator::serve(
        emulator_args,
        emulated,
        pool.clone(),
        listener,
        stop_emulator.clone(),
    ));
    let connect_config = AmazonConnectConfig {
        instance_id: BENCH_INSTANCE.to_string(),
        endpoint,
        // The emulator is unthrottled: the engine's own pace is measured, not a quota.
        api_rate_per_sec: 100_000.0,
        api_burst: 1000,
        metrics_interval_secs: 0.2,
        metrics_rate_per_sec: 100.0,
        ..AmazonConnectConfig::default()
    };
    let connect = super::connect_signed_with(&connect_config, &config.aws.region, pool, KEY)?;
    let backend = Backend::amazon_connect(connect, Arc::new(WallClock));
    let engine = Engine::start_with(pool, config, backend, CancellationToken::new());
    let window = engine
        .window(pool, campaign, Duration::from_secs(args.seconds))
        .await;
    engine.stop().await;
    stop_emulator.cancel();
    emulator.await??;
    let tally = window?;
    println!(
        "wire       {:>10} contacts in {:>5.1}s  {:>9.0} contacts/s  (Amazon Connect backend, emulator answering {latency_ms} ms late, {} calls at once)",
        tally.rows,
        tally.secs,
        tally.rate(),
        config.engine.max_concurrent_calls,
    );
    Ok(tally.rate())
}

/// `connect-emulator`'s options, parsed as its command line would be.
#[derive(clap::Parser)]
pub(super) struct EmulatorCli {
    #[command(flatten)]
    pub(super) args: crate::contact_center::emulator::EmulatorArgs,
}

/// Customers who answer at once and are never busy, invalid or machines.
fn instant_customers() -> CustomerConfig {
    CustomerConfig {
        answer_probability: 1.0,
        fail_fast_probability: 0.0,
        machine_probability: 0.0,
        answer_delay: Dist::Fixed { secs: 0.0 },
        ..CustomerConfig::default()
    }
}

pub(super) fn sim_config(queue_id: &str, agents: u32, handle_secs: f64) -> SimConfig {
    SimConfig {
        time_scale: 1.0,
        queues: vec![QueueConfig {
            handle_time: HandleTime::fixed(handle_secs),
            ..QueueConfig::new(queue_id, agents)
        }],
        customers: instant_customers(),
        ..SimConfig::default()
    }
}

/// Phase 1: agent free to contact created.
async fn latency(
    args: &DispatchArgs,
    config: &Config,
    pool: &PgPool,
    metrics: &PrometheusHandle,
    campaign: &str,
) -> anyhow::Result<()> {
    let handle_secs = args.handle_ms as f64 / 1000.0;
    let engine = Engine::start(
        pool,
        config,
        sim_config(LATENCY_QUEUE, args.agents, handle_secs),
    )
    .await?;
    set_campaign_state(pool, campaign, CampaignState::Running).await?;
    let measured = free_to_contact(
        engine.center.as_ref(),
        metrics,
        Duration::from_secs(args.seconds),
    )
    .await;
    set_campaign_state(pool, campaign, CampaignState::Stopped).await?;
    engine.stop().await;
    let FreeToContactRun {
        mut samples,
        lagged,
        recorded,
    } = measured;

    let contacts = samples.len();
    let (p50, p99) = percentiles_ms(&mut samples);
    let estimate = |q: f64| recorded.quantile(q).map_or(f64::NAN, |s| s * 1000.0);
    println!(
        "latency    {} agents, handle {} ms: {contacts} contacts for freed agents; agent free -> contact created p50 {p50:.2} ms  p99 {p99:.2} ms{}",
        args.agents,
        args.handle_ms,
        if lagged > 0 {
            format!(" ({lagged} events missed)")
        } else {
            String::new()
        }
    );
    println!(
        "           engine histogram {}: {:.0} samples, p50 ~{:.2} ms  p99 ~{:.2} ms (bucket interpolation)",
        m::AGENT_FREE_TO_CONTACT,
        recorded.count,
        estimate(0.50),
        estimate(0.99)
    );
    Ok(())
}

/// What [`free_to_contact`] measured.
#[derive(Default)]
pub(super) struct FreeToContactRun {
    /// Seconds from each freed agent to the next contact created.
    pub samples: Vec<f64>,
    /// Events of the center missed by the subscriber (it fell behind).
    pub lagged: u64,
    /// What the engine's own histogram recorded meanwhile.
    pub recorded: Histogram,
}

impl FreeToContactRun {
    /// Adds a later run of the same phase.
    pub(super) fn absorb(&mut self, other: FreeToContactRun) {
        self.samples.extend(other.samples);
        self.lagged += other.lagged;
        self.recorded = self.recorded.plus(&other.recorded);
    }
}

/// Times, for `length`, each agent's `Completed` event of `center` to the next contact's
/// `Initiated` event (first freed, first served), and reads the engine's
/// `dialer_agent_free_to_contact_seconds` histogram over the same time. The campaign must
/// be running.
pub(super) async fn free_to_contact(
    center: &dyn ContactCenter,
    metrics: &PrometheusHandle,
    length: Duration,
) -> FreeToContactRun {
    let mut events = center.subscribe();
    let before = Histogram::parse(&metrics.render(), m::AGENT_FREE_TO_CONTACT);
    let deadline = tokio::time::Instant::now() + length;
    let mut pairs = FreeToContact::default();
    let mut samples = Vec::new();
    let mut lagged = 0;
    loop {
        let received = tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            received = events.recv() => received,
        };
        match received {
            Ok(event) => match event.kind {
                ContactEventKind::Completed => pairs.agent_freed(Instant::now()),
                ContactEventKind::Initiated => {
                    if let Some(latency) = pairs.contact_created(Instant::now()) {
                        samples.push(latency.as_secs_f64());
                    }
                }
                _ => {}
            },
            Err(broadcast::error::RecvError::Lagged(n)) => lagged += n,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    let recorded = Histogram::parse(&metrics.render(), m::AGENT_FREE_TO_CONTACT).since(&before);
    FreeToContactRun {
        samples,
        lagged,
        recorded,
    }
}

/// Phases 2 and 3 in alternating rounds, so that both sides meet the same moments of the
/// machine (the commit latency of a shared disk changes from one minute to the next).
/// Returns (engine contacts/s, raw claims/s).
async fn throughput(
    args: &DispatchArgs,
    config: &Config,
    pool: &PgPool,
    metrics: &PrometheusHandle,
    engine_campaign: &str,
    raw_campaign: &str,
) -> anyhow::Result<(f64, f64)> {
    let round = Duration::from_secs_f64(args.seconds as f64 / ROUNDS as f64);
    let engine = Engine::start(
        pool,
        config,
        sim_config(THROUGHPUT_QUEUE, UNLIMITED_AGENTS, 0.0),
    )
    .await?;
    let claims_before = Histogram::parse(&metrics.render(), m::CLAIM_DURATION);
    let calls_before = Histogram::parse(&metrics.render(), m::CONTACT_CREATION_DURATION);
    let (mut engine_side, mut raw_side) = (Tally::default(), Tally::default());
    let mut raw_latencies = Vec::new();
    for done in 0..ROUNDS {
        settle(pool).await?;
        if campaign_pending_count(pool, engine_campaign).await? == 0 {
            println!(
                "           the engine's backlog ran out after {done} of {ROUNDS} rounds; a larger --backlog measures them all"
            );
            break;
        }
        match engine.window(pool, engine_campaign, round).await {
            Ok(tally) => {
                engine_side.add(tally);
                if campaign_pending_count(pool, engine_campaign).await? == 0 {
                    println!(
                        "           the engine's backlog ran out during round {}: its rate is understated; use a larger --backlog",
                        done + 1
                    );
                }
            }
            Err(error) => {
                engine.stop().await;
                return Err(error);
            }
        }
        settle(pool).await?;
        let (tally, latencies) = raw_claim(
            pool,
            raw_campaign,
            config.engine.max_concurrent_calls,
            round,
        )
        .await?;
        raw_side.add(tally);
        raw_latencies.extend(latencies);
    }
    engine.stop().await;

    let text = metrics.render();
    let claims = Histogram::parse(&text, m::CLAIM_DURATION).since(&claims_before);
    let calls = Histogram::parse(&text, m::CONTACT_CREATION_DURATION).since(&calls_before);
    let (completed, in_progress): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where state = 'completed'), count(*) filter (where state = 'in_progress')
         from dial_request where campaign_id = $1",
    )
    .bind(engine_campaign)
    .fetch_one(pool)
    .await?;
    println!(
        "engine     {:>10} contacts in {:>5.1}s  {:>9.0} contacts/s  claim statement mean {:.2} ms ({:.0} claims), BatchPutContact mean {:.2} ms",
        engine_side.rows,
        engine_side.secs,
        engine_side.rate(),
        claims.mean().unwrap_or(f64::NAN) * 1000.0,
        claims.count,
        calls.mean().unwrap_or(f64::NAN) * 1000.0,
    );
    println!(
        "           after the run: {completed} contacts completed (events recorded), {in_progress} requests still in progress"
    );
    let (p50, p99) = percentiles_ms(&mut raw_latencies);
    println!(
        "raw claim  {:>10} requests in {:>5.1}s  {:>9.0} requests/s  claim p50 {p50:.2} ms  p99 {p99:.2} ms ({} tasks)",
        raw_side.rows,
        raw_side.secs,
        raw_side.rate(),
        config.engine.max_concurrent_calls,
    );
    Ok((engine_side.rate(), raw_side.rate()))
}

/// Rows moved in some time.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    rows: i64,
    secs: f64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.rows += other.rows;
        self.secs += other.secs;
    }

    fn rate(&self) -> f64 {
        self.rows as f64 / self.secs.max(1e-9)
    }
}

/// Contacts the engine recorded as created for a campaign (it adds them to the hour's dials
/// in the statement that stores their contact ids).
async fn contacts_created(pool: &PgPool, campaign: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select coalesce(sum(dials), 0)::bigint from campaign_hourly where campaign_id = $1",
    )
    .bind(campaign)
    .fetch_one(pool)
    .await?)
}

/// The bare claim, `workers` at a time, for `length` or until the backlog is gone; returns
/// the rows claimed and each statement's latency.
async fn raw_claim(
    pool: &PgPool,
    campaign: &str,
    workers: usize,
    length: Duration,
) -> anyhow::Result<(Tally, Vec<f64>)> {
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let pool = pool.clone();
        let campaign = campaign.to_string();
        tasks.spawn(async move {
            let mut claimed = 0i64;
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let rows = sqlx::query(
                    "with picked as (
                         select id from dial_request
                         where campaign_id = $1 and channel = 'telephony' and state = 'pending'
                           and not_before is null and expires_at > now()
                         order by expires_at
                         limit $2
                         for update skip locked
                     )
                     update dial_request d set state = 'in_progress'
                     from picked where d.id = picked.id",
                )
                .bind(&campaign)
                .bind(BATCH_MAX_CONTACTS as i64)
                .execute(&pool)
                .await?
                .rows_affected();
                latencies.push(sent.elapsed().as_secs_f64());
                if rows == 0 {
                    break;
                }
                claimed += rows as i64;
            }
            anyhow::Ok((claimed, latencies, Instant::now()))
        });
    }
    let (mut rows, mut latencies, mut ended) = (0, Vec::new(), started);
    while let Some(joined) = tasks.join_next().await {
        let (n, samples, done) = joined??;
        rows += n;
        latencies.extend(samples);
        ended = ended.max(done);
    }
    let secs = ended.duration_since(started).as_secs_f64();
    Ok((Tally { rows, secs }, latencies))
}

/// The engine's services, built as the daemon builds them (unsupervised: a failure here
/// fails the benchmark's measurement anyway).
struct Engine {
    center: Arc<dyn ContactCenter>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
    tasks: JoinSet<crate::supervisor::ServiceResult>,
}

impl Engine {
    async fn start(pool: &PgPool, config: &Config, sim: SimConfig) -> anyhow::Result<Self> {
        let mut config = config.clone();
        config.contact_center.sim = sim;
        let cancel = CancellationToken::new();
        let backend = Backend::from_config(
            &config.contact_center,
            &config.aws.region,
            pool.clone(),
            cancel.child_token(),
        )
        .await?;
        Ok(Self::start_with(pool, &config, backend, cancel))
    }

    /// The engine on `backend`, with the backend's own services, until `cancel` fires.
    fn start_with(
        pool: &PgPool,
        config: &Config,
        backend: Backend,
        cancel: CancellationToken,
    ) -> Self {
        let mut tasks = JoinSet::new();
        let wake = Arc::new(Notify::new());
        let engine = crate::engine::Engine::new(
            pool.clone(),
            backend.center.clone(),
            backend.clock.clone(),
            Arc::new(WallClock),
            &config.engine,
            &crate::reload::Reloadable::new(config),
            crate::engine::ApiLinks {
                wake: wake.clone(),
                activity: Arc::default(),
            },
        );
        for mut service in engine
            .services()
            .into_iter()
            .chain(backend.services(engine.owner()))
        {
            tasks.spawn((service.start)(cancel.child_token()));
        }
        Self {
            center: backend.center,
            wake,
            cancel,
            tasks,
        }
    }

    /// Runs `campaign` for `length` from its first contact on, then pauses it and waits for
    /// its calls in flight to end; returns the contacts created in the window.
    async fn window(
        &self,
        pool: &PgPool,
        campaign: &str,
        length: Duration,
    ) -> anyhow::Result<Tally> {
        let before = contacts_created(pool, campaign).await?;
        set_campaign_state(pool, campaign, CampaignState::Running).await?;
        self.wake.notify_one();
        let waited = Instant::now();
        // Measured from a running pipeline: the first pass reads agents and takes the lease.
        let (started, first) = loop {
            let now = contacts_created(pool, campaign).await?;
            if now > before {
                tokio::time::sleep(POLL).await;
                break (Instant::now(), contacts_created(pool, campaign).await?);
            }
            if waited.elapsed() > START_TIMEOUT {
                bail!("the engine created no contact within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        tokio::time::sleep(length).await;
        let (ended, last) = (Instant::now(), contacts_created(pool, campaign).await?);
        set_campaign_state(pool, campaign, CampaignState::Paused).await?;
        self.wake.notify_one();
        // Calls in flight end without new claims; the next phase starts when none is left.
        let mut seen = last;
        loop {
            tokio::time::sleep(POLL).await;
            let now = contacts_created(pool, campaign).await?;
            if now == seen {
                break;
            }
            seen = now;
        }
        Ok(Tally {
            rows: last - first,
            secs: ended.duration_since(started).as_secs_f64(),
        })
    }

    /// Stops at once: a planning pass may have thousands of claims left, and what it leaves
    /// unresolved dies with the scratch database.
    async fn stop(mut self) {
        self.cancel.cancel();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Pairs agents becoming free with the contacts created after them, first freed first
/// served. Contacts created while no freed agent waits (the start, over-dialing) pair with
/// nothing.
#[derive(Debug, Default)]
struct FreeToContact {
    freed: VecDeque<Instant>,
}

impl FreeToContact {
    fn agent_freed(&mut self, at: Instant) {
        self.freed.push_back(at);
    }

    /// The latency of the freed agent this contact serves, if one was waiting.
    fn contact_created(&mut self, at: Instant) -> Option<Duration> {
        self.freed
            .pop_front()
            .map(|freed| at.saturating_duration_since(freed))
    }
}

/// A Prometheus histogram as rendered: cumulative counts by upper bound (all label sets
/// added up), sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Histogram {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Histogram {
    /// The histogram `name` in exposition text; empty if it was never recorded.
    fn parse(text: &str, name: &str) -> Self {
        let mut histogram = Histogram::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(name) else {
                continue;
            };
            let Some((series, value)) = rest.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let suffix = series.split('{').next().unwrap_or_default();
            match suffix {
                "_bucket" => {
                    let Some(bound) = series
                        .split("le=\"")
                        .nth(1)
                        .and_then(|b| b.split('"').next())
                        .and_then(|b| match b {
                            "+Inf" => Some(f64::INFINITY),
                            b => b.parse::<f64>().ok(),
                        })
                    else {
                        continue;
                    };
                    match histogram.buckets.iter_mut().find(|(le, _)| *le == bound) {
                        Some((_, n)) => *n += value,
                        None => histogram.buckets.push((bound, value)),
                    }
                }
                "_sum" => histogram.sum += value,
                "_count" => histogram.count += value,
                _ => {}
            }
        }
        histogram.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        histogram
    }

    /// What was recorded after `earlier` was read.
    fn since(&self, earlier: &Histogram) -> Histogram {
        let before = |bound: f64| {
            earlier
                .buckets
                .iter()
                .find(|(le, _)| *le == bound)
                .map_or(0.0, |(_, n)| *n)
        };
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| (le, n - before(le)))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }

    /// Both recordings together (bucket bounds of either).
    fn plus(&self, other: &Histogram) -> Histogram {
        let mut buckets = self.buckets.clone();
        for &(bound, n) in &other.buckets {
            match buckets.iter_mut().find(|(le, _)| *le == bound) {
                Some((_, mine)) => *mine += n,
                None => buckets.push((bound, n)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Histogram {
            buckets,
            sum: self.sum + other.sum,
            count: self.count + other.count,
        }
    }

    fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile, interpolated within its bucket as Prometheus' `histogram_quantile`
    /// does; the highest finite bound if it falls in the `+Inf` bucket.
    pub(super) fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, n) in &self.buckets {
            if n >= rank {
                if le.is_infinite() {
                    return Some(lower.0);
                }
                let share = if n > lower.1 {
                    (rank - lower.1) / (n - lower.1)
                } else {
                    1.0
                };
                return Some(lower.0 + (le - lower.0) * share);
            }
            lower = (le, n);
        }
        Some(lower.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# TYPE dialer_claim_duration_seconds histogram
dialer_claim_duration_seconds_bucket{le=\"0.001\"} 2
dialer_claim_duration_seconds_bucket{le=\"0.01\"} 8
dialer_claim_duration_seconds_bucket{le=\"+Inf\"} 10
dialer_claim_duration_seconds_sum 0.5
dialer_claim_duration_seconds_count 10
dialer_claim_duration_seconds_other 99
dialer_claims_total 7
";

    #[test]
    fn etc_zones_put_now_at_the_wanted_local_hour() {
        for hour in 0..24 {
            let now = chrono::DateTime::parse_from_rfc3339(&format!("2026-12-06T{hour:02}:10:00Z"))
                .unwrap()
                .with_timezone(&chrono::Utc);
            for wanted in [3, 15] {
                let zone = etc_zone_at(wanted, now);
                let tz = crate::rules::window::zone(&zone).unwrap();
                use chrono::Timelike;
                assert_eq!(
                    now.with_timezone(&tz).hour(),
                    wanted as u32,
                    "{zone} at {now}"
                );
            }
        }
    }

    #[test]
    fn histograms_parse_from_exposition_text() {
        let h = Histogram::parse(TEXT, "dialer_claim_duration_seconds");
        assert_eq!(
            h.buckets,
            vec![(0.001, 2.0), (0.01, 8.0), (f64::INFINITY, 10.0)]
        );
        assert_eq!((h.sum, h.count), (0.5, 10.0));
        assert_eq!(h.mean(), Some(0.05));
        assert_eq!(
            Histogram::parse(TEXT, "dialer_absent_seconds"),
            Histogram::default()
        );
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let h = Histogram::parse(TEXT, "dialer_claim_duration_seconds");
        // Rank 5 of 10 lies half way through the second bucket's 6 samples.
        let p50 = h.quantile(0.5).unwrap();
        assert!((p50 - (0.001 + 0.009 * 0.5)).abs() < 1e-12, "{p50}");
        assert!((h.quantile(0.1).unwrap() - 0.0005).abs() < 1e-12);
        // In the +Inf bucket: the highest finite bound.
        assert_eq!(h.quantile(0.99), Some(0.01));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn differences_keep_only_later_samples() {
        let before = Histogram::parse(TEXT, "dialer_claim_duration_seconds");
        let later = TEXT
            .replace("le=\"0.001\"} 2", "le=\"0.001\"} 5")
            .replace("le=\"0.01\"} 8", "le=\"0.01\"} 11")
            .replace("} 10\n", "} 13\n")
            .replace("_sum 0.5", "_sum 0.503")
            .replace("_count 10", "_count 13");
        let delta = Histogram::parse(&later, "dialer_claim_duration_seconds").since(&before);
        assert_eq!(
            delta.buckets,
            vec![(0.001, 3.0), (0.01, 3.0), (f64::INFINITY, 3.0)]
        );
        assert_eq!(delta.count, 3.0);
        assert!((delta.mean().unwrap() - 0.001).abs() < 1e-9);
        assert!(delta.quantile(0.99).unwrap() <= 0.001);
    }

    #[test]
    fn freed_agents_pair_with_later_contacts_in_order() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut pairs = FreeToContact::default();
        assert_eq!(pairs.contact_created(at(1)), None, "nobody was waiting");
        pairs.agent_freed(at(10));
        pairs.agent_freed(at(12));
        assert_eq!(
            pairs.contact_created(at(15)),
            Some(Duration::from_millis(5))
        );
        assert_eq!(
            pairs.contact_created(at(20)),
            Some(Duration::from_millis(8))
        );
        assert_eq!(pairs.contact_created(at(30)), None);
    }
}
