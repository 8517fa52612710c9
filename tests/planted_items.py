"""Data with planted answers for Trending-Now, Similar-Items and Semantic-Similarity (recipe and served tests).

Trending (:func:`trending_interactions`): ten hours of interactions; ``steady`` is the most popular item
(30 interactions every hour), ``riser`` has 2 an hour for nine hours and then 40 in the newest hour; 20
background items ``bgNN`` are flat. With a one-hour trend discovery frequency ``riser`` trends, ``steady``
does not; Popularity-Count puts ``steady`` first.

Catalogue (:func:`catalogue_interactions`, :func:`catalogue_items`): ``w1`` and ``w2`` (rock, folk) are
interacted with together by 40 users; ``z1`` and ``z2`` are jazz items with a few interactions; ``cold`` is a
jazz item nobody interacted with, whose description shares ``jazz`` and ``saxophone`` with ``z1`` and
``jazz`` with ``z2``; 40 filler items ``fNN`` fill the histories (misc genre, "filler product" texts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START = 1_700_000_000
HOUR = 3600
HOURS = 10
N_USERS = 100
COLUMNS = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]


def _spread(item: str, count: int, hour: int, first_user: int) -> list[tuple]:
    """``count`` interactions with ``item`` spread evenly through ``hour``, by consecutive users."""
    return [
        (f"u{(first_user + k) % N_USERS:03d}", item, START + hour * HOUR + (k * HOUR) // count, "click", 1.0)
        for k in range(count)
    ]


def trending_interactions() -> pd.DataFrame:
    rows: list[tuple] = []
    for hour in range(HOURS):
        rows += _spread("steady", 30, hour, hour * 30)
        rows += _spread("riser", 40 if hour == HOURS - 1 else 2, hour, hour * 7)
        for b in range(20):
            rows += _spread(f"bg{b:02d}", 4, hour, hour * 11 + b)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("TIMESTAMP", kind="stable").reset_index(drop=True)


def newest(frame: pd.DataFrame) -> int:
    return int(frame["TIMESTAMP"].max())


GENRE = {"w1": "rock", "w2": "folk", "z1": "jazz", "z2": "jazz", "cold": "jazz"}
DESCRIPTION = {
    "w1": "stadium rock guitar anthems",
    "w2": "acoustic folk songs by the fire",
    "z1": "smooth jazz saxophone quartet",
    "z2": "late night jazz piano trio",
    "cold": "jazz saxophone ballads",
}
FILLERS = [f"f{k:02d}" for k in range(40)]


def catalogue_interactions(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    t = START
    for user in range(60):
        history = list(rng.choice(FILLERS, size=20 if user < 40 else 10, replace=False))
        if user < 40:
            history[3:3] = ["w1", "w2"]
        if user % 12 == 0:
            history.append("z1" if user % 24 == 0 else "z2")
        for item in history:
            rows.append((f"u{user:03d}", str(item), t, "click", 1.0))
            t += 1
    return pd.DataFrame(rows, columns=COLUMNS)


def catalogue_items() -> pd.DataFrame:
    rows = [(item, GENRE[item], DESCRIPTION[item]) for item in GENRE]
    rows += [(item, "misc", f"filler product {item}") for item in FILLERS]
    return pd.DataFrame(rows, columns=["ITEM_ID", "GENRES", "DESCRIPTION"])
