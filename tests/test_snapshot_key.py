"""The saved engine's name covers what shapes it, and nothing pickled carries a cached hash."""
import io
import pickle

from chatbot import state
from chatbot.knowledge import snapshot
from chatbot.knowledge._experta import Fact

# isort: split
from frozendict import frozendict


def test_the_cache_key_names_experta_frozendict_and_the_state_schema():
    versions = " ".join(snapshot.versions())
    assert "experta " in versions and f"state {state.VERSION}" in versions
    assert "frozendict " in versions and "frozendict unknown" not in versions


def _round_trip(value):
    buffer = io.BytesIO()
    snapshot._Pickler(buffer, protocol=snapshot.PROTOCOL).dump(value)
    return pickle.loads(buffer.getvalue())


def test_a_frozendict_is_saved_without_its_cached_hash():
    frozen = frozendict({"a": "b"})
    hash(frozen)   # frozendict 1.2 caches it on the object; str hashes differ between processes
    loaded = _round_trip(frozen)
    assert loaded == frozen and getattr(loaded, "_hash", None) is None


def test_a_fact_is_saved_without_its_cached_hash():
    fact = Fact(a="b")
    hash(fact)
    assert "_hash" not in vars(_round_trip(fact))
