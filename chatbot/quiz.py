"""The staff-training quiz: multiple-choice questions generated from the knowledge base.

Nothing here is a hand-written question. Each kind of question walks the data (the inventory's
facts and figures, the topic coverage per treatment, the lexicon's items and face areas) and
derives its right answer the way the rules derive the chatbot's reply: a precaution holds only for
the treatment it is stated for, a topic the article is silent on goes to a licensed injector.
Every question also carries what a client would say to the chatbot in that situation (`probe`) and
what the chatbot must then reply (`expect`), so a test can check that the two always agree.

Wording lives in `responses/quiz_*.j2`; this module generates, picks, asks, grades and scores.
"""
from __future__ import annotations

import difflib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatbot import lexicon as lexicon_module
from chatbot.environment import Environment
from chatbot.knowledge import inventory
from chatbot.lexicon import _edit_distance, normalise
from chatbot.output import deliver
from chatbot.render import Renderer
from chatbot.status import ExitStatus

TREATMENTS = ("botox", "fillers")
KINDS = ("figure", "fact", "precaution", "scope", "combining")
TOPICS = ("botox", "fillers", "combining", "precautions")
LETTERS = "abcdefgh"

# Which lexicon items a client may name for a precaution topic (kind of item in lexicon.toml).
ITEM_KINDS = {"medicines": "medicine", "supplements": "supplement", "skincare": "skincare",
              "hair_removal": "hair_removal"}
# CMB-ORDER: Botox goes first. The inventory states the order in words only, so it is named here
# (the rule recommend_both_botox_first does the same).
FIRST = "botox"
# Face areas that call for volume rather than lines (knowledge/reasoning.toml, as the rules read it).
VOLUME_AREAS = tuple(inventory.reasoning()["volume"]["areas"])
# How a fact names the treatments, for blanking them out ("___ are gels, made mostly of ...").
_NAMES = {"botox": re.compile(r"\bbotox\b", re.IGNORECASE),
          "fillers": re.compile(r"\b(?:dermal\s+)?fillers?\b", re.IGNORECASE)}
BLANK = "___"
# After a blank, a verb that agrees with "Botox" (singular) or "fillers" (plural) would give the
# answer away ("___ is a neurotoxin", "___ are gels"): it is shown in both forms instead.
_AGREEING = {"is": "is/are", "are": "is/are", "has": "has/have", "have": "has/have",
             "was": "was/were", "were": "was/were", "does": "does/do", "do": "does/do"}
_PLURAL_VERBS = ("need", "give", "make", "work", "last", "take", "come", "cost", "add", "look")
_AFTER_BLANK = re.compile(re.escape(BLANK) + r" (\w+)")


@dataclass(frozen=True)
class QuizQuestion:
    """One generated question, its right answer and what the chatbot says in the same situation."""

    kind: str                   # one of KINDS
    subject: tuple              # what it tests, e.g. ("alcohol", "fillers"): one per quiz if possible
    tags: tuple[str, ...]       # the --topic values it belongs to
    review: str                 # how the score names it when it is missed
    text: str
    choices: tuple[str, ...]
    answer: int                 # index of the right choice
    explanation: str            # one line, with the inventory IDs in brackets
    sources: tuple[str, ...]    # the inventory IDs the right answer rests on
    probe: tuple[str, ...]      # what a client would say to the chatbot, message by message
    expect: dict = field(default_factory=dict)   # the chatbot's reply: scope, handoff (, intent)

    @property
    def right(self) -> str:
        """The right answer as shown: "b) 15 to 30 minutes"."""
        return f"{LETTERS[self.answer]}) {self.choices[self.answer]}"


@dataclass
class Quiz:
    """The questions picked for one run, and the seed that reproduces them."""

    questions: list[QuizQuestion]
    available: int              # how many distinct questions the topic has
    seed: int


