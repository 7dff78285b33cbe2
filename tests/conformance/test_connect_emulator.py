"""`dialer connect-emulator` through boto3's `connect` client: every operation it serves,
valid and invalid input with the model's error codes, idempotency across a restart, faults,
and the EventBridge-shaped contact events it posts to a webhook."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import ACCESS_KEY, REGION, Daemon, config_toml, error_of, psql, send, signed

INSTANCE = "inst-emu"
QUEUE = "sim-queue"
EVENTS_KEY = "x-dialer-events-key"
EVENTS_SECRET = "events-secret"

# Everyone answers after 4 s; a 20 s call and 5 s of wrap-up; two agents. 20x real time.
SIM = f"""
[contact_center.sim]
time_scale = 20.0

[[contact_center.sim.queues]]
queue_id = "{QUEUE}"
agents = 2
handle_time = {{ model = "split", total = {{ dist = "fixed", secs = 20.0 }}, wrap_share = 0.25 }}

[contact_center.sim.customers]
answer_probability = 1.0
answer_delay = {{ dist = "fixed", secs = 4.0 }}
machine_probability = 0.0
fail_fast_probability = 0.0
"""


class _Server(ThreadingHTTPServer):
    # Python's default listen backlog (5) overflows when a dozen events come at once.
    request_queue_size = 128


class Receiver:
    """A webhook: records every POST; refuses each event's first delivery to force a retry."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries: list[tuple[dict, dict]] = []  # (headers, body)
        self.refused: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    first = body["id"] not in receiver.refused
                    receiver.refused.add(body["id"])
                    if not first:
                        receiver.deliveries.append((headers, body))
                self.send_response(503 if first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def events(self, contact_id: str | None = None) -> list[dict]:
        with self.lock:
            bodies = [b for _, b in self.deliveries]
        return [b for b in bodies if contact_id is None or b["detail"]["contactId"] == contact_id]

    def wait(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"webhook never saw it; got {len(self.events())} events")


class Emulator(Daemon):
    """One `dialer connect-emulator` process."""

    def __init__(self, name, db_url, config_text, workdir, extra: list[str]):
        super().__init__(name, db_url, config_text, workdir)
        self.extra = extra

    def arguments(self) -> list[str]:
        return [
            "connect-emulator",
            "--config",
            str(self.config_path),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--instance-id",
            INSTANCE,
            *self.extra,
        ]

    def connect(self, validate: bool = True, key=ACCESS_KEY):
        return boto3.client(
            "connect",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
            config=Config(retries={"max_attempts": 1}, parameter_validation=validate, read_timeout=60),
        )


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def start_emulator(pg, workdir):
    started: list[Emulator] = []

    def _start(name: str, *extra: str, db_url: str | None = None, sim: str = SIM) -> Emulator:
        emulator = Emulator(name, db_url or pg.create(), config_toml(extra=sim), workdir, list(extra))
        started.append(emulator)
        return emulator.start()

    yield _start
    for emulator in started:
        emulator.shutdown()


@pytest.fixture(scope="module")
def emulator(start_emulator, receiver):
    return start_emulator(
        "emulator",
        "--webhook",
        receiver.url,
        "--webhook-header",
        f"{EVENTS_KEY}: {EVENTS_SECRET}",
        "--duplicate-rate",
        "0.5",
    )


def contacts(*ids: str, campaign: str = "camp-1", amd: bool = True) -> list[dict]:
    return [
        {
            "RequestIdentifier": rid,
            "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+14155550123"},
            "QueueId": QUEUE,
            "Attributes": {"dialer_amd": "true" if amd else "false"},
            "Campaign": {"CampaignId": campaign},
        }
        for rid in ids
    ]


LIFECYCLE = ["INITIATED", "CONNECTED_TO_SYSTEM", "QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED", "COMPLETED"]


