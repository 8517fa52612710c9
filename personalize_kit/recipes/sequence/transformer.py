"""The transformer sequence model of User-Personalization-v2 and Personalized-Ranking-v2.

Each item is the sum of its own embedding and the mean of its metadata tokens' embeddings (e.g. ``GENRES``);
a user's newest :data:`MAX_LENGTH` items, oldest first, get learned position embeddings and go through
:data:`BLOCKS` pre-norm blocks of causal self-attention (one head) and a feed-forward layer. The output at
the newest position is the query, scored against the same item vectors plus an item bias and the learned
repeat weights of the items the user read before (:mod:`.output`, shared with the GRU model); training is
next-item cross-entropy at every position of windows cut from the users' histories (a full softmax or
sampled negatives, as :func:`~personalize_kit.recipes.sequence.sampled.softmax_negatives` says). Training runs in
Keras (:class:`TransformerTrainer`); serving runs the same blocks in numpy (:func:`encode_sequence`), so
a trained model answers without TensorFlow. The query at the end of each known user's history is cached.

With ``apply_recency_bias`` (the service's hyperparameter, default true) newer events weigh more in the
loss (0.5 for the oldest event of the dataset to 1 for the newest), as ``recency_mask`` does for v1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from personalize_kit.recipes.sequence import output
from personalize_kit.recipes.sequence.backend import TrainingClock, load_tensorflow
from personalize_kit.recipes.sequence.training import EpochLoop, Metadata

#: Newest items a query reads, and the length of the training windows (by default; ``length`` of the settings).
MAX_LENGTH = 32
#: Attention blocks.
BLOCKS = 2
#: Epsilon of the layer normalisations (the same in training and serving).
EPSILON = 1e-5
#: Weight names of one block, in the saved arrays as ``block{k}_{name}``.
BLOCK_WEIGHTS = ("ln1_gamma", "ln1_beta", "query", "key", "value", "output", "ln2_gamma", "ln2_beta",
                 "ffn_in", "ffn_in_bias", "ffn_out", "ffn_out_bias")  # fmt: skip
#: The weights :func:`encode_sequence` reads: the blocks' and the final normalisation's.
ENCODER_WEIGHTS = (*(f"block{k}_{name}" for k in range(BLOCKS) for name in BLOCK_WEIGHTS), "final_gamma", "final_beta")


@dataclass
class TransformerSettings:
    """The local training's knobs."""

    dim: int = 64
    seed: int = 0
    max_epochs: int = 20
    batch_size: int | None = None
    learning_rate: float = 2e-3
    dropout: float = 0.2
    time_budget: float | None = None
    length: int = MAX_LENGTH
    #: The transformer trains until its validation loss stops falling, however little it falls: on ml-100k it
    #: still falls by about 0.2% an epoch when the GRU's threshold (:data:`.training.MIN_IMPROVEMENT`) stops it.
    min_improvement: float = 0.0


# ------------------------------------------------------------------------------------ numpy serving


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPSILON) * gamma + beta


