"""Values typed into console forms, read strictly: what is not a finite number where one is
wanted is the API's 400 naming the field, not a server error."""

from __future__ import annotations

import math

from lampion.client import LampionAPIError


def invalid(field: str, message: str) -> LampionAPIError:
    return LampionAPIError(400, "invalid_request", message, {"field": field})


def number(field: str, value: str) -> float | None:
    """A `type=number` input's value; blank: None (leave the setting as it is)."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise invalid(field, f"{field} must be a number") from None
    if not math.isfinite(parsed):
        raise invalid(field, f"{field} must be a finite number")
    return parsed


def whole_number(field: str, value: str) -> int | None:
    parsed = number(field, value)
    if parsed is None:
        return None
    if not parsed.is_integer():
        raise invalid(field, f"{field} must be a whole number")
    return int(parsed)
