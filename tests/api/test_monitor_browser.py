"""The monitor in a real browser (headless Chromium driven by Playwright) over a real
server: sign in, watch a run go green live, select nodes by mouse and keyboard. The run
page's screenshot is saved under ``TEST_ARTEFACTS`` (default var/test-artefacts).

Needs the ``playwright`` package and a system Chromium (``/usr/bin/chromium``, or
``MONITOR_CHROMIUM``); without them the tests skip, unless ``CI`` is set, where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.data.store import Store
from backend.settings import Settings
from tests.api.conftest import LiveServer, calculator_graph, create_key, drain, http, wait_graph

CHROMIUM = os.environ.get("MONITOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 20_000
# Where the run page's screenshot is kept after the run (docs/monitor-run.png is one).
ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS") or ROOT / "var" / "test-artefacts")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e .[dev])"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """One database is enough here: the API tests cover both."""
    return f"sqlite:///{tmp_path / 'backend.db'}"


@pytest.fixture
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        # As root (CI) Chromium needs --no-sandbox; a small /dev/shm must not crash it.
        flags = ["--no-sandbox", "--disable-dev-shm-usage"]
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        yield launched
        launched.close()


def _drain_aside(settings: Settings) -> threading.Thread:
    """The executor in a thread: Playwright's own event loop holds this one."""
    worker = threading.Thread(target=drain, args=(settings,))
    worker.start()
    return worker


def _page(browser: Any, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Console errors too: a CSP violation or a missing asset shows there.
    page.on(
        "console",
        lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None,
    )
    page.js_errors = errors
    return page


def _sign_in(page: Any, url: str, key: str) -> None:
    page.goto(url)
    assert "/ui/login" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url)


def test_sign_in_open_a_finished_run_and_inspect_a_node(
    browser: Any, live: LiveServer, store: Store, settings: Settings
) -> None:
    key = create_key(store, "alice")
    with http(live, {"Authorization": f"Bearer {key}"}) as api:
        gid = api.post("/api/v1/graphs", json=calculator_graph()).json()["id"]
        rid = api.post(f"/api/v1/graphs/{gid}/execute", json={"inputs": {"Input": 8}}).json()
    _drain_aside(settings).join(timeout=60)
    page = _page(browser)
    _sign_in(page, f"{live.url}/ui/runs/{rid['id']}", key)
    assert page.locator("#run-status").text_content() == "COMPLETED"
    assert page.locator("g.node.s-COMPLETED").count() == 3
    fill = page.locator("g.node.s-COMPLETED rect").first.evaluate("r => getComputedStyle(r).fill")
    assert fill == "rgb(185, 239, 200)"  # coloured by status, not the default grey

    # Click the output node: its executions, inputs and outputs appear.
    output = page.locator("g.node", has_text="Output").first
    output.click()
    detail = page.locator("#node-detail-body")
    detail.locator(".node-outputs").first.wait_for()
    assert "42" in detail.locator(".node-outputs").first.text_content()
    assert "COMPLETED" in detail.text_content()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "monitor-run.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")

    # The keyboard reaches a node and opens it too.
    first = page.locator("g.node").first
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('g.node.selected') === document.querySelector('g.node')"
    )
    assert page.js_errors == []


def test_a_running_run_turns_green_live_and_the_list_follows(
    browser: Any, live: LiveServer, store: Store, settings: Settings
) -> None:
    key = create_key(store, "alice")
    with http(live, {"Authorization": f"Bearer {key}"}) as api:
        gid = api.post("/api/v1/graphs", json=wait_graph(0.3, steps=2)).json()["id"]
        rid = api.post(f"/api/v1/graphs/{gid}/execute", json={"inputs": {"x": 5}}).json()["id"]
    page = _page(browser, width=390)
    _sign_in(page, f"{live.url}/ui/runs/{rid}", key)
    assert page.locator("#run-status").text_content() == "QUEUED"
    assert page.locator("#run").get_attribute("data-live") == "true"
    listing = page.context.new_page()  # the runs list, in the same session, polling
    listing.set_default_timeout(TIMEOUT_MS)
    listing.goto(f"{live.url}/ui/runs")
    assert listing.get_by_role("cell", name="QUEUED", exact=True).count() == 1
    worker = _drain_aside(settings)
    try:
        page.wait_for_function(
            "() => document.getElementById('run-status').textContent === 'COMPLETED'"
        )
        page.wait_for_function("() => document.querySelectorAll('g.node.s-COMPLETED').length == 4")
        outputs = page.locator("#run-outputs")
        page.wait_for_function("e => e.textContent.includes('5')", arg=outputs.element_handle())
        listing.get_by_role("cell", name="COMPLETED", exact=True).wait_for()
        assert "4 completed" in listing.locator("#runs tbody").text_content()
    finally:
        worker.join(timeout=60)
    # Readable on a phone: nothing wider than the screen but the scrolling boxes.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.goto(f"{live.url}/ui/runs")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.url}/ui/login")
    page.goto(f"{live.url}/ui/runs")
    assert "/ui/login" in page.url
    assert page.js_errors == []


