"""The HTTP edge, spoken raw: bodies, signatures, error shapes, throttling, health, metrics.

Requests are signed with botocore's SigV4Auth and sent with http.client, so that exactly one
part of an otherwise correct request is wrong.
"""

import datetime as dt
import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import (
    ACCESS_KEY,
    OTHER_KEY,
    dial_request,
    error_of,
    make_client,
    new_campaign,
    send,
    signed,
    signed_headers,
)


def assert_error(response, status, error_type):
    assert response.status == status, (response.status, response.body)
    assert response.error_type == error_type, response.headers
    assert response.headers.get("x-amzn-requestid"), "every response names its request"
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def test_signed_raw_request_works(daemon):
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b'{"maxResults": 1}')
    assert r.status == 200, r.body
    assert "campaignSummaryList" in r.json()
    assert r.headers.get("x-amzn-requestid")


def test_empty_body_counts_as_empty_object(daemon):
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"")
    assert r.status == 200, r.body


@pytest.mark.parametrize("body", [b"{not json", b'{"maxResults": 1', b'{"maxResults": 1} trailing', b"\xff\xfe"])
def test_malformed_json_is_a_validation_exception(daemon, body):
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", body)
    assert_error(r, 400, "ValidationException")


@pytest.mark.parametrize("body", [b"[]", b'["name"]', b'"text"', b"42", b"null"])
def test_body_of_wrong_top_level_type_is_a_validation_exception(daemon, body):
    r = signed(daemon.endpoint, "PUT", "/campaigns", body)
    assert_error(r, 400, "ValidationException")


def test_oversize_body_is_413(daemon):
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    r = signed(daemon.endpoint, "PUT", "/campaigns", body)
    assert_error(r, 413, "ValidationException")


def test_body_just_under_the_limit_is_read(daemon):
    # Big but within 1 MiB: it is parsed and judged (the name is too long), not refused for size.
    body = b'{"name": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    r = signed(daemon.endpoint, "PUT", "/campaigns", body)
    body = assert_error(r, 400, "ValidationException")
    assert "name" in body["message"]


def test_oversize_chunked_body_is_413(daemon):
    # No Content-Length: the limit must hold while the body streams in. Chunked bodies are
    # signed over their decoded content here, as a proxy would forward them.
    payload = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    headers = signed_headers(daemon.endpoint, "PUT", "/campaigns", payload)
    del headers["Content-Length"]
    headers["Transfer-Encoding"] = "chunked"
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(payload[i : i + 65536]), payload[i : i + 65536])
        for i in range(0, len(payload), 65536)
    ) + b"0\r\n\r\n"
    r = send(daemon.endpoint, "PUT", "/campaigns", chunks, headers)
    assert_error(r, 413, "ValidationException")


def test_missing_authorization_is_403(daemon):
    headers = signed_headers(daemon.endpoint, "POST", "/campaigns-summary", b"{}")
    del headers["Authorization"]
    r = send(daemon.endpoint, "POST", "/campaigns-summary", b"{}", headers)
    assert_error(r, 403, "AccessDeniedException")


def test_unsigned_request_is_403(daemon):
    r = send(
        daemon.endpoint,
        "POST",
        "/campaigns-summary",
        b"{}",
        {"Host": daemon.endpoint.split("//")[1], "Content-Type": "application/json", "Content-Length": "2"},
    )
    assert_error(r, 403, "AccessDeniedException")


def test_tampered_signature_is_403(daemon):
    headers = signed_headers(daemon.endpoint, "POST", "/campaigns-summary", b"{}")
    auth = headers["Authorization"]
    flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    headers["Authorization"] = flipped
    r = send(daemon.endpoint, "POST", "/campaigns-summary", b"{}", headers)
    assert_error(r, 403, "AccessDeniedException")


def test_tampered_body_is_403(daemon):
    headers = signed_headers(daemon.endpoint, "POST", "/campaigns-summary", b'{"maxResults": 1}')
    r = send(daemon.endpoint, "POST", "/campaigns-summary", b'{"maxResults": 2}', headers)
    assert_error(r, 403, "AccessDeniedException")


def test_tampered_path_is_403(daemon, client):
    a, b = new_campaign(client), new_campaign(client)
    headers = signed_headers(daemon.endpoint, "GET", f"/campaigns/{a['id']}")
    r = send(daemon.endpoint, "GET", f"/campaigns/{b['id']}", b"", headers)
    assert_error(r, 403, "AccessDeniedException")


