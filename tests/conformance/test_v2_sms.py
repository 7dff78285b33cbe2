"""SMS through boto3: a connectcampaignsv2 campaign with an sms channel, its outbound requests
filled from the daemon's [[templates]] and sent once each by the simulated contact center,
or failed with the template's reason."""

from __future__ import annotations

import time
import uuid

from harness import psql, signed
from test_v2_campaigns import FLOW_ARN
from test_v2_outbound import sms

GREETING = "arn:aws:wisdom:us-east-1:123456789012:message-template/greeting"
CODE = "arn:aws:wisdom:us-east-1:123456789012:message-template/code"
SOURCE = "arn:aws:connect:us-east-1:123456789012:phone-number/sms-1"
TEMPLATES = f"""
[engine]
sms_messages_per_second = 50.0

[[templates]]
arn = "{GREETING}"
body = "Hello {{{{name}}}}, your order has shipped."

[[templates]]
arn = "{CODE}"
body = "Code: {{{{code}}}}"
"""


def ended(daemon, campaign_id: str, request_ids: dict[str, str], timeout: float = 30.0) -> dict:
    """Each request's status once none is pending or in progress."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {}
        for token, rid in request_ids.items():
            r = signed(daemon.endpoint, "GET", f"/campaigns/{campaign_id}/dial-requests/{rid}")
            assert r.status == 200, r.body
            statuses[token] = r.json()
        if all(s["state"] not in ("pending", "in_progress") for s in statuses.values()):
            return statuses
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)


def test_a_v2_sms_campaign_sends_each_request_once(spawn):
    daemon = spawn("v2-sms", extra=TEMPLATES)
    v2 = daemon.client_v2()
    campaign = v2.create_campaign(
        name=f"sms-{uuid.uuid4().hex[:8]}",
        connectInstanceId="inst-sms",
        connectCampaignFlowArn=FLOW_ARN,
        channelSubtypeConfig={
            "sms": {
                "capacity": 1.0,
                "outboundMode": {"agentless": {}},
                "defaultOutboundConfig": {
                    "connectSourcePhoneNumberArn": SOURCE,
                    "wisdomTemplateArn": GREETING,
                },
            }
        },
    )
    cid = campaign["id"]
    requests = [sms(f"ok-{i}", phone=f"+1415555{i:04d}") for i in range(5)]
    code = sms("code", templateArn=CODE)
    code["channelSubtypeParameters"]["sms"]["templateParameters"] = {"code": "4711"}
    missing = sms("missing")
    missing["channelSubtypeParameters"]["sms"]["templateParameters"] = {"other": "x"}
    out = v2.put_outbound_request_batch(id=cid, outboundRequests=[*requests, code, missing])
    assert out["failedRequests"] == []
    ids = {r["clientToken"]: r["id"] for r in out["successfulRequests"]}
    v2.start_campaign(id=cid)

    statuses = ended(daemon, cid, ids)
    for token in [f"ok-{i}" for i in range(5)] + ["code"]:
        s = statuses[token]
        assert (s["state"], s["outcome"]) == ("completed", "sent"), s
        assert s["contactId"], s
    assert (statuses["missing"]["state"], statuses["missing"]["reason"]) == (
        "failed",
        "TEMPLATE_ATTRIBUTE_MISSING",
    )
    # The simulated center's record: one message per sent request, the template filled
    # (lengths only: the text is not kept).
    rows = psql(
        daemon.db_url,
        "select substring(client_token from 'dialer-sms-(.{36})-'), content_length from sim_sms",
    ).splitlines()
    lengths = dict(row.split("|") for row in rows)
    assert len(rows) == 6, rows
    assert lengths[ids["ok-0"]] == str(len("Hello Ann, your order has shipped."))
    assert lengths[ids["code"]] == str(len("Code: 4711"))
    assert ids["missing"] not in lengths

    metrics = signed(daemon.endpoint, "GET", "/metrics").body.decode()
    assert f'dialer_sms_sent_total{{campaign_id="{cid}"}} 6' in metrics, metrics
