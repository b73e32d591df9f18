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

    def to_csv(self, *, spreadsheet_safe: bool = True) -> str:
        """The answer as CSV with a header row: NULL as an empty field, nested values as JSON, times ISO 8601.

        `spreadsheet_safe` (the default) neutralises cells a spreadsheet would run as a formula.
        """
        rows = orjson.loads(self.to_json())["rows"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([csv_cell(name, spreadsheet_safe=spreadsheet_safe) for name in self.columns])
        for row in rows:
            writer.writerow([csv_cell(value, spreadsheet_safe=spreadsheet_safe) for value in row])
        return out.getvalue()


# OWASP's CSV-injection rule: a text cell starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, *, spreadsheet_safe: bool = True) -> Any:
    """One JSON value as a CSV field: NULL empty, booleans lowercase, objects and arrays as JSON text.

    With `spreadsheet_safe`, text starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so a
    spreadsheet shows it instead of running it. Numbers are numbers and stay as they are (`-5`).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        value = orjson.dumps(value).decode()
    if spreadsheet_safe and isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _jsonable_row(row: tuple[Any, ...], json_columns: list[int]) -> list[Any]:
    out = [_jsonable(value) for value in row]
    for i in json_columns:
        if isinstance(row[i], str):
            out[i] = _json_text(row[i])
    return out


def _json_text(text: str) -> Any:
    # A JSON column is spliced in unparsed only when it is valid JSON that any parser reads back:
    # DuckDB's JSON type lets `'[1,]'` through, and a stored body may hold `1e999` (infinity).
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # served as a string, so the answer stays valid JSON
    return orjson.Fragment(text)


def _jsonable(value: Any) -> Any:
    """`value` with what orjson or JSON cannot carry made plain, at any depth (lists, structs, maps)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)  # HUGEINT past what JSON numbers carry
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        # MAP keys may be integers, dates or NULL (histogram()): JSON keys are strings.
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    plain = _jsonable(key)
    return plain if isinstance(plain, str) else orjson.dumps(plain, default=_json_default).decode()


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
