"""Quoting for the statements PostgreSQL cannot take as bind parameters (DDL, utility)."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    if "\x00" in name:
        raise ValueError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("literals cannot contain NUL")
    escaped = value.replace("'", "''")
    if "\\" in escaped:
        return " E'" + escaped.replace("\\", "\\\\") + "'"
    return "'" + escaped + "'"
