"""The GitLab dind service of a spec with tls.ca_certs, run for real: the service entrypoint and command of the
rendered pipeline, on a privileged container of a real engine, make the inner daemon trust the corporate CA.

docker:dind cannot be pulled here: the service image is mobyci-standin/dind:bookworm (tests/helpers/realengine/
dind_standin.py says what it reproduces and what not). The outer engine runs in a test network namespace
(`runner`) with its bridge; a docker-registry with a certificate from a throwaway CA listens in `corp`, the only
host the runner reaches. The service gets the variables GitLab gives a service: the pipeline's `variables:`,
expanded with the project's CI/CD variables (project variables themselves do not reach services:
gitlab-org/gitlab#30178, #444233). The CI/CD variable CORP_CA_CERT holds the CA as PEM text.

- With tls.ca_certs the inner daemon pulls from the registry, as the Docker Hub mirror the command names and
  by its own name.
- Without it (the same spec minus tls: an entrypoint that only passes the MTU on) the same pulls fail on the
  certificate.
- On a network of a lower MTU (GitLab.com's hosted runners: 1360) the inner daemon's bridge takes that MTU.
- The inner daemon's storage driver is its own choice: the image's VOLUME /var/lib/docker lies on the outer
  engine's data root, not on overlayfs, so overlay2 works and the service needs no --storage-driver.
- With the CA variable empty or a file path (a GitLab file variable: the file exists in the job container
  only), the service stops at once, saying how to pass the CA.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from ruamel.yaml import YAML

from mobyci.emit.render import render_pipeline
from mobyci.load.reader import load_text
from tests.helpers import realengine
from tests.helpers.realengine import dind_standin, netns, tls
from tests.helpers.realengine.dockerd import Dockerd
from tests.helpers.realengine.lab import iptables_rules

pytestmark = pytest.mark.engine

REGISTRY = f"{netns.CORP}:5000"
HELLO = "mobyci/hello:1"  # on Docker Hub as far as the inner daemon knows: it gets it through the mirror
# Where a daemon reads a registry's CA (https://docs.docker.com/engine/security/certificates/): Docker Hub
# under the names the daemon uses for it, and the mirror.
CERTS_D = ("docker.io", "registry-1.docker.io", "index.docker.io", REGISTRY)
SPEC = """\
version: 1
moby: {{ref: v28.5.2}}
mirrors: {{registry: "https://{registry}"}}
{tls}targets: [binary]
"""


class World(NamedTuple):
    engine: Dockerd
    registry: tls.TlsRegistry
    image: str
    ca_pem: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    realengine.require("the dind service test", (*realengine.ENGINE_TOOLS, *realengine.NETNS_TOOLS))
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("dind")
    rules_before = iptables_rules()
    hosts = netns.Hosts()
    try:
        ca, cert, key = tls.make_ca(workdir, cn="mobyci test inspection CA", ips=(netns.CORP,))
        corp = hosts.exec_args(hosts.corp)
        with (
            tls.TlsRegistry(workdir / "registry", REGISTRY, cert, key, prefix=corp) as registry,
            # The outer engine trusts the CA to push the test image; the inner one gets it from the service only.
            Dockerd(workdir / "engine", netns=hosts.runner, ca=ca) as engine,
        ):
            _push_hello(engine, workdir)
            image = dind_standin.load(engine.docker)
            print(f"\n[dind] network, registry, engine and images ready in {time.monotonic() - started:.0f}s")
            yield World(engine, registry, image, ca.read_text())
    finally:
        hosts.close()
    left = [n for n in netns.names() if n in (hosts.corp, hosts.runner)]
    assert not left, left
    assert iptables_rules() == rules_before, "the host namespace's iptables rules changed"


def _push_hello(engine: Dockerd, workdir: Path) -> None:
    """A one-file image in the registry, small enough that pulls cost nothing."""
    tarball = workdir / "hello.tar"
    with tarfile.open(tarball, "w") as tar:
        data = b"hello through the inspecting proxy\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    engine.docker("import", str(tarball), f"{REGISTRY}/{HELLO}")
    engine.docker("push", f"{REGISTRY}/{HELLO}")
    engine.docker("rmi", f"{REGISTRY}/{HELLO}")


def _service(with_ca: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The dind service and the pipeline variables of the rendered GitLab pipeline."""
    spec = SPEC.format(registry=REGISTRY, tls="tls: {ca_certs: [$CORP_CA_CERT]}\n" if with_ca else "")
    pipeline = YAML(typ="safe").load(render_pipeline(load_text(spec, "mobyci.yaml"), "gitlab"))
    services = [job["services"] for job in pipeline.values() if isinstance(job, dict) and "services" in job]
    assert len(services) == 1, services
    [service] = services[0]
    return service, pipeline.get("variables", {})


