"""The kinds of fact the knowledge base reasons over, one class each."""
from chatbot.knowledge._experta import Fact, Field


class ArticleFact(Fact):
    """A fact the article states, under its inventory ID and with its article line."""

    id = Field(str, mandatory=True)
    line = Field(str, mandatory=True)
    treatment = Field(str, mandatory=True)   # botox | fillers | both
    topic = Field(str, mandatory=True)
    text = Field(str, mandatory=True)


class Coverage(Fact):
    """The article answers `topic` for `treatment` ("any": for both at once) with `sources`."""

    topic = Field(str, mandatory=True)
    treatment = Field(str, mandatory=True)
    sources = Field(list, mandatory=True)
    precaution = Field(bool, default=False)
    contraindication = Field(bool, default=False)


class Gap(Fact):
    """Something the article does not say on `topic`; `related` holds what it says nearby."""

    topic = Field(str, mandatory=True)
    text = Field(str, mandatory=True)
    related_botox = Field(list, default=[])
    related_fillers = Field(list, default=[])


class Question(Fact):
    """Something the person asked this turn: a topic, for a treatment ("any" for both at once)."""

    topic = Field(str, mandatory=True)
    treatment = Field(str, mandatory=True)
    item = Field(str, default="")
    when = Field(str, default="")   # "after": asked about after the treatment, not before it


class Told(Fact):
    """Something the person told us about themselves; `new` when said this turn."""

    key = Field(str, mandatory=True)
    value = Field(object, mandatory=True)
    topic = Field(str, default="")   # the knowledge-base topic this fact bears on, if any
    new = Field(bool, default=False)
    live = Field(bool, default=False)           # new, or a treatment was named again this turn
    live_for_self = Field(bool, default=False)  # new, or a treatment was named "for me" this turn


class Known(Fact):
    """Everything the session holds about the person, for "what do you know about me?"."""

    facts = Field(dict, mandatory=True)


class Mentioned(Fact):
    """An item the person named this turn, as the lexicon classifies it."""

    item = Field(str, mandatory=True)
    kind = Field(str, mandatory=True)       # medicine | supplement | skincare | hair_removal | brand
    category = Field(str, mandatory=True)
    listed = Field(bool, mandatory=True)    # whether the article itself names this category
    negated = Field(bool, default=False)    # named as something the person does not take
    told = Field(bool, default=False)       # the person said they take it (not only asked)


class Focus(Fact):
    """A treatment this turn is about; `new` when named in this very message."""

    treatment = Field(str, mandatory=True)
    new = Field(bool, default=False)
    for_self = Field(bool, default=False)   # named with a plan or "can I get...?"


class Move(Fact):
    """A conversational move: greeting, thanks, bye, help, why, facts, business, diagnosis, urgent..."""

    name = Field(str, mandatory=True)
    value = Field(str, default="")


class Heard(Fact):
    """What this message was read to do, for the rules that decide what follows from it."""

    nothing = Field(bool, default=False)     # nothing in it could be read: no answer, question, fact...
    recommendation = Field(bool, default=False)   # asks what to get ("what would you suggest?")
    business = Field(bool, default=False)    # asks about a business (prices, booking, opening hours)
    choosing = Field(bool, default=False)    # "am I ok for botox or filler?", naming both treatments
    either = Field(bool, default=False)      # ... as a choice between them ("or", "vs", "which")
    questions = Field(bool, default=False)   # asks about at least one topic
    told = Field(bool, default=False)        # tells something about the person
    line_areas = Field(bool, default=False)         # names where lines are (forehead, lips...)
    line_behaviours = Field(bool, default=False)    # says how lines behave (with movement, at rest)
    unsure = Field(bool, default=False)      # a "not sure" answer ("dunno", "no idea")


class Awaiting(Fact):
    """The question the last reply asked, still waiting for an answer; `missed` when one reply to
    it could already not be read."""

    key = Field(str, mandatory=True)
    missed = Field(bool, default=False)


class AreaAsked(Fact):
    """A face area named in a question, with how its lines usually behave (moves | rest)."""

    area = Field(str, mandatory=True)
    kind = Field(str, mandatory=True)


class Passed(Fact):
    """A screening check passed over: its answer was not understood twice, so nothing is recorded
    for it and it stays open for the injector."""

    key = Field(str, mandatory=True)


