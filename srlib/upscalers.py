"""Every upscaler of the book by name: the registry :data:`METHODS` (chapters 4, 5 and 7).

Both :mod:`srlib.evaluate` (scores a method on a benchmark) and :mod:`srlib.upscale` (runs a
method on one's own files, chapter 8) take a method by name from here, so neither imports
the other.  An upscaler maps an LR batch ``(B, 3, h, w)``, float in [0, 1], and an integer
scale to ``(B, 3, h*scale, w*scale)`` in [0, 1]:

* the classic methods (:data:`INTERPOLATORS`, chapter 4): nearest neighbour, MATLAB's
  bilinear, bicubic and Lanczos ``imresize``, PyTorch's and Pillow's bicubic, iterative
  back-projection;
* the networks (:data:`NETWORKS`, chapters 5 and 7) with the weights shipped in
  ``srlib/weights/``: SRCNN, FSRCNN, ESPCN and the book's residual network, on Y;
* the example-based methods (:data:`EXAMPLE_BASED`, chapter 4): anchored neighbourhood
  regression (ANR, :mod:`srlib.examples`) with the dictionaries shipped in
  ``srlib/weights/``, on Y.

For tiled inference (:mod:`srlib.upscale`) every method also states how far its output
reaches into the LR image: :func:`halo` gives the LR pixels of context a tile needs so that
tiled and untiled outputs agree, from :data:`SUPPORT` for the interpolators and from the
layers of a network (:func:`receptive_field`).

Example::

    >>> import torch
    >>> from srlib.upscalers import METHODS, halo
    >>> METHODS["bicubic"](torch.rand(1, 3, 8, 8), 2).shape
    torch.Size([1, 3, 16, 16])
    >>> halo("bicubic", 2)
    3
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from srlib.color import check_unit_range
from srlib.examples import anr
from srlib.models import load_pretrained, upscale
from srlib.resize import imresize

__all__ = [
    "EXAMPLE_BASED",
    "INTERPOLATORS",
    "METHODS",
    "NETWORKS",
    "SUPPORT",
    "Upscaler",
    "anr",
    "bicubic",
    "bilinear",
    "espcn",
    "fsrcnn",
    "halo",
    "ibp",
    "lanczos",
    "load_network",
    "nearest",
    "pil_bicubic",
    "receptive_field",
    "residual",
    "srcnn",
    "torch_bicubic",
]

#: An upscaler: LR batch ``(B, 3, h, w)`` float in [0, 1] -> ``(B, 3, h*s, w*s)`` in [0, 1].
Upscaler = Callable[[torch.Tensor, int], torch.Tensor]


# ------------------------------------------------------------------------------ methods
# Every method maps an LR batch (B, 3, h, w), float in [0, 1], and an integer scale to the
# upscaled batch (B, 3, h*scale, w*scale), float in [0, 1] (clamped: cubic and Lanczos
# kernels overshoot at edges).  Input on another scale (0..255 floats) is refused rather
# than clamped to white (:func:`srlib.color.check_unit_range`).


def nearest(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Nearest neighbour: every LR pixel becomes a ``scale x scale`` block."""
    check_unit_range(lr, "lr")
    return F.interpolate(lr, scale_factor=scale, mode="nearest")