# -- generating -----------------------------------------------------------------------------------
class Bank:
    """Builds every question the knowledge base supports, in a reproducible order for one seed.

    The role-play (chatbot/roleplay.py) uses its client lines and items too, so a client says
    the same words in both.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.facts = inventory.facts()
        self.topics = inventory.topics()
        self.lexicon = lexicon_module.load().data
        self.env = Renderer().env

    def render(self, name: str, **data) -> str:
        text = self.env.get_template(f"quiz_{name}.j2").render(facts=self.facts, topics=self.topics,
                                                               **data)
        return " ".join(text.split())

    def all(self) -> list[QuizQuestion]:
        return self.merged([q for kind in KINDS for q in getattr(self, kind)() if q is not None])

    def merged(self, questions: list[QuizQuestion]) -> list[QuizQuestion]:
        """One question per right answer: questions whose right option and leading fact are the
        same (a precaution asked or told, three lines that all move) test one thing, so one of
        them, picked by the seed, stays, in the place of the first."""
        groups: dict[tuple, list[QuizQuestion]] = {}
        for question in questions:
            key = (question.choices[question.answer],
                   question.sources[:1] if question.kind == "combining" else ())
            groups.setdefault(key, []).append(question)
        return [self.rng.choice(group) for group in groups.values()]

    # -- helpers ----------------------------------------------------------------------------------
    def line(self, form: str, topic: str = "", treatment: str = "", item: dict | None = None,
             areas: Sequence[str] = ()) -> str:
        """What a client says; "" when the templates have no line for it (no question then)."""
        return self.render("client", form=form, topic=topic, treatment=treatment, item=item,
                           areas=list(areas))

    def question(self, kind, subject, tags, review, text, options, explanation, sources, probe,
                 expect) -> QuizQuestion:
        """Shuffle the options (the first is the right one) and freeze the question."""
        options = list(dict.fromkeys(o for o in options if o))
        right = options[0]
        self.rng.shuffle(options)
        return QuizQuestion(kind=kind, subject=subject, tags=tuple(tags), review=review, text=text,
                        choices=tuple(options), answer=options.index(right),
                        explanation=explanation, sources=tuple(sources), probe=tuple(probe),
                        expect=expect)

    def choice(self, claim: str, **data) -> str:
        return self.render("choice", claim=claim, **data)

    def review(self, topic: str, treatment: str) -> str:
        label = self.topics[topic].label
        return f"{label} ({inventory.TREATMENT_LABELS[treatment]})" if treatment in TREATMENTS else label

    def covered(self, topic: str, treatment: str) -> list[str]:
        return list(self.topics[topic].sources.get(treatment, []))

    def masked(self, fact_id: str) -> str:
        """A fact with the treatment names blanked out, and no verb after a blank that tells
        singular Botox from plural fillers."""
        text = self.facts[fact_id].text
        for pattern in _NAMES.values():
            text = pattern.sub(BLANK, text)

        def neutral(match: re.Match) -> str:
            word = match.group(1)
            if word.lower() in _AGREEING:
                word = _AGREEING[word.lower()]
            elif word.lower() in _PLURAL_VERBS:
                word = f"{word}(s)"
            elif word.lower().rstrip("s") in _PLURAL_VERBS + ("stop",) and word.endswith("s"):
                word = f"{word[:-1]}(s)"
            return f"{BLANK} {word}"
        return _AFTER_BLANK.sub(neutral, text)

    def descriptive(self, fact_id: str) -> bool:
        """A fact that says what a treatment is or does: no precaution and no figure."""
        listed = self.topics.get("precautions")   # every before-the-appointment fact, in one topic
        chosen = [listed] if listed else [t for t in self.topics.values() if t.precaution]
        precautions = {i for topic in chosen for ids in topic.sources.values() for i in ids}
        return fact_id not in precautions and self.figure_of(fact_id) is None

    def blankable(self, fact_id: str, treatment: str) -> bool:
        """A fact stated for `treatment` that names no other treatment (so a blank hides only it)."""
        entry = self.facts[fact_id]
        return entry.treatment == treatment and not any(
            pattern.search(entry.text) for name, pattern in _NAMES.items() if name != treatment)

    def figure_of(self, fact_id: str) -> dict | None:
        """A fact's figure as {unit, min, max}, from its `detail` (minutes_min, usd_max...)."""
        detail = self.facts[fact_id].detail
        units = [key[:-4] for key in detail if key.endswith("_min")]
        if not units:
            return None
        unit = units[0]
        return {"unit": unit, "min": detail[f"{unit}_min"], "max": detail.get(f"{unit}_max")}

    def figure_topics(self) -> list[str]:
        return [name for name, topic in self.topics.items()
                if any(self.figure_of(i) for ids in topic.sources.values() for i in ids)]

    def items(self, topic: str) -> list[dict]:
        """The lexicon items a client may name for a precaution topic, each with one word for it."""
        kind = ITEM_KINDS.get(topic)
        if kind is None:
            return [None]
        categories = self.lexicon["categories"]
        found = []
        for key, entry in self.lexicon["items"].items():
            category = categories[entry["category"]]
            if entry["kind"] != kind or not category["listed"] or (
                    entry.get("generic") and kind != "hair_removal"):
                continue
            label = entry.get("label", key.replace("_", " "))
            # Medicines are often named by brand (Advil is ibuprofen); other items by their label.
            brands = _other_names(entry["words"], label) if kind == "medicine" else []
            found.append({"key": key, "label": label, "kind": kind, "says": category["says"],
                          "words": [label] + brands})
        return found

    def pick_item(self, topic: str) -> dict | None:
        item = self.rng.choice(self.items(topic))
        if item is None:
            return None
        word = self.rng.choice(item["words"])
        return dict(item, word=word if word == item["label"] else word.capitalize())

    def other_facts(self, treatment: str, exclude: Sequence[str], first: Sequence[str] = (),
                    figures_first: bool = False, descriptive: bool = False) -> list[str]:
        """Facts stated for `treatment` that could be blanked, `first` ones leading, the rest
        shuffled; `descriptive`: only facts of the same kind as "what it is" (no precaution, no
        figure), so that a wrong option cannot be ruled out by its kind alone."""
        pool = [i for i in self.facts if self.blankable(i, treatment) and i not in exclude
                and (not descriptive or self.descriptive(i))]
        self.rng.shuffle(pool)
        if figures_first:
            pool.sort(key=lambda i: self.figure_of(i) is None)
        lead = [i for i in first if i in pool]
        return lead + [i for i in pool if i not in lead]

    # -- figures: session times, cost, days without alcohol ---------------------------------------
    def figure(self) -> list[QuizQuestion]:
        """"How long does Botox take?": the figure of the fact that answers it, or none at all."""
        questions = []
        everything = [(i, self.figure_of(i)) for i in self.facts if self.figure_of(i)]
        for topic_name in self.figure_topics():
            topic = self.topics[topic_name]
            for treatment in TREATMENTS:
                other = _other(treatment)
                line = self.line("figure", topic_name, treatment)
                if not line:
                    continue
                own = [i for i in self.covered(topic_name, treatment) if self.figure_of(i)]
                theirs = [i for i in self.covered(topic_name, other) if self.figure_of(i)]
                none = self.choice("no_figure", treatment=treatment, topic=topic_name)
                if own:
                    right = self.choice("figure", figure=self.figure_of(own[0]))
                    sources, scope, handoff = own[:1], "answered", False
                else:
                    right, sources, scope, handoff = none, theirs, "partial", True
                figure = self.figure_of((own or theirs)[0])
                others = [i for i, f in everything if i not in own and f["unit"] == figure["unit"]]
                self.rng.shuffle(others)
                options = [right, none] + [self.choice("figure", figure=self.figure_of(i))
                                           for i in others]
                options += [self.choice("figure", figure=f) for f in _variants(figure)]
                options = list(dict.fromkeys(options))[:4]
                explanation = self.render("explanation", kind="figure", topic=topic_name,
                                          treatment=treatment, other=other, sources=sources,
                                          figure=self.figure_of(own[0]) if own else None)
                tags = [treatment] + (["precautions"] if topic.precaution else [])
                questions.append(self.question(
                    "figure", (topic_name, treatment, "figure"), tags,
                    self.review(topic_name, treatment),
                    self.render("question", kind="figure", line=line), options, explanation,
                    sources, [line], {"scope": scope, "handoff": handoff}))
        return questions

    # -- facts: which statement answers the client (treatment names blanked out) ------------------
    def fact(self) -> list[QuizQuestion]:
        questions = []
        skip = set(self.figure_topics())
        for topic_name, topic in self.topics.items():
            if topic.precaution or topic.gap or topic_name in skip:
                continue
            for treatment in TREATMENTS:
                sources = self.covered(topic_name, treatment)
                primary = [i for i in sources if self.blankable(i, treatment)]
                line = self.line("ask", topic_name, treatment)
                if not primary or not line:
                    continue
                other = _other(treatment)
                theirs = [i for i in self.covered(topic_name, other) if self.blankable(i, other)]
                wrong = self.other_facts(other, exclude=sources, first=theirs[:1],
                                         descriptive=True)[:3]
                if len(wrong) < 2:
                    continue
                options = [self.masked(primary[0])] + [self.masked(i) for i in wrong]
                explanation = self.render("explanation", kind="fact", topic=topic_name,
                                          treatment=treatment, primary=primary[0], sources=sources)
                questions.append(self.question(
                    "fact", (topic_name, treatment), [treatment], self.review(topic_name, treatment),
                    self.render("question", kind="fact", line=line), options, explanation, sources,
                    [line], {"scope": "answered", "handoff": False}))
        return questions + [question for question in [self.lunchtime()] if question]

    def lunchtime(self) -> QuizQuestion | None:
        """"Which treatment is the lunchtime facelift?": the treatment the topic implies."""
        topic = self.topics.get("lunchtime")
        line = self.line("lunchtime")
        if topic is None or not topic.implies or not line:
            return None
        treatment = topic.implies
        sources = [i for i in self.covered("lunchtime", treatment) if self.figure_of(i) is None][:1]
        if not sources:
            return None
        second = _other(FIRST)
        options = [self.choice("treatment", treatment=treatment),
                   self.choice("treatment", treatment=_other(treatment)),
                   self.choice("both", first=FIRST, second=second), self.choice("neither")]
        explanation = self.render("explanation", kind="lunchtime", sources=sources)
        return self.question(
            "fact", ("lunchtime", treatment), [treatment], self.review("lunchtime", treatment),
            self.render("question", kind="lunchtime", line=line), options, explanation, sources,
            [line], {"scope": "answered", "handoff": False})

    # -- precautions: a client asks, or tells the front desk about themselves -----------------------
    def precaution(self) -> list[QuizQuestion]:
        questions = [self._prescribed()]
        for topic_name, topic in self.topics.items():
            if not topic.precaution:
                continue
            for treatment in TREATMENTS:
                for form in ("ask", "told"):
                    question = self._precaution(topic_name, topic, treatment, form)
                    if question is not None:
                        questions.append(question)
        return questions

    def _prescribed(self) -> QuizQuestion | None:
        """A client booked for fillers takes a prescribed blood thinner (warfarin): the article's
        advice is about over-the-counter ones, and nobody stops a prescribed medicine alone."""
        treatment, topic_name = "fillers", "medicines"
        stated = self.covered(topic_name, treatment)
        items = self._prescribed_items()
        if not stated or not items:
            return None
        item = self.rng.choice(items)
        item = dict(item, word=self.rng.choice(item["words"]))
        line = self.line("told", topic_name, treatment, item)
        data = dict(treatment=treatment, other="botox", topic=topic_name, stated=stated, related=[],
                    item=item)
        options = [self.choice("prescribed", **data), self.choice("stop_it", **data),
                   self.choice("fine", **data), self.choice("other_only", **data)]
        explanation = self.render("explanation", kind="prescribed", sources=stated, item=item)
        return self.question(
            "precaution", (topic_name, treatment, "prescribed"), [treatment, "precautions"],
            self.review(topic_name, treatment),
            self.render("question", kind="precaution", form="told", line=line, treatment=treatment),
            options, explanation, stated, [self.line("book", treatment=treatment), line],
            {"scope": "partial", "handoff": True})

    def _prescribed_items(self) -> list[dict]:
        """Medicines of the lexicon that only a doctor prescribes (the article does not name them)."""
        categories = self.lexicon["categories"]
        found = []
        for key, entry in self.lexicon["items"].items():
            category = categories[entry["category"]]
            if entry["kind"] == "medicine" and "prescribed" in entry["category"]:
                words = [w for w in entry["words"] if w.isalpha() and not w.startswith("anticoag")]
                found.append({"key": key, "label": entry.get("label", key.replace("_", " ")),
                              "kind": "medicine", "says": category["says"], "words": words or [key]})
        return found

    def _precaution(self, topic_name, topic, treatment, form) -> QuizQuestion | None:
        item = self.pick_item(topic_name)
        line = self.line(form, topic_name, treatment, item)
        if not line:
            return None
        other = _other(treatment)
        own = self.covered(topic_name, treatment)
        stated = own or self.covered(topic_name, other)
        if not stated:
            return None
        related = [] if own else list(topic.related.get(treatment, []))
        data = dict(treatment=treatment, other=other, topic=topic_name, stated=stated,
                    related=related)
        applies = self.choice("applies" if own else "stretch", **data)
        other_only = self.choice("other_only", **data)
        wrong = [self.choice("fine", **data)]
        if not topic.contraindication:
            wrong.append(self.choice("ruled_out", **data))
        options = ([applies, other_only] if own else [other_only, applies]) + wrong
        sources = own if own else stated + related
        explanation = self.render("explanation", kind="precaution", topic=topic_name,
                                  treatment=treatment, other=other, sources=sources, stated=stated,
                                  related=related, applies=bool(own), item=item,
                                  contraindication=topic.contraindication)
        probe = [line] if form == "ask" else [self.line("book", treatment=treatment), line]
        expect = {"scope": "answered" if own else "partial",
                  "handoff": topic.contraindication if own else True}
        return self.question(
            "precaution", (topic_name, treatment, form), [treatment, "precautions"],
            self.review(topic_name, treatment),
            self.render("question", kind="precaution", form=form, line=line, treatment=treatment),
            options, explanation, sources, probe, expect)

    # -- scope: what the article covers for the other treatment only, or not at all ---------------
    def scope(self) -> list[QuizQuestion]:
        questions = []
        skip = set(self.figure_topics())
        for topic_name, topic in self.topics.items():
            if topic.precaution or topic_name in skip:
                continue
            for treatment in TREATMENTS:
                if self.covered(topic_name, treatment) or topic.sources.get("any"):
                    continue
                line = self.line("ask", topic_name, treatment)
                other = _other(treatment)
                theirs = self.covered(topic_name, other)
                if not line or not (theirs or topic.gap):
                    continue
                silent = bool(topic.gap)   # a gap outranks the other treatment's facts (the rules)
                related = list(topic.related.get(treatment, []))
                sources = related if silent else theirs + related
                data = dict(treatment=treatment, other=other, topic=topic_name, stated=theirs,
                            related=related, gap=topic.gap)
                right = self.choice("silent" if silent else "other_only", **data)
                options = [right]
                if theirs:   # the tempting mistake: carry the other treatment's fact over
                    options.append(self.choice("carried_over", text=self.facts[theirs[0]].text,
                                               **data))
                for fact_id in self.other_facts(treatment, exclude=sources, figures_first=True):
                    options.append(self.choice("tell", text=self.facts[fact_id].text))
                if len(options) < 3:
                    continue
                explanation = self.render("explanation", kind="scope", topic=topic_name,
                                          treatment=treatment, other=other, sources=sources,
                                          stated=theirs, related=related, silent=silent, gap=topic.gap)
                expect = {"scope": "out_of_scope" if silent and not related else "partial",
                          "handoff": True}
                questions.append(self.question(
                    "scope", (topic_name, treatment), [treatment], self.review(topic_name, treatment),
                    self.render("question", kind="scope", line=line), options[:4], explanation,
                    sources, [line], expect))
        return questions + self.partial()

    def partial(self) -> list[QuizQuestion]:
        """"Is Botox safe?": the article says something (the toxin is deadly in large amounts) and
        leaves the rest (side effects) to the injector; the right answer says both."""
        questions = []
        for topic_name, topic in self.topics.items():
            if topic.precaution or not topic.gap:
                continue
            for treatment in TREATMENTS:
                own = self.covered(topic_name, treatment) or list(topic.sources.get("any", []))
                line = self.line("ask", topic_name, treatment)
                if not own or not line:
                    continue
                data = dict(treatment=treatment, other=_other(treatment), topic=topic_name,
                            stated=own, related=[], gap=topic.gap)
                options = [self.choice("partial", **data), self.choice("all_clear", **data),
                           self.choice("not_covered_at_all", **data), self.choice("ruled_out", **data)]
                explanation = self.render("explanation", kind="partial", sources=own, gap=topic.gap)
                questions.append(self.question(
                    "scope", (topic_name, treatment), [treatment], self.review(topic_name, treatment),
                    self.render("question", kind="partial", line=line), options, explanation, own,
                    [line], {"scope": "partial", "handoff": True}))
        return questions

    # -- combining: which treatment for which lines, and the order ---------------------------------
    def combining(self) -> list[QuizQuestion]:
        """Lines that move (Botox), lines at rest or lost volume (fillers), both (Botox first)."""
        kinds = self.wrinkle_kinds()
        areas = {key: ("volume" if entry["area"] in VOLUME_AREAS else
                       "dynamic" if entry["hint"] == "moves" else "static")
                 for key, entry in self.lexicon.get("areas", {}).items()}
        areas = {key: kind for key, kind in areas.items()
                 if kind in kinds and self.line("lines", areas=[key])}
        moving = [key for key, kind in areas.items() if kind == "dynamic"]
        resting = [key for key, kind in areas.items() if kind != "dynamic"]
        cases = [[key] for key in areas] + [[key, self.rng.choice(resting)] for key in moving
                                            if resting]
        options = self._treatment_options()
        questions = []
        for case in cases:
            found = [areas[key] for key in case]
            treatments = list(dict.fromkeys(kinds[kind]["treatment"] for kind in found))
            sources = [kinds[kind]["source"] for kind in found]
            if len(treatments) > 1:
                right = "both_first"
                sources += self._order_sources()
            else:
                right = treatments[0]
            line = self.line("lines", areas=case)
            explanation = self.render("explanation", kind="combining", sources=sources,
                                      named=[kinds[kind]["source"] for kind in found],
                                      both=len(treatments) > 1)
            ordered = [options[right]] + [text for key, text in options.items() if key != right]
            decided = "both" if len(treatments) > 1 else treatments[0]
            questions.append(self.question(
                "combining", ("lines",) + tuple(case), ["combining"],
                self.topics["wrinkle_types"].label if "wrinkle_types" in self.topics else "wrinkles",
                self.render("question", kind="lines", line=line), ordered, explanation,
                list(dict.fromkeys(sources)), [line],
                {"scope": "answered", "handoff": True, "intent": f"recommend_{decided}"}))
        extra = [self._order_question(), self._result_question()]
        return questions + [question for question in extra if question]

    def _result_question(self) -> QuizQuestion | None:
        """"What do I get from having both?": the combined result the article names."""
        sources = [i for i in ("CMB-RESULT",) if i in self.facts]
        line = self.line("result")
        if not sources or not line:
            return None
        data = dict(topic="combining", treatment="fillers")
        options = [self.choice("tell", text=self.facts[sources[0]].text), self.choice("cancel_out"),
                   self.choice("not_together"), self.choice("not_covered_at_all", **data)]
        explanation = self.render("explanation", kind="result", sources=sources)
        return self.question(
            "combining", ("result",), ["combining"], self.topics["combining"].label
            if "combining" in self.topics else "having both", self.render("question", kind="result",
                                                                          line=line),
            options, explanation, sources, [line], {"scope": "answered", "handoff": False})

    def wrinkle_kinds(self) -> dict:
        """dynamic / static / volume -> the fact that matches it with a treatment."""
        wanted = {"dynamic": "WRK-DYNAMIC", "static": "WRK-STATIC", "volume": "FIL-BENEFITS"}
        return {kind: {"source": fact_id, "treatment": self.facts[fact_id].treatment}
                for kind, fact_id in wanted.items()
                if fact_id in self.facts and self.facts[fact_id].treatment in TREATMENTS}

    def _order_sources(self) -> list[str]:
        return [i for i in ("CMB-BOTH-WORLDS", "CMB-ORDER", "CMB-WHY-ORDER") if i in self.facts]

    def _treatment_options(self) -> dict[str, str]:
        second = _other(FIRST)
        return {"botox": self.choice("treatment", treatment="botox"),
                "fillers": self.choice("treatment", treatment="fillers"),
                "both_first": self.choice("both", first=FIRST, second=second),
                "both_second": self.choice("both", first=second, second=FIRST)}

    def _order_question(self) -> QuizQuestion | None:
        line = self.line("order")
        sources = [i for i in ("CMB-ORDER", "CMB-WHY-ORDER", "CMB-SAME-FACE") if i in self.facts]
        if not line or not sources:
            return None
        second = _other(FIRST)
        options = [self.choice("order", first=FIRST, second=second),
                   self.choice("order", first=second, second=FIRST),
                   self.choice("any_order"), self.choice("not_together")]
        explanation = self.render("explanation", kind="order", sources=sources)
        return self.question(
            "combining", ("order",), ["combining"], self.topics["order"].label
            if "order" in self.topics else "order", self.render("question", kind="order"),
            options, explanation, sources, [line], {"scope": "answered", "handoff": False})


