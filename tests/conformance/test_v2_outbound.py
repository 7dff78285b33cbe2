"""PutOutboundRequestBatch and PutProfileOutboundRequestBatch through boto3: the v1 queue's
idempotency, expiry and per-item failures with v2's codes, a request per channel, and a
schedule that completes its campaign."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import dial_request, error_of, expiry, new_campaign, signed
from test_v2_campaigns import SMS, TELEPHONY, new_v2, validation

EMAIL = {
    "outboundMode": {"agentless": {}},
    "defaultOutboundConfig": {
        "connectSourceEmailAddress": "sender@example.com",
        "wisdomTemplateArn": "arn:aws:wisdom:us-east-1:123456789012:message-template/t-2",
    },
}
TEMPLATE = "arn:aws:wisdom:us-east-1:123456789012:message-template/t-9"


def call(token: str, phone: str = "+14155550123", expiration=None, **attributes) -> dict:
    return {
        "clientToken": token,
        "expirationTime": expiration or expiry(),
        "channelSubtypeParameters": {"telephony": {"destinationPhoneNumber": phone, "attributes": attributes}},
    }


def sms(token: str, phone: str = "+14155550123", expiration=None, **extra) -> dict:
    return {
        "clientToken": token,
        "expirationTime": expiration or expiry(),
        "channelSubtypeParameters": {
            "sms": {"destinationPhoneNumber": phone, "templateParameters": {"name": "Ann"}, **extra}
        },
    }


def email(token: str) -> dict:
    return {
        "clientToken": token,
        "expirationTime": expiry(),
        "channelSubtypeParameters": {
            "email": {"destinationEmailAddress": "someone@example.com", "templateParameters": {}}
        },
    }


def described(daemon, campaign_id: str, request_id: str) -> dict:
    r = signed(daemon.endpoint, "GET", f"/campaigns/{campaign_id}/dial-requests/{request_id}")
    assert r.status == 200, r.body
    return r.json()


def test_each_channel_becomes_a_request_of_that_channel(v2, daemon):
    c = new_v2(v2, channelSubtypeConfig={"telephony": TELEPHONY, "sms": SMS})
    out = v2.put_outbound_request_batch(
        id=c["id"], outboundRequests=[call("t-1", customer="42"), sms("s-1", templateArn=TEMPLATE)]
    )
    assert out["failedRequests"] == []
    ids = {r["clientToken"]: r["id"] for r in out["successfulRequests"]}
    assert set(ids) == {"t-1", "s-1"}
    assert described(daemon, c["id"], ids["t-1"])["channel"] == "telephony"
    text = described(daemon, c["id"], ids["s-1"])
    assert (text["channel"], text["state"]) == ("sms", "pending")


def test_replays_are_idempotent_and_reuse_with_other_content_fails(v2):
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS})
    at = expiry()
    first = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("a", expiration=at)])
    again = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("a", expiration=at)])
    assert first["successfulRequests"] == again["successfulRequests"]
    other = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("a", phone="+14155550199", expiration=at)])
    assert other["failedRequests"] == [{"clientToken": "a", "failureCode": "InvalidInput"}]
    twice = v2.put_outbound_request_batch(
        id=c["id"], outboundRequests=[sms("b", expiration=at), sms("b", expiration=at)]
    )
    assert len(twice["successfulRequests"]) == 2
    assert twice["successfulRequests"][0]["id"] == twice["successfulRequests"][1]["id"]


def test_v1_and_v2_requests_share_one_queue_and_its_tokens(client, v2):
    c = new_campaign(client)
    at = expiry()
    v1 = client.put_dial_request_batch(id=c["id"], dialRequests=[dial_request("shared", expiration=at, k="v")])
    same = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[call("shared", expiration=at, k="v")])
    assert same["successfulRequests"] == v1["successfulRequests"], "a v2 replay of a v1 request"
    sms_reuse = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("shared", expiration=at)])
    assert sms_reuse["failedRequests"] == [{"clientToken": "shared", "failureCode": "InvalidInput"}]


def test_per_item_failures(v2):
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS, "email": EMAIL})
    out = v2.put_outbound_request_batch(
        id=c["id"],
        outboundRequests=[
            sms("ok"),
            call("no-telephony"),
            email("no-sender"),
            sms("not-e164", phone="12"),
            sms("past", expiration=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)),
        ],
    )
    assert [r["clientToken"] for r in out["successfulRequests"]] == ["ok", "past"]
    assert out["failedRequests"] == [
        {"clientToken": t, "failureCode": "InvalidInput"} for t in ("no-telephony", "no-sender", "not-e164")
    ]


def test_a_past_expiration_is_accepted_and_never_sent(v2, daemon):
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS})
    gone = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    out = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("late", expiration=gone)])
    rid = out["successfulRequests"][0]["id"]
    deadline = time.monotonic() + 30
    while described(daemon, c["id"], rid)["state"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert described(daemon, c["id"], rid)["state"] == "expired"


def test_a_full_queue_fails_items_buffer_limit_exceeded(spawn):
    small = spawn("v2-small-queue", max_pending_per_campaign=2)
    v2 = small.client_v2()
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS})
    out = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms(f"q-{i}") for i in range(3)])
    assert len(out["successfulRequests"]) == 2
    assert out["failedRequests"] == [{"clientToken": "q-2", "failureCode": "BufferLimitExceeded"}]


@pytest.mark.parametrize(
    "items, path",
    [
        ([], "outboundRequests"),
        ([sms(f"x{i}") for i in range(26)], "outboundRequests"),
        ([{**sms("x"), "channelSubtypeParameters": {}}], "outboundRequests.1.member.channelSubtypeParameters"),
        (
            [{**sms("x"), "channelSubtypeParameters": {**call("x")["channelSubtypeParameters"], **sms("x")["channelSubtypeParameters"]}}],
            "Member is a union",
        ),
        ([sms("bad token!")], "outboundRequests.1.member.clientToken"),
        ([sms("x", phone="+1 415")], "destinationPhoneNumber"),
        ([sms("x", templateArn="nope")], "templateArn"),
        ([{"clientToken": "x", "channelSubtypeParameters": sms("x")["channelSubtypeParameters"]}], "expirationTime"),
    ],
)
def test_put_outbound_refuses_bad_batches(loose_v2, v2, items, path):
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS})
    with pytest.raises(ClientError) as e:
        loose_v2.put_outbound_request_batch(id=c["id"], outboundRequests=items)
    assert path in validation(e)


def test_put_outbound_to_a_missing_or_ended_campaign(v2):
    with pytest.raises(ClientError) as e:
        v2.put_outbound_request_batch(id=str(uuid.uuid4()), outboundRequests=[sms("x")])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)
    c = new_v2(v2, channelSubtypeConfig={"sms": SMS})
    v2.stop_campaign(id=c["id"])
    with pytest.raises(ClientError) as e:
        v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("x")])
    code, status, response = error_of(e)
    assert (code, status, response["state"]) == ("InvalidCampaignStateException", 409, "Stopped")


def test_profile_requests_fail_each_item_without_a_profiles_domain(v2, loose_v2):
    c = new_v2(v2)
    profile = uuid.uuid4().hex
    out = v2.put_profile_outbound_request_batch(
        id=c["id"], profileOutboundRequests=[{"clientToken": "p-1", "profileId": profile, "expirationTime": expiry()}]
    )
    assert out["successfulRequests"] == []
    assert out["failedRequests"] == [{"clientToken": "p-1", "failureCode": "ResourceNotFound"}]
    with pytest.raises(ClientError) as e:
        loose_v2.put_profile_outbound_request_batch(
            id=c["id"], profileOutboundRequests=[{"clientToken": "p-1", "profileId": "not-hex"}]
        )
    assert "profileId" in validation(e)
    with pytest.raises(ClientError) as e:
        v2.put_profile_outbound_request_batch(
            id=str(uuid.uuid4()), profileOutboundRequests=[{"clientToken": "p", "profileId": profile}]
        )
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_a_running_campaign_completes_when_its_schedule_ends(v2, client, daemon):
    now = dt.datetime.now(dt.timezone.utc)
    # The smallest SMS capacity: the campaign's first message is its 50th second's (at the
    # default 2 messages a second), so the request put stays pending until the end.
    c = new_v2(
        v2,
        channelSubtypeConfig={"sms": {**SMS, "capacity": 0.01}},
        schedule={"startTime": now - dt.timedelta(hours=1), "endTime": now + dt.timedelta(seconds=2)},
    )
    pending = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("before-end")])
    rid = pending["successfulRequests"][0]["id"]
    v2.start_campaign(id=c["id"])
    deadline = time.monotonic() + 30
    while v2.get_campaign_state(id=c["id"])["state"] != "Completed" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert v2.get_campaign_state(id=c["id"])["state"] == "Completed"
    assert client.get_campaign_state(id=c["id"])["state"] == "Stopped", "v1 has no Completed"
    batch = client.get_campaign_state_batch(campaignIds=[c["id"]])
    assert batch["successfulRequests"] == [{"campaignId": c["id"], "state": "Stopped"}]
    with pytest.raises(ClientError) as e:
        v2.put_outbound_request_batch(id=c["id"], outboundRequests=[sms("after-end")])
    code, _, response = error_of(e)
    assert (code, response["state"]) == ("InvalidCampaignStateException", "Completed")
    with pytest.raises(ClientError) as e:
        client.start_campaign(id=c["id"])
    assert error_of(e)[2]["state"] == "Stopped", "v1 is told a state of its enum"
    while described(daemon, c["id"], rid)["state"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert described(daemon, c["id"], rid)["state"] == "cancelled"


def test_a_campaign_whose_schedule_has_not_ended_keeps_running(v2):
    now = dt.datetime.now(dt.timezone.utc)
    c = new_v2(v2, schedule={"startTime": now + dt.timedelta(hours=1), "endTime": now + dt.timedelta(hours=2)})
    v2.start_campaign(id=c["id"])
    assert v2.get_campaign_state(id=c["id"])["state"] == "Running"
