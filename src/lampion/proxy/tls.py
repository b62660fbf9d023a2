"""The proxy's TLS: a configured certificate, or a self-signed one made on first start."""

from __future__ import annotations

import ssl
from pathlib import Path

from lampion.storage.tls import write_self_signed


def server_context(
    cert: Path | None, key: Path | None, data_dir: Path, public_host: str
) -> ssl.SSLContext:
    if cert is None or key is None:
        tls_dir = data_dir / "tls"
        cert, key = tls_dir / "proxy.crt", tls_dir / "proxy.key"
        if not cert.exists() or not key.exists():
            tls_dir.mkdir(parents=True, exist_ok=True)
            tls_dir.chmod(0o700)
            write_self_signed(cert, key, public_host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
