"""The web chat page end to end: `python -m chatbot serve` and headless Chromium (Debian's package).

Playwright drives the system browser through `executable_path`; no browser is ever downloaded.
Without /usr/bin/chromium these tests skip, except under CI (CI set), where they fail: .ci/run
installs the package.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CLINIC = "Clinic <Rosa> & Co"
WAIT_MS = 20_000   # the longest any step may take, on a slow 2-core CI machine


def _need(condition: bool, why: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must have it: .ci/run installs chromium)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    _need(os.path.exists(CHROMIUM), f"no {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "no Playwright for Python (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _serve(folder, *options, environ=None):
    """A real `python -m chatbot serve` on a free loopback port; returns (process, url)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in os.environ.items() if name != "CHATBOT_API_KEY"}
    env.update({"CHATBOT_TODAY": "2026-11-27", **(environ or {})})
    with open(folder / f"server-{port}.log", "w") as log:   # the child keeps its own copy
        process = subprocess.Popen([sys.executable, "-m", "chatbot", "serve", "--port", str(port),
                                    "--db", str(folder / f"s{port}.sqlite3"), "--clinic", CLINIC, *options],
                                   cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    _stop(process)
    raise AssertionError(f"the server did not start: see {log.name}")


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process, url = _serve(tmp_path_factory.mktemp("browser"))
    yield url
    _stop(process)


@pytest.fixture
def page(browser, server):
    """A fresh page (its own sessionStorage) on the chat; fails the test on any script error."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(server + "/")
    page.wait_for_selector("body.ready")
    yield page
    context.close()
    assert not problems, problems   # a CSP violation or a script error shows up here


def ask(page, text):
    """Type a message, press Enter, wait for the answer; return the answer's element."""
    answers = page.locator(".message.bot:not(.intro)")
    before = answers.count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    return _next_answer(page, before)


def _next_answer(page, before):
    # A locator wait, not wait_for_function: the page's CSP forbids the eval a polled predicate needs.
    page.locator(".message.bot:not(.intro):not(.pending)").nth(before).wait_for()
    return page.locator(".message.bot:not(.intro)").nth(before)


def click_quick_reply(page, label):
    before = page.locator(".message.bot:not(.intro)").count()
    page.get_by_role("button", name=label, exact=True).click()
    return _next_answer(page, before)


def test_the_page_shows_the_clinic_name_as_text(page):
    assert page.locator("h1").text_content() == CLINIC
    assert page.title().startswith(CLINIC)
    assert page.locator("rosa").count() == 0


def test_a_question_gets_an_answer_and_its_sources_on_demand(page):
    answer = ask(page, "How long does Botox take?")
    assert re.search(r"15.+30 minutes", answer.locator(".text").text_content())
    sources = answer.locator("details.sources")
    assert sources.locator("summary").text_content() == "Sources (1)"
    item = sources.locator("li").first
    assert not item.is_visible()                                   # on demand: closed at first
    sources.locator("summary").click()
    assert item.locator("code").text_content() == "BTX-DURATION"
    item.locator(".source-text", has_text="minutes").wait_for()   # fetched on demand
    assert page.locator("#quick").is_hidden()


def test_follow_up_questions_get_quick_replies_and_a_handoff_shows_the_banner(page):
    banner = page.locator("#handoff")
    first = ask(page, "I'm booked for fillers on 2026-12-04")
    assert "pregnant" in first.text_content()
    assert page.locator("#quick").is_visible() and banner.is_hidden()

    second = click_quick_reply(page, "No")
    assert page.locator(".message.user").last.text_content() == "no"
    assert "breastfeeding" in second.text_content()
    assert banner.is_hidden()

    stop = click_quick_reply(page, "Yes")
    assert "not advisable" in stop.text_content()
    assert banner.is_visible()
    assert "licensed injector" in banner.text_content() and CLINIC in banner.text_content()
    assert "handoff" in stop.get_attribute("class")


def test_a_did_you_mean_question_offers_its_topics_as_buttons(page):
    ask(page, "how many sessions will i need")
    assert page.locator("#choices").is_visible() and page.locator("#quick").is_hidden()
    offered = page.locator("#choices button")
    assert offered.count() == 3
    answer = click_quick_reply(page, "how long the appointment takes")
    assert re.search(r"10 minutes", answer.locator(".text").text_content())
    assert page.locator("#choices").is_hidden()


def test_message_text_is_never_rendered_as_html(page):
    attack = '<img src=x onerror="window.pwned = 1"><b>bold</b><script>window.pwned = 2</script>'
    ask(page, attack)
    assert page.locator(".message.user").last.locator(".text").text_content() == attack
    assert page.locator("#log img, #log b, #log script").count() == 0
    assert page.evaluate("window.pwned") is None


def test_a_reload_keeps_the_conversation_and_new_conversation_starts_afresh(page):
    ask(page, "I take Advil")
    page.reload()
    page.wait_for_selector("body.ready")
    page.locator(".message.user").first.wait_for()   # the conversation so far, redrawn
    assert page.locator(".message.user").count() == 1
    assert page.locator(".message.user").text_content() == "I take Advil"
    old_session = page.evaluate("sessionStorage.getItem('chatbot.session')")

    page.get_by_role("button", name="New conversation").click()
    page.get_by_role("button", name="Keep it and start afresh").click()
    # Wait with a locator, not wait_for_function: the page's CSP (no eval) blocks polled predicates.
    page.locator(".message:not(.intro)").first.wait_for(state="detached")
    answer = ask(page, "what do you know about me")
    assert "ibuprofen" not in answer.text_content()
    assert page.evaluate("sessionStorage.getItem('chatbot.session')") != old_session


def test_with_an_api_key_the_page_asks_for_it(browser, tmp_path):
    process, url = _serve(tmp_path, environ={"CHATBOT_API_KEY": "desk-key"})
    try:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url + "/")
        page.wait_for_selector("body.ready")
        page.fill("#text", "hello")
        page.press("#text", "Enter")
        page.wait_for_selector("#key", state="visible")
        assert page.input_value("#text") == "hello"                # nothing typed is lost
        page.fill("#key-value", "desk-key")
        page.click("#key button")
        page.wait_for_selector("#key", state="hidden")
        answer = ask(page, page.input_value("#text"))
        assert "Hello" in answer.text_content()
        page.close()
    finally:
        _stop(process)


