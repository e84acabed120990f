"""Properties of valid specs (hypothesis): whatever a valid spec holds, every output renders, parses, passes its
platform's schema, carries the spec's strings exactly as written, and hands values to the shell intact.

The formats are the renderers that exist when the tests run (gitlab, buildkite, github), so a new renderer is
fuzzed as soon as it lands. Schemas are checked in-process with check-jsonschema's vendored copies.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import shlex
import subprocess
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from check_jsonschema.builtin_schemas import get_builtin_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mobyci.families import FAMILIES, resolve, resolve_family
from mobyci.generator.patchscript import build_patch_script
from mobyci.generator.render import make_plan, render_pipeline
from mobyci.schemas.load import LoadedSpec, load_text
from tests import buildkite_checks as bk
from tests.pipeline_checks import load_yaml, tool

ALL_FORMATS = ("gitlab", "buildkite", "github")
FORMATS = tuple(f for f in ALL_FORMATS if importlib.util.find_spec(f"mobyci.generator.{f}") is not None)
SCHEMAS = {"gitlab": "vendor.gitlab-ci", "buildkite": "vendor.buildkite", "github": "vendor.github-workflows"}
EXAMPLES = int(os.environ.get("MOBYCI_FUZZ_EXAMPLES", "40"))  # per property; 40 run in about 20 seconds
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Strings that YAML 1.1 (GitLab's Ruby parser) or YAML 1.2 would read as something else when unquoted.
YAML_SPECIAL = ("yes", "no", "on", "off", "y", "n", "true", "null", "0o17", "017", "1e3", "12:30", "0x1F", ".inf")


# --- helpers shared by test_hostile.py and test_secrets.py ------------------------------------------------------


def render_all(loaded: LoadedSpec) -> dict[str, str]:
    """Every output a spec has: each pipeline format that exists, the patch script, and the plan as JSON."""
    from mobyci.generator.planview import plan_json

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


def as_yaml(data: dict[str, Any]) -> str:
    """A spec as a person writes it: ruamel quotes whatever would not read back as the same string."""
    out = io.StringIO()
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    yaml.dump(data, out)
    return out.getvalue()


# --- valid specs -------------------------------------------------------------------------------------------------

TAGS = {
    "19.03": "v19.03.12",
    "20.10": "v20.10.27",
    "23.0": "v23.0.6",
    "24.0": "v24.0.9",
    "25-28": "v27.5.1",
    "29": "docker-v29.0.0",
}
word = st.from_regex(r"[A-Za-z0-9_+,=-][A-Za-z0-9_+,=.-]{0,8}", fullmatch=True).filter(
    lambda w: ".." not in w and not w.endswith((".", ".lock"))
)
branch = st.one_of(
    st.lists(word, min_size=1, max_size=3).map(lambda parts: "feature/" + "/".join(parts)),
    st.sampled_from(["yes", "no", "on", "0o17", "1e3", "null", "main", "release/27.x"]),
)
commit = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
dns = st.lists(label, min_size=2, max_size=3).map(".".join).filter(lambda h: not h.replace(".", "").isdigit())
host = st.one_of(dns, st.sampled_from(["[2001:db8::1]", "[::1]", "10.0.0.7", "xn--dckerhub-4ya.example"]))
port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
path = st.lists(
    st.from_regex(r"[A-Za-z0-9._~%-]{1,8}", fullmatch=True).filter(lambda p: p not in (".", "..")), max_size=2
)
name = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:=+@-]{0,10}", fullmatch=True), st.sampled_from(YAML_SPECIAL))
var = st.from_regex(r"CORP_[A-Z0-9_]{1,8}", fullmatch=True)


def url(scheme: str, *, with_path: bool = True) -> st.SearchStrategy[str]:
    parts = st.tuples(host, port, path if with_path else st.just([]))
    return parts.map(lambda p: f"{scheme}://{p[0]}{p[1]}" + "".join("/" + s for s in p[2]))


@st.composite
def mirror_settings(draw: st.DrawFn, archived: bool = False) -> dict[str, Any]:
    mirrors: dict[str, Any] = {}
    if draw(st.booleans()):
        mirrors["git"] = {"https://github.com/": draw(url("https")).rstrip("/") + "/"}
    if draw(st.booleans()):
        mirrors["downloads"] = {"https://download.docker.com/linux/static": draw(url("https"))}
    if archived:  # Debian buster: only an archive mirror serves it, and validation insists on one
        mirrors["apt"] = draw(st.one_of(st.just("archive"), url("https").map(lambda u: {"archive": u})))
    elif draw(st.booleans()):
        mirrors["apt"] = draw(
            st.one_of(
                dns,
                url("https", with_path=False),
                url("https"),
                st.tuples(url("https"), url("http")).map(lambda p: {"debian": p[0], "security": p[1]}),
            )
        )
    if draw(st.booleans()):
        mirrors["registry"] = draw(url("https", with_path=False))
    if draw(st.booleans()):
        mirrors["goproxy"] = draw(url("https")) + ",direct"
    if draw(st.booleans()):
        mirrors["gosumdb"] = draw(st.sampled_from(["sum.golang.google.cn", "off", "sum.golang.org"]))
    if draw(st.booleans()):
        mirrors["alpine"] = draw(st.one_of(url("https"), url("http")))
    if draw(st.booleans()):
        mirrors["pypi"] = draw(url("https"))
    return mirrors


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    family = draw(st.sampled_from([f.name for f in FAMILIES]))
    release = resolve_family(family)
    assert release is not None
    moby: dict[str, Any] = {}
    kind = draw(st.sampled_from(["tag", "branch", "commit"]))
    if kind == "tag":
        moby["ref"] = TAGS[family]
        # A tag's own facts (its cross platforms), not only its family's.
        release = resolve(TAGS[family], None)
        assert release is not None
    else:
        moby["ref"] = draw(branch if kind == "branch" else commit)
        moby["family"] = family
    if draw(st.booleans()):
        moby["repo"] = draw(
            st.one_of(
                url("https").map(lambda u: u + "/moby.git"),
                # An scp-like path may not start with '-' (it would read as an ssh option): refused on purpose.
                st.tuples(dns, word.filter(lambda w: not w.startswith("-"))).map(
                    lambda p: f"git@{p[0]}:{p[1]}/moby.git"
                ),
            )
        )
    spec: dict[str, Any] = {"version": 1, "moby": moby}
    mirrors = draw(mirror_settings(release.debian_archived))
    if mirrors:
        spec["mirrors"] = mirrors
    proxy: dict[str, Any] = {}
    for key in ("http", "https"):
        if draw(st.booleans()):
            proxy[key] = draw(
                st.one_of(var.map(lambda v: f"${v}"), var.map(lambda v: f"${{{v}}}"), url("http", with_path=False))
            )
    with_no_proxy: bool = draw(st.booleans())
    if proxy and with_no_proxy:
        proxy["no_proxy"] = draw(st.lists(st.one_of(dns, st.just(".corp.example"), st.just("::1")), max_size=3))
    if proxy:
        spec["proxy"] = proxy
    targets: list[Any] = []
    for target in draw(
        st.lists(st.sampled_from(["binary", "dynbinary", "cross"]), min_size=1, max_size=3, unique=True)
    ):
        if target == "cross" and draw(st.booleans()):
            platforms = draw(st.lists(st.sampled_from(release.cross_platforms), min_size=1, max_size=4, unique=True))
            targets.append({"name": "cross", "platforms": platforms})
        else:
            targets.append(target)
    spec["targets"] = targets
    ci: dict[str, Any] = {
        "timeout": draw(st.sampled_from(["2h", "90m", "1h 30m", "45 minutes"])),
        "retry": draw(st.integers(0, 2)),
        "gitlab": {"tags": draw(st.lists(name, max_size=2)), "runner": draw(st.sampled_from(["dind", "shell"]))},
        "buildkite": {"queue": draw(name)},
        "github": {"runs_on": draw(name)},
    }
    if draw(st.booleans()):
        ci["gitlab"]["image_prefix"] = draw(
            st.one_of(
                st.just("$CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX"),
                st.tuples(dns, port, st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), max_size=2)).map(
                    lambda p: f"{p[0]}{p[1]}" + "".join("/" + c for c in p[2])
                ),
            )
        )
    spec["ci"] = ci
    return spec


def load(spec: dict[str, Any]) -> LoadedSpec:
    return load_text(as_yaml(spec), "mobyci.yaml")


# --- properties --------------------------------------------------------------------------------------------------


def test_formats_are_found() -> None:
    assert "gitlab" in FORMATS


@FUZZ
@given(specs())
def test_every_output_renders_parses_and_passes_its_schema(spec: dict[str, Any]) -> None:
    loaded = load(spec)
    outputs = render_all(loaded)
    for fmt in FORMATS:
        assert schema_problems(fmt, outputs[fmt]) == [], (fmt, as_yaml(spec))
    assert isinstance(load_yaml(outputs["plan"]), dict)  # JSON is YAML
    assert outputs["patch"].startswith("#!/bin/sh")


@FUZZ
@given(specs())
def test_spec_strings_reach_the_outputs_exactly(spec: dict[str, Any]) -> None:
    loaded = load(spec)
    outputs = render_all(loaded)
    ci = spec["ci"]
    for fmt in FORMATS:
        doc = meaning(fmt, outputs[fmt])
        found = list(strings(doc))
        # The ref reaches the fetch line as one shell word, quoted only when it must be.
        assert any(f"origin {shlex.quote(spec['moby']['ref'])}" in s for s in found), fmt
        if fmt == "gitlab":
            # Names stay strings of the same text (no `yes` -> true, no `0o17` -> 15).
            assert doc["default"].get("tags", []) == ci["gitlab"]["tags"]
            if "registry" in spec.get("mirrors", {}) and ci["gitlab"]["runner"] == "dind":
                service = doc[".mobyci-docker"]["services"][0]
                assert service["command"] == [f"--registry-mirror={spec['mirrors']['registry']}"]
            mirrors = spec.get("mirrors", {})
            prefix = ci["gitlab"].get("image_prefix")
            if ci["gitlab"]["runner"] == "dind":
                image = doc[".mobyci-docker"]["image"]
                assert image == (f"{prefix}/" if prefix else "") + "docker:27.5.1-cli"
                if "alpine" in mirrors:
                    apk = doc[".mobyci-docker"]["before_script"][-1]  # after the proxy-variable guards
                    assert f'--repository {shlex.quote(mirrors["alpine"].rstrip("/"))}"/v' in apk
            if "pypi" in mirrors:
                install = next(line for line in doc["mobyci-check"]["script"] if " install " in line)
                assert f"--index-url {shlex.quote(mirrors['pypi'])} " in install
        if fmt == "buildkite":
            queues = {step["agents"]["queue"] for step in doc["steps"] if "agents" in step}
            assert queues == {ci["buildkite"]["queue"]}
        if fmt == "github":
            runs_on = {job["runs-on"] for job in doc["jobs"].values()}
            assert ci["github"]["runs_on"] in runs_on
        for name, value in spec.get("proxy", {}).items():
            if name != "no_proxy" and not value.startswith("$"):
                assert any(value in s for s in found), (fmt, value)


@FUZZ
@given(specs())
def test_values_survive_shell_quoting_under_dash(spec: dict[str, Any]) -> None:
    loaded = load(spec)
    plan = make_plan(loaded)
    outputs = render_all(loaded)
    for fmt in FORMATS:
        lines = shell_lines(fmt, outputs[fmt])
        remote = next(line for line in lines if line.startswith("git -C moby remote add origin "))
        fetch = next(line for line in lines if line.startswith("git -C moby fetch "))
        assert words_under_dash(remote, "git") == ["-C", "moby", "remote", "add", "origin", plan.clone_url], fmt
        assert words_under_dash(fetch, "git")[-2:] == ["origin", spec["moby"]["ref"]], fmt


def yaml11(text: str) -> Any:
    """A pipeline as a YAML 1.1 reader (GitLab's Ruby Psych, Go yaml.v2) sees it."""
    return YAML(typ="safe", pure=True).load("%YAML 1.1\n---\n" + text)


@pytest.mark.parametrize("value", ["yes", "on", "no", "off", "12:30"])
def test_names_stay_strings_for_yaml_1_1_readers(value: str) -> None:
    spec = {
        "version": 1,
        "moby": {"ref": "v27.5.1"},
        "targets": ["binary"],
        "ci": {"gitlab": {"tags": [value]}, "buildkite": {"queue": value}, "github": {"runs_on": value}},
    }
    outputs = render_all(load(spec))
    assert yaml11(outputs["gitlab"])["default"]["tags"] == [value]
    if "buildkite" in FORMATS:
        steps = yaml11(outputs["buildkite"])["steps"]
        assert {s["agents"]["queue"] for s in steps} == {value}
