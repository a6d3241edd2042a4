"""Chapter 7's networks: training throughput of srlib's loop vs a common loop, and inference.

**Training** (``--train``): one epoch of the same model (FSRCNN or ESPCN, as the
FSRCNN-pytorch and ESPCN-pytorch repositories train them) on the same T91 LR sub-images
(16x16 LR, stride 4), same batch (16), same optimiser (Adam 1e-3, constant), MSE, no
augmentation, interleaved repeats:

* **reference**: the loop of those repositories: a ``Dataset`` whose ``__getitem__``
  returns one sub-image pair as numpy arrays (as their h5 readers do), a
  ``DataLoader(batch_size=16, shuffle=True)``, a host-to-device copy every step;
* **srlib**: :func:`srlib.train.train` (all sub-images in one device tensor, ``randperm``
  batches, channels_last).

Reported: training patches per second (median over the repeats; ratio = srlib / reference,
target >= 2x) and the validation PSNR (Y, held-out T91 images, ``crop_border = scale``)
after the epoch, which must not be worse for srlib.  The seconds of both include one
validation pass.

**Inference** (``--inference``): milliseconds per output megapixel of
:func:`srlib.models.upscale` on a random RGB LR image (Y through the network, Cb/Cr
bicubic) for bicubic (MATLAB's ``imresize``), SRCNN 9-1-5 and 9-5-5, FSRCNN, ESPCN and the
residual network, at x2, x3 and x4 (median of the repeats), with their multiply-adds per
output pixel (:func:`srlib.models.macs_per_pixel`).

Run from the repository root::

    python benchmarks/compact_speed.py --quick              # ~1 minute
    python benchmarks/compact_speed.py --threads 1 --json out.json

Timings on a shared machine are noisy: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from train_speed import PatchDataset  # SRCNN's reference data set (benchmarks/ is on sys.path)

from srlib.models import (
    COMPACT,
    build,
    macs_per_pixel,
    upscale,
)
from srlib.resize import imresize
from srlib.train import (
    _validation_pairs,
    list_images,
    make_lr_patches,
    resolve_data_dir,
    split_images,
    train,
    validate,
)

BATCH, LR, PATCH, STRIDE = 16, 1e-3, 16, 4


def reference_epoch(name: str, scale: int, dataset: Dataset, val, device, seed: int):
    torch.manual_seed(seed)
    model = COMPACT[name](scale).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True)
    t0 = time.perf_counter()
    seen = 0
    model.train()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(x)
    score = validate(model, val, scale)
    return seen / (time.perf_counter() - t0), score


def srlib_epoch(name: str, scale: int, data: Path, images: int | None, device, seed: int):
    with tempfile.TemporaryDirectory() as out:
        r = train(scale, epochs=1, out_dir=out, data_dir=data, model=name, batch_size=BATCH,
                  lr=LR, lr_last_factor=1.0, schedule="constant", augment=False,
                  patch_size=PATCH,
                  stride=STRIDE, max_images=images, seed=seed, device=device,
                  progress=False)
        seconds = float(Path(r["log"]).read_text().splitlines()[1].split(",")[5])
        return r["steps"] * BATCH / seconds, r["best_val_psnr"]


def bench_train(name: str, scale: int, data: Path, images: int | None, repeats: int,
                device) -> dict:
    files = list_images(data)[:images]
    train_files, val_files = split_images(files)
    inputs, targets = make_lr_patches(train_files, scale, PATCH, STRIDE)
    dataset = PatchDataset(inputs, targets)
    val = [(x.to(device), y.to(device)) for x, y in _validation_pairs(val_files, scale, True)]
    ref, ours = [], []
    for rep in range(repeats):
        order = [("ref", reference_epoch), ("srlib", None)][:: 1 if rep % 2 == 0 else -1]
        for label, _ in order:
            if label == "ref":
                ref.append(reference_epoch(name, scale, dataset, val, device, rep))
            else:
                ours.append(srlib_epoch(name, scale, data, images, device, rep))
    ratio = statistics.median(o[0] / r[0] for o, r in zip(ours, ref, strict=True))
    return dict(
        model=name, scale=scale, patches=len(inputs), repeats=repeats,
        reference_patches_per_s=statistics.median(r[0] for r in ref),
        srlib_patches_per_s=statistics.median(o[0] for o in ours), ratio=ratio,
        reference_val_psnr=statistics.median(r[1] for r in ref),
        srlib_val_psnr=statistics.median(o[1] for o in ours),
    )


def _models(scale: int) -> dict:
    return {"SRCNN 9-1-5": build("9-1-5"), "SRCNN 9-5-5": build("9-5-5"),
            "FSRCNN": COMPACT["fsrcnn"](scale), "ESPCN": COMPACT["espcn"](scale),
            "residual": COMPACT["residual"](scale)}


def bench_inference(size: int, repeats: int, device) -> list[dict]:
    rows = []
    g = torch.Generator().manual_seed(0)
    for scale in (2, 3, 4):
        lr = torch.rand(1, 3, size // scale, size // scale, generator=g).to(device)
        mpix = lr.shape[-1] * lr.shape[-2] * scale**2 / 1e6
        runs = {"bicubic": (lambda lr=lr, s=scale: imresize(lr, s), 0.0)}
        for label, model in _models(scale).items():
            model = model.to(device).eval()
            runs[label] = (lambda lr=lr, s=scale, m=model: upscale(m, lr, s),
                           macs_per_pixel(model, scale))
        for label, (fn, macs) in runs.items():
            fn()                                        # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            rows.append(dict(method=label, scale=scale, macs_per_pixel=macs,
                             ms_per_mpix=1e3 * statistics.median(times) / mpix))
    return rows


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20 images, 2 repeats, ESPCN only")
    p.add_argument("--train", action="store_true", help="training throughput only")
    p.add_argument("--inference", action="store_true", help="inference time only")
    p.add_argument("--models", nargs="+", default=["espcn", "fsrcnn"],
                   choices=["espcn", "fsrcnn"])
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--images", type=int, default=None, help="first N T91 images (default 91)")
    p.add_argument("--size", type=int, default=768, help="output side for inference (pixels)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=None)
    p.add_argument("--json", default=None, help="save the results to this file")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    images = 20 if a.quick and a.images is None else a.images
    repeats = a.repeats or (2 if a.quick else 3)
    models = ["espcn"] if a.quick else a.models
    both = not (a.train or a.inference)
    result: dict = dict(threads=a.threads, device=str(device), torch=torch.__version__)
    if a.train or both:
        data = resolve_data_dir(a.data)
        result["train"] = [bench_train(m, a.scale, data, images, repeats, device)
                           for m in models]
        for r in result["train"]:
            print(f"{r['model']} x{r['scale']} training, {r['patches']} sub-images, batch "
                  f"{BATCH}: reference {r['reference_patches_per_s']:.0f} patches/s, srlib "
                  f"{r['srlib_patches_per_s']:.0f} patches/s, ratio {r['ratio']:.2f}x; "
                  f"validation PSNR after one epoch {r['reference_val_psnr']:.2f} vs "
                  f"{r['srlib_val_psnr']:.2f} dB")
    if a.inference or both:
        rows = bench_inference(a.size, repeats, device)
        result["inference"] = rows
        print(f"\ninference, {a.threads} thread(s), output {a.size}x{a.size} (ms per output "
              "megapixel; multiply-adds per output pixel)")
        for r in rows:
            print(f"  x{r['scale']} {r['method']:12s} {r['ms_per_mpix']:9.1f} ms/MP "
                  f"{r['macs_per_pixel']:9.0f} MACs/px")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
