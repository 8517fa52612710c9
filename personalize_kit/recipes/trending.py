"""Trending-Now (``aws-trending-now``): the items whose interactions grow fastest, window over window.

The service evaluates the interactions every ``trend_discovery_frequency`` (a feature transformation
parameter: ``30 minutes``, ``1 hour``, ``2 hours`` (the default), ``3 hours`` or ``1 day``) and recommends
the items with the greatest rate of increase since the previous evaluation. Locally the two windows are
the newest interval of the data and the one before it, ending at the newest interaction's timestamp (the
data's clock, not the wall clock: data sets are often old):

- ``current(i)`` = interactions with ``i`` in ``(newest - w, newest]``, ``previous(i)`` in
  ``(newest - 2w, newest - w]``;
- an item trends when ``current > previous``; trending items are ordered by the rate of increase
  ``(current - previous) / (previous + 1)``, then by ``current``, then by popularity, then by id;
- the list is filled up with the most popular items (unique users over all interactions, as
  Popularity-Count), which is also what is served when nothing trends.

Events recorded after training (PutEvents) count without a new solution version, as in the service: the
mirror passes them to :meth:`TrendingNow.with_events` at every request, and the windows move with the
newest event. Items and Users datasets are not read; the service gives no scores.

>>> rows = [("u1", "old", 0), ("u2", "old", 1), ("u3", "old", 7300), ("u4", "new", 7300), ("u5", "new", 7400)]
>>> frame = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
>>> TrendingNow().fit(frame).recommend(n=2)
[('new', None), ('old', None)]
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.recipes.base import Range, Ranked
from personalize_kit.recipes.popularity import PopularityCount

__all__ = ["FREQUENCIES", "TrendingNow"]

#: ``trend_discovery_frequency`` values the service takes, and their length in seconds.
FREQUENCIES: dict[str, int] = {
    "30 minutes": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "1 day": 86400,
}


class TrendingNow(PopularityCount):
    """``aws-trending-now``: Popularity-Count's ranking, led by the items rising fastest in the newest window.

    >>> rows = [("u1", "a", 0), ("u2", "a", 10)]
    >>> model = TrendingNow().fit(pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"]))
    >>> new = pd.DataFrame([("u3", "b", 9000), ("u4", "b", 9010)], columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    >>> model.with_events(new).recommend(n=2)
    [('b', None), ('a', None)]
    """

    name = "aws-trending-now"
    recipe_type = "USER_PERSONALIZATION"
    reads_recent_events = False
    reads_new_events = True
    default_hyperparameters: ClassVar[Mapping[str, str]] = {"trend_discovery_frequency": "2 hours"}
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = {
        "trend_discovery_frequency": ("categorical", tuple(FREQUENCIES)),
    }
    feature_transformation_parameters: ClassVar[tuple[str, ...] | None] = ("trend_discovery_frequency",)

    def __init__(self) -> None:
        super().__init__()
        self._frequency = self.default_hyperparameters["trend_discovery_frequency"]
        #: The newest interaction's timestamp (``-1``: none), and the interactions of the two newest windows.
        self._newest = -1
        self._recent_items = np.array([], dtype=str)
        self._recent_times = np.array([], dtype=np.int64)
        self._trending: list[str] = []

    @property
    def window(self) -> int:
        """The trend discovery interval in seconds."""
        return FREQUENCIES[self._frequency]

    @property
    def trained_through(self) -> int:
        """The newest timestamp the model counted: events after it are new to it (``-1``: none)."""
        return self._newest

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> TrendingNow:
        self._frequency = self.resolved_hyperparameters(hyperparameters)["trend_discovery_frequency"].strip().lower()
        super().fit(interactions, items, users)
        self._recent_items = np.array([], dtype=str)
        self._recent_times = np.array([], dtype=np.int64)
        self._newest = -1
        self._add(interactions)
        return self

    def with_events(self, events: pd.DataFrame) -> TrendingNow:
        """This model with ``events`` newer than :attr:`trained_through` counted too (self when there are none).

        The popularity that fills the list stays as trained; the trend moves with the new events.
        """
        if events is None or events.empty:
            return self
        newer = events[pd.to_numeric(events["TIMESTAMP"]).to_numpy() > self._newest]
        if newer.empty:
            return self
        model = copy.copy(self)
        model._add(newer)
        return model

    def _add(self, interactions: pd.DataFrame) -> None:
        """Count ``interactions`` into the two newest windows and rank the trending items again."""
        times = pd.to_numeric(interactions["TIMESTAMP"]).to_numpy(dtype=np.int64)
        items = interactions["ITEM_ID"].astype(str).to_numpy(dtype=str)
        all_times = np.concatenate([self._recent_times, times])
        all_items = np.concatenate([self._recent_items, items]).astype(str)
        self._newest = int(all_times.max()) if all_times.size else -1
        keep = all_times > self._newest - 2 * self.window
        self._recent_times, self._recent_items = all_times[keep], all_items[keep]
        self._trending = self._rank()

    def _rank(self) -> list[str]:
        if not self._recent_items.size:
            return []
        names, codes = np.unique(self._recent_items, return_inverse=True)
        now = self._recent_times > self._newest - self.window
        current = np.bincount(codes[now], minlength=len(names))
        previous = np.bincount(codes[~now], minlength=len(names))
        rate = (current - previous) / (previous + 1.0)
        position = {item: k for k, item in enumerate(self._items.tolist())}
        rising = [k for k in range(len(names)) if current[k] > previous[k]]
        rising.sort(key=lambda k: (-rate[k], -current[k], position.get(str(names[k]), len(position)), str(names[k])))
        return [str(names[k]) for k in rising]

    @property
    def trending(self) -> list[str]:
        """The items trending now, fastest rising first (without the popular fill)."""
        return list(self._trending)

    @property
    def catalogue(self) -> np.ndarray:
        known = set(self._items.tolist())
        return np.concatenate([self._items, np.array([i for i in self._trending if i not in known], dtype=str)])

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        skip = set(exclude)
        out: Ranked = []
        for item in [*self._trending, *self._items.tolist()]:
            if len(out) >= n:
                break
            if item not in skip:
                skip.add(item)
                out.append((item, None))
        return out

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        position = {item: k for k, (item, _) in enumerate(self.recommend(n=len(self.catalogue)))}
        known = sorted((item for item in items if item in position), key=position.__getitem__)
        return [(item, None) for item in known + [item for item in items if item not in position]]

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, settings = super()._save_arrays()
        arrays |= {"recent_items": self._recent_items.astype(str), "recent_times": self._recent_times}
        return arrays, settings | {"trend_discovery_frequency": self._frequency, "newest": self._newest}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> TrendingNow:
        model = cls()
        model._items = np.asarray(arrays["items"]).astype(str)
        model._counts = np.asarray(arrays["counts"]).astype(np.int64)
        model._frequency = str(settings["trend_discovery_frequency"])
        model._newest = int(settings["newest"])
        model._recent_items = np.asarray(arrays["recent_items"]).astype(str)
        model._recent_times = np.asarray(arrays["recent_times"]).astype(np.int64)
        model._trending = model._rank()
        return model
