"""The OpenAPI `RequestLog` schema is derived from the row's fields, so it follows the row."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import jsonschema
import orjson
import pytest

from exporter.row import COLUMN_NAMES, RequestLog, render_json, row_values
from query_api.logs import schema

from .harness import make_row

SPEC_FIELDS = [
    "id", "user", "ip", "device", "device_type", "is_bot", "os", "browser", "scheme", "endpoint", "method",
    "status_code", "exception_type", "started_at", "finished_at", "duration", "created_at", "updated_at",
    "query_params", "body", "response", "request_headers", "response_headers", "exception_message",
    "exception_traceback",
]  # fmt: skip
NOW = datetime(2025, 11, 19, 14, 55, 32, 673075)


def _served(row: RequestLog) -> dict[str, object]:
    stored = dataclasses.replace(row, id=7, created_at=NOW, updated_at=NOW)
    parsed: dict[str, object] = orjson.loads(render_json(row_values(stored)))
    return parsed


def test_required_fields_are_the_specs_in_its_order() -> None:
    assert schema.REQUEST_LOG["required"] == SPEC_FIELDS


@pytest.mark.parametrize(
    "row",
    [
        make_row(1, user_id="42", username="ada", user_full_name="Ada"),
        make_row(2, user_id=None, username=None, status_code=None, duration=None, body=None, trace_id=None),
        make_row(3, user_id="not-a-number", body='"cut short"', request_body_truncated=True),
    ],
)
def test_served_rows_match_the_schema_field_for_field(row: RequestLog) -> None:
    served = _served(row)
    assert list(served) == list(schema.REQUEST_LOG["properties"])
    jsonschema.validate(served, {**schema.REQUEST_LOG, "additionalProperties": False})


def test_a_new_column_reaches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    columns = [(name, "VARCHAR", None) for name in COLUMN_NAMES] + [("region", "VARCHAR", None)]
    monkeypatch.setattr(schema, "iter_columns", lambda: iter(columns))
    derived = schema.request_log_schema()
    assert derived["properties"]["region"] == {"type": ["string", "null"]}
    assert "region" not in derived["required"]
