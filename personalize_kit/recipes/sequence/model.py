"""The GRU sequence model shared by User-Personalization and Personalized-Ranking (HRNN / GRU4Rec kind).

:class:`SequenceRecipe` fits on the frames (features from :mod:`.features`, training by
:class:`~personalize_kit.recipes.sequence.training.GRUTrainer`) and serves in numpy (:mod:`.serving`): the
query at the end of each known user's history is cached; events sent since (``recent_events``) are merged
with the history, the GRU runs again over the newest ``bptt`` of them and the profile is taken over the
newest :data:`~personalize_kit.recipes.sequence.features.PROFILE_EVENTS`, so recommendations follow the
user's latest actions, also for users never seen in training. The saved format is in :mod:`.saved`.

>>> HYPERPARAMETER_RANGES["hidden_dimension"]
('integer', 32, 256)
>>> check_hyperparameters(HYPERPARAMETER_RANGES, DEFAULT_HYPERPARAMETERS, {"hidden_dimension": "512"}, recipe="r")
['hidden_dimension must be an integer in [32, 256], not 512']
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.lru import LRU
from personalize_kit.recipes import context as _context
from personalize_kit.recipes.base import Range, Ranked, Recipe, check_hyperparameters
from personalize_kit.recipes.sequence import cooccurrence
from personalize_kit.recipes.sequence.backend import one_blas_thread
from personalize_kit.recipes.sequence.features import (
    NO_TIME,
    PROFILE_EVENTS,
    Encoded,
    clean_interactions,
    csr_mean,
    encode,
    histories,
    windows,
)
from personalize_kit.recipes.sequence.quick import quick_weights
from personalize_kit.recipes.sequence.ranking import add_repeat_terms, event_codes, merged_sequence, top_ranked
from personalize_kit.recipes.sequence.saved import FORMAT_VERSION, GRU_WEIGHTS, STRING_ARRAYS, check_format
from personalize_kit.recipes.sequence.serving import gru_run, matrix_vector, softmax, vector_matrix
from personalize_kit.recipes.sequence.training import GRUTrainer, Metadata, TrainingSettings

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


def resolve_hyperparameters(hyperparameters: Mapping[str, str] | None, recipe: str) -> dict[str, Any]:
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


#: Users whose served state (query and newest events) a model keeps, per process.
SERVED_USERS = 4096
#: Bytes of co-occurrence terms (one catalogue-sized float32 vector per served state) a model keeps, per process.
COOCCURRENCE_TERM_BYTES = 64 * 2**20

#: Most epochs of a training continued from an earlier model (:meth:`SequenceRecipe.refit`).
REFIT_EPOCHS = 3

#: How a sequence model's weights are obtained (``SequenceRecipe(training=...)``).
TRAININGS = ("keras", "closed-form")


class SequenceRecipe(Recipe):
    """Shared implementation of the HRNN-kind recipes; subclasses set the service name and type.

    ``max_epochs``, ``seed``, ``batch_size`` (windows per step; ``None`` grows it with the data),
    ``learning_rate``, ``dropout`` and ``time_budget`` (seconds of training; ``None`` scales it with the
    data, see :func:`training_budget`) tune the local training; the service's hyperparameters come through
    ``fit``. ``training`` is ``"keras"`` (the faithful model, :class:`GRUTrainer`) or ``"closed-form"`` (the
    fast profile: weights computed in numpy from co-occurrence, :mod:`.quick`). ``cooccurrence_weight`` is the
    weight of a recency-weighted co-occurrence term added to the scores (:mod:`.cooccurrence`, with
    ``cooccurrence_decay`` and ``cooccurrence_neighbours``): ``None``, the default, chooses it on the
    training's validation users (0 when it does not help), 0 leaves it out.
    """

    default_hyperparameters: ClassVar[Mapping[str, str]] = DEFAULT_HYPERPARAMETERS
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = HYPERPARAMETER_RANGES
    uses_context: ClassVar[bool] = True

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
        training: str = "keras",
        cooccurrence_weight: float | None = None,
        cooccurrence_decay: float = 0.8,
        cooccurrence_neighbours: int = 300,
    ) -> None:
        self._start: SequenceRecipe | None = None
        self.cooccurrence = {"weight": cooccurrence_weight, "decay": cooccurrence_decay,
                             "neighbours": cooccurrence_neighbours}  # fmt: skip
        if training not in TRAININGS:
            raise RecipeInputError(f"training must be one of {', '.join(TRAININGS)}, not {training!r}")
        self.training = training
        self.max_epochs, self.seed, self.batch_size = max_epochs, seed, batch_size
        self.learning_rate, self.dropout, self.time_budget, self.verbose = (
            learning_rate,
            dropout,
            time_budget,
            verbose,
        )
        self.hyperparameters: dict[str, Any] = resolve_hyperparameters({}, getattr(self, "name", "the recipe"))
        self.training_log: list[dict[str, float]] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._settings: dict[str, Any] = {}

    # ----------------------------------------------------------------------------------- fitting

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> SequenceRecipe:
        """Train the sequence model (TensorFlow is imported here, and only here)."""
        with one_blas_thread() if self.training == "closed-form" else contextlib.nullcontext():
            self._fit(interactions, items, users, hyperparameters)
            _context.attach(self, interactions)
        return self

    def _fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None,
        users: pd.DataFrame | None,
        hyperparameters: Mapping[str, str] | None,
    ) -> SequenceRecipe:
        self.hyperparameters = resolve_hyperparameters(hyperparameters, self.name)
        hp = self.hyperparameters
        user_ids, item_ids, stamps = clean_interactions(interactions)
        if item_ids.size == 0:
            raise RecipeInputError("cannot train on an empty interactions dataset")
        data = encode(user_ids, item_ids, stamps, items, users)
        a = data.arrays
        weights = self._weights(data, stamps)
        length = max(hp["bptt"], PROFILE_EVENTS)
        hist_items, hist_times = histories(data.user_codes, data.item_codes, stamps, a["users"].size, length)
        self._arrays = {**a, "history_items": hist_items, "history_times": hist_times, **weights}
        self._settings = {
            "format": FORMAT_VERSION,
            "model": "gru",
            "cooccurrence": None,
            "hyperparameters": {k: str(v).lower() if isinstance(v, bool) else v for k, v in hp.items()},
            "user_columns": data.user_columns,
            "latest_timestamp": int(stamps.max()),
            "training_log": self.training_log,
        }
        self._prepare()
        self._arrays["user_queries"] = self._queries_for_all_users()
        cooccurrence.attach(self, data.user_codes, data.item_codes, self._validation_users, self.cooccurrence,
                            PROFILE_EVENTS)  # fmt: skip
        return self

    def _weights(self, data: Encoded, stamps: np.ndarray) -> dict[str, np.ndarray]:
        """The model's weights: trained in Keras, or computed in closed form (the fast profile)."""
        hp, a = self.hyperparameters, data.arrays
        n_item_tokens, n_user_tokens = a["item_token_names"].size, a["user_token_names"].size
        self._validation_users: np.ndarray | None = None
        if self.training == "closed-form":
            return quick_weights(
                data.user_codes, data.item_codes, a["item_counts"], hidden=hp["hidden_dimension"],
                n_item_tokens=n_item_tokens, n_user_tokens=n_user_tokens, seed=self.seed,
            )  # fmt: skip
        metadata = Metadata(
            a["items"].size, a["item_token_ptr"], a["item_token_idx"], a["user_token_ptr"], a["user_token_idx"],
            n_item_tokens, n_user_tokens, a["item_counts"],
        )  # fmt: skip
        settings = TrainingSettings(
            hp["hidden_dimension"], self.seed, self.max_epochs, self.batch_size, self.learning_rate, self.dropout,
            self.time_budget, self.verbose,
        )  # fmt: skip
        training = windows(data.user_codes, data.item_codes, stamps, a["users"].size, hp)
        initial, fresh = None, None
        if self._start is not None:
            initial = self._start.aligned_weights(a, hp["hidden_dimension"], GRU_WEIGHTS)
            fresh = self._start.new_users(a["users"])
        trainer = GRUTrainer(training, metadata, settings, initial, fresh)
        weights = trainer.run(self.training_log)
        self._validation_users = trainer.validation_users
        return weights

    def refit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> SequenceRecipe:
        """A new model trained on ``interactions`` starting from this model's weights, for at most
        :data:`REFIT_EPOCHS` epochs: the mirror trains a solution version once on the service's split (for
        the metrics), then continues on all the data instead of training the final model from scratch.

        Items and metadata tokens new to this model start fresh; everything else starts where it was.
        """
        model = type(self)(
            max_epochs=min(self.max_epochs, REFIT_EPOCHS), seed=self.seed, batch_size=self.batch_size,
            learning_rate=self.learning_rate, dropout=self.dropout, time_budget=self.time_budget,
            verbose=self.verbose, training=self.training, cooccurrence_weight=self.cooccurrence["weight"],
            cooccurrence_decay=self.cooccurrence["decay"], cooccurrence_neighbours=self.cooccurrence["neighbours"],
        )  # fmt: skip
        model._start = self if self.training == "keras" else None
        model.fit(interactions, items, users, hyperparameters)
        model._start = None
        return model

    def new_users(self, users: np.ndarray) -> np.ndarray:
        """Positions in ``users`` of the users this model never trained on."""
        return np.flatnonzero(~pd.Index(users).isin(list(self._user_index)))

    def aligned_weights(
        self,
        arrays: Mapping[str, np.ndarray],
        hidden: int,
        names: Sequence[str],
        weights: Mapping[str, np.ndarray] | None = None,
    ) -> dict[str, tuple[np.ndarray, np.ndarray | None]] | None:
        """This model's weights ``names`` (or ``weights``, laid out as this model's) laid out for another
        model's ``arrays`` (its catalogue and token vocabularies): ``name -> (values, rows taken)``, matched by
        item id and token name; ``None`` when the sizes differ."""
        mine = {**self._arrays, **(weights or {})}
        if not mine or mine["item_own_vectors"].shape[1] != hidden:
            return None
        out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        for name, ids, new_ids in (
            ("item_own_vectors", "items", "items"),
            ("item_bias", "items", "items"),
            ("item_token_vectors", "item_token_names", "item_token_names"),
            ("user_token_vectors", "user_token_names", "user_token_names"),
        ):
            if name not in names:
                continue
            where = pd.Index(mine[ids]).get_indexer(arrays[new_ids])
            values = mine[name][np.maximum(where, 0)]
            if where.size:  # without tokens, the one placeholder row stays fresh
                out[name] = (values, where >= 0)
        rowed = ("item_own_vectors", "item_bias", "item_token_vectors", "user_token_vectors")
        out.update({name: (mine[name], None) for name in names if name not in rowed})
        return out

    # ------------------------------------------------------------------------------- derived

    def _prepare(self) -> None:
        """Derive the serving tables (item vectors, GRU input projections, lookups) from the arrays."""
        a = self._arrays
        token_mean = csr_mean(a["item_token_ptr"], a["item_token_idx"], a["item_token_vectors"])
        self._vectors = (a["item_own_vectors"] + token_mean).astype(np.float32)
        self._x_proj = (self._vectors @ a["gru_kernel"] + a["gru_bias"][0]).astype(np.float32)
        self._item_index = {item: i for i, item in enumerate(a["items"].tolist())}
        self._user_index = {user: i for i, user in enumerate(a["users"].tolist())}
        self._user_feature = csr_mean(a["user_token_ptr"], a["user_token_idx"], a["user_token_vectors"])
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
        self._serving_memos()

    def _serving_memos(self) -> None:
        """The co-occurrence term's setting and the per-process memos of served states and terms (after
        ``_catalogue`` is set)."""
        self._cooccurrence = self._settings.get("cooccurrence")
        self._served: LRU = LRU(SERVED_USERS)  # (user, item) -> (recent_events, (query, recent)), see _state
        terms = int(np.clip(COOCCURRENCE_TERM_BYTES // (4 * max(1, self._catalogue.size)), 16, SERVED_USERS))
        self._cooc_terms: LRU = LRU(terms)  # id(recent) -> (recent, term), see _cooccurrence_term

    def _query(self, state: np.ndarray, profile: np.ndarray, user_feature: np.ndarray) -> np.ndarray:
        """The vector the item vectors are scored against: from the GRU state, the profile and the metadata."""
        a = self._arrays
        query = vector_matrix(state, a["out_kernel"]) + vector_matrix(profile, a["profile_kernel"])
        return (query + vector_matrix(user_feature, a["metadata_kernel"]) + a["out_bias"]).astype(np.float32)

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
        none = np.empty(0, dtype=np.int64)
        if recent_events is None or len(recent_events) == 0:
            return row, none
        events = event_codes(recent_events, self._item_index)
        past: list[tuple[int, int]] = []
        if row is not None:
            a = self._arrays
            hist = a["history_items"][row]
            valid = hist >= 0
            past = list(zip(a["history_times"][row][valid].tolist(), hist[valid].tolist(), strict=True))
            seen = set(past)
            events = [e for e in events if e not in seen]
        if not events:
            return row, none
        sequence = merged_sequence(past, events, max(self._bptt, PROFILE_EVENTS))
        if row is not None and sequence == [code for _, code in past]:  # only events older than the kept history
            return row, none
        return row, np.asarray(sequence, dtype=np.int64)

    def _state(
        self, user_id: str | None, recent_events: pd.DataFrame | None, item_id: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The query after the user's newest events, and the item codes of the newest :data:`PROFILE_EVENTS`.

        The GRU runs over the newest ``bptt`` events; the profile is the mean over all of those codes. What
        was computed for a user is kept while the same ``recent_events`` frame comes again (the mirror hands
        the same object while the user's newest events are unchanged), so a user with a long history costs
        one lookup, as a user without one does.
        """
        if user_id is None or recent_events is None:
            return self._compute_state(user_id, recent_events, item_id)
        kept = self._served.get((user_id, item_id))
        if kept is not None and kept[0] is recent_events:
            return kept[1]
        state = self._compute_state(user_id, recent_events, item_id)
        self._served.put((user_id, item_id), (recent_events, state))
        return state

    def _compute_state(
        self, user_id: str | None, recent_events: pd.DataFrame | None, item_id: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if item_id is not None and user_id is None:
            extra = pd.DataFrame({"ITEM_ID": [item_id], "TIMESTAMP": [NO_TIME]})
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
        extra = self._cooccurrence_term(recent)
        if codes is None:
            logits = matrix_vector(self._vectors, query)
            logits += self._bias
            add_repeat_terms(logits, recent, bptt=self._bptt, repeat=self._repeat, repeat_earlier=self._repeat_earlier)
            return logits if extra is None else logits + extra
        window, earlier = recent[-self._bptt :], recent[: -self._bptt]
        logits = matrix_vector(self._vectors[codes], query) + self._bias[codes]
        in_window = np.isin(codes, window)
        logits = logits + self._repeat * in_window + self._repeat_earlier * (np.isin(codes, earlier) & ~in_window)
        return logits if extra is None else logits + extra[codes]

    def _cooccurrence_term(self, recent: np.ndarray) -> np.ndarray | None:
        """``weight x`` the recency-weighted co-occurrence scores of the user's events, or None when off."""
        if not self._cooccurrence or recent.size == 0:
            return None
        kept = self._cooc_terms.get(id(recent))  # the same ``recent`` array comes back from _state's memo
        if kept is not None and kept[0] is recent:
            return kept[1]
        term = cooccurrence.scores(self._arrays, recent, self._catalogue.size, float(self._cooccurrence["decay"]))
        term *= np.float32(self._cooccurrence["weight"])
        self._cooc_terms.put(id(recent), (recent, term))
        return term

    def scores(self, user_id: str | None = None, recent_events: pd.DataFrame | None = None) -> np.ndarray:
        """Softmax over the whole catalogue (in :attr:`catalogue` order) for a user.

        >>> # model.scores("u1").sum() == 1.0
        """
        return softmax(self._logits(*self._state(user_id, recent_events)))

    def _top(self, probabilities: np.ndarray, n: int, exclude: Sequence[str]) -> Ranked:
        """The ``n`` best items not in ``exclude``, by score then catalogue position."""
        index = self._item_index
        skip = {index[i] for i in exclude if i in index} if exclude else set()
        names = self.__dict__.get("_names")  # the catalogue as Python strings, made once
        if names is None or len(names) != self._catalogue.size:
            names = self._names = self._catalogue.tolist()
        return top_ranked(probabilities, n, skip, names)

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
        context: Mapping[str, str] | None = None,
    ) -> Ranked:
        """Top ``n`` items for the user (in ``context``); scores are the softmax over the catalogue."""
        logits = self._logits(*self._state(user_id, recent_events, item_id))
        return self._top(softmax(_context.apply(self._arrays, self._settings, logits, context)), n, exclude)

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None,
             context: Mapping[str, str] | None = None) -> Ranked:  # fmt: skip
        """Order ``items`` for the user (in ``context``); scores are a softmax over the known items of the list.

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
        logits = self._logits(*self._state(user_id, recent_events), codes=codes)
        probabilities = softmax(_context.apply(self._arrays, self._settings, logits, context, codes))
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
        check_format(settings)
        model = cls()
        model._arrays = {key: np.asarray(value) for key, value in arrays.items()}
        for key in STRING_ARRAYS:
            model._arrays[key] = model._arrays[key].astype(str)
        model._settings = dict(settings)
        model.hyperparameters = resolve_hyperparameters(
            {k: str(v) for k, v in settings["hyperparameters"].items()}, cls.name
        )
        model.training_log = list(settings.get("training_log", []))
        model._prepare()
        return model


__all__ = ["DEFAULT_HYPERPARAMETERS", "HYPERPARAMETER_RANGES", "SequenceRecipe", "resolve_hyperparameters"]
