"""Assertions on what a JSON answer holds, by its structure rather than its text: a substring test on
the text also matches a timestamp, an id or a port that happens to contain the same digits."""

from __future__ import annotations


def strings_in(value) -> set[str]:
    """Every string a JSON-like value holds, keys and values, however deep (numbers are not strings)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set(value).union(*map(strings_in, value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*map(strings_in, value))
    return set()


def strings_mentioning(value, *needles: str) -> set[str]:
    """The strings in `value` that contain any of `needles`: empty when nothing of them leaked."""
    return {s for s in strings_in(value) if any(n in s for n in needles)}
