"""`GET /metrics`: the Prometheus text format, behind a token or open to a scrape network.

Access: a token with permission 3601 (the request logs' rule: staff holding it, or an admin), which
Prometheus sends with `authorization: {type: Token, credentials_file: ...}`; or, without a token,
a peer address inside `REQLOG_METRICS_NETWORKS`. The peer is the socket's: behind a proxy every
scrape comes from the proxy's address, so name the scrape network only where the service is
reached directly.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from query_api.auth import PERM_VIEW_LOGS, authorize
from query_api.keys import METRICS_KEY, SETTINGS_KEY

PATH = "/metrics"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


async def metrics(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    if not _in_networks(request.remote, _networks(settings.metrics_networks)):
        await authorize(request, PERM_VIEW_LOGS)
    # Rendering is ~1 ms for reqlog's few dozen series: on the loop, like the other cheap handlers.
    body = generate_latest(request.app[METRICS_KEY].registry)
    # The classic text format (0.0.4): every Prometheus server reads it.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4, "Cache-Control": "no-store"})


@cache
def _networks(setting: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part, strict=False) for part in setting)


def _in_networks(remote: str | None, networks: tuple[Network, ...]) -> bool:
    if not networks or not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:  # a Unix socket has no address
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in networks)
