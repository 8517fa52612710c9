"""Planted data for the recipe tests: the right answers are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_GENRES, PER_GENRE = 4, 10
DAY = 86_400
LATEST = 1_600_000_000


def item(genre: int, k: int) -> str:
    return f"g{genre}i{k}"


def planted_data(n_users: int = 80, length: int = 24, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each user stays in one genre; after g{g}i{k} comes g{g}i{k+1} 75% of the time, else any item of it.

    So ``g0i0`` (A) is most often followed by ``g0i1`` (B). The items frame also lists ``fresh``, created
    a day before the newest interaction and never interacted with; every other item is old. The users
    frame gives each user the segment ``S{genre}`` and lists ``meta-only`` (segment S2, no interactions).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        genre = u % N_GENRES
        start = int(rng.integers(PER_GENRE))
        base = LATEST - length * 100 - int(rng.integers(0, 1000))
        k = start
        for step in range(length):
            rows.append((f"u{u}", item(genre, k), base + 100 * step))
            k = (k + 1) % PER_GENRE if rng.random() < 0.75 else int(rng.integers(PER_GENRE))
    interactions = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    interactions.loc[interactions.index[-1], "TIMESTAMP"] = LATEST
    ids = [item(g, k) for g in range(N_GENRES) for k in range(PER_GENRE)]
    items = pd.DataFrame(
        {
            "ITEM_ID": [*ids, "fresh"],
            "GENRES": [f"G{g}|Any" for g in range(N_GENRES) for _ in range(PER_GENRE)] + ["G1"],
            "CREATION_TIMESTAMP": [LATEST - 1000 * DAY] * len(ids) + [LATEST - DAY],
        }
    )
    users = pd.DataFrame(
        {
            "USER_ID": [f"u{u}" for u in range(n_users)] + ["meta-only"],
            "AGE": [20 + u % 40 for u in range(n_users)] + [30],
            "SEGMENT": [f"S{u % N_GENRES}" for u in range(n_users)] + ["S2"],
        }
    )
    return interactions, items, users


def events(*items: str, start: int = LATEST + 1000) -> pd.DataFrame:
    return pd.DataFrame(
        {"USER_ID": "x", "ITEM_ID": list(items), "TIMESTAMP": [start + 10 * k for k in range(len(items))]}
    )


def top(ranked: list[tuple[str, float | None]], n: int | None = None) -> list[str]:
    return [name for name, _ in ranked][:n]
