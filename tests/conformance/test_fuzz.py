"""Signed fuzzing of every operation: random and mutated JSON bodies, path labels, query
strings and extra headers. Every answer must be below 500, and the daemon must still serve
afterwards.

Seeded and time-boxed: the seed is printed (and named in every failure); rerun one with
`DIALER_FUZZ_SEED=<seed>`. `DIALER_FUZZ_SECS` sets the time spent (default 20).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
import urllib.parse

from harness import expiry, new_campaign, send, signed_headers

SEED = int(os.environ.get("DIALER_FUZZ_SEED") or secrets.randbits(32))
SECONDS = float(os.environ.get("DIALER_FUZZ_SECS", "20"))

# Text that has hurt before: NUL and other controls, invalid surrogates written as escapes
# are handled by the JSON layer, so here: controls, non-BMP, long runs, lookalikes.
NASTY_TEXT = [
    "\u0000", "a\u0000b", "\u0001\u001f\u007f", "\ud7ff\ue000", "\U0001f600", "\u202e",
    "", " ", "x" * 600, "../..", "%00", "%FF", "'; drop table campaign; --", "arn:aws:x",
    "\n\r\t", "null", "0", "-1", "1e309", "+14155550123", "aws:reserved",
]
NASTY_NUMBERS = [0, -1, 1, 0.5, 1e300, -1e300, -3e11, 3e11, 2**63, -(2**63), 2**64, 1.0000001]


def rand_text(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(NASTY_TEXT)
    return "".join(chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0x800),
                                   rng.randrange(0xE000, 0x110000)]))
                   for _ in range(rng.randrange(0, 12)))


def rand_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rand_text(rng)
    if kind == 1:
        return rng.choice(NASTY_NUMBERS)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.randrange(-10, 10)
    if kind == 4:
        return [rand_value(rng, depth + 1) for _ in range(rng.randrange(0, 30))]
    return {rand_text(rng): rand_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def mutate(rng: random.Random, value, depth: int = 0):
    """Changes one member somewhere in a valid body (or the body itself)."""
    if depth > 4 or rng.random() < 0.25:
        return rand_value(rng)
    if isinstance(value, dict) and value:
        out = dict(value)
        key = rng.choice(list(out))
        action = rng.randrange(4)
        if action == 0:
            del out[key]
        elif action == 1:
            out[rand_text(rng)] = rand_value(rng)
        else:
            out[key] = mutate(rng, out[key], depth + 1)
        return out
    if isinstance(value, list) and value:
        out = list(value)
        i = rng.randrange(len(out))
        out[i] = mutate(rng, out[i], depth + 1)
        if rng.random() < 0.2:
            out *= rng.randrange(2, 30)
        return out
    return rand_value(rng)


def rand_label(rng: random.Random, valid: str) -> str:
    choice = rng.randrange(5)
    if choice == 0:
        return valid
    if choice == 1:
        return "".join(f"%{rng.randrange(256):02X}" for _ in range(rng.randrange(1, 6)))
    if choice == 2:
        return urllib.parse.quote(rand_text(rng), safe="")
    if choice == 3:
        return valid + rng.choice(["%00", "%FF", "%C0%80", "%2F", "%25", ""])
    return "x" * rng.randrange(1, 400)


def rand_query(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randrange(0, 4)):
        name = rng.choice(["tagKeys", "maxResults", "nextToken", "x", "%FF", "%00", ""])
        pairs.append(f"{name}={rand_label(rng, 'team')}")
    return "&".join(pairs)


def operations(campaign: dict) -> list[tuple[str, str, object]]:
    """(method, path with {id}/{arn}/{instance}/{request} labels, a valid body)."""
    expires = expiry().isoformat()
    outbound = {"connectContactFlowId": "flow-1", "connectQueueId": "q",
                "answerMachineDetectionConfig": {"enableAnswerMachineDetection": True}}
    dialer = {"predictiveDialerConfig": {"bandwidthAllocation": 0.5, "dialingCapacity": 0.5}}
    return [
        ("PUT", "/campaigns", {"name": "n", "connectInstanceId": "i-1", "dialerConfig": dialer,
                               "outboundCallConfig": outbound, "tags": {"team": "a"}}),
        ("GET", "/campaigns/{id}", None),
        ("DELETE", "/campaigns/{id}", None),
        ("POST", "/campaigns-summary", {"maxResults": 5, "filters": {
            "instanceIdFilter": {"value": "i-1", "operator": "Eq"}}}),
        ("POST", "/campaigns-state", {"campaignIds": [campaign["id"]]}),
        ("GET", "/campaigns/{id}/state", None),
        ("POST", "/campaigns/{id}/start", None),
        ("POST", "/campaigns/{id}/pause", None),
        ("POST", "/campaigns/{id}/resume", None),
        ("POST", "/campaigns/{id}/stop", None),
        ("POST", "/campaigns/{id}/dialer-config", {"dialerConfig": dialer}),
        ("POST", "/campaigns/{id}/name", {"name": "renamed"}),
        ("POST", "/campaigns/{id}/outbound-call-config", {"connectContactFlowId": "f",
                                                          "connectSourcePhoneNumber": "+1"}),
        ("PUT", "/campaigns/{id}/dial-requests", {"dialRequests": [
            {"clientToken": "c-1", "phoneNumber": "+14155550123", "expirationTime": expires,
             "attributes": {"customerId": "42"}}]}),
        ("GET", "/campaigns/{id}/dial-requests/{request}", None),
        ("GET", "/campaigns/{id}/progress", None),
        ("GET", "/tags/{arn}", None),
        ("POST", "/tags/{arn}", {"tags": {"team": "b"}}),
        ("DELETE", "/tags/{arn}", None),
        ("PUT", "/connect-instance/{instance}/onboarding", {"encryptionConfig": {
            "enabled": True, "encryptionType": "KMS", "keyArn": "arn:aws:kms:k"}}),
        ("GET", "/connect-instance/{instance}/onboarding", None),
        ("DELETE", "/connect-instance/{instance}/onboarding", None),
        ("GET", "/connect-instance/{instance}/config", None),
        ("DELETE", "/connect-instance/{instance}/config", None),
    ]


def test_fuzzed_signed_requests_never_answer_5xx(spawn):
    print(f"fuzz seed {SEED} (DIALER_FUZZ_SEED={SEED} reproduces it)")
    daemon = spawn("fuzz")
    campaign = new_campaign(daemon.client())
    labels = {
        "id": campaign["id"],
        "arn": urllib.parse.quote(campaign["arn"], safe=""),
        "instance": campaign["connectInstanceId"],
        "request": "6f1c0b7e-3e2a-4a51-9a55-6f7d1d2c3b4a",
    }
    ops = operations(campaign)
    rng = random.Random(SEED)
    deadline = time.monotonic() + SECONDS
    sent = 0
    while time.monotonic() < deadline:
        method, template, valid = rng.choice(ops)
        path = template
        for name, value in labels.items():
            path = path.replace("{" + name + "}", rand_label(rng, value) if rng.random() < 0.3 else value)
        query = rand_query(rng) if rng.random() < 0.3 else ""
        if template == "/tags/{arn}" and method == "DELETE" and rng.random() < 0.5:
            query = "tagKeys=team"
        target = path + ("?" + query if query else "")
        body_value = mutate(rng, valid) if rng.random() < 0.8 else valid
        if body_value is None and rng.random() < 0.7:
            body = b""
        elif rng.random() < 0.1:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        else:
            body = json.dumps(body_value).encode()
        headers = signed_headers(daemon.endpoint, method, target, body)
        for _ in range(rng.randrange(0, 3) if rng.random() < 0.3 else 0):
            name = rng.choice(["X-Junk", "X-Amz-Target", "Content-Encoding", "Accept", "X-Amz-Security-Token"])
            headers[name] = "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(0, 40)))
        response = send(daemon.endpoint, method, target, body, headers)
        sent += 1
        assert response.status < 500, (
            f"seed {SEED}, request {sent}: {method} {target!r} body {body[:300]!r} -> "
            f"{response.status} {response.body[:300]!r}"
        )
        assert response.headers.get("x-amzn-requestid"), (SEED, sent, method, target)
        if response.status >= 400:
            assert response.headers.get("x-amzn-errortype"), (
                f"seed {SEED}, request {sent}: {method} {target!r} -> {response.status} without "
                f"x-amzn-ErrorType: {response.body[:300]!r}"
            )
    print(f"fuzz seed {SEED}: {sent} requests")
    assert daemon.running(), daemon.tail()
    # The fuzzed campaign may have been deleted; the daemon must still take new work.
    client = daemon.client()
    fresh = new_campaign(client)
    assert client.describe_campaign(id=fresh["id"])["campaign"]["id"] == fresh["id"]
