"""Upscale your own images with any method of the book, tile by tile (chapter 8).

:func:`upscale_image` takes a PIL image, a file path or a tensor and returns the same kind
(a path gives the path of the PNG it wrote); ``python -m srlib.upscale`` does it for files
and folders::

    python -m srlib.upscale photo.jpg holiday/ --scale 2 --model srcnn --out upscaled/

What it does to an image:

* **Colour**: a Y-channel network (SRCNN, FSRCNN, ESPCN, the residual net) runs on the luma
  Y of MATLAB's ``rgb2ycbcr`` and Cb/Cr are upscaled with bicubic ``imresize``; an RGB
  method (the interpolators) on R, G and B.  A gray image stays one channel (a network
  gets the gray values as Y); an alpha channel is upscaled with bicubic and kept; palette
  and CMYK images are converted to RGB(A), and the log says so.
* **Tiles**: the LR image is cut into ``tile x tile`` squares, each read with a margin of
  :func:`srlib.upscalers.halo` LR pixels (the method's receptive field: 17 HR pixels for
  SRCNN 9-5-5, plus the bicubic upscale before it), and only the tile's own part of the
  output is kept, so the tiled output equals the untiled one (up to float rounding: at most
  one grey level) while memory is set by the tile, not the image.  Default: no tiles up
  to :data:`AUTO_TILE_PIXELS` output pixels, else tiles of ``1024 // scale`` LR pixels.
* **Files**: read with :func:`srlib.io.read_image_info` (EXIF orientation applied, 16-bit
  PNG and TIFF at full precision), written as PNG with the input's depth (8 or 16 bits), its
  ICC profile, and its DPI multiplied by the scale (the print size stays the same: the
  image gains detail, not inches).  EXIF data is not copied (the orientation is already
  applied).  An output is written to a temporary name and renamed, so an interrupted run
  leaves no half-written PNG; an input is never overwritten and an existing output only
  with ``overwrite=True`` (``--overwrite``).

Example::

    >>> from PIL import Image
    >>> from srlib.upscale import upscale_image
    >>> upscale_image(Image.new("RGB", (40, 30)), 2, "bicubic").size
    (80, 60)
"""

from __future__ import annotations

import copy
import os
import re
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from srlib import cli
from srlib.color import rgb_to_ycbcr, ycbcr_to_rgb
from srlib.io import ImageReadError, image_to_tensor, read_image_info, write_atomic
from srlib.models import upscale_y
from srlib.resize import imresize
from srlib.upscalers import METHODS, NETWORKS, halo, load_network

__all__ = ["AUTO_TILE_PIXELS", "IMAGE_SUFFIXES", "default_tile", "find_inputs", "main",
           "output_path", "tiles", "upscale_array", "upscale_image", "write_png"]

#: File suffixes a folder given as input is searched for.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Largest output (pixels) upscaled in one piece by default; larger ones are tiled.
AUTO_TILE_PIXELS = 1024 * 1024


