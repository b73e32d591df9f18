"""Django + DRF under WSGI, one process, beside its peers: what each adds to a request.

Variants, each in its own process (Django is configured once per process), interleaved in rounds in
a shuffled order; each figure is the median of the rounds:

- `bare`: the DRF app alone;
- `reqlog`: `RequestLogWSGIMiddleware` plus `RequestLogDjangoMiddleware` (user and route);
- `otel`: stock `opentelemetry-instrumentation-django` with `.*` request and response header capture;
- `drf_api_logger`: drf-api-logger with its defaults plus database logging (its background writes);
- `silk`: django-silk with its defaults.

Stock OTel's Django and Flask instrumentations pin older OpenTelemetry packages than reqlog needs,
so their variants run in a separate environment, `.venv-peers` (`make bench` builds it). Both
OTel variants end in the same BatchSpanProcessor and a null exporter, so the figure is the
request-path cost. The request: an authenticated (DRF token) JSON POST that a serializer validates,
answered 201. Then the same for Flask: bare, reqlog, stock `opentelemetry-instrumentation-flask`.

`python -m bench django`; REQLOG_BENCH_QUICK=1 for a smoke run.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import QUICK, median, report

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"

DJANGO_VARIANTS = ("bare", "reqlog", "otel", "drf_api_logger", "silk")
FLASK_VARIANTS = ("bare", "reqlog", "otel")
ROUNDS = 3 if QUICK else 7
REQUESTS = 200 if QUICK else 1500
TOKEN = "0123456789abcdef0123456789abcdef01234567"
BODY = json.dumps({"item": "tea", "quantity": 2, "note": "x" * 200}).encode()


def _environ(path: str, headers: dict[str, str]) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "page=1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
        "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(BODY),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def _drive(app: Callable[..., Any], path: str, headers: dict[str, str], expect: int, count: int) -> float:
    """Microseconds per request, as a sync WSGI server drives the app (call, iterate, close)."""
    statuses: list[str] = []

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    def one() -> None:
        result = app(_environ(path, headers), start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()

    for _ in range(50):
        one()
    assert statuses[-1].startswith(str(expect)), statuses[-1]
    start = time.perf_counter()
    for _ in range(count):
        one()
    return (time.perf_counter() - start) / count * 1e6


def _provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Null(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Null()))
    return provider


def _django(variant: str, count: int) -> float:
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"] = ".*"
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"] = ".*"
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions", "rest_framework"]
    apps.append("rest_framework.authtoken")
    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    extra: dict[str, Any] = {}
    if variant == "reqlog":
        middleware.append("instrumentation.django_hooks.RequestLogDjangoMiddleware")
    elif variant == "drf_api_logger":
        apps.append("drf_api_logger")
        middleware.append("drf_api_logger.middleware.api_logger_middleware.APILoggerMiddleware")
        extra["DRF_API_LOGGER_DATABASE"] = True
    elif variant == "silk":
        apps.append("silk")
        middleware.insert(0, "silk.middleware.SilkyMiddleware")
    database = tempfile.mkdtemp() + "/db.sqlite3"
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret-long-enough-for-anything",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="examples.django_drf.urls",
        INSTALLED_APPS=apps,
        MIDDLEWARE=middleware,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        },
        USE_TZ=True,
        LOGGING_CONFIG=None,
        **extra,
    )
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0, interactive=False)
    Token.objects.create(key=TOKEN, user=User.objects.create(username="ada", first_name="Ada"))
    if variant == "otel":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument(tracer_provider=_provider())
    app: Any = get_wsgi_application()
    if variant == "reqlog":
        from instrumentation import RequestLogWSGIMiddleware

        app = RequestLogWSGIMiddleware(app, tracer_provider=_provider())
    return _drive(app, "/api/orders/", {"Authorization": f"Token {TOKEN}"}, 201, count)


def _flask(variant: str, count: int) -> float:
    import flask

    app = flask.Flask("bench")

    @app.post("/orders/<int:shop>")
    def orders(shop: int) -> Any:
        data = flask.request.get_json()
        return {"shop": shop, "ordered": data}, 201

    if variant == "otel":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(app, tracer_provider=_provider())
    elif variant == "reqlog":
        from instrumentation import RequestLogWSGIMiddleware

        app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app, tracer_provider=_provider())  # type: ignore[method-assign]
    return _drive(app, "/orders/3", {}, 201, count)


def _table(framework: str, variants: tuple[str, ...]) -> dict[str, float]:
    runs: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(ROUNDS):
        order = list(variants)
        random.shuffle(order)
        for variant in order:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("REQLOG_", "OTEL_"))}
            python = str(PEERS_PYTHON) if variant == "otel" else sys.executable
            env["PYTHONPATH"] = str(ROOT)  # the peers' environment does not have reqlog installed
            out = subprocess.run(
                [python, "-m", "bench.django", framework, variant, str(REQUESTS)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[variant].append(float(out.split()[-1]))
    return {variant: median(values) for variant, values in runs.items()}


def main() -> None:
    if len(sys.argv) == 4:  # one variant, in its own process
        framework, variant, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
        print((_django if framework == "django" else _flask)(variant, count))
        return
    if not PEERS_PYTHON.exists():
        print(f"{PEERS_PYTHON} is missing: `make bench` builds it", file=sys.stderr)
        raise SystemExit(1)
    goals = []
    for framework, variants in (("django", DJANGO_VARIANTS), ("flask", FLASK_VARIANTS)):
        per_request = _table(framework, variants)
        bare = per_request["bare"]
        otel_added = per_request["otel"] - bare
        rows = [
            {
                "variant": variant,
                "us/request": round(value, 1),
                "added us": round(value - bare, 1),
                "added / otel's": round((value - bare) / otel_added, 2) if variant != "bare" else None,
            }
            for variant, value in per_request.items()
        ]
        report(f"{framework}_wsgi", rows)
        reqlog_added = per_request["reqlog"] - bare
        peers = [per_request[v] - bare for v in variants if v not in ("bare", "reqlog")]
        goals.append(
            {
                "goal": f"{framework}: reqlog's added cost / stock OTel's",
                "value": round(reqlog_added / otel_added, 2),
                "target": "<= 0.35" if framework == "django" else "lowest",
                "ok": reqlog_added <= 0.35 * otel_added if framework == "django" else reqlog_added < min(peers),
            }
        )
        goals.append(
            {
                "goal": f"{framework}: reqlog adds less than every peer",
                "value": round(reqlog_added, 1),
                "target": f"< {round(min(peers), 1)}",
                "ok": reqlog_added < min(peers),
            }
        )
    report("django_peers", [], goals=goals)


if __name__ == "__main__":
    main()
