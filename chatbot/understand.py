"""Understanding: one message (and the conversation so far) in, plain data about it out.

Nothing here knows about rules or templates. The output says what the person asked (questions:
a topic and a treatment), what they told us about themselves (facts, with negation and "not
sure"), which conversational moves they made (greeting, thanks, why, ...), and which words the
lexicon mapped to the article's categories, so the reply can show that mapping.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from chatbot import dates
from chatbot import lexicon as lexicon_module
from chatbot.lexicon import Lexicon, Match, normalise

MAX_LENGTH = 2000  # characters; a longer message is asked to be shortened, not read

# What the readers know of English and of the topics, from the lexicon's [grammar] tables (each
# list is described there): content in data, mechanism here.
_GRAMMAR = lexicon_module.load().grammar
QUESTION_STARTERS = _GRAMMAR.question_starters
MODALS = _GRAMMAR.modals
WEAK_TOPICS = _GRAMMAR.weak_topics
VAGUE_TOPICS = _GRAMMAR.vague_topics
FRAMED_TOPICS = _GRAMMAR.framed_topics
PRONOUNS = _GRAMMAR.pronouns
TREATMENTS = ("botox", "fillers")
MOVES_OVER_TOPICS = _GRAMMAR.moves_over_topics
SCREENING_KEYS = ("pregnant", "breastfeeding", "allergic", "blood_thinners", "supplements", "skincare",
                  "hair_removal", "alcohol", "medicines")
PRECAUTION_TOPICS = _GRAMMAR.precaution_topics
AFTER_WORDS = _GRAMMAR.after_words
BEFORE_WORDS = _GRAMMAR.before_words
PREFERRED = _GRAMMAR.precedence
PAST_WORDS = _GRAMMAR.past_words
DOUBT = _GRAMMAR.doubt_before_if
CHECKING_PHRASES = _GRAMMAR.checking_phrases
NOT_AN_ANSWER = _GRAMMAR.not_an_answer
PRESCRIBED = _GRAMMAR.prescribed
FOLLOW_UPS = _GRAMMAR.follow_ups
ANY_TOPICS = _GRAMMAR.both_topics
TOPIC_OF_KIND = _GRAMMAR.topic_of_kind
TOPIC_OF_CONDITION = _GRAMMAR.topic_of_condition
CLASS_WORDS = _GRAMMAR.class_items
LIST_KEY_OF_KIND = _GRAMMAR.list_of_kind
_APPOINTMENT_WORDS = _GRAMMAR.appointment_words
_DRINK_WORDS = _GRAMMAR.drink_words
_NOT_SIGNS = tuple(lexicon_module.load().data["symptoms"]["not_symptoms"])
_ORDINAL = re.compile(r"\d{1,2}(?:st|nd|rd|th)")
_SENTENCE = re.compile(r"([^.?!;\n]*)([.?!;\n]+|$)")
_MONEY = re.compile(r"[$\u00a3\u20ac]\s?\d|\d\s?(?:usd|gbp|eur)\b", re.IGNORECASE)   # "$500", "£300"
_PIECE = re.compile(r",|\s[-\u2013\u2014:]+\s")   # "lip job - will it look weird?": two pieces
_SPLIT_BEFORE = _GRAMMAR.clause_starters
BARE_AREA_TOPICS = _GRAMMAR.bare_area_topics
BEHAVIOUR_LABELS = {"moves": "lines that come with movement", "rest": "lines that stay at rest"}


@dataclass(frozen=True)
class Asked:
    """Something the person asked: a topic of the knowledge base, for a treatment."""

    topic: str
    treatment: str | None = None   # botox | fillers | any | None (not said; resolved by the session)
    item: str = ""                 # the lexicon item asked about (e.g. "ibuprofen")
    when: str = ""                 # "after": asked about after the treatment, not before


@dataclass(frozen=True)
class Mention:
    """A thing the person named that the lexicon maps to an article category."""

    word: str          # as written (normalised)
    item: str          # lexicon key, e.g. "ibuprofen"
    kind: str          # medicine | supplement | skincare | hair_removal | brand
    category: str      # e.g. blood_thinner, listed_supplement; for brands the treatment
    says: str          # the mapping in words, for the reply
    listed: bool       # whether the article itself names this category
    negated: bool = False
    generic: bool = False  # a class word ("supplements"): no "X is Y" mapping to show
    label: str = ""        # how the reply names the item
    in_article: bool = False   # the article itself names it: no "X is Y" line needed
    told: bool = False         # said about oneself ("I take warfarin"), not only asked about


@dataclass
class Understanding:
    """What one message says, as data."""

    text: str
    questions: list[Asked] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    told: dict[str, object] = field(default_factory=dict)
    mentions: list[Mention] = field(default_factory=list)
    treatments: list[str] = field(default_factory=list)
    answer: str | None = None             # yes | no | unknown | skip, to the bot's last question
    date_problem: str | None = None       # past | ambiguous | which_week | vague | invalid | weekday
    date_words: str = ""
    lines: dict[str, object] = field(default_factory=dict)   # areas and behaviour of wrinkles
    too_long: bool = False
    empty: bool = False
    answering_for_client: bool = False    # a check of a client is under way: "she" is the client
    checking_who: str = ""                # whom that check is for, when named ("your friend")
    pending: str = ""                     # what the bot asked: a bare word may answer it
    advising: bool = False                # the last reply was a recommendation from the lines
    listing: bool = False                 # several clauses ("meds: advil, tylenol"): a list may tell
    forget: list = field(default_factory=list)   # facts taken back: "forget the pregnancy thing"
    treated_already: bool = False         # "I had fillers last month": asking about afterwards
    unread: str = ""                      # words no phrase explained, as written ("men", "insurance")
    candidates: list[str] = field(default_factory=list)   # closest topics when unsure, best first
    ranked: str = ""                      # the topic the example ranker proposed, if it did
    drink_corrected: bool = False         # the drink's day just told replaces the one told before
    drink_dates: list[str] = field(default_factory=list)   # every drink's day told, the last one last
    behaviour_of_an_area: bool = False    # how the lines behave was told beside an area named
    other_lines: bool = False             # "and what about my smile lines?": these lines, not the last
    lines_corrected: bool = False         # how the lines behave, told again in place of before
    untold_hints: list[str] = field(default_factory=list)   # the kinds of areas named with no behaviour
    asked_areas: list[tuple[str, str]] = field(default_factory=list)   # (area, how its lines behave)


@dataclass
class _Clause:
    words: list[str]
    question: bool
    matches: list[Match]

    def of(self, section: str) -> list[Match]:
        return [m for m in self.matches if m.section == section]


def understand(text: str, lexicon: Lexicon, today: date, context: dict | None = None) -> Understanding:
    """Read one message. `context` is the conversation so far (last topics, pending question, ...)."""
    context = context or {}
    result = Understanding(text=text)
    if len(text) > MAX_LENGTH:
        result.too_long = True
        return result
    clauses = _corrected(_clauses(lexicon.spell_emoji(text), lexicon))
    if not any(clause.words for clause in clauses):
        result.empty = True
        return result

    picked = _read_choice(clauses, context, _GRAMMAR.ordinals)
    if picked:
        result.questions.append(Asked(picked, "any" if picked in ANY_TOPICS else None))
        return result
    result.answering_for_client = context.get("about") == "client" and (
        context.get("pending") in SCREENING_KEYS or bool(context.get("screening"))
        or bool(context.get("client_check")))   # a message that starts a client's check
    result.checking_who = context.get("who") or ""
    result.pending = context.get("pending") or ""
    result.advising = (context.get("last_trace") or {}).get("intent", "").startswith("recommend")
    result.listing = len(clauses) > 1
    result.treated_already = bool(context.get("treated_already")) or any(
        _treated(c, today) and not c.of("plans") for c in clauses)
    _read_clauses(clauses, lexicon, result)
    _a_no_taken_back(clauses, lexicon, result)
    _name_the_item_asked_about(result)
    _leave_treatments_behind(clauses, lexicon, result, today)
    if _weigh_intents(clauses, text, context, result):
        return result   # an urgent message is answered with the urgent advice alone
    if "forget" in result.intents:
        _take_back(clauses, lexicon, result)
    if context.get("screening") and "new_subject" not in result.intents:
        named = whom_a_check_is_for(text, lexicon)
        if named and named[0].isupper() and named != context.get("who"):
            result.intents.append("new_subject")   # "ok now Jane, botox friday": the next person
    _read_answer(clauses, context, result, lexicon)
    _both_kinds(clauses, context, result)
    if context.get("pending") == "blood_thinners" and result.told.get("prescribed") and (
            "blood_thinners" not in result.told):
        # "my doctor put me on aspirin": a prescribed blood thinner, for the injector to weigh
        result.told["blood_thinners"] = "unknown"
    _read_dates(clauses, text, today, context, lexicon, result)
    _carry_over(clauses, context, result, lexicon)
    return result


def _both_kinds(clauses: list[_Clause], context: dict, result: Understanding) -> None:
    """"Kinda both?" to "are they there when your face is relaxed?": lines of both kinds."""
    spoken = f" {' '.join(w for c in clauses for w in c.words)} "
    if context.get("pending") == "lines_at_rest" and not result.lines.get("behaviours") and not (
            result.told) and any(f" {p} " in spoken for p in _GRAMMAR.both_kinds):
        result.lines["behaviours"] = ["moves", "rest"]
        result.questions, result.treatments = [], []
        result.intents = [i for i in result.intents if i not in ("eligibility", "suitable")]


def _a_no_taken_back(clauses: list[_Clause], lexicon: Lexicon, result: Understanding) -> None:
    """"I don't really drink, maybe one glass on Saturday", "I won't drink, except maybe a glass on
    the 3rd": a no about drinking that the same message takes back in part is unsure, never a no."""
    if result.told.get("alcohol") is not False:
        return
    spoken = f" {' '.join(w for c in clauses for w in c.words)} "
    drinks_named = [c for c in clauses if any(m.key == "alcohol" for m in c.of("topics"))
                    or _GRAMMAR.drink_words.search(" ".join(c.words))]
    if any(phrase in spoken for phrase in _GRAMMAR.exceptions) or (
            len(drinks_named) > 1 and any(_doubtful(c, lexicon) for c in drinks_named[1:])):
        result.told["alcohol"] = "unknown"


def _name_the_item_asked_about(result: Understanding) -> None:
    """"I'm on Ozempic, does the medication matter?": "the medication" is the one just named."""
    for at, question in enumerate(result.questions):
        key = LIST_KEY_OF_KIND.get(next((k for k, t in TOPIC_OF_KIND.items() if t == question.topic), ""))
        named = [n for n in result.told.get(key) or [] if n != "unspecified"] if key else []
        if not question.item and len(named) == 1:
            result.questions[at] = Asked(question.topic, question.treatment, named[0], question.when)


def _read_clauses(clauses: list[_Clause], lexicon: Lexicon, result: Understanding) -> None:
    """Each clause through the readers; a clause naming only a treatment ("and fillers?") asks the
    previous clause's question again for it."""
    previous: list[Asked] = []
    # "thin lips, want more volume, what should I book?": the lines told before the question asked
    advice = any(m.key == "recommend" for c in clauses for m in c.of("intents"))
    for clause in clauses:
        before = len(result.questions)
        _read_clause(clause, lexicon, result, advice)
        added = result.questions[before:]
        if not added and previous and _only_names_a_treatment(clause):
            # "how long does botox take? and fillers?": the same question for the other one
            treatment = "both" if len({m.key for m in clause.of("treatments")}) > 1 else (
                (clause.of("treatments") or clause.of("brands"))[0].key)
            treatment = lexicon.data["brands"].get(treatment, {}).get("treatment", treatment)
            for question in previous:
                if question.treatment not in ("any", None):
                    result.questions.append(Asked(question.topic, treatment, question.item,
                                                     question.when))
        elif added:
            previous = added


