"""How `reqlog sql` prints an answer: an aligned table for a terminal, CSV, or JSON. Pure functions.

Every answer arrives in the endpoint's JSON shape (`{"columns", "rows", "truncated"}`, values
already JSON: times as ISO 8601 text, JSON columns as objects), whether it came from the service or
from a local file, so both print identically.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

import orjson

from query_api.sql.result import csv_cell

NULL = "NULL"
MIN_WIDTH = 8
_ELLIPSIS = "…"
# What a client can plant to drive a terminal: C0 controls (ESC, BEL, CR...), DEL, C1 controls, and
# the bidirectional overrides that reorder what is shown. Each is printed as a visible escape.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cell_text(value: Any) -> str:
    """One value as table text: NULL, true/false, floats to 6 decimals, compact JSON, newlines made visible."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        text = orjson.dumps(value).decode()
    elif isinstance(value, float):
        # 0.0941, not 0.09409999999999999 (CSV and JSON keep every digit); tiny values in exponent form.
        text = f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) >= 1e-4 or value == 0 else format(value, ".3g")
    else:
        text = str(value)
    return _UNSAFE.sub(_escape, text.replace("\r\n", "↵").replace("\n", "↵").replace("\t", " "))


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int = 120) -> str:
    """Rows as a psql-like table no wider than `width` when it can be: wide cells are cut with `…`.

    Numbers are right-aligned; a footer gives the row count.
    """
    if not columns:
        return "(no columns)\n"
    columns = [cell_text(name) for name in columns]
    texts = [[cell_text(v) for v in row] for row in rows]
    numeric = [_is_numeric([row[i] for row in rows]) for i in range(len(columns))]
    widths = [max([len(name), *(len(row[i]) for row in texts)]) for i, name in enumerate(columns)]
    widths = _fit(widths, width - 3 * (len(columns) - 1) - 2)
    header = [
        _cut(name, w).rjust(w) if numeric[i] else _cut(name, w).ljust(w)
        for i, (name, w) in enumerate(zip(columns, widths, strict=True))
    ]
    lines = [" " + " | ".join(header).rstrip()]
    lines.append("-" + "-+-".join("-" * w for w in widths) + "-")
    for row in texts:
        cells = []
        for i, text in enumerate(row):
            text = _cut(text, widths[i])
            cells.append(text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i]))
        lines.append(" " + " | ".join(cells).rstrip())
    count = len(rows)
    lines.append(f"({count:,} row{'s' if count != 1 else ''})")
    return "\n".join(lines) + "\n"


def format_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, spreadsheet_safe: bool = True) -> str:
    """CSV with a header row (NULL as an empty field, objects as JSON text), as the endpoint writes it.

    `spreadsheet_safe` (the default) neutralises text cells a spreadsheet would run as a formula.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(name, spreadsheet_safe=spreadsheet_safe) for name in columns])
    for row in rows:
        writer.writerow([csv_cell(v, spreadsheet_safe=spreadsheet_safe) for v in row])
    return out.getvalue()


def format_json(answer: dict[str, Any]) -> str:
    """The endpoint's JSON document, indented for reading."""
    return orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n"


def _is_numeric(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)


def _fit(widths: list[int], budget: int) -> list[int]:
    # Shrink the widest column a step at a time until the table fits or every column is narrow.
    widths = list(widths)
    while sum(widths) > budget:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= MIN_WIDTH:
            break
        widths[widest] -= 1
    return widths


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + _ELLIPSIS
