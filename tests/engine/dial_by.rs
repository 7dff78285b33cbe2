//! Calling hours hold at every call, not only at the claim: a batch claimed a minute before
//! its requests' hours close, whose call fails and is re-sent after the close, dials nobody
//! then; its requests go back to the queue, wait for their hours and are dialed once when
//! they open. A first call that took effect before the close (and timed out) is learned by
//! the re-send, not repeated. The engine's claim and dispatch run here on a virtual clock
//! (the daemon's engine is off), so the hours close when the test says; the simulated center
//! of the first call throttles it, or takes it and times out, and every center shares the
//! one ClientToken ledger in which contacts are counted.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use dialer::campaigns::channels::{OpenHours, TimeRange, TimeWindow};
use dialer::clock::VirtualClock;
use dialer::config::Config;
use dialer::contact_center::sim::store::PgSimLedger;
use dialer::contact_center::sim::SimContactCenter;
use dialer::engine::batch::{Batch, BatchTemplate};
use dialer::engine::dispatch::{DispatchReport, Dispatcher};
use dialer::engine::store::{batch_claim, batch_due_many, ClaimScope, Claimed};
use dialer::rules::window::{CommunicationTime, Window, DAYS};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::TestApp;
use crate::harness::{agentless_campaign, command, put_requests, sim_contacts, Knobs, TestDb};

const REQUESTS: usize = 5;
const OWNER: &str = "dial-by-test";

/// 09:00-17:00 every day, in the recipient's zone: the requests' numbers (415) are in Los
/// Angeles.
fn nine_to_five() -> Arc<CommunicationTime> {
    let daily = DAYS
        .iter()
        .map(|day| {
            let range = TimeRange {
                start_time: "T09:00".into(),
                end_time: "T17:00".into(),
            };
            (day.to_string(), vec![range])
        })
        .collect();
    Arc::new(CommunicationTime {
        window: Window::compile(&TimeWindow {
            open_hours: OpenHours::DailyHours(daily),
            restricted_periods: None,
        })
        .unwrap(),
        default_zone: None,
        zone_attribute: "timeZone".into(),
    })
}

/// `h:m:s` on `day` in Los Angeles.
fn local(day: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(h, m, s).unwrap();
    Los_Angeles
        .from_local_datetime(&day.and_time(time))
        .single()
        .unwrap()
        .to_utc()
}

/// A campaign with requests expiring in three days, its lease held by the test, and the
/// engine's parts around it.
struct Rig {
    db: TestDb,
    app: TestApp,
    config: Config,
    campaign: String,
    ids: Vec<Uuid>,
    clock: Arc<VirtualClock>,
    template: BatchTemplate,
    cancel: CancellationToken,
    /// Tomorrow in Los Angeles, when the hours close at 17:00 with the batch in flight.
    day: NaiveDate,
}

impl Rig {
    async fn new(connect: PgConnectOptions) -> Rig {
        let db = TestDb::new(connect).await;
        let mut config = Knobs::default().config();
        config.engine.enabled = false;
        let app = TestApp::spawn_with(db.daemon_pool().await, config.clone()).await;
        let campaign = agentless_campaign(&app).await;
        let ids = put_requests(&app, &campaign, "h", REQUESTS, |_| {
            Duration::from_secs(3 * 24 * 3600)
        })
        .await;
        command(&app, &campaign, "start").await;
        let instance_id: String =
            sqlx::query_scalar("select connect_instance_id from campaign where id = $1")
                .bind(&campaign)
                .fetch_one(&db.pool)
                .await
                .unwrap();
        sqlx::query(
            "insert into campaign_lease (campaign_id, owner, fence, expires_at)
             values ($1, $2, 1, now() + interval '1 hour')",
        )
        .bind(&campaign)
        .bind(OWNER)
        .execute(&db.pool)
        .await
        .unwrap();
        let day = Utc::now().with_timezone(&Los_Angeles).date_naive() + chrono::Days::new(1);
        Rig {
            db,
            app,
            config,
            campaign,
            ids,
            clock: Arc::new(VirtualClock::new(Utc::now())),
            template: BatchTemplate {
                instance_id,
                queue_id: None,
                contact_flow_id: "flow-1".into(),
                source_phone_number: Some("+14155550100".into()),
                answer_machine_detection: false,
                sms: None,
            },
            cancel: CancellationToken::new(),
            day,
        }
    }

