"""Put the attributes reqlog built itself on an SDK span without the SDK checking each value again.

`Span.set_attributes` cleans every value it is given: type checks per value and, for a sequence,
an `isinstance(value, Sequence)` ABC check, one check per element and a copy into a new tuple. A
request log carries ~40 attributes, most of them header tuples, and that cleaning was about half of
what the middleware added to a request (docs/instrumentation.md, "Cost"). The values it builds are
already what the cleaning would produce: `str`, `int`, `bool` and tuples of `str`. So on the SDK's
own span, with no attribute value length limit set, they go straight into the span's attribute
dict, under the same two locks and with the same rules the SDK applies: nothing is set on an ended
span (the SDK's warning is logged), and past the attribute limit the oldest attributes are dropped
and counted. Anything else (another API implementation, a limit on value length, an SDK whose
internals differ from the ones probed at first use) takes `set_attributes`, so this path can only be
absent, never different.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span

AttributeValue = str | int | bool | tuple[str, ...]

_usable: bool | None = None  # whether the SDK's internals are the ones this module writes to
# The SDK span classes seen, once the SDK is known usable: `isinstance` against the SDK's `Span`, an
# ABC, runs Python code each time.
_sdk_spans: set[type] = set()


def _admit(kind: type) -> bool:
    """Whether spans of `kind` are the SDK's and its internals were probed usable (remembered if so)."""
    if not (_usable if _usable is not None else _probe()) or not issubclass(kind, SdkSpan):
        return False
    if len(_sdk_spans) < 16:
        _sdk_spans.add(kind)
    return True


def set_built_attributes(span: Span, *parts: Mapping[str, AttributeValue], name: str | None = None) -> None:
    """`span.set_attributes(part)` for each of `parts` in order (several dicts written in one go,
    without merging them into another), for values of the types above, built by this package; then
    `span.update_name(name)` if a name is given, under the same lock."""
    kind = type(span)
    if kind not in _sdk_spans and not _admit(kind):
        _through_sdk(span, parts, name)
        return
    sdk_span: Any = span  # an SDK span: its internals are the ones probed
    bounded: Any = getattr(sdk_span, "_attributes", None)  # a subclass may keep them elsewhere
    if type(bounded) is not BoundedAttributes or bounded.max_value_len is not None:
        _through_sdk(span, parts, name)
        return
    with sdk_span._lock:  # the SDK's own lock for its attributes and its end time
        if sdk_span._end_time is not None:
            ended = True
        else:
            ended = False
            store: dict[str, Any] = bounded._dict
            maxlen = bounded.maxlen
            with bounded._lock:
                if maxlen is None or len(store) + sum(map(len, parts)) <= maxlen:
                    for part in parts:
                        store.update(part)
                else:  # the SDK's own rule: drop (and count) the oldest past the limit
                    for part in parts:
                        for key, value in part.items():
                            bounded._setitem_locked(key, value)
            if name is not None:
                sdk_span._name = name  # what the SDK's `update_name` does under this lock
    if ended:
        _through_sdk(span, parts, name)  # logs the SDK's "Setting attribute on ended span"


def _through_sdk(span: Span, parts: tuple[Mapping[str, AttributeValue], ...], name: str | None) -> None:
    for part in parts:
        span.set_attributes(part)
    if name is not None:
        span.update_name(name)


def _probe() -> bool:
    """Check once, on a span of a private provider, that the SDK keeps its attributes as expected."""
    global _usable
    try:
        provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)
        span: Any = provider.get_tracer(__name__).start_span("probe")
        bounded = span._attributes
        _usable = (
            type(bounded) is BoundedAttributes
            and isinstance(bounded._dict, dict)
            and callable(getattr(bounded, "_setitem_locked", None))
            and hasattr(bounded._lock, "__enter__")
            and hasattr(span._lock, "__enter__")
            and span._end_time is None
            and span._name == "probe"
        )
        span.end()
        _usable = _usable and span._end_time is not None
    except Exception:
        _usable = False
    return _usable
