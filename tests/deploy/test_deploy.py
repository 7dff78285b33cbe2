"""Checks of the deployment files against the repository, promtool and a live daemon.

No Docker engine is needed: docker-compose.yml, the Dockerfile, the Prometheus and Grafana
configuration and the dashboard are read as files and checked for what a broken deployment
would get wrong (a missing mount source, a port or path that does not match between files,
PromQL that does not parse, a dashboard metric the daemon does not export). The live checks
start the built binary (`DIALER_BIN`, default `target/debug/dialer`) on a fresh database
created next to the one `DATABASE_URL` names, and dropped afterwards.

Needs: PyYAML (tests/deploy/requirements.txt), `psql`, and `promtool` (Debian/Ubuntu
package `prometheus`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.parse
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS = REPO / "config/prometheus.yml"
COMPOSE_CONFIG = REPO / "config/dialer.compose.toml"
GRAFANA = REPO / "config/grafana"
DASHBOARD = GRAFANA / "dashboards/dialer.json"
METRICS_RS = REPO / "src/metrics.rs"

SERVICES = {"postgres", "dialer", "prometheus", "grafana"}
METRIC_NAME = re.compile(r"\bdialer_[a-z_]+\b")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
ACCESS_KEY = ("AKIDDEPLOYTEST", "deploy-test-secret")

# What the dashboard must show (the operations guide points readers at these panels).
REQUIRED_DASHBOARD_METRICS = {
    "dialer_queue_depth",
    "dialer_dials_total",
    "dialer_abandonment_rate",
    "dialer_abandons_total",
    "dialer_person_answers_total",
    "dialer_agents",
    "dialer_dials_in_flight",
    "dialer_lines_in_use",
    "dialer_contacts_completed_total",
    "dialer_contact_creation_failures_total",
    "dialer_dial_ratio",
    "dialer_api_requests_total",
    "dialer_api_request_duration_seconds",
    "dialer_claim_duration_seconds",
    "dialer_contact_creation_duration_seconds",
    "dialer_dial_requests_received_total",
    "dialer_dial_requests_expired_total",
    "dialer_sms_sent_total",
    "dialer_sms_failed_total",
}


# --- helpers ----------------------------------------------------------------------------


def load_yaml(path: Path):
    with path.open() as f:
        return yaml.safe_load(f)


def compose() -> dict:
    return load_yaml(COMPOSE)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install it with `apt-get install -y prometheus` "
            "(Debian/Ubuntu; the package ships /usr/bin/promtool) or put a Prometheus "
            "release's promtool on PATH"
        )
    return path


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("timeout", 120)
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def dialer_bin() -> Path:
    path = Path(os.environ.get("DIALER_BIN", "target/debug/dialer"))
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        pytest.fail(f"dialer binary not found at {path}: build it (cargo build) or set DIALER_BIN")
    return path


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    out = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def healthcheck_command() -> list[str]:
    checks = [args for ins, args in dockerfile_instructions() if ins == "HEALTHCHECK"]
    assert len(checks) == 1, "the Dockerfile needs exactly one HEALTHCHECK"
    _, _, command = checks[0].partition("CMD ")
    return exec_form(command.strip())


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels() -> list[dict]:
    panels = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows nest theirs
    return panels


def dashboard_exprs() -> list[str]:
    exprs = [t["expr"] for p in dashboard_panels() for t in p.get("targets", []) if "expr" in t]
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def base_metric(name: str) -> str:
    for suffix in HISTOGRAM_SERIES:
        if name.endswith("_seconds" + suffix):
            return name[: -len(suffix)]
    return name


def dashboard_metrics() -> set[str]:
    return {base_metric(n) for e in dashboard_exprs() for n in METRIC_NAME.findall(e)}


def declared_metrics() -> dict[str, tuple[str, str]]:
    """Metric names declared in src/metrics.rs: name -> (kind, doc comment)."""
    text = METRICS_RS.read_text()
    found = re.findall(
        r'///\s*(Counter|Gauge|Histogram):(.*(?:\n\s*///.*)*)\n\s*pub const \w+: &str = "(dialer_\w+)";', text
    )
    return {name: (kind.lower(), doc) for kind, doc, name in found}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def psql(url: str, sql: str) -> None:
    out = run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
    assert out.returncode == 0, f"psql failed: {out.stderr}"


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_parses_and_has_the_four_services():
    services = compose()["services"]
    assert SERVICES <= set(services), f"missing services: {SERVICES - set(services)}"
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    assert services["grafana"]["image"].startswith("grafana/grafana")


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(host path, container path) of the service's bind mounts; named volumes skipped."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, _, rest = volume.partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":")[0]))
    return mounts


def test_compose_host_paths_exist():
    services = compose()["services"]
    missing = []
    for name, service in services.items():
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not (REPO / context).is_dir():
                missing.append(f"{name}: build context {context}")
            elif not (REPO / context / dockerfile).is_file():
                missing.append(f"{name}: {context}/{dockerfile}")
        for source, _ in bind_mounts(service):
            if not (REPO / source).exists():
                missing.append(f"{name}: mount source {source}")
    assert not missing, "compose refers to paths missing from the repository: " + ", ".join(missing)


def test_compose_named_volumes_are_declared():
    doc = compose()
    declared = set(doc.get("volumes") or {})
    used = set()
    for service in doc["services"].values():
        for volume in service.get("volumes", []):
            source = volume.get("source", "") if isinstance(volume, dict) else volume.partition(":")[0]
            if source and not source.startswith((".", "/", "~")):
                used.add(source)
    assert used <= declared, f"named volumes used but not declared: {used - declared}"
    assert any(
        target == "/var/lib/postgresql/data"
        for volume in doc["services"]["postgres"]["volumes"]
        for target in [volume.partition(":")[2]]
    ), "postgres data must live on a named volume"


def test_compose_dialer_wiring():
    services = compose()["services"]
    dialer = services["dialer"]
    assert dialer["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])

    url = urllib.parse.urlsplit(dialer["environment"]["DATABASE_URL"])
    assert url.scheme in ("postgres", "postgresql")
    assert url.hostname == "postgres", "DATABASE_URL must point at the postgres service"
    assert "DIALER_ACCESS_KEYS" in dialer["environment"]

    # The config the dialer reads must be the file compose mounts.
    cmd = [args for ins, args in dockerfile_instructions() if ins == "CMD"][-1]
    config_path = exec_form(cmd)[exec_form(cmd).index("--config") + 1]
    mounts = dict((target, source) for source, target in bind_mounts(dialer))
    assert mounts.get(config_path) == "./config/dialer.compose.toml"
    assert any(p.split(":")[-1] == "8080" for p in map(str, dialer["ports"]))


def compose_default(value: str) -> str:
    """A compose value with every `${VAR:-default}` replaced by its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_allows_the_local_key_by_default_and_publishes_on_loopback():
    dialer = compose()["services"]["dialer"]
    environment = dialer["environment"]
    # A default the user overrides (0 refuses the local key), not a fixed value.
    assert environment["DIALER_ALLOW_EXAMPLE_KEY"] == "${DIALER_ALLOW_EXAMPLE_KEY:-1}"
    # Why that default is acceptable: the port is published on loopback unless told otherwise.
    for port in map(str, dialer["ports"]):
        assert port.startswith("${DIALER_PUBLISH_HOST:-127.0.0.1}:"), port

    # The image's command with compose's default environment and config: the daemon gets past
    # the key check (to the database, unreachable here); without the allowance it refuses.
    cmd = exec_form([args for ins, args in dockerfile_instructions() if ins == "CMD"][-1])
    cmd[cmd.index("--config") + 1] = str(COMPOSE_CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALER_")}
    env.update({name: compose_default(str(value)) for name, value in environment.items()})
    env.update(DATABASE_URL="postgres://dialer@127.0.0.1:1/dialer", NO_COLOR="1")
    started = run([str(dialer_bin()), *cmd], env=env, timeout=30)
    said = started.stdout + started.stderr
    assert "refusing" not in said and "cannot connect to the database" in said, said

    del env["DIALER_ALLOW_EXAMPLE_KEY"]
    refused = run([str(dialer_bin()), *cmd], env=env, timeout=30)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "refusing to serve on 0.0.0.0:8080" in said, said


def test_compose_prometheus_scrapes_the_dialer_service():
    services = compose()["services"]
    mounts = {target: source for source, target in bind_mounts(services["prometheus"])}
    assert mounts.get("/etc/prometheus/prometheus.yml") == "./config/prometheus.yml"
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS)["scrape_configs"]}
    dialer = jobs["dialer"]
    assert dialer["scrape_interval"] == "5s"
    assert dialer.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in dialer["static_configs"] for t in sc["targets"]]
    assert targets == ["dialer:8080"]
    host, port = targets[0].split(":")
    assert host in services, f"scrape target {host} is not a compose service"
    cmd = exec_form([args for ins, args in dockerfile_instructions() if ins == "CMD"][-1])
    assert cmd[cmd.index("--listen") + 1].endswith(f":{port}"), "the daemon must listen where it is scraped"


