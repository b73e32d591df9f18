"""Analyst SQL in a sandbox: check one statement, then run it read-only with a time limit and a row cap.

Defence in depth, because each layer alone has holes (docs/design-notes.md, DuckDB):

1. `check_sql` accepts exactly one statement, and only a query: SELECT (including DESCRIBE, SHOW,
   SUMMARIZE, FROM-first and VALUES), EXPLAIN of a query, and a few PRAGMAs that only read.
   `COMMIT; DELETE ...` would otherwise escape the read-only transaction, and ATTACH, CHECKPOINT or
   CREATE TEMP get through one.
2. Table functions are allow-listed by walking the statement's syntax tree (`json_serialize_sql`):
   DuckDB has table functions that write (`checkpoint`, `copy_database`), run serialized statements
   (`json_execute_serialized_sql`, `query`), change logging, or read memory by pointer (`arrow_scan`).
3. `run_sql` runs it inside `BEGIN TRANSACTION READ ONLY` on a fresh cursor, interrupted by a timer.
4. The database instance itself is opened with `SERVICE_DUCKDB_CONFIG`, which refuses every file,
   URL and extension access whatever the statement looks like.

Pure of any server: the endpoint and `reqlog sql` both call `run_sql`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import orjson

from exporter.deadline import clean_message, read_only_deadline
from exporter.errors import SqlFailed, SqlRefused
from query_api.sql.budget import DEFAULT_BYTE_LIMIT, fetch_within
from query_api.sql.result import SqlResult

DEFAULT_TIMEOUT = 5.0
DEFAULT_ROW_LIMIT = 10_000

# Table functions an analyst needs: generators, JSON unnesting, and the catalog's own descriptions.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "json_each",
        "json_tree",
        "repeat",
        "repeat_row",
        "summary",
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "pragma_table_info",
        "table_info",
        "pragma_storage_info",
        "storage_info",
        "pragma_database_size",
        "database_size",
        "pragma_version",
        "version",
        "show",
        "show_tables",
        "show_tables_expanded",
    }
)
# Built-in views and scalar functions that reveal absolute paths or the instance's settings.
REFUSED_RELATIONS = frozenset(
    {
        "duckdb_databases",
        "duckdb_settings",
        "duckdb_extensions",
        "duckdb_secrets",
        "duckdb_temporary_files",
        "duckdb_memory",
        "pragma_database_list",
        "pg_settings",
        "pg_database",
        "pg_file_settings",
    }
)
REFUSED_FUNCTIONS = frozenset({"current_setting", "getenv", "getvariable", "current_database_path"})
# Planning is not interruptible: a 20,000-branch UNION ALL planned for ~2 minutes against a 5 s limit,
# 1,000 branches in ~0.5 s (docs/sql.md). So the statement's size and its set operations are bounded.
MAX_SQL_CHARS = 100_000
MAX_SET_OPERATIONS = 1_000
_FILE_FUNCTIONS = re.compile(r"^(read_|parquet_|sniff_|glob$|import_|copy_|iceberg|delta)")
# PRAGMAs that only describe; any other PRAGMA changes a setting or does work (force_checkpoint).
ALLOWED_PRAGMAS = frozenset(
    {"table_info", "show", "show_tables", "show_tables_expanded", "database_size", "storage_info", "version"}
)
_PRAGMA_NAME = re.compile(r"^\s*PRAGMA\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?\s+", re.IGNORECASE)
# A table name that is really a path or URL: a replacement scan of a file (`FROM 'data.csv'`).
_PATHLIKE = re.compile(r"[/\\:]|\.(csv|tsv|json|jsonl|ndjson|parquet|txt|gz|zst|duckdb|db)$", re.IGNORECASE)


def check_sql(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Return the one statement in `sql` if the sandbox allows it; raise `SqlRefused` saying why otherwise.

    `con` must be this thread's own cursor: the check parses through DuckDB. Raises `SqlFailed` when
    the text does not parse.
    """
    if not sql or not sql.strip():
        raise SqlRefused("No SQL statement was given.")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlRefused(f"The statement is too long: at most {MAX_SQL_CHARS:,} characters are allowed.")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlFailed(clean_message(exc)) from exc
    except ValueError as exc:  # a statement type this duckdb module has no name for (UPDATE EXTENSIONS)
        raise SqlRefused("Only read-only queries (SELECT) are allowed.") from exc
    if len(statements) != 1:
        raise SqlRefused(f"Exactly one SQL statement is allowed; got {len(statements)}.")
    statement = statements[0]
    try:
        kind = statement.type
    except ValueError as exc:  # a statement type this duckdb module has no name for (UPDATE EXTENSIONS)
        raise SqlRefused("Only read-only queries (SELECT) are allowed.") from exc
    text = statement.query
    if kind == duckdb.StatementType.PRAGMA:
        match = _PRAGMA_NAME.match(text)
        name = match.group(1).lower() if match else "?"
        if name not in ALLOWED_PRAGMAS:
            raise SqlRefused(f"PRAGMA {name} is not allowed: only read-only queries may run here.")
        return text
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _EXPLAIN.sub("", text, count=1)
        try:
            inner_statements = con.extract_statements(inner)
        except duckdb.Error as exc:
            raise SqlFailed(clean_message(exc)) from exc
        except ValueError as exc:
            raise SqlRefused("EXPLAIN is allowed only for a SELECT query.") from exc
        if len(inner_statements) != 1 or inner_statements[0].type != duckdb.StatementType.SELECT:
            raise SqlRefused("EXPLAIN is allowed only for a SELECT query.")
        _check_tree(con, inner)
        return text
    if kind != duckdb.StatementType.SELECT:
        raise SqlRefused(_refusal_for(kind))
    _check_tree(con, text)
    return text


