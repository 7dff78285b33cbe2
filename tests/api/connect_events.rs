//! `POST /events/amazon-connect`: what an EventBridge API destination gets back. Stored
//! events are acknowledged, once each; the rest are refused or ignored with a status that
//! makes EventBridge retry only what could succeed later.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{test_config, TestApp};

const KEY: &str = "events-secret";

fn event(id: &str, detail_type: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": "aws.connect",
        "account": "111122223333",
        "time": "2026-12-05T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventType": "INITIATED",
            "contactId": "c-1",
            "campaign": {"campaignId": "camp-1"},
            "initiationTimestamp": "2026-12-05T10:00:00.000Z"
        }
    })
}

async fn post(app: &TestApp, key: Option<&str>, body: &Value) -> u16 {
    let mut request = app
        .http
        .post(format!("{}/events/amazon-connect", app.endpoint))
        .json(body);
    if let Some(key) = key {
        request = request.header("x-dialer-events-key", key);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn stored(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from connect_event")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn contact_events_are_stored_once_and_only_with_the_key(pool: PgPool) {
    let mut config = test_config();
    config.contact_center.amazon_connect.events_key = KEY.to_string();
    let app = TestApp::spawn_with(pool.clone(), config).await;
    let contact_event = event("e-1", "Amazon Connect Contact Event");

    assert_eq!(post(&app, None, &contact_event).await, 401);
    assert_eq!(post(&app, Some("wrong"), &contact_event).await, 401);
    assert_eq!(stored(&pool).await, 0);

    assert_eq!(post(&app, Some(KEY), &contact_event).await, 200);
    // EventBridge redelivers with the same id: acknowledged, not stored twice.
    assert_eq!(post(&app, Some(KEY), &contact_event).await, 200);
    assert_eq!(stored(&pool).await, 1);

    let other = event("e-2", "Contact Lens Analysis State Change");
    assert_eq!(post(&app, Some(KEY), &other).await, 200);
    let mut broken = contact_event.clone();
    broken["detail"]["contactId"] = json!(17);
    assert_eq!(post(&app, Some(KEY), &broken).await, 400);
    assert_eq!(stored(&pool).await, 1);
}

#[sqlx::test]
async fn without_a_key_the_endpoint_refuses_every_event(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let contact_event = event("e-1", "Amazon Connect Contact Event");
    assert_eq!(post(&app, Some(""), &contact_event).await, 404);
    assert_eq!(stored(&pool).await, 0);
}
