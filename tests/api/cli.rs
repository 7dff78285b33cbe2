//! The operator commands (`dialer campaigns`, `progress`, `request`) run as the real binary
//! against a daemon: what they print as text and as JSON, that listing pages through every
//! campaign, that no phone number or attribute shows, and how they fail (an AWS error with
//! exit 1, a daemon that is not there, a server that is not a dialer).

use std::process::Output;

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{
    dial_request, test_config, timeline_events, TestApp, CONNECTED_TIMELINE, KEY_ID, REGION, SECRET,
};

/// Runs `dialer ARGS` with the daemon and key in the environment, as an operator would set
/// them, and nothing else of the caller's AWS environment.
async fn dialer(endpoint: &str, secret: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args(args)
        .env_remove("AWS_REGION")
        .env("DIALER_ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", REGION)
        .output()
        .await
        .expect("the dialer binary runs")
}

/// The standard output of a run that succeeded.
#[track_caller]
pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// The value of `key` in a two-column text table.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (first, rest) = line.split_once(' ')?;
        (first == key).then(|| rest.trim())
    })
}

#[sqlx::test]
async fn operators_see_campaigns_progress_and_timelines_without_personal_data(pool: PgPool) {
    let mut config = test_config();
    // The test sets the request's end itself; nothing may dial meanwhile.
    config.engine.enabled = false;
    let app = TestApp::spawn_with(pool, config).await;
    let endpoint = app.endpoint.as_str();
    let campaign = app.progressive_campaign().await;
    let phones = ["+14155550101", "+14155550102", "+14155550103"];
    let requests: Vec<Value> = phones
        .iter()
        .enumerate()
        .map(|(i, phone)| dial_request(&format!("t-{i}"), phone))
        .collect();
    let put = app.put_dial_requests(&campaign, json!(requests)).await;
    let id = put.ok()["successfulRequests"][0]["id"]
        .as_str()
        .expect("the request is accepted")
        .to_string();
    // Its call, ended, with events sharing times as a coarse contact-center clock gives them.
    let timeline = json!({
        "initiated": {"at": "2026-01-01T10:00:00Z"},
        "person_answered": {"at": "2026-01-01T10:00:05Z"},
        "queued": {"at": "2026-01-01T10:00:05Z"},
        "connected_to_agent": {"at": "2026-01-01T10:00:05Z", "detail": "agent-7"},
        "disconnected": {"at": "2026-01-01T10:02:00Z"},
        "completed": {"at": "2026-01-01T10:02:00Z"},
    });
    sqlx::query(
        "update dial_request set state = 'completed', outcome = 'connected', timeline = $1
         where id = $2::uuid",
    )
    .bind(&timeline)
    .bind(&id)
    .execute(&app.pool)
    .await
    .unwrap();
    // More campaigns than one ListCampaigns page holds, one of them running.
    let mut campaigns = vec![campaign.clone()];
    for _ in 0..51 {
        campaigns.push(app.progressive_campaign().await);
    }
    let running = campaigns[1].clone();
    app.call("POST", &format!("/campaigns/{running}/start"), None)
        .await
        .ok();

    // `campaigns` (list by default) pages through every campaign and shows each one's state.
    let list = stdout(&dialer(endpoint, SECRET, &["campaigns"]).await);
    let mut header_and_rows = list.lines();
    assert_eq!(
        header_and_rows
            .next()
            .map(|h| h.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["ID", "NAME", "STATE", "INSTANCE"])
    );
    let rows: Vec<Vec<&str>> = header_and_rows
        .map(|row| row.split_whitespace().collect())
        .collect();
    let mut listed: Vec<&str> = rows.iter().map(|row| row[0]).collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = campaigns.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "every campaign once:\n{list}");
    for row in &rows {
        let state = if row[0] == running {
            "Running"
        } else {
            "Initialized"
        };
        assert_eq!(
            row[1..],
            ["test", "campaign", state, "instance-1"],
            "{list}"
        );
    }
    let listed_json: Value = serde_json::from_str(&stdout(
        &dialer(endpoint, SECRET, &["campaigns", "list", "--output", "json"]).await,
    ))
    .expect("JSON");
    let summaries = listed_json["campaignSummaryList"].as_array().unwrap();
    assert_eq!(summaries.len(), campaigns.len(), "{listed_json}");
    assert!(summaries
        .iter()
        .any(|s| s["id"] == running.as_str() && s["state"] == "Running"));

    // `campaigns show`: DescribeCampaign's members and the state; flags work as the
    // environment does.
    let show = stdout(
        &dialer(
            "http://127.0.0.1:9",
            "not-the-secret",
            &[
                "campaigns",
                "show",
                &campaign,
                "--endpoint-url",
                endpoint,
                "--access-key-id",
                KEY_ID,
                "--secret-access-key",
                SECRET,
            ],
        )
        .await,
    );
    assert_eq!(field(&show, "id"), Some(campaign.as_str()), "{show}");
    assert_eq!(field(&show, "name"), Some("test campaign"), "{show}");
    assert_eq!(field(&show, "state"), Some("Initialized"), "{show}");
    assert_eq!(
        field(&show, "connectInstanceId"),
        Some("instance-1"),
        "{show}"
    );
    assert_eq!(
        field(
            &show,
            "dialerConfig.progressiveDialerConfig.bandwidthAllocation"
        ),
        Some("1.0"),
        "{show}"
    );
    assert_eq!(
        field(&show, "outboundCallConfig.connectQueueId"),
        Some("queue-1"),
        "{show}"
    );
    let shown: Value = serde_json::from_str(&stdout(
        &dialer(
            endpoint,
            SECRET,
            &["campaigns", "show", &campaign, "--output", "json"],
        )
        .await,
    ))
    .expect("JSON");
    let described = app
        .call("GET", &format!("/campaigns/{campaign}"), None)
        .await;
    assert_eq!(shown["campaign"], described.ok()["campaign"]);
    assert_eq!(shown["state"], "Initialized");

    // `progress`: counts by state and outcome, the abandonment window and target.
    let progress = stdout(&dialer(endpoint, SECRET, &["progress", &campaign]).await);
    assert_eq!(field(&progress, "pending"), Some("2"), "{progress}");
    assert_eq!(field(&progress, "completed"), Some("1"), "{progress}");
    assert_eq!(field(&progress, "connected"), Some("1"), "{progress}");
    assert_eq!(field(&progress, "target"), Some("3.00%"), "{progress}");
    assert!(field(&progress, "window").is_some(), "{progress}");
    let progress_json: Value = serde_json::from_str(&stdout(
        &dialer(
            endpoint,
            SECRET,
            &["progress", &campaign, "--output", "json"],
        )
        .await,
    ))
    .expect("JSON");
    let api_progress = app
        .call("GET", &format!("/campaigns/{campaign}/progress"), None)
        .await;
    assert_eq!(&progress_json, api_progress.ok());

    // `request`: the request's fields, then its timeline one event a line, in lifecycle
    // order.
    let request = stdout(&dialer(endpoint, SECRET, &["request", &campaign, &id]).await);
    assert_eq!(field(&request, "state"), Some("completed"), "{request}");
    assert_eq!(field(&request, "outcome"), Some("connected"), "{request}");
    assert_eq!(field(&request, "reason"), Some("-"), "{request}");
    assert_eq!(field(&request, "contactId"), Some("-"), "{request}");
    let events: Vec<Vec<&str>> = request
        .lines()
        .skip_while(|line| !line.starts_with("TIME"))
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        events.iter().map(|e| e[1]).collect::<Vec<_>>(),
        CONNECTED_TIMELINE,
        "{request}"
    );
    assert_eq!(
        events[3],
        ["2026-01-01T10:00:05+00:00", "connected_to_agent", "agent-7"]
    );
    let request_json: Value = serde_json::from_str(&stdout(
        &dialer(
            endpoint,
            SECRET,
            &["request", &campaign, &id, "--output", "json"],
        )
        .await,
    ))
    .expect("JSON");
    assert_eq!(timeline_events(&request_json), CONNECTED_TIMELINE);

    for (what, printed) in [
        ("list", &list),
        ("show", &show),
        ("progress", &progress),
        ("request", &request),
        ("request json", &request_json.to_string()),
    ] {
        for phone in phones {
            assert!(
                !printed.contains(&phone[2..]),
                "{what} shows a phone number"
            );
        }
        assert!(!printed.contains("customerId"), "{what} shows attributes");
    }
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn failures_exit_1_naming_the_aws_error_or_the_endpoint(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let endpoint = app.endpoint.as_str();
    let campaign = app.progressive_campaign().await;

    let wrong_key = dialer(endpoint, "not-the-secret", &["progress", &campaign]).await;
    assert_eq!(wrong_key.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong_key.stderr);
    assert!(stderr.contains("AccessDeniedException: "), "{stderr}");
    assert!(wrong_key.stdout.is_empty());

    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = dialer(endpoint, SECRET, &["request", &campaign, &unknown]).await;
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("ResourceNotFoundException: ") && stderr.contains(&unknown),
        "{stderr}"
    );

    // A port nothing listens on: bound, then released.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let unreachable = dialer(&closed, SECRET, &["campaigns", "list"]).await;
    assert_eq!(unreachable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the dialer at {closed}")),
        "{stderr}"
    );

    // Another server on the port: it answers, but not as a dialer.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_endpoint = format!("http://{}", other.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = other.accept().await {
            let mut request = [0; 4096];
            let _ = socket.read(&mut request).await;
            let page = "<html>hello</html>";
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let not_a_dialer = dialer(&other_endpoint, SECRET, &["progress", &campaign]).await;
    assert_eq!(not_a_dialer.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&not_a_dialer.stderr);
    assert!(stderr.contains("is it a dialer?"), "{stderr}");
    app.shutdown().await.unwrap();
}