def test_stale_signature_is_403(daemon):
    stale = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"{}", when=stale)
    assert_error(r, 403, "AccessDeniedException")


def test_future_signature_is_403(daemon):
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=20)
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"{}", when=future)
    assert_error(r, 403, "AccessDeniedException")


def test_slightly_skewed_signature_is_accepted(daemon):
    skewed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"{}", when=skewed)
    assert r.status == 200, r.body


def test_signature_for_another_service_is_403(daemon):
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"{}", service="connect")
    assert_error(r, 403, "InvalidSignatureException")
    assert r.json()["message"] == "Credential should be scoped to correct service: 'connect-campaigns'. "


def test_signature_for_another_region_is_403(daemon):
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"{}", region="eu-west-1")
    assert_error(r, 403, "InvalidSignatureException")
    assert r.json()["message"] == "Credential should be scoped to a valid region, not 'eu-west-1'. "


def test_second_configured_key_works(daemon):
    r = signed(daemon.endpoint, "POST", "/campaigns-summary", b"{}", key=OTHER_KEY)
    assert r.status == 200, r.body


@pytest.mark.parametrize(
    "key",
    [(ACCESS_KEY[0], "wrong-secret"), ("AKIDUNKNOWN", ACCESS_KEY[1])],
    ids=["wrong secret", "unknown key"],
)
def test_bad_credentials_via_boto3_are_access_denied(daemon, key):
    c = make_client(daemon.endpoint, key)
    with pytest.raises(ClientError) as e:
        c.list_campaigns()
    code, status, response = error_of(e)
    assert (code, status) == ("AccessDeniedException", 403)
    assert response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        c.create_campaign(
            name="x",
            connectInstanceId="inst",
            dialerConfig={"agentlessDialerConfig": {}},
            outboundCallConfig={"connectContactFlowId": "f"},
        )
    assert error_of(e)[:2] == ("AccessDeniedException", 403)


def test_secret_never_appears_in_an_error(daemon):
    c = make_client(daemon.endpoint, (ACCESS_KEY[0], "wrong-secret"))
    with pytest.raises(ClientError) as e:
        c.list_campaigns()
    text = json.dumps(e.value.response, default=str)
    assert ACCESS_KEY[1] not in text


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/no-such-thing"),
        ("POST", "/campaigns/abc/launch"),
        ("PATCH", "/campaigns"),
        ("GET", "/campaigns"),
        ("PUT", "/campaigns-summary"),
    ],
)
def test_unknown_route_is_unknown_operation(daemon, method, path):
    r = signed(daemon.endpoint, method, path, b"{}" if method != "GET" else b"")
    assert r.status == 404, r.body
    assert r.error_type == "UnknownOperationException"
    assert r.headers.get("content-type", "").startswith("application/json")
    assert r.json()["message"]


@pytest.mark.parametrize("method, path", [("GET", "/no-such-thing"), ("PATCH", "/campaigns")])
def test_unknown_route_response_names_its_request(daemon, method, path):
    r = signed(daemon.endpoint, method, path, b"{}" if method != "GET" else b"")
    assert r.status == 404
    assert r.headers.get("x-amzn-requestid")


def test_unknown_route_refusal_does_not_need_a_signature(daemon):
    # Nothing to authorise: no operation is reachable there.
    r = send(daemon.endpoint, "GET", "/nope", b"", {"Host": daemon.endpoint.split("//")[1]})
    assert r.status == 404


@pytest.mark.parametrize(
    "make",
    [
        lambda d, c: signed(d.endpoint, "GET", f"/campaigns/{uuid.uuid4()}"),
        lambda d, c: signed(d.endpoint, "POST", f"/campaigns/{c['id']}/pause", b""),
        lambda d, c: signed(d.endpoint, "POST", "/campaigns-summary", b'{"maxResults": 0}'),
        lambda d, c: signed(d.endpoint, "GET", f"/connect-instance/{uuid.uuid4().hex}/config"),
    ],
    ids=["404", "409", "400", "404 instance"],
)
def test_error_responses_share_one_shape(daemon, client, make):
    c = new_campaign(client)
    r = make(daemon, c)
    assert r.status >= 400
    body = assert_error(r, r.status, r.error_type)
    if r.error_type == "InvalidCampaignStateException":
        assert body["state"] == "Initialized"


