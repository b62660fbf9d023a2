"""Org webhooks against a real receiver: signatures, every event, retries, restarts, SSRF."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook as StandardWebhook

from lampion.config import Settings
from tests.support.apps import client_for, make_settings, running_app
from tests.support.orgs import make_key
from tests.support.receiver import Receiver
from tests.support.waiting import eventually

pytestmark = pytest.mark.compute

FAST = {
    "webhook_interval": 0.1,
    "webhook_retry_schedule": [0.3, 0.3, 0.3],
    "webhook_timeout": 2,
    "webhook_allow_private": True,
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hook_settings(workdir: Path, templates_dir: Path) -> Settings:
    return make_settings(workdir / "data-webhooks", templates_dir, **FAST)


@pytest.fixture(scope="module")
async def hook_app(hook_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(hook_settings) as app:
        yield app


@pytest.fixture
async def webhook_client(
    hook_app: FastAPI, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_key(hook_app.state.runtime.sessions, f"org-{request.node.name[:40]}")
    async with client_for(hook_app, key) as client:
        yield client


async def test_create_list_update_delete(
    webhook_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    created = await webhook_client.post(
        "/v1/orgs/webhooks", json={"url": receiver.url("/crud"), "events": ["project.created"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert {"id", "url", "events", "enabled", "secret"} <= set(body)
    listed = await webhook_client.get("/v1/orgs/webhooks")
    assert body["secret"] not in listed.text
    assert "secret" not in listed.json()[0]
    patched = await webhook_client.patch(
        f"/v1/orgs/webhooks/{body['id']}", json={"enabled": False, "events": ["*"]}
    )
    assert patched.json()["enabled"] is False
    assert patched.json()["events"] == ["*"]
    assert body["secret"] not in patched.text
    assert (await webhook_client.delete(f"/v1/orgs/webhooks/{body['id']}")).status_code == 204
    assert (await webhook_client.get("/v1/orgs/webhooks")).json() == []
    assert (await webhook_client.delete(f"/v1/orgs/webhooks/{body['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://example.com/h", "events": ["project.exploded"]}, "events"),
        ({"url": "ftp://example.com/h", "events": ["*"]}, "url"),
        ({"url": "https://example.com/h", "events": ["*"], "secret": "plain"}, "secret"),
        ({"url": "https://example.com/h", "events": ["*"], "secret": "whsec_c2hvcnQ="}, "secret"),
    ],
)
async def test_invalid_webhooks_are_400(
    webhook_client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await webhook_client.post("/v1/orgs/webhooks", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["field"] == field
    if field == "events":
        assert "project.created" in response.json()["error"]["details"]["allowed_values"]
    assert (await webhook_client.get("/v1/orgs/webhooks")).json() == []


async def test_signatures_verify(webhook_client: httpx.AsyncClient, receiver: Receiver) -> None:
    hook = (
        await webhook_client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/signed"), "events": ["*"]}
        )
    ).json()
    sent = (await webhook_client.post(f"/v1/orgs/webhooks/{hook['id']}/test")).json()
    (delivery,) = await receiver.wait("/signed", 1)
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    verified = StandardWebhook(hook["secret"]).verify(delivery.body, headers)
    assert verified["type"] == "webhook.test"
    assert headers["webhook-id"] == sent["event_id"] == verified["id"]
    expected = hmac.new(hook["secret"].encode(), delivery.body, hashlib.sha256).hexdigest()
    assert headers["x-lampion-signature"] == f"sha256={expected}"
    assert headers["x-lampion-event"] == "webhook.test"
    forged = {**headers, "webhook-signature": "v1,AAAA"}
    with pytest.raises(Exception, match="signature"):
        StandardWebhook(hook["secret"]).verify(delivery.body, forged)


async def test_every_lifecycle_event_is_delivered(
    webhook_client: httpx.AsyncClient, receiver: Receiver, hook_app: FastAPI
) -> None:
    await webhook_client.post(
        "/v1/orgs/webhooks", json={"url": receiver.url("/all"), "events": ["*"]}
    )
    project = (await webhook_client.post("/v1/projects", json={"name": "evented"})).json()
    p, e = project["id"], project["endpoint_id"]
    endpoint = f"/v1/projects/{p}/endpoints/{e}"
    branch = (await webhook_client.post(f"/v1/projects/{p}/branches", json={"name": "b"})).json()
    await webhook_client.delete(f"/v1/projects/{p}/branches/{branch['id']}")
    await webhook_client.post(f"{endpoint}/suspend")
    await webhook_client.post(f"{endpoint}/resume")
    await webhook_client.patch(endpoint, json={"auto_suspend_seconds": 60})
    await webhook_client.put(f"{endpoint}/allowlist", json={"allowlist": ["10.0.0.0/8"]})
    await webhook_client.put(f"{endpoint}/allowlist", json={"allowlist": []})
    await webhook_client.post(f"{endpoint}/databases", json={"name": "db1"})
    await webhook_client.delete(f"{endpoint}/databases/db1")
    role = await webhook_client.post(
        f"{endpoint}/roles", json={"name": "r1", "password": "Role-Secret-1"}
    )
    await webhook_client.delete(f"{endpoint}/roles/r1")
    await webhook_client.post(
        f"{endpoint}/extensions", json={"name": "pg_trgm"} if False else {"name": "plpgsql"}
    )
    await webhook_client.delete(f"{endpoint}/extensions/plpgsql")
    key = (await webhook_client.post("/v1/api_keys", json={"name": "k"})).json()
    await webhook_client.delete(f"/v1/api_keys/{key['id']}")
    # a compute that cannot start: endpoint.failed
    runtime = hook_app.state.runtime
    await webhook_client.post(f"{endpoint}/suspend")
    conf = runtime.storage.path(project["branch_id"]) / "postgresql.conf"
    original = conf.read_text()
    conf.write_text(original + "\nshared_buffers = 'broken'\n")
    assert (await webhook_client.post(f"{endpoint}/resume")).status_code == 503
    conf.write_text(original)
    await webhook_client.delete(f"/v1/projects/{p}")
    expected = {
        "project.created", "project.deleted", "branch.created", "branch.deleted",
        "endpoint.suspended", "endpoint.resumed", "endpoint.updated", "endpoint.failed",
        "database.created", "database.deleted", "role.created", "role.deleted",
        "extension.installed", "extension.uninstalled", "allowlist.updated",
        "api_key.created", "api_key.revoked",
    }  # fmt: skip
    for _ in range(200):
        seen = {r.payload["type"] for r in receiver.at("/all")}
        if expected <= seen:
            break
        await asyncio.sleep(0.1)
    assert expected <= seen, expected - seen
    for delivery in receiver.at("/all"):
        payload = delivery.payload
        assert {"id", "type", "timestamp", "org_id", "data"} <= set(payload)
        assert project["pg_password"] not in delivery.body.decode()
        assert "Role-Secret-1" not in delivery.body.decode()
        assert key["key"] not in delivery.body.decode()
    assert role.status_code == 201


async def test_retries_until_the_receiver_recovers(
    webhook_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answer("/flaky", (500, {}, 0), (503, {}, 0), (200, {}, 0))
    hook = (
        await webhook_client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/flaky"), "events": ["*"]}
        )
    ).json()
    await webhook_client.post(f"/v1/orgs/webhooks/{hook['id']}/test")
    attempts = await receiver.wait("/flaky", 3)
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    deliveries = f"/v1/orgs/webhooks/{hook['id']}/deliveries"

    async def recorded() -> bool:
        return bool((await webhook_client.get(deliveries)).json()[0]["status"] == "succeeded")

    await eventually(recorded, 10, "the delivery to be recorded as succeeded")
    (delivery,) = (await webhook_client.get(deliveries)).json()
    assert delivery["attempt"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    redelivered = await webhook_client.post(
        f"/v1/orgs/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    )
    assert redelivered.status_code == 202
    again = await receiver.wait("/flaky", 4)
    assert again[-1].headers["webhook-id"] == attempts[0].headers["webhook-id"]


async def test_retry_after_is_honoured(
    webhook_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answer("/busy", (429, {"Retry-After": "1.5"}, 0), (200, {}, 0))
    hook = (
        await webhook_client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/busy"), "events": ["*"]}
        )
    ).json()
    await webhook_client.post(f"/v1/orgs/webhooks/{hook['id']}/test")
    first, second = await receiver.wait("/busy", 2)
    assert second.at - first.at >= 1.4


async def test_exhaustion_and_410_disable(
    webhook_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answer("/dead", *[(500, {}, 0)] * 10)
    receiver.answer("/gone", (410, {}, 0))
    watcher = (
        await webhook_client.post(
            "/v1/orgs/webhooks",
            json={"url": receiver.url("/watch"), "events": ["webhook.disabled"]},
        )
    ).json()
    dead = (
        await webhook_client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/dead"), "events": ["webhook.test"]}
        )
    ).json()
    gone = (
        await webhook_client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/gone"), "events": ["webhook.test"]}
        )
    ).json()
    await webhook_client.post(f"/v1/orgs/webhooks/{dead['id']}/test")
    await webhook_client.post(f"/v1/orgs/webhooks/{gone['id']}/test")
    await receiver.wait("/dead", 4)
    notices = await receiver.wait("/watch", 2)
    assert {n.payload["data"]["id"] for n in notices} == {dead["id"], gone["id"]}
    hooks = {h["id"]: h for h in (await webhook_client.get("/v1/orgs/webhooks")).json()}
    assert hooks[dead["id"]]["enabled"] is False
    assert "4 delivery attempts failed" in hooks[dead["id"]]["disabled_reason"]
    assert hooks[gone["id"]]["enabled"] is False
    assert "410" in hooks[gone["id"]]["disabled_reason"]
    assert hooks[watcher["id"]]["enabled"] is True
    await asyncio.sleep(1)
    assert len(receiver.at("/dead")) == 4  # 1 + 3 retries, then nothing more


async def test_nothing_is_lost_across_a_restart(
    workdir: Path, templates_dir: Path, receiver: Receiver
) -> None:
    settings = make_settings(workdir / "data-webhook-restart", templates_dir, **FAST)
    receiver.answer("/restart", (200, {}, 1.5))  # the first delivery is still in flight at stop
    async with running_app(settings) as app:
        key = await make_key(app.state.runtime.sessions, "org-restart-hooks")
        async with client_for(app, key) as client:
            hook = (
                await client.post(
                    "/v1/orgs/webhooks", json={"url": receiver.url("/restart"), "events": ["*"]}
                )
            ).json()
            sent = [
                (await client.post(f"/v1/orgs/webhooks/{hook['id']}/test")).json()["event_id"]
                for _ in range(5)
            ]
            await receiver.wait("/restart", 1)
    async with running_app(settings):
        await receiver.wait("/restart", 5, timeout=30)
        await asyncio.sleep(0.5)
    received = [r.headers["webhook-id"] for r in receiver.at("/restart")]
    assert set(sent) <= set(received)  # duplicates allowed, losses not


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/h",
        "http://10.0.0.1/h",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/h",
        "http://localhost/h",
        "http://0.0.0.0/h",
    ],
)
async def test_ssrf_targets_are_refused(app: FastAPI, url: str) -> None:
    key = await make_key(app.state.runtime.sessions, "org-ssrf")
    async with client_for(app, key) as client:
        response = await client.post("/v1/orgs/webhooks", json={"url": url, "events": ["*"]})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"]["field"] == "url"
        assert (await client.get("/v1/orgs/webhooks")).json() == []


async def test_connect_time_check_catches_what_creation_allowed(
    app: FastAPI, hook_app: FastAPI, receiver: Receiver
) -> None:
    """A URL accepted under one policy is still checked on the address actually dialled."""
    from lampion.services.webhooks import policy
    from lampion.webhooks.sender import send

    outcome = await send(
        httpx.AsyncClient(),
        policy(app.state.runtime),
        receiver.url("/never"),
        "whsec_" + "A" * 43 + "=",
        {"id": "evt_x", "type": "webhook.test"},
        0,
    )
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("refused")
    assert receiver.at("/never") == []


async def test_two_control_planes_deliver_each_event_once(
    workdir: Path, templates_dir: Path, metadata_pg: Any, receiver: Receiver
) -> None:
    from tests.support.apps import new_store_url

    store = await new_store_url("postgres", workdir, metadata_pg)
    first = make_settings(workdir / "data-hooks-a", templates_dir, database_url=store, **FAST)
    second = make_settings(workdir / "data-hooks-b", templates_dir, database_url=store, **FAST)
    async with running_app(first) as app_a, running_app(second):
        key = await make_key(app_a.state.runtime.sessions, "org-two-planes")
        async with client_for(app_a, key) as client:
            hook = (
                await client.post(
                    "/v1/orgs/webhooks", json={"url": receiver.url("/twice"), "events": ["*"]}
                )
            ).json()
            sent = [
                (await client.post("/v1/api_keys", json={"name": f"k{i}"})).json()["id"]
                for i in range(20)
            ]
            deliveries = await receiver.wait("/twice", 20)
            await asyncio.sleep(1)
    ids = [d.headers["webhook-id"] for d in receiver.at("/twice")]
    assert len(ids) == len(set(ids)) == 20
    assert sorted(d.payload["data"]["id"] for d in deliveries) == sorted(sent)
    assert hook["id"]


# --- volume: back-to-back delivery and wake-ups instead of polling

QUIET = {**FAST, "webhook_interval": 60}
"""A safety-net pass only every minute: only a wake-up explains prompt delivery."""
PROMPT = 10.0
"""Seconds within which a woken worker delivers, far below the safety-net interval."""


@pytest.fixture(scope="module")
async def quiet_app(workdir: Path, templates_dir: Path) -> AsyncIterator[FastAPI]:
    async with running_app(
        make_settings(workdir / "data-hooks-quiet", templates_dir, **QUIET)
    ) as app:
        yield app


async def test_events_committed_wake_the_worker_in_process(
    quiet_app: FastAPI, receiver: Receiver
) -> None:
    """SQLite store: the commit that wrote the event wakes this process's worker."""
    key = await make_key(quiet_app.state.runtime.sessions, "org-quiet-wake")
    async with client_for(quiet_app, key) as client:
        await client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/woken"), "events": ["api_key.created"]}
        )
        created = (await client.post("/v1/api_keys", json={"name": "wakes"})).json()

    async def delivered() -> bool:
        return len(receiver.at("/woken")) == 1

    await eventually(delivered, PROMPT, "the event to be delivered without a polling pass")
    assert receiver.at("/woken")[0].payload["data"]["id"] == created["id"]


