//! Daemon configuration: the TOML file, its environment overlays and its validation.
//!
//! Layers, later wins: built-in defaults, the file (`config/dialer.toml` unless `--config`
//! names another), then `DATABASE_URL` and `DIALER_ACCESS_KEYS` from the environment, then
//! command-line flags. Unknown keys are rejected, and [`Config::validate`] reports every bad
//! value at once, each message naming its key, before anything is started.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::accounts::{AccessKey, AccountId, KeyStore};

/// The default account: AWS's documentation example account.
pub const ACCOUNT_ID_DEFAULT: &str = "123456789012";
/// Default listen address of the API.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// Largest accepted request body. A full PutDialRequestBatch (25 requests with a few
/// attributes each) is a few KiB; 1 MiB leaves room for large attribute maps.
pub const MAX_BODY_BYTES_DEFAULT: usize = 1024 * 1024;
/// Time a client has to send a request's headers, and the longest a kept-alive connection
/// may sit idle. A real client sends its headers in one write; 10 s covers a congested mobile
/// link, while a client that drips them holds a connection slot no longer than this.
pub const HEADER_READ_TIMEOUT_SECS_DEFAULT: f64 = 10.0;
/// Time a client has to send a request's body once its headers are in: a full
/// `max_body_bytes` (1 MiB) at about 35 KB/s, far slower than any real caller.
pub const BODY_READ_TIMEOUT_SECS_DEFAULT: f64 = 30.0;
/// Connections served at once; further ones wait in the listen backlog. Half of the common
/// 1024 soft limit on open files, leaving the rest for the database pool and the process.
pub const MAX_CONNECTIONS_DEFAULT: u32 = 512;
/// Shortest and longest accepted read timeouts: below 0.1 s real clients would be cut off;
/// above a day a slot is as good as held forever.
const READ_TIMEOUT_SECS_RANGE: std::ops::RangeInclusive<f64> = 0.1..=86_400.0;
/// AWS accepts signatures whose date is within 15 minutes of its clock.
pub const MAX_CLOCK_SKEW_SECS_DEFAULT: u64 = 15 * 60;
/// Per-campaign cap on pending dial requests.
pub const MAX_PENDING_PER_CAMPAIGN_DEFAULT: i64 = 1_000_000;
/// How often the sweeper marks passed-expiration requests expired.
pub const SWEEP_INTERVAL_SECS_DEFAULT: f64 = 1.0;
/// Rows the sweeper expires per statement, to keep each transaction short.
pub const SWEEP_BATCH_DEFAULT: i64 = 1000;
/// Days a finished dial request (with its batch and the simulated center's ledger row) is
/// kept before the sweeper deletes it.
pub const RETENTION_DAYS_DEFAULT: f64 = 30.0;
/// Longest accepted retention: a century, which is "forever" while keeping the cutoff
/// (now minus the retention) a representable time.
pub const RETENTION_DAYS_MAX: f64 = 36_500.0;
/// Default PutDialRequestBatch calls worked on at once (see `dialer bench mixed`).
pub const INGEST_MAX_CONCURRENT_BATCHES_DEFAULT: usize = 2;
/// Default of `queue.ingest_max_concurrent_batches_idle`.
pub const INGEST_MAX_CONCURRENT_BATCHES_IDLE_DEFAULT: usize = 8;
/// Default PutDialRequestBatch calls waiting for their turn.
pub const INGEST_MAX_WAITING_BATCHES_DEFAULT: usize = 64;
/// Most PutDialRequestBatch calls that may wait.
pub const INGEST_MAX_WAITING_BATCHES_MAX: usize = 100_000;

/// Where the daemon listens and how much it accepts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `HOST:PORT` of the API, `/metrics`, `/healthz` and `/readyz`.
    pub listen: String,
    /// Request bodies above this size are refused with 413.
    pub max_body_bytes: usize,
    /// A connection that has not sent a complete request head this long after it opened (or
    /// after its previous response) is closed.
    pub header_read_timeout_secs: f64,
    /// A request whose body is not complete this long after its head is answered 408 and its
    /// connection closed.
    pub body_read_timeout_secs: f64,
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: LISTEN_DEFAULT.to_string(),
            max_body_bytes: MAX_BODY_BYTES_DEFAULT,
            header_read_timeout_secs: HEADER_READ_TIMEOUT_SECS_DEFAULT,
            body_read_timeout_secs: BODY_READ_TIMEOUT_SECS_DEFAULT,
            max_connections: MAX_CONNECTIONS_DEFAULT,
        }
    }
}

impl ServerConfig {
    /// `header_read_timeout_secs` (valid after [`Config::validate`]).
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.header_read_timeout_secs)
    }

    /// `body_read_timeout_secs` (valid after [`Config::validate`]).
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.body_read_timeout_secs)
    }
}

/// The AWS identity this endpoint presents, used in ARNs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Region in campaign ARNs, and the one requests must be signed for.
    pub region: String,
    /// The default account (twelve digits): that of access keys configured without one, and
    /// of every caller when auth is off.
    pub account_id: String,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_string(),
            account_id: ACCOUNT_ID_DEFAULT.to_string(),
        }
    }
}

