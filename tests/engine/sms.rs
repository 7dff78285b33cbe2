//! SMS end to end: campaigns with an sms channel, their requests filled from templates and
//! sent once each through `StartOutboundChatContact`, on the simulated center (whose
//! `sim_sms` ledger, one row per ClientToken, is the judge of "no request got two
//! messages") and over the wire against the Connect emulator (`connect_emulator_chat`).
//!
//! Campaigns are created as v1 agentless campaigns and given their sms channel (and no
//! telephony one) in the database, as the v2 API stores it; requests are put through v1
//! and moved to the sms channel the same way.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dialer::config::Config;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{Client, TestApp};
use crate::connect::{daemon_env, daemon_toml, emulator};
use crate::harness::{
    agentless_campaign, breakdown, command, free_port, wait_drained, Daemon, Faults, Knobs, TestDb,
};

const TEMPLATE: &str = "arn:aws:wisdom:us-east-1:123456789012:message-template/greeting";
const CODE_TEMPLATE: &str = "arn:aws:wisdom:us-east-1:123456789012:message-template/code";
const SOURCE: &str = "arn:aws:connect:us-east-1:123456789012:instance/instance-1/phone-number/sms";
const FLOW: &str =
    "arn:aws:connect:us-east-1:123456789012:instance/instance-1/contact-flow/sms-flow";

/// The test's settings with two templates.
fn sms_toml(base: String) -> String {
    format!(
        r#"{base}
[[templates]]
arn = "{TEMPLATE}"
body = "Hi {{{{firstName}}}}, see you soon"

[[templates]]
arn = "{CODE_TEMPLATE}"
body = "Your code is {{{{ code }}}}"
"#
    )
}

fn config(knobs: &Knobs) -> Config {
    Config::from_toml(&sms_toml(knobs.toml()), Path::new("sms-test.toml"))
        .expect("test settings parse")
}

async fn app(db: &TestDb, knobs: &Knobs) -> TestApp {
    TestApp::spawn_with(db.daemon_pool().await, config(knobs)).await
}

/// An SMS campaign sending at `capacity` of the daemon's rate.
async fn sms_campaign(client: &Client, pool: &PgPool, capacity: f64) -> String {
    let id = agentless_campaign(client).await;
    sqlx::query(
        "update campaign set channel_subtype_config = $2, connect_campaign_flow_arn = $3
         where id = $1",
    )
    .bind(&id)
    .bind(json!({"sms": {
        "capacity": capacity,
        "outboundMode": {"agentless": {}},
        "defaultOutboundConfig": {"connectSourcePhoneNumberArn": SOURCE, "wisdomTemplateArn": TEMPLATE},
    }}))
    .bind(FLOW)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// One SMS request to put.
struct Sms {
    attributes: Value,
    parameters: Option<Value>,
    expires_in: Duration,
}

impl Sms {
    fn greeting(name: &str) -> Sms {
        Sms {
            attributes: json!({"firstName": name}),
            parameters: None,
            expires_in: Duration::from_secs(3600),
        }
    }
}

/// Puts the requests on `campaign`'s sms channel; returns their ids, in order.
async fn put_sms(
    client: &Client,
    pool: &PgPool,
    campaign: &str,
    prefix: &str,
    sms: &[Sms],
) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(sms.len());
    for (n, chunk) in sms.chunks(25).enumerate() {
        let items: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let expiration = Utc::now() + chrono::Duration::from_std(s.expires_in).unwrap();
                json!({
                    "clientToken": format!("{prefix}-{n}-{i}"),
                    "phoneNumber": format!("+1415555{:04}", (n * 25 + i) % 10_000),
                    "expirationTime": expiration.to_rfc3339(),
                    "attributes": s.attributes,
                })
            })
            .collect();
        let body = client
            .put_dial_requests(campaign, json!(items))
            .await
            .ok()
            .clone();
        let accepted = body["successfulRequests"].as_array().unwrap();
        assert_eq!(accepted.len(), chunk.len(), "{body}");
        for (item, s) in accepted.iter().zip(chunk) {
            let id = Uuid::parse_str(item["id"].as_str().unwrap()).unwrap();
            sqlx::query(
                "update dial_request set channel = 'sms', channel_parameters = $2 where id = $1",
            )
            .bind(id)
            .bind(&s.parameters)
            .execute(pool)
            .await
            .unwrap();
            ids.push(id);
        }
    }
    ids
}