def _weigh_intents(clauses: list[_Clause], text: str, context: dict, result: Understanding) -> bool:
    """What the message as a whole asks, once every clause is read: a price, an urgent report, a
    question about a business, a recommendation. True when the message is urgent (nothing else
    is then answered)."""
    if _MONEY.search(text) and any(c.question for c in clauses) and not any(
            q.topic == "cost" for q in result.questions):
        # "is botox more than $500?": a question about the price, whatever else it names
        result.questions = [q for q in result.questions if q.topic not in WEAK_TOPICS]
        result.questions.append(Asked("cost", _one_treatment(result.treatments)))
    if "urgent" in result.intents and not context.get("treated_already") and _asks_in_general(clauses):
        # "can botox cause a droopy eyelid?" asks about side effects; it reports nothing
        result.intents.remove("urgent")
        if not any(q.topic == "side_effects" for q in result.questions):
            result.questions.append(Asked("side_effects", _one_treatment(result.treatments)))
    # Only an answer to the allergy question that names no treatment is read as history ("I had a
    # rash after a latex glove once"); anywhere else "once" may be "once I got home": still urgent.
    everything = f" {' '.join(w for c in clauses for w in c.words)} "
    training = any(p in everything for p in _GRAMMAR.training_frames) and not any(
        c.of("recent") for c in clauses)   # "... whose lip is swelling right now" stays urgent
    if "urgent" in result.intents and training:
        # "what do I tell a client who says she had a reaction to filler?": a question, no report
        result.intents.remove("urgent")
        if not result.questions:
            result.questions.append(Asked("side_effects", _one_treatment(result.treatments)))
    long_past = context.get("pending") == "allergic" and bool(_LONG_PAST.search(text.lower())) and not (
        context.get("treated_already") or result.treated_already or result.treatments)
    if long_past and "urgent" in result.intents:
        result.intents.remove("urgent")   # "I had a rash after a latex glove once": history, not now
    if not long_past and not training and ("urgent" in result.intents or _sounds_urgent(
            clauses, bool(context.get("treated_already")))):
        # An urgent message is answered with the urgent advice alone.
        result.questions, result.intents, result.lines = [], ["urgent"], {}
        return True
    said = " " + " ".join(w for c in clauses for w in c.words) + " "
    if "forget" in result.intents and any(f" {p} " in said for p in _GRAMMAR.not_forgetting):
        result.intents.remove("forget")   # "before I forget, can I wax before filler?"
    if "checklist" in result.intents and context.get("screened") and not (
            result.treatments or result.told or result.questions):
        # "so can I go ahead?" after the verdict: the verdict again
        result.intents = [i for i in result.intents if i != "checklist"] + ["checklist_again"]
    if "checklist_again" in result.intents and not context.get("screened"):
        result.intents = [i for i in result.intents if i != "checklist_again"] + ["checklist"]
    if "earlier_subject" in result.intents:
        # "back to the first client, she takes fish oil": the chatbot holds one person at a time;
        # what is said would land on the person checked now, so nothing is recorded
        result.questions, result.told, result.lines, result.intents = [], {}, {}, ["earlier_subject"]
        result.mentions, result.treatments = [], []
        return False
    if "diagnosis" in result.intents and not any(c.question for c in clauses):
        result.intents.remove("diagnosis")   # "I once got a rash from..." tells, it does not ask
    if {"business", "diagnosis", "off_task"} & set(result.intents):
        # "is dr smith good for botox", "a rash, what is it?", "write me a poem about lips": no
        # vague topic answered alongside, no lines to recommend for
        result.questions = [q for q in result.questions if q.topic not in WEAK_TOPICS and result.treatments]
        result.lines = {}   # "do you do laser hair removal": about the business, no treatment asked
    if {"about_bot", "staff"} <= set(result.intents) and not any(
            any(m.key == "staff" for m in c.of("intents")) and not _asks_about_the_bot(c) for c in clauses):
        result.intents.remove("staff")   # "am I talking to a bot or a human?" asks what this is
    if "about_bot" in result.intents and (result.questions or result.treatments or result.lines):
        result.intents.remove("about_bot")   # "who wrote the article on botox safety?" asks the safety
    if "help" in result.intents and result.asked_areas and not (result.questions or result.treatments) and (
            "recommend" not in result.intents):
        result.intents.append("recommend")   # "lips thin, what can you do?": advice on the lips
    if "help" in result.intents and (result.questions or result.treatments or result.lines or (
            "recommend" in result.intents)):
        # "can botox help sweating?", "my forehead is wrinkly, help": a question, not a call for help
        result.intents.remove("help")
    framed = {m.key for c in clauses for m in c.of("topics") if any(
        f" {m.words} " in frame and frame in f" {' '.join(c.words)} " for frame in _GRAMMAR.answer_frames)}
    unframed = {m.key for c in clauses for m in c.of("topics")} - framed
    if framed and (result.treatments or unframed or result.lines):
        # "a client's asking what Botox is, what do I tell her?": what she asks, not the history
        result.questions = [q for q in result.questions if q.topic not in framed - unframed - {"what"}]
    if set(result.told) - {"treatment"} and any(q.topic == "what" for q in result.questions):
        # "I took ginkgo yesterday, my filler is today, what do I do": not "what are fillers"
        result.questions = [q for q in result.questions if q.topic != "what"]
    spoken = " " + " ".join(w for c in clauses for w in c.words) + " "
    if ("recommend" in result.intents or result.lines or result.asked_areas) and any(
            q.topic == "age" for q in result.questions) \
            and not any(phrase in spoken for phrase in _GRAMMAR.age_asked):
        # "I'm 32 with lines when I frown, what's the move?": the age is context, not the question
        result.questions = [q for q in result.questions if q.topic != "age"]
    if result.lines and not result.questions and "recommend" not in result.intents and any(
            phrase in spoken for phrase in _GRAMMAR.asking_advice):
        result.intents.append("recommend")   # "saggy skin, what should I do?": advice on the lines
    if "recommend" in result.intents and (result.lines or result.asked_areas):
        # "lines that stay when my face is still, what treats that?", "got dynamic lines on my
        # forehead, what's the right injectable?": the recommendation answers; a topic asked in a
        # question of its own ("... and how much is it?") stays
        apart = {m.key for c in clauses if c.question and not _carries_advice(c) for m in c.of("topics")}
        result.questions = [q for q in result.questions if (
            q.topic not in WEAK_TOPICS or not result.lines) and (
            q.topic in apart or q.topic not in _GRAMMAR.recommendation_answers)]
    if "recommend" in result.intents and result.treatments and not result.lines and not any(
            c.of("line_behaviour") or c.of("areas") for c in clauses) and not (
            len(set(result.treatments)) > 1 and set(spoken.split()) & _GRAMMAR.choice_words):
        # "what time of day is best for fillers?": the treatment is chosen; no lines described
        result.intents.remove("recommend")
    if "eligibility" in result.intents and set(spoken.split()) & _GRAMMAR.candidacy_words and not (
            result.treatments or result.questions or result.told or result.lines
            or context.get("last_treatment")):
        result.intents.append("checklist")   # "am I eligible?": the check, for both treatments
    if len(set(result.treatments)) > 1 and set(spoken.split()) & _GRAMMAR.choice_words and (
            result.asked_areas) and all(q.topic in WEAK_TOPICS for q in result.questions) and not (
            result.told or result.lines):
        # "what about frown lines, botox or filler?": which suits the area, a recommendation
        result.questions = []
        result.intents = [i for i in result.intents if i != "eligibility"] + ["recommend"]
        result.lines = {"areas": [a for a, _ in result.asked_areas],
                        "hints": list(dict.fromkeys(h for _, h in result.asked_areas))}
        result.unread, result.candidates = "", []
    if "checklist_again" in result.intents:
        # "am I still ok to go?" after a check: its verdict again, not whether to go ahead in general
        result.questions = [q for q in result.questions if q.topic != "go_ahead"]
        result.intents = [i for i in result.intents if i != "eligibility"]
    if "eligibility" in result.intents and [q.topic for q in result.questions] == ["age"] and (
            result.questions[0].treatment != "botox"):   # (the article rules nobody out of Botox)
        # "can I have them? I'm 34 and healthy": no age limit in the article, but who cannot have them
        result.questions.append(Asked("contraindications", result.questions[0].treatment))
    said = result.lines.get("behaviours")
    if said and any(c.of("corrections") for c in clauses):
        result.lines_corrected = True   # "wait, actually they're there all the time": not both
    if said and result.behaviour_of_an_area:
        # "I have frown lines, and deep lines around my mouth that are always there": the frown
        # lines keep the kind their name gives
        said += [hint for hint in dict.fromkeys(result.untold_hints) if hint not in said]
    choosing = len(set(result.treatments)) > 1 and set(spoken.split()) & _GRAMMAR.choice_words
    if result.lines and choosing and all(q.topic in WEAK_TOPICS for q in result.questions) and not (
            result.told) and any(c.question for c in clauses) and "recommend" not in result.intents:
        # "lines on my forehead when I raise my eyebrows: would Botox or filler suit me better?"
        result.questions = []
        result.intents = [i for i in result.intents if i != "eligibility"] + ["recommend"]
    if "recommend" in result.intents and not result.lines and result.asked_areas and all(
            q.topic in WEAK_TOPICS for q in result.questions) and not result.told:
        # "thin lips, want more volume, what treatment should I book?": the areas told are the lines
        result.questions = []
        result.lines = {"areas": [a for a, _ in result.asked_areas],
                        "hints": list(dict.fromkeys(h for _, h in result.asked_areas))}
        result.unread, result.candidates = "", []
    asked_in_general = [m for c in clauses for m in c.of("intents") if m.key == "eligibility"]
    if "eligibility" in result.intents and result.treatments and asked_in_general and all(
            m.words in _GRAMMAR.general_eligibility for m in asked_in_general) and not (
            result.questions or result.lines
            or set(result.told) & {"treatment", "appointment_date", *TOPIC_OF_CONDITION}
            or result.date_problem
            or {"checklist", "recommend", "suitable"} & set(result.intents)
            or any(c.of("plans") for c in clauses) or set(spoken.split()) & _GRAMMAR.now_words):
        # "can I get botox?" asks what the article says of who can and what to do before, not for a
        # check: it is answered, and the reply offers the check
        result.intents.remove("eligibility")
        treatment = _one_treatment(result.treatments)
        if treatment == "both" and not set(spoken.split()) & _GRAMMAR.choice_words:
            result.questions.append(Asked("combining", "any"))   # "can I get botox and filler?": both
        else:
            # (the fillers' precautions already end with who cannot have them)
            result.questions += [Asked("contraindications", treatment)] if treatment != "fillers" else []
            result.questions.append(Asked("precautions", treatment))
    set_aside = any(f" {p} " in f" {spoken} " for p in _GRAMMAR.besides)
    only_precautions = all(q.topic in PRECAUTION_TOPICS for q in result.questions)
    if set_aside and result.treatments and result.questions and (
            set(spoken.split()) & {"else", "other"} or only_precautions):
        # "besides ibuprofen, what else should I stop before filler?": the rest of the precautions
        treatment = _one_treatment(result.treatments)
        result.questions = [Asked("precautions", treatment)]
    asks_order = any(q.topic == "order" for q in result.questions)
    if "recommend" in result.intents and not result.lines and asks_order:
        result.intents.remove("recommend")   # "which one should come first?": their order
    if "suitable" in result.intents and any(q.topic == "order" for q in result.questions):
        result.intents.remove("suitable")   # "should I get filler before botox?": their order
    if "suitable" in result.intents:
        # "is botox right for me?", "should I get filler?": whether it suits the lines
        result.intents = [i for i in result.intents if i not in ("suitable", "eligibility", "recommend")]
        result.intents.append("recommend")
        result.questions = [q for q in result.questions if q.topic not in WEAK_TOPICS]
    spoken_words = [w for c in clauses for w in c.words]
    if "why" in result.intents and not context.get("last_trace") and len(spoken_words) > 4 and all(
            m.words == "why" for c in clauses for m in c.of("intents") if m.key == "why"):
        result.intents.remove("why")   # "why do lips thin with age": a question, with nothing to explain
    if "why" in result.intents and (result.questions or result.treatments or result.lines):
        result.intents.remove("why")   # "why botox before fillers?" is a question, not "explain that"
    return False


def _carries_advice(clause: _Clause) -> bool:
    """Whether a clause asks for advice or describes lines (then its topic words are part of that)."""
    return bool(clause.of("areas") or clause.of("line_behaviour") or any(
        m.key in ("recommend", "suitable") for m in clause.of("intents")))


def _read_dates(clauses: list[_Clause], text: str, today: date, context: dict, lexicon: Lexicon,
                result: Understanding) -> None:
    """The appointment's date and the drinks' dates, each where it belongs, whatever the order."""
    spoken = " ".join(w for c in clauses for w in c.words)
    names_the_appointment = bool(_GRAMMAR.appointment_words.search(spoken) or _opened(spoken).startswith(
        _GRAMMAR.appointment_pronouns) or (   # "no wait, 12/22": the day just told, corrected
        _opened(spoken) != spoken and context.get("has_appointment")
        and not (context.get("answered") == "alcohol" and context.get("drinks")))) and not (
        _GRAMMAR.drink_words.search(spoken))
    # "my appointment is the 10th", "it's on Sunday": the appointment, not a drink
    answering_drinks = context.get("pending") == "alcohol" and not result.treatments and not any(
        c.question for c in clauses) and not names_the_appointment
    # "a glass of wine maybe", "tonight": the drinks asked about
    if answering_drinks:
        _answer_with_a_drink(clauses, lexicon, result)
    date_text = _which_week(_date_text(text), context)
    # "I had wine on the 3rd", then "sorry, I meant the 1st": the drink's day corrected, not the
    # appointment's
    drink_corrected = context.get("answered") == "alcohol" and context.get("drinks") and not (
        result.treatments or names_the_appointment) and _corrects(spoken)
    # "what about the 2nd?", "and the 8th?" just after a drink's day: another drink's day
    another_drink = "alcohol" in (context.get("last_topics") or []) and context.get("drinks") and not (
        result.treatments or names_the_appointment or result.told) and len(spoken.split()) <= 5 and bool(
        set(spoken.split()) & (_GRAMMAR.follow_up_words - {"the", "a", "an", "my", "it", "is"}))
    drinking = [c for c in clauses if _GRAMMAR.drink_words.search(" ".join(c.words))]
    others_drink = not result.answering_for_client and any(c.of("others") for c in drinking) and not any(
        c.of("self") and not c.of("others") for c in drinking)   # "my friend had wine Wednesday"
    drink_first = (_about_a_drink(result) or answering_drinks or drink_corrected or another_drink) and not (
        others_drink) and not (
        (result.treatments or _BOOKING_WORDS.search(spoken)) and dates.nearer(
            date_text, today, _APPOINTMENT_WORDS, _DRINK_WORDS))
    if drink_first:
        _read_drink_date(date_text, today, context, result, single=bool(drink_corrected))
        if drink_corrected and "alcohol_date" in result.told:
            result.drink_corrected = True
        if answering_drinks and "alcohol_date" in result.told and result.told["alcohol_date"] == context.get(
                "appointment_date") and not _GRAMMAR.drink_words.search(spoken):
            del result.told["alcohol_date"]   # "the 18th of December": the appointment said again
            result.told.pop("alcohol", None)
            result.drink_dates = []
        if answering_drinks and "alcohol_date" in result.told and "alcohol" not in result.told:
            result.told["alcohol"] = True   # "tonight", "saturday": when they will drink
    elif _about_an_appointment(clauses, context, result, lexicon) and not result.treated_already and not (
            _DURATION.search(date_text)):   # "I haven't had a drink in a week": how long, not when
        _read_date(_after_a_correction(date_text, today), today, result)
        if result.date_problem == "vague" and "checklist" in result.intents:
            result.date_problem = None   # "screen me before my appt next week": check now, the day later
            result.date_words = ""
        if result.date_problem == "past" and _PAST_EVENT.search(spoken) and not _BOOKING_WORDS.search(spoken):
            result.date_problem = None   # "I had a flu jab last week, can I get filler?": the jab's day
            result.date_words = ""
        if _about_a_drink(result) and "appointment_date" in result.told and not others_drink:
            # "pints on Friday and my tox is Monday": both dates, each where it belongs
            _read_drink_date(date_text, today, dict(context, appointment_date=result.told[
                "appointment_date"]), result, besides=result.told["appointment_date"])
        when = dates.find(date_text, today, _APPOINTMENT_WORDS) if "appointment_date" in result.told else None
        framed = [m.words for c in clauses for m in c.of("topics") if m.key in FRAMED_TOPICS]
        if when and framed and all(f" {words} " in f" {when.words} " for words in framed):
            # "botox in an hour": when it is, not how long it takes
            result.questions = [q for q in result.questions if q.topic not in FRAMED_TOPICS]
        if "appointment_date" in result.told and "treatment" not in result.told and result.treatments:
            result.told["treatment"] = _one_treatment(result.treatments)   # "botox dec 4th"
        if "appointment_date" in result.told and "treatment" not in result.told and not (
                result.treatments or context.get("screening") or context.get("has_appointment")) and (
                context.get("last_treatment") in TREATMENTS):
            # "ok cool, I'm booked for it next Tuesday" after a question about Botox: Botox
            result.told["treatment"] = context["last_treatment"]
    said = set(spoken.split())
    if context.get("pending") == "alcohol" and not result.treatments and "appointment_date" not in (
            result.told) and said & AFTER_WORDS and not said & BEFORE_WORDS:
        # "only after the appointment", "a glass at dinner after": none in the days before; what
        # the article says of afterwards is nothing, and the reply says so
        result.told.pop("alcohol_date", None)
        result.drink_dates = []
        result.told["alcohol"] = False
        result.questions = [q for q in result.questions if q.topic != "alcohol"] + [
            Asked("alcohol", "botox", when="after")]
    if result.told.get("treatment") in TREATMENTS + ("both",) and "appointment_date" not in result.told and (
            not result.date_problem and not context.get("has_appointment") and not result.questions
            and _BOOKING_WORDS.search(spoken) and not result.treated_already
            and not {"checklist", "eligibility"} & set(result.intents)
            and not any(c.question for c in clauses)):
        result.date_problem = "missing"   # "I'm booked for fillers": which day?
    if ("appointment_date" in result.told or result.date_problem) and _RESCHEDULED.search(spoken):
        # "reschedule to 12/22": the appointment moved, not a question whether to go ahead
        result.questions = [q for q in result.questions if q.topic != "go_ahead"]


