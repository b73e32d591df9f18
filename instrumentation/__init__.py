"""reqlog's instrumentation: puts the whole request and response on the OTel server span."""

from __future__ import annotations

from . import attributes

__all__ = ["attributes"]
