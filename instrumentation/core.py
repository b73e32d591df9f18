"""`CaptureCore`: what the ASGI and the WSGI middleware share, so each capture rule is written once.

The two middlewares are thin adapters: each turns its protocol's request (an ASGI scope, a WSGI
environ) into the request's own attributes (method, URL) and its decoded headers, and hands them
here. The core decides everything else: the order of the request attributes (the SDK drops the
oldest past its attribute limit, so method and URL go first, headers last), the client address
behind trusted proxies, header sanitising, excluded URLs, the parent context, which bodies are
captured and how, and the span itself. The per-request state and the response side live in
`exchange.Exchange`.

The span starts with the request's own attributes, which a sampler sees; the header attributes are
set right after it started, as OTel's own middlewares set captured headers, through
`span_attributes.set_built_attributes` (the SDK's per-value re-check skipped for values built here).
When the sampler is one of the SDK's own, which never look at attributes (`sdk_shortcuts.py`), the
span starts with none, and the request's attributes and headers are written when it ends, in one
write with the response's (`Exchange.finish`): the span ends with the same attributes in the same
order, and its attribute dict is filled once rather than grown three times. While the request runs,
its span then carries no request attributes yet; a value the app sets itself under one of reqlog's
keys is replaced by reqlog's, as response attributes always were.

Built on OTel's own pieces, as its ASGI and WSGI instrumentations are: the SDK tracer, the global
propagator, `opentelemetry.util.http`'s `ExcludeList` and `SanitizeValue` and the
instrumentation-suppression switch.
"""

from __future__ import annotations

import os
from contextvars import Token
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.propagate import extract, get_global_textmap
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.http import ExcludeList, SanitizeValue

from . import attributes as attr
from .capture import SIZE, BodyCapture, choose_mode
from .client import ClientResolver
from .options import Options, UserResolver, parse_networks
from .sdk_shortcuts import W3CPropagation, sampler_ignores_attributes, w3c_propagation
from .span_attributes import set_built_attributes

TRACER_NAME = "reqlog.instrumentation"
REQ = attr.REQUEST_HEADER_PREFIX
CONTENT_TYPE = REQ + "content-type"
CONTENT_ENCODING = REQ + "content-encoding"
CONTENT_LENGTH = REQ + "content-length"
TRANSFER_ENCODING = REQ + "transfer-encoding"
EXPECT = REQ + "expect"
_USER_AGENT = REQ + "user-agent"
_FORWARDED_FOR = REQ + "x-forwarded-for"
_FORWARDED = REQ + "forwarded"
_REAL_IP = REQ + "x-real-ip"
_HEADER_PREFIXES = (attr.REQUEST_HEADER_PREFIX, attr.RESPONSE_HEADER_PREFIX)
_REDACTED = "[REDACTED]"  # what OTel's SanitizeValue writes
_SERVER = SpanKind.SERVER  # an enum member read through its class is a slow lookup, once per request
NAME_CACHE_SIZE = 512  # header names seen; bounded so hostile clients cannot grow it
# One-value header tuples shared between requests: most header values repeat (content types, user
# agents, `nosniff`...), and each new tuple is an object the cyclic GC counts and tracks until its
# next collection. Bounded by count and by value length (~128 KiB); emptied when full.
VALUE_CACHE_SIZE = 512
VALUE_CACHE_MAX_LENGTH = 256


