//! `dialer bench mixed`: whether dialing keeps its pace while lists upload. One daemon,
//! built as `dialer serve` builds it (API, engine, simulated center, its pools), in a scratch
//! database; a progressive campaign with agents on the simulated center. The agent-free ->
//! contact latency is measured with nothing else going on (quiet) and while clients upload
//! dial requests into other campaigns at full speed (loaded), in alternating rounds of the
//! same run. The ratio of the two p99s says what ingest costs dialing; the same uploads with
//! dialing stopped give the ingest rate it is compared with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use super::dispatch::{free_to_contact, sim_config, FreeToContactRun};
use super::ingest::{bench_daemon, Client, Phase};
use super::{create_campaign, insert_pending, percentiles_ms, set_campaign_state, settle, Expiry};
use crate::campaigns::{AgentDialerConfig, CampaignState, DialerConfig};
use crate::config::{Config, EnvOverrides};
use crate::contact_center::sim::model::{Dist, HandleTime};
use crate::db::scratch::ScratchDatabase;
use crate::metrics as m;

/// Options of `dialer bench mixed`.
#[derive(Debug, clap::Args)]
pub struct MixedArgs {
    /// Seconds each phase measures.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Agents of the dialing campaign's queue.
    #[arg(long, default_value_t = 50)]
    agents: u32,
    /// Mean handle time of a contact (exponential), in milliseconds.
    #[arg(long, default_value_t = 500)]
    handle_ms: u64,
    /// Ingest clients in the loaded phase, each uploading into a campaign of its own.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Config file of the daemon (database, engine, ingest settings are taken from it).
    #[arg(long, default_value = "config/dialer.toml")]
    config: PathBuf,
    /// Ablation: the API and the engine share the API's pool, as before they had pools of
    /// their own.
    #[arg(long)]
    shared_pool: bool,
}

const QUEUE: &str = "bench-mixed";
/// Requests preloaded for the dialing campaign: far more than its agents use in a run.
const BACKLOG: i64 = 50_000;
/// Seconds of dialing before the first quiet segment measures: the first planning passes
/// are not steady state.
const WARM_UP: Duration = Duration::from_secs(2);
/// Uploading before a loaded segment measures, and the pause after it.
const UPLOAD_WARM_UP: Duration = Duration::from_millis(500);
/// Quiet and loaded segments of each phase.
const ROUNDS: u32 = 5;

