use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{url_encode, TestApp};

async fn state(app: &TestApp, id: String) -> serde_json::Value {
    app.call("GET", &format!("/campaigns/{id}/state"), None)
        .await
        .ok()["state"]
        .clone()
}

#[sqlx::test]
async fn lifecycle_follows_the_state_machine(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app.progressive_campaign().await;
    assert_eq!(state(&app, id.clone()).await, "Initialized");

    let refused = app
        .call("POST", &format!("/campaigns/{id}/pause"), None)
        .await;
    refused.error(409, "InvalidCampaignStateException");
    assert_eq!(refused.body["state"], "Initialized");

    for (command, expected) in [
        ("start", "Running"),
        ("pause", "Paused"),
        ("resume", "Running"),
        ("stop", "Stopped"),
    ] {
        app.call("POST", &format!("/campaigns/{id}/{command}"), None)
            .await
            .ok();
        assert_eq!(state(&app, id.clone()).await, expected, "after {command}");
    }
    let refused = app
        .call("POST", &format!("/campaigns/{id}/resume"), None)
        .await;
    refused.error(409, "InvalidCampaignStateException");
    assert_eq!(refused.body["state"], "Stopped");

    app.call(
        "POST",
        &format!("/campaigns/{id}/name"),
        Some(json!({"name": "late"})),
    )
    .await
    .error(409, "ConflictException");
}

#[sqlx::test]
async fn describe_update_and_delete(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app
        .create_campaign(
            json!({"predictiveDialerConfig": {"bandwidthAllocation": 0.5, "dialingCapacity": 0.2}}),
        )
        .await;
    app.call(
        "POST",
        &format!("/campaigns/{id}/name"),
        Some(json!({"name": "renamed"})),
    )
    .await
    .ok();
    app.call(
        "POST",
        &format!("/campaigns/{id}/dialer-config"),
        Some(json!({"dialerConfig": {"agentlessDialerConfig": {"dialingCapacity": 0.5}}})),
    )
    .await
    .ok();
    app.call(
        "POST",
        &format!("/campaigns/{id}/outbound-call-config"),
        Some(json!({"connectContactFlowId": "flow-2", "answerMachineDetectionConfig": {"enableAnswerMachineDetection": true}})),
    )
    .await
    .ok();
    let described = app.call("GET", &format!("/campaigns/{id}"), None).await;
    let campaign = &described.ok()["campaign"];
    assert_eq!(campaign["name"], "renamed");
    assert_eq!(
        campaign["dialerConfig"],
        json!({"agentlessDialerConfig": {"dialingCapacity": 0.5}})
    );
    assert_eq!(
        campaign["outboundCallConfig"]["connectContactFlowId"],
        "flow-2"
    );
    assert_eq!(
        campaign["outboundCallConfig"]["connectQueueId"], "queue-1",
        "untouched members stay"
    );
    assert_eq!(
        campaign["outboundCallConfig"]["answerMachineDetectionConfig"]
            ["enableAnswerMachineDetection"],
        true
    );
    assert!(campaign["arn"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":campaign/{id}")));

    app.call("DELETE", &format!("/campaigns/{id}"), None)
        .await
        .ok();
    app.call("GET", &format!("/campaigns/{id}"), None)
        .await
        .error(404, "ResourceNotFoundException");
    app.call("DELETE", &format!("/campaigns/{id}"), None)
        .await
        .error(404, "ResourceNotFoundException");
}

#[sqlx::test]
async fn create_validation_names_every_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let message = app
        .call(
            "PUT",
            "/campaigns",
            Some(json!({
                "name": "x".repeat(128),
                "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": 1.5}},
                "outboundCallConfig": {},
                "tags": {"aws:internal": "v"},
            })),
        )
        .await
        .error(400, "ValidationException")
        .to_string();
    for field in [
        "'name'",
        "'connectInstanceId'",
        "'dialerConfig.progressiveDialerConfig.bandwidthAllocation'",
        "'outboundCallConfig.connectContactFlowId'",
        "'tags.key'",
    ] {
        assert!(message.contains(field), "{field} missing from: {message}");
    }
    let union = app
        .call(
            "PUT",
            "/campaigns",
            Some(json!({
                "name": "n", "connectInstanceId": "i",
                "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": 1}, "agentlessDialerConfig": {}},
                "outboundCallConfig": {"connectContactFlowId": "f"},
            })),
        )
        .await;
    assert!(union
        .error(400, "ValidationException")
        .contains("exactly one"));
    let typed = app
        .call("PUT", "/campaigns", Some(json!({"name": 5})))
        .await;
    assert!(typed.error(400, "ValidationException").contains("'name'"));
}

