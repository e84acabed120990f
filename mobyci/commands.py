"""What each command does: the only module that reads and writes files, prints, and picks exit codes.

Free of typer, so that both the typer CLI (cli.py) and the argv fast path (fastpath.py) call the same code.
Heavy modules (ruamel.yaml, pydantic-core, jinja2) are imported inside the commands that need them.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mobyci import __version__

if TYPE_CHECKING:
    from mobyci.load.reader import LoadedSpec
    from mobyci.report.inventory import Inventory

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 120  # what Python itself exits with when stdout cannot be flushed
DEFAULT_SPEC = Path("mobyci.yaml")
_ALTERNATE_SPEC = Path("mobyci.yml")  # the other spelling people use for YAML files
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


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
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            _internal_error()
            return EXIT_INTERNAL
        # Output redirected to a full disk or a read-only place (`mobyci render > /dev/full`).
        _silence_stdout()
        err(f"mobyci: cannot write the output: {exc.strerror}; free space or redirect it elsewhere")
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
    # Imported here: only a crash pays for them, not every start (`--version` is timed by bench/startup.py).
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
    """The spec to read: mobyci.yml stands in for the default mobyci.yaml when only it exists; from a subdirectory
    of a git repository, the nearest one upwards, up to the repository's top level (the repository's spec, not a
    reason to `mobyci init` a second one)."""
    if spec != DEFAULT_SPEC or spec.exists():
        return spec
    here = Path.cwd()
    upwards = (here, *here.parents)
    top = next((index for index, directory in enumerate(upwards) if (directory / ".git").exists()), 0)
    for directory in upwards[: top + 1]:
        for name in (DEFAULT_SPEC, _ALTERNATE_SPEC):
            if (directory / name).is_file():
                return Path(os.path.relpath(directory / name, here))
    return spec


# A generated file names its spec: in its header, its regenerate command and (a pipeline) its check job, which
# validates that file in CI. Standard input has no name to give them, so the commands that print or write one
# refuse it and say what to do instead. `patch - --apply DIR` and `patch - --check DIR` write nothing that names the
# spec (the script runs from a temporary file) and read standard input as validate and plan do.
_STDIN_REFUSALS = {
    "render": "<stdin>: render writes a pipeline that names its spec (in its header, its regenerate command and the "
    "check job that validates the spec in CI), and standard input has no name: save the spec to a file and give its "
    "path (mobyci render mobyci.yaml); `mobyci validate -` and `mobyci plan -` read standard input",
    "patch": "<stdin>: patch writes a script that names its spec (in its header and its regenerate command), and "
    "standard input has no name: save the spec to a file and give its path (mobyci patch mobyci.yaml); "
    "`mobyci patch - --apply DIR` and `mobyci patch - --check DIR` read standard input",
}


def _refuse_stdin(spec: Path, command: str) -> None:
    if str(spec) == "-":
        err(_STDIN_REFUSALS[command])
        raise Exit(EXIT_PROBLEM)


def _load(spec: Path, system: str | None = None) -> LoadedSpec:
    """`system`: the CI system the command writes or plans for; a spec whose `outputs:` names none is judged for
    it alone (a GitHub-only spec is not refused for what GitLab cannot do)."""
    from mobyci.load.reader import load_file

    loaded = load_file(str(spec_path(spec)), None if system is None else (system,))
    for warning in loaded.warnings:
        err(warning)
    return loaded


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    if output.is_dir():
        from mobyci.errors import MobyciError

        raise MobyciError(f"{output}: is a directory; name a file inside it")
    if not _write(output, text):
        err(f"{output}: unchanged")


def version() -> None:
    echo(f"mobyci {__version__}")


def init(path: Path, preset: str, force: bool) -> None:
    from mobyci.committed.site import SCHEMA_NAME
    from mobyci.committed.starter import starter_spec
    from mobyci.specmodel.jsonschema import schema_text

    if path.exists() and not force:
        err(f"{path}: already exists; pass --force to overwrite it")
        raise Exit(EXIT_PROBLEM)
    _emit(starter_spec(preset), path)
    err(f"{path}: written ({preset} preset); check it with `mobyci validate {path}`")
    # Beside the spec, which names it relatively: editors find it offline, and the check job validates the spec
    # against it. Written even when present: it is mobyci's own text, and the newest is the one to commit.
    schema = path.parent / SCHEMA_NAME
    if not path.is_file() or schema.is_dir():
        return  # the spec went to a device or a pipe: no directory to put the schema in
    changed = _write(schema, schema_text())
    err(f"{schema}: {'written' if changed else 'unchanged'} (the spec's JSON Schema, for editors and the check job)")


def validate(specs: list[Path] | None) -> None:
    from mobyci.errors import SpecError
    from mobyci.load.reader import load_file
    from mobyci.plan.limits import check as check_limits

    failed = False
    for spec in specs or [spec_path(DEFAULT_SPEC)]:
        try:
            loaded = load_file(str(spec))
            # The pipeline the spec makes must fit every CI system's limits: counted on its Plan.
            check_limits(loaded)
            _refuse_output_over_spec(loaded, spec)
        except SpecError as exc:
            err(_generated_not_spec(spec) or str(exc))
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


def _refuse_output_over_spec(loaded: LoadedSpec, spec: Path) -> None:
    """An `outputs:` entry naming the spec itself: render would refuse to write it (never over the spec, not even
    with --force), so the suggestion of a --check could never be followed."""
    from mobyci.committed.site import locate
    from mobyci.errors import SpecError

    if str(spec) == "-":
        return
    site = locate(spec)
    problems = [
        loaded.problem(("outputs", key), f"'{path}' is the spec itself: name another file, e.g. {example}")
        for key, path in loaded.spec.outputs.as_dict().items()
        if path is not None and _same_file(site.under_root(path), spec)
        for example in [".gitlab-ci.yml" if key != "patch" else "ci/mobyci-patch.sh"]
    ]
    if problems:
        raise SpecError(problems)


def _generated_not_spec(spec: Path) -> str | None:
    """For a file mobyci generated (a pipeline named like a spec, e.g. .github/workflows/mobyci.yml): say so."""
    try:
        with spec.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    first = next((line for line in head.splitlines() if not line.startswith("#!")), "")
    if not first.startswith("# Generated by mobyci ") or " from " not in first:
        return None
    origin = first.split(" from ", 1)[1].removesuffix("; do not edit.")
    return (
        f"{spec}: generated by mobyci, not a spec: validate the spec it comes from, {origin} (from the repository root)"
    )


def schema(output: Path | None) -> None:
    from mobyci.specmodel.jsonschema import schema_text

    _emit(schema_text(), output)


def patch(spec: Path, output: Path | None, apply: Path | None, check: Path | None, force: bool) -> None:
    from mobyci.patch.apply import apply_patch

    spec = spec_path(spec)  # generated files name the file that was read (mobyci.yml when that is the one)
    if apply is None and (check is None or not check.is_dir()):
        _refuse_stdin(spec, "patch")  # what it prints or writes, or the committed script it checks, names the spec
    loaded = _load(spec)
    if check is not None and not check.is_dir():
        _refuse_missing_tree(check, spec)
        _check_files(_committed(loaded, spec, [("patch", check)], all_outputs=False), spec)
        return
    if apply is None and check is None:
        if output is None:
            sys.stdout.write(_generate(_for_output(loaded, spec), "patch", None))
            return
        _write_files(
            _committed(loaded, spec, [("patch", output)], all_outputs=False), _inputs(loaded, spec), force=force
        )
        return
    tree = apply if apply is not None else check
    assert tree is not None
    report = apply_patch(loaded, tree, check=check is not None)
    for note in report.notes:
        err(note)
    if check is not None:
        _print_tree_inventory(loaded, tree)  # first: the patch's summary stays the last line
    for line in report.lines:
        echo(line)
    if report.pending:
        raise Exit(EXIT_PROBLEM)


def _refuse_missing_tree(check: Path, spec: Path) -> None:
    """A --check path that does not exist is a mistyped moby checkout unless it could be a committed patch script
    (inside the repository, ending in .sh): its "missing" line would otherwise suggest writing a script there."""
    from mobyci.committed.site import locate
    from mobyci.errors import MobyciError

    if check.exists():
        return
    root = locate(spec).root
    inside = check.absolute().parent.resolve().is_relative_to(root) if check.absolute().parent.exists() else False
    if inside and check.suffix == ".sh":
        return
    raise MobyciError(
        f"{check}: no such directory; name a moby checkout (mobyci patch --check ../moby) or the committed patch "
        "script (mobyci patch --check ci/mobyci-patch.sh)"
    )


def _print_tree_inventory(loaded: LoadedSpec, tree: Path) -> None:
    """The exact fetch inventory of a checked-out tree, after the patch."""
    import shutil

    from mobyci.emit.render import pipeline_plan
    from mobyci.families import stagegraph
    from mobyci.families.fetchscan import scan
    from mobyci.report.fetches import build_inventory
    from mobyci.report.inventory import inventory_text

    files = [str(p.relative_to(tree)) for p in sorted(tree.rglob("*")) if p.is_file() and not p.is_symlink()]

    def read(path: str) -> str:
        return (tree / path).read_text("utf-8", errors="replace")

    fetches = scan(files, read)
    graph = stagegraph.graph(fetches, lambda path: read(path) if path in files else None)
    plan = pipeline_plan(loaded, _system_of(loaded))
    inventory = build_inventory(plan, fetches, tree=str(tree), exact=True, graph=graph)
    sys.stdout.write(inventory_text(inventory, shutil.get_terminal_size((80, 24)).columns) + "\n")


def render(spec: Path, fmt: str, output: Path | None, all_outputs: bool, check: bool, force: bool) -> None:
    spec = spec_path(spec)  # generated files name the file that was read (mobyci.yml when that is the one)
    _refuse_stdin(spec, "render")
    from mobyci.formats import FORMATS

    loaded = _load(spec, None if all_outputs else FORMATS[fmt].system)
    if all_outputs:
        _refuse_output_over_spec(loaded, spec)
        files = _committed(loaded, spec, _outputs_of(loaded), all_outputs=True)
    elif output is not None or check:
        files = _committed(loaded, spec, [(fmt, output)], all_outputs=False)
    else:
        sys.stdout.write(_generate(_for_output(loaded, spec), fmt, None))
        return
    if check:
        _check_files(files, spec)
    else:
        _write_files(files, _inputs(loaded, spec), force=force)


def render_usage_error(
    *, fmt_given: bool, output: Path | None, all_outputs: bool, check: bool, force: bool
) -> str | None:
    """Why these `render` options cannot go together, or None: an option that would be ignored is a usage error."""
    if all_outputs and fmt_given:
        return "--all renders each file listed under outputs: in its own format; drop --format"
    if all_outputs and output is not None:
        return "--all writes the files listed under outputs:; drop -o, or drop --all to write one file"
    return _force_error(force, check=check, writes=all_outputs or output is not None)


def patch_usage_error(*, output: Path | None, apply: Path | None, check: Path | None, force: bool) -> str | None:
    """Why these `patch` options cannot go together, or None."""
    if apply is not None and check is not None:
        return "use --apply or --check, not both"
    if output is not None and (apply is not None or check is not None):
        return "-o writes the patch script; --apply and --check write none: drop -o"
    return _force_error(force, check=check is not None, writes=output is not None)


def _force_error(force: bool, *, check: bool, writes: bool) -> str | None:
    if force and check:
        return "--check writes nothing; drop --force"
    if force and not writes:
        return "--force overwrites a file written with -o (or --all); without them nothing is overwritten"
    return None


class _File(NamedTuple):
    path: Path  # where to write or compare, as the user would name it from the working directory
    fresh: str
    fix: str  # the command that rewrites it, to paste from the working directory
    kind: str


def _for_output(loaded: LoadedSpec, spec: Path) -> LoadedSpec:
    """The spec as generated files name it: relative to the repository root, whatever the working directory."""
    from mobyci.committed.site import locate

    return loaded._replace(path=locate(spec).spec_rel)


def _committed(
    loaded: LoadedSpec, spec: Path, targets: list[tuple[str, Path | None]], *, all_outputs: bool
) -> list[_File]:
    """Each (kind, path) rendered for the file at that path (None: the kind's `outputs:` entry or usual path)."""
    import shlex

    from mobyci.committed.header import regenerate_command
    from mobyci.committed.site import display, locate
    from mobyci.emit.render import default_output

    site = locate(spec)
    named = loaded._replace(path=site.spec_rel)
    files = []
    for kind, given in targets:
        path = given if given is not None else Path(display(site.under_root(default_output(named, kind))))
        if all_outputs:
            fix = f"mobyci render {shlex.quote(str(spec))} --all"
        else:
            fix = regenerate_command(str(spec), kind, str(path))
        files.append(_File(path, _generate(named, kind, site.rel(path)), fix, kind))
    return files


def _outputs_of(loaded: LoadedSpec) -> list[tuple[str, Path | None]]:
    from mobyci.emit.render import output_kind
    from mobyci.errors import MobyciError

    listed = [output_kind(key) for key, path in loaded.spec.outputs.as_dict().items() if path is not None]
    if not listed:
        raise MobyciError(
            f"{loaded.path}: outputs: lists no files; add e.g. `outputs: {{gitlab: .gitlab-ci.yml}}` to use --all"
        )
    return [(kind, None) for kind in listed]


def _generate(loaded: LoadedSpec, kind: str, output: str | None) -> str:
    """The file of `kind` that lives at `output` (relative to the repository root; None: its usual path)."""
    if kind == "patch":
        from mobyci.committed.header import regenerate_command
        from mobyci.patch.script import build_patch_script

        command = regenerate_command(loaded.path, "patch", output) if output is not None else None
        return build_patch_script(loaded, command=command)
    from mobyci.emit.render import render_pipeline

    return render_pipeline(loaded, kind, output)


def _check_files(files: list[_File], spec: Path | None = None) -> None:
    from mobyci.committed.drift import drift
    from mobyci.errors import MobyciError

    stale = False
    for file in files:
        if spec is not None and _same_file(file.path, spec):
            example = "mobyci-patch.sh" if file.kind == "patch" else ".gitlab-ci.yml"
            raise MobyciError(f"{file.path}: is the spec itself; compare another file, e.g. -o {example}")
        if file.path.exists() and not file.path.is_file():
            raise MobyciError(f"{file.path}: is not a regular file; name the committed file to compare")
        existing = file.path.read_text("utf-8", errors="replace") if file.path.is_file() else None
        found = drift(str(file.path), existing, file.fresh)
        if found.status == "current":
            echo(found.message(str(file.path), file.fix))
            continue
        stale = True
        sys.stdout.write(found.diff)
        fix = f"{file.fix} --force" if found.status in ("foreign", "edited") else file.fix
        err(found.message(str(file.path), fix))
    if stale:
        raise Exit(EXIT_PROBLEM)


def _inputs(loaded: LoadedSpec, spec: Path) -> list[Path]:
    """The files the spec reads: itself, and the CA certificates it names by path (relative to its directory)."""
    return [spec, *(spec.parent / ca for ca in loaded.spec.tls.ca_certs if not ca.startswith("$"))]


def _write_files(files: list[_File], inputs: list[Path], *, force: bool) -> None:
    from mobyci.committed.drift import drift
    from mobyci.errors import MobyciError

    # Refuse before writing anything: one refused file must not leave the others half-updated.
    for file in files:
        _refuse_unsafe_path(file, inputs)
        if not file.path.is_file() or force:
            continue
        existing = file.path.read_text("utf-8", errors="replace")
        found = drift(str(file.path), existing, file.fresh)
        if found.status in ("foreign", "edited"):
            sys.stderr.write(found.diff)
            raise MobyciError(
                found.message(
                    str(file.path),
                    f"{file.fix} --force",
                    action="the diff above is what would be lost; to overwrite it anyway",
                )
            )
    for file in files:
        mode = 0o755 if file.fresh.startswith("#!") else None
        err(f"{file.path}: {'written' if _write(file.path, file.fresh, mode=mode) else 'unchanged'}")


def _refuse_unsafe_path(file: _File, inputs: list[Path]) -> None:
    from mobyci.errors import MobyciError

    path = file.path
    example = "mobyci-patch.sh" if file.kind == "patch" else ".gitlab-ci.yml"
    if _same_file(path, inputs[0]):
        # Not even with --force: the spec is the one file a pipeline can never be regenerated from.
        raise MobyciError(f"{path}: is the spec itself; write the output to another file, e.g. -o {example}")
    if any(_same_file(path, read) for read in inputs[1:]):
        raise MobyciError(f"{path}: is a CA certificate the spec names in tls.ca_certs; write the output elsewhere")
    for directory in path.parents:
        if directory.exists() and not directory.is_dir():
            raise MobyciError(f"{path}: {directory} is a file, not a directory; choose another path for -o")
    if path.is_dir():
        raise MobyciError(f"{path}: is a directory; name a file inside it, e.g. -o {path / example}")


def _same_file(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def _write(path: Path, text: str, *, mode: int | None = None) -> bool:
    """Write `text` to `path` (atomically when it is a regular file); every failure is the user's to fix."""
    from mobyci.committed.fsio import write_atomic
    from mobyci.errors import MobyciError

    try:
        return write_atomic(path, text, mode=mode)
    except OSError as exc:
        raise MobyciError(
            f"{path}: cannot write it: {exc.strerror or exc}; free space, fix the permissions or choose another path"
        ) from None


def plan(spec: Path, fmt: str, system: str | None = None, fetches: bool = False, strict: bool = False) -> None:
    import shutil

    from mobyci.emit.render import make_plan
    from mobyci.errors import MobyciError
    from mobyci.report import view as planview

    if strict and not fetches:
        raise MobyciError("--strict applies to --fetches: run `mobyci plan --fetches --strict`")
    loaded = _load(spec, system)
    if str(spec) != "-":
        # Paths in the jobs are the ones the rendered files hold: relative to the repository root.
        loaded = _for_output(loaded, spec_path(spec))
    width = shutil.get_terminal_size((80, 24)).columns
    if fetches:
        from mobyci.emit.render import pipeline_plan
        from mobyci.report.fetches import plan_inventory

        rendered = pipeline_plan(loaded, system or _system_of(loaded))
        _print_inventory(plan_inventory(rendered), fmt, width, strict=strict)
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
    from mobyci.report.inventory import inventory_data, inventory_text

    if fmt == "mermaid":
        raise MobyciError("--fetches prints text or json, not mermaid")
    if fmt == "json":
        sys.stdout.write(json.dumps(inventory_data(inventory), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(inventory_text(inventory, width))
    if strict and (inventory.direct or inventory.untrusted or inventory.borrowed):
        sys.stdout.flush()
        if inventory.borrowed:
            err(f"mobyci: --strict judges a tree's own fetches: {inventory.borrowed}")
        if inventory.direct:
            err(
                f"mobyci: {len(inventory.direct)} fetches would go direct (no mirror rewrites them, no proxy carries "
                "them):"
            )
            for entry in inventory.direct:
                err(f"  {entry.source}: {entry.endpoint} ({entry.kind}: {entry.via})")
        if inventory.untrusted:
            # tls.ca_certs says TLS is inspected: these fail with x509 as surely as a direct fetch is blocked.
            err(
                f"mobyci: {len(inventory.untrusted)} TLS fetches would fail behind the inspecting proxy (their "
                "client does not trust tls.ca_certs):"
            )
            for entry in inventory.untrusted:
                err(f"  {entry.source}: {entry.endpoint} ({entry.kind}: {entry.ca_where})")
        raise Exit(EXIT_PROBLEM)


def _system_of(loaded: LoadedSpec) -> str:
    """The CI system a spec is for: the first one its outputs list, else GitLab."""
    from mobyci.formats import DEFAULT, FORMATS, SYSTEMS

    listed = loaded.spec.outputs.as_dict()
    return next((name for name in SYSTEMS if listed.get(FORMATS[name].outputs_key)), DEFAULT)
