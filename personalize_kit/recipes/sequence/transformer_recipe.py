"""The recipe around the transformer (:mod:`.transformer`): fitting, numpy serving and the saved format.

It shares the GRU recipe's features, history merging, ranking and persistence (:class:`SequenceRecipe`)
and replaces the model: the query is the transformer's output at the user's newest event; there is no user
metadata and no exploration (the v2 recipes bring new items in with promotions). The learned repeat terms
(:mod:`.output`) and the recency-weighted co-occurrence term (:mod:`.cooccurrence`, its weight chosen at fit
time) are added to the scores as for the GRU recipe.

A model is :data:`MEMBERS` transformers trained alike from different seeds (on the same validation users), whose
logits are averaged: one transformer's ranking varies with its seed about as much as any setting moves it,
and the average of a few ranks better than each of them (``scripts/results/quality_v2_*.md``). Serving stays
one product over the catalogue: the members' queries side by side against their item vectors side by side,
divided by their number, plus the mean of their item biases and repeat weights. The saved weights have the
members on their first axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes import context as _context
from personalize_kit.recipes.base import Range, check_hyperparameters
from personalize_kit.recipes.sequence import cooccurrence
from personalize_kit.recipes.sequence.features import (
    NO_TIME,
    PROFILE_EVENTS,
    clean_interactions,
    csr_mean,
    encode,
    histories,
    windows,
)
from personalize_kit.recipes.sequence.model import REFIT_EPOCHS, SequenceRecipe
from personalize_kit.recipes.sequence.saved import STRING_ARRAYS, check_format
from personalize_kit.recipes.sequence.training import Metadata
from personalize_kit.recipes.sequence.transformer import (
    ENCODER_WEIGHTS,
    MAX_LENGTH,
    TransformerSettings,
    TransformerTrainer,
    encode_sequence,
    weight_names,
)

#: The v2 recipes' hyperparameters and ranges, and their defaults (strings, as the service takes them).
V2_RANGES: dict[str, Range] = {"apply_recency_bias": ("categorical", ("true", "false"))}
V2_DEFAULTS: dict[str, str] = {"apply_recency_bias": "true"}
#: Saved-format version of the transformer models (2: with the repeat weights; 3: members on the weights' first
#: axis, a format-2 model reads as one member).
V2_FORMAT = 3
#: Transformers a model averages (``members``).
MEMBERS = 3


def resolve_v2(hyperparameters: Mapping[str, str] | None, recipe: str) -> dict[str, Any]:
    errors = check_hyperparameters(V2_RANGES, V2_DEFAULTS, hyperparameters, recipe=recipe)
    if errors:
        raise RecipeInputError("invalid hyperparameters: " + "; ".join(errors))
    merged = {**V2_DEFAULTS, **{k: str(v).strip() for k, v in (hyperparameters or {}).items()}}
    return {"apply_recency_bias": merged["apply_recency_bias"].lower() == "true"}


class TransformerRecipe(SequenceRecipe):
    """Shared implementation of the v2 recipes; ``dim``, ``max_length`` (the newest events a query reads),
    ``max_epochs``, ``seed`` (member ``k`` trains with ``seed + k``), ``batch_size``, ``learning_rate``,
    ``dropout``, ``time_budget`` (per member) and ``members`` (transformers averaged) tune the local
    training; ``cooccurrence_weight`` (``None``: chosen at fit time, 0: off), ``cooccurrence_decay`` and
    ``cooccurrence_neighbours`` set the co-occurrence term added to the scores, as for the GRU recipe
    (:mod:`.cooccurrence`)."""

    default_hyperparameters: ClassVar[Mapping[str, str]] = V2_DEFAULTS
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = V2_RANGES

    def __init__(
        self,
        *,
        dim: int = 64,
        max_length: int = MAX_LENGTH,
        seed: int = 0,
        max_epochs: int = 20,
        batch_size: int | None = None,
        learning_rate: float = 2e-3,
        dropout: float = 0.2,
        time_budget: float | None = None,
        training: str = "keras",
        cooccurrence_weight: float | None = None,
        cooccurrence_decay: float = 0.8,
        cooccurrence_neighbours: int = 300,
        members: int = MEMBERS,
    ) -> None:
        if members < 1:
            raise RecipeInputError(f"members must be at least 1, not {members}")
        super().__init__(seed=seed, max_epochs=max_epochs, batch_size=batch_size, learning_rate=learning_rate,
                         dropout=dropout, time_budget=time_budget, training=training,
                         cooccurrence_weight=cooccurrence_weight, cooccurrence_decay=cooccurrence_decay,
                         cooccurrence_neighbours=cooccurrence_neighbours)  # fmt: skip
        self.dim, self.max_length, self.members = dim, max_length, members
        self.hyperparameters = resolve_v2({}, getattr(self, "name", "the recipe"))

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> TransformerRecipe:
        """Train the transformer (TensorFlow is imported here); user metadata is not used.

        With ``training="closed-form"`` (the fast profile) the model is the GRU model's closed form instead.
        """
        hp = resolve_v2(hyperparameters, self.name)
        if self.training == "closed-form":
            super().fit(interactions, items, users)
            self.hyperparameters = hp
            return self
        self.hyperparameters = hp
        user_ids, item_ids, stamps = clean_interactions(interactions)
        if item_ids.size == 0:
            raise RecipeInputError("cannot train on an empty interactions dataset")
        data = encode(user_ids, item_ids, stamps, items, None)
        a = data.arrays
        window_hp = {"bptt": self.max_length, "recency_mask": hp["apply_recency_bias"],
                     "min_user_history_length_percentile": 0.0, "max_user_history_length_percentile": 1.0}  # fmt: skip
        training = windows(data.user_codes, data.item_codes, stamps, a["users"].size, window_hp)
        metadata = Metadata(a["items"].size, a["item_token_ptr"], a["item_token_idx"], a["user_token_ptr"],
                            a["user_token_idx"], a["item_token_names"].size, 0, a["item_counts"])  # fmt: skip
        start = self._start if isinstance(self._start, TransformerRecipe) else None
        fresh = start.new_users(a["users"]) if start is not None else None
        trained: list[dict[str, np.ndarray]] = []
        validation_users = None  # the first member draws them; the others validate on the same users
        for member in range(self.members):
            settings = TransformerSettings(
                self.dim, self.seed + member, self.max_epochs, self.batch_size, self.learning_rate, self.dropout,
                self.time_budget, self.max_length,
            )  # fmt: skip
            initial = start._member_start(member, a, self.dim) if start is not None else None
            trainer = TransformerTrainer(training, metadata, settings, initial, fresh, validation_users)
            log: list[dict[str, float]] = []
            trained.append(trainer.run(log))
            self.training_log.extend({"member": member, **entry} for entry in log)
            validation_users = trainer.validation_users
        weights = {name: np.stack([one[name] for one in trained]) for name in trained[0]}
        length = max(self.max_length, PROFILE_EVENTS)
        hist_items, hist_times = histories(data.user_codes, data.item_codes, stamps, a["users"].size, length)
        self._arrays = {**a, "history_items": hist_items, "history_times": hist_times, **weights}
        self._settings = {
            "format": V2_FORMAT,
            "model": "transformer",
            "cooccurrence": None,
            "hyperparameters": {k: str(v).lower() for k, v in hp.items()},
            "user_columns": [],
            "latest_timestamp": int(stamps.max()),
            "training_log": self.training_log,
        }
        self._prepare()
        self._arrays["user_queries"] = self._queries_for_all_users()
        # the weight is chosen on the validation users' newest events, in sets of a tenth as the service's metrics
        # hold them out (none of a validation user's newest window of max_length events was a training target)
        cooccurrence.attach(self, data.user_codes, data.item_codes, validation_users, self.cooccurrence,
                            PROFILE_EVENTS, self.max_length)  # fmt: skip
        _context.attach(self, interactions)
        return self

    def refit(self, interactions: pd.DataFrame, items: pd.DataFrame | None = None, users: pd.DataFrame | None = None,
              hyperparameters: Mapping[str, str] | None = None) -> TransformerRecipe:  # fmt: skip
        """A new model trained on ``interactions`` starting from this model's weights, for at most
        :data:`~personalize_kit.recipes.sequence.model.REFIT_EPOCHS` epochs (as the GRU recipe's refit)."""
        model = type(self)(
            dim=self.dim, max_length=self.max_length, seed=self.seed, max_epochs=min(self.max_epochs, REFIT_EPOCHS),
            batch_size=self.batch_size, learning_rate=self.learning_rate, dropout=self.dropout,
            time_budget=self.time_budget, training=self.training, cooccurrence_weight=self.cooccurrence["weight"],
            cooccurrence_decay=self.cooccurrence["decay"], cooccurrence_neighbours=self.cooccurrence["neighbours"],
            members=self.members,
        )  # fmt: skip
        model._start = self if self.training == "keras" else None
        model.fit(interactions, items, users, hyperparameters)
        model._start = None
        return model

    def _member_start(
        self, member: int, arrays: Mapping[str, np.ndarray], dim: int
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]] | None:
        """Member ``member``'s weights laid out for a model of ``arrays`` to continue from (``None``: this model
        has no such member, or is not a transformer)."""
        if self._gru or member >= self._arrays["item_own_vectors"].shape[0]:
            return None
        names = weight_names()
        return self.aligned_weights(arrays, dim, names, {name: self._arrays[name][member] for name in names})

    @property
    def _gru(self) -> bool:
        """Whether this model is the GRU closed form (the fast profile) rather than the transformer."""
        return self._settings.get("model") == "gru"

    # ------------------------------------------------------------------------------- serving

    def _prepare(self) -> None:
        if self._gru:
            return super()._prepare()
        a = self._arrays
        own = a["item_own_vectors"]  # (members, items, dim)
        self._member_vectors = np.stack([
            own[k] + csr_mean(a["item_token_ptr"], a["item_token_idx"], a["item_token_vectors"][k])
            for k in range(own.shape[0])
        ]).astype(np.float32)  # fmt: skip
        self._member_weights = [{name: a[name][k] for name in ENCODER_WEIGHTS} for k in range(own.shape[0])]
        members = np.float32(own.shape[0])
        # the mean of the members' logits is one product: queries side by side . vectors side by side / members
        self._vectors = np.concatenate(list(self._member_vectors), axis=1) / members
        self._item_index = {item: i for i, item in enumerate(a["items"].tolist())}
        self._user_index = {user: i for i, user in enumerate(a["users"].tolist())}
        self._catalogue = a["items"].astype(str)
        self._bias = a["item_bias"].mean(axis=0).astype(np.float32)
        self._repeat, self._repeat_earlier = (np.float32(w) for w in a["repeat"].mean(axis=0)[:2])
        self._bptt = int(a["positions"].shape[1])  # the newest items a query reads
        self._default_query = np.zeros(self._vectors.shape[1], np.float32)  # the item bias alone: popularity
        self._serving_memos()

    def _encode(self, codes: np.ndarray) -> np.ndarray:
        """Queries of item-code rows (newest last, -1 = none on the left)."""
        codes = codes[:, -self._bptt :]
        length = (codes >= 0).sum(axis=1)
        left = np.zeros_like(codes)  # left-align: the oldest kept item at position 0
        for row in range(codes.shape[0]):
            present = codes[row][codes[row] >= 0]
            left[row, : present.size] = present
        positions = self._arrays["positions"][:, : codes.shape[1]]
        queries = np.concatenate([
            encode_sequence(weights, vectors[left] + positions[k][None], np.maximum(length, 1))
            for k, (vectors, weights) in enumerate(zip(self._member_vectors, self._member_weights, strict=True))
        ], axis=1)  # fmt: skip
        queries[length == 0] = self._default_query
        return queries

    def _queries_for_all_users(self, chunk: int = 2048) -> np.ndarray:
        if self._gru:
            return super()._queries_for_all_users()
        hist = self._arrays["history_items"]
        parts = [self._encode(hist[s : s + chunk]) for s in range(0, hist.shape[0], chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, self._vectors.shape[1]), np.float32)

    def _compute_state(self, user_id: str | None, recent_events: pd.DataFrame | None,
                       item_id: str | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        if self._gru:
            return super()._compute_state(user_id, recent_events, item_id)
        if item_id is not None and user_id is None:
            extra = pd.DataFrame({"ITEM_ID": [item_id], "TIMESTAMP": [NO_TIME]})
            recent_events = extra if recent_events is None else pd.concat([recent_events, extra], ignore_index=True)
        row, sequence = self._sequence(user_id, recent_events)
        if sequence.size == 0:
            if row is None:
                return self._default_query, sequence
            hist = self._arrays["history_items"][row]
            return self._arrays["user_queries"][row], hist[hist >= 0][-PROFILE_EVENTS:]
        return self._encode(sequence[None, :])[0], sequence[-PROFILE_EVENTS:]

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> TransformerRecipe:
        if settings.get("model") == "gru":
            model = super()._from_arrays(arrays, settings)
            assert isinstance(model, TransformerRecipe)
            model.hyperparameters = resolve_v2({}, cls.name)
            return model
        arrays, settings = _one_member_if_format_2(arrays, settings)
        check_format(settings, V2_FORMAT)
        model = cls()
        model._arrays = {key: np.asarray(value) for key, value in arrays.items()}
        for key in STRING_ARRAYS:
            model._arrays[key] = model._arrays[key].astype(str)
        model._settings = dict(settings)
        model.hyperparameters = resolve_v2({k: str(v) for k, v in settings["hyperparameters"].items()}, cls.name)
        model.training_log = list(settings.get("training_log", []))
        model._prepare()
        model.max_length, model.members = model._bptt, int(model._arrays["item_own_vectors"].shape[0])
        return model


def _one_member_if_format_2(
    arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]
) -> tuple[Mapping[str, np.ndarray], Mapping[str, Any]]:
    """A format-2 model (one transformer, no member axis) as a format-3 model of one member."""
    if settings.get("format") != 2:
        return arrays, settings
    names = set(weight_names())
    stacked = {key: value[None] if key in names else value for key, value in arrays.items()}
    return stacked, {**settings, "format": V2_FORMAT}


__all__ = ["MEMBERS", "V2_DEFAULTS", "V2_RANGES", "TransformerRecipe"]
