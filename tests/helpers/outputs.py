"""Every output of a spec, and each pipeline as its platform reads it (parsed, interpolated, run by dash)."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
from collections.abc import Iterator
from typing import Any

import jsonschema
from check_jsonschema.builtin_schemas import get_builtin_schema

from mobyci.emit.render import make_plan, render_pipeline
from mobyci.load.reader import LoadedSpec
from mobyci.patch.script import build_patch_script
from tests.helpers import buildkite_agent_standin as bk
from tests.helpers.pipeline_tools import load_yaml, tool

ALL_FORMATS = ("gitlab", "buildkite", "github")
FORMATS = tuple(f for f in ALL_FORMATS if importlib.util.find_spec(f"mobyci.emit.{f}") is not None)
SCHEMAS = {"gitlab": "vendor.gitlab-ci", "buildkite": "vendor.buildkite", "github": "vendor.github-workflows"}


def render_all(loaded: LoadedSpec) -> dict[str, str]:
    """Every output a spec has: each pipeline format that exists, the patch script, and the plan as JSON."""
    from mobyci.report.view import plan_json

    out = {fmt: render_pipeline(loaded, fmt) for fmt in FORMATS}
    out["patch"] = build_patch_script(loaded)
    out["plan"] = plan_json(make_plan(loaded))
    return out


def meaning(fmt: str, text: str) -> Any:
    """A pipeline as its platform reads it: YAML parsed, and Buildkite's upload-time escapes resolved."""
    doc = load_yaml(text)
    return bk.interpolate_pipeline(doc, {}, expand=False) if fmt == "buildkite" else doc


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def shell_lines(fmt: str, text: str) -> list[str]:
    """Every line of every string in a pipeline, as the shell would receive it."""
    return [line.strip() for s in strings(meaning(fmt, text)) for line in s.splitlines()]


def words_under_dash(line: str, command: str) -> list[str]:
    """The arguments dash passes to `command` when it runs `line` (the command is stubbed to print them)."""
    script = f'{command}() {{ for a in "$@"; do printf \'%s\\0\' "$a"; done; }}\n{line}\n'
    done = subprocess.run([tool("dash"), "-c", script], capture_output=True, check=True)
    return done.stdout.decode().split("\0")[:-1]


@functools.cache
def validator(fmt: str) -> Any:
    schema = get_builtin_schema(SCHEMAS[fmt])
    return jsonschema.validators.validator_for(schema)(schema)


def schema_problems(fmt: str, text: str) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(fmt).iter_errors(load_yaml(text))]
