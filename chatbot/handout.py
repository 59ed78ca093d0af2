"""The printable cheat sheet for front-desk staff, generated from the knowledge base.

Every statement on it is an inventory fact (its text and ID) or says which facts are missing, so
the handout changes whenever the knowledge base does and can never drift from the chatbot. This
module gathers the facts into sections; `responses/handout.md.j2` and `responses/handout.html.j2`
lay them out (the HTML carries its own print CSS and fits two A4 or Letter pages).
"""
from __future__ import annotations

from chatbot import lexicon as lexicon_module
from chatbot.environment import Environment
from chatbot.knowledge import inventory
from chatbot.output import deliver
from chatbot.render import Renderer
from chatbot.status import ExitStatus

TREATMENTS = ("botox", "fillers")
# The rows of "the two treatments at a glance", in order (topic names of topics.toml).
OVERVIEW = ("what", "purpose", "duration", "cost", "recovery", "professional", "safety")
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
    unnamed = _unnamed(lexicon_module.load().data)
    cited = set(_ids_in(overview, precautions, wrinkles, combining + aftercare, gaps, partial))
    history = topics["history"].sources.get("botox", []) if "history" in topics else []
    # Facts no section above has room for (the skin as an organ, collagen in the skin): they are
    # still the article's, so the handout states them too, and every fact is on it.
    background = [i for i in facts if i not in cited and i not in history]
    return {"facts": facts, "treatments": TREATMENTS, "overview": overview,
            "precautions": precautions, "wrinkles": wrinkles, "combining": combining,
            "gaps": gaps, "partial": partial, "cross": cross, "unnamed": unnamed,
            "aftercare": aftercare, "background": background,
            "history": history,
            "contra": [i for row in precautions if row["contraindication"]
                       for i in row["cells"]["fillers"]["ids"]][:1],
            "count": len(facts), "cited": len(cited)}


def _unnamed(lexicon: dict) -> dict:
    """Kinds of things the article does not name (prescribed medicines, other supplements...),
    each with one named example from the lexicon, or "" when it has only class words."""
    categories = lexicon.get("categories", {})
    found: dict[str, str] = {}
    for key, entry in lexicon.get("items", {}).items():
        category = categories.get(entry.get("category"), {})
        kind = "food" if entry.get("category") == "food" else entry.get("kind", "")
        if category.get("listed", True) or (kind in found and entry.get("generic")):
            continue
        if kind not in found or found[kind][1]:   # a named item rather than a class word
            found[kind] = (entry.get("label", key.replace("_", " ")), bool(entry.get("generic")))
    return {kind: "" if generic else label for kind, (label, generic) in found.items()}


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


def wall() -> dict:
    """What the one-page wall sheet says: who to refer at once, the precautions per treatment,
    which treatment for which lines, the figures, and every ID it rests on (for its footer)."""
    facts, topics = inventory.facts(), inventory.topics()
    # "Reasons not to have it" only repeats pregnancy, breastfeeding and allergies on a wall.
    precautions = _precautions({n: t for n, t in topics.items() if n != "contraindications"})
    refer = [name for name, topic in topics.items()
             if topic.contraindication and topic.precaution and name != "contraindications"]
    figures = {t: [i for name in ("duration", "cost") if name in topics
                   for i in topics[name].sources.get(t, [])[:1]] for t in TREATMENTS}
    lines = {"moves": "WRK-DYNAMIC", "rests": "WRK-STATIC", "volume": "FIL-BENEFITS",
             "order": "CMB-ORDER"}
    lines = {key: fact_id for key, fact_id in lines.items() if fact_id in facts}
    order = facts["CMB-ORDER"].detail if "CMB-ORDER" in facts else {}
    # The sheet shows the leading fact of a cell (and of its "it does say"), not the rest.
    used = [i for row in precautions for cell in row["cells"].values()
            for i in cell["ids"][:1] + cell["related"][:1]]
    used += [i for ids in figures.values() for i in ids] + list(lines.values())
    return {"facts": facts, "treatments": TREATMENTS, "precautions": precautions, "refer": refer,
            "figures": figures, "lines": lines, "order": order,
            "sources": [i for i in facts if i in set(used)]}


def _other(treatment: str) -> str:
    return "fillers" if treatment == "botox" else "botox"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def render(fmt: str = "md", today=None, wall_sheet: bool = False) -> str:
    """The handout (or, with `wall_sheet`, the one-page wall sheet) as Markdown or print-ready HTML."""
    renderer = Renderer()
    # Jinja's bytecode cache keys a template by its name and source, not by autoescape: the HTML
    # overlay keeps none, or the Markdown would get the shared words compiled to escape HTML.
    env = renderer.env.overlay(autoescape=True, bytecode_cache=None) if fmt == "html" else renderer.env
    if wall_sheet:
        return env.get_template(f"handout_wall.{fmt}.j2").render(today=today, **wall()).strip() + "\n"
    template = env.get_template(f"handout.{fmt}.j2")
    return template.render(today=today, **content()).strip() + "\n"


def run(args, env: Environment) -> ExitStatus:
    """`chatbot handout`: write the cheat sheet to stdout or to -o FILE."""
    text = render(args.format, today=env.today(), wall_sheet=getattr(args, "wall", False))
    if deliver(env, text, args.output, "the handout"):
        env.error(f"Handout written to {args.output}.")
    return ExitStatus.OK
