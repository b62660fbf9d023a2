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
META_COMMAND = re.compile(
    r"^\\(?P<command>dt|di|dv|df|dn|du|dx|d|l|conninfo)(?P<modifiers>[S+]{0,2})"
    r"(?:\s+(?P<pattern>[^\s\\;'`$|&<>]+))?\s*;?\s*$"
)


class MetaCommandError(ValueError):
    pass


@dataclass
class MetaResult:
    command: str
    title: str | None
    columns: list[str]
    rows: list[dict[str, str]]
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
        "-q",
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
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip().splitlines()
        raise MetaCommandError(message[0].removeprefix("ERROR:").strip() if message else "failed")
    return parse_output(command, stdout.decode())


def parse_output(command: str, output: str) -> MetaResult:
    """Title, header, rows and footers from psql's unaligned output (our own separators).
    Every supported describe command prints a title; a lone record is a message."""
    records = output.rstrip("\n").split(_RECORD)
    if records == [""]:
        return MetaResult(command, None, [], [])
    if len(records) == 1:
        return MetaResult(command, records[0], [], [])
    title, header = records[0], records[1].split(_FIELD)
    rows: list[dict[str, str]] = []
    footers: list[str] = []
    for record in records[2:]:
        fields = record.split(_FIELD)
        if len(fields) == len(header) and not footers:
            rows.append(dict(zip(header, fields, strict=True)))
        elif not _ROW_COUNT.match(record.strip()):
            footers.append(record)
    return MetaResult(command, title, header, rows, footers)
