//! `dialer bench pacing-wire`: the README's pacing table rehearsed over the wire. For each
//! mode, in a scratch database of its own: the Connect emulator in this process running the
//! reference model ([`Scenario::reference`], the one `dialer simulate` runs), a daemon with
//! the `amazon-connect` backend dialing through it (signed HTTP calls, events posted to the
//! daemon's webhook and taken from its inbox, agents from polled `GetCurrentMetricData`), and
//! a campaign whose dial requests are queued before it starts, with every agent idle. Its
//! occupancy and abandonment, read from the emulator's simulated center, are printed beside
//! those of [`simulate`] of the same shift.
//!
//! The engine and the emulator share one clock: the emulator's simulated center runs at
//! `--time-scale` and stamps its events with its model time, so the daemon's backend times
//! calls on that center rather than on the wall. Wall-clock intervals that stand for model
//! time at scale 1 (the planning tick, the metrics poll and the quota it spends) are divided
//! by the time scale, so the engine sees what it would see of a real instance in real time.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::Parser;
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::dispatch::EmulatorCli;
use super::{insert_pending, Expiry, InProcessDaemon};
use crate::client::ApiClient;
use crate::clock::Clock;
use crate::config::{Config, EnvOverrides};
use crate::contact_center::connect::AmazonConnectConfig;
use crate::contact_center::sim::model::{
    SimCounters, ANSWER_PROBABILITY_DEFAULT, HANDLE_MEAN_SECS_DEFAULT,
};
use crate::contact_center::sim::SimContactCenter;
use crate::contact_center::{Backend, BackendKind};
use crate::db::scratch::ScratchDatabase;
use crate::whatif::scenario::HOURS_MAX;
use crate::whatif::{simulate, Mode, Report, Scenario};

/// Options of `dialer bench pacing-wire`.
#[derive(Debug, clap::Args)]
pub struct PacingWireArgs {
    /// Agents logged in all shift.
    #[arg(long, default_value_t = 50)]
    agents: u32,
    /// Shift length in model hours.
    #[arg(long, default_value_t = 1.0)]
    hours: f64,
    /// Model seconds per wall second of the emulator's simulated center.
    #[arg(long, default_value_t = 20.0)]
    time_scale: f64,
    /// Pacing modes to run, comma-separated (`vicidial` has no campaign dialer config, so
    /// only `dialer simulate` runs it).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "predictive,progressive"
    )]
    modes: Vec<Mode>,
    /// Seed of the contact center's draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Config file; the database settings are taken from it.
    #[arg(long, default_value = "config/dialer.toml")]
    config: PathBuf,
}

/// The key the daemon signs its Connect calls with, the emulator checks, and the benchmark
/// calls the daemon's API with.
const KEY: (&str, &str) = ("AKIDPACINGWIRE", "pacing-wire-secret");
/// The API key the emulator's webhook sends and the daemon's events endpoint requires.
const EVENTS_KEY: &str = "pacing-wire-events-key";
/// The Connect instance emulated.
const INSTANCE: &str = "pacing-wire";
/// Model seconds after the shift for the calls placed before its end to play out (ring-out
/// at 25 s, abandon 2 s after an answer): their answers and abandons count, as in
/// `dialer simulate`.
const PLAY_OUT_SECS: f64 = 60.0;
/// Dial requests queued per dial `dialer simulate` made in the same shift: the wire run
/// must not run dry.
const BACKLOG_FACTOR: u64 = 2;
/// Dial requests queued at least.
const BACKLOG_MIN: u64 = 1000;

/// What one shift measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figures {
    dials: u64,
    person_answers: u64,
    abandons: u64,
    occupancy: f64,
}

impl Figures {
    fn abandonment(&self) -> f64 {
        if self.person_answers == 0 {
            0.0
        } else {
            self.abandons as f64 / self.person_answers as f64
        }
    }

    fn of_report(report: &Report) -> Self {
        Self {
            dials: report.dials,
            person_answers: report.human_answers,
            abandons: report.abandons,
            occupancy: report.occupancy,
        }
    }

