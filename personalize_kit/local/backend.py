"""The mirror's backend: what every operation works with (state directory, region, settings, caches).

A :class:`PersonalizeBackend` is made per request for the region the client signed for; it is cheap,
everything that lasts lives in the :class:`~personalize_kit.local.state.StateDir` (the database and the
files) and in the mirror's :class:`Caches` (trained models and datasets loaded by this process).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from personalize_kit.kinds import KINDS
from personalize_kit.local import lifecycle
from personalize_kit.local.resources import ACCOUNT_ID, Resource, Resources, Snapshot
from personalize_kit.local.state import StateDir
from personalize_kit.lru import LRU

#: Users whose newest events each process keeps (as read last), for serving.
RECENT_USERS = 4096


@dataclass
class Settings:
    """How the mirror behaves (see :class:`~personalize_kit.local.mirror.Mirror`)."""

    #: How long each state lasts (see :mod:`~personalize_kit.local.lifecycle`).
    pace: lifecycle.Pace = lifecycle.DEFAULT_PACE
    #: Minimum seconds a training lasts (None: the pace's).
    training_seconds: float | None = None
    #: Keyword arguments of each recipe class by recipe name, e.g. ``{"aws-sims": {...}}``.
    recipe_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def min_training_seconds(self) -> float:
        return self.pace.training if self.training_seconds is None else self.training_seconds


@dataclass
class Caches:
    """What one process loaded once and reuses while the files behind it are unchanged."""

    #: Trained models by solution version ARN: ``(file stamp, model)``.
    models: dict[str, Any] = field(default_factory=dict)
    #: Datasets by (dataset group, type): ``(version key, frame, per-user index or None)``.
    datasets: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: Users' newest events as last read: ``(which events, frame)`` (see :func:`.store.recent_events`).
    recent_events: LRU = field(default_factory=lambda: LRU(RECENT_USERS))
    #: Models that count the events recorded since their training (Trending-Now), by (model, dataset group):
    #: ``(model, newest event read, those events, the model with them)``.
    new_events: LRU = field(default_factory=lambda: LRU(64))
    #: Rows of the resources table read while it is unchanged.
    resources: Snapshot = field(default_factory=Snapshot)
    lock: threading.Lock = field(default_factory=threading.Lock)


class PersonalizeBackend:
    """The resources of one state directory as seen from one region.

    >>> backend = PersonalizeBackend(StateDir("/tmp/doctest-backend"), "us-east-1")
    >>> backend.arn("schema", "ratings")
    'arn:aws:personalize:us-east-1:123456789012:schema/ratings'
    """

    def __init__(
        self, state: StateDir, region: str, settings: Settings | None = None, caches: Caches | None = None
    ) -> None:
        self.state = state
        self.region = region
        self.settings = settings or Settings()
        self.caches = caches or Caches()

    @property
    def db(self) -> Any:
        return self.state.db

    def arn(self, kind: str, *path: str) -> str:
        return f"arn:aws:personalize:{self.region}:{ACCOUNT_ID}:{KINDS[kind].arn_type}/" + "/".join(path)

    def in_region(self, arn: str) -> bool:
        return arn.split(":")[3:4] == [self.region]

    @contextmanager
    def transaction(self) -> Iterator[Resources]:
        """A write transaction over the resources; changed records are saved when the block ends."""
        with self.db.write() as conn:
            resources = Resources(conn, self.region)
            lifecycle.reconcile(self, resources)
            yield resources
            resources.flush()
        for start in resources.after_commit:
            start()

    def read(self) -> Resources:
        """The resources as they are now, after settling those whose time has come (see ``lifecycle``)."""
        resources = Resources(self.db.connection(), self.region, self.caches.resources)
        if lifecycle.reconcile(self, resources, dry=True):
            with self.transaction():
                pass
            resources = Resources(self.db.connection(), self.region, self.caches.resources)
            lifecycle.reconcile(self, resources, dry=True)  # learns the generation the transaction left
        return resources

    def get(self, arn: str, kind: str, *, status: int | None = None) -> Resource:
        return self.read().find(arn, kind, status=status)


__all__ = ["Caches", "PersonalizeBackend", "Settings"]
