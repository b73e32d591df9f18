"""`RequestLog`: the one row type. The DDL, the insert and the API JSON are all derived from it.

A column is declared once, as a dataclass field whose metadata says its DuckDB type. JSON columns
hold JSON *text* (already serialised, already redacted) so the API can splice them into its answer
without parsing them again. Field order is the spec's response order, `user` flattened into
`user_id`, `username`, `user_full_name`; the fields that are not in the spec come after it.

On the hot paths (flattening, the store's insert, the API's reads) a row travels as a plain tuple
of its values in column order, `values`, which costs a third of building the frozen dataclass. Its
columns are read by name through `COLUMN`, the position of every column: `values[COLUMN.endpoint]`
(an int known when the module loads, so no lookup per row). `ColumnPositions` is checked against
`RequestLog` as this module loads: a column added to one and not the other fails the import.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

import orjson


def _column(sql_type: str, *, compression: str | None = None, json: bool = False) -> Any:
    default = False if sql_type == "BOOLEAN" else None
    return dataclasses.field(default=default, metadata={"sql": sql_type, "compression": compression, "json": json})


# The big text columns compress ~4x better with zstd, which DuckDB only picks by itself for
# strings averaging >= 4 KB (docs/design-notes.md: 848 -> 227 bytes per row).
def _json_column() -> Any:
    return _column("JSON", compression="zstd", json=True)


@dataclasses.dataclass(frozen=True, slots=True)
class RequestLog:
    """One HTTP request as the request-log API serves it.

    `id`, `created_at` and `updated_at` are `None` until the store assigns them on insert.
    Timestamps are naive datetimes in UTC. JSON fields are JSON text or `None` (nothing captured).
    """

    # The PRIMARY KEY's index serves `id IN (...)` lookups (the retrieve path batches them); a plain
    # `id = ?` is answered through zone maps, as ids grow with insertion.
    id: int | None = _column("BIGINT PRIMARY KEY")
    user_id: str | None = _column("VARCHAR")
    username: str | None = _column("VARCHAR")
    user_full_name: str | None = _column("VARCHAR")
    ip: str | None = _column("VARCHAR")
    device: str | None = _column("VARCHAR")
    device_type: str | None = _column("VARCHAR")
    is_bot: bool = _column("BOOLEAN")
    os: str | None = _column("VARCHAR")
    browser: str | None = _column("VARCHAR")
    scheme: str | None = _column("VARCHAR")
    endpoint: str | None = _column("VARCHAR")
    method: str | None = _column("VARCHAR")
    status_code: int | None = _column("INTEGER")
    exception_type: str | None = _column("VARCHAR")
    started_at: datetime | None = _column("TIMESTAMP")
    finished_at: datetime | None = _column("TIMESTAMP")
    duration: float | None = _column("DOUBLE")
    created_at: datetime | None = _column("TIMESTAMP")
    updated_at: datetime | None = _column("TIMESTAMP")
    query_params: str | None = _json_column()
    body: str | None = _json_column()
    response: str | None = _json_column()
    request_headers: str | None = _json_column()
    response_headers: str | None = _json_column()
    exception_message: str | None = _column("VARCHAR", compression="zstd")
    exception_traceback: str | None = _column("VARCHAR", compression="zstd")
    # Beyond the spec: correlation with traces, the service, and the route template for grouping.
    trace_id: str | None = _column("VARCHAR")
    span_id: str | None = _column("VARCHAR")
    service_name: str | None = _column("VARCHAR")
    route: str | None = _column("VARCHAR")
    # Body bookkeeping: the original size in bytes (kept for binary bodies, whose content is not
    # stored) and whether `body` / `response` hold only a truncated prefix (then a JSON string).
    request_body_size: int | None = _column("BIGINT")
    response_body_size: int | None = _column("BIGINT")
    request_body_truncated: bool = _column("BOOLEAN")
    response_body_truncated: bool = _column("BOOLEAN")


COLUMNS: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(RequestLog)
COLUMN_NAMES: tuple[str, ...] = tuple(f.name for f in COLUMNS)
JSON_COLUMNS: frozenset[str] = frozenset(f.name for f in COLUMNS if f.metadata["json"])


class ColumnPositions(NamedTuple):
    """The position of each column in a row's values tuple; `COLUMN` is the one instance."""

    id: int
    user_id: int
    username: int
    user_full_name: int
    ip: int
    device: int
    device_type: int
    is_bot: int
    os: int
    browser: int
    scheme: int
    endpoint: int
    method: int
    status_code: int
    exception_type: int
    started_at: int
    finished_at: int
    duration: int
    created_at: int
    updated_at: int
    query_params: int
    body: int
    response: int
    request_headers: int
    response_headers: int
    exception_message: int
    exception_traceback: int
    trace_id: int
    span_id: int
    service_name: int
    route: int
    request_body_size: int
    response_body_size: int
    request_body_truncated: int
    response_body_truncated: int


