//! A database outage loses nothing and fails fast. PostgreSQL (a cluster of the test's own)
//! is stopped for 30 s in the middle of a campaign run with the shipped engine settings:
//! meanwhile API calls and `/readyz` answer within 2 s (the AWS error shape, 503); after it
//! every request ends, none twice, and no outcome is `lost`.

use std::time::{Duration, Instant};

use dialer::db::embedded::EmbeddedPostgres;
use serde_json::json;

use crate::harness::{
    agentless_campaign, calls_open, check_invariants, command, progressive_campaign, put_requests,
    wait_drained, wait_for, Daemon, Knobs, TestDb,
};

const OUTAGE: Duration = Duration::from_secs(30);
/// What the issue promises an operator while the database is away.
const FAIL_FAST: Duration = Duration::from_secs(2);

/// `/readyz`'s status; `None` if the daemon did not answer.
async fn readyz(daemon: &Daemon) -> Option<u16> {
    let url = format!("{}/readyz", daemon.client.endpoint);
    let ready = daemon.client.http.get(url).send().await.ok()?;
    Some(ready.status().as_u16())
}

#[tokio::test]
async fn a_database_outage_loses_no_outcome_and_fails_fast() {
    let dir = std::env::temp_dir().join(format!("dialer-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let postgres = EmbeddedPostgres::start(&dir)
        .await
        .expect("start a cluster");
    let url = postgres.url();
    let db = TestDb::on_url(&url).await;
    let knobs = Knobs {
        answer_secs: (0.5, 2.0),
        ring_timeout_secs: 3.0,
        total_lines: 10,
        ..Knobs::shipped_engine()
    };
    let daemon = Daemon::start(&db, &knobs).await;
    let agentless = agentless_campaign(&daemon.client).await;
    let progressive = progressive_campaign(&daemon.client).await;
    let hour = Duration::from_secs(3600);
    let mut accepted = put_requests(&daemon.client, &agentless, "a", 200, |_| hour).await;
    accepted.extend(put_requests(&daemon.client, &progressive, "p", 60, |_| hour).await);
    let campaigns = [agentless.clone(), progressive.clone()];
    for campaign in &campaigns {
        command(&daemon.client, campaign, "start").await;
    }
    wait_for("calls under way", Duration::from_secs(20), || async {
        (calls_open(&db.pool, &campaigns).await >= 5).then_some(())
    })
    .await;

    postgres.stop().await.expect("stop the cluster");
    db.pool.close().await;
    let stopped = Instant::now();
    // Give the daemon's pool time to find its connections gone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let asked = Instant::now();
    let answer = daemon
        .client
        .call("GET", &format!("/campaigns/{agentless}"), None)
        .await;
    let waited = asked.elapsed();
    assert!(
        waited <= FAIL_FAST,
        "an API call waited {waited:?} during the outage"
    );
    assert!(answer.status.is_server_error(), "status {}", answer.status);
    assert!(
        answer.error_type.is_some(),
        "no x-amzn-ErrorType: {}",
        answer.body
    );
    assert!(answer.body["message"].is_string(), "{}", answer.body);
    let asked = Instant::now();
    let ready = readyz(&daemon).await;
    let waited = asked.elapsed();
    assert!(
        waited <= FAIL_FAST,
        "/readyz waited {waited:?} during the outage"
    );
    assert_eq!(ready, Some(503));

    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    let postgres = EmbeddedPostgres::start(&dir)
        .await
        .expect("restart the cluster");
    assert_eq!(postgres.url(), url, "the cluster came back elsewhere");
    let db = TestDb::on_url(&url).await;

    wait_for("/readyz to recover", Duration::from_secs(20), || async {
        (readyz(&daemon).await == Some(200)).then_some(())
    })
    .await;
    let listed = daemon
        .client
        .call("POST", "/campaigns-summary", Some(json!({})))
        .await;
    listed.ok();
    wait_drained(&db.pool, &campaigns, Duration::from_secs(120)).await;
    daemon.kill9().await;

    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    findings.assert_clean();
    assert_eq!(
        findings.contacted,
        accepted.len(),
        "{:?}",
        findings.breakdown
    );
    assert!(
        !findings.breakdown.keys().any(|k| k.ends_with("/lost")),
        "outcomes lost in the outage: {:?}",
        findings.breakdown
    );
    db.pool.close().await;
    postgres.stop().await.expect("stop the cluster");
    let _ = std::fs::remove_dir_all(&dir);
}
