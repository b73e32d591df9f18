"""A lean protobuf view of OTLP trace requests: only the fields a row needs, attribute values as bytes.

upb parses lazily, but reading the stock messages is costly: every attribute is a `KeyValue`
holding an `AnyValue` holding (for a header) an `ArrayValue` of `AnyValue`s, and each of those is a
Python object made on access. Measured on realistic request spans (~45 attributes, most of them
header arrays): ~70 us a span to turn the attributes into Python values, twice the whole flattening.

So requests are parsed with wire-compatible messages declared here: an attribute is `bytes` (the
encoded `KeyValue`, unparsed: a length-delimited field either way), and only `trace_id`,
`span_id`, `kind`, the two times, attributes and events exist; protobuf skips every other field as
unknown. `AttributeDecoder` then reads each encoded attribute: the common encodings (a string, an
array of strings, a small integer, a bool, a double) straight from the bytes, anything else through
the real `KeyValue` parser, so every value decodes exactly as protobuf would, and a malformed one
raises `ValueError`. Most attributes repeat byte for byte from request to request (a header's name
and value, the method, the scheme), so decoded pairs are memoised by their encoded bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from .speedups import decode_attributes

MAX_DEPTH = 32  # nested arrays/maps deeper than this become None (a row never needs them)
_PACKAGE = "reqlog.otlp_lean"
_F = descriptor_pb2.FieldDescriptorProto
_ONE, _MANY = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
# (message, [(field, number, type, label, message type)]), numbered as in opentelemetry-proto.
_MESSAGES = (
    ("Event", [("name", 2, _F.TYPE_STRING, _ONE, ""), ("attributes", 3, _F.TYPE_BYTES, _MANY, "")]),
    (
        "Span",
        [
            ("trace_id", 1, _F.TYPE_BYTES, _ONE, ""),
            ("span_id", 2, _F.TYPE_BYTES, _ONE, ""),
            ("kind", 6, _F.TYPE_INT32, _ONE, ""),  # an enum on the wire is a varint too
            ("start_time_unix_nano", 7, _F.TYPE_FIXED64, _ONE, ""),
            ("end_time_unix_nano", 8, _F.TYPE_FIXED64, _ONE, ""),
            ("attributes", 9, _F.TYPE_BYTES, _MANY, ""),
            ("events", 11, _F.TYPE_MESSAGE, _MANY, "Event"),
        ],
    ),
    ("ScopeSpans", [("spans", 2, _F.TYPE_MESSAGE, _MANY, "Span")]),
    ("Resource", [("attributes", 1, _F.TYPE_BYTES, _MANY, "")]),
    (
        "ResourceSpans",
        [("resource", 1, _F.TYPE_MESSAGE, _ONE, "Resource"), ("scope_spans", 2, _F.TYPE_MESSAGE, _MANY, "ScopeSpans")],
    ),
    ("ExportTraceServiceRequest", [("resource_spans", 1, _F.TYPE_MESSAGE, _MANY, "ResourceSpans")]),
)


def _lean_request_class() -> Any:
    file = descriptor_pb2.FileDescriptorProto(name="reqlog_otlp_lean.proto", package=_PACKAGE, syntax="proto3")
    for name, fields in _MESSAGES:
        message = file.message_type.add(name=name)
        for field, number, kind, label, type_name in fields:
            entry = message.field.add(name=field, number=number, type=kind, label=label)
            if type_name:
                entry.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()  # a private pool: no clash with opentelemetry-proto's names
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.ExportTraceServiceRequest"))


LeanExportTraceServiceRequest = _lean_request_class()
_DOUBLE = struct.Struct("<d")


class AttributeDecoder:
    """Encoded `KeyValue`s -> a dict of the attributes kept (values of the others unread).

    An attribute is kept when its key is one of `keys` or starts with one of `prefixes`; the C
    decoder (`speedups.decode_attributes`) takes the same rule, and decodes a span whose values
    are all of the common kinds. Decoded pairs of up to `max_cached_bytes` are memoised, at most
    `max_entries` of them (the memo is emptied when full: simple, and real traffic refills it with
    what repeats; ~10 MB at most). Safe to share between threads: values are immutable and dict
    operations are atomic.
    """

    def __init__(
        self,
        keys: Iterable[str],
        prefixes: tuple[str, ...] = (),
        *,
        max_entries: int = 16_384,
        max_cached_bytes: int = 256,
    ) -> None:
        self._keys = frozenset(keys)
        self._prefixes = prefixes
        self._prefixes_utf8 = tuple(prefix.encode() for prefix in prefixes)
        self._memo: dict[bytes, tuple[str, Any] | tuple[()]] = {}  # () = not kept
        self._max_entries = max_entries
        self._max_cached_bytes = max_cached_bytes

    def keeps(self, key: str) -> bool:
        """Whether the attribute `key` is decoded (the others never are)."""
        return key in self._keys or key.startswith(self._prefixes)

    def decode(self, encoded: Iterable[bytes]) -> dict[str, Any]:
        """Raises `ValueError` naming the attribute when one the caller keeps is malformed."""
        if type(encoded) is not list:
            encoded = list(encoded)
        decoded = decode_attributes(encoded, self._keys, self._prefixes_utf8)
        if decoded is not None:
            return decoded
        memo = self._memo
        # The common case in C loops: look every attribute up, then build the dict from the pairs
        # (an unwanted attribute's pair is `()`, which `filter` drops). Only misses are decoded here.
        pairs = list(map(memo.get, encoded))
        if None in pairs:
            for i, pair in enumerate(pairs):
                if pair is None:
                    raw = encoded[i]
                    pairs[i] = pair = self._pair(raw)
                    if len(raw) <= self._max_cached_bytes:
                        if len(memo) >= self._max_entries:
                            memo.clear()
                        memo[raw] = pair
        return dict(filter(None, pairs))  # type: ignore[arg-type]

    def _pair(self, raw: bytes) -> tuple[str, Any] | tuple[()]:
        # KeyValue: field 1 (0x0A) the key, field 2 (0x12) the AnyValue; anything else: the real parser.
        size = len(raw)
        if size > 1 and raw[0] == 0x0A:
            length, start = _length(raw, 1)
            end = start + length
            if length >= 0 and end <= size and (end == size or raw[end] == 0x12):
                try:
                    key = raw[start:end].decode()
                except UnicodeDecodeError:
                    key = None
                if key is not None:
                    if not self.keeps(key):
                        return ()
                    if end == size:
                        return key, None
                    length, start = _length(raw, end + 1)
                    if length >= 0 and start + length == size:
                        return key, _checked(key, raw[start:])
        try:
            kv = KeyValue.FromString(raw)
        except DecodeError as exc:
            raise ValueError(f"malformed attribute: {exc}") from None
        if not self.keeps(kv.key):
            return ()
        return kv.key, python_value(kv.value, 0)


def _checked(key: str, raw: bytes) -> Any:
    try:
        return any_value(raw)
    except ValueError as exc:
        raise ValueError(f"attribute {key!r:.60}: {exc}") from None


def any_value(raw: bytes) -> Any:
    """An encoded `AnyValue` as a Python value: str, bool, int, float, bytes, tuple, dict or None.

    Raises `ValueError` when `raw` is not a valid `AnyValue` (including a string that is not UTF-8).
    """
    size = len(raw)
    if size < 2:
        return None if size == 0 else _slow(raw)
    tag = raw[0]
    if tag == 0x0A:  # string_value
        length, start = _length(raw, 1)
        if start + length == size:
            try:
                return raw[start:].decode()
            except UnicodeDecodeError:
                pass  # the real parser says why
    elif tag == 0x2A:  # array_value; the usual one holds a single string (a header's value)
        length, start = _length(raw, 1)
        if length > 0 and start + length == size and raw[start] == 0x0A:
            item_length, item_start = _length(raw, start + 1)
            if item_length > 0 and item_start + item_length == size and raw[item_start] == 0x0A:
                text_length, text_start = _length(raw, item_start + 1)
                if text_start + text_length == size:
                    try:
                        return (raw[text_start:].decode(),)
                    except UnicodeDecodeError:
                        pass
    elif tag == 0x18 and size <= 4:  # int_value below 2**21 (status codes, sizes)
        value = 0
        for shift, byte in enumerate(raw[1:]):
            value |= (byte & 0x7F) << (7 * shift)
            if byte < 0x80:
                if shift + 2 == size:  # the varint ends the value: nothing else in it
                    return value
                break
    elif tag == 0x10 and size == 2 and raw[1] < 2:  # bool_value
        return raw[1] == 1
    elif tag == 0x21 and size == 9:  # double_value
        return _DOUBLE.unpack_from(raw, 1)[0]
    return _slow(raw)


def _length(raw: bytes, at: int) -> tuple[int, int]:
    """A length varint of up to two bytes at `at`: (length, where the data starts); (-1, 0) otherwise."""
    if at >= len(raw):
        return -1, 0
    first = raw[at]
    if first < 0x80:
        return first, at + 1
    if at + 1 < len(raw) and raw[at + 1] < 0x80:
        return (first & 0x7F) | (raw[at + 1] << 7), at + 2
    return -1, 0


def _slow(raw: bytes) -> Any:
    try:
        return python_value(AnyValue.FromString(raw), 0)
    except DecodeError as exc:
        raise ValueError(f"malformed AnyValue: {exc}") from None


def python_value(value: AnyValue, depth: int) -> Any:
    """A parsed `AnyValue` as a Python value (arrays become tuples, key-value lists dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        if depth >= MAX_DEPTH:
            return None
        return tuple(python_value(v, depth + 1) for v in value.array_value.values)
    if kind == "kvlist_value":
        if depth >= MAX_DEPTH:
            return None
        return {kv.key: python_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return getattr(value, kind)