async def test_a_redelivery_goes_out_at_once(quiet_app: FastAPI, receiver: Receiver) -> None:
    """Redeliver writes no event, yet it wakes the worker as an event's commit does."""
    key = await make_key(quiet_app.state.runtime.sessions, "org-quiet-redeliver")
    async with client_for(quiet_app, key) as client:
        hook = (
            await client.post(
                "/v1/orgs/webhooks", json={"url": receiver.url("/again"), "events": ["*"]}
            )
        ).json()
        await client.post(f"/v1/orgs/webhooks/{hook['id']}/test")
        (first,) = await receiver.wait("/again", 1, timeout=PROMPT)
        (delivery,) = (await client.get(f"/v1/orgs/webhooks/{hook['id']}/deliveries")).json()
        answer = await client.post(
            f"/v1/orgs/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
        )
        assert answer.status_code == 202, answer.text
        again = await receiver.wait("/again", 2, timeout=PROMPT)
    assert again[-1].headers["webhook-id"] == first.headers["webhook-id"]


async def test_fifty_events_arrive_in_order_and_all(quiet_app: FastAPI, receiver: Receiver) -> None:
    """Written in one transaction, so one wake-up: each goes as soon as the previous one is
    acknowledged, not one per pass."""
    from lampion.event_types import EventType
    from lampion.services import events, orgs

    sessions = quiet_app.state.runtime.sessions
    key = await make_key(sessions, "org-quiet-fifty")
    async with client_for(quiet_app, key) as client:
        created = await client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/fifty"), "events": ["*"]}
        )
        assert created.status_code == 201, created.text
    async with sessions() as session, session.begin():
        org = await orgs.get_or_create(session, "org-quiet-fifty")
        sent = [
            events.emit(session, org.id, EventType.WEBHOOK_TEST, {"seq": seq}).id
            for seq in range(50)
        ]

    async def all_arrived() -> bool:
        return len(receiver.at("/fifty")) >= 50

    await eventually(all_arrived, PROMPT * 2, "50 deliveries, one after another")
    assert [r.headers["webhook-id"] for r in receiver.at("/fifty")] == sent


