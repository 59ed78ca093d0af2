"""Experta's engine with faster routing in its Rete matcher; what matches, and when, is unchanged.

Stock experta 1.9.4, for every fact declared or retracted:
- sends the fact to every first node of the alpha network, one per fact class named in any
  pattern (about twenty here); each copies the token, then rejects it unless the type is its own;
- in the alpha network, copies the token at every node before testing it, and tests a fact
  against each sibling node that compares the same field with a different literal
  (`Move(name="greeting")`, `Move(name="thanks")`, ...), one after the other;
- then asks every rule's conflict-set node (about 150) for new activations, even the ones no token
  reached.
`TypeIndexedMatcher` builds the same network, then:
- sends a fact only to the first nodes that test its own type (and to any that is not a type test);
- in the alpha network, copies a token only where a node adds a variable binding to it, and looks
  sibling literal tests up by the fact's value, so only the node whose literal is equal is reached;
- hands tokens to the join and conflict-set nodes' own activation code directly, copied as experta
  copies them but without re-validating a token experta already made, and without a debug-log call;
- asks only the conflict-set nodes that a token reached since the last question, in the network's
  own order.
The tests each node makes, the tokens that reach the joins and the activations returned are those of
stock experta (tests/test_engine.py checks this on every conversation test); the joins, the agenda,
the strategy and the rules are experta's own.

`Engine.retract_all` retracts many facts and then updates the agenda once, as `declare(*facts)`
already does for declaring.
"""
from __future__ import annotations

from collections.abc import Mapping

from chatbot.knowledge._experta import KnowledgeEngine  # first: it makes experta importable

# isort: split
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import FeatureCheck, TypeCheck
from experta.matchers.rete.mixins import ChildNode
from experta.matchers.rete.nodes import BusNode, FeatureTesterNode
from experta.matchers.rete.token import Token


class TypeIndexedBus(BusNode):
    """The root node: a fact goes to the children that test its type, and to untyped children."""

    def index(self) -> None:
        """Group the children by the type they test; called once the network is built."""
        by_type: dict[type, tuple] = {}
        untyped: tuple = ()
        for child in self.children:
            if isinstance(child.node.matcher, TypeCheck):
                kind = child.node.matcher.fact_type
                by_type[kind] = by_type.get(kind, ()) + (child,)
            else:
                untyped += (child,)
        self._by_type, self._untyped = by_type, untyped

    def _send(self, token: Token, fact) -> None:
        for child in self._by_type.get(type(fact), ()):
            child.callback(token)
        for child in self._untyped:
            child.callback(token)

    def add(self, fact) -> None:
        self._send(Token.valid(fact), fact)

    def remove(self, fact) -> None:
        self._send(Token.invalid(fact), fact)


class TypeIndexedMatcher(ReteMatcher):
    """A ReteMatcher whose root is a `TypeIndexedBus` and that asks only the reached rules."""

    def __init__(self, engine):
        # ReteMatcher.__init__ builds the network from a plain BusNode; build it from ours instead.
        super(ReteMatcher, self).__init__(engine)
        self.root_node = TypeIndexedBus()
        self.build_network()
        self._reached: set[int] = set()
        self._conflict_sets = self._get_conflict_set_nodes()
        for position, node in enumerate(self._conflict_sets):
            node._activate = made(_noting, self._reached, position, node)
        _route(self.root_node)
        self.root_node.index()

    def changes(self, adding=None, deleting=None):
        """Pass the changes through the network; return the activations added and removed."""
        for fact in deleting or ():
            self.root_node.remove(fact)
        for fact in adding or ():
            self.root_node.add(fact)
        added: list = []
        removed: list = []
        if self._reached:
            positions = sorted(self._reached)
            self._reached.clear()
            for position in positions:
                node_added, node_removed = self._conflict_sets[position].get_activations()
                added.extend(node_added)
                removed.extend(node_removed)
        return added, removed


def made(factory, *args):
    """`factory(*args)`, a function that remembers how it was made, so that knowledge/snapshot.py
    can save it as that call."""
    function = factory(*args)
    function.recipe = (factory, args)
    return function


