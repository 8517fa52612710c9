"""The mirror: one state directory answering the operations of Personalize's three services.

:meth:`Mirror.call` is the one entry point: the botocore hooks (in-process clients) and any other front
end (an HTTP server) call it with a service name, an operation name and the request's members, and get
the response or a :class:`~personalize_kit.local.exceptions.ServiceError` carrying the service's error
code. Nothing else escapes it: a failure of the mirror itself is an ``InternalFailure`` with a short
reason, its traceback in the mirror's log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.local import action_events, action_runtime, control, events, runtime
from personalize_kit.local._shapes import check_input, shape_output
from personalize_kit.local.backend import Caches, PersonalizeBackend, Settings
from personalize_kit.local.exceptions import InternalFailure, InvalidInputException, ServiceError
from personalize_kit.local.ids import new_uuid
from personalize_kit.local.lifecycle import Pace, resolve_pace
from personalize_kit.local.resources import CLOCK, now
from personalize_kit.local.state import StateDir
from personalize_kit.recipes import profile_options

logger = logging.getLogger(__name__)
#: The mirror's log in its state directory: tracebacks of internal failures (a client sees one line).
LOG_FILE = "mirror.log"
_logs: set[Path] = set()


def _log_to(root: Path) -> None:
    """Send this module's log (once per state directory) to ``<state dir>/mirror.log``."""
    path = root / LOG_FILE
    if path in _logs:
        return
    handler = logging.FileHandler(path, delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    logger.addHandler(handler)
    _logs.add(path)


#: Service model names the mirror answers, and their operations.
SERVICES: dict[str, dict[str, Any]] = {
    "personalize": control.OPERATIONS,
    "personalize-runtime": {**runtime.OPERATIONS, **action_runtime.OPERATIONS},
    "personalize-events": {**events.OPERATIONS, **action_events.OPERATIONS},
}
#: Environment variable with the minimum seconds a training takes in the mirror (default 0).
TRAINING_SECONDS_ENV = "PERSONALIZE_KIT_TRAINING_SECONDS"
#: Environment variable naming the recipes' profile (``faithful`` or ``fast``).
PROFILE_ENV = "PERSONALIZE_KIT_PROFILE"
#: Environment variable with the seconds new resources stay CREATE PENDING (a pace of its own).
CREATE_SECONDS_ENV = "PERSONALIZE_KIT_CREATE_SECONDS"


def _seconds(explicit: float | None, env: str) -> float | None:
    """The argument, else the environment variable, else None (not set)."""
    if explicit is not None:
        return float(explicit)
    value = os.environ.get(env)
    return float(value) if value else None


@functools.cache
def operation_model(service: str, operation: str) -> Any:
    """The botocore model of an operation (``personalize``, ``CreateSchema``)."""
    from botocore.session import get_session

    return get_session().get_service_model(service).operation_model(operation)


class NotImplementedInMirror(ServiceError):
    code = "NotImplementedException"
    status = 501


class _Headers(dict):
    pass


class Mirror:
    """One state directory served to Personalize clients.

    ``pace`` is how long the service's states last (``instant``: everything settles at once; ``fast``, the
    default: each state visible for a fraction of a second to a second; ``realistic``: the service's minutes
    scaled down to seconds), default ``$PERSONALIZE_KIT_PACE``; see :mod:`~personalize_kit.local.lifecycle`.
    ``training_seconds`` makes every training last at least that long (default
    ``$PERSONALIZE_KIT_TRAINING_SECONDS``, else the pace's) and ``create_seconds`` keeps new resources
    ``CREATE PENDING`` that long, everything else instant unless a pace is named (default
    ``$PERSONALIZE_KIT_CREATE_SECONDS``). ``recipe_options`` passes keyword arguments to the recipe classes
    by recipe name, e.g. ``{"aws-user-personalization": {"max_epochs": 2}}`` for a quick local training, on
    top of ``profile``: ``faithful`` (the default: the recipes' real models) or ``fast`` (every recipe trains
    10,000 interactions in a second or two, for tests of an application's own code rather than the model's
    quality), default ``$PERSONALIZE_KIT_PROFILE``.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        pace: str | Pace | None = None,
        training_seconds: float | None = None,
        create_seconds: float | None = None,
        recipe_options: dict[str, dict[str, Any]] | None = None,
        profile: str | None = None,
    ) -> None:
        self.state = StateDir(state_dir)
        options = profile_options(profile or os.environ.get(PROFILE_ENV) or "faithful")
        for name, extra in (recipe_options or {}).items():
            options[name] = {**options.get(name, {}), **extra}
        self.settings = Settings(
            pace=resolve_pace(pace, _seconds(create_seconds, CREATE_SECONDS_ENV)),
            training_seconds=_seconds(training_seconds, TRAINING_SECONDS_ENV),
            recipe_options=options,
        )
        self.caches = Caches()
        _log_to(self.state.root)

    @property
    def state_dir(self) -> Path:
        return self.state.root

    def backend(self, region: str) -> PersonalizeBackend:
        return PersonalizeBackend(self.state, region, self.settings, self.caches)

    @staticmethod
    def advance_clock(seconds: float) -> None:
        """Move the mirror's clock (this process's) ``seconds`` ahead: what is due by then (a state's next
        step, an automatic training) happens at the next read. See :class:`~personalize_kit.local.resources.Clock`."""
        CLOCK.advance(seconds)

    def call(self, service: str, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        """Answer one operation of ``service`` (``personalize``, ``personalize-runtime``, ``personalize-events``).

        ``params`` is the request as the wire carries it (already checked by the client, or not at all);
        the result is the operation's response before any output shaping (timestamps as epoch seconds).
        Every failure is a :class:`ServiceError` carrying the service's error code.
        """
        model = operation_model(service, operation)
        check_input(model.input_shape, params)
        implementation = SERVICES[service].get(operation)
        if implementation is None:
            raise NotImplementedInMirror(f"The local mirror does not implement {operation} yet.")
        try:
            return implementation(self.backend(region), params)
        except ServiceError:
            raise
        except RecipeInputError as exc:
            raise InvalidInputException(str(exc)) from exc
        except Exception as exc:
            reference = f"{now():.0f}-{uuid.uuid4().hex[:8]}"
            logger.exception("%s %s failed (reference %s)", service, operation, reference)
            raise InternalFailure(
                f"The local mirror failed on {operation}: {type(exc).__name__}: {str(exc)[:200]} "
                f"(reference {reference} in the mirror's log, {self.state.root / LOG_FILE})"
            ) from exc

    def answer(self, model: Any, request_dict: dict[str, Any], region: str) -> tuple[AWSResponse, dict[str, Any]]:
        """The ``(http_response, parsed)`` pair botocore expects from a ``before-call`` handler."""
        service = model.service_model.service_name
        body = request_dict.get("body") or b"{}"
        params = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        request_id = new_uuid()
        try:
            # the mirror's own model of the operation: its shapes live as long as the process, so the function
            # shaping them is made once (a client's model lives as long as the client)
            shape = operation_model(service, model.name).output_shape
            result = shape_output(shape, self.call(service, model.name, params, region))
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


__all__ = ["CREATE_SECONDS_ENV", "SERVICES", "TRAINING_SECONDS_ENV", "Mirror", "operation_model"]
