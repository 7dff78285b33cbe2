"""Logs of a full run (API, engine, simulated calls) carry no personal data, and the JSON
format gives one JSON object per line."""

import json
import time

from harness import dial_request, expiry, new_campaign, signed

SIM = """
[contact_center.sim]
time_scale = 50.0

[[contact_center.sim.queues]]
queue_id = "sim-queue"
agents = 5
"""


def run_campaign(daemon, phones, secrets):
    client = daemon.client()
    campaign = new_campaign(
        client,
        dialerConfig={"progressiveDialerConfig": {"bandwidthAllocation": 1.0}},
        outboundCallConfig={"connectContactFlowId": "flow", "connectQueueId": "sim-queue"},
    )
    requests = [
        dial_request(f"log-{i}", phone, expiration=expiry(24), secret=secret)
        for i, (phone, secret) in enumerate(zip(phones, secrets))
    ]
    # One malformed-but-pattern-valid number and one refused batch exercise the error paths.
    requests.append(dial_request("log-bad", "+999" + phones[0][4:], expiration=expiry(24)))
    for start in range(0, len(requests), 25):
        client.put_dial_request_batch(id=campaign["id"], dialRequests=requests[start : start + 25])
    client.start_campaign(id=campaign["id"])
    deadline = time.time() + 90
    while time.time() < deadline:
        progress = signed(daemon.endpoint, "GET", f"/campaigns/{campaign['id']}/progress").json()
        if progress["requests"]["pending"] == 0 and progress["requests"]["in_progress"] == 0:
            return progress
        time.sleep(0.5)
    raise AssertionError(f"campaign did not finish: {progress}")


def test_a_full_run_logs_no_phone_numbers_or_attribute_values(spawn):
    daemon = spawn("logs", log_level="debug", extra=SIM)
    phones = [f"+1415867{i:04d}" for i in range(40)]
    secrets = [f"attr-secret-{i:04d}" for i in range(40)]
    progress = run_campaign(daemon, phones, secrets)
    assert progress["requests"]["completed"] > 0, progress
    daemon.terminate()
    log = daemon.log_path.read_text(errors="replace")
    assert "pacing decision" in log, "debug logging was on, so the log must be substantial"
    for phone in phones:
        for form in (phone, phone[1:], phone[2:]):
            assert form not in log, f"phone number {phone} appears in the log"
    for secret in secrets:
        assert secret not in log, f"attribute value {secret} appears in the log"


def test_json_log_format_is_one_object_per_line(spawn):
    daemon = spawn("jsonlogs", extra=SIM)
    daemon.terminate()
    # The config writer puts [log] before extra; rewrite the file with the format set.
    text = daemon.config_path.read_text().replace('[log]\nlevel = "info"', '[log]\nlevel = "info"\nformat = "json"')
    daemon.config_path.write_text(text)
    daemon.start()
    client = daemon.client()
    client.list_campaigns()
    daemon.terminate()
    lines = [line for line in daemon.log_path.read_text().splitlines() if line.strip()]
    assert lines, "the daemon logged nothing"
    for line in lines:
        record = json.loads(line)
        assert "level" in record and "fields" in record, record