def test_a_contacts_life_reaches_the_webhook_as_eventbridge_events(emulator, receiver):
    out = emulator.connect().batch_put_contact(
        InstanceId=INSTANCE, ClientToken="life-1", ContactDataRequestList=contacts("a", "b")
    )
    assert out["FailedRequestList"] == []
    ids = [s["ContactId"] for s in out["SuccessfulRequestList"]]
    assert [s["RequestIdentifier"] for s in out["SuccessfulRequestList"]] == ["a", "b"]
    # Events are not ordered (each is retried on its own): wait for every type.
    for cid in ids:
        receiver.wait(lambda: {e["detail"]["eventType"] for e in receiver.events(cid)} == set(LIFECYCLE))
    with receiver.lock:
        deliveries = list(receiver.deliveries)
    for headers, body in deliveries:
        assert headers[EVENTS_KEY] == EVENTS_SECRET
        assert headers["content-type"] == "application/json"
    for cid in ids:
        events = receiver.events(cid)
        by_id: dict[str, dict] = {}
        for e in events:
            # A duplicate keeps its id, and is the same event.
            assert by_id.setdefault(e["id"], e) == e
            assert e["source"] == "aws.connect"
            assert e["detail-type"] == "Amazon Connect Contact Event"
            assert e["detail"]["campaign"] == {"campaignId": "camp-1"}
            assert e["detail"]["contactId"] == cid
            assert e["detail"]["initiationTimestamp"].endswith("Z")
        unique = sorted(by_id.values(), key=lambda e: LIFECYCLE.index(e["detail"]["eventType"]))
        assert [e["detail"]["eventType"] for e in unique] == LIFECYCLE, [(e["detail"]["eventType"], e["id"]) for e in events]
        completed = unique[-1]["detail"]
        assert completed["answeringMachineDetectionStatus"] == "HUMAN_ANSWERED"
        assert completed["queueInfo"]["queueArn"].endswith(f"instance/{INSTANCE}/queue/{QUEUE}")
        assert completed["agentInfo"]["connectedToAgentTimestamp"] >= completed["connectedToSystemTimestamp"]
        assert completed["disconnectReason"] == "CUSTOMER_DISCONNECT"
    # --duplicate-rate 0.5 over a dozen events: some were delivered twice.
    all_events = receiver.events()
    assert len(all_events) > len({e["id"] for e in all_events})


