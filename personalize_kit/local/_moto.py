"""The mirror's link to moto: fake credentials, moto's request stubber, the mirror's own AWS clients.

A leaf module (it imports nothing of the mirror): the operations that read or write S3 (imports, batch
jobs, exports) get their clients here, and the botocore wiring hands other services' requests to moto
through :func:`moto_before_send`. moto is imported on first use, never at import.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.awsrequest import AWSResponse

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_ANSWERED = "_personalize_kit_answered"
_lock = threading.RLock()


def moto_stubber() -> Any:
    """moto's request stubber, made to answer each request once.

    botocore calls every ``before-send`` handler; a client made after moto was imported carries moto's
    own handler besides ours, and a request answered twice would have its body (already read) stored
    empty. Both handlers go through the same ``process_request``, which skips a request already answered.
    """
    from moto.core.models import botocore_stubber

    with _lock:
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

    response = moto_stubber().process_request(request)
    if response is None:
        return None
    status, headers, body = response
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


_clients: dict[tuple[str, str], Any] = {}


def internal_client(service: str, region: str) -> Any:
    """A client the mirror itself uses (S3 for imports and batch jobs), answered by moto.

    Made once per service and region (botocore clients are thread-safe; their sessions are not, hence
    the lock around the making).
    """
    key = (service, region)
    with _lock:
        if key not in _clients:
            import boto3

            session = boto3.Session(region_name=region, **FAKE_CREDENTIALS)
            session.events.register_first("before-send", moto_before_send)
            _clients[key] = session.client(service)
    return _clients[key]


__all__ = ["FAKE_CREDENTIALS", "internal_client", "moto_before_send", "moto_stubber"]
