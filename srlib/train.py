"""Train SRCNN (:mod:`srlib.models`) on a folder of high-resolution images, e.g. T91.

The data follow the evaluation protocol of :mod:`srlib.evaluate` (``protocol="rgb"``):

1. every HR image (RGB uint8) is cropped to a multiple of the scale (:func:`srlib.resize.
   modcrop`) and shrunk with MATLAB's ``imresize(hr, 1/scale, 'bicubic')`` on the uint8
   image (:func:`srlib.resize.imresize`: the LR image is rounded to 8-bit levels, like
   MATLAB's LR files);
2. the LR image is upscaled back in floating point with the same bicubic ``imresize`` and
   its luma Y taken (:func:`srlib.models.bicubic_y`, the function :func:`srlib.models.
   upscale` uses at inference): the network's input; the target is the Y of the HR image;
3. 33x33 sub-images are cut at a stride of 14 pixels, as in the SRCNN papers (about
   22,000 from T91 at x3); for ``padding="valid"`` the target is the centre of the HR
   sub-image the network's output covers (21x21 for 9-1-5, 17x17 for 9-5-5).

Validation uses a held-out tenth of the training folder (every 10th image by sorted file
name, full images), scored by PSNR on Y with ``crop_border = scale``; the benchmark sets
(Set5, Set14, BSD100) are never used for training or for choosing a checkpoint.

Speed: all sub-images live in one tensor on the device (about 100 MB for T91), batches
are gathered by indexing with a ``torch.randperm`` made on the device: no ``DataLoader``,
no worker processes, no host-to-device copy per step.  Measured on a 2-core AVX2 CPU
(1 thread, 9-5-5, 33x33 patches, Adam), in patches per second:

=========================  =======  ===============  ================
padding                    float32  + channels_last  + bf16 autocast
=========================  =======  ===============  ================
"same" (zero padding)      152      185              14
"valid" (the papers')      353      452              38
=========================  =======  ===============  ================

so "valid" padding is 2.3x faster than "same" and channels_last another 1.25x, while
bfloat16 autocast is 10x *slower* on a CPU without native bf16 instructions (AVX2 only,
no AVX512-BF16/AMX): ``amp`` is therefore on by default only on CUDA, where bf16 runs on
the tensor cores.  ``torch.compile`` took 13 s to compile on that CPU and gained nothing
(424 vs 428 patches/s), so it is on by default only on CUDA.
``benchmarks/train_speed.py`` compares this loop with a common ``DataLoader`` loop
(2.9x the patches per second on that CPU, and a better PSNR after one epoch).

Threads: PyTorch uses one thread per physical core by default.  On a machine shared with
other jobs, pass ``threads`` (``--threads``) to use fewer: two jobs that each use every
core run slower than two jobs that each use half of them.

Several processes (``torchrun``, one per GPU; :mod:`srlib.distributed`, chapter "Training
on a cluster")::

    torchrun --standalone --nproc-per-node=2 -m srlib.train --scale 3 --out runs/x3 ...

runs the same training on N processes: each builds the sub-image tensor, the model is
wrapped in ``DistributedDataParallel``, ``batch_size`` stays the *global* batch (each rank
trains on its ``batch_size / N`` part of the same seeded permutation and augmentation), and
only rank 0 validates and writes the files below.  DDP averages the gradients of the ranks
(all-reduce mean): the mean of N equal-sized parts' mean-loss gradients is the gradient of
the mean loss over the whole batch, so every step is the one-process step and the learning
rate needs no change.  The result equals a one-process run up to float rounding (the
sums are ordered differently; ``tests/test_distributed.py`` measures it).  torchrun sets
``OMP_NUM_THREADS=1`` for each process unless it is set: ``--threads`` is per process.

Outputs in ``out_dir``:

* ``log.csv``: one row per epoch (``epoch, step, loss, val_psnr, lr, seconds,
  world_size``: the number of processes);
* ``last.pt``: the checkpoint of the last finished epoch (model, optimizer, epoch, RNG
  states, settings); ``resume=True`` (``--resume``) continues from it exactly as if the
  run had not been interrupted (bit for bit on the CPU);
* ``srcnn_<config>_x<scale>.pt`` and ``.json``: the weights (a plain ``state_dict``) of
  the epoch with the best validation PSNR and their description, the files
  :func:`srlib.models.load_pretrained` reads from ``srlib/weights/``;
* ``epochs/epoch_<n>.pt``: the weights of every ``save_every``-th epoch, if asked for.

A run started (``init``) from another run's kept weights, e.g. to train longer at a lower
learning rate, has its own log and record; :func:`join_runs` joins them into one (the logs
one after the other, the earlier record under ``previous_run``) and :func:`run_history`
splits it again: several shipped weights of chapter 7 come from two or more runs.

Example::

    >>> from srlib.train import train
    >>> result = train(3, "9-5-5", epochs=2, out_dir="runs/try")     # doctest: +SKIP
    >>> result["best_val_psnr"], result["weights"]                   # doctest: +SKIP

Command line::

    python -m srlib.train --scale 3 --config 9-5-5 --epochs 100 --out runs/x3 \\
        --threads 2 [--resume] [--init runs/x3/srcnn_9-5-5_x3.pt]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import pickle
import struct
import sys
import time
import warnings
from pathlib import Path
from typing import TextIO

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm  # text bar: a widget bar can stall the book's notebook executor

from srlib import cli, distributed
from srlib.color import rgb_to_y
from srlib.data import SCALES, t91_dir
from srlib.io import file_sha256, read_image, write_atomic
from srlib.metrics import psnr
from srlib.models import COMPACT, CONFIGS, PADDINGS, WEIGHTS_DIR, _run_y, bicubic_y, build
from srlib.resize import imresize, modcrop

__all__ = [
    "IMAGE_SUFFIXES",
    "RECIPES",
    "build_model",
    "degrade",
    "degrade_y",
    "extract_lr_patches",
    "extract_patches",
    "join_runs",
    "lr_factor",
    "make_lr_patches",
    "list_images",
    "load_hr",
    "main",
    "make_patches",
    "pick_device",
    "rescaled",
    "resolve_data_dir",
    "run_history",
    "save_checkpoint",
    "split_images",
    "train",
    "train_step",
    "training_data",
    "validate",
]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
LOG_FIELDS: tuple[str, ...] = ("epoch", "step", "loss", "val_psnr", "lr", "seconds",
                               "world_size")
# Settings that must not change when a run is resumed (the number of epochs may grow).
_FIXED_ON_RESUME = ("scale", "model", "model_kwargs", "config", "padding", "batch_size",
                    "lr", "lr_last_factor", "schedule", "loss", "patch_size", "stride",
                    "augment", "rescale", "val_fraction", "seed", "max_images",
                    "data_files", "data_sha256")
# What a checkpoint saved before those settings existed was trained with.
_OLD_DEFAULTS = dict(model="srcnn", model_kwargs={}, schedule="constant", loss="mse",
                     rescale=[])
#: Exit code of ``python -m srlib.train`` when the best weights score below bicubic.
EXIT_BELOW_BICUBIC = 3


# --------------------------------------------------------------------------------- data
def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The folder of HR training images: ``data_dir``, else ``$SRLIB_DATA_DIR``, else T91.

    T91 is the copy shipped inside srlib (:func:`srlib.data.t91_dir`), so training works
    on a fresh installation with no data set up. Raises ``FileNotFoundError`` if a given
    folder does not exist (naming where the name came from).

    >>> resolve_data_dir().name
    'T91'
    """
    source = "data_dir"
    if data_dir is None and os.environ.get("SRLIB_DATA_DIR"):
        data_dir, source = os.environ["SRLIB_DATA_DIR"], "SRLIB_DATA_DIR"
    if data_dir is None:
        return t91_dir()
    path = Path(data_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"training data folder {path} ({source}) is a file, not a folder: pass the folder "
            "that holds the HR images"
        )
    if not path.is_dir():
        raise FileNotFoundError(
            f"training data folder {path} ({source}) does not exist: pass a folder of HR "
            "images, or leave it unset to train on T91, which ships with srlib"
        )
    return path


def list_images(folder: str | Path) -> list[Path]:
    """The image files (:data:`IMAGE_SUFFIXES`) of ``folder``, sorted by name."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}"
        )
    return files


def split_images(files: list[Path], val_fraction: float = 0.1) -> tuple[list, list]:
    """Split sorted files into (train, val): every ``round(1 / val_fraction)``-th is val.

    Deterministic: with T91 and 0.1 the validation images are the 1st, 11th, ..., 91st by
    sorted name (10 images), spread over both halves (``t*`` and ``tt*``) of the set.
    ``val_fraction=0`` puts every image in training.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if val_fraction == 0:
        return list(files), []
    every = max(1, round(1 / val_fraction))
    val = [f for i, f in enumerate(files) if i % every == 0]
    train = [f for i, f in enumerate(files) if i % every != 0]
    if not train:
        raise ValueError(f"{len(files)} images leave none for training at {val_fraction=}")
    return train, val


