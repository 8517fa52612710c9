"""Serving arithmetic of the sequence models in numpy: the Keras GRU's step, products for one request, softmax.

Nothing here imports TensorFlow: a trained model answers from its ``.npz`` arrays alone.
"""

from __future__ import annotations

import functools

import numpy as np

try:  # np.einsum(..., optimize=False) without its Python wrapper (a GRU step calls it once)
    from numpy._core._multiarray_umath import c_einsum as _einsum
except ImportError:  # pragma: no cover - another numpy layout
    _einsum = functools.partial(np.einsum, optimize=False)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def vector_matrix(vector: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``vector @ matrix`` for one request: numpy's own loop, not BLAS, whose threads cost milliseconds of
    hand-off on a busy machine for a product this small; a batch (2-D ``vector``) still goes to BLAS."""
    return np.einsum("i,ij->j", vector, matrix, optimize=False) if vector.ndim == 1 else vector @ matrix


def matrix_vector(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` for one request, without BLAS threads (see :func:`vector_matrix`)."""
    return np.einsum("ij,j->i", matrix, vector, optimize=False)


def gru_run(x_proj: np.ndarray, h: np.ndarray, recurrent_kernel: np.ndarray, recurrent_bias: np.ndarray) -> np.ndarray:
    """Run a Keras GRU (``reset_after=True``, gates z, r, h) over steps; return the last state.

    ``x_proj`` is ``inputs @ kernel + input_bias`` with shape ``(steps, 3H)`` or ``(batch, steps, 3H)``
    and ``h`` the initial state ``(H,)`` or ``(batch, H)``. Padded steps of a batch (rows of NaN in
    ``x_proj``) leave the state unchanged.

    >>> h = gru_run(np.zeros((2, 6)), np.zeros(2), np.zeros((2, 6)), np.zeros(6))
    >>> h.tolist()
    [0.0, 0.0]
    """
    if h.ndim == 1:
        return _gru_run_one(x_proj, h, recurrent_kernel, recurrent_bias)
    units = h.shape[-1]
    for t in range(x_proj.shape[-2]):
        x = x_proj[..., t, :]
        inner = vector_matrix(h, recurrent_kernel) + recurrent_bias
        z = sigmoid(x[..., :units] + inner[..., :units])
        r = sigmoid(x[..., units : 2 * units] + inner[..., units : 2 * units])
        candidate = np.tanh(x[..., 2 * units :] + r * inner[..., 2 * units :])
        new = z * h + (1.0 - z) * candidate
        if x.ndim == 2:
            keep = np.isnan(x[:, :1])
            new = np.where(keep, h, new)
        h = new.astype(np.float32, copy=False)
    return h


def _gru_run_one(x_proj: np.ndarray, h: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """:func:`gru_run` for one sequence, the same arithmetic in fewer numpy calls (this is a request's path):
    both gates in one sigmoid, computed in place in buffers made once, and ``h' = c + z (h - c)`` written
    into one of two state buffers taken in turn."""
    units = h.shape[0]
    gates = 2 * units
    h = h.astype(np.float32, copy=False)
    inner = np.empty(kernel.shape[1], dtype=np.result_type(h, kernel))
    zr = np.empty(gates, dtype=np.float32)
    states = np.empty((2, units), dtype=np.float32)  # the next state goes to the one not holding ``h``
    z, r, candidate = zr[:units], zr[units:], inner[gates:]  # views of the buffers
    for step, (x_gates, x_candidate) in enumerate(zip(x_proj[:, :gates], x_proj[:, gates:], strict=True)):
        _einsum("i,ij->j", h, kernel, out=inner)  # vector_matrix, into the buffer
        inner += bias
        np.add(x_gates, inner[:gates], out=zr)
        zr *= 0.5  # sigmoid(v) = (1 + tanh(v / 2)) / 2
        np.tanh(zr, out=zr)
        zr += 1.0
        zr *= 0.5
        candidate *= r
        candidate += x_candidate
        np.tanh(candidate, out=candidate)
        new = states[step % 2]
        np.subtract(h, candidate, out=new)
        new *= z
        new += candidate  # c + z (h - c), rounded to float32 as the state is
        h = new
    return h.copy()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax of a vector (float64, sums to 1).

    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    shifted = np.subtract(logits, logits.max(), dtype=np.float64)  # one pass: cast and shift
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum()
    return shifted


__all__ = ["gru_run", "matrix_vector", "sigmoid", "softmax", "vector_matrix"]
