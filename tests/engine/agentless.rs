//! An agentless campaign never hands its calls to agents, even when its outbound call config
//! names a queue (the API accepts one in every mode): a person who answers hears the contact
//! flow, so the call ends `answered` and can never be abandoned.

use std::time::Duration;

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::harness::{
    breakdown, check_invariants, command, put_requests, wait_drained, Knobs, TestDb, SIM_QUEUE,
};

#[sqlx::test]
async fn agentless_campaign_naming_a_queue_reaches_no_agent(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    // One agent for ten lines: any answered call routed to the queue would mostly wait past
    // the abandon threshold.
    let knobs = Knobs {
        agents: 1,
        ..Knobs::default()
    };
    let app = db.app(&knobs).await;
    let campaign = app
        .create_campaign_with(
            json!({"agentlessDialerConfig": {"dialingCapacity": 1.0}}),
            json!({
                "connectContactFlowId": "flow-1",
                "connectQueueId": SIM_QUEUE,
                "connectSourcePhoneNumber": "+14155550100",
            }),
        )
        .await;
    let accepted = put_requests(&app, &campaign, "a", 80, |_| Duration::from_secs(3600)).await;
    command(&app, &campaign, "start").await;
    let campaigns = [campaign];
    wait_drained(&db.pool, &campaigns, Duration::from_secs(40)).await;

    check_invariants(&db.pool, &campaigns, &accepted)
        .await
        .assert_clean();
    let outcomes = breakdown(&db.pool, &campaigns).await;
    let count = |outcome: &str| {
        outcomes
            .iter()
            .filter(|(key, _)| key.ends_with(&format!("/{outcome}")))
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    assert!(count("answered") > 0, "{outcomes:?}");
    assert_eq!(
        (count("connected"), count("abandoned")),
        (0, 0),
        "agentless calls reached the queue: {outcomes:?}"
    );
    app.shutdown().await.unwrap();
}