def bilinear(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB's ``imresize(lr, scale, 'bilinear')`` (triangle kernel, width 2)."""
    check_unit_range(lr, "lr")
    return imresize(lr, scale, kernel="linear").clamp(0, 1)


def bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB's ``imresize(lr, scale, 'bicubic')``: Keys' cubic kernel with ``a = -0.5``."""
    check_unit_range(lr, "lr")
    return imresize(lr, scale, kernel="cubic").clamp(0, 1)


def torch_bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """PyTorch's ``F.interpolate(mode="bicubic", align_corners=False)`` (``a = -0.75``)."""
    check_unit_range(lr, "lr")
    up = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
    return up.clamp(0, 1)


def pil_bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Pillow's ``Image.resize(..., Image.BICUBIC)``, image by image on the CPU.

    LR images on the 8-bit grid are resized as RGB uint8 images (Pillow rounds between
    its two passes, as it does for anybody's PNG); other inputs channel by channel as
    32-bit float images (mode ``"F"``).
    """
    check_unit_range(lr, "lr")
    out = []
    h, w = lr.shape[-2:]
    size = (w * scale, h * scale)
    levels = lr.detach().cpu().double() * 255
    on_grid = bool(torch.equal(levels, levels.round()))
    for image in lr.detach().cpu():
        if on_grid:
            array = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            up = np.asarray(Image.fromarray(array).resize(size, Image.BICUBIC))
            out.append(torch.from_numpy(up.copy()).permute(2, 0, 1).float() / 255)
        else:
            channels = [
                np.asarray(Image.fromarray(c.float().numpy(), mode="F").resize(
                    size, Image.BICUBIC))
                for c in image
            ]
            out.append(torch.from_numpy(np.stack(channels)).float())
    return torch.stack(out).to(lr.device, lr.dtype).clamp(0, 1)


def lanczos(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB's ``imresize(lr, scale, 'lanczos3')`` (Lanczos kernel with a = 3)."""
    check_unit_range(lr, "lr")
    return imresize(lr, scale, kernel="lanczos3").clamp(0, 1)


def ibp(lr: torch.Tensor, scale: int, iterations: int = 5) -> torch.Tensor:
    """Iterative back-projection (Irani and Peleg, 1991) starting from MATLAB bicubic.

    With the degradation ``D`` = bicubic downscaling (what made ``lr``) and the
    back-projection ``U`` = bicubic upscaling, repeat ``x <- x + U(lr - D(x))``: the
    estimate is corrected until shrinking it gives back the LR image.
    """
    check_unit_range(lr, "lr")
    x = imresize(lr, scale)
    for _ in range(iterations):
        x = x + imresize(lr - imresize(x, 1 / scale), scale)
    return x.clamp(0, 1)


@lru_cache(maxsize=16)
def _pretrained(name: str, scale: int, config: str, device: str) -> torch.nn.Module:
    return load_pretrained(name, scale, config, device=device)


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def srcnn(lr: torch.Tensor, scale: int, config: str = "9-5-5") -> torch.Tensor:
    """SRCNN (Dong et al.) with the weights shipped in ``srlib/weights`` for ``scale``.

    Bicubic upscaling, then the network on Y (:func:`srlib.models.upscale`); the model is
    loaded once per scale, on CUDA when there is a GPU.
    """
    return upscale(_pretrained("srcnn", scale, config, _device()), lr, scale)


def fsrcnn(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """FSRCNN (Dong, Loy, Tang 2016) with the shipped weights: the network upscales Y."""
    return upscale(_pretrained("fsrcnn", scale, "", _device()), lr, scale)


def espcn(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """ESPCN (Shi et al. 2016) with the shipped weights: sub-pixel convolution on Y."""
    return upscale(_pretrained("espcn", scale, "", _device()), lr, scale)


def residual(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The book's compact residual network (chapter 7) with the shipped weights, on Y."""
    return upscale(_pretrained("residual", scale, "", _device()), lr, scale)


#: The registry of upscalers :func:`evaluate` accepts by name.
METHODS: dict[str, Upscaler] = {
    "nearest": nearest,
    "bilinear": bilinear,
    "bicubic": bicubic,
    "torch-bicubic": torch_bicubic,
    "pil-bicubic": pil_bicubic,
    "lanczos": lanczos,
    "ibp": ibp,
    "srcnn": srcnn,
    "fsrcnn": fsrcnn,
    "espcn": espcn,
    "residual": residual,
    "anr": anr,
}
#: The networks of :data:`METHODS` (shipped weights, Y channel), chapters 5 and 7.
NETWORKS: tuple[str, ...] = ("srcnn", "fsrcnn", "espcn", "residual")
#: The classic, pre-deep-learning methods of :data:`METHODS` (chapter 4's shootout).
INTERPOLATORS: tuple[str, ...] = (
    "nearest", "bilinear", "bicubic", "torch-bicubic", "pil-bicubic", "lanczos", "ibp",
)
#: The example-based (learned, pre-deep-learning) methods of :data:`METHODS`: chapter 4.
EXAMPLE_BASED: tuple[str, ...] = ("anr",)




# ------------------------------------------------------------ how far a method reaches
#: Half-width of each interpolator's kernel in LR pixels: an output pixel depends on the LR
#: pixels within this distance of its position (nearest 0.5, triangle 1, cubic 2, Lanczos-3
#: 3).  IBP repeats a bicubic shrink (kernel stretched to 4 LR pixels) and a bicubic upscale
#: 5 times after its first upscale: 2 + 5 * (2 + 2) LR pixels.  ANR: the bicubic upscale
#: (2), its feature filters (1 LR pixel) and the patches of 3 x 3 LR pixels that cover an
#: output pixel (2): 2 + 1 + 2.
SUPPORT: dict[str, int] = {
    "nearest": 1, "bilinear": 1, "bicubic": 2, "torch-bicubic": 2, "pil-bicubic": 2,
    "lanczos": 3, "ibp": 2 + 5 * (2 + 2), "anr": 2 + 1 + 2,
}


def receptive_field(model: nn.Module) -> tuple[int, str]:
    """Size in pixels of the square an output pixel of ``model`` sees, and on which grid.

    Derived from the layers (or taken from a ``receptive_field`` attribute if the model has
    one): every convolution of kernel ``k`` and dilation ``d`` widens it by ``d * (k - 1)``
    (a sum over all of them, exact for a chain, an upper bound with skips); a transposed
    convolution of kernel ``k`` and stride ``s`` by ``2 * ceil((k - 1) / 2 / s)`` LR pixels.
    A pre-upsampling model (SRCNN) works on the HR grid, the others on the LR grid.

    >>> from srlib.models import ESPCN, FSRCNN, SRCNN
    >>> receptive_field(SRCNN()), receptive_field(ESPCN(3)), receptive_field(FSRCNN(2))
    ((17, 'hr'), (9, 'lr'), (17, 'lr'))
    """
    grid = "lr" if getattr(model, "upsampling", "pre") == "post" else "hr"
    explicit = getattr(model, "receptive_field", None)
    if isinstance(explicit, int):
        return explicit, grid
    size = 1
    for layer in model.modules():
        if isinstance(layer, nn.ConvTranspose2d):
            k, s = layer.kernel_size[0], layer.stride[0]
            size += 2 * math.ceil((k - 1) / 2 / s)
        elif isinstance(layer, nn.Conv2d):
            size += layer.dilation[0] * (layer.kernel_size[0] - 1)
    return size, grid


def halo(method: str, scale: int, model: nn.Module | None = None) -> int:
    """LR pixels of context around a tile that make tiled output equal untiled output.

    ``method`` is a name of :data:`METHODS`; for a network pass its ``model`` (default: the
    registry's architecture for ``method``, untrained).  One pixel is added for the
    rounding of positions.  SRCNN: its receptive field (17 HR pixels for 9-5-5, a radius
    of 8) in LR pixels, plus the bicubic upscale before it (2); a post-upsampling network:
    its radius on the LR grid, plus 2 for a bicubic skip.

    >>> halo("srcnn", 2), halo("espcn", 3), halo("nearest", 4)
    (7, 7, 2)
    """
    if method in SUPPORT and model is None:
        return SUPPORT[method] + 1
    if model is None:
        model = _architecture(method, scale)
    size, grid = receptive_field(model)
    radius = (size - 1) // 2
    if grid == "hr":
        return math.ceil(radius / scale) + SUPPORT["bicubic"] + 1
    return radius + SUPPORT["bicubic"] + 1


def _architecture(name: str, scale: int) -> nn.Module:
    from srlib.models import MODELS, build

    if name not in MODELS:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    return build("9-5-5") if name == "srcnn" else MODELS[name](scale)


def load_network(name: str, scale: int, weights: str | Path | None = None,
                 device: str | torch.device | None = None) -> nn.Module:
    """A network of :data:`NETWORKS` for ``scale``: the shipped weights, or ``weights``.

    Raises ``FileNotFoundError``/``ValueError`` (from :func:`srlib.models.load_pretrained`)
    when there are no weights for that scale; the message says how to train them.
    """
    if name not in NETWORKS:
        raise ValueError(f"{name!r} is not a network: choose one of {', '.join(NETWORKS)}")
    device = str(device or _device())
    if weights is None:
        return _pretrained(name, scale, "9-5-5", device)
    return load_pretrained(name, scale, path=weights, device=device)
