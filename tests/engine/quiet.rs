//! The abandoned-call quiet period end to end: a call the simulated contact center abandons
//! (answered, no agent free) holds back the next request for its number, whichever campaign
//! of the account puts it, until the period ends; other numbers are dialed as usual.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dialer::config::Config;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::TestApp;
use crate::harness::{
    agentless_campaign, command, progressive_campaign, sim_contacts, wait_for, Knobs, TestDb,
};

/// Every dial answered by a person, after long enough for both progressive campaigns to
/// have dialed, and the one agent kept far longer than the test: the later answer waits
/// past the abandon threshold.
fn one_busy_agent() -> Config {
    let knobs = Knobs {
        agents: 1,
        answer_secs: (3.0, 3.5),
        ring_timeout_secs: 10.0,
        handle_secs: (120.0, 120.0),
        ..Knobs::default()
    };
    let toml = knobs
        .toml()
        .replace("answer_probability = 0.6", "answer_probability = 1.0")
        .replace(
            "fail_fast_probability = 0.15",
            "fail_fast_probability = 0.0",
        );
    let config = Config::from_toml(&toml, std::path::Path::new("quiet-test.toml"))
        .expect("test settings parse");
    let problems = config.validate();
    assert!(problems.is_empty(), "test settings invalid: {problems:?}");
    config
}

/// Puts one request for `number` in `campaign`, expiring long after the quiet period.
async fn put_one(app: &TestApp, campaign: &str, token: &str, number: &str) -> Uuid {
    let expires = (Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let body = app
        .put_dial_requests(
            campaign,
            json!([{"clientToken": token, "phoneNumber": number, "expirationTime": expires, "attributes": {}}]),
        )
        .await
        .ok()
        .clone();
    Uuid::parse_str(body["successfulRequests"][0]["id"].as_str().unwrap()).unwrap()
}

#[sqlx::test]
async fn a_number_whose_call_was_abandoned_is_not_called_again_for_the_quiet_period(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let app = TestApp::spawn_with(db.daemon_pool().await, one_busy_agent()).await;
    let started = Utc::now();

    // Two progressive campaigns on the one agent's queue each see it free and dial: the
    // first answer takes the agent, the second is abandoned.
    let (first, second) = (
        progressive_campaign(&app).await,
        progressive_campaign(&app).await,
    );
    let mut agent_calls = Vec::new();
    for (campaign, token, number) in [
        (&first, "p-1", "+14155550001"),
        (&second, "p-2", "+14155550002"),
    ] {
        agent_calls.push((put_one(&app, campaign, token, number).await, number));
    }
    let later = agentless_campaign(&app).await;
    for campaign in [&first, &second, &later] {
        command(&app, campaign, "start").await;
    }

    let (abandoned_id, abandoned_number): (Uuid, String) =
        wait_for("a call abandoned", Duration::from_secs(60), || async {
            sqlx::query_as(
                "select id, phone_number from dial_request
                 where outcome = 'abandoned' and state not in ('pending', 'in_progress')",
            )
            .fetch_optional(&db.pool)
            .await
            .unwrap()
        })
        .await;
    assert!(
        agent_calls
            .iter()
            .any(|(id, n)| *id == abandoned_id && *n == abandoned_number),
        "the abandoned call is one of the agent campaigns' calls"
    );
    // The statement that ended the call recorded its number's abandon for the account.
    let (abandoned_at, hash_matches): (DateTime<Utc>, bool) =
        sqlx::query_as("select abandoned_at, number_hash = number_hash($1) from abandoned_number")
            .bind(&abandoned_number)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(hash_matches, "the abandon names another number");
    // The call's end is on the simulator's clock, which agrees with the wall's at scale 1.
    let slack = chrono::Duration::seconds(5);
    assert!(
        started - slack <= abandoned_at && abandoned_at <= Utc::now() + slack,
        "abandoned at {abandoned_at}, test started at {started}"
    );

    // The account's agentless campaign, which dials at once whatever the agents do, is
    // given the abandoned number again and a number never called.
    let again = put_one(&app, &later, "a-again", &abandoned_number).await;
    let fresh = put_one(&app, &later, "a-fresh", "+14155550003").await;
    let verdicts = wait_for(
        "the abandoned number's new request decided",
        Duration::from_secs(60),
        || async { Some(decisions(&db.pool, again).await).filter(|d| !d.is_empty()) },
    )
    .await;
    wait_for(
        "the fresh number's call to end",
        Duration::from_secs(60),
        || async { (request(&db.pool, fresh).await.0 == "completed").then_some(()) },
    )
    .await;
    assert_eq!(decisions(&db.pool, fresh).await, one("dial", "all_passed"));

    // The held request is decided once and waits, uncalled, until 72 h after the abandon.
    assert_eq!(verdicts, one("wait", "abandoned_quiet"));
    assert_eq!(decisions(&db.pool, again).await, verdicts);
    assert_eq!(
        request(&db.pool, again).await,
        (
            "pending".to_string(),
            Some(abandoned_at + chrono::Duration::hours(72))
        )
    );
    let contacted = sim_contacts(&db.pool).await;
    assert!(
        !contacted.contains_key(&again),
        "the held request was called"
    );
    assert!(
        contacted.contains_key(&fresh),
        "the fresh number was not called"
    );

    let waits = format!("dialer_dial_requests_quiet_waits_total{{campaign_id=\"{later}\"");
    assert_eq!(app.metric_sum(&waits).await, 1.0);
    app.shutdown().await.unwrap();
}

/// A request's ledger rows: verdict and rule, in order.
async fn decisions(pool: &PgPool, id: Uuid) -> Vec<(String, String)> {
    sqlx::query_as(
        "select verdict::text, rule from rule_decision where request_id = $1 order by seq",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A single ledger row.
fn one(verdict: &str, rule: &str) -> Vec<(String, String)> {
    vec![(verdict.to_string(), rule.to_string())]
}

/// A request's state and the time it waits for.
async fn request(pool: &PgPool, id: Uuid) -> (String, Option<DateTime<Utc>>) {
    sqlx::query_as("select state::text, not_before from dial_request where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}
