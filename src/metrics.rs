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

/// Label: contact outcome (`connected`, `abandoned`, `machine`, `no_answer`, `busy`,
/// `invalid`, `lost`, ...).
pub const OUTCOME_LABEL: &str = "outcome";
/// Label: contact-center queue id.
pub const QUEUE_ID: &str = "queue_id";
/// Label: agent state (`online`, `available`, `on_contact`, `after_contact_work`).
pub const AGENT_STATE: &str = "state";
/// Label: BatchPutContact failure reason code, or a whole-call error class.
pub const REASON: &str = "reason";

/// Counter: contacts created (dials launched), by campaign.
pub const DIALS: &str = "dialer_dials_total";
/// Counter: contacts that reached their end, by campaign and outcome.
pub const CONTACTS_COMPLETED: &str = "dialer_contacts_completed_total";
/// Counter: contact lifecycle events received, by campaign and event kind.
pub const CONTACT_EVENTS: &str = "dialer_contact_events_total";
/// Counter: person-answered calls, by campaign (the abandonment denominator).
pub const PERSON_ANSWERS: &str = "dialer_person_answers_total";
/// Counter: abandoned calls, by campaign.
pub const ABANDONS: &str = "dialer_abandons_total";
/// Gauge: agents per queue and state, as the contact center reports them.
pub const AGENTS: &str = "dialer_agents";
/// Gauge: calls up (dialing, ringing, queued or with an agent), by campaign.
pub const LINES_IN_USE: &str = "dialer_lines_in_use";
/// Gauge: dials placed whose outcome is not known yet, by campaign.
pub const DIALS_IN_FLIGHT: &str = "dialer_dials_in_flight";
/// Gauge: the pacer's current dial ratio (dials per available agent), by campaign.
pub const DIAL_RATIO: &str = "dialer_dial_ratio";
/// Gauge: abandonment rate over the pacing evaluation window, by campaign.
pub const ABANDONMENT_RATE: &str = "dialer_abandonment_rate";
/// Histogram: duration of the claim transaction.
pub const CLAIM_DURATION: &str = "dialer_claim_duration_seconds";
/// Histogram: duration of a BatchPutContact call.
pub const CONTACT_CREATION_DURATION: &str = "dialer_contact_creation_duration_seconds";
/// Histogram: from an agent becoming free to the contact created for it.
pub const AGENT_FREE_TO_CONTACT: &str = "dialer_agent_free_to_contact_seconds";
/// Counter: contact creation failures, by campaign and reason code.
pub const CONTACT_CREATION_FAILURES: &str = "dialer_contact_creation_failures_total";
/// Counter: config reloads, by result (`applied`, `rejected`).
pub const CONFIG_RELOADS: &str = "dialer_config_reloads_total";
/// Label: result of a reload.
pub const RESULT: &str = "result";

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
