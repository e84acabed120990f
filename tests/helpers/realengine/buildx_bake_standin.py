#!/usr/bin/env python3
"""A STAND-IN for the docker buildx CLI plugin (Debian bookworm has no buildx): records each call; for
`bake binary` it builds the Dockerfile's `binary` target with the engine's own BuildKit instead.

Installed as the runner's `docker-buildx` plugin (a symlink in ~/.docker/cli-plugins), so everything up to the
buildx calls is real: make, the docker CLI's plugin lookup, the registry login. `buildx create` (a
docker-container builder) and `buildx rm` are only recorded, with the buildkitd config they were given: no
BuildKit container runs. `bake`'s `--set '*.args.NAME[=VALUE]'` become `docker build --build-arg NAME[=VALUE]`;
the rest of bake (its HCL, platforms, cache import and export) is not reproduced. Each call is appended as JSON
to $MOBYCI_RECORD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DOCKER = "/usr/bin/docker"
_ARGS = "*.args."


def _options(args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`--name value` / `--name=value` options (every buildx option used here takes a value) and the rest."""
    options: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            options.setdefault(name, []).append(value)
        else:
            rest.append(arg)
        i += 1
    return options, rest


def main() -> int:
    args = sys.argv[1:]
    if args == ["docker-cli-plugin-metadata"]:
        meta = {
            "SchemaVersion": "0.1.0",
            "Vendor": "mobyci tests",
            "Version": "v0.0.0-standin",
            "ShortDescription": "STAND-IN for buildx: records calls, builds `bake binary` with docker build",
        }
        print(json.dumps(meta))
        return 0
    command = args[1] if len(args) > 1 else ""
    options, rest = _options(args[2:])
    record = {"args": args, "cwd": os.getcwd()}
    for config in options.get("buildkitd-config", []):
        record["buildkitd_config"] = Path(config).read_text()
    with open(os.environ["MOBYCI_RECORD"], "a") as out:
        out.write(json.dumps(record) + "\n")
    if command in ("create", "rm"):
        return 0
    if command != "bake" or rest != ["binary"]:
        print(f"buildx stand-in: nothing to do for {' '.join(args)}", file=sys.stderr)
        return 1
    build_args = [a for s in options.get("set", []) if s.startswith(_ARGS) for a in ("--build-arg", s[len(_ARGS) :])]
    return subprocess.run(
        [DOCKER, "build", *build_args, "--target", "binary", "--output", "type=local,dest=bundles/binary", "."],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        check=False,
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
