r"""The compiled loops (numba) behind the ``stats`` and ``compiled`` engines.

Every kernel reads float32 or float64 data and accumulates in float64. They are
compiled on first use and cached on disk (``cache=True``), so later processes load
them instead of compiling again. The formulas are those of :mod:`gradstep.moments`
(statistics) and :mod:`gradstep.steps` (one mini-batch step); the conformance
suite checks every engine built on them against the plain loop.

Status codes returned by the epoch loops: 0 ok, 1 the loss became non-finite,
2 a parameter did.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np

OK, BAD_LOSS, BAD_PARAM = 0, 1, 2


def chunk_rows(d: int) -> int:
    """Rows per chunk of the statistics pass: a chunk stays in cache for its second read.

    A function of ``d`` only, so the chunks (and the rounding) are the same for a table
    however it is read.
    """
    return max(1024, (1 << 17) // (d + 1))


# Reassociation lets LLVM vectorise the running sums; the chunks fix which rows are summed
# together, so the result is the same for any number of threads.
_SUMS = {"reassoc", "contract"}


@numba.njit(cache=True, parallel=True, fastmath=_SUMS)
def _chunk_moments(x, y, chunk):
    """Per chunk: the count, means and centred sums of products, in one read.

    Each chunk is summed relative to its first row (a shift that keeps the centred
    sums free of the cancellation of raw sums of squares), then centred exactly.
    """
    n, d = x.shape
    k = (n + chunk - 1) // chunk
    counts = np.empty(k)
    mx, my = np.zeros((k, d)), np.zeros(k)
    sxx, sxy, syy = np.zeros((k, d, d)), np.zeros((k, d)), np.zeros(k)
    for c in numba.prange(k):
        lo = c * chunk
        hi = min(lo + chunk, n)
        m = hi - lo
        ky = np.float64(y[lo])
        kx = np.empty(d)
        for j in range(d):
            kx[j] = x[lo, j]
        s1, s2, s12 = np.zeros(d), np.zeros((d, d)), np.zeros(d)
        sy, syy_c = 0.0, 0.0
        dx = np.empty(d)
        for i in range(lo, hi):
            dy = y[i] - ky
            sy += dy
            syy_c += dy * dy
            for j in range(d):
                dx[j] = x[i, j] - kx[j]
                s1[j] += dx[j]
                s12[j] += dx[j] * dy
            for j in range(d):
                for l in range(j, d):  # noqa: E741
                    s2[j, l] += dx[j] * dx[l]
        _centre(c, m, kx, ky, s1, s2, s12, sy, syy_c, counts, mx, my, sxx, sxy, syy)
    return counts, mx, my, sxx, sxy, syy


@numba.njit(cache=True, parallel=True, fastmath=_SUMS)
def _chunk_moments_1(x, y, chunk):
    """:func:`_chunk_moments` for one feature, with scalar sums the compiler vectorises."""
    n = x.shape[0]
    k = (n + chunk - 1) // chunk
    counts = np.empty(k)
    mx, my = np.zeros((k, 1)), np.zeros(k)
    sxx, sxy, syy = np.zeros((k, 1, 1)), np.zeros((k, 1)), np.zeros(k)
    for c in numba.prange(k):
        lo = c * chunk
        hi = min(lo + chunk, n)
        kx, ky = np.float64(x[lo, 0]), np.float64(y[lo])
        a = b = aa = ab = bb = 0.0
        for i in range(lo, hi):
            dx = x[i, 0] - kx
            dy = y[i] - ky
            a += dx
            b += dy
            aa += dx * dx
            ab += dx * dy
            bb += dy * dy
        s1, s2, s12 = np.array([a]), np.array([[aa]]), np.array([ab])
        _centre(c, hi - lo, np.array([kx]), ky, s1, s2, s12, b, bb,
                counts, mx, my, sxx, sxy, syy)  # fmt: skip
    return counts, mx, my, sxx, sxy, syy


@numba.njit(cache=True)
def _centre(c, m, kx, ky, s1, s2, s12, sy, syy_c, counts, mx, my, sxx, sxy, syy):
    """Sums relative to the shift -> chunk ``c``'s means and centred sums."""
    d = kx.shape[0]
    counts[c] = m
    my[c] = ky + sy / m
    syy[c] = syy_c - sy * sy / m
    for j in range(d):
        mx[c, j] = kx[j] + s1[j] / m
        sxy[c, j] = s12[j] - s1[j] * sy / m
        for l in range(j, d):  # noqa: E741
            sxx[c, j, l] = sxx[c, l, j] = s2[j, l] - s1[j] * s1[l] / m


@numba.njit(cache=True)
def _merge(counts, mx, my, sxx, sxy, syy):
    """Chan's update, chunk after chunk in table order (sums, not means, of products)."""
    n = counts[0]
    mean_x, mean_y = mx[0].copy(), my[0]
    cxx, cxy, cyy = sxx[0].copy(), sxy[0].copy(), syy[0]
    for c in range(1, counts.shape[0]):
        m = counts[c]
        total = n + m
        dx = mx[c] - mean_x
        dy = my[c] - mean_y
        f = n * m / total
        cxx += sxx[c] + f * np.outer(dx, dx)
        cxy += sxy[c] + f * dx * dy
        cyy += syy[c] + f * dy * dy
        mean_x += dx * (m / total)
        mean_y += dy * (m / total)
        n = total
    return n, mean_x, mean_y, cxx / n, cxy / n, cyy / n


