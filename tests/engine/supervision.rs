//! Background services are supervised: a scheduler that panics (here, on a contact center
//! whose agent metrics blow up a few times) is restarted with backoff, counted in
//! `dialer_service_restarts_total`, reported by `/readyz` while it is down, and the
//! campaign still completes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dialer::app::Hooks;
use dialer::contact_center::sim::store::PgSimLedger;
use dialer::contact_center::sim::SimContactCenter;
use dialer::contact_center::{
    Backend, BatchPutContactRequest, BatchPutContactResponse, ContactCenter, ContactCenterError,
    ContactEvent, ContactRef, ContactState, QueueMetrics, StartOutboundChatContactRequest,
    StartOutboundChatContactResponse,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::common::TestApp;
use crate::harness::{
    check_invariants, command, progressive_campaign, put_requests, wait_drained, wait_for, Knobs,
    TestDb,
};

/// The simulated center, except that its first `panics` agent-metric reads panic: a bug
/// that takes the scheduler down mid-pass.
struct Faulty {
    sim: Arc<SimContactCenter>,
    panics: AtomicU32,
}

#[async_trait]
impl ContactCenter for Faulty {
    async fn batch_put_contact(
        &self,
        req: BatchPutContactRequest,
    ) -> Result<BatchPutContactResponse, ContactCenterError> {
        self.sim.batch_put_contact(req).await
    }

    async fn queue_metrics(
        &self,
        instance_id: &str,
        queue_ids: &[String],
    ) -> Result<Vec<QueueMetrics>, ContactCenterError> {
        let left = self.panics.load(Ordering::SeqCst);
        if left > 0 {
            self.panics.store(left - 1, Ordering::SeqCst);
            panic!("injected: agent metrics blew up");
        }
        self.sim.queue_metrics(instance_id, queue_ids).await
    }

    fn subscribe(&self) -> broadcast::Receiver<ContactEvent> {
        self.sim.subscribe()
    }

    async fn describe_contacts(
        &self,
        instance_id: &str,
        contacts: &[ContactRef],
    ) -> Result<BTreeMap<String, ContactState>, ContactCenterError> {
        self.sim.describe_contacts(instance_id, contacts).await
    }

    async fn start_outbound_chat_contact(
        &self,
        req: StartOutboundChatContactRequest,
    ) -> Result<StartOutboundChatContactResponse, ContactCenterError> {
        self.sim.start_outbound_chat_contact(req).await
    }
}

async fn restarts(app: &TestApp) -> f64 {
    app.metric_sum("dialer_service_restarts_total{service=\"scheduler\"}")
        .await
}

async fn readyz(app: &TestApp) -> (u16, String) {
    let response = app
        .http
        .get(format!("{}/readyz", app.endpoint))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[sqlx::test]
async fn a_failing_scheduler_is_restarted_and_reported_while_down(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs::default();
    let config = knobs.config();
    let cancel = CancellationToken::new();
    let sim = Arc::new(
        SimContactCenter::new(
            config.contact_center.sim.clone(),
            Arc::new(PgSimLedger::new(db.pool.clone())),
            cancel.clone(),
        )
        .unwrap(),
    );
    let center = Arc::new(Faulty {
        sim: sim.clone(),
        panics: AtomicU32::new(3),
    });
    let hooks = Hooks {
        backend: Some(Backend {
            center: center.clone(),
            clock: sim.clone(),
            sim: Some(sim),
            connect: None,
        }),
        ..Hooks::default()
    };
    let app = TestApp::spawn_with_hooks(db.daemon_pool().await, config, hooks).await;
    // Other tests in this process may have restarted schedulers of their own.
    let before = restarts(&app).await;
    assert_eq!(readyz(&app).await.0, 200);

    let campaign = progressive_campaign(&app).await;
    let accepted = put_requests(&app, &campaign, "f", 40, |_| Duration::from_secs(3600)).await;
    command(&app, &campaign, "start").await;

    let (status, body) = wait_for(
        "/readyz to report the scheduler down",
        Duration::from_secs(10),
        || async {
            let (status, body) = readyz(&app).await;
            (status == 503).then_some((status, body))
        },
    )
    .await;
    assert!(body.contains("scheduler"), "{status} {body}");

    wait_drained(
        &db.pool,
        std::slice::from_ref(&campaign),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(center.panics.load(Ordering::SeqCst), 0);
    assert_eq!(restarts(&app).await - before, 3.0);
    assert_eq!(readyz(&app).await.0, 200);
    let findings = check_invariants(&db.pool, std::slice::from_ref(&campaign), &accepted).await;
    findings.assert_clean();
    assert_eq!(findings.contacted, 40, "{:?}", findings.breakdown);
    app.shutdown().await.unwrap();
    cancel.cancel();
}
