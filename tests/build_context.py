"""The files an image or a wheel is built from: the project's files (tracked, or new and not ignored by
git) that ``.dockerignore`` lets into Docker's build context, matched by Docker's rules for the patterns
that file uses. ``tests/test_packaging.py`` builds the wheel from exactly these, so a file the image's
build needs but the context lacks fails there, without a container engine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class NoFileList(Exception):
    """git cannot list the project's files here (not installed, or not a git checkout)."""


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern matching the path or one
    of its parent folders decides; ``!`` admits again."""
    parts = path.split("/")
    excluded = False
    for pattern in patterns:
        admit = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not admit
    return excluded


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


def project_files() -> list[str]:
    """Paths (relative, with "/") of the files git tracks or would add, that exist on disk."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        raise NoFileList("git is needed to list the project's files, in a git checkout")
    listed = subprocess.run(
        [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    return sorted({path for path in listed.split("\0") if path and (ROOT / path).is_file()})


def context_files() -> list[str]:
    """The project's files that Docker's build context holds."""
    patterns = dockerignore_patterns()
    return [path for path in project_files() if not dockerignored(path, patterns)]


def copy_context(dest: Path) -> list[str]:
    """Copy the build context's files under ``dest``; returns their paths."""
    files = context_files()
    for path in files:
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target)
    return files
