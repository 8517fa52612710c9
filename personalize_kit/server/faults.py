"""Test-only fault injection: throttle the first N calls of chosen operations.

Off unless ``$PERSONALIZE_KIT_SERVER_FAULTS`` is set when the server starts, e.g.
``CreateSolutionVersion:2,GetRecommendations:1``: the first 2 CreateSolutionVersion calls and the first
GetRecommendations call are answered ``ThrottlingException`` (HTTP 400), as the service answers a client
over its rate, so that clients' retry paths (botocore's, the JavaScript SDK's) can be exercised.
"""

from __future__ import annotations

import os
import threading

from personalize_kit.local.exceptions import ServiceError

#: Environment variable naming the operations to throttle and how many of their first calls.
FAULTS_ENV = "PERSONALIZE_KIT_SERVER_FAULTS"


class ThrottlingException(ServiceError):
    code = "ThrottlingException"
    status = 400


def parse_faults(text: str) -> dict[str, int]:
    """``{"CreateSolutionVersion": 2}`` from ``"CreateSolutionVersion:2"`` (entries separated by commas)."""
    faults: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        operation, sep, count = entry.partition(":")
        if not sep or not operation.strip() or not count.strip().isdigit():
            raise ValueError(
                f"{FAULTS_ENV}: {entry!r} is not OPERATION:COUNT (e.g. {FAULTS_ENV}=CreateSolutionVersion:2)"
            )
        faults[operation.strip()] = int(count)
    return faults


class Faults:
    """How many more calls of each operation are to be throttled; thread-safe."""

    def __init__(self, remaining: dict[str, int] | None = None) -> None:
        self.remaining = dict(remaining or {})
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> Faults:
        return cls(parse_faults(os.environ.get(FAULTS_ENV, "")))

    def check(self, operation: str) -> None:
        """Raise :class:`ThrottlingException` if this call of ``operation`` is one to throttle."""
        if not self.remaining:
            return
        with self._lock:
            left = self.remaining.get(operation, 0)
            if left <= 0:
                return
            self.remaining[operation] = left - 1
        raise ThrottlingException("Rate exceeded")
