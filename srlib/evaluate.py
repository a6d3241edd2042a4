"""Evaluate an upscaler on Set5, Set14 or BSD100 the way super-resolution papers do.

:func:`evaluate` shrinks every high-resolution (HR) test image, hands the low-resolution
(LR) image to an upscaling method, and scores the result against the HR image with PSNR
and SSIM, one row per image.  The defaults follow the protocol of the papers (and of
BasicSR, whose option names are used):

* the LR image is made from the HR image (already cropped to a multiple of the scale) with
  MATLAB's ``imresize(hr, 1/scale, 'bicubic')`` on the uint8 image (:func:`srlib.resize.
  imresize`), never taken on trust from the hub's LR files (a file does not say which
  resizer made it, and a different one would silently change every score; the MATLAB-made
  archives the book is tested with equal the regenerated images pixel for pixel);
* the method's output is rounded to 8-bit levels (what saving it as a PNG does);
* PSNR and SSIM are measured on the luma Y of MATLAB's ``rgb2ycbcr`` (BT.601), after
  shaving ``crop_border = scale`` pixels off every side; SSIM uses the Gaussian window of
  Wang et al. without padding (``padding="valid"``, MATLAB's ``filter2(..., 'valid')``);
* a grayscale image (Set14's ``bridge``) is scored on its gray values, which is what the
  MATLAB code of the papers does (it calls ``rgb2ycbcr`` only on three-channel images).

Three protocols, ``"rgb"`` (default), ``"y"`` and ``"matlab"``, differ in what is shrunk,
upscaled and rounded:

``protocol="rgb"``
    The RGB uint8 image is shrunk (as MATLAB makes the benchmarks' LR files), the method
    upscales the RGB LR image, and Y is taken of the rounded RGB output.  This is how
    every RGB model is evaluated, so it is the default: all methods, from nearest
    neighbour to a neural network, see the same LR images.
``protocol="y"``
    The evaluation code of SRCNN (Dong et al.), which produced the bicubic rows that most
    papers copy: ``rgb2ycbcr`` of the uint8 image gives a uint8-rounded Y channel; Y is
    shrunk and upscaled in floating point (no rounding of the LR image) and only the
    result is rounded.  The method receives the float Y channel repeated in the three
    channels of its input, and the mean of its three output channels is scored.
``protocol="matlab"``
    Scoring as MATLAB scripts do it on uint8 images (e.g. the evaluation scripts of EDSR
    and RCAN): LR and output as for ``"rgb"``, but the luma of the rounded output and of
    the HR image comes from ``rgb2ycbcr`` on uint8 images, so it is itself rounded to
    uint8 (``"rgb"`` keeps it in floating point, as BasicSR and SwinIR do).  The
    interpolators that are MATLAB's ``imresize`` (``"bilinear"``, ``"bicubic"``,
    ``"lanczos"``) upscale the uint8 LR image as MATLAB does for a uint8 array: rounded to
    8 bits after each of the two 1-D passes.

Example::

    >>> from srlib.evaluate import evaluate
    >>> table = evaluate("bicubic", "Set5", 4)
    >>> list(table.columns)
    ['name', 'psnr', 'ssim']
    >>> round(table["psnr"].mean(), 2)
    28.43

The upscalers themselves (:data:`METHODS`: nearest ... ibp, the networks) are in
:mod:`srlib.upscalers`, re-exported here.

Command line: ``python -m srlib.evaluate --method bicubic --dataset Set5 --scale 4``
(add ``--json`` for JSON).
"""

from __future__ import annotations

import json
import math
import sys
from functools import lru_cache

import pandas as pd
import torch

from srlib import cli
from srlib.color import rgb_to_y
from srlib.data import BENCHMARKS, SCALES, check_benchmark, load_benchmark, to_tensor
from srlib.data import USER_ERRORS as DATA_ERRORS
from srlib.metrics import psnr, ssim
from srlib.papers import means
from srlib.resize import imresize

# The registry of upscalers lives in srlib.upscalers (shared with srlib.upscale); it is
# re-exported here, so `from srlib.evaluate import METHODS, bicubic, srcnn` keeps working.
from srlib.upscalers import (  # noqa: F401
    EXAMPLE_BASED,
    INTERPOLATORS,
    METHODS,
    NETWORKS,
    Upscaler,
    anr,
    bicubic,
    bilinear,
    espcn,
    fsrcnn,
    ibp,
    lanczos,
    nearest,
    pil_bicubic,
    residual,
    srcnn,
    torch_bicubic,
)

