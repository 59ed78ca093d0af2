"""Sessions around the knowledge base: one turn from text to a Reply.

The Rete network is built once per engine and engines are reused across sessions (a small pool, one
engine per concurrent turn); a session itself is plain data (`state`), so it can be stored,
restored and moved between processes.
"""
from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date

from chatbot import cache
from chatbot import lexicon as lexicon_module
from chatbot.knowledge import inventory, snapshot
from chatbot.knowledge.facts import (
    Appointment,
    AreaAsked,
    Candidate,
    Focus,
    Known,
    Lines,
    Mentioned,
    Move,
    Passed,
    Previous,
    Question,
    Screening,
    Takes,
    Today,
    Told,
)
from chatbot.knowledge.rules import Expert
from chatbot.render import Renderer
from chatbot.understand import ANY_TOPICS, SCREENING_KEYS, Understanding, understand
from chatbot.understand import Question as AskedQuestion

TREATMENTS = ("botox", "fillers")
CONVERSATION_MOVES = ("greeting", "thanks", "bye", "help", "why", "facts", "business", "diagnosis",
                      "urgent", "staff")
LIST_KEYS = ("medicines", "supplements", "skincare", "prescribed")
# The order the pieces of one answer are shown in (templates not listed come in between).
FIRST = ("too_long", "urgent", "corrected", "contraindication", "contraindication_unsure", "verdict_stop")
LAST = ("date_question", "screening_question", "verdict_ask", "verdict_ready", "both_planned",
        "recommend_question",
        "noted", "not_understood")


@dataclass
class Reply:
    """One answer: the contract of DESIGN.md (`to_dict()` is the --json object)."""

    text: str
    intent: str
    scope: str
    sources: list[str]
    fired: list[str]
    follow_up: str | None
    handoff: bool
    facts: dict
    intents: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)   # short answers to offer, e.g. as buttons

    def to_dict(self) -> dict:
        return asdict(self)


class _EnginePool:
    """Reset engines, reused: a turn borrows one, runs, clears its turn facts, returns it.

    The first engine is loaded from the cache folder when it was saved there (else built and
    saved); more engines, when turns run at once, are loaded from the first one's saved bytes."""

    def __init__(self):
        self._idle: deque = deque()   # append and pop are atomic: threads may share the pool
        self._saved: bytes | None = None

    def borrow(self) -> tuple[Expert, int]:
        try:
            return self._idle.pop()
        except IndexError:
            if self._saved is not None:
                engine = snapshot.loads(self._saved)
            else:
                name = cache.key(snapshot.sources(), *snapshot.versions())
                engine, self._saved = cache.kept("engine", name, snapshot.build, snapshot.dumps,
                                                 snapshot.loads)
            return engine, _last_index(engine)

    def give_back(self, engine: Expert, mark: int) -> None:
        self._idle.append((engine, mark))


def _last_index(engine: Expert) -> int:
    return max(engine.facts.keys(), default=-1)


class Chatbot:
    """The knowledge base and lexicon, loaded once; `session()` opens independent conversations."""

    def __init__(self, today: Callable[[], date] | None = None, templates: str | None = None,
                 clinic: str | None = None):
        self.lexicon = lexicon_module.load()
        self.renderer = Renderer(templates=templates, clinic=clinic, item_label=self.lexicon.label_of)
        self._today = today or date.today
        self._pool = _EnginePool()
        self._pool.give_back(*self._pool.borrow())   # build one engine now, not on the first turn
        self.rule_docs = _rule_docs()

    def session(self, state: dict | None = None) -> Session:
        """A new conversation, or one restored from a saved `state`."""
        return Session(self, copy.deepcopy(state) if state else None)

    def today(self) -> date:
        return self._today()

    def run(self, facts: list) -> list[dict]:
        """Declare one turn's facts into a pooled engine, run the rules, return the Replies."""
        engine, mark = self._pool.borrow()
        try:
            engine.declare(*facts)
            engine.run()
            replies = [_plain(f) for idx, f in engine.facts.items()
                       if idx > mark and type(f).__name__ == "Reply"]
        except BaseException:
            # A failed turn may leave the engine half-way: it is not given back, so the pool makes
            # a fresh one next time.
            raise
        else:
            engine.retract_all([idx for idx in engine.facts.keys() if idx > mark])
            self._pool.give_back(engine, mark)
        return replies


