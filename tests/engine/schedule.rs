//! A v2 campaign's schedule gates dialing: nothing is dialed before its start time, and
//! nothing after its end time, when the running campaign becomes `Completed` and its
//! pending requests are cancelled. Contacts are counted in the simulator's ledger.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::common::TestApp;
use crate::harness::{
    agentless_campaign, check_invariants, command, put_requests, sim_contacts, wait_for, Knobs,
    TestDb,
};

/// Few lines and calls of a second or two, so a backlog lasts past the schedule's end.
fn knobs() -> Knobs {
    Knobs {
        total_lines: 2,
        handle_secs: (1.0, 2.0),
        contact_timeout_secs: 10.0,
        ..Knobs::default()
    }
}

async fn set_schedule(app: &TestApp, campaign: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
    let body = json!({"schedule": {"startTime": start.to_rfc3339(), "endTime": end.to_rfc3339()}});
    app.call(
        "POST",
        &format!("/v2/campaigns/{campaign}/schedule"),
        Some(body),
    )
    .await
    .ok();
}

async fn state(pool: &PgPool, campaign: &str) -> String {
    sqlx::query_scalar("select state::text from campaign where id = $1")
        .bind(campaign)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn contacts_recorded(pool: &PgPool) -> Vec<DateTime<Utc>> {
    sim_contacts(pool)
        .await
        .into_values()
        .flatten()
        .map(|c| c.recorded_at)
        .collect()
}

#[sqlx::test]
async fn nothing_is_dialed_outside_the_schedule(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    let app = db.app(&knobs()).await;
    let campaign = agentless_campaign(&app).await;
    let accepted = put_requests(&app, &campaign, "s", 60, |_| Duration::from_secs(3600)).await;
    let now = Utc::now();
    set_schedule(
        &app,
        &campaign,
        now + chrono::Duration::hours(1),
        now + chrono::Duration::hours(2),
    )
    .await;
    command(&app, &campaign, "start").await;
    // Planning passes run every tick and on every API call; a few of them would have dialed
    // were the start time ignored.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        contacts_recorded(&db.pool).await.is_empty(),
        "a campaign was dialed before its schedule started"
    );
    assert_eq!(state(&db.pool, &campaign).await, "Running");

    // Open now, closing in a few seconds: dialing starts, then stops at the end.
    let end = Utc::now() + chrono::Duration::seconds(4);
    set_schedule(
        &app,
        &campaign,
        Utc::now() - chrono::Duration::hours(1),
        end,
    )
    .await;
    wait_for(
        "the campaign to complete",
        Duration::from_secs(30),
        || async { (state(&db.pool, &campaign).await == "Completed").then_some(()) },
    )
    .await;
    wait_for("the pending requests to be cancelled", Duration::from_secs(30), || async {
        let pending: i64 = sqlx::query_scalar(
            "select count(*) from dial_request where campaign_id = $1 and state in ('pending', 'in_progress')",
        )
        .bind(&campaign)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        (pending == 0).then_some(())
    })
    .await;

    let recorded = contacts_recorded(&db.pool).await;
    assert!(
        !recorded.is_empty(),
        "nothing was dialed while the schedule was open"
    );
    assert!(
        recorded.iter().all(|at| *at < end),
        "a contact was created after the schedule's end"
    );
    let cancelled: i64 = sqlx::query_scalar(
        "select count(*) from dial_request where campaign_id = $1 and state = 'cancelled'",
    )
    .bind(&campaign)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        cancelled > 0,
        "the backlog outlasted the schedule, and was cancelled"
    );
    check_invariants(&db.pool, &[campaign], &accepted)
        .await
        .assert_clean();
}
