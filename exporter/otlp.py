"""OTLP trace requests -> `RequestLog` rows, and the answers the receiver sends.

Both encodings (protobuf here, OTLP/JSON in `otlp_json`) go through `flatten.build_values`, the
function the in-process exporter uses, so a span makes the same row whichever way it arrives (rows
are value tuples in `RequestLog` column order, what the store's batch path takes). Decoding reads
only what a row needs: the span kind first (most spans of a trace are not HTTP server spans and are
skipped untouched), then the ids, times, `exception` events and the attributes `flatten` reads.
Protobuf is parsed through the lean messages of `otlp_wire`, which leave attribute values encoded
until a row needs them (docs/design-notes.md: touching fields is what costs).

Errors come at two levels. A payload that is not an `ExportTraceServiceRequest` at all (truncated
protobuf, invalid JSON, a wrong type in the envelope) raises `OtlpDecodeError`: the receiver answers
400. A span that cannot become a row (ids of the wrong length, no start time, a malformed value)
is *rejected* and counted; the rest of the request is stored, and the answer carries
`partial_success`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from instrumentation import attributes as attr

from . import limits
from .errors import RequestLogError
from .flatten import build_values
from .otlp_budget import Dropped, describe, flag_dropped, within_budget
from .otlp_wire import AttributeDecoder, LeanExportTraceServiceRequest
from .redaction import Redactor
from .repair import flatten_cleaned

logger = logging.getLogger(__name__)

SPAN_KIND_SERVER = 2
_MAX_MESSAGES = 5  # reasons quoted in a partial-success message; the count says how many there were
_HEADER_PREFIXES = (attr.REQUEST_HEADER_PREFIX, attr.RESPONSE_HEADER_PREFIX)
# Every key `flatten` can read is a constant of `instrumentation.attributes` (the rule for adding one),
# so this set follows it; tests/test_collector_same_row.py guards the contract end to end.
_WANTED = frozenset(
    value for name, value in vars(attr).items() if name.isupper() and isinstance(value, str) and "." in value
)


_SPAN = AttributeDecoder(_WANTED, _HEADER_PREFIXES)
_RESOURCE = AttributeDecoder({attr.SERVICE_NAME}, max_entries=1024)
# Whether a row can use the attribute `key` (others are never decoded); OTLP/JSON asks it too.
wanted = _SPAN.keeps


class OtlpDecodeError(RequestLogError, ValueError):
    """The payload is not a valid `ExportTraceServiceRequest`; the message says what is wrong."""


class SpanError(RequestLogError):
    """One span cannot become a row; the message names the field."""


@dataclasses.dataclass(slots=True)
class DecodedRequest:
    """What one OTLP request holds: the rows to store and what happened to the other spans.

    `rows` are value tuples in `RequestLog` column order (`RequestLog(*values)` makes the object).
    `ignored` counts spans that are not HTTP server spans (no row to make; not an error).
    `rejected` counts spans that are malformed; `errors` quotes the first few reasons.
    `repaired` counts spans stored with a value replaced (text that is not valid Unicode made
    U+FFFD); `notes` quotes the first few, reported as a partial-success warning.
    """

    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    spans: int = 0
    ignored: int = 0
    rejected: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    repaired: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    def repair(self, where: str, reason: str) -> None:
        self.repaired += 1
        if len(self.notes) < _MAX_MESSAGES:
            self.notes.append(f"{where}: {reason}")

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < _MAX_MESSAGES:
            self.errors.append(f"{where}: {reason}")

    @property
    def error_message(self) -> str:
        """The partial-success message: the first reasons, and how many spans were rejected or repaired."""
        parts = []
        for count, quoted, what in ((self.rejected, self.errors, "rejected"), (self.repaired, self.notes, "stored "
                                    "with values replaced")):  # fmt: skip
            if count:
                more = count - len(quoted)
                suffix = f"; and {more} more" if more > 0 else ""
                parts.append(f"{count} span(s) {what}: " + "; ".join(quoted) + suffix)
        return " | ".join(parts)


# -- protobuf ---------------------------------------------------------------------------------


def decode_protobuf(data: bytes, *, redactor: Redactor) -> DecodedRequest:
    """Decode a binary `ExportTraceServiceRequest`. Raises `OtlpDecodeError` when it does not parse."""
    try:
        request = LeanExportTraceServiceRequest.FromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        message = str(exc).replace("reqlog.otlp_lean.", "")  # name the message as the client knows it
        raise OtlpDecodeError(f"malformed protobuf ExportTraceServiceRequest: {message}") from exc
    out = DecodedRequest()
    header_budget = limits.max_span_header_bytes()
    for r, resource_spans in enumerate(request.resource_spans):
        try:
            service = _RESOURCE.decode(resource_spans.resource.attributes).get(attr.SERVICE_NAME)
            service = service if service is None or isinstance(service, str) else str(service)
        except ValueError as exc:
            raise OtlpDecodeError(
                f"malformed protobuf ExportTraceServiceRequest: resource_spans[{r}].resource: {exc}"
            ) from exc
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for i, span in enumerate(scope_spans.spans):
                out.spans += 1
                if span.kind != SPAN_KIND_SERVER:
                    out.ignored += 1
                    continue
                where = f"resource_spans[{r}].scope_spans[{s}].spans[{i}]"
                # Protobuf makes a bytes object on each access: one list, reused by the decoder.
                encoded, dropped = list(span.attributes), None
                if sum(map(len, encoded)) > header_budget:  # the usual span: far under (`otlp_budget`)
                    encoded, dropped = within_budget(encoded, header_budget)
                try:
                    row = build(
                        out,
                        where,
                        _attributes(encoded),
                        events=[
                            (attr.EXCEPTION_EVENT, _attributes(e.attributes))
                            for e in span.events
                            if e.name == attr.EXCEPTION_EVENT  # only these feed the row
                        ],
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        trace_id=id_hex(span.trace_id, 16, "trace_id"),
                        span_id=id_hex(span.span_id, 8, "span_id"),
                        service_name=service,
                        redactor=redactor,
                    )
                except SpanError as exc:
                    out.reject(where, str(exc))
                    continue
                add_row(out, flag_budget(out, where, row, dropped))
    return out


def _attributes(encoded: Iterable[bytes]) -> dict[str, Any]:
    try:
        return _SPAN.decode(encoded)
    except ValueError as exc:
        raise SpanError(str(exc)) from None


# -- shared with otlp_json ----------------------------------------------------------------------


def id_hex(raw: bytes, size: int, name: str) -> str:
    """A trace or span id as lowercase hex; `SpanError` when it has the wrong length or is all zeros."""
    if len(raw) != size:
        raise SpanError(f"{name} has {len(raw)} bytes, expected {size}")
    if not any(raw):
        raise SpanError(f"{name} is all zeros")
    return raw.hex()


def build(
    out: DecodedRequest, where: str, attributes: dict[str, Any], *, start_ns: int, **kwargs: Any
) -> tuple[Any, ...] | None:
    """`build_values` for one decoded span; `SpanError` when it cannot make a row.

    A span whose flattening raises (text that is not valid Unicode, from an OTLP/JSON `\\ud800`
    escape or a lenient parse) is flattened again with its text cleaned, and counted as repaired.
    """
    if not start_ns:
        raise SpanError("start_time_unix_nano is missing")
    try:
        return build_values(attributes, start_ns=start_ns, **kwargs)
    except Exception as first:
        try:
            row = flatten_cleaned(
                build_values,
                (
                    attributes,
                    kwargs["events"],
                    start_ns,
                    kwargs["end_ns"],
                    kwargs["trace_id"],
                    kwargs["span_id"],
                    kwargs["service_name"],
                    kwargs["redactor"],
                ),
            )
        except Exception as exc:
            # build_values promises not to raise on any attribute value; if it does anyway, that is our
            # bug, and it must cost one span, not the whole request.
            logger.exception("could not flatten %s", where)
            raise SpanError(f"could not be flattened ({type(exc).__name__})") from exc
        out.repair(where, f"text that is not valid Unicode replaced by U+FFFD ({type(first).__name__})")
        return row


def flag_budget(
    out: DecodedRequest, where: str, row: tuple[Any, ...] | None, dropped: Dropped | None
) -> tuple[Any, ...] | None:
    """The row flagged for the header attributes its span's budget dropped, reported as a repair."""
    if dropped is None or row is None:
        return row
    out.repair(where, describe(dropped))
    return flag_dropped(row, dropped)


