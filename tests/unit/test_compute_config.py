"""What a compute is told: its pg_hba lines and, in a container, its CPU and memory use."""

from __future__ import annotations

from lampion.compute import hba
from lampion.compute.docker import _parse_stats


def test_hba_admits_the_proxy_by_address_or_on_the_compute_network() -> None:
    on_loopback = hba.render(["203.0.113.0/24"], "127.0.0.2")
    assert "203.0.113.0/24  scram-sha-256" in on_loopback
    assert "127.0.0.2/32  scram-sha-256" in on_loopback
    on_a_network = hba.render(["203.0.113.7"], "samenet")
    assert "samenet  scram-sha-256" in on_a_network
    assert "0.0.0.0/0" not in on_a_network
    assert "0.0.0.0/0  scram-sha-256" in hba.render([], "samenet")  # no allowlist: everyone


def test_container_stats_leave_out_reclaimable_page_cache() -> None:
    cgroup_v1 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
        "memory_stats": {"usage": 300_000_000, "stats": {"total_inactive_file": 100_000_000}},
    }
    stats = _parse_stats(cgroup_v1)
    assert stats is not None
    assert stats.cpu_seconds == 2.5
    assert stats.memory_bytes == 200_000_000
    cgroup_v2 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000}},
        "memory_stats": {"usage": 50_000_000, "stats": {"inactive_file": 10_000_000}},
    }
    assert _parse_stats(cgroup_v2).memory_bytes == 40_000_000  # type: ignore[union-attr]
    assert _parse_stats({"cpu_stats": {}, "memory_stats": {}}) is None  # a stopped container
