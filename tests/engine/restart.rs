//! A restart never freezes a campaign. The calls of a daemon's in-process simulated center
//! end with the daemon; with the shipped engine settings (a one-hour contact timeout among
//! them) its successor must end them at once, as `lost` with a reason, and dial again within
//! the lease TTL plus a few seconds, whether the daemon was killed or stopped.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::harness::{
    agentless_campaign, breakdown, calls_open, check_invariants, command, holder, lease,
    put_requests, wait_drained, wait_for, Daemon, Knobs, TestDb,
};

const HOUR: Duration = Duration::from_secs(3600);

/// Requests of `campaign` in progress.
async fn in_progress(pool: &PgPool, campaign: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from dial_request where campaign_id = $1 and state = 'in_progress'",
    )
    .bind(campaign)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Calls placed (new tokens recorded in the simulator's ledger; a replay records nothing).
async fn dials(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from sim_ledger")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Reasons of the contacts that ended without their events, with their counts.
async fn lost_reasons(pool: &PgPool, campaign: &str) -> Vec<(Option<String>, i64)> {
    sqlx::query_as(
        "select reason, count(*) from dial_request
         where campaign_id = $1 and outcome = 'lost' group by reason",
    )
    .bind(campaign)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn killing_the_lease_holder_three_times_never_freezes_the_campaign(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // Agentless calls of 4 to 8 s keep every line busy: whatever the holder had open when it
    // died would, left in flight, stop its successor from dialing.
    let knobs = Knobs {
        answer_secs: (4.0, 8.0),
        ring_timeout_secs: 10.0,
        ..Knobs::shipped_engine()
    };
    let mut daemons = vec![
        Daemon::start(&db, &knobs).await,
        Daemon::start(&db, &knobs).await,
    ];
    let campaign = agentless_campaign(&daemons[0].client).await;
    let accepted = put_requests(&daemons[0].client, &campaign, "k", 1500, |_| HOUR).await;
    command(&daemons[0].client, &campaign, "start").await;

    let ttl = Duration::from_secs_f64(knobs.lease_ttl_secs);
    let bound = ttl + Duration::from_secs(4);
    let mut resumed_after = Vec::new();
    for _ in 0..3 {
        let victim = holder(&db.pool, &campaign, &daemons).await;
        wait_for(
            "the holder to have calls open",
            Duration::from_secs(20),
            || async { (in_progress(&db.pool, &campaign).await >= 100).then_some(()) },
        )
        .await;
        daemons.remove(victim).kill9().await;
        let killed = Instant::now();
        let before = dials(&db.pool).await;
        // The next victim runs before this kill's takeover is over.
        daemons.push(Daemon::start(&db, &knobs).await);
        wait_for("dialing to resume after the kill", bound * 2, || async {
            (dials(&db.pool).await > before).then_some(())
        })
        .await;
        resumed_after.push(killed.elapsed());
    }
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(120),
    )
    .await;
    for daemon in daemons {
        daemon.kill9().await;
    }

    for resumed in &resumed_after {
        assert!(
            *resumed <= bound,
            "dialing resumed {resumed:?} after a kill, more than the lease TTL plus a few seconds ({bound:?}): {resumed_after:?}"
        );
    }
    let findings = check_invariants(&db.pool, std::slice::from_ref(&campaign), &accepted).await;
    findings.assert_clean();
    assert_eq!(
        findings.contacted,
        accepted.len(),
        "{:?}",
        findings.breakdown
    );
    let lost = lost_reasons(&db.pool, &campaign).await;
    assert!(
        !lost.is_empty(),
        "the kills ended no call: {:?}",
        findings.breakdown
    );
    for (reason, n) in &lost {
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("stopped with its daemon")),
            "{n} lost contacts with reason {reason:?}"
        );
    }
}

#[sqlx::test]
async fn a_stopped_daemon_ends_its_calls_and_its_successor_dials_at_once(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // Calls far longer than the test: only the daemon's stop can end them.
    let knobs = Knobs {
        answer_secs: (120.0, 180.0),
        ring_timeout_secs: 200.0,
        total_lines: 20,
        ..Knobs::shipped_engine()
    };
    let first = Daemon::start(&db, &knobs).await;
    let campaign = agentless_campaign(&first.client).await;
    put_requests(&first.client, &campaign, "s", 100, |_| HOUR).await;
    command(&first.client, &campaign, "start").await;
    wait_for("a call on every line", Duration::from_secs(20), || async {
        (calls_open(&db.pool, std::slice::from_ref(&campaign)).await == 20).then_some(())
    })
    .await;

    let status = first.terminate().await;
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert_eq!(
        in_progress(&db.pool, &campaign).await,
        0,
        "calls left in flight after the stop: {:?}",
        breakdown(&db.pool, std::slice::from_ref(&campaign)).await
    );
    let lost = lost_reasons(&db.pool, &campaign).await;
    assert_eq!(lost.iter().map(|(_, n)| n).sum::<i64>(), 20, "{lost:?}");
    assert!(
        lost.iter()
            .all(|(reason, _)| reason.as_deref().is_some_and(|r| r.contains("shut down"))),
        "{lost:?}"
    );

    // The stop gave the lease up: the successor dials within a few ticks, not a lease TTL.
    let before = dials(&db.pool).await;
    let second = Daemon::start(&db, &knobs).await;
    let started = Instant::now();
    wait_for("the successor to dial", Duration::from_secs(10), || async {
        (dials(&db.pool).await > before).then_some(())
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "the successor waited {waited:?} to dial"
    );
    let owners: BTreeSet<String> = lease(&db.pool, &campaign)
        .await
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert!(
        owners
            .iter()
            .all(|o| o.starts_with(&format!("{}-", second.pid()))),
        "{owners:?}"
    );
    second.kill9().await;
}
