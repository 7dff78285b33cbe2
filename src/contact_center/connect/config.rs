//! `[contact_center.amazon_connect]`: which instance, where, how fast, and how events come in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The environment variable that sets (and overrides) [`AmazonConnectConfig::events_key`]:
/// a secret belongs in the environment, not in a file under version control.
pub const EVENTS_KEY_ENV: &str = "DIALER_CONNECT_EVENTS_KEY";

/// Settings of the Amazon Connect backend.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AmazonConnectConfig {
    /// The Amazon Connect instance id the campaigns dial through (their
    /// `connectInstanceId` must name it).
    pub instance_id: String,
    /// The instance's region; empty means `aws.region`.
    pub region: String,
    /// The API endpoint; empty means `https://connect.{region}.amazonaws.com`. An emulator
    /// (`dialer connect-emulator`) is `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Campaign queue id -> Amazon Connect queue id, for campaigns that name queues by a
    /// local name; a queue id not listed is sent as it is.
    pub queues: BTreeMap<String, String>,
    /// Seconds between `GetCurrentMetricData` polls of the campaigns' queues (one call for
    /// every campaign of the instance).
    pub metrics_interval_secs: f64,
    /// `GetCurrentMetricData` calls per second this daemon may make: its share of the
    /// account's quota (5 per second by default, shared by every caller in the account).
    pub metrics_rate_per_sec: f64,
    /// `BatchPutContact` and `DescribeContact` calls per second this daemon may make, each:
    /// its share of the account's quota (2 per second by default).
    pub api_rate_per_sec: f64,
    /// Calls above the rate allowed at once.
    pub api_burst: u32,
    /// Each HTTP attempt's time limit.
    pub request_timeout_secs: f64,
    /// The header an EventBridge API destination puts its API key in.
    pub events_header: String,
    /// The API key `POST /events/amazon-connect` requires; set it with
    /// `DIALER_CONNECT_EVENTS_KEY`. Empty turns the endpoint off.
    pub events_key: String,
    /// An answered contact not connected to an agent within this many seconds of the answer
    /// counts as abandoned (the US rule is 2 s).
    pub abandon_threshold_secs: f64,
}

impl Default for AmazonConnectConfig {
    fn default() -> Self {
        Self {
            instance_id: String::new(),
            region: String::new(),
            endpoint: String::new(),
            queues: BTreeMap::new(),
            metrics_interval_secs: 1.0,
            metrics_rate_per_sec: 4.0,
            api_rate_per_sec: 2.0,
            api_burst: 5,
            request_timeout_secs: 5.0,
            events_header: "x-dialer-events-key".to_string(),
            events_key: String::new(),
            abandon_threshold_secs: 2.0,
        }
    }
}

impl AmazonConnectConfig {
    /// The region calls are signed for.
    pub fn region<'a>(&'a self, default: &'a str) -> &'a str {
        if self.region.is_empty() {
            default
        } else {
            &self.region
        }
    }

    /// The endpoint calls go to.
    pub fn endpoint(&self, default_region: &str) -> String {
        if self.endpoint.is_empty() {
            format!(
                "https://connect.{}.amazonaws.com",
                self.region(default_region)
            )
        } else {
            self.endpoint.trim_end_matches('/').to_string()
        }
    }

    /// The Connect queue a campaign's queue id stands for.
    pub fn connect_queue<'a>(&'a self, queue_id: &'a str) -> &'a str {
        self.queues.get(queue_id).map_or(queue_id, String::as_str)
    }