def _opened(spoken: str) -> str:
    """The words after any opener of a correction ("sorry, no wait, it's the 18th" -> "it's the 18th")."""
    while True:
        opener = next((o for o in _GRAMMAR.correction_openers if f"{spoken} ".startswith(f"{o} ")), None)
        if opener is None:
            return spoken
        spoken = spoken[len(opener):].lstrip()


def _treated(clause: _Clause, today: date) -> bool:
    """ "I had botox", "got my fillers done": a treatment just behind a past verb (not "she had wine
    last night and has botox today", not "got fillers this Friday": booked)."""
    past = [i for i, word in enumerate(clause.words) if word in _GRAMMAR.treated_verbs]
    if past and all(clause.words[i] == "got" for i in past) and (
            (found := dates.find(" ".join(clause.words), today)) is not None and found.value is not None
            and found.value > today):   # "got botox today" is most often had already
        return False
    named = clause.of("treatments") + clause.of("brands")
    return any(0 < m.start - i <= 3 or (i == m.end and clause.words[i] == "was")   # "botox was on"
               for m in named for i in past)


def _leave_treatments_behind(clauses: list[_Clause], lexicon: Lexicon, result: Understanding,
                             today: date) -> None:
    """"I had filler last week, can I get botox now?": a treatment already had, told beside a
    question about the other one, is history; the message is about the other one."""
    def named(clause: _Clause) -> set[str]:
        keys = {m.key for m in clause.of("treatments")} | {
            lexicon.data["brands"][m.key]["treatment"] for m in clause.of("brands")}
        return set(TREATMENTS) if "both" in keys else keys
    behind = [c for c in clauses if _treated(c, today) and not c.of("plans")]
    ahead = {t for c in clauses if c not in behind for t in named(c)}
    had = {t for c in behind for t in named(c)}
    if behind and ahead and had - ahead:
        result.treatments = [t for t in result.treatments if t in ahead]
        if len(had) == 1 and len(ahead) == 1 and any(c.question for c in clauses if c not in behind) and (
                "eligibility" in result.intents or set(q.topic for q in result.questions) <= {
                    "precautions", "interval", "order"}):
            # "I had botox yesterday, can I get fillers today?": the gap between the two (and which
            # goes first), not a check nor a list of precautions
            if not {w for c in clauses for w in c.words} & _GRAMMAR.now_words:   # "... now?": checked too
                result.intents = [i for i in result.intents if i not in ("eligibility", "checklist")]
            result.questions = [Asked("interval", "any")]


def _only_names_a_treatment(clause: _Clause) -> bool:
    """A clause like "and fillers?" or "what about botox": a treatment and nothing else to read."""
    if not (clause.of("treatments") or clause.of("brands")):
        return False
    return not any(clause.of(section) for section in ("topics", "items", "conditions", "intents",
                                                       "areas", "line_behaviour"))


def _corrected(clauses: list[_Clause]) -> list[_Clause]:
    """"can I shave before filler, no wait, before botox": the treatment named after a correction
    takes the place of the one before it, and the correction itself is not read again."""
    words = [w for c in clauses for w in c.words]
    spoken = " ".join(words)
    marker = next((m for m in _GRAMMAR.self_corrections if f" {m} " in f" {spoken} "), None)
    if marker is None:
        return clauses
    at = next((i for i, c in enumerate(clauses) if f" {marker} " in f" {' '.join(c.words)} " or (
        marker.split()[0] in c.words and i + 1 < len(clauses))), None)
    if at is None:
        return clauses
    after = [m for c in clauses[at:] for m in c.of("treatments") if m.key != "both"]
    before = [(i, m) for i, c in enumerate(clauses[:at + 1]) for m in c.of("treatments")
              if m.key != "both" and (i < at or m.end <= c.words.index(marker.split()[0]))]
    if not after or not before or {m.key for _, m in before} == {m.key for m in after}:
        return clauses
    key = after[-1].key
    kept = []
    for i, clause in enumerate(clauses[:at + 1]):
        matches = [Match(m.section, key, m.start, m.end, m.words, m.literal) if (i, m) in before else m
                   for m in clause.matches]
        cut = len(clause.words)
        if i == at and marker.split()[0] in clause.words:
            cut = clause.words.index(marker.split()[0])
        kept.append(_Clause(clause.words[:cut], clause.question or any(c.question for c in clauses),
                            [m for m in matches if m.end <= cut]))
    return [c for c in kept if c.words]


def _face_named(clause: _Clause) -> list[Match]:
    """Face areas named outside a treatment's name ("chin filler": the chin; "lip filler": none) and
    outside a part of the body the article does not cover ("double chin": none)."""
    inside = {i for t in clause.of("treatments") + clause.of("brands") for i in range(t.start, t.end)}
    inside |= {i for m in _other_areas(clause) for i in range(m.start, m.end)}
    return [m for m in clause.of("areas") if m.start not in inside]


def _other_areas(clause: _Clause) -> list[Match]:
    """Parts of the body the article does not cover, unless inside a longer face area's name
    ("nose" in "nose to mouth" is the folds around the mouth)."""
    return [m for m in clause.of("topics") if m.key == "other_areas" and not any(
        a.start <= m.start and m.end <= a.end and a.end - a.start > m.end - m.start
        for a in clause.of("areas"))]


def _names_only_a_treatment(clause: _Clause) -> bool:
    """"and before filler?", "what about for botox": a treatment and words of a follow-up only."""
    named = {i for m in clause.of("treatments") + clause.of("brands") for i in range(m.start, m.end)}
    return all(i in named or word in _GRAMMAR.follow_up_words for i, word in enumerate(clause.words))


def _sounds_urgent(clauses: list[_Clause], treated: bool = False) -> bool:
    """A symptom soon after an injection, said about oneself (not "can botox cause drooping?")."""
    symptoms = [c for c in clauses if c.of("symptoms") and not any(
        f" {phrase} " in f" {' '.join(c.words)} " for phrase in _NOT_SIGNS)]   # not "chronic pain"
    if not symptoms or not (treated or any(c.of("recent") for c in clauses)):
        return False
    # "will I bruise after botox?" asks in general; "my lip is swollen after filler" reports.
    for clause in symptoms:
        if (clause.words[0] not in QUESTION_STARTERS and not _terse_general(clause)) or _recent_self(clause):
            return True
    return any(_recent_self(c) for c in clauses)


def _terse_general(clause: _Clause) -> bool:
    """"swelling after lip filler how long?": a sign named with a question's tail, nobody's own."""
    return f" {' '.join(clause.words)}".endswith(_GRAMMAR.general_tails) and not (
        clause.of("self") or clause.of("others") or _recent_self(clause))


def _asks_in_general(clauses: list[_Clause]) -> bool:
    """Every clause naming an urgent sign asks in general ("can botox cause ...?", "does filler
    give you ...?"): a question word first, nobody's own body, nothing recent. Else it may report."""
    urgent = [c for c in clauses if any(m.key == "urgent" for m in c.of("intents"))]
    if urgent and all(c.question and any(f" {p} " in f" {' '.join(c.words)} " for p in _GRAMMAR.general_asks)
                      and not (c.of("self") or c.of("others")) for c in urgent):
        return True   # "is it normal to have swelling after lip filler?": in general, nobody's report
    if urgent and all(_terse_general(c) for c in urgent) and not any(_recent_self(c) or c.of("self")
                                                                     for c in clauses):
        return True   # "swelling after lip filler how long": a terse question, nobody's report
    return bool(urgent) and all(
        c.question and c.words[0] in ("can", "could", "does", "do", "will", "would", "is", "are", "what")
        and not (c.of("self") or c.of("others") or c.of("recent")) for c in urgent) and not any(
        c.of("recent") or c.of("self") for c in clauses)


def _recent_self(clause: _Clause) -> bool:
    return any(m.words in _GRAMMAR.happening_now for m in clause.of("recent"))


def _about_an_appointment(clauses: list[_Clause], context: dict, result: Understanding,
                          lexicon: Lexicon) -> bool:
    """Whether a date in this message can be the appointment ("tonight" in "beers tonight" is not)."""
    if context.get("pending") == "appointment_date" or result.treatments:
        return True
    if _BOOKING_WORDS.search(" ".join(w for c in clauses for w in c.words)):
        return True    # "she's booked for Friday, she drinks wine most nights": the booking's day
    if (any(q.topic == "alcohol" for q in result.questions) or "alcohol" in result.told) and not (
            result.treatments):
        return False   # "can I have a drink on Sunday?": Sunday is the drink, not the appointment
    spoken = " " + " ".join(w for c in clauses for w in c.words) + " "
    if context.get("has_appointment") and (any(m in spoken for m in NOT_AN_ANSWER + (" not the ",))
                                           or _RESCHEDULED.search(spoken)):
        return True    # "no wait, it's the 13th not the 3rd", "moved it to the 10th": the date corrected
    if any(c.of("items") for c in clauses) and not _GRAMMAR.appointment_words.search(spoken):
        return False   # "I'm getting my brows threaded on Thursday": the threading's day
    if any(c.of("plans") or any(m.key in ("checklist", "eligibility") for m in c.of("intents"))
           for c in clauses):
        return True
    # "friday" on its own, once a treatment or a check is under way (not "what's the weather today?")
    under_way = context.get("screening") or context.get("last_treatment") or context.get("has_appointment")
    return bool(under_way) and sum(len(c.words) for c in clauses) <= 4 and not result.told and not (
        _unexplained(clauses, lexicon))   # "what's the weather tomorrow" is no appointment


# -- clauses ---------------------------------------------------------------------------------------
def _clauses(text: str, lexicon: Lexicon) -> list[_Clause]:
    """Sentences split further where a new question or statement starts after "and"/"but"/"also"."""
    clauses = []
    for sentence, end in _SENTENCE.findall(text):
        first = len(clauses)
        asked = "?" in end
        pieces = [p for p in _PIECE.split(sentence) if normalise(p)]
        asking = False
        for number, piece in enumerate(pieces):
            words = [word for raw in lexicon.respell(normalise(piece).split()) for word in lexicon.mend(raw)]
            for at, part in enumerate(_split(words)):
                matches = lexicon.find(part)
                # In "I'm not pregnant, not breastfeeding, filler friday good?" only the last piece
                # asks; a short piece right after a question continues its list ("advil, ginkgo").
                question = _asks(part, _GRAMMAR.openers) or (
                    asked and number == len(pieces) - 1) or (
                    asking and len(part) <= 3) or _ends_in_a_tag(part)
                if not asked and _leaves_out_the_subject(part):
                    question = False   # "might have a beer on friday", "could be pregnant": telling
                if at and not asking and not asked and _continues(part):
                    question = False   # "I'm going to a party and will drink": still telling
                    subject = [m for m in clauses[-1].matches if m.section in ("self", "others")][:1]
                    matches += [Match(m.section, m.key, 0, 0, "") for m in subject]   # same person
                asking = question
                clauses.append(_Clause(part, question, matches))
        _questions_before_a_tag(clauses[first:], _GRAMMAR)
    return clauses


def _leaves_out_the_subject(words: list[str]) -> bool:
    """A statement with its subject left out, as chat does: "might have a beer Friday", "could be
    pregnant", "will get botox on the 9th" (a modal, then a verb, with no one in between)."""
    return len(words) > 2 and words[0] in _GRAMMAR.chat_modals and words[1] in _GRAMMAR.chat_verbs


def _continues(words: list[str]) -> bool:
    """A piece after "and" that goes on with the statement before it, its subject left out ("...
    and will drink", "... and can't stop"): a modal with no one after it, not a question."""
    return len(words) > 1 and words[0] in MODALS and words[1] not in _GRAMMAR.answer_subjects | {
        "you", "u", "my", "her", "his", "the", "a", "it", "botox", "filler", "fillers", "tox"}


def _ends_in_a_tag(words: list[str]) -> bool:
    """ "botox is fine when breastfeeding isnt it": a question tag at the end asks the whole piece."""
    return len(words) > 2 and any(" ".join(words[-size:]) in _GRAMMAR.closing_tags for size in (1, 2, 3))


def _questions_before_a_tag(sentence: list[_Clause], grammar: lexicon_module.Grammar) -> None:
    """A sentence that ends in a question tag ("..., am I?", "..., right?") asks all of it; so does
    one whose earlier pieces say nothing of the person ("static vs dynamic lines, what's the
    difference"). "I'm not pregnant, filler friday ok?" still tells, then asks."""
    if len(sentence) < 2 or not sentence[-1].question:
        return
    last = sentence[-1].words
    tagged = len(last) <= 3 and " ".join(last) in grammar.question_tags
    told = any(c.of("self") or c.of("others") or c.of("negation") or c.of("answers")
               for c in sentence[:-1])
    if tagged or not told:
        for clause in sentence[:-1]:
            clause.question = True


def _split(words: list[str]) -> list[list[str]]:
    parts, current = [], []
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        joins = word in ("and", "but", "also", "plus") or (word == "," and following)
        if joins and current and following in _SPLIT_BEFORE and following not in ("and",) \
                and len(current) >= 2 and word != following:
            parts.append(current)
            current = []
            continue
        current.append(word)
    if current:
        parts.append(current)
    return parts


