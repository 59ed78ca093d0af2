"""The printable cheat sheet: generated from the knowledge base, faithful, and two pages at most."""
import dataclasses
import html
import html.parser
import io
import os
import re
import shutil
import subprocess

import pytest

from chatbot import cli, handout
from chatbot import lexicon as lexicon_module
from chatbot.environment import Environment
from chatbot.knowledge import inventory

ID = re.compile(r"\[([A-Z]+(?:-[A-Z]+)+)\]")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-pdf-header-footer"]
# What a line of the handout may say instead of citing an ID: that the article says nothing.
SILENT = ("The article does not say", "nothing on", "does not name", "the article does not say")


def run(*argv):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": "2026-11-27"})
    status = cli.main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


@pytest.fixture(scope="module")
def markdown():
    return handout.render("md")


@pytest.fixture(scope="module")
def page():
    return handout.render("html")


def statements(markdown):
    """Every bullet and every table cell of the Markdown handout."""
    for line in markdown.splitlines():
        if line.startswith("- "):
            yield line[2:]
        elif line.startswith("| **"):
            yield from (cell.strip() for cell in line.strip("|").split("|")[1:])


def test_every_statement_cites_an_id_or_says_the_article_is_silent(markdown):
    found = list(statements(markdown))
    assert len(found) > 30
    for text in found:
        assert ID.search(text) or any(mark in text for mark in SILENT), text


def test_every_cited_id_is_an_inventory_fact(markdown, page):
    for text in (markdown, page):
        cited = set(ID.findall(text))
        assert cited and cited <= set(inventory.facts())


def test_markdown_and_html_say_the_same_things(markdown, page):
    assert sorted(ID.findall(markdown)) == sorted(ID.findall(page))
    for heading in re.findall(r"^## (.+)$", markdown, re.MULTILINE):
        assert f"<h2>{html.escape(heading, quote=False)}</h2>" in page


@pytest.mark.parametrize("section", [
    "The two treatments at a glance", "Before the appointment", "Dynamic or static lines",
    "Having both", "What the article does not say: refer to the injector", "What to hand to an injector",
])
def test_the_handout_has_every_section_the_issue_asks_for(markdown, section):
    assert f"## {section}" in markdown


@pytest.mark.parametrize("fact_id", ["BTX-DURATION", "FIL-DURATION", "BTX-COST", "BTX-ALCOHOL",
                                     "FIL-BLOOD-THINNERS", "FIL-SUPPLEMENTS", "FIL-ACTIVES",
                                     "FIL-HAIR-REMOVAL", "FIL-CONTRA", "WRK-DYNAMIC", "WRK-STATIC",
                                     "CMB-ORDER", "CMB-WHY-ORDER", "BTX-HISTORY", "BTX-ORIGIN", "FIL-WHAT"])
def test_the_facts_a_front_desk_needs_are_quoted_with_their_id(markdown, fact_id):
    assert f"{inventory.facts()[fact_id].text} [{fact_id}]" in markdown


def row(markdown, label):
    return next(line for line in markdown.splitlines() if line.startswith(f"| **{label}"))


@pytest.mark.parametrize("label, silent_for", [
    ("Alcohol", "dermal fillers"), ("Blood-thinning medicines", "Botox"), ("Supplements", "Botox"),
    ("Skincare with actives", "Botox"), ("Shaving", "Botox"), ("Pregnancy", "Botox"),
    ("Cost", "dermal fillers"),
])
def test_a_precaution_or_a_price_is_never_stretched_to_the_other_treatment(markdown, label, silent_for):
    botox, fillers = (cell.strip() for cell in row(markdown, label).strip("|").split("|")[1:])
    silent = botox if silent_for == "Botox" else fillers
    assert silent.startswith("The article does not say: refer to the injector.")
    stated = set(ID.findall(fillers if silent_for == "Botox" else botox))
    assert not stated & set(ID.findall(silent))


def test_every_gap_of_the_knowledge_base_is_listed(markdown):
    for topic in inventory.topics().values():
        if topic.gap:
            assert topic.gap in markdown, topic.name


def test_the_handout_names_no_business_and_gives_no_dosage(markdown):
    brands = lexicon_module.load().data["brands"]
    lowered = markdown.lower()
    assert not [brand for brand in brands if re.search(rf"\b{brand}\b", lowered)]
    assert not re.search(r"\b(med ?spa|salon)\b", lowered)
    assert not re.search(r"\d+\s*(units?|ml|mg|syringes?|cc)\b", lowered)


