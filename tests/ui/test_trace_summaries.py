"""The detail page's "other requests of this trace": `list_summaries` with a trace filter picks the
ids first, then their columns; it must answer exactly what one plain query answers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from exporter.log_filter import LogFilter
from exporter.store import RequestLogStore
from exporter.store_queries import SUMMARY_COLUMNS
from tests.query_api.sqldata import T0, make_row


def test_a_traces_summaries_equal_the_plain_query(tmp_path: Path) -> None:
    store = RequestLogStore(tmp_path / "logs.duckdb")
    try:
        # 400 rows over 4 traces (every fourth row shares one), one row group's worth of scanning.
        rows = [make_row(i, trace_id=f"{i % 4:032x}", started_at=T0 + timedelta(seconds=i)) for i in range(400)]
        store.insert_rows(rows, returning=False)
        columns = ", ".join(SUMMARY_COLUMNS)
        trace = f"{2:032x}"
        for window, limit, before, after in ((None, 51, None, None), (300, 10, 200, None), (None, 7, None, 50)):
            log_filter = LogFilter(
                trace_id=trace, started_before=None if window is None else T0 + timedelta(seconds=window)
            )
            got = store.list_summaries(log_filter, before_id=before, after_id=after, limit=limit)
            where, params = log_filter.sql()
            for bound, op in ((before, "<"), (after, ">")):
                if bound is not None:
                    where.append(f"id {op} ?")
                    params.append(bound)
            order = "ASC" if after is not None else "DESC"
            expected = store.cursor().execute(
                f"SELECT {columns} FROM request_logs WHERE {' AND '.join(where)} ORDER BY id {order} LIMIT ?",
                [*params, limit],
            )
            want = expected.fetchall()
            assert got == want and 0 < len(got) <= limit
        assert store.list_summaries(LogFilter(trace_id="f" * 32), limit=5) == []
    finally:
        store.close()
