"""SRCNN (Dong et al.), the first convolutional network for single-image super-resolution.

Chapter 5 teaches it; :mod:`srlib.models.compact` holds the networks of chapter 7.

SRCNN does not upscale by itself: the low-resolution (LR) image is first upscaled to the
target size with bicubic interpolation, and the network, three convolutions, restores the
detail on the luma channel Y (of MATLAB's ``rgb2ycbcr``, see :mod:`srlib.color`).  The
chroma channels Cb and Cr stay bicubic.

.. code-block:: text

    Y (B, 1, H, W) -> conv f1 x f1, n1 filters, ReLU   "patch extraction"
                   -> conv f2 x f2, n2 filters, ReLU   "non-linear mapping"
                   -> conv f3 x f3, 1 filter           "reconstruction" -> Y (B, 1, H', W')

Two configurations of the papers, named ``f1-f2-f3`` (:data:`CONFIGS`):

* ``"9-1-5"``: ECCV 2014, 8,129 parameters;
* ``"9-5-5"``: TPAMI 2016, 57,281 parameters, about 0.3-0.5 dB better.

Padding
-------

``padding="valid"`` (default, as in the papers) pads nothing: every convolution shrinks the
image, so the output is smaller by ``f1 + f2 + f3 - 3`` pixels (12 for 9-1-5, 16 for 9-5-5)
in each dimension, and the loss is computed on the centre of the target (a 33x33 training
patch gives a 21x21 or 17x17 output).  The network computes fewer pixels (for 33x33 patches
and 9-5-5 the costly middle layer computes 441 instead of 1,089 pixels: training is about
2x faster on a CPU) and never sees zero padding, so every output pixel is computed from
real image content.  At inference :func:`upscale` pads the bicubic input by replicating its
border pixels (``(f1 + f2 + f3 - 3) // 2`` on each side) so that the output has the full
size; only the outermost pixels, which the papers' ``crop_border = scale`` discards in the
evaluation, depend on that padding.

``padding="same"`` zero-pads every convolution (``f // 2``): input and output have the same
size, but the border pixels of every training patch are computed from zeros that are not
in the image, which the network must learn to ignore (and a black frame appears at the edge
of the image at inference).  It is what many re-implementations do; it is kept here for
comparison.

Example::

    >>> import torch
    >>> from srlib.models import SRCNN, count_parameters, upscale
    >>> model = SRCNN()                                 # 9-5-5, valid padding
    >>> model(torch.rand(4, 1, 33, 33)).shape           # 33 - 16 = 17
    torch.Size([4, 1, 17, 17])
    >>> count_parameters(SRCNN(f2=1))
    8129
    >>> upscale(model, torch.rand(1, 3, 20, 30), 3).shape
    torch.Size([1, 3, 60, 90])
"""

from __future__ import annotations

import json
import pickle
import re
import struct
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from srlib.color import check_unit_range, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from srlib.resize import imresize

__all__ = [
    "CONFIGS",
    "PADDINGS",
    "SRCNN",
    "bicubic_y",
    "build",
    "count_parameters",
    "MAX_FILTERS",
    "MAX_KERNEL",
    "load_pretrained",
    "upscale",
    "upscale_y",
    "weights_path",
]

