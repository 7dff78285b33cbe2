//! Hostile input: characters PostgreSQL cannot store, absurd timestamps, undecodable paths,
//! signatures for another region, and clients that drip their requests. Each answers a 4xx
//! in the AWS shape (or is cut off), never a 500, and the daemon keeps serving.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{dial_request, test_config, Answer, TestApp, SECRET};

/// Asserts a ValidationException naming `member`, without the NUL it was sent.
#[track_caller]
fn names_member(answer: &Answer, member: &str) {
    let message = answer.error(400, "ValidationException");
    assert!(
        message.contains(&format!("'{member}'")),
        "{member}: {message}"
    );
    assert!(!message.contains('\0'), "{message}");
}

#[sqlx::test]
async fn nul_in_any_string_member_is_a_validation_error(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let arn = app
        .call("GET", &format!("/campaigns/{campaign}"), None)
        .await
        .ok()["campaign"]["arn"]
        .as_str()
        .unwrap()
        .replace(':', "%3A")
        .replace('/', "%2F");
    let create = |name: &str, flow: &str, queue: &str, tags: Value| {
        json!({
            "name": name,
            "connectInstanceId": "instance-1",
            "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": 1.0}},
            "outboundCallConfig": {"connectContactFlowId": flow, "connectQueueId": queue},
            "tags": tags,
        })
    };
    let cases = [
        (
            "PUT",
            "/campaigns".to_string(),
            create("a\0b", "f", "q", json!({})),
            "name",
        ),
        (
            "PUT",
            "/campaigns".to_string(),
            create("n", "f\0", "q", json!({})),
            "outboundCallConfig.connectContactFlowId",
        ),
        (
            "PUT",
            "/campaigns".to_string(),
            create("n", "f", "\0", json!({})),
            "outboundCallConfig.connectQueueId",
        ),
        (
            "PUT",
            "/campaigns".to_string(),
            create("n", "f", "q", json!({"team": "x\0"})),
            "tags.team",
        ),
        (
            "PUT",
            "/campaigns".to_string(),
            create("n", "f", "q", json!({"te\0am": "x"})),
            "tags.key",
        ),
        (
            "POST",
            format!("/campaigns/{campaign}/name"),
            json!({"name": "\0"}),
            "name",
        ),
        (
            "POST",
            format!("/campaigns/{campaign}/outbound-call-config"),
            json!({"connectSourcePhoneNumber": "+1\0"}),
            "connectSourcePhoneNumber",
        ),
        (
            "POST",
            format!("/tags/{arn}"),
            json!({"tags": {"k": "\0"}}),
            "tags.k",
        ),
        (
            "POST",
            "/campaigns-state".to_string(),
            json!({"campaignIds": [campaign, "x\0"]}),
            "campaignIds.2.member",
        ),
        (
            "POST",
            "/campaigns-summary".to_string(),
            json!({"filters": {"instanceIdFilter": {"value": "\0", "operator": "Eq"}}}),
            "filters.instanceIdFilter.value",
        ),
        (
            "PUT",
            "/connect-instance/i-1/onboarding".to_string(),
            json!({"encryptionConfig": {"enabled": true, "keyArn": "k\0"}}),
            "encryptionConfig.keyArn",
        ),
    ];
    for (method, path, body, member) in cases {
        names_member(&app.call(method, &path, Some(body)).await, member);
    }
    names_member(
        &app.call(
            "DELETE",
            &format!("/tags/{arn}?tagKeys=ok&tagKeys=%00"),
            None,
        )
        .await,
        "tagKeys",
    );
    let campaign_json = app
        .call("GET", &format!("/campaigns/{campaign}"), None)
        .await;
    assert_eq!(campaign_json.ok()["campaign"]["name"], "test campaign");
}

