"""ruamel.yaml's parser errors, said as what the user did wrong and how to fix it.

The parser reports what its grammar expected ("while parsing a block mapping expected <block end>, but found
'<block mapping start>'"); a person needs to hear "this key is indented differently from the keys above it".
The common mistakes are recognised from the parser's problem text and the line it points at; anything else
keeps the parser's words, prefixed "YAML syntax error", so nothing is lost.
"""

from __future__ import annotations

from ruamel.yaml.error import MarkedYAMLError


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _previous_content_line(lines: list[str], index: int) -> int | None:
    for i in range(index - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def describe(text: str, exc: MarkedYAMLError) -> tuple[int, int, str]:
    """(line, col, message) for a parser error, 1-based, on one line."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or ""
    context = exc.context or ""
    lines = text.splitlines()
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    opened = exc.context_mark
    opened_at = f"line {opened.line + 1}, column {opened.column + 1}" if opened else "above"
    if "'\\t'" in problem:
        if not here[: col - 1].strip():
            return line, col, "a tab indents this line: YAML indents with spaces only; replace the tab with spaces"
        return line, col, "a tab separates this value: replace the tab with a space"
    if "cannot start any token" in problem:
        char = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        return line, col, f"a plain value cannot start with '{char}': quote the value ('{char}…')"
    if "mapping values are not allowed here" in problem:
        before = _previous_content_line(lines, line - 1)
        if before is not None and _indent(here) > _indent(lines[before]) and ":" not in here[: col - 1].strip()[:-1]:
            return (
                line,
                _indent(here) + 1,
                f"this line is indented deeper than line {before + 1} above it: keys of one mapping line up "
                "at the same column",
            )
        return line, col, "a ': ' inside a value: quote the value, or put the key on its own line"
    if "while parsing a block mapping" in context and "<block mapping start>" in problem:
        before = _previous_content_line(lines, line - 1)
        above = f" (line {before + 1} starts at column {_indent(lines[before]) + 1})" if before is not None else ""
        return (
            line,
            col,
            f"this key's indentation (column {col}) matches no mapping above it{above}: line keys of one "
            "mapping up at the same column",
        )
    if "while parsing a block mapping" in context and "'-'" in problem:
        return line, col, "a list item ('- ') in the middle of a mapping: indent the list under a key of its own"
    if "while parsing a block collection" in context or "while parsing a block sequence" in context:
        return line, col, "a line breaks the list above it: indent it like the list's '- ' items, or dedent it"
    if "while parsing a flow mapping" in context or "while parsing a flow sequence" in context:
        close = "}" if "mapping" in context else "]"
        if "<stream end>" in problem:
            return line, col, f"the '{'{' if close == '}' else '['}' at {opened_at} is never closed: add '{close}'"
        return (
            line,
            col,
            f"the '{'{' if close == '}' else '['}' at {opened_at} is not closed where expected: separate items "
            f"with ', ' and close it with '{close}' (quote values that contain ':', ',', '[', ']', '{{' or '}}')",
        )
    if "quoted scalar" in context and "end of stream" in problem:
        return line, col, f"the quote at {opened_at} is never closed: add the closing quote"
    if "unknown escape character" in problem:
        return (
            line,
            col,
            "a backslash in double quotes starts an escape: write '\\\\' for a backslash, or use single quotes",
        )
    if "found undefined alias" in problem:
        return line, col, "a value starting with '*' reads as an alias that is not defined: quote the value"
    what = " ".join(s for s in (context, problem) if s)
    return line, col, f"YAML syntax error: {what}"
