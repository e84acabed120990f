"""Secret hygiene: values of CI variables never reach a generated file or a job log.

- Every output (each pipeline format that exists, the patch script, the plan as JSON, text and mermaid) is rendered
  with an environment full of secret-looking values, and scanned for them.
- Literal credentials in any URL of a spec are refused.
- No job turns on tracing, dumps its environment or prints a proxy variable; and the job scripts, run under dash
  with stand-ins for the tools they call, print none of the secret values.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from mobyci.emit.render import make_plan
from mobyci.errors import SpecError
from mobyci.load.reader import LoadedSpec, load_text
from mobyci.report.view import plan_mermaid, plan_text
from tests.helpers import EXAMPLES, ROOT
from tests.helpers import buildkite_agent_standin as bk
from tests.helpers import pipeline_tools as pc
from tests.helpers.outputs import FORMATS, render_all, strings

PASSWORD = "Pr0xyPa55-7f3a9c"  # noqa: S105 (a marker, not a secret)
SECRETS = {
    "CORP_HTTP_PROXY": f"http://alice:{PASSWORD}@proxy.corp.example:3128",
    "CORP_HTTPS_PROXY": f"http://alice:{PASSWORD}-s@proxy.corp.example:3129",
    "CORP_NO_PROXY": "secret-internal-host-5b1e.corp.example",
    "HTTP_PROXY": "http://bob:env-leak-http-91d2@proxy.example:8080",
    "HTTPS_PROXY": "http://bob:env-leak-https-0c44@proxy.example:8080",
    "http_proxy": "http://bob:env-leak-lower-http-77aa@proxy.example:8080",
    "https_proxy": "http://bob:env-leak-lower-https-3e19@proxy.example:8080",
    "NO_PROXY": "env-leak-noproxy-12ab.example",
    "CI_JOB_TOKEN": "glcbt-64_ci-job-token-8c21f0",
    "CI_REGISTRY_PASSWORD": "ci-registry-password-d00d",
    "GITHUB_TOKEN": "ghp_githubtoken0123456789abcdefABCDEF01",
    "BUILDKITE_AGENT_ACCESS_TOKEN": "bkaat-agent-token-4f4f4f",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-wJalrXUtnFEMI-K7MDENG",
    "DOCKER_AUTH_CONFIG": '{"auths":{"r.example":{"auth":"ZG9ja2VyLWF1dGgtc2VjcmV0"}}}',
    "MOBYCI_DEV_IMAGE": "registry.example/secret-dev-image-e7e7",
    "GIT_MIRROR_USER": "git-mirror-user-secret-3a3a",
    "GIT_MIRROR_TOKEN": "glpat-git-mirror-token-9f9f",
    "HARBOR_USER": "robot$harbor-user-secret-1b1b",
    "HARBOR_PASSWORD": "harbor-password-secret-6c6c",
}
NEEDLES = sorted({*SECRETS.values(), PASSWORD, "ZG9ja2VyLWF1dGgtc2VjcmV0"})

PROXY_SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  registry: https://hub-mirror.example.com
  git: {"https://github.com/": "https://gitee.com/"}
  APT
proxy:
  http: $CORP_HTTP_PROXY
  https: ${CORP_HTTPS_PROXY}
  no_proxy: [$CORP_NO_PROXY, .corp.example]
  mode: MODE
targets: [binary, cross]
"""


# A token-protected git mirror and a login-protected registry mirror (a Harbor proxy cache), for every build style.
AUTH_SPEC = """\
version: 1
moby: {ref: REF}
mirrors:
  git: {"https://github.com/": "https://git.corp.example/github/"}
  git_auth: {username: $GIT_MIRROR_USER, password: $GIT_MIRROR_TOKEN}
  registry: https://harbor.corp.example
  registry_auth: {username: $HARBOR_USER, password: '${HARBOR_PASSWORD}'}
proxy: {http: $CORP_HTTP_PROXY}
targets: [binary, cross, {name: deb, distros: [DISTRO]}]
"""


