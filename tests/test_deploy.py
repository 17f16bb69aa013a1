"""The deployment files, checked without a container engine: compose.yaml against the official Compose
Specification schema (``tests/schemas/compose-spec/``) and for its wiring, the Dockerfile for its rules
(slim Python 3.12, installed from a wheel, not root, ``/health`` as the health check, ``roadbot run``), the
health check's command run for real against ``roadbot serve``, and ``.env.example`` for every setting.

CI builds the image itself where an engine is available (``.ci/run``).
"""

from __future__ import annotations

import copy
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.config import Settings
from tests.build_context import dockerignore_patterns, dockerignored

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "schemas" / "compose-spec" / "compose-spec.json"
# Variables compose.yaml reads from .env for itself, beside the bot's settings.
COMPOSE_VARIABLES = {"ROADBOT_DOMAIN", "POSTGRES_PASSWORD", "BOT_REPLICAS", "ROADBOT_IMAGE"}
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


# --- reading the files -----------------------------------------------------------------------------------


def env_example(*, commented: bool) -> dict[str, str]:
    """The ``NAME=value`` lines of .env.example; with ``commented``, the commented-out ones too."""
    pattern = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match and (commented or not match.group(1)):
            value = match.group(3)
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            out[match.group(2)] = value
    return out


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
    ${NAME?error} and $$, applied to every string of the file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op and op.endswith("?") and unset:
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    """compose.yaml as compose reads it: YAML merge keys resolved and, given ``env``, variables filled."""
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data if env is None else interpolate(data, env)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        parsed = json.loads(self.args)
        assert isinstance(parsed, list), f"{self.keyword} is not in exec (JSON) form: {self.args}"
        return parsed


def dockerfile_stages() -> list[list[Instruction]]:
    """The Dockerfile's instructions per build stage (continuation lines joined, comments dropped)."""
    lines, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stages: list[list[Instruction]] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), " ".join(args.split()))
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, "the Dockerfile starts with FROM"
        stages[-1].append(instruction)
    return stages


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"one {keyword} in the final stage, not {len(found)}"
    return found[0]


# --- compose.yaml ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_file_is_valid_by_the_compose_specification(validator: jsonschema.Draft7Validator):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    filled = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(compose(env_example(commented=False)))
    ]

    assert errors == []
    assert filled == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "bot", "depends_on", "migrate", "condition"), "service_completed"),
        (("services", "bot", "deploy", "replicas"), [2]),
        (("services", "db", "healthcheck", "interval"), 5),
        (("services", "web", "restrat"), "always"),
    ],
    ids=["unknown-condition", "replicas-not-a-number", "interval-not-a-duration", "misspelt-key"],
)
def test_the_schema_refuses_a_broken_compose_file(validator: jsonschema.Draft7Validator, path, value):
    broken = copy.deepcopy(compose())
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    assert list(validator.iter_errors(broken)), "the schema must catch it, or the test above proves nothing"


def test_compose_runs_the_migration_once_before_the_bots_in_webhook_mode_behind_the_balancer():
    services = compose(env_example(commented=False))["services"]
    db, migrate, bot, web = (services[name] for name in ("db", "migrate", "bot", "web"))

    assert db["image"].startswith("postgis/postgis:")
    assert "healthcheck" in db
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert bot["command"] == ["run"]
    assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert int(bot["deploy"]["replicas"]) >= 2
    assert bot["image"] == migrate["image"]
    assert bot["environment"]["WEBHOOK_URL"] == "https://roads.example.org"  # webhook mode, never polling
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://roadbot:")
    assert bot["environment"]["DATABASE_URL"].endswith("@db:5432/roadbot")
    assert {"path": ".env", "required": True} in bot["env_file"]
    assert "ports" not in bot  # reachable only through the balancer
    assert "ports" not in db
    assert web["depends_on"] == {"bot": {"condition": "service_healthy"}}
    assert "443:443" in web["ports"]


def test_compose_refuses_to_start_without_the_password_or_the_domain():
    env = env_example(commented=False)
    for name in ("POSTGRES_PASSWORD", "ROADBOT_DOMAIN"):
        with pytest.raises(ValueError, match=f"set {name} in .env"):
            compose({k: v for k, v in env.items() if k != name})