def test_compose_grafana_provisioning_matches_its_mounts():
    services = compose()["services"]
    mounts = {target: source for source, target in bind_mounts(services["grafana"])}
    assert mounts.get("/etc/grafana/provisioning") == "./config/grafana/provisioning"

    providers = load_yaml(GRAFANA / "provisioning/dashboards/dialer.yml")["providers"]
    assert len(providers) == 1 and providers[0]["type"] == "file"
    dashboards_dir = providers[0]["options"]["path"]
    assert mounts.get(dashboards_dir) == "./config/grafana/dashboards", (
        f"the provider reads {dashboards_dir}, which compose must mount from config/grafana/dashboards"
    )

    sources = load_yaml(GRAFANA / "provisioning/datasources/prometheus.yml")["datasources"]
    prometheus = next(s for s in sources if s["type"] == "prometheus")
    assert prometheus["uid"] == "prometheus"
    url = urllib.parse.urlsplit(prometheus["url"])
    assert url.hostname in services and url.port == 9090

    # Every panel must use the provisioned data source, or it renders "datasource not found".
    uids = {p["datasource"]["uid"] for p in dashboard_panels() if "datasource" in p}
    uids |= {t["datasource"]["uid"] for p in dashboard_panels() for t in p.get("targets", [])}
    assert uids == {"prometheus"}


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_stages_user_port_and_command():
    instructions = dockerfile_instructions()
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert froms[0].split()[0].startswith("rust:1-bookworm") and froms[0].endswith("AS builder")
    assert froms[-1] == "debian:bookworm-slim"
    runs = " ".join(args for ins, args in instructions if ins == "RUN")
    assert "cargo build --release --locked" in runs
    assert "--uid 10001" in runs
    final_stage = instructions[max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM") :]
    users = [args for ins, args in final_stage if ins == "USER"]
    assert users and users[-1].split(":")[0] in ("10001", "dialer"), "the image must run as uid 10001"
    assert ("EXPOSE", "8080") in instructions
    assert exec_form(dict(instructions)["ENTRYPOINT"]) == ["dialer"]
    assert exec_form([a for i, a in instructions if i == "CMD"][-1]) == [
        "serve",
        "--config",
        "/etc/dialer/dialer.toml",
        "--listen",
        "0.0.0.0:8080",
    ]


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_keeps_build_noise_out_and_build_inputs_in():
    patterns = set(dockerignore_patterns())
    assert {"target", ".venv", "data", ".git"} <= patterns
    # What the build copies must exist and must not be ignored.
    for ins, args in dockerfile_instructions():
        if ins != "COPY" or args.startswith("--from"):
            continue
        *sources, _ = args.split()
        for source in sources:
            if source == ".":
                continue
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert source.split("/")[0] not in patterns, f"COPY {source}: excluded by .dockerignore"
    for needed in ("src", "migrations", "Cargo.toml", "Cargo.lock"):
        assert needed not in patterns


def test_compose_config_is_valid_and_container_shaped():
    config = tomllib.loads(COMPOSE_CONFIG.read_text())
    assert config["server"]["listen"] == "0.0.0.0:8080"
    assert config["log"]["format"] == "json"
    assert config["database"]["url"] == "", "DATABASE_URL from the environment provides it"
    out = run([str(dialer_bin()), "check-config", str(COMPOSE_CONFIG)])
    assert out.returncode == 0, f"dialer check-config rejected it:\n{out.stdout}{out.stderr}"


# --- Prometheus and the dashboard --------------------------------------------------------


def test_promtool_accepts_the_prometheus_config():
    out = run([promtool(), "check", "config", str(PROMETHEUS)])
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_promql_parses(tmp_path):
    # promtool has no bare PromQL checker; recording rules are parsed with the real parser.
    # label_values() is Grafana's, not PromQL: variable queries are left out.
    exprs = [e for e in dashboard_exprs() if not e.startswith("label_values(")]
    rules = [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    rules_file = {"groups": [{"name": "dashboard", "rules": rules}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules_file))
    out = run([promtool(), "check", "rules", str(path)])
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_metrics_are_declared_with_fitting_functions():
    declared = declared_metrics()
    assert declared, "no metric consts found in src/metrics.rs"
    unknown = dashboard_metrics() - set(declared)
    assert not unknown, f"dashboard uses metrics src/metrics.rs does not declare: {sorted(unknown)}"
    missing = REQUIRED_DASHBOARD_METRICS - dashboard_metrics()
    assert not missing, f"dashboard lacks panels for: {sorted(missing)}"

    for expr in dashboard_exprs():
        for name in re.findall(r"\b(?:rate|increase)\((dialer_\w+)", expr):
            kind = declared[base_metric(name)][0]
            assert kind == "counter" or (kind == "histogram" and name.endswith("_bucket")), (
                f"rate/increase over a {kind} series {name}: {expr}"
            )
        for name in METRIC_NAME.findall(expr):
            if declared.get(base_metric(name), ("",))[0] == "histogram":
                assert name.endswith(HISTOGRAM_SERIES), f"histogram {name} used without a series suffix"
        for args in re.findall(r"histogram_quantile\(([^,]+),(.*)", expr):
            assert "_bucket" in args[1] and re.search(r"by \([^)]*\ble\b", args[1]), expr


def test_dashboard_layout_and_variables():
    board = dashboard()
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
                cells.add((x, y))
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert "campaign_id" in variables and variables["campaign_id"]["includeAll"]
    # Every selector of a per-campaign metric honours the campaign picker.
    per_campaign = {n for n, (_, doc) in declared_metrics().items() if "by campaign" in doc}
    assert per_campaign, "no per-campaign metrics found in src/metrics.rs"
    for panel in panels:
        for target in panel.get("targets", []):
            for name, matchers in re.findall(r"\b(dialer_\w+)(\{[^}]*\})?", target["expr"]):
                if name in per_campaign:
                    assert 'campaign_id=~"$campaign_id"' in matchers, (
                        f"panel {panel['title']!r}: {name} ignores the campaign_id variable"
                    )
    abandonment = next(p for p in panels if p["title"].startswith("Abandonment rate"))
    steps = abandonment["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert any(step["value"] == 0.03 for step in steps), "the 3% cap line"
    assert abandonment["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"


# --- a live daemon ----------------------------------------------------------------------


class LiveDaemon:
    def __init__(self, port: int, proc: subprocess.Popen, log: Path):
        self.port = port
        self.proc = proc
        self.log = log

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    admin_url = os.environ.get("DATABASE_URL", "").strip()
    if not admin_url:
        pytest.fail("DATABASE_URL must name a Postgres server where databases may be created")
    binary = dialer_bin()
    name = f"deploy_{secrets.token_hex(6)}"
    psql(admin_url, f"create database {name}")
    db_url = urllib.parse.urlunsplit(urllib.parse.urlsplit(admin_url)._replace(path="/" + name))
    workdir = tmp_path_factory.mktemp("deploy")
    config = workdir / "dialer.toml"
    config.write_text(f'[auth]\nenabled = true\naccess_keys = ["{ACCESS_KEY[0]}:{ACCESS_KEY[1]}"]\n')
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DIALER_ACCESS_KEYS", "RUST_LOG")}
    env.update(DATABASE_URL=db_url, NO_COLOR="1")
    log = workdir / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    daemon = LiveDaemon(port, proc, log)
    try:
        deadline = time.monotonic() + 60
        for path in ("/healthz", "/readyz"):
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"daemon exited with {proc.returncode} during start:\n{daemon.tail()}")
                try:
                    if http_get(port, path)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{path} not 200 after 60 s:\n{daemon.tail()}")
                time.sleep(0.05)
        # A little traffic: an unsigned ListCampaigns, refused, still counts as an API request.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/campaigns-summary", body="{}", headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        assert status == 403, f"an unsigned request must be refused, got {status}"
        yield daemon
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:
            psql(admin_url, f"drop database if exists {name} with (force)")
        except AssertionError:
            pass


def scrape(daemon: LiveDaemon) -> str:
    status, body = http_get(daemon.port, "/metrics")
    assert status == 200
    return body


def exported_metrics(body: str) -> set[str]:
    names = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(base_metric(re.split(r"[{ ]", line, maxsplit=1)[0]))
    return names


def test_dashboard_metrics_are_exported_by_the_daemon(live):
    exported = exported_metrics(scrape(live))
    missing = sorted(dashboard_metrics() - exported)
    assert not missing, (
        "the dashboard queries metrics the daemon's /metrics does not export (neither a "
        f"# TYPE line nor a sample) right after start: {missing}"
    )


def test_live_scrape_passes_promtool_check_metrics(live):
    body = scrape(live)
    out = run([promtool(), "check", "metrics"], input=body)
    assert out.returncode == 0, f"promtool check metrics:\n{out.stdout}{out.stderr}"


def test_image_healthcheck_command_probes_healthz(live):
    command = healthcheck_command()
    assert command[0] == "bash" and "/healthz" in command[-1]
    script = command[-1]
    assert "/dev/tcp/127.0.0.1/8080" in script, "the probe must target the port the CMD listens on"
    up = run(["bash", "-c", script.replace("/8080", f"/{live.port}")], timeout=10)
    assert up.returncode == 0, f"healthcheck failed against a healthy daemon: {up.stderr}"
    down = run(["bash", "-c", script.replace("/8080", f"/{free_port()}")], timeout=10)
    assert down.returncode != 0, "healthcheck passed with nothing listening"
