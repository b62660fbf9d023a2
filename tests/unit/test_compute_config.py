"""What a compute is told: its pg_hba lines and, in a container, its CPU and memory use."""

from __future__ import annotations

from pathlib import Path

from lampion.compute import hba
from lampion.compute.base import ComputeSpec
from lampion.compute.docker import _parse_stats
from lampion.compute.installations import discover
from lampion.compute.osuser import resolve
from lampion.compute.pooler_config import (
    PoolerFiles,
    pool_sizes,
    pooler_socket,
    render,
    split_pooler_suffix,
)


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


def test_the_pooler_is_sized_from_compute_units_and_listens_only_on_its_socket() -> None:
    small, large = pool_sizes(0.25), pool_sizes(4.0)
    assert (small.max_db_connections, small.default_pool_size, small.max_client_conn) == (
        15,
        7,
        1250,
    )
    assert (large.max_db_connections, large.default_pool_size) == (390, 195)
    assert large.max_client_conn == 10_000  # the ceiling
    spec = ComputeSpec(
        "ep-x", Path("/d/ep-x"), 55432, discover(None, resolve(None))[0], pooler_mode="session"
    )
    config = render(spec, PoolerFiles(Path("/c/ep-x/pooler")), Path("/s/ep-x"))
    assert "listen_addr = \n" in config  # no TCP: the proxy comes over the unix socket
    assert "* = host=/s/ep-x port=55432 auth_user=lampion_pooler" in config
    assert "pool_mode = session" in config
    assert "auth_query = SELECT usename, passwd FROM pg_catalog.lampion_pooler_auth($1)" in config
    assert pooler_socket(Path("/s/ep-x"), 55432) == Path("/s/ep-x/.s.PGSQL.6432")
    assert split_pooler_suffix("ep-x-pooler") == ("ep-x", True)
    assert split_pooler_suffix("ep-x") == ("ep-x", False)
