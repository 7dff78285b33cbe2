"""PutDialRequestBatch: per-item outcomes, idempotency, the pending cap, concurrency."""

import datetime as dt
import json
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import dial_request, error_of, make_client, new_campaign, psql, signed, sql_literal

UUID_LEN = 36


def tokens(prefix, n):
    return [f"{prefix}-{i}" for i in range(n)]


def rows(daemon, campaign_id, where="true"):
    return int(
        psql(
            daemon.db_url,
            f"select count(*) from dial_request where campaign_id = {sql_literal(campaign_id)} and {where}",
        )
    )


def ids_by_token(out):
    return {r["clientToken"]: r["id"] for r in out["successfulRequests"]}


def failures(out):
    return {r["clientToken"]: r["failureCode"] for r in out["failedRequests"]}


def test_valid_batch_is_accepted_with_distinct_ids(client, daemon, campaign, exp):
    batch = [dial_request(t, expiration=exp, customer=t) for t in tokens("ok", 25)]
    out = client.put_dial_request_batch(id=campaign["id"], dialRequests=batch)
    got = ids_by_token(out)
    assert out["failedRequests"] == []
    assert [r["clientToken"] for r in out["successfulRequests"]] == tokens("ok", 25), "input order"
    assert len(set(got.values())) == 25
    assert all(len(i) == UUID_LEN for i in got.values())
    assert rows(daemon, campaign["id"]) == 25


@pytest.mark.parametrize(
    "number",
    [
        "+-",  # no digits
        "123",  # no leading +
        "+12",  # too short
        "+0123456789",  # no country code starts with 0
        "+999123456",  # 999 is not an assigned country code
        "+1-415-555-0123",  # punctuation
        "+1234567890123456",  # 16 digits: more than E.164 allows
        "+11155550123",  # NANP area code cannot start with 1
        "",  # empty
    ],
)
def test_non_e164_number_fails_only_its_item(client, daemon, campaign, exp, number):
    batch = [
        dial_request("good-1", "+14155550123", exp),
        dial_request("bad", number, exp),
        dial_request("good-2", "+442079460000", exp),
    ]
    out = client.put_dial_request_batch(id=campaign["id"], dialRequests=batch)
    assert set(ids_by_token(out)) == {"good-1", "good-2"}
    assert out["failedRequests"] == [{"clientToken": "bad", "failureCode": "InvalidInput"}]
    assert rows(daemon, campaign["id"]) == 2
    assert rows(daemon, campaign["id"], "client_token = 'bad'") == 0


def test_replay_returns_the_same_ids_and_stores_nothing_new(client, daemon, campaign, exp):
    batch = [dial_request(t, expiration=exp, k="v") for t in tokens("rp", 10)]
    first = ids_by_token(client.put_dial_request_batch(id=campaign["id"], dialRequests=batch))
    again = client.put_dial_request_batch(id=campaign["id"], dialRequests=batch)
    assert again["failedRequests"] == []
    assert ids_by_token(again) == first
    # A replay in another order or mixed with new items still maps each token to its id.
    mixed = [dial_request("rp-new", expiration=exp)] + list(reversed(batch))
    out = client.put_dial_request_batch(id=campaign["id"], dialRequests=mixed)
    got = ids_by_token(out)
    assert {t: got[t] for t in first} == first
    assert got["rp-new"] not in first.values()
    assert rows(daemon, campaign["id"]) == 11


@pytest.mark.parametrize(
    "change",
    [
        {"phoneNumber": "+14155550199"},
        {"attributes": {"k": "other"}},
        {"attributes": {}},
        {"expirationTime": "later"},
    ],
)
def test_same_token_with_other_content_fails_that_item(client, daemon, campaign, exp, change):
    original = dial_request("tok", "+14155550123", exp, k="v")
    first = ids_by_token(client.put_dial_request_batch(id=campaign["id"], dialRequests=[original]))
    changed = dict(original, **change)
    if change.get("expirationTime") == "later":
        changed["expirationTime"] = exp + dt.timedelta(seconds=1)
    out = client.put_dial_request_batch(
        id=campaign["id"], dialRequests=[changed, dial_request("tok-other", expiration=exp)]
    )
    assert failures(out) == {"tok": "InvalidInput"}
    assert set(ids_by_token(out)) == {"tok-other"}
    # The stored request is the original one, and still answers to its token.
    assert ids_by_token(client.put_dial_request_batch(id=campaign["id"], dialRequests=[original])) == first
    assert psql(daemon.db_url, f"select phone_number from dial_request where id = '{first['tok']}'") == "+14155550123"


