"""Headless Chromium from Debian's packages, driven by Selenium, on the console and on webchat's demo page.

Nothing is downloaded at run time: Selenium is given Debian's chromedriver and Chromium binaries
(``make browser`` installs them), and Selenium Manager is kept offline.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = os.environ.get("CA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CA_CHROMEDRIVER", "/usr/bin/chromedriver")


def webchat_base() -> str:
    """Where the stack's webchat answers."""
    return f"http://127.0.0.1:{os.environ.get('WEBCHAT_HTTP_PORT', '8005')}"


def browser_missing() -> str | None:
    """Why no browser test can run here, if none can."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(binary) is None:
            return f"{binary} is missing: run `make browser` (Debian's chromium and chromium-driver)"
    return None


@contextmanager
def chromium(language: str) -> Iterator[WebDriver]:
    """A headless Chromium whose language (``navigator.language``, Accept-Language) is ``language``."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch a browser or a driver
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--lang={language}",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # read by csp_violations
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def csp_violations(driver: WebDriver) -> list[str]:
    """Messages Chromium logged about scripts or styles the Content-Security-Policy blocked, or script errors."""
    assert isinstance(driver, webdriver.Chrome), driver  # the browser log is Chromium's
    messages = [str(entry.get("message", "")) for entry in driver.get_log("browser")]  # type: ignore[no-untyped-call]
    return [m for m in messages if "Content Security Policy" in m or "Uncaught" in m]


@dataclass
class Reply:
    """A reply as the widget shows it."""

    text: str
    language: str
    links: list[tuple[str, str]]
    """Citations shown as links: (text, href)."""
    cited: list[str]
    """Every citation's text, links and uploaded files' names alike."""


class DemoPage:
    """Webchat's demo page for one account's channel, as a visitor uses it."""

    def __init__(self, driver: WebDriver, account_id: str, channel_id: str, *, timeout_seconds: float = 90) -> None:
        self.driver = driver
        self.url = f"{webchat_base()}/demo/{account_id}/{channel_id}"
        self.wait = WebDriverWait(driver, timeout_seconds)

    def open_chat(self) -> None:
        """Load the page, open the bubble (a chat open before a reload opens again by itself) and wait for the
        session."""
        self.driver.get(self.url)
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".ca-webchat-bubble"))
        bubble = self.driver.find_element(By.CSS_SELECTOR, ".ca-webchat-bubble")
        if bubble.get_attribute("aria-expanded") != "true":
            bubble.click()
        self.wait.until(lambda _: self.panel.get_attribute("data-state") == "open")

    @property
    def panel(self) -> WebElement:
        """The chat panel."""
        return self.driver.find_element(By.CSS_SELECTOR, ".ca-webchat-panel")

    @property
    def thread_id(self) -> str:
        """The thread the widget keeps in sessionStorage."""
        return str(self.panel.get_attribute("data-thread-id"))

    def ask(self, text: str) -> Reply:
        """Type a question, send it and wait for the next reply."""
        before = len(self.driver.find_elements(By.CSS_SELECTOR, ".ca-webchat-reply"))
        self._send(text)
        replies: list[Reply] = []

        def reply_shown(driver: WebDriver) -> bool:
            bubbles = driver.find_elements(By.CSS_SELECTOR, ".ca-webchat-reply")
            if len(bubbles) <= before:
                return False
            bubble = bubbles[before]
            shown = bubble.find_element(By.CSS_SELECTOR, ".ca-webchat-text").text
            links = [
                (link.text, str(link.get_attribute("href")))
                for link in bubble.find_elements(By.CSS_SELECTOR, "a.ca-webchat-citation")
            ]
            cited = [item.text for item in bubble.find_elements(By.CSS_SELECTOR, ".ca-webchat-citation")]
            replies[:] = [Reply(text=shown, language=str(bubble.get_attribute("lang")), links=links, cited=cited)]
            return bool(shown)

        self.wait.until(reply_shown)
        return replies[0]

    def ask_for_handoff(self, text: str) -> str:
        """Send a message and wait for the "<name> took over" line."""
        self._send(text)
        shown: list[str] = []

        def handoff_shown(driver: WebDriver) -> bool:
            shown[:] = [line.text for line in driver.find_elements(By.CSS_SELECTOR, ".ca-webchat-handoff") if line.text]
            return bool(shown)

        self.wait.until(handoff_shown)
        return shown[0]

    def _send(self, text: str) -> None:
        field = self.driver.find_element(By.CSS_SELECTOR, ".ca-webchat-input")
        field.send_keys(text)
        self.driver.find_element(By.CSS_SELECTOR, ".ca-webchat-send").click()


@contextmanager
def visitor(account_id: str, channel_id: str, language: str) -> Iterator[DemoPage]:
    """A visitor whose browser speaks ``language``, with the chat open on the demo page of a channel."""
    with chromium(language) as driver:
        page = DemoPage(driver, account_id, channel_id)
        page.open_chat()
        yield page
