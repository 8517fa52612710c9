"""Real-time features of the reference tutorial: what the user watched just before each interaction.

``LAST_WATCHED_MOVIE`` is the item of the user's previous interaction and ``LAST_RATING`` its event value
(null for a user's first interaction). The local model reads them; they go into the Personalize interactions
CSV only when asked for.

>>> df = pd.DataFrame({"USER_ID": ["u", "u", "v"], "ITEM_ID": ["a", "b", "c"],
...                    "TIMESTAMP": [2, 1, 5], "EVENT_VALUE": [4.0, 5.0, 3.0]})
>>> out = add_realtime_features(df)
>>> out["LAST_WATCHED_MOVIE"].fillna("-").tolist(), out["LAST_RATING"].fillna(0).tolist()
(['b', '-', '-'], [5.0, 0.0, 0.0])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LAST_ITEM = "LAST_WATCHED_MOVIE"
LAST_RATING = "LAST_RATING"


def add_realtime_features(
    interactions: pd.DataFrame,
    *,
    user: str = "USER_ID",
    item: str = "ITEM_ID",
    timestamp: str = "TIMESTAMP",
    value: str = "EVENT_VALUE",
) -> pd.DataFrame:
    """Return a copy of ``interactions`` with ``LAST_WATCHED_MOVIE`` and ``LAST_RATING`` added.

    Order within a user is by timestamp, ties kept in input order. Rows keep their input order.
    """
    order = np.lexsort(
        (np.arange(len(interactions)), interactions[timestamp].to_numpy(), interactions[user].to_numpy())
    )
    users = interactions[user].to_numpy()[order]
    items = interactions[item].to_numpy(dtype=object)[order]
    same_user = np.zeros(len(order), dtype=bool)
    same_user[1:] = users[1:] == users[:-1]
    prev_item = np.empty(len(order), dtype=object)
    prev_item[0:1] = None
    prev_item[1:] = items[:-1]
    prev_item[~same_user] = None
    if value in interactions.columns:
        values = interactions[value].to_numpy(dtype=float)[order]
        prev_value = np.full(len(order), np.nan)
        prev_value[1:] = values[:-1]
        prev_value[~same_user] = np.nan
    else:
        prev_value = np.full(len(order), np.nan)
    out = interactions.copy()
    last_item = np.empty(len(order), dtype=object)
    last_item[order] = prev_item
    last_value = np.empty(len(order))
    last_value[order] = prev_value
    out[LAST_ITEM] = last_item
    out[LAST_RATING] = last_value
    return out
