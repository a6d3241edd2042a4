"""MATLAB-compatible ``imresize`` for PyTorch tensors.

Super-resolution papers make their low-resolution (LR) test images with MATLAB's
``imresize(hr, 1/s, 'bicubic')`` on uint8 images.  Other resizers (PIL,
``torch.nn.functional.interpolate``, OpenCV) give slightly different pixels (differences
of up to 15 grey levels along the borders), which changes the PSNR a model scores, so the
book makes LR images with :func:`imresize`, a re-implementation of MATLAB's algorithm that
reproduces MATLAB's uint8 output pixel for pixel (checked against MATLAB-made LR images of
Set5, Set14 and BSD100 at x2, x3 and x4: 100% identical pixels).

What MATLAB does, and so what :func:`imresize` does
----------------------------------------------------

* **Separable**: the image is resized along one axis, then along the other.  For every
  output pixel along an axis a handful of input pixels are weighted and summed, so a
  1-D pass is a multiplication with a sparse ``(out_len, in_len)`` weight matrix.
* **Coordinates**: output pixel ``x`` (1-based) sits at input coordinate
  ``u = x / scale + 0.5 * (1 - 1 / scale)``, which aligns pixel *edges* (not centres) of
  input and output, like ``align_corners=False`` in PyTorch.
* **Kernel**: Keys' cubic convolution kernel with ``a = -0.5`` by default (width 4);
  ``linear`` (triangle, width 2), ``lanczos2`` (width 4), ``lanczos3`` (width 6) and
  ``box`` (width 1) are the other MATLAB kernels.
* **Antialiasing** when shrinking (``scale < 1``): the kernel is stretched, ``h(x) =
  scale * k(scale * x)`` with width ``kernel_width / scale``, so it low-pass filters.
* **Normalisation**: the weights of each output pixel are divided by their sum.
* **Edges**: out-of-range input indices are *clamped* to the first/last pixel
  (replicate padding), as in the imresize.m of recent releases.  Some older versions and
  many ports mirror them instead (``aux = [1:n, n:-1:1]``, "symmetric" padding); the
  MATLAB-made LR images of the benchmark datasets are only reproduced with clamping
  (mirroring changes 0.6-1.4% of their pixels, by up to 11 grey levels).
* **Output size**: ``ceil(in_size * scale)`` per axis; given an output size instead,
  ``scale = out_size / in_size``.
* **Order**: the axis with the smaller scale factor is resized first (height first on a
  tie).  For uint8 images the order changes the result (rounding and clamping happen in
  between: width first changes ~18% of the benchmark LR pixels); for float images it does
  not (up to float rounding), so :func:`imresize` then picks the cheaper order.
* **uint8**: each 1-D pass is computed in double precision, rounded half away from zero
  (MATLAB's ``round``; ``torch.round`` rounds half to even, which changes ~0.6% of the
  pixels at x2, where exact halves are common) and clamped to ``[0, 255]``; the next pass
  starts from that uint8 result.  Float images are never rounded or clamped.

Implementation: the taps of each axis are computed once per (input length, output length,
scale, kernel, antialias) and cached, with their tensors per device and dtype.  The banded
weight matrix of an axis is cut into row blocks that each read a short window of the
input; a height pass gathers those windows and runs one batched matmul, a width pass runs
one matmul per block on a slice of the input.  The block size comes from a small cost
model.  For uint8 images, the few values that land within 1e-7 of ``k + 0.5`` are summed
again tap by tap in MATLAB's order, so ties round exactly as in MATLAB.

Example::

    >>> import torch
    >>> from srlib.resize import imresize
    >>> hr = torch.randint(0, 256, (1, 3, 96, 64), dtype=torch.uint8)
    >>> imresize(hr, 1 / 4).shape        # MATLAB: imresize(hr, 1/4)
    torch.Size([1, 3, 24, 16])
    >>> imresize(hr.float() / 255, size=(200, 100), kernel="lanczos3").dtype
    torch.float32
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import torch

__all__ = [
    "KERNELS",
    "MAX_OUTPUT_PIXELS",
    "MAX_TAP_ENTRIES",
    "box",
    "contributions",
    "cubic",
    "imresize",
    "lanczos2",
    "lanczos3",
    "linear",
    "modcrop",
    "output_size",
]


# --------------------------------------------------------------------------- kernels
# The formulas are MATLAB's (imresize.m), evaluated in float64 on numpy arrays.


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's 'bicubic'); support [-2, 2]."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2 = ax**2
    ax3 = ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (1 < ax) & (ax <= 2)
    )


def linear(x: np.ndarray) -> np.ndarray:
    """Triangle kernel (MATLAB's 'bilinear'/'triangle'); support [-1, 1]."""
    x = np.asarray(x, dtype=np.float64)
    return (x + 1) * ((-1 <= x) & (x < 0)) + (1 - x) * ((0 <= x) & (x <= 1))


def box(x: np.ndarray) -> np.ndarray:
    """Box kernel, 1 on [-0.5, 0.5) (MATLAB's 'box')."""
    x = np.asarray(x, dtype=np.float64)
    return ((-0.5 <= x) & (x < 0.5)).astype(np.float64)


_EPS = np.finfo(np.float64).eps  # MATLAB's eps, keeps lanczos(0) = eps / eps = 1


def lanczos2(x: np.ndarray) -> np.ndarray:
    """Lanczos kernel with a = 2 (MATLAB's 'lanczos2'); support (-2, 2)."""
    x = np.asarray(x, dtype=np.float64)
    f = (np.sin(np.pi * x) * np.sin(np.pi * x / 2) + _EPS) / ((np.pi**2 * x**2 / 2) + _EPS)
    return f * (np.abs(x) < 2)


def lanczos3(x: np.ndarray) -> np.ndarray:
    """Lanczos kernel with a = 3 (MATLAB's 'lanczos3'); support (-3, 3)."""
    x = np.asarray(x, dtype=np.float64)
    f = (np.sin(np.pi * x) * np.sin(np.pi * x / 3) + _EPS) / ((np.pi**2 * x**2 / 3) + _EPS)
    return f * (np.abs(x) < 3)


#: name -> (kernel function, kernel width), MATLAB's widths.
KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "cubic": (cubic, 4.0),
    "linear": (linear, 2.0),
    "lanczos2": (lanczos2, 4.0),
    "lanczos3": (lanczos3, 6.0),
    "box": (box, 1.0),
}
_ALIASES = {"bicubic": "cubic", "bilinear": "linear", "triangle": "linear"}


