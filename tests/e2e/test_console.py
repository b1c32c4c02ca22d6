"""The console in a real browser (headless Chromium from Debian's package, driven by Playwright)
against the local stack over HTTP, filled by the demo day: sign in, find the demo's
most-channels customer by phone, build a segment whose preview equals the API's count, launch a
campaign to it and watch the report complete, change stock and see every channel follow, and an
event name holding markup shown as text. Every page is checked with axe-core (vendored) for
serious or critical violations and walked with the keyboard; each is photographed at 1280x800 in
English and Simplified Chinese (into `CONSOLE_SCREENSHOTS`, default `.console-screenshots/`;
`make screenshots` writes the README's into docs/console/)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.test_local_stack import ADMIN_KEY, ROOT, SERVER_WRITE_KEY, RunningStack, http, wait_for

pytestmark = pytest.mark.e2e

AXE = ROOT / "tests" / "e2e" / "vendor" / "axe-core-4.14.1.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PAGES = ["overview", "customers", "segments", "campaigns", "journeys", "membership", "inventory", "sources"]
SCREENSHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", ROOT / ".console-screenshots"))
MARKUP_EVENT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def admin(stack: RunningStack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    raw = None if body is None else json.dumps(body).encode()
    return http(method, stack.url(path), body=raw, headers=headers)


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[RunningStack, dict[str, Any]]]:
    """Its own stack (this module changes policies and stock), filled by a small demo day."""
    stack = RunningStack("--demo", "12")
    try:
        done = wait_for(
            lambda: stack.record("demo_done") or stack.record("demo_failed"), timeout=600, what="the demo"
        )
        assert "profile_sample" in done, done
        yield stack, done
    finally:
        assert stack.stop() == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: make test installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, demo: tuple[RunningStack, dict[str, Any]]) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="Asia/Shanghai"
    )
    opened = context.new_page()
    problems: list[str] = []  # script errors, CSP violations, failed console files, 5xx
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    # An API refusal (4xx) is shown on the page as designed; a console file that fails to load,
    # or any 5xx, is a fault.
    opened.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}")
            if response.status >= 500 or (response.status >= 400 and "/console" in response.url)
            else None
        ),
    )
    opened.set_default_timeout(15_000)
    yield opened
    context.close()
    assert not problems, problems  # no script error, no CSP violation, no failed request


def sign_in(page: Page, stack: RunningStack, *, language: str | None = None) -> None:
    page.goto(stack.url("/console"))
    if language:
        page.select_option("#language", language)
    page.fill("input[name=admin-key]", ADMIN_KEY)
    page.keyboard.press("Enter")  # by keyboard: the form submits on Enter
    expect(page.locator("header nav")).to_be_visible()


def open_page(page: Page, stack: RunningStack, route: str) -> None:
    page.goto(stack.url(f"/console#/{route}"))
    expect(page.locator(f'main[data-route="#/{route}"]')).to_be_attached()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations (added through DevTools, as an extension would:
    the page's own CSP allows no inline script)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations)", AXE_TAGS
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results
        if v["impact"] in ("serious", "critical")
    ]


def keyboard_reaches_everything(page: Page) -> list[str]:
    """Tab through the page: every visible control (link, button, field) is reached. Answers the
    ones that were not."""
    page.evaluate(
        """() => {
        const wanted = "a[href], button, input, select, textarea, summary";
        window.__controls = [...document.querySelectorAll(wanted)]
          .filter(el => !el.disabled && el.offsetParent !== null);
        window.__reached = new Set();
        document.addEventListener('focusin', e => window.__reached.add(e.target), true);
        document.activeElement && document.activeElement.blur();
      }"""
    )
    total = page.evaluate("window.__controls.length")
    for _ in range(3 * total + 10):  # a date-time field takes a Tab per part (day, month, ...)
        page.keyboard.press("Tab")
        if page.evaluate("window.__controls.every(el => window.__reached.has(el))"):
            break
    return page.evaluate(
        """() => window.__controls.filter(el => !window.__reached.has(el))
          .map(el => el.outerHTML.slice(0, 80))"""
    )


def test_signing_in_keeps_the_key_in_the_tab_only_and_signing_out_forgets_it(page, demo):
    stack, _ = demo
    banner = f"console        {stack.url('/console')}    (sign in with the admin key)"
    assert banner in [line.strip() for line in stack.lines], stack.lines[:20]  # `make run` says where
    page.goto(stack.url("/console"))
    page.fill("input[name=admin-key]", "not-the-key")
    page.keyboard.press("Enter")
    expect(page.locator(".signin [role=alert]")).to_have_text("That key was not accepted.")
    sign_in(page, stack)
    assert page.evaluate("sessionStorage.getItem('omnireach.adminKey')") == ADMIN_KEY
    assert ADMIN_KEY not in page.url
    assert ADMIN_KEY not in page.evaluate("JSON.stringify(localStorage) + document.cookie")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("input[name=admin-key]")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('omnireach.adminKey')") is None


def test_the_most_channels_customer_is_found_by_phone_with_their_identifiers_channels(page, demo):
    stack, done = demo
    sample = done["profile_sample"]
    sign_in(page, stack)
    open_page(page, stack, "customers")
    page.get_by_label("Identifier type", exact=True).select_option("phone")
    page.get_by_label("Value", exact=True).fill(sample["phone"])
    page.get_by_role("button", name="Search").click()
    rows = page.locator("section[aria-labelledby=s-identifiers-by-channel] tbody tr")
    expect(rows.first).to_be_visible()
    by_identifier = {
        rows.nth(i).locator("td").nth(1).inner_text(): rows.nth(i)
        .locator(".channels")
        .get_attribute("data-channels")
        for i in range(rows.count())
    }
    assert sample["phone"] in by_identifier and sample["email"] in by_identifier, by_identifier
    seen = {
        channel for channels in by_identifier.values() for channel in (channels or "").split(",") if channel
    }
    assert seen >= set(sample["channels"]), (seen, sample)
    assert len(seen) >= 3


def test_a_segment_built_in_the_console_previews_the_api_s_count_and_is_saved(page, demo):
    stack, _ = demo
    sign_in(page, stack)
    open_page(page, stack, "segments")
    page.get_by_label("Segment id", exact=True).fill("console-buyers")
    page.get_by_label("Name", exact=True).fill("Bought at least once")
    page.get_by_label("Field", exact=True).select_option("orders")
    page.get_by_label("Operator", exact=True).select_option("gte")
    page.get_by_label("Value", exact=True).fill("1")
    page.get_by_role("button", name="Preview count").click()
    preview = page.locator(".preview[data-count]")
    expect(preview).to_be_visible()
    status, counted = admin(
        stack, "POST", "/segments/preview", {"rule": {"all": [{"field": "orders", "op": "gte", "value": 1}]}}
    )
    assert status == 200 and counted["exact"], counted
    assert int(preview.get_attribute("data-count")) == counted["matched"] > 0
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("td", has_text="console-buyers")).to_be_visible()
    # A bad condition is named in place, beside the condition it is about.
    page.get_by_label("Segment id", exact=True).fill("console-bad")
    page.get_by_label("Name", exact=True).fill("Bad")
    page.get_by_label("Kind", exact=True).select_option("did the event")
    page.get_by_label("Event name", exact=True).fill("Order Completed")
    page.get_by_label("Within days", exact=True).fill("0")
    page.get_by_role("button", name="Preview count").click()
    expect(page.locator(".condition > .condition-error")).to_contain_text("all.0.did.within_days")


def test_a_campaign_launched_in_the_console_reports_every_outcome_adding_up_to_the_audience(page, demo):
    stack, _ = demo
    status, policy = admin(stack, "GET", "/frequency-policy")
    assert status == 200
    # The stack's clock may stand in anyone's night: no quiet hours, so the run can complete now.
    assert admin(stack, "PUT", "/frequency-policy", {**policy, "quiet_hours": None, "caps": []})[0] == 200
    status, _ = admin(
        stack,
        "POST",
        "/segments",
        {
            "segment_id": "console-everyone",
            "name": "Everyone seen",
            "rule": {"field": "days_since_first_seen", "op": "gte", "value": 0},
        },
    )
    assert status in (201, 409)
    assert admin(stack, "POST", "/segments/recompute", {})[0] == 202

    def members() -> int:
        return admin(stack, "GET", "/segments/console-everyone")[1]["members"]

    wait_for(lambda: members() > 0, timeout=120, what="the segment's members")
    sign_in(page, stack)
    open_page(page, stack, "campaigns")
    page.get_by_label("Campaign id", exact=True).fill("console-hello")
    page.get_by_label("Name", exact=True).fill("Hello from the console")
    page.get_by_label("Segment", exact=True).select_option("console-everyone")
    page.get_by_label("Subject", exact=True).fill("Hello {{ first_name | there }}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".campaign-status[data-status=draft]")).to_be_visible()
    page.get_by_role("button", name="Launch").click()
    expect(
        page.locator(".campaign-status[data-status=active], .campaign-status[data-status=completed]")
    ).to_be_visible()
    report = page.locator(".report[data-complete=true]")
    expect(report).to_be_visible(timeout=180_000)  # the page refreshes its report until complete
    figure = report.locator("figure.chart-figure")
    total, audience = int(figure.get_attribute("data-total")), int(figure.get_attribute("data-audience"))
    parts = [
        int(n) for n in figure.locator("li[data-count]").evaluate_all("els => els.map(e => e.dataset.count)")
    ]
    status, api_report = admin(stack, "GET", "/campaigns/console-hello/report")
    assert status == 200 and api_report["complete"]
    assert (
        sum(parts) == total == audience == api_report["audience"] == sum(api_report["outcomes"].values()) > 0
    )


def test_a_stock_change_moves_every_channel_s_availability(page, demo):
    stack, _ = demo
    status, found = admin(stack, "GET", "/inventory/availability/DEMO-LAMP")
    assert status == 200
    store = next(level for level in found["locations"] if level["on_hand"] > 0)
    channels = [view["channel_id"] for view in found["channels"]]
    before = {view["channel_id"]: view["available"] for view in found["channels"]}
    sign_in(page, stack)
    open_page(page, stack, "inventory")
    for channel in channels:
        cell = page.locator(f".published[data-sku=DEMO-LAMP][data-channel={channel}]")
        assert int(cell.get_attribute("data-available")) == before[channel]
    wanted = store["on_hand"] + 7
    page.get_by_label("SKU", exact=True).select_option("DEMO-LAMP")
    page.get_by_label("Location", exact=True).select_option(store["location_id"])
    page.get_by_label("New on-hand count", exact=True).fill(str(wanted))
    page.get_by_role("button", name="Set stock").click()
    status, after = admin(stack, "GET", "/inventory/availability/DEMO-LAMP")
    expected = {view["channel_id"]: view["available"] for view in after["channels"]}
    wait_for(
        lambda: all(
            page.locator(f".published[data-sku=DEMO-LAMP][data-channel={c}]").get_attribute("data-available")
            == str(expected[c])
            for c in channels
        ),
        timeout=15,
        what="the grid to show the new count",
    )
    for channel in channels:  # every channel selling from that store moved by the same 7
        assert expected[channel] == before[channel] + 7, (before, expected)


def test_an_event_name_holding_markup_is_shown_as_text(page, demo):
    stack, _ = demo
    body = {
        "userId": "console-xss",
        "event": MARKUP_EVENT,
        "messageId": "console-xss-1",
        "properties": {"note": "<b>bold?</b>"},
    }
    key = "Basic " + base64.b64encode(f"{SERVER_WRITE_KEY}:".encode()).decode()
    status, _ = http(
        "POST",
        stack.url("/v1/track"),
        body=json.dumps(body).encode(),
        headers={"Authorization": key, "Content-Type": "application/json"},
    )
    assert status == 200
    wait_for(
        lambda: admin(stack, "GET", "/profiles?user_id=console-xss")[0] == 200, timeout=60, what="the profile"
    )
    sign_in(page, stack)
    page.goto(stack.url("/console#/customers?type=user_id&value=console-xss"))  # the search opens the page
    event = page.locator(".event-name").first
    expect(event).to_have_text(MARKUP_EVENT)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0


def test_the_membership_page_shows_what_the_nightly_run_summed(page, demo):
    stack, _ = demo
    status, clock = admin(stack, "GET", "/_local/clock")
    assert status == 200, clock
    now = datetime.fromisoformat(clock["now"])
    run_at = now.replace(hour=17, minute=31, second=0, microsecond=0)  # the daily run: 17:30 UTC
    if run_at <= now:
        run_at += timedelta(days=1)
    seconds = int((run_at - now).total_seconds()) + 1
    assert admin(stack, "POST", "/_local/clock", {"advance": f"{seconds}s"})[0] == 200
    summary = wait_for(
        lambda: (found := admin(stack, "GET", "/membership/summary")[1])["computed_at"] and found,
        timeout=60,
        what="the nightly membership summary",
    )
    assert summary["members"] > 0 and summary["points_outstanding"] > 0, summary
    sign_in(page, stack)
    open_page(page, stack, "membership")
    points = page.locator("[data-testid=points]")
    assert int(points.get_attribute("data-points")) == summary["points_outstanding"]
    figure = page.locator("figure.chart-figure")
    assert int(figure.get_attribute("data-total")) == summary["members"] == sum(summary["tiers"].values())
    for definition_id, counts in summary["coupons"].items():
        row = page.locator("tr", has=page.locator(f"[data-issued='{counts['issued']}']"))
        assert row.count() >= 1, (definition_id, counts)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_page_passes_axe_is_walked_by_keyboard_and_is_photographed(page, demo, language):
    stack, done = demo
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, stack, language=language)
    assert page.evaluate("document.documentElement.lang") == language
    status, profile = admin(stack, "GET", f"/profiles?email={done['profile_sample']['email']}")
    assert status == 200
    routes = [*PAGES, f"customers/{profile['profile_id']}", "campaigns/demo-spring"]
    failures: dict[str, Any] = {}
    for route in routes:
        open_page(page, stack, route)
        name = route.replace("/", "-").split("-")[0] + ("-detail" if "/" in route else "")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{language}.png"), animations="disabled", caret="hide")
        violations = axe_violations(page)
        missed = keyboard_reaches_everything(page)
        if violations or missed:
            failures[route] = {"axe": violations, "not reached by keyboard": missed}
    assert not failures, failures
    if language == "zh-CN":  # dates, money and large numbers in the viewer's locale
        open_page(page, stack, "inventory")
        assert "¥" in page.locator("main").inner_text()
        open_page(page, stack, "overview")
        assert "概览" in page.locator("h1").inner_text()