#[sqlx::test]
async fn an_unstorable_item_fails_alone_and_the_rest_is_stored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let with = |token: &str, change: &dyn Fn(&mut Value)| {
        let mut item = dial_request(token, "+14155550123");
        change(&mut item);
        item
    };
    let answer = app
        .put_dial_requests(
            &campaign,
            json!([
                dial_request("good-1", "+14155550123"),
                with("nul-value", &|i| i["attributes"]["customerId"] =
                    json!("4\u{0}2")),
                with("nul-key", &|i| i["attributes"] =
                    json!({"cust\u{0}omer": "42"})),
                with("far-past", &|i| i["expirationTime"] = json!(-3e11)),
                with("far-future", &|i| i["expirationTime"] = json!(3e11)),
                with("beyond-chrono", &|i| i["expirationTime"] = json!(1e300)),
                dial_request("good-2", "+442071838750"),
            ]),
        )
        .await;
    let body = answer.ok();
    let stored: Vec<&str> = body["successfulRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["clientToken"].as_str().unwrap())
        .collect();
    assert_eq!(stored, ["good-1", "good-2"]);
    let failed: Vec<(&str, &str)> = body["failedRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["clientToken"].as_str().unwrap(),
                r["failureCode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("nul-value", "InvalidInput"),
            ("nul-key", "InvalidInput"),
            ("far-past", "InvalidInput"),
            ("far-future", "InvalidInput"),
            ("beyond-chrono", "InvalidInput"),
        ]
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from dial_request where campaign_id = $1")
        .bind(&campaign)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);

    // A NUL outside the attributes (here in the token) is the whole request's problem.
    let mut bad_token = dial_request("t", "+14155550123");
    bad_token["clientToken"] = json!("t\u{0}");
    names_member(
        &app.put_dial_requests(&campaign, json!([bad_token])).await,
        "dialRequests.1.member.clientToken",
    );
}

#[sqlx::test]
async fn undecodable_or_unstorable_path_labels_are_validation_errors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    names_member(&app.call("GET", "/campaigns/%00", None).await, "id");
    let message = app
        .call("GET", "/campaigns/%FF", None)
        .await
        .error(400, "ValidationException")
        .to_string();
    assert!(
        message.contains("'id'") && message.contains("UTF-8"),
        "{message}"
    );
    names_member(
        &app.call("GET", "/campaigns/c-1/dial-requests/%00", None)
            .await,
        "dialRequestId",
    );
    names_member(
        &app.call("GET", "/connect-instance/%00/config", None).await,
        "connectInstanceId",
    );
    app.call("GET", "/campaigns/not-there", None)
        .await
        .error(404, "ResourceNotFoundException");
}

#[sqlx::test]
async fn a_signature_for_another_region_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let answer = app
        .call_scoped(
            "POST",
            "/campaigns-summary",
            b"{}".to_vec(),
            SECRET,
            "eu-west-1",
        )
        .await;
    assert_eq!(
        answer.error(403, "InvalidSignatureException"),
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
    app.call("POST", "/campaigns-summary", Some(json!({})))
        .await
        .ok();
}

/// A daemon whose read timeouts and connection limit are short enough to test.
async fn strict_app(pool: PgPool, max_connections: u32) -> TestApp {
    let mut config = test_config();
    config.server.header_read_timeout_secs = 0.5;
    config.server.body_read_timeout_secs = 0.5;
    config.server.max_connections = max_connections;
    TestApp::spawn_with(pool, config).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.endpoint.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; gives up after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut received))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

#[sqlx::test]
async fn a_client_dripping_its_headers_is_cut_off(pool: PgPool) {
    let app = strict_app(pool, 64).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    let drip = async {
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stream.write_all(b"X").await?;
        }
        Ok::<_, std::io::Error>(())
    };
    // The server closes the connection: writing fails, or the drip ends with nothing read.
    let _ = drip.await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "cut off after {elapsed:?}"
    );
    let answer = read_until_closed(&mut stream, Duration::from_secs(2)).await;
    assert!(
        answer.as_deref().is_none_or(|a| !a.contains("200 OK")),
        "{answer:?}"
    );
    app.call("POST", "/campaigns-summary", Some(json!({})))
        .await
        .ok();
}

#[sqlx::test]
async fn a_client_dripping_its_body_is_answered_408(pool: PgPool) {
    let app = strict_app(pool, 64).await;
    let mut stream = connect(&app).await;
    let head = "PUT /campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the connection is closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[sqlx::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot(pool: PgPool) {
    let app = strict_app(pool, 2).await;
    let health = || async {
        let started = Instant::now();
        let response = app
            .http
            .get(format!("{}/healthz", app.endpoint))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        started.elapsed()
    };
    // Two silent connections take both slots until the header timeout closes them.
    let _silent = [connect(&app).await, connect(&app).await];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waited = health().await;
    assert!(
        waited >= Duration::from_millis(250),
        "served after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "served after {waited:?}");
}
