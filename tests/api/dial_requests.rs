use std::sync::Arc;
use std::time::Duration;

use dialer::clock::WallClock;
use dialer::queue::store::campaign_pending_count;
use dialer::queue::sweeper::Sweeper;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{dial_request, test_config, TestApp};

fn ids(body: &Value) -> Vec<(String, String)> {
    body["successfulRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["clientToken"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn failures(body: &Value) -> Vec<(String, String)> {
    body["failedRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["clientToken"].as_str().unwrap().to_string(),
                r["failureCode"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn rows(pool: &PgPool, campaign: &str) -> i64 {
    sqlx::query_scalar("select count(*) from dial_request where campaign_id = $1")
        .bind(campaign)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn invalid_numbers_fail_only_their_item(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let answer = app
        .put_dial_requests(
            &campaign,
            json!([
                dial_request("good-1", "+14155550123"),
                dial_request("plus-dash", "+-"),
                dial_request("no-plus", "14155550123"),
                dial_request("spare-code", "+999123456789"),
                dial_request("good-2", "+442071838750"),
            ]),
        )
        .await;
    let body = answer.ok();
    let accepted: Vec<String> = ids(body).into_iter().map(|(t, _)| t).collect();
    assert_eq!(accepted, ["good-1", "good-2"]);
    assert_eq!(
        failures(body),
        [
            ("plus-dash", "InvalidInput"),
            ("no-plus", "InvalidInput"),
            ("spare-code", "InvalidInput")
        ]
        .map(|(t, c)| (t.to_string(), c.to_string()))
    );
    assert_eq!(rows(&app.pool, &campaign).await, 2);
}

#[sqlx::test]
async fn model_violations_refuse_the_whole_batch(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let too_many: Vec<Value> = (0..26)
        .map(|i| dial_request(&format!("t{i}"), "+14155550123"))
        .collect();
    app.put_dial_requests(&campaign, json!(too_many))
        .await
        .error(400, "ValidationException");
    app.put_dial_requests(&campaign, json!([]))
        .await
        .error(400, "ValidationException");
    let mut bad = dial_request("bad token!", "+1 415 555 0123");
    bad["attributes"] = json!({"bad key": "v"});
    let message = app
        .put_dial_requests(&campaign, json!([bad]))
        .await
        .error(400, "ValidationException")
        .to_string();
    for path in [
        "dialRequests.1.member.clientToken",
        "dialRequests.1.member.phoneNumber",
        "dialRequests.1.member.attributes.key",
    ] {
        assert!(message.contains(path), "{path} not in {message}");
    }
    assert!(
        !message.contains("415 555"),
        "phone numbers are never echoed: {message}"
    );
    let mut missing = dial_request("t", "+14155550123");
    missing.as_object_mut().unwrap().remove("expirationTime");
    let message = app
        .put_dial_requests(&campaign, json!([missing]))
        .await
        .error(400, "ValidationException")
        .to_string();
    assert!(
        message.contains("dialRequests.1.member.expirationTime"),
        "{message}"
    );
    assert_eq!(rows(&app.pool, &campaign).await, 0);
}

#[sqlx::test]
async fn replays_return_the_same_ids_and_reuse_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let batch = json!([
        dial_request("a", "+14155550123"),
        dial_request("b", "+14155550124")
    ]);
    let first = ids(app.put_dial_requests(&campaign, batch.clone()).await.ok());
    let replay = ids(app.put_dial_requests(&campaign, batch).await.ok());
    assert_eq!(first, replay);

    let mut changed = dial_request("a", "+14155550199");
    changed["expirationTime"] = json!("2099-01-01T00:00:00Z");
    let answer = app
        .put_dial_requests(
            &campaign,
            json!([changed, dial_request("c", "+14155550125")]),
        )
        .await;
    assert_eq!(
        failures(answer.ok()),
        [("a".to_string(), "InvalidInput".to_string())]
    );
    assert_eq!(rows(&app.pool, &campaign).await, 3);

    // The same token twice in one batch: one request, answered twice.
    let twice = json!([
        dial_request("d", "+14155550126"),
        dial_request("d", "+14155550126")
    ]);
    let answer = app.put_dial_requests(&campaign, twice).await;
    let got = ids(answer.ok());
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], got[1]);
    let conflicting = json!([
        dial_request("e", "+14155550126"),
        dial_request("e", "+14155550127")
    ]);
    let answer = app.put_dial_requests(&campaign, conflicting).await;
    assert_eq!(ids(answer.ok()).len(), 1);
    assert_eq!(
        failures(answer.ok()),
        [("e".to_string(), "InvalidInput".to_string())]
    );
    assert_eq!(rows(&app.pool, &campaign).await, 5);
}

#[sqlx::test]
async fn concurrent_identical_batches_store_each_request_once(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let campaign = app.progressive_campaign().await;
    let batch: Vec<Value> = (0..25)
        .map(|i| dial_request(&format!("tok-{i}"), "+14155550123"))
        .collect();
    let batch = json!(batch);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, campaign, batch) = (app.clone(), campaign.clone(), batch.clone());
        tasks.push(tokio::spawn(async move {
            ids(app.put_dial_requests(&campaign, batch).await.ok())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert_eq!(answers[0].len(), 25);
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "every client sees the same ids"
    );
    assert_eq!(rows(&app.pool, &campaign).await, 25);
    assert_eq!(
        campaign_pending_count(&app.pool, &campaign).await.unwrap(),
        25
    );
}

#[sqlx::test]
async fn pending_cap_throttles_items(pool: PgPool) {
    let mut config = test_config();
    config.queue.max_pending_per_campaign = 3;
    let app = TestApp::spawn_with(pool, config).await;
    let campaign = app.progressive_campaign().await;
    let batch: Vec<Value> = (0..5)
        .map(|i| dial_request(&format!("t{i}"), "+14155550123"))
        .collect();
    let answer = app.put_dial_requests(&campaign, json!(batch)).await;
    let body = answer.ok();
    assert_eq!(ids(body).len(), 3);
    assert_eq!(
        failures(body),
        [("t3", "RequestThrottled"), ("t4", "RequestThrottled")]
            .map(|(t, c)| (t.to_string(), c.to_string()))
    );
    // A replay of an accepted token is not throttled by the full queue.
    let replay = app
        .put_dial_requests(&campaign, json!([dial_request("t0", "+14155550123")]))
        .await;
    assert_eq!(ids(replay.ok()).len(), 1);
}

#[sqlx::test]
async fn ended_and_unknown_campaigns_refuse_requests(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    app.put_dial_requests(&campaign, json!([dial_request("a", "+14155550123")]))
        .await
        .ok();
    app.call("POST", &format!("/campaigns/{campaign}/stop"), None)
        .await
        .ok();
    let refused = app
        .put_dial_requests(&campaign, json!([dial_request("b", "+14155550123")]))
        .await;
    refused.error(409, "InvalidCampaignStateException");
    assert_eq!(refused.body["state"], "Stopped");
    let only_invalid = app
        .put_dial_requests(&campaign, json!([dial_request("c", "+-")]))
        .await;
    only_invalid.error(409, "InvalidCampaignStateException");
    app.put_dial_requests(
        "no-such-campaign",
        json!([dial_request("a", "+14155550123")]),
    )
    .await
    .error(404, "ResourceNotFoundException");
}

async fn states(pool: &PgPool, campaign: &str) -> Vec<(String, String)> {
    sqlx::query_as("select client_token, state::text from dial_request where campaign_id = $1 order by client_token")
        .bind(campaign)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn sweeper_expires_and_cancels(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let expiring = app.progressive_campaign().await;
    let mut past = dial_request("late", "+14155550123");
    past["expirationTime"] =
        json!((chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339());
    app.put_dial_requests(
        &expiring,
        json!([past, dial_request("fresh", "+14155550124")]),
    )
    .await
    .ok();

    let stopping = app.progressive_campaign().await;
    app.put_dial_requests(&stopping, json!([dial_request("x", "+14155550123")]))
        .await
        .ok();
    app.call("POST", &format!("/campaigns/{stopping}/stop"), None)
        .await
        .ok();

    let sweeper = Sweeper {
        pool: pool.clone(),
        clock: Arc::new(WallClock),
        interval: Duration::from_secs(1),
        batch: 1,
        retention: Default::default(),
        abandon_keep: chrono::Duration::hours(72),
    };
    sweeper.pass().await.unwrap();
    assert_eq!(
        states(&pool, &expiring).await,
        [("fresh", "pending"), ("late", "expired")].map(|(t, s)| (t.to_string(), s.to_string()))
    );
    assert_eq!(
        states(&pool, &stopping).await,
        [("x".to_string(), "cancelled".to_string())]
    );
    assert_eq!(campaign_pending_count(&pool, &expiring).await.unwrap(), 1);
    assert_eq!(campaign_pending_count(&pool, &stopping).await.unwrap(), 0);
}

/// An upload beyond what the daemon works on at once and lets wait is refused at once with
/// 429 ThrottlingException (which SDKs retry), never left to time out or fail with a 500;
/// the batch in progress completes.
#[sqlx::test]
async fn an_overfull_ingest_is_throttled_not_timed_out(pool: PgPool) {
    let mut config = test_config();
    // Nothing dials here, so the idle bound is the one in force.
    config.queue.ingest_max_concurrent_batches_idle = 1;
    config.queue.ingest_max_waiting_batches = 0;
    let app = Arc::new(TestApp::spawn_with(pool.clone(), config).await);
    let campaign = app.progressive_campaign().await;
    // An uncommitted row with the first batch's token: that batch's insert waits on it,
    // holding the only turn.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query(
        "insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, attributes, digest)
         values (gen_random_uuid(), $1, 'held', '+14155550100', now() + interval '1 hour', '{}'::jsonb, '\\x00'::bytea)",
    )
    .bind(&campaign)
    .execute(&mut *holder)
    .await
    .unwrap();
    let first = tokio::spawn({
        let (app, campaign) = (app.clone(), campaign.clone());
        async move {
            app.put_dial_requests(&campaign, json!([dial_request("held", "+14155550123")]))
                .await
        }
    });
    let waiting = "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like '%insert into dial_request%'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sqlx::query_scalar::<_, i64>(waiting)
        .fetch_one(&pool)
        .await
        .unwrap()
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first batch never waited"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let started = tokio::time::Instant::now();
    let refused = app
        .put_dial_requests(&campaign, json!([dial_request("second", "+14155550124")]))
        .await;
    let message = refused.error(429, "ThrottlingException");
    assert!(message.contains("PutDialRequestBatch"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    // Other operations are not held up by the uploads.
    app.call("GET", &format!("/campaigns/{campaign}"), None)
        .await
        .ok();

    holder.rollback().await.unwrap();
    let answer = first.await.unwrap();
    assert_eq!(ids(answer.ok()).len(), 1);
    // The turn is free again: the refused batch goes through when sent again.
    let again = app
        .put_dial_requests(&campaign, json!([dial_request("second", "+14155550124")]))
        .await;
    assert_eq!(ids(again.ok()).len(), 1);
}
