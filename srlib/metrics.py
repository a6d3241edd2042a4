"""PSNR and SSIM for image batches, written from the formulas in plain PyTorch.

Both metrics take two images (or batches) ``img`` and ``ref`` of shape ``(B, C, H, W)`` or
``(C, H, W)``, float tensors with values in ``[0, data_range]``, and return **one value per
image**, a tensor of shape ``(B,)`` (``(1,)`` for a single ``(C, H, W)`` image).  Average it
yourself over a data set, as papers do (mean of per-image values, not the value of a pooled
MSE).

The options reproduce the conventions of super-resolution papers and of BasicSR:

* ``crop_border=s`` shaves ``s`` pixels off every side of both images before measuring
  (papers use the scale factor: the border of an upscaled image is unreliable);
* ``y_channel=True`` measures on the luma Y of MATLAB's ``rgb2ycbcr`` (see
  :mod:`srlib.color`); a grayscale ``C = 1`` image is used as it is, like the MATLAB code of
  SRCNN and BasicSR do.

They run on CPU and GPU, in float32 and float64 (float16/bfloat16 are computed in float32),
and are differentiable, so ``1 - ssim(sr, hr).mean()`` is a valid loss (clamp a network's
output into ``[0, data_range]`` first: inputs outside the range are rejected).  Every call
checks the values (NaN, range) with one integer pass over each input (the float bits read
as integers, see ``_INT_VIEW``) and one device synchronisation, to read the result of the
checks.  ``benchmarks/bench_metrics.py`` times
them against kornia.

Example::

    >>> import torch
    >>> from srlib.metrics import psnr, ssim
    >>> g = torch.Generator().manual_seed(0)
    >>> hr = torch.rand(2, 3, 32, 32, generator=g)
    >>> sr = (hr + 0.05 * torch.randn(2, 3, 32, 32, generator=g)).clamp(0, 1)
    >>> psnr(sr, hr).shape
    torch.Size([2])
    >>> psnr(hr, hr)
    tensor([inf, inf])
    >>> ssim(hr, hr)
    tensor([1., 1.])
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Real

import torch
import torch.nn.functional as F

from srlib.color import _luma

__all__ = ["gaussian_window", "psnr", "ssim", "ssim_map"]

_PADDINGS = ("valid", "same")

# On the CPU, SSIM processes the batch a few images at a time, so that the temporaries of
# one chunk stay in the CPU caches and are small enough for the memory allocator to reuse
# (for 16 RGB 256x256 images it is 2-3x faster one image at a time than the whole batch at
# once).  The budgets count the elements of one input tensor per chunk; on a GPU the whole
# batch is one chunk.  PSNR's chunks keep its temporaries small enough to be reused from
# the heap instead of being mapped afresh by every call (benchmarks/bench_metrics.py counts
# the page faults), and let PSNR's value checks and its MSE read each chunk from the caches
# in turn, so that the checks add little more than one cheap integer pass.
_CPU_CHUNK_SSIM = 1 << 18
_CPU_CHUNK_PSNR = 1 << 19


# ----------------------------------------------------------------------------- checks
def _check_args(
    img: torch.Tensor,
    ref: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
) -> None:
    """Check types, shapes and options (no pass over the values)."""
    for name, x in (("img", img), ("ref", ref)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"{name} must be a float tensor, got dtype {x.dtype}. Convert a uint8 image "
                f"with `{name}.float() / 255` and data_range=1.0, or with `{name}.float()` "
                "and data_range=255"
            )
        if x.dtype not in _INT_VIEW:  # float8 and other formats without these kernels
            raise TypeError(
                f"{name} has dtype {x.dtype}; PSNR and SSIM take float16, bfloat16, "
                f"float32 or float64 tensors: convert it with `{name}.float()`"
            )
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{name} must have shape (B, C, H, W) or (C, H, W), got shape {tuple(x.shape)}"
            )
    if img.shape != ref.shape:
        raise ValueError(
            f"img and ref must have the same shape, got {tuple(img.shape)} and {tuple(ref.shape)}"
        )
    if img.numel() == 0:
        raise ValueError(f"img and ref are empty (shape {tuple(img.shape)})")
    if img.device != ref.device:
        raise ValueError(f"img and ref are on different devices: {img.device} and {ref.device}")
    if (
        not isinstance(data_range, Real)
        or isinstance(data_range, bool)
        or not math.isfinite(data_range)
        or data_range <= 0
    ):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    if not isinstance(crop_border, int) or isinstance(crop_border, bool) or crop_border < 0:
        raise ValueError(f"crop_border must be an int >= 0, got {crop_border!r}")
    height, width = img.shape[-2:]
    if 2 * crop_border >= min(height, width):
        raise ValueError(
            f"crop_border={crop_border} is too large for {height}x{width} images: "
            f"it leaves {max(height - 2 * crop_border, 0)}x{max(width - 2 * crop_border, 0)} "
            "pixels"
        )
    if y_channel and img.shape[-3] not in (1, 3):
        raise ValueError(
            f"y_channel=True needs RGB (3 channels) or grayscale (1 channel) images, "
            f"got {img.shape[-3]} channels (shape {tuple(img.shape)})"
        )


# Bit patterns: a float's bits, read as a signed integer of the same size, grow with its
# value for every value >= +0.0; negative values (and -0.0, and NaNs with the sign bit) read
# as negative integers, positive NaNs and +inf as integers above every finite value.  So a
# tensor lies in [0, L] exactly when its integer view lies in [0, bits(L)]: one integer
# min/max pass per input, which on the CPU is 2-3x cheaper than float amin + amax (no NaN
# logic).  Only an input that fails this test (or holds -0.0, which reads as negative) is
# checked again in float, to tell NaN from a value out of range in the error message.
_INT_VIEW = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


@lru_cache(maxsize=64)
def _range_bits(dtype: torch.dtype, data_range: float) -> int:
    """The bits of the largest ``dtype`` value <= ``data_range``, as a signed integer."""
    top = torch.tensor(data_range, dtype=dtype)
    if top.item() > data_range:  # data_range rounded up to the nearest dtype value
        top = torch.nextafter(top, torch.zeros((), dtype=dtype))
    return int(top.view(_INT_VIEW[dtype]).item())


def _minmax(img: torch.Tensor, ref: torch.Tensor) -> list[torch.Tensor]:
    """``[img_lo, img_hi, ref_lo, ref_hi]`` of the inputs' bit patterns, without a sync.

    One integer ``aminmax`` per input, on a view of its bits (see ``_INT_VIEW``; no copy);
    :func:`_check_values` reads it.
    """
    return [bound for x in (img, ref)
            for bound in torch.aminmax(x.detach().view(_INT_VIEW[x.dtype]))]


def _check_values(
    bounds: list[torch.Tensor], data_range: float, img: torch.Tensor, ref: torch.Tensor
) -> None:
    """Raise on NaN or values outside ``[0, data_range]``.

    ``bounds`` is one or more :func:`_minmax` results for parts of ``img`` and ``ref``,
    concatenated; reading it is the call's only device synchronisation when the values are
    valid.
    """
    if img.dtype != ref.dtype:  # two integer sizes: widen them to stack them (rare)
        bounds = [b.long() for b in bounds]
    rows = torch.stack(bounds).view(-1, 4).tolist()
    img_lo, ref_lo = min(r[0] for r in rows), min(r[2] for r in rows)
    img_hi, ref_hi = max(r[1] for r in rows), max(r[3] for r in rows)
    for name, x, lo, hi in (("img", img, img_lo, img_hi), ("ref", ref, ref_lo, ref_hi)):
        if lo >= 0 and hi <= _range_bits(x.dtype, data_range):
            continue
        with torch.no_grad():  # rare: an invalid input, or one that holds -0.0
            flo, fhi = x.detach().amin().item(), x.detach().amax().item()
        if math.isnan(flo) or math.isnan(fhi):  # amin/amax propagate NaN
            raise ValueError(f"{name} contains NaN values")
        if flo < 0 or fhi > data_range:
            raise ValueError(
                f"{name} has values in [{flo:.6g}, {fhi:.6g}], outside [0, data_range] = "
                f"[0, {data_range:g}]. Clamp it with `{name}.clamp(0, {data_range:g})`, or "
                "pass the data_range of your images (1.0 for [0, 1], 255 for [0, 255])"
            )


def _convert(
    img: torch.Tensor, ref: torch.Tensor, data_range: float, crop_border: int, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, C, H, W)`` in a float dtype of at least 32 bits, cropped and converted to Y."""
    dtype = torch.promote_types(img.dtype, ref.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    img, ref = img.to(dtype), ref.to(dtype)
    if img.ndim == 3:
        img, ref = img.unsqueeze(0), ref.unsqueeze(0)
    if crop_border > 0:
        crop = (..., slice(crop_border, -crop_border), slice(crop_border, -crop_border))
        img, ref = img[crop], ref[crop]
    if y_channel:
        # rgb_to_y expects [0, 1]: scale, convert, scale back.
        if data_range != 1:
            img, ref = img / data_range, ref / data_range
        img, ref = _luma(img, "identity"), _luma(ref, "identity")  # checked already
        if data_range != 1:
            img, ref = img * data_range, ref * data_range
    return img, ref


def _prepare(
    img: torch.Tensor,
    ref: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the inputs and return them as ``(B, C, H, W)``, cropped and converted to Y."""
    _check_args(img, ref, data_range, crop_border, y_channel)
    _check_values(_minmax(img, ref), data_range, img, ref)  # one pass each, one sync
    return _convert(img, ref, data_range, crop_border, y_channel)


def _chunk_size(x: torch.Tensor, budget: int) -> int:
    """Images per chunk of the batch: a few on the CPU, the whole batch on a GPU."""
    return x.shape[0] if x.device.type != "cpu" else max(1, budget // x[0].numel())


def _chunks(x: torch.Tensor, budget: int) -> list[slice]:
    """Slices of the batch dim: a few images each on the CPU, the whole batch on a GPU."""
    step = _chunk_size(x, budget)
    return [slice(i, i + step) for i in range(0, x.shape[0], step)]


# ------------------------------------------------------------------------------- PSNR
def psnr(
    img: torch.Tensor,
    ref: torch.Tensor,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
) -> torch.Tensor:
    r"""Peak signal-to-noise ratio in dB, one value per image.

    .. math::

        \mathrm{PSNR} = 10 \log_{10} \frac{L^2}{\mathrm{MSE}}, \qquad
        \mathrm{MSE} = \frac{1}{CHW} \sum_{c,h,w} (\mathrm{img} - \mathrm{ref})^2

    with :math:`L` = ``data_range``.  Identical images give ``inf``.  The MSE is averaged
    over the channels and pixels of each image, never over the batch (``kornia.metrics.psnr``
    pools the whole batch into one MSE).

    Args:
        img: image(s) to evaluate, float ``(B, C, H, W)`` or ``(C, H, W)`` in ``[0, data_range]``.
        ref: reference (ground truth) image(s), same shape.
        data_range: :math:`L`, the largest possible value: 1.0 for images in ``[0, 1]``, 255
            for images in ``[0, 255]``.
        crop_border: pixels shaved off every side before measuring (papers use the scale).
        y_channel: measure on the Y channel of MATLAB's ``rgb2ycbcr`` (RGB input; a
            one-channel image is used as it is).  The images are divided by ``data_range``,
            converted with :func:`srlib.color.rgb_to_y` and multiplied back.

    Returns:
        PSNR in dB, shape ``(B,)`` (``(1,)`` for a ``(C, H, W)`` input), dtype of the inputs.

    Raises:
        TypeError: non-float inputs (convert uint8 with ``x.float() / 255``).
        ValueError: different shapes, not 3 or 4 dims, NaN or values outside
            ``[0, data_range]``, ``crop_border`` too large, ``y_channel`` with neither 1 nor 3
            channels.

    Example::

        >>> ref = torch.full((1, 3, 4, 4), 0.5)
        >>> psnr(ref + 0.1, ref)        # MSE = 0.01: 10 * log10(1 / 0.01) = 20 dB
        tensor([20.0000])
    """
    _check_args(img, ref, data_range, crop_border, y_channel)
    batch_img, batch_ref = (img, ref) if img.ndim == 4 else (img[None], ref[None])
    step = _chunk_size(batch_img, _CPU_CHUNK_PSNR)
    bounds, mse = [], []
    # The value checks read each chunk once from memory; the MSE then finds it in the CPU
    # caches, so the checks cost about one cheap pass over each input.
    for x, y in zip(batch_img.split(step), batch_ref.split(step), strict=True):
        bounds += _minmax(x, y)
        x, y = _convert(x, y, data_range, crop_border, y_channel)
        mse.append(F.mse_loss(x, y, reduction="none").mean(dim=(1, 2, 3)))
    mse = torch.cat(mse)
    _check_values(bounds, data_range, img, ref)  # after the work is queued: one sync
    out_dtype = torch.promote_types(img.dtype, ref.dtype)
    return (10.0 * torch.log10(data_range**2 / mse)).to(out_dtype)


# ------------------------------------------------------------------------------- SSIM
def gaussian_window(
    window_size: int = 11,
    sigma: float = 1.5,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """1-D Gaussian window of SSIM, ``exp(-n^2 / (2 sigma^2))`` for ``n = -r..r``, summing to 1.

    The 2-D window of Wang et al. (2004) is the outer product of this window with itself
    (``window_size=11``, ``sigma=1.5``); it is computed in float64 and then cast to ``dtype``.

    Returns:
        Tensor of shape ``(window_size,)``.

    Example::

        >>> gaussian_window(5, 1.5)
        tensor([0.1201, 0.2339, 0.2921, 0.2339, 0.1201])
    """
    radius = window_size // 2
    n = torch.arange(-radius, radius + 1, dtype=torch.float64)
    window = torch.exp(-(n**2) / (2.0 * sigma**2))
    return (window / window.sum()).to(dtype=dtype, device=device)


def _channels_last(x: torch.Tensor) -> bool:
    """Whether to blur in channels-last memory order: float32 on a CPU with oneDNN."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
    )


