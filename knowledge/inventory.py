"""The article's facts and the topic coverage, loaded from the data files beside this module."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TREATMENT_LABELS = {"botox": "Botox", "fillers": "dermal fillers", "both": "Botox and fillers",
                    "any": "Botox and fillers"}


@dataclass(frozen=True)
class Entry:
    """One inventory fact."""

    id: str
    line: str
    treatment: str
    topic: str
    text: str
    detail: dict


@dataclass(frozen=True)
class Topic:
    """What the article says (and does not say) on one topic."""

    name: str
    label: str
    sources: dict           # treatment ("botox" | "fillers" | "any") -> [IDs]
    precaution: bool
    contraindication: bool
    gap: str
    related: dict           # treatment -> [IDs] the article says nearby
    implies: str = ""       # the treatment meant when none is named (the lunchtime facelift: fillers)


def _read(name: str) -> dict:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), encoding="utf-8") as f:
        return tomllib.loads(f.read())


@lru_cache(maxsize=1)
def facts() -> dict[str, Entry]:
    """Every inventory fact by ID, in article order."""
    return {key: Entry(key, value["line"], value["treatment"], value["topic"], value["text"],
                       value.get("detail", {})) for key, value in _read("inventory.toml").items()}


@lru_cache(maxsize=1)
def topics() -> dict[str, Topic]:
    """Every topic the chatbot can be asked about, with its coverage."""
    data = _read("topics.toml")
    result = {}
    for name, value in data["topics"].items():
        sources = {t: value[t] for t in ("botox", "fillers", "any") if t in value}
        related = {t: value.get(f"related_{t}", []) for t in ("botox", "fillers")}
        result[name] = Topic(name, value["label"], sources, value.get("precaution", False),
                             value.get("contraindication", False), value.get("gap", ""), related,
                             value.get("implies", ""))
    return result


@lru_cache(maxsize=1)
def screening() -> dict:
    """The screening checks per treatment and how a told fact maps to a topic."""
    return _read("screening.toml")