def _expand(value: str, project: dict[str, str]) -> str:
    # The runner expands $NAME and ${NAME} in variable values; an unknown name becomes empty.
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: project.get(m[1] or m[2], ""), value)


def _service_body(
    world: World, service: dict[str, Any], env: dict[str, str], network: str | None = None
) -> dict[str, Any]:
    """The service as GitLab's docker executor creates it: the image, its entrypoint and command from the pipeline
    (through the Engine API: the CLI's --entrypoint takes one word), the variables, privileged."""
    body: dict[str, Any] = {
        "Image": world.image,
        "Env": [f"{key}={value}" for key, value in env.items()],
        # A name lookup (Docker Hub's, after the mirror) fails at once: nothing answers DNS on the service's own
        # loopback, whereas the host's nameserver, unreachable from the test network, would time out.
        "HostConfig": {"Privileged": True, "Dns": ["127.0.0.1"], **({"NetworkMode": network} if network else {})},
    }
    if "entrypoint" in service:
        body["Entrypoint"] = service["entrypoint"]
    if "command" in service:
        body["Cmd"] = service["command"]
    return body


def _run_service(world: World, name: str, service: dict[str, Any], env: dict[str, str]) -> None:
    world.engine.api("POST", f"/containers/create?name={name}", _service_body(world, service, env))
    world.engine.docker("start", name)


def _inner_docker(world: World, name: str, *args: str) -> Any:
    """The inner daemon's client, on its unix socket: the service's DOCKER_HOST (a pipeline variable, as GitLab
    passes every one to the service) names the address the job container uses, tcp://docker:2376 with TLS."""
    unix = ("-e", "DOCKER_HOST=unix:///var/run/docker.sock", "-e", "DOCKER_TLS_VERIFY=", "-e", "DOCKER_CERT_PATH=")
    return world.engine.docker("exec", *unix, name, "docker", *args, check=False)


