"""Attacks on the decoding process's memory: distinct large header names, content types, user agents.

Before this change the decoder's memo tables were bounded by entry count only: 150 requests with
distinct 1 MiB values grew a decoding process by ~900 MB (user agents: our memo held 8,192 and
ua-parser's own 2,000). Now each table is bounded by bytes and never keeps a long key.
"""

from __future__ import annotations

from exporter import bounded_cache, header_attributes
from exporter.otlp import decode_protobuf
from exporter.redaction import Redactor
from tests.otlp_payloads import pb_request, pb_span

REQUESTS = 150
SIZE = 256 * 1024  # far past every per-key limit; 150 of them would be ~38 MB per table if kept


def _attack_request(i: int) -> bytes:
    big = f"{i:06d}" + "x" * SIZE
    span = pb_span(
        {
            "http.request.method": "POST",
            "url.path": "/login",
            "user_agent.original": f"Mozilla/5.0 {big}",
            f"http.request.header.x_{big}": ("v",),
            f"http.response.header.x_{big}": ("v",),
            "http.request.body.content": "{}",
            "http.request.body.content_type": f"application/json; q={big}",
        },
        span_id=(i + 1).to_bytes(8, "big"),
    )
    return pb_request([span]).SerializeToString()


def test_distinct_large_values_keep_every_cache_within_its_byte_budget() -> None:
    redactor = Redactor()
    for i in range(REQUESTS):
        decoded = decode_protobuf(_attack_request(i), redactor=redactor)
        assert len(decoded.rows) == 1  # each request is still stored, just not remembered
    caches = {cache.name: cache for cache in bounded_cache.caches()}
    assert {"user agents", "content types", "header names"} <= set(caches)
    for cache in caches.values():
        assert cache.bytes <= cache.max_bytes, cache.name
        # Other tests may have filled a cache with short keys; none of the attack's long ones is kept.
        assert all(len(str(key)) < SIZE for key in cache.data), f"{cache.name} kept a {SIZE}-byte value"
    # The tables the C header code reads are bounded by key length and by bytes too.
    tables = [header_attributes._HEADER_KEYS, header_attributes._NAME_FRAGMENTS, *header_attributes._FRAGMENTS.values()]
    for table in tables:
        assert all(len(key if isinstance(key, str) else key[0]) <= header_attributes.KEY_MAX_CHARS for key in table)
    snapshot = header_attributes.tables_snapshot()
    assert snapshot["bytes"] <= snapshot["max_bytes"] * len(tables)


def test_the_header_key_tables_keep_to_a_configured_byte_budget() -> None:
    redactor = Redactor()
    header_attributes.configure_tables(20_000)
    try:
        for i in range(200):  # 200 distinct short header keys: ~40 KB of entries against 20 KB
            span = pb_span({"http.request.method": "GET", f"http.request.header.x_{i:04d}": ("v",)})
            decode_protobuf(pb_request([span]).SerializeToString(), redactor=redactor)
            for table in (header_attributes._HEADER_KEYS, *header_attributes._FRAGMENTS.values()):
                assert header_attributes._TABLE_BYTES.get(id(table), 0) <= 20_000
        assert header_attributes.tables_snapshot()["max_bytes"] == 20_000
    finally:
        header_attributes.configure_tables(header_attributes.DEFAULT_TABLE_MAX_BYTES)


def test_a_long_value_is_still_classified_the_same_each_time() -> None:
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) " + "y" * SIZE
    from exporter.useragent import classify

    assert classify(agent) == classify(agent) and classify(agent).device_type == "mobile"
