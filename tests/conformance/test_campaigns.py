"""Campaign operations through boto3: create/describe/list/delete, lifecycle, settings, tags."""

import uuid

import pytest
from botocore.exceptions import ClientError

from harness import error_of, new_campaign


def test_create_then_describe_returns_everything_stored(client):
    instance = f"inst-{uuid.uuid4().hex[:8]}"
    created = client.create_campaign(
        name="spring drive",
        connectInstanceId=instance,
        dialerConfig={"predictiveDialerConfig": {"bandwidthAllocation": 0.75, "dialingCapacity": 0.5}},
        outboundCallConfig={
            "connectContactFlowId": "flow-42",
            "connectSourcePhoneNumber": "+14155550100",
            "connectQueueId": "queue-7",
            "answerMachineDetectionConfig": {
                "enableAnswerMachineDetection": True,
                "awaitAnswerMachinePrompt": False,
            },
        },
        tags={"team": "sales", "cost/center": "42"},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["arn"] == f"arn:aws:connect-campaigns:us-east-1:123456789012:campaign/{created['id']}"
    assert created["tags"] == {"team": "sales", "cost/center": "42"}

    campaign = client.describe_campaign(id=created["id"])["campaign"]
    assert campaign == {
        "id": created["id"],
        "arn": created["arn"],
        "name": "spring drive",
        "connectInstanceId": instance,
        "dialerConfig": {"predictiveDialerConfig": {"bandwidthAllocation": 0.75, "dialingCapacity": 0.5}},
        "outboundCallConfig": {
            "connectContactFlowId": "flow-42",
            "connectSourcePhoneNumber": "+14155550100",
            "connectQueueId": "queue-7",
            "answerMachineDetectionConfig": {
                "enableAnswerMachineDetection": True,
                "awaitAnswerMachinePrompt": False,
            },
        },
        "tags": {"team": "sales", "cost/center": "42"},
    }
    assert client.get_campaign_state(id=created["id"])["state"] == "Initialized"


def test_each_create_gets_a_new_id(client):
    a = new_campaign(client, name="same")
    b = new_campaign(client, name="same")
    assert a["id"] != b["id"] and a["arn"] != b["arn"]


def test_agentless_campaign_round_trips(client):
    c = new_campaign(client, dialerConfig={"agentlessDialerConfig": {"dialingCapacity": 0.25}})
    got = client.describe_campaign(id=c["id"])["campaign"]
    assert got["dialerConfig"] == {"agentlessDialerConfig": {"dialingCapacity": 0.25}}


def test_delete_campaign_then_describe_is_not_found(client, campaign):
    out = client.delete_campaign(id=campaign["id"])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as e:
        client.describe_campaign(id=campaign["id"])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        client.delete_campaign(id=campaign["id"])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        client.get_campaign_state(id=campaign["id"])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def list_all(client, page_size, **kw):
    pages, token = [], None
    while True:
        args = dict(maxResults=page_size, **kw)
        if token:
            args["nextToken"] = token
        out = client.list_campaigns(**args)
        pages.append(out["campaignSummaryList"])
        token = out.get("nextToken")
        if not token:
            return pages
        assert len(pages) < 1000, "paging does not end"


def test_list_campaigns_pages_with_instance_filter(client):
    instance = f"inst-{uuid.uuid4().hex[:8]}"
    created = [new_campaign(client, instance=instance) for _ in range(7)]
    other = new_campaign(client)  # another instance: must be filtered out

    pages = list_all(client, 3, filters={"instanceIdFilter": {"value": instance, "operator": "Eq"}})
    assert [len(p) for p in pages] == [3, 3, 1]
    listed = [s for page in pages for s in page]
    assert [s["id"] for s in listed] == [c["id"] for c in created], "creation order, no repeats"
    for summary, c in zip(listed, created):
        assert summary == {
            "id": c["id"],
            "arn": c["arn"],
            "name": c["name"],
            "connectInstanceId": instance,
        }
    assert other["id"] not in {s["id"] for s in listed}


def test_list_campaigns_exact_multiple_ends_without_token(client):
    instance = f"inst-{uuid.uuid4().hex[:8]}"
    created = [new_campaign(client, instance=instance) for _ in range(4)]
    pages = list_all(client, 2, filters={"instanceIdFilter": {"value": instance, "operator": "Eq"}})
    assert [s["id"] for p in pages for s in p] == [c["id"] for c in created]
    assert all(len(p) <= 2 for p in pages)


def test_list_campaigns_unfiltered_covers_all_campaigns(client):
    created = {new_campaign(client)["id"] for _ in range(3)}
    pages = list_all(client, 2)
    ids = [s["id"] for p in pages for s in p]
    assert len(ids) == len(set(ids)), "no campaign is listed twice"
    assert created <= set(ids)
    assert len(pages) > 1


def test_list_campaigns_default_page_is_at_most_50(client):
    out = client.list_campaigns()
    assert len(out["campaignSummaryList"]) <= 50


def test_list_campaigns_unknown_instance_is_empty(client):
    out = client.list_campaigns(filters={"instanceIdFilter": {"value": "no-such-instance", "operator": "Eq"}})
    assert out["campaignSummaryList"] == []
    assert "nextToken" not in out


def test_list_campaigns_rejects_a_forged_next_token(client):
    with pytest.raises(ClientError) as e:
        client.list_campaigns(nextToken="definitely-not-a-token")
    assert error_of(e)[:2] == ("ValidationException", 400)


def test_lifecycle_start_pause_resume_stop(client, campaign):
    cid = campaign["id"]
    steps = [
        (client.start_campaign, "Running"),
        (client.pause_campaign, "Paused"),
        (client.resume_campaign, "Running"),
        (client.stop_campaign, "Stopped"),
    ]
    for call, state in steps:
        assert call(id=cid)["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert client.get_campaign_state(id=cid)["state"] == state


def test_stop_from_initialized_and_from_paused(client):
    a = new_campaign(client)
    client.stop_campaign(id=a["id"])
    assert client.get_campaign_state(id=a["id"])["state"] == "Stopped"
    b = new_campaign(client)
    client.start_campaign(id=b["id"])
    client.pause_campaign(id=b["id"])
    client.stop_campaign(id=b["id"])
    assert client.get_campaign_state(id=b["id"])["state"] == "Stopped"


@pytest.mark.parametrize(
    "setup, command, state",
    [
        ([], "pause_campaign", "Initialized"),
        ([], "resume_campaign", "Initialized"),
        (["start_campaign"], "start_campaign", "Running"),
        (["start_campaign"], "resume_campaign", "Running"),
        (["start_campaign", "pause_campaign"], "pause_campaign", "Paused"),
        (["start_campaign", "pause_campaign"], "start_campaign", "Paused"),
        (["stop_campaign"], "start_campaign", "Stopped"),
        (["stop_campaign"], "stop_campaign", "Stopped"),
        (["stop_campaign"], "resume_campaign", "Stopped"),
    ],
)
def test_illegal_transition_is_invalid_campaign_state(client, setup, command, state):
    c = new_campaign(client)
    for step in setup:
        getattr(client, step)(id=c["id"])
    with pytest.raises(ClientError) as e:
        getattr(client, command)(id=c["id"])
    code, status, response = error_of(e)
    assert (code, status) == ("InvalidCampaignStateException", 409)
    assert response["state"] == state
    assert response["Error"]["Message"]
    assert client.get_campaign_state(id=c["id"])["state"] == state, "a refused command changes nothing"


@pytest.mark.parametrize("command", ["start_campaign", "pause_campaign", "resume_campaign", "stop_campaign"])
def test_lifecycle_command_on_unknown_campaign_is_not_found(client, command):
    with pytest.raises(ClientError) as e:
        getattr(client, command)(id=str(uuid.uuid4()))
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_get_campaign_state_batch_reports_unknown_ids(client):
    running = new_campaign(client)
    client.start_campaign(id=running["id"])
    fresh = new_campaign(client)
    unknown = str(uuid.uuid4())
    out = client.get_campaign_state_batch(campaignIds=[running["id"], unknown, fresh["id"]])
    assert sorted(out["successfulRequests"], key=lambda r: r["campaignId"]) == sorted(
        [
            {"campaignId": running["id"], "state": "Running"},
            {"campaignId": fresh["id"], "state": "Initialized"},
        ],
        key=lambda r: r["campaignId"],
    )
    assert out["failedRequests"] == [{"campaignId": unknown, "failureCode": "ResourceNotFound"}]


def test_update_dialer_config_is_described(client, campaign):
    client.update_campaign_dialer_config(
        id=campaign["id"], dialerConfig={"agentlessDialerConfig": {"dialingCapacity": 0.3}}
    )
    got = client.describe_campaign(id=campaign["id"])["campaign"]
    assert got["dialerConfig"] == {"agentlessDialerConfig": {"dialingCapacity": 0.3}}
    client.update_campaign_dialer_config(
        id=campaign["id"], dialerConfig={"predictiveDialerConfig": {"bandwidthAllocation": 1.0}}
    )
    got = client.describe_campaign(id=campaign["id"])["campaign"]
    assert got["dialerConfig"] == {"predictiveDialerConfig": {"bandwidthAllocation": 1.0}}


def test_update_name_is_described_and_listed(client, campaign):
    client.update_campaign_name(id=campaign["id"], name="renamed campaign")
    assert client.describe_campaign(id=campaign["id"])["campaign"]["name"] == "renamed campaign"
    listed = client.list_campaigns(
        filters={"instanceIdFilter": {"value": campaign["connectInstanceId"], "operator": "Eq"}}
    )["campaignSummaryList"]
    assert [s["name"] for s in listed] == ["renamed campaign"]


def test_update_outbound_call_config_changes_only_what_is_sent(client):
    c = new_campaign(
        client,
        outboundCallConfig={
            "connectContactFlowId": "flow-1",
            "connectSourcePhoneNumber": "+14155550100",
            "connectQueueId": "queue-1",
        },
    )
    client.update_campaign_outbound_call_config(
        id=c["id"],
        connectContactFlowId="flow-2",
        answerMachineDetectionConfig={"enableAnswerMachineDetection": True, "awaitAnswerMachinePrompt": True},
    )
    got = client.describe_campaign(id=c["id"])["campaign"]["outboundCallConfig"]
    assert got == {
        "connectContactFlowId": "flow-2",
        "connectSourcePhoneNumber": "+14155550100",
        "connectQueueId": "queue-1",
        "answerMachineDetectionConfig": {"enableAnswerMachineDetection": True, "awaitAnswerMachinePrompt": True},
    }
    client.update_campaign_outbound_call_config(id=c["id"], connectSourcePhoneNumber="+14155550199")
    got = client.describe_campaign(id=c["id"])["campaign"]["outboundCallConfig"]
    assert got["connectSourcePhoneNumber"] == "+14155550199"
    assert got["connectContactFlowId"] == "flow-2"


def test_updates_of_running_and_paused_campaigns_are_allowed(client, campaign):
    client.start_campaign(id=campaign["id"])
    client.update_campaign_name(id=campaign["id"], name="while running")
    client.pause_campaign(id=campaign["id"])
    client.update_campaign_dialer_config(
        id=campaign["id"], dialerConfig={"progressiveDialerConfig": {"bandwidthAllocation": 0.1}}
    )
    got = client.describe_campaign(id=campaign["id"])["campaign"]
    assert got["name"] == "while running"
    assert got["dialerConfig"] == {"progressiveDialerConfig": {"bandwidthAllocation": 0.1}}


@pytest.mark.parametrize(
    "call, kwargs",
    [
        ("update_campaign_name", {"name": "too late"}),
        ("update_campaign_dialer_config", {"dialerConfig": {"agentlessDialerConfig": {}}}),
        ("update_campaign_outbound_call_config", {"connectContactFlowId": "flow-9"}),
    ],
)
def test_updates_of_a_stopped_campaign_conflict(client, campaign, call, kwargs):
    client.stop_campaign(id=campaign["id"])
    before = client.describe_campaign(id=campaign["id"])["campaign"]
    with pytest.raises(ClientError) as e:
        getattr(client, call)(id=campaign["id"], **kwargs)
    code, status, response = error_of(e)
    assert (code, status) == ("ConflictException", 409)
    assert response["Error"]["Message"]
    assert client.describe_campaign(id=campaign["id"])["campaign"] == before


@pytest.mark.parametrize(
    "call, kwargs",
    [
        ("describe_campaign", {}),
        ("update_campaign_name", {"name": "x"}),
        ("update_campaign_dialer_config", {"dialerConfig": {"agentlessDialerConfig": {}}}),
        ("update_campaign_outbound_call_config", {"connectContactFlowId": "flow-9"}),
    ],
)
def test_operations_on_unknown_campaign_are_not_found(client, call, kwargs):
    with pytest.raises(ClientError) as e:
        getattr(client, call)(id=str(uuid.uuid4()), **kwargs)
    code, status, response = error_of(e)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert response["Error"]["Message"]


def test_tags_add_list_remove_with_arn_path(client):
    c = new_campaign(client, tags={"keep": "1", "drop": "2"})
    arn = c["arn"]
    assert ":" in arn and "/" in arn
    assert client.list_tags_for_resource(arn=arn)["tags"] == {"keep": "1", "drop": "2"}
    client.tag_resource(arn=arn, tags={"ns:key/with.sep": "v", "keep": "updated"})
    assert client.list_tags_for_resource(arn=arn)["tags"] == {
        "keep": "updated",
        "drop": "2",
        "ns:key/with.sep": "v",
    }
    client.untag_resource(arn=arn, tagKeys=["drop", "ns:key/with.sep", "never-set"])
    assert client.list_tags_for_resource(arn=arn)["tags"] == {"keep": "updated"}
    assert client.describe_campaign(id=c["id"])["campaign"]["tags"] == {"keep": "updated"}


def test_tags_of_unknown_campaign_are_not_found(client):
    arn = f"arn:aws:connect-campaigns:us-east-1:123456789012:campaign/{uuid.uuid4()}"
    for call, kwargs in [
        (client.list_tags_for_resource, {}),
        (client.tag_resource, {"tags": {"a": "b"}}),
        (client.untag_resource, {"tagKeys": ["a"]}),
    ]:
        with pytest.raises(ClientError) as e:
            call(arn=arn, **kwargs)
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404), call


def test_tags_of_a_foreign_arn_are_not_found(client):
    with pytest.raises(ClientError) as e:
        client.list_tags_for_resource(arn="arn:aws:connect:us-east-1:123456789012:instance/abc")
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
