"""Issue 31's acceptance, in one chain for one fresh account, in real headless Chromium (Debian's chromium and
chromium-driver, Selenium): sign in to the console with a key; add a short answer, a website (import related)
and a file dropped on the upload zone, and watch them become ready; deploy a live chat that hands off to Anna;
ask in the preview and on webchat's demo page, in English and in Danish, and see the answers and citations (a
short answer has no address, so it is answered but never cited; the web page is cited by a link, the file by its
name); see the performance charts drawn; pause the agent and see a new chat handed to Anna.

Everything is done in the browser; the REST API is only polled to know when a change has reached routing.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from customer_agent_shared.testing.plumbing import eventually
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.e2e.browser import Reply, csp_violations, visitor
from tests.e2e.console_page import (
    CONSOLE,
    answer_text,
    ask,
    cited,
    open_new_form,
    open_tab,
    shown,
    sign_in,
)
from tests.e2e.journey import AdminClient

pytestmark = pytest.mark.e2e

QUESTION = "How long is the warranty on a bicycle frame?"
QUESTION_DA = "Hvor mange års garanti er der på et cykelstel?"
ANSWER = "Every bicycle frame has a ten-year warranty against manufacturing defects."
DELIVERY, DELIVERY_DA = "How long does delivery to Denmark take?", "Hvor lang tid tager levering til Danmark?"
GIFT_CARDS_FILE = "gift-cards.txt"
GIFT_CARDS_TITLE = "gift-cards"  # the title ingestion gives a text file: its name without the extension
GIFT_CARDS = (
    "Gift cards\n\nA gift card can be used in our online shop for three years from the day it was bought. "
    "It can pay for part of an order or all of it, and what is left stays on the card. A gift card cannot be "
    "exchanged for cash."
)
GIFT_CARD, GIFT_CARD_DA = "How long can I use a gift card?", "Hvor længe kan jeg bruge et gavekort?"
CHANNEL = "web"

DROP_FILE = """
const [name, text] = arguments;
const data = new DataTransfer();
data.items.add(new File([text], name, {type: "text/plain"}));
const zone = document.getElementById("dropzone");
for (const type of ["dragenter", "dragover", "drop"]) {
  zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
}
"""
CHARTS_DRAWN = """
return Array.from(document.querySelectorAll("canvas[data-chart]"), (canvas) => {
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const painted = pixels.some((value, index) => index % 4 === 3 && value > 0);
  return {width: canvas.width, height: canvas.height, chart: Boolean(Chart.getChart(canvas)), painted: painted};
});
"""


async def test_sign_in_add_content_ask_in_console_and_webchat_in_two_languages_then_pause(
    admin: AdminClient, console_browser: WebDriver, local_site: str
) -> None:
    browser = console_browser
    browser.get(CONSOLE)
    await sign_in(browser, admin.http.headers["Authorization"].removeprefix("Bearer "))
    await shown(browser, "#session .who", "the signed-in account", text=admin.account_id)
    assert "can edit" in browser.find_element(By.CSS_SELECTOR, "#session").text
    await add_content(browser, local_site)
    await deploy_a_live_chat_handing_off_to_anna(browser)
    await open_tab(browser, "content", "#sources")
    for kind in ("short_answer", "url", "file"):
        await ready_and_embedded(browser, kind)

    shipping = local_site.replace("index.html", "shipping.html")
    await ask_in_the_preview(browser, shipping)
    await admin.wait_for_routing(None)  # the channel has reached routing: a new chat goes to the agent
    await asyncio.to_thread(ask_on_the_demo_page, admin.account_id, shipping)
    await the_charts_are_drawn(browser)
    try:
        await pause_and_see_a_new_chat_handed_to_anna(browser, admin)
    finally:
        await admin.call("POST", "/agent/resume")
    assert not csp_violations(browser)


async def add_content(browser: WebDriver, site: str) -> None:
    """A short answer, the website with its related pages, and a file dropped on the upload zone."""
    (await shown(browser, "#sa-question", "the short answer form")).send_keys(QUESTION)
    browser.find_element(By.ID, "sa-answer").send_keys(ANSWER)
    browser.find_element(By.CSS_SELECTOR, "#short-answer-form button[type=submit]").click()
    await shown(browser, "#flash .notice", "the short answer added", text="Short answer added")

    browser.find_element(By.ID, "url").send_keys(site)
    url_form = browser.find_element(By.CSS_SELECTOR, "form[hx-post='/console/fragments/sources/url']")
    url_form.find_element(By.CSS_SELECTOR, "input[name=import_related]").click()
    url_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    await shown(browser, "#flash .notice", "the web page added", text=f"Added {site}; it syncs now.")
    await shown(browser, "#sources tr[data-kind=url]", "the site, with its related pages", text="+ related")

    browser.execute_script(DROP_FILE, GIFT_CARDS_FILE, GIFT_CARDS)
    await shown(browser, "#dropzone .upload-status", "the dropped file uploaded", text="1 of 1 uploaded")
    await shown(browser, "#sources tr[data-kind=file]", "the dropped file in the list", text=GIFT_CARDS_FILE)


async def ready_and_embedded(browser: WebDriver, kind: str) -> None:
    """Wait until the Content page shows the source ready with every chunk embedded (words are searchable at
    once; a Danish question finds an English text through the vectors)."""
    await shown(browser, f"#sources tr[data-kind={kind}][data-state=ready]", f"the {kind} ready", within=120)

    async def embedded() -> bool:
        try:
            progress = browser.find_element(By.CSS_SELECTOR, f"#sources tr[data-kind={kind}] td.progress").text
        except StaleElementReferenceException:  # swapped by the list's polling while being read
            return False
        found = re.search(r"Chunks embedded (\d+) / (\d+)", progress)
        return found is not None and 0 < int(found.group(2)) == int(found.group(1))

    await eventually(embedded, f"the {kind}'s chunks embedded", within=120)


async def deploy_a_live_chat_handing_off_to_anna(browser: WebDriver) -> None:
    """Add Anna in Users & teams, then deploy the agent on a live chat whose handoffs go to her."""
    await open_tab(browser, "people", "#people-page")
    anna = await open_new_form(browser, "users", "user")
    anna.find_element(By.NAME, "id").send_keys("u-anna")
    anna.find_element(By.NAME, "name").send_keys("Anna")
    anna.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    await shown(browser, "#flash .notice", "Anna saved", text="User 'Anna' saved.")

    page = await open_tab(browser, "channels", "#channels-page")
    deploy = page.find_element(By.XPATH, ".//details[summary[text()='Deploy on a channel']]")
    deploy.find_element(By.TAG_NAME, "summary").click()
    Select(deploy.find_element(By.NAME, "type")).select_by_value("live_chat")
    deploy.find_element(By.NAME, "id").send_keys(CHANNEL)
    deploy.find_element(By.NAME, "assign_to").send_keys("user:u-anna")
    deploy.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    await shown(
        browser, "#flash .notice", "the channel deployed", text=f"The agent now answers on live_chat {CHANNEL}."
    )
    await shown(browser, f"tr[data-channel={CHANNEL}]", "the channel's rule", text="hand to user u-anna")


async def ask_in_the_preview(browser: WebDriver, shipping: str) -> None:
    """English: the short answer, and the web page cited by its address; Danish: the short answer, and the file
    cited by its name."""
    await open_tab(browser, "preview", "#preview-form")
    english = await ask(browser, "en-US", QUESTION, 0)
    assert "ten-year warranty" in answer_text(english)
    assert not cited(english)  # a short answer has no address to cite
    delivery = await ask(browser, "en-US", DELIVERY, 1)
    assert "three to five days" in answer_text(delivery)
    links = [str(a.get_attribute("href")) for a in delivery.find_elements(By.CSS_SELECTOR, ".citations a")]
    assert shipping in links, delivery.text

    danish = await ask(browser, "da-DK", QUESTION_DA, 2)
    assert "ten-year warranty" in answer_text(danish)
    assert (danish.get_attribute("data-language") or "").startswith("da"), danish.text
    gift_card = await ask(browser, "da-DK", GIFT_CARD_DA, 3)
    assert "three years" in answer_text(gift_card)
    assert (gift_card.get_attribute("data-language") or "").startswith("da"), gift_card.text
    assert any(GIFT_CARDS_FILE in citation for citation in cited(gift_card)), gift_card.text


def ask_on_the_demo_page(account_id: str, shipping: str) -> None:
    """A visitor in English (the file cited by its name; a reload resumes the thread), then one in Danish (the
    web page cited by a link), on the channel deployed in the console."""

    def answered(reply: Reply, expected: str, language: str) -> None:
        assert expected in reply.text, reply
        assert reply.language.startswith(language), reply

    with visitor(account_id, CHANNEL, "en-US") as page:
        answered(page.ask(QUESTION), "ten-year warranty", "en")
        gift_card = page.ask(GIFT_CARD)
        answered(gift_card, "three years", "en")
        assert gift_card.cited == [GIFT_CARDS_TITLE], gift_card
        assert not gift_card.links, gift_card  # a file has no address: its name is shown as text
        thread = page.thread_id
        page.open_chat()
        assert page.thread_id == thread

    with visitor(account_id, CHANNEL, "da-DK") as page:
        answered(page.ask(QUESTION_DA), "ten-year warranty", "da")
        delivery = page.ask(DELIVERY_DA)
        answered(delivery, "three to five days", "da")
        assert shipping in [href for _, href in delivery.links], delivery


async def the_charts_are_drawn(browser: WebDriver) -> None:
    """The Performance page draws its four charts with Chart.js (loaded under the console's strict CSP)."""
    await open_tab(browser, "performance", ".charts canvas")

    async def drawn() -> list[dict[str, object]] | None:
        charts: list[dict[str, object]] = browser.execute_script(CHARTS_DRAWN)
        return charts if len(charts) == 4 and all(chart["chart"] and chart["painted"] for chart in charts) else None

    for chart in await eventually(drawn, "the performance charts drawn"):
        assert min(int(str(chart["width"])), int(str(chart["height"]))) > 0, chart


async def pause_and_see_a_new_chat_handed_to_anna(browser: WebDriver, admin: AdminClient) -> None:
    """Pause in the console; a new visitor on the demo page is handed to Anna."""
    await open_tab(browser, "agent", "#agent-status")
    (await shown(browser, "#agent-status button.danger", "the pause button", text="Pause")).click()
    await shown(browser, "#agent-status[data-status=paused_manual]", "the paused status", text="Paused by hand")
    await admin.wait_for_routing("agent_paused")  # the paused configuration has reached routing

    def new_visitor() -> str:
        with visitor(admin.account_id, CHANNEL, "en-US") as page:
            return page.ask_for_handoff("Hello, is anyone there?")

    assert await asyncio.to_thread(new_visitor) == "u-anna took over"