# --------------------------------------------------------------------------- tiling
def default_tile(h: int, w: int, scale: int) -> int | None:
    """``None`` (one piece) up to :data:`AUTO_TILE_PIXELS` output pixels, else
    ``1024 // scale`` LR pixels (output tiles of about 1024 x 1024)."""
    return None if h * w * scale**2 <= AUTO_TILE_PIXELS else max(32, 1024 // scale)


def _cuts(length: int, tile: int) -> list[tuple[int, int]]:
    """``[start, end)`` pieces of about equal length, none longer than ``tile``."""
    n = max(1, -(-length // tile))
    edges = [round(i * length / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def tiles(h: int, w: int, tile: int | None, margin: int):
    """The tiles of an ``h x w`` LR image: ``(core, read)`` pairs of ``(y0, y1, x0, x1)``.

    ``core`` is the tile's own part, ``read`` the core with ``margin`` pixels around it
    (clipped at the image's edges).  ``tile=None`` gives one tile, the whole image.
    """
    out = []
    for y0, y1 in _cuts(h, tile or h):
        for x0, x1 in _cuts(w, tile or w):
            read = (max(0, y0 - margin), min(h, y1 + margin),
                    max(0, x0 - margin), min(w, x1 + margin))
            out.append(((y0, y1, x0, x1), read))
    return out


class _Plan:
    """How one method upscales one tile of a ``(1, C, h, w)`` float image, per colour."""

    def __init__(self, method: str, scale: int, weights=None, device=None) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown model {method!r}: choose one of {', '.join(METHODS)}")
        self.method, self.scale = method, scale
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = (load_network(method, scale, weights, self.device)
                    if method in NETWORKS else None)
        if weights is not None and self.net is None:
            raise ValueError(f"--weights is for a network ({', '.join(NETWORKS)}), not "
                             f"{method!r}")
        self.halo = halo(method, scale, self.net)
        self.y_model = self.net is not None and getattr(self.net, "channels", 1) == 1

    def colour(self, x: torch.Tensor) -> torch.Tensor:
        """``(1, C, h, w)`` (C = 1 gray, 3 RGB) -> ``(1, C, h*s, w*s)``, clamped to [0, 1]."""
        s, x = self.scale, x.to(self.device, torch.float32)
        with torch.no_grad():
            if self.net is None:
                rgb = x if x.shape[1] == 3 else x.expand(-1, 3, -1, -1)
                out = METHODS[self.method](rgb.clamp(0, 1), s)[:, : x.shape[1]]
            elif x.shape[1] == 1 or not self.y_model:  # gray as Y, or an RGB network
                out = upscale_y(self.net, x, s)
            else:
                ycc = rgb_to_ycbcr(x)
                y = upscale_y(self.net, ycc[:, :1], s).clamp(0, 1)  # random weights overshoot
                out = ycbcr_to_rgb(torch.cat([y, imresize(ycc[:, 1:], s)], dim=1))
        return out.clamp(0, 1).cpu()

    def alpha(self, a: torch.Tensor) -> torch.Tensor:
        return imresize(a.float(), self.scale, kernel="cubic").clamp(0, 1)


def upscale_array(
    x: torch.Tensor, plan: _Plan, tile: int | None | str = "auto", *,
    store: Callable[[torch.Tensor], torch.Tensor] | None = None,
    out: torch.Tensor | np.ndarray | None = None, progress: bool | TextIO = False,
) -> torch.Tensor | np.ndarray:
    """Upscale a ``(C, h, w)`` float image (C = 1, 2, 3, 4; the last of 2 or 4 is alpha).

    Tile by tile (:func:`tiles`, margin ``plan.halo``); each tile's core is converted by
    ``store`` (e.g. to 8-bit levels) and written into ``out`` (default: a float32 tensor
    ``(C, h*s, w*s)``; a numpy ``(H, W, C)`` array is filled in that layout).
    """
    c, h, w = x.shape
    s = plan.scale
    tile = default_tile(h, w, s) if tile == "auto" else (tile or None)
    if out is None:
        out = torch.empty(c, h * s, w * s)
    alpha = c in (2, 4)
    parts = tiles(h, w, tile, plan.halo)
    bar = tqdm(parts, disable=not progress or len(parts) == 1, unit="tile",
               file=None if isinstance(progress, bool) else progress,
               mininterval=0.5 if isinstance(progress, bool) else 5.0,
               desc=f"{plan.method} x{s}")
    for (y0, y1, x0, x1), (a0, a1, b0, b1) in bar:
        piece = x[None, :, a0:a1, b0:b1]
        up = plan.colour(piece[:, : c - alpha] if alpha else piece)
        if alpha:
            up = torch.cat([up, plan.alpha(piece[:, -1:])], dim=1)
        up = up[0, :, (y0 - a0) * s:(y1 - a0) * s, (x0 - b0) * s:(x1 - b0) * s]
        up = store(up) if store else up
        if isinstance(out, np.ndarray):
            out[y0 * s:y1 * s, x0 * s:x1 * s] = up.permute(1, 2, 0).numpy()
        else:
            out[:, y0 * s:y1 * s, x0 * s:x1 * s] = up
    bar.close()
    return out


def _levels(bits: int) -> Callable[[torch.Tensor], torch.Tensor]:
    top = 2**bits - 1
    return lambda t: torch.floor(t.double() * top + 0.5).to(torch.int32)


# ------------------------------------------------------------------------ the API
def upscale_image(
    image: Image.Image | str | Path | torch.Tensor, scale: int, model: str = "srcnn", *,
    tile: int | None | str = "auto", device: str | torch.device | None = None,
    weights: str | Path | None = None, out_dir: str | Path | None = None,
    overwrite: bool = False, progress: bool | TextIO = False,
    log: Callable[[str], object] | None = None, margin: int | None = None,
) -> Image.Image | Path | torch.Tensor:
    """Upscale one image by ``scale`` with ``model`` (a name of :data:`srlib.upscalers.METHODS`).

    Args:
        image: a PIL image (returns a PIL image of the same mode; a palette or CMYK image
            comes back RGB(A), 16-bit gray stays 16-bit; EXIF orientation applied, ICC
            profile and DPI (times ``scale``) in ``.info``), a file path (writes
            ``<out_dir>/<stem>_x<scale>_<model>.png`` and returns its path) or a tensor
            ``(C, H, W)`` or ``(1, C, H, W)`` with C = 1, 2, 3 or 4 (2 and 4: the last
            channel is alpha), uint8 or float in [0, 1] (returns the same shape layout and
            dtype; float output is not rounded).
        scale: integer factor; a network needs weights for it.
        model: ``"srcnn"`` (default), ``"bicubic"``, ``"espcn"``, ... (:data:`METHODS`).
        tile: LR pixels per tile side; ``None`` or 0: one piece; ``"auto"`` (default):
            :func:`default_tile`.
        device: where the method runs (default ``cuda`` if available, else the CPU).
        weights: a network's weights file (``.pt`` with its ``.json``) instead of the
            shipped ones.
        out_dir: for a path: the output folder (default: the input's folder).
        overwrite: for a path: replace an existing output (never an input).
        progress: a tqdm bar over the tiles (``True``: on stderr, or a stream).
        log: called with one line per note (conversions, orientation).
        margin: LR pixels of context read around each tile; default the method's
            :func:`srlib.upscalers.halo` (smaller margins show the tile borders: chapter 8
            uses ``margin=0`` to show why the halo is needed).

    Raises:
        ValueError: an unknown model, a scale without weights, a bad tensor;
            :class:`srlib.io.ImageReadError` (a ``ValueError``) for a file that is not an
            image, truncated or damaged; FileExistsError for an existing output.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    plan = model if isinstance(model, _Plan) else _Plan(model, scale, weights, device)
    if margin is not None:
        if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
            raise ValueError(f"margin must be an integer >= 0, got {margin!r}")
        plan = copy.copy(plan)
        plan.halo = margin
    if isinstance(image, torch.Tensor):
        return _upscale_tensor(image, plan, tile, progress)
    if isinstance(image, Image.Image):
        return _upscale_pil(image, plan, tile, progress, log)
    if isinstance(image, (str, os.PathLike)):
        return _upscale_file(Path(image), plan, tile, out_dir, overwrite, progress, log)
    raise TypeError(f"image must be a PIL image, a path or a tensor, got "
                    f"{type(image).__name__}")


def _upscale_tensor(t: torch.Tensor, plan: _Plan, tile, progress) -> torch.Tensor:
    batch = t.ndim == 4
    if not (t.ndim == 3 or (batch and t.shape[0] == 1)) or t.shape[-3] not in (1, 2, 3, 4):
        raise ValueError(f"a tensor image must be (C, H, W) or (1, C, H, W) with C in 1..4, "
                         f"got shape {tuple(t.shape)}")
    x = t[0] if batch else t
    if t.dtype == torch.uint8:
        out = upscale_array(x.float() / 255, plan, tile, store=_levels(8), progress=progress)
        out = out.to(torch.uint8)
    elif t.is_floating_point():
        out = upscale_array(x.float(), plan, tile, progress=progress).to(t.dtype)
    else:
        raise ValueError(f"a tensor image must be uint8 or float in [0, 1], got {t.dtype}")
    return out[None] if batch else out


def _upscale_pil(im: Image.Image, plan: _Plan, tile, progress, log) -> Image.Image:
    info = dict(icc_profile=im.info.get("icc_profile"), dpi=im.info.get("dpi"))
    orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
    im = ImageOps.exif_transpose(im) if orientation != 1 else im
    bits = 16 if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I") else 8
    if im.mode in ("P", "PA", "CMYK") and log:
        log(f"{im.mode} image converted to RGB")
    x = image_to_tensor(im, dtype=torch.float32, name="the image")
    array = _upscale_to_array(x, plan, tile, bits, progress)
    out = _pil_from_array(array, bits)
    if info["icc_profile"]:
        out.info["icc_profile"] = info["icc_profile"]
    if info["dpi"]:
        out.info["dpi"] = tuple(float(v) * plan.scale for v in info["dpi"])
    return out


def _upscale_to_array(x: torch.Tensor, plan: _Plan, tile, bits: int, progress) -> np.ndarray:
    c, h, w = x.shape
    dtype = np.uint16 if bits == 16 else np.uint8
    out = np.empty((h * plan.scale, w * plan.scale, c), dtype)
    return upscale_array(x, plan, tile, store=_levels(bits), out=out, progress=progress)


def _pil_from_array(a: np.ndarray, bits: int) -> Image.Image:
    if bits == 16:
        if a.shape[2] != 1:
            raise ValueError("Pillow holds 16-bit gray images only; write 16-bit colour "
                             "with srlib.upscale.write_png")
        return Image.fromarray(a[..., 0].astype(np.uint16))
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)


# --------------------------------------------------------------------------- files
def output_path(src: Path, scale: int, model: str, out_dir: str | Path | None = None) -> Path:
    """``<out_dir or src's folder>/<stem>_x<scale>_<model>.png``."""
    return Path(out_dir if out_dir is not None else src.parent) / f"{src.stem}_x{scale}_{model}.png"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (len(body).to_bytes(4, "big") + kind + body
            + zlib.crc32(kind + body).to_bytes(4, "big"))


def write_png(path: str | Path, a: np.ndarray, *, icc_profile: bytes | None = None,
              dpi: tuple[float, float] | None = None) -> None:
    """Write an ``(H, W, C)`` uint8 or uint16 array (C = 1..4) as an 8- or 16-bit PNG.

    Pillow writes 16-bit gray only; this writes every kind (gray, gray + alpha, RGB, RGBA)
    at either depth, with an ``iCCP`` chunk for the ICC profile and ``pHYs`` for the DPI.
    Not atomic by itself (see :func:`srlib.io.write_atomic`).
    """
    h, w, c = a.shape
    depth = 16 if a.dtype == np.uint16 else 8
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    data = a.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), data], axis=1).tobytes()
    parts = [b"\x89PNG\r\n\x1a\n",
             _chunk(b"IHDR", w.to_bytes(4, "big") + h.to_bytes(4, "big")
                    + bytes([depth, colour, 0, 0, 0]))]
    if icc_profile:
        parts.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if dpi:
        ppm = [round(float(v) / 0.0254) for v in dpi]
        parts.append(_chunk(b"pHYs", ppm[0].to_bytes(4, "big") + ppm[1].to_bytes(4, "big")
                            + b"\x01"))
    parts += [_chunk(b"IDAT", zlib.compress(raw, 6)), _chunk(b"IEND", b"")]
    Path(path).write_bytes(b"".join(parts))


def _upscale_file(src: Path, plan: _Plan, tile, out_dir, overwrite: bool, progress,
                  log, inputs: set[Path] = frozenset()) -> Path:
    dst = output_path(src, plan.scale, plan.method, out_dir)
    if dst.resolve() == src.resolve() or dst.resolve() in inputs:
        raise ValueError(f"{dst} is an input; refusing to overwrite it (choose another --out)")
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; pass --overwrite (overwrite=True) to replace it")
    x, info = read_image_info(src, dtype=torch.float32)
    for note in info["notes"]:
        if log:
            log(f"{src}: {note}")
    array = _upscale_to_array(x, plan, tile, info["bits"], progress)
    dpi = info["dpi"] and tuple(v * plan.scale for v in info["dpi"])
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, lambda tmp: write_png(tmp, array, icc_profile=info["icc_profile"],
                                             dpi=dpi))
    return dst


_OUTPUT_NAME = re.compile(r".*_x\d+_(" + "|".join(re.escape(m) for m in METHODS) + r")$")


def find_inputs(paths: list[str | Path]) -> list[Path]:
    """The image files of ``paths``: files as given, folders searched (not recursively)
    for :data:`IMAGE_SUFFIXES`, skipping earlier outputs (``*_x<s>_<model>.png``)."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.iterdir() if f.is_file()
                            and f.suffix.lower() in IMAGE_SUFFIXES
                            and not _OUTPUT_NAME.fullmatch(f.stem)
                            and not f.name.startswith("."))
        elif p.exists():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return found


# ----------------------------------------------------------------------------- CLI
def _parser():
    p = cli.parser(
        "python -m srlib.upscale",
        "Upscale image files (PNG, JPEG, TIFF, BMP, WebP) or folders of them with one of "
        "srlib's methods; writes DIR/<stem>_x<S>_<model>.png (8 or 16 bits as the input, "
        "ICC profile kept, DPI times S).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="an image file or a folder")
    p.add_argument("--scale", type=cli.positive_int, required=True,
                   help="upscaling factor, required (the networks ship weights for 2, 3, 4)"
                   "%(default).0s")
    p.add_argument("--model", default="srcnn", choices=list(METHODS),
                   help="the upscaler (srlib.upscalers.METHODS)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: beside each input)%(default).0s")
    p.add_argument("--tile", type=cli.nonnegative_int, default=None, metavar="N",
                   help="tile side in input pixels, 0 for no tiles (default: none up to "
                   f"{AUTO_TILE_PIXELS:,} output pixels, else 1024 // scale)%(default).0s")
    p.add_argument("--device", default=None,
                   help="torch device (default: cuda if available, else cpu)%(default).0s")
    p.add_argument("--weights", default=None, metavar="PT",
                   help="a network's weights file (.pt, its .json beside it) instead of the "
                   "shipped ones (default: the shipped ones)%(default).0s")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (never an input)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar over the tiles, no log lines")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m srlib.upscale INPUT [INPUT ...] --scale S [...]``; returns the exit code:
    0 all done, 2 an error before any image or the only input failed, 1 some failed."""
    args = _parser().parse_args(argv)
    files = find_inputs(args.inputs)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in "
                         f"{', '.join(args.inputs)}")
    plan = _Plan(args.model, args.scale, args.weights, args.device)  # weights checked once
    tile = "auto" if args.tile is None else args.tile or None
    say = (lambda *a: None) if args.quiet else print
    inputs = {f.resolve() for f in files}
    failures = []
    for f in files:
        t0 = time.perf_counter()
        try:
            dst = _upscale_file(f, plan, tile, args.out, args.overwrite, not args.quiet,
                                say, inputs)
        except (ValueError, OSError) as err:
            if len(files) == 1 or "--debug" in (argv or []):
                raise
            failures.append((f, cli.error_line(err)))
            print(f"{f}: {cli.error_line(err)}", file=sys.stderr)
            continue
        say(f"{f} -> {dst} ({time.perf_counter() - t0:.1f} s)")
    if failures:
        print(f"{len(failures)} of {len(files)} images failed:", file=sys.stderr)
        for f, line in failures:
            print(f"  {f}: {line.removeprefix('error: ')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, user_errors=(ImageReadError,)))
