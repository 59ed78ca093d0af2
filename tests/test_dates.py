"""Appointment dates as people write them, relative to a pinned today (Friday 27 November 2026)."""
from datetime import date

import pytest

from chatbot import dates
from chatbot.understand import _date_text

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize("text, expected", [
    ("2026-12-04", date(2026, 12, 4)),
    ("dec 4", date(2026, 12, 4)),
    ("December 4th", date(2026, 12, 4)),
    ("4 december", date(2026, 12, 4)),
    ("the 4th of dec", date(2026, 12, 4)),
    ("jan 2", date(2027, 1, 2)),             # already past this year: next year
    ("friday", date(2026, 12, 4)),           # today is Friday: the next one
    ("on saturday", date(2026, 11, 28)),
    ("next tuesday", date(2026, 12, 1)),
    ("tomorrow", date(2026, 11, 28)),
    ("tmrw", date(2026, 11, 28)),
    ("the day after tomorrow", date(2026, 11, 29)),
    ("today", TODAY),
    ("in 3 days", date(2026, 11, 30)),
    ("in two weeks", date(2026, 12, 11)),
    ("25/12", date(2026, 12, 25)),           # only one reading is a real date
    ("12/25/2026", date(2026, 12, 25)),
    ("friday next week", date(2026, 12, 4)),     # the week that starts on Monday 30 November
    ("next week on monday", date(2026, 11, 30)),
    ("next week tuesday", date(2026, 12, 1)),
    ("wednesday of next week", date(2026, 12, 2)),
    ("botox in an hour", TODAY),
    ("my filler's at 2", TODAY),
    ("appt at 3:30pm", TODAY),
    ("in a couple of hours", TODAY),
])
def test_dates_people_write_are_resolved(text, expected):
    found = dates.find(_date_text(text), TODAY)
    assert found is not None and found.problem is None
    assert found.value == expected


@pytest.mark.parametrize("text, problem", [
    ("2026-11-20", "past"),
    ("12/04", "ambiguous"),
    ("next week", "vague"),
    ("feb 30", "invalid"),
    ("2026-02-30", "invalid"),
])
def test_unclear_dates_are_reported_not_guessed(text, problem):
    found = dates.find(_date_text(text), TODAY)
    assert found is not None and found.value is None
    assert found.problem == problem


@pytest.mark.parametrize("text", ["can i get botox at 70", "botox at 9 weeks pregnant", "filler at 2 units",
                                  "how long does botox take", "i saw 3 friends", "sun cream",
                                  "may i drink wine", "it costs 250 dollars"])
def test_ordinary_words_are_not_dates(text):
    assert dates.find(_date_text(text), TODAY) is None


def test_a_date_at_the_year_end_rolls_into_the_next_year():
    assert dates.find("in 3 days", date(2026, 12, 30)).value == date(2027, 1, 2)
    assert dates.find("jan 2", date(2026, 12, 30)).value == date(2027, 1, 2)


@pytest.mark.parametrize("text, expected", [
    ("on the 4th", date(2026, 12, 4)),       # the 4th has passed this month: next month's
    ("the 28th", date(2026, 11, 28)),
    ("in 2 wks", date(2026, 12, 11)),
])
def test_a_day_of_the_month_and_short_weeks(text, expected):
    assert dates.find(_date_text(text), TODAY).value == expected
