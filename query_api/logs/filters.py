"""The list endpoint's query parameters -> a validated `LogFilter`, or DRF's field errors.

Pure functions, no I/O. Messages are DRF's serializer-field messages. As in DRF (django-filter),
unknown parameters are ignored, an empty value means "no filter", and a repeated parameter takes
its last value.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from exporter.ip_range import parse_ip_filter
from exporter.log_filter import LogFilter
from query_api.errors import ValidationError

_INTEGER = "A valid integer is required."
_NUMBER = "A valid number is required."
_BOOLEAN = "Must be a valid boolean."
_TOO_LONG = "String value too large."
_BLANK = "This field may not be blank."
_NULL_CHARACTER = "Null characters are not allowed."
_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
_DATETIME_RANGE = "Datetime value out of range."
_DATETIME_PATTERN = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"\s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_IP = "Enter a valid IPv4 or IPv6 address."
_NETWORK = "Enter a valid IPv4 or IPv6 network in CIDR notation, such as 10.0.0.0/8."
# DRF's BooleanField compares the lower-cased text with these (and strips nothing).
_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}
_STATUS_CLASSES = {"1xx": 1, "2xx": 2, "3xx": 3, "4xx": 4, "5xx": 5}
_MAX_STRING_LENGTH = 1000  # DRF's IntegerField and FloatField refuse longer text
_TRAILING_ZEROS = re.compile(r"\.0*\s*$")  # DRF's IntegerField drops this before `int()`
# status_code is a 32-bit column: a number beyond it matches no row, so it is clamped to just past
# the column's range (DRF accepts any integer and Django's lookup then finds nothing).
_STATUS_RANGE = (-(2**31) - 1, 2**31)


def _text(value: str) -> str:
    # DRF's CharField (trim_whitespace=False): any text but one with a NUL in it.
    if "\x00" in value:
        raise ValueError(_NULL_CHARACTER)
    return value


def _trimmed(value: str) -> str:
    # DRF's CharField with its default trim_whitespace: blank once stripped is an error.
    text = value.strip()
    if not text:
        raise ValueError(_BLANK)
    return _text(text)


def _integer(value: str) -> int:
    if len(value) > _MAX_STRING_LENGTH:
        raise ValueError(_TOO_LONG)
    try:
        number = int(_TRAILING_ZEROS.sub("", value))
    except ValueError:
        raise ValueError(_INTEGER) from None
    low, high = _STATUS_RANGE
    return min(max(number, low), high)


def _number(value: str) -> float:
    if len(value) > _MAX_STRING_LENGTH:
        raise ValueError(_TOO_LONG)
    try:
        number = float(value)
    except ValueError:
        raise ValueError(_NUMBER) from None
    if not math.isfinite(number):
        raise ValueError(_NUMBER)
    return number


def _boolean(value: str) -> bool:
    text = value.lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_BOOLEAN)


def _parse_datetime(text: str) -> datetime | None:
    # Django's `parse_datetime`, which DRF's DateTimeField uses: `fromisoformat`, then a looser
    # pattern (a space for the T, up to 12 fraction digits, an offset with or without its colon).
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _DATETIME_PATTERN.match(text)
    if match is None:
        return None
    parts = match.groupdict()
    offset = parts.pop("tzinfo")
    micro = parts.pop("microsecond")
    fields = {name: int(v) for name, v in parts.items() if v is not None}
    if micro:
        fields["microsecond"] = int(micro.ljust(6, "0"))
    zone = None
    if offset == "Z":
        zone = UTC
    elif offset is not None:
        minutes = 60 * int(offset[1:3]) + (int(offset[-2:]) if len(offset) > 3 else 0)
        zone = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
    try:
        return datetime(**fields, tzinfo=zone)
    except ValueError:  # well formed but no such time (month 13): DRF's wrong-format message
        return None


def _datetime(value: str) -> datetime:
    moment = _parse_datetime(value)
    if moment is None:
        raise ValueError(_DATETIME)
    # Stored times are naive UTC; a time with an offset is converted, a naive one is taken as UTC.
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 shifted out of range by its offset
            raise ValueError(_DATETIME_RANGE) from None
    return moment


def _status_class(value: str) -> int:
    # DRF's ChoiceField: the exact text of a choice.
    if value not in _STATUS_CLASSES:
        raise ValueError(f'"{value}" is not a valid choice.')
    return _STATUS_CLASSES[value]


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
    "method": ("method", lambda v: _trimmed(v).upper()),
    "status_code": ("status_code", _integer),
    "status": ("status_class", _status_class),
    "endpoint": ("endpoint", _text),
    "endpoint_prefix": ("endpoint_prefix", _text),
    "route": ("route", _text),
    "service_name": ("service_name", _text),
    "device_type": ("device_type", _trimmed),
    "is_bot": ("is_bot", _boolean),
    "has_exception": ("has_exception", _boolean),
    "exception_type": ("exception_type", _text),
    "trace_id": ("trace_id", lambda v: _trimmed(v).lower()),
    "started_after": ("started_after", _datetime),
    "started_before": ("started_before", _datetime),
    "min_duration": ("min_duration", _number),
    "max_duration": ("max_duration", _number),
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
