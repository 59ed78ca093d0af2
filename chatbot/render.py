"""Rendering: ReplyPart facts to text with the Jinja2 templates of `responses/`.

The person's words are only ever data passed to a template, never compiled as one. A clinic can
put its own templates in a folder (`--templates DIR`): they are looked up first and rendered in
Jinja's sandbox, so a template cannot reach into Python, with limits on render time and output
size (chatbot/sandbox.py).
"""
from __future__ import annotations

import os
from datetime import date

import jinja2

from chatbot import cache
from chatbot.knowledge import inventory
from chatbot.knowledge.inventory import TREATMENT_LABELS
from chatbot.understand import CLASS_WORDS

# Answer pieces that speak for one treatment; with both in one answer, each is labelled.
PER_TREATMENT = ("answer", "other_treatment_only", "not_covered", "personal_precaution",
                 "contraindication")
KEY_LABELS = {"alcohol_window": "alcohol within three days of the appointment",
              "pregnant": "pregnant", "breastfeeding": "breastfeeding",
              "allergic": "allergic to the filler's ingredients",
              "blood_thinners": "taking blood-thinning medicines", "supplements": "taking supplements",
              "skincare": "using skincare with actives", "hair_removal": "planning to shave or wax",
              "alcohol": "drinking alcohol before the appointment", "medicines": "taking medicines",
              "prescribed_blood_thinner": "taking a prescribed blood thinner"}


def _bytecode_cache():
    """Compiled templates kept between runs (a one-shot `ask` then skips compiling them)."""
    folder = cache.folder("templates")
    return jinja2.FileSystemBytecodeCache(folder) if folder else None


def treatment_label(treatment: str) -> str:
    return TREATMENT_LABELS.get(treatment, treatment)


def treatment_noun(treatment: str) -> str:
    """The word before "appointment": "Botox appointment", "filler appointment"."""
    return {"botox": "Botox", "fillers": "filler"}.get(treatment, "")


def long_date(value: str | date) -> str:
    """2026-12-04 -> "Friday 4 December 2026"."""
    when = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{when:%A} {when.day} {when:%B %Y}"


def listing(items) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class Renderer:
    """Jinja environment over the built-in templates (and a clinic's own folder, if given)."""

    def __init__(self, templates: str | None = None, clinic: str | None = None,
                 item_label=lambda name: name.replace("_", " "), inline_ids: bool = True):
        import chatbot.responses
        builtin = os.path.dirname(os.path.abspath(chatbot.responses.__file__))
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(builtin)]
        options = dict(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=False,
                       bytecode_cache=_bytecode_cache())
        if templates:
            from chatbot.sandbox import LimitedSandbox  # only for a clinic's own templates
            loaders.insert(0, jinja2.FileSystemLoader(templates))
            # No bytecode cache: code compiled without the sandbox's limits must never be loaded here.
            options["bytecode_cache"] = None
            self.env: jinja2.Environment = LimitedSandbox(loader=jinja2.ChoiceLoader(loaders), **options)
        else:
            self.env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), **options)
        self.env.filters.update(label=treatment_label, long_date=long_date, listing=listing,
                                keylabel=lambda key: KEY_LABELS.get(key, key.replace("_", " ")),
                                item=item_label, noun=treatment_noun)
        self.env.globals.update(who="the client", whose="your client")   # someone else, unnamed
        self.env.globals.update(facts=inventory.facts(), topics=inventory.topics(),
                                key_labels=KEY_LABELS, clinic=clinic or "")
        self.inline_ids = inline_ids

    @property
    def inline_ids(self) -> bool:
        """True (the default, and the JSON `text`): each cited fact is followed by its ID,
        "... bruising more likely. [BTX-ALCOHOL]". False: plain sentences, for a front end that
        shows the reply's `sources` in one line at the end (the terminal)."""
        return self.env.globals["inline_ids"]

    @inline_ids.setter
    def inline_ids(self, value: bool) -> None:
        self.env.globals["inline_ids"] = bool(value)

    def names(self) -> list[str]:
        """Every template's name (without .j2), built-in ones included."""
        return sorted(n[:-3] for n in self.env.list_templates(extensions=["j2"]))

    def part(self, reply: dict, **context) -> str:
        template = self.env.get_template(f"{reply['template']}.j2")
        # a rule's own data wins over the turn's context (a screening question names its `about`)
        return template.render({**context, **reply["data"], "sources": reply["sources"]}).strip()

    def turn(self, replies: list[dict], heard, person: dict, rule_docs: dict, about: str = "self",
             who: str = "") -> str:
        """The whole answer of one turn: the lexicon's mappings, then each piece in order.
        `about`: whom the conversation's check is about ("client": "the client is", not "you are");
        `who`: how someone else is named ("your friend"; "the client" when not said)."""
        several = len({r["data"].get("treatment") for r in replies
                       if r["template"] in PER_TREATMENT
                       and r["data"].get("treatment") in ("botox", "fillers")}) > 1
        context = dict(person=person, rule_docs=rule_docs, several=several, about=about)
        if who:
            context.update(who=who, whose=who)
        parts = [self.part(reply, **context) for reply in replies]
        # Two rules may render the very same paragraph (one fact answering two topics): say it once.
        return self.env.get_template("turn.j2").render(
            parts=list(dict.fromkeys(p for p in parts if p)), mentions=_mappings(heard)).strip()


def _mappings(heard) -> list[dict]:
    """The lexicon's world knowledge used this turn, to be shown ("Advil is ibuprofen, ...")."""
    seen, shown = set(), []
    for mention in heard.mentions:
        if mention.item in seen or mention.negated and mention.kind != "brand":
            continue
        seen.add(mention.item)
        shown.append({"word": mention.word, "item": mention.item, "kind": mention.kind,
                      "says": mention.says, "generic": mention.generic, "label": mention.label,
                      "in_article": mention.in_article})
    return [m for m in shown if not _obvious(m)]


def _obvious(mention: dict) -> bool:
    """A mapping not worth showing: a class word ("supplements"), a word the article itself uses
    ("ibuprofen", "shave"), or a spelling of the label ("gingko")."""
    if mention["kind"] == "brand":
        return False
    if mention["item"] in CLASS_WORDS:
        return True
    word, label = mention["word"].replace(" ", ""), mention["label"].replace(" ", "")
    if mention["in_article"] and (word == label or mention["generic"]):
        return True
    return word != label and _close(word, label)


def _close(a: str, b: str) -> bool:
    from chatbot.lexicon import _edit_distance
    return _edit_distance(a, b, 2) <= 2

