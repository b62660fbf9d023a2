"""Every form of the console answers bad input as the API does (a 4xx naming what is
wrong), never a 5xx: each POST route under /console gets numbers that are not numbers,
infinities, NUL characters and over-long text in all its fields at once."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute

from lampion.console import ROUTERS
from tests.support.apps import client_for
from tests.support.orgs import make_key

HOSTILE = ["abc", "inf", "-nan", "1e999", "-1", "x\x00y", "9" * 400, "é" * 3000]
PATH_IDS = {"project_id": "prj-nosuchproject", "endpoint_id": "ep-nosuchendpoint"}
SPENDS_THE_SESSION = {"/console/sign-out"}


def _console_forms() -> list[tuple[str, list[str]]]:
    forms = []
    for route in (route for router in ROUTERS for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        if "POST" not in (route.methods or set()) or route.path in SPENDS_THE_SESSION:
            continue
        fields = [param.alias for param in route.dependant.body_params]
        forms.append((route.path, fields))
    return forms


def _filled(path: str) -> str:
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: PATH_IDS.get(m.group(1), "x-nosuch"), path)


async def test_no_console_form_answers_a_server_error(app: FastAPI) -> None:
    key = await make_key(app.state.runtime.sessions, "org-console-forms", plan="free")
    async with client_for(app) as browser:
        origin = str(browser.base_url).rstrip("/")
        browser.headers["Origin"] = origin
        assert (await browser.post("/console/sign-in", data={"api_key": key})).status_code == 303
        page = await browser.get("/console/projects")
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
        assert csrf is not None
        forms = _console_forms()
        assert len(forms) > 10
        for path, fields in forms:
            for value in HOSTILE:
                for as_htmx in (False, True):
                    headers = {"X-CSRF-Token": csrf.group(1)}
                    if as_htmx:
                        headers["HX-Request"] = "true"
                    answer = await browser.post(
                        _filled(path), data=dict.fromkeys(fields, value), headers=headers
                    )
                    assert answer.status_code < 500, (path, value, answer.text[:500])
