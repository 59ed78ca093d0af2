"""Appointment dates as people write them, resolved against today.

Understands ISO dates (2026-12-04), day and month in either order (Dec 4, 4 December, 4th of Dec),
numeric dates with a slash (12/4: read month first only when the day is above 12, else ambiguous),
weekdays (Friday, this Friday, next Tuesday, Friday next week, Friday the 11th), holidays (new
year's eve, Christmas), today, tonight, a time of day ("botox at 3", "in an hour"), tomorrow, the day
after tomorrow, and "in N days/weeks". A date that is ambiguous or already past is reported as such, for a
clarifying question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {name: number for number, names in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1) for name in names}
WEEKDAYS = {name: number for number, names in enumerate([
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]) for name in names}
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "a": 1, "an": 1, "a couple of": 2, "couple of": 2, "a few": 3}

# Days people name by their holiday ("new year's eve"): the month and the day.
_HOLIDAYS = {"new years eve": (12, 31), "nye": (12, 31), "new years day": (1, 1), "christmas eve": (12, 24),
             "xmas eve": (12, 24), "christmas day": (12, 25), "xmas day": (12, 25), "christmas": (12, 25),
             "xmas": (12, 25), "boxing day": (12, 26)}
RECENTLY_PAST_DAYS = 60  # a day and month this recently past is taken as past, not as next year
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_NUMBER = r"\d{1,3}|" + "|".join(sorted(NUMBERS, key=len, reverse=True))
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_PATTERNS = [
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    # "Friday the 11th", "fri 11th dec": the day of the month decides, the weekday must agree
    ("weekday_date", re.compile(rf"\b({_WEEKDAY}),? (?:the (\d{{1,2}})(?:st|nd|rd|th)?"
                                rf"|(\d{{1,2}})(?:st|nd|rd|th)|(\d{{1,2}})(?= (?:of )?(?:{_MONTH})\b))"
                                rf"(?: (?:of )?({_MONTH}))?\b(?:,? (\d{{4}}))?")),
    ("holiday", re.compile(r"\b(?:new years eve|nye|new years day|christmas eve|christmas day|xmas eve|"
                           r"xmas day|christmas|xmas|boxing day)\b")),
    ("slash", re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")),
    ("day_month", re.compile(rf"\b{_ORD}(?: of)? ({_MONTH})\b(?:,? (\d{{4}}))?")),
    ("month_day", re.compile(rf"\b({_MONTH}) (?:the )?{_ORD}\b(?:,? (\d{{4}}))?")),
    ("day_only", re.compile(r"\b(?:on )?the (\d{1,2})(?:st|nd|rd|th)\b(?! of)(?! (?:" + _MONTH + r")\b)")),
    ("after_tomorrow", re.compile(r"\bday after tomorrow\b")),
    ("tomorrow", re.compile(r"\b(?:tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow)\b")),
    ("today", re.compile(r"\b(?:today|tonight|this evening|this afternoon|later today)\b")),
    # "in an hour", "botox at 3", "my appt's at 2 30", "at 4pm": later today
    ("today", re.compile(rf"\bin (?:half an|an|a few|a couple of|{_NUMBER}) hours?\b|\b(?:botox|tox|filler|"
                         r"fillers|appointment|appt|its|is) at (?:1[0-2]|[1-9])(?: \d\d)?(?: ?(?:am|pm))?\b"
                         r"(?! (?:days?|weeks?|months?|years?|units?|percent|ml)\b)"
                         r"|\bat (?:1[0-2]|[1-9])(?: \d\d)? ?(?:am|pm|oclock)\b")),
    ("yesterday", re.compile(r"\b(?:yesterday|last night|last nite|lastnight|last week)\b")),
    ("in_n", re.compile(rf"\bin ({_NUMBER}) (day|days|week|weeks|wk|wks|fortnight|fortnights)\b")),
    ("fortnight", re.compile(r"\b(?:in a fortnight|a fortnight from (?:now|today)|fortnight today)\b")),
    ("weekday_next_week",
     re.compile(rf"\b(?:({_WEEKDAY}) (?:of )?next week|next week(?: on)? ({_WEEKDAY}))\b")),
    ("next_week", re.compile(r"\b(?:next week|next month|later this month|in a month|in a few weeks"
                             r"|(?:this|next|the) weekend)\b")),
    ("weekday", re.compile(rf"\b(?:(next|this|on|coming|this coming) )?({_WEEKDAY})\b")),
]


@dataclass(frozen=True)
class Found:
    """A date found in a message: `value` when it is clear, otherwise why it is not."""

    value: date | None
    problem: str | None = None   # "past" | "ambiguous" | "which_week" | "vague" | "invalid" | "weekday"
    words: str = ""


def find(text: str, today: date, anchor: re.Pattern | None = None) -> Found | None:
    """The appointment date named in normalised `text`, or None when there is none.

    With several dates ("the wedding is Saturday and I'm getting tox Thursday"), the one nearest
    a word matching `anchor` (the treatment, "appointment") is taken; else the first kind found."""
    found = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if text[max(0, match.start() - 4):match.start()] == "not ":
                continue   # "the 13th, not the 3rd": the date being corrected away
            resolved = _resolve(kind, match, today)
            if resolved is not None and not any(match.start() < end and start < match.end()
                                                for start, end, _ in found):
                found.append((match.start(), match.end(), resolved))
    if not found:
        return None
    anchors = [m.start() for m in anchor.finditer(text)] if anchor is not None else []
    if len(found) == 1 or not anchors:
        return found[0][2]
    # "tomorrow I have botox, yesterday I drank wine": a day to come before a day gone by
    to_come = [f for f in found if f[2].problem != "past"] or found
    return min(to_come, key=lambda f: min(abs(f[0] - a) for a in anchors))[2]


def nearer(text: str, today: date, this: re.Pattern, than: re.Pattern) -> bool:
    """Whether the date in `text` sits nearer a word matching `this` than one matching `than`."""
    found = find(text, today, this)
    if found is None or not found.words:
        return False
    at = text.find(found.words)
    def distance(pattern):
        return min((abs(m.start() - at) for m in pattern.finditer(text)), default=10 ** 6)
    return distance(this) <= distance(than)


def _resolve(kind: str, match: re.Match, today: date) -> Found | None:
    words = match.group(0)
    if kind == "iso":
        return _checked(_make(int(match[1]), int(match[2]), int(match[3])), today, words)
    if kind == "weekday_date":
        day = int(match[2] or match[3] or match[4])
        if match[5]:
            found = _dated(_year(match[6]), MONTHS[match[5]], day, today, words)
        else:
            month, year = today.month, today.year
            if day < today.day:
                month, year = (1, year + 1) if month == 12 else (month + 1, year)
            found = _checked(_make(year, month, day), today, words)
        if found.value is not None and found.value.weekday() != WEEKDAYS[match[1]]:
            return Found(None, "weekday", words)   # "Friday the 10th" when the 10th is a Thursday
        return found
    if kind == "holiday":
        month, day = _HOLIDAYS[words]
        return _dated(None, month, day, today, words)
    if kind == "slash":
        first, second = int(match[1]), int(match[2])
        if first > 31 or second > 31:
            return None
        year = _year(match[3])
        if first <= 12 and second <= 12 and first != second:
            return Found(None, "ambiguous", words)
        month, day = (first, second) if first <= 12 and second > 12 else (second, first)
        return _dated(year, month, day, today, words)
    if kind == "day_month":
        return _dated(_year(match[3]), MONTHS[match[2]], int(match[1]), today, words)
    if kind == "month_day":
        return _dated(_year(match[3]), MONTHS[match[1]], int(match[2]), today, words)
    if kind == "day_only":
        # "on the 4th": this month if still to come, else next month.
        day = int(match[1])
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        return _checked(_make(year, month, day), today, words)
    if kind == "after_tomorrow":
        return Found(today + timedelta(days=2), None, words)
    if kind == "tomorrow":
        return Found(today + timedelta(days=1), None, words)
    if kind == "yesterday":
        return Found(None, "past", words)
    if kind == "today":
        return Found(today, None, words)
    if kind == "in_n":
        count = int(match[1]) if match[1].isdigit() else NUMBERS[match[1]]
        days = count * (14 if match[2].startswith("f") else 7 if match[2].startswith("w") else 1)
        return Found(today + timedelta(days=days), None, words) if days <= 3660 else None
    if kind == "fortnight":
        return Found(today + timedelta(days=14), None, words)
    if kind == "weekday_next_week":   # "Friday next week": that day of the coming Monday's week
        monday = today + timedelta(days=7 - today.weekday())
        return Found(monday + timedelta(days=WEEKDAYS[match[1] or match[2]]), None, words)
    if kind == "next_week":
        return Found(None, "vague", words)
    if kind == "weekday":
        ends = match.end() >= len(match.string.rstrip())
        if match[2] in ("sat", "sun", "mon", "wed") and not match[1] and not ends:
            return None  # short forms that are ordinary words too ("I sat", "the sun"), unless they end it
        ahead = (WEEKDAYS[match[2]] - today.weekday()) % 7 or 7
        if match[1] == "next" and ahead < 7 and today.weekday() < WEEKDAYS[match[2]] and ahead <= 2:
            # "next Tuesday" said on a Sunday is ambiguous between two days: ask which week.
            return Found(None, "which_week", words)
        return Found(today + timedelta(days=ahead), None, words)
    return None  # pragma: no cover - every pattern kind is handled above


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dated(year: int | None, month: int, day: int, today: date, words: str) -> Found:
    """A day and month, in the given year or else the next time that day comes round."""
    if year is None:
        candidate = _make(today.year, month, day)
        if candidate is None:
            return Found(None, "invalid", words)
        if candidate < today:
            if (today - candidate).days <= RECENTLY_PAST_DAYS:
                return Found(None, "past", words)   # "nov 20" said on Nov 27 is past, not next year
            candidate = _make(today.year + 1, month, day) or candidate
        return Found(candidate, None, words)
    return _checked(_make(year, month, day), today, words)


def _checked(value: date | None, today: date, words: str) -> Found:
    if value is None:
        return Found(None, "invalid", words)
    if value < today:
        return Found(None, "past", words)
    return Found(value, None, words)
