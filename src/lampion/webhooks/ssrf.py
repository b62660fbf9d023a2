"""Where webhooks may go: never loopback, private, link-local, multicast or reserved
addresses unless allowed. Checked on the address actually connected to, so a name that
resolves differently later (DNS rebinding) gets nowhere."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    pass


class AddressPolicy:
    def __init__(self, allow_private: bool, allowed_cidrs: Sequence[str]):
        self.allow_private = allow_private
        self.allowed = [ipaddress.ip_network(c, strict=False) for c in allowed_cidrs]

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if self.allow_private or any(address in network for network in self.allowed):
            return True
        return address.is_global and not (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )

    async def resolve(self, url: str) -> tuple[str, int, IPAddress]:
        """(host, port, an address the policy permits) for an http(s) URL, or Refused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("the URL must be http:// or https:// with a host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise Refused(f"{parts.hostname} does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in addresses:
            if self.permits(address):
                return parts.hostname, port, address
        raise Refused(
            f"{parts.hostname} resolves to a loopback, private, link-local or reserved address "
            f"({addresses[0]}); set LAMPION_WEBHOOK_ALLOW_PRIVATE or LAMPION_WEBHOOK_ALLOWED_CIDRS "
            "to allow it"
        )
