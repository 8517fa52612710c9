"""Training of the GRU sequence model in Keras: :class:`GRUTrainer` turns training windows into numpy weights.

Each item is the sum of its own embedding and the mean of its metadata tokens' embeddings; a GRU reads a
window of ``bptt`` items from a state derived from the user's metadata; the query (GRU output, profile and
metadata projections) is scored against the same item vectors plus an item bias and learned ``repeat``
weights for the items just read and older ones. The loss is next-item cross-entropy on every position,
with the exact softmax up to :data:`~.sampled.FULL_SOFTMAX_ITEMS` catalogue items and a sampled softmax beyond
(:mod:`.sampled`, corrected to estimate the full softmax; on a large catalogue a step computes and updates only
the item rows it reads). Early stopping watches
the newest window of a slice of users; training also stops at a time budget (:func:`training_budget`),
counted in CPU seconds per core (:class:`~personalize_kit.recipes.sequence.backend.TrainingClock`) so that a
busy machine trains the same model, only slower.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from personalize_kit.recipes.sequence import output, sampled
from personalize_kit.recipes.sequence.backend import TrainingClock, load_tensorflow
from personalize_kit.recipes.sequence.sampled import LazyAdam, NegativeSampler, StepItems

logger = logging.getLogger(__name__)

#: Epochs without a better validation loss after which training stops (the best epoch's weights are kept).
PATIENCE = 1
#: Relative fall of the validation loss below which an epoch counts towards :data:`PATIENCE` (its weights are
#: still kept when they are the best), on data of at least :data:`MIN_IMPROVEMENT_TARGETS` targets, for the GRU
#: (a trainer's settings may set another; the transformer's is 0): there, once an epoch gains less than 0.3%,
#: the next one has not gained more on the benchmark's data sets, and it costs seconds. Small data (a planted
#: pattern, a test's data set) can sit on a plateau for an epoch before its loss falls again, and its epochs
#: cost little: there every improvement counts.
MIN_IMPROVEMENT = 0.003
MIN_IMPROVEMENT_TARGETS = 50_000
#: Epochs before early stopping may end a training from scratch: on small data the validation loss is noisy at
#: first. A continued training may stop after its first epoch.
MIN_EPOCHS = 5


def training_budget(n_targets: int) -> float:
    """Seconds of training allowed by default: 30 s up to 375,000 targets, 80 s per 1,000,000, at most 900 s.

    Training stops after the epoch that would overrun it (and earlier when the validation loss stops falling:
    up to about 100,000 targets it does, well within the budget).

    >>> training_budget(50_000), training_budget(1_000_000), training_budget(50_000_000)
    (30.0, 80.0, 900.0)
    """
    return float(min(900.0, max(30.0, 80.0 * n_targets / 1_000_000)))


@dataclass
class TrainingSettings:
    """The local training's knobs (the service's hyperparameters are resolved before)."""

    hidden: int
    seed: int = 0
    max_epochs: int = 12
    batch_size: int | None = None
    learning_rate: float = 3e-3
    dropout: float = 0.25
    time_budget: float | None = None
    verbose: bool = False
    min_improvement: float = MIN_IMPROVEMENT


@dataclass
class Metadata:
    """Item and user metadata as CSR token lists, and the item interaction counts (the bias's prior)."""

    n_items: int
    item_ptr: np.ndarray
    item_idx: np.ndarray
    user_ptr: np.ndarray
    user_idx: np.ndarray
    n_item_tokens: int
    n_user_tokens: int
    item_counts: np.ndarray


class EpochLoop:
    """The epoch loop both sequence models train with: shuffled batches, a validation loss after each epoch,
    early stopping after :data:`PATIENCE` epochs without an improvement (of the settings' ``min_improvement``,
    :data:`MIN_IMPROVEMENT` unless set, on large data; from scratch: from epoch :data:`MIN_EPOCHS` on), the
    training budget, the best epoch's weights. A trainer that ``continued`` from an earlier model's weights keeps
    them unless an epoch beats their validation loss.

    A trainer supplies ``settings`` (``max_epochs``, ``batch_size``, ``time_budget``, ``seed``,
    ``min_improvement``), ``windows``, ``meta``, ``tf``, ``clock``, ``variables``, ``train_step``/``eval_step``,
    ``_batch``, ``_named`` (variables by saved name) and ``weights``; it calls :meth:`_sampling` before building
    its steps, and :meth:`_continue` when it starts from earlier weights.
    """

    continued = False
    fresh_users: np.ndarray | None = None
    validation_users: np.ndarray | None = None  # set by run()
    #: Validation users given instead of drawn (user codes): models trained to be averaged validate on the same.
    given_validation_users: np.ndarray | None = None

    def _sampling(self) -> None:
        """The targets' count, the random generator of the shuffles and splits, and the softmax's negatives
        (``sampler``, ``n_negatives``, ``sampled``, ``correction``); the trainer has ``windows``, ``meta``,
        ``settings`` and ``tf``."""
        t: Any = self
        t.n_targets = int((t.windows["weights"] > 0).sum())
        t.rng = np.random.default_rng(t.settings.seed)
        t.sampler = NegativeSampler(t.meta.item_counts, t.rng)
        t.n_negatives, t.sampled = t.sampler.n_negatives, t.sampler.sampled
        t.correction = t.tf.constant(t.sampler.correction)

    def _negatives(self) -> np.ndarray:
        """One step's negatives (empty with the full softmax)."""
        return self.sampler.draw()  # type: ignore[attr-defined]

    def _continue(
        self, initial: Mapping[str, tuple[np.ndarray, np.ndarray | None]] | None, fresh_users: np.ndarray | None
    ) -> None:
        """Start from an earlier model's weights (see :meth:`_start_from`), validating on ``fresh_users``."""
        self.continued, self.fresh_users = bool(initial), fresh_users
        if initial:
            self._start_from(initial)

    #: Rows per batch of the validation loss (fewer on a large catalogue: see :meth:`_validation_batch`).
    validation_rows = 64
    #: Logits one validation batch may hold (the validation loss is the exact softmax over the catalogue): 128 MiB.
    VALIDATION_LOGITS = 1 << 25

    def _validation_batch(self) -> int:
        """Rows per validation batch: :attr:`validation_rows`, fewer when their logits over the whole catalogue
        would pass :attr:`VALIDATION_LOGITS` (at 200,000 items a batch of 64 windows would hold 1.6 GB).

        >>> loop = EpochLoop(); loop.windows = {"inputs": np.zeros((1, 32))}
        >>> loop.meta = Metadata(200_000, *[np.zeros(1)] * 4, 0, 0, np.zeros(1))
        >>> loop._validation_batch()
        5
        """
        width = int(self.windows["inputs"].shape[1])  # type: ignore[attr-defined]
        n_items = int(self.meta.n_items)  # type: ignore[attr-defined]
        return int(max(1, min(self.validation_rows, self.VALIDATION_LOGITS // max(1, width * n_items))))

    def _validation_loss(self, rows: np.ndarray) -> float:
        total = norm = 0.0
        batch = self._validation_batch()
        for start in range(0, rows.size, batch):
            t, n = self.eval_step(*self._batch(rows[start : start + batch]))  # type: ignore[attr-defined]
            total, norm = total + float(t), norm + float(n)
        return total / max(norm, 1e-6)

    def _start_from(self, initial: Mapping[str, tuple[np.ndarray, np.ndarray | None]]) -> None:
        """Start from earlier weights: ``name -> (values, rows)``; ``rows`` (bool) marks the rows to take, the
        others (new items or tokens) keep their fresh initialisation; ``None`` takes the whole array."""
        for name, variable in self._named().items():  # type: ignore[attr-defined]
            if name not in initial:
                continue
            values, rows = initial[name]
            current = variable.numpy()
            target = current[1:] if name == "item_own_vectors" else current
            values = np.asarray(values, dtype=current.dtype).reshape(target.shape)
            target[...] = (
                values if rows is None else np.where(rows.reshape(-1, *[1] * (values.ndim - 1)), values, target)
            )
            variable.assign(current)

    def _train_and_validation_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Training rows and validation rows (the newest window of up to 10% of the users, at most 1000).

        A trainer that continues an earlier model takes them from ``fresh_users`` (user codes that model never
        trained on) where it can: windows the earlier model saw would favour its weights. Given
        ``given_validation_users`` are taken as they are."""
        w = self.windows
        newest_users = np.unique(w["users"][w["newest"]])
        n_valid = min(max(1, newest_users.size // 10), 1000) if newest_users.size >= 20 else 0
        if self.continued and self.fresh_users is not None:
            fresh = np.intersect1d(newest_users, self.fresh_users)
            if fresh.size >= 20:
                newest_users, n_valid = fresh, min(n_valid, fresh.size)
        if self.given_validation_users is not None:
            valid_users = self.given_validation_users
        elif n_valid:
            valid_users = self.rng.choice(newest_users, n_valid, replace=False)
        else:
            valid_users = np.empty(0, np.int64)
        is_valid = w["newest"] & np.isin(w["users"], valid_users)
        return np.flatnonzero(~is_valid), np.flatnonzero(is_valid)

    def _epoch_details(self, batch_size: int, spent: float) -> dict[str, float]:
        """What a trainer adds to each epoch's log entry."""
        return {}

    def run(self, log: list[dict[str, float]]) -> dict[str, np.ndarray]:
        """Train until the validation loss stops falling or the budget is spent; the best epoch's weights."""
        t: Any = self
        s = t.settings
        train_rows, valid_rows = t._train_and_validation_rows()
        t.validation_users = np.unique(t.windows["users"][valid_rows])  # their newest window is never trained on
        batch_size = s.batch_size or int(np.clip(t.windows["inputs"].shape[0] // 100, 32, 256))
        budget = training_budget(t.n_targets) if s.time_budget is None else s.time_budget
        best: list[np.ndarray] | None = None
        best_loss, stale = math.inf, 0
        enough = s.min_improvement if t.n_targets >= MIN_IMPROVEMENT_TARGETS else 0.0
        if getattr(t, "continued", False) and valid_rows.size:  # a continued model must beat where it started
            best_loss, best = self._validation_loss(valid_rows), [v.numpy() for v in t.variables]
        for epoch in range(s.max_epochs):
            epoch_start = t.clock.spent()
            order = train_rows[t.rng.permutation(train_rows.size)]
            losses = [
                float(t.train_step(*t._batch(order[k : k + batch_size]), t._negatives()))
                for k in range(0, order.size, batch_size)
            ]
            train_loss = float(np.mean(losses)) if losses else math.nan
            valid_loss = self._validation_loss(valid_rows) if valid_rows.size else train_loss
            elapsed, spent = t.clock.wall(), t.clock.spent()
            entry = {"epoch": epoch + 1, "train_loss": train_loss, "valid_loss": valid_loss, "seconds": elapsed}
            log.append({**entry, **self._epoch_details(batch_size, spent)})
            logger.debug("epoch %d: train %.4f valid %.4f (%.1fs)", epoch + 1, train_loss, valid_loss, elapsed)
            if getattr(s, "verbose", False):
                print(f"epoch {epoch + 1}: train {train_loss:.4f} valid {valid_loss:.4f} ({elapsed:.1f}s)", flush=True)
            if valid_loss < best_loss - 1e-4:
                stale = 0 if valid_loss < best_loss * (1.0 - enough) else stale + 1
                best_loss, best = valid_loss, [v.numpy() for v in t.variables]
            else:
                stale += 1
            if stale >= PATIENCE and (t.continued or epoch + 1 >= MIN_EPOCHS):
                break
            if spent + (spent - epoch_start) > budget:  # the next epoch would overrun the budget
                break
        if best is not None:
            for variable, value in zip(t.variables, best, strict=True):
                variable.assign(value)
        return t.weights()


class GRUTrainer(EpochLoop):
    """Fits the GRU model on training windows (:func:`~personalize_kit.recipes.sequence.features.windows`).

    >>> # weights = GRUTrainer(windows, metadata, TrainingSettings(hidden=64)).run(log)
    """

    def __init__(
        self,
        windows: Mapping[str, np.ndarray],
        metadata: Metadata,
        settings: TrainingSettings,
        initial: Mapping[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
        fresh_users: np.ndarray | None = None,
    ) -> None:
        self.windows, self.meta, self.settings = windows, metadata, settings
        self.tf, self.keras = load_tensorflow()
        self.clock = TrainingClock()
        self.keras.utils.set_random_seed(settings.seed)
        self.tf.config.experimental.enable_op_determinism()
        self._variables()
        self._continue(initial, fresh_users)
        self._sampling()
        self._steps()

    # ------------------------------------------------------------------------------ the model

    def _sparse_rows(self, ptr: np.ndarray, idx: np.ndarray, n_rows: int, n_cols: int, offset: int) -> Any:
        """A (rows x tokens) sparse matrix whose rows average the tokens of each row."""
        counts = np.diff(ptr)
        owner = np.repeat(np.arange(counts.size), counts)
        return self.tf.SparseTensor(
            indices=np.stack([owner + offset, idx.astype(np.int64)], axis=1).reshape(-1, 2).astype(np.int64),
            values=(1.0 / np.maximum(counts, 1))[owner].astype(np.float32),
            dense_shape=[n_rows, max(1, n_cols)],
        )

    def _variables(self) -> None:
        tf, keras, meta, s = self.tf, self.keras, self.meta, self.settings
        dim, seed = s.hidden, s.seed
        self.item_matrix = self._sparse_rows(meta.item_ptr, meta.item_idx, meta.n_items + 1, meta.n_item_tokens, 1)
        n_users = meta.user_ptr.size - 1
        self.user_matrix = self._sparse_rows(meta.user_ptr, meta.user_idx, n_users, meta.n_user_tokens, 0)
        init = keras.initializers.TruncatedNormal(stddev=0.05, seed=seed)

        def glorot(offset: int) -> Any:
            return keras.initializers.GlorotUniform(seed=seed + offset)((dim, dim))

        counts = meta.item_counts.astype(np.float64)
        prior = np.log((counts + 1.0) / (counts.sum() + meta.n_items))
        self.own = tf.Variable(init((meta.n_items + 1, dim)), name="item_own")
        self.tokens = tf.Variable(init((max(1, meta.n_item_tokens), dim)), name="item_tokens")
        self.bias = tf.Variable((prior - prior.mean()).astype(np.float32), name="item_bias")
        self.repeat = tf.Variable(tf.zeros(2), name="repeat")  # items in the GRU's window, earlier items
        self.user_tokens = tf.Variable(init((max(1, meta.n_user_tokens), dim)), name="user_tokens")
        self.init_kernel = tf.Variable(init((dim, dim)), name="init_kernel")
        self.init_bias = tf.Variable(tf.zeros(dim), name="init_bias")
        self.out_kernel = tf.Variable(glorot(1), name="out_kernel")
        self.out_bias = tf.Variable(tf.zeros(dim), name="out_bias")
        self.profile_kernel = tf.Variable(glorot(4), name="profile_kernel")
        self.metadata_kernel = tf.Variable(glorot(6), name="metadata_kernel")
        self.gru = keras.layers.GRU(dim, return_sequences=True, seed=seed)
        self.gru.build((None, None, dim))
        self.drop_in = keras.layers.Dropout(s.dropout, seed=seed + 2)
        self.drop_out = keras.layers.Dropout(s.dropout, seed=seed + 3)
        self.drop_profile = keras.layers.Dropout(s.dropout, seed=seed + 5)
        self.variables = [
            self.own, self.tokens, self.bias, self.repeat, self.user_tokens, self.init_kernel, self.init_bias,
            self.out_kernel, self.out_bias, self.profile_kernel, self.metadata_kernel, *self.gru.trainable_variables,
        ]  # fmt: skip
        self.optimizer = keras.optimizers.Adam(learning_rate=s.learning_rate, clipnorm=5.0)
        #: a large catalogue trains by step rows (:mod:`.rows`): the item table gets its own lazy Adam
        self.by_rows = meta.n_items > sampled.ROW_STEP_ITEMS
        self.optimizer.build([v for v in self.variables if not (self.by_rows and v is self.own)])
        if self.by_rows:
            self.step_items = StepItems(tf, meta.item_ptr, meta.item_idx)
            self.own_adam = LazyAdam(tf, self.own, self.optimizer)

    def _named(self) -> dict[str, Any]:
        """The variables by the names of ``saved.GRU_WEIGHTS`` (``item_own_vectors`` without the padding row)."""
        kernel, recurrent, gru_bias = self.gru.trainable_variables
        return {
            "item_own_vectors": self.own, "item_token_vectors": self.tokens, "item_bias": self.bias,
            "repeat": self.repeat, "user_token_vectors": self.user_tokens, "init_kernel": self.init_kernel,
            "init_bias": self.init_bias, "gru_kernel": kernel, "gru_recurrent": recurrent, "gru_bias": gru_bias,
            "out_kernel": self.out_kernel, "out_bias": self.out_bias, "profile_kernel": self.profile_kernel,
            "metadata_kernel": self.metadata_kernel,
        }  # fmt: skip

    def _queries(self, inputs: Any, weights: Any, users: Any, context: Any, training: bool,
                 vectors: Any = None, rows: tuple[Any, Any] | None = None) -> tuple[Any, Any]:  # fmt: skip
        """The query of every target position (masked to the real ones), and the item vectors: by default every
        item's, else ``vectors`` with ``rows`` = the inputs' and the context's rows in it."""
        tf = self.tf
        if vectors is None:
            vectors = self.own + tf.sparse.sparse_dense_matmul(self.item_matrix, self.tokens)
        input_rows, context_rows = (inputs, context) if rows is None else rows
        embedded = tf.gather(vectors, input_rows)
        x = self.drop_in(embedded, training=training)
        user_vec = tf.gather(tf.sparse.sparse_dense_matmul(self.user_matrix, self.user_tokens), users)
        h0 = tf.tanh(user_vec @ self.init_kernel + self.init_bias)
        states = self.drop_out(self.gru(x, initial_state=h0, training=training), training=training)
        mask = weights > 0
        picked = tf.boolean_mask(states, mask)
        # the profile: mean vector of the events before the window and of the window up to each position
        present = tf.cast(context > 0, tf.float32)
        before = tf.einsum("bc,bcd->bd", present, tf.gather(vectors, context_rows))
        read = tf.cast(inputs > 0, tf.float32)
        total = before[:, None, :] + tf.cumsum(embedded * read[..., None], axis=1)
        count = tf.reduce_sum(present, axis=1, keepdims=True) + tf.cumsum(read, axis=1)
        profile = tf.boolean_mask(total / tf.maximum(count, 1.0)[..., None], mask)
        query = picked @ self.out_kernel + self.drop_profile(profile, training=training) @ self.profile_kernel
        per_position = tf.repeat(user_vec[:, None, :], tf.shape(inputs)[1], axis=1)
        query += tf.boolean_mask(per_position, mask) @ self.metadata_kernel + self.out_bias
        return query, vectors

    def forward(self, inputs: Any, targets: Any, weights: Any, users: Any, context: Any, negatives: Any,
                training: bool) -> tuple[Any, Any]:  # fmt: skip
        """The weighted sum of the positions' losses and the sum of their weights."""
        tf = self.tf
        mask = weights > 0
        labels = tf.boolean_mask(targets, mask)
        vectors = step_rows = read_rows = None
        if negatives is not None and self.by_rows:  # the vectors of the step's items only
            ids, (input_rows, context_rows, label_rows, negative_rows) = self.step_items.local(
                inputs, context, labels + 1, negatives + 1
            )
            vectors = self.step_items.vectors(self.own, self.tokens, ids)
            read_rows, step_rows = (input_rows, context_rows), (label_rows, negative_rows)
        query, vectors = self._queries(inputs, weights, users, context, training, vectors, read_rows)
        pairs = output.repeat_pairs(tf, self.meta.n_items, inputs, mask, context)
        if negatives is None:
            logits = output.full_logits(tf, query, vectors, self.bias, self.repeat, pairs)
        else:
            logits = output.sampled_logits(tf, query, vectors, self.bias, self.correction, self.repeat, labels,
                                           negatives, pairs, step_rows)  # fmt: skip
            labels = tf.zeros_like(labels)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        w = tf.boolean_mask(weights, mask)
        return tf.reduce_sum(losses * w), tf.reduce_sum(w)

    # ------------------------------------------------------------------------------ the loop

    def _steps(self) -> None:
        tf = self.tf
        signature = [
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, None), tf.float32),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((None, None), tf.int32),
        ]

        def train_step(inputs, targets, weights, users, context, negatives):  # type: ignore[no-untyped-def]
            with tf.GradientTape() as tape:
                sample = negatives if self.sampled else None
                total, norm = self.forward(inputs, targets, weights, users, context, sample, True)
                loss = total / tf.maximum(norm, 1e-6)
            grads = tape.gradient(loss, self.variables)
            if self.by_rows:  # the item table's rows by the lazy Adam, the rest by Keras's
                self.own_adam.apply(grads[0])
                grads, variables = grads[1:], self.variables[1:]
            else:
                variables = self.variables
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        def eval_step(inputs, targets, weights, users, context):  # type: ignore[no-untyped-def]
            return self.forward(inputs, targets, weights, users, context, None, False)

        negatives = tf.TensorSpec((None,), tf.int32)
        self.train_step = tf.function(train_step, input_signature=[*signature, negatives], autograph=False)
        self.eval_step = tf.function(eval_step, input_signature=signature, autograph=False)

    def _batch(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        w = self.windows
        return w["inputs"][rows], w["targets"][rows], w["weights"][rows], w["users"][rows], w["context"][rows]

    def _epoch_details(self, batch_size: int, spent: float) -> dict[str, float]:
        return {"budget_seconds": spent, "negatives": self.n_negatives, "batch_size": batch_size}

    def weights(self) -> dict[str, np.ndarray]:
        """The weights serving needs, as float32 numpy arrays (names of ``saved.GRU_WEIGHTS``)."""
        kernel, recurrent, gru_bias = (v.numpy() for v in self.gru.trainable_variables)
        out = {
            "item_own_vectors": self.own.numpy()[1:],
            "item_token_vectors": self.tokens.numpy(),
            "item_bias": self.bias.numpy(),
            "repeat": self.repeat.numpy(),
            "user_token_vectors": self.user_tokens.numpy(),
            "init_kernel": self.init_kernel.numpy(),
            "init_bias": self.init_bias.numpy(),
            "gru_kernel": kernel,
            "gru_recurrent": recurrent,
            "gru_bias": np.asarray(gru_bias).reshape(2, -1),
            "out_kernel": self.out_kernel.numpy(),
            "out_bias": self.out_bias.numpy(),
            "profile_kernel": self.profile_kernel.numpy(),
            "metadata_kernel": self.metadata_kernel.numpy(),
        }
        return {name: np.asarray(value, dtype=np.float32) for name, value in out.items()}


__all__ = [
    "MIN_EPOCHS", "MIN_IMPROVEMENT", "MIN_IMPROVEMENT_TARGETS", "PATIENCE", "EpochLoop", "GRUTrainer", "Metadata",
    "TrainingSettings", "training_budget",
]  # fmt: skip
