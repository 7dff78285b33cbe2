//! Retention (`queue.retention_days`): the daemon's sweeper deletes finished requests older
//! than the retention, then their contact batches and the simulated center's ledger rows,
//! counts them in `dialer_dial_requests_deleted_total`, and the status API answers 404 for
//! them; pending requests stay whatever their age, and so do the hourly abandonment counts.
//! Recipients' contact histories go when their last contact is older than the longest
//! communication limit's window.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::TestApp;
use crate::harness::{
    agentless_campaign, command, put_requests, wait_drained, wait_for, Knobs, TestDb,
};

/// Sums of every hourly count, all campaigns.
async fn hourly(pool: &PgPool) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "select coalesce(sum(dials), 0)::bigint, coalesce(sum(person_answers), 0)::bigint,
                coalesce(sum(abandons), 0)::bigint, coalesce(sum(machines), 0)::bigint
         from campaign_hourly",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn deleted_metric(app: &TestApp, campaign: &str) -> f64 {
    app.metric_sum(&format!(
        "dialer_dial_requests_deleted_total{{campaign_id=\"{campaign}\"}}"
    ))
    .await
}

/// Batches none of whose requests is left.
const BATCHES_WITHOUT_REQUESTS: &str = "select count(*) from contact_batch b
     where not exists (select 1 from dial_request d
                       where d.id = any(b.request_ids) and d.batch_id = b.id)";

