//! Communication limits with two daemons: campaigns of one instance, each leased by another
//! daemon, claim requests for the same recipients at the same time, and no recipient gets
//! more contacts than the instance's limit allows; the others end LIMIT_EXCEEDED, and the
//! ledger names the limit.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::harness::{
    agentless_campaign, check_invariants, command, lease, sim_contacts, wait_drained, wait_for,
    Knobs, TestDb,
};

const RECIPIENTS: usize = 10;
/// Requests per recipient in each campaign: twice the limit, so each campaign alone could
/// exceed it.
const PER_RECIPIENT: usize = 6;
const LIMIT: usize = 3;
/// The owner of a lease the test freed.
const FREED: &str = "nobody";

#[sqlx::test]
async fn two_daemons_never_exceed_an_instance_limit(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    // Leases long enough that neither daemon takes the other's campaign over during the run.
    let knobs = Knobs {
        lease_ttl_secs: 30.0,
        ..Knobs::default()
    };
    let first = db.app(&knobs).await;
    first
        .call(
            "PUT",
            "/connect-instance/instance-1/onboarding",
            Some(json!({"encryptionConfig": {"enabled": false}})),
        )
        .await
        .ok();
    first
        .call(
            "PUT",
            "/v2/connect-instance/instance-1/communication-limits",
            Some(json!({"communicationLimitsConfig": {"allChannelSubtypes": {
                "communicationLimitsList": [{"maxCountPerRecipient": LIMIT, "frequency": 1, "unit": "DAY"}]
            }}})),
        )
        .await
        .ok();
    let (a, b) = (
        agentless_campaign(&first).await,
        agentless_campaign(&first).await,
    );

    // The first daemon, alone, takes campaign a; then the second takes b (a lease that lands
    // with the first is freed until it does not). Neither has requests yet.
    command(&first, &a, "start").await;
    let (first_owner, _) = wait_for("a leased", Duration::from_secs(30), || async {
        lease(&db.pool, &a).await
    })
    .await;
    let second = db.app(&knobs).await;
    command(&first, &b, "start").await;
    wait_for(
        "b leased by the second daemon",
        Duration::from_secs(30),
        || async {
            let (owner, _) = lease(&db.pool, &b).await?;
            if owner == FREED {
                return None;
            }
            if owner != first_owner {
                return Some(());
            }
            sqlx::query(
            "update campaign_lease set owner = $2, expires_at = '-infinity' where campaign_id = $1",
        )
        .bind(&b)
        .bind(FREED)
        .execute(&db.pool)
        .await
        .unwrap();
            None
        },
    )
    .await;

    // Both campaigns get the same recipients at once.
    let expires = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    let items = |campaign: &str| -> Vec<serde_json::Value> {
        (0..RECIPIENTS * PER_RECIPIENT)
            .map(|i| {
                json!({
                    "clientToken": format!("{campaign}-{i}"),
                    "phoneNumber": format!("+1415555{:04}", i % RECIPIENTS),
                    "expirationTime": expires,
                    "attributes": {},
                })
            })
            .collect()
    };
    let (to_a, to_b) = (items(&a), items(&b));
    let mut accepted: Vec<Uuid> = Vec::new();
    for (chunk_a, chunk_b) in to_a.chunks(25).zip(to_b.chunks(25)) {
        let (answer_a, answer_b) = tokio::join!(
            first.put_dial_requests(&a, json!(chunk_a)),
            second.put_dial_requests(&b, json!(chunk_b))
        );
        for answer in [answer_a, answer_b] {
            for item in answer.ok()["successfulRequests"].as_array().unwrap() {
                accepted.push(Uuid::parse_str(item["id"].as_str().unwrap()).unwrap());
            }
        }
    }
    assert_eq!(accepted.len(), 2 * RECIPIENTS * PER_RECIPIENT);
    let campaigns = [a.clone(), b.clone()];
    wait_drained(&db.pool, &campaigns, Duration::from_secs(60)).await;
    check_invariants(&db.pool, &campaigns, &accepted)
        .await
        .assert_clean();
    assert_ne!(
        lease(&db.pool, &a).await.map(|l| l.0),
        lease(&db.pool, &b).await.map(|l| l.0),
        "one daemon held both campaigns"
    );

    // Per recipient: the contacts the simulator made, and how its requests ended.
    let rows: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
        "select id, phone_number, state::text, reason from dial_request where campaign_id = any($1)",
    )
    .bind(&campaigns[..])
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let contacts = sim_contacts(&db.pool).await;
    let mut contacted: HashMap<String, usize> = HashMap::new();
    for (id, number, state, reason) in &rows {
        let calls = contacts.get(id).map_or(0, Vec::len);
        *contacted.entry(number.clone()).or_default() += calls;
        match (state.as_str(), reason.as_deref()) {
            ("completed", _) => assert_eq!(calls, 1, "{id}"),
            ("failed", Some("LIMIT_EXCEEDED")) => assert_eq!(calls, 0, "{id}"),
            other => panic!("{id} ended {other:?}"),
        }
    }
    assert_eq!(contacted.len(), RECIPIENTS);
    for (number, calls) in &contacted {
        assert_eq!(*calls, LIMIT, "{number} was contacted {calls} times");
    }

    // Every refusal names the instance's limit.
    let refusals: Vec<(String, Option<String>)> = sqlx::query_as(
        "select rule, detail from rule_decision where verdict = 'refuse' group by 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        refusals,
        [(
            "communication_limits".to_string(),
            Some(format!("instance:{LIMIT}/1d"))
        )]
    );
    let mut refused = 0.0;
    for campaign in &campaigns {
        refused += first
            .metric_sum(&format!(
                "dialer_dial_requests_refused_total{{campaign_id=\"{campaign}\",reason=\"LIMIT_EXCEEDED\"}}"
            ))
            .await;
    }
    // Both in-process daemons record into the process's one recorder.
    assert_eq!(
        refused,
        (2 * RECIPIENTS * (PER_RECIPIENT) - RECIPIENTS * LIMIT) as f64
    );
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}