def _variants(figure: dict) -> list[dict]:
    """Wrong figures of the same kind as a right one: the same unit, doubled and halved."""
    found = []
    for factor in (2, 0.5):
        low = max(1, round(figure["min"] * factor))
        high = round(figure["max"] * factor) if figure["max"] else None
        found.append({"unit": figure["unit"], "min": low, "max": high if high != low else None})
    return found


def _other(treatment: str) -> str:
    return "fillers" if treatment == "botox" else "botox"


def _other_names(words: list[str], label: str) -> list[str]:
    """Other one-word names of an item (brands such as Advil), leaving out spelling variants."""
    label_key = normalise(label)
    return [w for w in words if " " not in w and len(w) >= 5 and w.isalpha()
            and _edit_distance(w, label_key, 2) > 2 and not label_key.startswith(w)]


# -- picking --------------------------------------------------------------------------------------
def bank(seed: int) -> list[QuizQuestion]:
    """Every question the knowledge base supports, built for one seed."""
    return Bank(random.Random(seed)).all()


def build(count: int = 10, topic: str | None = None, seed: int | None = None) -> Quiz:
    """A quiz of `count` questions (fewer if the topic has fewer), mixed across kinds."""
    if seed is None:
        seed = random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    pool = [q for q in Bank(rng).all() if topic is None or topic in q.tags]
    groups: dict[str, list[QuizQuestion]] = {}
    for question in pool:
        groups.setdefault(question.kind, []).append(question)
    kinds = list(groups)
    rng.shuffle(kinds)
    for kind in kinds:
        rng.shuffle(groups[kind])
    mixed = [group[i] for i in range(max(map(len, groups.values()), default=0))
             for group in (groups[k] for k in kinds) if i < len(group)]
    fresh, repeats, seen = [], [], set()
    for question in mixed:   # one question per subject first, the same subject again only if needed
        (repeats if question.subject[:2] in seen else fresh).append(question)
        seen.add(question.subject[:2])
    return Quiz(questions=(fresh + repeats)[:count], available=len(pool), seed=seed)