def load_hr(path: str | Path) -> torch.Tensor:
    """Read an image file as an RGB ``(1, 3, H, W)`` uint8 tensor (:func:`srlib.io.read_image`).

    Gray is replicated, alpha dropped, 16-bit files rounded to 8 bits; a file that cannot be
    read raises :class:`srlib.io.ImageReadError` naming it.
    """
    return read_image(path, mode="RGB")[None]


def degrade(hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training pair of an HR image: ``(bicubic Y input, HR Y target)``.

    Args:
        hr: ``(B, 3, H, W)`` uint8 RGB.
        scale: integer factor.

    Returns:
        Two float32 tensors ``(B, 1, H', W')`` with ``H' = H // scale * scale`` (modcrop):
        the Y channel of ``imresize(imresize(hr, 1/scale) / 255, scale)`` (uint8 LR,
        float upscaling; not clamped) and the Y channel of ``hr / 255``.

    >>> x, y = degrade(torch.zeros(1, 3, 40, 41, dtype=torch.uint8), 3)
    >>> x.shape, y.shape
    (torch.Size([1, 1, 39, 39]), torch.Size([1, 1, 39, 39]))
    """
    if hr.dtype != torch.uint8 or hr.ndim != 4 or hr.shape[1] != 3:
        raise ValueError(
            f"hr must be a (B, 3, H, W) uint8 tensor, got {tuple(hr.shape)} {hr.dtype}"
        )
    hr = modcrop(hr, scale)
    lr = imresize(hr, 1 / scale)  # uint8 in, uint8 out: MATLAB's LR images
    return bicubic_y(lr.float() / 255, scale), rgb_to_y(hr.float() / 255)


def extract_patches(
    inp: torch.Tensor, target: torch.Tensor, patch_size: int = 33, stride: int = 14,
    shrink: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut aligned sub-images: ``patch_size`` squares from ``inp``, their centres from ``target``.

    Args:
        inp, target: ``(1, C, H, W)`` images of the same size.
        patch_size, stride: sub-image size and step in pixels (33 and 14 in the papers).
        shrink: how much smaller the network's output is (``model.shrink``); the target
            sub-images are the central ``patch_size - shrink`` pixels of the HR sub-image,
            starting ``shrink // 2`` pixels in.

    Returns:
        ``(N, C, p, p)`` and ``(N, C, p - shrink, p - shrink)`` with
        ``N = ((H - p) // stride + 1) * ((W - p) // stride + 1)`` (0 if the image is
        smaller than a patch), in row-major order of their top-left corners.
    """
    if inp.shape != target.shape or inp.ndim != 4 or inp.shape[0] != 1:
        raise ValueError(
            f"inp and target must be (1, C, H, W) of one shape, got {tuple(inp.shape)} and "
            f"{tuple(target.shape)}"
        )
    if not 0 <= shrink < patch_size:
        raise ValueError(
            f"patch_size={patch_size} must be larger than shrink={shrink} (the model's output "
            f"is {shrink} pixels smaller than its input): use patches of more than {shrink} "
            "pixels (the papers use 33)"
        )
    c = inp.shape[1]
    if min(inp.shape[-2:]) < patch_size:
        t = patch_size - shrink
        return inp.new_empty(0, c, patch_size, patch_size), target.new_empty(0, c, t, t)
    lo = shrink // 2
    hi = patch_size - (shrink - lo)

    def cut(x: torch.Tensor) -> torch.Tensor:
        x = x.unfold(2, patch_size, stride).unfold(3, patch_size, stride)  # 1,C,nh,nw,p,p
        return x.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, patch_size, patch_size)

    return cut(inp).contiguous(), cut(target)[..., lo:hi, lo:hi].contiguous()


