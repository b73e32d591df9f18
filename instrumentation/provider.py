"""`configure()`: one call that makes a TracerProvider sending request-log spans to reqlog.

Two destinations (docs/design-notes.md): the reqlog service over OTLP/HTTP, authenticated with a reqlog token,
for multi-worker apps and production; or the in-process `reqlog_duckdb` exporter that writes the
DuckDB file itself, for single-process apps, scripts and tests. Exporters are loaded through the
`opentelemetry_traces_exporter` entry points, the way OTel's own configuration does, so this package
never imports `exporter` (imports flow query_api -> exporter -> instrumentation).

The standard `OTEL_*` variables keep their meaning: `OTEL_SERVICE_NAME`/`OTEL_RESOURCE_ATTRIBUTES`
(resource), `OTEL_BSP_*` (batching), `OTEL_TRACES_SAMPLER*`, `OTEL_PROPAGATORS`,
`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT/HEADERS/COMPRESSION/TIMEOUT` (used when reqlog's own
arguments and `REQLOG_*` variables leave them open) and `OTEL_TRACES_EXPORTER`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util.re import parse_env_headers

from . import connection, lifecycle
from .batching import Batching, BoundedExporter
from .options import OptionError
from .settings_table import SETTINGS, Setting

ENTRY_POINT_GROUP = "opentelemetry_traces_exporter"
OTLP = "otlp_proto_http"
DUCKDB = "reqlog_duckdb"
# Every header is one attribute: the SDK's default of 128 per span can drop the request's own
# method and URL (the oldest) on header-heavy requests.
DEFAULT_SPAN_ATTRIBUTE_LIMIT = 1024
# `REQLOG_EXPORTER`, `REQLOG_ENDPOINT` and `REQLOG_TOKEN`, declared with the others; `REQLOG_DB` is
# the in-process exporter's own setting (`exporter.settings_table`), only passed on from here.
_EXPORTER, _ENDPOINT, _TOKEN = SETTINGS["exporter"], SETTINGS["endpoint"], SETTINGS["token"]
DEFAULT_ENDPOINT: str = _ENDPOINT.default  # `reqlog serve`'s default address
_ALIASES = {"otlp": OTLP, "otlp_http": OTLP, "duckdb": DUCKDB}


def configure(
    *,
    exporter: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    db: str | Path | None = None,
    service_name: str | None = None,
    exporter_options: Mapping[str, Any] | None = None,
    set_global: bool = True,
    environ: Mapping[str, str] | None = None,
    max_export_batch_size: int | None = None,
    max_export_bytes: int | None = None,
    schedule_delay_millis: int | None = None,
    max_queue_size: int | None = None,
    check_connection: bool = True,
) -> TracerProvider:
    """Build a TracerProvider with a BatchSpanProcessor feeding reqlog, and make it global.

    - `exporter` (`REQLOG_EXPORTER`, then `OTEL_TRACES_EXPORTER`, default `otlp`): `otlp` sends to
      the reqlog service, `reqlog_duckdb` writes in-process; any other registered traces exporter
      name works too and gets `exporter_options`.
    - `endpoint` (`REQLOG_ENDPOINT`): the service's base URL; spans go to `<endpoint>/v1/traces`.
      Unset: `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` if set, else `http://127.0.0.1:8000`.
    - `token` (`REQLOG_TOKEN`): sent as `Authorization: Token <token>`, beside any
      `OTEL_EXPORTER_OTLP_HEADERS`.
    - `db` (`REQLOG_DB`): the DuckDB file for `reqlog_duckdb`.
    - `service_name`: overrides `OTEL_SERVICE_NAME`.
    - `set_global`: also install it as the global provider (the middleware's default).
    - `environ`: where `REQLOG_*`, `OTEL_TRACES_EXPORTER` and `OTEL_BSP_*` are read (default
      `os.environ`); the OTLP exporter reads its own `OTEL_EXPORTER_OTLP_*` from `os.environ`.
    - `max_export_batch_size` (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 64), `max_export_bytes`
      (`REQLOG_MAX_EXPORT_BYTES`, default 16 MiB), `schedule_delay_millis` (`OTEL_BSP_SCHEDULE_DELAY`,
      default 1000), `max_queue_size` (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048): see `batching`.
    - `check_connection`: for OTLP, probe the service from a background thread and say once, clearly,
      if the token is refused or the service unreachable (`connection`).

    Raises `OptionError` when the exporter name is not registered or a batching value is bad.
    """
    env = os.environ if environ is None else environ
    batching = Batching.resolve(
        env,
        max_queue_size=max_queue_size,
        schedule_delay_millis=schedule_delay_millis,
        max_export_batch_size=max_export_batch_size,
        max_export_bytes=max_export_bytes,
    )
    name = exporter or _text(_EXPORTER, env) or _EXPORTER.default
    name = _ALIASES.get(name.strip().lower(), name.strip())
    span_exporter = _build_exporter(
        name,
        endpoint=endpoint or _text(_ENDPOINT, env) or _default_endpoint(env),
        token=token or _text(_TOKEN, env),
        db=db or env.get("REQLOG_DB"),
        options=dict(exporter_options or {}),
        env=env,
    )
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    explicit_limit = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" in env or "OTEL_ATTRIBUTE_COUNT_LIMIT" in env
    limits = SpanLimits(max_span_attributes=None if explicit_limit else DEFAULT_SPAN_ATTRIBUTE_LIMIT)
    provider = TracerProvider(resource=resource, span_limits=limits)
    on_result = None
    if name == OTLP:
        dedupe = connection.install_dedupe()
        on_result = _clear_on_success(dedupe)
        if check_connection:
            _start_check(span_exporter, token=token or _text(_TOKEN, env), env=env, queue=batching.max_queue_size)
    bounded = BoundedExporter(span_exporter, batching.max_export_bytes, on_result=on_result)
    processor = BatchSpanProcessor(
        bounded,
        max_queue_size=batching.max_queue_size,
        schedule_delay_millis=batching.schedule_delay_millis,
        max_export_batch_size=batching.max_export_batch_size,
    )
    provider.add_span_processor(processor)
    if set_global:
        trace.set_tracer_provider(provider)
    lifecycle.register(provider)  # flushed when the app stops, whatever the server does with signals
    return provider


def _text(setting: Setting, env: Mapping[str, str]) -> str | None:
    """The variable's text, else its fallback's; here an empty variable counts as unset."""
    return env.get(setting.variable) or (env.get(setting.fallback) if setting.fallback else None)


def _clear_on_success(dedupe: connection.Dedupe) -> Callable[[SpanExportResult], None]:
    def on_result(result: SpanExportResult) -> None:
        if result is SpanExportResult.SUCCESS:
            dedupe.succeeded()

    return on_result


def _start_check(exporter: SpanExporter, *, token: str | None, env: Mapping[str, str], queue: int) -> None:
    """Probe the exporter's own URL with its own headers (the OTLP exporter keeps them as `_endpoint`
    and `_client._headers`; without them there is nothing reliable to probe, so no check)."""
    url = getattr(exporter, "_endpoint", None)
    headers = getattr(getattr(exporter, "_client", None), "_headers", None)
    if not isinstance(url, str) or not isinstance(headers, dict):
        return
    cafile = env.get("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE") or env.get("OTEL_EXPORTER_OTLP_CERTIFICATE")
    has_token = bool(token) or any(key.lower() == "authorization" for key in headers)
    connection.start_check(url, headers, token_set=has_token, queue_size=queue, cafile=cafile)


def _default_endpoint(env: Mapping[str, str]) -> str | None:
    """The local reqlog service, unless the standard OTLP endpoint variables say where to send."""
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    return DEFAULT_ENDPOINT


def load_exporter_class(name: str) -> type[SpanExporter]:
    """The class registered as `name` in the `opentelemetry_traces_exporter` entry points."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return entry_point.load()  # type: ignore[no-any-return]
    known = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    raise OptionError("exporter", f"no traces exporter named {name!r}; installed: {', '.join(known)}")


def _build_exporter(
    name: str,
    *,
    endpoint: str | None,
    token: str | None,
    db: str | Path | None,
    options: dict[str, Any],
    env: Mapping[str, str],
) -> SpanExporter:
    cls = load_exporter_class(name)
    if name == DUCKDB:
        if db is not None:
            options.setdefault("path", db)
        return cls(**options)
    if name == OTLP:
        if endpoint:
            options.setdefault("endpoint", f"{endpoint.rstrip('/')}/v1/traces")
        if token:
            headers = dict(
                parse_env_headers(
                    env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS") or "",
                    liberal=True,
                )
            )
            headers["authorization"] = f"Token {token}"
            options.setdefault("headers", headers)
    return cls(**options)
