//! Campaign commands against a dialing engine: Pause stops new dials while the calls in
//! progress finish (and Resume picks up where it stopped); Stop cancels pending requests
//! while the calls in progress finish.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::TestApp;
use crate::harness::{
    check_invariants, command, progressive_campaign, put_requests, sim_contacts, states,
    wait_drained, wait_for, Knobs, TestDb,
};

/// Calls that last a couple of seconds of wall time, so some are open at the command.
fn knobs() -> Knobs {
    Knobs {
        agents: 3,
        handle_secs: (1.0, 2.0),
        contact_timeout_secs: 10.0,
        ..Knobs::default()
    }
}

async fn db_now(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("select now()")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn in_progress(pool: &PgPool, campaign: &str) -> HashSet<Uuid> {
    sqlx::query_scalar(
        "select id from dial_request where campaign_id = $1 and state = 'in_progress'",
    )
    .bind(campaign)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

async fn batches_after(pool: &PgPool, campaign: &str, at: DateTime<Utc>) -> i64 {
    sqlx::query_scalar(
        "select count(*) from contact_batch where campaign_id = $1 and created_at > $2",
    )
    .bind(campaign)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn pending(pool: &PgPool, campaign: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from dial_request where campaign_id = $1 and state = 'pending'",
    )
    .bind(campaign)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Starts a progressive campaign of `n` requests and waits until calls are open.
async fn dialing(db: &TestDb, app: &TestApp, n: usize) -> (String, Vec<Uuid>) {
    let campaign = progressive_campaign(app).await;
    let accepted = put_requests(app, &campaign, "c", n, |_| Duration::from_secs(3600)).await;
    command(app, &campaign, "start").await;
    wait_for(
        "calls to be in progress",
        Duration::from_secs(20),
        || async {
            let open: i64 = sqlx::query_scalar(
                "select count(*) from dial_request
             where campaign_id = $1 and state = 'in_progress' and contact_id is not null",
            )
            .bind(&campaign)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            (open >= 2).then_some(())
        },
    )
    .await;
    (campaign, accepted)
}

/// Waits until no call of the campaign is open and returns how its requests ended.
async fn wait_calls_ended(pool: &PgPool, campaign: &str) {
    wait_for("the open calls to end", Duration::from_secs(30), || async {
        in_progress(pool, campaign).await.is_empty().then_some(())
    })
    .await;
}

async fn request_states(pool: &PgPool, ids: &HashSet<Uuid>) -> Vec<(Uuid, String)> {
    let ids: Vec<Uuid> = ids.iter().copied().collect();
    sqlx::query_as("select id, state::text from dial_request where id = any($1)")
        .bind(&ids)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn pause_stops_new_dials_while_calls_in_progress_finish(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let app = db.app(&knobs()).await;
    let (campaign, accepted) = dialing(&db, &app, 40).await;

    command(&app, &campaign, "pause").await;
    let paused_at = db_now(&db.pool).await;
    let open = in_progress(&db.pool, &campaign).await;
    let waiting = pending(&db.pool, &campaign).await;
    assert!(!open.is_empty() && waiting > 0);
    wait_calls_ended(&db.pool, &campaign).await;
    // Every agent is free now: a few more planning passes would dial if pause were ignored.
    tokio::time::sleep(Duration::from_millis(500)).await;

    for (id, state) in request_states(&db.pool, &open).await {
        assert_eq!(state, "completed", "call {id} open at the pause");
    }
    assert_eq!(
        batches_after(&db.pool, &campaign, paused_at).await,
        0,
        "requests were claimed after the pause was acknowledged"
    );
    assert_eq!(
        pending(&db.pool, &campaign).await,
        waiting,
        "a paused campaign keeps its pending requests"
    );

    command(&app, &campaign, "resume").await;
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(60),
    )
    .await;
    let findings = check_invariants(&db.pool, std::slice::from_ref(&campaign), &accepted).await;
    findings.assert_clean();
    assert_eq!(findings.contacted, 40, "{:?}", findings.states);
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn stop_cancels_pending_requests_while_calls_in_progress_finish(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let app = db.app(&knobs()).await;
    let (campaign, accepted) = dialing(&db, &app, 40).await;

    command(&app, &campaign, "stop").await;
    let stopped_at = db_now(&db.pool).await;
    let open = in_progress(&db.pool, &campaign).await;
    assert!(!open.is_empty() && pending(&db.pool, &campaign).await > 0);
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(30),
    )
    .await;

    for (id, state) in request_states(&db.pool, &open).await {
        assert_eq!(state, "completed", "call {id} open at the stop");
    }
    assert_eq!(
        batches_after(&db.pool, &campaign, stopped_at).await,
        0,
        "requests were claimed after the stop was acknowledged"
    );
    let cancelled: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "select id, reason from dial_request where campaign_id = $1 and state = 'cancelled'",
    )
    .bind(&campaign)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let counts = states(&db.pool, std::slice::from_ref(&campaign)).await;
    let completed = counts.get("completed").copied().unwrap_or(0);
    assert_eq!(
        completed + cancelled.len() as i64,
        40,
        "every request was either called to its end or cancelled: {counts:?}"
    );
    assert!(!cancelled.is_empty(), "{counts:?}");
    let contacts = sim_contacts(&db.pool).await;
    for (id, reason) in &cancelled {
        assert_eq!(reason.as_deref(), Some("CAMPAIGN_STOPPED"), "request {id}");
        assert!(
            !contacts.contains_key(id),
            "cancelled request {id} was called"
        );
    }
    check_invariants(&db.pool, &[campaign], &accepted)
        .await
        .assert_clean();
    app.shutdown().await.unwrap();
}
