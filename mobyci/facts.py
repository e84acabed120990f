"""Regenerate the release facts table from local clones (a maintainer command, not part of the CLI):

    python -m mobyci.facts --moby DIR --cli DIR --packaging DIR [--out FILE] [--date YYYY-MM-DD]

DIR is a clone (bare or not) of moby/moby, docker/cli and docker/docker-ce-packaging with their tags and
release branches. Only git objects are read. --date is the day the table is said to be made (default: today,
UTC); tests pass the committed one to check that the table is what the clones give.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from mobyci.errors import MobyciError
from mobyci.families import generate

DEFAULT_OUT = Path(__file__).parent / "families" / "releases.py"


def table_source(moby: Path, cli: Path, packaging: Path, made: str) -> str:
    rows, clis, branches = generate.build_table(generate.Git(moby), generate.Git(cli), generate.Git(packaging))
    return generate.render_module(rows, clis, branches, made)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobyci.facts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--moby", type=Path, required=True, help="clone of moby/moby")
    parser.add_argument("--cli", type=Path, required=True, help="clone of docker/cli")
    parser.add_argument("--packaging", type=Path, required=True, help="clone of docker/docker-ce-packaging")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("--date", default=None, help="the day the table is made (default: today, UTC)")
    args = parser.parse_args(argv)
    made = args.date or datetime.datetime.now(datetime.UTC).date().isoformat()
    try:
        datetime.date.fromisoformat(made)
        text = table_source(args.moby, args.cli, args.packaging, made)
    except (MobyciError, ValueError) as exc:
        sys.stderr.write(f"mobyci.facts: {exc}\n")
        return 1
    args.out.write_text(text, encoding="utf-8")
    sys.stderr.write(f"{args.out}: written\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
