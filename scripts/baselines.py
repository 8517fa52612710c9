"""Reference recommenders for the quality benchmark (``bench_quality.py``); not part of the library.

Each baseline is fitted on an Interactions frame (``USER_ID``, ``ITEM_ID``) and answers two questions:

- ``recommend(histories, n, users=...)``: the top ``n`` items for each user, given the user's history
  (the items of that history are never recommended); a user the model was trained on may use what was
  learned about it (ALS), any other user is scored from the history alone (fold-in);
- ``related(items, n)``: the top ``n`` items related to each item (never the item itself).

Lists are filled with the most popular items when a model has fewer candidates than asked for.

- :class:`Popularity`: items by number of unique users;
- :class:`ItemKNN`: cosine similarity between the items' user columns, a user's score of an item is the
  sum of its similarities to the user's items (each item keeps its ``neighbours`` most similar items);
- :class:`RecencyItemKNN`: the same similarities, each of the user's items weighted by ``decay ** k`` where
  ``k`` is 0 for the user's newest item, 1 for the one before, ... (an item seen twice counts at its newest
  position); ``decay`` is tuned per data set by the benchmark (over :data:`DECAY_GRID`), 0.7 by default;
- :class:`BPR`: Bayesian personalised ranking (Rendle et al. 2009), ``implicit``'s; a user the model was not
  trained on is folded in as the mean of its history's item factors;
- :class:`ALS`: implicit-feedback matrix factorisation (Hu, Koren and Volinsky 2008) from the ``implicit``
  package; :class:`ScipyALS` is a plain numpy/scipy version of the same model, used when ``implicit`` is
  not installed (the results file says which one ran).

The settings (100 neighbours; ALS 32 factors, alpha 1, regularisation 0.05, 15 iterations) are the best single
setting of a small grid (neighbours 20-200; factors 8-128, alpha 0.5-40, regularisation 0.05/1) on the
benchmark's own folds of synthetic-100k, ml-100k and ml-latest-small; BPR's (64 factors, learning rate 0.01,
regularisation 0.01, 100 iterations) the best of five on ml-100k's first three folds; the recency-weighted
item-kNN's are tuned per data set by the benchmark: if anything, this favours the baselines.

Example:
    >>> frame = pd.DataFrame({"USER_ID": list("aabbc"), "ITEM_ID": list("xyxyz")})
    >>> Popularity().fit(frame).recommend([["x"]], 2)
    [['y', 'z']]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["ALS", "BPR", "DECAY_GRID", "ItemKNN", "Popularity", "RecencyItemKNN", "ScipyALS", "make_als"]


class _Base:
    """Shared bookkeeping: the item and user indexes, the binary user-item matrix and the popular order."""

    name = "base"

    def fit(self, interactions: pd.DataFrame) -> _Base:
        users = interactions["USER_ID"].astype(str).to_numpy()
        items = interactions["ITEM_ID"].astype(str).to_numpy()
        user_codes, self.users = pd.factorize(users, sort=True)
        item_codes, self.items = pd.factorize(items, sort=True)
        self.items = np.asarray(self.items, dtype=object)
        self.user_index = {u: i for i, u in enumerate(self.users.tolist())}
        self.item_index = {t: i for i, t in enumerate(self.items.tolist())}
        n_users, n_items = len(self.users), len(self.items)
        matrix = sparse.csr_matrix(
            (np.ones(user_codes.size, dtype=np.float32), (user_codes, item_codes)), shape=(n_users, n_items)
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        self.matrix = matrix
        self.popularity = np.asarray(matrix.sum(axis=0)).ravel()
        self.popular = np.lexsort((np.arange(n_items), -self.popularity))
        self._fit()
        return self

    def _fit(self) -> None:
        """Model-specific training on ``self.matrix``."""

    def _history_matrix(self, histories: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        rows, cols = [], []
        for row, history in enumerate(histories):
            for item in history:
                col = self.item_index.get(str(item))
                if col is not None:
                    rows.append(row)
                    cols.append(col)
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(histories), len(self.items))
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def _scores(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        """Dense (users x items) scores; higher is better."""
        return np.zeros((histories.shape[0], len(self.items)), dtype=np.float32)

    def recommend(
        self, histories: Sequence[Sequence[str]], n: int, users: Sequence[str] | None = None
    ) -> list[list[str]]:
        """Top ``n`` item ids per user, never an item of the user's history."""
        out: list[list[str]] = []
        for start in range(0, len(histories), 256):
            part = histories[start : start + 256]
            matrix = self._history_matrix(part)
            scores = self._scores(matrix, None if users is None else users[start : start + 256])
            out.extend(self._top(scores, matrix, part, n))
        return out

    def _top(
        self, scores: np.ndarray, seen: sparse.csr_matrix, histories: Sequence[Sequence[str]], n: int
    ) -> list[list[str]]:
        # popularity breaks ties (and fills rows without any signal)
        scores = scores.astype(np.float64) + 1e-9 * (self.popularity / max(self.popularity.max(), 1))
        scores[seen.nonzero()] = -np.inf
        k = min(n, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)
        lists = []
        for row, history in zip(order, histories, strict=True):
            skip = {str(i) for i in history}
            lists.append([item for item in self.items[row].tolist() if item not in skip][:n])
        return lists

    def related(self, items: Sequence[str], n: int) -> list[list[str]]:
        """Top ``n`` items related to each item (popular items for an unknown one), never the item itself."""
        return [self._fill([], str(item), n) for item in items]

    def _fill(self, ranked: list[str], item: str, n: int) -> list[str]:
        out = [r for r in ranked if r != item][:n]
        have = set(out) | {item}
        for index in self.popular:
            if len(out) >= n:
                break
            name = self.items[index]
            if name not in have:
                out.append(name)
                have.add(name)
        return out


