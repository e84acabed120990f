"""TLS inspection on the real Docker engine: a mirror served over TLS with a certificate signed by a test CA.

The mirror (a Python HTTPS server on this host) passes Debian's archive through as an https apt mirror and
serves a git repository and a file; a `docker-registry` with the same certificate stands for a registry behind
the inspecting proxy. A moby-shaped tree (the 25-28 fixture with a runnable Dockerfile: a golang-like `base`
stage that has ca-certificates, git and curl, and a `frozen-images` stage from a bare Debian image that has none)
is patched by the generated patch script and built by dockerd's BuildKit:

- with tls.ca_certs, apt, git and curl in both stages reach the mirror, and the daemon pulls from the registry
  once the CA is its /etc/docker/certs.d/<registry>/ca.crt;
- without it, the same build and pull fail on the certificate.

A docker-ce-packaging deb image patched by the packaging patch (the mirror block and the CA block after
`FROM ${BUILD_IMAGE}`) builds from deb/ with apt, git and curl over the mirror, and fails on apt without the CA.
A stand-in for a BuildKit builder's container takes the CA into its system bundle through the lines the bake jobs
run.

Images are stand-ins made by debootstrap (no Docker Hub here); a rootfs is cached outside the clone.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from mobyci.load.reader import load_text
from mobyci.patch.script import build_patch_script
from tests.helpers import ROOT, realengine
from tests.helpers.realengine import images, tls
from tests.helpers.realengine.dockerd import HOST_NETWORK_ARGS, Dockerd

pytestmark = pytest.mark.engine

HOST = "mirror.mobyci.test"
GOLANG_STANDIN = "mobyci-standin/golang-scm:bookworm"  # like golang:<v>-bookworm: ca-certificates, curl, git
DEBIAN_STANDIN = "mobyci-standin/debian:bookworm"  # like debian:bookworm: no ca-certificates

DOCKERFILE = """\
ARG BASE_DEBIAN_DISTRO="bookworm"

FROM @GOLANG@ AS base
RUN apt-get update && apt-get install -y --no-install-recommends file
RUN git clone -q https://@MIRROR@/git/hello.git /hello && cat /hello/README

FROM base AS tools
RUN curl -fsS https://@MIRROR@/hello.txt > /hello.txt

FROM @DEBIAN@ AS frozen-images
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl
RUN curl -fsS https://@MIRROR@/hello.txt > /frozen.txt

FROM scratch AS all
COPY --from=tools /hello/README /hello.txt /
COPY --from=frozen-images /frozen.txt /
"""


def _host_ip() -> str:
    # Not a loopback address: the daemon treats 127.0.0.0/8 registries as insecure and would not check the CA.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address: str = probe.getsockname()[0]
    return address


class _Mirror(http.server.BaseHTTPRequestHandler):
    """Debian's archive passed through (/debian, /debian-security), and static files (/git, /hello.txt)."""

    root: Path

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(("/debian/", "/debian-security/")):
            request = urllib.request.Request("http://deb.debian.org" + path, method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=120) as upstream:  # noqa: S310 - a fixed http host
                    self.send_response(upstream.status)
                    self.send_header("Content-Length", upstream.headers.get("Content-Length", "0"))
                    self.end_headers()
                    if body:
                        shutil.copyfileobj(upstream, self.wfile)
            except urllib.error.HTTPError as error:
                self.send_error(error.code)
            return
        local = (self.root / path.lstrip("/")).resolve()
        if not local.is_file() or self.root not in local.parents:
            self.send_error(404)
            return
        data = local.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


