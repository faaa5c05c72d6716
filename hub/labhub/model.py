"""Building blocks shared by every validated config model (settings and profiles)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from .units import parse_duration, parse_size

Duration = Annotated[int, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]

# JupyterHub user names labhub accepts (settings, sign-up): they end up in Docker names and labels.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
USERNAME_RULE = ("1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or a "
                 "digit")
Username = Annotated[str, Field(pattern=USERNAME_PATTERN)]


def _ip_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return value


IpNetwork = Annotated[str, AfterValidator(_ip_network)]


class Strict(BaseModel):
    """Unknown keys are errors; values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