# -- understanding an answer ----------------------------------------------------------------------
_LETTER = re.compile(r"^(?:option|answer|choice)?\s*\(?\s*([a-z])\s*[).:]?$")
_UNITS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                     "twelve thirteen fourteen fifteen sixteen seventeen eighteen "
                                     "nineteen".split())}
_TENS = {w: 10 * n for n, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty "
                                         "ninety".split(), start=0) if w != "_"}
_FILLER_WORDS = {"a", "an", "the", "of", "to", "is", "are", "it", "its", "her", "she", "that", "this",
                 "i", "would", "say", "tell", "answer", "think", "and", "or", "about", "for", "be",
                 "client", "them", "they"}
# Words that say yes, no or "both" without saying which option: alone, they never pick one.
_BARE_WORDS = {"yes", "no", "not", "nope", "yeah", "yep", "both", "either", "neither", "none", "ok",
               "okay", "fine", "sure", "maybe", "all", "what", "which", "how", "why", "who", "when",
               "huh", "hmm", "eh", "um"}
# Answers that give up on a question: graded wrong, with the explanation, never asked again.
_SKIPS = {"skip", "pass", "next", "dont know", "i dont know", "do not know", "i do not know",
          "no idea", "i have no idea", "not sure", "im not sure", "idk", "dunno", "no clue"}


