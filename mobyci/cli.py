"""The command line: the only module that reads and writes files, prints, and picks exit codes.

Heavy modules (pydantic, ruamel.yaml, jinja2) are imported inside the commands that need them, so that
`--version` and `--help` stay fast (issue 2's startup budget).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from mobyci import __version__

if TYPE_CHECKING:
    from mobyci.schemas.load import LoadedSpec

EXIT_PROBLEM = 1
EXIT_INTERNAL = 3

app = typer.Typer(
    name="mobyci",
    help="Build the Docker engine (moby) from source in CI, behind mirrors and proxies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_P = ParamSpec("_P")
_R = TypeVar("_R")

SpecArg = Annotated[Path, typer.Argument(help="The spec file.", show_default=True)]
OutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")]


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _handled(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Map the user's problems to exit 1 and our own bugs to exit 3, never a raw traceback."""

    @functools.wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from mobyci.errors import MobyciError

        try:
            return command(*args, **kwargs)
        except MobyciError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_PROBLEM) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception:
            _internal_error()
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _internal_error() -> None:
    # Imported here: only a crash pays for them, not every start (issue 2's --version budget).
    import tempfile
    import traceback

    text = traceback.format_exc()
    if os.environ.get("MOBYCI_DEBUG") == "1":
        _err(text.rstrip())
    with tempfile.NamedTemporaryFile(
        "w", prefix="mobyci-traceback-", suffix=".txt", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
    _err(
        f"mobyci: internal error (a bug in mobyci {__version__}); traceback written to {handle.name} "
        "(set MOBYCI_DEBUG=1 to print it)"
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mobyci {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Build the Docker engine (moby) from source in CI, behind mirrors and proxies."""


def _load(spec: Path) -> LoadedSpec:
    from mobyci.schemas.load import load_file

    loaded = load_file(str(spec))
    for warning in loaded.warnings:
        _err(f"warning: {warning}")
    return loaded


def _emit(text: str, output: Path | None, *, mode: int | None = None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from mobyci.fsio import write_atomic

    if not write_atomic(output, text, mode=mode):
        _err(f"{output}: unchanged")


class Preset(StrEnum):
    seed = "seed"
    plain = "plain"


@app.command()
@_handled
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the spec.")] = Path("mobyci.yaml"),
    preset: Annotated[
        Preset, typer.Option(help="seed: the mirrors of the manual v19.03.12 procedure; plain: no mirrors.")
    ] = Preset.plain,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec."""
    from mobyci.generator.starter import starter_spec

    if path.exists() and not force:
        _err(f"{path}: already exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_PROBLEM)
    _emit(starter_spec(preset.value), path)
    _err(f"{path}: written ({preset.value} preset); check it with `mobyci validate {path}`")


@app.command()
@_handled
def validate(
    specs: Annotated[list[Path] | None, typer.Argument(help="Spec files (default: mobyci.yaml).")] = None,
) -> None:
    """Check spec files; report every problem of every file."""
    from mobyci.errors import SpecError
    from mobyci.schemas.load import load_file

    failed = False
    for spec in specs or [Path("mobyci.yaml")]:
        try:
            loaded = load_file(str(spec))
        except SpecError as exc:
            _err(str(exc))
            failed = True
            continue
        for warning in loaded.warnings:
            _err(f"warning: {warning}")
        release = loaded.release
        typer.echo(
            f"{spec}: ok (moby {loaded.spec.moby.ref}, family {release.family.name}, "
            f"{len(loaded.spec.targets)} target{'s' if len(loaded.spec.targets) != 1 else ''})"
        )
    if failed:
        raise typer.Exit(EXIT_PROBLEM)


@app.command()
@_handled
def schema(output: OutputOpt = None) -> None:
    """Print the JSON Schema of mobyci.yaml (for editors and other validators)."""
    from mobyci.schemas.jsonschema import schema_text

    _emit(schema_text(), output)


@app.command()
@_handled
def patch(
    spec: SpecArg = Path("mobyci.yaml"),
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
    import shlex

    from mobyci.generator.patch import apply_patch, build_patch_script

    loaded = _load(spec)
    if apply is not None and check is not None:
        raise typer.BadParameter("use --apply or --check, not both")
    if check is not None and not check.is_dir():
        command = f"mobyci patch {shlex.quote(loaded.path)} -o {shlex.quote(str(check))}"
        _check_files([(check, build_patch_script(loaded, command=command), command)])
        return
    if apply is None and check is None:
        if output is None:
            sys.stdout.write(build_patch_script(loaded))
            return
        command = f"mobyci patch {shlex.quote(loaded.path)} -o {shlex.quote(str(output))}"
        _write_files([(output, build_patch_script(loaded, command=command), command)], force=force)
        return
    tree = apply if apply is not None else check
    assert tree is not None
    report = apply_patch(loaded, tree, check=check is not None)
    for line in report.lines:
        typer.echo(line)
    if check is not None and report.changed:
        raise typer.Exit(EXIT_PROBLEM)


class Format(StrEnum):
    gitlab = "gitlab"
    buildkite = "buildkite"
    github = "github"


@app.command()
@_handled
def render(
    spec: SpecArg = Path("mobyci.yaml"),
    fmt: Annotated[Format, typer.Option("--format", help="Which CI system to write for.")] = Format.gitlab,
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
    from mobyci.generator.render import DEFAULT_OUTPUTS, render_command, render_pipeline

    loaded = _load(spec)
    if all_outputs:
        files = _outputs_of(loaded, spec)
    elif output is not None or check:
        target = output if output is not None else Path(DEFAULT_OUTPUTS[fmt.value])
        files = [(fmt.value, target, render_command(loaded.path, fmt.value, str(target)))]
    else:
        sys.stdout.write(render_pipeline(loaded, fmt.value))
        return
    generated = [(path, _generate(loaded, kind, command), command) for kind, path, command in files]
    if check:
        _check_files(generated)
    else:
        _write_files(generated, force=force)


def _outputs_of(loaded: LoadedSpec, spec: Path) -> list[tuple[str, Path, str]]:
    import shlex

    from mobyci.errors import MobyciError

    listed = [(kind, path) for kind, path in loaded.spec.outputs.model_dump().items() if path is not None]
    if not listed:
        raise MobyciError(
            f"{loaded.path}: outputs: lists no files; add e.g. `outputs: {{gitlab: .gitlab-ci.yml}}` to use --all"
        )
    command = f"mobyci render {shlex.quote(loaded.path)} --all"
    return [(kind, spec.parent / path, command) for kind, path in listed]


def _generate(loaded: LoadedSpec, kind: str, command: str) -> str:
    if kind == "patch":
        from mobyci.generator.patch import build_patch_script

        return build_patch_script(loaded, command=command)
    from mobyci.generator.render import render_pipeline_with_command

    return render_pipeline_with_command(loaded, kind, command)


def _check_files(generated: list[tuple[Path, str, str]]) -> None:
    from mobyci.generator.drift import drift

    stale = False
    for path, fresh, command in generated:
        existing = path.read_text("utf-8") if path.is_file() else None
        found = drift(str(path), existing, fresh)
        if found.status == "current":
            typer.echo(found.message(str(path), command))
            continue
        stale = True
        sys.stdout.write(found.diff)
        _err(found.message(str(path), command))
    if stale:
        raise typer.Exit(EXIT_PROBLEM)


def _write_files(generated: list[tuple[Path, str, str]], *, force: bool) -> None:
    from mobyci.errors import MobyciError
    from mobyci.fsio import write_atomic
    from mobyci.generator.header import read_header

    # Refuse before writing anything: one foreign file must not leave the others half-updated.
    for path, _, _ in generated:
        if path.is_file() and not force and read_header(path.read_text("utf-8", errors="replace")) is None:
            raise MobyciError(f"{path}: not written by mobyci (no mobyci header); pass --force to overwrite it")
    for path, fresh, _ in generated:
        mode = 0o755 if fresh.startswith("#!") else None
        _err(f"{path}: {'written' if write_atomic(path, fresh, mode=mode) else 'unchanged'}")


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    mermaid = "mermaid"


@app.command()
@_handled
def plan(
    spec: SpecArg = Path("mobyci.yaml"),
    fmt: Annotated[PlanFormat, typer.Option("--format", help="text for people, json for scripts, mermaid.")] = (
        PlanFormat.text
    ),
) -> None:
    """Show what the spec will do: family, jobs, rewrites, build args and environment."""
    from mobyci.generator import planview
    from mobyci.generator.render import make_plan

    built = make_plan(_load(spec))
    if fmt is PlanFormat.json:
        sys.stdout.write(planview.plan_json(built))
    elif fmt is PlanFormat.mermaid:
        sys.stdout.write(planview.plan_mermaid(built))
    else:
        _print_sections(planview.plan_text(built))


def _print_sections(sections: list[tuple[str, list[tuple[str, ...]]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    # Colour on a terminal; plain, unwrapped text when piped (for logs and merge-request comments).
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    for title, rows in sections:
        console.print(title, style="bold", markup=False)
        table = Table(show_header=False, box=None, pad_edge=False)
        for _ in range(max(len(r) for r in rows)):
            table.add_column(overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print()


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        _err("mobyci: interrupted")
        sys.exit(130)
