"""The daemon as a process: acknowledged dial requests survive `kill -9`, and SIGTERM stops it
cleanly."""

import threading
import time

from harness import dial_request, expiry, make_client, new_campaign, psql, sql_literal

BATCHES = 20
PER_BATCH = 10


def test_acknowledged_requests_survive_kill_9(spawn):
    daemon = spawn("durable")
    client = daemon.client()
    campaign = new_campaign(client)
    exp = expiry()

    def batch(n):
        return [dial_request(f"b{n}-{i}", f"+1415{200 + n:03d}{i:04d}", exp, n=str(n)) for i in range(PER_BATCH)]

    acked: dict[str, str] = {}
    problems: list = []
    attempted: list[int] = []
    stop = threading.Event()
    twentieth = threading.Event()

    def sender():
        # Keeps sending after the 20th ack so that the kill lands with work in flight.
        c = make_client(daemon.endpoint)
        n = 0
        while not stop.is_set() and n < 200:
            attempted.append(n)
            try:
                out = c.put_dial_request_batch(id=campaign["id"], dialRequests=batch(n))
            except Exception:
                return
            if out["failedRequests"]:
                problems.append(out["failedRequests"])
            acked.update({r["clientToken"]: r["id"] for r in out["successfulRequests"]})
            n += 1
            if n == BATCHES:
                twentieth.set()

    t = threading.Thread(target=sender)
    t.start()
    assert twentieth.wait(60), "20 batches were not acknowledged in time"
    daemon.kill9()
    stop.set()
    t.join(60)
    assert problems == []
    assert len(acked) >= BATCHES * PER_BATCH
    snapshot = dict(acked)

    daemon.start()
    client = daemon.client()
    for n in attempted:
        out = client.put_dial_request_batch(id=campaign["id"], dialRequests=batch(n))
        assert out["failedRequests"] == [], out
        for r in out["successfulRequests"]:
            if r["clientToken"] in snapshot:
                assert r["id"] == snapshot[r["clientToken"]], r["clientToken"]
            acked[r["clientToken"]] = r["id"]

    cid = sql_literal(campaign["id"])
    per_token = psql(
        daemon.db_url,
        f"select count(*), count(distinct client_token), coalesce(max(n), 0) from "
        f"(select client_token, count(*) over (partition by client_token) as n from dial_request "
        f"where campaign_id = {cid}) t",
    )
    total, distinct, most = map(int, per_token.split("|"))
    assert total == distinct == len(attempted) * PER_BATCH, per_token
    assert most == 1
    stored = dict(
        line.split("|")
        for line in psql(
            daemon.db_url, f"select client_token, id from dial_request where campaign_id = {cid}"
        ).splitlines()
    )
    assert stored == acked
    assert client.describe_campaign(id=campaign["id"])["campaign"]["id"] == campaign["id"]


def test_sigterm_while_idle_exits_zero_promptly(spawn):
    daemon = spawn("graceful")
    client = daemon.client()
    new_campaign(client)
    started = time.monotonic()
    code = daemon.terminate(timeout=10)
    elapsed = time.monotonic() - started
    assert code == 0, f"exit code {code}"
    assert elapsed < 5, f"took {elapsed:.1f}s"


def test_restart_keeps_campaigns_and_state(spawn):
    daemon = spawn("restart")
    client = daemon.client()
    c = new_campaign(client, tags={"k": "v"})
    client.start_campaign(id=c["id"])
    before = client.describe_campaign(id=c["id"])["campaign"]
    assert daemon.terminate() == 0
    daemon.start()
    client = daemon.client()
    assert client.describe_campaign(id=c["id"])["campaign"] == before
    assert client.get_campaign_state(id=c["id"])["state"] == "Running"
