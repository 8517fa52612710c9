"""aws-next-best-action (PERSONALIZED_ACTIONS): the actions each user is most likely to take.

One logistic model per action predicts whether a user takes it (``Taken``) rather than passing it by
(``Not taken`` / ``Viewed``), from what the user is: a short embedding of the items they interacted with
(a truncated SVD of the user-item matrix) and their own history with actions (how often they took or
passed by this action before, how many actions they took in all). Training examples are the action
interactions, each described by the history *before* it, so a feature never holds its own label.

As in the service, an action is scored only once it had at least :data:`MIN_TAKEN` ``Taken`` and
:data:`MIN_NOT_TAKEN` ``Not taken``/``Viewed`` interactions within :data:`RECENT_WINDOW_SECONDS` of the
newest action interaction; other actions get a propensity of 0.0 and come after the scored ones, by value.
At serving time the user's newest item events and action interactions (recorded after training too) are
read again, so a user's answer follows what they just did; :func:`rank_actions` then leaves out expired
actions and actions taken within their repeat frequency.

>>> canonical_event_type("NOT_TAKEN"), canonical_event_type("Viewed"), canonical_event_type("click")
('not taken', 'viewed', None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.recipes.base import Ranked, Recipe

#: The event types of an action interaction (compared without regard to case, "_" read as a space).
ACTION_EVENT_TYPES = ("Taken", "Not taken", "Viewed")
TAKEN = "taken"
#: An action is scored once it has this many Taken interactions and this many Not taken/Viewed ones ...
MIN_TAKEN = 50
MIN_NOT_TAKEN = 50
#: ... within six weeks of the newest action interaction.
RECENT_WINDOW_SECONDS = 6 * 7 * 86_400
#: Training considers at most this many actions (the newest and most recently interacted with first).
MAX_ACTIONS = 1000
#: Dimensions of the item-history embedding, and the L2 penalty of the logistic models.
EMBEDDING_DIM = 16
L2 = 1.0
DAY_SECONDS = 86_400


def canonical_event_type(value: Any) -> str | None:
    """``taken``, ``not taken`` or ``viewed`` for an accepted spelling, else ``None``."""
    if not isinstance(value, str):
        return None
    folded = " ".join(value.replace("_", " ").lower().split())
    return folded if folded in {t.lower() for t in ACTION_EVENT_TYPES} else None


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def _logistic(features: np.ndarray, labels: np.ndarray, l2: float = L2, iterations: int = 30) -> np.ndarray:
    """Ridge logistic regression by Newton's method; the weights, bias last (deterministic)."""
    design = np.hstack([features, np.ones((len(features), 1))])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 1e-6  # the bias is (almost) not penalised
    weights = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - labels) + penalty * weights
        hessian = (design.T * (p * (1.0 - p))) @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return weights


