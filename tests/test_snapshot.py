"""knowledge/snapshot.py: an engine saved and loaded behaves as one built afresh."""
from pathlib import Path

import pytest

from chatbot import conversations
from chatbot.knowledge import snapshot
from chatbot.knowledge.facts import Focus, Move, Question, Told
from chatbot.knowledge.rules import Expert

FOLDER = Path(__file__).parent / "conversations"


def _turn(engine, *facts) -> list:
    mark = max(engine.facts.keys())
    engine.declare(*facts)
    engine.run()
    replies = sorted((f["rule"], f["template"], tuple(f["sources"])) for index, f in engine.facts.items()
                     if index > mark and type(f).__name__ == "Reply")
    engine.retract_all([index for index in engine.facts.keys() if index > mark])
    return replies


TURNS = [
    (Question(topic="alcohol", treatment="botox", item="", when=""), Move(name="greeting", value="")),
    (Told(key="pregnant", value=True, topic="", new=True, live=True, live_for_self=True),
     Focus(treatment="fillers", new=True, for_self=True)),
    (Move(name="why", value=""),),
]


def test_the_first_engine_is_built_and_saved_then_loaded(tmp_path):
    built, data = snapshot.engine(str(tmp_path))
    saved = list(tmp_path.glob("engine-*.pickle"))
    assert [path.read_bytes() for path in saved] == [data]
    loaded, again = snapshot.engine(str(tmp_path))
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
        bot = Chatbot()
        played.append([[r.reply for r in conversations.run(c, lambda day, bot=bot: bot)]
                       for c in conversations.load([FOLDER]) if not c.today])
        monkeypatch.setattr(snapshot, "loads", counting_loads)
    assert loaded_from, "the second Chatbot did not load the saved engine"
    assert played[0] == played[1]


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x05K\x01."])   # the last: an int
def test_a_bad_file_is_ignored_and_replaced(tmp_path, content):
    path = tmp_path / f"engine-{snapshot.key()}.pickle"
    path.write_bytes(content)
    engine, data = snapshot.engine(str(tmp_path))
    assert isinstance(engine, Expert) and path.read_bytes() == data != content


def test_no_folder_or_an_unwritable_one_still_gives_an_engine(tmp_path):
    engine, data = snapshot.engine(None)
    assert isinstance(engine, Expert) and data
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    engine, data = snapshot.engine(str(blocked / "engine"))
    assert isinstance(engine, Expert) and data


def test_the_key_follows_the_knowledge_files(monkeypatch, tmp_path):
    for path in snapshot.HERE.iterdir():
        if path.is_file():
            (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(snapshot, "HERE", tmp_path)
    before = snapshot.key()
    topics = tmp_path / "topics.toml"
    topics.write_text(topics.read_text() + "\n# changed\n")
    assert snapshot.key() != before