def add_row(out: DecodedRequest, row: tuple[Any, ...] | None) -> None:
    """Count a built span: a row, or ignored (a server span without an HTTP method)."""
    if row is None:
        out.ignored += 1
    else:
        out.rows.append(row)


# -- answers ----------------------------------------------------------------------------------


def encode_response(decoded: DecodedRequest, *, json: bool) -> bytes:
    """`ExportTraceServiceResponse`, with `partial_success` set only when spans were rejected or repaired.

    Repaired spans alone give `rejected_spans` 0 with a message: the OTLP specification's warning.
    """
    if json:
        if not decoded.rejected and not decoded.repaired:
            return b"{}"
        partial = {"rejectedSpans": str(decoded.rejected), "errorMessage": decoded.error_message}
        return orjson.dumps({"partialSuccess": partial})
    response = ExportTraceServiceResponse()
    if decoded.rejected or decoded.repaired:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=decoded.rejected, error_message=decoded.error_message)
        )
    encoded: bytes = response.SerializeToString()
    return encoded


def encode_status(code: int, message: str, *, json: bool) -> bytes:
    """A `google.rpc.Status` (gRPC `code`, `message`): the body OTLP/HTTP gives every 4xx and 5xx."""
    if json:
        return orjson.dumps({"code": code, "message": message})
    encoded: bytes = status_pb2.Status(code=code, message=message).SerializeToString()
    return encoded
