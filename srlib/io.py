"""The one image reader of srlib: any PNG, JPEG, BMP or TIFF file -> a ``(C, H, W)`` tensor.

Pillow opens many kinds of image, and ``Image.open(path).convert("RGB")`` looks as if it
read them all, but it silently clips a 16-bit gray PNG (mode ``I;16``) to white and drops
transparency without a word.  :func:`read_image` reads every kind the book meets and says
how, or refuses with an :class:`ImageReadError` that names the file:

========================  =====================================================
stored as (Pillow mode)   read as
========================  =====================================================
``1`` (1-bit)             gray, 0 or 255
``L`` (8-bit gray)        gray
``LA`` (gray + alpha)     gray; ``mode="keep"``: 2 channels (gray, alpha)
``I;16``, ``I;16B``       16-bit gray (full precision as floats)
``I`` (32-bit integer)    16-bit gray if every value is in 0..65535, else refused
``P`` (palette)           RGB; with a transparent colour, ``mode="keep"`` gives RGBA
``RGB``, ``RGBA``         as stored (``mode="RGB"`` drops the alpha channel)
``CMYK``, ``YCbCr``, ...  RGB by Pillow's conversion (no ICC colour management)
========================  =====================================================

The EXIF orientation of a photo is applied (:func:`PIL.ImageOps.exif_transpose`), so the
tensor is upright as a viewer shows it.  Only the first frame of a multi-frame file
(animated GIF, multi-page TIFF) is read.  Pillow decodes 16-bit RGB(A) PNGs to 8 bits (the
high byte of each value); a warning says so when floats are asked for.

Example::

    >>> from srlib.io import read_image
    >>> x = read_image("photo.png")                            # doctest: +SKIP
    >>> x.shape, x.dtype                                       # doctest: +SKIP
    (torch.Size([3, 480, 640]), torch.uint8)
    >>> read_image("scan16.png", mode="L", dtype=torch.float32).max()   # doctest: +SKIP
    tensor(0.9871)

:func:`read_image_info` (chapter 8, :mod:`srlib.upscale`) reads a file with everything a
program that writes it back needs: the channels as stored (alpha kept), 16-bit samples in
full precision (also 16-bit RGB(A) PNGs, decoded here, and 16-bit RGB TIFFs, read with
``tifffile`` where it is installed), the ICC profile, the DPI, and notes on what was
converted (a palette, CMYK, the EXIF orientation).

This module imports only Pillow, numpy and torch (no other srlib module; ``tifffile``
optionally), so that every module that reads an image can use it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["MAX_PIXELS", "MODES", "ImageReadError", "file_sha256", "image_bits",
           "image_to_tensor", "read_image", "read_image_info", "write_atomic"]

#: ``mode`` values of :func:`read_image`.
MODES: tuple[str, ...] = ("RGB", "L", "keep")
#: Largest image :func:`read_image` decodes, in pixels (width x height): 179 megapixels,
#: Pillow's own "decompression bomb" limit (a 16-bit RGB image of that size as float32
#: takes 2 GB).  Larger files are refused before they are decoded.
MAX_PIXELS: int = 2 * 89_478_485

_GRAY16 = ("I;16", "I;16B", "I;16L", "I;16N")
# BT.601 luma with Pillow's weights (what ``convert("L")`` computes), for colour -> gray.
_LUMA = np.array([0.299, 0.587, 0.114])


class ImageReadError(ValueError):
    """An image file cannot be read: missing, not an image, damaged, or of an unknown kind.

    The message names the file and says what to do.
    """


def _fail(path: Path | str, what: str, todo: str) -> ImageReadError:
    return ImageReadError(f"cannot read image {path}: {what}; {todo}")


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open, check the size from the header, decode fully, apply the EXIF orientation."""
    if not path.exists():
        raise _fail(path, "no such file", "check the path")
    if path.is_dir():
        raise _fail(path, "it is a folder, not a file", "pass the path of an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
            if im.width * im.height > max_pixels:
                im.close()
                raise _fail(path, f"{im.width}x{im.height} pixels is more than the limit of "
                            f"{max_pixels:,}", "shrink or tile the image first (or raise "
                            "max_pixels if you trust the file)")
            im.load()  # decodes every pixel: finds truncated and damaged files
            return ImageOps.exif_transpose(im)
    except ImageReadError:
        raise
    except UnidentifiedImageError as err:
        raise _fail(path, "not an image file Pillow can decode", "check that it is a PNG, "
                    "JPEG, BMP or TIFF image (not a web page or a text file)") from err
    except Image.DecompressionBombError as err:
        raise _fail(path, str(err), "shrink the image first") from err
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as err:
        raise _fail(path, f"the file is damaged or truncated ({err})", "download or "
                    "export it again") from err


def _to_array(im: Image.Image, mode: str, path: Path | str) -> tuple[np.ndarray, int]:
    """``(H, W, C)`` uint8 or uint16 array of the image in ``mode``, and its bits (8, 16)."""
    m = im.mode
    if m in _GRAY16 or m == "I":
        a = np.asarray(im)
        if m == "I" and a.size and (a.min() < 0 or a.max() > 65535):
            raise _fail(path, f"32-bit integer values {a.min()}..{a.max()} (not 16-bit "
                        "levels)", "save it as an 8- or 16-bit image")
        a, bits = a.astype(np.uint16)[..., None], 16
    elif m == "F":
        raise _fail(path, "32-bit float pixels (mode F) have no defined range",
                    "save it as an 8- or 16-bit image")
    else:
        if m == "1":
            im = im.convert("L")
        elif m in ("P", "PA"):
            alpha = m == "PA" or "transparency" in im.info
            im = im.convert("RGBA" if alpha else "RGB")
        elif m not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in m else "RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
        a, bits = np.asarray(im), 8
        if a.ndim == 2:
            a = a[..., None]
    c = a.shape[2]
    if mode == "keep":
        return a, bits
    colour = a[..., :3] if c >= 3 else None
    if mode == "RGB":
        return (colour if colour is not None else np.repeat(a[..., :1], 3, axis=2)), bits
    if colour is None:  # mode "L" of a gray image
        return a[..., :1], bits
    gray = np.rint(colour.astype(np.float64) @ _LUMA)
    return gray.astype(a.dtype)[..., None], bits


def _png_rgb16(path: Path) -> bool:
    """True for a 16-bit RGB(A) PNG, which Pillow decodes to 8 bits."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16 and head[25] in (2, 6)


def read_image(
    path: str | Path, *, mode: str = "RGB", dtype: torch.dtype = torch.uint8,
    max_pixels: int = MAX_PIXELS,
) -> torch.Tensor:
    """Read an image file as a ``(C, H, W)`` tensor, upright (EXIF orientation applied).

    Args:
        path: a PNG, JPEG, BMP, TIFF (or other Pillow-readable) file.
        mode: ``"RGB"`` (3 channels; gray is repeated, alpha dropped), ``"L"`` (1 channel;
            colour becomes gray with BT.601 weights ``0.299 R + 0.587 G + 0.114 B``) or
            ``"keep"`` (the file's channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
        dtype: ``torch.uint8`` (values 0..255; a 16-bit file is rounded to 8 bits,
            ``round(v * 255 / 65535)``) or a float dtype (values in [0, 1]: ``v / 255`` for
            8-bit files, ``v / 65535`` for 16-bit files, whose precision is kept).
        max_pixels: refuse images with more pixels than this (see :data:`MAX_PIXELS`).

    Returns:
        A contiguous ``(C, H, W)`` tensor of ``dtype`` on the CPU.

    Raises:
        ImageReadError: (a ``ValueError``) the file is missing, not an image, damaged or
            truncated, too large, or of an unsupported kind; the message names the file.
        ValueError: an unknown ``mode`` or ``dtype``.

    Example::

        >>> read_image("t1.png", mode="L", dtype=torch.float32).shape   # doctest: +SKIP
        torch.Size([1, 204, 252])
    """
    _check_args(mode, dtype)
    path = Path(path)
    with _open(path, max_pixels) as im:
        t = image_to_tensor(im, mode=mode, dtype=dtype, name=str(path))
    if dtype.is_floating_point and _png_rgb16(path):
        warnings.warn(f"{path} is a 16-bit RGB PNG, which Pillow decodes to 8 bits: the "
                      "floats have 8-bit precision", stacklevel=2)
    return t


def _check_args(mode: str, dtype: torch.dtype) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if dtype != torch.uint8 and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be torch.uint8 or a float dtype, got {dtype!r}")


def image_to_tensor(
    image: Image.Image, *, mode: str = "keep", dtype: torch.dtype = torch.uint8,
    name: str = "the image",
) -> torch.Tensor:
    """A PIL image already open -> ``(C, H, W)`` tensor, by the rules of :func:`read_image`.

    ``mode`` and ``dtype`` as there (default ``"keep"``: the image's own channels); ``name``
    is used in error messages.  The EXIF orientation is not applied here.

    >>> image_to_tensor(Image.new("P", (4, 2))).shape          # a palette becomes RGB
    torch.Size([3, 2, 4])
    """
    _check_args(mode, dtype)
    array, bits = _to_array(image, mode, name)
    t = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)).astype(
        np.int32 if bits == 16 else np.uint8))
    if dtype == torch.uint8:
        return t.to(torch.uint8) if bits == 8 else ((t * 255 + 32767) // 65535).to(torch.uint8)
    return (t.to(torch.float64) / (255 if bits == 8 else 65535)).to(dtype)


def image_bits(path: str | Path) -> int:
    """Bits per sample that :func:`read_image` gets from the file: 16 or 8.

    16 for 16-bit gray files (modes ``I;16*`` and ``I``), 8 otherwise (including 16-bit
    RGB PNGs, which Pillow decodes to 8 bits).  Reads the header only.  Code that writes a
    result back can use it to keep the file's depth.

    >>> image_bits("scan16.png")          # doctest: +SKIP
    16
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such file", "check the path")
    try:
        with Image.open(path) as im:
            return 16 if im.mode in _GRAY16 or im.mode == "I" else 8
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise _fail(path, f"not a readable image ({err})", "check the file") from err


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes as 64 hex digits, read in 1 MiB blocks.

    srlib uses it to check the shipped T91 (:func:`srlib.data.t91_dir`), to key the cache
    by archive content and to make sure a resumed training run sees the same images.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """Write a file through a temporary one beside it, then rename that onto ``path``.

    ``write(tmp)`` writes the whole file to ``tmp``, a hidden name in the same folder that
    keeps ``path``'s suffix (``.last.pt.tmp.pt`` for ``last.pt``: writers that choose the
    format by the suffix still work).  ``os.replace`` then puts it in place in one step,
    so nobody ever sees a half-written ``path``: an error or Ctrl-C while writing leaves
    ``path`` as it was and removes the temporary file; after a SIGKILL the next write to
    the same path replaces it.  Every file srlib writes (training checkpoints, weights,
    logs, ANR dictionaries, upscaled images) goes through here.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_atomic(d / "a.txt", lambda tmp: tmp.write_text("done"))
    >>> (d / "a.txt").read_text(), [p.name for p in d.iterdir()]
    ('done', ['a.txt'])
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------ reading with its metadata
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undo PNG's per-row filters (types 0-4) of non-interlaced image data."""
    rows = np.frombuffer(raw, np.uint8)[: height * (stride + 1)].reshape(height, stride + 1)
    out = np.zeros((height + 1, stride), np.int64)  # row 0: the zero row above the image
    for r in range(height):
        kind, line, up = rows[r, 0], rows[r, 1:].astype(np.int64), out[r]
        if kind == 0:
            out[r + 1] = line
        elif kind == 2:
            out[r + 1] = (line + up) & 255
        elif kind == 1:   # Sub: a running sum per byte position within the pixel
            out[r + 1] = line
            for i in range(bpp):
                out[r + 1, i::bpp] = np.cumsum(line[i::bpp]) & 255
        elif kind in (3, 4):   # Average, Paeth: sequential along the row
            cur = out[r + 1]
            for x in range(stride):
                a = int(cur[x - bpp]) if x >= bpp else 0
                b = int(up[x])
                if kind == 3:
                    pred = (a + b) // 2
                else:
                    c = int(up[x - bpp]) if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[x] = (int(line[x]) + pred) & 255
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
    return out[1:].astype(np.uint8)


def _read_png16(path: Path) -> np.ndarray:
    """A 16-bit colour PNG as ``(H, W, C)`` uint16 (Pillow keeps only the high bytes).

    Pillow's own decoder runs twice, once unpacking the high byte of every sample and once
    (the rawmode's ``16B`` read as ``16L``) the low byte: fast, in C.  Where Pillow has no
    such rawmode (16-bit gray + alpha), :func:`_decode_png16` decodes it in numpy.
    """
    try:
        with Image.open(path) as im:
            hi = np.asarray(im)
        with Image.open(path) as im:
            tile = im.tile[0]
            args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
            if len(im.tile) != 1 or not args[0].endswith(";16B"):
                raise ValueError(f"unexpected PNG tile {im.tile}")
            im.tile = [tile._replace(args=(args[0][:-1] + "L", *args[1:]))]
            lo = np.asarray(im)
    except (ValueError, OSError, AttributeError, KeyError):
        return _decode_png16(path)
    return hi.astype(np.uint16) << 8 | lo


def _decode_png16(path: Path) -> np.ndarray:
    """A 16-bit PNG decoded here (zlib, then the row filters): ``(H, W, C)`` uint16."""
    data = path.read_bytes()
    pos, idat, chunks = 8, [], {}
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        else:
            chunks.setdefault(kind, body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if depth != 16 or colour not in _PNG_CHANNELS or interlace:
        raise ValueError(f"a {depth}-bit PNG of colour type {colour}, interlace {interlace}")
    c = _PNG_CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    flat = _unfilter(raw, height, width * c * 2, c * 2)
    array = flat.reshape(height, width * c, 2)
    return (array[..., 0].astype(np.uint16) << 8 | array[..., 1]).reshape(height, width, c)


def _png16_not_gray(path: Path) -> bool:
    """True for a 16-bit PNG of gray + alpha, RGB or RGBA (Pillow keeps 8 bits of them)."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    return head[:8] == _PNG_SIGNATURE and head[24] == 16 and head[25] in (2, 4, 6)


def _tiff16(path: Path) -> bool:
    """True for a TIFF of 16-bit colour samples, which Pillow decodes to 8 bits."""
    try:
        with Image.open(path) as im:
            tags = getattr(im, "tag_v2", None)
            if im.format != "TIFF" or tags is None or im.mode in _GRAY16:
                return False
            bits = tags.get(258, (8,))
    except (OSError, ValueError, SyntaxError):
        return False
    return max(bits if isinstance(bits, tuple) else (bits,)) == 16


def _read_tiff16(path: Path) -> np.ndarray:
    try:
        import tifffile
    except ImportError as err:
        raise _fail(path, "a 16-bit colour TIFF, which Pillow reads as 8 bits",
                    "install tifffile (`pip install tifffile`) to read it") from err
    a = tifffile.imread(path)
    a = a[..., None] if a.ndim == 2 else a
    if a.dtype != np.uint16 or a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise _fail(path, f"a TIFF of {a.dtype} samples, shape {a.shape}",
                    "save it as an 8- or 16-bit gray or RGB(A) image")
    return a


def read_image_info(
    path: str | Path, *, dtype: torch.dtype = torch.float32, max_pixels: int = MAX_PIXELS,
) -> tuple[torch.Tensor, dict]:
    """Read an image as stored, with what a program writing it back needs to know.

    Returns ``(image, info)``: the ``(C, H, W)`` tensor of the file's own channels (1 gray,
    2 gray + alpha, 3 RGB, 4 RGBA; a palette becomes RGB(A), CMYK and other modes RGB),
    upright (EXIF orientation applied), in ``dtype`` (float: values in [0, 1] at the file's
    full precision, also for 16-bit RGB(A) PNG and TIFF files); and a dict with
    ``bits`` (8 or 16), ``mode`` (Pillow's mode of the file), ``format``, ``icc_profile``
    (bytes or None), ``dpi`` (a ``(x, y)`` pair or None) and ``notes``, a list of sentences
    saying what was converted (palette, CMYK, EXIF orientation).

    Raises :class:`ImageReadError` naming the file, as :func:`read_image` does.

    >>> x, info = read_image_info("photo.jpg")                  # doctest: +SKIP
    >>> info["bits"], info["notes"]                             # doctest: +SKIP
    (8, ['EXIF orientation 6 applied (rotated upright)'])
    """
    _check_args("keep", dtype)
    path = Path(path)
    with _open(path, max_pixels) as im:
        notes = []
        info = dict(bits=8, mode=im.mode, format=im.format, notes=notes,
                    icc_profile=im.info.get("icc_profile") or None,
                    dpi=_dpi(im.info.get("dpi")))
        if im.mode in ("P", "PA"):
            notes.append("palette image converted to RGB" + (
                "A" if im.mode == "PA" or "transparency" in im.info else ""))
        elif im.mode == "CMYK":
            notes.append("CMYK image converted to RGB (Pillow's conversion, no colour "
                         "management)")
        elif im.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", *_GRAY16):
            notes.append(f"{im.mode} image converted to RGB")
        t = image_to_tensor(im, mode="keep", dtype=dtype, name=str(path))
        info["bits"] = 16 if im.mode in _GRAY16 or im.mode == "I" else 8
    raw = _original_orientation(path)
    if raw not in (None, 1):
        notes.append(f"EXIF orientation {raw} applied (turned upright)")
    array = None
    try:
        if _png16_not_gray(path):
            array = _read_png16(path)
        elif _tiff16(path):
            array = _read_tiff16(path)
    except ImageReadError:
        raise
    except (ValueError, KeyError, zlib.error, struct.error) as err:
        raise _fail(path, f"the 16-bit PNG data is damaged ({err})", "export it again") from err
    if array is not None:
        if raw not in (None, 1):
            array = _orient(array, raw)
        info["bits"] = 16
        u = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)).astype(np.int32))
        t = (((u * 255 + 32767) // 65535).to(torch.uint8) if dtype == torch.uint8
             else (u.to(torch.float64) / 65535).to(dtype))
    return t, info


def _dpi(value) -> tuple[float, float] | None:
    if not value:
        return None
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _original_orientation(path: Path) -> int | None:
    try:
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1))
    except (OSError, ValueError, TypeError, SyntaxError):
        return None


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """An ``(H, W, C)`` array turned upright as :func:`PIL.ImageOps.exif_transpose` does."""
    ops = {2: lambda x: x[:, ::-1], 3: lambda x: x[::-1, ::-1], 4: lambda x: x[::-1],
           5: lambda x: x.transpose(1, 0, 2), 6: lambda x: np.rot90(x, -1),
           7: lambda x: x[::-1, ::-1].transpose(1, 0, 2), 8: lambda x: np.rot90(x, 1)}
    return np.ascontiguousarray(ops.get(orientation, lambda x: x)(a))
