"""The two wire protocols of the mirror's services, read and written from the botocore models.

- **JSON 1.1** (``personalize``): ``POST /`` with ``X-Amz-Target``, the request members as a JSON body;
  an error is the HTTP status with ``{"__type": Code, "message": ...}``.
- **REST-JSON** (``personalize-runtime``, ``personalize-events``): the operation in the method and path,
  members in the URI, the query string, headers or the JSON body as the model places them; an error is
  the HTTP status with the ``x-amzn-errortype`` header and ``{"message": ...}``.

Responses keep exactly the members the output shape declares, timestamps as epoch seconds (both
protocols' default), so every SDK's parser reads them as it would the service's.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from typing import Any

from personalize_kit.local.exceptions import InvalidInputException, ServiceError

CONTENT_TYPES = {"json": "application/x-amz-json-1.1", "rest-json": "application/json"}
_JSON_TYPES = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
    "blob": str,
    "structure": dict,
    "map": dict,
    "list": list,
}


class SerializationException(ServiceError):
    code = "SerializationException"


class UnknownOperationException(ServiceError):
    code = "UnknownOperationException"


def parse_request(model: Any, body: bytes, headers: Any, query: Any, path_params: dict[str, str]) -> dict[str, Any]:
    """The request members of operation ``model`` as the mirror takes them (the JSON wire's form)."""
    try:
        params = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationException(f"Could not parse the request body as JSON: {exc}") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    shape = model.input_shape
    if model.metadata["protocol"] == "rest-json" and shape is not None:
        for name, member in shape.members.items():
            location, wire = member.serialization.get("location"), member.serialization.get("name", name)
            if location == "uri" and wire in path_params:
                params[name] = path_params[wire]
            elif location == "querystring" and wire in query:
                params[name] = query.getlist(wire) if member.type_name == "list" else query[wire]
            elif location == "header" and wire in headers:
                params[name] = headers[wire]
    check_required(shape, params)
    return params


def check_required(shape: Any, value: Any, where: str = "") -> None:
    """Refuse, as the service does, a missing required member or a value of the wrong JSON type."""
    if shape is None:
        return
    expected = _JSON_TYPES.get(shape.type_name)
    if expected is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
        raise InvalidInputException(
            f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must be of type {shape.type_name}"
        )
    if shape.type_name == "structure":
        for name in shape.required_members:
            if value.get(name) is None:
                path = f"{where}.{name}" if where else name
                raise InvalidInputException(
                    f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, item in value.items():
            if name in shape.members and item is not None:
                check_required(shape.members[name], item, f"{where}.{name}" if where else name)
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            check_required(shape.member, item, f"{where}.{i + 1}.member")
    elif shape.type_name == "map":
        for key, item in value.items():
            check_required(shape.value, item, f"{where}.{key}")


def to_wire(shape: Any, value: Any) -> Any:
    """``value`` with only the members ``shape`` declares, timestamps as epoch seconds, blobs base64."""
    if value is None or shape is None:
        return None
    return _converter(shape)(value)


#: Scalar types that go out as they are.
_PLAIN = frozenset({"string", "boolean", "integer", "long", "float", "double"})


@functools.cache
def _converter(shape: Any) -> Any:
    """A function writing values of ``shape`` for the wire, built once per shape (a hot path: every answer)."""
    kind = shape.type_name
    if kind in _PLAIN:
        return _same
    if kind == "timestamp":
        return lambda value: value.timestamp() if isinstance(value, dt.datetime) else float(value)
    if kind == "blob":
        return lambda value: base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    if kind == "list":
        member = _converter(shape.member)
        return (lambda value: list(value)) if member is _same else (lambda value: [member(item) for item in value])
    if kind == "map":
        item_converter = _converter(shape.value)
        return lambda value: {key: item_converter(item) for key, item in value.items()}
    members = {
        name: (member.serialization.get("name", name), _converter(member))
        for name, member in shape.members.items()
        if not member.serialization.get("location")
    }

    def structure(value: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, item in value.items():
            found = members.get(name)
            if found is not None and item is not None:
                out[found[0]] = item if found[1] is _same else found[1](item)
        return out

    return structure


def _same(value: Any) -> Any:
    return value


def encode_result(model: Any, result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a successful answer of operation ``model``."""
    protocol = model.metadata["protocol"]
    headers = {"Content-Type": CONTENT_TYPES[protocol]}
    shape, status = model.output_shape, 200
    if shape is None:
        return status, headers, b"{}" if protocol == "json" else b""
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location == "header" and result.get(name) is not None:
            headers[member.serialization.get("name", name)] = str(result[name])
        elif location == "statusCode" and result.get(name) is not None:
            status = int(result[name])
    return status, headers, json.dumps(to_wire(shape, result), separators=(",", ":")).encode("utf-8")


def encode_error(protocol: str, error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of an error answer, as ``protocol`` (``json`` or ``rest-json``) says."""
    headers = {"Content-Type": CONTENT_TYPES[protocol]}
    if protocol == "json":
        body = {"__type": error.code, "message": error.message}
    else:
        headers["x-amzn-errortype"] = error.code
        body = {"message": error.message}
    return error.status, headers, json.dumps(body).encode("utf-8")
