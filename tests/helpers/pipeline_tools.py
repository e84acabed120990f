"""Tools the pipeline tests share: the external validators (schemas, shellcheck, gitlab-ci-local) and the rules
GitLab applies that its official schema cannot express.

Reused by the golden, example, property and executed-pipeline tests.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

GITLAB_NEEDS_LIMIT = 50
GITLAB_MATRIX_LIMIT = 200
MAX_CHAIN = 3


def tool(name: str) -> str:
    """An external validator on PATH. A plain `pytest` without it skips the test that needs it; under `.ci/run`
    (which installs them all and sets MOBYCI_REQUIRE_EXTERNAL=1) a missing one is a failure."""
    found = shutil.which(name)
    if found is None:
        why = f"{name} is not on PATH: run the tests through `bash .ci/run`, which installs it"
        if os.environ.get("MOBYCI_REQUIRE_EXTERNAL") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return found


def load_yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    reserved = {"stages", "workflow", "variables", "default", "include", "image", "services", "cache"}
    return {k: v for k, v in doc.items() if k not in reserved and not k.startswith(".") and isinstance(v, dict)}


def resolved(doc: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """A job with its `extends` templates merged in (GitLab's deep merge is not needed: flat keys only)."""
    merged: dict[str, Any] = {}
    extends = job.get("extends", [])
    for parent in [extends] if isinstance(extends, str) else extends:
        merged.update(resolved(doc, doc[parent]))
    merged.update({k: v for k, v in job.items() if k != "extends"})
    return merged


def semantic_problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    stages = doc.get("stages", [])
    all_jobs = jobs(doc)
    for name, job in all_jobs.items():
        for parent in [job.get("extends")] if isinstance(job.get("extends"), str) else job.get("extends", []):
            if parent not in doc:
                problems.append(f"{name}: extends missing {parent}")
        full = resolved(doc, job)
        if not full.get("script"):
            problems.append(f"{name}: no script")
        if full.get("stage", "test") not in stages:
            problems.append(f"{name}: stage {full.get('stage')} is not declared")
        needs = full.get("needs", [])
        if len(needs) > GITLAB_NEEDS_LIMIT:
            problems.append(f"{name}: {len(needs)} needs (limit {GITLAB_NEEDS_LIMIT})")
        for need in needs:
            target = need["job"] if isinstance(need, dict) else need
            if target not in all_jobs:
                problems.append(f"{name}: needs missing job {target}")
            elif stages.index(all_jobs[target]["stage"]) >= stages.index(full["stage"]):
                problems.append(f"{name}: needs {target} of a later or same stage")
        for entry in full.get("parallel", {}).get("matrix", []) if isinstance(full.get("parallel"), dict) else []:
            count = 1
            for values in entry.values():
                count *= len(values) if isinstance(values, list) else 1
            if count > GITLAB_MATRIX_LIMIT:
                problems.append(f"{name}: matrix of {count} jobs (limit {GITLAB_MATRIX_LIMIT})")
        retry = full.get("retry", doc.get("default", {}).get("retry"))
        if isinstance(retry, dict) and retry.get("max", 0) > 2:
            problems.append(f"{name}: retry max above 2")
    chain = longest_chain(doc)
    if chain > MAX_CHAIN:
        problems.append(f"longest needs chain is {chain} jobs (at most {MAX_CHAIN})")
    return problems


def longest_chain(doc: dict[str, Any]) -> int:
    all_jobs = jobs(doc)

    @functools.cache
    def depth(name: str) -> int:
        if name not in all_jobs:
            return 1  # reported by semantic_problems as a dangling need
        needs = resolved(doc, all_jobs[name]).get("needs", [])
        return 1 + max((depth(n["job"] if isinstance(n, dict) else n) for n in needs), default=0)

    return max((depth(n) for n in all_jobs), default=0)


def job_scripts(doc: dict[str, Any]) -> dict[str, str]:
    """Each job's shell, as the runner runs it: before_script then script, in one shell."""
    out = {}
    for name, job in jobs(doc).items():
        full = resolved(doc, job)
        lines = [*full.get("before_script", []), *full.get("script", [])]
        out[name] = "\n".join(lines) + "\n"
    return out


def shellcheck(text: str, shell: str = "sh") -> str:
    done = subprocess.run(
        [tool("shellcheck"), "-s", shell, "-f", "gcc", "-"], input=text, capture_output=True, text=True, check=False
    )
    return done.stdout


def schema_errors(text: str, schema: str = "vendor.gitlab-ci") -> list[str]:
    """Validate with check-jsonschema's vendored schema (the CLI, with GitLab's transform)."""
    done = subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            schema,
            "--default-filetype",
            "yaml",
            *(["--data-transform", "gitlab-ci", "--regex-variant", "nonunicode"] if "gitlab" in schema else []),
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    return [] if done.returncode == 0 else [done.stdout + done.stderr]


def gitlab_ci_local_repo(root: Path, pipeline: str, files: dict[str, str] | None = None) -> Path:
    """A git repository gitlab-ci-local accepts: committed files, an origin, origin/main at HEAD."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitlab-ci.yml").write_text(pipeline)
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "ci@mobyci.test")
    git("config", "user.name", "mobyci tests")
    git("add", "-A")
    git("commit", "-qm", "pipeline")
    git("remote", "add", "origin", "https://gitlab.example.com/group/project.git")
    # rules:changes compares against origin/main; with nothing changed the spec-check job stays out.
    git("update-ref", "refs/remotes/origin/main", "HEAD")
    git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return root


def gitlab_ci_local(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("gitlab-ci-local"), "--no-color", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )


# --- executed shell-profile pipelines (test_pipeline_run.py, test_packaging.py) -----------------------------------

# Proxy values the executed pipelines get as CI variables: they hold credentials, so no log may show them.
HTTP_PROXY = "http://user:s3cr3t-http@proxy.corp.test:3128"
HTTPS_PROXY = "http://user:s3cr3t-https@proxy.corp.test:3129"


def run_shell_pipeline(
    tmp_path: Path, spec_text: str, *, git_mirrors: dict[str, Path], standins: Path, variables: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[Any], Path]:
    """Render `spec_text` for GitLab and run it with gitlab-ci-local's shell executor.

    Clones of each URL in `git_mirrors` reach its local repository (git insteadOf in a private HOME); the
    recording stand-ins in `standins` come first on PATH. The proxies and `variables` are the CI variables.
    Returns the run, the stand-ins' recorded calls, and the artifacts directory.
    """
    from mobyci.emit.render import render_pipeline
    from mobyci.load.reader import load_text

    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "".join(f'[url "file://{path}"]\n\tinsteadOf = {url}\n' for url, path in git_mirrors.items())
    )
    pipeline = render_pipeline(load_text(spec_text, "mobyci.yaml"), "gitlab")
    project = gitlab_ci_local_repo(tmp_path / "project", pipeline, {"mobyci.yaml": spec_text})
    record = tmp_path / "record.jsonl"
    record.touch()
    values = {"CORP_HTTP_PROXY": HTTP_PROXY, "CORP_HTTPS_PROXY": HTTPS_PROXY, **variables}
    done = gitlab_ci_local(
        project,
        "--shell-executor-no-image",
        "--shell-isolation",
        "--no-artifacts-to-source",
        *[arg for name, value in values.items() for arg in ("--variable", f"{name}={value}")],
        env={
            "PATH": f"{standins}:{Path(tool('gitlab-ci-local')).parent}:/usr/bin:/bin",
            "HOME": str(home),
            "MOBYCI_RECORD": str(record),
        },
    )
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return done, calls, project / ".gitlab-ci-local" / "artifacts"


def passed_jobs(output: str) -> list[str]:
    """The jobs gitlab-ci-local reports as passed, in its order."""
    return [line.split("PASS", 1)[1].strip() for line in output.splitlines() if line.strip().startswith("PASS")]


def checked_sums(artifacts: Path) -> list[str]:
    """Every line of the final SHA256SUMS matches the file it names (bundles relative to moby/), as the build
    job that made it uploaded it; the names. The checksums job uploads its SHA256SUMS and nothing else."""
    assert [p.name for p in (artifacts / "checksums").iterdir()] == ["SHA256SUMS"]
    names = []
    for line in (artifacts / "checksums" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        relative = name if name.startswith("packages/") else f"moby/{name}"
        found = [job / relative for job in artifacts.iterdir() if (job / relative).is_file()]
        assert len(found) == 1, name
        assert hashlib.sha256(found[0].read_bytes()).hexdigest() == digest, name
        names.append(name)
    return names


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def fixture_moby_repo(tmp: Path, tree: Path, ref: str) -> Path:
    """A git repository of a fixture tree (tests/fixtures/trees/<family>) with `ref` tagged, for the pipeline
    to clone through its git mirror."""
    repo = tmp / "moby-origin"
    shutil.copytree(tree, repo)
    git(repo, "init", "-q", "-b", "master")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "moby")
    git(repo, "tag", ref)
    return repo
