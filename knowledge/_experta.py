"""Experta, importable on current Python.

experta 1.9.4 (the newest release) pins frozendict==1.2, whose class statement uses
`collections.Mapping`; that alias was removed in Python 3.10. Restoring the alias before experta
(and so frozendict) is first imported is all it takes; frozendict 1.2 works otherwise unchanged.
Every module of the project imports experta through this one, so the fix lives here only.
"""
import collections
import collections.abc

if not hasattr(collections, "Mapping"):
    collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]

from experta import AS, MATCH, NOT, TEST, DefFacts, Fact, Field, KnowledgeEngine, L, Rule, W  # noqa: E402
from experta.fact import InitialFact  # noqa: E402

__all__ = ["AS", "MATCH", "NOT", "TEST", "W", "DefFacts", "Fact", "Field", "InitialFact",
           "KnowledgeEngine", "L", "Rule"]
