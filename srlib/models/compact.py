"""After SRCNN: three compact networks that upscale inside the network (chapter 7).

SRCNN (:mod:`srlib.models.srcnn`) works at the output size: the LR image is first upscaled
with bicubic interpolation and every convolution runs on ``scale**2`` times more pixels
than the LR image has.  The networks here take the LR image itself ("post-upsampling") and
upscale only at the end, so most of their layers run at the LR size:

* :class:`FSRCNN` (Dong, Loy, Tang, ECCV 2016): feature extraction, a shrinking 1x1
  convolution, ``m`` cheap 3x3 mapping layers, an expanding 1x1 convolution, all with
  PReLU, and a 9x9 *transposed* convolution ("deconvolution") with stride ``scale``;
* :class:`ESPCN` (Shi et al., CVPR 2016): three convolutions with tanh, the last one with
  ``scale**2`` output channels, rearranged into a ``scale``-times larger image by
  ``nn.PixelShuffle`` ("sub-pixel convolution");
* :class:`ResidualSR`, the book's own compact residual network: a global skip over a
  cheap bicubic upscale of the input (VDSR, Kim et al. CVPR 2016: the network learns only
  the residual), residual blocks without batch normalisation and a long skip over them
  (EDSR, Lim et al. CVPRW 2017), and sub-pixel upsampling (ESPCN).

All three work on the luma channel Y: input ``(B, 1, h, w)`` float in [0, 1], output
``(B, 1, h * scale, w * scale)``, not clamped; :func:`srlib.models.upscale` runs them on
an RGB image (Cb and Cr upscaled with bicubic).  They zero-pad every convolution ("same"),
so any input size works.  :func:`macs_per_pixel` counts their multiply-adds per output
pixel from the layers.

Example::

    >>> import torch
    >>> from srlib.models import ESPCN, FSRCNN, ResidualSR, count_parameters
    >>> FSRCNN(3)(torch.rand(2, 1, 10, 12)).shape
    torch.Size([2, 1, 30, 36])
    >>> count_parameters(ESPCN(3)), count_parameters(FSRCNN(3))
    (22729, 12464)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ESPCN", "FSRCNN", "ResidualSR", "ResidualBlock", "macs_per_pixel"]


def _check_int(value, name: str, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


class _PostUpsampling(nn.Module):
    """Shared parts: the scale, the input check, ``upsampling = "post"``, ``shrink = 0``."""

    upsampling = "post"
    shrink = 0
    name = ""

    def __init__(self, scale: int, channels: int) -> None:
        super().__init__()
        _check_int(scale, "scale", 2)
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (Y) or 3 (RGB), got {channels!r}")
        self.scale, self.channels = scale, channels

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"{type(self).__name__} expects the LR image as a (B, {self.channels}, h, w) "
                f"tensor, got shape {tuple(x.shape)}"
            )


class FSRCNN(_PostUpsampling):
    """FSRCNN(d, s, m) of Dong, Loy and Tang (ECCV 2016), on the LR image.

    .. code-block:: text

        LR Y (B, 1, h, w) -> conv 5x5, d, PReLU          feature extraction
                          -> conv 1x1, s, PReLU          shrinking
                          -> m x (conv 3x3, s, PReLU)    mapping
                          -> conv 1x1, d, PReLU          expanding
                          -> deconv 9x9, stride scale    -> (B, 1, h*scale, w*scale)

    Args:
        scale: upscaling factor (the stride of the deconvolution), 2 or more.
        d, s, m: the paper's sizes; FSRCNN is (56, 12, 4), FSRCNN-s (32, 5, 1).
        channels: 1 (Y, as in the paper).

    The convolutions start from He et al.'s normal initialisation and the deconvolution
    from N(0, 0.001^2), as in the paper; biases at zero.  12,464 parameters at any scale
    (the deconvolution's 9x9 kernel does not grow with the scale).

    >>> FSRCNN(2, d=32, s=5, m=1)(torch.zeros(1, 1, 8, 8)).shape
    torch.Size([1, 1, 16, 16])
    """

    name = "fsrcnn"

    def __init__(self, scale: int, d: int = 56, s: int = 12, m: int = 4,
                 channels: int = 1) -> None:
        super().__init__(scale, channels)
        for name, v in (("d", d), ("s", s), ("m", m)):
            _check_int(v, name)
        self.d, self.s, self.m = d, s, m
        layers = [nn.Conv2d(channels, d, 5, padding=2), nn.PReLU(d),
                  nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(d, channels, 9, stride=scale, padding=4,
                                         output_padding=scale - 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal convolutions, N(0, 0.001^2) deconvolution, zero biases (the paper)."""
        for layer in self.body:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        nn.init.normal_(self.deconv.weight, std=0.001)
        nn.init.zeros_(self.deconv.bias)

    @property
    def config(self) -> dict:
        """The constructor arguments, saved next to the weights."""
        return dict(scale=self.scale, d=self.d, s=self.s, m=self.m, channels=self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.deconv(self.body(x))


class ESPCN(_PostUpsampling):
    """ESPCN of Shi et al. (CVPR 2016): sub-pixel convolution on the LR image.

    .. code-block:: text

        LR Y (B, 1, h, w) -> conv 5x5, 64, tanh
                          -> conv 3x3, 32, tanh
                          -> conv 3x3, scale**2       (B, scale**2, h, w)
                          -> PixelShuffle(scale)      (B, 1, h*scale, w*scale)

    ``nn.PixelShuffle`` moves the ``scale**2`` channels of each LR pixel into a
    ``scale x scale`` block of output pixels: a convolution with stride ``1/scale``.

    Args:
        scale: upscaling factor, 2 or more.
        n1, n2: filters of the first two layers (64 and 32 in the paper).
        channels: 1 (Y, as in the paper).

    >>> ESPCN(4)(torch.zeros(1, 1, 5, 6)).shape
    torch.Size([1, 1, 20, 24])
    """

    name = "espcn"

    def __init__(self, scale: int, n1: int = 64, n2: int = 32, channels: int = 1) -> None:
        super().__init__(scale, channels)
        _check_int(n1, "n1")
        _check_int(n2, "n2")
        self.n1, self.n2 = n1, n2
        self.conv1 = nn.Conv2d(channels, n1, 5, padding=2)
        self.conv2 = nn.Conv2d(n1, n2, 3, padding=1)
        self.conv3 = nn.Conv2d(n2, channels * scale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    @property
    def config(self) -> dict:
        """The constructor arguments, saved next to the weights."""
        return dict(scale=self.scale, n1=self.n1, n2=self.n2, channels=self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.shuffle(self.conv3(x))


class ResidualBlock(nn.Module):
    """EDSR's residual block: ``x + conv(relu(conv(x)))``, 3x3, no batch normalisation.

    >>> ResidualBlock(8)(torch.zeros(1, 8, 5, 5)).shape
    torch.Size([1, 8, 5, 5])
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class ResidualSR(_PostUpsampling):
    """The book's compact residual network: residual blocks at the LR size, sub-pixel output.

    .. code-block:: text

        LR Y x (B, 1, h, w) -> conv 3x3, width                     head  = f
                            -> blocks x ResidualBlock(width)
                            -> conv 3x3, width, + f                 long skip (EDSR)
                            -> conv 3x3, scale**2, PixelShuffle     sub-pixel (ESPCN)
                            -> + bicubic(x)                         global skip (VDSR)

    The global skip adds PyTorch's bicubic upscale of the input (``F.interpolate``,
    ``align_corners=False``), so the network only learns the missing detail; the last
    convolution starts at zero, so the untrained network *is* bicubic interpolation.

    Args:
        scale: upscaling factor, 2 or more.
        width: channels of the residual blocks (32 by default).
        blocks: number of residual blocks (8 by default).
        channels: 1 (Y) or 3 (RGB).

    >>> net = ResidualSR(3, width=8, blocks=2)
    >>> x = torch.rand(1, 1, 6, 6)
    >>> bool(torch.allclose(net(x), F.interpolate(x, scale_factor=3, mode="bicubic")))
    True
    """

    name = "residual"

    def __init__(self, scale: int, width: int = 32, blocks: int = 8,
                 channels: int = 1) -> None:
        super().__init__(scale, channels)
        _check_int(width, "width")
        _check_int(blocks, "blocks", 0)
        self.width, self.blocks = width, blocks
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.body_end = nn.Conv2d(width, width, 3, padding=1)
        self.up = nn.Conv2d(width, channels * scale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    @property
    def config(self) -> dict:
        """The constructor arguments, saved next to the weights."""
        return dict(scale=self.scale, width=self.width, blocks=self.blocks,
                    channels=self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        f = self.head(x)
        f = f + self.body_end(self.body(f))
        skip = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return skip + self.shuffle(self.up(f))


#: The post-upsampling models by the name :func:`srlib.models.load_pretrained` takes.
COMPACT: dict[str, type[_PostUpsampling]] = {
    "fsrcnn": FSRCNN, "espcn": ESPCN, "residual": ResidualSR,
}


def macs_per_pixel(model: nn.Module, scale: int | None = None) -> float:
    """Multiply-adds of the model's convolutions per output pixel, for a large image.

    Counted from the layers, not timed: a ``Conv2d`` costs ``k_h * k_w * C_in / groups``
    multiply-adds per output value, a ``ConvTranspose2d`` ``k_h * k_w * C_out / groups`` per
    input value; activations, additions, ``PixelShuffle`` and bicubic interpolation (the
    global skip of :class:`ResidualSR`, SRCNN's bicubic input) are not counted.  The model
    runs once on a ``meta`` tensor (no memory, no time) of a very large size, so border
    effects of ``padding="valid"`` vanish.

    Args:
        model: an SRCNN (``upsampling = "pre"``: its input has the output's size) or a
            post-upsampling model (input ``scale`` times smaller).
        scale: the model's factor; default ``model.scale`` (SRCNN does not have one and
            costs the same at every scale).

    Returns:
        Multiply-adds per output pixel (for 1-channel output), e.g. 57,184 for SRCNN 9-5-5.

    >>> from srlib.models import SRCNN
    >>> macs_per_pixel(SRCNN()), macs_per_pixel(SRCNN(f2=1))
    (57184.0, 8032.0)
    >>> macs_per_pixel(ESPCN(3))
    2513.0
    """
    post = getattr(model, "upsampling", "pre") == "post"
    scale = scale if scale is not None else getattr(model, "scale", 1)
    n = 2**26                               # output pixels per side (meta: free)
    size = n // scale if post else n + getattr(model, "shrink", 0)
    total = 0

    def count(layer, inputs, output) -> None:
        nonlocal total
        w = layer.weight
        if isinstance(layer, nn.ConvTranspose2d):
            total += inputs[0].numel() * w.shape[1] * w.shape[2] * w.shape[3]
        else:
            total += output.numel() * w.shape[1] * w.shape[2] * w.shape[3]

    meta = _meta_copy(model)
    hooks = [m.register_forward_hook(count) for m in meta.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.no_grad():
            out = meta(torch.empty(1, getattr(model, "channels", 1), size, size,
                                   device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return float(round(total / (out.shape[-1] * out.shape[-2]), 1))


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with its parameters on the ``meta`` device (shapes only)."""
    import copy

    with torch.device("meta"):
        clone = copy.deepcopy(model).to("meta")
    return clone
