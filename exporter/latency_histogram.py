"""Latency percentiles from a log-scale histogram built in the query: one hash aggregation, no sort.

Exact percentiles (`quantile_cont`) sort every duration of every group: at 10M rows the dashboard's
per-bucket percentiles over 30 days took ~0.7 s on two cores (more under load), most of it sorting.
Counting the rows per (group, bucket of the duration's logarithm) and walking the cumulative counts
finds the same rank's bucket with no sort (docs/ui.md, "Speed").

The buckets are those of DDSketch: bucket `k` holds durations in `(GAMMA**(k-1), GAMMA**k]` with
`GAMMA = (1 + ERROR) / (1 - ERROR)`, and stands for `2 * GAMMA**k / (GAMMA + 1)`, which is within
`ERROR` (relative) of every duration in it. A percentile `q` of `n` durations is the nearest-rank
one, the `ceil(q * n)`-th smallest (DuckDB's `quantile_disc`), so the answer is within `ERROR` of
a duration actually observed at that rank. Durations under `FLOOR_SECONDS` (including 0) share
one bucket that stands for 0; ones over `CEILING_SECONDS`, NaN or infinite are left out.
"""

from __future__ import annotations

import math

ERROR = 0.02  # relative error of every percentile, against the duration of its rank
GAMMA = (1 + ERROR) / (1 - ERROR)
FLOOR_SECONDS = 1e-6
QUANTILES = (0.5, 0.95, 0.99)
_LOG_GAMMA = math.log(GAMMA)
ZERO_BUCKET = math.ceil(math.log(FLOOR_SECONDS) / _LOG_GAMMA) - 1

CEILING_SECONDS = 1e9  # past this (and NaN, infinity) a duration is left out of the percentiles
# The duration's bucket; NULL for a NULL or unreal duration (a request, but not in the percentiles):
# one bad value must not fail the query (casting an infinite logarithm to INTEGER would).
BUCKET_SQL = (
    f"CASE WHEN duration >= {FLOOR_SECONDS!r} AND duration <= {CEILING_SECONDS!r} "
    f"THEN CAST(ceil(ln(duration) / {_LOG_GAMMA!r}) AS INTEGER) "
    f"WHEN duration < {FLOOR_SECONDS!r} THEN {ZERO_BUCKET} END"
)


def bucket_of(duration: float) -> int | None:
    """The bucket `BUCKET_SQL` puts `duration` in (for tests and for reading a histogram in Python)."""
    if duration < FLOOR_SECONDS:
        return ZERO_BUCKET
    if not duration <= CEILING_SECONDS:  # NaN too
        return None
    return math.ceil(math.log(duration) / _LOG_GAMMA)


def value_of(bucket: int) -> float:
    """The duration bucket `bucket` stands for."""
    return 0.0 if bucket <= ZERO_BUCKET else 2 * GAMMA**bucket / (GAMMA + 1)


def _value_sql(bucket: str) -> str:
    return f"CASE WHEN {bucket} <= {ZERO_BUCKET} THEN 0.0 ELSE 2 * pow({GAMMA!r}, {bucket}) / {GAMMA + 1!r} END"


def grouped_sql(group: str, source: str, where: str, counts: dict[str, str]) -> str:
    """Per `group` (an SQL expression over `source`'s rows matching `where`): `key`, `requests`,
    each of `counts` (name -> condition, counted), and `latency` = [p50, p95, p99] in seconds
    (NULL when the group has no duration). The caller orders and limits."""
    count_cells = "".join(
        f",\n        count(*) FILTER (WHERE {condition}) AS {name}" for name, condition in counts.items()
    )
    count_sums = "".join(f", sum({name})::BIGINT AS {name}" for name in counts)
    picks = ", ".join(
        _value_sql(f"min(bucket) FILTER (WHERE bucket IS NOT NULL AND below >= ceil({q!r} * timed))") for q in QUANTILES
    )
    return f"""WITH cells AS (
    SELECT {group} AS key, {BUCKET_SQL} AS bucket, count(*) AS n{count_cells}
    FROM {source} {where}
    GROUP BY 1, 2
), walked AS (
    SELECT *,
        sum(CASE WHEN bucket IS NULL THEN 0 ELSE n END) OVER (
            PARTITION BY key ORDER BY bucket NULLS LAST ROWS UNBOUNDED PRECEDING) AS below,
        sum(CASE WHEN bucket IS NULL THEN 0 ELSE n END) OVER (PARTITION BY key) AS timed
    FROM cells
)
SELECT key, sum(n)::BIGINT AS requests{count_sums}, [{picks}] AS latency
FROM walked
GROUP BY key"""
