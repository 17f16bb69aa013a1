"""Every distribution the code imports is declared in pyproject.toml, and every declared one is used.

The imports are read from the source (an ast walk of ``bot/``, ``closures/`` and ``geo/``) and mapped to
distributions with ``importlib.metadata.packages_distributions()``, so a package that only arrives through
another one (aiohttp through tweepy, numpy through shapely, pydantic through pydantic-settings) fails here
until it is named. A module-level import needs a base dependency; an extra (psycopg, pyvalhalla) may only be
imported where it is used, inside a function or behind a guard, so the base install still starts.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "closures", "geo")
# Declared but never imported by name, each for a reason; anything else declared and unused fails.
USED_WITHOUT_IMPORT = {
    "tzdata": "zoneinfo reads its time zones where the system has none (slim container images)",
    "sniffio": "httpcore retries its failing import on every request without it (see pyproject.toml)",
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect imports it for DATABASE_URL=postgresql://…",
}
DEV_EXTRAS = ("test",)


@dataclass(frozen=True)
class Import:
    module: str  # the top-level name, e.g. "shapely"
    where: str  # path:line
    eager: bool  # at module level, unconditionally: runs whenever the module is imported


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return normalise(match.group(1))


def declared() -> tuple[set[str], dict[str, set[str]]]:
    """The base dependencies and, per extra, its own, by normalised name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {requirement_name(r) for r in project["dependencies"]}
    extras = {
        name: {requirement_name(r) for r in reqs} for name, reqs in project["optional-dependencies"].items()
    }
    return base, extras


def imports_in(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    yield from _walk(tree.body, path, eager=True)


def _walk(body: list[ast.stmt], path: Path, *, eager: bool) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name.split(".")[0], f"{path.relative_to(ROOT)}:{node.lineno}", eager)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield Import(node.module.split(".")[0], f"{path.relative_to(ROOT)}:{node.lineno}", eager)
        elif isinstance(node, ast.With):  # e.g. `with warnings.catch_warnings(): import …` still runs
            yield from _walk(node.body, path, eager=eager)
        else:  # a function, a class, an if or a try: imported only when that code runs or allows it
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _walk([child], path, eager=False)


@cache
def third_party_imports() -> tuple[Import, ...]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for item in imports_in(path):
                if item.module not in (*sys.stdlib_module_names, *PACKAGES):
                    found.append(item)
    return tuple(found)


@cache
def _module_owners() -> dict[str, list[str]]:
    return packages_distributions()  # reads every installed distribution's file list: once


def distributions_of(module: str) -> set[str]:
    names = _module_owners().get(module)
    if not names:
        pytest.fail(f"no installed distribution provides the module {module!r}: install the test extras")
    return {normalise(name) for name in names}


def test_imports_are_read_from_the_source():
    modules = {item.module for item in third_party_imports()}

    assert {"telegram", "shapely", "sqlalchemy", "aiohttp", "numpy", "pydantic"} <= modules
    lazy = {item.module for item in third_party_imports() if not item.eager}
    assert "valhalla" in lazy  # imported inside the embedded router, where the routing extra is needed


def test_every_module_level_import_is_a_base_dependency():
    base, _ = declared()
    missing = sorted(
        f"{item.where}: {item.module} ({' or '.join(sorted(distributions_of(item.module)))})"
        for item in third_party_imports()
        if item.eager and not distributions_of(item.module) & base
    )

    assert missing == [], "imported at module level but not in [project] dependencies"


def test_every_lazy_import_is_declared_in_the_base_or_an_extra():
    base, extras = declared()
    runtime = base.union(*(reqs for name, reqs in extras.items() if name not in DEV_EXTRAS))
    missing = sorted(
        f"{item.where}: {item.module}"
        for item in third_party_imports()
        if not distributions_of(item.module) & runtime
    )

    assert missing == []


def test_every_declared_runtime_dependency_is_imported_or_has_a_reason():
    base, extras = declared()
    runtime = base.union(*(reqs for name, reqs in extras.items() if name not in DEV_EXTRAS))
    imported = set().union(*(distributions_of(item.module) for item in third_party_imports()))

    assert sorted(runtime - imported - set(USED_WITHOUT_IMPORT)) == []
    assert sorted(set(USED_WITHOUT_IMPORT) - runtime) == []  # a reason for something no longer declared


def test_zoneinfo_has_its_time_zones_on_any_image():
    base, _ = declared()
    uses_zoneinfo = any(item.module == "zoneinfo" for item in _all_imports())

    assert uses_zoneinfo
    assert "tzdata" in base


def test_the_run_time_needs_no_setuptools_and_no_webhook_extra():
    base, _ = declared()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    telegram = next(r for r in project["dependencies"] if requirement_name(r) == "python-telegram-bot")

    assert "setuptools" not in base  # twitter-text's one pkg_resources call has a stand-in (bot.text)
    assert "webhooks" not in telegram  # Telegram's webhook comes in through our Starlette route


def _all_imports() -> Iterator[Import]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield from imports_in(path)
