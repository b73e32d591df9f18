"""Template filters: times, durations and status classes as the viewer shows them (UTC throughout)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2


def timestamp(value: Any) -> str:
    """`2025-11-19 14:55:32.673` from a datetime or the API's ISO text; '' for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return str(value)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def milliseconds(seconds: Any) -> str:
    """A duration in seconds as milliseconds: `115.96 ms`."""
    if seconds is None:
        return ""
    ms = float(seconds) * 1000
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.2f} ms"


def status_class(code: Any) -> str:
    """`s2` ... `s5` for a status code's class (the colour), `s0` when there is none."""
    if isinstance(code, int) and 100 <= code < 600:
        return f"s{code // 100}"
    return "s0"


def register_filters(environment: jinja2.Environment) -> None:
    environment.filters["ts"] = timestamp
    environment.filters["ms"] = milliseconds
    environment.filters["status_class"] = status_class
