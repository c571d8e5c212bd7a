"""The README's screenshots, taken from the running local stack (`make screenshots`) with the headless Chromium
of the browser tests: the console's Content page and Preview chat, and the webchat demo page, all for the demo
account `make up` creates (ADMIN_DEMO_ACCOUNT); a returns policy is uploaded to it, so that an answer shows a
citation (a short answer has no address to cite)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ADMIN = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}"
WEBCHAT = f"http://127.0.0.1:{os.environ.get('WEBCHAT_HTTP_PORT', '8005')}"
TOKEN = os.environ.get("ADMIN_BOOTSTRAP_TOKEN", "dev-bootstrap-token")
ACCOUNT, CHANNEL = "demo", "website"
QUESTION_EN, QUESTION_DA = "What are your opening hours?", "Kan jeg returnere en vare?"
POLICY_FILE = "returns-policy.txt"
POLICY = (
    "Returns\n\nYou can return any item within 30 days of delivery for a full refund, as long as it is unused "
    "and in its original packaging. Print the return label from your order page and hand the parcel to any post "
    "office; the refund reaches your card within five working days."
)


def wait_for(check: Callable[[], Any], what: str, within: float = 90) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            found = check()
        except (NoSuchElementException, StaleElementReferenceException):
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise SystemExit(f"screenshots: gave up waiting for {what}")


@contextmanager
def demo_key() -> Iterator[str]:
    """A fresh edit key of the demo account (revoked afterwards), its channel deployed, its answer ready."""
    with httpx.Client(base_url=f"{ADMIN}/v1/accounts/{ACCOUNT}", timeout=30) as api:
        operator = {"Authorization": f"Bearer {TOKEN}"}
        issued = api.post("/api-keys", json={"permissions": ["customer_agent:edit"]}, headers=operator)
        if issued.status_code == 404:
            raise SystemExit("screenshots: no demo account; run `make up` (deploy/local turns ADMIN_DEMO_ACCOUNT on)")
        issued.raise_for_status()
        key = issued.json()
        account = {"Authorization": f"Bearer {key['key']}"}
        deployed = api.post("/channels", json={"type": "live_chat", "id": CHANNEL}, headers=account)
        if deployed.status_code not in (201, 409):
            raise SystemExit(f"screenshots: deploying the demo channel failed: {deployed.text}")
        if not any(s.get("filename") == POLICY_FILE for s in api.get("/sources", headers=account).json()["items"]):
            files = {"file": (POLICY_FILE, POLICY.encode(), "text/plain")}
            api.post("/sources/files", files=files, headers=account).raise_for_status()
        wait_for(
            lambda: all(
                s["state"] == "ready" and s["embedded_chunks"] == s["chunks"]
                for s in api.get("/sources", headers=account).json()["items"]
                if s["state"] != "deleted"  # gone at its origin (a knowledge-base article removed): nothing to wait for
            ),
            "the demo account's content to be ready",
        )
        try:
            yield str(key["key"])
        finally:
            api.delete(f"/api-keys/{key['id']}", headers=operator)


def chromium() -> WebDriver:
    """Headless Chromium from Debian's packages (`make browser`)."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        raise SystemExit("screenshots: chromium and chromedriver are missing; run `make browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(driver))


def console_shots(browser: WebDriver, key: str) -> None:
    """Sign in; the Content page, then the Preview chat after a question in English and one in Danish."""
    browser.get(f"{ADMIN}/console/")
    wait_for(lambda: browser.find_element(By.ID, "api-key").is_displayed(), "the sign-in form")
    browser.find_element(By.ID, "api-key").send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#sources tr[data-state=ready]"), "the sources")
    browser.save_screenshot(str(OUT / "console-content.png"))
    browser.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=preview]").click()

    def answers() -> int:
        return len(browser.find_elements(By.CSS_SELECTOR, ".bubble.agent"))

    for count, (locale, question) in enumerate((("en-US", QUESTION_EN), ("da-DK", QUESTION_DA)), start=1):
        wait_for(lambda: browser.find_element(By.ID, "preview-text").is_displayed(), "the preview form")
        Select(browser.find_element(By.ID, "preview-locale")).select_by_value(locale)
        browser.find_element(By.ID, "preview-text").send_keys(question)
        browser.find_element(By.CSS_SELECTOR, "#preview-form button[type=submit]").click()
        wait_for(partial(lambda expected: answers() >= expected, count), "an answer")
    browser.save_screenshot(str(OUT / "console-preview.png"))


def chat_shot(browser: WebDriver) -> None:
    """The webchat demo page with its widget open, after a question."""
    browser.get(f"{WEBCHAT}/demo/{ACCOUNT}/{CHANNEL}")
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, ".ca-webchat-bubble"), "the chat bubble").click()
    field = wait_for(lambda: browser.find_element(By.CSS_SELECTOR, ".ca-webchat-input"), "the chat input")
    field.send_keys(QUESTION_EN)
    browser.find_element(By.CSS_SELECTOR, ".ca-webchat-send").click()
    wait_for(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, ".ca-webchat-reply")) >= 1,
        "the chat's answer",
    )
    time.sleep(0.5)  # let the widget finish scrolling before the picture is taken
    browser.save_screenshot(str(OUT / "webchat.png"))


def main() -> int:
    """Take every screenshot into docs/screenshots/."""
    OUT.mkdir(parents=True, exist_ok=True)
    with demo_key() as key:
        browser = chromium()
        try:
            console_shots(browser, key)
            chat_shot(browser)
        finally:
            browser.quit()
    print(f"screenshots written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