if ColumnPositions._fields != COLUMN_NAMES:
    raise ImportError("ColumnPositions must name RequestLog's fields in their order")
COLUMN = ColumnPositions(*range(len(COLUMN_NAMES)))
JSON_POSITIONS: tuple[int, ...] = tuple(i for i, name in enumerate(COLUMN_NAMES) if name in JSON_COLUMNS)


def iter_columns() -> Iterator[tuple[str, str, str | None]]:
    """Yield `(name, sql_type, compression)` for every column, in order."""
    for f in COLUMNS:
        yield f.name, f.metadata["sql"], f.metadata["compression"]


def format_timestamp(value: datetime | None) -> str | None:
    """Render like Django REST Framework: `2025-11-19T14:55:32.673075Z` (no fraction when zero)."""
    if value is None:
        return None
    text = value.isoformat()
    if value.tzinfo is not None:
        text = text.removesuffix("+00:00")
    return text + "Z"


def user_id_value(user_id: str | None) -> int | str | None:
    """Integer ids (Django's) are stored as text and served as JSON numbers; other ids as strings."""
    if user_id is None:
        return None
    if user_id.isdigit() or (user_id[:1] == "-" and user_id[1:].isdigit()):
        number = int(user_id)
        if str(number) == user_id:
            return number
    return user_id


# Columns after the three user fields, in order: the rest of the answer (`RequestLog` is in the
# spec's field order, `user` flattened right after `id`).
_REST_START = COLUMN.user_full_name + 1
_REST_NAMES = COLUMN_NAMES[_REST_START:]
_JSON_NAMES = tuple(name for name in _REST_NAMES if name in JSON_COLUMNS)
# orjson writes naive datetimes as DRF does (`2025-11-19T14:55:32.673075Z`, no fraction when it is
# zero): `format_timestamp` without a Python call per timestamp.
_RENDER_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def to_api_dict(values: tuple[Any, ...]) -> dict[str, Any]:
    """The API's JSON object for a row's values in column order, as orjson renders it (`render_json`).

    JSON columns become `orjson.Fragment`s: stored text spliced in as is, never parsed again.
    Timestamps stay datetimes, for orjson to write.
    """
    user_id, username, full_name = values[COLUMN.user_id : _REST_START]
    out: dict[str, Any] = {
        "id": values[COLUMN.id],
        "user": None
        if user_id is None and username is None
        # DRF serialises Django's `get_full_name()`, which is "" for a user without a name.
        else {"id": user_id_value(user_id), "username": username, "full_name": full_name or ""},
    }
    out.update(zip(_REST_NAMES, values[_REST_START:], strict=True))
    for name in _JSON_NAMES:
        text = out[name]
        if text is not None:
            out[name] = orjson.Fragment(text)
    duration = out["duration"]
    if duration is not None:
        out["duration"] = round(duration, 6)
    return out


def render_json(values: tuple[Any, ...]) -> bytes:
    """The API's JSON bytes for one row given as a tuple of values in column order."""
    return orjson.dumps(to_api_dict(values), option=_RENDER_OPTIONS)


_values = operator.attrgetter(*COLUMN_NAMES)


def row_values(row: RequestLog) -> tuple[Any, ...]:
    """The row's values in column order (the inverse of `RequestLog(*values)`)."""
    values: tuple[Any, ...] = _values(row)
    return values


def to_json(row: RequestLog) -> bytes:
    """The API's JSON bytes for `row`."""
    return render_json(row_values(row))
