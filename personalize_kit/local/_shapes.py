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
    """Raise :class:`InvalidInputException` where ``value`` breaks a max, pattern or enum of ``shape``.

    ``shape`` should come from a model kept for the process (``mirror.operation_model``): the check made
    from it is kept as long.
    """
    if shape is not None and value is not None:
        _checker(shape)(value, where)


def _check_length(md: dict[str, Any], noun: str = "length") -> Any:
    """The min/max checks of a list or string (``noun`` names what is measured in the message)."""
    low, high = md.get("min"), md.get("max")
    if low is None and high is None:
        return None

    def check(value: Any, where: str) -> None:
        if low is not None and len(value) < low:
            raise _violation(value, where, f"Member must have {noun} greater than or equal to {low}")
        if high is not None and len(value) > high:
            raise _violation(value, where, f"Member must have {noun} less than or equal to {high}")

    return check


@cache
def _checker(shape: Shape) -> Any:
    """The check of values of ``shape`` (:func:`check_input`), built once per shape: every call goes through it."""
    md, kind = shape.metadata, shape.type_name
    if kind == "structure":
        return _structure_checker(shape)
    if kind == "list":
        length, member = _check_length(md), _checker(shape.member)

        def check_list(value: Any, where: str) -> None:
            if length is not None:
                length(value, where)
            for i, item in enumerate(value):
                if item is not None:
                    member(item, f"{where}.{i + 1}.member")

        return check_list
    if kind == "map":
        high, key_check, item_check = md.get("max"), _checker(shape.key), _checker(shape.value)

        def check_map(value: Any, where: str) -> None:
            if high is not None and len(value) > high:
                raise _violation(value, where, f"Map value must have length less than or equal to {high}")
            for key, item in value.items():
                if key is not None:
                    key_check(key, f"{where}.key")
                if item is not None:
                    item_check(item, f"{where}.{key}")

        return check_map
    if kind == "string":
        return _string_checker(md)
    if kind in ("integer", "long", "double", "float"):
        return _number_checker(md)
    return _nothing


def _nothing(value: Any, where: str) -> None:
    return None


def _structure_checker(shape: Shape) -> Any:
    members = [(name, _checker(member), name in shape.required_members) for name, member in shape.members.items()]

    def check_structure(value: Any, where: str) -> None:
        for name, check, required in members:
            item = value.get(name) if isinstance(value, dict) else None
            if item is not None:
                check(item, f"{where}.{name}" if where else name)
            elif required:  # a client that does not validate (or none) sent none
                raise _violation("null", f"{where}.{name}" if where else name, "Member must not be null", quote=False)

    return check_structure


def _string_checker(md: dict[str, Any]) -> Any:
    length, enum = _check_length(md), md.get("enum")
    compiled = _compile(md["pattern"]) if "pattern" in md else None
    if length is None and enum is None and compiled is None:
        return _nothing

    def check_string(value: Any, where: str) -> None:
        if length is not None:
            length(value, where)
        if enum is not None and value not in enum:
            raise _violation(value, where, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        if compiled is not None and not compiled.fullmatch(value):
            raise _violation(value, where, f"Member must satisfy regular expression pattern: {md['pattern']}")

    return check_string


def _number_checker(md: dict[str, Any]) -> Any:
    low, high = md.get("min"), md.get("max")
    if low is None and high is None:
        return _nothing

    def check_number(value: Any, where: str) -> None:
        if low is not None and value < low:
            raise _violation(value, where, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            raise _violation(value, where, f"Member must have value less than or equal to {high}")

    return check_number


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
