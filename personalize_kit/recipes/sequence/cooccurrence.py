"""A recency-weighted co-occurrence term for the sequence models' scores (an optional ensemble).

At fit time each item keeps its ``neighbours`` most similar items by cosine similarity of the items' user
sets (the binary user-item matrix), as CSR arrays. At serving time the user's newest events (newest first,
``k = 0, 1, ...``; an item seen twice counts at its newest position) give
``score(j) = sum_k decay**k * similarity(i_k, j)``, scaled to at most 1 and added to the model's logits
times ``weight``: the neural model's view of the sequence and the plain co-occurrence of items, which the
recency-weighted item-kNN baseline shows is a strong signal on its own, in one score.

By default the weight is chosen at fit time (:func:`choose`): on the validation users of the model's training
(users whose newest events the network never trained on), each user's newest event (or several sets of its
newest events, see :func:`validation`) is a target and the events before it the input; neighbours are computed
without those targets, and the weight among :data:`WEIGHTS` that ranks the targets best (mean reciprocal rank
in the top :data:`CUTOFF`, the input items skipped) is kept; 0 leaves the term out. Beyond
:data:`MAX_CHOSEN_ITEMS` catalogue items the term is left out unless its weight is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Candidate weights of the term, the first (0) meaning "co-occurrence does not help".
WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
#: Rank cut-off of the reciprocal rank the weight is chosen on.
CUTOFF = 25
#: Fewest validation users with a target and an input for the weight to be chosen (else it is 0).
MIN_VALIDATION_USERS = 20
#: Largest catalogue whose weight is chosen: :func:`neighbours` compares every item with every other one (at
#: 200,000 items, minutes on 2 cores, twice per fit). Beyond it the term is left out unless a weight is given.
MAX_CHOSEN_ITEMS = 50_000


def neighbours(user_codes: np.ndarray, item_codes: np.ndarray, n_items: int, k: int) -> dict[str, np.ndarray]:
    """``cooc_ptr``, ``cooc_idx``, ``cooc_val``: each item's ``k`` most similar items (cosine), CSR."""
    from scipy import sparse

    n_users = int(user_codes.max()) + 1 if user_codes.size else 0
    seen = sparse.csr_matrix((np.ones(user_codes.size, np.float32), (user_codes, item_codes)), shape=(n_users, n_items))
    seen.data[:] = 1.0
    seen.sum_duplicates()
    seen.data[:] = 1.0
    by_item = seen.T.tocsr()
    norms = np.sqrt(np.maximum(np.asarray(seen.sum(axis=0)).ravel(), 1.0))
    ptr, idx, val = [0], [], []
    rows = int(max(16, min(1024, 20_000_000 // max(n_items, 1))))  # a dense block of at most ~80 MB
    for start in range(0, n_items, rows):
        block = (by_item[start : start + rows] @ seen).toarray()
        block /= norms[start : start + rows, None] * norms[None, :]
        block[np.arange(block.shape[0]), start + np.arange(block.shape[0])] = 0.0
        if k < n_items:  # the k largest of each row, then in order (ties by item code)
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
            part.sort(axis=1)
            top = np.take_along_axis(part, np.argsort(-np.take_along_axis(block, part, 1), axis=1, kind="stable"), 1)
        else:
            top = np.argsort(-block, axis=1, kind="stable")
        for row in range(block.shape[0]):
            keep = top[row][block[row, top[row]] > 0]
            idx.append(keep.astype(np.int32))
            val.append(block[row, keep].astype(np.float32))
            ptr.append(ptr[-1] + keep.size)
    return {
        "cooc_ptr": np.asarray(ptr, dtype=np.int64),
        "cooc_idx": np.concatenate(idx) if idx else np.zeros(0, np.int32),
        "cooc_val": np.concatenate(val) if val else np.zeros(0, np.float32),
    }


def scores(arrays: dict[str, np.ndarray], recent: np.ndarray, n_items: int, decay: float) -> np.ndarray:
    """The term for one user: ``recent`` are catalogue codes, newest last (-1 ignored); at most 1."""
    ptr, idx, val = arrays["cooc_ptr"], arrays["cooc_idx"], arrays["cooc_val"]
    newest_first = recent[::-1]
    codes, first = np.unique(newest_first[newest_first >= 0], return_index=True)  # an item counts at its newest
    keep = codes + 1 < ptr.size
    codes, first = codes[keep], first[keep]
    lo, counts = ptr[codes], ptr[codes + 1] - ptr[codes]
    owner = np.repeat(np.arange(codes.size), counts)
    take = lo[owner] + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.bincount(idx[take], weights=(decay ** first[owner]) * val[take], minlength=n_items)
    top = out.max() if out.size else 0.0
    return (out / top if top > 0 else out).astype(np.float32)


@dataclass
class Validation:
    """Validation samples: each one's input codes (oldest first) and target: a user's newest event's code, or
    the codes of a run of its newest events (an array: a set, as the service's metrics hold out a user's newest
    events)."""

    inputs: list[np.ndarray]
    targets: np.ndarray | list[np.ndarray]
    kept: np.ndarray  # bool per interaction: not one of the targets
    users: int | None = None  # users the samples come from (None: one sample per user)

    @property
    def n_users(self) -> int:
        return len(self.inputs) if self.users is None else self.users


#: Share of a validation user's events in one target set (``per_user`` > 1), as the service's metrics hold out
#: the newest 10% of a test user's events (:func:`personalize_kit.metrics.holdout_split`).
HELD_OUT_SHARE = 0.1
#: Most samples :func:`validation` takes with ``per_user`` > 1 (each user's newest first, as many per user): the
#: weight's choice scores the catalogue once per sample.
MAX_SAMPLES = 4000


def validation(
    user_codes: np.ndarray, item_codes: np.ndarray, users: np.ndarray, length: int, per_user: int = 1
) -> Validation:
    """The validation samples of ``users`` (codes) from interactions sorted by user then time.

    With ``per_user`` = 1 a user gives one sample: its newest event is the target. Above, a user's newest
    ``per_user`` events (at most ``n - 1`` of its ``n``; none of them a training target) are cut, newest first,
    into target sets of ``ceil(HELD_OUT_SHARE x n)`` events: each set is a sample as the service's metrics hold
    out a user's newest tenth, with the events before it as the input. The newest set alone is one sample per
    user; the sets before it give several, which makes the choice less noisy where there are few users (with
    60 validation users, the weight chosen on one set per user varied from fold to fold by more than the
    weights' differences). At most :data:`MAX_SAMPLES` in all (one per user where users are more), every user's
    newest set among them. The input is the ``length`` events before the target(s).
    """
    starts = np.searchsorted(user_codes, users, side="left")
    ends = np.searchsorted(user_codes, users, side="right")
    has_input = ends - starts >= 2
    starts, ends = starts[has_input], ends[has_input]
    kept = np.ones(user_codes.size, dtype=bool)
    if per_user == 1:
        kept[ends - 1] = False
        inputs = [
            item_codes[max(lo, hi - 1 - length) : hi - 1] for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        return Validation(inputs, item_codes[ends - 1], kept)
    inputs, targets = [], []
    samples_per_user = max(1, MAX_SAMPLES // max(1, starts.size))
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        untrained = min(per_user, hi - lo - 1)
        size = min(untrained, max(1, math.ceil(HELD_OUT_SHARE * (hi - lo))))
        kept[hi - untrained : hi] = False
        for cut in range(hi - size, hi - untrained - 1, -size)[:samples_per_user]:
            inputs.append(item_codes[max(lo, cut - length) : cut])
            targets.append(item_codes[cut : cut + size])
    return Validation(inputs, targets, kept, int(starts.size))


def choose(
    base_logits: Callable[[np.ndarray], np.ndarray],
    arrays: dict[str, np.ndarray],
    held: Validation,
    n_items: int,
    decay: float,
) -> float:
    """The weight among :data:`WEIGHTS` whose term added to ``base_logits(input codes)`` ranks the targets
    best (mean over the samples of the reciprocal rank of a sample's best-placed target in the top
    :data:`CUTOFF`, input items skipped); ties go to the smaller."""
    if held.n_users < MIN_VALIDATION_USERS:
        return 0.0
    weights = np.asarray(WEIGHTS, dtype=np.float64)
    total = np.zeros(weights.size)
    for codes, target in zip(held.inputs, list(held.targets), strict=True):
        base = base_logits(codes).astype(np.float64)
        term = scores(arrays, codes, n_items, decay).astype(np.float64)
        candidates = base[None, :] + weights[:, None] * term[None, :]
        candidates[:, codes] = -np.inf
        at = candidates[:, np.atleast_1d(target)].max(axis=1, keepdims=True)  # the best-placed target
        rank = 1 + (candidates > at).sum(axis=1) + ((candidates == at).sum(axis=1) - 1) / 2  # ties: their middle
        total += np.where(rank <= CUTOFF, 1.0 / rank, 0.0)
    mrr = total / len(held.inputs)
    best = int(np.flatnonzero(mrr >= mrr.max() - 1e-12)[0])
    logger.debug("co-occurrence weights %s: MRR@%d %s -> %s", WEIGHTS, CUTOFF, np.round(mrr, 4), WEIGHTS[best])
    return float(WEIGHTS[best])


def attach(
    model: Any,
    user_codes: np.ndarray,
    item_codes: np.ndarray,
    validation_users: np.ndarray | None,
    options: dict[str, Any],
    length: int,
    per_user: int = 1,
) -> None:
    """Give a fitted sequence model (its ``_arrays``, ``_settings``, ``_logits``, ``_compute_state`` and
    ``_catalogue``) its co-occurrence term: ``options["weight"]`` > 0 as given, 0 none, ``None`` chosen on
    ``validation_users`` (:func:`choose`, on their newest events as :func:`validation` takes them with
    ``per_user``; the model must not have trained on those as targets). Interactions are sorted by user then time."""
    n_items, k, decay = model._catalogue.size, int(options["neighbours"]), float(options["decay"])
    for name in ("cooc_ptr", "cooc_idx", "cooc_val"):
        model._arrays.pop(name, None)
    model._settings["cooccurrence"] = model._cooccurrence = None
    weight = options["weight"]
    if weight is None and n_items > MAX_CHOSEN_ITEMS:
        logger.info("co-occurrence term left out: %d items, more than %d (give a weight to have it)",
                    n_items, MAX_CHOSEN_ITEMS)  # fmt: skip
        weight = 0.0
    if weight is None:
        held = validation(
            user_codes,
            item_codes,
            np.unique(validation_users if validation_users is not None else []),
            length,
            per_user,
        )
        if held.n_users >= MIN_VALIDATION_USERS:
            without = neighbours(user_codes[held.kept], item_codes[held.kept], n_items, k)

            def base_logits(codes: np.ndarray) -> np.ndarray:
                events = {"ITEM_ID": model._catalogue[codes], "TIMESTAMP": np.arange(codes.size)}
                return model._logits(*model._compute_state(None, pd.DataFrame(events), None))

            weight = choose(base_logits, without, held, n_items, decay)
        else:
            weight = 0.0
    if weight > 0:
        model._arrays.update(neighbours(user_codes, item_codes, n_items, k))
        model._settings["cooccurrence"] = model._cooccurrence = {
            "weight": float(weight),
            "decay": decay,
            "neighbours": k,
        }


__all__ = [
    "CUTOFF",
    "HELD_OUT_SHARE",
    "MAX_CHOSEN_ITEMS",
    "MAX_SAMPLES",
    "WEIGHTS",
    "Validation",
    "attach",
    "choose",
    "neighbours",
    "scores",
    "validation",
]
