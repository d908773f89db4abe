"""A person's path in a real browser (Debian's chromium driven by Playwright): log into the
nouns admin, add a word, and see it arrive on the aggregator's page."""

import shutil
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                # No calls home: this machine's network is closed and tests stay on loopback.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def test_add_a_word_in_the_admin_and_see_it_on_the_page(browser, stack) -> None:
    # Production settings mark cookies Secure; chromium keeps Secure cookies for
    # http://localhost (a potentially trustworthy origin), so log in through localhost.
    nouns = stack["nouns"].url.replace("127.0.0.1", "localhost")
    aggregator = stack["aggregator"].url
    page = browser.new_page()
    errors: list[str] = []

    page.goto(f"{nouns}/admin/login/?next=/admin/nouns/noun/add/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "integration-password-42")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/nouns/noun/add/")
    page.fill("#id_text", "Lighthouse")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/nouns/noun/")
    assert "lighthouse" in page.content()

    # From here on, the aggregator's page must load and run without a single browser error.
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    page.goto(f"{aggregator}/")
    assert page.locator("#verb").inner_text() not in ("", "—")
    # Click "New mix" (the page's script asks the API) until the new noun shows up. The 2 s
    # freshness bound is checked in test_integration; here the word must arrive. Each click
    # shows it with a chance of 1 in 16 once the cache has expired: 400 clicks all without it
    # cannot happen, however slowly a loaded machine clicks.
    seen = False
    clicks = 0
    deadline = time.monotonic() + 300
    while not seen and clicks < 400 and time.monotonic() < deadline:
        page.click("#new-mix")
        page.wait_for_selector("#new-mix:enabled")
        clicks += 1
        seen = page.locator("#noun").inner_text() == "lighthouse"
    assert seen, "the word added in the admin did not show on the page"
    assert errors == []


def test_pages_run_under_the_content_security_policy(browser, stack) -> None:
    """No page of ours breaks its own CSP: chromium reports every blocked script or style."""
    nouns = stack["nouns"].url.replace("127.0.0.1", "localhost")
    pages = [
        f"{stack['aggregator'].url}/",
        f"{stack['aggregator'].url}/api/docs/",
        f"{nouns}/admin/login/",
        f"{nouns}/api/docs/",
        f"{nouns}/api/v1/nouns/",
    ]
    page = browser.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text
            and violations.append(f"{page.url}: {message.text[:160]}")
        ),
    )
    for url in pages:
        page.goto(url, wait_until="networkidle")
    assert page.goto(f"{stack['aggregator'].url}/api/docs/").status == 200
    page.wait_for_selector(".swagger-ui .information-container", timeout=120_000)
    assert violations == []