def _kernel_name(kernel: str) -> str:
    if not isinstance(kernel, str) or _ALIASES.get(kernel, kernel) not in KERNELS:
        choices = ", ".join(repr(k) for k in [*KERNELS, *_ALIASES])
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {choices}")
    return _ALIASES.get(kernel, kernel)


# ------------------------------------------------------------------------------ limits
#: Largest output :func:`imresize` makes, in pixels per image (``H_out * W_out``): 256
#: megapixels (a 16,384 x 16,384 image; 6 GB as a float64 RGB tensor).
MAX_OUTPUT_PIXELS: int = 2**28
#: Largest weight table of one axis, ``out_length * taps`` entries: 2**25 (256 MB in float64).
#: Shrinking by a factor ``s`` needs ``kernel_width / s + 2`` taps per output pixel, so
#: ``scale=1e-8`` would need 400 million taps.
MAX_TAP_ENTRIES: int = 2**25


def _taps(scale: float, kernel: str, antialias: bool) -> int:
    width = KERNELS[kernel][1]
    return int(math.ceil(width / scale if scale < 1 and antialias else width)) + 2


def _check_limits(out_hw: tuple[int, int], scales: tuple[float, float], kernel: str,
                  antialias: bool) -> None:
    """Refuse, before any allocation, an output or weight table over the documented limits."""
    if out_hw[0] * out_hw[1] > MAX_OUTPUT_PIXELS:
        raise ValueError(
            f"the output would be {out_hw[0]} x {out_hw[1]} pixels, more than imresize's limit "
            f"of {MAX_OUTPUT_PIXELS:,} pixels (srlib.resize.MAX_OUTPUT_PIXELS): check the "
            "scale or size, or resize tiles of the image"
        )
    for out_length, s in zip(out_hw, scales, strict=True):
        _check_taps(out_length, s, kernel, antialias)


def _check_taps(out_length: int, scale: float, kernel: str, antialias: bool) -> None:
    taps = _taps(scale, kernel, antialias)
    if out_length * taps > MAX_TAP_ENTRIES:
        raise ValueError(
            f"scale {scale:g} needs {taps:,} kernel taps for each of {out_length:,} output "
            f"pixels, more than imresize's limit of {MAX_TAP_ENTRIES:,} weights per axis "
            f"(srlib.resize.MAX_TAP_ENTRIES): "
            f"{'shrink in several steps' if scale < 1 else 'resize tiles of the image'}, or "
            "check the scale"
        )


