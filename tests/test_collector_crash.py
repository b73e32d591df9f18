"""Crash test: `reqlog serve` killed with SIGKILL while clients send OTLP batches.

Every batch answered 2xx must be in the database exactly once after a restart, the restarted
service must take traffic again, and clients resending everything (as OTLP exporters retry what
was not acknowledged) must not create duplicates. Loops are bounded; traffic stays on loopback.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from pathlib import Path

import duckdb

from query_api.accounts.db import accounts_path_for
from tests.otlp_payloads import pb_request, pb_span
from tests.query_api.harness import Service, make_accounts

CLIENTS = 4
SPANS_PER_BATCH = 20
MAX_BATCHES = 400  # per client: the kill comes long before
KILL_AFTER_ACKS = 40


def batch_body(client: int, batch: int) -> bytes:
    spans = [
        pb_span(
            {"http.request.method": "POST", "url.path": f"/c{client}/b{batch}/s{i}"},
            trace_id=(client + 1).to_bytes(16, "big"),
            span_id=((client + 1) << 48 | batch << 16 | i + 1).to_bytes(8, "big"),
        )
        for i in range(SPANS_PER_BATCH)
    ]
    return pb_request(spans).SerializeToString()


def expected_span_ids(client: int, batch: int) -> set[str]:
    return {((client + 1) << 48 | batch << 16 | i + 1).to_bytes(8, "big").hex() for i in range(SPANS_PER_BATCH)}


def send(port: int, token: str, body: bytes) -> int:
    """POST one batch; the status, or 0 when the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            "/v1/traces",
            body=body,
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Token {token}"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigkill_loses_no_acknowledged_span(tmp_path: Path) -> None:
    db = tmp_path / "reqlog.duckdb"
    token = make_accounts(accounts_path_for(db)).ingest_only
    service = Service(db, tmp_path / "first.log")
    acked: list[tuple[int, int]] = []
    sent: list[tuple[int, int]] = []
    stop = threading.Event()

    def client(number: int) -> None:
        for batch in range(MAX_BATCHES):
            if stop.is_set():
                return
            sent.append((number, batch))
            status = send(service.port, token, batch_body(number, batch))
            if status == 200:
                acked.append((number, batch))
            elif status == 0:
                return  # the service is gone

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(acked) >= KILL_AFTER_ACKS, service.stderr()
        workers = children_of(service.process.pid)
        service.process.send_signal(signal.SIGKILL)  # mid-stream: requests are in flight
        service.process.wait(10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        service.stop(signal.SIGKILL)
    assert workers, "the service had started its decoding process"
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in workers), "orphaned decoding process"

    restarted = Service(db, tmp_path / "second.log")
    try:
        assert send(restarted.port, token, batch_body(9, 0)) == 200  # takes traffic again
        # Clients retry what was not acknowledged (and, after a lost answer, what was): all of it again.
        for number, batch in sent:
            assert send(restarted.port, token, batch_body(number, batch)) == 200
    finally:
        assert restarted.stop() == 0, restarted.stderr()  # SIGTERM: an orderly stop

    with duckdb.connect(str(db), read_only=True) as con:
        stored = [row[0] for row in con.execute("SELECT span_id FROM request_logs").fetchall()]
    assert len(stored) == len(set(stored)), "a span was stored twice"
    stored_set = set(stored)
    for number, batch in acked:
        assert expected_span_ids(number, batch) <= stored_set, f"acknowledged batch {number}/{batch} lost"
    assert len(stored_set) == SPANS_PER_BATCH * (len(set(sent)) + 1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