def _specs() -> dict[str, str]:
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in sorted(EXAMPLES.glob("*/mobyci.yaml"))}
    texts.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "tests/golden").glob("*/spec.yaml"))})
    for ref in ("v19.03.12", "v20.10.27", "v24.0.9", "v27.5.1"):
        for mode in ("build-args", "dockerfile-env"):
            texts[f"proxy-{ref}-{mode}"] = (
                PROXY_SPEC.replace("REF", ref)
                .replace("MODE", mode)
                # 19.03 builds on Debian buster, which only archive.debian.org still serves.
                .replace("APT", "apt: archive" if ref == "v19.03.12" else "apt: mirrors.example.com")
            )
    # 19.03's packaging distros have all reached end of life: its spec builds binaries only.
    texts["auth-v19.03.12"] = (
        AUTH_SPEC.replace("REF", "v19.03.12")
        .replace(", {name: deb, distros: [DISTRO]}", "")
        .replace("mirrors:\n", "mirrors:\n  apt: archive\n")  # Debian buster is archived
    )
    for ref, distro in (("v20.10.27", "debian-bullseye"), ("v27.5.1", "ubuntu-noble")):
        texts[f"auth-{ref}"] = AUTH_SPEC.replace("REF", ref).replace("DISTRO", distro)
    return texts


SPECS = _specs()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


def _everything(loaded: LoadedSpec) -> dict[str, str]:
    out = render_all(loaded)
    plan = make_plan(loaded)
    out["plan-text"] = repr(plan_text(plan))
    out["plan-mermaid"] = plan_mermaid(plan)
    return out


def _leaks(outputs: dict[str, str]) -> dict[str, list[str]]:
    found = {name: [n for n in NEEDLES if n in text] for name, text in outputs.items()}
    return {name: needles for name, needles in found.items() if needles}


@pytest.mark.parametrize("text", list(SPECS.values()), ids=list(SPECS))
def test_no_output_contains_a_value_from_the_environment(text: str, secret_env: dict[str, str]) -> None:
    assert os.environ["CORP_HTTP_PROXY"] == secret_env["CORP_HTTP_PROXY"]
    outputs = _everything(load_text(text))
    assert set(FORMATS) <= set(outputs)
    assert _leaks(outputs) == {}


def test_the_scan_finds_a_leak() -> None:
    assert _leaks({"x": f"echo {PASSWORD}"}) == {"x": [PASSWORD]}


# --- literal credentials ------------------------------------------------------------------------------------------

CREDENTIAL_FIELDS = {
    "moby.repo": "moby: {ref: v19.03.12, repo: 'URL/moby.git'}\n",
    'mirrors.git["https://github.com/"]': "moby: {ref: v19.03.12}\nmirrors: {git: {'https://github.com/': 'URL/'}}\n",
    'mirrors.downloads["https://download.docker.com/"]': (
        "moby: {ref: v19.03.12}\nmirrors: {downloads: {'https://download.docker.com/': 'URL/'}}\n"
    ),
    "mirrors.registry": "moby: {ref: v19.03.12}\nmirrors: {registry: 'URL'}\n",
    "mirrors.apt": "moby: {ref: v19.03.12}\nmirrors: {apt: 'URL'}\n",
    "mirrors.goproxy": "moby: {ref: v19.03.12}\nmirrors: {goproxy: 'URL,direct'}\n",
    "mirrors.alpine": "moby: {ref: v19.03.12}\nmirrors: {alpine: 'URL/alpine'}\n",
    "mirrors.pypi": "moby: {ref: v19.03.12}\nmirrors: {pypi: 'URL/simple'}\n",
    "proxy.http": "moby: {ref: v19.03.12}\nproxy: {http: 'URL'}\n",
    "proxy.https": "moby: {ref: v19.03.12}\nproxy: {https: 'URL'}\n",
}
CREDENTIALS = ["https://user:pa55@host.example", "https://ghp_token0123@host.example", "https://:pa55@host.example"]


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("field", list(CREDENTIAL_FIELDS))
def test_literal_credentials_are_refused_in_every_url(field: str, credential: str) -> None:
    text = "version: 1\n" + CREDENTIAL_FIELDS[field].replace("URL", credential) + "targets: [binary]\n"
    with pytest.raises(SpecError) as caught:
        load_text(text)
    (problem,) = caught.value.problems
    assert problem.path == field
    assert problem.message.startswith("credentials in a URL would be written into generated files")