class Session:
    """One conversation: the person's facts and the conversation context, as plain data."""

    def __init__(self, bot: Chatbot, state: dict | None = None):
        self.bot = bot
        self.state = state or {"facts": {}, "context": {}, "lines": {}}
        self._lock = threading.Lock()

    @property
    def facts(self) -> dict:
        return self.state["facts"]

    def reset(self) -> None:
        self.state = {"facts": {}, "context": {}, "lines": {}}

    def forget(self, key: str) -> bool:
        """Drop one fact ("/forget pregnancy"); True when there was something to drop."""
        key = _FORGET_ALIASES.get(key, key)
        found = self.facts.pop(key, None) is not None
        for name in LIST_KEYS:   # "/forget retinol": one item of a list
            items = self.facts.get(name)
            if isinstance(items, list) and key.replace("_", " ") in items:
                items.remove(key.replace("_", " "))
                found = True
        if key == "treatment":
            self.state["context"].pop("screening", None)
        if key == "lines":
            found = bool(self.state.pop("lines", None))
            self.state["lines"] = {}
        return found

    def ask(self, text: str) -> Reply:
        """Answer one message."""
        with self._lock:
            return self._turn(text)

    # -- one turn ---------------------------------------------------------------------------------
    def _turn(self, text: str) -> Reply:
        bot, context = self.bot, self.state["context"]
        today = bot.today()
        context["has_appointment"] = "appointment_date" in self.facts
        context["appointment_date"] = self.facts.get("appointment_date")
        heard = understand(text, bot.lexicon, today, context)
        facts = [Today(date=today.isoformat())]
        if heard.too_long or heard.empty:
            facts.append(Move(name="too_long" if heard.too_long else "empty"))
            replies = bot.run(facts)
            return self._reply(heard, replies, [])

        changed = self._remember(heard)
        focus = self._focus(heard)
        questions = self._questions(heard, focus)
        screening_started = self._screening(heard, focus, questions)
        recommend = self._recommendation(heard)

        about_self = bool({"eligibility", "checklist"} & set(heard.intents)) or "treatment" in heard.told
        named = bool(heard.treatments)
        # The rules reason over the screening facts every turn; the others (treatment, date,
        # lines...) only matter in the turn they are said, so only then are they declared.
        facts += [Told(key=key, value=_frozen(value), topic=_TOLD_TOPICS.get(key, ""),
                       new=key in changed, live=key in changed or named,
                       live_for_self=key in changed or (named and about_self))
                  for key, value in self.facts.items() if key in _REASONED_OVER or key in changed]
        if "facts" in heard.intents:
            facts.append(Known(facts=copy.deepcopy(self.facts)))
        # A treatment named together with a plan or "can I get...?" brings the person's own facts
        # back into play ("I'm pregnant" said earlier, then "can I get fillers?"); named in passing
        # ("how much is botox?") only the contraindications come back (Told.live_for_self).
        facts += [Focus(treatment=t, new=t in heard.treatments,
                        for_self=t in heard.treatments and about_self) for t in focus]
        facts += [Question(topic=q.topic, treatment=q.treatment, item=q.item, when=q.when)
                  for q in questions]
        facts += [Mentioned(item=m.item, kind=m.kind, category=m.category, listed=m.listed,
                            negated=m.negated, told=m.told) for m in heard.mentions]
        facts += self._takes()
        moves = [name for name in heard.intents if name in CONVERSATION_MOVES]
        if heard.answer and not (context.get("pending") or questions or heard.told or moves
                                 or heard.lines):
            moves.append("bare_answer")   # a "no" or "ok" when nothing was asked
        if "greeting" in moves and (questions or heard.told or heard.lines or len(moves) > 1
                                    or heard.date_problem):
            moves.remove("greeting")   # "hi, how long does botox take?" gets the answer, not a hello
        if "why" in moves and context.get("pending") in SCREENING_KEYS and context.get("screening"):
            moves[moves.index("why")] = "why_asked"   # "why does that matter?" about the question
        facts += [Move(name=name, value=context.get("pending") or "") for name in moves]
        if changed or screening_started:
            facts.append(Move(name="changed"))
        if context.get("pending") in heard.told and context.get("screening"):
            # An answer to the bot's own screening question goes into the checklist, not a lecture.
            facts.append(Move(name="answering"))
        if (heard.unread or heard.candidates) and not questions:
            # Words no phrase explained and no topic clearly closest: the rules ask back or say the
            # article does not cover it, never answer the nearest topic.
            facts.append(Move(name="unclear", value=heard.unread))
            facts += [Candidate(topic=topic, treatment=_treatment_of(topic, focus), rank=rank)
                      for rank, topic in enumerate(heard.candidates, 1)]
        facts += [AreaAsked(area=area, kind=kind) for area, kind in heard.asked_areas]
        facts += self._missed(heard, moves)
        facts += [Move(name="corrected", value=key) for key in context.pop("corrected", [])]
        if heard.date_problem:
            facts.append(Move(name="date_problem", value=heard.date_problem))
        if recommend:
            facts.append(Move(name="recommend_now"))
            lines = self.state["lines"]
            facts.append(Lines(areas=lines.get("areas", []), hints=lines.get("hints", []),
                               behaviours=lines.get("behaviours", [])))
        if "urgent" not in moves and "staff" not in moves:
            # an urgent message gets the urgent advice alone; a request for staff pauses the check
            facts += [Screening(treatment=t) for t in context.get("screening", [])]
            facts += [Passed(key=key) for key in context.get("passed_over", [])]
        if "appointment_date" in self.facts:
            when = date.fromisoformat(self.facts["appointment_date"])
            facts.append(Appointment(date=when.isoformat(), days_away=(when - today).days))
        trace = context.get("last_trace")
        if trace:
            facts.append(Previous(**trace))

        replies = bot.run(facts)
        reply = self._reply(heard, replies, questions)
        self._update_context(heard, questions, focus, reply)
        return reply

    def _missed(self, heard: Understanding, moves: list[str]) -> list[Move]:
        """A reply to a screening question that says nothing readable: the first time it is asked
        again, the second time the check is passed over with nothing recorded."""
        context = self.state["context"]
        pending = context.get("pending")
        if pending not in SCREENING_KEYS or not context.get("screening"):
            return []
        if heard.answer or heard.told or heard.questions or heard.lines or heard.treatments or moves \
                or heard.intents or heard.date_problem:
            context.pop("missed", None)
            return []
        if context.get("missed") != pending:
            context["missed"] = pending
            return [Move(name="missed_answer", value=pending)]
        context.pop("missed")
        context.setdefault("passed_over", []).append(pending)
        return [Move(name="passed_over", value=pending), Move(name="changed")]

    def _remember(self, heard: Understanding) -> set[str]:
        """Merge what was told into the session's facts; a later statement replaces an earlier one."""
        changed = set()
        for key, value in heard.told.items():
            if key.endswith("_stopped"):
                base = key[: -len("_stopped")]
                stopped = self.facts.setdefault("stopped", [])
                for item in value:
                    if item not in stopped:
                        stopped.append(item)
                        changed.add("stopped")
                current = self.facts.get(base)
                if isinstance(current, list):
                    kept = [item for item in current if item not in value]
                    if kept != current:
                        self.facts[base] = kept
                        changed.add(base)
                if base == "medicines" and self.facts.get("blood_thinners") is not False and not any(
                        self._category(name) == "blood_thinner" for name in self.facts.get(base) or []):
                    self.facts["blood_thinners"] = False   # the blood thinner they took is stopped
                    changed.add("blood_thinners")
                continue
            if key in LIST_KEYS and isinstance(value, list) and value:
                current = self.facts.get(key)
                current = current if isinstance(current, list) else []
                merged = [i for i in current if i != "unspecified"] + [i for i in value if i not in current]
                if value == ["unspecified"] and current:
                    merged = current
                if any(i != "unspecified" for i in merged):
                    merged = [i for i in merged if i != "unspecified"]   # "meds: advil, tylenol"
                value = merged
            if self.facts.get(key) != value:
                if key in self.facts and key not in LIST_KEYS and key not in ("appointment_date",
                                                                               "alcohol_date"):
                    self.state["context"].setdefault("corrected", []).append(key)
                self.facts[key] = value
                changed.add(key)
        if heard.lines:
            lines = self.state.setdefault("lines", {})
            for area in heard.lines.get("areas", []):
                lines.setdefault("areas", [])
                if area not in lines["areas"]:
                    lines["areas"].append(area)
            hints = lines.setdefault("hints", [])
            hints += [hint for hint in heard.lines.get("hints", []) if hint not in hints]   # once each
            if heard.lines.get("behaviours"):
                if self.state["context"].get("pending") == "lines_at_rest":
                    lines["behaviours"] = list(heard.lines["behaviours"])   # the deciding answer
                else:
                    lines["behaviours"] = list(dict.fromkeys(
                        lines.get("behaviours", []) + heard.lines["behaviours"]))
            self.facts["lines"] = _describe_lines(lines)
        return changed

    def _focus(self, heard: Understanding) -> list[str]:
        """The treatments this turn is about: named now, else planned, else the last talked about."""
        if heard.treatments:
            return [t for t in TREATMENTS if t in heard.treatments]
        planned = self.facts.get("treatment")
        if planned in TREATMENTS:
            return [planned]
        last = self.state["context"].get("last_treatment")
        if last in TREATMENTS:
            return [last]
        return list(TREATMENTS)

    def _questions(self, heard: Understanding, focus: list[str]) -> list[AskedQuestion]:
        resolved = []
        for question in heard.questions:
            covered = inventory.topics()[question.topic].sources
            if question.topic in ANY_TOPICS or question.treatment == "any" or (
                    not covered and question.treatment not in TREATMENTS):
                treatments = ["any"]
            elif question.treatment in TREATMENTS:
                treatments = [question.treatment]
            elif inventory.topics()[question.topic].implies and not heard.treatments:
                treatments = [inventory.topics()[question.topic].implies]   # "lunchtime facelift"
            else:
                treatments = focus
            for treatment in treatments:
                candidate = AskedQuestion(question.topic, treatment, question.item, question.when)
                if candidate not in resolved:
                    resolved.append(candidate)
        return resolved

    def _screening(self, heard: Understanding, focus: list[str], questions: list) -> bool:
        """Start a screening on "check me", "am I ready", or an appointment named with a treatment."""
        context = self.state["context"]
        booked = "appointment_date" in heard.told and self.facts.get("treatment")
        if context.get("screening") and "treatment" in heard.told and heard.told["treatment"] not in (
                context["screening"] if len(context["screening"]) > 1 else context["screening"][:1]):
            booked = True
        # "am I ok for Botox?" starts a check, unless the message itself rules the person out
        # ("I'm pregnant, can I get fillers?" is answered by the contraindication directly).
        rules_out = any(heard.told.get(key) is True for key in ("pregnant", "breastfeeding", "allergic"))
        # "what can I do about my forehead lines" names no treatment, and "botox or filler for my
        # forehead?" names both with a face: recommendations, not checks. "Can you check me?" is one
        # even with a question beside it.
        choosing = len(set(heard.treatments)) > 1 and heard.lines.get("areas") or bool(
            heard.unread or heard.candidates)   # "can I get botox at 70?": not a request for a check
        wants = "checklist" in heard.intents or (
            not questions and "eligibility" in heard.intents and heard.treatments and not rules_out
            and not choosing)
        if not (wants or booked):
            return False
        if context.get("screening") and "treatment" in heard.told:
            # "actually I meant Botox, not fillers": the check moves to the treatment now planned.
            planned = heard.told["treatment"]
            context["screening"] = list(TREATMENTS) if planned == "both" else [planned]
            return True
        planned = self.facts.get("treatment")
        treatments = [planned] if planned in TREATMENTS else (
            list(TREATMENTS) if planned == "both" else [t for t in focus if t in heard.treatments])
        if not treatments:
            treatments = [t for t in focus]
        if set(treatments) == set(context.get("screening", [])):
            return False
        context["screening"] = treatments
        context.pop("passed_over", None)
        return True

    def _recommendation(self, heard: Understanding) -> bool:
        pending = self.state["context"].get("pending")
        answered_lines = pending == "lines_at_rest" and heard.lines.get("behaviours")
        if "business" in heard.intents:
            return False
        choosing = "eligibility" in heard.intents and len(set(heard.treatments)) > 1
        return bool(("recommend" in heard.intents and not heard.questions) or answered_lines or (
            choosing and heard.lines.get("areas") and not heard.questions) or (
            heard.lines and ("areas" in heard.lines or "behaviours" in heard.lines)
            and not heard.questions and not heard.told))

    def _category(self, name: str) -> str:
        item = self.bot.lexicon.item_of(name)
        return self.bot.lexicon.data["items"][item]["category"] if item else ""

    def _takes(self) -> list:
        lexicon = self.bot.lexicon
        items = lexicon.data["items"]
        taken = []
        for key in LIST_KEYS:
            names = self.facts.get(key)
            for name in names if isinstance(names, list) else []:
                item = lexicon.item_of(name)
                if item is not None:
                    category = items[item]["category"]
                    if name in (self.facts.get("prescribed") or []):
                        category = "prescribed_blood_thinner"
                    taken.append(Takes(item=name, kind=items[item]["kind"], category=category))
        return taken

    # -- the answer -------------------------------------------------------------------------------
    def _reply(self, heard: Understanding, replies: list[dict], questions: list) -> Reply:
        replies = _ordered(replies)
        follow_ups = [r for r in replies if r["follow_up"]]
        if len(follow_ups) > 1:   # one question at a time: keep the first, drop the rest
            replies = [r for r in replies if not r["follow_up"] or r is follow_ups[0]]
        text = self.bot.renderer.turn(replies, heard=heard, person=self.facts,
                                      rule_docs=self.bot.rule_docs)
        sources = list(dict.fromkeys(s for r in replies for s in r["sources"]))
        intents = list(dict.fromkeys(r["intent"] for r in replies))
        scopes = {r["scope"] for r in replies}
        scope = ("answered" if scopes == {"answered"} else
                 "out_of_scope" if scopes == {"out_of_scope"} else "partial")
        if any(m.kind == "brand" and not m.listed for m in heard.mentions) and scope == "answered":
            scope = "partial"
        return Reply(text=text, intent=intents[0] if intents else "out_of_scope", scope=scope,
                     sources=sources, fired=list(dict.fromkeys(r["rule"] for r in replies)),
                     follow_up=follow_ups[0]["follow_up"] if follow_ups else None,
                     handoff=any(r["handoff"] for r in replies), facts=copy.deepcopy(self.facts),
                     intents=intents, used=list(dict.fromkeys(u for r in replies for u in r["used"])),
                     choices=list(follow_ups[0]["data"].get("choices", [])) if follow_ups else [])

    def _update_context(self, heard: Understanding, questions: list, focus: list[str],
                        reply: Reply) -> None:
        context = self.state["context"]
        told_topics = [_TOLD_TOPICS[k] for k in heard.told if k in _TOLD_TOPICS]
        if questions or told_topics:
            context["last_topics"] = list(dict.fromkeys([q.topic for q in questions] + told_topics))
            named = [q.treatment for q in questions if q.treatment in TREATMENTS]
            if named and len(set(named)) == 1:
                context["last_treatment"] = named[0]
        if heard.treatments and len(set(heard.treatments)) == 1:
            context["last_treatment"] = heard.treatments[0]
        context["pending"] = reply.follow_up
        if reply.follow_up == "topic":   # "Do you mean ...?": a choice picked next is that topic
            context["choices"] = {label: _TOPIC_OF_LABEL[label] for label in reply.choices}
        else:
            context.pop("choices", None)
        if heard.treated_already:
            context["treated_already"] = True
        brands = [m for m in heard.mentions if m.kind == "brand" and not m.listed]
        if brands:
            brand = brands[0]
            context["last_brand"] = {"word": brand.word, "item": brand.item, "treatment": brand.category,
                                     "says": brand.says, "listed": brand.listed}
        elif heard.treatments:
            context.pop("last_brand", None)
        context["last_urgent"] = reply.intent == "urgent"
        if reply.intent != "why":
            context["last_trace"] = {"fired": reply.fired, "sources": reply.sources,
                                     "used": reply.used, "intent": reply.intent}
        if any(r in reply.fired for r in ("not_advisable", "ready_with_a_checklist",
                                          "settle_with_the_injector_first")):
            context["screened"] = context.get("screening", [])


