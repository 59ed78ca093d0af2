"""The lexicon: words people use, mapped to the article's concepts, and the matcher over it.

The words live in `lexicon.toml` beside this module; this module only loads and matches them.
Matching works on normalised tokens, finds multi-word phrases (with `*` standing for up to three
words), and tolerates small typos in words the lexicon knows.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WILDCARD_SPAN = 5  # how many words one "*" in a phrase may stand for

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)|'")
_NON_WORD = re.compile(r"[^a-z0-9]+")


# Terminal escape sequences (colours, titles, cursor moves): dropped whole, parameters and all.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")


def normalise(text: str) -> str:
    """Lower-case, accent-free, apostrophe-free text with one space between words.

    Escape sequences and invisible format characters (zero-width joiners, direction marks) are
    removed rather than read as word breaks, so "bot\u200dox" is still Botox.
    """
    if "\x1b" in text:
        text = _ESCAPES.sub("", text)
    if text.isascii():   # the common case, and every lexicon phrase: no accents to fold
        text = text.replace("`", "'").lower()
    else:
        text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
        text = "".join(ch for ch in text if not unicodedata.combining(ch)
                       and unicodedata.category(ch) != "Cf").casefold()
    text = _APOSTROPHE.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """The normalised words of `text`."""
    return normalise(text).split()


@dataclass(frozen=True)
class Match:
    """One lexicon phrase found in a list of tokens."""

    section: str   # e.g. "topics", "items", "treatments"
    key: str       # e.g. "alcohol", "ibuprofen", "botox"
    start: int     # first token
    end: int       # one past the last token
    words: str     # the words as the person wrote them (after normalising)
    literal: tuple[int, ...] = ()   # positions the phrase spells out (not skipped by a "*")


@dataclass(frozen=True)
class Grammar:
    """The [grammar] tables of the lexicon as the understanding reads them: word sets, topic
    lists and the topic precedence (what each means is written beside it in lexicon.toml)."""

    question_starters: frozenset
    modals: frozenset
    clause_starters: frozenset
    checking_phrases: tuple
    pronouns: frozenset
    follow_ups: frozenset
    after_words: frozenset
    before_words: frozenset
    supplement_forms: frozenset
    follow_up_words: frozenset
    choice_words: frozenset
    negated_starters: frozenset
    sequence_words: frozenset
    soft_drinks: frozenset
    past_words: frozenset
    doubt_before_if: frozenset
    not_an_answer: tuple
    self_corrections: tuple
    exceptions: tuple
    answer_fillers: frozenset
    asking_advice: tuple
    waiting_words: tuple
    wh_words: frozenset
    age_asked: tuple
    answer_subjects: frozenset
    candidacy_words: frozenset
    reopeners: tuple
    chat_modals: frozenset
    chat_verbs: frozenset
    filler_allergens: tuple
    reaction_words: frozenset
    general_asks: tuple
    general_tails: tuple
    not_forgetting: tuple
    line_words: frozenset
    future_words: tuple
    future_frames: frozenset
    reported_speech: tuple
    general_eligibility: frozenset
    now_words: frozenset
    besides: tuple
    unclear_ends: frozenset
    volume_words: frozenset
    treated_verbs: frozenset
    happening_now: frozenset
    stopped_cues: frozenset
    ending_negations: frozenset
    reopener_fillers: frozenset
    area_joins: frozenset
    check_verbs: frozenset
    not_names: frozenset
    timing_words: frozenset
    off_verbs: frozenset
    reported_questions: tuple
    date_takebacks: tuple
    correction_openers: tuple
    bare_stops: tuple
    other_treatment: tuple
    with_someone: tuple
    when_to_stop: tuple
    training_frames: tuple
    answer_frames: tuple
    both_kinds: tuple
    asking_about: tuple
    name_follows: tuple
    later_week: tuple
    this_week: tuple
    appointment_pronouns: tuple
    prescribed: frozenset
    openers: frozenset
    question_tags: frozenset
    closing_tags: frozenset
    obligations: tuple
    days_from_the_appointment: dict
    habitual_days: dict
    ordinals: dict
    forget_words: dict
    appointment_words: re.Pattern
    drink_words: re.Pattern
    long_ago: re.Pattern
    long_past: re.Pattern
    booking_words: re.Pattern
    rescheduled: re.Pattern
    planned_words: re.Pattern
    last_night: re.Pattern
    past_event_verbs: re.Pattern
    recent_times: re.Pattern
    date_correction_markers: re.Pattern
    not_had: re.Pattern
    weak_topics: tuple
    framed_topics: tuple
    vague_topics: tuple
    both_topics: tuple
    precaution_topics: tuple
    moves_over_topics: tuple
    topic_of_kind: dict
    topic_of_condition: dict
    precedence: tuple
    class_items: tuple
    list_of_kind: dict
    bare_area_topics: tuple
    recommendation_answers: tuple

    @classmethod
    def read(cls, data: dict) -> Grammar:
        topics, items = data["topics"], data["items"]
        words = {name: data[name] for name in (
            "question_starters", "modals", "clause_starters", "pronouns", "follow_ups", "after_words",
            "before_words", "supplement_forms", "follow_up_words", "choice_words", "negated_starters",
            "sequence_words", "soft_drinks", "wh_words", "answer_subjects", "candidacy_words",
            "chat_modals", "chat_verbs", "reaction_words", "line_words", "future_frames",
            "general_eligibility", "now_words", "unclear_ends", "volume_words", "treated_verbs",
            "happening_now", "stopped_cues", "ending_negations", "reopener_fillers", "area_joins",
            "check_verbs", "not_names", "timing_words", "off_verbs",
            "past_words",
            "doubt_before_if", "answer_fillers", "prescribed", "openers", "question_tags", "closing_tags")}
        plain = ("checking_phrases", "self_corrections", "asking_advice", "filler_allergens",
                 "general_asks", "not_forgetting", "besides", "obligations", "date_takebacks", "bare_stops",
                 "other_treatment", "with_someone", "when_to_stop", "both_kinds", "later_week", "this_week",
                 "asking_about", "name_follows", "reported_questions")
        patterns = ("appointment_words", "drink_words", "long_ago", "long_past", "booking_words",
                    "rescheduled", "planned_words", "last_night", "past_event_verbs", "recent_times",
                    "date_correction_markers", "not_had")
        return cls(**{name: frozenset(value) for name, value in words.items()},
                   **{name: tuple(data[name]) for name in plain},
                   **{name: _any_word(data[name]) for name in patterns},
                   not_an_answer=tuple(f" {phrase} " for phrase in data["not_an_answer"]),
                   exceptions=tuple(f" {phrase} " for phrase in data["exceptions"]),
                   waiting_words=tuple(f" {phrase} " for phrase in data["waiting_words"]),
                   age_asked=tuple(f" {phrase} " for phrase in data["age_asked"]),
                   reopeners=tuple(f"{phrase} " for phrase in data["reopeners"]),
                   general_tails=tuple(f" {p}" for p in data["general_tails"]),
                   future_words=tuple(f" {phrase} " for phrase in data["future_words"]),
                   reported_speech=tuple(f" {phrase} " for phrase in data["reported_speech"]),
                   appointment_pronouns=tuple(f"{phrase} " for phrase in data["appointment_pronouns"]),
                   training_frames=tuple(f" {p} " for p in data["training_frames"]),
                   answer_frames=tuple(f" {p} " for p in data["answer_frames"]),
                   correction_openers=tuple(sorted(data["correction_openers"], key=len, reverse=True)),
                   days_from_the_appointment=dict(data["days_from_the_appointment"]),
                   habitual_days={k: tuple(v) for k, v in data["habitual_days"].items()},
                   ordinals=dict(data["ordinals"]), forget_words=dict(data["forget_words"]),
                   weak_topics=tuple(topics["weak"]), framed_topics=tuple(topics["framed"]),
                   vague_topics=tuple(topics["vague"]),
                   both_topics=tuple(topics["both"]), precaution_topics=tuple(topics["precautions"]),
                   moves_over_topics=tuple(topics["moves_over_topics"]),
                   topic_of_kind=dict(topics["of_kind"]), topic_of_condition=dict(topics["of_condition"]),
                   precedence=tuple(tuple(pair) for pair in topics["precedence"]),
                   class_items=tuple(items["classes"]), list_of_kind=dict(items["list_of_kind"]),
                   bare_area_topics=tuple(topics["of_a_bare_area"]),
                   recommendation_answers=tuple(topics["recommendation_answers"]))


def _any_word(words: list[str]) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b")


class Lexicon:
    """Phrases by section, indexed by first word, with a typo corrector over the known words."""

    def __init__(self, data: dict):
        self.data = data
        self.grammar = Grammar.read(data["grammar"])
        self._index: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        for section, key, phrase in _phrases(data):
            words = tuple(phrase.split())
            if words:
                self._index.setdefault(words[0], []).append((words, section, key))
        self.vocabulary = {w for entries in self._index.values() for words, _, _ in entries
                           for w in words if w != "*"}
        self._uses: dict[str, int] = {}
        for entries in self._index.values():
            for words, _, _ in entries:
                for w in words:
                    self._uses[w] = self._uses.get(w, 0) + 1
        spelling = {tuple(normalise(k).split()): normalise(v).split()
                    for k, v in data.get("spelling", {}).items()}
        self._spelling = {k[0]: v for k, v in spelling.items() if len(k) == 1}
        self._spelled_pairs = {k: v for k, v in spelling.items() if len(k) == 2}   # "my bf"
        self._item_words = {normalise(w): key for key, entry in data.get("items", {}).items()
                            for w in entry["words"]}
        ordinary = set(data.get("ordinary", {}).get("words", []))
        # Only words of five letters or more are corrected, and only into words of the same kind.
        self._targets = sorted(w for w in self.vocabulary if len(w) >= 5 and w.isalpha())
        # The grammar's own words ("earliest", "wait") are known words too: never corrected away.
        self._ordinary = ordinary | self.vocabulary | _words_in(data["grammar"])

    def spell_emoji(self, text: str) -> str:
        """Emoji that carry a word ("🍷" wine, "🤰" pregnant) as that word; other text unchanged."""
        if text.isascii():
            return text
        for emoji, word in self.data.get("emoji", {}).items():
            if emoji in text:
                text = text.replace(emoji, f" {word} ")
        return text

    def respell(self, words: list[str]) -> list[str]:
        """Chat spellings as the words they stand for ("wat" -> "what"); a spelling of two words
        first, so that "my bf" is a boyfriend while "bf" alone is breastfeeding."""
        spelled, at = [], 0
        while at < len(words):
            pair = self._spelled_pairs.get(tuple(words[at:at + 2]))
            if pair is not None:
                spelled += pair
                at += 2
                continue
            spelled += self._spelling.get(words[at], [words[at]])
            at += 1
        return spelled

    def item_of(self, name: str) -> str | None:
        """The lexicon item a stored name stands for (its key, or one of its words)."""
        if name in self.data.get("items", {}):
            return name
        return self._item_words.get(normalise(name))

    def label_of(self, name: str) -> str:
        """How a reply names a stored item: its label, or the person's own word."""
        entry = self.data.get("items", {}).get(name)
        if entry is None:
            return name
        return entry.get("label", name.replace("_", " "))

    # -- spelling ------------------------------------------------------------------------------
    def correct(self, word: str) -> str:
        """The lexicon word `word` is a typo of, or `word` itself."""
        return _correct(self, word)

    def mend(self, word: str) -> list[str]:
        """A typo corrected ("botxo" -> botox), else words run together split apart ("whoshould" ->
        who should, "howmuchdoesbotoxcost"), else the word itself."""
        corrected = self.correct(word)
        if corrected != word or len(word) < 6 or not word.isalpha() or word in self._ordinary:
            return [corrected]
        return _split(word, self._ordinary) or [word]

    def _closest(self, word: str) -> str:
        if word in self._ordinary or len(word) < 3 or not word.isalpha():
            return word
        # two letters swapped ("lnog", "saef", "mcuh"); of two readings ("hwo": how or who), the word
        # more of the lexicon's phrases use
        swaps = {word[:at] + word[at + 1] + word[at] + word[at + 2:] for at in range(len(word) - 1)}
        known = [w for w in swaps if w in self.vocabulary and w != word]
        if known:
            return max(sorted(known), key=lambda w: self._uses.get(w, 0))
        if len(word) < 4:
            return word
        for at in range(1, len(word)):   # a letter typed twice: "lipps", "fillerr"
            if word[at] == word[at - 1] and word[:at] + word[at + 1:] in self.vocabulary:
                return word[:at] + word[at + 1:]
        limit = 1 if len(word) < 8 else 2
        best, best_distance = word, limit + 1
        for target in self._targets:
            if abs(len(target) - len(word)) > limit or (target[0] != word[0] and target[1] != word[1]):
                continue
            if len(word) == 4 and len(target) != 5:
                continue   # a four-letter word is only ever a five-letter term missing a letter
            distance = _edit_distance(word, target, limit)
            if distance < best_distance:
                best, best_distance = target, distance
        return best

    # -- phrases -------------------------------------------------------------------------------
    def find(self, words: list[str], sections: tuple[str, ...] | None = None) -> list[Match]:
        """Every phrase of the given sections in `words`; per section the longest wins an overlap."""
        found: list[Match] = []
        for start, word in enumerate(words):
            candidates = self._index.get(word, ())
            if word.isdigit() and len(word) == 2:
                candidates = list(candidates) + self._index.get("#", [])
            for phrase, section, key in candidates:
                if sections is not None and section not in sections:
                    continue
                end = _match_at(phrase, words, start)
                if end is not None:
                    found.append(Match(section, key, start, end, " ".join(words[start:end]),
                                       _literal_positions(phrase, words, start, end)))
        return _longest_first(found)


