#!/usr/bin/env python3
"""An OCI runtime for the test engine: runc, minus the capabilities this machine's root does not hold.

`docker run --privileged` (and `docker exec` into such a container) asks runc for every capability the kernel
knows; where root's own bounding set lacks one (on some VMs CAP_SYS_RESOURCE), runc fails with "unable to apply
caps: operation not permitted". This drops exactly those from the bundle's config.json (create) or the process
file (exec), then runs the real runc with the same arguments;
nothing else changes. dockerd uses it as its default runtime only where root lacks a capability.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RUNC = "/usr/sbin/runc"
# Linux capability numbers 0..40 (include/uapi/linux/capability.h).
NAMES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]


def missing_caps() -> set[str]:
    """The capabilities the kernel knows that root's bounding set lacks, as CAP_* names."""
    bounding = next(
        int(line.split()[1], 16)
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("CapBnd:")
    )
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return {f"CAP_{NAMES[n]}" for n in range(min(last + 1, len(NAMES))) if not bounding & (1 << n)}


def _arg(argv: list[str], names: tuple[str, ...]) -> Path | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return Path(argv[i + 1])
        for name in names:
            if name.startswith("--") and arg.startswith(f"{name}="):
                return Path(arg.split("=", 1)[1])
    return None


def _drop(path: Path, drop: set[str], process: bool) -> None:
    """Remove `drop` from the capabilities of an OCI config (`process` False) or of a process.json (True)."""
    config = json.loads(path.read_text())
    caps = (config if process else config.get("process", {})).get("capabilities", {})
    for kind, names in caps.items():
        caps[kind] = [n for n in names if n not in drop]
    path.write_text(json.dumps(config))


def main() -> None:
    argv = sys.argv[1:]
    drop = missing_caps()
    if drop:
        # `runc create --bundle DIR` reads DIR/config.json; `runc exec --process FILE` (docker exec) reads FILE.
        bundle = _arg(argv, ("--bundle", "-b"))
        if bundle is not None and (bundle / "config.json").is_file():
            _drop(bundle / "config.json", drop, process=False)
        process = _arg(argv, ("--process", "-p"))
        if "exec" in argv and process is not None and process.is_file():
            _drop(process, drop, process=True)
    os.execv(RUNC, [RUNC, *argv])  # noqa: S606 - exec the real runtime with the same arguments


if __name__ == "__main__":
    main()
