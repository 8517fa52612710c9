"""The saved format of a sequence model: ``model.npz`` (numpy arrays, no pickles) and ``model.json``.

``model.json`` holds ``format`` (:data:`FORMAT_VERSION`), the resolved ``hyperparameters``, the
``user_columns`` (how user metadata became tokens), ``latest_timestamp`` and the ``training_log``.
``model.npz`` holds the arrays of :data:`DATA_ARRAYS` (what the frames gave) and the learned weights
(:data:`GRU_WEIGHTS` for the GRU model), plus ``user_queries``, each known user's query at the end of its
history, cached so that a request without new events costs one product with the item vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from personalize_kit.exceptions import RecipeInputError

FORMAT_VERSION = 2

#: Arrays derived from the frames: the catalogue, metadata tokens (CSR), item statistics, users, histories.
DATA_ARRAYS = {
    "items": "catalogue item ids, sorted (str)",
    "item_token_ptr": "CSR row pointers of each item's metadata tokens",
    "item_token_idx": "CSR token indexes of the items",
    "item_token_names": "the item token vocabulary, e.g. GENRES=Drama",
    "item_counts": "interactions per item",
    "item_first_seen": "each item's first interaction time (-1: none)",
    "item_created": "each item's CREATION_TIMESTAMP (-1: none)",
    "users": "user ids, sorted (str)",
    "user_token_ptr": "CSR row pointers of each user's metadata tokens",
    "user_token_idx": "CSR token indexes of the users",
    "user_token_names": "the user token vocabulary, e.g. GENDER=F or AGE#2 (a quantile bin)",
    "history_items": "each user's newest items (catalogue positions), right-aligned, -1 = none",
    "history_times": "the times of history_items",
}

#: Learned weights of the GRU model (float32).
GRU_WEIGHTS = (
    "item_own_vectors",
    "item_token_vectors",
    "item_bias",
    "repeat",
    "user_token_vectors",
    "init_kernel",
    "init_bias",
    "gru_kernel",
    "gru_recurrent",
    "gru_bias",
    "out_kernel",
    "out_bias",
    "profile_kernel",
    "metadata_kernel",
)

#: Arrays of string ids, read back as ``str``.
STRING_ARRAYS = ("items", "users", "item_token_names", "user_token_names")


def check_format(settings: Mapping[str, Any], expected: int = FORMAT_VERSION) -> None:
    """Raise :class:`RecipeInputError` when ``model.json`` is of another format version."""
    if settings.get("format") != expected:
        raise RecipeInputError(
            f"model format {settings.get('format')!r} is not readable by this version (expects "
            f"{expected}); train the solution version again"
        )


__all__ = ["DATA_ARRAYS", "FORMAT_VERSION", "GRU_WEIGHTS", "STRING_ARRAYS", "check_format"]
