"""The conversation state: what a session remembers between turns, as a versioned type.

A session's state is stored (the server keeps it as JSON between turns) and outlives the release
that wrote it, so its JSON carries `version` and `load()` upgrades every older layout. The JSON
keeps a flat `facts` object at its top (the server reads `state["facts"]` for the staff queue).

Version 1 (no `version` key): `{"facts": {...}, "context": {...}, "lines": {...}}`, with one
appointment date in `facts` and one drink date. Version 2 adds several appointments side by side,
every drink with its date, and whom the conversation is about.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from chatbot.knowledge.inventory import TREATMENTS

VERSION = 2


@dataclass
class Booking:
    """One appointment: the treatment ("" when not said) on an ISO date."""

    treatment: str
    date: str


@dataclass
class Context:
    """Where the conversation stands: what the bot asked, what is being checked, what was said last."""

    pending: str | None = None             # the question the bot is waiting on
    choices: dict = field(default_factory=dict)         # "Do you mean ...?" label -> topic
    screening: list = field(default_factory=list)       # treatments being checked
    screened: list = field(default_factory=list)        # treatments whose check has a verdict
    passed_over: list = field(default_factory=list)     # checks whose answers were not understood
    missed: str | None = None              # the check whose answer was not understood once
    answered: str | None = None            # the check the last answer was recorded for
    corrected: list = field(default_factory=list)       # facts corrected this turn, to confirm
    last_topics: list = field(default_factory=list)
    last_treatment: str | None = None
    last_brand: dict | None = None
    last_trace: dict | None = None         # what the last answer rested on, for "why?"
    last_urgent: bool = False
    treated_already: bool = False          # "I had fillers last month": questions are about after
    date_words: str | None = None          # an unclear date's words ("next friday") while its day is asked
    introduced: list = field(default_factory=list)      # checks whose opening words were already said


_CONTEXT_FIELDS = tuple(f.name for f in fields(Context))


@dataclass
class ConversationState:
    """Everything a session remembers: the person's facts, their appointments and drinks, whom the
    conversation is about, how they describe their lines, and where the conversation stands."""

    facts: dict = field(default_factory=dict)           # flat, as in the --json `facts`
    appointments: list[Booking] = field(default_factory=list)
    drinks: list[str] = field(default_factory=list)     # ISO dates of drinks, in the order told
    about: str = "self"                                 # self | client
    who: str = ""                                       # someone else, as named: "your friend"
    lines: dict = field(default_factory=dict)           # areas, hints, behaviours
    context: Context = field(default_factory=Context)

    # -- appointments ----------------------------------------------------------------------------
    def appointment_for(self, treatment: str) -> Booking | None:
        """The appointment for `treatment`, else one whose treatment was not said."""
        for booking in self.appointments:
            if booking.treatment == treatment:
                return booking
        return next((b for b in self.appointments if b.treatment in ("", "both")), None)

    def book(self, treatment: str, when: str) -> None:
        """Record an appointment; a treatment already booked moves to the new date."""
        treatments = list(TREATMENTS) if treatment == "both" else [treatment]
        for name in treatments:
            self.appointments = [b for b in self.appointments
                                 if b.treatment != name and not (name and b.treatment == "")]
            self.appointments.append(Booking(name, when))
        self.appointments.sort(key=lambda b: (b.date, b.treatment))
        self._sync_date()

    def unbook(self) -> None:
        self.appointments = []
        self._sync_date()

    def _sync_date(self) -> None:
        """`facts["appointment_date"]` is the first appointment (the flat contract of --json)."""
        if self.appointments:
            self.facts["appointment_date"] = self.appointments[0].date
            if len({b.date for b in self.appointments}) > 1:
                self.facts["appointments"] = {b.treatment: b.date for b in self.appointments}
            else:
                self.facts.pop("appointments", None)
        else:
            self.facts.pop("appointment_date", None)
            self.facts.pop("appointments", None)

    # -- drinks ----------------------------------------------------------------------------------
    def drink(self, when: str, instead: bool = False) -> bool:
        """Record a drink on an ISO date (`instead` of the last one told, when corrected); False
        when it was already known."""
        if when in self.drinks:
            return False
        if instead and self.drinks:
            self.drinks.pop()
        self.drinks.append(when)
        self.facts["alcohol_date"] = when
        return True

    # -- the understanding's view ----------------------------------------------------------------
    def for_understanding(self) -> dict:
        """The context as the understanding reads it (a plain dict, empty fields left out)."""
        # read-only for the understanding, so the fields are passed as they are (no deep copy)
        seen = {name: value for name in _CONTEXT_FIELDS
                if (value := getattr(self.context, name)) not in (None, [], {}, False)}
        seen["has_appointment"] = bool(self.appointments)
        seen["appointment_date"] = self.facts.get("appointment_date")
        seen["about"] = self.about
        seen["who"] = self.who
        seen["drinks"] = list(self.drinks)
        seen["items"] = {key: value for key in ("medicines", "supplements", "skincare")
                         if isinstance(value := self.facts.get(key), list) and value}
        return seen

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        """Plain JSON-able data, with the schema version."""
        data = asdict(self)
        data["context"] = {k: v for k, v in data["context"].items() if v not in (None, [], {}, False)}
        return {"version": VERSION, **data}

    @classmethod
    def from_json(cls, data: dict | None) -> ConversationState:
        """A state from its JSON, of this version or any older one."""
        if not data:
            return cls()
        data = upgrade(data)
        known = {f.name for f in fields(Context)}
        context = Context(**{k: v for k, v in (data.get("context") or {}).items() if k in known})
        return cls(facts=dict(data.get("facts") or {}),
                   appointments=[Booking(b["treatment"], b["date"]) for b in data.get("appointments", [])],
                   drinks=list(data.get("drinks", [])), about=data.get("about", "self"),
                   who=str(data.get("who") or ""),
                   lines=dict(data.get("lines") or {}), context=context)


def upgrade(data: dict) -> dict:
    """`data` brought up to VERSION, one version at a time; a newer version is an error."""
    version = data.get("version", 1)
    if version > VERSION:
        raise ValueError(f"conversation state version {version} is newer than this release ({VERSION})")
    while version < VERSION:
        data = _UPGRADES[version](data)
        version = data["version"]
    return data


def _from_1(data: dict) -> dict:
    """Version 1 kept one appointment date and one drink date among the facts."""
    facts = dict(data.get("facts") or {})
    context = {k: v for k, v in (data.get("context") or {}).items()
               if k not in ("has_appointment", "appointment_date")}
    appointments = []
    if facts.get("appointment_date"):
        planned = facts.get("treatment")
        treatment = planned if planned in TREATMENTS else ""
        treatments = list(TREATMENTS) if planned == "both" else [treatment]
        appointments = [{"treatment": t, "date": facts["appointment_date"]} for t in treatments]
    drinks = [facts["alcohol_date"]] if facts.get("alcohol_date") else []
    return {"version": 2, "facts": facts, "appointments": appointments, "drinks": drinks,
            "about": "self", "lines": dict(data.get("lines") or {}), "context": context}


_UPGRADES = {1: _from_1}
