"""Running reqlog for real: health and readiness checks, Prometheus metrics, backups, the listening socket.

`app.ROUTES` serves `GET /healthz`, `GET /readyz` (`health`) and `GET /metrics` (`metrics_view`);
`setup` gives the app its metrics registry (`registry`) and hands the writer its commit timer;
`metrics.http_metrics_middleware` is the app's outermost middleware, and `metrics`'s one-line calls
count events where they happen. `reqlog backup` is `backup_cli` over `backup`; `listen` binds the
service's socket before anything else opens.
"""