_TOLD_TOPICS = inventory.screening()["told_topics"]
_TOPIC_OF_LABEL = {topic.label: topic.name for topic in inventory.topics().values()}
_REASONED_OVER = set(_TOLD_TOPICS) | {"alcohol_date"} | {
    check["key"] for checks in inventory.screening()["checks"].values() for check in checks}
_FORGET_ALIASES = {"pregnancy": "pregnant", "allergy": "allergic", "allergies": "allergic",
                   "medicine": "medicines", "medication": "medicines", "medications": "medicines",
                   "supplement": "supplements", "date": "appointment_date", "appointment": "appointment_date",
                   "wrinkles": "lines", "alcohol": "alcohol", "hair": "hair_removal"}


def _treatment_of(topic: str, focus: list[str]) -> str:
    """The treatment a candidate topic is offered for: the one in focus, "any" for both at once."""
    return focus[0] if len(focus) == 1 and topic not in ANY_TOPICS else "any"


def _frozen(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _plain(fact) -> dict:
    """A Reply fact as a plain dict (experta freezes lists and dicts)."""
    return {key: _thaw(fact[key]) for key in ("template", "intent", "scope", "sources", "handoff",
                                              "follow_up", "data", "rule", "used")}


def _thaw(value):
    if isinstance(value, (list, tuple)) or type(value).__name__ == "frozenlist":
        return [_thaw(v) for v in value]
    if hasattr(value, "items"):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def _ordered(replies: list[dict]) -> list[dict]:
    def rank(reply):
        name = reply["template"]
        if name in FIRST:
            return FIRST.index(name) - 100
        if name in LAST:
            return LAST.index(name) + 100
        return 0
    return sorted(replies, key=rank)   # stable: rules' own order within a rank


def _describe_lines(lines: dict) -> dict:
    return {k: v for k, v in (("areas", lines.get("areas", [])),
                              ("behaviours", lines.get("behaviours", []))) if v}


def _rule_docs() -> dict[str, str]:
    """Each rule's docstring by name, for explanations."""
    docs = {}
    for name in dir(Expert):
        member = getattr(Expert, name)
        wrapped = getattr(member, "_wrapped", None)
        if wrapped is not None and wrapped.__doc__:
            docs[name] = " ".join(wrapped.__doc__.split())
    return docs
