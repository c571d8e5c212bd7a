"""The admin console's sign-in and its users and teams forms in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium): a wrong key is refused, a read-only key gets no controls, and users and teams
are edited in forms and refused in the API's words; the agent's answer threshold is saved, checked by the browser
and reset to the tuned default; an answer in the API's JSON shape is shown in words, never swapped in raw, and the
page is busy only while it loads; the preview shows the agent writing and takes no second question meanwhile; the
keyboard's focus survives the sources list's refreshes and a channel's deploy, change and removal; the audit log's
and the gaps' filters survive a reload; every control has a name. The whole acceptance flow (content, preview,
webchat, pause) is ``test_acceptance_browser.py``."""

from __future__ import annotations

import pytest
from customer_agent_shared.testing.plumbing import eventually
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.e2e.browser import csp_violations
from tests.e2e.console_page import CONSOLE, find, open_new_form, open_tab, pick, shown, sign_in
from tests.e2e.journey import AdminClient

pytestmark = pytest.mark.e2e


async def test_a_wrong_key_is_refused_and_a_read_only_key_gets_no_controls(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    console_browser.get(CONSOLE + "agent")
    await sign_in(console_browser, "cak_not_a_key")
    await shown(console_browser, "#sign-in .alert", "the refusal", text="The API key is unknown or was revoked.")
    assert not console_browser.find_element(By.ID, "console").is_displayed()

    issued = await admin.call("POST", "/api-keys", as_operator=True, json={"permissions": ["customer_agent:read"]})
    await sign_in(console_browser, issued["key"])
    await shown(console_browser, "#session .who", "the read-only session", text="read-only")
    status = await shown(console_browser, "#agent-status", "the agent's status", text="Running")
    assert not status.find_elements(By.TAG_NAME, "button"), status.text
    assert (
        console_browser.find_element(By.CSS_SELECTOR, "#agent-profile fieldset").get_attribute("disabled") is not None
    )
    assert not console_browser.find_element(By.ID, "agent-answer-threshold").is_enabled()
    console_browser.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=content]").click()
    await shown(console_browser, "#sources", "the sources")
    assert not console_browser.find_elements(By.ID, "short-answer-form")
    assert not console_browser.find_elements(By.ID, "dropzone")
    await the_credits_page_links_to_the_purchases(console_browser, admin)
    assert not csp_violations(console_browser)


async def the_credits_page_links_to_the_purchases(browser: WebDriver, admin: AdminClient) -> None:
    """The Credits page's link opens the audit log filtered to purchases, and the filter survives a reload."""
    await admin.call("POST", "/credits/purchases", as_operator=True, json={"credits": 100})
    await open_tab(browser, "credits", "#credit-purchases")
    browser.find_element(By.ID, "credit-purchases").click()
    for reload in (False, True):
        if reload:
            browser.refresh()
        await shown(browser, "table.audit tbody", "the purchase in the audit log", text="credit_purchase")
        chosen = Select(browser.find_element(By.NAME, "target_type")).first_selected_option
        assert chosen.get_attribute("value") == "credit_purchase"
        assert browser.current_url.endswith("/console/audit?target_type=credit_purchase")


def add_working_time(form: WebElement, days: set[int], start: str, end: str) -> None:
    """Add a row of working time to a users or teams form and set its weekdays and times."""
    form.find_element(By.CSS_SELECTOR, "button[data-add-hours]").click()
    row = form.find_elements(By.CSS_SELECTOR, ".hours-rows .hours-row")[-1]
    for box in row.find_elements(By.CSS_SELECTOR, "input[type=checkbox]"):
        if box.is_selected() != (int(str(box.get_attribute("value"))) in days):
            box.click()
    pick(row, "select[name$='-start']", start)
    pick(row, "select[name$='-end']", end)


ADA_HOURS = "Mon\u2013Fri 08:30\u201316:00, Sat 10:00\u201314:00"


