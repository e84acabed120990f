"""Buildkite pipelines: golden files and examples, each checked for what it means.

No offline buildkite-agent exists, so every rendered pipeline is checked with Buildkite's schema
(check-jsonschema's vendor.buildkite), the semantic checks in tests/helpers/buildkite_agent_standin.py (keys,
depends_on, empty steps, matrix use, interpolation safety), a model of the agent's upload-time interpolation, and
shellcheck of every step's script as the agent runs it (bash) after upload.
Regenerate golden files and examples with `MOBYCI_UPDATE_GOLDEN=1 pytest tests/test_buildkite.py`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobyci.emit.buildkite import can_escape, escape, render_buildkite, step_key
from mobyci.emit.render import make_plan, render_pipeline
from mobyci.load.reader import load_text
from mobyci.patch.script import build_patch_script
from tests.helpers import EXAMPLES
from tests.helpers import buildkite_agent_standin as bc
from tests.helpers import pipeline_tools as pc
from tests.helpers.golden_cases import assert_current, cases, load_case

CASES = cases("pipeline.yml", ".buildkite/pipeline.yml")


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rendered_pipeline_is_current(spec: Path, expected: Path) -> None:
    assert_current(spec, expected, "buildkite", "tests/test_buildkite.py")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {case_id: expected.read_text() for case_id, _, expected in CASES if expected.exists()}


@pytest.fixture(scope="module")
def docs(rendered: dict[str, str]) -> dict[str, Any]:
    return {case: pc.load_yaml(text) for case, text in rendered.items()}


# --- the schema and the semantic checks ------------------------------------------------------------------------


def test_every_pipeline_passes_buildkites_schema(rendered: dict[str, str]) -> None:
    assert len(rendered) == len(CASES)
    failures = {case: pc.schema_errors(text, "vendor.buildkite") for case, text in rendered.items()}
    assert {case: errors for case, errors in failures.items() if errors} == {}


def test_schema_check_can_fail(rendered: dict[str, str]) -> None:
    text = next(iter(rendered.values())).replace("    key: mobyci-prepare\n", "    key: mobyci-prepare\n    cmds: x\n")
    assert pc.schema_errors(text, "vendor.buildkite")
    uuid_key = "key: 0b7d9c1e-4f3a-4d6e-9a1b-2c3d4e5f6a7b\n"
    assert pc.schema_errors(text.replace("key: mobyci-prepare\n", uuid_key, 1), "vendor.buildkite")


def test_semantics_schemas_miss(docs: dict[str, Any]) -> None:
    problems = {case: bc.semantic_problems(doc) for case, doc in docs.items()}
    assert {case: p for case, p in problems.items() if p} == {}


BAD_PIPELINE: dict[str, Any] = {
    "steps": [
        {"key": "a", "commands": ["echo $1"]},
        {"key": "a", "command": "true"},
        {"key": "b", "depends_on": ["nope"], "commands": ["curl -x $CORP_HTTP_PROXY x"]},
        {},
        {"key": "c", "commands": [" "]},
        {"key": "d-{{matrix}}", "command": "make {{matrix.OS}}", "matrix": ["x"]},
        {"key": "0b7d9c1e-4f3a-4d6e-9a1b-2c3d4e5f6a7b", "command": "true", "concurrency": 1},
        {"key": "e", "depends_on": "f", "command": "true"},
        {"key": "f", "depends_on": [{"step": "e"}], "command": "true"},
    ]
}


def test_semantic_checks_reject_a_hand_made_bad_pipeline() -> None:
    problems = bc.semantic_problems(BAD_PIPELINE)
    expected = [
        "step a: duplicate key",
        "step b: depends_on missing step nope",
        "step #3: not a step (empty or unknown)",
        "step c: no command",
        "step d-{{matrix}}: matrix values in the key",
        "step d-{{matrix}}.command: {{matrix.OS}} is not a matrix dimension of the step",
        "step 0b7d9c1e-4f3a-4d6e-9a1b-2c3d4e5f6a7b: key looks like a UUID",
        "step 0b7d9c1e-4f3a-4d6e-9a1b-2c3d4e5f6a7b: concurrency and concurrency_group go together",
        "depends_on cycle: e -> f -> e",
        "$CORP_HTTP_PROXY is interpolated at upload (write $$CORP_HTTP_PROXY)",
        "expected a variable name starting with a letter after '$', got '1'",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in problems), (fragment, problems)
    assert bc.semantic_problems({"steps": []}) == ["the pipeline has no steps"]


# --- the interpolation model -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "uploaded"),
    [
        ("$$FOO", {"FOO": "x"}, "$FOO"),
        ("\\$FOO", {"FOO": "x"}, "$FOO"),
        ("$${FOO:-y}", {}, "${FOO:-y}"),
        ("$FOO-${FOO}", {"FOO": "x"}, "x-x"),
        ("${FOO:-dflt}", {"FOO": ""}, "dflt"),
        ("${FOO-dflt}", {"FOO": ""}, ""),
        ("${NOPE-${FOO}}", {"FOO": "x"}, "x"),
        ("${FOO:1:2}", {"FOO": "abcd"}, "bc"),
        ("${FOO?}", {"FOO": "x"}, "x"),
        ("a\\\\b \\\\$$x", {}, "a\\\\b \\\\$x"),
        ("$$1 $$? $$$$ $$(", {}, "$1 $? $$ $("),
        ("{{matrix.PLATFORM}}", {}, "{{matrix.PLATFORM}}"),
    ],
)
def test_interpolation_follows_the_agent(text: str, env: dict[str, str], uploaded: str) -> None:
    assert bc.interpolate(text, env) == uploaded


@pytest.mark.parametrize("text", ["$1", "$?", "${1}", "${FOO", "${FOO!}", "$_X", "x $", "$(date)", "${NOPE?say so}"])
def test_interpolation_errors_fail_the_upload(text: str) -> None:
    with pytest.raises(bc.InterpolationError):
        bc.interpolate(text, {"FOO": "x"})


def test_recent_agents_pass_command_substitution_through() -> None:
    assert bc.interpolate("$(date) $", {}, strict=False) == "$(date) $"


def test_no_interpolation_mode_keeps_expansions_as_written() -> None:
    assert bc.interpolate("$$A ${B:-$$c} $D", {"B": "b", "D": "d"}, expand=False) == "$A ${B:-$c} $D"


def test_top_level_env_is_interpolated_first_and_feeds_the_rest() -> None:
    doc = {"env": {"A": "$SECRET"}, "steps": [{"command": "echo $A"}]}
    assert bc.interpolate_pipeline(doc, {"SECRET": "s"}) == {"env": {"A": "s"}, "steps": [{"command": "echo s"}]}


@given(st.text(alphabet=st.sampled_from([*"$\\{}():?-_ab1 \n'\""]), max_size=24))
def test_escape_survives_upload_unchanged(text: str) -> None:
    if not can_escape(text):
        return
    env = {"a": "SECRET", "ab": "SECRET", "b": "SECRET"}
    assert bc.interpolate(escape(text), env) == text
    assert bc.interpolate(escape(text), env, expand=False) == text


def test_escape_refuses_what_upload_cannot_carry() -> None:
    assert not can_escape("echo \\$x")
    assert can_escape("echo \\\\$x")
    with pytest.raises(ValueError, match="backslash"):
        escape("printf \\$x")


def test_every_pipeline_uploads_without_error_and_takes_nothing_from_the_uploader(docs: dict[str, Any]) -> None:
    for case, doc in docs.items():
        assert bc.interpolation_problems(doc) == [], case
        text = "\n".join(s for _, s in bc.strings(doc))
        # No `$` followed by anything but a letter, `{` or `$` once the escapes are taken out.
        assert not re.search(r"\$(?![A-Za-z{$])", text.replace("$$", "")), case


def _secret_environment(text: str) -> dict[str, str]:
    """Every word of the pipeline as an environment variable holding a secret, plus the usual suspects."""
    names = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text)) | set(os.environ)
    names |= {"CORP_HTTP_PROXY", "CORP_HTTPS_PROXY", "HTTP_PROXY", "BUILDKITE_AGENT_ACCESS_TOKEN", "MOBYCI_DEV_IMAGE"}
    return {name: f"http://u:SECRET-{name}@proxy.corp.example:3128" for name in sorted(names)}


def test_upload_with_secrets_in_the_environment_leaves_none_in_the_pipeline(rendered: dict[str, str]) -> None:
    for case, text in rendered.items():
        doc = pc.load_yaml(text)
        uploaded = bc.interpolate_pipeline(doc, _secret_environment(text))
        assert "SECRET" not in repr(uploaded), case


def test_interpolating_and_no_interpolation_give_the_same_pipeline(rendered: dict[str, str]) -> None:
    for case, text in rendered.items():
        doc = pc.load_yaml(text)
        assert bc.interpolate_pipeline(doc, _secret_environment(text)) == bc.interpolate_pipeline(
            doc, {}, expand=False
        ), case
        assert bc.step_scripts(doc, _secret_environment(text)) == bc.step_scripts(doc, {}), case


def test_the_secret_test_can_fail() -> None:
    doc = {"steps": [{"key": "a", "env": {"HTTP_PROXY": "$CORP_HTTP_PROXY"}, "command": "make"}]}
    uploaded = bc.interpolate_pipeline(doc, _secret_environment("CORP_HTTP_PROXY"))
    assert "SECRET" in repr(uploaded)
    assert uploaded != bc.interpolate_pipeline(doc, {}, expand=False)


# --- the scripts the agent runs --------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_step_scripts_pass_shellcheck(docs: dict[str, Any], shell: str) -> None:
    # bash is what the agent runs the commands with; sh proves they stay the Plan's POSIX lines.
    findings = {}
    for case, doc in docs.items():
        for step, script in bc.step_scripts(doc).items():
            out = pc.shellcheck(script, shell)
            if out:
                findings[f"{case}:{step}"] = out
    assert findings == {}


def test_shellcheck_sees_the_unescaped_script() -> None:
    # `$$?` uploads as `$?`; shellcheck must look at that, not at `$$` (a PID) followed by `?`.
    doc = {"steps": [{"key": "a", "commands": ['false || test "$$?" -eq 1', "echo $$1"]}]}
    script = bc.step_scripts(doc)["a"]
    assert script == 'false || test "$?" -eq 1\necho $1\n'
    assert "SC2242" not in pc.shellcheck(script, "bash")
    assert pc.shellcheck("echo $UNQUOTED_SPLIT/*\n", "bash")  # and it does report


def _patch_written_by(doc: dict[str, Any], tmp_path: Path) -> str:
    """Run the prepare step's patch-writing command, as uploaded, in bash; return the file it wrote."""
    step = next(s for s in bc.steps(bc.interpolate_pipeline(doc, {})) if s["key"] == "mobyci-prepare")
    writer = next(c for c in step["commands"] if "mobyci-patch.sh <<" in c)
    subprocess.run(["bash", "-e", "-c", writer], cwd=tmp_path, check=True)
    return (tmp_path / "mobyci-patch.sh").read_text()


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_embedded_patch_script_arrives_byte_for_byte(spec: Path, expected: Path, tmp_path: Path) -> None:
    doc = pc.load_yaml(expected.read_text())
    assert _patch_written_by(doc, tmp_path) == build_patch_script(load_case(spec))


