"""The admin console in a real headless Chromium (Debian's chromium and chromium-driver, driven by Selenium):
sign in with a key, upload a file and add a short answer and watch them become ready, ask in the preview in
English and in Danish and see the answers (a short answer has no address, so it is never cited; the file is,
by its name), then pause the agent and see why it is paused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from customer_agent_shared.testing.plumbing import eventually
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.e2e.browser import CHROMEDRIVER, CHROMIUM, browser_missing
from tests.e2e.journey import AdminClient

pytestmark = pytest.mark.e2e

CONSOLE = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}/console/"
QUESTION = "How long is the warranty on a bicycle frame?"
ANSWER = "Every bicycle frame has a ten-year warranty against manufacturing defects."
RETURNS_FILE = "bicycle-returns.txt"
RETURNS = (
    "Returning a bicycle\n\nYou can return a bicycle within 30 days of delivery for a full refund. The bicycle "
    "must be unused and sent back in its original box. Print the return label from your order page, attach it "
    "to the box and hand it to any post office. The refund reaches your card within five working days."
)


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium from Debian's packages (as webchat's browser test), keeping its console log."""
    missing = browser_missing()
    assert missing is None, missing
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch a browser or a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield browser
    finally:
        browser.quit()


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


async def ask(browser: WebDriver, locale: str, question: str, exchanges_before: int) -> WebElement:
    """Ask in the preview as a visitor with ``locale``; the agent's answer."""
    Select(browser.find_element(By.ID, "preview-locale")).select_by_value(locale)
    browser.find_element(By.ID, "preview-text").send_keys(question)
    browser.find_element(By.CSS_SELECTOR, "#preview-form button[type=submit]").click()
    selector = f"#transcript .exchange:nth-of-type({exchanges_before + 1}) .bubble.agent"
    return await shown(browser, selector, f"the preview's answer to {question!r}", within=60)


def csp_violations(browser: webdriver.Chrome) -> list[str]:
    """Messages Chromium logged about scripts or styles the Content-Security-Policy blocked, or script errors."""
    messages = [str(entry.get("message", "")) for entry in browser.get_log("browser")]  # type: ignore[no-untyped-call]
    return [m for m in messages if "Content Security Policy" in m or "Uncaught" in m]


async def add_content(browser: WebDriver, upload: Path) -> None:
    """Upload a file through the file picker and add a short answer; wait until both are searchable."""
    (await shown(browser, "#upload-files", "the file picker")).send_keys(str(upload))
    await shown(browser, "#dropzone .upload-status", "the upload's outcome", text="1 of 1 uploaded")
    (await shown(browser, "#sa-question", "the short answer form")).send_keys(QUESTION)
    browser.find_element(By.ID, "sa-answer").send_keys(ANSWER)
    browser.find_element(By.CSS_SELECTOR, "#short-answer-form button[type=submit]").click()
    await shown(browser, "#flash .notice", "the notice that the short answer was added", text="Short answer added")
    for kind, label in (("short_answer", QUESTION), ("file", RETURNS_FILE)):
        row = f"#sources tr[data-kind={kind}]"
        await shown(browser, row, f"the {kind} in the list", text=label)
        await shown(browser, f"{row}[data-state=ready]", f"the {kind} ready", within=120)
        # Words are searchable at once; the cross-lingual match needs the chunks' vectors too.
        await shown(browser, f"{row} td.progress", f"the {kind}'s chunks embedded", text="embedded 1 / 1", within=120)


def answer_text(reply: WebElement) -> str:
    """The text of an answer in the preview, failing unless it is an answer."""
    assert reply.get_attribute("data-kind") == "answer", reply.text
    return reply.find_element(By.CSS_SELECTOR, ".reply-text").text


def cited(reply: WebElement) -> list[str]:
    """The citations under a preview answer."""
    return [item.text for item in reply.find_elements(By.CSS_SELECTOR, ".citations li")]


