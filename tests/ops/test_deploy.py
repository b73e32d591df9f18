"""The recipes of docs/deploy.md, run: the systemd unit's command and stop signal, and nginx (Debian's) with TLS.

nginx terminates TLS on loopback for the reqlog API and for an instrumented app; the app trusts nginx
(`REQLOG_TRUSTED_PROXIES=127.0.0.1`) and sends its spans through nginx over HTTPS. A client connects
from another loopback address with a forged `X-Forwarded-For`, and the row must hold the real one.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hermetic import clean_environ
from tests.query_api.harness import TOKEN_LINE, Service

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
CLIENT_ADDRESS = "127.0.0.5"  # Linux routes all of 127/8 to loopback: a client that is not nginx
BOUND = 600  # polls of 50 ms


def _block(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", DEPLOY.read_text(), re.DOTALL)
    assert match is not None, f"docs/deploy.md lost its {language} block"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(BOUND):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            assert process.poll() is None, log.read_text() if log.exists() else "exited"
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


# -- systemd -----------------------------------------------------------------------------------


def _unit() -> dict[str, list[str]]:
    """The [Service] section of the documented unit: key -> values (Environment= repeats)."""
    section, entries = "", {}
    for line in _block("ini").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif "=" in line and section == "[Service]":
            key, value = line.split("=", 1)
            entries.setdefault(key, []).append(value)
    return entries


def test_the_systemd_unit_starts_and_stops_cleanly(tmp_path: Path) -> None:
    unit = _unit()
    assert unit["Restart"] == ["on-failure"] and unit["KillSignal"] == ["SIGTERM"]
    srv = tmp_path / "srv" / "reqlog"
    srv.mkdir(parents=True)
    env = dict(value.replace("/srv/reqlog", str(srv)).split("=", 1) for value in unit["Environment"])
    assert env["REQLOG_DB"].startswith(str(srv)) and unit["ReadWritePaths"] == ["/srv/reqlog"]
    env["REQLOG_PORT"] = str(_free_port())
    (command,) = unit["ExecStart"]
    assert command.split()[0] == "/opt/reqlog/.venv/bin/reqlog"
    argv = [sys.executable, "-m", "query_api.entry", *command.split()[1:]]
    log = tmp_path / "journal"
    with log.open("w") as journal:
        process = subprocess.Popen(argv, cwd=srv, stdout=journal, stderr=subprocess.STDOUT, env=clean_environ(env))
    try:
        for _ in range(BOUND):
            if "reqlog: ready: serving" in log.read_text():
                break
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        assert f"on http://127.0.0.1:{env['REQLOG_PORT']}" in log.read_text()
        process.send_signal(getattr(signal, unit["KillSignal"][0]))
        assert process.wait(timeout=float(unit["TimeoutStopSec"][0])) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "request-log store closed" in log.read_text() and "Traceback" not in log.read_text()
    assert Path(env["REQLOG_DB"]).exists()


# -- nginx -------------------------------------------------------------------------------------


@pytest.fixture
def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("nginx is not installed: `make test` installs Debian's (apt-get install nginx) when run as root")
    return found


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _nginx_config(tmp: Path, cert: Path, key: Path, ports: dict[str, int]) -> str:
    servers = _block("nginx")
    servers = servers.replace("listen 443 ssl;", f"listen 127.0.0.1:{ports['api_tls']} ssl;", 1)
    servers = servers.replace("listen 443 ssl;", f"listen 127.0.0.1:{ports['app_tls']} ssl;", 1)
    servers = servers.replace("/etc/ssl/reqlog/fullchain.pem", str(cert)).replace(
        "/etc/ssl/reqlog/privkey.pem", str(key)
    )
    servers = servers.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{ports['reqlog']}")
    servers = servers.replace("http://127.0.0.1:8001", f"http://127.0.0.1:{ports['app']}")
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\nmaster_process off;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
        f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n{temp}\n{servers}\n}}\n"
    )


APP = """
import sys, uvicorn, instrumentation
from examples.starlette_app import create_app
provider = instrumentation.configure(service_name="behind-nginx")
try:
    # No proxy headers in uvicorn: the client address is reqlog's to work out (trusted_proxies).
    uvicorn.run(create_app(provider), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", proxy_headers=False)
finally:
    provider.shutdown()
"""


@pytest.fixture
def stack(tmp_path: Path, nginx_binary: str) -> Iterator[dict[str, object]]:
    ports = {name: _free_port() for name in ("api_tls", "app_tls", "app")}
    cert, key = _certificate(tmp_path)
    service = Service(tmp_path / "data" / "reqlog.duckdb", tmp_path / "serve.log")
    ports["reqlog"] = service.port
    token = TOKEN_LINE.findall(service.stdout())[0]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        (tmp_path / "nginx.conf").write_text(_nginx_config(tmp_path, cert, key, ports))
        nginx_log = tmp_path / "nginx.out"
        with nginx_log.open("w") as out:
            command = [nginx_binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
            nginx = subprocess.Popen(
                [*command, "-c", str(tmp_path / "nginx.conf")], stdout=out, stderr=subprocess.STDOUT
            )
        processes.append(nginx)
        app_env = {
            "REQLOG_ENDPOINT": f"https://127.0.0.1:{ports['api_tls']}",
            "REQLOG_TOKEN": token,
            "REQLOG_TRUSTED_PROXIES": "127.0.0.1",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": str(cert),
        }
        environ = clean_environ(app_env)
        # requests prefers these to the exporter's own CA file (docs/deploy.md says so).
        environ.pop("REQUESTS_CA_BUNDLE", None)
        environ.pop("CURL_CA_BUNDLE", None)
        app_log = tmp_path / "app.log"
        with app_log.open("w") as out:
            app = subprocess.Popen(
                [sys.executable, "-c", APP, str(ports["app"])], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env=environ,
            )  # fmt: skip
        processes.insert(0, app)
        _wait_port(ports["app"], app, app_log)
        _wait_port(ports["app_tls"], nginx, tmp_path / "error.log")
        yield {"ports": ports, "cert": cert, "token": token, "app": app, "app_log": app_log}
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert service.stop(signal.SIGTERM) == 0


def _https(port: int, cert: Path, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(cert))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, source_address=(CLIENT_ADDRESS, 0))
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_nginx_with_tls_records_the_real_client_address(stack: dict[str, object]) -> None:
    ports, cert, token = stack["ports"], stack["cert"], stack["token"]
    assert isinstance(ports, dict) and isinstance(cert, Path) and isinstance(token, str)
    forged = {"X-Forwarded-For": "203.0.113.9", "User-Agent": "deploy-test"}
    status, body = _https(ports["app_tls"], cert, "/", forged)
    assert status == 200 and json.loads(body) == {"hello": "world"}
    app = stack["app"]
    assert isinstance(app, subprocess.Popen)
    app.send_signal(signal.SIGTERM)  # uvicorn stops; the provider flushes its batch through nginx, over TLS
    app.wait(timeout=60)  # uvicorn ends by raising the SIGTERM it caught again: the status is -15
    assert "Traceback" not in Path(str(stack["app_log"])).read_text()

    auth = {"Authorization": f"Token {token}"}
    status, body = _https(ports["api_tls"], cert, "/api/metrics/request_logs?service_name=behind-nginx", auth)
    assert status == 200, body
    rows = [row for row in json.loads(body)["results"] if row["service_name"] == "behind-nginx"]
    assert len(rows) == 1, rows
    (row,) = rows
    assert row["ip"] == CLIENT_ADDRESS  # not nginx's 127.0.0.1, not the forged 203.0.113.9
    assert row["endpoint"] == "/" and row["status_code"] == 200
    assert row["request_headers"]["X-Forwarded-Proto"] == "https"
    assert row["request_headers"]["X-Forwarded-For"] == CLIENT_ADDRESS  # nginx overwrote the forged one