/// SigV4 request authentication. Serializing it writes the secrets: it is there so tests can
/// list every config key (see `the_shipped_file_documents_every_key`), not for output.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Turning this off accepts unsigned requests; the daemon logs a warning at start.
    pub enabled: bool,
    /// `ACCESS_KEY_ID:SECRET[:ACCOUNT_ID]` entries, the account defaulting to
    /// `aws.account_id`; `DIALER_ACCESS_KEYS` (comma separated) replaces them.
    pub access_keys: Vec<String>,
    /// Requests signed further than this from our clock are refused as stale.
    pub max_clock_skew_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            access_keys: Vec::new(),
            max_clock_skew_secs: MAX_CLOCK_SKEW_SECS_DEFAULT,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    // Secrets must never reach a log line, even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("enabled", &self.enabled)
            .field("access_keys", &format!("<{} keys>", self.access_keys.len()))
            .field("max_clock_skew_secs", &self.max_clock_skew_secs)
            .finish()
    }
}

/// The Postgres database.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://` URL; empty means the daemon starts its own embedded cluster.
    /// `DATABASE_URL` replaces it.
    pub url: String,
    /// Data directory of the embedded cluster.
    pub embedded_data_dir: PathBuf,
    /// Connections in the API's pool (API calls, the sweeper, the queue-depth gauge).
    pub max_connections: u32,
    /// Connections in the engine's pool (claims, contact batches, event writes, the
    /// contact center's bookkeeping), apart from the API's so that uploads never make
    /// dialing wait for a connection.
    pub engine_max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            embedded_data_dir: PathBuf::from("data/postgres"),
            max_connections: 16,
            engine_max_connections: 16,
        }
    }
}

impl std::fmt::Debug for DatabaseConfig {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &if self.url.is_empty() { "" } else { "<set>" })
            .field("embedded_data_dir", &self.embedded_data_dir)
            .field("max_connections", &self.max_connections)
            .field("engine_max_connections", &self.engine_max_connections)
            .finish()
    }
}

/// A token-bucket rate: sustained requests per second and burst size.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

/// API rate limits, applied per operation and caller (access key id).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottlingConfig {
    /// Rate of any operation not listed in `operations`.
    pub default: Rate,
    /// Per-operation rates, keyed by operation name (e.g. `PutDialRequestBatch`).
    pub operations: BTreeMap<String, Rate>,
}

impl Default for ThrottlingConfig {
    fn default() -> Self {
        Self {
            default: Rate {
                per_second: 50.0,
                burst: 100,
            },
            operations: BTreeMap::from([(
                "PutDialRequestBatch".to_string(),
                Rate {
                    per_second: 2000.0,
                    burst: 4000,
                },
            )]),
        }
    }
}

/// The dial-request queue.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Pending requests a campaign may hold; items beyond fail with `RequestThrottled`.
    pub max_pending_per_campaign: i64,
    /// Seconds between sweeps of passed-expiration requests.
    pub sweep_interval_secs: f64,
    /// Requests expired per sweep statement.
    pub sweep_batch: i64,
    /// Days finished requests are kept; fractional, so that a soak test can use minutes.
    /// Reloadable.
    pub retention_days: f64,
    /// PutDialRequestBatch calls worked on at once: uploads take what dialing leaves of the
    /// machine and the database, not all of it.
    pub ingest_max_concurrent_batches: usize,
    /// PutDialRequestBatch calls worked on at once while this daemon dials no running
    /// campaign, so a list loaded before the shift goes at full speed; at most
    /// `database.max_connections` - 1 are used, leaving the other calls a connection.
    pub ingest_max_concurrent_batches_idle: usize,
    /// PutDialRequestBatch calls that wait for their turn; beyond this a call answers 429
    /// `ThrottlingException` at once (SDKs retry it with backoff).
    pub ingest_max_waiting_batches: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_pending_per_campaign: MAX_PENDING_PER_CAMPAIGN_DEFAULT,
            sweep_interval_secs: SWEEP_INTERVAL_SECS_DEFAULT,
            sweep_batch: SWEEP_BATCH_DEFAULT,
            retention_days: RETENTION_DAYS_DEFAULT,
            ingest_max_concurrent_batches: INGEST_MAX_CONCURRENT_BATCHES_DEFAULT,
            ingest_max_concurrent_batches_idle: INGEST_MAX_CONCURRENT_BATCHES_IDLE_DEFAULT,
            ingest_max_waiting_batches: INGEST_MAX_WAITING_BATCHES_DEFAULT,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `dialer=debug,info`; `RUST_LOG` replaces it.
    pub level: String,
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The whole daemon configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listener settings.
    pub server: ServerConfig,
    /// Identity used in ARNs.
    pub aws: AwsConfig,
    /// Request signing.
    pub auth: AuthConfig,
    /// Database connection or embedded cluster.
    pub database: DatabaseConfig,
    /// API rate limits.
    pub throttling: ThrottlingConfig,
    /// Dial-request queue limits and sweeping.
    pub queue: QueueConfig,
    /// Logging.
    pub log: LogConfig,
    /// The dialing engine.
    pub engine: crate::engine::EngineConfig,
    /// Pacing (predictive abandonment target, window, lines per agent...).
    pub pacing: crate::pacing::PacingConfig,
    /// The contact center the engine dials through.
    pub contact_center: ContactCenterConfig,
    /// SMS message templates (`[[templates]]`), by ARN; reloadable.
    pub templates: Vec<crate::sms::template::TemplateConfig>,
    /// Retries by outcome (`[retries]`): the default policy and per-campaign ones;
    /// reloadable.
    pub retries: crate::rules::retry::RetriesConfig,
}