def _item_factors(interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Item ids and their factors (rows of V of a truncated SVD of the normalised user-item matrix)."""
    pairs = interactions[["USER_ID", "ITEM_ID"]].astype(str).drop_duplicates()
    items, item_index = np.unique(pairs["ITEM_ID"].to_numpy(), return_inverse=True)
    users, user_index = np.unique(pairs["USER_ID"].to_numpy(), return_inverse=True)
    if len(items) == 0:
        return items.astype(str), np.zeros((0, 1))
    from scipy.sparse import csr_matrix

    counts = np.bincount(user_index, minlength=len(users)).astype(float)
    matrix = csr_matrix((1.0 / np.sqrt(counts[user_index]), (user_index, item_index)), shape=(len(users), len(items)))
    k = max(1, min(EMBEDDING_DIM, min(matrix.shape) - 1))
    if min(matrix.shape) > k + 1:
        from scipy.sparse.linalg import svds

        _, _, vt = svds(matrix, k=k, random_state=0)
    else:
        _, _, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        vt = vt[:k]
    vt = vt * np.sign(vt.sum(axis=1, keepdims=True) + 1e-12)  # a fixed sign per factor
    return items.astype(str), np.ascontiguousarray(vt.T)


def _history_features(frame: pd.DataFrame) -> np.ndarray:
    """Per action interaction (sorted by user and time): the user's history *before* it, as
    ``log1p`` of (this action taken, this action passed by, any action taken)."""
    taken = (frame["KIND"] == TAKEN).astype(float)
    other = 1.0 - taken
    pair = [frame["USER_ID"], frame["ACTION_ID"]]
    columns = (
        taken.groupby(pair).cumsum() - taken,
        other.groupby(pair).cumsum() - other,
        taken.groupby(frame["USER_ID"]).cumsum() - taken,
    )
    return np.log1p(np.column_stack([c.to_numpy(dtype=float) for c in columns]))


def action_history(frame: pd.DataFrame | None) -> pd.DataFrame:
    """Action interactions with a ``KIND`` column (canonical event type), unknown types dropped, by time."""
    columns = ["USER_ID", "ACTION_ID", "TIMESTAMP", "KIND"]
    if frame is None or frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.DataFrame(
        {
            "USER_ID": frame["USER_ID"].astype(str).to_numpy(),
            "ACTION_ID": frame["ACTION_ID"].astype(str).to_numpy(),
            "TIMESTAMP": pd.to_numeric(frame["TIMESTAMP"]).astype("int64").to_numpy(),
            "KIND": [canonical_event_type(v) for v in frame["EVENT_TYPE"].tolist()],
        }
    )
    out = out[out["KIND"].notna()]
    return out.sort_values(["USER_ID", "TIMESTAMP"], kind="stable").reset_index(drop=True)


def _modelled_actions(actions: pd.DataFrame, history: pd.DataFrame) -> np.ndarray:
    """At most :data:`MAX_ACTIONS` action ids: new actions (no interactions yet) first, then the others by
    their newest interaction or creation."""
    frame = actions.assign(ACTION_ID=actions["ACTION_ID"].astype(str)).drop_duplicates("ACTION_ID", keep="last")
    if len(frame) <= MAX_ACTIONS:
        return np.array(sorted(frame["ACTION_ID"]), dtype=str)
    newest = history.groupby("ACTION_ID")["TIMESTAMP"].max() if len(history) else pd.Series(dtype="int64")
    created = (
        pd.to_numeric(frame["CREATION_TIMESTAMP"], errors="coerce").fillna(-math.inf).to_numpy(dtype=float)
        if "CREATION_TIMESTAMP" in frame.columns
        else np.full(len(frame), -math.inf)
    )
    ids = frame["ACTION_ID"].tolist()
    recency = {a: max(float(newest.get(a, -math.inf)), c) for a, c in zip(ids, created, strict=True)}
    chosen = sorted(ids, key=lambda a: (a in newest.index, -recency[a], a))[:MAX_ACTIONS]
    return np.array(sorted(chosen), dtype=str)


class NextBestAction(Recipe):
    """Per-action propensity models over the user's item embedding and action history."""

    name: ClassVar[str] = "aws-next-best-action"
    recipe_type: ClassVar[str] = "PERSONALIZED_ACTIONS"
    uses_actions: ClassVar[bool] = True

    def __init__(self) -> None:
        self._items = np.array([], dtype=str)
        self._item_factors = np.zeros((0, 1))
        self._users = np.array([], dtype=str)
        self._user_sums = np.zeros((0, 1))
        self._user_counts = np.zeros(0)
        self._user_last = np.zeros(0, dtype=np.int64)
        self._mean = np.zeros(1)
        self._std = np.ones(1)
        self._actions = np.array([], dtype=str)
        self._weights = np.zeros((0, 5))
        self._scored = np.zeros(0, dtype=bool)

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        *,
        actions: pd.DataFrame | None = None,
        action_interactions: pd.DataFrame | None = None,
    ) -> NextBestAction:
        """Train on item interactions, the Actions dataset (required) and the action interactions."""
        if actions is None or actions.empty:
            raise ValueError("the Actions dataset holds no action")
        history = action_history(action_interactions)
        self.__dict__.pop("_indexes", None)
        self._items, self._item_factors = _item_factors(interactions)
        self._fit_users(interactions)
        self._actions = _modelled_actions(actions, history)
        history = history[history["ACTION_ID"].isin(set(self._actions.tolist()))].reset_index(drop=True)
        embedding = self._standardised(*self._profiles(history["USER_ID"].tolist()))
        extra = _history_features(history) if len(history) else None
        newest = int(history["TIMESTAMP"].max()) if len(history) else 0
        self._weights = np.zeros((len(self._actions), embedding.shape[1] + 4))
        self._scored = np.zeros(len(self._actions), dtype=bool)
        for a, action in enumerate(self._actions.tolist()):
            rows = np.flatnonzero(history["ACTION_ID"].to_numpy() == action)
            if len(rows) == 0 or extra is None:
                continue
            labels = (history["KIND"].to_numpy()[rows] == TAKEN).astype(float)
            recent = history["TIMESTAMP"].to_numpy()[rows] >= newest - RECENT_WINDOW_SECONDS
            self._scored[a] = labels[recent].sum() >= MIN_TAKEN and (1 - labels[recent]).sum() >= MIN_NOT_TAKEN
            features = np.hstack([embedding[rows], extra[rows]])
            self._weights[a] = _logistic(features, labels)
        return self

    def _fit_users(self, interactions: pd.DataFrame) -> None:
        pairs = interactions[["USER_ID", "ITEM_ID", "TIMESTAMP"]].copy()
        pairs["USER_ID"] = pairs["USER_ID"].astype(str)
        position = {item: i for i, item in enumerate(self._items.tolist())}
        pairs["ROW"] = pairs["ITEM_ID"].astype(str).map(position)
        distinct = pairs.drop_duplicates(["USER_ID", "ROW"])
        self._users, index = np.unique(distinct["USER_ID"].to_numpy(dtype=str), return_inverse=True)
        sums = np.zeros((len(self._users), self._item_factors.shape[1]))
        np.add.at(sums, index, self._item_factors[distinct["ROW"].to_numpy(dtype=int)])
        self._user_sums = sums
        self._user_counts = np.bincount(index, minlength=len(self._users)).astype(float)
        last = pairs.groupby("USER_ID")["TIMESTAMP"].max()
        self._user_last = last.reindex(self._users).fillna(0).to_numpy(dtype=np.int64)
        means = sums / np.maximum(self._user_counts, 1.0)[:, None]
        self._mean = means.mean(axis=0) if len(means) else np.zeros(sums.shape[1])
        self._std = means.std(axis=0) + 1e-6 if len(means) else np.ones(sums.shape[1])

    def _index(self, name: str) -> dict[str, int]:
        """Position of each id of ``_items``, ``_users`` or ``_actions`` (built once per fitted model)."""
        cache = self.__dict__.setdefault("_indexes", {})
        if name not in cache:
            cache[name] = {key: i for i, key in enumerate(getattr(self, name).tolist())}
        return cache[name]

    def _profiles(self, user_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sums of item factors and item counts of users, as trained."""
        position = self._index("_users")
        rows = np.array([position.get(u, -1) for u in user_ids], dtype=int)
        sums = np.where((rows >= 0)[:, None], self._user_sums[np.maximum(rows, 0)], 0.0) if len(rows) else None
        counts = np.where(rows >= 0, self._user_counts[np.maximum(rows, 0)], 0.0) if len(rows) else None
        if sums is None or counts is None:
            return np.zeros((0, self._item_factors.shape[1])), np.zeros(0)
        return sums, counts

    def _standardised(self, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        means = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], self._mean)
        return (means - self._mean) / self._std

    def user_embedding(self, user_id: str | None, recent_events: pd.DataFrame | None) -> np.ndarray:
        """The user's standardised item embedding: as trained, plus item events newer than the training's."""
        sums, counts = self._profiles([str(user_id)] if user_id is not None else ["\0"])
        sums, count = sums[0].copy(), float(counts[0])
        if recent_events is not None and len(recent_events):
            position = self._index("_items")
            known = self._index("_users")
            since = int(self._user_last[known[str(user_id)]]) if str(user_id) in known else -1
            fresh = recent_events[pd.to_numeric(recent_events["TIMESTAMP"]).to_numpy() > since]
            rows = sorted({position[i] for i in fresh["ITEM_ID"].astype(str).tolist() if i in position})
            if rows:
                sums, count = sums + self._item_factors[rows].sum(axis=0), count + len(rows)
        return self._standardised(sums[None, :], np.array([count]))[0]

    def scores(
        self,
        user_id: str | None,
        action_ids: Sequence[str],
        *,
        recent_events: pd.DataFrame | None = None,
        history: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Propensity of each action for the user (0.0 for actions without enough data or unknown to the
        model); ``history`` is the user's action interactions as :func:`action_history` gives them."""
        embedding = self.user_embedding(user_id, recent_events)
        history = history if history is not None else action_history(None)
        taken = history[history["KIND"] == TAKEN]
        taken_counts = taken.groupby("ACTION_ID").size()
        other_counts = history[history["KIND"] != TAKEN].groupby("ACTION_ID").size()
        position = self._index("_actions")
        out = np.zeros(len(action_ids))
        for k, action in enumerate(action_ids):
            a = position.get(action)
            if a is None or not self._scored[a]:
                continue
            features = np.concatenate(
                [
                    embedding,
                    np.log1p([float(taken_counts.get(action, 0)), float(other_counts.get(action, 0)), len(taken)]),
                    [1.0],
                ]
            )
            out[k] = float(_sigmoid(np.array([features @ self._weights[a]]))[0])
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
        candidates = [a for a in self._actions.tolist() if a not in set(exclude)]
        return self.rank(str(user_id), candidates, recent_events)[:n]

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        values = self.scores(user_id, list(items), recent_events=recent_events)
        order = sorted(range(len(items)), key=lambda k: (-values[k], items[k]))
        return [(items[k], float(values[k])) for k in order]

    @property
    def catalogue(self) -> np.ndarray:
        return self._actions

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "items": self._items.astype(str),
            "item_factors": self._item_factors,
            "users": self._users.astype(str),
            "user_sums": self._user_sums,
            "user_counts": self._user_counts,
            "user_last": self._user_last,
            "mean": self._mean,
            "std": self._std,
            "actions": self._actions.astype(str),
            "weights": self._weights,
            "scored": self._scored,
        }
        return arrays, {}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> NextBestAction:
        model = cls()
        for key in ("items", "users", "actions"):
            setattr(model, f"_{key}", np.asarray(arrays[key]).astype(str))
        for key in ("item_factors", "user_sums", "user_counts", "mean", "std", "weights"):
            setattr(model, f"_{key}", np.asarray(arrays[key], dtype=float))
        model._user_last = np.asarray(arrays["user_last"]).astype(np.int64)
        model._scored = np.asarray(arrays["scored"]).astype(bool)
        return model