def encode_sequence(weights: Mapping[str, np.ndarray], embedded: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Outputs of the blocks at each sequence's newest position.

    ``embedded`` is ``(batch, L, d)`` item vectors plus positions, left-aligned; ``length`` the real items
    per row (at least 1). Row ``b`` attends only to its first ``length[b]`` positions, causally.
    """
    steps = embedded.shape[1]
    real = np.arange(steps)[None, :] < length[:, None]
    allowed = np.tril(np.ones((steps, steps), dtype=bool))[None] & real[:, None, :]
    x = embedded.astype(np.float32)
    scale = 1.0 / math.sqrt(x.shape[-1])
    for k in range(BLOCKS):
        w = {name: weights[f"block{k}_{name}"] for name in BLOCK_WEIGHTS}
        h = layer_norm(x, w["ln1_gamma"], w["ln1_beta"])
        scores = np.einsum("bqd,bkd->bqk", h @ w["query"], h @ w["key"]) * scale
        scores = np.where(allowed, scores, -1e9)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        x = x + np.einsum("bqk,bkd->bqd", attention, h @ w["value"]) @ w["output"]
        h = layer_norm(x, w["ln2_gamma"], w["ln2_beta"])
        x = x + np.maximum(h @ w["ffn_in"] + w["ffn_in_bias"], 0.0) @ w["ffn_out"] + w["ffn_out_bias"]
    x = layer_norm(x, weights["final_gamma"], weights["final_beta"])
    return x[np.arange(x.shape[0]), length - 1].astype(np.float32)


# ------------------------------------------------------------------------------------ Keras training


class TransformerTrainer(EpochLoop):
    """Fits the transformer on training windows (``features.windows`` with ``bptt`` = ``settings.length``);
    ``validation_users`` (user codes) are validated on instead of a draw of the trainer's own."""

    validation_rows = 128

    def __init__(
        self,
        windows: Mapping[str, np.ndarray],
        metadata: Metadata,
        settings: TransformerSettings,
        initial: Mapping[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
        fresh_users: np.ndarray | None = None,
        validation_users: np.ndarray | None = None,
    ) -> None:
        self.windows, self.meta, self.settings = windows, metadata, settings
        self.given_validation_users = validation_users
        self.tf, self.keras = load_tensorflow()
        self.clock = TrainingClock()
        self.keras.utils.set_random_seed(settings.seed)
        self.tf.config.experimental.enable_op_determinism()
        self._sampling()
        self._variables()
        self._continue(initial, fresh_users)
        self._steps()

    def _variables(self) -> None:
        tf, keras, meta, s = self.tf, self.keras, self.meta, self.settings
        d = s.dim
        counts = np.diff(meta.item_ptr)
        owner = np.repeat(np.arange(counts.size), counts)
        self.item_matrix = tf.SparseTensor(
            indices=np.stack([owner + 1, meta.item_idx.astype(np.int64)], axis=1).reshape(-1, 2).astype(np.int64),
            values=(1.0 / np.maximum(counts, 1))[owner].astype(np.float32),
            dense_shape=[meta.n_items + 1, max(1, meta.n_item_tokens)],
        )
        init = keras.initializers.TruncatedNormal(stddev=0.05, seed=s.seed)
        prior = np.log((meta.item_counts.astype(np.float64) + 1.0) / (meta.item_counts.sum() + meta.n_items))
        self.w: dict[str, Any] = {
            "item_own_vectors": tf.Variable(init((meta.n_items + 1, d))),
            "item_token_vectors": tf.Variable(init((max(1, meta.n_item_tokens), d))),
            "item_bias": tf.Variable((prior - prior.mean()).astype(np.float32)),
            "positions": tf.Variable(init((s.length, d))),
            "final_gamma": tf.Variable(tf.ones(d)),
            "final_beta": tf.Variable(tf.zeros(d)),
            "repeat": tf.Variable(tf.zeros(2)),  # items read in the window, the user's earlier events
        }
        for k in range(BLOCKS):
            glorot = [keras.initializers.GlorotUniform(seed=s.seed + 10 * k + j) for j in range(6)]
            shapes = {"query": (d, d), "key": (d, d), "value": (d, d), "output": (d, d), "ffn_in": (d, 2 * d),
                      "ffn_out": (2 * d, d)}  # fmt: skip
            for j, (name, shape) in enumerate(shapes.items()):
                self.w[f"block{k}_{name}"] = tf.Variable(glorot[j](shape))
            for name, size, value in (
                ("ln1_gamma", d, 1.0),
                ("ln1_beta", d, 0.0),
                ("ln2_gamma", d, 1.0),
                ("ln2_beta", d, 0.0),
                ("ffn_in_bias", 2 * d, 0.0),
                ("ffn_out_bias", d, 0.0),
            ):
                self.w[f"block{k}_{name}"] = tf.Variable(tf.fill([size], value))  # fmt: skip
        self.dropout = keras.layers.Dropout(s.dropout, seed=s.seed + 99)
        self.variables = list(self.w.values())
        self.optimizer = keras.optimizers.Adam(learning_rate=s.learning_rate, clipnorm=5.0)
        self.optimizer.build(self.variables)

    def _norm(self, x: Any, gamma: Any, beta: Any) -> Any:
        mean, var = self.tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) / self.tf.sqrt(var + EPSILON) * gamma + beta

    def _encode(self, inputs: Any, training: bool) -> tuple[Any, Any]:
        """Block outputs at every position ``(batch, L, d)`` and the item vectors (row 0: padding)."""
        tf, w = self.tf, self.w
        vectors = w["item_own_vectors"] + tf.sparse.sparse_dense_matmul(self.item_matrix, w["item_token_vectors"])
        steps = tf.shape(inputs)[1]
        x = self.dropout(tf.gather(vectors, inputs) + w["positions"][None, :steps], training=training)
        real = inputs > 0
        causal = tf.cast(tf.linalg.band_part(tf.ones((steps, steps)), -1, 0), tf.bool)
        allowed = causal[None] & real[:, None, :]
        scale = 1.0 / math.sqrt(self.settings.dim)
        for k in range(BLOCKS):
            b = {name: w[f"block{k}_{name}"] for name in BLOCK_WEIGHTS}
            h = self._norm(x, b["ln1_gamma"], b["ln1_beta"])
            scores = tf.einsum("bqd,bkd->bqk", h @ b["query"], h @ b["key"]) * scale
            attention = tf.nn.softmax(tf.where(allowed, scores, -1e9), axis=-1)
            x = x + self.dropout(tf.einsum("bqk,bkd->bqd", attention, h @ b["value"]) @ b["output"], training=training)
            h = self._norm(x, b["ln2_gamma"], b["ln2_beta"])
            ffn = tf.nn.relu(h @ b["ffn_in"] + b["ffn_in_bias"]) @ b["ffn_out"] + b["ffn_out_bias"]
            x = x + self.dropout(ffn, training=training)
        return self._norm(x, w["final_gamma"], w["final_beta"]), vectors

    def forward(self, inputs: Any, targets: Any, weights: Any, context: Any, negatives: Any,
                training: bool) -> tuple[Any, Any]:  # fmt: skip
        """The weighted sum of the positions' losses and the sum of their weights."""
        tf, w = self.tf, self.w
        out, vectors = self._encode(inputs, training)
        mask = weights > 0
        query, labels = tf.boolean_mask(out, mask), tf.boolean_mask(targets, mask)
        pairs = output.repeat_pairs(tf, self.meta.n_items, inputs, mask, context)
        if negatives is None:
            logits = output.full_logits(tf, query, vectors, w["item_bias"], w["repeat"], pairs)
        else:
            logits = output.sampled_logits(tf, query, vectors, w["item_bias"], self.correction, w["repeat"], labels,
                                           negatives, pairs)  # fmt: skip
            labels = tf.zeros_like(labels)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        weight = tf.boolean_mask(weights, mask)
        return tf.reduce_sum(losses * weight), tf.reduce_sum(weight)

    def _steps(self) -> None:
        tf = self.tf
        spec = [tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.int32),
                tf.TensorSpec((None, None), tf.float32), tf.TensorSpec((None, None), tf.int32)]  # fmt: skip

        def train_step(inputs, targets, weights, context, negatives):  # type: ignore[no-untyped-def]
            with tf.GradientTape() as tape:
                sample = negatives if self.sampled else None
                total, norm = self.forward(inputs, targets, weights, context, sample, True)
                loss = total / tf.maximum(norm, 1e-6)
            grads = tape.gradient(loss, self.variables)
            self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))
            return loss

        def eval_step(inputs, targets, weights, context):  # type: ignore[no-untyped-def]
            return self.forward(inputs, targets, weights, context, None, False)

        negatives = tf.TensorSpec((None,), tf.int32)
        self.train_step = tf.function(train_step, input_signature=[*spec, negatives], autograph=False)
        self.eval_step = tf.function(eval_step, input_signature=spec, autograph=False)

    def _batch(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        w = self.windows
        return w["inputs"][rows], w["targets"][rows], w["weights"][rows], w["context"][rows]

    def _named(self) -> dict[str, Any]:
        return self.w

    def weights(self) -> dict[str, np.ndarray]:
        """The weights serving needs, as float32 numpy arrays."""
        out = {name: np.asarray(v.numpy(), dtype=np.float32) for name, v in self.w.items()}
        out["item_own_vectors"] = out["item_own_vectors"][1:]
        return out


def weight_names() -> tuple[str, ...]:
    """The transformer's weights, by their names in the saved arrays.

    >>> len(weight_names()), weight_names()[:2]
    (31, ('item_own_vectors', 'item_token_vectors'))
    """
    return ("item_own_vectors", "item_token_vectors", "item_bias", "positions", "repeat", *ENCODER_WEIGHTS)


__all__ = [
    "BLOCKS",
    "ENCODER_WEIGHTS",
    "MAX_LENGTH",
    "TransformerSettings",
    "TransformerTrainer",
    "encode_sequence",
    "weight_names",
]
