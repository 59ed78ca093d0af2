"""Every conversation under tests/conversations/ plays through with the replies it expects."""
from pathlib import Path

import pytest

from chatbot import conversations

FOLDER = Path(__file__).parent / "conversations"
ALL = conversations.load([FOLDER])


@pytest.mark.parametrize("conversation", ALL, ids=[c.name for c in ALL])
def test_conversation(conversation, bot_for_day):
    failures = [r for r in conversations.run(conversation, bot_for_day) if not r.ok]
    assert not failures, "\n".join(
        f"turn {r.index} {r.user!r}: " + "; ".join(
            f"{m.key}: expected {m.expected!r}, got {m.got!r}" for m in r.mismatches)
        for r in failures)
