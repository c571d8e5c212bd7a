"""Webchat's widget as a visitor meets it in headless Chromium (Debian's chromium and chromium-driver, Selenium), on
the demo page under its strict Content-Security-Policy: a reload shows the conversation so far and resumes its
thread; a page title holding markup is cited as text; a webchat restart is shown and survived."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from customer_agent_shared.testing.plumbing import eventually
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import csp_violations, webchat_base
from tests.e2e.console_page import find, shown
from tests.e2e.journey import AdminClient
from tests.e2e.stack_control import run_script, start_service

pytestmark = pytest.mark.e2e

CHANNEL = "website"
TITLE = "<img src=x onerror=\"document.title='pwned'\"> Returns & refunds"
RETURNS_PAGE = f"""<!doctype html><html lang="en"><head><title>{html.escape(TITLE, quote=False)}</title></head>
<body><main><h1>Returns</h1><p>You can return any item within 30 days of delivery for a full refund. Print the
return label from your order page and hand the parcel to any post office.</p></main></body></html>"""
QUESTION = "How many days do I have to return an item?"


def transcript(browser: WebDriver) -> list[str]:
    """The chat's lines as the widget shows them: who, then the text (a visitor's, a reply's, a handoff's)."""
    lines: list[str] = []
    for line in browser.find_elements(By.CSS_SELECTOR, ".ca-webchat-list > *"):
        classes = str(line.get_attribute("class"))
        if "ca-webchat-visitor" in classes:
            lines.append(f"visitor: {str(line.get_attribute('textContent')).removeprefix('You: ')}")
        elif "ca-webchat-reply" in classes:
            lines.append(f"reply: {line.find_element(By.CSS_SELECTOR, '.ca-webchat-text').text}")
    return lines


async def open_chat(browser: WebDriver, account_id: str) -> str:
    """Load the demo page, open the chat and wait for its session; the thread id."""
    browser.get(f"{webchat_base()}/demo/{account_id}/{CHANNEL}")
    (await shown(browser, ".ca-webchat-bubble", "the chat bubble")).click()
    return await session(browser)


async def session(browser: WebDriver) -> str:
    """Wait until the widget's socket has its session; the thread id."""
    panel = await shown(browser, ".ca-webchat-panel[data-state=open]", "the chat's session")
    return str(panel.get_attribute("data-thread-id"))


async def ask(browser: WebDriver, text: str) -> str:
    """Type a message, send it and wait for the next reply; that reply's text."""
    before = len(browser.find_elements(By.CSS_SELECTOR, ".ca-webchat-reply"))
    browser.find_element(By.CSS_SELECTOR, ".ca-webchat-input").send_keys(text)
    browser.find_element(By.CSS_SELECTOR, ".ca-webchat-send").click()

    async def replied() -> str | None:
        try:
            replies = browser.find_elements(By.CSS_SELECTOR, ".ca-webchat-reply .ca-webchat-text")
            return replies[before].text if len(replies) > before and replies[before].text else None
        except StaleElementReferenceException:
            return None

    return await eventually(replied, f"a reply to {text!r}", within=90)


def citation_links(browser: WebDriver) -> list[tuple[str, str]]:
    """(text, href) of every citation link in the chat."""
    links = browser.find_elements(By.CSS_SELECTOR, ".ca-webchat-reply a.ca-webchat-citation")
    return [(link.text, str(link.get_attribute("href"))) for link in links]


async def test_a_reload_shows_the_conversation_so_far_and_resumes_its_thread(
    admin: AdminClient, console_browser: WebDriver, local_site: str, tmp_path: Path
) -> None:
    (tmp_path / "returns-policy.html").write_text(RETURNS_PAGE)  # local_site serves tmp_path
    page_url = local_site.replace("index.html", "returns-policy.html")
    source = await admin.call("POST", "/sources", json={"kind": "url", "url": page_url, "import_related": False})
    await admin.call("POST", "/channels", json={"type": "live_chat", "id": CHANNEL})
    await admin.wait_source_ready(source["id"])
    await admin.wait_for_routing(None)  # the channel has reached routing: a new chat goes to the agent
    browser = console_browser

    thread = await open_chat(browser, admin.account_id)
    answer = await ask(browser, QUESTION)
    assert "30 days" in answer, answer
    # The page's title, markup and all, is the citation's text: nothing of it became an element.
    assert citation_links(browser) == [(TITLE, page_url)]
    assert not browser.find_elements(By.CSS_SELECTOR, ".ca-webchat-panel img")
    assert browser.title != "pwned"
    before = transcript(browser)
    assert before == [f"visitor: {QUESTION}", f"reply: {answer}"]

    browser.refresh()
    assert await session(browser) == thread  # open again by itself, on the same thread
    assert transcript(browser) == before
    assert citation_links(browser) == [(TITLE, page_url)]
    bubble = browser.find_element(By.CSS_SELECTOR, ".ca-webchat-bubble")
    assert bubble.get_attribute("aria-expanded") == "true"
    assert browser.find_element(By.CSS_SELECTOR, ".ca-webchat-list").get_attribute("role") == "log"

    follow_up = await ask(browser, "And can I get my money back?")
    assert transcript(browser) == [*before, "visitor: And can I get my money back?", f"reply: {follow_up}"]
    assert await session(browser) == thread
    # Styled by widget.css under the page's policy (no inline style): the panel floats over the page.
    panel = browser.find_element(By.CSS_SELECTOR, ".ca-webchat-panel")
    assert panel.value_of_css_property("position") == "fixed"
    assert not csp_violations(browser)


async def test_the_widget_says_it_reconnects_while_webchat_restarts_and_goes_on_in_the_same_thread(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    await admin.call("POST", "/channels", json={"type": "live_chat", "id": CHANNEL})
    await admin.wait_for_routing(None)
    browser = console_browser
    thread = await open_chat(browser, admin.account_id)
    assert await ask(browser, "Hello, anybody there?")
    assert find(browser, ".ca-webchat-status") is not None
    assert not browser.find_element(By.CSS_SELECTOR, ".ca-webchat-status").is_displayed()

    try:
        await run_script("services.sh", "down", "webchat")
        await shown(browser, ".ca-webchat-status[role=status]", "the lost connection", text="reconnecting")
    finally:
        await start_service("webchat")

    assert await session(browser) == thread
    await eventually(
        lambda: _hidden(browser, ".ca-webchat-status"), "the status line gone once connected again", within=10
    )
    assert await ask(browser, "Are you still there?")
    assert transcript(browser)[-2] == "visitor: Are you still there?"


async def _hidden(browser: WebDriver, selector: str) -> bool:
    element = find(browser, selector)
    return element is not None and not element.is_displayed()
