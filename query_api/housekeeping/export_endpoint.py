"""`GET /api/metrics/request_logs/export` (admin or 3603): the rows of a time range as an Arrow IPC stream.

`reqlog export --url` writes it as Parquet (`export.write_parquet`). The row count comes first, in
`X-Reqlog-Rows`; the rows come from one consistent read (`LogStore.export_batches`) on one of the
analysis threads, held for as long as the client keeps reading (`sql_stall_timeout`).
"""

from __future__ import annotations

import asyncio
import io
import logging

import pyarrow as pa
from aiohttp import web

from query_api.auth import PERM_SQL, authorize
from query_api.errors import ValidationError
from query_api.housekeeping.export import ARROW_STREAM, BATCH_ROWS, parse_bound
from query_api.keys import SETTINGS_KEY, STORE_KEY
from query_api.sql.endpoint import ANALYSIS_ERRORS
from query_api.sql.slots import sql_slot

logger = logging.getLogger("reqlog.sql")

PATH = "/api/metrics/request_logs/export"


async def export_logs(request: web.Request) -> web.StreamResponse:
    """Stream the rows with `since <= started_at < until` as Arrow IPC, oldest first."""
    await authorize(request, PERM_SQL)
    errors: dict[str, list[str]] = {}
    bounds = []
    for name, end in (("since", False), ("until", True)):
        try:
            bounds.append(parse_bound(request.query.get(name), end=end))
        except ValueError:
            errors[name] = ["Enter a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDThh:mm[:ss][+HH:MM|Z])."]
    if errors:
        raise ValidationError(errors)
    store = request.app[STORE_KEY]
    async with sql_slot(request.app) as pool:
        read = await pool.run(lambda: store.export_batches(bounds[0], bounds[1], batch_rows=BATCH_ROWS))
        total, reader = read.total, read.rows
        try:
            response = web.StreamResponse(headers={"Content-Type": ARROW_STREAM, "X-Reqlog-Rows": str(total)})
            await response.prepare(request)
            sink = io.BytesIO()
            writer = pa.ipc.new_stream(sink, reader.schema)
            stall = request.app[SETTINGS_KEY].sql_stall_timeout
            while True:
                chunk = await pool.run(_next_chunk, reader, writer, sink)
                if chunk is None:
                    break
                # A client that stops reading would hold this SQL slot (and its DuckDB cursor) for ever:
                # past the stall timeout the download is cut off, and the `finally` frees both.
                try:
                    await asyncio.wait_for(response.write(chunk), stall)
                except TimeoutError:
                    logger.warning("export: the client read nothing for %g s; download cut off", stall)
                    if request.transport is not None:
                        request.transport.abort()
                    return response
            writer.close()
            await response.write(sink.getvalue())
            await response.write_eof()
            return response
        finally:
            await pool.run(read.close)


def _next_chunk(reader: pa.RecordBatchReader, writer: pa.ipc.RecordBatchStreamWriter, sink: io.BytesIO) -> bytes | None:
    try:
        batch = reader.read_next_batch()
    except StopIteration:
        return None
    writer.write_batch(batch)
    chunk = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return chunk


OPERATIONS = {
    "get": {
        "operationId": "exportRequestLogs",
        "summary": "Stream request logs as Arrow IPC, oldest first (admin, or permission 3603).",
        "parameters": [
            {"name": "since", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "until", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "An Arrow IPC stream of request-log rows; `X-Reqlog-Rows` gives their number.",
                "headers": {"X-Reqlog-Rows": {"schema": {"type": "string"}}},
                "content": {"application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}}},
            },
            **ANALYSIS_ERRORS,
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
}