def _serve_mirror(ip: str, cert: Path, key: Path, root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = type("Mirror", (_Mirror,), {"root": root.resolve()})
    server = http.server.ThreadingHTTPServer((ip, 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _git_repo(root: Path) -> None:
    work = root / "work"
    work.mkdir()
    (work / "README").write_text("hello through the inspecting proxy\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C"]
    subprocess.run([*git, str(work), "init", "-q", "-b", "main"], check=True, capture_output=True)
    subprocess.run([*git, str(work), "add", "-A"], check=True, capture_output=True)
    subprocess.run([*git, str(work), "commit", "-qm", "hello"], check=True, capture_output=True)
    bare = root / "git" / "hello.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True, capture_output=True)  # dumb http
    (root / "hello.txt").write_text("a file over https\n")


class World(NamedTuple):
    tmp: Path
    ca: Path
    engine: Dockerd
    mirror: str  # host:port of the https mirror
    ip: str
    registry: str  # host:port of the TLS registry
    certs_d: Path  # the daemon's CA directory for that registry


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    realengine.require("the real-engine TLS test", (*realengine.ENGINE_TOOLS, "git"))
    tmp = tmp_path_factory.mktemp("tls")
    ip = _host_ip()
    ca, cert, key = tls.make_ca(tmp, cn="mobyci test inspection CA", dns=(HOST,), ips=(ip,))
    files = tmp / "files"
    files.mkdir()
    _git_repo(files)
    server, port = _serve_mirror(ip, cert, key, files)
    registry = f"{ip}:{tls.free_port(ip)}"
    # The daemon reads its per-registry CA from /etc/docker/certs.d only (no option moves it): this test writes
    # the host's directory for its own registry's address and removes it afterwards.
    certs_d = Path("/etc/docker/certs.d") / registry
    try:
        with (
            tls.TlsRegistry(tmp / "registry", registry, cert, key),
            Dockerd(tmp / "engine", args=HOST_NETWORK_ARGS) as engine,
        ):
            images.import_image(engine.docker, images.rootfs_tarball("bookworm", images.SCM), GOLANG_STANDIN)
            images.import_image(engine.docker, images.rootfs_tarball("bookworm"), DEBIAN_STANDIN)
            yield World(tmp, ca, engine, f"{HOST}:{port}", ip, registry, certs_d)
    finally:
        shutil.rmtree(certs_d, ignore_errors=True)
        server.shutdown()
        server.server_close()


def _patched_tree(world: World, name: str, *, with_ca: bool) -> Path:
    tmp, mirror = world.tmp, world.mirror
    tree = tmp / name
    shutil.copytree(ROOT / "tests" / "fixtures" / "trees" / "25-28", tree)
    debian = DEBIAN_STANDIN.split(":", maxsplit=1)[0] + ":${BASE_DEBIAN_DISTRO}"
    dockerfile = DOCKERFILE.replace("@GOLANG@", GOLANG_STANDIN).replace("@DEBIAN@", debian)
    (tree / "Dockerfile").write_text(dockerfile.replace("@MIRROR@", mirror))
    tls = "tls: {ca_certs: [$CORP_CA_CERT]}\n" if with_ca else ""
    spec = f"version: 1\nmoby: {{ref: v28.5.2}}\nmirrors: {{apt: 'https://{mirror}'}}\n{tls}targets: [binary]\n"
    script = tmp / f"{name}.sh"
    script.write_text(build_patch_script(load_text(spec)))
    env = {**os.environ, "MOBYCI_CA_FILE": str(world.ca)} if with_ca else dict(os.environ)
    done = subprocess.run(["sh", str(script), str(tree)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return tree


def _build(world: World, tree: Path) -> subprocess.CompletedProcess[str]:
    out = tree / "out"
    return world.engine.docker(
        "build", "--progress", "plain", "--network", "host", "--add-host", f"{HOST}:{world.ip}",
        "--target", "all", "--output", f"type=local,dest={out}", str(tree),
        check=False, env={"DOCKER_BUILDKIT": "1"},
    )  # fmt: skip


def test_build_reaches_the_mirror_only_with_the_ca(world: World) -> None:
    trusted = _patched_tree(world, "with-ca", with_ca=True)
    done = _build(world, trusted)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = trusted / "out"
    assert (out / "README").read_text() == "hello through the inspecting proxy\n"  # git in base
    assert (out / "hello.txt").read_text() == "a file over https\n"  # curl in a stage built on base
    assert (out / "frozen.txt").read_text() == "a file over https\n"  # curl after apt in frozen-images

    untrusted = _patched_tree(world, "without-ca", with_ca=False)
    failed = _build(world, untrusted)
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    (world.tmp / "without-ca.log").write_text(log)
    # apt is the first to reach the mirror in both stages: it refuses the certificate of the https mirror.
    refused = [line for line in log.splitlines() if "Certificate verification failed" in line]
    assert refused, log[-4000:]
    port = world.mirror.rsplit(":", 1)[1]
    assert all(f"[IP: {world.ip} {port}]" in line for line in refused)  # the mirror, nothing else


def test_daemon_pulls_through_tls_only_with_the_ca(world: World) -> None:
    engine, registry, certs_d, ca = world.engine, world.registry, world.certs_d, world.ca
    image = f"{registry}/mobyci/base:1"
    engine.docker("tag", DEBIAN_STANDIN, image)
    certs_d.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, certs_d / "ca.crt")
    engine.docker("push", image)
    engine.docker("rmi", image)
    engine.docker("pull", image)  # with the CA in certs.d

    engine.docker("rmi", image)
    shutil.rmtree(certs_d)
    refused = engine.docker("pull", image, check=False)
    assert refused.returncode != 0
    assert "x509: certificate signed by unknown authority" in refused.stderr


# --- a BuildKit builder's container trusts the CA once the job's lines ran ----------------------------------------

# Stands in for the container buildx starts for a docker-container builder (moby/buildkit, Alpine with git): like
# it, git and curl here read the one system bundle /etc/ssl/certs/ca-certificates.crt. BuildKit itself is not run
# (no buildx or moby/buildkit image here): what is checked is that the job's lines reach that container by the name
# buildx gives it, leave the CA in its bundle, and keep it running across the restart.
BUILDER = "mobyci-test"


def test_builder_container_stand_in_trusts_the_ca_after_the_job_lines(world: World) -> None:
    from mobyci.emit.builder import trust_lines
    from mobyci.load.reader import load_file
    from mobyci.plan.ca import CA_FILE, job_lines, spec_dir
    from tests.helpers.realengine import DOCKER_CLIENT

    engine, container = world.engine, f"buildx_buildkit_{BUILDER}0"
    engine.docker(
        "run", "-d", "--name", container, "--network", "host", "--add-host", f"{HOST}:{world.ip}",
        GOLANG_STANDIN, "sleep", "infinity",
    )  # fmt: skip
    try:
        url = f"https://{world.mirror}"
        fetches = (("git", "ls-remote", f"{url}/git/hello.git"), ("curl", "-fsS", f"{url}/hello.txt"))
        for fetch in fetches:
            refused = engine.docker("exec", container, *fetch, check=False)
            assert refused.returncode != 0
            assert "certificate" in refused.stderr.lower(), refused.stderr

        # A STAND-IN for buildkitd's buildctl: "not ready" on the first call, as a restarting daemon can be.
        buildctl = (
            "#!/bin/sh\n# mobyci test stand-in for buildctl\n"
            "echo x >> /root/buildctl-calls\n"
            '[ "$(wc -l < /root/buildctl-calls)" -gt 1 ] || { echo "buildkitd not ready" >&2; exit 1; }\n'
        )
        engine.docker(
            "exec", "-i", container, "sh", "-c", "cat > /usr/local/bin/buildctl && chmod +x /usr/local/bin/buildctl",
            stdin=buildctl,
        )  # fmt: skip
        job = world.tmp / "builder-job"
        (job / "bin").mkdir(parents=True)
        (job / "bin" / "docker").symlink_to(DOCKER_CLIENT)
        # The CA committed beside a spec in a subdirectory (ci/mobyci.yaml, `certs/corp-ca.pem`): the job's own CA
        # lines, run from the repository root, assemble CA_FILE from ci/certs/corp-ca.pem.
        (job / "ci" / "certs").mkdir(parents=True)
        shutil.copy(world.ca, job / "ci" / "certs" / "corp-ca.pem")
        spec = "version: 1\nmoby: {ref: v28.5.2}\ntls: {ca_certs: [certs/corp-ca.pem]}\ntargets: [binary]\n"
        (job / "ci" / "mobyci.yaml").write_text(spec)
        loaded = load_file(str(job / "ci" / "mobyci.yaml"))
        ca_lines = "\n".join(job_lines(loaded.spec, spec_dir("ci/mobyci.yaml")))
        assembled = subprocess.run(["sh", "-ec", ca_lines], cwd=job, capture_output=True, text=True, check=False)
        assert (assembled.returncode, assembled.stderr) == (0, "")
        assert (job / CA_FILE).read_text() == world.ca.read_text()
        env = {
            **os.environ,
            **engine.env(),
            "DOCKER_CONFIG": str(job / "client"),
            "PATH": f"{job / 'bin'}:{os.environ['PATH']}",
            "BUILDX_BUILDER": BUILDER,
        }
        lines = "\n".join(trust_lines())
        ran = subprocess.run(["sh", "-ec", lines], cwd=job, env=env, capture_output=True, text=True, check=False)
        assert (ran.returncode, ran.stderr) == (0, "")

        assert engine.docker("inspect", "-f", "{{.State.Running}}", container).stdout == "true\n"
        # The lines waited for the restarted daemon: they asked again after "not ready".
        assert engine.docker("exec", container, "cat", "/root/buildctl-calls").stdout == "x\nx\n"
        assert engine.docker("exec", container, "git", "ls-remote", f"{url}/git/hello.git").stdout.endswith(
            "\trefs/heads/main\n"
        )
        got = engine.docker("exec", container, "curl", "-fsS", f"{url}/hello.txt").stdout
        assert got == "a file over https\n"
        bundle = engine.docker("exec", container, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
        assert bundle.endswith(world.ca.read_text())
    finally:
        engine.docker("rm", "-f", container, check=False)


# --- a docker-ce-packaging deb image behind the inspecting proxy ----------------------------------------------------

# The shape of deb/<distro>/Dockerfile on the packaging branches (a distro image as BUILD_IMAGE, apt first; 28.x
# deb/debian-bookworm/Dockerfile), made runnable here: no Go image, and a git clone and a curl standing for the Go
# module downloads and git of the package build. Built from deb/ as the branch's deb/Makefile does.
PACKAGE_DOCKERFILE = """\
ARG BUILD_IMAGE=debian:bookworm
FROM ${BUILD_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl git
RUN git clone -q https://@MIRROR@/git/hello.git /hello && curl -fsS https://@MIRROR@/hello.txt > /hello.txt

FROM scratch
COPY --from=0 /hello/README /hello.txt /
"""


def _package_tree(world: World, name: str, *, with_ca: bool) -> Path:
    from tests.helpers.packaging_trees import packaging_patch_of, packaging_tree

    tree = packaging_tree(world.tmp / name, (), ("debian-bookworm",))
    (tree / "deb" / "debian-bookworm" / "Dockerfile").write_text(PACKAGE_DOCKERFILE.replace("@MIRROR@", world.mirror))
    tls = "tls: {ca_certs: [$CORP_CA_CERT]}\n" if with_ca else ""
    spec = (
        f"version: 1\nmoby: {{ref: v28.5.2}}\nmirrors: {{apt: 'https://{world.mirror}'}}\n{tls}"
        "targets: [{name: deb, distros: [debian-bookworm]}]\n"
    )
    text = packaging_patch_of(spec)
    assert text is not None
    script = world.tmp / f"{name}.sh"
    script.write_text(text)
    env = {**os.environ, "MOBYCI_CA_FILE": str(world.ca)} if with_ca else dict(os.environ)
    done = subprocess.run(["sh", str(script), str(tree)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return tree


def _package_build(world: World, tree: Path) -> subprocess.CompletedProcess[str]:
    return world.engine.docker(
        "build", "--progress", "plain", "--network", "host", "--add-host", f"{HOST}:{world.ip}",
        "--build-arg", f"BUILD_IMAGE={DEBIAN_STANDIN}", "-f", str(tree / "deb" / "debian-bookworm" / "Dockerfile"),
        "--output", f"type=local,dest={tree / 'out'}", str(tree / "deb"),
        check=False, env={"DOCKER_BUILDKIT": "1"},
    )  # fmt: skip


def test_package_image_reaches_the_mirror_only_with_the_ca(world: World) -> None:
    trusted = _package_tree(world, "pkg-with-ca", with_ca=True)
    assert (trusted / "deb" / ".mobyci" / "ca.crt").read_text() == world.ca.read_text()
    done = _package_build(world, trusted)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert (trusted / "out" / "README").read_text() == "hello through the inspecting proxy\n"  # git
    assert (trusted / "out" / "hello.txt").read_text() == "a file over https\n"  # curl

    untrusted = _package_tree(world, "pkg-without-ca", with_ca=False)
    assert not (untrusted / "deb" / ".mobyci").exists()
    failed = _package_build(world, untrusted)
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    # apt, pointed at the https mirror by the distro-mirror block, is the first to refuse its certificate.
    refused = [line for line in log.splitlines() if "Certificate verification failed" in line]
    assert refused, log[-4000:]
