"""The connectcampaignsv2 campaign operations through boto3, and one store shared with v1."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import error_of, new_campaign

FLOW_ARN = "arn:aws:connect:us-east-1:123456789012:instance/i-1/contact-flow/f-1"
SMS = {
    "capacity": 0.5,
    "outboundMode": {"agentless": {}},
    "defaultOutboundConfig": {
        "connectSourcePhoneNumberArn": "arn:aws:connect:us-east-1:123456789012:phone-number/p-1",
        "wisdomTemplateArn": "arn:aws:wisdom:us-east-1:123456789012:message-template/t-1",
    },
}
TELEPHONY = {
    "capacity": 0.4,
    "connectQueueId": "queue-1",
    "outboundMode": {"predictive": {"bandwidthAllocation": 0.8}},
    "defaultOutboundConfig": {
        "connectContactFlowId": "flow-1",
        "connectSourcePhoneNumber": "+14155550100",
        "answerMachineDetectionConfig": {"enableAnswerMachineDetection": True},
        "ringTimeout": 30,
    },
}
TIME = {
    "localTimeZoneConfig": {"defaultTimeZone": "Europe/Paris", "localTimeZoneDetection": ["AREA_CODE"]},
    "telephony": {
        "openHours": {"dailyHours": {"MONDAY": [{"startTime": "T09:00", "endTime": "T17:00"}]}},
        "restrictedPeriods": {
            "restrictedPeriodList": [{"name": "holiday", "startDate": "2026-12-24", "endDate": "2026-12-26"}]
        },
    },
}
LIMITS = {
    "allChannelSubtypes": {
        "communicationLimitsList": [{"maxCountPerRecipient": 3, "frequency": 7, "unit": "DAY"}]
    },
    "instanceLimitsHandling": "OPT_IN",
}
ENTRY = {"maxEntryCount": 2, "minEntryInterval": "P1D"}
SEGMENT = "arn:aws:profile:us-east-1:123456789012:domains/d-1/segment-definitions/s-1"


def instance() -> str:
    return f"inst-{uuid.uuid4().hex[:12]}"


def schedule(start_hours: float = -1, end_hours: float = 24) -> dict:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    return {"startTime": now + dt.timedelta(hours=start_hours), "endTime": now + dt.timedelta(hours=end_hours)}


def new_v2(v2, **overrides) -> dict:
    params = {
        "name": f"v2-{uuid.uuid4().hex[:8]}",
        "connectInstanceId": instance(),
        "channelSubtypeConfig": {"telephony": TELEPHONY},
    }
    params.update(overrides)
    out = v2.create_campaign(**params)
    return {"id": out["id"], "arn": out["arn"], **params}


def validation(excinfo) -> str:
    code, status, response = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400), response
    return response["Error"]["Message"]


def test_create_with_every_setting_then_describe_returns_it_all(v2):
    sched = schedule()
    created = v2.create_campaign(
        name="all of it",
        connectInstanceId="inst-all",
        channelSubtypeConfig={"telephony": TELEPHONY, "sms": SMS},
        type="MANAGED",
        source={"customerProfilesSegmentArn": SEGMENT},
        connectCampaignFlowArn=FLOW_ARN,
        schedule={**sched, "refreshFrequency": "PT1H"},
        entryLimitsConfig=ENTRY,
        communicationTimeConfig=TIME,
        communicationLimitsOverride=LIMITS,
        tags={"team": "sales"},
    )
    assert created["arn"] == f"arn:aws:connect-campaigns:us-east-1:123456789012:campaign/{created['id']}"
    assert created["tags"] == {"team": "sales"}
    campaign = v2.describe_campaign(id=created["id"])["campaign"]
    # Newer botocore models carry the last modification time; older ones drop it.
    assert isinstance(campaign.pop("lastModifiedTime", dt.datetime.now()), dt.datetime)
    assert campaign == {
        "id": created["id"],
        "arn": created["arn"],
        "name": "all of it",
        "connectInstanceId": "inst-all",
        "channelSubtypeConfig": {"telephony": TELEPHONY, "sms": SMS},
        "type": "MANAGED",
        "source": {"customerProfilesSegmentArn": SEGMENT},
        "connectCampaignFlowArn": FLOW_ARN,
        "schedule": {**sched, "refreshFrequency": "PT1H"},
        "entryLimitsConfig": ENTRY,
        "communicationTimeConfig": TIME,
        "communicationLimitsOverride": LIMITS,
        "tags": {"team": "sales"},
    }


@pytest.mark.parametrize(
    "overrides, path",
    [
        ({"name": ""}, "'name'"),
        ({"connectInstanceId": "bad id"}, "'connectInstanceId'"),
        ({"type": "OTHER"}, "'type'"),
        ({"channelSubtypeConfig": {"telephony": {**TELEPHONY, "capacity": 2.0}}}, "channelSubtypeConfig.telephony.capacity"),
        (
            {"channelSubtypeConfig": {"telephony": {**TELEPHONY, "outboundMode": {}}}},
            "'channelSubtypeConfig.telephony.outboundMode' failed to satisfy constraint: Member is a union",
        ),
        (
            {"channelSubtypeConfig": {"telephony": {**TELEPHONY, "outboundMode": {"progressive": {"bandwidthAllocation": 1}, "agentless": {}}}}},
            "Member is a union",
        ),
        (
            {"channelSubtypeConfig": {"sms": {**SMS, "defaultOutboundConfig": {"connectSourcePhoneNumberArn": "not-an-arn-at-all-x", "wisdomTemplateArn": SMS["defaultOutboundConfig"]["wisdomTemplateArn"]}}}},
            "channelSubtypeConfig.sms.defaultOutboundConfig.connectSourcePhoneNumberArn",
        ),
        ({"channelSubtypeConfig": {"telephony": {**TELEPHONY, "defaultOutboundConfig": {**TELEPHONY["defaultOutboundConfig"], "ringTimeout": 5}}}}, "ringTimeout"),
        ({"entryLimitsConfig": {"maxEntryCount": 1, "minEntryInterval": "one day"}}, "entryLimitsConfig.minEntryInterval"),
        ({"communicationTimeConfig": {**TIME, "telephony": {"openHours": {"dailyHours": {"MONDAY": [{"startTime": "9am", "endTime": "T17:00"}]}}}}}, "startTime"),
        ({"communicationLimitsOverride": {"allChannelSubtypes": {"communicationLimitsList": [{"maxCountPerRecipient": 1, "frequency": 31, "unit": "DAY"}]}}}, "frequency"),
        ({"schedule": schedule(2, 1)}, "schedule.endTime"),
        ({"tags": {"aws:reserved": "x"}}, "tags.key"),
    ],
)
def test_create_refuses_what_the_model_refuses(loose_v2, overrides, path):
    with pytest.raises(ClientError) as e:
        new_v2(loose_v2, **overrides)
    assert path in validation(e)


def test_create_requires_name_and_instance(loose_v2):
    with pytest.raises(ClientError) as e:
        loose_v2.create_campaign()
    message = validation(e)
    assert "'name' failed to satisfy constraint: Member must not be null" in message
    assert "'connectInstanceId' failed to satisfy constraint: Member must not be null" in message


def test_v1_campaign_reads_through_v2_and_v2_through_v1(client, v2):
    c1 = new_campaign(
        client,
        dialerConfig={"predictiveDialerConfig": {"bandwidthAllocation": 0.75, "dialingCapacity": 0.5}},
        outboundCallConfig={"connectContactFlowId": "flow-9", "connectQueueId": "q-9"},
    )
    seen = v2.describe_campaign(id=c1["id"])["campaign"]
    assert seen["channelSubtypeConfig"] == {
        "telephony": {
            "capacity": 0.5,
            "connectQueueId": "q-9",
            "outboundMode": {"predictive": {"bandwidthAllocation": 0.75}},
            "defaultOutboundConfig": {"connectContactFlowId": "flow-9"},
        }
    }
    c2 = new_v2(v2)
    seen = client.describe_campaign(id=c2["id"])["campaign"]
    assert seen["dialerConfig"] == {"predictiveDialerConfig": {"bandwidthAllocation": 0.8, "dialingCapacity": 0.4}}
    assert seen["outboundCallConfig"] == {
        "connectContactFlowId": "flow-1",
        "connectSourcePhoneNumber": "+14155550100",
        "connectQueueId": "queue-1",
        "answerMachineDetectionConfig": {"enableAnswerMachineDetection": True},
    }
    # A v1 update keeps what v1 cannot say (the ring timeout) and v2 sees the change.
    client.update_campaign_dialer_config(id=c2["id"], dialerConfig={"agentlessDialerConfig": {"dialingCapacity": 0.2}})
    telephony = v2.describe_campaign(id=c2["id"])["campaign"]["channelSubtypeConfig"]["telephony"]
    assert telephony["outboundMode"] == {"agentless": {}}
    assert telephony["capacity"] == 0.2
    assert telephony["defaultOutboundConfig"]["ringTimeout"] == 30
    # State is shared.
    v2.start_campaign(id=c2["id"])
    assert client.get_campaign_state(id=c2["id"])["state"] == "Running"
    client.pause_campaign(id=c2["id"])
    assert v2.get_campaign_state(id=c2["id"])["state"] == "Paused"


def test_v1_cannot_describe_a_campaign_without_telephony(client, v2):
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS})
    with pytest.raises(ClientError) as e:
        client.describe_campaign(id=c["id"])
    code, status, response = error_of(e)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "no telephony channel" in response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        client.update_campaign_dialer_config(id=c["id"], dialerConfig={"agentlessDialerConfig": {}})
    assert error_of(e)[:2] == ("ConflictException", 409)
    assert client.get_campaign_state(id=c["id"])["state"] == "Initialized"


def test_list_filters_by_instance_and_pages(v2):
    inst = instance()
    ids = [new_v2(v2, connectInstanceId=inst, channelSubtypeConfig={"sms": SMS} if i else {"telephony": TELEPHONY})["id"] for i in range(3)]
    first = v2.list_campaigns(maxResults=2, filters={"instanceIdFilter": {"value": inst, "operator": "Eq"}})
    assert [c["id"] for c in first["campaignSummaryList"]] == ids[:2]
    assert first["campaignSummaryList"][0]["channelSubtypes"] == ["TELEPHONY"]
    assert first["campaignSummaryList"][1]["channelSubtypes"] == ["SMS"]
    rest = v2.list_campaigns(
        maxResults=2, nextToken=first["nextToken"], filters={"instanceIdFilter": {"value": inst, "operator": "Eq"}}
    )
    assert [c["id"] for c in rest["campaignSummaryList"]] == ids[2:]
    assert "nextToken" not in rest


@pytest.mark.parametrize(
    "params, path",
    [
        ({"maxResults": 0}, "maxResults"),
        ({"maxResults": 51}, "maxResults"),
        ({"nextToken": "garbage"}, "nextToken"),
        ({"filters": {"instanceIdFilter": {"value": "i", "operator": "Ne"}}}, "filters.instanceIdFilter.operator"),
        ({"filters": {"instanceIdFilter": {"operator": "Eq"}}}, "filters.instanceIdFilter.value"),
    ],
)
def test_list_refuses_bad_input(loose_v2, params, path):
    with pytest.raises(ClientError) as e:
        loose_v2.list_campaigns(**params)
    assert path in validation(e)


def test_lifecycle_and_state_batch(v2):
    c = new_v2(v2)
    v2.start_campaign(id=c["id"])
    v2.pause_campaign(id=c["id"])
    v2.resume_campaign(id=c["id"])
    assert v2.get_campaign_state(id=c["id"])["state"] == "Running"
    v2.stop_campaign(id=c["id"])
    with pytest.raises(ClientError) as e:
        v2.start_campaign(id=c["id"])
    code, status, response = error_of(e)
    assert (code, status) == ("InvalidCampaignStateException", 409)
    assert response["state"] == "Stopped"
    batch = v2.get_campaign_state_batch(campaignIds=[c["id"], "missing-campaign"])
    assert batch["successfulRequests"] == [{"campaignId": c["id"], "state": "Stopped"}]
    assert batch["failedRequests"] == [{"campaignId": "missing-campaign", "failureCode": "ResourceNotFound"}]


def test_lifecycle_refuses_bad_ids_and_unknown_campaigns(loose_v2):
    for op in ("start_campaign", "pause_campaign", "resume_campaign", "stop_campaign", "get_campaign_state", "describe_campaign", "delete_campaign"):
        with pytest.raises(ClientError) as e:
            getattr(loose_v2, op)(id="no_underscores")
        assert "'id'" in validation(e), op
        with pytest.raises(ClientError) as e:
            getattr(loose_v2, op)(id=str(uuid.uuid4()))
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404), op
    with pytest.raises(ClientError) as e:
        loose_v2.get_campaign_state_batch(campaignIds=[])
    assert "campaignIds" in validation(e)


def test_delete_removes_the_campaign(v2):
    c = new_v2(v2)
    v2.delete_campaign(id=c["id"])
    with pytest.raises(ClientError) as e:
        v2.describe_campaign(id=c["id"])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_every_setting_updates_and_deletes(v2):
    c = new_v2(v2)
    cid = c["id"]
    v2.update_campaign_name(id=cid, name="renamed")
    v2.update_campaign_channel_subtype_config(id=cid, channelSubtypeConfig={"sms": SMS})
    v2.update_campaign_communication_limits(id=cid, communicationLimitsOverride=LIMITS)
    v2.update_campaign_communication_time(id=cid, communicationTimeConfig=TIME)
    v2.update_campaign_entry_limits(id=cid, entryLimitsConfig=ENTRY)
    v2.update_campaign_flow_association(id=cid, connectCampaignFlowArn=FLOW_ARN)
    sched = schedule()
    v2.update_campaign_schedule(id=cid, schedule=sched)
    v2.update_campaign_source(id=cid, source={"eventTrigger": {"customerProfilesDomainArn": SEGMENT}})
    got = v2.describe_campaign(id=cid)["campaign"]
    assert got["name"] == "renamed"
    assert got["channelSubtypeConfig"] == {"telephony": TELEPHONY, "sms": SMS}, "channels merge"
    assert got["communicationLimitsOverride"] == LIMITS
    assert got["communicationTimeConfig"] == TIME
    assert got["entryLimitsConfig"] == ENTRY
    assert got["connectCampaignFlowArn"] == FLOW_ARN
    assert got["schedule"] == sched
    assert got["source"] == {"eventTrigger": {"customerProfilesDomainArn": SEGMENT}}

    v2.delete_campaign_channel_subtype_config(id=cid, channelSubtype="TELEPHONY")
    v2.delete_campaign_communication_limits(id=cid, config="ALL_CHANNEL_SUBTYPES")
    v2.delete_campaign_communication_time(id=cid, config="TELEPHONY")
    v2.delete_campaign_entry_limits(id=cid)
    got = v2.describe_campaign(id=cid)["campaign"]
    assert got["channelSubtypeConfig"] == {"sms": SMS}
    assert "communicationLimitsOverride" not in got
    assert got["communicationTimeConfig"] == {"localTimeZoneConfig": TIME["localTimeZoneConfig"]}
    assert "entryLimitsConfig" not in got


@pytest.mark.parametrize(
    "op, params, path",
    [
        ("update_campaign_name", {"name": "x" * 128}, "name"),
        ("update_campaign_channel_subtype_config", {"channelSubtypeConfig": {"sms": {"outboundMode": {"agentless": {}}}}}, "channelSubtypeConfig.sms.defaultOutboundConfig"),
        ("update_campaign_communication_limits", {"communicationLimitsOverride": {"instanceLimitsHandling": "MAYBE"}}, "instanceLimitsHandling"),
        ("update_campaign_communication_time", {"communicationTimeConfig": {}}, "localTimeZoneConfig"),
        ("update_campaign_entry_limits", {"entryLimitsConfig": {"maxEntryCount": -1, "minEntryInterval": "P1D"}}, "maxEntryCount"),
        ("update_campaign_flow_association", {"connectCampaignFlowArn": "short"}, "connectCampaignFlowArn"),
        ("update_campaign_schedule", {"schedule": {"startTime": dt.datetime(2030, 1, 1)}}, "schedule.endTime"),
        ("update_campaign_source", {"source": {}}, "'source' failed to satisfy constraint: Member is a union"),
        ("delete_campaign_channel_subtype_config", {"channelSubtype": "FAX"}, "channelSubtype"),
        ("delete_campaign_communication_limits", {"config": "SOME"}, "config"),
        ("delete_campaign_communication_time", {"config": "FAX"}, "config"),
    ],
)
def test_updates_refuse_bad_input(loose_v2, v2, op, params, path):
    c = new_v2(v2)
    with pytest.raises(ClientError) as e:
        getattr(loose_v2, op)(id=c["id"], **params)
    assert path in validation(e)


def test_updates_of_an_ended_campaign_are_refused_as_the_model_says(v2):
    c = new_v2(v2)
    v2.stop_campaign(id=c["id"])
    with pytest.raises(ClientError) as e:
        v2.update_campaign_name(id=c["id"], name="late")
    assert error_of(e)[:2] == ("ConflictException", 409)
    with pytest.raises(ClientError) as e:
        v2.update_campaign_schedule(id=c["id"], schedule=schedule())
    code, status, response = error_of(e)
    assert (code, status, response["state"]) == ("InvalidCampaignStateException", 409, "Stopped")
    with pytest.raises(ClientError) as e:
        v2.delete_campaign_entry_limits(id=c["id"])
    assert error_of(e)[:2] == ("InvalidCampaignStateException", 409)


def test_tags_on_v2_arns(v2, client, daemon):
    c = new_v2(v2, tags={"a": "1"})
    v2.tag_resource(arn=c["arn"], tags={"b": "2"})
    assert v2.list_tags_for_resource(arn=c["arn"])["tags"] == {"a": "1", "b": "2"}
    assert client.list_tags_for_resource(arn=c["arn"])["tags"] == {"a": "1", "b": "2"}, "one store"
    v2.untag_resource(arn=c["arn"], tagKeys=["a"])
    assert v2.list_tags_for_resource(arn=c["arn"])["tags"] == {"b": "2"}
    missing = c["arn"].rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    with pytest.raises(ClientError) as e:
        v2.list_tags_for_resource(arn=missing)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    other_account = c["arn"].replace("123456789012", "999999999999")
    with pytest.raises(ClientError) as e:
        v2.tag_resource(arn=other_account, tags={"x": "y"})
    assert error_of(e)[:2] == ("AccessDeniedException", 403)


def test_tags_refuse_bad_input(loose_v2, v2):
    c = new_v2(v2)
    with pytest.raises(ClientError) as e:
        loose_v2.tag_resource(arn=c["arn"], tags={"aws:x": "y"})
    assert "tags.key" in validation(e)
    with pytest.raises(ClientError) as e:
        loose_v2.tag_resource(arn="arn:nope", tags={"x": "y"})
    assert "'arn'" in validation(e)
    with pytest.raises(ClientError) as e:
        loose_v2.untag_resource(arn=c["arn"], tagKeys=[])
    assert "tagKeys" in validation(e)
    with pytest.raises(ClientError) as e:
        loose_v2.list_tags_for_resource(arn="x")
    assert "'arn'" in validation(e)