async def test_a_notification_from_another_control_plane_wakes_the_worker(
    workdir: Path, templates_dir: Path, metadata_pg: Any, receiver: Receiver
) -> None:
    """PostgreSQL store: control plane A (no webhook worker of its own) writes the event; B's
    worker, which would poll only once a minute, is woken by A's NOTIFY."""
    from tests.support.apps import new_store_url

    store = await new_store_url("postgres", workdir, metadata_pg)
    shared = {**QUIET, "database_url": store, "master_key": Fernet.generate_key().decode()}
    writer = make_settings(
        workdir / "data-hooks-writer", templates_dir, **{**shared, "webhook_interval": 0}
    )
    deliverer = make_settings(workdir / "data-hooks-deliverer", templates_dir, **shared)
    async with running_app(writer) as app_a, running_app(deliverer):
        key = await make_key(app_a.state.runtime.sessions, "org-notified")
        async with client_for(app_a, key) as client:
            hook = await client.post(
                "/v1/orgs/webhooks",
                json={"url": receiver.url("/notified"), "events": ["api_key.created"]},
            )
            assert hook.status_code == 201, hook.text
            created = [
                (await client.post("/v1/api_keys", json={"name": f"n{i}"})).json()["id"]
                for i in range(3)
            ]

            async def delivered() -> bool:
                return len(receiver.at("/notified")) == 3

            await eventually(delivered, PROMPT, "B's worker to be woken by A's NOTIFY")
    assert [r.payload["data"]["id"] for r in receiver.at("/notified")] == created


async def test_x_lampion_signature_is_keyed_with_the_whole_secret_string(
    webhook_client: httpx.AsyncClient, receiver: Receiver
) -> None:
    """As the README says: HMAC-SHA256 of the raw body, keyed with the `whsec_…` string's
    UTF-8 bytes as shown at creation (not the base64-decoded bytes webhook-signature uses)."""
    import base64

    hook = (
        await webhook_client.post(
            "/v1/orgs/webhooks", json={"url": receiver.url("/seed-signed"), "events": ["*"]}
        )
    ).json()
    await webhook_client.post(f"/v1/orgs/webhooks/{hook['id']}/test")
    (delivery,) = await receiver.wait("/seed-signed", 1)
    header = {k.lower(): v for k, v in delivery.headers.items()}["x-lampion-signature"]
    secret: str = hook["secret"]
    documented = hmac.new(secret.encode("utf-8"), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(header, f"sha256={documented}")
    decoded = base64.b64decode(secret.removeprefix("whsec_"))
    assert header != f"sha256={hmac.new(decoded, delivery.body, hashlib.sha256).hexdigest()}"