def test_campaign_id_with_whitespace_is_a_validation_exception(daemon):
    r = signed(daemon.endpoint, "GET", "/campaigns/has%20space")
    assert_error(r, 400, "ValidationException")


def test_healthz_and_readyz(daemon):
    for path in ("/healthz", "/readyz"):
        r = send(daemon.endpoint, "GET", path, b"", {"Host": daemon.endpoint.split("//")[1]})
        assert r.status == 200, (path, r.body)


def test_metrics_are_prometheus_text_without_personal_data(daemon, client, exp):
    c = new_campaign(client)
    phone = "+14155550187"
    client.put_dial_request_batch(
        id=c["id"],
        dialRequests=[dial_request("m1", phone, exp, secret_attr="s3cr3t-value"), dial_request("m2", "123", exp)],
    )
    with pytest.raises(ClientError):
        client.describe_campaign(id=str(uuid.uuid4()))
    r = send(daemon.endpoint, "GET", "/metrics", b"", {"Host": daemon.endpoint.split("//")[1]})
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.body.decode()
    assert "dialer_api_requests_total" in text
    assert "dialer_dial_requests_received_total" in text
    assert re.search(r'^dialer_api_requests_total\{[^}]*operation="PutDialRequestBatch"[^}]*\} \d+', text, re.M), text
    assert re.search(r'^dialer_api_requests_total\{[^}]*status="404"[^}]*\} \d+', text, re.M)
    accepted = re.search(
        r'^dialer_dial_requests_received_total\{[^}]*campaign_id="%s"[^}]*outcome="accepted"[^}]*\} (\d+)' % c["id"],
        text,
        re.M,
    )
    assert accepted and int(accepted.group(1)) == 1, text
    for personal in (phone, phone[1:], "s3cr3t-value", "m1"):
        assert personal not in text


@pytest.fixture(scope="module")
def throttled(spawn):
    # Refills slowly enough (one token per 50 s) that no test here sees a refill.
    return spawn("throttled", operation_rates={"ListCampaigns": (0.02, 2), "GetCampaignStateBatch": (0.02, 2)})


def test_throttling_is_429_per_operation_and_caller(throttled):
    c = throttled.client()
    c.list_campaigns()
    c.list_campaigns()
    with pytest.raises(ClientError) as e:
        c.list_campaigns()
    code, status, response = error_of(e)
    assert (code, status) == ("ThrottlingException", 429)
    assert response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")
    # Other operations and other callers have buckets of their own.
    campaign = new_campaign(c)
    assert c.describe_campaign(id=campaign["id"])["campaign"]["id"] == campaign["id"]
    other = throttled.client(OTHER_KEY)
    assert "campaignSummaryList" in other.list_campaigns()


def test_rejected_signatures_do_not_spend_the_rate(throttled):
    # A stranger cannot use up a caller's budget: refusal by auth comes first.
    fresh_key = OTHER_KEY
    bad = make_client(throttled.endpoint, (fresh_key[0], "wrong"))
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            bad.get_campaign_state_batch(campaignIds=["x"])
        assert error_of(e)[:2] == ("AccessDeniedException", 403)
    good = throttled.client(fresh_key)
    for _ in range(2):  # the whole burst is still there
        assert good.get_campaign_state_batch(campaignIds=["x"])["failedRequests"][0]["campaignId"] == "x"
    with pytest.raises(ClientError) as e:
        good.get_campaign_state_batch(campaignIds=["x"])
    assert error_of(e)[:2] == ("ThrottlingException", 429)


@pytest.mark.skip(
    reason="InternalServerException (500) is modelled but not reachable by design: it answers only "
    "database failures and broken invariants, which a black-box test cannot provoke"
)
def test_internal_server_exception():
    """Placeholder so the report lists the modelled error this suite cannot produce."""


@pytest.mark.skip(
    reason="ServiceQuotaExceededException is modelled but never produced: the per-campaign pending "
    "cap is reported per item as RequestThrottled (see test_dial_requests.py)"
)
def test_service_quota_exceeded_exception():
    """Placeholder so the report lists the modelled error this suite does not expect."""
