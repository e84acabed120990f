"""Regenerate the release facts table from local clones (a maintainer command, not part of the CLI):

    python -m mobyci.facts --moby DIR --cli DIR --packaging DIR --repo OWNER/NAME=DIR ... [--out FILE]
                           [--date YYYY-MM-DD]

DIR is a clone (bare or not) of moby/moby, docker/cli and docker/docker-ce-packaging with their tags and
release branches; each --repo, a clone with its tags of a repository a packaging branch builds next to the engine
and the CLI (docker/buildx, docker/compose, docker/model-cli, docker/model-runner, docker/app): the command names
any that is missing. Only git objects are read. --date is the day the table is said to be made (default: today,
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


def table_source(moby: Path, cli: Path, packaging: Path, made: str, repos: dict[str, Path] | None = None) -> str:
    clones = {name: generate.Git(path) for name, path in (repos or {}).items()}
    rows, clis, branches = generate.build_table(generate.Git(moby), generate.Git(cli), generate.Git(packaging), clones)
    return generate.render_module(rows, clis, branches, made, generate.prerelease_tags(generate.Git(moby)))


def parse_repos(items: list[str]) -> dict[str, Path]:
    """OWNER/NAME=DIR items (--repo, or the words of MOBYCI_COMPONENT_GITS in tests) as {owner/name: DIR}."""
    repos: dict[str, Path] = {}
    for item in items:
        name, sep, directory = item.partition("=")
        if not sep or name.count("/") != 1 or not directory:
            raise ValueError(f"--repo {item}: write OWNER/NAME=DIR, e.g. docker/buildx=../buildx")
        repos[name] = Path(directory)
    return repos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobyci.facts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--moby", type=Path, required=True, help="clone of moby/moby")
    parser.add_argument("--cli", type=Path, required=True, help="clone of docker/cli")
    parser.add_argument("--packaging", type=Path, required=True, help="clone of docker/docker-ce-packaging")
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME=DIR",
        help="clone of a repository a packaging branch builds (docker/buildx=DIR …); repeat",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("--date", default=None, help="the day the table is made (default: today, UTC)")
    args = parser.parse_args(argv)
    made = args.date or datetime.datetime.now(datetime.UTC).date().isoformat()
    try:
        datetime.date.fromisoformat(made)
        repos = parse_repos(args.repo)
        text = table_source(args.moby, args.cli, args.packaging, made, repos)
    except (MobyciError, ValueError) as exc:
        sys.stderr.write(f"mobyci.facts: {exc}\n")
        return 1
    args.out.write_text(text, encoding="utf-8")
    sys.stderr.write(f"{args.out}: written\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
