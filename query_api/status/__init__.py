"""`GET /api/metrics/service`: the running service's counters."""