#: The configurations of the papers: keyword arguments of :class:`SRCNN`.
CONFIGS: dict[str, dict] = {"9-1-5": dict(f2=1), "9-5-5": dict(f2=5)}
PADDINGS: tuple[str, ...] = ("valid", "same")
#: Folder of the shipped weights (package data): ``srcnn_<config>_x<scale>.pt``.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class SRCNN(nn.Module):
    """SRCNN: three convolutions applied to the bicubic-upscaled Y channel.

    Args:
        f1, f2, f3: kernel sizes of the three layers (odd; 9-5-5 by default).
        n1, n2: numbers of filters of the first two layers (64 and 32 in the papers).
        channels: input and output channels (1: the Y channel).
        padding: ``"valid"`` (no padding, the output is smaller by :attr:`shrink` pixels,
            as in the papers) or ``"same"`` (zero padding, same size); see the module
            docstring.

    Input: ``(B, channels, H, W)`` float, the bicubic-upscaled Y channel in [0, 1].
    Output: ``(B, channels, H - shrink, W - shrink)`` ("valid") or ``(B, channels, H, W)``
    ("same"), the restored Y channel, not clamped.

    The layers keep PyTorch's default initialisation (uniform in ``+-1/sqrt(fan_in)``).
    The papers' N(0, 0.001^2) for the last layer, trained with Adam at their learning
    rates (1e-4, and 1e-5 for the last layer), starts so slowly that after 320 steps of
    batch 16 it is still 4 dB below bicubic on held-out T91 images (24.3 dB), where the
    default initialisation is already above it (28.9 dB vs 28.4 dB at x3).

    Example::

        >>> SRCNN(f2=1, padding="same")(torch.zeros(1, 1, 40, 50)).shape
        torch.Size([1, 1, 40, 50])
    """

    def __init__(
        self,
        f1: int = 9,
        f2: int = 5,
        f3: int = 5,
        n1: int = 64,
        n2: int = 32,
        channels: int = 1,
        padding: str = "valid",
    ) -> None:
        super().__init__()
        for name, f in (("f1", f1), ("f2", f2), ("f3", f3)):
            _check_positive_int(f, name)
            if f % 2 == 0:
                raise ValueError(f"{name} must be odd (the output is centred), got {f}")
        for name, n in (("n1", n1), ("n2", n2), ("channels", channels)):
            _check_positive_int(n, name)
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        self.f1, self.f2, self.f3, self.n1, self.n2 = f1, f2, f3, n1, n2
        self.channels, self.padding = channels, padding
        pad = (lambda f: f // 2) if padding == "same" else (lambda f: 0)
        self.conv1 = nn.Conv2d(channels, n1, f1, padding=pad(f1))
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=pad(f2))
        self.conv3 = nn.Conv2d(n2, channels, f3, padding=pad(f3))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation of the three convolutions (see the class doc)."""
        for conv in (self.conv1, self.conv2, self.conv3):
            conv.reset_parameters()

    @property
    def shrink(self) -> int:
        """Pixels the output loses per dimension: ``f1 + f2 + f3 - 3`` ("valid"), else 0."""
        return self.f1 + self.f2 + self.f3 - 3 if self.padding == "valid" else 0

    @property
    def config(self) -> dict:
        """The constructor arguments, e.g. to save next to the weights."""
        return dict(f1=self.f1, f2=self.f2, f3=self.f3, n1=self.n1, n2=self.n2,
                    channels=self.channels, padding=self.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"SRCNN expects a (B, {self.channels}, H, W) tensor (the bicubic-upscaled Y "
                f"channel), got shape {tuple(x.shape)}"
            )
        if min(x.shape[-2:]) <= self.shrink:
            raise ValueError(
                f"input {tuple(x.shape[-2:])} is too small for padding='valid': the output "
                f"is {self.shrink} pixels smaller; pad it (see srlib.models.upscale)"
            )
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.conv3(x)

    def extra_repr(self) -> str:
        return f"config='{self.f1}-{self.f2}-{self.f3}', padding='{self.padding}'"


def build(config: str = "9-5-5", **kwargs) -> SRCNN:
    """An :class:`SRCNN` of a named configuration (``"9-1-5"`` or ``"9-5-5"``).

    ``kwargs`` (e.g. ``padding="same"``, ``n1=...``) override the configuration.

    >>> build("9-1-5").conv2
    Conv2d(64, 32, kernel_size=(1, 1), stride=(1, 1))
    """
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}: choose one of {', '.join(CONFIGS)}")
    return SRCNN(**{**CONFIGS[config], **kwargs})


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``: 8,129 for SRCNN 9-1-5, 57,281 for 9-5-5."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_scale(scale) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer (2, 3, 4), got {scale!r}")


def _check_lr(lr: torch.Tensor, channels: tuple[int, ...] = (1, 3)) -> None:
    if not isinstance(lr, torch.Tensor):
        raise TypeError(f"lr must be a torch.Tensor, got {type(lr).__name__}")
    if not lr.is_floating_point():
        raise TypeError(
            f"lr must be a float tensor in [0, 1], got dtype {lr.dtype}; convert a uint8 "
            "image with `lr.float() / 255`"
        )
    if lr.ndim != 4 or lr.shape[1] not in channels:
        raise ValueError(
            f"lr must have shape (B, C, h, w) with C in {channels}, got {tuple(lr.shape)}"
        )
    check_unit_range(lr, "lr")


def bicubic_y(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """SRCNN's input: the Y channel of the LR image, upscaled by MATLAB's bicubic ``imresize``.

    The same function makes the training inputs (:mod:`srlib.train`) and the inference
    inputs (:func:`upscale`), so the network sees the same kind of image in both.

    Args:
        lr: ``(B, 3, h, w)`` RGB (Y is taken with :func:`srlib.color.rgb_to_y`) or
            ``(B, 1, h, w)`` already Y, float in [0, 1].
        scale: integer upscaling factor.

    Returns:
        ``(B, 1, h * scale, w * scale)`` float, not clamped (bicubic overshoots slightly).
    """
    _check_lr(lr)
    _check_scale(scale)
    y = rgb_to_y(lr) if lr.shape[1] == 3 else lr
    return imresize(y, scale)


def _run_y(model: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on a full-size Y ``(B, 1, H, W)``, replicate-padding for valid models."""
    shrink = getattr(model, "shrink", 0)
    if shrink:
        p = shrink // 2
        y = F.pad(y, (p, shrink - p, p, shrink - p), mode="replicate")
    return model(y)


