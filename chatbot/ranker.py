"""The example ranker: a message scored against example questions per topic (BM25 over stems).

The second stage of understanding, the way FAQ bots and Rasa's NLU work: every topic of
`knowledge/topics.toml` has example questions in `knowledge/examples.toml`, and a message that
the lexicon's phrases could not read is scored against them. The rules stay the authority: the
ranker only proposes a topic when the phrases found none, and its closest topics become the
"Do you mean ...?" choices when it is not sure.

Words are folded before scoring: the lexicon's names for a treatment, an item or a condition
become one token ("Advil" and "ibuprofen" are both `item:ibuprofen`), stop words go, and the
rest are stemmed (Snowball's English stemmer). A score is normalised to 0..1: the share of the
message's weight (each word's inverse document frequency) that the best example of a topic
matches, so a message with many words no example knows scores low, as it should.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chatbot.lexicon import Lexicon

K1 = 1.2     # BM25: how quickly repeated words stop adding weight
B = 0.75     # BM25: how much a long example is discounted
# Sections whose words the lexicon names with one concept token (items, conditions) or that say
# nothing of the topic (treatments and brands: every topic has examples for both; other people).
_CONCEPTS = ("treatments", "brands", "items", "conditions", "others")


@dataclass(frozen=True)
class Scored:
    """One topic and how close the message is to its best example (0..1)."""

    topic: str
    score: float


class Ranker:
    """Example questions per topic, indexed for BM25 with each topic's examples as one document
    (on the examples themselves, five-fold, that places 69% of held-back examples in their own
    topic, against 60% when each example is its own document)."""

    def __init__(self, examples: dict[str, list[str]], lexicon: Lexicon, stopwords: set[str],
                 silent: frozenset[str] = frozenset()):
        from snowballstemmer import stemmer
        self._stem = stemmer("english").stemWord
        self._stopwords = stopwords
        self.silent = silent   # topics the article says nothing about: proposing one costs little
        self._topics: list[tuple[str, dict[str, int], int]] = []   # topic, term counts, length
        for topic, questions in examples.items():
            counts: dict[str, int] = {}
            for question in questions:
                for term in self.terms(_words(question, lexicon), lexicon):
                    counts[term] = counts.get(term, 0) + 1
            if counts:
                self._topics.append((topic, counts, sum(counts.values())))
        total = len(self._topics)
        frequency: dict[str, int] = {}
        for _, counts, _ in self._topics:
            for term in counts:
                frequency[term] = frequency.get(term, 0) + 1
        self._idf = {term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in frequency.items()}
        self._unknown_idf = math.log(1 + (total + 0.5) / 0.5)   # a word no example has
        self._average = sum(length for _, _, length in self._topics) / max(total, 1)

    def terms(self, words: list[str], lexicon: Lexicon) -> list[str]:
        """The message's scoring terms: concept tokens for what the lexicon names, stems for the
        rest, stop words and treatment names left out (every topic has examples for both)."""
        terms: list[str] = []
        covered: set[int] = set()
        for match in lexicon.find(words, _CONCEPTS):
            if covered & set(range(match.start, match.end)):
                continue
            covered |= set(range(match.start, match.end))
            if match.section in ("items", "conditions"):
                terms.append(f"{match.section}:{match.key}")
        for index, word in enumerate(words):
            if index not in covered and word not in self._stopwords:
                stem = self._stem(word)
                if stem not in self._stopwords:
                    terms.append(stem)
        return terms

    def meaningful(self, word: str) -> bool:
        """Whether a word the lexicon did not explain carries meaning (not a stop word)."""
        return word not in self._stopwords and self._stem(word) not in self._stopwords

    def rank(self, terms: list[str], limit: int | None = 4) -> list[Scored]:
        """The closest topics, best first. A score is the BM25 weight the topic's examples match,
        over the message's whole weight: 0 when nothing matches, about 1 when every word of the
        message is one the topic's examples use (up to 2.2 for words they use often)."""
        query = list(dict.fromkeys(terms))
        weight = sum(self._idf.get(term, self._unknown_idf) for term in query)
        if not weight:
            return []
        scored = []
        for topic, counts, length in self._topics:
            score = 0.0
            for term in query:
                count = counts.get(term, 0)
                if count:
                    score += self._idf[term] * count * (K1 + 1) / (
                        count + K1 * (1 - B + B * length / self._average))
            if score:
                scored.append(Scored(topic, round(score / weight, 4)))
        scored.sort(key=lambda s: (-s.score, s.topic))
        return scored[:limit]


def _words(text: str, lexicon: Lexicon) -> list[str]:
    from chatbot.lexicon import normalise
    return [word for raw in lexicon.respell(normalise(text).split()) for word in lexicon.mend(raw)]


SOURCES = ("examples.toml", "topics.toml")
CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]   # see lexicon.CODE


@lru_cache(maxsize=1)
def load(lexicon: Lexicon) -> Ranker:
    """The ranker over the shipped examples, built once per installation and kept in the cache
    folder like the lexicon (building it stems every example)."""
    from chatbot import cache
    from chatbot import lexicon as lexicon_module
    knowledge = _knowledge()
    here = Path(__file__).parent
    sources = [knowledge / name for name in SOURCES] + [here / name for name in lexicon_module.SOURCES]
    ranker, _ = cache.kept("ranker", cache.key(sources, CODE, lexicon_module.CODE), lambda: build(lexicon))
    return ranker


def _knowledge() -> Path:
    """The folder of the knowledge base's data files (installed as chatbot.knowledge)."""
    from chatbot import knowledge
    return Path(knowledge.__file__).parent


def build(lexicon: Lexicon) -> Ranker:
    """A ranker read from `knowledge/examples.toml`."""
    import sys
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    data = tomllib.loads((_knowledge() / "examples.toml").read_text(encoding="utf-8"))
    examples = {topic: entry["examples"] for topic, entry in data.items()}
    topics = tomllib.loads((_knowledge() / "topics.toml").read_text(encoding="utf-8"))["topics"]
    silent = frozenset(name for name, topic in topics.items() if topic.get("gap") and not any(
        topic.get(treatment) for treatment in ("botox", "fillers", "any")))
    return Ranker(examples, lexicon, set(lexicon.data["ranker"]["stopwords"]), silent)
