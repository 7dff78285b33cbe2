//! Config reload without restart, on SIGHUP and when the file changes.
//!
//! The new file is loaded and validated like at start; an invalid file is refused with a
//! log line naming every problem, and the running config stays in force. What changes in
//! place: pacing (`[pacing]`), rate limits (`[throttling]`), the log level, the retention
//! (`queue.retention_days`), the SMS templates (`[[templates]]`) and the retry policies
//! (`[retries]`). In-flight calls are untouched. Other sections take effect at the next
//! restart, which is logged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::api::throttle::Throttle;
use crate::config::{Config, EnvOverrides};
use crate::metrics as m;
use crate::pacing::PacingConfig;
use crate::rules::retry::RetriesConfig;
use crate::sms::template::Templates;

/// How often the file's modification time is checked.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The parts of the running daemon a reload swaps.
#[derive(Clone)]
pub struct Reloadable {
    /// Rate limiters used by the API edge.
    pub throttle: Arc<RwLock<Arc<Throttle>>>,
    /// Pacing settings read by the scheduler at every decision.
    pub pacing: Arc<RwLock<Arc<PacingConfig>>>,
    /// How long finished requests are kept, read by the sweeper at every pass.
    pub retention: Arc<RwLock<Arc<Duration>>>,
    /// SMS templates, read by the engine for every message.
    pub templates: Arc<RwLock<Arc<Templates>>>,
    /// Retry policies (`[retries]`), read by the event writers at every write.
    pub retries: Arc<RwLock<Arc<RetriesConfig>>>,
}

impl Reloadable {
    /// Handles holding `config`'s values.
    pub fn new(config: &Config) -> Self {
        Self {
            throttle: Arc::new(RwLock::new(Arc::new(Throttle::new(&config.throttling)))),
            pacing: Arc::new(RwLock::new(Arc::new(config.pacing.clone()))),
            retention: Arc::new(RwLock::new(Arc::new(retention(&config.queue)))),
            templates: Arc::new(RwLock::new(Arc::new(templates(config)))),
            retries: Arc::new(RwLock::new(Arc::new(config.retries.clone()))),
        }
    }
}

/// `queue.retention_days` as a duration (validation keeps it positive and finite).
pub fn retention(queue: &crate::config::QueueConfig) -> Duration {
    Duration::try_from_secs_f64(queue.retention_days * 86_400.0).unwrap_or(Duration::MAX)
}

/// `[[templates]]` as a registry; a config that passed validation has none that fails.
pub fn templates(config: &Config) -> Templates {
    Templates::from_config(&config.templates).unwrap_or_default()
}

/// Reads the current value of a swappable setting.
pub fn current<T>(slot: &RwLock<Arc<T>>) -> Arc<T> {
    slot.read()
        .map(|v| v.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
}

fn replace<T>(slot: &RwLock<Arc<T>>, value: T) {
    let mut guard = slot
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *guard = Arc::new(value);
}

/// Where the config came from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The file.
    pub path: PathBuf,
    /// Whether it is the default path (a missing default file means built-in defaults).
    pub is_default: bool,
    /// `--listen`, which overrides the file's `server.listen`.
    pub listen_override: Option<String>,
}

/// Watches the file and applies valid changes.
#[derive(Clone)]
pub struct Reloader {
    /// Where to read.
    pub source: ConfigSource,
    /// What is in force.
    pub current: Config,
    /// What to swap.
    pub targets: Reloadable,
    /// The file's keys and values as last loaded, to name what a reload changes.
    document: BTreeMap<String, String>,
}

/// Keys whose values are secrets: a reload says that they changed, never what to.
const SECRET_KEYS: &[&str] = &[
    "auth.access_keys",
    "database.url",
    "contact_center.amazon_connect.events_key",
];

/// Every leaf of a TOML document as `dotted.key -> value`; arrays count as one value.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            leaf => {
                let shown = if SECRET_KEYS.contains(&path.as_str()) {
                    "(hidden)".to_string()
                } else {
                    leaf.to_string()
                };
                out.insert(path, shown);
            }
        }
    }
}

