"""Ways an HR image becomes an LR one besides MATLAB's bicubic ``imresize`` (chapter 8).

The benchmarks make their LR images with one known operator, MATLAB's bicubic
``imresize``, and the networks of chapters 5 and 7 learn to invert exactly that.  A
photograph was shrunk (or captured) otherwise.  Each function here maps an HR image
``(B, 3, H, W)`` uint8 (cropped to a multiple of ``scale``) to an LR image
``(B, 3, H / scale, W / scale)`` uint8:

* :func:`bicubic`: the benchmarks' degradation (:func:`srlib.resize.imresize`);
* :func:`gaussian`: Gaussian blur of width ``sigma`` HR pixels, then keeping one pixel in
  ``scale`` (decimation), as in the classic "blur, downsample" image model;
* :func:`pil`: Pillow's ``Image.resize`` with one of its filters (default bilinear);
* :func:`jpeg`: the bicubic LR image saved as JPEG at a ``quality``;
* :func:`noise`: the bicubic LR image plus Gaussian noise of ``sigma`` grey levels, a simple
  stand-in for a sensor's read noise (real sensor noise also grows with the signal and is
  correlated by demosaicing);
* :func:`random_degradation`: one of the kernels drawn at random, then noise and JPEG each
  with probability 1/2, at random strengths: a small version of the randomised pipelines
  of BSRGAN (Zhang et al. 2021) and Real-ESRGAN (Wang et al. 2021), for training.

:data:`DEGRADATIONS` names the fixed ones with the settings chapter 8 measures.

Example::

    >>> import torch
    >>> from srlib.degradations import DEGRADATIONS, random_degradation
    >>> hr = torch.randint(0, 256, (1, 3, 48, 36), dtype=torch.uint8)
    >>> [tuple(f(hr, 3).shape) for f in DEGRADATIONS.values()][0]
    (1, 3, 16, 12)
    >>> random_degradation(hr, 3, torch.Generator().manual_seed(0)).dtype
    torch.uint8
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from srlib.resize import imresize, modcrop

__all__ = ["DEGRADATIONS", "KERNELS", "bicubic", "gaussian", "jpeg", "noise", "pil",
           "random_degradation"]


def _check(hr: torch.Tensor, scale: int) -> torch.Tensor:
    if hr.dtype != torch.uint8 or hr.ndim != 4 or hr.shape[1] != 3:
        raise ValueError(f"hr must be a (B, 3, H, W) uint8 tensor, got {tuple(hr.shape)} "
                         f"{hr.dtype}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return modcrop(hr, scale)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x.clamp(0, 255) + 0.5).to(torch.uint8)


def bicubic(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB's ``imresize(hr, 1/scale, 'bicubic')`` on the uint8 image (the benchmarks)."""
    return imresize(_check(hr, scale), 1 / scale)


def gaussian(hr: torch.Tensor, scale: int, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur (``sigma`` HR pixels, default ``0.5 * scale``), then decimation.

    The blur is separable, with reflected borders and a kernel of radius ``ceil(3 sigma)``;
    the pixel kept of each ``scale x scale`` block is the one at offset ``(scale - 1) // 2``
    (its centre for odd scales).
    """
    hr = _check(hr, scale)
    sigma = 0.5 * scale if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = math.ceil(3 * sigma)
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).float()
    x = hr.float()
    b, c, h, w = x.shape
    x = x.reshape(b * c, 1, h, w)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    o = (scale - 1) // 2
    return _to_uint8(x.reshape(b, c, h, w)[..., o::scale, o::scale])


def pil(hr: torch.Tensor, scale: int, resample: int = Image.BILINEAR) -> torch.Tensor:
    """Pillow's ``Image.resize`` to ``1/scale`` with ``resample`` (default bilinear)."""
    hr = _check(hr, scale)
    out = []
    for image in hr:
        im = Image.fromarray(image.permute(1, 2, 0).numpy())
        small = im.resize((im.width // scale, im.height // scale), resample)
        out.append(torch.from_numpy(np.asarray(small).copy()).permute(2, 0, 1))
    return torch.stack(out)


def jpeg(hr: torch.Tensor, scale: int, quality: int = 50) -> torch.Tensor:
    """The bicubic LR image (:func:`bicubic`) saved as a JPEG of ``quality`` and read back."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    return _jpeg(bicubic(hr, scale), quality)


def _jpeg(lr: torch.Tensor, quality: int) -> torch.Tensor:
    out = []
    for image in lr:
        buf = io.BytesIO()
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(buf, "JPEG", quality=quality)
        buf.seek(0)
        back = np.asarray(Image.open(buf).convert("RGB")).copy()
        out.append(torch.from_numpy(back).permute(2, 0, 1))
    return torch.stack(out)


def noise(hr: torch.Tensor, scale: int, sigma: float = 5.0,
          generator: torch.Generator | None = None) -> torch.Tensor:
    """The bicubic LR image plus Gaussian noise of ``sigma`` grey levels (seeded: default
    a generator seeded with 0, so the test set is the same every time)."""
    lr = bicubic(hr, scale)
    generator = generator or torch.Generator().manual_seed(0)
    n = torch.randn(lr.shape, generator=generator) * sigma
    return _to_uint8(lr.float() + n)


#: The fixed degradations chapter 8 measures, by name: ``f(hr, scale) -> lr`` (uint8).
DEGRADATIONS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "bicubic": bicubic,
    "gaussian": gaussian,
    "pil-bilinear": pil,
    "jpeg": jpeg,
    "noise": noise,
}


KERNELS: tuple[str, ...] = ("bicubic", "gaussian", "pil")


def random_degradation(hr: torch.Tensor, scale: int,
                       generator: torch.Generator | None = None, *,
                       kernels: tuple[str, ...] = KERNELS, p_noise: float = 0.5,
                       p_jpeg: float = 0.5) -> torch.Tensor:
    """A randomly degraded LR image, for training: kernel, then maybe noise, maybe JPEG.

    The kernel is drawn uniformly from ``kernels`` (:data:`KERNELS`: bicubic, Gaussian
    with ``sigma`` uniform in ``[0.3, 0.7] * scale``, Pillow's bilinear); then Gaussian
    noise with ``sigma`` uniform in [1, 10] grey levels with probability ``p_noise``, and
    JPEG with a quality uniform in 30..95 with probability ``p_jpeg``.  One draw per call
    (for the whole batch).
    """
    unknown = set(kernels) - set(KERNELS)
    if not kernels or unknown:
        raise ValueError(f"kernels must be some of {KERNELS}, got {kernels!r}")
    g = generator or torch.Generator().manual_seed(0)

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * torch.rand((), generator=g).item()

    kind = kernels[int(torch.randint(len(kernels), (), generator=g))]
    make = {"bicubic": bicubic, "pil": pil,
            "gaussian": lambda h, s: gaussian(h, s, sigma=u(0.3, 0.7) * s)}[kind]
    lr = make(hr, scale)
    if torch.rand((), generator=g) < p_noise:
        lr = _to_uint8(lr.float() + torch.randn(lr.shape, generator=g) * u(1, 10))
    if torch.rand((), generator=g) < p_jpeg:
        lr = _jpeg(lr, int(u(30, 95)))
    return lr
