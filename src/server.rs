//! The HTTP listener: serves the router over HTTP/1.1 with the limits `axum::serve` lacks, so
//! that slow or idle clients cannot hold the daemon's connections or file descriptors.
//!
//! - At most `server.max_connections` connections are served at once. A connection takes a
//!   slot before it is accepted, so further clients wait in the kernel's listen backlog, using
//!   no descriptor of ours, instead of being accepted and starved.
//! - A connection that has not sent a complete request head within
//!   `server.header_read_timeout_secs` of opening, or of its previous response, is closed:
//!   this bounds both clients that drip their headers and idle keep-alive connections.
//! - The body read timeout is applied where bodies are read, at the API edge ([`crate::api`]).
//! - On shutdown: stop accepting, let each connection finish the request it is serving with
//!   keep-alive off, and return once every connection has closed.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;

/// Pause after an accept error that is not about one connection (such as running out of file
/// descriptors), which would otherwise repeat at once in a busy loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` fires and every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: CancellationToken,
) {
    // One permit per connection being served; a connection returns its permit when it closes.
    let slots = Arc::new(Semaphore::new(config.max_connections as usize));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout());
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = shutdown.cancelled() => break,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    if !is_connection_error(&error) {
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // Timeouts and resets are the client's doing, not ours.
            if let Err(error) = ended {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    // Having every slot back means every connection has closed.
    let _all = slots.acquire_many(config.max_connections).await;
}

/// Errors about the one connection being accepted, after which the next accept may succeed.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
