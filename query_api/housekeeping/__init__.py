"""Housekeeping of the stored rows: Parquet export and retention (the daily job and `prune`)."""
