"""The web console end to end, in headless Chromium, on one simulated 3-zone cluster with agents
(tests run in file order, as one operator's session):

1. sign-in: a wrong password shows the agent's refusal; the right one opens the cluster page;
   an ended session goes back to sign-in;
2. the two RPMs uploaded through the page (progress bars); bad upgrade input (empty version, a
   version without packages, a zone that does not exist) shows the agent's error next to its
   field and starts nothing; a rolling upgrade with ``pause_after_zones: [zone1]`` planned and
   started; zone1 seen done in the task page, RESUME pressed, SUCCEED, and the cluster page shows
   every server at the new build;
3. a failing step (``upgrade_job_fails``: the post script's upgrade job fails) shows its logs in
   the page; RETRY from the page completes it; sign-out.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pyobshell.sim.faults import clear_fault, set_fault
from tests.api.upgrade.upgrade_runs import RELEASES, build_packages, cluster_versions, route_file
from tests.console.browser import ARTIFACTS, require_browser
from tests.helpers import nets
from tests.helpers.kill_matrix import PASSWORD, Rig

pytestmark = [pytest.mark.multiprocess, pytest.mark.browser]
UPGRADE_S = 240_000  # ms: the longest wait for an upgrade to end (fast simulator profile)
DOCS_SCREENSHOT = os.environ.get("PYOBSHELL_DOCS_SCREENSHOT")  # where to keep the README's picture


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory):
    require_browser()  # before a cluster is started for nothing
    root = tmp_path_factory.mktemp("console")
    versions = ["4.2.1.1", "4.2.1.2"]
    rpms = build_packages(root / "rpm", versions, route_file(root / "dep.yml", ["4.2.1.0", *versions]))
    with Rig(root, nets.CONSOLE) as rig:
        rig.rpms = {v: [p for p in rpms if f"-{v}-" in p.name] for v in versions}
        yield rig


@pytest.fixture(scope="module")
def url(rig: Rig) -> str:
    agent = rig.agents[0]
    return f"http://{agent['ip']}:{agent['port']}/"


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def sign_in(page, password: str) -> None:
    page.fill("#password", password)
    page.click("#signin button[type=submit]")


@pytest.fixture
def signed_in(page, url: str):
    """The page signed in, whatever the test before left: one failure must not fail the rest."""
    if page.url == "about:blank":
        page.goto(url)
    if page.locator("#signin").count():
        sign_in(page, PASSWORD)
        expect()(page.locator("#nav")).to_be_visible()
    return page


def cluster_dags(rig: Rig) -> list[dict]:
    with rig.client(rig.agents[1]) as api:
        return api.request("GET", "/api/v1/task/dags/ob", query={"show_details": "false"})["contents"]


def confirm(page, operator: str) -> None:
    page.click(f"#operators button[data-operator={operator}]")
    dialog = page.locator("dialog[open]")
    expect()(dialog).to_contain_text(f"{operator} task")
    dialog.locator("button[data-confirm=yes]").click()


def test_sign_in_refuses_a_wrong_password_and_an_ended_session_goes_back(page, rig: Rig, url: str) -> None:
    page.goto(url)
    expect()(page.locator("#signin")).to_be_visible()
    sign_in(page, "not-the-password")
    refusal = page.locator("#signin-status .error")
    expect()(refusal).to_contain_text("Security.Authentication.IncorrectOceanbasePassword")
    assert page.evaluate("sessionStorage.length") == 0

    sign_in(page, PASSWORD)
    expect()(page.locator("#servers tbody tr")).to_have_count(3)
    expect()(page.locator("#agents tbody tr")).to_have_count(3)
    expect()(page.locator("#zones tbody tr")).to_have_count(3)
    for build in page.locator("#servers .build").all_inner_texts():
        assert build.startswith("4.2.1.0"), build
    assert "maintainer" in page.locator("#agents").inner_text()

    # the session ended elsewhere (the password ends any session): the next refresh signs out
    session_id = page.evaluate("sessionStorage.getItem('pyobshell.session')")
    assert re.fullmatch(r"[0-9a-f]{64}", session_id)
    assert PASSWORD not in page.evaluate("JSON.stringify(sessionStorage) + JSON.stringify(localStorage)")
    with rig.client(rig.agents[2]) as api:
        api.request("POST", "/api/v1/logout", {"session_id": session_id})
    expect()(page.locator("#signin-note")).to_contain_text("sign in again", timeout=15_000)
    sign_in(page, PASSWORD)
    expect()(page.locator("#servers tbody tr")).to_have_count(3)


def field_error(page, name: str):
    return page.locator(f'.field-error[data-field="{name}"]')


def test_upload_plan_and_a_rolling_upgrade_paused_after_zone1(signed_in, page, rig: Rig, url: str) -> None:
    page.click("a[data-page=packages]")
    page.set_input_files("#package-files", [str(p) for p in rig.rpms["4.2.1.1"]])
    page.click("#upload")
    expect()(page.locator("#upload-list li[data-done=yes]")).to_have_count(2, timeout=60_000)
    assert page.locator("#upload-list progress").evaluate_all("bars => bars.map(b => b.value)") == [100, 100]
    expect()(page.locator("#package-table tbody tr")).to_have_count(2)

    page.click("a[data-page=upgrade]")
    expect()(page.locator("#f-version")).to_have_value("4.2.1.1")
    assert page.input_value("#f-release") == RELEASES["4.2.1.1"]
    # bad input: each refused by the agent, shown next to its field, and nothing starts
    page.fill("#f-version", "")
    page.click("#make-plan")
    expect()(field_error(page, "version")).to_be_visible()
    page.fill("#f-version", "4.2.1.2")  # a version whose packages were not uploaded
    page.click("#make-plan")
    expect()(field_error(page, "version")).to_contain_text("OB.Package.NotExist")
    page.fill("#f-version", "4.2.1.1")
    page.fill("#f-pause_after_zones", "zone9")
    page.click("#make-plan")
    expect()(field_error(page, "pause_after_zones")).to_contain_text("OB.Upgrade.Gate.UnknownZone")
    assert page.locator("#start-upgrade").is_hidden()
    page.fill("#f-soak_s", "-5")
    page.fill("#f-pause_after_zones", "zone1")
    page.click("#make-plan")
    expect()(field_error(page, "soak_s")).to_be_visible()
    assert field_error(page, "pause_after_zones").count() == 0
    page.fill("#f-soak_s", "")
    assert cluster_dags(rig) == []

    page.click("#make-plan")
    expect()(page.locator("#plan-stages")).to_have_text("27")  # 26 + the canary's gate
    expect()(page.locator("#plan-gates")).to_contain_text("wait for RESUME after zone1")
    expect()(page.locator("#plan-ready")).to_have_text("all present")
    assert page.locator("#plan-stage-table .pnr").count() == 1
    assert page.locator("#plan-route [data-package]").count() == 2
    page.click("#start-upgrade")
    expect()(page).to_have_url(re.compile(r"#/task/1\d+$"))

    zone1 = page.locator('#progress tr[data-section="zone1"]')
    expect()(zone1).to_have_attribute("data-state", "PAUSED", timeout=UPGRADE_S)  # at its gate
    expect()(zone1.locator('.chip[data-node="Start zone1"]')).to_have_attribute("data-state", "SUCCEED")
    expect()(page.locator("#pause-notice")).to_contain_text("zone1")
    expect()(page.locator('#progress tr[data-section="zone2"]')).to_have_attribute("data-state", "PENDING")
    expect()(page.locator("#operators button[data-operator=RESUME]")).to_be_visible()
    expect()(page.locator("#probe-ok")).to_be_visible(timeout=30_000)
    assert page.locator("#chart-success path").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "task-page.png"), full_page=True)
    if DOCS_SCREENSHOT:
        shutil.copyfile(ARTIFACTS / "task-page.png", Path(DOCS_SCREENSHOT))

    confirm(page, "RESUME")
    expect()(zone1).to_have_attribute("data-state", "SUCCEED", timeout=30_000)
    expect()(page.locator("#task-state")).to_have_attribute("data-state", "SUCCEED", timeout=UPGRADE_S)
    expect()(page.locator("#operators")).to_contain_text("No operator applies")

    page.click("a[data-page=cluster]")
    expect()(page.locator("#servers tbody tr")).to_have_count(3)
    builds = page.locator("#servers .build").all_inner_texts()
    assert [b.split("_")[0] for b in builds] == ["4.2.1.1"] * 3, builds
    assert cluster_versions(rig.document["observers"][0], PASSWORD) == ({"4.2.1.1"}, {"4.2.1.1"})
    page.click("a[data-page=history]")
    expect()(page.locator("#history tbody tr")).to_have_count(1)
    expect()(page.locator("#history")).to_contain_text("SUCCEED")


def test_a_failed_step_shows_its_logs_and_retry_from_the_page_completes_it(signed_in, page, rig: Rig,
                                                                          url: str) -> None:
    with rig.client(rig.agents[0]) as api:
        for rpm in rig.rpms["4.2.1.2"]:
            api.upload_package(rpm)
    page.click("a[data-page=upgrade]")
    page.select_option("#f-target", label=f"4.2.1.2-{RELEASES['4.2.1.2']}")
    page.select_option("#f-mode", "STOPSERVICE")
    page.click("#make-plan")
    expect()(page.locator("#plan-ready")).to_have_text("all present")
    set_fault(rig.directory, "upgrade_job_fails")  # upgrade_post.py's upgrade job ends FAILED
    try:
        page.click("#start-upgrade")
        expect()(page.locator("#task-state")).to_have_attribute("data-state", "FAILED", timeout=UPGRADE_S)
    finally:
        clear_fault(rig.directory, "upgrade_job_fails")
    failure = page.locator("#failure")
    expect()(failure).to_contain_text("Execute upgrade post script")
    expect()(failure.locator(".sub-task pre").first).to_contain_text("upgrade_post.py exited with 1")
    operators = page.locator("#operators")
    for name in ("RETRY", "ROLLBACK", "PASS"):
        expect()(operators.locator(f"button[data-operator={name}]")).to_be_visible()
    expect()(operators).to_contain_text("Run the failed step")

    confirm(page, "RETRY")
    expect()(page.locator("#task-state")).to_have_attribute("data-state", "SUCCEED", timeout=UPGRADE_S)
    assert cluster_versions(rig.document["observers"][0], PASSWORD) == ({"4.2.1.2"}, {"4.2.1.2"})

    page.click("#sign-out")
    expect()(page.locator("#signin-note")).to_contain_text("signed out")
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(url + "#/cluster")  # nothing to see without signing in again
    expect()(page.locator("#signin")).to_be_visible()
