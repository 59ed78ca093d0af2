"""knowledge/snapshot.py: an engine saved and loaded behaves as one built afresh."""
from datetime import date
from pathlib import Path

import pytest

from chatbot import cache, conversations
from chatbot.knowledge import snapshot
from chatbot.knowledge.facts import Focus, Move, Question, Told
from chatbot.knowledge.rules import Expert

TODAY = date(2026, 11, 27)   # pinned: no test depends on the real date

FOLDER = Path(__file__).parent / "conversations"


def _turn(engine, *facts) -> list:
    mark = max(engine.facts.keys())
    engine.declare(*facts)
    engine.run()
    replies = sorted((f["rule"], f["template"], tuple(f["sources"])) for index, f in engine.facts.items()
                     if index > mark and type(f).__name__ == "ReplyPart")
    engine.retract_all([index for index in engine.facts.keys() if index > mark])
    return replies


TURNS = [
    (Question(topic="alcohol", treatment="botox", item="", when=""), Move(name="greeting", value="")),
    (Told(key="pregnant", value=True, topic="", new=True, live=True, live_for_self=True),
     Focus(treatment="fillers", new=True, for_self=True)),
    (Move(name="why", value=""),),
]


def _engine(monkeypatch, folder):
    """What the session does for its first engine, with the cache in `folder`."""
    monkeypatch.setenv("CHATBOT_CACHE_DIR", str(folder))
    name = cache.key(snapshot.sources(), *snapshot.versions())
    return cache.kept("engine", name, snapshot.build, snapshot.dumps, snapshot.loads)


def test_the_first_engine_is_built_and_saved_then_loaded(monkeypatch, tmp_path):
    built, data = _engine(monkeypatch, tmp_path)
    saved = list((tmp_path / "engine").glob("*.pickle"))
    assert [path.read_bytes() for path in saved] == [data]
    loaded, again = _engine(monkeypatch, tmp_path)
    assert loaded is not built and again == data
    copy = snapshot.loads(data)
    for facts in TURNS:
        expected = _turn(built, *[f.copy() for f in facts])
        assert expected
        assert _turn(loaded, *[f.copy() for f in facts]) == expected
        assert _turn(copy, *[f.copy() for f in facts]) == expected
    assert sorted(map(repr, loaded.facts.values())) == sorted(map(repr, built.facts.values()))


def test_conversations_play_the_same_on_loaded_engines(monkeypatch, tmp_path):
    from chatbot import Chatbot
    monkeypatch.setenv("CHATBOT_CACHE_DIR", str(tmp_path))
    loaded_from = []
    real_loads = snapshot.loads

    def counting_loads(data):
        loaded_from.append(len(data))
        return real_loads(data)
    played = []
    for _ in range(2):   # the first Chatbot builds and saves; the second loads
        bot = Chatbot(today=lambda: TODAY)
        played.append([[r.reply for r in conversations.run(c, lambda day, bot=bot: bot)]
                       for c in conversations.load([FOLDER]) if not c.today])
        monkeypatch.setattr(snapshot, "loads", counting_loads)
    assert loaded_from, "the second Chatbot did not load the saved engine"
    assert played[0] == played[1]


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x05K\x01."])   # the last: an int
def test_a_bad_file_is_ignored_and_replaced(monkeypatch, tmp_path, content):
    _engine(monkeypatch, tmp_path)
    [path] = (tmp_path / "engine").glob("*.pickle")
    path.write_bytes(content)
    engine, again = _engine(monkeypatch, tmp_path)
    assert isinstance(engine, Expert) and path.read_bytes() == again != content
    assert isinstance(snapshot.loads(again), Expert)


def test_an_unwritable_cache_still_gives_an_engine(monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    engine, data = _engine(monkeypatch, blocked)
    assert isinstance(engine, Expert) and data and not list(tmp_path.glob("**/*.pickle"))


def test_the_name_follows_the_knowledge_files(monkeypatch, tmp_path):
    for path in snapshot.sources():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(snapshot, "HERE", tmp_path)
    before = cache.key(snapshot.sources(), *snapshot.versions())
    topics = tmp_path / "topics.toml"
    topics.write_text(topics.read_text() + "\n# changed\n")
    assert cache.key(snapshot.sources(), *snapshot.versions()) != before


def test_the_lexicon_is_kept_and_loaded_alike(monkeypatch, tmp_path):
    from chatbot import lexicon
    monkeypatch.setenv("CHATBOT_CACHE_DIR", str(tmp_path))
    lexicon.load.cache_clear()
    try:
        made = lexicon.load()
        assert list((tmp_path / "lexicon").glob("*.pickle"))
        lexicon.load.cache_clear()
        loaded = lexicon.load()
        assert loaded is not made and vars(loaded) == vars(made) == vars(lexicon.read())
    finally:
        lexicon.load.cache_clear()


def test_the_knowledge_files_are_kept_and_loaded_alike(monkeypatch, tmp_path):
    from chatbot.knowledge import inventory
    monkeypatch.setenv("CHATBOT_CACHE_DIR", str(tmp_path))
    inventory._files.cache_clear()
    try:
        made = inventory._files()
        [kept] = (tmp_path / "data").glob("*.pickle")
        inventory._files.cache_clear()
        assert inventory._files() == made == inventory._parse(
            [inventory.Path(inventory.__file__).parent / name for name in inventory.FILES])
        kept.write_bytes(b"\x80\x05}\x94.")    # an empty dict: not the files, so parsed again
        inventory._files.cache_clear()
        assert inventory._files() == made
    finally:
        inventory._files.cache_clear()


def test_a_file_others_may_write_is_not_loaded(monkeypatch, tmp_path):
    _engine(monkeypatch, tmp_path)
    [path] = (tmp_path / "engine").glob("*.pickle")
    path.chmod(0o666)
    loaded = []
    monkeypatch.setattr(snapshot, "loads", lambda data: loaded.append(data) or Expert())
    _engine(monkeypatch, tmp_path)
    assert not loaded and path.stat().st_mode & 0o777 == 0o600   # made again, and replaced


def test_old_files_of_other_versions_are_removed_when_a_new_one_is_saved(monkeypatch, tmp_path):
    import os
    old, recent = tmp_path / "engine" / "old.pickle", tmp_path / "engine" / "recent.pickle"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")
    recent.write_bytes(b"y")
    os.utime(old, (0, 0))
    _engine(monkeypatch, tmp_path)
    assert not old.exists() and recent.exists()
