//! The engine tests' harness: daemon settings as TOML (one text for in-process daemons and
//! real `dialer serve` processes), real processes that can be killed with SIGKILL, pools on
//! the test database, polling with deadlines, and the invariant checks read from the
//! simulator's ClientToken ledger (`sim_ledger`) and the engine's tables.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dialer::config::Config;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{database_url, Client, TestApp, KEY_ID, SECRET};

/// The simulator's queue; campaigns with agents name it.
pub const SIM_QUEUE: &str = "sim-queue";

/// How often conditions are polled.
pub const POLL: Duration = Duration::from_millis(20);

/// Injected contact-center failures (`[contact_center.sim.faults]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub throttle: f64,
    pub internal_error: f64,
    pub timeout: f64,
    /// Model seconds a timed-out call hangs.
    pub timeout_secs: f64,
    pub item_throttle: f64,
    pub item_internal_error: f64,
}

impl Faults {
    /// Every kind of failure, each often enough to happen many times in a run.
    pub fn all() -> Faults {
        Faults {
            throttle: 0.1,
            internal_error: 0.1,
            timeout: 0.15,
            timeout_secs: 0.4,
            item_throttle: 0.1,
            item_internal_error: 0.1,
        }
    }
}

/// The settings the engine tests vary; everything else is fixed by [`Knobs::toml`].
#[derive(Debug, Clone)]
pub struct Knobs {
    pub seed: u64,
    /// Model seconds per wall second. Expirations, leases and the ledger's timestamps are on
    /// the wall (database) clock at any scale; call timing, pacing and the contact timeout
    /// run on the simulator's clock. At 1.0 (the tests' default) the two agree, so every
    /// setting here means wall seconds; call durations are made short instead.
    pub time_scale: f64,
    pub agents: u32,
    /// Talk plus wrap-up, uniform between these model seconds.
    pub handle_secs: (f64, f64),
    /// Dial to answer, uniform between these model seconds; fast failures (busy, invalid
    /// number) are known at the earliest answer time.
    pub answer_secs: (f64, f64),
    /// Unanswered calls give up after this many model seconds.
    pub ring_timeout_secs: f64,
    pub faults: Faults,
    pub tick_secs: f64,
    pub lease_ttl_secs: f64,
    pub call_timeout_secs: f64,
    pub contact_timeout_secs: f64,
    pub claim_expiry_margin_secs: f64,
    pub total_lines: u32,
    pub sms_messages_per_second: f64,
}

impl Knobs {
    /// The shipped engine settings (`EngineConfig::default()`: lease TTL, tick, call and
    /// contact timeouts, lines), with the simulator's call times left to the test: restart
    /// behaviour must hold with these, not only with short test timeouts.
    pub fn shipped_engine() -> Knobs {
        let engine = dialer::engine::EngineConfig::default();
        Knobs {
            tick_secs: engine.tick_secs,
            lease_ttl_secs: engine.lease_ttl_secs,
            call_timeout_secs: engine.call_timeout_secs,
            contact_timeout_secs: engine.contact_timeout_secs,
            claim_expiry_margin_secs: engine.claim_expiry_margin_secs,
            total_lines: engine.total_lines,
            ..Knobs::default()
        }
    }
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            seed: 7,
            time_scale: 1.0,
            agents: 4,
            handle_secs: (0.1, 0.4),
            answer_secs: (0.05, 0.3),
            ring_timeout_secs: 0.4,
            faults: Faults::default(),
            tick_secs: 0.1,
            lease_ttl_secs: 1.0,
            call_timeout_secs: 1.0,
            contact_timeout_secs: 4.0,
            claim_expiry_margin_secs: 1.0,
            total_lines: 10,
            sms_messages_per_second: 100.0,
        }
    }
}