__all__ = [
    "EXAMPLE_BASED",
    "INTERPOLATORS",
    "METHODS",
    "NETWORKS",
    "PAPER_BICUBIC",
    "PROTOCOLS",
    "anr",
    "bicubic",
    "benchmark_pairs",
    "bilinear",
    "espcn",
    "evaluate",
    "fsrcnn",
    "ibp",
    "lanczos",
    "nearest",
    "pil_bicubic",
    "residual",
    "srcnn",
    "torch_bicubic",
]

PROTOCOLS: tuple[str, ...] = ("rgb", "y", "matlab")

#: Bicubic rows printed by the papers: ``(dataset, scale) -> (PSNR dB, SSIM)``, from the
#: table of published results (:mod:`srlib.papers`): Kim et al., CVPR 2016 (VDSR), Table 2;
#: the same values are repeated in many later papers (Set5's also in SRCNN TPAMI, Table 2).
PAPER_BICUBIC: dict[tuple[str, int], tuple[float, float]] = {
    (row.dataset, int(row.scale)): (float(row.psnr), float(row.ssim))
    for row in means(method="bicubic").itertuples()
}


# --------------------------------------------------------------------------- the data
def _round(x: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] -> nearest 8-bit level / 255, half away from zero (MATLAB uint8)."""
    return torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255


@lru_cache(maxsize=16)
def _hr_images(name: str, scale: int) -> tuple[tuple[str, torch.Tensor, bool], ...]:
    """``(name, HR uint8 (1, 3, H, W), grayscale)`` for every image, decoded once."""
    ds = load_benchmark(name, scale)
    return tuple(
        (row["name"], to_tensor(row["hr"], torch.uint8)[None], bool(row["grayscale"]))
        for row in ds
    )


def _y_uint8(hr: torch.Tensor, gray: bool) -> torch.Tensor:
    """MATLAB's ``rgb2ycbcr`` luma of a uint8 image, as uint8 levels / 255 (float32).

    For a grayscale image the gray values themselves (MATLAB code skips ``rgb2ycbcr``).
    """
    if gray:
        return hr[:, :1].float() / 255
    y = rgb_to_y(hr.double() / 255)
    return (torch.floor(y * 255 + 0.5) / 255).float()


@lru_cache(maxsize=64)
def benchmark_pairs(
    name: str, scale: int, protocol: str = "rgb", quantize_lr: bool | None = None
) -> tuple[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, bool], ...]:
    """The test images of a benchmark as ``(name, hr, lr, ref_y, grayscale)``, cached.

    All float32 in [0, 1].  ``lr`` is the method's input and ``hr`` the image it should
    produce: ``(1, 3, H/scale, W/scale)`` and ``(1, 3, H, W)`` RGB for ``protocol="rgb"``
    and ``"matlab"`` (where ``ref_y`` is rounded to uint8 levels),
    ``(1, 1, h, w)`` and ``(1, 1, H, W)`` (the Y channel) for ``protocol="y"``.
    ``ref_y`` ``(1, 1, H, W)`` is the Y channel the output's Y is compared with (the gray
    values of a grayscale image).  ``quantize_lr`` rounds the LR image to 8-bit levels
    (default: yes for "rgb", where it is a uint8 resize anyway, no for "y", like SRCNN's
    code).  The LR images are made once and reused by every method.
    """
    check_benchmark(name, scale)
    protocol = _check_protocol(protocol)
    if quantize_lr is None:
        quantize_lr = protocol != "y"
    pairs = []
    for image_name, hr8, gray in _hr_images(name, scale):
        if protocol in ("rgb", "matlab"):
            lr = imresize(hr8, 1 / scale).float() / 255  # uint8 in, uint8 out
            hr = hr8.float() / 255
            if protocol == "matlab":
                ref_y = _y_uint8(hr8, gray)
            else:
                ref_y = hr[:, :1] if gray else rgb_to_y(hr)
        else:
            hr = ref_y = _y_uint8(hr8, gray)
            lr = imresize(hr, 1 / scale)
            lr = _round(lr) if quantize_lr else lr
        pairs.append((image_name, hr, lr, ref_y, gray))
    return tuple(pairs)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float values on the 8-bit grid (``k / 255``) -> the uint8 levels ``k``."""
    return torch.floor(x * 255 + 0.5).to(torch.uint8)


#: The methods that are MATLAB's ``imresize`` and its kernel: under ``protocol="matlab"``
#: they upscale the uint8 LR image, rounded after each 1-D pass as MATLAB does for uint8.
_IMRESIZE_KERNELS: dict[str, str] = {"bilinear": "linear", "bicubic": "cubic",
                                     "lanczos": "lanczos3"}


