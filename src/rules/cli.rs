//! The operator's commands for calling rules: `dialer dnc add|remove|import|check` and
//! `dialer audit`.
//!
//! They talk to the database directly, with the daemon's config file (or `DATABASE_URL`),
//! like `dialer migrate`: they are the deployment operator's tools, working on any account
//! (`--account`, default `aws.account_id`), and an import of a million numbers goes in
//! batches straight to the table rather than through a million-number HTTP call. Account
//! users have the signed HTTP API for the same lists ([`crate::api::dnc`]).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::dnc::{read_list, DncList};
use super::ledger::{csv_header, csv_line};
use super::number_hash::{NumberHash, NumberHasher};
use super::store::{
    dnc_add_many, dnc_check_many, dnc_count, dnc_remove_many, ledger_page, number_hasher,
    LedgerQuery,
};
use crate::accounts::AccountId;
use crate::cli::ConfigArg;
use crate::config::{Config, EnvOverrides};
use crate::queue::PhoneNumber;

/// Numbers per statement of an import: large enough that round trips do not dominate, small
/// enough that each transaction stays short.
const IMPORT_CHUNK: usize = 50_000;

/// Import statements run at once: the index inserts wait on I/O as much as on CPU.
const IMPORT_PARALLEL: usize = 4;

/// Ledger rows read per statement of an export.
const EXPORT_PAGE: i64 = 10_000;

/// Where the lists are and whose.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The campaign whose suppression list to use; the account-wide list when absent.
    #[arg(long, global = true)]
    campaign: Option<String>,
    /// The account (default: the config's `aws.account_id`).
    #[arg(long, global = true)]
    account: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
}

/// `dialer dnc` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DncAction {
    /// Add numbers (E.164; spaces, dashes, dots, parentheses and a 00 prefix are accepted).
    Add {
        /// The numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
    },
    /// Remove numbers.
    Remove {
        /// The numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
    },
    /// Add every number of a file, one a line (blank lines and `#` comments skipped). Bad
    /// lines are reported by line number and the command exits 1, after adding the rest.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// Say, for each number, whether it is on the account's list or the campaign's.
    Check {
        /// The numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
    },
}

/// The `dnc` command.
#[derive(Debug, clap::Args)]
pub struct DncArgs {
    #[command(subcommand)]
    action: DncAction,
    #[command(flatten)]
    list: ListArgs,
}

/// Export format of `dialer audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Comma-separated, with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
}

/// The `audit` command.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The campaign.
    #[arg(long)]
    campaign: String,
    /// Decisions at or after this time (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_parser = parse_instant)]
    from: Option<DateTime<Utc>>,
    /// Decisions before this time (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_parser = parse_instant)]
    to: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Csv)]
    format: AuditFormat,
    /// Print the phone numbers in clear (from the requests, while retention keeps them)
    /// instead of their hashes. Personal data: only when the export is meant to hold it.
    #[arg(long)]
    clear_numbers: bool,
    #[command(flatten)]
    config: ConfigArg,
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{text:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))
}

/// The database of the config, without migrating it (the daemon does) and never an
/// embedded cluster, which belongs to its daemon. Only the database and the account of the
/// config matter here, so the rest (access keys...) is not required.
async fn open(arg: &ConfigArg) -> anyhow::Result<(PgPool, Config)> {
    let is_default = crate::cli::config_arg_is_default(&arg.config);
    let config = Config::read(&arg.config, is_default, &EnvOverrides::from_env())?;
    if config.database.url.is_empty() {
        bail!("this command needs the daemon's database: set database.url in the config file or DATABASE_URL");
    }
    let pool = crate::db::connect(&config.database.url, IMPORT_PARALLEL as u32).await?;
    Ok((pool, config))
}

fn parse_numbers(numbers: &[String]) -> anyhow::Result<Vec<PhoneNumber>> {
    numbers
        .iter()
        .enumerate()
        .map(|(index, n)| {
            PhoneNumber::parse_written(n)
                .map_err(|error| super::RulesError::InvalidNumber { index, error })
        })
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::from)
}

fn hash_all(hasher: &NumberHasher, numbers: &[PhoneNumber]) -> Vec<NumberHash> {
    numbers.iter().map(|n| hasher.hash(n)).collect()
}

