"""ValidationException (400): inputs that break the model's constraints, sent with client-side
validation off so that only the server judges them. A refused request changes nothing."""

import pytest
from botocore.exceptions import ClientError

import json

from harness import dial_request, error_of, expiry, new_campaign, psql, signed, sql_literal

DIALER = {"progressiveDialerConfig": {"bandwidthAllocation": 0.5}}
CALLS = {"connectContactFlowId": "flow-1"}


def create(**overrides):
    params = {
        "name": "valid name",
        "connectInstanceId": "inst-validation",
        "dialerConfig": DIALER,
        "outboundCallConfig": CALLS,
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not MISSING}


MISSING = object()
EXP = expiry()


def items(n, **kw):
    return [dial_request(f"t{i}", expiration=EXP, **kw) for i in range(n)]


# (operation, arguments without the campaign id, text the message must name)
CASES = {
    "create missing name": ("create_campaign", create(name=MISSING), "name"),
    "create missing dialerConfig": ("create_campaign", create(dialerConfig=MISSING), "dialerConfig"),
    "create missing outboundCallConfig": ("create_campaign", create(outboundCallConfig=MISSING), "outboundCallConfig"),
    "create missing contact flow": ("create_campaign", create(outboundCallConfig={}), "connectContactFlowId"),
    "create name too long": ("create_campaign", create(name="n" * 128), "name"),
    "create name empty": ("create_campaign", create(name=""), "name"),
    "create name is a number": ("create_campaign", create(name=12345), "name"),
    "create dialerConfig two members": (
        "create_campaign",
        create(dialerConfig={**DIALER, "agentlessDialerConfig": {}}),
        "dialerConfig",
    ),
    "create dialerConfig no member": ("create_campaign", create(dialerConfig={}), "dialerConfig"),
    "create bandwidthAllocation 1.5": (
        "create_campaign",
        create(dialerConfig={"progressiveDialerConfig": {"bandwidthAllocation": 1.5}}),
        "bandwidthAllocation",
    ),
    "create bandwidthAllocation negative": (
        "create_campaign",
        create(dialerConfig={"predictiveDialerConfig": {"bandwidthAllocation": -0.1}}),
        "bandwidthAllocation",
    ),
    "create bandwidthAllocation missing": (
        "create_campaign",
        create(dialerConfig={"predictiveDialerConfig": {}}),
        "bandwidthAllocation",
    ),
    "create dialingCapacity 0": (
        "create_campaign",
        create(dialerConfig={"agentlessDialerConfig": {"dialingCapacity": 0}}),
        "dialingCapacity",
    ),
    "create dialingCapacity 1.01": (
        "create_campaign",
        create(dialerConfig={"progressiveDialerConfig": {"bandwidthAllocation": 1, "dialingCapacity": 1.01}}),
        "dialingCapacity",
    ),
    "create instance id bad chars": ("create_campaign", create(connectInstanceId="inst 1"), "connectInstanceId"),
    "create AMD flag missing": (
        "create_campaign",
        create(outboundCallConfig={**CALLS, "answerMachineDetectionConfig": {}}),
        "enableAnswerMachineDetection",
    ),
    "create tag key with space": ("create_campaign", create(tags={"bad key": "v"}), "tags"),
    "create tag key aws: prefix": ("create_campaign", create(tags={"aws:reserved": "v"}), "tags"),
    "create tag key too long": ("create_campaign", create(tags={"k" * 129: "v"}), "tags"),
    "create tag value too long": ("create_campaign", create(tags={"k": "v" * 257}), "tags"),
    "list maxResults 0": ("list_campaigns", {"maxResults": 0}, "maxResults"),
    "list maxResults 51": ("list_campaigns", {"maxResults": 51}, "maxResults"),
    "list filter operator": (
        "list_campaigns",
        {"filters": {"instanceIdFilter": {"value": "inst", "operator": "Ne"}}},
        "operator",
    ),
    "list filter value missing": (
        "list_campaigns",
        {"filters": {"instanceIdFilter": {"operator": "Eq"}}},
        "value",
    ),
    "state batch empty": ("get_campaign_state_batch", {"campaignIds": []}, "campaignIds"),
    "state batch 26 ids": ("get_campaign_state_batch", {"campaignIds": [f"c{i}" for i in range(26)]}, "campaignIds"),
    "state batch missing": ("get_campaign_state_batch", {}, "campaignIds"),
    "update name too long": ("update_campaign_name", {"id": "CID", "name": "n" * 128}, "name"),
    "update name missing": ("update_campaign_name", {"id": "CID"}, "name"),
    "update dialer two members": (
        "update_campaign_dialer_config",
        {"id": "CID", "dialerConfig": {**DIALER, "predictiveDialerConfig": {"bandwidthAllocation": 1}}},
        "dialerConfig",
    ),
    "update dialer no member": ("update_campaign_dialer_config", {"id": "CID", "dialerConfig": {}}, "dialerConfig"),
    "update dialer missing": ("update_campaign_dialer_config", {"id": "CID"}, "dialerConfig"),
    "update call flow too long": (
        "update_campaign_outbound_call_config",
        {"id": "CID", "connectContactFlowId": "f" * 501},
        "connectContactFlowId",
    ),
    "tag resource missing tags": ("tag_resource", {"arn": "ARN"}, "tags"),
    "tag resource bad key": ("tag_resource", {"arn": "ARN", "tags": {"no spaces": "v"}}, "tags"),
    "untag key too long": ("untag_resource", {"arn": "ARN", "tagKeys": ["k" * 129]}, "tagKeys"),
    "dial 0 requests": ("put_dial_request_batch", {"id": "CID", "dialRequests": []}, "dialRequests"),
    "dial 26 requests": ("put_dial_request_batch", {"id": "CID", "dialRequests": items(26)}, "dialRequests"),
    "dial missing list": ("put_dial_request_batch", {"id": "CID"}, "dialRequests"),
    "dial clientToken bad chars": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("bad token!", expiration=EXP)]},
        "clientToken",
    ),
    "dial clientToken too long": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("t" * 201, expiration=EXP)]},
        "clientToken",
    ),
    "dial phone with spaces": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("t", "+1 415 555 0123", EXP)]},
        "phoneNumber",
    ),
    "dial phone too long": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("t", "+" + "1" * 20, EXP)]},
        "phoneNumber",
    ),
    "dial phone a number": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("t", 14155550123, EXP)]},
        "phoneNumber",
    ),
    "dial missing attributes": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [{"clientToken": "t", "phoneNumber": "+14155550123", "expirationTime": EXP}]},
        "attributes",
    ),
    "dial missing expirationTime": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [{"clientToken": "t", "phoneNumber": "+14155550123", "attributes": {}}]},
        "expirationTime",
    ),
    "dial attribute name bad chars": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("t", expiration=EXP, **{"first name": "x"})]},
        "attributes",
    ),
    "dial attribute value a number": (
        "put_dial_request_batch",
        {"id": "CID", "dialRequests": [dial_request("t", expiration=EXP, n=5)]},
        "attributes",
    ),
    "onboarding missing encryptionConfig": (
        "start_instance_onboarding_job",
        {"connectInstanceId": "inst-v"},
        "encryptionConfig",
    ),
    "onboarding missing enabled": (
        "start_instance_onboarding_job",
        {"connectInstanceId": "inst-v", "encryptionConfig": {}},
        "enabled",
    ),
    "onboarding bad encryptionType": (
        "start_instance_onboarding_job",
        {"connectInstanceId": "inst-v", "encryptionConfig": {"enabled": True, "encryptionType": "AES", "keyArn": "k"}},
        "encryptionType",
    ),
    "onboarding bad instance id": (
        "start_instance_onboarding_job",
        {"connectInstanceId": "inst v", "encryptionConfig": {"enabled": False}},
        "connectInstanceId",
    ),
}