/// The file's keys and values, or none if it cannot be read as TOML.
fn read_document(path: &std::path::Path) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    if let Some(table) = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
    {
        flatten("", &table, &mut keys);
    }
    keys
}

/// `key: old -> new` for every key whose value differs (`(default)` where a file has none).
fn changed_keys(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (before, after) = (old.get(key), new.get(key));
            let changed =
                before != after || (SECRET_KEYS.contains(&key.as_str()) && before.is_some());
            let shown = |v: Option<&String>| v.map_or("(default)".to_string(), String::clone);
            changed.then(|| format!("{key}: {} -> {}", shown(before), shown(after)))
        })
        .collect()
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Reloader {
    /// A reloader of the file `source` names, whose loaded config `current` is in force.
    pub fn new(source: ConfigSource, current: Config, targets: Reloadable) -> Self {
        let document = read_document(&source.path);
        Self {
            source,
            current,
            targets,
            document,
        }
    }

    /// Runs until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) -> crate::supervisor::ServiceResult {
        #[cfg(unix)]
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; config reload only on file change");
                None
            }
        };
        let mut seen = modified(&self.source.path);
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<()>();
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = hup => {
                    seen = modified(&self.source.path);
                    self.reload("SIGHUP");
                }
                _ = tokio::time::sleep(WATCH_INTERVAL) => {
                    let now = modified(&self.source.path);
                    if now != seen {
                        seen = now;
                        self.reload("file changed");
                    }
                }
            }
        }
    }

    /// Loads, validates and applies the file; returns whether it was applied.
    pub fn reload(&mut self, trigger: &str) -> bool {
        let path = &self.source.path;
        let new = match Config::load(path, self.source.is_default, &EnvOverrides::from_env()) {
            Ok(mut new) => {
                if let Some(listen) = &self.source.listen_override {
                    new.server.listen = listen.clone();
                }
                new
            }
            Err(error) => {
                for problem in error.problems() {
                    tracing::error!(%trigger, file = %path.display(), "config reload rejected: {problem}");
                }
                tracing::error!(%trigger, "the running config stays in force");
                metrics::counter!(m::CONFIG_RELOADS, m::RESULT => "rejected").increment(1);
                return false;
            }
        };
        let document = read_document(path);
        for change in changed_keys(&self.document, &document) {
            tracing::info!(%trigger, "config change: {change}");
        }
        self.document = document;
        let mut changed = Vec::new();
        if new.pacing != self.current.pacing {
            replace(&self.targets.pacing, new.pacing.clone());
            changed.push("pacing");
        }
        if new.throttling != self.current.throttling {
            replace(&self.targets.throttle, Throttle::new(&new.throttling));
            changed.push("throttling");
        }
        if new.log.level != self.current.log.level {
            match crate::logging::set_level(&new.log.level) {
                Ok(()) => changed.push("log.level"),
                Err(error) => tracing::warn!(%error, "log.level not applied"),
            }
        }
        if new.queue.retention_days != self.current.queue.retention_days {
            replace(&self.targets.retention, retention(&new.queue));
            changed.push("queue.retention_days");
        }
        if new.templates != self.current.templates {
            replace(&self.targets.templates, templates(&new));
            changed.push("templates");
        }
        if new.retries != self.current.retries {
            replace(&self.targets.retries, new.retries.clone());
            changed.push("retries");
        }
        let old = &self.current;
        // Retention is applied above; the rest of [queue] waits for a restart.
        let queue_rest = crate::config::QueueConfig {
            retention_days: old.queue.retention_days,
            ..new.queue.clone()
        };
        let restart_only: Vec<&str> = [
            ("server", new.server != old.server),
            ("aws", new.aws != old.aws),
            ("auth", new.auth != old.auth),
            ("database", new.database != old.database),
            ("queue", queue_rest != old.queue),
            ("engine", new.engine != old.engine),
            ("contact_center", new.contact_center != old.contact_center),
            ("log.format", new.log.format != old.log.format),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect();
        if !restart_only.is_empty() {
            tracing::warn!(sections = ?restart_only, "config changes that take effect at the next restart");
        }
        tracing::info!(%trigger, file = %path.display(), applied = ?changed, "config reloaded");
        metrics::counter!(m::CONFIG_RELOADS, m::RESULT => "applied").increment(1);
        self.current = new;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_key_with_its_old_and_new_value_and_hide_secrets() {
        let read = |text: &str| {
            let mut keys = BTreeMap::new();
            flatten("", &text.parse::<toml::Table>().unwrap(), &mut keys);
            keys
        };
        let old = read("[engine]\ntick_secs = 0.25\n[auth]\naccess_keys = [\"AK:old\"]\n[pacing]\nmode = \"a\"\n");
        let new = read("[engine]\ntick_secs = 0.5\n[auth]\naccess_keys = [\"AK:new\"]\n[log]\nlevel = \"debug\"\n");
        assert_eq!(
            changed_keys(&old, &new),
            [
                "auth.access_keys: (hidden) -> (hidden)",
                "engine.tick_secs: 0.25 -> 0.5",
                "log.level: (default) -> \"debug\"",
                "pacing.mode: \"a\" -> (default)",
            ]
        );
    }

    fn write(path: &std::path::Path, target: f64, rate: f64) {
        let text = format!(
            "[auth]\naccess_keys = [\"AK:secret\"]\n[pacing]\nabandonment_target = {target}\n[throttling]\ndefault = {{ per_second = {rate}, burst = 1 }}\n"
        );
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn valid_changes_apply_and_invalid_files_keep_the_running_config() {
        let dir = std::env::temp_dir().join(format!("dialer-reload-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dialer.toml");
        write(&path, 0.03, 1000.0);
        let config = Config::load(&path, false, &EnvOverrides::default()).unwrap();
        let targets = Reloadable::new(&config);
        let mut reloader = Reloader::new(
            ConfigSource {
                path: path.clone(),
                is_default: false,
                listen_override: None,
            },
            config,
            targets.clone(),
        );

        write(&path, 0.02, 0.001);
        assert!(reloader.reload("test"));
        assert_eq!(current(&targets.pacing).abandonment_target, 0.02);
        let throttle = current(&targets.throttle);
        assert!(throttle.allow("ListCampaigns", "k"));
        assert!(
            !throttle.allow("ListCampaigns", "k"),
            "the new, tiny rate is in force"
        );

        write(&path, 0.9, 1000.0);
        assert!(!reloader.reload("test"));
        assert_eq!(
            current(&targets.pacing).abandonment_target,
            0.02,
            "old value kept"
        );
        std::fs::write(&path, "[pacing\n").unwrap();
        assert!(!reloader.reload("test"));
        assert_eq!(current(&targets.pacing).abandonment_target, 0.02);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retention_changes_in_place() {
        let dir = std::env::temp_dir().join(format!("dialer-reload-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dialer.toml");
        let keys = "[auth]\naccess_keys = [\"AK:secret\"]\n";
        std::fs::write(&path, keys).unwrap();
        let config = Config::load(&path, false, &EnvOverrides::default()).unwrap();
        let targets = Reloadable::new(&config);
        assert_eq!(
            *current(&targets.retention),
            Duration::from_secs(30 * 86_400)
        );
        let source = ConfigSource {
            path: path.clone(),
            is_default: false,
            listen_override: None,
        };
        let mut reloader = Reloader::new(source, config, targets.clone());
        std::fs::write(&path, format!("{keys}[queue]\nretention_days = 0.5\n")).unwrap();
        assert!(reloader.reload("test"));
        assert_eq!(*current(&targets.retention), Duration::from_secs(43_200));
        std::fs::write(&path, format!("{keys}[queue]\nretention_days = -1.0\n")).unwrap();
        assert!(
            !reloader.reload("test"),
            "a retention of zero or less is refused"
        );
        assert_eq!(*current(&targets.retention), Duration::from_secs(43_200));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
