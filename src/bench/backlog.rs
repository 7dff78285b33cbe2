//! `dialer bench backlog`: the claim's latency with a small and a large backlog, half of each
//! expired and not yet swept, so a claim must find the valid half without wading through the
//! dead one. With `--waiting` the other half is not expired but waiting for its calling
//! hours, expiring before the valid half: the claim must find the ready half without walking
//! the waiting one.
//!
//! Each size gets a campaign of its own in one scratch database, filled with plain SQL, and
//! a lease row written directly: the claim ([`crate::engine::store::batch_claim`]) is called
//! by itself, with no daemon, so no sweeper ends the expired requests behind the
//! measurement's back. Every measured claim of 25 is followed (untimed) by 25 new requests
//! at the back of the queue, so the depth stays at the size being measured.
//!
//! The small backlog is measured twice: alone in the table, then with the large one loaded
//! beside it, alternating claims between the two. The ratio compares the alternated claims:
//! they share the table, its indexes and the machine's moment (on a shared machine the WAL
//! flush time alone can move a claim from 1 to 4 ms between one minute and the next), so it
//! isolates the depth of the campaign's own queue. The first figure, on a quiet machine,
//! adds what a table a hundred times larger costs every claim (index and heap pages the
//! updates touch), which a production table full of finished requests pays at any depth.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use chrono::Utc;
use sqlx::PgPool;

use super::{create_campaign, insert_pending, percentiles_ms, settle, Expiry};
use crate::campaigns::{AgentlessDialerConfig, CampaignState, DialerConfig};
use crate::config::{Config, EnvOverrides};
use crate::contact_center::BATCH_MAX_CONTACTS;
use crate::db::scratch::ScratchDatabase;
use crate::engine::batch::BatchTemplate;
use crate::engine::store::{batch_claim, ClaimScope};
use crate::engine::{secs_to_duration, EngineConfig};

/// Options of `dialer bench backlog`.
#[derive(Debug, clap::Args)]
pub struct BacklogArgs {
    /// Claims of 25 measured in each series.
    #[arg(long, default_value_t = 1000)]
    claims: usize,
    /// The small backlog (pending requests, half of them expired).
    #[arg(long, default_value_t = 10_000)]
    small: i64,
    /// The large backlog.
    #[arg(long, default_value_t = 1_000_000)]
    large: i64,
    /// Give the valid requests expirations in an order unrelated to their arrival (the worst
    /// case for the heap pages a claim touches) instead of arrival order.
    #[arg(long)]
    shuffled: bool,
    /// Make the dead half wait for its calling hours (and expire before the valid half)
    /// instead of having expired.
    #[arg(long)]
    waiting: bool,
    /// Config file; database and engine settings are taken from it.
    #[arg(long, default_value = "config/dialer.toml")]
    config: PathBuf,
}

/// Untimed claims before each series: connections, plan cache, buffers.
const WARM_UP_CLAIMS: usize = 20;
const OWNER: &str = "bench-backlog";
/// Requests added after each claim expire this long from now, after every preloaded one.
const REFILL_AFTER_SECS: f64 = 3.0 * 3600.0;
const BATCH: i64 = BATCH_MAX_CONTACTS as i64;

/// Measures the series and prints the ratio.
pub async fn run(args: BacklogArgs) -> anyhow::Result<()> {
    if args.claims == 0 || args.small < 2 || args.large < 2 {
        bail!("--claims must be at least 1 and --small and --large at least 2");
    }
    let is_default = args.config.as_os_str() == "config/dialer.toml";
    let config = Config::load(&args.config, is_default, &EnvOverrides::from_env())?;
    let scratch = ScratchDatabase::create(&config.database, "bench_backlog").await?;
    println!(
        "backlog: {} claims of {BATCH} per series after {WARM_UP_CLAIMS} warm-up claims; half of each backlog {}; valid half expiring {}; depth kept constant",
        args.claims,
        dead_half(args.waiting),
        if args.shuffled {
            "in shuffled order"
        } else {
            "in arrival order"
        }
    );
    let measured = series(&args, &config.engine, scratch.pool()).await;
    let dropped = scratch.drop().await;
    let (small, large) = measured?;
    dropped?;
    println!(
        "backlog ratio {:.2} (p50 {} {:.3} ms vs p50 {} {:.3} ms, same table, alternating; p99 {:.3} ms vs {:.3} ms)",
        large.0 / small.0.max(1e-9),
        count_label(args.large),
        large.0,
        count_label(args.small),
        small.0,
        large.1,
        small.1
    );
    Ok(())
}

