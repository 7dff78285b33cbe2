//! The invariant checker itself: fed a ledger and queue that break each invariant, it must
//! say so, or the engine tests that rely on it could not fail.

use std::time::Duration;

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::common::TestApp;
use crate::harness::{agentless_campaign, check_invariants, put_requests, Knobs, TestDb};

#[sqlx::test]
async fn the_checker_flags_every_broken_invariant(_: PgPoolOptions, connect: PgConnectOptions) {
    let db = TestDb::new(connect).await;
    let mut config = Knobs::default().config();
    config.engine.enabled = false;
    let app = TestApp::spawn_with(db.daemon_pool().await, config).await;
    let campaign = agentless_campaign(&app).await;
    let ids = put_requests(&app, &campaign, "x", 4, |_| Duration::from_secs(3600)).await;
    let (twice, late, unrecorded, waiting) = (ids[0], ids[1], ids[2], ids[3]);
    let ledger = |token: &str, contacts: &[(Uuid, &str)]| {
        let successful: Vec<_> = contacts
            .iter()
            .map(|(id, contact)| json!({"RequestIdentifier": id.to_string(), "ContactId": contact}))
            .collect();
        (
            token.to_string(),
            json!({"fingerprint": "f", "response": {"SuccessfulRequestList": successful, "FailedRequestList": []}}),
        )
    };
    for (token, entry) in [
        ledger("t1", &[(twice, "c1"), (late, "c3"), (unrecorded, "c4")]),
        ledger("t2", &[(twice, "c2")]),
    ] {
        sqlx::query("insert into sim_ledger (client_token, entry) values ($1, $2)")
            .bind(token)
            .bind(entry)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    sqlx::query(
        "update dial_request set state = 'completed', contact_id = case id
             when $1 then 'c1' when $2 then 'c3' end,
             expires_at = case when id = $2 then now() - interval '1 minute' else expires_at end
         where id = any($3)",
    )
    .bind(twice)
    .bind(late)
    .bind(&ids[..3])
    .execute(&db.pool)
    .await
    .unwrap();

    let findings = check_invariants(&db.pool, &[campaign], &ids).await;
    let said = |needle: String| {
        assert!(
            findings.violations.iter().any(|v| v.contains(&needle)),
            "no violation mentions {needle:?}: {:#?}",
            findings.violations
        )
    };
    said(format!("request {twice} has 2 contacts"));
    said(format!("request {late} got contact c3"));
    said(format!(
        "request {unrecorded} (completed) records contact None"
    ));
    said(format!("acknowledged request {waiting} is still pending"));
    assert_eq!(findings.violations.len(), 4, "{:#?}", findings.violations);
    app.shutdown().await.unwrap();
}
