"""A STAND-IN for the docker:<version>-dind image, which cannot be pulled here: `mobyci-standin/dind:bookworm`.

The real image (docker-library/docker 27/dind/Dockerfile, FROM 27/cli/Dockerfile): Alpine with the static
engine binaries of download.docker.com in /usr/local/bin, moby's hack/dind wrapper, ENTRYPOINT
["dockerd-entrypoint.sh"], CMD [], VOLUME /var/lib/docker, ENV DOCKER_TLS_CERTDIR=/certs.

The stand-in: a debootstrapped bookworm with Debian's docker.io (dockerd 20.10, containerd, runc, tini,
iptables) and ca-certificates installed IN the image, not bind-mounted from the host, because GitLab starts a
service from its image alone (entrypoint, command, variables, --privileged) and a test that mounted host binaries
would run the service differently; the same ENTRYPOINT, CMD, VOLUME and ENV; /etc/docker removed, because
Debian's package makes it and the real image has none (nothing in either Dockerfile creates it), so a service
script that writes there must create it itself; and dockerd-entrypoint-standin.sh as dockerd-entrypoint.sh.

Not reproduced: the real entrypoint's TLS (with DOCKER_TLS_CERTDIR it makes a CA, server and client
certificates and listens on 2376 with --tlsverify; the stand-in listens on 2375 without TLS, and tests talk to
the inner daemon through its unix socket), the hack/dind wrapper (cgroup v2 nesting, securityfs), rootless
mode, the iptables-legacy switch, and the engine version (20.10 here, the pipeline's docker:<v>-dind has its own).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.realengine import images

IMAGE = "mobyci-standin/dind:bookworm"
PACKAGES = ("ca-certificates", "docker.io")
ENTRYPOINT = Path(__file__).with_name("dockerd-entrypoint-standin.sh")
_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV DOCKER_TLS_CERTDIR=/certs",
    "VOLUME /var/lib/docker",
    'ENTRYPOINT ["dockerd-entrypoint.sh"]',
    "CMD []",
)


def load(docker: Callable[..., Any]) -> str:
    """Import the stand-in into the engine `docker` talks to; its name."""
    source = images.rootfs_tarball("bookworm", PACKAGES)
    with tempfile.TemporaryDirectory(dir=source.parent, prefix="dind-standin-") as tmp:
        work = Path(tmp)
        tarball = work / "rootfs.tar"
        shutil.copyfile(source, tarball)
        subprocess.run(["tar", "--delete", "-f", str(tarball), "./etc/docker"], check=True)
        extra = work / "extra/usr/local/bin"
        extra.mkdir(parents=True)
        shutil.copyfile(ENTRYPOINT, extra / "dockerd-entrypoint.sh")
        (extra / "dockerd-entrypoint.sh").chmod(0o755)
        member = "./usr/local/bin/dockerd-entrypoint.sh"
        subprocess.run(
            ["tar", "-rf", str(tarball), "-C", str(work / "extra"), "--owner=0", "--group=0", member], check=True
        )
        images.import_image(docker, tarball, IMAGE, changes=_CHANGES)
    return IMAGE
