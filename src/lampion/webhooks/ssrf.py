"""Where webhooks may go: never loopback, private, link-local, multicast or reserved
addresses unless allowed. Checked on the address actually connected to, so a name that
resolves differently later (DNS rebinding) gets nowhere. At creation only what is known to
be forbidden is refused (a literal address, a name that resolves to one): a receiver is
often deployed after its webhook, so a name that does not resolve yet is accepted."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
"""Control characters and spaces: never part of a URL (urlsplit would silently drop some)."""
_CREATION_LOOKUP_SECONDS = 3.0


class Refused(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse(url: str) -> Target:
    """Scheme, host and port of an http(s) URL, or Refused saying what is wrong with it."""
    if _CONTROL.search(url):
        raise Refused("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:  # an unclosed [, a port out of range or not a number
        raise Refused(f"the URL cannot be parsed ({exc})") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise Refused("the URL must be http:// or https:// with a host")
    if port == 0:
        raise Refused("the URL's port must be from 1 to 65535")
    if not parts.netloc.isascii():
        raise Refused("the URL's host must be ASCII (an international name in its xn-- form)")
    if _literal(host) is None:
        try:
            host.encode("idna")
        except UnicodeError as exc:
            raise Refused(f"the URL's host {host!r} is not a valid name") from exc
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


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

    async def check_creatable(self, url: str) -> None:
        """Refused for a URL that cannot be parsed, or whose host is known to be forbidden: a
        literal address, or a name that resolves only to forbidden ones. A name that does not
        resolve (yet) passes; the address is checked again on every delivery."""
        target = parse(url)
        literal = _literal(target.host)
        if literal is not None:
            if not self.permits(literal):
                raise Refused(self._forbidden(target.host, literal))
            return
        try:
            addresses = await asyncio.wait_for(
                self._addresses(target), timeout=_CREATION_LOOKUP_SECONDS
            )
        except (OSError, UnicodeError, TimeoutError):
            return
        if addresses and not any(self.permits(a) for a in addresses):
            raise Refused(self._forbidden(target.host, addresses[0]))

    async def resolve(self, url: str) -> tuple[str, int, IPAddress]:
        """(host, port, an address the policy permits) for an http(s) URL, or Refused."""
        target = parse(url)
        try:
            addresses = await self._addresses(target)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"{target.host} does not resolve") from exc
        for address in addresses:
            if self.permits(address):
                return target.host, target.port, address
        if not addresses:
            raise Refused(f"{target.host} does not resolve")
        raise Refused(self._forbidden(target.host, addresses[0]))

    @staticmethod
    async def _addresses(target: Target) -> list[IPAddress]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM
        )
        return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]

    @staticmethod
    def _forbidden(host: str, address: IPAddress) -> str:
        return (
            f"{host} resolves to a loopback, private, link-local or reserved address "
            f"({address}); set LAMPION_WEBHOOK_ALLOW_PRIVATE or LAMPION_WEBHOOK_ALLOWED_CIDRS "
            "to allow it"
        )
