//! Pure request validation for the Connect emulator, as the `connect` 2017-08-08 model
//! constrains each member (required members, lengths, enums, ranges), plus the few
//! restrictions of the emulator itself (it groups metrics by queue only, sends SMS only).
//!
//! Messages name the member and the rule, never the value: values may be phone numbers or
//! attribute values.

use std::collections::BTreeMap;

use crate::contact_center::connect::wire::{
    ChatEndpoint, CurrentMetric, CurrentMetricName, GetCurrentMetricDataRequest, Grouping,
    SegmentAttributeValue, StartOutboundChatContactRequest, Unit, CHAT_DURATION_MINUTES,
    CONTACT_ID_MAX_LEN, FILTER_QUEUES_MAX, INSTANCE_ID_MAX_LEN, SEGMENT_SUBTYPE, SUBTYPE_SMS,
};
use crate::contact_center::{BatchPutContactRequest, CLIENT_TOKEN_MAX_LEN};

/// Every broken rule of one request, each naming its member.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<String>);

impl Violations {
    fn push(&mut self, message: String) {
        self.0.push(message);
    }

    fn required<T>(&mut self, member: &str, value: &Option<T>) {
        if value.is_none() {
            self.push(format!("{member} is required"));
        }
    }

    fn length(&mut self, member: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min || len > max {
            self.push(format!(
                "{member} must be {min} to {max} characters long, got {len}"
            ));
        }
    }

    fn items(&mut self, member: &str, len: usize, min: usize, max: usize) {
        if len < min || len > max {
            self.push(format!(
                "{member} must hold {min} to {max} items, got {len}"
            ));
        }
    }

    /// `Ok` when nothing is broken, else every message joined.
    pub fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("; "))
        }
    }
}

/// A path label (`InstanceId`, `ContactId`): length as the model says.
pub fn path_label(member: &str, value: &str, max: usize) -> Result<(), String> {
    let mut v = Violations::default();
    v.length(member, value, 1, max);
    v.finish()
}

/// `InstanceId` as a path label.
pub fn instance_id(value: &str) -> Result<(), String> {
    path_label("InstanceId", value, INSTANCE_ID_MAX_LEN)
}

/// `ContactId` as a path label.
pub fn contact_id(value: &str) -> Result<(), String> {
    path_label("ContactId", value, CONTACT_ID_MAX_LEN)
}

/// `BatchPutContact`, what the simulated center does not check itself: it already refuses
/// a batch of 0 or more than 25 items, a missing or long `ClientToken` or
/// `RequestIdentifier`, and fails single items for bad endpoints, queues and attribute keys.
/// Here: the lengths the model gives `Campaign.CampaignId` (1-100), endpoint addresses
/// (0-256) and attributes (keys 1-32767, values 0-32767).
pub fn batch_put_contact(req: &BatchPutContactRequest) -> Result<(), String> {
    let mut v = Violations::default();
    for (i, item) in req.contacts.iter().enumerate() {
        if let Some(campaign) = &item.campaign_id {
            v.length(
                &format!("ContactDataRequestList[{i}].Campaign.CampaignId"),
                campaign,
                1,
                100,
            );
        }
        for (member, endpoint) in [
            ("CustomerEndpoint", &item.customer_endpoint),
            ("SystemEndpoint", &item.system_endpoint),
        ] {
            if let Some(endpoint) = endpoint {
                v.length(
                    &format!("ContactDataRequestList[{i}].{member}.Address"),
                    &endpoint.address,
                    0,
                    256,
                );
            }
        }
        attributes_rules(&mut v, &item.attributes);
    }
    v.finish()
}

const CHANNELS: [&str; 4] = ["VOICE", "CHAT", "TASK", "EMAIL"];
const MAX_RESULTS: std::ops::RangeInclusive<i64> = 1..=100;