/// Runs the three series; returns (p50, p99) in ms of the alternated small and large ones.
async fn series(
    args: &BacklogArgs,
    engine: &EngineConfig,
    pool: &PgPool,
) -> anyhow::Result<((f64, f64), (f64, f64))> {
    let expiry = if args.waiting {
        Expiry::HalfWaiting {
            shuffled: args.shuffled,
        }
    } else {
        Expiry::HalfExpired {
            shuffled: args.shuffled,
        }
    };
    let mut small = Queue::fill(pool, engine, args.small, expiry).await?;
    let mut alone = Vec::with_capacity(args.claims);
    for round in 0..WARM_UP_CLAIMS + args.claims {
        let took = small.claim(pool).await?;
        if round >= WARM_UP_CLAIMS {
            alone.push(took);
        }
    }
    let dead = dead_half(args.waiting);
    report(
        &format!("{} alone", args.small),
        &small,
        pool,
        dead,
        &mut alone,
    )
    .await?;

    let mut large = Queue::fill(pool, engine, args.large, expiry).await?;
    let (mut beside, mut deep) = (Vec::new(), Vec::new());
    for round in 0..WARM_UP_CLAIMS + args.claims {
        let (s, l) = (small.claim(pool).await?, large.claim(pool).await?);
        if round >= WARM_UP_CLAIMS {
            beside.push(s);
            deep.push(l);
        }
    }
    let beside = report(
        &format!("{} beside", args.small),
        &small,
        pool,
        dead,
        &mut beside,
    )
    .await?;
    let deep = report(&args.large.to_string(), &large, pool, dead, &mut deep).await?;
    Ok((beside, deep))
}

/// What the backlog's other half is.
fn dead_half(waiting: bool) -> &'static str {
    if waiting {
        "waiting for its hours, expiring first"
    } else {
        "expired and unswept"
    }
}

async fn report(
    name: &str,
    queue: &Queue,
    pool: &PgPool,
    dead: &str,
    latencies: &mut [f64],
) -> anyhow::Result<(f64, f64)> {
    let (table, index): (String, String) = sqlx::query_as(
        "select pg_size_pretty(pg_relation_size('dial_request')), pg_size_pretty(pg_relation_size('dial_request_pending'))",
    )
    .fetch_one(pool)
    .await?;
    let (p50, p99) = percentiles_ms(latencies);
    println!(
        "{name:>16} pending ({} {dead}): claim p50 {p50:.3} ms  p99 {p99:.3} ms over {} claims (filled in {:.1}s; table {table}, pending index {index})",
        queue.size / 2,
        latencies.len(),
        queue.filled_secs,
    );
    Ok((p50, p99))
}

/// A campaign whose queue is kept at a constant depth.
struct Queue {
    size: i64,
    /// Number of the next request added.
    next: i64,
    filled_secs: f64,
    /// The campaign, its lease and the claim's settings; the times are set per claim.
    scope: ClaimScope,
}

impl Queue {
    /// A new campaign holding its lease, with `size` pending requests expiring as `expiry`.
    async fn fill(
        pool: &PgPool,
        engine: &EngineConfig,
        size: i64,
        expiry: Expiry,
    ) -> anyhow::Result<Self> {
        let agentless = DialerConfig::AgentlessDialerConfig(AgentlessDialerConfig {
            dialing_capacity: None,
        });
        let campaign = create_campaign(
            pool,
            "bench-backlog",
            agentless,
            None,
            CampaignState::Running,
        )
        .await?;
        let fence: i64 = sqlx::query_scalar(
            "insert into campaign_lease (campaign_id, owner, fence, expires_at)
             values ($1, $2, 1, now() + interval '1 day') returning fence",
        )
        .bind(&campaign)
        .bind(OWNER)
        .fetch_one(pool)
        .await?;
        let filling = Instant::now();
        insert_pending(pool, &campaign, 0, size, expiry).await?;
        settle(pool).await?;
        let now = Utc::now();
        Ok(Self {
            size,
            next: size,
            filled_secs: filling.elapsed().as_secs_f64(),
            scope: ClaimScope {
                campaign_id: campaign,
                owner: OWNER.into(),
                fence,
                now,
                dialed_at: now,
                margin: secs_to_duration(engine.claim_expiry_margin_secs),
                call_timeout: secs_to_duration(engine.call_timeout_secs),
                template: BatchTemplate {
                    instance_id: "bench".to_string(),
                    queue_id: None,
                    contact_flow_id: "flow".to_string(),
                    source_phone_number: None,
                    answer_machine_detection: false,
                    sms: None,
                },
                communication_time: None,
                abandoned_quiet: engine.abandoned_quiet(),
            },
        })
    }

    /// Times one claim of 25, then puts 25 new requests at the back of the queue.
    async fn claim(&mut self, pool: &PgPool) -> anyhow::Result<f64> {
        let sent = Instant::now();
        let now = Utc::now();
        self.scope.now = now;
        self.scope.dialed_at = now;
        let claimed = batch_claim(pool, &self.scope, BATCH).await?;
        let took = sent.elapsed().as_secs_f64();
        let n: i64 = claimed.batches.iter().map(|b| b.items.len() as i64).sum();
        if n != BATCH {
            bail!(
                "a claim at {} pending took {n} requests, not {BATCH}",
                self.size
            );
        }
        let refill = Expiry::InOrder {
            after_secs: REFILL_AFTER_SECS,
        };
        insert_pending(pool, &self.scope.campaign_id, self.next, BATCH, refill).await?;
        self.next += BATCH;
        Ok(took)
    }
}

/// `10000` as `10k`, `1000000` as `1M`.
fn count_label(n: i64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_in_the_issue() {
        assert_eq!(count_label(10_000), "10k");
        assert_eq!(count_label(1_000_000), "1M");
        assert_eq!(count_label(2_500_000), "2500k");
        assert_eq!(count_label(12_345), "12345");
        assert_eq!(count_label(999), "999");
    }
}
