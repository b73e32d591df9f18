"""`LogFilter`: the conditions a request-log listing can ask for, as fixed, parameterised SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from .ip_range import ip_condition


def _filter_field(sql: str | Callable[[Any], tuple[str, list[Any]]]) -> Any:
    return dataclasses.field(default=None, metadata={"sql": sql})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogFilter:
    """Conditions on request logs, all optional (`None` = no condition), combined with AND.

    Each field maps to one fixed SQL condition with a parameter, so no request text becomes SQL.
    `anonymous=True` keeps rows without a user (`False` those with one); `status_class` 2 means
    2xx; `has_exception` tests `exception_type`; times are naive UTC (`started_before` excluded);
    durations are seconds, both bounds included. `ip` is an address in any spelling or a network
    (`ip_range.ip_condition`). A field's SQL is a condition with one parameter, or a function of
    the value giving the condition and parameters.
    """

    anonymous: bool | None = _filter_field("(user_id IS NULL AND username IS NULL) = ?")
    user_id: str | None = _filter_field("user_id = ?")
    username: str | None = _filter_field("username = ?")
    ip: str | IPv4Network | IPv6Network | None = _filter_field(ip_condition)
    method: str | None = _filter_field("method = ?")
    status_code: int | None = _filter_field("status_code = ?")
    status_class: int | None = _filter_field("status_code // 100 = ?")
    endpoint: str | None = _filter_field("endpoint = ?")
    endpoint_prefix: str | None = _filter_field("starts_with(endpoint, ?)")
    route: str | None = _filter_field("route = ?")
    service_name: str | None = _filter_field("service_name = ?")
    device_type: str | None = _filter_field("device_type = ?")
    is_bot: bool | None = _filter_field("is_bot = ?")
    has_exception: bool | None = _filter_field("(exception_type IS NOT NULL) = ?")
    exception_type: str | None = _filter_field("exception_type = ?")
    trace_id: str | None = _filter_field("trace_id = ?")
    started_after: datetime | None = _filter_field("started_at >= ?")
    started_before: datetime | None = _filter_field("started_at < ?")
    min_duration: float | None = _filter_field("duration >= ?")
    max_duration: float | None = _filter_field("duration <= ?")

    def sql(self) -> tuple[list[str], list[Any]]:
        """The conditions in use and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            sql = field.metadata["sql"]
            if callable(sql):
                clause, values = sql(value)
                clauses.append(clause)
                params.extend(values)
            else:
                clauses.append(sql)
                params.append(value)
        return clauses, params