# -- the knowledge base drives the handout ---------------------------------------------------------------
def test_changing_a_fact_changes_the_handout(monkeypatch):
    facts = dict(inventory.facts())
    facts["BTX-DURATION"] = dataclasses.replace(facts["BTX-DURATION"],
                                                text="A Botox session takes 20 to 45 minutes.")
    monkeypatch.setattr(inventory, "facts", lambda: facts)
    for fmt in ("md", "html"):
        text = handout.render(fmt)
        assert "A Botox session takes 20 to 45 minutes." in text
        assert "between 15 and 30 minutes" not in text


def test_a_precaution_stated_for_both_treatments_fills_both_cells(monkeypatch):
    topics = dict(inventory.topics())
    topics["alcohol"] = dataclasses.replace(topics["alcohol"],
                                            sources={"botox": ["BTX-ALCOHOL"], "fillers": ["BTX-ALCOHOL"]})
    monkeypatch.setattr(inventory, "topics", lambda: topics)
    assert "Not stated" not in row(handout.render("md"), "Alcohol")


def test_html_escapes_what_the_facts_say(monkeypatch):
    facts = dict(inventory.facts())
    facts["BTX-NAME"] = dataclasses.replace(facts["BTX-NAME"], text="Botox <script>alert(1)</script> & co.")
    monkeypatch.setattr(inventory, "facts", lambda: facts)
    page = handout.render("html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co." in page


class _Balance(html.parser.HTMLParser):
    VOID = {"meta", "col", "br", "img", "link", "hr", "input"}

    def __init__(self):
        super().__init__()
        self.open, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.errors.append(tag)


def test_the_html_is_well_formed_and_has_print_css(page):
    parser = _Balance()
    parser.feed(page)
    assert parser.errors == [] and parser.open == []
    assert "@page" in page and "break-inside: avoid" in page


# -- the command ------------------------------------------------------------------------------------------
def test_the_command_prints_markdown_by_default():
    status, out, err = run("handout")
    assert status == 0 and out.startswith("# Botox and dermal fillers") and err == ""
    assert "Friday 27 November 2026" in out


def test_the_command_writes_html_to_a_file(tmp_path):
    target = tmp_path / "handout.html"
    status, out, err = run("handout", "--format", "html", "-o", str(target))
    assert status == 0 and out == ""
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert str(target) in err


@pytest.mark.parametrize("target", ["missing-folder/handout.md", "."])
def test_an_unwritable_output_is_one_clear_line(tmp_path, target):
    status, out, err = run("handout", "-o", str(tmp_path / target))
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("chatbot: cannot write the handout")


def test_a_bad_format_is_a_usage_error():
    status, _, err = run("handout", "--format", "pdf")
    assert status == 2 and len(err.strip().splitlines()) == 1


# -- printing ------------------------------------------------------------------------------------------------
def pages(pdf: bytes) -> int:
    """Page objects in a PDF (`/Type /Page`, not the `/Pages` tree nodes)."""
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


def test_page_counting_ignores_the_page_tree():
    assert pages(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page >>") == 2


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI to check that the handout prints on two pages")
        pytest.skip("chromium is not installed")
    return CHROMIUM


@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_the_handout_prints_on_two_pages_at_most(chromium, page, tmp_path, paper):
    source = tmp_path / f"handout-{paper}.html"
    # The handout leaves the paper size to the printer; here each size is forced in turn.
    source.write_text(page.replace("</style>", f"@page {{ size: {paper}; }}</style>"), encoding="utf-8")
    pdf = tmp_path / f"handout-{paper}.pdf"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--print-to-pdf={pdf}", source.as_uri()],
                   check=True, capture_output=True, timeout=120)
    count = pages(pdf.read_bytes())
    assert 1 <= count <= 2


# -- what staff misread (issue 13) ---------------------------------------------------------------------
def test_every_fact_of_the_knowledge_base_is_on_the_handout(markdown):
    for fact_id, entry in inventory.facts().items():
        assert f"{entry.text} [{fact_id}]" in markdown, fact_id


def test_the_toxin_danger_is_stated_in_the_overview(markdown):
    assert "[BTX-DANGER]" in row(markdown, "Safety")


def test_silence_is_said_as_refer_to_the_injector_never_as_a_rule_not_to_carry_over(markdown, page):
    for text in (markdown, page):
        assert "carry the" not in text and "rule over" not in text
        assert "Nearest:" not in text


def test_no_id_stands_without_words(markdown):
    """Every [ID] follows the fact's own sentence or at least its topic in words, never a bare list."""
    for line in markdown.splitlines():
        bare = re.search(r"(?:^|[:|(]\s*)(\[[A-Z]+(?:-[A-Z]+)+\])", line)
        assert not bare, f"bare ID {bare.group(1)} in: {line}"
        assert not re.search(r"\] \[", line), line


def test_the_line_on_things_the_article_does_not_name_reads_as_a_sentence(markdown):
    line = next(line for line in markdown.splitlines() if "that the article does not name" in line)
    assert "here a blood thinner" not in line and "food, not a supplement" not in line
    assert line.startswith("- Medicines") and "the injector decides" in line


def test_html_escaping_never_leaks_into_the_markdown_through_the_template_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CHATBOT_CACHE_DIR", str(tmp_path / "cache"))
    handout.render("html")
    assert "&#39;" not in handout.render("md") and "&amp;" not in handout.render("md")


# -- the one-page wall sheet -------------------------------------------------------------------------------
PDFINFO = shutil.which("pdfinfo")


@pytest.fixture(scope="module")
def wall_page():
    return handout.render("html", wall_sheet=True)


@pytest.fixture(scope="module")
def wall_md():
    return handout.render("md", wall_sheet=True)


def test_the_wall_sheet_opens_with_whom_never_to_reassure(wall_md):
    box = wall_md.split("## ")[0]
    assert "Never reassure: refer to the injector" in box
    for words in ("pregnant", "breastfeeding", "allergic to what the filler is made of", "Urgent symptoms"):
        assert words in box


def test_the_wall_sheet_has_the_precautions_per_treatment_in_one_table(wall_md):
    assert wall_md.count("| Botox | Dermal fillers |") == 1
    alcohol = row(wall_md, "Alcohol")
    assert inventory.facts()["BTX-ALCOHOL"].text in alcohol
    assert alcohol.rstrip(" |").endswith("**The article does not say: refer to the injector.**")
    for label in ("Blood-thinning medicines", "Supplements", "Skincare with actives", "Pregnancy"):
        botox = row(wall_md, label).strip("|").split("|")[1]
        assert botox.strip().startswith("**The article does not say: refer to the injector.**")


def test_the_wall_sheet_says_which_treatment_for_which_lines(wall_md):
    assert "- Lines that come with movement -> Botox" in wall_md
    assert "- Lines there at rest, or lost volume -> dermal fillers" in wall_md
    assert "- Both kinds -> Botox first, then dermal fillers" in wall_md


def test_the_wall_sheet_keeps_the_ids_in_its_footer(wall_md, wall_page):
    body, footer = wall_md.split("\n---\n")
    assert not ID.search(body) and not re.search(r"\b[A-Z]{3}-[A-Z]+", body)
    cited = re.findall(r"\b[A-Z]{3}-[A-Z-]*[A-Z]\b", footer)
    assert cited and set(cited) <= set(inventory.facts())
    assert {"BTX-ALCOHOL", "FIL-CONTRA", "WRK-DYNAMIC", "WRK-STATIC", "CMB-ORDER"} <= set(cited)
    page_body = wall_page.split("<footer>")[0]
    assert not re.search(r"\b[A-Z]{3}-[A-Z]+", page_body.split("</style>")[1])


def test_the_wall_sheet_is_in_large_type(wall_page):
    size = float(re.search(r"html \{ font: ([\d.]+)pt", wall_page).group(1))
    assert size >= 11


def test_the_wall_command_writes_the_sheet(tmp_path):
    target = tmp_path / "wall.html"
    status, _, err = run("handout", "--wall", "--format", "html", "-o", str(target))
    assert status == 0 and str(target) in err
    assert "Never reassure" in target.read_text(encoding="utf-8")
    status, out, _ = run("handout", "--wall")
    assert status == 0 and out.startswith("# Front desk")


@pytest.fixture
def pdfinfo():
    if PDFINFO is None:
        if os.environ.get("CI"):
            pytest.fail("pdfinfo (poppler-utils) is required in CI to count the wall sheet's pages")
        pytest.skip("pdfinfo is not installed")
    return PDFINFO


@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_the_wall_sheet_prints_on_one_page(chromium, pdfinfo, wall_page, tmp_path, paper):
    source = tmp_path / f"wall-{paper}.html"
    source.write_text(wall_page.replace("</style>", f"@page {{ size: {paper}; }}</style>"), encoding="utf-8")
    pdf = tmp_path / f"wall-{paper}.pdf"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--print-to-pdf={pdf}", source.as_uri()],
                   check=True, capture_output=True, timeout=120)
    info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True, timeout=60).stdout
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE), info
    assert pages(pdf.read_bytes()) == 1
