"""Role-play for front-desk staff: the bot plays a client, the trainee answers in their own words.

Each client is built from the knowledge base (a precaution, a contraindication, a figure, a gap,
a kind of wrinkle) and varies by treatment, item (brands too), timing and who is asking; a seed
reproduces a session. The model answer is what the chatbot itself replies to the client's
question, with its inventory IDs, so it is article-backed by construction.

The grader reads the trainee's reply with the chatbot's own understanding layer
(`chatbot.understand`), sentence by sentence: which topics, items and treatments each sentence
speaks of. On top of that it looks for a few plain signals (a referral, "the article does not
say", a reassurance, a figure). A reply earns its marks for what the situation needs (the right
precaution for *that* treatment, a referral where the article is silent or a contraindication
applies, the article's figure, the right treatment for the lines), and none at all when it
reassures where it must not, carries a precaution over to the other treatment, or gives a figure
the article does not.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import date

from chatbot import quiz
from chatbot.environment import Environment
from chatbot.knowledge import inventory
from chatbot.render import Renderer
from chatbot.status import ExitStatus

PASS_MARK = 80
TREATMENTS = ("botox", "fillers")
KINDS = ("precaution", "contraindication", "silent", "figure", "lines")
# How a client may name the treatment when saying they are booked (the question keeps the plain name).
WORDS = {"botox": ("Botox", "tox", "Botox for my frown lines"),
         "fillers": ("lip filler", "fillers", "cheek filler", "Juvederm")}
TIMINGS = ("on Friday", "tomorrow", "next Tuesday", "in two weeks", "on the 12th")
WHO = ("self", "self", "mum", "partner", "sister", "friend")
GAP_TOPICS = ("longevity", "side_effects", "age", "results_timing", "dosage")
FIGURE_TOPICS = ("duration", "cost")
LINE_AREAS = ("frown", "forehead", "crows", "folds", "lips", "cheeks")

# Plain signals, as data. Each is searched in a lower-cased sentence with straight apostrophes.
REFERRAL = re.compile(r"\b(?:injector|injectors|doctor|doctors|nurse|practitioner|clinician|"
                      r"prescriber|physician|gp|specialist|medical team)\b")
SILENCE = re.compile(r"\b(?:does not|doesn't|do not|don't|did not|didn't) (?:say|cover|mention|give|"
                     r"state|name|go into|list|talk about)|\bsays? nothing|\bnot (?:covered|stated|"
                     r"mentioned|in the article)|\bno (?:guidance|figure|price|information|advice|"
                     r"mention)|\bonly\b|can't answer|cannot answer|isn't covered|is not covered|"
                     r"\bsilent\b|won't stretch|not for (?:botox|fillers?)|\bnot sure\b|"
                     r"\b(?:don't|do not) know\b|can't say|cannot say|no (?:info|data)\b")
REASSURANCE = re.compile(r"\b(?:that's|that is|it's|it is|you're|you are|you'll be|you will be|"
                         r"should be|all|totally|perfectly|completely) (?:fine|ok|okay|safe|alright|"
                         r"good)\b(?! to (?:ask|check|call|talk|mention|bring|speak|tell))|"
                         r"\bno problem\b|\bno worries\b|\bnothing to worry\b|"
                         r"\bdon't worry\b|\bdo not worry\b|\bgo ahead\b|\bof course\b|"
                         r"\bno need to\b|\byes,? you can\b|\bno issue\b")
# A bare "yes" or "sure" opening a sentence reassures, unless the sentence refers or says the
# article is silent ("Sure, I'll check with the injector").
OPENING_YES = re.compile(r"^(?:yes|yeah|yep|sure|absolutely|definitely)\b")
ADVICE = re.compile(r"\b(?:avoid|stop|skip|pause|don't|do not|no more|hold off|put .{0,40}on hold|"
                    r"no (?!problem|worries|need|issue|idea|info|data)\w+|"
                    r"shouldn't|should not|must not|mustn't|refrain|cut out|give up|not (?:have|take|"
                    r"use|drink|shave|wax|get)|can't|cannot|ruled out|not advisable|wait)\b")
NEGATIVE = re.compile(r"(?:\bnot|n't) (?:advisable|advised|suitable|safe|recommended|possible)|"
                      r"\b(?:ruled out|rules? (?:it|them|fillers?) out|"
                      r"can't|cannot|can not|shouldn't|should not|must not|not (?:have|get|go ahead|"
                      r"be treated|suitable|safe)|no fillers?|postpone|wait until)\b")
_SENTENCE = re.compile(r"[^.!?;:\n]+")   # a colon too: "the article says: avoid X" is two claims
# What a person says about themselves that names a precaution's topic (class words such as "thins
# the blood" do not: they describe, they do not advise).
_TOLD_TOPICS = ("pregnant", "breastfeeding", "allergic", "alcohol", "hair_removal")
_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Client:
    """One client at the desk, and what the situation asks of the reply."""

    says: str                  # what the trainee reads
    question: str              # the client's own question: the chatbot is asked exactly this
    treatment: str             # botox | fillers | "" (lines)
    topic: str
    kind: str                  # one of KINDS, or "other_only" for a precaution of the other treatment
    item: str = ""             # the lexicon item named, if any
    recommend: str = ""        # for lines: botox | fillers | both


@dataclass(frozen=True)
class Model:
    """The chatbot's own reply to the client's question: the model answer."""

    text: str
    sources: tuple[str, ...]
    handoff: bool
    scope: str
    intent: str


@dataclass
class Grade:
    """A graded reply: what was good, what was missing, faults that cost every mark."""

    score: float
    good: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    review: str = ""

    def to_dict(self) -> dict:
        return {"score": self.score, "good": self.good, "missing": self.missing,
                "faults": self.faults}


# -- clients ----------------------------------------------------------------------------------------
def clients(seed: int) -> list[Client]:
    """Every kind of client the knowledge base supports, in an order and wording set by the seed."""
    rng = random.Random(seed)
    bank = quiz.Bank(rng)   # the quiz's client questions: one wording for chatbot and quiz
    topics = bank.topics
    found: list[Client] = []
    for topic_name, topic in topics.items():
        if not topic.precaution or topic_name == "contraindications":
            continue
        for treatment in TREATMENTS:
            item = bank.pick_item(topic_name)
            question = bank.line("ask", topic_name, treatment, item)
            if not question:
                continue
            own = bool(topic.sources.get(treatment))
            kind = ("contraindication" if topic.contraindication else "precaution") if own else "other_only"
            found.append(_client(rng, bank, question, treatment, topic_name, kind,
                                 item=(item or {}).get("key", ""), booked=not topic.contraindication))
    for topic_name in GAP_TOPICS:
        for treatment in TREATMENTS:
            question = bank.line("ask", topic_name, treatment)
            if question and topic_name in topics:
                found.append(_client(rng, bank, question, treatment, topic_name, "silent", booked=False))
    for topic_name in FIGURE_TOPICS:
        for treatment in TREATMENTS:
            question = bank.line("figure", topic_name, treatment)
            if not question:
                continue
            own = any(bank.figure_of(i) for i in bank.covered(topic_name, treatment))
            found.append(_client(rng, bank, question, treatment, topic_name,
                                 "figure" if own else "silent", booked=False))
    kinds = bank.wrinkle_kinds()
    for area in LINE_AREAS:
        question = bank.line("lines", areas=[area])
        entry = bank.lexicon.get("areas", {}).get(area)
        if not question or not entry:
            continue
        kind = ("volume" if entry["area"] in quiz.VOLUME_AREAS else
                "dynamic" if entry["hint"] == "moves" else "static")
        if kind in kinds:
            found.append(_client(rng, bank, question + " What would you suggest?", "", "wrinkle_types",
                                 "lines", recommend=kinds[kind]["treatment"], booked=False))
    rng.shuffle(found)
    return found


def _client(rng, bank, question, treatment, topic, kind, item="", recommend="", booked=True) -> Client:
    who = rng.choice(WHO)
    says = bank.env.get_template("roleplay_client.j2").render(
        who=who, booked=booked and bool(treatment), question=question,
        word=rng.choice(WORDS.get(treatment, ("",))), timing=rng.choice(TIMINGS))
    return Client(says=" ".join(says.split()), question=question, treatment=treatment, topic=topic,
                  kind=kind, item=item, recommend=recommend)


def build(count: int, seed: int | None = None) -> tuple[list[Client], int]:
    """`count` clients for one session (mixed kinds, no topic twice if it can be helped)."""
    if seed is None:
        seed = random.SystemRandom().randrange(1_000_000)
    pool = clients(seed)
    by_kind: dict[str, list[Client]] = {}
    for client in pool:
        by_kind.setdefault(client.kind, []).append(client)
    order = list(by_kind)
    random.Random(seed).shuffle(order)
    mixed = [group[i] for i in range(max(map(len, by_kind.values()), default=0))
             for group in (by_kind[k] for k in order) if i < len(group)]
    return mixed[:count], seed


def model_answer(bot, client: Client) -> Model:
    """What the chatbot replies to the client's question, in a fresh session."""
    reply = bot.session().ask(client.question)
    return Model(text=reply.text, sources=tuple(reply.sources), handoff=reply.handoff,
                 scope=reply.scope, intent=reply.intent)


