"""Row keys of the SQL API: one per column, unique, the column's name where it can be."""

from __future__ import annotations

import pytest

from lampion.services.sql import row_keys, shape_rows


@pytest.mark.parametrize(
    ("names", "keys"),
    [
        (["id", "name"], ["id", "name"]),
        (["a", "a"], ["a", "a_1"]),
        (["a", "a", "a_1"], ["a", "a_2", "a_1"]),
        (["a_1", "a", "a"], ["a_1", "a", "a_2"]),
        (["a", "a", "a", "a_2"], ["a", "a_1", "a_3", "a_2"]),
        (["a", "a", "a_1", "a_1"], ["a", "a_2", "a_1", "a_1_1"]),
        (["?column?", "?column?"], ["?column?", "?column?_1"]),
        ([], []),
    ],
)
def test_every_column_gets_a_key_of_its_own(names: list[str], keys: list[str]) -> None:
    assert row_keys(names) == keys
    assert len(set(keys)) == len(keys)


def test_rows_as_objects_or_lists() -> None:
    rows = [[1, 2], [3, 4]]
    assert shape_rows(["a", "a_1"], rows, "object") == [{"a": 1, "a_1": 2}, {"a": 3, "a_1": 4}]
    assert shape_rows(["a", "a_1"], rows, "array") == rows