def make_patches(
    files: list[Path], scale: int, patch_size: int = 33, stride: int = 14, shrink: int = 0,
    rescale: tuple[float, ...] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """All training sub-images of ``files``: ``(N, 1, p, p)`` inputs, ``(N, 1, t, t)`` targets.

    ``t = p - shrink``; float32 in [0, 1] (inputs may overshoot slightly: bicubic).
    ``rescale``: also cut sub-images from copies of each image shrunk by these factors
    (:func:`rescaled`).
    """
    inputs, targets = [], []
    for f in files:
        for hr in rescaled(_load_training_image(f, scale), rescale, scale):
            x, y = extract_patches(*degrade(hr, scale), patch_size, stride, shrink)
            inputs.append(x)
            targets.append(y)
    if not inputs or sum(len(x) for x in inputs) == 0:
        raise ValueError(f"no {patch_size}x{patch_size} sub-images in {len(files)} images")
    return torch.cat(inputs), torch.cat(targets)


def _load_training_image(path: Path, scale: int) -> torch.Tensor:
    """:func:`load_hr` of an image file; an image too small for ``scale`` names the file."""
    hr = load_hr(path)
    if min(hr.shape[-2:]) < scale:
        raise ValueError(f"{path} is {hr.shape[-1]}x{hr.shape[-2]} pixels, smaller than the "
                         f"scale {scale}: remove it from the training folder")
    return hr


def _degrade_file(path: Path, scale: int, post: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`degrade` (:func:`degrade_y` if ``post``) of an image file; an image too small
    for ``scale`` names the file."""
    hr = _load_training_image(path, scale)
    return degrade_y(hr, scale) if post else degrade(hr, scale)


def rescaled(hr: torch.Tensor, factors: tuple[float, ...], scale: int = 1
             ) -> list[torch.Tensor]:
    """``hr`` and copies of it shrunk by each of ``factors`` (scale augmentation).

    FSRCNN's data augmentation (Dong, Loy, Tang, ECCV 2016) downscales every training
    image by 0.9, 0.8, 0.7 and 0.6 (and rotates it), as the public re-implementation
    yjn870/FSRCNN-pytorch does too (``prepare.py --with-aug``, with PIL's bicubic): more
    sub-images, at other levels of detail.  Here each copy is MATLAB's bicubic
    ``imresize`` of the uint8 image (:func:`srlib.resize.imresize`, antialiased, rounded
    to uint8); copies with a side below ``scale`` pixels are left out.  (The rotations
    are :func:`train`'s ``augment``, drawn per batch.)

    Args:
        hr: ``(1, 3, H, W)`` uint8 RGB.
        factors: shrink factors in (0, 1), e.g. ``(0.9, 0.8, 0.7, 0.6)``; ``()`` for none.
        scale: the upscaling factor the copies will be degraded with.

    Returns:
        ``[hr, imresize(hr, factors[0]), ...]``, uint8.

    >>> hr = torch.zeros(1, 3, 20, 30, dtype=torch.uint8)
    >>> [tuple(x.shape[-2:]) for x in rescaled(hr, (0.5,))]
    [(20, 30), (10, 15)]
    """
    out = [hr]
    for f in factors:
        small = imresize(hr, f)
        if min(small.shape[-2:]) >= scale:
            out.append(small)
    return out


def _validation_pairs(files: list[Path], scale: int, post: bool = False
                      ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(input, target)`` Y pairs of the validation images, each large enough to score.

    PSNR shaves ``scale`` pixels off every side, so an image needs more than
    ``2 * scale`` pixels in each dimension (after modcrop).
    """
    pairs = []
    for f in files:
        x, y = _degrade_file(f, scale, post)
        if min(y.shape[-2:]) <= 2 * scale:
            raise ValueError(
                f"validation image {f} is {y.shape[-1]}x{y.shape[-2]} pixels after cropping "
                f"to a multiple of {scale}: too small to score with a {scale}-pixel border "
                f"shaved off; remove it (images need at least {3 * scale} pixels a side)"
            )
        pairs.append((x, y))
    return pairs


def degrade_y(hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training pair of a post-upsampling model: ``(LR Y input, HR Y target)``.

    The degradation of the papers' evaluation code (``protocol="y"`` of
    :func:`srlib.evaluate.evaluate`): the Y channel of MATLAB's ``rgb2ycbcr`` of the uint8
    image, rounded to 8-bit levels, shrunk with MATLAB's bicubic ``imresize`` in floating
    point (the LR image is not rounded).

    Args:
        hr: ``(B, 3, H, W)`` uint8 RGB.
        scale: integer factor.

    Returns:
        ``(B, 1, H' / scale, W' / scale)`` and ``(B, 1, H', W')`` float32, ``H' = H // scale
        * scale`` (modcrop); the HR Y in [0, 1], the LR Y not clamped.

    >>> x, y = degrade_y(torch.zeros(1, 3, 40, 41, dtype=torch.uint8), 3)
    >>> x.shape, y.shape
    (torch.Size([1, 1, 13, 13]), torch.Size([1, 1, 39, 39]))
    """
    if hr.dtype != torch.uint8 or hr.ndim != 4 or hr.shape[1] != 3:
        raise ValueError(
            f"hr must be a (B, 3, H, W) uint8 tensor, got {tuple(hr.shape)} {hr.dtype}"
        )
    hr = modcrop(hr, scale)
    y = (torch.floor(rgb_to_y(hr.double() / 255) * 255 + 0.5) / 255).float()
    return imresize(y, 1 / scale), y


def extract_lr_patches(
    lr: torch.Tensor, hr: torch.Tensor, scale: int, patch_size: int = 16, stride: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut aligned LR/HR sub-images for a post-upsampling model.

    Args:
        lr: ``(1, C, h, w)``; hr: ``(1, C, h * scale, w * scale)``.
        patch_size, stride: LR sub-image size and step, in LR pixels.

    Returns:
        ``(N, C, p, p)`` LR and ``(N, C, p * scale, p * scale)`` HR sub-images, the HR one
        covering exactly the LR one; ``N = ((h - p) // stride + 1) * ((w - p) // stride +
        1)`` (0 if the image is smaller than a patch).
    """
    if lr.ndim != 4 or lr.shape[0] != 1 or hr.shape != (
            1, lr.shape[1], lr.shape[2] * scale, lr.shape[3] * scale):
        raise ValueError(f"lr (1, C, h, w) and hr (1, C, h*{scale}, w*{scale}) expected, got "
                         f"{tuple(lr.shape)} and {tuple(hr.shape)}")
    c = lr.shape[1]

    def cut(x: torch.Tensor, p: int, st: int) -> torch.Tensor:
        x = x.unfold(2, p, st).unfold(3, p, st)
        return x.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, p, p).contiguous()

    if min(lr.shape[-2:]) < patch_size:
        q = patch_size * scale
        return lr.new_empty(0, c, patch_size, patch_size), hr.new_empty(0, c, q, q)
    return cut(lr, patch_size, stride), cut(hr, patch_size * scale, stride * scale)


def make_lr_patches(
    files: list[Path], scale: int, patch_size: int = 16, stride: int = 4,
    rescale: tuple[float, ...] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """All training sub-images of ``files`` for a post-upsampling model (:func:`degrade_y`).

    Returns ``(N, 1, p, p)`` LR and ``(N, 1, p * scale, p * scale)`` HR Y sub-images.
    ``rescale``: also cut sub-images from copies of each image shrunk by these factors
    (:func:`rescaled`).
    """
    inputs, targets = [], []
    for f in files:
        for hr in rescaled(_load_training_image(f, scale), rescale, scale):
            x, y = extract_lr_patches(*degrade_y(hr, scale), scale, patch_size, stride)
            inputs.append(x)
            targets.append(y)
    if not inputs or sum(len(x) for x in inputs) == 0:
        raise ValueError(f"no {patch_size}x{patch_size} LR sub-images in {len(files)} images "
                         f"at x{scale}: use a smaller patch_size")
    return torch.cat(inputs), torch.cat(targets)


# ------------------------------------------------------------------------------- helpers
def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``cuda``, then ``mps``, then ``cpu``, whichever exists.

    Raises ``ValueError`` for a device name torch does not know, or a CUDA/MPS device this
    machine does not have.
    """
    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"unknown device {device!r} ({err}): use cpu, cuda or mps") from err
        mps = getattr(torch.backends, "mps", None)
        missing = ((dev.type == "cuda" and not torch.cuda.is_available())
                   or (dev.type == "mps" and not (mps is not None and mps.is_available())))
        if missing:
            raise ValueError(f"device {device!r} is not available on this machine: leave the "
                             "device unset to use the best one there is (cpu here)")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


_LOAD_ERRORS = (OSError, EOFError, RuntimeError, pickle.UnpicklingError, KeyError, TypeError,
                ValueError, AttributeError, IndexError, struct.error)


def _load_state_dict(path: str | Path) -> dict:
    """A ``state_dict`` from a weights file or a training checkpoint (``weights_only``)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"init weights {path} do not exist: check the path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as err:
        raise ValueError(f"init weights {path} cannot be read ({type(err).__name__}: {err}): "
                         "pass a weights file made by srlib.train") from err
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"init weights {path} hold a {type(state).__name__}, not a state_dict")
    return state


def _init_model(model: torch.nn.Module, path: str | Path) -> None:
    """Load the ``init`` weights into ``model``, or say why they do not fit."""
    state = _load_state_dict(path)
    own = model.state_dict()
    if getattr(model, "upsampling", "pre") == "post" and set(state) == set(own):
        # weights of another scale: all but the scale-dependent output layer fit; that
        # layer keeps its initialisation (e.g. x2 fine-tuned from x3)
        state = {k: (v if v.shape == own[k].shape else own[k]) for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"init weights {path} do not fit {type(model).__name__} "
                         f"{model.config} ({' '.join(str(err).split())[:300]})") from err


_CKPT_FIELDS = ("model", "optimizer", "epoch", "step", "best_val_psnr", "best_epoch",
                "settings", "rng")


def _load_checkpoint(path: Path) -> dict:
    """``last.pt``, or ``ValueError`` saying it is damaged (truncated, empty, not a checkpoint)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        missing = [k for k in _CKPT_FIELDS if k not in ckpt]
        if missing:
            raise KeyError(f"no {', '.join(missing)}")
        for k in ("shuffle", "augment", "torch"):
            ckpt["rng"][k]  # noqa: B018 (present?)
    except _LOAD_ERRORS as err:
        raise ValueError(
            f"checkpoint {path} is damaged ({type(err).__name__}: {err}): delete it to start "
            "afresh or restore it"
        ) from err
    return ckpt


def _restore(ckpt: dict, path: Path, model, optimizer, shuffle_gen, aug_gen, cuda: bool) -> None:
    """Load the model, optimizer and RNG states of a checkpoint, or say it is damaged."""
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        shuffle_gen.set_state(ckpt["rng"]["shuffle"])
        aug_gen.set_state(ckpt["rng"]["augment"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if cuda and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"])
    except _LOAD_ERRORS as err:
        raise ValueError(
            f"checkpoint {path} is damaged ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:300]}): delete it to start afresh or restore it"
        ) from err


def _check_resume(ckpt: dict, settings: dict, path: Path) -> None:
    """Refuse a checkpoint made with other settings or other data (SHA-256 of every file).

    A checkpoint saved before the hashes were recorded (no ``data_sha256`` in its settings)
    has file names only: it is resumed with a warning that the content was not compared.
    """
    old = {**_OLD_DEFAULTS, **ckpt["settings"]}
    keys = [k for k in _FIXED_ON_RESUME if k != "data_sha256" or "data_sha256" in old]
    changed = [k for k in keys if old.get(k) != settings[k]]
    if "data_sha256" in changed:
        changed.remove("data_sha256")
        diff = [n for n, a, b in zip(settings["data_files"], old["data_sha256"],
                                     settings["data_sha256"], strict=False) if a != b]
        raise ValueError(
            f"cannot resume {path}: the training images changed since it was saved (other "
            f"content: {', '.join(diff[:5]) or 'the file list'}); train into a new out_dir"
        )
    if changed:
        diff = ", ".join(f"{k}: {old.get(k)!r} -> {settings[k]!r}" for k in changed)
        raise ValueError(f"cannot resume {path} with other settings ({diff})")
    if "data_sha256" not in old:
        warnings.warn(f"{path} was saved by an older srlib without the data files' SHA-256: "
                      "only their names were compared", stacklevel=3)


def _run_files(out: Path) -> list[str]:
    """Files of a training run in ``out``: ``log.csv``, weights (``.pt``, ``.json``), epochs.

    A ``log.csv`` without rows (a run killed in its first epoch) does not count.
    """
    if not out.is_dir():
        return []
    found = [p.name for p in sorted(out.iterdir())
             if (p.name == "log.csv" and _log_has_rows(p)) or p.suffix in (".pt", ".json")]
    if (out / "epochs").is_dir() and any((out / "epochs").iterdir()):
        found.append("epochs/")
    return found


def _check_out_dir(out: Path, weights: str, resume: bool, overwrite: bool) -> None:
    """Refuse to write over another run's files, or into srlib's own weights folder.

    * ``out`` inside the package's ``srlib/weights`` (also through a symlink or a relative
      path): always refused; train elsewhere and copy the files you want to ship.
    * ``out/last.pt`` exists: continued with ``resume``; replaced with ``overwrite``;
      otherwise refused.
    * other run files (``log.csv``, ``*.pt``, ``*.json``, ``epochs/``) but no ``last.pt``:
      refused (also with ``resume``: there is nothing to continue) unless ``overwrite``.
    * an empty or missing folder: a new run (``resume`` then simply starts).

    With ``overwrite`` the files this run writes (``last.pt``, ``log.csv``, its weights and
    ``.json``, ``epochs/epoch_*.pt``) are deleted first, so none of the old run is mixed in;
    other files are left alone.
    """
    target, shipped = out.resolve(), WEIGHTS_DIR.resolve()
    if target == shipped or shipped in target.parents:
        raise ValueError(
            f"out_dir {out} is srlib's folder of shipped weights ({shipped}): srlib.train never "
            "writes there. Train into another folder (e.g. runs/x3) and copy the .pt and "
            ".json you want to keep"
        )
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"out_dir {out} is a file, not a folder: choose another out_dir")
    has_ckpt, others = (out / "last.pt").is_file(), _run_files(out)
    if overwrite:
        if not (resume and has_ckpt):
            for name in ("last.pt", "log.csv", weights, Path(weights).stem + ".json"):
                (out / name).unlink(missing_ok=True)
            for old in (out / "epochs").glob("epoch_*.pt"):
                old.unlink()
        return
    if has_ckpt and not resume:
        raise FileExistsError(
            f"{out / 'last.pt'} exists: pass resume=True (--resume) to continue that run, "
            "overwrite=True (--overwrite) to start afresh over it, or choose another out_dir"
        )
    if others and not has_ckpt:
        raise FileExistsError(
            f"{out} holds files of another run ({', '.join(others[:4])}) but no last.pt "
            f"{'to resume from' if resume else ''}: choose another out_dir, or pass "
            "overwrite=True (--overwrite) to replace them"
        )


def _make_out_dir(out: Path, weights: str, resume: bool, overwrite: bool) -> None:
    """:func:`_check_out_dir`, then create ``out`` (on rank 0 only: :func:`distributed.on_main`)."""
    _check_out_dir(out, weights, resume, overwrite)
    out.mkdir(parents=True, exist_ok=True)


def _start_log(path: Path, start_epoch: int) -> list[dict]:
    """The log rows kept from a resumed run (none for a new one), written back to ``path``."""
    rows = _read_log(path, start_epoch) if start_epoch else []
    _write_log(path, rows)
    return rows


def _check_world(batch_size: int, world_size: int) -> None:
    if batch_size % world_size:
        fit = max(world_size, batch_size // world_size * world_size)
        raise ValueError(
            f"batch_size={batch_size} is the global batch of all {world_size} processes and "
            f"must be a multiple of their number: use e.g. batch_size={fit}"
        )


def _check_positive(**values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_settings(scale, config, padding, epochs, batch_size, patch_size, stride, lr,
                    lr_last_factor, max_images, threads, save_every, check_every,
                    seed, model="srcnn") -> None:
    """Raise ``ValueError`` naming the first setting of :func:`train` that makes no sense."""
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}: choose one of {', '.join(CONFIGS)}")
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if isinstance(scale, bool) or scale not in SCALES or not isinstance(scale, int):
        raise ValueError(
            f"scale must be one of {', '.join(map(str, SCALES))} (an int), got {scale!r}: "
            "srlib's benchmarks (Set5, Set14, BSD100) and shipped weights exist only for "
            "those, so a model of another scale could be neither evaluated nor compared"
        )
    _check_positive(epochs=epochs, batch_size=batch_size, patch_size=patch_size,
                    stride=stride)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63 - 1:
        raise ValueError(f"seed must be an integer from 0 to 2**63 - 2, got {seed!r}")
    for name, value in (("max_images", max_images), ("threads", threads),
                        ("check_every", check_every)):
        if value is not None:
            _check_positive(**{name: value})
    if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 0:
        raise ValueError(f"save_every must be an integer >= 0, got {save_every!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)) or not (
            isinstance(lr_last_factor, (int, float)) and lr_last_factor > 0
            and math.isfinite(lr_last_factor)):
        raise ValueError(f"lr and lr_last_factor must be positive, got {lr}, {lr_last_factor}")
    shrink = build(config, padding=padding).shrink if model == "srcnn" else 0
    if patch_size <= shrink:
        raise ValueError(
            f"patch_size={patch_size} is too small for SRCNN {config} with padding="
            f"{padding!r}: its output is {shrink} pixels smaller than its input, so a patch "
            f"must be larger than {shrink} pixels (the papers use 33)"
        )


def _check_rescale(rescale) -> tuple[float, ...]:
    """``rescale`` as a tuple of floats, each in (0, 1); else a ``ValueError`` saying why."""
    try:
        factors = tuple(float(f) for f in rescale)
    except (TypeError, ValueError) as err:
        raise ValueError(f"rescale must be a sequence of shrink factors such as (0.9, 0.8), "
                         f"got {rescale!r}") from err
    bad = [f for f in factors if not 0 < f < 1]
    if bad or len(set(factors)) != len(factors):
        raise ValueError(f"rescale factors must be distinct numbers between 0 and 1 "
                         f"(shrink factors, e.g. 0.9 0.8 0.7 0.6), got {list(factors)}")
    return factors


def _warn_if_below_bicubic(best: float, bicubic: float) -> bool:
    """Warn loudly (and return True) if the best validation PSNR is below bicubic's."""
    if not best < bicubic:  # also False for NaN (no validation images)
        return False
    warnings.warn(
        f"the best validation PSNR, {best:.2f} dB, is below bicubic's {bicubic:.2f} dB on the "
        "same images: the saved weights are worse than no network. The training failed "
        "(learning rate too high or too low, too few epochs?); do not use these weights",
        RuntimeWarning, stacklevel=3,
    )
    return True


def _save_atomic(obj, path: Path) -> None:
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def _cpu_weights(model: torch.nn.Module) -> dict:
    """The model's ``state_dict`` as contiguous CPU tensors: the shipped weights format."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips/rotations of the square sub-images ``(N, C, p, p)``."""
    if k & 3:
        x = torch.rot90(x, k & 3, (2, 3))
    return x.flip(3) if k & 4 else x


def _bicubic_psnr(val, scale: int, post: bool) -> float:
    """Mean PSNR (dB) of bicubic interpolation on the validation pairs (for reference)."""
    if not val:
        return float("nan")
    scores = [psnr((imresize(x, scale) if post else x).clamp(0, 1).double(), y.double(),
                   crop_border=scale).item() for x, y in val]
    return float(np.mean(scores))


def validate(model, val, scale: int, amp_ctx=contextlib.nullcontext) -> float:
    """Mean PSNR (dB) on Y, ``crop_border = scale``, of the model on the validation images.

    ``val`` holds ``(input, target)`` Y pairs of full images: the bicubic image for SRCNN
    (replicate-padded for ``padding="valid"``), the LR image for post-upsampling models.
    """
    if not val:
        return float("nan")
    model.eval()
    scores = []
    with torch.no_grad():
        for inp, tgt in val:
            with amp_ctx():
                post = getattr(model, "upsampling", "pre") == "post"
                out = model(inp) if post else _run_y(model, inp)
            scores.append(psnr(out.float().clamp(0, 1).double(), tgt.double(),
                               crop_border=scale).item())
    model.train()
    return float(np.mean(scores))


def _read_log(path: Path, last_epoch: int) -> list[dict]:
    """The rows of ``log.csv`` up to ``last_epoch``, or ``ValueError`` if it is damaged."""
    if not path.is_file():
        return []
    try:
        with path.open(newline="") as fh:
            return [row for row in csv.DictReader(fh) if int(row["epoch"]) <= last_epoch]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"log {path} is damaged ({type(err).__name__}: {err}): delete it "
                         "(the resumed run then logs the new epochs only) or restore it") from err


def _log_has_rows(path: Path) -> bool:
    try:
        return bool(_read_log(path, 2**62))
    except ValueError:  # not a log of srlib.train: somebody's file all the same
        return True


def _write_log(path: Path, rows: list[dict]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    write_atomic(path, write)



# ---------------------------------------------------------------------- continued runs
# Settings too long to repeat for an earlier run: the latest run's settings list them.
_RUN_LISTS = ("data_files", "data_sha256", "val_files")


def _log_of(weights: Path) -> Path:
    """The log beside a weights file: ``<name>.log.csv`` (srlib/weights) or a run's ``log.csv``."""
    shipped = weights.with_name(weights.stem + ".log.csv")
    return shipped if shipped.is_file() else weights.parent / "log.csv"


def _joined_record(earlier: dict, earlier_rows: list[dict], later: dict,
                   later_rows: list[dict], log_name: str) -> tuple[dict, list[dict]]:
    """:func:`join_runs` on the records in memory: (the joined ``.json``, the joined log)."""
    # records written before chapter 7 (SRCNN's shipped weights) name no model: SRCNN then
    # was the only one, and a constant learning rate the only schedule
    first, then = ({"model": "srcnn", "schedule": "constant", **r.get("settings", {})}
                   for r in (earlier, later))
    for key in ("model", "scale", "config"):
        if first.get(key) != then.get(key):
            raise ValueError(f"the runs differ in {key} ({first.get(key)!r} and "
                             f"{then.get(key)!r}): only a run continued from the other's "
                             "weights can be joined to it")
    if first.get("data_sha256") and first.get("data_sha256") != then.get("data_sha256"):
        raise ValueError("the runs trained on different images (their data_sha256 differ): "
                         "a joined record would describe neither")
    if not earlier_rows or not later_rows:
        raise ValueError("a run without log rows cannot be joined: check the log files")
    if [int(r["epoch"]) for r in later_rows] != list(range(1, len(later_rows) + 1)):
        raise ValueError("the later run's log does not count its own epochs from 1: "
                         "is it a joined log already?")
    n, last_step = len(earlier_rows), int(earlier_rows[-1]["step"])
    rows = [dict(r) for r in earlier_rows] + [
        {**r, "epoch": int(r["epoch"]) + n, "step": int(r["step"]) + last_step}
        for r in later_rows]
    previous = {k: v for k, v in earlier.items() if k not in ("name", "model", "scale",
                                                              "config", "torch")}
    previous["settings"] = {k: v for k, v in first.items() if k not in _RUN_LISTS}
    previous["log_rows"] = n          # the earlier record's log (all its runs): rows [0, n)
    previous["note"] = (f"the run whose kept weights this run started from (--init "
                        f"{then.get('init')}); its log is the first {n} rows of {log_name}")
    return {**later, "previous_run": previous}, rows


def join_runs(earlier: str | Path, later: str | Path, out: str | Path,
              overwrite: bool = False) -> Path:
    """Join the record of a run continued (``init``) from an earlier run's kept weights.

    A shipped weights file may come from several runs, each started from the weights the
    one before kept (e.g. FSRCNN x4: a first run, then one with scale augmentation).  This
    writes ``out`` (the later run's weights), ``out``'s ``.json`` (the later run's, with
    the earlier one's under ``previous_run``, nested for more runs) and ``<stem>.log.csv``:
    the earlier log's rows, then the later run's with their ``epoch`` and ``step`` counted
    on from the earlier ones.  :func:`run_history` reads the runs back.

    Args:
        earlier: the weights the later run started from (their ``.json`` and log beside
            them: ``<stem>.log.csv``, or ``log.csv`` in a run folder).
        later: the later run's output folder (``out_dir`` of :func:`train`); its
            ``settings["init"]`` must name ``earlier``'s file.
        out: the weights file to write, e.g. ``srlib/weights/fsrcnn_x4.pt``.
        overwrite: replace ``out`` and its ``.json`` and log if they exist (e.g. the
            ``earlier`` files themselves); otherwise ``FileExistsError``.

    Returns:
        ``out``.

    Example::

        >>> join_runs("srlib/weights/fsrcnn_x4.pt", "runs/fsrcnn_x4_more",
        ...           "srlib/weights/fsrcnn_x4.pt", overwrite=True)   # doctest: +SKIP
    """
    earlier, later, out = Path(earlier), Path(later), Path(out)
    later_meta_paths = [p for p in later.glob("*.json")]
    if len(later_meta_paths) != 1:
        raise FileNotFoundError(f"{later} holds {len(later_meta_paths)} weights .json files, "
                                "not 1: pass the output folder of the later run")
    later_json = later_meta_paths[0]
    files = {"earlier .json": earlier.with_suffix(".json"), "earlier log": _log_of(earlier),
             "later weights": later_json.with_suffix(".pt"), "later log": later / "log.csv"}
    for what, path in files.items():
        if not path.is_file():
            raise FileNotFoundError(f"{what} {path} does not exist: check the paths")
    earlier_meta = json.loads(files["earlier .json"].read_text())
    later_meta = json.loads(later_json.read_text())
    if later_meta.get("settings", {}).get("init") != earlier.name:
        raise ValueError(f"the run in {later} started from "
                         f"{later_meta.get('settings', {}).get('init')!r}, not from "
                         f"{earlier.name}: join it to the weights it was started from")
    log_out = out.with_name(out.stem + ".log.csv")
    targets = (out, out.with_suffix(".json"), log_out)
    if not overwrite and any(p.exists() for p in targets):
        raise FileExistsError(f"{out} (or its .json or .log.csv) exists: pass overwrite=True "
                              "to replace it, or choose another path")
    meta, rows = _joined_record(earlier_meta, _read_log(files["earlier log"], 2**62),
                                later_meta, _read_log(files["later log"], 2**62),
                                log_out.name)
    weights = files["later weights"].read_bytes()
    write_atomic(out, lambda tmp: tmp.write_bytes(weights))
    text = json.dumps(meta, indent=1)
    write_atomic(out.with_suffix(".json"), lambda tmp: tmp.write_text(text))
    _write_log(log_out, rows)
    return out


def run_history(meta: dict) -> list[dict]:
    """The training runs behind a weights file, first to last, from its ``.json`` record.

    Args:
        meta: the ``.json`` of a weights file (``json.loads``), with the runs it was
            continued from under ``previous_run`` (:func:`join_runs`).

    Returns:
        one dict per run: its ``settings``, kept ``epoch`` and ``step`` (counted within
        the run), ``val_psnr`` (dB), and ``rows``: the ``slice`` of the log's rows that are
        its epochs.

    Example::

        >>> meta = json.loads(Path("srlib/weights/fsrcnn_x4.json").read_text())  # doctest: +SKIP
        >>> [run["settings"]["lr"] for run in run_history(meta)]                  # doctest: +SKIP
        [0.001, 0.0005]
    """
    chain, run = [], meta
    while run is not None:
        chain.append(run)
        run = run.get("previous_run")
    chain.reverse()
    runs, start = [], 0
    for i, run in enumerate(chain):
        stop = None                      # the latest run: the rest of the log
        if i < len(chain) - 1:
            if "log_rows" not in run:
                raise ValueError("an earlier run in this record does not say how many log "
                                 "rows are its own ('log_rows'): join runs with join_runs")
            stop = run["log_rows"]       # its record's log: the first rows of the joined one
        runs.append(dict(settings=run["settings"], epoch=run["epoch"], step=run["step"],
                         val_psnr=run["val_psnr"], rows=slice(start, stop)))
        start = stop
    return runs

# ------------------------------------------------------------------------------- recipes
#: The default training settings of each model (any can be overridden).  SRCNN's are the
#: papers' (33x33 sub-images at a stride of 14 on the bicubic image, batch 128, Adam at
#: 1e-4, MSE, a constant learning rate); the post-upsampling models of chapter 7 train on
#: 16x16 LR sub-images at a stride of 4 with flips and rotations, Adam at 1e-3 with a
#: cosine schedule, MSE (the papers' loss) or L1 for the residual network (EDSR's).
#: Batches of 16 for FSRCNN and ESPCN (as FSRCNN-pytorch and ESPCN-pytorch): on a CPU a
#: small network is step-limited, and batch 16 took ESPCN x3 from 28.36 to 29.57 dB
#: (T91 validation) in its first epoch against batch 64, at no cost per patch.
RECIPES: dict[str, dict] = {
    "srcnn": dict(batch_size=128, lr=1e-4, patch_size=33, stride=14, loss="mse",
                  schedule="constant", augment=False),
    "fsrcnn": dict(batch_size=16, lr=1e-3, patch_size=16, stride=4, loss="mse",
                   schedule="cosine", augment=True),
    "espcn": dict(batch_size=16, lr=1e-3, patch_size=16, stride=4, loss="mse",
                  schedule="cosine", augment=True),
    "residual": dict(batch_size=32, lr=1e-3, patch_size=16, stride=4, loss="l1",
                     schedule="cosine", augment=True),
}
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "step")
LOSSES: dict[str, callable] = {"mse": F.mse_loss, "l1": F.l1_loss}


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning rate at ``step`` of ``total`` as a fraction of the initial one.

    ``"constant"``: 1; ``"cosine"``: ``(1 + cos(pi * step / total)) / 2``, from 1 to 0
    (Loshchilov and Hutter's SGDR without restarts); ``"step"``: 1, then 0.1 from half
    the steps on and 0.01 from three quarters on.

    >>> [round(lr_factor("cosine", s, 4), 3) for s in range(5)]
    [1.0, 0.854, 0.5, 0.146, 0.0]
    """
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))
    return 1.0 if step < total / 2 else 0.1 if step < 3 * total / 4 else 0.01


def build_model(name: str, scale: int, config: str = "9-5-5", padding: str = "valid",
                model_kwargs: dict | None = None) -> torch.nn.Module:
    """The untrained network ``name`` (:data:`srlib.models.MODELS`) for ``scale``.

    SRCNN takes ``config`` and ``padding``; the post-upsampling models take the scale and
    ``model_kwargs`` (e.g. ``width`` and ``blocks`` of :class:`srlib.models.ResidualSR`).
    """
    if name == "srcnn":
        return build(config, padding=padding, **(model_kwargs or {}))
    try:
        return COMPACT[name](scale, **(model_kwargs or {}))
    except TypeError as err:
        raise ValueError(f"model_kwargs {model_kwargs} do not fit {name}: {err}") from err


def weights_name(name: str, scale: int, config: str = "9-5-5") -> str:
    """File name of a run's best weights: ``srcnn_9-5-5_x3.pt``, ``espcn_x3.pt``, ..."""
    return f"srcnn_{config}_x{scale}.pt" if name == "srcnn" else f"{name}_x{scale}.pt"


# ----------------------------------------------------------------------- the loop's parts
def training_data(name: str, files: list[Path], scale: int, patch_size: int, stride: int,
                  shrink: int = 0, rescale: tuple[float, ...] = ()
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The training sub-images of a model, all in memory: ``(inputs, targets)``.

    SRCNN: bicubic-upscaled Y ``(N, 1, p, p)`` and the centre of the HR Y the output
    covers (:func:`make_patches`); the others: LR Y ``(N, 1, p, p)`` and HR Y
    ``(N, 1, p * scale, p * scale)`` (:func:`make_lr_patches`).  ``rescale``: shrink
    factors of the scale augmentation (:func:`rescaled`).
    """
    if name == "srcnn":
        return make_patches(files, scale, patch_size, stride, shrink, rescale)
    return make_lr_patches(files, scale, patch_size, stride, rescale)


def train_step(model, optimizer, xb: torch.Tensor, yb: torch.Tensor, loss_fn,
               amp_ctx) -> torch.Tensor:
    """One optimisation step on a batch: forward, loss, backward, update.

    Returns the loss (a 0-d tensor, not synchronised with the device).
    """
    with amp_ctx():
        pred = model(xb)
    loss = loss_fn(pred.float(), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _optimizer(name: str, model, lr: float, lr_last_factor: float) -> torch.optim.Adam:
    """Adam; the last layer of SRCNN and FSRCNN's deconvolution at ``lr * lr_last_factor``.

    Both papers train their last layer 10 times slower (SRCNN: 1e-4 and 1e-5; FSRCNN: 1e-3
    and 1e-4 for the deconvolution).  With one learning rate of 1e-3 FSRCNN's validation
    PSNR fell by 3.3 dB in one epoch (epoch 7 of the first x3 run) and the run ended at
    32.35 dB on Set5 x3, below SRCNN 9-1-5.
    """
    last_layer = {"srcnn": "conv3", "fsrcnn": "deconv"}.get(name)
    if last_layer is None:
        return torch.optim.Adam(model.parameters(), lr=lr)
    last = list(getattr(model, last_layer).parameters())
    first = [p for p in model.parameters() if all(p is not q for q in last)]
    return torch.optim.Adam([{"params": first, "lr": lr},
                             {"params": last, "lr": lr * lr_last_factor}])


def _set_lr(optimizer, base: list[float], factor: float) -> None:
    for group, lr in zip(optimizer.param_groups, base, strict=True):
        group["lr"] = lr * factor


def _write_weights(model, path: Path, meta: dict) -> None:
    """The best weights (a plain CPU ``state_dict``) and their ``.json``, atomically."""
    _save_atomic(_cpu_weights(model), path)
    text = json.dumps(meta, indent=1)
    write_atomic(path.with_suffix(".json"), lambda tmp: tmp.write_text(text))


def save_checkpoint(path: Path, model, optimizer, epoch: int, step: int, best_psnr: float,
                    best_epoch: int, settings: dict, world_size: int, gens: tuple,
                    cuda: bool) -> None:
    """``last.pt``: everything :func:`train` needs to continue exactly (atomic write)."""
    shuffle_gen, aug_gen = gens
    _save_atomic(dict(
        model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=epoch, step=step,
        best_val_psnr=best_psnr, best_epoch=best_epoch, settings=settings,
        world_size=world_size,
        rng=dict(shuffle=shuffle_gen.get_state(), augment=aug_gen.get_state(),
                 torch=torch.get_rng_state(),
                 cuda=torch.cuda.get_rng_state() if cuda else None),
    ), path)


# --------------------------------------------------------------------------------- train
def train(
    scale: int,
    config: str = "9-5-5",
    epochs: int = 100,
    out_dir: str | Path = "runs/srcnn",
    data_dir: str | Path | None = None,
    *,
    model: str = "srcnn",
    model_kwargs: dict | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    lr_last_factor: float = 0.1,
    schedule: str | None = None,
    loss: str | None = None,
    padding: str = "valid",
    patch_size: int | None = None,
    stride: int | None = None,
    augment: bool | None = None,
    rescale: tuple[float, ...] = (),
    val_fraction: float = 0.1,
    max_images: int | None = None,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    init: str | Path | None = None,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool | None = None,
    threads: int | None = None,
    check_every: int | None = None,
    save_every: int = 0,
    progress: bool | TextIO = True,
    backend: str | None = None,
) -> dict:
    """Train a network for ``scale`` on the HR images of ``data_dir``; see the module docstring.

    Args:
        scale: upscaling factor: 2, 3 or 4 (the scales of the benchmarks and the shipped
            weights; others are refused).
        config: SRCNN's configuration, ``"9-1-5"`` or ``"9-5-5"``
            (:data:`srlib.models.CONFIGS`); unused by the other models.
        epochs: total number of epochs (passes over all training sub-images, the last
            incomplete batch dropped); with ``resume`` the run continues up to it.
        out_dir: folder for ``log.csv``, ``last.pt`` and the weights; created.  It must not
            hold another run's files unless ``resume`` (with a ``last.pt``) or
            ``overwrite`` is set, and never be srlib's own weights folder (see
            :func:`_check_out_dir`).
        data_dir: folder of HR images; default ``$SRLIB_DATA_DIR``, else T91 as shipped
            with srlib (:func:`resolve_data_dir`).
        model: ``"srcnn"`` (default), ``"fsrcnn"``, ``"espcn"`` or ``"residual"``.
        model_kwargs: sizes of the model (e.g. ``dict(width=32, blocks=8)`` for the
            residual network); default the model's own.
        batch_size, lr, schedule, loss, patch_size, stride, augment: default from
            :data:`RECIPES` for the model.  ``batch_size`` is the global batch, over all
            processes under torchrun (a multiple of their number); ``lr`` is Adam's
            learning rate (SRCNN's first two layers); ``schedule`` one of
            :data:`SCHEDULES` (:func:`lr_factor`, per step); ``loss`` ``"mse"`` or
            ``"l1"``; ``patch_size`` and ``stride`` in pixels of the network's input (the
            bicubic image for SRCNN, the LR image for the others); ``augment`` applies a
            random flip/rotation (one of 8) to each batch.
        rescale: scale augmentation: also train on copies of each training image shrunk
            by these factors, e.g. ``(0.9, 0.8, 0.7, 0.6)`` as FSRCNN's paper does
            (:func:`rescaled`; about 3x as many sub-images and 3x longer epochs: 69,629
            instead of 22,815 on T91 at x3); default none.
            The validation images are never rescaled.
        lr_last_factor: SRCNN and FSRCNN: learning rate of SRCNN's last layer and of
            FSRCNN's deconvolution as a fraction of ``lr`` (0.1 as in the papers: 1e-4 and
            1e-5 for SRCNN, 1e-3 and 1e-4 for FSRCNN; 1.0 for a single learning rate).
        padding: SRCNN only: ``"valid"`` (papers, faster) or ``"same"``.
        val_fraction: part of the images held out for validation (every 10th by name).
        max_images: use only the first ``max_images`` images by name (quick runs, tests).
        seed: seed of the initialisation, the shuffling and the augmentation.
        resume: continue from ``out_dir/last.pt`` if it exists (same settings and the same
            image files, compared by SHA-256, required); in an empty or missing folder, start.
            Always on in a group that ``torchrun --max-restarts`` restarted after a failure
            (``TORCHELASTIC_RESTART_COUNT > 0``), so the group continues from the last epoch.
            The number of processes may change between runs (the global batch does not);
            ``epochs`` may grow (a cosine schedule then stretches to the new end).
        overwrite: start afresh even if ``out_dir`` holds another run (its files are
            replaced).
        init: a weights file or checkpoint to start from (e.g. x3 weights for x2/x4);
            ignored when a checkpoint is resumed.
        device: default: ``cuda``, else ``mps``, else ``cpu`` (:func:`pick_device`).
        amp: bfloat16 autocast; default on for CUDA only (10x slower on AVX2 CPUs).
        channels_last: channels-last memory format; default on for CUDA and CPU.
        compile: ``torch.compile`` the model for training; default on for CUDA only
            (on the CPU it needs a C++ compiler and tens of seconds to compile).
        threads: CPU threads for PyTorch (``torch.set_num_threads``), per process; default
            unchanged (torchrun sets ``OMP_NUM_THREADS=1`` for each process it starts).
        check_every: steps between checks of the loss for NaN/inf (each check
            synchronises with the device); default 1 on the CPU, 50 elsewhere.
        save_every: also keep the weights of every ``save_every``-th epoch as
            ``out_dir/epochs/epoch_<n>.pt`` (0: only the best and the last), e.g. to
            study the checkpoints afterwards.
        progress: show a tqdm progress bar on stderr (``True``), or on the given text
            stream, updated at most every 5 s (``progress=sys.stdout`` in a notebook).
            Rank 0 only.
        backend: ``torch.distributed`` backend under torchrun (default nccl on CUDA, gloo
            on the CPU; :func:`srlib.distributed.init`); unused in one process.

    Returns:
        A dict: ``epochs`` (finished), ``steps``, ``loss`` (mean loss of the last epoch),
        ``val_psnr`` (last epoch), ``best_val_psnr``, ``best_epoch``, ``val_bicubic_psnr``
        (bicubic on the same images, for reference), ``train_patches``, ``val_images``,
        ``seconds`` (training time of this call), ``device``, ``below_bicubic`` (True if
        the best weights score below bicubic: a ``RuntimeWarning`` is also issued) and the
        paths ``checkpoint``, ``weights``, ``log``, and ``world_size``; the same on every
        rank.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the message gives the step).
        FileExistsError: ``out_dir`` holds another run and neither ``resume`` nor
            ``overwrite`` allows to continue or replace it.
        ValueError: bad settings, ``out_dir`` in srlib's weights folder, a damaged
            checkpoint, or a resumed checkpoint made with other settings or data.
    """
    if model not in RECIPES:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(RECIPES)}")
    name, recipe = model, RECIPES[model]
    batch_size = recipe["batch_size"] if batch_size is None else batch_size
    lr = recipe["lr"] if lr is None else lr
    schedule = recipe["schedule"] if schedule is None else schedule
    loss = recipe["loss"] if loss is None else loss
    patch_size = recipe["patch_size"] if patch_size is None else patch_size
    stride = recipe["stride"] if stride is None else stride
    augment = recipe["augment"] if augment is None else augment
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    _check_settings(scale, config, padding, epochs, batch_size, patch_size, stride, lr,
                    lr_last_factor, max_images, threads, save_every, check_every, seed,
                    name)
    rescale = _check_rescale(rescale)
    rank, world_size, _ = distributed.world()
    _check_world(batch_size, world_size)
    resume = resume or distributed.restarted()
    if threads is not None:
        torch.set_num_threads(threads)
    device = distributed.init(pick_device(device), backend)  # cuda:LOCAL_RANK under torchrun
    cuda = device.type == "cuda"
    amp = cuda if amp is None else amp
    channels_last = device.type in ("cuda", "cpu") if channels_last is None else channels_last
    compile = cuda if compile is None else compile
    check_every = check_every or (1 if device.type == "cpu" else 50)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def amp_ctx():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)

    folder = resolve_data_dir(data_dir)
    out = Path(out_dir)
    wname = weights_name(name, scale, config)
    distributed.on_main(_make_out_dir, out, wname, resume, overwrite)
    ckpt_path, log_path, weights_path = out / "last.pt", out / "log.csv", out / wname

    # ---- data: every training sub-image in one tensor on the device
    files = list_images(folder)[:max_images]
    train_files, val_files = split_images(files, val_fraction)
    torch.manual_seed(seed)
    net = build_model(name, scale, config, padding, model_kwargs)
    post = getattr(net, "upsampling", "pre") == "post"
    inputs, targets = training_data(name, train_files, scale, patch_size, stride,
                                    getattr(net, "shrink", 0), rescale)
    if len(inputs) < batch_size:
        raise ValueError(
            f"only {len(inputs)} sub-images for batch_size={batch_size}: use more images "
            "or a smaller batch"
        )
    inputs = inputs.to(device).contiguous(memory_format=memory_format)
    targets = targets.to(device).contiguous(memory_format=memory_format)
    val = [(x.to(device).contiguous(memory_format=memory_format), y.to(device))
           for x, y in _validation_pairs(val_files, scale, post)]
    val_bicubic = _bicubic_psnr(val, scale, post)

    settings = dict(
        scale=scale, model=name, model_kwargs=dict(model_kwargs or {}), config=config,
        padding=padding, batch_size=batch_size, lr=lr, lr_last_factor=lr_last_factor,
        schedule=schedule, loss=loss, patch_size=patch_size, stride=stride,
        augment=augment, rescale=list(rescale), val_fraction=val_fraction, seed=seed,
        max_images=max_images,
        data_dir=str(folder), data_files=[f.name for f in files],
        data_sha256=[file_sha256(f) for f in files],
        val_files=[f.name for f in val_files], epochs=epochs,
        init=Path(init).name if init is not None else None,
    )

    # ---- model, optimizer, RNG
    net = net.to(device).to(memory_format=memory_format)
    optimizer = _optimizer(name, net, lr, lr_last_factor)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    loss_fn = LOSSES[loss]
    shuffle_gen = torch.Generator(device=device).manual_seed(seed)
    aug_gen = torch.Generator().manual_seed(seed + 1)
    start_epoch, best_psnr, best_epoch = 0, -math.inf, 0
    if resume and ckpt_path.exists():
        ckpt = _load_checkpoint(ckpt_path)
        _check_resume(ckpt, settings, ckpt_path)
        _restore(ckpt, ckpt_path, net, optimizer, shuffle_gen, aug_gen, cuda)
        settings["init"] = ckpt["settings"].get("init")   # how the run began
        start_epoch = ckpt["epoch"]
        best_psnr, best_epoch = ckpt["best_val_psnr"], ckpt["best_epoch"]
    elif init is not None:
        _init_model(net, init)
    log_rows = distributed.on_main(_start_log, log_path, start_epoch)

    def write_epoch(new_best: bool) -> None:  # rank 0 (distributed.on_main)
        if new_best:
            _write_weights(net, weights_path, dict(
                name=name, model=net.config, scale=scale, config=config, epoch=epoch,
                step=step, val_psnr=val_psnr, val_bicubic_psnr=val_bicubic,
                world_size=world_size, settings={**settings, "data_dir": folder.name},
                torch=torch.__version__))
        if save_every and epoch % save_every == 0:
            (out / "epochs").mkdir(exist_ok=True)
            _save_atomic(_cpu_weights(net), out / "epochs" / f"epoch_{epoch:04d}.pt")
        # The log before the checkpoint: a kill between the two leaves a log one row ahead,
        # which a resumed run cuts back to the checkpoint's epoch (_read_log); the other
        # order would lose the epoch's row.
        _write_log(log_path, log_rows)
        save_checkpoint(ckpt_path, net, optimizer, epoch, step, best_psnr, best_epoch,
                        settings, world_size, (shuffle_gen, aug_gen), cuda)

    step_model = distributed.wrap(net, device)          # DDP under torchrun
    step_model = torch.compile(step_model) if compile else step_model
    n = len(inputs)
    steps_per_epoch = n // batch_size
    total_steps = epochs * steps_per_epoch
    step = start_epoch * steps_per_epoch
    val_psnr, epoch_loss, t_start = float("nan"), float("nan"), time.perf_counter()
    label = f"SRCNN {config}" if name == "srcnn" else type(net).__name__
    bar = tqdm(total=(epochs - start_epoch) * steps_per_epoch,
               disable=not progress or rank != 0,
               file=None if isinstance(progress, bool) else progress,
               mininterval=0.1 if isinstance(progress, bool) else 5.0,
               desc=f"{label} x{scale}", unit="step")
    net.train()
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            t0 = time.perf_counter()
            perm = torch.randperm(n, device=device, generator=shuffle_gen)
            ks = (torch.randint(8, (steps_per_epoch,), generator=aug_gen).tolist()
                  if augment else [0] * steps_per_epoch)
            losses = torch.zeros(steps_per_epoch, device=device)
            checked = 0
            for i in range(steps_per_epoch):
                idx = distributed.shard(perm[i * batch_size:(i + 1) * batch_size],
                                        rank, world_size)   # this rank's part
                xb, yb = inputs[idx], targets[idx]
                if ks[i]:
                    xb, yb = _dihedral(xb, ks[i]), _dihedral(yb, ks[i])
                if schedule != "constant":
                    _set_lr(optimizer, base_lrs, lr_factor(schedule, step, total_steps))
                losses[i] = train_step(step_model, optimizer, xb, yb, loss_fn, amp_ctx)
                step += 1
                if (i + 1) % check_every == 0 or i + 1 == steps_per_epoch:
                    # the mean over the ranks: the loss of the global batches, on every rank
                    losses[checked:i + 1] = distributed.average(losses[checked:i + 1])
                    chunk = losses[checked:i + 1]
                    bad = (~torch.isfinite(chunk)).nonzero()
                    if len(bad):
                        j = checked + int(bad[0])
                        raise FloatingPointError(
                            f"the loss became {losses[j].item()} at step "
                            f"{step - (i - j)} (epoch {epoch}, batch {j + 1}); the training "
                            f"diverged: lower the learning rate (lr={lr:g}), e.g. "
                            f"lr={lr / 10:g}. The last good checkpoint is {ckpt_path}"
                            + ("" if ckpt_path.exists() else " (none saved yet)")
                        )
                    bar.update(i + 1 - checked)
                    bar.set_postfix(loss=f"{chunk.mean().item():.2e}",
                                    val_psnr=f"{val_psnr:.2f}", epoch=epoch,
                                    refresh=False)     # the bar's mininterval rules
                    checked = i + 1
            epoch_loss = losses.mean().item()
            val_psnr = distributed.broadcast_object(   # rank 0 validates, tells the others
                validate(net, val, scale, amp_ctx) if rank == 0 else None)
            seconds = time.perf_counter() - t0
            bar.set_postfix(loss=f"{epoch_loss:.2e}", val_psnr=f"{val_psnr:.2f}", epoch=epoch)
            log_rows.append(dict(epoch=epoch, step=step, loss=f"{epoch_loss:.6e}",
                                 val_psnr=f"{val_psnr:.4f}",
                                 lr=f"{optimizer.param_groups[0]['lr']:g}",
                                 seconds=f"{seconds:.3f}", world_size=world_size))
            new_best = not val or val_psnr > best_psnr
            if new_best:
                best_psnr, best_epoch = val_psnr, epoch
            distributed.on_main(write_epoch, new_best)   # the other ranks wait for it
    finally:
        bar.close()
    below = (_warn_if_below_bicubic(best_psnr, val_bicubic) if rank == 0
             else bool(best_psnr < val_bicubic))
    return dict(
        epochs=max(epochs, start_epoch), steps=step, loss=epoch_loss, val_psnr=val_psnr,
        best_val_psnr=best_psnr, best_epoch=best_epoch, val_bicubic_psnr=val_bicubic,
        train_patches=n, val_images=len(val), seconds=time.perf_counter() - t_start,
        device=str(device), checkpoint=str(ckpt_path), weights=str(weights_path),
        log=str(log_path), below_bicubic=below, world_size=world_size, model=name,
    )


# ----------------------------------------------------------------------------------- CLI
def _parser():
    p = cli.parser("python -m srlib.train",
                   "Train SRCNN, FSRCNN, ESPCN or the residual network on a folder of HR "
                   "images (T91 by default).")
    p.epilog = (f"Exit codes: 0 done; 2 a user error (one line on stderr); "
                f"{EXIT_BELOW_BICUBIC} the training finished but its best weights score "
                "below bicubic on the validation images (a warning says so).")
    pos, nonneg = cli.positive_int, cli.nonnegative_int
    p.add_argument("--scale", type=int, required=True, default=argparse.SUPPRESS,
                   help="upscaling factor: 2, 3 or 4 (the scales of the benchmarks)")
    p.add_argument("--model", default="srcnn", choices=list(RECIPES),
                   help="the network; its defaults for the options marked (recipe) are in "
                        "srlib.train.RECIPES")
    p.add_argument("--config", default="9-5-5", choices=list(CONFIGS),
                   help="SRCNN configuration f1-f2-f3 (SRCNN only)")
    p.add_argument("--width", type=pos, default=None,
                   help="residual network: channels of its blocks (None: 32)")
    p.add_argument("--blocks", type=nonneg, default=None,
                   help="residual network: number of residual blocks (None: 8)")
    p.add_argument("--epochs", type=pos, default=100, help="total number of epochs")
    p.add_argument("--out", required=True, default=argparse.SUPPRESS,
                   help="output folder (log, checkpoint, weights); not srlib/weights")
    p.add_argument("--data", default=None, help="folder of HR training images (None: "
                   "$SRLIB_DATA_DIR if set, else T91, which ships with srlib)")
    p.add_argument("--batch-size", type=pos, default=None,
                   help="sub-images per step (recipe: 128 for SRCNN)")
    p.add_argument("--lr", type=cli.positive_float, default=None,
                   help="Adam learning rate (SRCNN: of the first two layers; recipe: 1e-4 "
                        "for SRCNN, 1e-3 for the others)")
    p.add_argument("--schedule", default=None, choices=list(SCHEDULES),
                   help="learning-rate schedule over all steps (recipe: constant for SRCNN, "
                        "cosine for the others)")
    p.add_argument("--loss", default=None, choices=list(LOSSES),
                   help="training loss (recipe: mse; l1 for the residual network)")
    p.add_argument("--lr-last-factor", type=cli.positive_float, default=0.1,
                   help="lr of SRCNN's last layer and FSRCNN's deconvolution / lr (0.1: "
                        "the papers')")
    p.add_argument("--padding", default="valid", choices=list(PADDINGS),
                   help="'valid' (the papers': no padding, faster) or 'same' (zero padding)")
    p.add_argument("--patch-size", type=pos, default=None,
                   help="training sub-image size in pixels of the network's input (recipe: "
                        "33 for SRCNN, 16 LR pixels for the others)")
    p.add_argument("--stride", type=pos, default=None,
                   help="step between sub-images, pixels (recipe: 14 for SRCNN, 4)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random flips/rotations (recipe: off for SRCNN, on for the others)")
    p.add_argument("--rescale", type=float, nargs="+", default=(), metavar="FACTOR",
                   help="scale augmentation: also train on copies of the images shrunk by "
                        "these factors (FSRCNN's paper: 0.9 0.8 0.7 0.6) (default: none)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="part of the images held out for validation, in [0, 1)")
    p.add_argument("--max-images", type=pos, default=None,
                   help="use only the first N images by name (None: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of init, shuffling, augmentation")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/last.pt (same settings and data); start if OUT "
                        "is empty")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh even if OUT holds another run (its files are replaced)")
    p.add_argument("--init", default=None, help="weights to start from (e.g. x3 for x2)")
    p.add_argument("--device", default=None,
                   help="torch device (None: cuda, then mps, then cpu)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast (None: on for CUDA only)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format (None: on for CUDA and CPU)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile (None: on for CUDA only)")
    p.add_argument("--threads", type=pos, default=None,
                   help="CPU threads per process (None: PyTorch's, one per core, and 1 "
                        "under torchrun; use fewer on a shared machine)")
    p.add_argument("--save-every", type=nonneg, default=0,
                   help="also keep the weights of every N-th epoch in OUT/epochs/ (0: no)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--backend", default=None, choices=list(distributed.BACKENDS),
                   help="torch.distributed backend under torchrun (None: nccl on CUDA, "
                        "gloo on the CPU)")
    return p


def _train_from_args(a: argparse.Namespace) -> dict:
    """:func:`train` with the parsed options (its below-bicubic warning left to main)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "the best validation PSNR", RuntimeWarning)
        sizes = {k: v for k, v in (("width", a.width), ("blocks", a.blocks)) if v is not None}
        if sizes and a.model != "residual":
            raise ValueError(f"--width and --blocks size the residual network, not {a.model}")
        return train(
            a.scale, a.config, a.epochs, a.out, a.data, model=a.model,
            model_kwargs=sizes or None, batch_size=a.batch_size, lr=a.lr,
            schedule=a.schedule, loss=a.loss,
            lr_last_factor=a.lr_last_factor, padding=a.padding, patch_size=a.patch_size,
            stride=a.stride, augment=a.augment, rescale=tuple(a.rescale),
            val_fraction=a.val_fraction, max_images=a.max_images, seed=a.seed,
            resume=a.resume, overwrite=a.overwrite,
            init=a.init, device=a.device, amp=a.amp, channels_last=a.channels_last,
            compile=a.compile, threads=a.threads, save_every=a.save_every,
            progress=not a.no_progress, backend=a.backend,
        )


