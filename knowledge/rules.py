"""The rules: from what the person asked and told us to the pieces of the answer.

Every rule declares `Reply` facts (a template name, its data, the inventory IDs it rests on) and
never formats text. Salience stays 0 except where a rule must win, and that rule says why.
"""
from __future__ import annotations

import sys
from datetime import date, timedelta

from chatbot.knowledge import inventory
from chatbot.knowledge._experta import AS, MATCH, NOT, TEST, DefFacts, L, Rule
from chatbot.knowledge.engine import Engine
from chatbot.knowledge.facts import (
    Appointment,
    AreaAsked,
    ArticleFact,
    Candidate,
    Check,
    Cleared,
    Concern,
    Coverage,
    Focus,
    Gap,
    Known,
    Lines,
    Mentioned,
    Move,
    Passed,
    Previous,
    Question,
    Reply,
    Screening,
    Takes,
    Today,
    Told,
    WrinkleKind,
)

URGENT = 100        # an urgent message is answered before anything else
CONTRAINDICATION = 10   # a reason not to be treated outranks any other advice
DECIDE = -1         # a recommendation waits until every wrinkle kind has been derived
LAST = -100         # the fallback speaks only when no other rule did


def _truthy(value) -> bool:
    """A told value that says "yes": True, or a non-empty list of things taken."""
    return value is True or (isinstance(value, (list, tuple)) and len(value) > 0)


def _unsure(value) -> bool:
    return value in ("unknown", "skipped")