/// The contact center (`[contact_center]`): which backend, and the settings of each.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ContactCenterConfig {
    /// `"simulated"` (the default) or `"amazon-connect"`.
    pub backend: crate::contact_center::BackendKind,
    /// The simulated contact center.
    pub sim: crate::contact_center::sim::model::SimConfig,
    /// The Amazon Connect backend.
    pub amazon_connect: crate::contact_center::connect::AmazonConnectConfig,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (the I/O error follows as the cause).
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("invalid config file {}:\n  - {}", path.display(), problems.join("\n  - "))]
    Parse {
        /// The file.
        path: PathBuf,
        /// Every problem found, each naming its line and key.
        problems: Vec<String>,
    },
    /// Values that parse but make no sense.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// One line per problem, each naming its file, line or key.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Read { path, source } => {
                vec![format!(
                    "cannot read config file {}: {source}",
                    path.display()
                )]
            }
            ConfigError::Parse { path, problems } => problems
                .iter()
                .map(|problem| format!("{}: {problem}", path.display()))
                .collect(),
            ConfigError::Invalid(problems) => problems.clone(),
        }
    }
}

/// The environment variables that override the file.
#[derive(Debug, Default, Clone)]
pub struct EnvOverrides {
    /// `DATABASE_URL`.
    pub database_url: Option<String>,
    /// `DIALER_ACCESS_KEYS`: `id:secret[:account][,id:secret[:account]]`.
    pub access_keys: Option<String>,
    /// `DIALER_CONNECT_EVENTS_KEY`: the API key of `POST /events/amazon-connect`.
    pub connect_events_key: Option<String>,
}

impl EnvOverrides {
    /// Reads the overrides from the process environment.
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            database_url: non_empty("DATABASE_URL"),
            access_keys: non_empty("DIALER_ACCESS_KEYS"),
            connect_events_key: non_empty(crate::contact_center::connect::config::EVENTS_KEY_ENV),
        }
    }
}