    /// Occupancy over the dialing period (`start` to `end`), answers and abandons of every
    /// call placed in it (`played_out` is read after they ended).
    fn of_counters(start: &SimCounters, end: &SimCounters, played_out: &SimCounters) -> Self {
        Self {
            dials: played_out.dials - start.dials,
            person_answers: played_out.person_answers - start.person_answers,
            abandons: played_out.abandons - start.abandons,
            occupancy: end.occupancy_since(start).unwrap_or(0.0),
        }
    }
}

/// The comparison line of one mode.
fn comparison(mode: Mode, wire: &Figures, simulated: &Figures) -> String {
    let points = |a: f64, b: f64| (a - b) * 100.0;
    format!(
        "{}: wire occupancy {:.3} vs simulate {:.3} (Δ {:+.1} points), abandonment {:.2}% vs {:.2}% (Δ {:+.2} points)",
        mode.as_str(),
        wire.occupancy,
        simulated.occupancy,
        points(wire.occupancy, simulated.occupancy),
        wire.abandonment() * 100.0,
        simulated.abandonment() * 100.0,
        points(wire.abandonment(), simulated.abandonment()),
    )
}

/// Runs the shift of every mode over the wire and in `dialer simulate`.
pub async fn run(args: PacingWireArgs) -> anyhow::Result<()> {
    if args.agents == 0 || !(args.hours > 0.0 && args.hours <= HOURS_MAX) {
        bail!("--agents must be at least 1 and --hours within (0, {HOURS_MAX}]");
    }
    if !(args.time_scale.is_finite() && args.time_scale >= 1.0) {
        bail!("--time-scale must be at least 1");
    }
    if args.modes.contains(&Mode::Vicidial) {
        bail!("--modes: vicidial has no campaign dialer config for a daemon to run; `dialer simulate --mode vicidial` runs it");
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let base = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    println!(
        "pacing-wire: {} agents, {} h at {}x, seed {}, load average {}",
        args.agents,
        args.hours,
        args.time_scale,
        args.seed,
        load_average()
    );
    for &mode in &args.modes {
        let scenario = Scenario::reference(
            args.agents,
            ANSWER_PROBABILITY_DEFAULT,
            HANDLE_MEAN_SECS_DEFAULT,
            args.hours,
            mode,
            args.seed,
        );
        let invalid = scenario.validate();
        if !invalid.is_empty() {
            bail!("invalid shift:\n  - {}", invalid.join("\n  - "));
        }
        let simulated = {
            let scenario = scenario.clone();
            tokio::task::spawn_blocking(move || simulate(&scenario)).await??
        };
        let simulated = Figures::of_report(&simulated);
        let backlog = (simulated.dials * BACKLOG_FACTOR).max(BACKLOG_MIN);
        let scratch = ScratchDatabase::create(&base.database, "bench_pacing_wire").await?;
        let rehearsed = rehearse(&args, &base, &scenario, backlog, scratch.pool()).await;
        let dropped = scratch.drop().await;
        let wire = rehearsed?;
        dropped?;
        println!(
            "{}: wire {} dials, {} person answers, {} abandons; simulate {} dials, {} person answers, {} abandons (load average {})",
            mode.as_str(),
            wire.dials,
            wire.person_answers,
            wire.abandons,
            simulated.dials,
            simulated.person_answers,
            simulated.abandons,
            load_average()
        );
        println!("{}", comparison(mode, &wire, &simulated));
    }
    Ok(())
}

/// The 1, 5 and 15 minute load averages, when the system tells them: the machine may be
/// shared, and a loaded one delays the wire run's events in model time.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "n/a".to_string())
}

