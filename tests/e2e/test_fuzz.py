"""schemathesis against a running `lampion serve` with real computes: no input may cause a
server error, and every response must match the documented schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.e2e.conftest import environment, new_key, serving

pytestmark = [pytest.mark.e2e, pytest.mark.compute]
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

# Every other default check runs. This one expects any schema-valid request to succeed, which
# cannot hold for an API whose inputs are programs and addresses: `query` is documented as a
# string, but only valid SQL runs; an allowlist entry must be an IP network; a webhook URL
# must resolve to a public address. Those are 400s by design, with a clear message.
EXCLUDED: list[Any] = [positive_data_acceptance]


@pytest.fixture(scope="module")
def fuzz_server(workdir: Path, templates_dir: Path) -> Iterator[tuple[str, str]]:
    env = environment(
        workdir / "fuzz", templates_dir, log_level="WARNING", webhook_allow_private="true"
    )
    key = new_key(env, "fuzz", "--plan", "pro")
    with serving(env, workdir / "fuzz-server.log"):
        yield f"http://127.0.0.1:{env['LAMPION_API_PORT']}", key


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server: tuple[str, str]) -> Any:
    base, _ = fuzz_server
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


def test_no_input_breaks_the_api(fuzz_schema: Any, fuzz_server: tuple[str, str]) -> None:
    """Every operation, a few generated requests each (kept small so `make test` stays fast)."""
    base, key = fuzz_server
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(base_url=base, headers=headers, excluded_checks=EXCLUDED)

        try:
            run()
        except Exception as exc:  # collect them all, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)


def test_another_orgs_key_gets_404_everywhere(
    fuzz_schema: Any, fuzz_server: tuple[str, str], workdir: Path
) -> None:
    """Object-level authorization: every operation, with the first org's real ids, called with
    a second org's key, answers 404 (or 400 when the body itself is invalid) — never a
    success, a 403 or a 409 that would reveal the object."""
    base, key = fuzz_server
    owner = {"Authorization": f"Bearer {key}"}
    env = {**os.environ, "LAMPION_DATA_DIR": str(workdir / "fuzz")}
    intruder_key = new_key(env, "intruder", "--plan", "pro")
    intruder = {"Authorization": f"Bearer {intruder_key}"}
    with httpx.Client(base_url=base, headers=owner, timeout=120) as client:
        project = client.post("/v1/projects", json={"name": "victim"}).json()
        webhook = client.post(
            "/v1/orgs/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["*"]}
        )
        api_key = client.post("/v1/api_keys", json={"name": "victim"}).json()
    ids = {
        "project_id": project["id"],
        "endpoint_id": project["endpoint_id"],
        "branch_id": project["branch_id"],
        "webhook_id": webhook.json()["id"],
        "key_id": api_key["id"],
        "delivery_id": "dlv_none",
        "name": "postgres",
    }
    leaks: list[str] = []
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        params = {p.name for p in operation.path_parameters}
        if not params:
            continue  # org-wide routes answer with the caller's own org

        _intrude(operation, params, ids, base, intruder, leaks)()
    assert not leaks, leaks


def _intrude(
    operation: Any,
    params: set[str],
    ids: dict[str, str],
    base: str,
    headers: dict[str, str],
    leaks: list[str],
) -> Any:
    @given(case=operation.as_strategy())
    @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
    def attempt(case: Any) -> None:
        case.path_parameters = {name: ids.get(name, "x") for name in params}
        response = case.call(base_url=base, headers=headers)
        if response.status_code not in (400, 404):
            leaks.append(f"{operation.method.upper()} {operation.path}: {response.status_code}")

    return attempt


def test_stateful_sequences(fuzz_schema: Any, fuzz_server: tuple[str, str]) -> None:
    """Sequences that feed one response's ids into the next request (links inferred by
    schemathesis), e.g. create a project, then use its endpoint, then delete it."""
    base, key = fuzz_server
    machine = fuzz_schema.as_state_machine()
    calls: list[str] = []

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            calls.append(f"{case.method} {case.path}")
            return {"base_url": base, "headers": {"Authorization": f"Bearer {key}"}}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=EXCLUDED)

    Sequences.run(
        settings=settings(
            max_examples=12,
            stateful_step_count=5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert len(calls) > 20
    assert any(
        "{project_id}" in call and not call.startswith("POST /v1/projects ") for call in calls
    )
