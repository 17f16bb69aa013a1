"""The architecture, read from the source with ``ast``: arrows point inward only (bot → closures → geo), and
the parts of ``bot/`` import each other without a circle.

Every import counts: at module level, inside functions, and under ``if TYPE_CHECKING:``. A type-only import
is still a dependency of the code that names the type (mypy and ``typing.get_type_hints`` must import it),
so it obeys the layer rule like any other, and a circle made of type-only imports is still a circle.

The checks are plain functions over a source tree; the last tests run them on small trees written for the
purpose, to show that each rule does catch what it forbids.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("geo", "closures", "bot")
# What each layer must never import: its outer layers, and the edges' libraries.
FORBIDDEN = {
    "geo": ("closures", "bot", "telegram", "tweepy", "sqlalchemy", "sqlmodel"),
    "closures": ("bot", "telegram", "tweepy"),
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, e.g. bot.handlers.nearby
    target: str  # what it imports, e.g. closures.queries (a module when the name is one, else its package)
    line: int


def modules_of(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_in(module: str, path: Path, known: Mapping[str, Path]) -> list[Import]:
    """Every import statement anywhere in the module (functions and TYPE_CHECKING blocks included)."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.module, node.level)
            for alias in node.names:  # `from bot.text import answers` depends on the module bot.text.answers
                name = f"{base}.{alias.name}"
                out.append(Import(module, name if name in known else base, node.lineno))
    return out


def _absolute(module: str, is_package: bool, name: str | None, level: int) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, *([name] if name else [])])


def all_imports(root: Path) -> list[Import]:
    known = modules_of(root)
    return [imp for module, path in known.items() for imp in imports_in(module, path, known)]


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def back_arrows(imports: Iterable[Import]) -> list[str]:
    """Each import that points outward (or at an edge library from a layer that must not know it)."""
    return sorted(
        f"{imp.module} (line {imp.line}) imports {imp.target}: {layer}/ must not import {_top(imp.target)}"
        for imp in imports
        if _top(imp.target) in FORBIDDEN.get(layer := _top(imp.module), ())
    )


def bot_part(module: str) -> str | None:
    """The node of the bot/ graph a module belongs to: its first-level subpackage or top-level module."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" and len(parts) > 1 else None


def bot_circles(imports: Iterable[Import]) -> list[str]:
    """Each circle between parts of bot/, with the imports that close it."""
    edges: dict[str, dict[str, list[Import]]] = {}
    for imp in imports:
        here, there = bot_part(imp.module), bot_part(imp.target)
        if here and there and here != there:
            edges.setdefault(here, {}).setdefault(there, []).append(imp)
    graph = {node: set(targets) for node, targets in edges.items()}
    problems = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        members = sorted(component)
        lines = [
            f"  {imp.module} (line {imp.line}) imports {imp.target}"
            for a in members
            for b in sorted(edges.get(a, {}))
            if b in component
            for imp in edges[a][b]
        ]
        problems.append(f"circle between {', '.join(members)}:\n" + "\n".join(lines))
    return problems


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm (recursive: bot/ has a few dozen parts, not thousands)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


# --- the project itself ------------------------------------------------------------------------------


def test_no_layer_imports_an_outer_one():
    problems = back_arrows(all_imports(ROOT))
    assert not problems, "arrows must point inward (bot → closures → geo):\n" + "\n".join(problems)


def test_the_parts_of_bot_import_each_other_without_a_circle():
    problems = bot_circles(all_imports(ROOT))
    assert not problems, "\n".join(problems)


def test_the_walk_sees_the_whole_project():
    imports = all_imports(ROOT)
    importers = {imp.module for imp in imports}
    assert {"geo.parse", "closures.service", "bot.app", "bot.handlers.staff.conversation"} <= importers
    from_app = {imp.target for imp in imports if imp.module == "bot.app"}
    assert {"bot.handlers", "bot.handlers.menus", "bot.context"} <= from_app  # packages and their modules


# --- the checks catch what they forbid ------------------------------------------------------------------


def write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()
    return root


def test_back_arrows_are_found_at_module_level_in_functions_and_for_types_only(tmp_path: Path):
    root = write(
        tmp_path,
        {
            "geo/shapes.py": "from closures.models import Closure\n",
            "closures/models.py": "def send():\n    import telegram\n",
            "closures/service.py": (
                "from typing import TYPE_CHECKING\n\n"
                "if TYPE_CHECKING:\n    from bot.context import BotContext\n"
            ),
            "closures/fine.py": "from geo import shapes\nimport shapely\n",
            "bot/context.py": "from closures import service\nfrom geo.shapes import x\n",
        },
    )
    problems = back_arrows(all_imports(root))
    assert problems == [
        "closures.models (line 2) imports telegram: closures/ must not import telegram",
        "closures.service (line 4) imports bot.context: closures/ must not import bot",
        "geo.shapes (line 1) imports closures.models: geo/ must not import closures",
    ]


def test_a_relative_import_is_resolved_before_it_is_judged(tmp_path: Path):
    root = write(
        tmp_path, {"closures/sub/__init__.py": "", "closures/sub/deep.py": "from ...bot import app\n"}
    )
    assert back_arrows(all_imports(root)) == [
        "closures.sub.deep (line 1) imports bot: closures/ must not import bot"
    ]


def test_a_circle_between_parts_of_bot_names_the_imports_that_close_it(tmp_path: Path):
    root = write(
        tmp_path,
        {
            "bot/app.py": "from bot.handlers import register_all\n",
            "bot/handlers/__init__.py": "from bot.handlers import nearby\n",
            "bot/handlers/nearby.py": "from bot.text import answers\n",
            "bot/text/__init__.py": "",
            "bot/text/answers.py": "def late():\n    from bot.handlers.nearby import PAGE_SIZE\n",
            "bot/config.py": "import bot.text.answers\n",
        },
    )
    assert bot_circles(all_imports(root)) == [
        "circle between bot.handlers, bot.text:\n"
        "  bot.handlers.nearby (line 1) imports bot.text.answers\n"
        "  bot.text.answers (line 2) imports bot.handlers.nearby"
    ]


def test_imports_within_one_part_of_bot_are_no_circle(tmp_path: Path):
    root = write(
        tmp_path,
        {
            "bot/handlers/__init__.py": "from bot.handlers import nearby\n",
            "bot/handlers/nearby.py": "from bot.handlers import common\n",
            "bot/handlers/common.py": "import bot.handlers.nearby\n",
            "bot/context.py": "from bot.services import Services\n",
            "bot/services/__init__.py": "from bot.config import Settings\n",
        },
    )
    assert bot_circles(all_imports(root)) == []