@lru_cache(maxsize=4096)
def _correct_cached(lexicon_id: int, word: str) -> str:
    return _LEXICONS[lexicon_id]._closest(word)


_LEXICONS: dict[int, Lexicon] = {}


def _split(word: str, known: set) -> list[str] | None:
    """`word` as the fewest known words of two letters or more ("i" alone too), or None."""
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 20), end):
            part = word[start:end]
            if best[start] is not None and part in known and (len(part) > 1 or part == "i"):
                candidate = best[start] + [part]
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    found = best[len(word)]
    return found if found is not None and len(found) > 1 else None


def _correct(lexicon: Lexicon, word: str) -> str:
    _LEXICONS.setdefault(id(lexicon), lexicon)
    return _correct_cached(id(lexicon), word)


def _phrases(data: dict):
    """(section, key, phrase) for every phrase in the lexicon data."""
    for section in ("treatments", "items", "conditions", "areas"):
        for key, entry in data.get(section, {}).items():
            for phrase in entry["words"]:
                yield section, key, normalise(phrase)
    for key in data.get("brands", {}):
        yield "brands", key, normalise(key)
    for phrase in data.get("symptoms", {}).get("words", []):
        yield "symptoms", "symptom", normalise(phrase)
    for phrase in data.get("symptoms", {}).get("recent", []):
        yield "recent", "recent", normalise(phrase)
    for section in ("topics", "intents", "answers", "line_behaviour"):
        for key, phrases in data.get(section, {}).items():
            for phrase in phrases:
                yield section, key, _pattern(phrase)
    for phrase in data.get("negation", {}).get("cues", []):
        yield "negation", "cue", normalise(phrase)
    for phrase in data.get("negation", {}).get("breaks", []):
        yield "negation", "break", normalise(phrase)
    for phrase in data.get("others", {}).get("words", []):
        yield "others", "other", normalise(phrase)
    for phrase in data.get("self", {}).get("markers", []):
        yield "self", "marker", normalise(phrase)
    for phrase in data.get("self", {}).get("plans", []):
        yield "plans", "plan", normalise(phrase)
    for phrase in data.get("self", {}).get("corrections", []):
        yield "corrections", "correction", normalise(phrase)


