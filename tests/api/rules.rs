//! Calling rules from the outside: the do-not-call API (per account, validated, never
//! echoing numbers), `dialer dnc` on the same lists, and `dialer audit` exporting the
//! decision ledger with numbers hashed unless asked otherwise.

use std::process::Output;

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::cli::stdout;
use crate::helpers::{database_url, test_config, Client, TestApp, KEY_ID, SECRET};

const OTHER_ACCOUNT: &str = "222222222222";
const OTHER_KEY: (&str, &str) = ("AKIDOTHER", "secret-of-other");

async fn spawn(pool: PgPool) -> (TestApp, Client) {
    spawn_with(pool, test_config()).await
}

/// An API without an engine, on `config`, with a second account's key.
async fn spawn_with(pool: PgPool, mut config: dialer::config::Config) -> (TestApp, Client) {
    config.engine.enabled = false;
    config.auth.access_keys = vec![
        format!("{KEY_ID}:{SECRET}"),
        format!("{}:{}:{OTHER_ACCOUNT}", OTHER_KEY.0, OTHER_KEY.1),
    ];
    let app = TestApp::spawn_with(pool, config).await;
    let other = app.with_key(OTHER_KEY.0, OTHER_KEY.1);
    (app, other)
}

async fn check(client: &Client, numbers: Value, campaign: Option<&str>) -> Value {
    let mut body = json!({ "phoneNumbers": numbers });
    if let Some(campaign) = campaign {
        body["campaignId"] = json!(campaign);
    }
    let answer = client.call("POST", "/do-not-call/check", Some(body)).await;
    answer.ok()["results"].clone()
}

#[sqlx::test]
async fn the_do_not_call_api_keeps_one_list_per_account_and_campaign(pool: PgPool) {
    let (app, other) = spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    let added = app
        .call(
            "PUT",
            "/do-not-call",
            Some(json!({ "phoneNumbers": ["+14155550101", "+1 415 555 0101", "0014155550102"] })),
        )
        .await;
    assert_eq!(added.ok(), &json!({ "added": 2, "alreadyListed": 1 }));
    let added = app
        .call(
            "PUT",
            "/do-not-call",
            Some(json!({ "phoneNumbers": ["+14155550103"], "campaignId": campaign })),
        )
        .await;
    assert_eq!(added.ok()["added"], 1);

    let numbers = json!(["+14155550101", "+14155550103", "+14155550104"]);
    let results = check(&app, numbers.clone(), Some(&campaign)).await;
    assert_eq!(
        results,
        json!([
            { "listed": true, "accountList": true, "campaignList": false },
            { "listed": true, "accountList": false, "campaignList": true },
            { "listed": false, "accountList": false, "campaignList": false },
        ])
    );
    assert!(
        !results.to_string().contains("4155550"),
        "answers never carry numbers"
    );
    // Another account has lists of its own and no access to this account's campaign.
    let theirs = check(&other, numbers.clone(), None).await;
    assert!(theirs
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["listed"] == false));
    let answer = other
        .call(
            "POST",
            "/do-not-call/check",
            Some(json!({ "phoneNumbers": numbers, "campaignId": campaign })),
        )
        .await;
    answer.error(404, "ResourceNotFoundException");

    let removed = app
        .call(
            "POST",
            "/do-not-call/remove",
            Some(json!({ "phoneNumbers": ["+14155550101", "+14155550104"] })),
        )
        .await;
    assert_eq!(removed.ok(), &json!({ "removed": 1, "notListed": 1 }));
    let results = check(&app, json!(["+14155550101"]), None).await;
    assert_eq!(results[0]["listed"], false);
}

#[sqlx::test]
async fn bad_numbers_and_lists_are_refused_with_their_place(pool: PgPool) {
    let (app, _) = spawn(pool).await;
    let message = app
        .call(
            "PUT",
            "/do-not-call",
            Some(json!({ "phoneNumbers": ["+14155550101", "4155550102"] })),
        )
        .await
        .error(400, "ValidationException")
        .to_string();
    assert!(message.contains("'phoneNumbers.2.member'"), "{message}");
    assert!(!message.contains("4155550102"), "{message}");
    let too_many: Vec<String> = (0..1001).map(|i| format!("+1415555{i:04}")).collect();
    for body in [
        json!({ "phoneNumbers": too_many }),
        json!({ "phoneNumbers": [] }),
        json!({}),
        json!({ "phoneNumbers": ["+14155550101"], "extra": 1 }),
    ] {
        app.call("PUT", "/do-not-call", Some(body))
            .await
            .error(400, "ValidationException");
    }
    app.call(
        "PUT",
        "/do-not-call",
        Some(json!({ "phoneNumbers": ["+14155550101"], "campaignId": "no-such-campaign" })),
    )
    .await
    .error(404, "ResourceNotFoundException");
}

