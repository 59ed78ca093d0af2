"""Sessions around the knowledge base: one turn from text to a Reply.

A session is split along its concerns: what it remembers is a `ConversationState`
(chatbot/state.py) changed by chatbot/memory.py; this module turns one message into the facts
the rules reason over and carries out what they decide; chatbot/answer.py assembles their
pieces into the Reply. The Rete network is built once per engine and engines are reused across
sessions (a small pool, one engine per concurrent turn).
"""
from __future__ import annotations

import copy
import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import date

from chatbot import cache
from chatbot import lexicon as lexicon_module
from chatbot import memory as memory_module
from chatbot.answer import Reply, assemble, plain
from chatbot.knowledge import inventory, snapshot
from chatbot.knowledge.facts import (
    Appointment,
    AreaAsked,
    Awaiting,
    Begin,
    Candidate,
    Drink,
    Focus,
    Heard,
    Known,
    Lines,
    Mentioned,
    Move,
    Passed,
    Plan,
    Previous,
    Question,
    ReplyPart,
    Screened,
    Screening,
    Takes,
    Today,
    Told,
)
from chatbot.knowledge.inventory import TREATMENTS
from chatbot.knowledge.rules import Expert
from chatbot.memory import LIST_KEYS
from chatbot.render import Renderer
from chatbot.state import ConversationState
from chatbot.understand import ANY_TOPICS, Asked, Understanding, understand, whom_a_check_is_for

CONVERSATION_MOVES = ("greeting", "thanks", "bye", "help", "why", "facts", "business", "diagnosis",
                      "off_task", "urgent", "staff", "new_subject", "earlier_subject",
                      "about_bot", "checklist_again")



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

    def run(self, facts: list) -> tuple[list[dict], dict]:
        """Declare one turn's facts into a pooled engine, run the rules; return the Replies (as
        plain dicts) and the decisions the session is to carry out: the checks to run on
        (`begin`), those that ended with a verdict (`screened`), and the check questions whose
        answer could not be read (`missed`: asked again; `passed_over`: moved on from)."""
        engine, mark = self._pool.borrow()
        try:
            engine.declare(*facts)
            engine.run()
            turn = [f for idx, f in engine.facts.items() if idx > mark]
            replies = [plain(f) for f in turn if isinstance(f, ReplyPart)]
            decisions = {"screened": [f["treatment"] for f in turn if isinstance(f, Screened)],
                         "begin": [f["treatment"] for f in turn if isinstance(f, Begin)],
                         "missed": [f["value"] for f in turn
                                    if isinstance(f, Move) and f["name"] == "missed_answer"],
                         "passed_over": [f["value"] for f in turn
                                         if isinstance(f, Move) and f["name"] == "passed_over"],
                         "introduced": [r["data"]["treatment"] for r in replies
                                        if r["template"] == "screening_question" and r["data"].get("first")]}
        except BaseException:
            # A failed turn may leave the engine half-way: it is not given back, so the pool makes
            # a fresh one next time.
            raise
        else:
            engine.retract_all([idx for idx in engine.facts.keys() if idx > mark])
            self._pool.give_back(engine, mark)
        return replies, decisions


