"""yamlout's faster emitter writes exactly the bytes ruamel's own emitter writes."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mobyci.emit import yamlout


def _stock_dump(data: dict[str, Any]) -> str:
    """yamlout.dump with ruamel's unmodified round-trip emitter."""
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(yamlout._prepare(data), buffer)
    return buffer.getvalue()


_lines = st.lists(st.sampled_from(["", " ", "  x", "set -eu", "\tcase $1 in", "a: b", "# c", "é", "---", "..."]))
_texts = st.builds(lambda lines, tail: "\n".join(lines) + tail, _lines, st.sampled_from(["", "\n", "\n\n"]))


@settings(max_examples=300, deadline=None)
@given(_texts.filter(lambda t: "\n" in t), st.builds("{}\n{}".format, st.text(max_size=15), st.text(max_size=15)))
def test_literal_blocks_match_ruamels_emitter(script: str, anything: str) -> None:
    data = {
        "job": {"script": [script, "echo done"], "after": anything, "variables": {"A": "1"}},
        "top": script,
        "list": [{"nested": [script]}],
    }
    assert yamlout.dump(data) == _stock_dump(data)


_plain = st.one_of(
    st.sampled_from(
        ["docker buildx bake binary", "a: b", "x  y ", " lead", "- dash", "#no", "yes", "12:30", "é", "'q'"]
    ),
    st.text(max_size=20),
    st.builds(lambda n: "w " * n, st.sampled_from([10, 2100, 2200])),  # around the 4096-column width
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_plain, max_size=8), st.dictionaries(st.sampled_from(["A", "B", "c d", "yes"]), _plain, max_size=3))
def test_plain_and_quoted_scalars_match_ruamels_emitter(lines: list[str], variables: dict[str, str]) -> None:
    # The same values twice: analyses are remembered per value, and each use must still come out right.
    data = {"one": {"script": lines, "variables": variables}, "two": {"script": lines, "variables": variables}}
    assert yamlout.dump(data) == _stock_dump(data)


def test_the_patch_script_block_is_written_as_ruamel_would() -> None:
    script = "#!/bin/sh\nset -eu\n\n  indented\nend\n"
    data = {"prepare": {"script": ["cat > p.sh <<'EOF'\n" + script + "EOF\n", "sh p.sh"]}}
    out = yamlout.dump(data)
    assert out == _stock_dump(data)
    assert "      \n" not in out  # empty lines carry no indentation
