"""Parsing of the human units admins write in YAML: durations ("90m", "12h") and sizes ("4G")."""

from __future__ import annotations

import re

# Docker and the OS keep sizes and times in 64-bit integers; anything larger is a typo, not a setting.
_LARGEST = 2**63 - 1

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_FACTORS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: int | float | str) -> int:
    """Seconds from 3600, "3600", "90m", "3h", "1.5h" or "2d"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '90m', '3h' or seconds, got a boolean")
    if isinstance(value, (int, float)):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration like '90m', '3h', '2d' or seconds, got {value!r}")
        seconds = float(match.group(1)) * _DURATION_FACTORS[match.group(2)]
    if seconds != seconds or seconds > _LARGEST:  # NaN or too large
        raise ValueError(f"a duration must be a finite number of seconds below 2^63, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return int(seconds)


def parse_size(value: int | str) -> int:
    """Bytes from 1073741824, "512M", "4G", "4Gi" or "4GB" (binary units, as Docker reads them)."""
    if isinstance(value, bool):
        raise ValueError("expected a size like '512M' or '4G', got a boolean")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"expected a size like '512M' or '4G', got {value!r}")
        unit = (match.group(2) or "").lower().rstrip("i")
        size = float(match.group(1)) * _SIZE_FACTORS[unit]
    if size > _LARGEST:
        raise ValueError(f"a size must be below 8 EiB, got {value!r}")
    size = int(size)
    if size <= 0:
        raise ValueError(f"a size must be positive, got {value!r}")
    return size


def format_size(size: int) -> str:
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= factor:
            text = f"{size / factor:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}B"
    return f"{size} B"


def format_duration(seconds: int | float) -> str:
    seconds = int(seconds)
    if seconds and seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds >= 3600:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