async def test_sign_in_add_content_ask_in_two_languages_and_pause(
    admin: AdminClient, chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    key = admin.http.headers["Authorization"].removeprefix("Bearer ")
    chromium.get(CONSOLE)
    (await shown(chromium, "#api-key", "the sign-in form")).send_keys(key)
    chromium.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
    await shown(chromium, "#session .who", "the signed-in account", text=admin.account_id)
    assert "can edit" in chromium.find_element(By.CSS_SELECTOR, "#session").text
    upload = tmp_path / RETURNS_FILE
    upload.write_text(RETURNS)
    await add_content(chromium, upload)

    # The preview answers in English and in Danish; the file is cited by its name.
    chromium.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=preview]").click()
    await shown(chromium, "#preview-form", "the preview chat")
    english = await ask(chromium, "en-US", QUESTION, 0)
    assert "ten-year warranty" in answer_text(english)
    danish = await ask(chromium, "da-DK", "Hvor mange års garanti er der på et cykelstel?", 1)
    assert "ten-year warranty" in answer_text(danish)
    assert (danish.get_attribute("data-language") or "").startswith("da"), danish.text
    returns_en = await ask(chromium, "en-US", "Can I return a bicycle for a refund?", 2)
    assert "30 days" in answer_text(returns_en)
    assert any(RETURNS_FILE in citation for citation in cited(returns_en)), returns_en.text
    returns_da = await ask(chromium, "da-DK", "Kan jeg returnere en cykel?", 3)
    assert "30" in answer_text(returns_da)
    assert (returns_da.get_attribute("data-language") or "").startswith("da"), returns_da.text
    assert any(RETURNS_FILE in citation for citation in cited(returns_da)), returns_da.text

    # Pausing shows the reason at once, and the API agrees.
    chromium.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=agent]").click()
    (await shown(chromium, "#agent-status button.danger", "the pause button", text="Pause")).click()
    paused = "#agent-status[data-status=paused_manual]"
    status = await shown(chromium, paused, "the paused status", text="Paused by hand")
    assert "Resume" in status.text
    assert (await admin.call("GET", "/agent/status"))["status"] == "paused_manual"
    assert chromium.current_url.endswith("/console/agent")
    assert not csp_violations(chromium)


async def sign_in(browser: webdriver.Chrome, key: str) -> None:
    """Type a key into the sign-in form and send it."""
    field = await shown(browser, "#api-key", "the sign-in form")
    field.clear()
    field.send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()


async def test_a_wrong_key_is_refused_and_a_read_only_key_gets_no_controls(
    admin: AdminClient, chromium: webdriver.Chrome
) -> None:
    chromium.get(CONSOLE + "agent")
    await sign_in(chromium, "cak_not_a_key")
    await shown(chromium, "#sign-in .alert", "the refusal", text="The API key is unknown or was revoked.")
    assert not chromium.find_element(By.ID, "console").is_displayed()

    issued = await admin.call("POST", "/api-keys", as_operator=True, json={"permissions": ["customer_agent:read"]})
    await sign_in(chromium, issued["key"])
    await shown(chromium, "#session .who", "the read-only session", text="read-only")
    status = await shown(chromium, "#agent-status", "the agent's status", text="Running")
    assert not status.find_elements(By.TAG_NAME, "button"), status.text
    assert chromium.find_element(By.CSS_SELECTOR, "#agent-profile fieldset").get_attribute("disabled") is not None
    chromium.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=content]").click()
    await shown(chromium, "#sources", "the sources")
    assert not chromium.find_elements(By.ID, "short-answer-form")
    assert not chromium.find_elements(By.ID, "dropzone")
    assert not csp_violations(chromium)


def pick(scope: WebElement, selector: str, text: str) -> None:
    """Choose the option showing ``text`` in the select matching ``selector`` within ``scope``."""
    Select(scope.find_element(By.CSS_SELECTOR, selector)).select_by_visible_text(text)


def add_working_time(form: WebElement, days: set[int], start: str, end: str) -> None:
    """Add a row of working time to a users or teams form and set its weekdays and times."""
    form.find_element(By.CSS_SELECTOR, "button[data-add-hours]").click()
    row = form.find_elements(By.CSS_SELECTOR, ".hours-rows .hours-row")[-1]
    for box in row.find_elements(By.CSS_SELECTOR, "input[type=checkbox]"):
        if box.is_selected() != (int(str(box.get_attribute("value"))) in days):
            box.click()
    pick(row, "select[name$='-start']", start)
    pick(row, "select[name$='-end']", end)


async def open_new_form(browser: WebDriver, resource: str, label: str) -> WebElement:
    """Click "Add a user" or "Add a team"; the empty form in its place."""
    browser.find_element(By.CSS_SELECTOR, f"#{resource} tfoot button").click()
    form = await shown(browser, f'tr[data-editing={resource}][data-id=""] form', f"the form of a new {label}")
    return form


ADA_HOURS = "Mon\u2013Fri 08:30\u201316:00, Sat 10:00\u201314:00"


