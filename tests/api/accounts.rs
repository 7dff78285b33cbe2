//! Access keys belong to accounts: a caller sees, changes and lists only its own account's
//! resources, and the ARNs of its campaigns name its account.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{dial_request, test_config, url_encode, Client, TestApp, KEY_ID, SECRET};

/// The default account (`aws.account_id`), that of [`KEY_ID`], which is configured without one.
const ACCOUNT_A: &str = "111111111111";
/// The account of [`KEY_B`].
const ACCOUNT_B: &str = "222222222222";
const KEY_B: (&str, &str) = ("AKIDACCOUNTB", "secret-of-b");

fn two_accounts() -> dialer::config::Config {
    let mut config = test_config();
    config.aws.account_id = ACCOUNT_A.into();
    config.auth.access_keys = vec![
        format!("{KEY_ID}:{SECRET}"),
        format!("{}:{}:{ACCOUNT_B}", KEY_B.0, KEY_B.1),
    ];
    config
}

/// The app with key A (default account) as its client, and a client signing with key B.
async fn spawn(pool: PgPool) -> (TestApp, Client) {
    let app = TestApp::spawn_with(pool, two_accounts()).await;
    let b = app.with_key(KEY_B.0, KEY_B.1);
    (app, b)
}

async fn arn_of(client: &Client, id: &str) -> String {
    client
        .call("GET", &format!("/campaigns/{id}"), None)
        .await
        .ok()["campaign"]["arn"]
        .as_str()
        .expect("a campaign has an arn")
        .to_string()
}

async fn listed_ids(client: &Client, body: Value) -> Vec<String> {
    let answer = client.call("POST", "/campaigns-summary", Some(body)).await;
    answer.ok()["campaignSummaryList"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_string())
        .collect()
}

fn service_linked_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/aws-service-role/connect-campaigns.amazonaws.com/AWSServiceRoleForConnectCampaigns")
}

async fn role_of_inst_1(client: &Client) -> Value {
    let config = client
        .call("GET", "/connect-instance/inst-1/config", None)
        .await;
    config.ok()["connectInstanceConfig"]["serviceLinkedRoleArn"].clone()
}

#[sqlx::test]
async fn campaign_arns_name_the_creators_account(pool: PgPool) {
    let (a, b) = spawn(pool).await;
    let mine = a.progressive_campaign().await;
    let theirs = b.progressive_campaign().await;
    assert_eq!(
        arn_of(&a, &mine).await,
        format!("arn:aws:connect-campaigns:us-east-1:{ACCOUNT_A}:campaign/{mine}")
    );
    assert_eq!(
        arn_of(&b, &theirs).await,
        format!("arn:aws:connect-campaigns:us-east-1:{ACCOUNT_B}:campaign/{theirs}")
    );
}

#[sqlx::test]
async fn another_accounts_campaign_does_not_exist(pool: PgPool) {
    let (a, b) = spawn(pool).await;
    let id = a.progressive_campaign().await;
    let put = a
        .put_dial_requests(&id, json!([dial_request("t-1", "+14155550123")]))
        .await;
    let request_id = put.ok()["successfulRequests"][0]["id"]
        .as_str()
        .expect("an accepted request")
        .to_string();

    let refused = [
        ("GET", format!("/campaigns/{id}"), None),
        ("GET", format!("/campaigns/{id}/state"), None),
        ("POST", format!("/campaigns/{id}/start"), None),
        ("POST", format!("/campaigns/{id}/pause"), None),
        ("POST", format!("/campaigns/{id}/resume"), None),
        ("POST", format!("/campaigns/{id}/stop"), None),
        (
            "POST",
            format!("/campaigns/{id}/name"),
            Some(json!({"name": "taken over"})),
        ),
        (
            "POST",
            format!("/campaigns/{id}/dialer-config"),
            Some(json!({"dialerConfig": {"agentlessDialerConfig": {}}})),
        ),
        (
            "POST",
            format!("/campaigns/{id}/outbound-call-config"),
            Some(json!({"connectContactFlowId": "flow-b"})),
        ),
        (
            "PUT",
            format!("/campaigns/{id}/dial-requests"),
            Some(json!({"dialRequests": [dial_request("t-2", "+14155550124")]})),
        ),
        // Every item invalid: the campaign is looked up without storing anything.
        (
            "PUT",
            format!("/campaigns/{id}/dial-requests"),
            Some(json!({"dialRequests": [dial_request("t-3", "+1")]})),
        ),
        (
            "GET",
            format!("/campaigns/{id}/dial-requests/{request_id}"),
            None,
        ),
        ("GET", format!("/campaigns/{id}/progress"), None),
        ("DELETE", format!("/campaigns/{id}"), None),
    ];
    for (method, path, body) in refused {
        let answer = b.call(method, &path, body).await;
        assert_eq!(
            answer.error_type.as_deref(),
            Some("ResourceNotFoundException"),
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.status.as_u16(), 404, "{method} {path}");
    }

    let described = a.call("GET", &format!("/campaigns/{id}"), None).await;
    let campaign = &described.ok()["campaign"];
    assert_eq!(campaign["name"], "test campaign");
    assert_eq!(
        campaign["dialerConfig"],
        json!({"progressiveDialerConfig": {"bandwidthAllocation": 1.0}})
    );
    assert_eq!(
        campaign["outboundCallConfig"]["connectContactFlowId"],
        "flow-1"
    );
    let state = a.call("GET", &format!("/campaigns/{id}/state"), None).await;
    assert_eq!(state.ok()["state"], "Initialized");
    let progress = a
        .call("GET", &format!("/campaigns/{id}/progress"), None)
        .await;
    assert_eq!(progress.ok()["requests"]["pending"], 1);
}

