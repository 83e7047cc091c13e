"""The deployment files, kept working (issue: run it like a service).

No container engine or init system runs here, so the files are checked with
the tools that read them (hadolint, systemd-analyze, HAProxy's own parser) and
against the server's settings; the reverse proxy example and the container's
health check command are run for real against a real server. Without one of
the tools the test skips, saying which, unless ``QUIZ_REQUIRE_DEPLOY_TOOLS=1``
(``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml

from quiz_actors.server.open_files import FDS_BESIDES_SOCKETS
from quiz_actors.server.run import SHUTDOWN_TIMEOUT_S
from quiz_actors.settings import Settings
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, screenshot
from tests.cluster_nodes import Cluster, Proxy
from tests.conftest import RunningServer, free_port

ROOT = Path(__file__).resolve().parents[1]
ERROR_PAGE = ROOT / "deploy" / "quiz-503.http"  # HAProxy's 503, in plain words
ERROR_PAGE_INSTALLED = "/etc/haproxy/errors/quiz-503.http"  # where both configs read it
TOOLS_REQUIRED = os.environ.get("QUIZ_REQUIRE_DEPLOY_TOOLS") == "1"
SETTING_VARIABLES = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
DOCKER_STOP_TIMEOUT_S = 10  # docker stop's default before it kills


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        why = f"{name} is not installed (.ci/run installs it)"
        if TOOLS_REQUIRED:
            pytest.fail(f"deployment checks are required here (QUIZ_REQUIRE_DEPLOY_TOOLS=1) but {why}")
        pytest.skip(why)
    return found


def settings_from(variables: dict[str, str]) -> Settings:
    unknown = {name for name in variables if name.startswith("QUIZ_")} - SETTING_VARIABLES
    assert not unknown, f"not settings of the server: {unknown}"
    settings = Settings.from_env({k: v for k, v in variables.items() if k.startswith("QUIZ_")})
    assert settings.problems() == []
    return settings


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    return [(line.split()[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def test_dockerfile_passes_hadolint():
    result = subprocess.run([tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_dockerfile_runs_the_server_as_a_user_with_its_store_on_a_volume():
    steps = dockerfile_instructions()
    kinds = [kind for kind, _ in steps]
    assert re.fullmatch(r"python:3\.\d+-slim", dict(steps)["FROM"])
    for kind, argument in steps:
        if kind == "COPY":
            for source in argument.split()[:-1]:
                assert (ROOT / source).exists(), source
    user = dict(steps)["USER"]
    uid = user.split(":")[0]
    assert uid not in ("0", "root")
    assert f"--uid {uid}" in next(a for k, a in steps if k == "RUN" and "useradd" in a)
    assert kinds.index("USER") > max(
        i for i, k in enumerate(kinds) if k == "RUN"
    )  # nothing runs as root after
    env = dict(re.findall(r"(QUIZ_\w+)=(\S+)", " ".join(a for k, a in steps if k == "ENV")))
    settings = settings_from(env)
    store_folder = os.path.dirname(urlsplit(settings.store).path[1:])
    assert json.loads(dict(steps)["VOLUME"]) == [store_folder]
    assert dict(steps)["EXPOSE"] == str(settings.port)
    assert settings.host == "0.0.0.0"
    assert dict(steps)["STOPSIGNAL"] == "SIGTERM"
    assert settings.drain_grace_s < DOCKER_STOP_TIMEOUT_S
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["quiz-server"]
    assert "quiz-server = quiz_actors.__main__:main" in (ROOT / "setup.cfg").read_text()
    assert "/livez" in dict(steps)["HEALTHCHECK"]


async def test_the_container_health_check_asks_livez(tmp_path, clock):
    healthcheck = dict(dockerfile_instructions())["HEALTHCHECK"]
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert command[0] == "python"

    async def run_check(port: int) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command[1:],
            env={**os.environ, "QUIZ_PORT": str(port)},
            stderr=subprocess.DEVNULL,
        )
        return await asyncio.wait_for(process.wait(), 30)

    server = await RunningServer(Settings(store=f"sqlite:///{tmp_path}/e.sqlite3"), clock).start()
    try:
        assert await run_check(server.port) == 0
    finally:
        await server.stop()
    assert await run_check(free_port()) != 0  # nothing listening: unhealthy


# ---------------------------------------------------------------- prometheus-alerts.yml

ALERTS = ROOT / "deploy" / "prometheus-alerts.yml"
PROMETHEUS_OWN = {"up"}  # series Prometheus writes itself, not the server


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def selected_metrics(expr: str) -> set[str]:
    import promql_parser

    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)  # ValueError on a syntax error
    return names


async def test_the_alert_rules_parse_and_read_only_metrics_the_server_exports(tmp_path, clock):
    from prometheus_client.parser import text_string_to_metric_families

    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules) >= 10
    for rule in rules:
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 60, rule
    server = await RunningServer(Settings(store=f"sqlite:///{tmp_path}/e.sqlite3"), clock).start()
    try:
        async with aiohttp.ClientSession() as http, http.get(server.base_url + "/metrics") as response:
            text = await response.text()
    finally:
        await server.stop()
    # A labelled family with no series yet (no `busy` sent so far) has no samples: its
    # series' names follow from its type.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in suffixes.get(family.type, ("",))
    }
    for rule in rules:
        unknown = selected_metrics(rule["expr"]) - exported - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} reads {unknown}, which /metrics does not have"
    read = set().union(*(selected_metrics(rule["expr"]) for rule in rules))
    assert {"quiz_store_save_errors_total", "quiz_cluster_leases_lost_total", "up"} <= read
    assert "quiz_cluster_takeovers_total" in read  # rooms that keep moving, a dead node's included


def test_an_alert_rule_with_a_typo_is_caught():
    """The checks above can fail: a misspelt metric, and an expression that is not PromQL."""
    misspelt = "quiz_store_save_failure_total"
    assert selected_metrics(f"increase({misspelt}[5m]) > 0") == {misspelt}
    with pytest.raises(ValueError):
        selected_metrics("increase(quiz_store_save_failures_total[5m] > 0")


# ---------------------------------------------------------------- compose.yaml

SAMPLE_VARIABLES = {"POSTGRES_PASSWORD": "sample-password", "QUIZ_ADMIN_KEY": "sample-key"}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if operator == ":-":
            return rest
        raise AssertionError(f"{name} is required: {rest}")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, value)


def test_cluster_compose_file_runs_three_nodes_named_as_haproxy_knows_them():
    compose = yaml.safe_load((ROOT / "contrib" / "compose.cluster.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"node1", "node2", "node3", "haproxy", "postgres"}
    proxy_config = (ROOT / "contrib" / "haproxy.cfg").read_text()
    for name in ("node1", "node2", "node3"):
        environment = {
            k: interpolate(str(v), SAMPLE_VARIABLES) for k, v in services[name]["environment"].items()
        }
        settings = settings_from(environment)
        assert settings.cluster and settings.node_name == name
        assert urlsplit(settings.store).hostname == "postgres"
        # HAProxy's server of the same name, and the hint rule that routes to it.
        assert f"server {name} 127.0.0.1:808{name[-1]}" in proxy_config
        assert f"use-server {name} if {{ url_param(node) -m str {name} }}" in proxy_config
        assert f"s/127.0.0.1:808{name[-1]}/{name}:8080/" in services["haproxy"]["command"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The 503 page, where the config reads it.
    assert f"../deploy/quiz-503.http:{ERROR_PAGE_INSTALLED}:ro" in services["haproxy"]["volumes"]
    for line in (
        "balance url_param room",
        "hash-type consistent",
        "option httpchk GET /readyz",
        "on-marked-down shutdown-sessions",
        "option redispatch",
        "timeout tunnel",
    ):
        assert line in proxy_config, line


def test_compose_file_wires_the_server_to_postgresql_with_valid_settings():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"quiz", "postgres"}
    quiz, postgres = services["quiz"], services["postgres"]
    environment = {k: interpolate(str(v), SAMPLE_VARIABLES) for k, v in quiz["environment"].items()}
    settings = settings_from(environment)

    store = urlsplit(settings.store)
    pg_env = {k: interpolate(str(v), SAMPLE_VARIABLES) for k, v in postgres["environment"].items()}
    assert store.scheme == "postgresql" and store.hostname == "postgres"
    assert (store.username, store.password, store.path[1:]) == (
        pg_env["POSTGRES_USER"],
        pg_env["POSTGRES_PASSWORD"],
        pg_env["POSTGRES_DB"],
    )
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD is required"):
        interpolate(quiz["environment"]["QUIZ_STORE"], {})  # no default password
    assert quiz["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data" and volume[0] in compose["volumes"]

    assert quiz["build"] == "." and (ROOT / "Dockerfile").exists()
    assert any(port.endswith(f":{settings.port}") for port in quiz["ports"])
    assert quiz["ulimits"]["nofile"]["soft"] >= settings.max_connections + FDS_BESIDES_SOCKETS
    grace = int(quiz["stop_grace_period"].rstrip("s"))
    assert grace > settings.drain_grace_s + SHUTDOWN_TIMEOUT_S


# ---------------------------------------------------------------- systemd


def unit_pointing_at_this_install(tmp_path: Path) -> Path:
    """The unit as shipped, its commands pointing at this checkout's quiz-server."""
    text = (ROOT / "deploy" / "quiz-server.service").read_text()
    here = str(Path(sys.executable).parent / "quiz-server")
    unit = tmp_path / "quiz-server.service"
    unit.write_text(text.replace("/opt/quiz-actors/bin/quiz-server", here))
    return unit


