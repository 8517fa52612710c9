"""The sampled softmax of the sequence models' training: which catalogues use it, its negatives, and steps
whose cost does not grow with the catalogue.

Catalogues beyond :data:`FULL_SOFTMAX_ITEMS` items train each target against :data:`NEGATIVES` items drawn by
:class:`NegativeSampler` instead of the whole catalogue. Such a step reads a few thousand items (its windows,
their context, their targets and the negatives). Computing every item's vector (its own embedding plus the
mean of its metadata tokens') and updating every row of the item table with Adam costs a pass over the whole
catalogue per step: at 200,000 items that is about 0.35 s of CPU, more than the step's own work. Beyond
:data:`ROW_STEP_ITEMS` items a trainer uses :class:`StepItems`, which computes the vectors of the step's
distinct items only, and :class:`LazyAdam`, which updates only the rows a step read (as TensorFlow Addons'
``LazyAdam``: the other rows' moments wait until their item is read again). Smaller catalogues keep the dense
computation and Keras's Adam.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Largest catalogue trained with the exact softmax; larger ones are trained with a sampled softmax.
FULL_SOFTMAX_ITEMS = 2048
#: Power of the item counts the sampled softmax draws its negatives by (0 = uniform, 1 = as popular).
SAMPLING_POWER = 0.75
#: Negatives per step of the sampled softmax (the same for every target of a step).
NEGATIVES = 1024
#: Catalogues beyond this many items train with :class:`StepItems` and :class:`LazyAdam`.
ROW_STEP_ITEMS = 50_000


def softmax_negatives(n_items: int) -> int:
    """Items each target is scored against in training besides itself: the whole catalogue up to
    :data:`FULL_SOFTMAX_ITEMS` items, :data:`NEGATIVES` sampled ones beyond. On 2 cores the output layer is
    most of a step's work.

    >>> softmax_negatives(1682), softmax_negatives(9000)
    (1682, 1024)
    """
    return n_items if n_items <= FULL_SOFTMAX_ITEMS else min(n_items - 1, NEGATIVES)


class NegativeSampler:
    """The sampled softmax's negatives: drawn with replacement from ``(count + 1) ** SAMPLING_POWER`` (popular
    items, which hold most of the softmax's mass, are drawn more often), and the logQ correction that makes the
    sampled softmax estimate the full one: ``-log(negatives x q(item))`` added to each negative's logit.

    >>> sampler = NegativeSampler(np.asarray([0, 10, 1000]), np.random.default_rng(0))
    >>> sampler.sampled, sampler.n_negatives
    (False, 3)
    """

    def __init__(self, item_counts: np.ndarray, rng: np.random.Generator) -> None:
        n_items = int(item_counts.size)
        self.n_negatives = softmax_negatives(n_items)
        self.sampled = self.n_negatives < n_items
        weight = (item_counts.astype(np.float64) + 1.0) ** SAMPLING_POWER
        self.probability = weight / weight.sum()
        self.correction = (-np.log(self.n_negatives * self.probability)).astype(np.float32)
        self.rng = rng

    def draw(self) -> np.ndarray:
        """One step's negatives (item codes; empty with the full softmax)."""
        if not self.sampled:
            return np.zeros(0, dtype=np.int32)
        return self.rng.choice(self.probability.size, self.n_negatives, p=self.probability).astype(np.int32)


class StepItems:
    """The vectors of a step's distinct items: ``own[code] + mean(tokens of code)``, code 0 = padding.

    ``own`` is the (items + 1, dim) table, ``tokens`` the (tokens, dim) table; ``item_ptr``/``item_idx`` the
    items' metadata tokens as CSR (item code - 1 = row)."""

    def __init__(self, tf: Any, item_ptr: np.ndarray, item_idx: np.ndarray) -> None:
        self.tf = tf
        splits = np.concatenate([[0], np.asarray(item_ptr, dtype=np.int64)])  # row 0: the padding code
        self.item_tokens = tf.RaggedTensor.from_row_splits(np.asarray(item_idx, dtype=np.int32), splits)

    def local(self, *codes: Any) -> tuple[Any, list[Any]]:
        """The distinct codes among ``codes`` (any shapes) and each input as indices into them."""
        tf = self.tf
        flat = [tf.reshape(c, [-1]) for c in codes]
        ids, where = tf.unique(tf.concat(flat, axis=0))
        parts = tf.split(where, [tf.size(c) for c in flat])
        return ids, [tf.reshape(p, tf.shape(c)) for p, c in zip(parts, codes, strict=True)]

    def vectors(self, own: Any, tokens: Any, ids: Any) -> Any:
        """(len(ids), dim): each code's own vector plus the mean of its tokens' vectors (0 for none)."""
        tf = self.tf
        rows = tf.gather(self.item_tokens, ids)
        counts = tf.cast(rows.row_lengths(), tf.float32)
        summed = tf.reduce_sum(tf.gather(tokens, rows), axis=1)
        return tf.gather(own, ids) + summed / tf.maximum(counts, 1.0)[:, None]


class LazyAdam:
    """Adam on the rows of one variable that a step's gradient touches (an ``IndexedSlices``), with the
    optimizer's learning rate, betas, epsilon and per-variable ``clipnorm``."""

    def __init__(self, tf: Any, variable: Any, optimizer: Any) -> None:
        self.tf, self.variable, self.optimizer = tf, variable, optimizer
        self.m = tf.Variable(tf.zeros_like(variable), trainable=False, name=f"{variable.name}_m")
        self.v = tf.Variable(tf.zeros_like(variable), trainable=False, name=f"{variable.name}_v")
        self.steps = tf.Variable(0.0, trainable=False, name=f"{variable.name}_steps")

    def apply(self, gradient: Any) -> None:
        """One update from ``gradient`` (``IndexedSlices`` of the variable; duplicate rows are summed)."""
        tf, o = self.tf, self.optimizer
        rows, where = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(gradient.values, where, tf.shape(rows)[0])
        if o.clipnorm:
            values = tf.clip_by_norm(values, o.clipnorm)
        self.steps.assign_add(1.0)
        beta_1, beta_2 = tf.constant(o.beta_1, tf.float32), tf.constant(o.beta_2, tf.float32)
        lr = tf.cast(o.learning_rate, tf.float32)
        alpha = lr * tf.sqrt(1.0 - beta_2**self.steps) / (1.0 - beta_1**self.steps)
        m = beta_1 * tf.gather(self.m, rows) + (1.0 - beta_1) * values
        v = beta_2 * tf.gather(self.v, rows) + (1.0 - beta_2) * tf.square(values)
        self.m.scatter_update(tf.IndexedSlices(m, rows))
        self.v.scatter_update(tf.IndexedSlices(v, rows))
        self.variable.scatter_sub(tf.IndexedSlices(alpha * m / (tf.sqrt(v) + o.epsilon), rows))


__all__ = [
    "FULL_SOFTMAX_ITEMS", "NEGATIVES", "ROW_STEP_ITEMS", "SAMPLING_POWER", "LazyAdam", "NegativeSampler", "StepItems",
    "softmax_negatives",
]  # fmt: skip