impl Knobs {
    /// The whole daemon configuration file.
    pub fn toml(&self) -> String {
        let f = &self.faults;
        let timeout_secs = if f.timeout_secs > 0.0 {
            f.timeout_secs
        } else {
            1.0
        };
        format!(
            r#"
[server]
listen = "127.0.0.1:0"

[auth]
access_keys = ["{KEY_ID}:{SECRET}"]

[throttling.default]
per_second = 10000.0
burst = 10000

[log]
level = "info"

[queue]
sweep_interval_secs = 0.2

[engine]
tick_secs = {tick}
lease_ttl_secs = {ttl}
call_timeout_secs = {call_timeout}
retry_base_secs = 0.05
retry_max_secs = 0.4
contact_timeout_secs = {contact_timeout}
claim_expiry_margin_secs = {margin}
total_lines = {lines}
sms_messages_per_second = {sms_rate}

[contact_center.sim]
seed = {seed}
time_scale = {scale}

[[contact_center.sim.queues]]
queue_id = "{SIM_QUEUE}"
agents = {agents}
handle_time = {{ model = "split", total = {{ dist = "uniform", min_secs = {h0}, max_secs = {h1} }}, wrap_share = 0.2 }}

[contact_center.sim.customers]
answer_probability = 0.6
fail_fast_probability = 0.15
fail_fast_secs = {fail_fast}
answer_delay = {{ dist = "uniform", min_secs = {a0}, max_secs = {a1} }}
ring_timeout_secs = {ring}

[contact_center.sim.faults]
throttle_probability = {throttle}
internal_error_probability = {internal}
timeout_probability = {timeout}
timeout_secs = {timeout_secs}
item_throttle_probability = {item_throttle}
item_internal_error_probability = {item_internal}
"#,
            tick = self.tick_secs,
            ttl = self.lease_ttl_secs,
            call_timeout = self.call_timeout_secs,
            contact_timeout = self.contact_timeout_secs,
            margin = self.claim_expiry_margin_secs,
            lines = self.total_lines,
            sms_rate = self.sms_messages_per_second,
            seed = self.seed,
            scale = self.time_scale,
            agents = self.agents,
            h0 = self.handle_secs.0,
            h1 = self.handle_secs.1,
            a0 = self.answer_secs.0,
            a1 = self.answer_secs.1,
            ring = self.ring_timeout_secs,
            fail_fast = self.answer_secs.0,
            throttle = f.throttle,
            internal = f.internal_error,
            timeout = f.timeout,
            item_throttle = f.item_throttle,
            item_internal = f.item_internal_error,
        )
    }

    /// The same settings as an in-process configuration.
    pub fn config(&self) -> Config {
        let config = Config::from_toml(&self.toml(), Path::new("engine-test.toml"))
            .expect("test settings parse");
        let problems = config.validate();
        assert!(problems.is_empty(), "test settings invalid: {problems:?}");
        config
    }
}

/// The test's database: its connect options (from `#[sqlx::test]`), a pool for the test's
/// own reads, and a URL for daemons started as processes.
pub struct TestDb {
    pub connect: PgConnectOptions,
    pub pool: PgPool,
    pub url: String,
}

impl TestDb {
    pub async fn new(connect: PgConnectOptions) -> TestDb {
        let name = connect
            .get_database()
            .expect("sqlx::test names its database")
            .to_string();
        let pool = TestDb::pool_on(&connect, 4).await;
        TestDb {
            url: database_url(&name),
            connect,
            pool,
        }
    }

    /// The database a URL names (a cluster the test runs itself).
    pub async fn on_url(url: &str) -> TestDb {
        let connect: PgConnectOptions = url.parse().expect("a postgres URL");
        TestDb {
            pool: TestDb::pool_on(&connect, 4).await,
            url: url.to_string(),
            connect,
        }
    }

    async fn pool_on(connect: &PgConnectOptions, n: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(n)
            .connect_with(dialer::db::session_options(connect.clone()))
            .await
            .expect("connect to the test database")
    }

    /// A pool of its own, as a separate daemon would have.
    pub async fn daemon_pool(&self) -> PgPool {
        TestDb::pool_on(&self.connect, 12).await
    }

    /// An in-process daemon with its own pool.
    pub async fn app(&self, knobs: &Knobs) -> TestApp {
        TestApp::spawn_with(self.daemon_pool().await, knobs.config()).await
    }
}

/// A `dialer serve` process on the test database. Dropping it kills it with SIGKILL.
pub struct Daemon {
    child: tokio::process::Child,
    pub client: Client,
    pub log: PathBuf,
}