#[sqlx::test]
async fn old_finished_requests_their_batches_and_ledger_rows_are_deleted(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let mut config = Knobs::default().config();
    config.queue.retention_days = 1.0;
    let app = TestApp::spawn_with(db.daemon_pool().await, config).await;

    let dialed = agentless_campaign(&app).await;
    // A limit no recipient reaches: histories are kept only where a limit counts them.
    sqlx::query("update campaign set communication_limits_override = $2 where id = $1")
        .bind(&dialed)
        .bind(
            serde_json::json!({"allChannelSubtypes": {"communicationLimitsList": [
                {"maxCountPerRecipient": 100, "frequency": 30, "unit": "DAY"}
            ]}}),
        )
        .execute(&db.pool)
        .await
        .unwrap();
    let accepted = put_requests(&app, &dialed, "d", 60, |_| Duration::from_secs(3600)).await;
    command(&app, &dialed, "start").await;
    wait_drained(
        &db.pool,
        std::slice::from_ref(&dialed),
        Duration::from_secs(40),
    )
    .await;
    // Pending requests of a campaign never started: as old as can be, never deleted.
    let waiting = agentless_campaign(&app).await;
    let pending = put_requests(&app, &waiting, "w", 30, |_| Duration::from_secs(3600)).await;
    let counts_before = hourly(&db.pool).await;
    let batches_before = count(&db.pool, "select count(*) from contact_batch").await;
    assert!(counts_before.0 > 0, "the run dialed");

    // The first 40 finished requests, and every row of the other tables, age by two days:
    // the batches and ledger rows must then go by whether their requests are left, not by age.
    let (old, kept) = accepted.split_at(40);
    sqlx::query(
        "update dial_request set updated_at = now() - interval '2 days' where id = any($1)",
    )
    .bind(old)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "update dial_request set created_at = now() - interval '2 days',
                updated_at = now() - interval '2 days'
         where campaign_id = $1",
    )
    .bind(&waiting)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("update contact_batch set created_at = now() - interval '2 days'")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("update sim_ledger set created_at = now() - interval '2 days'")
        .execute(&db.pool)
        .await
        .unwrap();

    // Contact histories go by the longest limit's window (30 days), not the retention: of the
    // run's 60 recipients, 40 last contacted 31 days ago go, 20 contacted 2 days ago stay.
    sqlx::query(
        "update recipient_contact r
         set last_contact_at = now() - case when o.n <= 40 then interval '31 days' else interval '2 days' end
         from (select number_hash, row_number() over (order by number_hash) as n from recipient_contact) o
         where o.number_hash = r.number_hash",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    wait_for(
        "retention to delete the old histories",
        Duration::from_secs(20),
        || async {
            (count(&db.pool, "select count(*) from recipient_contact").await == 20).then_some(())
        },
    )
    .await;
    assert_eq!(
        count(
            &db.pool,
            "select count(*) from recipient_contact where last_contact_at < now() - interval '30 days'"
        )
        .await,
        0
    );

    wait_for("retention to delete the old requests", Duration::from_secs(20), || async {
        let left: i64 = sqlx::query_scalar("select count(*) from dial_request where id = any($1)")
            .bind(old)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let orphans = count(
            &db.pool,
            "select count(*) from sim_ledger l
             where not exists (select 1 from contact_batch b where b.client_token = l.client_token)",
        )
        .await;
        // A pass deletes requests, then their batches, then the batches' ledger rows: all
        // three must be done.
        let lone_batches = count(&db.pool, BATCHES_WITHOUT_REQUESTS).await;
        (left == 0 && lone_batches == 0 && orphans == 0).then_some(())
    })
    .await;

    let alive = |ids: &[Uuid]| {
        let ids = ids.to_vec();
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from dial_request where id = any($1)")
                .bind(&ids)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(alive(kept).await, kept.len() as i64, "recent requests kept");
    assert_eq!(
        alive(&pending).await,
        pending.len() as i64,
        "pending requests kept"
    );
    assert_eq!(
        hourly(&db.pool).await,
        counts_before,
        "hourly counts untouched"
    );
    // Every batch left still has a request of its own; every one without was deleted.
    assert_eq!(count(&db.pool, BATCHES_WITHOUT_REQUESTS).await, 0);
    let batches_after = count(&db.pool, "select count(*) from contact_batch").await;
    assert!(
        0 < batches_after && batches_after < batches_before,
        "{batches_before} batches, {batches_after} left"
    );
    // The contact lookup holds exactly the contacts of the batches left: the deleted
    // batches' entries went with them.
    assert_eq!(
        count(&db.pool, "select count(*) from contact_batch_contact").await,
        count(
            &db.pool,
            "select count(*) from contact_batch b cross join unnest(b.contact_ids) as c(id)
             where c.id is not null"
        )
        .await
    );
    assert_eq!(
        count(
            &db.pool,
            "select count(*) from contact_batch_contact m
             where not exists (select 1 from contact_batch b where b.id = m.batch_id)"
        )
        .await,
        0,
        "no contact lookup entry outlives its batch"
    );
    assert!(count(&db.pool, "select count(*) from contact_batch_contact").await > 0);
    // The kept requests' ledger rows are there: their batches may be replayed.
    assert_eq!(
        count(&db.pool, "select count(*) from sim_ledger").await,
        count(
            &db.pool,
            "select count(*) from contact_batch b
             where exists (select 1 from sim_ledger l where l.client_token = b.client_token)"
        )
        .await
    );
    assert!(count(&db.pool, "select count(*) from sim_ledger").await > 0);

    assert_eq!(deleted_metric(&app, &dialed).await, old.len() as f64);
    assert_eq!(deleted_metric(&app, &waiting).await, 0.0);

    let status = |id: Uuid| {
        let (app, campaign) = (&app, dialed.clone());
        async move { app.dial_request_status(&campaign, id).await }
    };
    let gone = status(old[0]).await;
    let message = gone.error(404, "ResourceNotFoundException");
    assert!(message.contains(&old[0].to_string()), "{message}");
    status(kept[0]).await.ok();

    // The deleted request's clientToken names nothing any more: it is admitted anew.
    let again = put_requests(&app, &dialed, "d", 1, |_| Duration::from_secs(3600)).await;
    assert_eq!(again.len(), 1);
    assert_ne!(again[0], old[0], "a new request, with a new id");
    app.shutdown().await.unwrap();
}

/// `dialer bench soak` for a few seconds, retention at three: it ingests, dials and deletes.
#[tokio::test]
async fn the_soak_benchmark_ingests_dials_and_deletes() {
    let report = dialer::bench::soak::soak(dialer::bench::soak::SoakArgs {
        minutes: 0.15,
        retention_minutes: 0.05,
        rate: 100.0,
        agents: 50,
        report_secs: 3.0,
        config: "config/dialer.toml".into(),
    })
    .await
    .unwrap();
    assert!(report.accepted > 0 && report.dials > 0, "{report:?}");
    assert!(report.deleted > 0.0, "{report:?}");
}
