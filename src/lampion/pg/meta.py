"""psql meta-commands, answered by the real psql of the compute's PostgreSQL version (so the
rows are exactly what psql shows), run over the control plane's private socket."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from lampion.compute.base import AdminTarget
from lampion.compute.installations import PgInstall
from lampion.pg.connection import client_environment

_FIELD, _RECORD = "\x1f", "\x1e"
_ROW_COUNT = re.compile(r"^\(\d+ rows?\)$")
# A pattern is psql's: unquoted parts (no shell, variable or command characters) and
# double-quoted ones, which psql takes literally (any character but a quote, a backslash or
# a control character), e.g. "Mixed Case"* or public."Quoted Name".
_PATTERN = r"""(?:[^\s\\;'`$|&<>"]|"[^"\\\x00-\x1f\x7f]*")+"""
META_COMMAND = re.compile(
    r"^\\(?P<command>dt|di|dv|df|dn|du|dx|d|l|conninfo)(?P<modifiers>[S+]{0,2})"
    rf"(?:\s+(?P<pattern>{_PATTERN}))?\s*;?\s*$"
)


class MetaCommandError(ValueError):
    """A command refused, or one psql failed (its own message, e.g. `Did not find any relation
    named "missing".`)."""


@dataclass
class MetaResult:
    """What psql prints: a title (or a lone message, such as `Did not find any tables named
    "x*".`), a header, rows in column order, footers."""

    command: str
    title: str | None
    columns: list[str]
    rows: list[list[str]]
    footers: list[str] = field(default_factory=list)


def is_meta_command(text: str) -> bool:
    return text.lstrip().startswith("\\")


async def run_meta(
    install: PgInstall, target: AdminTarget, database: str, text: str, timeout: float = 30
) -> MetaResult:
    match = META_COMMAND.match(text.strip())
    if match is None:
        raise MetaCommandError(
            "Unsupported meta-command; supported: \\d, \\d NAME, \\dt, \\di, \\dv, \\df, \\dn, "
            "\\du, \\dx, \\l (with + and S where psql has them, and a pattern), \\conninfo"
        )
    command = text.strip().rstrip(";").strip()
    process = await asyncio.create_subprocess_exec(
        str(install.tool("psql")),
        "-X",
        "-A",
        "-F",
        _FIELD,
        "-R",
        _RECORD,
        "-P",
        "pager=off",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=client_environment(target, database),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        raise MetaCommandError("The meta-command took too long") from None
    # Not quiet (-q), as psql is for a user: it then says what it did not find.
    message = _message(stderr.decode(errors="replace"))
    if process.returncode != 0:
        raise MetaCommandError(message or f"psql failed (exit status {process.returncode})")
    result = parse_output(command, stdout.decode())
    if message and result.title is None:
        result.title = message
    return result


def _message(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    return lines[0].removeprefix("ERROR:").strip() if lines else ""


def parse_output(command: str, output: str) -> MetaResult:
    """Title, header, rows and footers from psql's unaligned output (our own separators).
    Every supported describe command prints a title; a lone record is a message."""
    records = output.rstrip("\n").split(_RECORD)
    if records == [""]:
        return MetaResult(command, None, [], [])
    if len(records) == 1:
        return MetaResult(command, records[0], [], [])
    title, header = records[0], records[1].split(_FIELD)
    rows: list[list[str]] = []
    footers: list[str] = []
    for record in records[2:]:
        fields = record.split(_FIELD)
        if len(fields) == len(header) and not footers:
            rows.append(fields)
        elif not _ROW_COUNT.match(record.strip()):
            footers.append(record)
    return MetaResult(command, title, header, rows, footers)
