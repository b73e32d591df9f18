"""What the viewer keeps on the application: its settings, the signing key, the signed-out sessions."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from .settings import UiSettings

# Signed-out session ids are remembered until their cookie would have expired anyway. Bounded: past
# this many, the oldest is forgotten (it can only have been signed out, never signed back in).
_MAX_SIGNED_OUT = 100_000


@dataclasses.dataclass(slots=True)
class UiState:
    settings: UiSettings
    key: bytes
    signed_out: dict[str, int] = dataclasses.field(default_factory=dict)
    # scrypt takes 32 MiB and a core for ~0.1 s: at most two password checks at once, the rest wait.
    password_checks: asyncio.Semaphore = dataclasses.field(default_factory=lambda: asyncio.Semaphore(2))

    def sign_out(self, session_id: str, expires: int) -> None:
        now = time.time()
        if len(self.signed_out) >= _MAX_SIGNED_OUT:
            for sid in [sid for sid, until in self.signed_out.items() if until <= now] or [next(iter(self.signed_out))]:
                del self.signed_out[sid]
        self.signed_out[session_id] = expires

    def is_signed_out(self, session_id: str) -> bool:
        return session_id in self.signed_out