def _uint8_variant(label: str, fn: Upscaler) -> Upscaler:
    """``fn``, or MATLAB's uint8 ``imresize`` if ``fn`` is one of its float versions."""
    kernel = _IMRESIZE_KERNELS.get(label)
    if kernel is None or fn is not METHODS[label]:
        return fn

    def uint8_imresize(lr: torch.Tensor, scale: int) -> torch.Tensor:
        return imresize(_to_uint8(lr), scale, kernel=kernel).float() / 255

    return uint8_imresize


# ---------------------------------------------------------------------------- checks
def _check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    return protocol


def resolve_method(method: str | Upscaler) -> tuple[str, Upscaler]:
    """``(display name, callable)`` of a registry name or a callable.

    Raises:
        ValueError: an unknown name (the message lists :data:`METHODS`).
        TypeError: neither a string nor a callable.
    """
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(
                f"unknown method {method!r}: choose one of {', '.join(METHODS)}, "
                "or pass a callable mapping an LR batch (B, 3, h, w) to (B, 3, h*s, w*s)"
            )
        return method, METHODS[method]
    if not callable(method):
        raise TypeError(
            f"method must be a name from METHODS ({', '.join(METHODS)}) or a callable, "
            f"got {type(method).__name__}"
        )
    return getattr(method, "__name__", type(method).__name__), method


def _check_output(out: object, lr: torch.Tensor, scale: int, label: str) -> torch.Tensor:
    """Raise a ValueError saying what ``label`` returned unless it is a valid SR batch."""
    b, c, h, w = lr.shape
    expected = (b, c, h * scale, w * scale)
    what = f"expected a float tensor of shape {expected} with values in [0, 1]"
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"method {label!r} returned a {type(out).__name__}; {what}")
    if tuple(out.shape) != expected:
        raise ValueError(
            f"method {label!r} returned shape {tuple(out.shape)} for an LR batch of shape "
            f"{tuple(lr.shape)} at scale {scale}; {what}"
        )
    if not out.is_floating_point():
        raise ValueError(
            f"method {label!r} returned dtype {out.dtype}; {what} (convert uint8 with "
            "`x.float() / 255`)"
        )
    lo, hi = (v.item() for v in torch.aminmax(out.detach().float()))
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"method {label!r} returned NaN values; {what}")
    if lo < 0 or hi > 1:
        hint = (
            " (it looks like the 0..255 scale: divide by 255)"
            if hi > 2
            else " (clamp it with `.clamp(0, 1)`)"
        )
        raise ValueError(
            f"method {label!r} returned values in [{lo:.4g}, {hi:.4g}]; {what}{hint}"
        )
    return out


