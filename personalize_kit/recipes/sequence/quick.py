"""Closed-form weights for the GRU model, in numpy: the fast profile's training (no TensorFlow, no epochs).

The weights are chosen, not learned, so that the GRU serving of :class:`SequenceRecipe` computes a
recency-weighted item-to-item score: ``score(j) = sum_k decay**k * S[i_k, j]`` over the user's items
``i_0`` (newest), ``i_1``, ... where ``S`` adds the item-to-next-item transition rates to the cosine
co-occurrence of items in users' histories. ``S`` is factored to rank ``r = dim // 2`` (``S ~ U V^T``,
randomised SVD) where ``dim`` is ``hidden_dimension`` up to :data:`MAX_DIM`; an item's vector is
``[U_i | V_i]``. The GRU's update gate is the constant ``decay`` and its candidate reads ``U`` (scaled
into tanh's linear range), so its state is the decayed sum of the ``U`` of the items read; the output
kernel moves that sum onto the ``V`` half, so a dot product with an item vector gives the score. The
item bias is a small log-popularity prior, which ranks items for a user without history. Metadata and
profile terms are zero.

It learns what co-occurrence and order show (the next item after A is B; a user's newest genre wins),
in about a second for the data of application tests; the faithful profile trains the GRU in Keras.
"""

from __future__ import annotations

import numpy as np

#: Weight of the newest item over the one before it (and so on) in the user's state.
DECAY = 0.7
#: Logit scale of the scores (the softmax of a score of 1 against 0 is this peaked).
SCALE = 8.0
#: Weight of the log-popularity prior in the logits.
PRIOR = 0.1
#: Largest vector size of the closed-form model (it is served by the same numpy code, whose cost grows with it).
MAX_DIM = 64


def similarity(user_codes: np.ndarray, item_codes: np.ndarray, n_items: int) -> np.ndarray | object:
    """``S`` (sparse, items x items): transition rates i -> next item plus cosine co-occurrence, no diagonal.

    ``user_codes``/``item_codes`` are sorted by user then time.
    """
    from scipy import sparse

    n_users = int(user_codes.max()) + 1 if user_codes.size else 0
    same = user_codes[1:] == user_codes[:-1]
    pairs = sparse.csr_matrix(
        (np.ones(int(same.sum()), np.float32), (item_codes[:-1][same], item_codes[1:][same])), shape=(n_items, n_items)
    )
    rates = sparse.diags(1.0 / np.maximum(np.asarray(pairs.sum(axis=1)).ravel(), 1.0)) @ pairs
    seen = sparse.csr_matrix((np.ones(user_codes.size, np.float32), (user_codes, item_codes)), shape=(n_users, n_items))
    seen.data[:] = 1.0
    together = (seen.T @ seen).tocsr()
    norms = np.sqrt(np.maximum(together.diagonal(), 1.0))
    cosine = sparse.diags(1.0 / norms) @ together @ sparse.diags(1.0 / norms)
    out = (rates + cosine).tocsr()
    out.setdiag(0.0)
    out.eliminate_zeros()
    return out


def factor(matrix: object, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``U, V`` with ``U @ V.T ~ matrix`` (randomised SVD, two power iterations; exact when rank >= size)."""
    n = matrix.shape[0]  # type: ignore[attr-defined]
    if n <= rank:
        dense = matrix.toarray()  # type: ignore[attr-defined]
        return dense.astype(np.float32), np.eye(n, dtype=np.float32)
    rng = np.random.default_rng(seed)
    basis = np.asarray(matrix @ rng.standard_normal((n, rank + 8)))
    for _ in range(2):
        basis, _ = np.linalg.qr(basis)
        basis = np.asarray(matrix @ np.asarray(matrix.T @ basis))  # type: ignore[attr-defined]
    basis, _ = np.linalg.qr(basis)
    small = np.asarray(matrix.T @ basis).T  # basis.T @ matrix
    left, values, right = np.linalg.svd(small, full_matrices=False)
    root = np.sqrt(values[:rank])
    u = (basis @ left[:, :rank]) * root
    return u.astype(np.float32), (right[:rank].T * root).astype(np.float32)


def quick_weights(
    user_codes: np.ndarray,
    item_codes: np.ndarray,
    item_counts: np.ndarray,
    *,
    hidden: int,
    n_item_tokens: int,
    n_user_tokens: int,
    seed: int = 0,
    decay: float = DECAY,
) -> dict[str, np.ndarray]:
    """The arrays of ``saved.GRU_WEIGHTS`` for the closed-form model (see the module's description)."""
    n_items = item_counts.size
    hidden = min(hidden, MAX_DIM)
    rank = hidden // 2
    u, v = factor(similarity(user_codes, item_codes, n_items), rank, seed)
    r = u.shape[1]
    vectors = np.zeros((n_items, hidden), np.float32)
    vectors[:, :r], vectors[:, rank : rank + r] = u, v
    step = 0.5 / max(float(np.abs(u).max()) if u.size else 0.0, 1e-6)  # keeps tanh close to linear
    kernel = np.zeros((hidden, 3 * hidden), np.float32)
    kernel[np.arange(r), 2 * hidden + np.arange(r)] = step
    gru_bias = np.zeros((2, 3 * hidden), np.float32)
    gru_bias[0, :hidden] = np.log(decay / (1.0 - decay))  # update gate z = decay whatever the input
    out_kernel = np.zeros((hidden, hidden), np.float32)
    out_kernel[np.arange(r), rank + np.arange(r)] = SCALE / (step * (1.0 - decay))
    prior = np.log((item_counts.astype(np.float64) + 1.0) / (item_counts.sum() + n_items))
    zeros = np.zeros((hidden, hidden), np.float32)
    return {
        "item_own_vectors": vectors,
        "item_token_vectors": np.zeros((max(1, n_item_tokens), hidden), np.float32),
        "item_bias": (PRIOR * (prior - prior.mean())).astype(np.float32),
        "repeat": np.zeros(2, np.float32),
        "user_token_vectors": np.zeros((max(1, n_user_tokens), hidden), np.float32),
        "init_kernel": zeros,
        "init_bias": np.zeros(hidden, np.float32),
        "gru_kernel": kernel,
        "gru_recurrent": np.zeros((hidden, 3 * hidden), np.float32),
        "gru_bias": gru_bias,
        "out_kernel": out_kernel,
        "out_bias": np.zeros(hidden, np.float32),
        "profile_kernel": zeros,
        "metadata_kernel": zeros,
    }


__all__ = ["DECAY", "quick_weights"]
