"""Many reqlog nodes on one lake, as real processes: 3 writers, 1 query node, 1 maintenance node.

A throwaway PostgreSQL holds the catalog and the accounts; OTLP/protobuf traffic is routed to the
writers by trace id as the Collector's `loadbalancing` exporter routes it, and retried until
acknowledged, as an OTLP exporter retries. One writer is SIGKILLed mid-stream and restarted; some
acknowledged batches are sent again to their writer, and some to another writer (as after a change
of the writer set). Then: every acknowledged span stored exactly once, ids unique, retrieve, list
and stats equal to a single-node service's for the same payloads, analyst SQL refused its DELETE and
`postgres_execute`, and retention and compaction done by the maintenance node while writers wrote.
Bounded: 432 spans, every loop with a deadline.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from query_api.accounts.pg import PgAccountDB
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import Service, make_accounts

from .conftest import Lake
from .nodes import HashRing, Node

CLIENTS, REQUESTS, TRACES_PER_REQUEST = 3, 12, 6
OLD_TRACES = 5  # 40 days old: the maintenance node's retention (30 days) deletes them while writers run
KILL_AFTER_ACKS = 25
DEADLINE = 90.0
JSON_HEADERS = {"Content-Type": "application/json"}
_NOW = datetime.now(UTC)


def _span(trace: int, number: int, *, started: datetime) -> Any:
    status = (200, 201, 404, 500, 200)[trace % 5]
    start_ns = int(started.timestamp() * 1e9) + trace * 1_000_000 + number
    return pb_span(
        {
            "http.request.method": ("GET", "POST", "PUT")[trace % 3],
            "url.scheme": "https",
            "url.path": f"/api/orders/{trace}/{number}",
            "http.route": "/api/orders/{id}/{n}",
            "http.response.status_code": status,
            "client.address": f"10.1.{trace % 200}.{number}",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        },
        trace_id=trace.to_bytes(16, "big"),
        span_id=(trace << 8 | number).to_bytes(8, "big"),
        start=start_ns,
        end=start_ns + (1 + trace % 40) * 1_000_000,
    )


def _trace_spans(trace: int, *, old: bool = False) -> list[Any]:
    started = _NOW - (timedelta(days=40) if old else timedelta(hours=1))
    return [_span(trace, number, started=started) for number in (1, 2)]


def _requests(client: int) -> list[list[int]]:
    """The trace numbers of each OTLP request a client sends."""
    first = 1 + client * REQUESTS * TRACES_PER_REQUEST
    return [list(range(first + r * TRACES_PER_REQUEST, first + (r + 1) * TRACES_PER_REQUEST)) for r in range(REQUESTS)]


class Traffic:
    def __init__(self, writers: list[Node], token: str) -> None:
        self.writers = {f"writer-{i}": node for i, node in enumerate(writers)}
        self.ring = HashRing(list(self.writers))
        self.headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"}
        self.acks = 0
        self.retries = 0
        self.lock = threading.Lock()

    def send_traces(self, traces: list[int], *, old: bool = False, shift: int = 0) -> None:
        """Split by the ring (or `shift` writers past it), send each part until a writer acknowledges it."""
        names = list(self.writers)
        parts: dict[str, list[Any]] = {}
        for trace in traces:
            name = self.ring.endpoint(trace.to_bytes(16, "big"))
            name = names[(names.index(name) + shift) % len(names)]
            parts.setdefault(name, []).extend(_trace_spans(trace, old=old))
        for name, spans in parts.items():
            body = pb_request(spans, service="orders").SerializeToString()
            deadline = time.monotonic() + DEADLINE
            while True:
                status, _ = self.writers[name].request("POST", "/v1/traces", body, self.headers)
                if 200 <= status < 300:
                    break
                assert time.monotonic() < deadline, f"{name} never acknowledged (last status {status})"
                with self.lock:
                    self.retries += 1
                time.sleep(0.2)
            with self.lock:
                self.acks += 1


def _sql(node: Node, token: str, sql: str) -> tuple[int, Any]:
    headers = {**JSON_HEADERS, "Authorization": f"Token {token}"}
    status, body = node.request("POST", "/api/metrics/sql", orjson.dumps({"sql": sql}), headers)
    return status, orjson.loads(body) if body else None


def _passes(log: str) -> list[dict[str, int]]:
    """The maintenance node's logged passes, as their counters."""
    found = re.findall(r"lake maintenance: PassResult\(([^)]*)\)", log)
    return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)} for text in found]


def _expired(log: str) -> int:
    return sum(result["expired_rows"] for result in _passes(log))


