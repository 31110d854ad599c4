"""Every CI yaml references only things that exist: templates, files, make targets, commands.

Each command a step runs from the project's environment (`.venv/bin/...`) is run
with `--help`, and every option the step passes must be in that help: a renamed
option or a removed command fails here, not in a pipeline run.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from tests.cicd.conftest import ALL_CI_YAML, AZURE_PIPELINES, GITHUB_WORKFLOWS, load_yaml
from tests.conftest import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def _shell_lines(path: Path) -> list[str]:
    """Every shell command line in the file's strings: continuations joined, and each
    `$(...)` substitution a line of its own (so its options stay its own)."""
    lines: list[str] = []
    for text in _strings(load_yaml(path)):
        for line in re.sub(r"\\\n\s*", " ", text).splitlines():
            while match := SUBSTITUTION.search(line):
                lines.append(match.group(1))
                line = line[: match.start()] + "SUBSTITUTED" + line[match.end() :]
            lines.append(line)
    return lines


# `.venv/bin/TOOL WORDS... --options`, up to the end of the shell command.
VENV_COMMAND = re.compile(r"\.venv/bin/([\w-]+)((?:\s+[^\s&|;)><]+)*)")


def _commands(path: Path) -> list[tuple[str, list[str], list[str]]]:
    """(tool, subcommand words, options) of each `.venv/bin/...` command in the file."""
    return [command for line in _shell_lines(path) for command in _commands_in(line)]


def _commands_in(line: str) -> list[tuple[str, list[str], list[str]]]:
    found = []
    for match in VENV_COMMAND.finditer(line):
        tool, rest = match.group(1), match.group(2).split()
        words: list[str] = []
        if tool == "python":
            assert rest[:1] == ["-m"], f"python runs a module: {line}"
            words, rest = ["-m", rest[1]], rest[2:]
        else:
            while rest and re.fullmatch(r"[a-z][\w-]*", rest[0]):
                words.append(rest.pop(0))
        found.append((tool, words, [word.split("=")[0] for word in rest if word.startswith("--")]))
    return found


def _make_commands(path: Path) -> list[list[str]]:
    return [
        match.group(1).split()
        for line in _shell_lines(path)
        for match in re.finditer(r"(?:^|[;&|]\s*)make((?:\s+[\w-]+)+)", line)
    ]


def _templates(path: Path) -> list[str]:
    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [str(node["template"])] if "template" in node else []
            return own + [t for value in node.values() for t in walk(value)]
        if isinstance(node, list):
            return [t for item in node for t in walk(item)]
        return []

    return walk(load_yaml(path))


@cache
def _help(tool: str, words: tuple[str, ...]) -> str:
    done = subprocess.run(
        [str(VENV_BIN / tool), *words, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"{tool} {' '.join(words)} --help: {done.stderr}"
    return done.stdout


@cache
def _make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", text, flags=re.MULTILINE))


@pytest.mark.parametrize("path", ALL_CI_YAML, ids=lambda p: p.name)
def test_every_command_and_option_exists(path: Path) -> None:
    for tool, words, options in _commands(path):
        assert (VENV_BIN / tool).exists(), f"{path.name}: .venv/bin/{tool} does not exist"
        text = _help(tool, tuple(words))
        for option in options:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"{path.name}: `{tool} {' '.join(words)}` has no option {option}"
            )


def test_the_commands_are_found() -> None:
    # The walk above sees the commands that matter; a parser that found nothing would pass.
    seen = {(tool, tuple(words)) for path in ALL_CI_YAML for tool, words, _ in _commands(path)}
    assert {
        ("python", ("-m", "ml_service.pipelines.diabetes_regression_build_train_pipeline")),
        ("python", ("-m", "ml_service.pipelines.run_train_pipeline")),
        ("mlops", ("ci", "model-artifact")),
        ("mlops", ("ci", "read-artifact")),
        ("mlops", ("deploy",)),
        ("mlops", ("deploy", "status")),
        ("mlops", ("deploy", "history")),
    } <= seen


@pytest.mark.parametrize("path", ALL_CI_YAML, ids=lambda p: p.name)
def test_every_make_target_exists(path: Path) -> None:
    for targets in _make_commands(path):
        assert set(targets) <= _make_targets(), f"{path.name}: make {' '.join(targets)}"


@pytest.mark.parametrize("path", AZURE_PIPELINES, ids=lambda p: p.name)
def test_every_azure_template_exists(path: Path) -> None:
    for template in _templates(path):
        assert (path.parent / template).is_file(), f"{path.name}: template {template}"


@pytest.mark.parametrize("path", GITHUB_WORKFLOWS, ids=lambda p: p.name)
def test_every_called_workflow_exists(path: Path) -> None:
    for text in _strings(load_yaml(path)):
        if text.startswith("./.github/workflows/"):
            assert (REPO_ROOT / text).is_file(), f"{path.name}: {text}"


# Repository paths the yaml names as data: they must be in the repository.
REPO_PATH = re.compile(r"(?<![\w/.$])((?:environment_setup|data|diabetes_regression)/[\w./-]+)")


@pytest.mark.parametrize("path", ALL_CI_YAML, ids=lambda p: p.name)
def test_every_repository_path_exists(path: Path) -> None:
    for line in _shell_lines(path):
        for named in REPO_PATH.findall(line):
            assert (REPO_ROOT / named.rstrip("/")).exists(), f"{path.name}: {named}"


def test_make_ci_train_runs_the_commands_the_azure_ci_runs() -> None:
    # The local gate and the Azure DevOps train stage call the same commands (GitHub
    # calls `make ci-train` itself), so the two cannot drift apart.
    recipe = subprocess.run(
        ["make", "-n", "ci-train", "-o", ".venv/.installed"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    make_commands = {
        (tool, tuple(words), tuple(sorted(options)))
        for line in re.sub(r"\\\n\s*", " ", recipe).splitlines()
        for tool, words, options in _commands_in(line)
    }
    azure = REPO_ROOT / ".pipelines" / "diabetes_regression-ci.yml"
    azure_commands = {
        (tool, tuple(words), tuple(sorted(options))) for tool, words, options in _commands(azure)
    }
    assert make_commands and make_commands <= azure_commands