#[sqlx::test]
async fn lists_show_only_the_callers_campaigns(pool: PgPool) {
    let (a, b) = spawn(pool).await;
    let a1 = a.progressive_campaign().await;
    let a2 = a.progressive_campaign().await;
    let b1 = b.progressive_campaign().await;

    assert_eq!(listed_ids(&a, json!({})).await, [a1.as_str(), a2.as_str()]);
    assert_eq!(listed_ids(&b, json!({})).await, [b1.as_str()]);
    let same_instance =
        json!({"filters": {"instanceIdFilter": {"value": "instance-1", "operator": "Eq"}}});
    assert_eq!(listed_ids(&b, same_instance).await, [b1.as_str()]);
    // A page of one still pages B's campaigns only: nothing follows its first.
    let page = b
        .call("POST", "/campaigns-summary", Some(json!({"maxResults": 1})))
        .await;
    assert!(page.ok().get("nextToken").is_none(), "{}", page.body);

    let states = b
        .call(
            "POST",
            "/campaigns-state",
            Some(json!({"campaignIds": [a1, b1]})),
        )
        .await;
    assert_eq!(
        states.ok(),
        &json!({
            "successfulRequests": [{"campaignId": b1, "state": "Initialized"}],
            "failedRequests": [{"campaignId": a1, "failureCode": "ResourceNotFound"}],
        })
    );
}

#[sqlx::test]
async fn tagging_another_accounts_arn_is_denied(pool: PgPool) {
    let (a, b) = spawn(pool).await;
    let id = a.progressive_campaign().await;
    let arn = arn_of(&a, &id).await;
    let tags = format!("/tags/{}", url_encode(&arn));
    a.call("POST", &tags, Some(json!({"tags": {"team": "blue"}})))
        .await
        .ok();

    b.call("GET", &tags, None)
        .await
        .error(403, "AccessDeniedException");
    b.call("POST", &tags, Some(json!({"tags": {"team": "red"}})))
        .await
        .error(403, "AccessDeniedException");
    b.call("DELETE", &format!("{tags}?tagKeys=team"), None)
        .await
        .error(403, "AccessDeniedException");
    // B's own account with A's campaign id names no campaign of B's.
    let forged = arn.replace(ACCOUNT_A, ACCOUNT_B);
    b.call("GET", &format!("/tags/{}", url_encode(&forged)), None)
        .await
        .error(404, "ResourceNotFoundException");

    let kept = a.call("GET", &tags, None).await;
    assert_eq!(kept.ok()["tags"], json!({"team": "blue"}));
}

