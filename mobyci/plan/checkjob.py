"""The check job: the spec validates and the committed files are current, before anything is built.

Two forms. By default the job needs nothing mobyci publishes: every generated file's header records the sha256 of
its body and of the spec it was rendered from (committed/header.py), so sed and sha256sum alone tell a current file
from a stale, hand-edited, foreign or missing one, and the spec is checked against the JSON Schema committed beside
it (`mobyci init` writes it) with check-jsonschema from the user's index, or that check is skipped with a line
saying why. With `ci.mobyci_requirement` the job installs mobyci and runs `mobyci validate` and `render --check`.
"""

from __future__ import annotations

import shlex

from mobyci.committed.drift import Drift, Status
from mobyci.committed.header import HASH_MARK, SPEC_MARK, regenerate_command
from mobyci.committed.site import schema_beside
from mobyci.load.reader import LoadedSpec
from mobyci.plan.model import Fetched, Job, Run, trust_ca

NAME = "mobyci-check"
VENV = ".mobyci-venv"  # in the job's work tree: no shared /tmp path
SCHEMA_TOOL = "check-jsonschema"
# The image of GitLab's check job: the full python image has git (FROM buildpack-deps), slim has not; both have
# sh, sed and sha256sum (coreutils).
IMAGE, GIT_IMAGE = "python:3.12-slim", "python:3.12"
# pip's own retry and timeout defaults (5 retries, 15 s) stretch a firewall's silent drop into minutes before the
# check says it skipped the schema.
_PIP = "--quiet --disable-pip-version-check --retries 1 --timeout 20"


def check_job(loaded: LoadedSpec, ca_lines: tuple[str, ...], fmt: str, output: str) -> Job:
    """The check job of the file of `fmt` at `output` (relative to the repository root)."""
    spec = loaded.spec
    files, fix = committed_files(loaded, fmt, output)
    schema = schema_beside(loaded.path)
    requirement = spec.ci.mobyci_requirement
    if requirement is None:
        script = (*header_check_lines(loaded.path, files, fix), *schema_lines(loaded, schema))
        installs: tuple[str, ...] = (SCHEMA_TOOL,)
        watches = [loaded.path, schema, *files]
    else:
        install = f"./{requirement}" if requirement.endswith(".whl") and "://" not in requirement else requirement
        script = (
            f"python3 -m venv {VENV}",
            f"{VENV}/bin/pip install {_PIP}{_index_flag(loaded)} {shlex.quote(install)}",
            f"{VENV}/bin/mobyci validate {shlex.quote(loaded.path)}",
            f"{VENV}/bin/{_render_check(loaded, fmt, output)}",
        )
        installs = (requirement,)
        wheel = [requirement] if install.startswith("./") else []
        watches = [loaded.path, *wheel, *files]
    return Job(
        name=NAME,
        stage="check",
        title="The spec validates and the committed files are current",
        steps=(
            *trust_ca(ca_lines),
            # The index by PyPI's name: the fetch inventory routes it through mirrors.pypi when set.
            Run(script, (Fetched("pypi", _PYPI), *_requirement_fetches(installs[0]))),
        ),
        docker=False,
        check_only=True,
        # pip needs git for a VCS requirement.
        tools=("git",) if installs[0].startswith("git+") else (),
        watches=tuple(dict.fromkeys(watches)),
        image=GIT_IMAGE if installs[0].startswith("git+") else IMAGE,
        pip_index=spec.mirrors.pypi,
        pip_installs=installs,
    )


_PYPI = "https://pypi.org/simple"


def _requirement_fetches(requirement: str) -> tuple[Fetched, ...]:
    """What pip fetches for the requirement besides the index: a VCS requirement (git+URL[@ref]) is a clone (pip's
    "VCS Support"), a wheel's https URL a download; a wheel committed in the repository nothing."""
    if requirement.startswith("git+"):
        head, _, last = requirement.removeprefix("git+").rpartition("/")
        return (Fetched("git", f"{head}/{last.split('@', 1)[0]}"),)
    if requirement.startswith("https://"):
        return (Fetched("download", requirement),)
    return ()


def committed_files(loaded: LoadedSpec, fmt: str, output: str) -> tuple[list[str], str]:
    """The files the check compares (every `outputs:` entry, or this pipeline alone) and the command that
    regenerates them, as pasted from the repository root."""
    listed = [path for path in loaded.spec.outputs.as_dict().values() if path is not None]
    if listed:
        return list(dict.fromkeys(listed)), f"mobyci render {shlex.quote(loaded.path)} --all"
    return [output], regenerate_command(loaded.path, fmt, output)


