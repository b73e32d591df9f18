"""Attack: one span naming a huge number of headers, each its own attribute.

Nothing but the request size bounded how many header attributes a span may bring (the SDK bounds
them by count, a client with an ingest token does not): on the old code one 13 MB span of 300,000
tiny header attributes held a decoding process ~22 s (50,000 of them ~9 s) naming, redacting and
joining headers, to store a note in place of the column. Now a span's header attributes have a byte
budget (`REQLOG_INGEST_SPAN_HEADER_BYTES`); the ones past it are dropped before decoding, and each
header column that lost some is flagged `reqlog.truncated`, the span reported as repaired.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter import limits
from exporter.otlp import decode_protobuf
from exporter.otlp_budget import TRUNCATED_KEY, within_budget
from exporter.otlp_json import decode_json
from exporter.redaction import Redactor
from exporter.row import COLUMN
from exporter.store import RequestLogStore
from tests.otlp_payloads import pb_request, pb_span, to_otlp_json
from tests.query_api.harness import Service, auth, make_accounts

REQUEST, RESPONSE = "http.request.header.", "http.response.header."


@contextmanager
def _budget(nbytes: int) -> Iterator[None]:
    limits.configure(max_body_bytes=limits.max_body_bytes(), max_span_header_bytes=nbytes)
    try:
        yield
    finally:
        limits.configure(max_body_bytes=limits.max_body_bytes())


def _flood(count: int, *, named_last: bool = True) -> dict[str, object]:
    headers: dict[str, object] = {f"{REQUEST}x_{i}": ("v" * 4,) for i in range(count)}
    headers[f"{RESPONSE}x_one"] = ("kept",)
    named = {"http.request.method": "POST", "url.path": "/flood", "http.response.status_code": 201}
    return {**headers, **named} if named_last else {**named, **headers}


def test_a_span_of_50_000_header_attributes_is_stored_within_the_budget_and_flagged() -> None:
    data = pb_request([pb_span(_flood(50_000))]).SerializeToString()
    decoded = decode_protobuf(data, redactor=Redactor())
    assert len(decoded.rows) == 1 and decoded.rejected == 0
    row = decoded.rows[0]
    # The named attributes after the flood still make the row.
    assert (row[COLUMN.method], row[COLUMN.endpoint], row[COLUMN.status_code]) == ("POST", "/flood", 201)
    request_headers = orjson.loads(row[COLUMN.request_headers])
    assert "past the span's budget of 524288 bytes" in request_headers[TRUNCATED_KEY]
    kept = len(request_headers) - 1
    assert 1_000 < kept < 50_000  # ~19 bytes each: about 27,000 fit in 512 KiB
    # The response header came after the flood and fits nothing anymore: dropped and flagged too.
    assert TRUNCATED_KEY in orjson.loads(row[COLUMN.response_headers])
    assert decoded.repaired == 1 and "header attribute(s) past the span's budget" in decoded.notes[0]


def test_the_same_flood_over_otlp_json_is_cut_the_same_way() -> None:
    with _budget(4096):
        message = pb_request([pb_span(_flood(2_000, named_last=False))])
        row = decode_json(to_otlp_json(message), redactor=Redactor()).rows[0]
    request_headers = orjson.loads(row[COLUMN.request_headers])
    assert TRUNCATED_KEY in request_headers and 50 < len(request_headers) < 2_000
    assert row[COLUMN.method] == "POST"


def test_a_span_within_the_budget_is_untouched() -> None:
    with _budget(4096):
        span = pb_span({"http.request.method": "GET", f"{REQUEST}accept": ("*/*",), f"{RESPONSE}etag": ("x",)})
        decoded = decode_protobuf(pb_request([span]).SerializeToString(), redactor=Redactor())
    row = decoded.rows[0]
    assert TRUNCATED_KEY not in row[COLUMN.request_headers] and decoded.repaired == 0
    assert orjson.loads(row[COLUMN.response_headers]) == {"ETag": "x"}


_names = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=300)
_values = st.text(min_size=0, max_size=3000)


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(1024, 32 * 1024),
    headers=st.lists(st.tuples(st.booleans(), _names, _values), max_size=120),
    others=st.lists(st.sampled_from(["http.request.method", "url.path", "user_agent.original", "x.other"])),
)
def test_kept_header_attributes_never_pass_the_budget(
    budget: int, headers: list[tuple[bool, str, str]], others: list[str]
) -> None:
    attributes: dict[str, object] = {(REQUEST if req else RESPONSE) + name: (value,) for req, name, value in headers}
    attributes.update({key: "GET" for key in others})
    encoded = list(pb_span(attributes).attributes)
    raw = [item.SerializeToString() for item in encoded]
    is_header = [item.key.startswith((REQUEST, RESPONSE)) for item in encoded]
    kept, dropped = within_budget(raw, budget)
    if sum(map(len, raw)) <= budget:  # the caller's check: such a span is never looked at
        assert kept == raw and dropped is None
    kept_set = set(kept)
    # Every attribute that is no header is kept; the kept headers fit the budget, in their order.
    assert all(item in kept_set for item, header in zip(raw, is_header, strict=True) if not header)
    assert sum(len(item) for item, header in zip(raw, is_header, strict=True) if header and item in kept_set) <= budget
    assert kept == [item for item in raw if item in kept_set]
    header_bytes = sum(len(item) for item, header in zip(raw, is_header, strict=True) if header)
    if dropped is None:
        assert len(kept) == len(raw)
    else:
        assert header_bytes > budget
        assert sum(dropped.attributes) == len(raw) - len(kept)
        assert sum(dropped.nbytes) == sum(len(item) for item in raw if item not in kept_set)


def test_the_service_applies_its_setting_in_its_decoding_processes(tmp_path: Path) -> None:
    db = tmp_path / "flood.duckdb"
    RequestLogStore(db).close()
    tokens = make_accounts(db.with_name("accounts.sqlite3"))
    service = Service(db, tmp_path / "serve.log", env={"REQLOG_INGEST_SPAN_HEADER_BYTES": "2048"})
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{service.port}/v1/traces",
            data=pb_request([pb_span(_flood(1_000))]).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf", **auth(tokens.ingest_only)},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        status, row = service.get("/api/metrics/request_logs/1", tokens.admin)
        assert status == 200 and row["method"] == "POST"
        assert "budget of 2048 bytes" in row["request_headers"][TRUNCATED_KEY]
        assert 20 < len(row["request_headers"]) < 200
    finally:
        assert service.stop() == 0
