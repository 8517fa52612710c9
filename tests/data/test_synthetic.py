"""The synthetic generator: determinism, chunking, schema, and the structure it plants in the data.

Every structural test measures the structure from the generated rows alone and checks it against a
baseline that the same data would give without it (shuffled labels, shuffled successors, or the knob
that turns the structure off).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from personalize_kit.data import synthetic
from personalize_kit.data.source import RATINGS_SCHEMA, RawDataset
from personalize_kit.data.synthetic import GENRE_NAMES, SyntheticConfig, generate, planted_successors

SIZE = 200_000
SEED = 3


@dataclass
class Rows:
    """The ratings of a data set as numpy arrays, ids as integers."""

    items: pd.DataFrame
    users: pd.DataFrame
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    @property
    def same_user(self) -> np.ndarray:
        """For each pair of consecutive rows: do both belong to the same user?"""
        return self.user[1:] == self.user[:-1]


def _table(data: RawDataset) -> pa.Table:
    return pa.concat_tables(list(data.ratings()))


def _frames(data: RawDataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    assert data.items is not None
    assert data.users is not None
    return data.items, data.users


@cache
def _rows(**overrides: object) -> Rows:
    data = generate(SyntheticConfig(n_interactions=SIZE, seed=SEED, **overrides))  # type: ignore[arg-type]
    table = _table(data)
    items, users = _frames(data)
    return Rows(
        items=items,
        users=users,
        user=pc.cast(table["user_id"], pa.int64()).to_numpy(),
        item=pc.cast(table["item_id"], pa.int64()).to_numpy(),
        rating=table["rating"].to_numpy(),
        timestamp=table["timestamp"].to_numpy(),
    )


def _genre_shares(rows: Rows) -> np.ndarray:
    """Item number -> genre weights (1 / number of genres for each of its genres)."""
    items = rows.items
    shares = np.zeros((len(items) + 1, len(GENRE_NAMES)))
    for number, genres in zip(items["item_id"].astype(int), items["genres"], strict=True):
        names = genres.split("|")
        for name in names:
            shares[number, GENRE_NAMES.index(name)] = 1.0 / len(names)
    return shares


def _user_genre_profile(rows: Rows) -> np.ndarray:
    """User number - 1 -> share of each genre in the user's interactions."""
    shares = _genre_shares(rows)[rows.item]
    profile = np.zeros((len(rows.users), shares.shape[1]))
    np.add.at(profile, rows.user - 1, shares)
    return profile / profile.sum(axis=1, keepdims=True)


# --- determinism and chunking ---------------------------------------------------------------------


def test_same_seed_gives_same_data_and_another_seed_does_not() -> None:
    first = generate(SyntheticConfig(n_interactions=20_000, seed=5))
    again = generate(SyntheticConfig(n_interactions=20_000, seed=5))
    other = generate(SyntheticConfig(n_interactions=20_000, seed=6))

    (items, users), (items_again, users_again), (other_items, other_users) = map(_frames, (first, again, other))
    assert _table(first).equals(_table(again))
    assert items.equals(items_again)
    assert users.equals(users_again)
    assert not _table(first).equals(_table(other))
    assert not users["age"].equals(other_users["age"])
    assert not items["genres"].equals(other_items["genres"])


def test_ratings_can_be_read_twice_with_the_same_result() -> None:
    data = generate(SyntheticConfig(n_interactions=20_000, seed=5, chunk_rows=3_000))
    assert _table(data).equals(_table(data))


@pytest.mark.parametrize("chunk_rows", [1, 999, 4_096, 1_000_000])
def test_exact_row_count_and_chunk_sizes_for_any_chunk_rows(chunk_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic, "_BLOCK_ROWS", 2_500)  # many simulation blocks
    n_interactions = 12_345 if chunk_rows > 1 else 345
    reference = _table(generate(SyntheticConfig(n_interactions=n_interactions, seed=1)))

    chunks = list(generate(SyntheticConfig(n_interactions=n_interactions, seed=1, chunk_rows=chunk_rows)).ratings())

    sizes = [chunk.num_rows for chunk in chunks]
    assert sum(sizes) == n_interactions
    assert max(sizes) <= chunk_rows
    assert all(size == chunk_rows for size in sizes[:-1])
    assert all(chunk.schema.equals(RATINGS_SCHEMA) for chunk in chunks)
    assert pa.concat_tables(chunks).equals(reference)  # the data does not depend on chunk_rows


