"""Jinja's sandbox with limits, for a clinic's own templates: render time and output size.

Jinja's `SandboxedEnvironment` keeps a template away from Python's internals, but not from the
CPU or memory: `{% for i in range(99999) %}{% for j in range(99999) %}...` runs for minutes and
`{{ 'x' * 50000000 }}` builds a 50 MB string, each holding a turn thread. Here every render of a
template has a budget:

- time: RENDER_SECONDS from the start of `Template.render`, checked at every loop iteration,
  every call (so recursive macros too) and every piece of output;
- size: OUTPUT_CHARS of output, counted as it is produced, and no `*` (repetition), `+`, `~`,
  `**` or `center`/`indent` width that would build a string or list larger than that in one step.

Going over either raises `TemplateBudgetExceeded`; the server answers that turn with a 500 and a
log line, saves nothing, and carries on. One built-in operation is not interrupted midway, which
is why the size of each such operation is checked before it runs.
"""
from __future__ import annotations

import threading
import time

from jinja2 import nodes
from jinja2.filters import do_center, do_indent
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

RENDER_SECONDS = 2.0       # per render of one template; a normal answer takes a few milliseconds
OUTPUT_CHARS = 100_000     # per render, and per string or list built in one step
_MAX_EXPONENT = 4096       # `2 ** 4096` is fine; `10 ** 10000000` would take seconds in C
_BUDGET_FILTER = "_within_budget"   # filters that only this module puts into templates
_SIZE_FILTER = "_sized"


class TemplateBudgetExceeded(RuntimeError):
    """A clinic template ran too long or produced too much."""


_budget = threading.local()   # the deadline of the render running in this thread, if any


def _check_time() -> None:
    deadline = getattr(_budget, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateBudgetExceeded(f"a template ran for more than {RENDER_SECONDS:g} s")


def _check_size(size: int) -> None:
    if size > OUTPUT_CHARS:
        raise TemplateBudgetExceeded(f"a template built more than {OUTPUT_CHARS} characters")


def _within_budget(iterable):
    """Wrapped around the iterable of every `{% for %}`: the time is checked at each iteration."""
    for item in iterable:
        _check_time()
        yield item


def _sized(value):
    """Wrapped around every `~` concatenation: its result may not exceed the output budget."""
    _check_size(len(value))
    return value


class _Budgeted(NodeTransformer):
    """Puts the checks into a template's tree: around each loop's iterable and each `~`."""

    def visit_For(self, node):
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _BUDGET_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node):
        self.generic_visit(node)
        return nodes.Filter(node, _SIZE_FILTER, [], [], None, None, lineno=node.lineno)


class LimitedSandbox(SandboxedEnvironment):
    """A SandboxedEnvironment whose renders have a time and an output budget (see module doc)."""

    intercepted_binops = frozenset(["*", "**", "+"])

    def __init__(self, **options):
        super().__init__(**options)
        self.filters.update({_BUDGET_FILTER: _within_budget, _SIZE_FILTER: _sized})
        self.filters["center"] = lambda value, width=80: (_check_size(width) or do_center(value, width))
        self.filters["indent"] = self._indent

    @staticmethod
    def _indent(value, width=4, first=False, blank=False):
        if isinstance(width, int):
            _check_size(width * max(1, str(value).count("\n") + 1))
        return do_indent(value, width, first, blank)

    def _parse(self, source, name, filename):
        return _Budgeted().visit(super()._parse(source, name, filename))

    def concat(self, pieces) -> str:   # called once per Template.render: the budget starts here
        outer = getattr(_budget, "deadline", None)
        _budget.deadline = time.monotonic() + RENDER_SECONDS if outer is None else outer
        try:
            kept, size = [], 0
            for piece in pieces:
                size += len(piece)
                _check_size(size)
                _check_time()
                kept.append(piece)
            return "".join(kept)
        finally:
            _budget.deadline = outer

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        _check_time()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    _check_size(len(sequence) * count)
        elif operator == "+" and all(isinstance(side, (str, list, tuple)) for side in (left, right)):
            _check_size(len(left) + len(right))
        elif operator == "**" and isinstance(right, int) and abs(right) > _MAX_EXPONENT:
            raise TemplateBudgetExceeded(f"a template raised a number to a power over {_MAX_EXPONENT}")
        return super().call_binop(context, operator, left, right)
