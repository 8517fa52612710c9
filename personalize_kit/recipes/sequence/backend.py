"""TensorFlow for the sequence models' training, imported quietly and only when a model is fitted.

TensorFlow's C++ runtime writes absl lines to the process's stderr when it is imported (among them that the
oneDNN custom operations are on, written before absl's logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does
not stop them), and its Python logger warns about ``tf.function`` retracing when several models are fitted in
one process. Training in the mirror prints nothing but the mirror's own progress, so :func:`load_tensorflow`
sets ``TF_CPP_MIN_LOG_LEVEL=3`` before TensorFlow is first imported (a value the user set is kept), imports it
with the process's stderr passed through a filter that drops only those import lines (:data:`IMPORT_NOISE`;
every other line, from any thread, goes through), and sets TensorFlow's Python logger to errors only.
The oneDNN operations stay on (TensorFlow's default on x86): a training step takes about a quarter less CPU
with them, and a fit with a given seed gives the same weights from run to run on a machine. Importing this
module does none of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

#: Environment set (unless already set) before TensorFlow is imported.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3"}
#: Lines TensorFlow's native libraries write to stderr on import whatever the log level (dropped).
IMPORT_NOISE = (b"oneDNN custom operations are on", b"All log messages before absl::InitializeLog")


#: Threads of TensorFlow's pools: one per operation (intra-op), two operations side by side (inter-op). The
#: models' operations are small (a step's largest product is about 1,000 x 64 x 1,000): splitting one over
#: the cores cost more than it gained. On 2 cores, with one intra-op thread instead of two, User-Personalization
#: trained the same weights to the bit (the operations are deterministic) in 20.7-21.1 s instead of
#: 22.6-23.1 s at 100,000 interactions (three runs each, taken in turn) and 73.5 s instead of 78.2 s at
#: 1,000,000, with 13% less CPU; User-Personalization-v2 in 18.3 s instead of 21.4 s. One inter-op thread
#: instead of two was slower (27.6 s at 100,000).
INTRA_OP_THREADS = 1
INTER_OP_THREADS = 2


def load_tensorflow() -> tuple[Any, Any]:
    """``(tensorflow, keras)``, imported with :data:`QUIET_ENVIRONMENT`, a TensorFlow logger at ERROR and the
    thread pools of :data:`INTRA_OP_THREADS` and :data:`INTER_OP_THREADS` (up to the cores of the process),
    unless TensorFlow has already started in this process.

    >>> # tf, keras = load_tensorflow()
    """
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    with _stderr_without(IMPORT_NOISE) if "tensorflow" not in sys.modules else contextlib.nullcontext():
        import keras
        import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    with contextlib.suppress(RuntimeError):  # TensorFlow already started in this process: its pools stay
        tf.config.threading.set_intra_op_parallelism_threads(min(INTRA_OP_THREADS, cores()))
        tf.config.threading.set_inter_op_parallelism_threads(min(INTER_OP_THREADS, cores()))
    return tf, keras


@contextlib.contextmanager
def _stderr_without(noise: tuple[bytes, ...]) -> Iterator[None]:
    """File descriptor 2 through a pipe while the block runs: lines containing one of ``noise`` are dropped,
    every other line is written on to the real stderr (the process's other threads keep their output)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not any(part in line for part in noise):
                    os.write(saved, line)

    pumping = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    pumping.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last write end closes: the pump reads to its end and stops
        pumping.join()
        os.close(saved)


def cores() -> int:
    """CPU cores this process may use (its affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class TrainingClock:
    """Seconds of training as a time budget counts them: the process's CPU time divided by the cores it may
    use. On an idle machine that is about the wall time; on a machine busy with other work the training
    gets the same compute, so it trains the same model, only slower (a wall-clock budget would stop it
    after fewer epochs and make its quality depend on the machine's load)."""

    def __init__(self) -> None:
        self.cores = cores()
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def spent(self) -> float:
        """Budget seconds spent since the clock started."""
        return (time.process_time() - self._cpu) / self.cores

    def wall(self) -> float:
        """Wall seconds since the clock started."""
        return time.monotonic() - self._wall


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """A context in which BLAS/LAPACK use one thread (``threadpoolctl``; a no-op when it is not installed).

    The closed-form training's products and factorisations are small: OpenBLAS's threads only hand work
    back and forth, and on a busy machine their spinning makes a 0.1 s factorisation take seconds.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


__all__ = [
    "INTER_OP_THREADS",
    "INTRA_OP_THREADS",
    "IMPORT_NOISE",
    "QUIET_ENVIRONMENT",
    "TrainingClock",
    "cores",
    "load_tensorflow",
    "one_blas_thread",
]
