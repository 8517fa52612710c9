"""The sequence model shared by User-Personalization and Personalized-Ranking (HRNN / GRU4Rec kind).

Training (:meth:`SequenceRecipe.fit`) builds a TensorFlow/Keras model: each item is the sum of its own
embedding and the mean of its metadata tokens' embeddings (e.g. ``GENRES``); a GRU reads a user's last
``bptt`` items, starting from a state derived from the user's metadata. The query is the GRU's output
projected into the item space plus projections of the user's metadata and of the user's *profile*, the
mean vector of their newest :data:`PROFILE_EVENTS` items (the longer-term taste that the ``bptt`` window
is too short to hold); it is scored against the same item vectors (tied input/output embeddings) plus an
item bias, and trained for next-item prediction with a full softmax over the catalogue on every position
of windows cut from the users' histories (sampled beyond :data:`FULL_SOFTMAX_WORK`). Learned weights
``repeat`` are added to the scores of the items the GRU just read and of the older ones among the newest
events, so the model learns from the data whether users come back to what they saw, lately or a while
ago. Early stopping watches the newest window of a slice of users; training also stops at a time budget
that grows with the data (:func:`training_budget`).

Serving never imports TensorFlow: the weights go into the ``.npz`` and a GRU step, dot products with
the item vectors and a softmax are computed in numpy. The query at the end of each known user's history
is cached; events sent since (``recent_events``) are merged with the history, the GRU is run again over
the newest ``bptt`` of them and the profile taken over the newest :data:`PROFILE_EVENTS`, so
recommendations follow the user's latest actions, also for users never seen in training.

>>> HYPERPARAMETER_RANGES["hidden_dimension"]
('integer', 32, 256)
>>> check_hyperparameters(HYPERPARAMETER_RANGES, DEFAULT_HYPERPARAMETERS, {"hidden_dimension": "512"}, recipe="r")
['hidden_dimension must be an integer in [32, 256], not 512']
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import Range, Ranked, Recipe, check_hyperparameters

#: The tunable hyperparameters of the HRNN-based recipes and their ranges in the service.
HYPERPARAMETER_RANGES: dict[str, Range] = {
    "hidden_dimension": ("integer", 32, 256),
    "bptt": ("integer", 2, 32),
    "recency_mask": ("categorical", ("true", "false")),
    "min_user_history_length_percentile": ("continuous", 0.0, 1.0),
    "max_user_history_length_percentile": ("continuous", 0.0, 1.0),
}
DEFAULT_HYPERPARAMETERS: dict[str, str] = {
    "hidden_dimension": "149",
    "bptt": "32",
    "recency_mask": "true",
    "min_user_history_length_percentile": "0.0",
    "max_user_history_length_percentile": "0.99",
}

#: Columns of the Items dataset that are never item features.
_ITEM_RESERVED = {"ITEM_ID", "CREATION_TIMESTAMP"}
#: Most metadata tokens kept per dataset (the most frequent ones).
_MAX_TOKENS = 2000
#: Quantile bins for numeric user metadata (e.g. AGE).
_NUMERIC_BINS = 5
#: Largest (training targets x catalogue items) trained with the exact softmax; sampled beyond it.
FULL_SOFTMAX_WORK = 2_000_000_000
#: Fewest negatives of the sampled softmax.
_MIN_NEGATIVES = 1024
#: Newest events of a user whose mean item vector is the user's longer-term profile (the mirror passes a
#: recipe this many recent events, ``personalize_kit.local.runtime.RECENT_EVENTS``).
PROFILE_EVENTS = 100
#: Timestamps given to events that come without one (newer than any real event).
_NO_TIME = np.iinfo(np.int64).max - 1
_FORMAT_VERSION = 2


# ------------------------------------------------------------------------------ hyperparameters


def _resolve(hyperparameters: Mapping[str, str] | None, recipe: str) -> dict[str, Any]:
    errors = check_hyperparameters(HYPERPARAMETER_RANGES, DEFAULT_HYPERPARAMETERS, hyperparameters, recipe=recipe)
    if errors:
        raise RecipeInputError("invalid hyperparameters: " + "; ".join(errors))
    merged = {**DEFAULT_HYPERPARAMETERS, **{k: str(v).strip() for k, v in (hyperparameters or {}).items()}}
    return {
        "hidden_dimension": int(merged["hidden_dimension"]),
        "bptt": int(merged["bptt"]),
        "recency_mask": merged["recency_mask"].lower() == "true",
        "min_user_history_length_percentile": float(merged["min_user_history_length_percentile"]),
        "max_user_history_length_percentile": float(merged["max_user_history_length_percentile"]),
    }


# ------------------------------------------------------------------------------------- numpy GRU


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _vector_matrix(vector: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``vector @ matrix`` for one request: numpy's own loop, not BLAS, whose threads cost milliseconds of
    hand-off on a busy machine for a product this small; a batch (2-D ``vector``) still goes to BLAS."""
    return np.einsum("i,ij->j", vector, matrix, optimize=False) if vector.ndim == 1 else vector @ matrix


