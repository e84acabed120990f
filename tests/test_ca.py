"""tls.ca_certs: the corporate CA of a TLS-inspecting proxy, from the spec to every place a build trusts it.

Validation of committed CA files, the patch (the script, `--apply`, the Python reference) on fixture trees of
every family, the GitLab dind service's entrypoint, GitHub's builder config, and a gitlab-ci-local run of the
shell profile that shows the CA where git, pip, the patch and the Dockerfile read it.
The real engine's half is tests/test_real_ca.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from mobyci.emit.render import render_pipeline
from mobyci.errors import MobyciError, SpecError
from mobyci.load.reader import load_text
from mobyci.patch.apply import apply_patch
from mobyci.patch.script import build_patch_script
from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc
from tests.helpers import reference_patch as reference

FIXTURES = ROOT / "tests" / "fixtures"
GOLDEN_CA = FIXTURES / "public-ca.pem"  # a throwaway CA's certificate (its key was never kept)
TREES = {"v19.03.12": "19.03", "v20.10.27": "20.10", "v23.0.18": "23.0", "v24.0.9": "24.0", "v28.5.2": "25-28"}
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"


def _spec(ref: str = "v28.5.2", ca: str = "[$CORP_CA_CERT]", extra: str = "") -> str:
    return f"version: 1\nmoby: {{ref: {ref}}}\ntls: {{ca_certs: {ca}}}\ntargets: [binary]\n{extra}"


def _problems(text: str, base: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_text(text, "mobyci.yaml", base=base)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------- validation


def test_a_committed_file_that_is_not_pem_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "ca.cer").write_bytes(b"\x30\x82\x01\x0a\x02\x82\x01\x01\x00")  # DER starts like this
    assert _problems(_spec(ca="[ca.cer]"), tmp_path) == [
        "mobyci.yaml:3:18: tls.ca_certs[0]: 'ca.cer' is not a PEM certificate (no -----BEGIN CERTIFICATE----- "
        "block): convert it with `openssl x509 -inform der -in CA.cer -out CA.pem`"
    ]


def test_a_private_key_instead_of_a_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text(GOLDEN_CA.read_text() + KEY)
    (problem,) = _problems(_spec(ca="[$CORP_CA_CERT, ca.pem]"), tmp_path)
    assert problem.startswith("mobyci.yaml:3:33: tls.ca_certs[1]: 'ca.pem' holds a private key, not a certificate")
    assert "never commit a key" in problem


def test_other_pem_blocks_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "req.pem").write_text("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n")
    problems = _problems(_spec(ca="[req.pem, nowhere.pem]"), tmp_path)
    assert problems == [
        "mobyci.yaml:3:18: tls.ca_certs[0]: 'req.pem' holds a CERTIFICATE REQUEST, not a CERTIFICATE: export the "
        "CA's certificate in PEM form",
        "mobyci.yaml:3:27: tls.ca_certs[1]: no such file 'nowhere.pem' next to the spec: commit the CA's PEM file "
        "there, or give it through a CI variable ($CORP_CA_CERT)",
    ]


@pytest.mark.parametrize("value", ["/etc/ssl/ca.pem", "../ca.pem", "$(id).pem", "$1", "certs/"])
def test_paths_outside_the_repository_and_odd_values_are_refused(tmp_path: Path, value: str) -> None:
    (problem,) = _problems(_spec(ca=f"['{value}']"), tmp_path)
    assert "tls.ca_certs[0]: " in problem


def test_a_committed_pem_and_a_variable_load(tmp_path: Path) -> None:
    shutil.copy(GOLDEN_CA, tmp_path / "ca.pem")
    loaded = load_text(_spec(ca="[$CORP_CA_CERT, '${OTHER_CA}', ca.pem]"), "mobyci.yaml", base=tmp_path)
    assert loaded.spec.tls.ca_certs == ["$CORP_CA_CERT", "${OTHER_CA}", "ca.pem"]
    assert loaded.warnings == ()


def test_a_proxy_without_a_ca_gets_no_warning() -> None:
    # Most proxies do not inspect TLS: a missing CA is not a mistake.
    loaded = load_text("version: 1\nmoby: {ref: v28.5.2}\nproxy: {https: $CORP_PROXY}\ntargets: [binary]\n")
    assert loaded.warnings == ()
    assert loaded.spec.tls.ca_certs == []


# ---------------------------------------------------------------------------------------------- the patch


def _tree(tmp_path: Path, family: str, name: str) -> Path:
    tree = tmp_path / name
    shutil.copytree(FIXTURES / "trees" / family, tree)
    return tree


def _blocks(dockerfile: str) -> dict[str, list[str]]:
    """The stage each `# mobyci:ca…` block sits under, and the lines between its FROM and the block."""
    found: dict[str, list[str]] = {}
    lines = dockerfile.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("# mobyci:ca"):
            start = max(i for i in range(index) if lines[i].startswith("FROM "))
            found[lines[start].rsplit(" ", 1)[1]] = lines[start + 1 : index]
    return found


@pytest.mark.parametrize("ref", sorted(TREES))
def test_the_patch_trusts_the_ca_right_after_each_root_debian_from(tmp_path: Path, ref: str) -> None:
    family = TREES[ref]
    # 19.03's Debian buster is archived: validation insists on an archive mirror.
    loaded = load_text(_spec(ref=ref, extra="mirrors: {apt: archive}\n" if ref == "v19.03.12" else ""))
    ca = tmp_path / "ca.crt"
    shutil.copy(GOLDEN_CA, ca)
    by_script, applied, python = (_tree(tmp_path, family, name) for name in ("sh", "apply", "py"))
    script = tmp_path / "patch.sh"
    script.write_text(build_patch_script(loaded))
    env = {**os.environ, "MOBYCI_CA_FILE": str(ca)}
    done = subprocess.run(["dash", str(script), str(by_script)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    os.environ["MOBYCI_CA_FILE"] = str(ca)
    try:
        report = apply_patch(loaded, applied, check=False)
        again = apply_patch(loaded, applied, check=True)
    finally:
        del os.environ["MOBYCI_CA_FILE"]
    by_reference = reference.run_spec(loaded, python, check=False, environ=env)
    assert done.stdout.splitlines() == report.lines == by_reference.lines
    assert not again.pending
    assert again.lines[-1] == "already applied: nothing to change"
    for tree in (by_script, applied, python):
        assert (tree / ".mobyci" / "ca.crt").read_bytes() == GOLDEN_CA.read_bytes()
        dockerfile = (tree / "Dockerfile").read_text()
        # 19.03's frozen-images stage is `FROM base`: it inherits base's store. From 20.10 it is `FROM debian`.
        roots = ["base"] if family == "19.03" else ["base", "frozen-images"]
        assert sorted(_blocks(dockerfile)) == sorted(roots)
        assert all(between == [] for between in _blocks(dockerfile).values())  # nothing runs before the CA
        assert dockerfile.count("COPY .mobyci/ca.crt /usr/local/share/ca-certificates/mobyci-ca.crt") == len(roots)
    assert (by_script / "Dockerfile").read_bytes() == (applied / "Dockerfile").read_bytes()
    assert (by_script / "Dockerfile").read_bytes() == (python / "Dockerfile").read_bytes()


def test_the_patch_refuses_a_missing_ca_file_and_a_key(tmp_path: Path) -> None:
    loaded = load_text(_spec())
    script = tmp_path / "patch.sh"
    script.write_text(build_patch_script(loaded))
    key = tmp_path / "key.pem"
    key.write_text(KEY)
    for value, message in (
        ("", "tls.ca_certs: MOBYCI_CA_FILE is not set: set it to the PEM file of the CA certificates"),
        (str(key), f"tls.ca_certs: {key} holds a private key, not a certificate"),
        (str(tmp_path / "none"), f"tls.ca_certs: MOBYCI_CA_FILE names no readable file: {tmp_path / 'none'}"),
    ):
        tree = _tree(tmp_path, "25-28", f"t{len(value)}")
        before = (tree / "Dockerfile").read_bytes()
        env = {**os.environ, "MOBYCI_CA_FILE": value}
        done = subprocess.run(["dash", str(script), str(tree)], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 1
        assert done.stderr.startswith(f"mobyci-patch: {message}")
        with pytest.raises(MobyciError, match="^" + message.replace("(", r"\(")):
            reference.run_spec(loaded, tree, check=False, environ=env)
        os.environ["MOBYCI_CA_FILE"] = value
        try:
            with pytest.raises(MobyciError, match="^" + message.replace("(", r"\(")):
                apply_patch(loaded, tree, check=False)
        finally:
            del os.environ["MOBYCI_CA_FILE"]
        assert (tree / "Dockerfile").read_bytes() == before
        assert not (tree / ".mobyci").exists()


def test_a_changed_ca_is_copied_again(tmp_path: Path) -> None:
    loaded = load_text(_spec())
    tree = _tree(tmp_path, "25-28", "tree")
    ca = tmp_path / "ca.crt"
    ca.write_text(GOLDEN_CA.read_text())
    os.environ["MOBYCI_CA_FILE"] = str(ca)
    try:
        apply_patch(loaded, tree, check=False)
        ca.write_text(GOLDEN_CA.read_text() * 2)  # the CA was renewed: a second certificate in the bundle
        report = apply_patch(loaded, tree, check=True)
    finally:
        del os.environ["MOBYCI_CA_FILE"]
    assert report.pending
    assert "  ca                 .mobyci/ca.crt                               to copy" in report.lines


# ---------------------------------------------------------------------------------------------- the pipelines


def _golden(fmt: str) -> str:
    spec = ROOT / "tests" / "golden" / "28-dind-ca" / "spec.yaml"
    return render_pipeline(load_text(spec.read_text(), "spec.yaml", base=spec.parent), fmt)


def test_the_dind_service_trusts_the_ca_before_it_starts() -> None:
    doc = pc.load_yaml(_golden("gitlab"))
    (service,) = doc[".mobyci-docker"]["services"]
    sh, dash_c, script, name = service["entrypoint"]
    assert (sh, dash_c, name) == ("sh", "-c", "mobyci-dind")
    # GitLab passes project variables to services only when `variables:` re-assigns them.
    assert doc["variables"]["MOBYCI_SERVICE_CA_1"] == "$CORP_CA_CERT"
    assert service["command"] == ["--registry-mirror=https://registry.mirror.example.com"]
    assert script.splitlines()[-1] == 'exec dockerd-entrypoint.sh --mtu="$mobyci_mtu" "$@"'
    for where in ("/etc/docker/certs.d/registry-1.docker.io", "/etc/docker/certs.d/registry.mirror.example.com"):
        assert where in script
    assert pc.shellcheck(script) == ""
    # The cli image's apk reaches Alpine's CDN over https: its bundle gets the CA before `apk add`.
    before = doc[".mobyci-docker"]["before_script"]
    assert before.index("cat .mobyci-ca.crt >> /etc/ssl/certs/ca-certificates.crt") < len(before) - 1


def _run_service_script(tmp_path: Path, value: str, mtu: str | None = "1360") -> subprocess.CompletedProcess[str]:
    """The service's entrypoint under dash with its absolute paths moved into tmp_path (a stand-in root); `mtu`: its
    eth0's (None: no eth0)."""
    doc = pc.load_yaml(_golden("gitlab"))
    script = doc[".mobyci-docker"]["services"][0]["entrypoint"][2]
    root = tmp_path / "root"
    (root / "etc/ssl/certs").mkdir(parents=True)
    (root / "etc/ssl/certs/ca-certificates.crt").write_text("SYSTEM ROOTS\n")
    if mtu is not None:
        (root / "sys/class/net/eth0").mkdir(parents=True)
        (root / "sys/class/net/eth0/mtu").write_text(mtu + "\n")
    # No etc/docker: docker:dind has none until its daemon starts (test_real_dind runs the script for real).
    script = script.replace("/etc/", f"{root}/etc/").replace("/sys/", f"{root}/sys/")
    script = script.replace("exec dockerd-entrypoint.sh", "exec echo started:")
    return subprocess.run(
        ["dash", "-c", script, "mobyci-dind", "--registry-mirror=x"],
        env={"PATH": os.environ["PATH"], "MOBYCI_SERVICE_CA_1": value},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_service_script_writes_the_ca_where_the_daemon_reads_it(tmp_path: Path) -> None:
    pem = GOLDEN_CA.read_text()
    done = _run_service_script(tmp_path, pem)
    assert done.returncode == 0, done.stderr
    # The network's MTU first (GitLab.com's hosted runners: 1360), then the service's command.
    assert done.stdout == "started: --mtu=1360 --registry-mirror=x\n"
    root = tmp_path / "root"
    assert (root / "etc/ssl/certs/ca-certificates.crt").read_text() == "SYSTEM ROOTS\n" + pem
    for host in ("docker.io", "registry-1.docker.io", "index.docker.io", "registry.mirror.example.com"):
        assert (root / "etc/docker/certs.d" / host / "ca.crt").read_text() == pem


def test_without_an_eth0_the_service_keeps_docker_s_default_mtu(tmp_path: Path) -> None:
    done = _run_service_script(tmp_path, GOLDEN_CA.read_text(), mtu=None)
    assert (done.returncode, done.stdout) == (0, "started: --mtu=1500 --registry-mirror=x\n")


def test_the_service_refuses_a_path_it_cannot_read(tmp_path: Path) -> None:
    # What a GitLab file variable looks like in the service: the path of a file that exists in the job only.
    done = _run_service_script(tmp_path, "/builds/group/project.tmp/CORP_CA_CERT")
    assert done.returncode == 1
    assert "CORP_CA_CERT is neither a readable file nor PEM text" in done.stderr
    assert "(a CI variable of type Variable)" in done.stderr
    assert done.stdout == ""


def test_github_builder_trusts_the_ca_written_before_it_starts() -> None:
    doc = pc.load_yaml(_golden("github"))
    steps = doc["jobs"]["binary"]["steps"]
    names = [step.get("name", "") for step in steps]
    ca_step = names.index("Trust the corporate CA (tls.ca_certs)")
    buildx = names.index("Set up a BuildKit builder")
    assert ca_step < buildx
    assert "Check out the repository" not in names  # no committed CA file: nothing to read from a checkout
    assert steps[ca_step]["env"] == {"CORP_CA_CERT": "${{ secrets.CORP_CA_CERT }}"}
    config = steps[buildx]["with"]["buildkitd-config-inline"]
    assert config == (
        '[registry."docker.io"]\n  mirrors = ["registry.mirror.example.com"]\n'
        '  ca = ["${{ github.workspace }}/.mobyci-ca.crt"]\n\n'
        '[registry."registry.mirror.example.com"]\n  ca = ["${{ github.workspace }}/.mobyci-ca.crt"]\n'
    )


def test_github_jobs_that_read_a_committed_ca_check_the_repository_out(tmp_path: Path) -> None:
    shutil.copy(GOLDEN_CA, tmp_path / "ca.pem")
    loaded = load_text(_spec(ca="[$CORP_CA_CERT, ca.pem]"), "mobyci.yaml", base=tmp_path)
    jobs = pc.load_yaml(render_pipeline(loaded, "github"))["jobs"]
    for name in ("mobyci-check", "prepare", "binary"):
        assert jobs[name]["steps"][0]["name"] == "Check out the repository", name
    assert "Check out the repository" not in [step.get("name") for step in jobs["checksums"]["steps"]]


def test_plan_shows_where_the_ca_is_installed() -> None:
    from mobyci.emit.render import make_plan
    from mobyci.report.view import plan_data

    spec = ROOT / "tests" / "golden" / "23.0-shell-ca" / "spec.yaml"
    loaded = load_text(spec.read_text(), "spec.yaml", base=spec.parent)
    data = plan_data(make_plan(loaded))
    places = "\n".join(data["ca_installed"])
    assert "stages base, frozen-images (COPY + update-ca-certificates right after FROM)" in places
    assert "GIT_SSL_CAINFO" in places
    assert "PIP_CERT" in places
    assert [r["id"] for r in data["rewrites"]][:2] == ["ca", "ca-frozen-images"]


@pytest.mark.parametrize("system", ["gitlab", "buildkite", "github"])
@pytest.mark.parametrize("ref", ["v28.5.2", "v20.10.27"])
@pytest.mark.parametrize(
    "extra",
    ["", "ci: {gitlab: {runner: shell}, buildkite: {cache: registry.example.test/ci/cache}}\n"],
)
def test_the_plan_says_the_ca_is_trusted_by_the_daemons_and_builders_its_pipeline_has(
    system: str, ref: str, extra: str
) -> None:
    import importlib

    from mobyci.emit.render import make_plan
    from mobyci.formats import FORMATS, ci_system
    from mobyci.report.view import plan_data

    loaded = load_text(_spec(ref, extra=extra))
    plan = make_plan(loaded, system, patch_script=build_patch_script(loaded))
    places = plan_data(plan)["ca_installed"]
    # What the rendered pipeline runs, read from the emitter's own document, not from the system object.
    rendered = importlib.import_module(FORMATS[system].module).runner_fetches(plan)
    assert any(p.startswith("BuildKit builders mobyci creates: ") for p in places) == bool(rendered.builders)
    assert any("docker-in-docker service" in p for p in places) == bool(rendered.dind)
    assert any(p.startswith("check job: ") for p in places) == any(job.check_only for job in plan.jobs)
    on_host = any(job.docker and job.name not in rendered.dind for job in plan.jobs)
    assert any("the host's Docker daemon" in p for p in places) == on_host
    others = {"GitLab", "Buildkite", "GitHub"} - {ci_system(system).title.split()[0]}
    assert [p for p in places if any(name in p for name in others)] == []


def _ca_standins(tmp_path: Path) -> Path:
    """The recording docker/make stand-ins, plus a git that records what CA it would trust and runs git."""
    standins = tmp_path / "standins"
    shutil.copytree(FIXTURES / "standins", standins, symlinks=True)
    git = standins / "git"
    git.write_text(
        "#!/bin/sh\n"
        'if [ -n "${GIT_SSL_CAINFO:-}" ]; then printf "%s %s\\n" "$PWD" "$GIT_SSL_CAINFO" >> "$MOBYCI_RECORD.git"; fi\n'
        f'exec {shutil.which("git")} "$@"\n'
    )
    git.chmod(0o755)
    return standins


def test_shell_pipeline_writes_the_ca_where_each_tool_reads_it(tmp_path: Path) -> None:
    ca_file = tmp_path / "corp-ca.pem"  # a GitLab file variable: the job sees the path of a file
    shutil.copy(GOLDEN_CA, ca_file)
    origin = tmp_path / "moby-origin"
    shutil.copytree(FIXTURES / "trees" / "23.0", origin)
    for args in (["init", "-q", "-b", "master"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t",
                 "commit", "-qm", "moby"], ["tag", "v23.0.18"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=origin, check=True, capture_output=True)
    spec = ROOT / "tests" / "golden" / "23.0-shell-ca" / "spec.yaml"
    done, calls, artifacts = pc.run_shell_pipeline(
        tmp_path,
        spec.read_text(),
        git_mirrors={"https://github.com/moby/moby.git": origin},
        standins=_ca_standins(tmp_path),
        variables={"CORP_CA_CERT": str(ca_file), "CORP_PROXY": "http://proxy.corp.test:3128"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert pc.passed_jobs(done.stdout) == ["prepare", "binary", "checksums"]
    # git in the prepare job trusted the system roots plus the CA.
    calls_by_dir = [line.split(" ", 1) for line in (tmp_path / "record.jsonl.git").read_text().splitlines()]
    trust_paths = {trust for cwd, trust in calls_by_dir if cwd.endswith("/builds/prepare")}
    assert len(trust_paths) == 1, calls_by_dir
    (trust_path,) = trust_paths
    assert trust_path.endswith("/.mobyci-trust.pem")
    # The patch put the CA into the build context and the Dockerfile trusts it; make saw that tree.
    with tarfile.open(artifacts / "prepare" / "moby-src.tar.gz") as archive:
        member = archive.extractfile("moby/.mobyci/ca.crt")
        assert member is not None
        assert member.read() == GOLDEN_CA.read_bytes()
    make = next(c for c in calls if c["tool"] == "make")
    assert "# mobyci:ca\nCOPY .mobyci/ca.crt /usr/local/share/ca-certificates/mobyci-ca.crt\n" in make["dockerfile"]
    assert "CA certificates (tls.ca_certs)" in (tmp_path / "project" / ".gitlab-ci.yml").read_text()
    assert GOLDEN_CA.read_text().splitlines()[1] not in done.stdout  # the log shows no certificate text


def test_check_job_points_pip_at_the_ca(tmp_path: Path) -> None:
    """The check job's lines under dash, with a stand-in python3 whose venv pip records PIP_CERT."""
    doc = pc.load_yaml(_golden("gitlab"))
    script = doc["mobyci-check"]["script"]
    work = tmp_path / "work"
    work.mkdir()
    # The repository the job checks: the spec, its schema and the pipeline, current.
    shutil.copy(ROOT / "tests" / "golden" / "28-dind-ca" / "spec.yaml", work / "spec.yaml")
    (work / ".gitlab-ci.yml").write_text(_golden("gitlab"))
    (work / "mobyci.schema.json").write_text("{}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = '#!/bin/sh\nprintf "%s %s\\n" "$(basename "$0")" "${PIP_CERT:-}" >> ../calls\n'
    (bin_dir / "python3").write_text(
        "#!/bin/sh\nmkdir -p .mobyci-venv/bin\n"
        f"for t in pip check-jsonschema; do printf '%s' '{recorder}' > .mobyci-venv/bin/$t; "
        "chmod +x .mobyci-venv/bin/$t; done\n"
    )
    (bin_dir / "python3").chmod(0o755)
    ca_text = GOLDEN_CA.read_text()
    done = subprocess.run(
        ["dash", "-ec", "\n".join(script)],
        cwd=work,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "CORP_CA_CERT": ca_text,  # a GitHub secret: the PEM text
            # Every GitLab job first checks that the proxy variables it reads are set.
            "CORP_HTTP_PROXY": "http://proxy.corp.example:3128",
            "CORP_HTTPS_PROXY": "http://proxy.corp.example:3128",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == f"pip {work}/.mobyci-trust.pem"
    trust = (work / ".mobyci-trust.pem").read_text()
    # The system roots first (when the image has them), then the CA.
    assert trust.endswith(ca_text)
    assert (work / ".mobyci-ca.crt").read_text() == ca_text


def test_github_refuses_a_reserved_secret_name_for_the_ca() -> None:
    with pytest.raises(MobyciError, match="the CI variable GITHUB_CA cannot be a GitHub secret"):
        render_pipeline(load_text(_spec(ca="[$GITHUB_CA]")), "github")


@pytest.mark.parametrize("fmt", ["gitlab", "buildkite"])
def test_the_bake_builder_trusts_the_ca_it_finds_when_created(fmt: str) -> None:
    spec = ROOT / "tests" / "golden" / "28-dind-ca" / "spec.yaml"
    text = spec.read_text() + "ci: {buildkite: {cache: registry.example.com/mobyci-cache}}\n"
    doc = pc.load_yaml(render_pipeline(load_text(text, "spec.yaml"), fmt))
    if fmt == "gitlab":
        script = doc["binary"]["script"]
    else:
        script = next(step for step in doc["steps"] if step["key"] == "mobyci-binary")["commands"]
    written = next(i for i, line in enumerate(script) if line.endswith("> .mobyci-ca.crt"))
    config = next(i for i, line in enumerate(script) if line.startswith("cat > .mobyci-buildkitd.toml"))
    create = next(i for i, line in enumerate(script) if "docker buildx create" in line)
    assert written < config < create
    assert script[config].count('  ca = [".mobyci-ca.crt"]\n') == 2  # Docker Hub and the mirror


def test_a_ca_file_beside_a_spec_in_a_subdirectory_is_read_by_the_jobs_from_the_repository_root(
    tmp_path: Path,
) -> None:
    """The spec names its files relative to itself (ci/certs/corp-ca.pem for `certs/corp-ca.pem` in ci/mobyci.yaml);
    jobs run from the repository root, so every generated path is relative to that root."""
    import sys

    repo = tmp_path / "repo"
    (repo / "ci" / "certs").mkdir(parents=True)
    (repo / ".git").mkdir()
    shutil.copy(GOLDEN_CA, repo / "ci" / "certs" / "corp-ca.pem")
    (repo / "ci" / "mobyci.yaml").write_text(
        _spec(ca="[certs/corp-ca.pem]", extra="outputs: {gitlab: .gitlab-ci.yml}\n")
    )
    # Rendered from elsewhere (the spec's directory): the paths do not depend on where mobyci runs.
    done = subprocess.run(
        [sys.executable, "-m", "mobyci", "render", "mobyci.yaml", "--all"],
        cwd=repo / "ci",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pipeline = pc.load_yaml((repo / ".gitlab-ci.yml").read_text())
    lines = [line for line in pipeline["prepare"]["script"] if "mobyci_ca" in line or "mobyci-ca.crt" in line]
    assert "{ mobyci_ca ci/certs/corp-ca.pem ci/certs/corp-ca.pem; } > .mobyci-ca.crt" in lines
    # The job's own CA lines, run from the repository root as CI runs them, assemble the committed CA.
    job = tmp_path / "job"
    shutil.copytree(repo, job)
    ran = subprocess.run(["sh", "-ec", "\n".join(lines)], cwd=job, capture_output=True, text=True, check=False)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert (job / ".mobyci-ca.crt").read_text() == GOLDEN_CA.read_text()
    # `mobyci plan` builds the same jobs: it names the spec from the repository root too.
    shown = subprocess.run(
        [sys.executable, "-m", "mobyci", "plan", "mobyci.yaml", "--format", "json"],
        cwd=repo / "ci",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"spec": "ci/mobyci.yaml"' in shown


def test_a_check_on_a_workstation_needs_no_ca_file(tmp_path: Path) -> None:
    # `mobyci patch --check ../moby` where the CA is a CI variable: the copy is reported, not refused.
    loaded = load_text(_spec())
    tree = _tree(tmp_path, "25-28", "tree")
    environ = {k: v for k, v in os.environ.items() if k != "MOBYCI_CA_FILE"}
    report = apply_patch(loaded, tree, check=True)
    row = (
        "  ca                 .mobyci/ca.crt                               to copy from MOBYCI_CA_FILE in the pipeline"
    )
    assert report.pending
    assert row in report.lines
    assert report.lines == reference.run_spec(loaded, tree, check=True, environ=environ).lines
    ca = tmp_path / "ca.crt"
    ca.write_text(GOLDEN_CA.read_text())
    os.environ["MOBYCI_CA_FILE"] = str(ca)
    try:
        apply_patch(loaded, tree, check=False)
    finally:
        del os.environ["MOBYCI_CA_FILE"]
    again = apply_patch(loaded, tree, check=True)
    assert not again.pending
    assert (
        "  ca                 .mobyci/ca.crt                               "
        "present (not compared: MOBYCI_CA_FILE is not set)" in again.lines
    )
    assert again.lines[-1] == "already applied: nothing to change"
