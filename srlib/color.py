"""RGB <-> YCbCr conversion as MATLAB's ``rgb2ycbcr`` does it (ITU-R BT.601, studio swing).

Super-resolution papers report PSNR and SSIM on the luma channel Y of YCbCr, computed with
MATLAB's ``rgb2ycbcr``.  For R, G, B in ``[0, 1]`` MATLAB computes

.. code-block:: text

    Y  = ( 16 +  65.481 R + 128.553 G +  24.966 B) / 255
    Cb = (128 -  37.797 R -  74.203 G + 112.000 B) / 255
    Cr = (128 + 112.000 R -  93.786 G -  18.214 B) / 255

so Y lies in ``[16/255, 235/255]`` and Cb, Cr in ``[16/255, 240/255]`` ("studio swing":
black is 16, white is 235 on the 8-bit scale).  Every function here works on float tensors of
shape ``(..., C, H, W)`` with values in ``[0, 1]`` and returns values on the same ``[0, 1]``
scale (multiply by 255 for MATLAB's uint8 numbers).  Inputs clearly on another scale
(values outside ``[-1, 2]``, e.g. [0, 255] floats) raise ``ValueError``: the small
overshoot of bicubic resizing is accepted (:func:`check_unit_range`).  The functions are
plain tensor arithmetic: they keep dtype and device, run on CPU and GPU and are differentiable.

Example::

    >>> import torch
    >>> from srlib.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
    >>> white = torch.ones(1, 3, 2, 2)
    >>> rgb_to_y(white).flatten() * 255
    tensor([235., 235., 235., 235.])
    >>> rgb = torch.rand(2, 3, 8, 8)
    >>> torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-6)
    True
"""

from __future__ import annotations

import math

import torch

__all__ = ["RGB_TO_YCBCR", "UNIT_RANGE_LIMITS", "YCBCR_OFFSET", "check_unit_range", "rgb_to_y",
           "rgb_to_ycbcr", "ycbcr_to_rgb"]

# MATLAB's rgb2ycbcr for double images in [0, 1]: ycbcr = RGB_TO_YCBCR @ rgb + YCBCR_OFFSET.
RGB_TO_YCBCR = (
    torch.tensor(
        [
            [65.481, 128.553, 24.966],
            [-37.797, -74.203, 112.0],
            [112.0, -93.786, -18.214],
        ],
        dtype=torch.float64,
    )
    / 255.0
)
YCBCR_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0

# The exact inverse, computed once in float64 (MATLAB's ycbcr2rgb also inverts the matrix).
_YCBCR_TO_RGB = torch.linalg.inv(RGB_TO_YCBCR)

_GRAY_MODES = ("bt601", "identity")

#: Values a float image "in [0, 1]" may take: bicubic and Lanczos resizing overshoot by a
#: few tenths at sharp edges, but values beyond these bounds are another scale (0..255).
UNIT_RANGE_LIMITS: tuple[float, float] = (-1.0, 2.0)


def check_unit_range(img: torch.Tensor, name: str = "img") -> None:
    """Raise ``ValueError`` if a float image is clearly not on the ``[0, 1]`` scale.

    Accepts values in :data:`UNIT_RANGE_LIMITS` (``[-1, 2]``: the overshoot of a bicubic
    upscaling of an image in [0, 1] is far smaller), so [0, 255] data is refused instead of
    giving a wrong number.  NaN is refused too.  Synchronises with the device once.

    >>> try:
    ...     check_unit_range(torch.full((1, 3, 2, 2), 255.0))
    ... except ValueError as err:
    ...     print(str(err)[-40:])
    looks like 0..255 data: divide it by 255
    """
    if img.numel() == 0:
        return
    img = img.detach()
    lo, hi = torch.stack([img.amin(), img.amax()]).tolist()  # faster than aminmax on a CPU
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"{name} contains NaN values")
    if lo < UNIT_RANGE_LIMITS[0] or hi > UNIT_RANGE_LIMITS[1]:
        hint = ("it looks like 0..255 data: divide it by 255" if hi > 2 and lo >= -1 else
                "scale it to [0, 1] first")
        raise ValueError(f"{name} has values in [{lo:.4g}, {hi:.4g}], not on the [0, 1] "
                         f"scale: {hint}")


def _check_image(img: torch.Tensor, name: str, channels: tuple[int, ...]) -> None:
    """Raise a helpful error unless ``img`` is a float tensor ``(..., C, H, W)``, C in channels."""
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(img).__name__}")
    if not img.is_floating_point():
        raise TypeError(
            f"{name} must be a float tensor with values in [0, 1], got dtype {img.dtype}; "
            f"convert a uint8 image with `{name}.float() / 255`"
        )
    if img.ndim < 3:
        raise ValueError(
            f"{name} must have shape (..., C, H, W) with at least 3 dims, "
            f"got shape {tuple(img.shape)}"
        )
    if img.shape[-3] not in channels:
        expected = " or ".join(str(c) for c in channels)
        raise ValueError(
            f"{name} must have {expected} channels in dim -3, got shape {tuple(img.shape)} "
            f"({img.shape[-3]} channels)"
        )
    check_unit_range(img, name)