def _asks(words: list[str], openers: list[str] = ()) -> bool:
    while len(words) > 1 and words[0] in openers:
        words = words[1:]   # "actually, how long does it take": the question starts after it
    text = " ".join(words)
    if any(f" {phrase} " in f" {text} " for phrase in CHECKING_PHRASES):
        return True   # "... is that long enough", "yes or no is vitamin e bad"
    negated_start = words[0] in _GRAMMAR.negated_starters and len(words) > 1 and words[1] in (
        "i", "you", "we", "she", "he", "they", "it", "my")   # "cant i drink b4 botox": asks, not denies
    return (words[0] in QUESTION_STARTERS or negated_start or " ok to " in f" {text} " or "allowed" in words
            or "wondering" in words or "safe to" in text or " can i " in f" {text} "
            or " should i " in f" {text} " or "want to know" in text or "need to know" in text
            or any(f" {p} " in f" {text} " for p in _GRAMMAR.reported_questions))   # "client asked why..."


# -- one clause ------------------------------------------------------------------------------------
@dataclass
class _Reading:
    """One clause as the readers see it: what it says of the person, and what earlier readers of
    the same clause found (each reader adds to `result` and to this)."""

    clause: _Clause
    lexicon: Lexicon
    result: Understanding
    negated: set[int]
    unsure: bool                   # doubt in the clause: what it tells is "unknown", never "no"
    about_self: set[int]           # positions after "I'm", "I take", "my"...
    someone_else: bool             # "my friend is pregnant": asked about, never stored
    supposed: bool                 # "what if I'm pregnant": asked about, never stored
    telegraphic: bool = False      # "preg botox", "fish oil before filler": asked, never stored
    named: list[tuple[Match, str]] = field(default_factory=list)   # treatment mentions and meaning
    treatments: list[str] = field(default_factory=list)
    told_spans: set[int] = field(default_factory=set)   # words that told a fact, not a topic
    item_topics: list[Asked] = field(default_factory=list)    # questions about unlisted items
    topics: dict[str, Match] = field(default_factory=dict)
    questions_before: int = 0
    when: str = ""                 # "after": asked about after the treatment
    advice_asked: bool = False     # another clause of the message asks what to get

    @classmethod
    def of(cls, clause: _Clause, lexicon: Lexicon, result: Understanding) -> _Reading:
        # Staff answering the check's questions for a client ("she's not breastfeeding") tell facts.
        return cls(clause, lexicon, result, _negated_positions(clause), _doubtful(clause, lexicon),
                   _about_self_positions(clause),
                   bool(clause.of("others")) and not (result.answering_for_client
                                                      and not _third_party(clause, lexicon, result)),
                   _supposes(clause.words) or _in_time_to_come(clause), _telegraphic(clause, result),
                   questions_before=len(result.questions))

    def tells(self, match: Match) -> bool:
        """Whether the words at `match` tell a fact about the person (or the client)."""
        return (not self.clause.question or match.start in self.about_self) and not (
            self.someone_else or self.supposed or self.telegraphic)

    @property
    def asks(self) -> bool:
        return self.clause.question or self.someone_else or self.supposed or self.telegraphic

    def treatment_for(self, match: Match) -> str | None:
        """The treatment a topic is asked about: the clause's, or the nearest one named when the
        clause asks several things ("drink before botox and take advil before filler")."""
        clause = self.clause
        topics = len(self.topics) if self.topics else len(clause.of("topics"))   # once settled, those
        asked_things = topics + len(clause.of("items")) + len(clause.of("conditions"))
        if len(set(self.treatments)) <= 1 or asked_things <= 1:
            return _one_treatment(self.treatments)
        return min(self.named, key=lambda pair: _distance(match, pair[0]))[1]


def _third_party(clause: _Clause, lexicon: Lexicon, result: Understanding) -> bool:
    """During a check of a client, someone else again ("her friend is pregnant too"): a relation
    named that is not the one being checked."""
    relations = lexicon.data.get("others", {}).get("relations", [])
    checked = set(result.checking_who.split())
    return any(set(m.words.split()) & set(relations) - checked for m in clause.of("others"))


def _telegraphic(clause: _Clause, result: Understanding) -> bool:
    """A clause that names a treatment and a condition or an item but nobody it is about ("preg
    botox", "nsaids before filler", "fish oil botox"): a question in a few words, not a statement.
    Taking it for a statement would invent a fact; taken as a question, the check still asks it."""
    last = len(clause.words)
    answers = [m for m in clause.of("answers") if not (m.key == "ack" and m.end == last)]   # "... ok"
    named = {i for m in clause.of("conditions") + clause.of("items") for i in range(m.start, m.end)}
    if named and not result.pending and not result.listing and all(
            i in named or word in _GRAMMAR.follow_up_words for i, word in enumerate(clause.words)):
        return True   # "breastfeeding", "and meds": a topic in a word, asked with nothing pending
    return not clause.question and not result.answering_for_client and (
        result.pending not in SCREENING_KEYS) and bool(
        clause.of("treatments") or clause.of("brands")) and bool(
        clause.of("conditions") or clause.of("items")) and not answers and not any(
        m.key == "cue" for m in clause.of("negation")) and not any(
        clause.of(section) for section in ("self", "others", "corrections", "plans"))


def _read_clause(clause: _Clause, lexicon: Lexicon, result: Understanding, advice: bool = False) -> None:
    """One clause through the readers, one per kind of thing it can say."""
    reading = _Reading.of(clause, lexicon, result)
    reading.advice_asked = advice
    for reader in _READERS:
        if reader(reading) is _DONE:
            return


_DONE = object()   # a reader's way to say the rest of the clause has nothing more to read


def _read_treatments(reading: _Reading) -> None:
    """The treatments and brands named ("I don't want botox, just fillers" names fillers)."""
    clause, result = reading.clause, reading.result
    one = [m for m in clause.of("treatments") + clause.of("brands") if m.key != "both"]
    for match in clause.of("treatments"):
        if match.start in reading.negated and not clause.question and not clause.of("corrections"):
            continue
        if match.words == "both" and one and any(m.start > match.start for m in one):
            reading.told_spans.add(match.start)   # nor a question about having both
            continue   # "my sister and I both want lip filler": the two people, not the treatments
        reading.named.append((match, "both" if match.key == "both" else match.key))
    for match in clause.of("brands"):
        brand = reading.lexicon.data["brands"][match.key]
        reading.named.append((match, brand["treatment"]))
        result.mentions.append(Mention(match.words, match.key, "brand", brand["treatment"], brand["says"],
                                       not brand.get("other_brand", False), label=match.key))
    reading.treatments = [t for _, t in reading.named for t in (TREATMENTS if t == "both" else (t,))]
    for treatment in reading.treatments:
        if treatment not in result.treatments:
            result.treatments.append(treatment)
    words = set(clause.words)
    reading.when = "after" if (words & AFTER_WORDS or result.treated_already) and not (
        words & BEFORE_WORDS) else ""


def _read_intents(reading: _Reading) -> None:
    """Conversational moves and requests: greeting, why, help, a check, a recommendation..."""
    for match in reading.clause.of("intents"):
        if match.key not in reading.result.intents:
            reading.result.intents.append(match.key)


def _read_conditions(reading: _Reading) -> None:
    """Pregnancy, breastfeeding, allergy: told about oneself (with negation and doubt), or asked."""
    clause, result = reading.clause, reading.result
    conception = {i for m in clause.of("topics") if m.key == "conception" for i in range(m.start, m.end)}
    for match in clause.of("conditions"):
        if match.start in conception:
            continue   # "trying to get pregnant" is not "pregnant"
        told = reading.tells(match)
        if match.key == "allergic_any" and _names_a_filler_allergen(clause, match):
            match = Match(match.section, "allergic", match.start, match.end, match.words)
        if match.key == "allergic_any":
            other = clause.words[match.end:match.end + 1] == ["to"] and clause.words[
                match.end + 1:match.end + 2] not in (["nothing"], ["anything"], ["any"], ["none"], [])
            if told and match.start in reading.negated and other and not reading.unsure:
                continue   # "I used to be allergic to penicillin": nothing said of the filler's ingredients
            if told and (match.start in reading.negated or reading.unsure):
                reading.told_spans |= set(range(match.start, match.end))
                # "not allergic to anything"; "not sure I'm allergic to anything"
                result.told["allergic"] = "unknown" if reading.unsure else False
            elif told and not clause.question and "allergic" not in result.told:
                # "I'm allergic to latex": an allergy, though not one the article names; whether it
                # matters is for the injector to settle, so it is neither a yes nor a no
                reading.told_spans |= set(range(match.start, match.end))
                result.told["allergic"] = "unknown"
                result.questions.append(Asked("allergy", reading.treatment_for(match)))
            else:
                result.questions.append(Asked("allergy", reading.treatment_for(match)))
            continue
        if told:
            reading.told_spans |= set(range(match.start, match.end))
            result.told[match.key] = "unknown" if reading.unsure else match.start not in reading.negated
            if match.start and clause.words[match.start - 1] in _GRAMMAR.unclear_ends:
                result.told[match.key] = "unknown"   # "I just finished breastfeeding": a feed, or for good?
        elif reading.asks:
            result.questions.append(Asked(TOPIC_OF_CONDITION[match.key], reading.treatment_for(match)))


def _names_a_filler_allergen(clause: _Clause, allergy: Match) -> bool:
    """"Allergic to latex and hyaluronic acid": what fillers are made of, named in the allergy."""
    words = []
    for word in clause.words[allergy.end:allergy.end + 7]:
        if word in QUESTION_STARTERS or word in MODALS:
            break   # "allergic to lidocaine, can I get fillers": the allergy ends before the question
        words.append(word)
    after = " ".join(words)
    return any(f" {word} " in f" {after} " for word in _GRAMMAR.filler_allergens)


def _read_items(reading: _Reading) -> None:
    """Medicines, supplements, skincare and hair removal: taken (or not), or asked about."""
    clause, result, data = reading.clause, reading.result, reading.lexicon.data
    allergens = {at for m in clause.of("conditions") if m.key.startswith("allergic")
                 for at in range(m.end, m.end + 2)}   # "allergic to lidocaine": not something taken
    allergens |= _inside_ingredients(clause)       # "does filler have lidocaine in it": nor here
    allergens |= {at for m in clause.of("topics") if m.key in ("what", "name")
                  for at in range(m.start, m.end)}   # "is filler a medicine or a chemical?": what it is
    to_something = clause.words[:1] == ["to"] or clause.words[:2] == ["yes", "to"]
    reacts = to_something or bool(set(clause.words) & _GRAMMAR.reaction_words)
    if not clause.question and ((result.pending == "allergic" and reacts) or (
            result.pending in TOPIC_OF_CONDITION and to_something)):
        # "yes, to lidocaine", "she reacted to lidocaine once": to the allergy question, what is
        # named is what they react to, not something they take; an allergy, though not to a filler
        allergens |= {at for m in clause.of("items") for at in range(m.start, m.end)}
        if clause.of("items") and "allergic" not in result.told:
            result.told["allergic"] = "unknown"
    for match in clause.of("items"):
        entry = data["items"][match.key]
        if entry["category"] == "food" and _taken_as_a_supplement(clause, match, data):
            continue   # "green tea supplements", "garlic capsules": the supplement speaks, not the food
        if entry["category"] == "blood_thinner" and set(clause.words) & PRESCRIBED:
            # "baby aspirin my cardiologist prescribed": not an over-the-counter choice to stop
            entry = dict(entry, category="prescribed_blood_thinner")
        category = data["categories"][entry["category"]]
        is_negated = match.start in reading.negated
        generic = bool(entry.get("generic"))
        # An item is stored by its plain name ("vitamin E", "ibuprofen"); a group of words ("fish
        # oil", "turmeric") by the person's own word; a class word ("supplements") by its key.
        if match.key in CLASS_WORDS:
            name = match.key
        else:
            name = entry.get("label") or match.words if generic else entry.get(
                "label", match.key.replace("_", " "))
        told = reading.tells(match) and match.start not in allergens and not (
            clause.question and entry["kind"] == "hair_removal")   # "is it ok to get my lip waxed?" asks
        listed = category["listed"] or match.key in CLASS_WORDS   # "skincare" names the kind itself
        result.mentions.append(Mention(match.words, name, entry["kind"], entry["category"],
                                       category["says"], listed, is_negated, generic,
                                       entry.get("label") or match.words if generic else entry.get(
                                           "label", match.key),
                                       bool(entry.get("named_in_article")), told))
        if match.start in allergens:
            continue
        if told and entry["category"] != "food":
            reading.told_spans |= set(range(match.start, match.end))
            _tell_item(result.told, entry["kind"], name, entry["category"], is_negated, reading.unsure)
            if entry["category"] == "prescribed_blood_thinner":
                prescribed = result.told.setdefault("prescribed", [])
                if name not in prescribed:
                    prescribed.append(name)
        if reading.asks:
            # A class word ("my skincare", "supplements") asks about the whole kind of thing.
            asked = "" if match.key in CLASS_WORDS else name
            question = Asked(TOPIC_OF_KIND[entry["kind"]], reading.treatment_for(match), asked,
                                reading.when)
            result.questions.append(question)
            if not category["listed"] and asked:
                reading.item_topics.append(question)
    asked_here = result.questions[reading.questions_before:]
    named = {q.topic for q in asked_here if q.item}
    # "I'm on Ozempic, does the medication matter?": the named medicine, not medicines in general too
    result.questions[reading.questions_before:] = [q for q in asked_here if q.item or q.topic not in named]


def _taken_as_a_supplement(clause: _Clause, food: Match, data: dict) -> bool:
    """A food named as a supplement: followed by "supplements", "capsules", "extract"..."""
    following = clause.words[food.end:food.end + 1]
    return bool(set(following) & _GRAMMAR.supplement_forms) or any(
        m.start == food.end and data["items"][m.key]["kind"] == "supplement" for m in clause.of("items"))


def _inside_ingredients(clause: _Clause) -> set[int]:
    """Words inside a question about what a treatment contains ("is there lidocaine in it")."""
    return {at for m in clause.of("topics") if m.key == "ingredients" for at in range(m.start, m.end)}


def _read_topics(reading: _Reading) -> None:
    """The topics the clause names, less the words that told a fact or made a conversational move."""
    clause, result = reading.clause, reading.result
    moves = {i for m in clause.of("intents") if m.key in MOVES_OVER_TOPICS for i in range(m.start, m.end)}
    soft = set(clause.words) & _GRAMMAR.soft_drinks
    for match in clause.of("topics"):
        span = set(range(match.start, match.end))
        if reading.told_spans & span:
            continue  # "I'm pregnant" tells a fact; the rules answer the fact, not a topic
        if match.key == "alcohol" and soft and match.words in ("drink", "drinks", "drinking", "drank"):
            continue  # "drinking lots of water", "I drink ginseng tea": no alcohol
        if match.key == "other_areas" and match not in _other_areas(clause):
            continue  # "nose to mouth": a face area, not the nose
        if span <= moves:
            continue  # "what does that have to do with it": a question about the question
        speaker = clause.of("self") or (result.answering_for_client and clause.of("others")) or (
            result.listing and clause.words[0] in ("not", "no", "never"))   # "..., not drinking, no meds"
        if match.key == "alcohol" and not clause.question and speaker and not (
                reading.someone_else or reading.supposed) and not (
                _LONG_AGO.search(" ".join(clause.words)) and not reading.negated):
            # "she has wine on Thursdays": the client; drinks "last weekend" say nothing of the days
            # before the appointment (the check asks)
            result.told["alcohol"] = "unknown" if reading.unsure else match.start not in reading.negated
            reading.told_spans |= span   # "going out drinking the night before my filler" tells
            continue
        reading.topics.setdefault(match.key, match)


