"""PostgreSQL settings that follow a compute's size (compute units)."""

from __future__ import annotations

ALLOWED_COMPUTE_UNITS = (0.25, 0.5, 1.0, 2.0, 4.0)


def postgres_settings(compute_units: float) -> dict[str, str]:
    shared_buffers_mb = max(32, int(128 * compute_units))
    return {
        # Each branch taken from a running compute holds a temporary slot while it copies.
        "max_replication_slots": "64",
        # Statement text never reaches the log, not even of a failed statement: it may hold
        # a password (ALTER ROLE … PASSWORD '…').
        "log_min_error_statement": "panic",
        "shared_buffers": f"{shared_buffers_mb}MB",
        "effective_cache_size": f"{shared_buffers_mb * 3}MB",
        "max_connections": str(max(25, int(100 * compute_units))),
        "work_mem": f"{max(1, int(4 * compute_units))}MB",
        "maintenance_work_mem": f"{max(16, int(64 * compute_units))}MB",
    }