#[sqlx::test]
async fn list_pages_and_filters(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(app.progressive_campaign().await);
    }
    let other = app
        .call(
            "PUT",
            "/campaigns",
            Some(json!({
                "name": "other", "connectInstanceId": "instance-2",
                "dialerConfig": {"agentlessDialerConfig": {}},
                "outboundCallConfig": {"connectContactFlowId": "f"},
            })),
        )
        .await
        .ok()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"maxResults": 2, "filters": {"instanceIdFilter": {"value": "instance-1", "operator": "Eq"}}});
        if let Some(t) = &token {
            request["nextToken"] = json!(t);
        }
        let page = app.call("POST", "/campaigns-summary", Some(request)).await;
        let body = page.ok();
        let items = body["campaignSummaryList"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        match body["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen, created,
        "every instance-1 campaign once, in creation order"
    );
    assert!(!seen.contains(&other));

    let all = app
        .call("POST", "/campaigns-summary", Some(json!({})))
        .await;
    assert_eq!(all.ok()["campaignSummaryList"].as_array().unwrap().len(), 6);
    for bad in [
        json!({"maxResults": 0}),
        json!({"maxResults": 51}),
        json!({"nextToken": "bogus"}),
        json!({"filters": {"instanceIdFilter": {"value": "i", "operator": "Ne"}}}),
    ] {
        app.call("POST", "/campaigns-summary", Some(bad))
            .await
            .error(400, "ValidationException");
    }
}

#[sqlx::test]
async fn state_batch_reports_unknown_ids(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app.progressive_campaign().await;
    let answer = app
        .call(
            "POST",
            "/campaigns-state",
            Some(json!({"campaignIds": [id, "missing"]})),
        )
        .await;
    let body = answer.ok();
    assert_eq!(
        body["successfulRequests"],
        json!([{"campaignId": id, "state": "Initialized"}])
    );
    assert_eq!(
        body["failedRequests"],
        json!([{"campaignId": "missing", "failureCode": "ResourceNotFound"}])
    );
    let too_many: Vec<String> = (0..26).map(|i| i.to_string()).collect();
    app.call(
        "POST",
        "/campaigns-state",
        Some(json!({"campaignIds": too_many})),
    )
    .await
    .error(400, "ValidationException");
}

#[sqlx::test]
async fn tags_by_arn(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app.progressive_campaign().await;
    let arn = app
        .call("GET", &format!("/campaigns/{id}"), None)
        .await
        .ok()["campaign"]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let encoded: String = url_encode(&arn);
    app.call(
        "POST",
        &format!("/tags/{encoded}"),
        Some(json!({"tags": {"team": "blue", "env": "prod"}})),
    )
    .await
    .ok();
    app.call("DELETE", &format!("/tags/{encoded}?tagKeys=env"), None)
        .await
        .ok();
    let tags = app.call("GET", &format!("/tags/{encoded}"), None).await;
    assert_eq!(tags.ok()["tags"], json!({"team": "blue"}));

    let unknown = url_encode("arn:aws:connect-campaigns:us-east-1:123456789012:campaign/nope");
    app.call("GET", &format!("/tags/{unknown}"), None)
        .await
        .error(404, "ResourceNotFoundException");
    app.call("GET", "/tags/not-an-arn-at-all-but-long", None)
        .await
        .error(400, "ValidationException");
}

#[sqlx::test]
async fn instance_onboarding_records(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.call("GET", "/connect-instance/inst-9/config", None)
        .await
        .error(404, "ResourceNotFoundException");
    let started = app
        .call("PUT", "/connect-instance/inst-9/onboarding", Some(json!({"encryptionConfig": {"enabled": true, "encryptionType": "KMS", "keyArn": "arn:aws:kms:us-east-1:1:key/k"}})))
        .await;
    assert_eq!(
        started.ok()["connectInstanceOnboardingJobStatus"]["status"],
        "SUCCEEDED"
    );
    let config = app
        .call("GET", "/connect-instance/inst-9/config", None)
        .await;
    assert_eq!(
        config.ok()["connectInstanceConfig"]["encryptionConfig"]["keyArn"],
        "arn:aws:kms:us-east-1:1:key/k"
    );

    let campaign = app
        .call("PUT", "/campaigns", Some(json!({"name": "n", "connectInstanceId": "inst-9",
            "dialerConfig": {"agentlessDialerConfig": {}}, "outboundCallConfig": {"connectContactFlowId": "f"}})))
        .await
        .ok()["id"].as_str().unwrap().to_string();
    app.call("DELETE", "/connect-instance/inst-9/config", None)
        .await
        .error(409, "InvalidStateException");
    app.call("POST", &format!("/campaigns/{campaign}/stop"), None)
        .await
        .ok();
    app.call("DELETE", "/connect-instance/inst-9/config", None)
        .await
        .ok();
    app.call("GET", "/connect-instance/inst-9/config", None)
        .await
        .error(404, "ResourceNotFoundException");
    app.call("GET", "/connect-instance/inst-9/onboarding", None)
        .await
        .ok();
    app.call("DELETE", "/connect-instance/inst-9/onboarding", None)
        .await
        .ok();
    app.call("GET", "/connect-instance/inst-9/onboarding", None)
        .await
        .error(404, "ResourceNotFoundException");
    app.call(
        "PUT",
        "/connect-instance/inst-9/onboarding",
        Some(json!({"encryptionConfig": {"enabled": true, "encryptionType": "AES"}})),
    )
    .await
    .error(400, "ValidationException");
}
