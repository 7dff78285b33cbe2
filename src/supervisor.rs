//! Keeps the daemon's background services running: the scheduler, the event sink, the
//! sweeper, the reloader. A service that fails (returns an error, panics, or ends on its
//! own before shutdown) is logged, counted in `dialer_service_restarts_total{service}` and
//! started again after a backoff; one that keeps failing ends the daemon with an error, so
//! that its supervisor (systemd, Kubernetes) restarts the process and someone hears of it.
//! [`Health`] says which services run now; `/readyz` is unready while a service it needs is
//! down.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;

/// What a service's run returns: `Ok` once its cancellation token fired.
pub type ServiceResult = Result<(), ServiceError>;

/// A service's run, started afresh on every restart.
pub type ServiceFuture = Pin<Box<dyn Future<Output = ServiceResult> + Send>>;

/// Why a service stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

impl ServiceError {
    /// A failure described by any error.
    pub fn from_error(context: &str, error: impl std::fmt::Display) -> Self {
        Self(format!("{context}: {error}"))
    }
}

/// How failed services are restarted.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// Wait before the first restart; doubles per failure in a row.
    pub first_backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
    /// A run this long resets the failure count: the service had recovered.
    pub stable_after: Duration,
    /// Failures in a row after which the daemon gives up (about ten minutes of trying with
    /// the default backoff).
    pub max_failures: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            max_failures: 25,
        }
    }
}

/// Which services are running, for readiness.
#[derive(Debug, Default)]
pub struct Health {
    // A std Mutex: held only to read or flip a flag.
    running: Mutex<BTreeMap<&'static str, bool>>,
}

impl Health {
    fn set(&self, service: &'static str, running: bool) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(service, running);
    }

    /// The supervised services that are not running now (registered, then failed).
    pub fn down(&self) -> Vec<&'static str> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, running)| !**running)
            .map(|(name, _)| *name)
            .collect()
    }
}

/// The failures of a repeated step (a planning pass, a sweep) as the log tells them: a
/// warning when the step starts failing, a note when it works again, and in between only
/// debug lines, so a database outage does not write one warning per pass.
#[derive(Debug, Default)]
pub struct FailureStreak {
    since: Option<Instant>,
    failures: u64,
}

impl FailureStreak {
    /// Records the step's result; `what` names the step in the log.
    pub fn record<E: std::fmt::Display>(&mut self, what: &'static str, result: Result<(), E>) {
        match (result, self.since) {
            (Ok(()), None) => {}
            (Ok(()), Some(since)) => {
                tracing::info!(step = what, failures = self.failures, after = ?since.elapsed(), "works again");
                *self = Self::default();
            }
            (Err(error), None) => {
                tracing::warn!(step = what, %error, "failed; retrying on every pass until it works");
                self.since = Some(Instant::now());
                self.failures = 1;
            }
            (Err(error), Some(_)) => {
                tracing::debug!(step = what, %error, "failed again");
                self.failures += 1;
            }
        }
    }
}

/// A named service and how to start it.
pub struct Service {
    /// Its name in logs and in the restart counter.
    pub name: &'static str,
    /// Starts one run that ends when the token fires.
    pub start: Box<dyn FnMut(CancellationToken) -> ServiceFuture + Send>,
}

impl Service {
    /// A service from a function that starts a run.
    pub fn new<F, Fut>(name: &'static str, mut start: F) -> Self
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ServiceResult> + Send + 'static,
    {
        Self {
            name,
            start: Box::new(move |cancel| Box::pin(start(cancel))),
        }
    }
}

/// The daemon gave up on a service.
#[derive(Debug, thiserror::Error)]
#[error("service {service} failed {failures} times in a row; last: {last}")]
pub struct GaveUp {
    /// The service.
    pub service: &'static str,
    /// Failures in a row.
    pub failures: u32,
    /// The last failure.
    pub last: String,
}

/// Runs services under a restart policy.
pub struct Supervisor {
    /// Shared with `/readyz`.
    pub health: Arc<Health>,
    /// How failures are met.
    pub policy: RestartPolicy,
    tasks: JoinSet<Result<(), GaveUp>>,
}

impl Supervisor {
    /// A supervisor with no services yet.
    pub fn new(health: Arc<Health>, policy: RestartPolicy) -> Self {
        Self {
            health,
            policy,
            tasks: JoinSet::new(),
        }
    }

