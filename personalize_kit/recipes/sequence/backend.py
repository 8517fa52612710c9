"""TensorFlow for the sequence models' training, imported quietly and only when a model is fitted.

TensorFlow's C++ runtime writes oneDNN and absl lines to the process's stderr when it is imported and when
its first kernels run, and its Python logger warns about ``tf.function`` retracing when several models are
fitted in one process. Training in the mirror prints nothing but the mirror's own progress, so
:func:`load_tensorflow` sets, before TensorFlow is first imported, the environment that keeps it quiet:
``TF_CPP_MIN_LOG_LEVEL=3`` and ``TF_ENABLE_ONEDNN_OPTS=0`` (the oneDNN custom operations are what prints;
they also make results differ in the last bits from run to run). A value the user set is kept.
TensorFlow's Python logger is set to errors only. Importing this module does none of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

#: Environment set (unless already set) before TensorFlow is imported.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


def load_tensorflow() -> tuple[Any, Any]:
    """``(tensorflow, keras)``, imported with :data:`QUIET_ENVIRONMENT` and a TensorFlow logger at ERROR.

    >>> # tf, keras = load_tensorflow()
    """
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return tf, keras


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


__all__ = ["QUIET_ENVIRONMENT", "TrainingClock", "cores", "load_tensorflow", "one_blas_thread"]
