"""The row type: one declaration from which columns and the API's JSON are derived."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from exporter import RequestLog, to_json
from exporter.row import (
    COLUMN,
    COLUMN_NAMES,
    JSON_COLUMNS,
    JSON_POSITIONS,
    format_timestamp,
    render_json,
    row_values,
    user_id_value,
)

SPEC_FIELDS = [
    "id", "user", "ip", "device", "device_type", "is_bot", "os", "browser", "scheme", "endpoint", "method",
    "status_code", "exception_type", "started_at", "finished_at", "duration", "created_at", "updated_at",
    "query_params", "body", "response", "request_headers", "response_headers", "exception_message",
    "exception_traceback",
]  # fmt: skip


def test_columns_are_the_spec_fields_with_the_user_flattened_then_the_extras() -> None:
    flattened = [c for c in COLUMN_NAMES if c not in ("user_id", "username", "user_full_name")]
    assert flattened[: len(SPEC_FIELDS) - 1] == [f for f in SPEC_FIELDS if f != "user"]
    assert COLUMN_NAMES[1:4] == ("user_id", "username", "user_full_name")
    assert COLUMN_NAMES[27:31] == ("trace_id", "span_id", "service_name", "route")
    assert JSON_COLUMNS == {"query_params", "body", "response", "request_headers", "response_headers"}


def test_json_shape_and_order() -> None:
    row = RequestLog(id=5, user_id="42", username="ada", user_full_name="Ada Lovelace", duration=0.1159584,
                     started_at=datetime(2025, 11, 19, 14, 55, 32, 673075), query_params='{"a": [1, 2]}')  # fmt: skip
    out = json.loads(to_json(row))
    assert list(out)[: len(SPEC_FIELDS)] == SPEC_FIELDS
    assert out["user"] == {"id": 42, "username": "ada", "full_name": "Ada Lovelace"}
    assert out["duration"] == 0.115958  # six decimals, a JSON number
    assert out["started_at"] == "2025-11-19T14:55:32.673075Z"
    assert out["query_params"] == {"a": [1, 2]}
    assert out["body"] is None and out["finished_at"] is None


@pytest.mark.parametrize(
    ("stored", "served"),
    [("42", 42), ("-3", -3), ("0b5d2c1e-7d5a-4a8e-9a1f-3c2b1a0f9e8d", "0b5d2c1e-7d5a-4a8e-9a1f-3c2b1a0f9e8d"),
     ("007", "007"), ("4.5", "4.5"), (None, None)],
)  # fmt: skip
def test_user_ids_integers_served_as_numbers_others_as_strings(stored: str | None, served: object) -> None:
    assert user_id_value(stored) == served


def test_anonymous_user_is_null() -> None:
    assert json.loads(to_json(RequestLog(id=1)))["user"] is None


def test_timestamps_like_drf() -> None:
    assert format_timestamp(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05Z"  # no fraction when zero
    assert format_timestamp(datetime(2025, 1, 2, 3, 4, 5, 60, tzinfo=UTC)) == "2025-01-02T03:04:05.000060Z"
    assert format_timestamp(None) is None


def test_stored_json_text_is_spliced_not_reparsed() -> None:
    # Key order and spacing of the stored text survive: the text is not parsed and dumped again.
    row = RequestLog(id=1, request_headers='{"Z": "1",  "A": "2"}')
    assert b'"request_headers":{"Z": "1",  "A": "2"}' in render_json(row_values(row))


def test_values_round_trip() -> None:
    row = RequestLog(id=9, method="GET", is_bot=True, status_code=200)
    assert RequestLog(*row_values(row)) == row
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.method = "POST"  # type: ignore[misc]


def test_column_positions_name_every_column_in_its_place() -> None:
    assert COLUMN._fields == COLUMN_NAMES
    assert list(COLUMN) == list(range(len(COLUMN_NAMES)))
    assert [COLUMN_NAMES[i] for i in JSON_POSITIONS] == [name for name in COLUMN_NAMES if name in JSON_COLUMNS]
    values = row_values(RequestLog(endpoint="/orders", span_id="00f067aa0ba902b7", status_code=201))
    assert (values[COLUMN.endpoint], values[COLUMN.span_id], values[COLUMN.status_code]) == (
        "/orders",
        "00f067aa0ba902b7",
        201,
    )
