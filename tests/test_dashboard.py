"""The web dashboard (``/app``): a merchant's whole journey in a real headless Chromium
(Playwright, Debian's ``/usr/bin/chromium``) against a real ``loyalist serve`` on an empty store,
checked against the REST API; plus the auth, upload, error and caching rules through FastAPI's
test client. Screenshots go to ``test-artifacts/dashboard/``."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pandas as pd
import pytest
from conftest import HEBREW_NAMES, hebrew_till, serve_subprocess
from fastapi.testclient import TestClient

from loyalist import pipeline
from loyalist.api import Settings, create_app
from loyalist.dashboard import assets, charts
from loyalist.dashboard.routes import MIN_CUSTOMERS, MIN_MONTHS
from loyalist.promote.catalog import gap_text
from loyalist.schema import NEW_SEGMENT
from loyalist.store import Store

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
KEYS = "dash-reader,dash-writer:write"
READ, WRITE = "dash-reader", "dash-writer"
LINES = ("customer_id,order_id,ordered_at,product_id,quantity,unit_price\n"
         "C1,O-1,2025-12-01 10:00:00,P1,1,20.0\n"
         "C1,O-1,2025-12-01 10:00:00,P2,2,5.5\n"
         "C2,O-2,2025-12-02 11:00:00,P1,1,0\n"
         "C2,O-3,2025-12-03 11:00:00,P1,1,20.0\n")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (install Debian's chromium; .ci/run "
                                  "does); Playwright never downloads a browser here")
#: the browser tests share one server and one browser: keep them on one xdist worker
browser_group = pytest.mark.xdist_group("dashboard_browser")


# --- a real server and a real browser -----------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``loyalist serve`` as a subprocess on 127.0.0.1 over a store that does not exist yet."""
    tmp = tmp_path_factory.mktemp("dashboard_server")
    with serve_subprocess(tmp / "shop.duckdb", tmp, {"LOYALIST_API_KEYS": KEYS},
                          ready=(200, 503)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def watch_console(page: Any) -> list[str]:
    """Browser-side errors (script exceptions, console errors such as CSP violations)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error"
            else None)
    return errors


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/app")
    assert page.url.startswith(f"{base}/app/login")
    page.fill("#key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/app")


@needs_chromium
@browser_group
def test_merchant_journey_in_chromium(server: dict[str, Any], browser: Any) -> None:
    base = server["base"]
    api = httpx.Client(base_url=base, timeout=60,
                       headers={"Authorization": f"Bearer {READ}"})
    context = browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = watch_console(page)

    # sign in: a wrong key is one line, the write key gets in
    page.goto(f"{base}/app")
    page.fill("#key", "not-a-key")
    page.click("#login-form button[type=submit]")
    assert page.locator("#error").inner_text() == "invalid API key"
    shot(page, "01-login-error")
    errors.clear()  # the browser logs that 401 page as a failed load
    sign_in(page, base, WRITE)
    cookie = next(c for c in context.cookies() if c["name"] == "loyalist_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/app"
    assert page.locator("#empty-state").is_visible()
    assert page.locator("#results").count() == 0
    shot(page, "02-empty-store")

    # load the coffee scenario (small), watching the running state
    page.select_option("#scenario", "coffee")
    page.click("details.size summary")
    assert page.get_attribute("#scenario-months", "min") == str(MIN_MONTHS)
    assert page.get_attribute("#scenario-customers", "min") == str(MIN_CUSTOMERS)
    page.fill("#scenario-customers", str(MIN_CUSTOMERS))
    page.fill("#scenario-months", str(MIN_MONTHS))
    page.click("#load-scenario")
    page.wait_for_selector("#job[data-status=running]")
    assert "Loading the coffee sample scenario" in page.locator("#job").inner_text()
    shot(page, "03-loading-scenario")
    page.wait_for_selector("#job[data-status=done]", timeout=120_000)
    assert "Loaded the coffee sample scenario" in page.locator("#job").inner_text()
    assert page.locator("#quality-report details").count() == 7  # one per scenario file
    assert page.locator("#store-path").inner_text() == str(server["store"])  # was empty
    assert page.locator("#no-plan").is_visible()
    shot(page, "04-scenario-loaded")

    # move the budget (the slider drives the number), pick goal and period, generate
    assert float(page.input_value("#budget")) == 2000  # the coffee merchant's monthly budget
    page.focus("#budget-slider")
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    budget = float(page.input_value("#budget"))
    assert budget == float(page.input_value("#budget-slider")) == 1600
    page.select_option("#goal", "retention")
    page.select_option("#period", "60")
    assert page.input_value("#budget-basis") == "total"
    page.select_option("#budget-basis", "month")  # 1,600 in each of the two months
    assert page.is_checked("#offer-fit")  # the offer-fit assumption is on by default
    page.uncheck("#offer-fit")  # and the merchant may drop it
    assert page.input_value("#holdout") == "0"  # no hold-out unless asked for
    page.fill("#holdout", "10")  # a tenth of each promotion's customers kept to measure it
    # the button turns into a running state the moment the form is submitted (checked with
    # the navigation held back; the real click follows)
    label = page.evaluate("""() => {
        const form = document.getElementById("plan-form");
        form.addEventListener("submit", (e) => e.preventDefault(), { once: true });
        form.requestSubmit();
        const b = document.getElementById("generate");
        const out = [b.dataset.label, b.textContent, b.disabled];
        b.textContent = b.dataset.label; b.disabled = false;
        return out;
    }""")
    # named for what it does: "recommendations" are the products recommended to a customer
    assert label == ["Make a promotion plan", "Making the plan…", True]
    page.click("#generate")
    page.wait_for_selector("#job[data-status=running], #results")
    if page.locator("#job[data-status=running]").count():  # unless the plan was that quick
        assert "Making a retention plan with budget 1,600 a month" in \
            page.locator("#job").inner_text()
        shot(page, "05-generating")
    page.wait_for_selector("#results", timeout=120_000)
    for chart in ("allocation", "sensitivity", "segments"):
        page.wait_for_selector(f"#chart-{chart}[data-drawn=true] .main-svg")
    shot(page, "06-plan")
    # the churn-risk axis has round ticks, 0% to 100%
    ticks = page.eval_on_selector_all("#chart-segments .y2tick text",
                                      "e => e.map(x => x.textContent)")
    assert ticks == ["0%", "20%", "40%", "60%", "80%", "100%"], ticks
    # the sensitivity chart's ROI axis starts at 0 with round ticks
    ticks = page.eval_on_selector_all("#chart-sensitivity .y2tick text",
                                      "e => e.map(x => x.textContent)")
    assert ticks[0] == "0%" and all(re.fullmatch(r"[\d,]+%", x) for x in ticks), ticks
    assert all(int(x[:-1].replace(",", "")) % 5 == 0 for x in ticks), ticks

    # the numbers on the page are the API's plan
    plan_id = page.locator("#plan-id").inner_text()
    assert page.url == f"{base}/app?plan={plan_id}"
    r = api.get(f"/plans/{plan_id}")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["budget_per_month"] == budget and plan["budget"] == 2 * budget
    assert plan["goal"] == "retention" and plan["period_days"] == 60
    assert plan["offer_fit"] is False
    months = page.locator("#by-month tbody tr")
    assert months.count() == len(plan["months"]) == 2
    for i, want in enumerate(plan["months"]):
        spend = float(months.nth(i).locator("td[data-col=spend]").get_attribute("data-value"))
        assert spend == pytest.approx(want["spend"], rel=1e-12) and spend <= budget + 1e-6
    assert "1,600 a month" in page.locator(".kpi[data-key=budget] small").inner_text()
    # the form shows the plan's own settings
    assert page.input_value("#budget-basis") == "month"
    assert float(page.input_value("#budget")) == budget
    assert not any(a.startswith("offer fit") for a in plan["assumptions"])
    assert not page.is_checked("#offer-fit")  # the form shows the plan's own settings
    # registered customers with no purchase yet are a segment the form offers, and the
    # chart's "targeted" bars count them: the bars add up to the customers targeted
    options = page.eval_on_selector_all("#segments option", "e => e.map(x => x.textContent)")
    assert NEW_SEGMENT in options
    figure = json.loads(page.get_attribute("#chart-segments", "data-figure"))
    bars = next(x for x in figure["data"] if x["name"] == "targeted by the plan")
    assert sum(bars["y"]) == plan["customers_targeted"]
    assert api.get("/health").json()["latest_plan_id"] == plan_id
    rows = page.locator("#ranked tbody tr")
    assert rows.count() == len(plan["promotions"]) > 0
    for i, want in enumerate(plan["promotions"]):
        row = rows.nth(i)

        def cell(col: str, row: Any = row) -> Any:
            return row.locator(f"td[data-col={col}]")

        assert int(cell("rank").get_attribute("data-value")) == want["rank"] == i + 1
        assert cell("promotion").get_attribute("data-value") == want["promotion"]
        assert cell("target_segment").inner_text() == want["target_segment"]
        assert int(cell("customers").get_attribute("data-value")) == want["customers"]
        for col in ("participation", "incremental_revenue", "cost", "roi"):
            assert float(cell(col).get_attribute("data-value")) == pytest.approx(want[col],
                                                                                 rel=1e-12)
        assert cell("participation").inner_text() == f"{100 * want['participation']:,.1f}%"
        assert cell("cost").inner_text() == f"{want['cost']:,.0f}"
        assert cell("roi").inner_text() == f"{100 * want['roi']:,.0f}%"
        assert cell("incremental_revenue").inner_text().startswith(
            f"{want['incremental_revenue']:,.0f}")
        # the level in the cell, the whole sentence (its reason) on hover
        assert cell("confidence").get_attribute("title") == want["confidence"]
        assert cell("confidence").inner_text() == want["confidence"].split(" (")[0]
    for key in ("budget", "spend", "customers_targeted", "incremental_revenue", "roi",
                "goal_value"):
        kpi = page.locator(f".kpi[data-key={key}]")
        assert float(kpi.get_attribute("data-value")) == pytest.approx(plan[key], rel=1e-12)
    assert page.locator(".kpi[data-key=customers_targeted] b").inner_text() == \
        f"{plan['customers_targeted']:,}"
    assert plan["goal_unit"] in page.locator(".kpi[data-key=goal_value] small").inner_text()
    # what the plan will cost, with its 80% interval (issue 5)
    assert page.locator(".kpi[data-key=spend] small").inner_text() == (
        f"80%: {plan['spend_lo80']:,.0f} to {plan['spend_hi80']:,.0f}")
    # the gap as the report and the CLI write it
    assert page.locator(".kpi[data-key=gap] b").inner_text() == gap_text(
        plan["optimizer"]["gap"])
    assert page.locator(".plan-warning").count() == len(plan["warnings"])

    # the execution plan downloads as the API serves it
    with page.expect_download() as info:
        page.click("#download-plan")
    download = info.value
    assert download.suggested_filename == f"plan_{plan_id}_customers.csv"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    download.save_as(ARTIFACTS / download.suggested_filename)
    text = (ARTIFACTS / download.suggested_filename).read_text()
    assert text == api.get(f"/plans/{plan_id}/customers.csv").text
    targeted = list(csv.DictReader(io.StringIO(text)))
    assert len(targeted) == plan["customers_targeted"]
    # the hold-out: in the plan, said on the page, and in the sends file beside the sends
    assert plan["holdout"]["share"] == 0.1 and plan["holdout"]["customers"] > 0
    assert page.input_value("#holdout") == "10"
    assert page.locator("#holdout-note").inner_text().startswith(
        f"{plan['holdout']['customers']:,} customers (10% of each promotion's) are held out")
    with page.expect_download() as info:
        page.click("#download-sends")
    assert info.value.suggested_filename == f"plan_{plan_id}_sends.csv"
    info.value.save_as(ARTIFACTS / info.value.suggested_filename)
    sends = (ARTIFACTS / info.value.suggested_filename).read_text()
    assert sends == api.get(f"/plans/{plan_id}/sends.csv").text
    held = [x for x in csv.DictReader(io.StringIO(sends)) if x["promotion"] == "control"]
    assert len(held) == plan["holdout"]["customers"]
    # campaign results: the plan's sends are not loaded yet, so the page reads the store's
    # latest campaign against its control group, as GET /campaigns/results does, and says why
    assert page.locator("#campaign-note").inner_text().startswith(
        f"plan {plan_id}'s sends are not in the promotion history yet")
    latest = api.get("/campaigns/results").json()
    rows = page.locator("#campaign-table tbody tr")
    assert rows.count() == len(latest["promotions"]) > 0
    for i, (promo, want) in enumerate(latest["promotions"].items()):
        row = rows.nth(i)
        assert row.get_attribute("data-promotion") == promo
        assert int(row.locator("td[data-col=held_out]").inner_text().replace(",", "")) == \
            want["held_out"]
        got = float(row.locator("td[data-col=revenue]").get_attribute("data-value"))
        assert got == pytest.approx(want["revenue"]["total"], rel=1e-12)
        plain = float(row.locator("td[data-col=buyers_plain]").get_attribute("data-value"))
        assert plain == pytest.approx(want["buyers"]["unadjusted_total"], rel=1e-12)
    # the plain difference beside the adjusted one, each labelled (exploratory report 6, 5)
    assert page.locator("#campaign-plain-head").inner_text() == "Extra buyers, plain difference"
    assert page.locator("#campaign-adjusted-head").inner_text() == (
        "Extra buyers, adjusted for how active each group was before the send")
    assert "even in sign" in page.locator("#campaign-adjusted-note").inner_text()
    assert page.locator("#campaign-verdicts li").count() == len(latest["promotions"])

    # customer lookup: segment, churn and CLV as GET /customers/{id}, and the plan row
    scored = {x["customer_id"] for x in api.get("/customers?limit=1000").json()["items"]}
    who = next(x for x in targeted if x["customer_id"] in scored)
    page.fill("#customer", who["customer_id"])
    page.click("#lookup-button")
    page.wait_for_selector("#customer-card")
    doc = api.get(f"/customers/{who['customer_id']}").json()
    assert page.locator("#c-segment").inner_text().startswith(doc["segment"])
    assert float(page.locator("#c-churn").get_attribute("data-value")) == pytest.approx(
        doc["churn_probability"], rel=1e-12)
    # the expected spend (the mean the segment tables sum) over the scores' own horizon
    assert doc["clv_horizon_days"] == 90
    assert page.locator("#c-clv-label").inner_text() == "Expected spend, next 90 days"
    assert float(page.locator("#c-clv").get_attribute("data-value")) == pytest.approx(
        doc["clv_expected"], rel=1e-12)
    # the BG/NBD + Gamma-Gamma value under its own name (not the boosted model's)
    assert page.locator("#c-clv-bgnbd").inner_text() == f"BG/NBD+GG {doc['clv_bgnbd']:,.0f}"
    assert float(page.locator("#c-clv-bgnbd").get_attribute("data-value")) == pytest.approx(
        doc["clv_bgnbd"], rel=1e-12)
    # P(alive) says why a one-time buyer shows ~100% next to a churn risk
    assert page.locator("#c-p-alive").inner_text().startswith(f"{doc['p_alive']:.0%}")
    assert "single purchase counts as alive" in page.locator("#c-p-alive").inner_text()
    assert page.locator("#c-promotion").inner_text() == who["promotion"]
    shot(page, "07-customer")
    page.fill("#customer", "NO-SUCH-CUSTOMER")
    page.click("#lookup-button")
    assert "is not in the scores" in page.locator("#customer-error").inner_text()

    # a stale plan link: a dashboard message (not the API's hint), and the latest plan
    response = page.goto(f"{base}/app?plan=zzzzzz")
    assert response is not None and response.status == 404
    assert page.locator("#plan-error").inner_text() == (
        f"plan 'zzzzzz' is not in this store; showing the latest plan, {plan_id}")
    assert page.locator("#plan-id").inner_text() == plan_id
    errors.clear()  # the browser logs the 404 page as a failed load

    assert errors == [], errors
    context.close()
    api.close()


@needs_chromium
@browser_group
def test_read_key_views_but_cannot_change(server: dict[str, Any], browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors = watch_console(page)
    sign_in(page, server["base"], READ)
    assert page.locator("text=read-only key").count() == 1
    for button in ("#load-scenario", "#upload"):
        assert page.locator(button).is_disabled()
    served = page.locator("#store-list tr[data-served=true]")
    assert served.get_attribute("data-name") == server["store"].name
    shot(page, "08-read-only")
    page.click("header form button")  # sign out
    page.wait_for_url(f"{server['base']}/app/login")
    page.goto(f"{server['base']}/app")
    assert page.url.startswith(f"{server['base']}/app/login")
    assert errors == [], errors
    context.close()


@needs_chromium
@browser_group
def test_upload_with_the_files_encoding_in_chromium(server: dict[str, Any], browser: Any,
                                                     tmp_path: Path) -> None:
    """A Hebrew till export (Windows-1255) whose few short words read as another script when
    detected: the upload form's encoding field overrules that as POST /ingest's does. An
    unknown name is one line on the page and writes nothing."""
    from loyalist.ingest.text import text_encoding

    names = HEBREW_NAMES
    path = hebrew_till(tmp_path / "kupa.csv", prefix="HEB-")
    assert text_encoding(path) != "cp1255"  # detection alone reads the names wrong
    api = httpx.Client(base_url=server["base"], timeout=60,
                       headers={"Authorization": f"Bearer {READ}"})
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = watch_console(page)
    sign_in(page, server["base"], WRITE)
    assert page.locator("#encodings option[value=cp1255]").inner_text() == \
        "Windows-1255 (Hebrew)"
    assert "cp1255 for Hebrew" in page.locator("#encoding-hint").inner_text()
    loads = api.get("/loads")
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-encoding", "klingon")
    page.click("#upload")
    page.wait_for_selector("#error")
    assert page.locator("#error").inner_text() == (
        "encoding='klingon' is not a text encoding Python knows; give one such as utf-8, "
        "cp1252, cp1250, cp1251, cp1255, latin-1 or shift_jis")
    after = api.get("/loads")
    assert (after.status_code, after.json()) == (loads.status_code, loads.json())
    errors.clear()  # the browser logs the 422 page as a failed load
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-encoding", "cp1255")
    page.click("#upload")
    page.wait_for_selector("#job[data-status=done]", timeout=120_000)
    assert "Loading kupa.csv: done" in page.locator("#job").inner_text()
    assert page.locator("#quality-report [data-key=rows_loaded]").inner_text() == "12"
    shot(page, "09-upload-with-encoding")
    got = bare(Path(page.locator("#store-path").inner_text()),
               "SELECT DISTINCT description FROM transactions WHERE order_id LIKE 'HEB-%'")
    assert sorted(got["description"]) == sorted(names)
    assert errors == [], errors
    context.close()
    api.close()


# --- the test client: auth, uploads, errors, caching --------------------------------------
@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(store=tmp_path / "shop.duckdb", api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def login(c: TestClient, key: str) -> None:
    r = c.post("/app/login", data={"key": key, "next": "/app"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app", r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()


def follow(c: TestClient, response: Any, timeout: float = 120) -> Any:
    """Wait for the job a form started; the page it ends on."""
    assert response.status_code == 303, response.text
    job = response.headers["location"].split("job=")[1]
    deadline = time.monotonic() + timeout
    while c.get(f"/app/jobs/{job}").json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return c.get(response.headers["location"])


def message(html: str, element: str = "error") -> str:
    found = re.search(rf'id="{element}"[^>]*>([^<]*)', html)
    assert found, html[:2000]
    return " ".join(found.group(1).split()).replace("&#39;", "'")


def test_pages_need_a_signed_in_key(client: TestClient) -> None:
    r = client.get("/app?plan=x", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/app/login?next=/app%3Fplan%3Dx"
    assert client.get("/app/jobs/abc").status_code == 401
    assert client.get("/app/plans/abc/customers.csv", follow_redirects=False).status_code == 303
    assert client.post("/app/plans", data={"budget": "5"}, follow_redirects=False
                       ).status_code == 303
    r = client.post("/app/login", data={"key": "wrong"})
    assert r.status_code == 401 and message(r.text) == "invalid API key"
    login(client, READ)
    r = client.get("/app")
    assert r.status_code == 200 and "empty-state" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    r = client.post("/app/plans", data={"budget": "5"})
    assert r.status_code == 403 and "may only read" in message(r.text)
    client.post("/app/logout")
    assert client.get("/app", follow_redirects=False).status_code == 303


def test_login_redirects_only_inside_the_dashboard(client: TestClient) -> None:
    r = client.post("/app/login", data={"key": WRITE, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == "/app"
    r = client.post("/app/login", data={"key": WRITE, "next": "/app?plan=p1"},
                    follow_redirects=False)
    assert r.headers["location"] == "/app?plan=p1"


def test_cross_site_forms_are_refused(client: TestClient) -> None:
    login(client, WRITE)
    r = client.post("/app/plans", data={"budget": "5"},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in message(r.text)


def test_plan_form_errors_are_one_line(client: TestClient) -> None:
    login(client, WRITE)
    r = client.post("/app/plans", data={"budget": "-5", "goal": "retention", "period": "30"})
    assert r.status_code == 422
    assert message(r.text) == ("invalid plan: budget: Input should be greater than or equal "
                               "to 0")
    r = client.post("/app/plans", data={"budget": "100", "holdout": "70"})
    assert r.status_code == 422 and message(r.text) == (
        "invalid plan: hold-out '70' % is impossible; give 0 to 50 (% of each promotion's "
        "customers kept unsent to measure it)")
    r = client.post("/app/scenario", data={"scenario": "bakery"})
    assert r.status_code == 422 and "scenario 'bakery' is unknown" in message(r.text)
    r = client.post("/app/scenario", data={"scenario": "coffee", "months": "99"})
    assert r.status_code == 422 and message(r.text) == (
        f"months: 99 is out of range; use {MIN_MONTHS} to 36")
    # fewer months than training needs is refused up front, as the form's minimum says
    r = client.post("/app/scenario", data={"scenario": "coffee", "months": str(MIN_MONTHS - 1)})
    assert r.status_code == 422 and message(r.text) == (
        f"months: {MIN_MONTHS - 1} is too short a history to train the customer models (a "
        f"90-day horizon and earlier training windows need at least {MIN_MONTHS} months); "
        f"use {MIN_MONTHS} to 36")
    assert f'id="scenario-months" min="{MIN_MONTHS}" max="36"' in r.text
    # so are fewer customers than every training window needs (150 never trained)
    r = client.post("/app/scenario", data={"scenario": "coffee", "customers": "150"})
    assert r.status_code == 422 and message(r.text) == (
        f"customers: 150 are too few to train the customer models (every training window "
        f"needs 100 customers who bought before it; at least {MIN_CUSTOMERS}); use "
        f"{MIN_CUSTOMERS} to 20,000")
    assert f'id="scenario-customers" min="{MIN_CUSTOMERS}" max="20000"' in r.text
    # on an empty store a plan runs and fails with the library's one-line message
    page = follow(client, client.post("/app/plans", data={"budget": "100"},
                                      follow_redirects=False))
    assert "failed:" in message(page.text, "job") and "no store here" in message(page.text, "job")


def test_the_quality_report_says_what_the_load_read_into_the_file(client: TestClient) -> None:
    """The report's notes (a units line under the header here; a guessed encoding and how to
    overrule it, decimal commas, ...) are on the page as the CLI and the API give them."""
    login(client, WRITE)
    units = LINES.replace("\n", "\n,,,,pcs,EUR\n", 1)
    page = follow(client, client.post(
        "/app/upload", files={"file": ("units.csv", units.encode())},
        data={"table": "auto", "format": "auto"}, follow_redirects=False))
    notes = re.search(r'<ul class="load-notes"[^>]*>(.*?)</ul>', page.text, re.S)
    assert notes and "a units line under the header" in html.unescape(notes.group(1))
    assert 'data-key="rows_quarantined">2<' in page.text  # the units line, the zero price


def test_upload_shows_the_quality_report_then_a_scenario_goes_beside_it(
        client: TestClient, tmp_path: Path) -> None:
    login(client, WRITE)
    page = follow(client, client.post(
        "/app/upload", files={"file": ("till export.csv", LINES.encode())},
        data={"table": "auto", "format": "auto"}, follow_redirects=False))
    assert page.status_code == 200
    # the job line keeps the file's name as stored (underscores and all)
    assert "<strong>Loading till_export.csv: done</strong>" in page.text
    report = re.search(r'id="quality-report".*?</div>', page.text, re.S)
    assert report and "till_export.csv" in report.group(0)
    # orders and products are counts of the rows read (the HTML report counts what the store
    # keeps); customers those loaded, beside those in the file
    for label, key in (("Orders read", "orders"), ("Customers loaded", "customers"),
                       ("Products read", "products"),
                       ("Customers in the file (quarantined lines included)",
                        "customers_in_file")):
        assert f'<th>{label}</th><td class="n" data-key="{key}">' in report.group(0)
    assert 'data-key="rows_read">4<' in report.group(0)
    assert 'data-key="rows_loaded">3<' in report.group(0)
    assert "non_positive_price" in report.group(0)
    assert "no customer scores yet" in message(page.text, "no-scores-state")
    bad = follow(client, client.post("/app/upload", files={"file": ("bad.csv", b"a,b\n1,2\n")},
                                     follow_redirects=False))
    assert "bad.csv" in message(bad.text, "job") and "failed:" in message(bad.text, "job")

    served = tmp_path / "shop.duckdb"
    page = follow(client, client.post("/app/scenario", data={
        "scenario": "coffee", "customers": str(MIN_CUSTOMERS), "months": str(MIN_MONTHS)},
        follow_redirects=False))
    beside = tmp_path / "shop-coffee.duckdb"
    assert f"Serving <code>{beside}</code>" in page.text and "untouched" in page.text
    assert client.get("/health").json()["customers_scored"] > 50
    with Store(served, read_only=True) as st:
        assert st.count("transactions") == 3  # the uploaded data, untouched
    assert 'id="no-plan"' in page.text and 'id="plan-form"' in page.text
    assert not list(tmp_path.glob(".*building*"))
    # the plan form clears the categories it is given (comma-separated, letter case ignored),
    # says so, and shows them again for the next plan
    page = follow(client, client.post("/app/plans", data={
        "budget": "200", "goal": "clear_inventory", "period": "30", "clear": "Pastry, "},
        follow_redirects=False))
    assert message(page.text, "clearing") == "pastry"
    assert 'name="clear" id="clear" maxlength="2000" value="pastry"' in page.text
    # both stores are listed; pick the uploaded one again
    assert [x[:2] for x in store_rows(page.text)] == [("shop-coffee.duckdb", "ready"),
                                                      ("shop.duckdb", "no_scores")]
    page = follow(client, client.post("/app/store", data={"store": "shop.duckdb"},
                                      follow_redirects=False))
    assert message(page.text, "switched-store") == str(served)
    assert message(page.text, "store-path") == str(served)
    assert "no customer scores yet" in message(page.text, "no-scores-state")


def store_rows(html: str) -> list[tuple[str, str, str]]:
    """(name, state, served) of each row of the store list."""
    return re.findall(r'<tr data-name="([^"]+)" data-state="([^"]+)" data-served="(\w+)"',
                      html)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
            if p.is_file()}


def test_pick_a_store_from_the_listing_only(tmp_path: Path) -> None:
    here = tmp_path / "shop"
    here.mkdir()
    (tmp_path / "lines.csv").write_text(LINES)
    for name in ("shop", "other", "scored"):
        pipeline.ingest(here / f"{name}.duckdb", [tmp_path / "lines.csv"])
    with Store(here / "scored.duckdb") as st:
        st.write_frame("scores", pd.DataFrame({"customer_id": ["C1", "C2"],
                                               "as_of": pd.Timestamp("2025-12-04")}))
    (here / "broken.duckdb").write_text("not a database")
    (here / "notes.txt").write_text("x")
    for copy in (here / ".hidden.duckdb", here / "sub" / "deep.duckdb",
                 tmp_path / "outside.duckdb"):
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes((here / "other.duckdb").read_bytes())
    (here / "link.duckdb").symlink_to(tmp_path / "outside.duckdb")
    before = digests(here)
    app = create_app(Settings(store=here / "shop.duckdb", api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, READ)
        page = c.get("/app").text
        assert store_rows(page) == [("broken.duckdb", "unreadable", "false"),
                                    ("other.duckdb", "no_scores", "false"),
                                    ("scored.duckdb", "ready", "false"),
                                    ("shop.duckdb", "no_scores", "true")]
        assert f"Store files in <code>{here}</code>" in page
        heads = re.search(r'<table id="store-list">\s*<thead>(.*?)</thead>', page, re.S)
        assert heads and re.findall(r"<th[^>]*>([^<]*)</th>", heads.group(1)) == [
            "File", "Lines", "Dates", "Scores", ""]  # the dates column says so
        assert 'data-col="transactions" data-value="3"' in page
        assert 'data-col="scores" data-value="2025-12-04"' in page
        assert "not a Loyalist store (the file is not a DuckDB database)" in page
        assert 'data-store="other.duckdb" disabled' in page  # a read key only views
        r = c.post("/app/store", data={"store": "other.duckdb"})
        assert r.status_code == 403 and "may only read" in message(r.text)

        login(c, WRITE)
        for name in ("../outside.duckdb", str(tmp_path / "outside.duckdb"), "sub/deep.duckdb",
                     ".hidden.duckdb", "link.duckdb", "notes.txt", "other.duckdb/../shop.duckdb",
                     "./other.duckdb", "OTHER.duckdb", ""):
            r = c.post("/app/store", data={"store": name})
            assert r.status_code == 422, name
            assert "is not one of the store files listed in" in message(r.text), name
        r = c.post("/app/store", data={"store": "shop.duckdb"})
        assert r.status_code == 422 and "being served already" in message(r.text)
        assert c.app.state.gate.path == here / "shop.duckdb"  # type: ignore[attr-defined]

        page = follow(c, c.post("/app/store", data={"store": "other.duckdb"},
                                follow_redirects=False))
        assert message(page.text, "switched-store") == str(here / "other.duckdb")
        assert message(page.text, "store-path") == str(here / "other.duckdb")
        assert ("other.duckdb", "no_scores", "true") in store_rows(page.text)
        assert c.app.state.settings.store == here / "other.duckdb"  # type: ignore[attr-defined]

        page = follow(c, c.post("/app/store", data={"store": "broken.duckdb"},
                                follow_redirects=False))
        assert "failed:" in message(page.text, "job")
        assert "the file is not a DuckDB database" in message(page.text, "job")
        assert message(page.text, "store-path") == str(here / "other.duckdb")
    assert digests(here) == before  # listing and switching change no file


def test_a_store_served_by_a_relative_path_lists_its_folder_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exploratory report 6, finding 16: "Store files in `.`", and the sample merchant select
    showing "Fashion" over a coffee store the dashboard did not load (it knows no scenario)."""
    (tmp_path / "lines.csv").write_text(LINES)
    pipeline.ingest(tmp_path / "shop.duckdb", [tmp_path / "lines.csv"])
    monkeypatch.chdir(tmp_path)
    app = create_app(Settings(store=Path("shop.duckdb"), api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, READ)
        page = c.get("/app").text
    assert f"Store files in <code>{tmp_path}</code>" in page
    select = re.search(r'<select name="scenario" id="scenario" required>(.*?)</select>', page,
                       re.S)
    assert select and re.findall(r"<option[^>]*selected[^>]*>([^<]*)<", select.group(1)) == [
        "choose one"]


def test_customer_card_words_clv_cluster_and_a_registered_customer_without_purchase(
        tmp_path: Path) -> None:
    """Exploratory report 6, findings 11, 7 and 16: the card showed the median CLV as "CLV
    (next period)" beside segment tables of the mean; the cluster name (its typical member)
    read as a statement about the customer; a registered customer with no purchase was
    "(unknown id, or a customer first seen after that date)"."""
    store = tmp_path / "shop.duckdb"
    (tmp_path / "lines.csv").write_text(LINES)
    (tmp_path / "customers.csv").write_text("customer_id,signup_at\nC1,2025-11-01\n"
                                            "C3,2025-11-20\n")
    pipeline.ingest(store, [tmp_path / "lines.csv"])
    pipeline.ingest(store, [tmp_path / "customers.csv"], table="customers")
    with Store(store) as st:
        st.write_frame("scores", pd.DataFrame({
            "customer_id": ["C1", "C2"], "r_score": [5, 3], "f_score": [3, 3], "m_score": [4, 2],
            "rfm_segment": ["Can't Lose Them", "Hibernating"],
            "cluster_name": ["active high-value frequent"] * 2,
            "churn_probability": [0.9, 0.5], "clv_p10": [0.0, 0.0], "clv_p50": [0.0, 1.0],
            "clv_p90": [40.0, 8.0], "clv_expected": [12.5, 3.3], "clv_horizon_days": [60, 60],
            "as_of": pd.Timestamp("2025-12-04")}))
    app = create_app(Settings(store=store, api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, READ)
        card = c.get("/app?customer=C1").text
        assert message(card, "c-clv-label") == "Expected spend, next 60 days"
        assert message(card, "c-clv") == "12"  # the mean, as the segment tables sum it
        assert "80% range: 0 to 40" in card
        assert message(card, "c-cluster") == ("· cluster “active high-value frequent”, named "
                                              "after its typical customer, not this one")
        new = c.get("/app?customer=C3").text
        assert message(new, "c-unscored") == ("Registered, no purchase yet before the scores' "
                                              "as_of 2025-12-04: no scores.")
        assert message(new, "c-segment") == NEW_SEGMENT and 'id="c-p-alive"' not in new
        unknown = c.get("/app?customer=C9").text
        assert message(unknown, "customer-error") == (
            "customer 'C9' is not in the scores at as_of 2025-12-04 (unknown id, or a "
            "customer first seen after that date)")
        api = {"Authorization": f"Bearer {READ}"}
        assert c.get("/customers/C3", headers=api).json()["message"] == (
            "customer 'C3' is not in the scores at as_of 2025-12-04 (a registered customer "
            "with no purchase before that date: no scores yet)")
        assert c.get("/customers/C1", headers=api).json()["clv_horizon_days"] == 60
        # the docs say how to show the grid's cell beside the RFM segment (finding 8)
        doc = c.get("/openapi.json").json()["components"]["schemas"]["CustomerResponse"]
        assert "'RF grid: At Risk'" in doc["properties"]["grid_segment"]["description"]


def test_one_job_at_a_time(client: TestClient) -> None:
    login(client, WRITE)
    started = client.post("/app/scenario", data={"scenario": "coffee",
                                                 "customers": str(MIN_CUSTOMERS),
                                                 "months": str(MIN_MONTHS)},
                          follow_redirects=False)
    again = client.post("/app/train")
    assert again.status_code == 409 and message(again.text).startswith(
        "busy: loading the coffee sample scenario is running")
    follow(client, started)


def test_plotly_is_served_locally_with_caching_headers(client: TestClient) -> None:
    login(client, READ)
    html = client.get("/app").text
    srcs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert not [s for s in srcs if re.match(r"(https?:)?//", s)], srcs  # no CDN
    name = assets.plotly_name()
    assert f'src="/app/static/{name}"' in html
    r = client.get(f"/app/static/{name}", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers.get_list("cache-control") == ["public, max-age=31536000, immutable"]
    assert r.content.startswith(b"/**") and b"plotly.js" in r.content[:500]
    etag = r.headers["etag"]
    again = client.get(f"/app/static/{name}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    js = re.search(r'src="(/app/static/dashboard\.js\?v=[0-9a-f]+)"', html)
    assert js and client.get(js.group(1)).headers["cache-control"].endswith("immutable")
    assert client.get("/app/static/nope.js").status_code == 404
    assert client.get("/app").headers["cache-control"] == "no-store"  # pages are never cached
    assert "/app" not in str(client.get("/openapi.json").json()["paths"])


def test_guest_only_store_says_so_instead_of_train(client: TestClient) -> None:
    login(client, WRITE)
    head, *rows = LINES.splitlines()
    guests = "\n".join([head, *("," + x.split(",", 1)[1] for x in rows)])  # no customer id
    page = follow(client, client.post("/app/upload", files={"file": ("guests.csv",
                                                                     guests.encode())},
                                      follow_redirects=False))
    text = message(page.text, "guest-only-state")
    assert text.startswith("3 transaction lines loaded, all of them guest lines")
    assert "nothing to train" in text
    assert 'id="no-scores-state"' not in page.text and 'id="train"' not in page.text


def test_allocation_colours_tell_fifteen_segments_apart() -> None:
    names = [f"segment {i:02d}" for i in range(3)] + list(charts.KNOWN_SEGMENTS[:12])
    plan = {"promotions": [{"promotion": f"p{i % 4}", "target_segment": n, "cost": 10.0 + i,
                            "customers": 5} for i, n in enumerate(names)]}
    traces = json.loads(charts.allocation(plan) or "")["data"]
    colours = {x["name"]: x["marker"]["color"] for x in traces}
    assert len(colours) == 15 and len(set(colours.values())) == 15
    # a segment keeps its colour from plan to plan
    again = json.loads(charts.allocation({"promotions": plan["promotions"][5:9]}) or "")
    assert {x["name"]: x["marker"]["color"] for x in again["data"]} == {
        n: colours[n] for n in names[5:9]}


def test_sensitivity_chart_draws_each_budgets_roi_on_a_second_axis() -> None:
    """Exploratory report 8, finding 9: value and ROI against budget (the issue), not value
    alone; a plan stored before the curve had ROI draws as before."""
    points = [{"budget": 0.0, "value": 0.0, "spend": 0.0, "roi": None, "bound": 0.0},
              {"budget": 100.0, "value": 5.0, "spend": 90.0, "roi": 0.3, "bound": 5.0},
              {"budget": 200.0, "value": 7.0, "spend": 180.0, "roi": -0.1, "bound": 7.0}]
    plan = {"budget": 100.0, "goal": "revenue", "goal_value": 5.0, "sensitivity": points}
    fig = json.loads(charts.sensitivity(plan) or "")
    roi = [x for x in fig["data"] if x["name"] == "ROI %"]
    assert len(roi) == 1 and roi[0]["yaxis"] == "y2"
    assert list(roi[0]["x"]) == [100.0, 200.0]
    assert list(roi[0]["y"]) == pytest.approx([30.0, -10.0])
    assert fig["layout"]["yaxis2"]["side"] == "right"
    # exploratory report 6, finding 10: both axes include 0 (a flat 399% ROI on an axis from
    # 399 read as a crash to zero) with round ticks; the bound is a wide band drawn first,
    # under the value line it used to hide behind
    y2 = fig["layout"]["yaxis2"]
    assert y2["rangemode"] == fig["layout"]["yaxis"]["rangemode"] == "tozero"
    assert (y2["tickformat"], y2["ticksuffix"]) == (",.0f", "%")
    names = [x["name"] for x in fig["data"]]
    assert names.index("upper bound (proven)") < names.index("plan value")
    assert fig["data"][0]["line"]["width"] > 2
    old = {**plan, "sensitivity": [{k: v for k, v in p.items() if k != "roi"} for p in points]}
    assert "ROI %" not in [x["name"] for x in json.loads(charts.sensitivity(old) or "")["data"]]


def test_segments_chart_counts_new_customers_and_has_round_ticks() -> None:
    profile = {"segments": [{"segment": "Champions", "customers": 40,
                             "mean_churn_probability": 0.2},
                            {"segment": "Lost", "customers": 60, "mean_churn_probability": 0.7}]}
    plan = {"promotions": [{"target_segment": "Lost", "customers": 30},
                           {"target_segment": NEW_SEGMENT, "customers": 12}]}
    fig = json.loads(charts.segments(profile, plan, new_customers=25) or "")
    bars = {x["name"]: dict(zip(x["x"], x["y"], strict=True)) for x in fig["data"]
            if x["type"] == "bar"}
    assert bars["customers"] == {"Champions": 40, "Lost": 60, NEW_SEGMENT: 25}
    assert bars["targeted by the plan"] == {"Champions": 0, "Lost": 30, NEW_SEGMENT: 12}
    assert fig["layout"]["yaxis2"]["tickvals"] == [0, 0.2, 0.4, 0.6, 0.8, 1]


# --- forecast, churn risk and data quality cards ------------------------------------------
def bare(store: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """A bare read-only DuckDB query of the store file (no Loyalist code between)."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def dirty_lines(day: str) -> str:
    """A till export with a good line and one line breaking each of several rules."""
    return ("customer_id,order_id,ordered_at,product_id,quantity,unit_price\n"
            f"DIRTY-1,T-1,{day} 09:00:00,P-DIRTY,1,0\n"
            f"DIRTY-1,,{day} 09:00:00,P-DIRTY,1,3.5\n"
            "DIRTY-1,T-2,not a date,P-DIRTY,1,3.5\n"
            f"DIRTY-1,T-3,{day} 09:00:00,P-DIRTY,lots,3.5\n"
            f"DIRTY-1,T-4,{day} 09:00:00,P-DIRTY,1,3.5\n"
            f"DIRTY-1,T-4,{day} 09:00:00,P-DIRTY,1,3.5\n")


@pytest.fixture(scope="module")
def cards_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``loyalist serve`` over a small generated coffee shop with a dirty till export loaded
    after it (quarantined rows), trained, and no forecast yet."""
    tmp = tmp_path_factory.mktemp("dashboard_cards")
    store = tmp / "cards.duckdb"
    gen = pipeline.generate("coffee", customers=MIN_CUSTOMERS, months=MIN_MONTHS, seed=7,
                            out=tmp / "scenario")
    pipeline.load_scenario(store, gen["files"])
    mid = bare(store, "SELECT min(ordered_at) + (max(ordered_at) - min(ordered_at)) / 2 AS d "
                      "FROM transactions")["d"].iloc[0]
    (tmp / "till.csv").write_text(dirty_lines(f"{mid:%Y-%m-%d}"))
    pipeline.ingest(store, [tmp / "till.csv"])
    trained = pipeline.train(store)
    with serve_subprocess(store, tmp, {"LOYALIST_API_KEYS": KEYS}) as srv:
        yield srv | {"trained": trained}


def data_value(page: Any, selector: str, attr: str = "data-value") -> float:
    return float(page.get_attribute(selector, attr))


@needs_chromium
@browser_group
def test_forecast_churn_and_quality_cards_in_chromium(cards_server: dict[str, Any],
                                                      browser: Any) -> None:
    base, store = cards_server["base"], cards_server["store"]
    context = browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = watch_console(page)
    sign_in(page, base, WRITE)
    nav = page.eval_on_selector_all("#sections a", "e => e.map(x => x.getAttribute('href'))")
    assert {"#forecast", "#churn", "#quality"} <= set(nav)
    # the store's currency, as ingest recorded it (a generated scenario's: scenario.json)
    code = bare(store, "SELECT value FROM store_meta WHERE key = 'currency'")["value"].iloc[0]
    assert page.inner_text("#currency") == f"amounts in {code}" and code == "USD"
    assert f"Expected spend ({code})," in page.inner_text("#churn-tiers thead")

    # no forecast yet: the card says how to make one, and its button makes one
    assert "loyalist forecast --store" in page.locator("#no-forecast").inner_text()
    page.click("#make-forecast")
    page.wait_for_selector("#chart-forecast[data-drawn=true] .main-svg", timeout=180_000)
    assert page.locator("#no-forecast").count() == 0
    shot(page, "10-forecast")
    at = "(SELECT max(as_of) FROM forecast)"
    days = bare(store, f"SELECT * FROM forecast WHERE series = 'total' AND as_of = {at} "
                       "ORDER BY date")
    assert len(days) == 30
    # the totals' own 80% intervals as the forecast stored them, narrower than the daily
    # bounds' sums
    totals = bare(store, f"SELECT * FROM forecast_totals WHERE series = 'total' AND as_of = "
                         f"{at}").set_index("days")
    assert sorted(totals.index) == [7, 30]
    for n in (7, 30):
        kpi = f".kpi[data-key=next_{n}]"
        assert data_value(page, kpi) == pytest.approx(days["mean"].iloc[:n].sum(), rel=1e-9)
        lo, hi = data_value(page, kpi, "data-lo80"), data_value(page, kpi, "data-hi80")
        assert (lo, hi) == pytest.approx((totals.loc[n, "lo80"], totals.loc[n, "hi80"]),
                                         rel=1e-12)
        assert hi - lo < days["hi80"].iloc[:n].sum() - days["lo80"].iloc[:n].sum()
    assert page.get_attribute("#forecast-totals-note", "data-summed") == "false"
    assert "an 80% interval of the total itself" in page.inner_text("#forecast-totals-note")
    model = days["model"].iloc[0]
    assert page.locator("#forecast-model").inner_text() == model
    mase = bare(store, "SELECT model, avg(mase) AS mase FROM forecast_backtest WHERE series = "
                       f"'total' AND as_of = {at} GROUP BY 1").set_index("model")["mase"]
    assert data_value(page, ".kpi[data-key=mase]") == pytest.approx(mase[model], rel=1e-9)
    assert page.locator("#forecast-naive").inner_text().startswith(
        f"seasonal naive {mase['seasonal_naive']:,.2f}")
    notes = [x for x in days["note"].dropna().unique() if x]
    assert page.locator(".forecast-note").count() == len(notes)
    if notes:  # twelve months are under a year plus the horizon: no yearly pattern
        assert notes[0] in page.locator(".forecast-note").first.inner_text()
    figure = json.loads(page.get_attribute("#chart-forecast", "data-figure"))
    drawn = {x.get("name"): x for x in figure["data"]}
    assert list(drawn["forecast"]["y"]) == pytest.approx(list(days["mean"]), rel=1e-12)
    assert list(drawn["80% interval"]["y"]) == pytest.approx(list(days["lo80"]), rel=1e-12)
    actual = bare(store, "SELECT sum(amount) AS y FROM transactions GROUP BY "
                         "CAST(ordered_at AS DATE) ORDER BY CAST(ordered_at AS DATE) DESC "
                         "LIMIT 1")["y"].iloc[0]
    assert drawn["actual"]["y"][-1] == pytest.approx(actual, rel=1e-9)  # the last day sold

    # churn risk: customers, share and spend per tier, as a bare query of the scores reads
    scores = bare(store, "SELECT * FROM scores WHERE as_of = (SELECT max(as_of) FROM scores)")
    tiers = page.locator("#churn-tiers tbody tr")
    assert tiers.count() == scores["churn_tier"].nunique()
    for i in range(tiers.count()):
        row = tiers.nth(i)
        mine = scores[scores["churn_tier"] == row.get_attribute("data-tier")]
        assert int(row.locator("td[data-col=customers]").get_attribute("data-value")) == \
            len(mine)
        assert float(row.locator("td[data-col=share]").get_attribute("data-value")) == \
            pytest.approx(len(mine) / len(scores), rel=1e-12)
        assert float(row.locator("td[data-col=clv_expected]").get_attribute("data-value")) == \
            pytest.approx(mine["clv_expected"].sum(), rel=1e-9)
        assert float(row.locator("td[data-col=at_stake]").get_attribute("data-value")) == \
            pytest.approx((mine["churn_probability"] * mine["clv_expected"]).sum(), rel=1e-9)
    assert [tiers.nth(i).get_attribute("data-tier") for i in range(tiers.count())] == [
        t for t in ("high", "medium", "low") if t in set(scores["churn_tier"])]
    risky = scores[scores["churn_tier"].isin(["high", "medium"])].assign(
        stake=lambda d: d["churn_probability"] * d["clv_expected"])
    want = risky.sort_values(["stake", "churn_probability", "customer_id"],
                             ascending=[False, False, True]).head(20)
    top = page.locator("#churn-top tbody tr")
    assert [top.nth(i).get_attribute("data-customer") for i in range(top.count())] == \
        list(want["customer_id"]) and top.count() == min(20, len(risky)) > 0
    first = want.iloc[0]
    assert top.first.locator(".why").inner_text().startswith(first["reasons"].split("; ")[0])
    # the out-of-time evaluation `train` returned, kept in the store's runs table
    ev = cards_server["trained"]["metrics"]["evaluation"]
    rows = page.locator("#churn-eval tbody tr")
    shown = {rows.nth(i).get_attribute("data-model"):
             float(rows.nth(i).locator("td.n").get_attribute("data-value"))
             for i in range(rows.count())}
    assert shown == pytest.approx({k: v["roc_auc"] for k, v in ev["churn"]["models"].items()},
                                  rel=1e-12) and "model" in shown
    note = page.inner_text("#churn-eval-note")
    assert f"before {ev['test_cutoff']}" in note and f"in {ev['label_window'][0]} to " in note
    assert bare(store, "SELECT kind, as_of FROM runs")["kind"].tolist() == ["train"]
    shot(page, "11-churn")
    # the customer link opens the customer in the lookup card
    page.click("#churn-top tbody tr:first-child a.customer-link")
    page.wait_for_selector("#customer-card")
    assert page.get_attribute("#customer-card", "data-customer-id") == first["customer_id"]
    assert page.url.endswith("#lookup")
    assert data_value(page, "#c-churn") == pytest.approx(first["churn_probability"], rel=1e-12)

    # data quality: per load, rows read = loaded + quarantined, as the loads table says
    loads = bare(store, "SELECT * FROM loads ORDER BY load_id")
    quarantined = bare(store, "SELECT load_id, tbl, rule, count(*) AS n FROM quarantine "
                              "GROUP BY ALL")
    rows = page.locator("#quality-loads tbody tr")
    assert rows.count() == len(loads)
    for i, want_load in enumerate(loads.itertuples()):
        row = rows.nth(i)

        def cell(col: str, row: Any = row) -> int:
            return int(row.locator(f"td[data-col={col}]").get_attribute("data-value"))

        assert (cell("rows_read"), cell("rows_loaded"), cell("rows_quarantined")) == (
            want_load.rows_read, want_load.rows_loaded, want_load.rows_quarantined)
        assert cell("rows_read") == cell("rows_loaded") + cell("rows_quarantined")
        assert cell("rows_quarantined") == int(
            quarantined.loc[quarantined["load_id"] == want_load.load_id, "n"].sum())
    summary = page.locator("#quality-summary")
    assert [int(summary.get_attribute(f"data-{k}")) for k in ("read", "loaded", "quarantined")
            ] == [loads["rows_read"].sum(), loads["rows_loaded"].sum(),
                  loads["rows_quarantined"].sum()]
    per_rule = quarantined.groupby(["tbl", "rule"])["n"].sum()
    assert len(per_rule) >= 4  # the dirty export breaks several rules
    shown = page.locator("#quality-rules tbody tr[data-action=quarantine]")
    assert shown.count() == len(per_rule)
    for i in range(shown.count()):
        row = shown.nth(i)
        key = (row.get_attribute("data-table"), row.get_attribute("data-rule"))
        assert int(row.locator("td[data-col=rows]").get_attribute("data-value")) == \
            per_rule[key]
        assert 1 <= row.locator(".example").count() <= min(3, per_rule[key])
    assert "not a date" in page.locator(
        "#quality-rules tr[data-rule=unparseable_date] .example").inner_text()
    shot(page, "12-quality")
    # the quarantined rows download: every row, its reason and its raw values
    with page.expect_download() as info:
        page.click("#download-quarantine")
    assert info.value.suggested_filename == "quarantined_rows.csv"
    info.value.save_as(ARTIFACTS / "quarantined_rows.csv")
    got = list(csv.DictReader(io.StringIO((ARTIFACTS / "quarantined_rows.csv").read_text())))
    want_rows = bare(store, "SELECT load_id, source_row, rule, reason FROM quarantine "
                            "ORDER BY load_id, source_row")
    assert [(int(x["load_id"]), int(x["source_row"]), x["rule"], x["reason"]) for x in got] \
        == list(want_rows.itertuples(index=False, name=None))
    assert {x["file"] for x in got} == {"till.csv"}
    bad_date = next(x for x in got if x["rule"] == "unparseable_date")
    assert (bad_date["ordered_at"], bad_date["quantity"]) == ("not a date", "1")
    assert errors == [], errors
    context.close()


def test_cards_read_sensibly_without_forecast_scores_or_quarantine(tmp_path: Path) -> None:
    """A store with sales but no scores and no forecast: the forecast card says how to make one
    (its button fails in one line on three days of sales), no churn card; the quality card
    counts the zero-price line quarantined. A 7-day forecast made before the last sale: a
    warning, the 7-day total only. Segments-only scores: the churn card says why.
    A clean load: nothing quarantined, and the download is the header alone."""
    store = tmp_path / "shop.duckdb"
    (tmp_path / "lines.csv").write_text(LINES)
    pipeline.ingest(store, [tmp_path / "lines.csv"])
    app = create_app(Settings(store=store, api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, WRITE)
        page = c.get("/app").text
        assert message(page, "no-forecast").startswith("No revenue forecast in this store yet.")
        assert f"<code>loyalist forecast --store {store}</code>" in page
        assert 'id="churn"' not in page
        assert message(page, "quality-summary") == (
            "4 rows read: 3 loaded, 1 quarantined (kept aside, not used).")
        assert 'data-rule="non_positive_price" data-table="transactions" ' \
               'data-action="quarantine"' in page
        text = c.get("/app/quality/quarantine.csv").text
        got = list(csv.DictReader(io.StringIO(text)))
        assert [(x["rule"], x["file"], x["source_row"], x["customer_id"], x["unit_price"])
                for x in got] == [("non_positive_price", "lines.csv", "3", "C2", "0")]
        failed = follow(c, c.post("/app/forecast", follow_redirects=False))
        assert "failed:" in message(failed.text, "job")
        assert "\n" not in message(failed.text, "job")

        gate = c.app.state.gate  # type: ignore[attr-defined]
        with gate.write() as path, Store(path) as st:  # segments only: no churn, no CLV
            st.write_frame("scores", pd.DataFrame({
                "customer_id": ["C1", "C2"], "rfm_segment": ["Champions", "Lost"],
                "churn_probability": pd.Series([None, None], dtype="float64"),
                "churn_tier": pd.Series([None, None], dtype="string"),
                "clv_expected": pd.Series([None, None], dtype="float64"),
                "as_of": pd.Timestamp("2025-12-04")}))
            days = pd.date_range("2025-12-02", periods=7)  # made before the last sale
            st.write_frame("forecast", pd.DataFrame({
                "series": "total", "date": days, "model": "ets", "mean": 10.0, "lo80": 6.0,
                "hi80": 15.0, "lo95": 4.0, "hi95": 18.0, "note": None,
                "as_of": pd.Timestamp("2025-12-02")}))
        page = c.get("/app").text
        assert message(page, "forecast-stale") == (
            "Made at 2025-12-02; the sales now run to 2025-12-03, so it does not know the "
            "latest days: make a new one.")
        # a 7-day forecast has no 30-day total; without a backtest its error is not known
        assert 'data-key="next_7" data-value="70.0" data-lo80="42.0" data-hi80="105.0"' in page
        assert 'data-key="next_30"' not in page and message(page, "forecast-model") == "ets"
        # written before totals had intervals of their own: the daily bounds' sums, said so
        assert 'id="forecast-totals-note" data-summed="true"' in page
        assert message(page, "forecast-totals-note").startswith(
            "This forecast was made before totals had intervals of their own: each range adds "
            "up the days' 80% intervals")
        assert 'data-key="mase" data-value="None"' in page
        assert message(page, "churn-note") == (
            "churn and lifetime value were not trained at 2025-12-04 (the scores hold "
            "segments only); train again with more history or customers")
        assert 'id="churn-tiers"' not in page

    clean = tmp_path / "clean.duckdb"
    (tmp_path / "good.csv").write_text(LINES.replace(",1,0\n", ",1,20.0\n"))
    pipeline.ingest(clean, [tmp_path / "good.csv"])
    app = create_app(Settings(store=clean, api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, READ)
        page = c.get("/app").text
        assert message(page, "no-quarantine") == (
            "No row was quarantined: every row read was loaded.")
        assert 'id="download-quarantine"' not in page
        assert 'id="make-forecast" disabled' in page  # a read key cannot make one
        assert c.get("/app/quality/quarantine.csv").text == (
            "load_id,file,table,source_row,rule,reason\n")
        c.post("/app/logout")
        assert c.get("/app/quality/quarantine.csv", follow_redirects=False).status_code == 303


def test_quality_card_shows_a_load_whose_every_row_was_quarantined(tmp_path: Path) -> None:
    """No transaction line at all (the page's empty state), yet the load and why its rows were
    refused are on the page; a source column named like a CSV column keeps its value."""
    store = tmp_path / "shop.duckdb"
    (tmp_path / "bad.csv").write_text(
        "customer_id,order_id,ordered_at,product_id,quantity,unit_price,rule\n"
        "C1,O-1,2025-12-01,P1,1,0,x\nC2,O-2,2025-12-02,P1,1,-3,y\n")
    pipeline.ingest(store, [tmp_path / "bad.csv"])
    app = create_app(Settings(store=store, api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, READ)
        page = c.get("/app").text
        assert 'id="empty-state"' in page and 'id="forecast"' not in page
        assert message(page, "quality-summary") == (
            "2 rows read: 0 loaded, 2 quarantined (kept aside, not used).")
        got = list(csv.DictReader(io.StringIO(c.get("/app/quality/quarantine.csv").text)))
        assert [(x["rule"], x["raw_rule"]) for x in got] == [("non_positive_price", "x"),
                                                             ("non_positive_price", "y")]


# --- unloading a load ---------------------------------------------------------------------
#: a second till export: two more lines (orders the first does not have), one at price 0
MORE_LINES = ("customer_id,order_id,ordered_at,product_id,quantity,unit_price\n"
              "C3,O-9,2025-12-05 10:00:00,P1,1,20.0\n"
              "C3,O-9,2025-12-05 10:00:00,P2,2,5.5\n"
              "C4,O-10,2025-12-06 10:00:00,P2,1,0\n")


def two_loads(folder: Path) -> Path:
    """A store with two till exports loaded: load 1 ``lines.csv`` (3 lines kept, 1
    quarantined), load 2 ``more.csv`` (2 kept, 1 quarantined)."""
    store = folder / "shop.duckdb"
    (folder / "lines.csv").write_text(LINES)
    (folder / "more.csv").write_text(MORE_LINES)
    pipeline.ingest(store, [folder / "lines.csv"])
    pipeline.ingest(store, [folder / "more.csv"])
    return store


def quality_rows(html_text: str) -> list[tuple[str, str]]:
    """(load id, rows loaded) of each row of the data quality table."""
    return re.findall(r'<tr data-load="(\d+)">.*?data-col="rows_loaded" data-value="(\d+)"',
                      html_text, re.S)


@needs_chromium
@browser_group
def test_unload_a_load_in_chromium(tmp_path: Path, browser: Any) -> None:
    """The quality table's “Unload” asks first (naming the load and its file): dismissed,
    nothing happens; the first load cannot go alone (the later one was checked against it):
    the page says so and offers both together; accepted on the later load, it is gone from
    the table and the counts, the first load is as it was."""
    store = two_loads(tmp_path)
    with serve_subprocess(store, tmp_path, {"LOYALIST_API_KEYS": KEYS}) as srv:
        base = srv["base"]
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors = watch_console(page)
        asked: list[str] = []
        sign_in(page, base, WRITE)
        assert page.locator("#quality-loads tbody tr").count() == 2
        assert "5 transaction lines loaded" in page.inner_text("#no-scores-state")
        assert page.get_attribute("#quality-summary", "data-loaded") == "5"
        assert "“Unload” button" in page.inner_text("#encoding-hint")

        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        page.click("#unload-2")
        assert asked == ["Remove load 2 (more.csv) and every row it wrote?"]
        page.wait_for_timeout(300)  # a dismissed confirm submits nothing
        assert page.url == f"{base}/app" and page.locator("#job").count() == 0
        assert bare(store, "SELECT count(*) AS n FROM transactions")["n"].iloc[0] == 5

        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.click("#unload-1")
        page.wait_for_selector("#job[data-status=failed]")
        assert "cannot be removed alone" in page.inner_text("#job")
        assert "unload loads 2, 1 (the button “Unload loads 2, 1” below)" in \
            page.inner_text("#job")
        assert page.inner_text("#unload-together-1") == "Unload loads 2, 1"
        assert bare(store, "SELECT count(*) AS n FROM transactions")["n"].iloc[0] == 5

        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.click("#unload-2")
        page.wait_for_selector("#job[data-status=done]")
        shot(page, "13-unloaded")
        assert asked[-1] == "Remove load 2 (more.csv) and every row it wrote?"
        assert "Removed load 2 (more.csv, transactions)" in page.inner_text("#unloaded")
        removed = {x.get_attribute("data-table"): int(x.get_attribute("data-rows"))
                   for x in page.locator("#unloaded span[data-table]").all()}
        assert removed == {"transactions": 2, "quarantine": 1}
        # the page is read again, not from before the unload
        assert [r.get_attribute("data-load") for r in
                page.locator("#quality-loads tbody tr").all()] == ["1"]
        row = page.locator("#quality-loads tr[data-load='1']")
        assert [row.locator(f"td[data-col={c}]").get_attribute("data-value")
                for c in ("rows_read", "rows_loaded", "rows_quarantined")] == ["4", "3", "1"]
        assert [page.get_attribute("#quality-summary", f"data-{k}")
                for k in ("read", "loaded", "quarantined")] == ["4", "3", "1"]
        assert "3 transaction lines loaded" in page.inner_text("#no-scores-state")
        assert bare(store, "SELECT DISTINCT order_id FROM transactions ORDER BY 1"
                    )["order_id"].tolist() == ["O-1", "O-3"]
        assert errors == [], errors
        context.close()


def test_unload_is_refused_to_a_read_key_and_a_bad_id(tmp_path: Path) -> None:
    """A read key sees no “Unload” and its POST is refused; a non-numeric id is one line on
    the page, an unknown one fails in one line naming the table that lists them; a form from
    another site is refused. None of them changes the store."""
    store = two_loads(tmp_path)
    before = bare(store, "SELECT load_id, status FROM loads ORDER BY 1")
    app = create_app(Settings(store=store, api_keys=KEYS))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as c:
        login(c, READ)
        page = c.get("/app").text
        assert len(quality_rows(page)) == 2 and "/app/unload" not in page
        r = c.post("/app/unload", data={"load_id": "2"})
        assert r.status_code == 403 and "may only read" in message(r.text)
        c.post("/app/logout")
        login(c, WRITE)
        assert 'id="unload-1"' in c.get("/app").text
        for bad in ("two", "", "2;1", "-1"):
            r = c.post("/app/unload", data={"load_id": bad})
            assert r.status_code == 422 and message(r.text) == (
                f"load_id: {bad!r} is not a load id (a whole number such as 3, or several "
                "separated by commas); the data quality table lists the loads"), bad
        r = c.post("/app/unload", data={"load_id": "2"},
                   headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "another site" in message(r.text)
        page = follow(c, c.post("/app/unload", data={"load_id": "9"}, follow_redirects=False))
        assert message(page.text, "job") == (
            "Removing load 9 failed: there is no load 9 in the store (loads 1 to 2); the data "
            "quality table lists them")
        assert "Traceback" not in page.text
        assert [x for x in quality_rows(page.text)] == [("1", "3"), ("2", "2")]
    after = bare(store, "SELECT load_id, status FROM loads ORDER BY 1")
    assert after.equals(before) and list(after["status"]) == ["loaded", "loaded"]
    assert bare(store, "SELECT count(*) AS n FROM transactions")["n"].iloc[0] == 5


def test_unload_a_corrected_exports_earlier_load_and_see_the_stale_scores(
        client: TestClient) -> None:
    """An upload that corrects lines of an earlier one says how to replace it, with the button
    that unloads both; pressed, both are gone, and the note names the scores computed before
    as stale, with the dashboard's buttons that make them again (not CLI commands)."""
    login(client, WRITE)
    follow(client, client.post("/app/upload", files={"file": ("export.csv", LINES.encode())},
                               follow_redirects=False))
    corrected = LINES.replace("P2,2,5.5", "P2,3,5.5")
    page = follow(client, client.post(
        "/app/upload", files={"file": ("corrected.csv", corrected.encode())},
        follow_redirects=False)).text
    notes = html.unescape(re.search(r'<ul class="load-notes"[^>]*>(.*?)</ul>', page, re.S)
                          .group(1))
    assert "unload loads 2, 1 (the button “Unload loads 2, 1” below)" in notes
    assert "loyalist unload" not in notes and "loyalist loads" not in notes
    assert 'data-confirm="Remove loads 2 (corrected.csv), 1 (export.csv) and every row they ' \
           'wrote?"' in page
    gate = client.app.state.gate  # type: ignore[attr-defined]
    with gate.write() as path, Store(path) as st:  # scores made before the unload
        st.write_frame("scores", pd.DataFrame({
            "customer_id": ["C1", "C2"], "rfm_segment": ["Champions", "Lost"],
            "as_of": pd.Timestamp("2025-12-04")}))
    before = client.get("/app").text
    # the corrected file's one changed line is loaded, its three others quarantined
    assert quality_rows(before) == [("1", "3"), ("2", "1")]
    assert 'data-loaded="4" data-quarantined="4"' in before
    page = follow(client, client.post("/app/unload", data={"load_id": "2,1"},
                                      follow_redirects=False)).text
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))
    assert "Removed load 1 (export.csv, transactions), load 2 (corrected.csv, transactions) " \
           "and every row they wrote: quarantine 4 rows, transactions 4 rows." in text
    notes = [html.unescape(x) for x in re.findall(r'<p class="msg warn unload-note">(.*?)</p>',
                                                   page, re.S)]
    assert notes == [
        "Computed before the removal and still counting its rows: customer scores; make them "
        "again with “Train customer models”, “Make a new revenue forecast” and “Make a "
        "promotion plan” (recommendations and products bought together: `loyalist run "
        f"--store {gate.path}`)."], notes
    assert quality_rows(page) == [] and 'data-loaded="0"' in page
    assert 'id="empty-state"' in page  # the page read after the unload, not before
