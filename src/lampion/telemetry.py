"""The control plane's own Prometheus metrics (one registry per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from lampion.states import EndpointStatus
from lampion.store.engine import Sessions
from lampion.store.models import Endpoint, MetricsSnapshot


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "lampion_http_requests", "API requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "lampion_http_request_duration_seconds", "API latency", ["method", "route"], registry=r
        )
        self.wakeups = Counter("lampion_wakeups", "Computes woken on demand", registry=r)
        self.wakeup_latency = Histogram(
            "lampion_wakeup_duration_seconds",
            "Time to wake a suspended compute",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "lampion_webhook_deliveries", "Webhook delivery attempts", ["result"], registry=r
        )
        self.storage_waiting = Gauge(
            "lampion_storage_queue_waiting", "Storage operations waiting their turn", registry=r
        )
        self.storage_running = Gauge(
            "lampion_storage_queue_running", "Storage operations running", registry=r
        )
        storage_buckets = (0.01, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
        self.storage_wait = Histogram(
            "lampion_storage_queue_wait_seconds",
            "Time a storage operation waited for its turn",
            ["operation"],
            buckets=storage_buckets,
            registry=r,
        )
        self.storage_duration = Histogram(
            "lampion_storage_operation_duration_seconds",
            "Time a storage operation (copy, clone, delete) ran once its turn came",
            ["operation"],
            buckets=storage_buckets,
            registry=r,
        )
        self.proxy_auth_failures = Counter(
            "lampion_proxy_auth_failures",
            "Logins the proxy refused: wrong password, unknown role or endpoint, throttled",
            ["endpoint_id"],
            registry=r,
        )
        self.computes = Gauge("lampion_computes", "Computes by status", ["status"], registry=r)
        labels = ["endpoint_id", "project_id"]
        self.endpoint_connections = Gauge(
            "lampion_endpoint_connections", "Client sessions", labels, registry=r
        )
        self.endpoint_cache_hit = Gauge(
            "lampion_endpoint_cache_hit_ratio",
            "Percent of block reads from cache",
            labels,
            registry=r,
        )
        self.endpoint_storage = Gauge(
            "lampion_endpoint_storage_bytes", "Logical size", labels, registry=r
        )
        self.endpoint_cpu = Gauge(
            "lampion_endpoint_cpu_seconds",
            "CPU time of the compute's processes",
            labels,
            registry=r,
        )
        self.endpoint_memory = Gauge(
            "lampion_endpoint_memory_bytes", "Resident memory", labels, registry=r
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def storage_queue_changed(self, waiting: int, running: int) -> None:
        self.storage_waiting.set(waiting)
        self.storage_running.set(running)

    def storage_waited(self, operation: str, seconds: float) -> None:
        self.storage_wait.labels(operation).observe(seconds)

    def storage_worked(self, operation: str, seconds: float) -> None:
        self.storage_duration.labels(operation).observe(seconds)

    async def render(self, sessions: Sessions) -> bytes:
        """Refreshes the gauges read from the store, then renders the text format."""
        async with sessions() as session:
            by_status = dict(
                (
                    await session.execute(
                        select(Endpoint.status, func.count()).group_by(Endpoint.status)
                    )
                )
                .tuples()
                .all()
            )
            latest = (
                select(MetricsSnapshot.endpoint_id, func.max(MetricsSnapshot.id).label("id"))
                .group_by(MetricsSnapshot.endpoint_id)
                .subquery()
            )
            snapshots = (
                await session.scalars(
                    select(MetricsSnapshot).join(latest, latest.c.id == MetricsSnapshot.id)
                )
            ).all()
        for status in EndpointStatus:
            self.computes.labels(status).set(by_status.get(status, 0))
        for gauge in (
            self.endpoint_connections,
            self.endpoint_cache_hit,
            self.endpoint_storage,
            self.endpoint_cpu,
            self.endpoint_memory,
        ):
            gauge.clear()
        for s in snapshots:
            labels = (s.endpoint_id, s.project_id)
            self.endpoint_connections.labels(*labels).set(s.connections_total)
            self.endpoint_cache_hit.labels(*labels).set(s.cache_hit_ratio)
            self.endpoint_storage.labels(*labels).set(s.storage_logical_mb * 1_000_000)
            self.endpoint_cpu.labels(*labels).set(s.compute_cpu_seconds)
            self.endpoint_memory.labels(*labels).set(s.memory_mb * 1_000_000)
        return generate_latest(self.registry)