/// Runs `dialer ARGS` on the test's database, as an operator on the database host would.
async fn dialer(pool: &PgPool, args: &[&str]) -> Output {
    let name = pool
        .connect_options()
        .get_database()
        .expect("sqlx::test names its database")
        .to_string();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args(args)
        .env("DATABASE_URL", database_url(&name))
        .output()
        .await
        .expect("the dialer binary runs")
}

#[sqlx::test]
async fn dialer_dnc_manages_the_lists_the_api_reads(pool: PgPool) {
    let (app, _) = spawn(pool.clone()).await;
    // A missing --config file is an error, not the defaults: only the default path may be
    // absent.
    let missing = dialer(
        &pool,
        &[
            "dnc",
            "check",
            "+14155550101",
            "--config",
            "/nonexistent/dialer.toml",
        ],
    )
    .await;
    assert!(!missing.status.success());
    let name = pool.connect_options().get_database().unwrap().to_string();

    let added = dialer(&pool, &["dnc", "add", "+14155550101", "+1 (415) 555-0102"]).await;
    assert_eq!(stdout(&added), "added 2, already listed 0\n");
    let results = check(&app, json!(["+14155550101", "+14155550102"]), None).await;
    assert!(results
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["listed"] == true));

    let dir = std::env::temp_dir().join(format!("dnc-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("list.txt");
    std::fs::write(
        &file,
        "# opt-outs\n+14155550103\n\n+14155550101\n555-0199\n",
    )
    .unwrap();
    let imported = dialer(&pool, &["dnc", "import", file.to_str().unwrap()]).await;
    assert_eq!(
        imported.status.code(),
        Some(1),
        "a bad line fails the command"
    );
    let out = String::from_utf8_lossy(&imported.stdout);
    let err = String::from_utf8_lossy(&imported.stderr);
    assert!(out.starts_with("imported 2 numbers (1 new) in "), "{out}");
    assert!(out.contains("numbers/s; the list holds 3"), "{out}");
    assert!(err.contains("line 5:"), "{err}");
    assert!(!err.contains("555-0199"), "{err}");

    let checked = dialer(&pool, &["dnc", "check", "+14155550103", "+14155550104"]).await;
    assert_eq!(
        stdout(&checked),
        "+14155550103 listed (account)\n+14155550104 not listed\n"
    );
    let removed = dialer(&pool, &["dnc", "remove", "+14155550103", "+14155550104"]).await;
    assert_eq!(stdout(&removed), "removed 1, not listed 1\n");
    let bad = dialer(&pool, &["dnc", "add", "+14155550105", "12"]).await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("phone number #2"));
    let unknown = dialer(&pool, &["dnc", "add", "+14155550105", "--campaign", "nope"]).await;
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("campaign nope not found"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test]
async fn dialer_audit_exports_the_ledger_hashed_unless_asked(pool: PgPool) {
    let (app, _) = spawn(pool.clone()).await;
    let campaign = app.progressive_campaign().await;
    let put = app
        .put_dial_requests(
            &campaign,
            json!([{
                "clientToken": "t-1",
                "phoneNumber": "+14155550101",
                "expirationTime": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
                "attributes": {},
            }]),
        )
        .await;
    let id = put.ok()["successfulRequests"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Two decisions as a claim writes them, a day apart.
    sqlx::query(
        "insert into rule_decision (decided_at, campaign_id, request_id, attempt, rule, verdict,
                                    config_version, number_hash)
         select t, $1, d.id, a, r, v::rule_verdict, '0123456789abcdef', number_hash(d.phone_number)
         from dial_request d,
              (values ('2026-03-01T10:00:00Z'::timestamptz, 1, 'do_not_call', 'refuse'),
                      ('2026-03-02T10:00:00Z', 2, 'all_passed', 'dial')) as x(t, a, r, v)
         where d.id = $2::uuid",
    )
    .bind(&campaign)
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();
    let hash: String = sqlx::query_scalar("select encode(number_hash('+14155550101'), 'hex')")
        .fetch_one(&pool)
        .await
        .unwrap();

    let csv = stdout(&dialer(&pool, &["audit", "--campaign", &campaign]).await);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].ends_with(",number_hash"));
    assert!(lines[1].contains(",do_not_call,refuse,"), "{csv}");
    assert!(
        lines[2].ends_with(&format!(",all_passed,dial,,,,,0123456789abcdef,{hash}")),
        "{csv}"
    );
    assert!(!csv.contains("4155550101"), "no clear number: {csv}");

    let args = [
        "audit",
        "--campaign",
        &campaign,
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-03T00:00:00Z",
        "--format",
        "json",
        "--clear-numbers",
    ];
    let json: Value = serde_json::from_str(&stdout(&dialer(&pool, &args).await)).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["verdict"], "dial");
    assert_eq!(rows[0]["attempt"], 2);
    assert_eq!(rows[0]["requestId"], id);
    assert_eq!(rows[0]["number"], "+14155550101");

    let bad = dialer(
        &pool,
        &["audit", "--campaign", &campaign, "--from", "yesterday"],
    )
    .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
}

