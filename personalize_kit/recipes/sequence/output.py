"""The output layer both sequence models train with: logits over the catalogue, or over the target and the
sampled negatives, plus the learned repeat weights.

Two scalars are added to a target position's logits: ``repeat[0]`` for the items read in its window up to
it, ``repeat[1]`` for the user's older events (before the window) not among those. Where users seldom come
back to what they saw (films), they learn to be strongly negative: the items seen no longer compete with
the next one in the softmax, and the item vectors are free to say what comes next rather than what came
before. Serving adds the same terms (:func:`~personalize_kit.recipes.sequence.ranking.add_repeat_terms`).

Only the pairs (target row, item read) are built, a few hundred per row, where a dense (rows x catalogue)
mask would cost more than the logits themselves. Codes are item + 1, 0 = none.
"""

from __future__ import annotations

from typing import Any

Pairs = tuple[Any, Any, Any]


def repeat_pairs(tf: Any, n_items: int, inputs: Any, mask: Any, context: Any) -> Pairs:
    """The distinct (target row, item) pairs that get a repeat weight, and which one (``kind``), for every
    target position of ``mask`` (row-major): 0 for an item read in its window up to it (``inputs``), 1 for one
    only among the user's events before the window (``context``)."""
    steps = tf.shape(inputs)[1]
    lower = tf.cast(tf.linalg.band_part(tf.ones((steps, steps)), -1, 0), tf.int32)
    prior = tf.boolean_mask(inputs[:, None, :] * lower[None], mask)
    owner = tf.boolean_mask(tf.repeat(tf.range(tf.shape(inputs)[0])[:, None], steps, axis=1), mask)
    earlier = tf.gather(context, owner)
    codes = tf.concat([prior, earlier], axis=1)
    kind = tf.concat([tf.zeros_like(prior), tf.ones_like(earlier)], axis=1)
    rows = tf.repeat(tf.range(tf.shape(codes)[0])[:, None], tf.shape(codes)[1], axis=1)
    read = codes > 0
    codes, kind, rows = (tf.boolean_mask(x, read) for x in (codes, kind, rows))
    width = tf.constant(n_items + 1, tf.int64)
    unique, index = tf.unique(tf.cast(rows, tf.int64) * width + tf.cast(codes, tf.int64))
    kind = tf.math.unsorted_segment_min(kind, index, tf.shape(unique)[0])
    return tf.cast(unique // width, tf.int32), tf.cast(unique % width, tf.int32) - 1, kind


def full_logits(tf: Any, query: Any, vectors: Any, bias: Any, repeat: Any, pairs: Pairs) -> Any:
    """Logits over the whole catalogue (``vectors`` row 0 is the padding code), with the repeat weights."""
    logits = tf.matmul(query, vectors[1:], transpose_b=True) + bias
    return _with_repeat(tf, logits, repeat, *pairs)


def sampled_logits(tf: Any, query: Any, vectors: Any, bias: Any, correction: Any, repeat: Any, labels: Any,
                   negatives: Any, pairs: Pairs, rows: tuple[Any, Any] | None = None) -> Any:  # fmt: skip
    """The target (column 0) against the sampled negatives, shifted by ``correction`` to estimate the full
    partition function, with the repeat weights; a negative that is the row's target is masked out. ``rows``:
    the labels' and the negatives' rows in ``vectors`` when it holds the step's items only."""
    label_rows, negative_rows = (labels + 1, negatives + 1) if rows is None else rows
    positive = tf.reduce_sum(query * tf.gather(vectors, label_rows), axis=1) + tf.gather(bias, labels)
    negative = tf.matmul(query, tf.gather(vectors, negative_rows), transpose_b=True)
    negative += tf.gather(bias, negatives) + tf.gather(correction, negatives)
    clash = tf.equal(labels[:, None], negatives[None, :])
    negative = tf.where(clash, tf.fill(tf.shape(negative), -1e9), negative)
    logits = tf.concat([positive[:, None], negative], axis=1)
    return _with_repeat(tf, logits, repeat, *_sampled_columns(tf, tf.shape(bias)[0], labels, negatives, pairs))


def _with_repeat(tf: Any, logits: Any, repeat: Any, rows: Any, columns: Any, kind: Any) -> Any:
    """``logits`` plus the repeat weight (``repeat[kind]``) of each (row, column) pair."""
    return tf.tensor_scatter_nd_add(logits, tf.stack([rows, columns], axis=1), tf.gather(repeat, kind))


def _sampled_columns(tf: Any, n_items: Any, labels: Any, negatives: Any, pairs: Pairs) -> Pairs:
    """``pairs`` as columns of sampled logits (column 0: the row's label, column k + 1: ``negatives[k]``);
    items in neither are left out."""
    rows, items, kind = pairs
    column_of = tf.tensor_scatter_nd_update(
        tf.fill([n_items], -1), negatives[:, None], tf.range(tf.shape(negatives)[0])
    )
    is_label = tf.equal(items, tf.gather(labels, rows))
    column = tf.where(is_label, 0, tf.gather(column_of, items) + 1)
    keep = is_label | (column > 0)
    return tf.boolean_mask(rows, keep), tf.boolean_mask(column, keep), tf.boolean_mask(kind, keep)


__all__ = ["Pairs", "full_logits", "repeat_pairs", "sampled_logits"]