impl Config {
    /// Parses a TOML document; `origin` names it in errors.
    ///
    /// Every unknown key and wrong value is reported, not only the first: the parser stops at
    /// the first, so each problem's line is set aside and the document parsed again.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut text = text.to_string();
        let mut problems = Vec::new();
        loop {
            let error = match toml::from_str::<Config>(&text) {
                Ok(config) if problems.is_empty() => return Ok(config),
                Ok(_) => break,
                Err(error) => error,
            };
            let problem = parse_problem(&text, &error);
            if !problem.is_about_a_key && !problems.is_empty() {
                // Most likely the rest of a value whose first line was set aside.
                break;
            }
            problems.push((problem.line(&text), problem.describe(&text)));
            // Syntax errors and problems without a place leave nothing sure to go on from.
            let set_aside = problem.is_about_a_key && set_line_aside(&mut text, problem.at);
            if !set_aside || problems.len() >= MAX_PARSE_PROBLEMS {
                break;
            }
        }
        // The parser finds them in the order of its fields; the reader wants the file's.
        problems.sort_by_key(|(line, _)| *line);
        Err(ConfigError::Parse {
            path: origin.to_path_buf(),
            problems: problems.into_iter().map(|(_, problem)| problem).collect(),
        })
    }

    /// Loads the file (or the defaults when `path` is the default path and does not exist),
    /// applies the environment, and validates.
    pub fn load(
        path: &Path,
        path_is_default: bool,
        env: &EnvOverrides,
    ) -> Result<Config, ConfigError> {
        let config = Config::read(path, path_is_default, env)?;
        let problems = config.validate();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// [`Config::load`] without the validation of values: for tools that use only a part of
    /// the configuration (the database), which must not require the rest (access keys).
    pub fn read(
        path: &Path,
        path_is_default: bool,
        env: &EnvOverrides,
    ) -> Result<Config, ConfigError> {
        let mut config = match std::fs::read_to_string(path) {
            Ok(text) => Config::from_toml(&text, path)?,
            Err(e) if path_is_default && e.kind() == std::io::ErrorKind::NotFound => {
                Config::default()
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        config.apply_env(env);
        Ok(config)
    }

    /// Lets the environment replace the file's database URL and access keys.
    pub fn apply_env(&mut self, env: &EnvOverrides) {
        if let Some(url) = &env.database_url {
            self.database.url = url.clone();
        }
        if let Some(key) = &env.connect_events_key {
            self.contact_center.amazon_connect.events_key = key.clone();
        }
        if let Some(keys) = &env.access_keys {
            self.auth.access_keys = keys
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect();
        }
    }

    /// Every problem with the values, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(problem) = self.listen_addr() {
            problems.push(problem);
        }
        if self.server.max_body_bytes < 1024 {
            problems.push(format!(
                "server.max_body_bytes must be at least 1024, got {}",
                self.server.max_body_bytes
            ));
        }
        for (key, secs) in [
            (
                "server.header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
            (
                "server.body_read_timeout_secs",
                self.server.body_read_timeout_secs,
            ),
        ] {
            if !READ_TIMEOUT_SECS_RANGE.contains(&secs) {
                problems.push(format!(
                    "{key} must be between {} and {}, got {secs}",
                    READ_TIMEOUT_SECS_RANGE.start(),
                    READ_TIMEOUT_SECS_RANGE.end()
                ));
            }
        }
        if self.server.max_connections == 0 {
            problems.push("server.max_connections must be at least 1".to_string());
        }
        if self.aws.region.is_empty()
            || !self
                .aws
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push(format!(
                "aws.region must be a region name like us-east-1, got {:?}",
                self.aws.region
            ));
        }
        if let Err(key_problems) = self.key_store() {
            problems.extend(key_problems);
        }
        if self.auth.enabled && self.auth.access_keys.is_empty() {
            problems.push(
                "auth.access_keys is empty while auth.enabled = true: set DIALER_ACCESS_KEYS=id:secret, list keys in the file, or set auth.enabled = false for a trusted network"
                    .to_string(),
            );
        }
        if self.auth.max_clock_skew_secs == 0 {
            problems.push("auth.max_clock_skew_secs must be greater than 0".to_string());
        }
        let url = &self.database.url;
        let postgres_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !url.is_empty() && !postgres_url {
            problems.push(
                "database.url (or DATABASE_URL) must start with postgres:// or postgresql://"
                    .to_string(),
            );
        }
        if self.database.max_connections < 2 {
            problems.push(format!(
                "database.max_connections must be at least 2, got {}",
                self.database.max_connections
            ));
        }
        if self.database.engine_max_connections < 2 {
            problems.push(format!(
                "database.engine_max_connections must be at least 2, got {}",
                self.database.engine_max_connections
            ));
        }
        let batches = self.queue.ingest_max_concurrent_batches;
        if batches == 0 || batches as u64 >= u64::from(self.database.max_connections) {
            problems.push(format!(
                "queue.ingest_max_concurrent_batches must be at least 1 and less than database.max_connections ({}: the other API calls need a connection too), got {batches}",
                self.database.max_connections
            ));
        }
        if self.queue.ingest_max_concurrent_batches_idle == 0 {
            problems.push(
                "queue.ingest_max_concurrent_batches_idle must be at least 1, got 0".to_string(),
            );
        }
        if self.queue.ingest_max_waiting_batches > INGEST_MAX_WAITING_BATCHES_MAX {
            problems.push(format!(
                "queue.ingest_max_waiting_batches must be at most {INGEST_MAX_WAITING_BATCHES_MAX}, got {}",
                self.queue.ingest_max_waiting_batches
            ));
        }
        let mut check_rate = |key: &str, rate: &Rate| {
            if !(rate.per_second.is_finite() && rate.per_second > 0.0) {
                problems.push(format!(
                    "{key}.per_second must be a positive number, got {}",
                    rate.per_second
                ));
            }
            if rate.burst == 0 {
                problems.push(format!("{key}.burst must be at least 1"));
            }
        };
        check_rate("throttling.default", &self.throttling.default);
        for (operation, rate) in &self.throttling.operations {
            check_rate(&format!("throttling.operations.{operation}"), rate);
        }
        for operation in self.throttling.operations.keys() {
            if !crate::api::all_operations().any(|known| known == operation) {
                let known: Vec<&str> = crate::api::all_operations().collect();
                problems.push(format!(
                    "throttling.operations.{operation} is not an operation of this API (known: {})",
                    known.join(", ")
                ));
            }
        }
        if self.queue.max_pending_per_campaign < 1 {
            problems.push(format!(
                "queue.max_pending_per_campaign must be at least 1, got {}",
                self.queue.max_pending_per_campaign
            ));
        }
        if !(self.queue.sweep_interval_secs.is_finite() && self.queue.sweep_interval_secs >= 0.05) {
            problems.push(format!(
                "queue.sweep_interval_secs must be at least 0.05, got {}",
                self.queue.sweep_interval_secs
            ));
        }
        if !(1..=100_000).contains(&self.queue.sweep_batch) {
            problems.push(format!(
                "queue.sweep_batch must be between 1 and 100000, got {}",
                self.queue.sweep_batch
            ));
        }
        let days = self.queue.retention_days;
        if !(days.is_finite() && days > 0.0 && days <= RETENTION_DAYS_MAX) {
            problems.push(format!(
                "queue.retention_days must be greater than 0 and at most {RETENTION_DAYS_MAX}, got {days}"
            ));
        }
        problems.extend(self.engine.validate());
        if let Err(bad) = crate::sms::template::Templates::from_config(&self.templates) {
            problems.extend(bad);
        }
        problems.extend(self.pacing.validate());
        problems.extend(self.retries.validate());
        problems.extend(self.contact_center.sim.validate());
        problems.extend(self.contact_center.amazon_connect.validate(
            self.contact_center.backend == crate::contact_center::BackendKind::AmazonConnect,
        ));
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            problems.push(format!(
                "log.level is not a valid filter (e.g. info, dialer=debug), got {:?}",
                self.log.level
            ));
        }
        problems
    }

    /// The access keys and the default account, or every problem with them, each naming its
    /// key (`aws.account_id`, `auth.access_keys[i]` and the key id, never the secret).
    pub fn key_store(&self) -> Result<KeyStore, Vec<String>> {
        let mut problems = Vec::new();
        let default_account = AccountId::parse(&self.aws.account_id).map_err(|e| {
            problems.push(format!(
                "aws.account_id: {e}, got {:?}",
                self.aws.account_id
            ))
        });
        let mut keys = BTreeMap::new();
        for (i, entry) in self.auth.access_keys.iter().enumerate() {
            // A secret cannot hold ':' any more: the third field is the account.
            let mut parts = entry.splitn(3, ':').map(str::trim);
            let mut field = || parts.next().filter(|f| !f.is_empty());
            let (Some(id), Some(secret)) = (field(), field()) else {
                problems.push(format!(
                    "auth.access_keys[{i}] must be ACCESS_KEY_ID:SECRET[:ACCOUNT_ID] (or set DIALER_ACCESS_KEYS=id:secret[:account][,...])"
                ));
                continue;
            };
            let account = match parts.next() {
                None => default_account.clone(),
                Some(account) => AccountId::parse(account)
                    .map_err(|e| problems.push(format!("auth.access_keys[{i}] (key {id}): {e}"))),
            };
            if let Ok(account) = account {
                keys.insert(id.to_string(), AccessKey::new(secret.to_string(), account));
            }
        }
        match default_account {
            Ok(default_account) if problems.is_empty() => Ok(KeyStore::new(keys, default_account)),
            _ => Err(problems),
        }
    }

    /// The listen address, read as people type it: `127.0.0.1:8080`, `[::1]:8080`,
    /// `localhost:8080` (or any host name that resolves) and `:8080` (every interface).
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        parse_listen(&self.server.listen).map_err(|why| {
            format!(
                "server.listen must be HOST:PORT (e.g. 127.0.0.1:8080, localhost:8080 or :8080), got {:?}: {why}",
                self.server.listen
            )
        })
    }
}