#[sqlx::test]
async fn a_campaigns_retry_policy_is_set_read_and_removed_per_account(pool: PgPool) {
    let mut config = test_config();
    config.retries =
        toml::from_str("[default.outcomes]\nbusy = { after_secs = 300, max_attempts = 3 }\n")
            .unwrap();
    let (app, other) = spawn_with(pool, config).await;
    let campaign = app.progressive_campaign().await;
    let path = format!("/campaigns/{campaign}/retry-policy");

    // Before any is set: the config file's default.
    let read = app.call("GET", &path, None).await;
    assert_eq!(
        read.ok(),
        &json!({ "campaignId": campaign, "source": "config", "retryPolicy": { "outcomes": {
            "busy": { "afterSeconds": 300.0, "maxAttempts": 3 } } } })
    );

    let policy = json!({ "outcomes": {
        "no_answer": { "afterSeconds": 1800, "maxAttempts": 3 },
        "machine": { "afterSeconds": 3600, "maxAttempts": 2 },
    }});
    let set = app.call("PUT", &path, Some(policy)).await;
    assert_eq!(set.ok()["source"], "api");
    let read = app.call("GET", &path, None).await;
    assert_eq!(
        read.ok()["retryPolicy"]["outcomes"]["no_answer"],
        json!({ "afterSeconds": 1800.0, "maxAttempts": 3 })
    );
    assert_eq!(read.ok()["source"], "api");

    // Bad policies are refused with the key named, in the API's spelling.
    for (bad, named) in [
        (
            json!({ "outcomes": { "connected": { "afterSeconds": 1, "maxAttempts": 2 } } }),
            "connected",
        ),
        (
            json!({ "outcomes": { "busy": { "afterSeconds": -1, "maxAttempts": 2 } } }),
            "afterSeconds",
        ),
        (
            json!({ "outcomes": { "busy": { "afterSeconds": 1, "maxAttempts": 0 } } }),
            "maxAttempts",
        ),
        (
            json!({ "outcomes": { "busy": { "afterSeconds": 1 } } }),
            "outcomes.busy",
        ),
        (json!({ "retries": {} }), "retries"),
    ] {
        let answer = app.call("PUT", &path, Some(bad.clone())).await;
        let message = answer.error(400, "ValidationException");
        assert!(message.contains(named), "{bad}: {message}");
    }

    // Another account's caller does not see or change it.
    other
        .call("GET", &path, None)
        .await
        .error(404, "ResourceNotFoundException");
    other
        .call("PUT", &path, Some(json!({ "outcomes": {} })))
        .await
        .error(404, "ResourceNotFoundException");
    other
        .call("DELETE", &path, None)
        .await
        .error(404, "ResourceNotFoundException");

    let removed = app.call("DELETE", &path, None).await;
    assert_eq!(removed.ok()["removed"], true);
    let read = app.call("GET", &path, None).await;
    assert_eq!(read.ok()["source"], "config");
    let removed = app.call("DELETE", &path, None).await;
    assert_eq!(removed.ok()["removed"], false);
}