    /// Starts `service` and keeps it running until `cancel` fires.
    pub fn spawn(&mut self, service: Service, cancel: CancellationToken) {
        self.health.set(service.name, true);
        self.tasks.spawn(keep_running(
            service,
            self.health.clone(),
            self.policy,
            cancel,
        ));
    }

    /// Waits until every service stopped after cancellation, or one was given up on (the
    /// others keep running until the caller cancels them).
    pub async fn wait(&mut self) -> Result<(), GaveUp> {
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(gave_up)) => return Err(gave_up),
                // keep_running catches its service's panics; this would be its own.
                Err(error) => tracing::error!(%error, "service supervisor task failed"),
            }
        }
        Ok(())
    }
}

async fn keep_running(
    mut service: Service,
    health: Arc<Health>,
    policy: RestartPolicy,
    cancel: CancellationToken,
) -> Result<(), GaveUp> {
    let name = service.name;
    let mut failures = 0u32;
    let mut backoff = policy.first_backoff;
    loop {
        health.set(name, true);
        let started = Instant::now();
        // A task of its own, so that a panic is caught here as a JoinError.
        let run = tokio::spawn((service.start)(cancel.child_token()));
        let outcome = run.await;
        health.set(name, false);
        if cancel.is_cancelled() {
            if let Ok(Err(error)) = &outcome {
                tracing::warn!(service = name, %error, "service failed while stopping");
            }
            return Ok(());
        }
        let why = match outcome {
            Ok(Ok(())) => "ended by itself".to_string(),
            Ok(Err(error)) => error.to_string(),
            Err(join) if join.is_panic() => format!("panicked: {}", panic_message(join)),
            Err(join) => format!("was aborted: {join}"),
        };
        if started.elapsed() >= policy.stable_after {
            failures = 0;
            backoff = policy.first_backoff;
        }
        failures += 1;
        if failures >= policy.max_failures {
            tracing::error!(service = name, failures, error = %why, "service keeps failing; stopping the daemon");
            return Err(GaveUp {
                service: name,
                failures,
                last: why,
            });
        }
        tracing::error!(service = name, failures, error = %why, retry_in = ?backoff, "service failed; restarting it");
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff) => {}
        }
        metrics::counter!(m::SERVICE_RESTARTS, m::SERVICE => name).increment(1);
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick() -> RestartPolicy {
        RestartPolicy {
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            stable_after: Duration::from_secs(60),
            max_failures: 5,
        }
    }

    /// A service that fails `failing` times (each way in turn), then runs until cancelled.
    fn flaky(failing: u32, starts: Arc<AtomicU32>) -> Service {
        Service::new("flaky", move |cancel: CancellationToken| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    n if n < failing && n % 3 == 0 => Err(ServiceError("broken".into())),
                    n if n < failing && n % 3 == 1 => panic!("bug"),
                    n if n < failing => Ok(()),
                    _ => {
                        cancel.cancelled().await;
                        Ok(())
                    }
                }
            }
        })
    }

    #[tokio::test]
    async fn failed_services_are_restarted_and_reported_down_meanwhile() {
        let health = Arc::new(Health::default());
        let mut supervisor = Supervisor::new(health.clone(), quick());
        let starts = Arc::new(AtomicU32::new(0));
        let cancel = CancellationToken::new();
        supervisor.spawn(flaky(3, starts.clone()), cancel.clone());
        let mut seen_down = false;
        while starts.load(Ordering::SeqCst) < 4 {
            seen_down |= health.down() == ["flaky"];
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            seen_down,
            "a failed service must read as down until restarted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(health.down().is_empty(), "{:?}", health.down());
        cancel.cancel();
        supervisor.wait().await.unwrap();
        assert_eq!(starts.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_service_that_keeps_failing_is_given_up() {
        let health = Arc::new(Health::default());
        let mut supervisor = Supervisor::new(health.clone(), quick());
        let starts = Arc::new(AtomicU32::new(0));
        supervisor.spawn(flaky(u32::MAX, starts.clone()), CancellationToken::new());
        let gave_up = supervisor.wait().await.unwrap_err();
        assert_eq!(gave_up.service, "flaky");
        assert_eq!(gave_up.failures, 5);
        assert_eq!(starts.load(Ordering::SeqCst), 5);
        assert_eq!(health.down(), ["flaky"]);
    }
}
