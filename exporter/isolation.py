"""A batch the fast path could not store: find the rows at fault, repair or reject them, store the rest.

The fast path converts a whole batch to Arrow and inserts it in one transaction; one row that
Arrow cannot encode or that DuckDB refuses fails all of them. These functions are what runs
then, and only then:

- `rows_to_table` converts row by row, cleaning a row that does not convert (`repair.clean_row`)
  and rejecting it only when even the cleaned row does not fit.
- `insert_isolating` inserts; when DuckDB refuses a *value* (a `DataError`: a conversion, a value
  out of range, JSON text its reader refuses) it splits the batch in halves until the refused
  rows are alone, stores such a row with its refused JSON columns as text
  (`repair.json_as_text`), and rejects it only when that is refused too. A failure that is not
  about a value (a full disk, an invalidated database) is raised as it came: it is no row's fault,
  and the caller must not acknowledge the batch.

Both report what they did through `Outcome`, so the callers' counters stay true.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from .errors import StorageError
from .repair import clean_row, json_as_text
from .row import COLUMN, COLUMN_NAMES
from .store import RequestLogStore, values_to_arrow

ARROW_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)


@dataclasses.dataclass(slots=True)
class Outcome:
    """What became of a batch on the slow path: rows handed to the database, repairs, rejections.

    `rows` counts rows the file gained (a span already stored is not counted); `repaired` and `rejected` quote a
    reason per row (`span <span_id>: reason`); `stored` is what RETURNING gave, when asked.
    """

    rows: int = 0
    transactions: int = 0
    stored: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    repaired: list[str] = dataclasses.field(default_factory=list)
    rejected: list[str] = dataclasses.field(default_factory=list)


def refused_by_value(exc: BaseException) -> bool:
    """Whether a failed conversion or insert is about a value in it (so isolating rows can help)."""
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc
    if isinstance(cause, duckdb.Error):
        return isinstance(cause, duckdb.DataError)
    return isinstance(cause, ARROW_ERRORS)


def _name(values: tuple[Any, ...] | dict[str, Any]) -> str:
    span_id = values["span_id"] if isinstance(values, dict) else values[COLUMN.span_id]
    return f"span {span_id}"


def rows_to_table(rows: Sequence[tuple[Any, ...]], outcome: Outcome) -> pa.Table | None:
    """The Arrow table of `rows`, built row by row: a row that does not convert is cleaned or rejected."""
    try:
        return values_to_arrow(rows)
    except ARROW_ERRORS:
        pass
    good: list[tuple[Any, ...]] = []
    for values in rows:
        try:
            values_to_arrow([values])
        except ARROW_ERRORS as exc:
            cleaned = clean_row(values)
            try:
                values_to_arrow([cleaned])
            except ARROW_ERRORS:
                outcome.rejected.append(f"{_name(values)}: does not fit the table ({exc})")
                continue
            outcome.repaired.append(f"{_name(values)}: text that is not valid Unicode replaced by U+FFFD")
            good.append(cleaned)
        else:
            good.append(values)
    return values_to_arrow(good) if good else None


def insert_isolating(store: RequestLogStore, table: pa.Table, outcome: Outcome, *, returning: bool = False) -> Outcome:
    """Insert `table`, isolating the rows whose values DuckDB refuses; see the module docstring.

    Raises `StorageError` when the insert fails for a reason that is not a value.
    """
    try:
        written, stored = store.insert_table(table, returning=returning)
    except StorageError as exc:
        if not refused_by_value(exc):
            raise
        if table.num_rows > 1:
            half = table.num_rows // 2
            insert_isolating(store, table.slice(0, half), outcome, returning=returning)
            insert_isolating(store, table.slice(half), outcome, returning=returning)
        else:
            _insert_repaired(store, table, outcome, exc, returning=returning)
        return outcome
    outcome.rows += written
    outcome.transactions += 1
    outcome.stored += stored
    return outcome


def _insert_repaired(
    store: RequestLogStore, table: pa.Table, outcome: Outcome, refused: StorageError, *, returning: bool
) -> None:
    row = table.to_pylist()[0]
    cursor = store.cursor()

    def valid(text: str) -> bool:
        return bool(cursor.execute("SELECT json_valid(?)", [text]).fetchall()[0][0])

    names = list(row)
    # `json_as_text` works on rows in column order; map the inserted columns onto that order.
    full = tuple(row.get(name) for name in COLUMN_NAMES)
    fixed_full = json_as_text(full, valid)
    if fixed_full == full:
        outcome.rejected.append(f"{_name(row)}: refused by the database ({refused.__cause__})")
        return
    fixed = dict(zip(COLUMN_NAMES, fixed_full, strict=True))  # the parts columns (`value_parts`) stay as they are
    try:
        written, stored = store.insert_table(
            pa.Table.from_pylist([{name: fixed.get(name, row[name]) for name in names}], schema=table.schema),
            returning=returning,
        )
    except StorageError as exc:
        if not refused_by_value(exc):
            raise
        outcome.rejected.append(f"{_name(row)}: refused by the database ({exc.__cause__})")
        return
    outcome.rows += written
    outcome.transactions += 1
    outcome.stored += stored
    outcome.repaired.append(f"{_name(row)}: JSON the database refused stored as text")
