"""One poisoned span in a batch costs at most its own bad value: every other span is stored.

Real SDK spans through `DuckDBSpanExporter` into a real DuckDB file. Before this change each of
these poisons failed the whole batch (`SpanExportResult.FAILURE`, nothing stored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter.duckdb_exporter import DuckDBSpanExporter

from .spans import make_span

JSON = "application/json"
# Each poison is a set of attributes no batch should die of: lone surrogates anywhere a string
# goes, and JSON bodies that are deep, hold a secret deep inside, or hold numbers orjson refuses.
POISONS: dict[str, dict[str, Any]] = {
    "user agent decoded with surrogateescape": {"user_agent.original": "Mozilla/5.0 \udcff"},
    "surrogate in the path": {"url.path": "/items/\ud800"},
    "surrogate in a header value": {"http.request.header.x_trace": ("v\udcff",)},
    "surrogate in a header name": {"http.request.header.x_\udcff": ("v",)},
    "surrogate in the query": {"url.query": "q=\ud800"},
    "surrogate in a JSON body": {
        "http.request.body.content": '{"a": "\ud800"}',
        "http.request.body.content_type": JSON,
    },
    "surrogate in a text body": {
        "http.request.body.content": "x\udcff",
        "http.request.body.content_type": "text/plain",
    },
    "surrogate in the user id": {"user.id": "u\udcff"},
    "surrogate in the content type": {"http.request.body.content": "{}", "http.request.body.content_type": "a/\ud800"},
    "JSON nested 5000 deep": {
        "http.request.body.content": "[" * 5000 + "]" * 5000,
        "http.request.body.content_type": JSON,
    },
    "secret 3000 deep": {
        "http.request.body.content": '{"a":' * 3000 + '{"password":"hunter2"}' + "}" * 3000,
        "http.request.body.content_type": JSON,
    },
    "1e999 and a secret": {
        "http.request.body.content": '{"password":"hunter2","n":1e999}',
        "http.request.body.content_type": JSON,
    },
    "NaN status": {"http.response.status_code": float("nan")},
    "infinite size": {"http.request.body.size": float("inf")},
}


def _base(i: int) -> dict[str, Any]:
    return {"http.request.method": "GET", "url.path": f"/ok/{i}", "http.response.status_code": 200}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 12), at=st.integers(0, 11), poison=st.sampled_from(sorted(POISONS)))
def test_one_poisoned_span_never_costs_the_others(
    tmp_path_factory: Any, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter,
    size: int, at: int, poison: str,
) -> None:  # fmt: skip
    at = at % size
    spans = [make_span(tracer_provider, span_exporter, _base(i)) for i in range(size)]
    spans[at] = (
        make_span(tracer_provider, span_exporter, {**_base(at), **POISONS[poison], "url.path": f"/bad/{at}"})
        if "path" not in poison
        else make_span(tracer_provider, span_exporter, {**_base(at), **POISONS[poison]})
    )
    db: Path = tmp_path_factory.mktemp("db") / "logs.duckdb"
    exporter = DuckDBSpanExporter(db)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        cursor = exporter.store.cursor()
        stored = {row[0] for row in cursor.execute("SELECT span_id FROM request_logs").fetchall()}
        expected = {f"{span.context.span_id:016x}" for span in spans if span.context is not None}
        # Every span is stored: the poisoned one with its bad value replaced, none rejected.
        assert stored == expected
        assert exporter.rejected == 0 and exporter.exported == size
        texts = cursor.execute(
            "SELECT concat_ws('|', endpoint, user_id, body, request_headers, query_params) FROM request_logs"
        ).fetchall()
        assert all("hunter2" not in text for (text,) in texts)  # a secret deep inside is still redacted
        if "surrogate" in poison and "content type" not in poison and "agent" not in poison:
            assert exporter.repaired == 1
            # The replacement shows in the stored value.
            assert any("\ufffd" in text for (text,) in texts)
        if "agent" in poison:
            # A user agent is only classified, never stored, and classification takes any string:
            # the span needs no repair at all.
            assert exporter.repaired == 0
    finally:
        exporter.shutdown()


@settings(max_examples=10, deadline=None)
@given(size=st.integers(2, 20), bad=st.sets(st.integers(0, 19), min_size=1, max_size=3))
def test_an_insert_the_database_refuses_isolates_the_refused_rows(
    tmp_path_factory: Any, size: int, bad: set[int]
) -> None:
    """JSON that DuckDB's reader refuses fails the whole batch insert; the others are still stored."""
    from exporter.isolation import Outcome, insert_isolating
    from exporter.row import row_values
    from exporter.store import RequestLogStore, values_to_arrow
    from tests.query_api.harness import make_row

    bad = {i % size for i in bad}
    rows = [row_values(make_row(i, body="{not json" if i in bad else '{"ok": 1}')) for i in range(size)]
    store = RequestLogStore(tmp_path_factory.mktemp("db") / "logs.duckdb")
    try:
        table = values_to_arrow(rows)
        outcome = insert_isolating(store, table, Outcome())
        got = dict(store.cursor().execute("SELECT endpoint, body FROM request_logs").fetchall())
    finally:
        store.close()
    assert len(got) == size and outcome.rows == size and not outcome.rejected
    assert len(outcome.repaired) == len(bad)
    for i in range(size):  # a refused body is kept as a JSON string of its text
        assert got[f"/api/items/{i}"] == ('"{not json"' if i in bad else '{"ok": 1}')
