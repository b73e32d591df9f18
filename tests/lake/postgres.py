"""A throwaway PostgreSQL server: Debian's `initdb`/`pg_ctl` in a temporary directory on a free loopback port.

Each test session that needs the lake's catalog starts its own cluster and removes it afterwards, so
no test touches a PostgreSQL it did not start. PostgreSQL refuses to run as root, so when the suite
runs as root (CI does) the server runs as the `postgres` user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "reqlog_admin"
PASSWORD = "throwaway-superuser"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's program directory (`make test-lake` installs one when missing)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make test-lake` installs Debian's `postgresql`")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayPostgres:
    """`start()` a fresh cluster, `dsn(...)` to reach it, `stop()` to end it and delete its files."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="reqlog-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as_user, *argv], check=True, capture_output=True, timeout=120, cwd=self.root)

    def start(self) -> ThrowawayPostgres:
        programs = bin_dir()
        password_file = self.root / "pwfile"
        password_file.write_text(PASSWORD + "\n")
        if self._as_user:
            shutil.chown(password_file, "postgres")
        self._run(
            str(programs / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        password_file.unlink()
        for _ in range(5):  # another process may take the free port between the probe and the bind
            self.port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
            try:
                self._run(
                    str(programs / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-o",
                    options,
                    "start",
                )
                return self
            except subprocess.CalledProcessError:
                continue
        raise RuntimeError(f"PostgreSQL did not start: {(self.root / 'log').read_text()[-2000:]}")

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str = PASSWORD) -> str:
        """A libpq key/value connection string (the form DuckDB's postgres extension and psycopg both take)."""
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} password={password}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired):
            self._run(str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