/// Whether a listen address (as [`Config::listen_addr`] reads it) is on the loopback
/// interface only: 127.0.0.0/8, `::1` (also as `::ffff:127.x`), or `localhost`. An address
/// that does not parse or resolve counts as not loopback.
pub fn is_loopback_listen(listen: &str) -> bool {
    parse_listen(listen).is_ok_and(|addr| addr.ip().to_canonical().is_loopback())
}

/// Reads a listen address; the error says what is wrong with it.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    use std::net::{Ipv4Addr, ToSocketAddrs};
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text.rsplit_once(':').ok_or("no port")?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port number"))?;
    match host {
        "" => Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))),
        "localhost" => Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        host => (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host:?} resolves to no address")),
    }
}

/// Most problems one parse reports.
const MAX_PARSE_PROBLEMS: usize = 50;

/// One problem the TOML parser found.
struct ParseProblem {
    /// Byte offset in the document.
    at: usize,
    /// The parser's own words.
    message: String,
    /// An unknown key or a wrong value, rather than broken syntax.
    is_about_a_key: bool,
}

fn parse_problem(text: &str, error: &toml::de::Error) -> ParseProblem {
    let message = error.message().trim_end().to_string();
    let is_about_a_key = [
        "unknown field",
        "invalid type",
        "invalid value",
        "missing field",
    ]
    .iter()
    .any(|kind| message.starts_with(kind));
    ParseProblem {
        at: error.span().map_or(text.len(), |span| span.start),
        message,
        is_about_a_key,
    }
}

impl ParseProblem {
    /// Its line number, from 1.
    fn line(&self, text: &str) -> usize {
        text[..self.at.min(text.len())].matches('\n').count() + 1
    }

