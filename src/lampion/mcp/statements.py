"""Reading an agent's SQL before it is sent: the statements it holds (split exactly as the
SQL API splits them) and whether one controls transactions."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from lampion.pg import script

_TRANSACTION_CONTROL = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT"}


def split(sql: str) -> list[str]:
    try:
        statements = script.split(sql)
    except script.ScriptError as exc:
        raise ToolError(f"The SQL cannot be read: {exc}") from None
    if not statements:
        raise ToolError("The SQL holds no statement")
    return statements


def without_transaction_control(statements: list[str]) -> list[str]:
    for index, statement in enumerate(statements):
        first = statement.split(None, 1)[0].upper()
        if first in _TRANSACTION_CONTROL:
            raise ToolError(
                f"Statement {index} ({first}) controls the transaction; this tool already runs "
                "all statements as one transaction"
            )
    return statements


def in_transaction(statements: list[str], *, end: str = "COMMIT", begin: str = "BEGIN") -> str:
    """One script: ``begin``, the statements, ``end``."""
    return ";\n".join([begin, *statements, end]) + ";"
