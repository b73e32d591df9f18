"""The two installs, each in a fresh virtual environment: `reqlog` for apps, `reqlog[server]` for the service.

The wheel is built once from this checkout and installed with pip (from its cache when warm). The app
install has no DuckDB, pyarrow or aiohttp; an instrumented WSGI app in it sends a span over OTLP to a
`reqlog serve` of the server install, and the row is read back through the API. `reqlog` in the app
install says in one line what to install. Both installs' sizes are printed (`pytest -s`) for docs/deploy.md.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.hermetic import clean_environ

ROOT = Path(__file__).resolve().parents[2]
APP = """
import importlib.util, sys, wsgiref.util
import instrumentation
missing = [name for name in ("duckdb", "pyarrow", "aiohttp") if importlib.util.find_spec(name) is not None]
assert not missing, f"the app install pulled in {missing}"
provider = instrumentation.configure(endpoint=sys.argv[1], token=sys.argv[2], service_name="light-app",
                                     set_global=False, check_connection=False)
def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from a light install"]
app = instrumentation.RequestLogWSGIMiddleware(hello, tracer_provider=provider)
environ = {"PATH_INFO": "/light/hello", "REQUEST_METHOD": "GET"}
wsgiref.util.setup_testing_defaults(environ)
start = lambda status, headers, exc_info=None: None
answer = app(environ, start)
assert b"".join(answer) == b"hello from a light install"
answer.close()  # as a WSGI server does: the span ends here
provider.shutdown()  # flushes the batch to the service
print("sent")
"""


def _run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=clean_environ())
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _venv(path: Path, requirement: str) -> Path:
    _run(sys.executable, "-m", "venv", "--without-pip", path)
    python = path / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", requirement)
    return python


def _size(venv: Path) -> int:
    return sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, ROOT)
    (built,) = out.glob("reqlog-*.whl")
    return built


def test_the_app_install_sends_to_the_server_install(wheel: Path, tmp_path: Path) -> None:
    light = _venv(tmp_path / "light", str(wheel))
    server = _venv(tmp_path / "server", f"{wheel}[server]")
    print(f"\ninstall sizes: reqlog {_size(tmp_path / 'light') / 2**20:.1f} MiB, "
          f"reqlog[server] {_size(tmp_path / 'server') / 2**20:.1f} MiB")  # fmt: skip

    refused = subprocess.run([light.parent / "reqlog", "serve"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "pip install 'reqlog[server]'" in refused.stderr, refused.stderr

    db, out, err = tmp_path / "data" / "reqlog.duckdb", tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        service = subprocess.Popen(
            [server.parent / "reqlog", "serve", "--db", db, "--port", "0"],
            stdout=stdout,
            stderr=stderr,
            env=clean_environ(),
        )
    try:
        url = _wait_for_url(service, err)
        token = re.findall(r"^\s+([0-9a-f]{40})$", out.read_text(), re.MULTILINE)[0]
        assert _run(light, "-c", APP, url, token).stdout.strip() == "sent"
        request = urllib.request.Request(f"{url}/api/metrics/request_logs", headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            rows = json.loads(response.read())["results"]
        assert [(row["endpoint"], row["service_name"], row["status_code"]) for row in rows] == [
            ("/light/hello", "light-app", 200)
        ]
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=60) == 0


def _wait_for_url(service: subprocess.Popen[bytes], err: Path) -> str:
    """The URL of the ready line `reqlog serve` logs once it takes requests (a bounded wait)."""
    for _ in range(2400):  # 50 ms each; the process ending stops it sooner
        match = re.search(r"ready: serving .* on (http://\S+)", err.read_text())
        if match:
            return match.group(1)
        assert service.poll() is None, err.read_text()
        time.sleep(0.05)
    raise AssertionError("reqlog serve did not become ready")
