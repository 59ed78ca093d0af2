"""The modules import downwards only: no import cycle among chatbot's and knowledge's modules."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Where each installed package's modules live in the source tree (knowledge/ installs as
# chatbot.knowledge, responses/ as chatbot.responses).
PACKAGES = {"chatbot": ROOT / "chatbot", "chatbot.knowledge": ROOT / "knowledge"}


def modules() -> dict[str, Path]:
    """Every module of the project by its installed dotted name."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.glob("*.py")):
            found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project's modules that `path` imports anywhere in it (inside functions too: a lazy
    import still closes a cycle, it only hides it until the first call). Imports under
    `if TYPE_CHECKING:` are left out: they never run."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            block.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from chatbot import cache` imports the module chatbot.cache; `from chatbot import
            # Chatbot` imports a name of the package chatbot itself.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, set(known)) for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path [a, b, ..., a], or [] when there is none (depth-first search)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_module_imports_one_that_imports_it_back():
    found = cycle(graph())
    assert not found, "import cycle: " + " -> ".join(found)


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": set(), "b": {"b2"}, "b2": {"b"}}, ["b", "b2", "b"]),
])
def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle(edges, expected):
    assert cycle(edges) == expected


def test_the_graph_sees_lazy_and_from_imports():
    edges = graph()
    assert "chatbot.environment" in edges["chatbot.cli"]        # at the top
    assert "chatbot.session" in edges["chatbot.cli"]            # inside a function
    assert "chatbot.knowledge.inventory" in edges["chatbot.render"]


@pytest.mark.parametrize("leaf", ["chatbot.status", "chatbot.terminal"])
def test_the_shared_helpers_are_leaves(leaf):
    assert graph()[leaf] == set()


def test_one_class_name_per_meaning():
    """No two public classes of the project share a name (a `Reply` is the answer a turn returns;
    the rules declare `ReplyPart` facts; a quiz has `QuizQuestion`s; understanding reads `Asked`)."""
    seen: dict[str, str] = {}
    for name, path in modules().items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                assert node.name not in seen, f"class {node.name} in {name} and in {seen[node.name]}"
                seen[node.name] = name