def _render_check(loaded: LoadedSpec, fmt: str, output: str) -> str:
    if any(loaded.spec.outputs.as_dict().values()):
        return f"mobyci render {shlex.quote(loaded.path)} --all --check"
    return f"{regenerate_command(loaded.path, fmt, output)} --check"


def _index_flag(loaded: LoadedSpec) -> str:
    pypi = loaded.spec.mirrors.pypi
    return f" --index-url {shlex.quote(pypi)}" if pypi else ""


def _message(status: Status, fix: str) -> str:
    """mobyci's own line for a file in that state (render --check prints the same), with `$1` for the file's
    name, ready for a double-quoted shell word."""
    text = Drift(status).message("@FILE@", f"{fix} --force" if status in ("foreign", "edited") else fix)
    return _sh_text(text).replace("@FILE@", "$1")


def header_check_lines(spec: str, files: list[str], fix: str) -> tuple[str, ...]:
    """POSIX sh: each of `files` is current (its body matches its mobyci-hash and it was rendered from the spec's
    bytes as they are now); exit 1 naming each file that is not, with the command that fixes it."""
    mark, spec_mark = HASH_MARK, SPEC_MARK
    # The first header line with the mark only: the body may hold the same text (this very job does).
    first = "sed -n '/^# {}/{{s///p;q;}}' \"$1\""
    function = "\n".join(
        [
            "mobyci_current() {",
            '  if [ ! -f "$1" ]; then',
            f'    echo "{_message("missing", fix)}" >&2; mobyci_failed=1; return 0',
            "  fi",
            f"  mobyci_recorded=$({first.format(mark)})",
            f"  mobyci_from=$({first.format(spec_mark)})",
            f"  mobyci_body=$(sed '1,/^# {mark}/d' \"$1\" | sha256sum | cut -d ' ' -f 1)",
            '  if [ -z "$mobyci_recorded" ]; then',
            f'    echo "{_message("foreign", fix)}" >&2; mobyci_failed=1',
            '  elif [ "$mobyci_body" != "$mobyci_recorded" ]; then',
            f'    echo "{_message("edited", fix)}" >&2; mobyci_failed=1',
            '  elif [ "$mobyci_from" != "$mobyci_spec" ]; then',
            f'    echo "{_message("stale", fix)}" >&2; mobyci_failed=1',
            "  else",
            '    echo "$1: current"',
            "  fi",
            "}",
        ]
    )
    return (
        f"mobyci_failed=0 && mobyci_spec_file={shlex.quote(spec)}",
        '[ -f "$mobyci_spec_file" ] || { echo "$mobyci_spec_file: missing; the check job reads the spec '
        'there (from the repository root)" >&2; exit 1; }',
        "mobyci_spec=$(sha256sum < \"$mobyci_spec_file\" | cut -d ' ' -f 1)",
        function,
        *(f"mobyci_current {shlex.quote(path)}" for path in files),
    )


def schema_lines(loaded: LoadedSpec, schema: str) -> tuple[str, ...]:
    """POSIX sh: the spec against the JSON Schema committed beside it, with check-jsonschema from the user's index;
    a line saying why when that cannot run. Ends the job: exit 1 if any check failed."""
    pypi = loaded.spec.mirrors.pypi
    where = f"mirrors.pypi ({pypi})" if pypi else "the runner's pip index (PyPI, or PIP_INDEX_URL)"
    skipped = "the spec was not checked against its schema"
    block = "\n".join(
        [
            f"mobyci_schema={shlex.quote(schema)}",
            'if [ ! -f "$mobyci_schema" ]; then',
            f'  echo "$mobyci_schema: not committed, so {skipped}; write it with: mobyci schema -o $mobyci_schema"',
            f"elif python3 -m venv {VENV} && {VENV}/bin/pip install {_PIP}{_index_flag(loaded)} {SCHEMA_TOOL}; then",
            f'  {VENV}/bin/{SCHEMA_TOOL} --schemafile "$mobyci_schema" "$mobyci_spec_file" || mobyci_failed=1',
            "else",
            f'  echo "{SCHEMA_TOOL} could not be installed from {_sh_text(where)}: {skipped} (set mirrors.pypi to an '
            'index that has it, or ci.mobyci_requirement for the full mobyci validate)"',
            "fi",
        ]
    )
    return (block, '[ "$mobyci_failed" = 0 ]')


def _sh_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