#[sqlx::test]
async fn instance_records_are_per_account(pool: PgPool) {
    let (a, b) = spawn(pool).await;
    let onboard = json!({"encryptionConfig": {"enabled": false}});
    a.call(
        "PUT",
        "/connect-instance/inst-1/onboarding",
        Some(onboard.clone()),
    )
    .await
    .ok();
    // An active campaign of A on the instance does not hold B's config.
    let create = json!({"name": "a on inst-1", "connectInstanceId": "inst-1",
        "dialerConfig": {"agentlessDialerConfig": {}}, "outboundCallConfig": {"connectContactFlowId": "f"}});
    a.call("PUT", "/campaigns", Some(create)).await.ok();

    for (method, path) in [
        ("GET", "/connect-instance/inst-1/config"),
        ("GET", "/connect-instance/inst-1/onboarding"),
        ("DELETE", "/connect-instance/inst-1/config"),
        ("DELETE", "/connect-instance/inst-1/onboarding"),
    ] {
        b.call(method, path, None)
            .await
            .error(404, "ResourceNotFoundException");
    }
    b.call("PUT", "/connect-instance/inst-1/onboarding", Some(onboard))
        .await
        .ok();
    assert_eq!(role_of_inst_1(&b).await, service_linked_role(ACCOUNT_B));
    b.call("DELETE", "/connect-instance/inst-1/config", None)
        .await
        .ok();

    assert_eq!(role_of_inst_1(&a).await, service_linked_role(ACCOUNT_A));
    a.call("DELETE", "/connect-instance/inst-1/config", None)
        .await
        .error(409, "InvalidStateException");
}

#[sqlx::test]
async fn without_auth_every_caller_is_the_default_account(pool: PgPool) {
    let (a, b) = spawn(pool.clone()).await;
    let of_a = a.progressive_campaign().await;
    let of_b = b.progressive_campaign().await;
    a.shutdown().await.unwrap();

    let mut config = two_accounts();
    config.auth.enabled = false;
    let open = TestApp::spawn_with(pool, config).await;
    // Even a request signed with B's key acts for the default account.
    let as_b = open.with_key(KEY_B.0, KEY_B.1);
    assert_eq!(listed_ids(&as_b, json!({})).await, [of_a.as_str()]);
    let created = as_b.progressive_campaign().await;
    assert_eq!(
        arn_of(&open, &created).await,
        format!("arn:aws:connect-campaigns:us-east-1:{ACCOUNT_A}:campaign/{created}")
    );
    open.call("GET", &format!("/campaigns/{of_b}"), None)
        .await
        .error(404, "ResourceNotFoundException");
}

/// The first migration that knows accounts.
const ACCOUNTS_MIGRATION: i64 = 20261206000001;

#[sqlx::test(migrations = false)]
async fn existing_rows_move_to_their_default_account(pool: PgPool) {
    let (before, after): (Vec<_>, Vec<_>) = dialer::db::MIGRATOR
        .iter()
        .partition(|m| m.version < ACCOUNTS_MIGRATION);
    for migration in before {
        sqlx::raw_sql(&migration.sql).execute(&pool).await.unwrap();
    }
    let id = uuid::Uuid::new_v4().to_string();
    let arn = format!("arn:aws:connect-campaigns:us-east-1:{ACCOUNT_A}:campaign/{id}");
    let role = service_linked_role(ACCOUNT_A);
    sqlx::raw_sql(&format!(
        "insert into campaign (id, arn, name, connect_instance_id, dialer_config, outbound_call_config)
         values ('{id}', '{arn}', 'legacy', 'inst-old', '{{\"agentlessDialerConfig\": {{}}}}', '{{\"connectContactFlowId\": \"f\"}}');
         insert into connect_instance_config (instance_id, service_linked_role_arn, encryption_config)
         values ('inst-old', '{role}', '{{\"enabled\": false}}');
         insert into instance_onboarding_job (instance_id, status, encryption_config)
         values ('inst-old', 'SUCCEEDED', '{{\"enabled\": false}}'),
                ('inst-config-deleted', 'SUCCEEDED', '{{\"enabled\": false}}');"
    ))
    .execute(&pool)
    .await
    .unwrap();
    for migration in after {
        sqlx::raw_sql(&migration.sql).execute(&pool).await.unwrap();
    }

    let (a, b) = spawn(pool).await;
    assert_eq!(listed_ids(&a, json!({})).await, [id.as_str()]);
    assert_eq!(arn_of(&a, &id).await, arn);
    for path in [
        "/connect-instance/inst-old/config",
        "/connect-instance/inst-old/onboarding",
        "/connect-instance/inst-config-deleted/onboarding",
    ] {
        a.call("GET", path, None).await.ok();
        b.call("GET", path, None)
            .await
            .error(404, "ResourceNotFoundException");
    }
    assert!(listed_ids(&b, json!({})).await.is_empty());
}
