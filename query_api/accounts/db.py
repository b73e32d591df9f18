"""Accounts and API tokens, kept in a small SQLite database beside the DuckDB file.

Why SQLite: DuckDB lets one process hold its file, and that process is the running service. The
`reqlog account ...` and `reqlog token ...` commands must work while it runs, so credentials live
in their own file that several processes can open at once (WAL mode: readers never wait for the
writer). The service keeps a snapshot in memory and reloads it when `PRAGMA data_version` says
another connection committed (see `auth.AccountCache`).

Tokens are 40 hex characters (`secrets.token_hex(20)`, as DRF's `Token.generate_key`). Only their
SHA-256 is stored; a presented token is hashed and looked up by hash, so no comparison of secrets
happens in Python and a stolen accounts file yields no usable token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from exporter.errors import ConfigError
from query_api.accounts.schema import create_or_upgrade

ACCOUNTS_FILENAME = "accounts.sqlite3"

PREFIX_LENGTH = 8


@dataclasses.dataclass(frozen=True, slots=True)
class TokenInfo:
    """What `reqlog token list` shows of a token: never the token itself."""

    username: str
    prefix: str | None  # None for tokens made before prefixes were kept
    created_at: str
    last_used_at: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """A user of the API. `is_superuser` is "admin"; `permissions` holds permission codes (3601...)."""

    id: int
    username: str
    full_name: str = ""
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    permissions: frozenset[int] = frozenset()


def accounts_path_for(db: Path) -> Path:
    """Where the accounts database lives for the DuckDB file `db`: the same directory."""
    return db.parent / ACCOUNTS_FILENAME


def hash_token(key: str) -> str:
    """The stored form of a token: hex SHA-256 of its text."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A new token: 40 lowercase hex characters, as DRF makes them."""
    return secrets.token_hex(20)