class Popularity(_Base):
    """Items by number of unique users, the same list for everyone (minus what the user has seen)."""

    name = "popularity"

    def _scores(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        return np.broadcast_to(self.popularity.astype(np.float32), (histories.shape[0], len(self.items))).copy()


class ItemKNN(_Base):
    """Item-based k-nearest neighbours with cosine similarity over the binary user-item matrix."""

    name = "item-knn"

    def __init__(self, neighbours: int = 100) -> None:
        self.neighbours = neighbours

    def _fit(self) -> None:
        by_item = self.matrix.T.tocsr()
        norms = np.sqrt(np.maximum(self.popularity, 1.0))
        n_items = by_item.shape[0]
        rows, cols, vals = [], [], []
        for start in range(0, n_items, 1024):
            block = (by_item[start : start + 1024] @ self.matrix).tocoo()
            row = block.row.astype(np.int64) + start
            col = block.col.astype(np.int64)
            sim = block.data / (norms[row] * norms[col])
            keep = row != col
            row, col, sim = row[keep], col[keep], sim[keep]
            order = np.lexsort((col, -sim, row))
            row, col, sim = row[order], col[order], sim[order]
            counts = np.bincount(row - start, minlength=min(1024, n_items - start))
            first = np.concatenate([[0], np.cumsum(counts)[:-1]])
            top = (np.arange(row.size) - first[row - start]) < self.neighbours
            rows.append(row[top])
            cols.append(col[top])
            vals.append(sim[top].astype(np.float32))
        self.similarity = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
        )

    def _scores(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        return np.asarray((histories @ self.similarity).todense(), dtype=np.float32)

    def related(self, items: Sequence[str], n: int) -> list[list[str]]:
        out = []
        for item in items:
            index = self.item_index.get(str(item))
            ranked: list[str] = []
            if index is not None:
                lo, hi = self.similarity.indptr[index], self.similarity.indptr[index + 1]
                cols, sims = self.similarity.indices[lo:hi], self.similarity.data[lo:hi]
                order = np.lexsort((cols, -sims))
                ranked = self.items[cols[order]].tolist()
            out.append(self._fill(ranked, str(item), n))
        return out


class RecencyItemKNN(ItemKNN):
    """Item-kNN whose user profile weights the user's ``k``-th newest item by ``decay ** k``.

    Histories are in time order (oldest first), as the benchmark passes them.
    """

    name = "recency-item-knn"

    def __init__(self, decay: float = 0.7, neighbours: int = 100) -> None:
        super().__init__(neighbours)
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], not {decay}")
        self.decay = decay
        self.name = f"recency-item-knn (decay {decay:g}, {neighbours} neighbours)"

    def _history_matrix(self, histories: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        rows, cols, weights = [], [], []
        for row, history in enumerate(histories):
            seen: set[int] = set()
            for k, item in enumerate(reversed(list(history))):
                col = self.item_index.get(str(item))
                if col is not None and col not in seen:
                    seen.add(col)
                    rows.append(row)
                    cols.append(col)
                    weights.append(self.decay**k)
        return sparse.csr_matrix(
            (np.asarray(weights, dtype=np.float32), (rows, cols)), shape=(len(histories), len(self.items))
        )


#: The decays the benchmark tries per data set (``bench_quality.choose_decay``).
DECAY_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class BPR(_Base):
    """``implicit``'s Bayesian personalised ranking; an unknown user is the mean of its items' factors."""

    name = "bpr (implicit)"

    def __init__(
        self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01, iterations: int = 100
    ) -> None:
        self.params = {
            "factors": factors,
            "learning_rate": learning_rate,
            "regularization": regularization,
            "iterations": iterations,
        }

    def _fit(self) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(**self.params, random_state=0, num_threads=2)
            model.fit(self.matrix, show_progress=False)
        # implicit keeps the item bias as the last item column and a constant 1 as the last user column
        self.user_factors = np.asarray(model.user_factors)
        self.item_factors = np.asarray(model.item_factors)

    def _scores(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        counts = np.maximum(np.asarray(histories.sum(axis=1)).ravel(), 1.0)
        vectors = np.asarray(histories @ self.item_factors) / counts[:, None]
        vectors[:, -1] = 1.0
        if users is not None:
            for row, user in enumerate(users):
                index = self.user_index.get(str(user))
                if index is not None:
                    vectors[row] = self.user_factors[index]
        return vectors @ self.item_factors.T


class ALS(_Base):
    """``implicit``'s AlternatingLeastSquares; unknown users are folded in from their history."""

    name = "als (implicit)"

    def __init__(
        self, factors: int = 32, regularization: float = 0.05, alpha: float = 1.0, iterations: int = 15
    ) -> None:
        self.params = {
            "factors": factors,
            "regularization": regularization,
            "alpha": alpha,
            "iterations": iterations,
        }

    def _fit(self) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit runs its own threads; BLAS threads only get in the way
            self.model = AlternatingLeastSquares(**self.params, random_state=0, num_threads=2)
            self.model.fit(self.matrix, show_progress=False)
        self.user_factors = np.asarray(self.model.user_factors)
        self.item_factors = np.asarray(self.model.item_factors)

    def _user_vectors(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        vectors = np.asarray(self.model.recalculate_user(np.arange(histories.shape[0]), histories))
        if users is not None:
            for row, user in enumerate(users):
                index = self.user_index.get(str(user))
                if index is not None:
                    vectors[row] = self.user_factors[index]
        return vectors

    def _scores(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        return self._user_vectors(histories, users) @ self.item_factors.T

    def related(self, items: Sequence[str], n: int) -> list[list[str]]:
        factors = self.item_factors
        norms = np.linalg.norm(factors, axis=1) + 1e-12
        out = []
        for item in items:
            index = self.item_index.get(str(item))
            ranked: list[str] = []
            if index is not None:
                cosine = factors @ factors[index] / (norms * norms[index])
                top = np.argsort(-cosine, kind="stable")[: n + 1]
                ranked = self.items[top].tolist()
            out.append(self._fill(ranked, str(item), n))
        return out


class ScipyALS(ALS):
    """The same implicit-feedback ALS with exact numpy solves, for machines without ``implicit``.

    As in ``implicit``: preference 1 and confidence ``alpha`` on observed pairs, confidence 1 elsewhere.
    """

    name = "als (numpy)"

    def _fit(self) -> None:
        rng = np.random.default_rng(0)
        factors = int(self.params["factors"])
        n_users, n_items = self.matrix.shape
        self.user_factors = (rng.standard_normal((n_users, factors)) * 0.01).astype(np.float64)
        self.item_factors = (rng.standard_normal((n_items, factors)) * 0.01).astype(np.float64)
        by_item = self.matrix.T.tocsr()
        for _ in range(int(self.params["iterations"])):
            self.user_factors = self._solve(self.matrix, self.item_factors)
            self.item_factors = self._solve(by_item, self.user_factors)

    def _solve(self, rows: sparse.csr_matrix, other: np.ndarray) -> np.ndarray:
        alpha, reg = float(self.params["alpha"]), float(self.params["regularization"])
        gram = other.T @ other + reg * np.eye(other.shape[1])
        out = np.zeros((rows.shape[0], other.shape[1]))
        for r in range(rows.shape[0]):
            cols = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
            if cols.size == 0:
                continue
            y = other[cols]
            a = gram + (alpha - 1.0) * (y.T @ y)
            b = alpha * y.sum(axis=0)
            out[r] = np.linalg.solve(a, b)
        return out

    def _user_vectors(self, histories: sparse.csr_matrix, users: Sequence[str] | None) -> np.ndarray:
        vectors = self._solve(histories, self.item_factors)
        if users is not None:
            for row, user in enumerate(users):
                index = self.user_index.get(str(user))
                if index is not None:
                    vectors[row] = self.user_factors[index]
        return vectors


def make_als(**params: Any) -> ALS:
    """``implicit``'s ALS when it is installed, else :class:`ScipyALS`."""
    try:
        import implicit  # noqa: F401
    except ImportError:
        return ScipyALS(**params)
    return ALS(**params)