def test_systemd_unit_verifies_clean(tmp_path):
    unit = unit_pointing_at_this_install(tmp_path)
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and (result.stdout + result.stderr).strip() == "", (
        result.stdout + result.stderr
    )


def test_systemd_unit_is_sandboxed(tmp_path):
    unit = unit_pointing_at_this_install(tmp_path)
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert exposure is not None, result.stdout + result.stderr
    assert float(exposure.group(1)) <= 2.0, result.stdout  # systemd calls up to 2.0 "OK"


def test_systemd_unit_settings_and_limits():
    lines = [line.strip() for line in (ROOT / "deploy" / "quiz-server.service").read_text().splitlines()]
    directives: dict[str, list[str]] = {}
    for line in lines:
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            directives.setdefault(key, []).append(value)
    environment = dict(
        item.split("=", 1) for value in directives["Environment"] for item in shlex.split(value)
    )
    settings = settings_from(environment)
    assert int(directives["LimitNOFILE"][0]) >= settings.max_connections + FDS_BESIDES_SOCKETS
    assert int(directives["TimeoutStopSec"][0]) > settings.drain_grace_s + SHUTDOWN_TIMEOUT_S
    assert directives["KillSignal"] == ["SIGTERM"]
    assert directives["User"] != ["root"]
    store_folder = os.path.dirname(urlsplit(settings.store).path[1:])
    assert store_folder == "/var/lib/" + directives["StateDirectory"][0]  # the one writable place