/// `GetCurrentMetricData`. Besides the model: `Filters.Queues` is required (the emulator
/// reports queues only) and the only grouping served is `QUEUE`.
pub fn get_current_metric_data(req: &GetCurrentMetricDataRequest) -> Result<(), String> {
    let mut v = Violations::default();
    v.required("Filters", &req.filters);
    v.required("CurrentMetrics", &req.current_metrics);
    if let Some(filters) = &req.filters {
        match &filters.queues {
            None => v.push("Filters.Queues is required by this emulator".to_string()),
            Some(queues) => {
                v.items("Filters.Queues", queues.len(), 1, FILTER_QUEUES_MAX);
                if queues.iter().any(String::is_empty) {
                    v.push("Filters.Queues must not hold an empty id".to_string());
                }
            }
        }
        if let Some(channels) = &filters.channels {
            v.items("Filters.Channels", channels.len(), 0, 4);
            if channels.iter().any(|c| !CHANNELS.contains(&c.as_str())) {
                v.push(format!(
                    "Filters.Channels members must be one of {}",
                    CHANNELS.join(", ")
                ));
            }
        }
        if let Some(profiles) = &filters.routing_profiles {
            v.items("Filters.RoutingProfiles", profiles.len(), 1, 100);
        }
        if let Some(expressions) = &filters.routing_step_expressions {
            v.items("Filters.RoutingStepExpressions", expressions.len(), 0, 50);
            for expression in expressions {
                v.length("Filters.RoutingStepExpressions member", expression, 1, 3000);
            }
        }
        if let Some(subtypes) = &filters.subtypes {
            v.items("Filters.Subtypes", subtypes.len(), 0, 10);
            for subtype in subtypes {
                v.length("Filters.Subtypes member", subtype, 1, 100);
            }
        }
        if let Some(types) = &filters.validation_test_types {
            v.items("Filters.ValidationTestTypes", types.len(), 0, 10);
        }
    }
    if let Some(groupings) = &req.groupings {
        v.items("Groupings", groupings.len(), 0, 2);
        if groupings.contains(&Grouping::Unknown) {
            v.push("Groupings members must be a known Grouping".to_string());
        } else if groupings.iter().any(|g| *g != Grouping::Queue) {
            v.push("Groupings: this emulator groups by QUEUE only".to_string());
        }
    }
    if let Some(metrics) = &req.current_metrics {
        for (i, metric) in metrics.iter().enumerate() {
            current_metric(&mut v, i, metric);
        }
    }
    if let Some(max) = req.max_results {
        if !MAX_RESULTS.contains(&max) {
            v.push(format!("MaxResults must be 1 to 100, got {max}"));
        }
    }
    v.finish()
}

fn current_metric(v: &mut Violations, i: usize, metric: &CurrentMetric) {
    match metric.name {
        None => v.push(format!("CurrentMetrics[{i}].Name is required")),
        Some(CurrentMetricName::Unknown) => v.push(format!(
            "CurrentMetrics[{i}].Name must be a known CurrentMetricName"
        )),
        Some(name) => {
            let expected = CurrentMetric::of(name).unit;
            match metric.unit {
                Some(Unit::Unknown) => v.push(format!(
                    "CurrentMetrics[{i}].Unit must be SECONDS, COUNT or PERCENT"
                )),
                Some(unit) if Some(unit) != expected => v.push(format!(
                    "CurrentMetrics[{i}].Unit does not match the metric (expected {})",
                    if expected == Some(Unit::Seconds) {
                        "SECONDS"
                    } else {
                        "COUNT"
                    }
                )),
                _ => {}
            }
        }
    }
}

