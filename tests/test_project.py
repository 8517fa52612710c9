"""The project's promises about itself: the README's two commands, CI, the light core install, the CLI help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    section = ROOT.joinpath("README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_commands_that_set_up_and_act():
    commands = readme_commands()
    assert len(commands) == 2
    for command in commands:
        assert "\n" not in command
        assert command.startswith("python3.11 -m venv .venv && .venv/bin/pip install")
    assert "personalize_kit" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_and_nothing_else():
    ci = ROOT.joinpath(".ci", "run").read_text()
    steps = [line for line in ci.splitlines() if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert steps == [readme_commands()[1]]


def test_importing_the_sdk_pulls_neither_tensorflow_nor_moto():
    code = (
        "import sys, personalize_kit, personalize_kit.data, personalize_kit.cli, personalize_kit.exceptions\n"
        "import personalize_kit.sdk, personalize_kit.server\n"
        "heavy = sorted(m for m in sys.modules\n"
        "               if m.split('.')[0] in ('tensorflow', 'keras', 'moto', 'scipy', 'flask', 'werkzeug'))\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "personalize_kit", *args], capture_output=True, text=True)


def test_help_lists_the_commands():
    from personalize_kit.cli import COMMANDS

    out = cli("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", out.stdout, flags=re.M), name


@pytest.mark.parametrize("command", __import__("personalize_kit.cli", fromlist=["COMMANDS"]).COMMANDS)
def test_every_command_has_help_with_an_example(command):
    out = cli(command, "--help")
    assert out.returncode == 0
    assert "example" in out.stdout
    assert f"python -m personalize_kit {command}" in out.stdout
