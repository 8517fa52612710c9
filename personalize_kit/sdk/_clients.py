"""Every AWS client the SDK uses is built here, from the caller's session, with one retry configuration.

Throttling and transient errors are retried by botocore (``standard`` mode: up to 10 retries, 11 attempts in
all, with exponential backoff and jitter), not by loops of our own.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from personalize_kit import __version__

CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    user_agent_extra=f"personalize_kit/{__version__}",
)


def client(service: str, session: boto3.Session | None = None, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` from ``session`` (default: a new ``boto3.Session()``)."""
    return (session or boto3.Session()).client(service, config=CONFIG, **kwargs)


def account_and_region(session: boto3.Session | None = None) -> tuple[str, str, str]:
    """The (partition, account id, region) the session acts in, for building ARNs."""
    sts = client("sts", session)
    identity = sts.get_caller_identity()
    arn = identity["Arn"]
    return arn.split(":")[1], identity["Account"], sts.meta.region_name
