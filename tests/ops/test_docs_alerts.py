"""The scrape configuration and alert rules of docs/operations.md name only what `/metrics` really exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.query_api.harness import Tokens, auth

from .conftest import send, spans_body

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _yaml_blocks() -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)]


async def test_alert_rules_use_exported_metrics(api_client: TestClient[Any, Any], tokens: Tokens) -> None:
    assert await send(api_client, tokens.ingest_only, spans_body(2)) == 200
    text = await (await api_client.get("/metrics", headers=auth(tokens.admin))).text()
    families = list(text_string_to_metric_families(text))
    exported = {sample.name for family in families for sample in family.samples} | {f.name for f in families}
    (scrape,) = [block for block in _yaml_blocks() if "scrape_configs" in block]
    assert scrape["scrape_configs"][0]["authorization"]["type"] == "Token"
    assert scrape["scrape_configs"][0]["metrics_path"] == "/metrics"
    (rules,) = [block for block in _yaml_blocks() if "groups" in block]
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    assert set(alerts) == {"ReqlogWriterStalled", "ReqlogRefusalsRising", "ReqlogDiskFillingUp"}
    for name, expr in alerts.items():
        used = set(re.findall(r"\b(reqlog_[a-z_]+)", expr))
        assert used and used <= exported, f"{name} uses {used - exported}, which /metrics does not export"
    table = re.findall(r"^\| `(reqlog_[a-z_]+)`", DOCS.read_text(), re.MULTILINE)
    assert len(table) > 10 and set(table) <= {name.removesuffix("_total") for name in exported} | exported
