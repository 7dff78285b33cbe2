"""Runs dialer daemons and Postgres databases for the conformance suite, and speaks to them.

Everything here talks to real processes: a daemon is the built binary (`DIALER_BIN`, default
`target/debug/dialer` under the repository root) started with `serve`, each on a fresh
database created from `DATABASE_URL` and dropped at the end of the session.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from unittest import mock

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
SIGNING_NAME = "connect-campaigns"
ACCESS_KEY = ("AKIDTEST", "testsecret")
OTHER_KEY = ("AKIDOTHER", "othersecret")

# Every daemon started in this session, so a failing test can show their logs.
DAEMONS: list["Daemon"] = []


def dialer_bin() -> Path:
    path = Path(os.environ.get("DIALER_BIN", "target/debug/dialer"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url: str, sql: str) -> str:
    """Runs one statement with psql and returns its unaligned, tuples-only output."""
    out = subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Postgres:
    """Creates throwaway databases next to the one `DATABASE_URL` names."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"conformance_{secrets.token_hex(6)}"
        psql(self.admin_url, f"create database {name}")
        self.created.append(name)
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))

    def drop_all(self) -> None:
        for name in self.created:
            try:
                psql(self.admin_url, f"drop database if exists {name} with (force)")
            except subprocess.SubprocessError:
                pass
        self.created.clear()


def config_toml(
    *,
    access_keys: Iterable[tuple[str, ...]] = (ACCESS_KEY, OTHER_KEY),
    default_rate: tuple[float, int] = (100000.0, 100000),
    operation_rates: dict[str, tuple[float, int]] | None = None,
    max_pending_per_campaign: int | None = None,
    max_clock_skew_secs: int | None = None,
    log_level: str = "info",
    extra: str = "",
) -> str:
    # (id, secret) or (id, secret, account).
    keys = ", ".join(json.dumps(":".join(key)) for key in access_keys)
    lines = ["[auth]", f"access_keys = [{keys}]"]
    if max_clock_skew_secs is not None:
        lines.append(f"max_clock_skew_secs = {max_clock_skew_secs}")
    lines += [
        "",
        "[throttling]",
        f"default = {{ per_second = {float(default_rate[0])}, burst = {default_rate[1]} }}",
        "",
        "[throttling.operations]",
    ]
    # Without an explicit entry the built-in PutDialRequestBatch rate would apply.
    rates = {"PutDialRequestBatch": default_rate, **(operation_rates or {})}
    for op, (per_second, burst) in rates.items():
        lines.append(f"{op} = {{ per_second = {float(per_second)}, burst = {burst} }}")
    if max_pending_per_campaign is not None:
        lines += ["", "[queue]", f"max_pending_per_campaign = {max_pending_per_campaign}"]
    lines += ["", "[log]", f"level = {json.dumps(log_level)}", "", extra, ""]
    return "\n".join(lines)


class Daemon:
    """One `dialer serve` process; may be stopped, killed and started again on its database."""

    def __init__(self, name: str, db_url: str, config_text: str, workdir: Path):
        self.name = name
        self.db_url = db_url
        self.workdir = workdir
        self.config_path = workdir / f"{name}.toml"
        self.config_path.write_text(config_text)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0
        self.log_path: Path | None = None
        DAEMONS.append(self)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "Daemon":
        binary = dialer_bin()
        if not binary.exists():
            raise RuntimeError(f"dialer binary not found at {binary} (set DIALER_BIN)")
        self.starts += 1
        self.port = free_port()
        self.log_path = self.workdir / f"{self.name}.{self.starts}.log"
        env = {k: v for k, v in os.environ.items() if k not in ("DIALER_ACCESS_KEYS", "RUST_LOG")}
        env["DATABASE_URL"] = self.db_url
        env["NO_COLOR"] = "1"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(binary), *self.arguments()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        for path in ("/healthz", "/readyz"):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"daemon {self.name} exited with {self.proc.returncode} during start:\n"
                        + self.tail()
                    )
                try:
                    if get(self.endpoint, path)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daemon {self.name}: {path} not 200 after {timeout}s\n" + self.tail())
                time.sleep(0.05)
        return self

    def arguments(self) -> list[str]:
        """The command line after the binary; other processes of the binary override it."""
        return ["serve", "--config", str(self.config_path), "--listen", f"127.0.0.1:{self.port}"]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; returns the exit code, or None if it did not exit in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def shutdown(self) -> None:
        if self.running() and self.terminate() is None:
            self.kill9()

    def tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def client(self, key: tuple[str, str] = ACCESS_KEY, validate: bool = True):
        return make_client(self.endpoint, key, validate)

    def client_v2(self, key: tuple[str, str] = ACCESS_KEY, validate: bool = True):
        return make_client(self.endpoint, key, validate, service="connectcampaignsv2")


def make_client(
    endpoint: str,
    key: tuple[str, str] = ACCESS_KEY,
    validate: bool = True,
    service: str = "connectcampaigns",
):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        config=Config(
            retries={"max_attempts": 1},
            parameter_validation=validate,
            connect_timeout=10,
            read_timeout=60,
        ),
    )


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")


def send(endpoint: str, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Response:
    """Sends exactly these headers and body (http.client adds nothing it is given)."""
    parts = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        try:
            conn.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) and close before reading a large body.
            pass
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def get(endpoint: str, path: str) -> tuple[int, bytes]:
    r = send(endpoint, "GET", path, headers={"Host": urllib.parse.urlsplit(endpoint).netloc})
    return r.status, r.body


def signed_headers(
    endpoint: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: tuple[str, str] = ACCESS_KEY,
    service: str = SIGNING_NAME,
    region: str = REGION,
    when=None,
    content_type: str | None = "application/json",
) -> dict[str, str]:
    """SigV4 headers for a request, signed by botocore; `when` fakes the signing time."""
    host = urllib.parse.urlsplit(endpoint).netloc
    headers = {"Host": host}
    if content_type:
        headers["Content-Type"] = content_type
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    signer = botocore.auth.SigV4Auth(Credentials(*key), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
            signer.add_auth(request)
    out = dict(request.headers.items())
    out["Content-Length"] = str(len(body))
    return out


def signed(endpoint: str, method: str, path: str, body: bytes = b"", **kw) -> Response:
    return send(endpoint, method, path, body, signed_headers(endpoint, method, path, body, **kw))


def new_campaign(client, instance: str | None = None, **overrides) -> dict:
    params = {
        "name": f"conformance-{uuid.uuid4().hex[:8]}",
        "connectInstanceId": instance or f"inst-{uuid.uuid4().hex[:12]}",
        "dialerConfig": {"progressiveDialerConfig": {"bandwidthAllocation": 0.5}},
        "outboundCallConfig": {"connectContactFlowId": "flow-1"},
    }
    params.update(overrides)
    out = client.create_campaign(**params)
    return {"id": out["id"], "arn": out["arn"], **params}


def expiry(hours: float = 2) -> dt.datetime:
    """A future expiration time with millisecond precision (what botocore sends)."""
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def dial_request(token: str, phone: str = "+14155550123", expiration=None, **attributes) -> dict:
    return {
        "clientToken": token,
        "phoneNumber": phone,
        "expirationTime": expiration or expiry(),
        "attributes": attributes,
    }


def error_of(excinfo) -> tuple[str, int, dict]:
    """(code, HTTP status, whole parsed response) of a botocore ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response
