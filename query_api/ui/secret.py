"""The key that signs the viewer's cookies: `REQLOG_UI_SECRET`, else a random one kept beside the database.

The file is created with `O_EXCL` and mode 0600 (two services starting at once agree on one key), so
only the service's own user can read it; sessions survive a restart, and deleting the file signs
everyone out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

SECRET_FILENAME = "ui-secret"
_KEY_BYTES = 32


def secret_path_for(db: Path) -> Path:
    return db.parent / SECRET_FILENAME


def load_secret(db: Path, configured: str | None) -> bytes:
    """The signing key: `configured` when given, else the file beside `db` (made when missing)."""
    if configured is not None:
        return configured.encode("utf-8")
    path = secret_path_for(db)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(_KEY_BYTES))
    key = path.read_text().strip()
    if len(key) < 2 * _KEY_BYTES:
        raise OSError(f"{path} holds no usable key: delete it and start again")
    return key.encode("ascii")
