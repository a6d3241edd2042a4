"""The book's figure helpers: one style for every chapter.

Images may be PIL images, or tensors ``(C, H, W)`` / ``(H, W)`` with floats in [0, 1] or
``uint8`` values 0..255; they are always drawn without smoothing (``interpolation="nearest"``),
so what you see is the pixels themselves.

Example::

    >>> from srlib import plot
    >>> fig = plot.true_scale([hr, lr], ["HR 512x512", "LR x4 128x128"])
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

ImageLike = Image.Image | torch.Tensor | np.ndarray

#: The book's style, applied by :func:`use_style` (every chapter calls it once).
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": "figure",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.grid": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "gray",
}


def use_style() -> None:
    """Apply the book's matplotlib style (:data:`STYLE`)."""
    plt.rcParams.update(STYLE)


def to_array(image: ImageLike) -> np.ndarray:
    """Image -> ``(H, W, 3)`` or ``(H, W)`` array for ``imshow`` (uint8, or floats in [0, 1])."""
    if isinstance(image, Image.Image):
        return np.asarray(image)
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim == 3:
            t = t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)
        if t.dtype != torch.uint8:
            t = t.float().clamp(0, 1)
        return t.numpy()
    return np.asarray(image)


def _size(image: ImageLike) -> tuple[int, int]:
    array = to_array(image)
    return array.shape[1], array.shape[0]


def show(image: ImageLike, ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """Draw one image on ``ax`` (a new figure if None) with its title, without axis ticks."""
    if ax is None:
        _, ax = plt.subplots()
    array = to_array(image)
    ax.imshow(array, interpolation="nearest", vmin=0, vmax=255 if array.dtype == np.uint8 else 1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def grid(
    images: Sequence[ImageLike],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    width: float = 9.0,
    suptitle: str | None = None,
) -> plt.Figure:
    """Images in a grid of ``ncols`` columns (all in one row by default), ``width`` inches wide.

    Every cell has the same size, so images of different sizes are scaled differently: use
    :func:`true_scale` to compare sizes.
    """
    n = len(images)
    ncols = ncols or n
    nrows = -(-n // ncols)
    w, h = _size(images[0])
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, width / ncols * h / w * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i < n:
            show(images[i], ax, titles[i] if titles else None)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def true_scale(
    images: Sequence[ImageLike],
    titles: Sequence[str] | None = None,
    gap: int = 12,
    title_px: int = 22,
    suptitle: str | None = None,
) -> plt.Figure:
    """Images side by side at their true pixel scale: one image pixel is one figure pixel.

    The figure is sized in pixels (at ``figure.dpi``) so that an x4 LR image really appears a
    quarter as wide as its HR image. Image tops are aligned; ``gap`` pixels separate them.
    """
    dpi = plt.rcParams["figure.dpi"]
    sizes = [_size(im) for im in images]
    top = title_px * (2 if suptitle else 1)
    fig_w = sum(w for w, _ in sizes) + gap * (len(images) + 1)
    fig_h = max(h for _, h in sizes) + top + gap
    fig = plt.figure(figsize=(fig_w / dpi, fig_h / dpi))
    x = gap
    for i, (image, (w, h)) in enumerate(zip(images, sizes, strict=True)):
        ax = fig.add_axes((x / fig_w, 1 - (top + h) / fig_h, w / fig_w, h / fig_h))
        show(image, ax, titles[i] if titles else None)
        for spine in ax.spines.values():
            spine.set_visible(False)
        x += w + gap
    if suptitle:
        fig.suptitle(suptitle, y=1 - 4 / fig_h, va="top")
    return fig


def _box_slices(box: tuple[int, int, int, int]) -> tuple[slice, slice]:
    x, y, w, h = box
    return slice(y, y + h), slice(x, x + w)


def crop(image: ImageLike, box: tuple[int, int, int, int]) -> np.ndarray:
    """The ``(x, y, width, height)`` box of an image (pixels, top-left origin) as an array."""
    rows, cols = _box_slices(box)
    array = to_array(image)
    if box[0] < 0 or box[1] < 0 or rows.stop > array.shape[0] or cols.stop > array.shape[1]:
        raise ValueError(
            f"box {box} (x, y, width, height) does not fit in a "
            f"{array.shape[1]}x{array.shape[0]} image"
        )
    return array[rows, cols]


def mark(ax: plt.Axes, box: tuple[int, int, int, int], color: str = "yellow") -> None:
    """Draw the ``(x, y, width, height)`` box on an axes showing a full image."""
    x, y, w, h = box
    ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor=color,
                               linewidth=1.5))


def inset(
    ax: plt.Axes,
    image: ImageLike,
    box: tuple[int, int, int, int],
    bounds: tuple[float, float, float, float] = (0.58, 0.58, 0.4, 0.4),
    color: str = "yellow",
) -> plt.Axes:
    """Add a zoomed-crop inset of ``box`` to ``ax`` (which shows ``image``) and mark the box.

    ``bounds`` is the inset's ``(x0, y0, width, height)`` in axes fractions; the crop is drawn
    with nearest-neighbour so its pixels stay visible.
    """
    sub = ax.inset_axes(bounds)
    show(crop(image, box), sub)
    for spine in sub.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(1.5)
    mark(ax, box, color)
    return sub


def compare(
    images: Sequence[ImageLike],
    titles: Sequence[str],
    box: tuple[int, int, int, int],
    width: float = 9.0,
    suptitle: str | None = None,
) -> plt.Figure:
    """Before/after comparison: the first image whole with ``box`` marked, then that crop of
    every image enlarged side by side (nearest-neighbour), all with their titles.

    ``images`` must have the same size (e.g. HR, bicubic, a network's output); ``box`` is
    ``(x, y, width, height)`` in pixels.
    """
    sizes = {_size(im) for im in images}
    if len(sizes) != 1:
        raise ValueError(f"compare() needs images of one size, got sizes {sorted(sizes)}")
    if len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    n = len(images)
    fig, axes = plt.subplots(1, n + 1, figsize=(width, width / (n + 1) + 0.5),
                             layout="constrained")
    show(images[0], axes[0], f"{titles[0]} (whole)")
    mark(axes[0], box)
    for ax, image, title in zip(axes[1:], images, titles, strict=True):
        show(crop(image, box), ax, title)
    if suptitle:
        fig.suptitle(suptitle)
    return fig