def main(argv: list[str] | None = None) -> dict:
    """``python -m srlib.train --scale 3 --config 9-5-5 --epochs N --out DIR [--resume]``.

    Returns :func:`train`'s result; errors are raised (``python -m`` prints them on one
    line, see :mod:`srlib.cli`).  Weights below bicubic get one ``warning:`` line on stderr
    (instead of Python's warning text).
    """
    a = _parser().parse_args(argv)
    try:
        result = _train_from_args(a)
    finally:
        distributed.cleanup()          # leave the process group (under torchrun)
    if not distributed.is_main():      # under torchrun rank 0 speaks for all
        return result
    print(f"best validation PSNR {result['best_val_psnr']:.2f} dB at epoch "
          f"{result['best_epoch']} (bicubic {result['val_bicubic_psnr']:.2f} dB)")
    print(f"checkpoint: {result['checkpoint']}")
    print(f"log:        {result['log']}")
    print(f"weights:    {result['weights']} (+ .json)")
    if result["below_bicubic"]:
        print(f"warning: the best weights score {result['best_val_psnr']:.2f} dB, below "
              f"bicubic's {result['val_bicubic_psnr']:.2f} dB on the validation images: the "
              f"training failed; do not use them (exit code {EXIT_BELOW_BICUBIC})",
              file=sys.stderr)
    return result


def _command(argv: list[str]) -> int:
    return EXIT_BELOW_BICUBIC if main(argv)["below_bicubic"] else 0


if __name__ == "__main__":
    sys.exit(cli.run(_command))
