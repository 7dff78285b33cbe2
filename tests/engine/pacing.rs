//! Invariant 4: daemons together never exceed a campaign's pacing. They run in-process
//! on one database, each with its own simulated contact center of `AGENTS` agents; only the
//! lease holder dials. Midway the owner hands over by shutting down, then a third daemon
//! joins and the owner stalls (its lease is made to lapse, repeatedly, while both run), so
//! each successor paces with its predecessor's calls still in flight.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::harness::{
    check_invariants, command, lease, progressive_campaign, put_requests, wait_drained, wait_for,
    Knobs, TestDb,
};

const AGENTS: u32 = 4;

/// What the sampler saw.
#[derive(Debug, Default)]
struct Samples {
    taken: usize,
    max_in_flight: i64,
    /// Lease tenures seen: fence to owners.
    tenures: BTreeMap<i64, BTreeSet<String>>,
}

/// Samples the campaign's dials in flight (the pacer's "in flight": contacts being created
/// or ringing) and its lease until `stop` fires.
async fn sample(pool: PgPool, campaign: String, stop: CancellationToken) -> Samples {
    let mut samples = Samples::default();
    while !stop.is_cancelled() {
        let (in_flight, owner, fence): (i64, Option<String>, Option<i64>) = sqlx::query_as(
            "select (select count(*) from dial_request
                     where campaign_id = $1 and state = 'in_progress'
                       and contact_phase in ('creating', 'initiated')),
                    (select owner from campaign_lease where campaign_id = $1),
                    (select fence from campaign_lease where campaign_id = $1)",
        )
        .bind(&campaign)
        .fetch_one(&pool)
        .await
        .unwrap();
        samples.taken += 1;
        samples.max_in_flight = samples.max_in_flight.max(in_flight);
        if let (Some(owner), Some(fence)) = (owner, fence) {
            samples.tenures.entry(fence).or_default().insert(owner);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    samples
}

#[sqlx::test]
async fn two_daemons_never_exceed_a_campaigns_pacing(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs {
        agents: AGENTS,
        ..Knobs::default()
    };
    let first = db.app(&knobs).await;
    let campaign = progressive_campaign(&first).await;
    let accepted = put_requests(&first, &campaign, "p", 120, |_| Duration::from_secs(3600)).await;
    let stop = CancellationToken::new();
    let sampler = tokio::spawn(sample(
        db.daemon_pool().await,
        campaign.clone(),
        stop.clone(),
    ));
    command(&first, &campaign, "start").await;
    // The first daemon is alone, so it takes the lease; then the second joins.
    let (first_owner, _) = wait_for(
        "the first daemon to take the lease",
        Duration::from_secs(10),
        || lease(&db.pool, &campaign),
    )
    .await;
    let second = db.app(&knobs).await;

    let completed = |n: i64| {
        let pool = &db.pool;
        let campaign = &campaign;
        move || async move {
            let done: i64 = sqlx::query_scalar(
                "select count(*) from dial_request where campaign_id = $1 and state = 'completed'",
            )
            .bind(campaign)
            .fetch_one(pool)
            .await
            .unwrap();
            (done >= n).then_some(())
        }
    };
    wait_for(
        "30 calls to complete",
        Duration::from_secs(40),
        completed(30),
    )
    .await;
    // A graceful hand-over: the owner leaves while the second daemon runs.
    first.shutdown().await.unwrap();
    let (second_owner, _) = wait_for(
        "the second daemon to take over",
        Duration::from_secs(10),
        || async {
            lease(&db.pool, &campaign)
                .await
                .filter(|(owner, _)| *owner != first_owner)
        },
    )
    .await;
    // A third daemon joins, and the owner stalls: its lease lapses every 250 ms, and
    // whichever daemon plans next takes it while the other may still be dialing.
    let third = db.app(&knobs).await;
    for _ in 0..8 {
        sqlx::query(
            "update campaign_lease set expires_at = now() - interval '1 second' where campaign_id = $1",
        )
        .bind(&campaign)
        .execute(&db.pool)
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(60),
    )
    .await;
    stop.cancel();
    let samples = sampler.await.unwrap();
    eprintln!("pacing samples: {samples:?}");

    assert!(samples.taken > 100, "{samples:?}");
    assert!(
        samples.max_in_flight <= i64::from(AGENTS),
        "{} dials in flight with {AGENTS} agents per daemon: {samples:?}",
        samples.max_in_flight
    );
    assert!(
        samples.max_in_flight >= 2,
        "pacing never had several dials in flight; the bound was not exercised: {samples:?}"
    );
    for (fence, owners) in &samples.tenures {
        assert_eq!(
            owners.len(),
            1,
            "fence {fence} held by several daemons: {owners:?}"
        );
    }
    let owners: BTreeSet<&String> = samples.tenures.values().flatten().collect();
    assert!(
        owners.contains(&first_owner) && owners.contains(&second_owner),
        "{samples:?}"
    );

    // Claims happened under one tenure at a time: in claim order, fences never go back.
    let batches: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "select created_at, fence from contact_batch where campaign_id = $1 order by created_at, fence",
    )
    .bind(&campaign)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let fences: Vec<i64> = batches.iter().map(|(_, fence)| *fence).collect();
    assert!(
        fences.windows(2).all(|w| w[0] <= w[1]),
        "batches of an older tenure were claimed after a newer one's: {batches:?}"
    );
    assert!(
        fences.first() < fences.last(),
        "both tenures claimed batches: {fences:?}"
    );

    check_invariants(&db.pool, &[campaign], &accepted)
        .await
        .assert_clean();
    second.shutdown().await.unwrap();
    third.shutdown().await.unwrap();
}