/// `StartOutboundChatContact`. Besides the model: the emulator sends SMS only, so
/// `SegmentAttributes` must name `connect:Subtype` = `connect:SMS`, the source must be a
/// `CONNECT_PHONENUMBER_ARN` and the destination an E.164 `TELEPHONE_NUMBER`.
pub fn start_outbound_chat_contact(req: &StartOutboundChatContactRequest) -> Result<(), String> {
    let mut v = Violations::default();
    v.required("SourceEndpoint", &req.source_endpoint);
    v.required("DestinationEndpoint", &req.destination_endpoint);
    v.required("InstanceId", &req.instance_id);
    v.required("SegmentAttributes", &req.segment_attributes);
    v.required("ContactFlowId", &req.contact_flow_id);
    if let Some(source) = &req.source_endpoint {
        endpoint(&mut v, "SourceEndpoint", source, "CONNECT_PHONENUMBER_ARN");
        if let Some(address) = &source.address {
            if !address.starts_with("arn:") {
                v.push("SourceEndpoint.Address must be a phone number ARN".to_string());
            }
        }
    }
    if let Some(destination) = &req.destination_endpoint {
        endpoint(
            &mut v,
            "DestinationEndpoint",
            destination,
            "TELEPHONE_NUMBER",
        );
        if let Some(address) = &destination.address {
            if !is_e164(address) {
                v.push("DestinationEndpoint.Address must be an E.164 number".to_string());
            }
        }
    }
    if let Some(instance) = &req.instance_id {
        v.length("InstanceId", instance, 1, INSTANCE_ID_MAX_LEN);
    }
    if let Some(segments) = &req.segment_attributes {
        for (key, value) in segments {
            v.length("SegmentAttributes key", key, 1, 128);
            segment_value(&mut v, value, 0);
        }
        let subtype = segments
            .get(SEGMENT_SUBTYPE)
            .and_then(|s| s.value_string.as_deref());
        if subtype != Some(SUBTYPE_SMS) {
            v.push(format!(
                "SegmentAttributes must set {SEGMENT_SUBTYPE} to ValueString {SUBTYPE_SMS}"
            ));
        }
    }
    if let Some(attributes) = &req.attributes {
        attributes_rules(&mut v, attributes);
    }
    if let Some(flow) = &req.contact_flow_id {
        v.length("ContactFlowId", flow, 1, 500);
    }
    if let Some(minutes) = req.chat_duration_in_minutes {
        if !CHAT_DURATION_MINUTES.contains(&minutes) {
            v.push(format!(
                "ChatDurationInMinutes must be {} to {}, got {minutes}",
                CHAT_DURATION_MINUTES.start(),
                CHAT_DURATION_MINUTES.end()
            ));
        }
    }
    if let Some(details) = &req.participant_details {
        match &details.display_name {
            None => v.push("ParticipantDetails.DisplayName is required".to_string()),
            Some(name) => v.length("ParticipantDetails.DisplayName", name, 1, 256),
        }
    }
    if let Some(message) = &req.initial_system_message {
        match &message.content_type {
            None => v.push("InitialSystemMessage.ContentType is required".to_string()),
            Some(t) => v.length("InitialSystemMessage.ContentType", t, 1, 100),
        }
        match &message.content {
            None => v.push("InitialSystemMessage.Content is required".to_string()),
            Some(c) => v.length("InitialSystemMessage.Content", c, 1, 16_384),
        }
    }
    if let Some(related) = &req.related_contact_id {
        v.length("RelatedContactId", related, 1, CONTACT_ID_MAX_LEN);
    }
    if let Some(types) = &req.supported_messaging_content_types {
        for t in types {
            v.length("SupportedMessagingContentTypes member", t, 1, 100);
        }
    }
    if let Some(token) = &req.client_token {
        v.length("ClientToken", token, 1, CLIENT_TOKEN_MAX_LEN);
    }
    v.finish()
}

fn endpoint(v: &mut Violations, member: &str, endpoint: &ChatEndpoint, wanted: &str) {
    match endpoint.endpoint_type.as_deref() {
        None => v.push(format!("{member}.Type is required")),
        Some(t) if t == wanted => {}
        Some(_) => v.push(format!("{member}.Type must be {wanted}")),
    }
    match &endpoint.address {
        None => v.push(format!("{member}.Address is required")),
        Some(address) => v.length(&format!("{member}.Address"), address, 1, 256),
    }
}