@pytest.fixture(scope="module")
def target(client):
    return new_campaign(client)


def placeholders(kwargs, target):
    out = dict(kwargs)
    if out.get("id") == "CID":
        out["id"] = target["id"]
    if out.get("arn") == "ARN":
        out["arn"] = target["arn"]
    return out


def counts(daemon):
    return psql(
        daemon.db_url,
        "select (select count(*) from campaign) || '/' || (select count(*) from dial_request)"
        " || '/' || (select count(*) from instance_onboarding_job)"
        " || '/' || (select md5(string_agg(name || dialer_config::text || outbound_call_config::text"
        " || tags::text, ',' order by id)) from campaign)",
    )


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_input_is_a_validation_exception(loose_client, daemon, target, case):
    operation, kwargs, member = CASES[case]
    before = counts(daemon)
    with pytest.raises(ClientError) as e:
        getattr(loose_client, operation)(**placeholders(kwargs, target))
    code, status, response = error_of(e)
    assert (code, status) == ("ValidationException", 400), response
    message = response["Error"]["Message"]
    assert member in message, message
    assert counts(daemon) == before, "a refused request changes nothing"


def test_validation_message_never_echoes_a_phone_number(loose_client, target):
    with pytest.raises(ClientError) as e:
        loose_client.put_dial_request_batch(
            id=target["id"], dialRequests=[dial_request("t", "+1 415 555 0177", EXP)]
        )
    message = error_of(e)[2]["Error"]["Message"]
    assert "555" not in message and "0177" not in message, message


