"""How the mirror is wired into botocore, when a mirror starts (never at import).

:func:`install` adds two handlers to botocore's ``BUILTIN_HANDLERS`` (so sessions created afterwards carry
them) and to boto3's default session: ``before-call`` answers every operation of ``personalize``,
``personalize-runtime`` and ``personalize-events`` in place of the network call, after botocore has
validated the request, so botocore raises its modelled exceptions from the mirror's error answers;
``before-send`` hands every other AWS request (S3, IAM, KMS, STS ...) to moto's in-process backends.
Both do nothing unless a mirror is active (:func:`personalize_kit.local.mock_personalize`).
"""

from __future__ import annotations

import threading
from typing import Any

from personalize_kit.local._moto import FAKE_CREDENTIALS, internal_client, moto_before_send, moto_stubber
from personalize_kit.local.mirror import SERVICES, Mirror

#: Mirrors made active by ``mock_personalize``, innermost last.
ACTIVE: list[Mirror] = []
_lock = threading.Lock()


def _builtin_before_call(model: Any = None, params: Any = None, request_signer: Any = None, **kwargs: Any) -> Any:
    if not ACTIVE or model is None:
        return None
    return ACTIVE[-1].before_call(model, params, request_signer, **kwargs)


def _builtin_before_send(request: Any = None, **kwargs: Any) -> Any:
    if not ACTIVE:
        return None
    return moto_before_send(request, **kwargs)


def _register(emitter: Any) -> None:
    emitter.unregister("before-call", _builtin_before_call, unique_id="personalize_kit.before-call")
    emitter.unregister("before-send", _builtin_before_send, unique_id="personalize_kit.before-send")
    emitter.register("before-call", _builtin_before_call, unique_id="personalize_kit.before-call")
    emitter.register("before-send", _builtin_before_send, unique_id="personalize_kit.before-send")


def install(session: Any = None) -> None:
    """Wire the handlers into botocore (sessions made from now on) and into ``session`` (a botocore session)."""
    from botocore.handlers import BUILTIN_HANDLERS

    with _lock:
        if not any(entry[1] is _builtin_before_call for entry in BUILTIN_HANDLERS):
            BUILTIN_HANDLERS.append(("before-call", _builtin_before_call))
            BUILTIN_HANDLERS.append(("before-send", _builtin_before_send))
    moto_stubber()
    if session is not None:
        _register(session.get_component("event_emitter"))


__all__ = ["ACTIVE", "FAKE_CREDENTIALS", "SERVICES", "Mirror", "install", "internal_client", "moto_before_send"]
