"""An analyst query's answer, and how it is written out: JSON for the API, CSV, and plain JSON values.

Values become JSON the way the request-log API writes them: times as ISO 8601 with `Z`, JSON
columns spliced in as objects (never re-parsed), decimals and intervals as numbers, integers past
64 bits as strings.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

import orjson

from exporter.row import format_timestamp


@dataclass(frozen=True, slots=True)
class SqlResult:
    """A query's answer: column names and DuckDB types, at most `row_limit` rows, and whether more existed."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed: float

    def to_json(self) -> bytes:
        """`{"columns": [...], "rows": [[...]], "truncated": bool}`; JSON columns as objects, times ISO 8601."""
        json_columns = [i for i, t in enumerate(self.types) if t == "JSON"]
        rows = [_jsonable_row(row, json_columns) for row in self.rows]
        return orjson.dumps(
            {"columns": self.columns, "rows": rows, "truncated": self.truncated},
            default=_json_default,
            option=orjson.OPT_PASSTHROUGH_DATETIME,
        )

    def to_csv(self) -> str:
        """The answer as CSV with a header row: NULL as an empty field, nested values as JSON, times ISO 8601."""
        rows = orjson.loads(self.to_json())["rows"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in rows:
            writer.writerow([csv_cell(value) for value in row])
        return out.getvalue()


def csv_cell(value: Any) -> Any:
    """One JSON value as a CSV field: NULL empty, booleans lowercase, objects and arrays as JSON text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _jsonable_row(row: tuple[Any, ...], json_columns: list[int]) -> list[Any]:
    out = list(row)
    for i in json_columns:
        if isinstance(out[i], str):
            out[i] = orjson.Fragment(out[i])
    for i, value in enumerate(out):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            out[i] = str(value)  # HUGEINT past what JSON numbers carry safely
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = (value - value.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
        return format_timestamp(value)
    if isinstance(value, date | time_of_day):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)
