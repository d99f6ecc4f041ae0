"""c = alpha * a^T b + beta * c in one BLAS call: a weight gradient and its update, fused.

A Dense layer's weight gradient is a matrix product, g = x^T delta, and the momentum update then
makes further passes over memory with it: v = mu * v - lr * g, theta += v. BLAS's gemm computes
C = alpha * A B + beta * C in one call, so SGD asks it for

    v = (-lr) * x^T delta + mu * v          (momentum; then theta += v)
    theta = (-lr) * x^T delta + 1 * theta   (plain SGD)

and the gradient matrix is never written out and read back (docs/optimizers.md, "The weight
gradient, multiplied inside the update").

NumPy's matmul always asks BLAS for beta = 0, so `gemm_tn` calls the BLAS NumPy itself loaded (the
OpenBLAS its wheels ship, as `scipy_openblas64_`) through ctypes, as threadpoolctl does to set its
threads: the same library, the same threads, nothing compiled. The library is used only after it
answered a test product exactly (`_self_test`). Where it is not found (NumPy from a Linux
distribution or conda, Apple's Accelerate), and for arrays too small to gain from it, gemm_tn
declines (returns False) and SGD makes its usual unfused update, bit for bit the same as before.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # the CBLAS enums
# Smaller c are left to the caller: the gradient, the velocity and the weights then share the
# CPU's cache, and the passes fusing saves cost next to nothing. Fused (with `add`), a whole epoch
# measured 2-7% faster at 784 x 100 and 7% at 784 x 64 (50,176), and 784-800-800-10's 23%
# (benchmarks/ablate_loop.py --only fusing; docs/optimizers.md has the table).
MIN_SIZE = 50_000


def _load() -> tuple[dict, dict]:
    """({dtype: cblas_?gemm}, {dtype: cblas_?axpy}) of NumPy's own ILP64 OpenBLAS, or two empty
    dicts where there is none."""
    here = os.path.dirname(np.__file__)
    paths = glob.glob(os.path.join(here + ".libs", "libscipy_openblas64_*")) + glob.glob(
        os.path.join(here, ".dylibs", "libscipy_openblas64_*"))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same library
            gemms = {np.dtype(np.float32): lib.scipy_cblas_sgemm64_, np.dtype(np.float64): lib.scipy_cblas_dgemm64_}
            axpys = {np.dtype(np.float32): lib.scipy_cblas_saxpy64_, np.dtype(np.float64): lib.scipy_cblas_daxpy64_}
        except (OSError, AttributeError):
            continue
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        for dtype in gemms:
            scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            gemms[dtype].argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64,
                                     scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
            axpys[dtype].argtypes = [i64, scalar, ptr, i64, ptr, i64]
            gemms[dtype].restype = axpys[dtype].restype = None
        return gemms, axpys
    return {}, {}


def _lead(a: np.ndarray, dtype: np.dtype) -> int:
    """The leading dimension BLAS reads a 2-D array with (rows of contiguous elements at a fixed
    stride), or 0 if it cannot read it as is."""
    if a.ndim != 2 or a.dtype != dtype or a.strides[1] != dtype.itemsize or a.strides[0] % dtype.itemsize:
        return 0
    lead = a.strides[0] // dtype.itemsize
    return lead if lead >= max(1, a.shape[1]) else 0


def gemm_tn(a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha: float, beta: float) -> bool:
    """c = alpha * a^T b + beta * c in place, in one BLAS call: a (k, m), b (k, n), c (m, n) of one
    float dtype. Returns False, and leaves c alone, where that would not pay or cannot run: c under
    MIN_SIZE elements, a layout BLAS cannot read, no BLAS found; the caller multiplies a^T b itself."""
    return c.size >= MIN_SIZE and _gemm(a, b, c, alpha, beta)


def _gemm(a, b, c, alpha, beta) -> bool:
    gemm = _GEMM.get(c.dtype)
    lda, ldb = _lead(a, c.dtype), _lead(b, c.dtype)
    # BLAS writes through c's address whatever NumPy's flags say: a read-only c (a memory map, a
    # bytes buffer) would be changed or crash the process, so it is declined like any other.
    if gemm is None or not (lda and ldb and c.flags.c_contiguous and c.flags.writeable and c.flags.aligned
                            and a.shape[0] == b.shape[0] and c.shape == (a.shape[1], b.shape[1])):
        return False
    # Row-major C (m, n) = alpha * A^T B + beta * C with A stored (k, m) and B stored (k, n).
    (k, m), n = a.shape, b.shape[1]
    gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb, beta, c.ctypes.data, n)
    return True


def add(y: np.ndarray, x: np.ndarray) -> bool:
    """y += x in place by BLAS's axpy (y = 1 * x + y), which OpenBLAS spreads over its threads:
    the same numbers as NumPy's y += x (1 * x is exact, so one rounding either way). Returns False,
    and leaves y alone, where BLAS cannot take the arrays; the caller adds them itself.

    Why, most likely: after a threaded product wrote x, part of it sits in the other core's cache,
    and NumPy's one-thread pass fetches it from there; BLAS's threads add it where it is (an epoch of
    784-800-800-10 5% faster than with NumPy's +=: benchmarks/ablate_loop.py --only fusing)."""
    axpy = _AXPY.get(y.dtype)
    if axpy is None or not (x.dtype == y.dtype and x.shape == y.shape and x.flags.c_contiguous
                            and y.flags.c_contiguous and y.flags.writeable and x.flags.aligned and y.flags.aligned):
        return False
    axpy(y.size, 1.0, x.ctypes.data, 1, y.ctypes.data, 1)
    return True


def available() -> bool:
    """Whether gemm_tn can call BLAS here (False: it always declines)."""
    return bool(_GEMM)


def _self_test() -> bool:
    """One product and one sum with exact answers (small integers, halves and quarters), in every dtype."""
    for dtype in _GEMM:
        a = np.arange(3 * 256, dtype=dtype).reshape(3, 256) % 7
        b = (np.arange(3 * 130, dtype=dtype).reshape(3, 130) % 5)[:, :128]  # rows at a stride
        c = np.ones((256, 128), dtype=dtype)
        want = -0.5 * (a.T @ b) + 0.25 * c
        if not _gemm(a, b, c, alpha=-0.5, beta=0.25) or not np.array_equal(c, want):
            return False
        x, y = a[:2] / 4, a[1:] * 3
        want = y + x
        if add(y[:, 1:], x[:, 1:]) or not add(y, x) or not np.array_equal(y, want):  # rows at a stride: declined
            return False
    return True


_GEMM, _AXPY = _load()
if not _self_test():
    _GEMM, _AXPY = {}, {}
