"""A plain computation of what a GRU User-Personalization model serves, for the tests that pin the fast path.

The model written out step by step, in the same float32 steps as the serving module (its one-vector
products, so both sides round alike): merge the recent events with the kept history by (time, item), run the
GRU step over the newest ``bptt``, take the profile over the newest ``PROFILE_EVENTS``, score the catalogue
(vectors . query + bias + repeat terms), softmax, mix in exploration, sort by score then catalogue position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from personalize_kit.recipes.sequence import PROFILE_EVENTS, cooccurrence
from personalize_kit.recipes.sequence.features import NO_TIME
from personalize_kit.recipes.sequence.serving import matrix_vector, vector_matrix
from personalize_kit.recipes.user_personalization import UserPersonalization

TOLERANCE = 1e-6


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gru(model: UserPersonalization, codes: list[int], h: np.ndarray) -> np.ndarray:
    """The Keras GRU (reset_after, gates z, r, h) over the items ``codes``, step by step, in float32."""
    a = model._arrays
    units = h.size
    for code in codes:
        x = model._x_proj[code]  # the item's vector . kernel + input bias, derived once per model
        inner = vector_matrix(h, a["gru_recurrent"]) + a["gru_bias"][1]
        z = _sigmoid(x[:units] + inner[:units])
        r = _sigmoid(x[units : 2 * units] + inner[units : 2 * units])
        candidate = np.tanh(x[2 * units :] + r * inner[2 * units :])
        h = (candidate + z * (h - candidate)).astype(np.float32)  # z h + (1 - z) c
    return h


def query_and_recent(model: UserPersonalization, user: str | None, frame: pd.DataFrame | None) -> tuple:
    a = model._arrays
    index = {item: k for k, item in enumerate(model.catalogue.tolist())}
    rows = {u: k for k, u in enumerate(a["users"].tolist())}
    row = rows.get(user) if user is not None else None
    past: list[tuple[int, int]] = []
    if row is not None:
        kept = a["history_items"][row] >= 0
        past = list(zip(a["history_times"][row][kept].tolist(), a["history_items"][row][kept].tolist(), strict=True))
    new: list[tuple[int, int]] = []
    if frame is not None and len(frame):
        times = (
            [int(t) for t in frame["TIMESTAMP"]]
            if "TIMESTAMP" in frame.columns
            else list(range(NO_TIME - len(frame), NO_TIME))
        )
        new = [(t, index[str(i)]) for i, t in zip(frame["ITEM_ID"], times, strict=True) if str(i) in index]
        new = [e for e in new if e not in set(past)]
    if not new:  # nothing newer than training: the query kept for the user, or the default one
        if row is None:
            return model._default_query, np.empty(0, dtype=np.int64)
        return a["user_queries"][row], np.asarray([c for _, c in past][-PROFILE_EVENTS:], dtype=np.int64)
    merged = past + new
    order = sorted(range(len(merged)), key=lambda k: (merged[k][0], k))
    codes = [merged[k][1] for k in order][-max(model._bptt, PROFILE_EVENTS) :]
    init = model._default_init if row is None else model._user_init[row]
    feature = model._no_feature if row is None else model._user_feature[row]
    state = _gru(model, codes[-model._bptt :], init)
    recent = np.asarray(codes[-PROFILE_EVENTS:], dtype=np.int64)
    profile = np.einsum("k,kd->d", np.ones(recent.size, np.float32), model._vectors[recent]) / recent.size
    query = vector_matrix(state, a["out_kernel"]) + vector_matrix(profile.astype(np.float32), a["profile_kernel"])
    query = query + vector_matrix(feature, a["metadata_kernel"]) + a["out_bias"]
    return query.astype(np.float32), recent


def reference(model: UserPersonalization, user: str | None, frame: pd.DataFrame | None, n: int,
              weight: float = 0.0, exclude: tuple[str, ...] = ()) -> list[tuple[str, float]]:  # fmt: skip
    query, recent = query_and_recent(model, user, frame)
    logits = matrix_vector(model._vectors, query) + model._bias
    window, earlier = set(recent[-model._bptt :].tolist()), set(recent[: -model._bptt].tolist())
    for code in earlier - window:
        logits[code] += model._repeat_earlier
    for code in window:
        logits[code] += model._repeat
    term = model._settings.get("cooccurrence")  # the trained model's term (its weight chosen or given), or None
    if term and recent.size:
        decay = float(term["decay"])
        logits = logits + term["weight"] * cooccurrence.scores(model._arrays, recent, logits.size, decay)
    p = np.exp(logits.astype(np.float64) - logits.max())
    p /= p.sum()
    if weight > 0:
        young = model.exploration_candidates(30.0)
        spread = np.sqrt(p[young])
        p = p * (1.0 - weight)
        p[young] += weight * spread / spread.sum()
    names = model.catalogue.tolist()
    order = sorted(range(p.size), key=lambda k: (-p[k], k))
    return [(names[k], float(p[k])) for k in order if names[k] not in exclude][:n]


def assert_same(got: list, want: list) -> None:
    assert [item for item, _ in got] == [item for item, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=TOLERANCE, atol=1e-12)