def test_the_balancer_sends_to_the_bot_replicas_on_their_port_and_keeps_metrics_internal():
    services = compose(env_example(commented=False))["services"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    volumes = services["web"]["volumes"]

    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in volumes
    assert re.search(r"^\s*name bot$", caddyfile, re.M)  # the compose service's name: every replica
    assert re.search(rf"^\s*port {services['bot']['environment']['WEB_PORT']}$", caddyfile, re.M)
    assert re.search(r"^\{\$ROADBOT_DOMAIN\} \{$", caddyfile, re.M)
    assert re.search(r"^\s*respond /metrics 404$", caddyfile, re.M)


# --- the Dockerfile --------------------------------------------------------------------------------------


def test_the_image_is_slim_python_installed_from_a_wheel_built_in_a_first_stage():
    build, final = dockerfile_stages()
    wheels_stage = build[0].args.split()

    assert build[0].args.startswith("python:3.12-slim")
    assert final[0].args == "python:3.12-slim"
    assert wheels_stage[-2].upper() == "AS"
    assert any(i.keyword == "RUN" and "pip wheel" in i.args for i in build)
    install = next(i for i in final if i.keyword == "RUN" and "pip install" in i.args)
    assert f"from={wheels_stage[-1]}" in install.args
    assert "--no-index" in install.args  # only the wheels built above: no source tree in the image
    assert not any(i.keyword in ("COPY", "ADD") and i.args.split()[0] == "." for i in final)


def test_the_image_runs_roadbot_run_as_a_user_who_is_not_root():
    final = dockerfile_stages()[-1]
    user = only(final, "USER").args.split(":")[0]

    assert user.isdigit()
    assert int(user) != 0
    assert final.index(only(final, "USER")) > max(i for i, step in enumerate(final) if step.keyword == "RUN")
    assert only(final, "ENTRYPOINT").exec_form() == ["roadbot"]
    assert only(final, "CMD").exec_form() == ["run"]
    env = only(final, "ENV").args
    assert "WEB_HOST=0.0.0.0" in env  # reachable from the balancer, outside the container


def test_the_dockerignore_keeps_secrets_and_local_files_out_of_the_image():
    patterns = dockerignore_patterns()

    for path in (".env", ".git/config", "var/demo.sqlite", "tests/conftest.py", ".venv/bin/python"):
        assert dockerignored(path, patterns), path
    for path in (
        "pyproject.toml",
        "setup.py",
        "README.md",
        "LICENSE",
        "bot/cli/__init__.py",
        "data/demo_spots.json",
    ):
        assert not dockerignored(path, patterns), path
    assert dockerignored("bot/__pycache__/app.cpython-312.pyc", patterns)


@pytest.fixture
def served_port(sqlite_template: Path, tmp_path: Path) -> Any:
    """The port of a running ``roadbot serve`` on a migrated SQLite file."""
    database = tmp_path / "x.sqlite"
    shutil.copyfile(sqlite_template, database)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--database-url", f"sqlite:///{database}",
         "serve", "--port", "0", "--json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout = process.stdout
        assert stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        line = lines.get(timeout=60)  # printed once it listens
        assert line, process.stderr.read() if process.stderr else ""
        yield int(json.loads(line)["url"].rstrip("/").rsplit(":", 1)[1])
    finally:
        process.terminate()
        process.wait(timeout=30)


def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """Run the Dockerfile's HEALTHCHECK command as the container would, with this venv's ``python``."""
    check = only(dockerfile_stages()[-1], "HEALTHCHECK").args
    command = check[check.index(" CMD ") + len(" CMD ") :]
    env = {
        **os.environ,
        "WEB_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_the_health_check_passes_on_a_serving_bot_and_fails_when_nothing_answers(served_port: int):
    healthy = healthcheck(served_port)

    assert healthy.returncode == 0, healthy.stderr


def test_the_health_check_fails_when_nothing_listens(unused_tcp_port: int):
    down = healthcheck(unused_tcp_port)

    assert down.returncode != 0
    assert "Connection refused" in down.stderr


# --- .env.example ----------------------------------------------------------------------------------------


def setting_names() -> set[str]:
    return {(field.alias or name).upper() for name, field in Settings.model_fields.items()}


def test_env_example_documents_every_setting_and_nothing_else():
    documented = set(env_example(commented=True))

    assert sorted(setting_names() - documented) == [], "add these settings of bot/config.py to .env.example"
    assert sorted(documented - setting_names() - COMPOSE_VARIABLES) == []
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "compose.yaml").read_text(encoding="utf-8")))
    assert used == COMPOSE_VARIABLES


def test_every_value_in_env_example_is_a_valid_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    values = {k: v for k, v in env_example(commented=True).items() if k in setting_names()}
    assert "" in values.values()  # empty lines as copied: they mean the default
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()), encoding="utf-8")
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]  # pydantic-settings' init-only option

    assert settings.publish_destinations["riyadh"].x == "riyadh_roads"
    assert settings.partner_feeds[0].interval_s == 300
    assert settings.web_port == 8080
    assert settings.webhook_path is None  # `WEBHOOK_PATH=`
    assert settings.telegram_bot_token is None  # `TELEGRAM_BOT_TOKEN=`: "not set", not an empty token


# --- the .dockerignore matcher (Docker's rules for the patterns used) -----------------------------------


def test_the_dockerignore_matcher_follows_dockers_rules():
    assert dockerignored("a/b", ["*"])
    assert not dockerignored("a/b", ["*", "!a"])
    assert dockerignored("a/x/__pycache__/m.pyc", ["*", "!a", "**/__pycache__"])
    assert not dockerignored("a/b", ["a", "!a/b"])
