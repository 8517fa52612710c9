"""Which service a request is for, told apart as the real endpoints do.

Personalize (JSON 1.1) is recognised by its ``X-Amz-Target: AmazonPersonalize.<Operation>`` header;
Personalize Runtime and Personalize Events (REST-JSON, all three signed as ``personalize``) by the
``http.method`` and ``requestUri`` their botocore models give each operation. Everything else (S3, IAM,
KMS, STS, SSM, CloudFormation ...) is left to moto. A request signed for another service than
``personalize`` never reaches the mirror, so a moto service whose path looks like a Personalize one
(``POST /users``) still goes to moto.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

#: The signing name the three Personalize services share.
SIGNING_NAME = "personalize"
#: The Personalize control plane's target prefix (``X-Amz-Target: AmazonPersonalize.CreateSchema``).
TARGET_PREFIX = "AmazonPersonalize."
#: The REST-JSON services of the mirror, in the order they are matched.
REST_SERVICES = ("personalize-runtime", "personalize-events")
_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")


@dataclass(frozen=True)
class Scope:
    """The SigV4 credential scope of a signed request."""

    access_key: str
    date: str
    region: str
    service: str


@dataclass(frozen=True)
class Route:
    """A request the mirror answers: the botocore service name, the operation and its model."""

    service: str
    operation: str
    model: Any
    path_params: dict[str, str]


def credential_scope(authorization: str | None) -> Scope | None:
    """The scope in a SigV4 ``Authorization`` header, or ``None`` for an unsigned (or not SigV4) request."""
    if not authorization:
        return None
    match = _SCOPE.search(authorization)
    return Scope(*match.groups()) if match else None


@functools.cache
def service_model(service: str) -> Any:
    from botocore.session import get_session

    return get_session().get_service_model(service)


@functools.cache
def _rest_table() -> list[tuple[str, re.Pattern[str], str, str]]:
    """``(method, path pattern, service, operation)`` for every REST-JSON operation of the mirror."""
    table = []
    for service in REST_SERVICES:
        model = service_model(service)
        for name in model.operation_names:
            http = model.operation_model(name).http
            path = http["requestUri"].split("?", 1)[0]
            parts = re.split(r"\{(\w+)\+?\}", path)  # literal, name, literal, name ...
            pattern = "".join(f"(?P<{p}>[^/]+)" if i % 2 else re.escape(p) for i, p in enumerate(parts))
            table.append((http["method"], re.compile(pattern + "/?"), service, name))
    return table


def route(method: str, path: str, headers: Any) -> Route | None:
    """The mirror's operation a request is for, or ``None`` when another service (moto) should answer."""
    scope = credential_scope(headers.get("Authorization"))
    if scope is not None and scope.service != SIGNING_NAME:
        return None
    target = headers.get("X-Amz-Target") or ""
    if target.startswith(TARGET_PREFIX):
        operation = target[len(TARGET_PREFIX) :]
        model = service_model("personalize")
        if operation not in model.operation_names:
            return Route("personalize", operation, None, {})
        return Route("personalize", operation, model.operation_model(operation), {})
    if target:
        return None
    for verb, pattern, service, operation in _rest_table():
        match = pattern.fullmatch(path) if verb == method else None
        if match:
            return Route(service, operation, service_model(service).operation_model(operation), match.groupdict())
    return None
