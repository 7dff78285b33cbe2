//! The status API: the progress answer reports the pacing settings in force, including those
//! a config reload changed, and a request's timeline is in lifecycle order even where
//! events share a time.

use std::path::Path;
use std::time::{Duration, Instant};

use dialer::config::{Config, EnvOverrides};
use dialer::reload::ConfigSource;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{dial_request, timeline_events, TestApp, CONNECTED_TIMELINE, KEY_ID, SECRET};

fn write_config(path: &Path, target: f64, window_secs: u64) {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[auth]
access_keys = ["{KEY_ID}:{SECRET}"]

[pacing]
abandonment_target = {target}
evaluation_window_secs = {window_secs}
"#
    );
    std::fs::write(path, text).unwrap();
}

async fn abandonment(app: &TestApp, campaign: &str) -> Value {
    let answer = app
        .call("GET", &format!("/campaigns/{campaign}/progress"), None)
        .await;
    answer.ok()["abandonment"].clone()
}

#[sqlx::test]
async fn progress_reports_the_reloaded_pacing_target_and_window(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("dialer-status-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dialer.toml");
    write_config(&path, 0.03, 86_400);
    let config = Config::load(&path, false, &EnvOverrides::from_env()).unwrap();
    let hooks = dialer::app::Hooks {
        config_source: Some(ConfigSource {
            path: path.clone(),
            is_default: false,
            listen_override: None,
        }),
        ..Default::default()
    };
    let app = TestApp::spawn_with_hooks(pool, config, hooks).await;
    let campaign = app.progressive_campaign().await;
    let before = abandonment(&app, &campaign).await;
    assert_eq!(
        (&before["target"], &before["windowSeconds"]),
        (&Value::from(0.03), &Value::from(86_400))
    );

    // The daemon reloads when the file's modification time changes. The file is written
    // again until the change shows, in case the first write came before the watcher took
    // the file's first modification time.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        write_config(&path, 0.02, 3_600);
        let after = abandonment(&app, &campaign).await;
        if after["target"] != before["target"] {
            break after;
        }
        assert!(
            Instant::now() < deadline,
            "the reload never showed: {after}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        (&after["target"], &after["windowSeconds"]),
        (&Value::from(0.02), &Value::from(3_600))
    );
    app.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test]
async fn a_timeline_whose_events_share_a_time_is_in_lifecycle_order(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let put = app
        .put_dial_requests(&campaign, json!([dial_request("t-1", "+14155550101")]))
        .await;
    let id = put.ok()["successfulRequests"][0]["id"]
        .as_str()
        .expect("the request is accepted")
        .to_string();
    // As a contact center with a coarse clock reports a call answered and connected at
    // once: everything after the ring at one time, stored keyed by kind as the event sink
    // writes it. By name alone, connected_to_agent would come before person_answered.
    let (rang, answered, ended) = (
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:00:05Z",
        "2026-01-01T10:02:00Z",
    );
    let timeline = json!({
        "initiated": {"at": rang},
        "person_answered": {"at": answered},
        "queued": {"at": answered},
        "connected_to_agent": {"at": answered, "detail": "agent-7"},
        "disconnected": {"at": ended},
        "completed": {"at": ended},
    });
    sqlx::query("update dial_request set timeline = $1 where id = $2::uuid")
        .bind(&timeline)
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();

    let status = app.dial_request_status(&campaign, &id).await;
    let status = status.ok();
    assert_eq!(timeline_events(status), CONNECTED_TIMELINE, "{status}");
    assert_eq!(status["timeline"][3]["agentId"], "agent-7", "{status}");
    app.shutdown().await.unwrap();
}
