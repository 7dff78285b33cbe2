//! Invariant 5: a dead daemon's leases are taken over within a bounded time. Daemon A (a
//! real process) holds the lease and dials; it is killed with SIGKILL; daemon B (in-process,
//! running before the kill) must take the lease once it lapses — not before, and no later
//! than the lease TTL plus a few planning ticks — and finish A's pending work.

use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::harness::{
    agentless_campaign, check_invariants, command, lease, put_requests, wait_drained, wait_for,
    Daemon, Faults, Knobs, TestDb, POLL,
};

/// Runs the takeover with `knobs`; B starts `stagger` after A has started dialing.
async fn takeover(connect: PgConnectOptions, knobs: Knobs, requests: usize, stagger: Duration) {
    let db = TestDb::new(connect).await;
    let a = Daemon::start(&db, &knobs).await;
    let campaign = agentless_campaign(&a.client).await;
    let accepted = put_requests(&a.client, &campaign, "t", requests, |_| {
        Duration::from_secs(3600)
    })
    .await;
    command(&a.client, &campaign, "start").await;
    let a_prefix = format!("{}-", a.pid());
    let (a_owner, a_fence) = wait_for("A to take the lease", Duration::from_secs(10), || async {
        lease(&db.pool, &campaign)
            .await
            .filter(|(owner, _)| owner.starts_with(&a_prefix))
    })
    .await;
    tokio::time::sleep(stagger).await;
    // B runs before A dies, so the takeover time is B's reaction, not its start-up.
    let b = db.app(&knobs).await;
    wait_for("A to have dialed", Duration::from_secs(10), || async {
        let n: i64 = sqlx::query_scalar("select count(*) from sim_ledger")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        (n >= 3).then_some(())
    })
    .await;
    // A few of B's planning passes, all while A renews its lease.
    tokio::time::sleep(Duration::from_secs_f64(5.0 * knobs.tick_secs)).await;
    assert_eq!(
        lease(&db.pool, &campaign).await.map(|(owner, _)| owner),
        Some(a_owner.clone()),
        "B must not take a live lease"
    );

    a.kill9().await;
    let killed = Instant::now();
    let open: i64 = sqlx::query_scalar(
        "select count(*) from dial_request where campaign_id = $1 and state = 'in_progress'",
    )
    .bind(&campaign)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(open > 0, "A died with no calls open; nothing to take over");

    let (_, b_fence) = loop {
        if let Some(taken) = lease(&db.pool, &campaign)
            .await
            .filter(|(owner, _)| *owner != a_owner)
        {
            break taken;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "nobody took over A's lease in 30 s"
        );
        tokio::time::sleep(POLL).await;
    };
    let elapsed = killed.elapsed();
    // Leases live on the database's clock, whatever the simulator's speed.
    let ttl = Duration::from_secs_f64(knobs.lease_ttl_secs);
    let tick = Duration::from_secs_f64(knobs.tick_secs);
    let bound = ttl + 5 * tick + Duration::from_millis(500);
    assert!(
        elapsed <= bound,
        "takeover took {elapsed:?}, more than the lease TTL ({ttl:?}) plus a few ticks ({bound:?})"
    );
    assert!(
        elapsed + 2 * tick >= ttl,
        "takeover after {elapsed:?}, before A's lease ({ttl:?}) can have lapsed"
    );
    assert!(
        b_fence > a_fence,
        "a takeover bumps the fence: {a_fence} -> {b_fence}"
    );

    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(60),
    )
    .await;
    let findings = check_invariants(&db.pool, &[campaign], &accepted).await;
    findings.assert_clean();
    assert_eq!(findings.contacted, requests, "{:?}", findings.breakdown);
    b.shutdown().await.unwrap();
}

#[sqlx::test]
async fn a_dead_daemons_lease_is_taken_over_in_bounded_time(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let knobs = Knobs {
        lease_ttl_secs: 1.5,
        tick_secs: 0.1,
        total_lines: 6,
        faults: Faults {
            timeout: 0.2,
            timeout_secs: 0.6,
            ..Faults::default()
        },
        ..Knobs::default()
    };
    takeover(connect, knobs, 150, Duration::ZERO).await;
}

/// The same with a simulator running 50 times faster than the wall, as in a quick demo
/// (`contact_center.sim.time_scale`), and daemons started a few seconds apart.
#[sqlx::test]
async fn a_dead_daemons_lease_is_taken_over_in_bounded_time_on_a_fast_simulator(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let knobs = Knobs {
        time_scale: 50.0,
        lease_ttl_secs: 1.0,
        tick_secs: 0.1,
        answer_secs: (2.0, 12.0),
        ring_timeout_secs: 15.0,
        handle_secs: (5.0, 20.0),
        contact_timeout_secs: 200.0,
        total_lines: 3,
        ..Knobs::default()
    };
    takeover(connect, knobs, 300, Duration::from_secs(3)).await;
}