def _sequence_between_treatments(reading: _Reading) -> Match | None:
    """"Before" or "after" between the two treatments' names: the question of which goes first."""
    named = sorted(((m, t) for m, t in reading.named if t in TREATMENTS), key=lambda named: named[0].start)
    for (first, one), (second, other) in zip(named, named[1:]):
        if one != other:
            for at in range(first.end, second.start):
                if reading.clause.words[at] in BEFORE_WORDS | AFTER_WORDS | _GRAMMAR.sequence_words:
                    return Match("topics", "order", at, at + 1, reading.clause.words[at])
    return None


def _settle_topics(reading: _Reading) -> None:
    """Of the topics named, the ones the clause asks: the more specific wins (the lexicon's
    precedence), a weak one gives way, and words that only look like a topic are dropped."""
    clause, topics, treatments = reading.clause, reading.topics, reading.treatments
    advice = [m for m in clause.of("intents") if m.key in ("recommend", "suitable")]
    for topic, match in list(topics.items()):
        if topic in WEAK_TOPICS and any(a.start <= match.start and match.end <= a.end for a in advice):
            del topics[topic]   # "what's better for frown lines": the words ask for advice
    named_spans = {i for m in clause.of("treatments") + clause.of("brands") for i in range(m.start, m.end)}
    lines_named = clause.of("line_behaviour") or any(m.start not in named_spans for m in clause.of("areas"))
    if "age" in topics and (advice or lines_named) and not any(
            phrase in f" {' '.join(clause.words)} " for phrase in _GRAMMAR.age_asked):
        del topics["age"]   # "I'm 45 with saggy skin, what should I do": the age is context
    called = "name" in topics and {"called", "name", "named"} & set(clause.words) and not any(
        0 <= m.start - topics["name"].end <= 1 for m in clause.of("treatments"))
    if called and clause.of("others"):
        del topics["name"]   # "she is called Mrs Patel": the client's name; "why it is called botox" stays
    order = topics.get("order")
    if order and len(set(treatments)) < 2 and set(order.words.split()) & (
            BEFORE_WORDS | AFTER_WORDS | {"done"}):
        del topics["order"]   # "botox before a wedding" is not the Botox-first question
    data = reading.lexicon.data
    as_supplements = {at for m in clause.of("items") if data["items"][m.key]["category"] == "food"
                      and _taken_as_a_supplement(clause, m, data) for at in range(m.start, m.end)}
    for topic, match in list(topics.items()):
        if match.start in as_supplements:
            del topics[topic]   # "green tea supplements" is not a question about drinking tea
    history = topics.get("history")
    told_to = history and any(m.start == history.end for m in clause.of("others"))
    if told_to and history.words.endswith("tell"):
        # "what do I tell a client who asks if botox is safe": the safety; "what should I tell
        # clients before filler": what to do before it (not what to tell the injector)
        del topics["history"]
        if not topics and (clause.of("treatments") or not reading.result.listing):
            topics["precautions"] = history   # (", what do I tell her?" after the question: nothing)
    interval = topics.get("interval")
    if interval and len(set(treatments)) < 2 and interval.words in ("weeks after", "days after") and (
            len(topics) > 1 or clause.of("conditions")):
        del topics["interval"]   # "I got pregnant 2 weeks after botox": about the pregnancy, not a gap
        if not topics:
            condition = clause.of("conditions")[0]
            topics[TOPIC_OF_CONDITION.get(condition.key, "contraindications")] = condition
    between = _sequence_between_treatments(reading)
    if between is not None:
        topics["order"] = between   # "tox after my fillers?", "filler before botox": which goes first
    face_named = _face_named(clause)
    if clause.question and set(topics) == {"what"} and face_named and not treatments \
            and not clause.of("self") and not advice:
        topics.setdefault("wrinkle_types", topics["what"])   # "what are crow's feet?"
    if any(phrase in " ".join(clause.words) for phrase in _GRAMMAR.asking_advice):
        for vague in ("what", "mechanism", "purpose"):
            topics.pop(vague, None)   # "... what do I do": asking for advice, not how it works
    for general, specific in PREFERRED:
        if general in topics and specific in topics:
            del topics[general]       # "how many units for my forehead": units, not dosage too
    named_twice = [m for m in clause.of("treatments") if m.key != "both"]
    if "difference" in topics and len(named_twice) > 1 and len({m.key for m in named_twice}) == 1 \
            and not clause.of("brands"):
        topics["what"] = topics.pop("difference")   # "is tox the same as botox": one treatment, two names
    if "difference" in topics and any(t not in WEAK_TOPICS for t in topics):
        del topics["difference"]  # "which is cheaper, botox or fillers": the cost, for both
    if "difference" in topics and len(set(treatments)) == 1 and any(
            data["items"][m.key]["kind"] == "skincare" for m in clause.of("items")):
        topics["alternatives"] = topics.pop("difference")   # "chemical peel vs botox": another procedure
    if "difference" in topics and len(set(treatments)) == 1 and (clause.of("brands") or len(topics) > 1):
        if len({m.key for m in clause.of("brands")}) > 1 or (clause.of("brands") and clause.of("treatments")):
            topics["brands"] = topics["difference"]   # "Juvederm or Restylane?": not in the article
        del topics["difference"]  # "Dysport vs Botox": the brand note answers, not Botox vs fillers
    if len({m.key for m in clause.of("brands")}) > 1 and set(topics) <= set(WEAK_TOPICS) and between is None:
        first = clause.of("brands")[0]
        topics.clear()
        topics["brands"] = first   # "what about Juvederm or Restylane?": comparing brands
    if len(set(treatments)) > 1 and set(clause.words) & AFTER_WORDS and (
            clause.words[0] == "when" or any(w in f" {' '.join(clause.words)} "
                                             for w in _GRAMMAR.waiting_words)):
        topics.clear()
        topics["interval"] = clause.of("treatments")[0]   # "when / how soon can I get filler after botox?"
    if "interval" in topics and len(set(treatments)) < 2 and len(topics) > 1:
        del topics["interval"]   # "can I drink on the same day as my tox?": the drinking, not a gap
    if "safety" in topics and clause.of("conditions"):
        del topics["safety"]      # "is botox safe when breastfeeding?" is about breastfeeding
    topic_spans = _topic_spans(clause)
    describes_lines = [m for m in clause.of("line_behaviour") if m.start not in topic_spans] or (
        face_named and clause.of("self"))   # "lip" in "lip filler" describes no lines
    if (reading.told_spans or describes_lines) and not clause.question:
        topics.clear()   # "I take ibuprofen for period pain", "folds deeper with age": facts, not questions
    strong = {t: m for t, m in topics.items() if t not in WEAK_TOPICS}
    contents = _inside_ingredients(clause)
    items = [m for m in clause.of("items") if m.start not in contents]
    if strong or (topics and (items or clause.of("conditions"))):
        reading.topics = topics = strong   # "can I take motrin before filler?": the medicine only
    if "precautions" in topics and reading.item_topics:
        del topics["precautions"]    # "do I need to stop fish oil before botox": the fish oil
    if "alternatives" in topics and len(set(treatments)) > 1:
        topics["difference"] = topics.pop("alternatives")   # "is botox better than filler"
    if "alternatives" in topics:
        # "does retinol work as well as botox": set against the treatment, not a precaution
        kinds = set(TOPIC_OF_KIND.values())
        result = reading.result
        result.questions[reading.questions_before:] = [
            q for q in result.questions[reading.questions_before:] if q.topic not in kinds]
    if "what" in topics and any(m.key == "both" and m.words.startswith("injectable")
                                for m in clause.of("treatments")):
        reading.topics = topics = {"injectables": topics["what"]}   # "what does 'injectables' mean?"


def _ask_topics(reading: _Reading) -> None:
    """The settled topics become questions, for the treatment each is asked about."""
    clause, result, topics = reading.clause, reading.result, reading.topics
    asked_here = result.questions[reading.questions_before:]
    if reading.item_topics and topics:
        # "can I wear makeup after botox": the aftercare question, not one about makeup
        result.questions = [q for q in result.questions if q not in reading.item_topics]
    elif len(topics) > 1 and "what" in topics:
        del topics["what"]
    if "precautions" in topics and (set(topics) & set(PRECAUTION_TOPICS) or any(
            q.topic in PRECAUTION_TOPICS for q in asked_here)):
        del topics["precautions"]    # "which supplements should I avoid": just the supplements
    refers_back = bool(set(clause.words) & PRONOUNS)
    for topic, match in topics.items():
        if topic in VAGUE_TOPICS and not reading.treatments and not refers_back and not (
                topic in ANY_TOPICS and len(set(result.treatments)) > 1):   # "botox or filler? the diff"
            continue   # "what's the weather like": "what" alone is not a question about treatments
        treatment = "any" if topic in ANY_TOPICS else reading.treatment_for(match)
        question = Asked(topic, treatment, "", reading.when if topic in PRECAUTION_TOPICS else "")
        if any(q.topic == topic and q.item for q in result.questions[reading.questions_before:]):
            continue   # "can I shave": the question about shaving already asks it
        if question not in result.questions:
            result.questions.append(question)


def _read_plan(reading: _Reading) -> None:
    """A plan: "I'm getting fillers", "booked for Botox", "actually it's fillers, not Botox".
    "actually, how long does botox take?" asks; only a statement corrects."""
    clause = reading.clause
    asked_about = clause.question and " ".join(clause.words[:2]) in _GRAMMAR.asking_about
    planned = ((clause.of("plans") and not asked_about)   # "what about botox instead?" plans nothing
               or (clause.of("corrections") and not clause.question)) and not reading.someone_else
    meant = [t for m, t in reading.named if m.start not in reading.negated]
    if len(set(meant)) > 1 and set(clause.words) & _GRAMMAR.choice_words:
        return   # "it is botox or filler?": a choice asked about, not a plan
    if meant and planned:
        reading.result.told["treatment"] = _one_treatment(
            [t for x in meant for t in (TREATMENTS if x == "both" else (x,))]) or "both"


def _read_lines(reading: _Reading):
    """How the person's lines behave and where (for the recommendation). Face areas inside a
    treatment's name ("lip filler") say nothing about the person's lines, and a general question
    ("what are static wrinkles?") says nothing about the person at all."""
    clause, result, treatments = reading.clause, reading.result, reading.treatments
    if result.pending == "lines_at_rest" and clause.question and clause.of("line_behaviour"):
        return _DONE   # "are they there when my face is relaxed? no...": the bot's question echoed
    if _asks_about_the_bot(clause):
        return _DONE   # "am I talking to a bot?": "talking" says nothing of anyone's lines
    if any(reading.lexicon.data["items"][m.key]["kind"] == "hair_removal" for m in clause.of("items")):
        return _DONE   # "waxing my upper lip", "brows threaded": where the hair is, not lines
    face = _face_named(clause)   # not "lip" in "lip filler", nor "chin" in "double chin"
    recommend = any(m.key == "recommend" for m in clause.of("intents")) or (
        reading.advice_asked and not clause.question and bool(face))   # "thin lips, what do I book?"
    if clause.question:   # "is filler good for forehead lines?": the area asked about, and its kind
        asked = [(a["area"], a["hint"]) for a in (reading.lexicon.data["areas"][m.key] for m in face)]
        spans = {i for m in clause.of("areas") + clause.of("topics") for i in range(m.start, m.end)}
        asked += [(BEHAVIOUR_LABELS[m.key], m.key) for m in clause.of("line_behaviour")
                  if m.start not in spans]   # "does filler treat wrinkles from frowning?"
        asked += [(m.words, "rest") for m in clause.of("topics")
                  if m.key == "purpose" and m.words in _GRAMMAR.volume_words]   # "does botox add volume?"
        for pair in asked:
            if pair not in result.asked_areas:
                result.asked_areas.append(pair)
    single = len(set(treatments)) == 1
    asks_of_things = clause.of("items") or clause.of("conditions")
    if face and len(set(treatments)) > 1 and not (asks_of_things or clause.of("plans")) and set(
            reading.topics) <= {"difference", "what", "purpose", "areas"}:
        # "fillers or botox for thin lips?": which suits the area, a recommendation
        result.questions = result.questions[:reading.questions_before]
        reading.topics.clear()
        recommend = True
        if "recommend" not in result.intents:
            result.intents.append("recommend")
    if clause.question and recommend and face and single and set(reading.topics) <= {"areas"} \
            and not asks_of_things:
        result.questions.append(Asked("areas", treatments[0]))   # "can botox get rid of crow's feet?"
        result.intents = [i for i in result.intents if i != "recommend"]
        return _DONE
    if clause.question and not (recommend and face) and (reading.topics or (single and not recommend)):
        if face and single and not reading.topics and not asks_of_things:
            # "can botox help my forehead wrinkles?": where the treatment is used
            result.questions.append(Asked("areas", treatments[0]))
        return _DONE   # a question about the treatments, not a description of the person's lines
    topic_spans = _topic_spans(clause)
    area_spans = {i for m in clause.of("areas") for i in range(m.start, m.end)}
    # "smile lines" is an area, "gummy smile" a topic: neither says how lines behave
    intent_spans = {i for m in clause.of("intents") for i in range(m.start, m.end)}   # "what's the move"
    behaviours = [m for m in clause.of("line_behaviour")
                  if not {m.start} & (area_spans | topic_spans | intent_spans)]
    if behaviours and not (face or recommend or result.lines or result.pending == "lines_at_rest"
                           or result.advising   # "some are still there at rest" after the advice
                           or "recommend" in result.intents or set(clause.words) & _GRAMMAR.line_words):
        behaviours = []   # "only when I have cramps": how a medicine is taken, not how lines behave
    if clause.question and not clause.of("self") and not face and not (recommend and behaviours):
        return _DONE   # "which treatment is for wrinkles from frowning?" still says how they behave
    if reading.someone_else and single and face and not (recommend or behaviours or asks_of_things) and not (
            result.answering_for_client):
        # "my boyfriend wants botox for his forehead lines": where Botox goes, not the person's own lines
        result.questions.append(Asked("areas", treatments[0]))
        return _DONE
    described = behaviours or recommend or clause.of("self") or clause.of("others") or clause.of("plans")
    if not (described or "recommend" in result.intents or result.lines):
        if face and single and not (result.questions or reading.topics or asks_of_things):
            # "botox for frown lines", "filler for forehead lines": where the treatment is used
            result.questions.append(Asked("areas", treatments[0]))
            asked = [(a["area"], a["hint"]) for a in (reading.lexicon.data["areas"][m.key] for m in face)]
            result.asked_areas += [pair for pair in asked if pair not in result.asked_areas]
        elif face and not (result.questions or treatments or result.candidates):
            # "lips", "crow's feet?": a word, not a description of anyone's lines: ask what about
            result.candidates = list(BARE_AREA_TOPICS)
            result.unread = " ".join(m.words for m in face)
            asked = [(a["area"], a["hint"]) for a in (reading.lexicon.data["areas"][m.key] for m in face)]
            result.asked_areas += [pair for pair in asked if pair not in result.asked_areas]
        return _DONE
    data = reading.lexicon.data
    for match in face:
        area = data["areas"][match.key]
        areas = result.lines.setdefault("areas", [])
        if area["area"] not in areas:
            areas.append(area["area"])
        hints = result.lines.setdefault("hints", [])
        if area["hint"] not in hints:
            hints.append(area["hint"])
    if behaviours:
        said = result.lines.setdefault("behaviours", [])
        cues = {i for m in clause.of("negation") if m.key == "cue" for i in range(m.start, m.end)}
        for match in behaviours:
            kind = match.key
            if match.start in reading.negated and not cues & set(range(match.start, match.end)):
                # "not when I frown" is at rest; "not there at rest" moves; "not firm anymore" says
                # its own negation
                kind = "rest" if kind == "moves" else "moves"
            if kind not in said:
                said.append(kind)
        # "frown lines and deep lines around my mouth that are always there": the behaviour told
        # after one area is that area's; an area told without one keeps the kind its name gives
        joins = [i for i, word in enumerate(clause.words) if word in _GRAMMAR.area_joins]
        def part(at: int) -> int:
            return sum(1 for j in joins if j < at)
        for area in face if len({part(m.start) for m in face}) > 1 else []:
            hint = data["areas"][area.key]["hint"]
            if not any(part(b.start) == part(area.start) for b in behaviours) and hint == "moves" and (
                    hint not in said):   # (an area whose name is "at rest" may be a wish for volume)
                said.append(hint)
        result.behaviour_of_an_area = result.behaviour_of_an_area or bool(face)
    elif face:
        result.untold_hints += [h for h in (data["areas"][m.key]["hint"] for m in face) if h == "moves"]
    return None