# ---------------------------------------------------------------- the reverse proxy


@pytest.fixture
def certificate(tmp_path):
    import trustme

    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    pem = tmp_path / "quiz.pem"
    pem.write_bytes(
        b"".join(blob.bytes() for blob in issued.cert_chain_pems) + issued.private_key_pem.bytes()
    )
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return pem, client


def proxy_config(tmp_path: Path, pem: Path, http_port: int, https_port: int, server_port: int) -> Path:
    text = (ROOT / "deploy" / "haproxy.cfg").read_text()
    replaced = (
        text.replace("bind :80\n", f"bind 127.0.0.1:{http_port}\n")
        .replace(
            "bind :443 ssl crt /etc/haproxy/certs/quiz.pem", f"bind 127.0.0.1:{https_port} ssl crt {pem}"
        )
        .replace("server quiz1 127.0.0.1:8080", f"server quiz1 127.0.0.1:{server_port}")
        .replace(f"errorfile 503 {ERROR_PAGE_INSTALLED}", f"errorfile 503 {ERROR_PAGE}")
    )
    assert replaced.count(str(pem)) == 1 and replaced.count(f":{server_port}") == 1
    assert replaced.count(str(ERROR_PAGE)) == 1
    assert "\n    fd-hard-limit 120000\n" in replaced  # as many as this machine's open-files limit allows
    config = tmp_path / "haproxy.cfg"
    config.write_text(replaced)
    return config


