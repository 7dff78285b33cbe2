//! `dialer demo`: the whole product in one command on the embedded defaults. It starts the
//! daemon (own Postgres unless `DATABASE_URL` is set, simulated contact center sped up),
//! creates a campaign and loads dial requests through the AWS-compatible API, starts it,
//! shows progress live, and ends with a summary. `/metrics` is served while it runs.
//!
//! The demo runs in a scratch database of its own on that server, dropped when it ends
//! (normally, on an error, or on Ctrl-C/SIGTERM): sharing the daemon's database made it dial
//! the pending requests of campaigns created under `dialer serve`, count their dials in its
//! summary, and leave its own campaigns `Running` in `list-campaigns`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::client::ApiClient;
use crate::config::{Config, EnvOverrides};
use crate::contact_center::sim::model::SimCounters;
use crate::db::scratch::ScratchDatabase;

/// Options of `dialer demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Config file; the demo overrides the simulated center's agents and speed.
    #[arg(long, default_value = "config/dialer.toml")]
    config: std::path::PathBuf,
    /// Dial requests to load.
    #[arg(long, default_value_t = 3000)]
    requests: usize,
    /// Agents in the simulated queue.
    #[arg(long, default_value_t = 50)]
    agents: u32,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 100.0)]
    time_scale: f64,
    /// Pacing mode of the demo campaign.
    #[arg(long, value_parser = ["predictive", "progressive", "agentless"], default_value = "predictive")]
    mode: String,
    /// Listen address (default: the config's, or a free port if that one is taken).
    #[arg(long)]
    listen: Option<String>,
}

const DEMO_KEY: (&str, &str) = ("AKIDDEMO", "demo-secret");

/// Runs the demo in a scratch database, dropped on every way out but a kill.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.requests == 0 || args.agents == 0 {
        bail!("--requests and --agents must be at least 1");
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let mut config = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    config.auth.enabled = true;
    config
        .auth
        .access_keys
        .push(format!("{}:{}", DEMO_KEY.0, DEMO_KEY.1));
    config.contact_center.sim.time_scale = args.time_scale;
    let queue_id = config
        .contact_center
        .sim
        .queues
        .first()
        .map(|q| q.queue_id.clone())
        .context("contact_center.sim.queues is empty; the demo needs one queue")?;
    if let Some(queue) = config.contact_center.sim.queues.first_mut() {
        queue.agents = args.agents;
    }
    if let Some(listen) = &args.listen {
        config.server.listen = listen.clone();
    }
    let problems = config.validate();
    if !problems.is_empty() {
        bail!(
            "invalid demo configuration:\n  - {}",
            problems.join("\n  - ")
        );
    }

    // Installed before the database exists: from here on Ctrl-C and SIGTERM end the demo
    // through the clean-up below instead of killing the process.
    let stop = CancellationToken::new();
    tokio::spawn(crate::cli::shutdown_on_signal(stop.clone()));
    let scratch = ScratchDatabase::create(&config.database, "demo").await?;
    println!(
        "dialer demo: scratch database {} (dropped when the demo ends)",
        scratch.name()
    );
    let outcome = serve_and_drive(&args, config, &queue_id, scratch.pool().clone(), &stop).await;
    let name = scratch.name().to_string();
    let dropped = scratch.drop().await;
    if outcome.is_err() && dropped.is_ok() {
        eprintln!("dialer demo: scratch database {name} dropped");
    }
    outcome?;
    dropped?;
    Ok(())
}