def _ssim_map_chunk(
    x: torch.Tensor,
    y: torch.Tensor,
    window: torch.Tensor,
    c1: float,
    c2: float,
    padding: str,
) -> torch.Tensor:
    """SSIM map of a chunk of images ``(b, C, H, W)`` -> ``(b, C, H', W')``.

    Textbook SSIM blurs five images -- x, y, x*x, y*y, x*y -- with the Gaussian window and
    combines the local means (mu), variances and covariance.  Two facts make it faster:

    1. Only ``x*x + y*y`` is needed, not ``x*x`` and ``y*y`` apart, and the blur is linear
       and keeps constants (the window sums to 1), so constants can be blurred along.  With
       ``a = 2 c1 + 2 c2`` we blur the four images

           x,   y,   G = 4 x y + a,   S = 2 (x*x + y*y) + a = G + 2 (x - y)^2

       and then, with ``d = 4 mu_x mu_y + 2 c1`` and
       ``s = 2 (mu_x^2 + mu_y^2) + 2 c1 = d + 2 (mu_x - mu_y)^2``,

           blur(G) - d = 4 sigma_xy + 2 c2,   blur(S) - s = 2 (sigma_x^2 + sigma_y^2) + 2 c2

       so the SSIM  (2 mu_x mu_y + c1)(2 sigma_xy + c2) / ((mu_x^2 + mu_y^2 + c1)
       (sigma_x^2 + sigma_y^2 + c2))  is  d * (blur(G) - d) / (s * (blur(S) - s))
       (numerator and denominator are both 4 times the textbook ones).  Writing S and s
       with ``(x - y)^2`` makes them equal G and d exactly when x = y, so identical images
       score exactly 1 even in float32.
    2. The four images are stacked along the channel dim and blurred by ONE depthwise
       convolution per direction (``groups = 4 C``): a (1, k) window along the width, then
       a (k, 1) window along the height.  On the CPU in float32 the stack is laid out
       channels last (the 4 C values of a pixel side by side): oneDNN, PyTorch's CPU
       convolution library, vectorises such a depthwise convolution across the channels,
       about 3x faster than across the pixels of an NCHW image.
    """
    if padding == "same":
        # Reflect padding ("dcb|abcd|cba", what kornia uses) commutes with the pixelwise
        # products, so padding x and y is the same as padding the four blurred images.
        radius = window.numel() // 2
        pad = (radius, radius, radius, radius)
        x, y = F.pad(x, pad, mode="reflect"), F.pad(y, pad, mode="reflect")
    channels = x.shape[1]
    a = torch.tensor(2.0 * (c1 + c2), dtype=x.dtype, device=x.device)
    two_c1 = torch.tensor(2.0 * c1, dtype=x.dtype, device=x.device)

    g = torch.addcmul(a, x, y, value=4.0)
    diff = x - y
    s = torch.addcmul(g, diff, diff, value=2.0)
    if _channels_last(x):
        # Stacking (b, H, W, C) views on dim 3 writes (b, H, W, 4, C) memory: channels last.
        stacked = torch.stack([t.permute(0, 2, 3, 1) for t in (x, y, g, s)], dim=3)
        stacked = stacked.flatten(3).permute(0, 3, 1, 2)  # (b, 4 C, H, W) view
    else:
        stacked = torch.cat([x, y, g, s], dim=1)  # (b, 4 C, H, W)

    n, k = 4 * channels, window.numel()
    blurred = F.conv2d(stacked, window.view(1, 1, 1, k).expand(n, 1, 1, k), groups=n)
    blurred = F.conv2d(blurred, window.view(1, 1, k, 1).expand(n, 1, k, 1), groups=n)

    mu_x, mu_y, blur_g, blur_s = blurred.unflatten(1, (4, channels)).unbind(1)
    d = torch.addcmul(two_c1, mu_x, mu_y, value=4.0)
    mu_diff = mu_x - mu_y
    s = torch.addcmul(d, mu_diff, mu_diff, value=2.0)
    return d * (blur_g - d) / (s * (blur_s - s))