/// The settings both sides run with: the scenario's center and pacing, authentication on
/// with [`KEY`], and the Amazon Connect backend on the emulator at `endpoint`.
fn rehearsal_config(base: &Config, scenario: &Scenario, time_scale: f64, endpoint: &str) -> Config {
    let mut config = base.clone();
    config.auth.enabled = true;
    config.auth.access_keys = vec![format!("{}:{}", KEY.0, KEY.1)];
    config.engine.enabled = true;
    config.engine.total_lines = scenario.total_lines;
    config.engine.tick_secs = scenario.tick_secs / time_scale;
    config.pacing = scenario.pacing.clone();
    config.contact_center = scenario.contact_center.clone();
    config.contact_center.sim.time_scale = time_scale;
    config.contact_center.backend = BackendKind::AmazonConnect;
    let shipped = AmazonConnectConfig::default();
    config.contact_center.amazon_connect = AmazonConnectConfig {
        instance_id: INSTANCE.to_string(),
        endpoint: endpoint.to_string(),
        // One poll per model second, within a quota as many times the shipped one: what a
        // daemon sees of a real instance at scale 1.
        metrics_interval_secs: shipped.metrics_interval_secs / time_scale,
        metrics_rate_per_sec: shipped.metrics_rate_per_sec * time_scale,
        // The emulator is unthrottled: pacing is measured, not the API quota.
        api_rate_per_sec: 100_000.0,
        api_burst: 1000,
        events_key: EVENTS_KEY.to_string(),
        abandon_threshold_secs: scenario.sim().customers.abandon_threshold_secs,
        ..shipped
    };
    config
}

/// One shift over the wire in `pool`: emulator and daemon up, the campaign run for the
/// shift, both stopped.
async fn rehearse(
    args: &PacingWireArgs,
    base: &Config,
    scenario: &Scenario,
    backlog: u64,
    pool: &PgPool,
) -> anyhow::Result<Figures> {
    let emulator_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let daemon_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let emulator_endpoint = format!("http://{}", emulator_listener.local_addr()?);
    let daemon_endpoint = format!("http://{}", daemon_listener.local_addr()?);
    let config = rehearsal_config(base, scenario, args.time_scale, &emulator_endpoint);
    let connect_config = config.contact_center.amazon_connect.clone();
    let webhook = format!("{daemon_endpoint}/events/amazon-connect");
    let header = format!("{}: {EVENTS_KEY}", connect_config.events_header);
    let emulator_args = EmulatorCli::try_parse_from([
        "connect-emulator",
        "--instance-id",
        INSTANCE,
        "--webhook",
        &webhook,
        "--webhook-header",
        &header,
    ])?
    .args;
    let stop_emulator = CancellationToken::new();
    let (center_tx, center_rx) = tokio::sync::oneshot::channel();
    let emulator = tokio::spawn(crate::contact_center::emulator::serve_with(
        emulator_args,
        config.clone(),
        pool.clone(),
        emulator_listener,
        stop_emulator.clone(),
        Some(center_tx),
    ));
    let Ok(sim) = center_rx.await else {
        emulator.await??;
        bail!("the emulator stopped before its simulated center was up");
    };
    let connect = super::connect_signed_with(&connect_config, &config.aws.region, pool, KEY)?;
    let hooks = crate::app::Hooks {
        backend: Some(Backend::amazon_connect(connect, sim.clone())),
        ..Default::default()
    };
    let region = config.aws.region.clone();
    let daemon = InProcessDaemon::serve(config, pool.clone(), daemon_listener, hooks)?;
    let api = ApiClient::new(&daemon.endpoint, &region, KEY.0, KEY.1);
    let measured = shift(&api, &sim, scenario, args.time_scale, backlog, pool).await;
    let stopped = daemon.stop().await;
    stop_emulator.cancel();
    let emulated = emulator.await;
    let measured = measured?;
    stopped?;
    emulated.context("the emulator panicked")??;
    Ok(measured)
}

