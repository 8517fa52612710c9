"""The WSGI application: the mirror for Personalize, moto for every other service, the console and health.

``ServerApp(mirror, moto_app)`` answers
- ``GET /_health``: ``{"version", "services", "stateDir"}``;
- ``GET /`` and ``/console/...``: the console's static files (``personalize_kit/server/console/``);
- Personalize, Personalize Runtime and Personalize Events (:mod:`~personalize_kit.server.routing`) from the
  mirror, in their wire protocols (:mod:`~personalize_kit.server.protocols`);
- anything else through moto's server application (S3, IAM, KMS, STS, SSM, CloudFormation ...).

Every request is logged as one line through this module's logger.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from http import HTTPStatus
from typing import Any

from werkzeug.wrappers import Request

from personalize_kit import __version__
from personalize_kit.local import cpus
from personalize_kit.local.exceptions import ServiceError
from personalize_kit.local.ids import new_uuid
from personalize_kit.server import protocols, static
from personalize_kit.server.faults import Faults
from personalize_kit.server.routing import Route, credential_scope, route
from personalize_kit.server.sigv4 import Refusal, Verifier

logger = logging.getLogger(__name__)
#: The region of unsigned requests (a browser's), which carry no credential scope.
DEFAULT_REGION = "us-east-1"
HEALTH_PATH = "/_health"
_MIRROR_SERVICES = ("personalize", "personalize-runtime", "personalize-events")
#: On every answer of the mirror: a page served from another origin (a dev server) may call the APIs.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "x-amzn-RequestId, x-amzn-ErrorType, Date",
}


class MissingAuthenticationTokenException(ServiceError):
    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClientException(ServiceError):
    code = "UnrecognizedClientException"
    status = 403


class InvalidSignatureException(ServiceError):
    code = "InvalidSignatureException"
    status = 403


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500


#: The JSON protocols' error for each kind of refusal, and the XML (S3, query) services' code.
_REFUSALS = {
    "unsigned": (MissingAuthenticationTokenException, "MissingAuthenticationToken", "AccessDenied"),
    "unknown-key": (UnrecognizedClientException, "InvalidClientTokenId", "InvalidAccessKeyId"),
    "bad-signature": (InvalidSignatureException, "SignatureDoesNotMatch", "SignatureDoesNotMatch"),
}


class InFlight:
    """How many requests are being answered, to let a stopping server finish them."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self.count -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count == 0, timeout)


