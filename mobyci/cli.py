"""The command line's arguments and help, declared with typer; commands.py does the work.

`mobyci validate` and `mobyci render` usually start through fastpath.py instead, which skips importing typer
(typer costs more than the whole startup budget); tests check both ways call commands.py with the same arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mobyci import commands, formats
from mobyci.specmodel.core import PydanticCustomError

app = typer.Typer(
    name="mobyci",
    help="Build the Docker engine (moby) from source in CI, behind mirrors and proxies.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecArg = Annotated[
    Path, typer.Argument(metavar="SPEC", help="The spec file; - reads it from stdin.", show_default=True)
]
# render and patch write files that name their spec (header, check job): a path; patch --apply/--check DIR also
# reads standard input.
WrittenSpecArg = Annotated[
    Path, typer.Argument(metavar="SPEC", help="The spec file (a path: generated files name it).", show_default=True)
]
PatchSpecArg = Annotated[
    Path,
    typer.Argument(
        metavar="SPEC",
        help="The spec file (a path: generated files name it); with --apply or --check DIR, - reads it from stdin.",
        show_default=True,
    ),
]
OutputOpt = Annotated[
    Path | None, typer.Option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
]
_Choice = TypeVar("_Choice", bound=StrEnum)


def _choice(kind: type[_Choice]) -> Callable[[Any], _Choice]:
    """A parser for an option with fixed values whose error names the choices and nothing else (typer's own says
    "Value error," from the pydantic adapter it builds)."""

    def parse(value: Any) -> _Choice:
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(member.value for member in kind)
            raise PydanticCustomError("mobyci_choice", f"'{value}' is not one of: {choices}") from None

    return parse


def _run(command: Any, /, **kwargs: Any) -> None:
    code = commands.run(command, **kwargs)
    if code:
        raise typer.Exit(code)


def _usage(problem: str | None) -> None:
    if problem is not None:
        # An option that would be ignored is bad usage (exit 2), like an unknown one.
        raise typer.BadParameter(problem)


def _version(value: bool) -> None:
    if value:
        _run(commands.version)
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Build the Docker engine (moby) from source in CI, behind mirrors and proxies."""


class Preset(StrEnum):
    seed = "seed"
    plain = "plain"


@app.command()
def init(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the spec.")] = commands.DEFAULT_SPEC,
    preset: Annotated[
        Preset,
        typer.Option(
            parser=_choice(Preset), help="seed: the mirrors of the manual v19.03.12 procedure; plain: no mirrors."
        ),
    ] = Preset.plain,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec."""
    _run(commands.init, path=path, preset=preset.value, force=force)


@app.command()
def validate(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(metavar="SPEC", help="Spec files (default: mobyci.yaml, else mobyci.yml); - is stdin."),
    ] = None,
) -> None:
    """Check spec files; report every problem of every file."""
    _run(commands.validate, specs=specs)


@app.command()
def schema(output: OutputOpt = None) -> None:
    """Print the JSON Schema of mobyci.yaml (for editors and other validators)."""
    _run(commands.schema, output=output)


@app.command()
def patch(
    spec: PatchSpecArg = commands.DEFAULT_SPEC,
    output: OutputOpt = None,
    apply: Annotated[
        Path | None,
        typer.Option("--apply", metavar="DIR", help="Run the patch script on the moby tree in DIR (with sh)."),
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            metavar="DIR|FILE",
            help="A moby tree: report what would change, exit 1 if anything would. "
            "A committed script: exit 1 with a diff if it is not current.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite a file that mobyci did not write.")] = False,
) -> None:
    """Write the patch script that points a moby checkout at the mirrors (or apply it here)."""
    _usage(commands.patch_usage_error(output=output, apply=apply, check=check, force=force))
    _run(commands.patch, spec=spec, output=output, apply=apply, check=check, force=force)


# The choices come from the format registry; typer lists an enum's values in help and completion.
Format = StrEnum("Format", [(name.replace("-", "_"), name) for name in formats.NAMES])  # type: ignore[misc]
System = StrEnum("System", [(name, name) for name in formats.SYSTEMS])  # type: ignore[misc]


@app.command()
def render(
    spec: WrittenSpecArg = commands.DEFAULT_SPEC,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", parser=_choice(Format), help="Which CI system to write for.  [default: gitlab]"),
    ] = None,
    output: OutputOpt = None,
    all_outputs: Annotated[
        bool, typer.Option("--all", help="Write (or --check) every file the spec lists under outputs:.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 with a diff if the committed file is not what the spec gives now."),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite a file that mobyci did not write.")] = False,
) -> None:
    """Write the CI pipeline for the spec (stdout by default)."""
    _usage(
        commands.render_usage_error(
            fmt_given=fmt is not None, output=output, all_outputs=all_outputs, check=check, force=force
        )
    )
    chosen = fmt.value if fmt else formats.DEFAULT
    _run(commands.render, spec=spec, fmt=chosen, output=output, all_outputs=all_outputs, check=check, force=force)


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"


@app.command()
def plan(
    spec: SpecArg = commands.DEFAULT_SPEC,
    fmt: Annotated[
        PlanFormat,
        typer.Option("--format", parser=_choice(PlanFormat), help="text for people, json for scripts, mermaid."),
    ] = PlanFormat.text,
    system: Annotated[
        System | None,
        typer.Option(
            "--for",
            parser=_choice(System),
            help="The CI system to show (default: the first one under outputs:, else gitlab).",
        ),
    ] = None,
    fetches: Annotated[
        bool,
        typer.Option(
            "--fetches",
            help="List every upstream endpoint the build reaches, and whether a mirror, the proxy or nothing "
            "carries it.",
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="With --fetches: exit 1 if anything would go direct, naming it.")
    ] = False,
) -> None:
    """Show what the spec will do: jobs, mirrors and proxies, CI variables to create, patch rules."""
    _run(
        commands.plan,
        spec=spec,
        fmt=fmt.value,
        system=system.value if system else None,
        fetches=fetches,
        strict=strict,
    )
