"""The sequence models' epoch loop stops as its constants say and keeps the best epoch's weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from personalize_kit.recipes.sequence import training
from personalize_kit.recipes.sequence.backend import TrainingClock
from personalize_kit.recipes.sequence.training import EpochLoop, Metadata, TrainingSettings
from personalize_kit.recipes.sequence.transformer import TransformerSettings


class Weights:
    """A variable whose value is the number of validation losses computed when it was read."""

    def __init__(self, loop: Scripted) -> None:
        self.loop, self.value = loop, -1

    def numpy(self) -> int:
        return self.loop.validations

    def assign(self, value: int) -> None:
        self.value = value


class Scripted(EpochLoop):
    """An epoch loop whose validation losses are given in advance (one per validation, in order)."""

    def __init__(self, losses: list[float], continued: bool = False, targets: int = 40,
                 min_improvement: float = training.MIN_IMPROVEMENT) -> None:  # fmt: skip
        users = 40  # 4 validation users: one validation batch per epoch
        self.windows = {"users": np.arange(users), "newest": np.ones(users, bool), "inputs": np.zeros((users, 2))}
        self.meta = Metadata(10, *[np.zeros(1)] * 4, 0, 0, np.zeros(10))
        self.settings = TrainingSettings(hidden=4, max_epochs=len(losses), batch_size=8, time_budget=1e9,
                                         min_improvement=min_improvement)  # fmt: skip
        self.n_targets, self.rng, self.clock = targets, np.random.default_rng(0), TrainingClock()
        self.losses, self.validations, self.continued = iter(losses), 0, continued
        self.variables = [Weights(self)]

    def _batch(self, rows: np.ndarray) -> tuple[Any, ...]:
        return (rows,)

    def _negatives(self) -> np.ndarray:
        return np.zeros(0, np.int32)

    def train_step(self, rows: np.ndarray, negatives: np.ndarray) -> float:
        return 1.0

    def eval_step(self, rows: np.ndarray) -> tuple[float, float]:
        self.validations += 1
        return next(self.losses), 1.0

    def weights(self) -> dict[str, np.ndarray]:
        return {"kept": np.asarray(self.variables[0].value)}


def fit(
    losses: list[float], continued: bool = False, targets: int = 40, min_improvement: float = training.MIN_IMPROVEMENT
) -> tuple[int, int]:
    """Epochs trained and the epoch (validation count) whose weights were kept."""
    loop, log = Scripted(losses, continued, targets, min_improvement), []
    kept = int(loop.run(log)["kept"])
    return len(log), kept - (1 if continued else 0)


def test_training_from_scratch_runs_the_minimum_epochs_and_stops_after_a_worse_one() -> None:
    losses = [5.0, 5.1, 5.2, 5.3, 4.0, 4.5, 3.0, 2.0]
    assert training.MIN_EPOCHS == 5
    assert fit(losses) == (6, 5)  # epochs 2-4 were worse, but not before epoch 5; epoch 6 stops it


def test_on_large_data_an_epoch_that_gains_less_than_the_minimum_improvement_is_kept_and_the_last() -> None:
    small = 4.0 * (1 - training.MIN_IMPROVEMENT / 2)
    large = 4.0 * (1 - training.MIN_IMPROVEMENT * 2)
    targets = training.MIN_IMPROVEMENT_TARGETS
    assert fit([7.0, 6.0, 5.0, 4.0, small, 3.0], targets=targets) == (5, 5)  # gained too little: kept, the end
    assert fit([7.0, 6.0, 5.0, 4.0, large, 3.0], targets=targets) == (6, 6)  # gained enough: the sixth is trained
    assert fit([7.0, 6.0, 5.0, 4.0, small, 3.0], targets=targets - 1) == (6, 6)  # small data: every gain counts


def test_a_continued_training_keeps_its_start_unless_an_epoch_beats_it() -> None:
    assert fit([4.0, 4.2, 3.0], continued=True) == (1, 0)  # the first epoch was worse: the start is kept
    assert fit([4.0, 3.0, 2.0, 1.9995], continued=True, targets=training.MIN_IMPROVEMENT_TARGETS) == (3, 3)


def test_the_transformer_trains_on_while_its_validation_loss_falls_however_little() -> None:
    targets = training.MIN_IMPROVEMENT_TARGETS
    creeping = [7.0, 6.0, 5.0, 4.0, 3.999, 3.998, 3.997, 3.998]  # falls by 0.025% an epoch, then rises
    transformer = TransformerSettings().min_improvement
    assert fit(creeping, targets=targets) == (5, 5)  # the GRU's threshold stops at the first small gain
    assert fit(creeping, targets=targets, min_improvement=transformer) == (8, 7)  # on to the rise; the best kept
