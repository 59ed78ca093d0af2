"""A few cheap fixtures: one Chatbot for the whole run (the knowledge base is built once)."""
from datetime import date

import pytest

TODAY = date(2026, 11, 27)   # a Friday; conversation files may pin another day


@pytest.fixture(scope="session")
def bot():
    from chatbot import Chatbot
    return Chatbot(today=lambda: TODAY)


@pytest.fixture
def session(bot):
    return bot.session()


@pytest.fixture(scope="session")
def bot_for_day():
    """Chatbots by pinned day, built once each."""
    from chatbot import Chatbot
    built = {}

    def make(day):
        day = day or TODAY
        if day not in built:
            built[day] = Chatbot(today=lambda: day)
        return built[day]
    return make


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    """A new, empty database of each kind: a SQLite path or a PostgreSQL URL (pgcluster.py)."""
    import pgcluster
    return pgcluster.fresh_database(request.param, tmp_path)
