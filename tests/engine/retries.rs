//! Retries by outcome through a running engine and the simulated contact center: calls that
//! end with no answer or busy are tried again as new attempts of the same request, at the
//! times the campaign's policy says, never more often than it allows, each attempt with one
//! contact of its own; the ledger and the status API show every attempt.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::harness::{
    agentless_campaign, check_invariants, command, put_requests, sim_contacts, wait_drained, Knobs,
    TestDb,
};

/// The policy under test: seconds before a retry and attempts in all, by outcome.
const NO_ANSWER: (f64, u32) = (1.5, 3);
const BUSY: (f64, u32) = (0.5, 2);

fn rule(outcome: &str) -> Option<(f64, u32)> {
    match outcome {
        "no_answer" => Some(NO_ANSWER),
        "busy" => Some(BUSY),
        _ => None,
    }
}

#[sqlx::test]
async fn retries_happen_at_the_right_times_as_new_attempts_of_the_same_request(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let app = db.app(&Knobs::default()).await;
    let campaign = agentless_campaign(&app).await;
    let set = app
        .call(
            "PUT",
            &format!("/campaigns/{campaign}/retry-policy"),
            Some(json!({ "outcomes": {
                "no_answer": { "afterSeconds": NO_ANSWER.0, "maxAttempts": NO_ANSWER.1 },
                "busy": { "afterSeconds": BUSY.0, "maxAttempts": BUSY.1 },
            }})),
        )
        .await;
    assert_eq!(set.ok()["source"], "api");
    let accepted = put_requests(&app, &campaign, "r", 40, |_| Duration::from_secs(300)).await;
    command(&app, &campaign, "start").await;
    let campaigns = [campaign.clone()];
    wait_drained(&db.pool, &campaigns, Duration::from_secs(120)).await;
    check_invariants(&db.pool, &campaigns, &accepted)
        .await
        .assert_clean();

    type Row = (Uuid, String, Option<String>, i32, Value);
    let rows: Vec<Row> = sqlx::query_as(
        "select id, state::text, outcome, attempts, attempt_history from dial_request",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    // When each attempt was dialed, from the ledger: the claim's `dial` decisions.
    let dials: Vec<(Uuid, i32, DateTime<Utc>)> = sqlx::query_as(
        "select request_id, attempt, decided_at from rule_decision where verdict = 'dial'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let dialed: HashMap<(Uuid, i32), DateTime<Utc>> =
        dials.into_iter().map(|(id, a, at)| ((id, a), at)).collect();
    let retry_decisions: i64 =
        sqlx::query_scalar("select count(*) from rule_decision where verdict = 'retry'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    // A retry's configuration version covers the retry policy that scheduled it; the
    // claim's decisions, which no retry policy makes, keep the campaign's.
    let versions: Vec<(bool, i64)> = sqlx::query_as(
        "select verdict = 'retry', count(distinct config_version) from rule_decision group by 1 order by 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(versions, [(false, 1), (true, 1)]);
    let shared: i64 = sqlx::query_scalar(
        "select count(*) from rule_decision r join rule_decision d on d.config_version = r.config_version
         where r.verdict = 'retry' and d.verdict <> 'retry'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(shared, 0, "retries must carry the retry policy's version");
    let contacts = sim_contacts(&db.pool).await;

    let mut retried = 0;
    for (id, state, outcome, attempts, history) in &rows {
        assert_eq!(state, "completed", "request {id}");
        let past = history.as_array().unwrap();
        assert_eq!(past.len() as i32, attempts - 1, "request {id}: {history}");
        for (i, attempt) in past.iter().enumerate() {
            let number = i as i32 + 1;
            assert_eq!(attempt["attempt"], number, "{history}");
            let outcome = attempt["outcome"].as_str().unwrap();
            let (after, max) = rule(outcome)
                .unwrap_or_else(|| panic!("request {id} retried after {outcome}: {history}"));
            assert!(
                (number as u32) < max,
                "request {id} retried too often: {history}"
            );
            let ended: DateTime<Utc> = attempt["endedAt"].as_str().unwrap().parse().unwrap();
            let retry_at: DateTime<Utc> = attempt["retryAt"].as_str().unwrap().parse().unwrap();
            assert_eq!(
                retry_at - ended,
                chrono::Duration::milliseconds((after * 1000.0) as i64),
                "request {id}: {history}"
            );
            // The next attempt was dialed no earlier than its retry time.
            let next = dialed[&(*id, number + 1)];
            assert!(
                next >= retry_at,
                "request {id} attempt {} dialed at {next}, before {retry_at}",
                number + 1
            );
            retried += 1;
        }
        // A final outcome the policy retries means the attempts were used up (the expiration
        // is far off).
        if let Some((_, max)) = outcome.as_deref().and_then(rule) {
            assert!(
                *attempts as u32 >= max,
                "request {id} ended {outcome:?} after {attempts} attempts"
            );
        }
        // One contact per attempt, each made by a batch of its own.
        let made = contacts.get(id).map(Vec::as_slice).unwrap_or_default();
        let tokens: std::collections::HashSet<&str> =
            made.iter().map(|c| c.client_token.as_str()).collect();
        assert_eq!(tokens.len() as i32, *attempts, "request {id}");
    }
    assert!(retried > 0, "the run retried nothing: {rows:?}");
    assert_eq!(retry_decisions, retried, "a ledger row per retry");

    // The status API shows every attempt of a retried request.
    let (id, _, _, attempts, _) = rows.iter().find(|r| r.3 > 1).unwrap();
    let status = app.dial_request_status(&campaign, id).await;
    let shown = status.ok()["attemptHistory"].as_array().unwrap().clone();
    assert_eq!(shown.len() as i32, *attempts);
    let contact_ids: std::collections::HashSet<&str> = shown
        .iter()
        .map(|a| a["contactId"].as_str().unwrap())
        .collect();
    assert_eq!(contact_ids.len() as i32, *attempts, "{shown:?}");
}