@pytest.mark.parametrize(
    "script",
    [
        '#!/bin/sh\necho "$HOME" "${X:-$1}" $$ $? "$(date)"\n',  # plain heredoc
        '#!/bin/sh\neval "n=\\$((\\${n:-0} + $1))"\nprintf "\\\\$x"\n',  # backslashes before `$`
    ],
)
def test_patch_scripts_with_any_dollar_and_backslash_survive_upload(script: str, tmp_path: Path) -> None:
    loaded = load_text(_spec("v24.0.9"))
    doc = pc.load_yaml(render_buildkite(make_plan(loaded, "buildkite")._replace(patch_script=script)))
    assert bc.semantic_problems(doc) == []
    assert _patch_written_by(doc, tmp_path) == script


# --- what the steps say ----------------------------------------------------------------------------------------

SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  apt: debian-mirror.example.com
  registry: https://hub-mirror.example.com
proxy: {http: $CORP_HTTP_PROXY, https: '${CORP_HTTPS_PROXY}', no_proxy: [.corp.example]}
targets: [binary, dynbinary, {name: cross, platforms: [linux/arm64, windows/amd64]}]
"""


def _spec(ref: str) -> str:
    # Debian buster (19.03) is archived: only an archive mirror serves it, and validation insists on one.
    spec = SPEC.replace("REF", ref)
    return spec.replace("apt: debian-mirror.example.com", "apt: archive") if ref == "v19.03.12" else spec


def _doc(spec_text: str) -> dict[str, Any]:
    return pc.load_yaml(render_pipeline(load_text(spec_text), "buildkite"))  # type: ignore[no-any-return]


def _steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in bc.steps(doc)}


@pytest.mark.parametrize("ref", ["v19.03.12", "v20.10.27", "v24.0.9", "v27.5.1", "docker-v29.7.2"])
def test_shape_keys_dependencies_and_artifacts(ref: str) -> None:
    doc = _doc(_spec(ref))
    steps = _steps(doc)
    assert list(steps) == ["mobyci-prepare", "mobyci-binary", "mobyci-dynbinary", "mobyci-cross", "mobyci-checksums"]
    assert "depends_on" not in steps["mobyci-prepare"]
    for target in ("binary", "dynbinary", "cross"):
        step = steps[f"mobyci-{target}"]
        assert step["depends_on"] == ["mobyci-prepare"]
        assert step["artifact_paths"][0].startswith("moby/bundles/")
        assert step["artifact_paths"][0].endswith("/**/*")
        downloads = [c for c in step["commands"] if c.startswith("buildkite-agent artifact download")]
        assert downloads
        assert all("--step mobyci-prepare " in c and c.endswith(" .") for c in downloads)
    checksums = steps["mobyci-checksums"]
    assert checksums["depends_on"] == ["mobyci-binary", "mobyci-dynbinary", "mobyci-cross"]
    assert checksums["artifact_paths"] == ["SHA256SUMS"]  # the bundles are the target steps' own artifacts
    downloads = [c for c in checksums["commands"] if c.startswith("buildkite-agent artifact download")]
    assert [c.split()[4] for c in downloads] == ["mobyci-binary", "mobyci-dynbinary", "mobyci-cross"]
    assert any("sha256sum -c SHA256SUMS" in c for c in checksums["commands"])
    for target in ("binary", "dynbinary", "cross"):  # SHA256SUMS written the same way for every family
        assert "SHA256SUMS)" in steps[f"mobyci-{target}"]["commands"][-1]


def test_cross_fans_out_through_the_matrix_never_in_the_key() -> None:
    doc = _doc(_spec("v27.5.1"))
    cross = _steps(doc)["mobyci-cross"]
    assert cross["matrix"] == {"setup": {"MOBYCI_PLATFORM": ["linux/arm64", "windows/amd64"]}}
    assert cross["key"] == "mobyci-cross"
    assert "{{matrix.MOBYCI_PLATFORM}}" in cross["label"]
    assert cross["commands"][0] == "export MOBYCI_PLATFORM='{{matrix.MOBYCI_PLATFORM}}'"
    scripts = bc.step_scripts(doc)
    assert "export MOBYCI_PLATFORM='windows/amd64'" in scripts["mobyci-cross[windows/amd64]"]


def test_retry_timeout_and_queue_from_the_spec() -> None:
    spec = _spec("v27.5.1") + "ci: {timeout: 1h 30m, retry: 1, buildkite: {queue: moby-builders}}\n"
    for step in _steps(_doc(spec)).values():
        assert step["timeout_in_minutes"] == 90
        assert step["retry"] == {"automatic": [{"exit_status": -1, "limit": 1}, {"exit_status": 255, "limit": 1}]}
        assert step["agents"] == {"queue": "moby-builders"}
        assert "concurrency_group" not in step
    spec = _spec("v27.5.1") + "ci: {retry: 0, timeout: 90s}\n"
    for step in _steps(_doc(spec)).values():
        assert "retry" not in step
        assert "agents" not in step
        assert step["timeout_in_minutes"] == 2


def test_concurrency_group_per_ref_keeps_the_matrix_parallel() -> None:
    spec = _spec("v27.5.1") + "ci: {buildkite: {concurrency_group: true}}\n"
    steps = _steps(_doc(spec))
    groups = {key: step["concurrency_group"] for key, step in steps.items()}
    assert groups["mobyci-prepare"] == "mobyci/github.com/moby/moby@v27.5.1/mobyci-prepare"
    assert len(set(groups.values())) == len(groups)
    assert steps["mobyci-binary"]["concurrency"] == 1
    assert steps["mobyci-cross"]["concurrency"] == 2


def test_step_keys_are_stable_and_valid() -> None:
    assert step_key("binary") == "mobyci-binary"
    assert step_key("mobyci-check") == "mobyci-check"
    assert step_key("a b/c") == "mobyci-a-b-c"
    assert bc.KEY_RE.match(step_key("x" * 200))


def test_proxies_are_read_at_run_time_and_literals_go_in_env() -> None:
    doc = _doc(_spec("v20.10.27"))
    assert "HTTP_PROXY" not in doc["env"]
    assert doc["env"]["NO_PROXY"].split(",")[-1] == ".corp.example"
    for step in _steps(doc).values():
        assert "env" not in step
        assert 'export HTTP_PROXY="$${CORP_HTTP_PROXY:?' in "\n".join(step["commands"])
        assert 'export https_proxy="$${CORP_HTTPS_PROXY:?' in "\n".join(step["commands"])
    binary = "\n".join(_steps(doc)["mobyci-binary"]["commands"])
    assert 'export DOCKER_BUILD_ARGS="--build-arg HTTP_PROXY --build-arg HTTPS_PROXY' in binary
    literal = _spec("v24.0.9").replace("$CORP_HTTP_PROXY", "http://proxy.corp.example:3128")
    doc = _doc(literal)
    assert doc["env"]["HTTP_PROXY"] == doc["env"]["http_proxy"] == "http://proxy.corp.example:3128"
    binary = "\n".join(_steps(doc)["mobyci-binary"]["commands"])
    assert "export HTTP_PROXY=" not in binary
    # bake reads the proxies from its environment (`--set '*.args.NAME'` without a value)
    assert "--set '*.args.HTTP_PROXY'" in binary


def test_a_missing_proxy_variable_fails_the_step_naming_it() -> None:
    doc = _doc(_spec("v24.0.9"))
    first = bc.step_scripts(doc)["mobyci-binary"].splitlines()[0]
    path = {"PATH": os.environ["PATH"]}

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        script = first + "\nprintenv HTTP_PROXY"
        return subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, env=env, check=False)

    unset = run(path)
    assert unset.returncode != 0
    assert "CORP_HTTP_PROXY" in unset.stderr
    assert run({**path, "CORP_HTTP_PROXY": "http://u:pw@proxy:3128"}).stdout == "http://u:pw@proxy:3128\n"


def test_dev_image_comes_from_the_agent_environment_tagged_per_build() -> None:
    doc = _doc(_spec("v19.03.12"))
    for key in ("mobyci-prepare", "mobyci-binary", "mobyci-cross"):
        commands = _steps(doc)[key]["commands"]
        assert any(c.startswith('export MOBYCI_DEV_IMAGE="$${MOBYCI_DEV_IMAGE:?') for c in commands)
        assert 'export MOBYCI_DEV_TAG="$$BUILDKITE_BUILD_ID"' in commands
        assert not any("docker login" in c for c in commands)  # the agent's job
    prepare = "\n".join(_steps(doc)["mobyci-prepare"]["commands"])
    assert 'docker push "$$MOBYCI_DEV_IMAGE:$$MOBYCI_DEV_TAG"' in prepare
    bake = _doc(_spec("v27.5.1"))
    assert not any("MOBYCI_DEV" in c for step in _steps(bake).values() for c in step["commands"])


def test_header_says_what_only_the_agent_can_do() -> None:
    text = render_pipeline(load_text(_spec("v19.03.12")), "buildkite")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert '"registry-mirrors": ["https://hub-mirror.example.com"]' in header
    assert "CORP_HTTP_PROXY, CORP_HTTPS_PROXY, MOBYCI_DEV_IMAGE" in header
    assert "--no-interpolation" in header
    assert "--format buildkite" in header


def test_no_proxy_value_or_tracing_in_commands() -> None:
    doc = _doc(_spec("v19.03.12"))
    for step, script in bc.step_scripts(doc).items():
        assert "set -x" not in script, step
        for line in script.splitlines():
            if line.lstrip().startswith(("echo", "printf")) and "PROXY" in line.upper():
                assert "config.json" in line, f"{step} prints a proxy: {line}"


def test_render_is_deterministic_across_hash_seeds() -> None:
    spec = EXAMPLES / "release-27" / "mobyci.yaml"
    outputs = set()
    for seed in ("0", "1"):
        done = subprocess.run(
            [sys.executable, "-m", "mobyci", "render", "--format", "buildkite", str(spec)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_bake_steps_cache_in_the_spec_registry_on_their_own_builder() -> None:
    spec = _spec("v28.5.2")
    cached = spec + "ci: {buildkite: {cache: registry.example.com/ci/moby-cache}}\n"
    doc = _doc(cached)
    binary = _steps(doc)["mobyci-binary"]["commands"]
    assert 'MOBYCI_CACHE="type=registry,ref=registry.example.com/ci/moby-cache:" && export MOBYCI_CACHE' in binary
    assert 'BUILDX_BUILDER="mobyci-$$BUILDKITE_JOB_ID" && export BUILDX_BUILDER' in binary
    create = next(c for c in binary if c.startswith("docker buildx create"))
    assert "--driver docker-container" in create
    assert '--driver-opt "\\"env.http_proxy=$${http_proxy:-}\\""' in create
    # The builder's container reads http_proxy when it is created: the proxy, a CI variable here, is exported first.
    export = next(i for i, c in enumerate(binary) if c.startswith("export http_proxy="))
    assert export < binary.index(create)
    assert "registry.example.com/ci/moby-cache:<family>-<target>-<arch>" in render_pipeline(
        load_text(cached), "buildkite"
    )
    # Without the key: no cache, no builder of its own, and the plan and the header say so.
    plain = _doc(spec)
    commands = "\n".join(_steps(plain)["mobyci-binary"]["commands"])
    assert "MOBYCI_CACHE=" not in commands
    assert "buildx create" not in commands
    text = render_pipeline(load_text(spec), "buildkite")
    assert "# Buildkite: no build cache for the bake jobs (ci.buildkite.cache is unset)" in text


def test_the_check_step_is_there_only_for_a_committed_pipeline_and_runs_after_upload(tmp_path: Path) -> None:
    from mobyci.report.view import plan_text

    spec = "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\n"
    # Rendered and piped to `pipeline upload` at each build: no committed file, no check step, and neither the
    # plan nor the header describes one.
    piped = load_text(spec)
    assert "mobyci-check " not in plan_text(make_plan(piped, "buildkite"), width=200)
    text = render_pipeline(piped, "buildkite")
    assert "key: mobyci-check\n" not in text
    assert "# No check step: the spec lists no committed file under outputs:" in text
    # Committed: the check step comes first; after upload interpolation its commands check the file by its header.
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", repo], check=True)
    (repo / "mobyci.yaml").write_text(spec + "outputs: {buildkite: .buildkite/pipeline.yml}\n")
    subprocess.run([sys.executable, "-m", "mobyci", "render", "--all"], cwd=repo, check=True, capture_output=True)
    doc = pc.load_yaml((repo / ".buildkite" / "pipeline.yml").read_text())
    uploaded = bc.interpolate_pipeline(doc, {})
    check = uploaded["steps"][0]
    assert check["key"] == "mobyci-check"
    committed = load_text(spec + "outputs: {buildkite: .buildkite/pipeline.yml}\n")
    assert "  mobyci-check  " in plan_text(make_plan(committed, "buildkite"), width=200)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-e", "-c", "\n".join(check["commands"])],
            cwd=repo,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )

    # No mobyci.schema.json committed here: the schema check says it skipped, the header check runs.
    assert run().stdout == (
        ".buildkite/pipeline.yml: current\nmobyci.schema.json: not committed, so the spec was not checked against "
        "its schema; write it with: mobyci schema -o mobyci.schema.json\n"
    )
    with (repo / ".buildkite" / "pipeline.yml").open("a") as handle:
        handle.write("# a hand edit\n")
    edited = run()
    assert edited.returncode == 1
    assert ".buildkite/pipeline.yml: edited by hand" in edited.stderr
