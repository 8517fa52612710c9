"""Every AWS client the SDK uses is built here, from the caller's session, with one retry configuration.

Throttling and transient errors are retried by botocore (``standard`` mode: up to 10 retries, 11 attempts in
all, with exponential backoff and jitter), not by loops of our own.
"""

from __future__ import annotations

import weakref
from typing import Any

import boto3
from botocore.config import Config

from personalize_kit import __version__

CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    user_agent_extra=f"personalize_kit/{__version__}",
)


#: Clients and the caller's identity, built once per session and dropped with it (a backend holds one session).
_BUILT: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _built(session: Any) -> dict[Any, Any]:
    try:
        return _BUILT.setdefault(session, {})
    except TypeError:  # a session that cannot be weakly referenced: no reuse
        return {}


def client(service: str, session: boto3.Session | None = None, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` from ``session`` (default: a new ``boto3.Session()``), built once per
    session and service (with no extra ``kwargs``) and reused after that."""
    if session is None or kwargs:
        return (session or boto3.Session()).client(service, config=CONFIG, **kwargs)
    built = _built(session)
    if service not in built:
        built[service] = session.client(service, config=CONFIG)
    return built[service]


def account_and_region(session: boto3.Session | None = None) -> tuple[str, str, str]:
    """The (partition, account id, region) the session acts in, for building ARNs; asked of STS once per
    session."""
    built = _built(session) if session is not None else {}
    if "identity" not in built:
        sts = client("sts", session)
        identity = sts.get_caller_identity()
        built["identity"] = (identity["Arn"].split(":")[1], identity["Account"], sts.meta.region_name)
    return built["identity"]


def forget(session: Any) -> None:
    """Drop the clients built for ``session``, e.g. after registering event handlers on it (a client copies
    the session's handlers when it is built)."""
    _BUILT.pop(session, None)