    /// A simulated center on the shared ledger, with `faults` applied to its settings.
    fn center(
        &self,
        faults: impl FnOnce(&mut dialer::contact_center::sim::model::SimConfig),
    ) -> Dispatcher {
        let mut sim_config = self.config.contact_center.sim.clone();
        faults(&mut sim_config);
        let sim = Arc::new(
            SimContactCenter::new(
                sim_config,
                Arc::new(PgSimLedger::new(self.db.pool.clone())),
                self.cancel.clone(),
            )
            .unwrap(),
        );
        Dispatcher {
            pool: self.db.pool.clone(),
            center: sim.clone(),
            clock: self.clock.clone(),
            center_clock: sim,
            config: Arc::new(self.config.engine.clone()),
            owner: OWNER.into(),
            calls: Arc::new(tokio::sync::Semaphore::new(4)),
        }
    }

    /// A claim of every request at `now`, under the hours.
    async fn claim(&self, now: DateTime<Utc>) -> Claimed {
        self.clock.advance_to(now);
        let scope = ClaimScope {
            campaign_id: self.campaign.clone(),
            owner: OWNER.into(),
            fence: 1,
            now,
            dialed_at: now,
            margin: chrono::Duration::seconds(1),
            call_timeout: chrono::Duration::seconds(10),
            template: self.template.clone(),
            communication_time: Some(nine_to_five()),
            abandoned_quiet: chrono::Duration::hours(72),
        };
        batch_claim(&self.db.pool, &scope, REQUESTS as i64)
            .await
            .unwrap()
    }

    /// The batches due for a re-send at `now`.
    async fn due(&self, now: DateTime<Utc>) -> Vec<Batch> {
        self.clock.advance_to(now);
        batch_due_many(
            &self.db.pool,
            &self.campaign,
            OWNER,
            1,
            now,
            chrono::Duration::seconds(10),
        )
        .await
        .unwrap()
    }

    /// Each request's state, reason and `not_before`.
    async fn requests(&self) -> Vec<(String, Option<String>, Option<DateTime<Utc>>)> {
        sqlx::query_as(
            "select state::text, reason, not_before from dial_request where id = any($1) order by id",
        )
        .bind(&self.ids)
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }

    /// A rig whose requests were claimed at 16:59 in Los Angeles, a minute before their hours
    /// close, into one batch not sent yet.
    async fn claimed_before_the_close(connect: PgConnectOptions) -> (Rig, Batch) {
        let rig = Rig::new(connect).await;
        let batch = only_batch(rig.claim(local(rig.day, 16, 59, 0)).await);
        (rig, batch)
    }

    /// Half a minute after the hours closed.
    fn after_the_close(&self) -> DateTime<Utc> {
        local(self.day, 17, 0, 30)
    }

    async fn end(self) {
        self.app.shutdown().await.unwrap();
        self.cancel.cancel();
    }
}

/// The one batch a claim took, with every request.
fn only_batch(claimed: Claimed) -> Batch {
    let [batch] = <[Batch; 1]>::try_from(claimed.batches).expect("one batch");
    assert_eq!(batch.items.len(), REQUESTS);
    batch
}

/// The contacts of every request (by request, sorted), from the simulator's ledger.
async fn contacts(pool: &PgPool) -> Vec<(Uuid, usize)> {
    let mut found: Vec<(Uuid, usize)> = sim_contacts(pool)
        .await
        .into_iter()
        .map(|(id, contacts)| (id, contacts.len()))
        .collect();
    found.sort();
    found
}

fn once_each(ids: &[Uuid]) -> Vec<(Uuid, usize)> {
    let mut expected: Vec<(Uuid, usize)> = ids.iter().map(|id| (*id, 1)).collect();
    expected.sort();
    expected
}

