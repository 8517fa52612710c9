"""How the mirror is wired into botocore.

A handler on ``before-call`` answers every operation of ``personalize``, ``personalize-runtime`` and
``personalize-events`` in place of the network call, after botocore has validated the request, so that
botocore raises its modelled exceptions from the mirror's error answers. A handler on ``before-send``
hands every other AWS request (S3, IAM, KMS, STS ...) to moto's in-process backends.

Both are added to botocore's ``BUILTIN_HANDLERS`` when this module is imported, so that sessions created
afterwards (``boto3.client("personalize")`` at module level included) carry them; they do nothing unless
a mirror is active (:func:`personalize_kit.local.mock_personalize`).
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.local import control, events, runtime, training
from personalize_kit.local._shapes import check_input, shape_output
from personalize_kit.local.exceptions import InvalidInputException, ServiceError
from personalize_kit.local.models import Operation, PersonalizeBackend, reap_jobs, settle
from personalize_kit.local.state import StateStore

#: Service model names the mirror answers.
SERVICES: dict[str, dict[str, Operation]] = {
    "personalize": control.OPERATIONS,
    "personalize-runtime": runtime.OPERATIONS,
    "personalize-events": events.OPERATIONS,
}
#: Environment variable with the minimum seconds a training takes in the mirror (default 0).
TRAINING_SECONDS_ENV = "PERSONALIZE_KIT_TRAINING_SECONDS"
#: Environment variable with the seconds new light resources stay CREATE PENDING (default 0).
CREATE_SECONDS_ENV = "PERSONALIZE_KIT_CREATE_SECONDS"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _seconds(explicit: float | None, env: str) -> float:
    """The argument, else the environment variable, else 0."""
    if explicit is not None:
        return float(explicit)
    return float(os.environ.get(env) or 0)


@functools.cache
def _operation_model(service: str, operation: str) -> Any:
    """The botocore model of an operation (``personalize``, ``CreateSchema``)."""
    from botocore.session import get_session

    return get_session().get_service_model(service).operation_model(operation)


class NotImplementedInMirror(ServiceError):
    code = "NotImplementedException"
    status = 501


class _Headers(dict):
    pass


class Mirror:
    """One state directory served to boto3 clients.

    ``training_seconds`` makes every training last at least that long and ``create_seconds`` keeps new
    dataset groups, datasets, solutions, campaigns, event trackers and filters ``CREATE PENDING`` that long
    (both to exercise code that waits); they default to ``$PERSONALIZE_KIT_TRAINING_SECONDS`` and
    ``$PERSONALIZE_KIT_CREATE_SECONDS``, else 0. ``recipe_options`` passes keyword arguments to the
    recipe classes by recipe name, e.g. ``{"aws-user-personalization": {"max_epochs": 2}}`` for a quick
    local training.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        training_seconds: float | None = None,
        create_seconds: float | None = None,
        recipe_options: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.store = StateStore(state_dir)
        self.recipe_options = dict(recipe_options or {})
        self.training_seconds = _seconds(training_seconds, TRAINING_SECONDS_ENV)
        self.create_seconds = _seconds(create_seconds, CREATE_SECONDS_ENV)
        self.models: dict[str, Any] = {}
        self.event_logs: dict[str, Any] = {}

    @property
    def state_dir(self) -> Path:
        return self.store.root

    def backend(self, region: str) -> PersonalizeBackend:
        backend = PersonalizeBackend(
            self.store,
            region,
            training_seconds=self.training_seconds,
            create_seconds=self.create_seconds,
            models=self.models,
            recipe_options=self.recipe_options,
            event_logs=self.event_logs,
        )
        backend.reconcilers += [settle, training.reconcile, reap_jobs]
        return backend

    def call(self, service: str, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        """Answer one operation of ``service`` (``personalize``, ``personalize-runtime``, ``personalize-events``).

        ``params`` is the request as the wire carries it (already checked by the client, or not at all);
        the result is the operation's response before any output shaping (timestamps as epoch seconds).
        Every failure is a :class:`ServiceError` carrying the service's error code.
        """
        model = _operation_model(service, operation)
        check_input(model.input_shape, params)
        implementation = SERVICES[service].get(operation)
        if implementation is None:
            raise NotImplementedInMirror(f"The local mirror does not implement {operation} yet.")
        try:
            return implementation(self.backend(region), params)
        except RecipeInputError as exc:
            raise InvalidInputException(str(exc)) from exc

    def answer(self, model: Any, request_dict: dict[str, Any], region: str) -> tuple[AWSResponse, dict[str, Any]]:
        """The ``(http_response, parsed)`` pair botocore expects from a ``before-call`` handler."""
        service = model.service_model.service_name
        body = request_dict.get("body") or b"{}"
        params = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        request_id = str(uuid.uuid4())
        try:
            result = shape_output(model.output_shape, self.call(service, model.name, params, region))
            status = 200
        except ServiceError as exc:
            status = exc.status
            result = {"Error": {"Code": exc.code, "Message": exc.message}, "message": exc.message}
        headers = _Headers({"x-amzn-requestid": request_id, "content-type": "application/json"})
        result["ResponseMetadata"] = {
            "RequestId": request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": dict(headers),
            "RetryAttempts": 0,
        }
        return AWSResponse(f"https://{service}.{region}.amazonaws.com/", status, headers, None), result

    def before_call(self, model: Any, params: dict[str, Any], request_signer: Any = None, **_: Any) -> Any:
        """``before-call`` handler bound to this mirror (used by :func:`mirror_session`)."""
        if model.service_model.service_name not in SERVICES:
            return None
        region = getattr(request_signer, "region_name", None) or "us-east-1"
        return self.answer(model, params, region)


#: Mirrors made active by ``mock_personalize``, innermost last.
ACTIVE: list[Mirror] = []


def _builtin_before_call(model: Any = None, params: Any = None, request_signer: Any = None, **kwargs: Any) -> Any:
    if not ACTIVE or model is None:
        return None
    return ACTIVE[-1].before_call(model, params, request_signer, **kwargs)


_ANSWERED = "_personalize_kit_answered"


def _moto_stubber() -> Any:
    """moto's request stubber, made to answer each request once.

    botocore calls every ``before-send`` handler; a client made after moto was imported carries moto's
    own handler besides ours, and a request answered twice would have its body (already read) stored
    empty. Both handlers go through the same ``process_request``, which skips a request already answered.
    """
    from moto.core.models import botocore_stubber

    if not getattr(botocore_stubber, "_personalize_kit_once", False):
        original = botocore_stubber.process_request

        def process_once(request: Any) -> Any:
            if getattr(request, _ANSWERED, False):
                return None
            setattr(request, _ANSWERED, True)
            return original(request)

        botocore_stubber.process_request = process_once  # type: ignore[method-assign]
        setattr(botocore_stubber, "_personalize_kit_once", True)  # noqa: B010
    return botocore_stubber


def moto_before_send(request: Any = None, **_: Any) -> Any:
    """Answer a prepared AWS request from moto's in-process backends."""
    from moto.core.botocore_stubber import MockRawResponse

    response = _moto_stubber().process_request(request)
    if response is None:
        return None
    status, headers, body = response
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


def _builtin_before_send(request: Any = None, **kwargs: Any) -> Any:
    if not ACTIVE:
        return None
    return moto_before_send(request, **kwargs)


def install(session: Any) -> None:
    """Add the built-in handlers to a botocore session created before this module was imported."""
    emitter = session.get_component("event_emitter")
    emitter.unregister("before-call", _builtin_before_call, unique_id="personalize_kit.before-call")
    emitter.unregister("before-send", _builtin_before_send, unique_id="personalize_kit.before-send")
    emitter.register("before-call", _builtin_before_call, unique_id="personalize_kit.before-call")
    emitter.register("before-send", _builtin_before_send, unique_id="personalize_kit.before-send")


_internal_clients: dict[tuple[str, str], Any] = {}


def internal_client(service: str, region: str) -> Any:
    """A client the mirror itself uses (S3 for imports and batch jobs), answered by moto."""
    key = (service, region)
    if key not in _internal_clients:
        import boto3

        session = boto3.Session(region_name=region, **FAKE_CREDENTIALS)
        session.events.register_first("before-send", moto_before_send)
        _internal_clients[key] = session.client(service)
    return _internal_clients[key]


if not any(entry[1] is _builtin_before_call for entry in BUILTIN_HANDLERS):
    BUILTIN_HANDLERS.append(("before-call", _builtin_before_call))
    BUILTIN_HANDLERS.append(("before-send", _builtin_before_send))
