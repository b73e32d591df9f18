"""Django + DRF under WSGI, one process, beside its peers: what each adds to a request.

Each variant runs in its own process (Django is configured once per process, and stock OTel needs
other packages), which builds two handlers from the same settings, the bare app and the app with
the variant, and times them in alternating blocks: the machine's noise hits both alike, and the
variant's added cost is the difference of their medians. Rounds repeat this in a shuffled order
and the figure is the median over rounds. Variants:

- `bare`: the DRF app alone;
- `reqlog`: `RequestLogWSGIMiddleware` plus `RequestLogDjangoMiddleware` (user and route);
- `otel`: stock `opentelemetry-instrumentation-django` with `.*` request and response header capture
  (as reqlog captures every header; the same for Flask's);
- `drf_api_logger`: drf-api-logger with its defaults plus database logging (its background writes);
- `silk`: django-silk with its defaults.

Stock OTel's Django and Flask instrumentations pin older OpenTelemetry packages than reqlog needs,
so their variants run in a separate environment, `.venv-peers` (`make bench` builds it). Both
OTel variants end in the same TracerProvider (default limits), BatchSpanProcessor and an exporter
that only counts, so the figure is the request-path cost. The request: an authenticated (DRF
token) JSON POST that a serializer validates, answered 201. Then the same for Flask: bare, reqlog,
stock `opentelemetry-instrumentation-flask`.

The cost is CPU time of the whole process (`time.process_time`: the request thread plus the span
processor's and drf-api-logger's background threads), since on a shared machine wall time mostly
measures other processes; the wall-clock figure is reported beside it. Each block of the variant is
paired with the bare block before it and the added cost is the median of those differences, so a
load that drifts over seconds cancels. Every variant is checked to have done its work: each
request's span exported, or the peer's rows in its database, and what the last request left there
(headers, bodies, user, ...) is listed as what that variant captures.

The cyclic GC's young collections are timed per block too ("added young-GC us": the variant's
time per request in collections of the two young generations, minus the bare app's, in the same
process). Full collections are not timed per block: one takes ~45 ms of this Django heap and lands
in whichever block crosses the threshold, whoever filled it. What fills it is counted instead
(`gc_footprint.py`, untimed, after the timed rounds): the GC-tracked objects a request leaves
allocated, those it moves into the oldest generation (whose count triggers full collections), and
those only the cyclic GC frees (reference cycles), each as the variant's excess over the bare app.

`python -m bench django`; REQLOG_BENCH_QUICK=1 for a smoke run. Instruction counts, which a shared
machine's load does not move: `python -m bench.django count django VARIANT N` builds the same
process (the variant's group, each app warmed up) and then serves N requests of that variant only
(`bare` too); run it under `valgrind --tool=cachegrind --cache-sim=yes` with PYTHONHASHSEED=0 for
N=0 and N=400, and the difference over 400 is the variant's count per request
(docs/instrumentation.md, "Cost").
"""

from __future__ import annotations

import gc
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
from .gc_footprint import footprint

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"

# The variants timed together in one process each: reqlog and stock OTel share one (the peers'
# environment, whose SDK both then use); drf-api-logger and silk need their own settings.
PROCESSES = {
    "django": (("reqlog", "otel"), ("drf_api_logger",), ("silk",)),
    "flask": (("reqlog", "otel"),),
}
ROUNDS = 2 if QUICK else 5
REQUESTS = 200 if QUICK else 1000
_WARM_UP = 30  # requests through each app before timing
_BLOCK = 25  # requests per timed block
_GC_REQUESTS = (50, 200) if QUICK else (100, 1000)  # per variant, for the GC counts (gc_footprint.py)
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

    for _ in range(_WARM_UP):
        one()
    assert statuses[-1].startswith(str(expect)), statuses[-1]
    return one