class CaptureCore:
    """Options and caches shared by every request of one middleware; no per-request state."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None,
        user_resolver: UserResolver | None,
        options: Options | None,
        option_values: dict[str, Any],
    ) -> None:
        self.options = options if options is not None else Options.from_env(os.environ, **option_values)
        self.user_resolver = user_resolver
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        # OTel's own classes, so `excluded_urls` and header sanitising mean what they mean there.
        self._excluded = ExcludeList(self.options.excluded_urls) if self.options.excluded_urls else None
        self.sanitizer = SanitizeValue(self.options.sanitize_headers) if self.options.sanitize_headers else None
        self._secret_keys: dict[str, bool] = {}
        self._clients = ClientResolver(parse_networks(self.options.trusted_proxies))
        self._allowed = self.options.content_type_matcher()
        self.response_keys: dict[Any, str] = {}
        self.value_tuples: dict[str, tuple[str]] = {}
        self._modes: dict[tuple[str | None, str | None], int] = {}
        self.methods = frozenset(self.options.methods) or None
        self.status_logged = self.options.status_matcher()
        self._blind_sampler: bool | None = None  # known once the tracer is the SDK's (see start_span)
        self._propagation: tuple[object, W3CPropagation | None] = (None, None)  # see `parent`

    def excluded(self, url: str) -> bool:
        return self._excluded is not None and self._excluded.url_disabled(url)

    def client_and_version(
        self, attributes: dict[str, Any], headers: dict[str, Any], peer: str | None, version: str | None
    ) -> None:
        """Add the user agent, the client address (behind trusted proxies) and the HTTP version."""
        user_agent = headers.get(_USER_AGENT)
        if user_agent is not None:
            attributes[attr.USER_AGENT_ORIGINAL] = user_agent[0]
        if self._clients.enabled:
            peer = self._clients.resolve(
                peer,
                headers.get(_FORWARDED_FOR, ()),
                headers.get(_FORWARDED, ()),
                headers.get(_REAL_IP, ()),
            )
        if peer is not None:
            attributes[attr.CLIENT_ADDRESS] = peer
        if version:
            attributes[attr.NETWORK_PROTOCOL_VERSION] = version

    def parent(self, carrier: Any, getter: Getter[Any], headers: dict[str, Any], current: Context) -> Context:
        """As OTel's middlewares: a span already current is the parent; else the incoming `traceparent`.

        `current` is the context current at the request (`http_context()`). With the default W3C
        propagators and none of their headers in the request, the context that extracting would give
        is known without it (`sdk_shortcuts`).
        """
        parent = current
        if not current or not trace.get_current_span(current).get_span_context().is_valid:
            textmap = get_global_textmap()
            seen, w3c = self._propagation
            if textmap is not seen:  # a new global propagator: what it reads is learnt once
                w3c = w3c_propagation(textmap)
                self._propagation = (textmap, w3c)
            if w3c is None or not headers.keys().isdisjoint(w3c[0]):
                parent = extract(carrier, getter=getter)
            elif w3c[1]:
                parent = Context()
        return parent

    def start_span(
        self, attributes: dict[str, Any], headers: dict[str, Any], parent: Context | None
    ) -> tuple[Span, Token[Context], tuple[dict[str, Any], ...]]:
        """Start the SERVER span, make it current, and say which request attributes are still to be
        written when it ends (`Exchange.finish`): none, or the request's and its headers."""
        method = attributes.get(attr.HTTP_REQUEST_METHOD) or "HTTP"
        blind = self._blind_sampler
        if blind is None:
            blind = self._blind_sampler = sampler_ignores_attributes(self._tracer)
        if blind:  # the sampler reads no attributes: all of them are written once, at the end
            span = self._tracer.start_span(method, context=parent, kind=_SERVER)
            unwritten: tuple[dict[str, Any], ...] = (attributes, headers)
        else:
            span = self._tracer.start_span(method, context=parent, kind=_SERVER, attributes=attributes)
            if headers and span.is_recording():
                set_built_attributes(span, headers)
            unwritten = ()
        return span, context.attach(trace.set_span_in_context(span, parent)), unwritten

    def sanitize(self, headers: dict[str, Any]) -> None:
        """Replace the values of headers matching `sanitize_headers` with `[REDACTED]`, in place."""
        assert self.sanitizer is not None
        secret = self._secret_keys
        for key, value in headers.items():
            if not key.startswith(_HEADER_PREFIXES):
                continue
            hidden = secret.get(key)
            if hidden is None:
                name = key[len(REQ) :] if key.startswith(REQ) else key[len(attr.RESPONSE_HEADER_PREFIX) :]
                hidden = self.sanitizer.sanitize_header_value(name, "") == _REDACTED
                if len(secret) < NAME_CACHE_SIZE:
                    secret[key] = hidden
            if hidden:
                headers[key] = (_REDACTED,) * len(value)

    def request_body(self, headers: dict[str, Any]) -> BodyCapture | None:
        """The capture of the request body, or `None` when the request declares none."""
        length = headers.get(CONTENT_LENGTH)
        if length is None and TRANSFER_ENCODING not in headers:
            return None
        content_type = headers.get(CONTENT_TYPE)
        encoding = headers.get(CONTENT_ENCODING)
        return self.body_capture(
            content_type[0] if content_type else None,
            encoding[0] if encoding else None,
            length[0] if length else None,
            capture=self.options.capture_request_body,
        )

    def body_capture(
        self, content_type: str | None, encoding: str | None, length: str | None, *, capture: bool
    ) -> BodyCapture:
        """A capture for a body with these headers (`length`: the Content-Length value); size and
        type only when `capture` is off. A length that is not a plain non-negative number is none."""
        declared = None
        if length is not None:
            length = length.strip()
            if length.isascii() and length.isdigit():
                declared = int(length)
        if not capture:
            return BodyCapture(SIZE, content_type, 0, declared)
        key = (content_type, encoding)
        mode = self._modes.get(key)
        if mode is None:
            mode = choose_mode(
                content_type, encoding, allowed=self._allowed, summarize_multipart=self.options.summarize_multipart
            )
            if len(self._modes) < NAME_CACHE_SIZE:  # bounded: content types come from clients too
                self._modes[key] = mode
        return BodyCapture(mode, content_type, self.options.max_body_bytes, declared)


def http_context() -> Context | None:
    """The current context, or `None` when HTTP instrumentation is suppressed in it.

    OTel's `is_http_instrumentation_enabled()` reads three keys of the current context, each through
    a lookup of that context; it is asked only when the context holds anything, since an empty one
    (what a server thread or a new task starts from) suppresses nothing and holds no span.
    """
    current = context.get_current()
    if current and not is_http_instrumentation_enabled():
        return None
    return current


def one_value(cache: dict[str, tuple[str]], text: str) -> tuple[str]:
    """`(text,)`, the same tuple object for a value seen before (see `VALUE_CACHE_SIZE`)."""
    value = cache.get(text)
    if value is None:
        value = (text,)
        if len(text) <= VALUE_CACHE_MAX_LENGTH:
            if len(cache) >= VALUE_CACHE_SIZE:
                cache.clear()
            cache[text] = value
    return value


def add_header(attributes: dict[str, Any], key: str, text: str) -> None:
    """One header line: repeated headers keep every value, in order."""
    previous = attributes.get(key)
    attributes[key] = (text,) if previous is None else (*previous, text)
