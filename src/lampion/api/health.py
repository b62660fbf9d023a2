from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from lampion.api.deps import RuntimeDep
from lampion.store.migrate import is_at_head

router = APIRouter(tags=["Health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Store unreachable or not migrated"}})
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Readiness: the metadata store answers and its schema is at the latest migration."""
    try:
        async with rt.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        migrated = await is_at_head(rt.engine)
    except Exception:
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    if not migrated:
        return JSONResponse({"status": "unavailable", "store": "not migrated"}, status_code=503)
    return JSONResponse({"status": "ok"})
