"""The sequence models of User-Personalization and Personalized-Ranking: features, training, serving, format.

- :mod:`.features`: metadata tokens, users' histories and training windows from the frames (numpy);
- :mod:`.training`: :class:`GRUTrainer`, the Keras training of the GRU model, and the epoch loop and
  continuation both models share (TensorFlow is imported by :mod:`.backend`, quietly, when a model is fitted,
  and only then);
- :mod:`.sampled`: the sampled softmax of large catalogues: its negatives, and steps by item rows;
- :mod:`.output`: the output layer both models train with: full or sampled logits, and the learned repeat weights;
- :mod:`.transformer` and :mod:`.transformer_recipe`: the v2 recipes' transformer, its training and serving;
- :mod:`.cooccurrence`: the recency-weighted co-occurrence term and the choice of its weight;
- :mod:`.quick`: the fast profile's closed-form weights (no TensorFlow);
- :mod:`.serving`: the GRU step, products and softmax in numpy, for answering requests without TensorFlow;
- :mod:`.ranking`: a request's steps around the query (its events read, repeat terms, the top items);
- :mod:`.saved`: what ``model.npz`` and ``model.json`` hold;
- :mod:`.model`: :class:`SequenceRecipe`, the recipe that ties them together.
"""

from __future__ import annotations

from personalize_kit.recipes.sequence.features import (
    PROFILE_EVENTS,
    clean_interactions,
    creation_times,
    csr,
    histories,
    item_token_lists,
    user_token_lists,
    windows,
)
from personalize_kit.recipes.sequence.model import (
    DEFAULT_HYPERPARAMETERS,
    HYPERPARAMETER_RANGES,
    SequenceRecipe,
    resolve_hyperparameters,
)
from personalize_kit.recipes.sequence.serving import gru_run, softmax
from personalize_kit.recipes.sequence.training import GRUTrainer, TrainingSettings, training_budget

__all__ = [
    "DEFAULT_HYPERPARAMETERS",
    "HYPERPARAMETER_RANGES",
    "PROFILE_EVENTS",
    "GRUTrainer",
    "SequenceRecipe",
    "TrainingSettings",
    "clean_interactions",
    "creation_times",
    "csr",
    "gru_run",
    "histories",
    "item_token_lists",
    "resolve_hyperparameters",
    "softmax",
    "training_budget",
    "user_token_lists",
    "windows",
]
