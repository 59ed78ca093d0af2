"""The printable cheat sheet for front-desk staff, generated from the knowledge base.

Every statement on it is an inventory fact (its text and ID) or says which facts are missing, so
the handout changes whenever the knowledge base does and can never drift from the chatbot. This
module gathers the facts into sections; `responses/handout.md.j2` and `responses/handout.html.j2`
lay them out (the HTML carries its own print CSS and fits two A4 or Letter pages).
"""
from __future__ import annotations

import os

from chatbot import lexicon as lexicon_module
from chatbot.environment import Environment
from chatbot.knowledge import inventory
from chatbot.render import Renderer

TREATMENTS = ("botox", "fillers")
# The rows of "the two treatments at a glance", in order (topic names of topics.toml).
OVERVIEW = ("what", "purpose", "duration", "cost", "recovery", "professional")
# The facts that say which treatment suits which lines, and how the two combine.
WRINKLES = "wrinkle_types"
COMBINING = ("combining", "order")


def content() -> dict:
    """Everything the handout says, as plain data (IDs, labels, gaps) for the templates."""
    facts, topics = inventory.facts(), inventory.topics()
    overview = [{"label": topics[name].label, "cells": {t: _cell(topics[name], t) for t in TREATMENTS}}
                for name in OVERVIEW if name in topics]
    precautions = _precautions(topics)
    wrinkles = [i for i in topics[WRINKLES].sources.get("any", [])] if WRINKLES in topics else []
    combining = [i for name in COMBINING if name in topics for i in topics[name].sources.get("any", [])]
    if "areas" in topics:   # the usual split of the face between the two
        combining += [i for ids in topics["areas"].sources.values() for i in ids
                      if facts[i].treatment == "both"]
    combining = list(dict.fromkeys(combining))
    aftercare = topics["aftercare"].sources.get("any", []) if "aftercare" in topics else []
    gaps = [{"label": topic.label, "gap": topic.gap,
             "related": list(dict.fromkeys(topic.related["botox"] + topic.related["fillers"]))}
            for topic in topics.values() if topic.gap and not any(topic.sources.values())]
    partial = [{"label": topic.label, "gap": topic.gap,
                "sources": list(dict.fromkeys(i for ids in topic.sources.values() for i in ids))}
               for topic in topics.values() if topic.gap and any(topic.sources.values())]
    cross = {t: [row["label"] for row in precautions if not row["cells"][t]["ids"]]
             for t in TREATMENTS}
    lexicon = lexicon_module.load().data
    unnamed = [c["says"] for c in lexicon.get("categories", {}).values() if not c.get("listed", True)]
    cited = set(_ids_in(overview, precautions, wrinkles, combining + aftercare, gaps, partial))
    return {"facts": facts, "treatments": TREATMENTS, "overview": overview,
            "precautions": precautions, "wrinkles": wrinkles, "combining": combining,
            "gaps": gaps, "partial": partial, "cross": cross, "unnamed": unnamed,
            "aftercare": aftercare,
            "history": topics["history"].sources.get("botox", []) if "history" in topics else [],
            "contra": [i for row in precautions if row["contraindication"]
                       for i in row["cells"]["fillers"]["ids"]][:1],
            "count": len(facts), "cited": len(cited)}


def _cell(topic, treatment: str) -> dict:
    """What the article says on a topic for one treatment, or what it says nearby instead."""
    ids = list(topic.sources.get(treatment, [])) or list(topic.sources.get("any", []))
    return {"ids": ids, "related": [] if ids else list(topic.related.get(treatment, [])),
            "other": bool(not ids and topic.sources.get(_other(treatment)))}


def _precautions(topics) -> list[dict]:
    """One row per precaution; topics resting on the same leading facts share a row."""
    rows: list[dict] = []
    for topic in topics.values():
        if not topic.precaution:
            continue
        cells = {t: _cell(topic, t) for t in TREATMENTS}
        key = tuple(tuple(cells[t]["ids"][:1]) for t in TREATMENTS)
        same = [row for row in rows if row["key"] == key]
        if not same:
            rows.append({"key": key, "labels": [topic.label], "cells": cells,
                         "contraindication": topic.contraindication})
            continue
        same[0]["labels"].append(topic.label)
        for treatment, cell in cells.items():
            merged = same[0]["cells"][treatment]
            for part in ("ids", "related"):
                merged[part] = list(dict.fromkeys(merged[part] + cell[part]))
    for row in rows:
        row["label"] = _listing(row.pop("labels"))
        del row["key"]
    return rows


def _ids_in(overview, precautions, wrinkles, combining, gaps, partial):
    for row in overview + precautions:
        for cell in row["cells"].values():
            yield from cell["ids"] + cell["related"]
    yield from wrinkles + combining
    for gap in gaps:
        yield from gap["related"]
    for gap in partial:
        yield from gap["sources"]


def _other(treatment: str) -> str:
    return "fillers" if treatment == "botox" else "botox"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def render(fmt: str = "md", today=None) -> str:
    """The handout as Markdown or as print-ready HTML."""
    renderer = Renderer()
    env = renderer.env.overlay(autoescape=True) if fmt == "html" else renderer.env
    template = env.get_template(f"handout.{fmt}.j2")
    return template.render(today=today, **content()).strip() + "\n"


def run(args, env: Environment) -> int:
    """`chatbot handout`: write the cheat sheet to stdout or to -o FILE."""
    text = render(args.format, today=env.today())
    if not args.output:
        env.stdout.write(text)
        env.stdout.flush()
        return 0
    if os.path.isdir(args.output):
        raise IsADirectoryError(f"cannot write the handout to {args.output}: it is a folder")
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise OSError(f"cannot write the handout to {args.output}: {error.strerror or error}") from None
    env.error(f"Handout written to {args.output}.")
    return 0