/// Serves the API on the scratch database and runs the demo's campaign through it until it
/// ends or `stop` fires; either way the daemon is shut down before this returns, so that the
/// database is not dropped under its services.
async fn serve_and_drive(
    args: &DemoArgs,
    config: Config,
    queue_id: &str,
    pool: PgPool,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let wanted = config.listen_addr().map_err(anyhow::Error::msg)?;
    let listener = match tokio::net::TcpListener::bind(wanted).await {
        Ok(listener) => listener,
        Err(_) if args.listen.is_none() => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {wanted}")),
    };
    let endpoint = format!("http://{}", listener.local_addr()?);
    let cancel = CancellationToken::new();
    let (center_tx, center_rx) = tokio::sync::oneshot::channel();
    let config = Arc::new(config);
    let hooks = crate::app::Hooks {
        center: Some(center_tx),
        ..Default::default()
    };
    let server = tokio::spawn(crate::app::run_with(
        config.clone(),
        pool,
        listener,
        cancel.clone(),
        hooks,
    ));
    let driven = async {
        let center = center_rx.await.context("the engine did not start")?;
        println!("dialer demo: API at {endpoint}, metrics at {endpoint}/metrics");
        println!(
            "simulated contact center: {} agents on queue {queue_id}, {}x real time",
            args.agents, args.time_scale
        );
        let api = ApiClient::new(&endpoint, &config.aws.region, DEMO_KEY.0, DEMO_KEY.1);
        drive(&api, args, queue_id, &center).await
    };
    let result = tokio::select! {
        result = driven => result,
        () = stop.cancelled() => Err(anyhow::anyhow!("demo interrupted")),
    };
    cancel.cancel();
    let served = server.await;
    result?;
    served.context("the demo's daemon panicked")??;
    Ok(())
}

async fn drive(
    api: &ApiClient,
    args: &DemoArgs,
    queue_id: &str,
    center: &crate::contact_center::sim::SimContactCenter,
) -> anyhow::Result<()> {
    let agentless = args.mode == "agentless";
    let dialer_config = match args.mode.as_str() {
        "progressive" => json!({"progressiveDialerConfig": {"bandwidthAllocation": 1.0}}),
        "agentless" => json!({"agentlessDialerConfig": {"dialingCapacity": 0.5}}),
        _ => json!({"predictiveDialerConfig": {"bandwidthAllocation": 1.0}}),
    };
    let mut outbound_call_config = json!({
        "connectContactFlowId": "demo-flow",
        "connectSourcePhoneNumber": "+12025550100",
        "answerMachineDetectionConfig": {"enableAnswerMachineDetection": true},
    });
    // An agentless campaign's calls end in the contact flow: it names no agent queue, and
    // calls from the source number.
    if !agentless {
        outbound_call_config["connectQueueId"] = json!(queue_id);
    }
    let created = api
        .call(
            "PUT",
            "/campaigns",
            Some(&json!({
                "name": "demo",
                "connectInstanceId": "demo-instance",
                "dialerConfig": dialer_config,
                "outboundCallConfig": outbound_call_config,
            })),
        )
        .await?;
    let campaign = created["id"]
        .as_str()
        .context("CreateCampaign returned no id")?
        .to_string();
    println!("campaign {campaign} ({} mode)", args.mode);

    // Expiry reads the wall clock, which the sped-up center does not move: requests that
    // outlive the demo's run by far.
    let expiration = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let mut loaded = 0;
    for chunk_start in (0..args.requests).step_by(25) {
        let batch: Vec<Value> = (chunk_start..(chunk_start + 25).min(args.requests))
            .map(|i| {
                json!({
                    "clientToken": format!("demo-{i}"),
                    // 555-01xx style fictional numbers, spread over NANP area codes.
                    "phoneNumber": format!("+1{}555{:04}", 201 + (i / 10_000) % 700, i % 10_000),
                    "expirationTime": expiration,
                    "attributes": {"customerId": format!("C{i:06}")},
                })
            })
            .collect();
        let answer = api
            .call(
                "PUT",
                &format!("/campaigns/{campaign}/dial-requests"),
                Some(&json!({ "dialRequests": batch })),
            )
            .await?;
        loaded += answer["successfulRequests"].as_array().map_or(0, Vec::len);
    }
    println!("loaded {loaded} dial requests with PutDialRequestBatch");
    // Occupancy is measured from here, not from the center's start: the agents sat idle while
    // the requests loaded, which says nothing about pacing. The engine's first dial follows
    // the start within a tick.
    let dialing_from = center.counters();
    api.call("POST", &format!("/campaigns/{campaign}/start"), None)
        .await?;
    println!("campaign started\n");

    let started = Instant::now();
    let tty = std::io::stdout().is_terminal();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    // Set when the queue runs dry (every request claimed): from then on agents only finish
    // the last calls and go idle, which is the demo running out of work, not pacing.
    let mut dialing_to: Option<SimCounters> = None;
    let progress = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let progress = api
            .call("GET", &format!("/campaigns/{campaign}/progress"), None)
            .await?;
        let requests = &progress["requests"];
        let pending = count(&requests["pending"]);
        let open = pending + count(&requests["in_progress"]);
        if pending == 0 && dialing_to.is_none() {
            dialing_to = Some(center.counters());
        }
        let until = dialing_to.clone().unwrap_or_else(|| center.counters());
        let line = format!(
            "{:>5.0}s  pending {:>5}  in progress {:>4}  done {:>5}  | dials {:>5}  answered {:>4}  abandoned {:>3}  occupancy {}",
            started.elapsed().as_secs_f64(),
            pending,
            count(&requests["in_progress"]),
            count(&requests["completed"]) + count(&requests["expired"]) + count(&requests["failed"]),
            count(&progress["abandonment"]["dials"]),
            count(&progress["abandonment"]["personAnswers"]),
            count(&progress["abandonment"]["abandons"]),
            percent(until.occupancy_since(&dialing_from)),
        );
        if tty {
            print!("\r{line}");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        } else if last_print.elapsed() >= Duration::from_secs(2) {
            println!("{line}");
            last_print = Instant::now();
        }
        if open == 0 {
            break progress;
        }
    };
    if tty {
        println!();
    }
    let until = dialing_to.unwrap_or_else(|| center.counters());
    summary(
        &progress,
        until.occupancy_since(&dialing_from),
        started.elapsed(),
        args.time_scale,
    );
    Ok(())
}

