"""The console's browser tests keep a screenshot of every page that was open when a test failed
(``test-artifacts/console/``), and fail on any script error the page raised."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, VIEWPORT, require_browser


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page_errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def page(browser, page_errors: list[str]) -> Iterator[object]:
    """One tab for the whole module (the tests follow one operator's session)."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.on("pageerror", lambda error: page_errors.append(str(error)))
    yield tab
    context.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest, page_errors: list[str]) -> Iterator[None]:
    before = len(page_errors)
    yield
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed and "page" in request.fixturenames:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab = request.getfixturevalue("page")
        path = ARTIFACTS / f"{request.node.name}.png"
        try:
            tab.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the failed page: {path} ({tab.url})")
        except Exception as exc:  # noqa: BLE001 - the screenshot is a help, never the failure
            print(f"no screenshot: {exc}")
    assert page_errors[before:] == [], "the page raised script errors"
