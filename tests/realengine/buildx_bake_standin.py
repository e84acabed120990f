#!/usr/bin/env python3
"""A STAND-IN for the docker buildx CLI plugin (Debian bookworm has no buildx): records each call, and for
`bake binary` builds the Dockerfile's `binary` target with the engine's own BuildKit instead.

Installed as the runner's `docker-buildx` plugin (a symlink in ~/.docker/cli-plugins), so everything up to
the bake call is real: make, the docker CLI's plugin lookup through the job's DOCKER_CONFIG, and the client
config with the proxies. `docker build` reads those proxies from the same client config and passes them as
build args, as buildx does. What it does not do: bake's HCL (variables, inheritance, several targets),
platforms, cache exports. Each call is appended as JSON to $MOBYCI_RECORD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DOCKER = "/usr/bin/docker"


def main() -> int:
    args = sys.argv[1:]
    if args == ["docker-cli-plugin-metadata"]:
        print(
            json.dumps(
                {
                    "SchemaVersion": "0.1.0",
                    "Vendor": "mobyci tests",
                    "Version": "v0.0.0-standin",
                    "ShortDescription": "STAND-IN for buildx: records calls, builds `bake binary` with docker build",
                }
            )
        )
        return 0
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    config = config_dir / "config.json"
    record = {
        "args": args,
        "cwd": os.getcwd(),
        "docker_config": json.loads(config.read_text()) if config.is_file() else None,
    }
    with open(os.environ["MOBYCI_RECORD"], "a") as out:
        out.write(json.dumps(record) + "\n")
    if args != ["buildx", "bake", "binary"]:
        print(f"buildx stand-in: no build for {' '.join(args)}", file=sys.stderr)
        return 1
    return subprocess.run(
        [DOCKER, "build", "--target", "binary", "--output", "type=local,dest=bundles/binary", "."],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        check=False,
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