def _apply_affine(img: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``matrix @ pixel + offset`` for every pixel of ``img`` ``(..., 3, H, W)``."""
    matrix = matrix.to(device=img.device, dtype=img.dtype)
    offset = offset.to(device=img.device, dtype=img.dtype)
    return torch.einsum("ij,...jhw->...ihw", matrix, img) + offset[:, None, None]


def rgb_to_ycbcr(img: torch.Tensor) -> torch.Tensor:
    """Convert RGB to YCbCr like MATLAB's ``rgb2ycbcr`` (BT.601, studio swing).

    Args:
        img: RGB image(s), float tensor of shape ``(..., 3, H, W)`` with values in ``[0, 1]``.

    Returns:
        YCbCr image(s) of the same shape, dtype and device, on the ``[0, 1]`` scale:
        Y in ``[16/255, 235/255]``, Cb and Cr in ``[16/255, 240/255]`` for inputs in ``[0, 1]``.

    Raises:
        TypeError: ``img`` is not a float tensor (convert uint8 with ``img.float() / 255``).
        ValueError: fewer than 3 dims, or not 3 channels (a one-channel (grayscale) image
            has no chroma; use :func:`rgb_to_y` for its luma), or values outside
            ``[-1, 2]`` (:func:`check_unit_range`: [0, 255] data is refused).

    Example::

        >>> rgb_to_ycbcr(torch.zeros(3, 1, 1)).flatten() * 255   # black
        tensor([ 16., 128., 128.])
    """
    _check_image(img, "img", (3,))
    return _apply_affine(img, RGB_TO_YCBCR, YCBCR_OFFSET)


def ycbcr_to_rgb(img: torch.Tensor) -> torch.Tensor:
    """Convert YCbCr (as made by :func:`rgb_to_ycbcr`) back to RGB.

    The matrix is the exact inverse of MATLAB's, computed in float64, so a round trip
    ``ycbcr_to_rgb(rgb_to_ycbcr(x))`` returns ``x`` to about 1e-6 in float32 and 1e-12 in
    float64.  Values are not clamped: YCbCr triples outside the RGB gamut give RGB values
    outside ``[0, 1]``.

    Args:
        img: YCbCr image(s), float tensor of shape ``(..., 3, H, W)`` on the ``[0, 1]`` scale.

    Returns:
        RGB image(s) of the same shape, dtype and device.

    Example::

        >>> ycbcr = torch.tensor([235.0, 128.0, 128.0]).view(3, 1, 1) / 255
        >>> ycbcr_to_rgb(ycbcr).flatten()                        # white
        tensor([1., 1., 1.])
    """
    _check_image(img, "img", (3,))
    offset = YCBCR_OFFSET.to(device=img.device, dtype=img.dtype)
    matrix = _YCBCR_TO_RGB.to(device=img.device, dtype=img.dtype)
    return torch.einsum("ij,...jhw->...ihw", matrix, img - offset[:, None, None])


def rgb_to_y(img: torch.Tensor, *, gray: str = "bt601") -> torch.Tensor:
    """Luma Y of MATLAB's ``rgb2ycbcr``: ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``.

    This is the channel on which super-resolution papers compute PSNR and SSIM.

    One-channel (grayscale) input is accepted; ``gray`` says what to do with it:

    * ``"bt601"`` (default): treat the image as ``R = G = B = gray``, i.e. return
      ``(16 + 219 * gray) / 255``, which is what ``rgb2ycbcr`` gives for the gray image
      replicated to RGB.
    * ``"identity"``: return the gray values unchanged (a copy).  MATLAB's SRCNN evaluation
      code does this (it only calls ``rgb2ycbcr`` when ``size(im, 3) == 3``), and so does
      BasicSR; :func:`srlib.metrics.psnr` and :func:`srlib.metrics.ssim` use it with
      ``y_channel=True`` so that a grayscale test image (Set14's ``bridge``; ``man`` is
      stored as three equal channels) scores like in papers.

    Args:
        img: float tensor of shape ``(..., 3, H, W)`` (RGB) or ``(..., 1, H, W)`` (gray),
            values in ``[0, 1]``.
        gray: ``"bt601"`` or ``"identity"``; only used for one-channel input.

    Returns:
        Y of shape ``(..., 1, H, W)``, same dtype and device; in ``[16/255, 235/255]`` for RGB
        input in ``[0, 1]``.

    Example::

        >>> rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)    # pure red
        >>> round(rgb_to_y(rgb).item() * 255, 4)                  # 16 + 65.481
        81.481
        >>> rgb_to_y(torch.ones(1, 1, 1, 1), gray="identity").item()
        1.0
    """
    if gray not in _GRAY_MODES:
        raise ValueError(f"gray must be one of {_GRAY_MODES}, got {gray!r}")
    _check_image(img, "img", (1, 3))
    return _luma(img, gray)


def _luma(img: torch.Tensor, gray: str) -> torch.Tensor:
    """:func:`rgb_to_y` without its checks, for callers that checked ``img`` already."""
    if img.shape[-3] == 1:
        if gray == "identity":
            return img.clone()
        return img * (219.0 / 255.0) + 16.0 / 255.0
    return _apply_affine(img, RGB_TO_YCBCR[:1], YCBCR_OFFSET[:1])
