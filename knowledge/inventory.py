"""The article's facts and the topic coverage, loaded from the data files beside this module.

The files are parsed once and the result kept in the cache folder (chatbot/cache.py), so a
one-shot `ask` reads one small file instead of parsing four.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FILES = ("inventory.toml", "topics.toml", "screening.toml", "reasoning.toml")

TREATMENTS = ("botox", "fillers")   # the two treatments of the article, in the order it names them


def other(treatment: str) -> str:
    """The other treatment: fillers for Botox, Botox for fillers."""
    return TREATMENTS[1 - TREATMENTS.index(treatment)]


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
    return _files()[name]


@lru_cache(maxsize=1)
def _files() -> dict[str, dict]:
    from chatbot import cache
    paths = [Path(__file__).parent / name for name in FILES]
    data, _ = cache.kept("data", cache.key(paths), lambda: _parse(paths), loads=_loads)
    return data


def _parse(paths: list[Path]) -> dict[str, dict]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return {path.name: tomllib.loads(path.read_text(encoding="utf-8")) for path in paths}


def _loads(data: bytes) -> dict[str, dict]:
    import pickle
    parsed = pickle.loads(data)
    if not (isinstance(parsed, dict) and set(parsed) == set(FILES)):
        raise TypeError("not the knowledge base's data files")
    return parsed


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
        related = {t: value.get(f"related_{t}", []) for t in ("botox", "fillers", "any")}
        result[name] = Topic(name, value["label"], sources, value.get("precaution", False),
                             value.get("contraindication", False), value.get("gap", ""), related,
                             value.get("implies", ""))
    return result


@lru_cache(maxsize=1)
def screening() -> dict:
    """The screening checks per treatment and how a told fact maps to a topic."""
    return _read("screening.toml")


@lru_cache(maxsize=1)
def reasoning() -> dict:
    """The clinical judgements the rules apply and the IDs each rule's conclusion rests on."""
    return _read("reasoning.toml")


def sources_of(rule: str) -> list[str]:
    """The inventory IDs the conclusion of `rule` rests on (reasoning.toml `[sources]`)."""
    return list(reasoning()["sources"][rule])