def moments(x: np.ndarray, y: np.ndarray):
    """``(n, mean_x, mean_y, sxx, sxy, syy)`` of :class:`gradstep.moments.Moments`."""
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y)
    kernel = _chunk_moments_1 if x.shape[1] == 1 else _chunk_moments
    n, mean_x, mean_y, sxx, sxy, syy = _merge(*kernel(x, y, chunk_rows(x.shape[1])))
    return int(n), mean_x, float(mean_y), sxx, sxy, float(syy)


@numba.njit(cache=True)
def _moment_loss(mean_x, mean_y, sxx, sxy, syy, b, w):
    d = w.shape[0]
    r = b - mean_y
    spread = syy
    for j in range(d):
        r += mean_x[j] * w[j]
        t = 0.0
        for k in range(d):
            t += sxx[j, k] * w[k]
        spread += w[j] * t - 2.0 * w[j] * sxy[j]
    return r * r + max(spread, 0.0)


@numba.njit(cache=True)
def stats_epochs(train, val, has_val, b, w, lr, out_b, out_w, out_loss, out_val):
    """Full-batch epochs in O(d^2) each, from the moments (``train``/``val`` tuples).

    Writes the parameters after each epoch, the loss before its update (also the
    non-finite one it stops at) and the validation loss after it; returns ``(epochs_done, status)``.
    """
    mean_x, mean_y, sxx, sxy, syy = train
    d = w.shape[0]
    w = w.copy()
    grad_w = np.empty(d)
    for e in range(out_b.shape[0]):
        loss = _moment_loss(mean_x, mean_y, sxx, sxy, syy, b, w)
        out_loss[e] = loss
        if not math.isfinite(loss):
            return e, BAD_LOSS
        r = b - mean_y
        for j in range(d):
            r += mean_x[j] * w[j]
        for j in range(d):
            t = 0.0
            for k in range(d):
                t += sxx[j, k] * w[k]
            grad_w[j] = 2.0 * (mean_x[j] * r + t - sxy[j])
        b = b - lr * (2.0 * r)
        finite = math.isfinite(b)
        for j in range(d):
            w[j] -= lr * grad_w[j]
            finite = finite and math.isfinite(w[j])
        if not finite:
            return e, BAD_PARAM
        out_b[e] = b
        out_w[e] = w
        if has_val:
            out_val[e] = _moment_loss(val[0], val[1], val[2], val[3], val[4], b, w)
    return out_b.shape[0], OK


@numba.njit(cache=True, nogil=True)
def batch_epoch(x, y, order, batch_size, b, w, lr, step_b, step_w, record):
    """One epoch of mini-batch steps over the rows in ``order``; the plain loop's arithmetic.

    ``order`` may visit only some of the rows of ``x`` (a streamed window's full batches).
    Updates ``w`` in place; returns ``(b, mean batch loss, status, step)``, where
    ``step`` (1-based) is the failing step when ``status`` is not OK.
    """
    n, d = order.shape[0], x.shape[1]
    sums = np.empty(d + 2)  # [sum e, sum x_j e, sum e^2] of the batch (part_sums)
    loss_sum = 0.0
    steps = 0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        part_sums(x, y, order, start, stop, b, w, sums)
        steps += 1
        loss = sums[d + 1] / m
        if not math.isfinite(loss):
            return b, loss, BAD_LOSS, steps
        b = b - lr * (2.0 * sums[0] / m)
        finite = math.isfinite(b)
        for j in range(d):
            w[j] -= lr * (2.0 * sums[1 + j] / m)
            finite = finite and math.isfinite(w[j])
        if not finite:
            return b, loss, BAD_PARAM, steps
        loss_sum += loss
        if record:
            step_b[steps] = b
            step_w[steps] = w
    return b, loss_sum / steps, OK, steps


_WARM: set[tuple] = set()


def warm(dtype, d: int) -> float:
    """Compile (or load from the disk cache) every kernel for ``dtype`` data with ``d``
    features; return the seconds it took (0 when this process already has them)."""
    key = (np.dtype(dtype).str, d == 1)
    if key in _WARM:
        return 0.0
    start = time.perf_counter()
    x, y = np.zeros((4, d), dtype=dtype), np.zeros(4, dtype=dtype)
    moments(x, y)
    w = np.zeros(d)
    batch_epoch(x, y, np.arange(4), 2, 0.0, w, 0.1, np.empty(1), np.empty((1, d)), False)
    part_sums(x, y, np.arange(4), 0, 2, 0.0, w, np.empty(d + 2))
    m = (np.zeros(d), 0.0, np.zeros((d, d)), np.zeros(d), 0.0)
    one, two = np.empty(1), np.empty((1, d))
    stats_epochs(m, m, False, 0.0, w, 0.1, one, two, np.empty(1), np.empty(1))
    _WARM.add(key)
    return time.perf_counter() - start


@numba.njit(cache=True, nogil=True)
def part_sums(x, y, order, lo, hi, b, w, out):
    """The sums of one rank's part ``order[lo:hi]`` of a batch, into ``out``:
    ``[sum e, sum x_j e (d values), sum e^2]`` with ``e = b + x w - y``, summed row after
    row; :func:`batch_epoch` sums each whole batch with it (so one part is that batch, bit
    for bit)."""
    d = x.shape[1]
    grad_b = 0.0
    squares = 0.0
    for j in range(d):
        out[1 + j] = 0.0
    for t in range(lo, hi):
        i = order[t]
        error = b - y[i]
        for j in range(d):
            error += x[i, j] * w[j]
        squares += error * error
        grad_b += error
        for j in range(d):
            out[1 + j] += x[i, j] * error
    out[0] = grad_b
    out[d + 1] = squares