def test_a_node_late_in_a_long_run_shows_its_execution(
    browser: Any, live: LiveServer, store: Store, settings: Settings
) -> None:
    """The output node of a 120-step chain runs after more than a page of executions."""
    key = create_key(store, "alice")
    with http(live, {"Authorization": f"Bearer {key}"}) as api:
        gid = api.post("/api/v1/graphs", json=wait_graph(0, steps=120)).json()["id"]
        rid = api.post(f"/api/v1/graphs/{gid}/execute", json={"inputs": {"x": 7}}).json()["id"]
    _drain_aside(settings).join(timeout=120)
    page = _page(browser)
    _sign_in(page, f"{live.url}/ui/runs/{rid}", key)
    assert page.locator("#run-status").text_content() == "COMPLETED"
    assert page.locator("g.node.s-COMPLETED").count() == 122
    page.locator("g.node", has_text="out").last.click()
    detail = page.locator("#node-detail-body")
    detail.locator(".node-outputs").first.wait_for()
    assert "7" in detail.locator(".node-outputs").first.text_content()
    assert page.js_errors == []


def test_cancel_a_running_run_from_its_page(
    browser: Any, live: LiveServer, store: Store, settings: Settings
) -> None:
    key = create_key(store, "alice")
    with http(live, {"Authorization": f"Bearer {key}"}) as api:
        gid = api.post("/api/v1/graphs", json=wait_graph(30)).json()["id"]
        rid = api.post(f"/api/v1/graphs/{gid}/execute", json={"inputs": {"x": 1}}).json()["id"]
    page = _page(browser)
    _sign_in(page, f"{live.url}/ui/runs/{rid}", key)
    worker = _drain_aside(settings)
    try:
        page.wait_for_function(
            "() => document.getElementById('run-status').textContent === 'RUNNING'"
        )
        page.get_by_role("button", name="Cancel run").click()
        page.get_by_text("Cancellation requested.").wait_for()
        page.wait_for_function(
            "() => document.getElementById('run-status').textContent === 'TERMINATED'"
        )
        page.get_by_role("button", name="Cancel run").wait_for(state="hidden")
    finally:
        worker.join(timeout=60)
    assert page.js_errors == []


def test_import_a_graph_and_start_a_run_from_its_form(
    browser: Any, live: LiveServer, store: Store, settings: Settings, tmp_path: Path
) -> None:
    key = create_key(store, "alice")
    export = tmp_path / "calculator.json"
    export.write_text(json.dumps(calculator_graph()))
    page = _page(browser)
    _sign_in(page, f"{live.url}/ui/graphs", key)
    page.get_by_label("Graph JSON file").set_input_files(str(export))
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/ui/graphs/*")
    assert page.locator("h1").text_content().startswith(calculator_graph()["name"])
    page.get_by_label("Input").fill("8")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url("**/ui/runs/*")
    _drain_aside(settings).join(timeout=60)
    page.wait_for_function(
        "() => document.getElementById('run-status').textContent === 'COMPLETED'"
    )
    outputs = page.locator("#run-outputs")
    page.wait_for_function("e => e.textContent.includes('42')", arg=outputs.element_handle())

    # A file that is not JSON, or not a graph, is refused with a message.
    page.goto(f"{live.url}/ui/graphs")
    error = page.locator("#import-error")
    for text, message in (("{not json", "not JSON"), ('{"nodes": 5}', "not a valid graph")):
        export.write_text(text)
        page.get_by_label("Graph JSON file").set_input_files(str(export))
        page.get_by_role("button", name="Import").click()
        shown = "m => document.getElementById('import-error').textContent.includes(m)"
        page.wait_for_function(shown, arg=message)
        assert error.is_visible()
    # The refused import is the one failed request the console reports.
    assert [e for e in page.js_errors if "(Unprocessable Entity)" not in e] == []


def test_docs_and_redoc_render_without_leaving_the_server(browser: Any, live: LiveServer) -> None:
    page = _page(browser)
    elsewhere: list[str] = []  # what the page tried to fetch from another host

    def local_only(route: Any) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    # Requests the page's CSP blocks never reach the network, nor this handler.
    page.route("**/*", local_only)
    page.goto(f"{live.url}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "agent-server" in page.locator(".swagger-ui .info .title").text_content()
    page.locator(".opblock-summary-path", has_text="/api/v1/graphs").first.wait_for()
    page.goto(f"{live.url}/redoc")
    page.locator("redoc h1", has_text="agent-server").first.wait_for()
    page.get_by_text("/api/v1/executions/{run_id}/events").first.wait_for(state="attached")
    assert elsewhere == []
