"""GitLab pipelines: golden files and examples, each checked for what it means.

Every rendered pipeline must pass GitLab's official schema (check-jsonschema's vendor.gitlab-ci), the semantic
checks schemas miss, gitlab-ci-local's own parser and dependency-chain check, and shellcheck for every job.
Regenerate golden files and examples with `MOBYCI_UPDATE_GOLDEN=1 pytest tests/test_gitlab.py`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mobyci import __version__
from mobyci.emit.render import make_plan, render_pipeline
from mobyci.load.reader import load_file, load_text
from tests.helpers import pipeline_tools as pc
from tests.helpers.golden_cases import GOLDEN, assert_current, cases, load_case

CASES = cases("gitlab-ci.yml", ".gitlab-ci.yml")


def _render(spec: Path) -> str:
    # Render with the spec's path relative to the repository root of its case, as a user would run it.
    loaded = load_text(spec.read_text(), spec.name)
    return render_pipeline(loaded, "gitlab")


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rendered_pipeline_is_current(spec: Path, expected: Path) -> None:
    assert_current(spec, expected, "gitlab", "tests/test_gitlab.py")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {case_id: expected.read_text() for case_id, _, expected in CASES if expected.exists()}


def test_every_pipeline_passes_gitlabs_schema(rendered: dict[str, str]) -> None:
    assert rendered
    failures = {case: pc.schema_errors(text) for case, text in rendered.items()}
    assert {case: errors for case, errors in failures.items() if errors} == {}


def test_schema_check_can_fail(rendered: dict[str, str]) -> None:
    # The validator must reject a broken pipeline, or the test above proves nothing.
    text = next(iter(rendered.values())).replace("  stage: build\n", "  stage: build\n  scriptt: [x]\n", 1)
    assert pc.schema_errors(text)


def test_semantics_schemas_miss(rendered: dict[str, str]) -> None:
    problems = {case: pc.semantic_problems(pc.load_yaml(text)) for case, text in rendered.items()}
    assert {case: p for case, p in problems.items() if p} == {}


def test_semantic_checks_catch_a_dangling_need() -> None:
    doc = {"stages": ["build"], "a": {"stage": "build", "script": ["true"], "needs": ["nope"]}}
    assert pc.semantic_problems(doc) == ["a: needs missing job nope"]


def test_job_scripts_pass_shellcheck(rendered: dict[str, str]) -> None:
    findings = {}
    for case, text in rendered.items():
        for job, script in pc.job_scripts(pc.load_yaml(text)).items():
            out = pc.shellcheck(script)
            if out:
                findings[f"{case}:{job}"] = out
    assert findings == {}


def test_gitlab_ci_local_parses_and_validates_dependencies(rendered: dict[str, str], tmp_path: Path) -> None:
    for index, (case, text) in enumerate(rendered.items()):
        repo = pc.gitlab_ci_local_repo(tmp_path / str(index), text, {"mobyci.yaml": "version: 1\n"})
        listed = pc.gitlab_ci_local(repo, "--list-json")
        assert listed.returncode == 0, f"{case}: {listed.stderr}"
        names = {job["name"] for job in json.loads(listed.stdout)}
        doc = pc.load_yaml(text)
        assert {n for n in pc.jobs(doc) if n != "mobyci-check"} <= {n.split(":")[0] for n in names}, case
        chain = pc.gitlab_ci_local(repo, "--validate-dependency-chain", "--list")
        assert chain.returncode == 0, f"{case}: {chain.stdout}{chain.stderr}"


def _doc(spec_text: str) -> dict[str, Any]:
    loaded = load_text(spec_text)
    return pc.load_yaml(render_pipeline(loaded, "gitlab"))  # type: ignore[no-any-return]


PROXY_SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  apt: debian-mirror.example.com
  registry: https://hub-mirror.example.com
proxy: {http: $CORP_HTTP_PROXY, https: '${CORP_HTTPS_PROXY}', no_proxy: [.corp.example]}
targets: [binary, dynbinary]
ci: {gitlab: {runner: RUNNER}}
"""


def _proxy_spec(ref: str) -> str:
    # Debian buster (19.03) is archived: only an archive mirror serves it, and validation insists on one.
    spec = PROXY_SPEC.replace("REF", ref)
    return spec.replace("apt: debian-mirror.example.com", "apt: archive") if ref == "v19.03.12" else spec


@pytest.mark.parametrize("ref", ["v19.03.12", "v20.10.27", "v24.0.9", "v27.5.1", "docker-v29.7.2"])
def test_proxies_reach_the_daemon_and_builds_by_reassignment(ref: str) -> None:
    doc = _doc(_proxy_spec(ref).replace("RUNNER", "dind"))
    variables = doc["variables"]
    # Project variables are re-assigned under the names the dind service and the builds read.
    assert variables["HTTP_PROXY"] == variables["http_proxy"] == "$CORP_HTTP_PROXY"
    assert variables["HTTPS_PROXY"] == variables["https_proxy"] == "${CORP_HTTPS_PROXY}"
    no_proxy = variables["NO_PROXY"].split(",")
    assert no_proxy == [
        "docker", "docker:2375", "docker:2376", "localhost", "127.0.0.1", ".corp.example",
        # The instance and its registry: clones, docker login and the dev image push never go through the proxy.
        "$CI_SERVER_HOST", "$CI_REGISTRY",
    ]  # fmt: skip
    service = doc[".mobyci-docker"]["services"][0]
    assert service["alias"] == "docker"
    assert service["command"] == ["--registry-mirror=https://hub-mirror.example.com"]