def run_sql(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    row_limit: int = DEFAULT_ROW_LIMIT,
    byte_limit: int = DEFAULT_BYTE_LIMIT,
) -> SqlResult:
    """Check `sql`, run it read-only on a new cursor of `con`, return at most `row_limit` rows.

    The rows kept also hold at most about `byte_limit` bytes of values (`budget.fetch_within`);
    `truncated` says whether either limit cut the answer.

    Raises `SqlRefused` (not allowed), `SqlTimeout` (interrupted after `timeout` seconds; `None` or 0
    means no limit) or `SqlFailed` (DuckDB's own error). Blocks: call it from a worker thread.
    """
    start = time.perf_counter()
    cursor = con.cursor()
    try:
        # The timer starts before the check and the prepare, so parsing counts against the limit too.
        with read_only_deadline(cursor, timeout):
            statement = check_sql(cursor, sql)
            cursor.execute(statement)
            description = cursor.description or []
            # One row past a limit tells whether the answer was truncated; the rest is never produced.
            rows, truncated = fetch_within(cursor, row_limit=row_limit, byte_limit=byte_limit)
    finally:
        cursor.close()  # closing rolls the read-only transaction back
    return SqlResult(
        columns=[d[0] for d in description],
        types=[str(d[1]) for d in description],
        rows=rows,
        truncated=truncated,
        elapsed=time.perf_counter() - start,
    )


def _check_tree(con: duckdb.DuckDBPyConnection, query: str) -> None:
    row = con.execute("SELECT json_serialize_sql($1)", [query]).fetchone()
    try:
        tree = orjson.loads(row[0]) if row else {"error": True, "error_message": "cannot parse"}
    except orjson.JSONDecodeError:  # deeper than orjson's 1,024 levels: hundreds of nested subqueries
        raise SqlRefused("The query is nested too deeply.") from None
    if tree.get("error"):
        raise SqlFailed(str(tree.get("error_message", "The query could not be parsed.")))
    set_operations = 0
    for node in _walk(tree):
        node_type = node.get("type")
        if node_type == "SET_OPERATION_NODE":
            # DuckDB flattens a chain of UNION ALLs into one node with many children.
            set_operations += max(1, len(node.get("children") or []) - 1)
            if set_operations > MAX_SET_OPERATIONS:
                raise SqlRefused(f"Too many UNION/INTERSECT/EXCEPT branches: at most {MAX_SET_OPERATIONS:,}.")
        if node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() in REFUSED_FUNCTIONS:
            raise SqlRefused(f"{node['function_name']}() is not allowed: it reveals the service's settings.")
        if node_type == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if _FILE_FUNCTIONS.match(name):
                raise SqlRefused(f"{name}(): file and network access is not allowed.")
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise SqlRefused(f"The table function {name}() is not allowed here.")
        elif node_type == "BASE_TABLE" and _PATHLIKE.search(str(node.get("table_name", ""))):
            raise SqlRefused(f"Reading {node['table_name']!r}: file and network access is not allowed.")
        elif node_type == "BASE_TABLE" and str(node.get("table_name", "")).lower() in REFUSED_RELATIONS:
            raise SqlRefused(f"{node['table_name']} is not allowed: it reveals paths or settings of the service.")


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


_REFUSALS = {
    "ATTACH": "ATTACH is not allowed: queries may read only this database.",
    "DETACH": "DETACH is not allowed.",
    "LOAD": "INSTALL and LOAD are not allowed: extensions cannot be added.",
    "SET": "SET, RESET and USE are not allowed: settings cannot be changed.",
    "VARIABLE_SET": "SET VARIABLE is not allowed: settings cannot be changed.",
    "COPY": "COPY is not allowed: file and network access is not allowed.",
    "COPY_DATABASE": "COPY FROM DATABASE is not allowed: file and network access is not allowed.",
    "EXPORT": "EXPORT DATABASE is not allowed: file and network access is not allowed.",
    "TRANSACTION": "Transaction control (BEGIN, COMMIT, ROLLBACK) is not allowed.",
    "CALL": "CALL is not allowed: only read-only queries may run here.",
}


def _refusal_for(kind: duckdb.StatementType) -> str:
    name = str(kind).rsplit(".", 1)[-1]
    return _REFUSALS.get(name, f"Only read-only queries (SELECT) are allowed; this is a {name} statement.")
