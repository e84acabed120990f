"""The command line's arguments and help, declared with typer; commands.py does the work.

`mobyci validate` and `mobyci render` usually start through fastpath.py instead, which skips importing typer
(issue 2's startup budget); tests check both ways call commands.py with the same arguments.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from mobyci import commands

app = typer.Typer(
    name="mobyci",
    help="Build the Docker engine (moby) from source in CI, behind mirrors and proxies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=True)]
OutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")]


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
    path: Annotated[Path, typer.Argument(help="Where to write the spec.")] = commands.DEFAULT_SPEC,
    preset: Annotated[
        Preset, typer.Option(help="seed: the mirrors of the manual v19.03.12 procedure; plain: no mirrors.")
    ] = Preset.plain,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec."""
    _run(commands.init, path=path, preset=preset.value, force=force)


@app.command()
def validate(
    specs: Annotated[list[Path] | None, typer.Argument(help="Spec files (default: mobyci.yaml).")] = None,
) -> None:
    """Check spec files; report every problem of every file."""
    _run(commands.validate, specs=specs)


@app.command()
def schema(output: OutputOpt = None) -> None:
    """Print the JSON Schema of mobyci.yaml (for editors and other validators)."""
    _run(commands.schema, output=output)


@app.command()
def patch(
    spec: SpecArg = commands.DEFAULT_SPEC,
    output: OutputOpt = None,
    apply: Annotated[
        Path | None, typer.Option("--apply", metavar="DIR", help="Apply the rules to the moby tree in DIR.")
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            metavar="PATH",
            help="A moby tree: report what would change, exit 1 if anything would. "
            "A committed script: exit 1 with a diff if it is not current.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite a file that mobyci did not write.")] = False,
) -> None:
    """Write the patch script that points a moby checkout at the mirrors (or apply it here)."""
    _usage(commands.patch_usage_error(output=output, apply=apply, check=check, force=force))
    _run(commands.patch, spec=spec, output=output, apply=apply, check=check, force=force)


class Format(StrEnum):
    gitlab = "gitlab"
    buildkite = "buildkite"
    github = "github"
    gitlab_include = "gitlab-include"
    buildkite_group = "buildkite-group"


@app.command()
def render(
    spec: SpecArg = commands.DEFAULT_SPEC,
    fmt: Annotated[
        Format | None, typer.Option("--format", help="Which CI system to write for.  [default: gitlab]")
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
    chosen = (fmt or Format.gitlab).value
    _run(commands.render, spec=spec, fmt=chosen, output=output, all_outputs=all_outputs, check=check, force=force)


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"


@app.command()
def plan(
    spec: SpecArg = commands.DEFAULT_SPEC,
    fmt: Annotated[PlanFormat, typer.Option("--format", help="text for people, json for scripts, mermaid.")] = (
        PlanFormat.text
    ),
) -> None:
    """Show what the spec will do: family, jobs, rewrites, build args and environment."""
    _run(commands.plan, spec=spec, fmt=fmt.value)
