"""A Docker engine for the docker-backend tests, and the compute image they run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import aiodocker
import pytest
from aiodocker.exceptions import DockerError

from lampion.compute.installations import PgInstall

BUILD_SCRIPT = Path(__file__).parents[2] / "scripts" / "build-local-compute-image.sh"
TEST_IMAGE = "lampion-test/compute:{pg_version}"
PGBOUNCER = Path("/usr/sbin/pgbouncer")
"""Put into the image (the computes' pooler) when installed here."""


async def engine_or_skip() -> aiodocker.Docker:
    """The engine, or a skip saying there is none (a failure where LAMPION_TEST_DOCKER=require,
    as in CI: there the docker backend must be tested)."""
    try:
        docker = aiodocker.Docker()
    except (DockerError, OSError, ValueError) as exc:
        _skip_or_fail(f"no Docker engine configured ({exc})")
    try:
        await docker.version()
    except Exception as exc:  # aiohttp's connection errors
        await docker.close()
        _skip_or_fail(f"no Docker engine answers ({type(exc).__name__}); start dockerd")
    return docker


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("LAMPION_TEST_DOCKER") == "require":
        pytest.fail(f"docker-backend tests must run here, but {reason}")
    pytest.skip(f"docker-backend tests skipped: {reason}")


IMAGE_FORMAT = "2"
"""The build script's version of the image (2: with the archive command's tools)."""


async def ensure_image(docker: aiodocker.Docker, install: PgInstall, os_user: str) -> str:
    """The compute image of ``install``, built from it with the build script unless an image
    of that very installation is there already."""
    tag = TEST_IMAGE.format(pg_version=install.major)
    try:
        labels = (await docker.images.inspect(tag))["Config"].get("Labels") or {}
    except DockerError:
        labels = {}
    if (
        labels.get("org.lampion.pg_bin") != str(install.bin_dir)
        or labels.get("org.lampion.pg_version") != install.version
        or labels.get("org.lampion.image_format") != IMAGE_FORMAT
        or (labels.get("org.lampion.pgbouncer", "none") == "none" and PGBOUNCER.exists())
    ):
        subprocess.run(
            [str(BUILD_SCRIPT), str(install.bin_dir), tag, os_user],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return TEST_IMAGE
