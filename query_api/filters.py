"""The list endpoint's query parameters -> a validated `LogFilter`, or DRF's field errors.

Pure functions, no I/O. Messages are DRF's serializer-field messages. As in DRF (django-filter),
unknown parameters are ignored, an empty value means "no filter", and a repeated parameter takes
its last value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from exporter.ip_range import parse_ip_filter
from exporter.log_filter import LogFilter

from .errors import ValidationError

_INTEGER = "A valid integer is required."
_NUMBER = "A valid number is required."
_BOOLEAN = "Must be a valid boolean."
_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
_IP = "Enter a valid IPv4 or IPv6 address."
_NETWORK = "Enter a valid IPv4 or IPv6 network in CIDR notation, such as 10.0.0.0/8."
_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}
_STATUS_CLASSES = {"1xx": 1, "2xx": 2, "3xx": 3, "4xx": 4, "5xx": 5}
_MAX_INT = 2**31 - 1  # status_code is a 32-bit column


def _text(value: str) -> str:
    return value


def _integer(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        # DRF's IntegerField also accepts "12.0" (a whole decimal) but nothing else.
        try:
            as_float = float(value)
        except ValueError:
            raise ValueError(_INTEGER) from None
        if not as_float.is_integer():
            raise ValueError(_INTEGER) from None
        number = int(as_float)
    if abs(number) > _MAX_INT:
        raise ValueError(_INTEGER)
    return number


def _number(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(_NUMBER) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(_NUMBER)
    return number


def _boolean(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_BOOLEAN)


def _datetime(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_DATETIME) from None
    # Stored times are naive UTC; a time with an offset is converted, a naive one is taken as UTC.
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 shifted out of range by its offset
            raise ValueError(_DATETIME) from None
    return moment


def _status_class(value: str) -> int:
    key = value.strip().lower()
    if key not in _STATUS_CLASSES:
        raise ValueError(f'"{value}" is not a valid choice.')
    return _STATUS_CLASSES[key]


def _ip(value: str) -> str | ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address in any spelling (`::ffff:10.0.0.1`, `0:0:0:0:0:0:0:1`) or a network (`10.0.0.0/8`)."""
    try:
        return parse_ip_filter(value)
    except ValueError:
        raise ValueError(_NETWORK if "/" in value else _IP) from None


# parameter -> (LogFilter field, parser)
PARAMETERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "username": ("username", _text),
    "ip": ("ip", _ip),
    "method": ("method", lambda v: v.strip().upper()),
    "status_code": ("status_code", _integer),
    "status": ("status_class", _status_class),
    "endpoint": ("endpoint", _text),
    "endpoint_prefix": ("endpoint_prefix", _text),
    "route": ("route", _text),
    "device_type": ("device_type", lambda v: v.strip()),
    "is_bot": ("is_bot", _boolean),
    "has_exception": ("has_exception", _boolean),
    "exception_type": ("exception_type", _text),
    "trace_id": ("trace_id", lambda v: v.strip().lower()),
    "started_after": ("started_after", _datetime),
    "started_before": ("started_before", _datetime),
    "min_duration": ("min_duration", _number),
}


def parse_filters(query: Mapping[str, str]) -> LogFilter:
    """Build the filter from query parameters; raise `ValidationError` listing every bad one.

    `user=0` means anonymous requests (the spec's note); any other `user` value is a user id,
    matched as text because ids need not be integers (non-Django apps send any string).
    """
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    user = query.get("user", "").strip()
    if user == "0":
        values["anonymous"] = True
    elif user:
        values["user_id"] = user
    for name, (field, parse) in PARAMETERS.items():
        raw = query.get(name, "")
        if raw == "":
            continue
        try:
            values[field] = parse(raw)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return LogFilter(**values)