# -- the page's defects of issue 12 ------------------------------------------------------------------
PHONE = {"width": 360, "height": 640}


@pytest.fixture
def phone(browser, server):
    """The chat on a phone-sized screen."""
    context = browser.new_context(viewport=PHONE, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(server + "/")
    page.wait_for_selector("body.ready")
    yield page
    context.close()


def _bottom(locator) -> float:
    box = locator.bounding_box()
    return box["y"] + box["height"]


def test_the_newest_answer_is_never_under_the_message_box(phone):
    for text in ("How long does Botox take?", "Can I take ibuprofen before fillers?",
                 "which comes first, Botox or fillers?", "I'm booked for fillers on 2026-12-04"):
        answer = ask(phone, text)
        composer_top = phone.locator("#composer").bounding_box()["y"]
        assert _bottom(answer) <= composer_top + 1, text
    assert phone.locator("#quick").is_visible()   # the question the Yes/No buttons answer is in sight
    answer = click_quick_reply(phone, "No")
    assert _bottom(answer) <= phone.locator("#composer").bounding_box()["y"] + 1


def test_a_reload_keeps_sources_quick_replies_and_the_handoff_banner(page):
    first = ask(page, "I'm booked for fillers on 2026-12-04")
    sources = first.locator("summary").text_content()
    page.reload()
    page.wait_for_selector("body.ready")
    page.locator("#quick").wait_for()                          # the open question's quick replies
    assert page.locator(".message.bot:not(.intro) summary").first.text_content() == sources
    assert page.locator("#handoff").is_hidden()

    click_quick_reply(page, "Yes")
    assert page.locator("#handoff").is_visible()
    page.reload()
    page.wait_for_selector("body.ready")
    page.locator("#handoff").wait_for()                        # the banner, after the reload too
    assert "handoff" in page.locator(".message.bot:not(.intro)").last.get_attribute("class")


def _luminance(rgb: str) -> float:
    channels = [int(value) / 255 for value in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_message_box_border_and_focus_ring_contrast_at_least_3_to_1(page):
    style = "([selector, name]) => getComputedStyle(document.querySelector(selector))[name]"
    page.focus("#text")
    border = page.evaluate(style, ["#text", "borderTopColor"])
    ring = page.evaluate(style, ["#text", "outlineColor"])
    assert page.evaluate(style, ["#text", "outlineStyle"]) == "solid"
    inside = page.evaluate(style, ["#text", "backgroundColor"])
    around = page.evaluate(style, ["#composer", "backgroundColor"])
    for colour in (border, ring):
        assert contrast(colour, inside) >= 3 and contrast(colour, around) >= 3, colour


def test_new_conversation_can_delete_the_old_one_from_the_server(page, server):
    ask(page, "I take Advil")
    old = page.evaluate("sessionStorage.getItem('chatbot.session')")
    page.get_by_role("button", name="New conversation").click()
    page.get_by_role("button", name="Delete it and start afresh").click()
    page.locator(".message:not(.intro)").first.wait_for(state="detached")
    deadline = time.monotonic() + WAIT_MS / 1000
    while httpx.get(f"{server}/v1/sessions/{old}").status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{server}/v1/sessions/{old}").status_code == 404
    assert page.locator("#problem").is_hidden()


def test_new_conversation_can_keep_the_old_one_or_be_cancelled(page, server):
    ask(page, "I take Advil")
    old = page.evaluate("sessionStorage.getItem('chatbot.session')")
    page.get_by_role("button", name="New conversation").click()
    page.get_by_role("button", name="Cancel").click()
    assert page.locator("#restart-choice").is_hidden() and page.locator(".message.user").count() == 1
    page.get_by_role("button", name="New conversation").click()
    page.get_by_role("button", name="Keep it and start afresh").click()
    page.locator(".message:not(.intro)").first.wait_for(state="detached")
    assert httpx.get(f"{server}/v1/sessions/{old}").status_code == 200


def test_the_placeholder_fits_the_message_box_on_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 320, "height": 568})
    page = context.new_page()
    page.goto(server + "/")
    page.wait_for_selector("body.ready")
    width, room = page.evaluate("""() => {
        const box = document.getElementById("text");
        const style = getComputedStyle(box);
        const pen = document.createElement("canvas").getContext("2d");
        pen.font = style.font;
        return [pen.measureText(box.placeholder).width,
                box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)];
    }""")
    context.close()
    assert width <= room, f"the placeholder needs {width:.0f} px, the box has {room:.0f}"