def _compacted(log: str) -> int:
    return sum(result["merged_files"] + result["flushed_rows"] for result in _passes(log))


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("id", "created_at", "updated_at")}


def test_three_writers_a_query_node_and_maintenance(lake: Lake, tmp_path: Path) -> None:
    with PgAccountDB(lake.accounts()) as accounts:
        accounts.create_account("root", is_staff=True, is_superuser=True)
        token = accounts.create_token("root")
    common = {
        "REQLOG_LAKE_DATA": str(lake.data),
        "REQLOG_LAKE_ACCOUNTS": lake.accounts(),
        "REQLOG_INGEST_WORKERS": "0",
        "REQLOG_READ_THREADS": "2",
        "REQLOG_MEMORY_LIMIT": "256MB",
    }
    as_writer = {**common, "REQLOG_LAKE_CATALOG": lake.dsn("reqlog_writer")}
    writers = [Node("writer", as_writer, tmp_path / f"writer-{i}.log") for i in range(3)]
    query = Node("query", {**common, "REQLOG_LAKE_CATALOG": lake.dsn("reqlog_analyst")}, tmp_path / "query.log")
    maintenance_env = {**as_writer, "REQLOG_LAKE_MAINTENANCE_INTERVAL": "1", "REQLOG_RETENTION_DAYS": "30"}
    maintenance = Node("maintenance", maintenance_env, tmp_path / "maintenance.log")
    nodes = [*writers, query, maintenance]
    single_tokens = make_accounts(tmp_path / "single" / "accounts.sqlite3")
    single = Service(tmp_path / "single" / "reqlog.duckdb", tmp_path / "single.log")
    began = time.monotonic()
    marks: list[str] = []

    def mark(what: str) -> None:
        marks.append(f"{what} {time.monotonic() - began:.1f}s")

    try:
        writers[0].start().wait_ready()  # the first one creates the lake's tables; the rest start together
        for node in nodes[1:]:
            node.start()
        for node in nodes[1:]:
            node.wait_ready()

        mark("nodes up")
        # Token changes reach every node within a second (the accounts live in PostgreSQL).
        with PgAccountDB(lake.accounts()) as accounts:
            fresh = accounts.create_token("root")
            created = time.monotonic()
            for node in (query, writers[2]):
                while (
                    node.request("GET", "/api/metrics/service", headers={"Authorization": f"Token {fresh}"})[0] != 200
                ):
                    assert time.monotonic() - created < 1.0, "a new token did not reach a node within a second"
                    time.sleep(0.02)
            accounts.revoke(fresh)
            revoked = time.monotonic()
            while query.request("GET", "/api/metrics/service", headers={"Authorization": f"Token {fresh}"})[0] != 401:
                assert time.monotonic() - revoked < 1.0, "a revoked token still worked after a second"
                time.sleep(0.02)

        mark("tokens")
        traffic = Traffic(writers, token)
        traffic.send_traces(list(range(900_001, 900_001 + OLD_TRACES)), old=True)

        def client(number: int) -> None:
            for traces in _requests(number):
                traffic.send_traces(traces)

        def killer() -> None:
            deadline = time.monotonic() + DEADLINE
            while traffic.acks < KILL_AFTER_ACKS:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            writers[1].kill()  # mid-stream: other clients' requests to it are in flight or about to be
            writers[1].start().wait_ready()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=killer))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=DEADLINE + 30)
        assert not any(thread.is_alive() for thread in threads)
        assert writers[1].starts == 2
        # Acknowledged batches sent again: to their own writer (its memory refuses them, even the
        # restarted one's), and to another writer (stored twice, until the maintenance pass).
        for traces in _requests(0)[:4] + _requests(1)[:4]:
            traffic.send_traces(traces)
        traffic.send_traces(_requests(2)[0], shift=1)
        # Writers keep committing (40-day-old spans, which retention deletes) until a maintenance pass
        # has deleted and compacted beside them: on a loaded machine the scripted traffic can end first.
        filler = iter(range(910_001, 910_001 + 3 * 1000))
        filled = 0
        deadline = time.monotonic() + DEADLINE
        while not ((log := maintenance.log()) and _expired(log) and _compacted(log)):
            assert time.monotonic() < deadline, maintenance.log()[-3000:]
            traffic.send_traces([next(filler) for _ in range(3)], old=True)
            filled += 3
        maintenance_log_at_end_of_writing = maintenance.log()
        # No commit failed while the maintenance node deleted, compacted and cleaned up beside the writers.
        for node in writers:
            counters = node.get_json("/api/metrics/service", token)["writer"]
            assert counters["failures"] == 0 and counters["transactions"] > 0, counters
        mark("traffic")

        recent_spans = CLIENTS * REQUESTS * TRACES_PER_REQUEST * 2
        deadline = time.monotonic() + DEADLINE
        while True:
            status, answer = _sql(
                query,
                token,
                "SELECT count(*), count(DISTINCT id), count(DISTINCT (trace_id, span_id)), max(id), "
                "count(*) FILTER (WHERE started_at < now() - INTERVAL 30 DAY) FROM request_logs",
            )
            assert status == 200, answer
            rows, unique_ids, unique_spans, max_id, old = answer["rows"][0]
            if rows == unique_spans and old == 0 and _expired(maintenance.log()) == (OLD_TRACES + filled) * 2:
                break
            assert time.monotonic() < deadline, f"maintenance did not finish: {answer['rows']}"
            time.sleep(0.2)
        mark("maintenance")
        assert unique_spans == recent_spans  # every acknowledged span, once
        assert unique_ids == rows and max_id < 2**53

        # The single-node service gets the same spans, unrouted, once.
        single_headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Token {single_tokens.admin}"}
        for number in range(CLIENTS):
            for traces in _requests(number):
                spans = [span for trace in traces for span in _trace_spans(trace)]
                body = pb_request(spans, service="orders").SerializeToString()
                status, _ = _single_post(single, body, single_headers)
                assert status == 200

        lake_stats = query.get_json("/api/metrics/request_logs/stats?group_by=route", token)
        single_stats = _single_get(single, "/api/metrics/request_logs/stats?group_by=route", single_tokens.admin)
        assert lake_stats == single_stats
        for group in ("status_code", "method"):
            path = f"/api/metrics/request_logs/stats?group_by={group}"
            assert query.get_json(path, token) == _single_get(single, path, single_tokens.admin)
        for trace in (1, 37, 118, 180, 216):
            path = f"/api/metrics/request_logs?trace_id={trace:032x}"
            lake_page, single_page = query.get_json(path, token), _single_get(single, path, single_tokens.admin)
            assert [_strip(r) for r in lake_page["results"]] == [_strip(r) for r in single_page["results"]]
            assert len(lake_page["results"]) == 2
            for lake_row, single_row in zip(lake_page["results"], single_page["results"], strict=True):
                detail = f"/api/metrics/request_logs/{lake_row['id']}"
                assert query.get_json(detail, token) == lake_row
                assert _strip(
                    _single_get(single, f"/api/metrics/request_logs/{single_row['id']}", single_tokens.admin)
                ) == _strip(lake_row)
        # Filtered, newest-first lists hold the same rows in the same order.
        path = "/api/metrics/request_logs?status_code=500&page_size=200"
        lake_list, single_list = query.get_json(path, token), _single_get(single, path, single_tokens.admin)
        assert len(lake_list["results"]) == 86
        key = lambda r: (r["started_at"], r["endpoint"])  # noqa: E731
        assert sorted(map(_strip, lake_list["results"]), key=key) == sorted(
            map(_strip, single_list["results"]), key=key
        )

        for refused in (
            "DELETE FROM request_logs",
            "SELECT * FROM postgres_execute('__ducklake_metadata_lake', 'DELETE FROM ducklake_snapshot')",
        ):
            status, answer = _sql(query, token, refused)
            assert status == 400, answer
        assert _sql(query, token, "SELECT count(*) FROM request_logs")[1]["rows"] == [[recent_spans]]

        results = _passes(maintenance_log_at_end_of_writing)
        assert results, maintenance.log()[-3000:]
        assert _expired(maintenance_log_at_end_of_writing) > 0 and _compacted(maintenance_log_at_end_of_writing) > 0
        assert _expired(maintenance.log()) == (OLD_TRACES + filled) * 2  # each old span deleted, once
        duplicates = sum(result["duplicates"] for result in _passes(maintenance.log()))
        # The batch sent to other writers, and nothing else; the restarted writer recalled it at start.
        names = list(traffic.writers)
        shifted = [names[(names.index(traffic.ring.endpoint(t.to_bytes(16, "big"))) + 1) % 3] for t in _requests(2)[0]]
        assert duplicates == 2 * sum(name != "writer-1" for name in shifted) > 0
        print(
            f"\nlake: {rows} rows, {traffic.acks} acknowledged batches, {traffic.retries} retries, "
            f"{len(results)} maintenance passes while writing, writer restarts {writers[1].starts - 1}; "
            + ", ".join(marks)
        )
    finally:
        for node in nodes:
            node.stop()
        single.stop()


def _single_post(service: Service, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        connection.request("POST", "/v1/traces", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _single_get(service: Service, path: str, token: str) -> Any:
    status, body = service.get(path, token)
    assert status == 200, body
    return body