class Session:
    """One conversation: a `ConversationState` and the turns that change it.

    `state` is the state's JSON form (plain data, with its schema version): the server stores it
    between turns and `Chatbot.session(state)` restores it, upgrading an older version."""

    def __init__(self, bot: Chatbot, state: dict | None = None):
        self.bot = bot
        self.memory = ConversationState.from_json(state)
        self._lock = threading.Lock()

    @property
    def state(self) -> dict:
        return self.memory.to_json()

    @state.setter
    def state(self, value: dict | None) -> None:
        self.memory = ConversationState.from_json(value)

    @property
    def facts(self) -> dict:
        return self.memory.facts

    def reset(self) -> None:
        self.memory = ConversationState()

    def forget(self, key: str) -> bool:
        """Drop one fact ("/forget pregnancy"); True when there was something to drop."""
        return memory_module.forget(self.memory, key)

    def ask(self, text: str) -> Reply:
        """Answer one message."""
        with self._lock:
            return self._turn(text)

    # -- one turn ---------------------------------------------------------------------------------
    def _turn(self, text: str) -> Reply:
        bot, memory, context = self.bot, self.memory, self.memory.context
        today = bot.today()
        heard = understand(text, bot.lexicon, today, memory.for_understanding())
        if "new_subject" in heard.intents:
            # "next client, check her for botox": nothing about the last person is carried over
            self.memory = memory = ConversationState(about="client")   # the next one is a client too
            context = memory.context
            heard = understand(text, bot.lexicon, today, memory.for_understanding())
        if not heard.answering_for_client and self._starts_a_check(heard):
            named = whom_a_check_is_for(text, bot.lexicon)
            if named is not None:
                # "client booked for botox Friday, she has wine Thursday": the check this message
                # starts is the client's, so what it says of her is told, not asked
                heard = understand(text, bot.lexicon, today, dict(
                    memory.for_understanding(), about="client", who=named, client_check=True))
        facts = [Today(date=today.isoformat())]
        if heard.too_long or heard.empty:
            facts.append(Move(name="too_long" if heard.too_long else "empty"))
            replies, _ = bot.run(facts)
            return self._reply(heard, replies)

        forgotten = [key for key in heard.forget if memory_module.forget(memory, key)]
        if "alcohol" in heard.forget:
            memory_module.forget(memory, "alcohol_date")
        booked, _ = memory_module.book(memory, text, heard, self._read)
        changed = memory_module.remember(memory, heard, self._category) | booked
        focus = self._focus(heard)
        questions = self._questions(heard, focus)

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
        if heard.answer:   # a yes, no or "ok"; value: the question it may answer
            facts.append(Move(name="answer", value=context.pending or ""))
        facts += [Move(name=name, value=context.pending or "") for name in moves]
        if changed or forgotten:
            facts.append(Move(name="changed"))
        if heard.forget:
            facts.append(Move(name="forgotten", value=", ".join(heard.forget)))
        # What the rules need to decide whether this message starts or moves a check (only a
        # message that asks for one, books a date or tells a plan can).
        wishes = [name for name in ("checklist", "eligibility") if name in heard.intents]
        subject = memory.about
        who = memory.who
        if wishes or booked or "treatment" in heard.told or context.pending == "appointment_date":
            named = whom_a_check_is_for(text, bot.lexicon)
            if named is None and context.pending == "appointment_date" and memory.about == "client":
                named = memory.who   # "booking Tom in for botox next thurs" - "the coming one": Tom's
            subject, who = ("client", named) if named is not None else ("self", "")
            if heard.date_problem and named is not None:
                memory.about, memory.who = subject, who   # kept while the day is asked
            facts.append(Plan(treatment=self.facts.get("treatment") or "", said="treatment" in heard.told,
                              about=subject))
            facts += [Move(name=name) for name in wishes]
            if len(set(heard.treatments)) > 1 and heard.lines.get("areas"):
                facts.append(Move(name="comparing"))   # "botox or filler for my forehead?"
        if context.pending in heard.told and context.screening:
            # An answer to the bot's own screening question goes into the checklist, not a lecture.
            facts.append(Move(name="answering"))
        if (heard.unread or heard.candidates) and not questions:
            # Words no phrase explained and no topic clearly closest: the rules ask back or say the
            # article does not cover it, never answer the nearest topic.
            facts.append(Move(name="unclear", value=heard.unread))
            facts += [Candidate(topic=topic, treatment=_treatment_of(topic, focus), rank=rank)
                      for rank, topic in enumerate(heard.candidates, 1)]
        facts += [AreaAsked(area=area, kind=kind) for area, kind in heard.asked_areas]
        facts.append(self._heard(heard))
        if context.pending:
            facts.append(Awaiting(key=context.pending, missed=context.missed == context.pending))
        facts += [Move(name="corrected", value=key) for key in context.corrected]
        context.corrected = []
        if heard.date_problem:
            facts.append(Move(name="date_problem", value=heard.date_problem))
        if memory.lines:
            lines = memory.lines
            facts.append(Lines(areas=lines.get("areas", []), hints=lines.get("hints", []),
                               behaviours=lines.get("behaviours", [])))
        if "urgent" not in moves and "staff" not in moves:
            # an urgent message gets the urgent advice alone; a request for staff pauses the check
            facts += [Screening(treatment=t, about=memory.about) for t in context.screening]
            facts += [Screened(treatment=t) for t in context.screened if t in context.screening]
            facts += [Passed(key=key) for key in context.passed_over]
            facts += [Move(name="introduced", value=t) for t in context.introduced]
        facts += self._appointments(today, bool(booked))
        facts += [Drink(date=when, new=when in heard.drink_dates or when == heard.told.get("alcohol_date"))
                  for when in memory.drinks]
        if context.last_trace:
            facts.append(Previous(**context.last_trace))

        replies, decided = bot.run(facts)
        reply = self._reply(heard, replies, who, subject)
        self._update_context(heard, questions, reply)
        context.missed = decided["missed"][0] if decided["missed"] else None
        context.passed_over += [key for key in decided["passed_over"] if key not in context.passed_over]
        begun = [t for t in TREATMENTS if t in decided["begin"]]
        if begun and set(begun) != set(context.screening):   # a check started or moved
            context.screening = begun
            context.screened = [t for t in context.screened if t in begun]
            context.passed_over = []
            memory.about, memory.who = subject, who
        context.screened = list(dict.fromkeys(context.screened + decided["screened"]))
        context.introduced = [t for t in dict.fromkeys(context.introduced + decided["introduced"])
                              if t in context.screening]
        return reply

    def _appointments(self, today: date, new: bool) -> list[Appointment]:
        """One Appointment fact per treatment that has a date (several bookings side by side)."""
        found = []
        for treatment in TREATMENTS:
            booking = self.memory.appointment_for(treatment)
            if booking is not None:
                when = date.fromisoformat(booking.date)
                found.append(Appointment(treatment=treatment, date=booking.date,
                                         days_away=(when - today).days, new=new,
                                         named=booking.treatment == treatment,
                                         several=len(self.memory.appointments) > 1))
        return found

    def _read(self, text: str) -> Understanding:
        """One piece of a message read on its own, without the conversation's context."""
        return understand(text, self.bot.lexicon, self.bot.today(), {})

    @staticmethod
    def _starts_a_check(heard: Understanding) -> bool:
        return bool("checklist" in heard.intents or "treatment" in heard.told
                    or "appointment_date" in heard.told)   # "is botox ok for her?" alone asks

    def _heard(self, heard: Understanding) -> Heard:
        """What the message was read to do, for the rules that decide what follows from it."""
        lines, choice_words = heard.lines, self.bot.lexicon.grammar.choice_words
        return Heard(
            nothing=not (heard.answer or heard.told or heard.questions or lines or heard.treatments
                         or heard.intents or heard.date_problem or heard.forget),
            recommendation="recommend" in heard.intents, business="business" in heard.intents,
            choosing="eligibility" in heard.intents and len(set(heard.treatments)) > 1,
            either=bool(set(_WORD.findall(heard.text.lower())) & choice_words),
            questions=bool(heard.questions), told=bool(heard.told),
            line_areas=bool(lines.get("areas")), line_behaviours=bool(lines.get("behaviours")),
            unsure=heard.answer == "unknown")

    def _focus(self, heard: Understanding) -> list[str]:
        """The treatments this turn is about: named now, else planned, else the last talked about."""
        if heard.treatments:
            return [t for t in TREATMENTS if t in heard.treatments]
        planned = self.facts.get("treatment")
        if planned in TREATMENTS:
            return [planned]
        last = self.memory.context.last_treatment
        if last in TREATMENTS:
            return [last]
        return list(TREATMENTS)

    def _questions(self, heard: Understanding, focus: list[str]) -> list[Asked]:
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
                candidate = Asked(question.topic, treatment, question.item, question.when)
                if candidate not in resolved:
                    resolved.append(candidate)
        return resolved

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
    def _reply(self, heard: Understanding, replies: list[dict], who: str | None = None,
               about: str | None = None) -> Reply:
        return assemble(replies, heard, self.facts, self.bot.renderer, self.bot.rule_docs,
                        self.memory.about if about is None else about,
                        self.memory.who if who is None else who)

    def _update_context(self, heard: Understanding, questions: list, reply: Reply) -> None:
        context = self.memory.context
        if context.pending and context.pending in heard.told:
            context.answered = context.pending   # "actually wait, I might be" may take it back next
        told_conditions = [k for k in heard.told if k in self.bot.lexicon.grammar.topic_of_condition]
        if told_conditions and context.pending not in heard.told:
            context.answered = told_conditions[-1]   # "I'm pregnant", then "actually I'm not, I misread"
        told_topics = [_TOLD_TOPICS[k] for k in heard.told if k in _TOLD_TOPICS]
        if questions or told_topics:
            context.last_topics = list(dict.fromkeys([q.topic for q in questions] + told_topics))
            named = [q.treatment for q in questions if q.treatment in TREATMENTS]
            if named and len(set(named)) == 1:
                context.last_treatment = named[0]
        if heard.treatments and len(set(heard.treatments)) == 1:
            context.last_treatment = heard.treatments[0]
        context.pending = reply.follow_up
        if heard.date_problem:
            context.date_words = heard.date_words   # "next friday": "the one next week" picks its week
        elif reply.follow_up != "appointment_date":
            context.date_words = None
        if reply.follow_up == "topic":   # "Do you mean ...?": a choice picked next is that topic
            context.choices = {label: _TOPIC_OF_LABEL[label] for label in reply.choices}
        else:
            context.choices = {}
        if heard.treated_already:
            context.treated_already = True
        brands = [m for m in heard.mentions if m.kind == "brand" and not m.listed]
        if brands:
            brand = brands[0]
            context.last_brand = {"word": brand.word, "item": brand.item, "treatment": brand.category,
                                  "says": brand.says, "listed": brand.listed}
        elif heard.treatments:
            context.last_brand = None
        context.last_urgent = reply.intent == "urgent"
        if reply.intent != "why":
            context.last_trace = {"fired": reply.fired, "sources": reply.sources,
                                  "used": reply.used, "intent": reply.intent}


_TOLD_TOPICS = inventory.screening()["told_topics"]
_TOPIC_OF_LABEL = {topic.label: topic.name for topic in inventory.topics().values()}
_REASONED_OVER = set(_TOLD_TOPICS) | {"alcohol_date"} | {
    check["key"] for checks in inventory.screening()["checks"].values() for check in checks}

_WORD = re.compile(r"[a-z]+")


def _treatment_of(topic: str, focus: list[str]) -> str:
    """The treatment a candidate topic is offered for: the one in focus, "any" for both at once."""
    return focus[0] if len(focus) == 1 and topic not in ANY_TOPICS else "any"


def _frozen(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _rule_docs() -> dict[str, str]:
    """Each rule's docstring by name, for explanations."""
    docs = {}
    for name in dir(Expert):
        member = getattr(Expert, name)
        wrapped = getattr(member, "_wrapped", None)
        if wrapped is not None and wrapped.__doc__:
            docs[name] = " ".join(wrapped.__doc__.split())
    return docs
