//! Invariants 1 and 3: at most one contact per dial request, ever, and no acknowledged
//! request lost — under injected contact-center faults, across `kill -9` of the daemon at
//! random moments while it dials, and with two daemons on one database.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::Rng;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::harness::{
    agentless_campaign, check_invariants, command, exercise, lease, progressive_campaign,
    put_requests, wait_drained, wait_for, Daemon, Faults, Knobs, TestDb,
};

const HOUR: Duration = Duration::from_secs(3600);

/// Unresolved batches and requests in progress: what a kill at this moment interrupts.
async fn in_flight(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "select (select count(*) from contact_batch where resolved_at is null),
                (select count(*) from dial_request where state = 'in_progress')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Waits until the daemon with process id `pid` holds the campaign's lease.
async fn wait_lease_held_by(pool: &PgPool, campaign: &str, pid: u32) -> (String, i64) {
    let prefix = format!("{pid}-");
    wait_for(
        &format!("daemon {pid} to take the lease of {campaign}"),
        Duration::from_secs(15),
        || async {
            lease(pool, campaign)
                .await
                .filter(|(owner, _)| owner.starts_with(&prefix))
        },
    )
    .await
}

#[sqlx::test]
async fn faults_never_dial_a_request_twice_nor_lose_one(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs {
        faults: Faults::all(),
        total_lines: 12,
        ..Knobs::default()
    };
    let app = db.app(&knobs).await;
    let agentless = agentless_campaign(&app).await;
    let progressive = progressive_campaign(&app).await;
    let mut accepted = put_requests(&app, &agentless, "a", 150, |_| HOUR).await;
    accepted.extend(put_requests(&app, &progressive, "p", 50, |_| HOUR).await);
    let campaigns = [agentless.clone(), progressive.clone()];
    for campaign in &campaigns {
        command(&app, campaign, "start").await;
    }
    wait_drained(&db.pool, &campaigns, Duration::from_secs(60)).await;

    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    findings.assert_clean();
    // Nothing expires within the hour and every number is valid: all were called.
    assert_eq!(findings.contacted, 200, "{:?}", findings.states);
    let done = exercise(&db.pool).await;
    assert!(
        done.resent_batches > 0 && done.reclaimed_requests > 0 && done.failed_items > 0,
        "the faults did not exercise the retry paths: {done:?}"
    );
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn kill_nine_while_dialing_never_dials_twice_nor_loses_a_request(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs {
        faults: Faults {
            throttle: 0.05,
            timeout: 0.2,
            timeout_secs: 0.6,
            item_throttle: 0.1,
            ..Faults::default()
        },
        total_lines: 8,
        ..Knobs::default()
    };
    let mut daemon = Daemon::start(&db, &knobs).await;
    let agentless = agentless_campaign(&daemon.client).await;
    let progressive = progressive_campaign(&daemon.client).await;
    // Half expire within seconds, so kills also land around expirations.
    let mut accepted = put_requests(&daemon.client, &agentless, "a", 200, |i| {
        if i % 2 == 0 {
            Duration::from_millis(3000 + (i as u64 * 37) % 5000)
        } else {
            HOUR
        }
    })
    .await;
    accepted.extend(put_requests(&daemon.client, &progressive, "p", 40, |_| HOUR).await);
    let campaigns = [agentless.clone(), progressive.clone()];
    for campaign in &campaigns {
        command(&daemon.client, campaign, "start").await;
    }

    let mut kills = Vec::new();
    for round in 0..5 {
        wait_lease_held_by(&db.pool, &agentless, daemon.pid()).await;
        let delay = Duration::from_millis(rand::rng().random_range(20..700));
        tokio::time::sleep(delay).await;
        daemon.kill9().await;
        kills.push((delay, in_flight(&db.pool).await));
        daemon = Daemon::start(&db, &knobs).await;
        accepted.extend(
            put_requests(&daemon.client, &agentless, &format!("r{round}"), 25, |_| {
                HOUR
            })
            .await,
        );
    }
    let interrupted = kills.iter().filter(|(_, (b, r))| b + r > 0).count();
    assert!(
        interrupted >= 3,
        "too few kills landed while dialing (delay, (open batches, requests in progress)): {kills:?}"
    );
    wait_drained(&db.pool, &campaigns, Duration::from_secs(60)).await;
    daemon.kill9().await;

    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    eprintln!("kills (delay, (open batches, requests in progress)): {kills:?}");
    findings.assert_clean();
    assert!(findings.contacted > 100, "{:?}", findings.states);
    let (_, fence) = lease(&db.pool, &agentless).await.unwrap();
    assert!(
        fence >= 6,
        "each restart takes the lease over: fence {fence}"
    );
}

#[sqlx::test]
async fn two_daemons_on_one_database_never_dial_twice(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs {
        faults: Faults::all(),
        total_lines: 6,
        ..Knobs::default()
    };
    let mut daemons = [
        Daemon::start(&db, &knobs).await,
        Daemon::start(&db, &knobs).await,
    ];
    let mut campaigns = Vec::new();
    let mut accepted = Vec::new();
    for (i, daemon) in daemons.iter().enumerate() {
        let campaign = agentless_campaign(&daemon.client).await;
        accepted
            .extend(put_requests(&daemon.client, &campaign, &format!("c{i}"), 100, |_| HOUR).await);
        campaigns.push(campaign);
    }
    let campaign = progressive_campaign(&daemons[0].client).await;
    accepted.extend(put_requests(&daemons[1].client, &campaign, "p", 40, |_| HOUR).await);
    campaigns.push(campaign);
    for campaign in &campaigns {
        command(&daemons[0].client, campaign, "start").await;
    }

    // Both daemons run throughout; whichever holds the leases is killed and restarted, so
    // the other takes over while the first one's calls are still open.
    let mut owners = BTreeSet::new();
    for _ in 0..4 {
        let pids = [daemons[0].pid(), daemons[1].pid()];
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let holder = loop {
            if let Some((owner, _)) = lease(&db.pool, &campaigns[0]).await {
                let holder = pids
                    .iter()
                    .position(|pid| owner.starts_with(&format!("{pid}-")));
                owners.insert(owner);
                if let Some(holder) = holder {
                    break holder;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "neither daemon took the first campaign's lease: {owners:?}"
            );
            tokio::time::sleep(crate::harness::POLL).await;
        };
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(100..700))).await;
        let restarted = Daemon::start(&db, &knobs).await;
        std::mem::replace(&mut daemons[holder], restarted)
            .kill9()
            .await;
    }
    wait_drained(&db.pool, &campaigns, Duration::from_secs(60)).await;
    for daemon in daemons {
        daemon.kill9().await;
    }

    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    findings.assert_clean();
    assert!(
        owners.len() >= 4,
        "every round's holder is a different process: {owners:?}"
    );
    assert!(findings.contacted > 150, "{:?}", findings.states);
}
