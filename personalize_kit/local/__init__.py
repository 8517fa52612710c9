"""An offline mirror of Amazon Personalize, served to the real boto3 client.

Inside :func:`mock_personalize` every boto3 client of ``personalize``, ``personalize-runtime`` and
``personalize-events`` is answered by the mirror, and S3, IAM, KMS and STS by moto. The mirror keeps its
resources, imported data and trained models in a state directory (argument, else
``$PERSONALIZE_KIT_HOME``, else ``./.personalize_kit``), so they are still there for the next process.

Where things live:

- ``mirror``: :class:`Mirror`, the one entry point answering an operation (``Mirror.call``);
- ``_hooks``: the botocore wiring, installed when a mirror starts; ``_moto``: moto's part (a leaf);
- ``state``: the state directory and atomic writes; ``db``: the SQLite database (resources, events);
  ``migrate``: the move from the previous layout; ``store``: dataset rows, events and records;
- ``resources``: typed resource records and paging; ``backend``: what an operation works with;
  ``lifecycle``: resources in flight that move on by themselves (due, or abandoned by a dead process);
- ``control/``: the control plane by resource family, on one declarative create path; ``imports``:
  dataset import jobs; ``training``: solution versions; ``batch``: batch inference and export jobs;
  ``runtime`` and ``events``: the other two services; ``filtering``: filters over the mirror's data
  (the expression language is :mod:`personalize_kit.filters`);
- ``_shapes``: the service-side checks and response shapes taken from the botocore models;
  ``exceptions``: the service's errors.

The kinds of resource (ARN types, parents, statuses, quotas) are :mod:`personalize_kit.kinds`.

>>> import boto3
>>> with mock_personalize("/tmp/doctest-mirror-init"):
...     client = boto3.client("personalize", region_name="us-east-1")
...     client.list_recipes()["recipes"][0]["name"]
'aws-personalized-ranking'
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from personalize_kit.local import _hooks
from personalize_kit.local._moto import FAKE_CREDENTIALS, moto_before_send
from personalize_kit.local.lifecycle import PACE_ENV, PACES, Pace
from personalize_kit.local.mirror import Mirror
from personalize_kit.local.state import STATE_DIR_ENV, resolve_state_dir

F = TypeVar("F", bound=Callable[..., Any])


class mock_personalize:  # noqa: N801 - named like moto's mock_aws, which it wraps
    """Context manager and decorator answering Personalize from a local state directory.

    ``pace``, ``training_seconds``, ``create_seconds``, ``recipe_options`` and ``profile`` are described in
    :class:`~personalize_kit.local.mirror.Mirror`. Clients must be created after the mirror starts (as
    with moto): a client made earlier does not carry the mirror's handlers.

    >>> @mock_personalize("/tmp/doctest-mirror-deco")
    ... def count_schemas():
    ...     import boto3
    ...     return len(boto3.client("personalize", region_name="us-east-1").list_schemas()["schemas"])
    >>> count_schemas() >= 0
    True
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
        self._state_dir = state_dir
        self._pace = pace
        self._recipe_options = recipe_options
        self._profile = profile
        self._training_seconds = training_seconds
        self._create_seconds = create_seconds
        self._moto: Any = None
        self.mirror: Mirror | None = None

    def start(self) -> Mirror:
        from moto import mock_aws

        self.mirror = Mirror(self._state_dir, **self._options())
        self._moto = mock_aws()
        self._moto.start()
        _install()
        _hooks.ACTIVE.append(self.mirror)
        return self.mirror

    def stop(self) -> None:
        if self.mirror is not None and self.mirror in _hooks.ACTIVE:
            _hooks.ACTIVE.remove(self.mirror)
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def _options(self) -> dict[str, Any]:
        return {
            "pace": self._pace,
            "training_seconds": self._training_seconds,
            "create_seconds": self._create_seconds,
            "recipe_options": self._recipe_options,
            "profile": self._profile,
        }

    def __enter__(self) -> Mirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mock_personalize(self._state_dir, **self._options()):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _install() -> None:
    import boto3

    _hooks.install(boto3.DEFAULT_SESSION._session if boto3.DEFAULT_SESSION is not None else None)


def mirror_session(
    state_dir: str | os.PathLike[str] | None = None,
    region_name: str = "us-east-1",
    *,
    pace: str | Pace | None = None,
    training_seconds: float | None = None,
    create_seconds: float | None = None,
    recipe_options: dict[str, dict[str, Any]] | None = None,
    profile: str | None = None,
) -> Any:
    """A ``boto3.Session`` whose Personalize clients are answered by the mirror and other services by moto.

    Nothing global is patched: only clients made from this session are served locally.

    >>> session = mirror_session("/tmp/doctest-mirror-session")
    >>> session.client("personalize").describe_recipe(
    ...     recipeArn="arn:aws:personalize:::recipe/aws-popularity-count")["recipe"]["recipeType"]
    'USER_PERSONALIZATION'
    """
    import boto3

    mirror = Mirror(
        state_dir,
        pace=pace,
        training_seconds=training_seconds,
        create_seconds=create_seconds,
        recipe_options=recipe_options,
        profile=profile,
    )
    session = boto3.Session(region_name=region_name, **FAKE_CREDENTIALS)
    session.events.register_first("before-call", mirror.before_call)
    session.events.register_first("before-send", moto_before_send)
    return session


__all__ = [
    "PACES",
    "PACE_ENV",
    "STATE_DIR_ENV",
    "Mirror",
    "Pace",
    "mirror_session",
    "mock_personalize",
    "resolve_state_dir",
]
