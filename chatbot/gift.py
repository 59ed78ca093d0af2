"""The quiz's question bank in Moodle's GIFT format, for a clinic's learning platform.

One multiple-choice question per bank question, in a category per kind:

    $CATEGORY: Botox and fillers/precaution
    ::precaution 3::[plain]A client asks: "..." What do you tell the client?{
    =The right option#Right. Why: ... [IDS]
    ~A wrong option#Not this one: ... The article's answer: ...
    ####Sources: FIL-CONTRA
    }

GIFT gives `~ = # { } :` and the backslash a meaning, so in text they are escaped with a
backslash (as Moodle's own exporter does); a line break would end the text, so there is none.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # for annotations only: quiz imports this module to export its bank
    from chatbot.quiz import QuizQuestion

CATEGORY = "Botox and fillers"
_SPECIAL = "\\~=#{}:"


def escape(text: str) -> str:
    """Text as GIFT reads it literally."""
    text = " ".join(text.split())
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)


def export(questions: Sequence[QuizQuestion], seed: int) -> str:
    """The questions as one GIFT file, each option with its own feedback."""
    lines = [f"// Staff training questions generated from the knowledge base (seed {seed}).",
             "// Every right answer rests on the inventory IDs in its feedback.", ""]
    category = None
    counts: dict[str, int] = {}
    for question in questions:
        if question.kind != category:
            category = question.kind
            lines += [f"$CATEGORY: {CATEGORY}/{category}", ""]
        counts[question.kind] = counts.get(question.kind, 0) + 1
        name = f"{question.kind} {counts[question.kind]}"
        lines.append(f"::{escape(name)}::[plain]{escape(question.text)}{{")
        for index, choice in enumerate(question.choices):
            if index == question.answer:
                feedback = f"Right. {question.explanation}"
                lines.append(f"={escape(choice)}#{escape(feedback)}")
            else:
                # No letter: a learning platform shuffles the options.
                feedback = (f"Not this one. The article's answer: {question.choices[question.answer]}"
                            f"{'' if question.choices[question.answer].endswith('.') else '.'} "
                            f"{question.explanation}")
                lines.append(f"~{escape(choice)}#{escape(feedback)}")
        sources = ", ".join(question.sources) or "none: the article says nothing on this"
        lines.append(f"####{escape('Sources: ' + sources)}")
        lines += ["}", ""]
    return "\n".join(lines)