class Expert(Engine):
    """The knowledge base: the article's facts and the rules that reason over a person's turn."""

    # -- helpers (not rules) -----------------------------------------------------------------------
    def _reply(self, template, intent, scope="answered", sources=(), handoff=False, follow_up="",
               used=(), **data):
        """Declare a Reply; the rule that called this is recorded as the reply's `rule`."""
        rule = sys._getframe(1).f_code.co_name  # the calling rule method: its name is its identity
        self.declare(Reply(template=template, intent=intent, scope=scope, sources=list(sources),
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
        self._reply("urgent", "urgent", scope="out_of_scope", handoff=True)

    # -- questions about the treatments ---------------------------------------------------------
    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment, item=MATCH.item, when=""),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   contraindication=MATCH.contraindication),
          NOT(Gap(topic=MATCH.topic)),
          NOT(Mentioned(item=MATCH.item, listed=False)))
    def answer_from_the_article(self, topic, treatment, sources, item, contraindication):
        """A question the article answers for that very treatment is answered with its facts; a
        question about a contraindication (pregnancy, breastfeeding, allergy) is also handed to an
        injector, who decides for the person."""
        self._reply("answer", _intent(treatment, topic), sources=sources, topic=topic,
                    treatment=treatment, item=item, gap="", handoff=contraindication)

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources),
          Gap(topic=MATCH.topic, text=MATCH.gap))
    def answer_what_the_article_covers(self, topic, treatment, sources, gap):
        """A question the article answers only in part is answered with what it says, names what it
        leaves out and hands over to a licensed injector."""
        self._reply("answer", _intent(treatment, topic), scope="partial", sources=sources,
                    handoff=True, topic=topic, treatment=treatment, gap=gap, item="")

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
        self._reply("other_treatment_only", _intent(treatment, topic), scope="partial",
                    sources=list(sources) + list(related), handoff=True, topic=topic,
                    treatment=treatment, other=other, stated=list(sources), related=list(related),
                    precaution=precaution)

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment),
          NOT(Coverage(topic=MATCH.topic, treatment=MATCH.treatment)),
          Gap(topic=MATCH.topic, text=MATCH.gap))
    def the_article_is_silent(self, topic, treatment, gap):
        """A question the article does not answer for that treatment: say so, give anything it says
        nearby, and point to a licensed injector."""
        related = inventory.topics()[topic].related.get(treatment, [])
        self._reply("not_covered", _intent(treatment, topic),
                    scope="partial" if related else "out_of_scope", sources=related, handoff=True,
                    topic=topic, treatment=treatment, gap=gap, related=list(related))

    @Rule(Question(topic=MATCH.topic, treatment=MATCH.treatment, item=MATCH.item, when=""),
          Mentioned(item=MATCH.item, listed=False, kind=MATCH.kind),
          TEST(lambda kind: kind != "brand"))
    def item_the_article_does_not_name(self, topic, treatment, item):
        """Asked about something the article does not name (paracetamol, fish oil, a prescribed
        blood thinner): say so, give the article's guidance for that kind of thing, hand over."""
        topic_data = inventory.topics()[topic]
        stated = topic_data.sources.get(treatment) or topic_data.related.get(treatment, [])
        self._reply("unlisted_item", _intent(treatment, topic), scope="partial", sources=stated,
                    handoff=True, topic=topic, treatment=treatment, item=item)

    @Rule(Question(when="after", topic=MATCH.topic, treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, precaution=True, treatment=MATCH.stated_for,
                   sources=MATCH.sources))
    def precaution_is_about_before_only(self, topic, treatment, stated_for, sources):
        """Asked about doing something *after* treatment that the article only warns about
        *before* an appointment: say the advice is about before, that the article says nothing about
        afterwards, and hand over to the injector."""
        self._reply("before_only", _intent(treatment, topic), scope="partial", sources=sources,
                    handoff=True, topic=topic, treatment=treatment, stated_for=stated_for)

    @Rule(Mentioned(item=MATCH.item, listed=False, kind=MATCH.kind, negated=False, told=True),
          TEST(lambda kind: kind in ("medicine", "supplement", "skincare", "hair_removal")),
          NOT(Question(item=MATCH.item)),
          Focus(treatment=MATCH.treatment))
    def you_take_something_the_article_does_not_name(self, item, kind, treatment):
        """Someone who takes or uses something the article does not name (warfarin, fish oil) is
        told so, given the article's guidance for that kind of thing, and sent to their injector."""
        topic = {"medicine": "medicines", "supplement": "supplements", "skincare": "skincare",
                 "hair_removal": "hair_removal"}[kind]
        topic_data = inventory.topics()[topic]
        stated = topic_data.sources.get(treatment) or topic_data.related.get(treatment, [])
        self._reply("unlisted_item", _intent(treatment, topic), scope="partial", sources=stated,
                    handoff=True, used=[topic], topic=topic, treatment=treatment, item=item)

    @Rule(Mentioned(kind="brand", listed=False, item=MATCH.item, category=MATCH.treatment))
    def brand_the_article_does_not_discuss(self, item, treatment):
        """A product the article does not discuss by name: what is said holds for the treatment in
        general, and the product's specifics are the injector's to explain."""
        self._reply("other_brand", f"{treatment}_brand", scope="partial", handoff=True, item=item,
                    treatment=treatment)

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
                    handoff=True, used=[key], key=key, treatment=treatment)

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
                    handoff=True, used=[key], key=key, treatment=treatment, value=value)

    @Rule(Told(live_for_self=True, topic=MATCH.topic, value=MATCH.value, key=MATCH.key),
          TEST(lambda value: _truthy(value)),
          Focus(treatment=MATCH.treatment),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources,
                   precaution=True, contraindication=False),
          NOT(Move(name="answering")),
          NOT(Question(topic=MATCH.topic, treatment=MATCH.treatment)))
    def precaution_applies_to_you(self, key, topic, treatment, sources, value):
        """Someone who takes or does something the article warns about before this treatment
        (ibuprofen, ginkgo, retinol, waxing before fillers; drinking before Botox) gets that
        precaution."""
        self._reply("personal_precaution", _intent(treatment, topic), sources=sources, used=[key],
                    key=key, topic=topic, treatment=treatment, value=value)

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
                    precaution=True, personal=key)

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

    @Rule(Move(name="missed_answer", value=MATCH.key), Screening())
    def did_not_catch_the_answer(self, key):
        """An answer to a screening question that could not be read is not guessed: the person is
        asked once more for yes, no or not sure, and nothing is recorded."""
        self._reply("missed_answer", "missed_answer", key=key)

    @Rule(Move(name="why_asked", value=MATCH.key),
          Screening(treatment=MATCH.treatment),
          Check(treatment=MATCH.treatment, key=MATCH.key, topic=MATCH.topic),
          Coverage(topic=MATCH.topic, treatment=MATCH.treatment, sources=MATCH.sources))
    def why_the_question_is_asked(self, key, treatment, sources):
        """A question about the screening question ("what has that got to do with it?") is
        answered with the article's reason for asking; nothing is recorded."""
        self._reply("why_asked", f"{treatment}_screening", sources=sources, key=key,
                    treatment=treatment)

    @Rule(Move(name="passed_over", value=MATCH.key), Screening())
    def move_on_after_a_second_miss(self, key):
        """A second answer that could not be read moves the screening on; nothing is recorded for
        that question, and it is left for the injector."""
        self._reply("passed_over", "passed_over", handoff=True, key=key)

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
        self.declare(Concern(treatment=treatment, key=key, level="ask", sources=["FIL-CONTRA"]))

    @Rule(Screening(treatment="fillers"),
          Takes(kind="medicine", category="prescribed_blood_thinner"))
    def prescribed_blood_thinner_is_for_the_injector(self):
        """A prescribed blood thinner is not among the over-the-counter medicines the article names:
        the injector (and the prescriber) decide, so it is a question to settle first."""
        self.declare(Concern(treatment="fillers", key="prescribed_blood_thinner", level="ask",
                             sources=["FIL-BLOOD-THINNERS"]))

    @Rule(Told(key="alcohol_date", value=MATCH.drink, new=True),
          Appointment(date=MATCH.appointment),
          Focus(treatment="botox"))
    def when_the_drink_falls_against_the_appointment(self, drink, appointment):
        """A drink on a known day before a Botox appointment is set against the article's two to
        three days without alcohol: inside them, tell the injector; outside, it is clear of them."""
        self._drink_against(drink, appointment)

    @Rule(Told(key="alcohol_date", value=MATCH.drink, new=False),
          Told(key="appointment_date", new=True),
          Appointment(date=MATCH.appointment),
          Focus(treatment="botox"))
    def a_drink_told_before_the_appointment_date(self, drink, appointment):
        """A drink told before the Botox appointment's date is set against that date as soon as it
        is known: the order the two were mentioned in does not matter."""
        self._drink_against(drink, appointment)

    def _drink_against(self, drink, appointment):
        days = (date.fromisoformat(appointment) - date.fromisoformat(drink)).days
        inside = 0 <= days <= _ALCOHOL_DAYS   # the article says two to three: the safe end
        rule = sys._getframe(1).f_code.co_name
        self.declare(Reply(template="alcohol_timing", intent="botox_alcohol", scope="answered",
                           sources=["BTX-ALCOHOL"], handoff=inside, follow_up="", rule=rule,
                           used=["alcohol_date", "appointment_date"],
                           data={"drink": drink, "appointment": appointment, "days": days,
                                 "inside": inside}))

    @Rule(Question(topic="alcohol", treatment="botox", when=""),
          Appointment(date=MATCH.appointment, days_away=MATCH.days),
          TEST(lambda days: days >= 0))
    def the_day_to_stop_drinking(self, appointment, days):
        """Asked about alcohol before Botox with the appointment's date known, the person is given
        the day the article's alcohol-free days begin (three days before: the safe end of two to
        three), or told they have begun."""
        start = date.fromisoformat(appointment) - timedelta(days=_ALCOHOL_DAYS)
        self._reply("alcohol_from", "botox_alcohol", sources=["BTX-ALCOHOL"],
                    used=["appointment_date"], start=start.isoformat(), appointment=appointment,
                    begun=days <= _ALCOHOL_DAYS)

    @Rule(Screening(treatment="botox"), Told(key="alcohol", value=True),
          Appointment(days_away=MATCH.days), TEST(lambda days: 0 <= days <= _ALCOHOL_DAYS),
          NOT(Told(key="alcohol_date")))
    def drinking_inside_the_alcohol_window(self, days):
        """Drinking with the Botox appointment three days away or less falls inside the article's
        two-to-three-day window: the injector should hear about it before going ahead."""
        self.declare(Concern(treatment="botox", key="alcohol_window", level="ask",
                             sources=["BTX-ALCOHOL"]))

    @Rule(Screening(treatment="botox"), Told(key="medicines", value=MATCH.value),
          TEST(lambda value: _truthy(value) or _unsure(value)))
    def medicines_go_to_the_injector(self, value):
        """Before Botox, the medicines a person takes are for their injector to hear about."""
        self.declare(Concern(treatment="botox", key="medicines", level="prepare",
                             sources=["BTX-HISTORY"]))

    @Rule(Cleared(treatment=MATCH.treatment, key=MATCH.after),
          Check(treatment=MATCH.treatment, key=MATCH.key, after=MATCH.after, topic=MATCH.topic),
          Screening(treatment=MATCH.treatment),
          NOT(Told(key=MATCH.key)),
          NOT(Passed(key=MATCH.key)),
          NOT(Concern(treatment=MATCH.treatment, level="stop")))
    def ask_the_next_check(self, treatment, key, topic, after):
        """During a screening, the first check without an answer is asked, one at a time."""
        sources = inventory.topics()[topic].sources.get(treatment, [])
        self._reply("screening_question", f"{treatment}_screening", sources=sources,
                    follow_up=key, key=key, treatment=treatment, first=after == "start")

    @Rule(Screening(treatment=MATCH.treatment), Concern(treatment=MATCH.treatment, level="stop"),
          Move(name="changed"))
    def not_advisable(self, treatment):
        """A contraindication found during screening ends it: not advisable, talk to the injector."""
        concerns = self._all(Concern, treatment=treatment, level="stop")
        self._reply("verdict_stop", f"{treatment}_verdict", handoff=True,
                    sources=_sources_of(concerns), used=[c["key"] for c in concerns],
                    treatment=treatment, keys=[c["key"] for c in concerns])

    @Rule(Screening(treatment=MATCH.treatment),
          Check(treatment=MATCH.treatment, key=MATCH.key, last=True),
          Cleared(treatment=MATCH.treatment, key=MATCH.key),
          NOT(Concern(treatment=MATCH.treatment, level="stop")),
          Concern(treatment=MATCH.treatment, level="ask"),
          Move(name="changed"))
    def settle_with_the_injector_first(self, treatment):
        """A completed screening with an open question (an unsure contraindication, a prescribed
        blood thinner) ends with: settle this with your injector before the appointment."""
        concerns = self._all(Concern, treatment=treatment)
        steps = self._steps(treatment, concerns)
        sources = _sources_of(concerns) + [s for step in steps for s in step["sources"]]
        self._reply("verdict_ask", f"{treatment}_verdict", handoff=True, scope="answered",
                    sources=list(dict.fromkeys(sources)), used=[c["key"] for c in concerns],
                    treatment=treatment, asks=[c["key"] for c in concerns if c["level"] == "ask"],
                    steps=steps)

    @Rule(Screening(treatment=MATCH.treatment),
          Check(treatment=MATCH.treatment, key=MATCH.key, last=True),
          Cleared(treatment=MATCH.treatment, key=MATCH.key),
          NOT(Concern(treatment=MATCH.treatment, level="stop")),
          NOT(Concern(treatment=MATCH.treatment, level="ask")),
          Move(name="changed"))
    def ready_with_a_checklist(self, treatment):
        """A completed screening with no contraindication ends with a personal, dated checklist
        built from the article's precautions for that treatment."""
        concerns = self._all(Concern, treatment=treatment)
        steps = self._steps(treatment, concerns)
        sources = _sources_of(concerns) + [s for step in steps for s in step["sources"]]
        self._reply("verdict_ready", f"{treatment}_verdict", sources=list(dict.fromkeys(sources)),
                    used=[c["key"] for c in concerns], treatment=treatment, steps=steps)

    @Rule(Screening(treatment="botox"), Screening(treatment="fillers"),
          Check(treatment="botox", key=MATCH.botox_last, last=True),
          Cleared(treatment="botox", key=MATCH.botox_last),
          Check(treatment="fillers", key=MATCH.fillers_last, last=True),
          Cleared(treatment="fillers", key=MATCH.fillers_last),
          Move(name="changed"))
    def both_planned_botox_first(self, botox_last, fillers_last):
        """Someone checked for both treatments is reminded, once both checks are done, that they
        are separate procedures on the same face, with Botox first."""
        self._reply("both_planned", "combining", sources=["CMB-SAME-FACE", "CMB-ORDER",
                                                          "CMB-WHY-ORDER"])

    def _steps(self, treatment, concerns):
        """The checklist: the person's own steps first, then the article's standing reminders."""
        appointments = self._all(Appointment)
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
            start = None
            if when is not None and rule.get("days"):
                start = max(when - timedelta(days=rule["days"]), self._today()).isoformat()
            told = self._all(Told, key=key)
            steps.append({"key": key, "sources": list(sources), "personal": key in personal,
                          "unsure": key in personal and personal[key]["level"] == "unsure",
                          "start": start, "days": rule.get("days"), "note": rule.get("note", ""),
                          "value": told[0]["value"] if told else None,
                          "contraindication": inventory.topics()[check["topic"]].contraindication})
        return [s for s in steps if not s["contraindication"]]

    def _today(self):
        today = self._all(Today)
        return date.fromisoformat(today[0]["date"]) if today else date.today()

    # -- appointment dates ----------------------------------------------------------------------
    @Rule(Move(name="date_problem", value=MATCH.problem))
    def unclear_date_gets_a_question(self, problem):
        """A date that is past, ambiguous or vague gets a clarifying question."""
        self._reply("date_question", "appointment_date", follow_up="appointment_date", problem=problem)

    # -- recommendation from how the lines behave ------------------------------------------------
    @Rule(Lines(behaviours=MATCH.behaviours), TEST(lambda behaviours: "moves" in behaviours))
    def lines_that_come_with_movement_are_dynamic(self, behaviours):
        """Lines that show only when the face moves (frowning, laughing, squinting) are dynamic."""
        self.declare(WrinkleKind(kind="dynamic"))

    @Rule(Lines(behaviours=MATCH.behaviours), TEST(lambda behaviours: "rest" in behaviours))
    def lines_that_stay_at_rest_are_static(self, behaviours):
        """Lines still there when the face is relaxed come from age and gravity: they are static."""
        self.declare(WrinkleKind(kind="static"))

    @Rule(Lines(areas=MATCH.areas),
          TEST(lambda areas: "lips" in areas or "cheekbones" in areas))
    def lips_and_cheekbones_call_for_volume(self, areas):
        """Fuller lips or sculpted cheekbones are about volume, which the article credits to fillers."""
        self.declare(WrinkleKind(kind="volume"))

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="dynamic"),
          NOT(WrinkleKind(kind="static")), NOT(WrinkleKind(kind="volume")), salience=DECIDE)
    def recommend_botox(self):
        """Dynamic wrinkles only: the article's treatment for them is Botox."""
        self._reply("recommendation", "recommend_botox", sources=["WRK-DYNAMIC", "BTX-AREAS"],
                    handoff=True, used=["lines"], treatment="botox", kinds=["dynamic"])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="static"), NOT(WrinkleKind(kind="dynamic")),
          salience=DECIDE)
    def recommend_fillers_for_static_lines(self):
        """Static wrinkles (there at rest), with no dynamic ones: the article's treatment is fillers."""
        volume = bool(self._all(WrinkleKind, kind="volume"))
        self._reply("recommendation", "recommend_fillers",
                    sources=["WRK-STATIC"] + (["FIL-BENEFITS"] if volume else []), handoff=True,
                    used=["lines"], treatment="fillers", kinds=["static"] + (["volume"] if volume else []))

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="volume"), NOT(WrinkleKind(kind="dynamic")),
          NOT(WrinkleKind(kind="static")), salience=DECIDE)
    def recommend_fillers_for_volume(self):
        """A wish for fuller lips or sculpted cheekbones: the article credits fillers with both."""
        self._reply("recommendation", "recommend_fillers", sources=["FIL-BENEFITS", "CMB-AREAS"],
                    handoff=True, used=["lines"], treatment="fillers", kinds=["volume"])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="dynamic"), WrinkleKind(kind="static"),
          salience=DECIDE)
    def recommend_both_botox_first(self):
        """Dynamic and static wrinkles together: both treatments, Botox first, because each treats a
        different kind and fillers look more natural and last longer after Botox."""
        self._reply("recommendation", "recommend_both",
                    sources=["WRK-DYNAMIC", "WRK-STATIC", "CMB-BOTH-WORLDS", "CMB-ORDER",
                             "CMB-WHY-ORDER"], handoff=True, used=["lines"], treatment="both",
                    kinds=["dynamic", "static"])

    @Rule(Move(name="recommend_now"), WrinkleKind(kind="dynamic"), WrinkleKind(kind="volume"),
          NOT(WrinkleKind(kind="static")), salience=DECIDE)
    def recommend_both_for_movement_and_volume(self):
        """Lines that come with movement plus a wish for volume: Botox for the lines, fillers for the
        volume, Botox first."""
        self._reply("recommendation", "recommend_both",
                    sources=["WRK-DYNAMIC", "FIL-BENEFITS", "CMB-BOTH-WORLDS", "CMB-ORDER",
                             "CMB-WHY-ORDER"], handoff=True, used=["lines"], treatment="both",
                    kinds=["dynamic", "volume"])

    @Rule(Move(name="recommend_now"), NOT(WrinkleKind()), salience=DECIDE)
    def ask_how_the_lines_behave(self):
        """When the description does not decide between dynamic and static, ask the one question
        that does: are the lines still there when the face is relaxed?"""
        areas = [a for line in self._all(Lines) for a in line["areas"]]
        self._reply("recommend_question", "recommend", sources=["WRK-DYNAMIC", "WRK-STATIC"],
                    follow_up="lines_at_rest", areas=areas)

    # -- the conversation -------------------------------------------------------------------------
    @Rule(Move(name="why"), Previous(fired=MATCH.fired, sources=MATCH.sources, used=MATCH.used,
                                     intent=MATCH.intent))
    def explain_the_last_answer(self, fired, sources, used, intent):
        """"Why?" after an answer shows the rules that produced it, the person's facts they used and
        the inventory facts with their article lines."""
        self._reply("why", "why", sources=sources, fired_before=list(fired), used_before=list(used),
                    intent_before=intent)

    @Rule(Move(name="why"), NOT(Previous()))
    def nothing_to_explain_yet(self):
        """"Why?" before any answer: there is nothing to explain yet."""
        self._reply("why", "why", fired_before=[], used_before=[], intent_before="")

    @Rule(Move(name="facts"), Known(facts=MATCH.facts))
    def show_what_we_know(self, facts):
        """"What do you know about me?" lists the facts the session holds."""
        self._reply("facts", "facts", known=facts)

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
        self._clarify()

    @Rule(Move(name="unclear"), Candidate(rank=1, topic=MATCH.topic), NOT(Candidate(rank=2)),
          Coverage(topic=MATCH.topic), NOT(Move(name="urgent")))
    def ask_whether_they_mean_it(self, topic):
        """A message with words no phrase explained and one topic the article covers not quite
        close enough is asked back: did you mean that topic?"""
        self._clarify()

    def _clarify(self):
        candidates = sorted(self._all(Candidate), key=lambda c: c["rank"])
        topics = inventory.topics()
        rule = sys._getframe(1).f_code.co_name
        self.declare(Reply(template="clarify", intent="clarify", scope="partial", sources=[],
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
        self._reply("unread", "out_of_scope", scope="out_of_scope", words=words, treatments=focus)

    @Rule(Question(topic=L("areas") | L("purpose") | L("what"), treatment="fillers"),
          AreaAsked(area=MATCH.area, kind="moves"))
    def lines_that_move_are_for_botox(self, area):
        """Asked whether fillers suit an area whose lines come with movement (forehead, frown
        lines, crow's feet), the person is told the article gives those lines to Botox."""
        self._reply("area_for_the_other", "fillers_areas", scope="partial", handoff=True,
                    sources=["WRK-DYNAMIC", "BTX-AREAS"], area=area, treatment="fillers", other="botox")

    @Rule(Question(topic=L("areas") | L("purpose") | L("what"), treatment="botox"),
          AreaAsked(area=MATCH.area, kind="rest"))
    def lines_at_rest_and_volume_are_for_fillers(self, area):
        """Asked whether Botox suits an area of lines at rest or lost volume (lips, cheekbones, the
        lower face), the person is told the article gives those to fillers."""
        self._reply("area_for_the_other", "botox_areas", scope="partial", handoff=True,
                    sources=["WRK-STATIC", "CMB-AREAS"], area=area, treatment="botox", other="fillers")

    @Rule(Move(name="staff"))
    def hand_over_to_staff(self):
        """Someone who asks for a person (a call back, a member of staff) is told that staff will
        take the conversation over."""
        self._reply("staff", "staff", handoff=True)

    @Rule(Move(name="business"))
    def no_business_recommendations(self):
        """Asked where to go or whom to book: the chatbot names no business."""
        self._reply("business", "business", scope="out_of_scope", handoff=True)

    @Rule(Move(name="diagnosis"))
    def no_diagnosis(self):
        """Asked to judge a symptom or condition: the chatbot does not diagnose."""
        self._reply("diagnosis", "diagnosis", scope="out_of_scope", handoff=True)

    @Rule(Move(name="too_long"), salience=URGENT)
    def message_too_long(self):
        """A message over the length limit is asked to be shortened; nothing else is read."""
        self._reply("too_long", "too_long", scope="out_of_scope")

    @Rule(Move(name="empty"))
    def empty_message(self):
        """An empty or blank message gets a prompt to ask something."""
        self._reply("empty", "empty", scope="out_of_scope")

    @Rule(Move(name="greeting"), NOT(Question()))
    def greet(self):
        """A greeting with no question is greeted back, with what the chatbot can do."""
        self._reply("greeting", "greeting")

    @Rule(Move(name="thanks"), NOT(Question()))
    def you_are_welcome(self):
        """A thank-you with no question gets a short reply."""
        self._reply("thanks", "thanks")

    @Rule(Move(name="bye"), NOT(Question()), NOT(Told(new=True)))
    def goodbye(self):
        """A goodbye with no question, and nothing new said, ends politely."""
        self._reply("bye", "bye")

    @Rule(Move(name="bare_answer"), NOT(Question()))
    def acknowledge_a_bare_answer(self):
        """A yes, no or "ok" when the chatbot asked nothing is acknowledged with an invitation."""
        self._reply("acknowledge", "acknowledge")

    @Rule(Move(name="help"))
    def offer_help(self):
        """A request for help lists what the chatbot can answer and do."""
        self._reply("help", "help")

    @Rule(Move(name="corrected", value=MATCH.key), Told(key=MATCH.key, value=MATCH.value))
    def acknowledge_a_correction(self, key, value):
        """A fact the person corrects ("actually I'm not pregnant") is confirmed back, and everything
        that depended on it is worked out again from the new value."""
        self._reply("corrected", "corrected", used=[key], told={key: value})

    @Rule(AS.told << Told(new=True, key=MATCH.key), NOT(Reply()), salience=LAST + 1)
    def acknowledge_what_was_told(self, key):
        """Something told that no other rule answered is acknowledged, so the person sees it was
        understood."""
        told = {t["key"]: t["value"] for t in self._all(Told, new=True)}
        self._reply("noted", "noted", used=list(told), told=told)

    @Rule(NOT(Reply()), salience=LAST)
    def not_understood(self):
        """A message no rule could answer gets an honest "I did not understand" and examples."""
        self._reply("not_understood", "out_of_scope", scope="out_of_scope")


_ALCOHOL_DAYS = inventory.screening()["timing"]["alcohol"]["days"]


def _intent(treatment: str, topic: str) -> str:
    return topic if treatment == "any" else f"{treatment}_{topic}"


def _sources_of(concerns) -> list[str]:
    return list(dict.fromkeys(s for c in concerns for s in c["sources"]))
