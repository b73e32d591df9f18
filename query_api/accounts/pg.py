"""Accounts and API tokens in PostgreSQL, shared by every node of a lake deployment.

The same tables, rules and methods as the SQLite `AccountDB` (tokens stored as SHA-256 only), in a
database and role apart from the lake's: the analysts' role cannot connect to it. Change detection
replaces SQLite's `PRAGMA data_version`: a statement trigger on each table bumps one counter, which
every node's `AccountCache` polls (one tiny SELECT every 0.25 s), so a token created or revoked on
any node is honoured on all of them within a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from exporter.errors import ConfigError, StorageError
from query_api.accounts.db import (
    PREFIX_LENGTH,
    Account,
    AccountDB,
    TokenInfo,
    check_username,
    hash_token,
    new_token,
)

if TYPE_CHECKING:
    from exporter.lake import LakeConfig
    from query_api.settings import ServiceSettings

try:  # only the lake backend needs it (the `lake` extra)
    import psycopg
except ImportError:  # pragma: no cover - the single-file install
    psycopg = None  # type: ignore[assignment]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS accounts (
        id BIGSERIAL PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        full_name TEXT NOT NULL DEFAULT '',
        is_active BOOLEAN NOT NULL DEFAULT TRUE,
        is_staff BOOLEAN NOT NULL DEFAULT FALSE,
        is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
    # Columns added after the first lake release: a catalog made before them gets them at start.
    "ALTER TABLE accounts ADD COLUMN IF NOT EXISTS password_hash TEXT",
    """CREATE TABLE IF NOT EXISTS permissions (
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        code INTEGER NOT NULL,
        PRIMARY KEY (account_id, code))""",
    """CREATE TABLE IF NOT EXISTS tokens (
        key_hash TEXT PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
    "ALTER TABLE tokens ADD COLUMN IF NOT EXISTS prefix TEXT",
    "CREATE TABLE IF NOT EXISTS accounts_version (one BOOLEAN PRIMARY KEY DEFAULT TRUE, version BIGINT NOT NULL)",
    "INSERT INTO accounts_version VALUES (TRUE, 0) ON CONFLICT DO NOTHING",
    """CREATE OR REPLACE FUNCTION accounts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE accounts_version SET version = version + 1; RETURN NULL; END $$""",
    *(
        f"CREATE OR REPLACE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION accounts_changed()"
        for table in ("accounts", "permissions", "tokens")
    ),
)
_SCHEMA_LOCK = 0x7265716C6F67_02


