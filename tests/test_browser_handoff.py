"""Both pages at once in Debian's Chromium: a person asks for a human on the chat page, a staff
member claims the conversation on /staff, replies, the person sees it without reloading, staff
resolves, and the bot answers again. Two browser contexts, one real `python -m chatbot serve`."""
import pytest
from test_browser import WAIT_MS, _serve, _stop, ask, browser  # noqa: F401 (browser: a fixture)

STAFF_KEY = "front-desk-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process, url = _serve(tmp_path_factory.mktemp("handoff"), environ={"CHATBOT_STAFF_KEY": STAFF_KEY})
    yield url
    _stop(process)


def _open(browser, url, problems, **context_options):  # noqa: F811
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(url)
    page.wait_for_selector("body.ready")
    return context, page


def test_staff_claim_reply_and_resolve_while_the_person_watches(browser, server):  # noqa: F811
    problems = []
    person_context, person = _open(browser, server + "/", problems)
    staff_context, staff = _open(browser, server + "/staff", problems,
                                 http_credentials={"username": "Ana", "password": STAFF_KEY})
    try:
        ask(person, "can I speak to someone?")
        person.wait_for_selector("#handoff", state="visible")

        staff.fill("#staff-name", "Ana")
        entry = staff.locator("#queue button[data-id]").first
        entry.wait_for()
        assert "Waiting" in entry.text_content()
        entry.focus()
        staff.keyboard.press("Enter")                       # the queue works from the keyboard
        staff.locator("#log .message.user", has_text="can I speak to someone?").wait_for()
        staff.click("#claim")
        staff.locator("#state", has_text="Claimed by Ana").wait_for()
        staff.fill("#reply-text", "Hello, I'm Ana from the clinic. How can I help?")
        staff.press("#reply-text", "Enter")

        said = person.locator(".message.staff", has_text="Hello, I'm Ana from the clinic.")
        said.wait_for()                                     # no reload: it arrives by itself
        assert "Ana" in said.locator(".who-said").text_content()
        person.locator("#staff-status", has_text="Ana from the clinic has joined").wait_for()

        answers = person.locator(".message.bot:not(.intro)").count()
        person.fill("#text", "Can I take ibuprofen before fillers?")
        person.press("#text", "Enter")                      # the bot keeps quiet: Ana answers
        staff.locator("#log .message.user", has_text="ibuprofen").wait_for()
        person.locator(".message.bot.pending").wait_for(state="detached")
        assert person.locator(".message.bot:not(.intro)").count() == answers

        staff.click("#resolve")
        staff.locator("#state", has_text="Resolved").wait_for()
        person.locator("#staff-status", has_text="finished").wait_for()
        answer = ask(person, "How long does Botox take?")
        assert "Botox" in answer.text_content()

        person.reload()                                     # and all of it survives a reload
        person.wait_for_selector("body.ready")
        person.locator(".message.staff", has_text="Hello, I'm Ana").wait_for()
        assert person.locator("#handoff").is_visible()
    finally:
        person_context.close()
        staff_context.close()
    assert not problems, problems


def test_the_staff_page_needs_the_staff_key(browser, server):  # noqa: F811
    context = browser.new_context(http_credentials={"username": "Ana", "password": "wrong"})
    try:
        response = context.new_page().goto(server + "/staff")
        assert response.status == 401
    finally:
        context.close()


def test_with_ask_contact_a_person_may_leave_details_that_staff_then_see(browser, tmp_path):  # noqa: F811
    process, url = _serve(tmp_path, "--ask-contact")
    problems = []
    try:
        person_context, person = _open(browser, url + "/", problems)
        staff_context, staff = _open(browser, url + "/staff", problems)
        ask(person, "can I speak to someone?")
        person.wait_for_selector("#contact", state="visible")
        person.fill("#contact-name", "Rosa")
        person.fill("#contact-phone", "+44 20 7946 0000")
        person.click("#contact button[type=submit]")         # no consent yet: the browser asks for it
        assert person.locator("#contact-done").is_hidden()
        person.check("#contact-consent")
        person.click("#contact button[type=submit]")
        person.wait_for_selector("#contact-done", state="visible")
        assert person.locator("#contact").is_hidden()

        staff.locator("#queue button[data-id]").first.click()
        staff.locator("#contact", has_text="Rosa · +44 20 7946 0000").wait_for()
        person.reload()                                        # given once: not offered again
        person.wait_for_selector("body.ready")
        person.wait_for_selector("#handoff", state="visible")
        assert person.locator("#contact").is_hidden()
        person_context.close()
        staff_context.close()
    finally:
        _stop(process)
    assert not problems, problems
