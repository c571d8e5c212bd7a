"""The admin console as its user meets it in the browser: sign in, wait for what htmx swaps in, use the forms."""

from __future__ import annotations

import os

from customer_agent_shared.testing.plumbing import eventually
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

CONSOLE = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}/console/"


def find(browser: WebDriver, selector: str) -> WebElement | None:
    """The element matching a CSS selector, or None."""
    try:
        return browser.find_element(By.CSS_SELECTOR, selector)
    except NoSuchElementException:
        return None


async def shown(browser: WebDriver, selector: str, what: str, *, text: str = "", within: float = 30) -> WebElement:
    """Wait until an element matching ``selector`` is displayed (and holds ``text``); return it."""
    found: list[WebElement] = []

    async def check() -> bool:
        try:
            element = find(browser, selector)
            if element is not None and element.is_displayed() and text in element.text:
                found.append(element)
                return True
        except StaleElementReferenceException:  # swapped by htmx while being read
            pass
        return False

    await eventually(check, what, within=within)
    return found[-1]


async def sign_in(browser: WebDriver, key: str) -> None:
    """Type a key into the sign-in form and send it."""
    field = await shown(browser, "#api-key", "the sign-in form")
    field.clear()
    field.send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()


async def open_tab(browser: WebDriver, page: str, selector: str) -> WebElement:
    """Click a page's tab and wait for an element of that page."""
    browser.find_element(By.CSS_SELECTOR, f"nav.tabs a[data-page={page}]").click()
    return await shown(browser, selector, f"the {page} page")


async def ask(browser: WebDriver, locale: str, question: str, exchanges_before: int) -> WebElement:
    """Ask in the preview as a visitor with ``locale``; the agent's answer."""
    Select(browser.find_element(By.ID, "preview-locale")).select_by_value(locale)
    browser.find_element(By.ID, "preview-text").send_keys(question)
    browser.find_element(By.CSS_SELECTOR, "#preview-form button[type=submit]").click()
    selector = f"#transcript .exchange:nth-of-type({exchanges_before + 1}) .bubble.agent"
    return await shown(browser, selector, f"the preview's answer to {question!r}", within=60)


def answer_text(reply: WebElement) -> str:
    """The text of an answer in the preview, failing unless it is an answer."""
    assert reply.get_attribute("data-kind") == "answer", reply.text
    return reply.find_element(By.CSS_SELECTOR, ".reply-text").text


def cited(reply: WebElement) -> list[str]:
    """The citations under a preview answer."""
    return [item.text for item in reply.find_elements(By.CSS_SELECTOR, ".citations li")]


def pick(scope: WebElement, selector: str, text: str) -> None:
    """Choose the option showing ``text`` in the select matching ``selector`` within ``scope``."""
    Select(scope.find_element(By.CSS_SELECTOR, selector)).select_by_visible_text(text)


async def open_new_form(browser: WebDriver, resource: str, label: str) -> WebElement:
    """Click "Add a user" or "Add a team"; the empty form in its place."""
    browser.find_element(By.CSS_SELECTOR, f"#{resource} tfoot button").click()
    return await shown(browser, f'tr[data-editing={resource}][data-id=""] form', f"the form of a new {label}")