/// Runs `dialer dnc`.
pub async fn run_dnc(args: DncArgs) -> anyhow::Result<()> {
    let (pool, config) = open(&args.list.config).await?;
    let account = args
        .list
        .account
        .clone()
        .unwrap_or_else(|| config.aws.account_id.clone());
    let account = AccountId::parse(&account).map_err(|_| {
        anyhow::anyhow!("--account must be a 12-digit AWS account id, got {account:?}")
    })?;
    let list = DncList::of(args.list.campaign.clone());
    let hasher = number_hasher(&pool).await?;
    let mut out = std::io::stdout().lock();
    match args.action {
        DncAction::Add { numbers } => {
            let hashes = hash_all(&hasher, &parse_numbers(&numbers)?);
            let added = dnc_add_many(&pool, &account, &list, &hashes).await?;
            writeln!(
                out,
                "added {added}, already listed {}",
                hashes.len() as u64 - added
            )?;
        }
        DncAction::Remove { numbers } => {
            let hashes = hash_all(&hasher, &parse_numbers(&numbers)?);
            let removed = dnc_remove_many(&pool, &account, &list, &hashes).await?;
            writeln!(
                out,
                "removed {removed}, not listed {}",
                hashes.len() as u64 - removed
            )?;
        }
        DncAction::Check { numbers } => {
            let parsed = parse_numbers(&numbers)?;
            let listed =
                dnc_check_many(&pool, &account, &list, &hash_all(&hasher, &parsed)).await?;
            for (number, listed) in parsed.iter().zip(listed) {
                let lists = match (listed.account, listed.campaign) {
                    (true, true) => "listed (account, campaign)",
                    (true, false) => "listed (account)",
                    (false, true) => "listed (campaign)",
                    (false, false) => "not listed",
                };
                writeln!(out, "{} {lists}", number.as_str())?;
            }
        }
        DncAction::Import { file } => {
            let started = Instant::now();
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (numbers, bad) = read_list(&text);
            drop(text);
            let mut added = 0;
            let mut inserts = tokio::task::JoinSet::new();
            for chunk in numbers.chunks(IMPORT_CHUNK) {
                let mut hashes = hash_all(&hasher, chunk);
                // In index order, the inserts touch each index page once per chunk rather
                // than once per number: a third faster on a million.
                hashes.sort_unstable();
                if inserts.len() >= IMPORT_PARALLEL {
                    added += inserts.join_next().await.context("an import task")???;
                }
                let (pool, account, list) = (pool.clone(), account.clone(), list.clone());
                inserts.spawn(async move { dnc_add_many(&pool, &account, &list, &hashes).await });
            }
            while let Some(done) = inserts.join_next().await {
                added += done??;
            }
            let secs = started.elapsed().as_secs_f64();
            writeln!(
                out,
                "imported {} numbers ({added} new) in {secs:.2} s: {:.0} numbers/s; the list holds {}",
                numbers.len(),
                numbers.len() as f64 / secs.max(1e-9),
                dnc_count(&pool, &account, &list).await?,
            )?;
            if !bad.is_empty() {
                let shown: Vec<String> = bad
                    .iter()
                    .take(10)
                    .map(|(line, error)| format!("line {line}: {error}"))
                    .collect();
                bail!(
                    "{} line(s) of {} are not phone numbers and were skipped:\n  {}{}",
                    bad.len(),
                    file.display(),
                    shown.join("\n  "),
                    if bad.len() > shown.len() {
                        "\n  ..."
                    } else {
                        ""
                    }
                );
            }
        }
    }
    pool.close().await;
    Ok(())
}

/// Runs `dialer audit`.
pub async fn run_audit(args: AuditArgs) -> anyhow::Result<()> {
    let (pool, _) = open(&args.config).await?;
    let query = LedgerQuery {
        campaign_id: args.campaign,
        from: args.from,
        to: args.to,
        clear_numbers: args.clear_numbers,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        AuditFormat::Csv => writeln!(out, "{}", csv_header(args.clear_numbers))?,
        AuditFormat::Json => write!(out, "[")?,
    }
    let mut after = 0;
    let mut first = true;
    loop {
        let page = ledger_page(&pool, &query, after, EXPORT_PAGE).await?;
        for decision in &page {
            match args.format {
                AuditFormat::Csv => writeln!(out, "{}", csv_line(decision))?,
                AuditFormat::Json => {
                    let separator = if first { "\n" } else { ",\n" };
                    write!(out, "{separator}{}", serde_json::to_string(decision)?)?;
                }
            }
            first = false;
        }
        match page.last() {
            Some(last) if page.len() as i64 == EXPORT_PAGE => after = last.seq,
            _ => break,
        }
    }
    if args.format == AuditFormat::Json {
        writeln!(out, "\n]")?;
    }
    out.flush()?;
    pool.close().await;
    Ok(())
}
