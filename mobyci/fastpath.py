"""The console entry point, and a fast path for `--version` and the commands CI and pre-commit run on every change.

Importing typer and letting it coerce parameters (typer builds a pydantic TypeAdapter per parameter) costs
more than the whole startup budget of `validate` (bench/startup.py). `mobyci --version` and plain invocations of
`validate`, `render`, `plan` and `patch` (`--opt value` or `--opt=value`) are therefore read here, by a
deliberately small grammar, and call commands.py directly. Anything else -- help, a value that starts with '-',
an unknown option, a repeated option, any other command -- goes to the typer CLI, which owns every message and
exit code of bad usage. Tests run both ways on the same argv and check that the fast path, whenever it answers,
calls the same command with the same arguments.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from mobyci import commands, formats


class _Grammar(NamedTuple):
    """One command's plain command line: flags, options that take a value (with their choices, if any), and
    at most one positional spec path."""

    command: Callable[..., None]
    flags: dict[str, str]  # option -> keyword set to True
    values: dict[str, tuple[str, tuple[str, ...] | None]]  # option -> (keyword, allowed values or None for a path)
    defaults: dict[str, Any]


_GRAMMARS = {
    "render": _Grammar(
        commands.render,
        {"--all": "all_outputs", "--check": "check", "--force": "force"},
        {"--format": ("fmt", formats.NAMES), "-o": ("output", None), "--output": ("output", None)},
        {"fmt": formats.DEFAULT, "output": None, "all_outputs": False, "check": False, "force": False},
    ),
    "plan": _Grammar(
        commands.plan,
        {"--fetches": "fetches", "--strict": "strict"},
        {"--format": ("fmt", ("text", "json", "mermaid")), "--for": ("system", formats.SYSTEMS)},
        {"fmt": "text", "system": None, "fetches": False, "strict": False},
    ),
    "patch": _Grammar(
        commands.patch,
        {"--force": "force"},
        {"-o": ("output", None), "--output": ("output", None), "--apply": ("apply", None), "--check": ("check", None)},
        {"output": None, "apply": None, "check": None, "force": False},
    ),
}

Call = tuple[Callable[..., None], dict[str, Any]]


def parse(argv: Sequence[str]) -> Call | None:
    """The command and its arguments for `--version` or a plain `validate`, `render`, `plan` or `patch` command
    line, else None."""
    if not argv or any(arg in {"", "--"} for arg in argv):
        return None
    if list(argv) == ["--version"]:
        return commands.version, {}
    name, rest = argv[0], list(argv[1:])
    if name == "validate":
        if any(arg.startswith("-") for arg in rest):
            return None
        return commands.validate, {"specs": [Path(arg) for arg in rest] or None}
    grammar = _GRAMMARS.get(name)
    return None if grammar is None else _parse_command(grammar, rest)


def _parse_command(grammar: _Grammar, rest: list[str]) -> Call | None:
    kwargs = dict(grammar.defaults)
    seen: set[str] = set()
    positional: list[str] = []
    args = iter(rest)
    for arg in args:
        option, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if option in grammar.flags and not eq:
            key = grammar.flags[option]
            if key in seen:
                return None
            seen.add(key)
            kwargs[key] = True
        elif option in grammar.values:
            key, choices = grammar.values[option]
            value = inline if eq else next(args, None)
            if key in seen or not value or value.startswith("-"):
                return None
            seen.add(key)
            if choices is not None and value not in choices:
                return None
            kwargs[key] = value if choices is not None else Path(value)
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)
    if len(positional) > 1 or (kwargs.get("apply") is not None and kwargs.get("check") is not None):
        return None
    kwargs["spec"] = Path(positional[0]) if positional else commands.DEFAULT_SPEC
    if _usage_error(grammar, kwargs, fmt_given="fmt" in seen):
        return None  # the typer CLI reports it, with its usage line and exit code 2
    return grammar.command, kwargs


def _usage_error(grammar: _Grammar, kwargs: dict[str, Any], *, fmt_given: bool) -> str | None:
    if grammar.command is commands.render:
        return commands.render_usage_error(
            fmt_given=fmt_given,
            output=kwargs["output"],
            all_outputs=kwargs["all_outputs"],
            check=kwargs["check"],
            force=kwargs["force"],
        )
    if grammar.command is commands.patch:
        return commands.patch_usage_error(
            output=kwargs["output"], apply=kwargs["apply"], check=kwargs["check"], force=kwargs["force"]
        )
    return None


def _exit_now(code: int) -> NoReturn:
    # Every file is written and closed by now. Ending the process here skips the interpreter's teardown of each
    # loaded module and object, which costs about a tenth of a render and releases nothing the system would not.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell it
        code = code or commands.EXIT_BROKEN_PIPE
    except OSError as exc:  # stdout is a full disk (`> /dev/full`): what was written is incomplete
        commands.err(f"mobyci: cannot write the output: {exc.strerror}; free space or redirect it elsewhere")
        code = code or commands.EXIT_PROBLEM
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
