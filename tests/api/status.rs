//! The status API's progress answer reports the pacing settings in force, including those a
//! config reload changed.

use std::path::Path;
use std::time::{Duration, Instant};

use dialer::config::{Config, EnvOverrides};
use dialer::reload::ConfigSource;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestApp, KEY_ID, SECRET};

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