def _pattern(phrase: str) -> str:
    """A phrase normalised, keeping its wildcards: "*" (up to three words), "#" (a two-digit number)."""
    if "*" not in phrase and "#" not in phrase:
        return normalise(phrase)
    words = []
    for word in phrase.split():
        words.append(word if word in ("*", "#") else normalise(word))
    return " ".join(w for w in words if w)


def _match_at(phrase: tuple[str, ...], words: list[str], start: int) -> int | None:
    """Where `phrase` ends if it matches `words` from `start`, else None ("*": up to 3 words)."""
    position = start
    for index, part in enumerate(phrase):
        if part == "#":
            if position >= len(words) or not (words[position].isdigit() and len(words[position]) == 2):
                return None
            position += 1
            continue
        if part == "*":
            rest = phrase[index + 1:]
            for skip in range(WILDCARD_SPAN + 1):
                end = _match_at(rest, words, position + skip) if rest else position + skip
                if end is not None and end <= len(words):
                    return end
            return None
        if position >= len(words) or words[position] != part:
            return None
        position += 1
    return position


def _literal_positions(phrase: tuple[str, ...], words: list[str], start: int, end: int) -> tuple:
    """The positions in words[start:end] matched by the phrase's own words (not by a "*")."""
    if "*" not in phrase:
        return tuple(range(start, end))
    head = phrase[:phrase.index("*")]
    tail = phrase[len(phrase) - list(reversed(phrase)).index("*"):]
    return tuple(range(start, start + len(head))) + tuple(range(end - len(tail), end))


