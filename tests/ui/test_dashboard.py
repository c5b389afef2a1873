"""The dashboard in a real headless Chromium against a real broker process: the sign-in page for a
stranger, the vmgroups and vmgroup pages with the numbers of `vdvs usage --json`, a scoped admin's
view, the one-time link, and the operations page from the broker's metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.delegation.harness import Principal
from tests.ui.harness import REFUSED_CREATES, Uenv, chromium, needs_chromium

pytestmark = needs_chromium
FIGURES = ("volumes", "provisioned_mb", "reserved_mb", "allocated_bytes", "attached")


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def cells(row: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(row.find_elements(By.TAG_NAME, "td"))


def rows(browser: Any, table: str, visible_only: bool = False) -> list[Any]:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.CSS_SELECTOR, f"table#{table} tbody tr")
    return [r for r in found if r.is_displayed()] if visible_only else found


def value(cell: Any) -> int | None:
    text = cell.get_attribute("data-value")
    return None if text in (None, "") else int(float(text))


def signed_in(browser: Any, link: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(link)
    assert browser.current_url.endswith("/ui"), browser.current_url
    assert browser.find_element(By.ID, "viewer").text


def test_a_browser_not_signed_in_gets_the_sign_in_page_and_no_figures(dash: Uenv, browser: Any, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    for path in ("/ui", "/ui/vmgroups/web", "/ui/operations"):
        browser.get(dash.url(path))
        assert browser.find_element(By.ID, "signin").text == "Sign in to the vdvs dashboard"
        assert "vdvs ui link" in browser.page_source
        assert "web" not in browser.find_element(By.TAG_NAME, "main").text.split()
    browser.save_screenshot(str(shots / "signin.png"))
    status, body, _ = dash.get("/ui/vmgroups/web")
    assert status == 401
    assert "orders" not in body and "alpha" not in body


def test_the_vmgroups_page_shows_the_numbers_of_vdvs_usage(dash: Uenv, browser: Any, shots: Path) -> None:
    signed_in(browser, dash.link())
    report = {unit["vmgroup"]: unit for unit in dash.js("usage")}
    shown = {row.get_attribute("data-vmgroup"): row for row in rows(browser, "vmgroups")}
    assert sorted(shown) == sorted(report) == ["_DEFAULT", "db", "web"]
    for name, unit in report.items():
        tds = cells(shown[name])
        by_column = dict(zip(["vmgroup", "members", "volumes", "volume_limit", "provisioned_mb", "reserved_mb",
                              "allocated_bytes", "attached"], tds, strict=False))  # fmt: skip
        for figure in (*FIGURES, "volume_limit"):
            assert value(by_column[figure]) == unit["total"][figure], (name, figure)
    web = cells(shown["web"])
    assert value(web[1]) == 1  # vm1
    assert "volumes local1: 3 of 3 (100%)" in web[8].text  # the count limit reached
    assert web[9].text == "full"
    assert cells(shown["db"])[9].text == "ok"
    browser.save_screenshot(str(shots / "vmgroups.png"))


def test_a_vmgroup_page_shows_its_datastores_members_volumes_events_and_trend(
    dash: Uenv, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    signed_in(browser, dash.link())
    browser.get(dash.url("/ui/vmgroups/web"))
    assert browser.find_element(By.ID, "vmgroup-name").text == "web"
    unit = next(u for u in dash.js("usage") if u["vmgroup"] == "web")
    lines = {r.get_attribute("data-datastore"): cells(r) for r in rows(browser, "datastores")}
    for line in unit["datastores"]:
        tds = lines[line["datastore"]]
        assert value(tds[4]) == line["provisioned_mb"] and value(tds[5]) == line["volumes"]
        assert value(tds[6]) == line["volume_limit"] and value(tds[3]) == line["size_limit_mb"]
    assert value(lines["(total)"][4]) == unit["total"]["provisioned_mb"]
    assert [c.text for c in lines["local1"][:3]] == ["local1", "True", "Unset"]
    members = [cells(r) for r in rows(browser, "members")]
    assert [(m[0].text, m[2].text) for m in members] == [("vm1", "poweredOn")]
    listed = sorted(tuple(r) for r in dash.table("volume", "ls", "--vmgroup", "web")[1])
    assert sorted(tuple(c.text for c in cells(r)) for r in rows(browser, "volumes")) == listed
    filter_box = browser.find_element(By.CSS_SELECTOR, "input[data-filter-for=volumes]")
    filter_box.send_keys("beta")
    assert [cells(r)[0].text for r in rows(browser, "volumes", visible_only=True)] == ["beta"]
    filter_box.clear()
    filter_box.send_keys(" ")
    header = browser.find_elements(By.CSS_SELECTOR, "table#volumes thead th")[0]
    header.click()
    header.click()  # descending
    assert [cells(r)[0].text for r in rows(browser, "volumes", visible_only=True)] == ["gamma", "beta", "alpha"]
    events = [cells(r) for r in rows(browser, "events")]
    assert {e[1].text for e in events} >= {"admin", "volume"}
    assert [e[3].text for e in events].count("volume.create") == 3 + REFUSED_CREATES
    assert any(e[5].text == "refused" for e in events)
    trend = browser.find_element(By.ID, "trend")
    sampled = int(trend.get_attribute("data-sampled"))
    assert sampled >= 3  # the three past days (and today's, once the sweep has filed it)
    points = trend.find_element(By.TAG_NAME, "polyline").get_attribute("points").split()
    assert len(points) == sampled
    browser.save_screenshot(str(shots / "vmgroup-web.png"))


def test_a_scoped_admin_sees_only_its_vmgroup_and_no_other_exists_for_it(
    dash: Uenv, alice: Principal, browser: Any, shots: Path
) -> None:
    from selenium.webdriver.common.by import By

    link = alice.js("ui", "link")["url"]
    signed_in(browser, link)
    assert browser.find_element(By.ID, "viewer").text == "admin:alice"
    assert [r.get_attribute("data-vmgroup") for r in rows(browser, "vmgroups")] == ["web"]
    assert "orders" not in browser.page_source and ">db<" not in browser.page_source
    browser.save_screenshot(str(shots / "scoped-vmgroups.png"))
    pages = []
    for name in ("db", "_DEFAULT", "no-such-group"):
        browser.get(dash.url(f"/ui/vmgroups/{name}"))
        assert browser.find_element(By.ID, "notfound").text == "Not found"
        pages.append(browser.find_element(By.TAG_NAME, "main").text)
    assert pages[0] == pages[1] == pages[2]  # another's page and a missing one read the same
    browser.get(dash.url("/ui/vmgroups/web"))
    assert browser.find_element(By.ID, "vmgroup-name").text == "web"
    assert alice.refused("ui", "link", "--admin", "bob").strip() == "admin:alice has no platform-admin grant"


def test_a_one_time_link_works_once(dash: Uenv, alice: Principal, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    link = dash.link("--admin", "alice", "--minutes", "5")
    first, second = chromium(), chromium()
    try:
        signed_in(first, link)
        assert first.find_element(By.ID, "viewer").text == "admin:alice"
        second.get(link)
        assert "not valid" in second.find_element(By.ID, "message").text
        assert second.find_element(By.ID, "signin")
        second.save_screenshot(str(shots / "link-used.png"))
        first.get(dash.url("/ui"))  # the first browser's session goes on
        assert [r.get_attribute("data-vmgroup") for r in rows(first, "vmgroups")] == ["web"]
    finally:
        first.quit()
        second.quit()


def test_the_operations_page_shows_latency_and_refusals_from_the_metrics(dash: Uenv, browser: Any, shots: Path) -> None:
    signed_in(browser, dash.link())
    browser.get(dash.url("/ui/operations"))
    latency = {r.get_attribute("data-operation"): cells(r) for r in rows(browser, "latency")}
    create = latency["create"]
    assert value(create[1]) == 3 + REFUSED_CREATES + 1  # web's 3 and 2 refused, db's 1
    assert value(create[5]) == REFUSED_CREATES
    refusals = [cells(r) for r in rows(browser, "refusals")]
    assert [(r[0].text, value(r[2])) for r in refusals] == [("web", REFUSED_CREATES)]
    browser.save_screenshot(str(shots / "operations.png"))


def test_an_admin_certificate_signs_in_until_it_is_revoked(dash: Uenv, alice: Principal) -> None:
    """The browser's client certificate, presented here by an HTTP client (as `vdvs login`'s would be)."""
    carol = dash.admin("carol")
    dash.ok("admin", "grant", "--principal", "admin:carol", "--role", "vmgroup-viewer", "--vmgroup", "db")
    assert carol.bundle is not None
    status, body, headers = dash.get("/ui", bundle=carol.bundle)
    assert status == 200, body
    assert 'data-vmgroup="db"' in body and 'data-vmgroup="web"' not in body
    assert 'signed in as <span id="viewer">admin:carol</span> (certificate)' in body
    assert headers["cache-control"] == "no-store"
    status, body, _ = dash.get("/ui/vmgroups/db", bundle=carol.bundle)
    assert status == 200 and "orders" in body
    assert 'id="events-hidden"' in body  # a viewer does not read the audit trail
    assert dash.get("/ui/vmgroups/web", bundle=carol.bundle)[0] == 404
    dash.ok("admin", "revoke", "carol")
    status, body, _ = dash.get("/ui", bundle=carol.bundle)
    assert status == 401 and 'id="signin"' in body
