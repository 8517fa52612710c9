"""Checks and shapes taken from the botocore service models.

botocore validates required keys, types and minimums before a call, but not every client does (another
SDK, a raw HTTP request, botocore with ``parameter_validation=False``); the service also checks maximum
lengths, patterns and enums. :func:`check_input` does all those checks from the same model and answers
them the way the service does. :func:`shape_output` keeps exactly the members the model declares for a response
and turns stored epoch seconds into ``datetime`` objects, as botocore's parser would.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any

from botocore.model import Shape

from personalize_kit.local.exceptions import InvalidInputException

#: Java regex classes used in the models, in Python's dialect.
_JAVA_CLASSES = {
    r"\p{ASCII}": r"\x00-\x7F",
    r"\p{L}": r"^\W\d_",
    r"\p{Z}": r"\s",
    r"\p{N}": r"\d",
}


@cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    text = pattern
    if r"\p{L}" in text:
        # Tag patterns: letters, separators, numbers and a few symbols. Python's \w covers L and N.
        text = text.replace(r"\p{L}\p{Z}\p{N}", r"\w\s")
    text = text.replace(r"\p{ASCII}", r"[\x00-\x7F]")
    if r"\p{" in text:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _violation(value: Any, where: str, constraint: str, *, quote: bool = True) -> InvalidInputException:
    shown = f"'{value}'" if quote else str(value)
    return InvalidInputException(
        f"1 validation error detected: Value {shown} at '{where}' failed to satisfy constraint: {constraint}"
    )


def check_input(shape: Shape | None, value: Any, where: str = "") -> None:
    """Raise :class:`InvalidInputException` where ``value`` breaks a max, pattern or enum of ``shape``."""
    if shape is None or value is None:
        return
    md = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            path = f"{where}.{name}" if where else name
            if isinstance(value, dict) and value.get(name) is not None:
                check_input(member, value[name], path)
            elif name in shape.required_members:  # a client that does not validate (or none) sent none
                raise _violation("null", path, "Member must not be null", quote=False)
    elif kind == "list":
        if "min" in md and len(value) < md["min"]:
            raise _violation(value, where, f"Member must have length greater than or equal to {md['min']}")
        if "max" in md and len(value) > md["max"]:
            raise _violation(value, where, f"Member must have length less than or equal to {md['max']}")
        for i, item in enumerate(value):
            check_input(shape.member, item, f"{where}.{i + 1}.member")
    elif kind == "map":
        if "max" in md and len(value) > md["max"]:
            raise _violation(value, where, f"Map value must have length less than or equal to {md['max']}")
        for key, item in value.items():
            check_input(shape.key, key, f"{where}.key")
            check_input(shape.value, item, f"{where}.{key}")
    elif kind == "string":
        if "min" in md and len(value) < md["min"]:
            raise _violation(value, where, f"Member must have length greater than or equal to {md['min']}")
        if "max" in md and len(value) > md["max"]:
            raise _violation(value, where, f"Member must have length less than or equal to {md['max']}")
        if "enum" in md and value not in md["enum"]:
            raise _violation(value, where, f"Member must satisfy enum value set: [{', '.join(md['enum'])}]")
        compiled = _compile(md["pattern"]) if "pattern" in md else None
        if compiled is not None and not compiled.fullmatch(value):
            raise _violation(value, where, f"Member must satisfy regular expression pattern: {md['pattern']}")
    elif kind in ("integer", "long", "double", "float"):
        if "min" in md and value < md["min"]:
            raise _violation(value, where, f"Member must have value greater than or equal to {md['min']}")
        if "max" in md and value > md["max"]:
            raise _violation(value, where, f"Member must have value less than or equal to {md['max']}")


def shape_output(shape: Shape | None, value: Any) -> Any:
    """Keep only what ``shape`` declares, converting epoch seconds to timezone-aware ``datetime``.

    ``shape`` should come from a model kept for the process (``mirror.operation_model``): what is made
    from it is kept as long.
    """
    if shape is None:
        return {}
    return _output(shape)(value)


def _same(value: Any) -> Any:
    return value


def _timestamp(value: Any) -> Any:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)


@cache
def _output(shape: Shape) -> Any:
    """The function shaping values of ``shape`` (:func:`shape_output`), built once per shape: every answer
    goes through it. Kept for the process: give it the shapes of models that live as long."""
    kind = shape.type_name
    if kind == "timestamp":
        return _timestamp
    if kind == "list":
        member = _output(shape.member)
        return lambda value: None if value is None else [member(item) for item in value]
    if kind == "map":
        item_output = _output(shape.value)
        return lambda value: None if value is None else {key: item_output(item) for key, item in value.items()}
    if kind != "structure":
        return _same
    members = [(name, _output(member)) for name, member in shape.members.items()]

    def structure(value: Any) -> Any:
        if value is None:
            return None
        out = {}
        for name, output in members:
            if name in value and value[name] is not None:
                out[name] = output(value[name])
        return out

    return structure
