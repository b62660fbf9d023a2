"""Splitting a SQL script into statements exactly where PostgreSQL's lexer would.

pglast's scanner (PostgreSQL's own lexer) tokenizes the script, so semicolons inside string
constants, dollar quotes, quoted identifiers and comments never split. A statement ends at a
top-level semicolon, except inside the body of a ``CREATE FUNCTION/PROCEDURE … BEGIN ATOMIC
… END`` (as psql does). Comment-only and empty statements are dropped.
"""

from __future__ import annotations

from pglast.parser import ParseError, scan

_SEMICOLON = "ASCII_59"
_COMMENTS = {"SQL_COMMENT", "C_COMMENT"}


class ScriptError(ValueError):
    pass


def split(script: str) -> list[str]:
    try:
        tokens = scan(script)
    except ParseError as exc:
        raise ScriptError(str(exc)) from exc
    statements: list[str] = []
    start: int | None = None
    end = 0
    names: list[str] = []
    depth = 0
    for token in tokens:
        if token.name in _COMMENTS:
            continue
        if token.name == _SEMICOLON and depth == 0:
            if start is not None:
                statements.append(script[start:end])
            start, names = None, []
            continue
        if start is None:
            start = token.start
        end = token.end + 1
        names.append(token.name)
        depth = _atomic_depth(names, depth)
    if start is not None:
        statements.append(script[start:end])
    return statements


def _atomic_depth(names: list[str], depth: int) -> int:
    """Nesting of BEGIN ATOMIC … END inside CREATE FUNCTION/PROCEDURE."""
    if names[0] != "CREATE" or not ({"FUNCTION", "PROCEDURE"} & set(names[:6])):
        return 0
    last = names[-1]
    if last == "ATOMIC" and len(names) > 1 and names[-2] == "BEGIN_P":
        return depth + 1
    if depth and last == "CASE":
        return depth + 1
    if depth and last == "END_P":
        return depth - 1
    return depth
