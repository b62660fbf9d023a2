"""A compute's pg_hba.conf: the control plane's private socket, and the IP allowlist."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from lampion.compute.osuser import OsUser

MAX_ENTRIES = 100


def normalize_allowlist(entries: Sequence[str]) -> list[str]:
    """Validated entries: an address stays an address, a network is given in canonical form.

    Raises ValueError naming the first entry that is neither.
    """
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries")
    normalized: list[str] = []
    for raw in entries:
        entry = raw.strip()
        try:
            if "/" in entry:
                value = str(ipaddress.ip_network(entry, strict=False))
            else:
                value = str(ipaddress.ip_address(entry))
        except ValueError as exc:
            raise ValueError(f"{raw!r} is not an IP address or CIDR network") from exc
        if value not in normalized:
            normalized.append(value)
    return normalized


def render(allowlist: Sequence[str], proxy_source: str | None = None) -> str:
    """Host lines for the allowlist (everything when empty), plus the connection proxy's
    source address, which checks the allowlist itself on the client's address."""
    networks = [str(ipaddress.ip_network(entry, strict=False)) for entry in allowlist] or [
        "0.0.0.0/0",
        "::/0",
    ]
    if allowlist and proxy_source == "samenet":  # the proxy is on the compute's own network
        networks.append(proxy_source)
    elif allowlist and proxy_source:
        networks.append(str(ipaddress.ip_network(proxy_source)))
    lines = [
        "# Written by Lampion; edits are overwritten.",
        "# TYPE  DATABASE  USER  ADDRESS  METHOD",
        "# The control plane connects over a private unix socket (directory mode 0700).",
        "local   all       all            trust",
        *(f"host    all       all   {network}  scram-sha-256" for network in networks),
    ]
    return "\n".join(lines) + "\n"


def write(
    data_dir: Path, allowlist: Sequence[str], owner: OsUser, proxy_source: str | None
) -> None:
    """Replaces pg_hba.conf atomically (postgres reads it on reload)."""
    target = data_dir / "pg_hba.conf"
    temporary = data_dir / "pg_hba.conf.lampion-tmp"
    temporary.write_text(render(allowlist, proxy_source))
    temporary.chmod(0o600)
    owner.chown(temporary)
    os.replace(temporary, target)
