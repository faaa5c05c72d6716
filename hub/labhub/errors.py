"""Turning validation errors into the one-line causes an admin can act on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """A configuration file (settings or profiles) is wrong; the message says what to fix."""


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the field at `loc`, following nested models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        current = _nested_model(fields[part].annotation)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def describe(error: ValidationError, model: type[BaseModel], prefix: str = "") -> list[str]:
    """One line per problem: `key.path: what is wrong (what is allowed)`."""
    lines = []
    for err in error.errors():
        loc = tuple(err["loc"])
        # A key with a line break or other control characters is shown quoted, so the cause stays one line.
        key = ".".join(str(p) if str(p).isprintable() else repr(p) for p in (prefix, *loc) if p != "")
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = ", ".join(parent.model_fields) if parent else "see the documentation"
            lines.append(f"{key}: unknown key (allowed here: {allowed})")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key or '(top level)'}: {msg}")
    return lines