#[sqlx::test]
async fn a_batch_resent_after_its_hours_closed_dials_nobody_and_its_requests_wait_for_them(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (rig, batch) = Rig::claimed_before_the_close(connect).await;
    let day = rig.day;
    // Open at 16:59, to be dialed by 17:00 there.
    let close = local(day, 17, 0, 0);
    assert!(batch.items.iter().all(|item| item.dial_by == close));
    let throttled = rig
        .center(|sim| sim.faults.throttle_probability = 1.0)
        .dispatch(&batch, 1)
        .await
        .unwrap();
    assert!(throttled.postponed, "{throttled:?}");

    // Re-sent after the close: nobody is dialed, and every request is back in the queue.
    let resent_at = rig.after_the_close();
    let center = rig.center(|_| {});
    let [resend] = <[Batch; 1]>::try_from(rig.due(resent_at).await).unwrap();
    assert_eq!(resend.attempts, 1);
    let report: DispatchReport = center.dispatch(&resend, 1).await.unwrap();
    assert!(report.created.is_empty(), "{report:?}");
    assert_eq!(report.retried, REQUESTS);
    assert!(
        contacts(&rig.db.pool).await.is_empty(),
        "dialed after the close"
    );
    let waiting = (
        "pending".to_string(),
        Some("DIAL_BY_PASSED".into()),
        Some(resent_at),
    );
    assert_eq!(rig.requests().await, vec![waiting; REQUESTS]);

    // The next claim finds the hours closed: they wait for 09:00 the next day.
    let next_day = day + chrono::Days::new(1);
    let opens = local(next_day, 9, 0, 0);
    let closed = rig.claim(resent_at).await;
    assert!(closed.batches.is_empty());
    assert_eq!(closed.waiting, REQUESTS as u64);
    let parked = (
        "pending".to_string(),
        Some("DIAL_BY_PASSED".into()),
        Some(opens),
    );
    assert_eq!(rig.requests().await, vec![parked; REQUESTS]);

    // At 09:00 they are claimed and dialed, once each.
    let batch = only_batch(rig.claim(opens).await);
    assert_ne!(batch.client_token, resend.client_token);
    let report = center.dispatch(&batch, 1).await.unwrap();
    assert_eq!(report.created.len(), REQUESTS, "{report:?}");
    assert_eq!(contacts(&rig.db.pool).await, once_each(&rig.ids));
    let verdicts: Vec<String> = sqlx::query_scalar(
        "select verdict::text from rule_decision where request_id = $1 order by seq",
    )
    .bind(rig.ids[0])
    .fetch_all(&rig.db.pool)
    .await
    .unwrap();
    assert_eq!(verdicts, ["dial", "wait", "dial"]);
    rig.end().await;
}

#[sqlx::test]
async fn a_first_call_that_took_effect_before_the_close_is_learned_not_repeated(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (rig, batch) = Rig::claimed_before_the_close(connect).await;
    // The call creates the contacts, then its answer is lost.
    let timed_out = rig
        .center(|sim| {
            sim.faults.timeout_probability = 1.0;
            sim.faults.timeout_secs = 0.1;
        })
        .dispatch(&batch, 1)
        .await
        .unwrap();
    assert!(timed_out.postponed, "{timed_out:?}");
    assert_eq!(contacts(&rig.db.pool).await, once_each(&rig.ids));

    // The re-send after the close learns those contacts and makes no other.
    let [resend] = <[Batch; 1]>::try_from(rig.due(rig.after_the_close()).await).unwrap();
    let report = rig.center(|_| {}).dispatch(&resend, 1).await.unwrap();
    assert_eq!(report.created.len(), REQUESTS, "{report:?}");
    assert_eq!(contacts(&rig.db.pool).await, once_each(&rig.ids));
    let states: Vec<String> = rig.requests().await.into_iter().map(|r| r.0).collect();
    assert_eq!(states, vec!["in_progress".to_string(); REQUESTS]);
    rig.end().await;
}

#[sqlx::test]
async fn a_batch_first_sent_after_its_hours_closed_is_not_sent(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (rig, batch) = Rig::claimed_before_the_close(connect).await;
    // The call slot came late: the hours closed before the first call.
    rig.clock.advance_to(rig.after_the_close());
    let report = rig.center(|_| {}).dispatch(&batch, 1).await.unwrap();
    assert!(report.created.is_empty(), "{report:?}");
    assert!(contacts(&rig.db.pool).await.is_empty());
    let waiting = (
        "pending".to_string(),
        Some("DIAL_BY_PASSED".into()),
        Some(rig.after_the_close()),
    );
    assert_eq!(rig.requests().await, vec![waiting; REQUESTS]);
    rig.end().await;
}
