//! `dialer demo`: the whole product in one command on the embedded defaults. It starts the
//! daemon (own Postgres unless `DATABASE_URL` is set, simulated contact center sped up),
//! creates a campaign and loads dial requests through the AWS-compatible API, starts it,
//! shows progress live, and ends with a summary. `/metrics` is served while it runs.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::client::ApiClient;
use crate::config::{Config, EnvOverrides};
use crate::db::Database;

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

/// Runs the demo.
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
    let problems = config.validate();
    if !problems.is_empty() {
        bail!(
            "invalid demo configuration:\n  - {}",
            problems.join("\n  - ")
        );
    }

    let db = Database::open(&config.database).await?;
    if let Some(listen) = &args.listen {
        config.server.listen = listen.clone();
    }
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
        db.pool.clone(),
        listener,
        cancel.clone(),
        hooks,
    ));
    let center = center_rx.await.context("the engine did not start")?;
    println!("dialer demo: API at {endpoint}, metrics at {endpoint}/metrics");
    println!(
        "simulated contact center: {} agents on queue {queue_id}, {}x real time",
        args.agents, args.time_scale
    );

    let api = ApiClient::new(&endpoint, &config.aws.region, DEMO_KEY.0, DEMO_KEY.1);
    let result = drive(&api, &args, &queue_id, &center).await;
    cancel.cancel();
    let _ = server.await;
    db.close().await;
    result
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
    api.call("POST", &format!("/campaigns/{campaign}/start"), None)
        .await?;
    println!("campaign started\n");

    let started = Instant::now();
    let tty = std::io::stdout().is_terminal();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    let progress = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let progress = api
            .call("GET", &format!("/campaigns/{campaign}/progress"), None)
            .await?;
        let requests = &progress["requests"];
        let open = requests["pending"].as_i64().unwrap_or(0)
            + requests["in_progress"].as_i64().unwrap_or(0);
        let counters = center.counters();
        let line = format!(
            "{:>5.0}s  pending {:>5}  in progress {:>4}  done {:>5}  | dials {:>5}  answered {:>4}  abandoned {:>3}  occupancy {:>5.1}%",
            started.elapsed().as_secs_f64(),
            requests["pending"],
            requests["in_progress"],
            requests["completed"].as_i64().unwrap_or(0)
                + requests["expired"].as_i64().unwrap_or(0)
                + requests["failed"].as_i64().unwrap_or(0),
            counters.dials,
            counters.person_answers,
            counters.abandons,
            counters.occupancy().unwrap_or(0.0) * 100.0,
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
    summary(
        &progress,
        &center.counters(),
        started.elapsed(),
        args.time_scale,
    );
    Ok(())
}

fn summary(
    progress: &Value,
    counters: &crate::contact_center::sim::model::SimCounters,
    elapsed: Duration,
    time_scale: f64,
) {
    let outcomes = &progress["outcomes"];
    let requests = &progress["requests"];
    let abandonment = &progress["abandonment"];
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    println!(
        "\nsummary after {:.0}s ({:.1} simulated hours)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * time_scale / 3600.0
    );
    println!("  dials            {}", counters.dials);
    println!("  person answers   {}", counters.person_answers);
    println!("  connected        {}", n(&outcomes["connected"]));
    println!("  answered (no agent)  {}", n(&outcomes["answered"]));
    println!(
        "  abandons         {} ({:.2}% of person answers, cap {:.0}%)",
        n(&abandonment["abandons"]),
        abandonment["rate"].as_f64().unwrap_or(0.0) * 100.0,
        abandonment["target"].as_f64().unwrap_or(0.0) * 100.0
    );
    println!("  machines         {}", n(&outcomes["machine"]));
    println!(
        "  no answer / busy / invalid   {} / {} / {}",
        n(&outcomes["no_answer"]),
        n(&outcomes["busy"]),
        n(&outcomes["invalid"])
    );
    println!(
        "  agent occupancy  {:.1}%",
        counters.occupancy().unwrap_or(0.0) * 100.0
    );
    println!("  expired          {}", n(&requests["expired"]));
    println!("  failed           {}", n(&requests["failed"]));
}
