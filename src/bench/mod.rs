//! Benchmarks behind `dialer bench`. Each prints its figures and, as its last line, a ratio
//! against a baseline measured in the same run, so results compare across machines.
//!
//! Benchmarks that load bulk data run in a [`ScratchDatabase`](crate::db::scratch::ScratchDatabase) of their own, dropped at the
//! end, so they leave nothing behind and no other campaign on the server interferes.

pub mod backlog;
pub mod dispatch;
pub mod ingest;
pub mod mixed;
pub mod pacing_wire;
pub mod soak;

use anyhow::Context;
use clap::Subcommand;
use sqlx::PgPool;

use crate::accounts::AccountId;
use crate::campaigns::{
    ArnScheme, CampaignSettings, CampaignState, DialerConfig, NewCampaign, OutboundCallConfig,
};
use crate::config::ACCOUNT_ID_DEFAULT;
use crate::queue::store::campaign_pending_add;

/// A benchmark to run.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// PutDialRequestBatch over signed HTTP versus the same rows inserted with plain SQL.
    Ingest(ingest::IngestArgs),
    /// Contacts created per second from a preloaded backlog versus the bare claim SQL, and
    /// the agent-free to contact-created latency.
    Dispatch(dispatch::DispatchArgs),
    /// Claim latency with a small versus a large backlog, half of it expired and unswept.
    Backlog(backlog::BacklogArgs),
    /// Ingest, dialing and retention at once for minutes: do the tables level off?
    Soak(soak::SoakArgs),
    /// Agent-free to contact latency of a progressive campaign, alone and while dial
    /// requests upload into other campaigns at full speed.
    Mixed(mixed::MixedArgs),
    /// The README's pacing table with the engine driving the Connect emulator over HTTP,
    /// against `dialer simulate` of the same shift.
    PacingWire(pacing_wire::PacingWireArgs),
}

/// Runs a benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Dispatch(args) => dispatch::run(args).await,
        BenchCommand::Backlog(args) => backlog::run(args).await,
        BenchCommand::Soak(args) => soak::run(args).await,
        BenchCommand::Mixed(args) => mixed::run(args).await,
        BenchCommand::PacingWire(args) => pacing_wire::run(args).await,
    }
}

/// A daemon served in this process, as `serve` runs it (API, engine, sweeper), on a pool
/// the benchmark owns.
pub struct InProcessDaemon {
    /// `http://HOST:PORT` of its API.
    pub endpoint: String,
    /// The config it runs with.
    pub config: std::sync::Arc<crate::config::Config>,
    cancel: tokio_util::sync::CancellationToken,
    server: tokio::task::JoinHandle<Result<(), crate::app::AppError>>,
}

impl InProcessDaemon {
    /// Starts it on a free local port (`server.listen` is not used).
    pub async fn start(
        config: crate::config::Config,
        pools: impl Into<crate::db::Pools>,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(config, pools, listener, crate::app::Hooks::default())
    }

    /// Starts it on `listener`, bound beforehand so that others (an emulator's webhooks)
    /// can be told its address first, with `hooks`.
    pub fn serve(
        config: crate::config::Config,
        pools: impl Into<crate::db::Pools>,
        listener: tokio::net::TcpListener,
        hooks: crate::app::Hooks,
    ) -> anyhow::Result<Self> {
        let endpoint = format!("http://{}", listener.local_addr()?);
        let cancel = tokio_util::sync::CancellationToken::new();
        let config = std::sync::Arc::new(config);
        let server = tokio::spawn(crate::app::run_with(
            config.clone(),
            pools.into(),
            listener,
            cancel.clone(),
            hooks,
        ));
        Ok(Self {
            endpoint,
            config,
            cancel,
            server,
        })
    }

    /// Stops it gracefully; returns how it ended.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        self.server.await.context("the daemon panicked")??;
        Ok(())
    }
}

/// The Amazon Connect backend `config` describes, signing with `key` (id, secret): for an
/// emulator the benchmark runs itself, which checks that key.
pub fn connect_signed_with(
    config: &crate::contact_center::connect::AmazonConnectConfig,
    region: &str,
    pool: &PgPool,
    key: (&str, &str),
) -> anyhow::Result<std::sync::Arc<crate::contact_center::connect::AmazonConnect>> {
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
        aws_credential_types::Credentials::new(key.0, key.1, None, None, "bench"),
    );
    Ok(
        crate::contact_center::connect::AmazonConnect::with_credentials(
            config,
            region,
            pool.clone(),
            credentials,
        )?,
    )
}

/// Latency percentiles of a set of samples, in milliseconds.
pub fn percentiles_ms(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] * 1000.0;
    (at(0.50), at(0.99))
}

/// Stores a campaign named `name` in `state`, dialing through `queue_id` if given; returns its
/// id.
pub async fn create_campaign(
    pool: &PgPool,
    name: &str,
    dialer_config: DialerConfig,
    queue_id: Option<&str>,
    state: CampaignState,
) -> anyhow::Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let new = NewCampaign {
        name: name.to_string(),
        connect_instance_id: "bench".to_string(),
        settings: CampaignSettings::v1(
            &dialer_config,
            &OutboundCallConfig {
                connect_contact_flow_id: "flow".to_string(),
                connect_source_phone_number: None,
                connect_queue_id: queue_id.map(str::to_string),
                answer_machine_detection_config: None,
            },
        ),
        tags: Default::default(),
    };
    // The engine dials every account's campaigns; the benchmarks use the default one.
    let account = AccountId::parse(ACCOUNT_ID_DEFAULT)?;
    let arn = ArnScheme::new("us-east-1").campaign_arn(&account, &id);
    crate::campaigns::store::campaign_insert(pool, &account, &id, &arn, &new).await?;
    set_campaign_state(pool, &id, state).await?;
    Ok(id)
}