/// Creates the campaign, queues `backlog` requests, runs the campaign for the shift with
/// every agent idle at its start, and lets its last calls play out.
async fn shift(
    api: &ApiClient,
    sim: &SimContactCenter,
    scenario: &Scenario,
    time_scale: f64,
    backlog: u64,
    pool: &PgPool,
) -> anyhow::Result<Figures> {
    let dialer_config = match scenario.mode {
        Mode::Progressive => json!({"progressiveDialerConfig": {"bandwidthAllocation": 1.0}}),
        Mode::Predictive | Mode::Vicidial => {
            json!({"predictiveDialerConfig": {"bandwidthAllocation": 1.0}})
        }
    };
    let queue = scenario
        .sim()
        .queues
        .first()
        .map(|q| q.queue_id.clone())
        .context("the scenario has no queue")?;
    let created = api
        .call(
            "PUT",
            "/campaigns",
            Some(&json!({
                "name": format!("pacing-wire-{}", scenario.mode.as_str()),
                "connectInstanceId": INSTANCE,
                "dialerConfig": dialer_config,
                "outboundCallConfig": {
                    "connectContactFlowId": "pacing-wire-flow",
                    "connectQueueId": queue,
                    "answerMachineDetectionConfig": {
                        "enableAnswerMachineDetection": scenario.answer_machine_detection
                    },
                },
            })),
        )
        .await?;
    let campaign = created["id"]
        .as_str()
        .context("CreateCampaign returned no id")?
        .to_string();
    // Expiry is on the wall clock: well past the run's wall time.
    let shift_secs = scenario.hours * 3600.0;
    let wall_secs = (shift_secs + PLAY_OUT_SECS) / time_scale;
    let backlog = i64::try_from(backlog).context("--hours too long for a backlog")?;
    insert_pending(
        pool,
        &campaign,
        0,
        backlog,
        Expiry::InOrder {
            after_secs: 2.0 * wall_secs + 3600.0,
        },
    )
    .await?;

    let start_counters = sim.counters();
    let started = sim.now();
    api.call("POST", &format!("/campaigns/{campaign}/start"), None)
        .await?;
    let end = started + secs(shift_secs);
    wait_until(sim, end, time_scale).await;
    let end_counters = sim.counters();
    api.call("POST", &format!("/campaigns/{campaign}/pause"), None)
        .await?;
    wait_until(sim, end + secs(PLAY_OUT_SECS), time_scale).await;
    let played_out = sim.counters();
    if played_out.dials >= backlog as u64 {
        bail!("the campaign ran out of dial requests: its figures describe a drained queue");
    }
    Ok(Figures::of_counters(
        &start_counters,
        &end_counters,
        &played_out,
    ))
}

fn secs(secs: f64) -> chrono::Duration {
    chrono::Duration::microseconds((secs * 1e6).round() as i64)
}

/// Sleeps until the simulated center's clock reaches `at`.
async fn wait_until(sim: &SimContactCenter, at: DateTime<Utc>, time_scale: f64) {
    loop {
        let left = (at - sim.now()).num_microseconds().unwrap_or(i64::MAX);
        if left <= 0 {
            return;
        }
        let wall = Duration::from_micros(left as u64).div_f64(time_scale);
        tokio::time::sleep(wall.max(Duration::from_millis(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comparison_line_names_mode_figures_and_differences() {
        let wire = Figures {
            dials: 100,
            person_answers: 40,
            abandons: 1,
            occupancy: 0.905,
        };
        let simulated = Figures {
            dials: 98,
            person_answers: 50,
            abandons: 1,
            occupancy: 0.912,
        };
        assert_eq!(
            comparison(Mode::Predictive, &wire, &simulated),
            "predictive: wire occupancy 0.905 vs simulate 0.912 (Δ -0.7 points), abandonment 2.50% vs 2.00% (Δ +0.50 points)"
        );
        let silent = Figures {
            person_answers: 0,
            ..wire
        };
        assert_eq!(silent.abandonment(), 0.0);
    }

    #[test]
    fn the_rehearsal_scales_wall_intervals_to_model_time() {
        let scenario = Scenario::reference(5, 0.25, 120.0, 1.0, Mode::Predictive, 1);
        let config = rehearsal_config(&Config::default(), &scenario, 20.0, "http://127.0.0.1:1");
        let connect = &config.contact_center.amazon_connect;
        assert!((connect.metrics_interval_secs - 0.05).abs() < 1e-12);
        assert!((config.engine.tick_secs - 0.05).abs() < 1e-12);
        assert_eq!(config.contact_center.sim.time_scale, 20.0);
        assert_eq!(config.contact_center.backend, BackendKind::AmazonConnect);
        assert_eq!(config.contact_center.sim.queues[0].agents, 5);
    }
}
