"""The retry-policy extension as an SDK user reaches it: a campaign made with boto3 (v2),
its policy set and read with a botocore-signed request, refused in the AWS error shape when
bad, and DescribeDialRequest listing a request's attempts."""

from __future__ import annotations

import json

from harness import signed
from test_v2_campaigns import TELEPHONY, new_v2
from test_v2_outbound import call

POLICY = {
    "outcomes": {
        "no_answer": {"afterSeconds": 1800, "maxAttempts": 3},
        "busy": {"afterSeconds": 300, "maxAttempts": 3},
    }
}


def test_a_v2_campaigns_retry_policy_is_set_read_and_removed(v2, daemon):
    c = new_v2(v2, channelSubtypeConfig={"telephony": TELEPHONY})
    path = f"/campaigns/{c['id']}/retry-policy"
    put = signed(daemon.endpoint, "PUT", path, json.dumps(POLICY).encode())
    assert put.status == 200, put.body
    got = signed(daemon.endpoint, "GET", path)
    assert got.status == 200, got.body
    body = got.json()
    assert body["source"] == "api"
    assert body["retryPolicy"]["outcomes"]["no_answer"] == {"afterSeconds": 1800.0, "maxAttempts": 3}

    gone = signed(daemon.endpoint, "DELETE", path)
    assert (gone.status, gone.json()["removed"]) == (200, True)
    assert signed(daemon.endpoint, "GET", path).json()["source"] == "config"


def test_a_bad_policy_gets_the_aws_error_shape(v2, daemon):
    c = new_v2(v2, channelSubtypeConfig={"telephony": TELEPHONY})
    bad = {"outcomes": {"connected": {"afterSeconds": 60, "maxAttempts": 2}}}
    r = signed(daemon.endpoint, "PUT", f"/campaigns/{c['id']}/retry-policy", json.dumps(bad).encode())
    assert r.status == 400, r.body
    assert (r.error_type or "").startswith("ValidationException"), r.headers
    assert "connected" in r.json()["message"]
    missing = signed(daemon.endpoint, "GET", "/campaigns/no-such-campaign/retry-policy")
    assert missing.status == 404, missing.body


def test_describe_dial_request_lists_attempts(v2, daemon):
    c = new_v2(v2, channelSubtypeConfig={"telephony": TELEPHONY})
    out = v2.put_outbound_request_batch(id=c["id"], outboundRequests=[call("a-1")])
    request_id = out["successfulRequests"][0]["id"]
    r = signed(daemon.endpoint, "GET", f"/campaigns/{c['id']}/dial-requests/{request_id}")
    assert r.status == 200, r.body
    # Not dialed yet: no attempt so far.
    assert r.json()["attemptHistory"] == []
