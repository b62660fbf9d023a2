"""The FastAPI application and its lifespan (store, computes, workers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from lampion import __version__
from lampion.api import (
    api_keys,
    branches,
    endpoints,
    errors,
    health,
    metrics,
    objects,
    openapi,
    plans,
    projects,
    sql,
    webhooks,
)
from lampion.api.idempotency import IdempotencyMiddleware
from lampion.api.middleware import RequestContextMiddleware
from lampion.config import Settings
from lampion.console import install as install_console
from lampion.mcp.http import McpEndpoint
from lampion.proxy.server import ProxyServer
from lampion.runtime import Runtime
from lampion.services import events, ratelimit
from lampion.workers.autosuspend import AutoSuspender
from lampion.workers.expiry import ExpiryWorker
from lampion.workers.history import HistoryWorker
from lampion.workers.reconciler import Reconciler
from lampion.workers.runner import Workers
from lampion.workers.sampler import Sampler
from lampion.workers.webhooks import WebhookWorker

EXPOSED_HEADERS = [
    "X-Request-Id", "X-Lampion-Version", "X-Total-Count", "Link", *ratelimit.HEADERS,
    ratelimit.RETRY_AFTER, "Idempotent-Replayed",
]  # fmt: skip


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings)
        app.state.runtime = runtime
        workers = Workers()
        webhook_worker: WebhookWorker | None = None
        proxy: ProxyServer | None = None
        try:
            reconciler = Reconciler(runtime)
            if settings.reconcile_on_start:
                await reconciler.run_once(startup=True)
            workers.every("reconciler", settings.reconcile_interval, reconciler.run_once)
            workers.every(
                "autosuspend", settings.autosuspend_interval, AutoSuspender(runtime).run_once
            )
            workers.every("expiry", settings.expiry_interval, ExpiryWorker(runtime).run_once)
            workers.every("history", settings.history_interval, HistoryWorker(runtime).run_once)
            workers.every("meter", settings.meter_flush_interval, runtime.meter.flush)
            workers.every("sampler", settings.metrics_interval, Sampler(runtime).run_once)
            events.signal_commits(runtime.sessions, runtime.webhooks_due.set)
            webhook_worker = WebhookWorker(runtime)
            app.state.webhook_worker = webhook_worker
            webhook_worker.start()
            if settings.proxy_enabled:
                proxy = ProxyServer(runtime)
                await proxy.start()
                app.state.proxy = proxy
            async with mcp.running(app):
                yield
        finally:
            if proxy is not None:
                await proxy.stop()
            await workers.stop()
            if webhook_worker is not None:
                await webhook_worker.close()
            await runtime.meter.flush()
            await runtime.close()

    app = FastAPI(
        title="Lampion API",
        version=__version__,
        description="Self-hostable control plane for serverless PostgreSQL.",
        lifespan=lifespan,
    )
    errors.install(app)
    openapi.install(app)
    app.add_middleware(IdempotencyMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-Id",
            ],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    install_console(app)
    app.add_middleware(RequestContextMiddleware)  # outermost: ids and headers on everything
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(branches.router)
    app.include_router(endpoints.router)
    app.include_router(sql.router)
    app.include_router(objects.router)
    app.include_router(metrics.router)
    app.include_router(plans.router)
    app.include_router(webhooks.router)
    app.include_router(api_keys.router)
    app.router.routes.append(Route("/mcp", mcp))
    return app
