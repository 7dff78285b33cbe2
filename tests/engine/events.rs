//! Contact events are facts that any daemon may record: two event sinks fed the same events
//! at once, each also receiving every event twice, record each event once — one timeline
//! entry per kind and outcome counts that add up to the contacts, not to the deliveries —
//! and the status API shows the timeline in event order. Events that name only the contact
//! find their request through the batch that created the contact.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dialer::contact_center::{ContactEvent, ContactEventKind};
use dialer::engine::events::EventSink;
use dialer::engine::scheduler::Signals;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::common::{timeline_events, TestApp, CONNECTED_TIMELINE};
use crate::harness::{agentless_campaign, put_requests, wait_for, Knobs, TestDb};

const CONTACTS: usize = 40;

#[sqlx::test]
async fn two_sinks_given_the_same_events_record_each_once(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let mut config = Knobs::default().config();
    config.engine.enabled = false;
    let app = TestApp::spawn_with(db.daemon_pool().await, config).await;
    let campaign = agentless_campaign(&app).await;
    let ids = put_requests(&app, &campaign, "e", CONTACTS, |_| {
        Duration::from_secs(3600)
    })
    .await;
    // As the engine leaves requests whose contacts were created: in progress, the contact
    // ids in the answers of their batches (of 20), none on the request rows yet.
    sqlx::query(
        "with numbered as (
             select id, (row_number() over (order by id) - 1) / 20 as slot from unnest($1::uuid[]) as t(id)
         ),
         batches as (
             insert into contact_batch (id, campaign_id, client_token, fence, request, request_ids,
                                        contact_ids, next_attempt_at, resolved_at)
             select b.id, $2, 'token-' || b.id, 1, '{}', b.ids,
                    array(select 'contact-' || x from unnest(b.ids) with ordinality as u(x, i) order by i),
                    now(), now()
             from (select gen_random_uuid() as id, array_agg(id order by id) as ids
                   from numbered group by slot) b
             returning id, request_ids, contact_ids
         ),
         looked_up as (
             insert into contact_batch_contact (contact_id, batch_id, request_id)
             select r.contact_id, b.id, r.id
             from batches b cross join unnest(b.request_ids, b.contact_ids) as r(id, contact_id)
         )
         update dial_request d set state = 'in_progress', contact_phase = 'creating',
                batch_id = b.id, dialed_at = now()
         from batches b where d.id = any(b.request_ids)",
    )
    .bind(&ids)
    .bind(&campaign)
    .execute(&db.pool)
    .await
    .unwrap();
    let id = ids[3];
    let before_events = request_status(&app, &campaign, id).await;
    assert_eq!(before_events["state"], "in_progress");
    assert_eq!(
        before_events["contactId"],
        format!("contact-{id}"),
        "the batch's answer names the contact before any event: {before_events}"
    );

    let (feed, _) = broadcast::channel(16 * 1024);
    let cancel = CancellationToken::new();
    let mut sinks = Vec::new();
    for _ in 0..2 {
        let sink = EventSink {
            pool: db.daemon_pool().await,
            signals: Arc::new(Signals::default()),
            epoch: Utc::now(),
            retries: Default::default(),
        };
        sinks.push(tokio::spawn(sink.run(feed.subscribe(), cancel.clone())));
    }
    let start = Utc::now();
    let lifecycle = |agent: String| {
        [
            ContactEventKind::Initiated,
            ContactEventKind::PersonAnswered,
            ContactEventKind::Queued,
            ContactEventKind::ConnectedToAgent { agent_id: agent },
            ContactEventKind::Disconnected,
            ContactEventKind::Completed,
        ]
    };
    for (n, id) in ids.iter().enumerate() {
        for (step, kind) in lifecycle(format!("agent-{n}")).into_iter().enumerate() {
            let event = ContactEvent {
                contact_id: format!("contact-{id}"),
                // Some contact-center feeds name only the contact: every event of the even
                // contacts, every other event of the odd ones.
                request_identifier: (n % 2 == 1 && step % 2 == 0).then(|| id.to_string()),
                at: start + chrono::Duration::milliseconds((n * 10 + step) as i64),
                kind,
            };
            for _ in 0..2 {
                feed.send(event.clone()).unwrap();
            }
        }
    }

    let campaign_ref = &campaign;
    wait_for(
        "every contact completed",
        Duration::from_secs(30),
        || async {
            let completed: i64 = sqlx::query_scalar(
                "select count(*) from dial_request where campaign_id = $1 and state = 'completed'",
            )
            .bind(campaign_ref)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            (completed == CONTACTS as i64).then_some(())
        },
    )
    .await;
    // Let both sinks take every event and finish what they hold before counting.
    drop(feed);
    for sink in sinks {
        let ended = tokio::time::timeout(Duration::from_secs(30), sink)
            .await
            .expect("sinks end when their feed closes")
            .unwrap();
        ended.expect_err("a closed feed is a failure for the supervisor to restart from");
    }

    let rows: Vec<(String, Option<String>, serde_json::Value)> = sqlx::query_as(
        "select state::text, outcome, timeline from dial_request where id = any($1)",
    )
    .bind(&ids)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for (state, outcome, timeline) in &rows {
        assert_eq!(state, "completed");
        assert_eq!(outcome.as_deref(), Some("connected"));
        let kinds = timeline.as_object().map_or(0, |t| t.len());
        assert_eq!(kinds, 6, "one entry per event kind: {timeline}");
        assert!(
            timeline["connected_to_agent"]["detail"]
                .as_str()
                .is_some_and(|agent| agent.starts_with("agent-")),
            "the connection names its agent: {timeline}"
        );
    }
    let (answers, abandons): (i64, i64) = sqlx::query_as(
        "select coalesce(sum(person_answers), 0)::bigint, coalesce(sum(abandons), 0)::bigint
         from campaign_hourly where campaign_id = $1",
    )
    .bind(&campaign)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (answers, abandons),
        (CONTACTS as i64, 0),
        "each answer counted once"
    );

    // The status API shows the timeline in the order the events happened.
    let status = request_status(&app, &campaign, id).await;
    assert_eq!(status["state"], "completed");
    assert_eq!(status["outcome"], "connected");
    assert_eq!(status["contactId"], format!("contact-{id}"));
    assert_eq!(timeline_events(&status), CONNECTED_TIMELINE, "{status}");
    assert_eq!(status["timeline"][3]["agentId"], "agent-3", "{status}");
    cancel.cancel();
    app.shutdown().await.unwrap();
}

/// What the status API says of a request.
async fn request_status(app: &TestApp, campaign: &str, id: uuid::Uuid) -> serde_json::Value {
    app.dial_request_status(campaign, id).await.ok().clone()
}