async def test_users_and_teams_are_edited_in_forms_and_a_read_only_key_only_sees_them(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    console_browser.get(CONSOLE + "people")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    await shown(console_browser, "#people-page", "the users and teams", text="Nobody takes handoffs yet")
    await add_a_user_and_a_team_in_forms(console_browser)
    support = await the_page_shows_what_the_api_keeps(console_browser, admin)
    await a_refused_capacity_is_explained_and_not_saved(console_browser, admin, support)

    issued = await admin.call("POST", "/api-keys", as_operator=True, json={"permissions": ["customer_agent:read"]})
    console_browser.find_element(By.ID, "sign-out").click()
    await sign_in(console_browser, issued["key"])
    await shown(console_browser, "#session .who", "the read-only session", text="read-only")
    console_browser.find_element(By.CSS_SELECTOR, "nav.tabs a[data-page=people]").click()
    await shown(console_browser, "tr[data-user=u-ada]", "Ada, for the read-only key", text=ADA_HOURS)
    page = console_browser.find_element(By.ID, "people-page")
    assert "3 open threads" in page.text
    assert not page.find_elements(By.CSS_SELECTOR, "button, form, input, select")
    assert not csp_violations(console_browser)


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
    assert refusal == "Nothing was saved: see the field marked below."  # the API's words are under the field
    assert (
        browser.find_element(By.CSS_SELECTOR, "tr[data-editing=teams] [name=max_capacity]").get_attribute("value")
        == "100001"
    )
    assert (await admin.call("GET", "/teams"))[0]["max_capacity"] == 3


async def test_the_answer_threshold_is_saved_with_a_decimal_comma_refused_out_of_range_and_reset(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    console_browser.get(CONSOLE + "agent")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    await save_threshold(console_browser, admin, "0.35", 0.35)
    await save_threshold(console_browser, admin, "0,4", 0.4)  # as typed in a decimal-comma language

    field = console_browser.find_element(By.ID, "agent-answer-threshold")
    field.clear()
    field.send_keys("1.5")
    console_browser.find_element(By.CSS_SELECTOR, "#agent-profile button[type=submit]").click()
    problem = "Input should be less than or equal to 1"
    await shown(console_browser, "#agent-profile .error-text[data-field=answer_threshold]", "the refusal", text=problem)
    typed = console_browser.find_element(By.ID, "agent-answer-threshold")
    assert typed.get_attribute("value") == "1.5"
    assert typed.get_attribute("aria-invalid") == "true"
    banner = console_browser.find_element(By.CSS_SELECTOR, "#agent-profile .alert .message").text
    assert banner == "Nothing was saved: see the field marked below."
    assert (await admin.call("GET", "/agent"))["answer_threshold"] == 0.4

    await save_threshold(console_browser, admin, "", None)
    assert console_browser.find_element(By.ID, "agent-answer-threshold").get_attribute("value") == ""
    assert not csp_violations(console_browser)


async def save_threshold(browser: WebDriver, admin: AdminClient, typed: str, stored: float | None) -> None:
    """Type a threshold in the Agent page's profile, save it, and wait until the API keeps ``stored``."""
    field = await shown(browser, "#agent-answer-threshold", "the answer threshold")
    field.clear()
    field.send_keys(typed)
    browser.find_element(By.CSS_SELECTOR, "#agent-profile button[type=submit]").click()

    async def kept() -> bool:
        saved = (await admin.call("GET", "/agent"))["answer_threshold"] == stored
        return saved and find(browser, "#flash .notice") is not None  # the flash is emptied as the request goes

    await eventually(kept, f"the answer threshold {stored} saved")
    assert browser.find_element(By.CSS_SELECTOR, "#flash .notice").text == "Profile saved."


async def test_an_answer_in_json_is_shown_in_words_and_a_loaded_page_is_no_longer_busy(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    # An address kept from elsewhere with a filter the page refuses: FastAPI answers in the API's JSON shape.
    console_browser.get(CONSOLE + "gaps?status=closed")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    refusal = await shown(console_browser, "#flash .alert", "the refusal in words", text="Refused (422):")
    assert "query.status" in refusal.find_element(By.CSS_SELECTOR, ".message").text
    page = console_browser.find_element(By.ID, "page")
    assert '"error"' not in page.text
    assert page.get_attribute("aria-busy") == "false"

    await open_tab(console_browser, "content", "#page[aria-busy=false] #sources")  # busy only while on its way
    assert not console_browser.find_elements(By.CSS_SELECTOR, "#flash .alert")
    assert not csp_violations(console_browser)


async def test_the_preview_shows_the_agent_writing_and_takes_the_next_question_once_answered(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    console_browser.get(CONSOLE + "preview")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    await shown(console_browser, "#preview-form", "the preview")
    assert console_browser.find_element(By.ID, "api-key").get_dom_attribute("name") is None  # never in a form's address
    assert isinstance(console_browser, webdriver.Chrome)
    # A slow network, so the wait for the answer can be seen.
    console_browser.set_network_conditions(latency=1500, download_throughput=1 << 20, upload_throughput=1 << 20)
    console_browser.find_element(By.ID, "preview-text").send_keys("Do you sell gift cards?")
    send = console_browser.find_element(By.CSS_SELECTOR, "#preview-form button[type=submit]")
    send.click()
    await shown(console_browser, "#preview-typing", "the agent writing", text="The agent is writing")
    assert send.get_attribute("disabled") is not None  # no second question sent while the first waits

    await shown(console_browser, "#transcript .exchange .bubble.agent", "the answer", within=60)
    assert not console_browser.find_element(By.ID, "preview-typing").is_displayed()
    assert send.get_attribute("disabled") is None
    assert console_browser.switch_to.active_element.get_attribute("id") == "preview-text"
    assert console_browser.find_element(By.ID, "preview-text").get_attribute("value") == ""


REFRESH_SOURCES = """
window.listBefore = document.getElementById("sources");
htmx.trigger(document.body, "sources-changed");
"""


async def test_a_keyboard_user_keeps_the_focus_while_the_sources_refresh(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    body = {"kind": "short_answer", "question": "Do you gift-wrap?", "answer": "Yes, for free."}
    await admin.call("POST", "/sources", json=body)
    console_browser.get(CONSOLE + "content")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    button = await shown(console_browser, "#sources td.actions button", "the short answer's first button")
    console_browser.execute_script("arguments[0].focus()", button)
    assert console_browser.switch_to.active_element.text == "Turn citations off"

    async def refreshed() -> bool:
        return bool(console_browser.execute_script('return document.getElementById("sources") !== window.listBefore'))

    console_browser.execute_script(REFRESH_SOURCES)  # as the list's polling does every few seconds
    await eventually(refreshed, "the list of sources refreshed")
    assert console_browser.switch_to.active_element.text == "Turn citations off"

    console_browser.switch_to.active_element.send_keys(Keys.ENTER)  # the list comes back with the source changed
    await shown(console_browser, "#sources td.actions button", "citations turned off", text="Turn citations on")
    assert console_browser.switch_to.active_element.text == "Turn citations on"


async def test_a_keyboard_user_keeps_the_focus_where_a_channel_was_deployed_changed_and_removed(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    console_browser.get(CONSOLE + "channels")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    (await shown(console_browser, "#deploy-channel summary", "the deploy disclosure")).send_keys(Keys.ENTER)
    channel_id = await shown(console_browser, "#deploy-channel input[name=id]", "the channel id field")
    channel_id.send_keys("web-focus", Keys.ENTER)  # the whole page is swapped for the saved one
    await shown(console_browser, 'tr[data-channel="web-focus"]', "the deployed channel")
    await focus_on(console_browser, "#deploy-channel summary", "the disclosure the channel was deployed from")

    console_browser.find_element(By.CSS_SELECTOR, "#channel-web-focus-rule summary").send_keys(Keys.ENTER)
    avatar = await shown(console_browser, "#channel-web-focus-rule input[name=update_avatar]", "the rule's form")
    avatar.send_keys(Keys.SPACE)
    avatar.submit()
    await shown(console_browser, "#flash", "the rule saved", text="saved")
    await focus_on(console_browser, "#channel-web-focus-rule summary", "the channel's rule it was changed from")

    remove = console_browser.find_element(By.CSS_SELECTOR, 'tr[data-channel="web-focus"] button.danger')
    remove.send_keys(Keys.ENTER)
    console_browser.switch_to.alert.accept()
    await focus_on(console_browser, "#channels-page h1", "the page's heading, the channel's row being gone")
    assert not console_browser.find_elements(By.CSS_SELECTOR, 'tr[data-channel="web-focus"]')


async def focus_on(browser: WebDriver, selector: str, what: str) -> None:
    """Wait until the keyboard's focus is on the element matching ``selector``."""

    async def focused() -> bool:
        script = "return document.activeElement === document.querySelector(arguments[0])"
        return bool(browser.execute_script(script, selector))

    await eventually(focused, f"the focus on {what}", within=10)


async def test_the_audit_logs_and_the_gaps_filters_survive_a_reload(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    await admin.call("POST", "/sources", json={"kind": "short_answer", "question": "Gift wrap?", "answer": "Yes."})
    console_browser.get(CONSOLE + "audit")
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    form = await shown(console_browser, "form.filters", "the audit log's filters")
    pick(form, "select[name=action]", "create")
    pick(form, "select[name=target_type]", "source")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    await address_ends(console_browser, "/console/audit?target_type=source&action=create")
    console_browser.refresh()
    await shown(console_browser, "table.audit tbody", "the filtered audit log after the reload", text="Gift wrap?")
    for name, value in (("target_type", "source"), ("action", "create")):
        assert Select(console_browser.find_element(By.NAME, name)).first_selected_option.get_attribute("value") == value

    await open_tab(console_browser, "gaps", "#gaps-page")
    console_browser.find_element(By.CSS_SELECTOR, "#gaps-page nav.filters a[href$='status=resolved']").click()
    await address_ends(console_browser, "/console/gaps?status=resolved")
    console_browser.refresh()
    await shown(console_browser, "#gaps-page", "the resolved gaps after the reload", text="No resolved gaps.")


async def address_ends(browser: WebDriver, ending: str) -> None:
    """Wait until the browser's address ends with ``ending``."""

    async def there() -> bool:
        return browser.current_url.endswith(ending)

    await eventually(there, f"the address ending with {ending}")


UNNAMED_CONTROLS = """
return Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button"))
  .filter((control) => !control.closest("[hidden]"))
  .filter((control) => {
    const labels = Array.from(control.labels || [], (label) => label.textContent.trim()).join(" ");
    const own = control.tagName === "BUTTON" ? control.textContent.trim() : "";
    return !(labels || control.getAttribute("aria-label") || own);
  })
  .map((control) => control.outerHTML.slice(0, 120));
"""


async def test_every_control_of_every_page_has_a_name_a_screen_reader_can_say(
    admin: AdminClient, console_browser: WebDriver
) -> None:
    console_browser.get(CONSOLE)
    await sign_in(console_browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    for page in ("content", "agent", "channels", "people", "preview", "performance", "gaps", "credits", "audit"):
        await open_tab(console_browser, page, "#page[aria-busy=false] h1")
        console_browser.execute_script('document.querySelectorAll("#page details").forEach((d) => { d.open = true; })')
        assert console_browser.execute_script(UNNAMED_CONTROLS) == [], page
