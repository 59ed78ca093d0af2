"""The rule catalogue (`python -m chatbot rules`): every rule, in words a clinician can review."""
import io
import json

from chatbot import cli
from chatbot.environment import Environment
from chatbot.knowledge import catalogue, inventory
from chatbot.knowledge._experta import Rule
from chatbot.knowledge.rules import Expert

RULES = [name for name, value in vars(Expert).items() if isinstance(value, Rule)]


def test_every_rule_is_in_the_catalogue_with_when_needs_and_concludes():
    entries = {entry.name: entry for entry in catalogue.entries()}
    assert list(entries) == RULES
    for entry in entries.values():
        assert entry.when and entry.matches and entry.concludes, entry.name


def test_every_source_named_in_the_reasoning_data_belongs_to_a_rule_and_the_inventory():
    sources = inventory.reasoning()["sources"]
    assert set(sources) <= set(RULES)
    assert {i for ids in sources.values() for i in ids} <= set(inventory.facts())
    assert inventory.reasoning()["volume"]["source"] in inventory.facts()


def test_the_rules_rest_on_their_ids_in_the_catalogue():
    entries = {entry.name: entry for entry in catalogue.entries()}
    assert entries["recommend_both_botox_first"].rests_on[:2] == ["WRK-DYNAMIC", "WRK-STATIC"]
    assert "BTX-ALCOHOL" in entries["when_the_drink_falls_against_the_appointment"].rests_on
    assert any("topics.toml" in s for s in entries["answer_from_the_article"].rests_on)
    assert "with name = 'urgent'" in entries["urgent_symptoms_first"].matches[0]


def test_no_rule_writes_an_inventory_id_of_its_own():
    import inspect
    import re

    from chatbot.knowledge import rules
    assert not re.findall(r'"[A-Z]{3}-[A-Z-]+"', inspect.getsource(rules))


def _run(*args):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(), environ={})
    assert cli.main(list(args), env=env) == 0, env.stderr.getvalue()
    return env.stdout.getvalue()


def test_the_rules_command_prints_every_rule_and_json_lists_them():
    out = _run("rules")
    assert all(name in out for name in RULES) and f"{len(RULES)} rules." in out
    assert [e["name"] for e in json.loads(_run("rules", "--json"))] == RULES


def test_every_reply_names_the_rule_that_gives_it():
    """A ReplyPart's rule is written at the call (no stack inspection): the enclosing rule's own name,
    or passed on by a helper that takes it as `rule`."""
    import ast
    import inspect

    from chatbot.knowledge import rules
    tree = ast.parse(inspect.getsource(rules))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        for call in ast.walk(function):
            if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "_reply":
                named = {k.arg: k.value for k in call.keywords}
                assert "rule" in named, f"{function.name}: a ReplyPart without rule="
                value = named["rule"]
                assert (isinstance(value, ast.Constant) and value.value == function.name) or (
                    isinstance(value, ast.Name) and value.id == "rule"), function.name