def upscale_y(model: nn.Module, y: torch.Tensor, scale: int) -> torch.Tensor:
    """Run a network on an LR Y batch ``(B, 1, h, w)``: ``(B, 1, h*scale, w*scale)`` float32.

    SRCNN (``upsampling = "pre"``) gets MATLAB's bicubic upscale of ``y``, replicate-padded
    for ``padding="valid"``; a post-upsampling model gets ``y`` itself.  Not clamped; the
    caller chooses the device and ``torch.no_grad()`` (as :func:`upscale` does).
    """
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    if getattr(model, "upsampling", "pre") == "post":  # FSRCNN, ESPCN, ...: it upscales
        return model(y.to(dtype)).float()
    return _run_y(model, imresize(y, scale).to(dtype)).float()  # SRCNN: bicubic first


def upscale(model: nn.Module, lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Upscale an LR batch with SRCNN: bicubic, then the network on Y; Cb and Cr stay bicubic.

    This is the callable :func:`srlib.evaluate.evaluate` expects:
    ``evaluate(lambda lr, s: upscale(model, lr, s), "Set5", 3)``.

    For a ``padding="valid"`` model the bicubic Y is padded by replicating its border
    (``model.shrink // 2`` pixels per side), so the output has the full size.  The model
    runs in eval mode without gradients on its own device (the result comes back on the
    input's device).  A one-channel input, and a three-channel batch whose channels are
    all equal (a grayscale image, or the Y channel repeated as in
    ``evaluate(..., protocol="y")``), is used as Y directly, as SRCNN's code does for
    grayscale images; the output then repeats the network's Y in every channel.

    A post-upsampling model (``model.upsampling == "post"``: FSRCNN, ESPCN and the
    residual network of :mod:`srlib.models.compact`) gets the LR Y channel instead of the
    bicubic one and returns the upscaled Y itself.

    Args:
        model: an :class:`SRCNN` (or any ``(B, 1, H, W) -> (B, 1, H', W')`` module with a
            ``shrink`` attribute), or a post-upsampling model
            ``(B, 1, h, w) -> (B, 1, h * scale, w * scale)``.
        lr: ``(B, 3, h, w)`` RGB or ``(B, 1, h, w)`` Y, float in [0, 1].
        scale: integer upscaling factor (the one the model was trained for).

    Returns:
        ``(B, C, h * scale, w * scale)`` (C as the input), dtype of ``lr``, clamped to
        [0, 1].

    Example::

        >>> model = load_pretrained("srcnn", 3)                      # doctest: +SKIP
        >>> upscale(model, torch.rand(1, 3, 32, 32), 3).shape        # doctest: +SKIP
        torch.Size([1, 3, 96, 96])
    """
    _check_lr(lr)
    _check_scale(scale)
    param = next(model.parameters(), None)
    device = param.device if param is not None else lr.device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = lr.to(device=device, dtype=torch.float32)
            gray = x.shape[1] == 3 and bool(
                torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]))
            if x.shape[1] == 3 and not gray:
                ycbcr = rgb_to_ycbcr(x)
                y, cbcr = ycbcr[:, :1], imresize(ycbcr[:, 1:], scale)
            else:
                y, cbcr = x[:, :1], None
            y_sr = upscale_y(model, y, scale)
            if cbcr is not None:
                out = ycbcr_to_rgb(torch.cat([y_sr, cbcr], dim=1))
            else:
                out = y_sr.repeat(1, x.shape[1], 1, 1)
    finally:
        model.train(was_training)
    return out.clamp_(0, 1).to(device=lr.device, dtype=lr.dtype)


def weights_path(name: str, scale: int, config: str = "9-5-5") -> Path:
    """Path of the shipped weights: ``srlib/weights/srcnn_<config>_x<scale>.pt``."""
    if name.lower() != "srcnn":
        raise ValueError(f"unknown model {name!r}: srlib provides 'srcnn'")
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}: choose one of {', '.join(CONFIGS)}")
    _check_scale(scale)
    return WEIGHTS_DIR / f"srcnn_{config}_x{scale}.pt"


#: Limits :func:`load_pretrained` accepts in a weights ``.json`` (far above the papers'
#: 9-5-5, 64 and 32 filters): a file asking for more is refused before any memory is taken.
MAX_KERNEL, MAX_FILTERS = 15, 1024
_MODEL_FIELDS = ("f1", "f2", "f3", "n1", "n2", "channels", "padding")
_NAME = re.compile(r"srcnn_(?P<config>\d+-\d+-\d+)_x(?P<scale>\d+)")


def _bad(file: Path, what: str) -> ValueError:
    return ValueError(f"{file}: {what}; pass the weights made for what you ask, or other "
                      "scale/config arguments")


def _model_kwargs(file: Path, meta: Path, scale: int, config: str) -> dict:
    """The :class:`SRCNN` arguments for ``file``, checked against ``scale`` and ``config``.

    From the ``.json`` beside the weights if there is one (its ``scale``, ``config`` and
    ``model`` fields are validated: types, odd kernels up to :data:`MAX_KERNEL`, up to
    :data:`MAX_FILTERS` filters, 1 or 3 channels), else from ``config``; a file name of the
    form ``srcnn_<config>_x<scale>`` must match too.
    """
    named = _NAME.fullmatch(file.stem)
    if named and (named["config"], int(named["scale"])) != (config, scale):
        raise _bad(file, f"the file name says {named['config']} x{named['scale']}, but "
                   f"{config} x{scale} was asked for")
    kwargs = dict(CONFIGS[config])
    if not meta.is_file():
        return kwargs
    try:
        info = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _bad(meta, f"not a readable JSON file ({err})") from err
    if not isinstance(info, dict) or not isinstance(info.get("model", {}), dict):
        raise _bad(meta, "not a weights description (a JSON object with a 'model' object)")
    if "scale" in info and (isinstance(info["scale"], bool) or info["scale"] != scale):
        raise _bad(meta, f"the weights are for scale {info['scale']!r}, not {scale}")
    if "config" in info and info["config"] != config:
        raise _bad(meta, f"the weights are SRCNN {info['config']!r}, not {config!r}")
    model = info.get("model", {})
    unknown = sorted(set(model) - set(_MODEL_FIELDS))
    if unknown:
        raise _bad(meta, f"unknown model fields {unknown} (known: {', '.join(_MODEL_FIELDS)})")
    for key, value in model.items():
        limit = {"f1": MAX_KERNEL, "f2": MAX_KERNEL, "f3": MAX_KERNEL, "n1": MAX_FILTERS,
                 "n2": MAX_FILTERS, "channels": 3}.get(key)
        if limit is None:
            if value not in PADDINGS:
                raise _bad(meta, f"padding must be one of {PADDINGS}, got {value!r}")
        elif (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit
              or (key == "channels" and value not in (1, 3))
              or (key[0] == "f" and value % 2 == 0)):
            rule = {"c": "1 or 3", "f": f"an odd int from 1 to {limit}"}.get(
                key[0], f"an int from 1 to {limit}")
            raise _bad(meta, f"{key}={value!r} is not valid ({key} must be {rule})")
    kwargs.update(model)
    got = f"{kwargs.get('f1', 9)}-{kwargs['f2']}-{kwargs.get('f3', 5)}"
    if got != config:
        raise _bad(meta, f"its model is SRCNN {got}, not {config!r}")
    return kwargs


def load_pretrained(
    name: str = "srcnn",
    scale: int = 3,
    config: str = "9-5-5",
    *,
    path: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> SRCNN:
    """Load trained SRCNN weights, in eval mode.

    The weights file is a plain ``state_dict`` (made by :func:`srlib.train.train`), loaded
    with ``torch.load(path, weights_only=True)``, which never runs code from the file.  A
    training checkpoint (a dict with a ``"model"`` entry) is accepted too.  The padding is
    read from the ``.json`` file beside the weights when there is one (default "valid"):
    the two paddings have the same weights but give different outputs.

    Before the model is built, the ``.json`` is checked against what was asked: its
    ``scale`` and ``config`` must be ``scale`` and ``config``, and its ``model`` fields
    valid (see :data:`MAX_KERNEL`, :data:`MAX_FILTERS`); a weights file named
    ``srcnn_<config>_x<scale>.pt`` must carry the asked config and scale in its name.

    Args:
        name: ``"srcnn"``.
        scale: 2, 3 or 4.
        config: ``"9-1-5"`` or ``"9-5-5"``.
        path: a weights file to load instead of the shipped one.
        device: where to put the model.

    Raises:
        FileNotFoundError: no weights file; the message says how to train one.
        ValueError: weights (or their ``.json``) for another scale or config, invalid
            fields, or a file that is not a weights file; the message names the file.

    Example::

        >>> model = load_pretrained("srcnn", 3, "9-5-5")            # doctest: +SKIP
    """
    if name.lower() != "srcnn":
        raise ValueError(f"unknown model {name!r}: srlib provides 'srcnn'")
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}: choose one of {', '.join(CONFIGS)}")
    _check_scale(scale)
    if path is None and scale not in (2, 3, 4):
        raise ValueError(f"srlib ships SRCNN weights for scales 2, 3 and 4 only, not {scale}: "
                         "pass path=... to load weights of your own")
    file = Path(path) if path is not None else weights_path(name, scale, config)
    if not file.is_file():
        raise FileNotFoundError(
            f"no SRCNN weights at {file}. Train them with `python -m srlib.train --scale "
            f"{scale} --config {config} --epochs 200 --out runs/srcnn_{config}_x{scale}` and "
            f"copy runs/srcnn_{config}_x{scale}/srcnn_{config}_x{scale}.pt (and its .json) "
            f"to {file.parent}/, or pass path=..."
        )
    model = SRCNN(**_model_kwargs(file, file.with_suffix(".json"), scale, config))
    return _load_weights(model, file, f"SRCNN {config}", device)


def _load_weights(model: nn.Module, file: Path, what: str, device, bad=_bad) -> nn.Module:
    """Load the ``state_dict`` (or a checkpoint's ``"model"``) of ``file`` into ``model``
    (``weights_only``), in eval mode on ``device``; ``bad(file, ...)`` names a file that is
    not ``what`` weights that fit."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        model.load_state_dict(state)
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError, KeyError, TypeError,
            ValueError, AttributeError, struct.error) as err:
        raise bad(file, f"not {what} weights that fit ({type(err).__name__}: "
                  f"{' '.join(str(err).split())[:300]})") from err
    return model.to(device).eval()
