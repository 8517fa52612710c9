"""Popularity-Count: every user gets the items the most unique users interacted with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from personalize_kit.recipes.base import Ranked, Recipe


class PopularityCount(Recipe):
    """``aws-popularity-count``: popularity is the number of unique users who interacted with an item.

    The service returns no scores for this recipe, and the same list to every user; ties are broken by
    item id so that results are deterministic.

    >>> frame = pd.DataFrame({"USER_ID": ["u1", "u2", "u2"], "ITEM_ID": ["a", "b", "a"], "TIMESTAMP": [1, 2, 3]})
    >>> PopularityCount().fit(frame).recommend(user_id="anyone", n=2)
    [('a', None), ('b', None)]
    """

    reads_recent_events = False

    name = "aws-popularity-count"
    recipe_type = "USER_PERSONALIZATION"

    def __init__(self, trend_interval: float | None = None) -> None:
        self._items = np.array([], dtype=str)
        self._counts = np.array([], dtype=np.int64)
        #: Seconds of a trend interval: when given, the items whose unique users rose most from the interval
        #: before the newest to the newest come first (Trending-Now), the others after them by popularity.
        self.trend_interval = trend_interval

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> PopularityCount:
        pairs = interactions[["USER_ID", "ITEM_ID"]].astype(str).drop_duplicates()
        counts = pairs.groupby("ITEM_ID").size()
        rise = _rise(interactions, self.trend_interval) if self.trend_interval else {}
        order = sorted(counts.index, key=lambda item: (-rise.get(item, 0), -int(counts[item]), item))
        self._items = np.array(order, dtype=str)
        self._counts = np.array([int(counts[item]) for item in order], dtype=np.int64)
        return self

    @property
    def catalogue(self) -> np.ndarray:
        return self._items

    @property
    def counts(self) -> dict[str, int]:
        """Unique users per item, most popular first."""
        return dict(zip(self._items.tolist(), self._counts.tolist(), strict=True))

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
        for item in self._items[: n + len(skip)].tolist():  # each item skipped takes one place at most
            if len(out) >= n:
                break
            if item not in skip:
                out.append((item, None))
        return out

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        position = {item: i for i, item in enumerate(self._items.tolist())}
        known = sorted((item for item in items if item in position), key=position.__getitem__)
        unknown = [item for item in items if item not in position]
        return [(item, None) for item in known + unknown]

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"items": self._items.astype(str), "counts": self._counts}, {}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> PopularityCount:
        model = cls()
        model._items = np.asarray(arrays["items"]).astype(str)
        model._counts = np.asarray(arrays["counts"]).astype(np.int64)
        return model


def _rise(interactions: pd.DataFrame, width: float) -> dict[str, int]:
    """How many more unique users each item had in the newest interval of ``width`` seconds (ending at the
    newest timestamp) than in the interval before it; items that did not rise are left out.

    >>> frame = pd.DataFrame({"USER_ID": list("abcd"), "ITEM_ID": list("xyyy"), "TIMESTAMP": [0, 5, 15, 16]})
    >>> _rise(frame, 10)
    {'y': 1}
    """
    stamps = pd.to_numeric(interactions["TIMESTAMP"])
    end = stamps.max()

    def users(low: float, high: float) -> pd.Series:
        window = interactions.loc[(stamps > low) & (stamps <= high), ["USER_ID", "ITEM_ID"]].astype(str)
        return window.drop_duplicates().groupby("ITEM_ID").size()

    rise = users(end - width, end).sub(users(end - 2 * width, end - width), fill_value=0)
    return {str(item): int(value) for item, value in rise.items() if value > 0}
