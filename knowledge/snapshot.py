"""A built and reset engine, saved with pickle and loaded instead of built again.

Building the Rete network of the rules and declaring the article's facts into it takes tens of
milliseconds; loading the result takes a few. So the session keeps the bytes in the cache folder
(chatbot/cache.py), named after the files they were made from (`sources()`) and experta's version,
and loads the first engine of a process from them; further engines of the process (the server's
pool) are loaded from the same bytes.

Stock pickle cannot save an engine: its rules are methods and lambdas that pickle cannot name, and
experta's checks and tokens are tuples with constructors pickle does not call rightly. `_Pickler`
saves each of those as the call that makes it again. Loading a pickle can run code, so
chatbot/cache.py loads a saved file only when it is the user's own and nobody else may write it.
"""
from __future__ import annotations

import io
import os
import pickle
import types
from functools import lru_cache
from pathlib import Path

from chatbot.knowledge._experta import Fact, Rule

# isort: split
from experta.conditionalelement import ConditionalElement
from experta.matchers.rete.check import FeatureCheck, WhereCheck
from experta.matchers.rete.token import TokenInfo

from chatbot.knowledge.engine import made
from chatbot.knowledge.rules import Expert

HERE = Path(__file__).parent
PROTOCOL = 5


def sources() -> list[Path]:
    """The files an engine is made from: this package's code and data."""
    return [path for path in HERE.iterdir() if path.suffix in (".py", ".toml")]


def versions() -> tuple[str, ...]:
    """What besides this package's files makes a saved engine: experta's and frozendict's versions
    (experta freezes facts' dicts into frozendicts, whose layout is pickled), the state schema the
    session declares facts from, and the pickle protocol."""
    import experta
    import frozendict

    from chatbot import state
    return (f"experta {getattr(experta, '__version__', 'unknown')}",
            f"frozendict {_version_of(frozendict)}", f"state {state.VERSION}", f"pickle {PROTOCOL}")


def _version_of(module) -> str:
    """A package's version from its dist-info folder's name: importlib.metadata would scan every
    installed package, a twentieth of a second on each `ask`."""
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    name = module.__name__
    folder = Path(module.__file__).resolve().parent.parent
    try:
        for entry in os.scandir(folder):
            if entry.name.startswith(f"{name}-") and entry.name.endswith((".dist-info", ".egg-info")):
                return entry.name[len(name) + 1:].rsplit(".", 1)[0]
    except OSError:
        pass
    return "unknown"


def build() -> Expert:
    built = Expert()
    built.reset()
    return built


def dumps(built: Expert) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=PROTOCOL).dump(built)   # a few hundred calls deep: the default limit
    return buffer.getvalue()


def loads(data: bytes) -> Expert:
    loaded = pickle.loads(data)
    if not isinstance(loaded, Expert):
        raise TypeError(f"not an engine: {type(loaded).__name__}")
    return loaded


# -- how the objects pickle cannot save are made again ---------------------------------------------
_NAMED: dict | None = None      # the rules' functions and the lambdas in their patterns -> names


def _named() -> dict:
    """Each function of a rule (its action, the lambdas of its tests) and a stable name for it."""
    global _NAMED
    if _NAMED is None:
        named: dict = {}

        def walk(value, rule: str) -> None:
            if isinstance(value, types.FunctionType):
                named.setdefault(value, ("test", rule, sum(key[1] == rule for key in named.values())))
            elif isinstance(value, (tuple, list)):
                for item in value:
                    walk(item, rule)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item, rule)

        for name, value in sorted(vars(Expert).items()):
            if isinstance(value, Rule):
                named[value._wrapped] = ("rule", name, 0)
                walk(tuple(value), name)
        _NAMED = named
    return _NAMED


@lru_cache(maxsize=1)
def _by_name() -> dict:
    return {name: function for function, name in _named().items()}


def _function(name: tuple):
    return _by_name()[name]   # a name not there: the saved engine is from other rules; it is rebuilt


def _remade(factory, args):
    return made(factory, *args)


def _fact(cls, items, state):
    fact = cls.__new__(cls)
    dict.update(fact, items)
    fact.__dict__.update(state)
    return fact


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        kind = type(obj)
        if kind is types.FunctionType:
            recipe = getattr(obj, "recipe", None)
            if recipe is not None:                     # a routing function of knowledge/engine.py
                return _remade, recipe
            name = _named().get(obj)
            return (_function, (name,)) if name else NotImplemented
        if isinstance(obj, ConditionalElement):        # rules, patterns' constraints: tuples + state
            state = {k: v for k, v in vars(obj).items() if k != "ke"}   # not the engine
            if "_wrapped_self" in state:                # a rule bound to an engine: unbind it
                state["_wrapped_self"] = None
            return tuple.__new__, (kind, tuple(obj)), state   # state: set as attributes
        if isinstance(obj, Fact):                      # without its cached hash: str hashes vary
            state = {k: v for k, v in vars(obj).items() if k != "_hash"}
            return _fact, (kind, dict(obj), state)
        if kind.__name__ == "frozendict":              # made again, so its hash is computed afresh
            return kind, (dict(obj),)
        if kind is FeatureCheck:
            return FeatureCheck, (obj.what, obj.how)
        if kind is WhereCheck:
            return WhereCheck, (obj.test,)
        if kind is TokenInfo:
            return tuple.__new__, (TokenInfo, (obj.data, obj.context))
        return NotImplemented