class AccountDB:
    """One connection to the accounts database at `path` (created with its schema when missing).

    Methods raise `ConfigError` for a bad argument (unknown user, duplicate name) and let
    `sqlite3.Error` through for I/O failures. Not thread-safe: use one instance per thread.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open transactions ourselves; busy_timeout covers a concurrent CLI write.
        self._con = sqlite3.connect(self.path, isolation_level=None, timeout=5.0, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA foreign_keys=ON")
        self._con.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            create_or_upgrade(self._con)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> AccountDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self, *, write: bool = True) -> _Transaction:
        return _Transaction(self._con, "BEGIN IMMEDIATE" if write else "BEGIN")

    # -- change detection -------------------------------------------------------------------

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's `PRAGMA data_version`)."""
        return int(self._con.execute("PRAGMA data_version").fetchone()[0])

    # -- reads ------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._con.execute("SELECT count(*) FROM accounts").fetchone()[0])

    def list_accounts(self) -> list[tuple[Account, int]]:
        """Every account with its number of tokens, by id."""
        rows = self._con.execute(
            "SELECT a.id, (SELECT count(*) FROM tokens t WHERE t.account_id = a.id) FROM accounts a ORDER BY a.id"
        ).fetchall()
        accounts = self.snapshot_accounts()
        return [(accounts[account_id], tokens) for account_id, tokens in rows]

    def snapshot_accounts(self) -> dict[int, Account]:
        """Every account by id, with its permissions."""
        permissions: dict[int, set[int]] = {}
        for account_id, code in self._con.execute("SELECT account_id, code FROM permissions"):
            permissions.setdefault(account_id, set()).add(code)
        return {
            row[0]: Account(
                id=row[0],
                username=row[1],
                full_name=row[2],
                is_active=bool(row[3]),
                is_staff=bool(row[4]),
                is_superuser=bool(row[5]),
                permissions=frozenset(permissions.get(row[0], ())),
            )
            for row in self._con.execute(
                "SELECT id, username, full_name, is_active, is_staff, is_superuser FROM accounts"
            )
        }

    def snapshot(self) -> dict[str, Account]:
        """Every token hash with its account, read in one transaction (a consistent picture)."""
        return self.snapshot_all()[0]

    def snapshot_all(self) -> tuple[dict[str, Account], dict[int, Account]]:
        """`snapshot()` and `snapshot_accounts()` read in one transaction."""
        with self._transaction(write=False):
            accounts = self.snapshot_accounts()
            tokens = {
                key_hash: accounts[account_id]
                for key_hash, account_id in self._con.execute("SELECT key_hash, account_id FROM tokens")
            }
            return tokens, accounts

    def password_hash(self, username: str) -> tuple[Account, str | None] | None:
        """The account named `username` and its stored password hash (`None`: no password set)."""
        row = self._con.execute("SELECT id, password_hash FROM accounts WHERE username = ?", (username,)).fetchone()
        if row is None:
            return None
        return self.snapshot_accounts()[row[0]], row[1]

    def list_tokens(self) -> list[TokenInfo]:
        """Every token's owner, prefix and times, by owner then creation."""
        rows = self._con.execute(
            "SELECT a.username, t.prefix, t.created_at, t.last_used_at FROM tokens t "
            "JOIN accounts a ON a.id = t.account_id ORDER BY a.username, t.created_at"
        ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def get(self, username: str) -> Account:
        """The account named `username`; `ConfigError` when there is none."""
        row = self._con.execute("SELECT id FROM accounts WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise ConfigError("username", f"no account named {username!r}")
        return self.snapshot_accounts()[row[0]]

    # -- writes -----------------------------------------------------------------------------

    def create_account(
        self,
        username: str,
        *,
        full_name: str = "",
        is_staff: bool = False,
        is_superuser: bool = False,
        permissions: Iterable[int] = (),
    ) -> Account:
        """Create an active account; `ConfigError` when the name is empty or taken."""
        check_username(username)
        try:
            with self._transaction():
                cursor = self._con.execute(
                    "INSERT INTO accounts (username, full_name, is_staff, is_superuser, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (username, full_name, int(is_staff), int(is_superuser), _now()),
                )
                account_id = int(cursor.lastrowid or 0)
                self._con.executemany(
                    "INSERT OR IGNORE INTO permissions (account_id, code) VALUES (?, ?)",
                    [(account_id, int(code)) for code in permissions],
                )
        except sqlite3.IntegrityError as exc:
            raise ConfigError("username", f"an account named {username!r} exists") from exc
        return self.get(username)

    def set_active(self, username: str, active: bool) -> Account:
        """Activate or deactivate `username` (its tokens stop working while it is inactive)."""
        account = self.get(username)
        with self._transaction():
            self._con.execute("UPDATE accounts SET is_active = ? WHERE id = ?", (int(active), account.id))
        return self.get(username)

    def set_password(self, username: str, password_hash: str | None) -> Account:
        """Store `password_hash` (made by `ui.passwords.hash_password`) for `username`; `None` removes it."""
        account = self.get(username)
        with self._transaction():
            self._con.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account.id))
        return account

    def create_token(self, username: str) -> str:
        """A new token for `username`, returned in clear this once (only its hash is stored)."""
        account = self.get(username)
        key = new_token()
        with self._transaction():
            self._con.execute(
                "INSERT INTO tokens (key_hash, account_id, created_at, prefix) VALUES (?, ?, ?, ?)",
                (hash_token(key), account.id, _now(), key[:PREFIX_LENGTH]),
            )
        return key

    def update_access(self, username: str, *, grant: Iterable[int] = (), revoke: Iterable[int] = (),
                      staff: bool | None = None) -> Account:  # fmt: skip
        """Grant and revoke permission codes of `username`, and set its staff flag unless `staff` is None."""
        account = self.get(username)
        with self._transaction():
            add, drop = [(account.id, int(c)) for c in grant], [(account.id, int(c)) for c in revoke]
            self._con.executemany("INSERT OR IGNORE INTO permissions (account_id, code) VALUES (?, ?)", add)
            self._con.executemany("DELETE FROM permissions WHERE account_id = ? AND code = ?", drop)
            if staff is not None:
                self._con.execute("UPDATE accounts SET is_staff = ? WHERE id = ?", (int(staff), account.id))
        return self.get(username)

    def record_use(self, last_used: dict[str, float]) -> None:
        """Store when each token (by hash) was last used (epoch seconds); written by the service."""
        with self._transaction():
            self._con.executemany(
                "UPDATE tokens SET last_used_at = ? WHERE key_hash = ?",
                [(datetime.fromtimestamp(when, UTC).isoformat(), key_hash) for key_hash, when in last_used.items()],
            )

    def revoke(self, token_or_username: str) -> int:
        """Delete the token given in clear, or else every token of the account so named.

        Returns how many tokens were deleted; `ConfigError` when neither matches anything.
        """
        with self._transaction():
            deleted = self._con.execute("DELETE FROM tokens WHERE key_hash = ?", (hash_token(token_or_username),))
            if deleted.rowcount:
                return deleted.rowcount
            row = self._con.execute("SELECT id FROM accounts WHERE username = ?", (token_or_username,)).fetchone()
            if row is None:
                raise ConfigError("token", "no such token or account")
            return self._con.execute("DELETE FROM tokens WHERE account_id = ?", (row[0],)).rowcount


class _Transaction:
    """`begin` ... `COMMIT` (or `ROLLBACK` on error) on an autocommit connection.

    Writers use `BEGIN IMMEDIATE` so a concurrent writer waits (busy timeout) instead of failing
    half-way; a snapshot uses a plain `BEGIN` (a read transaction, which never blocks in WAL mode).
    """

    def __init__(self, con: sqlite3.Connection, begin: str) -> None:
        self._con = con
        self._begin = begin

    def __enter__(self) -> sqlite3.Connection:
        self._con.execute(self._begin)
        return self._con

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._con.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def check_username(username: str) -> None:
    """`ConfigError` for a name no account may have: empty, or with space around it."""
    if not username or username != username.strip():
        raise ConfigError("username", f"invalid username {username!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat()