def test_same_token_twice_in_one_batch(client, daemon, campaign, exp):
    same = dial_request("dup", "+14155550123", exp)
    out = client.put_dial_request_batch(
        id=campaign["id"],
        dialRequests=[same, dict(same), dial_request("clash", expiration=exp), dial_request("clash", "+14155550124", exp)],
    )
    ok = out["successfulRequests"]
    dup_ids = [r["id"] for r in ok if r["clientToken"] == "dup"]
    assert len(dup_ids) == 2 and dup_ids[0] == dup_ids[1], "same content: one request, one id"
    assert [r for r in ok if r["clientToken"] == "clash"] != []
    assert out["failedRequests"] == [{"clientToken": "clash", "failureCode": "InvalidInput"}]
    assert rows(daemon, campaign["id"]) == 2


def test_expiration_time_datetime_is_stored_exactly(client, daemon, campaign):
    when = dt.datetime(2031, 5, 17, 9, 30, 15, 123000, tzinfo=dt.timezone.utc)
    out = client.put_dial_request_batch(
        id=campaign["id"], dialRequests=[dial_request("exp", expiration=when)]
    )
    rid = ids_by_token(out)["exp"]
    stored = psql(daemon.db_url, f"select extract(epoch from expires_at)::text from dial_request where id = '{rid}'")
    assert float(stored) == pytest.approx(when.timestamp(), abs=1e-6)
    # A naive datetime is read as UTC by botocore, so it is the same instant: a replay.
    naive = when.replace(tzinfo=None)
    again = client.put_dial_request_batch(
        id=campaign["id"], dialRequests=[dial_request("exp", expiration=naive)]
    )
    assert ids_by_token(again) == {"exp": rid}


def test_epoch_seconds_and_iso_text_are_the_same_instant(client, daemon, campaign):
    # restJson1 SDKs other than botocore send timestamps as epoch seconds.
    when = dt.datetime(2031, 5, 17, 9, 30, 15, 250000, tzinfo=dt.timezone.utc)
    body = {
        "dialRequests": [
            {
                "clientToken": "epoch",
                "phoneNumber": "+14155550123",
                "expirationTime": when.timestamp(),
                "attributes": {},
            }
        ]
    }
    r = signed(daemon.endpoint, "PUT", f"/campaigns/{campaign['id']}/dial-requests", json.dumps(body).encode())
    assert r.status == 200, r.body
    rid = ids_by_token(r.json())["epoch"]
    again = client.put_dial_request_batch(
        id=campaign["id"], dialRequests=[dial_request("epoch", expiration=when)]
    )
    assert ids_by_token(again) == {"epoch": rid}


def test_attributes_are_stored(client, daemon, campaign, exp):
    out = client.put_dial_request_batch(
        id=campaign["id"],
        dialRequests=[dial_request("attrs", expiration=exp, **{"first-name": "Ada", "account_id": "42"})],
    )
    rid = ids_by_token(out)["attrs"]
    stored = psql(daemon.db_url, f"select attributes::text from dial_request where id = '{rid}'")
    assert json.loads(stored) == {"first-name": "Ada", "account_id": "42"}


def test_paused_campaign_takes_requests(client, campaign, exp):
    client.start_campaign(id=campaign["id"])
    client.pause_campaign(id=campaign["id"])
    out = client.put_dial_request_batch(id=campaign["id"], dialRequests=[dial_request("p", expiration=exp)])
    assert set(ids_by_token(out)) == {"p"}


def test_stopped_campaign_refuses_the_batch(client, daemon, campaign, exp):
    client.stop_campaign(id=campaign["id"])
    with pytest.raises(ClientError) as e:
        client.put_dial_request_batch(id=campaign["id"], dialRequests=[dial_request("s", expiration=exp)])
    code, status, response = error_of(e)
    assert (code, status) == ("InvalidCampaignStateException", 409)
    assert response["state"] == "Stopped"
    assert rows(daemon, campaign["id"]) == 0


def test_stopped_campaign_refuses_even_an_all_invalid_batch(client, campaign, exp):
    client.stop_campaign(id=campaign["id"])
    with pytest.raises(ClientError) as e:
        client.put_dial_request_batch(id=campaign["id"], dialRequests=[dial_request("s", "123", exp)])
    code, status, response = error_of(e)
    assert (code, status, response["state"]) == ("InvalidCampaignStateException", 409, "Stopped")


