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
/// Counter: finished requests deleted by retention (`queue.retention_days`).
pub const DIAL_REQUESTS_DELETED: &str = "dialer_dial_requests_deleted_total";
/// Counter: claims that left a request pending because its calling hours were closed, by
/// campaign.
pub const DIAL_REQUESTS_WAITING: &str = "dialer_dial_requests_window_waits_total";
/// Counter: claims that left a call pending because its number had a call abandoned within
/// the quiet period (`engine.abandoned_quiet_hours`), by campaign.
pub const DIAL_REQUESTS_QUIET_WAITS: &str = "dialer_dial_requests_quiet_waits_total";
/// Counter: requests a calling rule refused at the claim, by campaign and reason
/// (`DO_NOT_CALL`, `MISSING_TIME_ZONE`, `LIMIT_EXCEEDED`).
pub const DIAL_REQUESTS_REFUSED: &str = "dialer_dial_requests_refused_total";

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
/// Counter: retries scheduled (calls whose outcome their campaign's retry policy tries
/// again), by campaign and outcome.
pub const DIAL_REQUEST_RETRIES: &str = "dialer_dial_request_retries_total";
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
/// Counter: background services restarted after a failure, by service.
pub const SERVICE_RESTARTS: &str = "dialer_service_restarts_total";
/// Label: a background service (scheduler, event_sink, sweeper, reloader, queue_depth).
pub const SERVICE: &str = "service";

/// Counter: Amazon Connect contact events delivered to `POST /events/amazon-connect`, by
/// result (`stored`, `duplicate`, `ignored`, `rejected`).
pub const CONNECT_EVENTS_RECEIVED: &str = "dialer_connect_events_received_total";

/// Counter: SMS messages the contact center took, by campaign.
pub const SMS_SENT: &str = "dialer_sms_sent_total";
/// Counter: SMS requests that ended without a message, by campaign and reason code.
pub const SMS_FAILED: &str = "dialer_sms_failed_total";

/// Latency buckets for API and database operations, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Buckets of [`AGENT_FREE_TO_CONTACT`]: this latency is a few milliseconds when all is
/// well, so they are fine enough to tell 5 ms from 10 ms and 25 ms from 50 ms (with 2.5 ms
/// steps up to 10 ms and 5 ms steps up to 50 ms).
pub const AGENT_FREE_TO_CONTACT_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04,
    0.045, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns the handle that renders `/metrics`.
/// Several daemons in one process (tests) share it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), LATENCY_BUCKETS)
                .and_then(|builder| {
                    // A full match wins over the suffix.
                    builder.set_buckets_for_metric(
                        Matcher::Full(AGENT_FREE_TO_CONTACT.to_string()),
                        AGENT_FREE_TO_CONTACT_BUCKETS,
                    )
                })
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

