"""Meta-tests over the registries: inventory, rules, templates, conversations."""
import inspect
import re
from pathlib import Path

from chatbot import conversations
from chatbot.knowledge import inventory
from chatbot.knowledge.rules import Expert
from chatbot.render import Renderer

# The inventory of the source article (its IDs are the project's contract with KNOWLEDGE.md).
INVENTORY_IDS = """
GEN-SKIN GEN-INJECTABLES BTX-NAME BTX-ORIGIN BTX-MECHANISM BTX-DANGER BTX-PURPOSE BTX-AREAS
BTX-DURATION BTX-PROFESSIONAL BTX-UNITS BTX-COST BTX-HISTORY BTX-ALCOHOL FIL-VS-BTX FIL-WHAT
FIL-NATURAL FIL-BENEFITS FIL-LUNCHTIME FIL-DURATION FIL-RECOVERY FIL-BLOOD-THINNERS FIL-SUPPLEMENTS
FIL-ACTIVES FIL-HAIR-REMOVAL FIL-CONTRA CMB-SAME-FACE CMB-ORDER CMB-WHY-ORDER CMB-BOTH-WORLDS
WRK-DYNAMIC WRK-STATIC CMB-RESULT CMB-AREAS CARE-ROUTINE""".split()
ROOT = Path(__file__).parent.parent
CONVERSATIONS = conversations.load([ROOT / "tests" / "conversations"])


def _rules():
    return {name: member for name, member in inspect.getmembers(Expert)
            if hasattr(member, "_wrapped") and type(member).__name__ == "Rule"}


def test_every_inventory_id_is_in_the_knowledge_base_and_nothing_else():
    assert list(inventory.facts()) == INVENTORY_IDS


def test_every_fact_has_a_line_and_its_own_words():
    for entry in inventory.facts().values():
        assert re.fullmatch(r"\d+(-\d+)?(, \d+)*", entry.line), entry.id
        assert entry.text.endswith(".") and len(entry.text) > 20, entry.id


def test_every_source_named_by_a_topic_exists():
    for topic in inventory.topics().values():
        named = [s for ids in topic.sources.values() for s in ids]
        named += [s for ids in topic.related.values() for s in ids]
        assert set(named) <= set(INVENTORY_IDS), topic.name


def test_every_rule_has_a_docstring():
    rules = _rules()
    assert len(rules) > 30
    missing = [name for name, rule in rules.items() if not (rule._wrapped.__doc__ or "").strip()]
    assert not missing


def test_salience_is_only_used_where_a_rule_must_win():
    source = inspect.getsource(Expert)
    for value in re.findall(r"salience=([A-Z_0-9+ -]+)\)", source):
        assert value.strip().split()[0] in ("URGENT", "CONTRAINDICATION", "DECIDE", "LAST"), value


def test_every_inventory_id_is_reachable_by_some_conversation(bot_for_day):
    reached = set()
    for conversation in CONVERSATIONS:
        for result in conversations.run(conversation, bot_for_day):
            reached |= set(result.reply["sources"])
    assert set(INVENTORY_IDS) - reached == set()


def test_every_template_is_used_and_every_used_template_exists():
    names = set(Renderer().names())
    responses = ROOT / "responses"
    code = "\n".join(p.read_text() for p in list((ROOT / "knowledge").glob("*.py"))
                     + list((ROOT / "chatbot").glob("*.py")) + list(responses.glob("*.j2")))
    used_by_rules = set(re.findall(r'self\._reply\(\s*"(\w+)"', code))
    included = set(re.findall(r'(?:include|import|extends|from) "([\w.]+)\.j2"', code))
    loaded = set(re.findall(r'get_template\(\s*f?"([\w.]+)\.j2"', code))
    moves = {"empty", "too_long"}
    assert used_by_rules <= names
    unused = names - used_by_rules - included - loaded - moves - _used_elsewhere(code, names)
    assert not unused


def _used_elsewhere(code, names):
    """Templates loaded by a computed name: get_template(f"quiz_{kind}.j2") with "kind" in the code."""
    used = set()
    for prefix in re.findall(r'get_template\(f"([\w.]*)\{', code):
        for name in names:
            suffix = name[len(prefix):]
            if name.startswith(prefix) and (f'"{suffix}"' in code or f"'{suffix}'" in code):
                used.add(name)
    return used


def test_every_rule_can_fire_somewhere_in_the_conversations(bot_for_day):
    fired = set()
    for conversation in CONVERSATIONS:
        for result in conversations.run(conversation, bot_for_day):
            fired |= set(result.reply["fired"])
    replying = {name for name, rule in _rules().items()
                if "self._reply(" in inspect.getsource(rule._wrapped)}
    assert replying - fired == set()
