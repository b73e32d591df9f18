"""A span's `http.request.header.*` / `http.response.header.*` attributes -> two header dicts.

Names become their display form (`headers.canonical_name`), several values of one header are
joined (`headers.join_values`), and credential headers get `[REDACTED]`. Finding the ~25 header
keys among a span's ~40 attributes is most of the work, and one service's spans come in a few
shapes (the same keys in the same order), so the result of that search is kept per shape as a
*plan*: which keys to fetch (one `itemgetter` call each side), under which names, and which values
to redact. The JSON columns are then written in C (`speedups.headers_json`) straight from the
values; a span whose header values are not the usual single string each goes the slow way, through
the dict.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from instrumentation import attributes as attr

from .attribute_values import strings
from .headers import canonical_name, join_values
from .redaction import REDACTED, Redactor
from .speedups import headers_json

_REQUEST_PREFIX_LEN = len(attr.REQUEST_HEADER_PREFIX)
_RESPONSE_PREFIX_LEN = len(attr.RESPONSE_HEADER_PREFIX)
_PLANS_MAX = 2048  # shapes kept; OTLP from many services must not grow it without bound


class _Side(NamedTuple):
    """How to read one side's headers (request or response) from attributes of one shape."""

    names: tuple[str, ...]  # display names, in attribute order
    fetch: Callable[[Mapping[str, Any]], Sequence[Any]]  # the values, in the same order
    redacted: dict[str, str]  # name -> REDACTED for the credential headers among them
    # For `speedups.headers_json`: each name encoded with its colon (or the whole redacted pair),
    # and which are redacted; None when two keys share a name (then only a dict gets it right).
    fragments: tuple[bytes, ...] | None
    secret: tuple[bool, ...]

    def json(self, attributes: Mapping[str, Any]) -> str | None:
        """The side's headers as JSON text (None when there are none)."""
        if not self.names:
            return None
        if self.fragments is not None:
            text = headers_json(tuple(self.fetch(attributes)), self.fragments, self.secret)
            if text is not None:
                return text
        return orjson.dumps(self.read(attributes)).decode()

    def read(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        values = self.fetch(attributes)
        try:
            texts = [value for (value,) in values]  # ValueError/TypeError unless each is a 1-tuple
            "".join(texts)  # TypeError unless each value is a string: the cheapest check there is
        except (TypeError, ValueError):
            return self._read_slowly(values)
        headers = dict(zip(self.names, texts, strict=False))  # strict costs; the lengths agree
        if self.redacted:
            headers.update(self.redacted)  # keeps each name where it stands
        return headers

    def _read_slowly(self, values: Sequence[Any]) -> dict[str, Any]:
        headers = {name: join_values(name, strings(value)) for name, value in zip(self.names, values, strict=True)}
        headers.update(self.redacted)
        return headers


def _side(keys: list[str], names: list[str], secret: list[bool]) -> _Side:
    fetch: Callable[[Mapping[str, Any]], Sequence[Any]]
    if not keys:
        fetch = lambda attributes: ()  # noqa: E731
    elif len(keys) == 1:
        only = keys[0]
        fetch = lambda attributes: (attributes[only],)  # noqa: E731
    else:
        fetch = operator.itemgetter(*keys)
    redacted = {name: REDACTED for name, is_secret in zip(names, secret, strict=True) if is_secret}
    fragments = None
    if len(set(names)) == len(names):
        fragments = tuple(
            orjson.dumps(name) + (b':"' + REDACTED.encode() + b'"' if is_secret else b":")
            for name, is_secret in zip(names, secret, strict=True)
        )
    return _Side(tuple(names), fetch, redacted, fragments, tuple(secret))


def _plan(keys: tuple[str, ...], redactor: Redactor) -> tuple[_Side, _Side]:
    sides: dict[bool, tuple[list[str], list[str], list[bool]]] = {True: ([], [], []), False: ([], [], [])}
    for key in keys:
        if key.startswith(attr.REQUEST_HEADER_PREFIX):
            is_request, name = True, canonical_name(key[_REQUEST_PREFIX_LEN:], request=True)
        elif key.startswith(attr.RESPONSE_HEADER_PREFIX):
            is_request, name = False, canonical_name(key[_RESPONSE_PREFIX_LEN:], request=False)
        else:
            continue
        side_keys, side_names, side_secret = sides[is_request]
        side_keys.append(key)
        side_names.append(name)
        side_secret.append(redactor.header_is_secret(name))
    return _side(*sides[True]), _side(*sides[False])


_PLANS: dict[tuple[frozenset[str], tuple[str, ...]], tuple[_Side, _Side]] = {}


def collect_headers(attributes: Mapping[str, Any], redactor: Redactor) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request and response headers a span's attributes carry, redacted, in attribute order."""
    request, response = _plan_for(attributes, redactor)
    return request.read(attributes), response.read(attributes)


def headers_json_columns(attributes: Mapping[str, Any], redactor: Redactor) -> tuple[str | None, str | None]:
    """`collect_headers` as the two JSON columns of the row (None for a side without headers)."""
    request, response = _plan_for(attributes, redactor)
    return request.json(attributes), response.json(attributes)


def _plan_for(attributes: Mapping[str, Any], redactor: Redactor) -> tuple[_Side, _Side]:
    shape = (redactor.headers, tuple(attributes))
    plan = _PLANS.get(shape)
    if plan is None:
        plan = _plan(shape[1], redactor)
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()  # shapes changed (a deploy, new clients): start over rather than grow
        _PLANS[shape] = plan
    return plan
