"""Fixtures of the conformance suite: databases, daemons, clients, campaigns.

`DATABASE_URL` must name a Postgres server where the user may create databases; each daemon
gets a database of its own, dropped when the session ends.
"""

from __future__ import annotations

import os

import pytest

import harness
from harness import Daemon, Postgres, config_toml, expiry, new_campaign


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for daemon in harness.DAEMONS:
            report.sections.append((f"daemon {daemon.name} log (tail)", daemon.tail()))


@pytest.fixture(scope="session")
def pg():
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        pytest.exit("DATABASE_URL must name a Postgres server, e.g. postgres://postgres@127.0.0.1:5432/postgres", returncode=3)
    postgres = Postgres(url)
    yield postgres
    postgres.drop_all()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("daemons")


@pytest.fixture(scope="session")
def spawn(pg, workdir):
    """Starts a daemon on a fresh database: spawn(name, **config_toml kwargs)."""
    started: list[Daemon] = []

    def _spawn(name: str, start: bool = True, **config) -> Daemon:
        daemon = Daemon(name, pg.create(), config_toml(**config), workdir)
        started.append(daemon)
        return daemon.start() if start else daemon

    yield _spawn
    for daemon in started:
        daemon.shutdown()


@pytest.fixture(scope="session")
def daemon(spawn):
    """The main daemon: default limits, throttling out of the way."""
    return spawn("main")


@pytest.fixture(scope="session")
def client(daemon):
    return daemon.client()


@pytest.fixture(scope="session")
def loose_client(daemon):
    """Sends whatever it is given: client-side parameter validation is off."""
    return daemon.client(validate=False)


@pytest.fixture(scope="session")
def v2(daemon):
    """A connectcampaignsv2 client of the main daemon."""
    return daemon.client_v2()


@pytest.fixture(scope="session")
def loose_v2(daemon):
    """A connectcampaignsv2 client without client-side parameter validation."""
    return daemon.client_v2(validate=False)


@pytest.fixture
def campaign(client):
    return new_campaign(client)


@pytest.fixture(scope="session")
def exp():
    return expiry()
