"""User-Personalization: next-item prediction from the user's history, with exploration of new items.

The model is the sequence model of :mod:`personalize_kit.recipes.sequence` (an HRNN-kind GRU over the
user's newest ``bptt`` events with item and user metadata). TensorFlow is imported only by ``fit``;
serving, ``update`` and loading run in numpy.

Exploration (the campaign's ``itemExplorationConfig``) mixes new items into the softmax:
``p' = (1 - w) p + w q`` where ``q`` spreads the weight over the items younger than the age cut-off
(in proportion to the square root of their model scores), so the scores still sum to 1 over the
catalogue. An item's age is counted from its ``CREATION_TIMESTAMP`` (else its first interaction) to the
latest interaction in the training data, as the service counts it; items nobody has interacted with and
without a creation time are always explored.

Items a user already interacted with are not removed (the service keeps them unless a filter says
otherwise); pass them as ``exclude`` to leave them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import Ranked
from personalize_kit.recipes.context import apply as apply_context
from personalize_kit.recipes.sequence import (
    PROFILE_EVENTS,
    SequenceRecipe,
    clean_interactions,
    creation_times,
    csr,
    histories,
    item_token_lists,
    softmax,
    user_token_lists,
)
from personalize_kit.recipes.sequence.transformer_recipe import TransformerRecipe

_DAY = 86_400


class UserPersonalization(SequenceRecipe):
    """``aws-user-personalization``: a GRU over the user's events, softmax over the catalogue.

    >>> frame = pd.DataFrame({"USER_ID": ["u1", "u1", "u2", "u2"], "ITEM_ID": ["a", "b", "a", "b"],
    ...                       "TIMESTAMP": [1, 2, 3, 4]})
    >>> model = UserPersonalization(max_epochs=1).fit(frame, hyperparameters={"hidden_dimension": "32"})
    >>> round(sum(score for _, score in model.recommend(user_id="u1", n=2)), 6)
    1.0
    """

    name = "aws-user-personalization"
    recipe_type = "USER_PERSONALIZATION"
    #: Campaign-level exploration settings with the service's defaults.
    default_exploration = {"exploration_weight": 0.3, "exploration_item_age_cut_off": 30.0}

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
        exploration_weight: float = 0.0,
        exploration_item_age_cut_off: float = 30.0,
        context: Mapping[str, str] | None = None,
    ) -> Ranked:
        """Top ``n`` items for the user; ``exploration_weight`` > 0 mixes in items younger than the cut-off;
        ``context`` (e.g. ``{"DEVICE": "mobile"}``) adds the learned contextual term (:mod:`..context`).

        ``recent_events`` are the user's newest events (those of the dataset and those sent with
        PutEvents); events already in the training history are recognised by (item, timestamp).
        """
        if not 0.0 <= exploration_weight <= 1.0:
            raise RecipeInputError(f"exploration_weight must be in [0, 1], not {exploration_weight}")
        if exploration_item_age_cut_off < 0:
            raise RecipeInputError(
                f"exploration_item_age_cut_off must be a positive number of days, not {exploration_item_age_cut_off}"
            )
        logits = self._logits(*self._state(user_id, recent_events, item_id))
        probabilities = softmax(apply_context(self._arrays, self._settings, logits, context))
        if exploration_weight > 0.0:
            probabilities = self._explore(probabilities, exploration_weight, exploration_item_age_cut_off)
        return self._top(probabilities, n, exclude)

    def exploration_candidates(self, age_cut_off_days: float = 30.0) -> np.ndarray:
        """Catalogue positions of the items that exploration may promote (younger than the cut-off).

        >>> # model.catalogue[model.exploration_candidates(30)]
        """
        a = self._arrays
        latest = int(self._settings["latest_timestamp"])
        kept = self.__dict__.get("_candidates")  # (the arrays it was computed from, latest, cut-off, candidates)
        if kept is not None and (kept[0] is not a["item_created"] or kept[1] is not a["item_first_seen"]):
            kept = None
        if kept is not None and (kept[2], kept[3]) != (latest, float(age_cut_off_days)):
            kept = None
        if kept is None:
            born = np.where(a["item_created"] >= 0, a["item_created"], a["item_first_seen"])
            young = (born >= 0) & (latest - born <= age_cut_off_days * _DAY)
            candidates = np.flatnonzero(young | (born < 0))
            kept = self._candidates = (
                a["item_created"],
                a["item_first_seen"],
                latest,
                float(age_cut_off_days),
                candidates,
            )
        return kept[4]

    def _explore(self, probabilities: np.ndarray, weight: float, cut_off: float) -> np.ndarray:
        """``probabilities`` (changed in place) mixed with the spread over the young items."""
        candidates = self.exploration_candidates(cut_off)
        if candidates.size == 0:
            return probabilities
        every = candidates.size == probabilities.size  # a young catalogue: slices, not an index
        spread = np.sqrt(probabilities if every else probabilities[candidates])
        total = spread.sum()
        spread *= weight
        spread /= total  # weight * spread / total, as written out
        probabilities *= 1.0 - weight
        if every:
            probabilities += spread
        else:
            probabilities[candidates] += spread
        return probabilities

    # ----------------------------------------------------------------------------------- UPDATE

    def update(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
    ) -> UserPersonalization:
        """``trainingMode=UPDATE``: a new model with the new items and histories, weights kept.

        Items new to the model (from ``items`` or ``interactions``) get the mean embedding of their
        metadata tokens and the median bias of the items sharing a token with them; user histories,
        item statistics and user metadata are refreshed from the frames. No retraining, no TensorFlow.

        >>> # updated = model.update(interactions, items, users)
        """
        if not self._arrays:
            raise RecipeInputError("UPDATE needs a trained model: fit a FULL version first")
        a = {key: value.copy() for key, value in self._arrays.items()}
        user_ids, item_ids, stamps = clean_interactions(interactions)
        old_items = a["items"]
        fresh = np.unique(item_ids)
        if items is not None and "ITEM_ID" in items.columns:
            fresh = np.union1d(fresh, items["ITEM_ID"].astype(str).to_numpy())
        new_items = np.setdiff1d(fresh.astype(str), old_items)
        catalogue = np.concatenate([old_items, new_items]).astype(str)
        item_index = {item: i for i, item in enumerate(catalogue.tolist())}
        n_old, n_items = old_items.size, catalogue.size

        vocab = {name: i for i, name in enumerate(a["item_token_names"].tolist())}
        if new_items.size:
            tokens = item_token_lists(items, item_index, n_items)
            new_ptr, new_idx = csr(tokens[n_old:], vocab)
            a["item_token_ptr"] = np.concatenate([a["item_token_ptr"], a["item_token_ptr"][-1] + new_ptr[1:]])
            a["item_token_idx"] = np.concatenate([a["item_token_idx"], new_idx]).astype(np.int32)
            dim = a["item_own_vectors"].shape[1]
            a["item_own_vectors"] = np.concatenate([a["item_own_vectors"], np.zeros((new_items.size, dim), np.float32)])
            a["item_bias"] = np.concatenate([a["item_bias"], self._new_biases(new_ptr, new_idx)]).astype(np.float32)
        a["items"] = catalogue
        if "cooc_ptr" in a:  # new items have no co-occurring items until the next full training
            a["cooc_ptr"] = np.concatenate([a["cooc_ptr"], np.full(n_items - n_old, a["cooc_ptr"][-1])])
        codes = np.asarray([item_index[i] for i in item_ids.tolist()], dtype=np.int32)
        counts = np.bincount(codes, minlength=n_items).astype(np.int64)
        a["item_counts"] = np.maximum(counts, np.pad(a["item_counts"], (0, n_items - n_old)))
        first_seen = np.full(n_items, -1, dtype=np.int64)
        order = np.argsort(stamps, kind="stable")[::-1]
        first_seen[codes[order]] = stamps[order]
        old_first = np.pad(a["item_first_seen"], (0, n_items - n_old), constant_values=-1)
        both = (first_seen >= 0) & (old_first >= 0)
        a["item_first_seen"] = np.where(both, np.minimum(first_seen, old_first), np.maximum(first_seen, old_first))
        created = creation_times(items, catalogue)
        old_created = np.pad(a["item_created"], (0, n_items - n_old), constant_values=-1)
        a["item_created"] = np.where(created >= 0, created, old_created)

        # users: the old ones keep their rows; newcomers (interactions or metadata) are appended
        meta_ids, meta_tokens = user_token_lists(users, self._settings["user_columns"])
        known = a["users"]
        arrivals = np.setdiff1d(np.union1d(np.unique(user_ids), np.asarray(meta_ids, dtype=str)), known)
        all_users = np.concatenate([known, arrivals]).astype(str)
        user_row = {user: i for i, user in enumerate(all_users.tolist())}
        user_vocab = {name: i for i, name in enumerate(a["user_token_names"].tolist())}
        token_lists: list[list[str] | None] = [None] * all_users.size
        for uid, given in zip(meta_ids, meta_tokens, strict=True):
            token_lists[user_row[uid]] = given
        old_ptr, old_idx = a["user_token_ptr"], a["user_token_idx"]
        rows: list[list[int]] = []
        for row, listed in enumerate(token_lists):
            if listed is not None:
                rows.append(sorted({user_vocab[t] for t in listed if t in user_vocab}))
            elif row < known.size:
                rows.append(old_idx[old_ptr[row] : old_ptr[row + 1]].tolist())
            else:
                rows.append([])
        a["user_token_ptr"] = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        a["user_token_idx"] = np.asarray([t for r in rows for t in r], dtype=np.int32)
        a["users"] = all_users

        length = max(self._bptt, PROFILE_EVENTS)
        user_codes = np.asarray([user_row[u] for u in user_ids.tolist()], dtype=np.int64)
        hist_items, hist_times = histories(user_codes, codes, stamps, all_users.size, length)
        old_hist = np.full((all_users.size, length), -1, dtype=np.int32)
        old_times = np.zeros((all_users.size, length), dtype=np.int64)
        old_hist[: known.size], old_times[: known.size] = a["history_items"], a["history_times"]
        a["history_items"], a["history_times"] = _mergehistories(old_hist, old_times, hist_items, hist_times)

        settings = dict(self._settings)
        settings["latest_timestamp"] = max(int(settings["latest_timestamp"]), int(stamps.max()) if stamps.size else 0)
        model = type(self)(seed=self.seed)
        model._arrays, model._settings = a, settings
        model.hyperparameters = dict(self.hyperparameters)
        model.training_log = list(self.training_log)
        model._prepare()
        model._arrays["user_queries"] = model._queries_for_all_users()
        return model

    def _new_biases(self, ptr: np.ndarray, idx: np.ndarray) -> np.ndarray:
        a = self._arrays
        bias, old_ptr, old_idx = a["item_bias"], a["item_token_ptr"], a["item_token_idx"]
        owners = np.repeat(np.arange(bias.size), np.diff(old_ptr))
        default = float(np.median(bias)) if bias.size else 0.0
        out = np.full(ptr.size - 1, default, dtype=np.float32)
        for row in range(ptr.size - 1):
            tokens = idx[ptr[row] : ptr[row + 1]]
            if tokens.size:
                sharing = np.unique(owners[np.isin(old_idx, tokens)])
                if sharing.size:
                    out[row] = float(np.median(bias[sharing]))
        return out


def _mergehistories(
    old_items: np.ndarray, old_times: np.ndarray, new_items: np.ndarray, new_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the union of two right-aligned histories (deduplicated on item and time), newest kept."""
    length = old_items.shape[1]
    items, times = new_items.copy(), new_times.copy()
    for row in np.flatnonzero((old_items >= 0).any(axis=1)).tolist():
        pairs = {
            (t, i)
            for src_i, src_t in ((old_items[row], old_times[row]), (new_items[row], new_times[row]))
            for i, t in zip(src_i.tolist(), src_t.tolist(), strict=True)
            if i >= 0
        }
        merged = sorted(pairs)[-length:]
        items[row] = -1
        times[row] = 0
        if merged:
            items[row, length - len(merged) :] = [i for _, i in merged]
            times[row, length - len(merged) :] = [t for t, _ in merged]
    return items, times


class UserPersonalizationV2(TransformerRecipe):
    """``aws-user-personalization-v2``: a causal self-attention transformer over the user's events.

    It does not explore, as the service's v2 recipe does not: new items come in through promotions, so
    asking for exploration is refused.
    """

    name = "aws-user-personalization-v2"
    recipe_type = "USER_PERSONALIZATION"

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
        exploration_weight: float = 0.0,
        exploration_item_age_cut_off: float = 30.0,
        context: Mapping[str, str] | None = None,
    ) -> Ranked:
        """Top ``n`` items for the user (in ``context``); ``exploration_weight`` must be 0 (the recipe does not
        explore)."""
        if exploration_weight:
            raise RecipeInputError(
                f"{self.name} does not explore new items (exploration_weight {exploration_weight}); "
                "use a promotion to include new items"
            )
        return super().recommend(
            user_id=user_id, item_id=item_id, n=n, recent_events=recent_events, exclude=exclude, context=context
        )


__all__ = ["UserPersonalization", "UserPersonalizationV2"]