def rank_actions(
    model: NextBestAction,
    user_id: str,
    actions: pd.DataFrame,
    history: pd.DataFrame,
    *,
    now: float,
    n: int,
    recent_events: pd.DataFrame | None = None,
) -> Ranked:
    """The user's top ``n`` of the Actions dataset as it is now: expired actions and actions the user took
    within their repeat frequency (days) left out; by propensity, then value, then id."""
    frame = actions.drop_duplicates("ACTION_ID", keep="last").reset_index(drop=True)
    ids = frame["ACTION_ID"].astype(str).tolist()
    keep = np.ones(len(frame), dtype=bool)
    if "EXPIRATION_TIMESTAMP" in frame.columns:
        expires = pd.to_numeric(frame["EXPIRATION_TIMESTAMP"], errors="coerce").to_numpy(dtype=float)
        keep &= ~(expires <= now)  # NaN (no expiration) keeps the action
    if "REPEAT_FREQUENCY" in frame.columns and len(history):
        days = pd.to_numeric(frame["REPEAT_FREQUENCY"], errors="coerce").to_numpy(dtype=float)
        last_taken = history[history["KIND"] == TAKEN].groupby("ACTION_ID")["TIMESTAMP"].max()
        taken_at = np.array([float(last_taken.get(a, -math.inf)) for a in ids])
        keep &= ~(now - taken_at < days * DAY_SECONDS)
    values = (
        pd.to_numeric(frame["VALUE"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if "VALUE" in frame.columns
        else np.zeros(len(frame))
    )
    kept = np.flatnonzero(keep)
    scores = model.scores(user_id, [ids[k] for k in kept], recent_events=recent_events, history=history)
    order = sorted(range(len(kept)), key=lambda j: (-scores[j], -values[kept[j]], ids[kept[j]]))
    return [(ids[kept[j]], float(scores[j])) for j in order[:n]]


__all__ = ["ACTION_EVENT_TYPES", "NextBestAction", "action_history", "canonical_event_type", "rank_actions"]