    /// Every problem, each naming its key; `selected` says the backend is in use (then the
    /// instance is required).
    pub fn validate(&self, selected: bool) -> Vec<String> {
        const KEY: &str = "contact_center.amazon_connect";
        let mut problems = Vec::new();
        if selected && self.instance_id.is_empty() {
            problems.push(format!(
                "{KEY}.instance_id is required with contact_center.backend = \"amazon-connect\" (the instance id from its ARN, e.g. 12345678-1234-1234-1234-123456789012)"
            ));
        }
        if !self.instance_id.is_empty() && !is_instance_id(&self.instance_id) {
            problems.push(format!(
                "{KEY}.instance_id must be 1 to 100 letters, digits, '-' or '_', got {:?}",
                self.instance_id
            ));
        }
        if !self.region.is_empty()
            && !self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push(format!(
                "{KEY}.region must be a region name like us-east-1, got {:?}",
                self.region
            ));
        }
        let endpoint_ok = self.endpoint.is_empty()
            || self.endpoint.starts_with("https://")
            || self.endpoint.starts_with("http://");
        if !endpoint_ok {
            problems.push(format!(
                "{KEY}.endpoint must start with https:// or http://, got {:?}",
                self.endpoint
            ));
        }
        for (key, value, min) in [
            ("metrics_interval_secs", self.metrics_interval_secs, 0.2),
            ("metrics_rate_per_sec", self.metrics_rate_per_sec, 0.01),
            ("api_rate_per_sec", self.api_rate_per_sec, 0.01),
            ("request_timeout_secs", self.request_timeout_secs, 0.1),
            ("abandon_threshold_secs", self.abandon_threshold_secs, 0.0),
        ] {
            if !(value.is_finite() && value >= min) {
                problems.push(format!("{KEY}.{key} must be at least {min}, got {value}"));
            }
        }
        if self.api_burst == 0 {
            problems.push(format!("{KEY}.api_burst must be at least 1"));
        }
        let header_ok = !self.events_header.is_empty()
            && self
                .events_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !header_ok {
            problems.push(format!(
                "{KEY}.events_header must be an HTTP header name, got {:?}",
                self.events_header
            ));
        }
        if selected && self.events_key.is_empty() {
            problems.push(format!(
                "{KEY}.events_key is empty: set {EVENTS_KEY_ENV} to the API key your EventBridge API destination sends, or contacts will only end through DescribeContact lookups"
            ));
        }
        for (local, connect) in &self.queues {
            if !is_instance_id(connect) {
                problems.push(format!(
                    "{KEY}.queues.{local} must name a Connect queue id, got {connect:?}"
                ));
            }
        }
        problems
    }
}

fn is_instance_id(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_until_selected() {
        let config = AmazonConnectConfig::default();
        assert!(config.validate(false).is_empty());
        let problems = config.validate(true).join("\n");
        assert!(problems.contains("instance_id is required"), "{problems}");
        assert!(problems.contains(EVENTS_KEY_ENV), "{problems}");
    }

    #[test]
    fn problems_name_their_keys() {
        let config = AmazonConnectConfig {
            instance_id: "bad id".into(),
            endpoint: "connect.example".into(),
            metrics_interval_secs: 0.0,
            api_burst: 0,
            events_header: "x key".into(),
            queues: BTreeMap::from([("local".to_string(), "".to_string())]),
            ..AmazonConnectConfig::default()
        };
        let problems = config.validate(false).join("\n");
        for key in [
            "instance_id",
            "endpoint",
            "metrics_interval_secs",
            "api_burst",
            "events_header",
            "queues.local",
        ] {
            assert!(
                problems.contains(&format!("contact_center.amazon_connect.{key}")),
                "{key}: {problems}"
            );
        }
    }

    #[test]
    fn endpoint_and_region_default_to_aws() {
        let config = AmazonConnectConfig::default();
        assert_eq!(
            config.endpoint("eu-west-2"),
            "https://connect.eu-west-2.amazonaws.com"
        );
        let emulated = AmazonConnectConfig {
            endpoint: "http://127.0.0.1:9000/".into(),
            region: "us-west-2".into(),
            queues: BTreeMap::from([("sales".to_string(), "q-123".to_string())]),
            ..config
        };
        assert_eq!(emulated.endpoint("eu-west-2"), "http://127.0.0.1:9000");
        assert_eq!(emulated.region("eu-west-2"), "us-west-2");
        assert_eq!(emulated.connect_queue("sales"), "q-123");
        assert_eq!(emulated.connect_queue("q-9"), "q-9");
    }
}