async def test_users_and_teams_are_edited_in_forms_and_a_read_only_key_only_sees_them(
    admin: AdminClient, chromium: webdriver.Chrome
) -> None:
    chromium.get(CONSOLE + "people")
    await sign_in(chromium, admin.http.headers["Authorization"].removeprefix("Bearer "))
    await shown(chromium, "#people-page", "the users and teams", text="Nobody takes handoffs yet")
    await add_a_user_and_a_team_in_forms(chromium)
    support = await the_page_shows_what_the_api_keeps(chromium, admin)
    await a_refused_capacity_is_explained_and_not_saved(chromium, admin, support)

    issued = await admin.call("POST", "/api-keys", as_operator=True, json={"permissions": ["customer_agent:read"]})
    chromium.find_element(By.ID, "sign-out").click()
    await sign_in(chromium, issued["key"])
    await shown(chromium, "#session .who", "the read-only session", text="read-only")
    chromium.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=people]").click()
    await shown(chromium, "tr[data-user=u-ada]", "Ada, for the read-only key", text=ADA_HOURS)
    page = chromium.find_element(By.ID, "people-page")
    assert "3 open threads" in page.text
    assert not page.find_elements(By.CSS_SELECTOR, "button, form, input, select")
    assert not csp_violations(chromium)


async def add_a_user_and_a_team_in_forms(browser: WebDriver) -> None:
    """Ada, working weekdays and Saturday in Copenhagen, and the Support team she is in, always open."""
    user = await open_new_form(browser, "users", "user")
    user.find_element(By.NAME, "id").send_keys("u-ada")
    user.find_element(By.NAME, "name").send_keys("Ada")
    pick(user, "select[name=timezone]", "Europe/Copenhagen")
    add_working_time(user, {0, 1, 2, 3, 4}, "08:30", "16:00")
    add_working_time(user, {5}, "10:00", "14:00")
    user.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    await shown(browser, "#flash .notice", "the user saved", text="User 'Ada' saved.")

    team = await open_new_form(browser, "teams", "team")
    team.find_element(By.NAME, "id").send_keys("support")
    team.find_element(By.NAME, "name").send_keys("Support")
    team.find_element(By.NAME, "max_capacity").send_keys("3")
    team.find_element(By.CSS_SELECTOR, "input[name=member_ids][value=u-ada]").click()
    team.find_element(By.CSS_SELECTOR, "input[name=hours_mode][value=own]").click()
    pick(team, "select[name=timezone]", "America/New_York")
    add_working_time(team, {0, 1, 2, 3, 4, 5, 6}, "00:00", "24:00")
    team.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    await shown(browser, "#flash .notice", "the team saved", text="Team 'Support' saved.")


async def the_page_shows_what_the_api_keeps(browser: WebDriver, admin: AdminClient) -> WebElement:
    """After a refresh, the user's and the team's rows match what the API stored; the team's row."""
    browser.refresh()
    await shown(browser, "tr[data-user=u-ada] td.working-hours", "Ada's hours", text=ADA_HOURS)
    assert "Europe/Copenhagen" in browser.find_element(By.CSS_SELECTOR, "tr[data-user=u-ada]").text
    support = await shown(browser, "tr[data-team=support]", "the team", text="3 open threads")
    assert "Ada" in support.text
    assert "Mon\u2013Sun 00:00\u201324:00" in support.text
    users, teams = await admin.call("GET", "/users"), await admin.call("GET", "/teams")
    assert users[0]["working_hours"]["intervals"][5] == {"day": 5, "start": "10:00", "end": "14:00"}
    assert (teams[0]["max_capacity"], teams[0]["member_ids"]) == (3, ["u-ada"])
    assert teams[0]["working_hours"]["timezone"] == "America/New_York"
    return support


async def a_refused_capacity_is_explained_and_not_saved(
    browser: WebDriver, admin: AdminClient, support: WebElement
) -> None:
    """A capacity the API refuses: its words next to the field, the value as typed, nothing saved."""
    support.find_element(By.XPATH, ".//button[text()='Edit']").click()
    team = await shown(browser, "tr[data-editing=teams][data-id=support] form", "the team's form")
    capacity = team.find_element(By.NAME, "max_capacity")
    capacity.clear()
    capacity.send_keys("100001")
    team.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    problem = "Input should be less than or equal to 100000"
    await shown(browser, "tr[data-editing=teams] .error-text[data-field=max_capacity]", "the refusal", text=problem)
    refusal = browser.find_element(By.CSS_SELECTOR, "tr[data-editing=teams] .alert .message").text
    assert refusal == f"The request is invalid: 0.max_capacity: {problem}."
    assert (
        browser.find_element(By.CSS_SELECTOR, "tr[data-editing=teams] [name=max_capacity]").get_attribute("value")
        == "100001"
    )
    assert (await admin.call("GET", "/teams"))[0]["max_capacity"] == 3