/// A daemon with `knobs`, an SMS campaign at `capacity` with `requests` on it, started,
/// after its requests all ended (within `limit`); with the request ids in order.
async fn run(
    db: &TestDb,
    knobs: &Knobs,
    requests: &[Sms],
    limit: Duration,
) -> (TestApp, String, Vec<Uuid>) {
    let app = app(db, knobs).await;
    let campaign = sms_campaign(&app, &db.pool, 1.0).await;
    let ids = put_sms(&app, &db.pool, &campaign, "r", requests).await;
    command(&app, &campaign, "start").await;
    wait_drained(&db.pool, std::slice::from_ref(&campaign), limit).await;
    (app, campaign, ids)
}

/// Settings where a share `timeout` of sends take effect and then time out past the
/// engine's call timeout, at `rate` messages a second.
fn timing_out(rate: f64, timeout: f64) -> Knobs {
    Knobs {
        sms_messages_per_second: rate,
        faults: Faults {
            timeout,
            timeout_secs: 0.5,
            ..Faults::default()
        },
        call_timeout_secs: 0.3,
        ..Knobs::default()
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A message the center recorded: when, and its length.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Sent {
    request: Uuid,
    at: DateTime<Utc>,
    content_length: i32,
}

/// Every message a ledger table recorded, per request (its token names the request).
async fn sent(pool: &PgPool, table: &str, at: &str) -> HashMap<Uuid, Vec<Sent>> {
    let rows: Vec<Sent> = sqlx::query_as(&format!(
        "select substring(client_token from 'dialer-sms-(.{{36}})-')::uuid as request,
                {at} as at, content_length
         from {table} where client_token like 'dialer-sms-%'"
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    let mut by_request: HashMap<Uuid, Vec<Sent>> = HashMap::new();
    for row in rows {
        by_request.entry(row.request).or_default().push(row);
    }
    by_request
}

/// Each request's state, reason and outcome, as `state/reason/outcome`.
async fn ends(pool: &PgPool, ids: &[Uuid]) -> Vec<String> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "select id, state::text || '/' || coalesce(reason, '-') || '/' || coalesce(outcome, '-')
         from dial_request where id = any($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .unwrap();
    let by_id: HashMap<Uuid, String> = rows.into_iter().collect();
    ids.iter().map(|id| by_id[id].clone()).collect()
}

/// No request has two messages, and none was sent after its expiration.
async fn assert_once_and_in_time(pool: &PgPool, sends: &HashMap<Uuid, Vec<Sent>>) {
    for (request, messages) in sends {
        assert_eq!(
            messages.len(),
            1,
            "request {request} got {} messages",
            messages.len()
        );
    }
    let expirations: Vec<(Uuid, DateTime<Utc>)> =
        sqlx::query_as("select id, expires_at from dial_request where channel = 'sms'")
            .fetch_all(pool)
            .await
            .unwrap();
    for (id, expires_at) in expirations {
        if let Some(message) = sends.get(&id).and_then(|m| m.first()) {
            assert!(
                message.at < expires_at,
                "request {id} was sent at {}, after its expiration {expires_at}",
                message.at
            );
        }
    }
}

#[sqlx::test]
async fn sms_requests_are_filled_from_templates_and_sent_once(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let mut requests: Vec<Sms> = ["Ada", "Bo", "Cy"]
        .iter()
        .map(|n| Sms::greeting(n))
        .collect();
    requests.push(Sms {
        attributes: json!({"code": "123456"}),
        parameters: Some(
            json!({"templateArn": CODE_TEMPLATE, "connectSourcePhoneNumberArn": SOURCE}),
        ),
        expires_in: Duration::from_secs(3600),
    });
    requests.push(Sms {
        attributes: json!({"lastName": "Lovelace"}),
        parameters: None,
        expires_in: Duration::from_secs(3600),
    });
    requests.push(Sms {
        attributes: json!({"firstName": "Di"}),
        parameters: Some(
            json!({"templateArn": "arn:aws:wisdom:us-east-1:123456789012:message-template/none"}),
        ),
        expires_in: Duration::from_secs(3600),
    });
    let (app, campaign, ids) =
        run(&db, &Knobs::default(), &requests, Duration::from_secs(20)).await;

    assert_eq!(
        ends(&db.pool, &ids).await,
        [
            "completed/-/sent",
            "completed/-/sent",
            "completed/-/sent",
            "completed/-/sent",
            "failed/TEMPLATE_ATTRIBUTE_MISSING/-",
            "failed/TEMPLATE_NOT_FOUND/-",
        ]
    );
    let sends = sent(&db.pool, "sim_sms", "created_at").await;
    assert_once_and_in_time(&db.pool, &sends).await;
    let lengths: Vec<Option<i32>> = ids
        .iter()
        .map(|id| sends.get(id).map(|m| m[0].content_length))
        .collect();
    let expected = |text: &str| Some(text.chars().count() as i32);
    assert_eq!(
        lengths,
        [
            expected("Hi Ada, see you soon"),
            expected("Hi Bo, see you soon"),
            expected("Hi Cy, see you soon"),
            expected("Your code is 123456"),
            None,
            None,
        ],
        "each message is its template filled; a failed request sends nothing"
    );
    // Nothing was dialed: the campaign has no telephony channel.
    assert_eq!(count(&db.pool, "select count(*) from sim_ledger").await, 0);

    // The status API shows the end and the chat contact, never the number or the message.
    let describe = |id: Uuid| {
        let path = format!("/campaigns/{campaign}/dial-requests/{id}");
        let app = &app;
        async move { app.call("GET", &path, None).await.ok().clone() }
    };
    let status = describe(ids[0]).await;
    assert_eq!(
        (status["state"].as_str(), status["outcome"].as_str()),
        (Some("completed"), Some("sent"))
    );
    assert!(status["contactId"].is_string(), "{status}");
    let failed = describe(ids[4]).await;
    assert_eq!(failed["reason"], "TEMPLATE_ATTRIBUTE_MISSING", "{failed}");

    assert_eq!(
        app.metric_sum(&format!(
            "dialer_sms_sent_total{{campaign_id=\"{campaign}\"}}"
        ))
        .await,
        4.0
    );
    assert_eq!(
        app.metric_sum(&format!(
            "dialer_sms_failed_total{{campaign_id=\"{campaign}\",reason=\"TEMPLATE_NOT_FOUND\"}}"
        ))
        .await,
        1.0
    );
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn the_record_of_a_message_goes_with_its_request(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let requests: Vec<Sms> = (0..5).map(|_| Sms::greeting("Gus")).collect();
    let (app, _, _) = run(&db, &Knobs::default(), &requests, Duration::from_secs(20)).await;
    app.shutdown().await.unwrap();
    assert_eq!(count(&db.pool, "select count(*) from sim_sms").await, 5);
    // Two days old, with a day's retention: the requests, their batches and the messages'
    // records go.
    for sql in [
        "update dial_request set updated_at = now() - interval '2 days'",
        "update contact_batch set created_at = now() - interval '2 days'",
        "update sim_sms set created_at = now() - interval '2 days'",
    ] {
        sqlx::query(sql).execute(&db.pool).await.unwrap();
    }
    let mut config = config(&Knobs::default());
    config.queue.retention_days = 1.0;
    let app = TestApp::spawn_with(db.daemon_pool().await, config).await;
    crate::harness::wait_for(
        "the messages' records deleted",
        Duration::from_secs(20),
        || async { (count(&db.pool, "select count(*) from sim_sms").await == 0).then_some(()) },
    )
    .await;
    assert_eq!(
        count(&db.pool, "select count(*) from dial_request").await,
        0
    );
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn a_send_that_timed_out_is_retried_without_a_second_message(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // Half the sends take effect and then time out past the engine's call timeout; throttled
    // and failed calls are retried too.
    let base = timing_out(100.0, 0.5);
    let knobs = Knobs {
        faults: Faults {
            throttle: 0.1,
            internal_error: 0.1,
            ..base.faults
        },
        ..base
    };
    let names: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
    let requests: Vec<Sms> = names.iter().map(|n| Sms::greeting(n)).collect();
    let (app, campaign, ids) = run(&db, &knobs, &requests, Duration::from_secs(60)).await;

    let ends = ends(&db.pool, &ids).await;
    assert!(
        ends.iter().all(|e| e == "completed/-/sent"),
        "{:?}",
        breakdown(&db.pool, &[campaign]).await
    );
    let sends = sent(&db.pool, "sim_sms", "created_at").await;
    assert_eq!(sends.len(), ids.len(), "every request has its message");
    assert_once_and_in_time(&db.pool, &sends).await;
    let resent = count(
        &db.pool,
        "select count(*) from contact_batch where client_token like 'dialer-sms-%' and attempts > 1",
    )
    .await;
    assert!(resent > 0, "some sends were retried under their token");
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn nothing_is_sent_after_its_expiration(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    // Ten messages a second, with timeouts near the expirations: many requests expire
    // unsent, the others are sent in time, once.
    let knobs = Knobs {
        claim_expiry_margin_secs: 0.1,
        ..timing_out(10.0, 0.3)
    };
    let requests: Vec<Sms> = (0..60)
        .map(|i| Sms {
            expires_in: Duration::from_millis(300 + (i as u64 * 97) % 3000),
            ..Sms::greeting("Ed")
        })
        .collect();
    let (app, _, ids) = run(&db, &knobs, &requests, Duration::from_secs(30)).await;

    let ends = ends(&db.pool, &ids).await;
    let sent_n = ends.iter().filter(|e| *e == "completed/-/sent").count();
    let expired = ends
        .iter()
        .filter(|e| e.starts_with("expired/EXPIRED"))
        .count();
    assert_eq!(sent_n + expired, ids.len(), "{ends:?}");
    assert!(
        sent_n > 5 && expired > 5,
        "the run must both send and miss: {ends:?}"
    );
    let sends = sent(&db.pool, "sim_sms", "created_at").await;
    assert_once_and_in_time(&db.pool, &sends).await;
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn a_number_on_the_do_not_call_list_gets_no_message(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let app = app(&db, &Knobs::default()).await;
    let campaign = sms_campaign(&app, &db.pool, 1.0).await;
    let requests: Vec<Sms> = (0..10).map(|_| Sms::greeting("Ann")).collect();
    let ids = put_sms(&app, &db.pool, &campaign, "d", &requests).await;
    // Listed after queueing: the first four numbers `put_sms` gave.
    let listed: Vec<String> = (0..4).map(|i| format!("+1415555{i:04}")).collect();
    let added = app
        .call(
            "PUT",
            "/do-not-call",
            Some(json!({ "phoneNumbers": listed })),
        )
        .await;
    assert_eq!(added.ok()["added"], 4);
    command(&app, &campaign, "start").await;
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(30),
    )
    .await;

    let ends = ends(&db.pool, &ids).await;
    assert_eq!(ends[..4], ["failed/DO_NOT_CALL/-"; 4], "{ends:?}");
    assert_eq!(ends[4..], ["completed/-/sent"; 6], "{ends:?}");
    let sends = sent(&db.pool, "sim_sms", "created_at").await;
    assert!(ids[..4].iter().all(|id| !sends.contains_key(id)));
    assert_eq!(sends.len(), 6);
    let refusals = count(
        &db.pool,
        "select count(*) from rule_decision where verdict = 'refuse' and rule = 'do_not_call'",
    )
    .await;
    assert_eq!(refusals, 4, "the ledger says why each was not sent");
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn a_campaign_sends_no_faster_than_its_share_of_the_rate(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // 4 messages a second for the daemon, half of it for this campaign.
    let knobs = Knobs {
        sms_messages_per_second: 4.0,
        ..Knobs::default()
    };
    let app = app(&db, &knobs).await;
    let campaign = sms_campaign(&app, &db.pool, 0.5).await;
    let requests: Vec<Sms> = (0..100).map(|_| Sms::greeting("Flo")).collect();
    put_sms(&app, &db.pool, &campaign, "p", &requests).await;
    let started = Instant::now();
    command(&app, &campaign, "start").await;
    // Until a few are out, then count: the bucket starts empty and fills at 2 a second, so
    // however slow the machine, no more than 2 per second elapsed (and one of rounding).
    let sent = || count(&db.pool, "select count(*) from sim_sms");
    crate::harness::wait_for("a few messages sent", Duration::from_secs(30), || async {
        (sent().await >= 4).then_some(())
    })
    .await;
    command(&app, &campaign, "pause").await;
    let n = sent().await;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        (n as f64) <= 2.0 * elapsed + 1.0,
        "{n} messages in {elapsed:.2} s at 2 per second"
    );
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn a_lease_holder_killed_mid_send_leaves_no_second_message(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // Sends that take effect and time out keep messages in flight, under their tokens.
    let knobs = timing_out(20.0, 0.3);
    let a = Daemon::start_with(&db, &sms_toml(knobs.toml()), free_port(), &[]).await;
    let b = app(&db, &knobs).await;
    let campaign = sms_campaign(&a.client, &db.pool, 1.0).await;
    let requests: Vec<Sms> = (0..120).map(|_| Sms::greeting("Hal")).collect();
    let ids = put_sms(&a.client, &db.pool, &campaign, "k", &requests).await;
    command(&a.client, &campaign, "start").await;
    crate::harness::wait_for(
        "A to send and hold a send in flight",
        Duration::from_secs(20),
        || async {
            let sent = count(&db.pool, "select count(*) from sim_sms").await;
            let open = count(
                &db.pool,
                "select count(*) from dial_request where state = 'in_progress'",
            )
            .await;
            (sent >= 10 && open > 0).then_some(())
        },
    )
    .await;
    let holder = crate::harness::holder(&db.pool, &campaign, std::slice::from_ref(&a)).await;
    assert_eq!(holder, 0, "A holds the lease");
    a.kill9().await;
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(60),
    )
    .await;

    let ends = ends(&db.pool, &ids).await;
    assert!(ends.iter().all(|e| e == "completed/-/sent"), "{ends:?}");
    let sends = sent(&db.pool, "sim_sms", "created_at").await;
    assert_eq!(sends.len(), ids.len());
    assert_once_and_in_time(&db.pool, &sends).await;
    b.shutdown().await.unwrap();
}

#[sqlx::test]
async fn sms_go_over_the_wire_to_the_emulator_once_each(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs::default();
    let (emulator_port, daemon_port) = (free_port(), free_port());
    let daemon = Daemon::start_with(
        &db,
        &sms_toml(daemon_toml(&knobs, emulator_port)),
        daemon_port,
        &daemon_env(),
    )
    .await;
    // Failed calls: the daemon sends again under the same token.
    let _emulator = emulator(
        &db,
        &knobs,
        emulator_port,
        &[daemon_port],
        &["--internal-error-rate", "0.2"],
    )
    .await;
    let client = &daemon.client;
    let campaign = sms_campaign(client, &db.pool, 1.0).await;
    let mut requests: Vec<Sms> = (0..20).map(|i| Sms::greeting(&format!("w{i}"))).collect();
    requests.push(Sms {
        attributes: json!({}),
        parameters: None,
        expires_in: Duration::from_secs(3600),
    });
    let ids = put_sms(client, &db.pool, &campaign, "w", &requests).await;
    command(client, &campaign, "start").await;
    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(90),
    )
    .await;

    let ends = ends(&db.pool, &ids).await;
    assert!(
        ends[..20].iter().all(|e| e == "completed/-/sent"),
        "{ends:?}"
    );
    assert_eq!(ends[20], "failed/TEMPLATE_ATTRIBUTE_MISSING/-");
    let sends = sent(&db.pool, "connect_emulator_chat", "sent_at").await;
    assert_eq!(sends.len(), 20, "the emulator took each message");
    assert_once_and_in_time(&db.pool, &sends).await;
    assert_eq!(
        sends[&ids[0]][0].content_length,
        "Hi w0, see you soon".chars().count() as i32
    );
}
