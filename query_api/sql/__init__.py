"""Analyst SQL: the sandbox, its results and their formats, and `POST /api/metrics/sql`."""
