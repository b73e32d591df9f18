"""The `Setting` declaration, the one set of parsers, and the instrumentation's own `REQLOG_*` settings.

Every `REQLOG_*` variable is declared once: name, kind, default, meaning. The instrumentation's are
in `SETTINGS` below; the service's and the exporter's in `exporter.settings_table`, which takes the
type and the parsers from here (imports flow instrumentation <- exporter <- query_api, so what every
package shares lives in the lowest one). Settings classes take their fields from the entries
(`field`), the README's configuration reference is generated from them (`python -m
instrumentation.settings_table`, checked by `tests/test_docs.py`), and so are `--help` texts.

Resolution order: an argument (not `None`) > `REQLOG_<NAME>` > the entry's OTel `fallback`
variable, if it has one > the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
MIB = 1024 * 1024


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected true or false, got {text!r}")


def parse_list(text: str) -> tuple[str, ...]:
    """Comma-separated entries, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


# The one set of parsers: a variable's text (stripped) -> its value; `ValueError` says what is wrong.
PARSERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "size": str,  # checked by `exporter.settings_table.check_size` with the other values
    "path": Path,
    "int": int,
    "float": float,
    "bool": parse_bool,
    "list": parse_list,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One setting: `REQLOG_<NAME>`, parsed as `kind`; `optional` ones take an empty variable as unset.

    `fallback` is the OTel variable read when `REQLOG_<NAME>` is unset (the OTel instrumentations'
    own name for the same thing).
    """

    name: str
    kind: str
    default: Any
    meaning: str
    shown_default: str | None = None  # the README's default when the value itself says it badly
    optional: bool = False
    fallback: str | None = None

    @property
    def variable(self) -> str:
        return f"REQLOG_{self.name.upper()}"

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, bool):
            return "`true`" if self.default else "`false`"
        if isinstance(self.default, float):
            return f"`{self.default:g}`"
        if isinstance(self.default, tuple):
            return f"`{','.join(self.default)}`" if self.default else "none"
        return f"`{self.default}`"

    def raw(self, environ: Mapping[str, str]) -> str | None:
        """The variable's text, else the fallback variable's, else `None`."""
        text = environ.get(self.variable)
        if text is None and self.fallback is not None:
            text = environ.get(self.fallback)
        return text

    def convert(self, label: str, value: Any, error: Callable[[str, str], Exception] = ConfigError) -> Any:
        """An argument or a variable's text as this setting's value; `error(label, ...)` if invalid."""
        if not isinstance(value, str):
            return tuple(value) if self.kind == "list" else value
        text = value.strip()
        if self.optional and text == "":
            return None
        try:
            return PARSERS[self.kind](text)
        except (TypeError, ValueError) as exc:
            raise error(label, f"invalid value {value!r}: {exc}") from exc


def field(setting: Setting) -> Any:
    """A dataclass field for `setting`: its default, and the entry in its metadata."""
    return dataclasses.field(default=setting.default, metadata={"setting": setting})


def resolve(cls: type, environ: Mapping[str, str], overrides: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """The values for the dataclass `cls` (fields made by `field`): arguments, then variables, then defaults.

    Raises `ConfigError` naming the setting for an unknown argument (`unknown {what} setting`), or
    naming the argument or the variable for a value that does not parse.
    """
    settings = {f.name: f.metadata["setting"] for f in dataclasses.fields(cls)}
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"unknown {what} setting")
    values: dict[str, Any] = {}
    for name, setting in settings.items():
        if overrides.get(name) is not None:
            values[name] = setting.convert(name, overrides[name])
        elif setting.variable in environ:
            values[name] = setting.convert(setting.variable, environ[setting.variable])
    return values


def help_text(setting: Setting) -> str:
    """A command-line option's help: the meaning, then where its default comes from."""
    default = setting.default_text().replace("`", "")
    return f"{setting.meaning} (default: ${setting.variable}, else {default})".replace("%", "%%")


def variables(settings: Iterable[Setting]) -> str:
    """`REQLOG_A`, `REQLOG_B` and `REQLOG_C`: the variables of `settings`, for a sentence."""
    listed = [f"`{setting.variable}`" for setting in settings]
    return ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else "".join(listed)


def markdown(settings: Iterable[Setting]) -> str:
    """The configuration reference's table for `settings`, as the README holds it."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for setting in settings:
        meaning = setting.meaning.replace("docs/redaction.md", "[docs/redaction.md](docs/redaction.md)")
        default = setting.default_text()
        if setting.fallback is not None:
            default = f"`${setting.fallback}`, else {default}"
        lines.append(f"| `{setting.variable}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        # `instrumentation.Options`: what the middleware captures.
        Setting("max_body_bytes", "int", 64 * 1024, "bytes of each body kept; the rest is cut and flagged"),
        Setting("capture_request_body", "bool", True, "capture request bodies at all"),
        Setting("capture_response_body", "bool", True, "capture response bodies at all"),
        Setting("body_content_types", "list",
                ("application/json", "*/*+json", "application/x-www-form-urlencoded", "text/*"),
                "content types whose text is captured (`type/*` and `*/*+suffix` patterns)"),
        Setting("summarize_multipart", "bool", True, "multipart becomes field names, file names and sizes"),
        Setting("trusted_proxies", "list", (), "proxies (addresses, CIDRs) whose forwarding headers are believed"),
        Setting("excluded_urls", "list", (), "regexes of URLs that make no span (health checks, static files)",
                fallback="OTEL_PYTHON_EXCLUDED_URLS"),
        Setting("sanitize_headers", "list", (), "regexes of headers masked on the span itself, before export",
                fallback="OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"),
        Setting("methods", "list", (), "log only these methods (`POST,PUT,PATCH,DELETE`)", "every method"),
        Setting("status_codes", "list", (), "log only these statuses, codes or classes (`4xx,5xx`)", "every status"),
        # `instrumentation.configure`: where the spans go.
        Setting("exporter", "text", "otlp", "`otlp` (to the service) or `reqlog_duckdb` (in-process)",
                fallback="OTEL_TRACES_EXPORTER"),
        Setting("endpoint", "text", "http://127.0.0.1:8000", "the service for `otlp`",
                "`http://127.0.0.1:8000` unless `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` is set"),
        Setting("token", "text", None, "token sent with OTLP (permission 3602); also read by `reqlog sql/export/prune`",
                "none", optional=True),
        Setting("max_export_bytes", "int", 16 * MIB,
                "`configure()` cuts a batch into requests of at most this many bytes (estimated)"),
    )
}  # fmt: skip


if __name__ == "__main__":
    print(markdown(SETTINGS.values()), end="")