# --- job scripts never print proxy values ------------------------------------------------------------------------

TRACING = re.compile(r"(^|[;&|]\s*)(set\s+-[a-z]*[xv]|set\s+-o\s+(xtrace|verbose)|(ba|da)?sh\s+-[a-z]*x)")
DUMPS = re.compile(r"(^|[;&|]\s*)(env|printenv|export\s+-p|set|declare\s+-p)\s*($|[;&|])")
PROXY_VAR = r"\$\{?(HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|ALL_PROXY|CORP_[A-Z_]+)\b"
PRINTS_PROXY = re.compile(r"\b(echo|printf|cat)\b[^|>]*" + PROXY_VAR + r"[^|>]*$")


def _job_shell(text: str, fmt: str) -> dict[str, str]:
    doc = pc.load_yaml(text)
    if fmt == "gitlab":
        return pc.job_scripts(doc)
    if fmt == "buildkite":
        return bk.step_scripts(doc)
    return {f"{job}/{i}": step["run"] for job, spec in doc["jobs"].items() for i, step in enumerate(spec["steps"])
            if "run" in step}  # fmt: skip


def _all_job_shell(text: str) -> dict[str, str]:
    loaded = load_text(text)
    outputs = render_all(loaded)
    scripts = {f"{fmt}:{name}": body for fmt in FORMATS for name, body in _job_shell(outputs[fmt], fmt).items()}
    scripts["patch"] = outputs["patch"]
    return scripts


@pytest.mark.parametrize("text", list(SPECS.values()), ids=list(SPECS))
def test_no_job_traces_dumps_its_environment_or_prints_a_proxy(text: str) -> None:
    problems = []
    for name, script in _all_job_shell(text).items():
        for line in script.splitlines():
            code = line.split(" #", 1)[0].strip()
            if TRACING.search(code) or DUMPS.search(code) or PRINTS_PROXY.search(code):
                problems.append(f"{name}: {code}")
    assert problems == []


def test_the_print_checks_can_fail() -> None:
    assert TRACING.search("set -ex")
    assert TRACING.search("true; set -o xtrace")
    assert DUMPS.search("env")
    assert DUMPS.search("make && printenv")
    assert PRINTS_PROXY.search('echo "proxy is $HTTP_PROXY"')
    assert PRINTS_PROXY.search("printf '%s\\n' ${CORP_HTTP_PROXY}")
    assert not PRINTS_PROXY.search("printf '%s' \"$HTTP_PROXY\" > ~/.docker/config.json")
    assert not PRINTS_PROXY.search("printf '%s' \"$1\" | sed -e 's/x/y/'")


STUBS = ("git", "docker", "make", "apk", "python3", "pip", "mobyci", "curl", "buildkite-agent", "sudo", "wget")


@pytest.fixture(scope="module")
def stub_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stand-ins for the tools jobs call: they take any arguments and print nothing."""
    bin_dir = tmp_path_factory.mktemp("stubs")
    for tool in STUBS:
        stub = bin_dir / tool
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("case", [c for c in SPECS if c.startswith("proxy-")])
def test_job_scripts_run_under_dash_print_no_secret(case: str, stub_path: Path, tmp_path: Path) -> None:
    env = {
        "PATH": f"{stub_path}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        **SECRETS,
        "MOBYCI_DEV_TAG": "1",
    }
    logs: dict[str, str] = {}
    for name, script in _all_job_shell(SPECS[case]).items():
        if name == "patch":
            continue  # run by the prepare job, on a tree that is not there
        work = tmp_path / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        work.mkdir()
        done = subprocess.run(
            [pc.tool("dash"), "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        logs[name] = done.stdout + done.stderr
    assert logs
    assert _leaks(logs) == {}


def test_outputs_name_the_variables_they_read() -> None:
    """The other side of the scan: the pipeline refers to the CI variables by name."""
    outputs = render_all(load_text(SPECS["proxy-v27.5.1-build-args"]))
    for fmt in FORMATS:
        found = "\n".join(strings(pc.load_yaml(outputs[fmt])))
        assert "CORP_HTTP_PROXY" in found, fmt