def test_describe_contact_reports_the_contact_with_epoch_timestamps(emulator, receiver):
    client = emulator.connect()
    out = client.batch_put_contact(InstanceId=INSTANCE, ClientToken="describe-1", ContactDataRequestList=contacts("d"))
    cid = out["SuccessfulRequestList"][0]["ContactId"]
    receiver.wait(lambda: any(e["detail"]["eventType"] == "DISCONNECTED" for e in receiver.events(cid)))
    contact = client.describe_contact(InstanceId=INSTANCE, ContactId=cid)["Contact"]
    assert contact["Id"] == cid
    assert contact["Campaign"] == {"CampaignId": "camp-1"}
    assert contact["Channel"] == "VOICE"
    assert contact["AnsweringMachineDetectionStatus"] == "HUMAN_ANSWERED"
    # botocore reads restJson1 timestamps (epoch seconds) into datetimes.
    assert contact["DisconnectTimestamp"] > contact["InitiationTimestamp"]
    assert contact["QueueInfo"]["Id"] == QUEUE
    raw = signed(emulator.endpoint, "GET", f"/contacts/{INSTANCE}/{cid}", service="connect")
    assert isinstance(raw.json()["Contact"]["InitiationTimestamp"], (int, float))

    for instance, contact_id in [(INSTANCE, "no-such-contact"), ("other-instance", cid)]:
        with pytest.raises(ClientError) as excinfo:
            client.describe_contact(InstanceId=instance, ContactId=contact_id)
        assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_get_current_metric_data_reports_the_queues_agents(emulator):
    client = emulator.connect()
    out = client.get_current_metric_data(
        InstanceId=INSTANCE,
        Filters={"Queues": [QUEUE, "unknown-queue"], "Channels": ["VOICE"]},
        Groupings=["QUEUE"],
        CurrentMetrics=[{"Name": "AGENTS_ONLINE", "Unit": "COUNT"}, {"Name": "AGENTS_AVAILABLE", "Unit": "COUNT"}],
    )
    assert len(out["MetricResults"]) == 1
    row = out["MetricResults"][0]
    assert row["Dimensions"]["Queue"]["Id"] == QUEUE
    assert row["Dimensions"]["Queue"]["Arn"].endswith(f"/queue/{QUEUE}")
    values = {c["Metric"]["Name"]: c["Value"] for c in row["Collections"]}
    assert values["AGENTS_ONLINE"] == 2.0
    assert 0.0 <= values["AGENTS_AVAILABLE"] <= 2.0
    assert "DataSnapshotTime" in out

    loose = emulator.connect(validate=False)
    bad = [
        {"Filters": {"Queues": [QUEUE]}, "CurrentMetrics": [{"Name": "AGENTS_ONLINE", "Unit": "SECONDS"}]},
        {"Filters": {"Queues": [QUEUE]}, "CurrentMetrics": [{"Name": "NOT_A_METRIC", "Unit": "COUNT"}]},
        {"Filters": {"Queues": [QUEUE]}, "Groupings": ["CHANNEL"], "CurrentMetrics": [{"Name": "AGENTS_ONLINE"}]},
        {"Filters": {"Queues": [str(i) for i in range(101)]}, "CurrentMetrics": [{"Name": "AGENTS_ONLINE"}]},
        {"Filters": {"Queues": [QUEUE]}, "CurrentMetrics": [{"Name": "AGENTS_ONLINE"}], "MaxResults": 0},
        {"Filters": {"Queues": [QUEUE]}},
        {"CurrentMetrics": [{"Name": "AGENTS_ONLINE"}]},
    ]
    for params in bad:
        with pytest.raises(ClientError) as excinfo:
            loose.get_current_metric_data(InstanceId=INSTANCE, **params)
        assert error_of(excinfo)[:2] == ("InvalidParameterException", 400), params
    with pytest.raises(ClientError) as excinfo:
        client.get_current_metric_data(
            InstanceId="other-instance", Filters={"Queues": [QUEUE]}, CurrentMetrics=[{"Name": "AGENTS_ONLINE"}]
        )
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_batch_put_contact_errors_follow_the_model(emulator):
    client = emulator.connect()
    loose = emulator.connect(validate=False)
    with pytest.raises(ClientError) as excinfo:
        client.batch_put_contact(InstanceId="other-instance", ClientToken="e-1", ContactDataRequestList=contacts("x"))
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        loose.batch_put_contact(
            InstanceId=INSTANCE, ClientToken="e-2", ContactDataRequestList=contacts(*[f"r{i}" for i in range(26)])
        )
    assert error_of(excinfo)[:2] == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as excinfo:
        loose.batch_put_contact(InstanceId=INSTANCE, ClientToken="e-4", ContactDataRequestList=contacts("c", campaign=""))
    assert error_of(excinfo)[:2] == ("InvalidRequestException", 400)
    # The same token with other contacts creates nothing.
    client.batch_put_contact(InstanceId=INSTANCE, ClientToken="e-3", ContactDataRequestList=contacts("y"))
    out = client.batch_put_contact(InstanceId=INSTANCE, ClientToken="e-3", ContactDataRequestList=contacts("z"))
    assert out["SuccessfulRequestList"] == []
    assert out["FailedRequestList"][0]["FailureReasonCode"] == "IDEMPOTENCY_EXCEPTION"
    # Malformed JSON, unsigned and wrongly scoped requests.
    path = f"/contact/batch/{INSTANCE}"
    r = signed(emulator.endpoint, "PUT", path, b'{"ContactDataRequestList": 7}', service="connect")
    assert (r.status, r.error_type) == (400, "InvalidRequestException")
    assert "Message" in r.json()
    r = send(emulator.endpoint, "PUT", path, b"{}", {"Host": emulator.endpoint[7:], "Content-Length": "2"})
    assert (r.status, r.error_type) == (403, "MissingAuthenticationTokenException")
    r = signed(emulator.endpoint, "PUT", path, b"{}", service="connect-campaigns")
    assert (r.status, r.error_type) == (403, "InvalidSignatureException")
    r = signed(emulator.endpoint, "PUT", path, b"{}", service="connect", key=("AKIDNOPE", "x"))
    assert (r.status, r.error_type) == (403, "UnrecognizedClientException")
    r = signed(emulator.endpoint, "DELETE", "/nothing/here", service="connect")
    assert r.status == 404