def _matrix_vector(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` for one request, without BLAS threads (see :func:`_vector_matrix`)."""
    return np.einsum("ij,j->i", matrix, vector, optimize=False)


def gru_run(x_proj: np.ndarray, h: np.ndarray, recurrent_kernel: np.ndarray, recurrent_bias: np.ndarray) -> np.ndarray:
    """Run a Keras GRU (``reset_after=True``, gates z, r, h) over steps; return the last state.

    ``x_proj`` is ``inputs @ kernel + input_bias`` with shape ``(steps, 3H)`` or ``(batch, steps, 3H)``
    and ``h`` the initial state ``(H,)`` or ``(batch, H)``. Padded steps of a batch (rows of NaN in
    ``x_proj``) leave the state unchanged.

    >>> h = gru_run(np.zeros((2, 6)), np.zeros(2), np.zeros((2, 6)), np.zeros(6))
    >>> h.tolist()
    [0.0, 0.0]
    """
    units = h.shape[-1]
    for t in range(x_proj.shape[-2]):
        x = x_proj[..., t, :]
        inner = _vector_matrix(h, recurrent_kernel) + recurrent_bias
        z = _sigmoid(x[..., :units] + inner[..., :units])
        r = _sigmoid(x[..., units : 2 * units] + inner[..., units : 2 * units])
        candidate = np.tanh(x[..., 2 * units :] + r * inner[..., 2 * units :])
        new = z * h + (1.0 - z) * candidate
        if x.ndim == 2:
            keep = np.isnan(x[:, :1])
            new = np.where(keep, h, new)
        h = new.astype(np.float32, copy=False)
    return h


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax of a vector (float64, sums to 1).

    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    shifted = np.exp(logits.astype(np.float64) - logits.max())
    return shifted / shifted.sum()


# ------------------------------------------------------------------------------------ metadata


def _split_tokens(column: str, values: pd.Series) -> list[list[str]]:
    out: list[list[str]] = []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            out.append([])
            continue
        out.append([f"{column}={part.strip()}" for part in str(value).split("|") if part.strip()])
    return out


def _item_token_lists(items: pd.DataFrame | None, item_index: Mapping[str, int], n_items: int) -> list[list[str]]:
    """Metadata tokens of each catalogue item: every categorical (string) column, split on ``|``."""
    tokens: list[list[str]] = [[] for _ in range(n_items)]
    if items is None or items.empty or "ITEM_ID" not in items.columns:
        return tokens
    ids = items["ITEM_ID"].astype(str).tolist()
    for column in items.columns:
        if column in _ITEM_RESERVED or pd.api.types.is_numeric_dtype(items[column]):
            continue
        for item, parts in zip(ids, _split_tokens(column, items[column]), strict=True):
            index = item_index.get(item)
            if index is not None:
                tokens[index].extend(parts)
    return tokens


def _user_columns(users: pd.DataFrame | None) -> list[dict[str, Any]]:
    """How each user metadata column is turned into tokens: categorical, or numeric with quantile bins."""
    if users is None or users.empty or "USER_ID" not in users.columns:
        return []
    columns: list[dict[str, Any]] = []
    for column in users.columns:
        if column == "USER_ID":
            continue
        values = users[column]
        if pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
            if numbers.size == 0:
                continue
            edges = np.unique(np.quantile(numbers, np.linspace(0, 1, _NUMERIC_BINS + 1)[1:-1]))
            columns.append({"name": str(column), "kind": "numeric", "edges": edges.tolist()})
        else:
            columns.append({"name": str(column), "kind": "categorical"})
    return columns


def _user_token_lists(users: pd.DataFrame | None, columns: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    if users is None or not columns:
        return [], []
    ids = users["USER_ID"].astype(str).tolist()
    tokens: list[list[str]] = [[] for _ in ids]
    for spec in columns:
        name = spec["name"]
        if name not in users.columns:
            continue
        if spec["kind"] == "numeric":
            numbers = pd.to_numeric(users[name], errors="coerce").to_numpy(dtype=np.float64)
            bins = np.searchsorted(np.asarray(spec["edges"], dtype=np.float64), numbers, side="right")
            for row, (value, b) in enumerate(zip(numbers.tolist(), bins.tolist(), strict=True)):
                if not math.isnan(value):
                    tokens[row].append(f"{name}#{b}")
        else:
            for row, parts in enumerate(_split_tokens(name, users[name])):
                tokens[row].extend(parts)
    return ids, tokens


def _vocabulary(token_lists: Sequence[Sequence[str]], min_count: int = 1) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tokens in token_lists:
        for token in set(tokens):
            counts[token] = counts.get(token, 0) + 1
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))[:_MAX_TOKENS]
    return {token: i for i, token in enumerate(sorted(kept))}


def _csr(token_lists: Sequence[Sequence[str]], vocab: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    ptr = [0]
    idx: list[int] = []
    for tokens in token_lists:
        known = sorted({vocab[t] for t in tokens if t in vocab})
        idx.extend(known)
        ptr.append(len(idx))
    return np.asarray(ptr, dtype=np.int64), np.asarray(idx, dtype=np.int32)


def _csr_mean(ptr: np.ndarray, idx: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Mean of each row's token vectors (zeros for a row without tokens)."""
    n_rows = ptr.size - 1
    out = np.zeros((n_rows, vectors.shape[1]), dtype=np.float32)
    if idx.size == 0:
        return out
    counts = np.diff(ptr)
    rows = np.repeat(np.arange(n_rows), counts)
    np.add.at(out, rows, vectors[idx])
    out /= np.maximum(counts, 1)[:, None].astype(np.float32)
    return out


# ------------------------------------------------------------------------------ interaction data


def _clean_interactions(interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User ids, item ids (str) and timestamps (int64), sorted by user then time (ties in input order)."""
    missing = [c for c in ("USER_ID", "ITEM_ID", "TIMESTAMP") if c not in interactions.columns]
    if missing:
        raise RecipeInputError(
            f"interactions lack the column(s) {', '.join(missing)}; expected USER_ID, ITEM_ID and TIMESTAMP"
        )
    users = interactions["USER_ID"].astype(str).to_numpy()
    items = interactions["ITEM_ID"].astype(str).to_numpy()
    stamps = pd.to_numeric(interactions["TIMESTAMP"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    order = np.lexsort((np.arange(users.size), stamps, users))
    return users[order], items[order], stamps[order]


def _histories(
    user_codes: np.ndarray, item_codes: np.ndarray, stamps: np.ndarray, n_users: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's newest ``length`` items and times, right-aligned, padded with -1 on the left.

    Ties in time keep the input order.
    """
    items = np.full((n_users, length), -1, dtype=np.int32)
    times = np.zeros((n_users, length), dtype=np.int64)
    if user_codes.size == 0:
        return items, times
    order = np.lexsort((np.arange(user_codes.size), stamps, user_codes))
    user_codes, item_codes, stamps = user_codes[order], item_codes[order], stamps[order]
    counts = np.bincount(user_codes, minlength=n_users)
    ends = np.cumsum(counts)
    from_end = ends[user_codes] - 1 - np.arange(user_codes.size)
    keep = from_end < length
    items[user_codes[keep], length - 1 - from_end[keep]] = item_codes[keep]
    times[user_codes[keep], length - 1 - from_end[keep]] = stamps[keep]
    return items, times


# ---------------------------------------------------------------------------------------- recipe


class SequenceRecipe(Recipe):
    """Shared implementation of the HRNN-kind recipes; subclasses set the service name and type.

    ``max_epochs``, ``seed``, ``batch_size`` (windows per step; ``None`` grows it with the data),
    ``learning_rate``, ``dropout`` and ``time_budget`` (seconds of training; ``None`` scales it with the
    data, see :func:`training_budget`) tune
    the local training; the service's hyperparameters come through ``fit``. The softmax of training is
    exact while targets x catalogue stays under :data:`FULL_SOFTMAX_WORK`, and sampled (uniform
    negatives, corrected to estimate the full softmax) beyond, so that training time grows linearly.
    """

    default_hyperparameters: ClassVar[Mapping[str, str]] = DEFAULT_HYPERPARAMETERS
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = HYPERPARAMETER_RANGES

    def __init__(
        self,
        *,
        max_epochs: int = 12,
        seed: int = 0,
        batch_size: int | None = None,
        learning_rate: float = 3e-3,
        dropout: float = 0.25,
        time_budget: float | None = None,
        verbose: bool = False,
    ) -> None:
        self.max_epochs, self.seed, self.batch_size = max_epochs, seed, batch_size
        self.learning_rate, self.dropout, self.time_budget, self.verbose = (
            learning_rate,
            dropout,
            time_budget,
            verbose,
        )
        self.hyperparameters: dict[str, Any] = _resolve({}, getattr(self, "name", "the recipe"))
        self.training_log: list[dict[str, float]] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._settings: dict[str, Any] = {}

    # -------------------------------------------------------------------- hyperparameter checks

    # ----------------------------------------------------------------------------------- fitting

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> SequenceRecipe:
        """Train the sequence model (TensorFlow is imported here, and only here)."""
        self.hyperparameters = _resolve(hyperparameters, self.name)
        hp = self.hyperparameters
        length = hp["bptt"]
        user_ids, item_ids, stamps = _clean_interactions(interactions)
        if item_ids.size == 0:
            raise RecipeInputError("cannot train on an empty interactions dataset")
        catalogue = np.unique(item_ids)
        if items is not None and "ITEM_ID" in items.columns:
            catalogue = np.union1d(catalogue, items["ITEM_ID"].astype(str).to_numpy())
        catalogue = catalogue.astype(str)
        item_index = {item: i for i, item in enumerate(catalogue.tolist())}
        item_codes = np.searchsorted(catalogue, item_ids).astype(np.int32)
        n_items = catalogue.size

        user_columns = _user_columns(users)
        meta_user_ids, user_token_lists = _user_token_lists(users, user_columns)
        all_users = np.union1d(np.unique(user_ids), np.asarray(meta_user_ids, dtype=str)).astype(str)
        user_codes = np.searchsorted(all_users, user_ids).astype(np.int64)
        n_users = all_users.size

        # metadata tokens
        item_tokens = _item_token_lists(items, item_index, n_items)
        item_vocab = _vocabulary(item_tokens)
        item_ptr, item_idx = _csr(item_tokens, item_vocab)
        user_vocab = _vocabulary(user_token_lists, min_count=2)
        per_user_tokens: list[list[str]] = [[] for _ in range(n_users)]
        for uid, tokens in zip(meta_user_ids, user_token_lists, strict=True):
            per_user_tokens[int(np.searchsorted(all_users, uid))] = tokens
        user_ptr, user_idx = _csr(per_user_tokens, user_vocab)

        # item statistics for exploration
        counts = np.bincount(item_codes, minlength=n_items).astype(np.int64)
        first_seen = np.full(n_items, -1, dtype=np.int64)
        order = np.argsort(stamps, kind="stable")[::-1]
        first_seen[item_codes[order]] = stamps[order]
        created = _creation_times(items, catalogue)

        weights = self._train(
            user_codes, item_codes, stamps, n_users, n_items, item_ptr, item_idx, user_ptr, user_idx, len(item_vocab),
            len(user_vocab),
        )  # fmt: skip

        hist_items, hist_times = _histories(user_codes, item_codes, stamps, n_users, max(length, PROFILE_EVENTS))
        self._arrays = {
            "items": catalogue,
            "item_token_ptr": item_ptr,
            "item_token_idx": item_idx,
            "item_token_names": np.asarray(sorted(item_vocab, key=item_vocab.__getitem__), dtype=str),
            "item_counts": counts,
            "item_first_seen": first_seen,
            "item_created": created,
            "users": all_users,
            "user_token_ptr": user_ptr,
            "user_token_idx": user_idx,
            "user_token_names": np.asarray(sorted(user_vocab, key=user_vocab.__getitem__), dtype=str),
            "history_items": hist_items,
            "history_times": hist_times,
            **weights,
        }
        self._settings = {
            "format": _FORMAT_VERSION,
            "hyperparameters": {k: str(v).lower() if isinstance(v, bool) else v for k, v in hp.items()},
            "user_columns": user_columns,
            "latest_timestamp": int(stamps.max()),
            "training_log": self.training_log,
        }
        self._prepare()
        self._arrays["user_queries"] = self._queries_for_all_users()
        return self

    def _train(
        self,
        user_codes: np.ndarray,
        item_codes: np.ndarray,
        stamps: np.ndarray,
        n_users: int,
        n_items: int,
        item_ptr: np.ndarray,
        item_idx: np.ndarray,
        user_ptr: np.ndarray,
        user_idx: np.ndarray,
        n_item_tokens: int,
        n_user_tokens: int,
    ) -> dict[str, np.ndarray]:
        """Fit the Keras model; return its weights as numpy arrays."""
        hp = self.hyperparameters
        windows = _windows(user_codes, item_codes, stamps, n_users, hp)
        return _train_keras(
            windows,
            n_items=n_items,
            item_ptr=item_ptr,
            item_idx=item_idx,
            user_ptr=user_ptr,
            user_idx=user_idx,
            n_item_tokens=n_item_tokens,
            n_user_tokens=n_user_tokens,
            item_counts=np.bincount(item_codes, minlength=n_items),
            hidden=hp["hidden_dimension"],
            seed=self.seed,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            dropout=self.dropout,
            time_budget=self.time_budget,
            log=self.training_log,
            verbose=self.verbose,
        )

    # ------------------------------------------------------------------------------- derived

    def _prepare(self) -> None:
        """Derive the serving tables (item vectors, GRU input projections, lookups) from the arrays."""
        a = self._arrays
        token_mean = _csr_mean(a["item_token_ptr"], a["item_token_idx"], a["item_token_vectors"])
        self._vectors = (a["item_own_vectors"] + token_mean).astype(np.float32)
        self._x_proj = (self._vectors @ a["gru_kernel"] + a["gru_bias"][0]).astype(np.float32)
        self._item_index = {item: i for i, item in enumerate(a["items"].tolist())}
        self._user_index = {user: i for i, user in enumerate(a["users"].tolist())}
        self._user_feature = _csr_mean(a["user_token_ptr"], a["user_token_idx"], a["user_token_vectors"])
        self._user_init = np.tanh(self._user_feature @ a["init_kernel"] + a["init_bias"]).astype(np.float32)
        self._default_init = np.tanh(a["init_bias"]).astype(np.float32)
        self._no_feature = np.zeros(a["user_token_vectors"].shape[1], np.float32)
        self._default_query = self._query(
            self._default_init, np.zeros(self._vectors.shape[1], np.float32), self._no_feature
        )
        self._catalogue = a["items"].astype(str)
        self._bias = a["item_bias"].astype(np.float32)
        self._repeat, self._repeat_earlier = (np.float32(w) for w in a["repeat"].reshape(-1)[:2])
        self._bptt = int(self._settings["hyperparameters"]["bptt"])

    def _query(self, state: np.ndarray, profile: np.ndarray, user_feature: np.ndarray) -> np.ndarray:
        """The vector the item vectors are scored against: from the GRU state, the profile and the metadata."""
        a = self._arrays
        query = _vector_matrix(state, a["out_kernel"]) + _vector_matrix(profile, a["profile_kernel"])
        return (query + _vector_matrix(user_feature, a["metadata_kernel"]) + a["out_bias"]).astype(np.float32)

    def _profile(self, codes: np.ndarray) -> np.ndarray:
        """Mean item vector of the newest :data:`PROFILE_EVENTS` events (``codes``, newest last; -1 = none)."""
        codes = codes[..., -PROFILE_EVENTS:]
        present = (codes >= 0).astype(np.float32)
        total = np.einsum("...k,...kd->...d", present, self._vectors[np.maximum(codes, 0)], optimize=False)
        return (total / np.maximum(present.sum(axis=-1), 1.0)[..., None]).astype(np.float32)

    def _queries_for_all_users(self, chunk: int = 4096) -> np.ndarray:
        a = self._arrays
        hist = a["history_items"]
        queries = np.empty((hist.shape[0], self._vectors.shape[1]), dtype=np.float32)
        for start in range(0, hist.shape[0], chunk):
            block = hist[start : start + chunk]
            window = block[:, -self._bptt :]
            # left padding: rows of NaN keep the initial state until the history starts
            proj = np.where(window[..., None] >= 0, self._x_proj[np.maximum(window, 0)], np.nan).astype(np.float32)
            states = gru_run(proj, self._user_init[start : start + chunk], a["gru_recurrent"], a["gru_bias"][1])
            features = self._user_feature[start : start + chunk]
            queries[start : start + chunk] = self._query(states, self._profile(block), features)
        return queries

    @property
    def catalogue(self) -> np.ndarray:
        return self._catalogue

    # ------------------------------------------------------------------------------- serving

    def _sequence(self, user_id: str | None, recent_events: pd.DataFrame | None) -> tuple[int | None, np.ndarray]:
        """The user's row (or None) and the item codes of the merged history (newest last, at most
        ``max(bptt, PROFILE_EVENTS)``).

        Returns an empty sequence for a known user without new events (the cached query applies).
        """
        row = self._user_index.get(user_id) if user_id is not None else None
        if recent_events is None or len(recent_events) == 0 or "ITEM_ID" not in recent_events.columns:
            return row, np.empty(0, dtype=np.int64)
        index = self._item_index
        ev_items = recent_events["ITEM_ID"].tolist()
        if "TIMESTAMP" in recent_events.columns:
            ev_times = pd.to_numeric(recent_events["TIMESTAMP"], errors="coerce").fillna(0).astype(np.int64).tolist()
        else:
            ev_times = list(range(_NO_TIME - len(ev_items), _NO_TIME))  # in the order given, after the history
        events = [(t, index[str(i)]) for i, t in zip(ev_items, ev_times, strict=True) if str(i) in index]
        if row is not None:
            a = self._arrays
            hist = a["history_items"][row]
            valid = hist >= 0
            past = list(zip(a["history_times"][row][valid].tolist(), hist[valid].tolist(), strict=True))
            seen = set(past)
            new = [e for e in events if e not in seen]
            if not new:
                return row, np.empty(0, dtype=np.int64)
            events = past + new
        if not events:
            return row, np.empty(0, dtype=np.int64)
        ordered = sorted(range(len(events)), key=lambda k: (events[k][0], k))
        length = max(self._bptt, PROFILE_EVENTS)
        sequence = np.asarray([events[k][1] for k in ordered[-length:]], dtype=np.int64)
        if row is not None:
            hist = self._arrays["history_items"][row]
            if np.array_equal(sequence, hist[hist >= 0]):  # only events older than the kept history
                return row, np.empty(0, dtype=np.int64)
        return row, sequence

    def _state(
        self, user_id: str | None, recent_events: pd.DataFrame | None, item_id: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The query after the user's newest events, and the item codes of the newest :data:`PROFILE_EVENTS`.

        The GRU runs over the newest ``bptt`` events; the profile is the mean over all of those codes.
        """
        if item_id is not None and user_id is None:
            extra = pd.DataFrame({"ITEM_ID": [item_id], "TIMESTAMP": [_NO_TIME]})
            recent_events = extra if recent_events is None else pd.concat([recent_events, extra], ignore_index=True)
        row, sequence = self._sequence(user_id, recent_events)
        a = self._arrays
        if sequence.size == 0:
            if row is None:
                return self._default_query, sequence
            hist = a["history_items"][row]
            return a["user_queries"][row], hist[hist >= 0][-PROFILE_EVENTS:]
        if row is None:
            init, feature = self._default_init, self._no_feature
        else:
            init, feature = self._user_init[row], self._user_feature[row]
        state = gru_run(self._x_proj[sequence[-self._bptt :]], init, a["gru_recurrent"], a["gru_bias"][1])
        recent = sequence[-PROFILE_EVENTS:]
        return self._query(state, self._profile(recent), feature), recent

    def _logits(self, query: np.ndarray, recent: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """Scores before the softmax: item vectors . query + item bias (+ the learned repeat terms).

        ``codes`` restricts them to some catalogue positions. Of ``recent`` (the user's newest events,
        newest last), the items the GRU read (the newest ``bptt``) get the learned ``repeat`` weight and
        the older ones the ``repeat_earlier`` weight, negative where users seldom come back to what they saw.
        """
        window, earlier = recent[-self._bptt :], recent[: -self._bptt]
        if codes is None:
            logits = _matrix_vector(self._vectors, query) + self._bias
            logits[np.setdiff1d(earlier, window)] += self._repeat_earlier
            logits[np.unique(window)] += self._repeat
            return logits
        logits = _matrix_vector(self._vectors[codes], query) + self._bias[codes]
        in_window = np.isin(codes, window)
        return logits + self._repeat * in_window + self._repeat_earlier * (np.isin(codes, earlier) & ~in_window)

    def scores(self, user_id: str | None = None, recent_events: pd.DataFrame | None = None) -> np.ndarray:
        """Softmax over the whole catalogue (in :attr:`catalogue` order) for a user.

        >>> # model.scores("u1").sum() == 1.0
        """
        return softmax(self._logits(*self._state(user_id, recent_events)))

    def _top(self, probabilities: np.ndarray, n: int, exclude: Sequence[str]) -> Ranked:
        skip = {self._item_index[i] for i in exclude if i in self._item_index}
        want = min(probabilities.size, n + len(skip))
        if want <= 0:
            return []
        if want < probabilities.size:
            candidates = np.argpartition(-probabilities, want - 1)[:want]
        else:
            candidates = np.arange(probabilities.size)
        candidates = candidates[np.lexsort((candidates, -probabilities[candidates]))]
        names = self._catalogue
        out: Ranked = []
        for code in candidates.tolist():
            if code in skip:
                continue
            out.append((str(names[code]), float(probabilities[code])))
            if len(out) >= n:
                break
        return out

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        """Top ``n`` items for the user; scores are the softmax over the catalogue."""
        probabilities = softmax(self._logits(*self._state(user_id, recent_events, item_id)))
        return self._top(probabilities, n, exclude)

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        """Order ``items`` for the user; scores are a softmax over the known items of the list.

        Items the model does not know go last, in their input order, with score ``None``; a repeated
        item is ranked once.
        """
        index = self._item_index
        unique = list(dict.fromkeys(str(i) for i in items))
        known = [i for i in unique if i in index]
        unknown: Ranked = [(i, None) for i in unique if i not in index]
        if not known:
            return unknown
        codes = np.asarray([index[i] for i in known], dtype=np.int64)
        probabilities = softmax(self._logits(*self._state(user_id, recent_events), codes=codes))
        order = np.lexsort((np.arange(codes.size), -probabilities))
        ranked: Ranked = [(known[k], float(probabilities[k])) for k in order.tolist()]
        return ranked + unknown

    # ----------------------------------------------------------------------------- persistence

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if not self._arrays:
            raise RecipeInputError(f"{self.name} model is not trained: call fit() before save()")
        return dict(self._arrays), dict(self._settings)

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> SequenceRecipe:
        if settings.get("format") != _FORMAT_VERSION:
            raise RecipeInputError(
                f"model format {settings.get('format')!r} is not readable by this version (expects "
                f"{_FORMAT_VERSION}); train the solution version again"
            )
        model = cls()
        model._arrays = {key: np.asarray(value) for key, value in arrays.items()}
        for key in ("items", "users", "item_token_names", "user_token_names"):
            model._arrays[key] = model._arrays[key].astype(str)
        model._settings = dict(settings)
        model.hyperparameters = _resolve({k: str(v) for k, v in settings["hyperparameters"].items()}, cls.name)
        model.training_log = list(settings.get("training_log", []))
        model._prepare()
        return model


def _creation_times(items: pd.DataFrame | None, catalogue: np.ndarray) -> np.ndarray:
    """Each catalogue item's ``CREATION_TIMESTAMP`` (-1 where unknown); ``catalogue`` need not be sorted."""
    created = np.full(catalogue.size, -1, dtype=np.int64)
    if items is None or "CREATION_TIMESTAMP" not in items.columns or "ITEM_ID" not in items.columns:
        return created
    stamps = pd.to_numeric(items["CREATION_TIMESTAMP"], errors="coerce")
    ok = stamps.notna().to_numpy()
    positions = pd.Index(catalogue).get_indexer(items["ITEM_ID"].astype(str).to_numpy()[ok])
    inside = positions >= 0
    created[positions[inside]] = stamps.to_numpy()[ok][inside].astype(np.int64)
    return created


def _windows(
    user_codes: np.ndarray,
    item_codes: np.ndarray,
    stamps: np.ndarray,
    n_users: int,
    hp: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Training windows: ``bptt`` inputs (item code + 1, 0 = padding) and their next items, per user.

    Windows are cut from the newest end of each history; the oldest one may be shorter (padded on the
    right). Users outside the history-length percentiles are left out. Weights are 0 on padding and,
    with ``recency_mask``, grow from 0.5 to 1 with the event's time rank in the dataset. ``context`` holds
    the user's events before each window (item code + 1, right-aligned, 0 = none), so that every position
    sees the newest :data:`PROFILE_EVENTS` events up to it.
    """
    length = int(hp["bptt"])
    counts = np.bincount(user_codes, minlength=n_users)
    active = counts[counts > 0]
    low = np.quantile(active, hp["min_user_history_length_percentile"]) if active.size else 0
    high = np.quantile(active, hp["max_user_history_length_percentile"]) if active.size else 0
    keep_user = (counts >= max(2, low)) & (counts <= max(high, 2))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(user_codes.size) - starts[user_codes]
    size = counts[user_codes]
    # input positions q = 0 .. L-2 (the target is q + 1)
    is_input = (position <= size - 2) & keep_user[user_codes]
    q = position[is_input]
    rows = np.flatnonzero(is_input)
    big_l = size[is_input]
    reverse = (big_l - 2) - q
    k = reverse // length
    first_q = np.maximum(0, big_l - 1 - (k + 1) * length)
    column = q - first_q
    n_windows_per_user = np.zeros(n_users, dtype=np.int64)
    users_in = user_codes[rows]
    np.maximum.at(n_windows_per_user, users_in, k + 1)
    window_base = np.concatenate([[0], np.cumsum(n_windows_per_user)[:-1]])
    # window number: the user's oldest window first
    window = window_base[users_in] + (n_windows_per_user[users_in] - 1 - k)
    n_windows = int(n_windows_per_user.sum())
    inputs = np.zeros((n_windows, length), dtype=np.int32)
    targets = np.zeros((n_windows, length), dtype=np.int32)
    weights = np.zeros((n_windows, length), dtype=np.float32)
    inputs[window, column] = item_codes[rows] + 1
    targets[window, column] = item_codes[rows + 1]
    if hp["recency_mask"]:
        rank = np.argsort(np.argsort(stamps, kind="stable"), kind="stable") / max(1, stamps.size - 1)
        weights[window, column] = (0.5 + 0.5 * rank[rows + 1]).astype(np.float32)
    else:
        weights[window, column] = 1.0
    window_user = np.zeros(n_windows, dtype=np.int64)
    window_user[window] = users_in
    newest = np.zeros(n_windows, dtype=bool)
    newest[window[k == 0]] = True
    width = max(0, PROFILE_EVENTS - length)
    context = np.zeros((n_windows, width), dtype=np.int32)
    if width and n_windows:
        first = np.zeros(n_windows, dtype=np.int64)
        first[window[column == 0]] = rows[column == 0]
        before = first[:, None] - width + np.arange(width)[None, :]
        inside = before >= starts[window_user][:, None]
        context[inside] = item_codes[before[inside]] + 1
    return {
        "inputs": inputs,
        "targets": targets,
        "weights": weights,
        "users": window_user,
        "newest": newest,
        "context": context,
    }


def training_budget(n_targets: int) -> float:
    """Seconds of training allowed by default: 50 s up to 120,000 targets, 42 s more per 100,000, at most 480 s.

    Training stops after the epoch that would overrun it (and earlier when the validation loss stops falling).

    >>> training_budget(50_000), training_budget(1_000_000)
    (50.0, 420.0)
    """
    return float(min(480.0, max(50.0, 420.0 * n_targets / 1_000_000)))


def _train_keras(
    windows: Mapping[str, np.ndarray],
    *,
    n_items: int,
    item_ptr: np.ndarray,
    item_idx: np.ndarray,
    user_ptr: np.ndarray,
    user_idx: np.ndarray,
    n_item_tokens: int,
    n_user_tokens: int,
    item_counts: np.ndarray,
    hidden: int,
    seed: int,
    max_epochs: int,
    batch_size: int | None,
    learning_rate: float,
    dropout: float,
    time_budget: float | None,
    log: list[dict[str, float]],
    verbose: bool,
) -> dict[str, np.ndarray]:
    """Train the Keras model on the windows; return the weights serving needs, as numpy arrays."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    started = time.monotonic()
    cores = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cores)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, cores))
    except RuntimeError:  # TensorFlow already started in this process: keep its thread pools
        pass
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    dim = hidden

    def sparse_rows(ptr: np.ndarray, idx: np.ndarray, n_rows: int, n_cols: int, offset: int) -> tf.SparseTensor:
        counts = np.diff(ptr)
        rows = np.repeat(np.arange(counts.size), counts) + offset
        values = (1.0 / np.maximum(counts, 1))[np.repeat(np.arange(counts.size), counts)]
        return tf.SparseTensor(
            indices=np.stack([rows, idx.astype(np.int64)], axis=1).reshape(-1, 2).astype(np.int64),
            values=values.astype(np.float32),
            dense_shape=[n_rows, max(1, n_cols)],
        )

    item_matrix = sparse_rows(item_ptr, item_idx, n_items + 1, n_item_tokens, 1)
    n_users = user_ptr.size - 1
    user_matrix = sparse_rows(user_ptr, user_idx, n_users, n_user_tokens, 0)
    init = keras.initializers.TruncatedNormal(stddev=0.05, seed=seed)
    own = tf.Variable(init((n_items + 1, dim)), name="item_own")
    tokens = tf.Variable(init((max(1, n_item_tokens), dim)), name="item_tokens")
    prior = np.log((item_counts.astype(np.float64) + 1.0) / (item_counts.sum() + n_items))
    bias = tf.Variable((prior - prior.mean()).astype(np.float32), name="item_bias")
    repeat = tf.Variable(tf.zeros(2), name="repeat")  # items in the GRU's window, earlier items
    user_tokens = tf.Variable(init((max(1, n_user_tokens), dim)), name="user_tokens")
    init_kernel = tf.Variable(init((dim, hidden)), name="init_kernel")
    init_bias = tf.Variable(tf.zeros(hidden), name="init_bias")
    out_kernel = tf.Variable(keras.initializers.GlorotUniform(seed=seed + 1)((hidden, dim)), name="out_kernel")
    out_bias = tf.Variable(tf.zeros(dim), name="out_bias")
    profile_kernel = tf.Variable(keras.initializers.GlorotUniform(seed=seed + 4)((dim, dim)), name="profile_kernel")
    metadata_kernel = tf.Variable(keras.initializers.GlorotUniform(seed=seed + 6)((dim, dim)), name="metadata_kernel")
    gru = keras.layers.GRU(hidden, return_sequences=True, seed=seed)
    gru.build((None, None, dim))
    drop_in = keras.layers.Dropout(dropout, seed=seed + 2)
    drop_out = keras.layers.Dropout(dropout, seed=seed + 3)
    drop_profile = keras.layers.Dropout(dropout, seed=seed + 5)
    variables = [
        own,
        tokens,
        bias,
        repeat,
        user_tokens,
        init_kernel,
        init_bias,
        out_kernel,
        out_bias,
        profile_kernel,
        metadata_kernel,
        *gru.trainable_variables,
    ]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=5.0)
    optimizer.build(variables)

    n_targets = int((windows["weights"] > 0).sum())
    n_negatives = n_items
    if n_targets * n_items > FULL_SOFTMAX_WORK:
        n_negatives = int(min(n_items - 1, max(_MIN_NEGATIVES, FULL_SOFTMAX_WORK // max(1, n_targets))))
    correction = float(np.log((n_items - 1) / max(1, n_negatives)))

    def forward(
        inputs: tf.Tensor,
        targets: tf.Tensor,
        weights: tf.Tensor,
        users: tf.Tensor,
        context: tf.Tensor,
        negatives: tf.Tensor | None,
        training: bool,
    ):
        vectors = own + tf.sparse.sparse_dense_matmul(item_matrix, tokens)
        embedded = tf.gather(vectors, inputs)
        x = drop_in(embedded, training=training)
        user_vec = tf.gather(tf.sparse.sparse_dense_matmul(user_matrix, user_tokens), users)
        h0 = tf.tanh(user_vec @ init_kernel + init_bias)
        states = drop_out(gru(x, initial_state=h0, training=training), training=training)
        mask = weights > 0
        picked = tf.boolean_mask(states, mask)
        # the profile: mean vector of the events before the window and of the window up to each position
        present = tf.cast(context > 0, tf.float32)
        before = tf.einsum("bc,bcd->bd", present, tf.gather(vectors, context))
        read = tf.cast(inputs > 0, tf.float32)
        total = before[:, None, :] + tf.cumsum(embedded * read[..., None], axis=1)
        count = tf.reduce_sum(present, axis=1, keepdims=True) + tf.cumsum(read, axis=1)
        profile = tf.boolean_mask(total / tf.maximum(count, 1.0)[..., None], mask)
        query = picked @ out_kernel + drop_profile(profile, training=training) @ profile_kernel + out_bias
        query += tf.boolean_mask(tf.repeat(user_vec[:, None, :], tf.shape(inputs)[1], axis=1), mask) @ metadata_kernel
        labels = tf.boolean_mask(targets, mask)
        # the items read up to each position (0 = none) get the learned repeat weights: those of the window
        steps = tf.shape(inputs)[1]
        lower = tf.cast(tf.linalg.band_part(tf.ones((steps, steps)), -1, 0), tf.int32)
        prior = tf.boolean_mask(inputs[:, None, :] * lower[None], mask)
        # and the user's events before the window (the window of each position is its owner)
        owner = tf.boolean_mask(tf.repeat(tf.range(tf.shape(inputs)[0])[:, None], steps, axis=1), mask)
        earlier = tf.gather(context, owner)
        if negatives is None:
            logits = tf.matmul(query, vectors[1:], transpose_b=True) + bias

            def seen(codes: tf.Tensor) -> tf.Tensor:  # 1 where a row's codes (item + 1; 0 = none) hold the item
                rows = tf.repeat(tf.range(tf.shape(codes)[0])[:, None], tf.shape(codes)[1], axis=1)
                read = codes > 0
                where = tf.stack([tf.boolean_mask(rows, read), tf.boolean_mask(codes, read) - 1], axis=1)
                return tf.minimum(tf.scatter_nd(where, tf.ones(tf.shape(where)[0]), tf.shape(logits)), 1.0)

            in_window = seen(prior)
            logits += repeat[0] * in_window + repeat[1] * seen(earlier) * (1.0 - in_window)
        else:  # the target against uniform negatives, shifted to estimate the full partition function
            positive = tf.reduce_sum(query * tf.gather(vectors, labels + 1), axis=1) + tf.gather(bias, labels)
            in_window = tf.reduce_any(tf.equal(prior, labels[:, None] + 1), axis=1)
            before = tf.reduce_any(tf.equal(earlier, labels[:, None] + 1), axis=1) & ~in_window
            positive += repeat[0] * tf.cast(in_window, tf.float32) + repeat[1] * tf.cast(before, tf.float32)
            negative = tf.matmul(query, tf.gather(vectors, negatives + 1), transpose_b=True)
            negative += tf.gather(bias, negatives) + correction
            in_window = tf.reduce_any(tf.equal(prior[:, :, None], negatives[None, None, :] + 1), axis=1)
            # the events before the window are compared once per window, not once per position
            before = tf.reduce_any(tf.equal(context[:, :, None], negatives[None, None, :] + 1), axis=1)
            before = tf.gather(before, owner) & ~in_window
            negative += repeat[0] * tf.cast(in_window, tf.float32) + repeat[1] * tf.cast(before, tf.float32)
            clash = tf.equal(labels[:, None], negatives[None, :])
            negative = tf.where(clash, tf.fill(tf.shape(negative), -1e9), negative)
            logits = tf.concat([positive[:, None], negative], axis=1)
            labels = tf.zeros_like(labels)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        w = tf.boolean_mask(weights, mask)
        return tf.reduce_sum(losses * w), tf.reduce_sum(w)

    signature = [
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None, None), tf.float32),
        tf.TensorSpec((None,), tf.int64),
        tf.TensorSpec((None, None), tf.int32),
    ]

    sampled = n_negatives < n_items

    @tf.function(input_signature=[*signature, tf.TensorSpec((None,), tf.int32)], autograph=False)
    def train_step(inputs, targets, weights, users, context, negatives):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            total, norm = forward(inputs, targets, weights, users, context, negatives if sampled else None, True)
            loss = total / tf.maximum(norm, 1e-6)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    @tf.function(input_signature=signature, autograph=False)
    def eval_step(inputs, targets, weights, users, context):  # type: ignore[no-untyped-def]
        return forward(inputs, targets, weights, users, context, None, False)

    rng = np.random.default_rng(seed)
    n_windows = windows["inputs"].shape[0]
    if batch_size is None:
        batch_size = int(np.clip(n_windows // 300, 32, 256))
    no_negatives = np.zeros(0, dtype=np.int32)

    def negatives() -> np.ndarray:
        if not sampled:
            return no_negatives
        return rng.choice(n_items, n_negatives, replace=False).astype(np.int32)

    newest_users = np.unique(windows["users"][windows["newest"]])
    n_valid_users = min(max(1, newest_users.size // 10), 1000) if newest_users.size >= 20 else 0
    valid_users = rng.choice(newest_users, n_valid_users, replace=False) if n_valid_users else np.empty(0, np.int64)
    is_valid = windows["newest"] & np.isin(windows["users"], valid_users)
    train_rows = np.flatnonzero(~is_valid)
    valid_rows = np.flatnonzero(is_valid)

    def batch(rows: np.ndarray) -> tuple[np.ndarray, ...]:
        return (
            windows["inputs"][rows],
            windows["targets"][rows],
            windows["weights"][rows],
            windows["users"][rows],
            windows["context"][rows],
        )

    def validation_loss() -> float:
        total = norm = 0.0
        for start in range(0, valid_rows.size, 64):
            t, nm = eval_step(*batch(valid_rows[start : start + 64]))
            total += float(t)
            norm += float(nm)
        return total / max(norm, 1e-6)

    best: list[np.ndarray] | None = None
    best_loss = math.inf
    stale = 0
    for epoch in range(max_epochs):
        epoch_start = time.monotonic()
        order = train_rows[rng.permutation(train_rows.size)]
        losses = [
            float(train_step(*batch(order[s : s + batch_size]), negatives())) for s in range(0, order.size, batch_size)
        ]
        train_loss = float(np.mean(losses)) if losses else math.nan
        valid_loss = validation_loss() if valid_rows.size else train_loss
        elapsed = time.monotonic() - started
        log.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                "seconds": elapsed,
                "negatives": n_negatives,
                "batch_size": batch_size,
            }
        )
        if verbose:
            print(
                f"epoch {epoch + 1}: train {train_loss:.4f} valid {valid_loss:.4f} ({elapsed:.1f}s)",
                flush=True,
            )
        if valid_loss < best_loss - 1e-4:
            best_loss, stale = valid_loss, 0
            best = [v.numpy() for v in variables]
        else:
            stale += 1
            if stale >= 2:
                break
        epoch_seconds = time.monotonic() - epoch_start
        if elapsed + epoch_seconds > (training_budget(n_targets) if time_budget is None else time_budget):
            break
    if best is not None:
        for variable, value in zip(variables, best, strict=True):
            variable.assign(value)
    kernel, recurrent, gru_bias = (v.numpy() for v in gru.trainable_variables)
    return {
        "item_own_vectors": own.numpy()[1:].astype(np.float32),
        "item_token_vectors": tokens.numpy().astype(np.float32),
        "item_bias": bias.numpy().astype(np.float32),
        "repeat": repeat.numpy().astype(np.float32),
        "user_token_vectors": user_tokens.numpy().astype(np.float32),
        "init_kernel": init_kernel.numpy().astype(np.float32),
        "init_bias": init_bias.numpy().astype(np.float32),
        "gru_kernel": kernel.astype(np.float32),
        "gru_recurrent": recurrent.astype(np.float32),
        "gru_bias": np.asarray(gru_bias, dtype=np.float32).reshape(2, -1),
        "out_kernel": out_kernel.numpy().astype(np.float32),
        "out_bias": out_bias.numpy().astype(np.float32),
        "profile_kernel": profile_kernel.numpy().astype(np.float32),
        "metadata_kernel": metadata_kernel.numpy().astype(np.float32),
    }


__all__ = [
    "DEFAULT_HYPERPARAMETERS",
    "HYPERPARAMETER_RANGES",
    "SequenceRecipe",
    "check_hyperparameters",
    "gru_run",
    "softmax",
]