/// Deep nesting is refused rather than followed: the model does not bound it, a stack does.
const SEGMENT_DEPTH_MAX: usize = 8;

fn segment_value(v: &mut Violations, value: &SegmentAttributeValue, depth: usize) {
    if depth > SEGMENT_DEPTH_MAX {
        v.push(format!(
            "SegmentAttributes values nest deeper than {SEGMENT_DEPTH_MAX} levels"
        ));
        return;
    }
    if let Some(s) = &value.value_string {
        v.length("SegmentAttributes ValueString", s, 0, 1024);
    }
    if let Some(s) = &value.value_arn {
        v.length("SegmentAttributes ValueArn", s, 0, 1024);
    }
    if let Some(map) = &value.value_map {
        for (key, inner) in map {
            v.length("SegmentAttributes ValueMap key", key, 1, 128);
            segment_value(v, inner, depth + 1);
        }
    }
    if let Some(list) = &value.value_list {
        for inner in list {
            segment_value(v, inner, depth + 1);
        }
    }
}

fn attributes_rules(v: &mut Violations, attributes: &BTreeMap<String, String>) {
    for (key, value) in attributes {
        v.length("Attributes key", key, 1, 32_767);
        v.length("Attributes value", value, 0, 32_767);
    }
}

/// `+` and 2 to 15 digits, the first not 0.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact_center::connect::wire::{Filters, ParticipantDetails};

    fn metrics_request() -> GetCurrentMetricDataRequest {
        GetCurrentMetricDataRequest {
            filters: Some(Filters {
                queues: Some(vec!["q".into()]),
                channels: Some(vec!["VOICE".into()]),
                ..Filters::default()
            }),
            groupings: Some(vec![Grouping::Queue]),
            current_metrics: Some(vec![CurrentMetric::of(CurrentMetricName::AgentsOnline)]),
            ..GetCurrentMetricDataRequest::default()
        }
    }

    #[test]
    fn metrics_requests_follow_the_model() {
        assert_eq!(get_current_metric_data(&metrics_request()), Ok(()));
        let bad = |f: &dyn Fn(&mut GetCurrentMetricDataRequest)| {
            let mut r = metrics_request();
            f(&mut r);
            get_current_metric_data(&r).unwrap_err()
        };
        assert!(bad(&|r| r.filters = None).contains("Filters is required"));
        assert!(bad(&|r| r.current_metrics = None).contains("CurrentMetrics is required"));
        assert!(bad(&|r| r.filters.as_mut().unwrap().queues = Some(vec![])).contains("1 to 100"));
        assert!(bad(&|r| r.filters.as_mut().unwrap().queues =
            Some((0..101).map(|i| i.to_string()).collect()))
        .contains("got 101"));
        assert!(
            bad(&|r| r.filters.as_mut().unwrap().channels = Some(vec!["FAX".into()]))
                .contains("Filters.Channels")
        );
        assert!(bad(&|r| r.groupings = Some(vec![Grouping::Channel])).contains("QUEUE only"));
        assert!(bad(&|r| r.groupings = Some(vec![Grouping::Queue; 3])).contains("Groupings"));
        assert!(bad(&|r| r.max_results = Some(0)).contains("MaxResults"));
        assert!(bad(&|r| r.current_metrics = Some(vec![CurrentMetric {
            name: Some(CurrentMetricName::AgentsOnline),
            unit: Some(Unit::Seconds)
        }]))
        .contains("Unit does not match"));
        assert!(bad(&|r| r.current_metrics = Some(vec![CurrentMetric {
            name: Some(CurrentMetricName::Unknown),
            unit: None
        }]))
        .contains("known CurrentMetricName"));
    }

    fn chat() -> StartOutboundChatContactRequest {
        crate::contact_center::connect::wire::sample_sms()
    }

    #[test]
    fn chat_requests_follow_the_model_and_never_echo_values() {
        assert_eq!(start_outbound_chat_contact(&chat()), Ok(()));
        let bad = |f: &dyn Fn(&mut StartOutboundChatContactRequest)| {
            let mut r = chat();
            f(&mut r);
            start_outbound_chat_contact(&r).unwrap_err()
        };
        assert!(bad(&|r| r.contact_flow_id = None).contains("ContactFlowId is required"));
        assert!(bad(&|r| r.chat_duration_in_minutes = Some(59)).contains("60 to 10080"));
        assert!(bad(&|r| r.chat_duration_in_minutes = Some(10_081)).contains("got 10081"));
        assert!(bad(&|r| r.segment_attributes = Some(BTreeMap::new())).contains("connect:SMS"));
        assert!(bad(&|r| r.source_endpoint.as_mut().unwrap().endpoint_type =
            Some("TELEPHONE_NUMBER".into()))
        .contains("CONNECT_PHONENUMBER_ARN"));
        let phone = bad(&|r| {
            r.destination_endpoint.as_mut().unwrap().address = Some("+1415555012x".into())
        });
        assert!(phone.contains("E.164") && !phone.contains("+1415"));
        assert!(
            bad(&|r| r.participant_details = Some(ParticipantDetails { display_name: None }))
                .contains("DisplayName is required")
        );
        assert!(bad(&|r| r.client_token = Some("x".repeat(501))).contains("ClientToken"));
        let content = bad(&|r| {
            r.initial_system_message.as_mut().unwrap().content = Some("secret".repeat(3000))
        });
        assert!(content.contains("Content") && !content.contains("secret"));
        let all = bad(&|r| *r = StartOutboundChatContactRequest::default());
        for member in [
            "SourceEndpoint",
            "DestinationEndpoint",
            "InstanceId",
            "SegmentAttributes",
            "ContactFlowId",
        ] {
            assert!(
                all.contains(&format!("{member} is required")),
                "{member}: {all}"
            );
        }
    }

    #[test]
    fn batch_items_follow_the_models_lengths() {
        use crate::contact_center::{ContactDataRequest, Endpoint};
        let item = |campaign: &str, address: &str, value: String| ContactDataRequest {
            request_identifier: "r".into(),
            customer_endpoint: Some(Endpoint::telephone(address)),
            system_endpoint: None,
            queue_id: Some("q".into()),
            attributes: BTreeMap::from([("k".to_string(), value)]),
            campaign_id: Some(campaign.into()),
        };
        let batch = |contacts| BatchPutContactRequest {
            client_token: "t".into(),
            instance_id: "i".into(),
            contacts,
        };
        assert_eq!(
            batch_put_contact(&batch(vec![item("c", "+14155550123", "v".into())])),
            Ok(())
        );
        let bad = batch_put_contact(&batch(vec![
            item("", "+14155550123", "v".into()),
            item("c", &"9".repeat(257), "secret".repeat(6000)),
        ]))
        .unwrap_err();
        assert!(
            bad.contains("ContactDataRequestList[0].Campaign.CampaignId"),
            "{bad}"
        );
        assert!(
            bad.contains("ContactDataRequestList[1].CustomerEndpoint.Address"),
            "{bad}"
        );
        assert!(
            bad.contains("Attributes value") && !bad.contains("secret"),
            "{bad}"
        );
    }

    #[test]
    fn path_labels_and_numbers() {
        assert!(instance_id("").is_err());
        assert!(instance_id(&"i".repeat(101)).is_err());
        assert!(contact_id(&"c".repeat(256)).is_ok());
        assert!(is_e164("+14155550123"));
        assert!(!is_e164("14155550123") && !is_e164("+0123") && !is_e164("+1"));
    }
}