class Candidate(Fact):
    """A topic the example ranker finds close to a message no phrase explained (rank 1: closest)."""

    topic = Field(str, mandatory=True)
    treatment = Field(str, mandatory=True)
    rank = Field(int, mandatory=True)


class Today(Fact):
    """The date the conversation takes place on (pinned by CHATBOT_TODAY in tests and demos)."""

    date = Field(str, mandatory=True)


class Takes(Fact):
    """Something the person takes or uses, as the lexicon classifies it."""

    item = Field(str, mandatory=True)
    kind = Field(str, mandatory=True)
    category = Field(str, mandatory=True)


class Previous(Fact):
    """What the last answer rested on, for "why?"."""

    fired = Field(list, mandatory=True)
    sources = Field(list, mandatory=True)
    used = Field(list, mandatory=True)
    intent = Field(str, mandatory=True)


class Screening(Fact):
    """The person wants to be checked before `treatment` (an appointment, "am I ready?"); `about`
    says whom the check is for: the person themselves or a client of the staff member asking."""

    treatment = Field(str, mandatory=True)
    about = Field(str, default="self")   # self | client


class Check(Fact):
    """One screening question for a treatment; `after` names the check asked before it."""

    treatment = Field(str, mandatory=True)
    key = Field(str, mandatory=True)
    after = Field(str, mandatory=True)
    topic = Field(str, mandatory=True)
    last = Field(bool, default=False)


class Cleared(Fact):
    """Every screening check up to and including `key` has an answer."""

    treatment = Field(str, mandatory=True)
    key = Field(str, mandatory=True)


class Concern(Fact):
    """A screening answer that needs acting on: `level` stop (contraindication), ask or prepare."""

    treatment = Field(str, mandatory=True)
    key = Field(str, mandatory=True)
    level = Field(str, mandatory=True)   # stop | ask | prepare
    sources = Field(list, mandatory=True)


class Plan(Fact):
    """The treatment the person plans ("" when none is known), declared when a message may start a
    check; `said` when the plan was told this turn, `about` whom a check would be for."""

    treatment = Field(str, default="")
    said = Field(bool, default=False)
    about = Field(str, default="self")   # self | client


class CheckWanted(Fact):
    """This turn asks for a check before the planned treatment ("check me", "am I ok for Botox?",
    an appointment booked, a plan changed during a check)."""


class Begin(Fact):
    """The check before `treatment` is (still) to run after this turn."""

    treatment = Field(str, mandatory=True)


class Screened(Fact):
    """A verdict on the check before `treatment` has been given (this turn, or an earlier one)."""

    treatment = Field(str, mandatory=True)


class VerdictDue(Fact):
    """The check before `treatment` is to end with a verdict this turn: it has none yet, or an
    answer it rests on changed."""

    treatment = Field(str, mandatory=True)


class Appointment(Fact):
    """The appointment for `treatment`, `days_away` from today; one per treatment booked."""

    treatment = Field(str, mandatory=True)
    date = Field(str, mandatory=True)
    days_away = Field(int, mandatory=True)
    new = Field(bool, default=False)       # a date was booked or changed this turn
    named = Field(bool, default=True)      # booked for this treatment (not a date with none named)
    several = Field(bool, default=False)   # more than one appointment is booked


class Drink(Fact):
    """A drink the person had or plans, on `date`; `new` when told this turn."""

    date = Field(str, mandatory=True)
    new = Field(bool, default=False)


class Lines(Fact):
    """How the person describes their wrinkles: where, and whether they show at rest."""

    areas = Field(list, default=[])
    hints = Field(list, default=[])
    behaviours = Field(list, default=[])   # "moves" and/or "rest"; empty when not said


class WrinkleKind(Fact):
    """A kind of wrinkle the person has, derived from their description: dynamic or static."""

    kind = Field(str, mandatory=True)


class ReplyPart(Fact):
    """A piece of the answer: which template, with what data, resting on which inventory IDs."""

    template = Field(str, mandatory=True)
    intent = Field(str, mandatory=True)
    scope = Field(str, mandatory=True)         # answered | partial | out_of_scope
    sources = Field(list, default=[])
    handoff = Field(bool, default=False)
    follow_up = Field(str, default="")
    data = Field(dict, default={})
    rule = Field(str, mandatory=True)
    used = Field(list, default=[])             # the person's facts the rule relied on
