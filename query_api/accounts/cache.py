"""The service's in-memory view of the accounts database: token hash -> account.

The snapshot is reloaded when SQLite's `PRAGMA data_version` changes (another connection, such as
`reqlog token create` in another process, committed): polled every `interval` seconds (0.25 by
default) and checked at once when an unknown token arrives. A token created or revoked, or an
account deactivated, is thus honoured within the interval, well inside the one second the API
promises, while the request path itself does no I/O.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

from exporter.errors import StorageError
from query_api.accounts.db import Account, AccountDB, hash_token
from query_api.accounts.pg import PgAccountDB

logger = logging.getLogger("reqlog.auth")
USE_FLUSH_SECONDS = 5.0


class AccountCache:
    """Token hash -> `Account`, kept in step with the accounts database.

    Use it from the event loop only (it owns one SQLite connection and no lock); `run()` is the
    polling task, `lookup()` the request-path call.
    """

    def __init__(self, db: AccountDB | PgAccountDB, *, interval: float = 0.25) -> None:
        self._db = db
        self.interval = interval
        self._tokens: dict[str, Account] = {}
        self._accounts: dict[int, Account] = {}
        self._version: int | None = None
        self.reloads = 0
        # Token hash -> when it was last accepted (epoch seconds), not yet written: `reqlog token list`
        # shows it. Written by the poller every `USE_FLUSH_SECONDS`, never on the request path.
        self._used: dict[str, float] = {}
        self._next_flush = 0.0
        self.refresh()

    def refresh(self) -> bool:
        """Reload the snapshot if the database changed since the last load; return whether it did."""
        version = self._db.data_version()
        if version == self._version:
            return False
        self._tokens, self._accounts = self._db.snapshot_all()
        self._version = version
        self.reloads += 1
        return True

    def force_reload(self) -> None:
        """Reload now (after a change made through this process's own connection)."""
        self._version = None
        self.refresh()

    def lookup(self, key: str) -> Account | None:
        """The account owning token `key`, or `None` (after re-checking the database once)."""
        key_hash = hash_token(key)
        account = self._tokens.get(key_hash)
        if account is None and self._safe_refresh():
            account = self._tokens.get(key_hash)
        if account is not None:
            self._used[key_hash] = time.time()
        return account

    def flush_use(self) -> None:
        """Write when tokens were last used (the poller calls it; the service once more as it stops)."""
        used, self._used = self._used, {}
        # Only the SQLite accounts keep last use: a write to the lake's PostgreSQL accounts would fire
        # their change trigger and make every node reload its snapshot.
        if used and isinstance(self._db, AccountDB):
            try:
                self._db.record_use(used)
            except sqlite3.Error:  # a locked file: the times are only informative, try again next round
                logger.warning("could not record token use; will retry", exc_info=True)
                self._used = {**used, **self._used}

    def account(self, account_id: int) -> Account | None:
        """The account with this id as of the last reload (the viewer's sessions name accounts by id)."""
        return self._accounts.get(account_id)

    def has_token_hash(self, key_hash: str) -> bool:
        """Whether a token with this hash exists (a session opened with a token ends when it is revoked)."""
        return key_hash in self._tokens

    def _safe_refresh(self) -> bool:
        try:
            return self.refresh()
        except (sqlite3.Error, StorageError):
            # A locked or briefly unreadable file must not take the API down: keep the last snapshot.
            logger.warning("could not reload accounts; keeping the previous snapshot", exc_info=True)
            return False

    async def run(self) -> None:
        """Poll for changes until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            started = time.perf_counter()
            if self._safe_refresh():
                logger.debug("accounts reloaded in %.1f ms", (time.perf_counter() - started) * 1000)
            if time.monotonic() >= self._next_flush:
                self._next_flush = time.monotonic() + USE_FLUSH_SECONDS
                self.flush_use()