class PgAccountDB:
    """`AccountDB`'s interface on PostgreSQL (`dsn`: libpq connection string of the accounts database)."""

    def __init__(self, dsn: str) -> None:
        try:
            self._con = psycopg.connect(dsn, autocommit=True)
            with self._con.transaction():
                self._con.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])  # nodes start together
                for statement in _SCHEMA:
                    self._con.execute(statement)
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the accounts database: {exc}") from exc
        self.path = "postgresql accounts database"

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> PgAccountDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _one(self, sql: str, params: Iterable[object] = ()) -> tuple[object, ...] | None:
        try:
            return self._con.execute(sql, list(params)).fetchone()
        except psycopg.OperationalError as exc:
            raise StorageError(f"the accounts database is unavailable: {exc}") from exc

    def data_version(self) -> int:
        row = self._one("SELECT version FROM accounts_version")
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def count(self) -> int:
        row = self._one("SELECT count(*) FROM accounts")
        return int(row[0]) if row else 0  # type: ignore[call-overload]

    def snapshot_accounts(self) -> dict[int, Account]:
        permissions: dict[int, set[int]] = {}
        for account_id, code in self._con.execute("SELECT account_id, code FROM permissions"):
            permissions.setdefault(account_id, set()).add(code)
        rows = self._con.execute("SELECT id, username, full_name, is_active, is_staff, is_superuser FROM accounts")
        return {
            row[0]: Account(
                id=row[0],
                username=row[1],
                full_name=row[2],
                is_active=row[3],
                is_staff=row[4],
                is_superuser=row[5],
                permissions=frozenset(permissions.get(row[0], ())),
            )
            for row in rows
        }

    def snapshot(self) -> dict[str, Account]:
        return self.snapshot_all()[0]

    def snapshot_all(self) -> tuple[dict[str, Account], dict[int, Account]]:
        """Token hash -> account, and id -> account, read in one consistent transaction."""
        try:
            with self._con.transaction():
                self._con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one consistent picture
                accounts = self.snapshot_accounts()
                tokens = self._con.execute("SELECT key_hash, account_id FROM tokens").fetchall()
        except psycopg.OperationalError as exc:
            raise StorageError(f"the accounts database is unavailable: {exc}") from exc
        return {key_hash: accounts[account_id] for key_hash, account_id in tokens}, accounts

    def list_accounts(self) -> list[tuple[Account, int]]:
        rows = self._con.execute(
            "SELECT a.id, (SELECT count(*) FROM tokens t WHERE t.account_id = a.id) FROM accounts a ORDER BY a.id"
        ).fetchall()
        accounts = self.snapshot_accounts()
        return [(accounts[account_id], tokens) for account_id, tokens in rows]

    def get(self, username: str) -> Account:
        row = self._one("SELECT id FROM accounts WHERE username = %s", [username])
        if row is None:
            raise ConfigError("username", f"no account named {username!r}")
        return self.snapshot_accounts()[row[0]]  # type: ignore[index]

    def password_hash(self, username: str) -> tuple[Account, str | None] | None:
        """The account named `username` and its stored password hash (`None`: no password set)."""
        row = self._one("SELECT id, password_hash FROM accounts WHERE username = %s", [username])
        if row is None:
            return None
        return self.snapshot_accounts()[row[0]], row[1]  # type: ignore[index,return-value]

    def list_tokens(self) -> list[TokenInfo]:
        """Every token's owner, prefix and creation time, by owner then creation.

        Last use is not kept here: writing it would fire the change trigger and make every node reload.
        """
        rows = self._con.execute(
            "SELECT a.username, t.prefix, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
            "FROM tokens t JOIN accounts a ON a.id = t.account_id ORDER BY a.username, t.created_at"
        ).fetchall()
        return [TokenInfo(username, prefix, created, None) for username, prefix, created in rows]

    def create_account(
        self,
        username: str,
        *,
        full_name: str = "",
        is_staff: bool = False,
        is_superuser: bool = False,
        permissions: Iterable[int] = (),
    ) -> Account:
        check_username(username)
        try:
            with self._con.transaction():
                row = self._con.execute(
                    "INSERT INTO accounts (username, full_name, is_staff, is_superuser) VALUES (%s, %s, %s, %s) "
                    "RETURNING id",
                    [username, full_name, is_staff, is_superuser],
                ).fetchone()
                assert row is not None
                for code in set(permissions):
                    self._con.execute("INSERT INTO permissions VALUES (%s, %s)", [row[0], int(code)])
        except psycopg.errors.UniqueViolation as exc:
            raise ConfigError("username", f"an account named {username!r} exists") from exc
        return self.get(username)

    def set_active(self, username: str, active: bool) -> Account:
        account = self.get(username)
        self._con.execute("UPDATE accounts SET is_active = %s WHERE id = %s", [active, account.id])
        return self.get(username)

    def set_password(self, username: str, password_hash: str | None) -> Account:
        """Store `password_hash` (made by `ui.passwords.hash_password`) for `username`; `None` removes it."""
        account = self.get(username)
        self._con.execute("UPDATE accounts SET password_hash = %s WHERE id = %s", [password_hash, account.id])
        return account

    def update_access(self, username: str, *, grant: Iterable[int] = (), revoke: Iterable[int] = (),
                      staff: bool | None = None) -> Account:  # fmt: skip
        """Grant and revoke permission codes of `username`, and set its staff flag unless `staff` is None."""
        account = self.get(username)
        with self._con.transaction():
            for code in grant:
                self._con.execute(
                    "INSERT INTO permissions VALUES (%s, %s) ON CONFLICT DO NOTHING", [account.id, int(code)]
                )
            for code in revoke:
                self._con.execute(
                    "DELETE FROM permissions WHERE account_id = %s AND code = %s", [account.id, int(code)]
                )
            if staff is not None:
                self._con.execute("UPDATE accounts SET is_staff = %s WHERE id = %s", [staff, account.id])
        return self.get(username)

    def create_token(self, username: str) -> str:
        account = self.get(username)
        key = new_token()
        self._con.execute(
            "INSERT INTO tokens (key_hash, account_id, prefix) VALUES (%s, %s, %s)",
            [hash_token(key), account.id, key[:PREFIX_LENGTH]],
        )
        return key

    def revoke(self, token_or_username: str) -> int:
        with self._con.transaction():
            deleted = self._con.execute("DELETE FROM tokens WHERE key_hash = %s", [hash_token(token_or_username)])
            if deleted.rowcount:
                return deleted.rowcount
            row = self._con.execute("SELECT id FROM accounts WHERE username = %s", [token_or_username]).fetchone()
            if row is None:
                raise ConfigError("token", "no such token or account")
            return self._con.execute("DELETE FROM tokens WHERE account_id = %s", [row[0]]).rowcount


def open_accounts(settings: ServiceSettings) -> AccountDB | PgAccountDB:
    """The accounts database of `settings`: SQLite beside the file, or PostgreSQL with the lake."""
    if settings.backend == "ducklake":
        return PgAccountDB(settings.lake_accounts)
    return AccountDB(settings.accounts_path)


def lake_config(settings: ServiceSettings) -> LakeConfig:
    from exporter.lake import LakeConfig

    return LakeConfig(
        catalog=settings.lake_catalog,
        data=settings.lake_data,
        accounts=settings.lake_accounts or None,
        extension_repository=settings.lake_extension_repository or None,
        span_memory=settings.lake_span_memory,
    )