def skipped(answer: str) -> bool:
    """Whether an answer gives up on the question ("skip", "don't know", "no idea")."""
    return " ".join(normalise(answer).replace("'", "").split()) in _SKIPS


def interpret(answer: str, choices: Sequence[str]) -> int | None:
    """Which choice an answer means: a letter (a, B, "b)", "(c)") or words of one choice
    ("fifteen to thirty minutes", "fillers"); None when it is not clear which.

    A one-word answer ("botox", "no") picks a choice only when no other choice has that word, and
    never when it only says yes, no or both: a grader must not guess between options.
    """
    text = answer.strip().casefold()
    letter = _LETTER.match(text)
    if letter:
        index = LETTERS.find(letter.group(1))
        return index if 0 <= index < len(choices) else None
    words = words_of(answer)
    if not words:
        return None
    options = [words_of(choice) for choice in choices]
    for index, option in enumerate(options):
        if option == words:
            return index
    numbers = [w for w in words if w.isdigit()]
    candidates = range(len(choices))
    if numbers:
        candidates = [i for i in candidates if [w for w in options[i] if w.isdigit()] == numbers]
        if len(candidates) == 1:
            return candidates[0]
    content = [w for w in words if w not in _FILLER_WORDS] or words
    if len(content) == 1 and not numbers:
        word = content[0]
        having = [i for i in candidates if word in options[i]]
        if len(having) > 1:   # "fillers" among "Dermal fillers" and "Both: ... fillers": the short one
            having = [i for i in having if len(options[i]) <= 2]
        return having[0] if len(having) == 1 and word not in _BARE_WORDS else None
    scored = sorted(((_recall(content, options[i]),
                      difflib.SequenceMatcher(None, words, options[i]).ratio(), i) for i in candidates),
                    reverse=True)
    if not scored or scored[0][0] < 0.75:
        return None
    if len(scored) > 1 and scored[0][:2] == scored[1][:2]:
        return None
    return scored[0][2]


