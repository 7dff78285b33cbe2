//! `dialer demo` runs in a scratch database of its own on the server it is given: it leaves
//! the main database's campaigns and requests as they were, counts only its own dials, and
//! drops the scratch database when it ends.

use std::process::{Command, Stdio};

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{dial_request, test_config, TestApp};

/// The URL of the test's own database: `DATABASE_URL`'s server, the pool's database.
fn url_of(pool: &PgPool) -> String {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the API tests");
    let database = pool
        .connect_options()
        .get_database()
        .expect("the test pool names its database")
        .to_string();
    let mut url = reqwest::Url::parse(&server).expect("DATABASE_URL parses");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

#[sqlx::test]
async fn the_demo_runs_in_a_scratch_database_and_drops_it(pool: PgPool) {
    // A running campaign with pending requests in the main database, as `dialer serve`
    // would leave it; no engine runs on it here, so only the demo could dial them.
    let mut config = test_config();
    config.engine.enabled = false;
    let app = TestApp::spawn_with(pool.clone(), config).await;
    let campaign = app
        .create_campaign_with(
            json!({"progressiveDialerConfig": {"bandwidthAllocation": 1.0}}),
            json!({"connectContactFlowId": "flow-1", "connectQueueId": "sim-queue"}),
        )
        .await;
    let requests: Vec<_> = (0..4)
        .map(|i| dial_request(&format!("main-{i}"), &format!("+1415555010{i}")))
        .collect();
    app.put_dial_requests(&campaign, json!(requests)).await.ok();
    app.call("POST", &format!("/campaigns/{campaign}/start"), None)
        .await
        .ok();
    app.shutdown().await.unwrap();
    let campaign_row = |pool: PgPool, id: String| async move {
        sqlx::query_as::<_, (String, chrono::DateTime<chrono::Utc>)>(
            "select state::text, updated_at from campaign where id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = campaign_row(pool.clone(), campaign.clone()).await;
    assert_eq!(before.0, "Running");

    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args([
            "demo",
            "--requests",
            "3",
            "--agents",
            "1",
            "--time-scale",
            "1000",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("DATABASE_URL", url_of(&pool))
        .env_remove("DIALER_ACCESS_KEYS")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run the dialer binary");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");

    let dials: Vec<&str> = said
        .lines()
        .filter_map(|line| line.trim().strip_prefix("dials "))
        .map(str::trim)
        .collect();
    assert_eq!(
        dials,
        ["3"],
        "the summary counts the demo's own dials: {said}"
    );
    assert!(said.contains("while dialing"), "{said}");
    let scratch = said
        .split_whitespace()
        .find(|word| word.starts_with("dialer_demo_"))
        .unwrap_or_else(|| panic!("no scratch database named: {said}"));
    let left: Vec<String> = sqlx::query_scalar(
        "select datname::text from pg_database where datname = $1 or datname like 'dialer\\_demo\\_%'",
    )
    .bind(scratch)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(left.is_empty(), "scratch databases left behind: {left:?}");

    assert_eq!(campaign_row(pool.clone(), campaign.clone()).await, before);
    let states: Vec<String> = sqlx::query_scalar(
        "select state::text from dial_request where campaign_id = $1 order by client_token",
    )
    .bind(&campaign)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(states, ["pending"; 4]);
    let batches: i64 = sqlx::query_scalar("select count(*) from contact_batch")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(batches, 0, "the main database saw no dialing");
}