    /// `line 12, [engine] tick_sec: unknown key; did you mean `tick_secs`?`
    fn describe(&self, text: &str) -> String {
        let at = self.at.min(text.len());
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_no = self.line(text);
        let line = text[line_start..].lines().next().unwrap_or("");
        if line.trim_start().starts_with('[') {
            let hint = backticked(&self.message)
                .split_first()
                .and_then(|(unknown, expected)| closest(unknown, expected))
                .map(|near| format!("; did you mean [{near}]?"))
                .unwrap_or_default();
            return format!("line {line_no}: unknown table {}{hint}", line.trim());
        }
        let table = text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .and_then(|header| header.trim_start_matches('[').split(']').next())
            .map(|name| format!("[{}] ", name.trim()))
            .unwrap_or_default();
        if let Some(unknown) = backticked(&self.message).first() {
            if self.message.starts_with("unknown field") {
                let expected = backticked(&self.message);
                let hint = closest(unknown, &expected[1..])
                    .map(|near| format!("; did you mean `{near}`?"))
                    .unwrap_or_default();
                return format!("line {line_no}, {table}{unknown}: unknown key{hint}");
            }
        }
        let key = line.split('=').next().unwrap_or("").trim();
        if self.is_about_a_key && !key.is_empty() {
            format!("line {line_no}, {table}{key}: {}", self.message)
        } else {
            format!("line {line_no}: {}", self.message)
        }
    }
}