def _wait_inner_daemon(world: World, name: str) -> None:
    for _ in range(240):
        version = _inner_docker(world, name, "version")
        if version.returncode == 0:
            return
        state = world.engine.docker("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
        if state == "false":
            break
        time.sleep(0.5)
    logs = world.engine.docker("logs", name, check=False)
    raise AssertionError(
        f"the inner daemon did not answer: {version.stderr}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
    )


@pytest.fixture
def service_name(request: pytest.FixtureRequest, world: World) -> Iterator[str]:
    name = re.sub(r"[^a-zA-Z0-9_.-]", "-", request.node.name)
    yield name
    world.engine.docker("rm", "-fv", name, check=False)


def test_service_trusts_the_ca_and_pulls_from_the_tls_registry(world: World, service_name: str) -> None:
    service, variables = _service(with_ca=True)
    env = {key: _expand(value, {"CORP_CA_CERT": world.ca_pem}) for key, value in variables.items()}
    _run_service(world, service_name, service, env)
    _wait_inner_daemon(world, service_name)

    for host in CERTS_D:
        placed = world.engine.docker("exec", service_name, "cat", f"/etc/docker/certs.d/{host}/ca.crt")
        assert placed.stdout.strip() == world.ca_pem.strip(), host
    # The system bundle too (token servers, git and https ADD sources): the image's roots, then the CA.
    bundle = world.engine.docker("exec", service_name, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    assert bundle.strip().endswith(world.ca_pem.strip())
    assert bundle.count("BEGIN CERTIFICATE") > 1
    before = len(world.registry.log.read_bytes())
    done = _inner_docker(world, service_name, "pull", HELLO)
    assert done.returncode == 0, done.stdout + done.stderr
    # Docker Hub does not answer here: the mirror of the service command served the pull.
    served = world.registry.log.read_bytes()[before:].decode()
    assert re.search(r'"(GET|HEAD) /v2/mobyci/hello/manifests/[^ ]+ HTTP/[\d.]+" 200', served), served
    done = _inner_docker(world, service_name, "pull", f"{REGISTRY}/{HELLO}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_inner_daemon_takes_the_mtu_of_the_service_s_network(world: World, service_name: str) -> None:
    # A network of the outer engine below 1500, as GitLab.com's hosted runners have (1360 since 2026-05-13):
    # without --mtu the inner bridge stays at 1500 and large packets of the builds' containers are dropped.
    network = f"{service_name}-mtu"
    world.engine.docker("network", "create", "-o", "com.docker.network.driver.mtu=1360", network)
    try:
        service, variables = _service(with_ca=False)
        env = {key: _expand(value, {}) for key, value in variables.items()}
        world.engine.api("POST", f"/containers/create?name={service_name}", _service_body(world, service, env, network))
        world.engine.docker("start", service_name)
        _wait_inner_daemon(world, service_name)
        outer = world.engine.docker("exec", service_name, "cat", "/sys/class/net/eth0/mtu").stdout.strip()
        inner = _inner_docker(world, service_name, "network", "inspect", "bridge", "-f", _MTU_OPTION)
        assert (outer, inner.stdout.strip()) == ("1360", "1360"), inner.stderr
    finally:
        world.engine.docker("rm", "-fv", service_name, check=False)
        world.engine.docker("network", "rm", network, check=False)


_MTU_OPTION = '{{index .Options "com.docker.network.driver.mtu"}}'


def test_service_without_the_ca_refuses_the_tls_registry(world: World, service_name: str) -> None:
    service, variables = _service(with_ca=False)
    assert "mobyci_ca" not in service["entrypoint"][2]  # only the MTU before the image's own entrypoint
    env = {key: _expand(value, {}) for key, value in variables.items()}
    _run_service(world, service_name, service, env)
    _wait_inner_daemon(world, service_name)

    through_mirror = _inner_docker(world, service_name, "pull", HELLO)
    assert through_mirror.returncode != 0
    # The daemon leaves the mirror for Docker Hub (which does not answer here); its log says why it left.
    logs = world.engine.docker("logs", service_name)
    left = [line for line in (logs.stdout + logs.stderr).splitlines() if REGISTRY in line and "x509" in line]
    assert any("certificate signed by unknown authority" in line for line in left), logs.stderr[-3000:]
    direct = _inner_docker(world, service_name, "pull", f"{REGISTRY}/{HELLO}")
    assert direct.returncode != 0
    assert "x509: certificate signed by unknown authority" in direct.stderr, direct.stderr


@pytest.mark.parametrize(
    "value",
    ["", "/builds/group/project.tmp/CORP_CA_CERT"],
    ids=["unset", "file-variable-path"],
)
def test_service_without_the_pem_text_stops_saying_so(world: World, service_name: str, value: str) -> None:
    service, variables = _service(with_ca=True)
    env = {key: _expand(v, {"CORP_CA_CERT": value} if value else {}) for key, v in variables.items()}
    _run_service(world, service_name, service, env)
    status = world.engine.docker("wait", service_name, timeout=120).stdout.strip()
    logs = world.engine.docker("logs", service_name)
    assert status == "1", logs.stdout + logs.stderr
    assert "CORP_CA_CERT is neither a readable file nor PEM text" in logs.stderr
    assert "give the service the CA as PEM text (a CI variable of type Variable)" in logs.stderr
