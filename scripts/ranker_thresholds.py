"""How well the example ranker places examples it has not seen: the data behind the thresholds.

Five-fold over knowledge/examples.toml: each fifth of the examples is ranked against a ranker built
from the other four fifths. Prints how often the top topic is right, then, for pairs of thresholds
(the score to accept at, and how many times the runner-up's score the best must reach), the share
of examples accepted and how many of those were right. The [ranker] settings in lexicon.toml were
chosen from this table: high precision first, since a wrong topic answered with confidence is
worse than a question back. Run: python scripts/ranker_thresholds.py
"""
import random
import sys
from collections import defaultdict

from chatbot import lexicon as lexicon_module
from chatbot.ranker import Ranker, _knowledge, _words

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FOLDS = 5


def main() -> None:
    lexicon = lexicon_module.read()
    stopwords = set(lexicon.data["ranker"]["stopwords"])
    data = tomllib.loads((_knowledge() / "examples.toml").read_text(encoding="utf-8"))
    items = [(topic, question) for topic, entry in data.items() for question in entry["examples"]]
    random.Random(1).shuffle(items)
    results = []
    for fold in range(FOLDS):
        train = defaultdict(list)
        for index, (topic, question) in enumerate(items):
            if index % FOLDS != fold:
                train[topic].append(question)
        ranker = Ranker(train, lexicon, stopwords)
        for topic, question in items[fold::FOLDS]:
            scored = ranker.rank(ranker.terms(_words(question, lexicon), lexicon))
            best = scored[0] if scored else None
            runner_up = scored[1].score if len(scored) > 1 else 0.0
            results.append((topic, best.topic if best else None, best.score if best else 0.0, runner_up))
    right = sum(topic == guess for topic, guess, _, _ in results)
    print(f"{len(results)} examples, top topic right for {right / len(results):.1%}")
    print("accept  lead  accepted  right")
    for accept in (0.5, 0.8, 1.0, 1.2, 1.5):
        for lead in (1.2, 1.4, 1.6, 2.0):
            chosen = [(t, g) for t, g, score, second in results if score >= accept and score >= lead * second]
            if chosen:
                precision = sum(t == g for t, g in chosen) / len(chosen)
                print(f"{accept:6.1f}  {lead:4.1f}  {len(chosen) / len(results):8.1%}  {precision:5.1%}")


if __name__ == "__main__":
    main()