def test_every_violation_is_reported(loose_client):
    with pytest.raises(ClientError) as e:
        loose_client.create_campaign(
            name="n" * 128,
            connectInstanceId="inst",
            dialerConfig={"progressiveDialerConfig": {"bandwidthAllocation": 2}},
            outboundCallConfig={},
        )
    message = error_of(e)[2]["Error"]["Message"]
    for member in ("name", "bandwidthAllocation", "connectContactFlowId"):
        assert member in message, message


def test_max_results_bounds_are_inclusive(client):
    assert len(client.list_campaigns(maxResults=1)["campaignSummaryList"]) <= 1
    assert len(client.list_campaigns(maxResults=50)["campaignSummaryList"]) <= 50


def test_name_of_127_characters_is_accepted(client):
    c = new_campaign(client, name="n" * 127)
    assert client.describe_campaign(id=c["id"])["campaign"]["name"] == "n" * 127


def test_batch_of_25_is_accepted(client, daemon):
    c = new_campaign(client)
    out = client.put_dial_request_batch(id=c["id"], dialRequests=items(25))
    assert len(out["successfulRequests"]) == 25
    count = psql(daemon.db_url, f"select count(*) from dial_request where campaign_id = {sql_literal(c['id'])}")
    assert count == "25"


def test_range_edges_are_accepted(client):
    for dialer in (
        {"progressiveDialerConfig": {"bandwidthAllocation": 0}},
        {"predictiveDialerConfig": {"bandwidthAllocation": 1, "dialingCapacity": 1}},
        {"agentlessDialerConfig": {"dialingCapacity": 0.01}},
    ):
        c = new_campaign(client, dialerConfig=dialer)
        assert client.describe_campaign(id=c["id"])["campaign"]["dialerConfig"] == dialer


def raw_item(**change):
    item = {"clientToken": "t", "phoneNumber": "+14155550123", "expirationTime": "2031-01-01T00:00:00Z", "attributes": {}}
    item.update(change)
    return item


RAW_CREATE = {
    "name": "n",
    "connectInstanceId": "inst",
    "dialerConfig": DIALER,
    "outboundCallConfig": CALLS,
}

# Wrong JSON types that botocore will not even serialise: (method, path, body, member).
RAW_CASES = {
    "create name a number": ("PUT", "/campaigns", {**RAW_CREATE, "name": 7}, "name"),
    "create name null": ("PUT", "/campaigns", {**RAW_CREATE, "name": None}, "name"),
    "create tags a list": ("PUT", "/campaigns", {**RAW_CREATE, "tags": ["a", "b"]}, "tags"),
    "create tag value a number": ("PUT", "/campaigns", {**RAW_CREATE, "tags": {"a": 1}}, "tags"),
    "create dialerConfig a string": ("PUT", "/campaigns", {**RAW_CREATE, "dialerConfig": "progressive"}, "dialerConfig"),
    "create bandwidthAllocation a string": (
        "PUT",
        "/campaigns",
        {**RAW_CREATE, "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": "half"}}},
        "bandwidthAllocation",
    ),
    "create AMD flag a string": (
        "PUT",
        "/campaigns",
        {**RAW_CREATE, "outboundCallConfig": {**CALLS, "answerMachineDetectionConfig": {"enableAnswerMachineDetection": "yes"}}},
        "enableAnswerMachineDetection",
    ),
    "list maxResults a string": ("POST", "/campaigns-summary", {"maxResults": "ten"}, "maxResults"),
    "list maxResults a fraction": ("POST", "/campaigns-summary", {"maxResults": 1.5}, "maxResults"),
    "state batch ids a string": ("POST", "/campaigns-state", {"campaignIds": "c1"}, "campaignIds"),
    "dial requests an object": ("PUT", "/campaigns/CID/dial-requests", {"dialRequests": {"a": 1}}, "dialRequests"),
    "dial expirationTime garbage": (
        "PUT",
        "/campaigns/CID/dial-requests",
        {"dialRequests": [raw_item(expirationTime="tomorrow")]},
        "expirationTime",
    ),
    "dial expirationTime a boolean": (
        "PUT",
        "/campaigns/CID/dial-requests",
        {"dialRequests": [raw_item(expirationTime=True)]},
        "expirationTime",
    ),
    "dial attributes a list": (
        "PUT",
        "/campaigns/CID/dial-requests",
        {"dialRequests": [raw_item(attributes=["x"])]},
        "attributes",
    ),
    "onboarding enabled a string": (
        "PUT",
        "/connect-instance/inst-v/onboarding",
        {"encryptionConfig": {"enabled": "true"}},
        "enabled",
    ),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_wrong_json_type_is_a_validation_exception(daemon, target, case):
    method, path, body, member = RAW_CASES[case]
    before = counts(daemon)
    r = signed(daemon.endpoint, method, path.replace("CID", target["id"]), json.dumps(body).encode())
    assert r.status == 400, r.body
    assert r.error_type == "ValidationException"
    message = r.json()["message"]
    assert member in message, message
    assert counts(daemon) == before
