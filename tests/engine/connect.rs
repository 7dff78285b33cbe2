//! The engine driving Amazon Connect over the wire: `dialer serve` processes with the
//! `amazon-connect` backend against `dialer connect-emulator`, a process of its own that
//! signs nothing but checks every signature, posts contact events to the daemons' webhook
//! like an EventBridge API destination, and keeps its ClientToken ledger in the test
//! database — the ledger the invariant checks read, so the emulator is the judge of "no
//! request got two contacts".

use std::time::Duration;

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::common::{KEY_ID, SECRET};
use crate::harness::{
    agentless_campaign, breakdown, check_invariants, command, free_port, holder,
    progressive_campaign, put_requests, wait_drained, wait_for, Daemon, Knobs, TestDb, SIM_QUEUE,
};

const EVENTS_KEY: &str = "test-events-key";
const INSTANCE: &str = "instance-1";

/// A daemon's configuration: the test's settings with the Amazon Connect backend on the
/// emulator at `emulator_port`, at rates the unthrottled emulator allows.
pub fn daemon_toml(knobs: &Knobs, emulator_port: u16) -> String {
    format!(
        r#"{}
[contact_center]
backend = "amazon-connect"

[contact_center.amazon_connect]
instance_id = "{INSTANCE}"
endpoint = "http://127.0.0.1:{emulator_port}"
api_rate_per_sec = 100.0
api_burst = 20
metrics_interval_secs = 0.2
metrics_rate_per_sec = 20.0
"#,
        knobs.toml()
    )
}

/// The standard AWS credential chain finds the test key in the environment.
pub fn daemon_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("DIALER_CONNECT_EVENTS_KEY", EVENTS_KEY.to_string()),
    ]
}

/// The emulator on `port`, simulating the test's agents and customers, posting events to
/// the daemons on `daemon_ports`; `faults` are more emulator flags.
pub async fn emulator(
    db: &TestDb,
    knobs: &Knobs,
    port: u16,
    daemon_ports: &[u16],
    faults: &[&str],
) -> Daemon {
    let listen = format!("127.0.0.1:{port}");
    let header = format!("x-dialer-events-key: {EVENTS_KEY}");
    let webhooks: Vec<String> = daemon_ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/events/amazon-connect"))
        .collect();
    let mut args = vec![
        "--listen",
        &listen,
        "--instance-id",
        INSTANCE,
        "--webhook-header",
        &header,
    ];
    for webhook in &webhooks {
        args.extend(["--webhook", webhook.as_str()]);
    }
    args.extend(faults);
    Daemon::launch(db, "connect-emulator", &args, &knobs.toml(), port, &[]).await
}

async fn daemon(db: &TestDb, knobs: &Knobs, port: u16, emulator_port: u16) -> Daemon {
    Daemon::start_with(db, &daemon_toml(knobs, emulator_port), port, &daemon_env()).await
}

/// Requests that ended `lost`.
fn lost(findings: &crate::harness::Findings) -> i64 {
    findings
        .breakdown
        .iter()
        .filter(|(key, _)| key.contains("lost"))
        .map(|(_, n)| n)
        .sum()
}

#[sqlx::test]
async fn progressive_predictive_and_agentless_campaigns_run_over_the_wire(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs::default();
    let (emulator_port, daemon_port) = (free_port(), free_port());
    let daemon = daemon(&db, &knobs, daemon_port, emulator_port).await;
    // Every delivery fault EventBridge has, and failing calls.
    let _emulator = emulator(
        &db,
        &knobs,
        emulator_port,
        &[daemon_port],
        &[
            "--duplicate-rate",
            "0.3",
            "--reorder",
            "0.3",
            "--reorder-delay-ms",
            "300",
            "--drop-rate",
            "0.05",
            "--internal-error-rate",
            "0.05",
            "--throttle-rate",
            "30/10",
        ],
    )
    .await;
    let client = &daemon.client;
    let predictive = client
        .create_campaign_with(
            json!({"predictiveDialerConfig": {"bandwidthAllocation": 1.0}}),
            json!({"connectContactFlowId": "flow-1", "connectQueueId": SIM_QUEUE}),
        )
        .await;
    let campaigns = vec![
        progressive_campaign(client).await,
        predictive,
        agentless_campaign(client).await,
    ];
    let mut accepted = Vec::new();
    for (i, campaign) in campaigns.iter().enumerate() {
        command(client, campaign, "start").await;
        accepted.extend(
            put_requests(client, campaign, &format!("wire{i}"), 40, |_| {
                Duration::from_secs(300)
            })
            .await,
        );
    }
    wait_drained(&db.pool, &campaigns, Duration::from_secs(120)).await;
    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    findings.assert_clean();
    assert_eq!(lost(&findings), 0, "{:?}", findings.breakdown);
    let outcomes = breakdown(&db.pool, &campaigns).await;
    for outcome in ["connected", "answered"] {
        assert!(
            outcomes.keys().any(|k| k.contains(outcome)),
            "no {outcome} outcome: {outcomes:?}"
        );
    }
    let events: i64 = sqlx::query_scalar("select count(*) from connect_event")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(events > 0, "no event came through the webhook");
}

