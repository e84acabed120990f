"""Push a multi-architecture image to a registry through its HTTP API (Docker Registry HTTP API V2), run as
its own process on the corp host: `ocipush.py REGISTRY CA REPO TAG PIECES.json`.

PIECES.json: {arch: {"layer": path of a gzip'd layer tar, "config": the image config JSON text}}. Each arch
becomes a schema-2 image manifest, and TAG a manifest list naming them (linux/<arch>).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import sys
import urllib.request
from pathlib import Path

_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class _Registry:
    def __init__(self, registry: str, ca: str, repo: str) -> None:
        self.base = f"https://{registry}/v2/{repo}"
        self.context = ssl.create_default_context(cafile=ca)

    def _call(self, method: str, url: str, data: bytes | None = None, kind: str = "") -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - https to the corp registry
        if kind:
            request.add_header("Content-Type", kind)
        with urllib.request.urlopen(request, context=self.context, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers)

    def blob(self, data: bytes) -> str:
        digest = _digest(data)
        _, headers = self._call("POST", f"{self.base}/blobs/uploads/", b"")
        location = headers["Location"]
        if location.startswith("/"):
            location = self.base.split("/v2/", 1)[0] + location
        join = "&" if "?" in location else "?"
        self._call("PUT", f"{location}{join}digest={digest}", data, "application/octet-stream")
        return digest

    def manifest(self, reference: str, data: bytes, kind: str) -> None:
        self._call("PUT", f"{self.base}/manifests/{reference}", data, kind)


def main() -> None:
    registry, ca, repo, tag, pieces_path = sys.argv[1:6]
    pieces = json.loads(Path(pieces_path).read_text())
    target = _Registry(registry, ca, repo)
    entries = []
    for arch, piece in sorted(pieces.items()):
        layer = Path(piece["layer"]).read_bytes()
        config = piece["config"].encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": _MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(config),
                    "digest": target.blob(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(layer),
                        "digest": target.blob(layer),
                    }
                ],
            },
            sort_keys=True,
        ).encode()
        target.manifest(_digest(manifest), manifest, _MANIFEST)
        entries.append(
            {
                "mediaType": _MANIFEST,
                "size": len(manifest),
                "digest": _digest(manifest),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": _LIST, "manifests": entries}, sort_keys=True).encode()
    target.manifest(tag, index, _LIST)


if __name__ == "__main__":
    main()
