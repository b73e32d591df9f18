"""The service's listening socket, bound before anything else is opened, so a busy port fails in one line.

`reqlog serve` binds first: a port in use or a host that does not resolve ends the command with one
line and exit status 1, before the first admin account is made, the database opened or "ready" said.
The bound socket goes to `aiohttp.web.run_app(sock=...)`; the real port (`--port 0` picks a free one)
is what the ready line and the service file announce.
"""

from __future__ import annotations

import socket

from exporter.errors import RequestLogError


class CannotListen(RequestLogError):
    """The address cannot be bound (the message says which and why, in one line)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (the first address `host` resolves to); raises `CannotListen`."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        raise CannotListen(f"cannot listen on {host}:{port}: the host does not resolve ({reason})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: restarts need no wait
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = "; another process uses it (another reqlog serve?): pick another --port" if exc.errno == 98 else ""
        raise CannotListen(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    """The base URL of `sock` as a client on this machine would write it."""
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