class ServerApp:
    """The WSGI callable; ``verifier`` (optional) checks SigV4 signatures, ``faults`` throttles (tests)."""

    #: Set by the runner when its request threads share one CPU (:mod:`personalize_kit.local.cpus`): each
    #: request first lets the threads in the middle of theirs run, so that requests are answered in turn.
    #: Without it one thread answers several in a row while the others wait for the CPU (measured with 8
    #: clients: User-Personalization GetRecommendations p99 21 ms without, 12 ms with, as many answered).
    take_turns = False

    def __init__(self, mirror: Any, moto_app: Any, *, verifier: Verifier | None = None, faults: Faults | None = None):
        self.mirror = mirror
        self.moto_app = moto_app
        self.verifier = verifier
        self.faults = faults or Faults()
        self.in_flight = InFlight()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.take_turns:
            cpus.give_way()
        started = time.perf_counter()
        request = Request(environ)
        label = "moto"
        with self.in_flight:
            try:
                response, label = self.dispatch(request, environ)
            except Exception:  # a bug of ours: one logged traceback, a 500
                logger.exception("%s %s failed", request.method, request.path)
                response = Answer(500, {"Content-Type": "text/plain"}, b"internal error")
            if response is None:  # moto answers through its own WSGI app
                status_holder: list[str] = []

                def recording_start(status: str, headers: Any, exc_info: Any = None) -> Any:
                    status_holder.append(status)
                    return start_response(status, headers, exc_info)

                body = self.moto_app(environ, recording_start)
                chunks = list(body)
                if hasattr(body, "close"):
                    body.close()
                code = status_holder[0].split(" ", 1)[0] if status_holder else "-"
                self._log(request, label, code, started)
                return chunks
            self._log(request, label, str(response.status_code), started)
            return response(environ, start_response)

    @staticmethod
    def _log(request: Request, label: str, status: str, started: float) -> None:
        if logger.isEnabledFor(logging.INFO):
            environ = request.environ
            query = environ.get("QUERY_STRING")
            path = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            ms = (time.perf_counter() - started) * 1000
            logger.info("%s %s %s %s %.1fms", request.method, path, label, status, ms)

    def dispatch(self, request: Request, environ: dict[str, Any]) -> tuple[Any, str]:
        """The response (``None``: moto answers) and a label for the log line."""
        if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            return _preflight(environ), "preflight"
        if request.method in ("GET", "HEAD") and "Authorization" not in request.headers:
            if request.path == HEALTH_PATH:
                return self.health(), "health"
            page = static.serve(request.path)
            if page is not None:
                return page, "console"
        found = route(request.method, request.path, request.headers)
        if found is None:
            label = f"moto:{credential_scope_of(request) or '-'}"
            if self.verifier is not None:
                refusal = self._verify(request)
                environ["wsgi.input"] = io.BytesIO(request.get_data(cache=True))  # moto reads the body again
                if refusal is not None:
                    return _xml_or_json_refusal(request, refusal), label
            return None, label
        label = f"{found.service}.{found.operation}"
        refusal = self._verify(request)
        if refusal is not None:
            error_class = _REFUSALS[refusal.kind][0]
            return self._error(found, error_class(refusal.message)), label
        return self.answer(found, request), label

    def _verify(self, request: Request) -> Refusal | None:
        if self.verifier is None:
            return None
        body = request.get_data(cache=True)
        environ = request.environ
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or request.full_path  # as sent: %-encoded
        url = f"http://{request.host}{raw}"
        return self.verifier.check(request.method, url, request.headers, body)

    def answer(self, found: Route, request: Request) -> Answer:
        """Parse the request, call the mirror, write the answer in the service's protocol."""
        try:
            if found.model is None:
                raise protocols.UnknownOperationException(f"Unknown operation {found.operation}.")
            self.faults.check(found.operation)
            params = protocols.parse_request(
                found.model, request.get_data(cache=True), request.headers, request.args, found.path_params
            )
            region = _region(request)
            status, headers, body = protocols.encode_result(
                found.model, self.mirror.call(found.service, found.operation, params, region)
            )
        except ServiceError as exc:
            return self._error(found, exc)
        except Exception as exc:
            logger.exception("%s.%s failed", found.service, found.operation)
            return self._error(found, InternalFailure(f"The local mirror failed: {type(exc).__name__}: {exc}"))
        return _response(status, headers, body)

    def _error(self, found: Route, error: ServiceError) -> Answer:
        protocol = "json" if found.service == "personalize" else "rest-json"
        status, headers, body = protocols.encode_error(protocol, error)
        return _response(status, headers, body)

    def health(self) -> Answer:
        body = {
            "version": __version__,
            "services": list(_MIRROR_SERVICES) + ["moto"],
            "stateDir": str(self.mirror.state_dir),
        }
        return _response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _region(request: Request) -> str:
    scope = credential_scope(request.headers.get("Authorization"))
    return scope.region if scope is not None else DEFAULT_REGION


class Answer:
    """A response of ours: lighter than werkzeug's ``Response`` on the path every API call takes."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.body = status, headers, body

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [
            *self.headers.items(),
            *CORS_HEADERS.items(),
            ("x-amzn-RequestId", new_uuid()),
            ("Content-Length", str(len(self.body))),
        ]
        start_response(f"{self.status_code} {HTTPStatus(self.status_code).phrase}", headers)
        return [self.body]


def _response(status: int, headers: dict[str, str], body: bytes) -> Answer:
    return Answer(status, headers, body)


def _preflight(environ: dict[str, Any]) -> Answer:
    """The answer to a browser's CORS preflight: any origin may call the APIs (the server is local)."""
    headers = {
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*"),
        "Access-Control-Max-Age": "600",
    }
    return Answer(200, headers, b"")


def _xml_or_json_refusal(request: Request, refusal: Refusal) -> Answer:
    """A refused request for a moto service, in that service's error form."""
    json_class, query_code, s3_code = _REFUSALS[refusal.kind]
    if "json" in (request.content_type or ""):
        status, headers, body = protocols.encode_error("json", json_class(refusal.message))
        return _response(status, headers, body)
    scope = credential_scope_of(request)
    message = refusal.message.replace("&", "&amp;").replace("<", "&lt;")
    if scope == "s3":
        xml = f"<Error><Code>{s3_code}</Code><Message>{message}</Message></Error>"
    else:
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message>"
            "</Error></ErrorResponse>"
        )
    return _response(403, {"Content-Type": "text/xml"}, xml.encode())


def credential_scope_of(request: Request) -> str | None:
    scope = credential_scope(request.headers.get("Authorization"))
    return scope.service if scope is not None else None