def _ssim_maps(
    img: torch.Tensor,
    ref: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    window_size: int,
    sigma: float,
    k1: float,
    k2: float,
    padding: str,
) -> list[torch.Tensor]:
    """Check the arguments and return the SSIM maps of the chunks of the batch."""
    if padding not in _PADDINGS:
        raise ValueError(f"padding must be one of {_PADDINGS}, got {padding!r}")
    if (
        not isinstance(window_size, int)
        or isinstance(window_size, bool)
        or window_size < 1
        or window_size % 2 == 0
    ):
        raise ValueError(f"window_size must be a positive odd int, got {window_size!r}")
    if not (isinstance(sigma, Real) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    x, y = _prepare(img, ref, data_range, crop_border, y_channel)
    height, width = x.shape[-2:]
    if min(height, width) < window_size:
        cropped = f" after crop_border={crop_border}" if crop_border else ""
        raise ValueError(
            f"the images are {height}x{width}{cropped}, smaller than window_size={window_size}; "
            "use larger images, a smaller crop_border or a smaller window_size"
        )
    window = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return [
        _ssim_map_chunk(x[s], y[s], window, c1, c2, padding) for s in _chunks(x, _CPU_CHUNK_SSIM)
    ]


def ssim_map(
    img: torch.Tensor,
    ref: torch.Tensor,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    padding: str = "valid",
) -> torch.Tensor:
    """Local SSIM of every pixel: the map that :func:`ssim` averages.

    Same arguments as :func:`ssim`.

    Returns:
        Tensor ``(B, C', H', W')`` with ``C' = 1`` if ``y_channel`` else ``C``;
        ``H' = H - 2 crop_border - (window_size - 1)`` for ``padding="valid"`` and
        ``H' = H - 2 crop_border`` for ``padding="same"`` (same for ``W'``).  The map is not
        necessarily contiguous (it is channels-last on the CPU).  In float32 a single pixel
        of the map is accurate to about 1e-4 only, in flat bright regions (the covariance is
        a small difference of numbers near 1, compared with ``c2`` ~ 1e-3), while the mean
        over an image is accurate to about 1e-6; use float64 to study single pixels.

    Example::

        >>> x = torch.rand(2, 3, 32, 32)
        >>> ssim_map(x, x).shape
        torch.Size([2, 3, 22, 22])
    """
    maps = _ssim_maps(
        img, ref, data_range, crop_border, y_channel, window_size, sigma, k1, k2, padding
    )
    out_dtype = torch.promote_types(img.dtype, ref.dtype)
    return (maps[0] if len(maps) == 1 else torch.cat(maps)).to(out_dtype)


def ssim(
    img: torch.Tensor,
    ref: torch.Tensor,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    padding: str = "valid",
) -> torch.Tensor:
    r"""Structural similarity (Wang et al., 2004), one value per image.

    .. math::

        \mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + c_1)(2\sigma_{xy} + c_2)}
            {(\mu_x^2 + \mu_y^2 + c_1)(\sigma_x^2 + \sigma_y^2 + c_2)},
        \qquad c_1 = (k_1 L)^2,\ c_2 = (k_2 L)^2

    where the local means, variances and covariance are Gaussian-weighted
    (``window_size`` x ``window_size`` window, standard deviation ``sigma`` pixels, applied
    as two 1-D convolutions) and :math:`L` = ``data_range``.  The map is computed for every
    channel and averaged over channels and pixels of each image.

    ``padding`` chooses where the map is defined:

    * ``"valid"`` (default): only where the window lies fully inside the image, as in Wang et
      al.'s MATLAB ``ssim_index`` that papers use, and as ``skimage.metrics.
      structural_similarity(..., gaussian_weights=True, use_sample_covariance=False)``;
    * ``"same"``: every pixel, the image being extended by reflection (``dcb|abcd|cba``);
      equals ``kornia.metrics.ssim(img, ref, window_size, max_val=data_range,
      padding="same").mean(dim=(1, 2, 3))``.

    Args:
        img: image(s) to evaluate, float ``(B, C, H, W)`` or ``(C, H, W)`` in ``[0, data_range]``.
        ref: reference image(s), same shape (SSIM is symmetric in ``img`` and ``ref``).
        data_range: :math:`L`: 1.0 for images in ``[0, 1]``, 255 for images in ``[0, 255]``.
        crop_border: pixels shaved off every side before measuring.
        y_channel: measure on the Y channel of MATLAB's ``rgb2ycbcr`` (see :func:`psnr`).
        window_size: side of the Gaussian window, odd; the image (after cropping) must be at
            least this large.
        sigma: standard deviation of the Gaussian window in pixels.
        k1, k2: the constants of :math:`c_1, c_2`.
        padding: ``"valid"`` or ``"same"``.

    Returns:
        SSIM, shape ``(B,)`` (``(1,)`` for a ``(C, H, W)`` input), at most 1 (identical
        images), dtype of the inputs.

    Raises:
        TypeError: non-float inputs (convert uint8 with ``x.float() / 255``).
        ValueError: as :func:`psnr`; also images smaller than the window after cropping, an
            even ``window_size`` or an unknown ``padding``.

    Example::

        >>> g = torch.Generator().manual_seed(0)
        >>> ref = torch.rand(1, 1, 16, 16, generator=g)
        >>> ssim(ref, ref)
        tensor([1.])
        >>> ssim(ref, 1 - ref) < 0     # inverted contrast: negative correlation
        tensor([True])
    """
    maps = _ssim_maps(
        img, ref, data_range, crop_border, y_channel, window_size, sigma, k1, k2, padding
    )
    out_dtype = torch.promote_types(img.dtype, ref.dtype)
    return torch.cat([m.mean(dim=(1, 2, 3)) for m in maps]).to(out_dtype)