def _through_variant(count: int) -> int:
    """Requests each variant's app served: its warm-up and its timed blocks."""
    return _WARM_UP + max(2, count // _BLOCK) * _BLOCK


def _interleave(runners: dict[str, Callable[[], None]], count: int) -> dict[str, Any]:
    """Microseconds per request, timed in blocks of 25 that take turns (`bare` first in `runners`).

    One turn is a block of each app, in an order that rotates from turn to turn; a variant's added
    cost is the median over turns of (its block - the bare block of the same turn), CPU and wall.
    The cyclic GC's collections and their CPU time are charged to the block they ran in (all
    variants share one heap, so a collection may also sweep another variant's garbage). Only the
    young generations' time is summed: a full collection (~45 ms of a Django heap, one every ~1,500
    requests of this app) is counted, not timed, since where it lands says nothing about who caused
    it (`gc_footprint` counts what does).
    """
    names = list(runners)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    gc_seconds = dict.fromkeys(names, 0.0)
    collections = {name: [0, 0, 0] for name in names}
    running = {"name": names[0], "start": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            running["start"] = time.process_time()
        else:
            if info["generation"] < 2:
                gc_seconds[str(running["name"])] += time.process_time() - float(running["start"])
            collections[str(running["name"])][info["generation"]] += 1

    turns = max(2, count // _BLOCK)
    gc.callbacks.append(on_gc)
    try:
        for turn in range(turns):
            shift = turn % len(names)
            for name in names[shift:] + names[:shift]:
                run = runners[name]
                running["name"] = name
                cpu_start, wall_start = time.process_time(), time.perf_counter()
                for _ in range(_BLOCK):
                    run()
                cpu[name].append((time.process_time() - cpu_start) / _BLOCK * 1e6)
                wall[name].append((time.perf_counter() - wall_start) / _BLOCK * 1e6)
    finally:
        gc.callbacks.remove(on_gc)

    def added(times: dict[str, list[float]], name: str) -> float:
        return median([v - b for b, v in zip(times["bare"], times[name], strict=True)])

    served = turns * _BLOCK
    gc_cost = {
        name: {
            "gc_us": gc_seconds[name] / served * 1e6,
            "collections_per_1000": [round(n * 1000 / served, 1) for n in collections[name]],
        }
        for name in names
    }
    return {
        "bare": median(cpu["bare"]),
        "bare_wall": median(wall["bare"]),
        "bare_gc": gc_cost["bare"],
        "variants": {
            name: {"added": added(cpu, name), "added_wall": added(wall, name), **gc_cost[name]} for name in names[1:]
        },
    }


_ONLY: str | None = None  # `count` mode: the one variant whose requests are served


def _measure(runners: dict[str, Callable[[], None]], count: int, spans: dict[str, _Spans]) -> dict[str, Any]:
    """The timed rounds, then the GC counts (untimed); in `count` mode, `count` requests of one
    variant, then exit (for valgrind)."""
    if _ONLY is None:
        result = _interleave(runners, count)

        def flush() -> None:
            for each in spans.values():
                each.provider.force_flush()

        result["gc_counts"] = footprint(runners, flush, *_GC_REQUESTS)
        return result
    run = runners[_ONLY]
    for _ in range(count):
        run()
    raise SystemExit(0)


class _Spans:
    """Behind a BatchSpanProcessor: counts the spans exported and keeps the last one's attributes."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        self.count = 0
        self.last: dict[str, Any] = {}
        spans = self

        class Counting(SpanExporter):
            def export(self, batch: Any) -> SpanExportResult:
                spans.count += len(batch)
                spans.last = dict(batch[-1].attributes or {})
                return SpanExportResult.SUCCESS

        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(Counting()))

    def captures(self, requests: int) -> list[str]:
        """What the last request's span holds; every request must have given a span."""
        self.provider.force_flush()
        assert self.count >= requests, f"{self.count} spans exported for {requests} requests"
        keys = list(self.last)
        found = [field for field, names in _SPAN_FIELDS.items() if any(key.startswith(names) for key in keys)]
        if "query" not in found and "?" in str(self.last.get("http.target", "")):
            found.append("query")
        return [*found, "duration"]


# What a request log holds, by the span attributes that carry it (stable and older OTel names).
_SPAN_FIELDS = {
    "method, path": ("http.request.method", "http.method"),
    "query": ("url.query",),
    "status": ("http.response.status_code", "http.status_code"),
    "route": ("http.route",),
    "request headers": ("http.request.header.",),
    "response headers": ("http.response.header.",),
    "request body": ("http.request.body.content",),
    "response body": ("http.response.body.content",),
    "user": ("user.id", "user.name", "enduser.id"),
    "client address": ("client.address", "net.peer.ip", "http.client_ip"),
    "user agent": ("user_agent.original", "http.user_agent"),
}


def _peer_captures(variant: str) -> list[str]:
    """What a logging peer stored for the last request, read back from its own tables."""
    if variant == "drf_api_logger":
        from drf_api_logger.models import APILogsModel

        deadline = time.monotonic() + 15  # its thread writes in batches of 50, or every 10 s
        while (row := APILogsModel.objects.order_by("-id").first()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert row is not None, "drf-api-logger stored nothing"
        fields = {
            "method, path": bool(row.api and row.method),
            "query": "?" in row.api,
            "status": bool(row.status_code),
            "request headers": bool(row.headers),
            "request body": bool(row.body),
            "response body": bool(row.response),
            "client address": bool(row.client_ip_address),
            "user agent": "USER_AGENT" in row.headers,
            "duration": row.execution_time is not None,
        }
    else:
        from silk.models import Request

        request = Request.objects.order_by("-start_time").first()
        assert request is not None, "silk stored nothing"
        response = request.response
        fields = {
            "method, path": bool(request.path and request.method),
            "query": bool(request.query_params),
            "status": bool(response.status_code),
            "request headers": bool(request.encoded_headers),
            "response headers": bool(response.encoded_headers),
            "request body": bool(request.body or request.raw_body),
            "response body": bool(response.body or response.raw_body),
            "user agent": "user-agent" in request.encoded_headers.lower(),
            "duration": request.time_taken is not None,
            "SQL": request.queries.exists(),
        }
    return [field for field, present in fields.items() if present]


def _capture_every_header() -> None:
    """Stock OTel captures headers only when asked: ask for all of them, as reqlog captures them."""
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"] = ".*"
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"] = ".*"


def _django(variants: list[str], count: int) -> dict[str, Any]:
    """The bare app and each variant, in this process; the variants need the same settings."""
    _capture_every_header()
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions", "rest_framework"]
    apps.append("rest_framework.authtoken")
    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    extra: dict[str, Any] = {}
    if "drf_api_logger" in variants:
        apps.append("drf_api_logger")
        extra["DRF_API_LOGGER_DATABASE"] = True
    if "silk" in variants:
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
    runners = {"bare": _runner(get_wsgi_application(), "/api/orders/", headers, 201)}
    spans: dict[str, _Spans] = {}
    # A handler reads MIDDLEWARE when it is built: each variant's is built with its own list.
    for variant in variants:
        settings.MIDDLEWARE = list(middleware)
        if variant == "otel":
            from opentelemetry.instrumentation.django import DjangoInstrumentor

            spans[variant] = _Spans()
            DjangoInstrumentor().instrument(tracer_provider=spans[variant].provider)  # adds its middleware
        elif variant == "reqlog":
            settings.MIDDLEWARE += ["instrumentation.django_hooks.RequestLogDjangoMiddleware"]
        elif variant == "drf_api_logger":
            settings.MIDDLEWARE += ["drf_api_logger.middleware.api_logger_middleware.APILoggerMiddleware"]
        elif variant == "silk":
            settings.MIDDLEWARE = ["silk.middleware.SilkyMiddleware", *middleware]
        app: Any = get_wsgi_application()
        if variant == "reqlog":
            from instrumentation import RequestLogWSGIMiddleware

            spans[variant] = _Spans()
            app = RequestLogWSGIMiddleware(app, tracer_provider=spans[variant].provider)
        runners[variant] = _runner(app, "/api/orders/", headers, 201)
    result = _measure(runners, count, spans)
    for variant, measured in result["variants"].items():
        if variant in spans:
            measured["captures"] = spans[variant].captures(_through_variant(count))
        else:
            measured["captures"] = _peer_captures(variant)
    return result


def _flask(variants: list[str], count: int) -> dict[str, Any]:
    _capture_every_header()
    import flask

    def build() -> flask.Flask:
        app = flask.Flask("bench")

        @app.post("/orders/<int:shop>")
        def orders(shop: int) -> Any:
            data = flask.request.get_json()
            return {"shop": shop, "ordered": data}, 201

        return app

    runners = {"bare": _runner(build(), "/orders/3", {}, 201)}
    spans: dict[str, _Spans] = {}
    for variant in variants:
        app = build()
        spans[variant] = _Spans()
        if variant == "otel":
            from opentelemetry.instrumentation.flask import FlaskInstrumentor

            FlaskInstrumentor().instrument_app(app, tracer_provider=spans[variant].provider)
        elif variant == "reqlog":
            from instrumentation import RequestLogWSGIMiddleware

            app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app, tracer_provider=spans[variant].provider)  # type: ignore[method-assign]
        runners[variant] = _runner(app, "/orders/3", {}, 201)
    result = _measure(runners, count, spans)
    for variant, measured in result["variants"].items():
        measured["captures"] = spans[variant].captures(_through_variant(count))
    return result


def _table(framework: str) -> tuple[float, dict[str, dict[str, Any]], list[float]]:
    """The bare request's CPU cost, each variant's added cost (CPU and wall) as medians over rounds,
    and each round's ratio of reqlog's added CPU cost to stock OTel's (timed in the same process)."""
    groups = PROCESSES[framework]
    bare: list[float] = []
    added: dict[str, dict[str, list[float]]] = {}
    captures: dict[str, list[str]] = {}
    cyclic: dict[str, list[str]] = {}  # the last round's: what only the cyclic GC freed, per request
    bare_gc: list[dict[str, Any]] = []
    ratios: list[float] = []
    for _ in range(ROUNDS):
        order = list(groups)
        random.shuffle(order)
        for group in order:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("REQLOG_", "OTEL_"))}
            python = str(PEERS_PYTHON) if "otel" in group else sys.executable
            env["PYTHONPATH"] = str(ROOT)  # the peers' environment does not have reqlog installed
            count = REQUESTS // 10 if "silk" in group else REQUESTS  # silk costs ~10x a request
            out = subprocess.run(
                [python, "-m", "bench.django", framework, ",".join(group), str(count)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
            result = json.loads(out[-1])
            bare.append(result["bare"])
            for variant, measured in result["variants"].items():
                added.setdefault(variant, {"cpu": [], "wall": [], "gc": [], "tracked": [], "promoted": []})
                added[variant]["cpu"].append(measured["added"])
                added[variant]["wall"].append(measured["added_wall"])
                added[variant]["gc"].append(measured["gc_us"] - result["bare_gc"]["gc_us"])
                counts, bare_counts = result["gc_counts"][variant], result["gc_counts"]["bare"]
                for key in ("tracked", "promoted"):
                    added[variant][key].append(counts[f"{key}_per_request"] - bare_counts[f"{key}_per_request"])
                cyclic[variant] = [
                    f"{kind} {count - bare_counts['cyclic_types'].get(kind, 0):+g}"
                    for kind, count in counts["cyclic_types"].items()
                    if abs(count - bare_counts["cyclic_types"].get(kind, 0)) >= 0.05
                ] or ["none"]
                captures[variant] = measured["captures"]
            bare_gc.append(result["gc_counts"]["bare"])
            if "otel" in group:
                ratios.append(result["variants"]["reqlog"]["added"] / result["variants"]["otel"]["added"])
    summary = {
        variant: {
            "cpu": median(v["cpu"]),
            "wall": median(v["wall"]),
            "gc": median(v["gc"]),
            "tracked": median(v["tracked"]),
            "promoted": median(v["promoted"]),
            "captures": captures[variant],
        }
        for variant, v in added.items()
    }
    summary["bare"] = {
        "tracked": median([counts["tracked_per_request"] for counts in bare_gc]),
        "promoted": median([counts["promoted_per_request"] for counts in bare_gc]),
        "cyclic": bare_gc[-1]["cyclic_per_request"],
    }
    for variant, kinds in cyclic.items():
        summary[variant]["cyclic_types"] = kinds
    return median(bare), summary, ratios


def main() -> None:
    global _ONLY
    if len(sys.argv) == 5 and sys.argv[1] == "count":  # count FRAMEWORK VARIANT N: see the module's doc
        framework, _ONLY, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        group = next(g for g in PROCESSES[framework] if _ONLY in g) if _ONLY != "bare" else PROCESSES[framework][0]
        (_django if framework == "django" else _flask)(list(group), count)
        return
    if len(sys.argv) == 4:  # one group of variants, in its own process
        framework, variants, count = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
        print(json.dumps((_django if framework == "django" else _flask)(variants, count)))
        return
    if not PEERS_PYTHON.exists():
        print(f"{PEERS_PYTHON} is missing: `make bench` builds it", file=sys.stderr)
        raise SystemExit(1)
    goals = []
    print("load average at start (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for framework in PROCESSES:
        bare, added, ratios = _table(framework)
        bare_counts = added.pop("bare")
        otel = added["otel"]["cpu"]
        rows: list[dict[str, Any]] = [
            {
                "variant": "bare",
                "CPU us": round(bare, 1),
                "added CPU us": 0.0,
                "added / otel's": None,
                "added wall us": 0.0,
                "added young-GC us": 0.0,
                "GC-tracked left": bare_counts["tracked"],
                "to oldest gen": bare_counts["promoted"],
                "captures": None,
            }
        ]
        rows += [
            {
                "variant": variant,
                "CPU us": round(bare + cost["cpu"], 1),
                "added CPU us": round(cost["cpu"], 1),
                "added / otel's": round(cost["cpu"] / otel, 2),
                "added wall us": round(cost["wall"], 1),
                "added young-GC us": round(cost["gc"], 1),
                "GC-tracked left": round(cost["tracked"], 1),
                "to oldest gen": round(cost["promoted"], 2),
                "captures": len(cost["captures"]),
            }
            for variant, cost in sorted(added.items(), key=lambda item: item[1]["cpu"])
        ]
        report(f"{framework}_wsgi", rows)
        for variant, cost in added.items():
            print(f"  {variant} captures: {', '.join(cost['captures'])}")
        print("  GC-tracked left, to oldest gen: per request, the bare app's, then what each variant adds to it")
        print(f"  only the cyclic GC freed, per request: bare {bare_counts['cyclic']:g} objects", end="")
        print("".join(f"; {variant} {', '.join(cost['cyclic_types'][:4])}" for variant, cost in added.items()))
        print(f"  reqlog / otel per round (same process): {', '.join(f'{r:.2f}' for r in ratios)}")
        reqlog = added["reqlog"]
        peers = {variant: cost for variant, cost in added.items() if variant != "reqlog"}
        target = 0.35 if framework == "django" else 1.0
        ratio = median(ratios)
        goals += [
            {
                "goal": f"{framework}: reqlog's added CPU cost / stock OTel's (median of rounds)",
                "value": round(ratio, 2),
                "target": f"<= {target}",
                "ok": ratio <= target,
                "per_round": [round(r, 3) for r in ratios],
            },
            {
                "goal": f"{framework}: reqlog adds less than every peer",
                "value": round(reqlog["cpu"], 1),
                "target": f"< {round(min(cost['cpu'] for cost in peers.values()), 1)}",
                "ok": all(reqlog["cpu"] < cost["cpu"] for cost in peers.values()),
            },
            {
                "goal": f"{framework}: reqlog captures all each peer does (SQL aside) and more",
                "value": len(reqlog["captures"]),
                "target": f"> {max(len(cost['captures']) for cost in peers.values())}",
                "ok": all(set(cost["captures"]) - {"SQL"} < set(reqlog["captures"]) for cost in peers.values()),
            },
        ]
    print("load average at end (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    report("django_peers", [], goals=goals)


if __name__ == "__main__":
    main()
