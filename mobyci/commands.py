"""What each command does: the only module that reads and writes files, prints, and picks exit codes.

Free of typer, so that both the typer CLI (cli.py) and the argv fast path (fastpath.py) call the same code.
Heavy modules (ruamel.yaml, pydantic-core, jinja2) are imported inside the commands that need them.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobyci import __version__

if TYPE_CHECKING:
    from mobyci.generator.fetches import Inventory
    from mobyci.schemas.load import LoadedSpec

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 120  # what Python itself exits with when stdout cannot be flushed
DEFAULT_SPEC = Path("mobyci.yaml")
_ALTERNATE_SPEC = Path("mobyci.yml")  # the other spelling people use for YAML files


class Exit(Exception):
    """Stop the command with this exit code (messages were already printed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def run(command: Callable[..., None], /, **kwargs: Any) -> int:
    """Run a command; the user's problems exit 1 and our own bugs exit 3, never with a raw traceback."""
    from mobyci.errors import MobyciError

    try:
        command(**kwargs)
    except Exit as exc:
        return exc.code
    except BrokenPipeError:
        # The reader went away (`mobyci render | head`): nothing is wrong, and nothing more reaches it.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except MobyciError as exc:
        err(str(exc))
        return EXIT_PROBLEM
    except Exception:
        _internal_error()
        return EXIT_INTERNAL
    return EXIT_OK


def _silence_stdout() -> None:
    # As Python's documentation advises for SIGPIPE: point stdout at /dev/null, so that flushing what is left
    # at exit does not fail a second time with "Exception ignored".
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (tests capture output in memory): nothing to flush into a closed pipe


def echo(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def err(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _internal_error() -> None:
    # Imported here: only a crash pays for them, not every start (issue 2's --version budget).
    import tempfile
    import traceback

    text = traceback.format_exc()
    if os.environ.get("MOBYCI_DEBUG") == "1":
        err(text.rstrip())
    with tempfile.NamedTemporaryFile(
        "w", prefix="mobyci-traceback-", suffix=".txt", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(text)
    err(
        f"mobyci: internal error (a bug in mobyci {__version__}); traceback written to {handle.name} "
        "(set MOBYCI_DEBUG=1 to print it)"
    )


def spec_path(spec: Path) -> Path:
    """The spec to read: mobyci.yml stands in for the default mobyci.yaml when only it exists."""
    if spec == DEFAULT_SPEC and not spec.exists() and _ALTERNATE_SPEC.is_file():
        return _ALTERNATE_SPEC
    return spec


def _load(spec: Path) -> LoadedSpec:
    from mobyci.schemas.load import load_file

    loaded = load_file(str(spec_path(spec)))
    for warning in loaded.warnings:
        err(warning)
    return loaded


def _emit(text: str, output: Path | None, *, mode: int | None = None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from mobyci.fsio import write_atomic

    if not write_atomic(output, text, mode=mode):
        err(f"{output}: unchanged")


def version() -> None:
    echo(f"mobyci {__version__}")


def init(path: Path, preset: str, force: bool) -> None:
    from mobyci.generator.starter import starter_spec

    if path.exists() and not force:
        err(f"{path}: already exists; pass --force to overwrite it")
        raise Exit(EXIT_PROBLEM)
    _emit(starter_spec(preset), path)
    err(f"{path}: written ({preset} preset); check it with `mobyci validate {path}`")


def validate(specs: list[Path] | None) -> None:
    from mobyci.errors import SpecError
    from mobyci.schemas.load import load_file

    failed = False
    for spec in specs or [spec_path(DEFAULT_SPEC)]:
        try:
            loaded = load_file(str(spec))
        except SpecError as exc:
            err(str(exc))
            failed = True
            continue
        for warning in loaded.warnings:
            err(warning)
        count = len(loaded.spec.targets)
        echo(
            f"{loaded.path}: ok (moby {loaded.spec.moby.ref}, family {loaded.release.family.name}, "
            f"{count} target{'s' if count != 1 else ''})"
        )
    if failed:
        raise Exit(EXIT_PROBLEM)


def schema(output: Path | None) -> None:
    from mobyci.schemas.jsonschema import schema_text

    _emit(schema_text(), output)


def patch(spec: Path, output: Path | None, apply: Path | None, check: Path | None, force: bool) -> None:
    import shlex

    from mobyci.generator.patch import apply_patch
    from mobyci.generator.patchscript import build_patch_script

    loaded = _load(spec)
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
    if check is not None:
        _print_tree_inventory(loaded, tree)  # first: the patch's summary stays the last line
    for line in report.lines:
        echo(line)
    if check is not None and report.changed:
        raise Exit(EXIT_PROBLEM)


def _print_tree_inventory(loaded: LoadedSpec, tree: Path) -> None:
    """The exact fetch inventory of a checked-out tree, after the patch."""
    import shutil

    from mobyci.families.fetchscan import scan
    from mobyci.generator.fetches import build_inventory, inventory_text

    files = [str(p.relative_to(tree)) for p in sorted(tree.rglob("*")) if p.is_file() and not p.is_symlink()]
    fetches = scan(files, lambda path: (tree / path).read_text("utf-8", errors="replace"))
    inventory = build_inventory(loaded, _system_of(loaded), fetches, tree=str(tree), exact=True)
    sys.stdout.write(inventory_text(inventory, shutil.get_terminal_size((80, 24)).columns) + "\n")


def render(spec: Path, fmt: str, output: Path | None, all_outputs: bool, check: bool, force: bool) -> None:
    from mobyci.generator.render import DEFAULT_OUTPUTS, render_command, render_pipeline

    loaded = _load(spec)
    if all_outputs:
        files = _outputs_of(loaded, spec)
    elif output is not None or check:
        target = output if output is not None else Path(DEFAULT_OUTPUTS[fmt])
        files = [(fmt, target, render_command(loaded.path, fmt, str(target)))]
    else:
        sys.stdout.write(render_pipeline(loaded, fmt))
        return
    generated = [(path, _generate(loaded, kind, command), command) for kind, path, command in files]
    if check:
        _check_files(generated)
    else:
        _write_files(generated, force=force)


def _outputs_of(loaded: LoadedSpec, spec: Path) -> list[tuple[str, Path, str]]:
    import shlex

    from mobyci.errors import MobyciError

    listed = [(kind, path) for kind, path in loaded.spec.outputs.as_dict().items() if path is not None]
    if not listed:
        raise MobyciError(
            f"{loaded.path}: outputs: lists no files; add e.g. `outputs: {{gitlab: .gitlab-ci.yml}}` to use --all"
        )
    command = f"mobyci render {shlex.quote(loaded.path)} --all"
    return [(kind, spec.parent / path, command) for kind, path in listed]


def _generate(loaded: LoadedSpec, kind: str, command: str) -> str:
    if kind == "patch":
        from mobyci.generator.patchscript import build_patch_script

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
            echo(found.message(str(path), command))
            continue
        stale = True
        sys.stdout.write(found.diff)
        err(found.message(str(path), command))
    if stale:
        raise Exit(EXIT_PROBLEM)


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
        err(f"{path}: {'written' if write_atomic(path, fresh, mode=mode) else 'unchanged'}")


def plan(spec: Path, fmt: str, system: str | None = None, fetches: bool = False, strict: bool = False) -> None:
    import shutil

    from mobyci.errors import MobyciError
    from mobyci.generator import planview
    from mobyci.generator.render import make_plan

    if strict and not fetches:
        raise MobyciError("--strict applies to --fetches: run `mobyci plan --fetches --strict`")
    loaded = _load(spec)
    width = shutil.get_terminal_size((80, 24)).columns
    if fetches:
        from mobyci.generator.fetches import plan_inventory

        _print_inventory(plan_inventory(loaded, system or _system_of(loaded)), fmt, width, strict=strict)
        return
    built = make_plan(loaded, system or _system_of(loaded))
    if fmt == "json":
        text = planview.plan_json(built)
    elif fmt == "mermaid":
        text = planview.plan_mermaid(built)
    else:
        # The terminal's width (COLUMNS first), 80 when piped: logs and merge-request comments read it as is.
        text = planview.plan_text(built, width=width)
    # One write: a reader that stops early (`plan | head -1`) gets whole lines and nothing fails.
    sys.stdout.write(text)


def _print_inventory(inventory: Inventory, fmt: str, width: int, *, strict: bool) -> None:
    import json

    from mobyci.errors import MobyciError
    from mobyci.generator.fetches import inventory_data, inventory_text

    if fmt == "mermaid":
        raise MobyciError("--fetches prints text or json, not mermaid")
    if fmt == "json":
        sys.stdout.write(json.dumps(inventory_data(inventory), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(inventory_text(inventory, width))
    if strict and inventory.direct:
        sys.stdout.flush()
        err(
            f"mobyci: {len(inventory.direct)} fetches would go direct (no mirror rewrites them, no proxy carries them):"
        )
        for entry in inventory.direct:
            err(f"  {entry.source}: {entry.endpoint} ({entry.kind}: {entry.via})")
        raise Exit(EXIT_PROBLEM)


def _system_of(loaded: LoadedSpec) -> str:
    """The CI system a spec is for: the first one its outputs list, else GitLab."""
    outputs = loaded.spec.outputs
    return next((name for name in ("gitlab", "buildkite", "github") if getattr(outputs, name)), "gitlab")