#[sqlx::test]
async fn an_emulator_restart_mid_run_gives_no_request_a_second_contact(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs {
        answer_secs: (0.5, 1.5),
        ..Knobs::default()
    };
    let (emulator_port, daemon_port) = (free_port(), free_port());
    let daemon = daemon(&db, &knobs, daemon_port, emulator_port).await;
    let first = emulator(&db, &knobs, emulator_port, &[daemon_port], &[]).await;
    let client = &daemon.client;
    let campaign = agentless_campaign(client).await;
    command(client, &campaign, "start").await;
    let accepted = put_requests(client, &campaign, "restart", 80, |_| {
        Duration::from_secs(300)
    })
    .await;
    let campaigns = vec![campaign];
    wait_for("some calls placed", Duration::from_secs(30), || async {
        let dials: i64 = sqlx::query_scalar("select count(*) from sim_ledger")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        (dials >= 3).then_some(())
    })
    .await;
    first.kill9().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _second = emulator(&db, &knobs, emulator_port, &[daemon_port], &[]).await;
    wait_drained(&db.pool, &campaigns, Duration::from_secs(120)).await;
    check_invariants(&db.pool, &campaigns, &accepted)
        .await
        .assert_clean();
}

#[sqlx::test]
async fn killing_the_lease_holder_three_times_loses_no_outcome_over_the_wire(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // The shipped engine settings (a one-hour contact timeout among them): contacts the
    // dead holder placed live on in the emulator, and their real outcomes must come.
    let knobs = Knobs {
        answer_secs: (1.0, 3.0),
        ring_timeout_secs: 4.0,
        ..Knobs::shipped_engine()
    };
    let emulator_port = free_port();
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let mut daemons = vec![
        daemon(&db, &knobs, ports[0], emulator_port).await,
        daemon(&db, &knobs, ports[1], emulator_port).await,
    ];
    let _emulator = emulator(&db, &knobs, emulator_port, &ports, &[]).await;
    let client = daemons[0].client.clone();
    let campaign = agentless_campaign(&client).await;
    command(&client, &campaign, "start").await;
    let accepted = put_requests(&client, &campaign, "kill", 150, |_| {
        Duration::from_secs(600)
    })
    .await;
    let campaigns = vec![campaign.clone()];
    for kill in 0..3 {
        let victim = holder(&db.pool, &campaign, &daemons).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        daemons.remove(victim).kill9().await;
        daemons.push(daemon(&db, &knobs, ports[2 + kill], emulator_port).await);
    }
    wait_drained(&db.pool, &campaigns, Duration::from_secs(180)).await;
    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    findings.assert_clean();
    assert_eq!(lost(&findings), 0, "{:?}", findings.breakdown);
}

/// `dialer bench pacing-wire` on a tiny shift: a comparison line per mode, and the engine
/// made contacts over the wire (its figures are not judged here: a few model minutes of
/// five agents say nothing about pacing).
#[sqlx::test]
async fn the_pacing_rehearsal_dials_over_the_wire(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    let bench = |modes: &str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dialer"));
        command
            .args(["bench", "pacing-wire", "--agents", "5", "--hours", "0.05"])
            .args(["--time-scale", "60", "--modes", modes])
            .env("DATABASE_URL", &db.url)
            .env_remove("RUST_LOG")
            .env_remove("DIALER_ACCESS_KEYS");
        command
    };
    let output = bench("progressive,predictive").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for mode in ["progressive", "predictive"] {
        let compared = format!("{mode}: wire occupancy ");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&compared))
            .unwrap_or_else(|| panic!("no {mode} comparison in:\n{stdout}"));
        for part in ["vs simulate", "points), abandonment ", "% vs "] {
            assert!(line.contains(part), "{part:?} not in {line}");
        }
        let details = format!("{mode}: wire ");
        let dials: u64 = stdout
            .lines()
            .filter(|l| l.starts_with(&details) && !l.starts_with(&compared))
            .find_map(|l| l[details.len()..].split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {mode} dial count in:\n{stdout}"));
        assert!(dials > 0, "no contact made over the wire:\n{stdout}");
    }
    let refused = bench("vicidial").output().await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("vicidial"));
}
