"""Startup speed goals, as ratios against a baseline measured in the same run.

    python bench/startup.py [--runs N] [--python PY ...]

Each `--python` interpreter (default: this one) gets its own table, with its own baseline: run it with the pinned
pydantic's venv and with a venv of the oldest pydantic pyproject admits, e.g.
`python bench/startup.py --python .venv/bin/python --python /tmp/oldest/bin/python`.

Baseline: `python -c "import typer, pydantic, ruamel.yaml, jinja2"`. Prints the median wall time of each
command, its ratio to the baseline, the goal, and the peak memory (max RSS) of one run. These machines are
noisy: only ratios from one run are compared, never absolute times, and nothing here runs as a test.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "seed-19.03" / "mobyci.yaml"
LARGEST = """\
version: 1
moby: {ref: v28.5.2}
mirrors:
  apt: debian-mirror.example.com
  git: {"https://github.com/": "https://git-mirror.example.com/github/"}
  downloads: {"https://download.docker.com/linux/static": "https://dl-mirror.example.com/linux/static"}
  registry: https://hub-mirror.example.com
  goproxy: https://goproxy.example.com
proxy: {http: $CORP_HTTP_PROXY, https: $CORP_HTTPS_PROXY, no_proxy: [.example.com]}
targets:
  - binary
  - dynbinary
  - cross
  - {name: rpm, distros: [centos-9, centos-10, rhel-8, rhel-9, rhel-10]}
  - name: deb
    distros: [debian-bookworm, debian-trixie, raspbian-bookworm, debian-bullseye, raspbian-bullseye,
              ubuntu-jammy, ubuntu-noble]
ci: {gitlab: {runners: {arm: [arm32]}}}
"""
_FLOOR = "import typer, ruamel.yaml\nfrom pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1)"
ONE_TARGET = "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\n"
# Runs the CLI in-process under `python -c` and reports the peak RSS of that process (KiB on Linux).
_RSS = (
    "import resource, runpy, sys; sys.argv = ['mobyci', *sys.argv[1:]]\n"
    # The fast path ends the process with os._exit; end it with SystemExit instead, to look around afterwards.
    "import mobyci.fastpath as fp; fp._exit_now = sys.exit\n"
    "try:\n    runpy.run_module('mobyci', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write('RSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def _medians(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median wall time of each command. The commands take turns, round after round, so that a slow spell of
    the machine hits the baseline and the commands alike instead of whichever happened to run then."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _rss_mib(py: str, args: list[str]) -> float:
    done = subprocess.run([py, "-c", _RSS, *args], capture_output=True, text=True, check=True)
    line = next(x for x in done.stderr.splitlines() if x.startswith("RSS "))
    return int(line.split()[1]) / 1024


_MEMORY_GOAL = 40.0


def _versions(py: str) -> str:
    probe = "import sys, pydantic, pydantic_core as c; print(sys.version.split()[0], pydantic.VERSION, c.__version__)"
    done = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True)
    python, pydantic, core = done.stdout.split()
    return f"Python {python}, pydantic {pydantic} (pydantic-core {core})"


def _table(py: str, runs: int, tmp: Path) -> bool:
    """Print one interpreter's table; True when every goal is met."""
    largest = tmp / "largest.yaml"
    largest.write_text(LARGEST)
    one = tmp / "one.yaml"
    one.write_text(ONE_TARGET)
    rows = [
        ("--version", ["--version"], 0.6),
        ("validate", ["validate", str(SMALL)], 0.9),
        ("render", ["render", str(SMALL)], 0.9),
        ("render github", ["render", str(SMALL), "--format=github"], 1.0),
        ("plan", ["plan", str(SMALL)], 1.0),
        ("patch", ["patch", str(SMALL)], 1.0),
    ]
    commands = {
        "baseline": [py, "-c", "import typer, pydantic, ruamel.yaml, jinja2"],
        "floor": [py, "-c", _FLOOR],
        **{label: [py, "-m", "mobyci", *args] for label, args, _ in rows},
        "largest": [py, "-m", "mobyci", "render", str(largest)],
        "one-target": [py, "-m", "mobyci", "render", str(one)],
    }
    medians = _medians(commands, runs)
    base = medians["baseline"]
    print(f"== {_versions(py)}")
    print(f"baseline (import typer, pydantic, ruamel.yaml, jinja2): {base * 1000:.0f} ms, {runs} runs")
    # `import pydantic` in the baseline is lazy: it loads neither pydantic.main nor the plugin loader that
    # building any model needs. This floor is what one pydantic model costs on top of typer and ruamel.
    floor = medians["floor"] / base
    print(f"floor         {floor:5.2f}x baseline (typer + ruamel.yaml + one pydantic model validated)")
    ok_all = True
    for label, args, goal in rows:
        ratio = medians[label] / base
        rss = _rss_mib(py, args)
        ok = ratio <= goal and rss <= _MEMORY_GOAL
        ok_all &= ok
        print(
            f"{label:13} {ratio:5.2f}x baseline (goal <= {goal}), peak {rss:.1f} MiB (goal <= {_MEMORY_GOAL:.0f})"
            f"  {'ok' if ok else 'MISSED'}"
        )
    ratio = medians["largest"] / medians["one-target"]
    ok_all &= ratio <= 1.5
    print(f"render largest/one-target {ratio:5.2f}x (goal <= 1.5)  {'ok' if ratio <= 1.5 else 'MISSED'}")
    return ok_all


def main() -> int:
    # Distros are judged on the day mobyci runs: a fixed day keeps LARGEST valid (and its warnings the same).
    os.environ.setdefault("MOBYCI_TODAY", "2026-12-01")
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--python", action="append", help="an interpreter with mobyci installed (repeatable)")
    args = parser.parse_args()
    # An installed mobyci has its bytecode compiled (pip does it at install time), as the baseline's libraries
    # have; a source checkout may not (PYTHONDONTWRITEBYTECODE), which would time Python's compiler instead.
    compileall.compile_dir(ROOT / "mobyci", quiet=1)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for py in args.python or [sys.executable]:
            ok &= _table(py, args.runs, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