/// Puts a campaign in `state` directly, bypassing the lifecycle rules (benchmarks only).
pub async fn set_campaign_state(
    pool: &PgPool,
    campaign_id: &str,
    state: CampaignState,
) -> anyhow::Result<()> {
    sqlx::query("update campaign set state = $2, updated_at = now() where id = $1")
        .bind(campaign_id)
        .bind(state)
        .execute(pool)
        .await?;
    Ok(())
}

/// How preloaded requests expire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expiry {
    /// All valid, in numbering order: request `i` expires `after_secs` + `i` ms from now.
    InOrder {
        /// Seconds from now to the first expiration.
        after_secs: f64,
    },
    /// Odd-numbered requests expired one minute or more ago and are still pending, as if the
    /// sweeper had not run, so every heap page holds both halves; even-numbered ones expire
    /// an hour or more from now, in numbering order (requests arriving in the order they
    /// expire, as batches sharing an expiration do) or, `shuffled`, in an order unrelated to
    /// it, so consecutive claims touch scattered heap pages.
    HalfExpired {
        /// Whether the valid half's expiration order is a permutation of the numbering.
        shuffled: bool,
    },
    /// As [`Expiry::HalfExpired`], but the odd-numbered half waits for its calling hours
    /// (`not_before` in the future, as the claim leaves a request whose window is closed)
    /// and expires when they would open, half an hour or more from now: all before the
    /// valid half, so an expiration-ordered walk would meet every one of them first.
    HalfWaiting {
        /// Whether the valid half's expiration order is a permutation of the numbering.
        shuffled: bool,
    },
}

/// Inserts pending requests numbered `first..first + n` into a campaign with plain SQL
/// (one statement) and adds them to its pending counter.
pub async fn insert_pending(
    pool: &PgPool,
    campaign_id: &str,
    first: i64,
    n: i64,
    expiry: Expiry,
) -> anyhow::Result<()> {
    let (half_expired, half_waiting, shuffled, after_secs) = match expiry {
        Expiry::InOrder { after_secs } => (false, false, false, after_secs),
        Expiry::HalfExpired { shuffled } => (true, false, shuffled, 3600.0),
        Expiry::HalfWaiting { shuffled } => (false, true, shuffled, 3600.0),
    };
    // 7919 is prime, so i * 7919 mod m visits every residue once as i runs over m numbers.
    sqlx::query(
        r#"
        insert into dial_request (id, campaign_id, client_token, phone_number, expires_at, not_before, attributes, digest)
        select gen_random_uuid(), $1, 'bench-' || i, '+1415555' || lpad((i % 10000)::text, 4, '0'),
               e.expires_at, case when $8 and i % 2 = 1 then e.expires_at end,
               '{"customer": "bench"}'::jsonb, '\x00'::bytea
        from generate_series($2::bigint, $2::bigint + $3::bigint - 1) as i
        cross join lateral (
            select case when $4 and i % 2 = 1 then now() - interval '1 minute' - i * interval '1 millisecond'
                        when $8 and i % 2 = 1 then now() + interval '30 minutes' + (i % 1000000) * interval '1 millisecond'
                        when $7 then now() + $5 * interval '1 second' + ((i * 7919) % $6) * interval '1 millisecond'
                        else now() + $5 * interval '1 second' + i * interval '1 millisecond'
                   end as expires_at
        ) e
        "#,
    )
    .bind(campaign_id)
    .bind(first)
    .bind(n)
    .bind(half_expired)
    .bind(after_secs)
    .bind(n.max(1))
    .bind(shuffled)
    .bind(half_waiting)
    .execute(pool)
    .await?;
    campaign_pending_add(pool, campaign_id, n).await?;
    Ok(())
}

/// Brings the database to the same state before every measured phase: the previous phase's
/// dead rows vacuumed, fresh planner statistics, and a checkpoint just behind rather than
/// one falling at an arbitrary moment inside the phase (its full-page writes slow every
/// write for a while). The checkpoint needs superuser or `pg_checkpoint`; without either
/// the phase runs as it is.
pub async fn settle(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "vacuum analyze dial_request, contact_batch, contact_batch_contact, campaign_pending",
    )
    .execute(pool)
    .await?;
    if let Err(error) = sqlx::raw_sql("checkpoint").execute(pool).await {
        tracing::debug!(%error, "no checkpoint before the phase");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let mut samples: Vec<f64> = (1..=100).map(|i| i as f64 / 1000.0).collect();
        let (p50, p99) = percentiles_ms(&mut samples);
        assert!((p50 - 51.0).abs() < 1.01, "{p50}");
        assert!((p99 - 99.0).abs() < 1.01, "{p99}");
        assert_eq!(percentiles_ms(&mut []), (0.0, 0.0));
    }
}
