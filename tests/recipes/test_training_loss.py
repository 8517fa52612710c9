"""The GRU trainer's loss equals a plain numpy computation of it, with the full and the sampled softmax.

The repeat weights (items read in the window, items read only before it) are added to the logits from a
list of (row, item) pairs rather than dense masks; this pins that list to the definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from personalize_kit.recipes.sequence import sampled, training
from personalize_kit.recipes.user_personalization import UserPersonalization


@pytest.fixture(scope="module")
def trainer() -> Any:
    rng = np.random.default_rng(3)
    # users re-read items (a catalogue of 30) and have histories longer than the window plus its context
    rows = [
        (f"u{u}", f"i{int(k)}", 1000 * u + step) for u in range(12) for step, k in enumerate(rng.integers(0, 30, 140))
    ]
    interactions = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    genres = ["a", "b", "a|c", "b|c|d", None]  # items with 0 to 3 metadata tokens
    items = pd.DataFrame({"ITEM_ID": [f"i{k}" for k in range(30)], "GENRES": [genres[k % 5] for k in range(30)]})
    captured: dict[str, Any] = {}

    def run(self: Any, log: list[dict[str, float]]) -> dict[str, np.ndarray]:  # keep the untrained trainer
        captured["trainer"] = self
        return self.weights()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.EpochLoop, "run", run)
        UserPersonalization(batch_size=8).fit(interactions, items, None, {"hidden_dimension": "32", "bptt": "8"})
    t = captured["trainer"]
    t.repeat.assign([0.7, -1.3])
    t.bias.assign(rng.normal(size=t.bias.shape).astype(np.float32))
    t.tokens.assign(rng.normal(size=t.tokens.shape).astype(np.float32))
    return t


def reference(t: Any, batch: tuple[np.ndarray, ...], negatives: np.ndarray | None) -> float:
    """Weighted mean cross-entropy, the repeat weights added item by item."""
    inputs, targets, weights, users, context = batch
    query, vectors = (np.asarray(x) for x in t._queries(inputs, weights, users, context, False))
    bias, (in_window, earlier) = t.bias.numpy(), t.repeat.numpy()
    owners, positions = np.nonzero(weights > 0)
    total = norm = 0.0
    for r, (b, p) in enumerate(zip(owners, positions, strict=True)):
        logits = vectors[1:] @ query[r] + bias
        window = set(inputs[b, : p + 1][inputs[b, : p + 1] > 0] - 1)
        before = set(context[b][context[b] > 0] - 1) - window
        logits[list(window)] += in_window
        logits[list(before)] += earlier
        label = targets[b, p]
        if negatives is not None:
            others = logits[negatives] + np.asarray(t.correction)[negatives]
            others[negatives == label] = -1e9
            logits, label = np.concatenate([[logits[label]], others]), 0
        top = logits.max()
        loss = top + np.log(np.exp(logits - top).sum()) - logits[label]
        total, norm = total + weights[b, p] * loss, norm + weights[b, p]
    return total / norm


def batch_with_context(t: Any) -> tuple[np.ndarray, ...]:
    rows = np.flatnonzero((t.windows["context"] > 0).any(axis=1))[:6]
    assert rows.size == 6  # windows with events before them, so the "earlier" weight is exercised
    return t._batch(rows)


def test_the_full_softmax_loss_matches_the_plain_computation(trainer: Any) -> None:
    batch = batch_with_context(trainer)
    total, norm = trainer.forward(*batch, None, False)
    assert float(total) / float(norm) == pytest.approx(reference(trainer, batch, None), rel=1e-5)


def test_the_sampled_softmax_loss_matches_the_plain_computation(trainer: Any) -> None:
    batch = batch_with_context(trainer)
    targets = batch[1][batch[2] > 0]
    negatives = np.asarray([targets[0], 1, 2, 5, 8, 13, 21], dtype=np.int32)  # one of them is a target
    total, norm = trainer.forward(*batch, negatives, False)
    assert float(total) / float(norm) == pytest.approx(reference(trainer, batch, negatives), rel=1e-5)


def test_a_step_by_item_rows_gives_the_same_sampled_loss(trainer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large catalogue's steps compute the vectors of the step's items only (``sampled.StepItems``)."""
    assert trainer.meta.n_item_tokens >= 4
    monkeypatch.setattr(trainer, "by_rows", True)
    items = sampled.StepItems(trainer.tf, trainer.meta.item_ptr, trainer.meta.item_idx)
    monkeypatch.setattr(trainer, "step_items", items, raising=False)
    batch = batch_with_context(trainer)
    targets = batch[1][batch[2] > 0]
    negatives = np.asarray([targets[0], 1, 2, 5, 8, 13, 21, 29], dtype=np.int32)
    total, norm = trainer.forward(*batch, negatives, False)
    assert float(total) / float(norm) == pytest.approx(reference(trainer, batch, negatives), rel=1e-5)


def test_lazy_adam_is_adam_on_the_rows_a_step_reads(trainer: Any) -> None:
    tf, keras = trainer.tf, trainer.keras
    start = np.random.default_rng(5).normal(size=(6, 3)).astype(np.float32)
    dense, lazy = tf.Variable(start), tf.Variable(start)
    optimizer = keras.optimizers.Adam(learning_rate=0.05, clipnorm=5.0)
    optimizer.build([dense])
    rows = sampled.LazyAdam(tf, lazy, optimizer)
    gradients = [np.random.default_rng(k).normal(size=(6, 3)).astype(np.float32) * 4 for k in range(3)]
    for g in gradients:  # every row read by every step (one row twice): the same as Keras's Adam
        optimizer.apply_gradients([(tf.convert_to_tensor(g), dense)])
        rows.apply(
            tf.IndexedSlices(
                tf.constant(np.vstack([g, np.zeros((1, 3), np.float32)])), tf.constant([0, 1, 2, 3, 4, 5, 2])
            )
        )
    np.testing.assert_allclose(lazy.numpy(), dense.numpy(), rtol=1e-5, atol=1e-6)
    before = lazy.numpy()
    rows.apply(tf.IndexedSlices(tf.constant(gradients[0][:2]), tf.constant([4, 1])))
    after = lazy.numpy()
    assert not np.allclose(after[[1, 4]], before[[1, 4]])
    np.testing.assert_array_equal(after[[0, 2, 3, 5]], before[[0, 2, 3, 5]])  # rows not read do not move