def _recall(content: list[str], option: list[str]) -> float:
    present = set(option)
    return sum(w in present for w in content) / len(content)


def words_of(text: str) -> list[str]:
    """Normalised words, with number words as digits ("two hundred and fifty" -> "250").

    "and" joins a number only after "hundred" or "thousand": "between fifteen and thirty" is a
    range (15, 30), not a sum.
    """
    result: list[str] = []
    number: int | None = None
    previous = ""
    for word in normalise(text).split():
        if word in _UNITS or word in _TENS or (word in ("hundred", "thousand") and number is not None):
            if word == "hundred":
                number *= 100
            elif word == "thousand":
                number *= 1000
            else:
                number = (number or 0) + _UNITS.get(word, _TENS.get(word, 0))
            previous = word
            continue
        if word == "and" and number is not None and previous in ("hundred", "thousand"):
            previous = word
            continue
        if number is not None:
            result.append(str(number))
            number = None
        result.append(word)
        previous = word
    if number is not None:
        result.append(str(number))
    return result


# -- playing --------------------------------------------------------------------------------------
SKIPPED = -1          # what `_ask` returns for "skip" / "don't know": graded wrong, explained
PASS_MARK = 80        # percent of the planned questions, unless --pass says otherwise


@dataclass
class _Score:
    right: int = 0
    asked: int = 0
    planned: int = 0
    pass_mark: int = PASS_MARK
    review: list[str] = field(default_factory=list)

    def add(self, question: QuizQuestion, correct: bool) -> None:
        self.asked += 1
        if correct:
            self.right += 1
        elif question.review not in self.review:
            self.review.append(question.review)

    @property
    def unanswered(self) -> int:
        return self.planned - self.asked

    @property
    def ended_early(self) -> bool:
        return self.asked < self.planned

    @property
    def percent(self) -> int:
        """Right answers as a percentage of the questions planned: unanswered ones count as missed."""
        return round(100 * self.right / self.planned) if self.planned else 0

    @property
    def passed(self) -> bool:
        return (bool(self.planned) and not self.ended_early
                and 100 * self.right >= self.pass_mark * self.planned)