def test_ratings_are_simulated_lazily_block_by_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic, "_BLOCK_ROWS", 5_000)
    simulated: list[int] = []
    block = synthetic._World.block

    def counting_block(self: synthetic._World, index: int) -> pa.Table:
        simulated.append(index)
        return block(self, index)

    monkeypatch.setattr(synthetic._World, "block", counting_block)
    stream = generate(SyntheticConfig(n_interactions=100_000, chunk_rows=1_000)).ratings()

    assert next(stream).num_rows == 1_000
    assert simulated == [0]
    assert sum(chunk.num_rows for chunk in stream) == 99_000
    assert len(simulated) >= 15


# --- schema, tables and sizes ---------------------------------------------------------------------


def test_tables_have_the_contract_schema_and_value_ranges() -> None:
    config = SyntheticConfig(n_interactions=30_000, seed=2)
    data = generate(config)
    table = _table(data)

    assert data.name == "synthetic"
    assert data.n_ratings == 30_000
    assert "seed=2" in data.origin
    assert table.schema.equals(RATINGS_SCHEMA)
    ratings = table["rating"].to_numpy()
    assert set(np.unique(ratings)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    timestamps = table["timestamp"].to_numpy()
    assert timestamps.min() >= config.start
    assert timestamps.max() <= config.end
    items, users = _frames(data)
    assert set(pc.unique(table["user_id"]).to_pylist()) <= set(users["user_id"])
    assert set(pc.unique(table["item_id"]).to_pylist()) <= set(items["item_id"])

    assert list(items.columns) == ["item_id", "title", "genres", "creation_timestamp"]
    assert len(items) == config.resolved_n_items == 1_200
    assert items["item_id"].iloc[122] == "123"
    assert items["title"].iloc[122] == "Item 123"
    assert str(items["creation_timestamp"].dtype) == "Int64"
    assert items["creation_timestamp"].between(config.start, config.end).all()
    genre_lists = items["genres"].str.split("|")
    assert genre_lists.map(len).between(1, 3).all()
    assert genre_lists.map(lambda names: set(names) <= set(GENRE_NAMES) and len(set(names)) == len(names)).all()
    assert set(genre_lists.map(len)) == {1, 2, 3}

    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "location"]
    assert len(users) == config.resolved_n_users == 200
    assert users["user_id"].iloc[0] == "1"
    assert str(users["age"].dtype) == "Int64"
    assert users["age"].between(13, 80).all()
    assert set(users["gender"]) == {"M", "F"}
    assert 3 <= users["location"].nunique() <= 10
    assert users["occupation"].nunique() >= 5
    young, old = users["age"] < 18, users["age"] >= 56
    assert (users.loc[young, "occupation"] == "student").mean() > (users.loc[~young, "occupation"] == "student").mean()
    assert (users.loc[old, "occupation"] == "retired").mean() > (users.loc[~old, "occupation"] == "retired").mean()


def test_default_sizes_follow_movielens_like_ratios() -> None:
    assert (
        SyntheticConfig(n_interactions=1_000).resolved_n_users,
        SyntheticConfig(n_interactions=1_000).resolved_n_items,
    ) == (50, 1_000)
    hundred_k = SyntheticConfig(n_interactions=100_000)
    assert (hundred_k.resolved_n_users, hundred_k.resolved_n_items) == (667, 4_000)
    large = SyntheticConfig(n_interactions=25_000_000)
    assert (large.resolved_n_users, large.resolved_n_items) == (166_667, 500_001)
    explicit = SyntheticConfig(n_interactions=1_000, n_users=30, n_items=90)
    assert (explicit.resolved_n_users, explicit.resolved_n_items) == (30, 90)


def test_smallest_size_is_trainable_by_personalize() -> None:
    table = _table(generate(SyntheticConfig(n_interactions=1_000)))
    counts = pc.value_counts(table["user_id"]).field("counts").to_numpy()

    assert table.num_rows == 1_000
    assert (counts >= 2).sum() >= 25


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_interactions": 1}, r"n_interactions must be in \[2, "),
        ({"n_interactions": 10.5}, r"n_interactions must be an integer"),
        ({"n_interactions": True}, r"n_interactions must be an integer"),
        ({"n_users": 600, "n_interactions": 1_000}, r"n_users must be in \[1, 500\]"),
        ({"n_items": 5}, r"n_items must be in \[18, "),
        ({"n_genres": 0}, r"n_genres must be in \[1, 100\]"),
        ({"seed": -1}, r"seed must be in \[0, "),
        ({"chunk_rows": 0}, r"chunk_rows must be in \[1, "),
        ({"popularity_exponent": -0.5}, r"popularity_exponent must be in \[0.0, 3.0\]"),
        ({"session_continue_prob": 1.0}, r"session_continue_prob must be in \[0.0, 0.99\]"),
        ({"sequential_strength": 1.5}, r"sequential_strength must be in \[0.0, 1.0\]"),
        ({"drift_rate": float("nan")}, r"drift_rate must be a number"),
        ({"demographic_strength": "high"}, r"demographic_strength must be a number"),
        ({"n_successors": 0}, r"n_successors must be in \[1, 10\]"),
        ({"start": 100, "end": 200}, r"end - start must be at least 2592000 seconds"),
        ({"n_interactions": 10**6, "n_users": 10, "n_items": 1_000}, r"n_interactions=1000000 is more than"),
    ],
)
def test_invalid_config_names_the_field_and_range(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**overrides)  # type: ignore[arg-type]