static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Daemon {
    /// Starts the binary and waits until it answers `/healthz`.
    pub async fn start(db: &TestDb, knobs: &Knobs) -> Daemon {
        Daemon::start_with(db, &knobs.toml(), free_port(), &[]).await
    }

    /// `dialer serve` with this configuration file, on `port`, with extra environment.
    pub async fn start_with(db: &TestDb, toml: &str, port: u16, env: &[(&str, String)]) -> Daemon {
        Daemon::launch(
            db,
            "serve",
            &["--listen", &format!("127.0.0.1:{port}")],
            toml,
            port,
            env,
        )
        .await
    }

    /// Any `dialer` subcommand that serves HTTP on `port`, with `--config` written from `toml`.
    pub async fn launch(
        db: &TestDb,
        subcommand: &str,
        args: &[&str],
        toml: &str,
        port: u16,
        env: &[(&str, String)],
    ) -> Daemon {
        let dir = std::env::temp_dir().join("dialer-engine-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stem = format!(
            "{}-{}-{n}-{subcommand}",
            db.connect.get_database().unwrap_or("db"),
            std::process::id()
        );
        let config = dir.join(format!("{stem}.toml"));
        std::fs::write(&config, toml).unwrap();
        let log = dir.join(format!("{stem}.log"));
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dialer"));
        command
            .arg(subcommand)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env_remove("RUST_LOG")
            .env_remove("DIALER_ACCESS_KEYS")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start the dialer binary");
        let mut daemon = Daemon {
            child,
            client: Client::new(format!("http://127.0.0.1:{port}")),
            log,
        };
        daemon.wait_healthy().await;
        daemon
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("dialer exited at start with {status}; see {:?}", self.log);
            }
            let health = self
                .client
                .http
                .get(format!("{}/healthz", self.client.endpoint))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dialer not healthy after 30 s; see {:?}",
                self.log
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The process id, which starts the daemon's lease owner name.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the daemon is running")
    }

    /// `kill -9`, and waits for the process to be gone.
    pub async fn kill9(mut self) {
        self.child.start_kill().expect("SIGKILL the daemon");
        self.child.wait().await.expect("reap the daemon");
    }

    /// SIGTERM, as an orderly stop or a rolling upgrade sends it; waits for the exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the daemon exits within 30 s of SIGTERM")
            .expect("reap the daemon")
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Polls `check` until it yields `Some`, failing with `what` after `limit`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// An agentless campaign (`dialingCapacity` of all lines) calling from a system number.
pub async fn agentless_campaign(client: &Client) -> String {
    client
        .create_campaign_with(
            json!({"agentlessDialerConfig": {"dialingCapacity": 1.0}}),
            json!({"connectContactFlowId": "flow-1", "connectSourcePhoneNumber": "+14155550100"}),
        )
        .await
}

/// A progressive campaign on the simulator's queue with all its agents.
pub async fn progressive_campaign(client: &Client) -> String {
    client
        .create_campaign_with(
            json!({"progressiveDialerConfig": {"bandwidthAllocation": 1.0}}),
            json!({"connectContactFlowId": "flow-1", "connectQueueId": SIM_QUEUE}),
        )
        .await
}

pub async fn command(client: &Client, campaign: &str, command: &str) {
    client
        .call("POST", &format!("/campaigns/{campaign}/{command}"), None)
        .await
        .ok();
}

/// Puts `n` requests in batches of 25, expiring `expires_in(i)` from now, and returns the
/// ids of those the API accepted (the acknowledged requests).
pub async fn put_requests(
    client: &Client,
    campaign: &str,
    prefix: &str,
    n: usize,
    expires_in: impl Fn(usize) -> Duration,
) -> Vec<Uuid> {
    let mut accepted = Vec::with_capacity(n);
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let expiration = Utc::now() + chrono::Duration::from_std(expires_in(i)).unwrap();
            json!({
                "clientToken": format!("{prefix}-{i}"),
                "phoneNumber": format!("+1415555{:04}", i % 10_000),
                "expirationTime": expiration.to_rfc3339(),
                "attributes": {"customerId": format!("{prefix}-{i}")},
            })
        })
        .collect();
    for chunk in items.chunks(25) {
        let answer = client.put_dial_requests(campaign, json!(chunk)).await;
        let body = answer.ok();
        assert_eq!(
            body["failedRequests"].as_array().map(Vec::len),
            Some(0),
            "{body}"
        );
        for item in body["successfulRequests"].as_array().unwrap() {
            accepted.push(Uuid::parse_str(item["id"].as_str().unwrap()).unwrap());
        }
    }
    accepted
}

