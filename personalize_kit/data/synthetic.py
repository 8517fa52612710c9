"""Deterministic synthetic MovieLens-like data with the structure that real interaction data has.

:func:`generate` returns a :class:`~personalize_kit.data.source.RawDataset` whose ratings are simulated
block by block, vectorised over all the users of a block, so that sizes from a few thousand to tens of
millions of interactions are produced quickly and with bounded memory. The data carries, on purpose:

- power-law (Zipf-like) item popularity within each genre;
- genre tastes shifted by the user's age band and gender;
- sessions: bursts of interactions seconds to minutes apart, separated by gaps of hours or more;
- sequences: inside a session a user often goes on to one of the *successors* of the item just watched
  (the next items of the same primary genre in release order, see :func:`planted_successors`);
- taste drift: each user's genre preferences move along their history;
- ratings 1-5 that are higher when the item's genre matches the user's taste;
- timestamps that increase along each user's history, never before the item's creation time.

The same configuration always gives the same data, whatever ``chunk_rows`` is: the rows are simulated
in fixed blocks of users and only re-cut into chunks on the way out.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from personalize_kit.data.source import RATINGS_SCHEMA, RawDataset

__all__ = ["GENRE_NAMES", "SyntheticConfig", "generate", "planted_successors"]

#: MovieLens genres, most common first; the first ``n_genres`` are used, further ones are "Genre 19" ...
GENRE_NAMES = (
    "Drama",
    "Comedy",
    "Thriller",
    "Action",
    "Romance",
    "Adventure",
    "Crime",
    "Sci-Fi",
    "Horror",
    "Fantasy",
    "Children",
    "Animation",
    "Mystery",
    "Documentary",
    "War",
    "Musical",
    "Western",
    "Film-Noir",
)
#: Number of movies per genre in ml-latest-small, the relative weight of each genre above.
_GENRE_WEIGHTS = (4361, 3756, 1894, 1828, 1596, 1263, 1199, 980, 978, 779, 664, 611, 573, 440, 382, 334, 167, 87)
_EXTRA_GENRE_WEIGHT = 100

#: Occupations of ml-100k with the number of users holding each.
_OCCUPATIONS = (
    ("administrator", 79),
    ("artist", 28),
    ("doctor", 7),
    ("educator", 95),
    ("engineer", 67),
    ("entertainment", 18),
    ("executive", 32),
    ("healthcare", 16),
    ("homemaker", 7),
    ("lawyer", 12),
    ("librarian", 51),
    ("marketing", 26),
    ("none", 9),
    ("other", 105),
    ("programmer", 66),
    ("retired", 14),
    ("salesman", 12),
    ("scientist", 31),
    ("student", 196),
    ("technician", 27),
    ("writer", 45),
)
_REGIONS = (
    ("Northeast", 18),
    ("Mid-Atlantic", 14),
    ("Southeast", 17),
    ("Midwest", 16),
    ("Southwest", 10),
    ("Mountain", 6),
    ("Pacific", 15),
    ("Northwest", 4),
)
#: Lower bounds of the age bands 13-17, 18-24, 25-34, 35-44, 45-55, 56-80 (tastes differ by band).
_AGE_BAND_EDGES = (18, 25, 35, 45, 56)
_MIN_AGE, _MAX_AGE = 13, 80
_FEMALE_SHARE = 0.29

_DAY = 86_400
#: Earliest start and latest end accepted (1970 to 2100), and the shortest time span.
_MAX_EPOCH = 4_102_444_800
_MIN_SPAN = 30 * _DAY

#: Rows simulated at once; a fixed constant so that the data does not depend on ``chunk_rows``.
_BLOCK_ROWS = 1 << 20
#: Steps along a user's history at which genre preferences are re-evaluated (taste drift).
_PHASES = 8
#: Gaps between the interactions of a session: log-normal seconds, clipped.
_INTRA_GAP_MEDIAN, _INTRA_GAP_SIGMA, _INTRA_GAP_MIN, _INTRA_GAP_MAX = 90.0, 1.0, 5, 1800
#: Shortest gap between two sessions of a user (shortened only when a user's history cannot fit the span).
_MIN_SESSION_GAP = 7200
#: Length of a user's active period: log-normal with this median (days) and sigma.
_ACTIVE_DAYS_MEDIAN, _ACTIVE_SIGMA = 120.0, 1.5
#: Share of the catalogue that exists from the first day; the rest is released uniformly over the span.
_LAUNCH_SHARE = 0.3
#: Probability of 0, 1 and 2 genres on top of an item's primary genre.
_EXTRA_GENRES_P = (0.5, 0.33, 0.17)
#: Spread of the per-user taste around the demographic mean (log-odds of genres).
_TASTE_SD = 1.0
#: Ratings: mean, weight of the taste match, item, user and per-rating noise.
_RATING_MEAN, _RATING_TASTE, _ITEM_BIAS_SD, _USER_BIAS_SD, _RATING_NOISE_SD = 2.95, 0.35, 0.35, 0.3, 0.65
#: Attempts at drawing an item that exists at the interaction time before falling back to the launch catalogue.
_FRESH_RETRIES = 3
#: Rounds of redrawing items a user already saw; repeats left after them stay (re-watches, rare).
_DEDUP_ROUNDS = 8
#: Popularity ranks follow (rank + q) ** -exponent with q = 1 + (list length) / _POPULARITY_HEAD.
_POPULARITY_HEAD = 100.0
#: Relative weight of successor k (k = 0, 1, ...): the first successor is the most likely.
_SUCCESSOR_DECAY = 0.5

# Seed-sequence streams, one per part of the data, so that each part can be rebuilt alone.
_STREAM_ITEMS, _STREAM_USERS, _STREAM_EFFECTS, _STREAM_COUNTS, _STREAM_BLOCKS = range(1, 6)


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and structure of a synthetic data set.

    ``n_users`` and ``n_items`` default to MovieLens-like ratios: about 150 interactions per user (at
    least 50 users while each can have 2 interactions) and three items per user (at least 1,000, and one
    per 25 interactions up to 10,000). ``start``/``end`` bound the timestamps (epoch seconds). The knobs
    of the structure:

    - ``popularity_exponent``: power-law exponent of item popularity within a genre (0 = uniform; the
      default gives MovieLens-like shares: the top 10% of items take about 45% of the interactions);
    - ``session_continue_prob``: probability that the next interaction stays in the session;
    - ``sequential_strength``: probability that an in-session interaction follows a successor of the
      previous item instead of a fresh pick from the user's tastes;
    - ``drift_rate``: how far genre preferences move from the start to the end of a history (0 = none);
    - ``demographic_strength``: how strongly age band and gender shift genre preferences (0 = not);
    - ``n_successors``: successors per item.

    Example:
        >>> config = SyntheticConfig(n_interactions=5_000, seed=7)
        >>> config.resolved_n_users, config.resolved_n_items
        (50, 1000)
    """

    n_interactions: int = 100_000
    n_users: int | None = None
    n_items: int | None = None
    n_genres: int = 18
    seed: int = 0
    chunk_rows: int = 1_000_000
    start: int = 946_684_800  # 2000-01-01T00:00:00Z
    end: int = 1_577_836_800  # 2020-01-01T00:00:00Z
    popularity_exponent: float = 1.2
    session_continue_prob: float = 0.8
    sequential_strength: float = 0.5
    drift_rate: float = 2.0
    demographic_strength: float = 1.0
    n_successors: int = 3

    def __post_init__(self) -> None:
        _check_int("n_interactions", self.n_interactions, 2, 10**11)
        _check_int("n_genres", self.n_genres, 1, 100)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("chunk_rows", self.chunk_rows, 1, 10**9)
        _check_int("start", self.start, 0, _MAX_EPOCH)
        _check_int("end", self.end, 0, _MAX_EPOCH)
        _check_int("n_successors", self.n_successors, 1, 10)
        _check_float("popularity_exponent", self.popularity_exponent, 0.0, 3.0)
        _check_float("session_continue_prob", self.session_continue_prob, 0.0, 0.99)
        _check_float("sequential_strength", self.sequential_strength, 0.0, 1.0)
        _check_float("drift_rate", self.drift_rate, 0.0, 10.0)
        _check_float("demographic_strength", self.demographic_strength, 0.0, 5.0)
        if self.end - self.start < _MIN_SPAN:
            raise ValueError(
                f"SyntheticConfig: end - start must be at least {_MIN_SPAN} seconds (30 days), "
                f"got start={self.start}, end={self.end}; move end later or start earlier"
            )
        if self.n_users is not None:
            why = "each user has at least 2 interactions, so at most n_interactions // 2 users"
            _check_int("n_users", self.n_users, 1, self.n_interactions // 2, why)
        if self.n_items is not None:
            _check_int("n_items", self.n_items, max(2, self.n_genres), 10**9, "at least one item per genre")
        capacity = self.resolved_n_users * self._max_per_user()
        if self.n_interactions > capacity:
            raise ValueError(
                f"SyntheticConfig: n_interactions={self.n_interactions} is more than n_users * max per user "
                f"= {self.resolved_n_users} * {self._max_per_user()} = {capacity} (a user watches at most half "
                "of the catalogue); raise n_users or n_items"
            )

    @property
    def resolved_n_users(self) -> int:
        """``n_users``, or the default derived from ``n_interactions``."""
        if self.n_users is not None:
            return self.n_users
        return max(1, min(max(round(self.n_interactions / 150), 50), self.n_interactions // 2))

    @property
    def resolved_n_items(self) -> int:
        """``n_items``, or the default derived from the number of users."""
        if self.n_items is not None:
            return self.n_items
        return max(3 * self.resolved_n_users, 1000, min(self.n_interactions // 25, 10_000), self.n_genres)

    def _max_per_user(self) -> int:
        return max(2, min(self.resolved_n_items // 2, (self.end - self.start) // 4))


def generate(config: SyntheticConfig | None = None) -> RawDataset:
    """Build a synthetic data set; ratings are simulated again, identically, on every ``ratings()`` call.

    Ratings chunks come ordered by user, then by time, with at most ``config.chunk_rows`` rows each.

    Example:
        >>> data = generate(SyntheticConfig(n_interactions=5_000, seed=1))
        >>> sum(chunk.num_rows for chunk in data.ratings())
        5000
        >>> list(data.users.columns)
        ['user_id', 'age', 'gender', 'occupation', 'location']
    """
    config = config or SyntheticConfig()
    world = _World(config)

    def ratings() -> Iterator[pa.Table]:
        blocks = (world.block(b) for b in range(len(world.blocks)))
        return _rechunk(blocks, config.chunk_rows)

    return RawDataset(
        name="synthetic",
        ratings=ratings,
        items=world.items_frame(),
        users=world.users_frame(),
        n_ratings=config.n_interactions,
        origin=f"synthetic seed={config.seed} n_interactions={config.n_interactions}",
    )


def planted_successors(config: SyntheticConfig) -> dict[str, tuple[str, ...]]:
    """The successors of each item, most likely first: what often comes next in a session.

    Example:
        >>> successors = planted_successors(SyntheticConfig(n_interactions=5_000))
        >>> len(successors["1"])
        3
    """
    catalog = _Catalog(config)
    ids = np.arange(1, catalog.n_items + 1).astype(str).astype(object)
    return dict(zip(ids.tolist(), map(tuple, ids[catalog.successors].tolist()), strict=True))


def _check_int(name: str, value: object, low: int, high: int, why: str = "") -> None:
    why = f" ({why})" if why else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"SyntheticConfig.{name} must be an integer in [{low}, {high}]{why}, got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"SyntheticConfig.{name} must be in [{low}, {high}]{why}, got {value}")


def _check_float(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"SyntheticConfig.{name} must be a number in [{low}, {high}], got {value!r}")
    if not low <= float(value) <= high:
        raise ValueError(f"SyntheticConfig.{name} must be in [{low}, {high}], got {value}")


def _rng(config: SyntheticConfig, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(config.seed, spawn_key=stream)))


def _genres(n_genres: int) -> tuple[list[str], np.ndarray]:
    names = [GENRE_NAMES[g] if g < len(GENRE_NAMES) else f"Genre {g + 1}" for g in range(n_genres)]
    weights = [_GENRE_WEIGHTS[g] if g < len(GENRE_NAMES) else _EXTRA_GENRE_WEIGHT for g in range(n_genres)]
    prior = np.asarray(weights, dtype=np.float64)
    return names, prior / prior.sum()


def _zipf_index(u: np.ndarray, n: np.ndarray, exponent: float) -> np.ndarray:
    """Popularity rank in ``[0, n)`` for uniform ``u``: a power law of ``exponent`` with a flattened head.

    The density is proportional to ``(x + q) ** -exponent`` on ``[0, n)`` with ``q = 1 + n / 100``, so the
    shape does not depend on the size: with exponent 1 the top 1% of a list takes about 15% of the
    draws and the top 10% about half, as in MovieLens.
    """
    size = n.astype(np.float64)
    q = 1.0 + size / _POPULARITY_HEAD
    if abs(exponent - 1.0) < 1e-9:
        x = q * np.exp(u * np.log1p(size / q)) - q
    else:
        b = 1.0 - exponent
        low = np.power(q, b)
        x = np.power((np.power(size + q, b) - low) * u + low, 1.0 / b) - q
    return np.clip(x.astype(np.int64), 0, n - 1)


class _Catalog:
    """Items: genres, release times, popularity order and successors."""

    def __init__(self, config: SyntheticConfig) -> None:
        rng = _rng(config, _STREAM_ITEMS)
        n_items, n_genres = config.resolved_n_items, config.n_genres
        self.n_items, self.n_genres = n_items, n_genres
        self.genre_names, prior = _genres(n_genres)
        cdf = np.cumsum(prior)
        cdf[-1] = 1.0

        def draw_genres(size: int) -> np.ndarray:
            return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n_genres - 1)

        # Item genres: a primary one (one item per genre at least) and up to two distinct others (-1 = none).
        genres = np.full((n_items, 3), -1, dtype=np.int64)
        genres[:, 0] = draw_genres(n_items)
        genres[:n_genres, 0] = np.arange(n_genres)
        n_extra = np.minimum(rng.choice(3, size=n_items, p=_EXTRA_GENRES_P), n_genres - 1)
        for k in (1, 2):
            rows = np.flatnonzero(n_extra >= k)
            genres[rows, k] = draw_genres(rows.size)
            while True:
                clash = (genres[rows, k : k + 1] == genres[rows, :k]).any(axis=1)
                if not clash.any():
                    break
                redo = rows[clash]
                genres[redo, k] = draw_genres(redo.size)
        self.genres = genres
        self.primary = genres[:, 0].copy()

        # Release times: the launch catalogue exists from the start, the rest arrives over the span.
        span = config.end - config.start
        launch = rng.random(n_items) < _LAUNCH_SHARE
        launch[:n_genres] = True
        released = config.start + 1 + (rng.random(n_items) * (span - 1)).astype(np.int64)
        self.created = np.where(launch, config.start, released).astype(np.int64)

        # Popularity: a random order of the catalogue; each genre lists its items most popular first.
        rank = rng.permutation(n_items)
        self.seg_items, self.seg_start, self.seg_size = self._segments(genres, rank, np.ones(n_items, bool))
        self.launch_items, self.launch_start, self.launch_size = self._segments(genres, rank, launch)
        self.launch_all = np.flatnonzero(launch)

        # Successors: the next items of the same primary genre in release order (like sequels).
        order = np.lexsort((np.arange(n_items), self.created, self.primary))
        size = np.bincount(self.primary, minlength=n_genres)
        first = np.cumsum(size) - size
        seg = self.primary[order]
        position = np.arange(n_items) - first[seg]
        steps = np.arange(1, config.n_successors + 1)
        succ_sorted = order[first[seg][:, None] + (position[:, None] + steps[None, :]) % size[seg][:, None]]
        self.successors = np.empty_like(succ_sorted)
        self.successors[order] = succ_sorted
        weights = _SUCCESSOR_DECAY ** np.arange(config.n_successors, dtype=np.float64)
        self.successor_cdf = np.cumsum(weights / weights.sum())
        self.successor_cdf[-1] = 1.0

        self.bias = rng.normal(0.0, _ITEM_BIAS_SD, n_items)
        self.exponent = float(config.popularity_exponent)

    def _segments(
        self, genres: np.ndarray, rank: np.ndarray, keep: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        item, slot = np.nonzero((genres >= 0) & keep[:, None])
        genre = genres[item, slot]
        order = np.lexsort((rank[item], genre))
        size = np.bincount(genre, minlength=self.n_genres)
        return item[order], np.cumsum(size) - size, size

    def genre_strings(self) -> np.ndarray:
        """``|``-joined genre names of every item, alphabetical as in MovieLens."""
        names = np.asarray(self.genre_names, dtype=object)
        name_rank = np.argsort(np.argsort(names))
        big = self.n_genres + 1
        ranked = np.where(self.genres >= 0, name_rank[np.maximum(self.genres, 0)], big - 1)
        ranked.sort(axis=1)
        key = (ranked[:, 0] * big + ranked[:, 1]) * big + ranked[:, 2]
        unique, inverse = np.unique(key, return_inverse=True)
        by_rank = names[np.argsort(name_rank)]
        labels = []
        for value in unique:
            parts = (value // (big * big), value // big % big, value % big)
            labels.append("|".join(by_rank[p] for p in parts if p < self.n_genres))
        return np.asarray(labels, dtype=object)[inverse]


class _World:
    """Catalogue, users and their activity; simulates the ratings of one block of users at a time."""

    def __init__(self, config: SyntheticConfig) -> None:
        self.config = config
        self.catalog = _Catalog(config)
        n_users, n_genres = config.resolved_n_users, config.n_genres
        self.n_users = n_users

        rng = _rng(config, _STREAM_USERS)
        age = np.clip(np.rint(_MIN_AGE + rng.gamma(2.2, 9.0, n_users)), _MIN_AGE, _MAX_AGE).astype(np.int64)
        self.age = age
        self.band = np.searchsorted(np.asarray(_AGE_BAND_EDGES), age, side="right")
        self.female = rng.random(n_users) < _FEMALE_SHARE
        self.occupation = self._occupations(rng)
        region_w = np.asarray([w for _, w in _REGIONS], dtype=np.float64)
        self.region = rng.choice(len(_REGIONS), size=n_users, p=region_w / region_w.sum())

        # Genre log-preferences: the genre's overall share, shifted by age band and gender.
        _, prior = _genres(n_genres)
        effects = _rng(config, _STREAM_EFFECTS)
        strength = config.demographic_strength
        self.log_prior = np.log(prior)
        self.band_effect = strength * effects.normal(0.0, 1.0, (len(_AGE_BAND_EDGES) + 1, n_genres))
        self.gender_effect = strength * effects.normal(0.0, 1.0, (2, n_genres))

        self.counts = self._counts(config)
        offsets = np.cumsum(self.counts) - self.counts
        block_of_user = offsets // _BLOCK_ROWS
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(block_of_user)) + 1, [n_users]])
        self.blocks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        self.user_ids = pa.array(np.arange(1, n_users + 1).astype(str), pa.string())
        self.item_ids = pa.array(np.arange(1, self.catalog.n_items + 1).astype(str), pa.string())

    def _occupations(self, rng: np.random.Generator) -> np.ndarray:
        names = [name for name, _ in _OCCUPATIONS]
        base = np.asarray([w for _, w in _OCCUPATIONS], dtype=np.float64)
        student, retired = names.index("student"), names.index("retired")
        result = np.empty(self.n_users, dtype=np.int64)
        for band in range(len(_AGE_BAND_EDGES) + 1):
            weights = base.copy()
            weights[student] *= (20.0, 4.0, 1.0, 0.2, 0.05, 0.02)[band]
            weights[retired] *= (0.0, 0.0, 0.1, 0.5, 1.5, 15.0)[band]
            rows = np.flatnonzero(self.band == band)
            result[rows] = rng.choice(len(names), size=rows.size, p=weights / weights.sum())
        return result

    def _counts(self, config: SyntheticConfig) -> np.ndarray:
        """Interactions per user: at least a few each, heavy-tailed, summing to ``n_interactions``."""
        rng = _rng(config, _STREAM_COUNTS)
        n_users, total = self.n_users, config.n_interactions
        cap = config._max_per_user()
        floor = min(20, max(2, total // n_users // 5))
        weights = rng.lognormal(0.0, 1.1, n_users)
        counts = floor + rng.multinomial(total - floor * n_users, weights / weights.sum())
        while (excess := int(np.maximum(counts - cap, 0).sum())) > 0:
            counts = np.minimum(counts, cap)
            room = (cap - counts).astype(np.float64)
            counts += np.minimum(rng.multinomial(excess, room / room.sum()), cap - counts)
        return counts.astype(np.int64)

    def users_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "user_id": pd.Series(np.arange(1, self.n_users + 1).astype(str), dtype=object),
                "age": pd.array(self.age, dtype="Int64"),
                "gender": pd.Series(np.where(self.female, "F", "M"), dtype=object),
                "occupation": pd.Series(np.asarray([n for n, _ in _OCCUPATIONS])[self.occupation], dtype=object),
                "location": pd.Series(np.asarray([n for n, _ in _REGIONS])[self.region], dtype=object),
            }
        )

    def items_frame(self) -> pd.DataFrame:
        ids = np.arange(1, self.catalog.n_items + 1).astype(str)
        return pd.DataFrame(
            {
                "item_id": pd.Series(ids, dtype=object),
                "title": pd.Series(np.char.add("Item ", ids), dtype=object),
                "genres": pd.Series(self.catalog.genre_strings(), dtype=object),
                "creation_timestamp": pd.array(self.catalog.created, dtype="Int64"),
            }
        )

    # --- simulation of one block -------------------------------------------------------------------

    def block(self, index: int) -> pa.Table:
        """The ratings of the users of block ``index``, ordered by user then time."""
        config, catalog = self.config, self.catalog
        rng = _rng(config, _STREAM_BLOCKS, index)
        u0, u1 = self.blocks[index]
        counts = self.counts[u0:u1]
        n_users, n_rows = u1 - u0, int(counts.sum())
        starts = np.cumsum(counts) - counts
        user = np.repeat(np.arange(n_users), counts)
        first = np.zeros(n_rows, dtype=bool)
        first[starts] = True
        position = np.arange(n_rows) - starts[user]
        phase = position * _PHASES // counts[user]

        new_session = first | (rng.random(n_rows) >= config.session_continue_prob)
        follows = ~new_session & (rng.random(n_rows) < config.sequential_strength)
        times = self._timestamps(rng, counts, starts, user, first, new_session)
        taste = _Taste(self, rng, u0, u1)
        group = user * _PHASES + phase
        sampler = _Sampler(catalog, taste, rng, group, times)

        items = np.empty(n_rows, dtype=np.int64)
        fresh = np.flatnonzero(~follows)
        items[fresh] = sampler.fresh(fresh)
        choice = np.searchsorted(catalog.successor_cdf, rng.random(n_rows), side="right")
        choice = np.minimum(choice, config.n_successors - 1)
        # Successor rows in order of their distance from the last fresh row, so each predecessor is known.
        rows = np.arange(n_rows)
        last_fresh = np.maximum.accumulate(np.where(follows, 0, rows))
        chained = np.flatnonzero(follows)
        if chained.size:
            run = (rows - last_fresh)[chained]
            chained = chained[np.argsort(run, kind="stable")]
            bounds = np.searchsorted(np.sort(run), np.arange(1, int(run.max()) + 2))
            for k in range(bounds.size - 1):
                sampler.follow(chained[bounds[k] : bounds[k + 1]], items, choice)

        self._deduplicate(sampler, user, items, follows, choice)
        ratings = self._ratings(rng, taste, user, group, items)
        return pa.Table.from_arrays(
            [
                self.user_ids.take(pa.array(u0 + user)),
                self.item_ids.take(pa.array(items)),
                pa.array(ratings, pa.float64()),
                pa.array(times, pa.int64()),
            ],
            schema=RATINGS_SCHEMA,
        )

    def _timestamps(
        self,
        rng: np.random.Generator,
        counts: np.ndarray,
        starts: np.ndarray,
        user: np.ndarray,
        first: np.ndarray,
        new_session: np.ndarray,
    ) -> np.ndarray:
        """Seconds to minutes between interactions of a session, hours or more between sessions."""
        config = self.config
        span = config.end - config.start
        n_rows = user.size
        intra = np.rint(rng.lognormal(math.log(_INTRA_GAP_MEDIAN), _INTRA_GAP_SIGMA, n_rows))
        intra = np.clip(intra, _INTRA_GAP_MIN, _INTRA_GAP_MAX).astype(np.int64)
        intra[new_session] = 0
        intra_total = np.add.reduceat(intra, starts)
        if (intra_total > span // 2).any():  # a very long history in a short span: compress its sessions
            scale = np.minimum(1.0, (span // 2) / np.maximum(intra_total, 1))
            intra = np.where(new_session, 0, np.maximum(1, (intra * scale[user]).astype(np.int64)))
            intra_total = np.add.reduceat(intra, starts)
        n_gaps = np.add.reduceat(new_session.astype(np.int64), starts) - 1
        min_gap = np.minimum(_MIN_SESSION_GAP, (span - intra_total) // np.maximum(n_gaps, 1))
        needed = intra_total + n_gaps * min_gap
        active = np.exp(rng.normal(math.log(_ACTIVE_DAYS_MEDIAN * _DAY), _ACTIVE_SIGMA, counts.size))
        active = np.clip(active, needed, span).astype(np.int64)
        begin = config.start + (rng.random(counts.size) * (span - active + 1)).astype(np.int64)
        free = (active - needed).astype(np.float64) * (1.0 - 1e-9)

        gap_weight = rng.lognormal(0.0, 1.0, n_rows)
        gap_weight[~new_session | first] = 0.0
        weight_total = np.add.reduceat(gap_weight, starts)
        share = gap_weight / np.where(weight_total > 0, weight_total, 1.0)[user]
        session_gap = min_gap[user] + (share * free[user]).astype(np.int64)
        gaps = np.where(new_session, session_gap, intra)
        gaps[first] = 0
        elapsed = np.cumsum(gaps)
        return begin[user] + elapsed - elapsed[starts][user]

    def _deduplicate(
        self,
        sampler: _Sampler,
        user: np.ndarray,
        items: np.ndarray,
        follows: np.ndarray,
        choice: np.ndarray,
    ) -> None:
        """Redraw the items a user already saw earlier in the block's rows.

        A successor row tries its other successors first; a fresh row draws again from the user's
        tastes, then (later rounds) uniformly within the genre, then from the whole catalogue. Repeats
        left after the last round stay: re-watches, rare.
        """
        n_successors, n_rows = self.config.n_successors, items.size
        rows = np.arange(n_rows, dtype=np.int64)
        for attempt in range(_DEDUP_ROUNDS):
            repeats = rows[_later_repeats(user[rows], items[rows], self.catalog.n_items)]
            if repeats.size == 0 or attempt == _DEDUP_ROUNDS - 1:
                return
            # only the users with a repeat need looking at again
            hit = np.zeros(int(user[-1]) + 1, dtype=bool)
            hit[user[repeats]] = True
            rows = rows[hit[user[rows]]]
            if attempt >= n_successors - 1:
                follows[repeats] = False
            chained = repeats[follows[repeats]]
            fresh = repeats[~follows[repeats]]
            if chained.size:
                choice[chained] = (choice[chained] + 1) % n_successors
                sampler.follow(chained, items, choice)
            if fresh.size:
                spread = 0 if attempt < _DEDUP_ROUNDS // 2 else (1 if attempt < _DEDUP_ROUNDS - 2 else 2)
                items[fresh] = sampler.fresh(fresh, spread)
            changed = repeats
            while True:  # rows that follow a changed row follow its new item
                after = changed + 1
                after = after[after < n_rows]
                changed = after[follows[after]]
                if changed.size == 0:
                    break
                sampler.follow(changed, items, choice)

    def _ratings(
        self,
        rng: np.random.Generator,
        taste: _Taste,
        user: np.ndarray,
        group: np.ndarray,
        items: np.ndarray,
    ) -> np.ndarray:
        """Integer ratings 1-5, higher when the item's primary genre suits the user at that time."""
        catalog = self.catalog
        match = taste.log_p.ravel()[group * catalog.n_genres + catalog.primary[items]] - taste.mean_log_p[group]
        user_bias = rng.normal(0.0, _USER_BIAS_SD, taste.n_users)
        noise = rng.normal(0.0, _RATING_NOISE_SD, items.size)
        score = _RATING_MEAN + _RATING_TASTE * match + catalog.bias[items] + user_bias[user] + noise
        return np.clip(np.rint(score), 1.0, 5.0)


class _Taste:
    """Genre distributions of a block's users at each phase of their history (drifting along it)."""

    def __init__(self, world: _World, rng: np.random.Generator, u0: int, u1: int) -> None:
        config = world.config
        n_genres = config.n_genres
        self.n_users = u1 - u0
        base = (
            world.log_prior
            + world.band_effect[world.band[u0:u1]]
            + world.gender_effect[world.female[u0:u1].astype(np.int64)]
            + rng.normal(0.0, _TASTE_SD, (self.n_users, n_genres))
        )
        direction = rng.normal(0.0, 1.0, (self.n_users, n_genres))
        progress = (np.arange(_PHASES) + 0.5) / _PHASES - 0.5
        logits = base[:, None, :] + config.drift_rate * progress[None, :, None] * direction[:, None, :]
        logits = logits.reshape(-1, n_genres)
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        self.log_p = np.log(np.maximum(prob, 1e-300))
        self.mean_log_p = self.log_p.mean(axis=1)
        cdf = np.cumsum(prob, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        #: Cumulative probabilities of all groups (user, phase) laid end to end, group g in [g, g + 1].
        self.flat_cdf = (cdf + np.arange(cdf.shape[0])[:, None]).ravel()
        self.n_genres = n_genres


class _Sampler:
    """Draws items for rows of a block: fresh picks from the user's tastes, or successors."""

    def __init__(
        self,
        catalog: _Catalog,
        taste: _Taste,
        rng: np.random.Generator,
        group: np.ndarray,
        times: np.ndarray,
    ) -> None:
        self.catalog, self.taste, self.rng = catalog, taste, rng
        self.group, self.times = group, times

    def fresh(self, rows: np.ndarray, spread: int = 0) -> np.ndarray:
        """A genre from the user's tastes at that time, then an item of it by popularity, released by then.

        ``spread`` 1 draws uniformly within the genre and 2 uniformly from the catalogue (to replace repeats).
        """
        catalog, rng = self.catalog, self.rng
        times = self.times[rows]
        if spread == 2:
            items = rng.integers(0, catalog.n_items, rows.size)
            late = np.flatnonzero(catalog.created[items] > times)
            items[late] = catalog.launch_all[rng.integers(0, catalog.launch_all.size, late.size)]
            return items
        group = self.group[rows]
        position = np.searchsorted(self.taste.flat_cdf, group + rng.random(rows.size), side="right")
        genre = np.clip(position - group * self.taste.n_genres, 0, self.taste.n_genres - 1)
        exponent = self.catalog.exponent if spread == 0 else 0.0
        segments = (catalog.seg_items, catalog.seg_start, catalog.seg_size)
        items = self._pick(genre, *segments, exponent)
        for _ in range(_FRESH_RETRIES):
            late = np.flatnonzero(catalog.created[items] > times)
            if late.size == 0:
                return items
            items[late] = self._pick(genre[late], *segments, exponent)
        late = np.flatnonzero(catalog.created[items] > times)
        if late.size:
            launch = (catalog.launch_items, catalog.launch_start, catalog.launch_size)
            items[late] = self._pick(genre[late], *launch, exponent)
        return items

    def follow(self, rows: np.ndarray, items: np.ndarray, choice: np.ndarray) -> None:
        """Set ``items[rows]`` to the chosen successor of the previous row's item (fresh if not yet released)."""
        nxt = self.catalog.successors[items[rows - 1], choice[rows]]
        late = np.flatnonzero(self.catalog.created[nxt] > self.times[rows])
        if late.size:
            nxt[late] = self.fresh(rows[late])
        items[rows] = nxt

    def _pick(
        self,
        genre: np.ndarray,
        seg_items: np.ndarray,
        seg_start: np.ndarray,
        seg_size: np.ndarray,
        exponent: float,
    ) -> np.ndarray:
        index = _zipf_index(self.rng.random(genre.size), seg_size[genre], exponent)
        return seg_items[seg_start[genre] + index]


def _later_repeats(user: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Positions of the rows whose (user, item) pair occurred at an earlier position."""
    key = user * n_items + items
    shift = max(1, int(key.size - 1).bit_length())
    if (int(user.max()) + 1) * n_items < (1 << (62 - shift)):
        # sort (key, position) packed in one integer: much faster than a stable argsort
        ordered = np.sort((key << shift) | np.arange(key.size, dtype=np.int64))
        same = (ordered[1:] >> shift) == (ordered[:-1] >> shift)
        return ordered[1:][same] & ((1 << shift) - 1)
    order = np.argsort(key, kind="stable")
    return order[1:][key[order[1:]] == key[order[:-1]]]


def _rechunk(tables: Iterator[pa.Table], chunk_rows: int) -> Iterator[pa.Table]:
    """Re-cut a stream of tables into tables of exactly ``chunk_rows`` rows (the last one may be shorter)."""
    pending: list[pa.Table] = []
    n_pending = 0
    for table in tables:
        offset = 0
        while offset < table.num_rows:
            take = min(chunk_rows - n_pending, table.num_rows - offset)
            pending.append(table.slice(offset, take))
            n_pending += take
            offset += take
            if n_pending == chunk_rows:
                yield _combine(pending)
                pending, n_pending = [], 0
    if pending:
        yield _combine(pending)


def _combine(pieces: list[pa.Table]) -> pa.Table:
    if len(pieces) == 1:
        return pieces[0]
    return pa.concat_tables(pieces)
