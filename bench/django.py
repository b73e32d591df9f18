"""Django + DRF under WSGI, one process, beside its peers: what each adds to a request.

Each variant runs in its own process (Django is configured once per process, and stock OTel needs
other packages), which builds two handlers from the same settings, the bare app and the app with
the variant, and times them in alternating blocks: the machine's noise hits both alike, and the
variant's added cost is the difference of their medians. Rounds repeat this in a shuffled order
and the figure is the median over rounds. Variants:

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
ROUNDS = 2 if QUICK else 5
REQUESTS = 200 if QUICK else 1000
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


def _runner(app: Callable[..., Any], path: str, headers: dict[str, str], expect: int) -> Callable[[], None]:
    """One request as a sync WSGI server makes it (call, iterate, close); checked, then warmed up."""
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

    for _ in range(30):
        one()
    assert statuses[-1].startswith(str(expect)), statuses[-1]
    return one


def _alternate(bare: Callable[[], None], variant: Callable[[], None], count: int) -> tuple[float, float]:
    """Microseconds per request of each, timed in alternating blocks of 25; the blocks' medians."""
    times: dict[int, list[float]] = {0: [], 1: []}
    block = 25
    for index in range(max(2, count // block) * 2):
        run = (bare, variant)[index % 2]
        start = time.perf_counter()
        for _ in range(block):
            run()
        times[index % 2].append((time.perf_counter() - start) / block * 1e6)
    return median(times[0]), median(times[1])


def _provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Null(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Null()))
    return provider


def _django(variant: str, count: int) -> tuple[float, float]:
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
    if variant == "drf_api_logger":
        apps.append("drf_api_logger")
        extra["DRF_API_LOGGER_DATABASE"] = True
    elif variant == "silk":
        apps.append("silk")
    database = tempfile.mkdtemp() + "/db.sqlite3"
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret-long-enough-for-anything",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="examples.django_drf.urls",
        INSTALLED_APPS=apps,
        MIDDLEWARE=list(middleware),
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
    headers = {"Authorization": f"Token {TOKEN}"}
    bare = _runner(get_wsgi_application(), "/api/orders/", headers, 201)
    # A handler reads MIDDLEWARE when it is built: the second one gets the variant's.
    if variant == "otel":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument(tracer_provider=_provider())
    elif variant == "reqlog":
        settings.MIDDLEWARE = [*middleware, "instrumentation.django_hooks.RequestLogDjangoMiddleware"]
    elif variant == "drf_api_logger":
        settings.MIDDLEWARE = [*middleware, "drf_api_logger.middleware.api_logger_middleware.APILoggerMiddleware"]
    elif variant == "silk":
        settings.MIDDLEWARE = ["silk.middleware.SilkyMiddleware", *middleware]
    app: Any = get_wsgi_application()
    if variant == "reqlog":
        from instrumentation import RequestLogWSGIMiddleware

        app = RequestLogWSGIMiddleware(app, tracer_provider=_provider())
    return _alternate(bare, _runner(app, "/api/orders/", headers, 201), count)


def _flask(variant: str, count: int) -> tuple[float, float]:
    import flask

    def build() -> flask.Flask:
        app = flask.Flask("bench")

        @app.post("/orders/<int:shop>")
        def orders(shop: int) -> Any:
            data = flask.request.get_json()
            return {"shop": shop, "ordered": data}, 201

        return app

    bare = _runner(build(), "/orders/3", {}, 201)
    app = build()

    if variant == "otel":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(app, tracer_provider=_provider())
    elif variant == "reqlog":
        from instrumentation import RequestLogWSGIMiddleware

        app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app, tracer_provider=_provider())  # type: ignore[method-assign]
    return _alternate(bare, _runner(app, "/orders/3", {}, 201), count)


def _table(framework: str, variants: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """The bare request's cost and each variant's added cost, medians over rounds, in microseconds."""
    bare: list[float] = []
    added: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(ROUNDS):
        order = list(variants)
        random.shuffle(order)
        for variant in order:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("REQLOG_", "OTEL_"))}
            python = str(PEERS_PYTHON) if variant == "otel" else sys.executable
            env["PYTHONPATH"] = str(ROOT)  # the peers' environment does not have reqlog installed
            count = REQUESTS // 10 if variant == "silk" else REQUESTS  # silk costs ~10x a request
            out = subprocess.run(
                [python, "-m", "bench.django", framework, variant, str(count)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            bare.append(float(out[-2]))
            added[variant].append(float(out[-1]) - float(out[-2]))
    return median(bare), {variant: median(values) for variant, values in added.items()}


def main() -> None:
    if len(sys.argv) == 4:  # one variant, in its own process
        framework, variant, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
        bare_us, variant_us = (_django if framework == "django" else _flask)(variant, count)
        print(bare_us, variant_us)
        return
    if not PEERS_PYTHON.exists():
        print(f"{PEERS_PYTHON} is missing: `make bench` builds it", file=sys.stderr)
        raise SystemExit(1)
    goals = []
    for framework, variants in (("django", DJANGO_VARIANTS[1:]), ("flask", FLASK_VARIANTS[1:])):
        bare, added = _table(framework, variants)
        otel = added["otel"]
        rows = [{"variant": "bare", "us/request": round(bare, 1), "added us": 0.0, "added / otel's": None}]
        rows += [
            {
                "variant": variant,
                "us/request": round(bare + cost, 1),
                "added us": round(cost, 1),
                "added / otel's": round(cost / otel, 2),
            }
            for variant, cost in added.items()
        ]
        report(f"{framework}_wsgi", rows)
        peers = [cost for variant, cost in added.items() if variant != "reqlog"]
        goals.append(
            {
                "goal": f"{framework}: reqlog's added cost / stock OTel's",
                "value": round(added["reqlog"] / otel, 2),
                "target": "<= 0.35" if framework == "django" else "< 1",
                "ok": added["reqlog"] <= (0.35 if framework == "django" else 1.0) * otel,
            }
        )
        goals.append(
            {
                "goal": f"{framework}: reqlog adds less than every peer",
                "value": round(added["reqlog"], 1),
                "target": f"< {round(min(peers), 1)}",
                "ok": added["reqlog"] < min(peers),
            }
        )
    report("django_peers", [], goals=goals)


if __name__ == "__main__":
    main()
