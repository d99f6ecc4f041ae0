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
# Smaller c are left to the caller. Three arrays of 100,000 float32 (g, v and theta: 1.2 MB) no
# longer fit a 1 MB L2 cache together, and only then do the passes fusing saves come from memory:
# at 784 x 100 (78,400) fusing measured no faster, at 784 x 160 (125,440) 12% faster, at 784 x 800
# 22% (weight products and update per batch, benchmarks/ablate_loop.py --only update).
MIN_SIZE = 100_000


def _load() -> dict:
    """{dtype: the ILP64 cblas_?gemm of NumPy's own OpenBLAS}, or {} where there is none."""
    here = os.path.dirname(np.__file__)
    paths = glob.glob(os.path.join(here + ".libs", "libscipy_openblas64_*")) + glob.glob(
        os.path.join(here, ".dylibs", "libscipy_openblas64_*"))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded by NumPy: this returns the same library
            found = {np.dtype(np.float32): lib.scipy_cblas_sgemm64_, np.dtype(np.float64): lib.scipy_cblas_dgemm64_}
        except (OSError, AttributeError):
            continue
        for dtype, gemm in found.items():
            scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
            i64, ptr = ctypes.c_int64, ctypes.c_void_p
            gemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64,
                             scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
            gemm.restype = None
        return found
    return {}


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


def available() -> bool:
    """Whether gemm_tn can call BLAS here (False: it always declines)."""
    return bool(_GEMM)


def _self_test() -> bool:
    """One product with an exact answer (small integers, halves and quarters), in every dtype."""
    for dtype in _GEMM:
        a = np.arange(3 * 256, dtype=dtype).reshape(3, 256) % 7
        b = (np.arange(3 * 130, dtype=dtype).reshape(3, 130) % 5)[:, :128]  # rows at a stride
        c = np.ones((256, 128), dtype=dtype)
        want = -0.5 * (a.T @ b) + 0.25 * c
        if not _gemm(a, b, c, alpha=-0.5, beta=0.25) or not np.array_equal(c, want):
            return False
    return True


_GEMM = _load()
if not _self_test():
    _GEMM = {}