/// How a metric aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Distribution of observations.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Every metric the daemon exports: name, kind, labels, meaning. The README's metric
/// catalogue is this table.
pub const CATALOGUE: &[(&str, Kind, &str, &str)] = &[
    (API_REQUESTS, Kind::Counter, "operation, status", "API requests by operation and HTTP status."),
    (API_REQUEST_DURATION, Kind::Histogram, "operation", "API request latency by operation, in seconds."),
    (DIAL_REQUESTS_RECEIVED, Kind::Counter, "campaign_id, outcome, code", "Dial requests received by PutDialRequestBatch, accepted or refused (with the failure code)."),
    (QUEUE_DEPTH, Kind::Gauge, "campaign_id, state", "Dial requests by campaign and state (refreshed every 10 s)."),
    (DIAL_REQUESTS_EXPIRED, Kind::Counter, "campaign_id", "Dial requests that reached their expiration time before being dialed."),
    (DIAL_REQUESTS_CANCELLED, Kind::Counter, "campaign_id", "Pending dial requests cancelled because their campaign was stopped."),
    (DIAL_REQUESTS_DELETED, Kind::Counter, "campaign_id", "Finished dial requests deleted by retention (older than queue.retention_days)."),
    (DIAL_REQUESTS_REFUSED, Kind::Counter, "campaign_id, reason", "Dial requests a calling rule refused when they were to be dialed, ended failed with the reason (DO_NOT_CALL, MISSING_TIME_ZONE, LIMIT_EXCEEDED)."),
    (DIAL_REQUESTS_WAITING, Kind::Counter, "campaign_id", "Times the claim left a request pending until its calling hours open (communicationTimeConfig)."),
    (DIAL_REQUESTS_QUIET_WAITS, Kind::Counter, "campaign_id", "Times the claim left a call pending because its number had a call abandoned (answered, no agent free) within engine.abandoned_quiet_hours, by any campaign of the account."),
    (DIALS, Kind::Counter, "campaign_id", "Contacts created (dials launched)."),
    (CONTACTS_COMPLETED, Kind::Counter, "campaign_id, outcome", "Contacts that reached their end, by outcome (connected, abandoned, machine, answered, no_answer, busy, invalid, lost)."),
    (DIAL_REQUEST_RETRIES, Kind::Counter, "campaign_id, outcome", "Retries scheduled: calls whose outcome (no_answer, busy, machine, abandoned) their campaign's retry policy tries again, as a new attempt of the same dial request."),
    (CONTACT_EVENTS, Kind::Counter, "campaign_id, kind", "Contact lifecycle events received from the contact center."),
    (PERSON_ANSWERS, Kind::Counter, "campaign_id", "Calls answered by a person (the abandonment denominator)."),
    (ABANDONS, Kind::Counter, "campaign_id", "Person-answered calls not connected to an agent within the abandon threshold."),
    (AGENTS, Kind::Gauge, "queue_id, state", "Agents per queue: online, available, on_contact, after_contact_work."),
    (LINES_IN_USE, Kind::Gauge, "campaign_id", "Calls holding a line (dialing, ringing, queued or with an agent)."),
    (DIALS_IN_FLIGHT, Kind::Gauge, "campaign_id", "Dials placed whose outcome is not known yet."),
    (DIAL_RATIO, Kind::Gauge, "campaign_id", "The pacer's current dial ratio (lines dialing per usable agent)."),
    (ABANDONMENT_RATE, Kind::Gauge, "campaign_id", "Abandonment rate over the pacing evaluation window."),
    (CLAIM_DURATION, Kind::Histogram, "", "Duration of the claim statement, in seconds."),
    (CONTACT_CREATION_DURATION, Kind::Histogram, "", "Duration of BatchPutContact calls, in seconds."),
    (AGENT_FREE_TO_CONTACT, Kind::Histogram, "", "From an agent becoming free to the next contact created, in seconds."),
    (CONTACT_CREATION_FAILURES, Kind::Counter, "campaign_id, reason", "Contact creation failures by BatchPutContact reason code or whole-call error."),
    (CONFIG_RELOADS, Kind::Counter, "result", "Config reloads, applied or rejected."),
    (SERVICE_RESTARTS, Kind::Counter, "service", "Background services restarted after they failed (scheduler, event_sink, sweeper, reloader, queue_depth, connect_metrics, connect_lookups, connect_events)."),
    (SMS_SENT, Kind::Counter, "campaign_id", "SMS messages sent (StartOutboundChatContact took them; a retried token counts once)."),
    (SMS_FAILED, Kind::Counter, "campaign_id, reason", "SMS requests failed or expired without a message, by reason (TEMPLATE_NOT_FOUND, TEMPLATE_ATTRIBUTE_MISSING, MESSAGE_TOO_LONG, EXPIRED, CALL_*...)."),
    (CONNECT_EVENTS_RECEIVED, Kind::Counter, "result", "Amazon Connect contact events delivered to POST /events/amazon-connect: stored, duplicate, ignored (not a contact event) or rejected."),
];

/// `/metrics`: the recorder's output, plus `# HELP`/`# TYPE` lines for catalogue metrics
/// not recorded yet, so scrapers and dashboards see every metric from the first scrape.
pub fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    for (name, kind, _, help) in CATALOGUE {
        if !text.contains(&format!("# TYPE {name} ")) {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {}\n",
                kind.as_str()
            ));
        }
    }
    text
}

fn describe() {
    for (name, kind, _, help) in CATALOGUE {
        match kind {
            Kind::Counter => metrics::describe_counter!(*name, *help),
            Kind::Gauge => metrics::describe_gauge!(*name, *help),
            Kind::Histogram => {
                metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_catalogue_lists_every_metric() {
        let readme = include_str!("../README.md");
        for (name, _, _, _) in CATALOGUE {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not list {name}"
            );
        }
    }

    #[test]
    fn agent_free_to_contact_buckets_tell_close_latencies_apart() {
        let handle = install();
        metrics::histogram!(AGENT_FREE_TO_CONTACT).record(0.0001);
        let text = handle.render();
        let bounds: Vec<f64> = text
            .lines()
            .filter_map(|line| {
                line.strip_prefix(AGENT_FREE_TO_CONTACT)?
                    .strip_prefix("_bucket{le=\"")
            })
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .filter(|bound: &f64| bound.is_finite())
            .collect();
        assert_eq!(bounds, AGENT_FREE_TO_CONTACT_BUCKETS, "{text}");
        // Some bound falls strictly between 5 and 10 ms, and between 25 and 50 ms.
        for (low, high) in [(0.005, 0.01), (0.025, 0.05)] {
            assert!(
                bounds.iter().any(|&b| b > low && b < high),
                "{low} and {high} share a bucket"
            );
        }
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for (name, kind, _, _) in CATALOGUE {
            assert!(name.starts_with("dialer_"), "{name}");
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(name.ends_with("_seconds"), "{name}"),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
    }
}