def chat(**overrides) -> dict:
    params = {
        "SourceEndpoint": {"Type": "CONNECT_PHONENUMBER_ARN", "Address": "arn:aws:connect:us-east-1:111122223333:phone-number/p-1"},
        "DestinationEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+14155550123"},
        "InstanceId": INSTANCE,
        "SegmentAttributes": {"connect:Subtype": {"ValueString": "connect:SMS"}},
        "ContactFlowId": "flow-1",
        "ChatDurationInMinutes": 60,
        "InitialSystemMessage": {"ContentType": "text/plain", "Content": "Your appointment is tomorrow"},
        "ClientToken": "sms-1",
    }
    params.update(overrides)
    return params


def test_start_outbound_chat_contact_sends_once_per_token(emulator):
    client = emulator.connect()
    first = client.start_outbound_chat_contact(**chat())["ContactId"]
    again = client.start_outbound_chat_contact(**chat())["ContactId"]
    assert first == again
    rows = psql(emulator.db_url, "select count(*) from connect_emulator_chat where client_token = 'sms-1'")
    assert rows == "1"
    other = client.start_outbound_chat_contact(**chat(ClientToken="sms-2"))["ContactId"]
    assert other != first
    with pytest.raises(ClientError) as excinfo:
        client.start_outbound_chat_contact(**chat(ContactFlowId="flow-2"))
    assert error_of(excinfo)[:2] == ("ConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        client.start_outbound_chat_contact(**chat(InstanceId="other-instance", ClientToken="sms-3"))
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)

    loose = emulator.connect(validate=False)
    bad = [
        chat(ChatDurationInMinutes=59),
        chat(ChatDurationInMinutes=10081),
        chat(SegmentAttributes={"connect:Subtype": {"ValueString": "connect:Chat"}}),
        chat(SourceEndpoint={"Type": "TELEPHONE_NUMBER", "Address": "+14155550100"}),
        chat(DestinationEndpoint={"Type": "TELEPHONE_NUMBER", "Address": "not-a-number"}),
        chat(ContactFlowId=""),
        chat(ClientToken="t" * 501),
        chat(ParticipantDetails={}),
        {k: v for k, v in chat().items() if k != "SegmentAttributes"},
    ]
    for params in bad:
        with pytest.raises(ClientError) as excinfo:
            loose.start_outbound_chat_contact(**params)
        code, status, response = error_of(excinfo)
        assert (code, status) == ("InvalidRequestException", 400), params
        assert "not-a-number" not in response["Error"]["Message"]