def _asks_about_the_bot(clause: _Clause) -> bool:
    """A clause that opens by asking what the chatbot is ("am I talking to a bot or a human?")."""
    return any(m.key == "about_bot" and m.start == 0 for m in clause.of("intents"))


def _topic_spans(clause: _Clause) -> set[int]:
    """The words that name a topic. What a treatment does ("saggy skin") said of oneself with no
    treatment named ("I'm 45 with saggy skin") describes the person's skin instead."""
    of_self = clause.of("self") and not (clause.of("treatments") or clause.of("brands"))
    return {i for m in clause.of("topics") if not (of_self and m.key == "purpose")
            for i in range(m.start, m.end)}


# The readers of one clause, in order: each may rely on what the earlier ones found.
_READERS = (_read_treatments, _read_intents, _read_conditions, _read_items, _read_topics, _settle_topics,
            _ask_topics, _read_plan, _read_lines)


def _distance(a: Match, b: Match) -> tuple[int, int]:
    """How far apart two matches are, preferring a treatment named after the topic on a tie."""
    if b.start >= a.end:
        return (b.start - a.end, 0)
    if a.start >= b.end:
        return (a.start - b.end, 1)
    return (0, 0)


def _one_treatment(treatments: list[str]) -> str | None:
    unique = set(treatments)
    if not unique:
        return None
    return treatments[0] if len(unique) == 1 else "both"


def _tell_item(told: dict, kind: str, item: str, category: str, negated: bool, unsure: bool) -> None:
    """Record a named item the person does (or does not) take or use."""
    if kind == "hair_removal":
        # threading, plucking, laser: not what the article names, so for the injector, not a yes
        other = category == "other_hair_removal" and not negated and told.get("hair_removal") is not True
        told["hair_removal"] = "unknown" if unsure or other else not negated
        return
    key = LIST_KEY_OF_KIND[kind]
    generic = item in CLASS_WORDS
    current = list(told.get(key, []) or [])
    if unsure and generic:
        told[key] = "unknown"   # "she is not sure about her meds": never a no
        return
    if negated:
        if generic:
            told[key] = []          # "I don't take any supplements"
        else:
            told.setdefault(key + "_stopped", []).append(item)
            if current:
                told[key] = [name for name in current if name != item]
        if generic and kind == "medicine":
            told["blood_thinners"] = False   # "no medicines" / "no blood thinners"
        return
    if unsure:
        told[key] = "unknown"
        return
    if generic:
        told[key] = current or ["unspecified"]
    elif item not in current:
        told[key] = current + [item]
    if category == "blood_thinner":
        told["blood_thinners"] = True


def _negated_positions(clause: _Clause) -> set[int]:
    """Token positions inside the reach of a negation cue (up to a break word or 6 words)."""
    unknown_spans = {i for m in clause.of("answers") if m.key == "unknown" for i in range(m.start, m.end)}
    breaks = sorted(m.start for m in clause.of("negation") if m.key == "break")
    negated: set[int] = set()
    obligations = [tuple(phrase.split()) for phrase in _GRAMMAR.obligations]
    for cue in (m for m in clause.of("negation") if m.key == "cue"):
        if cue.start in unknown_spans:
            continue
        if cue.words == "off" and cue.start and clause.words[cue.start - 1] in _GRAMMAR.off_verbs:
            continue   # "collagen drops off with age", "when botox wears off": no stop
        if any(tuple(clause.words[cue.end:cue.end + len(o)]) == o for o in obligations):
            continue   # "I don't have to stop my Advil, do I?" asks; it does not deny the Advil
        if cue.start == 0 and cue.words == "no" and clause.words[cue.end:cue.end + 1] and \
                clause.words[cue.end] in _GRAMMAR.answer_subjects:
            continue   # "no they only show when I smile": an answer, then a sentence of its own
        stop = min([b for b in breaks if b >= cue.end] + [cue.end + 6, len(clause.words)])
        negated |= set(range(cue.end, stop))
        if cue.words in _GRAMMAR.stopped_cues:
            negated |= set(range(max(0, cue.start - 6), cue.start))  # "I'm off ibuprofen", "... anymore"
    last = clause.words[-1] if clause.words else ""
    if last in _GRAMMAR.ending_negations and len(clause.words) <= 6:
        negated |= set(range(0, len(clause.words) - 1))   # "pregnant no", "allergic to nothing"
    return negated


def _doubtful(clause: _Clause, lexicon: Lexicon) -> bool:
    """Doubt in the clause: "not sure", "maybe", "I might be", or a negated word of certainty ("she
    isn't sure", "can't be certain", "not 100%"). Doubt is never a "no"."""
    asks = {i for m in clause.of("intents") for i in range(m.start, m.end)}   # "is it possible to"
    if any(m.key == "unknown" and m.start not in asks for m in clause.of("answers")):
        return True
    certainty = lexicon.data["doubt"]["certainty"]
    return any(word in certainty for cue in clause.of("negation") if cue.key == "cue"
               for word in clause.words[cue.end:cue.end + 3])


def _in_time_to_come(clause: _Clause) -> bool:
    """A condition said of a time to come ("when I'm breastfeeding next year"): supposed, not told."""
    spoken = f" {' '.join(clause.words)} "
    return bool(clause.of("conditions")) and any(phrase in spoken for phrase in _GRAMMAR.future_words) \
        and bool(set(clause.words) & _GRAMMAR.future_frames)


def _supposes(words: list[str]) -> bool:
    """A supposition ("what if I'm...", "does it matter if I..."), not doubt ("not sure if I'm...")."""
    if "suppose" in words or "supposing" in words:
        return True
    if any(phrase in f" {' '.join(words)} " for phrase in _GRAMMAR.reported_speech):
        return True   # "my injector said no alcohol for 24 hours": advice reported, nothing told
    if words and words[0] in _GRAMMAR.wh_words and "if" in words:
        return True   # "how do I know if I'm allergic?": asked about, not doubt told
    return any(word == "if" and (index == 0 or words[index - 1] not in DOUBT)
               for index, word in enumerate(words))


def _about_self_positions(clause: _Clause) -> set[int]:
    """Positions that follow "I'm", "I take", "my"... not asked with a modal ("can I take") and not
    supposed ("what if I'm pregnant", "does it matter if I'm breastfeeding")."""
    positions: set[int] = set()
    if clause.of("others"):
        return positions
    if _supposes(clause.words):
        return positions
    for marker in clause.of("self"):
        before = clause.words[marker.start - 1] if marker.start else ""
        if before in MODALS or (before == "am" and clause.question):
            continue   # "can I take...?", "am I pregnant?": asked, not told
        positions |= set(range(marker.end, min(marker.end + 5, len(clause.words))))
    return positions


# -- the conversation --------------------------------------------------------------------------------
def _take_back(clauses: list[_Clause], lexicon: Lexicon, result: Understanding) -> None:
    """"Forget the pregnancy thing", "ignore what I said about the wine": what it names is dropped
    (and nothing in the message is recorded); with nothing named, "forget" means nothing here."""
    result.intents.remove("forget")
    words = {w for c in clauses for w in c.words}
    keys = set().union(*(_spoken_of(c, lexicon, whole=True) for c in clauses)) - {"blood_thinners"}
    keys |= {key for word, key in _GRAMMAR.forget_words.items() if word in words}
    if keys:
        result.forget = sorted(keys)
        result.told, result.questions, result.lines = {}, [], {}


def _spoken_of(clause: _Clause, lexicon: Lexicon, whole: bool = False) -> set[str]:
    """The check keys the words before any break ("but", "except") of an answer speak of: "I don't
    drink" speaks of alcohol, "no medications" of medicines and blood thinners, "no but..." of none."""
    breaks = [m.start for m in clause.of("negation") if m.key == "break"]
    end = len(clause.words) if whole else min(breaks, default=len(clause.words))
    items, keys = lexicon.data["items"], set()
    for match in clause.matches:
        if match.start >= end:
            continue
        if match.section == "conditions":
            keys.add("allergic" if match.key.startswith("allergic") else match.key)
        elif match.section == "items":
            kind = items[match.key]["kind"]
            keys.add(LIST_KEY_OF_KIND.get(kind, kind))
            if kind == "medicine":
                keys.add("blood_thinners")
        elif match.section == "topics" and match.key in SCREENING_KEYS + ("medicines",):
            keys |= {match.key, "blood_thinners"} if match.key == "medicines" else {match.key}
    return keys


def _read_answer(clauses: list[_Clause], context: dict, result: Understanding,
                 lexicon: Lexicon) -> None:
    """A short yes/no/not sure/skip answer, when the bot is waiting on a question."""
    if not clauses:
        return
    first = clauses[0]
    if _takes_back_the_last_answer(clauses, context, result, lexicon) or _stops_what_was_just_told(
            clauses, context, result):
        return
    # "no", "nope, never", "probably yes", "I think so": an answer at the very start of the message,
    # or after a filler word ("well no", "um yes"); "which should I do first" is not a "yes".
    fillers = _GRAMMAR.answer_fillers
    starts = {0} | ({1} if first.words[0] in fillers else set())
    answers = [m for m in first.of("answers") if m.start in starts]
    whole = any(m.end == len(first.words) for m in answers)   # the answer is all there is: "ok"
    doubt = any(_doubtful(c, lexicon) for c in clauses)
    if not answers and doubt and context.get("pending") and not any(c.question for c in clauses) \
            and not result.questions and not result.told:
        answer = "unknown"   # "honestly I'm not sure", "she isn't 100% sure"
    else:
        if not answers or (first.words[0] in QUESTION_STARTERS and first.words[0] not in ("am", "do")
                           and not whole):
            return
        spoken = " ".join(w for c in clauses for w in c.words)
        answer = max(answers, key=lambda m: (m.end - m.start, -m.start)).key
        if answer == "likely":   # "I think so": a yes, except to a condition that rules a treatment out
            answer = "unknown" if context.get("pending") in TOPIC_OF_CONDITION else "yes"
        if first.question and not whole and (len(first.words) > 2 or first.of("items") or first.of(
                "topics") or first.of("conditions")):
            return   # "no vitamins? well vitamin E sometimes": a question back, not an answer
        if answer in ("yes", "no") and (doubt or (len(spoken.split()) <= 2 and first.question)):
            answer = "unknown"   # "no, not 100% sure", "yes I might be", "no?": never a yes or a no
        elif answer == "no" and any(phrase in f" {spoken} " for phrase in _GRAMMAR.exceptions):
            answer = "unknown"   # "no allergies except lidocaine", "I don't drink except at weekends"
            for key in _spoken_of(first, lexicon) | {context.get("pending")}:
                if result.told.get(key) is False:
                    result.told[key] = "unknown"
        elif any(marker in f" {spoken} " for marker in NOT_AN_ANSWER):
            # "yes, no wait, no": the answer after the correction; "no wait, it's the 13th": none
            tail = re.split("|".join(re.escape(m.strip()) for m in NOT_AN_ANSWER), spoken)[-1].strip()
            answer = next((key for key in ("yes", "no", "unknown")
                           if tail in lexicon.data["answers"][key]), None)
            if answer is None:
                return
    pending = context.get("pending")
    spoken = " ".join(w for c in clauses for w in c.words)
    if pending not in (None, "alcohol", "appointment_date") and context.get("has_appointment") and (
            _DATE_CORRECTION.search(spoken)):
        return   # "no it's the 18th not the 19th": the date corrected, no answer to the question
    result.answer = answer
    if not pending or pending in result.told or pending == "topic":
        return   # a "Did you mean ...?" is answered by a choice, never stored as a fact
    about = _spoken_of(first, lexicon)
    after = set().union(*(_spoken_of(c, lexicon) for c in clauses[1:])) if len(first.words) == 1 else set()
    if after and pending not in after:
        return   # "no, I haven't waxed, I was planning to..." to the allergy question: about the waxing
    answered = context.get("answered")
    if answered in TOPIC_OF_CONDITION and answered != pending and not about and answer in (
            "yes", "no", "unknown") and f"{' '.join(first.words)} ".startswith(_GRAMMAR.reopeners):
        # "I'm not pregnant", then to the next question "actually wait, I might be": the last
        # answer taken back, not an answer to the question asked now (which is asked again)
        result.told[answered] = {"yes": True, "no": False, "unknown": "unknown"}[answer]
        return
    if about and pending not in about and not whole:
        return   # "I don't drink" to "are you pregnant?", "no medications" to the alcohol question
    taken = set(LIST_KEY_OF_KIND.values()) & set(result.told)
    if answer == "yes" and pending in ("blood_thinners", "medicines") and taken - {"medicines"}:
        return   # "yes, retinol every night" to the blood-thinner question: another question's answer
    if answer == "yes" and taken and pending not in taken and pending not in ("blood_thinners", "medicines"):
        return   # "yes, retinol every night" to the hair-removal question: asked again
    if answer == "yes" and pending in TOPIC_OF_CONDITION and taken:
        return   # "yes, retinol every night" to "are you pregnant?": another question's answer; asked again
    if answer == "yes" and pending == "blood_thinners" and result.told.get("medicines") and (
            "blood_thinners" not in result.told):
        # "yes, but only Tylenol": a medicine the article does not call a blood thinner; whether it
        # matters is for the injector, so the step is one to check, not a yes
        result.told["blood_thinners"] = "unknown"
    elif pending == "medicines" and answer == "yes":
        result.told.setdefault("medicines", ["unspecified"])
    elif answer == "ack":
        pass   # "ok" answers nothing
    elif pending in ("medicines", "supplements", "skincare"):
        result.told[pending] = {"yes": ["unspecified"], "no": [], "unknown": "unknown",
                                "skip": "skipped"}[answer]
        if pending == "medicines" and answer == "no":
            result.told["blood_thinners"] = False
    elif pending == "lines_at_rest":
        if answer in ("yes", "no") and not result.lines.get("behaviours"):
            result.lines["behaviours"] = ["rest" if answer == "yes" else "moves"]
    elif pending == "appointment_date":
        pass
    elif answer != "ack":
        result.told[pending] = {"yes": True, "no": False, "unknown": "unknown", "skip": "skipped"}[answer]