/// A count from the progress answer (absent counts are zero).
fn count(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "  n/a".to_string(), |s| format!("{:>5.1}%", s * 100.0))
}

/// Prints the summary. Every count is the demo campaign's own (its progress answer), so
/// nothing else the server holds can creep in.
fn summary(progress: &Value, occupancy: Option<f64>, elapsed: Duration, time_scale: f64) {
    let outcomes = &progress["outcomes"];
    let requests = &progress["requests"];
    let abandonment = &progress["abandonment"];
    println!(
        "\nsummary after {:.0}s ({:.1} simulated hours)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * time_scale / 3600.0
    );
    println!("  dials            {}", count(&abandonment["dials"]));
    println!(
        "  person answers   {}",
        count(&abandonment["personAnswers"])
    );
    println!("  connected        {}", count(&outcomes["connected"]));
    println!("  answered (no agent)  {}", count(&outcomes["answered"]));
    println!(
        "  abandons         {} ({:.2}% of person answers, cap {:.0}%)",
        count(&abandonment["abandons"]),
        abandonment["rate"].as_f64().unwrap_or(0.0) * 100.0,
        abandonment["target"].as_f64().unwrap_or(0.0) * 100.0
    );
    println!("  machines         {}", count(&outcomes["machine"]));
    println!(
        "  no answer / busy / invalid   {} / {} / {}",
        count(&outcomes["no_answer"]),
        count(&outcomes["busy"]),
        count(&outcomes["invalid"])
    );
    println!(
        "  agent occupancy  {} (while dialing: from the campaign's start until the queue ran dry)",
        percent(occupancy).trim_start()
    );
    println!("  expired          {}", count(&requests["expired"]));
    println!("  failed           {}", count(&requests["failed"]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_covers_only_the_span_between_snapshots() {
        let loading = SimCounters {
            agent_busy_secs: 0.0,
            agent_online_secs: 1000.0,
            ..Default::default()
        };
        let dry = SimCounters {
            agent_busy_secs: 900.0,
            agent_online_secs: 2000.0,
            ..Default::default()
        };
        // Over the whole run this would be 45%; the agents were busy 90% while dialing.
        let share = dry.occupancy_since(&loading).unwrap();
        assert!((share - 0.9).abs() < 1e-9, "{share}");
        assert_eq!(dry.occupancy_since(&dry), None);
        assert_eq!(percent(None).trim(), "n/a");
        assert_eq!(percent(Some(0.8912)), " 89.1%");
    }
}