# --- planted structure ----------------------------------------------------------------------------


def test_item_popularity_is_heavy_tailed() -> None:
    def top_share(rows: Rows, fraction: float) -> float:
        counts = np.sort(np.bincount(rows.item, minlength=len(rows.items) + 1)[1:])[::-1]
        return counts[: int(len(counts) * fraction)].sum() / counts.sum()

    rows = _rows()
    assert top_share(rows, 0.10) > 0.40  # MovieLens: 0.43 (ml-100k) to 0.60 (ml-latest-small)
    assert top_share(rows, 0.01) > 0.08  # ten times the uniform share
    flat = _rows(popularity_exponent=0.0)
    assert top_share(flat, 0.10) < 0.35
    assert top_share(flat, 0.01) < 0.06


def _demographic_effect(profile: np.ndarray, label: np.ndarray) -> float:
    """Mean distance between each group's genre profile and the overall one, weighted by group size."""
    overall = profile.mean(axis=0)
    return sum(
        (label == value).mean() * np.abs(profile[label == value].mean(axis=0) - overall).sum() / 2
        for value in np.unique(label)
    )


@pytest.mark.parametrize("column", ["age", "gender"])
def test_genre_tastes_depend_on_demographics(column: str) -> None:
    def effect_and_null(rows: Rows) -> tuple[float, float]:
        users = rows.users
        label = (
            np.searchsorted([18, 25, 35, 45, 56], users["age"].to_numpy(int), side="right")
            if column == "age"
            else (users["gender"] == "F").to_numpy()
        )
        profile = _user_genre_profile(rows)
        rng = np.random.default_rng(0)
        null = max(_demographic_effect(profile, rng.permutation(label)) for _ in range(20))
        return _demographic_effect(profile, label), null

    effect, null = effect_and_null(_rows())
    assert effect > 2.5 * null
    effect, null = effect_and_null(_rows(demographic_strength=0.0))
    assert effect < 1.5 * null


@cache
def _planted_table() -> np.ndarray:
    """Item number -> numbers of its planted successors (the same for every variant of the config)."""
    config = SyntheticConfig(n_interactions=SIZE, seed=SEED)
    successors = planted_successors(config)
    table = np.zeros((len(successors) + 1, config.n_successors), dtype=np.int64)
    for item, following in successors.items():
        table[int(item)] = [int(s) for s in following]
    return table


def _is_successor(previous: np.ndarray, following: np.ndarray) -> np.ndarray:
    return (_planted_table()[previous] == following[:, None]).any(axis=1)