def _takes_back_the_last_answer(clauses: list[_Clause], context: dict, result: Understanding,
                                lexicon: Lexicon) -> bool:
    """"Actually I'm not, I misread" or "sorry, I meant no" after "I'm pregnant": the last condition
    answered is answered again, whatever is asked now."""
    answered, pending = context.get("answered"), context.get("pending")
    words = [w for c in clauses for w in c.words]
    said = " ".join(words)
    opener = next((r for r in _GRAMMAR.reopeners if f"{said} ".startswith(r)), None)
    items = _ITEMS_ANSWERED.get(answered or "")
    if (answered not in TOPIC_OF_CONDITION and not items) or answered == pending or opener is None or (
            answered in result.told):
        return False
    if items and any(c.of("items") for c in clauses):
        return False   # "actually, I take fish oil too": an item told, read as such
    if any(_spoken_of(c, lexicon) - {answered} - set(items or ()) for c in clauses):
        return False   # "actually, I don't drink": about something else
    tail = [w for w in words[len(opener.split()):] if w not in _GRAMMAR.reopener_fillers]
    found = [m for m in lexicon.find(tail, ("answers",))
             if m.start == 0 and m.key in ("yes", "no", "unknown")]
    if not found and not any(_doubtful(c, lexicon) for c in clauses):
        return False
    answer = max(found, key=lambda m: m.end).key if found else "unknown"
    if answer != "unknown" and any(_doubtful(c, lexicon) for c in clauses):
        answer = "unknown"
    if items and answer == "yes":
        return False   # "actually yes" after items told: nothing to take back
    if items:
        result.forget = list(items)   # "yes ibuprofen", then "actually no, I don't take anything"
    result.told[answered] = {"yes": True, "no": False, "unknown": "unknown"}[answer]
    return True


def _stops_what_was_just_told(clauses: list[_Clause], context: dict, result: Understanding) -> bool:
    """"Only a little aspirin", then "stopped last week": the items just told are stopped."""
    bases = _ITEMS_ANSWERED.get(context.get("answered") or "", ())
    items = [i for base in bases for i in (context.get("items") or {}).get(base, []) if i != "unspecified"]
    spoken = _opened(" ".join(w for c in clauses for w in c.words))
    if not items or any(c.of("items") or c.of("conditions") for c in clauses) or not any(
            f"{spoken} ".startswith(f"{stop} ") for stop in _GRAMMAR.bare_stops):
        return False
    for base in bases:
        result.told[f"{base}_stopped"] = [i for i in context["items"].get(base, []) if i != "unspecified"]
    return True


# The checks whose answer names items, and the lists those items were recorded in: an answer taken
# back ("actually no, I meant I don't take anything") takes the items back with it.
_ITEMS_ANSWERED = {"blood_thinners": ("medicines",), "medicines": ("medicines",),
                   "supplements": ("supplements",), "skincare": ("skincare",)}


