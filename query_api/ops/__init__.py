"""Running reqlog for real: health and readiness checks, Prometheus metrics, backups.

`setup.setup_ops(app)` registers `GET /healthz`, `GET /readyz` and `GET /metrics` and the metrics
registry; `metrics.http_metrics_middleware` must be the app's outermost middleware, so that it sees
every answer, errors included. `reqlog backup` is `backup_cli`. This file imports nothing, so the
modules that count events (`ingest`, `sql_api`) can import `ops.metrics` alone.
"""
