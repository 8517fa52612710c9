"""Hand-made raw datasets with known contents, for the preparation and validation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from personalize_kit.data.source import RATINGS_SCHEMA, RawDataset

NOW = 1_700_000_000


def ratings_table(rows: list[tuple[str, str, float, int]]) -> pa.Table:
    users, items, ratings, stamps = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    return pa.table({"user_id": users, "item_id": items, "rating": ratings, "timestamp": stamps}, schema=RATINGS_SCHEMA)


def regular_rows(n_users: int = 40, per_user: int = 50, n_items: int = 120, seed: int = 0):
    """Valid rows: every user rates ``per_user`` distinct items with ratings 1-5, timestamps increasing."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=per_user, replace=False)
        for k, item in enumerate(items):
            rows.append((f"u{u}", f"i{item}", float(rng.integers(1, 6)), 1_500_000_000 + u * 1000 + k))
    return rows


def make_raw(
    rows: list[tuple[str, str, float, int]],
    *,
    chunk_rows: int = 500,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    first_line: int = 2,
) -> RawDataset:
    table = ratings_table(rows)

    def chunks():
        for start in range(0, max(table.num_rows, 1), chunk_rows):
            yield table.slice(start, chunk_rows)

    return RawDataset(
        "handmade",
        chunks,
        items,
        users,
        n_ratings=table.num_rows,
        origin="hand-made test data",
        files={"ratings": "ratings.csv", "items": "movies.csv", "users": "users.csv"},
        first_line={"ratings": first_line, "items": 2, "users": 2},
    )


def item_frame(n_items: int = 120) -> pd.DataFrame:
    genres = ["Action|Comedy", "Drama", "", "Horror|Thriller|Drama"]
    return pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(n_items)],
            "title": [f"Movie {k}" for k in range(n_items)],
            "genres": [genres[k % len(genres)] for k in range(n_items)],
        }
    )


def user_frame(n_users: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{k}" for k in range(n_users)],
            "age": pd.array([20 + k % 50 for k in range(n_users)], dtype="Int64"),
            "gender": ["M" if k % 3 else "F" for k in range(n_users)],
            "occupation": ["writer"] * n_users,
            "location": [f"{10000 + k}" for k in range(n_users)],
        }
    )