def test_make_families_take_build_args_from_the_environment() -> None:
    doc = _doc(_proxy_spec("v20.10.27").replace("RUNNER", "dind"))
    script = pc.resolved(doc, doc["binary"])["script"]
    exported = [line for line in script if line.startswith("export DOCKER_BUILD_ARGS=")]
    assert exported == [
        'export DOCKER_BUILD_ARGS="--build-arg HTTP_PROXY --build-arg HTTPS_PROXY --build-arg NO_PROXY '
        '--build-arg http_proxy --build-arg https_proxy --build-arg no_proxy"'
    ]
    make = [line for line in script if line.startswith("make ")]
    assert make == ["make -C moby binary"]  # nothing on make's command line that replaces its own +=
    assert "export DOCKER_BUILD_APT_MIRROR=debian-mirror.example.com" in script


def test_bake_families_pass_proxies_as_bake_args_read_from_the_environment() -> None:
    doc = _doc(_proxy_spec("v24.0.9").replace("RUNNER", "dind"))
    script = pc.resolved(doc, doc["binary"])["script"]
    bake = next(line for line in script if line.startswith("mobyci_bake="))
    # `--set '*.args.NAME'` without a value: bake reads NAME from its environment, as `--build-arg NAME` does.
    assert "--set '*.args.HTTP_PROXY'" in bake
    assert "--set '*.args.no_proxy'" in bake
    assert not any("DOCKER_CONFIG" in line for line in script)  # the builder store stays where buildx looks
    assert 'make -C moby BAKE_CMD="$mobyci_bake" binary' in script
    assert "export APT_MIRROR=debian-mirror.example.com" in script
    assert not any("DOCKER_BUILD_ARGS" in line for line in script)


def test_no_proxy_value_or_tracing_in_scripts() -> None:
    doc = _doc(_proxy_spec("v19.03.12").replace("RUNNER", "dind"))
    for job, script in pc.job_scripts(doc).items():
        assert "set -x" not in script, job
        for line in script.splitlines():
            if line.lstrip().startswith(("echo", "printf")) and "PROXY" in line.upper():
                assert "config.json" in line, f"{job} prints a proxy: {line}"


def test_shape_parallel_targets_cross_matrix_and_short_chain() -> None:
    spec = _proxy_spec("v27.5.1").replace("RUNNER", "dind")
    spec = spec.replace("targets: [binary, dynbinary]", "targets: [binary, dynbinary, cross]")
    doc = _doc(spec)
    assert doc["binary"]["needs"] == doc["dynbinary"]["needs"] == ["prepare"]
    platforms = doc["cross"]["parallel"]["matrix"][0]["MOBYCI_PLATFORM"]
    assert platforms == list(load_text(spec).release.family.cross_platforms)
    assert doc["checksums"]["needs"] == ["binary", "dynbinary", "cross"]
    assert pc.longest_chain(doc) == 3
    assert doc["default"]["retry"] == {
        "max": 2,
        "when": ["runner_system_failure", "stuck_or_timeout_failure", "api_failure", "scheduler_failure"],
    }
    assert doc["default"]["interruptible"] is True
    assert doc["default"]["timeout"] == "2h"


def test_dev_image_is_built_once_and_shared_through_the_registry() -> None:
    spec = _proxy_spec("v19.03.12").replace("RUNNER", "dind")
    doc = _doc(spec)
    assert doc["variables"]["MOBYCI_DEV_IMAGE"] == "$CI_REGISTRY_IMAGE/moby-dev"
    prepare = "\n".join(doc["prepare"]["script"])
    assert prepare.count(" build") == 1
    # The layer cache survives across pipelines, one per architecture.
    assert 'MOBYCI_DEV_CACHE="$MOBYCI_DEV_IMAGE:cache-$(uname -m)"' in prepare
    assert 'docker push "$MOBYCI_DEV_CACHE"' in prepare
    assert "--cache-from $MOBYCI_DEV_CACHE" in prepare
    for target in ("binary", "dynbinary"):
        script = "\n".join(doc[target]["script"])
        assert 'docker pull "$MOBYCI_DEV_IMAGE:$MOBYCI_DEV_TAG"' in script
        assert " build" not in script


def test_shell_profile_has_no_image_or_service() -> None:
    doc = _doc(_proxy_spec("v27.5.1").replace("RUNNER", "shell"))
    for name, job in pc.jobs(doc).items():
        if name != "mobyci-check":
            assert "image" not in pc.resolved(doc, job), name
            assert "services" not in pc.resolved(doc, job), name
    assert "DOCKER_HOST" not in doc["variables"]