def _date_text(text: str) -> str:
    """Text for the date reader: like `normalise`, but keeping the - and / of written dates."""
    text = _SPAN_OF_TIME.sub(" ", text)   # "2-3 days", "24-48 hours": how long, not a date
    kept = re.sub(r"(?<=\d)[/.-](?=\d)", "/", text)
    kept = re.sub(r"(?<=\d)[,;:!?)]+(?=\s|$)", " ", kept)   # "12/04," -> "12/04"
    kept = re.sub(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b", r"\1-\2-\3", kept)
    return " ".join(part if re.fullmatch(r"[\d/-]+", part) else normalise(part)
                    for part in kept.split())


def _answer_with_a_drink(clauses: list[_Clause], lexicon: Lexicon, result: Understanding) -> None:
    """A drink named in reply to the alcohol question answers it ("a glass of wine maybe": not
    sure; "couple of beers": yes), instead of asking about alcohol."""
    if "alcohol" in result.told or not any(q.topic == "alcohol" for q in result.questions):
        return
    result.questions = [q for q in result.questions if q.topic != "alcohol"]
    if any(_doubtful(c, lexicon) for c in clauses):
        result.told["alcohol"] = "unknown"
    else:   # "he doesn't drink", "she never drinks": a no; "a couple of beers": a yes
        result.told["alcohol"] = not any(m.key == "cue" for c in clauses for m in c.of("negation"))


def _about_a_drink(result: Understanding) -> bool:
    return result.told.get("alcohol") is True or any(q.topic == "alcohol" for q in result.questions)


_SPAN_OF_TIME = re.compile(r"\b\d{1,3}\s*[-/]\s*\d{1,3}\s*(?:days?|weeks?|hours?|hrs?|months?|wks?)\b", re.I)
_LONG_AGO = _GRAMMAR.long_ago
_DURATION = re.compile(_GRAMMAR.not_had.pattern + r".*?\bin (?:a|an|the last|\d+|one|two|three|four|five|six|"
                       r"seven) (?:day|days|week|weeks|month|months)\b")
_LONG_PAST = _GRAMMAR.long_past
_DATE_CORRECTION = re.compile(_GRAMMAR.date_correction_markers.pattern + r".*"
                              r"\b(?:\d{1,2}(?:st|nd|rd|th)?|" + "|".join(dates.WEEKDAYS) + r")\b")
_PAST_EVENT = re.compile(_GRAMMAR.past_event_verbs.pattern + ".*" + _GRAMMAR.recent_times.pattern)
_BOOKING_WORDS = _GRAMMAR.booking_words
_DAYS_BEFORE = re.compile(r"\b(\d{1,2}|one|two|three|four|five|six|seven) days? before\b")
_RESCHEDULED = _GRAMMAR.rescheduled
_DAYS_AGO = re.compile(r"\b(\d{1,2}|one|two|three|four|five|six|seven) days? ago\b")
_PAST_NIGHT = _GRAMMAR.last_night


_DRINK_PIECES = re.compile(r"[.;!?,]| and | then | but | also | plus ")


def _which_week(date_text: str, context: dict) -> str:
    """"The one next week" or "this one", answering which "next Friday" was meant: that weekday."""
    earlier = (context.get("date_words") or "").split()
    day = next((word for word in earlier if word in dates.WEEKDAYS), None)
    if context.get("pending") != "appointment_date" or day is None:
        return date_text
    said = f" {date_text} "
    if any(f" {p} " in said for p in _GRAMMAR.later_week):
        return f"{day} next week"
    if any(f" {p} " in said for p in _GRAMMAR.this_week):
        return f"this {day}"
    return date_text


def _read_drink_date(words: str, today: date, context: dict, result: Understanding,
                     besides: str | None = None, single: bool = False) -> None:
    """When the person drinks (or drank), on one day or several ("wine monday night and a beer
    tomorrow": each piece of the message read in its own tense, a piece with none in the last's)."""
    dated: list[str] = []
    appointment = context.get("appointment_date")
    habit = [day for word, day in _GRAMMAR.habitual_days.items() if f" {word} " in f" {words} "]
    if habit and appointment and not single:
        # "only on weekends", "fridays": the last such days before the appointment
        on = date.fromisoformat(appointment)
        for day in sorted({d for days in habit for d in days}):
            back = (on.weekday() - day) % 7 or 7
            dated.append((on - timedelta(days=back)).isoformat())
        dated.sort()
        result.told["alcohol_date"] = dated[-1]
        result.drink_dates = dated
        return
    if not single:
        tense = ""
        for piece in _DRINK_PIECES.split(f" {words} "):
            if not piece.strip() or (_APPOINTMENT_WORDS.search(piece) and not _DRINK_WORDS.search(piece)):
                continue
            said = set(piece.split())
            if said & PAST_WORDS or _PLANNED.search(piece):
                tense = "will " if _PLANNED.search(piece) else "had "
            when = _drink_date(piece if said & PAST_WORDS or _PLANNED.search(piece) else tense + piece,
                               today, context)
            if when is not None and when.isoformat() not in dated and (
                    when.isoformat() != besides or (   # "a beer tomorrow", tomorrow being the day
                        _DRINK_WORDS.search(piece) and not _APPOINTMENT_WORDS.search(piece))):
                dated.append(when.isoformat())
    if not dated:
        when = _drink_date(words, today, context)
        dated = [when.isoformat()] if when is not None and when.isoformat() != besides else []
    if dated:
        result.told["alcohol_date"] = dated[-1]
        result.drink_dates = dated


def _drink_date(words: str, today: date, context: dict) -> date | None:
    """The day of a drink: "a glass on Wednesday", "4 days before", "last night", "wine on the 16th"."""
    appointment = context.get("appointment_date")
    when, weekday = None, False
    before = _DAYS_BEFORE.search(words)
    eve = next((days for phrase, days in _GRAMMAR.days_from_the_appointment.items()
                if f" {phrase} " in f" {words} "), None)
    if eve is not None and appointment:   # "a glass of wine the night before": the eve of the appointment
        when = date.fromisoformat(appointment) - timedelta(days=eve)
    elif before and appointment:
        count = before[1]
        count = int(count) if count.isdigit() else dates.NUMBERS[count]
        when = date.fromisoformat(appointment) - timedelta(days=count)
    elif _PAST_NIGHT.search(words):
        when = today - timedelta(days=1)
    elif _DAYS_AGO.search(words):   # "I drank 2 days ago"
        count = _DAYS_AGO.search(words)[1]
        when = today - timedelta(days=int(count) if count.isdigit() else dates.NUMBERS[count])
    else:
        found = dates.find(words, today, _DRINK_WORDS)
        when = found.value if found is not None else None
        weekday = found is not None and bool(set(found.words.split()) & set(dates.WEEKDAYS)) and not any(
            ch.isdigit() for ch in found.words)   # "Friday the 18th" is that day, whatever the week
        if when is not None and when > today and set(words.split()) & (PAST_WORDS - AFTER_WORDS) and not (
                _PLANNED.search(words)):
            # "he had wine on Saturday": the Saturday just gone; "I had wine on the 1st": the 1st
            when = when - timedelta(days=7) if weekday else (_month_before(when) or when)
    if weekday and when is not None and appointment and when > date.fromisoformat(appointment) and (
            when - timedelta(days=7) >= today - timedelta(days=7)) and not set(words.split()) & AFTER_WORDS:
        when -= timedelta(days=7)   # "pints on Friday" before a Monday appointment: the Friday before
    return when


def _after_a_correction(words: str, today: date) -> str:
    """"Botox on Friday, actually wait, it's next Friday": the date after the last correction, when
    one is given there."""
    markers = [m for m in _GRAMMAR.self_corrections + _GRAMMAR.date_takebacks
               if f" {m} " in f" {words} "]
    if not markers:
        return words
    at = max(f" {words} ".rfind(f" {m} ") for m in markers)
    tail = words[at:]
    return tail if dates.find(tail, today) is not None else words


def _corrects(spoken: str) -> bool:
    """Whether the words take back something just said ("sorry, I meant the 1st", "not the 3rd")."""
    return any(f" {m} " in f" {spoken} " for m in _GRAMMAR.self_corrections + _GRAMMAR.date_takebacks)


def _month_before(day: date) -> date | None:
    """The same day of the month before, when there is one."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    try:
        return day.replace(year=year, month=month)
    except ValueError:
        return None


_PLANNED = _GRAMMAR.planned_words


def _read_date(words: str, today: date, result: Understanding) -> None:
    found = dates.find(words, today, _APPOINTMENT_WORDS)
    if found is None:
        return
    if found.value is not None:
        result.told["appointment_date"] = found.value.isoformat()
    else:
        result.date_problem = found.problem
        result.date_words = found.words


def _carry_over(clauses: list[_Clause], context: dict, result: Understanding, lexicon: Lexicon) -> None:
    """Fill in what a short follow-up leaves out: "and Botox?", "how long does it take?"."""
    said = f" {' '.join(w for c in clauses for w in c.words)} "
    if result.candidates == list(BARE_AREA_TOPICS) and result.asked_areas and (
            (context.get("last_trace") or {}).get("intent", "").startswith("recommend")):
        # "and what about nasolabial folds?" after a recommendation: the same question for that area
        result.candidates, result.unread, result.other_lines = [], "", True
        result.intents.append("recommend")
        result.lines = {"areas": [a for a, _ in result.asked_areas],
                        "hints": list(dict.fromkeys(h for _, h in result.asked_areas))}
        return
    if not result.treatments and any(f" {p} " in said for p in _GRAMMAR.other_treatment):
        # "what about the other one?" after an answer about Botox: fillers
        intent = (context.get("last_trace") or {}).get("intent", "")
        last = context.get("last_treatment") or next((t for t in TREATMENTS if t in intent.split("_")), None)
        if last in TREATMENTS:
            result.treatments = [t for t in TREATMENTS if t != last]
    corrected_treatment = set(result.told) == {"treatment"} and any(c.of("corrections") for c in clauses)
    answered = result.answer and (context.get("pending") or result.answer not in ("yes", "no"))
    said_anything = result.questions or result.intents or result.lines or answered or result.forget or (
        result.told and not corrected_treatment)    # "sorry, I meant botox" re-asks the question
    words = [w for c in clauses for w in c.words]
    refers = bool(set(words) & PRONOUNS) or " ".join(words) in FOLLOW_UPS
    if context.get("last_brand") and not result.treatments and refers and "recommend" not in result.intents:
        brand = context["last_brand"]   # "how much is it?" after "what is dysport": still Dysport
        result.mentions.append(Mention(brand["word"], brand["item"], "brand", brand["treatment"],
                                       brand["says"], brand["listed"], label=brand["item"]))
    words = [w for c in clauses for w in c.words]
    asks_back = any(c.question and set(c.words) & PRONOUNS for c in clauses) or any(
        " ".join(c.words) in FOLLOW_UPS for c in clauses)
    pronoun_question = any(c.question and set(c.words) & PRONOUNS for c in clauses)
    advice = any(p in " ".join(words) for p in _GRAMMAR.asking_advice)
    if not said_anything and (pronoun_question or advice) and context.get("last_urgent"):
        result.intents = ["urgent"]     # "is that normal?" after an urgent message: still urgent
        return
    # "what is botox for guys": a bare "what is" with words no phrase explained is not "what is Botox"
    # A weak topic read from a long phrase ("what does filler do to") is specific enough to stand
    spelled_out = any(len(m.words.split()) >= 5 for c in clauses for m in c.of("topics")
                      if any(q.topic == m.key for q in result.questions))
    vague = bool(result.questions) and all(q.topic in WEAK_TOPICS for q in result.questions) and not (
        result.told or result.intents or result.lines or result.mentions or spelled_out)
    # "how long is the wait for a filler appointment": "how long" says nothing of the subject
    framed = bool(result.questions) and all(q.topic in FRAMED_TOPICS for q in result.questions) and not (
        set(result.told) - {"treatment"} or result.intents or result.lines or result.mentions)
    # "can I go to the gym the day after my filler?", "can I get botox at 70?": a question read only
    # as a plan or as "can I have...?" asks something the phrases missed, not for a note or a check
    only_a_plan = any(c.question for c in clauses) and not (result.questions or result.lines or (
        result.answer) or set(result.told) - {"treatment", "appointment_date"} or set(
        result.intents) - {"eligibility"})
    refers_back = asks_back and context.get("last_topics")   # "is that bad?" after a topic
    if result.treatments and not said_anything and context.get("last_topics") and all(
            _names_only_a_treatment(c) for c in clauses):
        refers_back = True   # "and before filler?": the last question, for fillers
    when_to_stop = any(f" {p} " in f" {' '.join(words)} " for p in _GRAMMAR.when_to_stop)
    if not said_anything and context.get("last_topics") and when_to_stop and not result.treatments:
        # "how long before should he stop?" after a question about alcohol: the same question
        treatment = context.get("last_treatment")
        for topic in context["last_topics"]:
            result.questions.append(Asked(topic, "any" if topic in ANY_TOPICS else treatment))
        return
    timing = [w for w in words if w not in _GRAMMAR.follow_up_words - _GRAMMAR.timing_words]
    if not said_anything and context.get("last_topics") and timing and all(
            w in _GRAMMAR.timing_words for w in timing) and set(timing) & (
            AFTER_WORDS | BEFORE_WORDS | {"day", "night", "evening", "morning"}):
        # "what about on the day?", "and the evening before?", "what about after?" after a question
        # about alcohol: the same question, at that time
        after = bool(set(timing) & AFTER_WORDS) and not set(timing) & BEFORE_WORDS
        treatment = _one_treatment(result.treatments) or context.get("last_treatment")
        for topic in context["last_topics"]:
            result.questions.append(Asked(topic, "any" if topic in ANY_TOPICS else treatment,
                                          when="after" if after and topic in PRECAUTION_TOPICS else ""))
        return
    if (not said_anything or vague or framed or only_a_plan) and not refers_back and _read_by_examples(
            clauses, lexicon, result):
        pass   # the example ranker read it, or found it unclear
    elif result.treatments and not said_anything:
        treatment = _one_treatment(result.treatments)
        about_the_brand = any(m.kind == "brand" for m in result.mentions) and words and (
            words[0] in ("is", "are", "whats", "what", "tell") and "about" not in words)
        modal_only = all(_names_only_a_treatment(c) or not (set(c.words) & _GRAMMAR.modals) for c in clauses)
        if result.date_problem and treatment in TREATMENTS + ("both",) and not any(
                c.question for c in clauses):
            result.told["treatment"] = treatment   # "lip filler next friday": a booking, its day asked
        elif context.get("last_topics") and not about_the_brand and modal_only:
            # "and Botox?" / "what about fillers": the last question again, for the treatment named.
            for topic in context["last_topics"]:
                result.questions.append(Asked(topic, "any" if topic in ANY_TOPICS else treatment))
        elif any(c.of("symptoms") for c in clauses) and any(c.question for c in clauses):
            result.questions.append(Asked("side_effects", treatment))   # "can botox make your eyelid droop"
        elif "help" in words and treatment in TREATMENTS:
            result.intents.append("recommend")   # "could botox help?": whether it suits the lines
        elif set(words) & PAST_WORDS:
            # "had botox yesterday": what the article says about afterwards.
            result.questions.append(Asked("aftercare", "any"))
        elif corrected_treatment:
            pass   # "oops, I meant fillers" with nothing asked before: the correction is noted
        elif any(c.of("areas") for c in clauses):
            # "chin filler", "botox forehead": where the treatment is used
            result.questions.append(Asked("areas", treatment))
        else:
            # "botox?" / "baby botox" on its own: what it is; "botox or filler?": how they differ.
            result.questions.append(Asked("difference", "any") if treatment == "both"
                                    else Asked("what", treatment))
        return
    if not said_anything and asks_back and context.get("last_topics"):
        # "should I stop it?", "is that bad?", "how much?" after a topic: the same topic again.
        for topic in context["last_topics"]:
            result.questions.append(Asked(topic, "any" if topic in ANY_TOPICS else None))
    if any(q.when == "after" and q.topic == "skincare" and (not q.item or q.item in CLASS_WORDS)
           for q in result.questions) and not any(q.topic == "aftercare" for q in result.questions):
        # "what skincare should I do after injectables?": the article's everyday skin care after
        result.questions.append(Asked("aftercare", "any"))
    message_treatment = _one_treatment(result.treatments)
    resolved = []
    for question in result.questions:
        if question.treatment is None and message_treatment:
            question = Asked(question.topic, message_treatment, question.item, question.when)
        resolved.append(question)
    result.questions = resolved


def _read_choice(clauses: list[_Clause], context: dict, ordinals: dict[str, int]) -> str | None:
    """The topic picked from the bot's "Do you mean ...?" choices: by its words or its place."""
    choices = context.get("choices") or {}
    if context.get("pending") != "topic" or not choices:
        return None
    said = " ".join(w for c in clauses for w in c.words)
    for label, topic in choices.items():
        if normalise(label) == said:
            return topic
    topics = list(choices.values())
    words = [w for c in clauses for w in c.words]
    if len(topics) == 1 and any(m.key == "yes" and m.start == 0 and m.end == len(words)
                                for m in clauses[0].of("answers")):
        return topics[0]   # "Did you mean the cost?" - "yes"
    place = ordinals.get(said)
    return topics[place] if place is not None and abs(place) <= len(topics) - (place >= 0) else None


# -- the example ranker ------------------------------------------------------------------------------
def _unexplained(clauses: list[_Clause], lexicon: Lexicon) -> list[str]:
    """Words of the message that no phrase of the lexicon explained and that carry meaning."""
    stopwords = lexicon.data["ranker"]["stopwords"]
    left = []
    for clause in clauses:
        covered = {i for m in clause.matches for i in range(m.start, m.end)}
        left += [word for index, word in enumerate(clause.words)
                 if index not in covered and word not in stopwords and not word.isdigit()
                 and not (index < 3 and word in _GRAMMAR.correction_openers)     # "oh wait, ..."
                 and word not in dates.MONTHS and word not in dates.WEEKDAYS   # "friday 4 december"
                 and not _ORDINAL.fullmatch(word)]                                # "the 14th"
    return left


def _read_by_examples(clauses: list[_Clause], lexicon: Lexicon, result: Understanding) -> bool:
    """A message the phrases did not read, with words they could not explain: the example ranker
    proposes a topic when one is clearly closest, else keeps its closest topics as choices.
    False when every word was explained (then nothing was asked that the ranker could add to)."""
    unread = _unexplained(clauses, lexicon)
    named = whom_a_check_is_for(result.text, lexicon) if unread else None
    if named and named[0].isupper():
        unread = [word for word in unread if word != named.lower()]   # "booking for Tom": a name
    # Every word explained and yet nothing read ("what is collagen": a vague topic, no treatment)
    explained = not unread and not (result.questions or result.intents or result.told or result.lines
                                    or result.answer) and any(
        c.of("topics") and not c.of("areas") for c in clauses)
    if not unread and not explained:
        return False
    from chatbot import ranker as ranker_module  # loaded only for messages the phrases missed
    ranker = ranker_module.load(lexicon)
    unread = [word for word in unread if ranker.meaningful(word)]
    if not unread and not explained:
        return False
    settings = lexicon.data["ranker"]
    every = ranker.rank(ranker.terms([w for c in clauses for w in c.words], lexicon), limit=None)
    best = every[0] if every else None
    runner_up = every[1].score if len(every) > 1 else 0.0
    confident = bool(best) and best.score >= settings["accept"] and (
        best.score >= settings["lead"] * runner_up)
    if explained and not confident:
        # the closest topics as choices, or (none close) the message stays not understood
        result.candidates = [s.topic for s in every[:3] if s.score >= settings["accept"]
                             and s.score * 3 >= best.score]
        return bool(result.candidates)
    asked = list(dict.fromkeys(q.topic for q in result.questions))   # only ever weak topics
    if best and best.topic in asked:
        return True   # the examples agree with the phrases
    if confident:
        result.ranked = best.topic
        treatment = _one_treatment(result.treatments)
        result.questions = [Asked(best.topic, "any" if best.topic in ANY_TOPICS else treatment)]
        return True
    if asked and asked != ["what"]:
        # "where do you put botox": the phrases' weak topic stands, unless the examples put another
        # topic far ahead of it ("would a thread lift be better than botox" is not the difference)
        phrased = max((s.score for s in every if s.topic in asked), default=0.0)
        # A topic the article is silent on only has to come first ("can botox treat depression"
        # is not where Botox goes): offering it costs little, answering the weak topic misleads.
        lead = 1.0 if best and (best.topic in ranker.silent or set(asked) <= set(FRAMED_TOPICS)) \
            else settings["lead"]
        # The weak topic read from a question word alone ("where", "how long") beside words nothing
        # explains ("where can I park"), with no example close either: not covered, never the topic
        function_words = _GRAMMAR.wh_words | _GRAMMAR.modals | {"long", "much", "many", "i", "you", "is",
                                                                 "are"}
        bare = set(asked) <= {"areas", "duration"} and all(   # "where...", "how long...": place, time
            set(m.words.split()) <= function_words for c in clauses for m in c.of("topics") if m.key in asked)
        if bare and phrased < settings["offer"] and (not best or best.score < settings["offer"]):
            result.questions = []
            result.unread = " ".join(unread)
            return True
        if not best or best.score < settings["offer"] or best.score <= lead * phrased:
            return True
        candidates = [best.topic]
    else:
        candidates = [s.topic for s in every[:4]
                      if s.score >= settings["offer"] and s.score * 3 >= best.score]
        if asked and not candidates:
            return True   # "tell me about botox, my wedding is soon": what it is, after all
    result.questions = []
    result.unread = " ".join(unread)
    first = asked + candidates if asked == ["what"] else candidates + asked   # "what it is" leads
    result.candidates = list(dict.fromkeys(first))[:3]
    return True


# -- whom a check is for ----------------------------------------------------------------------------
_WORD = re.compile(r"[a-z]+")
_PARTS = re.compile(r"[.,;!?]+|\band\b|\bbut\b")


def whom_a_check_is_for(text: str, lexicon: Lexicon) -> str | None:
    """Whom a check is asked for when it is someone else: "your friend" for "check my friend",
    "" (the client) for "check my client" or "is she ready?"; None for the person themselves."""
    others = lexicon.data.get("others", {})
    words = f" {' '.join(_WORD.findall(text.lower()))} "
    # "my sister is getting married, I'm thinking of botox": the part naming the treatment decides
    named = [part for part in _PARTS.split(text.lower()) if lexicon.find(
        _WORD.findall(part), ("treatments", "brands", "intents"))]
    if named and not any(f" {phrase} " in f" {' '.join(_WORD.findall(part))} "
                         for part in named for phrase in others.get("words", [])) and any(
            lexicon.find(_WORD.findall(part), ("self",)) for part in named):
        return None
    if any(f" {phrase} " in words for phrase in _GRAMMAR.with_someone):
        return None   # "me and my sister both want lip filler": one at a time, the person first
    if not any(f" {phrase} " in words for phrase in others.get("words", [])):
        # "checking Anna for filler on Friday": a client named after the verb of a check
        said = text.lower().split()
        for at, (verb, raw, then) in enumerate(zip(said, said[1:], said[2:] + [""])):
            name, then = raw.strip(",.:;!?'"), then.strip(",.:;!?")
            if not name.isalpha() or name in _GRAMMAR.not_names or name in dates.WEEKDAYS or (
                    name in dates.MONTHS) or lexicon.find(
                    [name], ("treatments", "brands", "self", "intents", "topics", "answers")):
                continue
            if verb in _GRAMMAR.check_verbs and then in _GRAMMAR.name_follows:
                return name.capitalize()
            if at > 0 and said[at - 1] in _GRAMMAR.check_verbs and verb == "for" and (
                    raw[-1] in ",:" or lexicon.find([then], ("treatments", "brands"))):
                return name.capitalize()   # "booking for Tom, botox next thurs"
            led = verb == "now" or (verb == "for" and at > 0 and said[at - 1] == "now")
            if led and (raw[-1] in ",:" or lexicon.find([then], ("treatments", "brands"))):
                return name.capitalize()   # "ok now Jane, botox friday", "now for Beth: filler"
        return None
    known = [r for r in others.get("relations", []) if f" my {r} " in words]
    return f"your {max(known, key=len)}" if known else ""
