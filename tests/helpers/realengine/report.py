"""The real builds' cost report: one JSON file and a short text summary next to it, in REPORT_DIR
(MOBYCI_REPORT_DIR, default `<realengine.cache_dir()>/reports`, i.e. ~/.cache/mobyci-ci/real-engine/reports).

Each test adds its runs under its own name and the files are rewritten (other names kept), so several test
modules contribute to one report:

    report.record("v20.10.27 binary", {"jobs": {"prepare": 21.0, ...}, "seconds": 540.2, "passed": True})
    report.record("v28.5.2 binary (warm)", {..., "cold": "v28.5.2 binary (cold)", "cached_steps": 14})

A run is a JSON object; `passed`, `jobs` (job name -> seconds) and `seconds` are the fields the text summary
shows first (`"expected": "failure"` marks a negative control), any other scalar fields after them.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from tests.helpers.realengine import cache_dir

NAME = "real-builds"


def report_dir() -> Path:
    configured = os.environ.get("MOBYCI_REPORT_DIR")
    path = Path(configured) if configured else cache_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def record(run: str, data: dict[str, Any]) -> tuple[Path, Path]:
    """Add (or replace) `run` in the report and rewrite both files; returns (json path, text path)."""
    folder = report_dir()
    json_path, text_path = folder / f"{NAME}.json", folder / f"{NAME}.txt"
    with (folder / f"{NAME}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs: dict[str, Any] = json.loads(json_path.read_text())["runs"] if json_path.exists() else {}
        runs[run] = data
        json_path.write_text(json.dumps({"runs": runs}, indent=2, sort_keys=True) + "\n")
        text_path.write_text(summary(runs))
    return json_path, text_path


def summary(runs: dict[str, Any]) -> str:
    lines = []
    for name, data in sorted(runs.items()):
        total = data.get("seconds")
        # A negative control says `"expected": "failure"`: its failure is the outcome it wants.
        failed = "failed, as expected" if data.get("expected") == "failure" else "FAILED"
        head = f"{name}: {'passed' if data.get('passed') else failed}"
        if isinstance(total, int | float):
            head += f", {total:.0f} s"
        lines.append(head)
        for job, seconds in data.get("jobs", {}).items():
            lines.append(f"  job {job}: {seconds:.1f} s")
        for key, value in sorted(data.items()):
            if key not in ("jobs", "seconds", "passed", "expected") and isinstance(value, str | int | float | bool):
                lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"