/// Runs both phases and prints the ratio.
pub async fn run(args: MixedArgs) -> anyhow::Result<()> {
    if args.seconds == 0 || args.agents == 0 || args.clients == 0 {
        bail!("--seconds, --agents and --clients must be at least 1");
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let mut config = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    bench_daemon(&mut config);
    config.engine.enabled = true;
    config.contact_center.sim = sim_config(QUEUE, args.agents, 0.0);
    // Agents free at random moments, as in a real center, rather than in waves.
    config.contact_center.sim.queues[0].handle_time = HandleTime::Split {
        total: Dist::Exponential {
            mean_secs: args.handle_ms as f64 / 1000.0,
        },
        wrap_share: 0.0,
    };
    let metrics = m::install();

    let scratch = ScratchDatabase::create(&config.database, "bench_mixed").await?;
    println!(
        "mixed: {} agents, handle time exponential with mean {} ms, progressive; {}s per phase; loaded: {} ingest clients, batches of 25, each into a campaign of its own",
        args.agents, args.handle_ms, args.seconds, args.clients
    );
    println!(
        "        pools: {}; ingest {} batches at once, {} waiting",
        if args.shared_pool {
            format!(
                "one shared, {} connections",
                config.database.max_connections
            )
        } else {
            format!(
                "API {} + engine {} connections",
                config.database.max_connections, config.database.engine_max_connections
            )
        },
        config.queue.ingest_max_concurrent_batches,
        config.queue.ingest_max_waiting_batches
    );
    let measured = phases(&args, config, &scratch, &metrics).await;
    let dropped = scratch.drop().await;
    let (quiet, loaded, ingest) = measured?;
    dropped?;
    println!(
        "mixed ratio {:.2} (p99 loaded {loaded:.1} ms vs quiet {quiet:.1} ms, ingest {ingest:.0}/s)",
        loaded / quiet.max(1e-9)
    );
    Ok(())
}

/// Returns (quiet p99 ms, loaded p99 ms, ingest requests/s).
async fn phases(
    args: &MixedArgs,
    config: Config,
    scratch: &ScratchDatabase,
    metrics: &PrometheusHandle,
) -> anyhow::Result<(f64, f64, f64)> {
    let pool = scratch.pool();
    let campaign = create_campaign(
        pool,
        "bench-mixed",
        DialerConfig::ProgressiveDialerConfig(AgentDialerConfig {
            bandwidth_allocation: 1.0,
            dialing_capacity: None,
        }),
        Some(QUEUE),
        CampaignState::Stopped,
    )
    .await?;
    insert_pending(
        pool,
        &campaign,
        0,
        BACKLOG,
        Expiry::InOrder { after_secs: 7200.0 },
    )
    .await?;
    settle(pool).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let cancel = CancellationToken::new();
    let (center_tx, center_rx) = tokio::sync::oneshot::channel();
    let config = Arc::new(config);
    let hooks = crate::app::Hooks {
        center: Some(center_tx),
        ..Default::default()
    };
    let pools = if args.shared_pool {
        crate::db::Pools::from(pool.clone())
    } else {
        scratch.pools()
    };
    let server = tokio::spawn(crate::app::run_with(
        config.clone(),
        pools,
        listener,
        cancel.clone(),
        hooks,
    ));
    let measured = async {
        let center = center_rx.await.context("the engine did not start")?;
        let client = Client::new(&endpoint, &config.aws.region);
        let mut targets = Vec::new();
        for _ in 0..args.clients {
            targets.push(client.create_campaign().await?);
        }
        set_campaign_state(pool, &campaign, CampaignState::Running).await?;
        tokio::time::sleep(WARM_UP).await;
        let length = Duration::from_secs(args.seconds);

        // Quiet and loaded segments alternate in short rounds, so that the machine's other
        // load (a shared disk, neighbours on the cores) weighs on both alike.
        let segment = length / ROUNDS;
        let mut quiet = FreeToContactRun::default();
        let mut loaded = FreeToContactRun::default();
        let mut loaded_ingest = Phase::default();
        let upload_secs = (UPLOAD_WARM_UP + segment).as_secs_f64();
        for round in 0..ROUNDS {
            quiet.absorb(free_to_contact(center.as_ref(), metrics, segment).await);
            let uploads = upload(&endpoint, &config.aws.region, &targets, upload_secs, round);
            let started = Instant::now();
            tokio::time::sleep(UPLOAD_WARM_UP).await;
            loaded.absorb(free_to_contact(center.as_ref(), metrics, segment).await);
            loaded_ingest.absorb(finish(uploads, started).await?);
            // The last batches of the upload drain before the next quiet segment.
            tokio::time::sleep(UPLOAD_WARM_UP).await;
        }
        let quiet = report("quiet", quiet);
        let loaded = report("loaded", loaded);
        let rate = loaded_ingest.report("ingest");

        // The baseline of the ingest rate: the same clients, same daemon, nothing dialing.
        set_campaign_state(pool, &campaign, CampaignState::Stopped).await?;
        let mut alone = Phase::default();
        for round in ROUNDS..2 * ROUNDS {
            let uploads = upload(&endpoint, &config.aws.region, &targets, upload_secs, round);
            alone.absorb(finish(uploads, Instant::now()).await?);
        }
        let alone = alone.report("ingest alone");
        println!(
            "ingest while dialing is {:.0}% of ingest alone ({rate:.0} vs {alone:.0} req/s)",
            100.0 * rate / alone.max(1e-9)
        );
        anyhow::Ok((quiet, loaded, rate))
    }
    .await;
    cancel.cancel();
    let served = server.await;
    let measured = measured?;
    served.context("the benchmark's daemon panicked")??;
    Ok(measured)
}

/// Clients uploading into `targets` (one client each) for `seconds`, from a runtime of their
/// own (one thread), as clients elsewhere would: their signing and JSON do not queue behind the
/// daemon's tasks, nor the daemon's behind theirs. `round` keeps client tokens of successive
/// uploads apart.
fn upload(
    endpoint: &str,
    region: &str,
    targets: &[String],
    seconds: f64,
    round: u32,
) -> std::thread::JoinHandle<anyhow::Result<Phase>> {
    let targets = targets.to_vec();
    // A client of their own: connections belong to the runtime that opened them.
    let client = Client::new(endpoint, region);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut ingest = Phase::default();
            let mut uploads = tokio::task::JoinSet::new();
            for target in targets {
                let client = client.clone();
                uploads.spawn(async move { client.drive(&target, 1, seconds, round).await });
            }
            while let Some(upload) = uploads.join_next().await {
                ingest.absorb_concurrent(upload??);
            }
            anyhow::Ok(ingest)
        })
    })
}

/// Waits for an upload started at `started`; its `elapsed` is the wall time since then.
async fn finish(
    uploads: std::thread::JoinHandle<anyhow::Result<Phase>>,
    started: Instant,
) -> anyhow::Result<Phase> {
    let mut ingest = tokio::task::spawn_blocking(move || uploads.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the ingest clients panicked"))??;
    ingest.elapsed = started.elapsed();
    Ok(ingest)
}

/// Prints a phase's figures; returns its p99 in milliseconds.
fn report(name: &str, run: FreeToContactRun) -> f64 {
    let FreeToContactRun {
        mut samples,
        lagged,
        recorded,
    } = run;
    let contacts = samples.len();
    let (p50, p99) = percentiles_ms(&mut samples);
    let estimate = |q: f64| recorded.quantile(q).map_or(f64::NAN, |s| s * 1000.0);
    println!(
        "{name:<10} {contacts} contacts for freed agents; agent free -> contact created p50 {p50:.2} ms  p99 {p99:.2} ms{}; engine histogram p50 ~{:.2} ms  p99 ~{:.2} ms",
        if lagged > 0 {
            format!(" ({lagged} events missed)")
        } else {
            String::new()
        },
        estimate(0.50),
        estimate(0.99),
    );
    p99
}