def run(args, env: Environment, as_json: bool) -> ExitStatus:
    """`chatbot quiz`: ask, grade at once with sources, score at the end (EOF ends it early)."""
    if getattr(args, "export", None):
        return _export(args, env)
    if getattr(args, "output", None):
        raise ValueError("-o FILE goes with --export gift (the quiz itself is played on the terminal)")
    name = getattr(args, "name", None)
    if name:
        env.today()   # a bad CHATBOT_TODAY is reported before the quiz, not after it
    quiz = build(count=args.count, topic=args.topic, seed=args.seed)
    templates = Renderer().env
    if args.count > quiz.available:
        env.error(templates.get_template("quiz_capped.j2").render(
            count=args.count, available=quiz.available, topic=args.topic or "").strip())
    score = play(quiz, env, as_json, templates, pass_mark=getattr(args, "pass_mark", PASS_MARK))
    if name:
        _record(env, name, quiz.seed, score)
    return ExitStatus.OK


def _record(env: Environment, name: str, seed: int, score: _Score) -> None:
    """Keep a finished quiz in the training records; an abandoned one is not kept."""
    from chatbot import records
    if score.ended_early:
        env.error("chatbot: the quiz ended early, so it is not kept in the training records.")
        return
    records.add(env, records.Record(
        name=name, taken_on=env.today().isoformat(), activity="quiz", seed=seed, score=score.right,
        total=score.planned, percent=score.percent, passed=score.passed, review=score.review))
    env.error(f"Kept in the training records for {name}.")