/// The `names` quoted in backticks in a serde message, in order.
fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// The name among `candidates` nearest to `typed`, if near enough to be a slip.
fn closest<'a>(typed: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(typed, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Comments out the line holding byte `at` (a table header with its whole table), so that
/// parsing goes on past it. False when that changes nothing (already set aside).
fn set_line_aside(text: &mut String, at: usize) -> bool {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    if text[start..].starts_with("#!") {
        return false;
    }
    let is_header = text[start..].trim_start().starts_with('[');
    let mut lines: Vec<String> = Vec::new();
    let mut inside = true;
    for (i, line) in text[start..].split('\n').enumerate() {
        if i > 0 && (!is_header || line.trim_start().starts_with('[')) {
            inside = false;
        }
        lines.push(if inside {
            format!("#!{line}")
        } else {
            line.to_string()
        });
    }
    text.replace_range(start.., &lines.join("\n"));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("[queue]\nmax_pending = 3\n").unwrap_err().to_string();
        assert!(err.contains("max_pending"), "{err}");
    }

    #[test]
    fn every_unknown_key_and_wrong_value_is_reported_in_one_run() {
        let err = parse(
            "[server]\nlisten = \"127.0.0.1:1\"\nmax_body_byte = 3\n\n[engine]\ntick_sec = 0.5\ntotal_lines = \"many\"\nlease_ttl_secs = 9.0\n[nonsense]\nx = 1\n",
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "line 3, [server] max_body_byte: unknown key; did you mean `max_body_bytes`?",
            "line 6, [engine] tick_sec: unknown key; did you mean `tick_secs`?",
            "line 7, [engine] total_lines: invalid type",
            "line 9: unknown table [nonsense]",
        ] {
            assert!(err.contains(expected), "{expected:?} not in:\n{err}");
        }
        assert_eq!(err.matches("\n  - ").count(), 4, "{err}");
        let order: Vec<usize> = ["line 3", "line 6", "line 7", "line 9"]
            .iter()
            .map(|l| err.find(l).unwrap_or(usize::MAX))
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "not in file order:\n{err}"
        );
    }

    #[test]
    fn a_key_far_from_every_known_one_gets_no_guess() {
        let err = parse("[engine]\nwhatever_this_is = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("whatever_this_is: unknown key"), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn broken_syntax_is_reported_with_its_line() {
        let err = parse("[engine]\ntick_secs = = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("tick_sec", "tick_secs"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("lease_tll_secs", &["tick_secs", "lease_ttl_secs"]),
            Some("lease_ttl_secs")
        );
    }

    #[test]
    fn listen_addresses_are_read_as_people_type_them() {
        for (typed, want) in [
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("localhost:8080", "127.0.0.1:8080"),
            (":8080", "0.0.0.0:8080"),
            ("[::1]:9000", "[::1]:9000"),
            (" 0.0.0.0:1 ", "0.0.0.0:1"),
        ] {
            assert_eq!(
                parse_listen(typed).map(|a| a.to_string()),
                Ok(want.to_string())
            );
        }
        for bad in [
            "8080",
            "localhost",
            "localhost:http",
            ":99999",
            "no-such-host.invalid:80",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_listen_addresses_are_told_apart() {
        for loopback in [
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "localhost:8080",
            " localhost:0",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
        ] {
            assert!(is_loopback_listen(loopback), "{loopback}");
        }
        for public in [
            "0.0.0.0:8080",
            ":8080",
            "[::]:8080",
            "192.168.1.10:8080",
            "10.0.0.1:1",
            "128.0.0.1:80",
            "not an address",
        ] {
            assert!(!is_loopback_listen(public), "{public}");
        }
    }

    #[test]
    fn wrong_type_is_named() {
        let err = parse("[server]\nmax_body_bytes = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_body_bytes"), "{err}");
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let mut config = parse(
            "[server]\nlisten = \"nowhere\"\nheader_read_timeout_secs = 0.0\nbody_read_timeout_secs = -1.0\nmax_connections = 0\n[aws]\naccount_id = \"12\"\n[queue]\nmax_pending_per_campaign = 0\nretention_days = 0.0\n[throttling.operations.Nope]\nper_second = 1.0\nburst = 1\n",
        )
        .unwrap();
        config.apply_env(&EnvOverrides {
            database_url: Some("mysql://x".into()),
            access_keys: Some("broken".into()),
            connect_events_key: None,
        });
        let problems = config.validate().join("\n");
        for key in [
            "server.listen",
            "server.header_read_timeout_secs",
            "server.body_read_timeout_secs",
            "server.max_connections",
            "aws.account_id",
            "queue.max_pending_per_campaign",
            "queue.retention_days",
            "throttling.operations.Nope",
            "auth.access_keys[0]",
            "database.url",
        ] {
            assert!(problems.contains(key), "missing {key} in {problems}");
        }
    }

    #[test]
    fn pools_and_ingest_bounds_are_checked() {
        let config = parse(
            "[auth]\naccess_keys = [\"AK:s\"]\n[database]\nmax_connections = 8\nengine_max_connections = 24\n[queue]\ningest_max_concurrent_batches = 3\ningest_max_waiting_batches = 10\n",
        )
        .unwrap();
        assert_eq!(config.database.engine_max_connections, 24);
        assert_eq!(config.queue.ingest_max_concurrent_batches, 3);
        assert_eq!(config.queue.ingest_max_waiting_batches, 10);
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let defaults = Config::default().validate().join("\n");
        assert!(
            !defaults.contains("ingest") && !defaults.contains("engine_max"),
            "{defaults}"
        );

        for (toml, key) in [
            (
                "[database]\nengine_max_connections = 1\n",
                "database.engine_max_connections",
            ),
            (
                "[queue]\ningest_max_concurrent_batches = 0\n",
                "queue.ingest_max_concurrent_batches",
            ),
            // Every batch holds an API connection: some must be left for the other calls.
            (
                "[database]\nmax_connections = 4\n[queue]\ningest_max_concurrent_batches = 4\n",
                "queue.ingest_max_concurrent_batches",
            ),
            (
                "[queue]\ningest_max_concurrent_batches_idle = 0\n",
                "queue.ingest_max_concurrent_batches_idle",
            ),
            (
                "[queue]\ningest_max_waiting_batches = 100001\n",
                "queue.ingest_max_waiting_batches",
            ),
        ] {
            let problems = parse(toml).unwrap().validate().join("\n");
            assert!(problems.contains(key), "{toml}: {problems}");
        }
    }

    #[test]
    fn env_replaces_keys_and_url() {
        let mut config = Config::default();
        config.apply_env(&EnvOverrides {
            database_url: Some("postgres://db/x".into()),
            access_keys: Some("AK1:s1, AK2:s2".into()),
            connect_events_key: Some("events-secret".into()),
        });
        assert_eq!(
            config.contact_center.amazon_connect.events_key,
            "events-secret"
        );
        assert_eq!(config.database.url, "postgres://db/x");
        let keys = config.key_store().unwrap();
        assert_eq!(keys.get("AK2").map(AccessKey::secret), Some("s2"));
        assert!(config.validate().is_empty(), "{:?}", config.validate());
    }

    #[test]
    fn keys_belong_to_their_account_or_the_default_one() {
        let mut config = Config::default();
        config.aws.account_id = "111111111111".into();
        config.apply_env(&EnvOverrides {
            database_url: None,
            access_keys: Some("AK1:s1, AK2:s2:210987654321".into()),
            connect_events_key: None,
        });
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        let keys = config.key_store().unwrap();
        let account_of = |id| keys.get(id).map(|k| k.account.to_string());
        assert_eq!(account_of("AK1").as_deref(), Some("111111111111"));
        assert_eq!(account_of("AK2").as_deref(), Some("210987654321"));
        assert_eq!(keys.get("AK2").map(AccessKey::secret), Some("s2"));
        assert_eq!(keys.default_account().as_str(), "111111111111");
    }

    #[test]
    fn bad_account_id_names_the_key_but_not_the_secret() {
        let mut config = Config::default();
        config.auth.access_keys = vec![
            "AKGOOD:fine:210987654321".into(),
            "AKBAD:topsecret:2109876543".into(),
            "AKWORSE:topsecret:21098765432x".into(),
            "AKEMPTY:topsecret:".into(),
        ];
        let problems = config.validate();
        assert_eq!(problems.len(), 3, "{problems:?}");
        for (problem, key) in
            problems
                .iter()
                .zip(["[1] (key AKBAD)", "[2] (key AKWORSE)", "[3] (key AKEMPTY)"])
        {
            assert!(
                problem.contains(&format!("auth.access_keys{key}")),
                "{problem}"
            );
            assert!(problem.contains("12 digits"), "{problem}");
            assert!(!problem.contains("topsecret"), "{problem}");
        }
    }

    #[test]
    fn auth_without_keys_is_refused_but_can_be_disabled() {
        let mut config = Config::default();
        assert!(config
            .validate()
            .iter()
            .any(|p| p.contains("auth.access_keys")));
        config.auth.enabled = false;
        assert!(config.validate().is_empty());
    }

    /// The shipped, documented config file.
    const SHIPPED: &str = include_str!("../config/dialer.toml");

    #[test]
    fn the_amazon_connect_example_holds_once_its_secrets_are_set() {
        let text = include_str!("../config/dialer.amazon-connect.toml");
        let mut config = Config::from_toml(text, Path::new("config/dialer.amazon-connect.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let problems = config.validate().join("\n");
        assert!(problems.contains("DIALER_CONNECT_EVENTS_KEY"), "{problems}");
        config.apply_env(&EnvOverrides {
            database_url: None,
            access_keys: Some("AK:secret".into()),
            connect_events_key: Some("events".into()),
        });
        assert!(config.validate().is_empty(), "{:?}", config.validate());
        assert_eq!(
            config.contact_center.backend,
            crate::contact_center::BackendKind::AmazonConnect
        );
    }

    /// Every dotted key of `value` under `prefix` (`engine.tick_secs`,
    /// `contact_center.sim.queues.staffing.delta`): arrays of tables add their elements'
    /// keys under the array's own key, without an index.
    fn dotted_keys(
        prefix: &str,
        value: &toml::Value,
        keys: &mut std::collections::BTreeSet<String>,
    ) {
        let join = |key: &str| {
            if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            }
        };
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    let key = join(key);
                    if !matches!(value, toml::Value::Table(_)) {
                        keys.insert(key.clone());
                    }
                    dotted_keys(&key, value, keys);
                }
            }
            toml::Value::Array(items) => {
                for item in items.iter().filter(|item| item.is_table()) {
                    dotted_keys(prefix, item, keys);
                }
            }
            _ => {}
        }
    }

    /// The file with its commented-out settings switched on: a comment line whose text is a
    /// `key = value` or a `[table]` header is a setting, any other comment is prose.
    fn uncommented(text: &str) -> String {
        let is_setting = |line: &str| {
            let key: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!key.is_empty() && line[key.len()..].trim_start().starts_with('='))
                || (line.starts_with('[') && !line.contains(' '))
        };
        text.lines()
            .map(|line| match line.trim_start().strip_prefix('#') {
                Some(rest) if is_setting(rest.trim_start()) => rest.trim_start(),
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_shipped_file_documents_every_key() {
        use crate::contact_center::sim::model::{AnswerRateChange, StaffingChange};

        // The defaults, with one entry in each list whose entries have keys of their own,
        // so that their keys are listed too.
        let mut config = Config::default();
        let sim = &mut config.contact_center.sim;
        sim.queues[0].staffing.push(StaffingChange {
            at_secs: 0.0,
            delta: 1,
        });
        sim.customers.answer_rate_changes.push(AnswerRateChange {
            at_secs: 0.0,
            probability: 0.1,
        });
        config.templates.push(crate::sms::template::TemplateConfig {
            arn: "arn".into(),
            body: "body".into(),
        });
        let rule = crate::rules::retry::RetryRule {
            after_secs: 1800.0,
            max_attempts: 3,
        };
        let policy = crate::rules::retry::RetryPolicySpec {
            outcomes: [("no_answer".to_string(), rule)].into(),
        };
        config.retries.default = policy.clone();
        config.retries.campaigns.insert("sales".into(), policy);
        let mut want = std::collections::BTreeSet::new();
        let value = toml::Value::try_from(&config).unwrap_or_else(|e| panic!("{e}"));
        dotted_keys("", &value, &mut want);

        let all = uncommented(SHIPPED);
        // Commented-out settings are read like the others: a stale or misspelled one fails.
        let parsed = Config::from_toml(&all, Path::new("config/dialer.toml (uncommented)"));
        if let Err(e) = &parsed {
            panic!("{e}\n--- uncommented file:\n{all}");
        }
        let document: toml::Value = toml::from_str(&all).unwrap_or_else(|e| panic!("{e}"));
        let mut documented = std::collections::BTreeSet::new();
        dotted_keys("", &document, &mut documented);
        let missing: Vec<&String> = want.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "config/dialer.toml does not mention these keys (set or commented out): {missing:?}"
        );
    }

    #[test]
    fn the_shipped_file_shows_the_defaults() {
        let mut shipped = Config::from_toml(SHIPPED, Path::new("config/dialer.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            shipped.auth.access_keys,
            vec![format!(
                "{}:{}",
                crate::app::LOCAL_ACCESS_KEY.0,
                crate::app::LOCAL_ACCESS_KEY.1
            )]
        );
        // The one value that is not the default: the well-known local key, so the README's
        // examples work from a fresh clone.
        shipped.auth.access_keys.clear();
        assert_eq!(shipped, Config::default());
    }

    #[test]
    fn bad_templates_are_named_by_their_entry() {
        let config = Config::from_toml(
            "[[templates]]\narn = \"arn:t/1\"\nbody = \"Hi {{name\"\n",
            Path::new("t.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let problems = config.validate().join("\n");
        assert!(problems.contains("templates[0].body"), "{problems}");
    }

    #[test]
    fn debug_hides_secrets() {
        let mut config = Config::default();
        config.auth.access_keys = vec!["AK:supersecret".into()];
        config.database.url = "postgres://u:pw@h/db".into();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("supersecret") && !shown.contains("pw@"),
            "{shown}"
        );
    }
}
