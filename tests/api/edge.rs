use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{answer, test_config, TestApp, SECRET};

/// ListCampaigns sent without a signature.
async fn unsigned_list(app: &TestApp) -> crate::helpers::Answer {
    let request = app
        .http
        .post(format!("{}/campaigns-summary", app.endpoint))
        .body("{}");
    answer(request.send().await.unwrap()).await
}

#[sqlx::test]
async fn unsigned_and_wrongly_signed_requests_are_denied(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let unsigned = unsigned_list(&app).await;
    unsigned.error(403, "AccessDeniedException");
    assert!(unsigned.request_id.is_some());
    app.call_raw("POST", "/campaigns-summary", b"{}".to_vec(), "wrong-secret")
        .await
        .error(403, "AccessDeniedException");
    app.call_raw("POST", "/campaigns-summary", b"{}".to_vec(), SECRET)
        .await
        .ok();
}

#[sqlx::test]
async fn auth_can_be_disabled_explicitly(pool: PgPool) {
    let mut config = test_config();
    config.auth.enabled = false;
    let app = TestApp::spawn_with(pool, config).await;
    let unsigned = unsigned_list(&app).await;
    unsigned.ok();
}

#[sqlx::test]
async fn malformed_and_oversize_bodies_are_client_errors(pool: PgPool) {
    let mut config = test_config();
    config.server.max_body_bytes = 4096;
    let app = TestApp::spawn_with(pool, config).await;
    app.call_raw("PUT", "/campaigns", b"{\"name\": ".to_vec(), SECRET)
        .await
        .error(400, "ValidationException");
    app.call_raw("PUT", "/campaigns", b"[1,2]".to_vec(), SECRET)
        .await
        .error(400, "ValidationException");
    app.call_raw("PUT", "/campaigns", b"{} trailing".to_vec(), SECRET)
        .await
        .error(400, "ValidationException");
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(5000));
    app.call_raw("PUT", "/campaigns", big.into_bytes(), SECRET)
        .await
        .error(413, "ValidationException");
}

#[sqlx::test]
async fn unknown_routes_answer_in_the_aws_shape(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.call("GET", "/nope", None)
        .await
        .error(404, "UnknownOperationException");
    app.call("PATCH", "/campaigns", Some(json!({})))
        .await
        .error(404, "UnknownOperationException");
}

#[sqlx::test]
async fn throttling_is_per_operation(pool: PgPool) {
    let mut config = test_config();
    config.throttling.operations.insert(
        "ListCampaigns".into(),
        dialer::config::Rate {
            per_second: 0.01,
            burst: 2,
        },
    );
    let app = TestApp::spawn_with(pool, config).await;
    app.call("POST", "/campaigns-summary", Some(json!({})))
        .await
        .ok();
    app.call("POST", "/campaigns-summary", Some(json!({})))
        .await
        .ok();
    app.call("POST", "/campaigns-summary", Some(json!({})))
        .await
        .error(429, "ThrottlingException");
    app.call(
        "POST",
        "/campaigns-state",
        Some(json!({"campaignIds": ["x"]})),
    )
    .await
    .ok();
}

#[sqlx::test]
async fn health_readiness_and_metrics(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let campaign = app.progressive_campaign().await;
    app.put_dial_requests(
        &campaign,
        json!([
            crate::helpers::dial_request("m", "+14155550123"),
            crate::helpers::dial_request("n", "+-")
        ]),
    )
    .await
    .ok();
    for path in ["/healthz", "/readyz"] {
        let response = app
            .http
            .get(format!("{}{path}", app.endpoint))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("dialer_api_requests_total{operation=\"CreateCampaign\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dialer_api_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("dialer_dial_requests_received_total{{campaign_id=\"{campaign}\",outcome=\"refused\",code=\"InvalidInput\"}}")), "{metrics}");
    assert!(!metrics.contains("+1415555"), "no phone numbers in metrics");
}

#[sqlx::test]
async fn graceful_shutdown_returns_ok(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.call("POST", "/campaigns-summary", Some(json!({})))
        .await
        .ok();
    app.shutdown().await.unwrap();
}