def _export(args, env: Environment) -> ExitStatus:
    """`chatbot quiz --export gift [-o FILE]`: the whole bank (of one seed, 0 unless given)."""
    from chatbot import gift
    seed = args.seed if args.seed is not None else 0
    questions = [q for q in bank(seed) if args.topic is None or args.topic in q.tags]
    text = gift.export(questions, seed)
    if deliver(env, text, args.output, "the questions"):
        env.error(f"{len(questions)} questions written to {args.output} (GIFT, seed {seed}).")
    return ExitStatus.OK


def play(quiz: Quiz, env: Environment, as_json: bool, templates=None,
         pass_mark: int = PASS_MARK) -> _Score:
    """Ask each question, grade it at once, and end with the score and the topics to review."""
    templates = templates or Renderer().env
    total = len(quiz.questions)
    score = _Score(planned=total, pass_mark=pass_mark)
    if not as_json:
        env.write(templates.get_template("quiz_intro.j2").render(total=total, seed=quiz.seed,
                                                                 pass_mark=pass_mark))
    for number, question in enumerate(quiz.questions, start=1):
        if as_json:
            env.write(json.dumps({"n": number, "question": question.text,
                                  "choices": list(question.choices)}, ensure_ascii=False))
            line = read_line(env)
            if line is None:
                break
            chosen = SKIPPED if skipped(line) else interpret(line, question.choices)
            correct = chosen == question.answer
            explanation = question.explanation
            if chosen is None:
                explanation = templates.get_template("quiz_unrecognised.j2").render(
                    count=len(question.choices), explanation=explanation).strip()
            env.write(json.dumps({"n": number, "correct": correct, "answer": question.right,
                                  "understood": _shown(question, chosen),
                                  "skipped": chosen == SKIPPED,
                                  "explanation": explanation, "sources": list(question.sources)},
                                 ensure_ascii=False))
        else:
            env.write(templates.get_template("quiz_show.j2").render(
                n=number, total=total, question=question, letters=LETTERS))
            chosen = _ask(env, question, templates)
            if chosen is None:
                break
            correct = chosen == question.answer
            env.write(templates.get_template("quiz_grade.j2").render(
                correct=correct, question=question, understood=_shown(question, chosen),
                skipped=chosen == SKIPPED))
        score.add(question, correct)
    if as_json:
        env.write(json.dumps({"score": score.right, "total": score.asked, "planned": score.planned,
                              "unanswered": score.unanswered, "ended_early": score.ended_early,
                              "percent": score.percent, "pass_mark": score.pass_mark,
                              "passed": score.passed, "seed": quiz.seed, "review": score.review},
                             ensure_ascii=False))
    else:
        env.write(templates.get_template("quiz_score.j2").render(score=score))
    return score


def _shown(question: QuizQuestion, chosen: int | None) -> str | None:
    """The option an answer was understood as, as shown ("c) ..."); None if none or skipped."""
    if chosen is None or chosen == SKIPPED:
        return None
    return f"{LETTERS[chosen]}) {question.choices[chosen]}"


def _ask(env: Environment, question: QuizQuestion, templates) -> int | None:
    """Read answers until one is understood (or skipped); None at the end of input."""
    while True:
        env.stdout.write("Your answer: ")
        env.stdout.flush()
        line = read_line(env)
        if line is None:
            env.write()
            return None
        if not env.stdin_is_terminal:   # piped answers: show them, so the transcript reads well
            env.write(printable(line))
        if skipped(line):
            return SKIPPED
        chosen = interpret(line, question.choices)
        if chosen is not None:
            return chosen
        env.write(templates.get_template("quiz_reask.j2").render(count=len(question.choices)))


def printable(text: str) -> str:
    """The trainee's words for the screen: control characters shown, never executed."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def read_line(env: Environment) -> str | None:
    try:
        line = env.stdin.readline()
    except KeyboardInterrupt:   # Ctrl-C ends the quiz like Ctrl-D: the score so far is still shown
        return None
    return line.rstrip("\r\n") if line else None
