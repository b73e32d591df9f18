"""The batch secret screen: it must say "may hold a secret" wherever the per-text scan does."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from exporter import REDACTED, Redactor
from exporter.flatten import span_values, spans_values
from exporter.row import COLUMN_NAMES
from exporter.secret_screen import SecretScreen, screen_pattern

from .spans import make_span

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILLER = 40  # texts per screen: enough for the vectorised path


def _fragment() -> st.SearchStrategy[str]:
    """Pieces of text near the secret keys: case changes, `-` for `_`, escapes, the two odd folds."""
    return st.one_of(st.sampled_from(NEAR_KEYS), st.text(max_size=8))


NEAR_KEYS = ["password", "PassWord", "api-key", "API_KEY", "apiKey", "TOKEN", "to\u212aen", "cvV", "ssn",
             "card-Number", "auth", "orization", "pass", "word", "secre", "t", "\\u0074", "%74", "\u0130",
             "api\u0130", "-", "_", '"', ":", "{", "}"]  # fmt: skip


TEXTS = st.lists(_fragment(), max_size=12).map("".join)


def _screened(redactor: Redactor, texts: list[str]) -> list[bool]:
    padded = texts + [f"filler {n}" for n in range(FILLER)]
    screen = SecretScreen(redactor, padded)
    return [screen(text) for text in padded[: len(texts)]]


@PROPERTY
@given(st.lists(TEXTS, min_size=1, max_size=20))
def test_batch_screen_covers_the_per_text_scan(texts: list[str]) -> None:
    redactor = Redactor()
    for text, flag in zip(texts, _screened(redactor, texts), strict=True):
        if redactor.may_hold_secret(text):
            assert flag, text
        elif text.isascii():
            assert not flag, text  # on ASCII text the two agree exactly


def test_screen_examples_and_custom_keys() -> None:
    texts = ['{"PassWord": 1}', '{"api-key": 1}', '{"to\u212aen": 1}', '{"\\u0070assword": 1}', "pass%77ord=1",
             '{"user": "ada"}', "page=2&sort=desc"]  # fmt: skip
    assert _screened(Redactor(), texts) == [True, True, True, True, True, False, False]
    # Keys with regex punctuation are literal; a non-ASCII key turns the vectorised path off.
    dotted = Redactor.build(add_keys=["x.y+z"])
    assert _screened(dotted, ['{"X.Y+Z": 1}', '{"xayyz": 1}']) == [True, False]
    assert screen_pattern(Redactor.build(add_keys=["mot_de_passé"]).scan_keys) is None
    accented = Redactor.build(add_keys=["mot_de_passé"])
    assert _screened(accented, ['{"MOT-DE-PASSÉ": 1}', '{"mot": 1}']) == [True, False]


def test_a_text_outside_the_batch_is_scanned_on_its_own() -> None:
    screen = SecretScreen(Redactor(), [f"filler {n}" for n in range(FILLER)])
    assert screen('{"password": 1}') is True
    assert screen('{"user": 1}') is False


def test_lone_surrogates_fall_back_to_the_per_text_scan() -> None:
    texts = ["\ud800 password", "\ud800 fine"] + [f"filler {n}" for n in range(FILLER)]
    screen = SecretScreen(Redactor(), texts)
    assert (screen(texts[0]), screen(texts[1])) == (True, False)


def test_batch_flattening_gives_the_rows_of_span_by_span_flattening(
    tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    bodies = ['{"order": 1}', '{"user": {"Password": "hunter2"}}', '{"x": "\\u0074oken"}', '{"api-key": "k"}',
              '{"note": "no secrets here"}', "[1, 2, 3]"]  # fmt: skip
    spans = [
        make_span(
            tracer_provider,
            span_exporter,
            {
                "http.request.method": "POST",
                "url.path": f"/orders/{n}",
                "url.query": "token=abc&page=2" if n % 2 else "page=2",
                "http.request.body.content": bodies[n % len(bodies)],
                "reqlog.request.body.content_type": "application/json",
                "http.response.body.content": bodies[(n + 1) % len(bodies)],
                "reqlog.response.body.content_type": "application/json",
            },
        )
        for n in range(3 * FILLER)
    ]
    batch = spans_values(spans)
    assert batch == [span_values(span) for span in spans]
    body, response, query = (COLUMN_NAMES.index(name) for name in ("body", "response", "query_params"))
    assert json.loads(batch[1][body]) == {"user": {"Password": REDACTED}}
    assert json.loads(batch[0][response]) == {"user": {"Password": REDACTED}}
    assert json.loads(batch[1][query]) == {"token": REDACTED, "page": "2"}
    assert all("hunter2" not in (row[body] + row[response]) for row in batch)  # type: ignore[index]