/// Requests of the campaigns not yet in a terminal state, plus contact batches whose
/// outcome is not recorded yet (a request can end through its contact's events before the
/// BatchPutContact answer that names the contact is recorded).
pub async fn unfinished(pool: &PgPool, campaigns: &[String]) -> i64 {
    sqlx::query_scalar(
        "select (select count(*) from dial_request
                 where campaign_id = any($1) and state in ('pending', 'in_progress'))
              + (select count(*) from contact_batch
                 where campaign_id = any($1) and resolved_at is null)",
    )
    .bind(campaigns)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Requests of the campaigns in progress whose contact exists: calls under way.
pub async fn calls_open(pool: &PgPool, campaigns: &[String]) -> i64 {
    sqlx::query_scalar(
        "select count(*) from dial_request d
         where campaign_id = any($1) and state = 'in_progress' and dial_request_contact_id(d) is not null",
    )
    .bind(campaigns)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Waits until every request of the campaigns is terminal and every batch resolved; a
/// timeout says what is left.
pub async fn wait_drained(pool: &PgPool, campaigns: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    while unfinished(pool, campaigns).await > 0 {
        if Instant::now() >= deadline {
            panic!(
                "timed out after {limit:?}: requests of {campaigns:?} to reach a terminal state; left: {:?}",
                unfinished_detail(pool, campaigns).await
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The requests and batches [`unfinished`] counts, grouped by what a stall would show:
/// request state, phase, whether their backoff is ahead, their batch's attempts and its
/// next re-send, all relative to now.
async fn unfinished_detail(pool: &PgPool, campaigns: &[String]) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select 'request ' || d.state::text || '/' || coalesce(d.contact_phase::text, '-')
                || ' not_before ' || case when d.not_before > now() then 'ahead' else 'passed or none' end
                || ' batch ' || case when b.id is null then 'none' when b.resolved_at is null then 'open' else 'resolved' end
                || ' attempts ' || coalesce(b.attempts::text, '-')
                || ' next in ' || coalesce(round(extract(epoch from b.next_attempt_at - now()))::text || ' s', '-'),
                count(*)
         from dial_request d left join contact_batch b on b.id = d.batch_id
         where d.campaign_id = any($1) and d.state in ('pending', 'in_progress')
         group by 1
         union all
         select 'open batch with ' || cardinality(request_ids) || ' requests, attempts ' || attempts
                || ', next in ' || coalesce(round(extract(epoch from next_attempt_at - now()))::text || ' s', '-'),
                count(*)
         from contact_batch
         where campaign_id = any($1) and resolved_at is null
         group by 1",
    )
    .bind(campaigns)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// Requests per state.
pub async fn states(pool: &PgPool, campaigns: &[String]) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select state::text, count(*) from dial_request where campaign_id = any($1) group by state",
    )
    .bind(campaigns)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// Requests per state, reason and outcome (e.g. `expired/EXPIRED/-`), for messages.
pub async fn breakdown(pool: &PgPool, campaigns: &[String]) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select state::text || '/' || coalesce(reason, '-') || '/' || coalesce(outcome, '-'),
                count(*)
         from dial_request where campaign_id = any($1) group by 1",
    )
    .bind(campaigns)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// A contact the simulator created, from its ledger.
#[derive(Debug, Clone)]
pub struct SimContact {
    pub contact_id: String,
    pub client_token: String,
    /// When the simulator recorded the batch, just before it dialed.
    pub recorded_at: DateTime<Utc>,
}

/// Everything the simulator's ledger says it created, per dial request id.
pub async fn sim_contacts(pool: &PgPool) -> HashMap<Uuid, Vec<SimContact>> {
    let rows: Vec<(String, DateTime<Utc>, String, String)> = sqlx::query_as(
        "select l.client_token, l.created_at, s->>'RequestIdentifier', s->>'ContactId'
         from sim_ledger l, jsonb_array_elements(l.entry->'response'->'SuccessfulRequestList') s",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut contacts: HashMap<Uuid, Vec<SimContact>> = HashMap::new();
    for (client_token, recorded_at, request, contact_id) in rows {
        let id = Uuid::parse_str(&request).expect("RequestIdentifier is a dial request id");
        contacts.entry(id).or_default().push(SimContact {
            contact_id,
            client_token,
            recorded_at,
        });
    }
    contacts
}

/// What [`check_invariants`] found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Broken invariants, one line each.
    pub violations: Vec<String>,
    /// Dial requests with a contact in the simulator.
    pub contacted: usize,
    /// Requests per state.
    pub states: BTreeMap<String, i64>,
    /// Requests per state, reason and outcome.
    pub breakdown: BTreeMap<String, i64>,
    /// The history of the first few requests involved in a violation.
    pub histories: Vec<String>,
}

impl Findings {
    #[track_caller]
    pub fn assert_clean(&self) {
        let shown: Vec<&String> = self.violations.iter().take(20).collect();
        assert!(
            self.violations.is_empty(),
            "{} invariant violations (first 20):\n{}\nrequests: {:?}\n{}",
            self.violations.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            self.breakdown,
            self.histories.join("\n")
        );
    }
}

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: Uuid,
    state: String,
    contact_id: Option<String>,
    expires_at: DateTime<Utc>,
    /// The contacts of its earlier attempts (retries by outcome).
    past_contacts: Vec<String>,
}

/// Checks invariants 1 to 3 over every request of `campaigns`:
/// 1. at most one contact per attempt of a dial request in the simulator, across every
///    ClientToken ever sent: the contacts of its earlier attempts (retries by outcome), each
///    known to the simulator, and one more at most, which the request records (and none the
///    simulator lacks);
/// 2. no contact was created after its request's expiration;
/// 3. every acknowledged request (`accepted`) exists and is terminal.
pub async fn check_invariants(pool: &PgPool, campaigns: &[String], accepted: &[Uuid]) -> Findings {
    let sim = sim_contacts(pool).await;
    let rows: Vec<RequestRow> = sqlx::query_as(
        "select id, state::text as state, contact_id, expires_at,
                array(select h ->> 'contactId' from jsonb_array_elements(attempt_history) h) as past_contacts
         from dial_request where campaign_id = any($1)",
    )
    .bind(campaigns)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut findings = Findings {
        states: states(pool, campaigns).await,
        breakdown: breakdown(pool, campaigns).await,
        ..Findings::default()
    };
    let mut suspects: Vec<Uuid> = Vec::new();
    let v = &mut findings.violations;
    let by_id: HashMap<Uuid, &RequestRow> = rows.iter().map(|r| (r.id, r)).collect();
    for id in sim.keys() {
        if !by_id.contains_key(id) {
            v.push(format!("simulator contact for unknown request {id}"));
        }
    }
    for row in &rows {
        let all = sim.get(&row.id).map(Vec::as_slice).unwrap_or_default();
        let before = v.len();
        for past in &row.past_contacts {
            if !all.iter().any(|c| &c.contact_id == past) {
                v.push(format!(
                    "request {} had an attempt with contact {past} the simulator never created",
                    row.id
                ));
            }
        }
        // The current attempt's contacts: what the earlier attempts did not create.
        let contacts: Vec<SimContact> = all
            .iter()
            .filter(|c| !row.past_contacts.contains(&c.contact_id))
            .cloned()
            .collect();
        let distinct: HashSet<&str> = contacts.iter().map(|c| c.contact_id.as_str()).collect();
        if distinct.len() > 1 {
            let tokens: Vec<&str> = contacts.iter().map(|c| c.client_token.as_str()).collect();
            v.push(format!(
                "request {} has {} contacts in the simulator (tokens {tokens:?})",
                row.id,
                distinct.len()
            ));
        }
        // With several contacts the request is already in violation; with one, it must be
        // the one the request records.
        let only = (distinct.len() == 1).then(|| contacts[0].contact_id.as_str());
        match (only, row.contact_id.as_deref()) {
            (Some(sim), recorded) if recorded != Some(sim) => v.push(format!(
                "request {} ({}) records contact {recorded:?}, the simulator created {sim}",
                row.id, row.state
            )),
            (None, Some(recorded)) if contacts.is_empty() => v.push(format!(
                "request {} records contact {recorded} the simulator never created",
                row.id
            )),
            _ => {}
        }
        for contact in all {
            if contact.recorded_at > row.expires_at {
                v.push(format!(
                    "request {} got contact {} at {}, after its expiration {} (by {} ms)",
                    row.id,
                    contact.contact_id,
                    contact.recorded_at,
                    row.expires_at,
                    (contact.recorded_at - row.expires_at).num_milliseconds()
                ));
            }
        }
        if v.len() > before {
            suspects.push(row.id);
        }
        if !all.is_empty() {
            findings.contacted += 1;
        }
    }
    for id in accepted {
        match by_id.get(id) {
            None => v.push(format!("acknowledged request {id} is gone")),
            Some(row) if matches!(row.state.as_str(), "pending" | "in_progress") => {
                v.push(format!("acknowledged request {id} is still {}", row.state))
            }
            Some(_) => {}
        }
    }
    for id in suspects.into_iter().take(3) {
        findings.histories.push(history(pool, id).await);
    }
    findings
}

/// Everything the database knows about one request (never its number or attributes), for a
/// failure message.
pub async fn history(pool: &PgPool, id: Uuid) -> String {
    let (request, batches, ledger, events): (Value, Value, Value, Value) = sqlx::query_as(
        "select
             (select to_jsonb(d) - 'phone_number' - 'attributes' - 'digest'
              from dial_request d where d.id = $1),
             (select coalesce(jsonb_agg(to_jsonb(b) - 'request' - 'request_ids' order by b.created_at), '[]')
              from contact_batch b where $1 = any(b.request_ids)),
             (select coalesce(jsonb_agg(jsonb_build_object('token', l.client_token,
                                                           'recorded', l.created_at,
                                                           'item', item) order by l.created_at), '[]')
              from sim_ledger l,
                   jsonb_array_elements(coalesce(l.entry->'response'->'SuccessfulRequestList', '[]')
                                        || coalesce(l.entry->'response'->'FailedRequestList', '[]')) item
              where item->>'RequestIdentifier' = $1::text),
             (select timeline from dial_request where id = $1)",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    format!(
        "history of {id}:\n  request: {request}\n  batches: {batches}\n  ledger: {ledger}\n  events: {events}"
    )
}

/// How much the run exercised the retry paths, so a test can insist that it did.
#[derive(Debug, Default)]
pub struct Exercise {
    /// Batches sent more than once (timeouts, whole-call failures, takeovers).
    pub resent_batches: i64,
    /// Requests claimed more than once (per-item failures).
    pub reclaimed_requests: i64,
    /// Items the simulator refused as throttled or failed.
    pub failed_items: i64,
}

pub async fn exercise(pool: &PgPool) -> Exercise {
    let resent_batches =
        sqlx::query_scalar("select count(*) from contact_batch where attempts > 1")
            .fetch_one(pool)
            .await
            .unwrap();
    let reclaimed_requests =
        sqlx::query_scalar("select count(*) from dial_request where attempts > 1")
            .fetch_one(pool)
            .await
            .unwrap();
    let failed_items = sqlx::query_scalar(
        "select count(*) from sim_ledger l,
             jsonb_array_elements(l.entry->'response'->'FailedRequestList') f
         where f->>'FailureReasonCode' in ('REQUEST_THROTTLED', 'INTERNAL_ERROR')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    Exercise {
        resent_batches,
        reclaimed_requests,
        failed_items,
    }
}

/// The campaign's lease: (owner, fence).
pub async fn lease(pool: &PgPool, campaign: &str) -> Option<(String, i64)> {
    sqlx::query_as("select owner, fence from campaign_lease where campaign_id = $1")
        .bind(campaign)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Which of `daemons` holds the campaign's lease.
pub async fn holder(pool: &PgPool, campaign: &str, daemons: &[Daemon]) -> usize {
    wait_for(
        "a daemon to hold the lease",
        Duration::from_secs(30),
        || async {
            let (owner, _) = lease(pool, campaign).await?;
            daemons
                .iter()
                .position(|d| owner.starts_with(&format!("{}-", d.pid())))
        },
    )
    .await
}
