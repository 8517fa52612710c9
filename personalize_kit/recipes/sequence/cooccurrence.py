"""A recency-weighted co-occurrence term for the sequence models' scores (an optional ensemble).

At fit time each item keeps its ``neighbours`` most similar items by cosine similarity of the items' user
sets (the binary user-item matrix), as CSR arrays. At serving time the user's newest events (newest first,
``k = 0, 1, ...``; an item seen twice counts at its newest position) give
``score(j) = sum_k decay**k * similarity(i_k, j)``, scaled to at most 1 and added to the model's logits
times ``weight``: the neural model's view of the sequence and the plain co-occurrence of items, which the
recency-weighted item-kNN baseline shows is a strong signal on its own, in one score.
"""

from __future__ import annotations

import numpy as np


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
        top = np.argsort(-block, axis=1, kind="stable")[:, :k]
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


__all__ = ["neighbours", "scores"]
