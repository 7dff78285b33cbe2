//! Embedded PostgreSQL: a cluster the daemon owns when no `DATABASE_URL` is configured.
//!
//! The cluster lives under one directory (the "embedded root") that this module owns outright:
//!
//! ```text
//! <root>/pgdata/         PGDATA, created by initdb on first start and reused on every later one
//! <root>/run/            unix socket directory (mode 0700): the only way in, there is no TCP
//! <root>/postgres.log    server log (appended to by every start)
//! <root>/embedded.lock   advisory lock held by the owning daemon for as long as it runs
//! ```
//!
//! Invariants:
//! - The server listens on a unix socket only (`listen_addresses = ''`). Authentication is
//!   `trust`, so the private socket directory is the access control; a TCP port would let any
//!   local user in as superuser. The port number only names the socket file.
//! - Data persists across daemon restarts, including `kill -9`: the server runs in its own
//!   session (pg_ctl detaches it), so it outlives a killed daemon, and the next daemon on the
//!   same root finds it through `postmaster.pid` and reuses it. A `postmaster.pid` left by a
//!   dead server is left for PostgreSQL itself to judge (it also checks for orphaned
//!   backends); one naming a live process that is not this cluster's postmaster (a recycled
//!   pid) is removed, since PostgreSQL would refuse to start over it.
//! - At most one daemon owns a root at a time (`embedded.lock`). The kernel drops the lock when
//!   the owner dies, which is how a server left behind by a killed daemon is told apart from
//!   one still in use.
//! - initdb output only becomes `pgdata` by an atomic rename once initdb succeeded, so an
//!   interrupted first start never leaves a half-made cluster that looks real.
//! - initdb and the server refuse to run as root. As root, every server command runs as the
//!   `postgres` system user (via `runuser`, else `setpriv`) and the root directory is handed to
//!   that user; root can still reach the socket.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use tokio::process::Command;
use tokio::time::{sleep, timeout, Instant};
use tracing::{info, warn};

/// Port the server is told to use. With no TCP listener it only names the socket file
/// (`.s.PGSQL.5432`) inside a directory nobody else uses, so it can never clash.
const SOCKET_PORT: u16 = 5432;
/// How long `pg_ctl start` may take; generous because a start after a crash replays WAL.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `pg_ctl stop -m fast` may take before giving up.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a started (or reused) server may take to accept a sqlx connection.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest unix socket path the kernel accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Where Debian-style packages install versioned server binaries.
const VERSIONED_BIN_ROOT: &str = "/usr/lib/postgresql";
/// Name of the settings file this module rewrites before every start.
const SETTINGS_FILE: &str = "dialer-embedded.conf";
/// Bytes of the server log quoted in errors.
const LOG_TAIL_BYTES: u64 = 4096;

