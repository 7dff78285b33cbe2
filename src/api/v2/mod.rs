//! The connectcampaignsv2 (2024-04-23) API under `/v2`, beside v1 on the same daemon: the
//! same edge (signature, account, rate limits — an operation both versions have shares its
//! limit), the same campaigns, queue and instance records.
//!
//! Requests are validated against the model's shapes ([`model`], [`schema`]), then read as
//! the campaign domain's types ([`crate::campaigns::channels`]). What maps to what between
//! the versions is in [`crate::campaigns`] and the README's "v2 API" section.

pub mod campaigns;
pub mod instances;
// One statement per shape reads best as written; rustfmt would spread each over a screen.
#[rustfmt::skip]
pub mod model;
pub mod outbound;
pub mod schema;

use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;

use super::AppState;
use crate::campaigns::Command;

/// The operations only v2 has, by their model names (the rate-limit keys).
pub const OPERATIONS: &[&str] = &[
    "DeleteCampaignChannelSubtypeConfig",
    "DeleteCampaignCommunicationLimits",
    "DeleteCampaignCommunicationTime",
    "DeleteCampaignEntryLimits",
    "DeleteConnectInstanceIntegration",
    "GetInstanceCommunicationLimits",
    "ListConnectInstanceIntegrations",
    "PutConnectInstanceIntegration",
    "PutInstanceCommunicationLimits",
    "PutOutboundRequestBatch",
    "PutProfileOutboundRequestBatch",
    "UpdateCampaignChannelSubtypeConfig",
    "UpdateCampaignCommunicationLimits",
    "UpdateCampaignCommunicationTime",
    "UpdateCampaignEntryLimits",
    "UpdateCampaignFlowAssociation",
    "UpdateCampaignSchedule",
    "UpdateCampaignSource",
];

/// Adds the v2 routes; `op` wraps a route in the edge of the named operation.
pub fn routes(
    router: Router<AppState>,
    op: &dyn Fn(&'static str, MethodRouter<AppState>) -> MethodRouter<AppState>,
) -> Router<AppState> {
    use campaigns as c;
    use instances as i;
    router
        .route("/v2/campaigns", op("CreateCampaign", put(c::create)))
        .route(
            "/v2/campaigns/{id}",
            op("DescribeCampaign", get(c::describe)).merge(op("DeleteCampaign", delete(c::delete))),
        )
        .route("/v2/campaigns-summary", op("ListCampaigns", post(c::list)))
        .route(
            "/v2/campaigns-state",
            op("GetCampaignStateBatch", post(c::state_batch)),
        )
        .route(
            "/v2/campaigns/{id}/state",
            op("GetCampaignState", get(c::state)),
        )
        .route(
            "/v2/campaigns/{id}/start",
            op("StartCampaign", c::post_command(Command::Start)),
        )
        .route(
            "/v2/campaigns/{id}/pause",
            op("PauseCampaign", c::post_command(Command::Pause)),
        )
        .route(
            "/v2/campaigns/{id}/resume",
            op("ResumeCampaign", c::post_command(Command::Resume)),
        )
        .route(
            "/v2/campaigns/{id}/stop",
            op("StopCampaign", c::post_command(Command::Stop)),
        )
        .route(
            "/v2/campaigns/{id}/name",
            op("UpdateCampaignName", c::post_update(&c::UPDATE_NAME)),
        )
        .route(
            "/v2/campaigns/{id}/channel-subtype-config",
            op(
                "UpdateCampaignChannelSubtypeConfig",
                c::post_update(&c::UPDATE_CHANNELS),
            )
            .merge(op(
                "DeleteCampaignChannelSubtypeConfig",
                c::delete_by_query(&c::DELETE_CHANNEL),
            )),
        )
        .route(
            "/v2/campaigns/{id}/communication-limits",
            op(
                "UpdateCampaignCommunicationLimits",
                c::post_update(&c::UPDATE_COMMUNICATION_LIMITS),
            )
            .merge(op(
                "DeleteCampaignCommunicationLimits",
                c::delete_by_query(&c::DELETE_COMMUNICATION_LIMITS),
            )),
        )
        .route(
            "/v2/campaigns/{id}/communication-time",
            op(
                "UpdateCampaignCommunicationTime",
                c::post_update(&c::UPDATE_COMMUNICATION_TIME),
            )
            .merge(op(
                "DeleteCampaignCommunicationTime",
                c::delete_by_query(&c::DELETE_COMMUNICATION_TIME),
            )),
        )
        .route(
            "/v2/campaigns/{id}/entry-limits",
            op(
                "UpdateCampaignEntryLimits",
                c::post_update(&c::UPDATE_ENTRY_LIMITS),
            )
            .merge(op(
                "DeleteCampaignEntryLimits",
                delete(c::delete_entry_limits),
            )),
        )
        .route(
            "/v2/campaigns/{id}/flow",
            op(
                "UpdateCampaignFlowAssociation",
                c::post_update(&c::UPDATE_FLOW),
            ),
        )
        .route(
            "/v2/campaigns/{id}/schedule",
            op(
                "UpdateCampaignSchedule",
                c::post_update(&c::UPDATE_SCHEDULE),
            ),
        )
        .route(
            "/v2/campaigns/{id}/source",
            op("UpdateCampaignSource", c::post_update(&c::UPDATE_SOURCE)),
        )
        .route(
            "/v2/campaigns/{id}/outbound-requests",
            op("PutOutboundRequestBatch", put(outbound::put_batch)),
        )
        .route(
            "/v2/campaigns/{id}/profile-outbound-requests",
            op(
                "PutProfileOutboundRequestBatch",
                put(outbound::put_profile_batch),
            ),
        )
        .route(
            "/v2/tags/{arn}",
            op("ListTagsForResource", get(c::list_tags))
                .merge(op("TagResource", post(c::tag)))
                .merge(op("UntagResource", delete(c::untag))),
        )
        .route(
            "/v2/connect-instance/{connectInstanceId}/config",
            op("GetConnectInstanceConfig", get(i::config))
                .merge(op("DeleteConnectInstanceConfig", delete(i::delete_config))),
        )
        .route(
            "/v2/connect-instance/{connectInstanceId}/onboarding",
            op("StartInstanceOnboardingJob", put(i::start_onboarding))
                .merge(op(
                    "GetInstanceOnboardingJobStatus",
                    get(i::onboarding_status),
                ))
                .merge(op(
                    "DeleteInstanceOnboardingJob",
                    delete(i::delete_onboarding),
                )),
        )
        .route(
            "/v2/connect-instance/{connectInstanceId}/integrations",
            op("ListConnectInstanceIntegrations", get(i::list_integrations))
                .merge(op("PutConnectInstanceIntegration", put(i::put_integration))),
        )
        .route(
            "/v2/connect-instance/{connectInstanceId}/integrations/delete",
            op(
                "DeleteConnectInstanceIntegration",
                post(i::delete_integration),
            ),
        )
        .route(
            "/v2/connect-instance/{connectInstanceId}/communication-limits",
            op(
                "GetInstanceCommunicationLimits",
                get(i::communication_limits),
            )
            .merge(op(
                "PutInstanceCommunicationLimits",
                put(i::put_communication_limits),
            )),
        )
}