def _longest_first(found: list[Match]) -> list[Match]:
    """Drop, per section, every match that overlaps a longer (or earlier equal) one.

    Only the words a phrase spells out count: the words a "*" skipped ("what is * for" over
    "what is the aftercare for") stay free for other phrases.
    """
    kept: list[Match] = []
    taken: dict[str, set[int]] = {}
    for match in sorted(found, key=lambda m: (-len(m.literal), m.start)):
        span = set(match.literal)
        used = taken.setdefault(match.section, set())
        if span & used:
            continue
        used |= span
        kept.append(match)
    return sorted(kept, key=lambda m: (m.start, m.section))


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of two letters counts once), capped at limit+1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


SOURCES = ("lexicon.toml", "ordinary_words.txt")
# The code that made a kept lexicon is part of its name, digested when this module is imported: a
# process still running older code never keeps its lexicon under the newer code's name.
CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


@lru_cache(maxsize=1)
def load() -> Lexicon:
    """The lexicon shipped with the package (loaded once per process, from the cache when kept)."""
    from chatbot import cache
    folder = Path(__file__).parent
    name = cache.key([folder / source for source in SOURCES], CODE)
    lexicon, _ = cache.kept("lexicon", name, read, loads=_loads)
    return lexicon


def _words_in(value) -> set[str]:
    """Every word of the strings in a nested table of lists."""
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, dict):
        return set().union(*(_words_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_words_in(v) for v in value)) if value else set()
    return set()


def _loads(data: bytes) -> Lexicon:
    import pickle
    lexicon = pickle.loads(data)
    if not isinstance(lexicon, Lexicon):
        raise TypeError(f"not a lexicon: {type(lexicon).__name__}")
    return lexicon


def read() -> Lexicon:
    """The lexicon, read from its data files."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    folder = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(folder, "lexicon.toml"), encoding="utf-8") as handle:
        data = tomllib.loads(handle.read())
    # The generated list of ordinary words is plain text: one word a line, quick to read.
    with open(os.path.join(folder, "ordinary_words.txt"), encoding="utf-8") as handle:
        words = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    data.setdefault("ordinary", {})["words"] = words
    return Lexicon(data)