def _noting(reached: set, position: int, node):
    """The conflict-set node's own activation, which first notes that it was reached."""
    activate = type(node)._activate.__get__(node)

    def activate_and_note(token):
        reached.add(position)
        return activate(token)
    return activate_and_note


def _route(root) -> None:
    """Rewrite every parent's callbacks for its children as the module docstring says."""
    done: set[int] = set()

    def visit(parent) -> None:
        for position, child in enumerate(parent.children):
            node = child.node
            if id(node) not in done:                  # its children first: their callbacks are used
                done.add(id(node))
                visit(node)
            parent.children[position] = ChildNode(node, _callback(parent, child))

    visit(root)


def _callback(parent, child):
    """The routed callback for `child`: experta's own node activation, on a copied token."""
    node, port = child.node, getattr(child.callback, "__name__", "")
    if type(node) is FeatureTesterNode:
        return made(_alpha_callback, node, isinstance(parent, TypeIndexedBus)
                     and isinstance(node.matcher, TypeCheck))
    if port in ("activate", "activate_left", "activate_right"):
        return made(_copying, node, port)
    return child.callback


def _copying(node, port: str):
    """What experta's `port` method of `node` does: copy the token, then activate the node."""
    activate = getattr(node, "_" + port)

    def copy_and_activate(token):
        return activate(_copy(token))
    return copy_and_activate


_new_tuple = tuple.__new__


def _copy(token: Token) -> Token:
    """Token.copy without its checks: the data and context are already a Token's."""
    return _new_tuple(Token, (token.tag, token.data.copy(), token.context.copy()))


def _literal_field(node) -> str | None:
    """The field a FeatureTesterNode compares with a literal, binding nothing; else None."""
    if type(node) is not FeatureTesterNode:
        return None
    check = node.matcher
    if (not isinstance(check, FeatureCheck)
            or check.check.__name__ != "equal_literal" or check.expected.__bind__ is not None):
        return None
    what = check.what
    if not isinstance(what, str) or "__" in what:   # nested and special fields: stock lookups only
        return None
    return what


def _alpha_callback(node, typed: bool):
    """The activation of one FeatureTesterNode: stock experta's test, a copy only to bind, routing.

    `typed`: the node tests the fact's type and the bus sends it only facts of that type.
    """
    test = None if typed else node.matcher
    others: list = []
    by_value: dict[str, dict] = {}
    for child in node.children:
        field = _literal_field(child.node)
        if field is None:
            others.append(child.callback)
        else:
            by_value.setdefault(field, {}).setdefault(child.node.matcher.expected.value, []).append(
                child.callback)
    others_t = tuple(others)
    tables = tuple((field, {value: tuple(calls) for value, calls in table.items()})
                   for field, table in by_value.items())

    def activate(token):
        (fact,) = token.data
        match = True if test is None else test(fact)
        if not match:
            return
        if isinstance(match, Mapping):             # as FeatureTesterNode._activate, on a copy
            context = token.context
            for key, value in match.items():
                if isinstance(key, tuple):
                    if key[1] in context and context[key[1]] == value:
                        return
                elif context.get(key, value) != value or context.get((False, key), _ABSENT) == value:
                    return
            token = _copy(token)
            token.context.update(match)
        for call in others_t:
            call(token)
        for field, table in tables:
            try:
                calls = table.get(fact[field], ())
            except (KeyError, IndexError, TypeError):  # no such field, or a value no literal equals
                continue
            for call in calls:
                call(token)
    return activate


_ABSENT = object()


class Engine(KnowledgeEngine):
    """A KnowledgeEngine with the `TypeIndexedMatcher` and a batched `retract_all`."""

    __matcher__ = TypeIndexedMatcher

    def retract_all(self, indexes) -> None:
        """Retract the facts at `indexes`, then update the agenda once."""
        for index in indexes:
            self.facts.retract(index)
        if not self.running:
            added, removed = self.get_activations()
            self.strategy.update_agenda(self.agenda, added, removed)