def _session_pairs(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive interactions of a user less than 30 minutes apart: (previous item, next item)."""
    in_session = rows.same_user & (np.diff(rows.timestamp) <= 1800)
    return rows.item[:-1][in_session], rows.item[1:][in_session]


def test_next_item_in_a_session_is_often_a_successor_of_the_previous_one() -> None:
    def rate_and_lift(rows: Rows) -> tuple[float, float]:
        previous, following = _session_pairs(rows)
        rate = _is_successor(previous, following).mean()
        chance = _is_successor(previous, np.random.default_rng(0).permutation(following)).mean()
        return rate, rate / max(chance, 1e-9)

    rate, lift = rate_and_lift(_rows())
    assert rate > 0.3
    assert lift > 50
    rate, lift = rate_and_lift(_rows(sequential_strength=0.0))
    assert rate < 0.02
    assert lift < 5


def test_most_frequent_next_item_is_a_planted_successor() -> None:
    """What a co-occurrence model finds: for a frequent item, the item most often watched next."""

    def found_share(rows: Rows) -> float:
        previous, following = _session_pairs(rows)
        pairs, counts = np.unique(np.stack([previous, following]), axis=1, return_counts=True)
        order = np.lexsort((-counts, pairs[0]))
        pairs, counts = pairs[:, order], counts[order]
        first = np.flatnonzero(np.r_[True, pairs[0, 1:] != pairs[0, :-1]])
        support = np.add.reduceat(counts, first)
        frequent = first[support >= 20]
        return _is_successor(pairs[0, frequent], pairs[1, frequent]).mean()

    assert found_share(_rows()) > 0.9
    assert found_share(_rows(sequential_strength=0.0)) < 0.1


def test_genre_tastes_drift_along_each_history() -> None:
    def far_minus_near(rows: Rows) -> float:
        """Genre distance between a user's first and last quarters, minus that of the first two quarters."""
        starts = np.r_[0, np.flatnonzero(~rows.same_user) + 1]
        counts = np.diff(np.r_[starts, rows.user.size])
        user = np.repeat(np.arange(counts.size), counts)
        quarter = (np.arange(rows.user.size) - starts[user]) * 4 // counts[user]
        profile = np.zeros((counts.size, 4, len(GENRE_NAMES)))
        np.add.at(profile, (user, quarter), _genre_shares(rows)[rows.item])
        profile /= profile.sum(axis=2, keepdims=True)
        keep = counts >= 40

        def distance(a: int, b: int) -> float:
            return float((np.abs(profile[keep, a] - profile[keep, b]).sum(axis=1) / 2).mean())

        return distance(0, 3) - distance(0, 1)

    assert far_minus_near(_rows()) > 0.04
    assert abs(far_minus_near(_rows(drift_rate=0.0))) < 0.02


def test_interactions_come_in_sessions_ordered_in_time() -> None:
    rows = _rows()
    # each user's rows are contiguous and strictly increasing in time (so no row repeats another)
    assert np.unique(rows.user[np.r_[True, ~rows.same_user]]).size == len(rows.users)
    gaps = np.diff(rows.timestamp)[rows.same_user]
    assert (gaps > 0).all()
    in_session, between = (gaps <= 1800).mean(), (gaps >= 7200).mean()
    assert 0.7 < in_session < 0.9  # session_continue_prob = 0.8
    assert between > 0.1
    assert ((gaps > 1800) & (gaps < 7200)).sum() == 0  # minutes inside a session, hours between sessions
    assert np.median(gaps[gaps <= 1800]) < 300

    one_per_session = _rows(session_continue_prob=0.0)
    assert (np.diff(one_per_session.timestamp)[one_per_session.same_user] >= 7200).all()


def test_users_rarely_watch_an_item_twice() -> None:
    rows = _rows()
    pairs = rows.user * (len(rows.items) + 1) + rows.item
    assert 1 - np.unique(pairs).size / pairs.size < 0.01


def test_items_are_released_over_the_span_and_never_watched_before() -> None:
    rows = _rows()
    config = SyntheticConfig(n_interactions=SIZE, seed=SEED)
    created = np.r_[0, rows.items["creation_timestamp"].to_numpy(np.int64)]
    late = config.start + 0.75 * (config.end - config.start)

    assert (created[1:] > late).mean() > 0.1
    assert (created[1:] == config.start).mean() > 0.2
    assert (rows.timestamp >= created[rows.item]).all()
    new_item_watched_late = (created[rows.item] > late) & (rows.timestamp > late)
    assert new_item_watched_late.sum() > 1_000


def test_ratings_are_higher_when_the_genre_suits_the_user() -> None:
    rows = _rows()
    suits = (_user_genre_profile(rows)[rows.user - 1] * _genre_shares(rows)[rows.item]).sum(axis=1)

    assert np.corrcoef(suits, rows.rating)[0, 1] > 0.15
    assert 3.3 < rows.rating.mean() < 3.8
    assert 0.25 < (rows.rating == 4).mean() < 0.45  # the most common rating, as in MovieLens
    shuffled = np.random.default_rng(0).permutation(rows.rating)
    assert abs(np.corrcoef(suits, shuffled)[0, 1]) < 0.02


def test_planted_successors_share_a_genre_and_follow_in_release_order() -> None:
    config = SyntheticConfig(n_interactions=20_000, seed=4)
    data = generate(config)
    successors = planted_successors(config)
    items, _ = _frames(data)
    genres = dict(zip(items["item_id"], items["genres"].str.split("|"), strict=True))
    created = dict(zip(items["item_id"], items["creation_timestamp"], strict=True))

    assert len(successors) == len(items)
    assert all(len(after) == 3 and item not in after for item, after in successors.items())
    assert all(set(genres[item]) & set(genres[after[0]]) for item, after in successors.items())
    in_order = [created[after[0]] >= created[item] for item, after in successors.items()]
    assert np.mean(in_order) > 0.95  # only the last items of each genre wrap around