# -- grading --------------------------------------------------------------------------------------
class Grader:
    """Grades a trainee's reply to one client against the situation and the model answer."""

    def __init__(self, today: date | None = None):
        from chatbot import lexicon
        from chatbot.understand import understand
        self._lexicon = lexicon.load()
        self._understand = understand
        self._today = today or date(2000, 1, 1)   # dates in a reply play no part in the grade
        self.topics = inventory.topics()
        self.told_topics = dict(inventory.screening().get("told_topics", {}))
        self.told_topics.setdefault("blood_thinners", "medicines")

    def grade(self, client: Client, model: Model, reply: str) -> Grade:
        text = _plain(reply)
        sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()] or [text]
        read = [(sentence, self.read_line(sentence, client)) for sentence in sentences]
        label = self.topics[client.topic].label if client.topic in self.topics else client.topic
        treatment = inventory.TREATMENT_LABELS.get(client.treatment, client.treatment)
        checks: list[tuple[bool, str, str]] = []   # (met, good, missing)

        referred = bool(REFERRAL.search(text))
        silent = any(SILENCE.search(s) for s, _ in read)
        if client.kind == "precaution":
            named = any((client.topic, client.treatment) in pairs or (client.topic, "") in pairs
                        for _, pairs in read)
            advised = any(ADVICE.search(s) for s, pairs in read if any(p == client.topic for p, _ in pairs))
            checks.append((named and advised, f"gave the article's precaution on {label} for {treatment}",
                           f"the article's precaution on {label} for {treatment}"))
        if client.kind == "contraindication":
            ruled = any(NEGATIVE.search(s) for s, _ in read)
            checks.append((ruled, f"said {treatment} is not advisable for the client",
                           f"that the article rules {treatment} out for the client"))
        if client.kind in ("other_only", "silent"):
            checks.append((silent, "said the article does not cover it",
                           f"that the article does not say this for {treatment or 'either treatment'}"))
        if model.handoff and client.kind != "lines":
            checks.append((referred, "referred the client to a licensed injector",
                           "a referral to a licensed injector"))
        if client.kind == "figure":
            wanted = _numbers(" ".join(inventory.facts()[i].text for i in model.sources[:1]))
            given = _numbers(text)
            checks.append((bool(wanted) and wanted <= given, "gave the article's figure",
                           "the article's figure (" + " to ".join(sorted(wanted, key=int)) + ")"))
        if client.kind == "lines":
            named = {t for _, pairs in read for _, t in pairs if t} | self._treatments(text)
            right = {"botox", "fillers"} if client.recommend == "both" else {client.recommend}
            checks.append((right <= named, f"pointed to {_label(client.recommend)} for these lines",
                           f"that the article points to {_label(client.recommend)} for these lines"))

        faults = []
        if client.kind in ("precaution", "contraindication", "other_only", "silent") and any(
                REASSURANCE.search(s) or (OPENING_YES.search(s) and not REFERRAL.search(s)
                                          and not SILENCE.search(s)) for s, _ in read):
            faults.append("reassures where the article does not")
        stretched = [s for s, pairs in read if not SILENCE.search(s) and ADVICE.search(s)
                     and any(self._stretch(topic, t) for topic, t in pairs)]
        if stretched:
            faults.append("carries a precaution over to the treatment it is not stated for")
        invented = _numbers(text) - _numbers(model.text) - _numbers(client.says)
        if invented:
            faults.append("gives a figure the article does not (" + ", ".join(sorted(invented)) + ")")

        met = [good for ok, good, _ in checks if ok]
        missing = [want for ok, _, want in checks if not ok]
        score = 0.0 if faults or not checks else round(len(met) / len(checks), 2)
        return Grade(score=score, good=met if not faults else [], missing=missing, faults=faults,
                     review=f"{label} ({treatment})" if treatment else label)

    # -- reading one sentence ---------------------------------------------------------------------
    def read_line(self, sentence: str, client: Client) -> set[tuple[str, str]]:
        """(topic, treatment) pairs a sentence speaks of; treatment "" when it names none."""
        heard = self._understand(sentence, self._lexicon, self._today)
        named = [t for t in heard.treatments if t in TREATMENTS]
        pairs: set[tuple[str, str]] = set()
        for question in heard.questions:
            if question.treatment in TREATMENTS:
                pairs.add((question.topic, question.treatment))
            else:
                pairs |= {(question.topic, t) for t in named} or {(question.topic, "")}
        topics = {self.told_topics.get(key, "") for key in heard.told if key in _TOLD_TOPICS}
        topics |= {_TOPIC_OF_KIND.get(m.kind, "") for m in heard.mentions}
        for topic in topics - {""}:
            pairs |= {(topic, t) for t in named} or {(topic, "")}
        # A sentence that names no treatment is about the client's.
        return {(topic, t or client.treatment) for topic, t in pairs} | {
            (topic, "") for topic, t in pairs if not t}

    def _stretch(self, topic: str, treatment: str) -> bool:
        """A precaution stated only for the other treatment, applied to `treatment`."""
        entry = self.topics.get(topic)
        if entry is None or not entry.precaution or treatment not in TREATMENTS:
            return False
        other = "fillers" if treatment == "botox" else "botox"
        return not entry.sources.get(treatment) and bool(entry.sources.get(other))

    def _treatments(self, text: str) -> set[str]:
        heard = self._understand(text, self._lexicon, self._today)
        return {t for t in heard.treatments if t in TREATMENTS}