def test_unknown_campaign_is_not_found(client, exp):
    for phone in ("+14155550123", "123"):
        with pytest.raises(ClientError) as e:
            client.put_dial_request_batch(id=str(uuid.uuid4()), dialRequests=[dial_request("x", phone, exp)])
        assert error_of(e)[:2] == ("ResourceNotFoundException", 404), phone


def test_deleted_campaign_takes_its_requests_with_it(client, daemon, campaign, exp):
    client.put_dial_request_batch(id=campaign["id"], dialRequests=[dial_request("d", expiration=exp)])
    client.delete_campaign(id=campaign["id"])
    assert rows(daemon, campaign["id"]) == 0
    with pytest.raises(ClientError) as e:
        client.put_dial_request_batch(id=campaign["id"], dialRequests=[dial_request("d", expiration=exp)])
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


@pytest.fixture(scope="module")
def capped(spawn):
    return spawn("capped", max_pending_per_campaign=5)


def test_pending_cap_throttles_items_beyond_it(capped, exp):
    client = capped.client()
    c = new_campaign(client)
    first = client.put_dial_request_batch(
        id=c["id"], dialRequests=[dial_request(t, expiration=exp) for t in tokens("cap", 4)]
    )
    assert len(first["successfulRequests"]) == 4
    second = client.put_dial_request_batch(
        id=c["id"], dialRequests=[dial_request(t, expiration=exp) for t in tokens("more", 3)]
    )
    assert [r["clientToken"] for r in second["successfulRequests"]] == ["more-0"]
    assert failures(second) == {"more-1": "RequestThrottled", "more-2": "RequestThrottled"}
    assert rows(capped, c["id"]) == 5

    # Replays of stored requests are not new work: they still answer with their ids.
    replay = client.put_dial_request_batch(
        id=c["id"], dialRequests=[dial_request(t, expiration=exp) for t in tokens("cap", 4)]
    )
    assert ids_by_token(replay) == ids_by_token(first)
    full = client.put_dial_request_batch(id=c["id"], dialRequests=[dial_request("late", expiration=exp)])
    assert failures(full) == {"late": "RequestThrottled"}

    # The cap is per campaign.
    other = new_campaign(client)
    out = client.put_dial_request_batch(
        id=other["id"], dialRequests=[dial_request(t, expiration=exp) for t in tokens("o", 5)]
    )
    assert len(out["successfulRequests"]) == 5


def test_pending_cap_counts_a_mixed_batch_in_order(capped, exp):
    client = capped.client()
    c = new_campaign(client)
    batch = [dial_request("bad", "123", exp)] + [dial_request(t, expiration=exp) for t in tokens("m", 7)]
    out = client.put_dial_request_batch(id=c["id"], dialRequests=batch)
    assert [r["clientToken"] for r in out["successfulRequests"]] == tokens("m", 5)
    assert failures(out) == {"bad": "InvalidInput", "m-5": "RequestThrottled", "m-6": "RequestThrottled"}
    assert rows(capped, c["id"]) == 5


def test_concurrent_identical_batches_get_identical_ids(daemon, client, campaign, exp):
    threads_n = 8
    batch = [dial_request(t, expiration=exp, n=t) for t in tokens("conc", 25)]
    clients = [make_client(daemon.endpoint) for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)
    results = [None] * threads_n

    def send(i):
        barrier.wait()
        try:
            results[i] = clients[i].put_dial_request_batch(id=campaign["id"], dialRequests=batch)
        except Exception as e:  # reported below, per thread
            results[i] = e

    workers = [threading.Thread(target=send, args=(i,)) for i in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    for r in results:
        assert isinstance(r, dict), r
        assert r["failedRequests"] == []
    maps = [ids_by_token(r) for r in results]
    assert all(m == maps[0] for m in maps), "every caller sees the same id per token"
    assert len(set(maps[0].values())) == 25
    assert rows(daemon, campaign["id"]) == 25
    assert int(psql(daemon.db_url, "select count(*) from dial_request where id in ({})".format(
        ",".join(f"'{i}'" for i in maps[0].values())))) == 25

    described = client.describe_campaign(id=campaign["id"])["campaign"]
    assert described["name"] == campaign["name"]
    listed = client.list_campaigns(
        filters={"instanceIdFilter": {"value": campaign["connectInstanceId"], "operator": "Eq"}}
    )["campaignSummaryList"]
    assert [s["id"] for s in listed] == [campaign["id"]]