# ---------------------------------------------------------------------- contributions


@lru_cache(maxsize=256)
def _contributions(
    in_length: int, out_length: int, scale: float, kernel: str, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    fn, width = KERNELS[kernel]
    if scale < 1 and antialias:

        def h(t: np.ndarray) -> np.ndarray:
            return scale * fn(scale * t)

        width = width / scale
    else:
        h = fn
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # input coordinate of each output pixel (1-based)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = h(u[:, None] - indices)
    total = weights[:, 0].copy()
    for k in range(1, taps):  # left to right like MATLAB's sum (numpy's sum is pairwise)
        total += weights[:, k]
    weights = weights / total[:, None]
    indices = np.clip(indices, 1, in_length).astype(np.int64) - 1  # clamp, then 0-based
    keep = np.any(weights != 0, axis=0)  # MATLAB drops all-zero columns
    weights, indices = weights[:, keep], indices[:, keep]
    weights.flags.writeable = False
    indices.flags.writeable = False
    return weights, indices


def contributions(
    in_length: int,
    out_length: int,
    scale: float,
    kernel: str = "cubic",
    antialias: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: the taps of a 1-D resize.

    Returns ``(weights, indices)``, both of shape ``(out_length, taps)``: output pixel ``i``
    is ``sum_k weights[i, k] * input[indices[i, k]]``.  Indices are 0-based (MATLAB's are
    1-based) and already clamped to ``[0, in_length - 1]``; each row of weights sums to 1.
    The arrays are cached and read-only.

    Raises ``ValueError`` if the table would exceed :data:`MAX_TAP_ENTRIES` entries.

    >>> w, idx = contributions(4, 8, 2.0)
    >>> w.shape, idx[0].tolist()
    ((8, 4), [0, 0, 0, 1])
    """
    name = _kernel_name(kernel)
    if not (math.isfinite(scale) and scale > 0) or in_length < 1 or out_length < 1:
        raise ValueError(f"lengths must be >= 1 and scale positive, got {in_length}, "
                         f"{out_length}, {scale}")
    _check_taps(int(out_length), float(scale), name, bool(antialias))
    return _contributions(int(in_length), int(out_length), float(scale), name,
                          bool(antialias))


# A weight matrix is split into row blocks that each touch a contiguous range of input
# pixels ("banded" matrix); the plan for one block size is (o0, o1, i0, i1, dense block).
_Block = tuple[int, int, int, int, np.ndarray]
_Key = tuple[int, int, float, str, bool]


@lru_cache(maxsize=512)
def _blocks(key: _Key, block: int) -> tuple[_Block, ...]:
    weights, indices = _contributions(*key)
    out_length = key[1]
    plan = []
    for o0 in range(0, out_length, block):
        o1 = min(o0 + block, out_length)
        idx = indices[o0:o1]
        i0, i1 = int(idx.min()), int(idx.max()) + 1
        mat = np.zeros((o1 - o0, i1 - i0))
        rows = np.broadcast_to(np.arange(o1 - o0)[:, None], idx.shape)
        np.add.at(mat, (rows, idx - i0), weights[o0:o1])
        plan.append((o0, o1, i0, i1, mat))
    return tuple(plan)


@lru_cache(maxsize=256)
def _is_identity(key: _Key) -> bool:
    in_length, out_length = key[0], key[1]
    if in_length != out_length:
        return False
    (plan,) = _blocks(key, out_length)
    o0, o1, i0, i1, mat = plan
    return i0 == 0 and i1 == in_length and np.array_equal(mat, np.eye(in_length))


@lru_cache(maxsize=512)
def _stacked(key: _Key, block: int) -> tuple[np.ndarray, np.ndarray]:
    """The blocks padded to one common input span, for one batched matmul.

    Returns weights ``(n, block, span)`` and gather indices ``(n * span,)``: block ``j``
    reads input pixels ``idx[j * span:(j + 1) * span]`` (a window shifted inside the image).
    """
    plan = _blocks(key, block)
    span = max(i1 - i0 for _, _, i0, i1, _ in plan)
    weights = np.zeros((len(plan), block, span))
    gather = np.zeros((len(plan), span), dtype=np.int64)
    for j, (o0, o1, i0, i1, mat) in enumerate(plan):
        start = min(i0, key[0] - span)
        weights[j, : o1 - o0, i0 - start : i1 - start] = mat
        gather[j] = start + np.arange(span)
    return weights, gather.reshape(-1)


# Cost model for the block size, in units of one multiply-add, fitted to CPU timings
# (float32/float64, 1 thread).  Small blocks waste few multiply-adds on the zeros of the
# banded matrix; large ones need fewer calls and copies.
_BLOCK_SIZES = (2048, 1024, 512, 256, 128, 64, 32, 16, 8)
_DENSE_ENTRIES = 2**23  # largest single dense weight matrix considered (64 MB in float64)
_COSTS = {
    # height passes: one gather + one batched matmul
    "rows": dict(read=20, call=1_000_000),
    # width passes: a matmul per block on a slice of the input, written into the output
    "cols": dict(read=30, call=500_000),
}


@lru_cache(maxsize=512)
def _block_costs(key: _Key, kind: str) -> tuple[tuple[int, int, int, int], ...]:
    """(block size, multiply-adds, input elements read, number of calls) per column."""
    out_length = key[1]
    # one dense (out, in) block only when it is small: it would take 1 GB for a 16k x 8k axis
    dense = [out_length] if out_length * key[0] <= _DENSE_ENTRIES or out_length <= 8 else []
    sizes = dense + [b for b in _BLOCK_SIZES if b < out_length]
    costs = []
    for b in sizes:
        plan = _blocks(key, b)
        if kind == "rows" and len(plan) > 1:
            span = _stacked(key, b)[0].shape[2]
            costs.append((b, len(plan) * b * span, len(plan) * span, 1))
        else:
            macs = sum((o1 - o0) * (i1 - i0) for o0, o1, i0, i1, _ in plan)
            reads = sum(i1 - i0 for _, _, i0, i1, _ in plan)
            costs.append((b, macs, reads if len(plan) > 1 else 0, len(plan)))
    return tuple(costs)


def _best_block(key: _Key, columns: int, kind: str) -> tuple[int, float]:
    """(block size, estimated cost) of the cheapest plan for ``columns`` columns."""
    c = _COSTS[kind]
    best = None
    for b, macs, reads, calls in _block_costs(key, kind):
        cost = (macs + c["read"] * reads) * columns + calls * c["call"]
        if best is None or cost < best[1]:
            best = (b, cost)
    return best


@lru_cache(maxsize=512)
def _torch_blocks(
    key: _Key, block: int, device: torch.device, dtype: torch.dtype
) -> tuple[tuple[int, int, int, int, torch.Tensor], ...]:
    return tuple(
        (o0, o1, i0, i1, torch.as_tensor(mat, dtype=dtype).to(device))
        for o0, o1, i0, i1, mat in _blocks(key, block)
    )


@lru_cache(maxsize=512)
def _torch_stacked(
    key: _Key, block: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    weights, gather = _stacked(key, block)
    return torch.as_tensor(weights, dtype=dtype).to(device), torch.as_tensor(gather).to(device)


def _resize_rows(x: torch.Tensor, key: _Key, block: int) -> torch.Tensor:
    """Resize along dim -2 (height): gather the blocks' input windows, one batched matmul."""
    if block >= key[1]:  # one dense block: (o, i) @ (..., i, W) -> (..., o, W)
        ((_, _, i0, i1, mat),) = _torch_blocks(key, block, x.device, x.dtype)
        return torch.matmul(mat, x if (i0, i1) == (0, key[0]) else x[..., i0:i1, :])
    weights, gather = _torch_stacked(key, block, x.device, x.dtype)
    n, b, span = weights.shape
    windows = x.index_select(-2, gather).unflatten(-2, (n, span))  # (..., n, span, W)
    y = torch.matmul(weights, windows).flatten(-3, -2)  # (..., n * b, W)
    return y if n * b == key[1] else y[..., : key[1], :]


def _resize_cols(x: torch.Tensor, key: _Key, block: int) -> torch.Tensor:
    """Resize along dim -1 (width): one matmul per block, on a slice of the input."""
    plan = _torch_blocks(key, block, x.device, x.dtype)
    if len(plan) == 1:  # (..., H, i) @ (i, o) -> (..., H, o)
        _, _, i0, i1, mat = plan[0]
        return torch.matmul(x if (i0, i1) == (0, key[0]) else x[..., i0:i1], mat.mT)
    if x.requires_grad and torch.is_grad_enabled():  # out= does not support autograd
        return torch.cat([torch.matmul(x[..., i0:i1], mat.mT) for _, _, i0, i1, mat in plan],
                         dim=-1)
    out = x.new_empty((*x.shape[:-1], key[1]))  # each block writes into the result
    for o0, o1, i0, i1, mat in plan:
        torch.matmul(x[..., i0:i1], mat.mT, out=out[..., o0:o1])
    return out


def _resize_axis(x: torch.Tensor, dim: int, key: _Key, block: int) -> torch.Tensor:
    """Resize ``x`` along ``dim`` (-2: height, -1: width) with the banded weight matrix."""
    return _resize_rows(x, key, block) if dim == -2 else _resize_cols(x, key, block)


@lru_cache(maxsize=256)
def _torch_taps(
    key: _Key, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and indices, both ``(taps, out)``, for :func:`_taps_sum`."""
    weights, indices = _contributions(*key)
    w = torch.as_tensor(weights.T.copy(), dtype=dtype).to(device)
    idx = torch.as_tensor(indices.T.copy()).to(device)
    return w, idx


# Values this close to k + 0.5 after a uint8 pass are recomputed in MATLAB's order.
_HALF_WINDOW = 1e-7


def _taps_sum(x: torch.Tensor, pos: tuple[torch.Tensor, ...], dim: int, key: _Key) -> torch.Tensor:
    """Entries ``pos`` of ``x`` resized along ``dim``, summed tap by tap like MATLAB.

    MATLAB's imresizemex adds ``w[0] * x[idx[0]] + w[1] * x[idx[1]] + ...`` left to right.
    """
    w, idx = _torch_taps(key, x.device, x.dtype)
    d = x.ndim + dim
    out_pos = pos[d]
    src = list(pos)
    acc = None
    for k in range(idx.shape[0]):
        src[d] = idx[k][out_pos]
        term = x[tuple(src)] * w[k][out_pos]
        acc = term if acc is None else acc + term
    return acc


def _round_half_away(y: torch.Tensor) -> torch.Tensor:
    fl = torch.floor(y)
    return fl.add_(y.sub_(fl).ge_(0.5))  # y - floor(y) is exact; y is overwritten


@lru_cache(maxsize=256)
def _exact_weights(key: _Key) -> bool:
    """True if every weight is a multiple of 2**-30 (and |w| <= 2).

    Then, for integer inputs 0..255, every product and partial sum is exact in float64
    (at most ~40 significant bits), so any summation order gives MATLAB's value.  This
    holds for the cubic x2 and x4 weights (multiples of 1/128 and 1/1024 ...).
    """
    weights, _ = _contributions(*key)
    scaled = weights * 2.0**30
    return bool(np.all(np.abs(weights) <= 2) and np.array_equal(scaled, np.round(scaled)))


def _round_uint8(y: torch.Tensor, x: torch.Tensor, dim: int, key: _Key) -> torch.Tensor:
    """MATLAB's uint8 result of a 1-D pass: clamp to [0, 255], round half away from zero.

    ``y`` is ``x`` resized along ``dim`` by a matmul (it is overwritten).  A matmul sums in
    another order than MATLAB and merges repeated (clamped) taps, so its float64 result
    may differ from MATLAB's in the last bits.  That only matters for values within
    rounding error of k + 0.5; those are recomputed in MATLAB's order (unless all sums
    are exact anyway, see :func:`_exact_weights`).
    ``floor(y + 0.5)`` is avoided: it rounds 0.49999999999999994 up.
    """
    fl = torch.floor(y.clamp_(0, 255))
    frac = y.sub_(fl)
    if _exact_weights(key):  # the matmul's sums are exact: nothing to recompute
        return fl.add_(frac.ge_(0.5))
    near = torch.logical_and(frac > 0.5 - _HALF_WINDOW, frac < 0.5 + _HALF_WINDOW)
    fl.add_(frac.ge_(0.5))
    pos = near.nonzero(as_tuple=True)
    if pos[0].numel():
        exact = _taps_sum(x, pos, dim, key).clamp_(0, 255)
        fl.index_put_(pos, _round_half_away(exact))
    return fl


# ------------------------------------------------------------------- sizes and checks


def _pair(value, what: str) -> tuple:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{what} must be a number or a pair (height, width), got {value!r}")
        return tuple(value)
    return (value, value)


def _resolve(
    in_hw: tuple[int, int], scale, size
) -> tuple[tuple[int, int], tuple[float, float]]:
    """MATLAB's rules: returns ((H_out, W_out), (scale_h, scale_w))."""
    if scale is None and size is None:
        raise ValueError("give either scale (e.g. 0.25) or size=(H_out, W_out)")
    scales = None
    if scale is not None:
        scales = _pair(scale, "scale")
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)):
                raise TypeError(f"scale must be a positive number or a pair of them, got {scale!r}")
            if not (math.isfinite(s) and s > 0):
                raise ValueError(f"scale must be positive and finite, got {scale!r}")
        scales = (float(scales[0]), float(scales[1]))
    out = None
    size_dim = None
    if size is not None:
        if not (isinstance(size, Sequence) and not isinstance(size, str) and len(size) == 2):
            raise ValueError(f"size must be a pair (H_out, W_out), got {size!r}")
        for n in size:
            ok = n is None or (
                isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
            )
            if not ok:
                raise ValueError(
                    f"size must hold two positive integers (one may be None), got {size!r}"
                )
        if size[0] is None and size[1] is None:
            raise ValueError("size=(None, None): give at least one output dimension")
        h, w = size
        # MATLAB's NaN: keep the aspect ratio, the scale comes from the given dimension
        if h is None:
            h, size_dim = math.ceil(w * in_hw[0] / in_hw[1]), 1
        elif w is None:
            w, size_dim = math.ceil(h * in_hw[1] / in_hw[0]), 0
        out = (int(h), int(w))
    if scales is None:
        if size_dim is None:
            scales = (out[0] / in_hw[0], out[1] / in_hw[1])
        else:
            s = out[size_dim] / in_hw[size_dim]
            scales = (s, s)
    if any(not scales[d] * in_hw[d] <= MAX_OUTPUT_PIXELS for d in (0, 1)):
        raise ValueError(
            f"scale={scale!r} would make an output side of more than {MAX_OUTPUT_PIXELS:,} "
            f"pixels from an input of {in_hw}: check the scale"
        )
    from_scale = (math.ceil(scales[0] * in_hw[0]), math.ceil(scales[1] * in_hw[1]))
    if out is None:
        out = from_scale
    elif scale is not None and out != from_scale:
        raise ValueError(
            f"scale={scale!r} and size={size!r} disagree: scale gives size {from_scale} for "
            f"an input of {in_hw}; give only one of them"
        )
    return out, scales