def test_plan_json_is_stable_and_names_variables_not_values(tmp_path: Path) -> None:
    from mobyci.report.view import plan_json

    spec = tmp_path / "mobyci.yaml"
    spec.write_text(_proxy_spec("v27.5.1").replace("RUNNER", "dind"))
    loaded = load_file(str(spec))
    data = json.loads(plan_json(make_plan(loaded)))
    assert data["schema_version"] == 2
    assert data["moby"]["family"] == "25-28"
    assert data["ci_variables"] == ["CORP_HTTP_PROXY", "CORP_HTTPS_PROXY"]
    assert [j["name"] for j in data["jobs"]] == ["mobyci-check", "prepare", "binary", "dynbinary", "checksums"]
    ids = [r["id"] for r in data["rewrites"]]
    assert len(ids) == len(set(ids))
    assert all(r["files"] for r in data["rewrites"])
    assert {"registry", "apt-base"} <= set(ids)  # 25+: no apt knob, so the patch injects the mirror


@pytest.mark.parametrize(
    ("mirror", "expected"),
    [
        (None, ["add", "--no-cache", "make", "bash", "coreutils"]),
        (
            "https://mirrors.example.com/alpine/",
            ["add", "--no-cache", "--repositories-file", "/dev/null", "--repository",
             "https://mirrors.example.com/alpine/v3.21/main", "make", "bash", "coreutils"],
        ),
    ],
)  # fmt: skip
def test_apk_add_uses_the_alpine_mirror_for_the_images_release(
    tmp_path: Path, mirror: str | None, expected: list[str]
) -> None:
    mirrors = f"mirrors: {{alpine: '{mirror}'}}\n" if mirror else ""
    doc = _doc(f"version: 1\nmoby: {{ref: v27.5.1}}\n{mirrors}targets: [binary]\n")
    (line,) = doc[".mobyci-docker"]["before_script"]
    # Run the line under dash with a recording apk, against an Alpine 3.21.3 release file.
    release = tmp_path / "alpine-release"
    release.write_text("3.21.3\n")
    (tmp_path / "apk").write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    (tmp_path / "apk").chmod(0o755)
    done = subprocess.run(
        ["dash", "-c", line.replace("/etc/alpine-release", str(release))],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == expected


def test_check_job_installs_from_the_pypi_mirror() -> None:
    spec = "version: 1\nmoby: {ref: v27.5.1}\nmirrors: {pypi: 'https://pypi.example.com/simple'}\ntargets: [binary]\n"
    # By default only the schema checker comes from the index; mobyci itself with ci.mobyci_requirement.
    schema = _doc(spec)["mobyci-check"]["script"][-2]
    assert (
        " && .mobyci-venv/bin/pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 "
        "--index-url https://pypi.example.com/simple check-jsonschema; then\n"
    ) in schema
    full = _doc(spec + f"ci: {{mobyci_requirement: mobyci=={__version__}}}\n")["mobyci-check"]["script"]
    assert full[1] == (
        ".mobyci-venv/bin/pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 "
        f"--index-url https://pypi.example.com/simple mobyci=={__version__}"
    )


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("$CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX", "$CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX/"),
        ("registry.example.com:5000/hub/library/", "registry.example.com:5000/hub/library/"),
        (None, ""),
    ],
)
def test_every_image_comes_through_the_image_prefix(prefix: str | None, expected: str) -> None:
    ci = f"ci: {{gitlab: {{image_prefix: '{prefix}'}}}}\n" if prefix else ""
    doc = _doc(f"version: 1\nmoby: {{ref: v27.5.1}}\ntargets: [binary]\n{ci}")
    images = {job["image"] for job in doc.values() if isinstance(job, dict) and "image" in job}
    images |= {service["name"] for service in doc[".mobyci-docker"]["services"]}
    assert images == {f"{expected}docker:27.5.1-cli", f"{expected}docker:27.5.1-dind", f"{expected}python:3.12-slim"}


def test_logins_reach_the_job_scripts_and_not_the_dind_service() -> None:
    # gitlab-runner gives a service every variable of its job, YAML ones included (what carries the proxies to the
    # dind daemon); the logins are read by the job scripts only, so they are exported there from the project's CI
    # variables, which never reach a service.
    spec = GOLDEN / "27-auth-mirrors" / "spec.yaml"
    doc = pc.load_yaml(render_pipeline(load_case(spec), "gitlab"))
    logins = ("MOBYCI_GIT_USERNAME", "MOBYCI_GIT_PASSWORD", "MOBYCI_REGISTRY_USERNAME", "MOBYCI_REGISTRY_PASSWORD")
    assert not set(logins) & set(doc["variables"])
    assert all(not set(logins) & set(job.get("variables", {})) for job in doc.values() if isinstance(job, dict))
    prepare = doc["prepare"]["script"]
    assert 'export MOBYCI_GIT_PASSWORD="${GIT_MIRROR_TOKEN}"' in prepare
    assert prepare.index('export MOBYCI_GIT_PASSWORD="${GIT_MIRROR_TOKEN}"') < next(
        i for i, line in enumerate(prepare) if "$MOBYCI_GIT_PASSWORD" in line
    )
