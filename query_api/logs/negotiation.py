"""DRF's content negotiation for a JSON-only view, run before authentication as DRF runs it.

DRF picks a renderer from `?format=` first (a format no renderer has is a bare 404 "Not found.")
and then from `Accept`: the header is split on commas (at most 64 ranges of at most 256
characters from its first 8,192) and a renderer is chosen if any range matches its media type,
with q values ignored: DRF orders ranges by specificity, not by q. reqlog renders JSON only, so
the question is whether some range matches `application/json`; when none does, the answer is
DRF's 406. The range chosen may ask for indented JSON (`application/json; indent=4`), which DRF's
`JSONRenderer` honours. Pure functions, no I/O.
"""

from __future__ import annotations

import dataclasses

from query_api.errors import ApiError, NotFound

JSON_FORMAT = "json"
NOT_ACCEPTABLE = "Could not satisfy the request Accept header."
_MAX_HEADER = 8192
_MAX_RANGES = 64
_MAX_RANGE = 256
_MAX_INDENT = 8


class NotAcceptable(ApiError):
    """406: no media range in `Accept` matches what the view renders."""

    def __init__(self) -> None:
        super().__init__(406, NOT_ACCEPTABLE)


@dataclasses.dataclass(frozen=True, slots=True)
class _Range:
    main: str
    sub: str
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> _Range:
        # As Django's `parse_header_parameters`: the type and parameter names lower-cased,
        # quoted values unquoted.
        full_type, *pairs = text.split(";")
        main, _, sub = full_type.strip().lower().partition("/")
        params: dict[str, str] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if sep:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                params[name.strip().lower()] = value
        return cls(main, sub, params)

    def matches_json(self) -> bool:
        return self.main in ("*", "application") and self.sub in ("*", "json")

    @property
    def precedence(self) -> int:
        if self.main == "*":
            return 0
        if self.sub == "*":
            return 1
        return 2 if set(self.params) <= {"q"} else 3


def _ranges(accept: str) -> list[_Range]:
    if len(accept) > _MAX_HEADER:
        cut = accept.rfind(",", 0, _MAX_HEADER)
        accept = accept[: cut + 1] if cut != -1 else ""
    ranges: list[_Range] = []
    for token in accept.split(","):
        token = token.strip()
        if not token or len(token) > _MAX_RANGE:
            continue  # skipped, not the end: a bad range does not hide the ones after it
        ranges.append(_Range.parse(token))
        if len(ranges) >= _MAX_RANGES:
            break
    return ranges


def _indent(chosen: _Range) -> int | None:
    try:
        indent = max(min(int(chosen.params["indent"]), _MAX_INDENT), 0)
    except (KeyError, ValueError):
        return None
    return indent or None  # DRF reads indent=0 as no indent


def negotiate(format_param: str | None, accept: str | None) -> int | None:
    """The indent the client asked for (`None`: compact JSON), or raise DRF's refusal.

    Raises `NotFound` for a `?format=` other than json and `NotAcceptable` for an `Accept` header
    without a range matching `application/json`.
    """
    if format_param and format_param != JSON_FORMAT:
        raise NotFound()
    matching = [r for r in _ranges(accept if accept is not None else "*/*") if r.matches_json()]
    if not matching:
        raise NotAcceptable()
    # The most specific range wins (DRF's order); among equals, the first in the header.
    return _indent(max(matching, key=lambda r: r.precedence))
