//! Invariant 2: no contact is created after its request's expiration time — with requests
//! expiring within seconds, too few lines to call them all in time, and calls that are
//! throttled, fail, or time out after taking effect (so re-sends happen near expirations).
//!
//! A contact's creation time is when the simulator recorded its batch in the ledger, just
//! before dialing it (`sim_ledger.created_at`, the database clock, like `expires_at`).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::harness::{
    agentless_campaign, check_invariants, command, exercise, progressive_campaign, put_requests,
    wait_drained, Faults, Knobs, TestDb,
};

fn short_lived(i: usize) -> Duration {
    // 0.3 s to 5.3 s, spread so that expirations fall all through the run.
    Duration::from_millis(300 + (i as u64 * 337) % 5000)
}

async fn run(connect: PgConnectOptions, knobs: Knobs) {
    let db = TestDb::new(connect).await;
    let app = db.app(&knobs).await;
    let agentless = agentless_campaign(&app).await;
    let progressive = progressive_campaign(&app).await;
    let mut accepted = put_requests(&app, &agentless, "a", 200, short_lived).await;
    accepted.extend(put_requests(&app, &progressive, "p", 60, short_lived).await);
    let campaigns = [agentless.clone(), progressive.clone()];
    for campaign in &campaigns {
        command(&app, campaign, "start").await;
    }
    wait_drained(&db.pool, &campaigns, Duration::from_secs(40)).await;

    let findings = check_invariants(&db.pool, &campaigns, &accepted).await;
    findings.assert_clean();
    let expired = findings.states.get("expired").copied().unwrap_or(0);
    let completed = findings.states.get("completed").copied().unwrap_or(0);
    assert!(
        expired > 20 && completed > 20,
        "the run must both call and miss requests near their expiration: {:?}",
        findings.breakdown
    );
    let done = exercise(&db.pool).await;
    assert!(done.resent_batches > 0, "{done:?}");
    app.shutdown().await.unwrap();
}

fn knobs() -> Knobs {
    Knobs {
        faults: Faults {
            throttle: 0.15,
            internal_error: 0.1,
            // A timed-out call hangs 1.2 s, past the engine's call timeout.
            timeout: 0.25,
            timeout_secs: 1.2,
            item_throttle: 0.15,
            item_internal_error: 0.1,
        },
        call_timeout_secs: 0.6,
        total_lines: 5,
        agents: 3,
        ..Knobs::default()
    }
}

#[sqlx::test]
async fn no_contact_is_created_after_its_expiration(_: PgPoolOptions, connect: PgConnectOptions) {
    run(connect, knobs()).await;
}

#[sqlx::test]
async fn no_contact_is_created_after_its_expiration_with_the_smallest_claim_margin(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    run(
        connect,
        Knobs {
            claim_expiry_margin_secs: dialer::engine::CLAIM_EXPIRY_MARGIN_SECS_MIN,
            ..knobs()
        },
    )
    .await;
}