# -------------------------------------------------------------------------- evaluate
def evaluate(
    method: str | Upscaler,
    name: str,
    scale: int,
    *,
    protocol: str = "rgb",
    crop_border: int | None = None,
    test_y_channel: bool = True,
    quantize_output: bool = True,
    quantize_lr: bool | None = None,
    ssim_padding: str = "valid",
) -> pd.DataFrame:
    """Score an upscaler on a benchmark: one row per image with its PSNR and SSIM.

    Args:
        method: a name from :data:`METHODS` (``"nearest"``, ``"bilinear"``,
            ``"bicubic"``, ``"torch-bicubic"``, ``"pil-bicubic"``, ``"lanczos"``,
            ``"ibp"``, ``"srcnn"``: the shipped weights) or a callable ``f(lr, scale)``
            that maps an LR batch ``(B, 3, h, w)``, float32 in [0, 1], to
            ``(B, 3, h*scale, w*scale)``, float in [0, 1].
        name: ``"Set5"``, ``"Set14"`` or ``"BSD100"``.
        scale: 2, 3 or 4.
        protocol: ``"rgb"`` (default: shrink and upscale the RGB uint8 image, as MATLAB
            makes the benchmarks' LR files, and score Y in floating point, as BasicSR
            does), ``"y"`` (SRCNN's code: shrink and upscale the uint8-rounded Y channel in
            floating point) or ``"matlab"`` (as ``"rgb"``, but Y rounded to uint8 as
            MATLAB's ``rgb2ycbcr`` returns it, and the ``imresize`` interpolators upscale
            the uint8 image); see the module docstring.
        crop_border: pixels shaved off every side before measuring; default ``scale``.
        test_y_channel: measure on Y (default).  ``False`` measures on RGB (protocol
            ``"rgb"`` only; grayscale images are then measured on their gray values).
        quantize_output: round the output to 8-bit levels before measuring (default).
        quantize_lr: round the LR image to 8-bit levels; default ``True`` for "rgb"
            (a uint8 resize, as MATLAB does) and ``False`` for "y" (as SRCNN's code does).
        ssim_padding: ``"valid"`` (default, as MATLAB) or ``"same"``.

    Returns:
        A :class:`pandas.DataFrame` with the columns ``name``, ``psnr`` (dB) and ``ssim``,
        one row per image in name order; ``table.attrs`` records the settings.

    Raises:
        ValueError: unknown method, dataset, scale or protocol, or a callable that returns
            the wrong shape, dtype or value range (the message says what it returned).

    Example::

        >>> t = evaluate(lambda lr, s: lr.repeat_interleave(s, -1).repeat_interleave(s, -2),
        ...              "Set5", 2)
        >>> t.shape
        (5, 3)
    """
    label, fn = resolve_method(method)
    check_benchmark(name, scale)
    _check_protocol(protocol)
    if crop_border is None:
        crop_border = scale
    if not test_y_channel and protocol != "rgb":
        raise ValueError(
            f"test_y_channel=False needs protocol='rgb' (protocol {protocol!r} is Y only)")
    if protocol == "matlab":
        if not quantize_output:
            raise ValueError("protocol='matlab' scores uint8 images: quantize_output must "
                             "stay True")
        fn = _uint8_variant(label, fn)
    rows = []
    for image_name, hr, lr, ref_y, gray in benchmark_pairs(name, scale, protocol, quantize_lr):
        x = lr.expand(-1, 3, -1, -1).contiguous() if protocol == "y" else lr
        with torch.no_grad():
            out = _check_output(fn(x, scale), x, scale, label).float()
        if protocol == "y":
            out = out.mean(dim=1, keepdim=True)
        if quantize_output:
            out = _round(out)
        if not test_y_channel:
            ref = hr[:, :1] if gray else hr
            out = out[:, :1] if gray else out
        elif protocol == "y":
            ref = ref_y
        elif protocol == "matlab":
            ref, out = ref_y, _y_uint8(_to_uint8(out), gray)
        else:
            ref, out = ref_y, out[:, :1] if gray else rgb_to_y(out)
        rows.append(
            {
                "name": image_name,
                "psnr": psnr(out.double(), ref.double(), crop_border=crop_border).item(),
                "ssim": ssim(out, ref, crop_border=crop_border, padding=ssim_padding).item(),
            }
        )
    table = pd.DataFrame(rows, columns=["name", "psnr", "ssim"])
    table.attrs.update(method=label, dataset=name, scale=scale, protocol=protocol,
                       crop_border=crop_border, test_y_channel=test_y_channel)
    return table


# ------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> None:
    """``python -m srlib.evaluate --method bicubic --dataset Set5 --scale 4 [--json]``."""
    parser = cli.parser(
        "python -m srlib.evaluate",
        "Score an upscaling method on a super-resolution benchmark (PSNR and SSIM on Y, "
        "border of `scale` pixels shaved) and print one row per image and the mean.",
    )
    parser.add_argument("--method", default="bicubic", choices=list(METHODS),
                        help="the upscaler")
    parser.add_argument("--dataset", default="Set5", choices=list(BENCHMARKS),
                        help="the benchmark")
    parser.add_argument("--scale", type=int, default=4, choices=SCALES,
                        help="upscaling factor")
    parser.add_argument("--protocol", default="rgb", choices=PROTOCOLS,
                        help="'rgb' (shrink and upscale RGB) or 'y' (SRCNN's code: Y only)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    table = evaluate(args.method, args.dataset, args.scale, protocol=args.protocol)
    mean = {"psnr": float(table["psnr"].mean()), "ssim": float(table["ssim"].mean())}
    if args.json:
        print(json.dumps({**table.attrs, "images": table.to_dict("records"), "mean": mean},
                         indent=2))
        return
    print(f"{args.method} on {args.dataset} x{args.scale} (protocol {args.protocol!r}, "
          f"Y channel, {args.scale}-pixel border shaved)")
    shown = pd.concat([table, pd.DataFrame([{"name": "mean", **mean}])], ignore_index=True)
    print(shown.to_string(index=False, formatters={"psnr": "{:.4f}".format,
                                                   "ssim": "{:.4f}".format}))
    paper = PAPER_BICUBIC.get((args.dataset, args.scale))
    if args.method == "bicubic" and paper:
        print(f"papers' bicubic: {paper[0]:.2f} dB / {paper[1]:.4f}")


if __name__ == "__main__":
    sys.exit(cli.run(main, user_errors=DATA_ERRORS))
