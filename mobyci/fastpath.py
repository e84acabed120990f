"""The console entry point, and a fast path for `--version` and the commands CI and pre-commit run on every change.

Importing typer and letting it coerce parameters (typer builds a pydantic TypeAdapter per parameter) costs
more than issue 2's whole startup budget for `validate`. `mobyci --version` and plain invocations of
`validate` and `render` are therefore read here, by a deliberately small grammar, and call commands.py
directly. Anything else -- help, `--opt=value`, a value that starts with '-', an unknown option, a repeated
option, any other command -- goes to the typer CLI, which owns every message and exit code of bad usage.
Tests run both ways on the same argv and check that the fast path, whenever it answers, calls the same
command with the same arguments.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mobyci import commands

_FORMATS = ("gitlab", "buildkite", "github")
_RENDER_FLAGS = {"--all": "all_outputs", "--check": "check", "--force": "force"}
_RENDER_VALUES = {"--format": "fmt", "-o": "output", "--output": "output"}

Call = tuple[Callable[..., None], dict[str, Any]]


def parse(argv: Sequence[str]) -> Call | None:
    """The command and its arguments for `--version` or a plain `validate` or `render` command line, else None."""
    if not argv or any(arg in {"", "--"} for arg in argv):
        return None
    if list(argv) == ["--version"]:
        return commands.version, {}
    name, rest = argv[0], list(argv[1:])
    if name == "validate":
        if any(arg.startswith("-") for arg in rest):
            return None
        return commands.validate, {"specs": [Path(arg) for arg in rest] or None}
    if name == "render":
        return _parse_render(rest)
    return None


def _parse_render(rest: list[str]) -> Call | None:
    kwargs: dict[str, Any] = {"fmt": "gitlab", "output": None, "all_outputs": False, "check": False, "force": False}
    seen: set[str] = set()
    positional: list[str] = []
    args = iter(rest)
    for arg in args:
        if arg in _RENDER_FLAGS or arg in _RENDER_VALUES:
            key = _RENDER_FLAGS.get(arg) or _RENDER_VALUES[arg]
            if key in seen:
                return None
            seen.add(key)
            if arg in _RENDER_FLAGS:
                kwargs[key] = True
                continue
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
            if key == "fmt" and value not in _FORMATS:
                return None
            kwargs[key] = value if key == "fmt" else Path(value)
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)
    if len(positional) > 1:
        return None
    kwargs["spec"] = Path(positional[0]) if positional else commands.DEFAULT_SPEC
    return commands.render, kwargs


def _exit_now(code: int) -> NoReturn:
    # Every file is written and closed by now. Ending the process here skips the interpreter's teardown of each
    # loaded module and object, which costs about a tenth of a render and releases nothing the system would not.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell it
        code = code or commands.EXIT_BROKEN_PIPE
    os._exit(code)


def main() -> None:
    """Console entry point (`mobyci`, `python -m mobyci`)."""
    try:
        call = parse(sys.argv[1:])
        if call is not None:
            command, kwargs = call
            _exit_now(commands.run(command, **kwargs))
        from mobyci.cli import app

        app()
    except KeyboardInterrupt:
        commands.err("mobyci: interrupted")
        sys.exit(130)