def test_a_replayed_batch_after_a_restart_returns_the_same_contacts_and_places_no_call(start_emulator, receiver, pg):
    db = pg.create()
    first = start_emulator("restart", "--webhook", receiver.url, db_url=db)
    batch = {"InstanceId": INSTANCE, "ClientToken": "restart-1", "ContactDataRequestList": contacts("p", "q")}
    original = first.connect().batch_put_contact(**batch)
    ids = [s["ContactId"] for s in original["SuccessfulRequestList"]]
    for cid in ids:
        receiver.wait(lambda: any(e["detail"]["eventType"] == "INITIATED" for e in receiver.events(cid)))
    assert first.terminate() == 0
    first.start()
    initiated = lambda: [e for e in receiver.events() if e["detail"]["eventType"] == "INITIATED" and e["detail"]["contactId"] in ids]  # noqa: E731
    before = len({e["id"] for e in initiated()})
    replayed = first.connect().batch_put_contact(**batch)
    assert replayed["SuccessfulRequestList"] == original["SuccessfulRequestList"]
    time.sleep(1.0)
    assert len({e["id"] for e in initiated()}) == before
    # The restarted emulator no longer runs those calls: they ended with it.
    contact = first.connect().describe_contact(InstanceId=INSTANCE, ContactId=ids[0])["Contact"]
    assert contact["Id"] == ids[0]
    assert contact["DisconnectReason"] == "OTHER"
    assert "DisconnectTimestamp" in contact


def test_api_faults_throttle_delay_and_fail(start_emulator, receiver):
    slow = start_emulator(
        "throttled", "--webhook", receiver.url, "--throttle-rate", "0.2/2", "--latency-ms", "300", "--drop-rate", "1"
    )
    client = slow.connect()
    t0 = time.monotonic()
    out = client.batch_put_contact(InstanceId=INSTANCE, ClientToken="drop-1", ContactDataRequestList=contacts("dropped"))
    assert time.monotonic() - t0 >= 0.3
    cid = out["SuccessfulRequestList"][0]["ContactId"]
    client.batch_put_contact(InstanceId=INSTANCE, ClientToken="drop-2", ContactDataRequestList=contacts("dropped-2"))
    with pytest.raises(ClientError) as excinfo:
        client.batch_put_contact(InstanceId=INSTANCE, ClientToken="drop-3", ContactDataRequestList=contacts("dropped-3"))
    assert error_of(excinfo)[:2] == ("LimitExceededException", 429)
    for _ in range(2):
        client.describe_contact(InstanceId=INSTANCE, ContactId=cid)
    with pytest.raises(ClientError) as excinfo:
        client.describe_contact(InstanceId=INSTANCE, ContactId=cid)
    assert error_of(excinfo)[:2] == ("ThrottlingException", 429)
    # --drop-rate 1: the contact's events never reach the webhook.
    time.sleep(1.5)
    assert receiver.events(cid) == []

    failing = start_emulator("failing", "--internal-error-rate", "1")
    with pytest.raises(ClientError) as excinfo:
        failing.connect().describe_contact(InstanceId=INSTANCE, ContactId=cid)
    assert error_of(excinfo)[:2] == ("InternalServiceException", 500)


def test_a_busy_line_ends_with_its_sit_tone_status(start_emulator, receiver):
    busy_sim = SIM.replace("answer_probability = 1.0", "answer_probability = 0.0").replace(
        "fail_fast_probability = 0.0", "fail_fast_probability = 1.0\nfail_fast_busy_share = 1.0"
    )
    busy = start_emulator("busy", "--webhook", receiver.url, sim=busy_sim)
    out = busy.connect().batch_put_contact(
        InstanceId=INSTANCE, ClientToken="busy-1", ContactDataRequestList=contacts("busy", amd=False)
    )
    cid = out["SuccessfulRequestList"][0]["ContactId"]
    receiver.wait(lambda: {e["detail"]["eventType"] for e in receiver.events(cid)} == {"INITIATED", "DISCONNECTED"})
    last = next(e["detail"] for e in receiver.events(cid) if e["detail"]["eventType"] == "DISCONNECTED")
    assert last["answeringMachineDetectionStatus"] == "SIT_TONE_BUSY"
    assert "connectedToSystemTimestamp" not in last
    assert last["disconnectTimestamp"] > last["initiationTimestamp"]
    contact = busy.connect().describe_contact(InstanceId=INSTANCE, ContactId=cid)["Contact"]
    assert contact["AnsweringMachineDetectionStatus"] == "SIT_TONE_BUSY"
    assert contact.get("DisconnectReason") == "TELECOM_PROBLEM", (contact, last)
