"""Middleware options: one frozen object, validated up front, from arguments or `REQLOG_*` variables.

Resolution order is argument > `REQLOG_*` variable > OTel fallback variable > default (as in OTel's
`BatchSpanProcessor`). Each field's variable, default, parser and meaning are declared once, in
`settings_table.SETTINGS`; every option is described in `docs/instrumentation.md`. Parsing happens once, when
the middleware is built, so the request path only reads ready-made values (compiled regexes,
`ipaddress` networks, frozensets).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import RequestLogError
from .settings_table import SETTINGS, field

# Bodies captured by default: JSON (and any `+json` type), HTML forms and text. Patterns are MIME
# types, `type/*` or `*/*+suffix`; parameters such as `; charset=utf-8` are ignored.
DEFAULT_BODY_CONTENT_TYPES: tuple[str, ...] = SETTINGS["body_content_types"].default
DEFAULT_MAX_BODY_BYTES: int = SETTINGS["max_body_bytes"].default

UserTuple = tuple[Any, Any, Any]
UserResolver = Callable[[Mapping[str, Any]], "UserTuple | None"]


class OptionError(RequestLogError, ValueError):
    """A middleware option has a bad value; `option` names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """What `RequestLogMiddleware` captures. Each field is the entry of the same name in
    `settings_table.SETTINGS` (its `REQLOG_<FIELD>` variable, default and parser).

    - `max_body_bytes`: bytes of each body kept on the span (the prefix beyond is cut and flagged).
    - `capture_request_body` / `capture_response_body`: turn body capture off per direction.
    - `body_content_types`: allowlist of content types whose text is captured; other bodies keep
      only their size and content type.
    - `summarize_multipart`: record a multipart upload as field names, file names and sizes.
    - `trusted_proxies`: addresses and CIDRs whose forwarding headers are believed.
    - `excluded_urls`: regexes searched in `scheme://host/path`, as in OTel's `excluded_urls`
      (also read from `OTEL_PYTHON_EXCLUDED_URLS` when `REQLOG_EXCLUDED_URLS` is unset).
    - `sanitize_headers`: regexes of header names whose values are replaced by `[REDACTED]` on the
      span itself, as OTel's `OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS` (read when
      `REQLOG_SANITIZE_HEADERS` is unset). Default none: the exporter redacts before storing.
    - `methods`: log only requests with these methods (`GET,POST`); default every method. Other
      requests pass through untouched, as excluded URLs do.
    - `status_codes`: log only responses with these statuses: codes (`404`) or classes (`4xx`);
      default every status. A request whose status is not listed is dropped before export.
    """

    max_body_bytes: int = field(SETTINGS["max_body_bytes"])
    capture_request_body: bool = field(SETTINGS["capture_request_body"])
    capture_response_body: bool = field(SETTINGS["capture_response_body"])
    body_content_types: tuple[str, ...] = field(SETTINGS["body_content_types"])
    summarize_multipart: bool = field(SETTINGS["summarize_multipart"])
    trusted_proxies: tuple[str, ...] = field(SETTINGS["trusted_proxies"])
    excluded_urls: tuple[str, ...] = field(SETTINGS["excluded_urls"])
    sanitize_headers: tuple[str, ...] = field(SETTINGS["sanitize_headers"])
    methods: tuple[str, ...] = field(SETTINGS["methods"])
    status_codes: tuple[str, ...] = field(SETTINGS["status_codes"])

    def __post_init__(self) -> None:
        if isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int):
            raise OptionError("max_body_bytes", f"expected an integer, got {self.max_body_bytes!r}")
        if self.max_body_bytes < 0:
            raise OptionError("max_body_bytes", "must be 0 or more")
        for name in (
            "body_content_types",
            "trusted_proxies",
            "excluded_urls",
            "sanitize_headers",
            "methods",
            "status_codes",
        ):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, SETTINGS[name].convert(name, value, OptionError))
            else:
                object.__setattr__(self, name, tuple(value))
        # Validate now so a typo fails at start-up, not on the first request.
        parse_networks(self.trusted_proxies)
        for name in ("excluded_urls", "sanitize_headers"):
            for pattern in getattr(self, name):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise OptionError(name, f"bad regex {pattern!r}: {exc}") from None
        object.__setattr__(self, "methods", tuple(method.upper() for method in self.methods))
        self.status_matcher()
        for pattern in self.body_content_types:
            if "/" not in pattern:
                raise OptionError("body_content_types", f"expected a MIME type such as text/*, got {pattern!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Options:
        """Arguments (not `None`) win over `REQLOG_*` variables, which win over defaults.

        Raises `OptionError` (a `ValueError`) for an unknown option or a bad value.
        """
        env = os.environ if environ is None else environ
        settings = {option.name: option.metadata["setting"] for option in dataclasses.fields(cls)}
        unknown = set(overrides) - set(settings)
        if unknown:
            raise OptionError(sorted(unknown)[0], "unknown option")
        values: dict[str, Any] = {}
        for name, setting in settings.items():
            if overrides.get(name) is not None:
                values[name] = overrides[name]  # checked by `__post_init__`, as a direct `Options(...)` is
                continue
            raw = setting.raw(env)
            if raw is not None:
                values[name] = setting.convert(name, raw, OptionError)
        return cls(**values)

    def status_matcher(self) -> Callable[[int], bool] | None:
        """A predicate on a status code for `status_codes`; `None` when every status is logged."""
        if not self.status_codes:
            return None
        codes: set[int] = set()
        classes: set[int] = set()
        for value in self.status_codes:
            text = str(value).strip().lower()
            if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
                classes.add(int(text[0]))
            elif text.isdigit() and 100 <= int(text) <= 599:
                codes.add(int(text))
            else:
                raise OptionError(
                    "status_codes", f"expected a status such as 404 or a class such as 4xx, got {value!r}"
                )
        return lambda status: status in codes or status // 100 in classes

    def content_type_matcher(self) -> Callable[[str], bool]:
        """A predicate on a lowercased MIME type (no parameters) for `body_content_types`."""
        return _ContentTypes(self.body_content_types)


def parse_networks(
    values: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`10.0.0.0/8`, `127.0.0.1` or `::1` -> networks; raises `OptionError` for anything else."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise OptionError("trusted_proxies", f"not an address or CIDR: {value!r}") from None
    return tuple(networks)


class _ContentTypes:
    """Matches exact types, `type/*` and `*/*+suffix` patterns with set lookups, no regex."""

    __slots__ = ("_exact", "_any", "_prefixes", "_suffixes")

    def __init__(self, patterns: Iterable[str]) -> None:
        self._exact: set[str] = set()
        self._prefixes: set[str] = set()
        self._suffixes: set[str] = set()
        self._any = False
        for raw in patterns:
            pattern = raw.strip().lower()
            major, _, minor = pattern.partition("/")
            if pattern == "*/*":
                self._any = True
            elif minor == "*":
                self._prefixes.add(major)
            elif major == "*" and minor.startswith("*+"):
                self._suffixes.add(minor[1:])
            else:
                self._exact.add(pattern)

    def __call__(self, mime: str) -> bool:
        if self._any or mime in self._exact:
            return True
        major, _, minor = mime.partition("/")
        if major in self._prefixes:
            return True
        plus = minor.rfind("+")
        return plus >= 0 and minor[plus:] in self._suffixes
