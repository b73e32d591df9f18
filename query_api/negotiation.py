"""DRF's content negotiation for a JSON-only view, run before authentication as DRF runs it.

DRF picks a renderer from `?format=` first (a format no renderer has is a bare 404 "Not found.")
and then from `Accept`: the header is split on commas and a renderer is chosen if any media
range matches its media type, with the q values ignored (DRF orders by specificity, not by q).
reqlog renders JSON only, so the question is whether some range matches `application/json`;
when none does, the answer is DRF's 406. Pure functions, no I/O.
"""

from __future__ import annotations

from .errors import ApiError, NotFound

JSON_FORMAT = "json"
NOT_ACCEPTABLE = "Could not satisfy the request Accept header."


class NotAcceptable(ApiError):
    """406: no media range in `Accept` matches what the view renders."""

    def __init__(self) -> None:
        super().__init__(406, NOT_ACCEPTABLE)


def _matches_json(media_range: str) -> bool:
    # Django's `parse_header_parameters` lower-cases the type; parameters do not matter here,
    # since only the renderer's own parameters (JSON has none) must match.
    full_type = media_range.split(";", 1)[0].strip().lower()
    main, _, sub = full_type.partition("/")
    return main in ("*", "application") and sub in ("*", "json")


def negotiate(format_param: str | None, accept: str | None) -> None:
    """Raise DRF's answer when JSON cannot be served: `NotFound` for `?format=`, `NotAcceptable`."""
    if format_param and format_param != JSON_FORMAT:
        raise NotFound()
    ranges = (accept if accept is not None else "*/*").split(",")
    if not any(_matches_json(media_range) for media_range in ranges):
        raise NotAcceptable()
