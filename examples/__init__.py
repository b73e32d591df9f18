"""Runnable example apps instrumented with reqlog, one per ASGI framework."""
