"""Connect-time address check for live portals (DESIGN.md section 7, SSRF).

A portal URL was checked when it was saved, but a hostname may resolve differently later.
Before a live session connects, ``check_portal_host`` resolves the host again: any address
in a private, loopback, link-local, reserved, multicast or unspecified range fails the
attempt as ``InstitutionUnavailable``; so does a host that does not resolve. The test
environment skips the check (its Sandbox Bank runs on loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from waycore.connectors.base import InstitutionUnavailable


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_portal_host(portal_url: str, *, environment: str = "live") -> list[str]:
    """The host's public addresses; raises ``InstitutionUnavailable`` if any is not public.

    ``environment="test"`` skips the check and returns ``[]``.
    """
    if environment == "test":
        return []
    parts = urlsplit(portal_url)
    host = parts.hostname
    if not host:
        raise InstitutionUnavailable("The portal URL has no host.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [host] if _is_literal(host) else await asyncio.wait_for(resolve(host, port), 10)
    except (OSError, TimeoutError) as exc:
        raise InstitutionUnavailable("The portal's host does not resolve.") from exc
    if not addresses or not all(is_public(a) for a in addresses):
        raise InstitutionUnavailable("The portal's host resolves to a non-public address.")
    return addresses


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