async def test_the_proxy_example_terminates_tls_and_upgrades_websockets(tmp_path, clock, certificate):
    haproxy = tool("haproxy")
    pem, client_tls = certificate
    settings = Settings(store=f"sqlite:///{tmp_path}/e.sqlite3", trusted_proxies="127.0.0.1/32")
    server = await RunningServer(settings, clock).start()
    http_port, https_port = free_port(), free_port()
    config = proxy_config(tmp_path, pem, http_port, https_port, server.port)
    checked = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proxy = subprocess.Popen(
        [haproxy, "-db", "-f", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    public = f"https://127.0.0.1:{https_port}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_tls)) as http:
            for _ in range(200):  # until HAProxy listens and has seen the server ready
                try:
                    async with http.get(public + "/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the proxy never served /readyz: {proxy.stderr.read1().decode()}")
            async with http.get(public + "/metrics") as response:
                assert response.status == 403  # kept inside
            async with http.get(f"http://127.0.0.1:{http_port}/", allow_redirects=False) as response:
                assert response.status == 301
                assert response.headers["Location"].startswith("https://")
            async with http.get(public + "/") as response:
                assert response.status == 200 and "Strict-Transport-Security" in response.headers
            # A page served over https opens its wss socket through the proxy: the
            # server believes the proxy's X-Forwarded-Proto, so the Origin matches.
            async with http.ws_connect(f"wss://127.0.0.1:{https_port}/ws", origin=public) as ws:
                await ws.send_json({"type": "hello", "token": None})
                welcome = await ws.receive_json(timeout=10)
                assert welcome["type"] == "welcome"
                await ws.send_json({"type": "ping", "t": 7})
                assert (await ws.receive_json(timeout=10)) == {"type": "pong", "t": 7}
            # The server goes (a restart): the teacher's page says so in plain words.
            await server.stop()
            await expect_the_page_that_says_back_in_a_moment(http, public + "/quizzes")
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        await server.stop()


async def expect_the_page_that_says_back_in_a_moment(http: aiohttp.ClientSession, url: str) -> None:
    """Once HAProxy has no server for ``url``: its 503 is our page, not HAProxy's own."""
    for _ in range(200):
        try:
            async with http.get(url) as response:
                status, headers, page = response.status, response.headers, await response.text()
        except aiohttp.ClientConnectorError:  # HAProxy is not listening yet
            await asyncio.sleep(0.05)
            continue
        if status == 503:
            assert headers["Content-Type"] == "text/html; charset=utf-8", headers
            assert headers["Retry-After"] == "5", headers
            assert "<h1>Back in a moment</h1>" in page and "restarting" in page, page
            assert "http-equiv=refresh content=5" in page and "Service Unavailable" not in page, page
            return
        assert status == 200, status  # still the server's own answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"HAProxy never answered 503 for {url}")


async def test_the_cluster_proxy_says_in_plain_words_that_no_node_can_answer(tmp_path, http):
    """contrib/haproxy.cfg with none of its nodes up (all restarting, or every /readyz
    failing while the database is down): a teacher's page gets words, not HAProxy's 503."""
    cluster = Cluster("postgresql://127.0.0.1/unused", log_dir=tmp_path)  # never started
    proxy = Proxy(cluster, tmp_path)
    proxy.start()
    try:
        base = f"http://127.0.0.1:{proxy.port}"
        await expect_the_page_that_says_back_in_a_moment(http, base + "/")
        await read_the_page_in_a_browser(base + "/quizzes")
    finally:
        proxy.stop()


async def read_the_page_in_a_browser(url: str) -> None:
    """On phones, a laptop and a projector: the words fit the screen, nothing scrolls sideways."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width, height in ((320, 640), (390, 844), (1280, 800), (1920, 1080)):
                context = await browser.new_context(viewport={"width": width, "height": height})
                page = await context.new_page()
                response = await page.goto(url)
                assert response is not None and response.status == 503
                heading = page.get_by_role("heading", name="Back in a moment")
                assert await heading.is_visible()
                box = await page.locator("body").bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
                assert await page.evaluate("document.documentElement.scrollWidth") <= width
                await screenshot(page, f"haproxy-back-in-a-moment-{width}")
                await context.close()
        finally:
            await browser.close()


async def test_forwarded_headers_count_only_from_trusted_proxies(tmp_path, clock):
    async def sockets_admitted(settings: Settings, forwarded_for: list[str]) -> list[int | str]:
        server = await RunningServer(settings, clock).start()
        statuses: list[int | str] = []
        try:
            async with aiohttp.ClientSession() as http:
                sockets = []
                for address in forwarded_for:
                    try:
                        ws = await http.ws_connect(
                            server.ws_url, headers={"X-Forwarded-For": f"10.9.9.9, {address}"}
                        )
                        sockets.append(ws)
                        statuses.append(101)
                    except aiohttp.WSServerHandshakeError as e:
                        statuses.append(e.status)
                    except aiohttp.ClientConnectionError:
                        statuses.append("closed at accept")
                for ws in sockets:
                    await ws.close()
        finally:
            await server.stop()
        return statuses

    store = f"sqlite:///{tmp_path}/e.sqlite3"
    trusted = Settings(store=store, max_connections_per_ip=1, trusted_proxies="127.0.0.0/8")
    # Behind the proxy, each player's own address counts (the last one: the proxy's entry).
    assert await sockets_admitted(trusted, ["203.0.113.1", "203.0.113.2", "203.0.113.1"]) == [101, 101, 503]
    untrusted = Settings(store=store, max_connections_per_ip=1, trusted_proxies="192.0.2.0/24")
    # Anyone else's X-Forwarded-For is ignored: both come from 127.0.0.1, whose second
    # connection is over the limit when it is accepted, before any request is read.
    assert await sockets_admitted(untrusted, ["203.0.113.1", "203.0.113.2"]) == [101, "closed at accept"]
