"""The rules: from what the person asked and told us to the pieces of the answer.

Every rule declares `ReplyPart` facts (a template name, its data, the inventory IDs it rests on) and
never formats text. Salience stays 0 except where a rule must win, and that rule says why.
"""
from __future__ import annotations

import operator
from datetime import date, timedelta
from functools import reduce

from chatbot.knowledge import inventory
from chatbot.knowledge._experta import AS, MATCH, NOT, TEST, DefFacts, L, Rule
from chatbot.knowledge.engine import Engine
from chatbot.knowledge.facts import (
    Appointment,
    AreaAsked,
    ArticleFact,
    Awaiting,
    Begin,
    Candidate,
    Check,
    CheckWanted,
    Cleared,
    Concern,
    Coverage,
    Drink,
    Focus,
    Gap,
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
    VerdictDue,
    WrinkleKind,
)
from chatbot.knowledge.inventory import TREATMENTS

URGENT = 100        # an urgent message is answered before anything else
CONTRAINDICATION = 10   # a reason not to be treated outranks any other advice
DECIDE = -1         # a recommendation waits until every wrinkle kind has been derived
LAST = -100         # the fallback speaks only when no other rule did
# Replies that speak only when no other rule answered, in this order: what was told is noted
# (LAST + 3) before a greeting is returned (LAST + 2), and a greeting before a bare "ok" is
# acknowledged (LAST + 1). The questions of a turn are compared once every answer is given (LAST - 1).


# The told facts that are a contraindication for some treatment (pregnant, breastfeeding, allergic),
# from screening.toml and topics.toml.
_CONTRAINDICATED = reduce(operator.or_, [
    L(key) for key, topic in inventory.screening()["told_topics"].items()
    if inventory.topics()[topic].contraindication])


def _truthy(value) -> bool:
    """A told value that says "yes": True, or a non-empty list of things taken."""
    return value is True or (isinstance(value, (list, tuple)) and len(value) > 0)


def _unsure(value) -> bool:
    return value in ("unknown", "skipped")