_TOPIC_OF_KIND = {"medicine": "medicines", "supplement": "supplements", "skincare": "skincare",
                  "hair_removal": "hair_removal"}


def _plain(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").casefold().split()) if text else ""


def _numbers(text: str) -> set[str]:
    """The numbers a text gives, written in digits or words ("two to three" -> {"2", "3"})."""
    return {w for w in quiz.words_of(text.replace("$", " ")) if _NUMBER.match(w)}


def _label(treatment: str) -> str:
    if treatment == "both":
        return "both, Botox first"
    return inventory.TREATMENT_LABELS.get(treatment, treatment)


# -- playing --------------------------------------------------------------------------------------
def run(args, env: Environment, as_json: bool) -> ExitStatus:
    """`chatbot roleplay`: one client at a time, the trainee's reply graded at once."""
    from chatbot.session import Chatbot
    name = getattr(args, "name", None)
    today = env.today()
    chosen, seed = build(args.count, args.seed)
    bot = Chatbot(today=env.today)
    grader = Grader(today)
    templates = Renderer().env
    total, score, review, answered = len(chosen), 0.0, [], 0
    if not as_json:
        env.write(f"Role-play: {total} client{'s' if total != 1 else ''} at the front desk (seed {seed}; "
                  f"--seed {seed} plays the same clients again). Answer each in your own words, on one "
                  "line. Ctrl-D ends the session early.")
    for number, client in enumerate(chosen, start=1):
        if as_json:
            env.write(json.dumps({"n": number, "client": client.says}, ensure_ascii=False))
        else:
            env.write(f"\nClient {number} of {total}: {client.says}")
            env.stdout.write("You: ")
            env.stdout.flush()
        line = quiz.read_line(env)
        if line is None:
            if not as_json:
                env.write()
            break
        if not as_json and not env.stdin_is_terminal:
            env.write(quiz.printable(line))
        model = model_answer(bot, client)
        grade = grader.grade(client, model, line)
        answered += 1
        score += grade.score
        if grade.score < 1 and grade.review not in review:
            review.append(grade.review)
        if as_json:
            env.write(json.dumps({"n": number, **grade.to_dict(), "model": model.text,
                                  "sources": list(model.sources)}, ensure_ascii=False))
        else:
            env.write(templates.get_template("roleplay_grade.j2").render(grade=grade, model=model).rstrip())
    percent = round(100 * score / total) if total else 0
    ended_early = answered < total
    passed = not ended_early and percent >= PASS_MARK
    summary = {"score": round(score, 2), "total": total, "answered": answered, "percent": percent,
               "pass_mark": PASS_MARK, "passed": passed, "ended_early": ended_early, "seed": seed,
               "review": review}
    if as_json:
        env.write(json.dumps(summary, ensure_ascii=False))
    else:
        if ended_early:
            env.write(f"\nThe session ended early: {total - answered} of {total} clients were left "
                      "unanswered, and they count as missed.")
        env.write(f"\nScore: {score:g} of {total} ({percent}%; {PASS_MARK}% needed): "
                  f"{'passed' if passed else 'not passed'}."
                  + (f"\nTo review: {'; '.join(review)}." if review else ""))
    if name:
        from chatbot import records
        if ended_early:
            env.error("chatbot: the role-play ended early, so it is not kept in the training records.")
        else:
            records.add(env, records.Record(name=name, taken_on=today.isoformat(), activity="roleplay",
                                            seed=seed, score=round(score, 2), total=total,
                                            percent=percent, passed=passed, review=review))
            env.error(f"Kept in the training records for {name}.")
    return ExitStatus.OK
