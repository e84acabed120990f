"""Run a rendered GitLab pipeline (runner profile `shell`) in the Lab's runner namespace, as a runner would.

gitlab-ci-local's shell executor runs the jobs; the runner machine has Debian's docker client first on PATH,
a HOME whose git trusts the corp CA, and the CI variables a project would set. Nothing in the rendered
pipeline is edited.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.helpers import pipeline_tools as pc
from tests.helpers import realengine
from tests.helpers.realengine import corp as corpmod
from tests.helpers.realengine.lab import Lab

# The CI variables of the project (GitLab's predefined registry variables, the proxy the spec names).
VARIABLES = {
    "CORP_HTTP_PROXY": corpmod.PROXY,
    "CI_REGISTRY": corpmod.REGISTRY,
    "CI_REGISTRY_IMAGE": f"{corpmod.REGISTRY}/group/project",
    "CI_REGISTRY_USER": "ci",
    "CI_REGISTRY_PASSWORD": "unused-by-the-corp-registry",
}
_FINISHED = re.compile(r"^(?P<job>\S+)\s+finished in (?P<value>[\d.]+) (?P<unit>ms|s|min|h)\b")
_UNIT = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}


def runner_env(lab: Lab, home: Path, extra_path: tuple[Path, ...] = ()) -> dict[str, str]:
    """The runner machine's environment: Debian's docker client, gitlab-ci-local, git trusting the corp CA."""
    assert lab.corp is not None
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(f"[http]\n\tsslCAInfo = {lab.corp.ca}\n")
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "docker").exists():
        (bin_dir / "docker").symlink_to(realengine.DOCKER_CLIENT)
    glcl = Path(pc.tool("gitlab-ci-local")).parent
    path = ":".join(str(p) for p in (*extra_path, bin_dir, glcl))
    return {"PATH": f"{path}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home)}


def run(
    lab: Lab,
    workdir: Path,
    spec_text: str,
    *,
    env: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    timeout: float = 3600,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Render `spec_text` for GitLab and run the pipeline; returns the run and the artifacts directory.
    The whole output is in `workdir/pipeline.log`."""
    from mobyci.emit.render import render_pipeline
    from mobyci.load.reader import load_text

    pipeline = render_pipeline(load_text(spec_text, "mobyci.yaml"), "gitlab")
    project = pc.gitlab_ci_local_repo(workdir / "project", pipeline, {"mobyci.yaml": spec_text})
    values = {**VARIABLES, **(variables or {})}
    done = lab.runner(
        [
            pc.tool("gitlab-ci-local"),
            "--no-color",
            "--shell-executor-no-image",
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--ignore-predefined-vars",
            "CI_REGISTRY,CI_REGISTRY_IMAGE",
            *[arg for name, value in values.items() for arg in ("--variable", f"{name}={value}")],
        ],
        env=env if env is not None else runner_env(lab, workdir / "home"),
        cwd=project,
        timeout=timeout,
    )
    (workdir / "pipeline.log").write_text(done.stdout + done.stderr)
    return done, project / ".gitlab-ci-local" / "artifacts"


def job_seconds(output: str) -> dict[str, float]:
    """Each job's wall time as gitlab-ci-local reports it (`<job> finished in 4.2 min`)."""
    times = {}
    for line in output.splitlines():
        m = _FINISHED.match(line.strip())
        if m and m["job"] != "pipeline":
            times[m["job"]] = round(float(m["value"]) * _UNIT[m["unit"]], 1)
    return times