class Expert(Engine):
    """The knowledge base: the article's facts and the rules that reason over a person's turn."""

    # -- helpers (not rules) -----------------------------------------------------------------------
    def _reply(self, template, intent, scope="answered", sources=(), handoff=False, follow_up="",
               used=(), *, rule, **data):
        """Declare a ReplyPart from the rule named `rule` (the rule's method name: its identity)."""
        self.declare(ReplyPart(template=template, intent=intent, scope=scope, sources=list(sources),
                           handoff=handoff, follow_up=follow_up, data=data, rule=rule, used=list(used)))

    def _all(self, fact_type, **fields):
        """Every fact of `fact_type` in working memory whose fields equal `fields`."""
        return [f for f in self.facts.values()
                if isinstance(f, fact_type) and all(f.get(k) == v for k, v in fields.items())]

    # -- the article ----------------------------------------------------------------------------
    @DefFacts()
    def article(self):
        """The inventory facts, what they answer, what the article leaves out, and the checks."""
        for entry in inventory.facts().values():
            yield ArticleFact(id=entry.id, line=entry.line, treatment=entry.treatment,
                              topic=entry.topic, text=entry.text)
        for topic in inventory.topics().values():
            for treatment, sources in topic.sources.items():
                yield Coverage(topic=topic.name, treatment=treatment, sources=sources,
                               precaution=topic.precaution, contraindication=topic.contraindication)
            if topic.gap:
                yield Gap(topic=topic.name, text=topic.gap, related_botox=topic.related["botox"],
                          related_fillers=topic.related["fillers"])
        for treatment, checks in inventory.screening()["checks"].items():
            after = "start"
            for index, check in enumerate(checks):
                yield Check(treatment=treatment, key=check["key"], after=after, topic=check["topic"],
                            last=index == len(checks) - 1)
                after = check["key"]

    # -- urgent ---------------------------------------------------------------------------------
    @Rule(Move(name="urgent"), salience=URGENT)
    def urgent_symptoms_first(self):
        """A message that sounds urgent (breathing, swallowing, vision, drooping, swelling after an
        injection) is told at once to contact the injector or emergency services."""
        self._reply("urgent", "urgent", scope="out_of_scope", handoff=True, rule="urgent_symptoms_first")

    # -- questions about the treatments ---------------------------------------------------------
    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment, item=MATCH.item, when=""),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   contraindication=MATCH.contraindication),
          NOT(Gap(topic=MATCH.topic)),
          NOT(Mentioned(item=MATCH.item, listed=False)),
          NOT(Move(name="drinks_timed", value=MATCH.topic)))   # the drinks' answer quotes it
    def answer_from_the_article(self, topic, treatment, sources, item, contraindication):
        """A question the article answers for that very treatment is answered with its facts; a
        question about a contraindication (pregnancy, breastfeeding, allergy) is also handed to an
        injector, who decides for the person."""
        self._reply("answer", _intent(treatment, topic), sources=sources, topic=topic,
                    treatment=treatment, item=item, gap="", handoff=contraindication,
                    rule="answer_from_the_article")

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources),
          Gap(topic=MATCH.topic, text=MATCH.gap))
    def answer_what_the_article_covers(self, topic, treatment, sources, gap):
        """A question the article answers only in part is answered with what it says, names what it
        leaves out and hands over to a licensed injector."""
        self._reply("answer", _intent(treatment, topic), scope="partial", sources=sources,
                    handoff=True, topic=topic, treatment=treatment, gap=gap, item="",
                    rule="answer_what_the_article_covers")

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment, item=MATCH.item, when=""),
          NOT(Coverage(topic=MATCH.topic, treatment=MATCH.treatment)),
          NOT(Gap(topic=MATCH.topic)),
          Coverage(topic=MATCH.topic, treatment=MATCH.other, sources=MATCH.sources,
                   precaution=MATCH.precaution),
          TEST(lambda treatment, other: other != treatment),
          NOT(Mentioned(item=MATCH.item, listed=False)))
    def stated_for_the_other_treatment_only(self, topic, treatment, other, sources, precaution, item):
        """Asked about one treatment, the article speaks only of the other: say whom it is stated
        for, never carry it over, give what the article does say for the asked one, hand over."""
        related = inventory.topics()[topic].related.get(treatment, [])
        # asked of both ("how much?"): the other's answer quotes the fact, so it is not quoted twice
        quoted = bool(self._all(Question, topic=topic, treatment=other))
        self._reply("other_treatment_only", _intent(treatment, topic), scope="partial",
                    sources=list(sources) + list(related), handoff=True, topic=topic,
                    treatment=treatment, other=other, stated=list(sources), related=list(related),
                    precaution=precaution, quoted=quoted, rule="stated_for_the_other_treatment_only")

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment),
          NOT(Coverage(topic=MATCH.topic, treatment=MATCH.treatment)),
          Gap(topic=MATCH.topic, text=MATCH.gap))
    def the_article_is_silent(self, topic, treatment, gap):
        """A question the article does not answer for that treatment: say so, give anything it says
        nearby, and point to a licensed injector."""
        related = inventory.topics()[topic].related.get(treatment, [])
        self._reply("not_covered", _intent(treatment, topic),
                    scope="partial" if related else "out_of_scope", sources=related, handoff=True,
                    topic=topic, treatment=treatment, gap=gap, related=list(related),
                    rule="the_article_is_silent")

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment, item=MATCH.item, when=""),
          Mentioned(item=MATCH.item, listed=False, kind=MATCH.kind),
          TEST(lambda kind: kind != "brand"))
    def item_the_article_does_not_name(self, topic, treatment, item):
        """Asked about something the article does not name (paracetamol, fish oil, a prescribed
        blood thinner): say so, give the article's guidance for that kind of thing, hand over."""
        topic_data = inventory.topics()[topic]
        stated = topic_data.sources.get(treatment) or topic_data.related.get(treatment, [])
        self._reply("unlisted_item", _intent(treatment, topic), scope="partial", sources=stated,
                    handoff=True, topic=topic, treatment=treatment, item=item,
                    rule="item_the_article_does_not_name")

    @Rule(Question(when="after", topic=MATCH.topic, treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, precaution=True, treatment=MATCH.stated_for,
                   sources=MATCH.sources))
    def precaution_is_about_before_only(self, topic, treatment, stated_for, sources):
        """Asked about doing something *after* treatment that the article only warns about
        *before* an appointment: say the advice is about before, that the article says nothing about
        afterwards, and hand over to the injector (once, when asked of both treatments)."""
        if treatment != stated_for and self._all(Question, when="after", topic=topic, treatment=stated_for):
            return
        self._reply("before_only", _intent(treatment, topic), scope="partial", sources=sources,
                    handoff=True, topic=topic, treatment=treatment, stated_for=stated_for,
                    rule="precaution_is_about_before_only")

    @Rule(Mentioned(item=MATCH.item, listed=False, kind=MATCH.kind, negated=False, told=True),
          TEST(lambda kind: kind in ("medicine", "supplement", "skincare", "hair_removal")),
          NOT(Question(item=MATCH.item)),
          Focus(treatment=MATCH.treatment),
          NOT(Move(name="unlisted", value=MATCH.kind)), salience=CONTRAINDICATION)   # before the precaution
    def you_take_something_the_article_does_not_name(self, item, kind, treatment):
        """Someone who takes or uses things the article does not name (warfarin, fish oil) is told
        so, given the article's guidance for that kind of thing once, and sent to their injector."""
        topic = {"medicine": "medicines", "supplement": "supplements", "skincare": "skincare",
                 "hair_removal": "hair_removal"}[kind]
        topic_data = inventory.topics()[topic]
        stated = topic_data.sources.get(treatment) or topic_data.related.get(treatment, [])
        asked = {q["item"] for q in self._all(Question)}
        told = self._all(Mentioned, listed=False, kind=kind, negated=False, told=True)
        items = list(dict.fromkeys(m["item"] for m in told if m["item"] not in asked))
        self.declare(Move(name="unlisted", value=kind))     # every such item in one answer
        self.declare(Move(name="quoted", value=topic))      # and the precaution quoted here, once
        self._reply("unlisted_item", _intent(treatment, topic), scope="partial", sources=stated,
                    handoff=True, used=[topic], topic=topic, treatment=treatment, item=item, items=items,
                    rule="you_take_something_the_article_does_not_name")

    @Rule(Mentioned(kind="brand", listed=False, item=MATCH.item, category=MATCH.treatment))
    def brand_the_article_does_not_discuss(self, item, treatment):
        """A product the article does not discuss by name: what is said holds for the treatment in
        general, and the product's specifics are the injector's to explain."""
        self._reply("other_brand", f"{treatment}_brand", scope="partial", handoff=True, item=item,
                    treatment=treatment, rule="brand_the_article_does_not_discuss")

    # -- what the person told us ----------------------------------------------------------------
    # A told fact is "live" in a turn when it was said in that turn, or when the person names a
    # treatment again (live_for_self: names it with a plan or "can I get...?"); only live facts are
    # answered, so a fact told once is not repeated on every later turn.
    @Rule(Told(live=True, value=True, topic=MATCH.topic, key=MATCH.key),
          Focus(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   contraindication=True),
          NOT(Screening(treatment=MATCH.treatment)),
          salience=CONTRAINDICATION)
    def contraindication_applies(self, key, treatment, sources):
        """Someone pregnant, breastfeeding or allergic to the filler's ingredients is told the
        article rules fillers out, and to talk to their injector."""
        self._reply("contraindication", f"{treatment}_contraindication", sources=sources,
                    handoff=True, used=[key], key=key, treatment=treatment,
                    rule="contraindication_applies")

    @Rule(AS.told << Told(live=True, value=L("unknown") | L("skipped"), topic=MATCH.topic,
                          key=MATCH.key),
          Focus(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   contraindication=True),
          salience=CONTRAINDICATION)
    def contraindication_unsure(self, told, key, treatment, sources):
        """Someone unsure whether a contraindication applies is told what it is and to settle it
        with their injector before going ahead."""
        value = told["value"]
        self._reply("contraindication_unsure", f"{treatment}_contraindication", sources=sources,
                    handoff=True, used=[key], key=key, treatment=treatment, value=value,
                    rule="contraindication_unsure")

    @Rule(Told(live_for_self=True, topic=MATCH.topic, value=MATCH.value, key=MATCH.key),
          TEST(lambda value: _truthy(value)),
          Focus(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   precaution=True, contraindication=False),
          NOT(Move(name="answering")),
          NOT(Move(name="drinks_timed", value=MATCH.key)),
          NOT(Move(name="quoted", value=MATCH.topic)),
          NOT(Question(topic=MATCH.topic, treatment=MATCH.treatment)))
    def precaution_applies_to_you(self, key, topic, treatment, sources, value):
        """Someone who takes or does something the article warns about before this treatment
        (ibuprofen, ginkgo, retinol, waxing before fillers; drinking before Botox) gets that
        precaution."""
        self._reply("personal_precaution", _intent(treatment, topic), sources=sources, used=[key],
                    key=key, topic=topic, treatment=treatment, value=value,
                    rule="precaution_applies_to_you")

    @Rule(Told(live_for_self=True, topic=MATCH.topic, value=MATCH.value, key=MATCH.key),
          TEST(lambda value: _truthy(value)),
          Focus(treatment=MATCH.treatment),
          NOT(Coverage(topic=MATCH.topic, treatment=MATCH.treatment)),
          Coverage(topic=MATCH.topic, treatment=MATCH.other, sources=MATCH.sources, precaution=True),
          TEST(lambda treatment, other: other != treatment),
          NOT(Move(name="answering")),
          NOT(Question(topic=MATCH.topic, treatment=MATCH.treatment)))
    def your_precaution_is_stated_for_the_other_treatment(self, key, topic, treatment, other,
                                                          sources, value):
        """Someone who takes or is something the article mentions only for the other treatment is
        told whom it is stated for, what the article does say for theirs, and to ask their injector."""
        related = inventory.topics()[topic].related.get(treatment, [])
        self._reply("other_treatment_only", _intent(treatment, topic), scope="partial",
                    sources=list(sources) + list(related), handoff=True, used=[key], topic=topic,
                    treatment=treatment, other=other, stated=list(sources), related=list(related),
                    precaution=True, personal=key,
                    rule="your_precaution_is_stated_for_the_other_treatment")

    # -- when a check starts ----------------------------------------------------------------------
    # These decide before any advice is given (salience URGENT - 1, then URGENT - 2 to carry it
    # out; only an urgent message comes first), so a check started by this very message asks its
    # first question now and a check moved to another treatment asks nothing more of the old one.
    @Rule(Move(name="checklist"), salience=URGENT - 1)
    def a_check_is_asked_for(self):
        """"Check me", "am I ready?", "screen my client": a check before the planned treatment is
        wanted, even with a question beside it."""
        self.declare(CheckWanted())

    @Rule(Move(name="eligibility"), Focus(new=True), NOT(Question()), NOT(Move(name="comparing")),
          NOT(Move(name="unclear")), NOT(Heard(choosing=True, either=True, told=False)),
          NOT(Told(new=True, value=True, key=_CONTRAINDICATED)),
          salience=URGENT - 1)
    def am_i_ok_for_a_treatment_is_a_check(self):
        """"Am I ok for Botox?" naming a treatment is a check, unless the message itself rules the
        person out ("I'm pregnant, can I get fillers?" is answered by the contraindication
        directly), weighs both treatments (a recommendation: "should I get botox or filler?") or
        has words no phrase explained ("can I get botox at 70?" is not a request for a check)."""
        self.declare(CheckWanted())

    @Rule(Appointment(new=True), Plan(treatment=MATCH.planned), TEST(lambda planned: bool(planned)),
          salience=URGENT - 1)
    def a_booking_for_a_planned_treatment_starts_a_check(self, planned):
        """An appointment date told for a planned treatment starts the check before it."""
        self.declare(CheckWanted())

    @Rule(Awaiting(key="appointment_date"), Move(name="answer"), Plan(treatment=MATCH.planned),
          TEST(lambda planned: bool(planned)), salience=URGENT - 1)
    def a_date_not_known_yet_still_checks(self, planned):
        """Asked which day the appointment is, "not sure yet" or "no idea": the check goes ahead
        without a date (the checklist then counts the days from whenever it is)."""
        self.declare(CheckWanted())

    @Rule(Awaiting(key="appointment_date"), Heard(told=True), NOT(Appointment()),
          Plan(treatment=MATCH.planned), TEST(lambda planned: bool(planned)), salience=URGENT - 1)
    def something_else_told_while_the_date_is_asked_still_checks(self, planned):
        """Asked which day the appointment is, the person tells something else ("I had a drink on
        Monday"): it is kept, and the check goes ahead; its checklist asks for the date at the end."""
        self.declare(CheckWanted())

    @Rule(Screening(), Plan(said=True, treatment=MATCH.planned), TEST(lambda planned: bool(planned)),
          salience=URGENT - 1)
    def a_plan_told_during_a_check_moves_it(self, planned):
        """"Actually I meant Botox, not fillers" during a check: the check follows the plan."""
        self.declare(CheckWanted())

    @Rule(CheckWanted(), Plan(treatment=MATCH.planned), TEST(lambda planned: planned in TREATMENTS),
          salience=URGENT - 1)
    def check_the_planned_treatment(self, planned):
        """A wanted check is for the treatment planned."""
        self.declare(Begin(treatment=planned))

    @Rule(CheckWanted(), Plan(treatment="both"), salience=URGENT - 1)
    def check_both_when_both_are_planned(self):
        """With both treatments planned, each gets its check."""
        for treatment in TREATMENTS:
            self.declare(Begin(treatment=treatment))

    @Rule(CheckWanted(), Plan(treatment=MATCH.planned),
          TEST(lambda planned: planned not in TREATMENTS and planned != "both"),
          Focus(new=True, treatment=MATCH.treatment), salience=URGENT - 1)
    def check_the_treatment_named(self, treatment, planned):
        """With no plan known, a check is for the treatments the message names."""
        self.declare(Begin(treatment=treatment))

    @Rule(CheckWanted(), Plan(treatment=MATCH.planned),
          TEST(lambda planned: planned not in TREATMENTS and planned != "both"),
          NOT(Focus(new=True)), Focus(treatment=MATCH.treatment), salience=URGENT - 1)
    def check_the_treatment_talked_about(self, treatment, planned):
        """With no plan known and none named, a check is for the treatments talked about."""
        self.declare(Begin(treatment=treatment))

    @Rule(Begin(treatment=MATCH.treatment), NOT(Screening(treatment=MATCH.treatment)),
          Plan(about=MATCH.about), NOT(Move(name="urgent")), NOT(Move(name="staff")),
          salience=URGENT - 2)
    def a_new_check_starts_now(self, treatment, about):
        """A check that is to begin starts in this turn (an urgent message or a request for staff
        pauses it until the next one)."""
        self.declare(Screening(treatment=treatment, about=about))
        self.declare(Move(name="changed"))

    @Rule(Begin(), AS.stale << Screening(treatment=MATCH.treatment),
          NOT(Begin(treatment=MATCH.treatment)), salience=URGENT - 2)
    def a_check_no_longer_planned_stops(self, stale, treatment):
        """A check moved to another treatment asks nothing more about the old one."""
        self.retract(stale)
        self.declare(Move(name="changed"))

    # -- screening before an appointment ---------------------------------------------------------
    @Rule(Screening(treatment=MATCH.treatment))
    def screening_starts_with_nothing_checked(self, treatment):
        """A screening for a treatment begins before its first check."""
        self.declare(Cleared(treatment=treatment, key="start"))

    @Rule(Cleared(treatment=MATCH.treatment, key=MATCH.after),
          Check(treatment=MATCH.treatment, key=MATCH.key, after=MATCH.after),
          Told(key=MATCH.key))
    def check_answered(self, treatment, key):
        """A check whose earlier checks are all answered, and which is answered too, is cleared."""
        self.declare(Cleared(treatment=treatment, key=key))

    @Rule(Cleared(treatment=MATCH.treatment, key=MATCH.after),
          Check(treatment=MATCH.treatment, key=MATCH.key, after=MATCH.after),
          Passed(key=MATCH.key))
    def check_passed_over(self, treatment, key):
        """A check passed over after two answers that were not understood no longer holds the
        screening up."""
        self.declare(Cleared(treatment=treatment, key=key))

    @Rule(Passed(key=MATCH.key),
          Check(treatment=MATCH.treatment, key=MATCH.key, topic=MATCH.topic),
          Screening(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   precaution=True, contraindication=MATCH.contraindication),
          salience=CONTRAINDICATION)
    def passed_over_check_stays_open(self, treatment, key, sources, contraindication):
        """A check passed over is never taken as a "no": a contraindication is left for the
        injector to settle first, a precaution becomes a step to check."""
        self.declare(Concern(treatment=treatment, key=key, sources=sources,
                             level="ask" if contraindication else "unsure"))

    # An answer to a check's question that could not be read is asked again once, then passed
    # over; decided before any advice (salience URGENT - 1), so the rest of the turn knows it.
    @Rule(Heard(nothing=True), Awaiting(key=MATCH.key, missed=False),
          Screening(treatment=MATCH.treatment), Check(treatment=MATCH.treatment, key=MATCH.key),
          salience=URGENT - 1)
    def an_unreadable_answer_is_asked_again(self, key, treatment):
        """A reply to a check's question in which nothing could be read (not a yes, a no, a "not
        sure", a question or anything else) is a missed answer, the first time."""
        self.declare(Move(name="missed_answer", value=key))

    @Rule(Heard(nothing=True), Awaiting(key=MATCH.key, missed=True),
          Screening(treatment=MATCH.treatment), Check(treatment=MATCH.treatment, key=MATCH.key),
          salience=URGENT - 1)
    def a_second_unreadable_answer_passes_the_check_over(self, key, treatment):
        """A second reply to the same check's question in which nothing could be read passes that
        check over: nothing is recorded for it."""
        self.declare(Passed(key=key))
        self.declare(Move(name="passed_over", value=key))
        self.declare(Move(name="changed"))

    @Rule(Move(name="missed_answer", value=MATCH.key), Screening())
    def did_not_catch_the_answer(self, key):
        """An answer to a screening question that could not be read is not guessed: the person is
        asked once more for yes, no or not sure, and nothing is recorded."""
        self._reply("missed_answer", "missed_answer", key=key, rule="did_not_catch_the_answer")

    @Rule(AS.why << Move(name="why", value=MATCH.key),
          Screening(treatment=MATCH.treatment), Check(treatment=MATCH.treatment, key=MATCH.key),
          salience=URGENT - 1)
    def why_while_a_check_question_waits(self, why, key):
        """"Why?" while a check's question waits ("what has that got to do with it?") is about that
        question, not about the last answer."""
        self.retract(why)
        self.declare(Move(name="why_asked", value=key))

    @Rule(Move(name="why_asked", value=MATCH.key),
          Screening(treatment=MATCH.treatment),
          Check(treatment=MATCH.treatment, key=MATCH.key, topic=MATCH.topic),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources))
    def why_the_question_is_asked(self, key, treatment, sources):
        """A question about the screening question ("what has that got to do with it?") is
        answered with the article's reason for asking; nothing is recorded."""
        self._reply("why_asked", f"{treatment}_screening", sources=sources, key=key,
                    treatment=treatment, rule="why_the_question_is_asked")

    @Rule(Move(name="passed_over", value=MATCH.key), Screening())
    def move_on_after_a_second_miss(self, key):
        """A second answer that could not be read moves the screening on; nothing is recorded for
        that question, and it is left for the injector."""
        self._reply("passed_over", "passed_over", handoff=True, key=key, rule="move_on_after_a_second_miss")

    # The screening rules start from the told fact, filtered by its value, so that the joins with
    # the checks and the coverage stay small (experta joins pattern by pattern, in order).
    @Rule(Told(key=MATCH.key, value=True),
          Check(treatment=MATCH.treatment, key=MATCH.key, topic=MATCH.topic),
          Screening(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   contraindication=True),
          salience=CONTRAINDICATION)
    def screening_finds_a_contraindication(self, treatment, key, sources):
        """A yes to pregnancy, breastfeeding or an allergy to the filler stops the screening: the
        treatment is not advisable."""
        self.declare(Concern(treatment=treatment, key=key, level="stop", sources=sources))

    @Rule(Told(key=MATCH.key, value=L("unknown") | L("skipped")),
          Check(treatment=MATCH.treatment, key=MATCH.key, topic=MATCH.topic),
          Screening(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   contraindication=True),
          salience=CONTRAINDICATION)
    def screening_leaves_a_contraindication_open(self, treatment, key, sources):
        """"Not sure" (or skipped) on a contraindication is for the injector to settle first."""
        self.declare(Concern(treatment=treatment, key=key, level="ask", sources=sources))

    @Rule(Told(key=MATCH.key, value=MATCH.value),
          TEST(lambda value: _truthy(value) or _unsure(value)),
          Check(treatment=MATCH.treatment, key=MATCH.key, topic=MATCH.topic),
          Screening(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   precaution=True, contraindication=False))
    def screening_finds_something_to_prepare(self, treatment, key, sources, value):
        """Something the person takes or does that the article says to stop or avoid before this
        treatment (or is unsure about) becomes a step of their checklist."""
        self.declare(Concern(treatment=treatment, key=key, sources=sources,
                             level="unsure" if _unsure(value) else "prepare"))

    @Rule(Screening(treatment=MATCH.treatment),
          Told(key=MATCH.key, topic=MATCH.topic, value=MATCH.value),
          TEST(lambda value: value is True or _unsure(value)),
          NOT(Coverage(topic=MATCH.topic, treatment=MATCH.treatment)),
          Coverage(topic=MATCH.topic, contraindication=True),
          salience=CONTRAINDICATION)
    def a_condition_named_only_for_the_other_treatment(self, treatment, key):
        """Someone checked for Botox who is (or may be) pregnant, breastfeeding or allergic, which
        the article names only against fillers, is not cleared: the article is silent for Botox, the
        filler rule is not carried over, and the injector settles it first."""
        self.declare(Concern(treatment=treatment, key=key, level="ask",
                             sources=inventory.sources_of("a_condition_named_only_for_the_other_treatment")))

    @Rule(Screening(treatment="fillers"),
          Takes(kind="medicine", category="prescribed_blood_thinner"))
    def prescribed_blood_thinner_is_for_the_injector(self):
        """A prescribed blood thinner is not among the over-the-counter medicines the article names:
        the injector (and the prescriber) decide, so it is a question to settle first."""
        self.declare(Concern(treatment="fillers", key="prescribed_blood_thinner", level="ask",
                             sources=inventory.sources_of("prescribed_blood_thinner_is_for_the_injector")))

    @Rule(Drink(new=True),
          Appointment(treatment="botox", date=MATCH.appointment),
          Focus(treatment="botox"),
          NOT(Move(name="drinks_timed")), salience=CONTRAINDICATION)
    def when_the_drink_falls_against_the_appointment(self, appointment):
        """A drink on a known day before a Botox appointment is set against the article's two to
        three days without alcohol: inside them, tell the injector; outside, it is clear of them.
        Every drink told in the message is set out in one answer."""
        self._drinks_against("when_the_drink_falls_against_the_appointment",
                             [d["date"] for d in self._all(Drink, new=True)], appointment)

    @Rule(Drink(new=False),
          Appointment(treatment="botox", date=MATCH.appointment, new=True),
          Focus(treatment="botox"),
          NOT(Move(name="drinks_timed")), salience=CONTRAINDICATION)
    def a_drink_told_before_the_appointment_date(self, appointment):
        """A drink told before the Botox appointment's date is set against that date as soon as it
        is known: the order the two were mentioned in does not matter."""
        self._drinks_against("a_drink_told_before_the_appointment_date",
                             [d["date"] for d in self._all(Drink)], appointment)

    def _drinks_against(self, rule, drinks, appointment):
        self.declare(Move(name="drinks_timed", value="alcohol"))   # the precaution is said here, once
        timed = [{"drink": drink, "days": (date.fromisoformat(appointment) - date.fromisoformat(drink)).days}
                 for drink in sorted(set(drinks))]
        for each in timed:
            each["inside"] = 0 <= each["days"] <= _ALCOHOL_DAYS   # two to three days: the safe end
        inside = any(each["inside"] for each in timed)
        self.declare(ReplyPart(template="alcohol_timing", intent="botox_alcohol", scope="answered",
                               sources=inventory.sources_of(rule), handoff=inside, follow_up="", rule=rule,
                               used=["alcohol_date", "appointment_date"],
                               data={"drinks": timed, "appointment": appointment, "inside": inside}))

    @Rule(Question(topic="alcohol", treatment="botox", when=""),
          Appointment(treatment="botox", date=MATCH.appointment, days_away=MATCH.days),
          TEST(lambda days: days >= 0), NOT(Move(name="drinks_timed")))
    def the_day_to_stop_drinking(self, appointment, days):
        """Asked about alcohol before Botox with the appointment's date known, the person is given
        the day the article's alcohol-free days begin (three days before: the safe end of two to
        three), or told they have begun."""
        start = date.fromisoformat(appointment) - timedelta(days=_ALCOHOL_DAYS)
        self._reply("alcohol_from", "botox_alcohol", sources=inventory.sources_of("the_day_to_stop_drinking"),
                    used=["appointment_date"], start=start.isoformat(), appointment=appointment,
                    begun=days <= _ALCOHOL_DAYS, rule="the_day_to_stop_drinking")

    @Rule(Screening(treatment="botox"), Told(key="alcohol", value=True),
          Appointment(treatment="botox", days_away=MATCH.days),
          TEST(lambda days: 0 <= days <= _ALCOHOL_DAYS),
          NOT(Drink()))
    def drinking_inside_the_alcohol_window(self, days):
        """Drinking with the Botox appointment three days away or less falls inside the article's
        two-to-three-day window: the injector should hear about it before going ahead."""
        self.declare(Concern(treatment="botox", key="alcohol_window", level="ask",
                             sources=inventory.sources_of("drinking_inside_the_alcohol_window")))

    @Rule(Screening(treatment="botox"), Drink(date=MATCH.drink),
          Appointment(treatment="botox", date=MATCH.appointment),
          TEST(lambda drink, appointment: 0 <= (date.fromisoformat(appointment)
                                                - date.fromisoformat(drink)).days <= _ALCOHOL_DAYS))
    def a_drink_inside_the_window_is_for_the_injector(self, drink, appointment):
        """A drink on a known day inside the two to three days before the Botox appointment, had or
        planned, is for the injector to hear about before going ahead: the check ends with it."""
        self.declare(Concern(treatment="botox", key="alcohol_window", level="ask",
                             sources=inventory.sources_of("a_drink_inside_the_window_is_for_the_injector")))

    @Rule(Screening(treatment="botox"), Told(key="medicines", value=MATCH.value),
          TEST(lambda value: _truthy(value) or _unsure(value)))
    def medicines_go_to_the_injector(self, value):
        """Before Botox, the medicines a person takes (or is unsure of) are for their injector to hear
        about; unsure, the step is marked as one to check."""
        level = "unsure" if _unsure(value) else "prepare"
        self.declare(Concern(treatment="botox", key="medicines", level=level,
                             sources=inventory.sources_of("medicines_go_to_the_injector")))

    @Rule(Cleared(treatment=MATCH.treatment, key=MATCH.after),
          Check(treatment=MATCH.treatment, key=MATCH.key, after=MATCH.after, topic=MATCH.topic),
          Screening(treatment=MATCH.treatment, about=MATCH.about),
          NOT(Told(key=MATCH.key)),
          NOT(Passed(key=MATCH.key)),
          NOT(Concern(treatment=MATCH.treatment, level="stop")))
    def ask_the_next_check(self, treatment, key, topic, after, about):
        """During a screening, the first check without an answer is asked, one at a time, of the
        person or about their client."""
        sources = inventory.topics()[topic].sources.get(treatment, [])
        self._reply("screening_question", f"{treatment}_screening", sources=sources,
                    follow_up=key, key=key, treatment=treatment,
                    first=after == "start" and not self._all(Move, name="introduced", value=treatment),
                    about=about, rule="ask_the_next_check")

    @Rule(Screening(treatment=MATCH.treatment), NOT(Screened(treatment=MATCH.treatment)))
    def a_check_without_a_verdict_is_due_one(self, treatment):
        """A check that has not ended with a verdict yet ends with one once it is complete."""
        self.declare(VerdictDue(treatment=treatment))

    @Rule(Screened(treatment=MATCH.treatment), Screening(treatment=MATCH.treatment),
          Told(key=MATCH.key, new=True), Check(treatment=MATCH.treatment, key=MATCH.key))
    def a_changed_answer_reopens_the_verdict(self, treatment):
        """A check already decided is decided again when one of its answers changes."""
        self.declare(VerdictDue(treatment=treatment))

    @Rule(Move(name=MATCH.move), TEST(lambda move: move in ("checklist", "checklist_again")),
          Screening(treatment=MATCH.treatment), NOT(Screened(treatment=MATCH.treatment)),
          Awaiting(key=MATCH.key),
          Check(treatment=MATCH.treatment, key=MATCH.key), NOT(Told(key=MATCH.key, new=True)))
    def the_check_is_not_done_yet(self, move, treatment, key):
        """"So am I ok?" in the middle of a check: not yet, the rest of the questions come first."""
        self._reply("check_not_done", f"{treatment}_screening", treatment=treatment,
                    rule="the_check_is_not_done_yet")

    @Rule(Screened(treatment=MATCH.treatment), Screening(treatment=MATCH.treatment),
          Move(name="checklist_again"), salience=URGENT - 1)
    def the_checklist_is_shown_again_when_asked(self, treatment):
        """"What's my checklist again?" after a check: its verdict and checklist, given again."""
        self.declare(VerdictDue(treatment=treatment))
        self.declare(Move(name="changed"))

    @Rule(Screened(treatment=MATCH.treatment), Screening(treatment=MATCH.treatment),
          Appointment(treatment=MATCH.treatment, new=True))
    def a_new_date_reopens_the_verdict(self, treatment):
        """A check already decided is given again, with new dates, when its appointment moves."""
        self.declare(VerdictDue(treatment=treatment))

    @Rule(Screened(treatment=MATCH.treatment), Screening(treatment=MATCH.treatment),
          Move(name="passed_over"))
    def a_passed_over_check_reopens_the_verdict(self, treatment):
        """A check passed over changes what the verdict rests on, so it is given again."""
        self.declare(VerdictDue(treatment=treatment))

    @Rule(Screening(treatment=MATCH.treatment), Concern(treatment=MATCH.treatment, level="stop"),
          Move(name="changed"), VerdictDue(treatment=MATCH.treatment))
    def not_advisable(self, treatment):
        """A contraindication found during screening ends it: not advisable, talk to the injector."""
        concerns = self._all(Concern, treatment=treatment, level="stop")
        self._reply("verdict_stop", f"{treatment}_verdict", handoff=True,
                    sources=_sources_of(concerns), used=[c["key"] for c in concerns],
                    treatment=treatment, keys=[c["key"] for c in concerns],
                    rule="not_advisable")
        self.declare(Screened(treatment=treatment))


    @Rule(Screening(treatment=MATCH.treatment),
          Check(treatment=MATCH.treatment, key=MATCH.key, last=True),
          Cleared(treatment=MATCH.treatment, key=MATCH.key),
          NOT(Concern(treatment=MATCH.treatment, level="stop")),
          Concern(treatment=MATCH.treatment, level="ask"),
          Move(name="changed"), VerdictDue(treatment=MATCH.treatment))
    def settle_with_the_injector_first(self, treatment):
        """A completed screening with an open question (an unsure contraindication, a prescribed
        blood thinner) ends with: settle this with your injector before the appointment."""
        concerns = self._all(Concern, treatment=treatment)
        steps = self._steps(treatment, concerns)
        sources = _sources_of(concerns) + [s for step in steps for s in step["sources"]]
        self._reply("verdict_ask", f"{treatment}_verdict", handoff=True, scope="answered",
                    sources=list(dict.fromkeys(sources)), used=[c["key"] for c in concerns],
                    treatment=treatment, asks=[c["key"] for c in concerns if c["level"] == "ask"],
                    steps=steps, appointment=self._appointment_of(treatment),
                    rule="settle_with_the_injector_first")
        self.declare(Screened(treatment=treatment))


    @Rule(Screening(treatment=MATCH.treatment),
          Check(treatment=MATCH.treatment, key=MATCH.key, last=True),
          Cleared(treatment=MATCH.treatment, key=MATCH.key),
          NOT(Concern(treatment=MATCH.treatment, level="stop")),
          NOT(Concern(treatment=MATCH.treatment, level="ask")),
          Move(name="changed"), VerdictDue(treatment=MATCH.treatment))
    def ready_with_a_checklist(self, treatment):
        """A completed screening with no contraindication ends with a personal, dated checklist
        built from the article's precautions for that treatment."""
        concerns = self._all(Concern, treatment=treatment)
        steps = self._steps(treatment, concerns)
        sources = _sources_of(concerns) + [s for step in steps for s in step["sources"]]
        self._reply("verdict_ready", f"{treatment}_verdict", sources=list(dict.fromkeys(sources)),
                    used=[c["key"] for c in concerns], treatment=treatment, steps=steps,
                    appointment=self._appointment_of(treatment),
                    rule="ready_with_a_checklist")
        self.declare(Screened(treatment=treatment))


    @Rule(Screening(treatment="botox"), Screening(treatment="fillers"),
          Check(treatment="botox", key=MATCH.botox_last, last=True),
          Cleared(treatment="botox", key=MATCH.botox_last),
          Check(treatment="fillers", key=MATCH.fillers_last, last=True),
          Cleared(treatment="fillers", key=MATCH.fillers_last),
          Move(name="changed"), VerdictDue())
    def both_planned_botox_first(self, botox_last, fillers_last):
        """Someone checked for both treatments is reminded, once both checks are done, that they
        are separate procedures on the same face, with Botox first."""
        botox, fillers = self._appointment_of("botox"), self._appointment_of("fillers")
        self._reply("both_planned", "combining", sources=inventory.sources_of("both_planned_botox_first"),
                    botox=botox, fillers=fillers, reversed=bool(botox and fillers and fillers < botox),
                    rule="both_planned_botox_first")

    def _steps(self, treatment, concerns):
        """The checklist: the person's own steps first, then the article's standing reminders."""
        appointments = self._all(Appointment, treatment=treatment)
        when = date.fromisoformat(appointments[0]["date"]) if appointments else None
        timing = inventory.screening()["timing"]
        personal = {c["key"]: c for c in concerns if c["level"] in ("prepare", "unsure")}
        steps = []
        for check in inventory.screening()["checks"][treatment]:
            key = check["key"]
            sources = inventory.topics()[check["topic"]].sources.get(treatment, [])
            if not sources:
                continue
            rule = timing.get(key, {})
            start = began = None
            if when is not None and rule.get("days"):
                start = max(when - timedelta(days=rule["days"]), self._today()).isoformat()
                if when - timedelta(days=rule["days"]) < self._today():
                    began = (when - timedelta(days=rule["days"])).isoformat()   # the days already under way
            told = self._all(Told, key=key)
            steps.append({"key": key, "sources": list(sources), "personal": key in personal,
                          "unsure": key in personal and personal[key]["level"] == "unsure",
                          "start": start, "began": began, "days": rule.get("days"),
                          "note": rule.get("note", ""),
                          "value": told[0]["value"] if told else None,
                          "contraindication": inventory.topics()[check["topic"]].contraindication})
        return [s for s in steps if not s["contraindication"]]

    def _appointment_of(self, treatment):
        """The ISO date of the appointment for `treatment`, or "" when none is known."""
        appointments = self._all(Appointment, treatment=treatment)
        return appointments[0]["date"] if appointments else ""

    def _today(self):
        today = self._all(Today)
        return date.fromisoformat(today[0]["date"]) if today else date.today()

    # -- appointment dates ----------------------------------------------------------------------
    @Rule(Move(name="date_problem", value=MATCH.problem))
    def unclear_date_gets_a_question(self, problem):
        """A date that is past, ambiguous or vague gets a clarifying question."""
        self._reply("date_question", "appointment_date", follow_up="appointment_date", problem=problem,
                    rule="unclear_date_gets_a_question")

    # -- recommendation from how the lines behave ------------------------------------------------
    # Whether this message asks for a recommendation is decided first (salience URGENT - 1); a
    # question about a business never gets one.
    @Rule(Heard(recommendation=True, questions=False, business=False), salience=URGENT - 1)
    def advice_on_lines_is_asked_for(self):
        """"What would you suggest for my lines?": a recommendation is wanted."""
        self.declare(Move(name="recommend_now"))

    @Rule(Awaiting(key="lines_at_rest"), Heard(line_behaviours=True, business=False),
          salience=URGENT - 1)
    def how_the_lines_behave_is_told_when_asked(self):
        """The answer to "are the lines still there when your face is relaxed?" decides the
        recommendation it was asked for."""
        self.declare(Move(name="recommend_now"))

    @Rule(Heard(choosing=True, line_areas=True, questions=False, business=False),
          salience=URGENT - 1)
    def weighing_both_treatments_for_an_area_is_a_recommendation(self):
        """"Am I better off with botox or filler for my forehead?": a recommendation, not a check."""
        self.declare(Move(name="recommend_now"))

    @Rule(Heard(choosing=True, either=True, questions=False, business=False, told=False),
          salience=URGENT - 1)
    def choosing_between_the_treatments_is_a_recommendation(self):
        """"Should I get botox or filler?", with nothing planned: a recommendation, which starts
        from how the lines behave, not a check."""
        self.declare(Move(name="recommend_now"))

    @Rule(Heard(questions=False, told=False, business=False, line_areas=MATCH.areas,
                line_behaviours=MATCH.behaviours),
          TEST(lambda areas, behaviours: areas or behaviours), salience=URGENT - 1)
    def lines_described_on_their_own_get_a_recommendation(self, areas, behaviours):
        """Lines described with no question beside them ("deep lines around my mouth, even at
        rest") are met with a recommendation."""
        self.declare(Move(name="recommend_now"))

    @Rule(Lines(behaviours=MATCH.behaviours), TEST(lambda behaviours: "moves" in behaviours))
    def lines_that_come_with_movement_are_dynamic(self, behaviours):
        """Lines that show only when the face moves (frowning, laughing, squinting) are dynamic."""
        self.declare(WrinkleKind(kind="dynamic"))

    @Rule(Lines(behaviours=MATCH.behaviours), TEST(lambda behaviours: "rest" in behaviours))
    def lines_that_stay_at_rest_are_static(self, behaviours):
        """Lines still there when the face is relaxed come from age and gravity: they are static."""
        self.declare(WrinkleKind(kind="static"))

    @Rule(Lines(areas=MATCH.areas),
          TEST(lambda areas: bool(set(areas) & set(_VOLUME["areas"]))))
    def lips_and_cheekbones_call_for_volume(self, areas):
        """Fuller lips or sculpted cheekbones are about volume, which the article credits to fillers."""
        self.declare(WrinkleKind(kind="volume"))

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="dynamic"),
          NOT(WrinkleKind(kind="static")), NOT(WrinkleKind(kind="volume")), salience=DECIDE)
    def recommend_botox(self):
        """Dynamic wrinkles only: the article's treatment for them is Botox."""
        self._recommend("recommend_botox", "botox", ["dynamic"])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="static"), NOT(WrinkleKind(kind="dynamic")),
          salience=DECIDE)
    def recommend_fillers_for_static_lines(self):
        """Static wrinkles (there at rest), with no dynamic ones: the article's treatment is fillers."""
        volume = bool(self._all(WrinkleKind, kind="volume"))
        self._recommend("recommend_fillers_for_static_lines", "fillers",
                        ["static"] + (["volume"] if volume else []),
                        also=[_VOLUME["source"]] if volume else [])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="volume"), NOT(WrinkleKind(kind="dynamic")),
          NOT(WrinkleKind(kind="static")), Lines(hints=MATCH.hints, behaviours=MATCH.behaviours),
          TEST(lambda hints, behaviours: "moves" in hints and not behaviours), salience=DECIDE)
    def ask_about_the_other_lines_too(self):
        """Volume wished for (lips, cheekbones) beside lines whose kind is not told yet (forehead,
        frown lines, crow's feet): ask whether those lines stay at rest before recommending."""
        areas = [a for line in self._all(Lines) for a in line["areas"]]
        self._reply("recommend_question", "recommend",
                    sources=inventory.sources_of("ask_about_the_other_lines_too"),
                    follow_up="lines_at_rest", areas=areas, rule="ask_about_the_other_lines_too")

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="volume"), NOT(WrinkleKind(kind="dynamic")),
          NOT(WrinkleKind(kind="static")), Lines(hints=MATCH.hints, behaviours=MATCH.behaviours),
          TEST(lambda hints, behaviours: "moves" not in hints or behaviours), salience=DECIDE)
    def recommend_fillers_for_volume(self):
        """A wish for fuller lips or sculpted cheekbones: the article credits fillers with both."""
        self._recommend("recommend_fillers_for_volume", "fillers", ["volume"])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="dynamic"), WrinkleKind(kind="static"),
          salience=DECIDE)
    def recommend_both_botox_first(self):
        """Dynamic and static wrinkles together: both treatments, Botox first, because each treats a
        different kind and fillers look more natural and last longer after Botox."""
        self._recommend("recommend_both_botox_first", "both", ["dynamic", "static"])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="dynamic"), WrinkleKind(kind="volume"),
          NOT(WrinkleKind(kind="static")), salience=DECIDE)
    def recommend_both_for_movement_and_volume(self):
        """Lines that come with movement plus a wish for volume: Botox for the lines, fillers for the
        volume, Botox first."""
        self._recommend("recommend_both_for_movement_and_volume", "both", ["dynamic", "volume"])

    def _recommend(self, rule, treatment, kinds, also=()):
        """A recommendation from the kinds of wrinkle found, resting on the rule's sources."""
        self._reply("recommendation", f"recommend_{treatment}",
                    sources=inventory.sources_of(rule) + list(also), handoff=True, used=["lines"],
                    treatment=treatment, kinds=kinds, rule=rule)

    @Rule(Awaiting(key="lines_at_rest"), Heard(unsure=True, line_behaviours=False))
    def lines_not_known_at_rest_are_for_the_injector(self):
        """"Dunno" to "are the lines still there when your face is relaxed?": both kinds and their
        treatments are set out, and the injector, who sees the face, tells which it is."""
        self._reply("lines_unsure", "recommend", handoff=True,
                    sources=inventory.sources_of("lines_not_known_at_rest_are_for_the_injector"),
                    rule="lines_not_known_at_rest_are_for_the_injector")

    @Rule(Move(name="recommend_now"), NOT(WrinkleKind()), salience=DECIDE)
    def ask_how_the_lines_behave(self):
        """When the description does not decide between dynamic and static, ask the one question
        that does: are the lines still there when the face is relaxed?"""
        areas = [a for line in self._all(Lines) for a in line["areas"]]
        self._reply("recommend_question", "recommend",
                    sources=inventory.sources_of("ask_how_the_lines_behave"),
                    follow_up="lines_at_rest", areas=areas, rule="ask_how_the_lines_behave")

    # -- the conversation -------------------------------------------------------------------------
    @Rule(Move(name="why"), Previous(fired=MATCH.fired, sources=MATCH.sources, used=MATCH.used,
                                     intent=MATCH.intent))
    def explain_the_last_answer(self, fired, sources, used, intent):
        """"Why?" after an answer shows the rules that produced it, the person's facts they used and
        the inventory facts with their article lines."""
        self._reply("why", "why", sources=sources, fired_before=list(fired), used_before=list(used),
                    intent_before=intent, rule="explain_the_last_answer")

    @Rule(Move(name="why"), NOT(Previous()))
    def nothing_to_explain_yet(self):
        """"Why?" before any answer: there is nothing to explain yet."""
        self._reply("why", "why", fired_before=[], used_before=[], intent_before="",
                    rule="nothing_to_explain_yet")

    @Rule(Move(name="facts"), Known(facts=MATCH.facts))
    def show_what_we_know(self, facts):
        """"What do you know about me?" lists the facts the session holds."""
        self._reply("facts", "facts", known=facts, rule="show_what_we_know")

    @Rule(Move(name="unclear"), Candidate(rank=1, topic=MATCH.topic, treatment=MATCH.treatment),
          NOT(Candidate(rank=2)), Gap(topic=MATCH.topic), NOT(Coverage(topic=MATCH.topic)),
          NOT(Move(name="urgent")))
    def a_lone_silent_topic_is_named(self, topic, treatment):
        """When the only topic close to an unclear message is one the article says nothing about
        ("what about laser resurfacing"), that is the honest answer: the question is put to the
        rules as that topic, which say the article does not cover it."""
        self.declare(Question(topic=topic, treatment=treatment))

    @Rule(Move(name="unclear"), Candidate(rank=1), Candidate(rank=2), NOT(Move(name="urgent")))
    def ask_which_they_mean(self):
        """A message with words no phrase explained and several topics about as close is not
        answered with the nearest one: the person is asked which of the closest topics they mean."""
        self._clarify("ask_which_they_mean")

    @Rule(Move(name="unclear"), Candidate(rank=1, topic=MATCH.topic), NOT(Candidate(rank=2)),
          Coverage(topic=MATCH.topic), NOT(Move(name="urgent")))
    def ask_whether_they_mean_it(self, topic):
        """A message with words no phrase explained and one topic the article covers not quite
        close enough is asked back: did you mean that topic?"""
        self._clarify("ask_whether_they_mean_it")

    def _clarify(self, rule):
        candidates = sorted(self._all(Candidate), key=lambda c: c["rank"])
        topics = inventory.topics()
        self.declare(ReplyPart(template="clarify", intent="clarify", scope="partial", sources=[],
                           handoff=False, follow_up="topic", rule=rule, used=[],
                           data={"choices": [topics[c["topic"]].label for c in candidates],
                                 "treatments": [c["treatment"] for c in candidates]}))

    @Rule(Move(name="unclear", value=MATCH.words), Focus(new=True), NOT(Candidate()),
          NOT(Question()), NOT(Move(name="urgent")))
    def not_in_the_article(self, words):
        """A message that names a treatment but asks about something no phrase or example is close
        to is told, in its own words, that the article does not cover it, and pointed to a licensed
        injector."""
        focus = [f["treatment"] for f in self._all(Focus) if f["new"]]
        self._reply("unread", "out_of_scope", scope="out_of_scope", words=words, treatments=focus,
                    rule="not_in_the_article")

    @Rule(Question(topic=L("areas") | L("purpose") | L("what"), treatment="fillers"),
          AreaAsked(area=MATCH.area, kind="moves"))
    def lines_that_move_are_for_botox(self, area):
        """Asked whether fillers suit an area whose lines come with movement (forehead, frown
        lines, crow's feet), the person is told the article gives those lines to Botox."""
        self._reply("area_for_the_other", "fillers_areas", scope="partial", handoff=True,
                    sources=inventory.sources_of("lines_that_move_are_for_botox"), area=area,
                    treatment="fillers", other="botox", rule="lines_that_move_are_for_botox")

    @Rule(Question(topic=L("areas") | L("purpose") | L("what"), treatment="botox"),
          AreaAsked(area=MATCH.area, kind="rest"))
    def lines_at_rest_and_volume_are_for_fillers(self, area):
        """Asked whether Botox suits an area of lines at rest or lost volume (lips, cheekbones, the
        lower face), the person is told the article gives those to fillers."""
        self._reply("area_for_the_other", "botox_areas", scope="partial", handoff=True,
                    sources=inventory.sources_of("lines_at_rest_and_volume_are_for_fillers"), area=area,
                    treatment="botox", other="fillers", rule="lines_at_rest_and_volume_are_for_fillers")

    @Rule(Move(name="staff"))
    def hand_over_to_staff(self):
        """Someone who asks for a person (a call back, a member of staff) is told that staff will
        take the conversation over."""
        self._reply("staff", "staff", handoff=True, rule="hand_over_to_staff")

    @Rule(Move(name="business"))
    def no_business_recommendations(self):
        """Asked where to go or whom to book: the chatbot names no business."""
        self._reply("business", "business", scope="out_of_scope", handoff=True,
                    rule="no_business_recommendations")

    @Rule(Move(name="diagnosis"))
    def no_diagnosis(self):
        """Asked to judge a symptom or condition: the chatbot does not diagnose."""
        self._reply("diagnosis", "diagnosis", scope="out_of_scope", handoff=True, rule="no_diagnosis")

    @Rule(Move(name="forgotten", value=MATCH.keys))
    def what_is_taken_back_is_forgotten(self, keys):
        """"Forget the pregnancy thing": what the person takes back is dropped and said to be."""
        self._reply("forgotten", "command", keys=keys.split(", "), rule="what_is_taken_back_is_forgotten")

    @Rule(Move(name="new_subject"))
    def the_next_client_starts_afresh(self):
        """"Next client": nothing said about the person before is carried over to the next one."""
        self._reply("new_subject", "new_subject", rule="the_next_client_starts_afresh")

    @Rule(Move(name="earlier_subject"))
    def one_person_at_a_time(self):
        """"Back to the first client": only the person checked now is kept, so nothing said about an
        earlier one is recorded (it would be put on the wrong person)."""
        self._reply("earlier_subject", "earlier_subject", rule="one_person_at_a_time")

    @Rule(Move(name="off_task"))
    def only_answers_from_the_article(self):
        """Asked for something other than an answer (a poem, a joke, a translation, an email): the
        chatbot says what it does instead."""
        self._reply("off_task", "out_of_scope", scope="out_of_scope", rule="only_answers_from_the_article")

    @Rule(Move(name="too_long"), salience=URGENT)
    def message_too_long(self):
        """A message over the length limit is asked to be shortened; nothing else is read."""
        self._reply("too_long", "too_long", scope="out_of_scope", rule="message_too_long")

    @Rule(Move(name="empty"))
    def empty_message(self):
        """An empty or blank message gets a prompt to ask something."""
        self._reply("empty", "empty", scope="out_of_scope", rule="empty_message")

    @Rule(Move(name="greeting"), NOT(Question()), NOT(ReplyPart()), salience=LAST + 2)
    def greet(self):
        """A greeting that comes with nothing else to answer is greeted back, with what the chatbot
        can do ("hi, how long does botox take?" gets the answer, not a hello)."""
        self._reply("greeting", "greeting", rule="greet")

    @Rule(Move(name="thanks"), NOT(Question()))
    def you_are_welcome(self):
        """A thank-you with no question gets a short reply."""
        self._reply("thanks", "thanks", rule="you_are_welcome")

    @Rule(Move(name="bye"), NOT(Question()), NOT(Told(new=True)))
    def goodbye(self):
        """A goodbye with no question, and nothing new said, ends politely."""
        self._reply("bye", "bye", rule="goodbye")

    @Rule(Move(name="answer", value=""), NOT(Question()), NOT(ReplyPart()), salience=LAST + 1)
    def acknowledge_a_bare_answer(self):
        """A yes, no or "ok" when the chatbot asked nothing, and nothing else to answer, is
        acknowledged with an invitation."""
        self._reply("acknowledge", "acknowledge", rule="acknowledge_a_bare_answer")

    @Rule(Move(name="about_bot"), NOT(Move(name="urgent")))
    def say_what_the_chatbot_is(self):
        """Asked what it is ("are you a bot?", "can I trust you?", "what are your sources?"): an
        automated assistant that answers from one article, names its facts, and is no clinician."""
        self._reply("about_bot", "about_bot", rule="say_what_the_chatbot_is")

    @Rule(Move(name="help"))
    def offer_help(self):
        """A request for help lists what the chatbot can answer and do."""
        self._reply("help", "help", rule="offer_help")

    @Rule(Move(name="corrected", value=MATCH.key), Told(key=MATCH.key, value=MATCH.value))
    def acknowledge_a_correction(self, key, value):
        """A fact the person corrects ("actually I'm not pregnant") is confirmed back, and everything
        that depended on it is worked out again from the new value."""
        self._reply("corrected", "corrected", used=[key], told={key: value}, rule="acknowledge_a_correction")

    @Rule(AS.told << Told(new=True, key=MATCH.key), NOT(ReplyPart()), salience=LAST + 3)
    def acknowledge_what_was_told(self, key):
        """Something told that no other rule answered is acknowledged, so the person sees it was
        understood."""
        told = {t["key"]: t["value"] for t in self._all(Told, new=True)}
        self._reply("noted", "noted", used=list(told), told=told, rule="acknowledge_what_was_told")

    @Rule(AS.asked << ReplyPart(follow_up=~L("")), AS.other << ReplyPart(follow_up=~L("")),
          TEST(lambda asked, other: _asked_first(asked, other)), salience=LAST - 1)
    def one_question_at_a_time(self, other):
        """When several answers of one turn end with a question, only one is asked: a date to
        clarify before the check's next question, the check before how the lines behave."""
        self.retract(other)

    @Rule(NOT(ReplyPart()), salience=LAST)
    def not_understood(self):
        """A message no rule could answer gets an honest "I did not understand" and examples."""
        self._reply("not_understood", "out_of_scope", scope="out_of_scope", rule="not_understood")


_ALCOHOL_DAYS = inventory.screening()["timing"]["alcohol"]["days"]
_VOLUME = inventory.reasoning()["volume"]


_QUESTION_ORDER = inventory.reasoning()["questions"]["order"]
_CHECK_FIRST = inventory.reasoning()["questions"]["check_first"]


def _asked_first(asked, other) -> bool:
    """Whether the answer `asked` puts its question before that of `other`."""
    def rank(reply):
        template = reply["template"]
        order = _QUESTION_ORDER.index(template) if template in _QUESTION_ORDER else len(_QUESTION_ORDER)
        return order, reply["data"].get("treatment") != _CHECK_FIRST, reply.__factid__
    return rank(asked) < rank(other)


def _intent(treatment: str, topic: str) -> str:
    return topic if treatment == "any" else f"{treatment}_{topic}"


def _sources_of(concerns) -> list[str]:
    return list(dict.fromkeys(s for c in concerns for s in c["sources"]))
