"""The viewer's own settings: where trace links point, the session secret, how long a session lasts.

Each has a `REQLOG_*` variable declared in the one settings table (`exporter.settings_table`), read by
the command line (`query_api.cli`) and handed to `create_app`:

- `trace_url` (`REQLOG_TRACE_URL`): a link to the tracing UI, with `{trace_id}` (and optionally
  `{span_id}`) in it, e.g. `https://jaeger.example/trace/{trace_id}`. Only http(s) URLs are taken, so
  a setting can never turn the link into script. Unset: no trace link.
- `ui_secret` (`REQLOG_UI_SECRET`): the key that signs session cookies. Unset: a random key kept in the
  file `ui-secret` (mode 0600) beside the database, made on first start.
- `ui_session_hours` (`REQLOG_UI_SESSION_HOURS`): a session's lifetime, default 12 hours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from exporter.errors import ConfigError
from exporter.settings_table import field, resolve

_MIN_SECRET_LENGTH = 32


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UiSettings:
    trace_url: str | None = field("trace_url")
    ui_secret: str | None = field("ui_secret")
    ui_session_hours: float = field("ui_session_hours")

    def __post_init__(self) -> None:
        if self.trace_url is not None:
            if not self.trace_url.startswith(("http://", "https://")):
                raise ConfigError("REQLOG_TRACE_URL", "must be an http:// or https:// URL")
            if "{trace_id}" not in self.trace_url:
                raise ConfigError("REQLOG_TRACE_URL", "must contain {trace_id}")
            try:
                self.trace_link("0" * 32, "0" * 16)
            except (KeyError, IndexError, ValueError):
                raise ConfigError("REQLOG_TRACE_URL", "may use only {trace_id} and {span_id}") from None
        if self.ui_secret is not None and len(self.ui_secret) < _MIN_SECRET_LENGTH:
            raise ConfigError("REQLOG_UI_SECRET", f"needs at least {_MIN_SECRET_LENGTH} characters")
        if not 0 < self.ui_session_hours <= 24 * 90:
            raise ConfigError("REQLOG_UI_SESSION_HOURS", "must be more than 0 and at most 2160 (90 days)")

    def trace_link(self, trace_id: str | None, span_id: str | None) -> str | None:
        """The tracing UI's URL for this trace, or `None` (no template, or no trace id)."""
        if self.trace_url is None or not trace_id:
            return None
        return self.trace_url.format(trace_id=trace_id, span_id=span_id or "")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> UiSettings:
        """From `REQLOG_TRACE_URL`, `REQLOG_UI_SECRET` and `REQLOG_UI_SESSION_HOURS` (empty = unset)."""
        return cls(**resolve(cls, environ, {}, what="viewer"))
