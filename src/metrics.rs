//! Metric names, their descriptions, and the Prometheus exporter.
//!
//! Names follow Prometheus conventions: `dialer_` prefix, base units, `_total` counters,
//! `_seconds` histograms. Label values are bounded: operation names, status codes, campaign
//! ids and reason codes, never phone numbers or request ids.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Label: API operation name.
pub const OPERATION: &str = "operation";
/// Label: HTTP status code.
pub const STATUS: &str = "status";
/// Label: campaign id.
pub const CAMPAIGN_ID: &str = "campaign_id";
/// Label: dial-request state.
pub const STATE: &str = "state";
/// Label: outcome of an item (`accepted` or `refused`).
pub const OUTCOME: &str = "outcome";
/// Label: failure code of a refused item.
pub const CODE: &str = "code";

/// Counter: API requests by operation and status.
pub const API_REQUESTS: &str = "dialer_api_requests_total";
/// Histogram: API latency by operation.
pub const API_REQUEST_DURATION: &str = "dialer_api_request_duration_seconds";
/// Counter: dial requests received, by campaign, outcome and failure code.
pub const DIAL_REQUESTS_RECEIVED: &str = "dialer_dial_requests_received_total";
/// Gauge: dial requests by campaign and state.
pub const QUEUE_DEPTH: &str = "dialer_queue_depth";
/// Counter: requests that passed their expiration time undialed.
pub const DIAL_REQUESTS_EXPIRED: &str = "dialer_dial_requests_expired_total";
/// Counter: requests cancelled because their campaign stopped.
pub const DIAL_REQUESTS_CANCELLED: &str = "dialer_dial_requests_cancelled_total";

/// Latency buckets for API and database operations, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns the handle that renders `/metrics`.
/// Several daemons in one process (tests) share it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), LATENCY_BUCKETS)
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    // Fails only if another recorder was installed first; ours then renders empty.
                    let _ = metrics::set_global_recorder(recorder);
                    describe();
                    handle
                }
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(API_REQUESTS, "API requests by operation and HTTP status.");
    describe_histogram!(
        API_REQUEST_DURATION,
        Unit::Seconds,
        "API request latency by operation."
    );
    describe_counter!(
        DIAL_REQUESTS_RECEIVED,
        "Dial requests received by PutDialRequestBatch, by campaign, outcome and failure code."
    );
    describe_gauge!(QUEUE_DEPTH, "Dial requests by campaign and state.");
    describe_counter!(
        DIAL_REQUESTS_EXPIRED,
        "Dial requests that reached their expiration time before being dialed."
    );
    describe_counter!(
        DIAL_REQUESTS_CANCELLED,
        "Pending dial requests cancelled because their campaign was stopped."
    );
}