def output_size(
    height: int, width: int, scale=None, size=None
) -> tuple[int, int]:
    """The output ``(H, W)`` that :func:`imresize` (and MATLAB) gives for this input size.

    >>> output_size(321, 481, 1 / 3)   # ceil(in * scale)
    (107, 161)
    >>> output_size(300, 400, size=(150, None))   # None: keep the aspect ratio
    (150, 200)
    """
    return _resolve((int(height), int(width)), scale, size)[0]


# ------------------------------------------------------------------------- imresize

_FLOAT_COMPUTE = {
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
}


def imresize(
    img: torch.Tensor,
    scale: float | tuple[float, float] | None = None,
    *,
    size: tuple[int | None, int | None] | None = None,
    kernel: str = "cubic",
    antialias: bool = True,
) -> torch.Tensor:
    """Resize images like MATLAB's ``imresize``.

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)`` tensor on any device.  A ``torch.uint8``
            tensor (values 0..255) is treated like a MATLAB uint8 image: computed in
            float64, rounded half away from zero and clamped to [0, 255] after each 1-D
            pass, returned as uint8 (this reproduces MATLAB's pixels).  A float tensor
            (any value range, e.g. [0, 1]) is resized without rounding or clamping;
            float16/bfloat16 are computed in float32 and returned in their dtype.
            Float inputs are differentiable.
        scale: the scale factor, the same for both axes (``0.25`` shrinks by 4), or a pair
            ``(scale_h, scale_w)``.  The output size is ``ceil(in * scale)``.
        size: ``(H_out, W_out)`` instead of ``scale``; one entry may be ``None`` to keep
            the aspect ratio (MATLAB's ``NaN``).  Both ``scale`` and ``size`` may be given
            if they agree (``size == ceil(in * scale)``); the coordinates then use
            ``scale``, like MATLAB does.
        kernel: ``"cubic"`` (default, MATLAB's 'bicubic'), ``"linear"`` ('bilinear'),
            ``"lanczos2"``, ``"lanczos3"`` or ``"box"``.
        antialias: widen the kernel when shrinking (MATLAB's default ``true``).

    Returns:
        ``(B, C, H_out, W_out)`` (or ``(C, H_out, W_out)``), same dtype and device.

    Raises:
        ValueError: bad arguments, or a resize over the limits, checked before anything is
            allocated: an output of more than :data:`MAX_OUTPUT_PIXELS` pixels (256 MP), or
            a weight table of more than :data:`MAX_TAP_ENTRIES` entries on one axis (e.g.
            ``scale=1e-8``).

    Example::

        lr = imresize(hr_uint8, 1 / 4)          # MATLAB: imresize(hr, 1/4, 'bicubic')
        up = imresize(lr.float() / 255, 4)      # float bicubic upscaling
    """
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"img must be a torch.Tensor, got {type(img).__name__}")
    if img.ndim not in (3, 4):
        raise ValueError(
            f"img must have shape (B, C, H, W) or (C, H, W), got {img.ndim} dims "
            f"{tuple(img.shape)}; for a single (H, W) image use img[None]"
        )
    if img.numel() == 0:
        raise ValueError(f"img is empty: shape {tuple(img.shape)}")
    is_uint8 = img.dtype == torch.uint8
    if not is_uint8 and img.dtype not in _FLOAT_COMPUTE:
        raise TypeError(
            f"unsupported dtype {img.dtype}: convert to float (img.float(), values kept as "
            "they are) or to torch.uint8 (MATLAB's uint8 behaviour with rounding)"
        )
    name = _kernel_name(kernel)
    in_hw = (int(img.shape[-2]), int(img.shape[-1]))
    out_hw, scales = _resolve(in_hw, scale, size)
    _check_limits(out_hw, scales, name, bool(antialias))
    keys = [(in_hw[d], out_hw[d], scales[d], name, bool(antialias)) for d in (0, 1)]

    if is_uint8:
        # MATLAB computes in double; MPS has no float64 (float32 also reproduces MATLAB's
        # benchmark images, the rounding is robust to it).
        compute = torch.float32 if img.device.type == "mps" else torch.float64
    else:
        compute = _FLOAT_COMPUTE[img.dtype]
    x = img.to(compute)

    axes = [d for d in (0, 1) if not _is_identity(keys[d])]
    lead = x.numel() // (in_hw[0] * in_hw[1])  # B * C
    if is_uint8:
        # MATLAB: the axis with the smaller scale first, height first on a tie
        order = sorted(axes, key=lambda d: scales[d])
    elif len(axes) == 2:
        # floats: the order does not change the result, take the cheaper one
        cost_hw = (_best_block(keys[0], lead * in_hw[1], "rows")[1]
                   + _best_block(keys[1], lead * out_hw[0], "cols")[1])
        cost_wh = (_best_block(keys[1], lead * in_hw[0], "cols")[1]
                   + _best_block(keys[0], lead * out_hw[1], "rows")[1])
        order = [0, 1] if cost_hw <= cost_wh else [1, 0]
    else:
        order = axes

    for d in order:
        other = x.shape[-1] if d == 0 else x.shape[-2]
        block = _best_block(keys[d], lead * other, "rows" if d == 0 else "cols")[0]
        y = _resize_axis(x, -2 if d == 0 else -1, keys[d], block)
        x = _round_uint8(y, x, -2 if d == 0 else -1, keys[d]) if is_uint8 else y
    if x is img:  # nothing to do: still return a new tensor
        x = x.clone()
    return x.to(img.dtype).contiguous()


def modcrop(img, scale: int):
    """Crop ``(..., H, W)`` from the top-left to ``(H // scale * scale, W // scale * scale)``.

    The SR papers' protocol: crop the HR image so that it shrinks by ``scale`` exactly.
    Works on tensors and numpy arrays with the spatial axes last (``(C, H, W)``,
    ``(B, C, H, W)``, ``(H, W)``); for an ``(H, W, C)`` numpy image use ``img[:h, :w]``.

    >>> modcrop(torch.zeros(3, 10, 7), 3).shape
    torch.Size([3, 9, 6])
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if img.ndim < 2:
        raise ValueError(f"img must have at least 2 dims (..., H, W), got shape {img.shape}")
    h, w = img.shape[-2], img.shape[-1]
    return img[..., : h // scale * scale, : w // scale * scale]