/// Errors from running the embedded cluster; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No usable `initdb`/`pg_ctl` pair was found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under \
         /usr/lib/postgresql/*/bin; install postgresql or set DATABASE_URL"
    )]
    BinariesNotFound,
    /// Running as root without a `postgres` user to hand the server to.
    #[error(
        "running as root, but there is no `postgres` system user to run the embedded \
         PostgreSQL server as (initdb and postgres refuse to run as root); set DATABASE_URL to \
         an external database, run the daemon as a non-root user, or create the user \
         (e.g. `useradd --system --user-group --home-dir /var/lib/postgresql postgres`)"
    )]
    NoPostgresUser,
    /// Running as root without a tool to switch to the `postgres` user.
    #[error(
        "running as root, but neither `runuser` nor `setpriv` is available to run the embedded \
         PostgreSQL server as the `postgres` user; install util-linux, run the daemon as a \
         non-root user, or set DATABASE_URL"
    )]
    NoUserSwitcher,
    /// The `postgres` user cannot use the embedded root (usually a parent directory is private).
    #[error(
        "the `postgres` user cannot write to the embedded PostgreSQL directory {path} (a parent \
         directory is probably not searchable by it); choose a data dir it can reach (e.g. under \
         /var/lib), run the daemon as a non-root user, or set DATABASE_URL"
    )]
    NotReachableByPostgres {
        /// The embedded root.
        path: PathBuf,
    },
    /// Another live process owns this embedded root.
    #[error(
        "another dialer process is using the embedded PostgreSQL directory {path}; stop it, \
         give this daemon a different data dir, or point every daemon at one shared database \
         with DATABASE_URL"
    )]
    InUse {
        /// The embedded root.
        path: PathBuf,
    },
    /// The socket path would exceed the kernel's limit.
    #[error(
        "the unix socket path {path} is {len} bytes, over the {MAX_SOCKET_PATH}-byte limit; use \
         a shorter data dir path or set DATABASE_URL"
    )]
    SocketPathTooLong {
        /// The socket file path that would be used.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// The data dir path cannot be written into a PostgreSQL settings file.
    #[error(
        "the data dir path {path} contains a line break, which PostgreSQL settings cannot \
         hold; use another path or set DATABASE_URL"
    )]
    UnsupportedPath {
        /// The offending path.
        path: PathBuf,
    },
    /// A filesystem or process-spawn operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done, e.g. "creating directory".
        action: &'static str,
        /// The path (or program) involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL tool exited unsuccessfully.
    #[error("`{command}` failed ({status}): {detail}")]
    CommandFailed {
        /// The command line, for the operator to rerun by hand.
        command: String,
        /// How it exited.
        status: String,
        /// Its output, and the server log's tail where that explains more.
        detail: String,
    },
    /// The server did not accept connections in time.
    #[error(
        "embedded PostgreSQL did not accept connections within {}s (last error: {last_error}); \
         end of {}:\n{log_tail}",
        READY_TIMEOUT.as_secs(),
        log.display()
    )]
    NotReady {
        /// The last connection error seen.
        last_error: String,
        /// The server log file.
        log: PathBuf,
        /// The end of the server log.
        log_tail: String,
    },
}

/// A running PostgreSQL cluster owned by this process.
///
/// Call [`EmbeddedPostgres::stop`] on shutdown. If it is dropped instead, `Drop` stops the
/// server synchronously (blocking the current thread for up to a minute) and logs failures.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    layout: Layout,
    bins: ServerBinaries,
    run_as: RunAs,
    /// Where the server's socket actually is: read back from `postmaster.pid` for a reused
    /// server, which may have been started with other settings.
    socket_dir: PathBuf,
    port: u16,
    /// Held (never read) for the advisory lock's lifetime; dropped after the server stops.
    _lock: File,
    /// Set once `stop` ran (or a test abandoned the server) so `Drop` does not stop it again.
    stopped: bool,
}

impl EmbeddedPostgres {
    /// Starts (or adopts) the embedded cluster under `data_dir`, creating it on first use,
    /// and returns once it accepts connections.
    pub async fn start(data_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        let bins = ServerBinaries::locate(std::env::var_os("PATH"), Path::new(VERSIONED_BIN_ROOT))?;
        let run_as = RunAs::detect().await?;
        let layout = Layout::create(data_dir).await?;
        let lock = layout.lock()?;
        info!(
            data_dir = %layout.root.display(),
            bin_dir = %bins.dir.display(),
            "no DATABASE_URL configured: using an embedded PostgreSQL cluster; \
             set DATABASE_URL to use an external database instead"
        );
        run_as.hand_over(&layout.root).await?;

        if !layout.pgdata.join("PG_VERSION").exists() {
            init_cluster(&bins, &run_as, &layout).await?;
        }

        let (socket_dir, port) = match find_running_server(&layout)? {
            Some(found) => match adopt(found, &layout).await {
                Some(endpoint) => endpoint,
                None => {
                    stop_server(&bins, &run_as, &layout).await?;
                    start_server(&bins, &run_as, &layout).await?
                }
            },
            None => start_server(&bins, &run_as, &layout).await?,
        };

        let embedded = EmbeddedPostgres {
            layout,
            bins,
            run_as,
            socket_dir,
            port,
            _lock: lock,
            stopped: false,
        };
        if let Err(last_error) = wait_ready(&embedded.url(), READY_TIMEOUT).await {
            return Err(EmbeddedError::NotReady {
                last_error,
                log_tail: log_tail(&embedded.layout.log),
                log: embedded.layout.log.clone(),
            });
        }
        info!(socket_dir = %embedded.socket_dir.display(), "embedded PostgreSQL is ready");
        Ok(embedded)
    }

    /// A `postgres://` URL for the cluster's superuser database, over the unix socket, e.g.
    /// `postgres://postgres@localhost/postgres?host=/abs/run&port=5432`.
    /// sqlx and libpq (psql) both read `host` starting with `/` as a socket directory.
    pub fn url(&self) -> String {
        socket_url(&self.socket_dir, self.port)
    }

    /// Stops the server with `pg_ctl stop -m fast` (open transactions are rolled back,
    /// committed data is safe) and waits for it to exit.
    pub async fn stop(mut self) -> Result<(), EmbeddedError> {
        // Whatever happens, the caller hears about it; Drop must not try a second time.
        self.stopped = true;
        stop_server(&self.bins, &self.run_as, &self.layout).await
    }

    /// Releases the lock without stopping the server: what a `kill -9` of the daemon does.
    #[cfg(test)]
    fn abandon(mut self) {
        self.stopped = true;
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let argv = self
            .run_as
            .argv(&self.bins.pg_ctl, &stop_args(&self.layout.pgdata));
        let result = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&self.layout.root)
            .stdin(Stdio::null())
            .output();
        match result {
            Ok(out) if out.status.success() || !self.layout.pid_file().exists() => {}
            Ok(out) => warn!(
                status = %out.status,
                output = %combined_output(&out),
                "could not stop the embedded PostgreSQL server on drop"
            ),
            Err(error) => {
                warn!(%error, "could not run pg_ctl to stop the embedded PostgreSQL server")
            }
        }
    }
}

/// Paths of one embedded root; all absolute and canonical.
#[derive(Debug)]
struct Layout {
    root: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
}

impl Layout {
    /// Creates the root and socket directories and checks the socket path fits.
    async fn create(data_dir: &Path) -> Result<Layout, EmbeddedError> {
        tokio::fs::create_dir_all(data_dir)
            .await
            .map_err(|source| io_error("creating directory", data_dir, source))?;
        let root = tokio::fs::canonicalize(data_dir)
            .await
            .map_err(|source| io_error("resolving", data_dir, source))?;
        if root.as_os_str().as_bytes().contains(&b'\n') {
            return Err(EmbeddedError::UnsupportedPath { path: root });
        }
        let layout = Layout {
            pgdata: root.join("pgdata"),
            socket_dir: root.join("run"),
            log: root.join("postgres.log"),
            root,
        };
        let socket = layout.socket_dir.join(format!(".s.PGSQL.{SOCKET_PORT}"));
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong { path: socket, len });
        }
        tokio::fs::create_dir_all(&layout.socket_dir)
            .await
            .map_err(|source| io_error("creating directory", &layout.socket_dir, source))?;
        // With trust authentication, the socket directory's mode is the access control.
        tokio::fs::set_permissions(&layout.socket_dir, std::fs::Permissions::from_mode(0o700))
            .await
            .map_err(|source| io_error("restricting permissions of", &layout.socket_dir, source))?;
        Ok(layout)
    }

    /// Takes the root's advisory lock, failing if a live process holds it.
    fn lock(&self) -> Result<File, EmbeddedError> {
        let path = self.root.join("embedded.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| io_error("opening", &path, source))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(TryLockError::WouldBlock) => Err(EmbeddedError::InUse {
                path: self.root.clone(),
            }),
            Err(TryLockError::Error(source)) => Err(io_error("locking", &path, source)),
        }
    }

    fn pid_file(&self) -> PathBuf {
        self.pgdata.join("postmaster.pid")
    }
}

/// The directory holding a matching `initdb` and `pg_ctl` (pg_ctl finds `postgres` itself).
#[derive(Debug)]
struct ServerBinaries {
    dir: PathBuf,
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

impl ServerBinaries {
    /// Searches `path_var` (a `PATH` value) first, then the highest version under
    /// `versioned_root` (`<root>/<version>/bin`).
    fn locate(
        path_var: Option<OsString>,
        versioned_root: &Path,
    ) -> Result<ServerBinaries, EmbeddedError> {
        // Relative entries (including the empty one, meaning ".") would resolve against
        // whatever directory a command later runs in, so only absolute ones count.
        let on_path = path_var
            .iter()
            .flat_map(std::env::split_paths)
            .filter(|dir| dir.is_absolute())
            .find_map(|dir| ServerBinaries::in_dir(&dir));
        if let Some(found) = on_path {
            return Ok(found);
        }
        let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(versioned_root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let key = version_key(&entry.file_name().to_string_lossy())?;
                Some((key, entry.path().join("bin")))
            })
            .collect();
        versions.sort();
        versions
            .iter()
            .rev()
            .find_map(|(_, dir)| ServerBinaries::in_dir(dir))
            .ok_or(EmbeddedError::BinariesNotFound)
    }

    fn in_dir(dir: &Path) -> Option<ServerBinaries> {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        (is_executable(&initdb) && is_executable(&pg_ctl)).then(|| ServerBinaries {
            dir: dir.to_path_buf(),
            initdb,
            pg_ctl,
        })
    }
}

/// Numeric sort key of a version directory name ("16", "9.6"); `None` for anything else.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Which user PostgreSQL commands run as.
#[derive(Debug)]
enum RunAs {
    /// Not root: run everything directly.
    CurrentUser,
    /// Root: run as the `postgres` system user through a switcher.
    Postgres(Switcher),
}

/// A tool that lets root run a command as `postgres`.
#[derive(Debug)]
enum Switcher {
    Runuser,
    Setpriv,
}

impl RunAs {
    async fn detect() -> Result<RunAs, EmbeddedError> {
        if effective_uid().await != Some(0) {
            return Ok(RunAs::CurrentUser);
        }
        if !succeeds(Command::new("id").args(["-u", "postgres"])).await {
            return Err(EmbeddedError::NoPostgresUser);
        }
        if succeeds(Command::new("runuser").arg("--version")).await {
            Ok(RunAs::Postgres(Switcher::Runuser))
        } else if succeeds(Command::new("setpriv").arg("--version")).await {
            Ok(RunAs::Postgres(Switcher::Setpriv))
        } else {
            Err(EmbeddedError::NoUserSwitcher)
        }
    }

    /// The full argument vector (program first) that runs `program args` as the right user.
    fn argv(&self, program: &Path, args: &[OsString]) -> Vec<OsString> {
        let prefix: &[&str] = match self {
            RunAs::CurrentUser => &[],
            RunAs::Postgres(Switcher::Runuser) => &["runuser", "-u", "postgres", "--"],
            RunAs::Postgres(Switcher::Setpriv) => &[
                "setpriv",
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ],
        };
        prefix
            .iter()
            .map(OsString::from)
            .chain(std::iter::once(program.as_os_str().to_owned()))
            .chain(args.iter().cloned())
            .collect()
    }

    /// As root, gives `path` (recursively) to the `postgres` user and checks that user can
    /// write it, which also proves every parent directory lets it through.
    async fn hand_over(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let RunAs::CurrentUser = self {
            return Ok(());
        }
        let chown = [OsString::from("-R"), "postgres:".into(), path.into()];
        run(Path::new("chown"), &chown, Path::new("/")).await?;
        let probe = [OsString::from("-w"), path.into()];
        let argv = self.argv(Path::new("test"), &probe);
        if !succeeds(Command::new(&argv[0]).args(&argv[1..]).current_dir("/")).await {
            return Err(EmbeddedError::NotReachableByPostgres {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// Runs a PostgreSQL tool as the right user, failing on a non-zero exit.
    async fn run(
        &self,
        program: &Path,
        args: &[OsString],
        cwd: &Path,
    ) -> Result<Output, EmbeddedError> {
        let argv = self.argv(program, args);
        run(Path::new(&argv[0]), &argv[1..], cwd).await
    }
}

/// The effective uid, from `/proc/self/status`, else `id -u`; `None` if neither answers.
async fn effective_uid() -> Option<u32> {
    if let Ok(status) = tokio::fs::read_to_string("/proc/self/status").await {
        if let Some(uid) = parse_effective_uid(&status) {
            return Some(uid);
        }
    }
    let out = Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The effective uid from a `/proc/<pid>/status` text (`Uid:` lists real, effective, ...).
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// Creates the cluster: initdb into a scratch directory, then rename it into place.
async fn init_cluster(
    bins: &ServerBinaries,
    run_as: &RunAs,
    layout: &Layout,
) -> Result<(), EmbeddedError> {
    let scratch = layout.root.join("pgdata.initdb");
    // A leftover here is an initdb that was interrupted; it never became the cluster.
    match tokio::fs::remove_dir_all(&scratch).await {
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_error("removing", &scratch, source));
        }
        _ => {}
    }
    info!(pgdata = %layout.pgdata.display(), "initializing a new embedded PostgreSQL cluster");
    let args: Vec<OsString> = vec![
        "-D".into(),
        scratch.clone().into(),
        "--auth=trust".into(),
        "-U".into(),
        "postgres".into(),
        "--encoding=UTF8".into(),
        "--locale=C".into(),
    ];
    run_as.run(&bins.initdb, &args, &layout.root).await?;
    let conf = scratch.join("postgresql.conf");
    let include = format!(
        "\n# Added by dialer: socket settings, rewritten before every start.\n\
         include_if_exists = '{SETTINGS_FILE}'\n"
    );
    let mut text = tokio::fs::read_to_string(&conf)
        .await
        .map_err(|source| io_error("reading", &conf, source))?;
    text.push_str(&include);
    tokio::fs::write(&conf, text)
        .await
        .map_err(|source| io_error("writing", &conf, source))?;
    tokio::fs::rename(&scratch, &layout.pgdata)
        .await
        .map_err(|source| io_error("renaming initdb output to", &layout.pgdata, source))
}

/// What `postmaster.pid` says about a server (lines 1, 4 and 5 of the file).
#[derive(Debug, PartialEq)]
struct PidFile {
    pid: u32,
    port: u16,
    /// The first socket directory; absent until the server has created its sockets.
    socket_dir: Option<PathBuf>,
}

fn parse_pid_file(text: &str) -> Option<PidFile> {
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    let port = lines.get(3)?.trim().parse().ok()?;
    let socket_dir = lines
        .get(4)
        .map(|line| line.trim())
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    Some(PidFile {
        pid,
        port,
        socket_dir,
    })
}

/// Returns the server recorded in `postmaster.pid` if it is alive and really this cluster's
/// postmaster; clears lock files that would otherwise stop a new server from starting.
fn find_running_server(layout: &Layout) -> Result<Option<PidFile>, EmbeddedError> {
    let pid_path = layout.pid_file();
    let text = match std::fs::read_to_string(&pid_path) {
        Ok(text) => text,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error("reading", &pid_path, source)),
    };
    let Some(found) = parse_pid_file(&text) else {
        // PostgreSQL refuses to start over an empty or torn lock file; nothing can own it.
        warn!(path = %pid_path.display(), "removing unreadable postmaster.pid");
        remove_if_present(&pid_path)?;
        return Ok(None);
    };
    let proc_dir = PathBuf::from(format!("/proc/{}", found.pid));
    let state = std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|stat| process_state(&stat));
    let Some(state) = state else {
        // Dead: PostgreSQL handles this lock file itself, checking for orphaned backends too.
        return Ok(None);
    };
    let cwd = std::fs::read_link(proc_dir.join("cwd")).ok();
    // A postmaster runs with PGDATA as its working directory; nothing else does.
    if state != 'Z' && cwd.as_deref() == Some(layout.pgdata.as_path()) {
        return Ok(Some(found));
    }
    // The pid now belongs to another process (or a zombie): PostgreSQL would take it for a
    // live server and refuse to start, so the stale lock files must go.
    warn!(
        pid = found.pid,
        "removing stale postmaster.pid naming an unrelated process"
    );
    remove_if_present(&pid_path)?;
    if let Some(dir) = &found.socket_dir {
        remove_if_present(&dir.join(format!(".s.PGSQL.{}.lock", found.port)))?;
    }
    Ok(None)
}

/// The state letter from a `/proc/<pid>/stat` text ("R", "S", "Z", ...).
fn process_state(stat: &str) -> Option<char> {
    // The command name is in parentheses and may itself contain spaces or parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().next()?.chars().next()
}

/// Tries to use a server left running by a previous daemon; `None` means restart it.
async fn adopt(found: PidFile, layout: &Layout) -> Option<(PathBuf, u16)> {
    let Some(socket_dir) = found.socket_dir else {
        warn!(
            pid = found.pid,
            "running embedded PostgreSQL server has no socket yet; restarting it"
        );
        return None;
    };
    info!(
        pid = found.pid,
        pgdata = %layout.pgdata.display(),
        "adopting the embedded PostgreSQL server left running by a previous dialer process"
    );
    match wait_ready(&socket_url(&socket_dir, found.port), READY_TIMEOUT).await {
        Ok(()) => Some((socket_dir, found.port)),
        Err(error) => {
            warn!(
                pid = found.pid,
                %error,
                "left-over embedded PostgreSQL server is not answering; restarting it"
            );
            None
        }
    }
}

/// Writes the socket settings and starts the server; returns its socket directory and port.
async fn start_server(
    bins: &ServerBinaries,
    run_as: &RunAs,
    layout: &Layout,
) -> Result<(PathBuf, u16), EmbeddedError> {
    let settings_path = layout.pgdata.join(SETTINGS_FILE);
    tokio::fs::write(
        &settings_path,
        settings_text(&layout.socket_dir, SOCKET_PORT),
    )
    .await
    .map_err(|source| io_error("writing", &settings_path, source))?;
    run_as.hand_over(&settings_path).await?;
    let args: Vec<OsString> = vec![
        "start".into(),
        "-D".into(),
        layout.pgdata.clone().into(),
        "-l".into(),
        layout.log.clone().into(),
        "-w".into(),
        "-t".into(),
        START_TIMEOUT.as_secs().to_string().into(),
        "-s".into(),
    ];
    match run_as.run(&bins.pg_ctl, &args, &layout.root).await {
        Ok(_) => Ok((layout.socket_dir.clone(), SOCKET_PORT)),
        Err(EmbeddedError::CommandFailed {
            command,
            status,
            detail,
        }) => Err(EmbeddedError::CommandFailed {
            command,
            status,
            detail: format!(
                "{detail}\nend of {}:\n{}",
                layout.log.display(),
                log_tail(&layout.log)
            ),
        }),
        Err(other) => Err(other),
    }
}

/// Stops the server with a fast shutdown; a server that is already gone is not an error.
async fn stop_server(
    bins: &ServerBinaries,
    run_as: &RunAs,
    layout: &Layout,
) -> Result<(), EmbeddedError> {
    match run_as
        .run(&bins.pg_ctl, &stop_args(&layout.pgdata), &layout.root)
        .await
    {
        Err(EmbeddedError::CommandFailed { .. }) if !layout.pid_file().exists() => Ok(()),
        other => {
            other.map(|_| info!(pgdata = %layout.pgdata.display(), "embedded PostgreSQL stopped"))
        }
    }
}

fn stop_args(pgdata: &Path) -> Vec<OsString> {
    vec![
        "stop".into(),
        "-D".into(),
        pgdata.into(),
        "-m".into(),
        "fast".into(),
        "-w".into(),
        "-t".into(),
        STOP_TIMEOUT.as_secs().to_string().into(),
        "-s".into(),
    ]
}

/// The settings file: unix socket only, in our private directory.
fn settings_text(socket_dir: &Path, port: u16) -> String {
    // Double quotes make the directory one list element even if it holds a comma; the
    // single-quoted string then escapes quotes and backslashes for the config parser.
    let element = format!("\"{}\"", socket_dir.to_string_lossy().replace('"', "\"\""));
    let value = element.replace('\\', "\\\\").replace('\'', "''");
    format!(
        "# Written by dialer before every start of the embedded cluster; edits are lost.\n\
         listen_addresses = ''\n\
         unix_socket_directories = '{value}'\n\
         port = {port}\n"
    )
}

/// A sqlx/libpq URL for the `postgres` database over the socket in `socket_dir`.
fn socket_url(socket_dir: &Path, port: u16) -> String {
    let mut host = String::new();
    for &byte in socket_dir.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            host.push(char::from(byte));
        } else {
            host.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("postgres://postgres@localhost/postgres?host={host}&port={port}")
}

/// Polls until a sqlx connection to `url` succeeds; on timeout returns the last error.
async fn wait_ready(url: &str, limit: Duration) -> Result<(), String> {
    let options = PgConnectOptions::from_str(url).map_err(|error| error.to_string())?;
    let deadline = Instant::now() + limit;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let last_error = match timeout(remaining, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => {
                // A failed goodbye still proved the server is up.
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "connection attempt timed out".to_owned(),
        };
        if Instant::now() >= deadline {
            return Err(last_error);
        }
        sleep(Duration::from_millis(100)).await;
    }
}

/// The last few KiB of the server log, for error messages.
fn log_tail(log: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(log)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|error| format!("(could not read the log: {error})"))
}

/// Runs a command to completion, failing with its output on a non-zero exit.
async fn run(program: &Path, args: &[OsString], cwd: &Path) -> Result<Output, EmbeddedError> {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| io_error("running", program, source))?;
    if out.status.success() {
        return Ok(out);
    }
    let command = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    Err(EmbeddedError::CommandFailed {
        command,
        status: out.status.to_string(),
        detail: combined_output(&out),
    })
}

/// Whether a command runs and exits zero; its output is discarded.
async fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

fn combined_output(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    text.trim().to_owned()
}

fn remove_if_present(path: &Path) -> Result<(), EmbeddedError> {
    match std::fs::remove_file(path) {
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
            Err(io_error("removing", path, source))
        }
        _ => Ok(()),
    }
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> EmbeddedError {
    EmbeddedError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir (reachable by `postgres` when root).
    fn scratch_dir(tag: &str) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("dialer-embedded-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_tool(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn version_dirs_sort_numerically() {
        let mut keys = vec![version_key("9.6"), version_key("16"), version_key("10")];
        keys.sort();
        assert_eq!(keys, vec![Some(vec![9, 6]), Some(vec![10]), Some(vec![16])]);
        assert_eq!(version_key("main"), None);
        assert_eq!(version_key("15.x"), None);
    }

    #[test]
    fn binaries_prefer_path_then_highest_version() {
        let root = scratch_dir("bins");
        let versioned = root.join("lib");
        for version in ["9.6", "16", "10"] {
            fake_tool(&versioned.join(version).join("bin/initdb"));
            fake_tool(&versioned.join(version).join("bin/pg_ctl"));
        }
        // Only initdb in 17: an incomplete install must be skipped.
        fake_tool(&versioned.join("17/bin/initdb"));
        let found = ServerBinaries::locate(None, &versioned).unwrap();
        assert_eq!(found.dir, versioned.join("16/bin"));

        let on_path = root.join("path-bin");
        fake_tool(&on_path.join("initdb"));
        fake_tool(&on_path.join("pg_ctl"));
        // A relative entry is never used, even when it leads to the tools.
        let rel_bin = root.join("rel-bin");
        fake_tool(&rel_bin.join("initdb"));
        fake_tool(&rel_bin.join("pg_ctl"));
        let cwd = std::env::current_dir().unwrap();
        let up = cwd.components().skip(1).map(|_| "..").collect::<PathBuf>();
        let relative = up.join(rel_bin.strip_prefix("/").unwrap());
        assert!(ServerBinaries::in_dir(&relative).is_some());
        let path_var =
            std::env::join_paths([relative, root.join("empty"), on_path.clone()]).unwrap();
        let found = ServerBinaries::locate(Some(path_var), &versioned).unwrap();
        assert_eq!(found.pg_ctl, on_path.join("pg_ctl"));

        let missing = ServerBinaries::locate(Some(OsString::new()), &root.join("nowhere"));
        assert!(matches!(missing, Err(EmbeddedError::BinariesNotFound)));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn effective_uid_is_the_second_uid_field() {
        let status = "Name:\tdialer\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tdialer\n"), None);
    }

    #[test]
    fn postmaster_pid_file_is_parsed() {
        let text =
            "17827\n/tmp/x/pgdata\n1795437523\n5432\n/tmp/x/run\n\n 10010654         8\nready   \n";
        assert_eq!(
            parse_pid_file(text),
            Some(PidFile {
                pid: 17827,
                port: 5432,
                socket_dir: Some(PathBuf::from("/tmp/x/run")),
            })
        );
        let starting = "17827\n/tmp/x/pgdata\n1795437523\n5432\n\n";
        assert_eq!(parse_pid_file(starting).and_then(|f| f.socket_dir), None);
        assert_eq!(parse_pid_file(""), None);
        assert_eq!(parse_pid_file("17827\n/tmp/x/pgdata\n"), None);
    }

    #[test]
    fn process_state_survives_odd_command_names() {
        assert_eq!(process_state("42 (postgres) S 1 42 42 0"), Some('S'));
        assert_eq!(process_state("42 (a) b (c) Z 1 42"), Some('Z'));
        assert_eq!(process_state("garbage"), None);
    }

    #[test]
    fn socket_url_round_trips_through_sqlx() {
        let dir = Path::new("/var/lib/my dialer/a&b%c/run");
        let url = socket_url(dir, 6543);
        let options = PgConnectOptions::from_str(&url).unwrap();
        assert_eq!(options.get_socket(), Some(&dir.to_path_buf()));
        assert_eq!(options.get_port(), 6543);
        assert_eq!(options.get_username(), "postgres");
        assert_eq!(options.get_database(), Some("postgres"));
    }

    #[test]
    fn settings_quote_awkward_socket_dirs() {
        let text = settings_text(Path::new("/srv/it's,\"odd\"\\dir"), 5432);
        assert!(text.contains("listen_addresses = ''\n"));
        assert!(text.contains("unix_socket_directories = '\"/srv/it''s,\"\"odd\"\"\\\\dir\"'\n"));
        assert!(text.contains("port = 5432\n"));
    }

    async fn query_count(url: &str) -> i64 {
        let mut conn = PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("select count(*) from kept")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }

    fn postmaster_pid(root: &Path) -> u32 {
        let text = std::fs::read_to_string(root.join("pgdata/postmaster.pid")).unwrap();
        parse_pid_file(&text).unwrap().pid
    }

    /// One cluster through its whole life: create, write, abandoned (as by `kill -9` of the
    /// daemon) and adopted, refused to a second owner, stopped and restarted over a stale
    /// pid file naming a live unrelated process, and stopped for good.
    #[tokio::test]
    async fn cluster_keeps_data_across_abandonment_and_restarts() {
        let root = scratch_dir("life");
        let first = EmbeddedPostgres::start(&root).await.unwrap();
        let url = first.url();
        assert!(
            url.contains("?host=") && !url.contains("127.0.0.1"),
            "{url}"
        );
        let mut conn = PgConnection::connect(&url).await.unwrap();
        sqlx::query("create table kept (id int primary key)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("insert into kept values (1), (2)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let first_pid = postmaster_pid(&root);

        let second_owner = EmbeddedPostgres::start(&root).await;
        assert!(
            matches!(second_owner, Err(EmbeddedError::InUse { .. })),
            "{second_owner:?}"
        );

        first.abandon();
        let adopted = EmbeddedPostgres::start(&root).await.unwrap();
        assert_eq!(
            postmaster_pid(&root),
            first_pid,
            "the running server is reused"
        );
        assert_eq!(query_count(&adopted.url()).await, 2);
        adopted.stop().await.unwrap();
        assert!(!root.join("pgdata/postmaster.pid").exists());

        // A crash leaves postmaster.pid behind; here its pid is recycled by this test process.
        let stale = format!(
            "{}\n{}\n0\n5432\n{}\n",
            std::process::id(),
            root.join("pgdata").display(),
            root.join("run").display()
        );
        std::fs::write(root.join("pgdata/postmaster.pid"), stale).unwrap();
        let restarted = EmbeddedPostgres::start(&root).await.unwrap();
        assert_ne!(postmaster_pid(&root), first_pid);
        assert_eq!(query_count(&restarted.url()).await, 2);
        restarted.stop().await.unwrap();

        std::fs::remove_dir_all(&root).unwrap();
    }
}
