"""No test depends on the real date or time: the date-dependent parts of the suite, on pinned days.

Month ends, a year end and 29 February are where relative dates ("tomorrow", "friday", "in 3
days") and date strings in stored sessions go wrong. A conversation whose expectations depend on
the day pins it with `today:`; every other conversation must pass on any day.
"""
import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from test_server import concurrent_sessions_keep_their_facts_to_themselves

from chatbot import Chatbot, conversations, dates
from chatbot.understand import _date_text

DAYS = [date(2026, 11, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 2, 28), date(2028, 2, 29)]
FOLDER = Path(__file__).parent / "conversations"
UNPINNED = [c for c in conversations.load([FOLDER]) if c.today is None]


@pytest.fixture(scope="module", params=DAYS, ids=str)
def day_bot(request):
    day = request.param
    return day, Chatbot(today=lambda: day)


def test_conversations_that_pin_no_day_pass_on_any_day(day_bot):
    day, bot = day_bot
    failures = [f"{c.name!r} turn {r.index} {r.user!r}: {[m.key for m in r.mismatches]}"
                for c in UNPINNED for r in conversations.run(c, lambda _: bot) if not r.ok]
    assert len(UNPINNED) > 300
    assert not failures, f"on {day}:\n" + "\n".join(failures)


@pytest.mark.parametrize("day", DAYS, ids=str)
@pytest.mark.parametrize("text, days_later", [("tomorrow", 1), ("the day after tomorrow", 2),
                                              ("in 3 days", 3), ("in two weeks", 14)])
def test_relative_dates_count_across_month_and_year_ends(day, text, days_later):
    found = dates.find(_date_text(text), day)
    assert found is not None and found.value == day + timedelta(days=days_later)


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_a_weekday_is_the_next_one_after_a_pinned_day(day):
    for offset in range(1, 8):
        target = day + timedelta(days=offset)
        found = dates.find(_date_text(target.strftime("%A").lower()), day)
        assert found is not None and found.value in (target, target + timedelta(days=7))


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_concurrent_sessions_stay_apart_on_any_day(bot, tmp_path, day):
    moment = datetime.combine(day, time(23, 59), tzinfo=timezone.utc)
    concurrent_sessions_keep_their_facts_to_themselves(bot, str(tmp_path / "s.sqlite3"), day,
                                                       lambda: moment)


READS_THE_CLOCK = re.compile(r"\b(?:date\.today|datetime\.(?:now|utcnow|today))\(|\btime\.time\(")


def test_no_test_reads_the_real_clock():
    here = Path(__file__)
    readers = [f"{path.name}:{number}" for path in sorted(here.parent.glob("*.py")) if path != here
               for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if READS_THE_CLOCK.search(line)]
    assert not readers, "tests must pin the clock: " + ", ".join(readers)
